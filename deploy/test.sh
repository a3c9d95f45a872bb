#!/usr/bin/env bash
# Runs every test: installs what is missing, builds (and the sanitizer tree:
# everything again with clang, ASan and UBSan, into build/sanitize), then
# runs CTest in both: the main tree (unit, integration, fault, chaos, fuzz
# and browser labels), then the whole suite again under the sanitizers.
# Extra arguments go to both ctest runs,
# e.g. deploy/test.sh -L unit   or   deploy/test.sh -R broker
# CTK_SANITIZE=0 skips the sanitizer tree and the fuzz label (its targets live there).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
sanitize=${CTK_SANITIZE:-1}
CTK_SANITIZE_BUILD=$sanitize "$here/deploy/setup.sh"
status=0
skip=()
[ "$sanitize" = 1 ] || skip=(-LE fuzz)
(cd "$here/build" && ctest --output-on-failure --timeout 300 -j "$(nproc)" "${skip[@]}" "$@") || status=1
if [ "$sanitize" = 1 ]; then
  echo "test: the suite again, built with ASan and UBSan (build/sanitize)"
  "$here/tests/support/sanitize.sh" test "$@" || status=1
fi
exit $status
