#!/usr/bin/env bash
# The CLI: --help documents every option; send/receive/serve work over the
# Maildir binding; exit codes tell bad input, timeout and transport failure apart.
set -u
cli="$1"
fails=0
check() { # name expected-exit actual-exit
  if [ "$2" != "$3" ]; then echo "FAIL: $1: exit $3, expected $2"; fails=$((fails+1)); else echo "ok: $1"; fi
}
root="$(mktemp -d /tmp/mailchan-cli.XXXXXX)"
trap 'rm -rf "$root"' EXIT
common=(--maildir-root "$root")

help="$("$cli" --help)"; check "help" 0 $?
# every long option the program accepts is documented
for opt in $(grep -o '{"[a-z-]*", [a-z_]*_argument' "$(dirname "$0")/../samples/cli/mailchan.c" | cut -d'"' -f2); do
  grep -q -- "--$opt" <<<"$help" || { echo "FAIL: --$opt is not documented"; fails=$((fails+1)); }
done
"$cli" --list-settings | grep -q max_received_message_size; check "list-settings" 0 $?
# --help documents every exit status
for code in 0 2 3 4 5 130; do
  grep -Eq "^  $code +[a-z]" <<<"$help" || { echo "FAIL: exit status $code is not documented"; fails=$((fails+1)); }
done
version="$("$cli" --version)"; check "version" 0 $?
grep -Eq '^mailchan [0-9]+\.[0-9]+\.[0-9]+$' <<<"$version" || { echo "FAIL: --version printed: $version"; fails=$((fails+1)); }

"$cli" frobnicate >/dev/null 2>&1; check "unknown command" 2 $?
"$cli" send "${common[@]}" --address a@x.org --to 'net.mail://bad name#b@x.org' --action urn:a </dev/null >/dev/null 2>&1
check "bad address is bad input" 2 $?
"$cli" send "${common[@]}" --address a@x.org --set max_received_message_size=abc --to 'net.mail://c#b@x.org' --action urn:a </dev/null >/dev/null 2>&1
check "bad setting is bad input" 2 $?
"$cli" receive "${common[@]}" --address b@x.org --listen 'net.mail://c#' --timeout 300 >/dev/null 2>&1
check "timeout" 3 $?
"$cli" receive --maildir-root /proc/nope --address b@x.org --listen 'net.mail://c#' --timeout 300 >/dev/null 2>&1
check "transport failure" 4 $?
# files named on the command line or in settings are bad input when missing
"$cli" send "${common[@]}" --config "$root/no-such.conf" --address a@x.org --to 'net.mail://c#b@x.org' --action urn:a </dev/null >/dev/null 2>&1
check "missing --config file is bad input" 2 $?
"$cli" send "${common[@]}" --security message --certificate "$root/no-such.pem" --private-key "$root/no-such.key" \
  --security-ca "$root/no-such-ca.pem" --recipient-certificate "$root/no-such.pem" \
  --address a@x.org --to 'net.mail://c#b@x.org' --action urn:a </dev/null >/dev/null 2>&1
check "missing certificate file is bad input" 2 $?

# the error names the timeout asked for (not an internal slice of it)
err="$("$cli" receive "${common[@]}" --address b@x.org --listen 'net.mail://c#' --timeout 1234 2>&1 >/dev/null)"
check "timeout 1234" 3 $?
grep -q '1234 ms' <<<"$err" || { echo "FAIL: timeout error does not name 1234 ms: $err"; fails=$((fails+1)); }

# usage is checked before anything is sent: no mail may be in the store after a usage error
new_mail() { find "$root" -path '*/new/*' -type f | wc -l; }
before="$(new_mail)"
echo '<p:Ping xmlns:p="urn:p"/>' | "$cli" send "${common[@]}" --address a@x.org --to 'net.mail://c#b@x.org' \
  --action urn:ping --wait-reply 3000 >/dev/null 2>&1
check "--wait-reply without --reply-to" 2 $?
[ "$(new_mail)" = "$before" ] || { echo "FAIL: a usage error sent mail"; fails=$((fails+1)); }
echo '<p:Ping xmlns:p="urn:p"/>' | "$cli" send "${common[@]}" --address a@x.org --to 'net.mail://c#b@x.org' \
  --action urn:ping --reply-to 'net.mail://r#someone-else@x.org' --wait-reply 3000 >/dev/null 2>&1
check "--wait-reply on another's mailbox" 2 $?
[ "$(new_mail)" = "$before" ] || { echo "FAIL: a --reply-to we cannot listen on sent mail"; fails=$((fails+1)); }
"$cli" send "${common[@]}" --address a@x.org --to 'net.mail://c#b@x.org' --action urn:ping --timeout 5 </dev/null >/dev/null 2>&1
check "an option of another command" 2 $?
err="$(echo x | "$cli" send "${common[@]}" --address a@x.org --to 'net.mail://c#w@x.org' --action urn:ping \
  --reply-to 'net.mail://r#a@x.org' --wait-reply 700 2>&1 >/dev/null)"
