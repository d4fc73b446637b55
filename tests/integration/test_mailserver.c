/* test_mailserver.c - the mail binding against real Postfix and Dovecot,
 * started by tests/mailserver/start.sh (its env.sh exported into the
 * environment; tests/run.sh does both). Skipped (exit 77) without them.
 *
 * Each test uses its own channel name, so mail of one test never reaches
 * another; the server's state is read back with doveadm. */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include <curl/curl.h>
#include "net_helpers.h"

static const char *dir; /* the servers' directory */

/* A mail binding for user (alice, bob, ...) of the servers with password pw
 * (NULL: none); extra "k=v"... NULL */
/* the IMAP listing mode every binding here uses (test_listing_every_mail
 * runs some tests again with the other) */
static const char *listing = "true";

static mc_binding *mail_binding(const char *user, const char *pw, ...)
{
    mc_binding *b = mail_binding_new(user, test_env("MC_SUBMISSION_PORT"), test_env("MC_IMAP_PORT"));
    char v[32];
    va_list ap;
    binding_set(b, "tls_ca_file", test_env("MC_CA"));
    binding_set(b, "timeout", "5000");
    if (pw)
        binding_set(b, "password", pw);
    snprintf(v, sizeof(v), "%d", 60000); /* new mail must come by IDLE, not by polling */
    binding_set(b, "server_query_interval", v);
    binding_set(b, "imap_search_stamp", listing);
    va_start(ap, pw);
    binding_set_list(b, ap);
    va_end(ap);
    return b;
}

static int server_count(const char *user, const char *folder, const char *query)
{
    char cmd[1024], line[512];
    int n = 0;
    FILE *p;
    snprintf(cmd, sizeof(cmd),
             "doveadm -c '%s/dovecot/dovecot.conf' search -u %s@example.test mailbox '%s' %s", dir, user,
             folder, query);
    p = popen(cmd, "r");
    assert_non_null(p);
    while (fgets(line, sizeof(line), p))
        n++;
    pclose(p);
    return n;
}

/* waits (bounded) until server_count() == want; returns the last count */
static int await_count(const char *user, const char *folder, const char *query, int want)
{
    int n = -1;
    for (int i = 0; i < 100 && (n = server_count(user, folder, query)) != want; i++)
        sleep_ms(100);
    return n;
}

/* hands a raw mail to Postfix's plain SMTP port, as any other sender would */
static void inject(const char *rcpt, const char *mail)
{
    CURL *c = curl_easy_init();
    struct curl_slist *to = curl_slist_append(NULL, rcpt);
    char url[64];
    text_reader r = {mail, 0, strlen(mail)};
    snprintf(url, sizeof(url), "smtp://127.0.0.1:%s", test_env("MC_SMTP_PORT"));
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, "someone@example.test");
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, to);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, text_reader_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &r);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_slist_free_all(to);
    curl_easy_cleanup(c);
}

static void raw_mail(char *buf, size_t cap, const char *to, const char *subject, const char *body)
{
    snprintf(buf, cap,
             "From: someone@example.test\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%ld.%d@example.test>\r\n"
             "MIME-Version: 1.0\r\nContent-Type: application/soap+xml; charset=utf-8\r\n\r\n%s\r\n",
             to, subject, (long)time(NULL), rand(), body);
}

/* ---- the tests ---- */

