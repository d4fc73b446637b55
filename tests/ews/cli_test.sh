#!/usr/bin/env bash
# The CLI and the echo samples over the exchange binding, against the EWS
# responder (run by tests/ews/run_test.sh, which starts it and exports its
# env.sh): bob serves, alice sends and waits for the reply; passwords from
# $MAILCHAN_PASSWORD; a wrong one is a transport failure (4); then
# echo_service / echo_client with --config files that name their binding.
#   usage: run_test.sh cli_test.sh MAILCHAN ECHO_SERVICE ECHO_CLIENT
set -u
cli="$1" service="$2" client="$3"
here="$(cd "$(dirname "$0")" && pwd)"
ctl() { /usr/bin/python3 "$here/ewsctl.py" "$@"; }
fails=0
check() { # name expected-exit actual-exit
  if [ "$2" != "$3" ]; then echo "FAIL: $1: exit $3, expected $2"; fails=$((fails+1)); else echo "ok: $1"; fi
}
work="$(mktemp -d /tmp/mailchan-ews-cli.XXXXXX)"
svc=""
trap '[ -n "$svc" ] && kill "$svc" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
ews=(--binding exchange --set "ews_url=$MC_EWS_URL" --set "tls_ca_file=$MC_EWS_CA" --set timeout=10000)

# serve (bob) answers one request; send --wait-reply (alice) prints the reply
MAILCHAN_PASSWORD="$MC_EWS_BOB_PW" "$cli" serve "${ews[@]}" --address bob@example.test \
  --set server_query_interval=60000 --listen 'net.mail://up#' --count 1 --timeout 30000 --exec 'tr a-z A-Z' \
  >"$work/serve.out" 2>"$work/serve.err" &
svc=$!
reply="$(echo 'hello over ews' | MAILCHAN_PASSWORD="$MC_EWS_ALICE_PW" "$cli" send "${ews[@]}" \
  --address alice@example.test --to 'net.mail://up#bob@example.test' --action urn:up --text \
  --reply-to 'net.mail://up-reply#alice@example.test' --wait-reply 30000 2>"$work/send.err")"
check "send --wait-reply over exchange" 0 $?
wait "$svc"; check "serve over exchange" 0 $?
svc=""
grep -q 'HELLO OVER EWS' <<<"$reply" || { echo "FAIL: reply was: $reply"; cat "$work/send.err" "$work/serve.err"; fails=$((fails+1)); }
[ "$(ctl count bob@example.test 'Service E-mail' '[net.mail] up')" = 0 ] ||
  { echo "FAIL: the request is still in bob's folder"; fails=$((fails+1)); }
[ "$(ctl count alice@example.test 'Sent Items' '[net.mail] up')" -ge 1 ] ||
  { echo "FAIL: alice's Sent Items holds no copy (save_then_send)"; fails=$((fails+1)); }

# the password from the environment is used: a wrong one fails to log in
echo x | MAILCHAN_PASSWORD=wrong "$cli" send "${ews[@]}" --address alice@example.test \
  --to 'net.mail://up#bob@example.test' --action urn:a >/dev/null 2>"$work/wrong.err"
check "wrong MAILCHAN_PASSWORD is a transport failure" 4 $?
grep -q 'wrong' "$work/wrong.err" && { echo "FAIL: the error shows the password"; fails=$((fails+1)); }
MAILCHAN_PASSWORD="$MC_EWS_CAROL_PW" "$cli" receive "${ews[@]}" --address carol@example.test \
  --listen 'net.mail://none#' --timeout 1500 >/dev/null 2>&1
check "receive timeout over exchange" 3 $?

# --trace shows the HTTP dialogue with the credentials redacted; -v the
# operations and their HTTP status (Basic: the password, and its base64)
echo 'traced over ews' | MAILCHAN_PASSWORD="$MC_EWS_ALICE_PW" "$cli" send "${ews[@]}" --address alice@example.test \
  --to 'net.mail://tr#bob@example.test' --action urn:tr --text --trace -v >/dev/null 2>"$work/trace.err"
