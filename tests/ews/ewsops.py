"""EWS operations of the test responder: each takes the (schema-valid) request
element and returns the m:<Op>Response element, with one ResponseMessage per
item/folder/id in request order, as Exchange does.

All run under Store.lock (taken by the server around a call).
"""
import base64
import re
import unicodedata
from datetime import datetime, timezone

from ewsxml import T, m, t, el, response_root, bool_text, parse_bool
from ewsmodel import (EwsError, ews_time, build_mime, encode_sync_state, decode_sync_state,
                      complete_for_submission, KIND_ITEM)
from ewsnotify import notification_xml, watermark


class Context:
    """Who is asking: the authenticated user and the mailbox acted on."""

    def __init__(self, store, actor, user):
        self.store = store
        self.actor = actor          # Mailbox (own, or impersonated)
        self.user = user            # authenticated address
        self.notes = []             # remarks for the request log
        self.cookies = {}


OPS = {}


def op(fn):
    OPS[fn.__name__] = fn
    return fn


# ---------------------------------------------------------------- helpers

def message(parent, opname, err=None, items_container=False):
    """<m:{op}ResponseMessage> with ResponseClass/ResponseCode (and, for an
    error, MessageText, DescriptiveLinkKey, MessageXml in schema order)."""
    rm = el(parent, m(opname + "ResponseMessage"), ResponseClass="Error" if err else "Success")
    if err:
        el(rm, m("MessageText"), err.text)
        el(rm, m("ResponseCode"), err.code)
        el(rm, m("DescriptiveLinkKey"), 0)
        if err.message_xml is not None:
            mx = el(rm, m("MessageXml"))
            mx.append(err.message_xml)
        if items_container:
            el(rm, m("Items"))
    else:
        el(rm, m("ResponseCode"), "NoError")
    return rm


def children(elem, tag=None):
    return [c for c in elem if isinstance(c.tag, str) and (tag is None or c.tag == tag)]


def mailbox_of(ctx, fid_elem):
    mb = fid_elem.find(t("Mailbox"))
    if mb is None:
        return ctx.actor
    addr = (mb.findtext(t("EmailAddress")) or "").strip()
    target = ctx.store.mailbox(addr)
    if target is None:
        raise EwsError("ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it.")
    if target is not ctx.actor:
        raise EwsError("ErrorAccessDenied")
    return target


def resolve_folder(ctx, fid_elem, error="ErrorFolderNotFound"):
    if fid_elem.tag == t("DistinguishedFolderId"):
        mbx = mailbox_of(ctx, fid_elem)
        f = mbx.by_name.get(fid_elem.get("Id"))
        if f is None:
            raise EwsError(error)
        return f
    if fid_elem.tag == t("FolderId"):
        return ctx.store.resolve_folder_id(ctx.actor, fid_elem.get("Id"), error)
    raise EwsError("ErrorInvalidOperation", "The responder hosts no such folder kind (%s)."
                   % fid_elem.tag.split("}")[1])


def resolve_item(ctx, id_elem):
    if id_elem.tag != t("ItemId"):
        raise EwsError("ErrorInvalidOperation", "Only t:ItemId is supported for messages.")
    return ctx.store.resolve_item(ctx.actor, id_elem.get("Id"))


def id_attrs(obj):
    return dict(Id=obj.id, ChangeKey=obj.changekey)


def mailbox_xml(parent, tag, name, addr):
    mb = el(parent, tag)
    mbx = el(mb, t("Mailbox"))
    el(mbx, t("Name"), name or addr)
    el(mbx, t("EmailAddress"), addr)
    el(mbx, t("RoutingType"), "SMTP")
    el(mbx, t("MailboxType"), "Mailbox" if ITEM_STORE[0] and ITEM_STORE[0].mailbox(addr) else "OneOff")
    return mb


ITEM_STORE = [None]     # the store, for MailboxType lookups while rendering


def recipients_xml(parent, tag, lst):
    if not lst:
        return
    r = el(parent, t(tag))
    for name, addr in lst:
        mbx = el(r, t("Mailbox"))
        el(mbx, t("Name"), name or addr)
        el(mbx, t("EmailAddress"), addr)
        el(mbx, t("RoutingType"), "SMTP")
        el(mbx, t("MailboxType"), "Mailbox" if ITEM_STORE[0].mailbox(addr) else "OneOff")


# ---------------------------------------------------------------- item shapes

def _single(tag):
    def f(it, p, sh):
        lst = getattr(it, {"From": "from_", "Sender": "sender"}[tag])
        if lst:
            mailbox_xml(p, t(tag), lst[0][0], lst[0][1])
    return f


def _body(it, p, sh):
    btype, text = it.body("HTML" if sh.body_type == "HTML" else "Text")
    el(p, t("Body"), text, BodyType=btype)


def _mime(it, p, sh):
    el(p, t("MimeContent"), base64.b64encode(it.mime).decode(), CharacterSet="UTF-8")


def _display(lst):
    return "; ".join((n or a) for n, a in lst)


