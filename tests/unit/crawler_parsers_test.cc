// Every source parser on its fixtures (tests/fixtures/replay: the real
// shapes; tests/fixtures/broken: the broken ones). Good data becomes records
// the validator accepts; bad data becomes a clear reason; nothing crashes.
#include <gtest/gtest.h>

#include <chrono>

#include "actors/crawler/crawler.h"
#include "actors/crawler/sources.h"
#include "actors/validator/validator.h"
#include "messages/envelope.h"
#include "tests/support/process.h"

using namespace ctk;
using namespace ctk::crawler;

namespace {

std::string fixture(const std::string& rel) {
  return test::read_file(std::string(CTK_SOURCE_DIR) + "/tests/fixtures/" + rel);
}

struct harness {
  cfg::source_settings settings;
  crawl_state state;
  source_memory memory;
  simdjson::dom::parser json;
  simdjson::ondemand::parser ondemand;
  std::string scratch;

  parse_result parse(const std::string& parser, const std::string& url, const std::string& body, long status = 200) {
    const parser_entry* p = find_parser(parser);
    EXPECT_NE(p, nullptr) << parser;
    parse_result r;
    ++state.pages;
    page pg{url, status, body, nullptr};
    parser_context c{"src", settings, state, memory, json, ondemand, scratch};
    p->parse(c, pg, r);
    return r;
  }
};

// The records as the crawler would send them, judged by the real validator.
int valid_records(const parse_result& r, const std::string& source, const std::string& kind,
                  std::vector<std::string>* reasons = nullptr) {
  validator::checker check;
  const auto now =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  int ok = 0;
  for (const auto& it : r.items) {
    msg::envelope env;
    env.source = source;
    env.kind = kind;
    env.fetched_at = msg::utc_now_iso();
    env.url = it.url;
    env.trace = "t";
    env.data.text = it.data;
    std::string json;
    EXPECT_TRUE(msg::encode(env, json));
    auto v = check.check(json, now);
    ok += v.ok;
    if (!v.ok && reasons) reasons->push_back(v.rule + ": " + v.reason);
  }
  return ok;
}

}  // namespace

TEST(parsers, every_configured_parser_is_registered_once) {
  std::set<std::string_view> names;
  for (const auto& p : parsers()) EXPECT_TRUE(names.insert(p.name).second) << p.name;
  for (auto n : {"upbit", "alternative_me", "cnn_fear_greed", "coinness", "saveticker", "rss", "json", "html"})
    EXPECT_NE(find_parser(n), nullptr) << n;
}

TEST(upbit, the_krw_board_becomes_one_market_record_per_symbol) {
  harness h;
  auto r = h.parse("upbit", "https://api.upbit.com/v1/ticker/all?quote_currencies=KRW",
                   fixture("replay/upbit/ticker_all_1.json"));
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.items.size(), 8u);
  EXPECT_EQ(r.items[0].key, "KRW-BTC");
  EXPECT_NE(r.items[0].data.find(R"("symbol":"KRW-BTC")"), std::string::npos) << r.items[0].data;
  EXPECT_NE(r.items[0].data.find(R"("price":143250000.0)"), std::string::npos) << r.items[0].data;
  EXPECT_NE(r.items[0].data.find(R"("change_24h":-0.0282)"), std::string::npos) << r.items[0].data;
  EXPECT_NE(r.items[0].data.find(R"("timestamp":1795950000635)"), std::string::npos) << r.items[0].data;
  EXPECT_EQ(valid_records(r, "upbit", "market"), 8);
}

TEST(upbit, an_error_object_is_a_page_error_naming_upbits_message) {
  harness h;
  auto r = h.parse("upbit", "https://api.upbit.com/v1/ticker/all", fixture("broken/upbit_error.json"));
  EXPECT_TRUE(r.items.empty());
  EXPECT_EQ(r.error, "Upbit error: too_many_requests: Too many API requests.");
}

