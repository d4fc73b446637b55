/* http.c - the HTTPS session of the Microsoft transports (http.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include "command.h"
#include "http.h"
#include "trace.h"

struct mc__http {
    CURL *curl;
    CURLM *multi; /* a stream in progress runs here */
    bool streaming;
    mc__http_data_cb on_data;
    void *on_data_ud;
    bool got_data, data_refused;
    char *stream_body; /* the request of the stream, alive while it runs */
    struct curl_slist *headers;
    char *url, *username, *password, *ca_file, *ca_path;
    char *token;                         /* the current bearer token (a secret) */
    const mc__command *password_command; /* borrowed; sets password when needed */
    mc__http_auth auth;
    mc_token_cb token_cb;
    void *token_user_data;
    bool verify;
    int tls_min, timeout_ms;
    char errbuf[CURL_ERROR_SIZE];
    char tls[120];    /* curl's "SSL connection using ..." text, for the step */
    mc__tracer trace; /* the wire trace (mc_trace_set_callback) */
};

typedef struct {
    mc__buf buf;
    size_t max;
    bool over;
    int retry_after_ms;
    const mc__cancel_token *cancel;
} xfer;

static size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    n *= size;
    if (x->buf.len + n > x->max) {
        x->over = true;
        return 0; /* aborts the transfer before the reply grows past the limit */
    }
    mc__buf_put(&x->buf, p, n);
    return x->buf.failed ? 0 : n;
}

/* Retry-After: delta-seconds (an HTTP date is not honoured: 0) */
static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
    xfer *x = ud;
    static const char name[] = "retry-after:";
    size_t len = size * n, i = sizeof(name) - 1;
    if (len > i && !strncasecmp(p, name, i)) {
        unsigned long long s = 0;
        while (i < len && (p[i] == ' ' || p[i] == '\t'))
            i++;
        while (i < len && p[i] >= '0' && p[i] <= '9' && s < 86400)
            s = s * 10 + (unsigned)(p[i++] - '0');
        x->retry_after_ms = (int)(s > 3600 ? 3600000 : s * 1000);
    }
    return len;
}

static int progress_cb(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    const xfer *x = ud;
    (void)dt, (void)dn, (void)ut, (void)un;
    return x->cancel && atomic_load(x->cancel) ? 1 : 0;
}

static char *copy_or_null(const char *s) { return s && *s ? mc__strdup(s) : NULL; }

/* ---- the steps (MC_LOG_INFO) and the wire trace ---- */

static bool header_is(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len >= n && !strncasecmp(line, name, n);
}

/* The trace's redaction: credentials keep their scheme ("Authorization:
 * Bearer [redacted]"); an NTLM or Negotiate challenge its scheme; cookies
 * (Exchange's X-BackEndCookie among them) their name. */
static bool http_redact(void *state, mc_trace_direction dir, char *line, size_t *len)
{
    size_t at;
    (void)state;
    if (dir == MC_TRACE_SENT &&
        (header_is(line, *len, "Authorization:") || header_is(line, *len, "Proxy-Authorization:")))
        at = mc__trace_skip_words(line, *len, 2);
    else if (dir == MC_TRACE_RECEIVED &&
             (header_is(line, *len, "WWW-Authenticate:") || header_is(line, *len, "Proxy-Authenticate:"))) {
        size_t scheme = mc__trace_skip_words(line, *len, 1);
        if (!header_is(line + scheme, *len - scheme, "NTLM") &&
            !header_is(line + scheme, *len - scheme, "Negotiate"))
            return false;
        at = mc__trace_skip_words(line, *len, 2);
    } else if (header_is(line, *len, "Cookie:") || header_is(line, *len, "Set-Cookie:"))
        at = mc__trace_skip_words(line, *len, 1);
    else
        return false;
    if (at >= *len)
        return false;
    mc__trace_redact_from(line, len, at);
    return true;
}

static void note_text(mc__http *h, const char *data, size_t size)
{
    while (size && (data[size - 1] == '\n' || data[size - 1] == '\r'))
        size--;
    mc__trace_note("http", "%.*s", (int)size, data);
    while (size && *data == ' ') {
        data++;
        size--;
    }
    if (header_is(data, size, "Connected to "))
        mc__log(MC_LOG_INFO, "HTTP %s: connected", h->url);
    else if (header_is(data, size, "SSL connection using ")) {
        mc__printable(h->tls, sizeof(h->tls), data + 21, size - 21);
        if (!h->verify)
            mc__log(MC_LOG_INFO, "HTTP %s: TLS established (%s); certificate NOT verified (tls_verify off)",
                    h->url, h->tls);
    } else if (h->verify && (header_is(data, size, "server certificate verification OK") ||
                             header_is(data, size, "SSL certificate verify ok")))
        mc__log(MC_LOG_INFO, "HTTP %s: TLS established (%s), certificate verified", h->url, h->tls);
}

