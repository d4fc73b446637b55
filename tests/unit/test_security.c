/* test_security.c - message security through the public API, over the
 * Maildir transport: secured round trip with the recipient's certificate
 * chosen by address, failed security as invalid mail (never delivered,
 * deleted after the retry count, reason logged), the size limit after
 * securing, and configuration errors. The PKI comes from tests/security/pki.sh;
 * the rejection cases one by one are in tests/security/interop_test.py. */
#include <dirent.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "helpers.h"
#include "security/wss_int.h"

#define BOB "bob@example.test"
#define ALICE "alice@example.test"

static char *pki;

static const char *pki_file(int slot, const char *name)
{
    static char buf[8][512];
    snprintf(buf[slot], sizeof(buf[slot]), "%s/%s", pki, name);
    return buf[slot];
}

static char kv[16][600];
static const char *setting(int slot, const char *name, const char *value)
{
    snprintf(kv[slot], sizeof(kv[slot]), "%s=%s", name, value);
    return kv[slot];
}

/* a secured Maildir transport for `me`, with these certificate files */
static mc_transport *secured(const char *root, const char *addr, const char *me, const char *peers,
                             const char *extra)
{
    char cert[64], key[64];
    snprintf(cert, sizeof(cert), "%s.pem", me);
    snprintf(key, sizeof(key), "%s.key", me);
    return maildir_transport(
        root, addr, "security_mode=message", setting(0, "certificate", pki_file(0, cert)),
        setting(1, "private_key", pki_file(1, key)), setting(2, "recipient_certificate", peers),
        setting(3, "security_ca_file", pki_file(2, "ca.pem")), "server_query_interval=50",
        "receive_retry_count=2", extra, NULL);
}

static int group_setup(void **state)
{
    char cmd[1024];
    (void)state;
    pki = make_tmpdir();
    snprintf(cmd, sizeof(cmd), "MC_PKI_NO_JAVA=1 bash %s %s >/dev/null", MC_PKI_SCRIPT, pki);
    return system(cmd) == 0 ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    rm_rf(pki);
    free(pki);
    return 0;
}

static void send_text(mc_transport *t, const char *to, const char *text, int expect)
{
    mc_channel_factory *f;
    mc_output_channel *ch;
    mc_message *m;
    assert_int_equal(mc_channel_factory_new(&f, t), 0);
    assert_int_equal(mc_message_new_text(&m, "urn:test:echo", text), 0);
    assert_int_equal(mc_channel_factory_create_channel(&ch, f, to), 0);
    assert_int_equal(mc_output_channel_send(ch, m), expect);
    mc_message_free(m);
    mc_output_channel_free(ch);
    mc_channel_factory_free(f);
}

static bool file_contains(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool found = false;
    while (d && !found && (e = readdir(d))) {
        char path[1024], buf[65536];
        FILE *f;
        size_t n;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (!(f = fopen(path, "r")))
            continue;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        found = strstr(buf, needle) != NULL;
    }
    if (d)
        closedir(d);
    return found;
}

static void test_round_trip_by_address(void **state)
{
    char *root = make_tmpdir(), *text, path[2048];
    mc_transport *a, *b;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m;
    (void)state;
    /* alice holds several recipient certificates: bob's is chosen by address */
    char peers[600];
    snprintf(peers, sizeof(peers), "%s/peers", root);
    assert_int_equal(mkdir(peers, 0700), 0);
    assert_int_equal(
        system((snprintf(path, sizeof(path), "cp %s/bob.pem %s/dave.pem %s/", pki, pki, peers), path)), 0);
    a = secured(root, ALICE, "alice", peers, NULL);
    b = secured(root, BOB, "bob", pki_file(4, "alice.pem"), NULL);
    send_text(a, "net.mail://echo#" BOB, "secret rendezvous at noon", 0);
    /* on the wire (bob's Maildir) nothing of the body is readable */
    assert_false(file_contains(mbox_path(path, sizeof(path), root, BOB, "new"), "rendezvous"));
    assert_int_equal(mc_channel_listener_new(&l, b, "net.mail://echo#"), 0);
    assert_int_equal(mc_channel_listener_accept_channel(&in, l, 1000), 0);
    assert_int_equal(mc_input_channel_receive(&m, in, 5000), 0);
    assert_int_equal(mc_message_body_text(&text, m), 0);
    assert_string_equal(text, "secret rendezvous at noon");
    assert_string_equal(mc_message_property(m, MC_PROP_SENDER_CERTIFICATE), "CN=alice,O=mailchan tests");
    assert_string_equal(mc_message_action(m), "urn:test:echo");
    mc_free(text);
    mc_message_free(m);
    /* an address with no certificate: the send fails and says so */
    send_text(a, "net.mail://echo#nobody@example.test", "x", MC_ENOTFOUND);
    assert_non_null(strstr(mc_error_last(), "no recipient certificate for nobody@example.test"));
    mc_input_channel_close(in);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_transport_free(a);
    mc_transport_free(b);
    rm_rf(root);
    free(root);
}

