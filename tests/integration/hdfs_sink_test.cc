// hdfs-sink as a real process on the embedded broker: the layout, rotation
// by count and by a timer (an idle topic still gets its files committed),
// resuming from the final names, and the same against the WebHDFS TEST
// DOUBLE (tests/support/webhdfs_double.cc; not Hadoop).
#include <avro.h>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <set>

#include "tests/integration/hdfs_files.h"
#include "tests/integration/helpers.h"
#include "tests/integration/records.h"

using namespace ctk::test;

namespace {

std::unique_ptr<child> start_hdfs_sink(const broker& b, const std::string& dir, const std::string& url,
                                       std::map<std::string, std::string> env = {}, int instance = 0) {
  env["CTK_HDFS__URL"] = url;
  const std::string tag = "hdfs-sink" + std::to_string(instance) + "-" + std::to_string(::getpid());
  return std::make_unique<child>(
      std::vector<std::string>{binary_dir() + "/cointicker", "--config", std::string(CTK_SOURCE_DIR) + "/config",
                               "--bootstrap", b.bootstrap(), "run", "hdfs-sink", "--node", "test", "--instance",
                               std::to_string(instance)},
      dir + "/" + tag + ".out", dir + "/" + tag + ".err", env);
}

std::vector<std::string> mixed_records(long from, long n) {
  std::vector<std::string> lines;
  for (long i = from; i < from + n; ++i)
    lines.push_back(keyed(i, i % 3 == 0
                                 ? unique_news(i, "title " + std::to_string(i), i % 2 ? "2026-11-27" : "2026-11-28")
                                 : unique_market(i, 0, i % 2 ? "2026-11-27" : "2026-11-28")));
  return lines;
}

}  // namespace

TEST(hdfs_sink, files_land_by_source_and_day_and_an_idle_topic_is_committed_by_the_timer) {
  broker b;
  const std::string dir = temp_dir(), root = temp_dir();
  const long n = 3000;
  kcat_produce(b.bootstrap(), "ctk.unique", mixed_records(0, n), dir);
  // Rotation at 100 records per file, or 1 s: the last files of each
  // partition are only committed by the timer, while nothing new arrives.
  auto sink = start_hdfs_sink(b, dir, "file://" + root,
                              {{"CTK_HDFS__ROTATE_RECORDS", "100"}, {"CTK_HDFS__ROTATE_AFTER", "1s"}});
  // Every line final, and every commit finished: a commit log (_wal) is
  // deleted just after the renames that make the lines visible.
  ASSERT_TRUE(wait_until(
      [&] {
        const auto now = read_hdfs(root);
        return now.lines == n && now.tmp_files == 0;
      },
      std::chrono::seconds(60)))
      << sink->err();
  auto c = read_hdfs(root);
  EXPECT_EQ(c.ids.size(), static_cast<std::size_t>(n));
  for (const auto& [id, times] : c.ids) ASSERT_EQ(times, 1) << id;
  EXPECT_TRUE(c.bad_names.empty());
  std::sort(c.folders.begin(), c.folders.end());
  EXPECT_EQ(c.folders, (std::vector<std::string>{"raw/coinness/20261127", "raw/coinness/20261128", "raw/upbit/20261127",
                                                 "raw/upbit/20261128"}));
  EXPECT_EQ(c.tmp_files, 0) << "all committed while the process still runs";
  // Kafka's committed offset follows the files (a hint, never ahead).
  ASSERT_TRUE(wait_until([&] { return committed_sum(b.bootstrap(), "ctk.hdfs-sink", "ctk.unique", 16) == n; },
                         std::chrono::seconds(20)));

  // Restart: resumes after the final names; new records only are written.
  sink->signal(SIGTERM);
  ASSERT_EQ(sink->wait(std::chrono::seconds(30)), 0) << sink->err();
  kcat_produce(b.bootstrap(), "ctk.unique", mixed_records(n, 500), dir);
  auto again = start_hdfs_sink(b, dir, "file://" + root, {{"CTK_HDFS__ROTATE_AFTER", "1s"}});
  ASSERT_TRUE(wait_until([&] { return read_hdfs(root).lines == n + 500; }, std::chrono::seconds(60))) << again->err();
  again->signal(SIGTERM);
  ASSERT_EQ(again->wait(std::chrono::seconds(30)), 0) << again->err();
  c = read_hdfs(root);
  EXPECT_EQ(c.lines, n + 500);
  EXPECT_EQ(c.ids.size(), static_cast<std::size_t>(n + 500));
  EXPECT_EQ(c.tmp_files, 0);
}

