/* subject.c - the "[net.mail] <channel>;key=value" subject stamp, with
 * RFC 2047 encoded words decoded by libetpan. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <libetpan/libetpan.h>
#include <openssl/evp.h>
#include "internal.h"

#define MAX_SUBJECT 4096

/* Unfolds a header value (drops CRLF before white space) into b. */
static void unfold(mc__buf *b, const char *raw, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (raw[i] == '\r' || raw[i] == '\n')
            continue;
        mc__buf_put(b, raw + i, 1);
    }
}

/* Every "=?" must open a well-formed encoded word: =?charset?B|Q?text?=
 * with text in the encoding's alphabet. libetpan passes broken ones
 * through as text, which would hide a mangled subject. */
static bool encoded_words_ok(const char *s)
{
    for (const char *p = strstr(s, "=?"); p; p = strstr(p, "=?")) {
        const char *q = p + 2, *cs = q;
        char enc;
        while (*q && *q != '?' && *q != ' ')
            q++;
        if (*q != '?' || q == cs)
            return false;
        enc = q[1];
        if (!strchr("BbQq", enc) || !enc || q[2] != '?')
            return false;
        for (q += 3; *q && !(q[0] == '?' && q[1] == '='); q++) {
            bool ok = (enc == 'B' || enc == 'b')
                          ? (isalnum((unsigned char)*q) || *q == '+' || *q == '/' || *q == '=')
                          : (*q > 0x20 && *q < 0x7f && *q != '?');
            if (!ok)
                return false;
        }
        if (!*q)
            return false;
        p = q + 2;
    }
    return true;
}

int mc__subject_decode(const char *raw, size_t len, char **utf8)
{
    mc__buf b;
    char *decoded = NULL;
    size_t idx = 0;
    int r;
    if (len > MAX_SUBJECT)
        return mc__error_set(MC_ETOOBIG, "subject longer than %d octets", MAX_SUBJECT);
    mc__buf_init(&b);
    unfold(&b, raw, len);
    if (!mc__buf_reserve(&b, 0))
        return mc__error_set(MC_ENOMEM, "out of memory");
    if (!strstr(b.data, "=?")) {
        *utf8 = mc__buf_detach(&b, NULL);
        return *utf8 ? 0 : mc__error_set(MC_ENOMEM, "out of memory");
    }
    if (!encoded_words_ok(b.data)) {
        mc__buf_free(&b);
        return mc__error_set(MC_EPROTO, "the subject has a broken RFC 2047 encoded word");
    }
    r = mailmime_encoded_phrase_parse("utf-8", b.data, b.len, &idx, "utf-8", &decoded);
    mc__buf_free(&b);
    if (r == MAILIMF_ERROR_MEMORY)
        return mc__error_set(MC_ENOMEM, "out of memory");
    if (r != MAILIMF_NO_ERROR || !decoded)
        return mc__error_set(MC_EPROTO, "the subject's encoded words cannot be decoded");
    *utf8 = mc__strdup(decoded);
    free(decoded);
    return *utf8 ? 0 : mc__error_set(MC_ENOMEM, "out of memory");
}

static bool is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

static int parse_attributes(char *p, int64_t *expiry)
{
    bool have_ttl = false;
    while (p) {
        char *next = strchr(p, ';'), *eq;
        if (next)
            *next++ = '\0';
        eq = strchr(p, '=');
        if (!eq || eq == p)
            return mc__error_set(MC_EPROTO, "subject attribute \"%.40s\" is not key=value", p);
        for (char *k = p; k < eq; k++)
            if (!is_key_char(*k))
                return mc__error_set(MC_EPROTO, "subject attribute name has a bad character");
        for (char *v = eq + 1; *v; v++)
            if ((unsigned char)*v <= 0x20 || *v == 0x7f || *v == '=')
                return mc__error_set(MC_EPROTO, "subject attribute value has a bad character");
        if (!eq[1])
            return mc__error_set(MC_EPROTO, "subject attribute \"%.40s\" has an empty value", p);
        if (eq - p == 3 && !strncmp(p, "ttl", 3)) {
            if (have_ttl)
                return mc__error_set(MC_EPROTO, "subject has two ttl attributes");
            if (mc__parse_rfc3339(eq + 1, strlen(eq + 1), expiry))
                return mc__error_set(MC_EPROTO, "subject ttl \"%.40s\" is not an RFC 3339 instant", eq + 1);
            have_ttl = true;
        }
        p = next; /* unknown attributes are ignored */
    }
    return 0;
}

