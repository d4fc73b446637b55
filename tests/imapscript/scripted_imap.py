#!/usr/bin/env python3
"""A scripted IMAP server on 127.0.0.1 for tests: a small, honest IMAP4rev1
mailbox (LOGIN, CAPABILITY, LIST, SELECT, UID SEARCH, UID FETCH incl.
partial fetches, UID STORE, UID EXPUNGE, IDLE, NOOP, LOGOUT) that misbehaves
in one chosen way (--scenario), the way a hostile or broken server would.

    scripted_imap.py --port P --scenario NAME [--mail FILE]... [--late FILE]...
                     [--record FILE] [--lifetime SECONDS]

--mail files are in the mailbox from the start; --late files arrive at the
moment the scenario chooses. The server serves one connection at a time,
stops by itself after --lifetime seconds (default 60) and prints
"listening" once the port is open. --record appends one line per command
received (so a test can see what the client did).

Scenarios:
  normal          behaves
  exists_in_fetch a late mail arrives while the client's header FETCH runs:
                  its "* n EXISTS" comes inside that FETCH's reply and is
                  never repeated (the lost wake-up window)
  exists_in_idle  a late mail's EXISTS is sent in the same packet as the
                  "+ idling" continuation (data already buffered)
  literal_huge    a FETCH answered with a {4294967295} literal, then junk
  endless_line    UID SEARCH answered with a line that never ends
  exists_flood    "* 1 EXISTS" forever while the client idles
  deep_parens     an unsolicited FETCH with 20000 nested parentheses
  repeat_fetch    every FETCH response is sent twice for each UID
  silent_idle     after IDLE's continuation, nothing ever again
  silent_greeting accepts connections and never greets
  escape_text     NO responses carrying terminal escape sequences

Folders (any scenario): --namespace PREFIX makes the server announce
NAMESPACE and answer (("PREFIX" ".")) NIL NIL, as Courier and Cyrus without
altnamespace do with "INBOX."; CREATE of a name outside it is refused
("NO Invalid mailbox name"). --folder NAME adds a folder, --mail-folder NAME
is where the --mail files are, --special-use NAME announces SPECIAL-USE and
marks that folder \Trash (only in the answer to LIST (SPECIAL-USE), as
servers may do), --no-create refuses every CREATE. UID MOVE and UID COPY
move mail between folders; --no-move leaves MOVE out of the capabilities
and refuses UID MOVE, as a server without RFC 6851 does. Without --namespace, LIST shows INBOX and a
folder "Trash" marked \Trash, as before.
"""
import argparse
import re
import socket
import sys
import threading
import time

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--scenario", default="normal")
p.add_argument("--mail", action="append", default=[])
p.add_argument("--late", action="append", default=[])
p.add_argument("--flagged", action="append", default=[], help="mail already flagged \\Deleted")
p.add_argument("--record")
p.add_argument("--lifetime", type=float, default=60)
p.add_argument("--namespace")
p.add_argument("--folder", action="append", default=[])
p.add_argument("--mail-folder", default="INBOX")
p.add_argument("--special-use")
p.add_argument("--no-create", action="store_true")
p.add_argument("--no-move", action="store_true")
a = p.parse_args()

start = time.time()
mails = [open(f, "rb").read() for f in a.mail]
late = [open(f, "rb").read() for f in a.late]
box = []  # [uid, data, deleted]
for m in mails:
    box.append([len(box) + 1, m, False])
for f in a.flagged:
    box.append([len(box) + 1, open(f, "rb").read(), True])
next_uid = len(box) + 1
folders = {"INBOX": []}
for name in a.folder + ([a.special_use] if a.special_use else []):
    folders[name] = []
if a.namespace is None:
    folders.setdefault("Trash", [])
folders[a.mail_folder] = box
selected = None
caps = b"IMAP4rev1 IDLE UIDPLUS" + (b"" if a.no_move else b" MOVE") + (b" NAMESPACE" if a.namespace is not None else b"") + \
    (b" SPECIAL-USE" if a.special_use else b"")


def mailbox_arg(text):
    """The mailbox name of a command: quoted or an atom."""
    m = re.match(r'\s*"((?:[^"\\]|\\.)*)"', text)
    if m:
        return re.sub(r"\\(.)", r"\1", m.group(1))
    return text.strip().split(" ")[0]


def list_line(name):
    flags = "\\HasNoChildren"
    if name == a.special_use or (a.namespace is None and name == "Trash"):
        flags += " \\Trash"
    return b'* LIST (%s) "%s" "%s"\r\n' % (flags.encode(), b"." if a.namespace is not None else b"/",
                                          name.encode())


def alive():
    return time.time() - start < a.lifetime


def record(line):
    if a.record:
        with open(a.record, "a") as f:
            f.write(line + "\n")


