/** @file
 * mailchan/mail.h - the mail framing of docs/wire-format.md: one mail, one
 * SOAP message. Transports use these functions; they are public so that
 * tools, gateways and tests can frame and classify mail themselves.
 *
 * Subject: "[net.mail] <channel>" then optional ";key=value" attributes
 * (known: ttl=<RFC 3339 UTC instant>; unknown ones are ignored). A
 * non-ASCII subject is sent as RFC 2047 encoded words (UTF-8, base64). The
 * receiver decodes the subject and looks for the stamp anywhere in it, so
 * "Re:", "Fwd:" or list tags before it do not matter. The stamp is matched
 * case-sensitively and must be followed by exactly one space.
 *
 * Headers written: Date, From, To, Message-ID, Subject, MIME-Version,
 * X-Net-Mail-Channel, and In-Reply-To/References on replies.
 *
 * Body form: Content-Type application/soap+xml; charset=utf-8;
 * action="..." (SOAP 1.1: text/xml; charset=utf-8), base64 transfer
 * encoding (lines of 76 octets). Attachment form: multipart/mixed with a
 * short text/plain part, then the envelope as application/soap+xml
 * "message.xml", base64. Either way every line is far below 998 octets
 * and the mail is 7-bit clean.
 */
#ifndef MAILCHAN_MAIL_H
#define MAILCHAN_MAIL_H

#include <stdint.h>
#include "message.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The stamp that marks a mail as mailchan's, at the start of its channel name in the Subject. */
#define MC_SUBJECT_STAMP "[net.mail]"

/** Where the envelope goes (WCF's MessageContainerType). */
typedef enum {
    MC_CONTAINER_DEFAULT = 0,   /**< body up to minimum_attachment_size, attachment above */
    MC_CONTAINER_BODY = 1,      /**< always in the body */
    MC_CONTAINER_ATTACHMENT = 2 /**< always as an attachment */
} mc_container_type;

/** Options for mc_mail_frame(). Initialize with MC_MAIL_FRAME_OPTIONS_INIT. */
typedef struct {
    unsigned int version;           /**< MC_MAIL_FRAME_OPTIONS_VERSION */
    const char *from;               /**< sender e-mail address (required) */
    const char *const *to;          /**< recipients (at least one) */
    size_t to_count;                /**< number of recipients in @p to */
    const char *channel;            /**< destination channel name (required) */
    const char *in_reply_to;        /**< Message-ID (with <>) of the mail answered, or NULL */
    mc_container_type container;    /**< default MC_CONTAINER_DEFAULT */
    size_t minimum_attachment_size; /**< default 2048 */
    int64_t date;                   /**< Date header, Unix seconds; 0 = now */
} mc_mail_frame_options;

/** The version of mc_mail_frame_options this header describes. */
#define MC_MAIL_FRAME_OPTIONS_VERSION 1
/** Initializer of mc_mail_frame_options: every field at its default. */
#define MC_MAIL_FRAME_OPTIONS_INIT                                                              \
    {                                                                                           \
        MC_MAIL_FRAME_OPTIONS_VERSION, NULL, NULL, 0, NULL, NULL, MC_CONTAINER_DEFAULT, 2048, 0 \
    }

/**
 * Initializes @p opts as MC_MAIL_FRAME_OPTIONS_INIT does, for callers that
 * cannot use the macro (bindings from other languages).
 * @param opts the options to initialize.
 * @param version MC_MAIL_FRAME_OPTIONS_VERSION of the caller's header;
 *        only the fields of that version are written.
 * @return 0; MC_EINVAL (NULL, or a version this library does not know).
 */
MC_EXTERN(int) mc_mail_frame_options_init(mc_mail_frame_options *opts, unsigned int version);

/**
 * Frames @p msg as one RFC 5322 mail with CRLF line ends.
 * @param out the mail text, NUL-terminated, freed with mc_free().
 * @param len its length.
 * @param mail_message_id optional: receives the generated Message-ID
 *        ("<uuid\@domain-of-from>"), freed with mc_free().
 * @param msg the message framed.
 * @param opts sender, recipients, channel and container (version set).
 * @return 0; MC_EINVAL for bad options (bad addresses, channel name,
 *         version); MC_ENOMEM. Outputs are untouched on failure.
 */
