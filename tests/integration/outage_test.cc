// Outages of what the pipeline stands on, through `up` (one instance of
// each actor that handles records; scheduler and crawlers left out), each
// while records arrive at a steady rate: PostgreSQL stopped for 15 s, the
// embedded broker down for 10 s (its SIGUSR2 fault drill), WebHDFS
// answering 500s and timeouts for 20 s (the WebHDFS TEST DOUBLE: there is
// no Hadoop here). Each time: the actor that depends on what failed is not
// ready meanwhile, every actor recovers without a restart, and after a
// Ctrl-C nothing is lost or doubled (PostgreSQL rows = distinct ids = HDFS
// lines = records sent).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <csignal>
#include <functional>
#include <regex>
#include <thread>

#include "tests/integration/helpers.h"
#include "tests/integration/pg.h"

using namespace ctk::test;
using std::chrono::seconds;

namespace {

const std::vector<std::string> kinds{"validator", "dedup", "db-sink", "hdfs-sink", "analyzer"};

std::vector<std::string> up_args(const std::string& dsn, std::vector<std::string> more = {}) {
  std::vector<std::string> a{"--db", dsn, "--scale", "scheduler=0", "--scale", "crawler=0"};
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

// The metrics port of `kind`'s first instance, from up's log.
int metrics_port_of(const child& up, const std::string& kind) {
  const std::regex re("\\[local/" + kind + "/0\\] .* metrics on http://127\\.0\\.0\\.1:(\\d+)/metrics");
  std::smatch m;
  const std::string log = up.err();
  return std::regex_search(log, m, re) ? std::stoi(m[1]) : 0;
}

// How often `kind` started (a restart starts it again).
int starts_of(const child& up, const std::string& kind) {
  const std::string log = up.err(), line = "[local/" + kind + "/0] " + kind + " consuming ";
  int n = 0;
  for (auto at = log.find(line); at != std::string::npos; at = log.find(line, at + 1)) ++n;
  return n;
}

bool all_ready(const child& up) {
  for (const auto& k : kinds)
    if (http_status(metrics_port_of(up, k), "/readyz") != "200") return false;
  return true;
}

// `records` tickers in `total` seconds, one chunk a second, except in the
// seconds `quiet(s)` names; `each_second(s)` runs at the start of each second.
void produce_steadily(const std::string& bootstrap, const std::string& dir, int records, int total,
                      const std::function<bool(int)>& quiet, const std::function<void(int)>& each_second) {
  int producing = 0;
  for (int s = 0; s < total; ++s) producing += quiet(s) ? 0 : 1;
  const auto start = std::chrono::steady_clock::now();
  int next = 0, chunk = 0;
  for (int s = 0; s < total; ++s) {
    each_second(s);
    if (!quiet(s)) {
      const int end = ++chunk == producing ? records : records / producing * chunk;
      std::vector<std::string> lines;
      for (; next < end; ++next) lines.push_back(ticker_line(next));
      kcat_produce(bootstrap, "ctk.raw", lines, dir);
    }
    std::this_thread::sleep_until(start + seconds(s + 1));  // a steady rate: the fault's clock, not a wait
  }
}

// After Ctrl-C: every record once in PostgreSQL and once in the HDFS files under `hdfs`.
void expect_stored_once(child& up, const std::string& dsn, const std::string& hdfs, int records) {
  for (const auto& k : kinds) EXPECT_EQ(starts_of(up, k), 1) << k << " recovered without a restart\n" << up.err();
  up.signal(SIGINT);
  ASSERT_EQ(up.wait(seconds(120)), 0) << up.err();
  EXPECT_NE(up.err().find("every record is stored"), std::string::npos) << up.err();
  EXPECT_EQ(up.err().find("DATA LOSS"), std::string::npos) << "within the embedded broker's limits";
  EXPECT_EQ(psql_long(dsn, "SELECT count(*) FROM market_trends"), records);
  EXPECT_EQ(psql_long(dsn, "SELECT count(DISTINCT record_id) FROM market_trends"), records);
  std::string lines, ids, tmp;
  run("cat " + hdfs + "/raw/upbit/*/* | wc -l", &lines);
  EXPECT_EQ(lines, std::to_string(records) + "\n");
  run("cat " + hdfs + "/raw/upbit/*/* | grep -o '\"id\":\"[0-9a-f]*\"' | sort -u | wc -l", &ids);
  EXPECT_EQ(ids, std::to_string(records) + "\n");
  run("find " + hdfs + " -path '*_tmp*' -type f", &tmp);
  EXPECT_EQ(tmp, "") << "no temporary file is left";
}

}  // namespace

TEST(outage, postgres_stopped_15_s_mid_stream_loses_and_doubles_nothing_and_db_sink_recovers_by_itself) {
  private_pg pg;
  const std::string dsn = fresh_database(pg.dsn());
  const std::string dir = temp_dir();
  ::chmod(dir.c_str(), 0755);
  auto up = start_up(dir, up_args(dsn));
  const std::string bootstrap = wait_for_banner(*up);
  ASSERT_FALSE(bootstrap.empty()) << up->err();
  ASSERT_TRUE(wait_until([&] { return all_ready(*up); }, seconds(60))) << up->err();
  const int records = 20000;
  int not_ready = 0;
  produce_steadily(
      bootstrap, dir, records, 24, [](int) { return false; },
      [&](int s) {
        if (s == 4) pg.stop();
        if (s == 19) pg.start();
        if (s > 4 && s < 19 && http_status(metrics_port_of(*up, "db-sink"), "/readyz") == "503") ++not_ready;
      });
  EXPECT_GT(not_ready, 0) << "db-sink said it was not ready while PostgreSQL was down\n" << up->err();
  EXPECT_TRUE(wait_until([&] { return all_ready(*up); }, seconds(60))) << up->err();
  EXPECT_NE(up->err().find("writing succeeded again after"), std::string::npos) << up->err();
  expect_stored_once(*up, dsn, dir + "/var/hdfs", records);
}

TEST(outage, the_broker_down_10_s_mid_stream_loses_and_doubles_nothing_and_every_actor_recovers_by_itself) {
  const std::string dsn = fresh_database(pg_fixture_dsn());
  const std::string dir = temp_dir();
  ::chmod(dir.c_str(), 0755);
  auto up = start_up(dir, up_args(dsn));
  const std::string bootstrap = wait_for_banner(*up);
  ASSERT_FALSE(bootstrap.empty()) << up->err();
  ASSERT_TRUE(wait_until([&] { return all_ready(*up); }, seconds(60))) << up->err();
  const int records = 20000;
  int not_ready = 0;
  // Nothing is produced while the broker is down (kcat, like a crawler, would wait for it).
  produce_steadily(
      bootstrap, dir, records, 20, [](int s) { return s >= 4 && s < 14; },
      [&](int s) {
        // Down at 4 s, up at 14 s; producing resumes once the broker says it is up.
        if (s == 4 || s == 14) up->signal(SIGUSR2);
        if (s == 14) {
          EXPECT_TRUE(wait_until([&] { return up->err().find("broker up again") != std::string::npos; }, seconds(5)));
        }
        if (s > 5 && s < 14 && http_status(metrics_port_of(*up, "validator"), "/readyz") == "503") ++not_ready;
      });
  EXPECT_NE(up->err().find("embedded broker DOWN"), std::string::npos) << up->err();
  EXPECT_GT(not_ready, 0) << "the validator said it was not ready while the broker was down\n" << up->err();
  EXPECT_TRUE(wait_until([&] { return all_ready(*up); }, seconds(60))) << up->err();
  expect_stored_once(*up, dsn, dir + "/var/hdfs", records);
}

TEST(outage, webhdfs_failing_and_timing_out_for_20_s_loses_and_doubles_nothing_and_hdfs_sink_recovers_by_itself) {
  const std::string dsn = fresh_database(pg_fixture_dsn());
  const std::string dir = temp_dir(), root = temp_dir();
  ::chmod(dir.c_str(), 0755);
  child webhdfs({binary_dir() + "/ctk_webhdfs_double", "--root", root, "--hang-ms", "2000"}, dir + "/webhdfs.out",
                dir + "/webhdfs.err");
  ASSERT_TRUE(wait_until([&] { return webhdfs.out().find('\n') != std::string::npos; }, seconds(10)));
  const std::string address = webhdfs.out().substr(9, webhdfs.out().find('\n') - 9);
  // One request may take 1 s: the double's hangs are timeouts to the sink.
  auto up = start_up(dir, up_args(dsn, {"--hdfs", "webhdfs://" + address + "/data"}), {{"CTK_HDFS__TIMEOUT", "1s"}});
  const std::string bootstrap = wait_for_banner(*up);
  ASSERT_FALSE(bootstrap.empty()) << up->err();
  ASSERT_TRUE(wait_until([&] { return all_ready(*up); }, seconds(60))) << up->err();
  const int records = 20000;
  int not_ready = 0;
  produce_steadily(
      bootstrap, dir, records, 28, [](int) { return false; },
      [&](int s) {
        if (s == 4 || s == 24) webhdfs.signal(SIGUSR1);  // failing from 4 s to 24 s
        if (s > 4 && s < 24 && http_status(metrics_port_of(*up, "hdfs-sink"), "/readyz") == "503") ++not_ready;
      });
  EXPECT_NE(webhdfs.err().find("outage over"), std::string::npos) << webhdfs.err();
  EXPECT_GT(not_ready, 0) << "hdfs-sink said it was not ready while WebHDFS failed\n" << up->err();
  EXPECT_TRUE(wait_until([&] { return all_ready(*up); }, seconds(60))) << up->err();
  expect_stored_once(*up, dsn, root + "/data", records);
}
