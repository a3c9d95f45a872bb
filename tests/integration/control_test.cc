// The scheduler and the ZeroMQ control plane with real processes on the
// embedded broker: timed firings across a SIGKILLed scheduler, status,
// dead instances, pause / resume / drain, and garbage on the control plane.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <zmq.hpp>

#include "actors/validator/normalize.h"
#include "messages/envelope.h"
#include "tests/integration/helpers.h"
#include "tests/integration/records.h"

using namespace ctk::test;
using namespace std::chrono;

namespace {

struct plane {
  std::string dir = temp_dir();
  std::string config = dir + "/config";
  std::map<std::string, std::string> env;
  std::string router;

  plane() {
    std::filesystem::create_directories(config);
    std::filesystem::copy_file(std::string(CTK_SOURCE_DIR) + "/config/cluster.yaml", config + "/cluster.yaml");
    std::ofstream(config + "/sources.yaml")
        << "sources:\n  upbit:\n    kind: market\n    parser: upbit\n"
           "    urls: [\"https://api.upbit.com/v1/ticker/all?quote_currencies=KRW\"]\n"
           "    schedule: {every: 2s}\n    rate_limit_per_s: 5\n";
    router = "tcp://127.0.0.1:" + std::to_string(free_port());
    env = {{"CTK_CONTROL__ROUTER", router},
           {"CTK_CONTROL__PUB", "tcp://127.0.0.1:" + std::to_string(free_port())},
           {"CTK_CONTROL__HEARTBEAT", "500ms"},
           {"CTK_CONTROL__DEAD_AFTER", "2s"}};
  }
  std::unique_ptr<child> run(const broker& b, const std::string& actor, const std::string& node, const std::string& tag,
                             std::vector<std::string> extra = {}) {
    return run(b.bootstrap(), actor, node, tag, std::move(extra));
  }
  std::unique_ptr<child> run(const std::string& bootstrap, const std::string& actor, const std::string& node,
                             const std::string& tag, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{
        binary_dir() + "/cointicker", "--config", config, "--bootstrap", bootstrap, "run", actor, "--node", node};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<child>(argv, dir + "/" + tag + ".out", dir + "/" + tag + ".err", env);
  }
  std::string cli(const std::string& args) {
    std::string envs;
    for (const auto& [k, v] : env) envs += k + "=" + v + " ";
    std::string out;
    ::ctk::test::run(envs + binary_dir() + "/cointicker --config " + config + " " + args + " 2>&1", &out);
    return out;
  }
  int cli_rc(const std::string& args) {
    std::string envs;
    for (const auto& [k, v] : env) envs += k + "=" + v + " ";
    return ::ctk::test::run(envs + binary_dir() + "/cointicker --config " + config + " " + args + " >/dev/null 2>&1");
  }
  // "state" of one identity in `status --json`, "" if absent.
  std::string state_of(const std::string& identity) {
    const std::string s = cli("status --json --timeout-ms 1000");
    auto p = s.find("\"identity\":\"" + identity + "\"");
    if (p == std::string::npos) return {};
    auto q = s.find("\"state\":\"", p) + 9;
    return s.substr(q, s.find('"', q) - q);
  }
};

std::vector<std::int64_t> schedule_firings(const std::string& bootstrap, const std::string& source) {
  std::vector<std::int64_t> t;
  for (const auto& v : kcat_values(bootstrap, "ctk.control")) {
    if (v.find("\"reason\":\"schedule\"") == std::string::npos ||
        v.find("\"source\":\"" + source + "\"") == std::string::npos)
      continue;
    auto p = v.find("\"requested_at\":\"") + 16;
    std::string why;
    t.push_back(*ctk::validator::parse_time_ms(v.substr(p, v.find('"', p) - p), "UTC", why));
  }
  std::sort(t.begin(), t.end());
  return t;
}

}  // namespace

