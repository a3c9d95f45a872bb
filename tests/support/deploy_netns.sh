#!/usr/bin/env bash
# deploy/cluster-deploy.sh for real, against a node it reaches over ssh:
# worker1 of config/cluster.yaml (10.42.0.11) in a network namespace, its
# own root file system an overlay of this machine's (writes stay in a
# tmpfs: the package is installed there, not here), running Debian's
# OpenSSH server (unpacked into BUILD_DIR/openssh-server by deploy/setup.sh,
# never installed here); the deploying side in a second namespace (10.42.0.100).
# Both on a vde2 switch, as in tests/support/netns_cluster.sh.
#
#   tests/support/deploy_netns.sh BUILD_DIR SOURCE_DIR     (root; CTest deploy.netns)
#
# PID 1 here is not systemd: systemctl on the node is a TEST STAND-IN
# (tests/support/systemctl_standin.sh) that logs each call and runs the
# installed unit's ExecStart as its User=. The first run installs the
# package (deploy/package.sh) with apt-get, copies the config and
# (re)starts cointicker-node@worker1, whose node process then runs the
# packaged binary; the second run changes nothing and restarts nothing.
set -euo pipefail
build=$(cd "${1:?BUILD_DIR}" && pwd)
src=$(cd "${2:?SOURCE_DIR}" && pwd)
[[ $(id -u) == 0 ]] || { echo "deploy_netns: network namespaces need root (CI runs as root); not run" >&2; exit 77; }
for c in ip vde_switch vde_plug2tap unshare chroot rsync; do
  command -v $c >/dev/null || { echo "deploy_netns: $c is missing (deploy/setup.sh installs it)" >&2; exit 1; }
done
sshd=$build/openssh-server/usr/sbin/sshd
[[ -x $sshd ]] || { echo "deploy_netns: $sshd is missing (deploy/setup.sh unpacks Debian's openssh-server there)" >&2; exit 1; }