# (element, FieldURI, renderer, in Default shape, usable in FindItem); schema order of t:Message
ITEM_PROPS = [
    ("MimeContent", "item:MimeContent", _mime, False, False),
    ("ItemId", "item:ItemId", lambda it, p, sh: el(p, t("ItemId"), **id_attrs(it)), True, True),
    ("ParentFolderId", "item:ParentFolderId", lambda it, p, sh: el(p, t("ParentFolderId"), **id_attrs(it.folder)),
     True, True),
    ("ItemClass", "item:ItemClass", lambda it, p, sh: el(p, t("ItemClass"), "IPM.Note"), True, True),
    ("Subject", "item:Subject", lambda it, p, sh: el(p, t("Subject"), it.subject), True, True),
    ("Sensitivity", "item:Sensitivity", lambda it, p, sh: el(p, t("Sensitivity"), "Normal"), True, True),
    ("Body", "item:Body", _body, "get", False),
    ("DateTimeReceived", "item:DateTimeReceived", lambda it, p, sh: el(p, t("DateTimeReceived"), ews_time(it.received)),
     True, True),
    ("Size", "item:Size", lambda it, p, sh: el(p, t("Size"), it.size), True, True),
    ("Importance", "item:Importance", lambda it, p, sh: el(p, t("Importance"), "Normal"), True, True),
    ("IsSubmitted", "item:IsSubmitted", lambda it, p, sh: el(p, t("IsSubmitted"), bool_text(it.is_submitted)),
     True, True),
    ("IsDraft", "item:IsDraft", lambda it, p, sh: el(p, t("IsDraft"), bool_text(it.is_draft)), True, True),
    ("IsFromMe", "item:IsFromMe", lambda it, p, sh: el(p, t("IsFromMe"), bool_text(
        any(a.lower() == it.mbx.address for _, a in it.from_))), True, True),
    ("IsResend", "item:IsResend", lambda it, p, sh: el(p, t("IsResend"), "false"), True, True),
    ("IsUnmodified", "item:IsUnmodified", lambda it, p, sh: el(p, t("IsUnmodified"), bool_text(it.version == 1)),
     True, True),
    ("DateTimeSent", "item:DateTimeSent", lambda it, p, sh: el(p, t("DateTimeSent"), ews_time(it.sent or it.created)),
     True, True),
    ("DateTimeCreated", "item:DateTimeCreated", lambda it, p, sh: el(p, t("DateTimeCreated"), ews_time(it.created)),
     True, True),
    ("ReminderIsSet", "item:ReminderIsSet", lambda it, p, sh: el(p, t("ReminderIsSet"), "false"), True, True),
    ("DisplayCc", "item:DisplayCc", lambda it, p, sh: el(p, t("DisplayCc"), _display(it.cc)), True, True),
    ("DisplayTo", "item:DisplayTo", lambda it, p, sh: el(p, t("DisplayTo"), _display(it.to)), True, True),
    ("HasAttachments", "item:HasAttachments", lambda it, p, sh: el(p, t("HasAttachments"),
                                                                     bool_text(it.has_attachments)), True, True),
    ("Culture", "item:Culture", lambda it, p, sh: el(p, t("Culture"), "en-US"), True, True),
    ("LastModifiedName", "item:LastModifiedName", lambda it, p, sh: el(p, t("LastModifiedName"), it.mbx.address),
     False, True),
    ("LastModifiedTime", "item:LastModifiedTime", lambda it, p, sh: el(p, t("LastModifiedTime"), ews_time(it.modified)),
     True, True),
    ("IsAssociated", "item:IsAssociated", lambda it, p, sh: el(p, t("IsAssociated"), "false"), False, True),
    ("Sender", "message:Sender", _single("Sender"), True, True),
    ("ToRecipients", "message:ToRecipients", lambda it, p, sh: recipients_xml(p, "ToRecipients", it.to), "get", False),
    ("CcRecipients", "message:CcRecipients", lambda it, p, sh: recipients_xml(p, "CcRecipients", it.cc), "get", False),
    ("BccRecipients", "message:BccRecipients", lambda it, p, sh: recipients_xml(p, "BccRecipients", it.bcc),
     False, False),
    ("IsReadReceiptRequested", "message:IsReadReceiptRequested",
     lambda it, p, sh: el(p, t("IsReadReceiptRequested"), "false"), "get", True),
    ("IsDeliveryReceiptRequested", "message:IsDeliveryReceiptRequested",
     lambda it, p, sh: el(p, t("IsDeliveryReceiptRequested"), "false"), "get", True),
    ("ConversationTopic", "message:ConversationTopic",
     lambda it, p, sh: el(p, t("ConversationTopic"), re.sub(r"^((re|fw|fwd):\s*)+", "", it.subject, flags=re.I)),
     True, True),
    ("From", "message:From", _single("From"), True, True),
    ("InternetMessageId", "message:InternetMessageId",
     lambda it, p, sh: it.message_id and el(p, t("InternetMessageId"), it.message_id), True, True),
    ("IsRead", "message:IsRead", lambda it, p, sh: el(p, t("IsRead"), bool_text(it.is_read)), True, True),
    ("IsResponseRequested", "message:IsResponseRequested",
     lambda it, p, sh: el(p, t("IsResponseRequested"), "false"), False, True),
]
PROP_BY_URI = {p[1]: p for p in ITEM_PROPS}


