// db-sink against a real PostgreSQL (the CTest fixture's server, or a
// private one for the outage test) and the embedded broker, as a real
// process. psql is the independent reader.
#include <gtest/gtest.h>

#include <csignal>
#include <regex>

#include "actors/db_sink/tables.h"
#include "tests/integration/helpers.h"
#include "tests/integration/pg.h"
#include "tests/integration/records.h"

using namespace ctk::test;

namespace {

std::unique_ptr<child> start_db_sink(const broker& b, const std::string& dir, const std::string& dsn, int instance = 0,
                                     std::map<std::string, std::string> env = {}) {
  env["CTK_POSTGRES__DSN"] = dsn;
  const std::string tag = "db-sink" + std::to_string(instance);
  return std::make_unique<child>(
      std::vector<std::string>{binary_dir() + "/cointicker", "--config", std::string(CTK_SOURCE_DIR) + "/config",
                               "--bootstrap", b.bootstrap(), "run", "db-sink", "--node", "test", "--instance",
                               std::to_string(instance)},
      dir + "/" + tag + ".out", dir + "/" + tag + ".err", env);
}

long rows(const std::string& dsn, const std::string& table) {
  try {
    return psql_long(dsn, "SELECT count(*) FROM " + table);
  } catch (const std::exception&) {
    return -1;  // not migrated yet, or the server is down
  }
}

int metrics_port(const child& c) {
  static const std::regex re(R"(metrics on http://127\.0\.0\.1:(\d+)/metrics)");
  std::smatch m;
  const std::string err = c.err();
  return std::regex_search(err, m, re) ? std::stoi(m[1]) : 0;
}

}  // namespace

