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

# ---- the state store: queued sending, the queue commands, exactly-once receive ----
st="$root/state"; mkdir -p "$st"
q=(--maildir-root "$st/md")
contains() { # name pattern text
  grep -q -- "$2" <<<"$3" || { echo "FAIL: $1: no \"$2\" in: $3"; fails=$((fails+1)); }
}
grep -q 'queue flush STATE_PATH' <<<"$help" || { echo "FAIL: --help does not document queue flush"; fails=$((fails+1)); }

# a missing store, or a file that is not one, is an error (not an empty list), and is left as it was
err="$("$cli" queue list "$st/none.db" 2>&1)"; check "queue list: missing store" 4 $?
contains "queue list: missing store" "does not exist" "$err"
[ -e "$st/none.db" ] && { echo "FAIL: queue list created a store"; fails=$((fails+1)); }
: >"$st/empty.db"
"$cli" queue list "$st/empty.db" >/dev/null 2>&1; check "queue list: an empty file is not a store" 4 $?
[ -s "$st/empty.db" ] && { echo "FAIL: queue list wrote into an empty file"; fails=$((fails+1)); }
# usage
"$cli" queue >/dev/null 2>&1; check "queue without a command" 2 $?
"$cli" queue frob "$st/s.db" >/dev/null 2>&1; check "queue: unknown command" 2 $?
"$cli" queue list >/dev/null 2>&1; check "queue list without STATE_PATH" 2 $?
"$cli" queue retry "$st/s.db" abc >/dev/null 2>&1; check "queue retry: bad ID" 2 $?
"$cli" queue list "$st/s.db" --dead >/dev/null 2>&1; check "queue list --dead" 2 $?
"$cli" queue list "$st/s.db" --maildir-root "$st/md" >/dev/null 2>&1; check "queue list with binding options" 2 $?
echo x | "$cli" send "${q[@]}" --address a@x.org --to 'net.mail://c#b@x.org' --action urn:a --queue-wait 10 >/dev/null 2>&1
check "--queue-wait without --queued" 2 $?
echo x | "$cli" send "${q[@]}" --address a@x.org --queued --to 'net.mail://c#b@x.org' --action urn:a >/dev/null 2>&1
check "--queued without --state-path" 2 $?
[ -z "$(find "$st" -path '*/new/*' -type f)" ] || { echo "FAIL: a usage error sent mail"; fails=$((fails+1)); }

# a new store (made by a receive) lists empty
"$cli" receive "${q[@]}" --address b@x.org --state-path "$st/s.db" --listen 'net.mail://c#' --timeout 100 >/dev/null 2>&1
check "receive --state-path makes the store" 3 $?
out="$("$cli" queue list "$st/s.db")"; check "queue list: new store" 0 $?
contains "queue list: new store" "no queued mail" "$out"
out="$("$cli" queue dead "$st/s.db" --json)"; check "queue dead --json: new store" 0 $?
[ "$out" = "[]" ] || { echo "FAIL: queue dead --json on a new store: $out"; fails=$((fails+1)); }

# send --queued to a mailbox that works: sent before the command ends
echo '<p:Q xmlns:p="urn:p">ok</p:Q>' | "$cli" send "${q[@]}" --address a@x.org --state-path "$st/s.db" --queued \
  --to 'net.mail://c#ok@x.org' --action urn:q 2>"$st/err"
check "send --queued: delivered" 0 $?
contains "send --queued: delivered" "mailchan: sent" "$(cat "$st/err")"
[ "$(ls "$st/md/ok@x.org/new" | wc -l)" = 1 ] || { echo "FAIL: send --queued: the mail is not in the Maildir"; fails=$((fails+1)); }

# a destination that cannot be delivered to (its Maildir path is a file: the
# tests run as root, whom a read-only directory would not stop): queued
: >"$st/md/down@x.org"
echo '<p:Q xmlns:p="urn:p">1</p:Q>' | "$cli" send "${q[@]}" --address a@x.org --state-path "$st/s.db" --queued \
  --to 'net.mail://c#down@x.org' --action urn:q 2>"$st/err"
