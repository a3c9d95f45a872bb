// `cointicker serve` as a real process over a real PostgreSQL with seeded
// rows, asked over loopback HTTP: every endpoint, filters, paging, search,
// bad parameters, and actions with a missing or wrong token.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <fstream>
#include <set>

#include "messages/json.h"
#include "serve/replies.h"
#include "tests/integration/helpers.h"
#include "tests/integration/pg.h"

using namespace ctk::test;
using namespace std::chrono;

namespace {

const std::string token = "0123456789abcdef0123456789abcdef";

// 3 symbols x 60 ticks, 120 news (2 sources, ko/en, 3 labels), 5 fear &
// greed readings, 30 candles, 12 insights.
void seed(const std::string& dsn, const std::string& dir) {
  std::string out;
  ASSERT_EQ(run(cointicker() + " db --dsn '" + dsn + "' migrate 2>&1", &out), 0) << out;
  std::ofstream(dir + "/seed.sql") << R"(
INSERT INTO market_trends (record_id, source, symbol, price, volume_24h, change_24h, "timestamp", collected_at)
SELECT md5('m' || s || '-' || i), 'upbit', 'KRW-' || s, 100 * (1 + i / 100.0), 1000 + i, 0.01 * (i % 5 - 2),
       timestamptz '2026-12-01 00:00:00+00' + i * interval '1 minute', now()
FROM unnest(ARRAY['BTC', 'ETH', 'XRP']) s, generate_series(0, 59) i;
INSERT INTO raw_news (record_id, source, title, url, content, published_at, keywords, collected_at)
SELECT md5('n' || i), CASE WHEN i % 2 = 0 THEN 'coinness' ELSE 'saveticker' END,
       CASE WHEN i % 3 = 0 THEN '비트코인 급등 ' || i WHEN i % 3 = 1 THEN 'Ether slides ' || i ELSE 'market flat ' || i END,
       'https://example.test/' || i, CASE WHEN i = 7 THEN 'a rare word: zeppelin' ELSE '' END,
       timestamptz '2026-12-01 00:00:00+00' + i * interval '10 minute',
       CASE WHEN i % 3 = 0 THEN '["BTC"]' ELSE '[]' END::jsonb, now()
FROM generate_series(0, 119) i;
INSERT INTO sentiment_analysis (record_id, news_id, source, sentiment_score, sentiment_label, confidence, language,
                                symbols, "timestamp")
SELECT md5('s' || i), md5('n' || i), 'coinness', CASE i % 3 WHEN 0 THEN 0.6 WHEN 1 THEN -0.5 ELSE 0 END,
       CASE i % 3 WHEN 0 THEN 'positive' WHEN 1 THEN 'negative' ELSE 'neutral' END, 0.8,
       CASE i % 3 WHEN 0 THEN 'ko' ELSE 'en' END,
       CASE i % 3 WHEN 0 THEN '["BTC"]' WHEN 1 THEN '["ETH"]' ELSE '[]' END::jsonb, now() - i * interval '1 hour'
FROM generate_series(0, 119) i;
INSERT INTO fear_greed_index (record_id, source, value, classification, "timestamp", collected_at)
SELECT md5('f' || i), 'alternative_me', 10 + 20 * i, 'c' || i, timestamptz '2026-12-01 00:00:00+00' + i * interval '1 day', now()
FROM generate_series(0, 4) i;
INSERT INTO technical_indicators (record_id, symbol, "interval", "timestamp", open, high, low, close, volume, rsi,
                                  macd, macd_signal, macd_hist, bb_upper, bb_middle, bb_lower)
SELECT md5('t' || i), 'KRW-BTC', '1h', timestamptz '2026-12-01 00:00:00+00' + i * interval '1 hour', 100, 101, 99,
       100 + i, 10, CASE WHEN i >= 14 THEN 50 + i ELSE NULL END, 0.1 * i, 0.05 * i, 0.05 * i, 110, 100, 90
FROM generate_series(0, 29) i;
INSERT INTO crypto_insights (record_id, symbol, insight_type, description, description_en, value, severity, "interval",
                             related_news, "timestamp")
SELECT md5('i' || i), CASE WHEN i % 2 = 0 THEN 'KRW-BTC' ELSE 'KRW-ETH' END,
       CASE WHEN i % 2 = 0 THEN 'rsi_overbought' ELSE 'volume_spike' END, '설명 ' || i, 'text ' || i, i,
       CASE i % 3 WHEN 0 THEN 'critical' WHEN 1 THEN 'warning' ELSE 'info' END, '1h',
       jsonb_build_array(md5('n' || i)), timestamptz '2026-12-01 00:00:00+00' + i * interval '1 hour'
FROM generate_series(0, 11) i;
)";
  ASSERT_EQ(run("psql '" + dsn + "' -qX -v ON_ERROR_STOP=1 -f " + dir + "/seed.sql 2>&1", &out), 0) << out;
}

