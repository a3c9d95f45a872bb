#!/usr/bin/env bash
# Every C++ file git tracks is as clang-format writes it (.clang-format at
# the root). Prints the files that are not, and how to fix them.
set -euo pipefail
cd "$(dirname "$0")/../.."
mapfile -d '' files < <(git ls-files -z '*.cc' '*.h')
bad=()
for f in "${files[@]}"; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
  printf 'not formatted: %s\n' "${bad[@]}"
  echo "fix: clang-format -i ${bad[*]}"
  exit 1
fi
echo "${#files[@]} files formatted"
