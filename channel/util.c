/* util.c - strings, clocks, UUIDs, RFC 3339 instants, UTF-8 checks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/rand.h>
#include "internal.h"

char *mc__strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *mc__strdup(const char *s) { return s ? mc__strndup(s, strlen(s)) : NULL; }

int mc__set_str(char **dst, const char *src)
{
    char *copy = NULL;
    if (src && !(copy = mc__strdup(src)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    free(*dst);
    *dst = copy;
    return 0;
}

int mc__uuid(char out[37])
{
    unsigned char r[16];
    if (RAND_bytes(r, sizeof(r)) != 1)
        return mc__error_set(MC_EIO, "random number generator failed");
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
             r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
    return 0;
}

int64_t mc__mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mc__wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mc__deadline(int timeout_ms) { return timeout_ms < 0 ? -1 : mc__mono_ms() + timeout_ms; }

void mc__deadline_timespec(int64_t deadline_ms, struct timespec *ts)
{
    ts->tv_sec = (time_t)(deadline_ms / 1000);
    ts->tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
}

void mc__format_rfc3339(int64_t unix_seconds, char out[32])
{
    struct tm tm;
    time_t t = (time_t)unix_seconds;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int digits(const char *s, size_t n, size_t at, size_t count, int *out)
{
    int v = 0;
    size_t i;
    if (at + count > n)
        return -1;
    for (i = 0; i < count; i++) {
        if (s[at + i] < '0' || s[at + i] > '9')
            return -1;
        v = v * 10 + (s[at + i] - '0');
    }
    *out = v;
    return 0;
}

/* RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm) */
int mc__parse_rfc3339(const char *s, size_t n, int64_t *out)
{
    struct tm tm;
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    size_t i = 19;
    int64_t t;
    if (n < 20 || digits(s, n, 0, 4, &y) || s[4] != '-' || digits(s, n, 5, 2, &mo) || s[7] != '-' ||
        digits(s, n, 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || digits(s, n, 11, 2, &h) || s[13] != ':' ||
        digits(s, n, 14, 2, &mi) || s[16] != ':' || digits(s, n, 17, 2, &sec))
        return MC_EPROTO;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
        return MC_EPROTO;
    if (s[i] == '.') {
        i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return MC_EPROTO;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
        sign = 0;
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && !digits(s, n, i + 1, 2, &oh) &&
               s[i + 3] == ':' && !digits(s, n, i + 4, 2, &om) && oh < 24 && om < 60) {
        sign = s[i] == '+' ? 1 : -1;
    } else {
        return MC_EPROTO;
    }
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = (int64_t)timegm(&tm);
    *out = t - sign * (oh * 3600 + om * 60);
    return 0;
}

bool mc__utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + k >= n)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3f);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        i += k + 1;
    }
    return true;
}

size_t mc__printable(char *dst, size_t cap, const char *src, size_t n)
{
    size_t i = 0;
    if (!cap)
        return 0;
    for (; i < n && i + 1 < cap; i++) /* printable ASCII only: no control bytes in our errors */
        dst[i] = ((unsigned char)src[i] >= 0x20 && (unsigned char)src[i] < 0x7f) ? src[i] : '?';
    dst[i] = 0;
    return i;
}

void mc__secret_free(char *secret)
{
    if (!secret)
        return;
    /* the compiler may not drop a wipe through a volatile pointer */
    for (volatile char *p = secret; *p; p++)
        *p = 0;
    free(secret);
}