TEST(scheduler, every_2s_fires_on_time_and_a_sigkilled_scheduler_neither_doubles_nor_skips) {
  broker b;
  plane p;
  auto crawler =
      p.run(b, "crawler", "w1", "crawler", {"--replay", std::string(CTK_SOURCE_DIR) + "/tests/fixtures/replay"});
  // The crawler first joins its group; until then a fired crawl cannot
  // report, and the no-overlap rule would (rightly) give up the next slot.
  ASSERT_TRUE(wait_until([&] { return crawler->err().find("assigned") != std::string::npos; }, seconds(30)))
      << crawler->err();
  auto sched = p.run(b, "scheduler", "m", "sched1");
  ASSERT_TRUE(wait_until([&] { return schedule_firings(b.bootstrap(), "upbit").size() >= 3; }, seconds(30)))
      << sched->err();
  sched->signal(SIGKILL);
  sched->wait(seconds(10));
  const auto killed_at = steady_clock::now();
  auto sched2 = p.run(b, "scheduler", "m", "sched2");
  ASSERT_TRUE(
      wait_until([&] { return sched2->err().find("upbit every 2s; last fired") != std::string::npos; }, seconds(30)))
      << sched2->err();
  const auto restart_ms = duration_cast<milliseconds>(steady_clock::now() - killed_at).count();
  const std::size_t before = schedule_firings(b.bootstrap(), "upbit").size();
  ASSERT_TRUE(wait_until([&] { return schedule_firings(b.bootstrap(), "upbit").size() >= before + 3; }, seconds(30)))
      << sched2->err();
  // The crawler kept working while the scheduler was away and is listed by
  // the new one: ZeroMQ reconnected it.
  EXPECT_TRUE(wait_until([&] { return p.state_of("w1/crawler/0") == "running"; }, seconds(10))) << p.cli("status");
  sched2->signal(SIGTERM);
  EXPECT_EQ(sched2->wait(seconds(30)), 0) << sched2->err();

  auto t = schedule_firings(b.bootstrap(), "upbit");
  ASSERT_GE(t.size(), 6u);
  for (std::size_t i = 1; i < t.size(); ++i) {
    const auto gap = t[i] - t[i - 1];
    // Never early, never twice: a firing comes 2 s after the one before
    // (the restarted scheduler reads the last one back from the topic).
    EXPECT_GE(gap, 1990) << "firing " << i << " came " << gap << " ms after the previous one";
    // Never a slot skipped beyond the restart: at most 2 s plus the time the
    // scheduler was away (one catch-up firing), plus scheduling slack.
    EXPECT_LE(gap, 2000 + restart_ms + 1500) << "firing " << i << " (restart took " << restart_ms << " ms)";
  }
  // Every firing was crawled: one report each (the last may still be running).
  EXPECT_GE(kcat_values(b.bootstrap(), "ctk.reports").size() + 1, t.size());
  crawler->signal(SIGTERM);
  EXPECT_EQ(crawler->wait(seconds(30)), 0);
}

