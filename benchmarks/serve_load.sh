#!/usr/bin/env bash
# The dashboard's API under load, against the same queries timed in psql in
# the same run on the same database:
#   - a private PostgreSQL (tests/support/pg.sh) holding 1,000,000
#     market_trends rows (200 symbols x 5,000 ticks) and 200,000 news rows
#     with their sentiment, schema as `cointicker db migrate` makes it;
#   - `cointicker serve` on it (api.pool 4, api.threads 64), twice: with
#     its reply cache (api.cache_ttl 1s, the default) and without (0);
#   - wrk, 50 connections, 2 threads, DURATION seconds per endpoint:
#     p50 / p99 latency and requests/s;
#   - psql: each endpoint's SQL run 20 times on one connection, median.
# Usage: benchmarks/serve_load.sh [DURATION_S]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/build/cointicker
duration=${1:-10}
work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$here/tests/support/pg.sh" destroy "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
command -v wrk >/dev/null || { echo "serve_load: wrk is missing (deploy/setup.sh installs it)" >&2; exit 1; }

"$here/tests/support/pg.sh" start "$work/pg" >/dev/null
dsn=$(cat "$work/pg/dsn")
"$bin" db --dsn "$dsn" migrate >/dev/null
echo "seeding 1,000,000 market rows and 200,000 news rows ..." >&2
psql "$dsn" -qX -v ON_ERROR_STOP=1 <<'SQL'
INSERT INTO market_trends (record_id, source, symbol, price, volume_24h, change_24h, "timestamp", collected_at)
SELECT md5('m' || s || '-' || i), 'upbit', 'KRW-S' || s, 100 + s + sin(i / 50.0), 1000 + i, 0.01,
       now() - (5000 - i) * interval '1 minute', now()
FROM generate_series(1, 200) s, generate_series(1, 5000) i;
INSERT INTO raw_news (record_id, source, title, url, content, published_at, keywords, collected_at)
SELECT md5('n' || i), CASE WHEN i % 2 = 0 THEN 'coinness' ELSE 'saveticker' END,
       CASE i % 4 WHEN 0 THEN '비트코인 급등 ' WHEN 1 THEN 'Bitcoin ETF inflows ' WHEN 2 THEN 'Ether slides ' ELSE 'Solana outage ' END || i,
       'https://example.test/' || i, 'body of item ' || i, now() - i * interval '30 second',
       CASE WHEN i % 3 = 0 THEN '["BTC"]' ELSE '[]' END::jsonb, now()
FROM generate_series(1, 200000) i;
INSERT INTO sentiment_analysis (record_id, news_id, source, sentiment_score, sentiment_label, confidence, language,
                                symbols, "timestamp")
SELECT md5('s' || i), md5('n' || i), 'coinness', CASE i % 3 WHEN 0 THEN 0.6 WHEN 1 THEN -0.5 ELSE 0 END,
       CASE i % 3 WHEN 0 THEN 'positive' WHEN 1 THEN 'negative' ELSE 'neutral' END, 0.8,
       CASE i % 4 WHEN 0 THEN 'ko' ELSE 'en' END, CASE WHEN i % 3 = 0 THEN '["BTC"]' ELSE '["ETH"]' END::jsonb,
       now() - i * interval '30 second'
FROM generate_series(1, 200000) i;
INSERT INTO technical_indicators (record_id, symbol, "interval", "timestamp", close, rsi, macd, macd_signal, bb_upper,
                                  bb_middle, bb_lower)
SELECT md5('t' || s || '-' || i), 'KRW-S' || s, '1h', now() - (500 - i) * interval '1 hour', 100 + s, 50, 0, 0, 101,
       100, 99
FROM generate_series(1, 200) s, generate_series(1, 500) i;
VACUUM ANALYZE;
SQL

# start_serve CACHE_TTL (a duration: 1s, 0): sets $url and $serve_pid
start_serve() {
  rm -f "$work/serve.out"
  CTK_API__CACHE_TTL=$1 "$bin" --config "$here/config" serve --listen 127.0.0.1:0 --dsn "$dsn" \
    >"$work/serve.out" 2>"$work/serve.err" &
  serve_pid=$!
  pids+=($serve_pid)
  for _ in $(seq 100); do [ -s "$work/serve.out" ] && break; sleep 0.1; done
  url=$(head -1 "$work/serve.out")
  url=${url%/}
  [ -n "$url" ] || { cat "$work/serve.err"; exit 1; }
}

