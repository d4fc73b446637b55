#!/usr/bin/env bash
# Runs the mail benchmarks: starts smtp-sink and the test Postfix + Dovecot,
# runs bench_smtp, bench_mail_e2e and bench_imap_folder, and stops everything.
# usage: tests/bench/mail_bench.sh BUILD_DIR [N]
set -euo pipefail
build="$(cd "${1:?usage: mail_bench.sh BUILD_DIR [N]}" && pwd)"
n="${2:-1000}"
here="$(cd "$(dirname "$0")/.." && pwd)"
srv="$(mktemp -d /tmp/mcbench.XXXXXX)"
sink=""
trap '[ -n "$sink" ] && kill $sink 2>/dev/null; bash "$here/mailserver/stop.sh" "$srv"; rm -rf "$srv"' EXIT
MC_PORT_BASE="${MC_PORT_BASE:-23000}" bash "$here/mailserver/start.sh" "$srv" >/dev/null
. "$srv/env.sh"
u=(); [ "$(id -u)" -eq 0 ] && u=(-u postfix)
/usr/sbin/smtp-sink "${u[@]}" 127.0.0.1:"$MC_SINK_PORT" 256 &
sink=$!
sleep 0.3
"$build/tests/bench/bench_smtp" "$MC_SINK_PORT" "$n"
"$build/tests/bench/bench_mail_e2e" "$n"
"$build/tests/bench/bench_imap_folder" 10000 3
