/** @file
 * mailchan/binding.h - bindings and binding elements.
 *
 * A binding is a transport element + an encoding element + a security
 * element (message security, off by default). Predefined bindings are made
 * by kind:
 *   "maildir"  the local Maildir store, the embedded default (no server)
 *   "mail"     SMTP submission (libcurl) to send, IMAP (libetpan) to receive:
 *              any standards mail server. Settings smtp_*, imap_*, username,
 *              password (or password_command) or a token callback (or
 *              token_command) for XOAUTH2, tls_* (verification is on by
 *              default; the system's CA store unless tls_ca_file or
 *              tls_ca_path is set), timeout, imap_idle*.
 *   "exchange" Exchange Web Services over HTTPS (libcurl): settings ews_*,
 *              username, password or password_command (Basic, NTLM) or a
 *              token callback or token_command (bearer), tls_*, timeout.
 *
 * Credentials from a program (mail and exchange): password_command and
 * token_command name a command run as /bin/sh -c COMMAND, stdin /dev/null,
 * stderr inherited, no other descriptor open, in its own process group;
 * the secret is the first line of its stdout without LF or CR LF. Exit
 * status not 0, a signal, an empty first line, more than 8192 octets of
 * output or more than command_timeout ms (the group is then killed) make
 * the login fail with MC_EAUTH naming the setting, never the output.
 * password_command runs whenever the password is needed (each SMTP send,
 * each IMAP login; for EWS once per session and again after an HTTP 401);
 * token_command is a built-in token callback: run exactly when a callback
 * set with mc_binding_set_token_callback() would be. password with
 * password_command, or token_command with a token callback, make
 * mc_transport_new() fail with MC_EINVAL. The commands are not secrets
 * (mc_binding_get returns them); what they print is.
 *
 * time_to_live (every kind): seconds a message sent without an expiry of
 * its own lives (mc_message_set_expiry); 0, the default, is none.
 *
 * Settings are named; every setting has one default, one parser and one
 * description, in one table (mc_binding_settings()). The same names are
 * used by the API, the CLI (--set name=value) and configuration files
 * ("name = value" lines). A setting belongs to one element, so a caller
 * can take a binding apart with mc_binding_create_binding_elements(),
 * change one element, and rebuild a custom binding from the elements.
 * A setting applies to the binding kinds its row lists (one or several);
 * for other kinds it does not exist (MC_ENOTFOUND).
 *
 * Enumerated settings (smtp_security, auth_mechanism, soap_version...)
 * accept exactly the names listed in their mc_setting_info::choices (and
 * help); anything else is refused when it is set, with the list of choices
 * in mc_error_last(), never replaced by a default later.
 *
 * Secrets (password, private_key_password: mc_setting_info::secret) can
 * be set but never read back: mc_binding_get() refuses them with
 * MC_EINVAL, and mc_binding_is_default() tells whether one was given. The
 * library wipes its copies of a secret when they are replaced or freed.
 *
 * Threads: a binding is mutable until a transport is built from it, and
 * may be shared read-only afterwards (mc_transport_new() copies what it needs).
 */
#ifndef MAILCHAN_BINDING_H
#define MAILCHAN_BINDING_H

#include "common.h"
#include "queue.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A binding: a kind and its settings, held in its elements (opaque). */
typedef struct mc_binding mc_binding;
/** One element of a binding: transport, encoding or security (opaque). */
typedef struct mc_binding_element mc_binding_element;
/** An ordered collection of binding elements (opaque). */
typedef struct mc_binding_elements mc_binding_elements;

/** The kinds of binding element; every setting belongs to one. */
typedef enum {
    MC_ELEMENT_TRANSPORT = 0, /**< transport settings: sizes, folders, intervals, account */
    MC_ELEMENT_ENCODING = 1,  /**< text encoder: SOAP version */
    MC_ELEMENT_SECURITY = 2   /**< message security: security_mode, algorithm_suite, keys, trust */
} mc_element_kind;

/** Description of one setting, for help texts and tools. */
typedef struct {
    const char *name;          /**< e.g. "max_received_message_size" */
    mc_element_kind element;   /**< the element it belongs to */
    const char *transports;    /**< space-separated binding kinds it applies to, "*" for all */
    const char *default_value; /**< textual default, "" for none */
    const char *help;          /**< one line; an enumeration's help lists its choices */
    const char *choices;       /**< an enumeration's accepted values, space-separated; NULL for
                                        other settings */
    int secret;                /**< nonzero for a secret: never returned by mc_binding_get() */
} mc_setting_info;

/**
 * The table of every setting. @param count receives the number of entries.
 * The array is static (the strings too) and may be read from any thread.
 * New fields are appended to mc_setting_info in new versions.
 * @return the array of @p count settings.
 */
MC_EXTERN(const mc_setting_info *) mc_binding_settings(size_t *count);

