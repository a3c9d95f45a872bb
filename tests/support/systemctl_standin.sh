#!/bin/sh
# TEST STAND-IN for systemctl, for a test host whose PID 1 is not systemd
# (tests/support/deploy_netns.sh installs it as /usr/local/sbin/systemctl,
# ahead of the real one on root's and sudo's PATH). Not systemd: it logs
# every call to /var/log/systemctl-standin.log and, for start and restart
# of a unit, runs the unit file's ExecStart (%i replaced) as its User= with
# its Environment= lines and EnvironmentFile= in its WorkingDirectory=, in
# the background, its PID in /run/standin-UNIT.pid. restart stops a
# running one with SIGTERM first (KillSignal) and waits for it; start of a
# running unit does nothing. enable and daemon-reload only log.
set -eu
echo "$*" >>/var/log/systemctl-standin.log
cmd=${1:-}
unit=${2:-}
case $cmd in
  start | restart) ;;
  *) exit 0 ;;
esac
instance=""
file=$unit
case $unit in
  *@*.service)
    instance=${unit#*@}
    instance=${instance%.service}
    file=${unit%%@*}@.service
    ;;
esac
for dir in /etc/systemd/system /lib/systemd/system; do
  [ -f "$dir/$file" ] && { path=$dir/$file; break; }
done
[ -n "${path:-}" ] || { echo "systemctl (stand-in): unit $unit not found" >&2; exit 5; }
pidfile=/run/standin-$unit.pid
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  [ "$cmd" = start ] && exit 0
  pid=$(cat "$pidfile")
  kill -TERM "$pid"
  n=0
  while kill -0 "$pid" 2>/dev/null && [ $n -lt 450 ]; do sleep 0.1; n=$((n + 1)); done  # TimeoutStopSec
  kill -KILL "$pid" 2>/dev/null || true
fi
value() { sed -n "s/^$1=//p" "$path" | sed "s/%i/$instance/g"; }
exec_start=$(value ExecStart)
user=$(value User)
workdir=$(value WorkingDirectory)
mkdir -p "${workdir:-/}"
[ -z "$user" ] || chown "$user:" "$workdir"
(
  value Environment | while IFS= read -r e; do echo "export $e"; done >/run/standin-env.$$
  . /run/standin-env.$$
  rm -f /run/standin-env.$$
  env_file=$(value EnvironmentFile)
  env_file=${env_file#-}
  if [ -n "$env_file" ] && [ -f "$env_file" ]; then set -a; . "$env_file"; set +a; fi
  cd "${workdir:-/}"
  # shellcheck disable=SC2086 # ExecStart's words
  if [ -n "$user" ]; then
    exec setsid runuser -u "$user" -- $exec_start </dev/null >>"/var/log/standin-$unit.log" 2>&1
  else
    exec setsid $exec_start </dev/null >>"/var/log/standin-$unit.log" 2>&1
  fi
) &
echo $! >"$pidfile"
