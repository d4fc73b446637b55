/* smtp.c - sending over SMTP submission with libcurl: STARTTLS (required)
 * or implicit TLS, AUTH PLAIN/LOGIN/XOAUTH2, one connection kept in the easy
 * handle across messages and closed with QUIT when the handle is cleaned up.
 * A failed send drops the handle, and with it whatever connection curl kept:
 * curl may keep a connection the server reset while it waited for a reply.
 * curl speaks the protocol (dot-stuffing, SMTPUTF8 when an address needs it
 * and the server offers it); this file maps settings and errors.
 *
 * The debug callback follows the dialogue (the server's replies; of what we
 * send, only the command word, never the rest: AUTH carries secrets):
 * - several recipients: curl goes on past a refused RCPT TO
 *   (CURLOPT_MAIL_RCPT_ALLOWFAILS); each RCPT TO is paired with its reply,
 *   and a send some recipients refused is MC_EPARTIAL naming them.
 * - a credential means authentication: curl skips AUTH silently when the
 *   server's EHLO offers none, so the pre-request callback (after connect
 *   and EHLO, before MAIL FROM) refuses to go on unauthenticated, unless
 *   smtp_auth = none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <strings.h>
#include "mailnet.h"
#include "trace.h"

/* curl 8.2 fixed the option's spelling; 7.88 (Debian 12) has the old one */
#if LIBCURL_VERSION_NUM >= 0x080200
#define MC__RCPT_ALLOWFAILS CURLOPT_MAIL_RCPT_ALLOWFAILS
#else
#define MC__RCPT_ALLOWFAILS CURLOPT_MAIL_RCPT_ALLLOWFAILS
#endif

typedef struct {
    mc__sender base; /* the sending half of the mail transport */
    CURL *curl;
    char *url, *username, *password, *ca_file, *ca_path;
    const struct mc__command *password_command; /* borrowed, as long as the transport */
    mc__auth_mech auth;
    bool never_auth; /* smtp_auth = none */
    mc_token_cb token_cb;
    void *token_user_data;
    bool verify;
    long use_ssl; /* CURLOPT_USE_SSL: fixed per transport */
    int tls_min;  /* 12 or 13: the TLS floor */
    int timeout_ms;
    char errbuf[CURL_ERROR_SIZE];
    mc__smtp_reply reply;   /* the server's first refusal (4xx/5xx) of a send, else its last reply */
    mc__smtp_reply outside; /* the same, of the replies to anything but RCPT TO */
    /* one send's recipients: the reply to each RCPT TO, in order */
    mc__smtp_reply *rcpt;
    size_t nrcpt, rcpt_sent;
    bool in_rcpt; /* the last command was RCPT TO */
    /* the connection: what its last EHLO offered, whether AUTH went out */
    bool in_ehlo, auth_offered, authenticated;
    bool need_auth;       /* this send has a credential to present */
    bool stopped_no_auth; /* the pre-request callback stopped the send */
    /* the steps shown at MC_LOG_INFO: the last command and its argument */
    int step;
    bool step_more; /* the server asked for more of an AUTH (334) */
    char step_arg[200];
    char tls[120];     /* curl's "SSL connection using ..." text */
    mc__tracer trace;  /* the wire trace (mc_trace_set_callback) */
    bool trace_secret; /* an AUTH exchange runs: what we send is secret */
} mc__smtp;

/* the commands whose replies are steps worth showing (-v) */
enum { STEP_NONE, STEP_STARTTLS, STEP_AUTH, STEP_MAIL, STEP_RCPT, STEP_DATA, STEP_BODY };

typedef struct {
    const char *data;
    size_t len, off;
    const mc__cancel_token *cancel;
    bool started;   /* curl asked for the mail: some of it may have reached the server */
    bool committed; /* the whole mail went out: too late to cancel */
} upload;

static size_t read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
    upload *u = arg;
    size_t n = size * nitems;
    u->started = true;
    if (u->cancel && atomic_load(u->cancel) && !u->committed)
        return CURL_READFUNC_ABORT;
    if (n > u->len - u->off)
        n = u->len - u->off;
    memcpy(buf, u->data + u->off, n);
    u->off += n;
    if (!n)
        u->committed = true;
    return n;
}