class Shape:
    def __init__(self, shape_elem, for_find):
        self.base = (shape_elem.findtext(t("BaseShape")) or "IdOnly").strip()
        self.body_type = (shape_elem.findtext(t("BodyType")) or "Best").strip()
        self.mime = parse_bool(shape_elem.findtext(t("IncludeMimeContent")))
        self.extra = set()
        self.ignored = []
        add = shape_elem.find(t("AdditionalProperties"))
        if add is not None:
            for p in children(add):
                if p.tag == t("FieldURI"):
                    uri = p.get("FieldURI")
                    if uri.startswith("folder:"):
                        raise EwsError("ErrorInvalidPropertyRequest", message_xml=_field_xml(uri))
                    if uri in PROP_BY_URI:
                        if for_find and not PROP_BY_URI[uri][4]:
                            raise EwsError("ErrorInvalidPropertyRequest", message_xml=_field_xml(uri))
                        self.extra.add(uri)
                    else:
                        self.ignored.append(uri)     # a property the responder has no value for
                else:
                    self.ignored.append(p.tag.split("}")[1])
        if for_find and self.mime:
            raise EwsError("ErrorInvalidPropertyRequest", message_xml=_field_xml("item:MimeContent"))
        self.for_find = for_find

    def wants(self, prop):
        name, uri, _, default, in_find = prop
        if uri == "item:ItemId":
            return True
        if uri == "item:MimeContent":
            return self.mime or uri in self.extra
        if uri in self.extra:
            return True
        if self.base == "AllProperties":
            return in_find or not self.for_find
        if self.base == "Default":
            return default is True or (default == "get" and not self.for_find)
        return False

    def render(self, parent, it):
        msg = el(parent, t("Message"))
        for prop in ITEM_PROPS:
            if self.wants(prop):
                prop[2](it, msg, self)
        return msg


def _field_xml(uri):
    from lxml import etree
    return etree.Element(t("FieldURI"), FieldURI=uri, nsmap={"t": T})


# ---------------------------------------------------------------- restrictions

FIELD_VALUES = {
    "item:Subject": ("str", lambda it: it.subject),
    "item:ItemClass": ("str", lambda it: "IPM.Note"),
    "item:DateTimeReceived": ("time", lambda it: it.received),
    "item:DateTimeSent": ("time", lambda it: it.sent or it.created),
    "item:DateTimeCreated": ("time", lambda it: it.created),
    "item:LastModifiedTime": ("time", lambda it: it.modified),
    "item:Size": ("int", lambda it: it.size),
    "item:HasAttachments": ("bool", lambda it: it.has_attachments),
    "item:IsDraft": ("bool", lambda it: it.is_draft),
    "item:Importance": ("str", lambda it: "Normal"),
    "item:Sensitivity": ("str", lambda it: "Normal"),
    "item:DisplayTo": ("str", lambda it: _display(it.to)),
    "item:DisplayCc": ("str", lambda it: _display(it.cc)),
    "message:IsRead": ("bool", lambda it: it.is_read),
    "message:InternetMessageId": ("str", lambda it: it.message_id or ""),
    "message:From": ("str", lambda it: it.from_[0][1] if it.from_ else ""),
    "message:Sender": ("str", lambda it: it.sender[0][1] if it.sender else ""),
    "message:ConversationTopic": ("str", lambda it: it.subject),
}
FOLDER_FIELD_VALUES = {
    "folder:DisplayName": ("str", lambda f: f.name),
    "folder:FolderClass": ("str", lambda f: f.folder_class or ""),
    "folder:TotalCount": ("int", lambda f: len(f.items)),
    "folder:UnreadCount": ("int", lambda f: f.unread),
    "folder:ChildFolderCount": ("int", lambda f: len(f.children)),
}


def _coerce(kind, text):
    text = (text or "").strip()
    try:
        if kind == "time":
            d = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return d if d.tzinfo else d.replace(tzinfo=timezone.utc)
        if kind == "int":
            return int(text)
        if kind == "bool":
            return text in ("true", "1")
    except ValueError:
        raise EwsError("ErrorInvalidValueForProperty", "The value '%s' is not valid for the property." % text)
    return text


def _fold(s, comparison):
    if comparison in ("IgnoreCase", "LooseAndIgnoreCase", "IgnoreCaseAndNonSpacingCharacters",
                      "LooseAndIgnoreCaseAndIgnoreNonSpace", "Loose"):
        s = s.casefold()
    if "NonSpac" in comparison or "IgnoreNonSpace" in comparison or comparison.startswith("Loose"):
        s = "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")
    return s


