#!/usr/bin/env bash
# Stops what start.sh DIR started (by its PID) and waits, bounded, until it is
# gone. Safe to run twice or on a half-started DIR.
dir="${1:?usage: stop.sh DIR}"
[ -f "$dir/responder.pid" ] || exit 0
pid="$(cat "$dir/responder.pid")"
kill "$pid" 2>/dev/null
for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
kill -KILL "$pid" 2>/dev/null
rm -f "$dir/responder.pid"
exit 0
