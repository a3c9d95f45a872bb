// The actor runtime as real processes: killed with SIGKILL mid-batch,
// stopped with SIGTERM, fed poison, and starved by a broker that dropped
// data. A relay actor (tests/support/relay_actor.cc) copies test.in to test.out.
#include <gtest/gtest.h>
#include <httplib.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <csignal>
#include <cstring>
#include <future>
#include <set>
#include <thread>

#include "brokers/embedded_broker.h"
#include "brokers/kafka.h"
#include "tests/integration/helpers.h"

using namespace ctk::test;

namespace {

const std::vector<std::string> relay_topics{"test.in:8", "test.out:8", "test.deadletter:2"};

std::unique_ptr<child> start_relay(const broker& b, const std::string& dir, const std::string& tag,
                                   std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{
      binary_dir() + "/ctk_relay_actor", "--bootstrap", b.bootstrap(), "--in", "in", "--out", "out"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return std::make_unique<child>(argv, dir + "/" + tag + ".out", dir + "/" + tag + ".err");
}

// Sum over partitions of the committed offsets of group test.relay on test.in.
std::int64_t committed(const broker& b, int partitions) {
  return committed_sum(b.bootstrap(), "test.relay", "test.in", partitions);
}

// "k0:m0", "k1:m1", ...: n keyed messages that spread over the partitions.
std::vector<std::string> numbered(int n) {
  std::vector<std::string> lines;
  for (int i = 0; i < n; ++i) lines.push_back("k" + std::to_string(i) + ":m" + std::to_string(i));
  return lines;
}

std::size_t count_values(const broker& b, const std::string& topic) { return kcat_values(b.bootstrap(), topic).size(); }

}  // namespace

TEST(runner_faults, an_actor_killed_with_sigkill_mid_batch_loses_nothing_after_restart) {
  broker b(relay_topics);
  auto dir = temp_dir();
  const int n = 20000;
  kcat_produce(b.bootstrap(), "test.in", numbered(n), dir);

  // Slow enough (50 µs per message, batches of 500) that the kill lands mid-stream.
  auto first = start_relay(b, dir, "first", {"--delay-us", "50", "--batch", "500"});
  ASSERT_TRUE(wait_until([&] { return count_values(b, "test.out") >= 2000; }, std::chrono::seconds(60)))
      << first->err();
  first->signal(SIGKILL);
  EXPECT_EQ(first->wait(std::chrono::seconds(10)), 128 + SIGKILL);
  const std::size_t at_kill = count_values(b, "test.out");
  ASSERT_LT(at_kill, static_cast<std::size_t>(n)) << "the kill must land before the end";
  ASSERT_LT(committed(b, 8), n);

  auto second = start_relay(b, dir, "second");
  ASSERT_TRUE(wait_until([&] { return committed(b, 8) == n; }, std::chrono::seconds(90))) << second->err();
  second->signal(SIGTERM);
  EXPECT_EQ(second->wait(std::chrono::seconds(30)), 0);

  auto out = kcat_values(b.bootstrap(), "test.out");
  std::set<std::string> distinct(out.begin(), out.end());
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(n)) << "every input message reached the output";
  for (int i = 0; i < n; i += 997) EXPECT_TRUE(distinct.count("m" + std::to_string(i))) << i;
  // At-least-once: what was produced but not committed before the kill may repeat.
  RecordProperty("duplicates_after_kill", static_cast<int>(out.size() - distinct.size()));
}

