#!/usr/bin/python3
"""An EWS responder for mailchan's tests: answers like Exchange, over HTTP/1.1
(keep-alive, optionally TLS >= 1.2), and validates every request against
Microsoft's published EWS schema (schema/). See README.md.

usage: responder.py --user alice@example.test=PASSWORD [--service-folder alice@example.test]
                    [--token dave@example.test=TOKEN] [--impersonator svc@example.test]
                    [--tls CERT KEY] [--listen 127.0.0.1] [--port 0] [--ready FILE] [--log FILE]
"""
import argparse
import base64
import ipaddress
import json
import os
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lxml import etree  # noqa: E402

import ewsops  # noqa: E402
from ewsmodel import EwsError, Store, SERVICE_FOLDER  # noqa: E402
from ewsnotify import notification_xml  # noqa: E402
from ewsxml import (SOAP, M, T, m, t, el, parse, BadXml, Validator, envelope, serialize, fault,  # noqa: E402
                    schema_fault, busy_fault, soap_fault, response_root)

EWS_PATH = "/EWS/Exchange.asmx"
PUBLISHED = {"/EWS/Services.wsdl": "services.wsdl", "/EWS/messages.xsd": "messages.patched.xsd",
             "/EWS/types.xsd": "types.patched.xsd"}
HEADER_ELEMENTS = {"RequestServerVersion", "ExchangeImpersonation", "TimeZoneContext", "MailboxCulture",
                   "SerializedSecurityContext", "DateTimePrecision", "ManagementRole"}


class Faults:
    """Injected faults, consumed by the requests they hit."""

    def __init__(self):
        self.busy = []          # dicts: op, count, backoff_ms
        self.http = []          # dicts: status, count, retry_after, op
        self.drop_streams = 0

    def take(self, lst, opname):
        for f in lst:
            if f.get("op") in (None, "", opname) and f["count"] > 0:
                f["count"] -= 1
                if f["count"] == 0:
                    lst.remove(f)
                return f
        return None


