#!/usr/bin/env bash
# Crawl throughput: the same N Upbit-shaped pages of M tickers,
# served by `cointicker replay-server` on loopback, fetched by
#   cointicker  benchmarks/crawl_bench: the crawler's engine (libcurl multi
#               fetcher, C connections (default 8, see RESULTS.md), upbit
#               parser, raw envelopes built)
#   scrapy      benchmarks/scrapy_upbit.py (Debian python3-scrapy), 32
#               concurrent requests, the same fields parsed into items
#   curl        curl --parallel --parallel-max 32, bodies to /dev/null
#               (fetching without parsing: the ceiling)
# Each is run R times, interleaved (this VM's speed drifts); medians are
# printed with the range. Peak RSS: /usr/bin/time's maximum resident set.
# Needs: deploy/setup.sh --bench (python3-scrapy, time).
# Usage: benchmarks/crawl_throughput.sh [N] [M] [R] [C]   (default 2000 pages, 50 items, 5 runs, 8 connections)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/build/cointicker
bench=$here/build/benchmarks/crawl_bench
n=${1:-2000}
m=${2:-50}
reps=${3:-5}
conns=${4:-8}
for tool in scrapy /usr/bin/time curl python3; do
  command -v "$tool" >/dev/null || { echo "crawl_throughput: $tool is missing; run deploy/setup.sh --bench" >&2; exit 1; }