class Restriction:
    """Compiles a t:Restriction subtree into a predicate over items or folders."""

    def __init__(self, elem, fields):
        self.fields = fields
        self.pred = self._compile(children(elem)[0])

    def _field(self, e):
        if e.tag != t("FieldURI"):
            raise EwsError("ErrorUnsupportedPathForQuery")
        uri = e.get("FieldURI")
        if uri not in self.fields:
            raise EwsError("ErrorUnsupportedPathForQuery", message_xml=_field_xml(uri))
        return self.fields[uri]

    def _compile(self, e):
        name = e.tag.split("}")[1]
        kids = children(e)
        if name in ("And", "Or"):
            parts = [self._compile(k) for k in kids]
            return (lambda o: all(p(o) for p in parts)) if name == "And" else (lambda o: any(p(o) for p in parts))
        if name == "Not":
            inner = self._compile(kids[0])
            return lambda o: not inner(o)
        if name == "Exists":
            kind, get = self._field(kids[0])
            return lambda o: get(o) not in (None, "")
        if name == "Contains":
            kind, get = self._field(kids[0])
            if kind != "str":
                raise EwsError("ErrorUnsupportedPathForQuery")
            mode = e.get("ContainmentMode") or "FullString"
            comp = e.get("ContainmentComparison") or "Exact"
            const = _fold(kids[1].get("Value") or "", comp)

            def contains(o):
                v = _fold(get(o) or "", comp)
                if mode == "FullString":
                    return v == const
                if mode == "Prefixed":
                    return v.startswith(const)
                if mode == "PrefixOnWords":
                    return any(w.startswith(const) for w in re.split(r"\W+", v))
                if mode == "ExactPhrase":
                    return re.search(r"(^|\W)" + re.escape(const) + r"($|\W)", v) is not None
                return const in v
            return contains
        if name in ("IsEqualTo", "IsNotEqualTo", "IsGreaterThan", "IsGreaterThanOrEqualTo",
                    "IsLessThan", "IsLessThanOrEqualTo"):
            kind, get = self._field(kids[0])
            other = children(kids[1])[0]
            if other.tag == t("Constant"):
                c = _coerce(kind, other.get("Value"))
                rhs = lambda o: c
            else:
                kind2, get2 = self._field(other)
                rhs = get2
            ops = {"IsEqualTo": lambda a, b: a == b, "IsNotEqualTo": lambda a, b: a != b,
                   "IsGreaterThan": lambda a, b: a > b, "IsGreaterThanOrEqualTo": lambda a, b: a >= b,
                   "IsLessThan": lambda a, b: a < b, "IsLessThanOrEqualTo": lambda a, b: a <= b}
            cmp = ops[name]

            def compare(o):
                a, b = get(o), rhs(o)
                if a is None or b is None:
                    return False
                if kind == "str":   # string comparisons in the store ignore case
                    a, b = str(a).casefold(), str(b).casefold()
                return cmp(a, b)
            return compare
        raise EwsError("ErrorUnsupportedPathForQuery", "Restriction %s is not supported by the responder." % name)


def sort_items(items, sort_elem):
    """SortOrder, or Exchange's view order (newest received first)."""
    items = sorted(items, key=lambda i: (i.received, i.serial), reverse=True)
    if sort_elem is None:
        return items
    for fo in reversed(children(sort_elem)):
        uri_e = children(fo)[0]
        uri = uri_e.get("FieldURI")
        if uri_e.tag != t("FieldURI") or uri not in FIELD_VALUES:
            raise EwsError("ErrorUnsupportedPathForQuery", message_xml=_field_xml(uri or "?"))
        get = FIELD_VALUES[uri][1]
        items = sorted(items, key=lambda i: (get(i) is None, get(i) if get(i) is not None else 0),
                       reverse=fo.get("Order") == "Descending")
    return items


def page(seq, view):
    """Applies IndexedPage*View / FractionalPage*View: (page, attrs of RootFolder)."""
    total = len(seq)
    if view is None:
        return seq, dict(TotalItemsInView=total, IncludesLastItemInRange="true")
    maxn = int(view.get("MaxEntriesReturned")) if view.get("MaxEntriesReturned") else total
    if view.tag.endswith("IndexedPageItemView") or view.tag.endswith("IndexedPageFolderView"):
        off = int(view.get("Offset"))
        if view.get("BasePoint") == "End":
            start = max(0, total - off - maxn)
            end = max(0, total - off)
            chunk = seq[start:end]
            return chunk, dict(IndexedPagingOffset=off + len(chunk), TotalItemsInView=total,
                               IncludesLastItemInRange=bool_text(start == 0))
        chunk = seq[off:off + maxn]
        return chunk, dict(IndexedPagingOffset=off + len(chunk), TotalItemsInView=total,
                           IncludesLastItemInRange=bool_text(off + len(chunk) >= total))
    num, den = int(view.get("Numerator")), int(view.get("Denominator"))
    off = (total * num) // den if den else 0
    chunk = seq[off:off + maxn]
    return chunk, dict(NumeratorOffset=off + len(chunk), AbsoluteDenominator=total, TotalItemsInView=total,
                       IncludesLastItemInRange=bool_text(off + len(chunk) >= total))


# ---------------------------------------------------------------- folder shapes

def folder_xml(parent, f, shape_elem):
    base = (shape_elem.findtext(t("BaseShape")) or "IdOnly").strip() if shape_elem is not None else "Default"
    extra = set()
    add = shape_elem.find(t("AdditionalProperties")) if shape_elem is not None else None
    if add is not None:
        for p in children(add, t("FieldURI")):
            uri = p.get("FieldURI")
            if not uri.startswith("folder:"):
                raise EwsError("ErrorInvalidPropertyRequest", message_xml=_field_xml(uri))
            extra.add(uri[len("folder:"):])
    default = {"FolderId", "DisplayName", "TotalCount", "ChildFolderCount", "UnreadCount"}
    allp = default | {"ParentFolderId", "FolderClass", "EffectiveRights"}
    want = {"FolderId"} | extra | (default if base == "Default" else allp if base == "AllProperties" else set())
    fe = el(parent, t("Folder"))
    el(fe, t("FolderId"), **id_attrs(f))
    if "ParentFolderId" in want and f.parent is not None:
        el(fe, t("ParentFolderId"), **id_attrs(f.parent))
    if "FolderClass" in want and f.folder_class:
        el(fe, t("FolderClass"), f.folder_class)
    if "DisplayName" in want:
        el(fe, t("DisplayName"), f.name)
    if "TotalCount" in want:
        el(fe, t("TotalCount"), len(f.items))
    if "ChildFolderCount" in want:
        el(fe, t("ChildFolderCount"), len(f.children))
    if "EffectiveRights" in want:
        er = el(fe, t("EffectiveRights"))
        for r in ("CreateAssociated", "CreateContents", "CreateHierarchy", "Delete", "Modify", "Read"):
            el(er, t(r), "true")
        el(er, t("ViewPrivateItems"), "true")
    if "DistinguishedFolderId" in want and f.distinguished:
        el(fe, t("DistinguishedFolderId"), f.distinguished)
    if "UnreadCount" in want:
        el(fe, t("UnreadCount"), f.unread)
    return fe


