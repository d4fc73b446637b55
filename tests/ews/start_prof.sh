#!/usr/bin/env bash
# Starts the EWS responder (responder.py) over HTTPS on 127.0.0.1 for
# mailchan's tests, with every file under one directory:
#   tests/ews/start.sh DIR [RESPONDER OPTIONS...]   (DIR must not exist or be empty)
# then `. DIR/env.sh` gives the URL, CA, users and control endpoint;
# stop.sh DIR stops it. Extra options go to responder.py (e.g.
# --minute-seconds 2 --heartbeat 1 to shorten EWS "minutes" in tests).
#
# Mailboxes (domain example.test): alice (password), bob (password, has a
# "Service E-mail" folder beside the Inbox: mail whose subject holds
# [net.mail] lands there), carol (password, no "Service E-mail"), dave
# (bearer token only), svc (password; may impersonate the others).
# The port is chosen by the responder (a free one) and reported in env.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:?usage: start.sh DIR [RESPONDER OPTIONS...]}"
shift
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
mkdir -p "$dir/tls" "$dir/log"
py=/usr/bin/python3

# ---- a private CA, a server certificate for localhost/127.0.0.1, and an unrelated CA
. "$here/../testpki.sh"
test_pki "$dir/tls" "EWS test"

# ---- random passwords and a token, written only to env.sh (and the responder's command line)
pw() { head -c 12 /dev/urandom | base64 | tr -d '/+='; }
alice_pw="$(pw)" bob_pw="$(pw)" carol_pw="$(pw)" svc_pw="$(pw)" dave_token="$(pw)$(pw)"

rm -f "$dir/port"
# the passwords go through a file, not argv (ps shows argv to everyone)
umask 077
cat > "$dir/responder.args" <<ARGS
--user=alice@example.test=$alice_pw
--user=bob@example.test=$bob_pw
--user=carol@example.test=$carol_pw
--user=svc@example.test=$svc_pw
--token=dave@example.test=$dave_token
--service-folder=bob@example.test
--impersonator=svc@example.test
ARGS
umask 022
# every request is validated always; the responder's own responses too unless
# MC_EWS_CHECK_RESPONSES=0 (the benchmark: it measures the clients, not the check)
check=(--check-responses)
[ "${MC_EWS_CHECK_RESPONSES:-1}" = 0 ] && check=()
setsid "$py" /tmp/prof/wrap.py "$here/responder.py" "@$dir/responder.args" --tls "$dir/tls/server.pem" "$dir/tls/server.key" \
    --ready "$dir/port" --log "$dir/log/requests.jsonl" "${check[@]}" "$@" \
    </dev/null >"$dir/log/responder.out" 2>&1 &
echo $! > "$dir/responder.pid"

# ---- wait (bounded) for the port
for _ in $(seq 1 150); do
    [ -s "$dir/port" ] && break
    kill -0 "$(cat "$dir/responder.pid")" 2>/dev/null || break
    sleep 0.1
done
[ -s "$dir/port" ] || { echo "start.sh: the responder did not start; see $dir/log/responder.out" >&2
                        cat "$dir/log/responder.out" >&2; exit 1; }
port="$(cat "$dir/port")"

cat > "$dir/env.sh" <<ENV
export MC_EWS_DIR=$dir
export MC_EWS_PORT=$port
export MC_EWS_URL=https://127.0.0.1:$port/EWS/Exchange.asmx
export MC_EWS_CONTROL=https://127.0.0.1:$port/_control
export MC_EWS_CA=$dir/tls/ca.pem MC_EWS_OTHER_CA=$dir/tls/other-ca.pem
export MC_EWS_ALICE_PW=$alice_pw MC_EWS_BOB_PW=$bob_pw MC_EWS_CAROL_PW=$carol_pw MC_EWS_SVC_PW=$svc_pw
export MC_EWS_DAVE_TOKEN=$dave_token
export MC_EWS_LOG=$dir/log/requests.jsonl
ENV
chmod 600 "$dir/env.sh"
echo "EWS responder up on 127.0.0.1:$port (https), in $dir"
