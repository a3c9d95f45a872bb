// `cointicker node NAME` as a cluster runs it: two node processes (a master
// and a worker from a test cluster.yaml) on this machine, one Kafka-protocol
// broker, the test's PostgreSQL, a file:// HDFS folder. A worker's actor is
// SIGKILLed mid-stream: its node restarts it, `status` reports the restart
// (through the control plane), and the data is complete and not doubled.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "tests/integration/hdfs_files.h"
#include "tests/integration/helpers.h"
#include "tests/integration/pg.h"

namespace {
using namespace ctk::test;

// "  ACTOR      pid N" in a node's banner; -1 if absent.
int banner_pid(const std::string& banner, const std::string& label) {
  const auto p = banner.find("  " + label + " ");
  if (p == std::string::npos) return -1;
  return std::stoi(banner.substr(banner.find("pid ", p) + 4));
}

std::vector<std::string> market_records(int from, int to) {
  std::vector<std::string> v;
  for (int i = from; i < to; ++i)
    v.push_back(
        "upbit/KRW-N" + std::to_string(i) + ":" +
        R"({"v":1,"source":"upbit","kind":"market","fetched_at":"2026-11-29T00:00:00Z","data":{"symbol":"KRW-N)" +
        std::to_string(i) + R"(","price":1,"volume_24h":1,"change_24h":0,"timestamp":1725543306000}})");
  return v;
}

// Lines and distinct record ids in the HDFS folder's files (committed, or
// also the open temporary ones).
std::pair<long, long> hdfs_records_once(const std::string& root, bool with_tmp) {
  long lines = 0;
  std::set<std::string> ids;
  if (!std::filesystem::exists(root)) return {0, 0};
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    const std::string path = e.path().string();
    if (!e.is_regular_file() || path.find("/_wal") != std::string::npos) continue;
    if (!with_tmp && path.find("/_tmp/") != std::string::npos) continue;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      ++lines;
      const auto p = line.find("\"id\":\"");
      if (p != std::string::npos) ids.insert(line.substr(p + 6, 32));
    }
  }
  return {lines, static_cast<long>(ids.size())};
}
// Polled while the sinks run: files move under the walk (see retry_walk).
std::pair<long, long> hdfs_records(const std::string& root, bool with_tmp) {
  return retry_walk([&] { return hdfs_records_once(root, with_tmp); });
}
}  // namespace

