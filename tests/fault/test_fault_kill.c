/* test_fault_kill.c - receivers killed with SIGKILL at random moments and
 * restarted lose nothing.
 *
 *   fault_kill imap      one receiver process on erin's IMAP mailbox (direct to
 *                        Dovecot, IDLE), alice sends by SMTP submission
 *   fault_kill maildir   two receiver processes on one Maildir mailbox (the
 *                        claim protocol: a dead owner's claimed mail goes back)
 *
 * Each receiver is a child process (this program re-executed) that receives
 * and appends one line per message ("seq Message-ID mail-id wall-ms slot pid")
 * to a record file with write(2) right after
 * receive returns - there is no way to record before receive hands control
 * back, so a kill in between is the window the library must cover by
 * delivering again. The parent sends FAULT_N messages (300 IMAP, 500 Maildir)
 * at a steady pace, each body carrying its sequence number (a failed send is
 * retried), and meanwhile kills each child after a random 20 ms .. 1.5 s of
 * life and starts a new one at once. When sending has ended, the children
 * live until everything is recorded (bounded), then get SIGTERM and close
 * gracefully.
 *
 * Verdict: 0 lost (every seq sent is in the record). Duplicates are allowed
 * here: counted and printed, with those not preceded by a kill marked.
 *
 * Run alone:
 *   build-test/tests/fault_kill maildir          # needs nothing else
 *   MC_PORT_BASE=26000 bash tests/mailserver/start.sh /tmp/srv && . /tmp/srv/env.sh
 *   build-test/tests/fault_kill imap             # exit 77 without the servers
 * Knobs: FAULT_N, FAULT_SEED, FAULT_VERBOSE=1, FAULT_KEEP=1 (keep the record). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "fault_util.h"

#define TAG "fault-kill"
#define CHANNEL "net.mail://fault-kill#"
#define SVC "svc@example.org"
#define MAX_KIDS 2

extern char **environ;

/* ---- the child: receive and record until SIGTERM ---- */

static atomic_bool g_term;

static void on_term(int sig)
{
    (void)sig;
    atomic_store(&g_term, true);
}

static int child(const char *kind, const char *record, int who, const char *root)
{
    struct sigaction sa = {.sa_handler = on_term};
    mc_transport *t;
    mc_channel_listener *l;
    mc_input_channel *in;
    int fd = open(record, O_WRONLY | O_APPEND | O_CLOEXEC);
    sigaction(SIGTERM, &sa, NULL);
    if (fd < 0)
        fault_die("open %s: %s", record, strerror(errno));
    mc_init();
    if (getenv("FAULT_VERBOSE"))
        mc_log_set_callback(mc_log_stderr, MC_LOG_INFO, NULL);
    if (!strcmp(kind, "imap"))
        t = fault_mail_transport("erin", atoi(fault_env("MC_SUBMISSION_PORT")),
                                 atoi(fault_env("MC_IMAP_PORT")), "timeout=3000",
                                 "server_query_interval=1000", "accept_existing_messages=true", NULL);
    else
        t = fault_maildir_transport(root, SVC, "server_query_interval=500", "accept_existing_messages=true",
                                    NULL);
    if (mc_channel_listener_new(&l, t, CHANNEL) || mc_channel_listener_accept_channel(&in, l, 5000)) {
        fprintf(stderr, "receiver %d: listener: %s\n", who, mc_error_last());
        return 3;
    }
    while (!atomic_load(&g_term)) {
        mc_message *m = NULL;
        char line[256], *text = NULL;
        const char *mid, *id, *seq;
        int len, rc = mc_input_channel_receive(&m, in, 200);
        if (rc == MC_ETIMEOUT)
            continue;
        if (rc) {
            fprintf(stderr, "receiver %d: receive: %s: %s\n", who, mc_strerror(rc), mc_error_last());
            fault_sleep_ms(100);
            continue;
        }
        mid = mc_message_property(m, MC_PROP_MAIL_MESSAGE_ID);
        id = mc_message_property(m, MC_PROP_MAIL_ID);
        seq = mc_message_body_text(&text, m) ? NULL : strstr(text, "seq=");
        len = snprintf(line, sizeof(line), "%d %s %s %lld %d %d\n", seq ? atoi(seq + 4) : -1, mid ? mid : "-",
                       id ? id : "-", (long long)fault_wall_ms(), who, (int)getpid());
        if (write(fd, line, (size_t)len) != len)
            fault_die("write %s: %s", record, strerror(errno));
        mc_free(text);
        mc_message_free(m);
    }
    if (mc_input_channel_close(in))
        fprintf(stderr, "receiver %d: close: %s\n", who, mc_error_last());
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_transport_free(t);
    close(fd);
    return 0;
}

/* ---- the parent ---- */

