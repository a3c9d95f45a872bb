#!/usr/bin/env bash
# Installs cointicker on the nodes of a cluster and (re)starts it there.
#
#   deploy/cluster-deploy.sh [--dry-run] [--config DIR] [--node NAME]... [--user USER]
#                            [--package DEB | --binary PATH] [--ssh-option OPT]... [--curve-keys DIR]
#
# --package DEB (deploy/package.sh; for the Pis: deploy/package.sh --arch arm64)
# installs the Debian package on every node: the .deb is copied to
# /var/cache/cointicker/ and installed with apt-get (which installs its
# Depends) when it differs from the installed version; then cluster.yaml and
# sources.yaml replace the package's copies in /etc/cointicker/ (conffiles,
# kept on upgrades), and steps 5 and 6 below follow; the binary, units,
# lexicons and web UI are the package's. Without --package, steps 1 to 6 copy
# a bare binary (a development build):
#
# For every node in DIR/cluster.yaml (read with `cointicker config nodes`),
# over ssh and rsync:
#   1. checks the node is reachable and has the binary's architecture
#      (dpkg --print-architecture; for the Pis, build on one or cross-build:
#      tests/support/arm64.sh build, then --binary build/arm64/cointicker);
#   2. installs the runtime packages the binary links against (found here
#      by deploy/needed-packages.sh) and rsync, with apt-get;
#   3. creates the system user `cointicker` (home /var/lib/cointicker);
#   4. copies the binary to /usr/local/bin/cointicker, cluster.yaml,
#      sources.yaml and the analyzer's lexicons (config/lexicons/ and the
#      npm AFINN list) to /etc/cointicker/, the units to /etc/systemd/system/;
#   5. enables cointicker-node@NAME and restarts it if anything changed
#      (otherwise only makes sure it runs);
#   6. on the master also the dashboard: the built web UI (build/web) to
#      /usr/local/share/cointicker/web, cointicker-serve enabled and
#      restarted if anything changed.
# --curve-keys DIR (made by `cointicker ctl keygen DIR`) also copies the
# control plane's CURVE keys to /etc/cointicker/curve (set control.curve_dir
# to that path in cluster.yaml): every node gets server.pub, client.pub and
# client.key, the master alone server.key; secret keys are 0640 root:cointicker.
# Idempotent: rsync copies only what differs, and an unchanged node is not
# restarted. One failing node does not stop the others; the exit code is 1
# if any failed. --dry-run contacts no node: it prints the commands it would
# run and a per-node summary. Secrets (/etc/cointicker/env: CTK_* overrides,
# e.g. CTK_POSTGRES__PASSWORD_FILE) are not copied; see docs/cluster.md.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

dry_run=0
config="$here/config"
binary="$here/build/cointicker"
package=""
user=""
only=()
ssh_opts=(-o BatchMode=yes -o ConnectTimeout=10)
curve=""
usage() { sed -n '2,42p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --dry-run) dry_run=1 ;;
    --config) config=${2:?--config needs a folder}; shift ;;
    --node) only+=("${2:?--node needs a name}"); shift ;;
    --user) user=${2:?--user needs a name}; shift ;;
    --binary) binary=${2:?--binary needs a path}; shift ;;
    --package) package=${2:?--package needs a .deb}; shift ;;
    --ssh-option) ssh_opts+=(-o "${2:?--ssh-option needs an option}"); shift ;;
    --curve-keys) curve=${2:?--curve-keys needs a folder}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "cluster-deploy: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ -n "$package" ]; then
  [ -f "$package" ] || { echo "cluster-deploy: no package at $package (deploy/package.sh builds it)" >&2; exit 1; }
  arch=$(dpkg-deb -f "$package" Architecture) && version=$(dpkg-deb -f "$package" Version) &&
    [ "$(dpkg-deb -f "$package" Package)" = cointicker ] ||
    { echo "cluster-deploy: $package is not a cointicker package" >&2; exit 1; }
  binary=$here/build/cointicker  # reads the config here
fi
[ -x "$binary" ] || { echo "cluster-deploy: no binary at $binary (run deploy/setup.sh first, or --binary PATH)" >&2; exit 1; }
for f in cluster.yaml sources.yaml lexicons/ko.tsv; do
  [ -f "$config/$f" ] || { echo "cluster-deploy: $config/$f is missing" >&2; exit 1; }
done
for f in ${curve:+server.key server.pub client.key client.pub}; do
  [ -f "$curve/$f" ] || { echo "cluster-deploy: $curve/$f is missing (cointicker ctl keygen $curve makes the keys)" >&2; exit 1; }
