#!/usr/bin/env bash
# The HDFS batch side against its baselines, in one run on this machine:
#   aggregate  `cointicker aggregate` over one day of /raw (file://, JSON
#              Lines) next to `cat` of the same files to /dev/null: MB/s
#              with the page cache warm, and from disk (caches dropped
#              before each; as root only), and the aggregate's peak RSS
#   backfill   `cointicker backfill` of /raw records into a fresh migrated
#              database next to psql \copy of the same rows into the same
#              table (market_trends: unique record_id, CHECKs, indexes)
# Repetitions are interleaved and the median is reported next to the range.
# Usage: benchmarks/batch_throughput.sh [MB] [R] [ROWS]
#        (default 1100 MB of /raw, 3 repetitions, 200000 backfill rows)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/build/cointicker
bench=$here/build/benchmarks/sink_bench
mb=${1:-1100}
reps=${2:-3}
rows=${3:-200000}
work=$(mktemp -d /tmp/ctk-batchbench-XXXXXX)
chmod 755 "$work"
cleanup() {
  "$here/tests/support/pg.sh" destroy "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
pids=()
. "$here/benchmarks/lib.sh"

# One day of /raw: market envelopes as db-sink's benchmark makes them, made
# like a day of Upbit tickers (200 symbols, a snapshot of all every 10 s
# spread over the day), in files of 200,000 lines.
"$bench" gen --records "$rows" --jsonl "$work/rows.jsonl" --tsv "$work/rows.tsv"
per=$(($(stat -c %s "$work/rows.jsonl") / rows))
n=$((mb * 1000000 / per))
"$bench" gen --records "$n" --jsonl "$work/all.jsonl" --tsv /dev/null
day=$work/hdfs/raw/upbit/20261206
mkdir -p "$day"
mawk '{
  i = NR - 1; t = int(i / 200) * 10 % 86400
  sub(/"symbol":"KRW-C[0-9]+"/, "\"symbol\":\"KRW-C" (i % 200) "\"")
  sub(/"timestamp":"[^"]*"/, sprintf("\"timestamp\":\"2026-12-06T%02d:%02d:%02d.000Z\"", t / 3600, t / 60 % 60, t % 60))
  print
}' "$work/all.jsonl" | split -l 200000 -d -a 3 --additional-suffix=.jsonl - "$day/unique+0+"
rm "$work/all.jsonl"
bytes=$(cat "$day"/* | wc -c)
mkdir -p "$work/small/raw/upbit/20261206"
cp "$work/rows.jsonl" "$work/small/raw/upbit/20261206/unique+0+0+$((rows - 1)).jsonl"
echo "aggregate input: $n records, $((bytes / 1000000)) MB in $(ls "$day" | wc -l) files; backfill: $rows records" >&2

start_pg

cat "$day"/* >/dev/null  # warm the page cache for both
for r in $(seq "$reps"); do
  echo "repetition $r/$reps" >&2
  s=$(now)
  cat "$day"/* >/dev/null
  e=$(now)
  echo "cat $(python3 -c "print($bytes/($e-$s)/1e6)")" >>"$work/results"
  s=$(now)
  /usr/bin/time -f "%M" -o "$work/rss" "$bin" --config "$here/config" aggregate --day 2026-12-06 \
    --hdfs "file://$work/hdfs" >"$work/agg.out"
  e=$(now)
  echo "aggregate $(python3 -c "print($bytes/($e-$s)/1e6)")" >>"$work/results"
  echo "aggregate_rss $(($(cat "$work/rss") / 1024))" >>"$work/results"
  # From disk: the page cache dropped before each (needs root; left out otherwise).
  if [ -w /proc/sys/vm/drop_caches ]; then
    sync
    echo 3 >/proc/sys/vm/drop_caches
    s=$(now)
    cat "$day"/* >/dev/null
    e=$(now)
    echo "cat_cold $(python3 -c "print($bytes/($e-$s)/1e6)")" >>"$work/results"
    echo 3 >/proc/sys/vm/drop_caches
    s=$(now)
    "$bin" --config "$here/config" aggregate --day 2026-12-06 --hdfs "file://$work/hdfs" >/dev/null
    e=$(now)
    echo "aggregate_cold $(python3 -c "print($bytes/($e-$s)/1e6)")" >>"$work/results"
    cat "$day"/* >/dev/null
  fi

  fresh_db "copy$r"
  s=$(now)
  copy_rows "copy$r" "$work/rows.tsv"
  e=$(now)
  echo "copy $(python3 -c "print($rows/($e-$s))")" >>"$work/results"
  fresh_db "backfill$r"
  s=$(now)
  CTK_POSTGRES__DSN="$(dsn_of "backfill$r")" "$bin" --config "$here/config" backfill --day 2026-12-06 \
    --hdfs "file://$work/small" >/dev/null 2>&1
  e=$(now)
  echo "backfill $(python3 -c "print($rows/($e-$s))")" >>"$work/results"
  got=$(psql -X -At "$(dsn_of "backfill$r")" -c "SELECT count(*) FROM market_trends")
  [ "$got" = "$rows" ] || { echo "backfill stored $got rows, expected $rows" >&2; exit 1; }
done
head -1 "$work/agg.out" >&2

python3 - "$work/results" <<'PY'
import sys, statistics as st
res = {}
for line in open(sys.argv[1]):
    k, v = line.split()
    res.setdefault(k, []).append(float(v))
med = {k: st.median(v) for k, v in res.items()}
def row(label, key, base, fmt):
    vals = res[key]
    rng = "–".join(fmt.format(x) for x in (min(vals), max(vals)))
    pct = f"{100 * med[key] / med[base]:.0f} %" if base else ""
    print(f"{label:<44} {fmt.format(med[key]):>10} {pct:>7}   ({rng})")
row("cat of the /raw files (page cache), MB/s", "cat", None, "{:.0f}")
row("cointicker aggregate (page cache), MB/s", "aggregate", "cat", "{:.0f}")
if "cat_cold" in res:
    row("cat of the /raw files (from disk), MB/s", "cat_cold", None, "{:.0f}")
    row("cointicker aggregate (from disk), MB/s", "aggregate_cold", "cat_cold", "{:.0f}")
row("cointicker aggregate, peak RSS MiB", "aggregate_rss", None, "{:.0f}")
row("psql \\copy into market_trends, rows/s", "copy", None, "{:.0f}")
row("cointicker backfill, rows/s", "backfill", "copy", "{:.0f}")
PY
