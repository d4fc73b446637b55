#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds and runs a
# consumer with find_package(mailchan) and another with pkg-config.
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
cmake -S "$src/tests/consumer" -B "$prefix/consumer-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/consumer-build" >/dev/null
LD_LIBRARY_PATH="$(dirname "$(ls "$prefix"/lib*/libmailchan.so.0 "$prefix"/lib/*/libmailchan.so.0 2>/dev/null | head -1)")" "$prefix/consumer-build/consumer"
pcdir="$(dirname "$(ls "$prefix"/lib*/pkgconfig/mailchan.pc "$prefix"/lib/*/pkgconfig/mailchan.pc 2>/dev/null | head -1)")"
cc "$src/tests/consumer/main.c" -o "$prefix/pc-consumer" $(PKG_CONFIG_PATH="$pcdir" pkg-config --define-variable=prefix="$prefix" --cflags --libs mailchan)
LD_LIBRARY_PATH="$(dirname "$pcdir")" "$prefix/pc-consumer"
echo "install test passed"
