#!/usr/bin/env bash
# The devices sample in one go, over a Maildir store in a temporary
# directory (no mail server needed): starts devserver as hub@demo.local and
# three devices sending a reading every second; after 9 readings the server
# pushes a change (interval 500 ms, unit F, alarm at 22 C) in one message to
# dev1 and dev2; they apply it while they run, dev3 keeps its
# configuration. Then everything is stopped and each program prints its
# summary. Each line is tagged with the program that printed it.
#   usage: samples/devices/run.sh [BIN_DIR]   (default: build/samples)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-$here/../../build/samples}"
[ -x "$bin/device" ] && [ -x "$bin/devserver" ] ||
  { echo "run.sh: no device and devserver in $bin: build first (cmake -S . -B build && cmake --build build)" >&2; exit 2; }
store="$(mktemp -d /tmp/mailchan-devices.XXXXXX)"
logs="$(mktemp -d /tmp/mailchan-devices-logs.XXXXXX)"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$store" "$logs"' EXIT

start() { # NAME PROGRAM ARGS...: in the background, output tagged [NAME] and kept in a log
  local name="$1"
  shift
  "$@" < /dev/null > >(tee "$logs/$name" | sed -u "s/^/[$name] /") 2>&1 &
  pids+=("$!")
}
wait_for() { # PATTERN LOG COUNT: up to 60 s for COUNT lines
  for _ in $(seq 1 300); do
    [ "$(grep -c "$1" "$logs/$2" 2>/dev/null)" -ge "$3" ] && return 0
    sleep 0.2
  done
  echo "run.sh: gave up waiting for \"$1\" in the output of $2" >&2
  return 1
}

start server "$bin/devserver" "$store" hub@demo.local \
  --push-after 9 --to dev1@demo.local,dev2@demo.local --set interval=500 --set unit=F --set threshold=22
wait_for '^server listening' server 1
for d in dev1 dev2 dev3; do
  start "$d" "$bin/device" "$store" "$d@demo.local" hub@demo.local
done
wait_for 'now runs config v2' server 2 # dev1 and dev2 sent a reading with it
sleep 2
kill -TERM "${pids[@]:1}" # the devices
wait "${pids[@]:1}"
for d in dev1 dev2 dev3; do # what each sent has arrived
  n="$(sed -n 's/.* stopping: \([0-9]*\) readings\{0,1\} sent.*/\1/p' "$logs/$d")"
  wait_for "^reading from $d@demo.local seq" server "$n"
done
kill -TERM "${pids[0]}"
wait "${pids[0]}"
sleep 0.2 # the last tagged lines
