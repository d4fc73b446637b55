#!/usr/bin/env bash
# The echo demo over the mail binding between two mailboxes: echo_service as
# bob@example.test, echo_client as alice@example.test, through the Postfix +
# Dovecot of tests/mailserver/start.sh (env.sh exported). Skipped without them.
set -euo pipefail
service="$1" client="$2"
[ -n "${MC_MAILDIR_TEST:-}" ] || { echo "mail servers not running: skipped"; exit 77; }
work="$(mktemp -d)"
trap 'kill $svc 2>/dev/null; wait $svc 2>/dev/null; rm -rf "$work"' EXIT
conf() { # user password
    cat <<CONF
# mail binding for $1 (test servers)
address = $1@example.test
password = $2
smtp_host = 127.0.0.1
smtp_port = $MC_SUBMISSION_PORT
imap_host = 127.0.0.1
imap_port = $MC_IMAP_PORT
tls_ca_file = $MC_CA
CONF
}
conf bob "$MC_BOB_PW" > "$work/service.conf"
conf alice "$MC_ALICE_PW" > "$work/client.conf"
chmod 600 "$work"/*.conf
"$service" "$work/service.conf" > "$work/service.log" 2>&1 &
svc=$!
for _ in $(seq 1 100); do grep -q listening "$work/service.log" && break; sleep 0.1; done
grep -q listening "$work/service.log" || { cat "$work/service.log"; exit 1; }
"$client" "$work/client.conf" 3 bob@example.test | tee "$work/client.log"
[ "$(grep -c '^reply' "$work/client.log")" -eq 3 ]