static int debug_cb(CURL *c, curl_infotype type, char *data, size_t size, void *arg)
{
    mc__http *h = arg;
    (void)c;
    switch (type) {
    case CURLINFO_TEXT:
        note_text(h, data, size);
        break;
    case CURLINFO_HEADER_OUT:
    case CURLINFO_DATA_OUT:
        mc__trace_data(&h->trace, MC_TRACE_SENT, data, size);
        mc__trace_flush(&h->trace, MC_TRACE_SENT); /* a body ends without a newline */
        break;
    case CURLINFO_HEADER_IN:
        mc__trace_flush(&h->trace, MC_TRACE_RECEIVED); /* a body before these headers */
        mc__trace_data(&h->trace, MC_TRACE_RECEIVED, data, size);
        break;
    case CURLINFO_DATA_IN:
        mc__trace_data(&h->trace, MC_TRACE_RECEIVED, data, size);
        break;
    default:
        break;
    }
    return 0;
}

void mc__http_free(mc__http *h)
{
    if (!h)
        return;
    mc__http_stream_stop(h);
    if (h->multi)
        curl_multi_cleanup(h->multi);
    if (h->curl)
        curl_easy_cleanup(h->curl);
    curl_slist_free_all(h->headers);
    free(h->url);
    free(h->username);
    mc__secret_free(h->password);
    mc__secret_free(h->token);
    free(h->ca_file);
    free(h->ca_path);
    free(h);
}

static int add_header(mc__http *h, const char *name, const char *value)
{
    mc__buf b;
    char *line;
    struct curl_slist *l;
    mc__buf_init(&b);
    mc__buf_printf(&b, "%s: %s", name, value);
    if (!(line = mc__buf_detach(&b, NULL)))
        return MC_ENOMEM;
    l = curl_slist_append(h->headers, line);
    free(line);
    if (!l)
        return MC_ENOMEM;
    h->headers = l;
    return 0;
}

static void apply_options(mc__http *h)
{
    CURL *c = h->curl;
    curl_easy_setopt(c, CURLOPT_URL, h->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
    curl_easy_setopt(c, CURLOPT_VERBOSE, 1L); /* only to feed debug_cb */
    curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, debug_cb);
    curl_easy_setopt(c, CURLOPT_DEBUGDATA, h);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, h->verify ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, h->verify ? 2L : 0L);
    /* the floor holds for the handshake, so no credential goes out below it */
    curl_easy_setopt(c, CURLOPT_SSLVERSION,
                     h->tls_min == 13 ? (long)CURL_SSLVERSION_TLSv1_3 : (long)CURL_SSLVERSION_TLSv1_2);
    if (h->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
    if (h->ca_path)
        curl_easy_setopt(c, CURLOPT_CAPATH, h->ca_path);
    if (h->timeout_ms > 0) {
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)h->timeout_ms);
        /* no progress for timeout_ms: the server is gone */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)((h->timeout_ms + 999) / 1000));
    }
    switch (h->auth) {
    case MC__HTTP_BASIC:
    case MC__HTTP_NTLM:
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, h->auth == MC__HTTP_NTLM ? CURLAUTH_NTLM : CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, h->username ? h->username : "");
        curl_easy_setopt(c, CURLOPT_PASSWORD, h->password ? h->password : "");
        break;
    case MC__HTTP_BEARER:
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
        break;
    }
}

int mc__http_new(mc__http **out, const mc__http_config *cfg)
{
    mc__http *h;
    int rc = MC_ENOMEM;
    if (!cfg->url || strncasecmp(cfg->url, "https://", 8))
        return mc__error_set(MC_EINVAL, "the server URL must be https:// (got \"%s\")",
                             cfg->url ? cfg->url : "");
    if (cfg->auth == MC__HTTP_BEARER && !cfg->token_cb)
        return mc__error_set(MC_EINVAL, "bearer authentication needs a token callback");
    if (!(h = calloc(1, sizeof(*h))))
        return mc__error_set(MC_ENOMEM, "out of memory");
    mc__tracer_init(&h->trace, "http", http_redact, h);
    h->auth = cfg->auth;
    h->token_cb = cfg->token_cb;
    h->token_user_data = cfg->token_user_data;
    h->password_command = cfg->auth == MC__HTTP_BEARER ? NULL : cfg->password_command;
    h->verify = cfg->verify;
    h->tls_min = cfg->tls_min_version;
    h->timeout_ms = cfg->timeout_ms;
    if (!(h->url = mc__strdup(cfg->url)) ||
        (cfg->username && *cfg->username && !(h->username = mc__strdup(cfg->username))) ||
        (cfg->password && *cfg->password && !(h->password = mc__strdup(cfg->password))) ||
        (cfg->ca_file && *cfg->ca_file && !(h->ca_file = copy_or_null(cfg->ca_file))) ||
        (cfg->ca_path && *cfg->ca_path && !(h->ca_path = copy_or_null(cfg->ca_path))))
        goto fail;
    if (add_header(h, "Content-Type", cfg->content_type ? cfg->content_type : "text/xml; charset=utf-8") ||
        add_header(h, "Accept", "text/xml") || add_header(h, "Expect", "") ||
        (cfg->anchor_mailbox && *cfg->anchor_mailbox &&
         add_header(h, "X-AnchorMailbox", cfg->anchor_mailbox)))
        goto fail;
    if (!(h->curl = curl_easy_init())) {
        rc = MC_EIO;
        goto fail;
    }
    apply_options(h);
    *out = h;
    return 0;
fail:
    mc__http_free(h);
    return mc__error_set(rc, rc == MC_ENOMEM ? "out of memory" : "cannot create an HTTP handle");
}

