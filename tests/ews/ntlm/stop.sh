#!/usr/bin/env bash
# Stops the Apache that tests/ews/ntlm/start.sh DIR started, by the PID in
# DIR/run/httpd.pid (and waits for its children); harmless if none runs.
#   tests/ews/ntlm/stop.sh DIR
set -uo pipefail
dir="${1:?usage: stop.sh DIR}"
pidfile="$dir/run/httpd.pid"
[ -s "$pidfile" ] || exit 0
pid="$(cat "$pidfile")"
case "$pid" in ''|*[!0-9]*) echo "ntlm/stop.sh: bad pid file $pidfile" >&2; exit 1 ;; esac
# the parent's children: Apache ends them itself on TERM; KILL them if it cannot
kids="$(pgrep -P "$pid" 2>/dev/null || true)"
if kill -0 "$pid" 2>/dev/null && [ "$(ps -o comm= -p "$pid")" = apache2 ]; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
fi
for k in $kids; do
    [ "$(ps -o comm= -p "$k" 2>/dev/null)" = apache2 ] && kill -KILL "$k" 2>/dev/null
done
rm -f "$pidfile"
exit 0
