// The HDFS batch side on real files: `aggregate` (duplicates across files
// and partitions, a broken line, an empty day, Avro input, a re-run that
// leaves identical bytes, a missing day, an unreadable file, WebHDFS),
// `mapreduce map | sort | reduce` equal to it byte for byte, and
// `backfill` resuming after a SIGKILL.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "actors/hdfs_sink/avro_file.h"
#include "tests/integration/helpers.h"
#include "tests/integration/pg.h"
#include "tests/integration/records.h"

using namespace ctk::test;
namespace fs = std::filesystem;

namespace {

void write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << text;
}

std::string market(long i, const std::string& time, double price, double volume = 1) {
  char p[64], v[64];
  std::snprintf(p, sizeof p, "%g", price);
  std::snprintf(v, sizeof v, "%g", volume);
  return R"({"v":1,"id":")" + test_id(i) +
         R"(","source":"upbit","kind":"market","fetched_at":"2026-12-06T16:00:00.000Z","url":"","trace":"t","data":{"symbol":"KRW-BTC","price":)" +
         p + R"(,"volume_24h":)" + v + R"(,"change_24h":0.01,"timestamp":"2026-12-06T)" + time + R"(.000Z"}})";
}

std::string news(long i, const std::string& title) {
  return R"({"v":1,"id":")" + test_id(i) +
         R"(","source":"coinness","kind":"news","fetched_at":"2026-12-06T09:00:00.000Z","url":"","trace":"t","data":{"title":")" +
         title + R"(","url":"https://coinness.com/n/)" + std::to_string(i) +
         R"(","content":"","published_at":"2026-12-06T08:30:00.000Z","keywords":[]}})";
}

std::string fear_greed(long i, const std::string& time, int value, const std::string& label) {
  return R"({"v":1,"id":")" + test_id(i) +
         R"(","source":"alternative_me","kind":"fear_greed","fetched_at":"2026-12-06T13:00:00.000Z","url":"","trace":"t","data":{"value":)" +
         std::to_string(value) + R"(,"classification":")" + label + R"(","timestamp":"2026-12-06T)" + time +
         R"(.000Z"}})";
}

// One day of /raw under root: duplicates across two partitions' files, a broken line.
void raw_day(const std::string& root) {
  const std::string up = root + "/raw/upbit/20261206/";
  write(up + "unique+0+0+3.jsonl", market(1, "14:00:05", 100) + "\n" + market(2, "14:20:00", 120) + "\n" +
                                       "{not json\n" + market(3, "14:40:00", 90) + "\n");
  write(up + "unique+1+0+3.jsonl", market(3, "14:40:00", 90) + "\n" + market(4, "14:59:00", 110, 7) + "\n" +
                                       market(5, "15:10:00", 111) + "\n" + market(2, "14:20:00", 120) + "\n");
  write(root + "/raw/coinness/20261206/unique+0+4+5.jsonl",
        news(10, "Bitcoin surges as ETF inflows jump") + "\n" + news(11, "Ethereum falls sharply") + "\n");
  write(root + "/raw/alternative_me/20261206/unique+2+6+7.jsonl",
        fear_greed(20, "00:00:00", 40, "Fear") + "\n" + fear_greed(21, "12:00:00", 55, "Greed") + "\n");
}

std::string agg(const std::string& args, std::string* out) {
  std::string o;
  run(cointicker() + " aggregate " + args + " 2>&1", &o);
  if (out) *out = o;
  return o;
}

int agg_rc(const std::string& args, std::string& out) {
  return run(cointicker() + " aggregate " + args + " 2>&1", &out);
}

std::string cleaned(const std::string& root, const std::string& kind) {
  return read_file(root + "/cleaned/20261206/aggregated_" + kind + ".json");
}