TEST(control, status_dead_instances_pause_resume_drain_and_garbage) {
  broker b;
  plane p;
  p.env["CTK_SOURCES__UPBIT__ENABLED"] = "false";  // no firings here: this test is about the control plane
  p.env["CTK_SOURCES__UPBIT__DISABLED_REASON"] = "test";
  auto sched = p.run(b, "scheduler", "m", "sched");
  auto crawler = p.run(b, "crawler", "w1", "crawler");
  auto validator = p.run(b, "validator", "w2", "validator");
  // Listed within two heartbeats (2 x 500 ms) of the actor's start (its
  // loop starting, logged as "consuming …"), plus a second for the CLI.
  ASSERT_TRUE(wait_until([&] { return validator->err().find(" consuming ") != std::string::npos; }, seconds(30)));
  const auto started = steady_clock::now();
  auto asked = started;  // when the status request that listed it was sent (the CLI's own start-up not counted)
  ASSERT_TRUE(wait_until(
      [&] {
        asked = steady_clock::now();
        return p.state_of("w2/validator/0") == "running";
      },
      seconds(15)))
      << p.cli("status") << sched->err();
  EXPECT_LE(duration_cast<milliseconds>(asked - started).count(), 2 * 500 + 1000);
  ASSERT_TRUE(wait_until([&] { return p.state_of("w1/crawler/0") == "running"; }, seconds(15))) << p.cli("status");
  EXPECT_NE(p.cli("status").find("w2         validator"), std::string::npos);

  // SIGKILL: dead after control.dead_after (2s) without a heartbeat.
  crawler->signal(SIGKILL);
  crawler->wait(seconds(10));
  const auto killed = steady_clock::now();
  ASSERT_TRUE(wait_until([&] { return p.state_of("w1/crawler/0") == "dead"; }, seconds(10))) << p.cli("status");
  EXPECT_LE(duration_cast<milliseconds>(steady_clock::now() - killed).count(), 2000 + 500 + 1500);
  // A dead instance makes `status` exit 1 and say which.
  EXPECT_EQ(p.cli_rc("status"), 1);
  EXPECT_NE(p.cli("status").find("not every instance is well: w1/crawler/0 (dead)"), std::string::npos);

  // pause: input waits (nothing valid, nothing committed); resume: it drains.
  EXPECT_NE(p.cli("ctl pause --actor validator --json").find("\"matched\":1"), std::string::npos);
  // A command that reaches no running instance, or names no actor kind, says so and fails.
  EXPECT_EQ(p.cli_rc("ctl pause --actor validator --node nowhere"), 1);
  EXPECT_NE(p.cli("ctl pause --actor validator --node nowhere").find("no running instance matches --node nowhere"),
            std::string::npos);
  EXPECT_EQ(p.cli_rc("ctl pause --actor validatr"), 2);
  EXPECT_NE(p.cli("ctl pause --actor validatr").find("no actor named 'validatr' (did you mean 'validator'?)"),
            std::string::npos);
  ASSERT_TRUE(wait_until([&] { return p.state_of("w2/validator/0") == "paused"; }, seconds(10)));
  ASSERT_TRUE(
      wait_until([&] { return validator->err().find("paused: consumption") != std::string::npos; }, seconds(10)));
  // A rebalance while paused, with input waiting: a second instance joins,
  // is paused as well, and leaves after the input is written; the first is
  // assigned every partition again, and none of them may hand out a record.
  auto other = p.run(b, "validator", "w3", "validator-b");
  ASSERT_TRUE(wait_until([&] { return other->err().find("assigned 8 partitions") != std::string::npos; }, seconds(30)))
      << other->err();
  EXPECT_EQ(p.cli_rc("ctl pause --actor validator --node w3"), 0);
  ASSERT_TRUE(wait_until([&] { return other->err().find("paused: consumption") != std::string::npos; }, seconds(10)));
  std::vector<std::string> lines;
  for (int i = 0; i < 100; ++i)
    lines.push_back(
        "upbit/KRW-P" + std::to_string(i) +
        R"(:{"v":1,"source":"upbit","kind":"market","fetched_at":"2026-11-29T00:00:00Z","data":{"symbol":"KRW-P)" +
        std::to_string(i) + R"(","price":1,"volume_24h":1,"change_24h":0,"timestamp":1725543306000}})");
  kcat_produce(b.bootstrap(), "ctk.raw", lines, p.dir);
  const std::size_t mark = validator->err().size();
  other->signal(SIGTERM);
  EXPECT_EQ(other->wait(seconds(30)), 0) << other->err();
  ASSERT_TRUE(wait_until([&] { return validator->err().find("assigned 16 partitions", mark) != std::string::npos; },
                         seconds(30)))
      << validator->err();
  EXPECT_FALSE(wait_until([&] { return !kcat_values(b.bootstrap(), "ctk.valid").empty(); }, milliseconds(1500)))
      << "a paused validator consumed\n"
      << validator->err();
  EXPECT_EQ(p.cli_rc("ctl resume --actor validator --node w2"), 0);
  ASSERT_TRUE(wait_until([&] { return kcat_values(b.bootstrap(), "ctk.valid").size() == 100; }, seconds(30)))
      << validator->err();

  // drain: exit 0 with offsets committed; a restart redelivers nothing.
  EXPECT_EQ(p.cli_rc("ctl drain --actor validator"), 0);
  EXPECT_EQ(validator->wait(seconds(30)), 0) << validator->err();
  EXPECT_EQ(committed_sum(b.bootstrap(), "ctk.validator", "ctk.raw", 16), 100);
  ASSERT_TRUE(wait_until([&] { return p.state_of("w2/validator/0") == "stopped"; }, seconds(5))) << p.cli("status");
  auto again = p.run(b, "validator", "w2", "validator2");
  ASSERT_TRUE(wait_until([&] { return again->err().find("assigned") != std::string::npos; }, seconds(30)));
  EXPECT_FALSE(wait_until([&] { return kcat_values(b.bootstrap(), "ctk.valid").size() > 100; }, milliseconds(1500)))
      << "records redelivered after a drain";

  // Garbage, oversized, an identity that lies, an unknown command: logged and ignored.
  {
    zmq::context_t ctx;
    zmq::socket_t d(ctx, zmq::socket_type::dealer);
    d.set(zmq::sockopt::routing_id, "x/y/z");
    d.set(zmq::sockopt::linger, 0);
    d.connect(p.router);
    d.send(zmq::buffer(std::string("{not json")), zmq::send_flags::none);
    d.send(zmq::buffer(std::string(100 * 1024, 'A')), zmq::send_flags::none);
    d.send(zmq::buffer(
               std::string(R"({"v":1,"type":"heartbeat","identity":"a/b/c","pid":1,"state":"running","uptime_s":1,)"
                           R"("consumed_per_s":0,"produced_per_s":0,"lag":0,"dead_letters":0,"rss_bytes":0})")),
           zmq::send_flags::none);
    d.send(zmq::buffer(std::string(R"({"v":1,"type":"ctl","cmd":"explode"})")), zmq::send_flags::none);
    zmq::pollitem_t items[] = {{d.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(5000));
    zmq::message_t m;
    ASSERT_TRUE(d.recv(m, zmq::recv_flags::dontwait));
    EXPECT_NE(m.to_string().find("\"ok\":false"), std::string::npos) << m.to_string();
  }
  EXPECT_EQ(p.cli_rc("ctl explode"), 2) << "the CLI refuses unknown commands itself";
  const std::string status = p.cli("status");
  EXPECT_EQ(status.find("a/b/c"), std::string::npos);
  EXPECT_EQ(p.state_of("a/b/c"), "");
  EXPECT_EQ(p.state_of("x/y/z"), "");
  EXPECT_TRUE(sched->running()) << sched->err();
  const std::string serr = sched->err();
  EXPECT_NE(serr.find("unknown identity"), std::string::npos) << serr;
  EXPECT_NE(serr.find("refused a ctl request"), std::string::npos) << serr;
  again->signal(SIGTERM);
  EXPECT_EQ(again->wait(seconds(30)), 0);
  sched->signal(SIGTERM);
  EXPECT_EQ(sched->wait(seconds(30)), 0) << sched->err();
}

