#!/usr/bin/env bash
# Stops what start.sh DIR started, and waits (bounded) until every process of
# both servers is gone, so that start.sh or a restart can follow at once.
# Safe to run twice or on a half-started DIR.
dir="${1:?usage: stop.sh DIR}"
[ -d "$dir" ] || exit 0
[ -f "$dir/postfix/main.cf" ] && postfix -c "$dir/postfix" stop >/dev/null 2>&1
conf="$dir/dovecot/dovecot.conf"
if [ -f "$conf" ]; then
    instance="$(sed -n 's/^instance_name = //p' "$conf")"
    pid="$(cat "$dir/run/dovecot/master.pid" 2>/dev/null)"
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    # Dovecot lets clients finish; ours are test clients: after 2 s, kill them
    for _ in $(seq 1 20); do
        pgrep -f "^dovecot-$instance/|^/usr/sbin/dovecot -c $conf" >/dev/null || break
        sleep 0.1
    done
    pkill -KILL -f "^dovecot-$instance/|^/usr/sbin/dovecot -c $conf" 2>/dev/null
    rm -f "$dir/run/dovecot/master.pid"
fi
for _ in $(seq 1 50); do
    pid="$(tr -d ' ' 2>/dev/null < "$dir/postfix/queue/pid/master.pid")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
exit 0