typedef struct {
    const char *kind;
    char self[512], record[192], root[192];
    pid_t pid[MAX_KIDS];
    int64_t kill_at[MAX_KIDS];
    int nkids, kills, exits, spawns;
    int64_t *kill_ms; /* wall-clock times of every kill */
    size_t nkill_ms, capkill_ms;
    unsigned rng;
    int lo_ms, hi_ms;
} rig;

static int rnd(rig *r, int lo, int hi) { return lo + (int)(rand_r(&r->rng) % (unsigned)(hi - lo + 1)); }

static void spawn(rig *r, int k)
{
    char who[16];
    char *argv[] = {r->self, (char *)"child", (char *)r->kind, r->record, who, r->root, NULL};
    snprintf(who, sizeof(who), "%d", k);
    if (posix_spawn(&r->pid[k], r->self, NULL, NULL, argv, environ))
        fault_die("cannot start a receiver");
    r->spawns++;
    r->kill_at[k] = fault_mono_ms() + rnd(r, r->lo_ms, r->hi_ms);
}

static void note_kill(rig *r)
{
    if (r->nkill_ms == r->capkill_ms) {
        int64_t *g =
            realloc(r->kill_ms, (r->capkill_ms = r->capkill_ms ? r->capkill_ms * 2 : 64) * sizeof(int64_t));
        if (!g)
            fault_die("out of memory");
        r->kill_ms = g;
    }
    r->kill_ms[r->nkill_ms++] = fault_wall_ms();
}

/* kills children whose time has come, restarts them and any that exited */
static void tend(rig *r, bool killing)
{
    for (int k = 0; k < r->nkids; k++) {
        int status;
        if (waitpid(r->pid[k], &status, WNOHANG) == r->pid[k]) {
            r->exits++;
            fprintf(stderr, "receiver %d exited by itself (status %d); restarting\n", k, status);
            spawn(r, k);
        } else if (killing && fault_mono_ms() >= r->kill_at[k]) {
            kill(r->pid[k], SIGKILL);
            note_kill(r);
            waitpid(r->pid[k], &status, 0);
            r->kills++;
            spawn(r, k);
        }
    }
}

static bool killed_between(int64_t first_ms, int64_t again_ms, void *ud)
{
    const rig *r = ud;
    return fault_any_between(r->kill_ms, r->nkill_ms, first_ms, again_ms);
}

/* distinct seqs in the record file now */
static int recorded(const rig *r, int n)
{
    fault_ledger l;
    char line[512];
    int d;
    FILE *f = fopen(r->record, "r");
    fault_ledger_init(&l, n);
    while (f && fgets(line, sizeof(line), f))
        fault_ledger_deliver_line(&l, line);
    if (f)
        fclose(f);
    d = fault_ledger_distinct(&l);
    fault_ledger_free(&l);
    return d;
}

typedef struct {
    fault_ledger *ledger;
    mc_output_channel *out;
    int n, pace_ms;
    atomic_bool done;
} sender;

static void *send_loop(void *arg)
{
    sender *s = arg;
    for (int i = 0; i < s->n; i++) {
        fault_send_seq(s->ledger, s->out, TAG, i, 0, 30);
        fault_sleep_ms(s->pace_ms);
    }
    atomic_store(&s->done, true);
    return NULL;
}

static void stop_children(rig *r)
{
    for (int k = 0; k < r->nkids; k++)
        kill(r->pid[k], SIGTERM);
    for (int k = 0; k < r->nkids; k++) {
        int status = 0, i;
        for (i = 0; i < 150 && waitpid(r->pid[k], &status, WNOHANG) != r->pid[k]; i++)
            fault_sleep_ms(100);
        if (i == 150) {
            printf("receiver %d did not stop within 15 s of SIGTERM: killed\n", k);
            kill(r->pid[k], SIGKILL);
            waitpid(r->pid[k], &status, 0);
        } else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
            printf("receiver %d ended with status %d after SIGTERM\n", k, status);
        }
    }
}

static void leftovers(const rig *r)
{
    if (!strcmp(r->kind, "imap")) {
        printf(
            "left on the server: %d in erin's Service E-mail (%d of them flagged \\Deleted), %d in Postfix's "
            "queue\n",
            fault_server_count("erin", "Service E-mail", "all"),
            fault_server_count("erin", "Service E-mail", "deleted"), fault_postfix_queued());
    } else {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "printf 'left in the store: '; find '%s' -path '*/new/*' -type f | wc -l",
                 r->root);
        fflush(stdout);
        if (system(cmd))
            printf("?\n");
    }
}