TEST(upbit, bad_tickers_are_skipped_with_a_reason_and_the_good_ones_kept) {
  harness h;
  auto r = h.parse("upbit", "https://api.upbit.com/v1/ticker/all", fixture("broken/upbit_partial.json"));
  EXPECT_TRUE(r.error.empty());
  ASSERT_EQ(r.items.size(), 3u);  // two good, one without trade_price (the validator refuses it)
  ASSERT_EQ(r.item_errors.size(), 2u);
  EXPECT_EQ(r.item_errors[0], "a ticker without `market`");
  EXPECT_EQ(r.item_errors[1], "a ticker that is not an object");
  std::vector<std::string> reasons;
  EXPECT_EQ(valid_records(r, "upbit", "market", &reasons), 2);
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_EQ(reasons[0], "required: price: required field is missing");
}

// Found by fuzzing (fuzz/parsers_fuzz.cc): the values are copied as their
// JSON text, which On-Demand does not read, so a broken number reached the
// record and the envelope was not JSON. Such a ticker is an item error now.
TEST(upbit, a_value_that_is_not_a_json_number_or_plain_string_skips_its_ticker) {
  harness h;
  const std::string board = R"([{"market":"KRW-BTC","trade_price":17#59,"timestamp":1},)"
                            R"({"market":"KRW-ETH","trade_price":tru,"timestamp":1},)"
                            R"({"market":"KRW-XRP","trade_price":"1\u0031","timestamp":1},)"
                            R"({"market":"KRW-ADA","trade_price":1,"timestamp":123456789012345678901},)"
                            R"({"market":"KRW-DOT","trade_price":1,"timestamp":179595E120628},)"
                            R"({"market":"KRW-SOL","trade_price":1.5e3,"acc_trade_volume_24h":0,)"
                            R"("signed_change_rate":"0.1","timestamp":1796601540000}])";
  auto r = h.parse("upbit", "https://api.upbit.com/v1/ticker/all", board);
  ASSERT_EQ(r.items.size(), 1u) << r.error;
  EXPECT_EQ(r.items[0].key, "KRW-SOL");
  ASSERT_EQ(r.item_errors.size(), 5u);
  EXPECT_EQ(r.item_errors[0], "a ticker whose `trade_price` is not a JSON number or plain string");
  simdjson::dom::parser json;
  EXPECT_EQ(json.parse(r.items[0].data).error(), simdjson::SUCCESS) << r.items[0].data;
  EXPECT_EQ(valid_records(r, "upbit", "market"), 1);
}

TEST(upbit, truncated_json_invalid_utf8_and_html_are_page_errors) {
  harness h;
  auto cut = h.parse("upbit", "u", fixture("broken/upbit_truncated.json"));
  EXPECT_TRUE(cut.items.empty());
  EXPECT_TRUE(cut.error.starts_with("not valid JSON")) << cut.error;
  for (std::string cut_at_item : {R"([{"market":"KRW-A","trade_price":1},)", R"([{"market":"KRW-A","trade_price":1})",
                                  R"([{"market":"KRW-A","trade_price":1)", "[", R"([{"market":"KRW-A"},{"mar)"}) {
    auto c = h.parse("upbit", "u", cut_at_item);
    EXPECT_TRUE(c.items.empty()) << cut_at_item;
    EXPECT_FALSE(c.error.empty()) << cut_at_item;
  }
  auto utf = h.parse("coinness", "u", fixture("broken/invalid_utf8.json"));
  EXPECT_EQ(utf.error, "the body is not valid UTF-8");
  auto html = h.parse("upbit", "u", fixture("broken/not_json.html"));
  EXPECT_TRUE(html.error.starts_with("not valid JSON")) << html.error;
  auto empty = h.parse("alternative_me", "u", "");
  EXPECT_EQ(empty.error, "empty body where JSON was expected");
}

TEST(alternative_me, string_values_and_epoch_seconds_become_valid_fear_greed_records) {
  harness h;
  auto r =
      h.parse("alternative_me", "https://api.alternative.me/fng/?limit=1", fixture("replay/alternative_me/fng.json"));
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.items.size(), 2u);
  EXPECT_EQ(r.items[0].key, "1795910400");
  EXPECT_EQ(r.items[0].data, R"({"value":"47","classification":"Neutral","timestamp":"1795910400"})");
  EXPECT_EQ(valid_records(r, "alternative_me", "fear_greed"), 2);
  auto e = h.parse("alternative_me", "u", fixture("broken/alternative_me_error.json"));
  EXPECT_EQ(e.error, "alternative.me reports an error: Invalid limit parameter");
}

