/* test_multiserver.c - the mail binding against the multi-server stage of
 * tests/multiserver (start.sh DIR; its env.sh exported into the
 * environment; tests/run.sh does both): mail sent through Exim (submission
 * with STARTTLS and AUTH, verified against the stage's CA) and received
 * with mailchan's IMAP receiver from each IMAP server of the stage in turn:
 * Cyrus 3.6, Courier 5.0, and Courier again through its instance whose
 * CAPABILITY lacks UIDPLUS. Skipped (exit 77) without the stage.
 *
 * What a user observes is read back from the servers by another IMAP
 * client (libcurl), never from mailchan: where mail is, its flags. Every test
 * starts from empty folders; each uses its own channel name per server.
 * Both Courier instances serve the same Maildirs. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include "net_helpers.h"

#define MC_ARRAY_N(a) (sizeof(a) / sizeof((a)[0]))

typedef struct {
    const char *name;    /* for messages and channel names */
    const char *restart; /* restart-imap.sh's name of it */
    const char *port_env;
    const char *env;     /* CYRUS or COURIER: the users' variables */
    const char *service; /* the watched folder as the server names it */
    const char *trash;   /* where malformed mail must go */
    bool uidplus;
} server;

static const server servers[] = {
    /* altnamespace, "/" separator: no prefix; Trash is marked \Trash */
    {"cyrus", "cyrus", "MCX_CYRUS_IMAP_PORT", "CYRUS", "Service E-mail", "Trash", true},
    /* namespace "INBOX." with "."; no SPECIAL-USE: Trash by its name */
    {"courier", "courier", "MCX_COURIER_IMAP_PORT", "COURIER", "INBOX.Service E-mail", "INBOX.Trash", true},
    {"nouidplus", "courier-nouidplus", "MCX_COURIER_NOUIDPLUS_IMAP_PORT", "COURIER", "INBOX.Service E-mail",
     "INBOX.Trash", false},
};

/* the filing user (stamped mail filed into "Service E-mail") or the inbox
 * user (no such folder) */
typedef enum { FILING, INBOX_USER } who;

static const char *user_env(const server *s, who w, const char *what)
{
    static char name[8][64];
    static int slot;
    char *n = name[slot++ % 8];
    snprintf(n, 64, "MCX_%s_%s_%s", s->env, w == FILING ? "FILING" : "INBOX", what);
    return test_env(n);
}

/* ---- the log: every line the library logs during a test ---- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char *log_text;
static size_t log_len;
static bool log_verbose;

static void log_cb(mc_log_level level, const char *message, void *user_data)
{
    size_t n = strlen(message);
    char *grown;
    (void)user_data;
    if (log_verbose)
        mc_log_stderr(level, message, NULL);
    pthread_mutex_lock(&log_lock);
    if ((grown = realloc(log_text, log_len + n + 2))) {
        log_text = grown;
        memcpy(log_text + log_len, message, n);
        log_len += n;
        log_text[log_len++] = '\n';
        log_text[log_len] = 0;
    }
    pthread_mutex_unlock(&log_lock);
}

static void log_clear(void)
{
    pthread_mutex_lock(&log_lock);
    log_len = 0;
    if (log_text)
        log_text[0] = 0;
    pthread_mutex_unlock(&log_lock);
}

static bool log_has(const char *needle)
{
    bool found;
    pthread_mutex_lock(&log_lock);
    found = log_text && strstr(log_text, needle);
    pthread_mutex_unlock(&log_lock);
    return found;
}

/* waits (bounded) for a line containing needle */
static bool await_log(const char *needle, int ms)
{
    for (int64_t end = now_ms() + ms; !log_has(needle) && now_ms() < end;)
        sleep_ms(50);
    if (!log_has(needle)) {
        fprintf(stderr, "not in the log: \"%s\"; the log:\n%s", needle, log_text ? log_text : "");
        return false;
    }
    return true;
}

/* ---- another IMAP client (libcurl), to see what a user sees ---- */

typedef struct {
    char *data;
    size_t len;
} strbuf;

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    strbuf *t = arg;
    char *grown = realloc(t->data, t->len + size * n + 1);
    if (!grown)
        return 0;
    t->data = grown;
    memcpy(t->data + t->len, p, size * n);
    t->len += size * n;
    t->data[t->len] = 0;
    return size * n;
}

