#!/usr/bin/env python3
"""faultproxy.py - a TCP proxy on 127.0.0.1 that injects network faults
between mailchan and the test mail servers (tests/mailserver/start.sh).

It forwards bytes blindly (STARTTLS and implicit TLS pass through untouched)
for one or more routes, each a local listening port in front of one server
port, and is switched between modes while a test runs:

  pass       forward everything
  reset      forward, but cut every connection at a random byte: after a
             budget drawn uniformly from 1..MAX bytes (both directions
             counted together, drawn when the connection is first seen in
             this mode), forward exactly up to the budget and close both
             sides with RST (SO_LINGER 0). Cuts therefore land anywhere:
             in the TLS handshake, mid-command, mid-DATA, mid-FETCH.
  blackhole  keep every connection open, accept new ones, forward nothing
             in either direction (bytes wait in the kernel's buffers, so a
             later "pass" resumes intact streams): a server gone silent.
  refuse     close every connection with RST, open ones at once and new
             ones as soon as they are accepted, before a byte reaches the
             server: a server that is down (connection refused or reset).

Control: a Unix stream socket (--control PATH), one command per line, one
reply line ("ok ..." or "err ..."):
  mode pass|reset|blackhole|refuse [ROUTE]   all routes when ROUTE is omitted
  max ROUTE BYTES                      the reset budget's upper bound
  stats                                counters per route (see below)
  quit
`python3 faultproxy.py --help` lists the options.

Log (--log FILE): one line per event, wall-clock time first, e.g.
  CUT t=1712345678.123 route=smtp conn=17 dir=c2s c2s=5123 s2c=3345 budget=8468 where=tls-app-large rec=1412@800
where= names what the cut byte was inside, as seen from the outside:
  plain          before STARTTLS (or on a plain connection); last= names the
                 last client command verb
  tls-handshake  a TLS record other than application data
  tls-app-small  an application-data record under 1000 bytes (commands, replies)
  tls-app-large  one of 1000 bytes or more: SMTP mail data (c2s), IMAP FETCH
                 bodies (s2c)
  tls-header     inside a record's 5-byte header
  boundary       exactly between two records
When the proxy stops (quit, SIGTERM) it writes SUMMARY lines with the totals.

Ready file (--ready FILE): written (atomically) once every route listens,
one line "ROUTE PORT" per route.

Run alone, e.g. in front of the servers of `. /tmp/srv-d/env.sh`:
  python3 tests/fault/faultproxy.py --route smtp=$MC_SUBMISSION_PORT \
      --route imap=$MC_IMAP_PORT --control /tmp/fp.ctl --log /tmp/fp.log \
      --ready /tmp/fp.ready
  python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.connect("/tmp/fp.ctl");
      s.sendall(b"mode reset\n"); print(s.recv(4096).decode())'
Every loop is bounded by the sockets' own state and 0.2 s select timeouts;
the proxy exits when told to, on SIGTERM, or when its parent dies
(--parent PID).
"""
import argparse
import os
import random
import select
import signal
import socket
import struct
import sys
import threading
import time

MODES = ("pass", "reset", "blackhole", "refuse")
LARGE_RECORD = 1000
POLL_S = 0.2


