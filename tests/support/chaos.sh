#!/usr/bin/env bash
# A longer chaos run than CI's (tests/integration/chaos_test.cc): the whole
# pipeline under `up`, two instances of every record-handling actor,
# records at a steady rate with 30 % duplicates, SIGKILLs at random moments.
#
#   tests/support/chaos.sh [SEED] [RECORDS] [KILLS] [SECONDS]
#
# Defaults: a random seed, 120000 records, 60 kills over 120 s. The seed is
# printed; the same four arguments replay a run. Needs a build (deploy/setup.sh).
# The embedded broker keeps at most 5 MiB per partition (about 17,000 of
# these records), and 11 % of the records land in the busiest partition
# (64 symbols over 16): past about 150,000 records the oldest are dropped,
# and lost if an actor is behind by then, which the run reports as DATA
# LOSS and fails. A real broker's retention is the same limit, larger.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
test_binary="$here/build/tests/chaos_test"
[ -x "$test_binary" ] || { echo "chaos: no $test_binary (run deploy/setup.sh first)" >&2; exit 1; }
export CTK_CHAOS_SEED=${1:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
export CTK_CHAOS_RECORDS=${2:-120000}
export CTK_CHAOS_KILLS=${3:-60}
export CTK_CHAOS_SECONDS=${4:-120}
if ((CTK_CHAOS_RECORDS > 150000)); then
  echo "chaos: at most 150000 records (the embedded broker keeps 5 MiB per partition)" >&2
  exit 2
fi
echo "chaos: seed $CTK_CHAOS_SEED, $CTK_CHAOS_RECORDS records, $CTK_CHAOS_KILLS kills over $CTK_CHAOS_SECONDS s"
exec "$test_binary" --gtest_color=no
