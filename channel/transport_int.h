/* transport_int.h - the one internal interface every transport implements,
 * and the configuration the common machinery (transport.c) runs on.
 *
 * A backend embeds mc__backend as its first member. The core calls the
 * send path (send) under its send lock, and the receive path (open, list,
 * fetch, remove, move_to_trash, close) under its I/O lock, so each path is
 * single-threaded. `claim` and `wait` may run concurrently with the others. */
#ifndef MC_TRANSPORT_INT_H
#define MC_TRANSPORT_INT_H

#include "internal.h"

typedef struct mc__backend mc__backend;

typedef struct {
    char *id;           /* stable id of the mail in the watched folder */
    size_t size;        /* raw size in octets */
    int64_t arrived_ms; /* when the server received it, ms since the epoch */
    char *headers;      /* optional: header lines including Subject, fetched
                         * cheaply; unstamped mail is then never fetched whole */
} mc__mail_item;

typedef struct {
    const char *name;
    /* Hands one framed mail to the server. `cancel` becomes non-zero when
     * the caller cancels; a backend honours it until it commits. */
    int (*send)(mc__backend *b, const char *from, const char *const *to, size_t nto,
                const char *mail, size_t len, const volatile int *cancel);
    /* Prepares receiving (connect, find folders). */
    int (*open)(mc__backend *b);
    /* The mails now in the watched folder. Items are freed by the core. */
    int (*list)(mc__backend *b, mc__mail_item **items, size_t *count);
    /* Reads at most `max` octets of a mail; *truncated tells if there was more. */
    int (*fetch)(mc__backend *b, const char *id, size_t max, char **data, size_t *len,
                 bool *truncated);
    /* Optional: takes exclusive ownership of a mail before delivery, so that
     * two receivers on one mailbox never both deliver it. MC_ENOTFOUND if
     * another receiver took it. */
    int (*claim)(mc__backend *b, const char *id);
    /* Deletes these mails permanently, in one batch. Missing ones are not an error. */
    int (*remove)(mc__backend *b, const char *const *ids, size_t count);
    /* Moves a mail into the Deleted Items folder. */
    int (*move_to_trash)(mc__backend *b, const char *id);
    /* Blocks until new mail may have arrived, wake_fd is readable, or the
     * timeout. > 0: the server announced new mail (query now); 0: timeout or
     * woken; < 0: the connection failed (the core backs off). */
    int (*wait)(mc__backend *b, int timeout_ms, int wake_fd);
    void (*close)(mc__backend *b);
    void (*free)(mc__backend *b);
    /* Optional: every I/O of the receive path ends by this monotonic instant
     * (0: no deadline). Set from any thread; in-flight waits honour it. */
    void (*set_deadline)(mc__backend *b, int64_t deadline_ms);
} mc__backend_ops;

struct mc__backend {
    const mc__backend_ops *ops;
    /* Set by the backend through mc__backend_retry_after before it returns
     * an error: the server asked for this wait (ms); read and cleared by the
     * core's query loop. */
    _Atomic int retry_after_ms;
};

/* A backend tells the core that the server asked it to wait ms before the
 * next request (EWS ErrorServerBusy/BackOffMilliseconds, HTTP 429/503
 * Retry-After): the query loop waits that long instead of its own backoff. */
void mc__backend_retry_after(mc__backend *b, int ms);

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
    mc__envelope_filter *security; /* owned; NULL: messages travel as they are */
} mc__transport_config;

/* Takes ownership of backend (freed on failure too) and of cfg's strings. */
int mc__transport_new(mc_transport **out, mc__backend *backend, mc__transport_config *cfg);

/* used by channels */
const mc__transport_config *mc__transport_config_of(const mc_transport *t);
int mc__transport_send(mc_transport *t, const mc_message *msg, const char *to_uri,
                       const char *channel, const char *const *to, size_t nto,
                       const volatile int *cancel);

/* tests only: called by every send just before the mail is handed over */
extern void (*mc__send_hook)(void);

typedef struct mc__listener_slot mc__listener_slot;
int mc__transport_listen(mc_transport *t, const char *channel, mc__listener_slot **out);
void mc__transport_unlisten(mc_transport *t, mc__listener_slot *slot);
/* input channel life on a slot; open returns the channel's generation (>= 0) */
int mc__slot_open(mc_transport *t, mc__listener_slot *slot, int timeout_ms);
int mc__slot_close(mc_transport *t, mc__listener_slot *slot, bool flush);
void mc__slot_shutdown(mc_transport *t, mc__listener_slot *slot); /* listener closed */
int mc__slot_receive(mc_transport *t, mc__listener_slot *slot, unsigned gen, int timeout_ms,
                     bool take, mc_message **out);

#endif
