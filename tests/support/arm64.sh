#!/usr/bin/env bash
# The arm64 build (the Raspberry Pi workers' architecture), cross-compiled on
# an amd64 Debian 12 machine into build/arm64, and its tests run under
# qemu-user (qemu-aarch64, called explicitly: no binfmt is needed).
#   tests/support/arm64.sh packages       Debian's arm64 packages: multiarch where the package allows it,
#                                         the rest unpacked into build/arm64-sysroot (root: apt-get)
#   tests/support/arm64.sh build          packages, configure (deploy/aarch64-toolchain.cmake) and build
#   tests/support/arm64.sh test [ARGS]    run CTest there (label arm64: the unit tests and a broker -> actor
#                                         round trip, every process under qemu-aarch64); ARGS go to ctest
# CTK_ARM64_DIR and CTK_ARM64_SYSROOT move the two folders.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
dir=${CTK_ARM64_DIR:-$here/build/arm64}
sysroot=${CTK_ARM64_SYSROOT:-$here/build/arm64-sysroot}
what=${1:-}

# Installed as arm64 next to the amd64 ones (Multi-Arch: same), with the cross compiler and qemu.
multiarch=(
  crossbuild-essential-arm64 qemu-user
  librdkafka-dev:arm64 libzmq3-dev:arm64 cppzmq-dev:arm64 libcurl4-openssl-dev:arm64 libxxhash-dev:arm64
  libxml2-dev:arm64 libabsl-dev:arm64 libgtest-dev:arm64 libgmock-dev:arm64 libncurses-dev:arm64
  libsystemd-dev:arm64 libspdlog-dev:arm64 libcpp-httplib-dev:arm64 libssl-dev:arm64
  libpq5:arm64 libavro23:arm64 libsimdjson14:arm64 libyaml-cpp0.7:arm64
)
# No Multi-Arch field: installing the arm64 one would remove the amd64 one. Unpacked into the sysroot instead.
unpacked=(libpqxx-dev libpqxx-6.4 libpq-dev libavro-dev libsimdjson-dev libyaml-cpp-dev)

packages() {
  local missing=() p sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  dpkg --print-foreign-architectures | grep -qx arm64 || {
    "${sudo_cmd[@]}" dpkg --add-architecture arm64
    "${sudo_cmd[@]}" apt-get update -qq >/dev/null
  }
  for p in "${multiarch[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "arm64: installing ${missing[*]}" >&2
    "${sudo_cmd[@]}" apt-get update -qq >/dev/null
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
      >/dev/null
  fi
  local stamp="$sysroot/.unpacked" want
  want=$(printf '%s\n' "${unpacked[@]}")
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
  rm -rf "$sysroot" && mkdir -p "$sysroot"
  local debs
  debs=$(mktemp -d)
  # apt-get download runs as the _apt user where it can; it needs a folder that user may write.
  chmod 777 "$debs"
  (cd "$debs" && apt-get download -qq "${unpacked[@]/%/:arm64}" >/dev/null)
  # .sonames: which package each unpacked library comes from (deploy/needed-packages.sh reads it).
  for p in "$debs"/*.deb; do
    dpkg-deb -x "$p" "$sysroot"
    dpkg-deb -c "$p" | awk '{print $6}' | { grep -E '/lib[^/]*\.so[^/]*$' || true; } | xargs -r -n1 basename |
      sed "s/\$/ $(dpkg-deb -f "$p" Package) $(dpkg-deb -f "$p" Version)/" >>"$sysroot/.sonames"
  done
  rm -rf "$debs"
  local lib="$sysroot/usr/lib/aarch64-linux-gnu" link
  # Their .pc files say /usr: point them at the sysroot.
  sed -i "s|=/usr|=$sysroot/usr|" "$lib"/pkgconfig/*.pc
  # Their runtime libraries (libpq.so.5, libsimdjson.so.14.0.0 …) came by multiarch: linked in next
  # to the development links and CMake files that name them.
  for link in "$lib"/*.so; do
    for f in /usr/lib/aarch64-linux-gnu/"$(basename "$link")".*; do
      [ -e "$f" ] && [ ! -e "$lib/$(basename "$f")" ] && ln -s "$f" "$lib/"
    done
  done
  echo "$want" >"$stamp"
}

case "$what" in
  packages)
    packages
    ;;
  build)
    packages
    werror=OFF
    [ "${CI:-}" = true ] && werror=ON
    # -O2 as Debian builds its packages (and as the main tree): GCC 12's -O3 warns falsely
    # (-Wrestrict) inside std::string. No benchmarks here: they compare against the build machine's tools.
    cmake -S "$here" -B "$dir" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$here/deploy/aarch64-toolchain.cmake" \
      -DCTK_ARM64_SYSROOT="$sysroot" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DCTK_BENCHMARKS=OFF -DCTK_WERROR="$werror" >/dev/null
    cmake --build "$dir" -j "$(nproc)" 2>&1 | grep -v '^\[' || true
    readelf -h "$dir/cointicker" | grep -q 'Machine: *AArch64'
    ;;
  test)
    shift
    [ -x "$dir/cointicker" ] || {
      echo "arm64: $dir is not built: run tests/support/arm64.sh build (deploy/test.sh does)" >&2
      exit 1
    }
    cd "$dir"
    exec ctest --output-on-failure --timeout 600 -j "$(nproc)" "$@"
    ;;
  *)
    sed -n '2,10p' "$0" >&2
    exit 2
    ;;
esac