TEST(runner_faults, sigterm_drains_commits_and_nothing_is_redelivered_on_restart) {
  broker b(relay_topics);
  auto dir = temp_dir();
  kcat_produce(b.bootstrap(), "test.in", numbered(3000), dir);
  auto first = start_relay(b, dir, "first");
  ASSERT_TRUE(wait_until([&] { return count_values(b, "test.out") == 3000; }, std::chrono::seconds(60)));
  first->signal(SIGTERM);
  ASSERT_EQ(first->wait(std::chrono::seconds(30)), 0) << first->err();
  EXPECT_EQ(committed(b, 8), 3000);

  auto second = start_relay(b, dir, "second");
  kcat_produce(b.bootstrap(), "test.in", {"new:fresh"}, dir);
  ASSERT_TRUE(wait_until([&] { return committed(b, 8) == 3001; }, std::chrono::seconds(60))) << second->err();
  second->signal(SIGTERM);
  ASSERT_EQ(second->wait(std::chrono::seconds(30)), 0);
  EXPECT_EQ(count_values(b, "test.out"), 3001u) << "only the new message was processed by the second run";
}

TEST(runner_faults, a_dead_letter_carries_the_original_the_reason_and_the_actor) {
  broker b(relay_topics);
  auto dir = temp_dir();
  kcat_produce(b.bootstrap(), "test.in", {"a:fine", "b:poison", "c:also fine"}, dir);
  auto r = start_relay(b, dir, "relay");
  ASSERT_TRUE(wait_until([&] { return committed(b, 8) == 3; }, std::chrono::seconds(60))) << r->err();
  auto dl = kcat_values(b.bootstrap(), "test.deadletter");
  ASSERT_EQ(dl.size(), 1u);
  EXPECT_NE(dl[0].find(R"("reason":"the value is 'poison'")"), std::string::npos) << dl[0];
  EXPECT_NE(dl[0].find(R"("rule":"poison")"), std::string::npos);
  EXPECT_NE(dl[0].find(R"("actor":"test/relay/0")"), std::string::npos);
  EXPECT_NE(dl[0].find(R"("topic":"test.in")"), std::string::npos);
  EXPECT_NE(dl[0].find(R"("original":"poison")"), std::string::npos);
  EXPECT_EQ(count_values(b, "test.out"), 2u);
}

TEST(runner_faults, an_offset_the_broker_dropped_is_reported_as_data_loss_not_skipped) {
  // One partition; the embedded broker keeps at most 5 MiB per partition.
  broker b({"test.in:1", "test.out:1", "test.deadletter:1"});
  auto dir = temp_dir();
  kcat_produce(b.bootstrap(), "test.in", {"a:first", "b:second"}, dir);
  auto r = start_relay(b, dir, "first");
  ASSERT_TRUE(wait_until([&] { return committed(b, 1) == 2; }, std::chrono::seconds(60))) << r->err();
  r->signal(SIGTERM);
  ASSERT_EQ(r->wait(std::chrono::seconds(30)), 0);

  // 8 MiB more while the actor is down: the oldest data, from offset 2 on, is evicted.
  std::vector<std::string> big;
  const std::string kb(1024, 'x');
  for (int i = 0; i < 8192; ++i) big.push_back("k:" + kb);
  for (int chunk = 0; chunk < 8; ++chunk)
    kcat_produce(b.bootstrap(), "test.in",
                 std::vector<std::string>(big.begin() + chunk * 1024, big.begin() + (chunk + 1) * 1024), dir);
  std::string md;
  run("kcat -b " + b.bootstrap() + " -Q -t test.in:0:-2 2>&1", &md);

  auto again = start_relay(b, dir, "second");
  ASSERT_TRUE(wait_until([&] { return count_values(b, "test.deadletter") >= 1; }, std::chrono::seconds(60)))
      << again->err();
  auto dl = kcat_values(b.bootstrap(), "test.deadletter");
  EXPECT_NE(dl[0].find(R"("rule":"data_loss")"), std::string::npos) << dl[0];
  EXPECT_NE(dl[0].find("DATA LOSS on test.in/0: position 2 is outside the log"), std::string::npos) << dl[0];
  ASSERT_TRUE(wait_until([&] { return again->err().find("DATA LOSS") != std::string::npos; }, std::chrono::seconds(5)));
  // It goes on from the oldest message still there, through to the end.
  ASSERT_TRUE(wait_until([&] { return committed(b, 1) == 2 + 8192; }, std::chrono::seconds(60))) << again->err();
  again->signal(SIGTERM);
  EXPECT_EQ(again->wait(std::chrono::seconds(30)), 0);
}