const char *mc__http_url(const mc__http *h) { return h->url; }

void mc__http_reply_free(mc__http_reply *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* a bearer token from the callback, asked when there is none yet */
static int bearer(mc__http *h, bool renew)
{
    char *token = NULL;
    int rc;
    if (h->token && !renew)
        return 0;
    mc__secret_free(h->token);
    h->token = NULL;
    if ((rc = mc__token_get(h->token_cb, h->token_user_data, &token)))
        return rc;
    h->token = token;
    curl_easy_setopt(h->curl, CURLOPT_XOAUTH2_BEARER, h->token);
    return 0;
}

/* password_command's output, run when there is none yet (or renewed after a 401) */
static int command_password(mc__http *h, bool renew)
{
    char *pw = NULL;
    int rc;
    if (h->password && !renew)
        return 0;
    mc__secret_free(h->password);
    h->password = NULL;
    curl_easy_setopt(h->curl, CURLOPT_PASSWORD, "");
    if ((rc = mc__command_run(h->password_command, &pw)))
        return rc;
    h->password = pw;
    curl_easy_setopt(h->curl, CURLOPT_PASSWORD, h->password);
    return 0;
}

/* the credential a request needs that the session may not have yet */
static int credential(mc__http *h, bool renew)
{
    if (h->auth == MC__HTTP_BEARER)
        return bearer(h, renew);
    return h->password_command ? command_password(h, renew) : 0;
}

/* whether a 401 may be cured by asking the credential's source again */
static bool renewable(const mc__http *h) { return h->auth == MC__HTTP_BEARER || h->password_command; }

static int curl_error(mc__http *h, CURLcode cc, const xfer *x)
{
    const char *why = h->errbuf[0] ? h->errbuf : curl_easy_strerror(cc);
    switch (cc) {
    case CURLE_WRITE_ERROR:
        if (x->over)
            return mc__error_set(MC_ETOOBIG, "%s: the reply is larger than %zu octets", h->url, x->max);
        return mc__error_set(MC_ENOMEM, "%s: out of memory", h->url);
    case CURLE_ABORTED_BY_CALLBACK:
        return mc__error_set(MC_ECANCELED, "%s: cancelled", h->url);
    case CURLE_OPERATION_TIMEDOUT:
        return mc__error_set(MC_ETIMEOUT, "%s: timed out: %s", h->url, why);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return mc__error_set(MC_ETLS, "%s: TLS: %s (no credential was sent)", h->url, why);
    default:
        return mc__error_set(MC_EIO, "%s: %s", h->url, why);
    }
}

static int post_once(mc__http *h, const char *body, size_t len, size_t max_reply,
                     const mc__cancel_token *cancel, mc__http_reply *out)
{
    xfer x = {.max = max_reply, .cancel = cancel};
    CURLcode cc;
    int rc = 0;
    mc__buf_init(&x.buf);
    h->errbuf[0] = 0;
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(h->curl, CURLOPT_XFERINFODATA, &x);
    cc = curl_easy_perform(h->curl);
    mc__trace_flush(&h->trace, MC_TRACE_RECEIVED);
    if (cc != CURLE_OK) {
        rc = curl_error(h, cc, &x);
        mc__buf_free(&x.buf);
        return rc;
    }
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &out->status);
    out->len = x.buf.len;
    out->body = x.buf.len ? mc__buf_detach(&x.buf, NULL) : mc__strdup("");
    mc__buf_free(&x.buf); /* what an empty reply left (detach took the rest) */
    if (!out->body)
        return mc__error_set(MC_ENOMEM, "out of memory");
    out->retry_after_ms = x.retry_after_ms;
    return 0;
}

