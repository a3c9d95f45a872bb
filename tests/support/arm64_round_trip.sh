#!/usr/bin/env bash
# The arm64 build end to end under qemu-aarch64 (CTest, arm64 tree, label
# arm64): the arm64 `cointicker broker` and `cointicker run validator`, both
# emulated; the build machine's kcat produces market records (and one that
# breaks a rule) to ctk.raw and reads ctk.valid and ctk.deadletter back.
#   arm64_round_trip.sh COINTICKER SOURCE_DIR QEMU [QEMU ARGS…]   (CMake's CMAKE_CROSSCOMPILING_EMULATOR)
set -euo pipefail
bin=$1 src=$2
shift 2
qemu=("$@")
good=200
work=$(mktemp -d)
pids=()
finish() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap finish EXIT
fail() {
  echo "arm64 round trip: $*" >&2
  for f in "$work"/*.err; do echo "--- $f" >&2 && tail -n 20 "$f" >&2; done
  exit 1
}
# Waits for a condition (a command) for up to $1 seconds: the emulated processes are slow to start.
until_true() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

readelf -h "$bin" | grep -q 'Machine: *AArch64' || fail "$bin is not an arm64 binary"
"${qemu[@]}" "$bin" --config "$src/config" broker --listen 127.0.0.1:0 --address-file "$work/address" \
  >"$work/broker.out" 2>"$work/broker.err" &
pids+=($!)
until_true 120 test -s "$work/address" || fail "the broker wrote no address"
bootstrap=$(tr -d '\r\n' <"$work/address")

for ((i = 0; i < good; i++)); do
  printf 'upbit/KRW-A%d:{"v":1,"source":"upbit","kind":"market","fetched_at":"2026-11-18T00:00:00.000Z",' "$i"
  printf '"data":{"symbol":"krw-a%d","price":"1.5","volume_24h":2,"change_24h":0.01,"timestamp":1725543306000}}\n' "$i"
done >"$work/raw.txt"
printf 'upbit/bad:{"v":1,"source":"upbit","kind":"market","fetched_at":"2026-11-18T00:00:00.000Z",' >>"$work/raw.txt"
printf '"data":{"symbol":"X","price":-1,"volume_24h":2,"change_24h":0,"timestamp":1725543306000}}\n' >>"$work/raw.txt"
kcat -b "$bootstrap" -P -t ctk.raw -K: -l "$work/raw.txt" || fail "kcat could not produce"

"${qemu[@]}" "$bin" --config "$src/config" --bootstrap "$bootstrap" run validator --node arm64 \
  >"$work/validator.out" 2>"$work/validator.err" &
pids+=($!)
count() { kcat -b "$bootstrap" -C -t "$1" -e -q -f '%s\n' 2>/dev/null | grep -c . || true; }
landed() { [ "$(count ctk.valid)" -ge "$good" ] && [ "$(count ctk.deadletter)" -ge 1 ]; }
until_true 180 landed || fail "ctk.valid holds $(count ctk.valid) of $good, ctk.deadletter $(count ctk.deadletter) of 1"

valid=$(kcat -b "$bootstrap" -C -t ctk.valid -e -q -f '%s\n')
[ "$(grep -c . <<<"$valid")" -eq "$good" ] || fail "ctk.valid holds $(grep -c . <<<"$valid") records, not $good"
[ "$(grep -o '"symbol":"KRW-A[0-9]*"' <<<"$valid" | sort -u | wc -l)" -eq "$good" ] ||
  fail "the symbols are not the $good upper-cased ones"
grep -q '"price":1.5,' <<<"$valid" || fail "a price given as a string was not made a number"
kcat -b "$bootstrap" -C -t ctk.deadletter -e -q -f '%s\n' | grep -q '"rule":"price_positive"' ||
  fail "the negative price was not dead-lettered by its rule"

# A clean stop on SIGTERM, under emulation too.
kill -TERM "${pids[1]}"
wait "${pids[1]}" || fail "the validator exited with status $? on SIGTERM"
echo "arm64 round trip: $good of $good records through the emulated broker and validator, 1 dead letter"
