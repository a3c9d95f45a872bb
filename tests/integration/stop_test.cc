// Stopping the system without losing what is in flight: `up` on the
// shared test PostgreSQL and a file HDFS in a folder of its own, real
// processes and real signals.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <csignal>

#include "tests/integration/helpers.h"
#include "tests/integration/pg.h"

using namespace ctk::test;

namespace {
// n ticker records of 64 symbols, one per second of 2024-09-05 from 00:00
// UTC: distinct ids, spread over the partitions (the embedded broker keeps
// at most 5 MiB per partition).
std::vector<std::string> tickers(int n) {
  std::vector<std::string> lines;
  for (int i = 0; i < n; ++i) {
    const std::string symbol = "KRW-S" + std::to_string(i % 64);
    lines.push_back(
        "upbit/" + symbol +
        R"(:{"v":1,"source":"upbit","kind":"market","fetched_at":"2026-11-29T00:00:00Z","data":{"symbol":")" + symbol +
        R"(","price":)" + std::to_string(1000 + i % 97) + R"(,"volume_24h":1,"change_24h":0,"timestamp":)" +
        std::to_string(1725494400000LL + 1000LL * i) + "}}");
  }
  return lines;
}
}  // namespace

// With the embedded broker the log is in memory: records that validator,
// dedup and the sinks had not finished when `up` stopped were gone. Ctrl-C
// now stops the crawlers and the scheduler first and waits until every
// group has stored everything.
TEST(up, ctrl_c_right_after_records_are_produced_stores_every_one_before_it_exits) {
  auto dir = temp_dir();
  ::chmod(dir.c_str(), 0755);
  const std::string dsn = fresh_database(pg_fixture_dsn());
  child up({binary_dir() + "/cointicker", "--config", std::string(CTK_SOURCE_DIR) + "/config", "up", "--listen",
            "127.0.0.1:" + std::to_string(free_port()), "--db", dsn},
           dir + "/up.out", dir + "/up.err", free_control_ports(), dir);
  ASSERT_TRUE(wait_until([&] { return up.out().find("Ctrl-C stops everything") != std::string::npos || !up.running(); },
                         std::chrono::seconds(30)))
      << up.err();
  const std::string banner = up.out();
  const auto at = banner.find("broker     ") + 11;
  const std::string bootstrap = banner.substr(at, banner.find(' ', at) - at);
  constexpr int n = 20000;
  kcat_produce(bootstrap, "ctk.raw", tickers(n), dir);
  up.signal(SIGINT);
  EXPECT_EQ(up.wait(std::chrono::seconds(120)), 0) << up.err();
  EXPECT_NE(up.err().find("every record is stored"), std::string::npos) << up.err();
  EXPECT_EQ(psql_long(dsn, "SELECT count(*) FROM market_trends"), n) << up.err();
  EXPECT_EQ(psql_long(dsn, "SELECT count(DISTINCT \"timestamp\") FROM market_trends"), n);
  EXPECT_EQ(up.err().find("DATA LOSS"), std::string::npos) << "the test stays within the embedded broker's limits";
  std::string lines, tmp;
  run("cat " + dir + "/var/hdfs/raw/upbit/20240905/* | wc -l", &lines);
  EXPECT_EQ(lines, std::to_string(n) + "\n");
  run("find " + dir + "/var/hdfs -path '*_tmp*' -type f", &tmp);
  EXPECT_EQ(tmp, "") << "no half-written file is left";
}
