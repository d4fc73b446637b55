#!/usr/bin/env bash
# Makes the WS-Security test PKI in DIR with the openssl command:
#   ca.pem        the CA trusted for senders (security_ca_file)
#   other-ca.pem  an unrelated CA
#   alice, bob    end entities (.pem cert, .key key, .p12 with password "p12pass"),
#                 subjectAltName alice@example.test / bob@example.test
#   carol         issued by other-ca (untrusted)
#   expired       issued by ca, valid 2020-2021 only
#   nosign        keyUsage keyEncipherment only (not for signing)
#   codesign      extendedKeyUsage codeSigning only (wrong purpose)
#   noski         without a SubjectKeyIdentifier
#   bob-enc.key   bob's key encrypted with password "keypass"
# and Java stores for WSS4J: alice.jks (alice's key + bob's and dave's certs),
# trust.jks (the CA) when keytool is present.
set -euo pipefail
dir=${1:?usage: pki.sh DIR}
mkdir -p "$dir"
cd "$dir"
exec 3>&2 2>pki.log

ca() { # name subject
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -days 36500 \
    -subj "$2" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
leaf() { # name issuer email keyUsage extKeyUsage [ski]
  local ext="$1.ext"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=$4"
    [ -n "$5" ] && echo "extendedKeyUsage=$5"
    echo "subjectAltName=email:$3"
    if [ "${6:-ski}" = ski ]; then echo "subjectKeyIdentifier=hash"; else echo "subjectKeyIdentifier=none"; fi
    echo "authorityKeyIdentifier=keyid"
  } >"$ext"
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/O=mailchan tests/CN=$1"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 36500 \
    -extfile "$ext" -out "$1.pem"
}

ca ca "/O=mailchan tests/CN=WS-Security test CA"
ca other-ca "/O=someone else/CN=Other CA"
leaf alice ca alice@example.test digitalSignature,keyEncipherment emailProtection,clientAuth
leaf bob ca bob@example.test digitalSignature,keyEncipherment emailProtection,clientAuth
leaf dave ca dave@example.test digitalSignature,keyEncipherment ""
leaf carol other-ca carol@example.test digitalSignature,keyEncipherment ""
leaf nosign ca nosign@example.test keyEncipherment ""
leaf codesign ca codesign@example.test digitalSignature codeSigning
leaf noski ca noski@example.test digitalSignature,keyEncipherment "" noski

# expired: issued through `openssl ca`, which takes explicit dates
mkdir -p expired-ca && : >expired-ca/index.txt && echo 1000 >expired-ca/serial
cat >expired-ca/ca.cnf <<EOF
[ca]
default_ca = d
[d]
database = expired-ca/index.txt
serial = expired-ca/serial
new_certs_dir = expired-ca
default_md = sha256
policy = p
copy_extensions = none
[p]
commonName = supplied
EOF
openssl req -newkey rsa:2048 -nodes -keyout expired.key -out expired.csr -subj "/O=mailchan tests/CN=expired"
openssl ca -batch -config expired-ca/ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr -out expired.pem \
  -startdate 20200101000000Z -enddate 20210101000000Z -notext

for n in alice bob carol; do
  openssl pkcs12 -export -inkey "$n.key" -in "$n.pem" -passout pass:p12pass -out "$n.p12"
done
openssl pkey -in bob.key -aes256 -passout pass:keypass -out bob-enc.key

if [ -z "${MC_PKI_NO_JAVA:-}" ] && command -v keytool >/dev/null; then
  rm -f alice.jks trust.jks
  keytool -importkeystore -srckeystore alice.p12 -srcstoretype PKCS12 -srcstorepass p12pass -srcalias 1 \
    -destkeystore alice.jks -deststoretype JKS -deststorepass storepass -destkeypass storepass -destalias alice
  keytool -importkeystore -srckeystore bob.p12 -srcstoretype PKCS12 -srcstorepass p12pass -srcalias 1 \
    -destkeystore bob.jks -deststoretype JKS -deststorepass storepass -destkeypass storepass -destalias bob
  for n in bob dave; do
    keytool -importcert -noprompt -keystore alice.jks -storepass storepass -alias "$n" -file "$n.pem"
  done
  keytool -importcert -noprompt -keystore alice.jks -storepass storepass -alias ca -file ca.pem
  keytool -importcert -noprompt -keystore bob.jks -storepass storepass -alias ca -file ca.pem
  keytool -importcert -noprompt -keystore trust.jks -storepass storepass -alias ca -file ca.pem
fi
exec 2>&3
echo "pki ready in $dir"
