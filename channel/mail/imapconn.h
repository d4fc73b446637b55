/* imapconn.h - the IMAP connection below libetpan's parser: socket, TLS
 * (OpenSSL), a deadline on every read and write, and a guard that bounds
 * what a server may send before libetpan buffers or parses any of it.
 *
 * libetpan reads a whole reply before parsing it and recurses once per
 * parenthesis, so a hostile or broken server could make it allocate without
 * limit or overflow the stack. The guard is a libetpan `mailstream_low`
 * driver: every byte from the server passes its scanner first, which tracks
 * lines, quoted strings, literals and parentheses in linear time and fails
 * the read (MC_EPROTO, naming the limit) as soon as one is crossed. */
#ifndef MC_IMAPCONN_H
#define MC_IMAPCONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libetpan/libetpan.h>

/* What one command's reply may hold. */
typedef struct {
    size_t max_line;      /* octets of one line, outside literals */
    size_t max_literal;   /* octets of one literal */
    size_t max_reply;     /* octets from a command to its tagged completion */
    size_t max_responses; /* untagged responses in one reply */
    unsigned max_depth;   /* parenthesis nesting outside quotes and literals */
} mc__imap_limits;

/* the defaults for a command that reads no message text */
#define MC__IMAP_LIMITS_INIT                       \
    {                                              \
        4u << 20, 64u << 10, 16u << 20, 100000, 64 \
    }

/* The limits every command starts from (MC__IMAP_LIMITS_INIT); the fuzz
 * target lowers them so that small inputs reach them. */
extern mc__imap_limits mc__imap_default_limits;

/* The scanner, on its own so that the fuzz target and unit tests reach it. */
typedef struct {
    mc__imap_limits lim;
    size_t line_len, literal_left, reply_bytes, responses;
    unsigned depth;
    bool in_quote, escape, continued;
    int lit; /* literal marker state: 0 none, 1 '{', 2 digits, 3 '+', 4 '}' */
    uint64_t lit_n;
    char head[24]; /* the start of the current response */
    size_t head_len;
    uint32_t exists; /* message count, from EXISTS and EXPUNGE */
    bool exists_known;
    unsigned long arrivals;                /* EXISTS responses that raised the count */
    unsigned long expunges;                /* EXPUNGE responses */
    bool want_capability, seen_capability; /* a CAPABILITY command is answered */
    char why[160];                         /* the limit crossed; empty while none */
} mc__imap_guard;

void mc__imap_guard_init(mc__imap_guard *g, const mc__imap_limits *lim);
/* Starts a new command: its reply is counted from here, with these limits. */
void mc__imap_guard_begin(mc__imap_guard *g, const mc__imap_limits *lim);
/* The next command is CAPABILITY: its OK must come after an untagged
 * CAPABILITY response (libetpan dereferences the capabilities it expects). */
void mc__imap_guard_expect_capability(mc__imap_guard *g);
/* Scans n octets from the server; false (and g->why set) once a limit is crossed. */
bool mc__imap_guard_scan(mc__imap_guard *g, const char *p, size_t n);

/* Why the last read or write failed. */
typedef enum {
    MC__IO_OK = 0,
    MC__IO_TIMEOUT, /* no answer within the timeout */
    MC__IO_CLOSED,  /* the server closed the connection */
    MC__IO_RESET,   /* a socket error (reset, ...) */
    MC__IO_TLS,     /* a TLS error */
    MC__IO_LIMIT    /* the guard: the reply crossed a limit */
} mc__io_cause;

typedef struct mc__imap_conn mc__imap_conn;

typedef struct {
    const char *host;
    unsigned port;
    int timeout_ms;                  /* connecting, the handshake, each read and write */
    int tls_min_version;             /* 12 or 13 */
    const _Atomic int64_t *deadline; /* non-zero: no wait goes past it (monotonic ms) */
} mc__imap_conn_options;

/* Resolves and connects (MC_EIO naming resolve or connect and the cause).
 * The connection belongs to the caller until mc__imap_conn_stream. */
int mc__imap_conn_open(mc__imap_conn **out, const mc__imap_conn_options *o);
/* tests and fuzzing: a connection over an already connected socket */
int mc__imap_conn_from_fd(mc__imap_conn **out, int fd, const mc__imap_conn_options *o);
/* TLS handshake (TLS 1.2 or later, SNI). MC_ETLS with the reason. Fails if
 * the server sent anything not yet read (STARTTLS response injection). */
int mc__imap_conn_start_tls(mc__imap_conn *c, mailstream *over);
/* Verifies the peer's chain and host name (tlsverify.c). */
int mc__imap_conn_verify(mc__imap_conn *c, const char *ca_file, const char *ca_path);
/* A libetpan stream over the connection; the stream then owns it (closing
 * the stream frees it). NULL when out of memory (the connection is freed). */
mailstream *mc__imap_conn_stream(mc__imap_conn *c);
void mc__imap_conn_free(mc__imap_conn *c); /* only before mc__imap_conn_stream */

mc__imap_guard *mc__imap_conn_guard(mc__imap_conn *c);
mc__io_cause mc__imap_conn_cause(const mc__imap_conn *c);
const char *mc__imap_conn_cause_text(const mc__imap_conn *c); /* "timed out after 30000 ms", ... */
/* octets received but not yet read (in TLS records) */
size_t mc__imap_conn_pending(const mc__imap_conn *c);
int mc__imap_conn_fd(const mc__imap_conn *c);
/* changes the per-operation timeout (the greeting uses a shorter one) */
void mc__imap_conn_set_timeout(mc__imap_conn *c, int timeout_ms);

#endif
