#!/usr/bin/env bash
# The tic-tac-toe sample (samples/game) with message security on: alice
# invites bob, both play --auto, each with its own certificate from one CA.
#   game_test.sh maildir TICTACTOE MAILCHAN MAKE_CERTS
#     over one Maildir store; mid-game, moves are slipped into alice's
#     mailbox with the CLI: one signed by carol (a certificate from the same
#     CA), a replay of move 2 and an out-of-turn move 5 signed with bob's own
#     key, an unsigned one, and one signed by mallory, whose certificate (same
#     CA) has no CN but an O that ends in ",CN=bob@example.test". Each must be refused and reported, and none
#     may change alice's board.
#   game_test.sh mail TICTACTOE MAILCHAN MAKE_CERTS
#     alice and bob over the Postfix + Dovecot of tests/mailserver/start.sh
#     (env.sh exported), each with a "binding = mail" config file holding the
#     security settings; the same moves slipped in, from outside (carol
#     through port 25); skipped (77) without MC_MAILDIR_TEST.
#   game_test.sh exchange TICTACTOE MAILCHAN MAKE_CERTS
#     the same over the exchange binding, against the EWS responder (run
#     through tests/ews/run_test.sh); skipped (77) without MC_EWS_URL.
# The config files of mail and exchange are samples/game/KIND.conf.example
# with the test's addresses, passwords, servers and certificates filled in.
# Both: the game ends on both sides with the same moves, the same final
# board and the same result, and every move received names the verified
# signer (the other player's certificate). Waits are bounded; nothing is timed.
set -euo pipefail
mode="$1" ttt="$2" cli="$3" certs="$4"
if [ "$mode" = mail ] && [ -z "${MC_MAILDIR_TEST:-}" ]; then
    echo "mail servers not running: skipped"
    exit 77
fi
if [ "$mode" = exchange ] && [ -z "${MC_EWS_URL:-}" ]; then
    echo "no EWS responder (run through tests/ews/run_test.sh): skipped"
    exit 77
fi
work="$(mktemp -d)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || :; done; wait 2>/dev/null || :; rm -rf "$work"' EXIT
alice=alice@example.test bob=bob@example.test carol=carol@example.test
fail() { echo "FAIL: $*"; for s in alice bob; do echo "--- $s"; cat "$work/$s.log"; done; exit 1; }
bash "$certs" "$work/pki" "$alice" "$bob" "$carol" >/dev/null
# mallory: a certificate of the same CA without a CN of its own, whose O
# ends in ",CN=bob@example.test" (RFC 2253: O=evil\,CN=bob@example.test)
openssl req -newkey rsa:2048 -nodes -subj "/O=evil,CN=$bob" -keyout "$work/mallory.key" \
    -out "$work/mallory.csr" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nsubjectAltName=email:mallory@example.test\n' \
    >"$work/mallory.ext"
openssl x509 -req -in "$work/mallory.csr" -CA "$work/pki/ca.pem" -CAkey "$work/pki/ca.key" -CAcreateserial \
    -days 30 -extfile "$work/mallory.ext" -out "$work/mallory.pem" 2>/dev/null

# A config file made from samples/game/MODE.conf.example: its own lines,
# each setting named below given the test's value, the others appended.
conf() { # user password name=value...
    local user="$1" pw="$2"
    shift 2
    set -- "address=$user@example.test" "password=$pw" \
        "certificate=$work/pki/certs/$user@example.test.pem" \
        "private_key=$work/pki/private/$user@example.test.key" \
        "recipient_certificate=$work/pki/certs" "security_ca_file=$work/pki/ca.pem" "$@"
    awk -v overrides="$(printf '%s\n' "$@")" '
        BEGIN { n = split(overrides, o, "\n"); for (i = 1; i <= n; i++) if (o[i] != "") {
                    k = substr(o[i], 1, index(o[i], "=") - 1); v[k] = substr(o[i], index(o[i], "=") + 1); keys[++m] = k } }
        /^[a-z_]+ *=/ { k = $0; sub(/ *=.*/, "", k); if (k in v) { print k " = " v[k]; done[k] = 1; next } }
        { print }
        END { for (i = 1; i <= m; i++) if (!(keys[i] in done)) print keys[i] " = " v[keys[i]] }' \
        "$examples/$mode.conf.example"
}
examples="$(dirname "$certs")"
# every setting the examples name is one of the library's
settings="$("$cli" --list-settings)"
for f in "$examples"/*.conf.example; do
    for k in $(sed -n 's/^\([a-z_]*\) *=.*/\1/p' "$f"); do
        [ "$k" = binding ] || grep -q "^$k " <<<"$settings" || { echo "FAIL: $f: no setting $k"; exit 1; }
    done
done
# bob thinks 1.5 s a move: the moves slipped in below reach alice while she waits for move 4
delay=1500
if [ "$mode" = maildir ]; then
    where_alice=(--certs "$work/pki" "$work/store") where_bob=(--certs "$work/pki" "$work/store")
    inject_via=(--maildir-root "$work/store")
else
    if [ "$mode" = mail ]; then
        server=(smtp_host=127.0.0.1 "smtp_port=$MC_SUBMISSION_PORT" imap_host=127.0.0.1
            "imap_port=$MC_IMAP_PORT" "tls_ca_file=$MC_CA")
        pw_alice="$MC_ALICE_PW" pw_bob="$MC_BOB_PW"
        # from outside: port 25 of the test Postfix takes mail for its users without AUTH
        inject_via=(--binding mail --set smtp_host=127.0.0.1 --set "smtp_port=$MC_SMTP_PORT" --set smtp_auth=none
            --set "tls_ca_file=$MC_CA" --set imap_host=127.0.0.1)
    else
        server=("ews_url=$MC_EWS_URL" "tls_ca_file=$MC_EWS_CA" timeout=10000)
        pw_alice="$MC_EWS_ALICE_PW" pw_bob="$MC_EWS_BOB_PW"
        inject_via=() # no way in but the players' own accounts: no moves slipped in
        delay=0
    fi
    (
        umask 077
        conf alice "$pw_alice" "username=alice@example.test" "${server[@]}" >"$work/alice.conf"
        conf bob "$pw_bob" "username=bob@example.test" "${server[@]}" >"$work/bob.conf"
    )
    where_alice=(--config "$work/alice.conf") where_bob=(--config "$work/bob.conf")
