#include "actors/validator/validator.h"

#include <gtest/gtest.h>

#include "actors/db_sink/db_sink.h"
#include "actors/hdfs_sink/layout.h"
#include "actors/validator/normalize.h"
#include "messages/envelope.h"

using namespace ctk::validator;

namespace {
const std::int64_t now = 1'795'000'000'000;  // 2026-11-18T...

std::string iso(std::string_view text, std::string_view zone = "") {
  std::string why;
  auto ms = parse_time_ms(text, zone, why);
  return ms ? format_utc_ms(*ms) : "error: " + why;
}

std::string raw(const std::string& kind, const std::string& data, const std::string& source = "upbit") {
  return R"({"v":1,"source":")" + source + R"(","kind":")" + kind +
         R"(","fetched_at":"2026-11-18T00:00:00Z","url":"HTTPS://Api.Upbit.com:443/v1/ticker#x","trace":"t1","data":)" +
         data + "}";
}

result check(const std::string& json) {
  static checker c;
  return c.check(json, now);
}
}  // namespace

TEST(time_formats, iso_with_zone_is_converted_to_utc) {
  EXPECT_EQ(iso("2025-01-01T03:04:05.000Z"), "2025-01-01T03:04:05.000Z");
  EXPECT_EQ(iso("2022-04-25T16:04:09.254000+00:00"), "2022-04-25T16:04:09.254Z");
  EXPECT_EQ(iso("2025-01-01T09:04:05+09:00"), "2025-01-01T00:04:05.000Z");
  EXPECT_EQ(iso("2025-01-01 03:04:05-0130"), "2025-01-01T04:34:05.000Z");
  EXPECT_EQ(iso("2024-02-29T23:59:59.9999Z"), "2024-02-29T23:59:59.999Z");
}

TEST(time_formats, zoneless_iso_takes_the_given_zone_and_refuses_to_guess) {
  EXPECT_EQ(iso("2024-08-31T22:25:00", "Asia/Seoul"), "2024-08-31T13:25:00.000Z");
  EXPECT_EQ(iso("2024-08-31T22:25:00", "UTC"), "2024-08-31T22:25:00.000Z");
  EXPECT_EQ(iso("2024-08-31T22:25:00", "+09:00"), "2024-08-31T13:25:00.000Z");
  EXPECT_NE(iso("2024-08-31T22:25:00").find("without a zone"), std::string::npos);
  // Any IANA zone, at the offset it had on that date (EDT in August, EST in January).
  EXPECT_EQ(iso("2024-08-31T22:25:00", "America/New_York"), "2024-09-01T02:25:00.000Z");
  EXPECT_EQ(iso("2024-01-31T22:25:00.5", "America/New_York"), "2024-02-01T03:25:00.500Z");
  EXPECT_NE(iso("2024-08-31T22:25:00", "Mars/Olympus").find("unknown time zone 'Mars/Olympus'"), std::string::npos);
}

TEST(time_formats, eight_digits_are_a_date_not_epoch_seconds) {
  // Upbit's trade_date is yyyyMMdd; epoch seconds with 8 digits would be 1970-73.
  EXPECT_EQ(iso("20240905"), "2024-09-05T00:00:00.000Z");
}

TEST(time_formats, epoch_milliseconds_and_seconds_are_told_apart) {
  EXPECT_EQ(iso("1725543306000"), "2024-09-05T13:35:06.000Z");
  EXPECT_EQ(iso("1777248000"), "2026-04-27T00:00:00.000Z");
  EXPECT_EQ(iso(" 1777248000 "), "2026-04-27T00:00:00.000Z");
}

TEST(time_formats, rfc822_with_names_and_offsets) {
  EXPECT_EQ(iso("Mon, 01 Jan 2025 03:04:05 +0000"), "2025-01-01T03:04:05.000Z");
  EXPECT_EQ(iso("Wed, 02 Oct 2002 08:00:00 EST"), "2002-10-02T13:00:00.000Z");
  EXPECT_EQ(iso("2 Oct 2002 13:00 GMT"), "2002-10-02T13:00:00.000Z");
  EXPECT_EQ(iso("Tue, 10 Jun 03 04:00:00 +0900"), "2003-06-09T19:00:00.000Z");
}