tag=ctd$(($$ % 100000))
work=$(mktemp -d /tmp/ctk-deploy.XXXXXX)
failed=1
log() { echo "[deploy $(date +%T)] $*"; }
fail() { echo "deploy_netns: FAILED: $*" >&2; exit 1; }
cleanup() {
  set +e
  for n in node dep; do
    for p in $(ip netns pids "$tag-$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$tag-$n" 2>/dev/null
  done
  [[ -f $work/switch.pid ]] && kill "$(cat "$work/switch.pid")" 2>/dev/null
  if [[ $failed == 0 ]]; then
    rm -rf "$work"
  else
    echo "deploy_netns: logs kept in $work" >&2
  fi
}
trap cleanup EXIT

deb=$("$src/deploy/package.sh" --out "$work/packages" | tail -n 1)
version=$(dpkg-deb -f "$deb" Version)
ssh-keygen -q -t ed25519 -N "" -f "$work/key"
ssh-keygen -q -t ed25519 -N "" -f "$work/hostkey"

vde_switch -s "$work/switch" -d -p "$work/switch.pid"
for n in node dep; do
  ip netns add "$tag-$n"
  ip -n "$tag-$n" tuntap add mode tap eth0
  ip -n "$tag-$n" link set lo up
  ip -n "$tag-$n" link set eth0 up
  ip netns exec "$tag-$n" vde_plug2tap -s "$work/switch" eth0 2>"$work/plug-$n.log" &
done
ip -n "$tag-node" addr add 10.42.0.11/24 dev eth0
ip -n "$tag-dep" addr add 10.42.0.100/24 dev eth0

# The node: a private mount namespace, / as an overlay, sshd chrooted into it.
mkdir -p "$work/root"
cat >"$work/node.sh" <<EOF
set -e
mount -t tmpfs tmpfs "$work/root"
mkdir -p "$work/root/upper" "$work/root/work" "$work/root/fs"
mount -t overlay overlay -o lowerdir=/,upperdir="$work/root/upper",workdir="$work/root/work" "$work/root/fs"
fs="$work/root/fs"
mount -t proc proc "\$fs/proc"
mount --rbind /dev "\$fs/dev"
mkdir -p "\$fs/run/sshd" "\$fs/root/.ssh"
cp "$work/key.pub" "\$fs/root/.ssh/authorized_keys"
chmod 600 "\$fs/root/.ssh/authorized_keys"
install -m 0755 "$src/tests/support/systemctl_standin.sh" "\$fs/usr/local/sbin/systemctl"
rm -f "\$fs/var/log/systemctl-standin.log"
# sshd's privilege separation user, in the overlay's /etc/passwd.
chroot "\$fs" sh -c 'id -u sshd >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /run/sshd --shell /usr/sbin/nologin sshd'
printf 'ListenAddress 10.42.0.11\nHostKey $work/hostkey\nPermitRootLogin prohibit-password\nUsePAM no\nPidFile none\n' >"$work/sshd_config"
exec chroot "\$fs" "$sshd" -D -e -f "$work/sshd_config"
EOF
ip netns exec "$tag-node" unshare --mount --propagation private bash "$work/node.sh" >"$work/sshd.log" 2>&1 &

ssh_opts=(-o IdentityFile="$work/key" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR)
on_node() { ip netns exec "$tag-dep" ssh -o BatchMode=yes "${ssh_opts[@]}" root@10.42.0.11 "$@"; }
end=$((SECONDS + 30))
until on_node true 2>/dev/null; do
  ((SECONDS < end)) || fail "sshd on the node does not answer: $(cat "$work/sshd.log")"
  sleep 0.2
done
log "sshd answers on 10.42.0.11"

deploy() {
  ip netns exec "$tag-dep" "$src/deploy/cluster-deploy.sh" --package "$deb" --user root --node worker1 \
    --ssh-option IdentityFile="$work/key" --ssh-option StrictHostKeyChecking=no \
    --ssh-option UserKnownHostsFile=/dev/null --ssh-option LogLevel=ERROR
}
standin_pid() { on_node cat /run/standin-cointicker-node@worker1.service.pid; }

# First run: installed, configured, restarted.
deploy >"$work/deploy1.out" 2>&1 || fail "the first deploy exited $?: $(cat "$work/deploy1.out")"
grep -q "worker1 .* ok: restarted (changed: package $version config)" "$work/deploy1.out" ||
  fail "the first deploy's summary: $(tail -n 3 "$work/deploy1.out")"
[[ $(on_node "dpkg-query -W -f '\${Status} \${Version}' cointicker") == "install ok installed $version" ]] ||
  fail "the package is not installed on the node"
on_node cat /etc/cointicker/cluster.yaml | cmp -s - "$src/config/cluster.yaml" || fail "cluster.yaml differs on the node"
on_node id -u cointicker >/dev/null || fail "no system user cointicker on the node"
[[ $(on_node cat /var/log/systemctl-standin.log) == *"restart cointicker-node@worker1.service"* ]] ||
  fail "the node's unit was not restarted: $(on_node cat /var/log/systemctl-standin.log)"
pid=$(standin_pid)
end=$((SECONDS + 30))
until on_node "grep -q 'drains every actor' /var/log/standin-cointicker-node@worker1.service.log"; do
  ((SECONDS < end)) || fail "the node did not start: $(on_node cat /var/log/standin-cointicker-node@worker1.service.log)"
  sleep 0.2
done
on_node "pgrep -u cointicker -f -- '^/usr/bin/cointicker --config /etc/cointicker node worker1'" >/dev/null ||
  fail "the unit does not run the packaged binary as user cointicker: $(on_node "pgrep -a -f -- '--config /etc/cointicker'")"
log "first run: package $version installed, config copied, cointicker-node@worker1 restarted (pid $pid)"

# Second run: nothing to do.
calls=$(on_node "wc -l </var/log/systemctl-standin.log")
deploy >"$work/deploy2.out" 2>&1 || fail "the second deploy exited $?: $(cat "$work/deploy2.out")"
grep -q "worker1 .* ok: unchanged, running$" "$work/deploy2.out" ||
  fail "the second deploy's summary: $(tail -n 3 "$work/deploy2.out")"
new_calls=$(on_node tail -n "+$((calls + 1))" /var/log/systemctl-standin.log)
[[ $new_calls == "enable cointicker-node@worker1.service"$'\n'"start cointicker-node@worker1.service" ]] ||
  fail "the second run called systemctl with: $new_calls"
[[ $(standin_pid) == "$pid" ]] && on_node kill -0 "$pid" || fail "the node process changed or died on the second run"
log "second run: unchanged, running (pid $pid), no restart"
failed=0
