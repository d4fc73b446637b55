/* internal.h - declarations shared by the library's own files. Not installed. */
#ifndef MC_INTERNAL_H
#define MC_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include "mailchan.h"

#define MC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* errors: records the thread's detail and returns code */
int mc__error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* logging */
void mc__log(mc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool mc__log_enabled(mc_log_level level);

/* growable byte buffer, always NUL-terminated when len > 0 */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
    bool failed; /* an allocation failed; the buffer is unusable */
} mc__buf;
void mc__buf_init(mc__buf *b);
void mc__buf_free(mc__buf *b);
bool mc__buf_reserve(mc__buf *b, size_t extra);
void mc__buf_put(mc__buf *b, const char *s, size_t n);
void mc__buf_puts(mc__buf *b, const char *s);
void mc__buf_printf(mc__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* appends s escaped for XML text and attribute values */
void mc__buf_put_xml_escaped(mc__buf *b, const char *s, size_t n);
/* hands over the data (caller frees) or NULL on failure */
char *mc__buf_detach(mc__buf *b, size_t *len);

/* utilities */
char *mc__strdup(const char *s);
char *mc__strndup(const char *s, size_t n);
int mc__set_str(char **dst, const char *src); /* copies src (NULL clears); MC_ENOMEM */
void mc__secret_free(char *secret);           /* wipes a NUL-terminated secret, then frees it */
int mc__uuid(char out[37]);                   /* random v4 UUID text */
int64_t mc__mono_ms(void);                    /* monotonic clock, ms */
int64_t mc__wall_ms(void);                    /* wall clock, ms since the epoch (durable timestamps) */
/* Copies at most n octets of untrusted text (a server's reply) into dst,
 * NUL-terminated within cap, printable ASCII only: control bytes and escape
 * sequences become '?'. Returns the octets written (without the NUL). */
size_t mc__printable(char *dst, size_t cap, const char *src, size_t n);
void mc__format_rfc3339(int64_t unix_seconds, char out[32]);
int mc__parse_rfc3339(const char *s, size_t n, int64_t *out);
bool mc__utf8_valid(const char *s, size_t n);
/* absolute monotonic deadline for a relative timeout (negative: none) */
int64_t mc__deadline(int timeout_ms);
/* fills a struct timespec (CLOCK_MONOTONIC) for pthread_cond_timedwait */
struct timespec;
void mc__deadline_timespec(int64_t deadline_ms, struct timespec *ts);

/* string set / map with string keys (open addressing) */
typedef struct {
    char **keys;
    void **values;
    size_t cap;
    size_t count;
    size_t tombs;
} mc__strmap;
void mc__strmap_init(mc__strmap *m);
void mc__strmap_free(mc__strmap *m, void (*free_value)(void *));
int mc__strmap_put(mc__strmap *m, const char *key, void *value); /* copies key */
void *mc__strmap_get(const mc__strmap *m, const char *key, bool *found);
bool mc__strmap_remove(mc__strmap *m, const char *key, void **old_value);
/* iteration: index i from 0 while i < cap; returns key or NULL for empty slots */
const char *mc__strmap_slot(const mc__strmap *m, size_t i, void **value);

/* where a reply to req goes (message.c): a new string or NULL */
char *mc__reply_destination(const mc_message *req, bool fault);

/* hardened XML parsing (xml.c) */
struct _xmlDoc;
int mc__xml_parse(struct _xmlDoc **out, const char *data, size_t len, size_t max_size, const char *what);
int mc__xml_check_fragment(const char *xml, size_t len, bool single_element);
/* True when these header lines (at least the Subject) carry the mailchan
 * stamp: the core's decision (RFC 2047 decoding included), which a transport
 * asks for instead of looking for the stamp itself. */
bool mc__mail_stamped(const char *headers, size_t len);
/* The linear pre-scan of mc__xml_parse for XML that reaches libxml2 another
 * way (xmlsec parses decrypted content itself): NULL if data is within the
 * limits on attributes per element and namespace declarations, else why not. */
const char *mc__xml_prescan(const char *data, size_t len);

/* message internals (message.c) */
const char *mc__message_in_reply_to_mail(const mc_message *msg);
int mc__message_set_in_reply_to_mail(mc_message *msg, const char *mail_message_id);

/* An envelope filter sits between the encoder and the mail framing: message
 * security (security/) implements it; the core knows only this table.
 * Both calls may run on several threads at once. */
typedef struct mc__envelope_filter mc__envelope_filter;
struct mc__envelope_filter {
    /* Turns a serialized envelope into the one sent to these addresses. */
    int (*secure)(mc__envelope_filter *f, const char *env, size_t len, const char *const *to, size_t nto,
                  char **out, size_t *out_len);
    /* Checks a received envelope and returns the plain one. mail_id names the
     * mail (the same mail read twice is not a replay). *subject receives the
     * verified sender's certificate subject or NULL. Any failure is
     * MC_ESECURITY with the reason in mc_error_last(), or MC_ENOMEM. */
    int (*unsecure)(mc__envelope_filter *f, const char *env, size_t len, size_t max, const char *mail_id,
                    char **out, size_t *out_len, char **subject);
    void (*free)(mc__envelope_filter *f);
};

/* mc_mail_classify with an envelope filter applied before parsing (mail_parse.c) */
int mc__mail_classify_filtered(mc_mail_info **out, const char *mail, size_t len, size_t max, int64_t now,
                               mc__envelope_filter *filter, const char *mail_id);

/* frames an already serialized envelope of msg (mail_build.c) */
int mc__mail_frame_envelope(char **out, size_t *len, char **mail_message_id, const mc_message *msg,
                            const char *env, size_t env_len, const mc_mail_frame_options *o);

/* mail parsing helpers (subject.c) */
int mc__subject_decode(const char *raw, size_t len, char **utf8);
void mc__put_encoded_words(mc__buf *b, const char *s, size_t n); /* RFC 2047, UTF-8, B */

#endif