TEST(cnn, the_fractional_score_is_rounded_and_the_timestamp_kept) {
  harness h;
  auto r = h.parse("cnn_fear_greed", "u", fixture("replay/cnn/graphdata.json"));
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.items.size(), 1u);
  EXPECT_EQ(r.items[0].data, R"({"value":30,"classification":"fear","timestamp":"2026-11-27T21:00:00.254000+00:00"})");
  EXPECT_EQ(valid_records(r, "cnn_fear_greed", "fear_greed"), 1);
  auto bad = h.parse("cnn_fear_greed", "u", R"({"fear_and_greed":{"score":"high"}})");
  EXPECT_EQ(bad.error, "fear_and_greed.score: expected a number");
}

TEST(coinness, a_full_page_asks_for_the_next_with_the_last_items_cursor) {
  harness h;
  h.settings.max_pages = 3;
  const std::string url = "https://api.coinness.com/feed/v1/breaking-news?languageCode=ko&limit=25";
  auto r = h.parse("coinness", url, fixture("replay/coinness/breaking_1.json"));
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.items.size(), 25u);
  EXPECT_EQ(r.items[0].url, "https://coinness.com/news/900000");
  EXPECT_NE(r.items[0].data.find(R"("votes_up":)"), std::string::npos) << "bullCount is carried: " << r.items[0].data;
  EXPECT_NE(r.items[0].data.find(R"("votes_down":)"), std::string::npos) << "bearCount is carried";
  ASSERT_EQ(r.follow.size(), 1u);
  EXPECT_EQ(r.follow[0], url + "&lastId=899976&lastAt=2026-11-29T04%3A36%3A05.000Z");
  EXPECT_EQ(valid_records(r, "coinness", "news"), 25);
  auto p2 = h.parse("coinness", r.follow[0], fixture("replay/coinness/breaking_2.json"));
  EXPECT_EQ(p2.items.size(), 10u);
  EXPECT_TRUE(p2.follow.empty()) << "a short page is the last";
}

TEST(coinness, max_pages_stops_the_walk_and_wrapped_shapes_are_accepted) {
  harness h;
  h.settings.max_pages = 1;
  auto r = h.parse("coinness", "https://api.coinness.com/feed/v1/breaking-news?limit=25",
                   fixture("replay/coinness/breaking_1.json"));
  EXPECT_TRUE(r.follow.empty());
  auto w = h.parse("coinness", "https://api.coinness.com/feed/v1/breaking-news?limit=2",
                   fixture("broken/coinness_wrapped.json"));
  EXPECT_EQ(w.items.size(), 2u);
  auto odd = h.parse("coinness", "u", R"({"result":"maintenance"})");
  EXPECT_EQ(odd.error, "no item list: expected a top-level array or one of the fields data, items, list");
}

TEST(saveticker, list_pages_until_total_count_with_the_korean_translation_preferred) {
  harness h;
  h.settings.max_pages = 3;
  const std::string url = "https://api.saveticker.com/api/news/list?page=1&page_size=20&sort=created_at_desc";
  auto r = h.parse("saveticker", url, fixture("replay/saveticker/list_1.json"));
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.items.size(), 20u);
  ASSERT_EQ(r.follow.size(), 1u);
  EXPECT_EQ(r.follow[0], "https://api.saveticker.com/api/news/list?page_size=20&sort=created_at_desc&page=2");
  EXPECT_NE(r.items[1].data.find("연준 금리 동결 (29)"), std::string::npos) << r.items[1].data;
  auto p2 = h.parse("saveticker", r.follow[0], fixture("replay/saveticker/list_2.json"));
  EXPECT_EQ(p2.items.size(), 10u);
  EXPECT_TRUE(p2.follow.empty()) << "30 of total_count 30 read";
  EXPECT_EQ(valid_records(r, "saveticker", "news") + valid_records(p2, "saveticker", "news"), 30);
}

