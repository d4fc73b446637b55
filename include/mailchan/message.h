/** @file
 * mailchan/message.h - SOAP messages with WS-Addressing 1.0 headers.
 *
 * A message is an envelope (SOAP 1.2 by default, or SOAP 1.1), its
 * WS-Addressing headers (To, From, ReplyTo, FaultTo, Action, MessageID,
 * RelatesTo), any number of custom header blocks, a body, and - on
 * received messages - a property bag (MC_PROP_*).
 *
 * Bodies are XML fragments: zero or more elements (with text between them
 * allowed only as white space) that declare every namespace prefix they
 * use. A text body is carried as WCF's DataContractSerializer does it:
 * `<string xmlns="http://schemas.microsoft.com/2003/10/Serialization/">`.
 *
 * Parsing goes through one hardened path: the size is checked before any
 * parsing, DTDs are refused (so no entity can be declared or expanded),
 * the parser never touches the network, and nesting deeper than
 * MC_XML_MAX_DEPTH, an element with more than MC_XML_MAX_ATTRIBUTES
 * attributes, or more than MC_XML_MAX_NAMESPACES namespace declarations in
 * scope are refused - each in time linear in the input. Bad input gives
 * MC_EPROTO (or MC_ETOOBIG) with a reason in mc_error_last(). The same
 * limits apply to bodies and header blocks given to mc_message_new() and
 * friends.
 *
 * Threads: a message may be used from one thread at a time; distinct
 * messages are independent.
 */
#ifndef MAILCHAN_MESSAGE_H
#define MAILCHAN_MESSAGE_H

#include <stdint.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A SOAP message: envelope, WS-Addressing headers, body, properties (opaque). */
typedef struct mc_message mc_message;

/** The SOAP version of an envelope. */
typedef enum {
    MC_SOAP12 = 0, /**< SOAP 1.2, application/soap+xml (the default) */
    MC_SOAP11 = 1  /**< SOAP 1.1, text/xml */
} mc_soap_version;

/** The SOAP 1.2 envelope namespace. */
#define MC_NS_SOAP12 "http://www.w3.org/2003/05/soap-envelope"
/** The SOAP 1.1 envelope namespace. */
#define MC_NS_SOAP11 "http://schemas.xmlsoap.org/soap/envelope/"
/** The WS-Addressing 1.0 namespace. */
#define MC_NS_WSA "http://www.w3.org/2005/08/addressing"
/** WS-Addressing's anonymous address (no address to reply to by mail). */
#define MC_WSA_ANONYMOUS "http://www.w3.org/2005/08/addressing/anonymous"
/** The namespace of the DataContract `<string>` element that carries text bodies. */
#define MC_NS_SERIALIZATION "http://schemas.microsoft.com/2003/10/Serialization/"
/** Maximum element nesting accepted when parsing. */
#define MC_XML_MAX_DEPTH 64
/** Maximum attributes of one element, namespace declarations included. */
#define MC_XML_MAX_ATTRIBUTES 64
/** Maximum namespace declarations in scope at any element. */
#define MC_XML_MAX_NAMESPACES 128

/** Property names found on received messages. */
#define MC_PROP_FROM_EMAIL "FromEmailAddress"   /**< the mail's sender address */
#define MC_PROP_MAIL_MESSAGE_ID "MailMessageId" /**< the mail's Message-ID, with angle brackets */
#define MC_PROP_RECEIVED_TIME "ReceivedTime"    /**< RFC 3339 UTC instant the transport read the mail */
#define MC_PROP_CHANNEL "Channel"               /**< the channel name from the subject */
#define MC_PROP_MAIL_ID "MailId" /**< the transport's id of the mail (Maildir name, IMAP UID) */
/** with security_mode message: the subject (RFC 2253) of the certificate
 *  whose signature was verified, e.g. "CN=device-17,O=Example" */
#define MC_PROP_SENDER_CERTIFICATE "SenderCertificateSubject"

/**
 * Creates a message with @p action and an XML body fragment.
 * @param out the new message, owned by the caller (mc_message_free()).
 * @param action the wsa:Action (an IRI, copied); must be non-empty.
 * @param body_xml the body fragment (copied), may be NULL or empty for an empty body.
 * @param len length of @p body_xml in bytes, or MC_NUL_TERMINATED.
 * A fresh wsa:MessageID ("urn:uuid:...") is assigned.
 * @return 0; MC_EINVAL for a NULL @p out or a missing action; MC_EPROTO if
 *         the fragment is not well-formed; MC_ETOOBIG if it exceeds 64 MiB; MC_ENOMEM.
 */