int mc__http_post(mc__http *h, const char *body, size_t len, size_t max_reply, const mc__cancel_token *cancel,
                  mc__http_reply *out)
{
    mc__http_reply r = {0};
    int rc;
    if ((rc = credential(h, false)))
        return rc;
    if ((rc = post_once(h, body, len, max_reply, cancel, &r)))
        return rc;
    if (r.status == 401 && renewable(h)) {
        /* an expired token or a changed password: ask for a fresh one, once */
        mc__http_reply_free(&r);
        if ((rc = credential(h, true)) || (rc = post_once(h, body, len, max_reply, cancel, &r)))
            return rc;
    }
    if (r.status == 401) {
        mc__http_reply_free(&r);
        return mc__error_set(MC_EAUTH, "%s: the server refused the credentials (HTTP 401)", h->url);
    }
    *out = r;
    return 0;
}

/* ---- a streamed reply ---- */

static size_t stream_cb(char *p, size_t size, size_t n, void *ud)
{
    mc__http *h = ud;
    n *= size;
    h->got_data = true;
    if (!h->on_data(p, n, h->on_data_ud)) {
        h->data_refused = true;
        return 0;
    }
    return n;
}

bool mc__http_streaming(const mc__http *h) { return h->streaming; }

int mc__http_stream_start(mc__http *h, const char *body, size_t len, mc__http_data_cb on_data,
                          void *user_data)
{
    int rc;
    mc__http_stream_stop(h);
    if ((rc = credential(h, false)))
        return rc;
    if (!h->multi && !(h->multi = curl_multi_init()))
        return mc__error_set(MC_ENOMEM, "out of memory");
    if (!(h->stream_body = mc__strndup(body, len)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    h->on_data = on_data;
    h->on_data_ud = user_data;
    h->got_data = h->data_refused = false;
    h->errbuf[0] = 0;
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, h->stream_body);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, stream_cb);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(h->curl, CURLOPT_NOPROGRESS, 1L);
    /* a stream is quiet for minutes between events: only the connect is bounded */
    curl_easy_setopt(h->curl, CURLOPT_LOW_SPEED_TIME, 0L);
    if (curl_multi_add_handle(h->multi, h->curl) != CURLM_OK) {
        free(h->stream_body);
        h->stream_body = NULL;
        return mc__error_set(MC_EIO, "cannot start the notification stream");
    }
    h->streaming = true;
    return 0;
}

void mc__http_stream_stop(mc__http *h)
{
    if (!h->streaming)
        return;
    curl_multi_remove_handle(h->multi, h->curl);
    h->streaming = false;
    free(h->stream_body);
    h->stream_body = NULL;
    /* back to ordinary calls: forget the connection the stream was on */
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h->curl, CURLOPT_FORBID_REUSE, 1L);
    apply_options(h);
    if (h->token)
        curl_easy_setopt(h->curl, CURLOPT_XOAUTH2_BEARER, h->token);
}

int mc__http_stream_run(mc__http *h, int timeout_ms, int wake_fd)
{
    int64_t end = mc__mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    struct curl_waitfd extra = {.fd = wake_fd, .events = CURL_WAIT_POLLIN};
    if (!h->streaming)
        return mc__error_set(MC_ECLOSED, "no notification stream");
    for (;;) {
        int running = 0, left, numfds = 0;
        CURLMsg *m;
        h->got_data = false;
        curl_multi_perform(h->multi, &running);
        while ((m = curl_multi_info_read(h->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            CURLcode cc = m->data.result;
            long status = 0;
            xfer x = {0};
            curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
            mc__http_stream_stop(h);
            if (cc == CURLE_OK && status == 200)
                return mc__error_set(MC_ECLOSED, "%s: the server ended the notification stream", h->url);
            if (cc == CURLE_OK)
                return mc__error_set(status == 401 ? MC_EAUTH : MC_EIO, "%s: notification stream: HTTP %ld",
                                     h->url, status);
            if (cc == CURLE_WRITE_ERROR && h->data_refused)
                return mc__error_set(MC_EPROTO, "%s: notification stream: refused what the server sent",
                                     h->url);
            return curl_error(h, cc, &x);
        }
        if (h->got_data)
            return 1;
        int64_t now = mc__mono_ms();
        if (now >= end)
            return 0;
        if (curl_multi_poll(h->multi, &extra, wake_fd >= 0 ? 1 : 0, (int)(end - now), &numfds) != CURLM_OK)
            return mc__error_set(MC_EIO, "%s: waiting on the notification stream failed", h->url);
        if (wake_fd >= 0 && (extra.revents & CURL_WAIT_POLLIN))
            return 0;
    }
}
