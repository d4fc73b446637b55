#!/usr/bin/python3
"""smtp_reset_server.py - an SMTP server on 127.0.0.1 that resets connections
at chosen points, for mailchan's tests of sending after a broken connection.

    smtp_reset_server.py --record FILE --plan P1,P2,... [--port N]
                         [--cert PEM --key PEM] [--timeout S]

Connection i (counting from 1) follows plan Pi; connections beyond the list
follow "ok". Plans:
    ok                 a normal server: any number of mails, 250 after each
    after-greeting     the greeting, then a reset
    after-ehlo         EHLO answered, then a reset at the next command
    after-mail         a reset when MAIL FROM arrives (no reply)
    after-rcpt         a reset when RCPT TO arrives (no reply)
    during-data        354, part of the body read, then a reset
    after-dot          the whole body read (accepted), then a reset instead of 250
    one-then-reset     one mail accepted (250), then a reset at once
    one-then-reset-on-command   one mail accepted, then a reset at the next command
    421-at-mail        MAIL FROM answered "421 ... closing", then the connection closed
    refuse-rcpt        RCPT TO refused with a two-line 550 (an ESC byte in it), then
                       a normal server
A reset is a close with SO_LINGER 0: the client sees "Connection reset by peer".
With --cert/--key, EHLO offers STARTTLS (TLS 1.2+) and the plan runs on
inside TLS. No AUTH is offered (the tests send without a password).

FILE receives one line per event, as it happens:
    port N                    listening
    conn I PLAN               connection I began, following PLAN
    reset I WHERE             connection I was reset
    accepted I MARKS          a whole mail body arrived on connection I;
                              MARKS: the words "mark-..." found in it, or "-"
    delivered I MARKS         ... and it was acknowledged with 250
The server exits after --timeout seconds (default 60) or on SIGTERM.
Python 3 standard library only.
"""
import argparse
import email
import email.policy
import re
import signal
import socket
import ssl
import struct
import sys
import threading
import time

MARK = re.compile(rb"mark-[A-Za-z0-9]+")


class Reset(Exception):
    pass


def marks_of(body):
    """The words mark-... in a mail, its MIME parts decoded; "-" when none."""
    raw = b"\r\n".join(l[1:] if l.startswith(b".") else l for l in body.split(b"\n"))
    found = MARK.findall(raw)
    try:
        for part in email.message_from_bytes(raw, policy=email.policy.compat32).walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                found += MARK.findall(payload)
    except Exception:  # a broken mail: the raw text's marks only
        pass
    return " ".join(sorted(set(m.decode("ascii") for m in found))) or "-"


class Session:
    def __init__(self, sock, n, plan, rec, ctx):
        self.sock, self.n, self.plan, self.rec, self.ctx = sock, n, plan, rec, ctx
        self.buf = b""
        self.mails = 0

    def reset(self, where):
        self.rec("reset", self.n, where)
        try:  # a TLS socket too: close() then sends no close_notify, only the RST
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        raise Reset()

    def line(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def send(self, text):
        self.sock.sendall(text.encode("ascii") + b"\r\n")

    def body(self):
        """Reads a DATA body up to the lone dot; returns it (still dot-stuffed)."""
        lines = []
        while True:
            line = self.line()
            if line is None:
                raise Reset()  # the client went away
            if line == b".":
                return b"\n".join(lines)
            lines.append(line)
            if self.plan == "during-data" and len(lines) >= 3:
                self.reset("during-data")

    def run(self):
        self.send("220 reset.example.test ESMTP reset test server")
        if self.plan == "after-greeting":
            time.sleep(0.05)  # the greeting leaves first
            self.reset("after-greeting")
        ehlo_done = False
        while True:
            line = self.line()
            if line is None:
                return
            verb = line.split(b" ", 1)[0].upper()
            if ehlo_done and self.plan == "after-ehlo":
                self.reset("after-ehlo")
            if self.mails and self.plan == "one-then-reset-on-command":
                self.reset("on-command")
            if verb in (b"EHLO", b"HELO"):
                ext = "250-STARTTLS\r\n" if self.ctx and not isinstance(self.sock, ssl.SSLSocket) else ""
                self.send("250-reset.example.test\r\n" + ext + "250-8BITMIME\r\n250 SIZE 10000000")
                ehlo_done = True
            elif verb == b"STARTTLS" and self.ctx:
                self.send("220 2.0.0 Ready to start TLS")
                self.sock = self.ctx.wrap_socket(self.sock, server_side=True)
                self.buf = b""
                ehlo_done = False
            elif verb == b"MAIL":
                if self.plan == "after-mail":
                    self.reset("after-mail")
                if self.plan == "421-at-mail":
                    self.rec("reset", self.n, "421-at-mail")
                    self.send("421 4.3.2 reset.example.test Service shutting down, closing channel")
                    return
                self.send("250 2.1.0 Ok")
            elif verb == b"RCPT":
                if self.plan == "after-rcpt":
                    self.reset("after-rcpt")
                if self.plan == "refuse-rcpt":
                    self.rec("refused", self.n, "rcpt")
                    self.send("550-5.7.1 first line of the refusal\r\n550 5.7.1 second \x1b[1mline")
                    continue
                self.send("250 2.1.5 Ok")
            elif verb == b"DATA":
                self.send("354 End data with <CR><LF>.<CR><LF>")
                body = self.body()
                marks = marks_of(body)
                self.rec("accepted", self.n, marks)
                if self.plan == "after-dot":
                    self.reset("after-dot")
                self.send("250 2.0.0 Ok: queued")
                self.rec("delivered", self.n, marks)
                self.mails += 1
                if self.plan == "one-then-reset":
                    time.sleep(0.05)  # the 250 leaves first
                    self.reset("after-one")
            elif verb == b"RSET" or verb == b"NOOP":
                self.send("250 2.0.0 Ok")
            elif verb == b"QUIT":
                self.send("221 2.0.0 Bye")
                return
            else:
                self.send("502 5.5.2 Error: command not recognized")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--record", required=True)
    p.add_argument("--plan", default="ok")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--timeout", type=float, default=60.0)
    a = p.parse_args()
    plans = [x for x in a.plan.split(",") if x]
    ctx = None
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(a.cert, a.key)

    lock = threading.Lock()
    out = open(a.record, "a", buffering=1, encoding="ascii")

    def rec(*words):
        with lock:
            out.write(" ".join(str(w) for w in words) + "\n")
            out.flush()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", a.port))
    srv.listen(8)
    rec("port", srv.getsockname()[1])
    deadline = time.monotonic() + a.timeout
    n = 0

    def serve(sock, n, plan):
        s = Session(sock, n, plan, rec, ctx)
        sock.settimeout(max(deadline - time.monotonic(), 0.1))
        try:
            s.run()
        except (Reset, OSError, ssl.SSLError):
            pass
        finally:
            try:
                s.sock.close()
            except OSError:
                pass

    while time.monotonic() < deadline:
        srv.settimeout(max(deadline - time.monotonic(), 0.1))
        try:
            sock, _ = srv.accept()
        except socket.timeout:
            break
        n += 1
        plan = plans[n - 1] if n <= len(plans) else "ok"
        rec("conn", n, plan)
        threading.Thread(target=serve, args=(sock, n, plan), daemon=True).start()
    return 0


if __name__ == "__main__":
    sys.exit(main())
