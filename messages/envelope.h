// The envelope every data message travels in, the record kinds carried in
// its `data`, and the control-topic and dead-letter messages (messages/README.md).
// Each struct lists its fields once; see json.h for the codec.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "messages/json.h"

namespace ctk::msg {

inline constexpr std::int64_t envelope_version = 1;

struct envelope {
  std::int64_t v = envelope_version;
  std::string id;          // 32 hex; empty on `raw` (the validator computes it)
  std::string source;      // "upbit", "coinness", ...
  std::string kind;        // "market" | "news" | "fear_greed" | ...
  std::string fetched_at;  // UTC ISO-8601 with milliseconds
  std::string url;
  std::string trace;  // id of the crawl command that produced it
  raw_json data;      // kind-specific object

  static constexpr auto fields() {
    return std::tuple{field("v", &envelope::v),
                      field("id", &envelope::id, false),
                      field("source", &envelope::source),
                      field("kind", &envelope::kind),
                      field("fetched_at", &envelope::fetched_at),
                      field("url", &envelope::url, false),
                      field("trace", &envelope::trace, false),
                      field("data", &envelope::data)};
  }
};

// kind = "market" → table market_trends
struct market_data {
  std::string symbol;  // "KRW-BTC"
  double price = 0;
  double volume_24h = 0;
  double change_24h = 0;  // signed fraction, 0.0108 = +1.08 %
  std::string timestamp;  // exchange time, UTC ISO-8601

  static constexpr auto fields() {
    return std::tuple{field("symbol", &market_data::symbol), field("price", &market_data::price),
                      field("volume_24h", &market_data::volume_24h), field("change_24h", &market_data::change_24h),
                      field("timestamp", &market_data::timestamp)};
  }
};

// kind = "news" → table raw_news
struct news_data {
  std::string title;
  std::string url;
  std::string content;
  std::string published_at;
  std::vector<std::string> keywords;
  // Readers' votes where the source has them (Coinness bullCount / bearCount).
  std::optional<std::int64_t> votes_up, votes_down;

  static constexpr auto fields() {
    return std::tuple{field("title", &news_data::title),
                      field("url", &news_data::url, false),
                      field("content", &news_data::content, false),
                      field("published_at", &news_data::published_at),
                      field("keywords", &news_data::keywords, false),
                      field("votes_up", &news_data::votes_up, false),
                      field("votes_down", &news_data::votes_down, false)};
  }
};

// kind = "fear_greed" → table fear_greed_index
struct fear_greed_data {
  std::int64_t value = 0;  // 0..100
  std::string classification;
  std::string timestamp;

  static constexpr auto fields() {
    return std::tuple{field("value", &fear_greed_data::value),
                      field("classification", &fear_greed_data::classification),
                      field("timestamp", &fear_greed_data::timestamp)};
  }
};

// A crawl command on the control topic (key = source). Any Kafka client can
// publish one: {"v":1,"id":"...","source":"upbit","reason":"manual","requested_at":"..."}
struct crawl_command {
  std::int64_t v = envelope_version;
  std::string id;
  std::string source;
  std::string reason = "manual";  // "schedule" | "manual"
  std::string requested_at;
  std::optional<bool> force;

  static constexpr auto fields() {
    return std::tuple{field("v", &crawl_command::v),
                      field("id", &crawl_command::id),
                      field("source", &crawl_command::source),
                      field("reason", &crawl_command::reason, false),
                      field("requested_at", &crawl_command::requested_at, false),
                      field("force", &crawl_command::force, false)};
  }
};

// What a crawler publishes on the reports topic (key = source) after each
// crawl command: `cointicker crawl --wait` and the scheduler read these.
// status: ok (no errors) | partial (records and errors) | failed (errors,
// no records) | refused (unknown or disabled source, bad command).
struct crawl_report {
  std::int64_t v = envelope_version;
  std::string id;  // the crawl command's id (= trace of its records)
  std::string source;
  std::string status;
  std::string actor;  // node/actor/instance
  std::int64_t records = 0;
  std::int64_t errors = 0;  // pages dead-lettered + items skipped
  std::int64_t pages = 0;   // answers handled (304 included)
  std::int64_t not_modified = 0;
  std::int64_t duration_ms = 0;
  std::string started_at;
  std::string finished_at;
  std::string error;  // the first problem, for people

