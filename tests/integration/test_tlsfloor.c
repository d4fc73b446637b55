/* test_tlsfloor.c - TLS 1.2 as the floor (tls_min_version): against a
 * server whose TLS offers only 1.0/1.1 (tests/tlsold/old_tls_server.py) a
 * send or a listener fails with MC_ETLS before any credential or mail goes
 * out; against the real Postfix and Dovecot of tests/mailserver/start.sh
 * (TLS 1.2/1.3) the same settings work. Needs those servers' env.sh (their
 * CA signs the old server's certificate too); skipped (77) without it.
 *
 * "test_tlsfloor smtp" runs the setting's and SMTP's tests, "test_tlsfloor
 * imap" the IMAP half (skipped, 77, when MC_SKIP_IMAP_TLSFLOOR is set). */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include "../unit/helpers.h"

static const char *dir; /* the mail servers' directory */

static const char *env(const char *name)
{
    const char *v = getenv(name);
    if (!v)
        fail_msg("environment variable %s missing", name);
    return v;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the old-TLS server ---- */

typedef struct {
    pid_t pid;
    char record[256];
    char port[16];
    char *final; /* the record as the stopped server left it (the file is gone) */
} old_server;

/* the text of the record, malloc'ed ("" when missing) */
static char *record_text(const old_server *s)
{
    FILE *f = s->final ? NULL : fopen(s->record, "r");
    char *text = s->final ? strdup(s->final) : calloc(1, 65536);
    assert_non_null(text);
    if (f) {
        size_t n = fread(text, 1, 65535, f);
        text[n] = 0;
        fclose(f);
    }
    return text;
}

/* whether a line of the record starts with prefix */
static bool recorded(const old_server *s, const char *prefix)
{
    char *text = record_text(s);
    bool found = false;
    for (char *line = text; line && *line && !found; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        found = !strncmp(line, prefix, strlen(prefix));
    free(text);
    return found;
}

/* an old-TLS server for proto (smtp, imap) in mode (starttls, tls) offering
 * TLS 1.0 up to tls_max (1.0 or 1.1) */
static void old_start(old_server *s, const char *proto, const char *mode, const char *tls_max)
{
    char *text;
    memset(s, 0, sizeof(*s));
    snprintf(s->record, sizeof(s->record), "/tmp/mc-tlsold.%d.%s.%s", (int)getpid(), proto, mode);
    unlink(s->record);
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (!s->pid) {
        char cert[512], key[512];
        snprintf(cert, sizeof(cert), "%s/tls/server.pem", dir);
        snprintf(key, sizeof(key), "%s/tls/server.key", dir);
        execl("/usr/bin/python3", "python3", MC_OLD_TLS_SERVER, "--proto", proto, "--mode", mode, "--port", "0",
              "--cert", cert, "--key", key, "--record", s->record, "--timeout", "20", "--tls-max", tls_max, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200 && !recorded(s, "port "); i++) /* bounded: 20 s */
        sleep_ms(100);
    text = record_text(s);
    if (strncmp(text, "port ", 5))
        fail_msg("the old-TLS server did not start: %s", text);
    snprintf(s->port, sizeof(s->port), "%.*s", (int)strcspn(text + 5, "\n"), text + 5);
    free(text);
}

static char *last_final; /* the last stopped server's record, kept for its assertions */

/* waits (bounded) for the server to end; keeps and prints its record */
static void old_stop(old_server *s)
{
    int status;
    pid_t r = 0;
    for (int i = 0; i < 300 && !(r = waitpid(s->pid, &status, WNOHANG)); i++)
        sleep_ms(100);
    if (!r) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &status, 0);
    }
    free(last_final);
    s->final = last_final = record_text(s);
    fprintf(stderr, "old-TLS server record:\n%s", s->final);
    unlink(s->record);
}

/* what the old server must not have seen: any credential, any mail command,
 * any byte after a handshake; and the handshake must have failed */
static void assert_refused_before_credentials(const old_server *s)
{
    assert_true(recorded(s, "handshake-failed"));
    assert_false(recorded(s, "handshake TLS"));
    assert_false(recorded(s, "credential"));
    assert_false(recorded(s, "mail"));
    assert_false(recorded(s, "tls-bytes"));
    assert_false(recorded(s, "tls-cmd"));
}

/* ---- bindings ---- */

/* a mail binding for alice; extra "k=v"... NULL */
static mc_transport *alice(const char *smtp_port, const char *imap_port, ...)
{
    mc_binding *b;
    mc_transport *t;
    va_list ap;
    const char *kv;
    assert_int_equal(mc_binding_new(&b, "mail"), 0);
    assert_int_equal(mc_binding_set(b, "address", "alice@example.test"), 0);
    assert_int_equal(mc_binding_set(b, "smtp_host", "127.0.0.1"), 0);
    assert_int_equal(mc_binding_set(b, "smtp_port", smtp_port), 0);
    assert_int_equal(mc_binding_set(b, "imap_host", "127.0.0.1"), 0);
    assert_int_equal(mc_binding_set(b, "imap_port", imap_port), 0);
    assert_int_equal(mc_binding_set(b, "tls_ca_file", env("MC_CA")), 0);
    assert_int_equal(mc_binding_set(b, "timeout", "5000"), 0);
    assert_int_equal(mc_binding_set(b, "password", env("MC_ALICE_PW")), 0);
    va_start(ap, imap_port);
    while ((kv = va_arg(ap, const char *))) {
        char *k = strdup(kv), *eq = strchr(k, '=');
        *eq = 0;
        if (mc_binding_set(b, k, eq + 1))
            fail_msg("setting %s: %s", k, mc_error_last());
        free(k);
    }
    va_end(ap);
    if (mc_transport_new(&t, b))
        fail_msg("mc_transport_new: %s", mc_error_last());
    mc_binding_free(b);
    return t;
}

static int send_text(mc_transport *t, const char *to, const char *text)
{
    mc_channel_factory *f;
    mc_output_channel *ch;
    mc_message *m;
    int rc;
    assert_int_equal(mc_channel_factory_new(&f, t), 0);
    assert_int_equal(mc_channel_factory_create_channel(&ch, f, to), 0);
    assert_int_equal(mc_message_new_text(&m, "urn:test", text), 0);
    rc = mc_output_channel_send(ch, m);
    if (rc)
        fprintf(stderr, "send to %s: %s: %s\n", to, mc_strerror(rc), mc_error_last());
    mc_message_free(m);
    mc_output_channel_free(ch);
    mc_channel_factory_free(f);
    return rc;
}

/* ---- the setting ---- */

static void test_setting(void **state)
{
    mc_binding *b;
    char *v = NULL;
    (void)state;
    assert_int_equal(mc_binding_new(&b, "mail"), 0);
    assert_int_equal(mc_binding_get(b, "tls_min_version", &v), 0);
    assert_string_equal(v, "1.2"); /* the default */
    mc_free(v);
    assert_int_equal(mc_binding_set(b, "tls_min_version", "1.3"), 0);
    assert_int_equal(mc_binding_set(b, "tls_min_version", "1.1"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "tls_min_version", "1.0"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "tls_min_version", ""), MC_EINVAL);
    assert_int_equal(mc_binding_get(b, "tls_min_version", &v), 0);
    assert_string_equal(v, "1.3"); /* refused values changed nothing */
    mc_free(v);
    mc_binding_free(b);
}

/* ---- SMTP ---- */

static void smtp_old(const char *mode, const char *security, const char *tls_max)
{
    old_server s;
    mc_transport *t;
    char kv[64];
    int rc;
    old_start(&s, "smtp", mode, tls_max);
    snprintf(kv, sizeof(kv), "smtp_security=%s", security);
    t = alice(s.port, env("MC_IMAP_PORT"), kv, NULL);
    rc = send_text(t, "net.mail://floor#bob@example.test", "must not leave");
    mc_transport_free(t);
    old_stop(&s);
    assert_int_equal(rc, MC_ETLS);
    /* the error says why, and names the setting */
    assert_non_null(strstr(mc_error_last(), "older than TLS 1.2"));
    assert_non_null(strstr(mc_error_last(), "tls_min_version"));
    assert_null(strstr(mc_error_last(), env("MC_ALICE_PW")));
    assert_refused_before_credentials(&s);
}

static void test_smtp_starttls_old(void **state)
{
    (void)state;
    smtp_old("starttls", "starttls", "1.0");
}

static void test_smtp_implicit_old(void **state)
{
    (void)state;
    smtp_old("tls", "tls", "1.1");
}

/* tls_min_version 1.3 against a server offering up to TLS 1.2: refused
 * before AUTH; the default floor (1.2) shakes hands with the same server
 * and sends AUTH (which it refuses): so the server is fine, the floor differs */
static void test_smtp_floor13(void **state)
{
    old_server s;
    mc_transport *t;
    int rc;
    (void)state;
    old_start(&s, "smtp", "starttls", "1.2");
    t = alice(s.port, env("MC_IMAP_PORT"), "tls_min_version=1.3", NULL);
    rc = send_text(t, "net.mail://floor#bob@example.test", "must not leave");
    mc_transport_free(t);
    old_stop(&s);
    assert_int_equal(rc, MC_ETLS);
    assert_non_null(strstr(mc_error_last(), "older than TLS 1.3"));
    assert_refused_before_credentials(&s);

    old_start(&s, "smtp", "starttls", "1.2");
    t = alice(s.port, env("MC_IMAP_PORT"), NULL);
    rc = send_text(t, "net.mail://floor#bob@example.test", "x");
    mc_transport_free(t);
    old_stop(&s);
    assert_int_equal(rc, MC_EAUTH); /* the server's 535 */
    assert_true(recorded(&s, "handshake TLSv1.2"));
    assert_true(recorded(&s, "credential AUTH"));
}

/* Postfix offers TLS 1.2 and 1.3: the default floor and 1.3 both send */
static void test_smtp_postfix(void **state)
{
    mc_transport *t;
    (void)state;
    t = alice(env("MC_SUBMISSION_PORT"), env("MC_IMAP_PORT"), NULL);
    assert_int_equal(send_text(t, "net.mail://floor#bob@example.test", "floor 1.2"), 0);
    mc_transport_free(t);
    t = alice(env("MC_SUBMISSION_PORT"), env("MC_IMAP_PORT"), "tls_min_version=1.3", NULL);
    assert_int_equal(send_text(t, "net.mail://floor#bob@example.test", "floor 1.3"), 0);
    mc_transport_free(t);
    t = alice(env("MC_SUBMISSIONS_PORT"), env("MC_IMAP_PORT"), "smtp_security=tls", "tls_min_version=1.3", NULL);
    assert_int_equal(send_text(t, "net.mail://floor#bob@example.test", "floor 1.3 implicit"), 0);
    mc_transport_free(t);
}

/* ---- IMAP (skipped with MC_SKIP_IMAP_TLSFLOOR set) ---- */

static void imap_old(const char *mode, const char *security, const char *tls_max)
{
    old_server s;
    mc_transport *t;
    mc_channel_listener *l = NULL;
    char kv[64];
    int rc;
    if (getenv("MC_SKIP_IMAP_TLSFLOOR"))
        skip();
    old_start(&s, "imap", mode, tls_max);
    snprintf(kv, sizeof(kv), "imap_security=%s", security);
    t = alice(env("MC_SUBMISSION_PORT"), s.port, kv, NULL);
    rc = mc_channel_listener_new(&l, t, "net.mail://floor#");
    if (!rc)
        mc_channel_listener_free(l);
    else
        fprintf(stderr, "listener: %s: %s\n", mc_strerror(rc), mc_error_last());
    mc_transport_free(t);
    old_stop(&s);
    assert_int_equal(rc, MC_ETLS);
    assert_null(strstr(mc_error_last(), env("MC_ALICE_PW")));
    assert_refused_before_credentials(&s);
}

static void test_imap_starttls_old(void **state)
{
    (void)state;
    imap_old("starttls", "starttls", "1.0");
}

static void test_imap_implicit_old(void **state)
{
    (void)state;
    imap_old("tls", "tls", "1.1");
}

/* Dovecot offers TLS 1.2 and 1.3: the default floor and 1.3 both log in */
static void test_imap_dovecot(void **state)
{
    static const char *const floors[] = {"tls_min_version=1.2", "tls_min_version=1.3"};
    (void)state;
    if (getenv("MC_SKIP_IMAP_TLSFLOOR"))
        skip();
    for (size_t i = 0; i < 2; i++) {
        mc_transport *t = alice(env("MC_SUBMISSION_PORT"), env("MC_IMAP_PORT"), floors[i], NULL);
        mc_channel_listener *l = NULL;
        if (mc_channel_listener_new(&l, t, "net.mail://floor#"))
            fail_msg("listener with %s: %s", floors[i], mc_error_last());
        mc_channel_listener_free(l);
        mc_transport_free(t);
    }
}

/* argv[1]: "smtp" (the setting and SMTP) or "imap"; both when absent */
int main(int argc, char **argv)
{
    const struct CMUnitTest smtp[] = {
        cmocka_unit_test(test_setting),
        cmocka_unit_test(test_smtp_starttls_old),
        cmocka_unit_test(test_smtp_implicit_old),
        cmocka_unit_test(test_smtp_floor13),
        cmocka_unit_test(test_smtp_postfix),
    };
    const struct CMUnitTest imap[] = {
        cmocka_unit_test(test_imap_starttls_old),
        cmocka_unit_test(test_imap_implicit_old),
        cmocka_unit_test(test_imap_dovecot),
    };
    const char *which = argc > 1 ? argv[1] : "";
    int failed = 0;
    if (!(dir = getenv("MC_MAILDIR_TEST"))) {
        fprintf(stderr, "mail servers not running (tests/mailserver/start.sh): skipped\n");
        return 77;
    }
    if (access("/usr/bin/python3", X_OK)) {
        fprintf(stderr, "no /usr/bin/python3 for the old-TLS server: skipped\n");
        return 77;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (getenv("MC_TEST_VERBOSE"))
        mc_log_set_callback(mc_log_stderr, MC_LOG_DEBUG, NULL);
    if (strcmp(which, "imap"))
        failed += cmocka_run_group_tests_name("tlsfloor_smtp", smtp, NULL, NULL);
    if (strcmp(which, "smtp")) {
        if (getenv("MC_SKIP_IMAP_TLSFLOOR") && !strcmp(which, "imap")) {
            fprintf(stderr, "MC_SKIP_IMAP_TLSFLOOR is set: the IMAP half is skipped\n");
            return 77;
        }
        failed += cmocka_run_group_tests_name("tlsfloor_imap", imap, NULL, NULL);
    }
    free(last_final);
    return failed ? 1 : 0;
}
