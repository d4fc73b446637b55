"""Mailbox model of the EWS test responder: hosted mailboxes, folders, items,
opaque ids and change keys, the transport between hosted mailboxes, and the
change log that subscriptions and SyncFolderItems read.

Every method of Store runs under Store.lock (the caller takes it); the
Condition Store.changed is notified after each change so that open streaming
connections wake up.
"""
import base64
import binascii
import email
import email.parser
import email.policy
import email.utils
import functools
import hashlib
import hmac
import os
import struct
import threading
import time
import zlib
from datetime import datetime, timezone

# distinguished folder ids the responder hosts, with display names and parents
WELL_KNOWN = [
    # (distinguished id, display name, parent distinguished id, folder class)
    ("root", "", None, None),
    ("msgfolderroot", "Top of Information Store", "root", "IPF.Note"),
    ("inbox", "Inbox", "msgfolderroot", "IPF.Note"),
    ("drafts", "Drafts", "msgfolderroot", "IPF.Note"),
    ("outbox", "Outbox", "msgfolderroot", "IPF.Note"),
    ("sentitems", "Sent Items", "msgfolderroot", "IPF.Note"),
    ("deleteditems", "Deleted Items", "msgfolderroot", "IPF.Note"),
    ("junkemail", "Junk Email", "msgfolderroot", "IPF.Note"),
]
SERVICE_FOLDER = "Service E-mail"
SERVICE_TAG = "[net.mail]"

KIND_ITEM, KIND_FOLDER = 1, 2
_ID_LEN = 112   # bytes: base64 of it is 152 characters, about what Exchange hands out


class EwsError(Exception):
    """A per-item (or per-message) EWS error: ResponseClass Error + code."""

    def __init__(self, code, text=None, message_xml=None):
        super().__init__(code)
        self.code = code
        self.text = text or ERROR_TEXT.get(code, code)
        self.message_xml = message_xml


ERROR_TEXT = {
    "ErrorItemNotFound": "The specified object was not found in the store.",
    "ErrorFolderNotFound": "The specified folder could not be found in the store.",
    "ErrorInvalidIdMalformed": "Id is malformed.",
    "ErrorAccessDenied": "Access is denied. Check credentials and try again.",
    "ErrorStaleObject": "The change key passed in the request does not match the current change key for the item.",
    "ErrorInvalidChangeKey": "ChangeKey is invalid.",
    "ErrorIrresolvableConflict": "The send or update operation could not be performed because the change key "
                                 "passed in the request does not match the current change key for the item.",
    "ErrorInvalidRecipients": "At least one recipient isn't valid.",
    "ErrorSendAsDenied": "The user account which was used to submit this request does not have the right to send "
                         "mail on behalf of the specified sending account.",
    "ErrorMessageSizeExceeded": "The message exceeds the maximum supported size.",
    "ErrorMimeContentConversionFailed": "Unable to convert MIME content.",
    "ErrorMessageDispositionRequired": "MessageDisposition attribute is required.",
    "ErrorInvalidSendItemSaveSettings": "SavedItemFolderId is specified but SaveItemToFolder is false.",
    "ErrorFolderExists": "A folder with the specified name already exists.",
    "ErrorToFolderNotFound": "The destination folder could not be found.",
    "ErrorSubscriptionNotFound": "The specified subscription was not found.",
    "ErrorSubscriptionAccessDenied": "Access is denied. Only the subscription owner may access the subscription.",
    "ErrorInvalidSubscription": "The subscription is not valid.",
    "ErrorInvalidWatermark": "The watermark is not valid.",
    "ErrorInvalidSyncStateData": "Synchronization state data is corrupt or otherwise invalid.",
    "ErrorInvalidPropertyRequest": "Property is not valid for this object type.",
    "ErrorUnsupportedPathForQuery": "The property path isn't supported for restrictions or sort orders.",
    "ErrorInvalidOperation": "The operation isn't valid.",
    "ErrorNonExistentMailbox": "No mailbox with such guid.",
    "ErrorCannotDeleteObject": "The object cannot be deleted.",
}


def now_utc():
    return datetime.now(timezone.utc).replace(microsecond=0)


