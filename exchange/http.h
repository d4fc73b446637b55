/* http.h - the HTTPS session the Microsoft transports share (EWS now,
 * Graph later): one libcurl handle kept alive across calls, TLS verified
 * (chain and host name, TLS 1.2 or later) before any credential leaves,
 * Basic, NTLM or a bearer token from the binding's callback (asked again
 * once after a 401; password_command likewise), the server's Retry-After read, and every reply bounded.
 * Not thread-safe: each half of a transport owns its own session. */
#ifndef MC_EXCHANGE_HTTP_H
#define MC_EXCHANGE_HTTP_H

#include "transport_int.h"

typedef enum { MC__HTTP_BASIC = 0, MC__HTTP_NTLM, MC__HTTP_BEARER } mc__http_auth;

/* Borrowed strings; mc__http_new copies what it keeps. */
typedef struct {
    const char *url;
    mc__http_auth auth;
    const char *username; /* Basic and NTLM ("DOMAIN\\user" or "user@domain") */
    const char *password; /* secret: never logged, never in an error */
    /* password_command (command.h), borrowed, as long as the transport: run
     * for the first request instead of password, again once after a 401 */
    const struct mc__command *password_command;
    mc_token_cb token_cb; /* bearer token source */
    void *token_user_data;
    const char *ca_file, *ca_path; /* trust anchors; the system's when both empty */
    bool verify;                   /* certificate and host name verification */
    int tls_min_version;           /* 12 (also when 0) or 13 */
    int timeout_ms;                /* connect, and no progress for this long */
    const char *content_type;      /* of the requests, e.g. "text/xml; charset=utf-8" */
    const char *anchor_mailbox;    /* X-AnchorMailbox header, or NULL */
} mc__http_config;

typedef struct mc__http mc__http;

typedef struct {
    long status; /* HTTP status */
    char *body;  /* NUL-terminated; the caller frees */
    size_t len;
    int retry_after_ms; /* Retry-After in ms, or 0 when absent */
} mc__http_reply;

int mc__http_new(mc__http **out, const mc__http_config *cfg);
void mc__http_free(mc__http *h);

/* POSTs body and reads the reply, at most max_reply octets (MC_ETOOBIG
 * past it). 0 whenever a reply came, whatever its status, except a 401 that
 * one refreshed bearer token did not cure: MC_EAUTH. Otherwise MC_ETLS
 * (TLS or certificate; nothing was sent), MC_ETIMEOUT, MC_EIO (unreachable,
 * cut), MC_ECANCELED (cancel set before the request was complete). */
int mc__http_post(mc__http *h, const char *body, size_t len, size_t max_reply, const mc__cancel_token *cancel,
                  mc__http_reply *out);
void mc__http_reply_free(mc__http_reply *r);

/* The server URL, for messages (never a secret). */
const char *mc__http_url(const mc__http *h);

/* A streamed reply (EWS GetStreamingEvents): POSTs body and hands the reply
 * to on_data as it arrives, on a session of its own (its own connection).
 * on_data returns false to end the stream (a limit crossed). */
typedef bool (*mc__http_data_cb)(const char *p, size_t n, void *user_data);
int mc__http_stream_start(mc__http *h, const char *body, size_t len, mc__http_data_cb on_data,
                          void *user_data);
/* Runs the stream until data came (1), wake_fd became readable or the
 * timeout passed (0), or the stream ended (MC_ECLOSED when the server ended
 * it in order: HTTP 200 complete; else the error). */
int mc__http_stream_run(mc__http *h, int timeout_ms, int wake_fd);
/* Ends a stream (if any) and closes its connection. */
void mc__http_stream_stop(mc__http *h);
bool mc__http_streaming(const mc__http *h);

#endif
