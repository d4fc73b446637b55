#!/usr/bin/env bash
# Starts a private Apache httpd on 127.0.0.1 that accepts NTLM for mailchan's
# EWS tests and reverse-proxies authenticated requests to a backend:
#   tests/ews/ntlm/start.sh DIR BACKEND_URL
# then `. DIR/env.sh` gives the URL, CA, domain, user and password;
# tests/ews/ntlm/stop.sh DIR stops it. Every file is under DIR.
#
# What runs: Debian's apache2 (never /etc/apache2's configuration) with
# mod_ssl (TLS 1.2 and 1.3 only, a private CA and a server certificate for
# localhost/127.0.0.1), mod_auth_gssapi restricted to the ntlmssp mechanism
# (gss-ntlmssp, which checks the client's NTLMv2 response against the
# password in NTLM_USER_FILE, a DOMAIN:user:password file under DIR), and
# mod_proxy_http: /EWS/ is proxied to BACKEND_URL/EWS/ with the
# authenticated user in X-Authenticated-User. BACKEND_URL may be https: its
# certificate is then checked against $BACKEND_CA (required) and its name.
# Port: MC_PORT_BASE (default 23600) + 44. See README.md here.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:?usage: start.sh DIR BACKEND_URL}"
backend="${2:?usage: start.sh DIR BACKEND_URL}"
backend="${backend%/}"
base="${MC_PORT_BASE:-23600}"
port=$((base + 44))
httpd=/usr/sbin/apache2
modules=/usr/lib/apache2/modules
die() { echo "ntlm/start.sh: $*" >&2; exit 1; }

[ -x "$httpd" ] || die "$httpd missing (tests/install-deps.sh --test installs apache2)"
for m in mod_auth_gssapi mod_ssl mod_proxy_http mod_headers; do
    [ -f "$modules/$m.so" ] || die "$modules/$m.so missing (libapache2-mod-auth-gssapi, apache2)"
