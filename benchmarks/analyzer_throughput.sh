#!/usr/bin/env bash
# Analyzer throughput, one instance, against the transport's ceiling in the
# same run on the same embedded broker:
#   (a) kcat -C -e | kcat -P of the same messages (consume-then-produce passthrough)
#   (b) cointicker run analyzer: unique -> insights + analyzer.state
# Input: S symbols with one market tick a minute each (T ticks), on `unique`
# keyed by symbol as the validator places them, plus one news item per 40
# ticks, all on the news partition (xxHash of "news" modulo 16, as the
# validator places news; the analyzer's news feed follows it). The
# defaults keep every partition under the embedded broker's 5 MiB, the
# news partition included (it holds some symbols' ticks too); so 5-minute
# candles close every fifth tick (an indicator record, and any insights
# once the news watermark passes), 1-hour candles every sixtieth, and every
# batch writes a snapshot per symbol it touched. The analyzer is timed from
# the first metrics read that shows it consuming (what it had consumed by
# then is not counted) until it has consumed everything; its output is then
# counted once it stops growing. Peak RSS is VmHWM. CPU per record: the
# analyzer's user + system CPU from its start until its output stopped
# (start-up included) and both kcat processes', divided by the messages.
# Usage: benchmarks/analyzer_throughput.sh [SYMBOLS] [TICKS] [ROUNDS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/build/cointicker
symbols=${1:-200}
ticks=${2:-500}
rounds=${3:-3}
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

python3 - "$symbols" "$ticks" > "$work/in.txt" <<'PY'
import sys, random
S, T = int(sys.argv[1]), int(sys.argv[2])
random.seed(1)
t0 = 1725235200000
price = [100.0 * (1 + s % 17) for s in range(S)]
n = 0
for k in range(T):
    for s in range(S):
        price[s] *= 1 + random.gauss(0, 0.004)
        t = t0 + k * 60000 + s
        iso = f"2024-09-02T{(k // 60) % 24:02d}:{k % 60:02d}:00.000Z"
        rid = f"{n:032x}"
        print(f'KRW-S{s}:{{"v":1,"id":"{rid}","source":"upbit","kind":"market","fetched_at":"{iso}","url":"https://api.upbit.com/v1/ticker/all?quote_currencies=KRW","trace":"6f1c2a9e-3b7d-4c55-9a0e-1f2d3c4b5a69","data":{{"symbol":"KRW-S{s}","price":{price[s]:.4f},"volume_24h":{1000 + k},"change_24h":-0.0108,"timestamp":"{iso}"}}}}')
        n += 1
        if n % 40 == 0:
            rid = f"{n + 10**9:032x}"
            print(f'{rid}:{{"v":1,"id":"{rid}","source":"coinness","kind":"news","fetched_at":"{iso}","data":{{"title":"비트코인 급등, 이더리움은 하락 #{n}","url":"https://coinness.com/news/{n}","content":"Bitcoin surges as ETF inflows climb; analysts stay cautious.","published_at":"{iso}","keywords":["BTC","ETH"]}}}}')
PY
grep -v '"kind":"news"' "$work/in.txt" > "$work/market.txt"
grep '"kind":"news"' "$work/in.txt" > "$work/news.txt"
printf '#include <xxhash.h>\n#include <cstdio>\nint main() { std::printf("%%llu", (unsigned long long)(XXH3_64bits("news", 4) %% 16)); }\n' \
  > "$work/news_partition.cc"
g++ -o "$work/news_partition" "$work/news_partition.cc" -lxxhash
news_partition=$("$work/news_partition")
n=$(wc -l < "$work/in.txt")
bytes=$(head -1 "$work/in.txt" | cut -d: -f2- | wc -c)

. "$here/benchmarks/lib.sh"

analyzer() {
  start_actor analyzer CTK_ANALYZER__GRACE=30d
  local pid=$actor_pid port=$actor_port
  wait_first_input "$port"
  local t0; t0=$(now)
  # What it had consumed when first seen moving: not timed (the first
  # metrics read can come late, after a whole batch or more).
  local c0; c0=$(metric "$port" ctk_consumed_total | cut -d. -f1)
  wait_consumed "$port" "$n"
  # Timed to the last input handled: output that follows is counted, not
  # timed (candle insights wait for the news watermark and come in bursts,
  # so "output stopped growing" ended some rounds early).
  local t1; t1=$(now)
  local last=-1 cur
  while :; do
    cur=$(metric "$port" ctk_produced_total | cut -d. -f1)
    [ "$cur" = "$last" ] && [ "$(metric "$port" ctk_lag_messages | cut -d. -f1)" = 0 ] && break
    last=$cur
    sleep 0.05
  done
  local hwm; hwm=$(peak_rss_mib "$pid")
  local candles; candles=$(metric "$port" ctk_analyzer_candles_total | cut -d. -f1)
  local cpu; cpu=$(cpu_seconds "$pid")
  kill -TERM $pid; wait $pid || true
  python3 -c "print(int(($n-$c0)/($t1-$t0)), $hwm, $cur, $candles, $cpu)"
}

: > "$work/rounds"
for r in $(seq "$rounds"); do
  start_broker
  kcat -b "$b" -P -t ctk.unique -K: -l "$work/market.txt"
  kcat -b "$b" -P -t ctk.unique -p "$news_partition" -K: -l "$work/news.txt"
  read -r wall kcat_cpu < <(timed_cpu "kcat -b $b -C -t ctk.unique -e -q -K'\t' -f '%k\t%s\n' | kcat -b $b -P -t bench.out -K'\t'")
  kcat_rate=$(python3 -c "print(int($n/$wall))")
  read -r a_rate a_rss a_out a_candles a_cpu < <(analyzer)
  echo "$kcat_rate $a_rate $a_rss $a_out $a_candles $kcat_cpu $a_cpu" >> "$work/rounds"
  printf 'round %s: kcat %s, analyzer %s msgs/s (%s%%), %s messages out, %s candles\n' "$r" "$kcat_rate" "$a_rate" \
    "$((100 * a_rate / kcat_rate))" "$a_out" "$a_candles"
  kill -TERM $broker; wait $broker || true
done

python3 - "$work/rounds" "$n" "$bytes" "$symbols" <<'PY'
import statistics, sys
rows = [[int(x) for x in l.split()[:5]] + [float(x) for x in l.split()[5:]] for l in open(sys.argv[1])]
med = lambda i: int(statistics.median(r[i] for r in rows))
k, a = med(0), med(1)
print(f"\n{'stage (' + sys.argv[2] + ' messages, ~' + sys.argv[3] + ' B, ' + sys.argv[4] + ' symbols), median of ' + str(len(rows)):<62} {'msgs/s':>8} {'vs kcat':>8} {'per round':>14} {'peak RSS':>9}")
print(f"{'kcat -C -e | kcat -P (passthrough ceiling)':<62} {k:>8} {'100 %':>8} {'':>14} {'-':>9}")
print(f"{'analyzer (unique -> insights), one instance':<62} {a:>8} {100 * a // k:>6} % {'/'.join(str(100 * r[1] // r[0]) for r in rows):>14} {max(r[2] for r in rows):>5} MiB")
print(f"output per round: {rows[0][3]} messages (indicators, sentiments, insights, snapshots); {rows[0][4]} candles closed")
n = int(sys.argv[2])
kc, ac = (statistics.median(1e6 * r[i] / n for r in rows) for i in (5, 6))
print(f"CPU per message, user + system, start-up included (median): kcat -C | kcat -P {kc:.1f} µs, analyzer {ac:.1f} µs ({ac / kc:.2f}×)")
PY
