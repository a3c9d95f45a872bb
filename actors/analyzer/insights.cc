#include "actors/analyzer/insights.h"

#include <fmt/format.h>

#include <cmath>

namespace ctk::analyzer {

namespace {

msg::insight_data make(const closed_candle& c, std::string type, std::string severity, double value, std::string ko,
                       std::string en) {
  msg::insight_data i;
  i.type = std::move(type);
  i.symbol = c.row.symbol;
  i.interval = c.row.interval;
  i.at = c.row.candle_time;
  i.severity = std::move(severity);
  i.value = value;
  i.text_ko = std::move(ko);
  i.text_en = std::move(en);
  return i;
}

}  // namespace

std::vector<msg::insight_data> candle_insights(const closed_candle& c, const cfg::analyzer_settings& s) {
  std::vector<msg::insight_data> out;
  const auto& r = c.row;
  const std::string& sym = r.symbol;
  const std::string& iv = r.interval;
  if (r.rsi && *r.rsi >= s.rsi_overbought)
    out.push_back(make(c, "rsi_overbought", *r.rsi >= std::min(100.0, s.rsi_overbought + 10) ? "critical" : "warning",
                       *r.rsi, fmt::format("{} {}봉 RSI {:.1f}: 과매수 구간입니다.", sym, iv, *r.rsi),
                       fmt::format("{} {} RSI {:.1f}: overbought.", sym, iv, *r.rsi)));
  if (r.rsi && *r.rsi <= s.rsi_oversold)
    out.push_back(make(c, "rsi_oversold", *r.rsi <= std::max(0.0, s.rsi_oversold - 10) ? "critical" : "warning", *r.rsi,
                       fmt::format("{} {}봉 RSI {:.1f}: 과매도 구간입니다.", sym, iv, *r.rsi),
                       fmt::format("{} {} RSI {:.1f}: oversold.", sym, iv, *r.rsi)));
  if (r.macd_hist && c.previous_hist) {
    if (*c.previous_hist <= 0 && *r.macd_hist > 0)
      out.push_back(make(c, "macd_cross_up", "info", *r.macd_hist,
                         fmt::format("{} {}봉 MACD가 시그널선을 상향 돌파했습니다.", sym, iv),
                         fmt::format("{} {} MACD crossed above its signal line.", sym, iv)));
    if (*c.previous_hist >= 0 && *r.macd_hist < 0)
      out.push_back(make(c, "macd_cross_down", "info", *r.macd_hist,
                         fmt::format("{} {}봉 MACD가 시그널선을 하향 돌파했습니다.", sym, iv),
                         fmt::format("{} {} MACD crossed below its signal line.", sym, iv)));
  }
  if (r.bb_upper && r.close > *r.bb_upper)
    out.push_back(make(
        c, "bollinger_break_up", "warning", r.close,
        fmt::format("{} {}봉 종가 {}가 볼린저 밴드 상단({:.6g})을 넘었습니다.", sym, iv, r.close, *r.bb_upper),
        fmt::format("{} {} closed at {} above the upper Bollinger band ({:.6g}).", sym, iv, r.close, *r.bb_upper)));
  if (r.bb_lower && r.close < *r.bb_lower)
    out.push_back(make(
        c, "bollinger_break_down", "warning", r.close,
        fmt::format("{} {}봉 종가 {}가 볼린저 밴드 하단({:.6g}) 아래입니다.", sym, iv, r.close, *r.bb_lower),
        fmt::format("{} {} closed at {} below the lower Bollinger band ({:.6g}).", sym, iv, r.close, *r.bb_lower)));
  if (c.close_n_back && *c.close_n_back > 0) {
    const double pct = (r.close / *c.close_n_back - 1) * 100;
    if (std::abs(pct) >= s.price_move_pct) {
      const bool up = pct > 0;
      out.push_back(make(c, up ? "price_surge" : "price_drop",
                         std::abs(pct) >= 2 * s.price_move_pct ? "critical" : "warning", pct,
                         fmt::format("{} 가격이 {}봉 {}개 동안 {:+.2f}% {}했습니다.", sym, iv, s.price_move_candles,
                                     pct, up ? "상승" : "하락"),
                         fmt::format("{} moved {:+.2f}% over {} {} candles.", sym, pct, s.price_move_candles, iv)));
    }
  }
  if (c.average_volume && *c.average_volume > 0 && r.volume >= s.volume_multiple * *c.average_volume) {
    const double x = r.volume / *c.average_volume;
    out.push_back(make(c, "volume_spike", x >= 2 * s.volume_multiple ? "critical" : "warning", x,
                       fmt::format("{} {}봉 거래량이 평균의 {:.1f}배로 급증했습니다.", sym, iv, x),
                       fmt::format("{} {} volume is {:.1f}x its average.", sym, iv, x)));
  }
  return out;
}

std::vector<msg::insight_data> news_insights(const closed_candle& c, const news_stats& n, std::int64_t& mood,
                                             bool& diverging, const cfg::analyzer_settings& s) {
  std::vector<msg::insight_data> out;
  const auto& r = c.row;
  const std::string& sym = r.symbol;
  const std::string& iv = r.interval;
  const bool enough = n.count >= s.news_min_mentions;
  const double t = s.news_mood_threshold;
  const std::int64_t now = !enough ? 0 : n.mean >= t ? 1 : n.mean <= -t ? -1 : 0;
  if (now != 0 && now != mood) {
    const bool up = now > 0;
    out.push_back(make(c, up ? "news_mood_positive" : "news_mood_negative",
                       std::abs(n.mean) >= std::min(1.0, 2 * t) ? "critical" : "warning", n.mean,
                       fmt::format("{} 최근 {} 뉴스 {}건의 평균 감성이 {:+.2f}로 {}으로 돌아섰습니다.", sym,
                                   s.news_window.text, n.count, n.mean, up ? "긍정" : "부정"),
                       fmt::format("{}: the mean sentiment of {} news items in the last {} turned {} ({:+.2f}).", sym,
                                   n.count, s.news_window.text, up ? "positive" : "negative", n.mean)));
  }
  mood = now;
  bool div = false;
  if (enough && c.close_n_back && *c.close_n_back > 0) {
    const double pct = (r.close / *c.close_n_back - 1) * 100;
    const bool up = pct >= s.divergence_move_pct && n.mean <= -t;
    const bool down = pct <= -s.divergence_move_pct && n.mean >= t;
    div = up || down;
    if (div && !diverging)
      out.push_back(
          make(c, up ? "divergence_price_up_news_negative" : "divergence_price_down_news_positive", "warning", pct,
               fmt::format("{} 가격은 {}봉 {}개 동안 {:+.2f}% {}했지만 뉴스 감성은 {}({:+.2f})입니다.", sym, iv,
                           s.price_move_candles, pct, up ? "상승" : "하락", up ? "부정적" : "긍정적", n.mean),
               fmt::format("{} moved {:+.2f}% over {} {} candles while its news is {} ({:+.2f}).", sym, pct,
                           s.price_move_candles, iv, up ? "negative" : "positive", n.mean)));
  }
  diverging = div;
  return out;
}

std::vector<msg::insight_data> fear_greed_insights(const msg::fear_greed_data& d, const std::string& source,
                                                   const cfg::analyzer_settings& s) {
  std::vector<msg::insight_data> out;
  const bool fear = d.value <= s.extreme_fear, greed = d.value >= s.extreme_greed;
  if (!fear && !greed) return out;
  msg::insight_data i;
  i.type = fear ? "extreme_fear" : "extreme_greed";
  i.at = d.timestamp;
  i.value = static_cast<double>(d.value);
  i.severity = (fear && d.value <= s.extreme_fear / 2) || (greed && d.value >= (100 + s.extreme_greed) / 2) ? "critical"
                                                                                                            : "warning";
  i.text_ko = fmt::format("공포·탐욕 지수 {} ({}): 극단적 {} 구간입니다.", d.value, source, fear ? "공포" : "탐욕");
  i.text_en = fmt::format("Fear & greed index at {} ({}): extreme {}.", d.value, source, fear ? "fear" : "greed");
  out.push_back(std::move(i));
  return out;
}

std::string insight_key(const msg::insight_data& i, const std::string& source) {
  return i.type + '\x1f' + i.symbol + '\x1f' + i.interval + '\x1f' + i.at + (source.empty() ? "" : '\x1f' + source);
}

}  // namespace ctk::analyzer
