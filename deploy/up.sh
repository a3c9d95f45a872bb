#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole system on this
# machine in the foreground (`cointicker up`). Arguments go to `up`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/deploy/setup.sh"
cd "$here"
exec "$here/build/cointicker" up "$@"
