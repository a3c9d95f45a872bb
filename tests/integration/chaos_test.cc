// Chaos: the whole pipeline as `up` runs it (embedded broker, PostgreSQL,
// file HDFS, two instances of every actor that handles records, supervised),
// records at a steady rate with duplicates, and SIGKILLs at random moments
// across every actor kind. Afterwards PostgreSQL rows = distinct ids = HDFS
// lines, and no temporary file is left.
//
// Sized for CI by default; tests/support/chaos.sh runs it longer, with a
// seed of your choice (CTK_CHAOS_SEED, CTK_CHAOS_RECORDS, CTK_CHAOS_KILLS,
// CTK_CHAOS_SECONDS). The seed is printed, so a failure can be replayed.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "tests/integration/helpers.h"
#include "tests/integration/pg.h"

using namespace ctk::test;

namespace {
long env_or(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::stol(v) : fallback;
}

// The pids of up's children running `kind` (from their command lines).
std::vector<pid_t> children_of(pid_t up, const std::string& kind) {
  std::string out;
  run("pgrep -a -P " + std::to_string(up), &out);
  std::vector<pid_t> pids;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);)
    if (line.find(" run " + kind + " ") != std::string::npos) pids.push_back(std::stoi(line));
  return pids;
}
}  // namespace

TEST(chaos, sigkills_across_every_actor_kind_under_load_lose_and_double_nothing) {
  const unsigned seed = static_cast<unsigned>(env_or("CTK_CHAOS_SEED", std::random_device{}()));
  const int records = static_cast<int>(env_or("CTK_CHAOS_RECORDS", 50000));
  const int kills = static_cast<int>(env_or("CTK_CHAOS_KILLS", 24));
  const int seconds = static_cast<int>(env_or("CTK_CHAOS_SECONDS", 20));
  std::cerr << "chaos: seed " << seed << ", " << records << " records (30 % duplicates), " << kills << " SIGKILLs over "
            << seconds << " s (CTK_CHAOS_SEED=" << seed << " replays it)\n";
  std::mt19937 rng(seed);
  private_pg pg;
  const std::string dsn = fresh_database(pg.dsn());
  auto dir = temp_dir();
  ::chmod(dir.c_str(), 0755);
  auto up_process = start_up(dir, {"--db", dsn, "--drain-timeout", "300", "--scale", "validator=2", "--scale",
                                   "dedup=2", "--scale", "db-sink=2", "--scale", "hdfs-sink=2", "--scale", "analyzer=2",
                                   "--scale", "scheduler=0", "--scale", "crawler=0"});
  child& up = *up_process;
  const std::string bootstrap = wait_for_banner(up);
  ASSERT_FALSE(bootstrap.empty()) << up.err();

  // 70 % distinct records, 30 % copies of earlier ones, in `seconds` equal chunks.
  const int distinct = records * 7 / 10;
  std::vector<int> order;
  for (int i = 0; i < records; ++i)
    order.push_back(i < distinct ? i : static_cast<int>(rng() % static_cast<unsigned>(distinct)));
  std::shuffle(order.begin() + 1, order.end(), rng);
  // Kills at random moments of the run, every kind in turn (shuffled), a random instance.
  const std::vector<std::string> kinds{"validator", "dedup", "db-sink", "hdfs-sink", "analyzer"};
  std::vector<std::pair<int, std::string>> plan;  // (ms from the start, kind)
  std::vector<std::string> turn;
  for (int k = 0; k < kills; ++k) {
    if (turn.empty()) {
      turn = kinds;
      std::shuffle(turn.begin(), turn.end(), rng);
    }
    plan.push_back({static_cast<int>(rng() % static_cast<unsigned>(seconds * 1000)), turn.back()});
    turn.pop_back();
  }
  std::sort(plan.begin(), plan.end());

  const auto start = std::chrono::steady_clock::now();
  std::size_t next_kill = 0;
  int killed = 0;
  std::map<std::string, int> killed_by_kind;
  const std::size_t chunk = order.size() / static_cast<std::size_t>(seconds);
  for (int s = 0; s < seconds; ++s) {
    std::vector<std::string> lines;
    const std::size_t end = s + 1 == seconds ? order.size() : (s + 1) * chunk;
    for (std::size_t i = s * chunk; i < end; ++i) lines.push_back(ticker_line(order[i]));
    kcat_produce(bootstrap, "ctk.raw", lines, dir);
    // The kills due in this second, at their moments.
    const auto second_end = start + std::chrono::seconds(s + 1);
    for (; next_kill < plan.size() && plan[next_kill].first < (s + 1) * 1000; ++next_kill) {
      std::this_thread::sleep_until(start + std::chrono::milliseconds(plan[next_kill].first));
      auto pids = children_of(up.pid(), plan[next_kill].second);
      if (pids.empty()) continue;  // both instances are restarting right now
      if (::kill(pids[rng() % pids.size()], SIGKILL) == 0) {
        ++killed;
        ++killed_by_kind[plan[next_kill].second];
      }
    }
    std::this_thread::sleep_until(second_end);  // a steady rate: one chunk a second
  }
  std::cerr << "chaos: " << killed << " SIGKILLs:";
  for (const auto& [kind, n] : killed_by_kind) std::cerr << " " << kind << " " << n;
  std::cerr << "\n";
  EXPECT_GE(killed, kills * 5 / 6) << "most of the planned kills hit a running process";
  EXPECT_EQ(killed_by_kind.size(), kinds.size()) << "every kind was killed";
  up.signal(SIGINT);
  ASSERT_EQ(up.wait(std::chrono::seconds(400)), 0) << up.err();
  EXPECT_NE(up.err().find("every record is stored"), std::string::npos) << up.err();
  EXPECT_EQ(up.err().find("DATA LOSS"), std::string::npos) << "within the embedded broker's limits";
  EXPECT_EQ(psql_long(dsn, "SELECT count(*) FROM market_trends"), distinct) << "seed " << seed;
  EXPECT_EQ(psql_long(dsn, "SELECT count(DISTINCT record_id) FROM market_trends"), distinct) << "seed " << seed;
  std::string lines, ids, tmp;
  run("cat " + dir + "/var/hdfs/raw/upbit/*/* | wc -l", &lines);
  EXPECT_EQ(lines, std::to_string(distinct) + "\n") << "seed " << seed;
  run("cat " + dir + "/var/hdfs/raw/upbit/*/* | grep -o '\"id\":\"[0-9a-f]*\"' | sort -u | wc -l", &ids);
  EXPECT_EQ(ids, std::to_string(distinct) + "\n") << "seed " << seed;
  run("find " + dir + "/var/hdfs -path '*_tmp*' -type f", &tmp);
  EXPECT_EQ(tmp, "") << "no temporary file is left";
}