static int progress_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    upload *u = arg;
    (void)dt, (void)dn, (void)ut, (void)un;
    return u->cancel && atomic_load(u->cancel) && !u->committed;
}

/* an SMTP reply line's code: three digits, the first 1-5, then a space, a
 * hyphen (more lines follow) or the end; else 0 */
static int reply_code(const char *line, size_t len, bool *more)
{
    *more = false;
    if (len < 3 || line[0] < '1' || line[0] > '5' || line[1] < '0' || line[1] > '9' || line[2] < '0' ||
        line[2] > '9' || (len > 3 && line[3] != ' ' && line[3] != '-'))
        return 0;
    *more = len > 3 && line[3] == '-';
    return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

void mc__smtp_reply_note(mc__smtp_reply *r, const char *line, size_t len)
{
    bool more;
    int code;
    size_t used;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    code = reply_code(line, len, &more);
    if (r->more && code && code == r->code) {
        /* the next line of the same reply: its text after "NNN-", joined */
        used = strlen(r->text);
        if (len > 4 && used + 2 < sizeof(r->text)) {
            r->text[used++] = ' ';
            mc__printable(r->text + used, sizeof(r->text) - used, line + 4, len - 4);
        }
        r->more = more;
        return;
    }
    if (r->code >= 400)
        return; /* keep the first refusal: curl's RSET/QUIT replies would hide it */
    mc__printable(r->text, sizeof(r->text), line, len);
    r->code = code;
    r->more = more;
}

static bool command_is(const char *data, size_t size, const char *word)
{
    size_t n = strlen(word);
    return size >= n && !strncasecmp(data, word, n);
}

/* A command went out: only its first word is looked at (AUTH and its
 * continuations carry secrets, which are never copied). */
static void note_command(mc__smtp *s, const char *data, size_t size)
{
    s->in_rcpt = command_is(data, size, "RCPT TO:");
    if (s->in_rcpt && s->rcpt_sent < s->nrcpt)
        memset(&s->rcpt[s->rcpt_sent], 0, sizeof(s->rcpt[0]));
    if (s->in_rcpt)
        s->rcpt_sent++;
    s->in_ehlo = command_is(data, size, "EHLO ");
    if (s->in_ehlo) /* a new connection, or a new EHLO after STARTTLS */
        s->auth_offered = s->authenticated = false;
    if (command_is(data, size, "AUTH "))
        s->authenticated = true; /* curl fails the send itself if AUTH is refused */
}

/* "250-AUTH PLAIN LOGIN" (or the old "250-AUTH=PLAIN") in an EHLO reply */
static void note_ehlo(mc__smtp *s, const char *line, size_t len)
{
    if (len >= 8 && !strncmp(line, "250", 3) && (line[3] == '-' || line[3] == ' ') &&
        !strncasecmp(line + 4, "AUTH", 4) &&
        (len == 8 || line[8] == ' ' || line[8] == '=' || line[8] == '\r'))
        s->auth_offered = true;
}

/* The trace's redaction: the AUTH line keeps its mechanism, and every line
 * we send after it until the server's final reply (a 334 asks for more) is
 * a secret: the SASL responses of PLAIN, LOGIN and XOAUTH2. */
static bool redact(void *state, mc_trace_direction dir, char *line, size_t *len)
{
    mc__smtp *s = state;
    bool more;
    int code;
    if (dir == MC_TRACE_RECEIVED) {
        code = reply_code(line, *len, &more);
        if (s->trace_secret && code && code != 334 && !more)
            s->trace_secret = false;
        return false;
    }
    if (s->trace_secret) {
        mc__trace_redact_from(line, len, 0);
        return true;
    }
    if (command_is(line, *len, "AUTH ")) {
        size_t at = mc__trace_skip_words(line, *len, 2);
        s->trace_secret = true;
        if (at < *len) {
            mc__trace_redact_from(line, len, at);
            return true;
        }
    }
    return false;
}

/* what a command is, for the steps; AUTH keeps only its mechanism */
static void note_step_command(mc__smtp *s, const char *data, size_t size)
{
    static const struct {
        const char *word;
        int step;
    } words[] = {{"STARTTLS", STEP_STARTTLS},
                 {"AUTH ", STEP_AUTH},
                 {"MAIL FROM:", STEP_MAIL},
                 {"RCPT TO:", STEP_RCPT},
                 {"DATA", STEP_DATA}};
    size_t n = size;
    if (s->step_more) { /* a SASL response: the AUTH goes on */
        s->step_more = false;
        return;
    }
    s->step = STEP_NONE;
    for (size_t i = 0; i < MC_ARRAY_SIZE(words); i++)
        if (command_is(data, size, words[i].word))
            s->step = words[i].step;
    if (s->step == STEP_AUTH) /* "AUTH MECH": never the initial response */
        n = mc__trace_skip_words(data, size, 2);
    while (n && (data[n - 1] == '\n' || data[n - 1] == '\r' || data[n - 1] == ' '))
        n--;
    mc__printable(s->step_arg, sizeof(s->step_arg), data, n);
}

/* a final reply to a step's command: says what happened at MC_LOG_INFO */
static void note_step_reply(mc__smtp *s, const char *line, size_t len)
{
    char text[240];
    bool more;
    int code = reply_code(line, len, &more);
    if (!code || more || s->step == STEP_NONE || !mc__log_enabled(MC_LOG_INFO))
        return;
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    mc__printable(text, sizeof(text), line, len);
    if (s->step == STEP_DATA && code == 354) {
        s->step = STEP_BODY; /* the next reply answers the mail itself */
        return;
    }
    if (code == 334) {
        s->step_more = true; /* AUTH goes on */
        return;
    }
    if (s->step == STEP_STARTTLS)
        mc__log(MC_LOG_INFO, "SMTP %s: STARTTLS %s", s->url, code < 400 ? "accepted" : text);
    else if (s->step == STEP_AUTH)
        mc__log(MC_LOG_INFO, "SMTP %s: %s as %s: %s", s->url, s->step_arg, s->username,
                code < 400 ? "logged in" : text);
    else if (s->step == STEP_BODY)
        mc__log(MC_LOG_INFO, "SMTP %s: %s: %s", s->url, code < 400 ? "mail sent" : "mail refused", text);
    else
        mc__log(MC_LOG_INFO, "SMTP %s: %s: %s", s->url, s->step_arg, code < 400 ? "accepted" : text);
    s->step = STEP_NONE;
}

/* curl's own notes: connect and TLS are steps (-v); all go to the trace */
static void note_text(mc__smtp *s, const char *data, size_t size)
{
    while (size && (data[size - 1] == '\n' || data[size - 1] == '\r'))
        size--;
    mc__trace_note("smtp", "%.*s", (int)size, data);
    while (size && *data == ' ') {
        data++;
        size--;
    }
    if (command_is(data, size, "Connected to "))
        mc__log(MC_LOG_INFO, "SMTP %s: connected", s->url);
    else if (command_is(data, size, "SSL connection using ")) {
        mc__printable(s->tls, sizeof(s->tls), data + 21, size - 21);
        if (!s->verify)
            mc__log(MC_LOG_INFO, "SMTP %s: TLS established (%s); certificate NOT verified (tls_verify off)",
                    s->url, s->tls);
    } else if (s->verify && (command_is(data, size, "server certificate verification OK") ||
                             command_is(data, size, "SSL certificate verify ok")))
        mc__log(MC_LOG_INFO, "SMTP %s: TLS established (%s), certificate verified", s->url, s->tls);
}

/* Keeps the server's replies (never what we sent: that holds AUTH secrets),
 * follows the steps, and feeds the trace. */
static int debug_cb(CURL *c, curl_infotype type, char *data, size_t size, void *arg)
{
    mc__smtp *s = arg;
    (void)c;
    if (type == CURLINFO_TEXT)
        note_text(s, data, size);
    if (type == CURLINFO_HEADER_OUT || type == CURLINFO_DATA_OUT)
        mc__trace_data(&s->trace, MC_TRACE_SENT, data, size);
    if (type == CURLINFO_HEADER_IN)
        mc__trace_data(&s->trace, MC_TRACE_RECEIVED, data, size);
    if (type == CURLINFO_HEADER_OUT) {
        note_command(s, data, size);
        note_step_command(s, data, size);
    }
    if (type != CURLINFO_HEADER_IN)
        return 0;
    note_step_reply(s, data, size);
    if (s->in_ehlo)
        note_ehlo(s, data, size);
    if (s->in_rcpt && s->rcpt_sent && s->rcpt_sent <= s->nrcpt)
        mc__smtp_reply_note(&s->rcpt[s->rcpt_sent - 1], data, size);
    else
        mc__smtp_reply_note(&s->outside, data, size);
    mc__smtp_reply_note(&s->reply, data, size);
    return 0;
}

/* After connecting (EHLO, STARTTLS, AUTH), before MAIL FROM: a credential
 * that was not presented stops the send. */
static int prereq_cb(void *arg, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
    mc__smtp *s = arg;
    (void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
    if (s->need_auth && !s->authenticated) {
        s->stopped_no_auth = true;
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}

static char *opt_dup(const char *s) { return s && *s ? mc__strdup(s) : NULL; }

static void smtp_free(mc__sender *base);
static int smtp_send(mc__sender *base, const char *from, const char *const *to, size_t nto, const char *mail,
                     size_t len, const mc__cancel_token *cancel);

static const mc__sender_ops sender_ops = {
    .version = MC__SENDER_VERSION,
    .name = "smtp",
    .send = smtp_send,
    .free = smtp_free,
};

int mc__smtp_new(mc__sender **out, const mc__mail_config *cfg)
{
    mc__smtp *s = calloc(1, sizeof(*s));
    mc__buf url;
    unsigned port = cfg->smtp.port ? cfg->smtp.port : cfg->smtp.tls == MC__TLS_IMPLICIT ? 465 : 587;
    if (!s)
        return mc__error_set(MC_ENOMEM, "out of memory");
    s->base.ops = &sender_ops;
    mc__tracer_init(&s->trace, "smtp", redact, s);
    mc__buf_init(&url);
    /* an IPv6 literal needs brackets in a URL */
    mc__buf_printf(&url, strchr(cfg->smtp.host, ':') ? "%s://[%s]:%u" : "%s://%s:%u",
                   cfg->smtp.tls == MC__TLS_IMPLICIT ? "smtps" : "smtp", cfg->smtp.host, port);
    s->url = mc__buf_detach(&url, NULL);
    s->username = mc__strdup(cfg->username && *cfg->username ? cfg->username : cfg->address);
    s->password = opt_dup(cfg->password);
    s->password_command = cfg->password_command;
    s->ca_file = opt_dup(cfg->ca_file);
    s->ca_path = opt_dup(cfg->ca_path);
    s->auth = cfg->auth;
    s->never_auth = cfg->smtp_auth == MC__SMTP_AUTH_NONE;
    s->token_cb = cfg->token_cb;
    s->token_user_data = cfg->token_user_data;
    s->verify = cfg->verify;
    s->use_ssl = cfg->smtp.tls == MC__TLS_NONE ? (long)CURLUSESSL_NONE : (long)CURLUSESSL_ALL;
    s->tls_min = cfg->tls_min_version == 13 ? 13 : 12;
    s->timeout_ms = cfg->timeout_ms;
    if (!s->url || !s->username || (cfg->password && *cfg->password && !s->password) ||
        (cfg->ca_file && *cfg->ca_file && !s->ca_file) || (cfg->ca_path && *cfg->ca_path && !s->ca_path)) {
        smtp_free(&s->base);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    if (!(s->curl = curl_easy_init())) {
        smtp_free(&s->base);
        return mc__error_set(MC_ENOMEM, "cannot create a curl handle");
    }
    *out = &s->base;
    return 0;
}

/* Forgets the kept connection after a failed send: a new handle has none.
 * Cleaning up the old one sends QUIT if its connection still works; on a
 * dead one the write fails at once. */
static void drop_connection(mc__smtp *s)
{
    s->auth_offered = s->authenticated = false;
    if (s->curl)
        curl_easy_cleanup(s->curl);
    s->curl = curl_easy_init(); /* NULL (no memory): the next send tries again */
}

/* whether curl's handshake error says the versions did not meet: GnuTLS
 * names the alert ("Error in protocol version") or the server's choice
 * ("illegal or unsupported version"); OpenSSL says "alert protocol version"
 * or "unsupported protocol". curl has no code of its own for this. */
static bool version_refused(const char *what)
{
    return strstr(what, "protocol version") || strstr(what, "unsupported version") ||
           strstr(what, "unsupported protocol");
}

/* A TLS handshake that failed because the connection broke under it (a
 * reset or a close mid-handshake), not because of a certificate or a
 * version: GnuTLS's words for a transport failure, as libcurl passes them on. */
static bool tls_cut(const char *what)
{
    return strstr(what, "pull function") || strstr(what, "push function") ||
           strstr(what, "non-properly terminated") || strstr(what, "Connection reset") ||
           strstr(what, "Broken pipe") || strstr(what, "unexpected EOF");
}

static int map_error(mc__smtp *s, CURLcode cc)
{
    char what[CURL_ERROR_SIZE]; /* curl's text may quote the server: made printable too */
    const char *text = s->errbuf[0] ? s->errbuf : curl_easy_strerror(cc);
    mc__printable(what, sizeof(what), text, strnlen(text, sizeof(what) - 1));
    if (s->stopped_no_auth)
        return mc__error_set(
            MC_EAUTH,
            "SMTP %s: the server offers no authentication (no AUTH in its EHLO reply), and a "
            "password or token is set: not sending without authenticating (smtp_auth = none "
            "sends without)",
            s->url);
    switch (cc) {
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_READ_ERROR:
        return mc__error_set(MC_ECANCELED, "sending was cancelled");
    case CURLE_LOGIN_DENIED:
        return mc__error_set(MC_EAUTH, "SMTP authentication failed at %s: %s%s%s", s->url, what,
                             s->reply.text[0] ? "; server said: " : "", s->reply.text);
    case CURLE_SSL_CONNECT_ERROR:
        if (version_refused(what))
            return mc__error_set(MC_ETLS,
                                 "TLS with %s failed: the server offered only versions older than TLS 1.%d, "
                                 "the floor set by tls_min_version (%s)",
                                 s->url, s->tls_min - 10, what);
        if (tls_cut(what))
            return mc__error_set(MC_EIO, "SMTP %s: the connection broke during the TLS handshake (%s)",
                                 s->url, what);
        return mc__error_set(MC_ETLS, "TLS with %s failed: %s", s->url, what);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
        return mc__error_set(MC_ETLS, "TLS with %s failed: %s", s->url, what);
    case CURLE_OPERATION_TIMEDOUT:
        return mc__error_set(MC_ETIMEOUT, "SMTP %s timed out: %s", s->url, what);
    case CURLE_OUT_OF_MEMORY:
        return mc__error_set(MC_ENOMEM, "out of memory in curl");
    default:
        /* 4xx says "not now" (greylisting, a full queue): MC_EIO, which a
         * queued transport tries again; 5xx is final */
        if (s->reply.code >= 400 && s->reply.code < 500)
            return mc__error_set(MC_EIO, "the SMTP server %s refused the mail for now: %s", s->url,
                                 s->reply.text);
        if (s->reply.code >= 500)
            return mc__error_set(MC_EPROTO, "the SMTP server %s refused the mail: %s", s->url, s->reply.text);
        return mc__error_set(MC_EIO, "SMTP %s: %s", s->url, what);
    }
}

/* Whether a failed attempt may be made again on a new connection: only when
 * none of the mail can have reached the server, which cannot deliver what it
 * never had. curl asks for the mail only after the server's 354 to DATA, so
 * an attempt that never asked cannot have sent a byte of it; once it has
 * asked, the body (even its final dot) may be there, and a second attempt
 * could deliver twice. And only when the connection broke under us: curl
 * reports a server's refusal of MAIL/RCPT/DATA as CURLE_SEND_ERROR too, but
 * then there was a 4xx/5xx reply (a retry would meet the same refusal),
 * except 421, the server closing the connection. A TLS handshake that
 * failed is retried only when the connection broke under it: its other
 * causes (certificate, version) do not go away. */
static bool retryable(const mc__smtp *s, CURLcode cc, const upload *u)
{
    bool broke = cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING ||
                 cc == CURLE_WEIRD_SERVER_REPLY || (cc == CURLE_SSL_CONNECT_ERROR && tls_cut(s->errbuf));
    return broke && !u->started && (s->reply.code < 400 || s->reply.code == 421);
}

static void apply_options(mc__smtp *s)
{
    CURL *c = s->curl;
    curl_easy_setopt(c, CURLOPT_URL, s->url);
    curl_easy_setopt(c, CURLOPT_USE_SSL, s->use_ssl);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
    curl_easy_setopt(c, CURLOPT_VERBOSE, 1L); /* only to feed debug_cb the replies */
    curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, debug_cb);
    curl_easy_setopt(c, CURLOPT_DEBUGDATA, s);
    curl_easy_setopt(c, CURLOPT_PREREQFUNCTION, prereq_cb);
    curl_easy_setopt(c, CURLOPT_PREREQDATA, s);
    /* the recipients the server accepts get the mail; the refused are reported */
    curl_easy_setopt(c, MC__RCPT_ALLOWFAILS, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, s->verify ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, s->verify ? 2L : 0L);
    /* the floor holds for the handshake, so nothing (AUTH included) goes out below it */
    curl_easy_setopt(c, CURLOPT_SSLVERSION,
                     s->tls_min == 13 ? (long)CURL_SSLVERSION_TLSv1_3 : (long)CURL_SSLVERSION_TLSv1_2);
    if (s->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, s->ca_file);
    if (s->ca_path)
        curl_easy_setopt(c, CURLOPT_CAPATH, s->ca_path);
    if (s->timeout_ms > 0) {
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)s->timeout_ms);
        /* no progress for timeout_ms: the server is gone */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)((s->timeout_ms + 999) / 1000));
        curl_easy_setopt(c, CURLOPT_SERVER_RESPONSE_TIMEOUT, (long)((s->timeout_ms + 999) / 1000));
    }
}

