// The fetcher against the replay server over real loopback HTTP
// (tests/fixtures/faults/routes.yaml). Time is only ever checked as a lower
// bound the fetcher itself must wait (rate limits, Retry-After), never as
// "fast enough", so a slow machine cannot fail these.
#include "actors/crawler/fetcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>

#include "actors/crawler/crawler.h"
#include "actors/crawler/replay_server.h"
#include "tests/support/process.h"

using namespace ctk;
using namespace ctk::crawler;
using namespace std::chrono;

namespace {

std::unique_ptr<replay_server> serve(const std::string& dir) {
  std::string err;
  auto s = replay_server::load(dir, err);
  EXPECT_TRUE(s) << err;
  EXPECT_TRUE(s->start("127.0.0.1", 0, err)) << err;
  return s;
}

std::unique_ptr<replay_server> serve_faults() { return serve(std::string(CTK_SOURCE_DIR) + "/tests/fixtures/faults"); }

fetch_options fast(const replay_server& s) {
  fetch_options o;
  o.replay = s.url();
  o.backoff_initial = "20ms";
  o.backoff_max = "100ms";
  return o;
}

request get(const std::string& path, int retries = 3, double rate = 1000) {
  request r;
  r.url = "https://faults.test" + path;
  r.retries = retries;
  r.rate_per_s = rate;
  r.timeout_ms = 5000;
  return r;
}

response fetch_one(fetcher& f, request r) {
  response out;
  f.submit(std::move(r), [&](response&& res) { out = std::move(res); });
  f.run();
  return out;
}

std::vector<replay_hit> hits_of(const replay_server& s, const std::string& path) {
  std::vector<replay_hit> v;
  for (auto& h : s.hits())
    if (h.path == path) v.push_back(h);
  return v;
}

}  // namespace

TEST(fetcher, the_replay_rewrite_keeps_host_path_and_query) {
  fetch_options o;
  o.replay = "http://127.0.0.1:9/";
  fetcher f(o);
  EXPECT_EQ(f.target_url("https://API.Upbit.com/v1/ticker/all?quote_currencies=KRW"),
            "http://127.0.0.1:9/api.upbit.com/v1/ticker/all?quote_currencies=KRW");
  EXPECT_EQ(f.target_url("https://decrypt.co"), "http://127.0.0.1:9/decrypt.co/");
}

TEST(fetcher, header_helpers_read_retry_after_and_remaining_req) {
  EXPECT_EQ(parse_retry_after("1", 0), 1);
  EXPECT_EQ(parse_retry_after(" 120 ", 0), 120);
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470), 10);
  EXPECT_EQ(parse_retry_after("soon", 0), -1);
  EXPECT_EQ(remaining_req_sec("group=default; min=1800; sec=29"), 29);
  EXPECT_EQ(remaining_req_sec("group=ticker; sec=0"), 0);
  EXPECT_EQ(remaining_req_sec("group=ticker"), -1);
  EXPECT_EQ(url_host("https://API.upbit.com:443/x"), "api.upbit.com");
  EXPECT_EQ(url_host("not a url"), "");
}

TEST(fetcher, the_rate_limit_spaces_requests_to_one_host) {
  auto s = serve_faults();
  fetcher f(fast(*s));
  const double rate = 5;  // 200 ms apart
  int done = 0;
  for (int i = 0; i < 6; ++i) f.submit(get("/ok", 0, rate), [&](response&& r) { done += r.ok(); });
  f.run();
  EXPECT_EQ(done, 6);
  auto hits = hits_of(*s, "/ok");
  ASSERT_EQ(hits.size(), 6u);
  // Arrival times at the server carry each request's own latency (the first
  // one also the connect), so single gaps may look shorter than 200 ms by
  // that latency; without the limiter they would be about 0.
  for (std::size_t i = 1; i < hits.size(); ++i) {
    const auto gap = duration_cast<milliseconds>(hits[i].at - hits[i - 1].at).count();
    EXPECT_GE(gap, 150) << "request " << i << " came " << gap << " ms after the one before";
  }
  const auto span = duration_cast<milliseconds>(hits.back().at - hits.front().at).count();
  EXPECT_GE(span, 5 * 200 - 60) << "6 requests at 5/s span at least 1 s";
}