int mc_subject_parse(char **channel, int64_t *expiry, const char *raw, size_t len)
{
    char *subject = NULL, *stamp, *chan, *attrs;
    size_t n;
    int64_t exp = 0;
    int rc;
    if (!raw)
        return mc__error_set(MC_EINVAL, "NULL subject");
    if ((rc = mc__subject_decode(raw, len, &subject))) {
        /* an undecodable subject without the stamp in its raw form is not ours */
        if (rc != MC_ENOMEM && !memmem(raw, len, MC_SUBJECT_STAMP, strlen(MC_SUBJECT_STAMP)))
            rc = mc__error_set(MC_ENOTFOUND, "no [net.mail] stamp in the subject");
        return rc;
    }
    if (!(stamp = strstr(subject, MC_SUBJECT_STAMP))) {
        rc = mc__error_set(MC_ENOTFOUND, "no [net.mail] stamp in the subject");
        goto done;
    }
    n = strlen(subject);
    while (n && (subject[n - 1] == ' ' || subject[n - 1] == '\t'))
        subject[--n] = '\0';
    chan = stamp + strlen(MC_SUBJECT_STAMP);
    if (*chan != ' ') {
        rc = mc__error_set(MC_EPROTO, "the [net.mail] stamp is not followed by one space");
        goto done;
    }
    chan++;
    if ((attrs = strchr(chan, ';')))
        *attrs++ = '\0';
    if (mc_channel_name_validate(chan)) {
        rc = mc__error_set(MC_EPROTO, "malformed channel name in subject: %s", mc_error_last());
        goto done;
    }
    if (attrs && (rc = parse_attributes(attrs, &exp)))
        goto done;
    if (channel && !(*channel = mc__strdup(chan))) {
        rc = mc__error_set(MC_ENOMEM, "out of memory");
        goto done;
    }
    if (expiry)
        *expiry = exp;
done:
    free(subject);
    return rc;
}

static bool plain_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

/* RFC 2047 B-encoding in words of at most 75 octets, never splitting a
 * UTF-8 sequence, separated by spaces the header writer may fold at. */
void mc__put_encoded_words(mc__buf *b, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t take = n - i > 45 ? 45 : n - i;
        unsigned char enc[64];
        while (i + take < n && take > 0 && ((unsigned char)s[i + take] & 0xc0) == 0x80)
            take--; /* back off to a character boundary */
        EVP_EncodeBlock(enc, (const unsigned char *)s + i, (int)take);
        mc__buf_printf(b, "%s=?utf-8?B?%s?=", i ? " " : "", (const char *)enc);
        i += take;
    }
}

int mc_subject_format(char **out, const char *channel, int64_t expiry)
{
    mc__buf b;
    int rc;
    if (!out)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = mc_channel_name_validate(channel)))
        return rc;
    mc__buf_init(&b);
    mc__buf_printf(&b, MC_SUBJECT_STAMP " %s", channel);
    if (expiry > 0) {
        char when[32];
        mc__format_rfc3339(expiry, when);
        mc__buf_printf(&b, ";ttl=%s", when);
    }
    if (!b.failed && !plain_ascii(b.data)) {
        mc__buf enc;
        mc__buf_init(&enc);
        mc__put_encoded_words(&enc, b.data, b.len);
        mc__buf_free(&b);
        b = enc;
    }
    if (!(*out = mc__buf_detach(&b, NULL)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    return 0;
}