struct server {
  std::string dir = temp_dir();
  std::string dsn = fresh_database(pg_fixture_dsn());
  std::unique_ptr<child> proc;
  int port = 0;

  server() {
    seed(dsn, dir);
    {
      const mode_t old = ::umask(077);
      std::ofstream(dir + "/token") << token << "\n";
      ::umask(old);
    }
    proc = std::make_unique<child>(
        std::vector<std::string>{binary_dir() + "/cointicker", "--config", std::string(CTK_SOURCE_DIR) + "/config",
                                 "serve", "--listen", "127.0.0.1:0", "--dsn", dsn},
        dir + "/out", dir + "/err",
        std::map<std::string, std::string>{{"CTK_API__TOKEN_FILE", dir + "/token"},
                                           {"CTK_API__PAGE_MAX", "100"},
                                           {"CTK_CONTROL__ROUTER", "tcp://127.0.0.1:1"}});
    if (!wait_until([&] { return proc->out().find('\n') != std::string::npos || !proc->running(); }, seconds(20)))
      return;
    const std::string url = proc->out();
    const auto colon = url.rfind(':');
    if (colon != std::string::npos) port = std::atoi(url.c_str() + colon + 1);
  }
  ~server() {
    if (proc && proc->running()) {
      proc->signal(SIGTERM);
      proc->wait(seconds(20));
    }
  }
  httplib::Result get(const std::string& path) {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(30);
    return c.Get(path);
  }
  httplib::Result post(const std::string& path, const std::string& body, const std::string& bearer) {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(30);
    httplib::Headers h;
    if (!bearer.empty()) h.emplace("Authorization", "Bearer " + bearer);
    return c.Post(path, h, body, "application/json");
  }
};

template <class T>
T decode(const httplib::Result& r) {
  T v;
  ctk::msg::json_decoder d;
  ctk::msg::decode_error err;
  EXPECT_TRUE(r) << "no answer";
  if (!r) return v;
  EXPECT_TRUE(d.decode(r->body, v, err)) << err.to_string() << ": " << r->body.substr(0, 400);
  return v;
}

// One shared server: every test reads the same seeded database.
server& srv() {
  static server s;
  return s;
}

void expect_refused(const std::string& path, const std::string& parameter) {
  auto r = srv().get(path);
  ASSERT_TRUE(r) << path;
  EXPECT_EQ(r->status, 400) << path << ": " << r->body;
  auto e = decode<ctk::serve::error_reply>(r);
  EXPECT_EQ(e.parameter, parameter) << path << ": " << r->body;
  EXPECT_FALSE(e.error.empty());
}

}  // namespace

