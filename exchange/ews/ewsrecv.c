/* ewsrecv.c - the EWS receiving half.
 *
 * - Folder: FindFolder (Shallow, under msgfolderroot, DisplayName equal to
 *   service_folder); the Inbox while there is none, looked for again at
 *   every query.
 * - list: FindItem of the watched folder, restricted to subjects containing
 *   the stamp, oldest first, paged (IndexedPageItemView, 100 at a time) -
 *   always the whole folder (mc__listing full): unstamped mail is never
 *   listed, so a listing costs what the stamped mail costs.
 * - fetch: GetItem with IncludeMimeContent; the MIME goes to the core's
 *   classifier like any other transport's mail. One GetItem reads up to 16
 *   of the mails a listing found new (those that fit the size limit): the
 *   core asks for them next, and they are handed over from memory.
 * - remove: DeleteItem HardDelete, at most 100 ids a request;
 *   ErrorItemNotFound counts as deleted. move_to_trash: MoveItem to
 *   deleteditems.
 * - move (after_receive = move, dead_letter_folder): MoveItem, at most 100
 *   ids a request, to the folder of that display name under msgfolderroot
 *   (FindFolder; CreateFolder when there is none), found once and kept;
 *   ErrorItemNotFound counts as moved.
 * - wait: a streaming subscription on the watched folder (NewMail, Created
 *   and Moved events) read on a connection of its own (GetStreamingEvents,
 *   30 min at a time); where the server has no streaming, a pull
 *   subscription asked with GetEvents at least every 5 s while waiting. A
 *   reconnected stream or a lost subscription makes the core query (the
 *   listing is the resync), so nothing that arrived meanwhile is missed.
 *   Without a subscription, the wait only sleeps.
 * - Every response message's ResponseClass/ResponseCode is checked; a busy
 *   server's wait (ErrorServerBusy BackOffMilliseconds, HTTP 503/429
 *   Retry-After) is handed to the core through mc__receiver_retry_after. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ews.h"

#define PAGE 100
#define MAX_LISTED 100000 /* a folder holding more stamped mail is listed in part */
#define DELETE_BATCH 100
#define MAX_REPLY (16u << 20)
#define EVENTS_EVERY_MS 5000
#define SUBSCRIPTION_MINUTES 30
#define STREAM_MAX (4u << 20) /* one notification envelope at most */

typedef struct {
    mc__receiver base;
    mc__ews ews;
    mc__ews stream; /* GetStreamingEvents: a session (a connection) of its own */
    char *service;
    char folder_id[1024]; /* the service folder's id; "" while watching the Inbox */
    bool folder_known;
    mc__ews_notify notify;
    char sub_id[512], watermark[512]; /* the subscription (watermark: pull only) */
    bool subscribed;
    mc__buf pending; /* stream bytes not yet a whole envelope */
    /* read-ahead: one GetItem reads a batch of the mail a listing found new */
    mc__strmap seen;      /* ids of the previous listing */
    bool listed_once;     /* a listing succeeded: later ones find new mail */
    mc__mail_item *fresh; /* ids new in the last listing, in its order (id, size) */
    size_t nfresh;
    mc__strmap ahead;   /* id -> ahead_mail read with another's GetItem */
    bool news, lost;    /* what the stream said: new mail; the subscription is gone */
    mc__strmap targets; /* folders mail is moved to: display name -> folder id */
} ews_receiver;

#define R(b) ((ews_receiver *)(b))
#define READ_AHEAD 16 /* mails per GetItem */

typedef struct {
    char *data;
    size_t len;
    bool truncated;
} ahead_mail;

static void ahead_free(void *p)
{
    ahead_mail *a = p;
    if (a)
        free(a->data);
    free(a);
}

static void fresh_free(ews_receiver *r)
{
    for (size_t i = 0; i < r->nfresh; i++)
        free(r->fresh[i].id);
    free(r->fresh);
    r->fresh = NULL;
    r->nfresh = 0;
}

/* One call; a busy server's wait goes to the core. */
static int call(ews_receiver *r, const char *body, size_t max, mc__ews_response *out)
{
    int backoff = 0;
    int rc = mc__ews_call(&r->ews, body, max, NULL, out, &backoff);
    if (rc == MC_EBUSY && backoff > 0)
        mc__receiver_retry_after(&r->base, backoff);
    return rc;
}