def ews_time(dt):
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Ids:
    """Opaque ids: base64 of a fixed-size blob naming the mailbox, the kind
    and a serial number, authenticated with a per-server key so that a forged
    or truncated id is 'malformed' as it would be on Exchange."""

    def __init__(self):
        self._key = os.urandom(32)

    def _mac(self, blob):
        return hmac.new(self._key, blob, hashlib.sha256).digest()

    def make(self, mbx_guid, kind, serial):
        head = b"\x00\x03\x24\x00" + mbx_guid + b"\x46\x00" + bytes([kind]) + struct.pack(">Q", serial)
        body = head + self._mac(head)
        body += hashlib.sha512(body).digest()[:_ID_LEN - len(body)]
        return base64.b64encode(body).decode()

    def parse(self, text):
        """(mailbox guid, kind, serial); EwsError(ErrorInvalidIdMalformed) if it is not ours."""
        try:
            raw = base64.b64decode((text or "").strip(), validate=True)
        except (binascii.Error, ValueError):
            raise EwsError("ErrorInvalidIdMalformed")
        if len(raw) != _ID_LEN or raw[:4] != b"\x00\x03\x24\x00":
            raise EwsError("ErrorInvalidIdMalformed")
        head = raw[:31]
        if not hmac.compare_digest(raw[31:63], self._mac(head)):
            raise EwsError("ErrorInvalidIdMalformed")
        return head[4:20], head[22], struct.unpack(">Q", head[23:31])[0]

    @staticmethod
    def changekey(mbx_guid, kind, version):
        prefix = b"\x09\x00\x00\x00" if kind == KIND_ITEM else b"\x01\x00\x00\x00"
        return base64.b64encode(prefix + b"\x16\x00\x00\x00" + mbx_guid[:18] + b"\x00\x00"
                                + struct.pack(">I", version)).decode()


class Folder:
    def __init__(self, mbx, serial, name, parent, distinguished=None, folder_class="IPF.Note"):
        self.mbx = mbx
        self.serial = serial
        self.name = name
        self.parent = parent
        self.distinguished = distinguished
        self.folder_class = folder_class
        self.version = 1
        self.items = {}        # serial -> Item, in insertion order
        self.children = []

    @property
    def id(self):
        return self.mbx.store.ids.make(self.mbx.guid, KIND_FOLDER, self.serial)

    @property
    def changekey(self):
        return Ids.changekey(self.mbx.guid, KIND_FOLDER, self.version)

    @property
    def unread(self):
        return sum(1 for i in self.items.values() if not i.is_read)

    def path(self):
        names, f = [], self
        while f is not None and f.distinguished != "root":
            names.append(f.name)
            f = f.parent
        return "/".join(reversed(names))


class Item:
    """A message. Its MIME is the truth; the properties EWS shows are read
    from it (and IsRead, dates, flags are kept beside it)."""

    def __init__(self, mbx, serial, folder, mime, is_read=False, is_draft=False,
                 received=None, extra_to=(), extra_cc=(), extra_bcc=()):
        self.mbx = mbx
        self.serial = serial
        self.folder = folder
        self.version = 1            # bumps on every change (the ChangeKey)
        self.content_version = 1    # bumps on every change but the read flag (SyncFolderItems)
        self.is_read = is_read
        self.is_draft = is_draft
        self.is_submitted = False
        self.received = received or now_utc()
        self.created = now_utc()
        self.modified = self.created
        self.extra_to, self.extra_cc, self.extra_bcc = list(extra_to), list(extra_cc), list(extra_bcc)
        self.set_mime(mime)

    def set_mime(self, mime):
        self.mime = mime
        h = _headers(mime)
        self.msg = h.msg
        self.subject, self.message_id, self.from_, self.sender = h.subject, h.message_id, h.from_, h.sender
        self.to = h.to + [(n, a) for n, a in self.extra_to]
        self.cc = h.cc + [(n, a) for n, a in self.extra_cc]
        self.bcc = h.bcc + [(n, a) for n, a in self.extra_bcc]
        self.sent = h.sent
        self.has_attachments = h.has_attachments

    @property
    def id(self):
        return self.mbx.store.ids.make(self.mbx.guid, KIND_ITEM, self.serial)

    @property
    def changekey(self):
        return Ids.changekey(self.mbx.guid, KIND_ITEM, self.version)

    @property
    def size(self):
        return len(self.mime)

    def body(self, prefer="Text"):
        """(body type, text) from the MIME."""
        order = ("html", "plain") if prefer == "HTML" else ("plain", "html")
        try:
            part = self.msg.get_body(preferencelist=order)
        except Exception:
            part = None
        if part is None:
            return "Text", ""
        try:
            text = part.get_content()
        except Exception:
            text = part.get_payload(decode=True) or b""
            text = text.decode("utf-8", "replace")
        return ("HTML" if part.get_content_subtype() == "html" else "Text"), text

    def touch(self, content=True):
        self.version += 1
        if content:
            self.content_version += 1
        self.modified = now_utc()


