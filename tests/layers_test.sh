#!/usr/bin/env bash
# The layers' dependencies point one way (docs/layout.md): the core
# (channel/*) knows no transport, no security, no binding; a transport
# (channel/<kind>/, exchange/<kind>/) knows the core only; security knows the
# core only; binding/ knows them all. The build gives each layer only its own
# include path; this checks the #include lines themselves, and that the core's
# include path cannot reach a binding header.
set -u
cd "$(dirname "$0")/.."
fail=0
check() { # files, forbidden pattern, what
    local hits
    hits="$(grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*\"($2)" $1 2>/dev/null)"
    if [ -n "$hits" ]; then
        echo "FAIL: $3:"; echo "$hits"; fail=1
    fi
}
core="channel/*.c channel/*.h"
transports_of() { ls -d channel/*/ exchange/*/ 2>/dev/null | grep -v "^$1"; }
check "$core" '\.\./|mail/|maildir/|exchange/|binding/|security/|mailnet\.h|imapconn\.h|maildir\.h|wss' \
    "the core includes a transport, security or binding header"
for t in $(ls -d channel/*/ exchange/*/ 2>/dev/null); do
    others="$(transports_of "$t" | sed 's:/$::; s:.*/::' | paste -sd'|')"
    check "$t*.c $t*.h" "\.\./\.\.|binding/|security/|wss${others:+|($others)/}" \
        "transport $t includes another transport, security or binding"
done
check "security/*.c security/*.h" '\.\./|binding/|channel/mail|channel/maildir|exchange/|mailnet\.h|maildir\.h' \
    "security includes a transport or binding header"
# the core's include path (include/ and channel/) cannot reach binding/
root="$PWD"
if (cd /tmp && printf '#include "binding/options.h"\n' | cc -fsyntax-only -I"$root/include" -I"$root/channel" -x c - 2>/dev/null); then
    echo "FAIL: a binding header is reachable from the core's include path"; fail=1
fi
[ "$fail" = 0 ] && echo "layers: every include points one way"
exit "$fail"
