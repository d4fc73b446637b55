/* net_helpers.c - shared code of the integration tests; see net_helpers.h. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include "net_helpers.h"

const char *mail_servers_dir(void)
{
    const char *dir = getenv("MC_MAILDIR_TEST");
    if (!dir)
        fprintf(stderr, "mail servers not running (tests/mailserver/start.sh): skipped\n");
    return dir;
}

void net_test_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (getenv("MC_TEST_VERBOSE"))
        mc_log_set_callback(mc_log_stderr, MC_LOG_DEBUG, NULL);
}

const char *test_env(const char *name)
{
    const char *v = getenv(name);
    if (!v)
        fail_msg("environment variable %s missing", name);
    return v;
}

void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- bindings ---- */

void binding_set(mc_binding *b, const char *name, const char *value)
{
    if (mc_binding_set(b, name, value))
        fail_msg("setting %s: %s", name, mc_error_last());
}

void binding_set_list(mc_binding *b, va_list ap)
{
    const char *kv;
    while ((kv = va_arg(ap, const char *))) {
        char *k = strdup(kv), *eq = strchr(k, '=');
        assert_non_null(eq);
        *eq = 0;
        binding_set(b, k, eq + 1);
        free(k);
    }
}

mc_binding *mail_binding_new(const char *user, const char *smtp_port, const char *imap_port)
{
    mc_binding *b;
    char addr[128];
    snprintf(addr, sizeof(addr), "%s@example.test", user);
    assert_int_equal(mc_binding_new(&b, "mail"), 0);
    binding_set(b, "address", addr);
    binding_set(b, "smtp_host", "127.0.0.1");
    if (smtp_port)
        binding_set(b, "smtp_port", smtp_port);
    binding_set(b, "imap_host", "127.0.0.1");
    if (imap_port)
        binding_set(b, "imap_port", imap_port);
    return b;
}

mc_transport *transport_of(mc_binding *b)
{
    mc_transport *t;
    if (mc_transport_new(&t, b))
        fail_msg("mc_transport_new: %s", mc_error_last());
    mc_binding_free(b);
    return t;
}

int send_text(mc_transport *t, const char *to, const char *text)
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
        fprintf(stderr, "send \"%s\" to %s: %s: %s\n", text, to, mc_strerror(rc), mc_error_last());
    mc_message_free(m);
    mc_output_channel_free(ch);
    mc_channel_factory_free(f);
    return rc;
}

/* ---- a scripted server ---- */

static char *last_final; /* the last stopped server's record, kept for its assertions */

char *script_server_record(const script_server *s)
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

int script_server_count(const script_server *s, const char *prefix)
{
    char *text = script_server_record(s);
    int n = 0;
    for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        n += !strncmp(line, prefix, strlen(prefix));
    free(text);
    return n;
}

bool script_server_available(const char *name)
{
    if (access("/usr/bin/python3", X_OK)) {
        fprintf(stderr, "no /usr/bin/python3 for the %s: skipped\n", name);
        return false;
    }
    return true;
}

void script_server_start(script_server *s, const char *name, const char *script, ...)
{
    static int serial;
    const char *argv[32];
    int n = 0;
    char *text;
    va_list ap;
    memset(s, 0, sizeof(*s));
    s->name = name;
    snprintf(s->record, sizeof(s->record), "/tmp/mc-script.%d.%d", (int)getpid(), serial++);
    unlink(s->record);
    argv[n++] = "python3";
    argv[n++] = script;
    argv[n++] = "--record";
    argv[n++] = s->record;
    va_start(ap, script);
    while (n < 31 && (argv[n] = va_arg(ap, const char *)))
        n++;
    va_end(ap);
    argv[n] = NULL;
    s->pid = fork();
    assert_true(s->pid >= 0);
    if (!s->pid) {
        execv("/usr/bin/python3", (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 200 && !script_server_count(s, "port "); i++) /* bounded: 20 s */
        sleep_ms(100);
    text = script_server_record(s);
    if (strncmp(text, "port ", 5))
        fail_msg("the %s did not start: %s", name, text);
    snprintf(s->port, sizeof(s->port), "%.*s", (int)strcspn(text + 5, "\n"), text + 5);
    free(text);
}

void script_server_stop(script_server *s, bool terminate, int wait_ms)
{
    int status;
    pid_t r = 0;
    if (terminate)
        kill(s->pid, SIGTERM);
    for (int i = 0; i < wait_ms / 100 && !(r = waitpid(s->pid, &status, WNOHANG)); i++)
        sleep_ms(100);
    if (!r) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &status, 0);
    }
    free(last_final);
    s->final = last_final = script_server_record(s);
    fprintf(stderr, "%s record:\n%s", s->name, s->final);
    unlink(s->record);
}

void script_server_cleanup(void)
{
    free(last_final);
    last_final = NULL;
}

size_t text_reader_cb(char *buf, size_t size, size_t n, void *arg)
{
    text_reader *r = arg;
    size_t k = size * n < r->len - r->off ? size * n : r->len - r->off;
    memcpy(buf, r->data + r->off, k);
    r->off += k;
    return k;
}
