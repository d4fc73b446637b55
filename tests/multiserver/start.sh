#!/usr/bin/env bash
# Starts mailchan's multi-server test stage: Cyrus IMAP, Courier IMAP and
# Exim 4 from Debian 12, on 127.0.0.1, with no systemd and every file under
# one directory:
#   tests/multiserver/start.sh DIR     (DIR: empty, absent, or one this script made)
# then `. DIR/env.sh` gives the ports, users, passwords and CA; stop.sh DIR
# stops; check.sh DIR is a smoke test with curl.
#
# These packages conflict with the Postfix + Dovecot of tests/mailserver, so
# they are not installed: fetch.sh unpacks them (and the libraries they need
# that this machine lacks) into a cached root under
# /var/cache/mailchan-multiserver, and the daemons run in a private mount
# namespace (ns.sh) that overlays that root on /usr; their own /etc and /run
# files and their /dev/log live under DIR. Nothing of the machine changes but
# one system user, mcxmail, that owns the mail.
#
# What runs (ports from MCX_PORT_BASE, else MC_PORT_BASE, else 22500, plus
# offsets below 500 that differ from tests/mailserver's, so one base can
# serve both, and the defaults 22000 and 22500 do not meet):
#   Cyrus IMAP 3.6  IMAP with STARTTLS (+343), IMAPS (+393), LMTP on TCP
#                   (+324, pre-authorized) and on DIR/cyrus/socket/lmtp.
#                   altnamespace + unixhierarchysep: no prefix, "/" separator,
#                   folders beside INBOX. SASL PLAIN/LOGIN after STARTTLS,
#                   passwords checked against DIR/cyrus/sasldb2 (auxprop
#                   sasldb). IDLE: idled pushes changes (measured ~0.25 s);
#                   the fallback poll stays at 60 s. Users: alice (folders Trash with
#                   \Trash, "Service E-mail"; a Sieve script, the project's
#                   samples/sieve/service-email.sieve, files stamped mail
#                   there), carol (Trash only, no Sieve: stamped mail stays in
#                   INBOX), mcxadmin (Cyrus admin). Logs: DIR/log/syslog.
#   Courier IMAP 5.0  IMAP with STARTTLS (+344), IMAPS through couriertls
#                   (+394), and a second couriertcpd whose CAPABILITY lacks
#                   UIDPLUS (+345, STARTTLS). Maildir++ under
#                   DIR/courier/home/USER/Maildir, namespace "INBOX." with ".".
#                   courier-authlib's authdaemond with a userdb (crypted
#                   passwords). IDLE: IMAP_ENHANCEDIDLE=1, through gamin's
#                   gam_server (inotify; measured ~0.35 s), IMAP_IDLE_TIMEOUT=60.
#                   MCX_COURIER_ENHANCEDIDLE=0 MCX_COURIER_IDLE_TIMEOUT=1 give
#                   plain polling each second instead (Courier accepts 1).
#                   No MOVE, no SPECIAL-USE. Users: alice (folders Trash and
#                   "Service E-mail"; Exim files stamped mail there), carol.
#   Exim 4.96       SMTP (+325) with optional STARTTLS, SMTPS (+365); takes
#                   mail from 127.0.0.1 without AUTH, or with AUTH PLAIN/LOGIN
#                   (after TLS) as MCX_EXIM_USER. Delivers @cyrus.example.test
#                   to Cyrus over LMTP, @courier.example.test into Courier's
#                   Maildirs (stamped mail for alice into ".Service E-mail").
#   syslog.py       /dev/log of the namespace -> DIR/log/syslog (Cyrus logs
#                   only there); Courier's and Exim's logs are DIR/log/courier-*,
#                   DIR/log/exim-*
# "Stamped" = Subject containing "[net.mail]" or an X-Net-Mail-Channel header.
# Every server's certificate is for localhost/127.0.0.1, from the CA MCX_CA.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:?usage: start.sh DIR}"
t0="$(date +%s%N)"
[ "$(id -u)" -eq 0 ] || { echo "start.sh: run as root (the daemons drop to their own user)" >&2; exit 2; }
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
[ "${#dir}" -lt 60 ] || { echo "start.sh: $dir is too long for unix sockets" >&2; exit 2; }
# a DIR this script made before is stopped and emptied; anything else must be empty
if [ -f "$dir/.mcx-multiserver" ]; then
    "$here/stop.sh" "$dir"
    find "$dir" -mindepth 1 -delete
