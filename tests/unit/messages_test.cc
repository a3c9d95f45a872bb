#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "messages/envelope.h"
#include "messages/text.h"

using namespace ctk::msg;

namespace {
envelope sample() {
  envelope e;
  e.id = record_id("upbit", "KRW-BTC|2026-11-23T11:00:00.000Z");
  e.source = "upbit";
  e.kind = "market";
  e.fetched_at = "2026-11-23T11:00:00.123Z";
  e.url = "https://api.upbit.com/v1/ticker/all?quote_currencies=KRW";
  e.trace = "cmd-1";
  market_data d{"KRW-BTC", 80123456.5, 1234.5678, -0.0108, "2026-11-23T11:00:00.000Z"};
  std::string data;
  EXPECT_TRUE(encode(d, data));
  e.data.text = data;
  return e;
}
}  // namespace

TEST(envelope_codec, an_envelope_survives_encode_then_decode) {
  envelope e = sample(), back;
  std::string json;
  ASSERT_TRUE(encode(e, json));
  json_decoder dec;
  decode_error err;
  ASSERT_TRUE(dec.decode(json, back, err)) << err.to_string();
  EXPECT_EQ(back.id, e.id);
  EXPECT_EQ(back.source, "upbit");
  EXPECT_EQ(back.data, e.data);
  market_data m;
  ASSERT_TRUE(dec.decode(back.data.text, m, err)) << err.to_string();
  EXPECT_EQ(m.symbol, "KRW-BTC");
  EXPECT_EQ(m.price, 80123456.5);
  EXPECT_EQ(m.change_24h, -0.0108);
}

TEST(envelope_codec, every_record_kind_round_trips) {
  json_decoder dec;
  decode_error err;
  std::string json;
  news_data n{
      "비트코인 \"급등\"\n", "https://example.com/a?b=1", "<p>body</p>", "2026-11-23T00:00:00Z", {"BTC", "ETH"}};
  ASSERT_TRUE(encode(n, json));
  news_data n2;
  ASSERT_TRUE(dec.decode(json, n2, err)) << err.to_string();
  EXPECT_EQ(n2.title, n.title);
  EXPECT_EQ(n2.keywords, n.keywords);
  fear_greed_data f{47, "Neutral", "2026-11-23T00:00:00Z"}, f2;
  ASSERT_TRUE(encode(f, json));
  ASSERT_TRUE(dec.decode(json, f2, err));
  EXPECT_EQ(f2.value, 47);
  crawl_command c{1, "c1", "upbit", "manual", "2026-11-23T00:00:00Z", true}, c2;
  ASSERT_TRUE(encode(c, json));
  ASSERT_TRUE(dec.decode(json, c2, err));
  EXPECT_EQ(c2.force, std::optional<bool>(true));
  dead_letter d, d2;
  d.reason = "price: must be > 0";
  d.set_original(std::string_view("\xff\xfe bad", 6));
  ASSERT_TRUE(encode(d, json));
  ASSERT_TRUE(dec.decode(json, d2, err)) << err.to_string();
  EXPECT_FALSE(d2.original.has_value());
  EXPECT_EQ(d2.original_base64, std::optional<std::string>("//4gYmFk"));
}

TEST(envelope_codec, control_characters_and_quotes_are_escaped) {
  news_data n{std::string("a\"b\\c\x01\t\n", 8), "", "", "t", {}};
  std::string json;
  ASSERT_TRUE(encode(n, json));
  EXPECT_NE(json.find(R"(a\"b\\c\u0001\t\n)"), std::string::npos) << json;
}

TEST(envelope_codec, strings_are_written_exactly_as_rapidjson_escapes_them) {
  // The encoder copies strings that need no escaping in one piece; whatever
  // the bytes, its output must equal rapidjson's own per-byte writer.
  std::mt19937 rng(7);
  const std::string ascii = "abc \"\\/\x01\x1f\x7f\t\n";  // 12 bytes
  for (int i = 0; i < 5000; ++i) {
    std::string v;
    const int len = static_cast<int>(rng() % 40);
    for (int k = 0; k < len; ++k) {
      auto pick = rng() % (ascii.size() + 2);  // or a whole UTF-8 sequence: é, €
      // Every other string gets at most one byte to escape, at a random place,
      // so that long runs take the eight-at-a-time path.
      if (i % 2 && pick >= 4 && pick <= 10 && pick != 6 && k != len / 2) pick = k % 4;
      if (pick == ascii.size())
        v += "\xc3\xa9";
      else if (pick == ascii.size() + 1)
        v += "\xe2\x82\xac";
      else
        v += ascii[pick];
    }
    fear_greed_data f{1, v, "t"};
    std::string ours;
    ASSERT_TRUE(encode(f, ours));
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    w.Key("value");
    w.Int64(1);
    w.Key("classification");
    w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
    w.Key("timestamp");
    w.String("t");
    w.EndObject();
    ASSERT_EQ(ours, std::string(buf.GetString(), buf.GetSize())) << i;
  }
}

