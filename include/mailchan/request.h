/** @file
 * mailchan/request.h - request/reply over two one-way mail channels
 * (WCF's IRequestChannel), and the reply helper for services.
 *
 * A request channel sends each request to a service's address with
 * wsa:ReplyTo = "net.mail://REPLY_CHANNEL#OWN_ADDRESS" and a fresh
 * wsa:MessageID, and hands back the reply whose wsa:RelatesTo names that
 * MessageID. Replies come back to the transport's own mailbox on the
 * reply channel (by default the service channel's name + "-reply"), so
 * the transport must be able to send and receive (every binding can).
 *
 * Correlation is durable when the transport has a state store (the
 * state_path setting): each request is recorded before it is sent, and
 * every reply is written to the store before its mail is deleted, until
 * the application has taken it. A client that stops - or is killed - and
 * starts again with the same store therefore still gets the replies to
 * the requests it sent before: through mc_request_channel_receive_late().
 * Without a store the same holds within one process.
 *
 * Replies that match no waiting request - their request timed out, was
 * sent by an earlier run, or is unknown - are never dropped: they wait
 * for mc_request_channel_receive_late() (or the late-reply callback),
 * marked by the MC_PROP_CORRELATION property ("late", "earlier", or
 * "unknown").
 *
 * A SOAP fault in reply is a failure with its code and reason: request()
 * returns MC_EFAULT, mc_error_last() says "the service answered with a
 * fault: Sender: reason", and the fault message is still handed back
 * through *reply (mc_message_fault() reads code and reason).
 *
 * Threads: every call may come from any thread; several requests may wait
 * at once (synchronous and asynchronous alike). Callbacks run on the
 * channel's own thread; they may start new requests and close the
 * channel, but must not free it (the project's callback rule).
 */
#ifndef MAILCHAN_REQUEST_H
#define MAILCHAN_REQUEST_H

#include "channel.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A request channel: requests out, the replies that name them back (opaque). */
typedef struct mc_request_channel mc_request_channel;

/** Property on late replies: why no request was waiting for it. */
#define MC_PROP_CORRELATION "Correlation"
/** The request was sent by this channel and its wait ended (timeout,
 *  cancellation, close) before the reply came. */
#define MC_CORRELATION_LATE "late"
/** The request was sent before the channel was opened: by an earlier run
 *  on the same state store. */
#define MC_CORRELATION_EARLIER "earlier"
/** The reply relates to no request this store knows (or to none at all). */
#define MC_CORRELATION_UNKNOWN "unknown"

/** Options of mc_request_channel_new(); initialize with MC_REQUEST_OPTIONS_INIT. */
typedef struct {
    unsigned int version;      /**< MC_REQUEST_OPTIONS_VERSION */
    const char *reply_channel; /**< channel name replies come back on; NULL: the
                                    service channel's name + "-reply" */
    /** How long a request stays correlated after it was sent, for replies
     *  that come after its wait ended, in seconds; 0: 7 days. A reply after
     *  that is still delivered, marked "unknown". */
    unsigned int remember_seconds;
} mc_request_options;

/** The version of mc_request_options this header describes. */
#define MC_REQUEST_OPTIONS_VERSION 1
/** Initializer of mc_request_options: the defaults. */
#define MC_REQUEST_OPTIONS_INIT             \
    {                                       \
        MC_REQUEST_OPTIONS_VERSION, NULL, 0 \
    }

/**
 * Initializes @p o as MC_REQUEST_OPTIONS_INIT does. 0 or MC_EINVAL.
 * @param o the options to initialize.
 * @param version MC_REQUEST_OPTIONS_VERSION of the caller's header.
 * @return 0, or MC_EINVAL.
 */
MC_EXTERN(int) mc_request_options_init(mc_request_options *o, unsigned int version);

/**
 * Opens a request channel on @p transport (which must outlive it) to the
 * service at @p to_uri ("net.mail://orders#svc@example.com"). Starts
 * listening on the reply channel (connecting as mc_channel_listener_new()
 * does) and, with a state store, loads replies received but not yet taken
 * by an earlier run: they are ready for mc_request_channel_receive_late().
 * @param out receives the channel (the caller's; mc_request_channel_free()).
 * @param transport the transport it sends and listens on.
 * @param to_uri the service's address.
 * @param options NULL for the defaults.
 * @return 0; MC_EINVAL (bad address, bad options); MC_EBUSY (the reply
 *         channel is already listened to on this transport); the errors of
 *         mc_channel_listener_new(); MC_EIO (the store failed); MC_ENOMEM.
 */
MC_EXTERN(int)
mc_request_channel_new(mc_request_channel **out, mc_transport *transport, const char *to_uri,
                       const mc_request_options *options);

/**
 * Sends @p request and waits for its reply.
 * The request is sent with its own wsa:MessageID (set one first to choose
 * it), wsa:ReplyTo = the reply channel's address and wsa:To = the
 * service; @p request itself is not changed. It is recorded as pending
 * before it is sent. With `queued = true` on the binding, sending only
 * queues the mail: the wait covers the delivery.
 * @param reply the reply (the caller's), with the properties of a received
 *        message (MC_PROP_FROM_EMAIL, ...).
 * @param ch the request channel.
 * @param request the request (not changed).
 * @param timeout_ms how long to wait for the reply; negative: forever.
 * @return 0; MC_EFAULT (the reply is a SOAP fault: *reply is set to it,
 *         mc_error_last() gives its code and reason); MC_ETIMEOUT (no reply
 *         in time: the request stays correlated and a reply that comes later
 *         is a late reply); MC_ECLOSED (the channel was closed meanwhile);
 *         the errors of mc_output_channel_send() (nothing was sent and
 *         nothing stays pending); MC_EINVAL; MC_ENOMEM.
 */
