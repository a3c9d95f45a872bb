#!/usr/bin/env bash
# The cluster of config/cluster.yaml on one machine: master, worker1,
# worker2 and worker3 each in a network namespace of its own, with the
# shipped addresses (10.42.0.1, .11, .12, .13/24) on a tap device, the taps
# joined by a virtual Ethernet switch (Debian's vde2: vde_switch, and
# vde_plug2tap in each namespace). Not veth and a bridge: the kernels of
# the VMs this is built on have no veth driver, and taps work everywhere.
# Nothing touches the machine's own network.
#
#   tests/support/netns_cluster.sh BUILD_DIR SOURCE_DIR     (root; CTest netns.cluster)
#
# The master runs the embedded broker, PostgreSQL, the WebHDFS TEST DOUBLE
# (tests/support/webhdfs_double.cc; not Hadoop), a replay server standing
# in for the sources, and `cointicker node master`; each worker runs
# `cointicker node NAME`. The placement is the shipped cluster.yaml's;
# addresses, keys and timers come as CTK_* overrides. The control plane is
# CURVE-authenticated (`ctl keygen`), as a non-loopback address requires.
#
# The embedded broker advertises its loopback listener, which no other
# namespace can reach: ctk_forward (the project's TCP forwarder) relays
# the master's 10.42.0.1:PORT to it, and on each worker the same loopback
# address to the master's. A real cluster runs Apache Kafka with
# advertised.listeners and needs none of this (docs/cluster.md).
#
# Records: crawls of every source from the replay fixtures (the
# scheduler's own and `cointicker crawl`), and 1,000 records of our own on
# `raw` in each phase:
#   1. all twelve actors running, every record stored;
#   2. worker2's link cut for 30 s (its switch port stopped, as a pulled
#      cable: longer than the group session timeout, so its partitions move
#      away and come back) and restored;
#   3. worker3 killed outright (SIGKILL to every process in it): its
#      partitions move to the others for good.
# Then PostgreSQL, HDFS and the distinct records the validators passed
# must be the same set of ids, each once in HDFS, no temporary file left.
set -euo pipefail
build=$(cd "${1:?BUILD_DIR}" && pwd)
src=$(cd "${2:?SOURCE_DIR}" && pwd)
bin=$build/cointicker
[[ $(id -u) == 0 ]] || { echo "netns_cluster: network namespaces need root (CI runs as root); not run" >&2; exit 77; }
for c in ip vde_switch vde_plug2tap; do
  command -v $c >/dev/null || { echo "netns_cluster: $c is missing (deploy/setup.sh installs iproute2 and vde2)" >&2; exit 1; }
done

tag=ctk$(($$ % 100000))
work=$(mktemp -d /tmp/ctk-netns.XXXXXX)
chmod 755 "$work"
declare -A addr=([master]=10.42.0.1 [worker1]=10.42.0.11 [worker2]=10.42.0.12 [worker3]=10.42.0.13)
nodes=(master worker1 worker2 worker3)
ns() { echo "$tag-$1"; }
in_ns() { local n=$1; shift; ip netns exec "$(ns "$n")" "$@"; }
log() { echo "[netns $(date +%T)] $*"; }
failed=1

cleanup() {
  set +e
  [[ -f $work/pg/data/postmaster.pid ]] && "$src/tests/support/pg.sh" stop "$work/pg" >/dev/null 2>&1
  for n in "${nodes[@]}"; do
    for p in $(ip netns pids "$(ns "$n")" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  done
  for n in "${nodes[@]}"; do ip netns del "$(ns "$n")" 2>/dev/null; done
  [[ -f $work/switch.pid ]] && kill "$(cat "$work/switch.pid")" 2>/dev/null
  if [[ $failed == 0 ]]; then
    rm -rf "$work"
  else
    for f in "$work"/*.err; do echo "--- ${f##*/} (last 15 lines)"; tail -n 15 "$f"; done
    echo "netns_cluster: FAILED; logs kept in $work" >&2
  fi
}
trap cleanup EXIT

# wait_for SECONDS WHAT CMD…: polls CMD until it succeeds; fails the test after SECONDS.
wait_for() {
  local limit=$1 what=$2
  shift 2
  local end=$((SECONDS + limit))
  until "$@" >/dev/null; do
    if ((SECONDS >= end)); then
      echo "netns_cluster: FAILED: $what (not within ${limit} s)" >&2
      exit 1
    fi
    sleep 0.5
  done
}

# The network: a switch, and a tap plugged into it in each namespace.
vde_switch -s "$work/switch" -d -p "$work/switch.pid"
declare -A plug
for n in "${nodes[@]}"; do
  ip netns add "$(ns "$n")"
  ip -n "$(ns "$n")" tuntap add mode tap eth0
  ip -n "$(ns "$n")" addr add "${addr[$n]}/24" dev eth0
  ip -n "$(ns "$n")" link set eth0 up
  ip -n "$(ns "$n")" link set lo up
  ip netns exec "$(ns "$n")" vde_plug2tap -s "$work/switch" eth0 2>"$work/plug-$n.log" &
  plug[$n]=$!
