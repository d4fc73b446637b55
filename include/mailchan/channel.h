/** @file
 * mailchan/channel.h - output channels (send) and channel listeners with
 * their input channels (receive), built on a transport.
 *
 * Timeouts are in milliseconds; a negative timeout waits forever, 0 polls.
 *
 * Threads: factories and listeners may be used from any thread. An output
 * channel's send calls may come from any thread but only one send is in
 * flight at a time (a second one gets MC_EBUSY, as in SmtpClient). An
 * input channel's receive calls may come from several threads; closing or
 * aborting the channel wakes every waiting call with MC_ECLOSED.
 */
#ifndef MAILCHAN_CHANNEL_H
#define MAILCHAN_CHANNEL_H

#include "message.h"
#include "transport.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Makes output channels on a transport (opaque). */
typedef struct mc_channel_factory mc_channel_factory;
/** Sends messages to one destination address (opaque). */
typedef struct mc_output_channel mc_output_channel;
/** Receives the messages of one channel name in the transport's mailbox (opaque). */
typedef struct mc_channel_listener mc_channel_listener;
/** The channel receive is called on; one per listener at a time (opaque). */
typedef struct mc_input_channel mc_input_channel;

/* ---- sending ---- */

/**
 * Creates a channel factory on @p transport (which must outlive it).
 * @return 0, MC_EINVAL, MC_ENOMEM.
 * @param out receives the factory (the caller's; mc_channel_factory_free()).
 * @param transport the transport.
 */
MC_EXTERN(int) mc_channel_factory_new(mc_channel_factory **out, mc_transport *transport);

/**
 * Frees a factory. Its channels must have been freed. NULL is fine.
 * @param f the factory (NULL is fine).
 */
MC_EXTERN(void) mc_channel_factory_free(mc_channel_factory *f);

/**
 * Creates an output channel to @p to_uri ("net.mail://chan#a@b[;c@d]";
 * at least one e-mail address).
 * @return 0; MC_EINVAL for a bad address (reason in mc_error_last()); MC_ENOMEM.
 * @param out receives the channel (the caller's; mc_output_channel_free()).
 * @param f the channel factory.
 * @param to_uri the destination address.
 */
MC_EXTERN(int)
mc_channel_factory_create_channel(mc_output_channel **out, mc_channel_factory *f, const char *to_uri);

/**
 * Sends @p msg and returns when the transport has accepted the mail (for
 * Maildir: written durably into every recipient's store). The message's
 * wsa:To is set to the channel's address in what is sent; @p msg itself
 * is not changed.
 * @return 0; MC_EBUSY (another send in flight); MC_ECLOSED; MC_ETOOBIG
 *         (the envelope exceeds max_received_message_size); MC_EPARTIAL
 *         (several recipients, and the server accepted the mail for some
 *         and refused others: those accepted have it, it is not sent again;
 *         mc_error_last() names each refused address with the server's
 *         reply, e.g. "refused by the server: bob@x.test (550 5.1.1 ...)");
 *         MC_EAUTH (also: a password or token is set and the SMTP server
 *         offers no authentication, unless smtp_auth = none); MC_EIO and the
 *         transport's errors (a server that refuses every recipient:
 *         MC_EPROTO with its reply). Never 0 for a mail that was not
 *         accepted for every recipient.
 * @param ch the output channel.
 * @param msg the message (not changed).
 */
MC_EXTERN(int) mc_output_channel_send(mc_output_channel *ch, const mc_message *msg);

/**
 * Completion callback of mc_output_channel_send_async(): @p status is 0,
 * an MC_E* code (as mc_output_channel_send() returns them, MC_EPARTIAL
 * included: @p error_message then names the refused recipients), or
 * MC_ECANCELED; @p error_message is "" on success, valid during the call. Called on the channel's worker thread. The callback may
 * start the next send or close the channel, but must not free it.
 */
typedef void (*mc_send_cb)(int status, const char *error_message, void *user_data);

/**
 * Starts sending @p msg (copied) on a background thread and returns at
 * once. If it returns 0, @p cb fires exactly once; if it fails, never.
 * @return 0; MC_EINVAL (NULL); MC_EBUSY (a send in flight); MC_ECLOSED; MC_ENOMEM.
 * @param ch the output channel.
 * @param msg the message (copied).
 * @param cb called once with the outcome.
 * @param user_data passed to @p cb.
 */
MC_EXTERN(int)
mc_output_channel_send_async(mc_output_channel *ch, const mc_message *msg, mc_send_cb cb, void *user_data);

/**
 * Cancels the send in flight. If the mail has not yet been committed to
 * the transport it is not sent and the callback gets MC_ECANCELED;
 * otherwise the callback reports how the send ended.
 * @return 0 if a send was in flight; MC_ENOTFOUND if none.
 * @param ch the output channel.
 */
MC_EXTERN(int) mc_output_channel_send_async_cancel(mc_output_channel *ch);

/**
 * Closes the channel: waits for a send in flight to finish (its callback
 * has fired when this returns); later sends get MC_ECLOSED.
 * @return 0; MC_ECLOSED if already closed.
 * @param ch the output channel.
 */
MC_EXTERN(int) mc_output_channel_close(mc_output_channel *ch);

