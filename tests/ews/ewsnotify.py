"""Notifications of the EWS test responder: pull and streaming subscriptions,
their event queues and watermarks, and the XML of events.

Store.lock guards everything here; Store.changed is notified on each event.
"""
import base64
import os
import struct
import time

from ewsxml import el, t
from ewsmodel import EwsError, ews_time, now_utc, KIND_ITEM

MAX_QUEUE = 10000       # events a subscription keeps; past it the subscription is dropped
MAX_SUBSCRIPTIONS = 500
EVENTS_PER_GETEVENTS = 50


class Event:
    def __init__(self, seq, kind, folder, obj_id, parent_id, old_id=None, old_parent_id=None,
                 is_folder=False, unread=None):
        self.seq = seq
        self.kind = kind
        self.time = now_utc()
        self.folder_serials = {folder.serial}   # subscriptions on these folders see it
        self.obj_id, self.parent_id = obj_id, parent_id
        self.old_id, self.old_parent_id = old_id, old_parent_id
        self.is_folder = is_folder
        self.unread = unread
        self.parent_changekey = folder.changekey

    def to_xml(self, parent, with_watermark):
        e = el(parent, t(self.kind))
        if with_watermark:
            el(e, t("Watermark"), watermark(self.seq))
        el(e, t("TimeStamp"), ews_time(self.time))
        el(e, t("FolderId" if self.is_folder else "ItemId"), Id=self.obj_id[0], ChangeKey=self.obj_id[1])
        el(e, t("ParentFolderId"), Id=self.parent_id[0], ChangeKey=self.parent_id[1])
        if self.kind in ("MovedEvent", "CopiedEvent"):
            el(e, t("OldFolderId" if self.is_folder else "OldItemId"), Id=self.old_id[0], ChangeKey=self.old_id[1])
            el(e, t("OldParentFolderId"), Id=self.old_parent_id[0], ChangeKey=self.old_parent_id[1])
        if self.kind == "ModifiedEvent" and self.unread is not None:
            el(e, t("UnreadCount"), self.unread)


def watermark(seq):
    # the layout of the watermarks Exchange hands out: 4 zero bytes, a counter, 0x01
    return base64.b64encode(struct.pack("<IQB", 0, seq, 1)).decode()


def parse_watermark(text):
    try:
        raw = base64.b64decode((text or "").strip(), validate=True)
        zero, seq, one = struct.unpack("<IQB", raw)
        if zero != 0 or one != 1:
            raise ValueError
        return seq
    except Exception:
        raise EwsError("ErrorInvalidWatermark")


class Subscription:
    def __init__(self, sid, mbx, kind, folders, all_folders, event_types, timeout_min, start_seq):
        self.id = sid
        self.mbx = mbx
        self.kind = kind                  # "pull" | "streaming"
        self.folders = set(folders)       # folder serials
        self.all_folders = all_folders
        self.event_types = set(event_types)
        self.timeout_min = timeout_min
        self.last_access = time.monotonic()
        self.queue = []                   # Events, oldest first
        self.acked = start_seq            # pull: events <= acked were read
        self.stream = None                # the open GetStreamingEvents connection, if any

    def wants(self, ev):
        if ev.kind not in self.event_types:
            return False
        return self.all_folders or bool(ev.folder_serials & self.folders)


