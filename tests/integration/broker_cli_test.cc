// The embedded broker, kcat and the debugging CLI, as real processes.
#include <gtest/gtest.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <regex>

#include "brokers/kafka.h"
#include "messages/envelope.h"
#include "tests/integration/helpers.h"
#include "tests/integration/readme.h"

using namespace ctk::test;

namespace {
std::string envelope_json(const std::string& source, int i) {
  return R"({"v":1,"source":")" + source + R"(","kind":"news","fetched_at":"2026-11-29T00:00:00.000Z","trace":"t)" +
         std::to_string(i) + R"(","data":{"title":"n)" + std::to_string(i) + R"("}})";
}
}  // namespace

TEST(embedded_broker, a_message_produced_by_kcat_is_printed_by_tail) {
  broker b;
  auto dir = temp_dir();
  kcat_produce(b.bootstrap(), "ctk.raw", {"upbit/KRW-BTC:" + envelope_json("upbit", 1)}, dir);
  std::string out;
  ASSERT_EQ(run(cointicker() + " --bootstrap " + b.bootstrap() + " tail raw", &out), 0);
  EXPECT_EQ(out, envelope_json("upbit", 1) + "\n");
}

TEST(embedded_broker, a_message_produced_by_the_project_is_read_by_kcat) {
  broker b;
  std::string err;
  auto p = ctk::kafka::producer::create({{"bootstrap.servers", b.bootstrap()}}, err);
  ASSERT_TRUE(p) << err;
  ctk::msg::envelope e;
  e.source = "coinness";
  e.kind = "news";
  e.fetched_at = ctk::msg::utc_now_iso();
  e.data.text = R"({"title":"비트코인"})";
  std::string json;
  ASSERT_TRUE(ctk::msg::encode(e, json));
  ASSERT_TRUE(p->produce("ctk.valid", -1, "coinness/1", json));
  ASSERT_TRUE(p->flush(err)) << err;
  EXPECT_EQ(p->acked(), 1u);
  auto values = kcat_values(b.bootstrap(), "ctk.valid");
  ASSERT_EQ(values.size(), 1u);
  EXPECT_EQ(values[0], json);
}

TEST(embedded_broker, kcat_reaches_it_on_a_fixed_port_and_sees_every_pipeline_topic) {
  const int port = free_port();
  auto dir = temp_dir();
  child c({binary_dir() + "/cointicker", "--config", std::string(CTK_SOURCE_DIR) + "/config", "broker", "--listen",
           "127.0.0.1:" + std::to_string(port)},
          dir + "/out", dir + "/err");
  ASSERT_TRUE(wait_until([&] { return !c.out().empty() || !c.running(); }, std::chrono::seconds(20))) << c.err();
  EXPECT_EQ(c.out(), "127.0.0.1:" + std::to_string(port) + "\n") << "first stdout line is the bootstrap address";
  std::string md;
  ASSERT_EQ(run("kcat -b 127.0.0.1:" + std::to_string(port) + " -L -J", &md), 0);
  for (const char* t :
       {"ctk.control", "ctk.raw", "ctk.valid", "ctk.deadletter", "ctk.unique", "ctk.insights", "ctk.dedup.state"})
    EXPECT_NE(md.find(std::string("\"topic\":\"") + t + "\""), std::string::npos) << t << " in " << md;
  EXPECT_NE(md.find("\"topic\":\"ctk.raw\",\"partitions\":[{\"partition\":0"), std::string::npos);
  c.signal(SIGTERM);
  EXPECT_EQ(c.wait(std::chrono::seconds(10)), 0);
}

TEST(embedded_broker, a_taken_port_is_a_clear_error) {
  const int port = free_port();
  auto dir = temp_dir();
  child first({binary_dir() + "/cointicker", "--config", std::string(CTK_SOURCE_DIR) + "/config", "broker", "--listen",
               "127.0.0.1:" + std::to_string(port)},
              dir + "/o1", dir + "/e1");
  ASSERT_TRUE(wait_until([&] { return !first.out().empty(); }, std::chrono::seconds(20)));
  std::string out;
  EXPECT_EQ(run(cointicker() + " broker --listen 127.0.0.1:" + std::to_string(port) + " 2>&1", &out), 1);
  EXPECT_NE(out.find("cannot listen on 127.0.0.1:" + std::to_string(port)), std::string::npos) << out;
}

