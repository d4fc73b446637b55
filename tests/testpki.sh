# testpki.sh - sourced by the test servers' start scripts (tests/mailserver,
# tests/ews, tests/ews/ntlm, tests/multiserver): a private CA, an unrelated
# CA (for wrong-CA tests) and a server certificate for localhost and
# 127.0.0.1 signed by the first, valid 30 days.
#   test_pki DIR NAME   writes DIR/ca.pem|key, DIR/other-ca.pem|key,
#                       DIR/server.pem|key; NAME goes into the subjects
test_pki() {
    local out="$1" name="$2" ca
    mkdir -p "$out"
    for ca in ca other-ca; do
        openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=mailchan $name $ca" \
            -keyout "$out/$ca.key" -out "$out/$ca.pem" \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    done
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$out/server.key" \
        -out "$out/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$out/ext"
    openssl x509 -req -in "$out/server.csr" -CA "$out/ca.pem" -CAkey "$out/ca.key" \
        -CAcreateserial -days 30 -extfile "$out/ext" -out "$out/server.pem" 2>/dev/null
    chmod 644 "$out"/*.pem
    chmod 600 "$out"/*.key
}