TEST(saveticker, a_gone_list_falls_back_to_top_stories_and_a_detail_walk) {
  harness h;
  auto gone = h.parse("saveticker", "https://api.saveticker.com/api/news/list?page=1", "gone", 404);
  EXPECT_TRUE(gone.error.empty());
  ASSERT_EQ(gone.follow.size(), 1u);
  EXPECT_EQ(gone.follow[0], "https://api.saveticker.com/api/news/top-stories");
  auto top = h.parse("saveticker", gone.follow[0], fixture("broken/saveticker_top.json"));
  EXPECT_EQ(top.items.size(), 2u);
  ASSERT_EQ(top.follow.size(), 1u);
  EXPECT_EQ(top.follow[0], "https://api.saveticker.com/api/news/detail/7004") << "walks up from the highest id";
  auto d = h.parse("saveticker", top.follow[0], fixture("broken/saveticker_detail.json"));
  ASSERT_EQ(d.items.size(), 1u);
  EXPECT_NE(d.items[0].data.find(R"("content":"First paragraph.\nSecond paragraph.")"), std::string::npos)
      << d.items[0].data;
  EXPECT_EQ(d.follow.at(0), "https://api.saveticker.com/api/news/detail/7005");
  auto del = h.parse("saveticker", d.follow[0], fixture("broken/saveticker_detail_deleted.json"));
  EXPECT_TRUE(del.items.empty()) << "deleted items are not records";
  // 40 misses in a row end the walk.
  std::string next = del.follow.at(0);
  int requests = 0;
  for (; !next.empty() && requests < 100; ++requests) {
    auto miss = h.parse("saveticker", next, "not found", 404);
    EXPECT_TRUE(miss.error.empty());
    next = miss.follow.empty() ? "" : miss.follow[0];
  }
  EXPECT_EQ(requests, saveticker_miss_limit);
  EXPECT_EQ(h.memory.last_id, 7004) << "the next crawl starts above what was found";
  auto dead = h.parse("saveticker", "https://api.saveticker.com/api/news/list?page=1", "", 500);
  EXPECT_EQ(dead.error, "HTTP 500");
}

TEST(rss, rss2_items_become_news_with_html_stripped_and_guid_keys) {
  harness h;
  auto r = h.parse("rss", "https://www.coindesk.com/arc/outboundfeeds/rss/", fixture("replay/rss/coindesk.xml"));
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.items.size(), 3u);
  EXPECT_EQ(r.items[0].key, "a1f2c3d4-0001-4b5c-9d8e-coindesk0001");
  EXPECT_NE(r.items[0].data.find(
                R"("content":"Spot bitcoin ETFs saw $412 million of inflows on Friday & the price climbed.")"),
            std::string::npos)
      << r.items[0].data;
  EXPECT_NE(r.items[0].data.find(R"("keywords":["Markets","Bitcoin"])"), std::string::npos) << r.items[0].data;
  EXPECT_EQ(r.items[1].data.find("track()"), std::string::npos) << "scripts dropped";
  EXPECT_EQ(valid_records(r, "coindesk", "news"), 3);
  auto ct = h.parse("rss", "https://cointelegraph.com/rss", fixture("replay/rss/cointelegraph.xml"));
  ASSERT_EQ(ct.items.size(), 2u);
  EXPECT_NE(ct.items[0].data.find("Ethereum DEXs handled $24 billion."), std::string::npos)
      << "content:encoded preferred";
  auto de = h.parse("rss", "https://decrypt.co/feed", fixture("replay/rss/decrypt.xml"));
  ASSERT_EQ(de.items.size(), 2u);
  EXPECT_NE(de.items[1].data.find("Beginner’s Guide"), std::string::npos) << de.items[1].data;
  EXPECT_EQ(valid_records(ct, "cointelegraph", "news") + valid_records(de, "decrypt", "news"), 4);
}

