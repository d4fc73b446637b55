#!/usr/bin/env bash
# The orders sample in one go, over a Maildir store in a temporary
# directory (no mail server needed): the client alice@demo.local places
# orders twice while the shop is not running (each run exits at once), and
# finds no answer yet; then the shop starts as shop@demo.local and answers
# every order that waited - one for an item it does not sell with a fault;
# then the client comes back and shows each answer, and once more to show
# that none comes twice. Each line is tagged with the program that printed it.
#   usage: samples/orders/run.sh [BIN_DIR]   (default: build/samples)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-$here/../../build/samples}"
[ -x "$bin/orderclient" ] && [ -x "$bin/orderservice" ] ||
  { echo "run.sh: no orderclient and orderservice in $bin: build first (cmake -S . -B build && cmake --build build)" >&2; exit 2; }
store="$(mktemp -d /tmp/mailchan-orders.XXXXXX)"
logs="$(mktemp -d /tmp/mailchan-orders-logs.XXXXXX)"
shop_pid=
trap '[ -n "$shop_pid" ] && kill "$shop_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$store" "$logs"' EXIT

client() { # ARGS...: a run of the client, its output tagged [client]
  "$bin/orderclient" "$store" alice@demo.local shop@demo.local "$@" < /dev/null 2>&1 | sed -u 's/^/[client] /'
}
wait_for() { # PATTERN COUNT: up to 60 s for COUNT lines of the shop
  for _ in $(seq 1 300); do
    [ "$(grep -c "$1" "$logs/shop" 2>/dev/null)" -ge "$2" ] && return 0
    sleep 0.2
  done
  echo "run.sh: gave up waiting for \"$1\" in the output of the shop" >&2
  return 1
}

client place widget 3 gadget 1 # the shop is not running
client place sprocket 12 gizmo 2
client collect --wait 1000 # nothing yet
"$bin/orderservice" "$store" shop@demo.local < /dev/null > >(tee "$logs/shop" | sed -u 's/^/[shop] /') 2>&1 &
shop_pid=$!
wait_for '^order \|^refused ' 4 # it answers what waited; the client is not running
client collect
client collect --wait 1000 # every answer was shown once
kill -TERM "$shop_pid"
wait "$shop_pid"
shop_pid=
sleep 0.2 # the last tagged lines