TEST(tail, prints_the_last_n_or_everything_filtered_or_a_count) {
  broker b;
  auto dir = temp_dir();
  std::vector<std::string> lines;
  for (int i = 0; i < 30; ++i)
    lines.push_back("k" + std::to_string(i) + ":" + envelope_json(i % 3 ? "upbit" : "rss", i));
  kcat_produce(b.bootstrap(), "ctk.raw", lines, dir);
  const std::string base = cointicker() + " --bootstrap " + b.bootstrap() + " tail raw";
  std::string out;
  ASSERT_EQ(run(base + " | wc -l", &out), 0);
  EXPECT_EQ(std::stoi(out), 10) << "default: the last 10";
  ASSERT_EQ(run(base + " -n 3 | wc -l", &out), 0);
  EXPECT_EQ(std::stoi(out), 3);
  ASSERT_EQ(run(base + " --from-beginning | wc -l", &out), 0);
  EXPECT_EQ(std::stoi(out), 30);
  ASSERT_EQ(run(base + " --from-beginning --filter source=rss", &out), 0);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 10);
  EXPECT_EQ(out.find("upbit"), std::string::npos);
  ASSERT_EQ(run(base + " --count --filter source=upbit --filter kind=news", &out), 0);
  EXPECT_EQ(out, "20\n");
  ASSERT_EQ(run(base + " --from-beginning -n 1 --keys", &out), 0);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\t'), 3) << out;
}

TEST(tail, follow_prints_messages_that_arrive_later) {
  broker b;
  auto dir = temp_dir();
  child t({binary_dir() + "/cointicker", "--config", std::string(CTK_SOURCE_DIR) + "/config", "--bootstrap",
           b.bootstrap(), "tail", "raw", "--follow", "-n", "2"},
          dir + "/out", dir + "/err");
  // Produce until the follower, which starts at the end, has seen two messages.
  int i = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        if (!t.running()) return true;
        kcat_produce(b.bootstrap(), "ctk.raw", {"k:" + envelope_json("late", i++)}, dir);
        return false;
      },
      std::chrono::seconds(30)));
  EXPECT_EQ(t.wait(std::chrono::seconds(5)), 0);
  const std::string out = t.out();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << t.err();
}

TEST(tail, a_group_reads_each_message_once_across_runs) {
  broker b;
  auto dir = temp_dir();
  kcat_produce(b.bootstrap(), "ctk.unique", {"a:1", "b:2", "c:3"}, dir);
  const std::string cmd = cointicker() + " --bootstrap " + b.bootstrap() + " tail unique --group ctk.debug";
  std::string out;
  ASSERT_EQ(run(cmd + " | sort", &out), 0);
  EXPECT_EQ(out, "1\n2\n3\n");
  kcat_produce(b.bootstrap(), "ctk.unique", {"d:4"}, dir);
  ASSERT_EQ(run(cmd, &out), 0);
  EXPECT_EQ(out, "4\n");
  ASSERT_EQ(run(cointicker() + " --bootstrap " + b.bootstrap() + " topics --group ctk.debug", &out), 0);
  EXPECT_NE(out.find("ctk.debug=0"), std::string::npos) << out;
}

TEST(tail, a_missing_topic_or_unreachable_broker_fails_with_a_message) {
  broker b;
  std::string out;
  EXPECT_EQ(run(cointicker() + " --bootstrap " + b.bootstrap() + " tail no.such.topic 2>&1", &out), 1);
  EXPECT_NE(out.find("no topic named 'no.such.topic'"), std::string::npos) << out;
  EXPECT_EQ(run(cointicker() + " --bootstrap 127.0.0.1:1 tail raw 2>&1", &out), 1);
  EXPECT_NE(out.find("no Kafka broker answers at 127.0.0.1:1"), std::string::npos) << out;
}

