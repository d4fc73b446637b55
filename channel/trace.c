/* trace.c - the wire trace (mailchan/common.h): the process-wide sink, and
 * the line assembler the transports feed with what they send and receive.
 * Each transport redacts its own protocol's secrets (it knows the
 * dialogue); this file cuts lines, caps them and makes them printable. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"
#include "trace.h"

static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t trace_idle = PTHREAD_COND_INITIALIZER;
static mc_trace_cb trace_cb;
static void *trace_ud;
static unsigned trace_busy;
static _Thread_local bool in_trace_sink;
static atomic_bool trace_enabled;

void mc_trace_set_callback(mc_trace_cb cb, void *user_data)
{
    pthread_mutex_lock(&trace_lock);
    trace_cb = cb;
    trace_ud = user_data;
    atomic_store(&trace_enabled, cb != NULL);
    while (trace_busy && !in_trace_sink)
        pthread_cond_wait(&trace_idle, &trace_lock);
    pthread_mutex_unlock(&trace_lock);
}

void mc_trace_stderr(mc_trace_direction direction, const char *protocol, const char *line, void *user_data)
{
    (void)protocol, (void)user_data;
    fprintf(stderr, "%s %s\n",
            direction == MC_TRACE_SENT       ? ">"
            : direction == MC_TRACE_RECEIVED ? "<"
                                             : "*",
            line);
}

bool mc__trace_on(void) { return atomic_load(&trace_enabled) && !in_trace_sink; }

/* printable ASCII and tab pass, as does valid UTF-8 of U+00A0 and above;
 * everything else (C0 and C1 controls, ESC, broken UTF-8) becomes '?' */
static size_t sanitize(char *dst, const char *src, size_t n)
{
    size_t i = 0, o = 0;
    while (i < n) {
        unsigned char c = (unsigned char)src[i];
        size_t k = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 1;
        if (c < 0x80) {
            dst[o++] = (c >= 0x20 && c < 0x7f) || c == '\t' ? (char)c : '?';
            i++;
        } else if (k > 1 && i + k <= n && mc__utf8_valid(src + i, k) &&
                   !(c == 0xc2 && (unsigned char)src[i + 1] < 0xa0)) {
            memcpy(dst + o, src + i, k);
            o += k;
            i += k;
        } else {
            dst[o++] = '?';
            i++;
        }
    }
    dst[o] = 0;
    return o;
}

static void emit(mc_trace_direction dir, const char *protocol, const char *line, size_t len, size_t over)
{
    char out[MC_TRACE_LINE_MAX + 64];
    mc_trace_cb cb;
    void *ud;
    size_t o;
    if (!mc__trace_on())
        return;
    if (len > MC_TRACE_LINE_MAX) {
        over += len - MC_TRACE_LINE_MAX;
        len = MC_TRACE_LINE_MAX;
    }
    o = sanitize(out, line, len);
    if (over)
        snprintf(out + o, sizeof(out) - o, " [... %zu more octets]", over);
    pthread_mutex_lock(&trace_lock);
    cb = trace_cb;
    ud = trace_ud;
    if (cb)
        trace_busy++;
    pthread_mutex_unlock(&trace_lock);
    if (!cb)
        return;
    in_trace_sink = true;
    cb(dir, protocol, out, ud);
    in_trace_sink = false;
    pthread_mutex_lock(&trace_lock);
    if (!--trace_busy)
        pthread_cond_broadcast(&trace_idle);
    pthread_mutex_unlock(&trace_lock);
}

void mc__tracer_init(mc__tracer *t, const char *protocol, mc__trace_redact redact, void *state)
{
    memset(t, 0, sizeof(*t));
    t->protocol = protocol;
    t->redact = redact;
    t->state = state;
}

void mc__trace_flush(mc__tracer *t, mc_trace_direction dir)
{
    int d = dir == MC_TRACE_SENT ? 0 : 1;
    size_t len = t->len[d];
    if (!len && !t->over[d])
        return;
    while (len && t->line[d][len - 1] == '\r')
        len--;
    t->line[d][len] = 0;
    if (t->redact && t->redact(t->state, dir, t->line[d], &len))
        t->over[d] = 0; /* a redacted line does not say how long its secret was */
    emit(dir, t->protocol, t->line[d], len, t->over[d]);
    t->len[d] = t->over[d] = 0;
}

void mc__trace_data(mc__tracer *t, mc_trace_direction dir, const char *data, size_t n)
{
    int d = dir == MC_TRACE_SENT ? 0 : 1;
    if (!mc__trace_on())
        return;
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n') {
            mc__trace_flush(t, dir);
            continue;
        }
        if (t->len[d] < MC_TRACE_LINE_MAX)
            t->line[d][t->len[d]++] = data[i];
        else
            t->over[d]++;
    }
}

void mc__trace_note(const char *protocol, const char *fmt, ...)
{
    char line[MC_TRACE_LINE_MAX + 1];
    va_list ap;
    if (!mc__trace_on())
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    emit(MC_TRACE_INFO, protocol, line, strlen(line), 0);
}

void mc__trace_redact_from(char *line, size_t *len, size_t at)
{
    static const char mark[] = "[redacted]";
    if (at > *len)
        at = *len;
    if (at + sizeof(mark) > MC__TRACE_BUF)
        at = MC__TRACE_BUF - sizeof(mark);
    memcpy(line + at, mark, sizeof(mark));
    *len = at + sizeof(mark) - 1;
}

/* the end of the first @p words space-separated words of @p line (and the
 * spaces after them), or the line's length when it has fewer */
size_t mc__trace_skip_words(const char *line, size_t len, unsigned words)
{
    size_t i = 0;
    while (words--) {
        while (i < len && line[i] != ' ')
            i++;
        while (i < len && line[i] == ' ')
            i++;
    }
    return i;
}