/* the credential for this send (asked once, even when the send is retried) */
static int get_secret(mc__smtp *s, char **secret)
{
    mc__mail_config c = {0};
    c.password = s->password;
    c.password_command = s->password_command;
    c.auth = s->auth;
    c.token_cb = s->token_cb;
    c.token_user_data = s->token_user_data;
    return mc__credential(&c, secret);
}

static void set_auth(mc__smtp *s, const char *secret)
{
    s->need_auth = secret != NULL;
    if (!secret)
        return;
    curl_easy_setopt(s->curl, CURLOPT_USERNAME, s->username);
    if (s->auth == MC__AUTH_XOAUTH2 || (s->auth == MC__AUTH_AUTO && s->token_cb)) {
        curl_easy_setopt(s->curl, CURLOPT_XOAUTH2_BEARER, secret);
        curl_easy_setopt(s->curl, CURLOPT_LOGIN_OPTIONS, "AUTH=XOAUTH2");
    } else {
        curl_easy_setopt(s->curl, CURLOPT_PASSWORD, secret);
        curl_easy_setopt(s->curl, CURLOPT_LOGIN_OPTIONS,
                         s->auth == MC__AUTH_PLAIN   ? "AUTH=PLAIN"
                         : s->auth == MC__AUTH_LOGIN ? "AUTH=LOGIN"
                                                     : NULL);
    }
}

