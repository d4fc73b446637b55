#!/usr/bin/env bash
# Unpacks Debian 12's Cyrus IMAP, Courier IMAP (+ courier-authlib) and Exim 4
# into a private root, without installing them: Debian marks them as
# conflicting with the Postfix + Dovecot that tests/mailserver runs, so
# `apt-get install` would remove those. Instead: `apt-get download` the daemon
# packages and every library they need that is not installed on this machine
# (found by following the lib* Depends), then `dpkg -x` each into ROOT.
#   tests/multiserver/fetch.sh        prints ROOT (a cached directory)
# ROOT is /var/cache/mailchan-multiserver/<key>/root (MCX_CACHE overrides the
# parent), key = a hash of the package names and versions: a second run with
# the same Debian versions reuses it at once. Nothing under /usr or /etc of
# the machine changes; start.sh overlays ROOT/usr onto /usr only inside its
# own mount namespace.
set -euo pipefail
cache="${MCX_CACHE:-/var/cache/mailchan-multiserver}"
daemons=(cyrus-common cyrus-imapd courier-imap courier-base courier-authlib courier-authdaemon
         courier-authlib-userdb exim4-daemon-light gamin libgamin0 sasl2-bin
         libsasl2-modules libsasl2-modules-db)

candidate() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^  Candidate: //p'; }

# resolving costs ~10 s of apt-cache: remember its answer while neither the
# installed packages, nor apt's package lists, nor this script change
stamp="$( { stat -c '%n %Y %s' /var/lib/dpkg/status /var/lib/apt/lists/* 2>/dev/null; cat "$0"; } |
         sha256sum | cut -c1-16)"
if [ -f "$cache/resolved-$stamp" ]; then
    key="$(cat "$cache/resolved-$stamp")"
    if [ -f "$cache/$key/complete" ]; then echo "$cache/$key/root"; exit 0; fi
fi
if [ -z "$(candidate cyrus-imapd)" ] || [ "$(candidate cyrus-imapd)" = "(none)" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
fi
# the daemon packages always; their lib* dependencies (any alternative that is
# a real package) only when this machine lacks them. One apt-cache call per
# level of the dependency tree: each call costs a second or so.
declare -A seen=() have=()
while read -r p s; do [ "$s" = "installed" ] && have[${p%%:*}]=1; done \
    < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' 2>/dev/null)
list=("${daemons[@]}")
level=("${daemons[@]}")
for p in "${daemons[@]}"; do seen[$p]=1; done
while [ ${#level[@]} -gt 0 ]; do
    next=()
    while read -r d; do
        [ -n "${seen[$d]:-}" ] && continue
        seen[$d]=1
        [ -n "${have[$d]:-}" ] && continue
        next+=("$d")
    done < <(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
                 --no-replaces --no-enhances "${level[@]}" 2>/dev/null |
             sed -n 's/^ *|\{0,1\}Depends: \(lib[^ <>]*\)$/\1/p' | sed 's/:any$//')
    list+=("${next[@]}")
    level=("${next[@]}")
done
specs=()
declare -A cand=()
while read -r p v; do cand[$p]="$v"; done < <(apt-cache policy "${list[@]}" 2>/dev/null |
    awk '/^[^ ].*:$/ {sub(":$", ""); p=$0} /^  Candidate:/ {print p, $2}')
for p in "${list[@]}"; do
    v="${cand[$p]:-}"
    [ -n "$v" ] && [ "$v" != "(none)" ] || { echo "fetch.sh: no Debian package $p" >&2; exit 1; }
    specs+=("$p=$v")
done
key="$(printf '%s\n' "${specs[@]}" | sort | sha256sum | cut -c1-16)"
root="$cache/$key/root"
if [ ! -f "$cache/$key/complete" ]; then
    mkdir -p "$cache/$key"
    rm -rf "$cache/$key/debs" "$root"
    mkdir -p "$cache/$key/debs" "$root"
    (cd "$cache/$key/debs" && apt-get download -q -o APT::Sandbox::User=root "${specs[@]}" >&2)
    for f in "$cache/$key"/debs/*.deb; do dpkg -x "$f" "$root"; done
    printf '%s\n' "${specs[@]}" | sort > "$cache/$key/packages"
    touch "$cache/$key/complete"
fi
echo "$key" > "$cache/resolved-$stamp"
echo "$root"
