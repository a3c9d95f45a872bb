// What the analyzer derives (kinds on the `insights` topic, each in an
// ordinary envelope whose source is "analyzer"), and db-sink's tables for
// them. Ids are deterministic (msg::record_id over the natural keys below),
// so a replay rewrites nothing twice.
//   indicator  → technical_indicators   key: symbol + interval + candle time
//   sentiment  → sentiment_analysis     key: the news record's id
//   insight    → crypto_insights        key: type + symbol + interval + candle time
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "messages/json.h"

namespace ctk::msg {

// One closed candle of one symbol and interval, with the indicators at its close.
// An indicator is null until enough candles closed for it.
struct indicator_data {
  std::string symbol;
  std::string interval;     // "5m"
  std::string candle_time;  // start of the candle, UTC ISO-8601
  double open = 0, high = 0, low = 0, close = 0, volume = 0;
  std::int64_t records = 0;  // market records merged into the candle
  std::optional<double> sma_short, sma_long, ema_short, ema_long;
  std::optional<double> rsi;
  std::optional<double> macd, macd_signal, macd_hist;
  std::optional<double> bb_upper, bb_middle, bb_lower, bb_percent_b, bb_bandwidth;

  static constexpr auto fields() {
    return std::tuple{field("symbol", &indicator_data::symbol),
                      field("interval", &indicator_data::interval),
                      field("candle_time", &indicator_data::candle_time),
                      field("open", &indicator_data::open),
                      field("high", &indicator_data::high),
                      field("low", &indicator_data::low),
                      field("close", &indicator_data::close),
                      field("volume", &indicator_data::volume),
                      field("records", &indicator_data::records),
                      field("sma_short", &indicator_data::sma_short, false),
                      field("sma_long", &indicator_data::sma_long, false),
                      field("ema_short", &indicator_data::ema_short, false),
                      field("ema_long", &indicator_data::ema_long, false),
                      field("rsi", &indicator_data::rsi, false),
                      field("macd", &indicator_data::macd, false),
                      field("macd_signal", &indicator_data::macd_signal, false),
                      field("macd_hist", &indicator_data::macd_hist, false),
                      field("bb_upper", &indicator_data::bb_upper, false),
                      field("bb_middle", &indicator_data::bb_middle, false),
                      field("bb_lower", &indicator_data::bb_lower, false),
                      field("bb_percent_b", &indicator_data::bb_percent_b, false),
                      field("bb_bandwidth", &indicator_data::bb_bandwidth, false)};
  }
};

// The sentiment of one news record.
struct sentiment_data {
  std::string news_id;               // the news record's id
  std::string news_source;           // "coinness"
  std::string published_at;          // the news record's time
  double score = 0;                  // -1 .. 1
  std::string label;                 // positive | neutral | negative
  double confidence = 0;             // 0 .. 1
  std::string language;              // ko | en
  std::vector<std::string> symbols;  // BTC, ETH, ...
  std::int64_t hits = 0;             // lexicon words found

  static constexpr auto fields() {
    return std::tuple{field("news_id", &sentiment_data::news_id),
                      field("news_source", &sentiment_data::news_source),
                      field("published_at", &sentiment_data::published_at),
                      field("score", &sentiment_data::score),
                      field("label", &sentiment_data::label),
                      field("confidence", &sentiment_data::confidence),
                      field("language", &sentiment_data::language),
                      field("symbols", &sentiment_data::symbols, false),
                      field("hits", &sentiment_data::hits, false)};
  }
};

// One observation worth a person's attention.
struct insight_data {
  std::string type;      // rsi_overbought, macd_cross_up, extreme_fear, ...
  std::string symbol;    // "" for the whole market (fear & greed)
  std::string interval;  // "" when not from a candle
  std::string at;        // the candle's start or the record's time, UTC ISO-8601
  std::string severity;  // info | warning | critical
  std::string text_ko;
  std::string text_en;
  double value = 0;                       // the number that triggered it (RSI, percent, index, ...)
  std::vector<std::string> related_news;  // up to 5 news record ids

  static constexpr auto fields() {
    return std::tuple{field("type", &insight_data::type),
                      field("symbol", &insight_data::symbol, false),
                      field("interval", &insight_data::interval, false),
                      field("at", &insight_data::at),
                      field("severity", &insight_data::severity),
                      field("text_ko", &insight_data::text_ko),
                      field("text_en", &insight_data::text_en),
                      field("value", &insight_data::value),
                      field("related_news", &insight_data::related_news, false)};
  }
};

}  // namespace ctk::msg
