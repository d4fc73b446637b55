#!/usr/bin/env bash
# The devices sample (samples/devices) end to end: devserver and three
# devices. After each device has sent a few readings, the server is told on
# its standard input to push a configuration change to two of them, in one
# message. Asserts what a user would see: every reading arrived once
# (per device exactly seq 1..N, N what the device says it sent), the change
# reached each addressed device exactly once and the third never, readings
# after it carry the new version and unit, and the devices applied it while
# they ran (the same processes, started once). No timing assertion: every
# wait is bounded and generous.
#   usage: devices_test.sh maildir|mail|exchange DEVICE DEVSERVER
#   maildir: one temporary store; mail: the Postfix + Dovecot of
#   tests/mailserver/start.sh (env.sh exported; skipped, 77, without them),
#   bob the server, carol and erin addressed, alice not; exchange: the EWS
#   responder (run under tests/ews/run_test.sh), bob the server, carol and
#   svc addressed, alice not. Over mail and exchange every program reads the
#   sample's example configuration (samples/devices/KIND.conf.example: a
#   queued outbox and a state store) with the test servers' settings added.
set -uo pipefail
kind="$1" device="$2" server="$3"
work="$(mktemp -d)"
pids=()
cleanup() {
  exec 3>&- 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
. "$(dirname "$0")/samples_lib.sh"
declare -A args

examples="$(cd "$(dirname "$0")/../../samples/devices" && pwd)"
conf() { # address password: the sample's example file (queued, a state store) for the test servers
  local f="$work/${1%@*}.conf"
  (umask 077
   cat "$examples/$kind.conf.example" # later lines override it
   if [ "$kind" = mail ]; then
     printf 'smtp_host = 127.0.0.1\nsmtp_port = %s\nimap_host = 127.0.0.1\nimap_port = %s\ntls_ca_file = %s\n' \
       "$MC_SUBMISSION_PORT" "$MC_IMAP_PORT" "$MC_CA"
   else
     printf 'ews_url = %s\ntls_ca_file = %s\ntimeout = 10000\n' "$MC_EWS_URL" "$MC_EWS_CA"
   fi
   # the test mailboxes may hold mail of an earlier run: not this run's readings
   printf 'address = %s\npassword = %s\nstate_path = %s\naccept_existing_messages = false\n' \
     "$1" "$2" "$work/${1%@*}.db") > "$f"
  args[$1]="--config $f"
}

case "$kind" in
maildir)
  srv=hub@demo.local devs=(dev1@demo.local dev2@demo.local dev3@demo.local)
  interval=300 new_interval=200 wait_s=60
  mkdir "$work/store"
  for a in "$srv" "${devs[@]}"; do args[$a]="$work/store"; done ;;
mail)
  [ -n "${MC_MAILDIR_TEST:-}" ] || { echo "mail servers not running: skipped"; exit 77; }
  srv=bob@example.test devs=(carol@example.test erin@example.test alice@example.test)
  interval=500 new_interval=400 wait_s=120
  conf bob@example.test "$MC_BOB_PW"; conf carol@example.test "$MC_CAROL_PW"
  conf erin@example.test "$MC_ERIN_PW"; conf alice@example.test "$MC_ALICE_PW" ;;
exchange)
  [ -n "${MC_EWS_URL:-}" ] || { echo "EWS responder not running: skipped"; exit 77; }
  srv=bob@example.test devs=(carol@example.test svc@example.test alice@example.test)
  interval=500 new_interval=400 wait_s=120
  conf bob@example.test "$MC_EWS_BOB_PW"; conf carol@example.test "$MC_EWS_CAROL_PW"
  conf svc@example.test "$MC_EWS_SVC_PW"; conf alice@example.test "$MC_EWS_ALICE_PW" ;;
*) echo "usage: devices_test.sh maildir|mail|exchange DEVICE DEVSERVER"; exit 2 ;;
esac
addressed=("${devs[0]}" "${devs[1]}") other="${devs[2]}"

if [ "$kind" = maildir ]; then # what a mistyped command line gets: status 2, or 1 for a missing store
  usage 2 "usage: device" "$device"
  usage 2 "usage: device" "$device" "$work/store" a@x.org hub@x.org --interval-ms 5
  usage 2 "usage: devserver" "$server" "$work/store" hub@x.org --push-after 3
  usage 2 'unit "K" is not C or F' "$server" "$work/store" hub@x.org --push-after 1 --set unit=K
  usage 1 "not a directory" "$device" "$work/none" a@x.org hub@x.org
  usage 1 "not a directory" "$server" "$work/none" hub@x.org
fi
slog="$work/server.log"

# wait_for WHAT COMMAND...: true once COMMAND succeeds, within wait_s seconds
wait_for() {
  local what="$1" i
  shift
  for ((i = 0; i < wait_s * 5; i++)); do "$@" && return 0; sleep 0.2; done
  fail "waited ${wait_s} s for $what"
  return 1
}
readings() { grep -c "^reading from $1 seq " "$slog"; } # DEVICE
readings_v2() { grep -c "^reading from $1 seq [0-9]*: [0-9.-]* F (config v2)" "$slog"; }
at_least() { [ "$("$1" "$2")" -ge "$3" ]; } # FUNCTION DEVICE N
after_push() { sed -n '/^pushed config v2/,$p' "$slog" | grep -c "^reading from $1 seq "; }