static CURL *imap_handle(const server *s, who w, const char *folder, strbuf *out)
{
    CURL *c = curl_easy_init();
    char url[512], *esc = folder ? curl_easy_escape(c, folder, 0) : NULL;
    snprintf(url, sizeof(url), "imap://127.0.0.1:%s/%s", test_env(s->port_env), esc ? esc : "");
    curl_free(esc);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    curl_easy_setopt(c, CURLOPT_CAINFO, test_env("MCX_CA"));
    curl_easy_setopt(c, CURLOPT_USERNAME, user_env(s, w, "USER"));
    curl_easy_setopt(c, CURLOPT_PASSWORD, user_env(s, w, "PW"));
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    return c;
}

/* one command in folder (NULL: none selected); the untagged answers,
 * malloc'ed */
static char *imap_cmd(const server *s, who w, const char *folder, const char *cmd)
{
    strbuf out = {calloc(1, 1), 0};
    CURL *c = imap_handle(s, w, folder, &out);
    CURLcode cc;
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, cmd);
    if ((cc = curl_easy_perform(c)) != CURLE_OK)
        fail_msg("%s: %s in %s: %s", s->name, cmd, folder ? folder : "-", curl_easy_strerror(cc));
    curl_easy_cleanup(c);
    return out.data;
}

/* the UIDs "UID SEARCH criteria" finds, as an IMAP set ("" for none) */
static char *imap_uids(const server *s, who w, const char *folder, const char *criteria)
{
    char cmd[512], *ans, *p, *set;
    size_t n = 0;
    snprintf(cmd, sizeof(cmd), "UID SEARCH %s", criteria);
    ans = imap_cmd(s, w, folder, cmd);
    set = calloc(1, strlen(ans) + 1);
    assert_non_null(set);
    if ((p = strstr(ans, "* SEARCH")))
        for (p += 8; *p && *p != '\r' && *p != '\n'; p++) {
            if (*p >= '0' && *p <= '9')
                set[n++] = *p;
            else if (*p == ' ' && n && set[n - 1] != ',')
                set[n++] = ',';
        }
    if (n && set[n - 1] == ',')
        n--;
    set[n] = 0;
    free(ans);
    return set;
}

static int imap_count(const server *s, who w, const char *folder, const char *criteria)
{
    char *set = imap_uids(s, w, folder, criteria);
    int n = *set ? 1 : 0;
    for (char *p = set; *p; p++)
        n += *p == ',';
    free(set);
    return n;
}

/* waits (bounded: 15 s) until imap_count() == want; returns the last count */
static int await_count(const server *s, who w, const char *folder, const char *criteria, int want)
{
    int n = -1;
    for (int i = 0; i < 150 && (n = imap_count(s, w, folder, criteria)) != want; i++)
        sleep_ms(100);
    return n;
}

/* the flags of the mail with that UID, as the server lists them */
static char *imap_flags(const server *s, who w, const char *folder, const char *uid)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "UID FETCH %s (FLAGS)", uid);
    return imap_cmd(s, w, folder, cmd);
}

/* everything in folder expunged, as another client would */
static void imap_empty(const server *s, who w, const char *folder)
{
    char *set = imap_uids(s, w, folder, "ALL"), cmd[4096];
    if (*set) {
        snprintf(cmd, sizeof(cmd), "UID STORE %s +FLAGS.SILENT (\\Deleted)", set);
        free(imap_cmd(s, w, folder, cmd));
        free(imap_cmd(s, w, folder, "EXPUNGE"));
    }
    free(set);
}

/* another client's mail put into folder with APPEND (curl's APPEND marks it
 * \Seen); returns its UID, malloc'ed */
static char *imap_append(const server *s, who w, const char *folder, const char *subject)
{
    char mail[512], crit[256];
    strbuf out = {calloc(1, 1), 0};
    text_reader r = {mail, 0, 0};
    CURL *c = imap_handle(s, w, folder, &out);
    CURLcode cc;
    r.len = (size_t)snprintf(mail, sizeof(mail),
                             "From: bob@example.test\r\nTo: someone@example.test\r\nSubject: %s\r\n"
                             "Message-ID: <%ld.%d@example.test>\r\n\r\nwritten by another client\r\n",
                             subject, (long)time(NULL), rand());
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, text_reader_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &r);
    curl_easy_setopt(c, CURLOPT_INFILESIZE, (long)r.len);
    if ((cc = curl_easy_perform(c)) != CURLE_OK)
        fail_msg("%s: APPEND to %s: %s", s->name, folder, curl_easy_strerror(cc));
    curl_easy_cleanup(c);
    free(out.data);
    snprintf(crit, sizeof(crit), "SUBJECT \"%s\"", subject);
    return imap_uids(s, w, folder, crit);
}

