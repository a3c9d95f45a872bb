#include "actors/analyzer/indicators.h"

#include <algorithm>
#include <cmath>

#include "actors/validator/normalize.h"

namespace ctk::analyzer {

std::size_t periods::history() const {
  const int longest = std::max({sma_short, sma_long, bollinger, price_move + 1, rsi + 1, 1});
  return static_cast<std::size_t>(longest);
}

std::optional<double> ema_state::push(double x, int n) {
  ++seen;
  if (!value) {
    seed_sum += x;
    if (seen == n) value = seed_sum / n;
    return value;
  }
  value = *value + (x - *value) * (2.0 / (n + 1));
  return value;
}

std::optional<double> rsi_state::push(double close, int n) {
  if (!prev_close) {
    prev_close = close;
    return std::nullopt;
  }
  const double change = close - *prev_close;
  prev_close = close;
  const double gain = change > 0 ? change : 0, loss = change < 0 ? -change : 0;
  ++changes;
  if (!avg_gain) {
    gain_sum += gain;
    loss_sum += loss;
    if (changes < n) return std::nullopt;
    avg_gain = gain_sum / n;
    avg_loss = loss_sum / n;
  } else {
    avg_gain = (*avg_gain * (n - 1) + gain) / n;
    avg_loss = (*avg_loss * (n - 1) + loss) / n;
  }
  if (*avg_loss == 0) return *avg_gain == 0 ? 50.0 : 100.0;
  return 100.0 - 100.0 / (1.0 + *avg_gain / *avg_loss);
}

void candle::add(std::int64_t t_ms, double price, double volume_24h) {
  if (records == 0) {
    open = high = low = close = price;
    open_ms = close_ms = t_ms;
    volume = volume_24h;
  } else {
    high = std::max(high, price);
    low = std::min(low, price);
    if (t_ms < open_ms) {
      open_ms = t_ms;
      open = price;
    }
    if (t_ms >= close_ms) {
      close_ms = t_ms;
      close = price;
      volume = volume_24h;  // the source's rolling 24 h volume as of the candle's last record
    }
  }
  ++records;
}

namespace {

std::optional<double> mean_of_last(const std::vector<double>& x, int n) {
  if (n <= 0 || x.size() < static_cast<std::size_t>(n)) return std::nullopt;
  double sum = 0;
  for (auto it = x.end() - n; it != x.end(); ++it) sum += *it;
  return sum / n;
}

void keep_last(std::vector<double>& x, std::size_t n) {
  if (x.size() > n) x.erase(x.begin(), x.end() - static_cast<std::ptrdiff_t>(n));
}

}  // namespace

closed_candle close_candle(series_state& s, const periods& p, const std::string& symbol, const std::string& interval) {
  closed_candle out;
  const candle& c = s.open;
  // What the insight rules compare against, before this candle joins the history.
  if (s.closes.size() >= static_cast<std::size_t>(p.price_move))
    out.close_n_back = s.closes[s.closes.size() - static_cast<std::size_t>(p.price_move)];
  out.average_volume = mean_of_last(s.volumes, p.volume_average);
  out.previous_hist = s.last_hist;

  s.closes.push_back(c.close);
  s.volumes.push_back(c.volume);
  keep_last(s.closes, p.history());
  keep_last(s.volumes, static_cast<std::size_t>(p.volume_average));

  msg::indicator_data& r = out.row;
  r.symbol = symbol;
  r.interval = interval;
  r.candle_time = validator::format_utc_ms(c.bucket);
  r.open = c.open;
  r.high = c.high;
  r.low = c.low;
  r.close = c.close;
  r.volume = c.volume;
  r.records = c.records;
  r.sma_short = mean_of_last(s.closes, p.sma_short);
  r.sma_long = mean_of_last(s.closes, p.sma_long);
  r.ema_short = s.ema_short.push(c.close, p.ema_short);
  r.ema_long = s.ema_long.push(c.close, p.ema_long);
  r.rsi = s.rsi.push(c.close, p.rsi);
  const auto fast = s.macd_fast.push(c.close, p.macd_fast);
  const auto slow = s.macd_slow.push(c.close, p.macd_slow);
  if (fast && slow) {
    r.macd = *fast - *slow;
    r.macd_signal = s.macd_signal.push(*r.macd, p.macd_signal);
    if (r.macd_signal) r.macd_hist = *r.macd - *r.macd_signal;
  }
  s.last_hist = r.macd_hist;
  s.closed_bucket = c.bucket;
  if (auto mid = mean_of_last(s.closes, p.bollinger)) {
    double var = 0;
    for (auto it = s.closes.end() - p.bollinger; it != s.closes.end(); ++it) var += (*it - *mid) * (*it - *mid);
    const double sd = std::sqrt(var / p.bollinger);
    r.bb_middle = mid;
    r.bb_upper = *mid + p.bollinger_k * sd;
    r.bb_lower = *mid - p.bollinger_k * sd;
    if (*r.bb_upper > *r.bb_lower) r.bb_percent_b = (c.close - *r.bb_lower) / (*r.bb_upper - *r.bb_lower);
    if (*mid != 0) r.bb_bandwidth = (*r.bb_upper - *r.bb_lower) / *mid;
  }
  s.open = candle{};
  return out;
}

// ---- batch forms: plain loops over the whole series, written apart from
// the streaming states above so that each checks the other.

std::vector<std::optional<double>> sma_series(const std::vector<double>& x, int n) {
  std::vector<std::optional<double>> out(x.size());
  for (std::size_t i = static_cast<std::size_t>(n) - 1; i < x.size(); ++i) {
    double sum = 0;
    for (std::size_t k = i + 1 - static_cast<std::size_t>(n); k <= i; ++k) sum += x[k];
    out[i] = sum / n;
  }
  return out;
}

std::vector<std::optional<double>> ema_series(const std::vector<double>& x, int n) {
  std::vector<std::optional<double>> out(x.size());
  if (x.size() < static_cast<std::size_t>(n)) return out;
  double sum = 0;
  for (int k = 0; k < n; ++k) sum += x[static_cast<std::size_t>(k)];
  double e = sum / n;
  out[static_cast<std::size_t>(n - 1)] = e;
  const double alpha = 2.0 / (n + 1);
  for (std::size_t i = static_cast<std::size_t>(n); i < x.size(); ++i) {
    e = alpha * x[i] + (1 - alpha) * e;
    out[i] = e;
  }
  return out;
}

std::vector<std::optional<double>> rsi_series(const std::vector<double>& x, int n) {
  std::vector<std::optional<double>> out(x.size());
  if (x.size() <= static_cast<std::size_t>(n)) return out;
  double g = 0, l = 0;
  for (int k = 1; k <= n; ++k) {
    const double d = x[static_cast<std::size_t>(k)] - x[static_cast<std::size_t>(k - 1)];
    (d > 0 ? g : l) += std::abs(d);
  }
  g /= n;
  l /= n;
  const auto value = [](double gain, double loss) {
    if (loss == 0) return gain == 0 ? 50.0 : 100.0;
    return 100.0 - 100.0 / (1.0 + gain / loss);
  };
  out[static_cast<std::size_t>(n)] = value(g, l);
  for (std::size_t i = static_cast<std::size_t>(n) + 1; i < x.size(); ++i) {
    const double d = x[i] - x[i - 1];
    g = (g * (n - 1) + std::max(d, 0.0)) / n;
    l = (l * (n - 1) + std::max(-d, 0.0)) / n;
    out[i] = value(g, l);
  }
  return out;
}

}  // namespace ctk::analyzer
