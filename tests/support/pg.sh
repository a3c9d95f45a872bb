#!/usr/bin/env bash
# A private PostgreSQL server for tests and benchmarks: one per run, on
# 127.0.0.1, so that nothing depends on a server the machine may not have.
#
#   pg.sh start DIR [PORT]   initdb DIR (first time), start on 127.0.0.1:PORT
#                            (a free port when omitted), print the DSN and
#                            write it to DIR/dsn
#   pg.sh stop DIR           fast shutdown; the data stays
#   pg.sh destroy DIR        stop and remove DIR
#
# As root the server runs as the `postgres` user (initdb refuses root). The
# socket lives in DIR; the server listens on loopback only, trust auth.
# CTK_PG_FSYNC=on turns fsync on (off by default); CTK_PG_OPTIONS adds
# server options, e.g. "-c track_commit_timestamp=on"; CTK_PG_LISTEN=ADDR
# listens on ADDR instead of loopback and trusts its subnet (a test
# network's master, tests/support/netns_cluster.sh).
set -euo pipefail

cmd=${1:?usage: pg.sh start|stop|destroy DIR [PORT]}
dir=${2:?usage: pg.sh start|stop|destroy DIR [PORT]}
port=${3:-}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x $bindir/pg_ctl ]] || { echo "pg.sh: no PostgreSQL server binaries under /usr/lib/postgresql (run deploy/setup.sh)" >&2; exit 1; }

as_owner() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

case $cmd in
start)
  mkdir -p "$dir"
  [[ $(id -u) == 0 ]] && chown postgres: "$dir"
  if [[ ! -f $dir/data/PG_VERSION ]]; then
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  if [[ -z $port && -f $dir/port ]]; then port=$(cat "$dir/port"); fi
  [[ -n $port ]] || port=$(free_port)
  echo "$port" >"$dir/port"
  listen=${CTK_PG_LISTEN:-127.0.0.1}
  if [[ $listen != 127.0.0.1 ]] && ! grep -q '^host all all samenet trust' "$dir/data/pg_hba.conf"; then
    echo 'host all all samenet trust' >>"$dir/data/pg_hba.conf"
  fi
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-k $dir -p $port -c listen_addresses=$listen -c fsync=${CTK_PG_FSYNC:-off} -c max_connections=100 ${CTK_PG_OPTIONS:-}" start >/dev/null ||
    { tail -20 "$dir/server.log" >&2; exit 1; }
  dsn="host=$listen port=$port user=postgres dbname=postgres"
  echo "$dsn" >"$dir/dsn"
  echo "$dsn"
  ;;
stop)
  [[ -f $dir/data/postmaster.pid ]] && as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  exit 0
  ;;
destroy)
  [[ -f $dir/data/postmaster.pid ]] && as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
  rm -rf "$dir"
  ;;
*)
  echo "pg.sh: unknown command $cmd" >&2
  exit 2
  ;;
esac
