/* outbox.h - queued sending (docs/semantics.md, "Durable state"): a sender
 * that wraps any binding's sender. Its send commits the framed mail to the
 * state store and returns; a delivery thread hands queued mail to the
 * wrapped sender, oldest first, with backoff, across restarts, and removes
 * a mail only once the server accepted it. */
#ifndef MC_QUEUE_OUTBOX_H
#define MC_QUEUE_OUTBOX_H

#include "store.h"
#include "transport_int.h"

typedef struct {
    int64_t retry_initial_ms; /* the first wait after a failed attempt */
    int64_t retry_max_ms;     /* the wait doubles up to this */
    int64_t lifetime_ms;      /* a mail still not accepted this long after it was queued is dead-lettered */
    uint64_t max_bytes;       /* the outbox's bound (queued and dead mail) */
    mc_delivery_cb callback;  /* optional: the final outcome of each mail */
    void *user_data;
} mc__outbox_options;

/* Takes ownership of inner (freed on failure too); borrows the store,
 * which must outlive the outbox. The delivery thread starts at once and
 * picks up what an earlier process left queued. */
int mc__outbox_new(mc__sender **out, mc__sender *inner, mc__store *store, const mc__outbox_options *o);

#endif
