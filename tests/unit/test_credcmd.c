/* test_credcmd.c - password_command / token_command (channel/command.c and
 * the settings that use it) and time_to_live, without servers: the command
 * runner's outcomes (a secret, a failure, a hang, too much, nothing), that it
 * leaves no child, descriptor or secret behind; the binding's checks; and a
 * message's default lifetime over the Maildir transport. The servers' side
 * is tests/integration/test_credcmd_servers.c. */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include "command.h"
#include "helpers.h"

static int open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* runs text with a timeout; *secret is NULL on failure */
static int run(const char *text, int timeout_ms, char **secret)
{
    mc__command *c;
    int rc;
    assert_int_equal(mc__command_new(&c, "password_command", text, timeout_ms), 0);
    rc = mc__command_run(c, secret);
    mc__command_free(c);
    if (rc)
        assert_null(*secret);
    return rc;
}

/* no child of ours is left, not even a zombie */
static void no_child_left(void)
{
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

static void test_first_line_is_the_secret(void **state)
{
    char *s = NULL;
    int fds = open_fds();
    (void)state;
    assert_int_equal(run("printf 'pa ss\\n'", 5000, &s), 0);
    assert_string_equal(s, "pa ss");
    mc__secret_free(s);
    assert_int_equal(run("printf 'crlf\\r\\nsecond line\\n'", 5000, &s), 0);
    assert_string_equal(s, "crlf");
    mc__secret_free(s);
    assert_int_equal(run("printf no-newline", 5000, &s), 0);
    assert_string_equal(s, "no-newline");
    mc__secret_free(s);
    /* a pipeline: sh -c */
    assert_int_equal(run("echo abc | tr a-c x-z", 5000, &s), 0);
    assert_string_equal(s, "xyz");
    mc__secret_free(s);
    /* stdin is /dev/null: a command that reads it gets EOF, never waits */
    assert_int_equal(run("read x; echo \"in:$x\"", 5000, &s), 0);
    assert_string_equal(s, "in:");
    mc__secret_free(s);
    no_child_left();
    assert_int_equal(open_fds(), fds);
}

/* each failure is MC_EAUTH naming the setting and what happened, never
 * the output */
static void test_failures(void **state)
{
    char *s = NULL, big[128];
    int fds = open_fds();
    (void)state;
    assert_int_equal(run("echo hunter2; exit 3", 5000, &s), MC_EAUTH);
    assert_non_null(strstr(mc_error_last(), "password_command"));
    assert_non_null(strstr(mc_error_last(), "exit status 3"));
    assert_null(strstr(mc_error_last(), "hunter2"));
    assert_int_equal(run("echo hunter2; kill -9 $$", 5000, &s), MC_EAUTH);
    assert_non_null(strstr(mc_error_last(), "signal 9"));
    assert_null(strstr(mc_error_last(), "hunter2"));
    assert_int_equal(run("true", 5000, &s), MC_EAUTH);
    assert_non_null(strstr(mc_error_last(), "no secret"));
    assert_int_equal(run("echo; echo hunter2", 5000, &s), MC_EAUTH);
    assert_non_null(strstr(mc_error_last(), "no secret"));
    assert_null(strstr(mc_error_last(), "hunter2"));
    snprintf(big, sizeof(big), "head -c %d /dev/zero | tr '\\0' h", MC__COMMAND_MAX_OUTPUT + 1);
    assert_int_equal(run(big, 5000, &s), MC_EAUTH);
    assert_non_null(strstr(mc_error_last(), "more than 8192"));
    /* endless output: stopped at the bound, killed */
    assert_int_equal(run("yes hunter2", 5000, &s), MC_EAUTH);
    assert_non_null(strstr(mc_error_last(), "more than 8192"));
    assert_null(strstr(mc_error_last(), "hunter2"));
    assert_int_equal(run("printf 'a\\0b\\n'", 5000, &s), MC_EAUTH);
    assert_non_null(strstr(mc_error_last(), "NUL"));
    assert_int_equal(run("/nonexistent/program", 5000, &s), MC_EAUTH);
    assert_non_null(strstr(mc_error_last(), "exit status 127: command not found"));
    no_child_left();
    assert_int_equal(open_fds(), fds);
}

/* whether a process is gone (or a zombie no longer running), waiting a
 * little for the kill to land */
static bool gone(int pid)
{
    char path[64], stat[256];
    for (int i = 0; i < 200; i++) {
        FILE *f;
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        if (!(f = fopen(path, "r")))
            return true;
        stat[0] = '\0';
        if (!fgets(stat, sizeof(stat), f))
            stat[0] = '\0';
        fclose(f);
        if (strstr(stat, ") Z ") || strstr(stat, ") X "))
            return true;
        usleep(10000);
    }
    return false;
}

/* a command that hangs is killed after the timeout, with what it started:
 * the call returns, no child is left */
static void test_timeout(void **state)
{
    char *s = NULL, cmd[256], pidfile[] = "/tmp/mc-credcmd-XXXXXX";
    int fds, bg = 0, tmp = mkstemp(pidfile);
    FILE *f;
    assert_true(tmp >= 0);
    close(tmp);
    fds = open_fds();
    (void)state;
    assert_int_equal(run("sleep 30", 200, &s), MC_EAUTH);
    assert_non_null(strstr(mc_error_last(), "did not finish within 200 ms"));
    /* a background child holding stdout: the whole group is killed */
    snprintf(cmd, sizeof(cmd), "sleep 30 & echo $! > %s; echo hunter2; wait", pidfile);
    assert_int_equal(run(cmd, 2000, &s), MC_EAUTH); /* time enough to write the pid, even on a busy machine */
    assert_non_null(strstr(mc_error_last(), "did not finish"));
    assert_null(strstr(mc_error_last(), "hunter2"));
    assert_non_null(f = fopen(pidfile, "r"));
    assert_int_equal(fscanf(f, "%d", &bg), 1);
    fclose(f);
    unlink(pidfile);
    assert_true(gone(bg));
    /* closes stdout and goes on: the exit is waited for until the timeout */
    assert_int_equal(run("echo hunter2; exec >&-; sleep 30", 200, &s), MC_EAUTH);
    assert_non_null(strstr(mc_error_last(), "did not finish"));
    no_child_left();
    assert_int_equal(open_fds(), fds);
}

/* the command sees stdin, stdout and stderr only: not a descriptor the
 * application left open without close-on-exec */
static void test_no_descriptor_inherited(void **state)
{
    char cmd[128], *s = NULL;
    int fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC */
    (void)state;
    assert_true(fd > 2);
    snprintf(cmd, sizeof(cmd), "if [ -e /proc/$$/fd/%d ]; then echo leaked; else echo clean; fi", fd);
    assert_int_equal(run(cmd, 5000, &s), 0);
    assert_string_equal(s, "clean");
    mc__secret_free(s);
    close(fd);
}

/* an application that ignores SIGCHLD (the kernel then reaps children
 * itself): the exit status is unknown, the output is taken */
static void test_sigchld_ignored(void **state)
{
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    char *s = NULL;
    (void)state;
    sigaction(SIGCHLD, &ign, &old);
    assert_int_equal(run("echo ok", 5000, &s), 0);
    assert_string_equal(s, "ok");
    mc__secret_free(s);
    assert_int_equal(run("true", 5000, &s), MC_EAUTH);
    assert_int_equal(run("sleep 30", 200, &s), MC_EAUTH);
    sigaction(SIGCHLD, &old, NULL);
}

/* token_command is the built-in token callback: its errors keep their text */
static void test_token_callback(void **state)
{
    mc__command *c;
    char *t = NULL;
    (void)state;
    assert_int_equal(mc__command_new(&c, "token_command", "echo tok-123", 5000), 0);
    assert_int_equal(mc__token_get(mc__command_token_cb, c, &t), 0);
    assert_string_equal(t, "tok-123");
    mc__secret_free(t);
    mc__command_free(c);
    assert_int_equal(mc__command_new(&c, "token_command", "exit 4", 5000), 0);
    assert_int_equal(mc__token_get(mc__command_token_cb, c, &t), MC_EAUTH);
    assert_null(t);
    assert_non_null(strstr(mc_error_last(), "token_command failed (exit status 4)"));
    mc__command_free(c);
}

static int user_token(char **token, void *ud)
{
    (void)ud;
    *token = strdup("t");
    return 0;
}

static mc_binding *mail_binding(void)
{
    mc_binding *b;
    assert_int_equal(mc_binding_new(&b, "mail"), 0);
    assert_int_equal(mc_binding_set(b, "address", "a@example.test"), 0);
    assert_int_equal(mc_binding_set(b, "smtp_host", "127.0.0.1"), 0);
    assert_int_equal(mc_binding_set(b, "imap_host", "127.0.0.1"), 0);
    return b;
}

/* password with password_command, or token_command with a token callback:
 * MC_EINVAL when the transport is made; the command is no secret but its
 * output is never asked for here (no connection yet) */
static void test_binding_checks(void **state)
{
    mc_binding *b = mail_binding();
    mc_transport *t = NULL;
    char *v = NULL;
    (void)state;
    assert_int_equal(mc_binding_set(b, "password_command", "exit 1"), 0);
    assert_int_equal(mc_binding_get(&v, b, "password_command"), 0);
    assert_string_equal(v, "exit 1");
    free(v);
    assert_int_equal(mc_binding_set(b, "password", "pw"), 0);
    assert_int_equal(mc_transport_new(&t, b), MC_EINVAL);
    assert_non_null(strstr(mc_error_last(), "password and password_command"));
    assert_null(t);
    assert_int_equal(mc_binding_set(b, "password", ""), 0);
    /* building runs nothing: a failing command is only noticed at login */
    assert_int_equal(mc_transport_new(&t, b), 0);
    mc_transport_free(t);
    t = NULL;
    assert_int_equal(mc_binding_set(b, "token_command", "echo tok"), 0);
    assert_int_equal(mc_binding_set_token_callback(b, user_token, NULL), 0);
    assert_int_equal(mc_transport_new(&t, b), MC_EINVAL);
    assert_non_null(strstr(mc_error_last(), "token_command and a token callback"));
    assert_int_equal(mc_binding_set_token_callback(b, NULL, NULL), 0);
    /* auth_mechanism xoauth2 is satisfied by token_command */
    assert_int_equal(mc_binding_set(b, "auth_mechanism", "xoauth2"), 0);
    assert_int_equal(mc_transport_new(&t, b), 0);
    mc_transport_free(t);
    assert_int_equal(mc_binding_set(b, "command_timeout", "99"), MC_EINVAL);
    mc_binding_free(b);
    /* ews_auth bearer likewise */
    assert_int_equal(mc_binding_new(&b, "exchange"), 0);
    assert_int_equal(mc_binding_set(b, "address", "a@example.test"), 0);
    assert_int_equal(mc_binding_set(b, "ews_url", "https://127.0.0.1:1/EWS/Exchange.asmx"), 0);
    assert_int_equal(mc_binding_set(b, "ews_auth", "bearer"), 0);
    assert_int_equal(mc_transport_new(&t, b), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "token_command", "echo tok"), 0);
    assert_int_equal(mc_transport_new(&t, b), 0);
    mc_transport_free(t);
    mc_binding_free(b);
    /* Maildir has no credentials */
    assert_int_equal(mc_binding_new(&b, "maildir"), 0);
    assert_int_equal(mc_binding_set(b, "password_command", "echo x"), MC_ENOTFOUND);
    assert_int_equal(mc_binding_set(b, "time_to_live", "60"), 0);
    mc_binding_free(b);
}

