/** @file
 * mailchan/common.h - errors, logging, library life cycle, version.
 *
 * Conventions of the whole API (stated once here, true everywhere):
 * - Every fallible call returns 0 on success or one of the negative MC_E*
 *   codes below. mc_strerror() turns a code into fixed text; after a
 *   failure, mc_error_last() gives the calling thread's detailed message.
 *   Completion callbacks receive their status and message as arguments,
 *   because the thread-local message belongs to the thread that failed.
 * - Output parameters come first. On failure every output is left
 *   untouched; what comes back through an output is the caller's (freed
 *   with the matching _free function or mc_free()).
 * - Getters are named after what they return (mc_message_action(),
 *   mc_transport_address()); a pointer they return is borrowed and lives as
 *   long as its object, unchanged until the object is changed.
 * - Options and result structs carry a version field: initialize them with
 *   their _INIT macro or _init() function. The library accepts every
 *   version from 1 up to the one it was built with, and reads or writes
 *   only the fields of the caller's version.
 * - A counted input (pointer + length) may be given as a NUL-terminated
 *   string with the length MC_NUL_TERMINATED where its documentation says so.
 * - MC_ECANCELED means the caller asked for the cancellation
 *   (mc_output_channel_send_async_cancel()); an object closed under a
 *   waiting call gives MC_ECLOSED.
 */
#ifndef MAILCHAN_COMMON_H
#define MAILCHAN_COMMON_H

#include "version.h"

#include <stddef.h>

/**
 * Declares a public function returning @p type: exported from the shared
 * library (hidden visibility is the default inside it), a plain extern
 * declaration for the static library (define MC_STATIC) and for callers.
 */
#if defined(MC_STATIC)
#define MC_EXTERN(type) extern type
#elif defined(MC_BUILDING)
#define MC_EXTERN(type) extern __attribute__((visibility("default"))) type
#else
#define MC_EXTERN(type) extern type
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** Error codes. All are negative; 0 is success. */
typedef enum {
    MC_OK = 0,
    MC_EINVAL = -1,    /**< invalid argument, misuse of the API, bad configuration */
    MC_ENOMEM = -2,    /**< out of memory */
    MC_ETIMEOUT = -3,  /**< the operation's time ran out */
    MC_ECANCELED = -4, /**< cancelled at the caller's request */
    MC_EAUTH = -5,     /**< the server refused the credentials */
    MC_ETLS = -6,      /**< TLS failure, including certificate verification */
    MC_ENOTFOUND = -7, /**< no such item (property, element, folder, mailbox) */
    MC_EPROTO = -8,    /**< malformed or refused data: bad SOAP, bad mail, protocol error */
    MC_ESECURITY = -9, /**< message security check failed */
    MC_ETOOBIG = -10,  /**< a size limit was exceeded */
    MC_EBUSY = -11,    /**< the object is busy (a send in flight, a channel open) */
    MC_EIO = -12,      /**< I/O failure: file system, network, unreachable server */
    MC_ECLOSED = -13,  /**< the object was closed (or aborted) */
    MC_EPARTIAL = -14, /**< delivered to some recipients, refused by the server for others */
    MC_EFULL = -15,    /**< the outbox is full (queue_max_bytes); nothing was queued */
    MC_EFAULT = -16    /**< the service answered a request with a SOAP fault (mailchan/request.h) */
} mc_error_code;

/** A length meaning "the string is NUL-terminated: measure it" (see above). */
#define MC_NUL_TERMINATED ((size_t)-1)

/**
 * Fixed, human-readable text for an error code. Never NULL; an unknown
 * code gives "unknown error". The string is static.
 * @param code an MC_E* code (or 0).
 * @return the text.
 */
MC_EXTERN(const char *) mc_strerror(int code);

/**
 * The calling thread's most recent detailed error message, set by the
 * last mailchan call that failed on this thread. Never NULL: "" when no
 * error was recorded. Valid until the next mailchan call on this thread.
 * Messages never contain passwords or tokens.
 * @return the message.
 */
MC_EXTERN(const char *) mc_error_last(void);

/**
 * The code of the calling thread's most recent error (0 if none).
 * @return the MC_E* code, or 0.
 */
MC_EXTERN(int) mc_error_last_code(void);

/** Clears this thread's recorded error. */
MC_EXTERN(void) mc_error_clear(void);

/** Log levels, most verbose first. */
typedef enum {
    MC_LOG_DEBUG = 0,
    MC_LOG_INFO = 1,
    MC_LOG_WARN = 2,
    MC_LOG_ERROR = 3,
    MC_LOG_NONE = 4
} mc_log_level;

/**
 * A log sink. @p message is a NUL-terminated line without a trailing
 * newline, valid only during the call. May be called from any thread,
 * including the library's background threads, concurrently.
 */
typedef void (*mc_log_cb)(mc_log_level level, const char *message, void *user_data);