TEST(runner_faults, a_group_that_never_committed_reports_what_the_broker_dropped_before_it_started) {
  // The same eviction, before the group's first start: it has no committed
  // offset, and its first message (offset 0) is gone. Starting at the log
  // start instead would skip that silently.
  broker b({"test.in:1", "test.out:1", "test.deadletter:1"});
  auto dir = temp_dir();
  kcat_produce(b.bootstrap(), "test.in", {"a:first", "b:second"}, dir);
  const std::string kb(1024, 'x');
  const std::vector<std::string> chunk(1024, "k:" + kb);
  for (int i = 0; i < 8; ++i) kcat_produce(b.bootstrap(), "test.in", chunk, dir);

  auto r = start_relay(b, dir, "first");
  ASSERT_TRUE(wait_until([&] { return committed(b, 1) == 2 + 8192; }, std::chrono::seconds(60))) << r->err();
  auto dl = kcat_values(b.bootstrap(), "test.deadletter");
  ASSERT_EQ(dl.size(), 1u) << "reported once";
  EXPECT_NE(dl[0].find("DATA LOSS on test.in/0: position 0 is outside the log"), std::string::npos) << dl[0];
  r->signal(SIGTERM);
  ASSERT_EQ(r->wait(std::chrono::seconds(30)), 0);

  // The new start is committed with the notice: the next start reports nothing again.
  auto again = start_relay(b, dir, "second");
  kcat_produce(b.bootstrap(), "test.in", {"c:third"}, dir);
  ASSERT_TRUE(wait_until([&] { return committed(b, 1) == 2 + 8192 + 1; }, std::chrono::seconds(60))) << again->err();
  again->signal(SIGTERM);
  ASSERT_EQ(again->wait(std::chrono::seconds(30)), 0);
  EXPECT_EQ(count_values(b, "test.deadletter"), 1u);
  EXPECT_EQ(again->err().find("DATA LOSS"), std::string::npos) << again->err();
}

TEST(runner_faults, the_metrics_endpoint_counts_what_the_actor_did) {
  broker b(relay_topics);
  auto dir = temp_dir();
  const int port = free_port();
  auto r = start_relay(b, dir, "relay");
  kcat_produce(b.bootstrap(), "test.in", {"a:1", "b:poison", "c:3"}, dir);
  ASSERT_TRUE(wait_until([&] { return committed(b, 8) == 3; }, std::chrono::seconds(60))) << r->err();
  // The port is logged at start: "metrics on http://127.0.0.1:PORT/metrics".
  const std::string log = r->err();
  auto at = log.find("metrics on http://127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << log;
  const int mport = std::stoi(log.substr(at + std::strlen("metrics on http://127.0.0.1:")));
  (void)port;
  httplib::Client cli("127.0.0.1", mport);
  auto res = cli.Get("/metrics");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("ctk_consumed_total{node=\"test\",actor=\"relay\",identity=\"test/relay/0\"} 3"),
            std::string::npos)
      << res->body;
  EXPECT_NE(res->body.find("ctk_dead_lettered_total{node=\"test\",actor=\"relay\",identity=\"test/relay/0\"} 1"),
            std::string::npos);
  EXPECT_NE(res->body.find("# TYPE ctk_lag_messages gauge"), std::string::npos);
  for (const char* path : {"/healthz", "/readyz"}) {
    auto health = cli.Get(path);
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200) << path;
  }
}

