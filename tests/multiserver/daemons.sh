# How each daemon of the multi-server stage is started, inside its mount
# namespace (sourced, with dir, here and log set): by ns.sh at the start, and
# by restart-imap.sh, which enters the namespace with nsenter to start an
# IMAP server again. Each daemon runs in the foreground of its own session;
# its PID goes to DIR/run/pids, replacing a line of the same name.
# shellcheck shell=bash disable=SC2154

started() { # name pid
    sed -i "/^$1 /d" "$dir/run/pids"
    echo "$1 $2" >> "$dir/run/pids"
}

# /dev/log of the namespace -> DIR/log/syslog, for Cyrus
start_syslog() {
    setsid /usr/bin/python3 "$here/syslog.py" /dev/log "$log/syslog" </dev/null >>"$log/syslog.stderr" 2>&1 &
    started syslog $!
    for _ in $(seq 1 50); do [ -S /dev/log ] && break; sleep 0.05; done
}

# Cyrus master and its services
start_cyrus() {
    setsid /usr/lib/cyrus/bin/master -C "$dir/cyrus/imapd.conf" -M "$dir/cyrus/cyrus.conf" \
        -p "$dir/run/cyrus-master.pid" </dev/null >>"$log/cyrus.stderr" 2>&1 &
    started cyrus-master $!
}

# courier-authlib's authdaemond (the program behind Debian's wrapper, which
# would run it under courierlogger)
start_authdaemond() {
    setsid /usr/lib/courier/courier-authlib/authdaemond </dev/null >>"$log/courier-auth.log" 2>&1 &
    started courier-authdaemond $!
}

# one couriertcpd: imap (STARTTLS), imaps (TLS on connect through
# couriertls) or nouidplus (STARTTLS, CAPABILITY without UIDPLUS); imapd
# logs to stderr, which goes to DIR/log/courier-NAME.log
start_courier() { # name
    local name="$1" port env wrap=()
    # shellcheck disable=SC1091
    . "$dir/run/ports"
    case "$name" in
        imap) port="$MCX_COURIER_IMAP_PORT" env="$dir/courier/imapd" ;;
        imaps) port="$MCX_COURIER_IMAPS_PORT" env="$dir/courier/imapd-ssl"
               wrap=(/usr/bin/couriertls -server -tcpd -user=courier) ;;
        nouidplus) port="$MCX_COURIER_NOUIDPLUS_IMAP_PORT" env="$dir/courier/imapd-nouidplus" ;;
        *) echo "start_courier: no instance $name" >&2; return 2 ;;
    esac
    # shellcheck disable=SC2016
    setsid env -i PATH=/usr/bin:/bin /bin/sh -c 'set -a; . "$1"; shift; umask 077; exec "$@"' sh "$env" \
        /usr/sbin/couriertcpd -address=127.0.0.1 -maxprocs=40 -maxperip=40 -nodnslookup -noidentlookup \
        "$port" "${wrap[@]}" /usr/lib/courier/courier/imaplogin /usr/bin/imapd Maildir \
        </dev/null >>"$log/courier-$name.log" 2>&1 &
    started "courier-$name" $!
}

# Exim; -q5s retries deferred deliveries quickly
start_exim() {
    setsid /usr/sbin/exim4 -C "$dir/exim/exim.conf" -bdf -q5s </dev/null >>"$log/exim.stderr" 2>&1 &
    started exim $!
}
