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
echo "install test passed"