/* forgets the secret in curl's handle (our copy is the caller's to wipe) */
static void clear_auth(mc__smtp *s)
{
    if (!s->curl)
        return;
    curl_easy_setopt(s->curl, CURLOPT_PASSWORD, NULL);
    curl_easy_setopt(s->curl, CURLOPT_XOAUTH2_BEARER, NULL); /* "" would still select XOAUTH2 */
    curl_easy_setopt(s->curl, CURLOPT_MAIL_RCPT, NULL);
}

/* one attempt at a send on the handle's kept connection or a new one */
static CURLcode attempt(mc__smtp *s, upload *u, const char *from, struct curl_slist *rcpt, const char *secret)
{
    CURLcode cc;
    apply_options(s);
    set_auth(s, secret);
    curl_easy_setopt(s->curl, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(s->curl, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(s->curl, CURLOPT_READDATA, u);
    curl_easy_setopt(s->curl, CURLOPT_XFERINFODATA, u);
    curl_easy_setopt(s->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)u->len);
    u->off = 0;
    u->started = u->committed = false;
    s->errbuf[0] = 0;
    memset(&s->reply, 0, sizeof(s->reply));
    memset(&s->outside, 0, sizeof(s->outside));
    s->rcpt_sent = 0;
    s->in_rcpt = s->in_ehlo = s->stopped_no_auth = s->trace_secret = false;
    s->step = STEP_NONE;
    s->step_more = false;
    cc = curl_easy_perform(s->curl);
    mc__trace_flush(&s->trace, MC_TRACE_SENT);
    mc__trace_flush(&s->trace, MC_TRACE_RECEIVED);
    clear_auth(s);
    return cc;
}

/* After a send curl reports done: MC_EPARTIAL naming each recipient the
 * server refused, with its reply; 0 when none was. */
static int refused_recipients(mc__smtp *s, const char *const *to, size_t nto)
{
    mc__buf b;
    size_t refused = 0;
    char *text;
    int rc;
    mc__buf_init(&b);
    for (size_t i = 0; i < nto && i < s->rcpt_sent; i++) {
        char who[320];
        if (s->rcpt[i].code < 400)
            continue;
        mc__printable(who, sizeof(who), to[i], strlen(to[i]));
        mc__buf_printf(&b, "%s%s (%s)", refused++ ? ", " : "", who, s->rcpt[i].text);
    }
    if (!refused) {
        mc__buf_free(&b);
        return 0;
    }
    if (!(text = mc__buf_detach(&b, NULL)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    rc = mc__error_set(MC_EPARTIAL,
                       "the SMTP server %s delivered the mail to %zu of %zu recipients; refused by the "
                       "server: %s",
                       s->url, nto - refused, nto, text);
    free(text);
    return rc;
}

static int smtp_send(mc__sender *base, const char *from, const char *const *to, size_t nto, const char *mail,
                     size_t len, const mc__cancel_token *cancel)
{
    mc__smtp *s = (mc__smtp *)base;
    struct curl_slist *rcpt = NULL;
    upload u = {mail, len, 0, cancel, false, false};
    char *secret = NULL;
    CURLcode cc;
    int rc = 0;
    if (!nto)
        return mc__error_set(MC_EINVAL, "a mail needs at least one recipient");
    if (!s->curl && !(s->curl = curl_easy_init()))
        return mc__error_set(MC_ENOMEM, "cannot create a curl handle");
    for (size_t i = 0; i < nto; i++) {
        struct curl_slist *n = curl_slist_append(rcpt, to[i]);
        if (!n) {
            curl_slist_free_all(rcpt);
            return mc__error_set(MC_ENOMEM, "out of memory");
        }
        rcpt = n;
    }
    if (!(s->rcpt = calloc(nto, sizeof(*s->rcpt)))) {
        rc = mc__error_set(MC_ENOMEM, "out of memory");
        goto done;
    }
    s->nrcpt = nto;
    if (!s->never_auth && (rc = get_secret(s, &secret)))
        goto done;
    cc = attempt(s, &u, from, rcpt, secret);
    if (cc != CURLE_OK && retryable(s, cc, &u)) {
        /* the connection broke (a server restart, an idle timeout, a reset)
         * before any of the mail went out: once more, on a new connection */
        mc__log(MC_LOG_DEBUG, "SMTP %s: %s before the mail was sent; retrying on a new connection", s->url,
                s->errbuf[0] ? s->errbuf : curl_easy_strerror(cc));
        drop_connection(s);
        if (!s->curl) {
            rc = mc__error_set(MC_ENOMEM, "cannot create a curl handle");
            goto done;
        }
        cc = attempt(s, &u, from, rcpt, secret);
    }
    if (cc != CURLE_OK) {
        rc = map_error(s, cc);
    } else if (s->outside.code && s->outside.code / 100 != 2) {
        /* curl said yes but the final reply was not 2xx: never report success */
        rc = mc__error_set(s->outside.code / 100 == 4 ? MC_EIO : MC_EPROTO,
                           "the SMTP server %s did not accept the mail: %s", s->url, s->outside.text);
    } else {
        rc = refused_recipients(s, to, nto);
    }
    if (rc && rc != MC_EPARTIAL)
        drop_connection(s); /* after the error is taken from errbuf and reply */
done:
    free(s->rcpt);
    s->rcpt = NULL;
    s->nrcpt = 0;
    curl_slist_free_all(rcpt);
    mc__secret_free(secret);
    return rc;
}

static void smtp_free(mc__sender *base)
{
    mc__smtp *s = (mc__smtp *)base;
    if (!s)
        return;
    if (s->curl)
        curl_easy_cleanup(s->curl); /* sends QUIT on a live connection */
    free(s->url);
    free(s->username);
    mc__secret_free(s->password);
    free(s->ca_file);
    free(s->ca_path);
    free(s);
}
