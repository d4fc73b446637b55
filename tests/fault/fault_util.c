/* fault_util.c - shared code of the fault-injection tests; see fault_util.h. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "fault_util.h"

extern char **environ;

/* ---- clocks, environment ---- */

int64_t fault_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t fault_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fault_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR) {
    }
}

void fault_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fault test set-up failed: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

const char *fault_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        fault_die("environment variable %s missing (. DIR/env.sh of tests/mailserver/start.sh)", name);
    return v;
}

bool fault_servers_running(void)
{
    if (getenv("MC_MAILDIR_TEST"))
        return true;
    fprintf(stderr, "mail servers not running (tests/mailserver/start.sh): skipped\n");
    return false;
}

void fault_begin(mc_log_level min_level)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    mc_init();
    fault_log_capture(min_level);
}

long fault_env_long(const char *name, long def)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : def;
}

void fault_tmpdir(char *out, size_t cap, const char *tag)
{
    snprintf(out, cap, "/tmp/mcfault-%s.XXXXXX", tag);
    if (!mkdtemp(out))
        fault_die("mkdtemp %s: %s", out, strerror(errno));
}

void fault_rm_rf(const char *path)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    if (system(cmd))
        fprintf(stderr, "cannot remove %s\n", path);
}

/* ---- the proxy ---- */

static int read_ready(fault_proxy *p)
{
    char name[32];
    int port, n = 0;
    FILE *f = fopen(p->ready, "r");
    if (!f)
        return -1;
    while (fscanf(f, "%31s %d", name, &port) == 2) {
        if (!strcmp(name, "smtp"))
            p->smtp_port = port;
        else if (!strcmp(name, "imap"))
            p->imap_port = port;
        n++;
    }
    fclose(f);
    return n;
}

void fault_proxy_start(fault_proxy *p, const char *dir, unsigned seed, int smtp_target, int imap_target)
{
    char routes[2][64], seedarg[32], parent[32];
    char *argv[24];
    int a = 0, want = 0;
    memset(p, 0, sizeof(*p));
    snprintf(p->dir, sizeof(p->dir), "%s", dir);
    snprintf(p->ctl, sizeof(p->ctl), "%s/proxy.ctl", dir);
    snprintf(p->log, sizeof(p->log), "%s/proxy.log", dir);
    snprintf(p->ready, sizeof(p->ready), "%s/proxy.ready", dir);
    snprintf(seedarg, sizeof(seedarg), "%u", seed);
    snprintf(parent, sizeof(parent), "%d", (int)getpid());
    argv[a++] = (char *)FAULT_PYTHON;
    argv[a++] = (char *)FAULT_PROXY;
    if (smtp_target) {
        snprintf(routes[0], sizeof(routes[0]), "smtp=%d", smtp_target);
        argv[a++] = (char *)"--route";
        argv[a++] = routes[0];
        want++;
    }
    if (imap_target) {
        snprintf(routes[1], sizeof(routes[1]), "imap=%d", imap_target);
        argv[a++] = (char *)"--route";
        argv[a++] = routes[1];
        want++;
    }
    argv[a++] = (char *)"--control";
    argv[a++] = p->ctl;
    argv[a++] = (char *)"--log";
    argv[a++] = p->log;
    argv[a++] = (char *)"--ready";
    argv[a++] = p->ready;
    argv[a++] = (char *)"--seed";
    argv[a++] = seedarg;
    argv[a++] = (char *)"--parent";
    argv[a++] = parent;
    argv[a] = NULL;
    if (posix_spawn(&p->pid, FAULT_PYTHON, NULL, NULL, argv, environ))
        fault_die("cannot start %s %s", FAULT_PYTHON, FAULT_PROXY);
    for (int i = 0; i < 100 && read_ready(p) != want; i++)
        fault_sleep_ms(100);
    if (read_ready(p) != want)
        fault_die("the proxy did not come up within 10 s (log %s)", p->log);
}