# ---------------------------------------------------------------- operations: folders

@op
def GetFolder(ctx, req):
    root, msgs = response_root("GetFolder")
    shape = req.find(m("FolderShape"))
    for fid in children(req.find(m("FolderIds"))):
        try:
            f = resolve_folder(ctx, fid)
            # render before writing the message, so a shape error is this folder's error
            from lxml import etree
            holder = etree.Element(m("Folders"))
            folder_xml(holder, f, shape)
            rm = message(msgs, "GetFolder")
            rm.append(holder)
        except EwsError as e:
            message(msgs, "GetFolder", e)
    return root


@op
def FindFolder(ctx, req):
    root, msgs = response_root("FindFolder")
    deep = req.get("Traversal") == "Deep"
    if req.get("Traversal") == "SoftDeleted":
        deep = None
    shape = req.find(m("FolderShape"))
    view = req.find(m("IndexedPageFolderView"))
    if view is None:
        view = req.find(m("FractionalPageFolderView"))
    restr = req.find(m("Restriction"))
    pred = Restriction(restr, FOLDER_FIELD_VALUES).pred if restr is not None else (lambda f: True)
    for fid in children(req.find(m("ParentFolderIds"))):
        try:
            parent = resolve_folder(ctx, fid)
            found = []

            def walk(f):
                for c in f.children:
                    found.append(c)
                    if deep:
                        walk(c)
            if deep is not None:
                walk(parent)
            found = [f for f in found if pred(f)]
            chunk, attrs = page(found, view)
            from lxml import etree
            rf = etree.Element(m("RootFolder"), {k: str(v) for k, v in attrs.items()})
            fs = el(rf, t("Folders"))
            for f in chunk:
                folder_xml(fs, f, shape)
            rm = message(msgs, "FindFolder")
            rm.append(rf)
        except EwsError as e:
            message(msgs, "FindFolder", e)
    return root


@op
def CreateFolder(ctx, req):
    root, msgs = response_root("CreateFolder")
    try:
        parent = resolve_folder(ctx, children(req.find(m("ParentFolderId")))[0])
        perr = None
    except EwsError as e:
        parent, perr = None, e
    for fe in children(req.find(m("Folders"))):
        try:
            if perr:
                raise perr
            if fe.tag != t("Folder"):
                raise EwsError("ErrorInvalidOperation", "The responder creates mail folders (t:Folder) only.")
            name = (fe.findtext(t("DisplayName")) or "").strip()
            if not name:
                raise EwsError("ErrorInvalidRequest", "A folder must have a display name.")
            f = ctx.actor.create_folder(parent, name, (fe.findtext(t("FolderClass")) or "IPF.Note").strip())
            rm = message(msgs, "CreateFolder")
            el(el(el(rm, m("Folders")), t("Folder")), t("FolderId"), **id_attrs(f))
        except EwsError as e:
            message(msgs, "CreateFolder", e)
    return root


# ---------------------------------------------------------------- operations: items

def _recips(msg_elem, tag):
    r = msg_elem.find(t(tag))
    out = []
    if r is not None:
        for mb in children(r, t("Mailbox")):
            a = (mb.findtext(t("EmailAddress")) or "").strip()
            if a:
                out.append(((mb.findtext(t("Name")) or "").strip(), a))
    return out


def _check_from(ctx, it):
    for _, a in it.from_:
        if a.lower() != ctx.actor.address:
            raise EwsError("ErrorSendAsDenied")


def _send(ctx, it, save_folder):
    """Submits an item: through the Outbox, delivered, then into save_folder
    (or gone). Returns the saved copy or None."""
    if not (it.to or it.cc or it.bcc):
        raise EwsError("ErrorInvalidRecipients")
    _check_from(ctx, it)
    mbx = ctx.actor
    outbox = mbx.by_name["outbox"]
    if it.folder is not outbox:
        it = mbx.move_item(it, outbox)
    it.is_submitted = True
    completed = complete_for_submission(it.mime, mbx.address)
    if completed is not it.mime:
        it.set_mime(completed)
    delivered, dropped = ctx.store.submit(mbx, it)
    ctx.notes.append("delivered to: %s; dropped (not hosted): %s" % (", ".join(delivered) or "-",
                                                                      ", ".join(dropped) or "-"))
    if save_folder is None:
        mbx.remove_item(it)
        return None
    saved = mbx.move_item(it, save_folder)
    saved.is_draft = False
    saved.is_submitted = False
    saved.is_read = True
    return saved