TEST(topics, lists_partitions_end_offsets_and_counts) {
  broker b;
  auto dir = temp_dir();
  kcat_produce(b.bootstrap(), "ctk.raw", {"a:1", "b:2", "c:3", "d:4"}, dir);
  std::string out;
  ASSERT_EQ(run(cointicker() + " --bootstrap " + b.bootstrap() + " topics", &out), 0);
  EXPECT_NE(out.find("ctk.raw"), std::string::npos);
  std::istringstream in(out);
  bool seen = false;
  for (std::string line; std::getline(in, line);)
    if (line.rfind("ctk.raw ", 0) == 0) {
      std::istringstream f(line);
      std::string name;
      int parts, msgs, end;
      f >> name >> parts >> msgs >> end;
      EXPECT_EQ(parts, 16);
      EXPECT_EQ(msgs, 4);
      EXPECT_EQ(end, 4);
      seen = true;
    }
  EXPECT_TRUE(seen) << out;
}

TEST(topics, create_says_clearly_that_the_embedded_broker_has_no_create_topics) {
  broker b;
  std::string out;
  EXPECT_EQ(run(cointicker() + " --bootstrap " + b.bootstrap() + " topics --create --replication 1 2>&1", &out), 1);
  EXPECT_NE(out.find("topics --create:"), std::string::npos) << out;
  EXPECT_NE(out.find("the embedded broker has no CreateTopics"), std::string::npos) << out;
}

