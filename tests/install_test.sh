#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds and runs consumers
# with find_package(mailchan) (shared and static library) and with
# pkg-config, and runs the installed CLI from that prefix (no
# LD_LIBRARY_PATH: it must find its library by itself).
set -euo pipefail
build="$1"; src="$2"
prefix="$(mktemp -d /tmp/mailchan-install.XXXXXX)"
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
test -f "$prefix"/lib*/pkgconfig/mailchan.pc 2>/dev/null || test -f "$prefix"/lib/*/pkgconfig/mailchan.pc
soname="$(objdump -p "$(ls "$prefix"/lib*/libmailchan.so* "$prefix"/lib/*/libmailchan.so* 2>/dev/null | head -1)" | awk '/SONAME/ {print $2}')"
[ "$soname" = "libmailchan.so.0" ] || { echo "unexpected SONAME $soname"; exit 1; }
# hidden visibility: only mc_ symbols are exported
bad="$(nm -D --defined-only "$(ls "$prefix"/lib*/libmailchan.so.0 "$prefix"/lib/*/libmailchan.so.0 2>/dev/null | head -1)" | awk '$2 ~ /[TDB]/ {print $3}' | grep -v '^mc_' || true)"
[ -z "$bad" ] || { echo "exported non-API symbols: $bad"; exit 1; }
libdir="$(dirname "$(ls "$prefix"/lib*/libmailchan.so.0 "$prefix"/lib/*/libmailchan.so.0 2>/dev/null | head -1)")"
unset LD_LIBRARY_PATH

# find_package(mailchan): mailchan::mailchan and mailchan::mailchan_static
cmake -S "$src/tests/consumer" -B "$prefix/consumer-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/consumer-build" >/dev/null
LD_LIBRARY_PATH="$libdir" "$prefix/consumer-build/consumer"
if objdump -p "$prefix/consumer-build/consumer_static" | grep -q 'NEEDED.*libmailchan'; then
  echo "consumer_static is linked with the shared library"; exit 1
fi
"$prefix/consumer-build/consumer_static"

# pkg-config
pcdir="$(dirname "$(ls "$prefix"/lib*/pkgconfig/mailchan.pc "$prefix"/lib/*/pkgconfig/mailchan.pc 2>/dev/null | head -1)")"
cc "$src/tests/consumer/main.c" -o "$prefix/pc-consumer" $(PKG_CONFIG_PATH="$pcdir" pkg-config --define-variable=prefix="$prefix" --cflags --libs mailchan)
LD_LIBRARY_PATH="$(dirname "$pcdir")" "$prefix/pc-consumer"

# the installed CLI, from the custom prefix, with the installed library
cli="$prefix/bin/mailchan"
found="$(ldd "$cli" | awk '$1 == "libmailchan.so.0" {print $3}')"
[ -n "$found" ] && [ "$(readlink -f "$found")" = "$(readlink -f "$libdir/libmailchan.so.0")" ] ||
  { echo "installed CLI does not use $libdir:"; ldd "$cli"; exit 1; }
version="$("$cli" --version)"
[ "$version" = "mailchan $(sed -n 's/^Version: //p' "$pcdir/mailchan.pc")" ] || { echo "mailchan --version printed: $version"; exit 1; }
store="$prefix/store"
echo '<p:Ping xmlns:p="urn:p">installed</p:Ping>' |
  "$cli" send --maildir-root "$store" --address a@x.org --to 'net.mail://c#b@x.org' --action urn:ping 2>/dev/null
"$cli" receive --maildir-root "$store" --address b@x.org --listen 'net.mail://c#' --timeout 10000 |
  grep -q '<p:Ping xmlns:p="urn:p">installed</p:Ping>' || { echo "installed CLI: send/receive failed"; exit 1; }
# the CLI's manual page, where man finds it
[ -f "$prefix/share/man/man1/mailchan.1" ] || { echo "the manual page is not installed in share/man/man1"; exit 1; }

# the samples, as docs/guide/first-steps.md builds them: on their own against
# the installed library with CMake, then each run over a Maildir store
sb="$prefix/samples-build"
cmake -S "$src/samples" -B "$sb" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$sb" -j2 >/dev/null
run_sample() { # NAME SCRIPT BIN_DIR PATTERN: the sample's run.sh succeeds and prints PATTERN
  if ! bash "$2" "$3" >"$prefix/$1.out" 2>&1 || ! grep -Eq "$4" "$prefix/$1.out"; then
    echo "sample $1 built against the installed library ($3) failed:"; tail -20 "$prefix/$1.out"; exit 1
  fi
}
run_sample devices "$src/samples/devices/run.sh" "$sb" 'server hub@demo.local stopping: .* 1 config pushed'
orders_done='^\[client\] 4 answers \(3 confirmed, 1 refused\), 0 orders waiting for an answer$'
run_sample orders "$src/samples/orders/run.sh" "$sb" "$orders_done"
if [ -x "$sb/tictactoe" ]; then
  run_sample game "$src/samples/game/run.sh" "$sb" '^game over: '
elif grep -q 'mailchan_WITH_SECURITY ON' "$libdir"/cmake/mailchan/mailchanConfig.cmake; then
  echo "tictactoe was not built though the installed library has message security"; exit 1
fi
# and with pkg-config, one compiler call per program
pb="$prefix/samples-pc"
mkdir -p "$pb"
pc() { cc "$@" $(PKG_CONFIG_PATH="$pcdir" pkg-config --define-variable=prefix="$prefix" --cflags --libs mailchan) -pthread; }
pc "$src/samples/devices/device.c" "$src/samples/devices/devices.c" -o "$pb/device"
pc "$src/samples/devices/server.c" "$src/samples/devices/devices.c" -o "$pb/devserver"
pc "$src/samples/orders/shop.c" "$src/samples/devices/devices.c" -o "$pb/orderservice"
pc "$src/samples/orders/client.c" "$src/samples/devices/devices.c" -o "$pb/orderclient"
pc "$src/samples/cli/mailchan.c" -o "$pb/mailchan"
[ ! -x "$sb/tictactoe" ] || pc "$src/samples/game/tictactoe.c" -o "$pb/tictactoe"
LD_LIBRARY_PATH="$libdir" run_sample orders-pc "$src/samples/orders/run.sh" "$pb" "$orders_done"
LD_LIBRARY_PATH="$libdir" run_sample devices-pc "$src/samples/devices/run.sh" "$pb" 'server hub@demo.local stopping: .* 1 config pushed'
[ ! -x "$pb/tictactoe" ] || LD_LIBRARY_PATH="$libdir" run_sample game-pc "$src/samples/game/run.sh" "$pb" '^game over: '
echo "install test passed"
