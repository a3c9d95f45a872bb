#!/usr/bin/env bash
# What a built cointicker binary needs from Debian at run time, read from the
# binary itself (readelf reads any architecture's ELF):
#   deploy/needed-packages.sh BINARY          one "PACKAGE (>= VERSION)" a line: the package of every
#                                             library in its DT_NEEDED list, at least the version built against
#   deploy/needed-packages.sh --arch BINARY   its Debian architecture (amd64 or arm64)
# For a cross-built arm64 binary the libraries are those multiarch installed
# here, or for the packages without Multi-Arch, the sysroot's record of what
# tests/support/arm64.sh unpacked (build/arm64-sysroot/.sonames).
# Used by deploy/package.sh (Depends) and deploy/cluster-deploy.sh (apt-get install on each node).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
only_arch=0
[ "${1:-}" = --arch ] && only_arch=1 && shift
bin=${1:?BINARY}
machine=$(readelf -h "$bin" | sed -n 's/^ *Machine: *//p')
case "$machine" in
  AArch64) arch=arm64 triplet=aarch64-linux-gnu ;;
  "Advanced Micro Devices X86-64") arch=amd64 triplet=x86_64-linux-gnu ;;
  *) echo "needed-packages: $bin is built for '${machine:-no known machine}', not amd64 or arm64" >&2; exit 1 ;;
esac
if ((only_arch)); then
  echo "$arch"
  exit 0
fi
sonames=${CTK_ARM64_SYSROOT:-$here/build/arm64-sysroot}/.sonames
readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p' | while read -r soname; do
  pkg="" ver=""
  for d in /usr/lib/$triplet /lib/$triplet; do
    [ -e "$d/$soname" ] || continue
    if owner=$(dpkg -S "$d/$soname" 2>/dev/null); then
      pkg=${owner%%:*}
      ver=$(dpkg-query -W -f='${Version}' "$pkg:$arch" 2>/dev/null || dpkg-query -W -f='${Version}' "$pkg")
      break
    fi
  done
  if [ -z "$pkg" ] && [ "$arch" = arm64 ] && [ -f "$sonames" ]; then
    read -r pkg ver < <(awk -v s="$soname" '$1==s {print $2, $3}' "$sonames")
  fi
  [ -n "$pkg" ] || { echo "needed-packages: no Debian package here holds $soname, which $bin needs" >&2; exit 1; }
  echo "$pkg (>= ${ver%-*})"  # the Debian revision left out
done | sort -u