@op
def CreateItem(ctx, req):
    root, msgs = response_root("CreateItem")
    disp = req.get("MessageDisposition")
    sif = req.find(m("SavedItemFolderId"))
    try:
        save_folder = resolve_folder(ctx, children(sif)[0]) if sif is not None else None
        ferr = None
    except EwsError as e:
        save_folder, ferr = None, e
    for ie in children(req.find(m("Items"))):
        try:
            if ferr:
                raise ferr
            if ie.tag != t("Message"):
                raise EwsError("ErrorInvalidOperation", "The responder creates messages (t:Message) only.")
            if disp is None:
                raise EwsError("ErrorMessageDispositionRequired")
            to, cc, bcc = _recips(ie, "ToRecipients"), _recips(ie, "CcRecipients"), _recips(ie, "BccRecipients")
            mc = ie.findtext(t("MimeContent"))
            if mc is not None:
                mime = base64.b64decode(mc.strip())
                ctx.store.check_mime(mime)
            else:
                body = ie.find(t("Body"))
                mime = build_mime(ctx.actor.address, ie.findtext(t("Subject")) or "",
                                  body.text if body is not None else "",
                                  body.get("BodyType") if body is not None else "Text", to, cc, bcc)
                to = cc = bcc = []
            folder = save_folder
            if disp == "SaveOnly":
                folder = folder or ctx.actor.by_name["drafts"]
            elif disp == "SendAndSaveCopy":
                folder = folder or ctx.actor.by_name["sentitems"]
            kw = dict(extra_to=to, extra_cc=cc, extra_bcc=bcc)
            if disp == "SaveOnly":
                it = ctx.actor.add_item(folder, mime, is_read=True, is_draft=True, **kw)
                if ie.findtext(t("IsRead")) is not None:
                    it.is_read = parse_bool(ie.findtext(t("IsRead")))
                _check_from(ctx, it)
                rm = message(msgs, "CreateItem")
                el(el(el(rm, m("Items")), t("Message")), t("ItemId"), **id_attrs(it))
            else:
                drafts = ctx.actor.by_name["drafts"]
                it = ctx.actor.add_item(drafts, mime, is_read=True, is_draft=True, **kw)
                try:
                    _send(ctx, it, folder if disp == "SendAndSaveCopy" else None)
                except EwsError:
                    ctx.actor.remove_item(it)
                    raise
                rm = message(msgs, "CreateItem")
                el(rm, m("Items"))
        except EwsError as e:
            message(msgs, "CreateItem", e, items_container=True)
    return root


@op
def SendItem(ctx, req):
    root, msgs = response_root("SendItem")
    save = parse_bool(req.get("SaveItemToFolder"))
    sif = req.find(m("SavedItemFolderId"))
    for ide in children(req.find(m("ItemIds"))):
        try:
            if not save and sif is not None:
                raise EwsError("ErrorInvalidSendItemSaveSettings")
            folder = None
            if save:
                folder = resolve_folder(ctx, children(sif)[0]) if sif is not None else ctx.actor.by_name["sentitems"]
            it = resolve_item(ctx, ide)
            ck = ide.get("ChangeKey")
            if ck and ck != it.changekey:
                raise EwsError("ErrorStaleObject")
            _send(ctx, it, folder)
            message(msgs, "SendItem")
        except EwsError as e:
            message(msgs, "SendItem", e)
    return root


@op
def FindItem(ctx, req):
    root, msgs = response_root("FindItem")
    shape = None
    try:
        shape = Shape(req.find(m("ItemShape")), for_find=True)
        restr = req.find(m("Restriction"))
        pred = Restriction(restr, FIELD_VALUES).pred if restr is not None else (lambda i: True)
        sort_elem = req.find(m("SortOrder"))
        sort_items([], sort_elem)
        err = None
    except EwsError as e:
        err = e
    view = None
    for tag in ("IndexedPageItemView", "FractionalPageItemView", "CalendarView", "ContactsView"):
        if req.find(m(tag)) is not None:
            view = req.find(m(tag))
    if req.find(m("GroupBy")) is not None or req.find(m("DistinguishedGroupBy")) is not None:
        err = err or EwsError("ErrorInvalidOperation", "The responder does not group FindItem results.")
    if view is not None and view.tag in (m("CalendarView"), m("ContactsView")):
        err = err or EwsError("ErrorInvalidOperation", "The responder hosts no calendar or contacts.")
    if req.find(m("QueryString")) is not None:
        err = err or EwsError("ErrorInvalidOperation", "The responder has no content index (QueryString).")
    for fid in children(req.find(m("ParentFolderIds"))):
        try:
            if err:
                raise err
            f = resolve_folder(ctx, fid)
            items = [] if req.get("Traversal") in ("SoftDeleted", "Associated") else list(f.items.values())
            items = sort_items([i for i in items if pred(i)], sort_elem)
            chunk, attrs = page(items, view)
            from lxml import etree
            rf = etree.Element(m("RootFolder"), {k: str(v) for k, v in attrs.items()})
            its = el(rf, t("Items"))
            for it in chunk:
                shape.render(its, it)
            rm = message(msgs, "FindItem")
            rm.append(rf)
        except EwsError as e:
            message(msgs, "FindItem", e)
    if shape is not None and shape.ignored:
        ctx.notes.append(ignored_note(shape))
    return root


def ignored_note(shape):
    names = sorted(set(shape.ignored))
    return "%d requested properties have no value here (%s%s)" % (
        len(names), ", ".join(names[:5]), ", ..." if len(names) > 5 else "")