done
afinn=$here/deploy/npm/node_modules/afinn-165-financialmarketnews/index.js
web=$(dirname "$binary")/web
if [ -z "$package" ]; then
  [ -f "$afinn" ] || { echo "cluster-deploy: $afinn is missing (deploy/setup.sh installs it)" >&2; exit 1; }
  [ -f "$web/index.html" ] || { echo "cluster-deploy: no web UI at $web (deploy/setup.sh builds it)" >&2; exit 1; }
  # The binary's architecture and runtime packages, read from the binary itself, so a
  # binary cross-built for the Pis (build/arm64/cointicker) deploys from an amd64 machine.
  arch=$("$here/deploy/needed-packages.sh" --arch "$binary")
  packages=$("$here/deploy/needed-packages.sh" "$binary" | cut -d' ' -f1 | tr '\n' ' ')
  packages="${packages}rsync"
fi
# The config is checked here, before any node is touched, by a cointicker that runs
# here: the binary itself, or for a cross-built one the build machine's.
reader=$binary
[ "$arch" = "$(dpkg --print-architecture)" ] && [ -z "$package" ] || reader=$here/build/cointicker
[ -x "$reader" ] || { echo "cluster-deploy: $binary is $arch; reading the config needs $reader (deploy/setup.sh)" >&2; exit 1; }
if ! nodes=$("$reader" --config "$config" config nodes); then
  echo "cluster-deploy: $config does not load (see above); nothing was deployed" >&2
  exit 1
fi
[ -n "$nodes" ] || { echo "cluster-deploy: $config/cluster.yaml lists no nodes" >&2; exit 1; }
for n in "${only[@]+"${only[@]}"}"; do
  awk -v n="$n" '$1==n {found=1} END {exit !found}' <<<"$nodes" ||
    { echo "cluster-deploy: no node named '$n' in $config/cluster.yaml" >&2; exit 2; }
done