class Events:
    def __init__(self, store):
        self.store = store
        self.seq = 0
        self.subs = {}
        self.minute = 60.0        # seconds in a "minute" (tests may shorten time)

    # ---- producing
    def _emit(self, mbx, ev):
        for s in list(self.subs.values()):
            if s.mbx is mbx and s.wants(ev):
                s.queue.append(ev)
                if len(s.queue) > MAX_QUEUE:
                    del self.subs[s.id]     # overflow: the client must resubscribe and resync
        self.store.changed.notify_all()

    def _next(self):
        self.seq += 1
        return self.seq

    def item_event(self, mbx, kind, it, old=None):
        f = it.folder
        ev = Event(self._next(), kind, f, (it.id, it.changekey), (f.id, f.changekey),
                   old_id=(old.id, old.changekey) if old else None,
                   old_parent_id=(old.folder.id, old.folder.changekey) if old else None)
        if old is not None and kind == "MovedEvent":
            ev.folder_serials.add(old.folder.serial)   # seen on the source folder too
        self._emit(mbx, ev)

    def folder_event(self, mbx, kind, folder):
        p = folder.parent
        ev = Event(self._next(), kind, p, (folder.id, folder.changekey), (p.id, p.changekey), is_folder=True)
        self._emit(mbx, ev)

    def folder_modified(self, mbx, folder):
        folder.version += 1
        p = folder.parent or folder
        ev = Event(self._next(), "ModifiedEvent", p, (folder.id, folder.changekey), (p.id, p.changekey),
                   is_folder=True, unread=folder.unread)
        # a folder's own ModifiedEvent is seen by subscriptions on the folder itself
        ev.folder_serials = {folder.serial}
        self._emit(mbx, ev)

    # ---- subscriptions
    def expire(self):
        nowm = time.monotonic()
        for s in list(self.subs.values()):
            if s.kind == "pull" and nowm - s.last_access > s.timeout_min * self.minute:
                del self.subs[s.id]
            elif s.kind == "streaming" and s.stream is None and nowm - s.last_access > 30 * self.minute:
                del self.subs[s.id]

    def subscribe(self, mbx, kind, folders, all_folders, event_types, timeout_min=30, from_watermark=None):
        self.expire()
        if len(self.subs) >= MAX_SUBSCRIPTIONS:
            raise EwsError("ErrorExceededSubscriptionCount", "Too many subscriptions.")
        sid = base64.b64encode(b"\x13\x00" + b"responder.example.test" + b"\x10\x00\x00\x00" + os.urandom(16)).decode()
        start = self.seq
        if from_watermark is not None:
            start = parse_watermark(from_watermark)
            if start > self.seq:
                raise EwsError("ErrorInvalidWatermark")
        s = Subscription(sid, mbx, kind, [f.serial for f in folders], all_folders, event_types, timeout_min, start)
        self.subs[sid] = s
        return s

    def get(self, mbx, sid, kind=None):
        self.expire()
        s = self.subs.get((sid or "").strip())
        if s is None:
            raise EwsError("ErrorSubscriptionNotFound")
        if s.mbx is not mbx:
            raise EwsError("ErrorSubscriptionAccessDenied")
        if kind and s.kind != kind:
            raise EwsError("ErrorInvalidSubscription")
        return s

    def unsubscribe(self, mbx, sid):
        s = self.get(mbx, sid)
        del self.subs[s.id]
        self.store.changed.notify_all()

    def pull(self, s, wm_text):
        """GetEvents: events after the watermark; the events up to it are
        forgotten. Returns (previous watermark, events, more, status seq)."""
        wm = parse_watermark(wm_text)
        if wm < s.acked or wm > self.seq:
            raise EwsError("ErrorInvalidWatermark")
        s.acked = wm
        s.queue = [e for e in s.queue if e.seq > wm]
        s.last_access = time.monotonic()
        batch = s.queue[:EVENTS_PER_GETEVENTS]
        return batch, len(s.queue) > len(batch)

    def take_stream(self, s):
        """Streaming: everything queued, at once."""
        evs, s.queue = s.queue, []
        s.last_access = time.monotonic()
        return evs


def notification_xml(parent, tag, s, events, pull_prev=None, more=None, status_seq=None):
    n = el(parent, tag)
    el(n, t("SubscriptionId"), s.id)
    if pull_prev is not None:
        el(n, t("PreviousWatermark"), pull_prev)
        el(n, t("MoreEvents"), "true" if more else "false")
    if not events:
        st = el(n, t("StatusEvent"))
        if status_seq is not None:
            el(st, t("Watermark"), watermark(status_seq))
    for ev in events:
        ev.to_xml(n, with_watermark=pull_prev is not None)
    return n


__all__ = ["Events", "Subscription", "notification_xml", "watermark", "parse_watermark", "KIND_ITEM"]
