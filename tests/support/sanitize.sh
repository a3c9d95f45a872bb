#!/usr/bin/env bash
# The test suite built by clang with AddressSanitizer and UndefinedBehavior-
# Sanitizer (every library, every binary, every test) in a build tree of its
# own, build/sanitize, which also holds the libFuzzer targets (fuzz.sh).
#   tests/support/sanitize.sh configure      configure the tree
#   tests/support/sanitize.sh build          configure it and build everything
#   tests/support/sanitize.sh test [ARGS]    run CTest there; ARGS go to ctest (-L unit, -R dedup)
# A report fails the process that makes it (UBSan does not recover; ASan
# aborts), so the test that started it fails. Leak reports are on, with the
# third-party leaks that are not ours listed in tests/support/lsan.supp.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
dir=${CTK_SANITIZE_DIR:-$here/build/sanitize}
what=${1:-}

configure() {
  command -v clang++ >/dev/null || {
    echo "sanitize: clang++ is missing (deploy/test.sh installs it)" >&2
    exit 1
  }
  local werror=OFF
  [ "${CI:-}" = true ] && werror=ON
  CC=clang CXX=clang++ cmake -S "$here" -B "$dir" -G Ninja -DCTK_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCTK_WERROR="$werror" >/dev/null
}

case "$what" in
  configure)
    configure
    ;;
  build)
    configure
    cmake --build "$dir" -j "$(nproc)" 2>&1 | grep -v '^\[' || true
    test -x "$dir/cointicker"
    ;;
  test)
    shift
    [ -x "$dir/cointicker" ] || {
      echo "sanitize: $dir is not built: run tests/support/sanitize.sh build (deploy/test.sh does)" >&2
      exit 1
    }
    # Every process a test starts inherits these (up passes its environment on).
    export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1"
    export LSAN_OPTIONS="suppressions=$here/tests/support/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    cd "$dir"
    exec ctest --output-on-failure --timeout 600 -j "$(nproc)" "$@"
    ;;
  *)
    sed -n '2,10p' "$0" >&2
    exit 2
    ;;
esac
