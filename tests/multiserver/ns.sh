#!/usr/bin/env bash
# Runs inside the private mount namespace that start.sh makes with
# `unshare --mount --propagation private`: nothing mounted here is seen by
# the rest of the machine, and the namespace lives as long as one of the
# daemons started here does.
#   ns.sh DIR ROOT        (start.sh has written the configurations in DIR)
# Mounts (all in this namespace only):
#   /usr  overlay: the machine's /usr over ROOT/usr (the unpacked Debian
#         packages): the daemons find their helpers, modules and libraries at
#         the paths compiled into them (/usr/lib/cyrus/bin, /usr/lib/courier-
#         authlib, /usr/libexec/gam_server, ...); the machine's files win
#   /etc  overlay: DIR/ns/etc over the machine's /etc: /etc/courier (authlib's
#         compiled-in authdaemonrc and userdb) and /etc/exim4/trusted_configs
#   /dev  overlay with its upper layer in DIR/ns: syslog.py binds /dev/log
#         there for Cyrus (the machine's /dev/log, present or not, is untouched)
#   /run  a tmpfs: /run/courier/authdaemon/socket (compiled into authlib)
# Then starts (daemons.sh): syslog.py, Cyrus master, authdaemond, three couriertcpd, Exim;
# each PID goes to DIR/run/pids, the namespace's id to DIR/run/mntns.
set -euo pipefail
dir="$1" root="$2"
here="$(cd "$(dirname "$0")" && pwd)"
log="$dir/log"

mount -t overlay mcx-usr -o "lowerdir=/usr:$root/usr" /usr
readlink /proc/self/ns/mnt > "$dir/run/mntns"

# ---- files that need the unpacked tools: before /etc is overlaid (an overlay
# may not show files added to its lower layers after it was mounted)
. "$dir/run/secrets"
sasldb="$dir/cyrus/sasldb2"
for u in "mcxadmin:$MCX_CYRUS_ADMIN_PW" "alice:$MCX_CYRUS_FILING_PW" "carol:$MCX_CYRUS_INBOX_PW"; do
    printf '%s' "${u#*:}" | saslpasswd2 -p -c -f "$sasldb" -u mail.example.test "${u%%:*}"
done
chown "$MCX_VUSER:$MCX_VGROUP" "$sasldb"; chmod 600 "$sasldb"
# alice's Sieve script: the project's sample rule, compiled by Cyrus's sievec
sv="$dir/cyrus/sieve/a/alice"
mkdir -p "$sv"
cp "$here/../../samples/sieve/service-email.sieve" "$sv/service-email.script"
/usr/lib/cyrus/bin/sievec -C "$dir/cyrus/imapd.conf" "$sv/service-email.script" "$sv/service-email.bc" \
    >>"$log/cyrus.stderr" 2>&1
ln -s service-email.bc "$sv/defaultbc"
chown -R "$MCX_VUSER:$MCX_VGROUP" "$dir/cyrus/sieve"
makeuserdb -f "$dir/ns/etc/courier/userdb"
unset MCX_CYRUS_ADMIN_PW MCX_CYRUS_FILING_PW MCX_CYRUS_INBOX_PW

mount -t overlay mcx-etc -o "lowerdir=$dir/ns/etc:/etc" /etc
mount -t overlay mcx-dev -o "lowerdir=/dev,upperdir=$dir/ns/dev-up,workdir=$dir/ns/dev-work" /dev
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts /dev/pts
mount -t tmpfs -o mode=1777 mcx-shm /dev/shm
mount -t tmpfs -o mode=755 mcx-run /run
mkdir -p /run/courier/authdaemon
chmod 750 /run/courier/authdaemon

cd "$dir/run"
# shellcheck source=daemons.sh
. "$here/daemons.sh"
start_syslog
start_cyrus
start_authdaemond
start_courier imap
start_courier imaps
start_courier nouidplus
start_exim