MC_EXTERN(int) mc_message_new(mc_message **out, const char *action, const char *body_xml, size_t len);

/**
 * Creates a message whose body is @p text, carried in a DataContract
 * `<string>` element (escaped as needed). Text must be valid UTF-8 without
 * characters XML forbids. Errors as mc_message_new().
 * @param out the new message, owned by the caller (mc_message_free()).
 * @param action the wsa:Action (copied).
 * @param text the body text (copied).
 * @return 0, or the errors of mc_message_new().
 */
MC_EXTERN(int) mc_message_new_text(mc_message **out, const char *action, const char *text);

/**
 * Creates a SOAP fault message.
 * @param out the new message, owned by the caller (mc_message_free()).
 * @param code "Sender" or "Receiver" (SOAP 1.2 names; mapped to Client/Server for SOAP 1.1).
 * @param reason human-readable reason text (copied).
 * @param action wsa:Action; NULL gives "http://www.w3.org/2005/08/addressing/soap/fault".
 * @return 0; MC_EINVAL for a NULL argument or an unknown code; MC_ENOMEM.
 */
MC_EXTERN(int)
mc_message_new_fault(mc_message **out, const char *code, const char *reason, const char *action);

/**
 * Creates a reply to @p request: RelatesTo = the request's MessageID, a
 * fresh MessageID, the same SOAP version, To = the request's ReplyTo (or,
 * when that is absent or anonymous, its From). The caller sets the body
 * through @p body_xml as in mc_message_new().
 * The mail framing uses the request's mail Message-ID for In-Reply-To.
 * @param out the reply, owned by the caller (mc_message_free()).
 * @param request the message answered.
 * @param action the reply's wsa:Action.
 * @param body_xml the body fragment, or NULL.
 * @param len its length, or MC_NUL_TERMINATED.
 * @return 0; the errors of mc_message_new(); MC_EINVAL for a NULL request.
 */
MC_EXTERN(int)
mc_message_create_reply(mc_message **out, const mc_message *request, const char *action, const char *body_xml,
                        size_t len);

/**
 * Replaces the body with an XML fragment (copied), as in mc_message_new()
 * (@p len may be MC_NUL_TERMINATED).
 * A fault becomes an ordinary message. @return 0, MC_EINVAL, MC_EPROTO, MC_ETOOBIG, MC_ENOMEM;
 * the message is unchanged on failure.
 * @param msg the message.
 * @param body_xml the body fragment.
 * @param len its length, or MC_NUL_TERMINATED.
 */
MC_EXTERN(int) mc_message_set_body(mc_message *msg, const char *body_xml, size_t len);

/**
 * Replaces the body with text, as in mc_message_new_text(). Errors as mc_message_set_body().
 * @param msg the message.
 * @param text the body text.
 * @return as mc_message_set_body().
 */
MC_EXTERN(int) mc_message_set_body_text(mc_message *msg, const char *text);

/**
 * Turns the message into a SOAP fault (code "Sender" or "Receiver", reason
 * copied), keeping its headers. @return 0, MC_EINVAL, MC_ENOMEM.
 * @param msg the message.
 * @param code "Sender" or "Receiver".
 * @param reason the reason text.
 */
MC_EXTERN(int) mc_message_set_fault(mc_message *msg, const char *code, const char *reason);

/**
 * Frees a message. NULL is fine.
 * @param msg the message (NULL is fine).
 */
MC_EXTERN(void) mc_message_free(mc_message *msg);

/**
 * Sets the SOAP version used when the message is serialized. MC_EINVAL for another value.
 * @param msg the message.
 * @param version MC_SOAP12 or MC_SOAP11.
 * @return 0, or MC_EINVAL.
 */
MC_EXTERN(int) mc_message_set_soap_version(mc_message *msg, mc_soap_version version);
/**
 * The message's SOAP version.
 * @param msg the message.
 * @return MC_SOAP12 or MC_SOAP11.
 */
MC_EXTERN(mc_soap_version) mc_message_soap_version(const mc_message *msg);

/* WS-Addressing headers. Setters copy their argument; NULL removes the
 * header (except Action and MessageID, which are required: MC_EINVAL).
 * Getters return a borrowed string or NULL when the header is absent. */
/**
 * Sets the wsa:Action header (copied; required: NULL is MC_EINVAL).
 * @param msg the message.
 * @param action the new value (copied).
 * @return 0; MC_EINVAL (NULL message, or NULL for this required header); MC_ENOMEM.
 */