// After a restart a member that has everything committed shows no lag
// before new records arrive. librdkafka knows no position for a partition
// until a message is fetched there; the lag counted those from the log's
// start (the whole topic) instead of from the committed offset they were
// assigned at.
TEST(runner_faults, lag_after_a_restart_counts_from_the_commit_not_from_the_log_start) {
  broker b(relay_topics);
  auto dir = temp_dir();
  const int n = 2000;
  kcat_produce(b.bootstrap(), "test.in", numbered(n), dir);
  {
    auto first = start_relay(b, dir, "first");
    ASSERT_TRUE(wait_until([&] { return committed(b, 8) == n; }, std::chrono::seconds(60))) << first->err();
    first->signal(SIGTERM);
    ASSERT_EQ(first->wait(std::chrono::seconds(30)), 0) << first->err();
  }
  auto r = start_relay(b, dir, "second");
  // One new record (one partition fetches a message, the other seven only learn their end).
  kcat_produce(b.bootstrap(), "test.in", {"new:record"}, dir);
  ASSERT_TRUE(wait_until([&] { return committed(b, 8) == n + 1; }, std::chrono::seconds(60))) << r->err();
  const std::string log = r->err();
  const auto at = log.find("metrics on http://127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << log;
  httplib::Client cli("127.0.0.1", std::stoi(log.substr(at + std::strlen("metrics on http://127.0.0.1:"))));
  std::string lag;
  const auto lag_is_zero = [&] {
    auto res = cli.Get("/metrics");
    if (!res) return false;
    const auto line = res->body.find("\nctk_lag_messages{");
    if (line == std::string::npos) return false;
    const auto value = res->body.find("} ", line) + 2;
    lag = res->body.substr(value, res->body.find('\n', value) - value);
    return lag == "0";
  };
  EXPECT_TRUE(wait_until(lag_is_zero, std::chrono::seconds(15))) << "lag " << lag << " with every record committed";
  r->signal(SIGTERM);
  EXPECT_EQ(r->wait(std::chrono::seconds(30)), 0) << r->err();
}

namespace {
// Freezes the broker process (SIGSTOP) mid-stream while the relay is still
// handling prefetched input (2 ms per message, 8 s in all), thaws it after
// `until` holds, and checks that every message arrived and was committed.
void freeze_mid_stream(const std::vector<std::string>& relay_args, const std::function<bool(child&)>& until) {
  broker b(relay_topics);
  auto dir = temp_dir();
  const int n = 4000;
  kcat_produce(b.bootstrap(), "test.in", numbered(n), dir);
  std::vector<std::string> args{"--delay-us", "2000", "--batch", "200"};
  args.insert(args.end(), relay_args.begin(), relay_args.end());
  auto r = start_relay(b, dir, "relay", args);
  ASSERT_TRUE(wait_until([&] { return count_values(b, "test.out") >= 500; }, std::chrono::seconds(60))) << r->err();
  b.process().signal(SIGSTOP);  // the broker freezes: nothing is acknowledged
  const bool seen = wait_until([&] { return until(*r); }, std::chrono::seconds(30));
  b.process().signal(SIGCONT);
  ASSERT_TRUE(seen) << r->err();
  ASSERT_TRUE(wait_until([&] { return committed(b, 8) == n; }, std::chrono::seconds(90))) << r->err();
  r->signal(SIGTERM);
  EXPECT_EQ(r->wait(std::chrono::seconds(30)), 0);
  auto out = kcat_values(b.bootstrap(), "test.out");
  std::set<std::string> distinct(out.begin(), out.end());
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(n));
}
}  // namespace

TEST(runner_faults, a_broker_frozen_mid_stream_delays_commits_and_loses_nothing) {
  // The shipped producer settings (idempotent): in-flight output is held,
  // not failed, while the broker is unreachable; nothing is committed past it.
  freeze_mid_stream({}, [](child&) {
    std::this_thread::sleep_for(std::chrono::seconds(4));  // the fault's length, not a wait for a result
    return true;
  });
}

