#!/usr/bin/env bash
# Writes what is generated from the cointicker binary itself, at build time:
#   OUT/completion/cointicker   bash completion (`cointicker completion bash`)
#   OUT/man/cointicker.1        the man page (help2man), with a COMMANDS
#                               section holding every command's --help
# Usage: deploy/cli-docs.sh BIN OUT
set -euo pipefail
bin=$1 out=$2
mkdir -p "$out/completion" "$out/man"
"$bin" completion bash >"$out/completion/cointicker"

# Help text as roff: the binary's path shown as `cointicker`; backslashes,
# hyphens (\-: options stay searchable and copyable) and lines starting
# with a control character escaped.
roff_text() { sed -e "s|$bin|cointicker|g" -e 's/\\/\\\\/g' -e 's/-/\\-/g' -e 's/^\./\\\&./' -e "s/^'/\\\\\&'/"; }

# The commands and their subcommands, as `--help` lists them.
commands() { "$@" --help | sed -n '/^Subcommands:/,/^$/p' | awk 'NR > 1 && NF {print $1}'; }
inc=$(mktemp)
trap 'rm -f "$inc"' EXIT
{
  echo '[COMMANDS]'
  for c in $(commands "$bin"); do
    printf '.SS "%s"\n.nf\n' "cointicker $c"
    "$bin" "$c" --help | roff_text
    echo '.fi'
    for s in $(commands "$bin" "$c"); do
      printf '.SS "%s"\n.nf\n' "cointicker $c $s"
      "$bin" "$c" "$s" --help | roff_text
      echo '.fi'
    done
  done
  printf '[FILES]\n.TP\n.B config/cluster.yaml, config/sources.yaml\nThe configuration (--config DIR or $CTK_CONFIG_DIR); config/reference.yaml lists every key.\n'
  printf '[EXIT STATUS]\n0 success, 1 failure, 2 usage error.\n'
} >"$inc"
help2man --no-info --no-discard-stderr --section 1 \
  --name 'distributed crawler, data pipeline and analysis system for crypto-market data and news' \
  --include "$inc" --output "$out/man/cointicker.1" "$bin"
