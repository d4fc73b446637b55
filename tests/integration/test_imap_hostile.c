/* test_imap_hostile.c - the IMAP receiver against a scripted server
 * (tests/imapscript/scripted_imap.py on 127.0.0.1) that misbehaves the way a
 * hostile, broken or silent server would: mail announced in the window
 * between a query and IDLE is received at once; replies that would make
 * libetpan allocate without bound or recurse too deep are cut by the guard
 * with MC_EPROTO naming the limit, memory stays bounded and closing stays
 * prompt; a silent server is noticed within the timeout; errors name the
 * step and the cause and carry no control bytes. */

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "net_helpers.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[1 << 16];

static void log_cb(mc_log_level level, const char *msg, void *ud)
{
    (void)level;
    (void)ud;
    pthread_mutex_lock(&log_lock);
    if (strlen(log_text) + strlen(msg) + 2 < sizeof(log_text)) {
        strcat(log_text, msg);
        strcat(log_text, "\n");
    }
    pthread_mutex_unlock(&log_lock);
}

static bool log_has(const char *s)
{
    bool r;
    pthread_mutex_lock(&log_lock);
    r = strstr(log_text, s) != NULL;
    pthread_mutex_unlock(&log_lock);
    return r;
}

/* waits (bounded) until the log holds s; the time it took, or -1 */
static int64_t await_log(const char *s, int limit_ms)
{
    int64_t t0 = now_ms();
    while (now_ms() - t0 < limit_ms) {
        if (log_has(s))
            return now_ms() - t0;
        sleep_ms(20);
    }
    return -1;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static unsigned free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

typedef struct {
    pid_t pid;
    unsigned port;
    char dir[256];
} server;

/* a real stamped mail, framed by the library itself (through a Maildir store) */
static void make_mail(const char *dir, const char *name, const char *text)
{
    char *root = make_tmpdir(), path[512], dst[512];
    mc_transport *t = maildir_transport(root, "alice@example.test", NULL);
    DIR *d;
    struct dirent *e;
    assert_int_equal(send_text(t, "net.mail://hostile#bob@example.test", text), 0);
    mc_transport_free(t);
    snprintf(path, sizeof(path), "%s/bob@example.test/new", root);
    assert_non_null(d = opendir(path));
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            break;
    assert_non_null(e);
    snprintf(path, sizeof(path), "%s/bob@example.test/new/%s", root, e->d_name);
    snprintf(dst, sizeof(dst), "%s/%s", dir, name);
    assert_int_equal(rename(path, dst), 0);
    closedir(d);
    rm_rf(root);
    free(root);
}

/* starts the script; extra arguments (NULL-terminated) follow the scenario */
static void start(server *s, const char *scenario, ...)
{
    const char *argv[32];
    char port[16], line[64];
    int n = 0, out[2];
    va_list ap;
    FILE *f;
    s->port = free_port();
    snprintf(port, sizeof(port), "%u", s->port);
    argv[n++] = "/usr/bin/python3";
    argv[n++] = MC_SCRIPTED_IMAP;
    argv[n++] = "--port";
    argv[n++] = port;
    argv[n++] = "--scenario";
    argv[n++] = scenario;
    argv[n++] = "--lifetime";
    argv[n++] = "40";
    va_start(ap, scenario);
    while (n < 30 && (argv[n] = va_arg(ap, const char *)))
        n++;
    va_end(ap);
    argv[n] = NULL;
    assert_int_equal(pipe(out), 0);
    s->pid = fork();
    if (!s->pid) {
        dup2(out[1], 1);
        close(out[0]);
        execv("/usr/bin/python3", (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    f = fdopen(out[0], "r");
    assert_non_null(fgets(line, sizeof(line), f)); /* "listening" */
    fclose(f);
    pthread_mutex_lock(&log_lock);
    log_text[0] = 0;
    pthread_mutex_unlock(&log_lock);
}

static void stop(server *s)
{
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
}

static mc_transport *imap_transport(const server *s, const char *timeout_ms)
{
    mc_binding *b;
    char port[16];
    snprintf(port, sizeof(port), "%u", s->port);
    b = mail_binding_new("bob", NULL, port);
    binding_set(b, "imap_security", "none");
    binding_set(b, "password", "not-a-real-secret-42");
    binding_set(b, "timeout", timeout_ms);
    /* only IDLE (or the guard's findings) can act in time: the interval is long */
    binding_set(b, "server_query_interval", "60000");
    return transport_of(b);
}

/* closing the channel and freeing everything, each bounded */
static void close_all(mc_transport *t, mc_channel_listener *l, mc_input_channel *in, int limit_ms)
{
    int64_t t0 = now_ms();
    mc_input_channel_close(in);
    assert_true(now_ms() - t0 <= limit_ms);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    t0 = now_ms();
    mc_transport_free(t);
    assert_true(now_ms() - t0 <= limit_ms);
}

/* mail that lands while the receiver runs its header FETCH: the EXISTS is
 * consumed inside that reply and never repeated; it must not wait for the
 * next query interval (60 s here) */
static void lost_wakeup(const char *scenario)
{
    char *dir = make_tmpdir(), m1[512], m2[512], *a, *b;
    server s;
    mc_transport *t;
    mc_channel_listener *l;
    mc_input_channel *in;
    make_mail(dir, "1.eml", "first");
    make_mail(dir, "2.eml", "second");
    snprintf(m1, sizeof(m1), "%s/1.eml", dir);
    snprintf(m2, sizeof(m2), "%s/2.eml", dir);
    start(&s, scenario, "--mail", m1, "--late", m2, NULL);
    t = imap_transport(&s, "5000");
    open_in(t, "net.mail://hostile#", &l, &in);
    a = receive_text(in, 10000);
    b = receive_text(in, 10000); /* today: only at the next interval, 60 s */
    assert_string_equal(a, "first");
    assert_string_equal(b, "second");
    free(a);
    free(b);
    close_all(t, l, in, 7000);
    stop(&s);
    rm_rf(dir);
    free(dir);
}

static void test_exists_in_fetch(void **state)
{
    (void)state;
    lost_wakeup("exists_in_fetch");
}

static void test_exists_in_idle(void **state)
{
    (void)state;
    lost_wakeup("exists_in_idle");
}

/* a hostile reply: cut by the guard, named in the log, memory bounded,
 * closing prompt */
static void hostile(const char *scenario, const char *limit_text)
{
    char *dir = make_tmpdir(), m1[512];
    server s;
    mc_transport *t;
    mc_channel_listener *l;
    mc_input_channel *in;
    long before;
    make_mail(dir, "1.eml", "first");
    snprintf(m1, sizeof(m1), "%s/1.eml", dir);
    start(&s, scenario, "--mail", m1, NULL);
    before = rss_kb();
    t = imap_transport(&s, "3000");
    open_in(t, "net.mail://hostile#", &l, &in);
    if (await_log(limit_text, 15000) < 0)
        fail_msg("%s: no \"%s\" in the log:\n%s", scenario, limit_text, log_text);
    /* a few more rounds of reconnecting into the same reply */
    sleep_ms(1500);
    {
        long grown = rss_kb() - before;
        printf("%s: detected; RSS grew by %ld KiB\n", scenario, grown);
        assert_true(grown < 256 * 1024);
    }
    close_all(t, l, in, 5000);
    stop(&s);
    rm_rf(dir);
    free(dir);
}

static void test_literal_huge(void **state)
{
    (void)state;
    hostile("literal_huge", "a literal over the limit");
}

static void test_endless_line(void **state)
{
    (void)state;
    hostile("endless_line", "a line over the limit");
}

static void test_exists_flood(void **state)
{
    (void)state;
    hostile("exists_flood", "over the limit");
}

static void test_deep_parens(void **state)
{
    (void)state;
    hostile("deep_parens", "parentheses nested deeper over the limit of 64");
}

/* FETCH data repeated for one UID: delivered once, nothing leaks (ASan) */
static void test_repeat_fetch(void **state)
{
    char *dir = make_tmpdir(), m1[512], *a;
    server s;
    mc_transport *t;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m = NULL;
    (void)state;
    make_mail(dir, "1.eml", "first");
    snprintf(m1, sizeof(m1), "%s/1.eml", dir);
    start(&s, "repeat_fetch", "--mail", m1, NULL);
    t = imap_transport(&s, "3000");
    open_in(t, "net.mail://hostile#", &l, &in);
    a = receive_text(in, 10000);
    assert_string_equal(a, "first");
    free(a);
    assert_int_equal(mc_input_channel_receive(&m, in, 1000), MC_ETIMEOUT);
    close_all(t, l, in, 5000);
    stop(&s);
    rm_rf(dir);
    free(dir);
}

/* within a session the listing searches from the cursor on (UID n:*), so a
 * query costs the same however much mail the folder holds; the first one
 * is full */
static void test_incremental_search(void **state)
{
    char *dir = make_tmpdir(), m1[512], m2[512], rec[512], *a, *b;
    server s;
    mc_transport *t;
    mc_channel_listener *l;
    mc_input_channel *in;
    FILE *f;
    char line[512];
    int searches = 0, full = 0, from2 = 0;
    (void)state;
    make_mail(dir, "1.eml", "first");
    make_mail(dir, "2.eml", "second");
    snprintf(m1, sizeof(m1), "%s/1.eml", dir);
    snprintf(m2, sizeof(m2), "%s/2.eml", dir);
    snprintf(rec, sizeof(rec), "%s/record", dir);
    start(&s, "exists_in_idle", "--mail", m1, "--late", m2, "--record", rec, NULL);
    t = imap_transport(&s, "5000");
    open_in(t, "net.mail://hostile#", &l, &in);
    a = receive_text(in, 10000);
    b = receive_text(in, 10000);
    assert_string_equal(a, "first");
    assert_string_equal(b, "second");
    free(a);
    free(b);
    close_all(t, l, in, 7000);
    stop(&s);
    assert_non_null(f = fopen(rec, "r"));
    while (fgets(line, sizeof(line), f)) {
        char *x = strstr(line, "UID SEARCH ");
        if (!x)
            continue;
        if (strstr(x, "DELETED") && !strstr(x, "UNDELETED"))
            continue; /* the sweep's search for flagged mail */
        searches++;
        if (strstr(x, "UID 2:*"))
            from2++;
        else if (!strstr(x, ":*"))
            full++;
    }
    fclose(f);
    assert_int_equal(full, 1);
    assert_true(from2 >= 1);
    assert_int_equal(searches, full + from2);
    rm_rf(dir);
    free(dir);
}

/* mail a killed receiver left flagged \\Deleted (between its STORE and its
 * EXPUNGE) is expunged by the next session; unstamped flagged mail is not
 * ours and stays */
static void test_sweep_leftovers(void **state)
{
    char *dir = make_tmpdir(), m1[512], m2[512], m3[512], rec[512], *a;
    server s;
    mc_transport *t;
    mc_channel_listener *l;
    mc_input_channel *in;
    FILE *f;
    char line[256];
    bool swept = false, foreign = false;
    (void)state;
    make_mail(dir, "1.eml", "first");
    make_mail(dir, "2.eml", "left flagged");
    snprintf(m1, sizeof(m1), "%s/1.eml", dir);
    snprintf(m2, sizeof(m2), "%s/2.eml", dir);
    snprintf(m3, sizeof(m3), "%s/3.eml", dir);
    snprintf(rec, sizeof(rec), "%s/record", dir);
    f = fopen(m3, "w");
    fputs("From: a@b\r\nSubject: a user's mail\r\n\r\nhi\r\n", f);
    fclose(f);
    /* UIDs: 1 first, 2 left flagged (ours), 3 flagged (not ours) */
    start(&s, "normal", "--mail", m1, "--flagged", m2, "--flagged", m3, "--record", rec, NULL);
    t = imap_transport(&s, "3000");
    open_in(t, "net.mail://hostile#", &l, &in);
    a = receive_text(in, 10000);
    assert_string_equal(a, "first");
    free(a);
    assert_true(await_log("expunging 1 received mail(s) a stopped receiver left", 5000) >= 0);
    close_all(t, l, in, 5000);
    stop(&s);
    assert_non_null(f = fopen(rec, "r"));
    while (fgets(line, sizeof(line), f)) {
        char *x = strstr(line, "UID EXPUNGE ");
        if (x) {
            swept |= !strncmp(x + 12, "2\n", 2);
            foreign |= strchr(x + 12, '3') != NULL;
        }
    }
    fclose(f);
    assert_true(swept);
    assert_false(foreign);
    rm_rf(dir);
    free(dir);
}

/* the server goes silent during IDLE: the DONE probe (at least every
 * `timeout`) is not answered, which is noticed within `timeout` of it */
static void test_silent_idle(void **state)
{
    server s;
    mc_transport *t;
    mc_channel_listener *l;
    mc_input_channel *in;
    int64_t took;
    (void)state;
    start(&s, "silent_idle", NULL);
    t = imap_transport(&s, "1000");
    open_in(t, "net.mail://hostile#", &l, &in);
    took = await_log("IDLE DONE: timed out", 10000);
    if (took < 0)
        fail_msg("silence not noticed:\n%s", log_text);
    printf("silent server noticed %lld ms after the listener opened (timeout 1000 ms)\n", (long long)took);
    assert_true(took <= 2 * 1000 + 1500); /* IDLE, <= timeout, DONE, <= timeout */
    close_all(t, l, in, 1000 + 1500);
    stop(&s);
}

/* a server that accepts and never greets: the open fails within timeout,
 * saying so */
static void test_silent_greeting(void **state)
{
    server s;
    mc_transport *t;
    mc_channel_listener *l = NULL;
    int64_t t0;
    int rc;
    (void)state;
    start(&s, "silent_greeting", NULL);
    t = imap_transport(&s, "1000");
    t0 = now_ms();
    rc = mc_channel_listener_new(&l, t, "net.mail://hostile#");
    assert_true(now_ms() - t0 <= 1000 + 1500);
    assert_int_equal(rc, MC_ETIMEOUT);
    assert_non_null(strstr(mc_error_last(), "greeting: timed out"));
    mc_transport_free(t);
    stop(&s);
}

/* the server's text is quoted without control bytes; the secret never */
static void test_escape_text(void **state)
{
    server s;
    mc_transport *t;
    mc_channel_listener *l = NULL;
    const char *e;
    (void)state;
    start(&s, "escape_text", NULL);
    t = imap_transport(&s, "3000");
    assert_int_equal(mc_channel_listener_new(&l, t, "net.mail://hostile#"), MC_EAUTH);
    e = mc_error_last();
    assert_non_null(strstr(e, "login refused"));
    for (const char *p = e; *p; p++)
        assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
    assert_null(strstr(e, "not-a-real-secret-42"));
    mc_transport_free(t);
    stop(&s);
}

/* The wire trace of a LOGIN whose password needs quoting (8-bit, quotes,
 * backslashes: libetpan sends a quoted string with escapes; the library
 * refuses control characters, so no literal is sent): everything after
 * "LOGIN" is redacted, the rest shows; the server's escape sequences show
 * as '?'. */
static pthread_mutex_t trace_lock = PTHREAD_MUTEX_INITIALIZER;
static char trace_text[1 << 16];

static void trace_cb(mc_trace_direction direction, const char *protocol, const char *line, void *ud)
{
    (void)ud;
    pthread_mutex_lock(&trace_lock);
    if (strlen(trace_text) + strlen(protocol) + strlen(line) + 8 < sizeof(trace_text)) {
        strcat(trace_text, protocol);
        strcat(trace_text, direction == MC_TRACE_SENT       ? " > "
                           : direction == MC_TRACE_RECEIVED ? " < "
                                                            : " * ");
        strcat(trace_text, line);
        strcat(trace_text, "\n");
    }
    pthread_mutex_unlock(&trace_lock);
}

static void test_trace_login(void **state)
{
    char secret[64];
    server s;
    mc_transport *t;
    mc_binding *b;
    mc_channel_listener *l = NULL;
    char port[16];
    (void)state;
    for (size_t i = 0; i < sizeof(secret) - 1; i++)
        secret[i] = "s\"e\\cr\xc3\xa9"
                    "7"[i % 8];
    secret[sizeof(secret) - 1] = 0;
    start(&s, "escape_text", NULL);
    snprintf(port, sizeof(port), "%u", s.port);
    b = mail_binding_new("bob", NULL, port);
    binding_set(b, "imap_security", "none");
    binding_set(b, "password", secret);
    binding_set(b, "timeout", "3000");
    t = transport_of(b);
    trace_text[0] = 0;
    mc_trace_set_callback(trace_cb, NULL);
    assert_int_equal(mc_channel_listener_new(&l, t, "net.mail://hostile#"), MC_EAUTH);
    mc_transport_free(t);
    mc_trace_set_callback(NULL, NULL);
    stop(&s);
    assert_non_null(strstr(trace_text, "imap < * OK [CAPABILITY"));
    assert_non_null(strstr(trace_text, " LOGIN [redacted]\n"));
    assert_non_null(strstr(trace_text, " NO ?[2J?]0;owned? login refused\n"));
    assert_null(strstr(trace_text, "cr\xc3\xa9"
                                   "7"));
    assert_null(strchr(trace_text, '\x1b'));
}

/* connecting: the step and the cause, not a number */
static void test_connect_errors(void **state)
{
    server s = {.port = free_port()}; /* nobody listens there */
    mc_transport *t;
    mc_channel_listener *l = NULL;
    mc_binding *b;
    (void)state;
    t = imap_transport(&s, "2000");
    assert_int_equal(mc_channel_listener_new(&l, t, "net.mail://hostile#"), MC_EIO);
    assert_non_null(strstr(mc_error_last(), "connect: connection refused"));
    mc_transport_free(t);
    b = mail_binding_new("bob", NULL, NULL);
    binding_set(b, "imap_host", "no-such-host.invalid");
    binding_set(b, "password", "x");
    t = transport_of(b);
    assert_int_equal(mc_channel_listener_new(&l, t, "net.mail://hostile#"), MC_EIO);
    assert_non_null(strstr(mc_error_last(), "resolve: cannot resolve"));
    mc_transport_free(t);
}

/* ---- folders: a personal namespace "INBOX." (Courier, Cyrus) and the trash ---- */

static int log_count(const char *s)
{
    int n = 0;
    pthread_mutex_lock(&log_lock);
    for (const char *p = log_text; (p = strstr(p, s)); p++)
        n++;
    pthread_mutex_unlock(&log_lock);
    return n;
}

/* lines of a --record file holding s */
static int record_count(const char *path, const char *s)
{
    FILE *f = fopen(path, "r");
    char line[512];
    int n = 0;
    while (f && fgets(line, sizeof(line), f))
        n += strstr(line, s) != NULL;
    if (f)
        fclose(f);
    return n;
}

/* a stamped mail whose subject does not parse: malformed */
static void make_malformed(const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("From: mallory@example.test\r\nTo: bob@example.test\r\nSubject: [net.mail] bad name\r\n"
          "Message-ID: <malformed@example.test>\r\nMIME-Version: 1.0\r\n"
          "Content-Type: application/soap+xml; charset=utf-8\r\n\r\n<x/>\r\n",
          f);
    fclose(f);
}

static mc_transport *folder_transport(const server *s, const char *interval_ms)
{
    mc_binding *b;
    char port[16];
    snprintf(port, sizeof(port), "%u", s->port);
    b = mail_binding_new("bob", NULL, port);
    binding_set(b, "imap_security", "none");
    binding_set(b, "password", "not-a-real-secret-42");
    binding_set(b, "timeout", "3000");
    binding_set(b, "server_query_interval", interval_ms);
    return transport_of(b);
}

/* Mail filed in "INBOX.Service E-mail" on a server whose personal namespace
 * is "INBOX." is what service_folder "Service E-mail" means: it is received
 * (it used to be missed: INBOX was watched instead). */
static void test_namespace_service_folder(void **state)
{
    char *dir = make_tmpdir(), m1[512], *a;
    server s;
    mc_transport *t;
    mc_channel_listener *l;
    mc_input_channel *in;
    (void)state;
    make_mail(dir, "1.eml", "filed in the namespace");
    snprintf(m1, sizeof(m1), "%s/1.eml", dir);
    start(&s, "normal", "--namespace", "INBOX.", "--folder", "INBOX.Service E-mail", "--mail-folder",
          "INBOX.Service E-mail", "--mail", m1, NULL);
    t = folder_transport(&s, "60000");
    open_in(t, "net.mail://hostile#", &l, &in);
    a = receive_text(in, 10000);
    assert_string_equal(a, "filed in the namespace");
    free(a);
    assert_false(log_has("does not exist; watching INBOX"));
    close_all(t, l, in, 5000);
    stop(&s);
    rm_rf(dir);
    free(dir);
}

/* malformed mail in "INBOX.Service E-mail" goes to the trash the server
 * has, and the log names that folder; extra: the script's arguments */
static void malformed_goes_to(const char *want_folder, const char *want_move, const char *a1, const char *a2,
                              const char *a3, const char *a4)
{
    char *dir = make_tmpdir(), bad[512], rec[512], moved[128];
    server s;
    mc_transport *t;
    mc_channel_listener *l;
    mc_input_channel *in;
    snprintf(bad, sizeof(bad), "%s/bad.eml", dir);
    snprintf(rec, sizeof(rec), "%s/record", dir);
    make_malformed(bad);
    start(&s, "normal", "--namespace", "INBOX.", "--folder", "INBOX.Service E-mail", "--mail-folder",
          "INBOX.Service E-mail", "--mail", bad, "--record", rec, a1, a2, a3, a4, NULL);
    t = folder_transport(&s, "60000");
    open_in(t, "net.mail://hostile#", &l, &in);
    if (await_log("moved malformed mail", 10000) < 0)
        fail_msg("malformed mail not moved (want %s):\n%s", want_folder, log_text);
    snprintf(moved, sizeof(moved), "to %s: ", want_folder);
    if (!log_has(moved))
        fail_msg("the log does not name %s:\n%s", want_folder, log_text);
    assert_false(log_has("Deleted Items:") && strcmp(want_folder, "INBOX.Deleted Items"));
    close_all(t, l, in, 5000);
    stop(&s);
    assert_int_equal(record_count(rec, want_move), 1);
    rm_rf(dir);
    free(dir);
}

static void test_namespace_trash(void **state)
{
    (void)state;
    /* \Trash by SPECIAL-USE, only in the answer to LIST (SPECIAL-USE) */
    malformed_goes_to("INBOX.Trash", "UID MOVE 1 \"INBOX.Trash\"", "--special-use", "INBOX.Trash", NULL,
                      NULL);
    /* no SPECIAL-USE: a well-known name in the namespace */
    malformed_goes_to("INBOX.Deleted Messages", "UID MOVE 1 \"INBOX.Deleted Messages\"", "--folder",
                      "INBOX.Deleted Messages", NULL, NULL);
    /* nothing there: deleted_folder created in the namespace */
    malformed_goes_to("INBOX.Deleted Items", "CREATE \"INBOX.Deleted Items\"", NULL, NULL, NULL, NULL);
}

/* No trash and CREATE refused: said once, not at every query; the
 * malformed mail is deleted after receive_retry_count (3) attempts instead
 * of staying in the watched folder for ever. */
static void test_no_trash(void **state)
{
    char *dir = make_tmpdir(), bad[512], rec[512];
    server s;
    mc_transport *t;
    mc_channel_listener *l;
    mc_input_channel *in;
    (void)state;
    snprintf(bad, sizeof(bad), "%s/bad.eml", dir);
    snprintf(rec, sizeof(rec), "%s/record", dir);
    make_malformed(bad);
    start(&s, "normal", "--namespace", "INBOX.", "--no-create", "--mail", bad, "--record", rec, NULL);
    t = folder_transport(&s, "100");
    open_in(t, "net.mail://hostile#", &l, &in);
    if (await_log("deleted malformed mail", 15000) < 0)
        fail_msg("malformed mail not deleted:\n%s", log_text);
    assert_true(log_has("after 3 attempts to move it to the trash"));
    sleep_ms(1000); /* more queries */
    assert_int_equal(log_count("no folder for malformed mail"), 1);
    close_all(t, l, in, 5000);
    stop(&s);
    assert_int_equal(record_count(rec, "CREATE"), 1); /* looked for once per session */
    assert_int_equal(record_count(rec, "UID EXPUNGE 1"), 1);
    rm_rf(dir);
    free(dir);
}

/* after_receive = move on a server whose namespace is "INBOX.": the
 * received mail goes to "INBOX.Archive" - CREATE'd when LIST does not show
 * it, once - by UID MOVE, or UID COPY + STORE \Deleted + UID EXPUNGE of
 * exactly that UID where the server has no MOVE; extra: the script's */
static void archived_by(const char *const *want, const char *const *never, const char *a1, const char *a2,
                        const char *a3)
{
    char *dir = make_tmpdir(), good[512], rec[512], *text;
    server s;
    mc_binding *b;
    mc_transport *t;
    mc_channel_listener *l;
    mc_input_channel *in;
    char port[16];
    snprintf(good, sizeof(good), "%s/good.eml", dir);
    snprintf(rec, sizeof(rec), "%s/record", dir);
    make_mail(dir, "good.eml", "to be archived");
    start(&s, "normal", "--namespace", "INBOX.", "--folder", "INBOX.Service E-mail", "--mail-folder",
          "INBOX.Service E-mail", "--mail", good, "--record", rec, a1, a2, a3, NULL);
    snprintf(port, sizeof(port), "%u", s.port);
    b = mail_binding_new("bob", NULL, port);
    binding_set(b, "imap_security", "none");
    binding_set(b, "password", "not-a-real-secret-42");
    binding_set(b, "timeout", "3000");
    binding_set(b, "server_query_interval", "200");
    binding_set(b, "after_receive", "move");
    t = transport_of(b);
    open_in(t, "net.mail://hostile#", &l, &in);
    text = receive_text(in, 10000);
    assert_string_equal(text, "to be archived");
    free(text);
    sleep_ms(1000); /* more queries: the folder is made sure of once */
    close_all(t, l, in, 5000);
    stop(&s);
    for (; *want; want++)
        if (record_count(rec, *want) != 1)
            fail_msg("the client did not send %s once", *want);
    for (; never && *never; never++)
        assert_int_equal(record_count(rec, *never), 0);
    assert_int_equal(record_count(rec, "CREATE"), a1 && !strcmp(a1, "--folder") ? 0 : 1);
    rm_rf(dir);
    free(dir);
}

static void test_archive_folder(void **state)
{
    static const char *const moved[] = {"UID MOVE 1 \"INBOX.Archive\"", NULL};
    static const char *const copied[] = {"CREATE \"INBOX.Archive\"", "UID COPY 1 \"INBOX.Archive\"",
                                         "UID EXPUNGE 1", NULL};
    static const char *const no_move[] = {"UID MOVE", NULL};
    (void)state;
    /* the folder exists: no CREATE, one UID MOVE */
    archived_by(moved, NULL, "--folder", "INBOX.Archive", NULL);
    /* it does not, and the server has no MOVE */
    archived_by(copied, no_move, "--no-move", NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exists_in_fetch),    cmocka_unit_test(test_exists_in_idle),
        cmocka_unit_test(test_literal_huge),       cmocka_unit_test(test_endless_line),
        cmocka_unit_test(test_exists_flood),       cmocka_unit_test(test_deep_parens),
        cmocka_unit_test(test_repeat_fetch),       cmocka_unit_test(test_sweep_leftovers),
        cmocka_unit_test(test_incremental_search), cmocka_unit_test(test_silent_idle),
        cmocka_unit_test(test_silent_greeting),    cmocka_unit_test(test_escape_text),
        cmocka_unit_test(test_connect_errors),     cmocka_unit_test(test_namespace_service_folder),
        cmocka_unit_test(test_namespace_trash),    cmocka_unit_test(test_no_trash),
        cmocka_unit_test(test_archive_folder),     cmocka_unit_test(test_trace_login),
    };
    signal(SIGPIPE, SIG_IGN);
    mc_init();
    mc_log_set_callback(log_cb, MC_LOG_DEBUG, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