TEST(rss, atom_entries_resolve_relative_links_and_use_published_or_updated) {
  harness h;
  auto r = h.parse("rss", "https://blog.example.com/feed.atom", fixture("broken/atom.xml"));
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.items.size(), 2u);
  EXPECT_EQ(r.items[0].url, "https://blog.example.com/posts/l2-fees");
  EXPECT_NE(r.items[0].data.find(R"("title":"Layer 2 fees drop again")"), std::string::npos) << r.items[0].data;
  EXPECT_NE(r.items[0].data.find(R"("published_at":"2026-11-29T01:00:00+09:00")"), std::string::npos);
  EXPECT_NE(r.items[1].data.find(R"("published_at":"2026-11-28T12:00:00Z")"), std::string::npos);
  EXPECT_NE(r.items[1].data.find(R"("content":"Full HTML body.")"), std::string::npos) << r.items[1].data;
  EXPECT_EQ(valid_records(r, "blog", "news"), 2);
}

TEST(rss, an_empty_feed_is_no_records_and_no_error) {
  harness h;
  auto r = h.parse("rss", "https://example.com/feed", fixture("broken/empty_feed.xml"));
  EXPECT_TRUE(r.error.empty()) << r.error;
  EXPECT_TRUE(r.items.empty());
}

TEST(rss, a_cut_feed_keeps_the_items_before_the_break_and_reports_the_line) {
  harness h;
  auto r = h.parse("rss", "https://example.com/feed", fixture("broken/broken_feed.xml"));
  ASSERT_GE(r.items.size(), 1u);
  EXPECT_EQ(r.items[0].key, "https://example.com/a");
  EXPECT_TRUE(r.error.starts_with("not well-formed XML at line")) << r.error;
  auto html = h.parse("rss", "https://example.com/feed", fixture("broken/not_json.html"));
  EXPECT_TRUE(html.items.empty());
  EXPECT_FALSE(html.error.empty());
  auto empty = h.parse("rss", "https://example.com/feed", "");
  EXPECT_EQ(empty.error, "empty body where a feed was expected");
}

// Found by fuzzing (fuzz/parsers_fuzz.cc): a feed that declares UTF-8 and
// holds other bytes went through libxml2's recover mode as it was, and the
// crawler's envelope was not JSON (the validator dead-lettered it as
// `decode`). The bad bytes become U+FFFD; the record is valid.
TEST(rss, bytes_that_are_not_utf8_in_a_utf8_feed_become_replacement_characters_and_the_record_is_valid) {
  harness h;
  const std::string feed =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel>"
      "<item><title>Sol\xff\xfe rally</title><link>https://example.com/a</link>"
      "<pubDate>Sun, 29 Nov 2026 01:15:00 +0000</pubDate>"
      "<category>Sola\xff\xff</category><category>\xc3\xa9t\xc3</category></item></channel></rss>";
  auto r = h.parse("rss", "https://example.com/feed", feed);
  ASSERT_EQ(r.items.size(), 1u) << r.error;
  EXPECT_TRUE(msg::is_valid_utf8(r.items[0].data)) << r.items[0].data;
  EXPECT_NE(r.items[0].data.find("Sola\xEF\xBF\xBD\xEF\xBF\xBD"), std::string::npos) << r.items[0].data;
  std::vector<std::string> reasons;
  EXPECT_EQ(valid_records(r, "src", "news", &reasons), 1) << (reasons.empty() ? "" : reasons[0]);
}

// An item URL cut inside a UTF-8 sequence is no envelope (an item error),
// and nothing past its end is read (ASan found rapidjson's validating
// writer reading two bytes beyond it: fuzz/corpus/parsers).
TEST(envelope_builder, a_url_that_is_not_utf8_gives_no_envelope) {
  envelope_builder b;
  b.begin_page("src", "news", "2026-12-07T00:00:00Z", "t", "https://example.com/feed");
  const std::string cut = "https://example.com/\xF0";
  EXPECT_EQ(b.build(cut, R"({"title":"x"})"), nullptr);
  const std::string* ok = b.build("https://example.com/\xC3\xA9", R"({"title":"x"})");
  ASSERT_NE(ok, nullptr);
  EXPECT_TRUE(msg::is_valid_utf8(*ok));
}

