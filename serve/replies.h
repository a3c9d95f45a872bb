// What the REST API answers and accepts, as described structs for the
// project's JSON codec (messages/json.h). serve/openapi.json documents the
// same shapes; tests/integration/serve_test.cc checks both against each other.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "messages/envelope.h"
#include "messages/json.h"

namespace ctk::serve {

using msg::field;

struct error_reply {
  std::string error;      // what is wrong, for a person
  std::string parameter;  // the query parameter or body field at fault; "" when none
  static constexpr auto fields() {
    return std::tuple{field("error", &error_reply::error), field("parameter", &error_reply::parameter, false)};
  }
};

struct market_item {
  std::string symbol;
  double price = 0, change_24h = 0, volume_24h = 0;
  std::string timestamp;
  msg::raw_json spark;  // up to 32 latest prices, oldest first
  static constexpr auto fields() {
    return std::tuple{field("symbol", &market_item::symbol),         field("price", &market_item::price),
                      field("change_24h", &market_item::change_24h), field("volume_24h", &market_item::volume_24h),
                      field("timestamp", &market_item::timestamp),   field("spark", &market_item::spark)};
  }
};
struct markets_reply {
  std::vector<market_item> items;
  std::vector<std::string> intervals;  // the analyzer's candle intervals (analyzer.intervals)
  static constexpr auto fields() {
    return std::tuple{field("items", &markets_reply::items), field("intervals", &markets_reply::intervals)};
  }
};

struct candle_item {
  std::string time;
  std::optional<double> open, high, low, close, volume, sma_short, sma_long, ema_short, ema_long, rsi, macd,
      macd_signal, macd_hist, bb_upper, bb_middle, bb_lower, bb_percent_b, bb_bandwidth;
  static constexpr auto fields() {
    using c = candle_item;
    return std::tuple{field("time", &c::time),
                      field("open", &c::open, false),
                      field("high", &c::high, false),
                      field("low", &c::low, false),
                      field("close", &c::close, false),
                      field("volume", &c::volume, false),
                      field("sma_short", &c::sma_short, false),
                      field("sma_long", &c::sma_long, false),
                      field("ema_short", &c::ema_short, false),
                      field("ema_long", &c::ema_long, false),
                      field("rsi", &c::rsi, false),
                      field("macd", &c::macd, false),
                      field("macd_signal", &c::macd_signal, false),
                      field("macd_hist", &c::macd_hist, false),
                      field("bb_upper", &c::bb_upper, false),
                      field("bb_middle", &c::bb_middle, false),
                      field("bb_lower", &c::bb_lower, false),
                      field("bb_percent_b", &c::bb_percent_b, false),
                      field("bb_bandwidth", &c::bb_bandwidth, false)};
  }
};
struct tick_item {
  std::string time;
  double price = 0, volume_24h = 0;
  static constexpr auto fields() {
    return std::tuple{field("time", &tick_item::time), field("price", &tick_item::price),
                      field("volume_24h", &tick_item::volume_24h)};
  }
};
struct history_reply {
  std::string symbol, interval;
  std::vector<candle_item> candles;  // oldest first
  std::vector<tick_item> ticks;      // oldest first
  static constexpr auto fields() {
    return std::tuple{field("symbol", &history_reply::symbol), field("interval", &history_reply::interval),
                      field("candles", &history_reply::candles), field("ticks", &history_reply::ticks)};
  }
};

struct news_item {
  std::string id, source, title, url, published_at;
  msg::raw_json keywords;
  std::optional<double> score;  // null until the analyzer scored it
  std::string label, language;  // "" until then
  msg::raw_json symbols;
  static constexpr auto fields() {
    using n = news_item;
    return std::tuple{field("id", &n::id),
                      field("source", &n::source),
                      field("title", &n::title),
                      field("url", &n::url),
                      field("published_at", &n::published_at),
                      field("keywords", &n::keywords),
                      field("score", &n::score, false),
                      field("label", &n::label),
                      field("language", &n::language),
                      field("symbols", &n::symbols)};
  }
};
struct news_reply {
  std::vector<news_item> items;  // newest first
  std::string next_cursor;       // "" on the last page
  static constexpr auto fields() {
    return std::tuple{field("items", &news_reply::items), field("next_cursor", &news_reply::next_cursor)};
  }
};

struct fear_greed_item {
  std::string source;
  std::int64_t value = 0;
  std::string classification, timestamp;
  static constexpr auto fields() {
    return std::tuple{field("source", &fear_greed_item::source), field("value", &fear_greed_item::value),
                      field("classification", &fear_greed_item::classification),
                      field("timestamp", &fear_greed_item::timestamp)};
  }
};
struct fear_greed_reply {
  std::optional<fear_greed_item> latest;
  std::vector<fear_greed_item> history;  // oldest first
  static constexpr auto fields() {
    return std::tuple{field("latest", &fear_greed_reply::latest, false), field("history", &fear_greed_reply::history)};
  }
};

struct sentiment_item {
  std::string symbol, day;
  std::int64_t count = 0;
  double mean = 0;
  std::int64_t positive = 0, neutral = 0, negative = 0;
  static constexpr auto fields() {
    using s = sentiment_item;
    return std::tuple{field("symbol", &s::symbol),    field("day", &s::day),           field("count", &s::count),
                      field("mean", &s::mean),        field("positive", &s::positive), field("neutral", &s::neutral),
                      field("negative", &s::negative)};
  }
};
struct sentiment_reply {
  std::vector<sentiment_item> items;
  static constexpr auto fields() { return std::tuple{field("items", &sentiment_reply::items)}; }
};

struct insight_item {
  std::string id, symbol, type, severity, interval, text_ko, text_en;
  std::optional<double> value;
  msg::raw_json related_news;
  std::string timestamp;
  static constexpr auto fields() {
    using i = insight_item;
    return std::tuple{field("id", &i::id),
                      field("symbol", &i::symbol),
                      field("type", &i::type),
                      field("severity", &i::severity),
                      field("interval", &i::interval),
                      field("text_ko", &i::text_ko),
                      field("text_en", &i::text_en),
                      field("value", &i::value, false),
                      field("related_news", &i::related_news),
                      field("timestamp", &i::timestamp)};
  }
};
struct insights_reply {
  std::vector<insight_item> items;  // newest first
  static constexpr auto fields() { return std::tuple{field("items", &insights_reply::items)}; }
};

struct source_item {
  std::string name, kind;
  bool enabled = true;
  std::string disabled_reason;
  static constexpr auto fields() {
    return std::tuple{field("name", &source_item::name), field("kind", &source_item::kind),
                      field("enabled", &source_item::enabled),
                      field("disabled_reason", &source_item::disabled_reason, false)};
  }
};
struct lag_item {
  std::string group;
  std::int64_t lag = 0;
  static constexpr auto fields() { return std::tuple{field("group", &lag_item::group), field("lag", &lag_item::lag)}; }
};
struct topic_item {
  std::string name;
  std::int64_t partitions = 0, messages = 0, end = 0;
  std::vector<lag_item> lags;  // the pipeline's groups that committed on it
  static constexpr auto fields() {
    return std::tuple{field("name", &topic_item::name), field("partitions", &topic_item::partitions),
                      field("messages", &topic_item::messages), field("end", &topic_item::end),
                      field("lags", &topic_item::lags)};
  }
};
struct cluster_reply {
  msg::raw_json scheduler;  // the scheduler's status answer (`cointicker status --json`)
  std::vector<source_item> sources;
  std::vector<topic_item> topics;  // the pipeline's topics (`cointicker topics`)
  std::string topics_error;        // why topics is empty, when Kafka did not answer
  static constexpr auto fields() {
    return std::tuple{field("scheduler", &cluster_reply::scheduler), field("sources", &cluster_reply::sources),
                      field("topics", &cluster_reply::topics),
                      field("topics_error", &cluster_reply::topics_error, false)};
  }
};

// POST /api/v1/actions/crawl
struct crawl_request {
  std::string source;
  std::optional<bool> force;
  std::optional<std::int64_t> wait_ms;  // default 60000; 0: do not wait for the report
  static constexpr auto fields() {
    return std::tuple{field("source", &crawl_request::source), field("force", &crawl_request::force, false),
                      field("wait_ms", &crawl_request::wait_ms, false)};
  }
};
struct crawl_reply {
  std::string id, source;
  std::optional<msg::crawl_report> report;  // absent: not reported within wait_ms (202)
  static constexpr auto fields() {
    return std::tuple{field("id", &crawl_reply::id), field("source", &crawl_reply::source),
                      field("report", &crawl_reply::report, false)};
  }
};

// POST /api/v1/actions/ctl
struct ctl_request {
  std::string cmd;  // pause | resume | drain
  std::string node, actor, instance;
  static constexpr auto fields() {
    return std::tuple{field("cmd", &ctl_request::cmd), field("node", &ctl_request::node, false),
                      field("actor", &ctl_request::actor, false), field("instance", &ctl_request::instance, false)};
  }
};

}  // namespace ctk::serve
