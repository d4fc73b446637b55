#!/usr/bin/env bash
# Runs a test program against the EWS responder behind the real NTLM
# acceptor (tests/ews/ntlm): starts the responder (tests/ews/start.sh) with
# --trust-proxy-user X-Authenticated-User --proxy-user MAILCHAN\ewsuser=bob@example.test,
# then Apache in front of it (start.sh here, backend https://localhost:PORT:
# mod_ssl matches the backend's name against DNS names only, not IP
# addresses), exports both env.sh files, runs "$@", and always stops both.
# Exit 77 (skipped) without apache2, mod_auth_gssapi, mod_lua, gss-ntlmssp,
# python3-lxml or openssl. Port: MC_PORT_BASE (default 23700) + 44 for Apache.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
for f in /usr/sbin/apache2 /usr/lib/apache2/modules/mod_auth_gssapi.so /usr/lib/apache2/modules/mod_lua.so \
         /usr/bin/openssl /usr/bin/curl; do
    [ -e "$f" ] || { echo "run_test.sh: $f missing (tests/install-deps.sh --test); skipped"; exit 77; }
done
ls /usr/lib/*/gssntlmssp/gssntlmssp.so >/dev/null 2>&1 || { echo "run_test.sh: gss-ntlmssp missing; skipped"; exit 77; }
/usr/bin/python3 -c 'import lxml' 2>/dev/null || { echo "run_test.sh: no python3-lxml; skipped"; exit 77; }
export MC_PORT_BASE="${MC_PORT_BASE:-23700}"
root="$(mktemp -d /tmp/mcewsntlm.XXXXXX)"
chmod 711 "$root"   # Apache's children (www-data when run as root) read the user file under it
cleanup() {
    bash "$here/stop.sh" "$root/proxy" >/dev/null 2>&1
    bash "$here/../stop.sh" "$root/ews" >/dev/null 2>&1
    rm -rf "$root"
}
trap cleanup EXIT
bash "$here/../start.sh" "$root/ews" --minute-seconds 2 --heartbeat 1 \
    --trust-proxy-user X-Authenticated-User --proxy-user 'MAILCHAN\ewsuser=bob@example.test' \
    >"$root/start.log" 2>&1 || { cat "$root/start.log"; exit 1; }
# shellcheck disable=SC1091
. "$root/ews/env.sh"
BACKEND_CA="$MC_EWS_CA" bash "$here/start.sh" "$root/proxy" "https://localhost:$MC_EWS_PORT" \
    >"$root/proxy-start.log" 2>&1 || { cat "$root/proxy-start.log"; exit 1; }
# shellcheck disable=SC1091
. "$root/proxy/env.sh"
"$@"
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
    echo "--- responder log (last 20 requests) ---"; tail -20 "$MC_EWS_LOG" | cut -c1-400
    echo "--- proxy access log (last 20) ---"; tail -20 "$MC_NTLM_ACCESS_LOG"
    echo "--- proxy error log (last 20) ---"; tail -20 "$MC_NTLM_ERROR_LOG"
fi
exit $rc