TEST(hdfs_sink, writes_through_webhdfs_to_the_test_double_with_a_flaky_datanode) {
  broker b;
  const std::string dir = temp_dir(), root = temp_dir();
  child dbl({binary_dir() + "/ctk_webhdfs_double", "--root", root, "--fail-datanode", "2", "--require-user"},
            dir + "/double.out", dir + "/double.err");
  ASSERT_TRUE(wait_until([&] { return dbl.out().find('\n') != std::string::npos; }, std::chrono::seconds(10)));
  const std::string address = dbl.out().substr(9, dbl.out().find('\n') - 9);
  const long n = 1000;
  kcat_produce(b.bootstrap(), "ctk.unique", mixed_records(0, n), dir);
  auto sink = start_hdfs_sink(b, dir, "webhdfs://" + address + "/data", {{"CTK_HDFS__ROTATE_AFTER", "1s"}});
  ASSERT_TRUE(wait_until([&] { return read_hdfs(root + "/data").lines == n; }, std::chrono::seconds(60)))
      << sink->err() << dbl.err();
  sink->signal(SIGTERM);
  ASSERT_EQ(sink->wait(std::chrono::seconds(30)), 0) << sink->err();
  auto c = read_hdfs(root + "/data");
  EXPECT_EQ(c.ids.size(), static_cast<std::size_t>(n));
  EXPECT_TRUE(c.bad_names.empty());
  EXPECT_EQ(c.tmp_files, 0);
  EXPECT_NE(sink->err().find("DataNode"), std::string::npos) << "the injected DataNode failures were retried";
}

TEST(hdfs_sink, a_recreated_log_keeps_the_old_files_and_writes_the_new_records) {
  const std::string dir = temp_dir(), root = temp_dir();
  {
    broker first;  // in memory: its log is gone with it
    kcat_produce(first.bootstrap(), "ctk.unique", mixed_records(0, 600), dir);
    auto sink = start_hdfs_sink(first, dir, "file://" + root, {{"CTK_HDFS__ROTATE_AFTER", "1s"}});
    ASSERT_TRUE(wait_until([&] { return read_hdfs(root).lines == 600; }, std::chrono::seconds(60))) << sink->err();
    sink->signal(SIGTERM);
    ASSERT_EQ(sink->wait(std::chrono::seconds(30)), 0) << sink->err();
  }
  // A new broker: offsets start at 0 again, below the files' names.
  broker second;
  kcat_produce(second.bootstrap(), "ctk.unique", mixed_records(1000, 300), dir);
  auto sink = start_hdfs_sink(second, dir, "file://" + root, {{"CTK_HDFS__ROTATE_AFTER", "1s"}});
  ASSERT_TRUE(wait_until([&] { return read_hdfs(root).lines == 900; }, std::chrono::seconds(60))) << sink->err();
  sink->signal(SIGTERM);
  ASSERT_EQ(sink->wait(std::chrono::seconds(30)), 0) << sink->err();
  const auto c = read_hdfs(root);
  EXPECT_EQ(c.ids.size(), 900u);
  EXPECT_EQ(c.tmp_files, 0);
  // The old files were renamed out of the way; the new ones carry the plain topic.
  std::string retired, current;
  run("find " + root + "/raw -name 'ctk.unique.before-*' | wc -l", &retired);
  run("find " + root + "/raw -name 'ctk.unique+*' | wc -l", &current);
  EXPECT_GT(std::stol(retired), 0);
  EXPECT_GT(std::stol(current), 0);
  EXPECT_NE(sink->err().find("the log was recreated"), std::string::npos);
}

namespace {
// Every committed .avro file under root, read back with libavro's own
// reader: records per id, the files' count, and any `data` that is not a
// JSON object.
struct avro_counts {
  std::map<std::string, int> ids;
  long records = 0, files = 0, tmp_files = 0, bad_data = 0;
  std::string error;
};
avro_counts read_avro_once(const std::string& root) {
  avro_counts c;
  if (!std::filesystem::exists(root)) return c;
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    const std::string path = e.path().string();
    if (!e.is_regular_file() || path.find("/_wal") != std::string::npos) continue;
    if (path.find("/_tmp/") != std::string::npos) {
      ++c.tmp_files;
      continue;
    }
    if (!path.ends_with(".avro")) continue;
    ++c.files;
    avro_file_reader_t r;
    if (avro_file_reader(path.c_str(), &r)) {
      c.error = path + ": " + avro_strerror();
      continue;
    }
    avro_schema_t schema = avro_file_reader_get_writer_schema(r);
    avro_value_iface_t* iface = avro_generic_class_from_schema(schema);
    avro_value_t v;
    avro_generic_value_new(iface, &v);
    while (avro_file_reader_read_value(r, &v) == 0) {
      ++c.records;
      avro_value_t f;
      const char* s = nullptr;
      size_t n = 0;
      avro_value_get_by_name(&v, "id", &f, nullptr);
      avro_value_get_string(&f, &s, &n);
      ++c.ids[std::string(s, n ? n - 1 : 0)];
      avro_value_get_by_name(&v, "data", &f, nullptr);
      avro_value_get_string(&f, &s, &n);
      if (n < 3 || s[0] != '{' || s[n - 2] != '}') ++c.bad_data;
    }
    avro_value_decref(&v);
    avro_value_iface_decref(iface);
    avro_file_reader_close(r);
  }
  return c;
}
avro_counts read_avro(const std::string& root) {
  return retry_walk([&] { return read_avro_once(root); });
}
}  // namespace