TEST(time_formats, nonsense_is_an_error_not_a_guess) {
  for (const char* s : {"", "yesterday", "2025-13-01T00:00:00Z", "2025-02-30T00:00:00Z", "2025-01-01T25:00:00Z",
                        "2025-01-01T00:00:00+25:00", "32 Jan 2025 00:00:00 GMT", "Mon, 01 Foo 2025 03:04:05 +0000",
                        "2025-01-01Tab:cd", "01/02/2025", "1e12", "--", "2025-01-01T00:00:00 PST8PDT",
                        // a year of 30 digits (it overflowed `int`: UBSan in fuzz/parsers_fuzz.cc)
                        "Mon, 01 Jan 202444444444444444444444444444 03:04:05 +0000", "01 Jan 20255 03:04 GMT"}) {
    EXPECT_EQ(iso(s).rfind("error: ", 0), 0u) << s << " -> " << iso(s);
  }
}

TEST(numbers, come_from_strings_but_never_as_nan_or_infinity) {
  EXPECT_EQ(parse_number("12.5"), 12.5);
  EXPECT_EQ(parse_number(" 1e3 "), 1000.0);
  EXPECT_EQ(parse_number("+3"), 3.0);
  EXPECT_FALSE(parse_number("NaN"));
  EXPECT_FALSE(parse_number("inf"));
  EXPECT_FALSE(parse_number("1e400"));
  EXPECT_FALSE(parse_number("12abc"));
  EXPECT_FALSE(parse_number(""));
  EXPECT_FALSE(parse_number("1,234"));
}

TEST(urls, are_canonicalised) {
  std::string why;
  EXPECT_EQ(canonical_url("HTTPS://Example.COM:443/a/b?utm_source=x&id=7&fbclid=z#frag", why),
            std::optional<std::string>("https://example.com/a/b?id=7"));
  EXPECT_EQ(canonical_url("http://example.com:80", why), std::optional<std::string>("http://example.com/"));
  EXPECT_EQ(canonical_url("http://example.com:8080/x?a=1&b=2", why),
            std::optional<std::string>("http://example.com:8080/x?a=1&b=2"));
  EXPECT_FALSE(canonical_url("ftp://example.com/x", why));
  EXPECT_FALSE(canonical_url("not a url at all", why));
  EXPECT_FALSE(canonical_url("javascript:alert(1)", why));
}

TEST(html, is_stripped_to_visible_text) {
  EXPECT_EQ(strip_html("<p>Bitcoin <b>rises</b> &amp; falls</p><script>x()</script><p>again</p>"),
            "Bitcoin rises & falls again");
  EXPECT_EQ(strip_html("  plain   text\n here "), "plain text here");
  EXPECT_EQ(strip_html("<div><p>unclosed <i>tags"), "unclosed tags");
  EXPECT_EQ(strip_html("비트코인 &lt;급등&gt;"), "비트코인 <급등>");
  // "&#" before anything but a number is text, as in a browser; references still decode.
  EXPECT_EQ(strip_html("Bitcoin &#Ether, &#x; &#65;&#x42;"), "Bitcoin &#Ether, &#x; AB");
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += "<div>";
  deep += "deep";
  EXPECT_EQ(strip_html(deep), "deep") << "HTML_PARSE_HUGE keeps deep documents whole";
}