class _Headers:
    """What an item shows of its MIME, read once per distinct content: a
    mail is parsed when created, moved, copied, submitted and delivered, and
    the parse (Python's email package) was most of the responder's time
    per sent mail. The message object is only read, never changed."""

    def __init__(self, mime):
        msg = email.message_from_bytes(mime, policy=email.policy.default)
        self.msg = msg

        def hdr(name):
            try:
                v = msg.get(name)
                return str(v) if v is not None else None
            except Exception:   # undecodable header: keep the raw text
                raw = msg.get_all(name, failobj=[None])[0]
                return str(raw) if raw is not None else None
        self.subject = hdr("Subject") or ""
        self.message_id = hdr("Message-ID")
        self.from_ = _addresses(msg, "From")
        self.sender = _addresses(msg, "Sender") or self.from_
        self.to = _addresses(msg, "To")
        self.cc = _addresses(msg, "Cc")
        self.bcc = _addresses(msg, "Bcc")
        date = hdr("Date")
        self.sent = None
        if date:
            try:
                self.sent = email.utils.parsedate_to_datetime(date)
                if self.sent.tzinfo is None:
                    self.sent = self.sent.replace(tzinfo=timezone.utc)
            except (TypeError, ValueError):
                self.sent = None
        self.has_attachments = any(True for _ in msg.iter_attachments()) if msg.is_multipart() else False


@functools.lru_cache(maxsize=256)
def _small_headers(mime):
    return _Headers(mime)


def _headers(mime):
    # large mails (the size-limit tests) are not kept alive by the cache
    return _small_headers(mime) if len(mime) <= 256 * 1024 else _Headers(mime)


def _addresses(msg, name):
    try:
        values = msg.get_all(name) or []
        return [(n, a) for n, a in email.utils.getaddresses([str(v) for v in values]) if a]
    except Exception:
        return []


class Mailbox:
    def __init__(self, store, address, password=None, service_folder=False):
        self.store = store
        self.address = address.lower()
        self.password = password
        self.guid = hashlib.sha256(("mailbox:" + self.address).encode()).digest()[:16]
        self.folders = {}           # serial -> Folder
        self.items = {}             # serial -> Item (every item in every folder)
        self.by_name = {}           # distinguished id -> Folder
        for dist, name, parent, cls in WELL_KNOWN:
            self._add_folder(name, self.by_name.get(parent), dist, cls)
        if service_folder:
            self.create_folder(self.by_name["msgfolderroot"], SERVICE_FOLDER)

    def _add_folder(self, name, parent, dist=None, cls="IPF.Note"):
        f = Folder(self, self.store.next_serial(), name, parent, dist, cls)
        self.folders[f.serial] = f
        if dist:
            self.by_name[dist] = f
        if parent is not None:
            parent.children.append(f)
            parent.version += 1
        return f

    def create_folder(self, parent, name, cls="IPF.Note"):
        if any(c.name.lower() == name.lower() for c in parent.children):
            raise EwsError("ErrorFolderExists")
        f = self._add_folder(name, parent, None, cls)
        self.store.events.folder_event(self, "CreatedEvent", f)
        return f

    def service_folder(self):
        for c in self.by_name["msgfolderroot"].children:
            if c.name.lower() == SERVICE_FOLDER.lower():
                return c
        return None

    # ---- items
    def add_item(self, folder, mime, event="CreatedEvent", **kw):
        it = Item(self, self.store.next_serial(), folder, mime, **kw)
        self.items[it.serial] = it
        folder.items[it.serial] = it
        if event == "NewMailEvent":
            self.store.events.item_event(self, "CreatedEvent", it)
            self.store.events.item_event(self, "NewMailEvent", it)
        else:
            self.store.events.item_event(self, event, it)
        self.store.events.folder_modified(self, folder)
        return it

    def remove_item(self, it, event=True):
        del self.items[it.serial]
        del it.folder.items[it.serial]
        if event:
            self.store.events.item_event(self, "DeletedEvent", it)
            self.store.events.folder_modified(self, it.folder)

    def move_item(self, it, dest, copy=False):
        """Moves (or copies) an item; the result has a new id, as on Exchange."""
        new = Item(self, self.store.next_serial(), dest, it.mime, is_read=it.is_read, is_draft=it.is_draft,
                   received=it.received, extra_to=it.extra_to, extra_cc=it.extra_cc, extra_bcc=it.extra_bcc)
        new.is_submitted = it.is_submitted
        new.created = it.created
        self.items[new.serial] = new
        dest.items[new.serial] = new
        if not copy:
            self.remove_item(it, event=False)
        self.store.events.item_event(self, "CopiedEvent" if copy else "MovedEvent", new, old=it)
        if not copy:
            self.store.events.folder_modified(self, it.folder)
        self.store.events.folder_modified(self, dest)
        return new

    def update_item(self, it, content=True):
        it.touch(content)
        self.store.events.item_event(self, "ModifiedEvent", it)
        self.store.events.folder_modified(self, it.folder)


