/* transport_int.h - the two internal interfaces a transport implements, a
 * sender and a receiver (docs/layout.md), and the configuration the common
 * machinery (transport.c) runs on.
 *
 * A sender embeds mc__sender as its first member, a receiver mc__receiver;
 * each table carries a version and is filled with designated initializers
 * (`.claim = NULL` says "none"). A binding may combine halves of different
 * transports, and a wrapper (the outbox) wraps one half without forwarding
 * the other.
 *
 * Threads: the core calls `send` under its send lock, and every receiver
 * function but `set_deadline` under its receiver lock - `wait`, `claim`,
 * `open` and `close` included - so a backend is single-threaded on each
 * half and needs no lock of its own. When another thread needs the receiver
 * while the receive thread waits, the core makes `wake_fd` readable: `wait`
 * must then return promptly. `set_deadline` may come from any thread at any
 * time (it ends a stuck call). SIGPIPE is blocked while a backend runs. */
#ifndef MC_TRANSPORT_INT_H
#define MC_TRANSPORT_INT_H

#include <stdatomic.h>
#include "internal.h"
#include "state.h"

/* set by the caller to ask a send in progress to stop (until it commits) */
typedef atomic_int mc__cancel_token;

typedef struct mc__sender mc__sender;
typedef struct mc__receiver mc__receiver;

#define MC__SENDER_VERSION 1

typedef struct {
    unsigned version; /* MC__SENDER_VERSION */
    const char *name;
    /* Hands one framed mail to the server. A backend honours `cancel` until
     * it commits. */
    int (*send)(mc__sender *s, const char *from, const char *const *to, size_t nto, const char *mail,
                size_t len, const mc__cancel_token *cancel);
    void (*free)(mc__sender *s);
} mc__sender_ops;

struct mc__sender {
    const mc__sender_ops *ops;
};

typedef struct {
    char *id;           /* stable id of the mail in the watched folder */
    size_t size;        /* raw size in octets */
    int64_t arrived_ms; /* when the server received it, ms since the epoch */
    char *headers;      /* optional: header lines including Subject, fetched
                         * cheaply; unstamped mail is then never fetched whole */
} mc__mail_item;

/* What a listing returns. A receiver lists either the whole folder (full:
 * the core forgets every id not in items) or, when it keeps a cursor of its
 * own (IMAP UIDNEXT, EWS sync state, a Graph delta link), only what changed
 * since its previous listing: items that arrived, ids in gone that left. The
 * first listing, and any after the cursor was lost, must be full. The core
 * frees items and gone. */
typedef struct {
    mc__mail_item *items;
    size_t count;
    char **gone;
    size_t ngone;
    bool full;
} mc__listing;

/* 3: `move` (after_receive = move, dead_letter_folder) */
#define MC__RECEIVER_VERSION 3

typedef struct {
    unsigned version; /* MC__RECEIVER_VERSION */
    const char *name;
    /* Prepares receiving (connect, find folders). */
    int (*open)(mc__receiver *r);
    /* The mails in the watched folder, whole or as changes (mc__listing).
     * Items come oldest first. */
    int (*list)(mc__receiver *r, mc__listing *out);
    /* Reads at most `max` octets of a mail; *truncated tells if there was more. */
    int (*fetch)(mc__receiver *r, const char *id, size_t max, char **data, size_t *len, bool *truncated);
    /* Optional: takes exclusive ownership of a mail before delivery, so that
     * two receivers on one mailbox never both deliver it. MC_ENOTFOUND if
     * another receiver took it. Called from the thread that receives. */
    int (*claim)(mc__receiver *r, const char *id);
    /* Deletes these mails permanently, in one batch. Missing ones are not an error. */
    int (*remove)(mc__receiver *r, const char *const *ids, size_t count);
    /* Moves a (malformed) mail into the trash folder; *folder receives that
     * folder's name for logs (borrowed: valid until the receiver's next
     * call). A failure other than MC_ENOTFOUND counts as an attempt: after
     * receive_retry_count of them the core deletes the mail instead. */
    int (*move_to_trash)(mc__receiver *r, const char *id, const char **folder);
    /* Blocks until new mail may have arrived, wake_fd is readable, or the
     * timeout. > 0: the server announced new mail (query now); 0: timeout or
     * woken; < 0: the connection failed (the core backs off). */
    int (*wait)(mc__receiver *r, int timeout_ms, int wake_fd);
    void (*close)(mc__receiver *r);
    void (*free)(mc__receiver *r);
    /* Optional: every I/O of the receive path ends by this monotonic instant
     * (0: no deadline). Set from any thread; in-flight waits honour it. */
    void (*set_deadline)(mc__receiver *r, int64_t deadline_ms);
    /* Optional (version 3): moves these mails out of the watched folder into
     * the folder of this configured name (as the receiver resolves names:
     * Maildir++ sub-folder, IMAP personal namespace, EWS display name under
     * msgfolderroot), made when missing, in one batch. Missing mails are not
     * an error. The core calls it for after_receive = move (archive_folder)
     * and for invalid mail when dead_letter_folder is set; a transport
     * configured so whose receiver lacks it is refused. */
    int (*move)(mc__receiver *r, const char *const *ids, size_t count, const char *folder);
} mc__receiver_ops;