elif [ -n "$(ls -A "$dir")" ]; then
    echo "start.sh: $dir is not empty and was not made by start.sh" >&2; exit 2
fi
touch "$dir/.mcx-multiserver"

base="${MCX_PORT_BASE:-${MC_PORT_BASE:-22500}}"
cyrus_imap=$((base + 343)) cyrus_imaps=$((base + 393)) cyrus_lmtp=$((base + 324))
courier_imap=$((base + 344)) courier_imaps=$((base + 394)) courier_nouidplus=$((base + 345))
exim_smtp=$((base + 325)) exim_smtps=$((base + 365))
cyrus_domain=cyrus.example.test courier_domain=courier.example.test
for p in $cyrus_imap $cyrus_imaps $cyrus_lmtp $courier_imap $courier_imaps $courier_nouidplus \
         $exim_smtp $exim_smtps; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        echo "start.sh: port $p is already in use (another stage on base $base?)" >&2; exit 1
    fi
done

# from here on, a failure stops whatever started and shows the logs
failed() {
    trap '' PIPE   # stop everything even if whoever reads our stderr went away
    "$here/stop.sh" "$dir" || true
    echo "start.sh: failed (stopped what had started); logs in $dir/log:" >&2
    for f in "$dir"/log/*; do [ -s "$f" ] && { echo "== $f"; tail -n 15 "$f"; } >&2; done
    return 0
}
on_exit() { local rc=$?; [ "$rc" -eq 0 ] || failed; }
trap on_exit EXIT
die() { echo "start.sh: $*" >&2; exit 1; }

root="$("$here/fetch.sh")"

id mcxmail >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin mcxmail
vuser=mcxmail vgroup="$(id -gn mcxmail)" vuid="$(id -u mcxmail)" vgid="$(id -g mcxmail)"

mkdir -p "$dir"/{tls,log,run} "$dir"/ns/{etc/courier,etc/exim4,dev-up,dev-work} \
    "$dir"/cyrus/{config,spool,sieve,socket,tls} "$dir"/courier/{home,tls,run,shared} \
    "$dir"/exim/{spool,run,tls}
chmod 755 "$dir"
chgrp "$vgroup" "$dir/log"; chmod 775 "$dir/log"   # Exim writes its logs as mcxmail

# ---- a private CA, a server certificate for localhost/127.0.0.1, and an unrelated CA
gen_ca() { # name
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=mailchan multiserver $1" \
        -keyout "$dir/tls/$1.key" -out "$dir/tls/$1.pem" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
gen_ca ca
gen_ca other-ca
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$dir/tls/server.key" \
    -out "$dir/tls/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$dir/tls/ext"
openssl x509 -req -in "$dir/tls/server.csr" -CA "$dir/tls/ca.pem" -CAkey "$dir/tls/ca.key" \
    -CAcreateserial -days 30 -extfile "$dir/tls/ext" -out "$dir/tls/server.pem" 2>/dev/null
chmod 644 "$dir"/tls/*.pem; chmod 600 "$dir"/tls/*.key
# each daemon reads its key as its own user
for d in cyrus exim; do
    install -m 644 -o "$vuser" -g "$vgroup" "$dir/tls/server.pem" "$dir/$d/tls/server.pem"
    install -m 600 -o "$vuser" -g "$vgroup" "$dir/tls/server.key" "$dir/$d/tls/server.key"
done
cat "$dir/tls/server.key" "$dir/tls/server.pem" > "$dir/courier/tls/server.pem"   # couriertls: both in one
chown "$vuser:$vgroup" "$dir/courier/tls/server.pem"; chmod 600 "$dir/courier/tls/server.pem"
# couriertls (GnuTLS) wants a DH parameter file: RFC 7919's ffdhe2048 group
openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out "$dir/courier/tls/dhparams.pem" 2>/dev/null

# ---- users: random passwords, written only to env.sh and each server's own store
pw() { head -c 12 /dev/urandom | base64 | tr -d '/+='; }
cyrus_admin_pw="$(pw)" cyrus_alice_pw="$(pw)" cyrus_carol_pw="$(pw)"
courier_alice_pw="$(pw)" courier_carol_pw="$(pw)" exim_pw="$(pw)"
umask 077
cat > "$dir/run/secrets" <<ENV
MCX_VUSER=$vuser MCX_VGROUP=$vgroup
MCX_CYRUS_ADMIN_PW=$cyrus_admin_pw MCX_CYRUS_FILING_PW=$cyrus_alice_pw MCX_CYRUS_INBOX_PW=$cyrus_carol_pw
ENV
umask 022
cat > "$dir/run/ports" <<ENV
MCX_CYRUS_IMAP_PORT=$cyrus_imap
MCX_COURIER_IMAP_PORT=$courier_imap MCX_COURIER_IMAPS_PORT=$courier_imaps
MCX_COURIER_NOUIDPLUS_IMAP_PORT=$courier_nouidplus
ENV

fill() { # template output
    sed -e "s|@DIR@|$dir|g" -e "s|@BASE@|$base|g" -e "s|@VUSER@|$vuser|g" -e "s|@VGROUP@|$vgroup|g" \
        -e "s|@CYRUS_IMAP@|$cyrus_imap|g" -e "s|@CYRUS_IMAPS@|$cyrus_imaps|g" \
        -e "s|@CYRUS_LMTP@|$cyrus_lmtp|g" -e "s|@EXIM_SMTP@|$exim_smtp|g" \
        -e "s|@EXIM_SMTPS@|$exim_smtps|g" -e "s|@CYRUS_DOMAIN@|$cyrus_domain|g" \
        -e "s|@COURIER_DOMAIN@|$courier_domain|g" \
        -e "s|@ENHANCEDIDLE@|${MCX_COURIER_ENHANCEDIDLE:-1}|g" \
        -e "s|@IDLE_TIMEOUT@|${MCX_COURIER_IDLE_TIMEOUT:-60}|g" "$1" > "$2"
}

# ---- Cyrus (the directories of Debian's cyrus makedirs)
mkdir -p "$dir"/cyrus/config/{db,proc,socket,log,msg,user,quota,lock} "$dir/cyrus/spool/stage."
fill "$here/cyrus/imapd.conf.in" "$dir/cyrus/imapd.conf"
fill "$here/cyrus/cyrus.conf.in" "$dir/cyrus/cyrus.conf"
chown -R "$vuser:$vgroup" "$dir/cyrus"

# ---- Courier: userdb (SHA-512 crypt), Maildir++ with Trash and, for alice,
# "Service E-mail", both subscribed
{
    for u in alice:$courier_alice_pw carol:$courier_carol_pw; do
        printf '%s\tuid=%s|gid=%s|home=%s|mail=%s|systempw=%s\n' "${u%%:*}" "$vuid" "$vgid" \
            "$dir/courier/home/${u%%:*}" "$dir/courier/home/${u%%:*}/Maildir" \
            "$(openssl passwd -6 "${u#*:}")"
    done
} > "$dir/ns/etc/courier/userdb"
chmod 600 "$dir/ns/etc/courier/userdb"
fill "$here/courier/authdaemonrc.in" "$dir/ns/etc/courier/authdaemonrc"
maildir() { mkdir -p "$1"/{cur,new,tmp}; }
for u in alice carol; do
    m="$dir/courier/home/$u/Maildir"
    maildir "$m"; maildir "$m/.Trash"; touch "$m/.Trash/maildirfolder"
    echo "INBOX.Trash" > "$m/courierimapsubscribed"
done
m="$dir/courier/home/alice/Maildir"
maildir "$m/.Service E-mail"; touch "$m/.Service E-mail/maildirfolder"
echo "INBOX.Service E-mail" >> "$m/courierimapsubscribed"
chown -R "$vuser:$vgroup" "$dir/courier/home"
chmod -R go-rwx "$dir/courier/home"
touch "$dir/courier/shared/index"
fill "$here/courier/imapd.in" "$dir/courier/imapd"
# three instances: STARTTLS; implicit TLS; STARTTLS with UIDPLUS taken out
{ cat "$dir/courier/imapd"; printf 'IMAP_TLS=1\nIMAP_STARTTLS=NO\nIMAP_TLS_REQUIRED=0\nTLS_CACHEFILE=%s\n' \
    "$dir/courier/run/tlscache-ssl"; } > "$dir/courier/imapd-ssl"
{ cat "$dir/courier/imapd"
  echo 'IMAP_CAPABILITY="IMAP4rev1 CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE"'
  echo 'IMAP_CAPABILITY_TLS="$IMAP_CAPABILITY AUTH=PLAIN"'
  printf 'TLS_CACHEFILE=%s\n' "$dir/courier/run/tlscache-nouidplus"; } > "$dir/courier/imapd-nouidplus"
touch "$dir"/courier/run/tlscache{,-ssl,-nouidplus}
chown "$vuser:$vgroup" "$dir"/courier/run/tlscache{,-ssl,-nouidplus}

# ---- Exim
fill "$here/exim/exim.conf.in" "$dir/exim/exim.conf"
echo "alice: alice" > "$dir/exim/courier-filing"
printf 'alice: alice\ncarol: carol\n' > "$dir/exim/courier-users"
printf 'alice: alice\ncarol: carol\n' > "$dir/exim/cyrus-users"
echo "submit: $exim_pw" > "$dir/exim/passwd"
chown "root:$vgroup" "$dir/exim/passwd"; chmod 640 "$dir/exim/passwd"
chown -R "$vuser:$vgroup" "$dir/exim/spool" "$dir/exim/run"
# Debian's Exim keeps root for a -C file only if it is listed here
echo "$dir/exim/exim.conf" > "$dir/ns/etc/exim4/trusted_configs"
# and it looks its compiled-in user up before reading exim_user; Courier's
# imaplogin runs couriertls as the user "courier". Inside the namespace both
# are second names of mcxmail (in copies of the machine's passwd and group;
# the machine's own are untouched)
cp /etc/passwd /etc/group "$dir/ns/etc/"
for n in Debian-exim courier; do
    getent passwd "$n" >/dev/null ||
        echo "$n:x:$vuid:$vgid:mailchan test namespace:/nonexistent:/usr/sbin/nologin" >> "$dir/ns/etc/passwd"
    getent group "$n" >/dev/null || echo "$n:x:$vgid:" >> "$dir/ns/etc/group"
done

# ---- the mount namespace and the daemons
: > "$dir/run/pids"
unshare --mount --propagation private -- "$here/ns.sh" "$dir" "$root"
rm -f "$dir/run/secrets"

# ---- wait until each port answers with its greeting (bounded)
greeting() { # port expected-prefix
    local line=""
    for _ in $(seq 1 100); do
        line="$( (exec 3<>"/dev/tcp/127.0.0.1/$1" && IFS= read -r -t 5 l <&3 && printf '%s' "$l") 2>/dev/null || true)"
        [[ "$line" == "$2"* ]] && return 0
        sleep 0.1
    done
    die "127.0.0.1:$1 did not greet with '$2' (got: '${line%$'\r'}')"
}
tls_greeting() { # port expected-prefix
    local out=""
    for _ in $(seq 1 50); do
        # (stdin open for 0.3 s: s_client ends at its EOF, the greeting comes first)
        out="$(sleep 0.3 | timeout 5 openssl s_client -connect "127.0.0.1:$1" -CAfile "$dir/tls/ca.pem" \
            -verify_return_error -verify_ip 127.0.0.1 -quiet -no_ign_eof 2>/dev/null | head -n 1 || true)"
        [[ "$out" == "$2"* ]] && return 0
        sleep 0.1
    done
    die "127.0.0.1:$1 did not greet over verified TLS with '$2' (got: '$out')"
}
greeting "$cyrus_imap" "* OK"
greeting "$cyrus_lmtp" "220 "
greeting "$courier_imap" "* OK"
greeting "$courier_nouidplus" "* OK"
greeting "$exim_smtp" "220 "
tls_greeting "$cyrus_imaps" "* OK"
tls_greeting "$courier_imaps" "* OK"
tls_greeting "$exim_smtps" "220 "

# ---- Cyrus mailboxes: INBOXes by the admin, the rest by each user (over
# STARTTLS, as a client would)
imap() { # user password command...
    curl -sS --ssl-reqd --cacert "$dir/tls/ca.pem" --max-time 10 \
        "imap://127.0.0.1:$cyrus_imap/" -u "$1:$2" -X "$3" >>"$dir/log/provision.log" 2>&1 ||
        die "Cyrus: '$3' as $1 failed (see $dir/log/provision.log)"
}
imap mcxadmin "$cyrus_admin_pw" "CREATE user/alice"
imap mcxadmin "$cyrus_admin_pw" "CREATE user/carol"
for u in alice:$cyrus_alice_pw carol:$cyrus_carol_pw; do
    imap "${u%%:*}" "${u#*:}" 'CREATE Trash (USE (\Trash))'
    imap "${u%%:*}" "${u#*:}" 'SUBSCRIBE Trash'
done
imap alice "$cyrus_alice_pw" 'CREATE "Service E-mail"'
imap alice "$cyrus_alice_pw" 'SUBSCRIBE "Service E-mail"'

umask 077
cat > "$dir/env.sh" <<ENV
export MCX_DIR=$dir
export MCX_CA=$dir/tls/ca.pem MCX_OTHER_CA=$dir/tls/other-ca.pem
export MCX_SERVICE_FOLDER="Service E-mail"
export MCX_CYRUS_IMAP_PORT=$cyrus_imap MCX_CYRUS_IMAPS_PORT=$cyrus_imaps MCX_CYRUS_LMTP_PORT=$cyrus_lmtp
export MCX_CYRUS_LMTP_SOCKET=$dir/cyrus/socket/lmtp
export MCX_CYRUS_ADMIN=mcxadmin MCX_CYRUS_ADMIN_PW=$cyrus_admin_pw
export MCX_CYRUS_FILING_USER=alice MCX_CYRUS_FILING_PW=$cyrus_alice_pw MCX_CYRUS_FILING_ADDR=alice@$cyrus_domain
export MCX_CYRUS_INBOX_USER=carol MCX_CYRUS_INBOX_PW=$cyrus_carol_pw MCX_CYRUS_INBOX_ADDR=carol@$cyrus_domain
export MCX_COURIER_IMAP_PORT=$courier_imap MCX_COURIER_IMAPS_PORT=$courier_imaps
export MCX_COURIER_NOUIDPLUS_IMAP_PORT=$courier_nouidplus
export MCX_COURIER_FILING_USER=alice MCX_COURIER_FILING_PW=$courier_alice_pw MCX_COURIER_FILING_ADDR=alice@$courier_domain
export MCX_COURIER_INBOX_USER=carol MCX_COURIER_INBOX_PW=$courier_carol_pw MCX_COURIER_INBOX_ADDR=carol@$courier_domain
export MCX_COURIER_FILING_MAILDIR=$dir/courier/home/alice/Maildir MCX_COURIER_INBOX_MAILDIR=$dir/courier/home/carol/Maildir
export MCX_COURIER_IDLE_TIMEOUT=${MCX_COURIER_IDLE_TIMEOUT:-60} MCX_COURIER_ENHANCEDIDLE=${MCX_COURIER_ENHANCEDIDLE:-1}
export MCX_EXIM_SMTP_PORT=$exim_smtp MCX_EXIM_SMTPS_PORT=$exim_smtps
export MCX_EXIM_USER=submit MCX_EXIM_PW=$exim_pw
ENV
umask 022
t1="$(date +%s%N)"
printf 'multi-server stage up in %s (%d.%02d s)\n' "$dir" $(((t1 - t0) / 1000000000)) $((((t1 - t0) / 10000000) % 100))
