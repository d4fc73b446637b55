#!/usr/bin/python3
"""old_tls_server.py - an SMTP or IMAP server on 127.0.0.1 whose TLS offers
only TLS 1.0 and 1.1, for mailchan's TLS-floor tests.

    old_tls_server.py --proto smtp|imap --mode starttls|tls --port N
                      --cert PEM --key PEM --record FILE [--timeout S]
                      [--tls-max 1.0|1.1|1.2]

It speaks just enough of the protocol to reach the TLS handshake (SMTP:
greeting, EHLO offering STARTTLS and AUTH PLAIN LOGIN, STARTTLS; IMAP: a
greeting with STARTTLS and LOGINDISABLED, CAPABILITY, STARTTLS; or implicit
TLS for either), then shakes hands with TLS 1.0/1.1 only (--tls-max 1.0:
TLS 1.0 only; --tls-max 1.2, for tests of a TLS 1.3 floor: up to TLS 1.2). Should a client
accept that, the dialogue goes on inside TLS so that the client would send
its credentials (which are refused).

FILE receives one line per event, written as it happens:
    port N                    listening (N is the real port; --port 0 picks one)
    connection                a client connected
    cmd VERB                  a command before TLS (verb only, never arguments)
    handshake-failed REASON   the client refused the old TLS: the expected outcome
    handshake VERSION         the client accepted TLS VERSION (e.g. TLSv1)
    tls-bytes N               N bytes arrived after the handshake
    tls-cmd VERB              a command inside TLS
    credential VERB           AUTH / LOGIN / AUTHENTICATE was received (anywhere)
    mail VERB                 MAIL / RCPT / DATA was received (anywhere)
    done                      the server exits
The server handles one connection and exits, or exits after --timeout
seconds (default 30) without one. Python 3 standard library only.
"""
import argparse
import socket
import ssl
import sys
import time
import warnings

CREDENTIAL_VERBS = {b"AUTH", b"LOGIN", b"AUTHENTICATE"}
MAIL_VERBS = {b"MAIL", b"RCPT", b"DATA", b"BDAT"}


class Recorder:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1, encoding="ascii", errors="replace")

    def __call__(self, *words):
        self.f.write(" ".join(str(w) for w in words) + "\n")
        self.f.flush()