/* ---- time_to_live over Maildir ---- */

#define SVC "svc@example.org"
#define CLI "cli@example.org"

static void send_msg(mc_transport *t, const char *to, mc_message *m)
{
    mc_channel_factory *f;
    mc_output_channel *ch;
    assert_int_equal(mc_channel_factory_new(&f, t), 0);
    assert_int_equal(mc_channel_factory_create_channel(&ch, f, to), 0);
    assert_int_equal(mc_output_channel_send(ch, m), 0);
    mc_output_channel_free(ch);
    mc_channel_factory_free(f);
}

static void send_text(mc_transport *t, const char *to, const char *text, int64_t expiry)
{
    mc_message *m;
    assert_int_equal(mc_message_new_text(&m, "urn:test", text), 0);
    if (expiry)
        assert_int_equal(mc_message_set_expiry(m, expiry), 0);
    send_msg(t, to, m);
    mc_message_free(m);
}

/* the Subject line of the only mail in root/addr/new ("" when none) */
static void only_subject(const char *root, const char *addr, char *out, size_t cap)
{
    char dir[512], path[1024], line[1024];
    struct dirent *e;
    DIR *d;
    FILE *f;
    out[0] = '\0';
    assert_non_null(d = opendir(mbox_path(dir, sizeof(dir), root, addr, "new")));
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        assert_non_null(f = fopen(path, "r"));
        while (fgets(line, sizeof(line), f))
            if (!strncmp(line, "Subject:", 8))
                snprintf(out, cap, "%s", line);
        fclose(f);
    }
    closedir(d);
}

