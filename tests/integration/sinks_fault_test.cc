// The sinks' fault test: 100,000 records on `unique`; db-sink and hdfs-sink
// run as real processes and are SIGKILLed at random moments several times
// and restarted. At the end PostgreSQL holds exactly the distinct records
// and the final files hold each record exactly once, with no temporary
// files left.
#include <gtest/gtest.h>

#include <csignal>
#include <random>
#include <thread>

#include "tests/integration/hdfs_files.h"
#include "tests/integration/helpers.h"
#include "tests/integration/pg.h"
#include "tests/integration/records.h"

using namespace ctk::test;

namespace {
std::unique_ptr<child> start_sink(const broker& b, const std::string& dir, const std::string& actor, int round,
                                  const std::map<std::string, std::string>& env) {
  const std::string tag = actor + "-" + std::to_string(round);
  return std::make_unique<child>(
      std::vector<std::string>{binary_dir() + "/cointicker", "--config", std::string(CTK_SOURCE_DIR) + "/config",
                               "--bootstrap", b.bootstrap(), "run", actor, "--node", "test"},
      dir + "/" + tag + ".out", dir + "/" + tag + ".err", env);
}

long db_rows(const std::string& dsn) {
  try {
    return psql_long(dsn, "SELECT (SELECT count(*) FROM market_trends) + (SELECT count(*) FROM raw_news)");
  } catch (const std::exception&) {
    return -1;
  }
}
}  // namespace

TEST(sink_faults, both_sinks_killed_at_random_moments_store_every_record_exactly_once) {
  broker b;
  const std::string dir = temp_dir(), root = temp_dir();
  const std::string dsn = fresh_database(pg_fixture_dsn());
  const long total = 100000;
  std::vector<std::string> lines;
  lines.reserve(total);
  for (long i = 0; i < total; ++i)
    lines.push_back(keyed(i, i % 4 == 0 ? unique_news(i, "headline " + std::to_string(i)) : unique_market(i)));
  // Small transactions and files, so that kills land mid-write often.
  const std::map<std::string, std::string> env{{"CTK_POSTGRES__DSN", dsn},
                                               {"CTK_POSTGRES__BATCH_ROWS", "2000"},
                                               {"CTK_HDFS__URL", "file://" + root},
                                               {"CTK_HDFS__ROTATE_RECORDS", "700"},
                                               {"CTK_HDFS__ROTATE_AFTER", "1s"}};
  // The records arrive in five parts, one before each round, so that every
  // kill lands while both sinks have work in hand.
  const int rounds = 5;
  auto produce_part = [&](int part) {
    const long from = total * part / rounds, to = total * (part + 1) / rounds;
    kcat_produce(b.bootstrap(), "ctk.unique", std::vector<std::string>(lines.begin() + from, lines.begin() + to), dir);
  };
  produce_part(0);
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> after_ms(0, 400);
  auto db = start_sink(b, dir, "db-sink", 0, env);
  auto hdfs = start_sink(b, dir, "hdfs-sink", 0, env);
  for (int round = 1; round < rounds; ++round) {
    // Wait until both stored part of what is there, then kill at a random moment.
    const long db_before = std::max(0L, db_rows(dsn)), hdfs_before = read_hdfs(root).lines;
    ASSERT_TRUE(wait_until([&] { return db_rows(dsn) > db_before; }, std::chrono::seconds(60))) << db->err();
    ASSERT_TRUE(wait_until([&] { return read_hdfs(root).lines > hdfs_before; }, std::chrono::seconds(60)))
        << hdfs->err();
    std::this_thread::sleep_for(std::chrono::milliseconds(after_ms(rng)));  // a random moment, not a condition
    db->signal(SIGKILL);
    hdfs->signal(SIGKILL);
    std::cout << "kill " << round << ": database rows " << db_rows(dsn) << ", file lines " << read_hdfs(root).lines
              << " of " << total * round / rounds << " produced" << std::endl;
    db->wait(std::chrono::seconds(10));
    hdfs->wait(std::chrono::seconds(10));
    produce_part(round);
    db = start_sink(b, dir, "db-sink", round, env);
    hdfs = start_sink(b, dir, "hdfs-sink", round, env);
  }
  ASSERT_TRUE(wait_until([&] { return db_rows(dsn) == total; }, std::chrono::seconds(120))) << db->err();
  ASSERT_TRUE(wait_until([&] { return read_hdfs(root).lines >= total; }, std::chrono::seconds(120))) << hdfs->err();
  db->signal(SIGTERM);
  hdfs->signal(SIGTERM);
  EXPECT_EQ(db->wait(std::chrono::seconds(30)), 0) << db->err();
  EXPECT_EQ(hdfs->wait(std::chrono::seconds(30)), 0) << hdfs->err();

  EXPECT_EQ(psql_long(dsn, "SELECT count(*) FROM market_trends"), total - total / 4);
  EXPECT_EQ(psql_long(dsn, "SELECT count(*) FROM raw_news"), total / 4);
  EXPECT_EQ(psql_long(dsn, "SELECT count(*) FROM sink_rejects"), 0);
  EXPECT_EQ(psql_long(dsn, "SELECT sum(next_offset) FROM sink_offsets"), total);

  const auto c = read_hdfs(root);
  EXPECT_EQ(c.lines, total) << "lines in final files";
  EXPECT_EQ(c.ids.size(), static_cast<std::size_t>(total));
  long doubled = 0;
  for (const auto& [id, times] : c.ids) doubled += times > 1;
  EXPECT_EQ(doubled, 0);
  EXPECT_TRUE(c.bad_names.empty());
  EXPECT_EQ(c.tmp_files, 0) << "no temporary files or commit logs left";
}