TEST(serve, health_readiness_and_the_openapi_document_listing_every_endpoint) {
  ASSERT_GT(srv().port, 0) << srv().proc->err();
  auto h = srv().get("/api/v1/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  auto r = srv().get("/api/v1/ready");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  auto o = srv().get("/api/v1/openapi.json");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, 200);
  ctk::msg::json_decoder d;
  ctk::msg::decode_error err;
  EXPECT_TRUE(d.validate(o->body, err)) << err.to_string();
  for (const char* p :
       {"\"/markets\"", "\"/markets/{symbol}/history\"", "\"/news\"", "\"/fear-greed\"", "\"/sentiment\"",
        "\"/insights\"", "\"/cluster\"", "\"/actions/crawl\"", "\"/actions/ctl\"", "\"/health\"", "\"/ready\""})
    EXPECT_NE(o->body.find(p), std::string::npos) << p;
  auto missing = srv().get("/api/v1/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(missing->body.find("no such endpoint"), std::string::npos);
}

TEST(serve, markets_give_the_latest_tick_per_symbol_with_a_sparkline_of_the_last_32) {
  auto m = decode<ctk::serve::markets_reply>(srv().get("/api/v1/markets"));
  ASSERT_EQ(m.items.size(), 3u);
  EXPECT_EQ(m.items[0].symbol, "KRW-BTC");
  EXPECT_DOUBLE_EQ(m.items[0].price, 159);  // i = 59
  EXPECT_EQ(m.items[0].timestamp, "2026-12-01T00:59:00.000Z");
  std::vector<double> spark;
  ctk::msg::json_decoder d;
  simdjson::dom::element e;
  ctk::msg::decode_error err;
  ASSERT_TRUE(d.parse(m.items[0].spark.text, e, err));
  for (auto v : e.get_array()) spark.push_back(v.get_double());
  ASSERT_EQ(spark.size(), 32u);
  EXPECT_DOUBLE_EQ(spark.front(), 128);  // oldest first: i = 28
  EXPECT_DOUBLE_EQ(spark.back(), 159);
}

TEST(serve, a_get_is_answered_from_the_cache_for_cache_ms_and_then_from_the_database_again) {
  // The shared server caches for 1 s (api.cache_ttl); this one for 10 minutes,
  // so the change below cannot show until the cache is bypassed.
  const std::string dsn = fresh_database(pg_fixture_dsn());
  const std::string dir = temp_dir();
  seed(dsn, dir);
  child p({binary_dir() + "/cointicker", "--config", std::string(CTK_SOURCE_DIR) + "/config", "serve", "--listen",
           "127.0.0.1:0", "--dsn", dsn},
          dir + "/out", dir + "/err", {{"CTK_API__CACHE_TTL", "10m"}});
  ASSERT_TRUE(wait_until([&] { return p.out().find('\n') != std::string::npos; }, seconds(20))) << p.err();
  httplib::Client c("127.0.0.1", std::atoi(p.out().c_str() + p.out().rfind(':') + 1));
  auto first = c.Get("/api/v1/fear-greed?limit=2");
  ASSERT_TRUE(first);
  psql(dsn, "UPDATE fear_greed_index SET value = 1");
  auto again = c.Get("/api/v1/fear-greed?limit=2");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, first->body) << "the same URL within cache_ttl";
  auto other = c.Get("/api/v1/fear-greed?limit=3");
  ASSERT_TRUE(other);
  EXPECT_NE(other->body.find("\"value\":1,"), std::string::npos) << "another URL asks the database" << other->body;
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(seconds(20)), 0);
}

TEST(serve, history_gives_candles_oldest_first_with_indicators_and_refuses_bad_parameters) {
  auto h = decode<ctk::serve::history_reply>(srv().get("/api/v1/markets/KRW-BTC/history?interval=1h"));
  ASSERT_EQ(h.candles.size(), 30u);
  EXPECT_EQ(h.candles.front().time, "2026-12-01T00:00:00.000Z");
  EXPECT_FALSE(h.candles.front().rsi.has_value()) << "null until enough candles";
  EXPECT_DOUBLE_EQ(*h.candles.back().rsi, 79);
  EXPECT_DOUBLE_EQ(*h.candles.back().close, 129);
  EXPECT_EQ(h.ticks.size(), 60u);
  auto ranged = decode<ctk::serve::history_reply>(
      srv().get("/api/v1/markets/KRW-BTC/history?interval=1h&from=2026-12-01T10:00:00Z&to=2026-12-01T12:00:00Z"));
  EXPECT_EQ(ranged.candles.size(), 2u);
  auto limited = decode<ctk::serve::history_reply>(srv().get("/api/v1/markets/KRW-BTC/history?interval=1h&limit=5"));
  ASSERT_EQ(limited.candles.size(), 5u);
  EXPECT_EQ(limited.candles.front().time, "2026-12-02T01:00:00.000Z") << "the newest 5, oldest first";
  expect_refused("/api/v1/markets/KRW-BTC/history?interval=hourly", "interval");
  expect_refused("/api/v1/markets/KRW-BTC/history?from=yesterday", "from");
  expect_refused("/api/v1/markets/KRW-BTC/history?limit=0", "limit");
  expect_refused("/api/v1/markets/KRW-BTC/history?limit=101", "limit");
  expect_refused("/api/v1/markets/%27%3B%20DROP/history", "symbol");
}

