/* ewsread.c - reading the fields the EWS transport uses out of response
 * messages (ews.h). Pure functions of a parsed response, so that the fuzz
 * target reaches every one of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ews.h"

void mc__ews_read_folder_id(const xmlNode *msg, char *id, size_t cap)
{
    xmlNode *folders = mc__ews_child(mc__ews_child(msg, MC__EWS_NS_M, "RootFolder"), MC__EWS_NS_T, "Folders");
    xmlNode *folder = mc__ews_child(folders, MC__EWS_NS_T, NULL);
    mc__ews_attr(mc__ews_child(folder, MC__EWS_NS_T, "FolderId"), "Id", id, cap);
}

static int add_item(mc__listing *l, size_t *cap, const xmlNode *item)
{
    char id[1024], size[32], when[64];
    int64_t t = 0;
    mc__mail_item *it;
    mc__ews_attr(mc__ews_child(item, MC__EWS_NS_T, "ItemId"), "Id", id, sizeof(id));
    if (!id[0])
        return 0; /* nothing we could act on */
    if (l->count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        mc__mail_item *g = realloc(l->items, ncap * sizeof(*g));
        if (!g)
            return mc__error_set(MC_ENOMEM, "out of memory");
        l->items = g;
        *cap = ncap;
    }
    it = &l->items[l->count];
    memset(it, 0, sizeof(*it));
    if (!(it->id = mc__strdup(id)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    it->size = (size_t)strtoull(mc__ews_text(mc__ews_child(item, MC__EWS_NS_T, "Size"), size, sizeof(size)),
                                NULL, 10);
    mc__ews_text(mc__ews_child(item, MC__EWS_NS_T, "DateTimeReceived"), when, sizeof(when));
    if (!mc__parse_rfc3339(when, strlen(when), &t))
        it->arrived_ms = t * 1000;
    l->count++;
    return 0;
}

int mc__ews_read_items(const xmlNode *msg, mc__listing *l, size_t *cap, bool *last)
{
    xmlNode *root = mc__ews_child(msg, MC__EWS_NS_M, "RootFolder");
    xmlNode *items = mc__ews_child(root, MC__EWS_NS_T, "Items");
    size_t before = l->count;
    char flag[8];
    int rc = 0;
    for (xmlNode *it = mc__ews_child(items, MC__EWS_NS_T, NULL); it && !rc;
         it = mc__ews_next(it, MC__EWS_NS_T, NULL))
        rc = add_item(l, cap, it);
    /* no progress is the end too: a server that never says so cannot loop us */
    *last = !strcmp(mc__ews_attr(root, "IncludesLastItemInRange", flag, sizeof(flag)), "true") ||
            l->count == before;
    return rc;
}

int mc__ews_read_mime(const xmlNode *msg, size_t max, char **data, size_t *len, bool *truncated)
{
    xmlNode *item = mc__ews_child(mc__ews_child(msg, MC__EWS_NS_M, "Items"), MC__EWS_NS_T, NULL);
    xmlNode *mime = mc__ews_child(item, MC__EWS_NS_T, "MimeContent");
    xmlChar *text;
    int rc;
    if (!mime)
        return mc__error_set(MC_EPROTO, "EWS GetItem: the response has no MimeContent");
    text = xmlNodeGetContent(mime);
    rc = mc__ews_base64_decode(text ? (const char *)text : "", max, data, len, truncated);
    xmlFree(text);
    return rc;
}

int mc__ews_read_each(const mc__ews_response *r, const char *op, const char *const *ids, size_t n,
                      int *backoff_ms)
{
    char code[64], text[256];
    size_t i = 0;
    int rc = 0;
    *backoff_ms = 0;
    for (xmlNode *m = mc__ews_first_message(r); m && !rc; m = mc__ews_next_message(m), i++) {
        int s = mc__ews_message_status(m, code, text, backoff_ms);
        if (s && s != MC_ENOTFOUND)
            rc = mc__error_set(s, "EWS %s of %s: %s: %s", op, i < n ? ids[i] : "?", code, text);
    }
    if (!rc && i != n)
        rc = mc__error_set(MC_EPROTO, "EWS %s: %zu response messages for %zu ids", op, i, n);
    return rc;
}

int mc__ews_read_deleted(const mc__ews_response *r, const char *const *ids, size_t n, int *backoff_ms)
{
    return mc__ews_read_each(r, "DeleteItem", ids, n, backoff_ms);
}

void mc__ews_read_created_folder_id(const xmlNode *msg, char *id, size_t cap)
{
    xmlNode *folder = mc__ews_child(mc__ews_child(msg, MC__EWS_NS_M, "Folders"), MC__EWS_NS_T, NULL);
    mc__ews_attr(mc__ews_child(folder, MC__EWS_NS_T, "FolderId"), "Id", id, cap);
}

int mc__ews_read_subscription(const xmlNode *msg, char *id, size_t idcap, char *wm, size_t wmcap)
{
    mc__ews_text(mc__ews_child(msg, MC__EWS_NS_M, "SubscriptionId"), id, idcap);
    mc__ews_text(mc__ews_child(msg, MC__EWS_NS_M, "Watermark"), wm, wmcap);
    if (!id[0])
        return mc__error_set(MC_EPROTO, "EWS Subscribe: no SubscriptionId in the response");
    return 0;
}

int mc__ews_read_events(const xmlNode *msg, char *watermark, size_t cap)
{
    return mc__ews_read_events_in(mc__ews_child(msg, NULL, "Notification"), watermark, cap);
}

/* the events of one t:Notification / m:Notification */
int mc__ews_read_events_in(const xmlNode *note, char *watermark, size_t cap)
{
    char wm[1024];
    int news = 0;
    for (xmlNode *ev = mc__ews_child(note, MC__EWS_NS_T, NULL); ev;
         ev = mc__ews_next(ev, MC__EWS_NS_T, NULL)) {
        const char *name = (const char *)ev->name;
        mc__ews_text(mc__ews_child(ev, MC__EWS_NS_T, "Watermark"), wm, sizeof(wm));
        if (wm[0])
            snprintf(watermark, cap, "%s", wm);
        if (strcmp(name, "StatusEvent") && strcmp(name, "SubscriptionId") &&
            strcmp(name, "PreviousWatermark") && strcmp(name, "MoreEvents"))
            news = 1;
    }
    return news;
}

int mc__ews_read_draft_id(const xmlNode *msg, char *id, size_t idcap, char *ck, size_t ckcap)
{
    xmlNode *items = mc__ews_child(msg, MC__EWS_NS_M, "Items");
    xmlNode *item = mc__ews_child(items, MC__EWS_NS_T, NULL);
    xmlNode *iid = mc__ews_child(item, MC__EWS_NS_T, "ItemId");
    mc__ews_attr(iid, "Id", id, idcap);
    mc__ews_attr(iid, "ChangeKey", ck, ckcap);
    if (!*id)
        return mc__error_set(MC_EPROTO, "EWS CreateItem: the response names no item id");
    return 0;
}

int mc__ews_read_stream(const mc__ews_response *r, bool *closed)
{
    char code[64], text[256], status[16];
    int news = 0, backoff;
    *closed = false;
    for (xmlNode *m = mc__ews_first_message(r); m; m = mc__ews_next_message(m)) {
        int rc = mc__ews_message_status(m, code, text, &backoff);
        if (rc)
            return mc__error_set(rc == MC_EBUSY ? MC_EBUSY : MC_ENOTFOUND, "EWS GetStreamingEvents: %s: %s",
                                 code, text);
        if (!strcmp(mc__ews_text(mc__ews_child(m, MC__EWS_NS_M, "ConnectionStatus"), status, sizeof(status)),
                    "Closed"))
            *closed = true;
        xmlNode *notes = mc__ews_child(m, MC__EWS_NS_M, "Notifications");
        /* Exchange writes m:Notification, as Microsoft's examples show; the
         * schema read strictly says t:. Either is taken. */
        for (xmlNode *n = mc__ews_child(notes, NULL, "Notification"); n;
             n = mc__ews_next(n, NULL, "Notification")) {
            char wm[8];
            if (mc__ews_read_events_in(n, wm, sizeof(wm)))
                news = 1;
        }
    }
    return news;
}
