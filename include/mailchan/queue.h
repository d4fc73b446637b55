/** @file
 * mailchan/queue.h - queued sending and the state store.
 *
 * With the settings `state_path` (a file) and `queued = true`, a transport
 * keeps an outbox in a SQLite database: a send returns once the framed mail
 * is committed there, and a delivery thread hands it to the server whenever
 * the server can be reached - with backoff (queue_retry_initial doubling to
 * queue_retry_max), oldest first per destination, across restarts. A mail
 * leaves the outbox only after the server accepted it; after
 * queue_lifetime, or at once when the server refuses it for good, it is
 * dead-lettered: kept, logged, listed, and reported to the delivery callback.
 * So is a mail whose ttl (the message's expiry, or time_to_live) passed
 * while it waited: it is not sent (a receiver would delete it unread), and
 * its report's result is MC_ETIMEOUT.
 *
 * The same store remembers the wsa:MessageID of every message handed to the
 * application (for dedup_window), so a message received twice - after a
 * crash, from a sender that retried, or through two paths - is delivered
 * once; and the WS-Security replay cache, so a restarted receiver still
 * refuses a replayed message. Without state_path all of this stays in
 * memory, as in earlier versions.
 *
 * The functions below administer a store from outside its owner (the CLI's
 * `mailchan queue` commands): each change is one SQLite transaction, safe
 * beside the process that owns the store.
 */
#ifndef MAILCHAN_QUEUE_H
#define MAILCHAN_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The final outcome of one queued mail. */
typedef struct {
    int64_t id;        /**< its id in the outbox */
    const char *to;    /**< its recipients, separated by ", " */
    int result;        /**< 0 accepted by the server; MC_EPARTIAL accepted for some recipients;
                             another MC_E* code: dead-lettered, this being the last error
                             (MC_ETIMEOUT: its ttl passed in the outbox, it was not sent) */
    const char *error; /**< the last error's text ("" when accepted) */
    unsigned attempts; /**< delivery attempts made */
    int64_t queued_ms; /**< when it was queued, ms since the epoch */
} mc_delivery_report;

/**
 * Called once per queued mail, from the transport's delivery thread, when
 * the mail was accepted or dead-lettered. It must not free the transport;
 * it may send (the mail is then queued).
 */
typedef void (*mc_delivery_cb)(const mc_delivery_report *report, void *user_data);

/** One mail in an outbox, as listed. */
typedef struct {
    int64_t id;              /**< its id in the outbox (mailchan queue list shows it) */
    int64_t queued_ms;       /**< when it was queued (ms since the epoch) */
    int64_t next_attempt_ms; /**< when it is tried next (queued mail) */
    int64_t dead_ms;         /**< when it was dead-lettered; 0: still queued */
    unsigned attempts;       /**< delivery attempts made */
    const char *from;        /**< the sender's address */
    const char *to;          /**< recipients separated by ", " */
    size_t bytes;            /**< the framed mail's size */
    const char *last_error;  /**< NULL before the first failed attempt */
} mc_queue_entry;

/** Called for each listed mail; a non-zero return stops the listing and is returned. */
typedef int (*mc_queue_each_cb)(const mc_queue_entry *entry, void *user_data);

/**
 * Lists the queued mail of a state store (dead = false) or its
 * dead-lettered mail (dead = true), oldest first.
 * @return 0; MC_EINVAL; MC_EIO (no such store, unreadable, corrupt); MC_EBUSY.
 * @param state_path the store.
 * @param dead false: queued mail; true: dead-lettered mail.
 * @param each called for each mail, oldest first.
 * @param user_data passed to @p each.
 */
MC_EXTERN(int) mc_queue_list(const char *state_path, bool dead, mc_queue_each_cb each, void *user_data);

/**
 * Makes mail due now: one mail (id) or all (id 0), dead-lettered mail
 * included (it is queued again, its lifetime counted from now on). The
 * owning process's delivery thread looks at the outbox at least every 5
 * seconds, so it picks the change up within that.
 * @param state_path the store (the state_path setting of its owner).
 * @param id the mail, or 0 for all.
 * @param count receives how many mails changed (may be NULL).
 * @return 0 (also when no mail matched: *count is then 0); MC_EINVAL (NULL, a
 *         negative id); MC_EIO (no such store, unreadable, corrupt); MC_EBUSY.
 */
MC_EXTERN(int) mc_queue_retry(const char *state_path, int64_t id, size_t *count);

/**
 * Removes mail from an outbox without sending it: one (id) or all (id 0),
 * only dead-lettered mail when dead_only.
 * @param state_path the store (the state_path setting of its owner).
 * @param id the mail, or 0 for all.
 * @param dead_only true: only dead-lettered mail.
 * @param count receives how many were removed (may be NULL).
 * @return 0 (also when no mail matched: *count is then 0); MC_EINVAL (NULL, a
 *         negative id); MC_EIO (no such store, unreadable, corrupt); MC_EBUSY.
 */
MC_EXTERN(int) mc_queue_purge(const char *state_path, int64_t id, bool dead_only, size_t *count);

#ifdef __cplusplus
}
#endif

#endif