TEST(up, runs_the_built_actors_end_to_end_and_sigterm_leaves_no_process_behind) {
  auto dir = temp_dir();
  ::chmod(dir.c_str(), 0755);  // the private PostgreSQL runs as `postgres` when the tests run as root
  // As a user would: in a folder of its own, where `up` keeps ./var/pg and ./var/hdfs.
  // On a fixed bootstrap port, as a user runs it: every child bootstraps through the forwarder.
  const int port = free_port();
  child up({binary_dir() + "/cointicker", "--config", std::string(CTK_SOURCE_DIR) + "/config", "up", "--listen",
            "127.0.0.1:" + std::to_string(port), "--scale", "validator=2"},
           dir + "/up.out", dir + "/up.err", free_control_ports(), dir);
  ASSERT_TRUE(wait_until([&] { return up.out().find("Ctrl-C stops everything") != std::string::npos || !up.running(); },
                         std::chrono::seconds(20)))
      << up.err();
  const std::string banner = up.out();
  const auto at = banner.find("broker     ") + 11;
  const std::string bootstrap = banner.substr(at, banner.find(' ', at) - at);
  std::vector<int> pids;
  for (const char* actor : {"validator ", "dedup ", "db-sink ", "hdfs-sink "}) {
    auto p = banner.find(std::string("  ") + actor);
    ASSERT_NE(p, std::string::npos) << banner;
    pids.push_back(std::stoi(banner.substr(banner.find("pid ", p) + 4)));
  }
  // The dashboard runs in `up` itself, on the database up started.
  const auto dash = banner.find("dashboard  http://");
  ASSERT_NE(dash, std::string::npos) << banner;
  const std::string dash_url = banner.substr(dash + 11, banner.find('/', dash + 18) - dash - 11);
  std::string ready;
  ASSERT_TRUE(wait_until([&] { return run("curl -sf " + dash_url + "/api/v1/ready 2>/dev/null", &ready) == 0; },
                         std::chrono::seconds(20)))
      << banner;
  EXPECT_EQ(ready, R"({"ok":true})");
  EXPECT_EQ(banner.find(read_file(dir + "/var/api-token").substr(0, 32)), std::string::npos)
      << "the banner names the token's file, never the token";
  // --scale validator=2 runs a second validator; SIGKILLed, `up` restarts it.
  const auto v1 = banner.find("  validator/1");
  ASSERT_NE(v1, std::string::npos) << banner;
  const int v1_pid = std::stoi(banner.substr(banner.find("pid ", v1) + 4));
  ASSERT_EQ(::kill(v1_pid, SIGKILL), 0);
  ASSERT_TRUE(
      wait_until([&] { return up.err().find("validator/1 restarted") != std::string::npos; }, std::chrono::seconds(20)))
      << up.err();
  // The banner's metrics address stays the restarted child's (scrapers keep working).
  const auto m = banner.find("metrics http://", v1) + 8;
  const std::string metrics_url = banner.substr(m, banner.find('\n', m) - m);
  ASSERT_TRUE(wait_until(
      [&] {
        std::string body;
        run("curl -sf " + metrics_url + " 2>/dev/null", &body);
        return body.find("ctk_consumed_total") != std::string::npos;
      },
      std::chrono::seconds(20)))
      << metrics_url << "\n"
      << up.err();
  kcat_produce(
      bootstrap, "ctk.raw",
      {"upbit/KRW-BTC:"
       R"({"v":1,"source":"upbit","kind":"market","fetched_at":"2026-11-29T00:00:00Z","data":{"symbol":"krw-btc","price":"1","volume_24h":1,"change_24h":0,"timestamp":1725543306000}})",
       "upbit/KRW-BTC:"
       R"({"v":1,"source":"upbit","kind":"market","fetched_at":"2026-11-29T00:00:01Z","data":{"symbol":"KRW-BTC","price":1,"volume_24h":1,"change_24h":0,"timestamp":"2024-09-05T13:35:06Z"}})"},
      dir);
  ASSERT_TRUE(wait_until([&] { return kcat_values(bootstrap, "ctk.unique").size() == 1; }, std::chrono::seconds(60)))
      << up.err();
  EXPECT_EQ(kcat_values(bootstrap, "ctk.valid").size(), 2u) << "both copies were valid; dedup kept one";
  // The record lands in the private PostgreSQL (psql as the independent reader).
  const auto d = banner.find("postgres   ") + 11;
  const std::string dsn = banner.substr(d, banner.find("  (", d) - d);
  const auto stored = [&] {
    std::string out;
    run("psql -X -Atc 'SELECT symbol FROM market_trends' '" + dsn + "' 2>/dev/null", &out);
    return out;
  };
  ASSERT_TRUE(wait_until([&] { return stored() == "KRW-BTC\n"; }, std::chrono::seconds(30))) << banner << up.err();
  EXPECT_EQ(bootstrap, "127.0.0.1:" + std::to_string(port));
  // Clients that wedge their connections (half a request, then nothing;
  // nothing at all) do not keep `up` from stopping.
  socket_closer half{connect_loopback(port)}, silent{connect_loopback(port)};
  ASSERT_GE(half.fd, 0);
  ASSERT_GE(silent.fd, 0);
  ASSERT_EQ(::send(half.fd, "\0\0\0\x64\0\x12", 6, MSG_NOSIGNAL), 6);
  up.signal(SIGTERM);
  EXPECT_EQ(up.wait(std::chrono::seconds(60)), 0) << up.err();
  for (int pid : pids) EXPECT_NE(::kill(pid, 0), 0) << "actor process " << pid << " is still alive";
  // The drain committed the open file; the database was stopped with `up`.
  std::string files;
  run("find " + dir + "/var/hdfs -type f", &files);
  EXPECT_NE(files.find("/var/hdfs/raw/upbit/20240905/ctk.unique+"), std::string::npos) << files;
  EXPECT_EQ(files.find("/_tmp/"), std::string::npos) << files;
  EXPECT_NE(run("psql -X -Atc 'SELECT 1' '" + dsn + "' >/dev/null 2>&1"), 0)
      << "PostgreSQL still answers after up stopped";
}

namespace {
// psql as the independent reader: the rows of a query, one per line.
std::string psql_rows(const std::string& dsn, const std::string& sql) {
  std::string out;
  run("psql -X -At -c \"" + sql + "\" '" + dsn + "'", &out);
  return out;
}

// psql as the independent reader: "table count" lines.
std::string table_counts(const std::string& dsn) {
  std::string out;
  run("psql -X -At -F ' ' -c \"SELECT 'market_trends', count(*) FROM market_trends UNION ALL "
      "SELECT 'fear_greed_index', count(*) FROM fear_greed_index UNION ALL SELECT 'raw_news', count(*) FROM raw_news\" "
      "'" +
          dsn + "' 2>/dev/null",
      &out);
  return out;
}

// Lines in the committed HDFS files under dir/var/hdfs/raw, per source folder.
std::string hdfs_lines(const std::string& dir) {
  std::string out;
  run("cd " + dir + "/var/hdfs/raw 2>/dev/null && for s in *; do echo \"$s $(cat $s/*/* | wc -l)\"; done", &out);
  return out;
}
}  // namespace

