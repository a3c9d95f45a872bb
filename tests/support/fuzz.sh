#!/usr/bin/env bash
# The libFuzzer targets of fuzz/ (validator, parsers, control, config), built by
# clang with ASan and UBSan in the sanitizer tree (build/sanitize; see
# tests/support/sanitize.sh, which builds the rest of it).
#   tests/support/fuzz.sh build               configure it and build them
#   tests/support/fuzz.sh run NAME [RUNS]     a repeatable run: seed 1, RUNS inputs (CTest, label fuzz)
#   tests/support/fuzz.sh long NAME SECONDS   a random seed for SECONDS; new inputs kept in build/sanitize/corpus/NAME
# A failure prints the input (libFuzzer's Base64 line) and keeps it as
# build/sanitize/crash-…; `build/sanitize/fuzz/NAME_fuzz FILE` replays it.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
dir=${CTK_SANITIZE_DIR:-$here/build/sanitize}
what=${1:-}

seeds() {  # the seed corpus of NAME, in a folder of its own
  local name=$1 out="$dir/seeds/$1"
  rm -rf "$out" && mkdir -p "$out"
  if [ "$name" = parsers ]; then
    # Every recorded page for every parser: the first byte picks the parser.
    local i f n=0
    for f in "$here"/tests/fixtures/replay/*/* "$here"/tests/fixtures/broken/*; do
      for i in 0 1 2 3 4 5 6 7; do
        { printf "\\$(printf %03o "$i")"; cat "$f"; } > "$out/$n-$i"
      done
      n=$((n + 1))
    done
    cp "$here/fuzz/corpus/parsers"/* "$out/"  # inputs that once failed
  elif [ "$name" = config ]; then
    # The first byte picks the file: 0 cluster.yaml, 1 sources.yaml, 2 routes.yaml, 3 a schedule.
    { printf '\000'; cat "$here/config/cluster.yaml"; } > "$out/cluster"
    { printf '\001'; cat "$here/config/sources.yaml"; } > "$out/sources"
    { printf '\002'; cat "$here/tests/fixtures/replay/routes.yaml"; } > "$out/routes"
    cp "$here/fuzz/corpus/config"/* "$out/"
  else
    cp "$here/fuzz/corpus/$name"/* "$out/"
  fi
  echo "$out"
}

case "$what" in
  build)
    "$here/tests/support/sanitize.sh" configure
    cmake --build "$dir" -j "$(nproc)" --target validator_fuzz parsers_fuzz control_fuzz config_fuzz 2>&1 |
      grep -v '^\[' || true
    for t in validator parsers control config; do test -x "$dir/fuzz/${t}_fuzz"; done
    ;;
  run | long)
    name=${2:?NAME: validator, parsers, control or config}
    bin="$dir/fuzz/${name}_fuzz"
    [ -x "$bin" ] || { echo "fuzz: $bin is not built: run tests/support/fuzz.sh build (deploy/test.sh does)" >&2; exit 1; }
    seed_dir=$(seeds "$name")
    if [ "$what" = run ]; then
      runs=${3:-100000}
      work=$(mktemp -d)
      trap 'rm -rf "$work"' EXIT
      # New inputs go to the first folder (a temporary one); seed 1: the same inputs every run.
      "$bin" -seed=1 -runs="$runs" -max_len=65536 -artifact_prefix="$dir/" "$work" "$seed_dir" 2>&1 | tail -n 25
      exit "${PIPESTATUS[0]}"
    fi
    seconds=${3:?SECONDS}
    mkdir -p "$dir/corpus/$name"
    exec "$bin" -max_total_time="$seconds" -max_len=65536 -artifact_prefix="$dir/" -print_final_stats=1 \
      "$dir/corpus/$name" "$seed_dir"
    ;;
  *)
    sed -n '2,9p' "$0" >&2
    exit 2
    ;;
esac
