#!/usr/bin/python3
"""Proof that the EWS responder answers like Exchange: an independent EWS
client, python3-exchangelib (Debian), works against it over HTTPS, and every
request it sends passes Microsoft's schema. Plus: a schema-invalid request is
refused as Exchange refuses it, requests quoted from Microsoft's documentation
are accepted and answered, and the auth, impersonation and fault-injection
paths behave.

Starts the responder with start.sh in a temporary directory and always stops
it. usage: test_exchangelib.py   (exit 77 when exchangelib or openssl is missing)
"""
import base64
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
import uuid
from datetime import timedelta

HERE = os.path.dirname(os.path.abspath(__file__))
try:
    import requests.adapters
    from exchangelib import (Account, BASIC, Build, Configuration, Credentials, DELEGATE, FaultTolerance,
                             IMPERSONATION, Mailbox, Message, Q, Version)
    from exchangelib.errors import ErrorImpersonateUserDenied, ErrorItemNotFound, TransportError
    from exchangelib.items import HARD_DELETE
    from exchangelib.properties import NewMailEvent
    from exchangelib.protocol import BaseProtocol
except ImportError as e:
    print("skipped: %s (install python3-exchangelib)" % e)
    sys.exit(77)
if shutil.which("openssl") is None:
    print("skipped: openssl is not installed")
    sys.exit(77)

ENV = {}
WORK = None
CA = {"path": None}


class CAAdapter(requests.adapters.HTTPAdapter):
    """Trusts exactly the CA under test (CA["path"])."""

    def cert_verify(self, conn, url, verify, cert):
        super().cert_verify(conn=conn, url=url, verify=CA["path"], cert=cert)


def setUpModule():
    global WORK
    WORK = tempfile.mkdtemp(prefix="mcews.")
    try:
        # EWS "minutes" of 2 s: ConnectionTimeout=1 ends a stream after 2 s
        subprocess.run(["bash", os.path.join(HERE, "start.sh"), WORK, "--minute-seconds", "2", "--heartbeat", "1"],
                       check=True, stdout=subprocess.DEVNULL, timeout=60)
        with open(os.path.join(WORK, "env.sh")) as f:
            for line in f:
                for k, v in re.findall(r"(MC_EWS_\w+)=(\S+)", line):
                    ENV[k] = v
    except Exception:
        tearDownModule()
        raise
    CA["path"] = ENV["MC_EWS_CA"]
    BaseProtocol.HTTP_ADAPTER_CLS = CAAdapter


def tearDownModule():
    if WORK:
        subprocess.run(["bash", os.path.join(HERE, "stop.sh"), WORK], timeout=30)
        if os.environ.get("MC_KEEP_EWS_DIR"):
            print("responder files kept in", WORK)
        else:
            shutil.rmtree(WORK, ignore_errors=True)


def ssl_ctx():
    return ssl.create_default_context(cafile=ENV["MC_EWS_CA"])


def control(obj):
    req = urllib.request.Request(ENV["MC_EWS_CONTROL"], data=json.dumps(obj).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ssl_ctx(), timeout=30) as r:
        return json.loads(r.read())


def post(xml, auth=None, headers=None):
    """(status, headers, body) of a raw EWS request."""
    h = {"Content-Type": "text/xml; charset=utf-8", "User-Agent": "mailchan-ews-test-raw"}
    if auth:
        h["Authorization"] = auth
    h.update(headers or {})
    req = urllib.request.Request(ENV["MC_EWS_URL"], data=xml if isinstance(xml, bytes) else xml.encode(),
                                 headers=h)
    try:
        with urllib.request.urlopen(req, context=ssl_ctx(), timeout=30) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def basic(user, pw):
    return "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()


PASSWORDS = {"alice": "MC_EWS_ALICE_PW", "bob": "MC_EWS_BOB_PW", "carol": "MC_EWS_CAROL_PW", "svc": "MC_EWS_SVC_PW"}


def account(name, impersonate=None, url=None):
    user = name + "@example.test"
    config = Configuration(service_endpoint=url or ENV["MC_EWS_URL"], credentials=Credentials(user, ENV[PASSWORDS[name]]),
                           auth_type=BASIC, version=Version(build=Build(15, 1, 2507, 6)),
                           retry_policy=FaultTolerance(max_wait=60))
    if impersonate:
        return Account(impersonate + "@example.test", config=config, autodiscover=False, access_type=IMPERSONATION)
    return Account(user, config=config, autodiscover=False, access_type=DELEGATE)


