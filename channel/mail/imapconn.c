/* imapconn.c - the IMAP connection below libetpan (see imapconn.h): socket,
 * OpenSSL TLS, deadlines, and the guard that bounds server input. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <strings.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "imapconn.h"
#include "mailnet.h"
#include "trace.h"

struct mc__imap_conn {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    char *host;
    unsigned port;
    int timeout_ms, tls_min_version;
    const _Atomic int64_t *deadline;
    mc__io_cause cause;
    char cause_text[200];
    mc__imap_guard guard;
    mc__tracer trace;    /* the wire trace (mc_trace_set_callback) */
    char secret_tag[32]; /* the tag of a LOGIN or AUTHENTICATE in progress */
    bool trace_secret;   /* until its tagged reply, what we send is secret */
};

/* ---- the guard ---- */

mc__imap_limits mc__imap_default_limits = MC__IMAP_LIMITS_INIT;

void mc__imap_guard_init(mc__imap_guard *g, const mc__imap_limits *lim)
{
    memset(g, 0, sizeof(*g));
    g->lim = *lim;
}

void mc__imap_guard_begin(mc__imap_guard *g, const mc__imap_limits *lim)
{
    g->lim = *lim;
    g->reply_bytes = 0;
    g->responses = 0;
}

static bool trip(mc__imap_guard *g, const char *what, size_t limit)
{
    snprintf(g->why, sizeof(g->why), "the server sent %s over the limit of %zu", what, limit);
    return false;
}

/* a reply that breaks the protocol in a way libetpan does not survive */
static bool violation(mc__imap_guard *g, const char *what)
{
    snprintf(g->why, sizeof(g->why), "the server sent %s", what);
    return false;
}

static bool word_is(const char *p, size_t n, const char *w)
{
    size_t l = strlen(w);
    return n >= l && !strncasecmp(p, w, l) && (n == l || p[l] == '\r' || p[l] == ' ');
}

/* "* <n> EXISTS" raises the count (new mail), "* <n> EXPUNGE" lowers it. */
static void untagged_count(mc__imap_guard *g)
{
    const char *p = g->head + 2, *end = g->head + g->head_len;
    uint64_t n = 0;
    if (g->head_len < 4 || g->head[0] != '*' || g->head[1] != ' ' || *p < '0' || *p > '9')
        return;
    while (p < end && *p >= '0' && *p <= '9' && n <= UINT32_MAX)
        n = n * 10 + (uint64_t)(*p++ - '0');
    if (p >= end || *p != ' ' || n > UINT32_MAX)
        return;
    p++;
    if (word_is(p, (size_t)(end - p), "EXISTS")) {
        if (g->exists_known && n > g->exists)
            g->arrivals++;
        g->exists = (uint32_t)n;
        g->exists_known = true;
    } else if (word_is(p, (size_t)(end - p), "EXPUNGE")) {
        g->expunges++;
        if (g->exists)
            g->exists--;
    }
}

void mc__imap_guard_expect_capability(mc__imap_guard *g)
{
    g->want_capability = true;
    g->seen_capability = false;
}

/* The status word after the tag of a tagged line ("OK", "NO", "BAD"). */
static bool tagged_ok(const mc__imap_guard *g)
{
    const char *sp = memchr(g->head, ' ', g->head_len);
    return sp && word_is(sp + 1, g->head_len - (size_t)(sp + 1 - g->head), "OK");
}