check "send --queued: queued" 0 $?
contains "send --queued: queued" "queued urn:uuid:.* as mail 2 in" "$(cat "$st/err")"
contains "send --queued: queued, why" "Not a directory" "$(cat "$st/err")"
out="$("$cli" queue list "$st/s.db")"; check "queue list" 0 $?
contains "queue list: the mail" "^2 .* 1 .*down@x.org" "$out"
contains "queue list: the error" "last error: .*Not a directory" "$out"
out="$("$cli" queue list "$st/s.db" --json)"; check "queue list --json" 0 $?
contains "queue list --json" '"id": 2, .*"attempts": 1, .*"to": "down@x.org"' "$out"
# flush while it still cannot be delivered: tried once more, still queued
out="$("$cli" queue flush "$st/s.db" "${q[@]}" 2>/dev/null)"; check "queue flush: still down" 4 $?
contains "queue flush: still down" "0 sent, 0 dead-lettered, 1 still queued" "$out"
contains "queue flush: attempts" "^2 .* 2 .*down@x.org" "$("$cli" queue list "$st/s.db")"
"$cli" queue retry "$st/s.db" 99 >/dev/null 2>&1; check "queue retry: no such ID" 2 $?
# the destination is back: retry, and the next process owning the store with --queued delivers it
rm "$st/md/down@x.org"
out="$("$cli" queue retry "$st/s.db" 2 2>/dev/null)"; check "queue retry ID" 0 $?
contains "queue retry ID" "^1 mail due now" "$out"
"$cli" receive "${q[@]}" --address a@x.org --state-path "$st/s.db" --queued --listen 'net.mail://none#' \
  --timeout 1500 >/dev/null 2>&1
check "receive --queued delivers what was left" 3 $?
[ "$(ls "$st/md/down@x.org/new" 2>/dev/null | wc -l)" = 1 ] || { echo "FAIL: the queued mail was not delivered"; fails=$((fails+1)); }
contains "queue list after delivery" "no queued mail" "$("$cli" queue list "$st/s.db")"
# queued again, then queue flush delivers it
: >"$st/md/later@x.org"
echo x | "$cli" send "${q[@]}" --address a@x.org --state-path "$st/s.db" --queued --to 'net.mail://c#later@x.org' \
  --action urn:q 2>/dev/null
check "send --queued: queued again" 0 $?
rm "$st/md/later@x.org"
out="$("$cli" queue flush "$st/s.db" "${q[@]}" 2>/dev/null)"; check "queue flush" 0 $?
contains "queue flush" "1 sent, 0 dead-lettered, 0 still queued" "$out"
[ "$(ls "$st/md/later@x.org/new" 2>/dev/null | wc -l)" = 1 ] || { echo "FAIL: queue flush did not deliver"; fails=$((fails+1)); }
contains "queue flush: nothing left" "nothing queued" "$("$cli" queue flush "$st/s.db" "${q[@]}" 2>/dev/null)"

# dead-lettered once queue_lifetime passed: send fails (4), queue dead lists it with its error
: >"$st/md/gone@x.org"
life=(--set queue_lifetime=1000 --set queue_retry_initial=100)
echo x | "$cli" send "${q[@]}" "${life[@]}" --address a@x.org --state-path "$st/s.db" --queued \
  --to 'net.mail://c#gone@x.org' --action urn:q 2>"$st/err"
check "send --queued: dead-lettered" 4 $?
contains "send --queued: dead-lettered" "dead-lettered as mail 4" "$(cat "$st/err")"
out="$("$cli" queue dead "$st/s.db")"; check "queue dead" 0 $?
contains "queue dead" "^4 .*gone@x.org" "$out"
contains "queue dead: the error" "error: .*Not a directory" "$out"
contains "queue list: not the dead" "no queued mail" "$("$cli" queue list "$st/s.db")"
"$cli" queue purge "$st/s.db" 3 --dead >/dev/null 2>&1; check "queue purge: no such dead ID" 2 $?
# retry queues a dead-lettered mail again; purge removes it unsent
contains "queue retry (dead)" "^1 mail due now" "$("$cli" queue retry "$st/s.db" 2>/dev/null)"
contains "queue list: requeued" "^4 .*gone@x.org" "$("$cli" queue list "$st/s.db")"
"$cli" queue purge "$st/s.db" 4 --dead >/dev/null 2>&1; check "queue purge --dead of a queued mail" 2 $?
out="$("$cli" queue purge "$st/s.db" 4)"; check "queue purge ID" 0 $?
contains "queue purge ID" "^1 mail purged" "$out"
echo x | "$cli" send "${q[@]}" "${life[@]}" --address a@x.org --state-path "$st/s.db" --queued \
  --to 'net.mail://c#gone@x.org' --action urn:q >/dev/null 2>&1
