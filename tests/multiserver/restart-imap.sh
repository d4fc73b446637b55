#!/usr/bin/env bash
# Stops one IMAP server of the stage that start.sh DIR started and starts it
# again, as an administrator's restart would: every connection to it ends.
#   tests/multiserver/restart-imap.sh DIR SERVER [PAUSE]
# SERVER: cyrus (master and its imapd, lmtpd, idled), courier (the STARTTLS
# couriertcpd and its imapd), courier-imaps, courier-nouidplus. PAUSE: seconds
# between the stop and the start (default 0; clients meanwhile get
# "connection refused"). Prints nothing on success, exits 1 when the server
# does not stop or does not greet again.
# The daemon is stopped by its PID from DIR/run/pids (SIGTERM; SIGKILL after
# 5 s), and only when that PID is in this stage's mount namespace; Cyrus
# master and couriertcpd end their children themselves. It is started again
# inside that namespace (nsenter into the namespace of the stage's syslog.py,
# which runs as long as the stage), by the same function start.sh used
# (daemons.sh), and its new PID replaces the old one in DIR/run/pids.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:?usage: restart-imap.sh DIR SERVER [PAUSE]}"
server="${2:?usage: restart-imap.sh DIR SERVER [PAUSE]}"
pause="${3:-0}"
dir="$(cd "$dir" && pwd)"
log="$dir/log"
ns="$(cat "$dir/run/mntns" 2>/dev/null)" || { echo "restart-imap.sh: no stage running in $dir" >&2; exit 1; }
# shellcheck disable=SC1091
. "$dir/run/ports"
case "$server" in
    cyrus) name=cyrus-master start=start_cyrus port="$MCX_CYRUS_IMAP_PORT" ;;
    courier) name=courier-imap start="start_courier imap" port="$MCX_COURIER_IMAP_PORT" ;;
    courier-imaps) name=courier-imaps start="start_courier imaps" port="$MCX_COURIER_IMAPS_PORT" ;;
    courier-nouidplus) name=courier-nouidplus start="start_courier nouidplus" port="$MCX_COURIER_NOUIDPLUS_IMAP_PORT" ;;
    *) echo "restart-imap.sh: SERVER is cyrus, courier, courier-imaps or courier-nouidplus" >&2; exit 2 ;;
esac

# ours: in the recorded namespace, whose /dev overlay is this DIR's (see stop.sh)
ours() {
    [ "$(readlink "/proc/$1/ns/mnt" 2>/dev/null)" = "$ns" ] &&
        grep -qF "upperdir=$dir/ns/dev-up," "/proc/$1/mountinfo" 2>/dev/null
}
pid_of() { sed -n "s/^$1 //p" "$dir/run/pids"; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
anchor="$(pid_of syslog)"
ours "$anchor" || { echo "restart-imap.sh: the stage in $dir is not running" >&2; exit 1; }

pid="$(pid_of "$name")"
if [ -n "$pid" ] && ours "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
        ours "$pid" || break
        [ "$i" = 50 ] && kill -KILL "$pid" 2>/dev/null
        sleep 0.1
    done
    ! ours "$pid" || { echo "restart-imap.sh: $name ($pid) did not stop" >&2; exit 1; }
fi
# its listening socket goes with it
for _ in $(seq 1 50); do listening "$port" || break; sleep 0.1; done
! listening "$port" || { echo "restart-imap.sh: port $port still answers after $name stopped" >&2; exit 1; }
sleep "$pause"

# shellcheck disable=SC2016
nsenter --mount="/proc/$anchor/ns/mnt" -- /bin/bash -c \
    'set -euo pipefail; dir="$1" here="$2" log="$3"; cd "$dir/run"; . "$here/daemons.sh"; $4' \
    restart-imap "$dir" "$here" "$log" "$start"
for _ in $(seq 1 100); do
    line="$( (exec 3<>"/dev/tcp/127.0.0.1/$port" && IFS= read -r -t 5 l <&3 && printf '%s' "$l") 2>/dev/null || true)"
    [[ "$line" == "* OK"* ]] && exit 0
    sleep 0.1
done
echo "restart-imap.sh: $server did not greet on 127.0.0.1:$port again; see $log" >&2
exit 1
