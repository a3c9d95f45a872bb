#!/usr/bin/env bash
# Runs every test: installs what is missing, builds (also the fuzz targets,
# with clang, into build/fuzz), then runs CTest (unit, integration, fault,
# chaos, fuzz and browser labels). Extra arguments go to ctest,
# e.g. deploy/test.sh -L unit   or   deploy/test.sh -R broker
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
CTK_FUZZ_BUILD=1 "$here/deploy/setup.sh"
cd "$here/build"
ctest --output-on-failure --timeout 300 -j "$(nproc)" "$@"
