#!/usr/bin/env bash
# Starts a private Postfix + Dovecot on 127.0.0.1 for mailchan's tests, with
# no systemd and every file under one directory:
#   tests/mailserver/start.sh DIR      (DIR must not exist or be empty)
# then `. DIR/env.sh` gives the ports, users and CA paths; stop.sh DIR stops.
#
# What runs:
#   Postfix: SMTP (plain, no AUTH: it takes mail from 127.0.0.1; port MC_SMTP_PORT),
#            submission with STARTTLS required + AUTH (MC_SUBMISSION_PORT),
#            submissions with implicit TLS + AUTH (MC_SUBMISSIONS_PORT);
#            SASL through Dovecot; delivery to Dovecot over LMTP.
#   Dovecot: IMAP with STARTTLS (MC_IMAP_PORT), IMAP over TLS (MC_IMAPS_PORT),
#            LMTP with Pigeonhole Sieve: a global sieve_before rule files stamped
#            mail into "Service E-mail"; special-use folders, "Deleted Items" is
#            \Trash. Auth: PLAIN and LOGIN with passwords, XOAUTH2 with a token.
#   Users (domain example.test): alice, bob, erin (password logins), carol
#            (no Sieve rule and no "Service E-mail": stamped mail stays in the
#            Inbox), dave (XOAUTH2 only).
# Ports come from MC_PORT_BASE (default 22000) + fixed offsets.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:?usage: start.sh DIR}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
[ "${#dir}" -lt 60 ] || { echo "start.sh: $dir is too long for unix sockets" >&2; exit 2; }
base="${MC_PORT_BASE:-22000}"
smtp=$((base + 25)) submission=$((base + 587)) submissions=$((base + 465))
imap=$((base + 143)) imaps=$((base + 993)) lmtp=$((base + 24)) authp=$((base + 12))
sink=$((base + 26))

[ "$(id -u)" -eq 0 ] || { echo "start.sh: run as root (Postfix and Dovecot drop to their own users)" >&2; exit 2; }
id mcvmail >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin mcvmail
vuid="$(id -u mcvmail)" vgid="$(id -g mcvmail)"

mkdir -p "$dir"/{tls,dovecot,postfix,home,run,sieve,log}
chmod 755 "$dir"

# ---- a private CA, a server certificate for localhost/127.0.0.1, and an unrelated CA
. "$here/../testpki.sh"
test_pki "$dir/tls" test

# ---- users: random passwords, written only to env.sh and the passwd file
pw() { head -c 12 /dev/urandom | base64 | tr -d '/+='; }
alice_pw="$(pw)" bob_pw="$(pw)" carol_pw="$(pw)" erin_pw="$(pw)" dave_token="$(pw)$(pw)"
keep="$dir/sieve/keep.sieve"
{
    for u in alice:$alice_pw bob:$bob_pw erin:$erin_pw; do
        echo "${u%%:*}@example.test:{PLAIN}${u#*:}:$vuid:$vgid::$dir/home/${u%%:*}::"
    done
    echo "carol@example.test:{PLAIN}$carol_pw:$vuid:$vgid::$dir/home/carol::userdb_sieve_before=$keep"
} > "$dir/dovecot/users"
echo "dave@example.test:{PLAIN}$dave_token:$vuid:$vgid::$dir/home/dave::" > "$dir/dovecot/tokens"
chmod 640 "$dir/dovecot/users" "$dir/dovecot/tokens"; chgrp dovecot "$dir/dovecot/users" "$dir/dovecot/tokens"
chown mcvmail:mcvmail "$dir/home"

# ---- Sieve: the shipped sample rule as the global rule, and a keep-only rule
cp "$here/../../samples/sieve/service-email.sieve" "$dir/sieve/global.sieve"
echo 'keep;' > "$keep"
sievec "$dir/sieve/global.sieve"
sievec "$keep"

