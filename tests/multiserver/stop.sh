#!/usr/bin/env bash
# Stops what start.sh DIR started and waits (bounded) until every process of
# it is gone, so that start.sh can follow at once. Safe to run twice or on a
# half-started DIR.
# Which processes are ours: those in the mount namespace recorded in
# DIR/run/mntns (start.sh's ns.sh made it; nothing else runs in it) whose
# mounts are this DIR's, found by PID through /proc, never by name: other
# copies of these daemons, or of this stage, may run. First the daemons listed in DIR/run/pids get SIGTERM (Exim,
# the couriertcpd, authdaemond, Cyrus master, which end their children), then
# anything left in the namespace (gam_server, stray children) SIGTERM and,
# after 3 s, SIGKILL. The namespace and its mounts vanish with its last process.
dir="${1:?usage: stop.sh DIR}"
[ -d "$dir" ] || exit 0
dir="$(cd "$dir" && pwd)"
ns="$(cat "$dir/run/mntns" 2>/dev/null)"
[ -n "$ns" ] || exit 0

in_ns() { # the PIDs in the recorded namespace (one find over /proc: readlink per PID is slow)
    find /proc -mindepth 3 -maxdepth 3 -path '/proc/[0-9]*/ns/mnt' -printf '%l %h\n' 2>/dev/null |
        awk -v ns="$ns" '$1 == ns { split($2, p, "/"); print p[3] }'
}
# A namespace's id is an inode number that the kernel hands out again once
# the namespace is gone: DIR/run/mntns of a stage stopped long ago may name
# another stage's namespace now. Ours is the one whose /dev overlay has its
# upper layer in this DIR.
mine() { grep -qF "upperdir=$dir/ns/dev-up," "/proc/$1/mountinfo" 2>/dev/null; }
members() {
    local pids
    pids="$(in_ns)"
    [ -n "$pids" ] || return 0
    for pid in $pids; do
        if mine "$pid"; then echo "$pids"; return 0; fi
        [ -d "/proc/$pid" ] && return 0   # alive and not ours: the namespace is another's
    done
}
ours() { [ "$(readlink "/proc/$1/ns/mnt" 2>/dev/null)" = "$ns" ] && mine "$1"; }
wait_gone() { # tenths of a second
    local _
    for _ in $(seq 1 "$1"); do
        [ -z "$(members)" ] && return 0
        sleep 0.1
    done
    return 1
}

for name in exim courier-imap courier-imaps courier-nouidplus courier-authdaemond cyrus-master; do
    pid="$(sed -n "s/^$name //p" "$dir/run/pids" 2>/dev/null)"
    [ -n "$pid" ] && ours "$pid" && kill -TERM "$pid" 2>/dev/null
done
# the syslog listener last but one: it records the daemons' goodbyes
for _ in $(seq 1 20); do
    [ "$(members | wc -l)" -le 1 ] && break
    sleep 0.1
done
left="$(members)"
[ -n "$left" ] && kill -TERM $left 2>/dev/null
if ! wait_gone 30; then
    left="$(members)"
    [ -n "$left" ] && kill -KILL $left 2>/dev/null
    wait_gone 30 || { echo "stop.sh: processes still in $ns: $(members | tr '\n' ' ')" >&2; exit 1; }
fi
# the daemons' parent (ns.sh) is gone, so init reaps them: give it a moment,
# so that `ps` right after this shows no <defunct> ones
for _ in $(seq 1 30); do
    z=0
    for pid in $(awk '{print $2}' "$dir/run/pids" 2>/dev/null); do
        [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && z=1
    done
    [ "$z" = 0 ] && break
    sleep 0.1
done
# the id may be handed out again: never act on it twice
mv -f "$dir/run/mntns" "$dir/run/mntns.stopped"
exit 0
