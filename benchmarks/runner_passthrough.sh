#!/usr/bin/env bash
# The actor runtime against the transport's ceiling, in the same run on the
# same embedded broker: N keyed ~350-byte envelopes on PARTITIONS partitions are
#   (a) copied by `kcat -C -e | kcat -P` (consume-then-produce passthrough),
#   (b) copied by the relay test actor on the real runner (idempotent
#       producer, acks=all, delivery awaited and offsets committed per batch).
# Prints messages/s and peak RSS. Usage: benchmarks/runner_passthrough.sh [N] [PARTITIONS]
# Keep N x size / PARTITIONS under the embedded broker's 5 MiB per partition:
# the script checks that nothing was evicted and fails if it was.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/build
n=${1:-200000}
parts=${2:-32}
work=$(mktemp -d)
trap 'kill $broker_pid 2>/dev/null || true; rm -rf "$work"' EXIT

"$bin/cointicker" --config "$here/config" broker --listen 127.0.0.1:0 --address-file "$work/addr" \
  --topic test.in:$parts --topic test.out:$parts --topic kcat.out:$parts >/dev/null 2>"$work/broker.err" &
broker_pid=$!
for _ in $(seq 200); do [ -s "$work/addr" ] && break; sleep 0.05; done
b=$(cat "$work/addr")

python3 - "$n" > "$work/in.txt" <<'PY'
import sys
n = int(sys.argv[1])
pad = "x" * 120
for i in range(n):
    print(f'upbit/KRW-C{i}:{{"v":1,"id":"{i:032x}","source":"upbit","kind":"market","fetched_at":"2026-11-23T11:00:00.123Z","url":"https://api.upbit.com/v1/ticker/all","trace":"bench","data":{{"symbol":"KRW-C{i}","price":80123456.5,"volume_24h":1234.5,"change_24h":-0.0108,"timestamp":"2026-11-23T11:00:00.000Z","pad":"{pad}"}}}}')
PY
kcat -b "$b" -P -t test.in -K: -l "$work/in.txt"
bytes=$(head -1 "$work/in.txt" | wc -c)

# MESSAGES and END columns of `cointicker topics` for one topic.
count() { "$bin/cointicker" --config "$here/config" --bootstrap "$b" topics 2>/dev/null | awk -v t="$1" '$1==t {print $3}'; }
ends() { "$bin/cointicker" --config "$here/config" --bootstrap "$b" topics 2>/dev/null | awk -v t="$1" '$1==t {print $4}'; }
if [ "$(count test.in)" != "$n" ] || [ "$(ends test.in)" != "$n" ]; then
  echo "the broker evicted input (5 MiB per partition): use more partitions or fewer messages" >&2; exit 1
fi

# CPU seconds the broker process used (utime + stime), to see who is the bottleneck.
broker_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14+$15)/hz}' /proc/$broker_pid/stat; }

# (a) kcat passthrough
cpu0=$(broker_cpu)
start=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$work/kcat.rss" sh -c "kcat -b $b -C -t test.in -e -q -K'\t' -f '%k\t%s\n' | kcat -b $b -P -t kcat.out -K'\t'"
end=$(date +%s.%N)
kcat_rate=$(python3 -c "print(int($n/($end-$start)))")
kcat_broker_cpu=$(python3 -c "print(f'{($(broker_cpu)-$cpu0)/($end-$start)*100:.0f} %')")
kcat_rss=$(cat "$work/kcat.rss")

cpu0=$(broker_cpu)
# (b) the runner, timed from partition assignment to its exit after the
# last commit (its own log timestamps; nothing else polls the broker meanwhile)
/usr/bin/time -f "%M %e %U %S" -o "$work/relay.rss" "$bin/ctk_relay_actor" --bootstrap "$b" --in in --out out \
  --batch "${CTK_BENCH_BATCH:-5000}" --batch-ms 100 --stop-after "$n" ${CTK_BENCH_RELAY_ARGS:-} 2>"$work/relay.err"
grep -o "seconds in poll.*" "$work/relay.err" >&2
t0=$(grep -m1 "assigned" "$work/relay.err" | cut -c12-23)
t1=$(grep -m1 "stopped:" "$work/relay.err" | cut -c12-23)
relay_broker_cpu=$(python3 -c "print(f'{($(broker_cpu)-$cpu0):.2f} CPU s')")
relay_rate=$(python3 -c "
def s(t): h,m,x=t.split(':'); return int(h)*3600+int(m)*60+float(x)
print(int($n/(s('$t1')-s('$t0'))))")
read -r relay_rss relay_wall relay_user relay_sys < "$work/relay.rss"; echo "relay: wall ${relay_wall}s user ${relay_user}s sys ${relay_sys}s (includes ~3 s group join)" >&2
[ "$(count test.out)" = "$n" ] || { echo "test.out has $(count test.out) messages, expected $n" >&2; exit 1; }
[ "$(count kcat.out)" = "$n" ] || { echo "kcat.out lost messages" >&2; exit 1; }
printf '\n%-44s %12s %12s   %s\n' "path ($n msgs, $bytes B each, $parts partitions)" "msgs/s" "peak RSS" "broker CPU"
printf '%-44s %12s %9s MiB   %s of a core\n' "kcat -C -e | kcat -P (passthrough ceiling)" "$kcat_rate" "$((kcat_rss/1024))" "$kcat_broker_cpu"
printf '%-44s %12s %9s MiB   %s incl. group join\n' "relay actor on the runner" "$relay_rate" "$((relay_rss/1024))" "$relay_broker_cpu"
python3 -c "print(f'runner / kcat passthrough: {$relay_rate/$kcat_rate*100:.0f} %')"
