#!/usr/bin/env bash
# The Prometheus alert rules (deploy/prometheus): promtool accepts them,
# their unit tests pass (each alert fires on its failure and stays quiet on
# a healthy series), and every ctk_* metric they read is one the code
# exports, so a renamed metric cannot leave an alert that never fires.
set -euo pipefail
cd "$(dirname "$0")/../../deploy/prometheus"
promtool check rules cointicker.rules.yml
promtool test rules cointicker.rules.test.yml
missing=()
for name in $(grep -o 'ctk_[a-z_]*[a-z]' cointicker.rules.yml | sed -E 's/_(bucket|sum|count)$//' | sort -u); do
  grep -rqF "\"$name\"" ../../actors ../../pipeline ../../brokers || missing+=("$name")
done
if ((${#missing[@]})); then
  echo "the rules read metrics no actor exports: ${missing[*]}"
  exit 1
fi
echo "every ctk_* metric in the rules is exported"