TEST(envelope_codec, doubles_round_trip_exactly) {
  std::mt19937_64 rng(42);
  json_decoder dec;
  decode_error err;
  for (int i = 0; i < 20000; ++i) {
    std::uint64_t bits = rng();
    double v;
    std::memcpy(&v, &bits, sizeof v);
    if (!std::isfinite(v)) continue;
    market_data m{"X", v, -v, v / 3, "t"}, back;
    std::string json;
    ASSERT_TRUE(encode(m, json));
    ASSERT_TRUE(dec.decode(json, back, err)) << json << " " << err.to_string();
    ASSERT_EQ(back.price, v) << json;
    ASSERT_EQ(back.volume_24h, -v);
  }
}

TEST(envelope_codec, integer_extremes_round_trip) {
  fear_greed_data f{std::numeric_limits<std::int64_t>::min(), "x", "t"}, back;
  std::string json;
  json_decoder dec;
  decode_error err;
  ASSERT_TRUE(encode(f, json));
  ASSERT_TRUE(dec.decode(json, back, err));
  EXPECT_EQ(back.value, f.value);
}

TEST(envelope_codec, nan_and_infinity_are_refused_by_the_encoder) {
  std::string json, err;
  market_data m{"X", std::nan(""), 0, 0, "t"};
  EXPECT_FALSE(encode(m, json, &err));
  EXPECT_NE(err.find("price"), std::string::npos) << err;
  m.price = std::numeric_limits<double>::infinity();
  EXPECT_FALSE(encode(m, json, &err));
}

TEST(envelope_codec, invalid_utf8_is_refused_by_the_encoder_with_the_field_named) {
  news_data n{"ok", "", std::string("bad \xc3\x28 here"), "t", {}};
  std::string json, err;
  EXPECT_FALSE(encode(n, json, &err));
  EXPECT_NE(err.find("content"), std::string::npos) << err;
}

TEST(envelope_decoding, invalid_utf8_is_an_error) {
  envelope e;
  decode_error err;
  json_decoder dec;
  std::string json = "{\"v\":1,\"source\":\"\xc3\x28\",\"kind\":\"news\",\"fetched_at\":\"t\",\"data\":{}}";
  EXPECT_FALSE(dec.decode(json, e, err));
  EXPECT_NE(err.what.find("UTF-8"), std::string::npos) << err.to_string();
}

TEST(envelope_decoding, wrong_types_name_the_field) {
  json_decoder dec;
  decode_error err;
  market_data m;
  EXPECT_FALSE(dec.decode(R"({"symbol":"X","price":"12","volume_24h":1,"change_24h":0,"timestamp":"t"})", m, err));
  EXPECT_EQ(err.path, "price");
  EXPECT_EQ(err.what, "expected number, got string");
  news_data n;
  EXPECT_FALSE(dec.decode(R"({"title":"t","published_at":"p","keywords":["a",2]})", n, err));
  EXPECT_EQ(err.path, "keywords[1]");
  fear_greed_data f;
  EXPECT_FALSE(dec.decode(R"({"value":47.5,"classification":"c","timestamp":"t"})", f, err));
  EXPECT_EQ(err.path, "value");
  // simdjson refuses integers beyond 64 bits while parsing, before any field is read.
  EXPECT_FALSE(dec.decode(R"({"value":99999999999999999999,"classification":"c","timestamp":"t"})", f, err));
  EXPECT_NE(err.to_string().find("number"), std::string::npos) << err.to_string();
  EXPECT_FALSE(dec.decode(R"({"value":9223372036854775808,"classification":"c","timestamp":"t"})", f, err));
  EXPECT_EQ(err.path, "value");
}