def stamp():
    return "[T%s]" % uuid.uuid4().hex[:10]


def mime(frm, to, subject, body="hello\r\n"):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\n"
            "Message-ID: <%s@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "\r\n%s" % (frm, to, subject, uuid.uuid4().hex, body)).encode()


def deliver(to, data):
    return control({"deliver": {"to": to, "mime": base64.b64encode(data).decode()}})["delivered"]


def dump(addr):
    return control({"dump": addr})


def wait_for(fn, what, timeout=10.0):
    """Polls fn() until it returns something true (bounded)."""
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def log_lines():
    """The log's complete lines (a line still being written is left for
    the next read)."""
    with open(ENV["MC_EWS_LOG"]) as f:
        return [json.loads(line) for line in f if line.endswith("\n")]


def await_log(pred, seconds=5.0):
    """The log's lines once one satisfies pred (the responder writes a
    request's line after its response has gone out), or at the deadline."""
    end = time.monotonic() + seconds
    while True:
        lines = log_lines()
        if any(pred(e) for e in lines) or time.monotonic() > end:
            return lines
        time.sleep(0.05)


def items_in(addr, folder, tag):
    return [i for i in dump(addr)["items"] if i["folder"].endswith(folder) and tag in i["subject"]]


class ExchangelibAgainstResponder(unittest.TestCase):
    """exchangelib 4.9 (Debian) drives the responder; each test checks the
    mailbox state through the control endpoint."""

    def test_01_send_and_save(self):
        a = account("alice")
        tag = stamp()
        body = mime("alice@example.test", "bob@example.test", "send and save " + tag)
        m = Message(account=a, folder=a.sent, mime_content=body, to_recipients=[Mailbox(email_address="bob@example.test")])
        m.send_and_save()
        got = wait_for(lambda: items_in("bob@example.test", "/Inbox", tag), "delivery to bob")
        self.assertEqual(len(got), 1)
        self.assertFalse(got[0]["is_read"])
        self.assertEqual(len(items_in("alice@example.test", "/Sent Items", tag)), 1)
        # and bob reads it through EWS, MIME included
        b = account("bob")
        found = list(b.inbox.filter(subject__contains=tag).only("subject", "mime_content"))
        self.assertEqual(len(found), 1)
        self.assertTrue(found[0].mime_content.endswith(body))

    def test_02_service_folder_rule(self):
        a = account("alice")
        tag = stamp()
        for to in ("bob@example.test", "carol@example.test"):
            Message(account=a, folder=a.sent, subject="[net.mail] %s" % tag, body="x",
                    to_recipients=[Mailbox(email_address=to)]).send_and_save()
        wait_for(lambda: items_in("bob@example.test", "/Service E-mail", tag), "bob's Service E-mail")
        wait_for(lambda: items_in("carol@example.test", "/Inbox", tag), "carol's Inbox (she has no Service E-mail)")
        # FindFolder under msgfolderroot finds it for bob, not for carol
        self.assertIn("Service E-mail", [f.name for f in account("bob").msg_folder_root.children])
        self.assertNotIn("Service E-mail", [f.name for f in account("carol").msg_folder_root.children])

    def test_03_save_then_send(self):
        a = account("alice")
        tag = stamp()
        m = Message(account=a, folder=a.drafts, subject="draft " + tag, body="later",
                    to_recipients=[Mailbox(email_address="carol@example.test")])
        m.save()
        self.assertEqual(len(items_in("alice@example.test", "/Drafts", tag)), 1)
        m.send()
        wait_for(lambda: items_in("carol@example.test", "/Inbox", tag), "delivery to carol")
        self.assertEqual(items_in("alice@example.test", "/Drafts", tag), [])
        self.assertEqual(items_in("alice@example.test", "/Outbox", tag), [])
        self.assertEqual(len(items_in("alice@example.test", "/Sent Items", tag)), 1)

    def test_04_find_by_subject_with_mime_paged(self):
        c = account("carol")
        tag = stamp()
        sent = {}
        for n in range(5):
            data = mime("x@outside.test", "carol@example.test", "find %s no %d" % (tag, n))
            sent["find %s no %d" % (tag, n)] = data
            deliver("carol@example.test", data)
        deliver("carol@example.test", mime("x@outside.test", "carol@example.test", "unrelated"))
        # icontains: ContainmentComparison IgnoreCase (contains is Exact)
        self.assertEqual(c.inbox.filter(subject__contains=tag.lower()).count(), 0)
        qs = c.inbox.filter(subject__icontains=tag.lower()).only("subject", "mime_content", "datetime_received")
        qs.page_size = 2        # three FindItem pages (IndexedPageItemView) + GetItem
        got = {i.subject: i.mime_content for i in qs}
        self.assertEqual(set(got), set(sent))
        for subj, data in sent.items():
            self.assertTrue(got[subj].endswith(data), subj)
        newest_first = [i.subject for i in c.inbox.filter(subject__contains=tag).order_by("-datetime_received")]
        self.assertEqual(len(newest_first), 5)
        # And / Or / IsEqualTo / IsGreaterThan as exchangelib writes them
        since = c.inbox.filter(subject__contains=tag).order_by("datetime_received")[0].datetime_received
        self.assertEqual(c.inbox.filter(Q(subject__contains=tag) & Q(is_read=False)
                                        & Q(datetime_received__gte=since)).count(), 5)
        self.assertEqual(c.inbox.filter(Q(subject="find %s no 1" % tag) | Q(subject="find %s no 3" % tag)).count(), 2)
        self.assertEqual(c.inbox.filter(subject__contains=tag, datetime_received__gt=since + timedelta(days=1)).count(),
                         0)

    def test_05_bulk_hard_delete(self):
        c = account("carol")
        tag = stamp()
        for n in range(3):
            deliver("carol@example.test", mime("x@outside.test", "carol@example.test", "del %s %d" % (tag, n)))
        ids = [(i.id, i.changekey) for i in c.inbox.filter(subject__contains=tag).only("id", "changekey")]
        self.assertEqual(len(ids), 3)
        gone = ids[0]
        self.assertEqual(c.bulk_delete([gone], delete_type=HARD_DELETE), [True])
        res = c.bulk_delete(ids[1:] + [gone], delete_type=HARD_DELETE)
        self.assertEqual(res[:2], [True, True])
        self.assertIsInstance(res[2], ErrorItemNotFound)
        self.assertEqual(items_in("carol@example.test", "", tag), [])     # not in Deleted Items either

    def test_06_move_to_trash_and_mark_read(self):
        c = account("carol")
        tag = stamp()
        deliver("carol@example.test", mime("x@outside.test", "carol@example.test", "trash " + tag))
        item = c.inbox.get(subject__contains=tag)
        old_key = item.changekey
        item.is_read = True
        item.save(update_fields=["is_read"])
        self.assertNotEqual(item.changekey, old_key)
        self.assertTrue(items_in("carol@example.test", "/Inbox", tag)[0]["is_read"])
        item.move_to_trash()        # exchangelib: DeleteItem MoveToDeletedItems
        self.assertEqual(items_in("carol@example.test", "/Inbox", tag), [])
        self.assertEqual(len(items_in("carol@example.test", "/Deleted Items", tag)), 1)
        # MoveItem to the distinguished deleteditems folder: a new id comes back
        deliver("carol@example.test", mime("x@outside.test", "carol@example.test", "move " + tag))
        item = c.inbox.get(subject="move " + tag)
        old_id = item.id
        item.move(c.trash)
        self.assertNotEqual(item.id, old_id)
        moved = items_in("carol@example.test", "/Deleted Items", "move " + tag)
        self.assertEqual([i["id"] for i in moved], [item.id])

    def test_07_pull_subscription(self):
        c = account("carol")
        sid, wm = c.inbox.subscribe_to_pull(event_types=["NewMailEvent", "CreatedEvent"])
        try:
            tag = stamp()
            item = deliver("carol@example.test", mime("x@outside.test", "carol@example.test", "pull " + tag))
            notes = list(c.inbox.get_events(sid, wm))
            new_mail = [e for n in notes for e in n.events if isinstance(e, NewMailEvent)]
            self.assertEqual([e.item_id.id for e in new_mail], [item["id"]])
        finally:
            c.inbox.unsubscribe(sid)

    def test_08_streaming_subscription(self):
        c = account("carol")
        sid = c.inbox.subscribe_to_streaming()
        tag = stamp()
        result = {}

        def later():
            time.sleep(0.5)
            result["item"] = deliver("carol@example.test", mime("x@outside.test", "carol@example.test", "stream " + tag))
        th = threading.Thread(target=later)
        th.start()
        events = []
        for n in c.inbox.get_streaming_events(sid, connection_timeout=1, max_notifications_returned=1):
            events += n.events
        th.join(10)
        new_mail = [e for e in events if isinstance(e, NewMailEvent)]
        self.assertEqual([e.item_id.id for e in new_mail], [result["item"]["id"]])
        # a stream with nothing to say ends with ConnectionStatus Closed after its timeout (2 s here)
        self.assertEqual(list(c.inbox.get_streaming_events(sid, connection_timeout=1)), [])
        c.inbox.unsubscribe(sid)

    def test_09_server_busy_backoff(self):
        c = account("carol")
        control({"busy": {"op": "FindItem", "count": 1, "backoff_ms": 1500}})
        list(c.inbox.all().only("subject"))
        timeline = [e for e in control({"stats": True})["stats"]["timeline"] if e["operation"] == "FindItem"]
        busy = [i for i, e in enumerate(timeline) if e["summary"] == "Fault:ErrorServerBusy"][-1]
        self.assertGreater(len(timeline), busy + 1, "exchangelib did not retry")
        retry = timeline[busy + 1]
        self.assertEqual(retry["http_status"], 200)
        self.assertGreaterEqual(retry["time"], timeline[busy]["end"] + 1.5 - 0.01,
                                "the retry came before the back-off ended")

    def test_10_sync_folder_items(self):
        a = account("alice")
        tag = stamp()
        deliver("alice@example.test", mime("x@outside.test", "alice@example.test", "sync " + tag))
        changes = list(a.inbox.sync_items(only_fields=["subject"]))
        state = a.inbox.item_sync_state
        self.assertTrue(any(kind == "create" and tag in item.subject for kind, item in changes))
        item = a.inbox.get(subject__contains=tag)
        item_id = item.id
        item.delete()
        again = list(a.inbox.sync_items(sync_state=state, only_fields=["subject"]))
        self.assertEqual([(kind, i.id) for kind, i in again], [("delete", item_id)])

    def test_11_impersonation(self):
        tag = stamp()
        deliver("carol@example.test", mime("x@outside.test", "carol@example.test", "imp " + tag))
        as_carol = account("svc", impersonate="carol")
        self.assertEqual([i.subject for i in as_carol.inbox.filter(subject__contains=tag)], ["imp " + tag])
        lines = log_lines()
        self.assertTrue(any(e.get("impersonated") == "carol@example.test" and e["mailbox"] == "carol@example.test"
                            and e.get("anchor_mailbox") == "carol@example.test" for e in lines))
        with self.assertRaises(ErrorImpersonateUserDenied):
            list(account("alice", impersonate="carol").inbox.all())

    def test_12_wrong_ca(self):
        CA["path"] = ENV["MC_EWS_OTHER_CA"]
        try:
            # another host name for the same server: exchangelib caches a protocol (and its
            # verified connections) per endpoint
            url = ENV["MC_EWS_URL"].replace("127.0.0.1", "localhost")
            with self.assertRaises(TransportError):
                account("alice", url=url).inbox.total_count
        finally:
            CA["path"] = ENV["MC_EWS_CA"]

    def test_99_exchangelib_sent_no_invalid_request(self):
        lines = log_lines()
        ours = [e for e in lines if "exchangelib" in (e.get("user_agent") or "")]
        ops = sorted({e["operation"] for e in ours})
        print("\nexchangelib used: %s (%d requests)" % (", ".join(ops), len(ours)))
        for e in ours:
            self.assertIsNot(e.get("valid"), False, e)
        self.assertEqual([e for e in lines if e.get("response_valid") is False], [])
        self.assertEqual(sum(1 for e in lines if e.get("unimplemented")), 0)
        for op in ("CreateItem", "SendItem", "FindItem", "GetItem", "DeleteItem", "MoveItem", "UpdateItem",
                   "FindFolder", "GetFolder", "Subscribe", "GetEvents", "GetStreamingEvents", "Unsubscribe",
                   "SyncFolderItems"):
            self.assertIn(op, ops)


