#!/usr/bin/env bash
# Stops what start.sh DIR started. Safe to run twice or on a half-started DIR.
dir="${1:?usage: stop.sh DIR}"
[ -d "$dir" ] || exit 0
[ -f "$dir/postfix/main.cf" ] && postfix -c "$dir/postfix" stop >/dev/null 2>&1
if [ -f "$dir/dovecot/dovecot.conf" ]; then
    doveadm -c "$dir/dovecot/dovecot.conf" stop >/dev/null 2>&1 ||
        { pid="$(cat "$dir/run/dovecot/master.pid" 2>/dev/null)" && kill "$pid" 2>/dev/null; }
fi
# wait (bounded) until both masters are gone
for _ in $(seq 1 50); do
    alive=0
    for f in "$dir/postfix/queue/pid/master.pid" "$dir/run/dovecot/master.pid"; do
        pid="$(tr -d " " 2>/dev/null < "$f")" || continue
        [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=1
    done
    [ $alive -eq 0 ] && break
    sleep 0.1
done
exit 0