TEST(rss, a_bare_ampersand_or_an_html_entity_is_read_past_and_the_feed_is_whole) {
  harness h;
  const std::string feed = R"(<?xml version="1.0"?><rss version="2.0"><channel><title>Q&A</title>
<item><title>Bitcoin & Ether rally</title><link>https://example.com/a?x=1&y=2</link></item>
<item><title>R&amp;D&nbsp;spend</title><link>https://example.com/b</link></item>
<item><title>Third</title><link>https://example.com/c</link><description><![CDATA[<p>a & b</p>]]></description></item>
</channel></rss>)";
  auto r = h.parse("rss", "https://example.com/feed", feed);
  EXPECT_EQ(r.error, "") << "every item was read: the page is ok, not partial";
  ASSERT_EQ(r.items.size(), 3u);
  // Read as a browser reads them: the '&' kept, in the title and in the link (the record's key).
  EXPECT_NE(r.items[0].data.find(R"("title":"Bitcoin & Ether rally")"), std::string::npos) << r.items[0].data;
  EXPECT_EQ(r.items[0].key, "https://example.com/a?x=1&y=2");
  EXPECT_NE(r.items[1].data.find(R"("title":"R&D)"), std::string::npos) << r.items[1].data;
  EXPECT_NE(r.items[1].data.find("spend"), std::string::npos) << r.items[1].data;
  EXPECT_EQ(r.items[2].key, "https://example.com/c");
  EXPECT_NE(r.items[2].data.find(R"("content":"a & b")"), std::string::npos)
      << "CDATA is left as it is: " << r.items[2].data;
  EXPECT_TRUE(r.note.starts_with("read past ")) << r.note;
  EXPECT_NE(r.note.find("line 1"), std::string::npos) << r.note;
  // A defect of another kind after the last item still makes the page partial.
  auto cut = h.parse("rss", "https://example.com/feed", feed.substr(0, feed.find("<item><title>Third")) + "<item><ti");
  EXPECT_EQ(cut.items.size(), 2u);
  EXPECT_TRUE(cut.error.starts_with("not well-formed XML at line")) << cut.error;
}