# name|path|SQL the endpoint runs (as serve/api.cc builds it)
endpoints=(
  "markets|/api/v1/markets|WITH RECURSIVE syms AS ((SELECT symbol FROM market_trends ORDER BY symbol LIMIT 1) UNION ALL SELECT (SELECT m.symbol FROM market_trends m WHERE m.symbol > syms.symbol ORDER BY m.symbol LIMIT 1) FROM syms WHERE syms.symbol IS NOT NULL) SELECT l.symbol, l.price, (SELECT coalesce(json_agg(x.price::real ORDER BY x.\"timestamp\"), '[]') FROM (SELECT price, \"timestamp\" FROM market_trends m WHERE m.symbol = l.symbol ORDER BY \"timestamp\" DESC LIMIT 32) x)::text FROM syms CROSS JOIN LATERAL (SELECT symbol, price, \"timestamp\" FROM market_trends m WHERE m.symbol = syms.symbol ORDER BY \"timestamp\" DESC LIMIT 1) l WHERE syms.symbol IS NOT NULL ORDER BY l.symbol"
  "history|/api/v1/markets/KRW-S7/history?interval=1h&limit=200|SELECT \"timestamp\", close, rsi, macd, macd_signal, bb_upper, bb_middle, bb_lower FROM technical_indicators WHERE symbol = 'KRW-S7' AND \"interval\" = '1h' ORDER BY \"timestamp\" DESC LIMIT 200"
  "news|/api/v1/news?limit=50|SELECT n.record_id, n.title, s.sentiment_label FROM raw_news n LEFT JOIN sentiment_analysis s ON s.news_id = n.record_id ORDER BY n.published_at DESC, n.id DESC LIMIT 51"
  "news filtered|/api/v1/news?limit=50&label=negative&symbol=ETH|SELECT n.record_id, n.title, s.sentiment_label FROM raw_news n LEFT JOIN sentiment_analysis s ON s.news_id = n.record_id WHERE (s.symbols @> jsonb_build_array('ETH'::text) OR n.keywords @> jsonb_build_array('ETH'::text)) AND s.sentiment_label = 'negative' ORDER BY n.published_at DESC, n.id DESC LIMIT 51"
  "news search|/api/v1/news?limit=50&q=solana|SELECT n.record_id, n.title, s.sentiment_label FROM raw_news n LEFT JOIN sentiment_analysis s ON s.news_id = n.record_id WHERE to_tsvector('simple', n.title || ' ' || n.content) @@ plainto_tsquery('simple', 'solana') ORDER BY n.published_at DESC, n.id DESC LIMIT 51"
)

cat > "$work/report.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.1f %.2f %.2f\n", summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA

printf '\n%-15s %-6s %10s %10s %10s %8s %12s\n' "endpoint" "cache" "req/s" "p50 ms" "p99 ms" "errors" "psql med ms"
for cache in 1s 0; do
  start_serve "$cache"
  for e in "${endpoints[@]}"; do
    IFS='|' read -r name path sql <<<"$e"
    curl -sf "$url$path" >/dev/null || { echo "serve_load: $path failed" >&2; exit 1; }
    read -r _ reqs errs rps p50 p99 < <(wrk -t2 -c50 -d"${duration}s" --latency -s "$work/report.lua" "$url$path" |
      grep '^RESULT')
    # The same SQL, 20 times on one connection; psql's \timing in ms.
    med=$( (echo '\timing on'; for _ in $(seq 20); do echo "$sql;"; done) | psql "$dsn" -qX -o /dev/null 2>&1 |
      awk '/^Time:/ {print $2}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    printf '%-15s %-6s %10s %10s %10s %8s %12s\n' "$name" "$cache" "$rps" "$p50" "$p99" "$errs" "$med"
  done
  kill "$serve_pid"
  wait "$serve_pid" || true
done
echo "(wrk: 2 threads, 50 connections, ${duration} s per endpoint; serve: api.pool 4, api.threads 64)"