TEST(envelope_decoding, a_missing_required_field_is_named) {
  json_decoder dec;
  decode_error err;
  envelope e;
  EXPECT_FALSE(dec.decode(R"({"v":1,"source":"s","fetched_at":"t","data":{}})", e, err));
  EXPECT_EQ(err.path, "kind");
  EXPECT_EQ(err.what, "required field is missing");
}

TEST(envelope_decoding, every_truncation_of_a_valid_envelope_is_an_error_not_a_crash) {
  std::string json;
  ASSERT_TRUE(encode(sample(), json));
  json_decoder dec;
  for (std::size_t n = 0; n < json.size(); ++n) {
    envelope e;
    decode_error err;
    EXPECT_FALSE(dec.decode(std::string_view(json.data(), n), e, err)) << n;
    EXPECT_FALSE(err.to_string().empty());
  }
}

TEST(envelope_decoding, garbage_is_an_error) {
  json_decoder dec;
  envelope e;
  decode_error err;
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 200, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    EXPECT_FALSE(dec.decode(s, e, err));
  }
  for (const char* s : {"", "null", "[]", "42", "\"str\"", "{", "}", "{\"v\":1}{}", "{\"v\":tru}"}) {
    EXPECT_FALSE(dec.decode(s, e, err)) << s;
  }
}

TEST(envelope_decoding, a_syntax_error_says_at_which_byte) {
  json_decoder dec;
  envelope e;
  decode_error err;
  EXPECT_FALSE(dec.decode(R"({"v":1,"source":"s",,"kind":"k"})", e, err));
  EXPECT_EQ(err.offset, 20) << err.to_string();
  EXPECT_NE(err.to_string().find("(at byte 20)"), std::string::npos) << err.to_string();
  EXPECT_FALSE(dec.decode(R"({"v":1} {"v":2})", e, err));
  EXPECT_EQ(err.offset, 8) << err.to_string();
}

TEST(envelope_decoding, deep_nesting_is_refused_without_recursion) {
  std::string deep = R"({"v":1,"source":"s","kind":"k","fetched_at":"t","data":)";
  deep += std::string(100000, '[') + std::string(100000, ']') + "}";
  json_decoder dec;
  envelope e;
  decode_error err;
  EXPECT_FALSE(dec.decode(deep, e, err));
  EXPECT_NE(err.what.find("too deep"), std::string::npos) << err.to_string();
}

TEST(envelope_decoding, a_megabyte_of_open_brackets_is_an_error_not_a_stack_overflow) {
  // Not JSON at all, so the error path looks for the offset of the first
  // error: with a recursive parser that took a stack frame per bracket.
  json_decoder dec;
  envelope e;
  decode_error err;
  EXPECT_FALSE(dec.decode(std::string(1 << 20, '['), e, err));
  EXPECT_NE(err.what.find("not JSON"), std::string::npos) << err.to_string();
}

TEST(envelope_decoding, a_ten_megabyte_string_round_trips) {
  news_data n{"big", "", std::string(10 << 20, 'x'), "t", {}}, back;
  n.content[12345] = '"';
  std::string json;
  ASSERT_TRUE(encode(n, json));
  json_decoder dec;
  decode_error err;
  ASSERT_TRUE(dec.decode(json, back, err)) << err.to_string();
  EXPECT_EQ(back.content, n.content);
}

TEST(envelope_decoding, unknown_fields_are_ignored_for_forward_compatibility) {
  json_decoder dec;
  decode_error err;
  fear_greed_data f;
  ASSERT_TRUE(dec.decode(R"({"value":1,"extra":{"deep":[1,2]},"classification":"c","timestamp":"t"})", f, err));
  EXPECT_EQ(f.value, 1);
}

TEST(envelope_decoding, a_reused_struct_keeps_nothing_from_the_previous_message) {
  json_decoder dec;
  decode_error err;
  envelope e;
  ASSERT_TRUE(dec.decode(R"({"v":1,"id":"x","source":"s","kind":"k","fetched_at":"t","url":"u","trace":"r","data":{}})",
                         e, err));
  EXPECT_EQ(e.url, "u");
  ASSERT_TRUE(dec.decode(R"({"v":1,"source":"s2","kind":"k","fetched_at":"t","data":{"a":1}})", e, err));
  EXPECT_EQ(e.id, "");
  EXPECT_EQ(e.url, "");
  EXPECT_EQ(e.trace, "");
  EXPECT_EQ(e.source, "s2");
  news_data n;
  ASSERT_TRUE(dec.decode(R"({"title":"a","published_at":"t","keywords":["k1","k2"],"content":"c"})", n, err));
  ASSERT_TRUE(dec.decode(R"({"title":"b","published_at":"t"})", n, err));
  EXPECT_TRUE(n.keywords.empty());
  EXPECT_EQ(n.content, "");
}

