#!/usr/bin/python3
"""ews_exchangelib_worker.py - the reference of bench_ews: python3-exchangelib
doing what mailchan's exchange binding does, against the same EWS responder
(MC_EWS_URL, MC_EWS_CA, MC_EWS_ALICE_PW, MC_EWS_CAROL_PW from its env.sh).

Reads one number K a line on stdin; for each: alice sends K mails to carol
(per mail: Message.save() into Drafts = CreateItem SaveOnly, then
Message.send() = SendItem, a copy to Sent Items), each a MIME mail with the
[net.mail] stamp and a 1 KiB body like mailchan's; then carol takes them all
from her Inbox (she has no "Service E-mail"; not bob, whose folder mailchan's
listener watches meanwhile): FindItem (subject contains the stamp) with GetItem
of the MIME content (exchangelib fetches in batches), and DeleteItem
HardDelete of them (bulk_delete), until all K are gone. Prints the seconds
this took and the CPU seconds this process used, one line per K. Connections are set up and logged in before the
first K (Account objects, one warm-up request), as mailchan's transports are.
Prints "ready" first; exit 77 without exchangelib."""
import os
import sys
import time
import uuid

try:
    import requests.adapters
    from exchangelib import (Account, BASIC, Build, Configuration, Credentials, DELEGATE, FaultTolerance,
                             Mailbox, Message, Version)
    from exchangelib.items import HARD_DELETE
    from exchangelib.protocol import BaseProtocol
except ImportError as e:
    print("skipped: %s (install python3-exchangelib)" % e, flush=True)
    sys.exit(77)

STAMP = "[net.mail] benchref"


class CAAdapter(requests.adapters.HTTPAdapter):
    def cert_verify(self, conn, url, verify, cert):
        super().cert_verify(conn=conn, url=url, verify=os.environ["MC_EWS_CA"], cert=cert)


def account(user, pw):
    config = Configuration(service_endpoint=os.environ["MC_EWS_URL"], credentials=Credentials(user, pw),
                           auth_type=BASIC, version=Version(build=Build(15, 1, 2507, 6)),
                           retry_policy=FaultTolerance(max_wait=60))
    return Account(user, config=config, autodiscover=False, access_type=DELEGATE)


def mime(i):
    return ("From: alice@example.test\r\nTo: carol@example.test\r\nSubject: %s %d\r\n"
            "Message-ID: <%s@bench>\r\nMIME-Version: 1.0\r\nContent-Type: application/soap+xml; charset=utf-8\r\n"
            "\r\n%s\r\n" % (STAMP, i, uuid.uuid4(), "x" * 1000)).encode()


def main():
    BaseProtocol.HTTP_ADAPTER_CLS = CAAdapter
    a = account("alice@example.test", os.environ["MC_EWS_ALICE_PW"])
    b = account("carol@example.test", os.environ["MC_EWS_CAROL_PW"])
    folder = b.inbox
    to = [Mailbox(email_address="carol@example.test")]
    # warm up: folders resolved, both sessions logged in
    a.drafts.all().count()
    folder.all().count()
    print("ready", flush=True)
    n = 0
    for line in sys.stdin:
        k = int(line)
        t0, c0 = time.monotonic(), time.process_time()
        for _ in range(k):
            m = Message(account=a, folder=a.drafts, mime_content=mime(n), to_recipients=to)
            m.save()
            m.send()
            n += 1
        got = 0
        deadline = time.monotonic() + 300
        while got < k and time.monotonic() < deadline:
            items = list(folder.filter(subject__contains=STAMP).only("mime_content"))
            if items:
                assert all(it.mime_content for it in items)
                b.bulk_delete([(it.id, it.changekey) for it in items], delete_type=HARD_DELETE)
                got += len(items)
        if got != k:
            sys.exit("received %d of %d" % (got, k))
        print("%.6f %.6f" % (time.monotonic() - t0, time.process_time() - c0), flush=True)


if __name__ == "__main__":
    main()
