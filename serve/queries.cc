#include "serve/queries.h"

namespace ctk::serve {

// Fixed queries, prepared on every pooled connection.
const std::vector<std::pair<std::string, std::string>>& statements() {
  static const std::vector<std::pair<std::string, std::string>> list{
      // Latest tick per symbol by a skip scan over (symbol, timestamp DESC),
      // with the last 32 prices as the sparkline, oldest first (as float4: 7
      // digits are plenty for a line 120 pixels wide, and the reply is a third).
      {"markets", R"(
WITH RECURSIVE syms AS (
  (SELECT symbol FROM market_trends ORDER BY symbol LIMIT 1)
  UNION ALL
  SELECT (SELECT m.symbol FROM market_trends m WHERE m.symbol > syms.symbol ORDER BY m.symbol LIMIT 1)
  FROM syms WHERE syms.symbol IS NOT NULL
)
SELECT l.symbol, l.price, l.change_24h, l.volume_24h, )" ISO("l.\"timestamp\"") R"(,
       (SELECT coalesce(json_agg(x.price::real ORDER BY x."timestamp"), '[]') FROM
          (SELECT price, "timestamp" FROM market_trends m WHERE m.symbol = l.symbol
           ORDER BY "timestamp" DESC LIMIT 32) x)::text
FROM syms CROSS JOIN LATERAL (
  SELECT symbol, price, change_24h, volume_24h, "timestamp" FROM market_trends m
  WHERE m.symbol = syms.symbol ORDER BY "timestamp" DESC LIMIT 1) l
WHERE syms.symbol IS NOT NULL
ORDER BY l.symbol)"},
      {"candles", R"(
SELECT )" ISO("\"timestamp\"") R"(, open, high, low, close, volume, sma_short, sma_long, ema_short, ema_long, rsi,
       macd, macd_signal, macd_hist, bb_upper, bb_middle, bb_lower, bb_percent_b, bb_bandwidth
FROM technical_indicators
WHERE symbol = $1 AND "interval" = $2 AND "timestamp" >= $3::timestamptz AND "timestamp" < $4::timestamptz
ORDER BY "timestamp" DESC LIMIT $5)"},
      {"ticks", R"(
SELECT )" ISO("\"timestamp\"") R"(, price, volume_24h FROM market_trends
WHERE symbol = $1 AND "timestamp" >= $2::timestamptz AND "timestamp" < $3::timestamptz
ORDER BY "timestamp" DESC LIMIT $4)"},
      {"fear_greed", R"(
SELECT source, value, classification, )" ISO("\"timestamp\"") R"( FROM fear_greed_index
ORDER BY "timestamp" DESC, source LIMIT $1)"},
      {"sentiment", R"(
SELECT s.symbol, to_char(date_trunc('day', a."timestamp" AT TIME ZONE 'UTC'), 'YYYY-MM-DD'), count(*),
       avg(a.sentiment_score), count(*) FILTER (WHERE a.sentiment_label = 'positive'),
       count(*) FILTER (WHERE a.sentiment_label = 'neutral'), count(*) FILTER (WHERE a.sentiment_label = 'negative')
FROM sentiment_analysis a CROSS JOIN LATERAL jsonb_array_elements_text(a.symbols) AS s(symbol)
WHERE a."timestamp" >= now() - make_interval(days => $1) AND ($2 = '' OR s.symbol = $2)
GROUP BY 1, 2 ORDER BY 2 DESC, 1 LIMIT 1000)"},
  };
  return list;
}

}  // namespace ctk::serve