class Store:
    """All hosted mailboxes, the id codec, the subscriptions."""

    def __init__(self, max_message_size=35 * 1024 * 1024):
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.ids = Ids()
        self._serial = 0
        self.mailboxes = {}
        self.max_message_size = max_message_size
        self.transport_log = []     # (time, sender, recipient, outcome), bounded
        from ewsnotify import Events
        self.events = Events(self)

    def next_serial(self):
        self._serial += 1
        return self._serial

    def add_mailbox(self, address, password=None, service_folder=False):
        mbx = Mailbox(self, address, password, service_folder)
        self.mailboxes[mbx.address] = mbx
        return mbx

    def mailbox(self, address):
        return self.mailboxes.get((address or "").strip().lower())

    def mailbox_by_guid(self, guid):
        for mbx in self.mailboxes.values():
            if mbx.guid == guid:
                return mbx
        return None

    # ---- id resolution, from the point of view of the acting mailbox
    def resolve_item(self, actor, id_text):
        guid, kind, serial = self.ids.parse(id_text)
        if kind != KIND_ITEM:
            raise EwsError("ErrorInvalidIdMalformed")
        if guid != actor.guid:
            if self.mailbox_by_guid(guid) is None:
                raise EwsError("ErrorItemNotFound")
            raise EwsError("ErrorAccessDenied")
        it = actor.items.get(serial)
        if it is None:
            raise EwsError("ErrorItemNotFound")
        return it

    def resolve_folder_id(self, actor, id_text, error="ErrorFolderNotFound"):
        guid, kind, serial = self.ids.parse(id_text)
        if kind != KIND_FOLDER:
            raise EwsError("ErrorInvalidIdMalformed")
        if guid != actor.guid:
            if self.mailbox_by_guid(guid) is None:
                raise EwsError(error)
            raise EwsError("ErrorAccessDenied")
        f = actor.folders.get(serial)
        if f is None:
            raise EwsError(error)
        return f

    def check_mime(self, mime):
        if len(mime) > self.max_message_size:
            raise EwsError("ErrorMessageSizeExceeded")
        head = mime.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        if b":" not in head:
            raise EwsError("ErrorMimeContentConversionFailed")

    # ---- transport
    def submit(self, sender, item, extra_rcpts=()):
        """Delivers a copy of a sent item to each hosted recipient (MIME To/Cc/Bcc
        and the recipients given in the request); unknown ones are dropped."""
        rcpts = []
        for _, a in item.to + item.cc + item.bcc + list(extra_rcpts):
            a = a.strip().lower()
            if a and a not in rcpts:
                rcpts.append(a)
        mime = strip_bcc(item.mime)
        delivered, dropped = [], []
        for a in rcpts:
            (delivered if self.deliver(a, mime, sender.address) is not None else dropped).append(a)
        return delivered, dropped

    def deliver(self, address, mime, sender="(outside)"):
        mbx = self.mailbox(address)
        entry = {"time": time.time(), "from": sender, "to": address}
        if mbx is None:
            entry["outcome"] = "dropped: no such hosted mailbox"
            self._log_transport(entry)
            return None
        folder = mbx.by_name["inbox"]
        sf = mbx.service_folder()
        it_subject = _headers(mime).subject
        if sf is not None and SERVICE_TAG.lower() in it_subject.lower():
            folder = sf
        it = mbx.add_item(folder, add_received(mime, address), event="NewMailEvent")
        entry["outcome"] = "delivered to " + folder.path()
        self._log_transport(entry)
        self.changed.notify_all()
        return it

    def _log_transport(self, entry):
        self.transport_log.append(entry)
        del self.transport_log[:-1000]