int main(int argc, char **argv)
{
    rig r = {0};
    sender s = {0};
    fault_ledger ledger;
    fault_verdict v;
    mc_transport *t;
    mc_channel_factory *f;
    char dir[128], to[128];
    pthread_t th;
    int64_t t0 = fault_mono_ms(), t_sent, deadline;
    bool imap;
    int got, want;
    unsigned seed;
    FILE *rec;
    if (argc == 6 && !strcmp(argv[1], "child"))
        return child(argv[2], argv[3], atoi(argv[4]), argv[5]);
    if (argc != 2 || (strcmp(argv[1], "imap") && strcmp(argv[1], "maildir")))
        fault_die("usage: fault_kill imap|maildir");
    imap = !strcmp(argv[1], "imap");
    if (imap && !fault_servers_running())
        return 77;
    fault_begin(MC_LOG_WARN);
    seed = (unsigned)fault_env_long("FAULT_SEED", (long)(time(NULL) ^ getpid()));
    r.kind = argv[1];
    r.rng = seed;
    r.nkids = imap ? 1 : 2;
    r.lo_ms = 20;
    r.hi_ms = 1500;
    if (readlink("/proc/self/exe", r.self, sizeof(r.self) - 1) < 0)
        fault_die("readlink /proc/self/exe: %s", strerror(errno));
    fault_tmpdir(dir, sizeof(dir), "kill");
    snprintf(r.record, sizeof(r.record), "%s/record.txt", dir);
    snprintf(r.root, sizeof(r.root), "%s/store", dir);
    if (!(rec = fopen(r.record, "w")))
        fault_die("cannot create %s", r.record);
    fclose(rec);
    s.n = (int)fault_env_long("FAULT_N", imap ? 300 : 500);
    s.pace_ms = imap ? 40 : 15;
    fault_ledger_init(&ledger, s.n);
    s.ledger = &ledger;
    if (imap) {
        fault_expunge_all("erin");
        t = fault_mail_transport("alice", atoi(fault_env("MC_SUBMISSION_PORT")),
                                 atoi(fault_env("MC_IMAP_PORT")), "timeout=5000", NULL);
        snprintf(to, sizeof(to), "%serin@example.test", CHANNEL);
    } else {
        t = fault_maildir_transport(r.root, "cli@example.org", NULL);
        snprintf(to, sizeof(to), "%s" SVC, CHANNEL);
    }
    fault_output(t, to, &f, &s.out, "sender");
    printf("fault_kill %s: %d messages, %d receiver(s), seed %u, record %s\n", r.kind, s.n, r.nkids, seed,
           r.record);
    for (int k = 0; k < r.nkids; k++)
        spawn(&r, k);
    pthread_create(&th, NULL, send_loop, &s);
    while (!atomic_load(&s.done)) {
        tend(&r, true);
        fault_sleep_ms(10);
    }
    pthread_join(th, NULL);
    t_sent = fault_mono_ms();
    /* one more second of kills after the last send, then let them finish */
    while (fault_mono_ms() < t_sent + 1000) {
        tend(&r, true);
        fault_sleep_ms(10);
    }
    want = 0; /* seqs the sender gave up on are not expected */
    for (int k = 0; k < s.n; k++)
        want += ledger.attempts[k] > ledger.failures[k];
    deadline = fault_mono_ms() + 60000;
    while ((got = recorded(&r, s.n)) < want && fault_mono_ms() < deadline) {
        tend(&r, false);
        fault_sleep_ms(200);
    }
    printf("sending took %.1f s; %d of %d recorded %.1f s after sending ended%s\n",
           (double)(t_sent - t0) / 1000.0, got, want, (double)(fault_mono_ms() - t_sent) / 1000.0,
           got < want ? " (60 s bound reached)" : "");
    fault_sleep_ms(1000); /* late duplicates */
    stop_children(&r);
    mc_output_channel_free(s.out);
    mc_channel_factory_free(f);
    mc_transport_free(t);
    {
        char line[512];
        FILE *in = fopen(r.record, "r");
        while (in && fgets(line, sizeof(line), in))
            fault_ledger_deliver_line(&ledger, line);
        if (in)
            fclose(in);
    }
    printf("kills: %d (receivers started %d times; %d exited by themselves); library warnings in the sender: "
           "%zu\n",
           r.kills, r.spawns, r.exits, fault_log_count(t0, MC_LOG_WARN));
    fault_log_print(t0, MC_LOG_WARN, 10, t0);
    leftovers(&r);
    fault_ledger_judge(&ledger, killed_between, &r, &v);
    printf("total %.1f s\n", (double)(fault_mono_ms() - t0) / 1000.0);
    {
        char name[64];
        snprintf(name, sizeof(name), "fault_kill %s", r.kind);
        fault_verdict_print(name, &v);
    }
    if (v.dup_unexplained)
        printf(
            "(duplicates are allowed in this test: the %d not preceded by a kill are reported, not failed)\n",
            v.dup_unexplained);
    fault_ledger_free(&ledger);
    free(r.kill_ms);
    if (!getenv("FAULT_KEEP"))
        fault_rm_rf(dir);
    else
        printf("record kept: %s\n", r.record);
    return v.lost || v.unknown || v.gave_up ? 1 : 0;
}