TEST(fetcher, per_host_concurrency_is_capped) {
  auto s = serve_faults();
  fetch_options o = fast(*s);
  fetcher f(o);
  // /slow takes 3 s; with one connection per host the second waits for the first
  // to time out at 300 ms, so it starts at least 300 ms later.
  int failed = 0;
  for (int i = 0; i < 2; ++i) {
    request r = get("/slow", 0);
    r.timeout_ms = 300;
    r.max_connections = 1;
    f.submit(std::move(r), [&](response&& res) { failed += !res.ok(); });
  }
  f.run();
  EXPECT_EQ(failed, 2);
  auto hits = hits_of(*s, "/slow");
  ASSERT_EQ(hits.size(), 2u);
  // The second starts when the first times out (300 ms after it started); the
  // first arrival carries its connect latency, hence the margin.
  EXPECT_GE(duration_cast<milliseconds>(hits[1].at - hits[0].at).count(), 240);
}

TEST(fetcher, retry_after_on_429_is_obeyed) {
  auto s = serve_faults();
  fetcher f(fast(*s));
  auto r = fetch_one(f, get("/ratelimited"));
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.attempts, 2);
  auto hits = hits_of(*s, "/ratelimited");
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].status, 429);
  EXPECT_GE(duration_cast<milliseconds>(hits[1].at - hits[0].at).count(), 990);
  EXPECT_EQ(f.stats().throttled.load(), 1u);
}

TEST(fetcher, a_spent_remaining_req_budget_holds_the_host_until_the_next_second) {
  auto s = serve_faults();
  fetcher f(fast(*s));
  EXPECT_TRUE(fetch_one(f, get("/remaining")).ok());
  EXPECT_TRUE(fetch_one(f, get("/remaining")).ok());
  auto hits = hits_of(*s, "/remaining");
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_GE(duration_cast<milliseconds>(hits[1].at - hits[0].at).count(), 990);
}

TEST(fetcher, retries_are_bounded_and_then_the_failure_is_reported) {
  auto s = serve_faults();
  fetcher f(fast(*s));
  auto r = fetch_one(f, get("/status500", 2));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(r.describe(), "HTTP 500 after 3 attempts");
  EXPECT_EQ(hits_of(*s, "/status500").size(), 3u);
  auto flaky = fetch_one(f, get("/flaky", 3));
  EXPECT_TRUE(flaky.ok()) << flaky.describe();
  EXPECT_EQ(flaky.attempts, 3);
  EXPECT_EQ(flaky.body, R"({"ok":true})");
  auto gone = fetch_one(f, get("/notfound", 3));
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(gone.attempts, 1) << "a 404 is not retried";
  auto teapot = fetch_one(f, get("/teapot", 3));
  EXPECT_EQ(teapot.attempts, 1) << "418 (blocked) is not retried";
}

TEST(fetcher, timeouts_fire_and_are_retried_then_reported) {
  auto s = serve_faults();
  fetcher f(fast(*s));
  request q = get("/slow", 1);
  q.timeout_ms = 200;
  auto r = fetch_one(f, q);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, "timeout after 200 ms");
  EXPECT_EQ(r.attempts, 2);
}

TEST(fetcher, a_cut_body_is_retried_and_a_dropped_connection_reported) {
  auto s = serve_faults();
  fetcher f(fast(*s));
  auto cut = fetch_one(f, get("/truncated"));
  EXPECT_TRUE(cut.ok()) << cut.describe();
  EXPECT_EQ(cut.attempts, 2);
  EXPECT_EQ(cut.body, test::read_file(std::string(CTK_SOURCE_DIR) + "/tests/fixtures/replay/upbit/ticker_all_1.json"));
  auto reset = fetch_one(f, get("/reset", 1));
  EXPECT_FALSE(reset.ok());
  EXPECT_EQ(reset.attempts, 2);
  EXPECT_FALSE(reset.error.empty());
}