units=("$here"/deploy/systemd/*.service)

# Runs (or, in a dry run, prints) one command; its output is kept in $out.
out=""
step() {
  if ((dry_run)); then
    local w line=""
    for w in "$@"; do  # quoted as a shell would need it (a word already quoted for ssh stays as it is)
      [[ $w =~ [[:space:]] && $w != \'* ]] && w="'$w'"
      line+="${line:+ }$w"
    done
    printf '    %s\n' "$line"
    out=""
    return 0
  fi
  out=$("$@" 2>&1)
}

# The bare binary, its runtime packages, the config, lexicons and units.
install_binary() {
  # shellcheck disable=SC2086 # one word per package
  step "${ssh_cmd[@]}" sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages ||
    { status="apt-get failed: ${out##*$'\n'}"; return 1; }
  step "${ssh_cmd[@]}" sudo sh -c "'id -u cointicker >/dev/null 2>&1 || useradd --system --home-dir /var/lib/cointicker --shell /usr/sbin/nologin cointicker'" ||
    { status="useradd failed: $out"; return 1; }
  step "${ssh_cmd[@]}" sudo mkdir -p /etc/cointicker /var/lib/cointicker || { status="mkdir failed: $out"; return 1; }
  step "${rsync_cmd[@]}" "$binary" "$target:/usr/local/bin/cointicker" || { status="copying the binary failed: $out"; return 1; }
  [ -z "$out" ] || changed+=(binary)
  copy_config || return 1
  # The analyzer's lexicons; the units point analyzer.english_lexicon at the AFINN copy.
  step "${rsync_cmd[@]}" "$config/lexicons" "$target:/etc/cointicker/" || { status="copying the lexicons failed: $out"; return 1; }
  local lexicons_out=$out
  step "${rsync_cmd[@]}" "$afinn" "$target:/etc/cointicker/lexicons/afinn-165-financialmarketnews.js" ||
    { status="copying the AFINN lexicon failed: $out"; return 1; }
  [ -z "$lexicons_out$out" ] || changed+=(lexicons)
  copy_keys || return 1
  step "${rsync_cmd[@]}" "${units[@]}" "$target:/etc/systemd/system/" || { status="copying the units failed: $out"; return 1; }
  if [ -n "$out" ] || ((dry_run)); then
    ((dry_run)) || changed+=(units)
    step "${ssh_cmd[@]}" sudo systemctl daemon-reload || { status="daemon-reload failed: $out"; return 1; }
  fi
}

# The .deb (installed when the node has another version or none; apt-get
# installs its Depends; the node's edited config files are kept), then the config.
install_package() {
  local deb=/var/cache/cointicker/cointicker_$arch.deb
  step "${ssh_cmd[@]}" sudo mkdir -p /var/cache/cointicker || { status="mkdir failed: $out"; return 1; }
  step "${rsync_cmd[@]}" "$package" "$target:$deb" || { status="copying the package failed: $out"; return 1; }
  local copied=$out
  step "${ssh_cmd[@]}" "dpkg-query -W -f '\${Status} \${Version}' cointicker 2>/dev/null || true" ||
    { status="dpkg-query failed: $out"; return 1; }
  if [ -n "$copied" ] || [ "$out" != "install ok installed $version" ] || ((dry_run)); then
    step "${ssh_cmd[@]}" sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confold "$deb" || { status="installing the package failed: ${out##*$'\n'}"; return 1; }
    ((dry_run)) || changed+=("package $version")
  fi
  copy_config || return 1
  copy_keys
}

copy_config() {
  step "${rsync_cmd[@]}" "$config/cluster.yaml" "$config/sources.yaml" "$target:/etc/cointicker/" ||
    { status="copying the config failed: $out"; return 1; }
  [ -z "$out" ] || changed+=(config)
}

copy_keys() {
  [ -n "$curve" ] || return 0
  local keys=("$curve/server.pub" "$curve/client.pub" "$curve/client.key")
  [ "$role" != master ] || keys+=("$curve/server.key")
  step "${ssh_cmd[@]}" sudo install -d -m 0750 -o root -g cointicker /etc/cointicker/curve ||
    { status="mkdir curve failed: $out"; return 1; }
  step "${rsync_cmd[@]}" --chmod=F0640 "${keys[@]}" "$target:/etc/cointicker/curve/" ||
    { status="copying the CURVE keys failed: $out"; return 1; }
  [ -z "$out" ] || changed+=(keys)
  step "${ssh_cmd[@]}" sudo chown root:cointicker /etc/cointicker/curve/client.key /etc/cointicker/curve/client.pub \
    /etc/cointicker/curve/server.pub ${keys[3]:+/etc/cointicker/curve/server.key} || { status="chown curve failed: $out"; return 1; }
}

# Enables UNIT; restarts it if anything changed, else makes sure it runs.
run_unit() {
  local unit=$1 what=$2
  step "${ssh_cmd[@]}" sudo systemctl enable "$unit" || { status="enable $what failed: $out"; return 1; }
  if ((${#changed[@]})) || ((dry_run)); then
    step "${ssh_cmd[@]}" sudo systemctl restart "$unit" || { status="restart $what failed: $out"; return 1; }
    action=restarted
  else
    step "${ssh_cmd[@]}" sudo systemctl start "$unit" || { status="start $what failed: $out"; return 1; }
    action="unchanged, running"
  fi
}

# One node; sets $status (ok or what failed), $changed and $action.
deploy_node() {
  local name=$1 target=$2 role=$3
  local ssh_cmd=(ssh "${ssh_opts[@]}" "$target")
  local rsync_cmd=(rsync -rlptc --itemize-changes -e "ssh ${ssh_opts[*]}" --rsync-path "sudo rsync")
  step "${ssh_cmd[@]}" dpkg --print-architecture || { status="unreachable: $out"; return 1; }
  if ((!dry_run)) && [ "$out" != "$arch" ]; then status="architecture ${out:-?}, the ${package:+package}${package:-binary} is $arch"; return 1; fi
  if [ -n "$package" ]; then install_package || return 1; else install_binary || return 1; fi
  run_unit "cointicker-node@$name.service" node || return 1
  [ "$role" = master ] || return 0
  if [ -z "$package" ]; then  # the package brings the web UI
    step "${ssh_cmd[@]}" sudo mkdir -p /usr/local/share/cointicker/web || { status="mkdir failed: $out"; return 1; }
    step "${rsync_cmd[@]}" --delete "$web/" "$target:/usr/local/share/cointicker/web/" ||
      { status="copying the web UI failed: $out"; return 1; }
    [ -z "$out" ] || changed+=(web)
  fi
  local node_action=$action
  run_unit cointicker-serve.service serve || return 1
  action=$node_action
}

failed=0
summary=()
while read -r name host role actors; do
  if ((${#only[@]})) && ! printf '%s\n' "${only[@]}" | grep -qx "$name"; then continue; fi
  target=${user:+$user@}$host
  echo "== $name ($role, $target): $actors"
  status=ok
  changed=()
  action=""
  deploy_node "$name" "$target" "$role" </dev/null || true
  if ((dry_run)); then
    what="binary, config and units"
    [ -z "$package" ] || what="the package ($version) and config"
    summary+=("$(printf '%-10s %-16s would install %s; enable and restart cointicker-node@%s (%s)%s' "$name" "$target" "$what" "$name" "$actors" "$([ "$role" = master ] && echo '; and the dashboard (cointicker-serve)')")")
  elif [ "$status" = ok ]; then
    summary+=("$(printf '%-10s %-16s ok: %s%s' "$name" "$target" "$action" "${changed[*]:+ (changed: ${changed[*]})}")")
  else
    summary+=("$(printf '%-10s %-16s FAILED: %s' "$name" "$target" "$status")")
    failed=1
  fi
done <<<"$nodes"

echo
((dry_run)) && echo "dry run: nothing was contacted or changed"
echo "summary:"
printf '  %s\n' "${summary[@]}"
exit $failed