/**
 * Installs the process-wide log sink. Messages below @p min_level are
 * dropped before they are formatted. Pass @p cb NULL to silence the
 * library (the default: mailchan prints nothing on its own).
 * Thread-safe; the change applies to messages logged after it returns, and
 * when it returns no call of the previous sink is still running (so its
 * user_data may be freed) - unless it is called from inside the sink, where
 * it returns at once. The sink runs with no library lock held: it may call
 * any mailchan function, this one included; what the library would log
 * from inside the sink is dropped (no recursion).
 * @param cb the sink, or NULL.
 * @param min_level the least level passed to @p cb.
 * @param user_data passed to @p cb.
 */
MC_EXTERN(void) mc_log_set_callback(mc_log_cb cb, mc_log_level min_level, void *user_data);

/**
 * A ready-made sink that writes "mailchan: LEVEL: message" lines to stderr.
 * @param level the message's level.
 * @param message the line.
 * @param user_data unused.
 */
MC_EXTERN(void) mc_log_stderr(mc_log_level level, const char *message, void *user_data);

/**
 * Wire trace: the protocol dialogue line by line, as `curl -v` or swaks
 * show it - every line sent and received by SMTP, IMAP and the HTTP of the
 * Exchange binding, plus the library's notes about the connection.
 *
 * Secrets are redacted before the sink sees a line: the arguments of SMTP
 * AUTH (PLAIN, LOGIN, XOAUTH2) and every line we send until the server ends
 * the exchange, IMAP LOGIN and AUTHENTICATE arguments and continuations,
 * HTTP Authorization and Proxy-Authorization values (Basic, NTLM, Bearer),
 * NTLM and Negotiate blobs in WWW-Authenticate, and cookies: each shows as
 * "[redacted]" (an HTTP header keeps its scheme: "Authorization: Bearer
 * [redacted]"). Mail and SOAP bodies are shown: they are the application's.
 * A line is at most MC_TRACE_LINE_MAX octets of its text, followed by
 * " [... N more octets]" when it was longer; control characters and
 * invalid UTF-8 show as '?' (a trace on a terminal cannot move its cursor).
 */
typedef enum {
    MC_TRACE_SENT = 0,     /**< a line we sent (curl -v: "> ") */
    MC_TRACE_RECEIVED = 1, /**< a line the server sent ("< ") */
    MC_TRACE_INFO = 2      /**< a note of the library or libcurl: connect, TLS ("* ") */
} mc_trace_direction;

/** The longest line text a trace sink is given, before the overflow note. */
#define MC_TRACE_LINE_MAX 1000

/**
 * A trace sink. @p protocol is "smtp", "imap" or "http"; @p line is a
 * NUL-terminated line without its CR LF, valid only during the call. Called
 * from whichever thread talks to the server (the caller's, or a background
 * thread), possibly concurrently; lines of one connection come in order.
 */
typedef void (*mc_trace_cb)(mc_trace_direction direction, const char *protocol, const char *line,
                            void *user_data);

/**
 * Installs the process-wide trace sink; NULL (the default) turns tracing
 * off, and the library then neither copies nor formats anything for it.
 * It applies to lines of connections used after it returns. Thread-safe,
 * with the guarantees of mc_log_set_callback(): when it returns, no call of
 * the previous sink is still running (unless called from inside the sink);
 * the sink runs with no library lock held, and what would be traced from
 * inside it is dropped.
 * @param cb the sink, or NULL to turn tracing off.
 * @param user_data passed to every call of @p cb.
 */
MC_EXTERN(void) mc_trace_set_callback(mc_trace_cb cb, void *user_data);

/** A ready-made trace sink: writes "> line", "< line" or "* line" (direction)
 * to stderr, one line each.
 * @param direction sent, received or a note.
 * @param protocol "smtp", "imap" or "http" (not printed).
 * @param line the line, already redacted and bounded.
 * @param user_data unused. */
MC_EXTERN(void)
mc_trace_stderr(mc_trace_direction direction, const char *protocol, const char *line, void *user_data);

/**
 * Initializes the library (libxml2, OpenSSL). Call once from the main
 * thread before other threads use mailchan; further calls only count.
 * @return 0, or MC_ENOMEM.
 */
MC_EXTERN(int) mc_init(void);

/**
 * Releases what mc_init() set up, when called as many times as mc_init().
 * Every mailchan object must have been freed before.
 */
MC_EXTERN(void) mc_shutdown(void);

/**
 * The library's version as "MAJOR.MINOR.PATCH". Static string.
 * @return the version.
 */
MC_EXTERN(const char *) mc_version(void);

/**
 * Frees memory that mailchan handed to the caller (serialized envelopes, mail text, strings). NULL is fine.
 * @param ptr what a mailchan call handed over.
 */
MC_EXTERN(void) mc_free(void *ptr);

#ifdef __cplusplus
}
#endif
#endif