TEST(control, curve_keys_shut_out_clients_without_them) {
  broker b;
  plane p;
  p.env["CTK_SOURCES__UPBIT__ENABLED"] = "false";
  p.env["CTK_SOURCES__UPBIT__DISABLED_REASON"] = "test";
  ASSERT_EQ(p.cli_rc("ctl keygen " + p.dir + "/keys"), 0);
  p.env["CTK_CONTROL__CURVE_DIR"] = p.dir + "/keys";
  auto sched = p.run(b, "scheduler", "m", "sched");
  auto validator = p.run(b, "validator", "w2", "validator");
  ASSERT_TRUE(wait_until([&] { return p.state_of("w2/validator/0") == "running"; }, seconds(15)))
      << p.cli("status") << sched->err();
  // A client without the keys: its heartbeat and its status request go nowhere.
  zmq::context_t ctx;
  zmq::socket_t d(ctx, zmq::socket_type::dealer);
  d.set(zmq::sockopt::routing_id, "z/z/0");
  d.set(zmq::sockopt::linger, 0);
  d.connect(p.router);
  d.send(
      zmq::buffer(std::string(R"({"v":1,"type":"heartbeat","identity":"z/z/0","pid":1,"state":"running","uptime_s":1,)"
                              R"("consumed_per_s":0,"produced_per_s":0,"lag":0,"dead_letters":0,"rss_bytes":0})")),
      zmq::send_flags::dontwait);
  d.send(zmq::buffer(std::string(R"({"v":1,"type":"status"})")), zmq::send_flags::dontwait);
  zmq::pollitem_t items[] = {{d.handle(), 0, ZMQ_POLLIN, 0}};
  zmq::poll(items, 1, std::chrono::milliseconds(1500));
  EXPECT_FALSE(items[0].revents & ZMQ_POLLIN) << "a client without keys got an answer";
  EXPECT_EQ(p.state_of("z/z/0"), "");
  EXPECT_EQ(p.state_of("w2/validator/0"), "running");
  validator->signal(SIGTERM);
  EXPECT_EQ(validator->wait(seconds(30)), 0);
  sched->signal(SIGTERM);
  EXPECT_EQ(sched->wait(seconds(30)), 0) << sched->err();
}