/* send -> Sieve files it into "Service E-mail" -> IDLE -> received; deleted at the next query */
static void test_idle_roundtrip(void **state)
{
    mc_transport *a = transport_of(mail_binding("alice", test_env("MC_ALICE_PW"), NULL));
    mc_transport *b = transport_of(mail_binding("bob", test_env("MC_BOB_PW"), NULL));
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    char *t;
    (void)state;
    open_in(b, "net.mail://idle#", &l, &in);
    sleep_ms(300); /* the receive thread is idling now */
    assert_int_equal(send_text(a, "net.mail://idle#bob@example.test", "first"), 0);
    assert_int_equal(await_count("bob", "Service E-mail", "all", 1), 1); /* filed by Sieve */
    assert_int_equal(server_count("bob", "INBOX", "all"), 0);
    /* the query interval is 60 s: only IDLE can bring it within 10 s */
    t = receive_text(in, 10000);
    assert_string_equal(t, "first");
    free(t);
    assert_int_equal(server_count("bob", "Service E-mail", "all"), 1); /* deleted at the next query */
    assert_int_equal(send_text(a, "net.mail://idle#bob@example.test", "second"), 0);
    t = receive_text(in, 10000);
    assert_string_equal(t, "second");
    free(t);
    assert_int_equal(await_count("bob", "Service E-mail", "subject \"first\" all", 0), 0);
    assert_int_equal(mc_transport_statistics(&st, b), 0);
    assert_true(st.deleted >= 1);
    assert_int_equal(mc_input_channel_close(in), 0); /* last channel: flushes "second" */
    mc_input_channel_free(in);
    assert_int_equal(server_count("bob", "Service E-mail", "all"), 0);
    mc_channel_listener_free(l);
    mc_transport_free(b);
    mc_transport_free(a);
}

/* no "Service E-mail" folder (carol): the Inbox is watched */
static void test_inbox_fallback(void **state)
{
    mc_transport *a = transport_of(mail_binding("alice", test_env("MC_ALICE_PW"), NULL));
    mc_transport *c =
        transport_of(mail_binding("carol", test_env("MC_CAROL_PW"), "server_query_interval=60000", NULL));
    mc_channel_listener *l;
    mc_input_channel *in;
    char *t;
    (void)state;
    open_in(c, "net.mail://fallback#", &l, &in);
    assert_int_equal(send_text(a, "net.mail://fallback#carol@example.test", "to the inbox"), 0);
    t = receive_text(in, 10000);
    assert_string_equal(t, "to the inbox");
    free(t);
    assert_int_equal(mc_input_channel_close(in), 0);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    assert_int_equal(server_count("carol", "INBOX", "all"), 0);
    mc_transport_free(c);
    mc_transport_free(a);
}

/* body and attachment forms, several recipients, implicit TLS for SMTP and IMAP */
static void test_forms_recipients_tls(void **state)
{
    char big[6000];
    mc_transport *a, *b, *e;
    mc_channel_listener *lb, *le;
    mc_input_channel *ib, *ie;
    char *t;
    (void)state;
    {
        char kv[64], kv2[64];
        snprintf(kv, sizeof(kv), "smtp_port=%s", test_env("MC_SUBMISSIONS_PORT"));
        snprintf(kv2, sizeof(kv2), "imap_port=%s", test_env("MC_IMAPS_PORT"));
        a = transport_of(mail_binding("alice", test_env("MC_ALICE_PW"), "smtp_security=tls", kv,
                                      "message_container_type=attachment", NULL));
        b = transport_of(mail_binding("bob", test_env("MC_BOB_PW"), "imap_security=tls", kv2, NULL));
    }
    e = transport_of(mail_binding("erin", test_env("MC_ERIN_PW"), NULL));
    open_in(b, "net.mail://forms#", &lb, &ib);
    open_in(e, "net.mail://forms#", &le, &ie);
    assert_int_equal(send_text(a, "net.mail://forms#bob@example.test;erin@example.test", "in an attachment"),
                     0);
    t = receive_text(ib, 10000);
    assert_string_equal(t, "in an attachment");
    free(t);
    t = receive_text(ie, 10000);
    assert_string_equal(t, "in an attachment");
    free(t);
    /* default container: a large envelope goes as an attachment, a small one in the body */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    assert_int_equal(send_text(e, "net.mail://forms#bob@example.test", big), 0);
    assert_int_equal(send_text(e, "net.mail://forms#bob@example.test", "small"), 0);
    for (int i = 0; i < 2; i++) {
        t = receive_text(ib, 10000);
        assert_true(!strcmp(t, big) || !strcmp(t, "small"));
        free(t);
    }
    mc_input_channel_free(ib);
    mc_input_channel_free(ie);
    mc_channel_listener_free(lb);
    mc_channel_listener_free(le);
    mc_transport_free(a);
    mc_transport_free(b);
    mc_transport_free(e);
}

