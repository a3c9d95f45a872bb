// Monitoring as an operator meets it: per-source freshness in `status`,
// `status --json` and the metrics; every actor's /metrics passing
// `promtool check metrics`; a metrics port that two processes cannot share.
#include <gtest/gtest.h>
#include <httplib.h>
#include <simdjson.h>
#include <sys/stat.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>

#include "tests/integration/helpers.h"

using namespace ctk::test;
using std::chrono::seconds;

namespace {

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// A replay folder whose one route answers `first`, then `then` for ever.
void replay_dir(const std::string& dir, const std::string& first, const std::string& then) {
  run("mkdir -p " + dir);
  write(dir + "/routes.yaml",
        "routes:\n"
        "  - host: api.upbit.com\n"
        "    path: /v1/ticker/all\n"
        "    query: {quote_currencies: KRW}\n"
        "    responses:\n" +
            first + then);
}

std::string ok_response(const std::string& body_file) {
  return "      - status: 200\n        headers: {Content-Type: application/json}\n        body_file: " + body_file +
         "\n";
}

// The fixture's tickers 60 s later: new records, not duplicates.
std::string later_tickers(const std::string& body) {
  static const std::regex ts(R"re("(trade_timestamp|timestamp)": (\d+))re");
  std::string out;
  auto it = std::sregex_iterator(body.begin(), body.end(), ts);
  std::size_t last = 0;
  for (; it != std::sregex_iterator(); ++it) {
    out += body.substr(last, static_cast<std::size_t>(it->position()) - last);
    out += "\"" + (*it)[1].str() + "\": " + std::to_string(std::stoll((*it)[2]) + 60'000);
    last = static_cast<std::size_t>(it->position() + it->length());
  }
  return out + body.substr(last);
}

// "state" of `source` in a `status --json` answer.
std::string source_state(const std::string& json, const std::string& source) {
  const auto at = json.find("{\"source\":\"" + source + "\",\"state\":\"");
  if (at == std::string::npos) return {};
  const auto q = at + source.size() + 22;
  return json.substr(q, json.find('"', q) - q);
}

// The /metrics ports in `up`'s banner, by actor.
std::map<std::string, int> metrics_ports(const std::string& banner) {
  std::map<std::string, int> out;
  static const std::regex line(R"(\n  ([a-z-]+) +pid [0-9]+  metrics http://127\.0\.0\.1:([0-9]+)/metrics)");
  for (auto it = std::sregex_iterator(banner.begin(), banner.end(), line); it != std::sregex_iterator(); ++it)
    out[(*it)[1]] = std::stoi((*it)[2]);
  return out;
}

}  // namespace

// A source whose endpoint starts answering 500 goes late, then stale, on
// its schedule's clock (every 2 s: late after 4 s, stale after 10 s), and
// fresh again once it answers and its records reach PostgreSQL. The
// replay server is the test's own process: it is swapped, not timed.
TEST(monitoring, a_failing_source_goes_late_then_stale_and_fresh_again_when_it_returns) {
  const std::string dir = temp_dir();
  ::chmod(dir.c_str(), 0755);  // the private PostgreSQL runs as `postgres` when the tests run as root
  // The shipped config with sources.yaml replaced (the analyzer's lexicons
  // are found relative to it, in deploy/npm).
  run("cp -r " + std::string(CTK_SOURCE_DIR) + "/config " + dir + "/config && ln -s " + std::string(CTK_SOURCE_DIR) +
      "/deploy " + dir + "/deploy");
  write(dir + "/config/sources.yaml",
        "sources:\n"
        "  upbit:\n"
        "    kind: market\n"
        "    parser: upbit\n"
        "    urls: [\"https://api.upbit.com/v1/ticker/all?quote_currencies=KRW\"]\n"
        "    schedule: {every: 2s}\n"
        "    retries: 0\n"
        "    freshness: {stale_after_failures: 0}   # stale by age alone here; failures: tests/unit\n");
  const std::string tickers = read_file(std::string(CTK_SOURCE_DIR) + "/tests/fixtures/replay/upbit/ticker_all_1.json");
  replay_dir(dir + "/r1", ok_response("a.json"), "      - status: 500\n        body: \"upstream down\"\n");
  write(dir + "/r1/a.json", tickers);
  replay_dir(dir + "/r2", ok_response("b.json"), "");
  write(dir + "/r2/b.json", later_tickers(tickers));

  const int rport = free_port_below_ephemeral();  // restarted on the same port below
  const auto replay = [&](const std::string& folder) {
    auto r = std::make_unique<child>(std::vector<std::string>{binary_dir() + "/cointicker", "replay-server", folder,
                                                              "--port", std::to_string(rport)},
                                     folder + ".out", folder + ".err");
    EXPECT_TRUE(wait_until([&] { return !r->out().empty() || !r->running(); }, seconds(20))) << r->err();
    return r;
  };
  auto r1 = replay(dir + "/r1");
  const auto env = free_control_ports();
  child up({binary_dir() + "/cointicker", "--config", dir + "/config", "up", "--listen", "127.0.0.1:0", "--replay",
            "http://127.0.0.1:" + std::to_string(rport)},
           dir + "/up.out", dir + "/up.err", env, dir);
  ASSERT_TRUE(wait_until([&] { return up.out().find("Ctrl-C stops everything") != std::string::npos || !up.running(); },
                         seconds(60)))
      << up.err();
  std::string cli = binary_dir() + "/cointicker --config " + dir + "/config";
  for (const auto& [k, v] : env) cli = k + "=" + v + " " + cli;
  const auto status = [&] {
    std::string out;
    run(cli + " status --json --timeout-ms 2000 2>/dev/null", &out);
    return out;
  };

  ASSERT_TRUE(
      wait_until([&] { return up.err().find("freshness: upbit late -> stale") != std::string::npos; }, seconds(90)))
      << up.err() << status();
  // The replay server still answers 500: stale holds until the test swaps it.
  const std::string stale = status();
  EXPECT_EQ(source_state(stale, "upbit"), "stale") << stale;
  EXPECT_NE(stale.find("\"last_status\":\"failed\""), std::string::npos) << stale;
  // Where each instance's /metrics answers is in status too.
  const auto ports = metrics_ports(up.out());
  EXPECT_NE(stale.find("\"metrics_port\":" + std::to_string(ports.at("db-sink")) + ","), std::string::npos) << stale;
  // Per node, from the heartbeats: here one node, `local`, with every instance.
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(stale).get(doc)) << stale;
  auto nodes = doc["nodes"].get_array();
  ASSERT_EQ(nodes.size(), 1u) << stale;
  auto local = nodes.at(0);
  EXPECT_EQ(std::string_view(local["node"]), "local");
  EXPECT_EQ(int64_t(local["instances"]), 7);
  EXPECT_EQ(std::string_view(local["resources"]["disk_path"]), dir) << "up's folder: where its data is";
  std::string mem;
  run("awk '/^MemTotal:/ {print $2}' /proc/meminfo", &mem);  // kB
  EXPECT_EQ(int64_t(local["resources"]["mem_total_bytes"]), std::stoll(mem) * 1024);
  EXPECT_GT(int64_t(local["resources"]["disk_free_bytes"]), 0);
  EXPECT_LT(std::abs(int64_t(local["clock_skew_ms"])), 1000) << "one machine, one clock";
  std::string table;
  run(cli + " status 2>/dev/null", &table);
  EXPECT_TRUE(std::regex_search(table, std::regex("\nlocal +7 +[0-9]+% +[0-9.]+ +[0-9.]+/[0-9.]+ GiB"))) << table;
  EXPECT_TRUE(std::regex_search(table, std::regex("\nupbit +stale +[0-9.]+s +4\\.0s +10\\.0s +failed "))) << table;