check "send --queued: dead-lettered again" 4 $?
out="$("$cli" queue purge "$st/s.db" --dead)"; check "queue purge --dead" 0 $?
contains "queue purge --dead" "^1 dead-lettered mail purged" "$out"
contains "queue dead: purged" "no dead-lettered mail" "$("$cli" queue dead "$st/s.db")"

# the mail binding pointed at a closed loopback port: queued, with the connection's error
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 1)"
mail=(--binding mail --set smtp_host=127.0.0.1 --set smtp_port="$port" --set imap_host=127.0.0.1 --set imap_port="$port")
echo x | MAILCHAN_PASSWORD=pw "$cli" send "${mail[@]}" --address a@x.org --state-path "$st/m.db" --queued \
  --to 'net.mail://c#b@x.org' --action urn:q 2>"$st/err"
check "send --queued over a closed port" 0 $?
contains "send --queued over a closed port" "queued urn:uuid" "$(cat "$st/err")"
contains "queue list: closed port" "last error: SMTP .*127.0.0.1:$port" "$("$cli" queue list "$st/m.db")"
contains "queue purge: all" "^1 mail purged" "$("$cli" queue purge "$st/m.db")"

# a store in use by another process: send --queued fails at once (4), sending nothing
"$cli" receive "${q[@]}" --address busy@x.org --state-path "$st/s.db" --listen 'net.mail://c#' --timeout 5000 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 200); do
  compgen -G "$st/md/busy@x.org/mailchan-claims/$pid-*.lock" >/dev/null && break
  sleep 0.05
done
err="$(echo x | "$cli" send "${q[@]}" --address a@x.org --state-path "$st/s.db" --queued --to 'net.mail://c#ok@x.org' \
  --action urn:q 2>&1)"
check "send --queued: store in use" 4 $?
contains "send --queued: store in use" "in use by another" "$err"
kill -TERM $pid; wait $pid

# SIGTERM while send --queued waits for the outbox: 130, the mail stays queued
: >"$st/md/stuck@x.org"
echo x >"$st/body"
"$cli" send "${q[@]}" --set queue_retry_initial=100 --address a@x.org --state-path "$st/s.db" --queued \
  --to 'net.mail://c#stuck@x.org' --action urn:q --body-file "$st/body" 2>"$st/err" &
pid=$!
for _ in $(seq 1 100); do
  "$cli" queue list "$st/s.db" 2>/dev/null | grep -q stuck@x.org && break
  sleep 0.05
done
kill -TERM $pid; wait $pid
check "SIGTERM during send --queued" 130 $?
contains "SIGTERM during send --queued" "queued urn:uuid" "$(cat "$st/err")"
contains "SIGTERM: still queued" "stuck@x.org" "$("$cli" queue list "$st/s.db")"
"$cli" queue purge "$st/s.db" >/dev/null

# --state-path: the same mail put back into new/ is not delivered twice
echo '<p:Once xmlns:p="urn:p"/>' | "$cli" send "${q[@]}" --address a@x.org --to 'net.mail://c#once@x.org' --action urn:once 2>/dev/null
mail_file="$(ls "$st/md/once@x.org/new")"
cp "$st/md/once@x.org/new/$mail_file" "$st/once.eml"
"$cli" receive "${q[@]}" --address once@x.org --state-path "$st/once.db" --listen 'net.mail://c#' --timeout 5000 >/dev/null 2>&1
check "receive --state-path" 0 $?
cp "$st/once.eml" "$st/md/once@x.org/new/$mail_file"
"$cli" receive "${q[@]}" --address once@x.org --state-path "$st/once.db" --listen 'net.mail://c#' --timeout 1000 >/dev/null 2>&1
check "receive --state-path: the copy is not delivered again" 3 $?
[ -z "$(ls "$st/md/once@x.org/new")" ] || { echo "FAIL: the duplicate was not deleted"; fails=$((fails+1)); }
# without the store the same copy is delivered (the case above can fail)
cp "$st/once.eml" "$st/md/once@x.org/new/$mail_file"
"$cli" receive "${q[@]}" --address once@x.org --listen 'net.mail://c#' --timeout 1000 >/dev/null 2>&1
check "receive without --state-path: the copy is delivered" 0 $?

