#!/usr/bin/env bash
# Runs bench_ews: starts the EWS responder (tests/ews/start.sh) in a
# temporary directory, runs the benchmark against it (mailchan's exchange
# binding and python3-exchangelib, interleaved), prints the requests the
# responder saw, and always stops it.
# usage: tests/bench/ews_bench.sh BUILD_DIR [N [ROUNDS [SEQ]]]
set -euo pipefail
build="$(cd "${1:?usage: ews_bench.sh BUILD_DIR [N [ROUNDS [SEQ]]]}" && pwd)"
shift
here="$(cd "$(dirname "$0")/.." && pwd)"
dir="$(mktemp -d /tmp/mcewsbench.XXXXXX)"
trap 'bash "$here/ews/stop.sh" "$dir"; [ -n "${MC_EWS_BENCH_KEEP:-}" ] && cp "$MC_EWS_LOG" "$MC_EWS_BENCH_KEEP"; rm -rf "$dir"' EXIT
bash "$here/ews/start.sh" "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/env.sh"
"$build/tests/bench/bench_ews" "$here/bench/ews_exchangelib_worker.py" "$@"
/usr/bin/python3 - "$MC_EWS_LOG" <<'PY'
import collections, json, sys
ops = collections.Counter()
for line in open(sys.argv[1]):
    e = json.loads(line)
    ops[(e.get("user_agent") or "mailchan").split("/")[0], e.get("operation")] += 1
print("  requests at the responder:", ", ".join("%s %s %d" % (c, o, n) for (c, o), n in sorted(ops.items())))
PY