TEST(runner_faults, output_the_producer_rejects_dead_letters_its_input_instead_of_looping) {
  broker b(relay_topics);
  auto dir = temp_dir();
  const std::string big(5000, 'x');
  kcat_produce(b.bootstrap(), "test.in", {"a:small", "b:" + big, "c:also small"}, dir);
  // Outputs above 2000 bytes are refused by the producer itself, every time.
  auto r = start_relay(b, dir, "relay", {"--producer-prop", "message.max.bytes=2000"});
  ASSERT_TRUE(wait_until([&] { return committed(b, 8) == 3; }, std::chrono::seconds(60))) << r->err();
  auto dl = kcat_values(b.bootstrap(), "test.deadletter");
  ASSERT_EQ(dl.size(), 1u);
  EXPECT_NE(dl[0].find(R"("rule":"output_rejected")"), std::string::npos) << dl[0];
  EXPECT_NE(dl[0].find("too large"), std::string::npos) << dl[0];
  // The dead letter itself would be too large: the original is cut, and says so.
  EXPECT_NE(dl[0].find(R"("original_size":5000,"original_truncated":true)"), std::string::npos) << dl[0];
  EXPECT_NE(dl[0].find(R"("offset":)"), std::string::npos) << "the full bytes stay findable in test.in";
  EXPECT_EQ(count_values(b, "test.out"), 2u);
  r->signal(SIGTERM);
  EXPECT_EQ(r->wait(std::chrono::seconds(30)), 0);
}

// systemd's watchdog protocol with the test as systemd: a unix datagram
// socket as NOTIFY_SOCKET, WATCHDOG_USEC 400 ms. The runner says READY=1,
// pings WATCHDOG=1 from its loop every 200 ms, stops pinging while a
// handler stalls the loop (3 s for one message), pings again when it
// returns, and says STOPPING=1 on SIGTERM.
TEST(runner_faults, watchdog_pings_stop_while_the_loop_is_stalled_and_resume_after) {
  broker b(relay_topics);
  auto dir = temp_dir();
  const std::string path = dir + "/notify";
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  socket_closer closer{fd};
  // The next message, or "" when none comes within timeout_ms.
  const auto next = [&](int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return std::string();
    char buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  };
  child relay({binary_dir() + "/ctk_relay_actor", "--bootstrap", b.bootstrap(), "--in", "in", "--out", "out",
               "--delay-us", "3000000", "--batch", "1"},
              dir + "/relay.out", dir + "/relay.err", {{"NOTIFY_SOCKET", path}, {"WATCHDOG_USEC", "400000"}});
  std::string m;
  for (int i = 0; i < 20 && m.find("READY=1") == std::string::npos; ++i) m = next(2000);
  ASSERT_NE(m.find("READY=1"), std::string::npos) << relay.err();
  for (int pings = 0; pings < 3;) {
    m = next(5000);
    ASSERT_FALSE(m.empty()) << "no ping while idle";
    pings += m == "WATCHDOG=1";
  }
  kcat_produce(b.bootstrap(), "test.in", {"k:stall"}, dir);
  bool gap = false;  // a second without a ping: the loop is in the 3 s handler
  for (int i = 0; i < 40 && !gap; ++i) gap = next(1000).empty();
  EXPECT_TRUE(gap) << "pings went on while handle() stalled the loop";
  EXPECT_EQ(next(10000), "WATCHDOG=1") << "pings come back when handle() returns";
  relay.signal(SIGTERM);
  for (int i = 0; i < 100 && m != "STOPPING=1"; ++i) m = next(1000);
  EXPECT_EQ(m, "STOPPING=1");
  EXPECT_EQ(relay.wait(std::chrono::seconds(30)), 0) << relay.err();
}