static char logged[8192];
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static void capture(mc_log_level level, const char *message, void *user_data)
{
    (void)level, (void)user_data;
    pthread_mutex_lock(&log_lock);
    strncat(logged, message, sizeof(logged) - strlen(logged) - 2);
    strcat(logged, "\n");
    pthread_mutex_unlock(&log_lock);
}

static void test_failed_security_is_invalid_mail(void **state)
{
    char *root = make_tmpdir(), path[600];
    mc_transport *carol, *b;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m = NULL;
    (void)state;
    /* carol's certificate comes from a CA bob does not trust */
    carol = maildir_transport(root, "carol@example.test", "security_mode=message",
                              setting(0, "certificate", pki_file(0, "carol.pem")),
                              setting(1, "private_key", pki_file(1, "carol.key")),
                              setting(2, "recipient_certificate", pki_file(2, "bob.pem")),
                              setting(3, "security_ca_file", pki_file(3, "other-ca.pem")), NULL);
    b = secured(root, BOB, "bob", pki_file(4, "alice.pem"), NULL);
    send_text(carol, "net.mail://echo#" BOB, "let me in", 0);
    assert_int_equal(count_files(mbox_path(path, sizeof(path), root, BOB, "new")), 1);
    logged[0] = '\0';
    mc_log_set_callback(capture, MC_LOG_INFO, NULL);
    assert_int_equal(mc_channel_listener_new(&l, b, "net.mail://echo#"), 0);
    assert_int_equal(mc_channel_listener_accept_channel(&in, l, 1000), 0);
    /* never delivered; deleted after receive_retry_count (2) readings */
    assert_int_equal(mc_input_channel_receive(&m, in, 1500), MC_ETIMEOUT);
    mc_log_set_callback(NULL, MC_LOG_ERROR, NULL);
    assert_int_equal(count_files(mbox_path(path, sizeof(path), root, BOB, "new")) +
                         count_files(mbox_path(path, sizeof(path), root, BOB, "cur")),
                     0);
    pthread_mutex_lock(&log_lock);
    assert_non_null(strstr(logged, "deleted invalid mail"));
    assert_non_null(strstr(logged, "the sender's certificate is not trusted"));
    /* no secret in the log: neither body text nor key material */
    assert_null(strstr(logged, "let me in"));
    pthread_mutex_unlock(&log_lock);
    mc_input_channel_close(in);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_transport_free(carol);
    mc_transport_free(b);
    rm_rf(root);
    free(root);
}

static void test_too_large_after_securing(void **state)
{
    char *root = make_tmpdir(), big[2001];
    mc_transport *a;
    (void)state;
    memset(big, 'x', 2000);
    big[2000] = '\0';
    /* the plain envelope (~2.4 KB) fits in 4096 bytes; secured it does not */
    a = secured(root, ALICE, "alice", pki_file(4, "bob.pem"), "max_received_message_size=4096");
    send_text(a, "net.mail://echo#" BOB, big, MC_ETOOBIG);
    assert_non_null(strstr(mc_error_last(), "max_received_message_size"));
    assert_non_null(strstr(mc_error_last(), "after message security"));
    mc_transport_free(a);
    rm_rf(root);
    free(root);
}

