/* test_tlsfloor.c - TLS 1.2 as the floor (tls_min_version): against a
 * server whose TLS offers only 1.0/1.1 (tests/tlsold/old_tls_server.py) a
 * send or a listener fails with MC_ETLS before any credential or mail goes
 * out; against the real Postfix and Dovecot of tests/mailserver/start.sh
 * (TLS 1.2/1.3) the same settings work. Needs those servers' env.sh (their
 * CA signs the old server's certificate too); skipped (77) without it.
 *
 * "test_tlsfloor smtp" runs the setting's and SMTP's tests, "test_tlsfloor
 * imap" the IMAP half (skipped, 77, when MC_SKIP_IMAP_TLSFLOOR is set). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "net_helpers.h"

static const char *dir; /* the mail servers' directory */

/* ---- the old-TLS server ---- */

/* whether a line of the record starts with prefix */
static bool recorded(const script_server *s, const char *prefix)
{
    return script_server_count(s, prefix) > 0;
}

/* an old-TLS server for proto (smtp, imap) in mode (starttls, tls) offering
 * TLS 1.0 up to tls_max (1.0 or 1.1) */
static void old_start(script_server *s, const char *proto, const char *mode, const char *tls_max)
{
    char cert[512], key[512];
    snprintf(cert, sizeof(cert), "%s/tls/server.pem", dir);
    snprintf(key, sizeof(key), "%s/tls/server.key", dir);
    script_server_start(s, "old-TLS server", MC_OLD_TLS_SERVER, "--proto", proto, "--mode", mode, "--port",
                        "0", "--cert", cert, "--key", key, "--timeout", "20", "--tls-max", tls_max,
                        (char *)NULL);
}

/* waits (bounded) for the server to end; keeps and prints its record */
static void old_stop(script_server *s) { script_server_stop(s, false, 30000); }

/* what the old server must not have seen: any credential, any mail command,
 * any byte after a handshake; and the handshake must have failed */
static void assert_refused_before_credentials(const script_server *s)
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
    mc_binding *b = mail_binding_new("alice", smtp_port, imap_port);
    va_list ap;
    binding_set(b, "tls_ca_file", test_env("MC_CA"));
    binding_set(b, "timeout", "5000");
    binding_set(b, "password", test_env("MC_ALICE_PW"));
    va_start(ap, imap_port);
    binding_set_list(b, ap);
    va_end(ap);
    return transport_of(b);
}

/* ---- the setting ---- */

static void test_setting(void **state)
{
    mc_binding *b;
    char *v = NULL;
    (void)state;
    assert_int_equal(mc_binding_new(&b, "mail"), 0);
    assert_int_equal(mc_binding_get(&v, b, "tls_min_version"), 0);
    assert_string_equal(v, "1.2"); /* the default */
    mc_free(v);
    assert_int_equal(mc_binding_set(b, "tls_min_version", "1.3"), 0);
    assert_int_equal(mc_binding_set(b, "tls_min_version", "1.1"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "tls_min_version", "1.0"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "tls_min_version", ""), MC_EINVAL);
    assert_int_equal(mc_binding_get(&v, b, "tls_min_version"), 0);
    assert_string_equal(v, "1.3"); /* refused values changed nothing */
    mc_free(v);
    mc_binding_free(b);
}

/* ---- SMTP ---- */

/* sends text through an old-TLS SMTP server (mode, up to tls_max) with the
 * setting kv (NULL: none); the server is stopped after */
static int send_via_old(script_server *s, const char *mode, const char *tls_max, const char *kv,
                        const char *text)
{
    mc_transport *t;
    int rc;
    old_start(s, "smtp", mode, tls_max);
    t = alice(s->port, test_env("MC_IMAP_PORT"), kv, NULL);
    rc = send_text(t, "net.mail://floor#bob@example.test", text);
    mc_transport_free(t);
    old_stop(s);
    return rc;
}