class Conn:
    """A line reader over a plain or TLS socket, with a deadline."""

    def __init__(self, sock, deadline):
        self.sock = sock
        self.buf = b""
        self.deadline = deadline
        self.total = 0  # bytes read since the last wrap()

    def _recv(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline")
        self.sock.settimeout(left)
        data = self.sock.recv(4096)
        self.total += len(data)
        return data

    def line(self):
        while b"\n" not in self.buf:
            data = self._recv()
            if not data:
                return None
            self.buf += data
            if len(self.buf) > 65536:
                return None
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def send(self, text):
        self.sock.sendall(text.encode("ascii") + b"\r\n")

    def wrap(self, ctx, rec):
        """TLS handshake as the server; True when the client accepted it."""
        if self.buf:
            rec("plaintext-after-starttls", len(self.buf))
            self.buf = b""
        left = max(self.deadline - time.monotonic(), 0.1)
        self.sock.settimeout(left)
        try:
            self.sock = ctx.wrap_socket(self.sock, server_side=True)
        except (ssl.SSLError, OSError) as e:
            rec("handshake-failed", type(e).__name__, str(e).replace("\n", " ")[:200])
            return False
        rec("handshake", self.sock.version())
        self.total = 0
        return True


def note(rec, line, tls, imap):
    """Records a client line: its verb only (arguments may hold secrets)."""
    words = line.split(b" ")
    v = (words[1] if imap and len(words) > 1 else words[0]).upper()
    v = v.decode("ascii", "replace")[:20]
    rec("tls-cmd" if tls else "cmd", v)
    if v.encode() in CREDENTIAL_VERBS:
        rec("credential", v)
    if v.encode() in MAIL_VERBS:
        rec("mail", v)
    return v


def smtp_session(c, ctx, rec, implicit):
    if implicit and not c.wrap(ctx, rec):
        return
    tls = implicit
    c.send("220 old.example.test ESMTP old-tls test server")
    while True:
        line = c.line()
        if line is None:
            break
        v = note(rec, line, tls, False)
        if v in ("EHLO", "HELO"):
            if tls:
                c.send("250-old.example.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME")
            else:
                c.send("250-old.example.test\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME")
        elif v == "STARTTLS" and not tls:
            c.send("220 2.0.0 Ready to start TLS")
            if not c.wrap(ctx, rec):
                return
            tls = True
        elif v == "AUTH":
            # a refusal: whatever followed the handshake has been recorded
            c.send("535 5.7.8 Authentication credentials invalid")
        elif v == "QUIT":
            c.send("221 2.0.0 Bye")
            break
        else:
            c.send("503 5.5.1 Not in this test")
    if tls and c.total:
        rec("tls-bytes", c.total)


def imap_session(c, ctx, rec, implicit):
    if implicit and not c.wrap(ctx, rec):
        return
    tls = implicit
    if tls:
        c.send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready")
    else:
        c.send("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready")
    while True:
        line = c.line()
        if line is None:
            break
        tag = line.split(b" ", 1)[0].decode("ascii", "replace")[:20] or "*"
        v = note(rec, line, tls, True)
        if v == "CAPABILITY":
            caps = "IMAP4rev1 AUTH=PLAIN" if tls else "IMAP4rev1 STARTTLS LOGINDISABLED"
            c.send("* CAPABILITY " + caps + "\r\n" + tag + " OK done")
        elif v == "STARTTLS" and not tls:
            c.send(tag + " OK Begin TLS negotiation now")
            if not c.wrap(ctx, rec):
                return
            tls = True
        elif v in ("LOGIN", "AUTHENTICATE"):
            c.send(tag + " NO [AUTHENTICATIONFAILED] Authentication failed")
        elif v == "LOGOUT":
            c.send("* BYE\r\n" + tag + " OK bye")
            break
        else:
            c.send(tag + " BAD not in this test")
    if tls and c.total:
        rec("tls-bytes", c.total)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--proto", choices=("smtp", "imap"), required=True)
    p.add_argument("--mode", choices=("starttls", "tls"), required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--record", required=True)
    p.add_argument("--timeout", type=float, default=30.0, help="seconds until the server exits")
    p.add_argument("--tls-max", choices=("1.0", "1.1", "1.2"), default="1.1", help="highest TLS version offered")
    a = p.parse_args()

    warnings.simplefilter("ignore", DeprecationWarning)  # TLSv1/TLSv1_1: deprecated, and the point
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
                           "1.2": ssl.TLSVersion.TLSv1_2}[a.tls_max]
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 refuses TLS 1.0/1.1 above level 0
    ctx.load_cert_chain(a.cert, a.key)

    rec = Recorder(a.record)
    deadline = time.monotonic() + a.timeout
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", a.port))
    srv.listen(1)
    rec("port", srv.getsockname()[1])
    try:
        srv.settimeout(max(deadline - time.monotonic(), 0.1))
        try:
            sock, _ = srv.accept()
        except socket.timeout:
            rec("timeout")
            return 0
        srv.close()  # one connection only: a second attempt is refused
        rec("connection")
        c = Conn(sock, deadline)
        try:
            if a.proto == "smtp":
                smtp_session(c, ctx, rec, a.mode == "tls")
            else:
                imap_session(c, ctx, rec, a.mode == "tls")
        except (OSError, TimeoutError, ssl.SSLError) as e:
            rec("ended", type(e).__name__)
        finally:
            try:
                c.sock.close()
            except OSError:
                pass
    finally:
        rec("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
