/* imap.c - receiving from an IMAP mailbox with libetpan.
 *
 * One session per transport. The core calls the receiver from one thread at
 * a time (transport_int.h), the IDLE wait included, and ends that wait
 * through wake_fd when another thread needs the session: no lock here.
 *
 * - TLS: STARTTLS or implicit TLS; the server's certificate chain and host
 *   name are verified with OpenSSL (tlsverify.c) before LOGIN or
 *   AUTHENTICATE sends anything secret. COMPRESS is never enabled.
 * - Folder: service_folder, or the Inbox while it does not exist (checked
 *   again at every query, so a folder made later is picked up). Names are
 *   resolved in the server's personal namespace, in modified UTF-7
 *   (imapfolders.c).
 * - Ids are "<UIDVALIDITY>.<UID>": a changed UIDVALIDITY makes every old id
 *   unknown, so nothing is deleted or moved by a stale UID.
 * - list: UID SEARCH UNDELETED, then one UID FETCH of RFC822.SIZE,
 *   INTERNALDATE and the Subject header for UIDs not seen before. The core
 *   reads bodies only of stamped mail, at most the size limit (partial fetch).
 * - remove: UID STORE +FLAGS.SILENT (\Deleted) then UID EXPUNGE of exactly
 *   those UIDs (UIDPLUS). Without UIDPLUS: EXPUNGE only when no other mail
 *   carries \Deleted, else our mail stays flagged (it is excluded from every
 *   listing, and the next EXPUNGE by any client removes it).
 * - move (after_receive = move, dead_letter_folder): UID MOVE of the batch
 *   to the named folder, resolved in the namespace and made by CREATE when
 *   LIST does not show it (once per session); without MOVE, UID COPY then
 *   remove as below.
 * - move_to_trash: UID MOVE to the trash imapfolders.c finds once per
 *   session (\Trash, deleted_folder, well-known names, else CREATE), UID
 *   COPY + remove where MOVE is missing.
 * - A broken connection drops the session; the next call reconnects. What
 *   the core holds (cached mail, ids waiting for deletion) keeps its ids.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <libetpan/libetpan.h>
#include "imapconn.h"
#include "imapfolders.h"
#include "mailnet.h"

typedef struct {
    size_t size;
    int64_t arrived_ms;
    char *headers;
    char *body; /* read ahead, until the core asks for it */
    size_t body_len;
    bool prefetched;
    bool stamped; /* the core says its Subject carries the stamp */
} meta;

typedef struct {
    mc__receiver base;   /* the receiving half of the mail transport */
    mc__mail_config cfg; /* strings below are owned copies */
    char *host, *username, *password, *ca_file, *ca_path, *service, *deleted;
    mailimap *s;                 /* NULL: disconnected */
    mc__imap_conn *conn;         /* below s: socket, TLS, guard; owned by s */
    _Atomic int64_t deadline;    /* a caller's deadline for all I/O (monotonic ms); 0: none */
    unsigned long arrivals_seen; /* the guard's EXISTS count at the last UID SEARCH */
    bool greeted;                /* this server has sent a greeting before */
    bool swept;                  /* this session looked for mail a dead receiver left flagged */
    char *folder;                /* the selected folder */
    bool fallback;
    mc__imap_folders fold; /* namespace, resolved names, this session's trash */
    uint32_t uidvalidity;
    bool has_uidplus, has_move, has_idle, has_condstore;
    uint64_t modseq; /* CONDSTORE: the mod-sequence the listing has seen up to; 0 none */
    bool listed_once;
    mc__strmap meta; /* uid (decimal) -> meta */
    /* the listing cursor: UIDs below next_uid were listed in this session
     * and folder; EXPUNGEs not ours since the last listing void it */
    bool cursor_ok;
    uint32_t next_uid;
    unsigned long own_expunges, foreign_at_list;
} mc__imap;

/* ---- small helpers ---- */

/* The first cell of a list libetpan returned, which may be NULL when the
 * server answered OK without the data (a search without "* SEARCH"). */
static clistiter *first(clist *l) { return l ? clist_begin(l) : NULL; }

static void meta_free(void *p)
{
    meta *m = p;
    if (m) {
        free(m->headers);
        free(m->body);
        free(m);
    }
}

/* EXPUNGE responses that our own commands did not cause: mail left the
 * folder behind our back, so the next listing is full. */
static unsigned long foreign_expunges(const mc__imap *m)
{
    return mc__imap_conn_guard(m->conn)->expunges - m->own_expunges;
}

