/* store.h - the durable state store (docs/semantics.md, "Durable state"):
 * one SQLite database per transport at state_path, in WAL mode with
 * synchronous=FULL, every state change one transaction. It holds the
 * outbox (queued sending), the received ids (exactly-once delivery) and the
 * WS-Security replay cache; it implements the core's mc__state table.
 *
 * One process owns a store (the transport that opened it, through a lock on
 * "<state_path>-lock"): a second transport on the same path is refused with
 * MC_EBUSY naming the store. The CLI's queue commands open a store as an
 * administrator (MC__STORE_ADMIN) beside its owner: SQLite's own locking
 * keeps both consistent, each change being one transaction. */
#ifndef MC_QUEUE_STORE_H
#define MC_QUEUE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "state.h"

typedef struct mc__store mc__store;

typedef enum { MC__STORE_OWNER, MC__STORE_ADMIN } mc__store_mode;

typedef struct {
    int64_t dedup_window_ms; /* how long a received id is remembered */
} mc__store_options;

/* Opens (creating it, with its schema) or refuses with a clear error:
 * MC_EBUSY (another process owns it), MC_EIO (unreadable, corrupt, not a
 * mailchan store, or written by a newer mailchan). */
int mc__store_open(mc__store **out, const char *path, mc__store_mode mode, const mc__store_options *o);
void mc__store_free(mc__store *s);
const char *mc__store_path(const mc__store *s);
/* the mc__state view of the store (owned by it) */
mc__state *mc__store_state(mc__store *s);
/* for the benchmark and tests: the SQLite handle's page cache and pragmas
 * are as described above */

/* ---- the outbox ---- */

typedef struct {
    int64_t id;
    int64_t created_ms, next_ms, dead_ms; /* wall clock; dead_ms 0: still queued */
    unsigned attempts;
    char *from;
    char **to; /* nto addresses */
    size_t nto;
    char *mail;
    size_t len;
    char *last_error;
} mc__outbox_row;

void mc__outbox_row_clear(mc__outbox_row *r);
/* its recipients as shown to people, separated by ", " (malloc'ed; NULL: out of memory) */
char *mc__outbox_row_recipients(const mc__outbox_row *r);

/* Commits one framed mail; MC_EFULL when the outbox would exceed max_bytes
 * (queued and dead mail both count). *id: its id (never given twice);
 * *due_ms: when it is due (later than now when older mail to
 * the same recipients waits). Either may be NULL. */
int mc__store_outbox_add(mc__store *s, const char *from, const char *const *to, size_t nto, const char *mail,
                         size_t len, uint64_t max_bytes, int64_t *id, int64_t *due_ms);
/* The oldest queued mail due at now_ms (1), or none (0; *next_ms: the
 * earliest due instant of any queued mail, or -1). */
int mc__store_outbox_next(mc__store *s, int64_t now_ms, mc__outbox_row *row, int64_t *next_ms);
/* The server accepted it: the row goes. */
int mc__store_outbox_done(mc__store *s, int64_t id);
/* An attempt failed: counted, the error kept, and every queued mail to the
 * same recipients waits until next_ms (so they still leave oldest first). */
int mc__store_outbox_retry(mc__store *s, int64_t id, int64_t next_ms, const char *error);
/* Given up: kept as dead-lettered, with the error. */
int mc__store_outbox_dead(mc__store *s, int64_t id, int64_t now_ms, const char *error);

/* administration (public queue API): each row without the mail, or counts */
typedef int (*mc__outbox_each)(const mc__outbox_row *row, void *ud);
int mc__store_outbox_list(mc__store *s, bool dead, mc__outbox_each each, void *ud);
/* due now (id 0: every queued mail; dead ones are queued again with
 * `dead`); *n: how many */
int mc__store_outbox_requeue(mc__store *s, int64_t id, bool dead, int64_t now_ms, size_t *n);
/* removes (id 0: all; dead_only: only dead-lettered) */
int mc__store_outbox_purge(mc__store *s, int64_t id, bool dead_only, size_t *n);

/* received ids kept now (tests and the benchmark) */
int mc__store_received_count(mc__store *s, int64_t *n);

#endif