MC_EXTERN(int)
mc_mail_frame(char **out, size_t *len, char **mail_message_id, const mc_message *msg,
              const mc_mail_frame_options *opts);

/**
 * Parses a raw Subject header value (possibly RFC 2047 encoded and folded).
 * @param channel receives the decoded channel name (mc_free()), may be NULL.
 * @param expiry receives the ttl instant in Unix seconds, 0 without ttl; may be NULL.
 * @param raw the header value.
 * @param len its length in bytes.
 * @return 0 for a well-formed stamped subject; MC_ENOTFOUND when there is
 *         no stamp (not ours); MC_EPROTO when the stamp is there but what
 *         follows is malformed (reason in mc_error_last()); MC_ENOMEM.
 */
MC_EXTERN(int) mc_subject_parse(char **channel, int64_t *expiry, const char *raw, size_t len);

/**
 * Formats a Subject header value for @p channel and optional expiry,
 * RFC 2047-encoded when not ASCII.
 * @param out the Subject value, freed with mc_free().
 * @param channel the channel name.
 * @param expiry the ttl instant in Unix seconds, 0 for none.
 * @return 0, MC_EINVAL (bad channel name), MC_ENOMEM.
 */
MC_EXTERN(int) mc_subject_format(char **out, const char *channel, int64_t expiry);

/** What a receiver makes of a mail. */
typedef enum {
    MC_MAIL_OK = 0,        /**< a message for channel `channel` */
    MC_MAIL_NOT_OURS = 1,  /**< no stamp: never touch it */
    MC_MAIL_MALFORMED = 2, /**< stamp present, rest of the subject unparsable: to Deleted Items */
    MC_MAIL_INVALID = 3,   /**< envelope corrupt, missing or too big: deleted after the retry count */
    MC_MAIL_EXPIRED = 4    /**< ttl in the past: deleted */
} mc_mail_class;

/** The result of mc_mail_classify(). All strings and the message are owned by it. */
typedef struct {
    mc_mail_class kind;    /**< what the mail is */
    int error;             /**< MALFORMED/INVALID: the MC_E* code of the failure; else 0 */
    char *reason;          /**< MALFORMED/INVALID/EXPIRED: why; else NULL */
    char *channel;         /**< the decoded channel name (OK, INVALID, EXPIRED) */
    char *from;            /**< sender e-mail address, or NULL */
    char *mail_message_id; /**< Message-ID header with <>, or NULL */
    char *in_reply_to;     /**< In-Reply-To header, or NULL */
    int64_t expiry;        /**< ttl in Unix seconds, 0 if none */
    mc_message *message;   /**< OK only: the parsed message, properties set */
} mc_mail_info;

/**
 * Most Content-Type fields declaring a container (multipart/..., or
 * message/rfc822) that a mail may have: more make it INVALID before its MIME
 * structure is parsed, since each can nest another level (the MIME parser
 * rescans every level whole). Counted in one linear pass over the raw mail.
 */
#define MC_MAIL_MAX_MIME_CONTAINERS 16

/**
 * Parses and classifies a raw mail (a receiver's view, docs/wire-format.md section 6).
 * @param out the classification, freed with mc_mail_info_free().
 * @param mail the raw mail as the server holds it.
 * @param len its length in bytes.
 * @param max_envelope_size the largest envelope accepted (0: 65 536); a
 *        larger one makes the mail INVALID with MC_ETOOBIG.
 * @param now current time in Unix seconds for the ttl check (0: the clock).
 * @return 0 whatever the class (bad mail is a class, not an error);
 *         MC_EINVAL for NULL arguments; MC_ENOMEM.
 */
MC_EXTERN(int)
mc_mail_classify(mc_mail_info **out, const char *mail, size_t len, size_t max_envelope_size, int64_t now);

/**
 * Frees a classification (and its message unless taken). NULL is fine.
 * @param info the classification (NULL is fine).
 */
MC_EXTERN(void) mc_mail_info_free(mc_mail_info *info);

/**
 * A short name for a class ("ok", "not-ours", "malformed", "invalid", "expired").
 * @param kind the class.
 * @return the name.
 */
MC_EXTERN(const char *) mc_mail_class_name(mc_mail_class kind);

#ifdef __cplusplus
}
#endif
#endif