# ---- issue 14 item 4: the CLI a person enjoys ----
ux="$root/ux"
mkdir -p "$ux"
u=(--maildir-root "$ux/md")
fail() { echo "FAIL: $1"; fails=$((fails+1)); }

# receive --json: one JSON object per line, correctly escaped (quotes,
# backslashes, newlines, tabs, DEL, non-ASCII); python3 parses every line
if command -v python3 >/dev/null; then
  printf 'say "hi" \\ back\nline 2\ttab \x7f caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac end' > "$ux/text"
  "$cli" send "${u[@]}" --address a@x.org --to 'net.mail://j#j@x.org' --action urn:j --text --body-file "$ux/text" 2>/dev/null
  echo '<p:X xmlns:p="urn:p" a="1">5 &lt; 6</p:X>' | "$cli" send "${u[@]}" --address a@x.org --to 'net.mail://j#j@x.org' --action urn:x 2>/dev/null
  "$cli" receive "${u[@]}" --address j@x.org --listen 'net.mail://j#' --count 2 --timeout 5000 --json > "$ux/json" 2>"$ux/json.err"
  check "receive --json" 0 $?
  python3 - "$ux/json" "$ux/text" <<'PY' || fail "receive --json: not the expected JSON lines: $(cat "$ux/json")"
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
text = open(sys.argv[2], encoding="utf-8").read()
assert len(lines) == 2, lines
objs = [json.loads(l) for l in lines]
keys = {"action", "message_id", "relates_to", "from", "to", "mail_message_id", "received", "body", "fault"}
for o in objs:
    assert keys <= set(o), o.keys()
    assert o["from"] == "a@x.org" and o["to"] == "net.mail://j#j@x.org", o
    assert o["message_id"].startswith("urn:uuid:") and o["mail_message_id"].startswith("<"), o
    assert o["fault"] is None and o["relates_to"] is None, o
by_action = {o["action"]: o for o in objs}
assert by_action["urn:j"]["body"] == text, (by_action["urn:j"]["body"], text)
assert by_action["urn:x"]["body"] == '<p:X xmlns:p="urn:p" a="1">5 &lt; 6</p:X>', by_action["urn:x"]["body"]
PY
  # --body: just the text of a string body, the fragment of an XML one
  "$cli" send "${u[@]}" --address a@x.org --to 'net.mail://b#j@x.org' --action urn:j --text --body-file "$ux/text" 2>/dev/null
  "$cli" receive "${u[@]}" --address j@x.org --listen 'net.mail://b#' --timeout 5000 --body > "$ux/body" 2>/dev/null
  check "receive --body" 0 $?
  printf '\n' >> "$ux/text"
  cmp -s "$ux/body" "$ux/text" || fail "receive --body printed: $(cat -A "$ux/body")"
else
  echo "skipped: --json checks (no python3)"
fi
"$cli" receive "${u[@]}" --address j@x.org --listen 'net.mail://b#' --timeout 100 --body --json >/dev/null 2>&1
check "--body with --json" 2 $?
"$cli" send "${u[@]}" --address a@x.org --to 'net.mail://b#j@x.org' --action urn:j --json </dev/null >/dev/null 2>&1
check "send --json without --wait-reply" 2 $?

