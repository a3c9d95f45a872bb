#!/usr/bin/env bash
# Validator and dedup throughput, one instance each, against the transport's
# ceiling in the same run on the same embedded broker:
#   (a) kcat -C -e | kcat -P of the raw messages (consume-then-produce passthrough)
#   (b) cointicker run validator: raw -> valid
#   (c) cointicker run dedup:     valid -> unique (every record distinct)
# Each stage is timed from its first consumed message until it has consumed
# all and the broker acknowledged all its output, read from its own /metrics
# (ctk_consumed_total, ctk_produced_total), so nothing else polls the broker;
# peak RSS is VmHWM. CPU per record: user + system CPU of the stage's
# process from its start until it is done (start-up included), and of both
# kcat processes, divided by N; unlike msgs/s it hardly moves with the VM's
# speed. A round is (a), (b), (c) on a fresh broker; rounds are
# interleaved and the medians compared, because this kind of VM moves ±30 %
# from one minute to the next.
# Usage: benchmarks/stage_throughput.sh [N] [ROUNDS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/build/cointicker
n=${1:-150000}
rounds=${2:-3}
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

python3 - "$n" > "$work/in.txt" <<'PY'
import sys
for i in range(int(sys.argv[1])):
    print(f'upbit/KRW-C{i}:{{"v":1,"source":"upbit","kind":"market","fetched_at":"2026-11-23T11:00:00.123Z","url":"https://api.upbit.com/v1/ticker/all?quote_currencies=KRW","trace":"6f1c2a9e-3b7d-4c55-9a0e-1f2d3c4b5a69","data":{{"symbol":"krw-c{i}","price":"{80123456.5 + i}","volume_24h":1234.5678,"change_24h":-0.0108,"timestamp":1725543306000}}}}')
PY
bytes=$(head -1 "$work/in.txt" | cut -d: -f2- | wc -c)

. "$here/benchmarks/lib.sh"

# One stage: actor, messages it must have produced (acknowledged) → "rate rss_mib cpu_seconds"
stage() {
  start_actor "$1"
  local pid=$actor_pid port=$actor_port
  wait_first_input "$port"
  local t0; t0=$(now)
  wait_consumed "$port" "$n"
  # ... and until its output is acknowledged, as kcat -P's exit waits for its own.
  while [ "$(metric "$port" ctk_produced_total | cut -d. -f1)" -lt "$2" ]; do sleep 0.01; done
  local t1; t1=$(now)
  local hwm; hwm=$(peak_rss_mib "$pid")
  local cpu; cpu=$(cpu_seconds "$pid")
  kill -TERM $pid; wait $pid || true
  grep -o "stopped:.*" "$work/$1.err" | sed "s/^/  $1 /" >&2
  python3 -c "print(int($n/($t1-$t0)), $hwm, $cpu)"
}

: > "$work/rounds"
for r in $(seq "$rounds"); do
  start_broker
  kcat -b "$b" -P -t ctk.raw -K: -l "$work/in.txt"

  # (a) kcat passthrough of the same messages
  read -r wall kcat_cpu < <(timed_cpu "kcat -b $b -C -t ctk.raw -e -q -K'\t' -f '%k\t%s\n' | kcat -b $b -P -t bench.out -K'\t'")
  kcat_rate=$(python3 -c "print(int($n/$wall))")
  # (b)/(c): one stage each, timed by its own counters
  read -r v_rate v_rss v_cpu < <(stage validator "$n")
  # dedup writes each record to unique and its id to dedup.state
  read -r d_rate d_rss d_cpu < <(stage dedup $((2 * n)))
  echo "$kcat_rate $v_rate $v_rss $d_rate $d_rss $kcat_cpu $v_cpu $d_cpu" >> "$work/rounds"
  printf 'round %s: kcat %s, validator %s (%s%%), dedup %s (%s%%) msgs/s\n' "$r" "$kcat_rate" \
    "$v_rate" "$((100 * v_rate / kcat_rate))" "$d_rate" "$((100 * d_rate / kcat_rate))"
  kill -TERM $broker; wait $broker || true
done

python3 - "$work/rounds" "$n" "$bytes" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
med = lambda i: int(statistics.median(r[i] for r in rows))
k, v, d = med(0), med(1), med(3)
share = lambda i: [int(100 * r[i] // r[0]) for r in rows]
print(f"\n{'stage (' + sys.argv[2] + ' messages, ~' + sys.argv[3] + ' B, 16 partitions), median of ' + str(len(rows)):<62} {'msgs/s':>8} {'vs kcat':>8} {'per round':>14} {'peak RSS':>9}")
print(f"{'kcat -C -e | kcat -P (passthrough ceiling)':<62} {k:>8} {'100 %':>8} {'':>14} {'-':>9}")
print(f"{'validator (raw -> valid), one instance':<62} {v:>8} {100 * v // k:>6} % {'/'.join(map(str, share(1))):>14} {max(r[2] for r in rows):>5.0f} MiB")
print(f"{'dedup (valid -> unique), one instance':<62} {d:>8} {100 * d // k:>6} % {'/'.join(map(str, share(3))):>14} {max(r[4] for r in rows):>5.0f} MiB")
n = int(sys.argv[2])
us = lambda i: [1e6 * r[i] / n for r in rows]
cpu = lambda i: statistics.median(us(i))
rng = lambda i: "–".join(f"{x:.1f}" for x in (min(us(i)), max(us(i))))
print(f"\n{'CPU per record (user + system, start-up included), median':<62} {'µs':>8} {'vs kcat':>8} {'range':>14}")
print(f"{'kcat -C | kcat -P (both processes)':<62} {cpu(5):>8.1f} {'1.00×':>8} {rng(5):>14}")
print(f"{'validator':<62} {cpu(6):>8.1f} {cpu(6) / cpu(5):>7.2f}× {rng(6):>14}")
print(f"{'dedup (two messages out per record: unique + checkpoint)':<62} {cpu(7):>8.1f} {cpu(7) / cpu(5):>7.2f}× {rng(7):>14}")
PY
