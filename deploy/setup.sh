#!/usr/bin/env bash
# Installs every Debian package cointicker needs (idempotent: silent when
# nothing is missing) and builds into ./build.
#   deploy/setup.sh            install + configure + build (Release with asserts)
#   CTK_BUILD_TYPE=Debug deploy/setup.sh
#   CTK_SKIP_BUILD=1 deploy/setup.sh   packages only
#   deploy/setup.sh --bench    also the benchmarks' baselines (python3-scrapy, time)
# systemd (systemd-analyze verify of the units), rsync, openssh-client,
# sudo and libwrap0 (for the unpacked sshd, below) are for
# deploy/cluster-deploy.sh and its tests; chromium and fonts-nanum
# (Korean glyphs) for the dashboard's browser test (driven by npm's
# playwright-core); wrk for the dashboard's load benchmark; tmux for the
# test that drives `cointicker top` (ncurses); lintian for the .deb's
# check (deploy/package.sh); iproute2 and vde2 for the four-node cluster test in
# network namespaces (tests/support/netns_cluster.sh); prometheus for
# promtool (the alert rules' tests and `promtool check metrics` on every
# actor). Debian's package also installs a prometheus.service, which the
# project never starts.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

packages=(
  g++ cmake ninja-build pkg-config
  librdkafka-dev cppzmq-dev libzmq3-dev libcurl4-openssl-dev
  libsimdjson-dev rapidjson-dev libpqxx-dev libyaml-cpp-dev libspdlog-dev
  libcli11-dev libxxhash-dev libcpp-httplib-dev libxml2-dev libavro-dev
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev libncurses-dev
  kcat postgresql procps clang-format git tzdata help2man bash-completion prometheus
  systemd libsystemd-dev rsync openssh-client libwrap0 sudo curl iproute2 vde2
  chromium fonts-nanum wrk tmux lintian
)

if [ "${1:-}" = --bench ]; then
  packages+=(python3-scrapy time bc)
fi
# deploy/test.sh: clang and its libFuzzer/sanitizer runtimes for the
# sanitizer tree (tests/support/sanitize.sh build, after the main build):
# the whole suite and the fuzz targets with ASan and UBSan.
if [ "${CTK_SANITIZE_BUILD:-0}" = 1 ]; then
  packages+=(clang libclang-rt-14-dev)
fi

missing=()
# npm: Debian's nodejs + npm unless a node with npm is already there (some
# images ship NodeSource's nodejs, which bundles npm and conflicts with Debian's).
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq >/dev/null
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# What comes from the npm registry (deploy/npm/package.json: the analyzer's
# English lexicon, the dashboard's uPlot and esbuild, playwright-core),
# pinned by package-lock.json; nothing is vendored.
if [ ! -f "$here/deploy/npm/node_modules/.package-lock.json" ] ||
   [ "$here/deploy/npm/package-lock.json" -nt "$here/deploy/npm/node_modules/.package-lock.json" ]; then
  (cd "$here/deploy/npm" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# OpenSSH's server for the deploy test, which runs it inside a network
# namespace only (tests/support/deploy_netns.sh): unpacked from Debian's
# package into build/openssh-server, not installed, because installing
# openssh-server starts an SSH server on this machine.
sshd_root=$here/build/openssh-server
if [ ! -x "$sshd_root/usr/sbin/sshd" ]; then
  tmp=$(mktemp -d)
  mkdir -p "$sshd_root"
  (cd "$tmp" && apt-get download -qq openssh-server >/dev/null 2>&1) && dpkg-deb -x "$tmp"/openssh-server_*.deb "$sshd_root" ||
    { rm -rf "$tmp"; echo "setup: cannot download openssh-server (the deploy test runs its sshd)" >&2; exit 1; }
  rm -rf "$tmp"
fi

[ "${CTK_SKIP_BUILD:-0}" = 1 ] && exit 0

build_type=${CTK_BUILD_TYPE:-RelWithDebInfo}
werror=OFF
[ "${CI:-}" = true ] && werror=ON
cmake -S "$here" -B "$here/build" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" -DCTK_WERROR="$werror" >/dev/null
cmake --build "$here/build" -j "$(nproc)" 2>&1 | grep -v '^\[' || true
test -x "$here/build/cointicker"
if [ "${CTK_SANITIZE_BUILD:-0}" = 1 ]; then
  "$here/tests/support/sanitize.sh" build
fi