# -v shows the steps (here the Maildir's: written, read, deleted); without it
# stderr stays quiet
echo '<p:V xmlns:p="urn:p"/>' | "$cli" send "${u[@]}" --address a@x.org --to 'net.mail://v#v@x.org' --action urn:v -v 2>"$ux/v.err"
check "send -v" 0 $?
grep -q 'mailchan: info: maildir: wrote .*/v@x.org/' "$ux/v.err" || fail "send -v does not show the mail written: $(cat "$ux/v.err")"
"$cli" receive "${u[@]}" --address v@x.org --listen 'net.mail://v#' --timeout 5000 -v 2>"$ux/v.err" >/dev/null
check "receive -v" 0 $?
grep -q 'mailchan: info: maildir: read ' "$ux/v.err" || fail "receive -v does not show the mail read: $(cat "$ux/v.err")"
grep -q 'mailchan: info: maildir: deleted ' "$ux/v.err" || fail "receive -v does not show the mail deleted: $(cat "$ux/v.err")"
echo '<p:V xmlns:p="urn:p"/>' | "$cli" send "${u[@]}" --address a@x.org --to 'net.mail://v#v@x.org' --action urn:v 2>"$ux/q.err"
"$cli" receive "${u[@]}" --address v@x.org --listen 'net.mail://v#' --timeout 5000 2>>"$ux/q.err" >/dev/null
grep -v '^mailchan: sent urn:uuid:' "$ux/q.err" | grep -q . && fail "without -v stderr is not quiet: $(cat "$ux/q.err")"

# the status line while waiting: never when stderr is not a terminal...
"$cli" receive "${u[@]}" --address w@x.org --listen 'net.mail://w#' --timeout 2500 >/dev/null 2>"$ux/w.err"
check "receive timeout, stderr a file" 3 $?
grep -q 'waiting for' "$ux/w.err" && fail "a status line went to a file: $(cat -A "$ux/w.err")"
grep -q $'\r' "$ux/w.err" && fail "a carriage return went to a file: $(cat -A "$ux/w.err")"
# ...and on a terminal it says what for and since when, then is erased
if command -v script >/dev/null; then
  script -qec "'$cli' receive --maildir-root '$ux/md' --address w@x.org --listen 'net.mail://w#' --timeout 2500" \
    /dev/null > "$ux/tty.out" 2>&1
  check "receive timeout on a terminal" 3 $?
  grep -aEq 'waiting for mail on net.mail://w#w@x.org since [0-9]{2}:[0-9]{2}:[0-9]{2} \([0-9]+ s\)' "$ux/tty.out" ||
    fail "no status line on a terminal: $(cat -A "$ux/tty.out")"
  # erased before the error is written: the error starts its own line
  grep -aq $'\r\033\\[Kmailchan: no message' "$ux/tty.out" ||
    grep -aq $'\r\033\\[Kmailchan: receive failed' "$ux/tty.out" ||
    fail "the status line is not erased before the error: $(cat -A "$ux/tty.out")"
else
  echo "skipped: status line on a terminal (no script(1))"
fi

# serve: a command that fails is reported (which request, how it ended, its
# stderr), the request gets a Receiver fault naming the exit status, and
# serving goes on: the next request is answered
"$cli" serve "${u[@]}" --address svc@x.org --listen 'net.mail://sf#' --count 2 --timeout 10000 \
  --exec "if [ -e '$ux/ran' ]; then tr a-z A-Z; else touch '$ux/ran'; echo 'it went wrong' >&2; exit 3; fi" \
  >/dev/null 2>"$ux/serve.err" &
server=$!
for n in 1 2; do
  echo '<p:a xmlns:p="urn:p">x</p:a>' | "$cli" send "${u[@]}" --address cli@x.org --to 'net.mail://sf#svc@x.org' \
    --action urn:sf --reply-to 'net.mail://sfr#cli@x.org' --wait-reply 10000 --json > "$ux/reply$n" 2>"$ux/reply$n.err"
  # the first reply is a fault (exit 6), the second an answer
  check "serve with a failing command: request $n" $((n == 1 ? 6 : 0)) $?
  [ -s "$ux/reply$n.err" ] && cat "$ux/reply$n.err" >&2
done
# --body on a fault: nothing on stdout, the fault on stderr
"$cli" serve "${u[@]}" --address svc4@x.org --listen 'net.mail://sf4#' --count 1 --timeout 10000 --exec 'exit 4' \
  >/dev/null 2>/dev/null &