/* malformed subject -> Deleted Items; corrupt SOAP -> deleted after the retry
 * count; expired -> deleted; unstamped -> untouched (not even \Seen) */
static void test_bad_mail(void **state)
{
    char mail[2048];
    mc_transport *c = transport_of(mail_binding("carol", test_env("MC_CAROL_PW"), "server_query_interval=200",
                                                "receive_retry_count=2", NULL));
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    int before_trash = server_count("carol", "Deleted Items", "all");
    (void)state;
    open_in(c, "net.mail://bad#", &l, &in);
    raw_mail(mail, sizeof(mail), "carol@example.test", "[net.mail] bad;ttl", "<x/>");
    inject("carol@example.test", mail);
    raw_mail(mail, sizeof(mail), "carol@example.test", "[net.mail] bad", "this is not SOAP <<<");
    inject("carol@example.test", mail);
    raw_mail(mail, sizeof(mail), "carol@example.test", "[net.mail] bad;ttl=2001-01-01T00:00:00Z", "<x/>");
    inject("carol@example.test", mail);
    raw_mail(mail, sizeof(mail), "carol@example.test", "Lunch on Friday?", "just a person's mail");
    inject("carol@example.test", mail);
    assert_int_equal(await_count("carol", "Deleted Items", "all", before_trash + 1), before_trash + 1);
    assert_int_equal(await_count("carol", "INBOX", "all", 1), 1);
    /* what is left is the person's mail, unread and unflagged */
    assert_int_equal(server_count("carol", "INBOX", "subject Lunch unseen undeleted"), 1);
    assert_int_equal(mc_transport_statistics(&st, c), 0);
    assert_int_equal(st.malformed, 1);
    assert_int_equal(st.invalid, 1);
    assert_int_equal(st.expired, 1);
    assert_int_equal(st.delivered, 0);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_transport_free(c);
    /* tidy the person's mail away for later tests */
    {
        char cmd[512];
        snprintf(cmd, sizeof(cmd),
                 "doveadm -c '%s/dovecot/dovecot.conf' expunge -u carol@example.test "
                 "mailbox INBOX all",
                 dir);
        assert_int_equal(system(cmd), 0);
    }
}

/* bytes in a server log now */
static long log_size(const char *name)
{
    char path[512];
    FILE *f;
    long n;
    snprintf(path, sizeof(path), "%s/log/%s", dir, name);
    if (!(f = fopen(path, "r")))
        return 0;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fclose(f);
    return n;
}

/* whether the log, from offset on, mentions s */
static bool log_mentions(const char *name, long offset, const char *s)
{
    char path[512], line[2048];
    bool found = false;
    FILE *f;
    snprintf(path, sizeof(path), "%s/log/%s", dir, name);
    assert_non_null(f = fopen(path, "r"));
    fseek(f, offset, SEEK_SET);
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, s) != NULL;
    fclose(f);
    return found;
}

/* a CA that did not sign the server's certificate: MC_ETLS, no credential sent */
/* another client flags a listed mail \\Deleted without expunging it: with
 * CONDSTORE (Dovecot has it) the incremental listing reports it gone, so the
 * copy waiting in the processing cache is never delivered */
