#!/usr/bin/env bash
# run.sh - the tic-tac-toe sample end to end, no mail server needed:
# makes a CA and certificates for alice@example.test, bob@example.test and
# carol@example.test (make-certs.sh), starts bob waiting and alice inviting
# him, both playing by themselves (--auto) over one Maildir store in a
# temporary directory, with message security on. After alice's third move
# carol - whose certificate comes from the same CA - slips a move of her own
# into alice's mailbox with the mailchan CLI: alice refuses it. Prints
# alice's side of the game in full, then bob's without the boards.
#   run.sh [BUILD_DIR]   (default: build; built with cmake if missing) - or
#   run.sh BIN_DIR       (a directory holding tictactoe and mailchan, e.g.
#                         the samples built on their own: cmake -S samples)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../../build}"
bin="$build/samples"
[ -x "$build/tictactoe" ] && [ -x "$build/mailchan" ] && bin="$build"
if [ ! -x "$bin/tictactoe" ]; then
    cmake -S "$here/../.." -B "$build" -DCMAKE_BUILD_TYPE=Release -DMC_BUILD_TESTS=OFF >/dev/null
    cmake --build "$build" -j"$(nproc)" --target tictactoe mailchan_cli >/dev/null 2>&1 ||
        { echo "run.sh: could not build tictactoe in $build (it needs -DMC_WITH_SECURITY=ON)" >&2; exit 1; }
fi
ttt="$bin/tictactoe" cli="$bin/mailchan"
work="$(mktemp -d /tmp/tictactoe.XXXXXX)"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || :; done; wait 2>/dev/null; rm -rf "$work"' EXIT
alice=alice@example.test bob=bob@example.test carol=carol@example.test

echo "\$ make-certs.sh PKI $alice $bob $carol"
bash "$here/make-certs.sh" "$work/pki" "$alice" "$bob" "$carol" | sed "s|$work/pki|PKI|g"
echo "\$ tictactoe --auto --delay 500 --timeout 60 --certs PKI STORE $bob wait &"
"$ttt" --auto --delay 500 --timeout 60 --certs "$work/pki" "$work/store" "$bob" wait >"$work/bob.log" 2>&1 &
pids+=($!)
echo "\$ tictactoe --auto --delay 500 --timeout 60 --certs PKI STORE $alice invite $bob &"
"$ttt" --auto --delay 500 --timeout 60 --certs "$work/pki" "$work/store" "$alice" invite "$bob" \
    >"$work/alice.log" 2>&1 &
pids+=($!)

# carol's move, once alice has made her third (bounded wait: 30 s)
for _ in $(seq 300); do grep -q '^move 3:' "$work/alice.log" && break; sleep 0.1; done
if [ -x "$cli" ] && grep -q '^move 3:' "$work/alice.log"; then
    game="$(sed -n 's/^invited .* to game \([^;]*\);.*/\1/p' "$work/alice.log")"
    "$cli" send --maildir-root "$work/store" --address "$carol" --security message \
        --certificate "$work/pki/certs/$carol.pem" --private-key "$work/pki/private/$carol.key" \
        --recipient-certificate "$work/pki/certs" --security-ca "$work/pki/ca.pem" \
        --to "net.mail://tictactoe#$alice" --action urn:mailchan:samples:tictactoe:Move --body-file - \
        <<<"<Move xmlns=\"urn:mailchan:samples:tictactoe\"><Game>$game</Game><Number>4</Number><Cell>9</Cell></Move>" \
        >/dev/null 2>&1 &&
        printf '%s\n' "# after alice's move 3, carol (same CA) sends alice a move 4 of her own:" \
            "\$ echo '<Move xmlns=\"urn:mailchan:samples:tictactoe\"><Game>$game</Game><Number>4</Number><Cell>9</Cell></Move>' |" \
            "  mailchan send --maildir-root STORE --address $carol --security message --certificate PKI/certs/$carol.pem" \
            "  --private-key PKI/private/$carol.key --recipient-certificate PKI/certs --security-ca PKI/ca.pem" \
            "  --to 'net.mail://tictactoe#$alice' --action urn:mailchan:samples:tictactoe:Move"
fi
status=0
wait "${pids[1]}" || status=$?
wait "${pids[0]}" || status=$?
pids=()
echo
echo "=== $alice (X) ==="
cat "$work/alice.log"
echo
echo "=== $bob (O), boards left out ==="
grep -v '^     ' "$work/bob.log"
exit $status
