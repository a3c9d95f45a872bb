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

// `up` on `dsn` in a new folder `dir`, once its banner is out and every
// actor is ready (null if not: the failure is reported); `bootstrap` is its broker.
std::unique_ptr<child> ready_up(const std::string& dsn, std::string& dir, std::string& bootstrap,
                                const std::vector<std::string>& more = {},
                                const std::map<std::string, std::string>& env = {}) {
  dir = temp_dir();
  ::chmod(dir.c_str(), 0755);
  auto up = start_up(dir, up_args(dsn, more), env);
  bootstrap = wait_for_banner(*up);
  EXPECT_FALSE(bootstrap.empty()) << up->err();
  if (bootstrap.empty()) return nullptr;
  const bool ready = wait_until([&] { return all_ready(*up); }, seconds(60));
  EXPECT_TRUE(ready) << up->err();
  return ready ? std::move(up) : nullptr;
}

// An outage from second `from` to second `to` of a run of `total` seconds.
struct outage_plan {
  int total, from, to;
  std::string depends;            // the actor kind that is not ready meanwhile
  bool quiet = false;             // nothing is produced meanwhile (kcat, like a crawler, would wait for the broker)
  std::function<void(bool)> set;  // starts (true) and ends (false) the outage
};

// `records` tickers, one chunk a second, with the outage in the middle; how
// often `depends` answered 503 on /readyz during it (sampled once a second).
int produce_through(child& up, const std::string& bootstrap, const std::string& dir, int records,
                    const outage_plan& o) {
  int producing = 0, not_ready = 0;
  const auto down = [&](int s) { return s >= o.from && s < o.to; };
  for (int s = 0; s < o.total; ++s) producing += o.quiet && down(s) ? 0 : 1;
  const auto start = std::chrono::steady_clock::now();
  int next = 0, chunk = 0;
  for (int s = 0; s < o.total; ++s) {
    if (s == o.from || s == o.to) o.set(s == o.from);
    if (s > o.from && s < o.to && http_status(metrics_port_of(up, o.depends), "/readyz") == "503") ++not_ready;
    if (!(o.quiet && down(s))) {
      const int end = ++chunk == producing ? records : records / producing * chunk;
      std::vector<std::string> lines;
      for (; next < end; ++next) lines.push_back(ticker_line(next));
      kcat_produce(bootstrap, "ctk.raw", lines, dir);
    }
    std::this_thread::sleep_until(start + seconds(s + 1));  // a steady rate: the fault's clock, not a wait
  }
  return not_ready;
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
  std::string dir, bootstrap;
  auto up = ready_up(dsn, dir, bootstrap);
  ASSERT_TRUE(up);
  const int records = 20000;
  const int not_ready = produce_through(*up, bootstrap, dir, records, {24, 4, 19, "db-sink", false, [&](bool down) {
                                                                         if (down)
                                                                           pg.stop();
                                                                         else
                                                                           pg.start();
                                                                       }});
  EXPECT_GT(not_ready, 0) << "db-sink said it was not ready while PostgreSQL was down\n" << up->err();
  EXPECT_TRUE(wait_until([&] { return all_ready(*up); }, seconds(60))) << up->err();
  EXPECT_NE(up->err().find("writing succeeded again after"), std::string::npos) << up->err();
  expect_stored_once(*up, dsn, dir + "/var/hdfs", records);
}

TEST(outage, the_broker_down_10_s_mid_stream_loses_and_doubles_nothing_and_every_actor_recovers_by_itself) {
  const std::string dsn = fresh_database(pg_fixture_dsn());
  std::string dir, bootstrap;
  auto up = ready_up(dsn, dir, bootstrap);
  ASSERT_TRUE(up);
  const int records = 20000;
  // SIGUSR2: up's embedded broker goes down, then up again; producing resumes once it says so.
  const int not_ready =
      produce_through(*up, bootstrap, dir, records, {20, 4, 14, "validator", true, [&](bool down) {
                                                       up->signal(SIGUSR2);
                                                       const auto said_up = [&] {
                                                         return up->err().find("broker up again") != std::string::npos;
                                                       };
                                                       if (!down) {
                                                         EXPECT_TRUE(wait_until(said_up, seconds(5)));
                                                       }
                                                     }});
  EXPECT_NE(up->err().find("embedded broker DOWN"), std::string::npos) << up->err();
  EXPECT_GT(not_ready, 0) << "the validator said it was not ready while the broker was down\n" << up->err();
  EXPECT_TRUE(wait_until([&] { return all_ready(*up); }, seconds(60))) << up->err();
  expect_stored_once(*up, dsn, dir + "/var/hdfs", records);
}

TEST(outage, webhdfs_failing_and_timing_out_for_20_s_loses_and_doubles_nothing_and_hdfs_sink_recovers_by_itself) {
  const std::string dsn = fresh_database(pg_fixture_dsn());
  const std::string root = temp_dir();
  child webhdfs({binary_dir() + "/ctk_webhdfs_double", "--root", root, "--hang-ms", "2000"}, root + ".out",
                root + ".err");
  ASSERT_TRUE(wait_until([&] { return webhdfs.out().find('\n') != std::string::npos; }, seconds(10)));
  const std::string address = webhdfs.out().substr(9, webhdfs.out().find('\n') - 9);
  // One request may take 1 s: the double's hangs are timeouts to the sink.
  std::string dir, bootstrap;
  auto up = ready_up(dsn, dir, bootstrap, {"--hdfs", "webhdfs://" + address + "/data"}, {{"CTK_HDFS__TIMEOUT", "1s"}});
  ASSERT_TRUE(up);
  const int records = 20000;
  // SIGUSR1: the double fails or hangs every request, then serves again.
  const int not_ready = produce_through(*up, bootstrap, dir, records,
                                        {28, 4, 24, "hdfs-sink", false, [&](bool) { webhdfs.signal(SIGUSR1); }});
  EXPECT_NE(webhdfs.err().find("outage over"), std::string::npos) << webhdfs.err();
  EXPECT_GT(not_ready, 0) << "hdfs-sink said it was not ready while WebHDFS failed\n" << up->err();
  EXPECT_TRUE(wait_until([&] { return all_ready(*up); }, seconds(60))) << up->err();
  expect_stored_once(*up, dsn, root + "/data", records);
}
