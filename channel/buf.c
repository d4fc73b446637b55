/* buf.c - a growable byte buffer for building text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

void mc__buf_init(mc__buf *b) { memset(b, 0, sizeof(*b)); }

void mc__buf_free(mc__buf *b)
{
    free(b->data);
    mc__buf_init(b);
}

bool mc__buf_reserve(mc__buf *b, size_t extra)
{
    size_t need, cap;
    char *p;
    if (b->failed)
        return false;
    if (extra > SIZE_MAX / 2 - b->len)
        goto fail;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    p = realloc(b->data, cap);
    if (!p)
        goto fail;
    b->data = p;
    b->cap = cap;
    b->data[b->len] = '\0'; /* always a string, even before the first byte */
    return true;
fail:
    b->failed = true;
    return false;
}

void mc__buf_put(mc__buf *b, const char *s, size_t n)
{
    if (!mc__buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void mc__buf_puts(mc__buf *b, const char *s) { mc__buf_put(b, s, strlen(s)); }

void mc__buf_printf(mc__buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !mc__buf_reserve(b, (size_t)n)) {
        b->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void mc__buf_put_xml_escaped(mc__buf *b, const char *s, size_t n)
{
    size_t i, start = 0;
    for (i = 0; i < n; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '&':
            rep = "&amp;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\r':
            rep = "&#13;";
            break;
        default:
            break;
        }
        if (rep) {
            mc__buf_put(b, s + start, i - start);
            mc__buf_puts(b, rep);
            start = i + 1;
        }
    }
    mc__buf_put(b, s + start, n - start);
}

char *mc__buf_detach(mc__buf *b, size_t *len)
{
    char *p;
    if (b->failed) {
        mc__buf_free(b);
        return NULL;
    }
    if (!b->data && !mc__buf_reserve(b, 0))
        return NULL;
    p = b->data;
    if (len)
        *len = b->len;
    mc__buf_init(b);
    return p;
}