mkfifo "$work/commands"
exec 3<>"$work/commands" # held open: the server's standard input stays open
# shellcheck disable=SC2086 # args holds "--config FILE" or a store
"$server" ${args[$srv]} "$srv" < "$work/commands" > "$slog" 2>&1 &
spid=$!
pids+=("$spid")
wait_for "the server to listen" grep -q "^server listening on net.mail://readings#$srv" "$slog" || { cat "$slog"; exit 1; }
declare -A dpid
for d in "${devs[@]}"; do
  # shellcheck disable=SC2086
  "$device" ${args[$d]} "$d" "$srv" --interval-ms "$interval" > "$work/$d.log" 2>&1 &
  dpid[$d]=$!
  pids+=("$!")
done
for d in "${devs[@]}"; do
  wait_for "$d to start" grep -q "^device $d (pid ${dpid[$d]}): a reading every $interval ms" "$work/$d.log" ||
    cat "$work/$d.log"
done
for d in "${devs[@]}"; do wait_for "3 readings from $d" at_least readings "$d" 3; done

echo "push interval=$new_interval unit=F threshold=20 to ${addressed[0]},${addressed[1]}" >&3
wait_for "the push" grep -q "^pushed config v2 (interval $new_interval ms, unit F, threshold 68.0 F) in one message to ${addressed[0]},${addressed[1]}$" "$slog"
for d in "${addressed[@]}"; do
  wait_for "$d to apply v2" grep -q "^applied config v2: interval $new_interval ms, unit F, threshold 68.0 F (from $srv, after seq [0-9]*)$" "$work/$d.log"
  wait_for "the server to see $d on v2" grep -q "^$d now runs config v2 (first reading with it: seq [0-9]*)$" "$slog"
  wait_for "3 readings of v2 from $d" at_least readings_v2 "$d" 3
done
# as long again for the third: a push wrongly sent to it would have arrived
wait_for "3 readings from $other after the push" at_least after_push "$other" 3

for d in "${devs[@]}"; do
  kill -0 "${dpid[$d]}" 2>/dev/null || fail "device $d (pid ${dpid[$d]}) is no longer running"
  [ "$(grep -c '^device .* (pid ' "$work/$d.log")" = 1 ] || fail "$d started more than once"
  kill -TERM "${dpid[$d]}"
done
declare -A sent
total=0
for d in "${devs[@]}"; do
  wait "${dpid[$d]}"
  rc=$?
  [ $rc = 0 ] || fail "device $d exited with $rc on SIGTERM"
  cat "$work/$d.log"
  line="$(grep "^device $d stopping: " "$work/$d.log")"
  sent[$d]="$(sed -n 's/.* stopping: \([0-9]*\) readings\{0,1\} sent, 0 failed (seq 1-\1), .*/\1/p' <<<"$line")"
  [ -n "${sent[$d]}" ] || { fail "$d: no summary, or readings failed: $line"; sent[$d]=0; }
  total=$((total + sent[$d]))
done
for d in "${devs[@]}"; do
  wait_for "all ${sent[$d]} readings of $d at the server" at_least readings "$d" "${sent[$d]}"
done
kill -TERM "$spid"
wait "$spid"
rc=$?
[ $rc = 0 ] || fail "devserver exited with $rc on SIGTERM"
grep -v '^reading from' "$slog"

# every reading once: seq 1..N per device, nothing dropped as a duplicate
for d in "${devs[@]}"; do
  seqs="$(sed -n "s/^reading from $d seq \([0-9]*\): .*/\1/p" "$slog" | sort -n | tr '\n' ' ')"
  [ "$seqs" = "$(seq -s ' ' 1 "${sent[$d]}") " ] || fail "$d sent seq 1-${sent[$d]}, the server got: $seqs"
done
grep -q "^duplicate reading" "$slog" && fail "the server saw duplicates"
grep -q "^server $srv stopping: $total readings from 3 devices, 0 duplicates dropped, [0-9]* late, 0 ignored, 1 config pushed$" "$slog" ||
  fail "the server's summary does not count $total readings from 3 devices"
# the change reached each addressed device exactly once, the other never
for d in "${addressed[@]}"; do
  [ "$(grep -v '^device ' "$work/$d.log" | grep -c 'config')" = 1 ] || fail "$d: not exactly one configuration message"
  grep -q "^device $d stopping: .* 1 config applied, 0 ignored, on config v2$" "$work/$d.log" || fail "$d: summary"
  # and every reading after it carries it: v1 below, v2 above one seq
  last_v1="$(sed -n "s/^reading from $d seq \([0-9]*\): [0-9.-]* C (config v1).*/\1/p" "$slog" | sort -n | tail -1)"
  first_v2="$(sed -n "s/^reading from $d seq \([0-9]*\): [0-9.-]* F (config v2).*/\1/p" "$slog" | sort -n | head -1)"
  [ -n "$last_v1" ] && [ -n "$first_v2" ] && [ "$last_v1" -lt "$first_v2" ] ||
    fail "$d: readings of v1 up to seq $last_v1, of v2 from seq $first_v2"
  [ $(($(readings_v2 "$d") + $(grep -c "^reading from $d seq [0-9]*: [0-9.-]* C (config v1)" "$slog"))) = "${sent[$d]}" ] ||
    fail "$d: a reading neither v1 in C nor v2 in F"
done
grep -v '^device ' "$work/$other.log" | grep -q . && fail "$other got the configuration, or said something else"
grep -q "^device $other stopping: .* 0 configs applied, 0 ignored, on config v1$" "$work/$other.log" || fail "$other: summary"
[ "$(grep -c "^reading from $other seq [0-9]*: [0-9.-]* C (config v1)" "$slog")" = "${sent[$other]}" ] ||
  fail "$other: a reading not on v1 in C"
echo "$fails failed"
[ $fails = 0 ]