@op
def GetItem(ctx, req):
    root, msgs = response_root("GetItem")
    try:
        shape = Shape(req.find(m("ItemShape")), for_find=False)
        err = None
    except EwsError as e:
        shape, err = None, e
    for ide in children(req.find(m("ItemIds"))):
        try:
            if err:
                raise err
            it = resolve_item(ctx, ide)
            rm = message(msgs, "GetItem")
            shape.render(el(rm, m("Items")), it)
        except EwsError as e:
            message(msgs, "GetItem", e, items_container=True)
    if shape is not None and shape.ignored:
        ctx.notes.append(ignored_note(shape))
    return root


@op
def DeleteItem(ctx, req):
    root, msgs = response_root("DeleteItem")
    dtype = req.get("DeleteType")
    mbx = ctx.actor
    for ide in children(req.find(m("ItemIds"))):
        try:
            it = resolve_item(ctx, ide)
            trash = mbx.by_name["deleteditems"]
            if dtype == "MoveToDeletedItems" and it.folder is not trash:
                mbx.move_item(it, trash)
            else:
                # HardDelete, SoftDelete (into the dumpster, which EWS does not show)
                # and MoveToDeletedItems of an item already in Deleted Items
                mbx.remove_item(it)
            message(msgs, "DeleteItem")
        except EwsError as e:
            message(msgs, "DeleteItem", e)
    return root


def _move_copy(ctx, req, opname, copy):
    root, msgs = response_root(opname)
    ret_ids = parse_bool(req.findtext(m("ReturnNewItemIds")), default=True)
    try:
        dest = resolve_folder(ctx, children(req.find(m("ToFolderId")))[0], error="ErrorToFolderNotFound")
        derr = None
    except EwsError as e:
        dest, derr = None, e
    for ide in children(req.find(m("ItemIds"))):
        try:
            if derr:
                raise derr
            it = resolve_item(ctx, ide)
            new = ctx.actor.move_item(it, dest, copy=copy)
            rm = message(msgs, opname)
            items = el(rm, m("Items"))
            if ret_ids:
                el(el(items, t("Message")), t("ItemId"), **id_attrs(new))
        except EwsError as e:
            message(msgs, opname, e, items_container=True)
    return root


@op
def MoveItem(ctx, req):
    return _move_copy(ctx, req, "MoveItem", copy=False)


@op
def CopyItem(ctx, req):
    return _move_copy(ctx, req, "CopyItem", copy=True)


def _apply_update(ctx, it, upd):
    """One SetItemField/AppendToItemField/DeleteItemField; True if the content changed."""
    kind = upd.tag.split("}")[1]
    path = children(upd)[0]
    uri = path.get("FieldURI")
    if path.tag != t("FieldURI"):
        ctx.notes.append("ignored update of %s" % path.tag.split("}")[1])
        return False
    if kind == "DeleteItemField":
        if uri in ("message:IsRead", "item:Subject"):
            raise EwsError("ErrorCannotDeleteObject", message_xml=_field_xml(uri))
        ctx.notes.append("ignored DeleteItemField %s" % uri)
        return False
    value_item = children(upd)[1] if len(children(upd)) > 1 else None
    if uri == "message:IsRead":
        it.is_read = parse_bool(value_item.findtext(t("IsRead")))
        return False
    if uri == "item:Subject" and kind == "SetItemField":
        new = value_item.findtext(t("Subject")) or ""
        import email
        import email.policy
        msg = email.message_from_bytes(it.mime, policy=email.policy.compat32)
        del msg["Subject"]
        msg["Subject"] = new
        it.set_mime(msg.as_bytes())
        return True
    ctx.notes.append("ignored %s %s" % (kind, uri))
    return False


@op
def UpdateItem(ctx, req):
    root, msgs = response_root("UpdateItem")
    conflict = req.get("ConflictResolution") or "AutoResolve"
    disp = req.get("MessageDisposition")
    sif = req.find(m("SavedItemFolderId"))
    for ch in children(req.find(m("ItemChanges"))):
        try:
            it = resolve_item(ctx, children(ch)[0])
            ck = children(ch)[0].get("ChangeKey")
            if ck and ck != it.changekey and conflict == "NeverOverwrite":
                raise EwsError("ErrorIrresolvableConflict")
            was_read = it.is_read
            content = False
            for upd in children(ch.find(t("Updates"))):
                content = _apply_update(ctx, it, upd) or content
            if content or it.is_read != was_read:
                ctx.actor.update_item(it, content=content)
            if disp in ("SendOnly", "SendAndSaveCopy"):
                folder = None
                if disp == "SendAndSaveCopy":
                    folder = resolve_folder(ctx, children(sif)[0]) if sif is not None \
                        else ctx.actor.by_name["sentitems"]
                _send(ctx, it, folder)
                rm = message(msgs, "UpdateItem")
                el(rm, m("Items"))
            else:
                rm = message(msgs, "UpdateItem")
                el(el(el(rm, m("Items")), t("Message")), t("ItemId"), **id_attrs(it))
            el(rm, m("ConflictResults")).append(_count0())
        except EwsError as e:
            message(msgs, "UpdateItem", e, items_container=True)
    return root


def _count0():
    from lxml import etree
    c = etree.Element(t("Count"), nsmap={"t": T})
    c.text = "0"
    return c


