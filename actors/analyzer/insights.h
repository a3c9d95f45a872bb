// The insight rules (thresholds in cluster.yaml `analyzer:`). Each insight
// is about one candle (or one fear & greed reading) and has a
// deterministic id: type + symbol + interval + time, so at most one per
// (type, symbol, candle) exists, however often a candle is replayed.
#pragma once

#include <string>
#include <vector>

#include "actors/analyzer/indicators.h"
#include "actors/analyzer/news.h"
#include "config/settings.h"
#include "messages/analysis.h"
#include "messages/envelope.h"

namespace ctk::analyzer {

// RSI extremes, MACD crossing its signal, a close outside the Bollinger
// bands, a price move within a window, a volume spike.
std::vector<msg::insight_data> candle_insights(const closed_candle& c, const cfg::analyzer_settings& s);

// The news of a candle's window (settings news_window before its end): the
// mean news score crossing news_mood_threshold (a change of `mood`, -1 / 0
// / 1, kept per series), and a price/news divergence starting (`diverging`,
// kept per series): the price up divergence_move_pct over
// price_move_candles while the mood is negative, or down while positive.
std::vector<msg::insight_data> news_insights(const closed_candle& c, const news_stats& n, std::int64_t& mood,
                                             bool& diverging, const cfg::analyzer_settings& s);

// Extreme fear or greed in a fear & greed reading (market-wide: no symbol).
std::vector<msg::insight_data> fear_greed_insights(const msg::fear_greed_data& d, const std::string& source,
                                                   const cfg::analyzer_settings& s);

// The natural key of an insight (for msg::record_id); `source` tells two
// fear & greed indexes of the same time apart.
std::string insight_key(const msg::insight_data& i, const std::string& source = {});

}  // namespace ctk::analyzer