// Version 2 on a database that version 1 created and filled: the rows stay,
// under the new column names.
TEST(db_sink, migration_2_keeps_the_rows_of_a_version_1_database) {
  const std::string dsn = fresh_database(pg_fixture_dsn());
  std::string out;
  ASSERT_EQ(run(cointicker() + " db --dsn '" + dsn + "' migrate --to 1 2>&1", &out), 0) << out;
  EXPECT_EQ(out, "applied migration 1\n");
  psql(dsn,
       "INSERT INTO sentiment_analysis (record_id, news_record_id, source, score, label, \\\"timestamp\\\") "
       "VALUES (repeat('a', 32), repeat('b', 32), 'coinness', 0.5, 'positive', now())");
  psql(dsn,
       "INSERT INTO crypto_insights (record_id, kind, summary, \\\"timestamp\\\") VALUES (repeat('c', 32), 'x', 'y', "
       "now())");
  ASSERT_EQ(run(cointicker() + " db --dsn '" + dsn + "' migrate --to 2 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("applied migration 2"), std::string::npos) << out;
  EXPECT_EQ(out.find("applied migration 1"), std::string::npos) << out;
  EXPECT_EQ(psql(dsn,
                 "SELECT news_id || ' ' || sentiment_score || ' ' || sentiment_label || ' ' || confidence FROM "
                 "sentiment_analysis"),
            std::string(32, 'b') + " 0.5 positive 0");
  EXPECT_EQ(psql(dsn, "SELECT insight_type || ' ' || description || ' ' || severity FROM crypto_insights"), "x y info");
}

TEST(db_sink, migrations_apply_from_empty_and_rerun_as_a_no_op) {
  const std::string dsn = fresh_database(pg_fixture_dsn());
  std::string out;
  ASSERT_EQ(run(cointicker() + " db --dsn '" + dsn + "' status 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("schema version 0"), std::string::npos) << out;
  EXPECT_NE(out.find("pending: 1"), std::string::npos) << out;
  ASSERT_EQ(run(cointicker() + " db --dsn '" + dsn + "' migrate 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("applied migration 1"), std::string::npos) << out;
  EXPECT_NE(out.find("applied migration 2"), std::string::npos) << out;
  EXPECT_NE(out.find("applied migration 3"), std::string::npos) << out;
  ASSERT_EQ(run(cointicker() + " db --dsn '" + dsn + "' migrate 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("up to date (version 3)"), std::string::npos) << out;
  EXPECT_EQ(psql(dsn, "SELECT count(*) FROM schema_migrations"), "3");
  // The original system's column names, and what the analyzer adds.
  for (const char* c :
       {"sentiment_analysis.news_id", "sentiment_analysis.sentiment_score", "sentiment_analysis.sentiment_label",
        "sentiment_analysis.confidence", "sentiment_analysis.analyzed_at", "technical_indicators.bb_upper",
        "technical_indicators.bb_middle", "technical_indicators.bb_lower", "technical_indicators.interval",
        "technical_indicators.macd_hist", "crypto_insights.insight_type", "crypto_insights.description",
        "crypto_insights.severity", "crypto_insights.related_news"}) {
    const std::string col(c);
    const auto dot = col.find('.');
    EXPECT_EQ(psql(dsn, "SELECT count(*) FROM information_schema.columns WHERE table_name = '" + col.substr(0, dot) +
                            "' AND column_name = '" + col.substr(dot + 1) + "'"),
              "1")
        << c;
  }
  for (const char* t : {"raw_news", "market_trends", "fear_greed_index", "sentiment_analysis", "technical_indicators",
                        "crypto_insights", "sink_offsets", "sink_rejects"})
    EXPECT_EQ(psql(dsn, std::string("SELECT to_regclass('") + t + "') IS NOT NULL"), "t") << t;
  // The dashboard's queries have their indexes.
  EXPECT_EQ(psql(dsn,
                 "SELECT count(*) FROM pg_indexes WHERE indexname IN "
                 "('market_trends_symbol_time','raw_news_published_at')"),
            "2");
  // A database that cannot be reached is a clear error, not a crash.
  ASSERT_EQ(run(cointicker() + " db --dsn 'host=127.0.0.1 port=1 dbname=x connect_timeout=2' migrate 2>&1", &out), 1);
  EXPECT_NE(out.find("cannot connect to PostgreSQL"), std::string::npos) << out;
}

// db-sink's column lists (tables.cc, the one place each table's columns
// are named) against the migrated schema: every COPY and staging statement
// names only columns that exist, and the staging table can be made.
TEST(db_sink, every_column_db_sink_writes_exists_in_the_migrated_schema) {
  const std::string dsn = fresh_database(pg_fixture_dsn());
  std::string out;
  ASSERT_EQ(run(cointicker() + " db --dsn '" + dsn + "' migrate 2>&1", &out), 0) << out;
  ctk::db::batch b;
  for (const auto* t : b.tables()) {
    std::string cols;
    for (const auto& c : t->columns()) cols += (cols.empty() ? "" : ", ") + c;
    EXPECT_EQ(
        run("psql '" + dsn + "' -qXAt -v ON_ERROR_STOP=1 -c 'SELECT " + cols + " FROM " + t->name() + " LIMIT 0' 2>&1",
            &out),
        0)
        << t->name() << ": " << out;
    EXPECT_EQ(
        run("psql '" + dsn + "' -qXAt -v ON_ERROR_STOP=1 -c \"BEGIN; " + t->create_stage_sql() + "; ROLLBACK\" 2>&1",
            &out),
        0)
        << t->name() << ": " << out;
  }
}

TEST(db_sink, a_batch_with_refused_rows_lands_the_rest_and_dead_letters_each_refused_one) {
  broker b;
  const std::string dir = temp_dir();
  const std::string dsn = fresh_database(pg_fixture_dsn());
  std::vector<std::string> lines;
  lines.push_back(keyed(20002, R"({"v":1,"id":"notanid"})"));  // refused before the database: decode
  const int markets = 600, news = 300;
  for (int i = 0; i < markets; ++i)
    lines.push_back(keyed(i, unique_market(i, i == 137 ? -5.0 : 0.0)));  // CHECK price > 0
  for (int i = 0; i < news; ++i)
    lines.push_back(
        keyed(10000 + i, unique_news(10000 + i, i == 42 ? "NUL \\u0000 inside" : "title " + std::to_string(i))));
  lines.push_back(keyed(20000, unique_fear_greed(20000, 55)));
  lines.push_back(keyed(20001, unique_fear_greed(20001, 101)));  // CHECK value BETWEEN 0 AND 100
  kcat_produce(b.bootstrap(), "ctk.unique", lines, dir);

  auto sink = start_db_sink(b, dir, dsn);
  ASSERT_TRUE(wait_until([&] { return rows(dsn, "sink_rejects") == 3; }, std::chrono::seconds(60))) << sink->err();
  ASSERT_TRUE(wait_until([&] { return rows(dsn, "market_trends") == markets - 1; }, std::chrono::seconds(30)));
  EXPECT_EQ(rows(dsn, "raw_news"), news - 1);
  EXPECT_EQ(rows(dsn, "fear_greed_index"), 1);
  EXPECT_EQ(psql(dsn, "SELECT count(*) FROM market_trends WHERE record_id = '" + test_id(137) + "'"), "0");
  EXPECT_EQ(psql(dsn, "SELECT keywords::text FROM raw_news WHERE record_id = '" + test_id(10001) + "'"),
            R"(["btc", "etf"])");
  // The database's own message is kept with each refused row.
  EXPECT_EQ(psql(dsn, "SELECT count(*) FROM sink_rejects WHERE reason LIKE '%violates check constraint%'"), "2");
  EXPECT_EQ(psql(dsn, "SELECT count(*) FROM sink_rejects WHERE reason LIKE '%0x00%'"), "1");

  // The dead-letter topic: one per refused row (database_refused), one for the undecodable record.
  ASSERT_TRUE(
      wait_until([&] { return kcat_values(b.bootstrap(), "ctk.deadletter").size() == 4; }, std::chrono::seconds(30)));
  auto dls = kcat_values(b.bootstrap(), "ctk.deadletter");
  int refused = 0, decode = 0;
  for (const auto& d : dls) {
    refused += d.find(R"("rule":"database_refused")") != std::string::npos;
    decode += d.find(R"("rule":"decode")") != std::string::npos;
  }
  EXPECT_EQ(refused, 3);
  EXPECT_EQ(decode, 1);

  sink->signal(SIGTERM);
  EXPECT_EQ(sink->wait(std::chrono::seconds(30)), 0) << sink->err();
  // Offsets in PostgreSQL cover every record (written with the rows; each
  // partition's last record is a row, stored or refused).
  EXPECT_EQ(psql_long(dsn, "SELECT sum(next_offset) FROM sink_offsets WHERE topic = 'ctk.unique'"),
            static_cast<long>(lines.size()));
  // The password never reaches the log.
  EXPECT_EQ(sink->err().find("password"), std::string::npos);
}

TEST(db_sink, postgres_stopped_for_10_s_mid_stream_loses_nothing_doubles_nothing_and_recovers_by_itself) {
  broker b;
  private_pg pg;
  const std::string dir = temp_dir();
  const std::string dsn = pg.dsn();
  const int total = 20000;
  std::vector<std::string> first, second;
  for (int i = 0; i < total; ++i) (i < total / 2 ? first : second).push_back(keyed(i, unique_market(i)));
  kcat_produce(b.bootstrap(), "ctk.unique", first, dir);
  auto sink = start_db_sink(b, dir, dsn);
  ASSERT_TRUE(wait_until([&] { return rows(dsn, "market_trends") == total / 2; }, std::chrono::seconds(60)))
      << sink->err();
  const int port = metrics_port(*sink);
  ASSERT_GT(port, 0);
  EXPECT_EQ(http_status(port, "/readyz"), "200");

  pg.stop();
  const auto down_at = std::chrono::steady_clock::now();
  kcat_produce(b.bootstrap(), "ctk.unique", second, dir);
  // The sink notices (a write fails), reports itself not ready and keeps running.
  ASSERT_TRUE(wait_until([&] { return http_status(port, "/readyz") == "503"; }, std::chrono::seconds(15)))
      << sink->err();
  EXPECT_TRUE(sink->running());
  // Down for 10 s in all.
  std::this_thread::sleep_until(down_at + std::chrono::seconds(10));
  EXPECT_TRUE(sink->running());
  // The log tells the truth meanwhile: nothing "succeeded", a few lines, not one per poll.
  const std::string during = sink->err();
  EXPECT_EQ(during.find("succeeded again"), std::string::npos) << during;
  long failure_lines = 0;
  for (std::size_t at = 0; (at = during.find("failed", at)) != std::string::npos; at = during.find('\n', at))
    ++failure_lines;
  EXPECT_LE(failure_lines, 10) << during;
  pg.start();

  ASSERT_TRUE(wait_until([&] { return rows(dsn, "market_trends") == total; }, std::chrono::seconds(60))) << sink->err();
  ASSERT_TRUE(wait_until([&] { return http_status(port, "/readyz") == "200"; }, std::chrono::seconds(15)));
  EXPECT_EQ(psql_long(dsn, "SELECT count(DISTINCT record_id) FROM market_trends"), total);
  EXPECT_EQ(psql_long(dsn, "SELECT sum(next_offset) FROM sink_offsets"), total);
  EXPECT_NE(sink->err().find("PostgreSQL unavailable"), std::string::npos);
  // Each write attempt was counted, and the recovery says how many failed.
  std::smatch m;
  const std::string log = sink->err();
  ASSERT_TRUE(std::regex_search(log, m, std::regex("writing succeeded again after ([0-9]+) failed attempts"))) << log;
  EXPECT_GE(std::stoi(m[1]), 3) << log;
  sink->signal(SIGTERM);
  EXPECT_EQ(sink->wait(std::chrono::seconds(30)), 0) << sink->err();
}

// A database db-sink cannot use (here: it does not exist yet, as with a
// wrong password) is reported before any record arrives: /readyz 503 and
// the reason in the log; once it exists, db-sink migrates it and is ready.
TEST(db_sink, a_database_it_cannot_use_is_not_ready_before_any_record_and_ready_once_it_can) {
  broker b;
  const std::string dir = temp_dir();
  const std::string server = pg_fixture_dsn();
  const std::string name = "later" + std::to_string(::getpid());
  const std::string dsn = server.substr(0, server.find("dbname=")) + "dbname=" + name;
  auto sink = start_db_sink(b, dir, dsn);
  ASSERT_TRUE(wait_until([&] { return metrics_port(*sink) > 0; }, std::chrono::seconds(30))) << sink->err();
  const int port = metrics_port(*sink);
  EXPECT_TRUE(wait_until([&] { return http_status(port, "/readyz") == "503"; }, std::chrono::seconds(15)))
      << sink->err();
  EXPECT_TRUE(wait_until(
      [&] { return sink->err().find("db-sink: PostgreSQL is not ready: cannot connect") != std::string::npos; },
      std::chrono::seconds(15)))
      << sink->err();
  EXPECT_NE(sink->err().find(name), std::string::npos) << "the message names the database: " << sink->err();
  psql(server, "CREATE DATABASE " + name);
  EXPECT_TRUE(wait_until([&] { return http_status(port, "/readyz") == "200"; }, std::chrono::seconds(20)))
      << sink->err();
  EXPECT_NE(sink->err().find("db-sink: PostgreSQL is ready again"), std::string::npos) << sink->err();
  EXPECT_GT(psql_long(dsn, "SELECT count(*) FROM schema_migrations"), 0) << "migrated before any record";
  sink->signal(SIGTERM);
  EXPECT_EQ(sink->wait(std::chrono::seconds(30)), 0) << sink->err();
}

TEST(db_sink, records_whose_ids_are_stored_already_are_not_stored_again) {
  broker b;
  const std::string dir = temp_dir();
  const std::string dsn = fresh_database(pg_fixture_dsn());
  std::vector<std::string> first, second;
  for (int i = 0; i < 3000; ++i) first.push_back(keyed(i, unique_market(i)));
  // Redelivered ids (a producer retry upstream, a replayed topic) mixed with new ones.
  for (int i = 2000; i < 4000; ++i) second.push_back(keyed(i, unique_market(i)));
  kcat_produce(b.bootstrap(), "ctk.unique", first, dir);
  auto sink = start_db_sink(b, dir, dsn);
  ASSERT_TRUE(wait_until([&] { return rows(dsn, "market_trends") == 3000; }, std::chrono::seconds(60))) << sink->err();
  kcat_produce(b.bootstrap(), "ctk.unique", second, dir);
  ASSERT_TRUE(wait_until([&] { return psql_long(dsn, "SELECT sum(next_offset) FROM sink_offsets") == 5000; },
                         std::chrono::seconds(60)))
      << sink->err();
  EXPECT_EQ(rows(dsn, "market_trends"), 4000);
  EXPECT_EQ(psql_long(dsn, "SELECT count(DISTINCT record_id) FROM market_trends"), 4000);
  // The batch met stored ids and went through staging + ON CONFLICT DO NOTHING.
  std::string m;
  run("curl -s http://127.0.0.1:" + std::to_string(metrics_port(*sink)) + "/metrics", &m);
  EXPECT_EQ(m.find("ctk_sink_upserted_tables_total{node=\"test\",actor=\"db-sink\",identity=\"test/db-sink/0\"} 0\n"),
            std::string::npos)
      << m;
  sink->signal(SIGTERM);
  EXPECT_EQ(sink->wait(std::chrono::seconds(30)), 0) << sink->err();
}

// Rows reach COPY as text db-sink escapes itself: every character that
// COPY's text format gives a meaning (tab, newline, backslash, "\N") and
// every UTF-8 byte must land as it was sent.
TEST(db_sink, text_with_copy_syntax_and_utf8_lands_byte_for_byte) {
  broker b;
  const std::string dir = temp_dir();
  const std::string dsn = fresh_database(pg_fixture_dsn());
  // title as JSON text → the bytes it must become
  const std::vector<std::pair<std::string, std::string>> titles = {
      {"tab\\there", "tab\there"},
      {"line\\nbreak\\r\\nend", "line\nbreak\r\nend"},
      {"back\\\\slash \\\\N and \\\\t", "back\\slash \\N and \\t"},
      {"\\\\N", "\\N"},
      {"한국어 뉴스 🚀 ₩ é", "한국어 뉴스 🚀 ₩ é"},
      {"\\b\\f\\u000b\\u0001", "\b\f\v\x01"},
      {"", ""}};
  std::vector<std::string> lines;
  for (std::size_t i = 0; i < titles.size(); ++i)
    lines.push_back(keyed(static_cast<long>(i), unique_news(static_cast<long>(i), titles[i].first)));
  kcat_produce(b.bootstrap(), "ctk.unique", lines, dir);

  auto sink = start_db_sink(b, dir, dsn);
  ASSERT_TRUE(
      wait_until([&] { return rows(dsn, "raw_news") == static_cast<long>(titles.size()); }, std::chrono::seconds(60)))
      << sink->err();
  const auto hex = [](const std::string& s) {
    std::string out;
    char b[3];
    for (unsigned char c : s) std::snprintf(b, sizeof b, "%02x", c), out += b;
    return out;
  };
  for (std::size_t i = 0; i < titles.size(); ++i)
    EXPECT_EQ(psql(dsn, "SELECT encode(convert_to(title, 'UTF8'), 'hex') FROM raw_news WHERE record_id = '" +
                            test_id(static_cast<long>(i)) + "'"),
              hex(titles[i].second))
        << titles[i].first;
  EXPECT_EQ(rows(dsn, "sink_rejects"), 0);
  sink->signal(SIGTERM);
  EXPECT_EQ(sink->wait(std::chrono::seconds(30)), 0) << sink->err();
}

// A revoked partition's rows leave the buffered batch; the others keep their
// lines, their order and their records' keys and values (for dead letters).
TEST(db_sink, a_revoked_partitions_rows_leave_the_batch_and_the_rest_keep_their_lines) {
  ctk::db::batch b;
  for (int i = 0; i < 6; ++i) {
    ctk::msg::envelope e;
    e.id = test_id(i);
    e.source = "upbit";
    e.fetched_at = "2026-11-28T10:00:00.000Z";
    ctk::msg::market_data d;
    d.symbol = "KRW-C" + std::to_string(i);
    d.price = i + 0.5;
    const std::string key = "k" + std::to_string(i), value = "value\t" + std::to_string(i);
    b.market.add(e, d, b.origins.size());
    b.add_origin("ctk.unique", i % 2, i, key, value);
  }
  b.drop({{"ctk.unique", 0}});
  ASSERT_EQ(b.origins.size(), 3u);
  ASSERT_EQ(b.market.size(), 3u);
  for (std::size_t r = 0; r < 3; ++r) {
    const int i = static_cast<int>(2 * r + 1);
    EXPECT_EQ(b.market.refs[r], r);
    EXPECT_EQ(b.origins[r].offset, i);
    EXPECT_EQ(b.key(b.origins[r]), "k" + std::to_string(i));
    EXPECT_EQ(b.value(b.origins[r]), "value\t" + std::to_string(i));
    const std::string_view line = b.market.line(r);
    EXPECT_EQ(line.substr(0, 33), test_id(i) + "\t") << line;
    EXPECT_NE(line.find("\tKRW-C" + std::to_string(i) + "\t" + std::to_string(i) + ".5\t"), std::string_view::npos)
        << line;
    EXPECT_EQ(line.back(), '\n');
  }
  b.clear();
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.market.size(), 0u);
}