// A broker that goes away is not hidden behind "running": the actor says
// "disconnected" in status and 503 on /readyz (while /healthz, liveness,
// stays 200), and "running" and ready again once a broker answers on the
// same bootstrap address.
TEST(control, an_actor_that_cannot_reach_its_broker_is_reported_disconnected_until_it_can) {
  plane p;
  p.env["CTK_SOURCES__UPBIT__ENABLED"] = "false";
  p.env["CTK_SOURCES__UPBIT__DISABLED_REASON"] = "test";
  // The broker is restarted on this port while the actors keep reconnecting.
  const std::string fixed = "127.0.0.1:" + std::to_string(free_port_below_ephemeral());
  const auto start_broker = [&](const std::string& tag) {
    auto b = std::make_unique<child>(
        std::vector<std::string>{binary_dir() + "/cointicker", "--config", p.config, "broker", "--listen", fixed},
        p.dir + "/" + tag + ".out", p.dir + "/" + tag + ".err");
    EXPECT_TRUE(wait_until([&] { return !b->out().empty() || !b->running(); }, seconds(20))) << b->err();
    return b;
  };
  auto b = start_broker("broker1");
  auto sched = p.run(fixed, "scheduler", "m", "sched");
  const int mport = free_port();
  auto validator = p.run(fixed, "validator", "w2", "validator", {"--metrics-port", std::to_string(mport)});
  const auto answer = [&](const std::string& path) {
    std::string code;
    run("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:" + std::to_string(mport) + path, &code);
    return code;
  };
  ASSERT_TRUE(wait_until([&] { return p.state_of("w2/validator/0") == "running"; }, seconds(30))) << p.cli("status");
  EXPECT_TRUE(wait_until([&] { return answer("/readyz") == "200"; }, seconds(30)));

  b->signal(SIGKILL);
  b->wait(seconds(10));
  ASSERT_TRUE(wait_until([&] { return p.state_of("w2/validator/0") == "disconnected"; }, seconds(30)))
      << p.cli("status") << validator->err();
  EXPECT_EQ(answer("/readyz"), "503");
  EXPECT_EQ(answer("/healthz"), "200");
  std::string metrics;
  run("curl -s http://127.0.0.1:" + std::to_string(mport) + "/metrics", &metrics);
  const auto line = metrics.find("\nctk_broker_connected{");
  ASSERT_NE(line, std::string::npos) << metrics;
  EXPECT_EQ(metrics.substr(metrics.find("} ", line) + 2, 2), "0\n") << metrics;
  EXPECT_NE(p.cli("status").find("disconnected"), std::string::npos);
  EXPECT_TRUE(validator->running()) << "losing the broker is not a crash";

  auto b2 = start_broker("broker2");
  ASSERT_TRUE(b2->running()) << b2->err();
  ASSERT_TRUE(wait_until([&] { return p.state_of("w2/validator/0") == "running"; }, seconds(30)))
      << p.cli("status") << validator->err();
  EXPECT_TRUE(wait_until([&] { return answer("/readyz") == "200"; }, seconds(30)));
  validator->signal(SIGTERM);
  EXPECT_EQ(validator->wait(seconds(30)), 0) << validator->err();
}