FINDITEM_OUT_OF_ORDER = """<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
  xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"
  xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
  <soap:Header><t:RequestServerVersion Version="Exchange2016"/></soap:Header>
  <soap:Body>
    <m:FindItem Traversal="Shallow">
      <m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds>
      <m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>
    </m:FindItem>
  </soap:Body>
</soap:Envelope>"""


class RawRequests(unittest.TestCase):
    """Requests written by hand or quoted from Microsoft's documentation."""

    def _example(self, name, fix_namespace):
        with open(os.path.join(HERE, "examples", name)) as f:
            xml = f.read()
        if fix_namespace:
            xml = xml.replace("https://schemas.xmlsoap.org/soap/envelope/", "http://schemas.xmlsoap.org/soap/envelope/")
        return xml

    def _log_of(self, ua):
        mine = lambda e: e.get("user_agent") == ua
        return [e for e in await_log(mine) if mine(e)]

    def test_schema_invalid_request_rejected(self):
        ua = "raw-invalid-" + uuid.uuid4().hex[:6]
        status, _, body = post(FINDITEM_OUT_OF_ORDER, basic("alice@example.test", ENV["MC_EWS_ALICE_PW"]),
                               {"User-Agent": ua})
        self.assertEqual(status, 500)
        self.assertIn("a:ErrorSchemaValidation</faultcode>", body)
        self.assertIn(">ErrorSchemaValidation</e:ResponseCode>", body)
        self.assertIn("<t:Violation>", body)
        entry = self._log_of(ua)[-1]
        self.assertIs(entry["valid"], False)
        self.assertEqual(entry["operation"], "FindItem")
        self.assertIn("ItemShape", entry["validation_error"])

    def test_not_well_formed_and_wrong_envelope(self):
        auth = basic("alice@example.test", ENV["MC_EWS_ALICE_PW"])
        status, _, body = post("<soap:Envelope", auth)
        self.assertEqual(status, 500)
        self.assertIn("ErrorSchemaValidation", body)
        status, _, body = post("<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>", auth)
        self.assertEqual(status, 500)
        self.assertIn("ErrorSchemaValidation", body)
        # the documentation's https:// envelope namespace is not SOAP 1.1
        status, _, body = post(self._example("finditem-paged.xml", False), auth)
        self.assertEqual(status, 500)
        self.assertIn("VersionMismatch", body)

    def test_documented_requests_answered(self):
        auth = basic("alice@example.test", ENV["MC_EWS_ALICE_PW"])
        ua = "raw-docs-" + uuid.uuid4().hex[:6]
        h = {"User-Agent": ua}
        # CreateItem SendAndSaveCopy to an outside address: sent (dropped), copy in Sent Items
        status, _, body = post(self._example("createitem-sendandsavecopy.xml", True), auth, h)
        self.assertEqual(status, 200, body)
        self.assertIn('CreateItemResponseMessage ResponseClass="Success"', body)
        self.assertTrue(items_in("alice@example.test", "/Sent Items", "Company Soccer Team"))
        # paged FindItem in the Inbox
        for n in range(8):
            deliver("alice@example.test", mime("x@outside.test", "alice@example.test", "page %d" % n))
        status, _, body = post(self._example("finditem-paged.xml", True), auth, h)
        self.assertEqual(status, 200, body)
        self.assertRegex(body, r'IndexedPagingOffset="6" TotalItemsInView="\d+" IncludesLastItemInRange="false"')
        self.assertEqual(body.count("<t:Message>"), 6)
        # pull subscription, as published
        status, _, body = post(self._example("subscribe-pull.xml", False), auth, h)
        self.assertEqual(status, 200, body)
        self.assertIn("<m:SubscriptionId>", body)
        self.assertIn("<m:Watermark>", body)
        # GetItem with IncludeMimeContent: the documented (shortened) id is malformed ...
        xml = self._example("getitem-mime.xml", False)
        status, _, body = post(xml, auth, h)
        self.assertEqual(status, 200, body)
        self.assertIn("ErrorInvalidIdMalformed", body)
        # ... a real one gets the MIME
        item = deliver("alice@example.test", mime("x@outside.test", "alice@example.test", "export me"))
        xml = re.sub(r'Id="[^"]*" ChangeKey="[^"]*"', 'Id="%s"' % item["id"], xml)
        status, _, body = post(xml, auth, h)
        self.assertEqual(status, 200, body)
        mc = re.search(r'<t:MimeContent CharacterSet="UTF-8">([^<]+)</t:MimeContent>', body)
        self.assertIn(b"Subject: export me", base64.b64decode(mc.group(1)))
        for e in self._log_of(ua):
            self.assertIs(e["valid"], True, e)

    def test_auth(self):
        xml = self._example("subscribe-pull.xml", False)
        status, hdrs, _ = post(xml)
        self.assertEqual(status, 401)
        self.assertIn("Basic", hdrs.get("WWW-Authenticate"))
        status, _, _ = post(xml, basic("alice@example.test", "wrong"))
        self.assertEqual(status, 401)
        token = ENV["MC_EWS_DAVE_TOKEN"]
        status, _, body = post(xml, "Bearer " + token, {"X-AnchorMailbox": "dave@example.test"})
        self.assertEqual(status, 200, body)
        bearer = lambda e: e.get("user") == "dave@example.test" and e.get("auth_scheme") == "Bearer"
        lines = await_log(bearer)
        self.assertTrue(any(bearer(e) for e in lines))
        self.assertNotIn(token, json.dumps(log_lines()))
        new = control({"new_token": {"user": "dave@example.test"}})["token"]
        control({"expire_tokens": True})
        status, hdrs, _ = post(xml, "Bearer " + token)
        self.assertEqual(status, 401)
        self.assertIn('error="invalid_token"', hdrs.get("WWW-Authenticate"))
        status, _, _ = post(xml, "Bearer " + new)
        self.assertEqual(status, 401)       # expire_tokens expires every token issued so far
        fresh = control({"new_token": {"user": "dave@example.test"}})["token"]
        self.assertEqual(post(xml, "Bearer " + fresh)[0], 200)

    def _env(self, body):
        return ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/'
                'envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://'
                'schemas.microsoft.com/exchange/services/2006/types"><soap:Header><t:RequestServerVersion Version='
                '"Exchange2016"/></soap:Header><soap:Body>%s</soap:Body></soap:Envelope>' % body)

    def test_strict_like_exchange(self):
        auth = basic("alice@example.test", ENV["MC_EWS_ALICE_PW"])
        mime_b64 = base64.b64encode(mime("bob@example.test", "carol@example.test", "forged")).decode()
        create = ('<m:CreateItem MessageDisposition="%s"><m:Items><t:Message><t:MimeContent>%s</t:MimeContent>'
                  '</t:Message></m:Items></m:CreateItem>')
        # From: another user's address: ErrorSendAsDenied, nothing delivered
        status, _, body = post(self._env(create % ("SendOnly", mime_b64)), auth)
        self.assertEqual(status, 200)
        self.assertIn("<m:ResponseCode>ErrorSendAsDenied</m:ResponseCode>", body)
        self.assertEqual(items_in("carol@example.test", "", "forged"), [])
        # a draft, then SendItem with a stale ChangeKey, with contradicting save settings
        tag = stamp()
        own = base64.b64encode(mime("alice@example.test", "carol@example.test", "draft " + tag)).decode()
        status, _, body = post(self._env(create % ("SaveOnly", own)), auth)
        item_id, ck = re.search(r'<t:ItemId Id="([^"]+)" ChangeKey="([^"]+)"/>', body).groups()
        ids = '<m:ItemIds><t:ItemId Id="%s" ChangeKey="%s"/></m:ItemIds>'
        stale = ck[:-4] + ("AAAA" if not ck.endswith("AAAA") else "AAAB")
        status, _, body = post(self._env('<m:SendItem SaveItemToFolder="true">%s</m:SendItem>' % (ids % (item_id, stale))),
                               auth)
        self.assertIn("<m:ResponseCode>ErrorStaleObject</m:ResponseCode>", body)
        status, _, body = post(self._env('<m:SendItem SaveItemToFolder="false">%s<m:SavedItemFolderId>'
                                         '<t:DistinguishedFolderId Id="sentitems"/></m:SavedItemFolderId></m:SendItem>'
                                         % (ids % (item_id, ck))), auth)
        self.assertIn("<m:ResponseCode>ErrorInvalidSendItemSaveSettings</m:ResponseCode>", body)
        # GetItem of three ids: one good, one malformed, one not found -> one message each, in order
        deleted = deliver("alice@example.test", mime("x@outside.test", "alice@example.test", "gone"))["id"]
        post(self._env('<m:DeleteItem DeleteType="HardDelete"><m:ItemIds><t:ItemId Id="%s"/></m:ItemIds>'
                       '</m:DeleteItem>' % deleted), auth)
        status, _, body = post(self._env('<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>'
                                         '<m:ItemIds><t:ItemId Id="%s"/><t:ItemId Id="AAMkAD%%3D"/><t:ItemId Id="%s"/>'
                                         '</m:ItemIds></m:GetItem>' % (item_id, deleted)), auth)
        codes = re.findall(r'ResponseClass="(\w+)">.*?<m:ResponseCode>(\w+)<', body)
        self.assertEqual(codes, [("Success", "NoError"), ("Error", "ErrorInvalidIdMalformed"),
                                 ("Error", "ErrorItemNotFound")])
        # CreateItem of a message without MessageDisposition
        status, _, body = post(self._env(create.replace(' MessageDisposition="%s"', "") % own), auth)
        self.assertIn("<m:ResponseCode>ErrorMessageDispositionRequired</m:ResponseCode>", body)
        # another mailbox's folder by DistinguishedFolderId + Mailbox: no delegate rights here
        status, _, body = post(self._env('<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly'
                                         '</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId '
                                         'Id="inbox"><t:Mailbox><t:EmailAddress>bob@example.test</t:EmailAddress>'
                                         '</t:Mailbox></t:DistinguishedFolderId></m:ParentFolderIds></m:FindItem>'),
                               auth)
        self.assertIn("<m:ResponseCode>ErrorAccessDenied</m:ResponseCode>", body)

    def test_streaming_raw(self):
        """GetStreamingEvents on the wire: chunked, one whole envelope per chunk,
        an OK first, the events, Closed at the end; drop_streams cuts it."""
        import http.client
        auth = basic("carol@example.test", ENV["MC_EWS_CAROL_PW"])
        status, _, body = post(self._env('<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds>'
                                         '<t:DistinguishedFolderId Id="inbox"/></t:FolderIds><t:EventTypes><t:EventType>'
                                         'NewMailEvent</t:EventType></t:EventTypes></m:StreamingSubscriptionRequest>'
                                         '</m:Subscribe>'), auth)
        sid = re.search(r"<m:SubscriptionId>([^<]+)<", body).group(1)
        req = self._env('<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>%s</t:SubscriptionId>'
                        '</m:SubscriptionIds><m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>' % sid)
        port = int(ENV["MC_EWS_PORT"])

        def open_stream():
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=ssl_ctx(), timeout=30)
            conn.request("POST", "/EWS/Exchange.asmx", body=req.encode(),
                         headers={"Authorization": auth, "Content-Type": "text/xml; charset=utf-8"})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertEqual(resp.getheader("Transfer-Encoding"), "chunked")
            return conn, resp
        conn, resp = open_stream()
        first = resp.read1()
        self.assertIn(b"<m:ConnectionStatus>OK</m:ConnectionStatus>", first)
        self.assertTrue(first.rstrip().endswith(b"</s:Envelope>"))
        deliver("carol@example.test", mime("x@outside.test", "carol@example.test", "raw stream"))
        rest = resp.read()          # until the stream ends after its ConnectionTimeout (2 s here)
        self.assertIn(b"<t:NewMailEvent>", rest)
        self.assertTrue(rest.rstrip().endswith(b"<m:ConnectionStatus>Closed</m:ConnectionStatus>"
                                               b"</m:GetStreamingEventsResponseMessage></m:ResponseMessages>"
                                               b"</m:GetStreamingEventsResponse></s:Body></s:Envelope>"))
        conn.close()
        conn, resp = open_stream()
        resp.read1()
        self.assertEqual(control({"drop_streams": True})["dropped"], 1)
        with self.assertRaises((http.client.IncompleteRead, ConnectionError, ssl.SSLError)):
            resp.read()
        conn.close()

    def test_http_error_injection(self):
        control({"http_error": {"status": 503, "count": 1, "retry_after": 2}})
        status, hdrs, _ = post(self._example("subscribe-pull.xml", False),
                               basic("alice@example.test", ENV["MC_EWS_ALICE_PW"]))
        self.assertEqual(status, 503)
        self.assertEqual(hdrs.get("Retry-After"), "2")


if __name__ == "__main__":
    unittest.main(verbosity=2)
