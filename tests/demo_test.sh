#!/usr/bin/env bash
# The README's first command as a user types it: bash samples/demo.sh (it
# installs what is missing, builds in build/ and runs the order-service
# sample), then the echo variant. Checks what they print.
set -uo pipefail
src="$1"
out="$(mktemp /tmp/mailchan-demo-test.XXXXXX)"
trap 'rm -f "$out"' EXIT
fails=0
if ! bash "$src/samples/demo.sh" >"$out" 2>&1; then
  echo "FAIL: samples/demo.sh exited non-zero:"; tail -30 "$out"; exit 1
fi
for want in '^\[client\] placed order [0-9a-f]{8}: 2 gizmo$' \
            '^\[client\] 0 answers \(0 confirmed, 0 refused\), 4 orders waiting for an answer$' \
            '^\[client\] order [0-9a-f]{8} refused \(Sender\): unknown item "gizmo"' \
            '^\[client\] 4 answers \(3 confirmed, 1 refused\), 0 orders waiting for an answer$' \
            '^\[shop\] shop shop@demo.local stopping: 4 orders, 3 confirmed, 1 refused, 0 not answered$'; do
  grep -Eq "$want" "$out" || { echo "FAIL: the demo did not print /$want/"; fails=$((fails + 1)); }
done
[ "$(grep -c 'confirmed: shop order' "$out")" -eq 3 ] || { echo "FAIL: not 3 confirmations"; fails=$((fails + 1)); }
if ! bash "$src/samples/demo.sh" echo 3 >"$out" 2>&1; then
  echo "FAIL: samples/demo.sh echo 3 exited non-zero:"; tail -30 "$out"; exit 1
fi
grep -qx '3 of 3 requests answered' "$out" || { echo "FAIL: the echo demo:"; cat "$out"; fails=$((fails + 1)); }
[ $fails -eq 0 ] && echo "demo test passed"
[ $fails -eq 0 ]