// The scheduler's aggregate job: run on its schedule; a run that hangs
// blocks the next slots (no overlap); a SIGKILLed scheduler takes its run
// down with it, and the next scheduler records that run as failed and
// goes on; the result lands in /cleaned and `status` shows the job.
TEST(scheduler, runs_the_aggregate_job_without_overlap_and_a_restart_records_the_run_it_lost) {
  broker b;
  plane p;
  p.env["CTK_JOBS__AGGREGATE_TODAY__EVERY"] = "2s";
  p.env["CTK_SOURCES__UPBIT__ENABLED"] = "false";  // only the job here
  p.env["CTK_SOURCES__UPBIT__DISABLED_REASON"] = "test";
  // The plane's config folder holds cluster.yaml alone: the lexicons from the source tree.
  const std::string lex = std::string(CTK_SOURCE_DIR) + "/config/";
  p.env["CTK_ANALYZER__KOREAN_LEXICON"] = lex + "lexicons/ko.tsv";
  p.env["CTK_ANALYZER__ENGLISH_EXTRA"] = lex + "lexicons/en.tsv";
  p.env["CTK_ANALYZER__SYMBOLS"] = lex + "lexicons/symbols.tsv";
  p.env["CTK_ANALYZER__ENGLISH_LEXICON"] = lex + "../deploy/npm/node_modules/afinn-165-financialmarketnews/index.js";
  // A WebHDFS address that accepts connections and never answers: the run hangs.
  const int hang_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(hang_fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ASSERT_EQ(::listen(hang_fd, 16), 0);
  socklen_t len = sizeof sa;
  ::getsockname(hang_fd, reinterpret_cast<sockaddr*>(&sa), &len);
  p.env["CTK_HDFS__URL"] = "webhdfs://127.0.0.1:" + std::to_string(ntohs(sa.sin_port));
  auto sched = p.run(b, "scheduler", "m", "sched1");
  ASSERT_TRUE(wait_until([&] { return p.cli("status").find("aggregate_today      running") != std::string::npos; },
                         seconds(30)))
      << p.cli("status") << sched->err();
  ASSERT_TRUE(wait_until(
      [&] { return sched->err().find("job aggregate_today not started: its last run goes on") != std::string::npos; },
      seconds(30)))
      << sched->err();
  const std::string log = sched->err();
  const auto at = log.find("job aggregate_today started (pid ") + 33;
  const pid_t job = std::stoi(log.substr(at));
  sched->signal(SIGKILL);
  sched->wait(seconds(10));
  // Gone, or a zombie no one has reaped yet.
  const auto gone = [&] {
    const std::string st = read_file("/proc/" + std::to_string(job) + "/stat");
    return st.empty() || st.find(") Z ") != std::string::npos;
  };
  EXPECT_TRUE(wait_until(gone, seconds(10))) << "the job outlived its scheduler";
  ::close(hang_fd);

  // A day of /raw for today, and a store that answers.
  const std::string root = temp_dir();
  const std::string today = ctk::validator::format_utc_ms(ctk::msg::utc_now_ms()).substr(0, 10);
  std::string day = today;
  day.erase(std::remove(day.begin(), day.end(), '-'), day.end());
  std::filesystem::create_directories(root + "/raw/upbit/" + day);
  std::ofstream(root + "/raw/upbit/" + day + "/unique+0+0+0.jsonl") << unique_market(1, 0, today) << "\n";
  p.env["CTK_HDFS__URL"] = "file://" + root;
  auto sched2 = p.run(b, "scheduler", "m", "sched2");
  EXPECT_TRUE(wait_until([&] { return sched2->err().find("its end is missing") != std::string::npos; }, seconds(30)))
      << sched2->err();
  ASSERT_TRUE(wait_until([&] { return std::filesystem::exists(root + "/cleaned/" + day + "/aggregated_market.json"); },
                         seconds(30)))
      << sched2->err();
  EXPECT_NE(read_file(root + "/cleaned/" + day + "/aggregated_market.json").find("\"symbol\":\"KRW-C1\""),
            std::string::npos);
  EXPECT_TRUE(wait_until(
      [&] { return std::regex_search(p.cli("status"), std::regex("aggregate_today +idle +\\S+ +ok ")); }, seconds(30)))
      << p.cli("status");
  EXPECT_NE(p.cli("status --json").find("\"jobs\":[{\"job\":\"aggregate_today\""), std::string::npos);
  sched2->signal(SIGTERM);
  EXPECT_EQ(sched2->wait(seconds(30)), 0) << sched2->err();
  // On the reports topic: the lost run's end, written by the second scheduler.
  bool lost = false;
  for (const auto& v : kcat_values(b.bootstrap(), "ctk.reports"))
    lost |= v.find("\"source\":\"job:aggregate_today\",\"status\":\"failed\"") != std::string::npos &&
            v.find("interrupted: the scheduler stopped while it ran") != std::string::npos;
  EXPECT_TRUE(lost);
}

namespace {
long rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  return -1;
}
}  // namespace

