#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_imap (tests/corpus/imap/): the server's
side of whole sessions, normal and hostile, some large enough to cross the
fuzz build's guard limits (line 4096, literal 70000, reply 256 KiB, 1000
responses, nesting 64). Run: make_imap_seeds.py OUTDIR"""
import os
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
MAIL = (b"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: [net.mail] orders\r\n"
        b"Message-ID: <1@x>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n"
        b"<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body/></s:Envelope>\r\n")
SUBJ = b"Subject: [net.mail] orders\r\n\r\n"


def session(caps=b"IMAP4rev1 IDLE UIDPLUS MOVE", listing=None, search=b"* SEARCH 1 2\r\n",
            headers=None, bodies=None, store=b"", expunge=b"* 1 EXPUNGE\r\n", move=b"", idle=b"+ idling\r\n* 3 EXISTS\r\n",
            extra_fetch=b""):
    listing = listing if listing is not None else (b'* LIST (\\HasNoChildren) "/" "INBOX"\r\n'
                          b'* LIST (\\HasNoChildren) "/" "Service E-mail"\r\n'
                          b'* LIST (\\HasNoChildren \\Trash) "/" "Trash"\r\n')
    if headers is None:
        headers = b"".join(b"* %d FETCH (UID %d RFC822.SIZE %d INTERNALDATE \"30-Nov-2026 12:00:00 +0000\" "
                           b"BODY[HEADER.FIELDS (Subject)]<0> {%d}\r\n%s)\r\n" % (i, i, len(MAIL), len(SUBJ), SUBJ)
                           for i in (1, 2))
    if bodies is None:
        bodies = b"".join(b"* %d FETCH (UID %d BODY[]<0> {%d}\r\n%s)\r\n" % (i, i, len(MAIL), MAIL) for i in (1, 2))
    return (b"* OK [CAPABILITY " + caps + b"] ready\r\n"
            b"1 OK logged in\r\n"
            b"* CAPABILITY " + caps + b"\r\n2 OK done\r\n"
            + listing + b"3 OK done\r\n"
            b"* 2 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT 3] n\r\n4 OK [READ-WRITE] selected\r\n"
            + search + b"5 OK done\r\n"
            + headers + extra_fetch + b"6 OK done\r\n"
            + bodies + b"7 OK done\r\n"
            + store + b"8 OK done\r\n"
            + expunge + b"9 OK done\r\n"
            + move + b"10 OK [COPYUID 9 2 5] moved\r\n"
            + idle + b"11 OK idle done\r\n")


seeds = {
    "normal": session(),
    "no-uidplus-no-move": session(caps=b"IMAP4rev1 IDLE"),
    "capability-ok-without-data": b"* OK ready\r\n1 OK logged in\r\n2 OK done\r\n",
    "repeat-fetch": session(headers=session().split(b"4 OK [READ-WRITE] selected\r\n")[1].split(b"5 OK done\r\n")[0] * 0
                            + b"* 1 FETCH (UID 1 RFC822.SIZE 10 BODY[HEADER.FIELDS (Subject)]<0> {%d}\r\n%s)\r\n" % (len(SUBJ), SUBJ) * 3),
    "exists-in-fetch": session(extra_fetch=b"* 3 EXISTS\r\n* 1 RECENT\r\n"),
    "bodystructure": session(extra_fetch=b"* 1 FETCH (BODYSTRUCTURE " + b"(" * 40 + b"\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1"
                             + b")" * 40 + b")\r\n"),
    "literal-mailbox": session(listing=b'* LIST () "/" {14}\r\nService E-mail\r\n'),
    "no-and-bye": session(store=b"", expunge=b"", move=b"* BYE going away\r\n"),
    "refused": b"* OK ready\r\n1 NO [AUTHENTICATIONFAILED] \x1b[2Jbad\r\n",
    "preauth": b"* PREAUTH ready\r\n",
    # large: each crosses one limit of the fuzz build
    "limit-literal": session(bodies=b"* 1 FETCH (UID 1 BODY[]<0> {70001}\r\n" + b"x" * 70001 + b")\r\n"),
    "limit-line": session(search=b"* SEARCH" + b" 1" * 3000 + b"\r\n"),
    "limit-nesting": session(extra_fetch=b"* 1 FETCH (BODYSTRUCTURE " + b"(" * 20000 + b")" * 20000 + b")\r\n"),
    "limit-responses": session(idle=b"+ idling\r\n" + b"* 1 EXISTS\r\n" * 2000),
    "limit-reply": session(bodies=b"".join(b"* %d FETCH (UID %d BODY[]<0> {60000}\r\n%s)\r\n" % (i, i, b"y" * 60000)
                                           for i in range(1, 6))),
    "huge-literal-marker": session(bodies=b"* 1 FETCH (UID 1 BODY[] {4294967295}\r\n" + b"z" * 1000),
    "search-ok-without-data": session(search=b""),
    "list-ok-without-data": session(listing=b""),
    "quoted-parens": session(extra_fetch=b"* 1 FETCH (ENVELOPE (\"((((((\\\"((((\" NIL NIL NIL NIL NIL NIL NIL NIL NIL))\r\n"),
}
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