static void smtp_old(const char *mode, const char *security, const char *tls_max)
{
    script_server s;
    char kv[64];
    int rc;
    snprintf(kv, sizeof(kv), "smtp_security=%s", security);
    rc = send_via_old(&s, mode, tls_max, kv, "must not leave");
    assert_int_equal(rc, MC_ETLS);
    /* the error says why, and names the setting */
    assert_non_null(strstr(mc_error_last(), "older than TLS 1.2"));
    assert_non_null(strstr(mc_error_last(), "tls_min_version"));
    assert_null(strstr(mc_error_last(), test_env("MC_ALICE_PW")));
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
    script_server s;
    int rc;
    (void)state;
    rc = send_via_old(&s, "starttls", "1.2", "tls_min_version=1.3", "must not leave");
    assert_int_equal(rc, MC_ETLS);
    assert_non_null(strstr(mc_error_last(), "older than TLS 1.3"));
    assert_refused_before_credentials(&s);

    rc = send_via_old(&s, "starttls", "1.2", NULL, "x");
    assert_int_equal(rc, MC_EAUTH); /* the server's 535 */
    assert_true(recorded(&s, "handshake TLSv1.2"));
    assert_true(recorded(&s, "credential AUTH"));
}

/* Postfix offers TLS 1.2 and 1.3: the default floor and 1.3 both send */
static void test_smtp_postfix(void **state)
{
    mc_transport *t;
    (void)state;
    t = alice(test_env("MC_SUBMISSION_PORT"), test_env("MC_IMAP_PORT"), NULL);
    assert_int_equal(send_text(t, "net.mail://floor#bob@example.test", "floor 1.2"), 0);
    mc_transport_free(t);
    t = alice(test_env("MC_SUBMISSION_PORT"), test_env("MC_IMAP_PORT"), "tls_min_version=1.3", NULL);
    assert_int_equal(send_text(t, "net.mail://floor#bob@example.test", "floor 1.3"), 0);
    mc_transport_free(t);
    t = alice(test_env("MC_SUBMISSIONS_PORT"), test_env("MC_IMAP_PORT"), "smtp_security=tls",
              "tls_min_version=1.3", NULL);
    assert_int_equal(send_text(t, "net.mail://floor#bob@example.test", "floor 1.3 implicit"), 0);
    mc_transport_free(t);
}

/* ---- IMAP (skipped with MC_SKIP_IMAP_TLSFLOOR set) ---- */

static void imap_old(const char *mode, const char *security, const char *tls_max)
{
    script_server s;
    mc_transport *t;
    mc_channel_listener *l = NULL;
    char kv[64];
    int rc;
    if (getenv("MC_SKIP_IMAP_TLSFLOOR"))
        skip();
    old_start(&s, "imap", mode, tls_max);
    snprintf(kv, sizeof(kv), "imap_security=%s", security);
    t = alice(test_env("MC_SUBMISSION_PORT"), s.port, kv, NULL);
    rc = mc_channel_listener_new(&l, t, "net.mail://floor#");
    if (!rc)
        mc_channel_listener_free(l);
    else
        fprintf(stderr, "listener: %s: %s\n", mc_strerror(rc), mc_error_last());
    mc_transport_free(t);
    old_stop(&s);
    assert_int_equal(rc, MC_ETLS);
    assert_null(strstr(mc_error_last(), test_env("MC_ALICE_PW")));
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
        mc_transport *t = alice(test_env("MC_SUBMISSION_PORT"), test_env("MC_IMAP_PORT"), floors[i], NULL);
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
        cmocka_unit_test(test_setting),           cmocka_unit_test(test_smtp_starttls_old),
        cmocka_unit_test(test_smtp_implicit_old), cmocka_unit_test(test_smtp_floor13),
        cmocka_unit_test(test_smtp_postfix),
    };
    const struct CMUnitTest imap[] = {
        cmocka_unit_test(test_imap_starttls_old),
        cmocka_unit_test(test_imap_implicit_old),
        cmocka_unit_test(test_imap_dovecot),
    };
    const char *which = argc > 1 ? argv[1] : "";
    int failed = 0;
    if (!(dir = mail_servers_dir()) || !script_server_available("old-TLS server"))
        return 77;
    net_test_init();
    if (strcmp(which, "imap"))
        failed += cmocka_run_group_tests_name("tlsfloor_smtp", smtp, NULL, NULL);
    if (strcmp(which, "smtp")) {
        if (getenv("MC_SKIP_IMAP_TLSFLOOR") && !strcmp(which, "imap")) {
            fprintf(stderr, "MC_SKIP_IMAP_TLSFLOOR is set: the IMAP half is skipped\n");
            return 77;
        }
        failed += cmocka_run_group_tests_name("tlsfloor_imap", imap, NULL, NULL);
    }
    script_server_cleanup();
    return failed ? 1 : 0;
}
