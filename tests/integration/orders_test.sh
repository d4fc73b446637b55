#!/usr/bin/env bash
# The orders sample (samples/orders) end to end: the client places orders
# in two runs while it cannot reach the shop - each run exits at once -
# and a third run finds no answer yet; then the shop answers every order,
# one for an unknown item and one for quantity 0 with a Sender fault; the
# client comes back and shows every answer exactly once (each placed order
# once, with the right item, quantity and total, or the exact fault text;
# no answer twice, none unknown), then 0 orders waiting; a further run
# shows no answer. No timing assertion: every wait is bounded and generous.
#   usage: orders_test.sh maildir|mail|exchange ORDERCLIENT ORDERSERVICE [MAILCHAN]
#   maildir: one temporary store, the shop not running while the orders are
#   placed and while the client collects offline; mail: the Postfix + Dovecot
#   of tests/mailserver/start.sh (env.sh exported; skipped, 77, without
#   them), alice the client, bob the shop: the client's SMTP port is closed
#   while it places orders, so they wait in its queued outbox (MAILCHAN,
#   the CLI, lists it), and a run with the right port delivers them; exchange: the EWS responder (run
#   under tests/ews/run_test.sh), alice the client, bob the shop, the shop
#   not running while the orders are placed, the client not running while
#   they are answered. Over mail and exchange both programs read the
#   sample's example configuration (samples/orders/KIND.conf.example: a
#   queued outbox and a state store) with the test servers' settings added.
set -uo pipefail
kind="$1" client="$2" service="$3" cli="${4:-}"
work="$(mktemp -d)"
shop_pid=
cleanup() {
  [ -n "$shop_pid" ] && kill "$shop_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
. "$(dirname "$0")/samples_lib.sh"

examples="$(cd "$(dirname "$0")/../../samples/orders" && pwd)"
conf() { # NAME ADDRESS PASSWORD [SETTING...]: the sample's example file for the test servers
  local f="$work/$1.conf" name="$1" address="$2" pw="$3"
  shift 3
  (umask 077
   cat "$examples/$kind.conf.example" # later lines override it
   if [ "$kind" = mail ]; then
     printf 'smtp_host = 127.0.0.1\nsmtp_port = %s\nimap_host = 127.0.0.1\nimap_port = %s\ntls_ca_file = %s\n' \
       "$MC_SUBMISSION_PORT" "$MC_IMAP_PORT" "$MC_CA"
     # the test mailboxes may hold mail of an earlier run: not this run's
     printf 'accept_existing_messages = false\n'
   else
     printf 'ews_url = %s\ntls_ca_file = %s\ntimeout = 10000\n' "$MC_EWS_URL" "$MC_EWS_CA"
   fi
   printf 'address = %s\npassword = %s\nstate_path = %s\n' "$address" "$pw" "$work/${address%@*}.db"
   printf '%s\n' "$@") > "$f"
  echo "--config $f"
}

case "$kind" in
maildir)
  me=alice@demo.local shop=shop@demo.local wait_s=60
  mkdir "$work/store"
  offline="$work/store" online="$work/store" shop_args="$work/store" ;;
mail)
  [ -n "${MC_MAILDIR_TEST:-}" ] || { echo "mail servers not running: skipped"; exit 77; }
  me=alice@example.test shop=bob@example.test wait_s=120
  # a port nothing listens on (bound, then closed): SMTP "unreachable"
  closed="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  # one state store for both: the outbox filled offline is delivered online
  offline="$(conf alice-offline "$me" "$MC_ALICE_PW" "smtp_port = $closed" "queue_retry_initial = 1000")"
  online="$(conf alice "$me" "$MC_ALICE_PW" "queue_retry_initial = 1000")"
  shop_args="$(conf bob "$shop" "$MC_BOB_PW")" ;;
exchange)
  [ -n "${MC_EWS_URL:-}" ] || { echo "EWS responder not running: skipped"; exit 77; }
  me=alice@example.test shop=bob@example.test wait_s=120
  offline="$(conf alice "$me" "$MC_EWS_ALICE_PW")" online="$offline"
  shop_args="$(conf bob "$shop" "$MC_EWS_BOB_PW")" ;;