MC_EXTERN(int) mc_message_set_action(mc_message *msg, const char *action);
/**
 * Sets the wsa:To header (copied; NULL removes it).
 * @param msg the message.
 * @param to the new value (copied), or NULL.
 * @return 0; MC_EINVAL; MC_ENOMEM.
 */
MC_EXTERN(int) mc_message_set_to(mc_message *msg, const char *to);
/**
 * Sets the wsa:From header (copied; NULL removes it).
 * @param msg the message.
 * @param from the new value (copied), or NULL.
 * @return 0; MC_EINVAL; MC_ENOMEM.
 */
MC_EXTERN(int) mc_message_set_from(mc_message *msg, const char *from);
/**
 * Sets the wsa:ReplyTo header (copied; NULL removes it).
 * @param msg the message.
 * @param reply_to the new value (copied), or NULL.
 * @return 0; MC_EINVAL; MC_ENOMEM.
 */
MC_EXTERN(int) mc_message_set_reply_to(mc_message *msg, const char *reply_to);
/**
 * Sets the wsa:FaultTo header (copied; NULL removes it).
 * @param msg the message.
 * @param fault_to the new value (copied), or NULL.
 * @return 0; MC_EINVAL; MC_ENOMEM.
 */
MC_EXTERN(int) mc_message_set_fault_to(mc_message *msg, const char *fault_to);
/**
 * Sets the wsa:MessageID header (copied; required: NULL is MC_EINVAL).
 * @param msg the message.
 * @param message_id the new value (copied).
 * @return 0; MC_EINVAL (NULL message, or NULL for this required header); MC_ENOMEM.
 */
MC_EXTERN(int) mc_message_set_message_id(mc_message *msg, const char *message_id);
/**
 * Sets the wsa:RelatesTo header (copied; NULL removes it).
 * @param msg the message.
 * @param relates_to the new value (copied), or NULL.
 * @return 0; MC_EINVAL; MC_ENOMEM.
 */
MC_EXTERN(int) mc_message_set_relates_to(mc_message *msg, const char *relates_to);
/**
 * The wsa:Action header, borrowed; NULL when absent.
 * @param msg the message.
 * @return the value, or NULL.
 */
MC_EXTERN(const char *) mc_message_action(const mc_message *msg);
/**
 * The wsa:To header, borrowed; NULL when absent.
 * @param msg the message.
 * @return the value, or NULL.
 */
MC_EXTERN(const char *) mc_message_to(const mc_message *msg);
/**
 * The wsa:From header, borrowed; NULL when absent.
 * @param msg the message.
 * @return the value, or NULL.
 */
MC_EXTERN(const char *) mc_message_from(const mc_message *msg);
/**
 * The wsa:ReplyTo header, borrowed; NULL when absent.
 * @param msg the message.
 * @return the value, or NULL.
 */
MC_EXTERN(const char *) mc_message_reply_to(const mc_message *msg);
/**
 * The wsa:FaultTo header, borrowed; NULL when absent.
 * @param msg the message.
 * @return the value, or NULL.
 */
MC_EXTERN(const char *) mc_message_fault_to(const mc_message *msg);
/**
 * The wsa:MessageID header, borrowed; NULL when absent.
 * @param msg the message.
 * @return the value, or NULL.
 */
MC_EXTERN(const char *) mc_message_message_id(const mc_message *msg);
/**
 * The wsa:RelatesTo header, borrowed; NULL when absent.
 * @param msg the message.
 * @return the value, or NULL.
 */
MC_EXTERN(const char *) mc_message_relates_to(const mc_message *msg);

/**
 * Sets the message's expiry as seconds since the epoch (UTC); 0 clears
 * it. An expiring message is framed with ";ttl=<instant>" in the subject
 * and is deleted, never delivered, by a receiver that reads it later.
 * A message sent without an expiry through a transport whose binding sets
 * time_to_live (seconds) gets now + time_to_live when it is sent; an expiry
 * set here always wins. Queued mail whose expiry passes in the outbox is
 * dead-lettered, not sent (mc_delivery_report result MC_ETIMEOUT).
 * @param msg the message.
 * @param unix_seconds the instant, or 0 for none.
 * @return 0, or MC_EINVAL.
 */
MC_EXTERN(int) mc_message_set_expiry(mc_message *msg, int64_t unix_seconds);
/**
 * The expiry set on, or read from, the message; 0 if none.
 * @param msg the message.
 * @return the expiry in Unix seconds, or 0.
 */
