#!/usr/bin/env bash
# make-certs.sh - a small PKI for the tic-tac-toe sample (openssl only):
#   make-certs.sh DIR ADDRESS...
# writes
#   DIR/ca.pem, DIR/ca.key         a private CA (security_ca_file)
#   DIR/certs/ADDRESS.pem          one certificate per player, issued by the CA:
#                                  subject CN=ADDRESS, subjectAltName email:ADDRESS
#                                  (the directory is the recipient_certificate)
#   DIR/private/ADDRESS.key        its private key (mode 600; private_key)
# An existing CA in DIR is reused, so more players can be added later with
# the same command. Certificates are valid 365 days. For a demo or a test:
# real players get their certificates from a CA both of them trust.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: make-certs.sh DIR ADDRESS..." >&2; exit 2; }
dir=$1
shift
mkdir -p "$dir/certs" "$dir/private"
chmod 700 "$dir/private"
log="$dir/make-certs.log"
: >"$log"
if [ ! -f "$dir/ca.pem" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/O=mailchan tictactoe/CN=tictactoe CA" \
        -keyout "$dir/ca.key" -out "$dir/ca.pem" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>>"$log"
    chmod 600 "$dir/ca.key"
fi
for addr in "$@"; do
    case "$addr" in
    *@*.*) ;;
    *) echo "make-certs.sh: not an e-mail address: $addr" >&2; exit 2 ;;
    esac
    case "$addr" in
    */* | *,* | *=* | *\\* | *' '*) echo "make-certs.sh: unusual characters in $addr" >&2; exit 2 ;;
    esac
    key="$dir/private/$addr.key" csr="$dir/private/$addr.csr" ext="$dir/private/$addr.ext"
    {
        echo "basicConstraints=CA:FALSE"
        echo "keyUsage=digitalSignature,keyEncipherment"
        echo "extendedKeyUsage=emailProtection"
        echo "subjectAltName=email:$addr"
        echo "subjectKeyIdentifier=hash"
        echo "authorityKeyIdentifier=keyid"
    } >"$ext"
    openssl req -newkey rsa:2048 -nodes -subj "/O=mailchan tictactoe/CN=$addr" \
        -keyout "$key" -out "$csr" 2>>"$log"
    openssl x509 -req -in "$csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 365 \
        -extfile "$ext" -out "$dir/certs/$addr.pem" 2>>"$log"
    rm -f "$csr" "$ext"
    chmod 600 "$key"
    chmod 644 "$dir/certs/$addr.pem"
    echo "$dir/certs/$addr.pem  (key $key)"
done
