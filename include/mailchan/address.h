/** @file
 * mailchan/address.h - endpoint addresses "net.mail://<channel>#<addr>[;<addr>...]".
 *
 * The e-mail address finds the mailbox, the channel name finds the
 * application instance in it (like IP address and port). A listener's
 * address may have an empty address part ("net.mail://orders#"): the
 * transport's own mailbox. Channel names must not contain '#', '=', ';',
 * white space or control characters and must be valid UTF-8 (non-ASCII is
 * allowed). E-mail addresses are bare addr-specs: local\@domain, no display
 * name, no angle brackets, no white space or control characters, at most
 * 254 octets. The scheme is matched case-insensitively.
 */
#ifndef MAILCHAN_ADDRESS_H
#define MAILCHAN_ADDRESS_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A parsed, validated endpoint address. Immutable after creation. */
typedef struct mc_address mc_address;

/** The URI scheme, "net.mail". */
#define MC_ADDRESS_SCHEME "net.mail"
/** Longest accepted channel name, in octets. */
#define MC_CHANNEL_NAME_MAX 255

/**
 * Parses and validates @p uri.
 * @param uri the address text, e.g. "net.mail://orders#svc\@example.com".
 * @param out receives the new address (the caller frees it with mc_address_free()); untouched on failure.
 * @return 0; MC_EINVAL with a reason in mc_error_last() for a NULL or
 *         invalid URI; MC_ENOMEM.
 */
MC_EXTERN(int) mc_address_parse(mc_address **out, const char *uri);

/**
 * Builds an address from a channel name and @p count e-mail addresses
 * (@p count may be 0 for "the transport's own mailbox").
 * Strings are copied. Errors as mc_address_parse().
 * @param out receives the new address (the caller frees it with mc_address_free()).
 * @param channel the channel name.
 * @param emails the e-mail addresses (copied).
 * @param count how many in @p emails.
 * @return 0, or the errors of mc_address_parse().
 */
MC_EXTERN(int) mc_address_new(mc_address **out, const char *channel, const char *const *emails, size_t count);

/**
 * Frees an address. NULL is fine.
 * @param addr the address (NULL is fine).
 */
MC_EXTERN(void) mc_address_free(mc_address *addr);

/**
 * The channel name. Borrowed; lives as long as @p addr.
 * @param addr the address.
 * @return the channel name.
 */
MC_EXTERN(const char *) mc_address_channel(const mc_address *addr);

/**
 * Number of e-mail addresses (0 for "own mailbox").
 * @param addr the address.
 * @return the number of e-mail addresses.
 */
MC_EXTERN(size_t) mc_address_email_count(const mc_address *addr);

/**
 * The @p i-th e-mail address, or NULL when out of range. Borrowed.
 * @param addr the address.
 * @param i its index, from 0.
 * @return the address, or NULL.
 */
MC_EXTERN(const char *) mc_address_email(const mc_address *addr, size_t i);

/**
 * The canonical URI text ("net.mail://chan#a@b;c@d"). Borrowed.
 * @param addr the address.
 * @return the URI text.
 */
MC_EXTERN(const char *) mc_address_uri(const mc_address *addr);

/**
 * Checks a channel name against the rules above.
 * @return 0 or MC_EINVAL (reason in mc_error_last()).
 * @param channel the channel name to check.
 */
MC_EXTERN(int) mc_channel_name_validate(const char *channel);

/**
 * Checks a bare e-mail address (local\@domain).
 * @return 0 or MC_EINVAL (reason in mc_error_last()).
 * @param email the address to check.
 */
MC_EXTERN(int) mc_email_validate(const char *email);

#ifdef __cplusplus
}
#endif
#endif
