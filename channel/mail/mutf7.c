/* mutf7.c - IMAP's modified UTF-7 for mailbox names (RFC 3501 5.1.3):
 * printable US-ASCII stands for itself ("&" is "&-"), everything else is
 * UTF-16 in base64 with "," for "/", between "&" and "-". libetpan has no
 * such helper and no Debian library offers one.
 *
 * Both directions are strict and canonical: a name that decodes also encodes
 * back to the very same octets, and anything else (a bad base64 character,
 * leftover bits, a lone surrogate, printable ASCII or an empty run inside
 * "&...-", two runs back to back, invalid UTF-8 on the way in) is refused
 * with MC_EINVAL. Names from a server are untrusted: the work is linear and
 * bounded by MC__MUTF7_MAX. */
#include <stdlib.h>
#include <string.h>
#include "imapfolders.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64_value(unsigned char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

static bool direct(uint32_t c) { return c >= 0x20 && c <= 0x7e; }

/* One code point of UTF-8 at *p (n octets left); 0 for invalid (overlong,
 * surrogate, beyond U+10FFFF, truncated). */
static uint32_t utf8_next(const unsigned char **p, size_t n)
{
    const unsigned char *s = *p;
    uint32_t c, min;
    size_t len;
    if (s[0] < 0x80) {
        *p += 1;
        return s[0];
    }
    if ((s[0] & 0xe0) == 0xc0)
        len = 2, c = s[0] & 0x1f, min = 0x80;
    else if ((s[0] & 0xf0) == 0xe0)
        len = 3, c = s[0] & 0x0f, min = 0x800;
    else if ((s[0] & 0xf8) == 0xf0)
        len = 4, c = s[0] & 0x07, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *p += len;
    return c;
}

static void utf8_put(mc__buf *b, uint32_t c)
{
    char o[4];
    size_t n;
    if (c < 0x80)
        o[0] = (char)c, n = 1;
    else if (c < 0x800)
        o[0] = (char)(0xc0 | (c >> 6)), o[1] = (char)(0x80 | (c & 0x3f)), n = 2;
    else if (c < 0x10000)
        o[0] = (char)(0xe0 | (c >> 12)), o[1] = (char)(0x80 | ((c >> 6) & 0x3f)),
        o[2] = (char)(0x80 | (c & 0x3f)), n = 3;
    else
        o[0] = (char)(0xf0 | (c >> 18)), o[1] = (char)(0x80 | ((c >> 12) & 0x3f)),
        o[2] = (char)(0x80 | ((c >> 6) & 0x3f)), o[3] = (char)(0x80 | (c & 0x3f)), n = 4;
    mc__buf_put(b, o, n);
}

/* base64 of 16-bit units, bits carried between calls */
typedef struct {
    uint32_t bits;
    unsigned nbits;
} b64_state;

static void put_unit(mc__buf *b, b64_state *st, uint32_t unit)
{
    st->bits = (st->bits << 16) | unit;
    st->nbits += 16;
    while (st->nbits >= 6) {
        st->nbits -= 6;
        mc__buf_put(b, &b64[(st->bits >> st->nbits) & 0x3f], 1);
    }
    st->bits &= (1u << st->nbits) - 1;
}

static void end_run(mc__buf *b, b64_state *st)
{
    if (st->nbits)
        mc__buf_put(b, &b64[(st->bits << (6 - st->nbits)) & 0x3f], 1);
    mc__buf_put(b, "-", 1);
    st->bits = st->nbits = 0;
}

static int finish(char **out, mc__buf *b)
{
    char *s = NULL;
    if (!b->failed)
        s = b->len ? mc__buf_detach(b, NULL) : mc__strdup("");
    mc__buf_free(b); /* what detach left, or the empty buffer */
    if (!s)
        return mc__error_set(MC_ENOMEM, "out of memory");
    *out = s;
    return 0;
}

