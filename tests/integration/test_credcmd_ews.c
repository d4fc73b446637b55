/* test_credcmd_ews.c - password_command (Basic) and token_command (bearer)
 * of the exchange binding against the EWS responder (run by
 * tests/ews/run_test.sh, which starts it and exports its env.sh): the
 * password is asked once per session and again once after a 401 (a changed
 * password), the token again after a 401 (an expired token); a failing
 * command is MC_EAUTH naming the setting. Runs are counted in files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ews_helpers.h"

static char *tmp; /* this run's files */

static mc_binding *ews_binding(const char *user, const char *interval)
{
    mc_binding *b;
    char addr[128];
    snprintf(addr, sizeof(addr), "%s@example.test", user);
    assert_int_equal(mc_binding_new(&b, "exchange"), 0);
    binding_set(b, "address", addr);
    binding_set(b, "ews_url", test_env("MC_EWS_URL"));
    binding_set(b, "tls_ca_file", test_env("MC_EWS_CA"));
    binding_set(b, "server_query_interval", interval);
    binding_set(b, "timeout", "10000");
    return b;
}

static const char *path_of(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", tmp, name);
    return buf;
}

static int runs(const char *name)
{
    char path[512], line[256];
    int n = 0;
    FILE *f = fopen(path_of(path, sizeof(path), name), "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        n++;
    fclose(f);
    return n;
}

static void write_file(const char *name, const char *text)
{
    char path[512];
    FILE *f = fopen(path_of(path, sizeof(path), name), "w");
    assert_non_null(f);
    fprintf(f, "%s\n", text);
    fclose(f);
}

/* a command that counts its runs in TMP/count and prints the file TMP/secret */
static void set_command(mc_binding *b, const char *setting, const char *count, const char *secret)
{
    char cmd[1100], c[512], s[512];
    snprintf(cmd, sizeof(cmd), "echo run >> '%s'; cat '%s'", path_of(c, sizeof(c), count),
             path_of(s, sizeof(s), secret));
    binding_set(b, setting, cmd);
}

static void no_invalid_request(void) { assert_int_equal(ews_ctl("invalid"), 0); }

/* Basic with password_command: alice sends twice, bob receives; the
 * command ran once per session, not per request */
static void test_password_command(void **state)
{
    mc_binding *ab = ews_binding("alice", "60000"), *bb = ews_binding("bob", "300");
    mc_transport *a, *b;
    mc_channel_listener *l;
    mc_input_channel *in;
    char *text;
    (void)state;
    write_file("alice-pw", test_env("MC_EWS_ALICE_PW"));
    write_file("bob-pw", test_env("MC_EWS_BOB_PW"));
    set_command(ab, "password_command", "alice-runs", "alice-pw");
    set_command(bb, "password_command", "bob-runs", "bob-pw");
    a = transport_of(ab);
    b = transport_of(bb);
    open_in(b, "net.mail://pwcmd#", &l, &in);
    assert_int_equal(send_text(a, "net.mail://pwcmd#bob@example.test", "one"), 0);
    assert_int_equal(send_text(a, "net.mail://pwcmd#bob@example.test", "two"), 0);
    assert_int_equal(runs("alice-runs"), 1);
    for (int i = 0, seen = 0; i < 2; i++) { /* in either order */
        text = receive_text(in, 20000);
        assert_true(!strcmp(text, "one") || !strcmp(text, "two"));
        assert_false(seen & (text[1] == 'n' ? 1 : 2));
        seen |= text[1] == 'n' ? 1 : 2;
        free(text);
    }
    assert_true(runs("bob-runs") >= 1);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_transport_free(b);
    mc_transport_free(a);
    no_invalid_request();
}

/* a password changed under a running session: the 401 runs the command
 * again, once; a command that fails is MC_EAUTH naming it */
static void test_password_renewed_and_failing(void **state)
{
    mc_binding *ab = ews_binding("alice", "60000");
    mc_transport *a;
    (void)state;
    write_file("carol-pw", "not-the-password");
    set_command(ab, "password_command", "renew-runs", "carol-pw");
    a = transport_of(ab);
    assert_int_equal(send_text(a, "net.mail://renew#bob@example.test", "x"), MC_EAUTH);
    assert_int_equal(runs("renew-runs"), 2); /* the first try and once after the 401 */
    assert_null(strstr(mc_error_last(), "not-the-password"));
    write_file("carol-pw", test_env("MC_EWS_ALICE_PW"));
    assert_int_equal(send_text(a, "net.mail://renew#bob@example.test", "after the change"), 0);
    assert_int_equal(runs("renew-runs"), 3);
    mc_transport_free(a);

    ab = ews_binding("alice", "60000");
    binding_set(ab, "password_command", "exit 3");
    a = transport_of(ab);
    assert_int_equal(send_text(a, "net.mail://renew#bob@example.test", "x"), MC_EAUTH);
    assert_non_null(strstr(mc_error_last(), "password_command failed (exit status 3)"));
    mc_transport_free(a);
    no_invalid_request();
}

/* bearer with token_command: asked for the first request, again after the
 * server expired the token (401) */
static void test_token_command(void **state)
{
    mc_binding *d = ews_binding("dave", "60000");
    mc_transport *t;
    char *token;
    (void)state;
    binding_set(d, "ews_auth", "bearer");
    write_file("dave-token", test_env("MC_EWS_DAVE_TOKEN"));
    set_command(d, "token_command", "dave-runs", "dave-token");
    t = transport_of(d);
    assert_int_equal(send_text(t, "net.mail://tokcmd#bob@example.test", "with a token"), 0);
    assert_int_equal(runs("dave-runs"), 1);
    ews_ctl("json '{\"expire_tokens\": true}'");
    token = ews_new_token("dave@example.test");
    write_file("dave-token", token);
    free(token);
    assert_int_equal(send_text(t, "net.mail://tokcmd#bob@example.test", "after the refresh"), 0);
    assert_int_equal(runs("dave-runs"), 2);
    mc_transport_free(t);
    no_invalid_request();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_command),
        cmocka_unit_test(test_password_renewed_and_failing),
        cmocka_unit_test(test_token_command),
    };
    int rc;
    if (!getenv("MC_EWS_URL")) {
        fprintf(stderr, "no EWS responder (run through tests/ews/run_test.sh): skipped\n");
        return 77;
    }
    net_test_init();
    tmp = make_tmpdir();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    rm_rf(tmp);
    free(tmp);
    return rc;
}