check "no reply within --wait-reply" 3 $?
grep -q '700 ms' <<<"$err" || { echo "FAIL: --wait-reply error does not name 700 ms: $err"; fails=$((fails+1)); }

# SIGINT and SIGTERM while receive waits, nothing received: 130. The signal
# is sent once the receiver holds its claims lock (it is listening).
for sig in INT TERM; do
  "$cli" receive "${common[@]}" --address idle@x.org --listen 'net.mail://c#' >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 1 200); do
    compgen -G "$root/idle@x.org/mailchan-claims/$pid-*.lock" >/dev/null && break
    sleep 0.05
  done
  kill -$sig $pid
  wait $pid
  check "SIG$sig during receive" 130 $?
done

# a recipient the server refuses is a server failure (needs the test mail servers)
if [ -n "${MC_SUBMISSION_PORT:-}" ] && [ -n "${MC_IMAP_PORT:-}" ] && [ -n "${MC_CA:-}" ] && [ -n "${MC_ALICE_PW:-}" ]; then
  echo x | MAILCHAN_PASSWORD="$MC_ALICE_PW" "$cli" send --binding mail --address alice@example.test \
    --set smtp_host=127.0.0.1 --set smtp_port="$MC_SUBMISSION_PORT" --set imap_host=127.0.0.1 \
    --set imap_port="$MC_IMAP_PORT" --set tls_ca_file="$MC_CA" \
    --to 'net.mail://c#nobody@example.test' --action urn:a >/dev/null 2>&1
  check "refused recipient is a server failure" 4 $?
else
  echo "skipped: refused recipient (mail servers not running: MC_SUBMISSION_PORT etc. unset)"
fi

echo '<p:Ping xmlns:p="urn:p">1</p:Ping>' | "$cli" send "${common[@]}" --address a@x.org --to 'net.mail://c#b@x.org' --action urn:ping 2>/dev/null
check "send" 0 $?
out="$("$cli" receive "${common[@]}" --address b@x.org --listen 'net.mail://c#' --timeout 5000)"
check "receive" 0 $?
grep -q '<p:Ping xmlns:p="urn:p">1</p:Ping>' <<<"$out" || { echo "FAIL: received envelope lacks the body"; fails=$((fails+1)); }

# serve with --exec, and send --wait-reply
"$cli" serve "${common[@]}" --address svc@x.org --listen 'net.mail://up#' --count 1 --timeout 10000 --exec 'tr a-z A-Z' &
server=$!
reply="$(echo 'hello' | "$cli" send "${common[@]}" --address cli@x.org --to 'net.mail://up#svc@x.org' --action urn:up --text \
  --reply-to 'net.mail://up-reply#cli@x.org' --wait-reply 10000 2>/dev/null)"
check "send --wait-reply" 0 $?
wait $server; check "serve" 0 $?
grep -q 'HELLO' <<<"$reply" || { echo "FAIL: reply was: $reply"; fails=$((fails+1)); }

# message security: alice signs and encrypts for bob, bob opens it with a
# PKCS#12 file whose password comes from the environment
pki="$root/pki"
MC_PKI_NO_JAVA=1 bash "$(dirname "$0")/security/pki.sh" "$pki" >/dev/null
sec=(--security message --security-ca "$pki/ca.pem" --algorithm-suite Basic256Sha256)
echo '<p:Secret xmlns:p="urn:p">42</p:Secret>' | "$cli" send "${common[@]}" "${sec[@]}" --address alice@example.test \
  --certificate "$pki/alice.pem" --private-key "$pki/alice.key" --recipient-certificate "$pki/bob.pem" \
  --to 'net.mail://vault#bob@example.test' --action urn:secret 2>/dev/null
check "send secured" 0 $?
grep -rq 'urn:p">42' "$root/bob@example.test" && { echo "FAIL: the body is readable in the store"; fails=$((fails+1)); }
out="$(MAILCHAN_KEY_PASSWORD=p12pass "$cli" receive "${common[@]}" "${sec[@]}" --address bob@example.test \
  --certificate "$pki/bob.p12" --recipient-certificate "$pki/alice.pem" --listen 'net.mail://vault#' --timeout 5000)"
check "receive secured" 0 $?
grep -q '<p:Secret xmlns:p="urn:p">42</p:Secret>' <<<"$out" || { echo "FAIL: secured envelope: $out"; fails=$((fails+1)); }
"$cli" send "${common[@]}" --security message --address alice@example.test --to 'net.mail://vault#bob@example.test' \
  --action urn:secret </dev/null >/dev/null 2>&1
check "security without a certificate is bad input" 2 $?

echo "$fails failed"
[ $fails -eq 0 ]
