#!/usr/bin/env bash
# Runs every test: installs what is missing, builds (and the sanitizer tree:
# everything again with clang, ASan and UBSan, into build/sanitize; and the
# arm64 tree: cross-compiled for the Raspberry Pis into build/arm64), then
# runs CTest in all three: the main tree (unit, integration, fault, chaos,
# fuzz, package and browser labels), the whole suite again under the
# sanitizers, and the arm64 tree's unit tests, broker -> actor round trip
# and .deb under qemu-aarch64 (label arm64).
# Extra arguments go to every ctest run,
# e.g. deploy/test.sh -L unit   or   deploy/test.sh -R broker
# CTK_SANITIZE=0 skips the sanitizer tree and the fuzz label (its targets live there);
# CTK_ARM64=0 skips the arm64 tree.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
sanitize=${CTK_SANITIZE:-1}
arm64=${CTK_ARM64:-1}
CTK_SANITIZE_BUILD=$sanitize "$here/deploy/setup.sh"
[ "$arm64" = 1 ] && "$here/tests/support/arm64.sh" build
status=0
skip=()
[ "$sanitize" = 1 ] || skip=(-LE fuzz)
(cd "$here/build" && ctest --output-on-failure --timeout 300 -j "$(nproc)" "${skip[@]}" "$@") || status=1
if [ "$sanitize" = 1 ]; then
  echo "test: the suite again, built with ASan and UBSan (build/sanitize)"
  "$here/tests/support/sanitize.sh" test "$@" || status=1
fi
if [ "$arm64" = 1 ]; then
  echo "test: the arm64 build under qemu-aarch64 (build/arm64)"
  "$here/tests/support/arm64.sh" test "$@" || status=1
fi
exit $status