/* A line ended outside a literal: either a literal follows, or one response is complete. */
static bool end_line(mc__imap_guard *g)
{
    if (g->lit == 4) {
        g->literal_left = (size_t)g->lit_n;
        g->lit = 0;
        g->line_len = 0;
        g->continued = true; /* the response goes on after the literal */
        return true;
    }
    if (g->head_len && g->head[0] != '*' && g->head[0] != '+') {
        /* tagged: the command's reply is complete */
        if (g->want_capability && !g->seen_capability && tagged_ok(g))
            return violation(g, "an OK to CAPABILITY without the capabilities");
        g->want_capability = false;
        g->reply_bytes = 0;
        g->responses = 0;
    } else {
        if (g->head_len > 2 && word_is(g->head + 2, g->head_len - 2, "CAPABILITY"))
            g->seen_capability = true;
        untagged_count(g);
        if (++g->responses > g->lim.max_responses)
            return trip(g, "more responses in one reply", g->lim.max_responses);
    }
    g->line_len = g->head_len = 0;
    g->depth = 0;
    g->in_quote = g->escape = g->continued = false;
    g->lit = 0;
    return true;
}

static bool scan_byte(mc__imap_guard *g, char c)
{
    if (c == '\n')
        return end_line(g);
    if (++g->line_len > g->lim.max_line)
        return trip(g, "a line", g->lim.max_line);
    if (!g->continued && g->head_len < sizeof(g->head))
        g->head[g->head_len++] = c;
    if (g->in_quote) {
        if (g->escape)
            g->escape = false;
        else if (c == '\\')
            g->escape = true;
        else if (c == '"')
            g->in_quote = false;
        return true;
    }
    switch (c) {
    case '"':
        g->in_quote = true;
        g->lit = 0;
        break;
    case '(':
        g->lit = 0;
        if (++g->depth > g->lim.max_depth)
            return trip(g, "parentheses nested deeper", g->lim.max_depth);
        break;
    case ')':
        g->lit = 0;
        if (g->depth)
            g->depth--;
        break;
    case '{':
        g->lit = 1;
        g->lit_n = 0;
        break;
    case '+':
        g->lit = g->lit == 2 ? 3 : 0;
        break;
    case '}':
        g->lit = g->lit == 2 || g->lit == 3 ? 4 : 0;
        break;
    case '\r':
        if (g->lit != 4)
            g->lit = 0;
        break;
    default:
        if (c >= '0' && c <= '9' && (g->lit == 1 || g->lit == 2)) {
            g->lit = 2;
            g->lit_n = g->lit_n * 10 + (uint64_t)(c - '0');
            if (g->lit_n > g->lim.max_literal)
                return trip(g, "a literal", g->lim.max_literal);
        } else {
            g->lit = 0;
        }
    }
    return true;
}

bool mc__imap_guard_scan(mc__imap_guard *g, const char *p, size_t n)
{
    if (g->why[0])
        return false;
    for (size_t i = 0; i < n;) {
        if (g->literal_left) {
            /* literal octets are data: counted, never scanned */
            size_t k = n - i < g->literal_left ? n - i : g->literal_left;
            g->literal_left -= k;
            g->reply_bytes += k;
            i += k;
        } else {
            g->reply_bytes++;
            if (!scan_byte(g, p[i++]))
                return false;
        }
        if (g->reply_bytes > g->lim.max_reply)
            return trip(g, "a reply", g->lim.max_reply);
    }
    return true;
}

/* ---- waiting with a deadline ---- */

static void set_cause(mc__imap_conn *c, mc__io_cause cause, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_cause(mc__imap_conn *c, mc__io_cause cause, const char *fmt, ...)
{
    va_list ap;
    c->cause = cause;
    va_start(ap, fmt);
    vsnprintf(c->cause_text, sizeof(c->cause_text), fmt, ap);
    va_end(ap);
}

/* the earlier of an operation's deadline and the caller's */
static int64_t cap_deadline(const _Atomic int64_t *caller, int64_t op)
{
    int64_t d = caller ? atomic_load(caller) : 0;
    return d > 0 && d < op ? d : op;
}

/* Waits for the socket; false (cause set) on timeout (its own or the caller's deadline) or error. */
static bool wait_fd(mc__imap_conn *c, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {c->fd, events, 0};
        int64_t left = cap_deadline(c->deadline, deadline) - mc__mono_ms();
        int r;
        if (left <= 0) {
            set_cause(c, MC__IO_TIMEOUT, "no answer within %d ms", c->timeout_ms);
            return false;
        }
        r = poll(&p, 1, left < 200 ? (int)left : 200); /* slices: a caller's new deadline is seen promptly */
        if (r > 0)
            return true;
        if (r < 0 && errno != EINTR) {
            set_cause(c, MC__IO_RESET, "poll: %s", strerror(errno));
            return false;
        }
    }
}