int mc__mutf7_encode(char **out, const char *utf8)
{
    const unsigned char *p = (const unsigned char *)utf8;
    size_t n = strlen(utf8);
    const unsigned char *end = p + n;
    b64_state st = {0, 0};
    bool in_run = false;
    mc__buf b;
    /* the encoded length is what is bounded (below); this only stops work
     * on input that could never fit (a wire name of MC__MUTF7_MAX octets
     * decodes to at most 9/8 of that in UTF-8) */
    if (n > 2 * MC__MUTF7_MAX)
        return mc__error_set(MC_EINVAL, "a folder name of more than %d octets", 2 * MC__MUTF7_MAX);
    mc__buf_init(&b);
    while (p < end) {
        uint32_t c = utf8_next(&p, (size_t)(end - p));
        if (!c) {
            mc__buf_free(&b);
            return mc__error_set(MC_EINVAL, "a folder name that is not valid UTF-8");
        }
        if (direct(c)) {
            if (in_run)
                end_run(&b, &st);
            in_run = false;
            mc__buf_put(&b, c == '&' ? "&-" : (const char *)&p[-1], c == '&' ? 2 : 1);
            continue;
        }
        if (!in_run)
            mc__buf_put(&b, "&", 1);
        in_run = true;
        if (c >= 0x10000) {
            put_unit(&b, &st, 0xd800 + ((c - 0x10000) >> 10));
            put_unit(&b, &st, 0xdc00 + ((c - 0x10000) & 0x3ff));
        } else {
            put_unit(&b, &st, c);
        }
    }
    if (in_run)
        end_run(&b, &st);
    if (b.len > MC__MUTF7_MAX) {
        /* what the decoder would refuse is not sent (found by fuzz_mutf7) */
        mc__buf_free(&b);
        return mc__error_set(MC_EINVAL, "a folder name of more than %d octets once encoded", MC__MUTF7_MAX);
    }
    return finish(out, &b);
}

/* Decodes one run of base64 (between "&" and "-", exclusive) into UTF-8. */
static bool decode_run(mc__buf *b, const char *s, size_t n)
{
    uint32_t bits = 0, high = 0;
    unsigned nbits = 0;
    size_t units = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0)
            return false;
        bits = (bits << 6) | (uint32_t)v;
        nbits += 6;
        if (nbits < 16)
            continue;
        nbits -= 16;
        uint32_t u = (bits >> nbits) & 0xffff;
        bits &= (1u << nbits) - 1;
        units++;
        if (high) {
            if (u < 0xdc00 || u > 0xdfff)
                return false;
            utf8_put(b, 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00));
            high = 0;
        } else if (u >= 0xd800 && u <= 0xdbff) {
            high = u;
        } else if ((u >= 0xdc00 && u <= 0xdfff) || direct(u) || u == 0) {
            /* a lone low surrogate; printable ASCII must stand for itself; NUL
             * cannot be in a name (it would end the C string: found by fuzz_mutf7) */
            return false;
        } else {
            utf8_put(b, u);
        }
    }
    /* what is left must be fewer than 6 zero bits, and every unit whole */
    return units && !high && nbits < 6 && bits == 0;
}

int mc__mutf7_decode(char **out, const char *mutf7)
{
    size_t n = strlen(mutf7);
    bool after_run = false;
    mc__buf b;
    if (n > MC__MUTF7_MAX)
        return mc__error_set(MC_EINVAL, "a folder name of more than %d octets", MC__MUTF7_MAX);
    mc__buf_init(&b);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)mutf7[i];
        const char *dash;
        if (!direct(c))
            goto bad;
        if (c != '&') {
            mc__buf_put(&b, mutf7 + i, 1);
            i++;
            after_run = false;
            continue;
        }
        if (!(dash = strchr(mutf7 + i + 1, '-')))
            goto bad;
        if (dash == mutf7 + i + 1) {
            mc__buf_put(&b, "&", 1);
            after_run = false;
        } else {
            /* two runs back to back would have been one */
            if (after_run || !decode_run(&b, mutf7 + i + 1, (size_t)(dash - mutf7 - i - 1)))
                goto bad;
            after_run = true;
        }
        i = (size_t)(dash - mutf7) + 1;
    }
    return finish(out, &b);
bad:
    mc__buf_free(&b);
    return mc__error_set(MC_EINVAL, "a folder name that is not modified UTF-7");
}
