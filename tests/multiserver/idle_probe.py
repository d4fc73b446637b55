#!/usr/bin/python3
"""Measures how soon each IMAP server of the multi-server stage tells an
IDLE-ing client about new mail: logs in (STARTTLS, verified against MCX_CA),
SELECTs the folder, sends IDLE, has Exim deliver a mail, and times the
untagged EXISTS. Standard library only.
  idle_probe.py DIR [ROUNDS]
Prints one line per server and round; exits 1 if a server never reported
the mail within 30 s."""
import os
import shlex
import smtplib
import socket
import ssl
import sys
import time
from email.message import EmailMessage


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            words = shlex.split(line)
            if words and words[0] == "export":
                for w in words[1:]:
                    k, _, v = w.partition("=")
                    env[k] = v
    return env


class Imap:
    def __init__(self, port, ca):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""
        self.n = 0
        self.readline()  # greeting
        self.cmd("STARTTLS")
        ctx = ssl.create_default_context(cafile=ca)
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")
        self.buf = b""

    def readline(self, timeout=30):
        self.sock.settimeout(timeout)
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed")
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode("utf-8", "replace")

    def cmd(self, text):
        self.n += 1
        tag = "t%d" % self.n
        self.sock.sendall(("%s %s\r\n" % (tag, text)).encode())
        lines = []
        while True:
            line = self.readline()
            lines.append(line)
            if line.startswith(tag + " "):
                if not line.startswith(tag + " OK"):
                    raise RuntimeError("%s: %s" % (text, line))
                return lines


def probe(name, port, user, pw, addr, env, smtp_port):
    c = Imap(port, env["MCX_CA"])
    c.cmd('LOGIN "%s" "%s"' % (user, pw))
    c.cmd("SELECT INBOX")
    c.n += 1
    c.sock.sendall(b"idle IDLE\r\n")
    line = c.readline()
    if not line.startswith("+"):
        raise RuntimeError("IDLE: " + line)
    time.sleep(0.5)  # settle into IDLE (and past a first poll)
    msg = EmailMessage()
    msg["From"] = "probe@example.test"
    msg["To"] = addr
    msg["Subject"] = "idle probe %s" % time.time()
    msg.set_content("idle probe")
    t0 = time.monotonic()
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as s:
        s.send_message(msg)
    while True:
        left = 30 - (time.monotonic() - t0)
        if left <= 0:
            return None
        try:
            line = c.readline(timeout=left)
        except socket.timeout:
            return None
        if line.endswith(" EXISTS"):
            return time.monotonic() - t0


def main():
    d = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    env = load_env(os.path.join(d, "env.sh"))
    smtp_port = int(env["MCX_EXIM_SMTP_PORT"])
    servers = [
        ("Cyrus", "MCX_CYRUS_IMAP_PORT", "MCX_CYRUS_INBOX"),
        ("Courier", "MCX_COURIER_IMAP_PORT", "MCX_COURIER_INBOX"),
        ("Courier without UIDPLUS", "MCX_COURIER_NOUIDPLUS_IMAP_PORT", "MCX_COURIER_INBOX"),
    ]
    bad = 0
    for name, port, who in servers:
        for r in range(rounds):
            t = probe(name, int(env[port]), env[who + "_USER"], env[who + "_PW"],
                      env[who + "_ADDR"], env, smtp_port)
            if t is None:
                bad += 1
                print("%s: round %d: no EXISTS within 30 s" % (name, r + 1))
            else:
                print("%s: round %d: EXISTS %.2f s after the mail was handed to Exim"
                      % (name, r + 1, t))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
