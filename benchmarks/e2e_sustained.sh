#!/usr/bin/env bash
# The highest steady input rate the whole pipeline holds: records produced
# to `raw` at a steady rate (benchmarks/lib.sh steady_produce) flow through
# validator → dedup → db-sink and hdfs-sink (file://), with INSTANCES of each
# actor, on one embedded broker and one PostgreSQL (fsync on).
#
# A rate holds when, for SECONDS:
#   - the producer kept it (≥ 98 %; else the producer is the limit, said so),
#   - the pipeline stayed at most 2 s of input behind: the lag of every
#     group (ctk_lag_messages of every actor, summed), read once a second,
#     is ≤ 2 × RATE at the end of the production and never above 4 × RATE,
#   - and every record of it is in PostgreSQL within 30 s after.
# Each rate runs on a fresh broker, database and set of actors (the embedded
# broker slows down with what it keeps, docs/decisions.md), and holds only
# if afterwards every record of it is in HDFS once (counted by id). Rates
# are tried from 1,000/s, doubling until one does not hold, then halving
# the gap until it is within an eighth.
# Next to it, in the same run on the same broker: kcat -C | kcat -P of
# 150,000 of the same records (the transport's passthrough ceiling, msgs/s),
# on a broker of its own.
#
# Usage: benchmarks/e2e_sustained.sh [SECONDS] [INSTANCES...]   (default 60 s; 1 and 2)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/build/cointicker
secs=${1:-60}
shift || true
counts=("${@:-1 2}")
read -r -a counts <<<"${counts[*]}"
work=$(mktemp -d /tmp/ctk-sustained-XXXXXX)
chmod 755 "$work"
pids=()
. "$here/benchmarks/lib.sh"
trap finish EXIT

ports=()
lag() {  # all groups' lag, summed
  local p sum=0 v
  for p in "${ports[@]}"; do
    v=$(metric "$p" ctk_lag_messages | awk '{s += $1} END {print int(s)}')
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}
in_db() { psql -X -qAt "$(dsn_of "$db")" -c "SELECT count(*) FROM market_trends WHERE symbol LIKE '$1-%'"; }

# try_rate RATE → prints "held|behind|lost|producer|refused <kept rate> <lag at end> <max lag>"
try_rate() {
  local rate=$1 tag=R$1 n=$(($1 * secs)) kept maxlag=0 endlag l t0
  steady_produce "$rate" "$secs" "$tag" >"$work/kept" 2>"$work/producer.err" &
  local producer=$! failed=0
  while kill -0 "$producer" 2>/dev/null; do
    l=$(lag)
    ((l > maxlag)) && maxlag=$l
    sleep 1
  done
  wait "$producer" || failed=1
  kept=$(cat "$work/kept" 2>/dev/null || true)
  kept=${kept:-0}
  endlag=$(lag)
  t0=$SECONDS
  while [ "$(in_db "$tag")" != "$n" ] && ((SECONDS - t0 < 30)); do sleep 0.2; done
  local verdict=held
  if ((failed)); then
    verdict=refused  # the broker did not take the input in time (the producer gave up)
  elif ((kept * 100 < rate * 98)); then
    verdict=producer
  elif [ "$(in_db "$tag")" != "$n" ]; then
    verdict=lost
  elif ((endlag > 2 * rate || maxlag > 4 * rate)); then
    verdict=behind
  fi
  echo "$verdict $kept $endlag $maxlag"
}

