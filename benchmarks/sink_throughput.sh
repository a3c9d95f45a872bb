#!/usr/bin/env bash
# db-sink and hdfs-sink throughput against their baselines, in one run on
# this machine (issue 5):
#   db:   psql \copy of the same rows into the same keyed table (market_trends,
#         migrated: unique record_id, CHECK constraints, indexes), fsync on
#   file: cat of the same bytes into one file, then `sync FILE`
# Each sink is measured twice:
#   write path  - benchmarks/sink_bench feeds the actor directly (no Kafka),
#                 as the runner would; comparable with the baselines
#   process     - `cointicker run db-sink|hdfs-sink` consuming `unique` from
#                 the embedded broker: first consumed message to all rows
#                 committed in PostgreSQL (db) / to every byte written to the
#                 temporary files (file; their commit at the SIGTERM drain is
#                 timed on its own line); peak RSS is the process's VmHWM
# Usage: benchmarks/sink_throughput.sh [N]   (default 100000)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/build/cointicker
bench=$here/build/benchmarks/sink_bench
n=${1:-100000}
work=$(mktemp -d /tmp/ctk-sinkbench-XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  "$here/tests/support/pg.sh" destroy "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
rate() { python3 -c "print(int($1/($3-$2)))"; }
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 ~ "^"m"[{]" {print $2}'; }

CTK_PG_FSYNC=on "$here/tests/support/pg.sh" start "$work/pg" >/dev/null
server=$(cat "$work/pg/dsn")
dsn_of() { echo "${server/dbname=postgres/dbname=$1}"; }
for db in copy inproc proc; do
  psql -X -q "$server" -c "CREATE DATABASE $db"
  "$bin" --config "$here/config" db --dsn "$(dsn_of $db)" migrate >/dev/null
done

"$bench" gen --records "$n" --jsonl "$work/in.jsonl" --tsv "$work/in.tsv" --kcat "$work/in.kcat"
bytes=$(stat -c %s "$work/in.jsonl")

# ---- baselines
s=$(now)
psql -X -q "$(dsn_of copy)" -c "\\copy market_trends(record_id,source,symbol,price,volume_24h,change_24h,\"timestamp\",collected_at,trace) from '$work/in.tsv'"
e=$(now)
copy_rate=$(rate "$n" "$s" "$e")
s=$(now)
cat "$work/in.jsonl" >"$work/cat.out"
sync "$work/cat.out"
e=$(now)
cat_mbs=$(python3 -c "print(round($bytes/($e-$s)/1e6,1))")

# ---- write paths (no Kafka)
read -r _ _ _ db_inproc _ < <("$bench" db --records "$n" --dsn "$(dsn_of inproc)" 2>/dev/null)
mkdir -p "$work/files-inproc"
read -r _ _ _ _ file_inproc < <("$bench" file --records "$n" --root "$work/files-inproc" 2>/dev/null)

# ---- processes on the embedded broker
"$bin" --config "$here/config" broker --listen 127.0.0.1:0 --address-file "$work/addr" >/dev/null 2>"$work/broker.err" &
pids+=($!)
for _ in $(seq 200); do [ -s "$work/addr" ] && break; sleep 0.05; done
b=$(cat "$work/addr")
kcat -b "$b" -P -t ctk.unique -K: -l "$work/in.kcat"

start_sink() {  # actor log → pid
  CTK_POSTGRES__DSN="$(dsn_of proc)" CTK_HDFS__URL="file://$work/files-proc" \
    "$bin" --config "$here/config" --bootstrap "$b" run "$1" --node bench >/dev/null 2>"$2" &
  echo $!
}
port_of() {
  local port=""
  while [ -z "$port" ]; do port=$(grep -o "metrics on http://127.0.0.1:[0-9]*" "$1" | grep -o "[0-9]*$" || true); sleep 0.02; done
  echo "$port"
}
wait_consumed() { while [ "$(metric "$1" ctk_consumed_total)" = "0" ] || [ -z "$(metric "$1" ctk_consumed_total)" ]; do sleep 0.005; done; }

pid=$(start_sink db-sink "$work/db.err"); pids+=($pid)
port=$(port_of "$work/db.err")
wait_consumed "$port"; s=$(now)
while [ "$(metric "$port" ctk_sink_rows_written_total)" != "$n" ]; do sleep 0.01; done
e=$(now)
db_proc=$(rate "$n" "$s" "$e")
db_rss=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$pid/status)
kill -TERM "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.01; done

pid=$(start_sink hdfs-sink "$work/hdfs.err"); pids+=($pid)
port=$(port_of "$work/hdfs.err")
wait_consumed "$port"; s=$(now)
while [ "$(metric "$port" ctk_sink_bytes_written_total)" != "$bytes" ]; do sleep 0.005; done
e=$(now)
file_rss=$(awk '/VmHWM/ {print int($2/1024)}' /proc/$pid/status)
file_proc=$(python3 -c "print(round($bytes/($e-$s)/1e6,1))")
# The files are committed (fsync, commit log, renames) at rotation; here at
# the drain that SIGTERM starts. Timed separately: the drain also leaves the
# consumer group.
s=$(now)
kill -TERM "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.005; done
drain=$(python3 -c "print(round($(now)-$s,2))")
lines=$(cat "$work"/files-proc/raw/*/*/*.jsonl | wc -l)
[ "$lines" = "$n" ] || { echo "hdfs-sink wrote $lines lines, expected $n" >&2; exit 1; }

pct() { python3 -c "print(round(100*$1/$2))"; }
printf '\n%-58s %12s %8s %9s\n' "db ($n rows, market_trends, fsync on)" "rows/s" "vs copy" "peak RSS"
printf '%-58s %12s %7s%% %9s\n' "psql \\copy into the keyed table (baseline)" "$copy_rate" 100 "-"
printf '%-58s %12s %7s%% %9s\n' "db-sink write path (COPY; upsert if ids stored; offsets)" "$db_inproc" "$(pct "$db_inproc" "$copy_rate")" "-"
printf '%-58s %12s %7s%% %6s MiB\n' "db-sink process, consuming unique from the broker" "$db_proc" "$(pct "$db_proc" "$copy_rate")" "$db_rss"
printf '\n%-58s %12s %8s %9s\n' "files ($n records, $((bytes / 1000000)) MB)" "MB/s" "vs cat" "peak RSS"
printf '%-58s %12s %7s%% %9s\n' "cat into one file + sync (baseline)" "$cat_mbs" 100 "-"
printf '%-58s %12s %7s%% %9s\n' "hdfs-sink write path (file://, 16 partitions, fsync)" "$file_inproc" "$(pct "$file_inproc" "$cat_mbs")" "-"
printf '%-58s %12s %7s%% %6s MiB\n' "hdfs-sink process, consuming unique from the broker" "$file_proc" "$(pct "$file_proc" "$cat_mbs")" "$file_rss"
printf '%-58s %11ss\n' "hdfs-sink drain after SIGTERM (commit + leave the group)" "$drain"
echo
echo "where the processes spent their time (runner phases):"
grep -h "stopped:" "$work/db.err" "$work/hdfs.err" | sed 's/^.*\] /  /'