/**
 * Supplies an OAuth 2.0 bearer token for XOAUTH2. Called each time a
 * connection authenticates (SMTP or IMAP), so it may return a refreshed
 * token; it may be called from the transport's receive thread and from a
 * sending thread at the same time.
 * @param token receives a NUL-terminated token allocated with malloc(); the
 *        library wipes and frees it.
 * @param user_data as given to mc_binding_set_token_callback().
 * @return 0, or a negative MC_E* code: the connection then fails with MC_EAUTH.
 */
typedef int (*mc_token_cb)(char **token, void *user_data);

/**
 * Sets the XOAUTH2 token source of a "mail" binding (NULL removes it). With a
 * callback and auth_mechanism "auto", XOAUTH2 is used instead of the password.
 * The callback travels with the transport element (create_binding_elements).
 * The token_command setting is the same thing without code: setting both
 * makes mc_transport_new() fail with MC_EINVAL.
 * @return 0; MC_EINVAL for NULL b or a binding of another kind.
 * @param b the binding.
 * @param cb the token source, or NULL.
 * @param user_data passed to @p cb.
 */
MC_EXTERN(int) mc_binding_set_token_callback(mc_binding *b, mc_token_cb cb, void *user_data);

/**
 * Sets the callback that reports each queued mail's final outcome
 * (accepted, or dead-lettered with its last error) on a binding with
 * `queued = true` (NULL removes it). See mailchan/queue.h. It travels with
 * the transport element, like the token callback.
 * @return 0; MC_EINVAL for NULL b.
 * @param b the binding.
 * @param cb the outcome callback, or NULL.
 * @param user_data passed to @p cb.
 */
MC_EXTERN(int) mc_binding_set_delivery_callback(mc_binding *b, mc_delivery_cb cb, void *user_data);

/**
 * Creates a predefined binding with every setting at its default.
 * @param out receives the binding (the caller's; mc_binding_free()).
 * @param kind "maildir", "mail" or "exchange".
 * @return 0; MC_EINVAL for NULL; MC_ENOTFOUND for an unknown kind; MC_ENOMEM.
 */
MC_EXTERN(int) mc_binding_new(mc_binding **out, const char *kind);

/**
 * Frees a binding. NULL is fine.
 * @param b the binding (NULL is fine).
 */
MC_EXTERN(void) mc_binding_free(mc_binding *b);

/**
 * The binding's kind ("maildir", ...). Borrowed.
 * @param b the binding.
 * @return the kind.
 */
MC_EXTERN(const char *) mc_binding_kind(const mc_binding *b);

/**
 * Sets a setting by name from text (numbers in decimal; booleans
 * true/false/yes/no/1/0/on/off; enumerations by one of their choices). The
 * value is validated here and copied; a secret's previous value is wiped.
 * @return 0; MC_ENOTFOUND for an unknown name or one that does not apply to
 *         this binding's kind; MC_EINVAL for NULL b, name or value, or a bad
 *         value (reason in mc_error_last(); for an enumeration it lists the
 *         choices; a secret is never echoed); MC_ENOMEM. On failure the
 *         binding is unchanged.
 * @param b the binding.
 * @param name the setting's name.
 * @param value its new value, as text.
 */
MC_EXTERN(int) mc_binding_set(mc_binding *b, const char *name, const char *value);

/**
 * Sets a number setting (sizes, counts, milliseconds, ports) without text.
 * @return 0; MC_ENOTFOUND as mc_binding_set(); MC_EINVAL for NULL, a
 *         setting that is not a number, or a value outside its range
 *         (the range in mc_error_last()). On failure the binding is unchanged.
 * @param b the binding.
 * @param name the setting's name.
 * @param value its new value.
 */
MC_EXTERN(int) mc_binding_set_uint(mc_binding *b, const char *name, unsigned long long value);

/**
 * Sets a boolean setting (tls_verify, imap_idle...) without text.
 * @param b the binding.
 * @param name the setting's name.
 * @param value 0 for false, anything else for true.
 * @return 0; MC_ENOTFOUND as mc_binding_set(); MC_EINVAL for NULL or a
 *         setting that is not a boolean. On failure the binding is unchanged.
 */
MC_EXTERN(int) mc_binding_set_bool(mc_binding *b, const char *name, int value);

/**
 * The current value of a setting, as text (canonical: numbers in decimal,
 * booleans "true"/"false", an enumeration's listed name).
 * @param value receives a copy, freed with mc_free(); untouched on failure.
 * @param b the binding.
 * @param name the setting's name.
 * @return 0; MC_ENOTFOUND (unknown, or not this kind's); MC_EINVAL for
 *         NULL arguments or a secret (mc_setting_info::secret), which is
 *         never returned; MC_ENOMEM.
 */
MC_EXTERN(int) mc_binding_get(char **value, const mc_binding *b, const char *name);

/**
 * Whether a setting has its default value (a value set equal to the default
 * counts as default). For a secret, whose default is empty, this tells
 * whether one was given without revealing it.
 * @return 1 (default), 0 (changed); MC_EINVAL for NULL arguments;
 *         MC_ENOTFOUND as mc_binding_get().
 * @param b the binding.
 * @param name the setting's name.
 */