TEST(envelope_decoding, in_place_data_is_the_parsed_element_not_text) {
  json_decoder dec;
  decode_error err;
  envelope e;
  ASSERT_TRUE(
      dec.decode_in_place(R"({"v":1,"source":"s","kind":"k","fetched_at":"t","data":{"price":"1.5"}})", e, err));
  EXPECT_EQ(e.data.text, "");
  std::string_view price;
  ASSERT_FALSE(e.data.dom["price"].get(price));
  EXPECT_EQ(price, "1.5");
}

TEST(envelope_decoding, data_keeps_nested_json_compactly) {
  json_decoder dec;
  decode_error err;
  envelope e;
  ASSERT_TRUE(
      dec.decode(R"({"v":1,"source":"s","kind":"k","fetched_at":"t","data": { "a" : [1, 2.5, "x"] } })", e, err));
  EXPECT_EQ(e.data.text, R"({"a":[1,2.5,"x"]})");
}

TEST(record_ids, are_32_hex_characters_and_stable_across_versions) {
  // Ids are primary keys in PostgreSQL and names in HDFS: they must never change.
  EXPECT_EQ(record_id("upbit", "KRW-BTC|2026-11-23T11:00:00.000Z").size(), 32u);
  EXPECT_EQ(record_id("coinness", "https://coinness.com/news/123456"),
            record_id("coinness", "https://coinness.com/news/123456"));
  // Golden values checked independently with xxhsum -H2 (XXH128) on "source\x1fkey":
  //   printf 'upbit\x1fKRW-BTC|2026-11-23T11:00:00.000Z' | xxhsum -H2
  EXPECT_EQ(record_id("a", ""), "566f3d6d75c4562f2b857f0c5aa07b2f");
  EXPECT_EQ(record_id("upbit", "KRW-BTC|2026-11-23T11:00:00.000Z"), "d98f01952c54ee3fba63f480248fc575");
}

TEST(record_ids, source_and_key_boundaries_cannot_collide) {
  EXPECT_NE(record_id("ab", "c"), record_id("a", "bc"));
  EXPECT_NE(record_id("upbit", "x"), record_id("coinness", "x"));
}

TEST(record_ids, natural_keys_follow_the_design) {
  news_data n{"Title", "https://x/1", "", "t", {}};
  EXPECT_EQ(natural_key(n), "https://x/1");
  n.url.clear();
  EXPECT_EQ(natural_key(n), "title:Title");
  EXPECT_EQ(natural_key(market_data{"KRW-BTC", 1, 1, 0, "T"}), "KRW-BTC|T");
}

TEST(base64, matches_rfc4648_vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(text, valid_utf8_replaces_each_ill_formed_byte_and_keeps_every_well_formed_sequence) {
  using ctk::text::valid_utf8;
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(valid_utf8("plain ascii"), "plain ascii");
  EXPECT_EQ(valid_utf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xED\x9F\xBF"),
            "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xED\x9F\xBF");
  EXPECT_EQ(valid_utf8("a\xFF"
                       "b"),
            "a" + fffd + "b");                                           // never a lead byte
  EXPECT_EQ(valid_utf8("\x80"), fffd);                                   // a stray continuation
  EXPECT_EQ(valid_utf8("\xC3"), fffd);                                   // cut at the end
  EXPECT_EQ(valid_utf8("\xC3x"), fffd + "x");                            // cut in the middle
  EXPECT_EQ(valid_utf8("\xC0\xAF"), fffd + fffd);                        // overlong '/'
  EXPECT_EQ(valid_utf8("\xE0\x80\xAF"), fffd + fffd + fffd);             // overlong, three bytes
  EXPECT_EQ(valid_utf8("\xED\xA0\x80"), fffd + fffd + fffd);             // a surrogate
  EXPECT_EQ(valid_utf8("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // beyond U+10FFFF
  EXPECT_TRUE(ctk::msg::is_valid_utf8(valid_utf8("\xF0\x9F\x98")));
}