// Strangers flooding the control plane (as any local process can): binary
// routing ids, junk, oversized frames, lying heartbeats, thousands of
// connections. The scheduler keeps serving, logs a few lines with the ids
// in hex, and gives the memory back afterwards.
TEST(control, a_flood_of_strangers_costs_a_few_log_lines_in_hex_and_its_memory_is_given_back) {
  broker b;
  plane p;
  p.env["CTK_SOURCES__UPBIT__ENABLED"] = "false";
  p.env["CTK_SOURCES__UPBIT__DISABLED_REASON"] = "test";
  auto sched = p.run(b, "scheduler", "m", "sched");
  ASSERT_TRUE(wait_until([&] { return p.state_of("m/scheduler/0") == "running"; }, seconds(30))) << sched->err();
  const long before = rss_kb(sched->pid());
  long peak = before;
  {
    zmq::context_t ctx;
    ctx.set(zmq::ctxopt::max_sockets, 8192);  // closed sockets are reaped in the background
    const std::string big(200 * 1024, 'x');
    std::vector<zmq::socket_t> socks;  // all open at once, then all closed
    for (int round = 0; round < 20; ++round) {
      for (int i = 0; i < 150; ++i) {
        auto& d = socks.emplace_back(ctx, zmq::socket_type::dealer);
        std::string id = {
            '\x01', static_cast<char>(round), static_cast<char>(i & 0xff), static_cast<char>(i >> 8), '\xff', '\n',
            '\0'};
        d.set(zmq::sockopt::routing_id, id);
        d.set(zmq::sockopt::linger, 0);
        d.set(zmq::sockopt::sndhwm, 0);
        d.connect(p.router);
        d.send(zmq::buffer(std::string("{not json")), zmq::send_flags::none);
        d.send(zmq::buffer(big), zmq::send_flags::none);
        d.send(zmq::buffer(std::string(R"({"v":1,"type":"heartbeat","identity":"a/b/c","pid":1})")),
               zmq::send_flags::none);
      }
      // Each connection served (its junk read), then all of them gone.
      wait_until([&] { return sched->err().size() > 0 && rss_kb(sched->pid()) > 0; }, milliseconds(200));
      peak = std::max(peak, rss_kb(sched->pid()));
    }
  }
  ASSERT_TRUE(wait_until([&] { return p.state_of("m/scheduler/0") == "running"; }, seconds(30)))
      << "the scheduler still answers";
  peak = std::max(peak, rss_kb(sched->pid()));
  const std::string log = sched->err();
  long lines = 0;
  for (std::size_t at = 0; (at = log.find("control: ignored", at)) != std::string::npos; ++at) ++lines;
  EXPECT_LE(lines, 12) << "rate-limited: " << log.substr(0, 4000);
  EXPECT_NE(log.find("'0x01"), std::string::npos) << "binary ids in hex: " << log.substr(0, 4000);
  EXPECT_EQ(log.find('\xff'), std::string::npos) << "no raw binary in the log";
  EXPECT_TRUE(
      wait_until([&] { return sched->err().find("more messages like the last") != std::string::npos; }, seconds(30)))
      << "what was held back is counted: " << sched->err().substr(0, 4000);
  // Memory: what the flood took is given back (within 16 MB of the start).
  // Not under AddressSanitizer: its quarantine holds freed memory (256 MB)
  // on purpose, so RSS says nothing about the program there.
  long after = 0;
  if (!built_with_asan) {
    EXPECT_TRUE(wait_until(
        [&] {
          after = rss_kb(sched->pid());
          return after <= before + 16 * 1024;
        },
        seconds(30)))
        << "RSS " << before << " kB before, " << peak << " kB at the peak, " << after << " kB after";
  }
  std::cerr << "scheduler RSS: " << before << " kB before, " << peak << " kB at the peak, " << after << " kB after\n";
  sched->signal(SIGTERM);
  EXPECT_EQ(sched->wait(seconds(30)), 0) << sched->err();
}