/* After a command of ours that expunges at most n mails. */
static void expunged_by_us(mc__imap *m, unsigned long before, size_t n)
{
    unsigned long d = mc__imap_conn_guard(m->conn)->expunges - before;
    m->own_expunges += d < n ? d : n;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned port_of(const mc__imap *m)
{
    return m->cfg.imap.port ? m->cfg.imap.port : m->cfg.imap.tls == MC__TLS_IMPLICIT ? 993 : 143;
}

/* The server's text of its last reply, printable ASCII only. */
static const char *server_said(const mc__imap *m, char *buf, size_t cap)
{
    const char *t = m->s && m->s->imap_response ? m->s->imap_response : "";
    mc__printable(buf, cap, t, strlen(t));
    return buf;
}

/* Drops the session; the next call reconnects. */
static void disconnect(mc__imap *m)
{
    if (!m->s)
        return;
    mailimap_free(m->s); /* closes the stream and frees the connection under it */
    m->s = NULL;
    m->conn = NULL;
}

/* A libetpan result as an MC_E* code naming the step and the cause; a
 * broken stream drops the session. */
static int imap_error(mc__imap *m, int r, const char *step)
{
    mc__io_cause cause = m->conn ? mc__imap_conn_cause(m->conn) : MC__IO_OK;
    char said[201], why[200];
    unsigned port = port_of(m);
    int code;
    snprintf(why, sizeof(why), "%s", m->conn ? mc__imap_conn_cause_text(m->conn) : "");
    switch (r) {
    case MAILIMAP_ERROR_MEMORY:
        return mc__error_set(MC_ENOMEM, "out of memory in IMAP %s", step);
    case MAILIMAP_ERROR_STREAM:
    case MAILIMAP_ERROR_PARSE:
    case MAILIMAP_ERROR_FATAL:
    case MAILIMAP_ERROR_BAD_STATE:
    case MAILIMAP_ERROR_CONNECTION_REFUSED:
    case MAILIMAP_ERROR_DONT_ACCEPT_CONNECTION:
    case MAILIMAP_ERROR_SSL:
    case MAILIMAP_ERROR_STARTTLS:
        break;
    default:
        return mc__error_set(MC_EPROTO, "IMAP %s:%u: %s: refused by the server: %s", m->host, port, step,
                             server_said(m, said, sizeof(said)));
    }
    disconnect(m);
    switch (cause) {
    case MC__IO_TIMEOUT:
        code = MC_ETIMEOUT;
        break;
    case MC__IO_LIMIT:
        code = MC_EPROTO;
        break;
    case MC__IO_TLS:
        code = MC_ETLS;
        break;
    case MC__IO_OK:
        /* the bytes arrived but libetpan could not parse them */
        return mc__error_set(r == MAILIMAP_ERROR_FATAL ? MC_EIO : MC_EPROTO,
                             "IMAP %s:%u: %s: %s; dropping the connection", m->host, port, step,
                             r == MAILIMAP_ERROR_FATAL ? "the server said BYE"
                                                       : "the server's reply does not parse");
    default:
        code = MC_EIO;
    }
    return mc__error_set(code, "IMAP %s:%u: %s: %s%s", m->host, port, step,
                         cause == MC__IO_TIMEOUT ? "timed out: "
                         : cause == MC__IO_LIMIT ? "protocol: "
                                                 : "",
                         why);
}

/* ---- connecting ---- */

static mc__imap_conn_options conn_options(mc__imap *m)
{
    mc__imap_conn_options o = {
        .host = m->host,
        .port = port_of(m),
        .timeout_ms = m->cfg.timeout_ms,
        .tls_min_version = m->cfg.tls_min_version,
        .deadline = &m->deadline,
    };
    return o;
}

/* Test and fuzz hook: when set, connections use this socket instead of TCP. */
int (*mc__imap_test_socket)(void);

/* TCP (or the test socket), then TLS when implicit, then the greeting. */
static int open_stream(mc__imap *m)
{
    mc__imap_conn_options o = conn_options(m);
    mc__imap_conn *c;
    mailstream *st;
    int rc, r;
    if (mc__imap_test_socket)
        rc = mc__imap_conn_from_fd(&c, mc__imap_test_socket(), &o);
    else
        rc = mc__imap_conn_open(&c, &o);
    if (rc)
        return rc;
    if (m->cfg.imap.tls == MC__TLS_IMPLICIT && (rc = mc__imap_conn_start_tls(c, NULL))) {
        mc__imap_conn_free(c);
        return rc;
    }
    /* a STARTTLS or plain-text mode on the implicit-TLS port waits for a
     * greeting that never comes: say so early */
    if (m->cfg.imap.tls != MC__TLS_IMPLICIT && o.port == 993 && m->cfg.timeout_ms > 5000)
        mc__imap_conn_set_timeout(c, 5000);
    if (!(st = mc__imap_conn_stream(c)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    if (!(m->s = mailimap_new(0, NULL))) {
        mailstream_close(st);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    m->conn = c;
    r = mailimap_connect(m->s, st); /* the session owns the stream from here */
    mc__imap_conn_set_timeout(c, m->cfg.timeout_ms);
    if (r == MAILIMAP_NO_ERROR || r == MAILIMAP_NO_ERROR_NON_AUTHENTICATED ||
        r == MAILIMAP_NO_ERROR_AUTHENTICATED)
        m->greeted = true;
    else {
        /* a hint only for a server that never greeted us: one that did
         * and went silent is not on the wrong port */
        bool silent = mc__imap_conn_cause(c) == MC__IO_TIMEOUT && !m->greeted;
        char first[400];
        rc = imap_error(m, r, "greeting");
        disconnect(m);
        if (silent && m->cfg.imap.tls != MC__TLS_IMPLICIT) {
            snprintf(first, sizeof(first), "%s", mc_error_last());
            rc =
                mc__error_set(rc, "%s (if port %u expects TLS at once, as 993 does, set imap_security = tls)",
                              first, o.port);
        }
        return rc;
    }
    if (m->cfg.imap.tls == MC__TLS_STARTTLS) {
        if ((r = mailimap_starttls(m->s)) != MAILIMAP_NO_ERROR) {
            char said[201];
            rc = r == MAILIMAP_ERROR_STARTTLS || r == MAILIMAP_ERROR_EXTENSION
                     ? mc__error_set(MC_ETLS, "IMAP %s:%u: STARTTLS: refused by the server: %s", m->host,
                                     o.port, server_said(m, said, sizeof(said)))
                     : imap_error(m, r, "STARTTLS");
            disconnect(m);
            return rc;
        }
        if ((rc = mc__imap_conn_start_tls(c, m->s->imap_stream))) {
            disconnect(m);
            return rc;
        }
    }
    return 0;
}

static int authenticate(mc__imap *m)
{
    char *secret = NULL;
    const char *user = m->username;
    int r, rc;
    bool oauth = m->cfg.auth == MC__AUTH_XOAUTH2 || (m->cfg.auth == MC__AUTH_AUTO && m->cfg.token_cb);
    if ((rc = mc__credential(&m->cfg, &secret)))
        return rc;
    if (!secret)
        return mc__error_set(MC_EAUTH, "IMAP needs a password or a token for %s", user);
    r = oauth ? mailimap_oauth2_authenticate(m->s, user, secret) : mailimap_login(m->s, user, secret);
    mc__secret_free(secret);
    if (r == MAILIMAP_NO_ERROR || r == MAILIMAP_NO_ERROR_AUTHENTICATED) {
        mc__log(MC_LOG_INFO, "IMAP %s:%u: logged in as %s (%s)", m->host, port_of(m), user,
                oauth ? "AUTHENTICATE XOAUTH2" : "LOGIN");
        return 0;
    }
    if (r == MAILIMAP_ERROR_LOGIN || r == MAILIMAP_ERROR_SASL || r == MAILIMAP_ERROR_PROTOCOL ||
        r == MAILIMAP_ERROR_EXTENSION) {
        /* the server's text names the reason, never our secret */
        char said[201];
        rc = mc__error_set(MC_EAUTH, "IMAP %s:%u: login as %s: refused by the server: %s", m->host,
                           port_of(m), user, server_said(m, said, sizeof(said)));
        disconnect(m);
        return rc;
    }
    return imap_error(m, r, "login");
}

static int fail_cb(void *ctx, int r, const char *step) { return imap_error(ctx, r, step); }

/* LIST "" "*": finds the service folder and candidates for the trash. */
static int find_folders(mc__imap *m, bool *service_exists)
{
    return mc__imap_folders_list(&m->fold, m->s, service_exists, fail_cb, m);
}

static int select_folder(mc__imap *m, const char *folder)
{
    uint64_t modseq = 0;
    /* with CONDSTORE the folder's HIGHESTMODSEQ comes with it (0: NOMODSEQ) */
    int r =
        m->has_condstore ? mailimap_select_condstore(m->s, folder, &modseq) : mailimap_select(m->s, folder);
    uint32_t v;
    if (r != MAILIMAP_NO_ERROR)
        return imap_error(m, r, "SELECT");
    v = m->s->imap_selection_info ? m->s->imap_selection_info->sel_uidvalidity : 0;
    if (v != m->uidvalidity || !m->folder || strcmp(m->folder, folder)) {
        if (m->uidvalidity && v != m->uidvalidity)
            mc__log(MC_LOG_WARN, "IMAP folder %s: UIDVALIDITY changed (%u -> %u); forgetting its UIDs",
                    folder, m->uidvalidity, v);
        mc__strmap_free(&m->meta, meta_free);
        mc__strmap_init(&m->meta);
        m->uidvalidity = v;
    }
    if (mc__set_str(&m->folder, folder))
        return mc__error_set(MC_ENOMEM, "out of memory");
    mc__log(MC_LOG_INFO, "IMAP %s:%u: selected folder \"%s\" (%u messages)", m->host, port_of(m), folder,
            m->s->imap_selection_info ? m->s->imap_selection_info->sel_exists : 0);
    m->fallback = strcmp(folder, m->fold.service) != 0;
    m->cursor_ok = false;
    m->next_uid = 0;
    m->modseq = modseq;
    return 0;
}

static int connect_session(mc__imap *m)
{
    unsigned port = port_of(m);
    bool service_exists;
    int r, rc;
    if ((rc = open_stream(m)))
        return rc;
    /* verify before any credential leaves */
    if (m->cfg.imap.tls != MC__TLS_NONE && m->cfg.verify &&
        (rc = mc__imap_conn_verify(m->conn, m->ca_file, m->ca_path))) {
        disconnect(m);
        return rc;
    }
    if (m->cfg.imap.tls != MC__TLS_NONE)
        mc__log(MC_LOG_INFO, "IMAP %s:%u: certificate %s", m->host, port,
                m->cfg.verify ? "verified (chain and host name)" : "NOT verified (tls_verify off)");
    if ((rc = authenticate(m)))
        return rc;
    {
        /* after login: servers announce more then (libetpan keeps its own copy) */
        struct mailimap_capability_data *cap = NULL;
        mc__imap_guard_expect_capability(mc__imap_conn_guard(m->conn));
        r = mailimap_capability(m->s, &cap);
        if (cap)
            mailimap_capability_data_free(cap);
        if (r != MAILIMAP_NO_ERROR)
            return imap_error(m, r, "CAPABILITY");
    }
    m->has_uidplus = mailimap_has_extension(m->s, "UIDPLUS");
    m->has_condstore = mailimap_has_condstore(m->s);
    m->has_move = mailimap_has_extension(m->s, "MOVE");
    m->has_idle = mailimap_has_idle(m->s);
    m->swept = false;
    m->cursor_ok = false; /* a new connection: its guard counts from 0 */
    m->own_expunges = m->foreign_at_list = 0;
    if ((rc = mc__imap_folders_start(&m->fold, m->s, m->service, m->deleted, fail_cb, m)) ||
        (rc = find_folders(m, &service_exists)))
        return rc;
    if (!service_exists)
        mc__log(MC_LOG_INFO, "IMAP folder \"%s\" does not exist; watching INBOX", m->fold.service_shown);
    if ((rc = select_folder(m, service_exists ? m->fold.service : "INBOX")))
        return rc;
    mc__log(MC_LOG_DEBUG, "IMAP %s:%u: watching %s (UIDPLUS %d, MOVE %d, IDLE %d)", m->host, port, m->folder,
            m->has_uidplus, m->has_move, m->has_idle);
    return 0;
}

static int ensure_session(mc__imap *m)
{
    int rc;
    if (m->s)
        return 0;
    /* a session is usable only complete: connected, logged in, a folder selected */
    if ((rc = connect_session(m)))
        disconnect(m);
    return rc;
}

/* ---- ids ---- */

static bool parse_id(const mc__imap *m, const char *id, uint32_t *uid)
{
    unsigned long v, u;
    char *end;
    errno = 0;
    v = strtoul(id, &end, 10);
    if (errno || *end != '.' || v != m->uidvalidity)
        return false;
    u = strtoul(end + 1, &end, 10);
    if (errno || *end || !u || u > UINT32_MAX)
        return false;
    *uid = (uint32_t)u;
    return true;
}

static char *make_id(const mc__imap *m, uint32_t uid)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%u.%u", m->uidvalidity, uid);
    return mc__strdup(buf);
}

/* ---- the backend operations ---- */

static int imap_open(mc__receiver *r) { return ensure_session((mc__imap *)r); }

static int64_t internaldate_ms(const struct mailimap_date_time *d)
{
    struct tm tm = {0};
    int zone = d->dt_zone, off;
    tm.tm_year = d->dt_year - 1900;
    tm.tm_mon = d->dt_month - 1;
    tm.tm_mday = d->dt_day;
    tm.tm_hour = d->dt_hour;
    tm.tm_min = d->dt_min;
    tm.tm_sec = d->dt_sec;
    off = (zone / 100) * 3600 + (zone % 100) * 60;
    /* INTERNALDATE has whole seconds: take the end of the second, so mail
     * that arrived just after a listener opened never looks older */
    return ((int64_t)timegm(&tm) - off) * 1000 + 999;
}

/* Records size, arrival and Subject of each FETCH response. */
static int take_fetch(mc__imap *m, clist *result)
{
    for (clistiter *it = first(result); it; it = clist_next(it)) {
        struct mailimap_msg_att *att = clist_content(it);
        uint32_t uid = 0;
        meta *x = calloc(1, sizeof(*x));
        char key[16];
        if (!x)
            return mc__error_set(MC_ENOMEM, "out of memory");
        x->arrived_ms = now_ms();
        for (clistiter *i = first(att->att_list); i; i = clist_next(i)) {
            struct mailimap_msg_att_item *item = clist_content(i);
            struct mailimap_msg_att_static *st;
            if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
                continue;
            st = item->att_data.att_static;
            switch (st->att_type) {
            case MAILIMAP_MSG_ATT_UID:
                uid = st->att_data.att_uid;
                break;
            case MAILIMAP_MSG_ATT_RFC822_SIZE:
                x->size = st->att_data.att_rfc822_size;
                break;
            case MAILIMAP_MSG_ATT_INTERNALDATE:
                /* the first listing of a session reports what was there; later
                 * listings see new mail within moments, by our own clock */
                if (!m->listed_once && st->att_data.att_internal_date)
                    x->arrived_ms = internaldate_ms(st->att_data.att_internal_date);
                break;
            case MAILIMAP_MSG_ATT_BODY_SECTION: {
                struct mailimap_msg_att_body_section *b = st->att_data.att_body_section;
                if (b->sec_body_part && !x->headers) {
                    x->headers = mc__strndup(b->sec_body_part, b->sec_length);
                    x->stamped = mc__mail_stamped(b->sec_body_part, b->sec_length);
                }
                break;
            }
            default:
                break;
            }
        }
        snprintf(key, sizeof(key), "%u", uid);
        if (uid) {
            /* a server may repeat FETCH data for one UID: the last one counts */
            void *old;
            if (mc__strmap_remove(&m->meta, key, &old))
                meta_free(old);
        }
        if (!uid || mc__strmap_put(&m->meta, key, x)) {
            meta_free(x);
            if (uid)
                return mc__error_set(MC_ENOMEM, "out of memory");
        }
    }
    return 0;
}

/* Sets the guard's limits for the next command's reply (0: the defaults). */
static void expect(mc__imap *m, size_t literal, size_t reply)
{
    mc__imap_limits lim = mc__imap_default_limits;
    if (literal > lim.max_literal)
        lim.max_literal = literal;
    if (reply > lim.max_reply)
        lim.max_reply = reply;
    if (m->conn)
        mc__imap_guard_begin(mc__imap_conn_guard(m->conn), &lim);
}

#define HEADER_MAX 16384u /* octets of a Subject header field read per mail */
#define HEADER_BATCH 256  /* UIDs per header FETCH: bounds one reply */

/* UID FETCH of size, arrival and (at most HEADER_MAX octets of) the Subject
 * field of nuids UIDs. */
static int fetch_headers(mc__imap *m, struct mailimap_set *set, size_t nuids, clist **result)
{
    struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
    clist *hdrs = clist_new();
    char *subject = strdup("Subject");
    struct mailimap_header_list *hl;
    struct mailimap_section *sec;
    int r;
    if (!ft || !hdrs || !subject || clist_append(hdrs, subject) < 0) {
        free(subject);
        if (hdrs)
            clist_free(hdrs);
        if (ft)
            mailimap_fetch_type_free(ft);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    hl = mailimap_header_list_new(hdrs);
    sec = mailimap_section_new_header_fields(hl);
    mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid());
    mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_rfc822_size());
    mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_internaldate());
    /* at most HEADER_MAX octets of the Subject field: the server cannot send more */
    mailimap_fetch_type_new_fetch_att_list_add(
        ft, mailimap_fetch_att_new_body_peek_section_partial(sec, 0, HEADER_MAX));
    expect(m, HEADER_MAX, (size_t)nuids * (HEADER_MAX + 1024) + (1u << 20));
    r = mailimap_uid_fetch(m->s, set, ft, result);
    expect(m, 0, 0);
    mailimap_fetch_type_free(ft);
    return r == MAILIMAP_NO_ERROR ? 0 : imap_error(m, r, "UID FETCH");
}

static int fetch_new(mc__imap *m, struct mailimap_set *set, size_t nuids)
{
    clist *result = NULL;
    int rc = fetch_headers(m, set, nuids, &result);
    if (!rc)
        rc = take_fetch(m, result);
    if (result)
        mailimap_fetch_list_free(result);
    return rc;
}

/* A query while watching the Inbox as fallback: has the service folder appeared? */
static int recheck_folder(mc__imap *m)
{
    bool exists;
    int rc;
    if (!m->fallback)
        return 0;
    if ((rc = find_folders(m, &exists)))
        return rc;
    if (!exists)
        return 0;
    mc__log(MC_LOG_INFO, "IMAP folder \"%s\" exists now; watching it instead of INBOX",
            m->fold.service_shown);
    return select_folder(m, m->fold.service);
}

static int by_uid(const void *a, const void *b)
{
    unsigned long x = strtoul(strchr(((const mc__mail_item *)a)->id, '.') + 1, NULL, 10);
    unsigned long y = strtoul(strchr(((const mc__mail_item *)b)->id, '.') + 1, NULL, 10);
    return x < y ? -1 : x > y;
}

/* the UID and body section of one FETCH response */
static void fetched(struct mailimap_msg_att *att, uint32_t *uid, struct mailimap_msg_att_body_section **body)
{
    *uid = 0;
    *body = NULL;
    for (clistiter *i = first(att->att_list); i; i = clist_next(i)) {
        struct mailimap_msg_att_item *item = clist_content(i);
        struct mailimap_msg_att_static *st;
        if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
            continue;
        st = item->att_data.att_static;
        if (st->att_type == MAILIMAP_MSG_ATT_UID)
            *uid = st->att_data.att_uid;
        else if (st->att_type == MAILIMAP_MSG_ATT_BODY_SECTION &&
                 st->att_data.att_body_section->sec_body_part)
            *body = st->att_data.att_body_section;
    }
}

static struct mailimap_search_key *search_key(int type)
{
    return mailimap_search_key_new(type, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                   NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL,
                                   NULL);
}

/* UNDELETED (OR SUBJECT "[net.mail]" HEADER X-Net-Mail-Channel ""): the
 * server filters, so mail without the stamp costs the receiver nothing per
 * query however much of it the folder holds (servers decode RFC 2047 for
 * SUBJECT; the header, present on every mail mailchan frames, matches
 * whatever its encoding). What the server finds is still classified by the
 * core, which alone decides what is stamped. */
static struct mailimap_search_key *stamped_key(void)
{
    struct mailimap_search_key *all = mailimap_search_key_new_multiple_empty(), *undeleted, *subject = NULL,
                               *header = NULL, *either = NULL;
    char *stamp = strdup(MC_SUBJECT_STAMP), *name = strdup("X-Net-Mail-Channel"), *any = strdup("");
    if (!all || !stamp || !name || !any)
        goto fail;
    if (!(subject = mailimap_search_key_new_subject(stamp)))
        goto fail;
    stamp = NULL;
    if (!(header = mailimap_search_key_new_header(name, any)))
        goto fail;
    name = any = NULL;
    if (!(either = mailimap_search_key_new_or(subject, header)))
        goto fail;
    subject = header = NULL;
    if (!(undeleted = search_key(MAILIMAP_SEARCH_KEY_UNDELETED)) ||
        mailimap_search_key_multiple_add(all, undeleted) != MAILIMAP_NO_ERROR) {
        if (undeleted)
            mailimap_search_key_free(undeleted);
        goto fail;
    }
    if (mailimap_search_key_multiple_add(all, either) != MAILIMAP_NO_ERROR)
        goto fail;
    return all;
fail:
    free(stamp);
    free(name);
    free(any);
    if (subject)
        mailimap_search_key_free(subject);
    if (header)
        mailimap_search_key_free(header);
    if (either)
        mailimap_search_key_free(either);
    if (all)
        mailimap_search_key_free(all);
    return NULL;
}

/* A receiver killed between its UID STORE \Deleted and its UID EXPUNGE
 * leaves that batch flagged: no listing shows it again, so no receiver would
 * ever expunge it. Once per session, stamped mail flagged \Deleted in the
 * watched folder is expunged (UIDPLUS only: never anyone else's mail). */
static int sweep_leftovers(mc__imap *m)
{
    struct mailimap_search_key *key = search_key(MAILIMAP_SEARCH_KEY_DELETED);
    struct mailimap_set *flagged = NULL, *ours = NULL;
    clist *uids = NULL, *result = NULL;
    size_t n = 0;
    int r, rc = 0;
    m->swept = true;
    if (!m->has_uidplus)
        goto done;
    if (!key || !(flagged = mailimap_set_new_empty()) || !(ours = mailimap_set_new_empty())) {
        rc = mc__error_set(MC_ENOMEM, "out of memory");
        goto done;
    }
    if ((r = mailimap_uid_search(m->s, NULL, key, &uids)) != MAILIMAP_NO_ERROR) {
        rc = imap_error(m, r, "UID SEARCH DELETED");
        goto done;
    }
    for (clistiter *it = first(uids); it && n < HEADER_BATCH; it = clist_next(it), n++)
        if (mailimap_set_add_single(flagged, *(uint32_t *)clist_content(it)) != MAILIMAP_NO_ERROR) {
            rc = mc__error_set(MC_ENOMEM, "out of memory");
            goto done;
        }
    if (!n || (rc = fetch_headers(m, flagged, n, &result)))
        goto done;
    n = 0;
    for (clistiter *it = first(result); it; it = clist_next(it)) {
        struct mailimap_msg_att_body_section *b;
        uint32_t uid;
        fetched(clist_content(it), &uid, &b);
        if (uid && b && mc__mail_stamped(b->sec_body_part, b->sec_length) &&
            mailimap_set_add_single(ours, uid) == MAILIMAP_NO_ERROR)
            n++;
    }
    if (n) {
        mc__log(MC_LOG_INFO,
                "IMAP folder %s: expunging %zu received mail(s) a stopped receiver left flagged "
                "\\Deleted",
                m->folder, n);
        unsigned long before = mc__imap_conn_guard(m->conn)->expunges;
        if ((r = mailimap_uid_expunge(m->s, ours)) != MAILIMAP_NO_ERROR)
            rc = imap_error(m, r, "UID EXPUNGE");
        else
            expunged_by_us(m, before, n);
    }
done:
    if (result)
        mailimap_fetch_list_free(result);
    if (uids)
        mailimap_search_result_free(uids);
    if (key)
        mailimap_search_key_free(key);
    if (flagged)
        mailimap_set_free(flagged);
    if (ours)
        mailimap_set_free(ours);
    return rc;
}

/* The search of a listing: stamped (or all undeleted) mail; from the
 * cursor on when listing incrementally. */
static struct mailimap_search_key *listing_key(mc__imap *m, bool incremental)
{
    struct mailimap_search_key *base, *all, *uid;
    struct mailimap_set *from;
    base = m->cfg.search_stamp ? stamped_key() : search_key(MAILIMAP_SEARCH_KEY_UNDELETED);
    if (!base || !incremental)
        return base;
    all = mailimap_search_key_new_multiple_empty();
    from = mailimap_set_new_interval(m->next_uid, 0); /* next_uid:* */
    uid = from ? mailimap_search_key_new_uid(from) : NULL;
    if (!uid && from)
        mailimap_set_free(from);
    if (!all || !uid || mailimap_search_key_multiple_add(all, uid) != MAILIMAP_NO_ERROR) {
        if (uid)
            mailimap_search_key_free(uid);
        goto fail;
    }
    if (mailimap_search_key_multiple_add(all, base) != MAILIMAP_NO_ERROR)
        goto fail;
    return all;
fail:
    mailimap_search_key_free(base);
    if (all)
        mailimap_search_key_free(all);
    return NULL;
}

static int add_item(mc__imap *m, mc__mail_item *out, size_t *n, const char *k, const meta *x)
{
    mc__mail_item *it = &out[*n];
    it->id = make_id(m, (uint32_t)strtoul(k, NULL, 10));
    it->size = x->size;
    it->arrived_ms = x->arrived_ms;
    it->headers = x->headers ? mc__strdup(x->headers) : NULL;
    if (!it->id || (x->headers && !it->headers)) {
        free(it->id);
        free(it->headers);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    (*n)++;
    return 0;
}

/* What one FETCH response of flagged_since says: the UID, whether the mail
 * carries \\Deleted, and its mod-sequence. */
static void changed(struct mailimap_msg_att *att, uint32_t *uid, bool *deleted, uint64_t *modseq)
{
    *uid = 0;
    *deleted = false;
    *modseq = 0;
    for (clistiter *i = first(att->att_list); i; i = clist_next(i)) {
        struct mailimap_msg_att_item *item = clist_content(i);
        if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC &&
            item->att_data.att_static->att_type == MAILIMAP_MSG_ATT_UID) {
            *uid = item->att_data.att_static->att_data.att_uid;
        } else if (item->att_type == MAILIMAP_MSG_ATT_ITEM_DYNAMIC && item->att_data.att_dyn) {
            for (clistiter *f = first(item->att_data.att_dyn->att_list); f; f = clist_next(f)) {
                struct mailimap_flag_fetch *ff = clist_content(f);
                if (ff->fl_type == MAILIMAP_FLAG_FETCH_OTHER && ff->fl_flag &&
                    ff->fl_flag->fl_type == MAILIMAP_FLAG_DELETED)
                    *deleted = true;
            }
        } else if (item->att_type == MAILIMAP_MSG_ATT_ITEM_EXTENSION && item->att_data.att_extension_data &&
                   item->att_data.att_extension_data->ext_extension == &mailimap_extension_condstore &&
                   item->att_data.att_extension_data->ext_type == MAILIMAP_CONDSTORE_TYPE_FETCH_DATA) {
            struct mailimap_condstore_fetch_mod_resp *mr = item->att_data.att_extension_data->ext_data;
            if (mr)
                *modseq = mr->cs_modseq_value;
        }
    }
}

/* Incremental listing with CONDSTORE (RFC 7162): mail listed before that
 * another client flagged \\Deleted since the last listing has left the
 * folder for us; reported in l->gone. One UID FETCH (FLAGS) CHANGEDSINCE:
 * the answer holds only what changed. */
static int flagged_since(mc__imap *m, mc__listing *l)
{
    struct mailimap_set *set = mailimap_set_new_interval(1, 0);
    struct mailimap_fetch_type *ft = mailimap_fetch_type_new_fetch_att_list_empty();
    struct mailimap_fetch_att *fa = NULL;
    clist *result = NULL;
    size_t n = 0;
    int r, rc = 0;
    if (!set || !ft || !(fa = mailimap_fetch_att_new_flags()) ||
        mailimap_fetch_type_new_fetch_att_list_add(ft, fa) != MAILIMAP_NO_ERROR) {
        if (fa)
            mailimap_fetch_att_free(fa);
        rc = mc__error_set(MC_ENOMEM, "out of memory");
        goto done;
    }
    expect(m, 0, 0);
    if ((r = mailimap_uid_fetch_changedsince(m->s, set, ft, m->modseq, &result)) != MAILIMAP_NO_ERROR) {
        rc = imap_error(m, r, "UID FETCH CHANGEDSINCE");
        goto done;
    }
    for (clistiter *it = first(result); it; it = clist_next(it))
        n++;
    if (n && !(l->gone = calloc(n, sizeof(char *)))) {
        rc = mc__error_set(MC_ENOMEM, "out of memory");
        goto done;
    }
    for (clistiter *it = first(result); it; it = clist_next(it)) {
        uint32_t uid;
        bool deleted;
        uint64_t modseq;
        char k[16];
        void *v;
        changed(clist_content(it), &uid, &deleted, &modseq);
        if (modseq > m->modseq)
            m->modseq = modseq;
        snprintf(k, sizeof(k), "%u", uid);
        if (!uid || !deleted || !mc__strmap_remove(&m->meta, k, &v))
            continue; /* not flagged, or never listed, or ours already gone */
        meta_free(v);
        if (!(l->gone[l->ngone] = make_id(m, uid))) {
            rc = mc__error_set(MC_ENOMEM, "out of memory");
            goto done;
        }
        l->ngone++;
    }
done:
    if (result)
        mailimap_fetch_list_free(result);
    if (ft)
        mailimap_fetch_type_free(ft);
    if (set)
        mailimap_set_free(set);
    return rc;
}

/* Full listing: forget the metadata of mail that is gone. */
static void forget_absent(mc__imap *m, const mc__strmap *present)
{
    for (size_t i = 0; i < m->meta.cap; i++) {
        void *v;
        const char *k = mc__strmap_slot(&m->meta, i, &v);
        bool found = false;
        if (k)
            mc__strmap_get(present, k, &found);
        if (k && !found) {
            mc__strmap_remove(&m->meta, k, NULL);
            meta_free(v);
        }
    }
}

/* The mail a listing returns: all known (full) or those in `listed`. */
static int listing_items(mc__imap *m, const mc__strmap *listed, bool full, mc__listing *l)
{
    const mc__strmap *from = full ? &m->meta : listed;
    size_t n = 0;
    int rc = 0;
    if (!(l->items = calloc(from->count ? from->count : 1, sizeof(*l->items))))
        return mc__error_set(MC_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < from->cap; i++) {
        const char *k = mc__strmap_slot(from, i, NULL);
        const meta *x = k ? mc__strmap_get(&m->meta, k, NULL) : NULL;
        if (x)
            rc = add_item(m, l->items, &n, k, x);
    }
    l->count = n;
    /* oldest first: UIDs grow with arrival */
    qsort(l->items, n, sizeof(*l->items), by_uid);
    return rc;
}

/* Lists the folder. The first listing of a session (or of a folder, or of
 * a UIDVALIDITY), and any after mail left the folder behind our back, is
 * full; otherwise only UIDs from the cursor on are searched, so a query
 * costs the same however much mail the folder holds. */
static int imap_list(mc__receiver *self, mc__listing *l)
{
    mc__imap *m = (mc__imap *)self;
    struct mailimap_search_key *key = NULL;
    struct mailimap_set *fresh = NULL;
    clist *uids = NULL;
    mc__strmap listed;
    size_t nfresh = 0;
    uint32_t top = 0;
    bool incremental;
    int r, rc;
    mc__strmap_init(&listed);
    if ((rc = ensure_session(m)) || (rc = recheck_folder(m)) || (!m->swept && (rc = sweep_leftovers(m))))
        goto done;
    incremental = m->cursor_ok && m->next_uid && foreign_expunges(m) == m->foreign_at_list;
    if (!(key = listing_key(m, incremental)) || !(fresh = mailimap_set_new_empty())) {
        rc = mc__error_set(MC_ENOMEM, "out of memory");
        goto done;
    }
    /* EXISTS from here on is news for the next wait (mail that lands while
     * this query runs is not left waiting for the next interval) */
    m->arrivals_seen = mc__imap_conn_guard(m->conn)->arrivals;
    m->foreign_at_list = foreign_expunges(m);
    if ((r = mailimap_uid_search(m->s, NULL, key, &uids)) != MAILIMAP_NO_ERROR) {
        rc = imap_error(m, r, "UID SEARCH");
        goto done;
    }
    for (clistiter *it = first(uids); it; it = clist_next(it)) {
        uint32_t uid = *(uint32_t *)clist_content(it);
        char k[16];
        if (incremental && uid < m->next_uid)
            continue; /* "n:*" always matches the last mail */
        top = uid > top ? uid : top;
        snprintf(k, sizeof(k), "%u", uid);
        if (mc__strmap_put(&listed, k, NULL)) {
            rc = mc__error_set(MC_ENOMEM, "out of memory");
            goto done;
        }
        if (mc__strmap_get(&m->meta, k, NULL))
            continue;
        if (mailimap_set_add_single(fresh, uid) != MAILIMAP_NO_ERROR) {
            rc = mc__error_set(MC_ENOMEM, "out of memory");
            goto done;
        }
        if (++nfresh == HEADER_BATCH) {
            if ((rc = fetch_new(m, fresh, nfresh)))
                goto done;
            mailimap_set_free(fresh);
            nfresh = 0;
            if (!(fresh = mailimap_set_new_empty())) {
                rc = mc__error_set(MC_ENOMEM, "out of memory");
                goto done;
            }
        }
    }
    if (nfresh && (rc = fetch_new(m, fresh, nfresh)))
        goto done;
    if (!incremental)
        forget_absent(m, &listed);
    else if (m->has_condstore && m->modseq && (rc = flagged_since(m, l)))
        goto done;
    if ((rc = listing_items(m, &listed, !incremental, l)))
        goto done;
    l->full = !incremental;
    if (top >= m->next_uid)
        m->next_uid = top + 1;
    m->cursor_ok = true;
    m->listed_once = true;
done:
    if (uids)
        mailimap_search_result_free(uids);
    if (key)
        mailimap_search_key_free(key);
    if (fresh)
        mailimap_set_free(fresh);
    mc__strmap_free(&listed, NULL);
    return rc;
}

#define READ_AHEAD 32

/* Reads one mail; with it, in the same command, up to READ_AHEAD other new
 * mails that look stamped and fit the limit, which the core asks for next:
 * one round trip for a batch instead of one per mail. */
static int imap_fetch(mc__receiver *self, const char *id, size_t max, char **data, size_t *len,
                      bool *truncated)
{
    mc__imap *m = (mc__imap *)self;
    struct mailimap_set *set = NULL;
    struct mailimap_fetch_type *ft = NULL;
    struct mailimap_section *sec;
    clist *result = NULL;
    uint32_t uid;
    char k[16];
    meta *x;
    int r, rc = 0, ahead = 0;
    bool got = false;
    uint32_t ask = max >= UINT32_MAX ? UINT32_MAX : (uint32_t)max + 1; /* one more: tells truncation */
    if ((rc = ensure_session(m)))
        return rc;
    if (!parse_id(m, id, &uid))
        return mc__error_set(MC_ENOTFOUND, "mail %s is not in the watched folder", id);
    snprintf(k, sizeof(k), "%u", uid);
    x = mc__strmap_get(&m->meta, k, NULL);
    if (x && x->body && x->body_len <= max) {
        *data = x->body;
        *len = x->body_len;
        *truncated = false;
        x->body = NULL;
        mc__log(MC_LOG_INFO, "IMAP %s:%u: fetched mail UID %u (%zu octets, read ahead)", m->host, port_of(m),
                uid, *len);
        return 0;
    }
    *truncated = x && x->size > max;
    if (!(set = mailimap_set_new_single(uid)) || !(ft = mailimap_fetch_type_new_fetch_att_list_empty()) ||
        !(sec = mailimap_section_new(NULL))) {
        rc = mc__error_set(MC_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; !*truncated && ahead < READ_AHEAD && i < m->meta.cap; i++) {
        void *v;
        const char *key = mc__strmap_slot(&m->meta, i, &v);
        meta *y = v;
        if (!key || y == x || y->prefetched || y->size > max || !y->stamped)
            continue;
        if (mailimap_set_add_single(set, (uint32_t)strtoul(key, NULL, 10)) != MAILIMAP_NO_ERROR) {
            rc = mc__error_set(MC_ENOMEM, "out of memory");
            goto done;
        }
        y->prefetched = true;
        ahead++;
    }
    mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid());
    /* always a partial fetch: the server may send at most what we asked for,
     * whatever RFC822.SIZE said, and the guard holds it to that */
    mailimap_fetch_type_new_fetch_att_list_add(ft,
                                               mailimap_fetch_att_new_body_peek_section_partial(sec, 0, ask));
    expect(m, ask, (size_t)(ahead + 1) * ((size_t)ask + 4096) + (1u << 20));
    r = mailimap_uid_fetch(m->s, set, ft, &result);
    expect(m, 0, 0);
    if (r != MAILIMAP_NO_ERROR) {
        rc = imap_error(m, r, "UID FETCH");
        goto done;
    }
    rc = mc__error_set(MC_ENOTFOUND, "mail %s is gone", id);
    for (clistiter *it = first(result); it; it = clist_next(it)) {
        struct mailimap_msg_att_body_section *b;
        uint32_t u;
        fetched(clist_content(it), &u, &b);
        if (!b)
            continue;
        if (u == uid && got)
            continue; /* a repeated FETCH for this UID changes nothing */
        if (u != uid) {
            meta *y;
            snprintf(k, sizeof(k), "%u", u);
            if ((y = mc__strmap_get(&m->meta, k, NULL)) && !y->body && b->sec_length <= max &&
                (y->body = mc__strndup(b->sec_body_part, b->sec_length)))
                y->body_len = b->sec_length;
            continue;
        }
        *len = b->sec_length > max ? max : b->sec_length;
        if (!(*data = mc__strndup(b->sec_body_part, *len))) {
            rc = mc__error_set(MC_ENOMEM, "out of memory");
            goto done;
        }
        if (b->sec_length > max)
            *truncated = true;
        got = true;
        rc = 0;
        mc__log(MC_LOG_INFO, "IMAP %s:%u: fetched mail UID %u (%zu octets%s)", m->host, port_of(m), uid, *len,
                *truncated ? ", truncated" : "");
    }
done:
    if (result)
        mailimap_fetch_list_free(result);
    if (ft)
        mailimap_fetch_type_free(ft);
    if (set)
        mailimap_set_free(set);
    return rc;
}

/* Without UIDPLUS: EXPUNGE only if nothing but our mail carries \Deleted. */
static int expunge_safely(mc__imap *m, const mc__strmap *mine)
{
    struct mailimap_search_key *key;
    clist *flagged = NULL;
    bool foreign = false;
    unsigned long before;
    int r;
    key = search_key(MAILIMAP_SEARCH_KEY_DELETED);
    if (!key)
        return mc__error_set(MC_ENOMEM, "out of memory");
    r = mailimap_uid_search(m->s, NULL, key, &flagged);
    mailimap_search_key_free(key);
    if (r != MAILIMAP_NO_ERROR)
        return imap_error(m, r, "UID SEARCH DELETED");
    for (clistiter *it = first(flagged); it && !foreign; it = clist_next(it)) {
        char k[16];
        bool found = false;
        snprintf(k, sizeof(k), "%u", *(uint32_t *)clist_content(it));
        mc__strmap_get(mine, k, &found);
        foreign = !found;
    }
    mailimap_search_result_free(flagged);
    if (foreign) {
        mc__log(MC_LOG_INFO, "IMAP server has no UIDPLUS and other mail is flagged \\Deleted: "
                             "leaving ours flagged for the next EXPUNGE");
        return 0;
    }
    before = mc__imap_conn_guard(m->conn)->expunges;
    if ((r = mailimap_expunge(m->s)) != MAILIMAP_NO_ERROR)
        return imap_error(m, r, "EXPUNGE");
    expunged_by_us(m, before, mine->count);
    return 0;
}

/* The UIDs of these ids in the selected folder (set and the map mine);
 * ids of an older UIDVALIDITY are passed over. *n: how many. */
static int uid_set(mc__imap *m, const char *const *ids, size_t count, const char *what,
                   struct mailimap_set **set, mc__strmap *mine, size_t *n)
{
    *n = 0;
    if (!(*set = mailimap_set_new_empty()))
        return mc__error_set(MC_ENOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        uint32_t uid;
        char k[16];
        if (!parse_id(m, ids[i], &uid)) {
            mc__log(MC_LOG_INFO, "not %s %s: it belongs to an older UIDVALIDITY", what, ids[i]);
            continue;
        }
        snprintf(k, sizeof(k), "%u", uid);
        if (mailimap_set_add_single(*set, uid) != MAILIMAP_NO_ERROR || mc__strmap_put(mine, k, NULL))
            return mc__error_set(MC_ENOMEM, "out of memory");
        (*n)++;
    }
    return 0;
}

/* what the session knew about mail that left the folder */
static void forget_uids(mc__imap *m, const mc__strmap *mine)
{
    for (size_t i = 0; i < mine->cap; i++) {
        void *v;
        const char *k = mc__strmap_slot(mine, i, NULL);
        if (k && mc__strmap_remove(&m->meta, k, &v))
            meta_free(v);
    }
}

static int imap_remove(mc__receiver *self, const char *const *ids, size_t count)
{
    mc__imap *m = (mc__imap *)self;
    struct mailimap_set *set = NULL;
    struct mailimap_flag_list *flags = NULL;
    struct mailimap_store_att_flags *st = NULL;
    mc__strmap mine;
    size_t n = 0;
    int r, rc = 0;
    mc__strmap_init(&mine);
    if ((rc = ensure_session(m)))
        return rc;
    if ((rc = uid_set(m, ids, count, "deleting", &set, &mine, &n)) || !n)
        goto done;
    if (!(flags = mailimap_flag_list_new_empty()) ||
        mailimap_flag_list_add(flags, mailimap_flag_new_deleted()) != MAILIMAP_NO_ERROR ||
        !(st = mailimap_store_att_flags_new_add_flags_silent(flags))) {
        if (flags && !st)
            mailimap_flag_list_free(flags);
        rc = mc__error_set(MC_ENOMEM, "out of memory");
        goto done;
    }
    if ((r = mailimap_uid_store(m->s, set, st)) != MAILIMAP_NO_ERROR) {
        rc = imap_error(m, r, "UID STORE \\Deleted");
        goto done;
    }
    if (m->has_uidplus) {
        unsigned long before = mc__imap_conn_guard(m->conn)->expunges;
        if ((r = mailimap_uid_expunge(m->s, set)) != MAILIMAP_NO_ERROR) {
            rc = imap_error(m, r, "UID EXPUNGE");
            goto done;
        }
        expunged_by_us(m, before, count);
    } else if ((rc = expunge_safely(m, &mine))) {
        goto done;
    }
    forget_uids(m, &mine);
    mc__log(MC_LOG_INFO, "IMAP %s:%u: deleted %zu mail(s) (UID STORE \\Deleted, %s)", m->host, port_of(m), n,
            m->has_uidplus ? "UID EXPUNGE" : "EXPUNGE");
done:
    if (st)
        mailimap_store_att_flags_free(st);
    if (set)
        mailimap_set_free(set);
    mc__strmap_free(&mine, NULL);
    return rc;
}

static void forget_target(mc__imap *m, const char *folder)
{
    void *v = NULL;
    if (mc__strmap_remove(&m->fold.targets, folder, &v))
        free(v);
}

static int imap_move(mc__receiver *self, const char *const *ids, size_t count, const char *folder)
{
    mc__imap *m = (mc__imap *)self;
    struct mailimap_set *set = NULL;
    const char *wire;
    mc__strmap mine;
    size_t n = 0;
    int r, rc;
    mc__strmap_init(&mine);
    if ((rc = ensure_session(m)))
        return rc;
    if ((rc = mc__imap_folders_target(&m->fold, m->s, folder, &wire, fail_cb, m)))
        return rc;
    if (!strcmp(wire, m->folder))
        return mc__error_set(MC_EINVAL, "folder \"%s\" is the watched folder", folder);
    if ((rc = uid_set(m, ids, count, "moving", &set, &mine, &n)) || !n)
        goto done;
    if (m->has_move) {
        unsigned long before = mc__imap_conn_guard(m->conn)->expunges;
        if ((r = mailimap_uid_move(m->s, set, wire)) != MAILIMAP_NO_ERROR) {
            forget_target(m, folder); /* made sure of again next time (deleted meanwhile?) */
            rc = imap_error(m, r, "UID MOVE");
            goto done;
        }
        expunged_by_us(m, before, n);
        forget_uids(m, &mine);
    } else if ((r = mailimap_uid_copy(m->s, set, wire)) != MAILIMAP_NO_ERROR) {
        forget_target(m, folder);
        rc = imap_error(m, r, "UID COPY");
    } else {
        rc = imap_remove(self, ids, count);
    }
done:
    if (set)
        mailimap_set_free(set);
    mc__strmap_free(&mine, NULL);
    return rc;
}

static int imap_move_to_trash(mc__receiver *self, const char *id, const char **folder)
{
    mc__imap *m = (mc__imap *)self;
    struct mailimap_set *set;
    const char *trash;
    uint32_t uid;
    int r, rc;
    if ((rc = ensure_session(m)))
        return rc;
    if (!parse_id(m, id, &uid))
        return mc__error_set(MC_ENOTFOUND, "mail %s is not in the watched folder", id);
    if ((rc = mc__imap_folders_trash(&m->fold, m->s, &trash, folder, fail_cb, m)))
        return rc;
    if (!(set = mailimap_set_new_single(uid)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    if (m->has_move) {
        unsigned long before = mc__imap_conn_guard(m->conn)->expunges;
        r = mailimap_uid_move(m->s, set, trash);
        mailimap_set_free(set);
        if (r != MAILIMAP_NO_ERROR)
            return imap_error(m, r, "UID MOVE");
        expunged_by_us(m, before, 1);
        mc__log(MC_LOG_INFO, "IMAP %s:%u: moved mail UID %u to \"%s\"", m->host, port_of(m), uid, trash);
        return 0;
    }
    r = mailimap_uid_copy(m->s, set, trash);
    mailimap_set_free(set);
    if (r != MAILIMAP_NO_ERROR)
        return imap_error(m, r, "UID COPY");
    mc__log(MC_LOG_INFO, "IMAP %s:%u: copied mail UID %u to \"%s\"", m->host, port_of(m), uid, trash);
    return imap_remove(self, &id, 1);
}

static void sleep_on(int wake_fd, int timeout_ms)
{
    struct pollfd p = {wake_fd, POLLIN, 0};
    poll(&p, 1, timeout_ms);
}

/* New mail was announced (EXISTS) since the last UID SEARCH began, or a
 * reply is already waiting in a buffer that poll() cannot see. */
static bool news(mc__imap *m)
{
    return m->conn && mc__imap_conn_guard(m->conn)->arrivals != m->arrivals_seen;
}

static bool buffered(mc__imap *m)
{
    return m->conn && (m->s->imap_stream->read_buffer_len || mc__imap_conn_pending(m->conn));
}

/* One IDLE: until the server says something, wake_fd, or the slice
 * ends; then DONE, whose answer proves the server is alive (the watchdog).
 * *done: stop idling (news, woken, error). */
static int idle_once(mc__imap *m, int slice_ms, int wake_fd, bool *done)
{
    struct pollfd p[2];
    int r, rc = 0;
    *done = true;
    expect(m, 0, 0); /* the IDLE's reply is counted from here */
    if ((r = mailimap_idle(m->s)) != MAILIMAP_NO_ERROR)
        return imap_error(m, r, "IDLE");
    if (!news(m) && !buffered(m)) {
        p[0] = (struct pollfd){mc__imap_conn_fd(m->conn), POLLIN, 0};
        p[1] = (struct pollfd){wake_fd, POLLIN, 0};
        /* woken (the core needs the session, or a listener opened): stop.
         * The server spoke or the slice ended: DONE probes it, and idling
         * goes on unless it was new mail (flags, keep-alives are no reason
         * to query). */
        *done = poll(p, 2, slice_ms) > 0 && !p[0].revents;
    }
    if ((r = mailimap_idle_done(m->s)) != MAILIMAP_NO_ERROR) {
        *done = true;
        return imap_error(m, r, "IDLE DONE");
    }
    if (news(m))
        rc = *done = 1;
    return rc;
}

static int imap_wait(mc__receiver *r, int timeout_ms, int wake_fd)
{
    mc__imap *m = (mc__imap *)r;
    int64_t deadline;
    int rc = 0;
    if (timeout_ms < 0 || timeout_ms > m->cfg.idle_ms)
        timeout_ms = m->cfg.idle_ms; /* IDLE is re-issued at least this often */
    deadline = mc__mono_ms() + timeout_ms;
    if (news(m))
        return 1; /* announced during the commands since the last search */
    if (!m->s || !m->cfg.idle || !m->has_idle || !m->s->imap_selection_info) {
        sleep_on(wake_fd, timeout_ms);
        return 0;
    }
    mc__log(MC_LOG_INFO, "IMAP %s:%u: IDLE in \"%s\" (up to %d s)", m->host, port_of(m), m->folder,
            (timeout_ms + 999) / 1000);
    for (bool done = false; !done && m->s;) {
        int64_t left = deadline - mc__mono_ms();
        /* probe at least every `timeout`: a silent server is noticed in time */
        int slice = (int)(left < m->cfg.timeout_ms ? left : m->cfg.timeout_ms);
        if (slice <= 0)
            break;
        if ((rc = idle_once(m, slice, wake_fd, &done)) < 0)
            mc__log(MC_LOG_WARN, "%s", mc_error_last());
    }
    if (rc > 0)
        mc__log(MC_LOG_INFO, "IMAP %s:%u: IDLE woken: new mail announced", m->host, port_of(m));
    else
        mc__log(MC_LOG_DEBUG, "IMAP %s:%u: IDLE ended", m->host, port_of(m));
    return rc;
}

static void imap_set_deadline(mc__receiver *r, int64_t deadline_ms)
{
    atomic_store(&((mc__imap *)r)->deadline, deadline_ms);
}

static void imap_close(mc__receiver *r)
{
    mc__imap *m = (mc__imap *)r;
    if (m->s) {
        /* LOGOUT is a courtesy: it may not hold up closing beyond `timeout` */
        int64_t before = atomic_load(&m->deadline);
        if (!before)
            atomic_store(&m->deadline, mc__mono_ms() + m->cfg.timeout_ms);
        mailimap_logout(m->s);
        atomic_store(&m->deadline, before);
    }
    disconnect(m);
}

static void imap_free(mc__receiver *r)
{
    mc__imap *m = (mc__imap *)r;
    if (!m)
        return;
    imap_close(r);
    mc__strmap_free(&m->meta, meta_free);
    free(m->host);
    free(m->username);
    mc__secret_free(m->password);
    free(m->ca_file);
    free(m->ca_path);
    free(m->service);
    free(m->deleted);
    free(m->folder);
    mc__imap_folders_free(&m->fold);
    free(m);
}

static const mc__receiver_ops receiver_ops = {
    .version = MC__RECEIVER_VERSION,
    .name = "imap",
    .open = imap_open,
    .list = imap_list,
    .fetch = imap_fetch,
    .claim = NULL, /* several receivers on one mailbox do not coordinate over IMAP yet */
    .remove = imap_remove,
    .move_to_trash = imap_move_to_trash,
    .wait = imap_wait,
    .close = imap_close,
    .free = imap_free,
    .set_deadline = imap_set_deadline,
    .move = imap_move,
};

static char *copy_or_empty(const char *s) { return mc__strdup(s ? s : ""); }

int mc__imap_new(mc__receiver **out, const mc__mail_config *cfg)
{
    mc__imap *m = calloc(1, sizeof(*m));
    if (!m)
        return mc__error_set(MC_ENOMEM, "out of memory");
    m->base.ops = &receiver_ops;
    mc__strmap_init(&m->meta);
    m->cfg = *cfg;
    m->host = copy_or_empty(cfg->imap.host);
    m->username = copy_or_empty(cfg->username && *cfg->username ? cfg->username : cfg->address);
    m->password = copy_or_empty(cfg->password);
    m->ca_file = copy_or_empty(cfg->ca_file);
    m->ca_path = copy_or_empty(cfg->ca_path);
    m->service = copy_or_empty(cfg->service_folder);
    m->deleted = copy_or_empty(cfg->deleted_folder);
    if (!m->host || !m->username || !m->password || !m->ca_file || !m->ca_path || !m->service ||
        !m->deleted) {
        imap_free(&m->base);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    /* the copy's pointers now refer to our own strings */
    m->cfg.imap.host = m->host;
    m->cfg.username = m->username;
    m->cfg.password = m->password;
    m->cfg.ca_file = m->ca_file;
    m->cfg.ca_path = m->ca_path;
    m->cfg.service_folder = m->service;
    m->cfg.deleted_folder = m->deleted;
    m->cfg.smtp.host = NULL;
    if (m->cfg.idle_ms <= 0)
        m->cfg.idle_ms = 9 * 60 * 1000;
    *out = &m->base;
    return 0;
}
