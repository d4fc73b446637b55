/*
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

typedef struct mc_transport mc_transport;

/**
 * Builds the transport a binding describes. Settings are copied; the
 * binding may be freed or reused afterwards.
 * @return 0; MC_EINVAL (a required setting missing, e.g. maildir_root or
 *         address, or settings that contradict each other); MC_EIO (the
 *         store cannot be created or opened); MC_ENOMEM.
 */
MC_EXTERN(int) mc_transport_new(mc_transport **out, const mc_binding *binding);

/**
 * Frees the transport: stops its background work and flushes its
 * deleted-message cache synchronously, retrying on error (failures are
 * logged). Every factory, channel and listener built on it must have been
 * freed. NULL is fine.
 */
MC_EXTERN(void) mc_transport_free(mc_transport *t);

/** The transport's own e-mail address (the "address" setting). Borrowed. */
MC_EXTERN(const char *) mc_transport_address(const mc_transport *t);

/** Counters, for monitoring and tests. */
typedef struct {
    unsigned long long queries;      /**< completed server queries */
    unsigned long long delivered;    /**< messages returned by receive */
    unsigned long long deleted;      /**< mails deleted from the server */
    unsigned long long malformed;    /**< mails moved to Deleted Items */
    unsigned long long invalid;      /**< mails deleted as invalid after the retry count */
    unsigned long long expired;      /**< mails deleted as expired */
    unsigned long long sent;         /**< mails handed to the server */
    size_t cached;                   /**< messages in the processing cache now */
    size_t cached_bytes;             /**< their envelope bytes */
} mc_transport_stats;

/** Copies the counters into @p out. 0 or MC_EINVAL. */
MC_EXTERN(int) mc_transport_get_stats(mc_transport *t, mc_transport_stats *out);

#ifdef __cplusplus
}
#endif
#endif