TEST(serve, news_pages_by_cursor_newest_first_without_repeats_and_filters_narrow_it) {
  std::set<std::string> seen;
  std::string cursor, last_time = "9";
  int pages = 0;
  do {
    auto p = decode<ctk::serve::news_reply>(
        srv().get("/api/v1/news?limit=25" + (cursor.empty() ? std::string() : "&cursor=" + cursor)));
    for (const auto& n : p.items) {
      EXPECT_TRUE(seen.insert(n.id).second) << "repeated " << n.id;
      EXPECT_LE(n.published_at, last_time);
      last_time = n.published_at;
    }
    cursor = p.next_cursor;
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(seen.size(), 120u);
  EXPECT_EQ(pages, 5);

  auto count = [](const std::string& q) {
    return decode<ctk::serve::news_reply>(srv().get("/api/v1/news?limit=100&" + q)).items.size();
  };
  EXPECT_EQ(count("source=coinness"), 60u);
  EXPECT_EQ(count("label=positive"), 40u);
  EXPECT_EQ(count("language=ko"), 40u);
  EXPECT_EQ(count("symbol=ETH"), 40u) << "from the sentiment's symbols";
  EXPECT_EQ(count("symbol=BTC&label=positive"), 40u) << "keywords and symbols agree here";
  EXPECT_EQ(count("q=zeppelin"), 1u) << "text search reaches the body";
  EXPECT_EQ(count("q=%EB%B9%84%ED%8A%B8%EC%BD%94%EC%9D%B8"), 40u) << "and Korean titles";
  EXPECT_EQ(count("from=2026-12-01T01:00:00Z&to=2026-12-01T02:00:00Z"), 6u);
  auto one = decode<ctk::serve::news_reply>(srv().get("/api/v1/news?limit=1&label=negative"));
  ASSERT_EQ(one.items.size(), 1u);
  EXPECT_EQ(one.items[0].label, "negative");
  EXPECT_DOUBLE_EQ(*one.items[0].score, -0.5);
  EXPECT_EQ(one.items[0].symbols.text, "[\"ETH\"]");
  expect_refused("/api/v1/news?label=happy", "label");
  expect_refused("/api/v1/news?language=fr", "language");
  expect_refused("/api/v1/news?cursor=abc", "cursor");
  expect_refused("/api/v1/news?limit=-1", "limit");
  expect_refused("/api/v1/news?source=" + std::string(80, 'x'), "source");
  expect_refused("/api/v1/news?q=" + std::string(201, 'q'), "q");
}

TEST(serve, fear_greed_sentiment_and_insights_with_their_filters) {
  auto fg = decode<ctk::serve::fear_greed_reply>(srv().get("/api/v1/fear-greed"));
  ASSERT_TRUE(fg.latest);
  EXPECT_EQ(fg.latest->value, 90);
  ASSERT_EQ(fg.history.size(), 5u);
  EXPECT_EQ(fg.history.front().value, 10) << "oldest first";

  auto s = decode<ctk::serve::sentiment_reply>(srv().get("/api/v1/sentiment?days=30&symbol=BTC"));
  ASSERT_FALSE(s.items.empty());
  std::int64_t total = 0;
  for (const auto& i : s.items) {
    EXPECT_EQ(i.symbol, "BTC");
    EXPECT_DOUBLE_EQ(i.mean, 0.6);
    total += i.count;
  }
  EXPECT_EQ(total, 40);
  expect_refused("/api/v1/sentiment?days=0", "days");

  auto all = decode<ctk::serve::insights_reply>(srv().get("/api/v1/insights"));
  ASSERT_EQ(all.items.size(), 12u);
  EXPECT_EQ(all.items.front().timestamp, "2026-12-01T11:00:00.000Z") << "newest first";
  EXPECT_EQ(all.items.front().related_news.text.size(), 36u) << all.items.front().related_news.text;
  auto critical = decode<ctk::serve::insights_reply>(srv().get("/api/v1/insights?severity=critical"));
  EXPECT_EQ(critical.items.size(), 4u);
  auto eth = decode<ctk::serve::insights_reply>(srv().get("/api/v1/insights?symbol=KRW-ETH&type=volume_spike"));
  EXPECT_EQ(eth.items.size(), 6u);
  expect_refused("/api/v1/insights?severity=urgent", "severity");
}

TEST(serve, actions_need_the_token_which_never_reaches_the_log_and_a_missing_scheduler_is_a_503) {
  const std::string body = R"({"source":"upbit","wait_ms":0})";
  auto none = srv().post("/api/v1/actions/crawl", body, "");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401) << none->body;
  auto wrong = srv().post("/api/v1/actions/crawl", body, token.substr(0, 31) + "x");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto short_token = srv().post("/api/v1/actions/ctl", R"({"cmd":"pause"})", "0123");
  ASSERT_TRUE(short_token);
  EXPECT_EQ(short_token->status, 401);
  auto bad_cmd = srv().post("/api/v1/actions/ctl", R"({"cmd":"explode"})", token);
  ASSERT_TRUE(bad_cmd);
  EXPECT_EQ(bad_cmd->status, 400);
  EXPECT_NE(bad_cmd->body.find("\"parameter\":\"cmd\""), std::string::npos) << bad_cmd->body;
  auto bad_body = srv().post("/api/v1/actions/crawl", "{not json", token);
  ASSERT_TRUE(bad_body);
  EXPECT_EQ(bad_body->status, 400);
  auto unknown = srv().post("/api/v1/actions/crawl", R"({"source":"nowhere"})", token);
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 400);
  EXPECT_NE(unknown->body.find("nowhere"), std::string::npos);
  // Authorized, but nobody answers on the control address.
  auto ctl = srv().post("/api/v1/actions/ctl", R"({"cmd":"pause","actor":"validator"})", token);
  ASSERT_TRUE(ctl);
  EXPECT_EQ(ctl->status, 503) << ctl->body;
  auto cluster = srv().get("/api/v1/cluster");
  ASSERT_TRUE(cluster);
  EXPECT_EQ(cluster->status, 503);
  EXPECT_NE(cluster->body.find("scheduler"), std::string::npos);
  const std::string log = srv().proc->err() + srv().proc->out();
  EXPECT_EQ(log.find(token), std::string::npos) << "the token was logged";
  EXPECT_NE(log.find("actions on"), std::string::npos) << log;
}

