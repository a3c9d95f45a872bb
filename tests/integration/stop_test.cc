// Stopping the system without losing what is in flight: `up` on the
// shared test PostgreSQL and a file HDFS in a folder of its own, real
// processes and real signals.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <regex>

#include "tests/integration/helpers.h"
#include "tests/integration/pg.h"

using namespace ctk::test;

// With the embedded broker the log is in memory: records that validator,
// dedup and the sinks had not finished when `up` stopped were gone. Ctrl-C
// now stops the crawlers and the scheduler first and waits until every
// group has stored everything.
TEST(up, ctrl_c_right_after_records_are_produced_stores_every_one_before_it_exits) {
  auto dir = temp_dir();
  ::chmod(dir.c_str(), 0755);
  const std::string dsn = fresh_database(pg_fixture_dsn());
  auto up_process = start_up(dir, {"--db", dsn});
  child& up = *up_process;
  const std::string bootstrap = wait_for_banner(up);
  ASSERT_FALSE(bootstrap.empty()) << up.err();
  // 64 symbols: spread over the partitions (the embedded broker keeps at most 5 MiB per partition).
  constexpr int n = 20000;
  std::vector<std::string> lines;
  for (int i = 0; i < n; ++i) lines.push_back(ticker_line(i));
  kcat_produce(bootstrap, "ctk.raw", lines, dir);
  up.signal(SIGINT);
  EXPECT_EQ(up.wait(std::chrono::seconds(120)), 0) << up.err();
  EXPECT_NE(up.err().find("every record is stored"), std::string::npos) << up.err();
  EXPECT_EQ(psql_long(dsn, "SELECT count(*) FROM market_trends"), n) << up.err();
  EXPECT_EQ(psql_long(dsn, "SELECT count(DISTINCT \"timestamp\") FROM market_trends"), n);
  EXPECT_EQ(up.err().find("DATA LOSS"), std::string::npos) << "the test stays within the embedded broker's limits";
  std::string stored, tmp;
  run("cat " + dir + "/var/hdfs/raw/upbit/20240905/* | wc -l", &stored);
  EXPECT_EQ(stored, std::to_string(n) + "\n");
  run("find " + dir + "/var/hdfs -path '*_tmp*' -type f", &tmp);
  EXPECT_EQ(tmp, "") << "no half-written file is left";
}

namespace {
std::string envelope(const std::string& source, const std::string& kind, const std::string& data) {
  return R"({"v":1,"source":")" + source + R"(","kind":")" + kind + R"(","fetched_at":"2026-11-29T00:00:00Z","data":)" +
         data + "}";
}
std::string market(const std::string& price, const std::string& symbol = "\"KRW-BTC\"", int ts = 0) {
  return R"({"symbol":)" + symbol + R"(,"price":)" + price + R"(,"volume_24h":1,"change_24h":0,"timestamp":)" +
         std::to_string(1725494400000LL + 1000LL * ts) + "}";
}
std::string news(const std::string& title, const std::string& extra = "") {
  return R"({"title":)" + title + R"(,"url":"https://example.com/)" + std::to_string(std::hash<std::string>{}(title)) +
         R"(","published_at":"2026-11-29T00:00:00Z")" + extra + "}";
}
}  // namespace