done
master=${addr[master]}
log "namespaces up: $(ip netns list | grep -c "^$tag-") of 4"

# The master's services.
CTK_PG_LISTEN=$master in_ns master "$src/tests/support/pg.sh" start "$work/pg" 5432 >/dev/null
dsn="host=$master port=5432 user=postgres dbname=postgres"
cfg=$src/config  # as shipped; what differs here comes as CTK_* overrides
"$bin" ctl keygen "$work/curve" >/dev/null
export CTK_KAFKA__BOOTSTRAP=$master:9092 CTK_POSTGRES__DSN=$dsn CTK_CONTROL__ROUTER=tcp://$master:5555 \
  CTK_CONTROL__PUB=tcp://$master:5556 CTK_CONTROL__CURVE_DIR=$work/curve CTK_CONTROL__HEARTBEAT=500ms \
  CTK_HDFS__ROTATE_AFTER=2s
in_ns master "$bin" --config "$cfg" broker --listen "$master:9092" >"$work/broker.out" 2>"$work/broker.err" &
listener() { grep -o 'broker listener 127\.0\.0\.1:[0-9]*' "$work/broker.err" | grep -o '[0-9]*$'; }
wait_for 30 "the broker is ready" listener
port=$(listener)
in_ns master "$build/ctk_forward" "$master:$port=127.0.0.1:$port" >"$work/forward-master.out" 2>"$work/forward-master.err" &
for n in worker1 worker2 worker3; do
  in_ns "$n" "$build/ctk_forward" "127.0.0.1:$port=$master:$port" >"$work/forward-$n.out" 2>"$work/forward-$n.err" &
done
in_ns master "$build/ctk_webhdfs_double" --root "$work/hdfs" --bind "$master" >"$work/webhdfs.out" 2>"$work/webhdfs.err" &
in_ns master "$bin" --config "$cfg" replay-server "$src/tests/fixtures/replay" --bind "$master" \
  >"$work/replay.out" 2>"$work/replay.err" &
for f in webhdfs.out replay.out forward-master.out forward-worker{1,2,3}.out; do
  wait_for 30 "$f says it is ready" grep -q . "$work/$f"
done
export CTK_HDFS__URL=webhdfs://$(sed -n 's/^namenode //p' "$work/webhdfs.out")/data
replay=$(sed -n 's/^replay //p' "$work/replay.out")

declare -A node_pid
for n in "${nodes[@]}"; do
  # ip execs the node: $! is its PID (not a subshell's, as with in_ns).
  ip netns exec "$(ns "$n")" "$bin" --config "$cfg" node "$n" --replay "$replay" >"$work/$n.out" 2>"$work/$n.err" &
  node_pid[$n]=$!
done
on_master() { in_ns master "$bin" --config "$cfg" "$@"; }

# Twelve instances by the shipped placement; every one running.
running() {
  { on_master status --json --timeout-ms 1000 2>/dev/null || true; } | python3 -c '
import json, sys
want = int(sys.argv[1]); prefix = sys.argv[2]
try:
    doc = json.load(sys.stdin)
except ValueError:
    sys.exit(1)  # no scheduler answer yet
rows = [a for a in doc["instances"] if a["identity"].startswith(prefix)]
sys.exit(0 if sum(a["state"] == "running" for a in rows) >= want else 1)' "$@"
}
wait_for 90 "all twelve actors report running" running 12 ""
log "twelve actors running on four nodes"

# N records of our own on raw, from the master (keys as the crawler makes them).
produce() {
  python3 -c '
import sys
a, b = int(sys.argv[1]), int(sys.argv[2])
for i in range(a, b):
    print(f"upbit/KRW-NS{i}:" + "{\"v\":1,\"source\":\"upbit\",\"kind\":\"market\",\"fetched_at\":\"2026-12-07T00:00:00Z\",\"data\":{\"symbol\":\"KRW-NS%d\",\"price\":1,\"volume_24h\":1,\"change_24h\":0,\"timestamp\":1725543306000}}" % i)' "$1" "$2" |
    in_ns master kcat -P -b "$master:9092" -t ctk.raw -K: -z none
}
# The ids the validators passed (distinct), in PostgreSQL, and in HDFS's final files.
valid_ids() {
  in_ns master kcat -C -b "$master:9092" -t ctk.valid -e -q -f '%s\n' |
    python3 -c 'import json, sys; [print(json.loads(l)["id"]) for l in sys.stdin if l.strip()]' | sort -u
}
pg_ids() {
  in_ns master psql "$dsn" -Atc "SELECT record_id FROM market_trends UNION ALL SELECT record_id FROM raw_news
                                 UNION ALL SELECT record_id FROM fear_greed_index" | sort
}
hdfs_ids() {
  find "$work/hdfs/data/raw" -type f -exec cat {} + 2>/dev/null |
    python3 -c 'import json, sys; [print(json.loads(l)["id"]) for l in sys.stdin if l.strip()]' | sort
}
same_set() {  # PostgreSQL and HDFS hold exactly what the validators passed, HDFS each once
  valid_ids >"$work/valid.ids"
  pg_ids >"$work/pg.ids" 2>/dev/null || return 1
  hdfs_ids >"$work/hdfs.ids" 2>/dev/null || return 1
  [[ -s $work/valid.ids ]] && cmp -s "$work/valid.ids" "$work/pg.ids" && cmp -s "$work/valid.ids" "$work/hdfs.ids"
}
ours() { grep -c . <(in_ns master psql "$dsn" -Atc "SELECT 1 FROM market_trends WHERE symbol LIKE 'KRW-NS%'"); }