class TlsTracker:
    """Follows one direction of a connection: plain text until STARTTLS (or
    TLS from the first byte for implicit TLS), then TLS record headers, so a
    cut can say what it landed in. Only for the log: never changes a byte."""

    def __init__(self, tls_from_start):
        self.tls = tls_from_start
        self.hdr = b""
        self.rec_type = None
        self.rec_len = 0
        self.rec_off = 0  # bytes of the current record's body seen
        self.records = 0
        self.line = b""
        self.last_verb = ""

    def where(self):
        """What the next byte of this direction lands in."""
        if not self.tls:
            return "plain", "last=%s" % (self.last_verb or "-")
        if self.rec_type is None:
            return ("boundary" if not self.hdr else "tls-header"), "rec#%d" % self.records
        if self.rec_type != 23:
            kind = "tls-handshake"
        elif self.rec_len >= LARGE_RECORD:
            kind = "tls-app-large"
        else:
            kind = "tls-app-small"
        return kind, "rec=%d@%d" % (self.rec_len, self.rec_off)

    def feed(self, data):
        i = 0
        n = len(data)
        while i < n:
            if not self.tls:
                j = data.find(b"\n", i)
                if j < 0:
                    self.line = (self.line + data[i:])[-200:]
                    return
                line = (self.line + data[i:j]).strip()
                self.line = b""
                i = j + 1
                verb = line.split(b" ")
                # IMAP lines start with a tag: take the command after it
                word = verb[1] if len(verb) > 1 and not verb[0].isalpha() else verb[0]
                self.last_verb = word[:12].decode("ascii", "replace").upper()
                if self.starttls_next(line):
                    self.tls = True
                continue
            if self.rec_type is None:
                take = min(5 - len(self.hdr), n - i)
                self.hdr += data[i:i + take]
                i += take
                if len(self.hdr) == 5:
                    self.rec_type, _, self.rec_len = struct.unpack("!BHH", self.hdr)
                    self.hdr = b""
                    self.rec_off = 0
                    self.records += 1
                    if self.rec_len == 0:
                        self.rec_type = None
                continue
            take = min(self.rec_len - self.rec_off, n - i)
            self.rec_off += take
            i += take
            if self.rec_off == self.rec_len:
                self.rec_type = None

    def starttls_next(self, line):
        """Overridden per direction by Conn: whether TLS starts after this line."""
        return False


class Route:
    def __init__(self, name, target_port, implicit_tls):
        self.name = name
        self.target = ("127.0.0.1", target_port)
        self.implicit_tls = implicit_tls
        self.mode = "pass"
        self.max_budget = 50000
        self.conns = 0
        self.cuts = 0
        self.refused = 0
        self.where = {}
        self.dirs = {"c2s": 0, "s2c": 0}
        self.bytes = 0
        self.listener = None
        self.port = 0


