#!/usr/bin/env bash
# The main demo: installs what is missing, builds mailchan and its samples,
# and runs the order-service sample (samples/orders/run.sh) over the
# embedded Maildir binding - a client places orders while the shop is not
# running, the shop answers them when it starts, the client collects every
# answer through its request channel. No mail server is needed.
#   samples/demo.sh            the order service
#   samples/demo.sh echo [N]   the echo service and a client sending N requests (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMC_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
if [ "${1:-}" != echo ]; then
  exec bash samples/orders/run.sh build/samples
fi
n="${2:-5}"
store="$(mktemp -d /tmp/mailchan-demo.XXXXXX)"
build/samples/echo_service "$store" &
service=$!
trap 'kill $service 2>/dev/null || :; wait $service 2>/dev/null || :; rm -rf "$store"' EXIT
sleep 0.2
build/samples/echo_client "$store" "$n"
kill -TERM $service
wait $service
echo "store was $store (removed)"