int fault_proxy_cmd(fault_proxy *p, char *reply, size_t cap, const char *fmt, ...)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct timeval tv = {5, 0};
    char line[256], buf[4096];
    size_t got = 0;
    va_list ap;
    int fd, len;
    va_start(ap, fmt);
    len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    line[len++] = '\n';
    if (strlen(p->ctl) >= sizeof(sa.sun_path))
        fault_die("control socket path too long: %s", p->ctl);
    memcpy(sa.sun_path, p->ctl, strlen(p->ctl) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        fault_die("socket: %s", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) || write(fd, line, (size_t)len) != len)
        fault_die("proxy control %s: %s", p->ctl, strerror(errno));
    while (got < sizeof(buf) - 1) {
        ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        if (memchr(buf, '\n', got))
            break;
    }
    close(fd);
    buf[got] = 0;
    buf[strcspn(buf, "\n")] = 0;
    if (reply)
        snprintf(reply, cap, "%s", buf);
    return strncmp(buf, "ok", 2) ? -1 : 0;
}

void fault_proxy_stop(fault_proxy *p)
{
    int status;
    if (!p->pid)
        return;
    fault_proxy_cmd(p, NULL, 0, "quit");
    for (int i = 0; i < 50; i++) {
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            p->pid = 0;
            return;
        }
        fault_sleep_ms(100);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &status, 0);
    p->pid = 0;
}

int64_t *fault_proxy_cut_times(const fault_proxy *p, const char *route, size_t *n)
{
    char line[512], want[64];
    int64_t *out = NULL;
    size_t cap = 0;
    FILE *f = fopen(p->log, "r");
    *n = 0;
    if (!f)
        return NULL;
    snprintf(want, sizeof(want), " route=%s ", route);
    while (fgets(line, sizeof(line), f)) {
        double t;
        if (strncmp(line, "CUT t=", 6) || !strstr(line, want) || sscanf(line + 6, "%lf", &t) != 1)
            continue;
        if (*n == cap) {
            int64_t *g = realloc(out, (cap = cap ? cap * 2 : 64) * sizeof(*out));
            if (!g)
                fault_die("out of memory");
            out = g;
        }
        out[(*n)++] = (int64_t)(t * 1000.0);
    }
    fclose(f);
    return out;
}

/* ---- transports ---- */

static void apply_settings(mc_binding *b, va_list ap)
{
    const char *kv;
    while ((kv = va_arg(ap, const char *))) {
        char k[64];
        const char *eq = strchr(kv, '=');
        if (!eq || (size_t)(eq - kv) >= sizeof(k))
            fault_die("bad setting %s", kv);
        memcpy(k, kv, (size_t)(eq - kv));
        k[eq - kv] = 0;
        if (mc_binding_set(b, k, eq + 1))
            fault_die("setting %s: %s", k, mc_error_last());
    }
}

static void set(mc_binding *b, const char *name, const char *value)
{
    if (mc_binding_set(b, name, value))
        fault_die("setting %s: %s", name, mc_error_last());
}

static mc_binding *binding_new(const char *kind)
{
    mc_binding *b;
    if (mc_binding_new(&b, kind))
        fault_die("mc_binding_new: %s", mc_error_last());
    return b;
}

/* the transport of b with the settings of ap applied; b is freed */
static mc_transport *transport_of(mc_binding *b, va_list ap)
{
    mc_transport *t;
    apply_settings(b, ap);
    if (mc_transport_new(&t, b))
        fault_die("mc_transport_new: %s", mc_error_last());
    mc_binding_free(b);
    return t;
}