*) echo "usage: orders_test.sh maildir|mail|exchange ORDERCLIENT ORDERSERVICE"; exit 2 ;;
esac

if [ "$kind" = maildir ]; then # what a mistyped command line gets: status 2, or 1 for a bad store
  s="$work/store"
  usage 2 "usage: orderclient" "$client"
  usage 2 "usage: orderclient" "$client" "$s" a@x.org shop@x.org place widget
  usage 2 "usage: orderclient" "$client" "$s" a@x.org shop@x.org order widget 1
  usage 2 "usage: orderclient" "$client" "$s" a@x.org shop@x.org collect --wait soon
  usage 2 '"<b> 1" is not ITEM QTY' "$client" "$s" a@x.org shop@x.org place '<b>' 1
  usage 2 '"widget -1" is not ITEM QTY' "$client" "$s" a@x.org shop@x.org place widget -1
  usage 2 "usage: orderservice" "$service"
  usage 2 "usage: orderservice" "$service" "$s" shop@x.org --count 3
  usage 1 "not a directory" "$client" "$work/none" a@x.org shop@x.org collect
  usage 1 "not a directory" "$service" "$work/none" shop@x.org
  printf 'binding = maildir\nmaildir_root = %s\n' "$s" > "$work/nostate.conf"
  usage 1 "sets no state_path" "$client" --config "$work/nostate.conf" a@x.org shop@x.org collect
  [ -z "$(ls -A "$s")" ] || fail "a refused command line left something in the store: $(ls -A "$s")"
fi

# run NAME ARGS...: a run of the client (ARGS: "--config FILE" or a store, then the rest), output in NAME.log
run() {
  local name="$1" rc
  shift
  # shellcheck disable=SC2086 # $1 holds "--config FILE" or a store
  "$client" $1 "$me" "$shop" "${@:2}" > "$work/$name.log" 2>&1 < /dev/null
  rc=$?
  sed "s/^/[$name] /" "$work/$name.log"
  [ $rc = 0 ] || fail "the client's run $name exited with $rc"
}
expect() { # NAME LINE: the run's output has the line
  grep -qxF -- "$2" "$work/$1.log" || fail "$1: no line \"$2\""
}

# 1. orders placed while the shop cannot be reached: each run exits at once
run place1 "$offline" place widget 3 gadget 1
expect place1 "2 orders placed, 2 waiting for an answer"
run place2 "$offline" place sprocket 12 gizmo 2 widget 0
expect place2 "3 orders placed, 5 waiting for an answer"
run offline "$offline" collect --wait 1000
expect offline "0 answers (0 confirmed, 0 refused), 5 orders waiting for an answer"
if [ "$kind" = exchange ]; then # the server was reachable: place waited until the outbox had sent them
  grep -q "in the outbox" "$work/place1.log" "$work/place2.log" && fail "orders left in the outbox"
fi
if [ "$kind" = mail ]; then # the orders wait in the outbox: the SMTP server could not be reached
  for w in "place1 2" "place2 5"; do
    read -r name n <<<"$w"
    grep -qx "$n mails wait in the outbox (SMTP .*): sent by a later run, once the server can be reached" "$work/$name.log" ||
      fail "$name: not \"$n mails wait in the outbox\" with the SMTP error"
  done
  if [ -n "$cli" ]; then
    "$cli" queue list "$work/alice.db" > "$work/outbox.log" 2>&1 || fail "mailchan queue list: $(cat "$work/outbox.log")"
    [ "$(grep -c " $shop$" "$work/outbox.log")" = 5 ] || fail "not 5 orders in the outbox: $(cat "$work/outbox.log")"
  fi
fi
declare -A placed # id -> "QTY ITEM"
while read -r id what; do
  [ -z "${placed[$id]:-}" ] || fail "order id $id placed twice"
  placed[$id]="$what"