# start_pipeline INST: a fresh broker, database and INST instances of each actor; sets $db, ports=()
start_pipeline() {
  start_broker
  db=sustained$((++runs))
  fresh_db "$db"
  ports=()
  local a i
  for a in validator dedup db-sink hdfs-sink; do
    for i in $(seq 0 $(($1 - 1))); do
      env CTK_POSTGRES__DSN="$(dsn_of "$db")" CTK_HDFS__URL="file://$work/hdfs$runs" \
        "$bin" --config "${config_dir:-$here/config}" --bootstrap "$b" run "$a" --node bench --instance "$i" \
        2>"$work/$a$i-$runs.err" &
      pids+=($!)
      until grep -q "metrics on http" "$work/$a$i-$runs.err" 2>/dev/null; do sleep 0.05; done
      ports+=("$(grep -o "metrics on http://127.0.0.1:[0-9]*" "$work/$a$i-$runs.err" | grep -o "[0-9]*$")")
    done
  done
  # warm-up: groups assigned, connections open
  steady_produce 200 1 W >/dev/null
  local t0=$SECONDS
  while [ "$(in_db W)" != 200 ] && ((SECONDS - t0 < 120)); do sleep 0.2; done
}
# stop_pipeline: SIGTERM to the actors (hdfs-sink commits its files), then the broker;
# writes how many distinct ids of TAG are in HDFS to $work/in_hdfs (not in a
# $(…) subshell: `wait` works only in the shell that started the actors)
stop_pipeline() {
  local p
  for p in "${pids[@]}"; do [ "$p" = "$broker" ] || kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do [ "$p" = "$broker" ] || wait "$p" 2>/dev/null || true; done
  kill -TERM "$broker" 2>/dev/null || true
  wait "$broker" 2>/dev/null || true
  pids=()
  python3 - "$work/hdfs$runs" "$1" >"$work/in_hdfs" <<'PY'
import glob, json, sys
ids = set()
for path in glob.glob(f"{sys.argv[1]}/raw/upbit/*/*.jsonl"):
    for line in open(path):
        rec = json.loads(line)
        if rec["data"]["symbol"].startswith(sys.argv[2] + "-"):
            ids.add(rec["id"])
print(len(ids))
PY
}
start_pg
runs=0
for inst in "${counts[@]}"; do
  echo "== $inst instance(s) of each actor, $secs s per rate, a fresh broker and pipeline per rate" >&2
  # the passthrough ceiling: 150,000 of the same records, on a broker of its own
  start_broker
  steady_produce 1000000 0.15 K >/dev/null
  read -r wall _ < <(timed_cpu "kcat -b $b -C -t ctk.raw -e -q -K'\t' -f '%k\t%s\n' | kcat -b $b -P -t bench.out -K'\t'")
  ceiling=$(python3 -c "print(int(150000 / $wall))")
  kill -TERM "$broker"; wait "$broker" || true
  pids=()
  ok=0 bad=0 rate=1000 steps=0
  while ((steps < 8)); do
    steps=$((steps + 1))
    start_pipeline "$inst"
    read -r verdict kept endlag maxlag < <(try_rate "$rate")
    stop_pipeline "R$rate"
    in_hdfs=$(cat "$work/in_hdfs")
    [ "$verdict" = held ] && [ "$in_hdfs" != $((rate * secs)) ] && verdict=lost
    echo "$rate $verdict kept=$kept lag_end=$endlag lag_max=$maxlag hdfs=$in_hdfs" >&2
    if [ "$verdict" = held ]; then ok=$rate; else bad=$rate; fi
    if ((bad == 0)); then
      rate=$((rate * 2))
    elif ((bad - ok <= bad / 8)); then
      break
    else
      rate=$(((ok + bad) / 2))
    fi
  done
  echo "$inst $ok $bad $ceiling" >>"$work/summary"
done

python3 - "$work/summary" "$secs" <<'PY'
import sys
print(f"\nhighest steady input rate held for {sys.argv[2]} s (lag ≤ 2 s of input, every record in PostgreSQL and in HDFS)")
print(f"{'instances':>9} {'held, records/s':>16} {'first not held':>15} {'kcat passthrough':>17} {'held vs kcat':>13}")
for line in open(sys.argv[1]):
    inst, ok, bad, ceiling = map(int, line.split())
    print(f"{inst:>9} {ok:>16} {bad or '-':>15} {ceiling:>17} {100 * ok / ceiling:>11.1f} %")
PY