TEST(rss, ten_thousand_items_in_one_feed) {
  std::string feed = R"(<?xml version="1.0"?><rss version="2.0"><channel><title>big</title>)";
  for (int i = 0; i < 10'000; ++i)
    feed += "<item><title>Item " + std::to_string(i) + "</title><link>https://big.example/" + std::to_string(i) +
            "</link><pubDate>Sun, 29 Nov 2026 01:00:00 +0000</pubDate><description><![CDATA[<p>body " +
            std::to_string(i) + "</p>]]></description></item>";
  feed += "</channel></rss>";
  harness h;
  auto r = h.parse("rss", "https://big.example/feed", feed);
  EXPECT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.items.size(), 10'000u);
  EXPECT_EQ(r.items[9'999].key, "https://big.example/9999");
  EXPECT_EQ(valid_records(r, "big", "news"), 10'000);
}

TEST(generic_json, items_and_fields_by_json_pointer_define_a_source) {
  harness h;
  h.settings.items = "/entries";
  h.settings.fields = {{"title", "/description"}, {"url", "/site"}, {"published_at", "/last_modified"}};
  auto r =
      h.parse("json", "https://www.perplexity.ai/rest/finance/timeline/BTC/entries", fixture("broken/perplexity.json"));
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.items.size(), 2u);
  EXPECT_EQ(r.items[0].key, "https://www.reuters.com/markets/btc-etf-flows");
  EXPECT_EQ(valid_records(r, "perplexity", "news"), 2);
  h.settings.items = "/data";
  EXPECT_EQ(h.parse("json", "u", fixture("broken/perplexity.json")).error, "items pointer '/data' found nothing");
  h.settings.items = "/entries/0/title";
  EXPECT_EQ(h.parse("json", "u", fixture("broken/perplexity.json")).error,
            "items pointer '/entries/0/title' is not an array");
  h.settings.items = "";
  h.settings.fields = {{"symbol", "/market"},
                       {"price", "/trade_price"},
                       {"volume_24h", "/acc_trade_volume_24h"},
                       {"change_24h", "/signed_change_rate"},
                       {"timestamp", "/timestamp"},
                       {"key", "/market"}};
  auto m = h.parse("json", "u", fixture("replay/upbit/ticker_all_1.json"));
  ASSERT_EQ(m.items.size(), 8u) << m.error;
  EXPECT_EQ(m.items[0].key, "KRW-BTC");
  EXPECT_EQ(valid_records(m, "upbit_generic", "market"), 8);
}

TEST(generic_html, items_and_fields_by_xpath_like_a_scrapy_spider) {
  harness h;
  h.settings.items = "//article[@class='news']";
  h.settings.fields = {{"title", ".//h2/a"},
                       {"url", ".//h2/a/@href"},
                       {"published_at", ".//time/@datetime"},
                       {"content", ".//p[@class='lead']"}};
  auto r = h.parse("html", "https://news.example/latest", fixture("broken/news.html"));
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.items.size(), 3u) << "the unclosed third article is recovered";
  EXPECT_EQ(r.items[0].url, "https://news.example/n/101");
  EXPECT_NE(r.items[0].data.find(R"("title":"Bitcoin & gold rally together")"), std::string::npos) << r.items[0].data;
  EXPECT_EQ(r.items[1].url, "https://other.example/n/102");
  EXPECT_EQ(valid_records(r, "html_news", "news"), 3);
  auto changed = h.parse("html", "https://news.example/latest", fixture("broken/news_changed.html"));
  EXPECT_TRUE(changed.items.empty());
  EXPECT_EQ(changed.error, "items XPath '//article[@class='news']' matched nothing: the page layout may have changed");
}

TEST(parsers, hostile_bodies_never_crash_any_parser) {
  const std::vector<std::string> bodies{"",
                                        "null",
                                        "[]",
                                        "{}",
                                        "[null,1,\"x\",[]]",
                                        "{\"data\":{}}",
                                        "<rss>",
                                        std::string(1 << 20, '['),
                                        std::string("\0\0\xff", 3),
                                        "<html><body>"};
  for (const auto& p : parsers()) {
    for (const auto& b : bodies) {
      harness h;
      h.settings.items = p.name == "html" ? "//div" : "/x";
      h.settings.fields = {{"title", p.name == "html" ? "." : "/t"}};
      auto r = h.parse(std::string(p.name), "https://x.example/api/news/list?page=1", b);
      EXPECT_LE(r.items.size(), 4u) << p.name;
      // Nothing readable at all: every parser says so.
      if (b.empty() || b[0] == '\0' || (b[0] == '[' && b.size() > 100)) {
        EXPECT_FALSE(r.error.empty()) << p.name << " on a body of " << b.size() << " bytes";
      }
    }
  }
}

// The crawler writes each item's envelope from a head and middle made once
// per page; they come from the codec, so the bytes are the codec's.
TEST(envelope_builder, writes_exactly_what_the_codec_writes) {
  envelope_builder b;
  b.begin_page("coinness", "news", "2026-12-06T10:00:00.000Z", "cmd \"7\"\t\x01", "https://example.test/list");
  msg::envelope e;
  e.source = "coinness";
  e.kind = "news";
  e.fetched_at = "2026-12-06T10:00:00.000Z";
  e.trace = "cmd \"7\"\t\x01";
  for (const auto& [url, data] : {std::pair<std::string, std::string>{"https://example.test/list", "{}"},
                                  {"https://example.test/뉴스?id=1&q=\"x\"", R"({"title":"비트코인","n":1})"}}) {
    e.url = url;
    e.data.text = data;
    std::string want;
    ASSERT_TRUE(msg::encode(e, want));
    const std::string* got = b.build(url, data);
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(*got, want);
  }
  EXPECT_EQ(b.build("https://example.test/\xff", "{}"), nullptr) << "a URL that is not UTF-8";
  b.begin_page("coin\xffness", "news", "2026-12-06T10:00:00.000Z", "t", "https://example.test/");
  EXPECT_EQ(b.build("https://example.test/", "{}"), nullptr) << "a source that is not UTF-8";
}