done
work=$(mktemp -d /tmp/ctk-crawlbench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

python3 - "$work" "$n" "$m" <<'PY'
import json, os, random, sys
work, n, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(1)
os.makedirs(f"{work}/pages/upbit", exist_ok=True)
routes = ["routes:"]
for i in range(n):
    rows = []
    for j in range(m):
        p = round(random.uniform(100, 1e8), 2)
        rate = round(random.uniform(-0.1, 0.1), 4)
        rows.append({"market": f"KRW-C{i}X{j}", "trade_date": "20261129", "trade_time": "033000",
                     "trade_date_kst": "20261129", "trade_time_kst": "123000", "trade_timestamp": 1795950000000 + j,
                     "opening_price": p, "high_price": p * 1.02, "low_price": p * 0.97, "trade_price": p,
                     "prev_closing_price": p, "change": "RISE" if rate > 0 else "FALL", "change_price": abs(p * rate),
                     "change_rate": abs(rate), "signed_change_price": p * rate, "signed_change_rate": rate,
                     "trade_volume": 0.5, "acc_trade_price": 1.2e9, "acc_trade_price_24h": 2.4e10,
                     "acc_trade_volume": 123.4, "acc_trade_volume_24h": 2345.6, "highest_52_week_price": p * 1.5,
                     "highest_52_week_date": "2026-03-14", "lowest_52_week_price": p * 0.5,
                     "lowest_52_week_date": "2025-12-11", "timestamp": 1795950000635 + j})
    with open(f"{work}/pages/upbit/p{i}.json", "w") as f:
        json.dump(rows, f)
    routes.append(f"  - host: api.upbit.com\n    path: /v1/ticker/p{i}\n    responses:\n"
                  f"      - status: 200\n        headers: {{Content-Type: application/json}}\n"
                  f"        body_file: upbit/p{i}.json")
with open(f"{work}/pages/routes.yaml", "w") as f:
    f.write("\n".join(routes) + "\n")
PY
bytes=$(du -sb "$work/pages/upbit" | cut -f1)

"$bin" replay-server "$work/pages" >"$work/replay.out" 2>"$work/replay.err" &
pids+=($!)
while ! grep -q '^replay ' "$work/replay.out" 2>/dev/null; do sleep 0.05; done
replay=$(awk '/^replay /{print $2}' "$work/replay.out")
for ((i = 0; i < n; i++)); do echo "https://api.upbit.com/v1/ticker/p$i"; done >"$work/urls.txt"
sed "s#^https://#$replay/#" "$work/urls.txt" >"$work/replay_urls.txt"
awk '{print "url = \"" $0 "\"\noutput = \"/dev/null\""}' "$work/replay_urls.txt" >"$work/curl.cfg"

# one run → "seconds pages records rss_kb"
run_ctk() {
  /usr/bin/time -f "rss %M" -o "$work/time" "$bench" --replay "$replay" --urls "$work/urls.txt" --connections "$conns" >"$work/out"
  awk '{print $8, $2, $4}' "$work/out" | tr '\n' ' '
  awk '/^rss/{print $2}' "$work/time"
}
run_scrapy() {
  (cd "$work" && /usr/bin/time -f "rss %M" -o "$work/time" scrapy runspider "$here/benchmarks/scrapy_upbit.py" \
    -a urls="$work/replay_urls.txt" >"$work/out" 2>"$work/scrapy.err")
  awk '/^pages/{print $6, $2, $4}' "$work/out" | tr '\n' ' '
  awk '/^rss/{print $2}' "$work/time"
}
run_curl() {
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f "rss %M" -o "$work/time" curl -s --parallel --parallel-max 32 --config "$work/curl.cfg" 2>/dev/null
  t1=$(date +%s.%N)
  echo "$(echo "$t1 - $t0" | bc -l) $n 0 $(awk '/^rss/{print $2}' "$work/time")"
}

run_ctk >/dev/null  # warm-up: page cache, connection set-up paths
declare -A results
for ((r = 1; r <= reps; r++)); do
  for tool in ctk scrapy curl; do
    results[$tool]+="$(run_$tool)"$'\n'
  done
done

summary() {  # tool → median pages/s, range, records/s, rss MiB
  printf '%s' "${results[$1]}" | awk -v n="$n" '
    NF { s[NR]=$1; rec[NR]=$3; rss[NR]=$4; c=NR }
    END {
      for (i=1;i<=c;i++) for (j=i+1;j<=c;j++) if (s[j]<s[i]) { t=s[i]; s[i]=s[j]; s[j]=t; t=rec[i]; rec[i]=rec[j]; rec[j]=t }
      mid=int((c+1)/2); maxr=0; for (i=1;i<=c;i++) if (rss[i]>maxr) maxr=rss[i]
      printf "%.0f %.0f %.0f %.0f %.1f\n", n/s[mid], n/s[c], n/s[1], rec[mid]/s[mid], maxr/1024 }'
}
read -r ctk_p ctk_lo ctk_hi ctk_r ctk_m <<<"$(summary ctk)"
read -r scr_p scr_lo scr_hi scr_r scr_m <<<"$(summary scrapy)"
read -r curl_p curl_lo curl_hi _ curl_m <<<"$(summary curl)"

echo "crawl throughput: $n pages x $m tickers ($((bytes / n)) bytes/page), replay server on loopback, $reps runs, $(nproc) cores; cointicker with $conns connections"
printf '%-12s %10s %18s %12s %10s\n' "" "pages/s" "(range)" "records/s" "peak RSS"
printf '%-12s %10s %18s %12s %8s MiB\n' cointicker "$ctk_p" "($ctk_lo-$ctk_hi)" "$ctk_r" "$ctk_m"
printf '%-12s %10s %18s %12s %8s MiB\n' scrapy "$scr_p" "($scr_lo-$scr_hi)" "$scr_r" "$scr_m"
printf '%-12s %10s %18s %12s %8s MiB\n' "curl (fetch)" "$curl_p" "($curl_lo-$curl_hi)" "-" "$curl_m"
awk -v c="$ctk_p" -v s="$scr_p" -v u="$curl_p" -v cm="$ctk_m" -v sm="$scr_m" 'BEGIN {
  printf "cointicker / scrapy: %.1fx pages/s (target >= 20x); cointicker / curl: %.0f%% (target >= 40%%); RSS %.3f of scrapy (target <= 0.167)\n", c/s, 100*c/u, cm/sm }'