// The broker refuses a Produce request after the relay has handled its
// input (injected into the embedded broker, here in the test's process:
// permanent errors, which the idempotent producer does not retry). The
// delivery fails, the runner redoes the batch from the last commit, and
// every input reaches the output, with nothing committed past a lost
// output.
TEST(runner_faults, a_delivery_the_broker_fails_is_redone_from_the_last_commit_and_loses_nothing) {
  std::string err;
  auto b = ctk::kafka::embedded_broker::start("", err);
  ASSERT_TRUE(b) << err;
  for (const auto& [topic, parts] : {std::pair{"test.in", 8}, {"test.out", 8}, {"test.deadletter", 2}})
    ASSERT_TRUE(b->create_topic(topic, parts, err)) << err;
  auto dir = temp_dir();
  const int n = 3000;
  kcat_produce(b->bootstrap(), "test.in", numbered(n), dir);
  ASSERT_TRUE(b->fail_produce(4, "TOPIC_AUTHORIZATION_FAILED", err)) << err;
  child r({binary_dir() + "/ctk_relay_actor", "--bootstrap", b->bootstrap(), "--in", "in", "--out", "out", "--batch",
           "200"},
          dir + "/relay.out", dir + "/relay.err");
  ASSERT_TRUE(wait_until([&] { return committed_sum(b->bootstrap(), "test.relay", "test.in", 8) == n; },
                         std::chrono::seconds(60)))
      << r.err();
  EXPECT_NE(r.err().find("redoing from the last commit"), std::string::npos) << r.err();
  EXPECT_NE(r.err().find("uthoriz"), std::string::npos) << "the broker's error is named: " << r.err();
  r.signal(SIGTERM);
  EXPECT_EQ(r.wait(std::chrono::seconds(30)), 0) << r.err();
  auto out = kcat_values(b->bootstrap(), "test.out");
  std::set<std::string> distinct(out.begin(), out.end());
  EXPECT_EQ(distinct.size(), static_cast<std::size_t>(n)) << "every input reached the output (copies allowed)";
  const auto dl = kcat_values(b->bootstrap(), "test.deadletter");
  EXPECT_EQ(dl.size(), 0u) << "a failed delivery is redone, not dead-lettered: " << (dl.empty() ? "" : dl[0])
                           << r.err();
}

// librdkafka before 2.3 (Debian 12 ships 2.0.2) waits without end in
// rd_kafka_query_watermark_offsets while the partition's leader is down: a
// dedup stopped during a broker outage hung in it for good. Every
// watermark query of the project keeps its timeout instead.
TEST(runner_faults, a_watermark_query_to_a_broker_that_is_down_fails_after_its_timeout_and_works_again_after) {
  std::string err;
  auto b = ctk::kafka::embedded_broker::start("", err);
  ASSERT_TRUE(b) << err;
  ASSERT_TRUE(b->create_topic("test.marks", 1, err)) << err;
  auto dir = temp_dir();
  kcat_produce(b->bootstrap(), "test.marks", numbered(10), dir);
  auto w = ctk::kafka::watermarks::create({{"bootstrap.servers", b->bootstrap()}}, err);
  ASSERT_TRUE(w) << err;
  std::int64_t low = -1, high = -1;
  ASSERT_TRUE(w->query("test.marks", 0, low, high, err, 10000)) << err;
  EXPECT_EQ(low, 0);
  EXPECT_EQ(high, 10);

  b->set_down(true);
  auto down = std::async(std::launch::async, [&] {
    std::string e;
    std::int64_t l = -1, h = -1;
    return std::pair{w->query("test.marks", 0, l, h, e, 1000), e};
  });
  const bool returned = down.wait_for(std::chrono::seconds(60)) == std::future_status::ready;
  b->set_down(false);  // lets a hung query return, so the test ends either way
  ASSERT_TRUE(returned) << "the query did not return within 60 s with the broker down";
  const auto [ok, why] = down.get();
  EXPECT_FALSE(ok);
  EXPECT_NE(why.find("test.marks/0"), std::string::npos) << why;

  kcat_produce(b->bootstrap(), "test.marks", numbered(5), dir);
  ASSERT_TRUE(wait_until([&] { return w->query("test.marks", 0, low, high, err, 1000) && high == 15; },
                         std::chrono::seconds(30)))
      << err;
  EXPECT_EQ(low, 0);
}