static void test_flagged_by_another_client(void **state)
{
    mc_transport *a = transport_of(mail_binding("alice", test_env("MC_ALICE_PW"), NULL));
    mc_transport *b =
        transport_of(mail_binding("bob", test_env("MC_BOB_PW"), "server_query_interval=200", NULL));
    mc_channel_listener *lo, *lh;
    mc_input_channel *io, *ih;
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    mc_message *m = NULL;
    char cmd[1024];
    unsigned long long q;
    (void)state;
    open_in(b, "net.mail://other#", &lo, &io);
    assert_int_equal(send_text(a, "net.mail://held#bob@example.test", "withdrawn"), 0);
    for (int i = 0; i < 100; i++) { /* in the cache, for a channel nobody listens on yet */
        assert_int_equal(mc_transport_statistics(&st, b), 0);
        if (st.cached)
            break;
        sleep_ms(100);
    }
    assert_int_equal(st.cached, 1);
    snprintf(cmd, sizeof(cmd),
             "doveadm -c '%s/dovecot/dovecot.conf' flags add -u bob@example.test '\\Deleted' mailbox "
             "'Service E-mail' subject held",
             dir);
    assert_int_equal(system(cmd), 0);
    q = st.queries;
    for (int i = 0; i < 100 && st.queries < q + 3; i++) {
        sleep_ms(100);
        assert_int_equal(mc_transport_statistics(&st, b), 0);
    }
    assert_int_equal(st.cached, 0);
    open_in(b, "net.mail://held#", &lh, &ih);
    assert_int_equal(mc_input_channel_receive(&m, ih, 1000), MC_ETIMEOUT);
    mc_input_channel_free(ih);
    mc_channel_listener_free(lh);
    mc_input_channel_free(io);
    mc_channel_listener_free(lo);
    mc_transport_free(b);
    mc_transport_free(a);
}

static void test_wrong_ca(void **state)
{
    long dlog = log_size("dovecot.log"), plog = log_size("postfix.log");
    mc_transport *e;
    mc_channel_listener *l = NULL;
    char kv[512];
    (void)state;
    snprintf(kv, sizeof(kv), "tls_ca_file=%s", test_env("MC_OTHER_CA"));
    e = transport_of(mail_binding("erin", test_env("MC_ERIN_PW"), kv, NULL));
    assert_int_equal(mc_channel_listener_new(&l, e, "net.mail://ca#"), MC_ETLS);
    assert_non_null(strstr(mc_error_last(), "not trusted"));
    assert_int_equal(send_text(e, "net.mail://ca#bob@example.test", "x"), MC_ETLS);
    mc_transport_free(e);
    sleep_ms(300);
    /* neither server saw a login by erin: the connections ended before AUTH */
    assert_false(log_mentions("dovecot.log", dlog, "erin@example.test"));
    assert_true(log_mentions("dovecot.log", dlog, "no auth attempts"));
    assert_false(log_mentions("postfix.log", plog, "sasl_username"));
}

/* the security mode that does not match the port: each error says which
 * setting to change instead of a bare failure (implicit TLS against the
 * STARTTLS port; STARTTLS against the implicit-TLS port, which never greets
 * in plain text: bounded by the timeout) */
static void test_wrong_security_mode(void **state)
{
    mc_transport *e;
    mc_channel_listener *l = NULL;
    char kv[64];
    (void)state;
    e = transport_of(mail_binding("erin", test_env("MC_ERIN_PW"), "imap_security=tls", NULL));
    assert_int_equal(mc_channel_listener_new(&l, e, "net.mail://sec#"), MC_ETLS);
    assert_non_null(strstr(mc_error_last(), "imap_security = starttls"));
    mc_transport_free(e);
    snprintf(kv, sizeof(kv), "imap_port=%s", test_env("MC_IMAPS_PORT"));
    e = transport_of(mail_binding("erin", test_env("MC_ERIN_PW"), kv, "timeout=1000", NULL));
    assert_int_equal(mc_channel_listener_new(&l, e, "net.mail://sec#"), MC_ETIMEOUT);
    assert_non_null(strstr(mc_error_last(), "greeting: timed out"));
    assert_non_null(strstr(mc_error_last(), "imap_security = tls"));
    mc_transport_free(e);
}

static void test_wrong_password(void **state)
{
    /* Dovecot delays each failed login from an address more (its auth
     * penalty: 2 s, 4 s, ...): the SMTP AUTH after the IMAP one waits for
     * that, longer than the suite's usual timeout on a loaded machine */
    mc_transport *e = transport_of(mail_binding("erin", "not-erins-password", "timeout=20000", NULL));
    mc_channel_listener *l = NULL;
    int rc;
    (void)state;
    rc = mc_channel_listener_new(&l, e, "net.mail://pw#");
    assert_int_equal(rc, MC_EAUTH);
    assert_null(strstr(mc_error_last(), "not-erins-password"));
    rc = send_text(e, "net.mail://pw#bob@example.test", "x");
    assert_int_equal(rc, MC_EAUTH);
    assert_null(strstr(mc_error_last(), "not-erins-password"));
    mc_transport_free(e);
}