/* The one response message of a call, checked. */
static int single(ews_receiver *r, mc__ews_response *resp, const char *what, xmlNode **msg)
{
    char code[64], text[256];
    int backoff = 0, rc;
    if (!(*msg = mc__ews_first_message(resp)))
        return mc__error_set(MC_EPROTO, "EWS %s: the response has no response message", what);
    if ((rc = mc__ews_message_status(*msg, code, text, &backoff))) {
        if (rc == MC_EBUSY)
            mc__receiver_retry_after(&r->base, backoff > 0 ? backoff : 5000);
        return mc__error_set(rc, "EWS %s: %s: %s", what, code, text);
    }
    return 0;
}

static void put_folder(ews_receiver *r, mc__buf *b)
{
    if (r->folder_id[0]) {
        mc__buf_puts(b, "<t:FolderId Id=\"");
        mc__buf_put_xml_escaped(b, r->folder_id, strlen(r->folder_id));
        mc__buf_puts(b, "\"/>");
    } else {
        mc__buf_puts(b, "<t:DistinguishedFolderId Id=\"inbox\"/>");
    }
}

/* ---- the folder ---- */

/* FindFolder of a display name under msgfolderroot: its id, "" when none */
static int find_folder(ews_receiver *r, const char *name, char *id, size_t cap)
{
    mc__ews_response resp = {0};
    xmlNode *msg;
    mc__buf b;
    char *body;
    int rc;
    mc__buf_init(&b);
    mc__buf_puts(&b,
                 "<m:FindFolder Traversal=\"Shallow\"><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape>"
                 "<t:AdditionalProperties><t:FieldURI FieldURI=\"folder:DisplayName\"/>"
                 "</t:AdditionalProperties></m:FolderShape><m:Restriction><t:IsEqualTo>"
                 "<t:FieldURI FieldURI=\"folder:DisplayName\"/><t:FieldURIOrConstant><t:Constant Value=\"");
    mc__buf_put_xml_escaped(&b, name, strlen(name));
    mc__buf_puts(&b, "\"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction><m:ParentFolderIds>"
                     "<t:DistinguishedFolderId Id=\"msgfolderroot\"/></m:ParentFolderIds></m:FindFolder>");
    if (!(body = mc__buf_detach(&b, NULL)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    rc = call(r, body, MAX_REPLY, &resp);
    free(body);
    if (rc)
        return rc;
    id[0] = 0;
    if (!(rc = single(r, &resp, "FindFolder", &msg)))
        mc__ews_read_folder_id(msg, id, cap);
    mc__ews_response_free(&resp);
    return rc;
}

static void unsubscribe(ews_receiver *r);

/* Finds the watched folder (first time, and at each query while on the
 * Inbox); a change of folder drops the subscription. */
static int check_folder(ews_receiver *r)
{
    char id[sizeof(r->folder_id)];
    int rc;
    if (r->folder_known && r->folder_id[0])
        return 0;
    if ((rc = find_folder(r, r->service, id, sizeof(id))))
        return rc;
    if (!r->folder_known && !id[0])
        mc__log(MC_LOG_INFO, "EWS folder \"%s\" does not exist; watching the Inbox", r->service);
    else if (r->folder_known && id[0])
        mc__log(MC_LOG_INFO, "EWS folder \"%s\" exists now; watching it instead of the Inbox", r->service);
    if (!r->folder_known || strcmp(id, r->folder_id)) {
        unsubscribe(r);
        snprintf(r->folder_id, sizeof(r->folder_id), "%s", id);
    }
    r->folder_known = true;
    return 0;
}

static int ews_open(mc__receiver *b) { return check_folder(R(b)); }

/* ---- listing ---- */

static char *find_items_body(ews_receiver *r, size_t offset)
{
    mc__buf b;
    mc__buf_init(&b);
    mc__buf_printf(
        &b,
        "<m:FindItem Traversal=\"Shallow\"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>"
        "<t:AdditionalProperties><t:FieldURI FieldURI=\"item:Size\"/>"
        "<t:FieldURI FieldURI=\"item:DateTimeReceived\"/></t:AdditionalProperties></m:ItemShape>"
        "<m:IndexedPageItemView MaxEntriesReturned=\"%d\" Offset=\"%zu\" BasePoint=\"Beginning\"/>"
        "<m:Restriction><t:Contains ContainmentMode=\"Substring\" ContainmentComparison=\"IgnoreCase\">"
        "<t:FieldURI FieldURI=\"item:Subject\"/><t:Constant Value=\"" MC_SUBJECT_STAMP "\"/>"
        "</t:Contains></m:Restriction><m:SortOrder><t:FieldOrder Order=\"Ascending\">"
        "<t:FieldURI FieldURI=\"item:DateTimeReceived\"/></t:FieldOrder></m:SortOrder>"
        "<m:ParentFolderIds>",
        PAGE, offset);
    put_folder(r, &b);
    mc__buf_puts(&b, "</m:ParentFolderIds></m:FindItem>");
    return mc__buf_detach(&b, NULL);
}

/* One page; *last when the server says it was the last. */
static int list_page(ews_receiver *r, size_t offset, mc__listing *l, size_t *cap, bool *last)
{
    mc__ews_response resp = {0};
    xmlNode *msg;
    char *body = find_items_body(r, offset);
    int rc;
    if (!body)
        return mc__error_set(MC_ENOMEM, "out of memory");
    rc = call(r, body, MAX_REPLY, &resp);
    free(body);
    if (rc)
        return rc;
    if (!(rc = single(r, &resp, "FindItem", &msg)))
        rc = mc__ews_read_items(msg, l, cap, last);
    mc__ews_response_free(&resp);
    return rc;
}

/* After a listing: which ids are new (read ahead in batches), and the
 * read-ahead of mail no longer listed forgotten. The arrival of each (what
 * accept_existing_messages compares with a listener's open time), as IMAP
 * takes it: in the first listing, DateTimeReceived - whole seconds, taken as
 * the end of the second, so that mail that came just after a listener
 * opened never looks older; in later ones, the moment this client first saw
 * it, so that the server's clock does not matter for new mail. */
static int note_listing(ews_receiver *r, mc__listing *l)
{
    int64_t seen_ms = mc__wall_ms();
    mc__strmap now;
    fresh_free(r);
    mc__strmap_init(&now);
    if (l->count && !(r->fresh = calloc(l->count, sizeof(*r->fresh))))
        return mc__error_set(MC_ENOMEM, "out of memory");
    for (size_t i = 0; i < l->count; i++) {
        const char *id = l->items[i].id;
        bool known = false;
        mc__strmap_get(&r->seen, id, &known);
        if (mc__strmap_put(&now, id, NULL) || (!known && !(r->fresh[r->nfresh].id = mc__strdup(id)))) {
            mc__strmap_free(&now, NULL);
            return mc__error_set(MC_ENOMEM, "out of memory");
        }
        if (!known)
            r->fresh[r->nfresh++].size = l->items[i].size;
        if (!known && r->listed_once)
            l->items[i].arrived_ms = seen_ms;
        else if (!r->listed_once && l->items[i].arrived_ms)
            l->items[i].arrived_ms += 999;
    }
    r->listed_once = true;
    for (size_t i = 0; i < r->ahead.cap; i++) {
        void *v;
        const char *k = mc__strmap_slot(&r->ahead, i, &v);
        bool listed = false;
        if (k)
            mc__strmap_get(&now, k, &listed);
        if (k && !listed) {
            mc__strmap_remove(&r->ahead, k, NULL);
            ahead_free(v);
        }
    }
    mc__strmap_free(&r->seen, NULL);
    r->seen = now;
    return 0;
}

static int ews_list(mc__receiver *b, mc__listing *l)
{
    ews_receiver *r = R(b);
    size_t cap = 0;
    bool last = false;
    int rc;
    l->full = true;
    if ((rc = check_folder(r)))
        return rc;
    while (!last && l->count < MAX_LISTED)
        if ((rc = list_page(r, l->count, l, &cap, &last)))
            return rc;
    return note_listing(r, l);
}

/* ---- reading, deleting, moving ---- */

/* The ids one GetItem reads: id, then new mail listed after it that fits
 * max and was not read yet. */
static size_t batch_of(ews_receiver *r, const char *id, size_t max, const char **ids)
{
    size_t n = 1, i = 0;
    ids[0] = id;
    while (i < r->nfresh && strcmp(r->fresh[i].id, id))
        i++;
    for (i++; i < r->nfresh && n < READ_AHEAD; i++)
        if (r->fresh[i].size <= max && !mc__strmap_get(&r->ahead, r->fresh[i].id, NULL))
            ids[n++] = r->fresh[i].id;
    return n;
}

/* Keeps what a batch read for the others, for their fetch. */
static void keep_ahead(ews_receiver *r, const xmlNode *msg, const char *id, size_t max)
{
    char code[64], text[256];
    int backoff;
    ahead_mail *a;
    if (mc__ews_message_status(msg, code, text, &backoff) || !(a = calloc(1, sizeof(*a))))
        return; /* read on its own when asked for */
    if (mc__ews_read_mime(msg, max, &a->data, &a->len, &a->truncated) || mc__strmap_put(&r->ahead, id, a))
        ahead_free(a);
}

static int get_items(ews_receiver *r, const char *const *ids, size_t n, size_t max, mc__ews_response *resp)
{
    char *body = mc__ews_items_request("<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>"
                                       "<t:IncludeMimeContent>true</t:IncludeMimeContent></m:ItemShape>",
                                       ids, NULL, n, "</m:GetItem>");
    int rc;
    if (!body)
        return mc__error_set(MC_ENOMEM, "out of memory");
    /* the MIME in base64 grows by a third; the rest of the reply is small */
    rc = call(r, body, n * (max / 3 * 4 + 4096) + (1u << 20), resp);
    free(body);
    return rc;
}

static int ews_fetch(mc__receiver *b, const char *id, size_t max, char **data, size_t *len, bool *truncated)
{
    ews_receiver *r = R(b);
    mc__ews_response resp = {0};
    const char *ids[READ_AHEAD];
    ahead_mail *a;
    xmlNode *msg;
    size_t n;
    int rc;
    if (mc__strmap_remove(&r->ahead, id, (void **)&a)) {
        *data = a->data;
        *len = a->len < max ? a->len : max;
        *truncated = a->truncated || a->len > max;
        free(a);
        return 0;
    }
    n = batch_of(r, id, max, ids);
    rc = get_items(r, ids, n, max, &resp);
    if (rc == MC_ETOOBIG && n > 1) /* one of the others is larger than it said: alone */
        rc = get_items(r, ids, n = 1, max, &resp);
    if (rc == MC_ETOOBIG) {
        /* a mail far over the limit: what the core needs is that it is too big */
        *data = mc__strdup("");
        *len = 0;
        *truncated = true;
        return *data ? 0 : mc__error_set(MC_ENOMEM, "out of memory");
    }
    if (rc)
        return rc;
    if (!(rc = single(r, &resp, "GetItem", &msg)))
        rc = mc__ews_read_mime(msg, max, data, len, truncated);
    msg = msg ? mc__ews_next_message(msg) : NULL;
    for (size_t i = 1; !rc && i < n && msg; i++, msg = mc__ews_next_message(msg))
        keep_ahead(r, msg, ids[i], max);
    mc__ews_response_free(&resp);
    return rc;
}

/* one DeleteItem of at most DELETE_BATCH ids; ErrorItemNotFound is deleted */
static int delete_batch(ews_receiver *r, const char *const *ids, size_t n)
{
    mc__ews_response resp = {0};
    char *body =
        mc__ews_items_request("<m:DeleteItem DeleteType=\"HardDelete\">", ids, NULL, n, "</m:DeleteItem>");
    int rc, backoff = 0;
    if (!body)
        return mc__error_set(MC_ENOMEM, "out of memory");
    rc = call(r, body, MAX_REPLY, &resp);
    free(body);
    if (rc)
        return rc;
    if ((rc = mc__ews_read_deleted(&resp, ids, n, &backoff)) == MC_EBUSY)
        mc__receiver_retry_after(&r->base, backoff > 0 ? backoff : 5000);
    mc__ews_response_free(&resp);
    return rc;
}

static int ews_remove(mc__receiver *b, const char *const *ids, size_t count)
{
    int rc = 0;
    for (size_t i = 0; i < count && !rc; i += DELETE_BATCH)
        rc = delete_batch(R(b), ids + i, count - i < DELETE_BATCH ? count - i : DELETE_BATCH);
    return rc;
}

static int ews_move_to_trash(mc__receiver *b, const char *id, const char **folder)
{
    ews_receiver *r = R(b);
    mc__ews_response resp = {0};
    xmlNode *msg;
    char *body;
    int rc;
    if (!(body =
              mc__ews_items_request("<m:MoveItem><m:ToFolderId><t:DistinguishedFolderId Id=\"deleteditems\"/>"
                                    "</m:ToFolderId>",
                                    &id, NULL, 1, "</m:MoveItem>")))
        return mc__error_set(MC_ENOMEM, "out of memory");
    rc = call(r, body, MAX_REPLY, &resp);
    free(body);
    if (rc)
        return rc;
    rc = single(r, &resp, "MoveItem", &msg);
    mc__ews_response_free(&resp);
    *folder = "Deleted Items (deleteditems)";
    return rc;
}

/* ---- moving to a folder by name ---- */

static int create_folder(ews_receiver *r, const char *name, char *id, size_t cap)
{
    mc__ews_response resp = {0};
    xmlNode *msg;
    mc__buf b;
    char *body;
    int rc;
    mc__buf_init(&b);
    mc__buf_puts(&b, "<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id=\"msgfolderroot\"/>"
                     "</m:ParentFolderId><m:Folders><t:Folder><t:DisplayName>");
    mc__buf_put_xml_escaped(&b, name, strlen(name));
    mc__buf_puts(&b, "</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>");
    if (!(body = mc__buf_detach(&b, NULL)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    rc = call(r, body, MAX_REPLY, &resp);
    free(body);
    if (rc)
        return rc;
    id[0] = 0;
    if (!(rc = single(r, &resp, "CreateFolder", &msg))) {
        mc__ews_read_created_folder_id(msg, id, cap);
        if (!id[0])
            rc = mc__error_set(MC_EPROTO, "EWS CreateFolder: the response has no FolderId");
    }
    mc__ews_response_free(&resp);
    if (!rc)
        mc__log(MC_LOG_INFO, "EWS: created folder \"%s\"", name);
    return rc;
}

/* The id of the folder of this display name under msgfolderroot, found
 * (or made) once and kept. */
static int target_folder(ews_receiver *r, const char *name, const char **out)
{
    char id[sizeof(r->folder_id)], *copy;
    int rc;
    if ((*out = mc__strmap_get(&r->targets, name, NULL)))
        return 0;
    if ((rc = find_folder(r, name, id, sizeof(id))))
        return rc;
    if (!id[0] && (rc = create_folder(r, name, id, sizeof(id)))) {
        /* another client may have made it meanwhile (ErrorFolderExists) */
        char why[256];
        snprintf(why, sizeof(why), "%s", mc_error_last());
        if (rc == MC_EBUSY || find_folder(r, name, id, sizeof(id)) || !id[0])
            return mc__error_set(rc, "%s", why);
    }
    if (!strcmp(id, r->folder_id))
        return mc__error_set(MC_EINVAL, "EWS folder \"%s\" is the watched folder", name);
    if (!(copy = mc__strdup(id)) || mc__strmap_put(&r->targets, name, copy)) {
        free(copy);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    *out = copy;
    return 0;
}

static void forget_target(ews_receiver *r, const char *name)
{
    void *v = NULL;
    if (mc__strmap_remove(&r->targets, name, &v))
        free(v);
}

/* one MoveItem of at most DELETE_BATCH ids; ErrorItemNotFound is moved */
static int move_batch(ews_receiver *r, const char *const *ids, size_t n, const char *folder_id)
{
    mc__ews_response resp = {0};
    mc__buf open;
    char *head, *body;
    int rc, backoff = 0;
    mc__buf_init(&open);
    mc__buf_puts(&open, "<m:MoveItem><m:ToFolderId><t:FolderId Id=\"");
    mc__buf_put_xml_escaped(&open, folder_id, strlen(folder_id));
    mc__buf_puts(&open, "\"/></m:ToFolderId>");
    if (!(head = mc__buf_detach(&open, NULL)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    body = mc__ews_items_request(head, ids, NULL, n, "</m:MoveItem>");
    free(head);
    if (!body)
        return mc__error_set(MC_ENOMEM, "out of memory");
    rc = call(r, body, MAX_REPLY, &resp);
    free(body);
    if (rc)
        return rc;
    if ((rc = mc__ews_read_each(&resp, "MoveItem", ids, n, &backoff)) == MC_EBUSY)
        mc__receiver_retry_after(&r->base, backoff > 0 ? backoff : 5000);
    mc__ews_response_free(&resp);
    return rc;
}

static int ews_move(mc__receiver *b, const char *const *ids, size_t count, const char *folder)
{
    ews_receiver *r = R(b);
    const char *fid;
    int rc;
    if ((rc = target_folder(r, folder, &fid)))
        return rc;
    for (size_t i = 0; i < count && !rc; i += DELETE_BATCH)
        rc = move_batch(r, ids + i, count - i < DELETE_BATCH ? count - i : DELETE_BATCH, fid);
    if (rc && rc != MC_EBUSY)
        forget_target(r, folder); /* looked for again next time: deleted meanwhile? */
    return rc;
}

/* ---- new mail: a pull subscription ---- */

static int subscribe(ews_receiver *r, bool streaming)
{
    mc__ews_response resp = {0};
    xmlNode *msg;
    mc__buf b;
    char *body;
    int rc;
    const char *kind = streaming ? "StreamingSubscriptionRequest" : "PullSubscriptionRequest";
    mc__buf_init(&b);
    mc__buf_printf(&b, "<m:Subscribe><m:%s><t:FolderIds>", kind);
    put_folder(r, &b);
    mc__buf_puts(
        &b, "</t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType>"
            "<t:EventType>CreatedEvent</t:EventType><t:EventType>MovedEvent</t:EventType></t:EventTypes>");
    if (!streaming)
        mc__buf_printf(&b, "<t:Timeout>%d</t:Timeout>", SUBSCRIPTION_MINUTES);
    mc__buf_printf(&b, "</m:%s></m:Subscribe>", kind);
    if (!(body = mc__buf_detach(&b, NULL)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    rc = call(r, body, MAX_REPLY, &resp);
    free(body);
    if (rc)
        return rc;
    if (!(rc = single(r, &resp, "Subscribe", &msg)) &&
        !(rc = mc__ews_read_subscription(msg, r->sub_id, sizeof(r->sub_id), r->watermark,
                                         sizeof(r->watermark))))
        r->subscribed = true;
    mc__ews_response_free(&resp);
    return rc;
}

static void unsubscribe(ews_receiver *r)
{
    mc__ews_response resp = {0};
    mc__buf b;
    char *body;
    mc__http_stream_stop(r->stream.http);
    if (!r->subscribed)
        return;
    r->subscribed = false;
    mc__buf_init(&b);
    mc__buf_puts(&b, "<m:Unsubscribe><m:SubscriptionId>");
    mc__buf_put_xml_escaped(&b, r->sub_id, strlen(r->sub_id));
    mc__buf_puts(&b, "</m:SubscriptionId></m:Unsubscribe>");
    if ((body = mc__buf_detach(&b, NULL)) && !call(r, body, MAX_REPLY, &resp))
        mc__ews_response_free(&resp); /* a courtesy: it expires anyway */
    free(body);
}

/* > 0: events that may be new mail; 0: none; < 0: error (the subscription
 * is dropped; the next wait makes a new one after the core's resync) */
static int get_events(ews_receiver *r)
{
    mc__ews_response resp = {0};
    xmlNode *msg;
    mc__buf b;
    char *body;
    int rc, news;
    mc__buf_init(&b);
    mc__buf_puts(&b, "<m:GetEvents><m:SubscriptionId>");
    mc__buf_put_xml_escaped(&b, r->sub_id, strlen(r->sub_id));
    mc__buf_puts(&b, "</m:SubscriptionId><m:Watermark>");
    mc__buf_put_xml_escaped(&b, r->watermark, strlen(r->watermark));
    mc__buf_puts(&b, "</m:Watermark></m:GetEvents>");
    if (!(body = mc__buf_detach(&b, NULL)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    rc = call(r, body, MAX_REPLY, &resp);
    free(body);
    if (rc)
        return rc;
    if ((rc = single(r, &resp, "GetEvents", &msg))) {
        mc__ews_response_free(&resp);
        if (rc == MC_EBUSY)
            return rc;
        r->subscribed = false; /* expired or unknown: subscribe again, after a resync */
        return 1;
    }
    news = mc__ews_read_events(msg, r->watermark, sizeof(r->watermark));
    mc__ews_response_free(&resp);
    return news;
}

/* Where an envelope's closing root tag ends ("</s:Envelope>", any
 * prefix), or 0 while it has not come yet. */
static size_t envelope_end(const char *p, size_t n)
{
    for (size_t i = 0; i + 2 < n; i++) {
        size_t j = i + 2, name;
        if (p[i] != '<' || p[i + 1] != '/')
            continue;
        name = j;
        while (j < n && p[j] != '>' && j - name < 64)
            j++;
        if (j >= n || p[j] != '>')
            continue;
        if (j - name >= 8 && !memcmp(p + j - 8, "Envelope", 8) && (j - name == 8 || p[j - 9] == ':'))
            return j + 1;
    }
    return 0;
}

/* The stream's bytes: each complete envelope is read as it arrives. */
static bool on_stream(const char *p, size_t n, void *ud)
{
    ews_receiver *r = ud;
    size_t end;
    if (r->pending.len + n > STREAM_MAX) {
        mc__log(MC_LOG_WARN, "EWS notification stream: an envelope over %u octets; reconnecting", STREAM_MAX);
        return false;
    }
    mc__buf_put(&r->pending, p, n);
    while (r->pending.len && (end = envelope_end(r->pending.data, r->pending.len))) {
        mc__ews_response resp = {0};
        bool closed = false;
        int rc = mc__ews_parse(&resp, r->pending.data, end, STREAM_MAX);
        if (!rc && resp.fault)
            rc = mc__error_set(MC_EPROTO, "EWS GetStreamingEvents: %s: %s", resp.code, resp.text);
        else if (!rc)
            rc = mc__ews_read_stream(&resp, &closed);
        mc__ews_response_free(&resp);
        if (rc > 0)
            r->news = true;
        else if (rc < 0) {
            mc__log(MC_LOG_INFO, "%s; subscribing again", mc_error_last());
            r->lost = true;
        }
        memmove(r->pending.data, r->pending.data + end, r->pending.len - end);
        r->pending.len -= end;
    }
    return !r->lost;
}

static int start_stream(ews_receiver *r)
{
    mc__buf b;
    char *body, *env;
    size_t len;
    int rc;
    mc__buf_init(&b);
    mc__buf_puts(&b, "<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>");
    mc__buf_put_xml_escaped(&b, r->sub_id, strlen(r->sub_id));
    mc__buf_printf(&b,
                   "</t:SubscriptionId></m:SubscriptionIds><m:ConnectionTimeout>%d</m:ConnectionTimeout>"
                   "</m:GetStreamingEvents>",
                   SUBSCRIPTION_MINUTES);
    if (!(body = mc__buf_detach(&b, NULL)) || !(env = mc__ews_envelope(&r->stream.header, body, &len))) {
        free(body);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    free(body);
    r->pending.len = 0;
    r->news = r->lost = false;
    rc = mc__http_stream_start(r->stream.http, env, len, on_stream, r);
    free(env);
    return rc;
}

/* Streaming: > 0 new mail (or a reconnect: query to resync), 0 timeout or
 * woken, < 0 the stream failed (the core backs off, then resyncs). */
static int wait_streaming(ews_receiver *r, int timeout_ms, int wake_fd)
{
    int64_t end = mc__mono_ms() + timeout_ms;
    int rc;
    if (!mc__http_streaming(r->stream.http)) {
        if ((rc = start_stream(r)))
            return rc;
        mc__log(MC_LOG_INFO, "EWS: notification stream open (GetStreamingEvents)");
    }
    for (;;) {
        int64_t left = end - mc__mono_ms();
        rc = mc__http_stream_run(r->stream.http, left > 0 ? (int)left : 0, wake_fd);
        if (r->lost) {
            mc__http_stream_stop(r->stream.http);
            r->subscribed = false;
            return 1;
        }
        if (r->news) {
            r->news = false;
            return 1;
        }
        if (rc == 1)
            continue; /* a status event (keep-alive) */
        if (rc == MC_ECLOSED)
            return 1; /* ended in order (ConnectionTimeout): reconnect, and resync meanwhile */
        return rc;
    }
}

/* Pull: GetEvents at least every EVENTS_EVERY_MS while waiting. */
static int wait_pull(ews_receiver *r, int timeout_ms, int wake_fd)
{
    int64_t end = mc__mono_ms() + timeout_ms;
    struct pollfd p = {wake_fd, POLLIN, 0};
    for (;;) {
        int64_t left = end - mc__mono_ms();
        int slice = (int)(left < EVENTS_EVERY_MS ? left : EVENTS_EVERY_MS);
        int rc;
        if (slice <= 0 || poll(&p, 1, slice) > 0)
            return 0;
        if ((rc = get_events(r)) != 0)
            return rc;
        if (!r->subscribed)
            return 1;
    }
}

static int ews_wait(mc__receiver *b, int timeout_ms, int wake_fd)
{
    ews_receiver *r = R(b);
    struct pollfd p = {wake_fd, POLLIN, 0};
    if (timeout_ms < 0)
        timeout_ms = 60000;
    if (r->notify != MC__EWS_NOTIFY_NONE && !r->subscribed && r->folder_known) {
        int rc = subscribe(r, r->notify == MC__EWS_NOTIFY_STREAMING);
        if (rc == MC_EPROTO && r->notify == MC__EWS_NOTIFY_STREAMING) {
            mc__log(MC_LOG_INFO, "%s; using a pull subscription", mc_error_last());
            r->notify = MC__EWS_NOTIFY_PULL;
        } else if (rc == MC_EPROTO) {
            mc__log(MC_LOG_WARN, "%s; new mail is found by the query every server_query_interval",
                    mc_error_last());
            r->notify = MC__EWS_NOTIFY_NONE;
        } else if (rc) {
            return rc;
        } else {
            /* subscribed after the listing: mail that came between the two
             * raised no event, so a query now finds it */
            return 1;
        }
    }
    if (r->subscribed && r->notify == MC__EWS_NOTIFY_STREAMING)
        return wait_streaming(r, timeout_ms, wake_fd);
    if (r->subscribed && r->notify == MC__EWS_NOTIFY_PULL)
        return wait_pull(r, timeout_ms, wake_fd);
    poll(&p, 1, timeout_ms);
    return 0;
}

static void ews_close(mc__receiver *b)
{
    unsubscribe(R(b));
    R(b)->folder_known = false;
}

static void ews_free(mc__receiver *b)
{
    ews_receiver *r = R(b);
    ews_close(b);
    mc__ews_close(&r->stream);
    mc__ews_close(&r->ews);
    mc__buf_free(&r->pending);
    fresh_free(r);
    mc__strmap_free(&r->seen, NULL);
    mc__strmap_free(&r->ahead, ahead_free);
    mc__strmap_free(&r->targets, free);
    free(r->service);
    free(r);
}

static const mc__receiver_ops receiver_ops = {
    .version = MC__RECEIVER_VERSION,
    .name = "ews",
    .open = ews_open,
    .list = ews_list,
    .fetch = ews_fetch,
    .claim = NULL, /* several receivers on one mailbox do not coordinate over EWS yet */
    .remove = ews_remove,
    .move_to_trash = ews_move_to_trash,
    .wait = ews_wait,
    .close = ews_close,
    .free = ews_free,
    .set_deadline = NULL,
    .move = ews_move,
};

int mc__ews_receiver_new(mc__receiver **out, const mc__ews_config *cfg)
{
    ews_receiver *r = calloc(1, sizeof(*r));
    int rc;
    if (!r)
        return mc__error_set(MC_ENOMEM, "out of memory");
    r->base.ops = &receiver_ops;
    r->notify = cfg->notify;
    mc__buf_init(&r->pending);
    mc__strmap_init(&r->seen);
    mc__strmap_init(&r->ahead);
    mc__strmap_init(&r->targets);
    if (!(r->service = mc__strdup(cfg->service_folder && *cfg->service_folder ? cfg->service_folder
                                                                              : "Service E-mail"))) {
        free(r);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    if ((rc = mc__ews_open(&r->ews, cfg)) || (rc = mc__ews_open(&r->stream, cfg))) {
        mc__ews_close(&r->ews);
        free(r->service);
        free(r);
        return rc;
    }
    *out = &r->base;
    return 0;
}