  static constexpr auto fields() {
    return std::tuple{field("v", &crawl_report::v),
                      field("id", &crawl_report::id),
                      field("source", &crawl_report::source),
                      field("status", &crawl_report::status),
                      field("actor", &crawl_report::actor, false),
                      field("records", &crawl_report::records),
                      field("errors", &crawl_report::errors),
                      field("pages", &crawl_report::pages, false),
                      field("not_modified", &crawl_report::not_modified, false),
                      field("duration_ms", &crawl_report::duration_ms, false),
                      field("started_at", &crawl_report::started_at, false),
                      field("finished_at", &crawl_report::finished_at, false),
                      field("error", &crawl_report::error, false)};
  }
};

// What lands on the dead-letter topic: the original bytes, why, and who.
// `original` holds the input when it is valid UTF-8; otherwise
// `original_base64` holds it. Only when the whole record is too large for
// the producer is the original cut (original_truncated, original_size); the
// full bytes remain at topic/partition/offset.
struct dead_letter {
  std::int64_t v = envelope_version;
  std::string reason;  // human-readable: what failed and where
  std::string rule;    // machine-readable: "decode", "price_positive", ...
  std::string actor;   // node/actor/instance
  std::string topic;
  std::int64_t partition = -1;
  std::int64_t offset = -1;
  std::string at;
  std::optional<std::string> key;
  std::optional<std::string> original;
  std::optional<std::string> original_base64;
  std::optional<std::int64_t> original_size;  // set when original is truncated
  std::optional<bool> original_truncated;

  static constexpr auto fields() {
    return std::tuple{field("v", &dead_letter::v),
                      field("reason", &dead_letter::reason),
                      field("rule", &dead_letter::rule, false),
                      field("actor", &dead_letter::actor, false),
                      field("topic", &dead_letter::topic, false),
                      field("partition", &dead_letter::partition, false),
                      field("offset", &dead_letter::offset, false),
                      field("at", &dead_letter::at, false),
                      field("key", &dead_letter::key, false),
                      field("original", &dead_letter::original, false),
                      field("original_base64", &dead_letter::original_base64, false),
                      field("original_size", &dead_letter::original_size, false),
                      field("original_truncated", &dead_letter::original_truncated, false)};
  }

  // Stores `bytes` in `original`, or base64 in `original_base64` when they are not UTF-8.
  void set_original(std::string_view bytes);
};

// The one rule for a source name, applied by the validator and by both
// sinks alike: 1..64 of A-Z a-z 0-9 _ - ., not "." or "..". A source names
// a folder in HDFS (/raw/{source}/…) and a value in PostgreSQL; a name one
// sink could store and the other not would make them disagree.
bool valid_source(std::string_view s);
// The ranges a market record's numbers must be in: the validator refuses
// others, so whatever it passes every consumer can use (the analyzer's
// candles and indicators included).
inline constexpr double max_price = 1e15;
inline constexpr double max_volume = 1e18;
inline constexpr const char* valid_source_rule = "source must be 1..64 of A-Z a-z 0-9 _ - . (it names a folder)";

// 128-bit xxHash (XXH3) of source + natural key, as 32 lower-case hex.
std::string record_id(std::string_view source, std::string_view natural_key);

// Natural keys: what makes two records the same record (a source's id,
// or its fields); the validator computes them from normalised records.
std::string natural_key(const news_data& d);
std::string natural_key(const market_data& d);
std::string natural_key(const fear_greed_data& d);

bool is_valid_utf8(std::string_view s);
std::string base64_encode(std::string_view bytes);

// Current UTC time as ISO-8601 with milliseconds: 2026-11-23T11:00:00.123Z
std::string utc_now_iso();
// Current wall-clock time in ms since the Unix epoch.
std::int64_t utc_now_ms();
// ms since the epoch as the same form.
std::string format_utc_ms(std::int64_t ms);

}  // namespace ctk::msg