// As a new user would, offline: `up --replay tests/fixtures/replay`, a crawl
// of every enabled source, and exactly the recorded records in PostgreSQL
// and HDFS; Ctrl-C leaves nothing running; a second `up` finds the same data.
TEST(up, replay_crawls_every_source_into_postgres_and_hdfs_and_a_second_up_finds_the_same_data) {
  auto dir = temp_dir();
  ::chmod(dir.c_str(), 0755);
  const std::vector<std::string> argv{binary_dir() + "/cointicker",
                                      "--config",
                                      std::string(CTK_SOURCE_DIR) + "/config",
                                      "up",
                                      "--listen",
                                      "127.0.0.1:0",
                                      "--replay",
                                      std::string(CTK_SOURCE_DIR) + "/tests/fixtures/replay",
                                      "--scale",
                                      "scheduler=0"};
  // --scale scheduler=0: only the test's own crawls, so the counts are exact.
  const std::string expected_db = "market_trends 8\nfear_greed_index 2\nraw_news 72\n";
  const std::string expected_files =
      "alternative_me 2\ncoindesk 3\ncoinness 35\ncointelegraph 2\ndecrypt 2\nsaveticker 30\nupbit 8\n";
  // The README's dashboard example crawls upbit once more (the replay
  // server's second answer: 8 new tickers), just before Ctrl-C; the
  // lossless stop stores them before `up` exits.
  const std::string expected_db_after = "market_trends 16\nfear_greed_index 2\nraw_news 72\n";
  const std::string expected_files_after =
      "alternative_me 2\ncoindesk 3\ncoinness 35\ncointelegraph 2\ndecrypt 2\nsaveticker 30\nupbit 16\n";
  const auto ports = free_control_ports();
  std::string dsn;
  {
    child up(argv, dir + "/up1.out", dir + "/up1.err", ports, dir);
    ASSERT_TRUE(
        wait_until([&] { return up.out().find("Ctrl-C stops everything") != std::string::npos || !up.running(); },
                   std::chrono::seconds(20)))
        << up.err();
    const std::string banner = up.out();
    EXPECT_NE(banner.find("sources    replay server http://127.0.0.1:"), std::string::npos) << banner;
    const auto at = banner.find("broker     ") + 11;
    const std::string bootstrap = banner.substr(at, banner.find(' ', at) - at);
    const auto d = banner.find("postgres   ") + 11;
    dsn = banner.substr(d, banner.find("  (", d) - d);
    std::string crawled;
    ASSERT_EQ(
        run(binary_dir() + "/cointicker --config " + std::string(CTK_SOURCE_DIR) + "/config --bootstrap " + bootstrap +
                " crawl upbit alternative_me coinness saveticker coindesk cointelegraph decrypt --wait 2>&1",
            &crawled),
        0)
        << crawled << up.err();
    ASSERT_TRUE(wait_until([&] { return table_counts(dsn) == expected_db; }, std::chrono::seconds(60)))
        << table_counts(dsn) << crawled << up.err();
    // hdfs-sink runs at its own pace: wait until it has written all 82
    // lines (committed or still in its temporary files) before Ctrl-C.
    const auto written = [&] {
      std::string out;
      run("cat " + dir + "/var/hdfs/raw/*/*/* " + dir + "/var/hdfs/_tmp/*/* 2>/dev/null | wc -l", &out);
      return out;
    };
    ASSERT_TRUE(wait_until([&] { return written() == "82\n"; }, std::chrono::seconds(60))) << written() << up.err();
    // While up runs, records are in files still open under /_tmp (committed
    // after rotate_after, 60 s): db status counts them too, so PostgreSQL =
    // HDFS already.
    std::string st;
    EXPECT_EQ(run(cointicker() + " db status --dsn '" + dsn + "' --hdfs file://" + dir + "/var/hdfs --day all", &st), 0)
        << st;
    EXPECT_EQ(st.find("DIFFERENT"), std::string::npos) << st;
    // The README's dashboard examples, as written, against this `up` (its
    // address for 127.0.0.1:8080; run in its folder, where var/api-token is).
    const auto u = banner.find("dashboard  http://") + 11;
    const std::string api = banner.substr(u, banner.find('/', u + 7) - u);
    const auto examples = readme_commands("## The dashboard");
    ASSERT_EQ(examples.size(), 3u);
    for (std::string cmd : examples) {
      for (std::size_t at = 0; (at = cmd.find("http://127.0.0.1:8080", at)) != std::string::npos; at += api.size())
        cmd.replace(at, 21, api);
      std::string out;
      ASSERT_EQ(run("cd " + dir + " && " + cmd + " --fail-with-body", &out), 0) << cmd << "\n" << out;
      if (cmd.find("/markets") != std::string::npos) {
        EXPECT_NE(out.find("\"symbol\":\"KRW-BTC\""), std::string::npos) << out;
      }
      if (cmd.find("actions/crawl") != std::string::npos) {
        EXPECT_NE(out.find("\"status\":\"ok\""), std::string::npos) << out;
      }
    }
    up.signal(SIGINT);
    EXPECT_EQ(up.wait(std::chrono::seconds(60)), 0) << up.err();
    EXPECT_EQ(hdfs_lines(dir), expected_files_after) << "the drain committed every open file";
  }
  std::string left;
  run("pgrep -f '" + dir + "/var/p[g]' || true", &left);  // [g]: the shell running pgrep does not match itself
  EXPECT_TRUE(left.empty()) << "processes left behind: " << left;
  {
    child up(argv, dir + "/up2.out", dir + "/up2.err", ports, dir);
    ASSERT_TRUE(
        wait_until([&] { return up.out().find("Ctrl-C stops everything") != std::string::npos || !up.running(); },
                   std::chrono::seconds(20)))
        << up.err();
    EXPECT_EQ(table_counts(dsn), expected_db_after) << "the private PostgreSQL kept its data";
    EXPECT_EQ(hdfs_lines(dir), expected_files_after);
    // db status: the tables as counted, no duplicates, PostgreSQL = HDFS on every day.
    const std::string db_status =
        cointicker() + " db status --dsn '" + dsn + "' --hdfs file://" + dir + "/var/hdfs --day all";
    std::string st;
    EXPECT_EQ(run(db_status + " --json", &st), 0) << st;
    EXPECT_NE(st.find(R"("hdfs_open_files":0,)"), std::string::npos) << "the drain committed every file: " << st;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    ASSERT_FALSE(parser.parse(st).get(doc)) << st;
    std::int64_t pg = 0, files = 0;
    for (auto d : doc["days"].get_array()) {
      EXPECT_EQ(int64_t(d["postgres"]), int64_t(d["hdfs"])) << st;
      pg += int64_t(d["postgres"]);
      files += int64_t(d["hdfs"]);
    }
    EXPECT_EQ(pg, 90);
    EXPECT_EQ(files, 90);
    for (auto d : doc["duplicates"].get_array()) EXPECT_EQ(int64_t(d["rows"]), 0) << st;
    EXPECT_NE(st.find(R"({"table":"market_trends","source":"upbit","rows":16,)"), std::string::npos) << st;
    // The rows as db-sink wrote them (without the serial id), for the backfill below.
    const auto rows = [&] {
      std::string all;
      for (const char* t : {"market_trends", "raw_news", "fear_greed_index"})
        all += psql_rows(dsn, std::string("SELECT (to_jsonb(t) - 'id')::text FROM ") + t + " t ORDER BY record_id");
      return all;
    };
    const std::string written = rows();
    // A row lost from PostgreSQL is a difference: exit 1, the day named.
    ASSERT_EQ(
        run("psql '" + dsn + "' -qXc \"DELETE FROM market_trends WHERE id = (SELECT min(id) FROM market_trends)\""), 0);
    EXPECT_EQ(run(db_status + " 2>&1", &st), 1) << st;
    EXPECT_TRUE(std::regex_search(st, std::regex("upbit +[0-9]{8} +[0-9]+ +[0-9]+  DIFFERENT"))) << st;
    // PostgreSQL emptied, then rebuilt from HDFS: exactly the rows db-sink had written.
    ASSERT_EQ(run("psql '" + dsn + "' -qXc 'TRUNCATE market_trends, raw_news, fear_greed_index, sink_offsets'"), 0);
    const std::string backfill = "CTK_POSTGRES__DSN='" + dsn + "' " + cointicker() +
                                 " backfill --day all --hdfs file://" + dir + "/var/hdfs 2>&1";
    ASSERT_EQ(run(backfill, &st), 0) << st;
    EXPECT_NE(st.find("backfill: 90 records from "), std::string::npos) << st;
    EXPECT_EQ(rows(), written);
    // Again: every file's progress is stored, nothing is read twice.
    ASSERT_EQ(run(backfill, &st), 0) << st;
    EXPECT_NE(st.find("backfill: 0 records from "), std::string::npos) << st;
    EXPECT_NE(st.find("(90 already stored, 0 refused"), std::string::npos) << st;
    EXPECT_EQ(rows(), written);
    up.signal(SIGTERM);
    EXPECT_EQ(up.wait(std::chrono::seconds(60)), 0) << up.err();
  }
}

