#!/usr/bin/env bash
# Proves that the NTLM proxy started by `start.sh DIR BACKEND_URL` really
# authenticates, with Debian's curl command (libcurl's own NTLM code):
#   tests/ews/ntlm/check.sh DIR
# BACKEND_URL must be http://127.0.0.1:PORT with PORT free: this script runs
# echo_backend.py there for the duration of the checks and looks at what
# reached it. Exit 0 when every check passes; the curl -v traces (Basic
# credentials redacted) stay in DIR/check/ (*.trace).
# shellcheck disable=SC2016  # all_of evaluates its single-quoted tests itself
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:?usage: check.sh DIR}"
dir="$(cd "$dir" && pwd)"
# shellcheck disable=SC1091
. "$dir/env.sh" || { echo "check.sh: no $dir/env.sh (run start.sh first)" >&2; exit 2; }
case "$MC_NTLM_BACKEND_URL" in
    http://127.0.0.1:*) bport="${MC_NTLM_BACKEND_URL#http://127.0.0.1:}"; bport="${bport%%/*}" ;;
    *) echo "check.sh: the proxy's backend is $MC_NTLM_BACKEND_URL, not http://127.0.0.1:PORT" >&2; exit 2 ;;
esac

out="$dir/check"
rm -rf "$out"; mkdir -p "$out"; chmod 700 "$out"
blog="$out/backend.log"; : > "$blog"
/usr/bin/python3 "$here/echo_backend.py" "$bport" "$blog" > "$out/backend.out" 2>&1 &
bpid=$!
trap 'kill "$bpid" 2>/dev/null; wait "$bpid" 2>/dev/null' EXIT
for _ in $(seq 1 50); do grep -q listening "$out/backend.out" 2>/dev/null && break; sleep 0.1; done
grep -q listening "$out/backend.out" || { cat "$out/backend.out" >&2; echo "check.sh: the backend did not start on 127.0.0.1:$bport" >&2; exit 1; }

url="$MC_NTLM_URL" ca="$MC_NTLM_CA"
user="$MC_NTLM_DOMAIN\\$MC_NTLM_USER" pw="$MC_NTLM_PASSWORD"
fails=0 n=0
ok()   { n=$((n + 1)); echo "ok $n - $*"; }
fail() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }
check() { local what="$1"; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }

# req NAME CURL_ARGS... : runs curl -v against the proxy; NAME.body, NAME.trace
# (Basic credentials redacted); prints the last HTTP status
req() {
    local name="$1"; shift
    curl -sS -v --cacert "$ca" --max-time 20 -o "$out/$name.body" -w '%{http_code}' "$@" \
        2> "$out/$name.raw" > "$out/$name.code"
    sed -E 's/^(> Authorization: Basic ).*/\1[redacted]/' "$out/$name.raw" > "$out/$name.trace"
    rm -f "$out/$name.raw"
    cat "$out/$name.code"
}
seen() { wc -l < "$blog" | tr -d ' '; }          # requests the backend saw
# the X-Authenticated-User of the backend's last N requests, one a line
last_users() { tail -n "$1" "$blog" | /usr/bin/python3 -c 'import json,sys; [print(json.loads(l)["user"]) for l in sys.stdin]'; }
last_user() { last_users 1; }
all_of() { local r=0; for c in "$@"; do eval "$c" || r=1; done; return $r; }
trace_has() { grep -qF -- "$2" "$out/$1.trace"; }
count() { grep -cF -- "$2" "$out/$1.trace"; }

# 1. no credentials: 401, offers Negotiate and NTLM, nothing reaches the backend
b=$(seen); code=$(req none "$url")
check "no credentials: 401 (got $code)" [ "$code" = 401 ]
check "no credentials: offers 'WWW-Authenticate: NTLM'" trace_has none "< WWW-Authenticate: NTLM"
check "no credentials: offers 'WWW-Authenticate: Negotiate'" trace_has none "< WWW-Authenticate: Negotiate"
check "no credentials: does not offer Basic" bash -c "! grep -qi '^< WWW-Authenticate: Basic' '$out/none.trace'"
check "no credentials: the backend saw nothing" [ "$(seen)" = "$b" ]

