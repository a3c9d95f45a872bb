#!/usr/bin/env bash
# db-sink and hdfs-sink throughput against their baselines, in one run on
# this machine. Every measurement is repeated R times, the
# repetitions interleaved (this VM's speed drifts by tens of per cent from
# minute to minute), and the median is reported next to the range.
#   db:   psql \copy of the same rows into the same keyed table (market_trends,
#         migrated: unique record_id, CHECK constraints, indexes), fsync on
#   file: cat of the same bytes into one file, then `sync FILE`; and, as the
#         ceiling of anything consuming from the broker, kcat -C of the same
#         records from the same broker into one file, then `sync FILE`
# Each sink is measured twice:
#   write path  - benchmarks/sink_bench feeds the actor directly (no Kafka),
#                 as the runner would; comparable with the baselines
#   process     - `cointicker run db-sink|hdfs-sink` consuming `unique` from
#                 a fresh embedded broker: first consumed message to all rows
#                 committed in PostgreSQL (db) / to every byte written to the
#                 temporary files (file; their commit at the SIGTERM drain is
#                 timed on its own line); peak RSS is the process's VmHWM;
#                 CPU per record is the process's user + system CPU from its
#                 start to that point, next to kcat -C's into one file
# Usage: benchmarks/sink_throughput.sh [N] [R]   (default 100000 records, 3 repetitions)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/build/cointicker
bench=$here/build/benchmarks/sink_bench
n=${1:-100000}
reps=${2:-3}
work=$(mktemp -d /tmp/ctk-sinkbench-XXXXXX)
chmod 755 "$work"
pids=()

. "$here/benchmarks/lib.sh"
trap finish EXIT
start_pg

"$bench" gen --records "$n" --jsonl "$work/in.jsonl" --tsv "$work/in.tsv" --kcat "$work/in.kcat"
bytes=$(stat -c %s "$work/in.jsonl")

start_sink() {  # actor log db → pid
  CTK_POSTGRES__DSN="$(dsn_of "$3")" CTK_HDFS__URL="file://$work/files-proc-$3" \
    "$bin" --config "$here/config" --bootstrap "$b" run "$1" --node bench >/dev/null 2>"$2" &
  echo $!
}
port_of() {
  local port=""
  while [ -z "$port" ]; do port=$(grep -o "metrics on http://127.0.0.1:[0-9]*" "$1" | grep -o "[0-9]*$" || true); sleep 0.02; done
  echo "$port"
}
wait_consumed() { while [ "$(metric "$1" ctk_consumed_total)" = "0" ] || [ -z "$(metric "$1" ctk_consumed_total)" ]; do sleep 0.005; done; }
stop_wait() { kill -TERM "$1"; while kill -0 "$1" 2>/dev/null; do sleep 0.005; done; }

for r in $(seq "$reps"); do
  echo "repetition $r/$reps" >&2
  # ---- baselines
  fresh_db "copy$r"
  s=$(now)
  copy_rows "copy$r" "$work/in.tsv"
  e=$(now)
  echo "copy $(python3 -c "print($n/($e-$s))")" >>"$work/results"
  rm -f "$work/cat.out"
  s=$(now)
  cat "$work/in.jsonl" >"$work/cat.out"
  sync "$work/cat.out"
  e=$(now)
  echo "cat $(python3 -c "print($bytes/($e-$s)/1e6)")" >>"$work/results"

  # ---- write paths (no Kafka)
  fresh_db "inproc$r"
  read -r _ _ _ v _ < <("$bench" db --records "$n" --dsn "$(dsn_of "inproc$r")" 2>/dev/null)
  echo "db_path $v" >>"$work/results"
  mkdir -p "$work/files-inproc-$r"
  read -r _ _ _ _ v < <("$bench" file --records "$n" --root "$work/files-inproc-$r" 2>/dev/null)
  echo "file_path $v" >>"$work/results"

  # ---- processes on a fresh embedded broker
  rm -f "$work/addr"
  "$bin" --config "$here/config" broker --listen 127.0.0.1:0 --address-file "$work/addr" >/dev/null 2>"$work/broker.err" &
  broker=$!
  pids+=($broker)
  for _ in $(seq 200); do [ -s "$work/addr" ] && break; sleep 0.05; done
  b=$(cat "$work/addr")
  kcat -b "$b" -P -t ctk.unique -K: -l "$work/in.kcat"
  # the transport's ceiling for a file sink: the same records consumed from
  # the same broker by kcat into one file, then `sync FILE`
  rm -f "$work/kcat.out"
  read -r wall cpu < <(timed_cpu "kcat -b $b -C -t ctk.unique -e -q -f '%s\n' >$work/kcat.out && sync $work/kcat.out")
  echo "kcat_file $(python3 -c "print($bytes/$wall/1e6)")" >>"$work/results"
  echo "kcat_cpu $(python3 -c "print(1e6*$cpu/$n)")" >>"$work/results"

  fresh_db "proc$r"
  pid=$(start_sink db-sink "$work/db$r.err" "proc$r"); pids+=($pid)
  port=$(port_of "$work/db$r.err")
  wait_consumed "$port"; s=$(now)
  while [ "$(metric "$port" ctk_sink_rows_written_total)" != "$n" ]; do sleep 0.01; done
  e=$(now)
  echo "db_proc $(python3 -c "print($n/($e-$s))")" >>"$work/results"
  echo "db_cpu $(python3 -c "print(1e6*$(cpu_seconds "$pid")/$n)")" >>"$work/results"
  echo "db_rss $(awk '/VmHWM/ {print $2/1024}' /proc/$pid/status)" >>"$work/results"
  stop_wait "$pid"

  pid=$(start_sink hdfs-sink "$work/hdfs$r.err" "proc$r"); pids+=($pid)
  port=$(port_of "$work/hdfs$r.err")
  wait_consumed "$port"; s=$(now)
  while [ "$(metric "$port" ctk_sink_bytes_written_total)" != "$bytes" ]; do sleep 0.005; done
  e=$(now)
  echo "file_proc $(python3 -c "print($bytes/($e-$s)/1e6)")" >>"$work/results"
  echo "file_cpu $(python3 -c "print(1e6*$(cpu_seconds "$pid")/$n)")" >>"$work/results"
  echo "file_rss $(awk '/VmHWM/ {print $2/1024}' /proc/$pid/status)" >>"$work/results"
  s=$(now)
  stop_wait "$pid"
  echo "drain $(python3 -c "print($(now)-$s)")" >>"$work/results"
  lines=$(cat "$work/files-proc-proc$r"/raw/*/*/*.jsonl | wc -l)
  [ "$lines" = "$n" ] || { echo "hdfs-sink wrote $lines lines, expected $n" >&2; exit 1; }
  stop_wait "$broker"