# ---- Dovecot
cat > "$dir/dovecot/dovecot.conf" <<CONF
base_dir = $dir/run/dovecot
state_dir = $dir/run/dovecot-state
instance_name = mailchan-test-$base
log_path = $dir/log/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = yes
ssl_cert = <$dir/tls/server.pem
ssl_key = <$dir/tls/server.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login xoauth2
auth_failure_delay = 0
auth_username_format = %Lu
login_trusted_networks =
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = $vuid
last_valid_uid = $vuid
mail_location = maildir:~/Maildir
mail_privileged_group =
passdb {
  driver = passwd-file
  args = $dir/dovecot/users
  mechanisms = plain login
}
passdb {
  driver = passwd-file
  args = $dir/dovecot/tokens
  mechanisms = xoauth2
}
userdb {
  driver = passwd-file
  args = $dir/dovecot/users
}
userdb {
  driver = passwd-file
  args = $dir/dovecot/tokens
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox "Deleted Items" {
    auto = subscribe
    special_use = \Trash
  }
  mailbox Drafts {
    auto = subscribe
    special_use = \Drafts
  }
  mailbox "Sent Items" {
    auto = subscribe
    special_use = \Sent
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $imap
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $imaps
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
  inet_listener pop3s {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $lmtp
  }
}
service auth {
  inet_listener {
    address = 127.0.0.1
    port = $authp
  }
}
protocol lmtp {
  mail_plugins = sieve
  postmaster_address = postmaster@example.test
}
plugin {
  sieve_before = $dir/sieve/global.sieve
  sieve = ~/.dovecot.sieve
}
CONF
dovecot -c "$dir/dovecot/dovecot.conf" 2>>"$dir/log/dovecot.stderr" </dev/null >/dev/null
# "Service E-mail" exists from the start (as an administrator deploying the rule
# would make it), except for carol, whose mailbox has only the Inbox
for u in alice bob dave erin; do
    doveadm -c "$dir/dovecot/dovecot.conf" mailbox create -s -u "$u@example.test" "Service E-mail"
done

# ---- Postfix (chroot off: Debian's master.cf chroots services)
pf="$dir/postfix"
mkdir -p "$pf/queue" "$pf/data"
chown postfix "$pf/data"
cat > "$pf/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.example.test
mydomain = example.test
myorigin = example.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
relayhost =
local_transport = error:no local delivery
virtual_mailbox_domains = example.test
virtual_transport = lmtp:inet:127.0.0.1:$lmtp
maillog_file = $dir/log/postfix.log
maillog_file_prefixes = $dir/log
smtputf8_enable = yes
smtpd_banner = mail.example.test ESMTP
smtpd_tls_cert_file = $dir/tls/server.pem
smtpd_tls_key_file = $dir/tls/server.key
smtpd_tls_security_level = may
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:$authp
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = reject_unlisted_recipient
smtpd_reject_unlisted_recipient = yes
virtual_mailbox_maps = texthash:$pf/mailboxes
message_size_limit = 52428800
biff = no
shlib_directory = /usr/lib/postfix
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
CONF
for u in alice bob carol dave erin; do echo "$u@example.test ok"; done > "$pf/mailboxes"
cat > "$pf/master.cf" <<CONF
127.0.0.1:$smtp inet n - n - - smtpd
127.0.0.1:$submission inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
127.0.0.1:$submissions inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
CONF
# Postfix ignores configuration files changed in the last seconds
touch -d '-1 minute' "$pf/main.cf" "$pf/master.cf" "$pf/mailboxes"
postfix -c "$pf" check >>"$dir/log/postfix.stderr" 2>&1 || true
postfix -c "$pf" start >>"$dir/log/postfix.stderr" 2>&1

cat > "$dir/env.sh" <<ENV
export MC_MAILDIR_TEST=$dir
export MC_SMTP_PORT=$smtp MC_SUBMISSION_PORT=$submission MC_SUBMISSIONS_PORT=$submissions
export MC_IMAP_PORT=$imap MC_IMAPS_PORT=$imaps MC_LMTP_PORT=$lmtp MC_SINK_PORT=$sink
export MC_CA=$dir/tls/ca.pem MC_OTHER_CA=$dir/tls/other-ca.pem
export MC_ALICE_PW=$alice_pw MC_BOB_PW=$bob_pw MC_CAROL_PW=$carol_pw MC_ERIN_PW=$erin_pw
export MC_DAVE_TOKEN=$dave_token
ENV
chmod 600 "$dir/env.sh"

# ---- wait until every port answers (bounded)
for p in $smtp $submission $submissions $imap $imaps $lmtp; do
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break
        sleep 0.1
    done
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || {
        echo "start.sh: nothing listens on 127.0.0.1:$p; logs in $dir/log" >&2
        cat "$dir"/log/*.stderr >&2 2>/dev/null || true
        exit 1
    }
done
echo "mail servers up in $dir"
