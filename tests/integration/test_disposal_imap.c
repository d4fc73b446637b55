/* test_disposal_imap.c - what becomes of mail after receive on the mail
 * binding, against real Postfix and Dovecot (tests/mailserver/start.sh, its
 * env.sh exported; skipped with 77 without them): after_receive = move puts
 * received mail into archive_folder (made by CREATE when missing), and
 * dead_letter_folder takes invalid mail instead of deleting it. The
 * server's folders are read back with a second IMAP client, Python's
 * imaplib (integration/imap_count.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include "net_helpers.h"

static const char *dir; /* the servers' directory */

static mc_binding *mail_binding(const char *user, const char *pw, ...)
{
    mc_binding *b = mail_binding_new(user, test_env("MC_SUBMISSION_PORT"), test_env("MC_IMAP_PORT"));
    va_list ap;
    binding_set(b, "tls_ca_file", test_env("MC_CA"));
    binding_set(b, "timeout", "5000");
    binding_set(b, "password", pw);
    va_start(ap, pw);
    binding_set_list(b, ap);
    va_end(ap);
    return b;
}

/* mails not flagged \Deleted in folder (with subject, if given), as imaplib
 * sees them; -1 when the folder does not exist */
static int imap_count(const char *user, const char *pw, const char *folder, const char *subject)
{
    char cmd[2048], line[64];
    int n = -2;
    FILE *p;
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s' '%s' '%s@example.test' '%s' '%s' '%s' '%s'",
             MC_IMAP_COUNT, test_env("MC_IMAP_PORT"), user, pw, test_env("MC_CA"), folder,
             subject ? subject : "");
    assert_non_null(p = popen(cmd, "r"));
    if (fgets(line, sizeof(line), p))
        n = atoi(line);
    assert_int_equal(pclose(p), 0);
    return n;
}

static int await_imap_count(const char *user, const char *pw, const char *folder, const char *subject,
                            int want)
{
    int n = -2;
    for (int i = 0; i < 100 && (n = imap_count(user, pw, folder, subject)) != want; i++)
        sleep_ms(100);
    return n;
}

/* hands a raw mail to Postfix's plain SMTP port, as any other sender would */
static void inject(const char *rcpt, const char *subject, const char *body)
{
    CURL *c = curl_easy_init();
    struct curl_slist *to = curl_slist_append(NULL, rcpt);
    char url[64], mail[2048];
    text_reader r;
    snprintf(mail, sizeof(mail),
             "From: someone@example.test\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%ld.%d@example.test>\r\n"
             "MIME-Version: 1.0\r\nContent-Type: application/soap+xml; charset=utf-8\r\n\r\n%s\r\n",
             rcpt, subject, (long)time(NULL), rand(), body);
    r = (text_reader){mail, 0, strlen(mail)};
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

/* after_receive = move: bob's received mail goes into a folder that did not
 * exist (made once), leaves "Service E-mail", and is delivered once */
static void test_archive(void **state)
{
    const char *bob = test_env("MC_BOB_PW");
    char folder[64], setting[96];
    mc_transport *a, *b;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m = NULL;
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    char *t;
    (void)state;
    snprintf(folder, sizeof(folder), "Archived %d", (int)getpid());
    snprintf(setting, sizeof(setting), "archive_folder=%s", folder);
    assert_int_equal(imap_count("bob", bob, folder, NULL), -1);
    a = transport_of(mail_binding("alice", test_env("MC_ALICE_PW"), NULL));
    b = transport_of(
        mail_binding("bob", bob, "after_receive=move", setting, "server_query_interval=300", NULL));
    open_in(b, "net.mail://archive#", &l, &in);
    assert_int_equal(send_text(a, "net.mail://archive#bob@example.test", "first"), 0);
    assert_int_equal(send_text(a, "net.mail://archive#bob@example.test", "second"), 0);
    for (int i = 0; i < 2; i++) {
        t = receive_text(in, 10000);
        assert_true(!strcmp(t, "first") || !strcmp(t, "second"));
        free(t);
    }
    /* moved within delete_delay (1 s) of the receive */
    assert_int_equal(await_imap_count("bob", bob, folder, "[net.mail] archive", 2), 2);
    assert_int_equal(imap_count("bob", bob, "Service E-mail", NULL), 0);
    /* not delivered again: several queries pass */
    assert_int_equal(mc_input_channel_receive(&m, in, 1500), MC_ETIMEOUT);
    /* a third, moved by the close of the last channel */
    assert_int_equal(send_text(a, "net.mail://archive#bob@example.test", "third"), 0);
    t = receive_text(in, 10000);
    assert_string_equal(t, "third");
    free(t);
    assert_int_equal(mc_input_channel_close(in), 0);
    assert_int_equal(imap_count("bob", bob, folder, NULL), 3);
    assert_int_equal(imap_count("bob", bob, "Service E-mail", NULL), 0);
    assert_int_equal(mc_transport_statistics(&st, b), 0);
    assert_int_equal(st.delivered, 3);
    assert_int_equal(st.deleted, 0);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_transport_free(b);
    mc_transport_free(a);
}

/* dead_letter_folder: carol's invalid mail (corrupt SOAP) is moved there
 * after receive_retry_count attempts instead of being deleted; malformed
 * mail still goes to Deleted Items, expired mail is still deleted */
static void test_dead_letter(void **state)
{
    const char *pw = test_env("MC_CAROL_PW");
    char folder[64], setting[96];
    mc_transport *c;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    int trash = imap_count("carol", pw, "Deleted Items", NULL);
    (void)state;
    snprintf(folder, sizeof(folder), "Dead Letters %d", (int)getpid());
    snprintf(setting, sizeof(setting), "dead_letter_folder=%s", folder);
    c = transport_of(
        mail_binding("carol", pw, "server_query_interval=200", "receive_retry_count=2", setting, NULL));
    open_in(c, "net.mail://dead#", &l, &in);
    inject("carol@example.test", "[net.mail] dead", "this is not SOAP <<<");
    inject("carol@example.test", "[net.mail] dead;ttl", "<x/>");
    inject("carol@example.test", "[net.mail] dead;ttl=2001-01-01T00:00:00Z", "<x/>");
    assert_int_equal(await_imap_count("carol", pw, folder, "[net.mail] dead", 1), 1);
    assert_int_equal(await_imap_count("carol", pw, "Deleted Items", NULL, trash < 0 ? 1 : trash + 1),
                     trash < 0 ? 1 : trash + 1);
    assert_int_equal(await_imap_count("carol", pw, "INBOX", "[net.mail]", 0), 0);
    assert_int_equal(mc_transport_statistics(&st, c), 0);
    assert_int_equal(st.invalid, 1);
    assert_int_equal(st.malformed, 1);
    assert_int_equal(st.expired, 1);
    assert_int_equal(st.delivered, 0);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_transport_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_archive),
        cmocka_unit_test(test_dead_letter),
    };
    if (!(dir = mail_servers_dir()))
        return 77;
    if (access("/usr/bin/python3", X_OK)) {
        fprintf(stderr, "no /usr/bin/python3 for the second IMAP client: skipped\n");
        return 77;
    }
    net_test_init();
    srand((unsigned)time(NULL));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