  // Every actor's endpoint passes promtool; the scheduler's says stale too.
  EXPECT_EQ(ports.size(), 7u) << up.out();
  for (const auto& [actor, port] : ports) {
    std::string out;
    EXPECT_EQ(run("curl -sf http://127.0.0.1:" + std::to_string(port) + "/metrics | promtool check metrics 2>&1", &out),
              0)
        << actor << ": " << out;
  }
  std::string metrics;
  run("curl -sf http://127.0.0.1:" + std::to_string(ports.at("scheduler")) + "/metrics", &metrics);
  EXPECT_NE(metrics.find("source=\"upbit\",state=\"stale\"} 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("ctk_source_last_record_timestamp_seconds{"), std::string::npos) << metrics;
  run("curl -sf http://127.0.0.1:" + std::to_string(ports.at("crawler")) + "/metrics", &metrics);
  EXPECT_NE(metrics.find("source=\"upbit\",status=\"failed\"} "), std::string::npos) << metrics;

  r1->signal(SIGTERM);
  EXPECT_EQ(r1->wait(seconds(20)), 0);
  auto r2 = replay(dir + "/r2");
  ASSERT_TRUE(wait_until([&] { return source_state(status(), "upbit") == "fresh"; }, seconds(60)))
      << status() << up.err();
  // doctor on this healthy `up`: every check passes (the source is fresh again).
  std::string doctor_out;
  const auto d = up.out().find("postgres   ") + 11;
  const auto b0 = up.out().find("broker     ") + 11;
  EXPECT_EQ(run("CTK_KAFKA__BOOTSTRAP=" + up.out().substr(b0, up.out().find(' ', b0) - b0) + " CTK_POSTGRES__DSN='" +
                    up.out().substr(d, up.out().find("  (", d) - d) + "' CTK_HDFS__URL=file://" + dir + "/var/hdfs " +
                    cli + " doctor 2>&1",
                &doctor_out),
            0)
      << doctor_out;
  EXPECT_NE(doctor_out.find("every check passed"), std::string::npos) << doctor_out;
  EXPECT_NE(doctor_out.find("ok   scheduler"), std::string::npos) << doctor_out;
  const std::string log = up.err();
  const auto stale_at = log.find("freshness: upbit late -> stale");
  EXPECT_NE(log.find("-> late", log.find("freshness: upbit fresh")), std::string::npos) << log;
  EXPECT_NE(log.find("freshness: upbit stale -> fresh", stale_at), std::string::npos) << log;

  up.signal(SIGINT);
  EXPECT_EQ(up.wait(seconds(60)), 0) << up.err();
}

// A metrics port already served is not shared: the second process falls
// back to a free port and says so; `status` marks it and `doctor` fails
// with what to free. The second runs as under systemd: its lines carry
// journald priorities.
TEST(monitoring, a_second_process_asked_for_a_taken_metrics_port_does_not_share_it) {
  broker b;
  const std::string dir = temp_dir();
  const int port = free_port();
  const auto env = free_control_ports();
  const std::string cli =
      binary_dir() + "/cointicker --config " + CTK_SOURCE_DIR + "/config --bootstrap " + b.bootstrap() + " ";
  std::string envs;
  for (const auto& [k, val] : env) envs += k + "='" + val + "' ";
  std::vector<std::unique_ptr<child>> v;
  v.push_back(std::make_unique<child>(
      std::vector<std::string>{binary_dir() + "/cointicker", "--config", std::string(CTK_SOURCE_DIR) + "/config",
                               "--bootstrap", b.bootstrap(), "run", "scheduler", "--node", "m", "--metrics-port", "0"},
      dir + "/s.out", dir + "/s.err", env));
  for (const char* instance : {"0", "1"}) {
    auto e = env;
    if (instance[0] == '1') e["JOURNAL_STREAM"] = "8:12345";  // as under systemd: stderr a journal stream
    v.push_back(std::make_unique<child>(
        std::vector<std::string>{binary_dir() + "/cointicker", "--config", std::string(CTK_SOURCE_DIR) + "/config",
                                 "--bootstrap", b.bootstrap(), "run", "validator", "--node", "n", "--instance",
                                 instance, "--metrics-port", std::to_string(port)},
        dir + "/v" + instance + ".out", dir + "/v" + instance + ".err", e));
    ASSERT_TRUE(
        wait_until([&] { return v.back()->err().find("metrics on http://") != std::string::npos; }, seconds(30)))
        << v.back()->err();
  }
  const auto& second = *v[2];
  EXPECT_NE(
      second.err().find("<4>[n/validator/1] metrics: cannot bind metrics endpoint 127.0.0.1:" + std::to_string(port)),
      std::string::npos)
      << "a warning at journald's priority 4, with no time of its own: " << second.err();
  EXPECT_NE(second.err().find("<6>[n/validator/1] "), std::string::npos) << second.err();
  EXPECT_EQ(second.err().find("metrics on http://127.0.0.1:" + std::to_string(port) + "/"), std::string::npos)
      << second.err();
  // status marks the moved one; doctor fails on it, naming the port to free.
  std::string status;
  ASSERT_TRUE(wait_until(
      [&] {
        run(envs + cli + "status 2>&1", &status);
        return status.find("n          validator  1") != std::string::npos &&
               status.find("n          validator  0") != std::string::npos;
      },
      seconds(30)))
      << status;
  const std::regex moved(R"(n +validator +1 .* \d+\*\n)"),
      kept(R"(n +validator +0 .* )" + std::to_string(port) + " \n");
  EXPECT_TRUE(std::regex_search(status, moved)) << status;
  EXPECT_TRUE(std::regex_search(status, kept)) << status;
  EXPECT_NE(status.find("* not its configured metrics port"), std::string::npos) << status;
  std::string doctor;
  EXPECT_EQ(run(envs + cli + "doctor 2>&1", &doctor), 1) << doctor;
  EXPECT_NE(doctor.find("FAIL metrics ports"), std::string::npos) << doctor;
  EXPECT_NE(doctor.find("n/validator/1 on "), std::string::npos) << doctor;
  EXPECT_NE(doctor.find("instead of " + std::to_string(port)), std::string::npos) << doctor;
  EXPECT_NE(doctor.find("ss -ltnp 'sport = :" + std::to_string(port) + "'"), std::string::npos) << doctor;
  // Twelve scrapes of the port: every one answered by the first process.
  httplib::Client c("127.0.0.1", port);
  std::set<std::string> who;
  for (int i = 0; i < 12; ++i) {
    auto res = c.Get("/metrics");
    ASSERT_TRUE(res);
    who.insert(res->body.find("identity=\"n/validator/0\"") != std::string::npos ? "0" : "other");
  }
  EXPECT_EQ(who, std::set<std::string>{"0"});
  for (auto& p : v) {
    p->signal(SIGTERM);
    EXPECT_EQ(p->wait(seconds(30)), 0) << p->err();
  }
}

namespace {
// One PromQL query's result vector from Prometheus's HTTP API: labels → value.
std::vector<std::pair<std::map<std::string, std::string>, double>> promql(int port, const std::string& query) {
  httplib::Client c("127.0.0.1", port);
  auto res = c.Get("/api/v1/query", httplib::Params{{"query", query}}, httplib::Headers{});
  std::vector<std::pair<std::map<std::string, std::string>, double>> out;
  if (!res || res->status != 200) return out;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(res->body).get(doc)) return out;
  for (auto r : doc["data"]["result"].get_array()) {
    std::map<std::string, std::string> labels;
    for (auto [k, v] : r["metric"].get_object()) labels[std::string(k)] = std::string(std::string_view(v));
    out.emplace_back(labels, std::stod(std::string(std::string_view(r["value"].at(1)))));
  }
  return out;
}
}  // namespace

namespace {
// A copy of the shipped config whose cluster.yaml is `cluster` (one node,
// n1, on this machine), and that node's actors started by `cointicker
// node n1` with control ports of their own (`env`).
std::unique_ptr<child> start_node(const std::string& dir, const std::string& cluster,
                                  const std::map<std::string, std::string>& env, std::vector<std::string> extra = {}) {
  run("cp -r " + std::string(CTK_SOURCE_DIR) + "/config " + dir + "/config");
  write(dir + "/config/cluster.yaml", cluster);
  std::vector<std::string> argv{binary_dir() + "/cointicker", "--config", dir + "/config", "node", "n1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto node = std::make_unique<child>(argv, dir + "/node.out", dir + "/node.err", env);
  EXPECT_TRUE(wait_until(
      [&] { return node->out().find("drains every actor") != std::string::npos || !node->running(); }, seconds(30)))
      << node->err();
  return node;
}
}  // namespace

// Debian's Prometheus on the scrape configuration `config prometheus`
// writes for a node's actors: every instance is one target, up, and
// scraped under one name; a crawl shows in the counters it collects.
TEST(monitoring, prometheus_on_the_generated_config_scrapes_each_instance_once_and_sees_a_crawl) {
  broker b;
  const std::string dir = temp_dir();
  const int base = free_port_below_ephemeral();
  auto env = free_control_ports();
  env.erase("CTK_METRICS__BASE_PORT");  // the fixed ports of cluster.yaml are the point here
  auto node = start_node(dir,
                         "nodes:\n"
                         "  - {name: n1, host: 127.0.0.1, role: master, actors: {crawler: 1, validator: 2, dedup: 1}}\n"
                         "kafka: {bootstrap: '" +
                             b.bootstrap() + "'}\n" + "metrics: {base_port: " + std::to_string(base) + "}\n",
                         env, {"--replay", std::string(CTK_SOURCE_DIR) + "/tests/fixtures/replay"});
  // The children are named cointicker in ps, not exe.
  static const std::regex child_pid(R"(\n  [a-z/0-9-]+ +pid ([0-9]+) )");
  const std::string banner = node->out();
  int children = 0;
  for (auto it = std::sregex_iterator(banner.begin(), banner.end(), child_pid); it != std::sregex_iterator(); ++it) {
    std::string comm;
    run("ps -o comm= -p " + (*it)[1].str(), &comm);
    EXPECT_EQ(comm, "cointicker\n") << banner;
    ++children;
  }
  EXPECT_EQ(children, 4) << banner;
  std::string config;
  ASSERT_EQ(run(binary_dir() + "/cointicker --config " + dir +
                    "/config config prometheus --scrape-interval 1s --node-exporter-port 0 > " + dir + "/prom.yml",
                &config),
            0);
  const int port = free_port();
  child prom({"/usr/bin/prometheus", "--config.file=" + dir + "/prom.yml", "--storage.tsdb.path=" + dir + "/tsdb",
              "--web.listen-address=127.0.0.1:" + std::to_string(port)},
             dir + "/prom.out", dir + "/prom.err");
  // Every instance up, each under one identity, one target each.
  const auto up_targets = [&] { return promql(port, "up{job=\"cointicker\"} == 1").size(); };
  ASSERT_TRUE(wait_until([&] { return up_targets() == 4; }, seconds(60))) << prom.err() << read_file(dir + "/prom.yml");
  const auto per_identity = promql(port, "count by (identity) (ctk_uptime_seconds)");
  ASSERT_EQ(per_identity.size(), 4u);
  for (const auto& [labels, n] : per_identity) EXPECT_EQ(n, 1) << labels.at("identity") << " is scraped twice";
  EXPECT_EQ(promql(port, "count(up)").front().second, 4) << "no target beyond the four instances";

  const auto consumed = [&] {
    auto r = promql(port, "sum(ctk_consumed_total{actor=\"validator\"})");
    return r.empty() ? -1.0 : r.front().second;
  };
  ASSERT_TRUE(wait_until([&] { return consumed() == 0; }, seconds(30)));
  std::string crawled;
  std::string crawl = "";
  for (const auto& [k, v] : env) crawl += k + "=" + v + " ";
  ASSERT_EQ(run(crawl + binary_dir() + "/cointicker --config " + dir + "/config crawl upbit --wait 2>&1", &crawled), 0)
      << crawled;
  EXPECT_TRUE(wait_until([&] { return consumed() == 8; }, seconds(30))) << consumed();
  EXPECT_TRUE(
      wait_until([&] { return !promql(port, "ctk_crawler_crawls_total{source=\"upbit\",status=\"ok\"} == 1").empty(); },
                 seconds(30)));
  prom.signal(SIGTERM);
  EXPECT_EQ(prom.wait(seconds(30)), 0) << prom.err();
  node->signal(SIGTERM);
  EXPECT_EQ(node->wait(seconds(60)), 0) << node->err();
}

// `node` watches its children with systemd's watchdog protocol: each child
// pings the supervisor's socket from its loop. A child frozen by SIGSTOP
// stops pinging; after runtime.watchdog (2 s here) it is killed and
// restarted, while the others run on.
TEST(monitoring, node_kills_and_restarts_a_child_whose_loop_stops_pinging) {
  broker b;
  const std::string dir = temp_dir();
  const auto env = free_control_ports();
  auto node = start_node(dir,
                         "nodes:\n  - {name: n1, host: 127.0.0.1, role: worker, actors: {validator: 1, dedup: 1}}\n"
                         "kafka: {bootstrap: '" +
                             b.bootstrap() + "'}\nruntime: {watchdog: 2s}\n",
                         env);
  static const std::regex dedup_pid(R"(\n  dedup +pid ([0-9]+) )");
  std::smatch m;
  const std::string banner = node->out();
  ASSERT_TRUE(std::regex_search(banner, m, dedup_pid)) << banner;
  const pid_t frozen = std::stoi(m[1]);
  // Pinging first: the child's loop runs (its READY=1 and WATCHDOG=1 reach the supervisor).
  ASSERT_TRUE(wait_until([&] { return node->err().find("[n1/dedup/0] assigned") != std::string::npos; }, seconds(30)))
      << node->err();
  ASSERT_EQ(::kill(frozen, SIGSTOP), 0);
  ASSERT_TRUE(wait_until([&] { return node->err().find("dedup restarted (pid") != std::string::npos; }, seconds(30)))
      << node->err();
  const std::string log = node->err();
  EXPECT_NE(log.find("dedup (pid " + std::to_string(frozen) + ") sent no watchdog ping for 2 s: its loop is stuck"),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("validator (pid"), std::string::npos) << "the validator kept pinging: " << log;
  EXPECT_NE(::kill(frozen, 0), 0) << "the frozen process is gone";
  node->signal(SIGTERM);
  EXPECT_EQ(node->wait(seconds(60)), 0) << node->err();
}

// `doctor` where nothing is right: no broker, PostgreSQL down, an HDFS
// folder that cannot be written, no scheduler. Each is a FAIL line with
// its fix, exit 1, and the password in the DSN is never printed.
TEST(monitoring, doctor_reports_each_failure_with_its_fix_and_exits_1) {
  const std::string dir = temp_dir();
  const std::map<std::string, std::string> env{
      {"CTK_KAFKA__BOOTSTRAP", "127.0.0.1:" + std::to_string(free_port())},
      {"CTK_POSTGRES__DSN", "host=127.0.0.1 port=" + std::to_string(free_port()) + " user=ctk password=hunter2"},
      {"CTK_HDFS__URL", "file:///etc/hostname/hdfs"},  // under a file: no folder can be made
      {"CTK_CONTROL__ROUTER", "tcp://127.0.0.1:" + std::to_string(free_port())}};
  std::string cmd = cointicker() + " doctor";
  for (const auto& [k, v] : env) cmd = k + "='" + v + "' " + cmd;
  std::string out;
  EXPECT_EQ(run(cmd + " 2>&1", &out), 1) << out;
  for (const char* check : {"broker", "postgres", "hdfs", "scheduler"}) {
    const auto at = out.find(std::string("FAIL ") + check + " ");
    ASSERT_NE(at, std::string::npos) << check << "\n" << out;
    const auto next = out.find('\n', at);
    EXPECT_EQ(out.substr(next + 1, 5), "     ") << check << " has a fix line\n" << out;
    EXPECT_NE(out.find("fix: ", next), std::string::npos) << out;
  }
  EXPECT_EQ(out.find("hunter2"), std::string::npos) << "a secret in the output: " << out;
  EXPECT_EQ(run(cmd + " --json", &out), 1);
  EXPECT_NE(out.find(R"({"name":"broker","ok":false,)"), std::string::npos) << out;

  // A broker with none of the pipeline's topics (another prefix): each one missing, with its fix.
  broker b;
  std::string topics;
  EXPECT_EQ(
      run("CTK_KAFKA__PREFIX=zz. CTK_KAFKA__BOOTSTRAP=" + b.bootstrap() + " " + cointicker() + " doctor 2>&1", &topics),
      1);
  EXPECT_NE(topics.find("ok   broker"), std::string::npos) << topics;
  EXPECT_TRUE(
      std::regex_search(topics, std::regex("FAIL topic zz\\.raw +missing\n +fix: `cointicker topics --create`")))
      << topics;
}

// `cointicker top` in a real terminal (tmux: send-keys, capture-pane): it
// lists every instance of a node, and `p` on the selected one pauses it.
TEST(monitoring, top_lists_every_instance_and_pauses_the_selected_one) {
  broker b;
  const std::string dir = temp_dir();
  const auto env = free_control_ports();
  auto node = start_node(
      dir,
      "nodes:\n  - {name: n1, host: 127.0.0.1, role: master, actors: {scheduler: 1, validator: 2, dedup: 1}}\n"
      "kafka: {bootstrap: '" +
          b.bootstrap() + "'}\n",
      env);
  std::string prefix;
  for (const auto& [k, v] : env) prefix += k + "=" + v + " ";
  const std::string cli = prefix + binary_dir() + "/cointicker --config " + dir + "/config";
  const std::string tmux = "tmux -S " + dir + "/tmux.sock ";
  ASSERT_EQ(run(tmux + "new-session -d -x 160 -y 50 \"" + cli + " top\""), 0);
  const auto screen = [&] {
    std::string out;
    run(tmux + "capture-pane -p", &out);
    return out;
  };
  const std::vector<std::string> ids{"n1/dedup/0", "n1/scheduler/0", "n1/validator/0", "n1/validator/1"};
  ASSERT_TRUE(wait_until(
      [&] {
        const std::string s = screen();
        return std::all_of(ids.begin(), ids.end(),
                           [&](const auto& id) { return std::regex_search(s, std::regex(id + " +running")); });
      },
      seconds(30)))
      << screen();
  // Sorted by identity, the first is selected: two steps down is n1/validator/0.
  // One key at a time, each seen on the screen before the next (the first
  // step once went to the first row: the selection had been left at -1 by
  // a draw before the first status).
  ASSERT_NE(screen().find("> n1/dedup/0"), std::string::npos) << screen();
  for (const char* id : {"n1/scheduler/0", "n1/validator/0"}) {
    run(tmux + "send-keys Down");
    ASSERT_TRUE(wait_until([&] { return screen().find(std::string("> ") + id) != std::string::npos; }, seconds(20)))
        << screen();
  }
  run(tmux + "send-keys p");
  const auto validator_state = [&] {
    std::string out;
    run(cli + " status --json 2>/dev/null", &out);
    const auto at = out.find("\"identity\":\"n1/validator/0\"");
    if (at == std::string::npos) return std::string();
    const auto q = out.find("\"state\":\"", at) + 9;
    return out.substr(q, out.find('"', q) - q);
  };
  EXPECT_TRUE(wait_until([&] { return validator_state() == "paused"; }, seconds(20))) << screen();
  EXPECT_TRUE(
      wait_until([&] { return std::regex_search(screen(), std::regex("> n1/validator/0 +paused")); }, seconds(20)))
      << screen();
  EXPECT_NE(screen().find("pause n1/validator/0: sent"), std::string::npos) << screen();
  run(tmux + "send-keys q");
  run(tmux + "kill-server 2>/dev/null");
  node->signal(SIGTERM);
  EXPECT_EQ(node->wait(seconds(60)), 0) << node->err();
}
