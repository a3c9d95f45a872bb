#!/usr/bin/env bash
# Builds the Debian package of cointicker for one architecture, with dpkg-deb.
#
#   deploy/package.sh [--arch amd64|arm64] [--out DIR]
#
#   amd64  the main tree's binary (build/cointicker: deploy/setup.sh)
#   arm64  the cross-built one (build/arm64/cointicker: tests/support/arm64.sh build)
# Writes DIR/cointicker_VERSION_ARCH.deb (DIR: build/packages) and prints its path.
# CTK_PACKAGE_MAINTAINER sets the Maintainer field (whoever publishes the package).
#
# What it holds:
#   /usr/bin/cointicker                         stripped, -O2, no RPATH
#   /lib/systemd/system/cointicker-*.service     deploy/systemd/, pointing at /usr/bin and /usr/share
#   /etc/cointicker/                             cluster.yaml, sources.yaml, lexicons/ (conffiles: an edited
#                                                copy survives an upgrade)
#   /usr/share/cointicker/web/                   the dashboard (build/web)
#   /usr/share/man/man1/cointicker.1.gz, /usr/share/bash-completion/completions/cointicker
# postinst creates the system user `cointicker` (home /var/lib/cointicker)
# and reloads systemd; no unit is enabled: cluster-deploy.sh enables the
# node's own. Depends lists the Debian package of every library the binary
# loads (deploy/needed-packages.sh: its DT_NEEDED entries, libpqxx included),
# each at least the version it was built against, plus tzdata and
# ca-certificates (schedules in time zones, HTTPS crawls) and adduser.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
arch=amd64
out=$here/build/packages
while (($#)); do
  case "$1" in
    --arch) arch=${2:?--arch needs amd64 or arm64}; shift ;;
    --out) out=${2:?--out needs a folder}; shift ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "package: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$arch" in
  amd64) binary=$here/build/cointicker strip=strip ;;
  arm64) binary=${CTK_ARM64_DIR:-$here/build/arm64}/cointicker strip=aarch64-linux-gnu-strip ;;
  *) echo "package: no architecture '$arch' (amd64 or arm64)" >&2; exit 2 ;;
esac
need() { [ -e "$1" ] || { echo "package: $1 is missing ($2)" >&2; exit 1; }; }
need "$binary" "$([ "$arch" = amd64 ] && echo deploy/setup.sh || echo tests/support/arm64.sh build) builds it"
need "$here/build/man/cointicker.1" "deploy/setup.sh builds it"
need "$here/build/web/index.html" "deploy/setup.sh builds it"
afinn=$here/deploy/npm/node_modules/afinn-165-financialmarketnews
need "$afinn/index.js" "deploy/setup.sh installs it"

version=$(sed -n 's/^project(cointicker VERSION \([0-9.]*\).*/\1/p' "$here/CMakeLists.txt")
[ -n "$version" ] || { echo "package: no version in CMakeLists.txt's project()" >&2; exit 1; }
maintainer=${CTK_PACKAGE_MAINTAINER:-cointicker developers <cointicker@example.org>}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
umask 022

install -d "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/cointicker/lexicons" \
  "$root/usr/share/cointicker" "$root/usr/share/man/man1" "$root/usr/share/bash-completion/completions" \
  "$root/usr/share/doc/cointicker" "$root/DEBIAN"
install -m 0755 "$binary" "$root/usr/bin/cointicker"
"$strip" --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/cointicker"
for unit in "$here"/deploy/systemd/*.service; do
  sed -e 's|/usr/local/bin/cointicker|/usr/bin/cointicker|g' -e 's|/usr/local/share/cointicker|/usr/share/cointicker|g' \
    "$unit" >"$root/lib/systemd/system/$(basename "$unit")"
done
install -m 0644 "$here/config/cluster.yaml" "$here/config/sources.yaml" "$root/etc/cointicker/"
install -m 0644 "$here"/config/lexicons/*.tsv "$root/etc/cointicker/lexicons/"
install -m 0644 "$afinn/index.js" "$root/etc/cointicker/lexicons/afinn-165-financialmarketnews.js"
cp -r "$here/build/web" "$root/usr/share/cointicker/web"
gzip -9n <"$here/build/man/cointicker.1" >"$root/usr/share/man/man1/cointicker.1.gz"
install -m 0644 "$here/build/completion/cointicker" "$root/usr/share/bash-completion/completions/cointicker"
{
  echo "cointicker ($version) unstable; urgency=medium"
  echo
  echo "  * Package built by deploy/package.sh from commit $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)."
  echo
  echo " -- $maintainer  $(date -R -d "@$(git -C "$here" log -1 --format=%ct 2>/dev/null || date +%s)")"
} | gzip -9n >"$root/usr/share/doc/cointicker/changelog.gz"
cat >"$root/usr/share/doc/cointicker/copyright" <<EOF
cointicker: a distributed crawler, data pipeline and analysis system for
crypto-market data and crypto news.

Copyright 2026 the cointicker developers.

Included from the npm registry, with their own licenses:

/etc/cointicker/lexicons/afinn-165-financialmarketnews.js
  afinn-165-financialmarketnews $(node -p "require('$afinn/package.json').version" 2>/dev/null || echo "")
  License: MIT. $(sed -n '/Copyright/p' "$afinn/license" | head -n 1)

/usr/share/cointicker/web/app.js (bundled)
  uPlot, License: MIT. $(sed -n '/Copyright/p' "$here/deploy/npm/node_modules/uplot/LICENSE" | head -n 1)

The MIT license (Debian's /usr/share/common-licenses holds no copy):

$(cat "$afinn/license")
EOF

# Depends: the package of every library the binary loads (deploy/needed-packages.sh), and
# what it uses without linking: time zones for schedules, CA certificates for HTTPS crawls.
needed=$("$here/deploy/needed-packages.sh" "$root/usr/bin/cointicker")
deps=$(printf '%s\n' adduser tzdata ca-certificates "$needed" | sort -u | paste -sd, - | sed 's/,/, /g')

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: cointicker
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $deps
Suggests: postgresql, kcat
Section: net
Priority: optional
Description: distributed crawler and pipeline for crypto-market data and news
 Crawler, validator, dedup, HDFS-sink, DB-sink and analyzer actors are
 separate processes linked by Kafka topics; a master scheduler steers them
 over ZeroMQ. Every unique record lands once in HDFS and in PostgreSQL; the
 analyzer turns it into indicators, sentiment and insights, shown by a web
 dashboard. Made for a cluster of Raspberry Pis (one master, arm64
 workers) as well as one machine.
EOF
find "$root/etc" -type f | sed "s|^$root||" | sort >"$root/DEBIAN/conffiles"
cat >"$root/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  adduser --system --group --quiet --home /var/lib/cointicker --no-create-home cointicker
fi
if [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null || true
fi
EOF
cat >"$root/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = purge ]; then
  rm -rf /var/lib/cointicker
fi
if [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null || true
fi
EOF
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/postrm"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"

mkdir -p "$out"
deb=$out/cointicker_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
