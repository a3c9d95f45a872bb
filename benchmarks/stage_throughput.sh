#!/usr/bin/env bash
# Validator and dedup throughput, one instance each, against the transport's
# ceiling in the same run on the same embedded broker (issue 4):
#   (a) kcat -C -e | kcat -P of the raw messages (consume-then-produce passthrough)
#   (b) cointicker run validator: raw -> valid
#   (c) cointicker run dedup:     valid -> unique (every record distinct)
# Each stage is timed from its first consumed message to its last, read from
# its own /metrics (ctk_consumed_total), so nothing else polls the broker;
# peak RSS is VmHWM. Usage: benchmarks/stage_throughput.sh [N]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/build/cointicker
n=${1:-150000}
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

"$bin" --config "$here/config" broker --listen 127.0.0.1:0 --address-file "$work/addr" --topic bench.out:16 \
  >/dev/null 2>"$work/broker.err" &
pids+=($!)
for _ in $(seq 200); do [ -s "$work/addr" ] && break; sleep 0.05; done
b=$(cat "$work/addr")

python3 - "$n" > "$work/in.txt" <<'PY'
import sys
for i in range(int(sys.argv[1])):
    print(f'upbit/KRW-C{i}:{{"v":1,"source":"upbit","kind":"market","fetched_at":"2026-11-23T11:00:00.123Z","url":"https://api.upbit.com/v1/ticker/all?quote_currencies=KRW","trace":"6f1c2a9e-3b7d-4c55-9a0e-1f2d3c4b5a69","data":{{"symbol":"krw-c{i}","price":"{80123456.5 + i}","volume_24h":1234.5678,"change_24h":-0.0108,"timestamp":1725543306000}}}}')
PY
kcat -b "$b" -P -t ctk.raw -K: -l "$work/in.txt"
bytes=$(head -1 "$work/in.txt" | cut -d: -f2- | wc -c)

now() { date +%s.%N; }
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 ~ "^"m"[{]" {print $2}'; }

# (a) kcat passthrough of the same messages
s=$(now)
kcat -b "$b" -C -t ctk.raw -e -q -K'\t' -f '%k\t%s\n' | kcat -b "$b" -P -t bench.out -K'\t'
e=$(now)
kcat_rate=$(python3 -c "print(int($n/($e-$s)))")

# (b)/(c): one stage, timed by its own consumed counter
stage() {  # actor → "rate rss_mib"
  "$bin" --config "$here/config" --bootstrap "$b" run "$1" --node bench 2>"$work/$1.err" &
  local pid=$! port=""
  pids+=($pid)
  while [ -z "$port" ]; do port=$(grep -o "metrics on http://127.0.0.1:[0-9]*" "$work/$1.err" | grep -o "[0-9]*$" || true); sleep 0.02; done
  while [ "$(metric "$port" ctk_consumed_total)" = "0" ] || [ -z "$(metric "$port" ctk_consumed_total)" ]; do sleep 0.005; done
  local t0; t0=$(now)
  while [ "$(metric "$port" ctk_consumed_total)" -lt "$n" ]; do sleep 0.01; done
  local t1; t1=$(now)
  local hwm; hwm=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$pid/status)
  kill -TERM $pid; wait $pid || true
  grep -o "stopped:.*" "$work/$1.err" | sed "s/^/$1 /" >&2
  python3 -c "print(int($n/($t1-$t0)), $hwm)"
}
read -r v_rate v_rss < <(stage validator)
read -r d_rate d_rss < <(stage dedup)

printf '\n%-46s %10s %9s %8s\n' "stage ($n messages, ~$bytes B, 16 partitions)" "msgs/s" "vs kcat" "peak RSS"
printf '%-46s %10s %9s %8s\n' "kcat -C -e | kcat -P (passthrough ceiling)" "$kcat_rate" "100 %" "-"
printf '%-46s %10s %8s%% %5s MiB\n' "validator (raw -> valid), one instance" "$v_rate" "$((100*v_rate/kcat_rate))" "$v_rss"
printf '%-46s %10s %8s%% %5s MiB\n' "dedup (valid -> unique), one instance" "$d_rate" "$((100*d_rate/kcat_rate))" "$d_rss"
