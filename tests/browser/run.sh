#!/usr/bin/env bash
# The dashboard in a real browser: `cointicker up` (replay sources, the
# test PostgreSQL) in a folder of its own, the rows of seed.sql, then
# dashboard.cjs drives Debian's Chromium headless through npm's
# playwright-core (which downloads no browser).
#   tests/browser/run.sh SOURCE_DIR BINARY PG_FIXTURE_DIR
set -euo pipefail
src=$1 bin=$2 pgdir=$3
work=$(mktemp -d)
chmod 755 "$work"
up_pid=
cleanup() {
  if [ -n "$up_pid" ]; then kill -INT "$up_pid" 2>/dev/null || true; wait "$up_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
server_dsn=$(cat "$pgdir/dsn")
db=browser_$$
psql "$server_dsn" -qXc "CREATE DATABASE $db"
dsn="${server_dsn%%dbname=*}dbname=$db"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
export CTK_CONTROL__ROUTER=tcp://127.0.0.1:$(free_port) CTK_CONTROL__PUB=tcp://127.0.0.1:$(free_port)
export CTK_API__LISTEN=127.0.0.1:0
cd "$work"
"$bin" --config "$src/config" up --listen 127.0.0.1:0 --db "$dsn" --replay "$src/tests/fixtures/replay" \
  > up.out 2> up.err &
up_pid=$!
for _ in $(seq 300); do grep -q "Ctrl-C stops everything" up.out && break; kill -0 $up_pid || break; sleep 0.1; done
grep -q "Ctrl-C stops everything" up.out || { cat up.out up.err; exit 1; }
url=$(grep -o 'dashboard  http://[^ ]*' up.out | awk '{print $2}')
[ -n "$url" ] || { echo "no dashboard in the banner"; cat up.out; exit 1; }
# Every child of up, as the cluster view must list it: node/actor/instance.
# (the banner's label is ACTOR, or ACTOR/I when there are several)
actors=$(grep -E '^  [a-z-]+(/[0-9]+)? +pid ' up.out | awk '{l = $1; if (l !~ /\//) l = l "/0"; print "local/" l}' |
  paste -sd, -)
[ -n "$actors" ] || { echo "no children in the banner"; cat up.out; exit 1; }
# db-sink creates the tables at its start.
for _ in $(seq 300); do
  [ "$(psql "$dsn" -tAXc "SELECT to_regclass('raw_news') IS NOT NULL AND to_regclass('crypto_insights') IS NOT NULL" 2>/dev/null)" = t ] && break
  sleep 0.1
done
psql "$dsn" -qX -v ON_ERROR_STOP=1 -f "$src/tests/browser/seed.sql"
shots=${CTK_SCREENSHOTS:-$src/build/screenshots}
mkdir -p "$shots"
# The screenshots in docs/ (dashboard.png, the README's, and
# dashboard-cluster.png) are rewritten only when asked (CTK_DOC_SHOT=1), so
# a test run leaves the source tree as it was.
doc_shot=
[ "${CTK_DOC_SHOT:-}" = 1 ] && doc_shot=$src/docs/dashboard.png
NODE_PATH="$src/deploy/npm/node_modules" node "$src/tests/browser/dashboard.cjs" "$url" "$work/var/api-token" \
  "$actors" "$shots" "$doc_shot" || { echo "--- up.err (tail)"; tail -30 up.err; exit 1; }