mc_transport *fault_mail_transport(const char *user, int smtp_port, int imap_port, ...)
{
    char addr[128], pwvar[64], port[16];
    mc_binding *b = binding_new("mail");
    mc_transport *t;
    va_list ap;
    snprintf(addr, sizeof(addr), "%s@example.test", user);
    snprintf(pwvar, sizeof(pwvar), "MC_%s_PW", user);
    for (char *c = pwvar; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    set(b, "address", addr);
    set(b, "password", fault_env(pwvar));
    set(b, "tls_ca_file", fault_env("MC_CA"));
    set(b, "smtp_host", "127.0.0.1");
    snprintf(port, sizeof(port), "%d", smtp_port);
    set(b, "smtp_port", port);
    set(b, "imap_host", "127.0.0.1");
    snprintf(port, sizeof(port), "%d", imap_port);
    set(b, "imap_port", port);
    va_start(ap, imap_port);
    t = transport_of(b, ap);
    va_end(ap);
    return t;
}

mc_transport *fault_maildir_transport(const char *root, const char *addr, ...)
{
    mc_binding *b = binding_new("maildir");
    mc_transport *t;
    va_list ap;
    set(b, "maildir_root", root);
    set(b, "address", addr);
    va_start(ap, addr);
    t = transport_of(b, ap);
    va_end(ap);
    return t;
}

void fault_listen(mc_transport *t, const char *uri, mc_channel_listener **l, mc_input_channel **in,
                  const char *who)
{
    if (mc_channel_listener_new(l, t, uri) || mc_channel_listener_accept_channel(in, *l, 5000))
        fault_die("%s: %s", who, mc_error_last());
}

void fault_output(mc_transport *t, const char *to, mc_channel_factory **f, mc_output_channel **out,
                  const char *who)
{
    if (mc_channel_factory_new(f, t) || mc_channel_factory_create_channel(out, *f, to))
        fault_die("%s: %s", who, mc_error_last());
}

void fault_expunge_all(const char *user)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "doveadm -c '%s/dovecot/dovecot.conf' expunge -u %s@example.test mailbox '*' all",
             fault_env("MC_MAILDIR_TEST"), user);
    if (system(cmd))
        fault_die("%s failed", cmd);
}

int fault_server_count(const char *user, const char *folder, const char *query)
{
    char cmd[512], line[512];
    int n = 0;
    FILE *p;
    snprintf(cmd, sizeof(cmd),
             "doveadm -c '%s/dovecot/dovecot.conf' search -u %s@example.test mailbox '%s' %s",
             fault_env("MC_MAILDIR_TEST"), user, folder, query);
    if (!(p = popen(cmd, "r")))
        return -1;
    while (fgets(line, sizeof(line), p))
        n++;
    return pclose(p) ? -1 : n;
}

int fault_postfix_queued(void)
{
    char cmd[512];
    int n = -1;
    FILE *p;
    snprintf(cmd, sizeof(cmd),
             "find '%s/postfix/queue/incoming' '%s/postfix/queue/active' '%s/postfix/queue/deferred' "
             "-type f 2>/dev/null | wc -l",
             fault_env("MC_MAILDIR_TEST"), fault_env("MC_MAILDIR_TEST"), fault_env("MC_MAILDIR_TEST"));
    if (!(p = popen(cmd, "r")))
        return -1;
    if (fscanf(p, "%d", &n) != 1)
        n = -1;
    pclose(p);
    return n;
}

/* ---- the library's log ---- */

#define LOG_LINES 8192

typedef struct {
    int64_t ms;
    mc_log_level level;
    char text[256];
} log_line;

static struct {
    pthread_mutex_t lock;
    log_line *lines;
    size_t next; /* total lines ever; the ring keeps the last LOG_LINES */
    bool echo;
} g_log = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, false};

static void log_cb(mc_log_level level, const char *message, void *user_data)
{
    int64_t now = fault_mono_ms();
    (void)user_data;
    pthread_mutex_lock(&g_log.lock);
    {
        log_line *l = &g_log.lines[g_log.next++ % LOG_LINES];
        l->ms = now;
        l->level = level;
        snprintf(l->text, sizeof(l->text), "%s", message);
    }
    pthread_mutex_unlock(&g_log.lock);
    if (g_log.echo)
        fprintf(stderr, "[%lld] mailchan %d: %s\n", (long long)now, (int)level, message);
}

void fault_log_capture(mc_log_level min_level)
{
    if (!(g_log.lines = calloc(LOG_LINES, sizeof(log_line))))
        fault_die("out of memory");
    g_log.echo = getenv("FAULT_VERBOSE") != NULL;
    mc_log_set_callback(log_cb, g_log.echo ? MC_LOG_DEBUG : min_level, NULL);
}

static bool mentions(const char *text, va_list ap)
{
    const char *w;
    while ((w = va_arg(ap, const char *)))
        if (strcasestr(text, w))
            return true;
    return false;
}