TEST(node, a_master_and_a_worker_run_their_actors_and_a_killed_actor_is_restarted_with_nothing_lost) {
  broker b;
  const std::string dir = temp_dir();
  const std::string dsn = fresh_database(pg_fixture_dsn());
  const std::string config = dir + "/config";
  std::filesystem::create_directories(config);
  std::filesystem::copy_file(std::string(CTK_SOURCE_DIR) + "/config/sources.yaml", config + "/sources.yaml");
  const std::string router = "tcp://127.0.0.1:" + std::to_string(free_port());
  const std::string pub = "tcp://127.0.0.1:" + std::to_string(free_port());
  {
    // No crawler is placed: the scheduler's timed commands wait on the
    // control topic, and the records are the test's own.
    std::ofstream y(config + "/cluster.yaml");
    y << "nodes:\n"
         "  - {name: master, host: 127.0.0.1, role: master, actors: {scheduler: 1, validator: 1, db-sink: 1}}\n"
         "  - {name: worker, host: 127.0.0.1, role: worker, actors: {validator: 1, dedup: 1, hdfs-sink: 1}}\n"
      << "kafka: {bootstrap: \"" << b.bootstrap() << "\"}\n"
      << "hdfs: {url: \"file://" << dir << "/hdfs\", rotate_after: 1s}\n"
      << "postgres: {dsn: \"" << dsn << "\"}\n"
      << "control: {router: \"" << router << "\", pub: \"" << pub << "\", heartbeat: 200ms}\n";
  }
  const auto node = [&](const std::string& name) {
    return std::make_unique<child>(
        std::vector<std::string>{binary_dir() + "/cointicker", "--config", config, "node", name},
        dir + "/" + name + ".out", dir + "/" + name + ".err", std::map<std::string, std::string>{}, dir);
  };
  auto master = node("master");
  auto worker = node("worker");
  for (auto* n : {master.get(), worker.get()})
    ASSERT_TRUE(wait_until([&] { return n->out().find("drains every actor") != std::string::npos || !n->running(); },
                           std::chrono::seconds(20)))
        << n->out() << n->err();
  const std::string wb = worker->out(), mb = master->out();
  for (const char* a : {"validator", "dedup", "hdfs-sink"}) EXPECT_GT(banner_pid(wb, a), 0) << wb;
  for (const char* a : {"scheduler", "validator", "db-sink"}) EXPECT_GT(banner_pid(mb, a), 0) << mb;
  EXPECT_EQ(banner_pid(wb, "db-sink"), -1) << "db-sink is placed on the master only";
  const std::string cli = binary_dir() + "/cointicker --config " + config + " ";

  // The first half; the worker's dedup is killed once records flow through it.
  kcat_produce(b.bootstrap(), "ctk.raw", market_records(0, 1000), dir);
  ASSERT_TRUE(
      wait_until([&] { return kcat_values(b.bootstrap(), "ctk.unique").size() >= 100; }, std::chrono::seconds(60)))
      << worker->err();
  const int dedup_pid = banner_pid(wb, "dedup");
  ASSERT_EQ(::kill(dedup_pid, SIGKILL), 0);
  kcat_produce(b.bootstrap(), "ctk.raw", market_records(1000, 2000), dir);
  // Duplicates of the first half: dedup (restarted) must still know them.
  kcat_produce(b.bootstrap(), "ctk.raw", market_records(0, 300), dir);
  ASSERT_TRUE(wait_until([&] { return worker->err().find("dedup restarted (pid") != std::string::npos; },
                         std::chrono::seconds(20)))
      << worker->err();
  // The restart reaches `status` through the control plane (the restarted
  // child's heartbeats carry the node's count).
  const auto dedup_status = [&] {
    std::string out;
    run(cli + "status --json --timeout-ms 1000 2>/dev/null", &out);
    const auto p = out.find("\"identity\":\"worker/dedup/0\"");
    if (p == std::string::npos) return std::string{};
    const auto end = out.find('}', p);
    return out.substr(p, end - p);
  };
  ASSERT_TRUE(wait_until(
      [&] {
        const auto s = dedup_status();
        return s.find("\"state\":\"running\"") != std::string::npos && s.find("\"restarts\":1") != std::string::npos &&
               s.find("\"pid\":" + std::to_string(dedup_pid) + ",") == std::string::npos;
      },
      std::chrono::seconds(20)))
      << dedup_status();

  // Complete, and nothing doubled: PostgreSQL (psql), `unique`, and the files.
  ASSERT_TRUE(wait_until([&] { return psql_long(dsn, "SELECT count(*) FROM market_trends") == 2000; },
                         std::chrono::seconds(90)))
      << psql(dsn, "SELECT count(*) FROM market_trends") << master->err() << worker->err();
  const auto unique = kcat_values(b.bootstrap(), "ctk.unique");
  EXPECT_EQ(unique.size(), 2000u);
  EXPECT_EQ(std::set<std::string>(unique.begin(), unique.end()).size(), 2000u);
  ASSERT_TRUE(wait_until([&] { return hdfs_records(dir + "/hdfs", true).first == 2000; }, std::chrono::seconds(60)))
      << hdfs_records(dir + "/hdfs", true).first;

  // SIGTERM drains both nodes and every child.
  std::vector<int> pids;
  for (const auto& [banner, labels] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {mb, {"scheduler", "validator", "db-sink"}}, {wb, {"validator", "hdfs-sink"}}})
    for (const auto& l : labels) pids.push_back(banner_pid(banner, l));
  master->signal(SIGTERM);
  worker->signal(SIGTERM);
  EXPECT_EQ(master->wait(std::chrono::seconds(60)), 0) << master->err();
  EXPECT_EQ(worker->wait(std::chrono::seconds(60)), 0) << worker->err();
  for (int pid : pids) EXPECT_NE(::kill(pid, 0), 0) << "actor process " << pid << " is still alive";
  std::string left;
  run("pgrep -f -- '--config " + config + " [r]un' || true", &left);
  EXPECT_TRUE(left.empty()) << "actor processes left behind: " << left;
  const auto [lines, ids] = hdfs_records(dir + "/hdfs", false);
  EXPECT_EQ(lines, 2000) << "the drain committed every open file";
  EXPECT_EQ(ids, 2000);
  EXPECT_EQ(psql_long(dsn, "SELECT count(DISTINCT record_id) FROM market_trends"), 2000);
}

TEST(node, an_unknown_node_or_a_db_sink_without_a_dsn_is_refused_before_anything_starts) {
  const std::string dir = temp_dir();
  std::filesystem::copy_file(std::string(CTK_SOURCE_DIR) + "/config/sources.yaml", dir + "/sources.yaml");
  {
    std::ofstream y(dir + "/cluster.yaml");
    y << "nodes:\n  - {name: master, host: 127.0.0.1, role: master, actors: {validator: 1, db-sink: 1}}\n"
         "postgres: {dsn: \"\"}\n";
  }
  std::string out;
  EXPECT_EQ(run(binary_dir() + "/cointicker --config " + dir + " node nosuch 2>&1", &out), 2);
  EXPECT_NE(out.find("no node named 'nosuch'"), std::string::npos) << out;
  EXPECT_NE(out.find("(nodes: master)"), std::string::npos) << out;
  EXPECT_EQ(run("env -u CTK_POSTGRES__DSN " + binary_dir() + "/cointicker --config " + dir + " node master 2>&1", &out),
            1);
  EXPECT_NE(out.find("places db-sink here, but postgres.dsn is empty"), std::string::npos) << out;
  EXPECT_EQ(out.find("pid "), std::string::npos) << "nothing was started: " << out;
}
