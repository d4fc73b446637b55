#!/usr/bin/env bash
# Smoke test of the multi-server stage that start.sh DIR started, with
# nothing but the curl command (it speaks IMAP and SMTP):
#   tests/multiserver/check.sh DIR
# Prints one line per check and "N passed, N failed"; exits 1 on any failure.
set -uo pipefail
dir="${1:?usage: check.sh DIR}"
[ -f "$dir/env.sh" ] || { echo "check.sh: no $dir/env.sh: run start.sh $dir first" >&2; exit 2; }
# shellcheck disable=SC1091
. "$dir/env.sh"
passed=0 failed=0
ok() { echo "ok   - $*"; passed=$((passed + 1)); }
bad() { echo "FAIL - $*"; failed=$((failed + 1)); }
check() { # description command... : passes when the command succeeds
    local what="$1"; shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}

# curl over IMAP; TLS required and verified against MCX_CA
imap() { # port user password [path] [curl args...]
    local port="$1" user="$2" pass="$3" path="${4:-}"; shift 4
    curl -sS --max-time 15 --ssl-reqd --cacert "$MCX_CA" "imap://127.0.0.1:$port/$path" -u "$user:$pass" "$@"
}
# the response to a command, as the user, over STARTTLS
say() { imap "$1" "$2" "$3" "" -X "$4" 2>&1 | tr -d '\r'; }

# ---- TLS and logins
servers=(
    "Cyrus|$MCX_CYRUS_IMAP_PORT|$MCX_CYRUS_FILING_USER|$MCX_CYRUS_FILING_PW"
    "Courier|$MCX_COURIER_IMAP_PORT|$MCX_COURIER_FILING_USER|$MCX_COURIER_FILING_PW"
    "Courier without UIDPLUS|$MCX_COURIER_NOUIDPLUS_IMAP_PORT|$MCX_COURIER_INBOX_USER|$MCX_COURIER_INBOX_PW"
)
for s in "${servers[@]}"; do
    IFS='|' read -r name port user pass <<<"$s"
    check "$name: STARTTLS on $port, certificate verified against MCX_CA, login as $user" \
        imap "$port" "$user" "$pass" "" -X NOOP -o /dev/null
    check "$name: the same certificate fails against an unrelated CA" \
        bash -c '! curl -sS --max-time 15 --ssl-reqd --cacert "$1" "imap://127.0.0.1:$2/" -u "$3:$4" -X NOOP -o /dev/null 2>/dev/null' \
        _ "$MCX_OTHER_CA" "$port" "$user" "$pass"
    check "$name: a wrong password is refused" \
        bash -c '! curl -sS --max-time 15 --ssl-reqd --cacert "$1" "imap://127.0.0.1:$2/" -u "$3:wrong$4" -X NOOP -o /dev/null 2>/dev/null' \
        _ "$MCX_CA" "$port" "$user" "$pass"
done
check "Cyrus: IMAPS on $MCX_CYRUS_IMAPS_PORT, verified, login" \
    curl -sS --max-time 15 --cacert "$MCX_CA" "imaps://127.0.0.1:$MCX_CYRUS_IMAPS_PORT/" \
        -u "$MCX_CYRUS_INBOX_USER:$MCX_CYRUS_INBOX_PW" -X NOOP -o /dev/null
check "Courier: IMAPS on $MCX_COURIER_IMAPS_PORT, verified, login" \
    curl -sS --max-time 15 --cacert "$MCX_CA" "imaps://127.0.0.1:$MCX_COURIER_IMAPS_PORT/" \
        -u "$MCX_COURIER_INBOX_USER:$MCX_COURIER_INBOX_PW" -X NOOP -o /dev/null