int64_t fault_log_find(int64_t since_ms, mc_log_level level, char *line, size_t cap, ...)
{
    int64_t found = -1;
    size_t first;
    pthread_mutex_lock(&g_log.lock);
    first = g_log.next > LOG_LINES ? g_log.next - LOG_LINES : 0;
    for (size_t i = first; i < g_log.next && found < 0; i++) {
        log_line *l = &g_log.lines[i % LOG_LINES];
        va_list ap;
        if (l->ms < since_ms || l->level < level)
            continue;
        va_start(ap, cap);
        if (mentions(l->text, ap)) {
            found = l->ms;
            if (line)
                snprintf(line, cap, "%s", l->text);
        }
        va_end(ap);
    }
    pthread_mutex_unlock(&g_log.lock);
    return found;
}

void fault_log_print(int64_t since_ms, mc_log_level level, size_t max, int64_t t0_ms)
{
    static const char *const names[] = {"debug", "info", "warn", "error", "none"};
    size_t first, shown = 0, skipped = 0;
    pthread_mutex_lock(&g_log.lock);
    first = g_log.next > LOG_LINES ? g_log.next - LOG_LINES : 0;
    for (size_t i = first; i < g_log.next; i++) {
        log_line *l = &g_log.lines[i % LOG_LINES];
        if (l->ms < since_ms || l->level < level)
            continue;
        if (shown++ < max)
            printf("    %+8.3f s  %-5s %s\n", (double)(l->ms - t0_ms) / 1000.0, names[l->level], l->text);
        else
            skipped++;
    }
    pthread_mutex_unlock(&g_log.lock);
    if (skipped)
        printf("    ... and %zu more\n", skipped);
}

size_t fault_log_count(int64_t since_ms, mc_log_level level)
{
    size_t n = 0, first;
    pthread_mutex_lock(&g_log.lock);
    first = g_log.next > LOG_LINES ? g_log.next - LOG_LINES : 0;
    for (size_t i = first; i < g_log.next; i++) {
        log_line *l = &g_log.lines[i % LOG_LINES];
        n += l->ms >= since_ms && l->level >= level;
    }
    pthread_mutex_unlock(&g_log.lock);
    return n;
}

/* ---- the ledger ---- */

bool fault_any_between(const int64_t *t, size_t n, int64_t from_ms, int64_t to_ms)
{
    for (size_t i = 0; i < n; i++)
        if (t[i] >= from_ms && t[i] <= to_ms)
            return true;
    return false;
}

void fault_ledger_init(fault_ledger *l, int n)
{
    memset(l, 0, sizeof(*l));
    l->n = n;
    l->attempts = calloc((size_t)n, sizeof(int));
    l->failures = calloc((size_t)n, sizeof(int));
    l->gave_up = calloc((size_t)n, sizeof(bool));
    if (!l->attempts || !l->failures || !l->gave_up)
        fault_die("out of memory");
    pthread_mutex_init(&l->lock, NULL);
}

void fault_ledger_free(fault_ledger *l)
{
    free(l->attempts);
    free(l->failures);
    free(l->gave_up);
    free(l->dl);
    pthread_mutex_destroy(&l->lock);
}

static void add_delivery(fault_ledger *l, const fault_delivery *d)
{
    pthread_mutex_lock(&l->lock);
    if (l->ndl == l->capdl) {
        size_t cap = l->capdl ? l->capdl * 2 : 1024;
        fault_delivery *g = realloc(l->dl, cap * sizeof(*g));
        if (!g)
            fault_die("out of memory");
        l->dl = g;
        l->capdl = cap;
    }
    l->dl[l->ndl++] = *d;
    pthread_mutex_unlock(&l->lock);
}

static int seq_of(const char *text)
{
    const char *s = text ? strstr(text, "seq=") : NULL;
    return s ? atoi(s + 4) : -1;
}

void fault_ledger_deliver(fault_ledger *l, const mc_message *m, int who)
{
    fault_delivery d = {.who = who, .wall_ms = fault_wall_ms()};
    const char *mid = mc_message_property(m, MC_PROP_MAIL_MESSAGE_ID);
    const char *id = mc_message_property(m, MC_PROP_MAIL_ID);
    char *text = NULL;
    d.seq = mc_message_body_text(&text, m) ? -1 : seq_of(text);
    mc_free(text);
    snprintf(d.mid, sizeof(d.mid), "%s", mid ? mid : "-");
    snprintf(d.mailid, sizeof(d.mailid), "%s", id ? id : "-");
    add_delivery(l, &d);
}