static int make(const char *root, const char **kvs, size_t n)
{
    mc_binding *b;
    mc_transport *t = NULL;
    int rc;
    assert_int_equal(mc_binding_new(&b, "maildir"), 0);
    assert_int_equal(mc_binding_set(b, "maildir_root", root), 0);
    assert_int_equal(mc_binding_set(b, "address", ALICE), 0);
    assert_int_equal(mc_binding_set(b, "security_mode", "message"), 0);
    for (size_t i = 0; i + 1 < n; i += 2)
        assert_int_equal(mc_binding_set(b, kvs[i], kvs[i + 1]), 0);
    rc = mc_transport_new(&t, b);
    mc_transport_free(t);
    mc_binding_free(b);
    return rc;
}

static void test_configuration_errors(void **state)
{
    char *root = make_tmpdir();
    (void)state;
    const char *none[] = {"security_ca_file", pki_file(0, "ca.pem")};
    assert_int_equal(make(root, none, 2), MC_EINVAL);
    assert_non_null(strstr(mc_error_last(), "certificate"));
    const char *no_ca[] = {"certificate", pki_file(0, "alice.pem"), "private_key", pki_file(1, "alice.key")};
    assert_int_equal(make(root, no_ca, 4), MC_EINVAL);
    assert_non_null(strstr(mc_error_last(), "security_ca_file"));
    const char *wrong_key[] = {"certificate",          pki_file(0, "alice.pem"), "private_key",
                               pki_file(1, "bob.key"), "security_ca_file",       pki_file(2, "ca.pem")};
    assert_int_equal(make(root, wrong_key, 6), MC_ESECURITY);
    assert_non_null(strstr(mc_error_last(), "does not belong"));
    const char *bad_pw[] = {"certificate",     pki_file(0, "bob.p12"), "private_key_password",
                            "wrong secret 42", "security_ca_file",     pki_file(2, "ca.pem")};
    assert_int_equal(make(root, bad_pw, 6), MC_ESECURITY);
    assert_null(strstr(mc_error_last(), "wrong secret 42")); /* secrets never in errors */
    const char *missing[] = {"certificate", "/nonexistent/x.pem", "security_ca_file", pki_file(2, "ca.pem")};
    assert_int_equal(make(root, missing, 4), MC_EIO);
    const char *p12[] = {"certificate", pki_file(0, "bob.p12"), "private_key_password",
                         "p12pass",     "security_ca_file",     pki_file(2, "ca.pem")};
    assert_int_equal(make(root, p12, 6), 0);
    rm_rf(root);
    free(root);
}

static void test_settings_validated(void **state)
{
    mc_binding *b;
    (void)state;
    assert_int_equal(mc_binding_new(&b, "mail"), 0);
    assert_int_equal(mc_binding_set(b, "security_mode", "transport"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "algorithm_suite", "Basic128"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "algorithm_suite", "Basic256Sha256"), 0);
    assert_int_equal(mc_binding_set(b, "recipient_key_identifier", "thumbprint"), 0);
    assert_int_equal(mc_binding_set(b, "max_clock_skew", "-1"), MC_EINVAL);
    mc_binding_free(b);
}

/* ---- the replay cache (internal) ---- */

static int replay(mc__wss_replay *r, const char *value, const char *mail, int64_t expires, int64_t now)
{
    return mc__wss_replay_check(r, (const unsigned char *)value, strlen(value), mail, expires, now);
}

static void count_evictions(mc_log_level level, const char *message, void *user_data)
{
    if (level == MC_LOG_WARN && strstr(message, "replay cache full"))
        ++*(int *)user_data;
}