fi
"$ttt" --auto --delay "$delay" --timeout 90 "${where_bob[@]}" "$bob" wait >"$work/bob.log" 2>&1 &
pids+=($!)
"$ttt" --auto --timeout 90 "${where_alice[@]}" "$alice" invite "$bob" >"$work/alice.log" 2>&1 &
pids+=($!)

if [ "${#inject_via[@]}" -gt 0 ]; then
    for _ in $(seq 600); do grep -q '^move 3:' "$work/alice.log" && break; sleep 0.1; done
    grep -q '^move 3:' "$work/alice.log" || fail "alice never made move 3"
    game="$(sed -n 's/^invited .* to game \([^;]*\);.*/\1/p' "$work/alice.log")"
    [ -n "$game" ] || fail "no game id"
    move() { # number cell
        echo "<Move xmlns=\"urn:mailchan:samples:tictactoe\"><Game>$game</Game><Number>$1</Number><Cell>$2</Cell></Move>"
    }
    inject() { # sender number cell [security options...]
        local who="$1" n="$2" c="$3"
        shift 3
        move "$n" "$c" | "$cli" send "${inject_via[@]}" --address "$who" "$@" \
            --to "net.mail://tictactoe#$alice" --action urn:mailchan:samples:tictactoe:Move --body-file - \
            >/dev/null || fail "could not send the forged move from $who"
    }
    signed() { # as
        echo --security message --certificate "$work/pki/certs/$1.pem" --private-key "$work/pki/private/$1.key" \
            --recipient-certificate "$work/pki/certs" --security-ca "$work/pki/ca.pem"
    }
    # shellcheck disable=SC2046
    {
        inject "$carol" 4 9 $(signed "$carol")   # a third party, same CA
        inject "$bob" 2 9 $(signed "$bob")       # bob's key, a move number already played
        inject "$bob" 5 9 $(signed "$bob")       # bob's key, out of turn
        inject "$bob" 4 9                        # unsigned, claiming to be bob
        inject "$bob" 4 9 --security message --certificate "$work/mallory.pem" --private-key "$work/mallory.key" \
            --recipient-certificate "$work/pki/certs" --security-ca "$work/pki/ca.pem" # mallory posing as bob
    }
fi

status=0
wait "${pids[1]}" || status=$?
wait "${pids[0]}" || status=$?
pids=()
[ "$status" -eq 0 ] || fail "a player ended with status $status"
for s in alice bob; do
    grep -q '^game over: draw$' "$work/$s.log" || fail "$s: no 'game over: draw'"
    grep '^move [0-9]:' "$work/$s.log" | sed 's/ (.*//' >"$work/$s.moves"
    grep '^final board:' "$work/$s.log" | sed 's/ (.*//' >"$work/$s.final"
done
[ "$(wc -l <"$work/alice.moves")" -eq 9 ] || fail "not 9 moves"
cmp -s "$work/alice.moves" "$work/bob.moves" || fail "the two sides saw different moves"
cmp -s "$work/alice.final" "$work/bob.final" || fail "the two sides ended on different boards"
grep -qx 'final board: OOX/XXO/OXX after 9 moves' "$work/alice.final" || fail "unexpected final board"
# every move received was verified as the other player's
[ "$(grep -c "^move [2468]: O takes [1-9] ($bob, signature verified: CN=$bob,O=mailchan tictactoe)$" "$work/alice.log")" -eq 4 ] ||
    fail "alice: not every move of bob's was verified"
[ "$(grep -c "^move [13579]: X takes [1-9] ($alice, signature verified: CN=$alice,O=mailchan tictactoe)$" "$work/bob.log")" -eq 5 ] ||
    fail "bob: not every move of alice's was verified"
grep -q "^bob@example.test accepted (signature verified: CN=$bob," "$work/alice.log" || fail "accept not verified"
grep -q "^invitation from $alice to game .* (signature verified: CN=$alice," "$work/bob.log" || fail "invite not verified"

if [ "${#inject_via[@]}" -gt 0 ]; then
    grep -q "^refused Move from $carol: signed by CN=$carol,O=mailchan tictactoe, not by $bob$" "$work/alice.log" ||
        fail "carol's move was not refused"
    grep -q "^refused move 2 from $bob: move 2 was already played (a replay); the board is unchanged$" "$work/alice.log" ||
        fail "the replayed move was not refused"
    grep -Eq "^refused move 5 from $bob: move 5 (is out of turn \(next is move 4\)|was already played \(a replay\)); the board is unchanged$" "$work/alice.log" ||
        fail "the out-of-turn move was not refused"
    grep -qF "refused Move from $bob: not signed by a certificate naming a player (O=evil\\,CN=$bob)" "$work/alice.log" ||
        fail "mallory's move was not refused"
    grep -q "^refused by message security: the message has no wsse:Security header" "$work/alice.log" ||
        fail "the unsigned move was not refused"
    # what alice applied is exactly what bob played: cell 9 (all the forgeries' cell) is X's move 7
    grep -qx 'move 7: X takes 9' "$work/alice.moves" || fail "the forgeries changed the game"
fi
echo "game over on both sides: $(cat "$work/alice.final"), every move verified"