static void tls_cause(mc__imap_conn *c, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[120] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    set_cause(c, MC__IO_TLS, "%s: %s", what, e ? buf : "the connection broke");
}

/* One read or write of the TLS layer or the socket, within timeout_ms. */
static ssize_t io(mc__imap_conn *c, void *buf, size_t n, bool writing)
{
    int64_t deadline = mc__mono_ms() + c->timeout_ms;
    for (;;) {
        short want = writing ? POLLOUT : POLLIN;
        ssize_t r;
        if (c->ssl) {
            int k = (int)(n > INT32_MAX ? INT32_MAX : n), e;
            ERR_clear_error();
            r = writing ? SSL_write(c->ssl, buf, k) : SSL_read(c->ssl, buf, k);
            if (r > 0)
                return r;
            e = SSL_get_error(c->ssl, (int)r);
            if (e == SSL_ERROR_WANT_READ)
                want = POLLIN;
            else if (e == SSL_ERROR_WANT_WRITE)
                want = POLLOUT;
            else if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && !ERR_peek_error() && !errno)) {
                set_cause(c, MC__IO_CLOSED, "the server closed the connection");
                return -1;
            } else if (e == SSL_ERROR_SYSCALL && !ERR_peek_error()) {
                set_cause(c, MC__IO_RESET, "%s", strerror(errno));
                return -1;
            } else {
                tls_cause(c, "TLS");
                return -1;
            }
        } else {
            r = writing ? send(c->fd, buf, n, MSG_NOSIGNAL) : recv(c->fd, buf, n, 0);
            if (r > 0)
                return r;
            if (r == 0 && !writing) {
                set_cause(c, MC__IO_CLOSED, "the server closed the connection");
                return -1;
            }
            if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                set_cause(c, MC__IO_RESET, "%s", strerror(errno));
                return -1;
            }
        }
        if (!wait_fd(c, want, deadline))
            return -1;
    }
}

/* ---- the wire trace ---- */

/* The trace's redaction: "tag LOGIN ..." keeps tag and command, "tag
 * AUTHENTICATE MECH ..." its mechanism; every line we send after them (a
 * literal, a SASL response) until the server's tagged reply is a secret.
 * Done here, on the bytes themselves, rather than with libetpan's logger,
 * which marks only some of them private. */
static bool imap_redact(void *state, mc_trace_direction dir, char *line, size_t *len)
{
    mc__imap_conn *c = state;
    size_t tag_len = 0, cmd, at;
    if (dir == MC_TRACE_RECEIVED) {
        size_t n = strlen(c->secret_tag);
        if (c->trace_secret && *len > n && !strncmp(line, c->secret_tag, n) && line[n] == ' ')
            c->trace_secret = false;
        return false;
    }
    if (c->trace_secret) {
        mc__trace_redact_from(line, len, 0);
        return true;
    }
    while (tag_len < *len && line[tag_len] != ' ')
        tag_len++;
    cmd = mc__trace_skip_words(line, *len, 1);
    if (word_is(line + cmd, *len - cmd, "LOGIN"))
        at = mc__trace_skip_words(line, *len, 2);
    else if (word_is(line + cmd, *len - cmd, "AUTHENTICATE"))
        at = mc__trace_skip_words(line, *len, 3);
    else
        return false;
    c->trace_secret = true;
    snprintf(c->secret_tag, sizeof(c->secret_tag), "%.*s", (int)(tag_len < 31 ? tag_len : 31), line);
    if (at >= *len)
        return false;
    mc__trace_redact_from(line, len, at);
    return true;
}