settled() { [[ $(ours) == "$1" ]] && same_set; }

# Phase 1: everything up.
on_master crawl upbit alternative_me coinness saveticker coindesk cointelegraph decrypt >/dev/null
produce 0 1000
wait_for 120 "phase 1: PostgreSQL = HDFS = the validated records, 1000 of ours among them" settled 1000
log "phase 1: $(wc -l <"$work/valid.ids") records in PostgreSQL and HDFS"

# Phase 2: worker2 cut off while records arrive. The cut lasts until the
# others have taken over its partitions and stored everything (its dedup's
# and its hdfs-sink's: the group's session times out after 6 s), and at
# least 30 s.
kill -STOP "${plug[worker2]}"
cut_at=$SECONDS
log "phase 2: worker2's link is cut"
produce 1000 2000
on_master crawl upbit coinness >/dev/null
wait_for 120 "phase 2: stored without worker2" settled 2000
log "phase 2: $(wc -l <"$work/valid.ids") records in PostgreSQL and HDFS without worker2, $((SECONDS - cut_at)) s into the cut"
while ((SECONDS - cut_at < 30)); do sleep 1; done # the rest of the cut's 30 s
kill -CONT "${plug[worker2]}"
log "phase 2: worker2's link is back after $((SECONDS - cut_at)) s"
wait_for 120 "phase 2: worker2's actors report running again" running 3 worker2/

# Phase 3: worker3 killed outright.
for p in $(ip netns pids "$(ns worker3)"); do kill -9 "$p" 2>/dev/null || true; done
log "phase 3: every process of worker3 killed"
produce 2000 3000
on_master crawl upbit alternative_me >/dev/null
# worker2's hdfs-sink is now the only one: it came back by itself.
wait_for 180 "phase 3: PostgreSQL = HDFS = the validated records, 3000 of ours among them" settled 3000
if grep -q "restarted (pid" "$work/worker2.err"; then
  echo "netns_cluster: FAILED: worker2's node restarted an actor: $(grep "restarted (pid" "$work/worker2.err")" >&2
  exit 1
fi
tmp=$(find "$work/hdfs/data/_tmp" "$work/hdfs/data/_wal" -type f 2>/dev/null | wc -l)
log "phase 3: $(wc -l <"$work/valid.ids") records in PostgreSQL and HDFS, each once; $tmp temporary files"

# A lossless stop of what is left: the workers drain, the master last.
for n in worker1 worker2 master; do kill -TERM "${node_pid[$n]}"; done
for n in worker1 worker2 master; do
  wait "${node_pid[$n]}" || { echo "netns_cluster: FAILED: node $n exited $? on SIGTERM" >&2; exit 1; }
done
tmp=$(find "$work/hdfs/data/_tmp" "$work/hdfs/data/_wal" -type f 2>/dev/null | wc -l)
[[ $tmp == 0 ]] || { echo "netns_cluster: FAILED: $tmp temporary files left in HDFS after the stop" >&2; exit 1; }
same_set || { echo "netns_cluster: FAILED: PostgreSQL, HDFS and the validated records differ after the stop" >&2; exit 1; }
for s in upbit alternative_me coinness; do
  grep -q . <(in_ns master psql "$dsn" -Atc "SELECT 1 FROM market_trends WHERE source = '$s' UNION ALL
            SELECT 1 FROM raw_news WHERE source = '$s' UNION ALL SELECT 1 FROM fear_greed_index WHERE source = '$s'") ||
    { echo "netns_cluster: FAILED: nothing crawled from $s reached PostgreSQL" >&2; exit 1; }
done
failed=0
log "passed: $(wc -l <"$work/valid.ids") records, PostgreSQL = HDFS = validated, through a 30 s link cut and a killed worker"