server4=$!
echo '<p:a xmlns:p="urn:p">x</p:a>' | "$cli" send "${u[@]}" --address cli@x.org --to 'net.mail://sf4#svc4@x.org' \
  --action urn:sf --reply-to 'net.mail://sfr4#cli@x.org' --wait-reply 10000 --body > "$ux/reply5" 2>"$ux/reply5.err"
check "send --wait-reply --body, the reply a fault" 6 $?
wait $server4
[ -s "$ux/reply5" ] && fail "--body printed a fault's empty body: $(cat -A "$ux/reply5")"
grep -q 'the message is a SOAP fault (Receiver): the service command exited with status 4' "$ux/reply5.err" ||
  fail "--body on a fault: $(cat "$ux/reply5.err")"
wait $server; check "serve goes on after a failing command" 0 $?
grep -q '"fault": {"code": "Receiver", "reason": "the service command exited with status 3"}' "$ux/reply1" ||
  fail "the failed request's reply: $(cat "$ux/reply1")"
grep -q '"body": "<P:A XMLNS:P=\\"URN:P\\">X</P:A>"' "$ux/reply2" || fail "the next request's reply: $(cat "$ux/reply2")"
grep -Eq '^mailchan: request urn:uuid:[-0-9a-f]+ \(action urn:sf\): the command exited with status 3$' "$ux/serve.err" ||
  fail "serve does not report the failed command: $(cat "$ux/serve.err")"
grep -qx 'it went wrong' "$ux/serve.err" || fail "serve does not show the command's stderr: $(cat "$ux/serve.err")"
# a command killed by a signal
"$cli" serve "${u[@]}" --address svc2@x.org --listen 'net.mail://sk#' --count 1 --timeout 10000 \
  --exec 'kill -KILL $$' >/dev/null 2>"$ux/serve2.err" &
server=$!
echo '<p:a xmlns:p="urn:p">x</p:a>' | "$cli" send "${u[@]}" --address cli@x.org --to 'net.mail://sk#svc2@x.org' \
  --action urn:sk --reply-to 'net.mail://skr#cli@x.org' --wait-reply 10000 --json > "$ux/reply3" 2>/dev/null
check "send --wait-reply --json, the reply a fault" 6 $?
wait $server; check "serve after a killed command" 0 $?
grep -q '"reason": "the service command was killed by signal 9' "$ux/reply3" || fail "killed command's reply: $(cat "$ux/reply3")"
grep -q 'the command was killed by signal 9' "$ux/serve2.err" || fail "serve does not report the signal: $(cat "$ux/serve2.err")"
# the command's stderr is reported bounded: its last 4 KiB
"$cli" serve "${u[@]}" --address svc3@x.org --listen 'net.mail://sb#' --count 1 --timeout 10000 \
  --exec "{ head -c 10000 /dev/zero | tr '\\0' e; echo; echo 'LAST LINE'; } >&2; exit 1" >/dev/null 2>"$ux/serve3.err" &
server=$!
echo '<p:a xmlns:p="urn:p">x</p:a>' | "$cli" send "${u[@]}" --address cli@x.org --to 'net.mail://sb#svc3@x.org' \
  --action urn:sb --reply-to 'net.mail://sbr#cli@x.org' --wait-reply 10000 --json > "$ux/reply4" 2>/dev/null
wait $server; check "serve after a command with a long stderr" 0 $?
grep -q 'the command exited with status 1$' "$ux/serve3.err" || fail "long stderr: no report: $(head -c 300 "$ux/serve3.err")"
grep -q 'its stderr (the last 4096 octets; 5915 before them not shown):' "$ux/serve3.err" ||
  fail "long stderr: not bounded: $(grep -v eeee "$ux/serve3.err")"
grep -qx 'LAST LINE' "$ux/serve3.err" || fail "long stderr: its end is not shown"
[ "$(wc -c < "$ux/serve3.err")" -lt 4600 ] || fail "long stderr: $(wc -c < "$ux/serve3.err") octets reported"

echo "$fails failed"
[ $fails -eq 0 ]
