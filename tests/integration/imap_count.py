#!/usr/bin/python3
"""imap_count.py - a second IMAP client (Python's imaplib, independent of
mailchan and libetpan) that prints how many mails not flagged \\Deleted a
folder holds, optionally only those whose Subject contains a text; -1 when
the folder does not exist.

usage: imap_count.py PORT USER PASSWORD CA_FILE FOLDER [SUBJECT]
(STARTTLS on 127.0.0.1, the certificate verified against CA_FILE)"""
import imaplib
import ssl
import sys


def quoted(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


def main():
    port, user, pw, ca, folder = sys.argv[1:6]
    subject = sys.argv[6] if len(sys.argv) > 6 else None
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False  # the test certificate names localhost; 127.0.0.1 is dialled
    imap = imaplib.IMAP4("127.0.0.1", int(port))
    imap.starttls(ctx)
    imap.login(user, pw)
    typ, _ = imap.select(quoted(folder), readonly=True)
    if typ != "OK":
        print(-1)
        return
    crit = ["UNDELETED"]
    if subject:
        crit += ["SUBJECT", quoted(subject)]
    typ, data = imap.search(None, *crit)
    print(len(data[0].split()) if typ == "OK" and data[0] else 0)
    imap.logout()


if __name__ == "__main__":
    main()