/* a recipient the server refuses: MC_EPROTO with its reply; unreachable: MC_EIO */
static void test_rejected_and_unreachable(void **state)
{
    mc_transport *a = transport_of(mail_binding("alice", test_env("MC_ALICE_PW"), NULL));
    mc_transport *u;
    int rc;
    (void)state;
    rc = send_text(a, "net.mail://r#nobody@example.test", "x");
    assert_int_equal(rc, MC_EPROTO);
    assert_non_null(strstr(mc_error_last(), "550"));
    assert_null(strstr(mc_error_last(), test_env("MC_ALICE_PW")));
    /* a good send after a refused one still works on the same transport */
    assert_int_equal(send_text(a, "net.mail://r#bob@example.test", "after"), 0);
    mc_transport_free(a);
    u = transport_of(mail_binding("alice", test_env("MC_ALICE_PW"), "smtp_port=1", "imap_port=1", NULL));
    assert_int_equal(send_text(u, "net.mail://r#bob@example.test", "x"), MC_EIO);
    mc_transport_free(u);
    assert_int_equal(await_count("bob", "Service E-mail", "subject r", 1), 1);
    {
        char cmd[512];
        snprintf(cmd, sizeof(cmd),
                 "doveadm -c '%s/dovecot/dovecot.conf' expunge -u bob@example.test "
                 "mailbox 'Service E-mail' all",
                 dir);
        assert_int_equal(system(cmd), 0);
    }
}

static void expunge_all(const char *user, const char *folder)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "doveadm -c '%s/dovecot/dovecot.conf' expunge -u %s@example.test mailbox '%s' all", dir, user,
             folder);
    assert_int_equal(system(cmd), 0);
}

/* two recipients, one unknown: the known one gets the mail, the send says
 * MC_EPARTIAL naming the refused one with the server's reply (before: the
 * whole send failed and nobody got it); all unknown: the error it was */
static void test_partial_recipients(void **state)
{
    mc_transport *a = transport_of(mail_binding("alice", test_env("MC_ALICE_PW"), NULL));
    const char *e;
    int rc;
    (void)state;
    rc = send_text(a, "net.mail://partial#nobody@example.test;carol@example.test", "to some");
    assert_int_equal(rc, MC_EPARTIAL);
    e = mc_error_last();
    assert_non_null(strstr(e, "refused by the server: nobody@example.test (550"));
    assert_non_null(strstr(e, "User unknown"));
    assert_null(strstr(e, "carol@"));
    assert_null(strstr(e, test_env("MC_ALICE_PW")));
    assert_string_equal(mc_strerror(MC_EPARTIAL),
                        "delivered to some recipients, refused by the server for others");
    assert_int_equal(await_count("carol", "INBOX", "subject partial", 1),
                     1); /* carol has no Service E-mail */
    /* every recipient refused: nothing delivered, the error as for one */
    rc = send_text(a, "net.mail://partial#nobody@example.test;nobody2@example.test", "to none");
    assert_int_equal(rc, MC_EPROTO);
    assert_non_null(strstr(mc_error_last(), "550"));
    /* the connection is still good */
    assert_int_equal(send_text(a, "net.mail://partial#carol@example.test", "after"), 0);
    assert_int_equal(await_count("carol", "INBOX", "subject partial", 2), 2);
    mc_transport_free(a);
    expunge_all("carol", "INBOX");
}

/* A password or a token means authentication: Postfix's plain port offers
 * no AUTH, and a send with a password there fails with MC_EAUTH (before: it
 * went out unauthenticated); without a password, or with smtp_auth = none,
 * it is sent as before */