/**
 * The channel's destination address. Borrowed.
 * @param ch the output channel.
 * @return the address.
 */
MC_EXTERN(const char *) mc_output_channel_address(const mc_output_channel *ch);

/**
 * Closes (if needed) and frees the channel. NULL is fine.
 * @param ch the channel (NULL is fine).
 */
MC_EXTERN(void) mc_output_channel_free(mc_output_channel *ch);

/* ---- receiving ---- */

/**
 * Creates a listener for @p listen_uri ("net.mail://chan#" for the
 * transport's own mailbox, or "net.mail://chan#own@address"; the address
 * must then be the transport's). Starts the transport's receiving; the
 * first listener of a transport connects to the server here (IMAP: TLS,
 * certificate check, login, folder), so a bad configuration fails now.
 * Later connection losses are retried in the background with backoff.
 * @return 0; MC_EINVAL (bad address, a mailbox that is not the
 *         transport's); MC_EBUSY (another listener has this channel name on
 *         this transport); MC_ETLS (TLS failed or the server's certificate is
 *         not trusted: no credential was sent); MC_EAUTH (login refused);
 *         MC_EIO (server unreachable); MC_ENOMEM.
 * @param out receives the listener (the caller's; mc_channel_listener_free()).
 * @param transport the transport.
 * @param listen_uri the address to listen on.
 */
MC_EXTERN(int)
mc_channel_listener_new(mc_channel_listener **out, mc_transport *transport, const char *listen_uri);

/**
 * Accepts the input channel. One input channel per listener at a time: a
 * second accept waits until the first is closed or aborted.
 * @return 0; MC_ETIMEOUT; MC_ECLOSED (the listener was closed); MC_ENOMEM.
 * @param out receives the input channel (the caller's; mc_input_channel_free()).
 * @param l the listener.
 * @param timeout_ms how long to wait; negative: forever, 0: poll.
 */
MC_EXTERN(int)
mc_channel_listener_accept_channel(mc_input_channel **out, mc_channel_listener *l, int timeout_ms);

/**
 * Closes the listener: waiting accepts return MC_ECLOSED. 0 or MC_ECLOSED if already closed.
 * @param l the listener.
 * @return 0, or MC_ECLOSED if already closed.
 */
MC_EXTERN(int) mc_channel_listener_close(mc_channel_listener *l);

/**
 * Frees the listener. Its input channel must have been freed. NULL is fine.
 * @param l the listener (NULL is fine).
 */
MC_EXTERN(void) mc_channel_listener_free(mc_channel_listener *l);

/**
 * Receives the next message for this channel.
 * @param out the message, owned by the caller; its properties carry
 *        FromEmailAddress, the mail's Message-ID and the received time.
 * @param ch the input channel.
 * @param timeout_ms how long to wait; negative: forever, 0: poll.
 * The mail is deleted from the server at the transport's next query.
 * @return 0; MC_ETIMEOUT; MC_ECLOSED (closed or aborted, also while waiting);
 *         a transport error that stopped receiving.
 */
MC_EXTERN(int) mc_input_channel_receive(mc_message **out, mc_input_channel *ch, int timeout_ms);

/**
 * As mc_input_channel_receive(), but a timeout is not an error: returns 0
 * with *out set to NULL.
 * @param out receives the message (the caller's), or NULL when none came in time.
 * @param ch the input channel.
 * @param timeout_ms how long to wait; negative: forever, 0: poll.
 * @return 0 (with *out NULL after a timeout), or the other errors of mc_input_channel_receive().
 */
MC_EXTERN(int) mc_input_channel_try_receive(mc_message **out, mc_input_channel *ch, int timeout_ms);

/**
 * Waits until a message can be received, without taking it.
 * @return 0 (a message is ready); MC_ETIMEOUT; MC_ECLOSED.
 * @param ch the input channel.
 * @param timeout_ms how long to wait; negative: forever, 0: poll.
 */
MC_EXTERN(int) mc_input_channel_wait_for_message(mc_input_channel *ch, int timeout_ms);

/**
 * Closes the channel gracefully: waiting calls return MC_ECLOSED; mail not
 * yet received stays on the server; if this is the transport's last open
 * input channel, the deleted-message cache is flushed now, synchronously,
 * with retries. The listener can then accept a new channel.
 * @return 0; MC_ECLOSED if already closed or aborted; MC_EIO if the flush
 *         failed after its retries (the channel is closed all the same and
 *         the ids stay cached for the next query).
 * @param ch the input channel.
 */
MC_EXTERN(int) mc_input_channel_close(mc_input_channel *ch);

/**
 * Aborts the channel: as close, but without the synchronous flush (the
 * deleted-message cache is flushed by the next query or by
 * mc_transport_free()). Idempotent.
 * @param ch the input channel.
 */
MC_EXTERN(void) mc_input_channel_abort(mc_input_channel *ch);

/**
 * The channel's local address. Borrowed.
 * @param ch the input channel.
 * @return the address.
 */
MC_EXTERN(const char *) mc_input_channel_address(const mc_input_channel *ch);

/**
 * Aborts (if still open) and frees the channel. NULL is fine.
 * @param ch the channel (NULL is fine).
 */
MC_EXTERN(void) mc_input_channel_free(mc_input_channel *ch);

#ifdef __cplusplus
}
#endif
#endif