namespace {
struct assignments : ctk::kafka::rebalance_listener {
  int assigned = 0;
  void on_assign(std::vector<ctk::kafka::topic_partition>& parts) override {
    assigned += static_cast<int>(parts.size());
  }
  void on_revoke(const std::vector<ctk::kafka::topic_partition>&, bool) override {}
};
}  // namespace

TEST(embedded_broker, a_held_consumer_is_handed_nothing_also_from_partitions_assigned_while_held) {
  broker b;
  auto dir = temp_dir();
  std::vector<std::string> lines;
  for (int i = 0; i < 20; ++i) lines.push_back("k" + std::to_string(i) + ":" + envelope_json("upbit", i));
  kcat_produce(b.bootstrap(), "ctk.raw", lines, dir);
  assignments seen;
  std::string err;
  auto c = ctk::kafka::consumer::create({{"bootstrap.servers", b.bootstrap()}}, "hold-test", &seen, err);
  ASSERT_TRUE(c) << err;
  c->hold(true);  // before the group assigns anything: what it assigns is held as it comes
  ASSERT_TRUE(c->subscribe({"ctk.raw"}, err)) << err;
  int got = 0;
  auto drain = [&](int ms) {
    std::vector<ctk::kafka::message_ptr> out;
    c->poll_batch(ms, 100, out);
    for (const auto& m : out)
      if (!m->err) ++got;
  };
  ASSERT_TRUE(wait_until(
      [&] {
        drain(100);
        return seen.assigned == 16;
      },
      std::chrono::seconds(30)));
  // The records sit at the start of the assigned partitions; a consumer that
  // fetched would hand them out within a few polls.
  EXPECT_FALSE(wait_until(
      [&] {
        drain(100);
        return got > 0;
      },
      std::chrono::milliseconds(1500)))
      << got << " records handed out while held";
  c->pause(c->assignment());
  c->resume(c->assignment());  // a short stop's resume does not end a hold
  EXPECT_FALSE(wait_until(
      [&] {
        drain(100);
        return got > 0;
      },
      std::chrono::milliseconds(500)));
  c->hold(false);
  EXPECT_TRUE(wait_until(
      [&] {
        drain(100);
        return got == 20;
      },
      std::chrono::seconds(30)))
      << got;
  c->close();
}