MC_EXTERN(int64_t) mc_message_expiry(const mc_message *msg);

/**
 * Appends a custom header block: one well-formed element that declares
 * its namespaces. Copied; @p len may be MC_NUL_TERMINATED. @return 0,
 * MC_EINVAL, MC_EPROTO (not one well-formed element), MC_ENOMEM.
 * @param msg the message.
 * @param header_xml the header block.
 * @param len its length, or MC_NUL_TERMINATED.
 */
MC_EXTERN(int) mc_message_add_header(mc_message *msg, const char *header_xml, size_t len);
/**
 * Number of custom header blocks (WS-Addressing headers are not counted).
 * @param msg the message.
 * @return the number of custom header blocks.
 */
MC_EXTERN(size_t) mc_message_header_count(const mc_message *msg);
/**
 * The @p i-th custom header block as XML, or NULL when out of range. Borrowed.
 * @param msg the message.
 * @param i its index, from 0.
 * @return the header block, or NULL.
 */
MC_EXTERN(const char *) mc_message_header(const mc_message *msg, size_t i);

/**
 * The body fragment (may be ""). Borrowed; @p len (optional) receives its length.
 * @param msg the message.
 * @param len receives its length in bytes (may be NULL).
 * @return the body.
 */
MC_EXTERN(const char *) mc_message_body(const mc_message *msg, size_t *len);

/**
 * The text of a DataContract `<string>` body, as created by
 * mc_message_new_text().
 * @param out a new NUL-terminated string, freed with mc_free().
 * @param msg the message.
 * @return 0; MC_ENOTFOUND if the body is not such a string; MC_ENOMEM.
 */
MC_EXTERN(int) mc_message_body_text(char **out, const mc_message *msg);

/**
 * Whether the body is a SOAP Fault.
 * @param msg the message.
 * @return 1 for a fault, else 0.
 */
MC_EXTERN(int) mc_message_is_fault(const mc_message *msg);
/**
 * For a fault: its code ("Sender"/"Receiver", SOAP 1.1 Client/Server mapped)
 * and reason text, borrowed. @return 0 or MC_ENOTFOUND when not a fault.
 * @param code receives the code.
 * @param reason receives the reason.
 * @param msg the message.
 */
MC_EXTERN(int) mc_message_fault(const char **code, const char **reason, const mc_message *msg);

/**
 * Looks up a property (MC_PROP_*). @return the borrowed value or NULL.
 * @param msg the message.
 * @param name the property name.
 */
MC_EXTERN(const char *) mc_message_property(const mc_message *msg, const char *name);
/**
 * Sets a property (copied); NULL value removes it. 0, MC_EINVAL, MC_ENOMEM.
 * @param msg the message.
 * @param name the property name.
 * @param value its value, or NULL.
 * @return 0, MC_EINVAL, MC_ENOMEM.
 */
MC_EXTERN(int) mc_message_set_property(mc_message *msg, const char *name, const char *value);

/**
 * Serializes the envelope as UTF-8.
 * @param out a new buffer (NUL-terminated), freed with mc_free().
 * @param len receives the length without the NUL.
 * @param msg the message.
 * @return 0, MC_EINVAL, MC_ENOMEM.
 */
MC_EXTERN(int) mc_message_serialize(char **out, size_t *len, const mc_message *msg);

/**
 * Parses an envelope through the hardened path.
 * @param out the parsed message, owned by the caller (mc_message_free()).
 * @param data the envelope's bytes.
 * @param len the length of @p data, or MC_NUL_TERMINATED.
 * @param max_size the largest envelope accepted (0: 65 536); checked before parsing.
 * @return 0; MC_ETOOBIG; MC_EPROTO with a reason (not XML, DTD present,
 *         too deep, not a SOAP envelope, missing/duplicate Action or
 *         MessageID is tolerated - see below); MC_ENOMEM.
 * A missing wsa:MessageID is allowed (one-way messages from other stacks);
 * a missing wsa:Action is MC_EPROTO.
 */
MC_EXTERN(int) mc_message_parse(mc_message **out, const char *data, size_t len, size_t max_size);

/**
 * Deep copy. 0, MC_EINVAL, MC_ENOMEM.
 * @param out the copy, owned by the caller.
 * @param msg the message.
 * @return 0, MC_EINVAL, MC_ENOMEM.
 */
MC_EXTERN(int) mc_message_clone(mc_message **out, const mc_message *msg);

#ifdef __cplusplus
}
#endif
#endif