TEST(hdfs_sink, avro_container_files_hold_every_record_once_and_an_oversized_record_is_dead_lettered) {
  broker b;
  const std::string dir = temp_dir(), root = temp_dir();
  const long n = 2000;
  auto lines = mixed_records(0, n);
  // One record over the 4 KiB block: refused with the reason, the rest land.
  lines.push_back(keyed(n, unique_news(n, std::string(6000, 'x'), "2026-11-28")));
  kcat_produce(b.bootstrap(), "ctk.unique", lines, dir);
  const std::map<std::string, std::string> env{{"CTK_HDFS__FORMAT", "avro"},
                                               {"CTK_HDFS__AVRO_CODEC", "deflate"},
                                               {"CTK_HDFS__AVRO_BLOCK_BYTES", "4096"},
                                               {"CTK_HDFS__ROTATE_RECORDS", "300"},
                                               {"CTK_HDFS__ROTATE_AFTER", "1s"}};
  auto sink = start_hdfs_sink(b, dir, "file://" + root, env);
  ASSERT_TRUE(wait_until([&] { return read_avro(root).records == n; }, std::chrono::seconds(60))) << sink->err();
  sink->signal(SIGTERM);
  ASSERT_EQ(sink->wait(std::chrono::seconds(30)), 0) << sink->err();
  auto c = read_avro(root);
  EXPECT_EQ(c.error, "");
  EXPECT_EQ(c.ids.size(), static_cast<std::size_t>(n));
  for (const auto& [id, times] : c.ids) ASSERT_EQ(times, 1) << id;
  EXPECT_EQ(c.bad_data, 0);
  EXPECT_EQ(c.tmp_files, 0);
  EXPECT_GT(c.files, 16) << "rotation at 300 records made several files per partition";
  const auto dead = kcat_values(b.bootstrap(), "ctk.deadletter");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_NE(dead[0].find("larger than an Avro block"), std::string::npos) << dead[0];

  // A restart resumes after the .avro names: only the new records are added.
  kcat_produce(b.bootstrap(), "ctk.unique", mixed_records(n + 1, 300), dir);
  auto again = start_hdfs_sink(b, dir, "file://" + root, env);
  ASSERT_TRUE(wait_until([&] { return read_avro(root).records == n + 300; }, std::chrono::seconds(60))) << again->err();
  again->signal(SIGTERM);
  ASSERT_EQ(again->wait(std::chrono::seconds(30)), 0) << again->err();
  c = read_avro(root);
  EXPECT_EQ(c.ids.size(), static_cast<std::size_t>(n + 300));
  EXPECT_EQ(c.tmp_files, 0);
}

// The broker killed for good while records sit in open files, then
// SIGTERM at once: the stop commits the files, and the offsets' commit
// waits for the group coordinator that is gone until the group session
// times out (session.timeout.ms, 6 s); the process then exits with every
// file committed and no temporary file left. (The offsets stay behind:
// the records would be redone, and the final file names skip them.)
TEST(hdfs_sink, a_sink_stopped_just_after_its_broker_died_commits_its_files_and_exits) {
  broker b;
  const std::string dir = temp_dir(), root = temp_dir();
  const long n = 200;
  kcat_produce(b.bootstrap(), "ctk.unique", mixed_records(0, n), dir);
  auto sink = start_hdfs_sink(b, dir, "file://" + root, {{"CTK_HDFS__ROTATE_AFTER", "1h"}});
  const auto open_lines = [&] {
    return retry_walk([&] {
      long lines = 0;
      if (std::filesystem::exists(root + "/_tmp"))
        for (const auto& e : std::filesystem::recursive_directory_iterator(root + "/_tmp"))
          if (e.is_regular_file()) {
            std::ifstream in(e.path());
            for (std::string line; std::getline(in, line);) ++lines;
          }
      return lines;
    });
  };
  ASSERT_TRUE(wait_until([&] { return open_lines() == n; }, std::chrono::seconds(60))) << sink->err();
  const int rc = stop_after_broker_died(b, *sink, std::chrono::seconds(120));
  ASSERT_GE(rc, 0) << "hdfs-sink did not exit within 120 s of SIGTERM with its broker gone\n" << sink->err();
  const auto c = read_hdfs(root);
  EXPECT_EQ(c.lines, n) << sink->err();
  EXPECT_EQ(c.tmp_files, 0);
}
