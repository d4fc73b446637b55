#!/usr/bin/env bash
# Runs a test program against a private EWS responder: starts it
# (tests/ews/start.sh) in a temporary directory, exports its env.sh, runs
# "$@", and always stops it. Exits 77 (skipped) when the responder cannot run
# here (no python3-lxml or openssl).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
/usr/bin/python3 -c 'import lxml' 2>/dev/null && command -v openssl >/dev/null || {
  echo "run_test.sh: no python3-lxml or openssl; skipped"; exit 77; }
dir="$(mktemp -d /tmp/mcews.XXXXXX)"
trap 'bash "$here/stop.sh" "$dir" >/dev/null 2>&1; rm -rf "$dir"' EXIT
# an EWS "minute" of 2 s: a stream's ConnectionTimeout (30 min) ends within a test
bash "$here/start.sh" "$dir" --minute-seconds 2 --heartbeat 1 >"$dir.start.log" 2>&1 || {
  cat "$dir.start.log"; rm -f "$dir.start.log"; exit 1; }
rm -f "$dir.start.log"
# shellcheck disable=SC1091
. "$dir/env.sh"
"$@"
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
  echo "--- responder log (last 30 requests) ---"; tail -30 "$MC_EWS_LOG" | cut -c1-400
fi
exit $rc
