// Candles and technical indicators for one symbol and interval, as
// streaming state that is fed one closed candle at a time. Every state
// lists its fields once (messages/json.h), so a snapshot on the
// analyzer.state topic and a restore are the codec's job, and a restored
// series continues exactly as an uninterrupted one (doubles round-trip).
//
// Conventions (StockCharts ChartSchool's, which the unit tests reproduce):
//   SMA(n)        mean of the last n closes
//   EMA(n)        seeded with the SMA of the first n inputs, then
//                 prev + (x - prev) * 2 / (n + 1)
//   RSI(n)        Wilder: average gain and loss seeded with the simple mean
//                 of the first n changes, then (prev * (n - 1) + x) / n;
//                 100 - 100 / (1 + gain / loss); 100 when loss is 0 (50
//                 when both are 0: a flat series)
//   MACD(f,s,g)   EMA(f) - EMA(s); signal = EMA(g) of the MACD values;
//                 histogram = MACD - signal
//   Bollinger(n,k) middle = SMA(n); upper/lower = middle ± k × population
//                 standard deviation of the last n closes; %b = (close -
//                 lower) / (upper - lower); bandwidth = (upper - lower) / middle
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "messages/analysis.h"
#include "messages/json.h"

namespace ctk::analyzer {

struct periods {
  int sma_short = 20, sma_long = 50, ema_short = 20, ema_long = 50;
  int rsi = 14;
  int macd_fast = 12, macd_slow = 26, macd_signal = 9;
  int bollinger = 20;
  double bollinger_k = 2;
  int price_move = 12;      // candles back for the price-move insight
  int volume_average = 20;  // candles averaged for the volume insight
  // Closes a series keeps: enough for every window above.
  std::size_t history() const;
};

struct ema_state {
  std::int64_t seen = 0;
  double seed_sum = 0;
  std::optional<double> value;

  // Adds x; the EMA once n inputs were seen.
  std::optional<double> push(double x, int n);

  static constexpr auto fields() {
    using msg::field;
    return std::tuple{field("seen", &ema_state::seen), field("seed_sum", &ema_state::seed_sum),
                      field("value", &ema_state::value, false)};
  }
};

struct rsi_state {
  std::int64_t changes = 0;
  double gain_sum = 0, loss_sum = 0;
  std::optional<double> avg_gain, avg_loss, prev_close;

  std::optional<double> push(double close, int n);

  static constexpr auto fields() {
    using msg::field;
    return std::tuple{
        field("changes", &rsi_state::changes),          field("gain_sum", &rsi_state::gain_sum),
        field("loss_sum", &rsi_state::loss_sum),        field("avg_gain", &rsi_state::avg_gain, false),
        field("avg_loss", &rsi_state::avg_loss, false), field("prev_close", &rsi_state::prev_close, false)};
  }
};

// The candle being filled. Out-of-order records of the same bucket merge
// by their own time: open is the earliest record's price, close the latest's.
struct candle {
  std::int64_t bucket = -1;  // start, ms since the epoch; -1: none open
  double open = 0, high = 0, low = 0, close = 0, volume = 0;
  std::int64_t open_ms = 0, close_ms = 0, records = 0;

  void add(std::int64_t t_ms, double price, double volume_24h);

  static constexpr auto fields() {
    using msg::field;
    return std::tuple{
        field("bucket", &candle::bucket),   field("open", &candle::open),         field("high", &candle::high),
        field("low", &candle::low),         field("close", &candle::close),       field("volume", &candle::volume),
        field("open_ms", &candle::open_ms), field("close_ms", &candle::close_ms), field("records", &candle::records)};
  }
};

// What closing a candle yields: the indicator record, and what the insight
// rules compare against (the state before this close). Kept in the state
// while its insights wait for the news of its time (series_state::pending).
struct closed_candle {
  msg::indicator_data row;
  std::optional<double> previous_hist;
  std::optional<double> close_n_back;    // close periods::price_move candles before
  std::optional<double> average_volume;  // of the periods::volume_average candles before
  std::int64_t end_ms = 0;               // the candle's end (its bucket plus the interval)

  static constexpr auto fields() {
    using msg::field;
    return std::tuple{field("row", &closed_candle::row), field("previous_hist", &closed_candle::previous_hist, false),
                      field("close_n_back", &closed_candle::close_n_back, false),
                      field("average_volume", &closed_candle::average_volume, false),
                      field("end_ms", &closed_candle::end_ms)};
  }
};

// One symbol at one interval: the open candle and every indicator's state.
struct series_state {
  candle open;
  std::vector<double> closes;   // closed candles, oldest first, at most periods::history()
  std::vector<double> volumes;  // the same candles' volumes, at most periods::volume_average + 1
  ema_state ema_short, ema_long, macd_fast, macd_slow, macd_signal;
  rsi_state rsi;
  std::optional<double> last_hist;  // MACD histogram at the previous close (for crossings)
  std::int64_t closed_bucket = -1;  // start of the last closed candle: a record for it or before is late
  // Closed candles whose insights wait until the news of their time is in
  // (the news watermark passed their end), oldest first.
  std::vector<closed_candle> pending;
  std::int64_t news_mood = 0;  // -1 / 0 / 1: the news mood at the last judged candle (for crossings)
  bool diverging = false;      // the last judged candle showed a price/news divergence

  static constexpr auto fields() {
    using msg::field;
    return std::tuple{field("open", &series_state::open),
                      field("closes", &series_state::closes),
                      field("volumes", &series_state::volumes),
                      field("ema_short", &series_state::ema_short),
                      field("ema_long", &series_state::ema_long),
                      field("macd_fast", &series_state::macd_fast),
                      field("macd_slow", &series_state::macd_slow),
                      field("macd_signal", &series_state::macd_signal),
                      field("rsi", &series_state::rsi),
                      field("last_hist", &series_state::last_hist, false),
                      field("closed_bucket", &series_state::closed_bucket),
                      field("pending", &series_state::pending, false),
                      field("news_mood", &series_state::news_mood, false),
                      field("diverging", &series_state::diverging, false)};
  }
};

// Closes s.open (which must be open) into the indicators; s.open becomes empty.
closed_candle close_candle(series_state& s, const periods& p, const std::string& symbol, const std::string& interval);

// Batch forms over a whole series (tests and offline checks): element i is
// the value after input i, or nullopt while not enough inputs were seen.
std::vector<std::optional<double>> sma_series(const std::vector<double>& x, int n);
std::vector<std::optional<double>> ema_series(const std::vector<double>& x, int n);
std::vector<std::optional<double>> rsi_series(const std::vector<double>& x, int n);

}  // namespace ctk::analyzer