struct mc__receiver {
    const mc__receiver_ops *ops;
    /* Set through mc__receiver_retry_after before an error return: the
     * server asked for this wait (ms); read and cleared by the query loop. */
    _Atomic int retry_after_ms;
};

/* A receiver tells the core that the server asked it to wait ms before the
 * next request (EWS ErrorServerBusy/BackOffMilliseconds, HTTP 429/503
 * Retry-After): the query loop waits that long instead of its own backoff. */
void mc__receiver_retry_after(mc__receiver *r, int ms);

/* what becomes of a mail once received (after_receive) */
typedef enum { MC__AFTER_DELETE = 0, MC__AFTER_MOVE } mc__after_receive;

/* Settings of the common machinery; binding/ fills it. Strings are owned. */
typedef struct {
    size_t max_received_message_size;
    mc_container_type container;
    size_t minimum_attachment_size;
    int server_query_interval_ms;
    bool accept_existing_messages;
    unsigned receive_retry_count;
    size_t cache_count;
    size_t cache_bytes;
    mc_soap_version soap_version;
    unsigned flush_retries;
    int delete_delay_ms;  /* received ids are deleted within this of a receive */
    int close_timeout_ms; /* the synchronous deletion on close ends within this */
    char *address;
    mc__after_receive after_receive; /* received (and duplicate) mail: deleted, or moved */
    char *archive_folder;            /* after_receive move: the folder it goes to */
    char *dead_letter_folder;        /* NULL or "": invalid mail is deleted; else moved here */
    mc__envelope_filter *security;   /* owned; NULL: messages travel as they are */
    mc__state *state;                /* owned (freed after security); NULL: nothing durable, received ids
                                    * are not kept (state.h) */
    bool open_offline;               /* a listener opens while the server cannot be reached (queued) */
    int64_t time_to_live_s;          /* expiry given to sent messages that have none; 0: none */
    /* owned (command.h), freed after the halves, which borrow them:
     * password_command and token_command made runnable */
    struct mc__command *password_command, *token_command;
} mc__transport_config;

/* Takes ownership of both halves (freed on failure too; either may be NULL:
 * a transport that only sends or only receives) and of cfg's strings. */
int mc__transport_new(mc_transport **out, mc__sender *sender, mc__receiver *receiver,
                      mc__transport_config *cfg);

/* used by channels */
const mc__transport_config *mc__transport_config_of(const mc_transport *t);
int mc__transport_send(mc_transport *t, const mc_message *msg, const char *to_uri, const char *channel,
                       const char *const *to, size_t nto, const mc__cancel_token *cancel);

typedef struct mc__listener_slot mc__listener_slot;
int mc__transport_listen(mc_transport *t, const char *channel, mc__listener_slot **out);
void mc__transport_unlisten(mc_transport *t, mc__listener_slot *slot);
/* input channel life on a slot; open returns the channel's generation (>= 0) */
int mc__slot_open(mc_transport *t, mc__listener_slot *slot, int timeout_ms);
int mc__slot_close(mc_transport *t, mc__listener_slot *slot, bool flush);
void mc__slot_shutdown(mc_transport *t, mc__listener_slot *slot); /* listener closed */
int mc__slot_receive(mc_transport *t, mc__listener_slot *slot, unsigned gen, int timeout_ms, bool take,
                     mc_message **out);
/* Called (no lock held) with each message the slot is about to hand over,
 * before the state store records it: 0 go on; 1 a duplicate (the mail is
 * deleted, not handed over); < 0 an error (the mail is read again later and
 * the receive call fails with it). */
typedef int (*mc__accept_fn)(void *ud, mc_message *msg, const char *mail_id);
void mc__slot_set_accept(mc_transport *t, mc__listener_slot *slot, mc__accept_fn fn, void *ud);
struct mc_channel_listener;
void mc__listener_set_accept(struct mc_channel_listener *l, mc__accept_fn fn, void *ud);

#endif