/* ---- the libetpan driver ---- */

static ssize_t low_read(mailstream_low *s, void *buf, size_t count)
{
    mc__imap_conn *c = s->data;
    ssize_t r;
    if (c->cause)
        return -1; /* a failed connection stays failed */
    if ((r = io(c, buf, count, false)) <= 0)
        return -1;
    mc__trace_data(&c->trace, MC_TRACE_RECEIVED, buf, (size_t)r);
    if (!mc__imap_guard_scan(&c->guard, buf, (size_t)r)) {
        set_cause(c, MC__IO_LIMIT, "%s", c->guard.why);
        return -1;
    }
    return r;
}

static ssize_t low_write(mailstream_low *s, const void *buf, size_t count)
{
    mc__imap_conn *c = s->data;
    ssize_t r;
    if (c->cause)
        return -1;
    if ((r = io(c, (void *)buf, count, true)) > 0)
        mc__trace_data(&c->trace, MC_TRACE_SENT, buf, (size_t)r);
    return r;
}

static void conn_close(mc__imap_conn *c)
{
    if (c->ssl) {
        SSL_free(c->ssl); /* no close_notify: the peer may be gone or hostile */
        c->ssl = NULL;
    }
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static int low_close(mailstream_low *s)
{
    conn_close(s->data);
    return 0;
}

static int low_get_fd(mailstream_low *s) { return ((mc__imap_conn *)s->data)->fd; }

static void low_free(mailstream_low *s)
{
    mc__imap_conn_free(s->data);
    s->data = NULL;
    free(s);
}

static void low_cancel(mailstream_low *s) { (void)s; }
static struct mailstream_cancel *low_get_cancel(mailstream_low *s)
{
    (void)s;
    return NULL;
}
static carray *low_chain(mailstream_low *s)
{
    (void)s;
    return NULL;
}
static int low_no_idle(mailstream_low *s)
{
    (void)s;
    return -1; /* select()-based IDLE: the caller polls the fd */
}

static mailstream_low_driver guard_driver = {
    .mailstream_read = low_read,
    .mailstream_write = low_write,
    .mailstream_close = low_close,
    .mailstream_get_fd = low_get_fd,
    .mailstream_free = low_free,
    .mailstream_cancel = low_cancel,
    .mailstream_get_cancel = low_get_cancel,
    .mailstream_get_certificate_chain = low_chain,
    .mailstream_setup_idle = low_no_idle,
    .mailstream_unsetup_idle = low_no_idle,
    .mailstream_interrupt_idle = low_no_idle,
};

/* ---- connecting ---- */

static int conn_new(mc__imap_conn **out, int fd, const mc__imap_conn_options *o)
{
    mc__imap_conn *c = calloc(1, sizeof(*c));
    mc__imap_limits lim = mc__imap_default_limits;
    if (!c || !(c->host = mc__strdup(o->host ? o->host : ""))) {
        free(c);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    c->fd = fd;
    c->port = o->port;
    c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    c->tls_min_version = o->tls_min_version == 13 ? 13 : 12;
    c->deadline = o->deadline;
    mc__imap_guard_init(&c->guard, &lim);
    mc__tracer_init(&c->trace, "imap", imap_redact, c);
    *out = c;
    return 0;
}

int mc__imap_conn_from_fd(mc__imap_conn **out, int fd, const mc__imap_conn_options *o)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return mc__error_set(MC_EIO, "cannot use socket: %s", strerror(errno));
    return conn_new(out, fd, o);
}

/* A non-blocking connect to one address, within the deadline. */
static int connect_one(const struct addrinfo *ai, int64_t deadline, const mc__imap_conn_options *o, int *err)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    socklen_t len = sizeof(*err);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
        return fd;
    if (errno != EINPROGRESS) {
        *err = errno;
        close(fd);
        return -1;
    }
    for (;;) {
        struct pollfd p = {fd, POLLOUT, 0};
        int64_t left = cap_deadline(o->deadline, deadline) - mc__mono_ms();
        if (left <= 0) {
            *err = ETIMEDOUT;
            close(fd);
            return -1;
        }
        if (poll(&p, 1, left < 200 ? (int)left : 200) > 0)
            break;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &len) || *err) {
        close(fd);
        return -1;
    }
    return fd;
}