TEST(fetcher, conditional_get_turns_an_unchanged_resource_into_304) {
  auto s = serve_faults();
  fetcher f(fast(*s));
  auto first = fetch_one(f, get("/etag"));
  EXPECT_TRUE(first.ok());
  EXPECT_FALSE(first.not_modified);
  EXPECT_EQ(first.body, R"({"version":7})");
  auto second = fetch_one(f, get("/etag"));
  EXPECT_TRUE(second.ok());
  EXPECT_TRUE(second.not_modified);
  EXPECT_EQ(second.status, 304);
  auto hits = hits_of(*s, "/etag");
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].headers.count("if-none-match"), 0u);
  EXPECT_EQ(hits[1].headers["if-none-match"], "\"v7\"");
}

TEST(fetcher, redirects_gzip_user_agent_and_no_origin_to_upbit) {
  auto s = serve_faults();
  fetch_options o = fast(*s);
  o.user_agent = "cointicker-test/1";
  o.max_redirects = 3;
  fetcher f(o);
  auto r = fetch_one(f, get("/redirect"));
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_EQ(r.body, R"({"ok":true})");
  auto loop = fetch_one(f, get("/loop", 0));
  EXPECT_FALSE(loop.ok());
  EXPECT_NE(loop.error.find("redirect"), std::string::npos) << loop.error;
  auto gz = fetch_one(f, get("/gzip"));
  EXPECT_EQ(gz.body, R"({"ok":true,"gzip":"decoded"})");
  auto hits = hits_of(*s, "/gzip");
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].headers["user-agent"], "cointicker-test/1");
  EXPECT_NE(hits[0].headers["accept-encoding"].find("gzip"), std::string::npos);
  // An Origin header configured for Upbit is dropped; for other hosts it is sent.
  request up;
  up.url = "https://api.upbit.com/v1/ticker/all";
  up.headers = {{"Origin", "https://upbit.com"}, {"Accept", "application/json"}};
  fetch_one(f, up);
  request other = get("/ok");
  other.headers = {{"Origin", "https://example.com"}};
  fetch_one(f, other);
  bool upbit_seen = false, origin_sent = false;
  for (auto& h : s->hits()) {
    if (h.host == "api.upbit.com") {
      upbit_seen = true;
      EXPECT_EQ(h.headers.count("origin"), 0u);
      EXPECT_EQ(h.headers["accept"], "application/json");
    }
    if (h.path == "/ok" && h.headers.count("origin")) origin_sent = true;
  }
  EXPECT_TRUE(upbit_seen);
  EXPECT_TRUE(origin_sent) << "Origin is dropped for Upbit only";
}

TEST(fetcher, a_body_over_the_cap_is_refused_without_retrying) {
  const std::string dir = test::temp_dir();
  {
    std::ofstream big(dir + "/big.json", std::ios::binary);
    std::string chunk(1 << 20, 'x');
    for (int i = 0; i < 20; ++i) big << chunk;  // 20 MB
    std::ofstream routes(dir + "/routes.yaml");
    routes << "routes:\n  - host: big.test\n    path: /big\n    responses:\n      - status: 200\n        body_file: "
              "big.json\n";
  }
  auto s = serve(dir);
  fetch_options o = fast(*s);
  o.max_body_bytes = 8 << 20;
  fetcher f(o);
  request q;
  q.url = "https://big.test/big";
  q.retries = 3;
  auto r = fetch_one(f, q);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error, "body larger than crawler.max_body_bytes (8388608 bytes)");
  EXPECT_EQ(r.attempts, 1);
  EXPECT_LE(r.body.size(), static_cast<std::size_t>(8 << 20));
}

TEST(fetcher, many_requests_in_flight_on_one_thread) {
  auto s = serve_faults();
  fetch_options o = fast(*s);
  o.max_connections_per_host = 8;
  fetcher f(o);
  int ok = 0;
  for (int i = 0; i < 8; ++i) {
    request r = get("/slow", 0);
    r.timeout_ms = 1000;
    f.submit(std::move(r), [&](response&& res) { ok += res.error == "timeout after 1000 ms"; });
  }
  f.run();
  EXPECT_EQ(ok, 8);
  // The server held each request for 3 s: all 8 were open at once.
  EXPECT_EQ(s->max_concurrent(), 8);
}

namespace {
std::string rfc822(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}
}  // namespace

