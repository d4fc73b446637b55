/* test_credcmd_mail.c - password_command and token_command against real
 * Postfix and Dovecot (tests/mailserver/start.sh; its env.sh exported):
 * a command printing the password logs in to IMAP and sends through SMTP; a
 * token_command gives dave's XOAUTH2 token to both and is run again when
 * IMAP reconnects (runs counted in a file); a failing, hanging or silent
 * command is a clear MC_EAUTH without the secret. Skipped (77) without the
 * servers. The commands read the secrets from the environment, so no secret
 * is in a command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "net_helpers.h"

static const char *dir; /* the servers' directory */
static char *tmp;       /* this run's files: run counts */

static mc_binding *binding(const char *user, ...)
{
    mc_binding *b = mail_binding_new(user, test_env("MC_SUBMISSION_PORT"), test_env("MC_IMAP_PORT"));
    va_list ap;
    binding_set(b, "tls_ca_file", test_env("MC_CA"));
    binding_set(b, "timeout", "10000");
    va_start(ap, user);
    binding_set_list(b, ap);
    va_end(ap);
    return b;
}

/* the lines of a file (0 when missing): the runs a command counted */
static int runs(const char *name)
{
    char path[512], line[64];
    int n = 0;
    FILE *f;
    snprintf(path, sizeof(path), "%s/%s", tmp, name);
    if (!(f = fopen(path, "r")))
        return 0;
    while (fgets(line, sizeof(line), f))
        n++;
    fclose(f);
    return n;
}

/* "password_command=echo run >> TMP/name; printf '%s\n' "$VAR"" */
static const char *counting(char *buf, size_t cap, const char *setting, const char *name, const char *var)
{
    snprintf(buf, cap, "%s=echo run >> '%s/%s'; printf '%%s\\n' \"$%s\"", setting, tmp, name, var);
    return buf;
}

static void close_all(mc_transport *t, mc_channel_listener *l, mc_input_channel *in)
{
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_transport_free(t);
}

/* alice sends with password_command (SMTP AUTH), bob receives with one
 * (IMAP LOGIN); each ran for its login */
static void test_password_command(void **state)
{
    char ac[512], bc[512];
    mc_transport *a = transport_of(
        binding("alice", counting(ac, sizeof(ac), "password_command", "alice", "MC_ALICE_PW"), NULL));
    mc_transport *b =
        transport_of(binding("bob", counting(bc, sizeof(bc), "password_command", "bob", "MC_BOB_PW"), NULL));
    mc_channel_listener *l;
    mc_input_channel *in;
    char *text;
    (void)state;
    open_in(b, "net.mail://pwcmd#", &l, &in);
    assert_true(runs("bob") >= 1);
    assert_int_equal(send_text(a, "net.mail://pwcmd#bob@example.test", "by password_command"), 0);
    assert_int_equal(runs("alice"), 1);
    text = receive_text(in, 20000);
    assert_string_equal(text, "by password_command");
    free(text);
    close_all(b, l, in);
    mc_transport_free(a);
}

/* dave's XOAUTH2 token from token_command, for SMTP and IMAP; after the
 * IMAP connection is cut (doveadm kick) the command runs again for the new
 * login, and mail still flows */
static void test_token_command(void **state)
{
    char tc[512], cmd[1024];
    mc_transport *d =
        transport_of(binding("dave", counting(tc, sizeof(tc), "token_command", "dave", "MC_DAVE_TOKEN"),
                             "server_query_interval=500", NULL));
    mc_channel_listener *l;
    mc_input_channel *in;
    char *text;
    int before;
    (void)state;
    open_in(d, "net.mail://tokcmd#", &l, &in);
    assert_int_equal(runs("dave"), 1); /* the IMAP login */
    assert_int_equal(send_text(d, "net.mail://tokcmd#dave@example.test", "first"), 0);
    assert_int_equal(runs("dave"), 2); /* and SMTP AUTH */
    text = receive_text(in, 20000);
    assert_string_equal(text, "first");
    free(text);
    before = runs("dave");
    snprintf(cmd, sizeof(cmd), "doveadm -c '%s/dovecot/dovecot.conf' kick dave@example.test >/dev/null", dir);
    assert_int_equal(system(cmd), 0);
    /* the receiver notices at its next query and logs in again: a new token */
    for (int i = 0; i < 200 && runs("dave") == before; i++)
        sleep_ms(100);
    assert_true(runs("dave") > before);
    assert_int_equal(send_text(d, "net.mail://tokcmd#dave@example.test", "after the reconnect"), 0);
    text = receive_text(in, 20000);
    assert_string_equal(text, "after the reconnect");
    free(text);
    close_all(d, l, in);
}

/* a command that fails, hangs or prints nothing: the login and the send
 * fail with MC_EAUTH naming the setting, never with what it printed */
static void test_failing_commands(void **state)
{
    static const struct {
        const char *command, *expect;
    } cases[] = {
        {"password_command=echo \"$MC_ERIN_PW\"; exit 3", "password_command failed (exit status 3)"},
        {"password_command=echo \"$MC_ERIN_PW\"; exec sleep 30",
         "password_command did not finish within 300 ms"},
        {"password_command=true", "password_command printed no secret"},
        {"password_command=yes \"$MC_ERIN_PW\"", "password_command printed more than 8192 octets"},
        {"token_command=echo \"$MC_DAVE_TOKEN\"; exit 3", "token_command failed (exit status 3)"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        mc_transport *t = transport_of(binding("erin", cases[i].command, "command_timeout=300", NULL));
        mc_channel_listener *l = NULL;
        int rc = mc_channel_listener_new(&l, t, "net.mail://bad#");
        if (rc != MC_EAUTH || !strstr(mc_error_last(), cases[i].expect))
            fail_msg("%s: %d %s", cases[i].command, rc, mc_error_last());
        assert_null(strstr(mc_error_last(), test_env("MC_ERIN_PW")));
        assert_null(strstr(mc_error_last(), test_env("MC_DAVE_TOKEN")));
        rc = send_text(t, "net.mail://bad#bob@example.test", "x");
        if (rc != MC_EAUTH || !strstr(mc_error_last(), cases[i].expect))
            fail_msg("send, %s: %d %s", cases[i].command, rc, mc_error_last());
        assert_null(strstr(mc_error_last(), test_env("MC_ERIN_PW")));
        mc_transport_free(t);
    }
}

/* every test starts from empty mailboxes */
static int empty_mailboxes(void **state)
{
    static const char *const users[] = {"alice", "bob", "dave", "erin"};
    char cmd[512];
    (void)state;
    for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
        snprintf(cmd, sizeof(cmd),
                 "doveadm -c '%s/dovecot/dovecot.conf' expunge -u %s@example.test mailbox '*' all", dir,
                 users[i]);
        if (system(cmd))
            return -1;
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_password_command, empty_mailboxes),
        cmocka_unit_test_setup(test_token_command, empty_mailboxes),
        cmocka_unit_test(test_failing_commands),
    };
    int rc;
    if (!(dir = mail_servers_dir()))
        return 77;
    net_test_init();
    tmp = make_tmpdir();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    rm_rf(tmp);
    free(tmp);
    return rc;
}