def _header_block(mime):
    """The header of a mail only (the body is not parsed)."""
    return email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(mime)


def strip_bcc(mime):
    if _header_block(mime).get("Bcc") is None:
        return mime
    msg = email.message_from_bytes(mime, policy=email.policy.compat32)
    if msg.get("Bcc") is None:
        return mime
    del msg["Bcc"]
    return msg.as_bytes()


def complete_for_submission(mime, sender):
    """What the transport adds to a message it submits: From (the mailbox
    owner) when missing, Date and Message-ID when missing."""
    msg = _header_block(mime)
    add = []
    if msg.get("From") is None:
        add.append("From: %s" % sender)
    if msg.get("Date") is None:
        add.append("Date: %s" % email.utils.format_datetime(datetime.now(timezone.utc)))
    if msg.get("Message-ID") is None:
        add.append("Message-ID: %s" % email.utils.make_msgid(domain="responder.example.test"))
    if not add:
        return mime
    nl = b"\r\n" if b"\r\n" in mime[:2000] else b"\n"
    return nl.join(a.encode() for a in add) + nl + mime


def add_received(mime, address):
    stamp = "from responder.example.test by responder.example.test for <%s>; %s\r\n" % (
        address, email.utils.format_datetime(datetime.now(timezone.utc)))
    nl = b"\r\n" if b"\r\n" in mime[:2000] else b"\n"
    return b"Received: " + stamp.rstrip("\r\n").encode() + nl + mime


def build_mime(sender, subject, body, body_type, to, cc, bcc):
    """The MIME Exchange would make for an item created from properties."""
    from email.message import EmailMessage
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    if to:
        msg["To"] = ", ".join(a for _, a in to)
    if cc:
        msg["Cc"] = ", ".join(a for _, a in cc)
    if bcc:
        msg["Bcc"] = ", ".join(a for _, a in bcc)
    msg["Subject"] = subject or ""
    msg["Date"] = email.utils.format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = email.utils.make_msgid(domain="responder.example.test")
    msg.set_content(body or "", subtype="html" if body_type == "HTML" else "plain")
    return msg.as_bytes()


# ---- SyncFolderItems state: self-contained, compressed and authenticated

def encode_sync_state(store, folder, known):
    """known: {serial: (content_version, is_read)}"""
    raw = struct.pack(">Q", folder.serial) + b"".join(
        struct.pack(">QIB", s, v, 1 if r else 0) for s, (v, r) in sorted(known.items()))
    blob = zlib.compress(raw)
    mac = hmac.new(store.ids._key, b"sync" + folder.mbx.guid + blob, hashlib.sha256).digest()[:16]
    return base64.b64encode(b"\x01" + mac + blob).decode()


def decode_sync_state(store, folder, text):
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        mac, blob = raw[1:17], raw[17:]
        if raw[:1] != b"\x01" or not hmac.compare_digest(
                mac, hmac.new(store.ids._key, b"sync" + folder.mbx.guid + blob, hashlib.sha256).digest()[:16]):
            raise ValueError("mac")
        data = zlib.decompress(blob, bufsize=1 << 16)
        if struct.unpack(">Q", data[:8])[0] != folder.serial or (len(data) - 8) % 13:
            raise ValueError("folder")
        known = {}
        for off in range(8, len(data), 13):
            s, v, r = struct.unpack(">QIB", data[off:off + 13])
            known[s] = (v, bool(r))
        return known
    except (binascii.Error, ValueError, zlib.error, struct.error):
        raise EwsError("ErrorInvalidSyncStateData")
