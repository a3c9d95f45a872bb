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
# Rates are tried from 1,000/s, doubling until one does not hold, then
# halving the gap twice. Between rates the pipeline drains to lag 0. At the
# end every record of every rate that held is in HDFS once (counted by id).
# Next to it, in the same run on the same broker: kcat -C | kcat -P of
# 150,000 of the same records (the transport's passthrough ceiling, msgs/s),
# which then pass through the pipeline as its warm-up.
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
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  "$here/tests/support/pg.sh" destroy "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
. "$here/benchmarks/lib.sh"
start_pg

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

# try RATE → prints "held|behind|lost|producer <kept rate> <lag at end> <max lag>"
try_rate() {
  local rate=$1 tag=R$1 n=$(($1 * secs)) kept maxlag=0 endlag l t0
  steady_produce "$rate" "$secs" "$tag" >"$work/kept" &
  local producer=$!
  while kill -0 "$producer" 2>/dev/null; do
    l=$(lag)
    ((l > maxlag)) && maxlag=$l
    sleep 1
  done
  wait "$producer"
  kept=$(cat "$work/kept")
  endlag=$(lag)
  t0=$SECONDS
  while [ "$(in_db "$tag")" != "$n" ] && ((SECONDS - t0 < 30)); do sleep 0.2; done
  local verdict=held
  if ((kept * 100 < rate * 98)); then
    verdict=producer
  elif [ "$(in_db "$tag")" != "$n" ]; then
    verdict=lost
  elif ((endlag > 2 * rate || maxlag > 4 * rate)); then
    verdict=behind
  fi
  # drain before the next rate (records a failed rate left behind land or are dropped)
  t0=$SECONDS
  while (($(lag) > 0)) && ((SECONDS - t0 < 180)); do sleep 0.5; done
  echo "$verdict $kept $endlag $maxlag"
}

for inst in "${counts[@]}"; do
  echo "== $inst instance(s) of each actor, $secs s per rate" >&2
  start_broker
  db=sustained$inst
  fresh_db "$db"
  # the passthrough ceiling on this broker: 150,000 of the same records
  steady_produce 1000000 0.15 K >/dev/null  # as fast as kcat takes them; the actors read them later
  read -r wall _ < <(timed_cpu "kcat -b $b -C -t ctk.raw -e -q -K'\t' -f '%k\t%s\n' | kcat -b $b -P -t bench.out -K'\t'")
  ceiling=$(python3 -c "print(int(150000 / $wall))")
  ports=()
  for a in validator dedup db-sink hdfs-sink; do
    for i in $(seq 0 $((inst - 1))); do
      env CTK_POSTGRES__DSN="$(dsn_of "$db")" CTK_HDFS__URL="file://$work/hdfs$inst" \
        "$bin" --config "${config_dir:-$here/config}" --bootstrap "$b" run "$a" --node bench --instance "$i" \
        2>"$work/$a$i.err" &
      pids+=($!)
      while ! grep -q "metrics on http" "$work/$a$i.err"; do sleep 0.05; done
      ports+=("$(grep -o "metrics on http://127.0.0.1:[0-9]*" "$work/$a$i.err" | grep -o "[0-9]*$")")
    done
  done
  # the K records go through first: groups assigned, the table warm
  t0=$SECONDS
  while [ "$(in_db K)" != 150000 ] && ((SECONDS - t0 < 300)); do sleep 0.5; done
  while (($(lag) > 0)) && ((SECONDS - t0 < 300)); do sleep 0.5; done

  : >"$work/tried$inst"
  ok=0 bad=0 rate=1000
  while ((bad == 0)); do
    read -r verdict kept endlag maxlag < <(try_rate "$rate")
    echo "$rate $verdict $kept $endlag $maxlag" | tee -a "$work/tried$inst" >&2
    if [ "$verdict" = held ]; then ok=$rate; rate=$((rate * 2)); else bad=$rate; fi
    ((rate > 256000)) && break
  done
  for _ in 1 2; do
    ((bad == 0 || bad - ok <= 500)) && break
    rate=$(((ok + bad) / 2))
    read -r verdict kept endlag maxlag < <(try_rate "$rate")
    echo "$rate $verdict $kept $endlag $maxlag" | tee -a "$work/tried$inst" >&2
    if [ "$verdict" = held ]; then ok=$rate; else bad=$rate; fi
  done
  # HDFS: every record of the rates that held, once (committed at the SIGTERM drain)
  for p in "${pids[@]}"; do [ "$p" = "$broker" ] || kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do [ "$p" = "$broker" ] || wait "$p" 2>/dev/null || true; done
  python3 - "$work/hdfs$inst" "$work/tried$inst" <<'PY' >"$work/hdfs_check$inst"
import glob, json, sys
held = {f"R{l.split()[0]}": int(l.split()[0]) for l in open(sys.argv[2]) if l.split()[1] == "held"}
ids = {}
for path in glob.glob(f"{sys.argv[1]}/raw/upbit/*/*.jsonl"):
    for line in open(path):
        rec = json.loads(line)
        tag = rec["data"]["symbol"].split("-")[0]
        if tag in held:
            ids.setdefault(tag, set()).add(rec["id"])
lines = sum(1 for path in glob.glob(f"{sys.argv[1]}/raw/upbit/*/*.jsonl") for _ in open(path))
print(" ".join(f"{t}:{len(ids.get(t, ()))}" for t in sorted(held, key=held.get)), lines)
PY
  echo "$inst $ok $bad $ceiling $(cat "$work/hdfs_check$inst")" >>"$work/summary"
  kill -TERM "$broker"; wait "$broker" || true
  pids=()
done

python3 - "$work/summary" "$secs" <<'PY'
import sys
print(f"\nhighest steady input rate held for {sys.argv[2]} s (lag ≤ 2 s of input, every record in PostgreSQL and HDFS)")
print(f"{'instances':>9} {'held, records/s':>16} {'first not held':>15} {'kcat passthrough':>17} {'held vs kcat':>13}  HDFS ids per rate held")
for line in open(sys.argv[1]):
    f = line.split()
    inst, ok, bad, ceiling = int(f[0]), int(f[1]), int(f[2]), int(f[3])
    print(f"{inst:>9} {ok:>16} {bad or '-':>15} {ceiling:>17} {100 * ok / ceiling:>11.0f} %  {' '.join(f[4:-1])}")
PY