static void test_credentials_need_auth(void **state)
{
    char kv[64];
    mc_transport *p;
    int rc;
    (void)state;
    snprintf(kv, sizeof(kv), "smtp_port=%s", test_env("MC_SMTP_PORT"));
    p = transport_of(mail_binding("alice", test_env("MC_ALICE_PW"), "smtp_security=none", kv, NULL));
    rc = send_text(p, "net.mail://noauth#bob@example.test", "with a password");
    assert_int_equal(rc, MC_EAUTH);
    assert_non_null(strstr(mc_error_last(), "server offers no authentication"));
    assert_null(strstr(mc_error_last(), test_env("MC_ALICE_PW")));
    mc_transport_free(p);
    p = transport_of(mail_binding("alice", NULL, "smtp_security=none", kv, NULL));
    assert_int_equal(send_text(p, "net.mail://noauth#bob@example.test", "without"), 0);
    mc_transport_free(p);
    p = transport_of(
        mail_binding("alice", test_env("MC_ALICE_PW"), "smtp_security=none", "smtp_auth=none", kv, NULL));
    assert_int_equal(send_text(p, "net.mail://noauth#bob@example.test", "chosen"), 0);
    mc_transport_free(p);
    assert_int_equal(await_count("bob", "Service E-mail", "subject noauth", 2), 2);
    assert_int_equal(server_count("bob", "Service E-mail", "body \"with a password\""), 0);
    expunge_all("bob", "Service E-mail");
}

static int token_cb(char **token, void *user_data)
{
    int *calls = user_data;
    (*calls)++;
    *token = strdup(getenv("MC_DAVE_TOKEN"));
    return 0;
}

/* XOAUTH2 with a token callback, for SMTP and for IMAP */
static void test_xoauth2(void **state)
{
    mc_binding *bd = mail_binding("dave", NULL, NULL);
    mc_transport *d;
    mc_channel_listener *l;
    mc_input_channel *in;
    int calls = 0;
    char *t;
    (void)state;
    assert_int_equal(mc_binding_set_token_callback(bd, token_cb, &calls), 0);
    d = transport_of(bd);
    open_in(d, "net.mail://oauth#", &l, &in);
    assert_int_equal(send_text(d, "net.mail://oauth#dave@example.test", "bearer"), 0);
    t = receive_text(in, 10000);
    assert_string_equal(t, "bearer");
    free(t);
    assert_true(calls >= 2); /* IMAP login and SMTP AUTH */
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_transport_free(d);
}

/* waits (bounded) until Postfix greets and answers EHLO again */
static void smtp_ready(void)
{
    char url[64];
    snprintf(url, sizeof(url), "smtp://127.0.0.1:%s", test_env("MC_SMTP_PORT"));
    for (int i = 0; i < 50; i++) {
        CURL *c = curl_easy_init();
        CURLcode cc;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
        cc = curl_easy_perform(c);
        curl_easy_cleanup(c);
        if (cc == CURLE_OK)
            return;
        sleep_ms(100);
    }
    fail_msg("Postfix did not come back");
}

static void servers(const char *what)
{
    char cmd[1024];
    if (!strcmp(what, "stop"))
        snprintf(cmd, sizeof(cmd), "bash '%s/stop.sh' '%s'", MC_TEST_MAILSERVER_SCRIPTS, dir);
    else if (!strcmp(what, "start-postfix"))
        snprintf(cmd, sizeof(cmd), "postfix -c '%s/postfix' start >/dev/null 2>&1", dir);
    else if (!strcmp(what, "start-dovecot"))
        snprintf(cmd, sizeof(cmd), "dovecot -c '%s/dovecot/dovecot.conf' </dev/null >/dev/null 2>&1", dir);
    else
        snprintf(cmd, sizeof(cmd), "postfix -c '%s/postfix' flush", dir);
    if (system(cmd))
        fail_msg("%s failed", cmd);
    if (!strcmp(what, "start-postfix"))
        smtp_ready();
}

/* servers stopped and restarted while a listener waits: it reconnects and
 * receives what was sent meanwhile; what it had received is not delivered again */