static unsigned long long expired_count(mc_transport *t)
{
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    assert_int_equal(mc_transport_statistics(&st, t), 0);
    return st.expired;
}

static void test_time_to_live(void **state)
{
    char *root = make_tmpdir(), subject[1024], *text;
    mc_transport *cli = maildir_transport(root, CLI, "time_to_live=1", NULL), *svc;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m = NULL;
    int i;
    (void)state;
    send_text(cli, "net.mail://ttl#" SVC, "short-lived", 0);
    only_subject(root, SVC, subject, sizeof(subject));
    assert_non_null(strstr(subject, "[net.mail] ttl;ttl="));
    usleep(2200 * 1000); /* past the expiry (whole seconds) */
    svc = maildir_transport(root, SVC, "server_query_interval=50", NULL);
    open_in(svc, "net.mail://ttl#", &l, &in);
    for (i = 0; i < 500 && expired_count(svc) < 1; i++)
        usleep(10000);
    assert_int_equal(expired_count(svc), 1);
    assert_int_equal(mc_input_channel_receive(&m, in, 100), MC_ETIMEOUT);
    /* the message's own expiry wins over time_to_live */
    send_text(cli, "net.mail://ttl#" SVC, "own expiry", (int64_t)time(NULL) + 3600);
    text = receive_text(in, 5000);
    assert_string_equal(text, "own expiry");
    free(text);
    assert_int_equal(expired_count(svc), 1);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_transport_free(svc);
    mc_transport_free(cli);
    rm_rf(root);
    free(root);
}

