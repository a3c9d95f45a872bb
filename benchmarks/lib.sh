# Shell helpers the throughput scripts share. Source it after setting
# $here, $bin and $work and declaring `pids=()` (killed by the caller's trap).
# Actors read ${config_dir:-config/}: point config_dir at a copy to measure another setting.

now() { date +%s.%N; }

# finish: kill every process in $pids, destroy the run's PostgreSQL (if
# any), remove $work. The scripts' EXIT trap: `trap finish EXIT`.
finish() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -d "$work/pg" ] && "$here/tests/support/pg.sh" destroy "$work/pg" >/dev/null 2>&1 || true
  rm -rf "$work"
}

# metric PORT NAME: the value of NAME on an actor's /metrics.
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 ~ "^"m"[{]" {print $2}'; }

# cpu_seconds PID: user + system CPU seconds the process has used so far.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
# timed_cpu 'COMMAND': run a shell command; print its wall seconds and the
# CPU seconds (user + system) of every process it ran.
timed_cpu() {
  python3 -c 'import resource, subprocess, sys, time
t = time.time()
subprocess.run(sys.argv[1], shell=True, check=True)
w = time.time() - t
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(w, r.ru_utime + r.ru_stime)' "$1"
}

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
  env "$@" "$bin" --config "${config_dir:-$here/config}" --bootstrap "$b" run "$name" --node bench 2>"$work/$name.err" &
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

# steady_produce RATE SECONDS TAG: market records to $b's ctk.raw at RATE a
# second for SECONDS (python paces, kcat -P produces); symbols TAG-0, TAG-1, …;
# each record's fetched_at and data.timestamp are the wall time at which it
# is handed to kcat. Prints the rate it kept.
steady_produce() {
  python3 - "$b" "$1" "$2" "$3" <<'PY'
import subprocess, sys, time
b, rate, secs, tag = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
total = int(rate * secs)
kcat = subprocess.Popen(["kcat", "-b", b, "-P", "-t", "ctk.raw", "-K:"], stdin=subprocess.PIPE)
start, sent = time.time(), 0
while sent < total:
    now = time.time()
    due = min(total, int((now - start) * rate) + 1)
    if due > sent:
        ms = int(now * 1000)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"
        lines = "".join(
            f'upbit/KRW-{tag}-{i}:{{"v":1,"source":"upbit","kind":"market","fetched_at":"{stamp}",'
            f'"url":"https://api.upbit.com/v1/ticker/all?quote_currencies=KRW",'
            f'"data":{{"symbol":"{tag}-{i}","price":"{80123456.5 + i}","volume_24h":1234.5,"change_24h":-0.01,"timestamp":{ms}}}}}\n'
            for i in range(sent, due))
        kcat.stdin.write(lines.encode())
        kcat.stdin.flush()
        sent = due
    time.sleep(max(0.0, min(0.002, start + (sent + 1) / rate - time.time())))
written = time.time()
kcat.stdin.close()
rc = kcat.wait()
print(int(total / max(written - start, 1e-3)))
sys.exit(rc)
PY
}