done

python3 - "$work/results" "$n" "$bytes" "$reps" <<'PY'
import sys, statistics as st
res = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    res.setdefault(k, []).append(float(v))
n, nbytes, reps = sys.argv[2], int(sys.argv[3]), sys.argv[4]
med = {k: st.median(v) for k, v in res.items()}
def row(label, key, base, unit_fmt):
    vals = res[key]
    rng = "–".join(unit_fmt.format(x) for x in (min(vals), max(vals)))
    pct = f"{100 * med[key] / med[base]:.0f} %" if base else ""
    print(f"{label:<56} {unit_fmt.format(med[key]):>10} {pct:>7}   ({rng})")
print(f"\nmedians of {reps} interleaved repetitions; range in brackets")
print(f"\n{'db: ' + n + ' rows into market_trends, fsync on':<56} {'rows/s':>10} {'vs copy':>7}")
row("psql \\copy into the keyed table (baseline)", "copy", "copy", "{:.0f}")
row("db-sink write path (COPY; upsert if ids stored; offsets)", "db_path", "copy", "{:.0f}")
row("db-sink process, consuming unique from the broker", "db_proc", "copy", "{:.0f}")
row("db-sink process peak RSS (MiB)", "db_rss", None, "{:.0f}")
print(f"\n{'files: ' + n + ' records, ' + str(nbytes // 1000000) + ' MB':<56} {'MB/s':>10} {'vs cat':>7}")
row("cat into one file + sync (baseline)", "cat", "cat", "{:.0f}")
row("hdfs-sink write path (file://, 16 partitions, fsync)", "file_path", "cat", "{:.0f}")
row("hdfs-sink process, consuming unique from the broker", "file_proc", "cat", "{:.0f}")
row("kcat -C from the same broker into one file + sync", "kcat_file", "cat", "{:.0f}")
print(f"{'hdfs-sink process vs that kcat (the transport ceiling)':<56} {'':>10} {100 * med['file_proc'] / med['kcat_file']:>5.0f} %")
row("hdfs-sink process peak RSS (MiB)", "file_rss", None, "{:.0f}")
row("hdfs-sink drain after SIGTERM: commit + leave group (s)", "drain", None, "{:.2f}")
print(f"\n{'CPU per record, user + system, start-up included':<56} {'µs':>10} {'vs kcat':>7}")
row("kcat -C from the broker into one file + sync (baseline)", "kcat_cpu", None, "{:.1f}")
for label, key in (("db-sink process (the server's own CPU not counted)", "db_cpu"), ("hdfs-sink process (file://)", "file_cpu")):
    vals = res[key]
    print(f"{label:<56} {med[key]:>10.1f} {med[key] / med['kcat_cpu']:>6.2f}×   ({min(vals):.1f}–{max(vals):.1f})")
PY