def arrive():
    """Late mail lands; returns the new EXISTS count."""
    global next_uid
    while late:
        box.append([next_uid, late.pop(0), False])
        next_uid += 1
    return len(box)


def uids_of(spec):
    out = []
    for part in spec.split(","):
        if ":" in part:
            lo, hi = part.split(":")
            lo = int(lo)
            hi = 2 ** 32 - 1 if hi == "*" else int(hi)
            out += [m[0] for m in box if lo <= m[0] <= hi]
        elif part != "*":
            out.append(int(part))
    return out


def subject_of(data):
    m = re.search(rb"^Subject:.*?\r\n(?![ \t])", data, re.M | re.S | re.I)
    return (m.group(0) if m else b"") + b"\r\n"


def stream_forever(c, chunk):
    try:
        while alive():
            c.sendall(chunk)
    except OSError:
        pass


def fetch_one(seq, msg, items):
    uid, data, _ = msg
    parts = [b"UID %d" % uid]
    if "RFC822.SIZE" in items:
        parts.append(b"RFC822.SIZE %d" % len(data))
    if "INTERNALDATE" in items:
        parts.append(b'INTERNALDATE "30-Nov-2026 12:00:00 +0000"')
    hm = re.search(r"BODY\.PEEK\[HEADER\.FIELDS \(([^)]*)\)\](<(\d+)\.(\d+)>)?", items, re.I)
    bm = re.search(r"BODY\.PEEK\[\](<(\d+)\.(\d+)>)?", items, re.I)
    if hm:
        body = subject_of(data)
        if hm.group(2):
            body = body[: int(hm.group(4))]
            parts.append(b"BODY[HEADER.FIELDS (%s)]<0> {%d}\r\n%s" % (hm.group(1).encode(), len(body), body))
        else:
            parts.append(b"BODY[HEADER.FIELDS (%s)] {%d}\r\n%s" % (hm.group(1).encode(), len(body), body))
    if bm:
        body = data
        if bm.group(1):
            body = data[int(bm.group(2)): int(bm.group(2)) + int(bm.group(3))]
            parts.append(b"BODY[]<%d> {%d}\r\n%s" % (int(bm.group(2)), len(body), body))
        else:
            parts.append(b"BODY[] {%d}\r\n%s" % (len(body), body))
    return b"* %d FETCH (%s)\r\n" % (seq, b" ".join(parts))


