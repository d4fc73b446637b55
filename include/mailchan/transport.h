/** @file
 * mailchan/transport.h - a mail account's transport.
 *
 * A transport owns one mail account's connections (or, for Maildir, its
 * directory), its caches and its background receive thread. Channel
 * factories and listeners are built on a transport and share it; it must
 * outlive them. It is freed explicitly, which flushes the deleted-message
 * cache synchronously (with retries).
 *
 * Threads: every function here and on the channels built on a transport
 * may be called from any thread. The transport runs one background thread
 * while at least one listener is open.
 */
#ifndef MAILCHAN_TRANSPORT_H
#define MAILCHAN_TRANSPORT_H

#include "binding.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One mailbox: its connections, caches, background receiving and state store (opaque). */
typedef struct mc_transport mc_transport;

/**
 * Builds the transport a binding describes. Settings are copied; the
 * binding may be freed or reused afterwards.
 * @return 0; MC_EINVAL (a required setting missing, e.g. maildir_root or
 *         address, or settings that contradict each other); MC_EIO (the
 *         store cannot be created or opened); MC_ENOMEM.
 * @param out receives the transport (the caller's; mc_transport_free()).
 * @param binding the binding (copied).
 */
MC_EXTERN(int) mc_transport_new(mc_transport **out, const mc_binding *binding);

/**
 * Frees the transport: stops its background work and flushes its
 * deleted-message cache synchronously, retrying on error (failures are
 * logged). Every factory, channel and listener built on it must have been
 * freed. NULL is fine.
 * @param t the transport (NULL is fine).
 */
MC_EXTERN(void) mc_transport_free(mc_transport *t);

/**
 * The transport's own e-mail address (the "address" setting). Borrowed.
 * @param t the transport.
 * @return the address.
 */
MC_EXTERN(const char *) mc_transport_address(const mc_transport *t);

/**
 * Counters and the health of the background work, for monitoring and tests.
 * Initialize with MC_TRANSPORT_STATS_INIT: the library fills the fields of
 * the version the caller was built with, never more; later versions only
 * append fields.
 */
typedef struct {
    unsigned int version;         /**< MC_TRANSPORT_STATS_VERSION */
    unsigned long long queries;   /**< completed server queries */
    unsigned long long delivered; /**< messages returned by receive */
    unsigned long long deleted;   /**< mails deleted from the server */
    unsigned long long malformed; /**< mails moved to Deleted Items */
    unsigned long long invalid;   /**< mails deleted as invalid after the retry count */
    unsigned long long expired;   /**< mails deleted as expired */
    unsigned long long sent;      /**< mails handed to the server */
    size_t cached;                /**< messages in the processing cache now */
    size_t cached_bytes;          /**< their envelope bytes */
    /** Background failures in a row (connecting, listing, deleting, waiting):
     * 0 while the receive loop works. A changed password or a vanished
     * server shows here while receive only times out. */
    unsigned int consecutive_failures;
    int last_error;            /**< the MC_E* code of the last failure, or 0 after a success */
    char last_error_text[256]; /**< its text (never a secret), or "" */
    /* version 2 */
    unsigned long long duplicates; /**< mails carrying a wsa:MessageID already delivered: deleted, not
                                        delivered again (received ids are kept with state_path) */
} mc_transport_stats;

/** The version of mc_transport_stats this header describes. */
#define MC_TRANSPORT_STATS_VERSION 2
/** Initializer of mc_transport_stats: this header's version, every counter 0. */
#define MC_TRANSPORT_STATS_INIT                                            \
    {                                                                      \
        MC_TRANSPORT_STATS_VERSION, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "", 0 \
    }

/**
 * Initializes @p stats as MC_TRANSPORT_STATS_INIT does, for callers that
 * cannot use the macro.
 * @param stats the struct to initialize.
 * @param version MC_TRANSPORT_STATS_VERSION of the
 * caller's header; only the fields of that version are written.
 * @return 0; MC_EINVAL (NULL, or a version this library does not know).
 */
MC_EXTERN(int) mc_transport_stats_init(mc_transport_stats *stats, unsigned int version);

/**
 * Copies the counters into @p out, whose version field the caller set
 * (MC_TRANSPORT_STATS_INIT or mc_transport_stats_init()); only the fields
 * of that version are written and the version stays the caller's.
 * @return 0, or MC_EINVAL (NULL, or an unknown version).
 * @param out the statistics, version set by the caller.
 * @param t the transport.
 */
MC_EXTERN(int) mc_transport_statistics(mc_transport_stats *out, mc_transport *t);

#ifdef __cplusplus
}
#endif
#endif