int mc__imap_conn_open(mc__imap_conn **out, const mc__imap_conn_options *o)
{
    struct addrinfo hints = {0}, *res = NULL;
    char port[8];
    int64_t deadline = mc__mono_ms() + (o->timeout_ms > 0 ? o->timeout_ms : 30000);
    int r, fd = -1, err = 0, rc;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    snprintf(port, sizeof(port), "%u", o->port);
    if ((r = getaddrinfo(o->host, port, &hints, &res)))
        return mc__error_set(MC_EIO, "IMAP %s:%u: resolve: cannot resolve the host name (%s)", o->host,
                             o->port, gai_strerror(r));
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = connect_one(ai, deadline, o, &err);
    freeaddrinfo(res);
    if (fd < 0)
        return mc__error_set(MC_EIO, "IMAP %s:%u: connect: %s", o->host, o->port,
                             err == ECONNREFUSED ? "connection refused (no server on that port)"
                             : err == ETIMEDOUT  ? "timed out"
                                                 : strerror(err));
    if ((rc = conn_new(out, fd, o)))
        close(fd);
    else {
        mc__log(MC_LOG_INFO, "IMAP %s:%u: connected", o->host, o->port);
        mc__trace_note("imap", "Connected to %s port %u", o->host, o->port);
    }
    return rc;
}

static bool is_ip_literal(const char *h)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

static int handshake(mc__imap_conn *c)
{
    int64_t deadline = mc__mono_ms() + c->timeout_ms;
    for (;;) {
        int r, e;
        ERR_clear_error();
        if ((r = SSL_connect(c->ssl)) == 1) {
            mc__log(MC_LOG_INFO, "IMAP %s:%u: TLS established (%s, %s)", c->host, c->port,
                    SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
            mc__trace_note("imap", "TLS connection using %s / %s", SSL_get_version(c->ssl),
                           SSL_get_cipher_name(c->ssl));
            return 0;
        }
        e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (!wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline))
                return mc__error_set(MC_ETLS, "IMAP %s:%u: TLS handshake: %s", c->host, c->port,
                                     c->cause_text);
            continue;
        }
        if ((e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) && !ERR_peek_error()) {
            /* no TLS error: the connection broke under the handshake */
            set_cause(c, MC__IO_CLOSED, "%s", errno ? strerror(errno) : "the server closed the connection");
            return mc__error_set(MC_EIO, "IMAP %s:%u: TLS handshake: the connection broke (%s)", c->host,
                                 c->port, c->cause_text);
        }
        {
            unsigned long err = ERR_peek_error();
            int reason = ERR_GET_REASON(err);
            tls_cause(c, "handshake");
            if (reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION ||
                reason == SSL_R_NO_PROTOCOLS_AVAILABLE)
                return mc__error_set(MC_ETLS,
                                     "IMAP %s:%u: TLS handshake: the server offers no TLS version at or "
                                     "above tls_min_version (1.%d): %s",
                                     c->host, c->port, c->tls_min_version % 10, c->cause_text);
            if (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_PACKET_LENGTH_TOO_LONG)
                return mc__error_set(MC_ETLS,
                                     "IMAP %s:%u: TLS handshake: the server did not answer in TLS (%s); "
                                     "is port %u a STARTTLS or plain-text port? Then set "
                                     "imap_security = starttls (usually port 143)",
                                     c->host, c->port, c->cause_text, c->port);
            return mc__error_set(MC_ETLS, "IMAP %s:%u: TLS handshake: %s", c->host, c->port, c->cause_text);
        }
    }
}

