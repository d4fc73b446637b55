/* hostile_inputs.h - the worst inputs we know for the parsers of untrusted
 * content: envelopes for libxml2, raw mails for libetpan, subjects. Shared
 * by bench_hostile (which times them), the unit tests (which check that
 * they are refused, and that the largest legitimate ones still pass) and
 * the fuzz seeds. Every generator returns a malloc'ed, NUL-terminated text
 * of about `size` bytes (never more) and its length in *len. */
#ifndef MC_HOSTILE_INPUTS_H
#define MC_HOSTILE_INPUTS_H
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *data;
    size_t len, cap;
} hi_buf;

static inline void hi_put(hi_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (b->len + n + 1 > cap)
            cap *= 2;
        if (!(b->data = realloc(b->data, cap)))
            abort();
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static inline void hi_puts(hi_buf *b, const char *s) { hi_put(b, s, strlen(s)); }

static inline void hi_printf(hi_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void hi_printf(hi_buf *b, const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        abort();
    hi_put(b, tmp, (size_t)n);
}

static inline char *hi_done(hi_buf *b, size_t *len)
{
    if (!b->data)
        hi_put(b, "", 0);
    *len = b->len;
    return b->data;
}

#define HI_SOAP12 "http://www.w3.org/2003/05/soap-envelope"
#define HI_WSA "http://www.w3.org/2005/08/addressing"
#define HI_ENV_OPEN "<s:Envelope xmlns:s=\"" HI_SOAP12 "\" xmlns:a=\"" HI_WSA "\">"
#define HI_HEAD HI_ENV_OPEN "<s:Header><a:Action>urn:hostile</a:Action></s:Header><s:Body>"
#define HI_TAIL "</s:Body></s:Envelope>"

/* --- envelopes (each a SOAP 1.2 envelope with a wsa:Action) --- */

/* one element with as many attributes as fit (libxml2 2.9 checks
 * duplicates in O(n^2)); per_element > 0 starts a new element every
 * per_element attributes instead */
static inline char *hi_env_attributes(size_t size, unsigned per_element, size_t *len)
{
    hi_buf b = {0};
    unsigned i = 0;
    hi_puts(&b, HI_HEAD "<d xmlns=\"urn:d\">");
    while (b.len + 64 < size) {
        if (per_element && i % per_element == 0)
            hi_puts(&b, i ? "/><e" : "<e");
        else if (!per_element && i == 0)
            hi_puts(&b, "<e");
        hi_printf(&b, " a%x=\"\"", i++);
    }
    hi_puts(&b, i ? "/></d>" HI_TAIL : "</d>" HI_TAIL);
    return hi_done(&b, len);
}

/* one element with as many namespace declarations as fit */
static inline char *hi_env_ns_declarations(size_t size, size_t *len)
{
    hi_buf b = {0};
    unsigned i = 0;
    hi_puts(&b, HI_HEAD "<d");
    while (b.len + 64 < size)
        hi_printf(&b, " xmlns:p%x=\"urn:p\"", i++);
    hi_puts(&b, "/>" HI_TAIL);
    return hi_done(&b, len);
}

/* one element with as many attributes in one namespace as fit */
static inline char *hi_env_prefixed_attributes(size_t size, size_t *len)
{
    hi_buf b = {0};
    unsigned i = 0;
    hi_puts(&b, HI_HEAD "<d xmlns:p=\"urn:p\"");
    while (b.len + 64 < size)
        hi_printf(&b, " p:a%x=\"\"", i++);
    hi_puts(&b, "/>" HI_TAIL);
    return hi_done(&b, len);
}

/* nested elements each declaring `per_level` prefixes (as many levels as
 * fill half the envelope, at most `levels`), then as many elements as fit
 * that use the first prefix declared: every name is looked up through
 * every declaration in scope. */
static inline char *hi_env_ns_scope(size_t size, unsigned levels, unsigned per_level, size_t *len)
{
    hi_buf b = {0};
    unsigned n = 0, l;
    hi_puts(&b, HI_HEAD);
    for (l = 0; l < levels && b.len + per_level * 24 < size / 2; l++) {
        hi_puts(&b, "<n");
        for (unsigned i = 0; i < per_level; i++)
            hi_printf(&b, " xmlns:p%x=\"urn:p\"", n++);
        hi_puts(&b, ">");
    }
    levels = l;
    while (b.len + 48 + levels * 4 < size)
        hi_puts(&b, "<p0:x p0:y=\"\"/>");
    for (l = 0; l < levels; l++)
        hi_puts(&b, "</n>");
    hi_puts(&b, HI_TAIL);
    return hi_done(&b, len);
}

/* the most costly envelope we know that passes every limit: 126
 * namespaces in scope (the Envelope declares two more), then elements of
 * MC_XML_MAX_ATTRIBUTES - 1 attributes each, all in the namespace
 * declared farthest up, so that every name is looked up through them all */
static inline char *hi_env_worst_accepted(size_t size, size_t *len)
{
    hi_buf b = {0};
    hi_puts(&b, HI_HEAD);
    for (unsigned l = 0; l < 2; l++) {
        hi_puts(&b, "<n");
        for (unsigned i = 0; i < 63; i++)
            hi_printf(&b, " xmlns:%c%x=\"urn:%c%x\"", "pq"[l], i, "pq"[l], i);
        hi_puts(&b, ">");
    }
    while (b.len + 63 * 10 + 64 < size) {
        hi_puts(&b, "<p3e:e");
        for (unsigned i = 0; i < 63; i++)
            hi_printf(&b, " p3e:a%x=\"\"", i);
        hi_puts(&b, "/>");
    }
    hi_puts(&b, "</n></n>" HI_TAIL);
    return hi_done(&b, len);
}

/* one element whose name, or one attribute whose name, fills the envelope */
static inline char *hi_env_long_name(size_t size, int attribute, size_t *len)
{
    hi_buf b = {0};
    hi_puts(&b, HI_HEAD);
    hi_puts(&b, attribute ? "<d a" : "<d");
    while (b.len + 64 < size)
        hi_puts(&b, "x");
    hi_puts(&b, attribute ? "=\"\"/>" HI_TAIL : "/>" HI_TAIL);
    return hi_done(&b, len);
}

/* as many SOAP header blocks as fit (each is copied out on its own) */
static inline char *hi_env_header_blocks(size_t size, size_t *len)
{
    hi_buf b = {0};
    unsigned i = 0;
    hi_puts(&b, HI_ENV_OPEN "<s:Header><a:Action>urn:hostile</a:Action>");
    while (b.len + 64 < size)
        hi_printf(&b, "<h%x xmlns=\"urn:h\"/>", i++);
    hi_puts(&b, "</s:Header><s:Body/></s:Envelope>");
    return hi_done(&b, len);
}

/* text made of character references */
static inline char *hi_env_char_refs(size_t size, size_t *len)
{
    hi_buf b = {0};
    hi_puts(&b, HI_HEAD "<d xmlns=\"urn:d\">");
    while (b.len + 64 < size)
        hi_puts(&b, "&#65;&amp;");
    hi_puts(&b, "</d>" HI_TAIL);
    return hi_done(&b, len);
}

/* --- raw mails (stamped, so that they are read whole) --- */

#define HI_MAIL_HEAD                                                                       \
    "From: attacker@example.org\r\nTo: svc@example.org\r\nMessage-ID: <h@example.org>\r\n" \
    "Subject: [net.mail] c\r\nMIME-Version: 1.0\r\n"

/* a base64 body part of `env` */
static inline void hi_put_base64(hi_buf *b, const char *s, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t col = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)(unsigned char)s[i] << 16;
        char q[4];
        if (i + 1 < n)
            v |= (unsigned)(unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        q[0] = a[v >> 18 & 63];
        q[1] = a[v >> 12 & 63];
        q[2] = i + 1 < n ? a[v >> 6 & 63] : '=';
        q[3] = i + 2 < n ? a[v & 63] : '=';
        hi_put(b, q, 4);
        if ((col += 4) == 76) {
            hi_puts(b, "\r\n");
            col = 0;
        }
    }
    hi_puts(b, "\r\n");
}

/* a stamped mail carrying env as its base64 body */
static inline char *hi_mail_with_envelope(const char *env, size_t env_len, size_t *len)
{
    hi_buf b = {0};
    hi_puts(&b, HI_MAIL_HEAD "Content-Type: application/soap+xml; charset=\"utf-8\"\r\n"
                             "Content-Transfer-Encoding: base64\r\n\r\n");
    hi_put_base64(&b, env, env_len);
    return hi_done(&b, len);
}

/* a stamped mail carrying env as its base64 body, its header filled up
 * to `size` with recipients */
static inline char *hi_mail_with_envelope_and_recipients(const char *env, size_t env_len, size_t size,
                                                         size_t *len)
{
    hi_buf b = {0};
    unsigned i = 0;
    size_t body = (env_len + 2) / 3 * 4 + (env_len / 57 + 2) * 2 + 256;
    hi_puts(&b, "From: attacker@example.org\r\nMessage-ID: <h@example.org>\r\n"
                "Subject: [net.mail] c\r\nMIME-Version: 1.0\r\nTo: a@b.c");
    while (b.len + body + 16 < size)
        hi_printf(&b, ",\r\n r%x@b.c", i++);
    hi_puts(&b, "\r\nContent-Type: application/soap+xml; charset=\"utf-8\"\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n");
    hi_put_base64(&b, env, env_len);
    return hi_done(&b, len);
}

/* multiparts nested as deep as fit but at most max_depth, each boundary
 * `blen` characters long; `message` nests message/rfc822 parts instead.
 * Below the last level, as many lines as fit that look like every
 * boundary but the last 8 characters (each level compares them all). */
static inline char *hi_mail_nested(size_t size, size_t blen, int message, unsigned max_depth, size_t *len)
{
    hi_buf b = {0};
    char bnd[1024];
    unsigned depth = 0;
    if (blen < 10 || blen >= sizeof(bnd))
        abort();
    hi_puts(&b, HI_MAIL_HEAD);
    for (; depth < max_depth; depth++) {
        memset(bnd, 'b', blen - 8);
        snprintf(bnd + blen - 8, 9, "%08x", depth);
        if (b.len + 2 * blen + 96 + (message ? 0 : 128) > size)
            break;
        if (message)
            hi_puts(&b, "Content-Type: message/rfc822\r\n\r\nSubject: x\r\n");
        else
            hi_printf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n--%s\r\n", bnd, bnd);
    }
    hi_puts(&b, "Content-Type: text/plain\r\n\r\n");
    memset(bnd, 'b', blen - 8);
    memset(bnd + blen - 8, 'z', 8);
    bnd[blen] = '\0';
    while (b.len + blen + 64 < size)
        hi_printf(&b, "--%s\r\n", bnd);
    return hi_done(&b, len);
}

/* one multipart with as many (empty) parts as fit */
static inline char *hi_mail_many_parts(size_t size, size_t *len)
{
    hi_buf b = {0};
    hi_puts(&b, HI_MAIL_HEAD "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n");
    while (b.len + 80 < size)
        hi_puts(&b, "--b\r\n\r\nx\r\n");
    hi_puts(&b, "--b\r\nContent-Type: application/soap+xml\r\n\r\n<x/>\r\n--b--\r\n");
    return hi_done(&b, len);
}

/* a multipart whose body has as many lines as fit that start like its
 * (long) boundary but are not it */
static inline char *hi_mail_boundary_lookalikes(size_t size, size_t *len)
{
    hi_buf b = {0};
    char bnd[71];
    memset(bnd, 'b', 70);
    bnd[70] = '\0';
    hi_printf(&b, HI_MAIL_HEAD "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n--%s\r\n\r\n", bnd,
              bnd);
    while (b.len + 160 < size)
        hi_printf(&b, "--%.69sc\r\n", bnd);
    hi_printf(&b, "--%s--\r\n", bnd);
    return hi_done(&b, len);
}

/* as many header lines as fit: in the mail's header, or in its only part */
static inline char *hi_mail_header_lines(size_t size, int in_part, size_t *len)
{
    hi_buf b = {0};
    unsigned i = 0;
    hi_puts(&b, HI_MAIL_HEAD);
    if (in_part)
        hi_puts(&b, "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n");
    while (b.len + 96 < size)
        hi_printf(&b, "X-H%x: v\r\n", i++);
    hi_puts(&b, "Content-Type: application/soap+xml\r\n\r\n<x/>\r\n");
    if (in_part)
        hi_puts(&b, "--b--\r\n");
    return hi_done(&b, len);
}

/* one header field folded into as many continuation lines as fit */
static inline char *hi_mail_folded_header(size_t size, size_t *len)
{
    hi_buf b = {0};
    hi_puts(&b, HI_MAIL_HEAD "X-Folded: v");
    while (b.len + 96 < size)
        hi_puts(&b, "\r\n v");
    hi_puts(&b, "\r\nContent-Type: application/soap+xml\r\n\r\n<x/>\r\n");
    return hi_done(&b, len);
}

/* a Content-Type with as many parameters as fit */
static inline char *hi_mail_content_params(size_t size, size_t *len)
{
    hi_buf b = {0};
    unsigned i = 0;
    hi_puts(&b, HI_MAIL_HEAD "Content-Type: application/soap+xml");
    while (b.len + 96 < size)
        hi_printf(&b, ";\r\n p%x=v", i++);
    hi_puts(&b, "\r\n\r\n<x/>\r\n");
    return hi_done(&b, len);
}

/* a To: with as many addresses as fit */
static inline char *hi_mail_many_recipients(size_t size, size_t *len)
{
    hi_buf b = {0};
    unsigned i = 0;
    hi_puts(&b, "From: attacker@example.org\r\nMessage-ID: <h@example.org>\r\n"
                "Subject: [net.mail] c\r\nMIME-Version: 1.0\r\nTo: a@b.c");
    while (b.len + 96 < size)
        hi_printf(&b, ",\r\n r%x@b.c", i++);
    hi_puts(&b, "\r\nContent-Type: application/soap+xml\r\n\r\n<x/>\r\n");
    return hi_done(&b, len);
}

/* a Subject of as many RFC 2047 encoded words as fit */
static inline char *hi_subject_encoded_words(size_t size, size_t *len)
{
    hi_buf b = {0};
    hi_puts(&b, "=?utf-8?B?W25ldC5tYWlsXSBj?=");
    while (b.len + 16 < size)
        hi_puts(&b, " =?utf-8?Q?c?=");
    return hi_done(&b, len);
}

/* the same subject in a stamped mail's header */
static inline char *hi_mail_subject_words(size_t size, size_t *len)
{
    hi_buf b = {0};
    hi_puts(&b, "From: attacker@example.org\r\nTo: svc@example.org\r\nMIME-Version: 1.0\r\n"
                "Subject: =?utf-8?B?W25ldC5tYWlsXSBj?=");
    while (b.len + 96 < size)
        hi_puts(&b, "\r\n =?utf-8?Q?c?=");
    hi_puts(&b, "\r\nContent-Type: application/soap+xml\r\n\r\n<x/>\r\n");
    return hi_done(&b, len);
}
#endif