# 2. NTLM with the right password (curl --ntlm = CURLAUTH_NTLM)
b=$(seen); code=$(req ntlm --ntlm -u "$user:$pw" "$url")
check "curl --ntlm -u 'DOMAIN\\user:password': 200 (got $code)" [ "$code" = 200 ]
check "curl --ntlm: a type 1, a challenge, a type 3" bash -c \
    "grep -q '^> Authorization: NTLM TlRMTVNTUAAB' '$out/ntlm.trace' && grep -q '^< WWW-Authenticate: NTLM TlRMTVNTUAAC' '$out/ntlm.trace' && grep -q '^> Authorization: NTLM TlRMTVNTUAAD' '$out/ntlm.trace'"
check "curl --ntlm: the backend saw one request" [ "$(seen)" = $((b + 1)) ]
check "curl --ntlm: the backend saw X-Authenticated-User: $user (got $(last_user))" [ "$(last_user)" = "$user" ]
check "curl --ntlm: the body came from the backend" grep -qF "user=$user" "$out/ntlm.body"
check "curl --ntlm: no Authorization header reached the backend" bash -c "! tail -n 1 '$blog' | grep -q '\"authorization\": true'"

# 3. a SOAP-sized POST (curl sends the body once the handshake is through)
head -c 8192 /dev/zero | tr '\0' x > "$out/post.data"
b=$(seen); code=$(req post --ntlm -u "$user:$pw" -H 'Content-Type: text/xml; charset=utf-8' --data-binary @"$out/post.data" "$url")
check "curl --ntlm POST of 8192 bytes: 200 (got $code)" [ "$code" = 200 ]
check "curl --ntlm POST: the backend got the 8192 bytes once, as $user" bash -c \
    "[ \$(wc -l < '$blog') = $((b + 1)) ] && tail -n 1 '$blog' | grep -q '\"method\": \"POST\".*\"body_len\": 8192'"

# 4. the authenticated connection is kept: a second request needs no handshake
b=$(seen); code=$(req reuse --ntlm -u "$user:$pw" "$url" -o "$out/reuse.body2" "$url")
check "two requests on one connection: both 200 (got $code)" [ "$code" = 200200 ]
check "two requests on one connection: one 401, one handshake (2 Authorization headers)" bash -c \
    "[ \$(grep -c '^< HTTP/1.1 401' '$out/reuse.trace') = 1 ] && [ \$(grep -c '^> Authorization: NTLM' '$out/reuse.trace') = 2 ] && grep -q 'Re-using existing connection' '$out/reuse.trace'"
check "two requests on one connection: the backend saw both as $user" all_of \
    '[ "$(seen)" = $((b + 2)) ]' '[ "$(last_users 2 | sort -u)" = "$user" ]'

# 5. wrong password, unknown user, wrong domain: 401 and nothing reaches the backend
b=$(seen); code=$(req wrongpw --ntlm -u "$user:${pw}x" "$url")
check "wrong password: 401 (got $code)" [ "$code" = 401 ]
check "wrong password: it got as far as a type 3 (gss-ntlmssp refused the response)" trace_has wrongpw "> Authorization: NTLM TlRMTVNTUAAD"
code=$(req nouser --ntlm -u "$MC_NTLM_DOMAIN\\nobody:$pw" "$url")
check "unknown user: 401 (got $code)" [ "$code" = 401 ]
code=$(req wrongdomain --ntlm -u "OTHERDOM\\$MC_NTLM_USER:$pw" "$url")
check "right user and password in another domain: 401 (got $code)" [ "$code" = 401 ]
check "wrong password, user, domain: the backend saw nothing" [ "$(seen)" = "$b" ]