void fault_ledger_deliver_line(fault_ledger *l, const char *line)
{
    fault_delivery d = {0};
    long long ms = 0;
    if (sscanf(line, "%d %95s %63s %lld %d", &d.seq, d.mid, d.mailid, &ms, &d.who) != 5)
        return;
    d.wall_ms = ms;
    add_delivery(l, &d);
}

int fault_ledger_distinct(fault_ledger *l)
{
    int n = 0;
    char *seen = calloc((size_t)l->n, 1);
    if (!seen)
        fault_die("out of memory");
    pthread_mutex_lock(&l->lock);
    for (size_t i = 0; i < l->ndl; i++) {
        int s = l->dl[i].seq;
        if (s >= 0 && s < l->n && !seen[s]) {
            seen[s] = 1;
            n++;
        }
    }
    pthread_mutex_unlock(&l->lock);
    free(seen);
    return n;
}

static int by_seq_time(const void *a, const void *b)
{
    const fault_delivery *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return x->wall_ms < y->wall_ms ? -1 : x->wall_ms > y->wall_ms;
}

#define DETAIL_MAX 20

/* judges the deliveries dl[0..n) of one seq */
static void judge_seq(fault_ledger *l, const fault_delivery *dl, size_t n, fault_redelivery_cb cb, void *ud,
                      fault_verdict *v)
{
    int seq = dl[0].seq, copies = 0;
    for (size_t i = 0; i < n; i++) {
        size_t prev = i;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(dl[j].mid, dl[i].mid))
                prev = j; /* the latest earlier delivery of the same mail */
        if (prev == i) {
            copies++;
            continue;
        }
        v->duplicates++;
        if (cb && cb(dl[prev].wall_ms, dl[i].wall_ms, ud)) {
            v->dup_redelivery++;
        } else {
            if (v->dup_unexplained++ < DETAIL_MAX)
                printf("  UNEXPLAINED: seq %d: mail %s (id %s, receiver %d) delivered again (id %s, receiver "
                       "%d) "
                       "%lld ms later with nothing to explain it in between\n",
                       seq, dl[i].mid, dl[prev].mailid, dl[prev].who, dl[i].mailid, dl[i].who,
                       (long long)(dl[i].wall_ms - dl[prev].wall_ms));
        }
    }
    if (copies > 1) {
        int extra = copies - 1, failed = seq >= 0 && seq < l->n ? l->failures[seq] : 0;
        int explained = extra < failed ? extra : failed;
        v->duplicates += extra;
        v->dup_retry += explained;
        if (extra > explained) {
            v->dup_unexplained += extra - explained;
            printf("  UNEXPLAINED: seq %d: %d different mails delivered, but only %d failed send attempt(s) "
                   "of %d\n",
                   seq, copies, failed, seq >= 0 && seq < l->n ? l->attempts[seq] : 0);
        }
    }
}

void fault_ledger_judge(fault_ledger *l, fault_redelivery_cb cb, void *ud, fault_verdict *v)
{
    fault_delivery *dl;
    size_t n;
    int shown = 0;
    memset(v, 0, sizeof(*v));
    pthread_mutex_lock(&l->lock);
    n = l->ndl;
    if (!(dl = malloc((n ? n : 1) * sizeof(*dl))))
        fault_die("out of memory");
    memcpy(dl, l->dl, n * sizeof(*dl));
    pthread_mutex_unlock(&l->lock);
    qsort(dl, n, sizeof(*dl), by_seq_time);
    v->delivered = (int)n;
    for (int s = 0; s < l->n; s++) {
        v->attempts += l->attempts[s];
        v->failed_attempts += l->failures[s];
        v->gave_up += l->gave_up[s];
        v->sent += l->attempts[s] > l->failures[s];
    }
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && dl[j].seq == dl[i].seq; j++) {
        }
        if (dl[i].seq < 0 || dl[i].seq >= l->n || !l->attempts[dl[i].seq]) {
            v->unknown += (int)(j - i);
            printf("  UNKNOWN: %zu delivery(ies) of seq %d, which was never sent\n", j - i, dl[i].seq);
            continue;
        }
        v->distinct++;
        judge_seq(l, dl + i, j - i, cb, ud, v);
    }
    for (int s = 0; s < l->n; s++) {
        bool found = false;
        if (!l->attempts[s] || l->gave_up[s])
            continue;
        for (size_t i = 0; i < n && !found; i++)
            found = dl[i].seq == s;
        if (!found) {
            v->lost++;
            if (shown++ < DETAIL_MAX)
                printf("  LOST: seq %d (send succeeded after %d attempt(s)), never delivered\n", s,
                       l->attempts[s]);
        }
    }
    if (shown > DETAIL_MAX)
        printf("  ... %d lost in all\n", shown);
    free(dl);
}