/* ---- sending through Exim, and receiving ---- */

/* a transport that submits to Exim: STARTTLS (required, verified against
 * the stage's CA) and AUTH as its submission user */
static mc_transport *exim_sender(void)
{
    mc_binding *b = mail_binding_new("sender", test_env("MCX_EXIM_SMTP_PORT"), NULL);
    binding_set(b, "smtp_security", "starttls");
    binding_set(b, "tls_ca_file", test_env("MCX_CA"));
    binding_set(b, "username", test_env("MCX_EXIM_USER"));
    binding_set(b, "password", test_env("MCX_EXIM_PW"));
    return transport_of(b);
}

/* a raw mail submitted to Exim the same way, as any other sender would */
static void exim_inject(const char *rcpt, const char *subject)
{
    CURL *c = curl_easy_init();
    struct curl_slist *to = curl_slist_append(NULL, rcpt);
    char url[64], mail[1024];
    text_reader r = {mail, 0, 0};
    CURLcode cc;
    r.len = (size_t)snprintf(mail, sizeof(mail),
                             "From: someone@example.test\r\nTo: %s\r\nSubject: %s\r\n"
                             "Message-ID: <%ld.%d@example.test>\r\nMIME-Version: 1.0\r\n"
                             "Content-Type: application/soap+xml; charset=utf-8\r\n\r\n<x/>\r\n",
                             rcpt, subject, (long)time(NULL), rand());
    snprintf(url, sizeof(url), "smtp://127.0.0.1:%s", test_env("MCX_EXIM_SMTP_PORT"));
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    curl_easy_setopt(c, CURLOPT_CAINFO, test_env("MCX_CA"));
    curl_easy_setopt(c, CURLOPT_USERNAME, test_env("MCX_EXIM_USER"));
    curl_easy_setopt(c, CURLOPT_PASSWORD, test_env("MCX_EXIM_PW"));
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, "someone@example.test");
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, to);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, text_reader_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if ((cc = curl_easy_perform(c)) != CURLE_OK)
        fail_msg("submitting \"%s\" to Exim: %s", subject, curl_easy_strerror(cc));
    curl_slist_free_all(to);
    curl_easy_cleanup(c);
}

/* mailchan's receiver for a user of s; extra "k=v"... NULL. The query
 * interval is 60 s: new mail within a test comes by IDLE. */
static mc_transport *receiver(const server *s, who w, ...)
{
    mc_binding *b = mail_binding_new("receiver", NULL, test_env(s->port_env));
    va_list ap;
    binding_set(b, "address", user_env(s, w, "ADDR"));
    binding_set(b, "username", user_env(s, w, "USER"));
    binding_set(b, "password", user_env(s, w, "PW"));
    binding_set(b, "tls_ca_file", test_env("MCX_CA"));
    binding_set(b, "service_folder", test_env("MCX_SERVICE_FOLDER"));
    binding_set(b, "server_query_interval", "60000");
    va_start(ap, w);
    binding_set_list(b, ap);
    va_end(ap);
    return transport_of(b);
}

/* net.mail://CHANNEL-SERVER#ADDR of the user, or the listen URI without ADDR */
static const char *uri(const server *s, const char *channel, const char *addr)
{
    static char buf[4][256];
    static int slot;
    char *u = buf[slot++ % 4];
    snprintf(u, 256, "net.mail://%s-%s#%s", channel, s->name, addr ? addr : "");
    return u;
}

static const char *subject_of(const server *s, const char *channel)
{
    static char buf[4][128];
    static int slot;
    char *u = buf[slot++ % 4];
    snprintf(u, 128, "SUBJECT \"[net.mail] %s-%s\"", channel, s->name);
    return u;
}

/* ---- what a test opened, freed by its teardown even when it failed (a
 * receiver left running would act on the next test's mail) ---- */

static mc_transport *live_t[8];
static mc_channel_listener *live_l[4];
static mc_input_channel *live_in[4];

static mc_transport *keep(mc_transport *t)
{
    for (size_t i = 0; i < MC_ARRAY_N(live_t); i++)
        if (!live_t[i])
            return live_t[i] = t;
    fail_msg("too many transports");
    return NULL;
}