# 6. Basic with the right credentials is refused (GssapiBasicAuth is off)
b=$(seen); code=$(req basic --basic -u "$user:$pw" "$url")
check "Basic with the right password: 401 (got $code)" [ "$code" = 401 ]
check "Basic: the backend saw nothing" [ "$(seen)" = "$b" ]

# 7. a client cannot name itself: X-Authenticated-User is the proxy's
b=$(seen); code=$(req spoof_noauth -H 'X-Authenticated-User: MAILCHAN\admin' "$url")
check "X-Authenticated-User without credentials: 401 (got $code)" [ "$code" = 401 ]
check "X-Authenticated-User without credentials: the backend saw nothing" [ "$(seen)" = "$b" ]
code=$(req spoof --ntlm -u "$user:$pw" -H 'X-Authenticated-User: MAILCHAN\admin' "$url")
check "X-Authenticated-User with NTLM: the backend saw $user, not the client's value (got $(last_user))" \
    all_of '[ "$code" = 200 ]' '[ "$(last_user)" = "$user" ]'

# 8. Negotiate: libcurl's CURLAUTH_NEGOTIATE ignores the password (it uses the
#    GSS-API's own credentials), so with -u user:password it cannot log in...
b=$(seen); code=$(req negotiate --negotiate -u "$user:$pw" "$url")
check "curl --negotiate -u user:password: 401, no GSS credentials on the client (got $code)" [ "$code" = 401 ]
check "curl --negotiate: gss_init_sec_context found nothing to negotiate" trace_has negotiate "gss_init_sec_context() failed"
# ...and CURLAUTH_ANY / NTLM|NEGOTIATE pick Negotiate (offered too) and fail the same way
code=$(req anyauth --anyauth -u "$user:$pw" "$url")
check "curl --anyauth -u user:password: 401, curl prefers the offered Negotiate (got $code)" [ "$code" = 401 ]
check "Negotiate attempts: the backend saw nothing" [ "$(seen)" = "$b" ]
#    ...but SPNEGO->NTLMSSP is accepted when the client's GSS-API has NTLM
#    credentials: gss-ntlmssp on the client side too, reading its own user file
printf '%s:%s:%s\n' "$MC_NTLM_DOMAIN" "$MC_NTLM_USER" "$pw" > "$out/client-users"; chmod 600 "$out/client-users"
b=$(seen); code=$(NTLM_USER_FILE="$out/client-users" GSS_USE_PROXY=no req spnego --negotiate -u : "$url")
rm -f "$out/client-users"
check "curl --negotiate with gss-ntlmssp credentials (SPNEGO->NTLMSSP): 200 (got $code)" [ "$code" = 200 ]
check "SPNEGO->NTLMSSP: the backend saw $user" all_of '[ "$(seen)" = $((b + 1)) ]' '[ "$(last_user)" = "$user" ]'

# 9. TLS 1.2 is the floor
echo | openssl s_client -connect "127.0.0.1:$MC_NTLM_PORT" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' > "$out/tls11.out" 2>&1
check "TLS 1.1 is refused by the server (alert protocol version)" grep -q "alert protocol version" "$out/tls11.out"
check "TLS 1.2 is accepted" bash -c "echo | openssl s_client -connect 127.0.0.1:$MC_NTLM_PORT -tls1_2 -CAfile '$ca' -verify_return_error > '$out/tls12.out' 2>&1"

# 10. the acceptor is gss-ntlmssp through mod_auth_gssapi: its refusals are in the log
check "the error log shows gss_accept_sec_context refusing the wrong password" \
    grep -q "gss_accept_sec_context() failed" "$MC_NTLM_ERROR_LOG"
check "the access log shows NTLM logins by mod_auth_gssapi (GSS_MECH NTLM/...)" \
    grep -qF 'auth="NTLM/' "$MC_NTLM_ACCESS_LOG"

echo "1..$n"
if [ "$fails" -ne 0 ]; then
    echo "check.sh: $fails of $n checks failed; traces in $out" >&2
    exit 1
fi
echo "check.sh: all $n checks passed; traces in $out"