// The crawl engine over the fetcher: one command, thousands of records; a
// page that fails becomes a dead letter with its (capped) body.
TEST(crawl_engine, one_command_yields_ten_thousand_records_and_failed_pages_are_reported) {
  const std::string dir = test::temp_dir();
  {
    std::ofstream feed(dir + "/big.xml");
    feed << R"(<?xml version="1.0"?><rss version="2.0"><channel><title>big</title>)";
    // Newest first, as feeds list them: item i is i minutes older than item 0
    // (RFC 822 dates, whose text order is not their time order).
    for (int i = 0; i < 10'000; ++i)
      feed << "<item><title>Item " << i << "</title><link>https://big.test/" << i << "</link><pubDate>"
           << rfc822(1'796'000'000 - i * 60) << "</pubDate></item>";
    feed << "</channel></rss>";
    std::ofstream routes(dir + "/routes.yaml");
    routes << "routes:\n"
              "  - host: big.test\n    path: /feed\n    responses:\n      - status: 200\n        body_file: big.xml\n"
              "  - host: big.test\n    path: /broken\n    responses:\n      - status: 200\n"
              "        body: '<rss><channel><item><title>cut'\n";
  }
  auto s = serve(dir);
  cfg::cluster_settings cluster;
  cluster.crawler.replay = s->url();
  cluster.crawler.deadletter_body_bytes = 10;
  cfg::sources_settings sources;
  auto& big = sources.sources["big"];
  big.kind = "news";
  big.parser = "rss";
  big.urls = {"https://big.test/feed", "https://big.test/broken", "https://big.test/missing"};
  big.rate_limit_per_s = 1000;
  big.retries = 0;
  crawl_engine engine(cluster, sources, "test/crawler/0");
  struct sink_t : crawl_sink {
    std::set<std::string> keys;
    std::vector<std::string> order;
    std::set<std::string> placements;
    std::vector<std::pair<std::string, std::string>> failures;
    std::string first;
    void record(std::string_view key, std::string_view env, std::string_view placement) override {
      keys.emplace(key);
      order.emplace_back(key);
      placements.emplace(placement);
      if (first.empty()) first = env;
    }
    void page_failed(const std::string&, const std::string& reason, std::string_view body) override {
      failures.emplace_back(reason, std::string(body));
    }
  } sink;
  msg::crawl_command cmd;
  cmd.id = "cmd-1";
  cmd.source = "big";
  auto reports = engine.crawl({cmd}, sink);
  ASSERT_EQ(reports.size(), 1u);
  const auto& rep = reports[0];
  EXPECT_EQ(rep.records, 10'000);
  EXPECT_EQ(sink.keys.size(), 10'000u);
  EXPECT_TRUE(sink.keys.count("big/https://big.test/9999"));
  // Oldest first, and all of one news source on one raw partition.
  EXPECT_EQ(sink.order.front(), "big/https://big.test/9999");
  EXPECT_EQ(sink.order.back(), "big/https://big.test/0");
  EXPECT_EQ(sink.placements, std::set<std::string>{"big"});
  EXPECT_NE(sink.first.find(R"("trace":"cmd-1")"), std::string::npos) << sink.first;
  EXPECT_EQ(rep.pages, 3);
  EXPECT_EQ(rep.status, "partial");
  ASSERT_EQ(sink.failures.size(), 2u);
  std::sort(sink.failures.begin(), sink.failures.end());
  EXPECT_EQ(sink.failures[0].first, "fetch failed: HTTP 404 (https://big.test/missing); body: first 10 of 30 bytes");
  EXPECT_EQ(sink.failures[0].second, "no route f");
  // The cut feed: the page is dead-lettered, and the one item recovered from
  // it (a title, no link) is counted as skipped.
  EXPECT_TRUE(sink.failures[1].first.starts_with("parse failed: not well-formed XML at line 1"))
      << sink.failures[1].first;
  EXPECT_TRUE(
      sink.failures[1].first.ends_with("1 item(s) skipped, first: an item with neither guid nor link "
                                       "(https://big.test/broken); body: first 10 of 30 bytes"))
      << sink.failures[1].first;
  EXPECT_EQ(sink.failures[1].second, "<rss><chan");
  EXPECT_EQ(rep.errors, 3);
}