/* the message's own expiry is framed, not time_to_live's; and by default
 * no ttl at all */
static void test_time_to_live_framing(void **state)
{
    char *root = make_tmpdir(), subject[1024], want[64];
    mc_transport *cli = maildir_transport(root, CLI, "time_to_live=60", NULL);
    (void)state;
    send_text(cli, "net.mail://own#" SVC, "x", 4102444800); /* 2100-01-01T00:00:00Z */
    only_subject(root, SVC, subject, sizeof(subject));
    snprintf(want, sizeof(want), "[net.mail] own;ttl=2100-01-01T00:00:00Z");
    assert_non_null(strstr(subject, want));
    mc_transport_free(cli);
    rm_rf(root);
    free(root);
    root = make_tmpdir();
    cli = maildir_transport(root, CLI, NULL);
    send_text(cli, "net.mail://plain#" SVC, "x", 0);
    only_subject(root, SVC, subject, sizeof(subject));
    assert_non_null(strstr(subject, "[net.mail] plain"));
    assert_null(strstr(subject, "ttl="));
    mc_transport_free(cli);
    rm_rf(root);
    free(root);
}

typedef struct {
    pthread_mutex_t lock;
    int calls, result;
    char error[512];
} delivery;

static void on_delivery(const mc_delivery_report *r, void *ud)
{
    delivery *d = ud;
    pthread_mutex_lock(&d->lock);
    d->calls++;
    d->result = r->result;
    snprintf(d->error, sizeof(d->error), "%s", r->error);
    pthread_mutex_unlock(&d->lock);
}

/* queued mail whose ttl passes in the outbox (the server cannot be
 * reached) is dead-lettered, not sent: the delivery callback says so */
static void test_time_to_live_queued(void **state)
{
    char *root = make_tmpdir(), path[512];
    delivery d = {.lock = PTHREAD_MUTEX_INITIALIZER};
    mc_binding *b = mail_binding();
    mc_transport *t;
    (void)state;
    snprintf(path, sizeof(path), "%s/state.db", root);
    assert_int_equal(mc_binding_set(b, "smtp_port", "1"), 0); /* nothing listens there */
    assert_int_equal(mc_binding_set(b, "smtp_security", "none"), 0);
    assert_int_equal(mc_binding_set(b, "state_path", path), 0);
    assert_int_equal(mc_binding_set(b, "queued", "true"), 0);
    assert_int_equal(mc_binding_set(b, "queue_retry_initial", "2500"), 0);
    assert_int_equal(mc_binding_set(b, "time_to_live", "1"), 0);
    assert_int_equal(mc_binding_set_delivery_callback(b, on_delivery, &d), 0);
    assert_int_equal(mc_transport_new(&t, b), 0);
    mc_binding_free(b);
    send_text(t, "net.mail://q#" SVC, "queued", 0);
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&d.lock);
        int calls = d.calls;
        pthread_mutex_unlock(&d.lock);
        if (calls)
            break;
        usleep(10000);
    }
    mc_transport_free(t);
    assert_int_equal(d.calls, 1);
    assert_int_equal(d.result, MC_ETIMEOUT);
    assert_non_null(strstr(d.error, "ttl"));
    rm_rf(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_line_is_the_secret),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_no_descriptor_inherited),
        cmocka_unit_test(test_sigchld_ignored),
        cmocka_unit_test(test_token_callback),
        cmocka_unit_test(test_binding_checks),
        cmocka_unit_test(test_time_to_live),
        cmocka_unit_test(test_time_to_live_framing),
        cmocka_unit_test(test_time_to_live_queued),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