/* a listener on the URI and its input channel, freed by release_all() */
static mc_input_channel *listen_on(mc_transport *t, const char *on)
{
    for (size_t i = 0; i < MC_ARRAY_N(live_l); i++)
        if (!live_l[i]) {
            open_in(t, on, &live_l[i], &live_in[i]);
            return live_in[i];
        }
    fail_msg("too many listeners");
    return NULL;
}

/* frees input channels, then listeners, then transports */
static void release_all(void)
{
    for (size_t i = 0; i < MC_ARRAY_N(live_in); i++) {
        mc_input_channel_free(live_in[i]);
        mc_channel_listener_free(live_l[i]);
        live_in[i] = NULL;
        live_l[i] = NULL;
    }
    for (size_t i = 0; i < MC_ARRAY_N(live_t); i++) {
        mc_transport_free(live_t[i]);
        live_t[i] = NULL;
    }
}

/* ---- the tests (state: the server) ---- */

/* Sent, found where the server's namespace puts "Service E-mail", received,
 * gone from the server; another client's mail flagged \Deleted in the same
 * folder survives (UID EXPUNGE of ours only; never a bare EXPUNGE while it
 * is there). Without UIDPLUS ours stays flagged while the other is there
 * (the documented behaviour), and is expunged once nothing else is. The
 * other client's mail is unstamped: stamped mail flagged \Deleted is what a
 * stopped receiver leaves, and a new session expunges it (UIDPLUS only). */
static void test_roundtrip_delete(void **state)
{
    const server *s = *state;
    mc_transport *out = keep(exim_sender()), *in_t = keep(receiver(s, FILING, NULL));
    mc_input_channel *in;
    mc_message *m = NULL;
    char buf[256], *other, *t, *flags;
    other = imap_append(s, FILING, s->service, "a note of another client");
    assert_true(*other && !strchr(other, ','));
    snprintf(buf, sizeof(buf), "UID STORE %s +FLAGS (\\Deleted)", other);
    free(imap_cmd(s, FILING, s->service, buf));
    assert_int_equal(send_text(out, uri(s, "rt", user_env(s, FILING, "ADDR")), "round trip"), 0);
    /* filed into the folder the namespace gives "Service E-mail" */
    assert_int_equal(await_count(s, FILING, s->service, subject_of(s, "rt"), 1), 1);
    assert_int_equal(imap_count(s, FILING, "INBOX", "ALL"), 0);
    in = listen_on(in_t, uri(s, "rt", NULL));
    /* and mailchan watches that folder */
    snprintf(buf, sizeof(buf), ": watching %s (UIDPLUS %d,", s->service, s->uidplus);
    assert_true(await_log(buf, 1000));
    t = receive_text(in, 15000);
    assert_string_equal(t, "round trip");
    free(t);
    if (s->uidplus) {
        /* deleted within delete_delay: only the other client's mail is left */
        assert_int_equal(await_count(s, FILING, s->service, "ALL", 1), 1);
    } else {
        assert_int_equal(await_count(s, FILING, s->service, "UNDELETED", 0), 0);
        assert_true(await_log("no UIDPLUS and other mail is flagged \\Deleted: leaving ours flagged", 5000));
        assert_int_equal(imap_count(s, FILING, s->service, "DELETED"), 2);
    }
    flags = imap_flags(s, FILING, s->service, other);
    assert_non_null(strstr(flags, "\\Deleted")); /* still there, still flagged */
    free(flags);
    /* never delivered twice */
    assert_int_equal(mc_input_channel_receive(&m, in, 2000), MC_ETIMEOUT);
    if (!s->uidplus) {
        /* the other client expunges (ours goes with it); now nothing else is
         * flagged, so mailchan's own EXPUNGE removes the next one */
        free(imap_cmd(s, FILING, s->service, "EXPUNGE"));
        assert_int_equal(send_text(out, uri(s, "rt", user_env(s, FILING, "ADDR")), "second"), 0);
        t = receive_text(in, 15000);
        assert_string_equal(t, "second");
        free(t);
        assert_int_equal(await_count(s, FILING, s->service, "ALL", 0), 0);
    }
    free(other);
}

/* A malformed stamp: moved to the server's trash, which the log names; not
 * left in the watched folder */