# ---- capabilities (after login) and namespaces
has_caps() { # capability-line want... ; a leading ! means must be absent
    local line=" $1 " c
    shift
    for c in "$@"; do
        if [ "${c:0:1}" = "!" ]; then
            [[ "$line" == *" ${c:1} "* ]] && { echo "    has ${c:1}: $1"; return 1; }
        else
            [[ "$line" == *" $c "* ]] || { echo "    lacks $c: $1"; return 1; }
        fi
    done
    return 0
}
caps() { say "$1" "$2" "$3" CAPABILITY | sed -n 's/^\* CAPABILITY //p' | head -n 1; }
cy_caps="$(caps "$MCX_CYRUS_IMAP_PORT" "$MCX_CYRUS_FILING_USER" "$MCX_CYRUS_FILING_PW")"
co_caps="$(caps "$MCX_COURIER_IMAP_PORT" "$MCX_COURIER_FILING_USER" "$MCX_COURIER_FILING_PW")"
nu_caps="$(caps "$MCX_COURIER_NOUIDPLUS_IMAP_PORT" "$MCX_COURIER_INBOX_USER" "$MCX_COURIER_INBOX_PW")"
echo "     Cyrus CAPABILITY: $cy_caps"
echo "     Courier CAPABILITY: $co_caps"
echo "     Courier (no UIDPLUS) CAPABILITY: $nu_caps"
check "Cyrus lists SPECIAL-USE CONDSTORE QRESYNC IDLE UIDPLUS MOVE NAMESPACE" \
    has_caps "$cy_caps" SPECIAL-USE CONDSTORE QRESYNC IDLE UIDPLUS MOVE NAMESPACE
check "Courier lists IDLE UIDPLUS NAMESPACE, not MOVE, SPECIAL-USE, CONDSTORE" \
    has_caps "$co_caps" IDLE UIDPLUS NAMESPACE '!MOVE' '!SPECIAL-USE' '!CONDSTORE'
check "Courier without UIDPLUS lists IDLE, not UIDPLUS, MOVE, SPECIAL-USE" \
    has_caps "$nu_caps" IDLE '!UIDPLUS' '!MOVE' '!SPECIAL-USE'

cy_ns="$(say "$MCX_CYRUS_IMAP_PORT" "$MCX_CYRUS_FILING_USER" "$MCX_CYRUS_FILING_PW" NAMESPACE | grep '^\* NAMESPACE')"
co_ns="$(say "$MCX_COURIER_IMAP_PORT" "$MCX_COURIER_FILING_USER" "$MCX_COURIER_FILING_PW" NAMESPACE | grep '^\* NAMESPACE')"
echo "     Cyrus: $cy_ns"
echo "     Courier: $co_ns"
check "Cyrus: personal namespace without prefix, separator /" \
    test "${cy_ns#\* NAMESPACE ((\"\" \"/\"))}" != "$cy_ns"
check "Courier: personal namespace (\"INBOX.\" \".\")" \
    test "${co_ns#\* NAMESPACE ((\"INBOX.\" \".\"))}" != "$co_ns"

cy_list="$(say "$MCX_CYRUS_IMAP_PORT" "$MCX_CYRUS_FILING_USER" "$MCX_CYRUS_FILING_PW" 'LIST "" "*"')"
co_list="$(say "$MCX_COURIER_IMAP_PORT" "$MCX_COURIER_FILING_USER" "$MCX_COURIER_FILING_PW" 'LIST "" "*"')"
check "Cyrus: Trash is \\Trash (SPECIAL-USE), beside INBOX" \
    grep -q '^\* LIST (.*\\Trash.*) "/" Trash$' <<<"$cy_list"
check "Cyrus: \"Service E-mail\" is a sibling of INBOX" \
    grep -q '^\* LIST (.*) "/" "Service E-mail"$' <<<"$cy_list"
check "Courier: \"INBOX.Service E-mail\" and INBOX.Trash exist, no special-use flags" \
    bash -c 'grep -q "^\* LIST (.*) \".\" \"INBOX.Service E-mail\"$" <<<"$1" &&
             grep -q "^\* LIST (.*) \".\" \"INBOX.Trash\"$" <<<"$1" && ! grep -q "\\\\Trash" <<<"$1"' _ "$co_list"

# ---- mail through Exim, filed or not
tok="mcx$(date +%s)$$"
sent() { # url to subject [curl args...]
    local url="$1" to="$2" subject="$3"; shift 3
    local msg
    msg="$(printf 'From: <check@example.test>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s.%s@example.test>\r\nDate: %s\r\n\r\nmulti-server check\r\n' \
        "$to" "$subject" "$tok" "$RANDOM" "$(date -R)")"
    curl -sS --max-time 15 "$url" --mail-from check@example.test --mail-rcpt "$to" \
        --upload-file - "$@" <<<"$msg"
}
smtp="smtp://127.0.0.1:$MCX_EXIM_SMTP_PORT"
smtps="smtps://127.0.0.1:$MCX_EXIM_SMTPS_PORT"
auth=(--cacert "$MCX_CA" -u "$MCX_EXIM_USER:$MCX_EXIM_PW")
for srv in CYRUS COURIER; do
    f="MCX_${srv}_FILING_ADDR" i="MCX_${srv}_INBOX_ADDR"
    check "Exim: stamped mail to ${!f} (plain SMTP from 127.0.0.1, no AUTH)" \
        sent "$smtp" "${!f}" "[net.mail] echo $tok-stamped"
    check "Exim: unstamped mail to ${!f} (STARTTLS, verified, AUTH)" \
        sent "$smtp" "${!f}" "plain $tok-plain" --ssl-reqd "${auth[@]}"
    check "Exim: stamped mail to ${!i} (SMTPS, verified, AUTH)" \
        sent "$smtps" "${!i}" "[net.mail] echo $tok-inbox" "${auth[@]}"