class Conn:
    def __init__(self, proxy, route, client, cid):
        self.proxy = proxy
        self.route = route
        self.id = cid
        self.c = client
        self.s = None
        self.lock = threading.Lock()
        self.dead = False
        self.budget = None
        self.total = 0
        self.count = {"c2s": 0, "s2c": 0}
        self.done = {"c2s": False, "s2c": False}
        self.track = {"c2s": TlsTracker(route.implicit_tls), "s2c": TlsTracker(route.implicit_tls)}
        self.starttls_seen = False
        c2s, s2c = self.track["c2s"], self.track["s2c"]

        def c2s_starttls(line):
            if line.upper().endswith(b"STARTTLS"):
                self.starttls_seen = True
                return True
            return False

        def s2c_starttls(line):
            # the server's reply to STARTTLS is the last plain line it sends
            return self.starttls_seen and (line[:1] != b"*" and not line[3:4] == b"-")

        c2s.starttls_next = c2s_starttls
        s2c.starttls_next = s2c_starttls

    def start(self):
        if self.route.mode == "refuse":
            self.refuse()
            return
        try:
            self.s = socket.create_connection(self.route.target, timeout=5)
            self.s.settimeout(None)
        except OSError as e:
            self.proxy.log("ERR t=%.3f route=%s conn=%d upstream connect failed: %s"
                           % (time.time(), self.route.name, self.id, e))
            self.abort()
            return
        for d, src, dst in (("c2s", self.c, self.s), ("s2c", self.s, self.c)):
            threading.Thread(target=self.pump, args=(d, src, dst), daemon=True).start()

    def refuse(self):
        with self.proxy.lock:
            self.route.refused += 1
        self.proxy.log("REFUSE t=%.3f route=%s conn=%d" % (time.time(), self.route.name, self.id))
        self.abort()

    def abort(self):
        """Closes both sides with RST."""
        with self.lock:
            if self.dead:
                return
            self.dead = True
        for sk in (self.c, self.s):
            if sk is None:
                continue
            try:
                sk.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            try:
                sk.close()
            except OSError:
                pass

    def close(self):
        with self.lock:
            if self.dead:
                return
            self.dead = True
        for sk in (self.c, self.s):
            try:
                sk.close()
            except OSError:
                pass

    def pump(self, d, src, dst):
        route = self.route
        held = b""
        try:
            while not self.dead and not self.proxy.stopping:
                if route.mode == "refuse":
                    self.refuse()
                    return
                if route.mode == "blackhole":
                    self.proxy.wait_mode_change(POLL_S)
                    continue
                if not held:
                    r, _, _ = select.select([src], [], [], POLL_S)
                    if not r:
                        continue
                    try:
                        held = src.recv(65536)
                    except OSError:
                        held = None
                    if not held:  # EOF or error: pass the FIN on
                        self.half_close(d, dst)
                        return
                    if route.mode == "blackhole":
                        continue  # keep it until the mode changes
                data, held = held, b""
                cut_at = None
                with self.lock:
                    if self.dead:
                        return
                    if route.mode == "reset":
                        if self.budget is None:
                            self.budget = self.total + self.proxy.rng.randint(1, route.max_budget)
                        if self.total + len(data) >= self.budget:
                            cut_at = self.budget - self.total
                    n = len(data) if cut_at is None else cut_at
                    self.total += n
                    self.count[d] += n
                    route.bytes += n
                if cut_at is None:
                    self.track[d].feed(data)
                    dst.sendall(data)
                    continue
                self.track[d].feed(data[:cut_at])
                if cut_at:
                    dst.sendall(data[:cut_at])
                self.cut(d)
                return
        except (OSError, ValueError):  # ValueError: select() on a socket the other pump closed
            self.abort()

    def half_close(self, d, dst):
        with self.lock:
            self.done[d] = True
            both = self.done["c2s"] and self.done["s2c"]
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        if both:
            self.close()

    def cut(self, d):
        where, detail = self.track[d].where()
        route = self.route
        with self.proxy.lock:
            route.cuts += 1
            route.dirs[d] += 1
            key = "%s/%s" % (d, where)
            route.where[key] = route.where.get(key, 0) + 1
        self.proxy.log("CUT t=%.3f route=%s conn=%d dir=%s c2s=%d s2c=%d budget=%d where=%s %s"
                       % (time.time(), route.name, self.id, d, self.count["c2s"], self.count["s2c"],
                          self.budget, where, detail))
        self.abort()