static void test_server_restart(void **state)
{
    mc_transport *a = transport_of(mail_binding("alice", test_env("MC_ALICE_PW"), NULL));
    mc_transport *b =
        transport_of(mail_binding("bob", test_env("MC_BOB_PW"), "server_query_interval=1000", NULL));
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m = NULL;
    char *first, *t, *u;
    (void)state;
    open_in(b, "net.mail://restart#", &l, &in);
    assert_int_equal(send_text(a, "net.mail://restart#bob@example.test", "one"), 0);
    assert_int_equal(send_text(a, "net.mail://restart#bob@example.test", "two"), 0);
    assert_int_equal(await_count("bob", "Service E-mail", "all", 2), 2);
    /* in flight: received, its deletion still pending (mail has no order:
     * Postfix may deliver "two" first) */
    first = receive_text(in, 10000);
    servers("stop");
    sleep_ms(500);
    servers("start-postfix");
    sleep_ms(300);
    {
        /* Dovecot (and with it SASL) is down: send without AUTH through the
         * plain port, which takes mail from 127.0.0.1 - plain text chosen explicitly */
        char kv[64];
        mc_transport *p;
        snprintf(kv, sizeof(kv), "smtp_port=%s", test_env("MC_SMTP_PORT"));
        p = transport_of(mail_binding("alice", NULL, "smtp_security=none", kv, NULL));
        assert_int_equal(send_text(p, "net.mail://restart#bob@example.test", "three"), 0); /* queued */
        mc_transport_free(p);
    }
    sleep_ms(1500); /* the listener's reconnects fail meanwhile */
    servers("start-dovecot");
    sleep_ms(300);
    servers("flush");
    t = receive_text(in, 20000);
    u = receive_text(in, 20000);
    /* together exactly one, two and three */
    assert_true(strcmp(first, t) && strcmp(first, u) && strcmp(t, u));
    assert_true(!strcmp(first, "one") || !strcmp(first, "two"));
    assert_true(!strcmp(t, "three") || !strcmp(u, "three"));
    free(first);
    free(t);
    free(u);
    /* nothing more: the first must not come again */
    assert_int_equal(mc_input_channel_receive(&m, in, 3000), MC_ETIMEOUT);
    assert_int_equal(mc_input_channel_close(in), 0);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    assert_int_equal(server_count("bob", "Service E-mail", "all"), 0);
    mc_transport_free(b);
    mc_transport_free(a);
}

/* A receiver killed (-9) after receiving: what it received more than
 * delete_delay (1 s) before the kill was deleted already, so a new receiver
 * gets none of it again (before: everything since the last query, 60 s
 * here); what it received just before the kill may come again, never lost. */
static void test_crash_redelivery(void **state)
{
    mc_transport *a = transport_of(mail_binding("alice", test_env("MC_ALICE_PW"), NULL));
    int pipefd[2], n = 0, again = 0, late = 0;
    bool recent[8] = {0}; /* received after the pause, within a second of the kill */
    pid_t pid;
    char c;
    (void)state;
    for (int i = 0; i < 8; i++) {
        char text[16];
        snprintf(text, sizeof(text), "crash-%d", i);
        assert_int_equal(send_text(a, "net.mail://crash#bob@example.test", text), 0);
    }
    assert_int_equal(await_count("bob", "Service E-mail", "all", 8), 8);
    assert_int_equal(pipe(pipefd), 0);
    if (!(pid = fork())) {
        /* the receiver: 6 received, then 2.5 s, then 2 more, then it is killed */
        mc_transport *b = transport_of(mail_binding("bob", test_env("MC_BOB_PW"), NULL));
        mc_channel_listener *l;
        mc_input_channel *in;
        open_in(b, "net.mail://crash#", &l, &in);
        for (int i = 0; i < 8; i++) {
            char *t = receive_text(in, 10000);
            if (write(pipefd[1], t + 6, 1) != 1)
                _exit(3);
            free(t);
            if (i == 5)
                sleep_ms(2500);
        }
        for (;;)
            pause();
    }
    close(pipefd[1]);
    while (n < 8 && read(pipefd[0], &c, 1) == 1)
        recent[c - '0'] = n++ >= 6;
    assert_int_equal(n, 8);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(pipefd[0]);
    {
        mc_transport *b = transport_of(mail_binding("bob", test_env("MC_BOB_PW"), NULL));
        mc_channel_listener *l;
        mc_input_channel *in;
        mc_message *m = NULL;
        open_in(b, "net.mail://crash#", &l, &in);
        while (mc_input_channel_receive(&m, in, 3000) == 0) {
            char *t = NULL;
            assert_int_equal(mc_message_body_text(&t, m), 0);
            again++;
            late += recent[t[6] - '0'];
            free(t);
            mc_message_free(m);
        }
        printf("redelivered after the kill: %d (at most the 2 received in its last second)\n", again);
        assert_true(again <= 2);
        assert_int_equal(late, again); /* only what it received in its last second */
        assert_int_equal(mc_input_channel_close(in), 0);
        mc_input_channel_free(in);
        mc_channel_listener_free(l);
        mc_transport_free(b);
    }
    assert_int_equal(server_count("bob", "Service E-mail", "all"), 0);
    mc_transport_free(a);
}

