#!/usr/bin/env bash
# Idle footprint of each record-handling actor with the shipped config: one
# instance at a time on a fresh embedded broker (and PostgreSQL for db-sink
# and the analyzer, a file:// HDFS for hdfs-sink), nothing to read. Once its
# metrics endpoint is up and a warm-up has passed, the actor's memory and
# its CPU (utime + stime from /proc over the window, as % of one core) are
# read. Memory three ways, from /proc/PID/smaps_rollup: RSS (every resident
# page, shared library text included, as `ps` shows it), PSS (shared pages
# divided among the processes that map them: what N actors on a node add
# up to) and private (pages no other process maps: what one more actor
# costs); and the peak RSS since start (VmHWM). Two rows last: "runner
# alone", the tests' relay actor (the runtime without any actor's own
# libraries), and "kcat -G", librdkafka's consumer with nothing around it:
# the floors under every actor.
#   benchmarks/footprint.sh [SECONDS] [amd64|arm64]
# amd64: build/cointicker. arm64: build/arm64/cointicker (tests/support/arm64.sh
# build) under qemu-aarch64; the broker stays the build machine's. Under
# qemu-user the figures are the emulator's process: the guest's memory plus
# qemu's own (its translated-code cache among it), and CPU spent translating;
# an upper bound for a Pi, not its figure.
# The busy side (peak RSS while a stage runs flat out) is in
# benchmarks/stage_throughput.sh's "peak RSS" column.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/build/cointicker
window=${1:-30}
arch=${2:-amd64}
run=("$bin")
if [ "$arch" = arm64 ]; then
  sysroot=${CTK_ARM64_SYSROOT:-$here/build/arm64-sysroot}
  run=(qemu-aarch64 -E "LD_LIBRARY_PATH=$sysroot/usr/lib/aarch64-linux-gnu" "$here/build/arm64/cointicker")
  [ -x "${run[3]}" ] || { echo "footprint: ${run[3]} is not built (tests/support/arm64.sh build)" >&2; exit 1; }
fi
work=$(mktemp -d /tmp/ctk-footprint-XXXXXX)
chmod 755 "$work"  # the postgres user starts the PostgreSQL in it
pids=()
. "$here/benchmarks/lib.sh"
trap finish EXIT
start_broker
start_pg
fresh_db footprint
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/${3:-status}"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

echo "($arch, ${window} s window after a 5 s warm-up, $(date -u +%F), $(git -C "$here" rev-parse --short HEAD))"
echo "actor        RSS MiB  PSS MiB  private MiB  peak RSS MiB  idle CPU %"
# measure NAME READY COMMAND...: start it, wait until its stderr says READY
# and for the warm-up, print one row, stop it.
measure() {
  local name=$1 ready=$2 pid t0 t1 private deadline
  shift 2
  "$@" 2>"$work/$name.err" &
  pid=$!
  pids+=($pid)
  deadline=$((SECONDS + 120))
  until grep -q "$ready" "$work/$name.err" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { echo "footprint: $name exited:" >&2; tail -n 5 "$work/$name.err" >&2; exit 1; }
    ((SECONDS < deadline)) || { echo "footprint: $name did not start in 120 s" >&2; exit 1; }
    sleep 0.1
  done
  sleep 5
  t0=$(cpu_ticks "$pid")
  sleep "$window"
  t1=$(cpu_ticks "$pid")
  private=$(($(kib "$pid" Private_Clean smaps_rollup) + $(kib "$pid" Private_Dirty smaps_rollup)))
  printf '%-12s %7s  %7s  %11s  %12s  %10.2f\n' "$name" "$(mib "$(kib "$pid" Rss smaps_rollup)")" \
    "$(mib "$(kib "$pid" Pss smaps_rollup)")" "$(mib "$private")" "$(mib "$(kib "$pid" VmHWM)")" \
    "$(awk -v t=$((t1 - t0)) -v hz="$hz" -v w="$window" 'BEGIN {print 100 * t / hz / w}')"
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
}

for actor in validator dedup db-sink hdfs-sink analyzer; do
  mkdir -p "$work/hdfs"
  measure "$actor" "metrics on http" env CTK_POSTGRES__DSN="$(dsn_of footprint)" CTK_HDFS__URL="file://$work/hdfs" \
    "${run[@]}" --config "${config_dir:-$here/config}" --bootstrap "$b" run "$actor" --node footprint
done
# The floor under any actor of this design: the runner alone (the tests'
# relay actor: runner, transport, control agent, metrics endpoint, config;
# no actor's own libraries) with the shipped waits: a 100 ms fetch wait and
# a 100 ms batch wait.
relay=$here/build/ctk_relay_actor
[ "$arch" = arm64 ] && relay=$here/build/arm64/ctk_relay_actor
if [ -x "$relay" ]; then
  run_relay=("$relay")
  [ "$arch" = arm64 ] && run_relay=("${run[@]:0:3}" "$relay")
  measure "runner alone" "metrics on http" "${run_relay[@]}" --bootstrap "$b" --in raw --out valid --prefix ctk. \
    --batch-ms 100 --consumer-prop fetch.wait.max.ms=100
fi
# ... and under that, librdkafka's own: kcat as a group consumer of the
# same topic with the same 100 ms fetch wait, amd64 only.
if [ "$arch" = amd64 ]; then
  measure "kcat -G" "rebalanced" kcat -b "$b" -X fetch.wait.max.ms=100 -G footprint.kcat ctk.raw
fi