static void test_malformed_to_trash(void **state)
{
    const server *s = *state;
    mc_transport *in_t = keep(receiver(s, FILING, NULL));
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    char moved[256];
    exim_inject(user_env(s, FILING, "ADDR"), "[net.mail] bad;ttl=yesterday");
    assert_int_equal(await_count(s, FILING, s->service, "SUBJECT \"bad;ttl=yesterday\"", 1), 1);
    listen_on(in_t, uri(s, "bad", NULL));
    snprintf(moved, sizeof(moved), " to %s: subject ttl \"yesterday\" is not", s->trash);
    assert_true(await_log(moved, 15000));
    assert_int_equal(await_count(s, FILING, s->trash, "SUBJECT \"bad;ttl=yesterday\"", 1), 1);
    assert_int_equal(await_count(s, FILING, s->service, "ALL", 0), 0); /* nothing else was flagged */
    assert_int_equal(mc_transport_statistics(&st, in_t), 0);
    assert_int_equal(st.malformed, 1);
    assert_int_equal(st.delivered, 0);
}

/* The inbox user has no "Service E-mail": mailchan watches INBOX and
 * receives stamped mail there; a person's unstamped mail in that folder is
 * untouched, still unseen, whether the server filters the listing
 * (imap_search_stamp) or mailchan reads every Subject. */
static void test_inbox_fallback_unstamped(void **state)
{
    const server *s = *state;
    const char *search[] = {"true", "false"};
    exim_inject(user_env(s, INBOX_USER, "ADDR"), "Lunch on Friday?");
    assert_int_equal(await_count(s, INBOX_USER, "INBOX", "SUBJECT \"Lunch\" UNSEEN", 1), 1);
    for (size_t i = 0; i < 2; i++) {
        char kv[64], text[32];
        mc_transport *out = keep(exim_sender());
        mc_transport *in_t;
        mc_input_channel *in;
        char *t;
        snprintf(kv, sizeof(kv), "imap_search_stamp=%s", search[i]);
        snprintf(text, sizeof(text), "to the inbox %zu", i);
        in_t = keep(receiver(s, INBOX_USER, kv, NULL));
        log_clear();
        in = listen_on(in_t, uri(s, "fb", NULL));
        assert_true(await_log("does not exist; watching INBOX", 1000));
        assert_int_equal(send_text(out, uri(s, "fb", user_env(s, INBOX_USER, "ADDR")), text), 0);
        t = receive_text(in, 15000);
        assert_string_equal(t, text);
        free(t);
        assert_int_equal(mc_input_channel_close(in), 0); /* deletes what it received */
        release_all();
        assert_int_equal(await_count(s, INBOX_USER, "INBOX", subject_of(s, "fb"), 0), 0);
        /* the person's mail: there, unseen, unflagged */
        assert_int_equal(imap_count(s, INBOX_USER, "INBOX", "ALL"), 1);
        assert_int_equal(imap_count(s, INBOX_USER, "INBOX", "SUBJECT \"Lunch\" UNSEEN UNDELETED UNFLAGGED"),
                         1);
    }
}

/* Mail sent while the listener waits arrives by IDLE: the query interval is
 * 60 s and `timeout` (the IDLE probe, DONE + IDLE, which on Courier also
 * reports new mail) 30 s, so only a push brings it within 15 s. Cyrus's
 * idled pushes (~0.3 s); Courier pushes through enhanced IDLE with gamin
 * (~0.5 s). A Courier without FAM/gamin (IMAP_ENHANCEDIDLE=0) re-reads the
 * folder only every IMAP_IDLE_TIMEOUT (60 s by default) during IDLE, and at
 * DONE: there the mail comes with mailchan's next probe, within `timeout`
 * (measured with the stage started with MCX_COURIER_ENHANCEDIDLE=0: 28 s
 * with timeout 30 s, 8 s with 10 s), and this test would fail. */
static void test_idle_push(void **state)
{
    const server *s = *state;
    mc_transport *out = keep(exim_sender()), *in_t = keep(receiver(s, FILING, "timeout=30000", NULL));
    mc_input_channel *in = listen_on(in_t, uri(s, "idle", NULL));
    int64_t t0;
    char *t;
    sleep_ms(1000); /* the listener has listed the folder and idles */
    t0 = now_ms();
    assert_int_equal(send_text(out, uri(s, "idle", user_env(s, FILING, "ADDR")), "pushed"), 0);
    t = receive_text(in, 15000);
    assert_string_equal(t, "pushed");
    free(t);
    printf("%s: sent to received by IDLE: %lld ms\n", s->name, (long long)(now_ms() - t0));
}

