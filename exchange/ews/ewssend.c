/* ewssend.c - the EWS sending half: the framed mail as MIME content,
 * created in Drafts (SaveOnly) and then sent (SendItem: through the Outbox,
 * a copy in Sent Items), or in one CreateItem SendAndSaveCopy. A busy
 * server's wait is honoured within the timeout; a cancel before SendItem
 * leaves nothing behind (the draft is deleted). */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ews.h"

#define MAX_REPLY (1u << 20)
#define ATTEMPTS 4

typedef struct {
    mc__sender base;
    mc__ews ews;
    mc__ews_send_mode mode;
} ews_sender;

/* sleeps ms, or less when cancelled; false when cancelled */
static bool pause_for(int ms, const mc__cancel_token *cancel)
{
    for (int64_t end = mc__mono_ms() + ms; mc__mono_ms() < end;) {
        if (cancel && atomic_load(cancel))
            return false;
        poll(NULL, 0, 50);
    }
    return !(cancel && atomic_load(cancel));
}

/* One call whose single response message must succeed; a busy server is
 * waited for (what it asks, within the timeout) and asked again. */
static int call_one(ews_sender *s, const char *body, const mc__cancel_token *cancel, const char *what,
                    mc__ews_response *r, xmlNode **msg)
{
    int64_t end = mc__mono_ms() + (s->ews.timeout_ms > 0 ? s->ews.timeout_ms : 30000);
    char code[64], text[256];
    int rc = 0, backoff = 0;
    for (int i = 0; i < ATTEMPTS; i++) {
        if (i && (backoff > end - mc__mono_ms() || !pause_for(backoff, cancel)))
            return rc == MC_EBUSY && cancel && atomic_load(cancel)
                       ? mc__error_set(MC_ECANCELED, "sending was cancelled")
                       : rc;
        if ((rc = mc__ews_call(&s->ews, body, MAX_REPLY, cancel, r, &backoff)) == MC_EBUSY)
            continue;
        if (rc)
            return rc;
        if (!(*msg = mc__ews_first_message(r))) {
            mc__ews_response_free(r);
            return mc__error_set(MC_EPROTO, "EWS %s: the response has no response message", what);
        }
        if ((rc = mc__ews_message_status(*msg, code, text, &backoff)) == MC_EBUSY) {
            mc__ews_response_free(r);
            if (!backoff)
                backoff = 5000;
            continue;
        }
        if (rc) {
            mc__ews_response_free(r);
            return mc__error_set(rc, "EWS %s: %s: %s", what, code, text);
        }
        return 0;
    }
    return rc;
}

static char *create_body(const char *disposition, const char *folder, const char *mail, size_t len)
{
    mc__buf b;
    mc__buf_init(&b);
    mc__buf_printf(&b,
                   "<m:CreateItem MessageDisposition=\"%s\"><m:SavedItemFolderId>"
                   "<t:DistinguishedFolderId Id=\"%s\"/></m:SavedItemFolderId><m:Items><t:Message>"
                   "<t:MimeContent CharacterSet=\"UTF-8\">",
                   disposition, folder);
    mc__ews_put_base64(&b, mail, len);
    mc__buf_puts(&b, "</t:MimeContent></t:Message></m:Items></m:CreateItem>");
    return mc__buf_detach(&b, NULL);
}

static void delete_draft(ews_sender *s, const char *id)
{
    mc__ews_response r = {0};
    xmlNode *msg;
    char *body =
        mc__ews_items_request("<m:DeleteItem DeleteType=\"HardDelete\">", &id, NULL, 1, "</m:DeleteItem>");
    if (body && !call_one(s, body, NULL, "DeleteItem", &r, &msg))
        mc__ews_response_free(&r);
    free(body);
}

static int ews_send(mc__sender *base, const char *from, const char *const *to, size_t nto, const char *mail,
                    size_t len, const mc__cancel_token *cancel)
{
    ews_sender *s = (ews_sender *)base;
    mc__ews_response r = {0};
    xmlNode *msg;
    char id[1024], ck[512], *body;
    int rc;
    (void)from, (void)to, (void)nto; /* the MIME header names them: Exchange reads it */
    if (s->mode == MC__EWS_SEND_AND_SAVE_COPY) {
        if (!(body = create_body("SendAndSaveCopy", "sentitems", mail, len)))
            return mc__error_set(MC_ENOMEM, "out of memory");
        rc = call_one(s, body, cancel, "CreateItem (SendAndSaveCopy)", &r, &msg);
        free(body);
        if (!rc)
            mc__ews_response_free(&r);
        return rc;
    }
    if (!(body = create_body("SaveOnly", "drafts", mail, len)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    rc = call_one(s, body, cancel, "CreateItem (SaveOnly)", &r, &msg);
    free(body);
    if (rc)
        return rc;
    rc = mc__ews_read_draft_id(msg, id, sizeof(id), ck, sizeof(ck));
    mc__ews_response_free(&r);
    if (rc)
        return rc;
    if (cancel && atomic_load(cancel)) {
        delete_draft(s, id);
        return mc__error_set(MC_ECANCELED, "sending was cancelled");
    }
    /* the commit: from here the mail goes, whatever cancel says */
    {
        const char *idp = id, *ckp = ck;
        body = mc__ews_items_request("<m:SendItem SaveItemToFolder=\"true\">", &idp, &ckp, 1,
                                     "<m:SavedItemFolderId><t:DistinguishedFolderId Id=\"sentitems\"/>"
                                     "</m:SavedItemFolderId></m:SendItem>");
    }
    if (!body)
        return mc__error_set(MC_ENOMEM, "out of memory");
    rc = call_one(s, body, NULL, "SendItem", &r, &msg);
    free(body);
    if (!rc)
        mc__ews_response_free(&r);
    return rc;
}

static void ews_sender_free(mc__sender *base)
{
    ews_sender *s = (ews_sender *)base;
    mc__ews_close(&s->ews);
    free(s);
}

static const mc__sender_ops sender_ops = {
    .version = MC__SENDER_VERSION,
    .name = "ews",
    .send = ews_send,
    .free = ews_sender_free,
};

int mc__ews_sender_new(mc__sender **out, const mc__ews_config *cfg)
{
    ews_sender *s = calloc(1, sizeof(*s));
    int rc;
    if (!s)
        return mc__error_set(MC_ENOMEM, "out of memory");
    s->base.ops = &sender_ops;
    s->mode = cfg->send_mode;
    if ((rc = mc__ews_open(&s->ews, cfg))) {
        free(s);
        return rc;
    }
    *out = &s->base;
    return 0;
}