done
[ -f /usr/lib/x86_64-linux-gnu/gssntlmssp/gssntlmssp.so ] || ls /usr/lib/*/gssntlmssp/gssntlmssp.so >/dev/null 2>&1 ||
    die "gss-ntlmssp is not installed"
case "$backend" in
    http://*) ;;
    https://*) if [ -z "${BACKEND_CA:-}" ] || [ ! -f "$BACKEND_CA" ]; then
                   die "an https BACKEND_URL needs BACKEND_CA=the backend's CA file"
               fi ;;
    *) die "BACKEND_URL must be http:// or https://, not '$backend'" ;;
esac

mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
if [ -f "$dir/run/httpd.pid" ] && kill -0 "$(cat "$dir/run/httpd.pid")" 2>/dev/null; then
    die "an Apache from $dir is running already (stop.sh $dir)"
fi
rm -rf "$dir/run" "$dir/lock"
mkdir -p "$dir"/{tls,ntlm,run,lock,log,htdocs}

# Apache's children (which run the GSSAPI acceptor) drop to www-data when
# started as root: they must reach the user file, nothing else under DIR.
if [ "$(id -u)" -eq 0 ]; then
    run_user=www-data run_group=www-data
    id "$run_user" >/dev/null 2>&1 || die "user $run_user missing (it comes with apache2)"
else
    run_user="$(id -un)" run_group="$(id -gn)"
fi
chmod go+x "$dir"

# ---- a private CA and a server certificate for localhost/127.0.0.1
. "$here/../../testpki.sh"
test_pki "$dir/tls" "NTLM test"

# ---- the NTLM user: a random password, only in the user file and env.sh
domain=MAILCHAN user=ewsuser
password="$(head -c 15 /dev/urandom | base64 | tr -d '/+=')"
umask 077
printf '%s:%s:%s\n' "$domain" "$user" "$password" > "$dir/ntlm/users"
umask 022
chgrp "$run_group" "$dir/ntlm" "$dir/ntlm/users"
chmod 750 "$dir/ntlm"; chmod 640 "$dir/ntlm/users"

# every directory above DIR must let the run user through
if [ "$(id -u)" -eq 0 ] && command -v runuser >/dev/null &&
   ! runuser -u "$run_user" -- test -r "$dir/ntlm/users"; then
    die "$run_user cannot read $dir/ntlm/users: a directory above $dir is closed to it (chmod o+x)"
fi

# ---- libcurl's NTLM messages lack the VERSION structure that gss-ntlmssp
# 1.2.0 insists on: ntlm_compat.lua re-frames them (and only that; see its
# header). MC_NTLM_CURL_COMPAT=0 leaves it out, to see the raw failure.
lua_module="" lua_hook="" lua_loglevel=""
if [ "${MC_NTLM_CURL_COMPAT:-1}" != 0 ]; then
    [ -f "$modules/mod_lua.so" ] || die "$modules/mod_lua.so missing (apache2-bin)"
    install -m 644 "$here/ntlm_compat.lua" "$dir/ntlm_compat.lua"
    lua_module="LoadModule lua_module $modules/mod_lua.so" lua_loglevel=" lua:info"
    lua_hook="    # before mod_auth_gssapi sees them (access checkers run before authentication)
    LuaHookAccessChecker $dir/ntlm_compat.lua reframe early"
fi

# ---- the configuration: only the modules it needs, every path under DIR
proxy_tls=""
if [ "${backend#https://}" != "$backend" ]; then
    ca="$(cd "$(dirname "$BACKEND_CA")" && pwd)/$(basename "$BACKEND_CA")"
    proxy_tls="SSLProxyEngine on
    SSLProxyProtocol -all +TLSv1.2 +TLSv1.3
    SSLProxyVerify require
    SSLProxyCheckPeerName on
    SSLProxyCACertificateFile $ca"
fi
cat > "$dir/httpd.conf" <<CONF
# written by tests/ews/ntlm/start.sh
ServerRoot "$dir"
ServerName localhost
DocumentRoot "$dir/htdocs"
PidFile "$dir/run/httpd.pid"
DefaultRuntimeDir "$dir/run"
Mutex file:$dir/lock default
User $run_user
Group $run_group
Listen 127.0.0.1:$port

LoadModule mpm_event_module $modules/mod_mpm_event.so
LoadModule authn_core_module $modules/mod_authn_core.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule authz_user_module $modules/mod_authz_user.so
LoadModule auth_gssapi_module $modules/mod_auth_gssapi.so
LoadModule socache_shmcb_module $modules/mod_socache_shmcb.so
LoadModule ssl_module $modules/mod_ssl.so
LoadModule proxy_module $modules/mod_proxy.so
LoadModule proxy_http_module $modules/mod_proxy_http.so
LoadModule headers_module $modules/mod_headers.so
$lua_module

StartServers 1
ServerLimit 2
ThreadsPerChild 16
MaxRequestWorkers 32
MinSpareThreads 4
MaxSpareThreads 32
# NTLM authenticates a connection: the client must keep it for the handshake
KeepAlive On
KeepAliveTimeout 15
MaxKeepAliveRequests 1000
Timeout 60

ErrorLog "$dir/log/error.log"
LogLevel warn auth_gssapi:info$lua_loglevel
LogFormat "%h %l %u %t \"%r\" %>s %b auth=\"%{GSS_MECH}e\" client_port=%{remote}p keepalive=%k" ntlm
CustomLog "$dir/log/access.log" ntlm

SSLEngine on
SSLProtocol -all +TLSv1.2 +TLSv1.3
SSLCertificateFile "$dir/tls/server.pem"
SSLCertificateKeyFile "$dir/tls/server.key"
SSLSessionCache "shmcb:$dir/run/ssl_scache(512000)"

<Location />
    Require all denied
</Location>

ProxyRequests Off
ProxyPass /EWS/ $backend/EWS/
ProxyPassReverse /EWS/ $backend/EWS/
$proxy_tls

<Location /EWS/>
    AuthType GSSAPI
    AuthName "mailchan EWS (NTLM)"
    GssapiAllowedMech ntlmssp
    # NTLM takes two round trips on one connection: keep the half-made context there
    GssapiConnectionBound On
    GssapiSSLonly On
    GssapiPublishMech On
    Require valid-user
$lua_hook
    # the backend learns who logged in; whatever a client sent as this header is replaced
    RequestHeader set X-Authenticated-User "%{REMOTE_USER}s"
    RequestHeader unset Authorization
</Location>
CONF

# ---- start: the acceptor's settings reach gss-ntlmssp through the environment
run() {
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C \
        APACHE_RUN_DIR="$dir/run" APACHE_LOCK_DIR="$dir/lock" APACHE_LOG_DIR="$dir/log" \
        APACHE_PID_FILE="$dir/run/httpd.pid" APACHE_RUN_USER="$run_user" APACHE_RUN_GROUP="$run_group" \
        NTLM_USER_FILE="$dir/ntlm/users" GSS_USE_PROXY=no \
        NETBIOS_COMPUTER_NAME=MCEWS NETBIOS_DOMAIN_NAME="$domain" \
        "$httpd" -d "$dir" -f "$dir/httpd.conf" "$@"
}
run -t >"$dir/log/configtest.log" 2>&1 || { cat "$dir/log/configtest.log" >&2; die "configuration test failed"; }

fail() {
    echo "ntlm/start.sh: $*" >&2
    [ -f "$dir/log/error.log" ] && tail -n 20 "$dir/log/error.log" >&2
    "$here/stop.sh" "$dir" >/dev/null 2>&1 || true
    exit 1
}
run -k start >"$dir/log/start.log" 2>&1 || { cat "$dir/log/start.log" >&2; fail "apache2 -k start failed"; }
up=""
for _ in $(seq 1 100); do
    if [ -s "$dir/run/httpd.pid" ] && kill -0 "$(cat "$dir/run/httpd.pid")" 2>/dev/null &&
       curl -s -o /dev/null --max-time 2 --cacert "$dir/tls/ca.pem" "https://127.0.0.1:$port/"; then
        up=1; break
    fi
    sleep 0.1
done
[ -n "$up" ] || fail "Apache did not come up on 127.0.0.1:$port"

cat > "$dir/env.sh" <<ENV
# written by tests/ews/ntlm/start.sh
export MC_NTLM_URL="https://127.0.0.1:$port/EWS/Exchange.asmx"
export MC_NTLM_PORT="$port"
export MC_NTLM_CA="$dir/tls/ca.pem"
export MC_NTLM_DOMAIN="$domain"
export MC_NTLM_USER="$user"
export MC_NTLM_PASSWORD="$password"
export MC_NTLM_BACKEND_URL="$backend"
export MC_NTLM_ERROR_LOG="$dir/log/error.log"
export MC_NTLM_ACCESS_LOG="$dir/log/access.log"
export MC_NTLM_PID_FILE="$dir/run/httpd.pid"
ENV
chmod 600 "$dir/env.sh"
echo "NTLM proxy up: https://127.0.0.1:$port/EWS/ -> $backend/EWS/ (pid $(cat "$dir/run/httpd.pid"))"