check "send --trace over exchange" 0 $?
has_line() { grep -aqE -- "$1" "$work/$3" || { echo "FAIL: $2: no /$1/ in: $(head -c 3000 "$work/$3")"; fails=$((fails+1)); }; }
has_line '^> POST /EWS/Exchange\.asmx HTTP/1\.1$' "trace: the request line" trace.err
has_line '^> Authorization: Basic \[redacted\]$' "trace: Authorization redacted" trace.err
has_line '^> .*<m:CreateItem ' "trace: the request body" trace.err
has_line '^< HTTP/1\.1 200' "trace: the status line" trace.err
has_line '^mailchan: info: EWS https://.*: CreateItem: HTTP 200$' "-v: the operation" trace.err
has_line '^mailchan: info: HTTP https://.*: TLS established \(.*\), certificate verified$' "-v: TLS" trace.err
for secret in "$MC_EWS_ALICE_PW" "$(printf '%s' "alice@example.test:$MC_EWS_ALICE_PW" | base64 -w0)"; do
  grep -aqF -- "$secret" "$work/trace.err" && { echo "FAIL: the password is in the trace"; fails=$((fails+1)); }
done
# a bearer token from $MAILCHAN_TOKEN
echo 'token over ews' | MAILCHAN_TOKEN="$MC_EWS_DAVE_TOKEN" "$cli" send "${ews[@]}" --set ews_auth=bearer \
  --address dave@example.test --to 'net.mail://tr#bob@example.test' --action urn:tr --text --trace \
  >/dev/null 2>"$work/bearer.err"
check "send --trace with a bearer token over exchange" 0 $?
has_line '^> Authorization: Bearer \[redacted\]$' "trace: bearer token redacted" bearer.err
grep -aqF -- "$MC_EWS_DAVE_TOKEN" "$work/bearer.err" && { echo "FAIL: the token is in the trace"; fails=$((fails+1)); }

# the echo samples, each from a config file that names its binding
conf() { # user password
  cat <<CONF
# $1 over Exchange Web Services (the test responder)
binding = exchange
address = $1@example.test
password = $2
ews_url = $MC_EWS_URL
tls_ca_file = $MC_EWS_CA
server_query_interval = 60000
timeout = 10000
CONF
}
(umask 077; conf bob "$MC_EWS_BOB_PW" > "$work/service.conf"; conf alice "$MC_EWS_ALICE_PW" > "$work/client.conf")
"$service" --config "$work/service.conf" > "$work/service.log" 2>&1 &
svc=$!
for _ in $(seq 1 100); do grep -q listening "$work/service.log" && break; sleep 0.1; done
grep -q 'listening on net.mail://echo#bob@example.test' "$work/service.log" ||
  { echo "FAIL: echo_service did not start:"; cat "$work/service.log"; fails=$((fails+1)); }
timeout 60 "$client" --config "$work/client.conf" 3 bob@example.test > "$work/client.log" 2>&1
check "echo_client --config (exchange)" 0 $?
cat "$work/client.log"
[ "$(grep -c '^reply to .*"hello #[123]" (from bob@example.test)' "$work/client.log")" = 3 ] ||
  { echo "FAIL: echo_client did not get 3 replies from bob"; fails=$((fails+1)); }
kill -TERM "$svc"; wait "$svc"; check "echo_service stops on SIGTERM" 0 $?
svc=""
grep -q 'after 3 replies' "$work/service.log" || { echo "FAIL: echo_service:"; cat "$work/service.log"; fails=$((fails+1)); }
"$service" --config "$work/nonexistent.conf" >/dev/null 2>&1
[ $? -ne 0 ] || { echo "FAIL: echo_service with a missing config file succeeded"; fails=$((fails+1)); }

[ "$(ctl invalid)" = 0 ] || { echo "FAIL: the responder saw invalid requests"; fails=$((fails+1)); }
echo "$fails failed"
[ $fails -eq 0 ]