long files_in(const std::string& dir) {
  long n = 0;
  if (fs::exists(dir))
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST(aggregate, drops_duplicates_skips_a_broken_line_and_a_rerun_leaves_identical_bytes) {
  const std::string root = temp_dir();
  raw_day(root);
  std::string out;
  ASSERT_EQ(agg_rc("--day 2026-12-06 --hdfs file://" + root, out), 0) << out;
  EXPECT_NE(out.find("11 records (2 duplicates dropped, 1 broken lines skipped)"), std::string::npos) << out;
  EXPECT_NE(out.find("broken: /raw/upbit/20261206/unique+0+0+3.jsonl:3: not an envelope"), std::string::npos) << out;
  EXPECT_EQ(
      cleaned(root, "market"),
      R"({"source":"upbit","symbol":"KRW-BTC","hour":"2026-12-06T14:00:00Z","open":100,"high":120,"low":90,"close":110,"volume_24h":7,"records":4})"
      "\n"
      R"({"source":"upbit","symbol":"KRW-BTC","hour":"2026-12-06T15:00:00Z","open":111,"high":111,"low":111,"close":111,"volume_24h":1,"records":1})"
      "\n");
  EXPECT_EQ(
      cleaned(root, "fear_greed"),
      R"({"source":"alternative_me","date":"2026-12-06","value":55,"classification":"Greed","min":40,"max":55,"records":2})"
      "\n");
  const std::string n = cleaned(root, "news");
  EXPECT_NE(n.find(R"({"source":"coinness","hour":"2026-12-06T08:00:00Z","mean_sentiment":)"), std::string::npos) << n;
  EXPECT_NE(
      n.find(R"("scored":2,"top_symbols":[{"symbol":"BTC","mentions":1},{"symbol":"ETH","mentions":1}],"records":2})"),
      std::string::npos)
      << n;
  // A re-run replaces each file with the same bytes; nothing temporary is left.
  const std::string before = cleaned(root, "market") + cleaned(root, "news") + cleaned(root, "fear_greed");
  ASSERT_EQ(agg_rc("--day 20261206 --hdfs file://" + root, out), 0) << out;
  EXPECT_EQ(cleaned(root, "market") + cleaned(root, "news") + cleaned(root, "fear_greed"), before);
  EXPECT_EQ(files_in(root + "/cleaned/20261206"), 3);
}

// Records are parsed where they lie in the file's buffer, the next line's
// bytes after them: a line cut off inside a number must stay broken, not
// borrow the digits that follow it.
TEST(aggregate, a_line_cut_off_inside_a_number_is_broken_and_the_next_line_is_whole) {
  const std::string root = temp_dir();
  const std::string whole = market(1, "14:00:05", 100), next = market(2, "14:20:00", 120);
  const std::string cut = whole.substr(0, whole.find("\"price\":") + 9);  // ..."price":1
  write(root + "/raw/upbit/20261206/unique+0+0+1.jsonl", cut + "\n" + next + "\n");
  std::string out;
  ASSERT_EQ(agg_rc("--day 2026-12-06 --hdfs file://" + root, out), 0) << out;
  EXPECT_NE(out.find("1 records (0 duplicates dropped, 1 broken lines skipped)"), std::string::npos) << out;
  EXPECT_NE(out.find("broken: /raw/upbit/20261206/unique+0+0+1.jsonl:1: "), std::string::npos) << out;
  EXPECT_EQ(
      cleaned(root, "market"),
      R"({"source":"upbit","symbol":"KRW-BTC","hour":"2026-12-06T14:00:00Z","open":120,"high":120,"low":120,"close":120,"volume_24h":1,"records":1})"
      "\n");
}

TEST(aggregate, map_sort_reduce_equals_aggregate_byte_for_byte) {
  const std::string root = temp_dir();
  raw_day(root);
  std::string out;
  ASSERT_EQ(agg_rc("--day 2026-12-06 --hdfs file://" + root, out), 0) << out;
  std::string streamed, err;
  ASSERT_EQ(run("cat " + root + "/raw/*/20261206/* | " + cointicker() + " mapreduce map 2>" + root +
                    "/map.err | LC_ALL=C sort | " + cointicker() + " mapreduce reduce",
                &streamed),
            0);
  EXPECT_NE(read_file(root + "/map.err").find("line 7: not an envelope"), std::string::npos)
      << read_file(root + "/map.err");
  std::string expected;
  for (const char* kind : {"fear_greed", "market", "news"}) {
    std::istringstream in(cleaned(root, kind));
    for (std::string line; std::getline(in, line);) expected += std::string(kind) + "\t" + line + "\n";
  }
  EXPECT_EQ(streamed, expected);
  // Keys out of order are refused, not reduced twice.
  EXPECT_EQ(run("printf 'news|b|2026-12-06T01\\t" + test_id(1) + "\\t\\t\\nmarket|a|X|2026-12-06T01\\t" + test_id(2) +
                    "\\t1\\t1\\t1\\n' | " + cointicker() + " mapreduce reduce 2>&1",
                &out),
            1);
  EXPECT_NE(out.find("keys are not sorted"), std::string::npos) << out;
}

TEST(aggregate, avro_files_aggregate_like_the_same_records_in_json_lines) {
  const std::string root = temp_dir(), avro = temp_dir();
  raw_day(root);
  ASSERT_EQ(agg(std::string("--day 2026-12-06 --hdfs file://") + root, nullptr).find("nothing written"),
            std::string::npos);
  // The same records as Avro container files (the broken line cannot be held: left out).
  std::string err;
  auto schema = ctk::hdfs::make_avro_schema(err);
  ASSERT_TRUE(schema) << err;
  for (const auto& e : fs::recursive_directory_iterator(root + "/raw")) {
    if (!e.is_regular_file()) continue;
    std::string bytes;
    auto f = ctk::hdfs::avro_file::create(schema, "deflate", 1 << 16, &bytes, err);
    ASSERT_TRUE(f) << err;
    std::ifstream in(e.path());
    for (std::string line; std::getline(in, line);)
      if (line[0] == '{' && line[1] == '"') {
        ASSERT_TRUE(f->append(line, err)) << err;
      }
    f.reset();
    std::string rel = e.path().string().substr(root.size());
    rel.replace(rel.size() - 6, 6, ".avro");
    write(avro + rel, bytes);
  }
  std::string out;
  ASSERT_EQ(agg_rc("--day 2026-12-06 --hdfs file://" + avro, out), 0) << out;
  EXPECT_NE(out.find("11 records (2 duplicates dropped, 0 broken lines skipped)"), std::string::npos) << out;
  for (const char* kind : {"fear_greed", "market", "news"}) EXPECT_EQ(cleaned(avro, kind), cleaned(root, kind)) << kind;
}

TEST(aggregate, an_empty_day_writes_empty_files_and_a_missing_day_or_a_bad_file_fails_leaving_nothing_half_written) {
  const std::string root = temp_dir();
  raw_day(root);
  write(root + "/raw/upbit/20261207/unique+0+8+8.jsonl", "");
  std::string out;
  ASSERT_EQ(agg_rc("--day 2026-12-07 --hdfs file://" + root, out), 0) << out;
  for (const char* kind : {"fear_greed", "market", "news"})
    EXPECT_EQ(read_file(root + "/cleaned/20261207/aggregated_" + std::string(kind) + ".json"), "") << kind;
  EXPECT_EQ(agg_rc("--day 2026-12-08 --hdfs file://" + root, out), 1) << out;
  EXPECT_NE(out.find("aggregate 20261208: no /raw/*/20261208 folder in file://"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(root + "/cleaned/20261208"));
  EXPECT_EQ(agg_rc("--day 2026-13-01 --hdfs file://" + root, out), 2) << out;
  EXPECT_NE(out.find("not a date: '2026-13-01'"), std::string::npos) << out;
  // A file that cannot be read as records: the day fails, the earlier output stays as it was.
  ASSERT_EQ(agg_rc("--day 2026-12-06 --hdfs file://" + root, out), 0) << out;
  const std::string before = cleaned(root, "market");
  write(root + "/raw/upbit/20261206/unique+3+0+9.avro", "not an avro container");
  EXPECT_EQ(agg_rc("--day 2026-12-06 --hdfs file://" + root, out), 1) << out;
  EXPECT_NE(out.find("/raw/upbit/20261206/unique+3+0+9.avro: not an Avro container file"), std::string::npos) << out;
  EXPECT_NE(out.find("nothing written for that day"), std::string::npos) << out;
  EXPECT_EQ(cleaned(root, "market"), before);
  EXPECT_EQ(files_in(root + "/cleaned/20261206"), 3);
}

// Through WebHDFS (the test double of a WebHDFS server): the same bytes as
// over file://; a NameNode whose DataNodes fail leaves no file behind.
TEST(aggregate, over_webhdfs_writes_the_same_bytes_and_a_failing_datanode_is_a_clear_error) {
  const std::string root = temp_dir(), local = temp_dir();
  raw_day(root);
  raw_day(local);
  std::string out;
  ASSERT_EQ(agg_rc("--day 2026-12-06 --hdfs file://" + local, out), 0) << out;
  for (int failing : {0, 1000}) {
    child nn({binary_dir() + "/ctk_webhdfs_double", "--root", root, "--fail-datanode", std::to_string(failing)},
             local + "/nn" + std::to_string(failing) + ".out", local + "/nn" + std::to_string(failing) + ".err");
    ASSERT_TRUE(wait_until([&] { return nn.out().find('\n') != std::string::npos; }, std::chrono::seconds(10)));
    const std::string at = nn.out().substr(nn.out().find("127.0.0.1:"));
    const int rc = agg_rc("--day 2026-12-06 --hdfs webhdfs://" + at.substr(0, at.find('\n')), out);
    if (failing == 0) {
      ASSERT_EQ(rc, 0) << out;
      for (const char* kind : {"fear_greed", "market", "news"}) EXPECT_EQ(cleaned(root, kind), cleaned(local, kind));
      fs::remove_all(root + "/cleaned");
    } else {
      EXPECT_EQ(rc, 1) << out;
      EXPECT_NE(out.find("500"), std::string::npos) << out;
      EXPECT_NE(out.find("nothing written for that day"), std::string::npos) << out;
      EXPECT_EQ(files_in(root + "/cleaned/20261206"), 0) << out;
    }
  }
}

// An interrupted backfill resumes where it stopped: SIGKILL once rows are
// in PostgreSQL, then the same command skips exactly the records stored
// (their progress is committed with them) and ends with every record once.
TEST(backfill, killed_mid_way_resumes_where_it_stopped_and_stores_every_record_once) {
  const std::string root = temp_dir();
  constexpr long files = 4, per_file = 50'000;
  for (long f = 0; f < files; ++f) {
    std::string body;
    for (long i = f * per_file; i < (f + 1) * per_file; ++i) body += unique_market(i, 0, "2026-12-06") + "\n";
    write(root + "/raw/upbit/20261206/unique+" + std::to_string(f) + "+0+" + std::to_string(per_file - 1) + ".jsonl",
          body);
  }
  const std::string dsn = fresh_database(pg_fixture_dsn());
  const std::map<std::string, std::string> env{{"CTK_POSTGRES__DSN", dsn}};
  const std::vector<std::string> argv{binary_dir() + "/cointicker",
                                      "--config",
                                      std::string(CTK_SOURCE_DIR) + "/config",
                                      "backfill",
                                      "--day",
                                      "2026-12-06",
                                      "--hdfs",
                                      "file://" + root};
  const auto rows = [&] {
    try {
      return psql_long(dsn, "SELECT count(*) FROM market_trends");
    } catch (const std::exception&) {
      return 0L;  // not migrated yet
    }
  };
  {
    child first(argv, root + "/b1.out", root + "/b1.err", env);
    ASSERT_TRUE(wait_until([&] { return rows() > 0 || !first.running(); }, std::chrono::seconds(60))) << first.err();
    first.signal(SIGKILL);
    first.wait(std::chrono::seconds(10));
  }
  const long before = rows();
  std::printf("killed with %ld of %ld rows stored\n", before, files * per_file);
  std::string out;
  ASSERT_EQ(run("CTK_POSTGRES__DSN='" + dsn + "' " + cointicker() + " backfill --day 2026-12-06 --hdfs file://" + root +
                    " 2>&1",
                &out),
            0)
      << out;
  EXPECT_NE(out.find(std::to_string(files * per_file - before) + " records from 4 files"), std::string::npos)
      << before << "\n"
      << out;
  EXPECT_NE(out.find("(" + std::to_string(before) + " already stored, 0 refused"), std::string::npos) << out;
  EXPECT_EQ(psql_long(dsn, "SELECT count(*) FROM market_trends"), files * per_file);
  EXPECT_EQ(psql_long(dsn, "SELECT count(DISTINCT record_id) FROM market_trends"), files * per_file);
  // Progress lines without a terminal: plain lines with the rate and the ETA.
  EXPECT_NE(out.find("backfill: 4/4 files, "), std::string::npos) << out;
  EXPECT_NE(out.find("/s), "), std::string::npos) << out;
  // --restart reads every file again; ON CONFLICT keeps each row once.
  ASSERT_EQ(run("CTK_POSTGRES__DSN='" + dsn + "' " + cointicker() +
                    " backfill --day 2026-12-06 --restart --kinds news " + "--hdfs file://" + root + " 2>&1",
                &out),
            0)
      << out;
  EXPECT_NE(out.find("backfill: 0 records from 4 files"), std::string::npos) << out;
  EXPECT_NE(out.find("200000 of other kinds"), std::string::npos) << out;
}
