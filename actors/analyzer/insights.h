// The insight rules (thresholds in cluster.yaml `analyzer:`). Each insight
// is about one candle (or one fear & greed reading) and has a
// deterministic id: type + symbol + interval + time, so at most one per
// (type, symbol, candle) exists, however often a candle is replayed.
#pragma once

#include <string>
#include <vector>

#include "actors/analyzer/indicators.h"
#include "config/settings.h"
#include "messages/analysis.h"
#include "messages/envelope.h"

namespace ctk::analyzer {

// RSI extremes, MACD crossing its signal, a close outside the Bollinger
// bands, a price move within a window, a volume spike.
std::vector<msg::insight_data> candle_insights(const closed_candle& c, const cfg::analyzer_settings& s);

// Extreme fear or greed in a fear & greed reading (market-wide: no symbol).
std::vector<msg::insight_data> fear_greed_insights(const msg::fear_greed_data& d, const std::string& source,
                                                   const cfg::analyzer_settings& s);

// The natural key of an insight (for msg::record_id); `source` tells two
// fear & greed indexes of the same time apart.
std::string insight_key(const msg::insight_data& i, const std::string& source = {});

}  // namespace ctk::analyzer