MC_EXTERN(int)
mc_request_channel_request(mc_message **reply, mc_request_channel *ch, const mc_message *request,
                           int timeout_ms);

/**
 * Completion callback of mc_request_channel_request_async(): @p status as
 * mc_request_channel_request() returns it (0, MC_EFAULT, MC_ETIMEOUT,
 * MC_ECLOSED); @p reply (for 0 and MC_EFAULT, else NULL) belongs to the
 * callback, which frees it with mc_message_free(); @p request_id is the
 * request's wsa:MessageID; @p error_message is "" on success. Valid during
 * the call only.
 */
typedef void (*mc_reply_cb)(int status, mc_message *reply, const char *request_id, const char *error_message,
                            void *user_data);

/**
 * Sends @p request as mc_request_channel_request() does and returns once
 * it is sent (or queued); the reply, a fault, the timeout or the channel's
 * close comes through @p cb, exactly once, on the channel's thread. If it
 * returns an error, @p cb never fires and nothing stays pending.
 * @param request_id optional: receives the request's wsa:MessageID (a new
 *        string, mc_free()).
 * @param ch the request channel.
 * @param request the request (copied).
 * @param timeout_ms how long to wait for the reply; negative: forever.
 * @param cb called once with the outcome.
 * @param user_data passed to @p cb.
 * @return 0; the errors of sending; MC_ECLOSED; MC_EINVAL; MC_ENOMEM.
 */
MC_EXTERN(int)
mc_request_channel_request_async(char **request_id, mc_request_channel *ch, const mc_message *request,
                                 int timeout_ms, mc_reply_cb cb, void *user_data);

/**
 * Takes the next late reply (see above), oldest first. With a store, it is
 * removed from the store only now.
 * @return 0; MC_ETIMEOUT; MC_ECLOSED.
 * @param out receives the reply (the caller's).
 * @param ch the request channel.
 * @param timeout_ms how long to wait; negative: forever, 0: poll.
 */
MC_EXTERN(int) mc_request_channel_receive_late(mc_message **out, mc_request_channel *ch, int timeout_ms);

/**
 * Instead of waiting in mc_request_channel_receive_late(), have each late
 * reply handed to @p cb (status 0, request_id the reply's wsa:RelatesTo or
 * "") on the channel's thread; replies already waiting are handed over at
 * once. NULL restores pulling. 0 or MC_EINVAL.
 * @param ch the request channel.
 * @param cb the callback, or NULL.
 * @param user_data passed to @p cb.
 * @return 0, or MC_EINVAL.
 */
MC_EXTERN(int) mc_request_channel_set_late_callback(mc_request_channel *ch, mc_reply_cb cb, void *user_data);

/**
 * Requests sent and not yet answered (in the store, or in memory without one).
 * @param ch the request channel.
 * @return the number of pending requests.
 */
MC_EXTERN(size_t) mc_request_channel_pending(mc_request_channel *ch);

/**
 * The service's address. Borrowed.
 * @param ch the request channel.
 * @return the address.
 */
MC_EXTERN(const char *) mc_request_channel_address(const mc_request_channel *ch);
/**
 * The address replies come back to (the requests' wsa:ReplyTo). Borrowed.
 * @param ch the request channel.
 * @return the address.
 */
MC_EXTERN(const char *) mc_request_channel_reply_address(const mc_request_channel *ch);

/**
 * Closes the channel: waiting requests return MC_ECLOSED and asynchronous
 * ones get their callback with MC_ECLOSED; pending requests stay
 * correlated in the store, so replies to them wait for the next run.
 * Later calls get MC_ECLOSED. 0 or MC_ECLOSED if already closed.
 * @param ch the request channel.
 * @return 0, or MC_ECLOSED.
 */
MC_EXTERN(int) mc_request_channel_close(mc_request_channel *ch);

/**
 * Closes (if needed) and frees the channel. NULL is fine.
 * @param ch the channel (NULL is fine).
 */
MC_EXTERN(void) mc_request_channel_free(mc_request_channel *ch);

/* ---- the service side ---- */

/**
 * Sends @p reply to whoever sent @p request: to its wsa:ReplyTo, or for a
 * fault its wsa:FaultTo when given, or its wsa:From when ReplyTo is absent
 * or anonymous. wsa:RelatesTo is set to the request's MessageID when
 * @p reply has none (the reply itself is not changed). Make the reply with
 * mc_message_create_reply() or mc_message_new().
 * @return 0; MC_EINVAL (NULL, or the request names no net.mail address to
 *         answer to); the errors of mc_output_channel_send().
 * @param f the channel factory.
 * @param request the request answered.
 * @param reply the reply (not changed).
 */
MC_EXTERN(int)
mc_channel_factory_send_reply(mc_channel_factory *f, const mc_message *request, const mc_message *reply);

/**
 * Answers @p request with a SOAP fault (code "Sender" or "Receiver",
 * reason), as mc_channel_factory_send_reply() does.
 * @param f the channel factory.
 * @param request the request answered.
 * @param code "Sender" or "Receiver".
 * @param reason the reason text.
 * @return as mc_channel_factory_send_reply().
 */
MC_EXTERN(int)
mc_channel_factory_send_fault(mc_channel_factory *f, const mc_message *request, const char *code,
                              const char *reason);

#ifdef __cplusplus
}
#endif
#endif