/* after the restart test, pass or fail: both servers run again */
static int servers_running(void **state)
{
    char cmd[1024];
    (void)state;
    snprintf(
        cmd, sizeof(cmd),
        "postfix -c '%s/postfix' status >/dev/null 2>&1 || postfix -c '%s/postfix' start >/dev/null 2>&1; "
        "kill -0 \"$(cat '%s/run/dovecot/master.pid' 2>/dev/null)\" 2>/dev/null || "
        "dovecot -c '%s/dovecot/dovecot.conf' </dev/null >/dev/null 2>&1",
        dir, dir, dir, dir);
    return system(cmd) ? -1 : 0;
}

/* every test starts from empty mailboxes */
static int empty_mailboxes(void **state)
{
    static const char *const users[] = {"alice", "bob", "carol", "dave", "erin"};
    char cmd[512];
    (void)state;
    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
        snprintf(cmd, sizeof(cmd),
                 "doveadm -c '%s/dovecot/dovecot.conf' expunge -u %s@example.test "
                 "mailbox '*' all",
                 dir, users[i]);
        if (system(cmd))
            return -1;
    }
    return 0;
}

/* the same outcomes when the server does not filter (imap_search_stamp =
 * false: every mail listed, each Subject read): unstamped mail still never
 * fetched whole, flagged or seen */
static void test_listing_every_mail(void **state)
{
    listing = "false";
    test_inbox_fallback(state);
    empty_mailboxes(state);
    test_bad_mail(state);
    listing = "true";
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_idle_roundtrip, empty_mailboxes),
        cmocka_unit_test_setup(test_inbox_fallback, empty_mailboxes),
        cmocka_unit_test_setup(test_forms_recipients_tls, empty_mailboxes),
        cmocka_unit_test_setup(test_bad_mail, empty_mailboxes),
        cmocka_unit_test_setup(test_listing_every_mail, empty_mailboxes),
        cmocka_unit_test_setup(test_flagged_by_another_client, empty_mailboxes),
        cmocka_unit_test_setup(test_wrong_ca, empty_mailboxes),
        cmocka_unit_test_setup(test_wrong_security_mode, empty_mailboxes),
        cmocka_unit_test_setup(test_wrong_password, empty_mailboxes),
        cmocka_unit_test_setup(test_rejected_and_unreachable, empty_mailboxes),
        cmocka_unit_test_setup(test_xoauth2, empty_mailboxes),
        cmocka_unit_test_setup(test_partial_recipients, empty_mailboxes),
        cmocka_unit_test_setup(test_credentials_need_auth, empty_mailboxes),
        cmocka_unit_test_setup(test_crash_redelivery, empty_mailboxes),
        cmocka_unit_test_setup_teardown(test_server_restart, empty_mailboxes, servers_running),
    };
    if (!(dir = mail_servers_dir()))
        return 77;
    net_test_init();
    srand((unsigned)time(NULL));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
