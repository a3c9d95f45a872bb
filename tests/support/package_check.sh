#!/usr/bin/env bash
# Builds the .deb of one architecture with deploy/package.sh and checks it
# (CTest: package.amd64 in the main tree, package.arm64 in the arm64 tree):
# the files it must hold, conffiles, a stripped binary of that architecture
# with no RPATH, a Depends entry for every library the binary loads
# (libpqxx included), the units pointing at the packaged paths, the same
# libraries in cluster-deploy.sh's apt-get line, and lintian reporting no
# error.
#   package_check.sh amd64|arm64
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
arch=${1:?amd64 or arm64}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
problems=0
bad() {
  echo "package $arch: $*" >&2
  problems=$((problems + 1))
}

deb=$("$here/deploy/package.sh" --arch "$arch" --out "$out")
[ "$(dpkg-deb -f "$deb" Architecture)" = "$arch" ] || bad "Architecture is $(dpkg-deb -f "$deb" Architecture)"
files=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|')
for f in /usr/bin/cointicker /etc/cointicker/cluster.yaml /etc/cointicker/sources.yaml \
  /etc/cointicker/lexicons/ko.tsv /etc/cointicker/lexicons/en.tsv /etc/cointicker/lexicons/symbols.tsv \
  /etc/cointicker/lexicons/afinn-165-financialmarketnews.js /lib/systemd/system/cointicker-node@.service \
  /lib/systemd/system/cointicker-actor@.service /lib/systemd/system/cointicker-serve.service \
  /usr/share/cointicker/web/index.html /usr/share/cointicker/web/app.js /usr/share/man/man1/cointicker.1.gz \
  /usr/share/bash-completion/completions/cointicker /usr/share/doc/cointicker/copyright; do
  grep -qx "$f" <<<"$files" || bad "$f is missing"
done

x=$(mktemp -d -p "$out")
dpkg-deb -R "$deb" "$x"
[ "$(sort "$x/DEBIAN/conffiles")" = "$(cd "$x" && find etc -type f | sed 's|^|/|' | sort)" ] ||
  bad "conffiles is not every file under /etc: $(tr '\n' ' ' <"$x/DEBIAN/conffiles")"
grep -q 'adduser --system' "$x/DEBIAN/postinst" || bad "postinst creates no system user"

bin=$x/usr/bin/cointicker
case "$arch" in
  amd64) machine='Advanced Micro Devices X86-64' objdump=objdump ;;
  arm64) machine=AArch64 objdump=aarch64-linux-gnu-objdump ;;
esac
readelf -h "$bin" | grep -q "Machine: *$machine" || bad "the binary is not $machine: $(readelf -h "$bin" | grep Machine)"
readelf -S "$bin" | grep -q '\.symtab' && bad "the binary is not stripped"
readelf -d "$bin" | grep -Eq 'RPATH|RUNPATH' && bad "the binary has an RPATH: $(readelf -d "$bin" | grep -E 'RPATH|RUNPATH')"

depends=$(dpkg-deb -f "$deb" Depends)
names=$(sed 's/ ([^)]*)//g; s/, /\n/g' <<<"$depends")  # one package name a line
for lib in libpqxx-6.4 librdkafka1 libzmq5 libcurl4 libyaml-cpp0.7 libsimdjson14 libstdc++6 libc6 tzdata adduser; do
  grep -qxF "$lib" <<<"$names" || bad "Depends has no $lib: $depends"
done
# Every library the binary names is in a package that Depends names.
while read -r soname; do
  triplet=$([ "$arch" = amd64 ] && echo x86_64-linux-gnu || echo aarch64-linux-gnu)
  owner=$({ dpkg -S "/usr/lib/$triplet/$soname" "/lib/$triplet/$soname" 2>/dev/null || true; } | head -n 1)
  # The arm64 packages without Multi-Arch are unpacked into the sysroot, not installed (tests/support/arm64.sh).
  [ -n "$owner" ] || [ "$arch" != arm64 ] ||
    owner=$(awk -v s="$soname" '$1==s {print $2}' "${CTK_ARM64_SYSROOT:-$here/build/arm64-sysroot}/.sonames")
  pkg=${owner%%[: ]*}
  [ -n "$pkg" ] || { bad "no package owns $soname"; continue; }
  grep -qxF "$pkg" <<<"$names" || bad "$soname ($pkg) is not in Depends"
done < <("$objdump" -p "$bin" | awk '$1=="NEEDED" {print $2}')

for unit in "$x"/lib/systemd/system/*.service; do
  grep -q '/usr/local' "$unit" && bad "$(basename "$unit") still names /usr/local: $(grep /usr/local "$unit")"
  grep -q '^ExecStart=/usr/bin/cointicker ' "$unit" || bad "$(basename "$unit") does not start /usr/bin/cointicker"
done

# cluster-deploy.sh installs the same libraries' packages on a node of that architecture (a dry run contacts nobody).
built=$([ "$arch" = amd64 ] && echo "$here/build/cointicker" || echo "${CTK_ARM64_DIR:-$here/build/arm64}/cointicker")
plan=$("$here/deploy/cluster-deploy.sh" --dry-run --binary "$built" --node worker1) || bad "cluster-deploy.sh --dry-run failed"
install=$(grep -m1 'apt-get install' <<<"$plan" | sed 's/.*--no-install-recommends //' | tr ' ' '\n' | grep -v '^rsync$' | sort)
[ "$install" = "$(grep -v -x -e adduser -e tzdata -e ca-certificates <<<"$names" | sort)" ] ||
  bad "cluster-deploy.sh would install $(paste -sd' ' <<<"$install"), not Depends' libraries"

lint=$(lintian --tag-display-limit 0 "$deb" 2>&1 | grep -v 'running with root privileges' || true)
grep -q '^E:' <<<"$lint" && bad "lintian reports errors:"$'\n'"$lint"
((problems == 0)) || exit 1
echo "package $arch: $(basename "$deb"), $(du -k "$deb" | cut -f1) KiB, $(grep -c . <<<"$files") entries"
echo "Depends: $depends"
[ -z "$lint" ] || echo "lintian (no errors): $lint"
