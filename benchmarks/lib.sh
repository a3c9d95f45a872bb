# Shell helpers the throughput scripts share. Source it after setting
# $here, $bin and $work and declaring `pids=()` (killed by the caller's trap).

now() { date +%s.%N; }

# metric PORT NAME: the value of NAME on an actor's /metrics.
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 ~ "^"m"[{]" {print $2}'; }

peak_rss_mib() { awk '/VmHWM/ {print int($2/1024)}' "/proc/$1/status"; }

# start_broker: a fresh embedded broker with the topic bench.out:16 (the
# kcat passthrough's output); sets $b (bootstrap) and $broker (pid).
start_broker() {
  rm -f "$work/addr"
  "$bin" --config "$here/config" broker --listen 127.0.0.1:0 --address-file "$work/addr" --topic bench.out:16 \
    >/dev/null 2>"$work/broker.err" &
  broker=$!
  pids+=($broker)
  for _ in $(seq 200); do [ -s "$work/addr" ] && break; sleep 0.05; done
  b=$(cat "$work/addr")
}

# start_actor ACTOR [VAR=VALUE ...]: `cointicker run ACTOR` on $b; sets
# $actor_pid and, once its metrics endpoint is up, $actor_port.
start_actor() {
  local name=$1
  shift
  env "$@" "$bin" --config "$here/config" --bootstrap "$b" run "$name" --node bench 2>"$work/$name.err" &
  actor_pid=$!
  pids+=($actor_pid)
  actor_port=""
  while [ -z "$actor_port" ]; do
    actor_port=$(grep -o "metrics on http://127.0.0.1:[0-9]*" "$work/$name.err" | grep -o "[0-9]*$" || true)
    sleep 0.02
  done
}

# wait_first_input PORT, wait_consumed PORT N: poll the actor's counters.
wait_first_input() {
  while [ "$(metric "$1" ctk_consumed_total)" = "0" ] || [ -z "$(metric "$1" ctk_consumed_total)" ]; do sleep 0.005; done
}
wait_consumed() { while [ "$(metric "$1" ctk_consumed_total)" -lt "$2" ]; do sleep 0.01; done; }

# start_pg: a PostgreSQL of the run's own in $work/pg, fsync on (as a real
# deployment); sets $server (its dbname=postgres DSN).
start_pg() {
  CTK_PG_FSYNC=on "$here/tests/support/pg.sh" start "$work/pg" >/dev/null
  server=$(cat "$work/pg/dsn")
}
# dsn_of NAME: the DSN of database NAME on $server; fresh_db NAME: create and migrate it.
dsn_of() { echo "${server/dbname=postgres/dbname=$1}"; }
fresh_db() {
  psql -X -q "$server" -c "CREATE DATABASE $1"
  "$bin" --config "$here/config" db --dsn "$(dsn_of "$1")" migrate >/dev/null
}
# copy_rows DB TSV: psql \copy of sink_bench's TSV rows into DB's market_trends.
copy_rows() {
  psql -X -q "$(dsn_of "$1")" -c "\\copy market_trends(record_id,source,symbol,price,volume_24h,change_24h,\"timestamp\",collected_at,trace) from '$2'"
}