TEST(validator, a_market_record_is_normalised_and_keyed_by_its_id) {
  auto r = check(raw(
      "market",
      R"({"symbol":" krw-btc ","price":"80123456.5","volume_24h":1234.5,"change_24h":"-0.0108","timestamp":1725543306000})"));
  ASSERT_TRUE(r.ok) << r.rule << ": " << r.reason;
  EXPECT_EQ(r.id, ctk::msg::record_id("upbit", "KRW-BTC|2024-09-05T13:35:06.000Z"));
  EXPECT_NE(r.json.find(R"("id":")" + r.id + "\""), std::string::npos);
  EXPECT_NE(
      r.json.find(
          R"("data":{"symbol":"KRW-BTC","price":80123456.5,"volume_24h":1234.5,"change_24h":-0.0108,"timestamp":"2024-09-05T13:35:06.000Z"})"),
      std::string::npos)
      << r.json;
  EXPECT_NE(r.json.find(R"("url":"https://api.upbit.com/v1/ticker")"), std::string::npos) << r.json;
  EXPECT_NE(r.json.find(R"("fetched_at":"2026-11-18T00:00:00.000Z")"), std::string::npos) << r.json;
  auto bad = check(R"({"v":1,"source":"s","kind":"market","fetched_at":"whenever","data":{}})");
  EXPECT_EQ(bad.rule, "timestamp_format");
  EXPECT_NE(bad.reason.find("fetched_at"), std::string::npos);
}

TEST(validator, readers_votes_pass_as_whole_numbers_and_market_and_news_records_name_their_placement) {
  auto r = check(raw("news", R"({"title":"t","published_at":"2026-11-18T00:00:00Z","votes_up":"12","votes_down":3})"));
  ASSERT_TRUE(r.ok) << r.rule << ": " << r.reason;
  EXPECT_NE(r.json.find(R"("votes_up":12,"votes_down":3)"), std::string::npos) << r.json;
  EXPECT_EQ(r.partition_key, "news") << "all news on one partition, in order (the analyzer's news feed)";
  auto neg = check(raw("news", R"({"title":"t","published_at":"2026-11-18T00:00:00Z","votes_up":-1})"));
  EXPECT_EQ(neg.rule, "votes_range");
  auto m =
      check(raw("market", R"({"symbol":"krw-eth","price":1,"volume_24h":1,"change_24h":0,"timestamp":1725543306000})"));
  ASSERT_TRUE(m.ok);
  EXPECT_EQ(m.partition_key, "KRW-ETH");
}

TEST(validator, the_same_record_in_different_formats_gets_the_same_id) {
  auto a = check(
      raw("fear_greed", R"({"value":"47","classification":"neutral","timestamp":"1777248000"})", "alternative_me"));
  auto b = check(raw("fear_greed", R"({"value":47,"classification":"Neutral","timestamp":"2026-04-27T09:00:00+09:00"})",
                     "alternative_me"));
  ASSERT_TRUE(a.ok) << a.reason;
  ASSERT_TRUE(b.ok) << b.reason;
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.json.substr(a.json.find("\"data\"")), b.json.substr(b.json.find("\"data\"")));
  auto n1 = check(raw(
      "news",
      R"({"title":"<b>BTC</b> up","url":"https://x.com/a?utm_medium=tw","published_at":"Mon, 01 Jan 2025 03:04:05 +0000"})"));
  auto n2 =
      check(raw("news", R"({"title":"BTC up","url":"HTTPS://X.COM/a#top","published_at":"2025-01-01T03:04:05Z"})"));
  ASSERT_TRUE(n1.ok && n2.ok) << n1.reason << n2.reason;
  EXPECT_EQ(n1.id, n2.id);
}

TEST(validator, one_checker_carries_nothing_from_one_record_to_the_next) {
  // The checker reuses its buffers: a record without url or trace must not
  // get the previous record's.
  checker c;
  auto a = c.check(
      raw("market", R"({"symbol":"krw-btc","price":1,"volume_24h":1,"change_24h":0,"timestamp":1725543306000})"), now);
  ASSERT_TRUE(a.ok) << a.reason;
  const std::string first = a.json;
  EXPECT_NE(first.find(R"("url":")"), std::string::npos);
  auto b = c.check(
      R"({"v":1,"source":"upbit","kind":"market","fetched_at":"2026-11-18T00:00:00Z","data":{"symbol":"krw-eth","price":2,"volume_24h":1,"change_24h":0,"timestamp":1725543306000}})",
      now);
  ASSERT_TRUE(b.ok) << b.reason;
  EXPECT_NE(b.json.find(R"("url":"","trace":"")"), std::string::npos) << b.json;
  EXPECT_NE(b.json.find("KRW-ETH"), std::string::npos);
  auto bad = c.check("{", now);
  EXPECT_FALSE(bad.ok);
  auto again = c.check(
      raw("market", R"({"symbol":"krw-btc","price":1,"volume_24h":1,"change_24h":0,"timestamp":1725543306000})"), now);
  ASSERT_TRUE(again.ok) << again.reason;
  EXPECT_EQ(again.json, first);
}

TEST(validator, every_rule_names_itself_and_the_field) {
  struct c {
    std::string kind, data, rule, field;
  };
  const std::vector<c> cases{
      {"market", R"({"price":1,"volume_24h":1,"change_24h":0,"timestamp":1725543306000})", "required", "symbol"},
      {"market", R"({"symbol":"X","price":0,"volume_24h":1,"change_24h":0,"timestamp":1725543306000})",
       "price_positive", "price"},
      {"market", R"({"symbol":"X","price":-5,"volume_24h":1,"change_24h":0,"timestamp":1725543306000})",
       "price_positive", "price"},
      {"market", R"({"symbol":"X","price":"NaN","volume_24h":1,"change_24h":0,"timestamp":1725543306000})", "number",
       "price"},
      {"market", R"({"symbol":"X","price":"inf","volume_24h":1,"change_24h":0,"timestamp":1725543306000})", "number",
       "price"},
      {"market", R"({"symbol":"X","price":1e999,"volume_24h":1,"change_24h":0,"timestamp":1725543306000})", "decode",
       ""},
      {"market", R"({"symbol":"X","price":[1],"volume_24h":1,"change_24h":0,"timestamp":1725543306000})", "type",
       "price"},
      {"market", R"({"symbol":"X","price":1,"volume_24h":-1,"change_24h":0,"timestamp":1725543306000})",
       "volume_non_negative", "volume_24h"},
      {"market", R"({"symbol":"X","price":1,"volume_24h":1,"change_24h":-2,"timestamp":1725543306000})", "change_range",
       "change_24h"},
      {"market", R"({"symbol":"X Y!","price":1,"volume_24h":1,"change_24h":0,"timestamp":1725543306000})", "symbol",
       "symbol"},
      {"market", R"({"symbol":"X","price":1,"volume_24h":1,"change_24h":0,"timestamp":"soon"})", "timestamp_format",
       "timestamp"},
      {"market", R"({"symbol":"X","price":1,"volume_24h":1,"change_24h":0,"timestamp":4102444800000})",
       "timestamp_future", "timestamp"},
      {"market", R"({"symbol":"X","price":1,"volume_24h":1,"change_24h":0,"timestamp":900000000})", "timestamp_range",
       "timestamp"},
      {"news", R"({"url":"https://x/1","published_at":"2025-01-01T00:00:00Z"})", "required", "title"},
      {"news", R"({"title":"<br/>","published_at":"2025-01-01T00:00:00Z"})", "required", "title"},
      {"news", R"({"title":"t","url":"mailto:a@b","published_at":"2025-01-01T00:00:00Z"})", "url", "url"},
      {"news", R"({"title":"t","published_at":"2025-01-01T00:00:00Z","keywords":"BTC"})", "type", "keywords"},
      {"news", R"({"title":7,"published_at":"2025-01-01T00:00:00Z"})", "type", "title"},
      {"fear_greed", R"({"value":101,"classification":"x","timestamp":1777248000})", "value_range", "value"},
      {"fear_greed", R"({"value":4.5,"classification":"x","timestamp":1777248000})", "value_range", "value"},
      {"fear_greed", R"({"value":"-1","classification":"x","timestamp":1777248000})", "value_range", "value"},
      {"fear_greed", R"({"value":1,"timestamp":1777248000})", "required", "classification"},
      {"weather", R"({})", "kind", ""},
      {"market", R"([1,2])", "type", "data"},
  };
  for (const auto& k : cases) {
    auto r = check(raw(k.kind, k.data));
    EXPECT_FALSE(r.ok) << k.data;
    EXPECT_EQ(r.rule, k.rule) << k.data << " -> " << r.reason;
    EXPECT_NE(r.reason.find(k.field), std::string::npos) << r.reason;
  }
}

TEST(validator, hostile_envelopes_are_rejected_not_crashed_on) {
  EXPECT_EQ(check("").rule, "decode");
  EXPECT_EQ(check("{").rule, "decode");
  EXPECT_EQ(check("\xff\xfe{}").rule, "decode");
  EXPECT_EQ(check(R"({"v":2,"source":"s","kind":"news","fetched_at":"t","data":{}})").rule, "version");
  std::string bad_utf8 = raw("news", "{\"title\":\"\xc3\x28\",\"published_at\":\"2025-01-01T00:00:00Z\"}");
  EXPECT_EQ(check(bad_utf8).rule, "decode");
  const std::string ten_mb(10 << 20, 'x');
  auto big = check(raw("news", R"({"title":")" + ten_mb + R"(","published_at":"2025-01-01T00:00:00Z"})"));
  EXPECT_EQ(big.rule, "length") << big.reason;
  auto big_content =
      check(raw("news", R"({"title":"t","content":")" + ten_mb + R"(","published_at":"2025-01-01T00:00:00Z"})"));
  EXPECT_EQ(big_content.rule, "length");
  EXPECT_NE(big_content.reason.find("content"), std::string::npos);
}

// One rule for a source name: the validator and both sinks refuse the same
// hostile names (a record written to `unique` by anything but the
// validator included), so PostgreSQL and HDFS cannot disagree on them.
TEST(validation, hostile_sources_are_refused_by_the_validator_and_by_both_sinks_alike) {
  const std::string market =
      R"({"symbol":"KRW-BTC","price":1,"volume_24h":1,"change_24h":0,"timestamp":1795000000000})";
  ctk::cfg::loaded_config cfg;
  cfg.cluster.postgres.dsn = "host=127.0.0.1 port=1 dbname=never-connected";  // handle() refuses before any write
  ctk::pipeline::metrics_registry metrics;
  auto db = ctk::db::make_db_sink({cfg, "t/db-sink/0", metrics});
  ctk::msg::json_decoder dec;
  struct no_output : ctk::pipeline::emitter {
    void emit(std::string_view, std::string_view, std::string_view, std::int32_t) override {}
    bool dead_letter(std::string_view, std::int32_t, std::int64_t, std::string_view, std::string_view,
                     const ctk::pipeline::outcome&) override {
      return true;
    }
  } out;
  for (const std::string& source :
       std::vector<std::string>{"a/b", "..", ".", "../../etc", "/tmp/x", "a b", std::string(65, 'x')}) {
    EXPECT_EQ(check(raw("market", market, source)).rule, "source") << source;
    // As it would stand on `unique` (an id, the validator bypassed):
    const std::string unique =
        R"({"v":1,"id":"0123456789abcdef0123456789abcdef","source":")" + source +
        R"(","kind":"market","fetched_at":"2026-11-18T00:00:00.000Z","url":"","trace":"t","data":)" + market + "}";
    const auto d = db->handle({"ctk.unique", 0, 0, {}, unique}, out);
    EXPECT_EQ(d.v, ctk::pipeline::verdict::dead_letter) << source;
    EXPECT_EQ(d.rule, "source") << source;
    std::string_view folder;
    char day[8];
    const auto h = ctk::hdfs::route(unique, dec, folder, day);
    EXPECT_EQ(h.v, ctk::pipeline::verdict::dead_letter) << source;
    EXPECT_EQ(h.rule, "source") << source;
  }
  for (const std::string source : {"upbit", "alternative_me", "coin-ness.v2"}) {
    EXPECT_TRUE(check(raw("market", market, source)).ok) << source;
    EXPECT_TRUE(ctk::msg::valid_source(source)) << source;
  }
}