MC_EXTERN(int) mc_binding_is_default(const mc_binding *b, const char *name);

/**
 * Applies a configuration file: one "name = value" per line; blank lines
 * and lines starting with '#' are ignored; surrounding white space is
 * trimmed. Errors name the file and line. Stops at the first bad line;
 * settings applied before it stay applied. A "binding = KIND" line names
 * the kind the file is for (mc_binding_new_from_config()): it must be this
 * binding's kind.
 * @return 0; MC_EIO (cannot read); MC_EINVAL/MC_ENOTFOUND for a bad line
 *         (MC_EINVAL for a "binding" line naming another kind).
 * @param b the binding.
 * @param path the configuration file.
 */
MC_EXTERN(int) mc_binding_load_config(mc_binding *b, const char *path);

/**
 * Creates the binding a configuration file describes: its first
 * "binding = KIND" line gives the kind (as mc_binding_new()), then the file
 * is applied as by mc_binding_load_config(). So one file, e.g.
 * "binding = exchange", "address = ...", "ews_url = ...", configures a
 * program for any kind.
 * @param out receives the binding (the caller's; mc_binding_free()); on
 *        failure it is untouched.
 * @param path the configuration file.
 * @return 0; MC_EINVAL for NULL arguments or a file without a "binding"
 *         line; MC_EIO (cannot read); MC_ENOTFOUND for an unknown kind; the
 *         errors of mc_binding_load_config() for a bad line; MC_ENOMEM.
 */
MC_EXTERN(int) mc_binding_new_from_config(mc_binding **out, const char *path);

/**
 * Takes the binding apart: returns copies of its elements, in the order
 * transport, encoding, security. Changing them does not change @p b.
 * @param out freed with mc_binding_elements_free().
 * @param b the binding taken apart.
 * @return 0; MC_EINVAL for NULL arguments; MC_ENOMEM.
 */
MC_EXTERN(int) mc_binding_create_binding_elements(mc_binding_elements **out, const mc_binding *b);

/**
 * Frees an element collection and its elements. NULL is fine.
 * @param els the collection (NULL is fine).
 */
MC_EXTERN(void) mc_binding_elements_free(mc_binding_elements *els);
/**
 * Number of elements in the collection.
 * @param els the element collection.
 * @return the number of elements.
 */
MC_EXTERN(size_t) mc_binding_elements_count(const mc_binding_elements *els);
/**
 * The @p i-th element, or NULL. Borrowed from the collection.
 * @param els the element collection.
 * @param i its index, from 0.
 * @return the element, or NULL.
 */
MC_EXTERN(mc_binding_element *) mc_binding_elements_at(mc_binding_elements *els, size_t i);
/**
 * The first element of @p kind, or NULL. Borrowed from the collection.
 * @param els the element collection.
 * @param kind the kind of element looked for.
 * @return the element, or NULL.
 */
MC_EXTERN(mc_binding_element *) mc_binding_elements_find(mc_binding_elements *els, mc_element_kind kind);
/**
 * Removes the @p i-th element from the collection and frees it.
 * @return 0 or MC_ENOTFOUND.
 * @param els the element collection.
 * @param i its index, from 0.
 */
MC_EXTERN(int) mc_binding_elements_remove(mc_binding_elements *els, size_t i);

/**
 * The element's kind.
 * @param el the element.
 * @return the kind.
 */
MC_EXTERN(mc_element_kind) mc_binding_element_kind(const mc_binding_element *el);
/**
 * The element's name, e.g. "maildir-transport", "text-message-encoding". Borrowed.
 * @param el the element.
 * @return the name.
 */
MC_EXTERN(const char *) mc_binding_element_name(const mc_binding_element *el);
/**
 * Sets one of the element's settings, as mc_binding_set(). MC_ENOTFOUND if it is not this element's.
 * @param el the element.
 * @param name the setting's name.
 * @param value its new value, as text.
 * @return as mc_binding_set(); MC_ENOTFOUND also for a setting of another element.
 */
MC_EXTERN(int) mc_binding_element_set(mc_binding_element *el, const char *name, const char *value);
/**
 * Reads one of the element's settings, as mc_binding_get() (a secret: MC_EINVAL).
 * @param value receives a copy, freed with mc_free().
 * @param el the element.
 * @param name the setting's name.
 * @return as mc_binding_get().
 */
MC_EXTERN(int) mc_binding_element_get(char **value, const mc_binding_element *el, const char *name);

/**
 * Builds a custom binding from elements (copied). Exactly one transport
 * element is required; an encoding element is optional (SOAP 1.2 default).
 * @return 0; MC_EINVAL (no transport element, two of a kind); MC_ENOMEM.
 * @param out receives the binding (the caller's; mc_binding_free()).
 * @param els the elements (copied).
 */
MC_EXTERN(int) mc_binding_new_custom(mc_binding **out, const mc_binding_elements *els);

#ifdef __cplusplus
}
#endif
#endif
