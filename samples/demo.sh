#!/usr/bin/env bash
# The main demo: installs what is missing, builds mailchan, starts the echo
# service over the embedded Maildir binding, has the client send N requests
# (default 5) and print each reply matched by wsa:RelatesTo, then stops the
# service. No mail server is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-5}"
bash tests/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMC_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
store="$(mktemp -d /tmp/mailchan-demo.XXXXXX)"
build/samples/echo_service "$store" &
service=$!
trap 'kill $service 2>/dev/null; wait $service 2>/dev/null; rm -rf "$store"' EXIT
sleep 0.2
build/samples/echo_client "$store" "$n"
kill -TERM $service
wait $service
echo "store was $store (removed)"