int mc__imap_conn_start_tls(mc__imap_conn *c, mailstream *over)
{
    if (over && (over->read_buffer_len || (c->guard.head_len || c->guard.line_len)))
        return mc__error_set(MC_ETLS,
                             "IMAP %s:%u: STARTTLS: the server sent data after its answer "
                             "(a response injection attempt); not continuing",
                             c->host, c->port);
    if (!(c->ctx = SSL_CTX_new(TLS_client_method())) ||
        !SSL_CTX_set_min_proto_version(c->ctx, c->tls_min_version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION) ||
        !(c->ssl = SSL_new(c->ctx)) || !SSL_set_fd(c->ssl, c->fd))
        return mc__error_set(MC_ENOMEM, "IMAP: cannot set up TLS");
    /* verification happens after the handshake (mc__imap_conn_verify), before any secret */
    SSL_set_verify(c->ssl, SSL_VERIFY_NONE, NULL);
    if (*c->host && !is_ip_literal(c->host))
        SSL_set_tlsext_host_name(c->ssl, c->host);
    SSL_set_mode(c->ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    return handshake(c);
}

int mc__imap_conn_verify(mc__imap_conn *c, const char *ca_file, const char *ca_path)
{
    STACK_OF(X509) *chain = c->ssl ? SSL_get_peer_cert_chain(c->ssl) : NULL;
    int n = chain ? sk_X509_num(chain) : 0, rc;
    unsigned char **der = calloc(n ? (size_t)n : 1, sizeof(*der));
    size_t *len = calloc(n ? (size_t)n : 1, sizeof(*len));
    if (!n)
        rc = mc__error_set(MC_ETLS, "IMAP %s: no certificate from the server", c->host);
    else if (!der || !len)
        rc = mc__error_set(MC_ENOMEM, "out of memory");
    else {
        rc = 0;
        for (int i = 0; i < n && !rc; i++) {
            int l = i2d_X509(sk_X509_value(chain, i), &der[i]);
            if (l <= 0)
                rc = mc__error_set(MC_ETLS, "IMAP %s: unreadable certificate", c->host);
            len[i] = l > 0 ? (size_t)l : 0;
        }
        if (!rc)
            rc = mc__tls_verify_chain((const unsigned char *const *)der, len, (size_t)n, c->host, ca_file,
                                      ca_path);
    }
    for (int i = 0; der && i < n; i++)
        OPENSSL_free(der[i]);
    free(der);
    free(len);
    return rc;
}

mailstream *mc__imap_conn_stream(mc__imap_conn *c)
{
    mailstream_low *low = mailstream_low_new(c, &guard_driver);
    mailstream *s;
    if (!low) {
        mc__imap_conn_free(c);
        return NULL;
    }
    if (!(s = mailstream_new(low, 8192))) {
        mailstream_low_close(low);
        mailstream_low_free(low);
        return NULL;
    }
    return s;
}

void mc__imap_conn_free(mc__imap_conn *c)
{
    if (!c)
        return;
    conn_close(c);
    SSL_CTX_free(c->ctx);
    free(c->host);
    free(c);
}

mc__imap_guard *mc__imap_conn_guard(mc__imap_conn *c) { return &c->guard; }
mc__io_cause mc__imap_conn_cause(const mc__imap_conn *c) { return c->cause; }
const char *mc__imap_conn_cause_text(const mc__imap_conn *c) { return c->cause_text; }
size_t mc__imap_conn_pending(const mc__imap_conn *c) { return c->ssl ? (size_t)SSL_pending(c->ssl) : 0; }
int mc__imap_conn_fd(const mc__imap_conn *c) { return c->fd; }
void mc__imap_conn_set_timeout(mc__imap_conn *c, int timeout_ms) { c->timeout_ms = timeout_ms; }