def serve(c):
    global box
    sc = a.scenario
    if sc == "silent_greeting":
        while alive():
            time.sleep(0.2)
        return
    global selected
    c.sendall(b"* OK [CAPABILITY %s] scripted server ready\r\n" % caps)
    f = c.makefile("rb")
    while alive():
        line = f.readline(65536)
        if not line:
            return
        text = line.decode("latin-1").rstrip("\r\n")
        record(text)
        # LOGIN with a literal password
        lm = re.search(r"\{(\d+)\+?\}$", text)
        if lm:
            if not text.endswith("+}"):
                c.sendall(b"+ go\r\n")
            f.read(int(lm.group(1)))
            f.readline()
        tag, _, rest = text.partition(" ")
        cmd = rest.upper()
        ok = lambda what="done": c.sendall(b"%s OK %s\r\n" % (tag.encode(), what.encode()))
        if cmd.startswith("CAPABILITY"):
            c.sendall(b"* CAPABILITY %s\r\n" % caps)
            ok()
        elif cmd.startswith("LOGIN"):
            if sc == "escape_text":
                c.sendall(b"%s NO \x1b[2J\x1b]0;owned\x07 login refused\r\n" % tag.encode())
            else:
                ok("logged in")
        elif cmd.startswith("LIST (SPECIAL-USE)"):
            if a.special_use:
                c.sendall(list_line(a.special_use))
                ok()
            else:
                c.sendall(b"%s BAD unknown command\r\n" % tag.encode())
        elif cmd.startswith("LIST"):
            for name in folders:
                line = list_line(name)
                if a.namespace is not None and name == a.special_use:
                    line = line.replace(b" \\Trash", b"")  # only when asked for
                c.sendall(line)
            ok()
        elif cmd.startswith("NAMESPACE") and a.namespace is not None:
            c.sendall(b'* NAMESPACE (("%s" ".")) NIL NIL\r\n' % a.namespace.encode())
            ok()
        elif cmd.startswith("CREATE"):
            name = mailbox_arg(rest[len("CREATE"):])
            if a.no_create or (a.namespace and not name.startswith(a.namespace)):
                c.sendall(b"%s NO Invalid mailbox name\r\n" % tag.encode())
            elif name in folders:
                c.sendall(b"%s NO Mailbox exists\r\n" % tag.encode())
            else:
                folders[name] = []
                ok()
        elif cmd.startswith("SELECT"):
            name = mailbox_arg(rest[len("SELECT"):])
            if name.upper() == "INBOX":
                name = "INBOX"
            if name not in folders:
                c.sendall(b"%s NO Mailbox does not exist\r\n" % tag.encode())
                continue
            selected = name
            box = folders[name]
            c.sendall(b"* %d EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT %d] n\r\n"
                      % (len(box), next_uid))
            c.sendall(b"%s OK [READ-WRITE] selected\r\n" % tag.encode())
        elif cmd.startswith("UID SEARCH"):
            if sc == "endless_line":
                c.sendall(b"* SEARCH")
                stream_forever(c, b" 1" * 4096)
                return
            deleted = " DELETED" in cmd
            c.sendall(b"* SEARCH %s\r\n" % b" ".join(b"%d" % m[0] for m in box if m[2] == deleted))
            ok()
        elif cmd.startswith("UID FETCH"):
            spec, _, items = rest[len("UID FETCH "):].partition(" ")
            want = set(uids_of(spec))
            if sc == "literal_huge":
                c.sendall(b"* 1 FETCH (UID 1 BODY[] {4294967295}\r\n")
                stream_forever(c, b"x" * 65536)
                return
            if sc == "deep_parens":
                c.sendall(b"* 1 FETCH (BODYSTRUCTURE " + b"(" * 20000 + b")" * 20000 + b")\r\n")
            out = b""
            for seq, msg in enumerate(box, 1):
                if msg[0] in want:
                    one = fetch_one(seq, msg, items)
                    out += one + (one if sc == "repeat_fetch" else b"")
            if sc == "exists_in_fetch" and late and "HEADER.FIELDS" in items.upper():
                out += b"* %d EXISTS\r\n* 1 RECENT\r\n" % arrive()
            c.sendall(out)
            ok()
        elif cmd.startswith("UID STORE"):
            spec = rest[len("UID STORE "):].split(" ")[0]
            for u in uids_of(spec):
                for m in box:
                    if m[0] == u:
                        m[2] = True
            ok()
        elif cmd.startswith("UID EXPUNGE") or cmd.startswith("EXPUNGE"):
            only = set(uids_of(rest.split(" ")[2])) if cmd.startswith("UID") else None
            gone = lambda m: m[2] and (only is None or m[0] in only)
            out = b""
            # from the highest sequence number down: each stays valid
            for seq in range(len(box), 0, -1):
                if gone(box[seq - 1]):
                    out += b"* %d EXPUNGE\r\n" % seq
            c.sendall(out)
            box = [m for m in box if not gone(m)]
            folders[selected] = box
            ok()
        elif cmd.startswith("UID MOVE") and a.no_move:
            c.sendall(b"%s BAD unknown command\r\n" % tag.encode())
        elif cmd.startswith("UID MOVE") or cmd.startswith("UID COPY"):
            spec, _, dest = rest.split(" ", 2)[2].partition(" ")
            dest = mailbox_arg(dest)
            if dest not in folders:
                c.sendall(b"%s NO [TRYCREATE] Mailbox does not exist\r\n" % tag.encode())
                continue
            want = set(uids_of(spec))
            moving = cmd.startswith("UID MOVE")
            out = b""
            for seq in range(len(box), 0, -1):
                if box[seq - 1][0] in want:
                    folders[dest].append([len(folders[dest]) + 1, box[seq - 1][1], False])
                    if moving:
                        out += b"* %d EXPUNGE\r\n" % seq
            if moving:
                box = [m for m in box if m[0] not in want]
                folders[selected] = box
            c.sendall(out)
            ok()
        elif cmd.startswith("IDLE"):
            if sc == "exists_in_idle" and late:
                c.sendall(b"+ idling\r\n* %d EXISTS\r\n" % arrive())
            else:
                c.sendall(b"+ idling\r\n")
            if sc == "exists_flood":
                stream_forever(c, b"* 1 EXISTS\r\n" * 4096)
                return
            if sc == "silent_idle":
                while alive():
                    time.sleep(0.2)
                return
            f.readline()  # DONE
            record("DONE")
            ok("idle done")
        elif cmd.startswith("NOOP"):
            ok()
        elif cmd.startswith("LOGOUT"):
            c.sendall(b"* BYE bye\r\n")
            ok()
            return
        else:
            c.sendall(b"%s BAD unknown command\r\n" % tag.encode())


srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", a.port))
srv.listen(8)
srv.settimeout(0.5)
print("listening", flush=True)
while alive():
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        continue
    conn.settimeout(max(1.0, a.lifetime - (time.time() - start)))
    try:
        serve(conn)
    except OSError:
        pass
    finally:
        try:
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        conn.close()
sys.exit(0)