// What a hostile or broken producer can put on `raw`: whatever the
// validator passes, both sinks store; the rest is dead-lettered; no process
// crashes; PostgreSQL and HDFS agree afterwards.
TEST(up, hostile_records_are_dead_lettered_or_stored_by_both_sinks_and_nothing_crashes) {
  auto dir = temp_dir();
  ::chmod(dir.c_str(), 0755);
  const std::string dsn = fresh_database(pg_fixture_dsn());
  auto up_process = start_up(dir, {"--db", dsn, "--scale", "scheduler=0", "--scale", "crawler=0"});
  child& up = *up_process;
  const std::string bootstrap = wait_for_banner(up);
  ASSERT_FALSE(bootstrap.empty()) << up.err();
  std::string deep = "1", keys;
  for (int i = 0; i < 10000; ++i) deep = "[" + deep + "]";
  for (int i = 0; i < 10000; ++i) keys += ",\"k" + std::to_string(i) + "\":" + std::to_string(i);
  std::vector<std::string> lines;
  for (int i = 0; i < 10; ++i)
    lines.push_back("good" + std::to_string(i) + ":" + envelope("upbit", "market", market("1", "\"KRW-BTC\"", i)));
  for (const std::string price : {"\"NaN\"", "1e308", "-1", "0", "{}", "[1]", "\"1e999\"", "null", "true"})
    lines.push_back("price:" + envelope("upbit", "market", market(price, "\"KRW-ETH\"", 100)));
  lines.push_back("symbol:" + envelope("upbit", "market", market("1", "12", 101)));
  lines.push_back("symbol2:" + envelope("upbit", "market", market("1", "\"../KRW\"", 102)));
  for (const std::string source : {"a/b", "..", "../../etc", "/tmp/x", "", "up bit", "\\u00fc"})
    lines.push_back("source:" + envelope(source, "news", news("\"from " + std::to_string(source.size()) + "\"")));
  lines.push_back("utf8:" + envelope("coindesk", "news", news("\"bad \xff\xfe bytes\"")));
  lines.push_back("deep:" + envelope("coindesk", "news", news("\"deep\"", ",\"extra\":" + deep)));
  lines.push_back("keys:" + envelope("coindesk", "news", news("\"many keys\"", keys)));
  lines.push_back("types:" + envelope("coindesk", "news", news("42")));
  lines.push_back("kind:" + envelope("coindesk", "weather", news("\"odd kind\"")));
  lines.push_back("junk:{\"v\":1,");
  lines.push_back("version:" + envelope("coindesk", "news", news("\"v2\"")).replace(5, 1, "2"));
  kcat_produce(bootstrap, "ctk.raw", lines, dir);
  // A 5 MB body, through kcat with a raised message limit, alone in its partition.
  {
    std::ofstream(dir + "/big.txt") << "big:"
                                    << envelope("coindesk", "news",
                                                news("\"big\"", ",\"content\":\"" + std::string(5'000'000, 'x') + "\""))
                                    << "\n";
    std::string out;
    ASSERT_EQ(run("kcat -b " + bootstrap + " -P -t ctk.raw -p 15 -K: -X message.max.bytes=10000000 -l " + dir +
                      "/big.txt 2>&1",
                  &out),
              0)
        << out;
  }
  const std::size_t total = lines.size() + 1;
  std::size_t passed = 0, dead = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        passed = kcat_values(bootstrap, "ctk.valid").size();
        dead = kcat_values(bootstrap, "ctk.deadletter").size();
        return passed + dead >= total;
      },
      std::chrono::seconds(60)))
      << passed << " passed, " << dead << " dead-lettered of " << total << "\n"
      << up.err();
  std::string rules;
  for (const auto& d : kcat_values(bootstrap, "ctk.deadletter")) {
    const auto r = d.find("\"rule\":"), a = d.find("\"actor\":");
    rules += d.substr(r, d.find(',', r) - r) + " " + d.substr(a, d.find(',', a) - a) + "\n";
  }
  EXPECT_EQ(passed + dead, total) << "each record once: passed or dead-lettered\n" << rules;
  EXPECT_GE(passed, 10u);
  up.signal(SIGINT);
  ASSERT_EQ(up.wait(std::chrono::seconds(120)), 0) << up.err();
  EXPECT_NE(up.err().find("every record is stored"), std::string::npos) << up.err();
  EXPECT_EQ(up.err().find("restarting it in"), std::string::npos) << "no actor crashed:\n" << up.err();
  const long rows = psql_long(dsn,
                              "SELECT (SELECT count(*) FROM market_trends) + (SELECT count(*) FROM raw_news) + "
                              "(SELECT count(*) FROM fear_greed_index)");
  std::string files;
  run("cat " + dir + "/var/hdfs/raw/*/*/* | wc -l", &files);
  EXPECT_EQ(static_cast<std::size_t>(rows), passed) << "PostgreSQL holds what the validator passed";
  EXPECT_EQ(files, std::to_string(passed) + "\n") << "and so does HDFS";
  std::string st;
  EXPECT_EQ(run(cointicker() + " db status --dsn '" + dsn + "' --hdfs file://" + dir + "/var/hdfs --day all 2>&1", &st),
            0)
      << st;
  EXPECT_EQ(st.find("DIFFERENT"), std::string::npos) << st;
}

// A SIGKILLed `up` cannot stop its private PostgreSQL (its actors get
// SIGTERM from the kernel, the server does not). The next `up` on the
// folder takes the server over instead of refusing to start db-sink, and
// stops it when it stops.
TEST(up, a_private_postgres_left_by_a_killed_up_is_taken_over_and_stopped_by_the_next) {
  auto dir = temp_dir();
  ::chmod(dir.c_str(), 0755);
  const std::vector<std::string> args{"--scale", "scheduler=0", "--scale", "crawler=0"};
  auto first = start_up(dir, args);
  ASSERT_FALSE(wait_for_banner(*first).empty()) << first->err();
  first->signal(SIGKILL);
  first->wait(std::chrono::seconds(30));
  const std::string pid_file = dir + "/var/pg/data/postmaster.pid";
  ASSERT_TRUE(std::ifstream(pid_file).good()) << "the server outlived its up";
  // Its actors (SIGTERM from the kernel) still write to its log while they stop: the second up gets files of its own.
  for (const std::string f : {"up.out", "up.err"})
    ASSERT_EQ(std::rename((dir + "/" + f).c_str(), (dir + "/first-" + f).c_str()), 0) << f;

  auto second = start_up(dir, args);
  ASSERT_FALSE(wait_for_banner(*second).empty()) << second->err();
  EXPECT_NE(second->err().find("was left running by an `up` that is gone"), std::string::npos) << second->err();
  EXPECT_EQ(second->err().find("db-sink is not started"), std::string::npos) << second->err();
  // db-sink is ready: connected and migrated.
  const auto db_sink_ready = [&] {
    static const std::regex re(R"(\[local/db-sink/0\] .* metrics on http://127\.0\.0\.1:(\d+)/metrics)");
    std::smatch m;
    const std::string log = second->err();
    return std::regex_search(log, m, re) && http_status(std::stoi(m[1]), "/readyz") == "200";
  };
  EXPECT_TRUE(wait_until(db_sink_ready, std::chrono::seconds(30))) << second->err();
  second->signal(SIGINT);
  EXPECT_EQ(second->wait(std::chrono::seconds(120)), 0) << second->err();
  EXPECT_FALSE(std::ifstream(pid_file).good()) << "the second up stopped the server it took over";
}