static void restart_imap(const server *s, int pause_s)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "bash '%s/restart-imap.sh' '%s' %s %d", MC_TEST_MULTISERVER_SCRIPTS,
             test_env("MCX_DIR"), s->restart, pause_s);
    if (system(cmd))
        fail_msg("%s failed", cmd);
}

/* The IMAP server stopped and started while a listener is open: the
 * listener reconnects, and mail sent after the restart is delivered, once;
 * what it had received before is not delivered again. */
static void test_restart(void **state)
{
    const server *s = *state;
    mc_transport *out = keep(exim_sender()), *in_t = keep(receiver(s, FILING, "timeout=5000", NULL));
    mc_input_channel *in = listen_on(in_t, uri(s, "restart", NULL));
    mc_message *m = NULL;
    char *t;
    assert_int_equal(send_text(out, uri(s, "restart", user_env(s, FILING, "ADDR")), "before"), 0);
    t = receive_text(in, 15000);
    assert_string_equal(t, "before");
    free(t);
    assert_int_equal(await_count(s, FILING, s->service, "ALL", 0), 0);
    log_clear();
    restart_imap(s, 1);
    assert_int_equal(send_text(out, uri(s, "restart", user_env(s, FILING, "ADDR")), "after"), 0);
    t = receive_text(in, 20000);
    assert_string_equal(t, "after");
    free(t);
    assert_true(log_has("connect: connection refused")); /* it did lose the server */
    assert_true(log_has(": watching "));                 /* and came back */
    assert_int_equal(mc_input_channel_receive(&m, in, 3000), MC_ETIMEOUT);
    assert_int_equal(await_count(s, FILING, s->service, "ALL", 0), 0);
}

/* every test starts from empty folders and an empty log */
static int empty_folders(void **state)
{
    const server *s = *state;
    imap_empty(s, FILING, s->service);
    imap_empty(s, FILING, "INBOX");
    imap_empty(s, FILING, s->trash);
    imap_empty(s, INBOX_USER, "INBOX");
    imap_empty(s, INBOX_USER, s->trash);
    log_clear();
    return 0;
}

static int released(void **state)
{
    (void)state;
    release_all();
    return 0;
}

/* after the restart test, pass or fail: the server runs (its port answers) */
static int server_running(void **state)
{
    const server *s = *state;
    char cmd[1024];
    release_all();
    snprintf(cmd, sizeof(cmd),
             "bash -c '(exec 3<>/dev/tcp/127.0.0.1/%s) 2>/dev/null || "
             "bash \"%s/restart-imap.sh\" \"%s\" %s 0'",
             test_env(s->port_env), MC_TEST_MULTISERVER_SCRIPTS, test_env("MCX_DIR"), s->restart);
    return system(cmd) ? -1 : 0;
}

/* the tests of one server, named "test (server)" */
#define TEST(f, s, teardown)                                                \
    {                                                                       \
#f " (" #s ")", f, empty_folders, teardown, (void *)&servers[i_##s] \
    }
#define TESTS(s)                                                                             \
    TEST(test_roundtrip_delete, s, released), TEST(test_malformed_to_trash, s, released),    \
        TEST(test_inbox_fallback_unstamped, s, released), TEST(test_idle_push, s, released), \
        TEST(test_restart, s, server_running)
enum { i_cyrus, i_courier, i_nouidplus };

int main(void)
{
    const struct CMUnitTest tests[] = {TESTS(cyrus), TESTS(courier), TESTS(nouidplus)};
    int64_t t0 = now_ms();
    int rc;
    if (!getenv("MCX_DIR")) {
        fprintf(stderr, "multi-server stage not running (tests/multiserver/start.sh): skipped\n");
        return 77;
    }
    net_test_init();
    log_verbose = getenv("MC_TEST_VERBOSE") != NULL;
    mc_log_set_callback(log_cb, MC_LOG_DEBUG, NULL);
    srand((unsigned)time(NULL));
    if (getenv("MC_TEST_FILTER")) /* e.g. "*(nouidplus)" */
        cmocka_set_test_filter(getenv("MC_TEST_FILTER"));
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    printf("multiserver: %lld ms\n", (long long)(now_ms() - t0));
    mc_log_set_callback(NULL, MC_LOG_NONE, NULL);
    free(log_text);
    return rc;
}