// A DSN's password reaches no banner, no log line and no child's
// environment: `up` hands it to the actors in a file only it can read.
// The secrets a run uses (a DSN's password, the CURVE secret keys, the
// dashboard's token) are in none of its outputs: banner, log, `status`,
// /metrics, the children's environments.
TEST(up, its_secrets_are_in_no_banner_log_status_metrics_or_child_environment) {
  auto dir = temp_dir();
  const std::string secret = "sekret-Pa55-word-" + std::to_string(::getpid());
  const std::string token = "tok-" + std::to_string(::getpid()) + "-0123456789abcdef";
  std::ofstream(dir + "/token") << token << "\n";
  ::chmod((dir + "/token").c_str(), 0600);
  std::string out;
  ASSERT_EQ(run(binary_dir() + "/cointicker ctl keygen " + dir + "/curve 2>&1", &out), 0) << out;
  const auto key = [&](const std::string& f) {
    std::string k = read_file(dir + "/curve/" + f);
    while (!k.empty() && (k.back() == '\n' || k.back() == '\r')) k.pop_back();
    return k;
  };
  const std::vector<std::string> secrets{secret, token, key("server.key"), key("client.key")};
  for (const auto& s : secrets) ASSERT_GE(s.size(), 16u);
  auto env = free_control_ports();
  env["CTK_CONTROL__CURVE_DIR"] = dir + "/curve";
  env["CTK_API__TOKEN_FILE"] = dir + "/token";
  child up({binary_dir() + "/cointicker", "--config", std::string(CTK_SOURCE_DIR) + "/config", "up", "--listen",
            "127.0.0.1:0", "--db", "host=127.0.0.1 port=1 dbname=nothing user=ctk password=" + secret},
           dir + "/up.out", dir + "/up.err", env, dir);
  const std::string bootstrap = wait_for_banner(up);
  ASSERT_FALSE(bootstrap.empty()) << up.err();
  // db-sink has tried its database (and failed: nothing listens on port 1).
  ASSERT_TRUE(wait_until([&] { return up.err().find("cannot connect to PostgreSQL") != std::string::npos; },
                         std::chrono::seconds(30)))
      << up.err();
  EXPECT_NE(up.out().find("host=127.0.0.1 port=1 dbname=nothing user=ctk"), std::string::npos) << up.out();
  // `status` over CURVE (the CLI with the same keys), in text and JSON.
  std::string envs;
  for (const auto& [k, v] : env) envs += k + "='" + v + "' ";
  std::string status, status_json;
  ASSERT_TRUE(wait_until(
      [&] {
        run(envs + cointicker() + " status 2>&1", &status);
        return status.find("validator") != std::string::npos;
      },
      std::chrono::seconds(30)))
      << status;
  run(envs + cointicker() + " status --json 2>&1", &status_json);
  std::smatch m;
  const std::string banner = up.out();
  std::string metrics;
  int children = 0;
  for (auto it = banner.cbegin(); std::regex_search(it, banner.cend(), m, std::regex("pid (\\d+)")); it = m[0].second) {
    ++children;
    const std::string environ = read_file("/proc/" + m[1].str() + "/environ");
    EXPECT_FALSE(environ.empty()) << m[1];
    for (const auto& s : secrets) EXPECT_EQ(environ.find(s), std::string::npos) << "in the environment of pid " << m[1];
  }
  EXPECT_GE(children, 6);
  for (auto it = banner.cbegin();
       std::regex_search(it, banner.cend(), m, std::regex("metrics (http://127\\.0\\.0\\.1:\\d+/metrics)"));
       it = m[0].second) {
    std::string body;
    run("curl -sf " + m[1].str(), &body);
    EXPECT_NE(body.find("ctk_"), std::string::npos) << m[1];
    metrics += body;
  }
  EXPECT_GE(std::count(metrics.begin(), metrics.end(), '\n'), 100) << "every child's /metrics was read";
  for (const auto& s : secrets) {
    EXPECT_EQ(up.out().find(s), std::string::npos) << "banner";
    EXPECT_EQ(up.err().find(s), std::string::npos) << "log";
    EXPECT_EQ(status.find(s), std::string::npos) << "status";
    EXPECT_EQ(status_json.find(s), std::string::npos) << "status --json";
    EXPECT_EQ(metrics.find(s), std::string::npos) << "/metrics";
  }
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/var/postgres-password").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(read_file(dir + "/var/postgres-password"), secret + "\n");
  up.signal(SIGINT);
  EXPECT_EQ(up.wait(std::chrono::seconds(90)), 0) << up.err();
  for (const auto& s : secrets) EXPECT_EQ(up.err().find(s), std::string::npos) << "log, stop included";
}
