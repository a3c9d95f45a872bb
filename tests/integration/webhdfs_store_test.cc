// The store contract of hdfs-sink, run against both backends: a local
// folder (file://) and our WebHDFS client talking to the WebHDFS TEST
// DOUBLE (tests/support/webhdfs_double.cc; not Hadoop, which cannot be
// installed here).
#include <gtest/gtest.h>

#include <csignal>

#include "actors/hdfs_sink/store.h"
#include "tests/support/process.h"

using namespace ctk::test;
using ctk::hdfs::error;

namespace {

struct webhdfs_double {
  explicit webhdfs_double(const std::string& root, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{binary_dir() + "/ctk_webhdfs_double", "--root", root};
    argv.insert(argv.end(), extra.begin(), extra.end());
    const std::string dir = temp_dir();
    proc = std::make_unique<child>(argv, dir + "/out", dir + "/err");
    wait_until([&] { return proc->out().find('\n') != std::string::npos; }, std::chrono::seconds(10));
    const std::string out = proc->out();
    address = out.substr(9, out.find('\n') - 9);
  }
  std::unique_ptr<child> proc;
  std::string address;
};

class store_contract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    root_ = temp_dir();
    std::string url = "file://" + root_;
    if (GetParam() == "webhdfs") {
      double_ = std::make_unique<webhdfs_double>(root_, std::vector<std::string>{"--require-user"});
      url = "webhdfs://" + double_->address + "/base";
      root_ += "/base";
    }
    std::string err;
    store_ = ctk::hdfs::make_store(url, {"tester", 5000, 2}, err);
    ASSERT_TRUE(store_) << err;
  }
  std::string root_;
  std::unique_ptr<webhdfs_double> double_;
  std::unique_ptr<ctk::hdfs::store> store_;
};

}  // namespace

TEST_P(store_contract, create_append_read_rename_list_status_delete) {
  error e;
  ASSERT_TRUE(store_->mkdirs("/raw/upbit/20261128", e)) << e.message;
  ASSERT_TRUE(store_->create("/raw/upbit/20261128/a.tmp", "line 1\n", false, e)) << e.message;
  ASSERT_TRUE(store_->append("/raw/upbit/20261128/a.tmp", "line 2\n", e)) << e.message;
  ASSERT_TRUE(store_->sync("/raw/upbit/20261128/a.tmp", e)) << e.message;
  EXPECT_EQ(store_->read("/raw/upbit/20261128/a.tmp", e).value_or("?"), "line 1\nline 2\n");
  EXPECT_EQ(read_file(root_ + "/raw/upbit/20261128/a.tmp"), "line 1\nline 2\n");
  auto st = store_->status("/raw/upbit/20261128/a.tmp", e);
  ASSERT_TRUE(st) << e.message;
  EXPECT_EQ(st->length, 14);
  EXPECT_FALSE(st->directory);

  // Creating over an existing file without overwrite fails, naming why.
  EXPECT_FALSE(store_->create("/raw/upbit/20261128/a.tmp", "x", false, e));
  EXPECT_NE(e.message.find("a.tmp"), std::string::npos) << e.message;
  ASSERT_TRUE(store_->create("/raw/upbit/20261128/b.tmp", "b\n", false, e)) << e.message;

  // Rename never replaces.
  ASSERT_TRUE(store_->rename("/raw/upbit/20261128/a.tmp", "/raw/upbit/20261128/a.jsonl", e)) << e.message;
  EXPECT_FALSE(store_->rename("/raw/upbit/20261128/b.tmp", "/raw/upbit/20261128/a.jsonl", e));
  EXPECT_EQ(read_file(root_ + "/raw/upbit/20261128/a.jsonl"), "line 1\nline 2\n");

  auto ls = store_->list("/raw/upbit/20261128", e);
  ASSERT_TRUE(ls) << e.message;
  std::set<std::string> names;
  for (const auto& s : *ls) names.insert(s.name);
  EXPECT_EQ(names, (std::set<std::string>{"a.jsonl", "b.tmp"}));
  auto top = store_->list("/raw", e);
  ASSERT_TRUE(top && top->size() == 1);
  EXPECT_TRUE(top->front().directory);

  // Missing paths are reported as missing.
  EXPECT_FALSE(store_->status("/raw/nope", e));
  EXPECT_TRUE(e.missing) << e.message;
  EXPECT_FALSE(store_->list("/nope", e));
  EXPECT_TRUE(e.missing) << e.message;
  EXPECT_FALSE(store_->append("/raw/nope.tmp", "x", e));
  EXPECT_TRUE(e.missing) << e.message;
  if (GetParam() == "webhdfs") {
    EXPECT_NE(e.message.find("FileNotFoundException"), std::string::npos) << e.message;
  }

  ASSERT_TRUE(store_->remove("/raw", true, e)) << e.message;
  EXPECT_FALSE(store_->status("/raw", e));
  EXPECT_TRUE(store_->remove("/raw", true, e)) << "removing what is gone succeeds";
}

INSTANTIATE_TEST_SUITE_P(backends, store_contract, ::testing::Values("file", "webhdfs"));

TEST(webhdfs, a_datanode_that_fails_once_is_retried_through_the_namenode) {
  const std::string root = temp_dir();
  webhdfs_double d(root, {"--fail-datanode", "1"});
  std::string err;
  auto s = ctk::hdfs::make_store("webhdfs://" + d.address, {"tester", 5000, 3}, err);
  ASSERT_TRUE(s) << err;
  error e;
  ASSERT_TRUE(s->mkdirs("/x", e)) << e.message;
  ASSERT_TRUE(s->create("/x/f", "data\n", true, e)) << e.message;
  EXPECT_EQ(read_file(root + "/x/f"), "data\n");
}

TEST(webhdfs, a_datanode_that_keeps_failing_gives_the_remote_exception_after_bounded_retries) {
  const std::string root = temp_dir();
  webhdfs_double d(root, {"--fail-datanode", "100"});
  std::string err;
  auto s = ctk::hdfs::make_store("webhdfs://" + d.address, {"tester", 5000, 2}, err);
  ASSERT_TRUE(s) << err;
  error e;
  ASSERT_TRUE(s->mkdirs("/x", e)) << e.message;
  EXPECT_FALSE(s->create("/x/f", "data\n", true, e));
  EXPECT_NE(e.message.find("HTTP 500 IOException: DataNode write pipeline failed"), std::string::npos) << e.message;
}

TEST(webhdfs, an_unreachable_namenode_and_a_bad_url_are_clear_errors) {
  const std::string root = temp_dir();
  webhdfs_double d(root);
  std::string err;
  auto s = ctk::hdfs::make_store("webhdfs://" + d.address, {"tester", 5000, 1}, err);
  ASSERT_TRUE(s) << err;
  error e;
  ASSERT_TRUE(s->mkdirs("/d", e)) << e.message;
  d.proc->signal(SIGKILL);  // the NameNode is gone
  ASSERT_NE(d.proc->wait(std::chrono::seconds(5)), -1);
  EXPECT_FALSE(s->mkdirs("/d2", e));
  EXPECT_NE(e.message.find("Couldn't connect"), std::string::npos) << e.message;
  EXPECT_FALSE(ctk::hdfs::make_store("webhdfs://nohostport", {}, err));
  EXPECT_NE(err.find("webhdfs://HOST:PORT"), std::string::npos) << err;
  EXPECT_FALSE(ctk::hdfs::make_store("s3://bucket", {}, err));
  EXPECT_NE(err.find("file:// or webhdfs://"), std::string::npos) << err;
}