TEST(serve, a_database_that_goes_away_is_a_503_and_the_server_keeps_answering) {
  // A second server on a database that is dropped under it.
  const std::string dsn = fresh_database(pg_fixture_dsn());
  std::string out;
  ASSERT_EQ(run(cointicker() + " db --dsn '" + dsn + "' migrate 2>&1", &out), 0) << out;
  const std::string dir = temp_dir();
  child p({binary_dir() + "/cointicker", "--config", std::string(CTK_SOURCE_DIR) + "/config", "serve", "--listen",
           "127.0.0.1:0", "--dsn", dsn + " connect_timeout=2"},
          dir + "/out", dir + "/err", {{"CTK_API__CACHE_TTL", "0"}});  // every request asks the database
  ASSERT_TRUE(wait_until([&] { return p.out().find('\n') != std::string::npos; }, seconds(20))) << p.err();
  const int port = std::atoi(p.out().c_str() + p.out().rfind(':') + 1);
  httplib::Client c("127.0.0.1", port);
  auto before = c.Get("/api/v1/markets");
  ASSERT_TRUE(before);
  EXPECT_EQ(before->status, 200) << before->body;
  const std::string name = dsn.substr(dsn.rfind("dbname=") + 7);
  psql(pg_fixture_dsn(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + name + "'");
  psql(pg_fixture_dsn(), "DROP DATABASE " + name);
  auto during = c.Get("/api/v1/markets");
  ASSERT_TRUE(during);
  EXPECT_EQ(during->status, 503) << during->body;
  auto ready = c.Get("/api/v1/ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  auto health = c.Get("/api/v1/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200) << "the process is alive";
  EXPECT_TRUE(p.running());
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait(seconds(20)), 0) << p.err();
}