class Proxy:
    def __init__(self, args):
        self.routes = {}
        self.lock = threading.Lock()
        self.mode_cv = threading.Condition()
        self.stopping = False
        self.rng = random.Random(args.seed)
        self.logf = open(args.log, "a", buffering=1) if args.log else None
        self.next_id = 0
        self.started = time.time()
        for spec in args.route:
            name, _, rest = spec.partition("=")
            port, _, flag = rest.partition(":")
            self.routes[name] = Route(name, int(port), flag == "tls")
        for spec in args.max or []:
            name, _, val = spec.partition("=")
            self.routes[name].max_budget = max(1, int(val))
        self.log("START t=%.3f seed=%s routes=%s" % (self.started, args.seed, ",".join(
            "%s->%d%s" % (r.name, r.target[1], "(tls)" if r.implicit_tls else "") for r in self.routes.values())))

    def log(self, line):
        if self.logf:
            with self.lock:
                self.logf.write(line + "\n")

    def wait_mode_change(self, timeout):
        with self.mode_cv:
            self.mode_cv.wait(timeout)

    def set_mode(self, mode, route=None):
        targets = [self.routes[route]] if route else list(self.routes.values())
        with self.mode_cv:
            for r in targets:
                r.mode = mode
            self.mode_cv.notify_all()
        self.log("MODE t=%.3f %s %s" % (time.time(), mode, ",".join(r.name for r in targets)))

    def listen(self):
        for r in self.routes.values():
            ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind(("127.0.0.1", 0))
            ls.listen(64)
            r.listener = ls
            r.port = ls.getsockname()[1]
            threading.Thread(target=self.accept_loop, args=(r,), daemon=True).start()

    def accept_loop(self, route):
        while not self.stopping:
            r, _, _ = select.select([route.listener], [], [], POLL_S)
            if not r:
                continue
            try:
                c, _ = route.listener.accept()
            except OSError:
                continue
            with self.lock:
                self.next_id += 1
                cid = self.next_id
                route.conns += 1
            self.log("CONN t=%.3f route=%s conn=%d mode=%s" % (time.time(), route.name, cid, route.mode))
            Conn(self, route, c, cid).start()

    def stats(self):
        parts = []
        with self.lock:
            for r in self.routes.values():
                where = ",".join("%s=%d" % kv for kv in sorted(r.where.items())) or "-"
                parts.append("route=%s mode=%s conns=%d cuts=%d refused=%d bytes=%d c2s_cuts=%d s2c_cuts=%d "
                             "where=%s" % (r.name, r.mode, r.conns, r.cuts, r.refused, r.bytes, r.dirs["c2s"],
                                           r.dirs["s2c"], where))
        return " ; ".join(parts)

    def command(self, line):
        words = line.split()
        if not words:
            return "err empty"
        if words[0] == "mode" and len(words) in (2, 3) and words[1] in MODES:
            if len(words) == 3 and words[2] not in self.routes:
                return "err no route %s" % words[2]
            self.set_mode(words[1], words[2] if len(words) == 3 else None)
            return "ok"
        if words[0] == "max" and len(words) == 3 and words[1] in self.routes and words[2].isdigit():
            self.routes[words[1]].max_budget = max(1, int(words[2]))
            return "ok"
        if words[0] == "stats":
            return "ok " + self.stats()
        if words[0] == "quit":
            self.stopping = True
            return "ok"
        return "err unknown command"

    def control_loop(self, path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ctl.bind(path)
        ctl.listen(8)
        while not self.stopping:
            r, _, _ = select.select([ctl], [], [], POLL_S)
            if not r:
                continue
            conn, _ = ctl.accept()
            conn.settimeout(5)
            buf = b""
            try:
                while not self.stopping:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
                    while b"\n" in buf:
                        line, buf = buf.split(b"\n", 1)
                        reply = self.command(line.decode("ascii", "replace"))
                        conn.sendall((reply + "\n").encode())
            except OSError:
                pass
            conn.close()
        ctl.close()
        os.unlink(path)

    def summary(self):
        self.log("SUMMARY t=%.3f duration=%.1fs %s" % (time.time(), time.time() - self.started, self.stats()))


def main():
    ap = argparse.ArgumentParser(description="fault-injecting TCP proxy for mailchan's tests (see the file's header)")
    ap.add_argument("--route", action="append", required=True,
                    help="NAME=PORT or NAME=PORT:tls (implicit TLS) - listen on an ephemeral 127.0.0.1 port "
                         "in front of 127.0.0.1:PORT")
    ap.add_argument("--max", action="append", help="NAME=BYTES: upper bound of the reset budget (default 50000)")
    ap.add_argument("--control", required=True, help="Unix socket for commands")
    ap.add_argument("--log", help="event log file (appended)")
    ap.add_argument("--ready", help="file written with 'ROUTE PORT' lines once listening")
    ap.add_argument("--seed", default=str(int(time.time())), help="random seed (logged)")
    ap.add_argument("--mode", default="pass", choices=MODES, help="initial mode of every route")
    ap.add_argument("--parent", type=int, default=0, help="exit when this process is gone")
    args = ap.parse_args()
    proxy = Proxy(args)
    proxy.listen()
    proxy.set_mode(args.mode)
    signal.signal(signal.SIGTERM, lambda *_: setattr(proxy, "stopping", True))
    threading.Thread(target=proxy.control_loop, args=(args.control,), daemon=True).start()
    if args.ready:
        tmp = args.ready + ".tmp"
        with open(tmp, "w") as f:
            for r in proxy.routes.values():
                f.write("%s %d\n" % (r.name, r.port))
        os.rename(tmp, args.ready)
    while not proxy.stopping:
        time.sleep(POLL_S)
        if args.parent and os.getppid() != args.parent:
            proxy.stopping = True
    proxy.summary()
    time.sleep(POLL_S * 2)  # let the control reply to "quit" go out
    return 0


if __name__ == "__main__":
    sys.exit(main())
