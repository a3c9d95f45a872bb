#!/usr/bin/env bash
# End-to-end latency: how long after a record is produced to `raw` its row is
# committed in PostgreSQL and its line committed in HDFS (file://), through
# validator → dedup → db-sink and hdfs-sink, one instance each, on one
# embedded broker, at steady input rates.
#
#   produced   a paced producer (python → kcat -P) stamps each record's
#              fetched_at with the wall time at which it hands it to kcat
#   PostgreSQL the row's transaction commit time, pg_xact_commit_timestamp(xmin)
#              (the server runs with track_commit_timestamp=on, fsync on),
#              minus collected_at (= fetched_at)
#   HDFS       the ctime of the committed file (set by the rename that
#              commits it) minus each line's fetched_at
#
# Each rate runs for SECONDS; then the script waits until every record of it
# is in PostgreSQL before the next rate starts. Where the time goes comes from
# the runner's phase counters (ctk_phase_*_seconds_total, ctk_batches_total)
# of each actor over each rate: the share of the wall time spent in poll
# (waiting for input: the broker's fetch wait, the batch timer), handle,
# delivery (waiting for the broker's acknowledgements), flush (the actor's
# own write: COPY, file appends, commits of files) and commit (Kafka
# offsets), and how often it committed offsets.
#
# Usage: benchmarks/e2e_latency.sh [SECONDS] [RATES] [ROTATE_AFTER]
#        (default 60 s, "100 1000 10000" records/s, hdfs.rotate_after 60s as shipped)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/build/cointicker
secs=${1:-60}
rates=${2:-100 1000 10000}
rotate=${3:-60s}
work=$(mktemp -d /tmp/ctk-e2e-XXXXXX)
chmod 755 "$work"
pids=()
. "$here/benchmarks/lib.sh"
trap finish EXIT

export CTK_PG_OPTIONS="-c track_commit_timestamp=on"
start_pg
fresh_db e2e
start_broker
declare -A port
for a in validator dedup db-sink hdfs-sink; do
  start_actor "$a" CTK_POSTGRES__DSN="$(dsn_of e2e)" CTK_HDFS__URL="file://$work/hdfs" CTK_HDFS__ROTATE_AFTER="$rotate"
  port[$a]=$actor_port
done

in_db() { psql -X -qAt "$(dsn_of e2e)" -c "SELECT count(*) FROM market_trends WHERE symbol LIKE '$1-%'"; }
wait_db() {  # TAG N: until N rows of TAG are in PostgreSQL, at most 120 s (a rate the pipeline does not hold may lose records: said, and measured on what landed)
  local t0; t0=$(now)
  while [ "$(in_db "$1")" != "$2" ]; do
    python3 -c "import sys; sys.exit($(now) - $t0 > 120)" || { echo "e2e: only $(in_db "$1") of $2 rows of $1 in PostgreSQL after 120 s" >&2; return 0; }
    sleep 0.1
  done
}
phases() {  # one line per actor: batches and phase seconds, from its /metrics
  local a p
  for a in validator dedup db-sink hdfs-sink; do
    echo -n "$a $(metric "${port[$a]}" ctk_batches_total)"
    for p in poll handle delivery flush commit; do echo -n " $(metric "${port[$a]}" "ctk_phase_${p}_seconds_total")"; done
    echo
  done
}

# Warm-up: groups assigned, connections open, the table's first pages written.
steady_produce 200 1 W >/dev/null
wait_db W 200
: >"$work/phases"
for rate in $rates; do
  tag=R$rate
  n=$(python3 -c "print(int($rate * $secs))")
  echo "rate $rate/s for $secs s ($n records)" >&2
  phases >"$work/before"
  s=$(now)
  steady_produce "$rate" "$secs" "$tag" >/dev/null
  wait_db "$tag" "$n"
  e=$(now)
  phases >"$work/after"
  paste -d' ' "$work/before" "$work/after" | sed "s/^/$rate $(python3 -c "print($e - $s)") /" >>"$work/phases"
done

# HDFS: every record that is in PostgreSQL committed (rotate_after, checked while idle).
total=$(psql -X -qAt "$(dsn_of e2e)" -c "SELECT count(*) FROM market_trends")
lines() { cat "$work"/hdfs/raw/upbit/*/*.jsonl 2>/dev/null | wc -l; }
t0=$(now)
while [ "$(lines)" != "$total" ]; do
  python3 -c "import sys; sys.exit($(now) - $t0 > 180)" || { echo "e2e: $(lines) of $total lines in HDFS after 180 s" >&2; exit 1; }
  sleep 0.2
done

psql -X -qAt -F' ' "$(dsn_of e2e)" -c "SELECT split_part(symbol, '-', 1),
  extract(epoch FROM pg_xact_commit_timestamp(xmin) - collected_at) FROM market_trends" >"$work/db.lat"
python3 - "$work" "$rates" "$secs" "$rotate" <<'PY'
import datetime, glob, json, os, statistics, sys
work, rates, secs, rotate = sys.argv[1], sys.argv[2].split(), sys.argv[3], sys.argv[4]
db, fs = {}, {}
for line in open(f"{work}/db.lat"):
    tag, lat = line.split()
    db.setdefault(tag, []).append(float(lat) * 1000)
for path in glob.glob(f"{work}/hdfs/raw/upbit/*/*.jsonl"):
    committed = os.stat(path).st_ctime
    for line in open(path):
        rec = json.loads(line)
        tag = rec["data"]["symbol"].split("-")[0]
        t = datetime.datetime.fromisoformat(rec["fetched_at"].replace("Z", "+00:00")).timestamp()
        fs.setdefault(tag, []).append((committed - t) * 1000)
def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))]
print(f"\nlatency from produce to commit, ms; {secs} s per rate; one instance per actor; hdfs.rotate_after {rotate}")
print(f"{'rate/s':>7} {'produced':>8} {'landed':>8} | {'PostgreSQL p50':>14} {'p99':>7} {'max':>7} | {'HDFS p50':>9} {'p99':>7} {'max':>7}")
for r in rates:
    d, f = db.get(f"R{r}", [0]), fs.get(f"R{r}", [0])
    print(f"{r:>7} {int(int(r) * float(secs)):>8} {len(d):>8} | {q(d, .5):>14.0f} {q(d, .99):>7.0f} {max(d):>7.0f} | {q(f, .5):>9.0f} {q(f, .99):>7.0f} {max(f):>7.0f}")
print("\nwhere the time goes: per actor and rate, offset commits per second and the share of the")
print("rate's wall time (produce start to the last row in PostgreSQL) in each runner phase, %")
print(f"{'rate/s':>7} {'actor':<10} {'commits/s':>9} {'poll':>7} {'handle':>7} {'delivery':>8} {'flush':>7} {'commit':>7}")
for line in open(f"{work}/phases"):
    f = line.split()
    rate, wall, actor = f[0], float(f[1]), f[2]
    before, after = [float(x) for x in f[3:9]], [float(x) for x in f[10:16]]
    d = [a - b for a, b in zip(after, before)]
    pct = [100 * x / wall for x in d[1:]]
    print(f"{rate:>7} {actor:<10} {d[0] / wall:>9.1f} " + " ".join(f"{m:>{w}.1f}" for m, w in zip(pct, (7, 7, 8, 7, 7))))
PY