class Responder:
    """State shared by the server threads."""

    def __init__(self, args):
        self.args = args
        self.store = Store(max_message_size=args.max_message_size)
        self.store.events.minute = args.minute_seconds
        ewsops.ITEM_STORE[0] = self.store
        self.passwords = {}
        self.tokens = {}            # token -> address
        self.expired = set()
        self.impersonators = {a.lower() for a in args.impersonator}
        # --trust-proxy-user: an authenticating front end (tests/ews/ntlm) names the user
        self.proxy_header = args.trust_proxy_user
        self.proxy_users = {}
        for spec in args.proxy_user:
            name, _, addr = spec.rpartition("=")
            self.proxy_users[name.lower()] = addr.lower()
        service = {a.lower() for a in args.service_folder}
        self.store.lock.acquire()
        for spec in args.user:
            addr, _, pw = spec.partition("=")
            self.passwords[addr.lower()] = pw
            self.store.add_mailbox(addr, pw, addr.lower() in service)
        for spec in args.token:
            addr, _, tok = spec.partition("=")
            self.tokens[tok] = addr.lower()
            if self.store.mailbox(addr) is None:
                self.store.add_mailbox(addr, None, addr.lower() in service)
        self.store.lock.release()
        for name, addr in self.proxy_users.items():
            if self.store.mailbox(addr) is None:
                raise SystemExit("--proxy-user %s=%s: no such mailbox" % (name, addr))
        self.messages = Validator("messages.patched.xsd")
        self.types = Validator("types.patched.xsd")
        self.faults = Faults()
        self.flock = threading.Lock()
        self.log_lock = threading.Lock()
        # One os.write per line on an O_APPEND descriptor: a reader never
        # sees a line in two pieces from a buffered writer's flushes.
        self.log_fd = os.open(args.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if args.log else None
        self.stats = {"requests": {}, "invalid_requests": 0, "invalid_responses": 0, "timeline": [],
                      "unimplemented": 0}
        self.streams = set()        # open GetStreamingEvents connections (handler objects)

    def log(self, entry):
        with self.log_lock:
            st = self.stats
            op = entry.get("operation") or "-"
            st["requests"][op] = st["requests"].get(op, 0) + 1
            if entry.get("valid") is False:
                st["invalid_requests"] += 1
            if entry.get("response_valid") is False:
                st["invalid_responses"] += 1
            if entry.get("unimplemented"):
                st["unimplemented"] += 1
            st["timeline"].append({k: entry.get(k) for k in ("time", "end", "operation", "http_status", "summary",
                                                            "valid")})
            del st["timeline"][:-10000]
            if self.log_fd is not None:
                data = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
                while data:
                    data = data[os.write(self.log_fd, data):]


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, addr, handler, responder, ssl_ctx, max_threads):
        self.responder = responder
        self.ssl_ctx = ssl_ctx
        self.slots = threading.BoundedSemaphore(max_threads)
        super().__init__(addr, handler)

    def process_request(self, request, client_address):
        self.slots.acquire()     # bounded: the accept loop waits for a free thread
        try:
            super().process_request(request, client_address)
        except Exception:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def finish_request(self, request, client_address):
        # a response goes out in several writes (headers, body, stream chunks): without
        # TCP_NODELAY, Nagle holds the last one back until the client's delayed ACK
        # (40 ms on Linux) - a wait on every request that IIS does not impose
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_ctx is None:
            return super().finish_request(request, client_address)
        request.settimeout(10)
        try:
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.responder.log({"time": time.time(), "operation": "-tls-handshake", "error": str(e),
                                "valid": None})
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""
    timeout = 120            # idle keep-alive connections end after this

    def log_message(self, fmt, *a):    # the JSON log is the log
        pass

    @property
    def r(self):
        return self.server.responder

    # ------------------------------------------------------------ plumbing
    def _send(self, status, body=b"", ctype="text/xml; charset=utf-8", headers=(), close=False):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-FEServer", "RESPONDER1")
        for k, v in headers:
            self.send_header(k, v)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _read_body(self):
        limit = self.r.args.max_body
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if te == "chunked":
            data = b""
            while True:
                line = self.rfile.readline(100)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1000) not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                if len(data) + size > limit:
                    return None
                data += self.rfile.read(size)
                self.rfile.readline(10)
        n = int(self.headers.get("Content-Length") or 0)
        if n > limit:
            return None
        return self.rfile.read(n)

    def _is_loopback(self):
        try:
            return ipaddress.ip_address(self.client_address[0]).is_loopback
        except ValueError:
            return False

    # ------------------------------------------------------------ auth
    def _authenticate(self):
        """(address, scheme) or (None, reason)."""
        if self.r.proxy_header:
            # the front end authenticated the connection: only its header counts
            who = (self.headers.get(self.r.proxy_header) or "").strip()
            if not who:
                return None, "no proxy user"
            if who.lower() in self.r.proxy_users:
                return self.r.proxy_users[who.lower()], "Proxy"
            return None, "unknown proxy user"
        h = self.headers.get("Authorization") or ""
        scheme, _, cred = h.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, pw = base64.b64decode(cred.strip(), validate=True).decode().partition(":")
            except Exception:
                return None, "bad basic"
            user = user.lower()
            if "\\" in user:
                user = user.split("\\", 1)[1]
            if user in self.r.passwords and self.r.passwords[user] == pw:
                return user, "Basic"
            return None, "bad password"
        if scheme.lower() == "bearer":
            tok = cred.strip()
            if tok in self.r.expired:
                return None, "expired token"
            if tok in self.r.tokens:
                return self.r.tokens[tok], "Bearer"
            return None, "unknown token"
        return None, "no credentials"

    def _unauthorized(self, entry, reason):
        hdrs = [("WWW-Authenticate", 'Basic realm="%s"' % self.headers.get("Host", "127.0.0.1"))]
        if reason in ("expired token", "unknown token"):
            desc = "The access token has expired" if reason == "expired token" else "The token is not valid"
            hdrs = [("WWW-Authenticate", 'Bearer error="invalid_token", error_description="%s"' % desc)]
        else:
            hdrs.append(("WWW-Authenticate", 'Bearer authorization_uri="https://login.example.test/oauth2"'))
        entry.update(http_status=401, summary="401 " + reason)
        self._send(401, b"", "text/html", hdrs)

    # ------------------------------------------------------------ HTTP verbs
    def do_GET(self):
        path = self.path.split("?")[0]
        if path in PUBLISHED:
            user, _ = self._authenticate()
            if user is None:
                entry = {"time": time.time(), "operation": "-GET " + path}
                self._unauthorized(entry, "no credentials")
                return
            with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "schema", PUBLISHED[path]), "rb") as f:
                self._send(200, f.read())
            return
        self._send(404, b"", "text/html")

    def do_POST(self):
        path = self.path.split("?")[0]
        if path == "/_control":
            return self._control()
        if path.lower() != EWS_PATH.lower():
            self._read_body()
            self._send(404, b"", "text/html")
            return
        entry = {"time": time.time(), "operation": None, "mailbox": None, "valid": None,
                 "authorization": "Authorization" in self.headers,
                 "anchor_mailbox": self.headers.get("X-AnchorMailbox"),
                 "user_agent": self.headers.get("User-Agent")}
        try:
            self._ews(entry)
        finally:
            entry["end"] = time.time()
            self.r.log(entry)

    # ------------------------------------------------------------ EWS
    def _ews(self, entry):
        r = self.r
        body = self._read_body()
        if body is None:
            entry.update(http_status=413, summary="413 request too large")
            self._send(413, b"", "text/html", close=True)
            return
        user, how = self._authenticate()
        entry["auth_scheme"] = how if user else None
        if r.proxy_header:
            entry["proxy_user"] = self.headers.get(r.proxy_header)
        if user is None:
            self._unauthorized(entry, how)
            return
        entry["user"] = user
        # parse and validate
        try:
            root = parse(body)
        except BadXml as e:
            entry.update(valid=False, validation_error=str(e))
            return self._fault(entry, schema_fault(str(e), e.line, e.col))
        if etree.QName(root).localname != "Envelope" or etree.QName(root).namespace != SOAP:
            entry.update(valid=False, validation_error="not a SOAP 1.1 envelope: %s" % root.tag)
            return self._fault(entry, soap_fault("VersionMismatch", "The SOAP envelope namespace must be %s" % SOAP))
        hdr = root.find("{%s}Header" % SOAP)
        sbody = root.find("{%s}Body" % SOAP)
        kids = [c for c in sbody if isinstance(c.tag, str)] if sbody is not None else []
        if len(kids) != 1:
            entry.update(valid=False, validation_error="soap:Body must hold exactly one element")
            return self._fault(entry, schema_fault(entry["validation_error"], 1, 1))
        req = kids[0]
        opname = etree.QName(req).localname
        entry["operation"] = opname
        problem = None
        if etree.QName(req).namespace != M:
            problem = ("The element %s is not an EWS request" % req.tag, req.sourceline or 0, 0)
        else:
            problem = r.messages.check(req)
            if problem:
                problem = (problem[0], problem[1] + (req.sourceline or 1) - 1, problem[2])
        impersonate = None
        if hdr is not None and problem is None:
            for h in hdr:
                if not isinstance(h.tag, str) or etree.QName(h).namespace != T:
                    continue
                name = etree.QName(h).localname
                if name not in HEADER_ELEMENTS:
                    problem = ("The header %s is not an EWS header" % name, h.sourceline or 0, 0)
                    break
                p = r.types.check(h)
                if p:
                    problem = (p[0], p[1] + (h.sourceline or 1) - 1, p[2])
                    break
                if name == "ExchangeImpersonation":
                    impersonate = h
                if name == "RequestServerVersion":
                    entry["request_server_version"] = h.get("Version")
        if problem:
            entry.update(valid=False, validation_error="line %s: %s" % (problem[1], problem[0]))
            return self._fault(entry, schema_fault(problem[0], problem[1], problem[2]))
        entry["valid"] = True
        # who acts on which mailbox
        actor = r.store.mailbox(user)
        if impersonate is not None:
            sid = impersonate.find(t("ConnectingSID"))
            target = None
            for tag in ("PrimarySmtpAddress", "SmtpAddress", "PrincipalName"):
                if sid.findtext(t(tag)):
                    target = sid.findtext(t(tag)).strip()
            if target is None:
                return self._fault(entry, fault("ErrorInvalidOperation",
                                                "The responder impersonates by SMTP address or UPN only."))
            entry["impersonated"] = target.lower()
            if user not in r.impersonators:
                return self._fault(entry, fault("ErrorImpersonateUserDenied",
                                                "The account does not have permission to impersonate the "
                                                "requested user."))
            actor = r.store.mailbox(target)
            if actor is None:
                return self._fault(entry, fault("ErrorNonExistentMailbox",
                                                "The SMTP address has no mailbox associated with it."))
        if actor is None:
            return self._fault(entry, fault("ErrorNonExistentMailbox",
                                            "The SMTP address has no mailbox associated with it."))
        entry["mailbox"] = actor.address
        # injected faults
        with r.flock:
            hf = r.faults.take(r.faults.http, opname)
            bf = None if hf else r.faults.take(r.faults.busy, opname)
        if hf:
            hdrs = [("Retry-After", str(hf["retry_after"]))] if hf.get("retry_after") is not None else []
            entry.update(http_status=hf["status"], summary="injected HTTP %s" % hf["status"])
            self._send(hf["status"], b"<html><body>Service Unavailable</body></html>", "text/html", hdrs)
            return
        if bf:
            entry["backoff_ms"] = bf["backoff_ms"]
            return self._fault(entry, busy_fault(bf["backoff_ms"]))
        if opname == "GetStreamingEvents":
            return self._streaming(entry, actor, user, req)
        fn = ewsops.OPS.get(opname)
        if fn is None:
            entry["unimplemented"] = True
            return self._fault(entry, fault("ErrorInvalidOperation",
                                            "The test responder does not implement %s." % opname))
        ctx = ewsops.Context(r.store, actor, user)
        with r.store.lock:
            resp = fn(ctx, req)
            r.store.changed.notify_all()
        if ctx.notes:
            entry["notes"] = ctx.notes
        hdrs = [("Set-Cookie", "%s=%s; path=/" % kv) for kv in ctx.cookies.items()]
        self._answer(entry, resp, hdrs)

    def _summary(self, resp):
        counts = {}
        for rm in resp.iter("{%s}*" % M):
            if rm.get("ResponseClass"):
                k = "%s:%s" % (rm.get("ResponseClass"), rm.findtext(m("ResponseCode")))
                counts[k] = counts.get(k, 0) + 1
        return ", ".join("%s x%d" % kv for kv in counts.items())

    def _check_response(self, entry, resp):
        if self.r.args.check_responses:
            p = self.r.messages.check(resp)
            entry["response_valid"] = p is None
            if p:
                entry["response_error"] = "line %s: %s" % (p[1], p[0])

    def _answer(self, entry, resp, hdrs=()):
        self._check_response(entry, resp)
        entry.update(http_status=200, summary=self._summary(resp))
        self._send(200, serialize(envelope(resp)), headers=hdrs)

    def _fault(self, entry, f):
        code = f.findtext("detail/{http://schemas.microsoft.com/exchange/services/2006/errors}ResponseCode") \
            or f.findtext("faultcode")
        entry.update(http_status=500, summary="Fault:%s" % code)
        self._send(500, serialize(envelope(f, version_header=False)))

    # ------------------------------------------------------------ GetStreamingEvents
    def _streaming(self, entry, actor, user, req):
        r = self.r
        store = r.store
        ids = [(s.text or "").strip() for s in req.find(m("SubscriptionIds"))]
        minutes = int(req.findtext(m("ConnectionTimeout")))
        bad = []
        with store.lock:
            subs = []
            for sid in ids:
                try:
                    subs.append(store.events.get(actor, sid, "streaming"))
                except EwsError:
                    bad.append(sid)
            if not bad:
                for s in subs:
                    old = s.stream
                    s.stream = self
                    if old is not None:
                        old.superseded = True
                store.changed.notify_all()
        if bad:
            resp, msgs = response_root("GetStreamingEvents")
            rm = el(msgs, m("GetStreamingEventsResponseMessage"), ResponseClass="Error")
            el(rm, m("MessageText"), "The subscription is not valid.")
            el(rm, m("ResponseCode"), "ErrorInvalidSubscription")
            el(rm, m("DescriptiveLinkKey"), 0)
            es = el(rm, m("ErrorSubscriptionIds"))
            for sid in bad:
                el(es, m("SubscriptionId"), sid)
            el(rm, m("ConnectionStatus"), "Closed")
            return self._answer(entry, resp)
        entry.update(http_status=200, summary="stream of %d subscription(s), %d min" % (len(subs), minutes))
        self.superseded = False
        self.dropped = False
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("X-FEServer", "RESPONDER1")
        self.end_headers()
        with r.flock:
            r.streams.add(self)
        sent_events = 0
        heartbeat = r.args.heartbeat
        deadline = time.monotonic() + minutes * store.events.minute
        next_beat = time.monotonic()        # an OK at once: the stream is open
        try:
            while True:
                with store.lock:
                    while True:
                        nowm = time.monotonic()
                        pending = [(s, list(s.queue)) for s in subs if s.queue]
                        alive = [s for s in subs if store.events.subs.get(s.id) is s]
                        if pending or nowm >= next_beat or nowm >= deadline or self.dropped \
                                or self.superseded or not alive:
                            break
                        store.changed.wait(min(next_beat, deadline) - nowm)
                    if self.dropped:
                        raise ConnectionAbortedError("dropped by the control endpoint")
                    resp, msgs = response_root("GetStreamingEvents")
                    rm = el(msgs, m("GetStreamingEventsResponseMessage"), ResponseClass="Success")
                    el(rm, m("ResponseCode"), "NoError")
                    status = None
                    if pending:
                        ns = el(rm, m("Notifications"))
                        for s, _ in pending:
                            evs = store.events.take_stream(s)
                            sent_events += len(evs)
                            notification_xml(ns, m("Notification"), s, evs)
                    elif nowm >= deadline or self.superseded or not alive:
                        status = "Closed"
                    else:
                        status = "OK"
                        next_beat = nowm + heartbeat
                    if status:
                        el(rm, m("ConnectionStatus"), status)
                    for s in alive:
                        s.last_access = time.monotonic()
                self._check_response(entry, resp)
                data = serialize(envelope(resp))
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
                if status == "Closed":
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    entry["notes"] = ["closed after %d events" % sent_events]
                    break
        except (OSError, ConnectionAbortedError) as e:
            entry["notes"] = ["stream ended: %s after %d events" % (e.__class__.__name__, sent_events)]
            self.close_connection = True
            if self.dropped:
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        finally:
            with r.flock:
                r.streams.discard(self)
            with store.lock:
                for s in subs:
                    if s.stream is self:
                        s.stream = None
            self.close_connection = True

    # ------------------------------------------------------------ control
    def _control(self):
        if not self._is_loopback():
            self._read_body()
            self._send(403, b"loopback only\n", "text/plain")
            return
        body = self._read_body() or b"{}"
        try:
            req = json.loads(body)
            out = self._control_do(req)
            self._send(200, json.dumps(out, sort_keys=True).encode() + b"\n", "application/json")
        except (ValueError, KeyError, TypeError, EwsError) as e:
            self._send(400, json.dumps({"error": "%s: %s" % (e.__class__.__name__, e)}).encode() + b"\n",
                       "application/json")

    def _control_do(self, req):
        r = self.r
        store = r.store
        out = {"ok": True}
        if "busy" in req:
            b = req["busy"]
            with r.flock:
                r.faults.busy.append({"op": b.get("op"), "count": int(b.get("count", 1)),
                                      "backoff_ms": int(b.get("backoff_ms", 2000))})
        if "http_error" in req:
            h = req["http_error"]
            with r.flock:
                r.faults.http.append({"op": h.get("op"), "count": int(h.get("count", 1)),
                                      "status": int(h.get("status", 503)), "retry_after": h.get("retry_after")})
        if req.get("clear_faults"):
            with r.flock:
                r.faults.busy.clear()
                r.faults.http.clear()
        if req.get("expire_tokens"):
            r.expired.update(r.tokens)
        if "new_token" in req:
            tok = base64.urlsafe_b64encode(os.urandom(24)).decode().rstrip("=")
            r.tokens[tok] = req["new_token"]["user"].lower()
            out["token"] = tok
        if req.get("drop_streams"):
            with r.flock:
                streams = list(r.streams)
            for h in streams:
                h.dropped = True
                try:
                    h.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            with store.lock:
                store.changed.notify_all()
            out["dropped"] = len(streams)
        if "deliver" in req:
            d = req["deliver"]
            with store.lock:
                it = store.deliver(d["to"], base64.b64decode(d["mime"]), "(control)")
            out["delivered"] = None if it is None else {"id": it.id, "folder": it.folder.path()}
        if "create_folder" in req:
            c = req["create_folder"]
            with store.lock:
                mbx = store.mailbox(c["user"])
                if mbx is None:
                    raise KeyError(c["user"])
                parent = mbx.by_name[c.get("parent", "msgfolderroot")]
                f = mbx.create_folder(parent, c.get("name", SERVICE_FOLDER))
                store.changed.notify_all()
            out["folder"] = {"id": f.id, "name": f.name}
        if "dump" in req:
            with store.lock:
                mbx = store.mailbox(req["dump"])
                if mbx is None:
                    raise KeyError(req["dump"])
                out["folders"] = [{"id": f.id, "name": f.name, "path": f.path(), "distinguished": f.distinguished,
                                   "total": len(f.items), "unread": f.unread}
                                  for f in mbx.folders.values()]
                out["items"] = [{"id": i.id, "changekey": i.changekey, "subject": i.subject, "is_read": i.is_read,
                                 "folder": i.folder.path(), "size": i.size, "is_draft": i.is_draft,
                                 "received": i.received.isoformat()}
                                for i in mbx.items.values()]
        if req.get("stats"):
            with r.log_lock:
                out["stats"] = json.loads(json.dumps(r.stats))
            with store.lock:
                out["stats"]["subscriptions"] = len(store.events.subs)
                out["stats"]["transport"] = list(store.transport_log)
            with r.flock:
                out["stats"]["open_streams"] = len(r.streams)
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 fromfile_prefix_chars="@")
    ap.add_argument("--user", action="append", default=[], help="ADDRESS=PASSWORD (Basic auth, own mailbox)")
    ap.add_argument("--token", action="append", default=[], help="ADDRESS=TOKEN (Bearer auth)")
    ap.add_argument("--service-folder", action="append", default=[],
                    help="ADDRESS whose mailbox has a 'Service E-mail' folder")
    ap.add_argument("--impersonator", action="append", default=[], help="ADDRESS allowed to impersonate")
    ap.add_argument("--trust-proxy-user", metavar="HEADER",
                    help="trust an authenticating front end: the user is HEADER's value, mapped by --proxy-user; "
                         "Authorization is ignored")
    ap.add_argument("--proxy-user", action="append", default=[], metavar="NAME=ADDRESS",
                    help="with --trust-proxy-user: the front end's user NAME (e.g. DOMAIN\\user) acts as ADDRESS")
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0: a free port (reported through --ready)")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--ready", help="write the port here once listening")
    ap.add_argument("--log", help="one JSON line per request")
    ap.add_argument("--check-responses", action="store_true",
                    help="validate every response body against the schema too (logged, counted in stats)")
    ap.add_argument("--max-body", type=int, default=64 * 1024 * 1024)
    ap.add_argument("--max-message-size", type=int, default=35 * 1024 * 1024)
    ap.add_argument("--max-threads", type=int, default=64)
    ap.add_argument("--heartbeat", type=float, default=30.0, help="seconds between streaming OK messages")
    ap.add_argument("--minute-seconds", type=float, default=60.0,
                    help="length of an EWS 'minute' (ConnectionTimeout, subscription Timeout)")
    args = ap.parse_args()
    if args.proxy_user and not args.trust_proxy_user:
        ap.error("--proxy-user needs --trust-proxy-user")

    responder = Responder(args)
    ctx = None
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.tls[0], args.tls[1])
    srv = Server((args.listen, args.port), Handler, responder, ctx, args.max_threads)
    port = srv.server_address[1]
    if args.ready:
        tmp = args.ready + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.ready)
    print("listening on %s:%d (%s)" % (args.listen, port, "https" if ctx else "http"), flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