static void test_replay_cache(void **state)
{
    mc__wss_replay *r;
    int evictions = 0;
    (void)state;
    mc_log_set_callback(count_evictions, MC_LOG_WARN, &evictions);
    assert_int_equal(mc__wss_replay_new(&r, 3, NULL), 0);
    assert_int_equal(replay(r, "a", "m1", 100, 10), 0);
    assert_int_equal(replay(r, "a", "m2", 100, 20), MC_ESECURITY);
    assert_non_null(strstr(mc_error_last(), "mail m1"));
    assert_int_equal(replay(r, "a", "m1", 100, 20), 0);  /* the same mail read again */
    assert_int_equal(replay(r, "a", "m2", 200, 100), 0); /* expired: a new message */
    assert_int_equal(replay(r, "a", "m3", 200, 150), MC_ESECURITY);
    /* full of live entries: the one expiring first goes, the others stay */
    assert_int_equal(replay(r, "b", "m4", 300, 150), 0);
    assert_int_equal(replay(r, "c", "m5", 250, 150), 0);
    assert_int_equal(replay(r, "d", "m6", 400, 150), 0); /* evicts "a" (200) */
    assert_int_equal(replay(r, "a", "m7", 500, 160), 0); /* so "a" is new; evicts "c" (250) */
    assert_int_equal(replay(r, "b", "m8", 300, 160), MC_ESECURITY);
    assert_int_equal(replay(r, "d", "m8", 300, 160), MC_ESECURITY);
    assert_int_equal(replay(r, "c", "m8", 300, 160), 0);
    assert_int_equal(evictions, 3);
    mc_log_set_callback(NULL, MC_LOG_NONE, NULL);
    mc__wss_replay_free(r);
}

/* the cache against a plain list doing the same by linear search, over
 * random traffic with every expiry distinct (so the victim is unique) */
typedef struct {
    int value, mail;
    int64_t expires;
} model_entry;

static int model_check(model_entry *m, size_t *n, size_t cap, int value, int mail, int64_t expires,
                       int64_t now)
{
    size_t i, k = 0;
    for (i = 0; i < *n; i++)
        if (m[i].value == value && m[i].expires > now)
            return m[i].mail == mail ? 0 : MC_ESECURITY;
    for (i = 0; i < *n; i++) /* expired entries go */
        if (m[i].expires > now)
            m[k++] = m[i];
    *n = k;
    if (*n >= cap) {
        size_t first = 0;
        for (i = 1; i < *n; i++)
            if (m[i].expires < m[first].expires)
                first = i;
        m[first] = m[--*n];
    }
    m[(*n)++] = (model_entry){value, mail, expires};
    return 0;
}

static void test_replay_cache_model(void **state)
{
    enum { CAP = 64, OPS = 40000 };
    static model_entry m[CAP + 1];
    size_t n = 0;
    mc__wss_replay *r;
    unsigned seed = 12345;
    int64_t now = 1000000;
    int replays = 0;
    (void)state;
    assert_int_equal(mc__wss_replay_new(&r, CAP, NULL), 0);
    for (int i = 0; i < OPS; i++) {
        char value[16], mail[16];
        int v = (int)(rand_r(&seed) % 150), ml = (int)(rand_r(&seed) % 3);
        int64_t expires = (now / 100000 + 1 + rand_r(&seed) % 400) * 100000 + i;
        int want, got;
        now += (int64_t)(rand_r(&seed) % 3) * 100000;
        snprintf(value, sizeof(value), "v%d", v);
        snprintf(mail, sizeof(mail), "m%d", ml);
        want = model_check(m, &n, CAP, v, ml, expires, now);
        got = replay(r, value, mail, expires, now);
        if (got != want)
            fail_msg("operation %d (value %d, mail %d, now %lld): cache says %d, model says %d", i, v, ml,
                     (long long)now, got, want);
        replays += want != 0;
    }
    assert_true(replays > 1000); /* the traffic did exercise both outcomes */
    mc__wss_replay_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_by_address),
        cmocka_unit_test(test_failed_security_is_invalid_mail),
        cmocka_unit_test(test_too_large_after_securing),
        cmocka_unit_test(test_configuration_errors),
        cmocka_unit_test(test_settings_validated),
        cmocka_unit_test(test_replay_cache),
        cmocka_unit_test(test_replay_cache_model),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