@op
def SyncFolderItems(ctx, req):
    root, msgs = response_root("SyncFolderItems")
    try:
        shape = Shape(req.find(m("ItemShape")), for_find=False)
        folder = resolve_folder(ctx, children(req.find(m("SyncFolderId")))[0])
        state = (req.findtext(m("SyncState")) or "").strip()
        known = decode_sync_state(ctx.store, folder, state) if state else {}
        ignore = set()
        ig = req.find(m("Ignore"))
        if ig is not None:
            for ide in children(ig):
                try:
                    ignore.add(ctx.store.ids.parse(ide.get("Id"))[2])
                except EwsError:
                    pass
        maxn = int(req.findtext(m("MaxChangesReturned")))
        changes = []
        current = {s: it for s, it in folder.items.items()}
        for s in sorted(known):
            if s not in current:
                changes.append(("Delete", s, None))
        for s, it in sorted(current.items()):
            if s not in known:
                changes.append(("Create", s, it))
            elif known[s][0] != it.content_version:
                changes.append(("Update", s, it))
            elif known[s][1] != it.is_read:
                changes.append(("ReadFlagChange", s, it))
        rm = message(msgs, "SyncFolderItems")
        taken = changes[:maxn]
        new_known = dict(known)
        for kind, s, it in taken:
            if kind == "Delete":
                new_known.pop(s, None)
            else:
                new_known[s] = (it.content_version, it.is_read)
        el(rm, m("SyncState"), encode_sync_state(ctx.store, folder, new_known))
        el(rm, m("IncludesLastItemInRange"), bool_text(len(taken) == len(changes)))
        ch = el(rm, m("Changes"))
        for kind, s, it in taken:
            if s in ignore:
                continue
            c = el(ch, t(kind))
            if kind == "Delete":
                el(c, t("ItemId"), Id=ctx.store.ids.make(folder.mbx.guid, KIND_ITEM, s))
            elif kind == "ReadFlagChange":
                el(c, t("ItemId"), **id_attrs(it))
                el(c, t("IsRead"), bool_text(it.is_read))
            else:
                shape.render(c, it)
    except EwsError as e:
        message(msgs, "SyncFolderItems", e)
    return root


# ---------------------------------------------------------------- notifications

@op
def Subscribe(ctx, req):
    root, msgs = response_root("Subscribe")
    r = children(req)[0]
    kind = {"PullSubscriptionRequest": "pull", "StreamingSubscriptionRequest": "streaming"}.get(r.tag.split("}")[1])
    try:
        if kind is None:
            raise EwsError("ErrorInvalidSubscriptionRequest",
                           "The responder does not make push subscriptions (it cannot call back).")
        all_folders = parse_bool(r.get("SubscribeToAllFolders"))
        folders = []
        fids = r.find(t("FolderIds"))
        if fids is not None:
            folders = [resolve_folder(ctx, f) for f in children(fids)]
        elif not all_folders:
            raise EwsError("ErrorInvalidSubscriptionRequest", "No folders given.")
        events = [(e.text or "").strip() for e in children(r.find(t("EventTypes")))]
        timeout = int(r.findtext(t("Timeout")) or 30)
        wm = r.findtext(t("Watermark"))
        s = ctx.store.events.subscribe(ctx.actor, kind, folders, all_folders, events, timeout, wm)
        rm = message(msgs, "Subscribe")
        el(rm, m("SubscriptionId"), s.id)
        if kind == "pull":
            el(rm, m("Watermark"), watermark(s.acked))
        ctx.cookies["X-BackEndOverrideCookie"] = "RESPONDER1.example.test~1942062522"
        ctx.notes.append("%s subscription" % kind)
    except EwsError as e:
        message(msgs, "Subscribe", e)
    return root


@op
def GetEvents(ctx, req):
    root, msgs = response_root("GetEvents")
    try:
        ev = ctx.store.events
        s = ev.get(ctx.actor, req.findtext(m("SubscriptionId")), "pull")
        prev = (req.findtext(m("Watermark")) or "").strip()
        batch, more = ev.pull(s, prev)
        rm = message(msgs, "GetEvents")
        notification_xml(rm, m("Notification"), s, batch, pull_prev=prev, more=more,
                         status_seq=s.acked if not batch else None)
        ctx.notes.append("%d events" % len(batch))
    except EwsError as e:
        message(msgs, "GetEvents", e)
    return root


@op
def Unsubscribe(ctx, req):
    root, msgs = response_root("Unsubscribe")
    try:
        ctx.store.events.unsubscribe(ctx.actor, req.findtext(m("SubscriptionId")))
        message(msgs, "Unsubscribe")
    except EwsError as e:
        message(msgs, "Unsubscribe", e)
    return root


# GetStreamingEvents is answered by the server module (a long chunked response).

# ---------------------------------------------------------------- odds and ends exchangelib may use

@op
def ResolveNames(ctx, req):
    root, msgs = response_root("ResolveNames")
    name = (req.findtext(m("UnresolvedEntry")) or "").strip().lower()
    if name.startswith("smtp:"):
        name = name[5:]
    hits = [a for a in ctx.store.mailboxes if name and (a == name or a.split("@")[0].startswith(name))]
    if not hits:
        message(msgs, "ResolveNames", EwsError("ErrorNameResolutionNoResults",
                                               "No results were found."))
        return root
    rm = message(msgs, "ResolveNames")
    rs = el(rm, m("ResolutionSet"), TotalItemsInView=len(hits), IncludesLastItemInRange="true")
    for a in hits:
        r = el(rs, t("Resolution"))
        mb = el(r, t("Mailbox"))
        el(mb, t("Name"), a.split("@")[0])
        el(mb, t("EmailAddress"), a)
        el(mb, t("RoutingType"), "SMTP")
        el(mb, t("MailboxType"), "Mailbox")
    return root