void fault_verdict_print(const char *test, const fault_verdict *v)
{
    printf("%s: sent %d (send attempts %d, failed %d, given up %d); delivered %d, distinct %d; LOST %d; "
           "duplicates %d: explained %d (retried send %d, redelivery %d), UNEXPLAINED %d; unknown %d\n",
           test, v->sent, v->attempts, v->failed_attempts, v->gave_up, v->delivered, v->distinct, v->lost,
           v->duplicates, v->dup_retry + v->dup_redelivery, v->dup_retry, v->dup_redelivery,
           v->dup_unexplained, v->unknown);
}

/* ---- sending with retries ---- */

int fault_send_seq(fault_ledger *l, mc_output_channel *ch, const char *tag, int seq, size_t pad,
                   int max_attempts)
{
    char *text = malloc(128 + pad);
    mc_message *m;
    int rc = MC_EIO, len;
    if (!text)
        fault_die("out of memory");
    len = snprintf(text, 128, "%s seq=%d ", tag, seq);
    for (size_t i = 0; i < pad; i++)
        text[len + (int)i] = (char)('a' + (seq + (int)i) % 26);
    text[len + (int)pad] = 0;
    if (mc_message_new_text(&m, "urn:mailchan:fault", text))
        fault_die("mc_message_new_text: %s", mc_error_last());
    free(text);
    if (l->mid_prefix) {
        char mid[160];
        snprintf(mid, sizeof(mid), "%s%d", l->mid_prefix, seq);
        if (mc_message_set_message_id(m, mid))
            fault_die("mc_message_set_message_id: %s", mc_error_last());
    }
    for (int a = 1; a <= max_attempts; a++) {
        rc = mc_output_channel_send(ch, m);
        pthread_mutex_lock(&l->lock);
        l->attempts[seq]++;
        if (rc) {
            l->failures[seq]++;
            l->errors[-rc > 0 && -rc < 16 ? -rc : 0]++;
        }
        l->gave_up[seq] = rc && a == max_attempts;
        pthread_mutex_unlock(&l->lock);
        if (!rc)
            break;
        if (getenv("FAULT_VERBOSE"))
            fprintf(stderr, "send seq %d attempt %d: %s: %s\n", seq, a, mc_strerror(rc), mc_error_last());
        fault_sleep_ms(a < 10 ? 20 * a : 200); /* a short back-off, as an application would */
    }
    if (rc)
        fprintf(stderr, "giving up on seq %d after %d attempts: %s: %s\n", seq, max_attempts, mc_strerror(rc),
                mc_error_last());
    mc_message_free(m);
    return rc;
}

void *fault_receive_loop(void *arg)
{
    fault_receiver *r = arg;
    while (!atomic_load(&r->stop)) {
        mc_message *m = NULL;
        int rc = mc_input_channel_receive(&m, r->in, 500);
        if (!rc) {
            fault_ledger_deliver(r->ledger, m, 0);
            mc_message_free(m);
        } else if (rc != MC_ETIMEOUT) {
            if (r->errors++ < 5)
                fprintf(stderr, "receive: %s: %s\n", mc_strerror(rc), mc_error_last());
            fault_sleep_ms(100);
        }
    }
    return NULL;
}
