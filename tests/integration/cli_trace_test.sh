#!/usr/bin/env bash
# The CLI's --trace and -v against the real Postfix + Dovecot of
# tests/mailserver/start.sh (env.sh exported; skipped without them): the
# wire dialogue of SMTP and IMAP shows, the steps show, and no secret does -
# neither the password nor the token, plain or in the base64 of AUTH PLAIN,
# AUTH LOGIN or XOAUTH2.
set -u
cli="$1"
[ -n "${MC_MAILDIR_TEST:-}" ] || { echo "mail servers not running: skipped"; exit 77; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fails=0
fail() { echo "FAIL: $1"; fails=$((fails+1)); }
has() { # file pattern what
  grep -aqE -- "$2" "$1" || fail "$3: no /$2/ in $1:
$(head -c 6000 "$1")"
}
conf() { # user
  cat <<CONF
address = $1@example.test
smtp_host = 127.0.0.1
smtp_port = $MC_SUBMISSION_PORT
imap_host = 127.0.0.1
imap_port = $MC_IMAP_PORT
tls_ca_file = $MC_CA
CONF
}
for u in alice bob dave; do conf $u > "$work/$u.conf"; done
b64() { printf '%b' "$1" | base64 -w0; }
# a secret must not be in any output, plain or base64 (whole, or as SASL PLAIN / XOAUTH2)
no_secret() { # what secret user kind
  local f forms=("$2" "$(b64 "$2")")
  [ "$4" = token ] && forms+=("$(b64 "user=$3\\x01auth=Bearer $2\\x01\\x01")")
  [ "$4" = password ] && forms+=("$(b64 "\\x00$3\\x00$2")")
  for f in "$work"/*.out "$work"/*.err; do
    for s in "${forms[@]}"; do
      grep -aqF -- "$s" "$f" && fail "$1: a secret of $3 is in $(basename "$f")"
    done
  done
}

# one exchange: the receiver listens (IMAP IDLE), then the sender sends
exchange() { # name from to env-of-sender env-of-receiver [sender options...]
  local name=$1 from=$2 to=$3 senv=$4 renv=$5
  shift 5
  env $renv "$cli" receive --binding mail --config "$work/$to.conf" --listen "net.mail://$name#" \
    --timeout 30000 --json --trace -v > "$work/$name-recv.out" 2> "$work/$name-recv.err" &
  local rpid=$!
  for _ in $(seq 1 150); do grep -aq '^> [0-9A-Za-z]* IDLE' "$work/$name-recv.err" && break; sleep 0.1; done
  echo "<p:T xmlns:p=\"urn:p\">$name</p:T>" | env $senv "$cli" send --binding mail --config "$work/$from.conf" \
    --to "net.mail://$name#$to@example.test" --action urn:trace --trace -v "$@" \
    > "$work/$name-send.out" 2> "$work/$name-send.err"
  [ $? -eq 0 ] || fail "$name: send failed: $(tail -5 "$work/$name-send.err")"
  wait $rpid || fail "$name: receive failed: $(tail -5 "$work/$name-recv.err")"
  grep -q "\"body\": \"<p:T xmlns:p=\\\\\"urn:p\\\\\">$name</p:T>\"" "$work/$name-recv.out" ||
    fail "$name: the message did not arrive: $(cat "$work/$name-recv.out")"
}

# password: AUTH PLAIN (curl's choice) and IMAP LOGIN
exchange plain$$ alice bob "MAILCHAN_PASSWORD=$MC_ALICE_PW" "MAILCHAN_PASSWORD=$MC_BOB_PW"
s="$work/plain$$-send.err" r="$work/plain$$-recv.err"
has "$s" '^\* Connected to 127\.0\.0\.1' "SMTP trace: connect note"
has "$s" '^< 220 ' "SMTP trace: greeting"
has "$s" '^> EHLO ' "SMTP trace: EHLO"
has "$s" '^> STARTTLS$' "SMTP trace: STARTTLS"
has "$s" '^> AUTH PLAIN( \[redacted\])?$' "SMTP trace: AUTH"
has "$s" '^< 235 ' "SMTP trace: authenticated"
has "$s" '^> MAIL FROM:<alice@example\.test>' "SMTP trace: MAIL FROM"
has "$s" '^> RCPT TO:<bob@example\.test>' "SMTP trace: RCPT TO"
has "$s" '^> DATA$' "SMTP trace: DATA"
has "$s" '^> Subject: \[net\.mail\] plain' "SMTP trace: the mail"
has "$s" '^< 250 .*queued' "SMTP trace: accepted"
has "$s" '^mailchan: info: SMTP .*: connected$' "-v: SMTP connect"
has "$s" '^mailchan: info: SMTP .*: TLS established \(.*\), certificate verified$' "-v: SMTP TLS"
has "$s" '^mailchan: info: SMTP .*: AUTH PLAIN as alice@example\.test: logged in$' "-v: SMTP login"
has "$s" '^mailchan: info: SMTP .*: RCPT TO:<bob@example\.test>: accepted$' "-v: SMTP RCPT"
has "$s" '^mailchan: info: SMTP .*: mail sent: 250 ' "-v: SMTP sent"
has "$r" '^< \* OK .*Dovecot' "IMAP trace: greeting"
has "$r" '^> [0-9]+ STARTTLS$' "IMAP trace: STARTTLS"
has "$r" '^> [0-9]+ LOGIN \[redacted\]$' "IMAP trace: LOGIN redacted"
has "$r" '^> [0-9]+ SELECT "Service E-mail"' "IMAP trace: SELECT"
has "$r" '^> [0-9]+ IDLE$' "IMAP trace: IDLE"
has "$r" '^< \+ idling' "IMAP trace: IDLE accepted"
has "$r" '^> DONE$' "IMAP trace: DONE"
has "$r" '^> [0-9]+ UID FETCH ' "IMAP trace: FETCH"
has "$r" '^> [0-9]+ UID EXPUNGE ' "IMAP trace: EXPUNGE"
has "$r" '^mailchan: info: IMAP 127\.0\.0\.1:[0-9]+: TLS established \(TLSv1\.[23], ' "-v: IMAP TLS"
has "$r" '^mailchan: info: IMAP .*: certificate verified' "-v: IMAP certificate"
has "$r" '^mailchan: info: IMAP .*: logged in as bob@example\.test \(LOGIN\)$' "-v: IMAP login"
has "$r" '^mailchan: info: IMAP .*: selected folder "Service E-mail"' "-v: IMAP folder"
has "$r" '^mailchan: info: IMAP .*: IDLE in "Service E-mail"' "-v: IDLE"
has "$r" '^mailchan: info: IMAP .*: IDLE woken: new mail announced$' "-v: IDLE woken"
has "$r" '^mailchan: info: IMAP .*: fetched mail UID [0-9]+ ' "-v: fetch"
has "$r" '^mailchan: info: IMAP .*: deleted 1 mail\(s\)' "-v: delete"
no_secret plain "$MC_ALICE_PW" alice@example.test password
no_secret plain "$MC_BOB_PW" bob@example.test password

# AUTH LOGIN: the user name and the password go as two continuation lines
exchange login$$ alice bob "MAILCHAN_PASSWORD=$MC_ALICE_PW" "MAILCHAN_PASSWORD=$MC_BOB_PW" \
  --set auth_mechanism=login
s="$work/login$$-send.err"
has "$s" '^> AUTH LOGIN$' "SMTP trace: AUTH LOGIN"
[ "$(grep -ac '^> \[redacted\]$' "$s")" -ge 2 ] || fail "AUTH LOGIN: the continuations are not redacted: $(grep -a -A8 'AUTH LOGIN' "$s")"
no_secret login "$MC_ALICE_PW" alice@example.test password

# a token: SMTP AUTH XOAUTH2 and IMAP AUTHENTICATE XOAUTH2
exchange xoauth$$ dave dave "MAILCHAN_TOKEN=$MC_DAVE_TOKEN" "MAILCHAN_TOKEN=$MC_DAVE_TOKEN"
s="$work/xoauth$$-send.err" r="$work/xoauth$$-recv.err"
has "$s" '^> AUTH XOAUTH2( \[redacted\])?$' "SMTP trace: AUTH XOAUTH2"
has "$s" '^< 235 ' "SMTP trace: XOAUTH2 accepted"
has "$r" '^> [0-9]+ AUTHENTICATE XOAUTH2( \[redacted\])?$' "IMAP trace: AUTHENTICATE XOAUTH2"
has "$r" '^mailchan: info: IMAP .*: logged in as dave@example\.test \(AUTHENTICATE XOAUTH2\)$' "-v: IMAP XOAUTH2"
no_secret xoauth "$MC_DAVE_TOKEN" dave@example.test token

echo "$fails failed"
[ $fails -eq 0 ]
