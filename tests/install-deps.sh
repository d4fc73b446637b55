#!/usr/bin/env bash
# Installs, from Debian 12's packages, what mailchan needs to build (and,
# with --test, to run its test suite). Installs only what is missing.
set -euo pipefail
# libetpan-dev brings libcurl4-gnutls-dev; libsasl2-modules gives libetpan's
# SASL its PLAIN/LOGIN mechanisms (only a Recommends)
pkgs=(build-essential cmake pkg-config libxml2-dev libssl-dev libetpan-dev libsasl2-modules ca-certificates libsqlite3-dev
      libxmlsec1-dev libxmlsec1-openssl)
if [ "${1:-}" = "--test" ]; then
  pkgs+=(libcmocka-dev clang libclang-rt-14-dev clang-format)
  # the integration tests' mail servers (tests/mailserver/start.sh)
  pkgs+=(postfix dovecot-imapd dovecot-lmtpd dovecot-sieve libsasl2-modules openssl)
  # the multi-server stage (tests/multiserver): its check.sh speaks IMAP and
  # SMTP with the curl command; Cyrus, Courier and Exim are not installed
  # (they conflict with the above): tests/multiserver/fetch.sh unpacks them
  pkgs+=(curl python3)
  # WS-Security peers (tests/security): WSS4J on Java, zeep + python-xmlsec, the xmlsec1 command
  pkgs+=(libwss4j-java libslf4j-java openjdk-17-jdk-headless python3-zeep python3-xmlsec python3-lxml
         python3-cryptography xmlsec1)
  # the EWS responder's independent client (tests/ews/test_exchangelib.py)
  pkgs+=(python3-exchangelib)
  # the EWS NTLM acceptor (tests/ews/ntlm): Apache with mod_auth_gssapi and the
  # gss-ntlmssp mechanism, checked with the curl command. apache2-bin is the
  # server and its modules without the apache2 service, whose postinst would
  # start a system Apache on port 80 wherever no policy-rc.d stops it
  pkgs+=(apache2-bin libapache2-mod-auth-gssapi gss-ntlmssp curl)
  # the documentation tests: groff and man render the manual page (man_page),
  # doxygen builds the API reference from the headers (api_docs)
  pkgs+=(groff-base man-db doxygen)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