done < <(sed -n 's/^placed order \([0-9a-f]\{8\}\): \(.*\)$/\1 \2/p' "$work/place1.log" "$work/place2.log")
[ "${#placed[@]}" = 5 ] || fail "5 orders placed, ${#placed[@]} order ids printed"

# 2. the shop answers them
slog="$work/shop.log"
# shellcheck disable=SC2086
"$service" $shop_args "$shop" > "$slog" 2>&1 < /dev/null &
shop_pid=$!
wait_for() { # WHAT COMMAND...: true once COMMAND succeeds, within wait_s seconds
  local what="$1" i
  shift
  for ((i = 0; i < wait_s * 5; i++)); do "$@" && return 0; sleep 0.2; done
  fail "waited ${wait_s} s for $what"
  return 1
}
answered() { [ "$(grep -c '^order [0-9]* from \|^refused an order from ' "$slog")" -ge 5 ]; }
wait_for "the shop to start" grep -q "^shop taking orders at net.mail://orders#$shop$" "$slog" || cat "$slog"
if [ "$kind" != mail ]; then # the orders waited for the shop; the client is not running
  wait_for "the shop to answer 5 orders" answered
fi

# 3. the client comes back (over mail: online, its outbox delivers the orders now)
run collect "$online" collect --wait $((wait_s * 1000))
expect collect "5 answers (3 confirmed, 2 refused), 0 orders waiting for an answer"
run again "$online" collect --wait 1000
expect again "0 answers (0 confirmed, 0 refused), 0 orders waiting for an answer"
wait_for "the shop to answer 5 orders" answered
kill -TERM "$shop_pid"
wait "$shop_pid"
rc=$?
shop_pid=
[ $rc = 0 ] || fail "orderservice exited with $rc on SIGTERM"
cat "$slog"

# every order answered exactly once, as its item and quantity say
declare -A want=(["3 widget"]="confirmed: shop order [0-9]*, 3 widget, 7.50 EUR"
  ["1 gadget"]="confirmed: shop order [0-9]*, 1 gadget, 12.00 EUR"
  ["12 sprocket"]="confirmed: shop order [0-9]*, 12 sprocket, 9.00 EUR"
  ["2 gizmo"]='refused (Sender): unknown item "gizmo" (the shop sells widget, gadget, sprocket)'
  ["0 widget"]='refused (Sender): quantity "0" is not a number from 1 to 1000')
answers="$(cat "$work/place1.log" "$work/place2.log" "$work/offline.log" "$work/collect.log" "$work/again.log" |
  grep -v '^placed order \|^[0-9]* orders\{0,1\} placed, \|^[0-9]* answers\{0,1\} (\|^[0-9]* mails\{0,1\} waits\{0,1\} in the outbox (')"
for id in "${!placed[@]}"; do
  n="$(grep -c "^order $id " <<<"$answers")"
  [ "$n" = 1 ] || fail "order $id (${placed[$id]}): $n answers"
  grep -qx "order $id ${want[${placed[$id]}]}" <<<"$answers" ||
    fail "order $id (${placed[$id]}): answered \"$(grep "^order $id " <<<"$answers")\""
done
others="$(grep -v "^order \($(IFS='|'; echo "${!placed[*]}" | sed 's/|/\\|/g')\) " <<<"$answers")"
[ -z "$others" ] || fail "answers to no order placed, or other output: $others"
numbers="$(sed -n 's/^order [0-9a-f]* confirmed: shop order \([0-9]*\),.*/\1/p' <<<"$answers" | sort -u | wc -l)"
[ "$numbers" = 3 ] || fail "3 confirmations, $numbers distinct shop order numbers"
grep -qx "shop $shop stopping: 5 orders, 3 confirmed, 2 refused, 0 not answered" "$slog" ||
  fail "the shop's summary does not count 5 orders, 3 confirmed, 2 refused"
[ "$(grep -c '^order [0-9]* from '"$me"': \|^refused an order from '"$me"': ' "$slog")" = 5 ] ||
  fail "the shop did not print 5 orders from $me"
echo "$fails failed"
[ $fails = 0 ]