done
check "Exim: AUTH LOGIN (instead of PLAIN) after STARTTLS is accepted too" \
    sent "$smtp" "$MCX_CYRUS_INBOX_ADDR" "plain $tok-login" --ssl-reqd "${auth[@]}" --login-options AUTH=LOGIN
check "Exim: a wrong AUTH password is refused" \
    bash -c '! curl -sS --max-time 15 "$1" --ssl-reqd --cacert "$2" -u "$3:wrong" --mail-from a@example.test \
        --mail-rcpt "$4" --upload-file /dev/null 2>/dev/null' _ "$smtp" "$MCX_CA" "$MCX_EXIM_USER" "$MCX_CYRUS_INBOX_ADDR"

found() { # port user password folder-url-path token: the numbers of mail with token in the Subject
    local out
    out="$(imap "$1" "$2" "$3" "$4?SUBJECT%20$5" 2>&1)" || { echo "    $out" >&2; return 2; }
    tr -d '\r' <<<"$out" | sed -n 's/^\* SEARCH *//p'
}
arrives() { # port user password folder token: waits up to 20 s
    local _
    for _ in $(seq 1 40); do
        [ -n "$(found "$@")" ] && return 0
        sleep 0.5
    done
    return 1
}
absent() { local r; r="$(found "$@")" && [ -z "$r" ]; }   # a failed search is no proof
svc_cyrus="Service%20E-mail" svc_courier="INBOX.Service%20E-mail"
u="$MCX_CYRUS_FILING_USER" p="$MCX_CYRUS_FILING_PW" port="$MCX_CYRUS_IMAP_PORT"
check "Cyrus: stamped mail for $u is in \"Service E-mail\" (Sieve)" arrives "$port" "$u" "$p" "$svc_cyrus" "$tok-stamped"
check "Cyrus: ... and not in INBOX" absent "$port" "$u" "$p" INBOX "$tok-stamped"
check "Cyrus: unstamped mail for $u is in INBOX" arrives "$port" "$u" "$p" INBOX "$tok-plain"
check "Cyrus: ... and not in \"Service E-mail\"" absent "$port" "$u" "$p" "$svc_cyrus" "$tok-plain"
u="$MCX_CYRUS_INBOX_USER" p="$MCX_CYRUS_INBOX_PW"
check "Cyrus: stamped mail for $u (no filing rule) is in INBOX" arrives "$port" "$u" "$p" INBOX "$tok-inbox"
u="$MCX_COURIER_FILING_USER" p="$MCX_COURIER_FILING_PW" port="$MCX_COURIER_IMAP_PORT"
check "Courier: stamped mail for $u is in INBOX.\"Service E-mail\" (Exim)" arrives "$port" "$u" "$p" "$svc_courier" "$tok-stamped"
check "Courier: ... and not in INBOX" absent "$port" "$u" "$p" INBOX "$tok-stamped"
check "Courier: unstamped mail for $u is in INBOX" arrives "$port" "$u" "$p" INBOX "$tok-plain"
check "Courier: ... and not in INBOX.\"Service E-mail\"" absent "$port" "$u" "$p" "$svc_courier" "$tok-plain"
u="$MCX_COURIER_INBOX_USER" p="$MCX_COURIER_INBOX_PW"
check "Courier: stamped mail for $u (no filing rule) is in INBOX" arrives "$port" "$u" "$p" INBOX "$tok-inbox"
check "Courier without UIDPLUS: the same INBOX, seen through the second instance" \
    arrives "$MCX_COURIER_NOUIDPLUS_IMAP_PORT" "$u" "$p" INBOX "$tok-inbox"

echo "multiserver: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
