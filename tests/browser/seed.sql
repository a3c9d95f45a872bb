-- Rows for the browser test's charts and news filter, as db-sink and the
-- analyzer would have written them: a day of KRW-BTC ticks and hourly
-- candles with indicators, and 30 news items with their sentiment.
INSERT INTO market_trends (record_id, source, symbol, price, volume_24h, change_24h, "timestamp", collected_at)
SELECT md5('browser-m' || i), 'upbit', 'KRW-BTC', 90000000 * (1 + 0.02 * sin(i / 9.0)), 1000 + i, 0.012,
       now() - (200 - i) * interval '5 minute', now()
FROM generate_series(0, 199) i;
INSERT INTO technical_indicators (record_id, symbol, "interval", "timestamp", open, high, low, close, volume, rsi,
                                  macd, macd_signal, macd_hist, bb_upper, bb_middle, bb_lower)
SELECT md5('browser-t' || i), 'KRW-BTC', '1h', date_trunc('hour', now()) - (60 - i) * interval '1 hour',
       c, c * 1.01, c * 0.99, c, 100 + i, 50 + 30 * sin(i / 5.0), 1000 * sin(i / 6.0), 800 * sin(i / 6.5),
       1000 * sin(i / 6.0) - 800 * sin(i / 6.5), c * 1.03, c, c * 0.97
FROM generate_series(0, 59) i, LATERAL (SELECT 90000000 * (1 + 0.03 * sin(i / 7.0)) AS c) x;
INSERT INTO raw_news (record_id, source, title, url, content, published_at, keywords, collected_at)
SELECT md5('browser-n' || i), 'coinness',
       CASE i % 3 WHEN 0 THEN '비트코인 급등 ' || i WHEN 1 THEN 'Bitcoin slides on hack ' || i ELSE 'Market flat ' || i END,
       'https://example.test/' || i, '', now() - i * interval '7 minute', '["BTC"]', now()
FROM generate_series(0, 29) i;
INSERT INTO sentiment_analysis (record_id, news_id, source, sentiment_score, sentiment_label, confidence, language,
                                symbols, "timestamp")
SELECT md5('browser-s' || i), md5('browser-n' || i), 'coinness', CASE i % 3 WHEN 0 THEN 0.7 WHEN 1 THEN -0.6 ELSE 0 END,
       CASE i % 3 WHEN 0 THEN 'positive' WHEN 1 THEN 'negative' ELSE 'neutral' END, 0.8,
       CASE i % 3 WHEN 0 THEN 'ko' ELSE 'en' END, '["BTC"]', now() - i * interval '7 minute'
FROM generate_series(0, 29) i;
