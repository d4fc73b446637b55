/* ews.h - the Exchange Web Services transport (DESIGN: mail channels over
 * EWS): a sender (ewssend.c: CreateItem in Drafts + SendItem, or
 * CreateItem SendAndSaveCopy) and a receiver (ewsrecv.c: FindFolder for the
 * service folder with the Inbox as fallback, FindItem paged with a subject
 * restriction, GetItem with the MIME content, DeleteItem HardDelete in
 * batches, MoveItem to deleteditems or to a folder found or made by name
 * under msgfolderroot (after_receive = move, dead_letter_folder), streaming notifications on a
 * connection of their own, or a pull subscription), over the shared HTTPS session (exchange/http.h). Used by binding/. */
#ifndef MC_EWS_H
#define MC_EWS_H

#include "http.h"
#include "soap.h"

typedef enum { MC__EWS_SAVE_THEN_SEND = 0, MC__EWS_SEND_AND_SAVE_COPY } mc__ews_send_mode;
/* how the receiver learns of new mail between queries */
typedef enum { MC__EWS_NOTIFY_STREAMING = 0, MC__EWS_NOTIFY_PULL, MC__EWS_NOTIFY_NONE } mc__ews_notify;

/* Borrowed strings; each half copies what it keeps. */
typedef struct {
    const char *address;        /* the mailbox's own address */
    mc__http_config http;       /* url, auth, credentials, TLS, timeout */
    const char *server_version; /* RequestServerVersion, e.g. "Exchange2013_SP1" */
    const char *impersonate;    /* act as this mailbox (ExchangeImpersonation), or NULL */
    mc__ews_send_mode send_mode;
    const char *service_folder; /* display name under msgfolderroot */
    mc__ews_notify notify;
} mc__ews_config;

/* One EWS session: the HTTP session and the header every request carries. */
typedef struct {
    mc__http *http;
    mc__ews_header header;
    char *version, *impersonate;
    int timeout_ms;
} mc__ews;

int mc__ews_open(mc__ews *e, const mc__ews_config *cfg);
void mc__ews_close(mc__ews *e);

/* Calls an operation: body is the operation element (m:FindItem ...).
 * *out holds the response element (out->op). MC_EBUSY when the server is
 * busy (ErrorServerBusy fault, HTTP 503 or 429) with *backoff_ms set to the
 * wait it asked for (or a default); MC_EPROTO with the EWS code for other
 * faults; the HTTP session's errors. */
int mc__ews_call(mc__ews *e, const char *body, size_t max_reply, const mc__cancel_token *cancel,
                 mc__ews_response *out, int *backoff_ms);

/* The first m:*ResponseMessage of a response, and the next one. */
xmlNode *mc__ews_first_message(const mc__ews_response *r);
xmlNode *mc__ews_next_message(const xmlNode *msg);

/* Readers of response messages (ewsread.c): the fields the transport uses,
 * each bounded and checked - untrusted input, fuzzed (tests/fuzz/fuzz_ews.c). */
/* FindFolder: the first folder's id into id ("" when none was found). */
void mc__ews_read_folder_id(const xmlNode *msg, char *id, size_t cap);
/* FindItem: appends the page's items (id, size, DateTimeReceived) to l;
 * *last when the page is the last (or brought nothing: no endless paging). */
int mc__ews_read_items(const xmlNode *msg, mc__listing *l, size_t *cap, bool *last);
/* GetItem: the MIME content, decoded, at most max octets. */
int mc__ews_read_mime(const xmlNode *msg, size_t max, char **data, size_t *len, bool *truncated);
/* DeleteItem: one response message per id, ErrorItemNotFound counted as
 * deleted; MC_EBUSY with *backoff_ms when the server is busy. */
int mc__ews_read_deleted(const mc__ews_response *r, const char *const *ids, size_t n, int *backoff_ms);
/* the same for any operation on items with one response message per id
 * (MoveItem); op names it in errors */
int mc__ews_read_each(const mc__ews_response *r, const char *op, const char *const *ids, size_t n,
                      int *backoff_ms);
/* CreateFolder: the new folder's id ("" when the response has none). */
void mc__ews_read_created_folder_id(const xmlNode *msg, char *id, size_t cap);
/* Subscribe: the subscription id and first watermark. */
int mc__ews_read_subscription(const xmlNode *msg, char *id, size_t idcap, char *wm, size_t wmcap);
/* GetEvents: advances *watermark; 1 when an event other than a status event came. */
int mc__ews_read_events(const xmlNode *msg, char *watermark, size_t cap);
/* the same for the events of one Notification element */
int mc__ews_read_events_in(const xmlNode *note, char *watermark, size_t cap);
/* GetStreamingEvents, one envelope of the stream: 1 when an event other
 * than a status event came; *closed when the server ended the connection;
 * MC_ENOTFOUND when the subscription is gone (make a new one, resync). */
int mc__ews_read_stream(const mc__ews_response *r, bool *closed);
/* CreateItem SaveOnly: the draft's id and change key. */
int mc__ews_read_draft_id(const xmlNode *msg, char *id, size_t idcap, char *ck, size_t ckcap);

int mc__ews_sender_new(mc__sender **out, const mc__ews_config *cfg);
int mc__ews_receiver_new(mc__receiver **out, const mc__ews_config *cfg);

#endif
