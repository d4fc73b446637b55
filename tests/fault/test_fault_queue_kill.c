/* test_fault_queue_kill.c - a queued sender killed with SIGKILL at random
 * moments and restarted: nothing is lost and nothing reaches the receiving
 * application twice (issue 13: durable outbox + exactly-once delivery).
 *
 *   fault_queue_kill maildir   Maildir binding both ways (needs nothing else)
 *   fault_queue_kill mail      alice sends by SMTP submission (Postfix), erin
 *                              receives by IMAP (Dovecot); exit 77 without the
 *                              test servers
 *
 * FAULT_RUNS runs (default 20). In each run a sender child process (this
 * program re-executed) with queued = true and a fresh state_path sends the
 * numbers 0 .. FAULT_N-1 of that run, each message with a wsa:MessageID
 * derived from its number alone. It is the application: it appends
 * "try I" to its record file with write(2) before mc_output_channel_send and
 * "ok I" once send returned 0 (the mail is committed to the outbox). A
 * restarted sender resumes at the first number without "ok" - so a message
 * whose commit finished but whose "ok" was not written is sent again, with
 * the same MessageID, as a real application would.
 *
 * The parent kills the sender with SIGKILL after a random 1 .. FAULT_KILL_MAX
 * ms (default 300) of life and starts it again at once, until every number
 * was committed, then FAULT_DRAIN_KILLS (default 2) more times while the
 * outbox delivers. Kills thus land in start-up and in the store's opening,
 * inside send (framing, the SQLite commit: counted as "in send" when the
 * record ends with a "try" without its "ok"), between a commit and the
 * application's record, in the delivery thread's hand-over to the server,
 * and after the server accepted a mail but before its row was deleted (such
 * a mail is sent once more: the receiver drops it, counted in its
 * statistics' duplicates). The last sender lives until mc_queue_list shows
 * its outbox empty (no dead letters either), then ends with SIGTERM.
 *
 * The receiver runs in the parent for the whole test: a transport with its
 * own state_path (dedup on), recording each delivered message's number.
 *
 * Verdict: every number of every run delivered exactly once (0 lost, 0
 * delivered twice, no unknown message, each with its own MessageID), every
 * outbox emptied, no dead letter. Printed: runs, senders started, kills
 * (in send, with the outbox holding mail), resends by the application,
 * duplicates dropped by the receiver.
 *
 * Run alone:
 *   build/tests/fault_queue_kill maildir
 *   MC_PORT_BASE=26000 bash tests/mailserver/start.sh /tmp/srv && . /tmp/srv/env.sh
 *   build/tests/fault_queue_kill mail
 * Knobs: FAULT_RUNS, FAULT_N, FAULT_SEED, FAULT_KILL_MAX (ms), FAULT_DRAIN_KILLS,
 * FAULT_PACE (ms between two sends), FAULT_VERBOSE=1, FAULT_KEEP=1 (keep the files). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "fault_util.h"

#define TAG "fault-queue-kill"
#define CHANNEL "net.mail://fault-qkill#"
#define SVC "svc@example.org"
#define LIVES_MAX 400     /* sender starts per run before the run counts as stuck */
#define SELF_EXITS_MAX 10 /* senders that ended by themselves, in all */
#define DRAIN_MS 60000    /* bound for an outbox to empty */
#define RECEIVE_MS 60000  /* bound for the last messages to arrive */
#define QUIET_MS 2000     /* after everything arrived: time for late duplicates */

extern char **environ;

/* the wsa:MessageID of number g: the same in every sender process of a test */
static void message_id(char *out, size_t cap, unsigned nonce, int g)
{
    snprintf(out, cap, "urn:uuid:%08x-0000-4000-8000-%012x", nonce, (unsigned)g);
}

static void paths(const char *dir, int run, char *state, size_t scap, char *record, size_t rcap)
{
    snprintf(state, scap, "%s/sender-%d.db", dir, run);
    snprintf(record, rcap, "%s/record-%d.txt", dir, run);
}

/* ---- the record: "try I" / "ok I" lines ---- */

typedef struct {
    int tries, oks;    /* lines */
    int first_open;    /* the first number without "ok" (n: all committed) */
    bool ended_in_try; /* the last line is a "try" without its "ok" */
} record_state;

static void record_read(const char *path, int n, record_state *rs)
{
    char line[64];
    char *ok = calloc((size_t)n + 1, 1);
    int last_try = -1;
    FILE *f = fopen(path, "r");
    if (!ok)
        fault_die("out of memory");
    memset(rs, 0, sizeof(*rs));
    while (f && fgets(line, sizeof(line), f)) {
        int i;
        if (sscanf(line, "try %d", &i) == 1 && i >= 0 && i < n) {
            rs->tries++;
            last_try = i;
        } else if (sscanf(line, "ok %d", &i) == 1 && i >= 0 && i < n) {
            rs->oks++;
            ok[i] = 1;
            last_try = -1;
        }
    }
    if (f)
        fclose(f);
    while (rs->first_open < n && ok[rs->first_open])
        rs->first_open++;
    rs->ended_in_try = last_try >= 0;
    free(ok);
}

static void put(int fd, const char *path, const char *word, int i)
{
    char line[32];
    int len = snprintf(line, sizeof(line), "%s %d\n", word, i);
    if (write(fd, line, (size_t)len) != len)
        fault_die("write %s: %s", path, strerror(errno));
}

/* ---- the child: the sending application ---- */

static atomic_bool g_term;

static void on_term(int sig)
{
    (void)sig;
    atomic_store(&g_term, true);
}

static int child(const char *kind, const char *dir, int run, int n, unsigned nonce, int pace)
{
    struct sigaction sa = {.sa_handler = on_term};
    char state[192], record[192], setting[256], root[192], to[128];
    record_state rs;
    mc_transport *t;
    mc_channel_factory *f;
    mc_output_channel *out;
    sigset_t term;
    int fd, failures = 0;
    /* the parent starts it with SIGTERM blocked, so that a SIGTERM right
     * after the start waits for this handler */
    sigaction(SIGTERM, &sa, NULL);
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &term, NULL);
    paths(dir, run, state, sizeof(state), record, sizeof(record));
    if ((fd = open(record, O_WRONLY | O_APPEND | O_CLOEXEC)) < 0)
        fault_die("open %s: %s", record, strerror(errno));
    record_read(record, n, &rs);
    mc_init();
    mc_log_set_callback(mc_log_stderr, getenv("FAULT_VERBOSE") ? MC_LOG_DEBUG : MC_LOG_WARN, NULL);
    snprintf(setting, sizeof(setting), "state_path=%s", state);
    if (!strcmp(kind, "mail")) {
        t = fault_mail_transport("alice", atoi(fault_env("MC_SUBMISSION_PORT")),
                                 atoi(fault_env("MC_IMAP_PORT")), setting, "queued=true",
                                 "queue_retry_initial=100", "queue_retry_max=1000", "timeout=5000", NULL);
        snprintf(to, sizeof(to), "%serin@example.test", CHANNEL);
    } else {
        snprintf(root, sizeof(root), "%s/store", dir);
        t = fault_maildir_transport(root, "cli@example.org", setting, "queued=true", "queue_retry_initial=50",
                                    "queue_retry_max=500", NULL);
        snprintf(to, sizeof(to), "%s" SVC, CHANNEL);
    }
    fault_output(t, to, &f, &out, "sender");
    for (int i = rs.first_open; i < n && !atomic_load(&g_term); i++) {
        char text[64], mid[64];
        mc_message *m;
        int g = run * n + i, rc;
        snprintf(text, sizeof(text), TAG " seq=%d", g);
        message_id(mid, sizeof(mid), nonce, g);
        if (mc_message_new_text(&m, "urn:mailchan:fault", text) || mc_message_set_message_id(m, mid))
            fault_die("message %d: %s", g, mc_error_last());
        put(fd, record, "try", i);
        rc = mc_output_channel_send(out, m);
        mc_message_free(m);
        if (rc) {
            /* a queued send fails only when the store does: try again, bounded */
            fprintf(stderr, "sender: send %d: %s: %s\n", g, mc_strerror(rc), mc_error_last());
            if (++failures == 50)
                return 3;
            fault_sleep_ms(50);
            i--;
            continue;
        }
        put(fd, record, "ok", i);
        if (pace)
            fault_sleep_ms(pace);
    }
    /* everything committed: the outbox delivers until the parent says stop */
    while (!atomic_load(&g_term))
        fault_sleep_ms(20);
    mc_output_channel_free(out);
    mc_channel_factory_free(f);
    mc_transport_free(t);
    close(fd);
    return 0;
}

/* ---- the receiver: in the parent, for the whole test ---- */

typedef struct {
    mc_transport *t;
    mc_channel_listener *l;
    mc_input_channel *in;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t lock;
    int total;    /* numbers 0 .. total-1 */
    int *count;   /* deliveries per number */
    int distinct; /* numbers delivered at least once */
    int unknown;  /* deliveries of no number of this test, or with a wrong MessageID */
    int errors;   /* receive errors */
    unsigned nonce;
} receiver;

static void *receive_loop(void *arg)
{
    receiver *r = arg;
    while (!atomic_load(&r->stop)) {
        mc_message *m = NULL;
        char *text = NULL, want[64];
        const char *seq, *mid;
        int g, rc = mc_input_channel_receive(&m, r->in, 200);
        if (rc == MC_ETIMEOUT)
            continue;
        if (rc) {
            fprintf(stderr, "receiver: receive: %s: %s\n", mc_strerror(rc), mc_error_last());
            pthread_mutex_lock(&r->lock);
            r->errors++;
            pthread_mutex_unlock(&r->lock);
            fault_sleep_ms(100);
            continue;
        }
        seq = mc_message_body_text(&text, m) ? NULL : strstr(text, "seq=");
        g = seq ? atoi(seq + 4) : -1;
        mid = mc_message_message_id(m);
        if (g >= 0)
            message_id(want, sizeof(want), r->nonce, g);
        pthread_mutex_lock(&r->lock);
        if (g < 0 || g >= r->total || !mid || strcmp(mid, want)) {
            r->unknown++;
            printf("  UNKNOWN: a message \"%.60s\" with MessageID %s\n", text ? text : "?", mid ? mid : "-");
        } else {
            if (r->count[g]++ == 0)
                r->distinct++;
            else
                printf("  DUPLICATE: number %d (MessageID %s) delivered %d times\n", g, mid, r->count[g]);
        }
        pthread_mutex_unlock(&r->lock);
        mc_free(text);
        mc_message_free(m);
    }
    return NULL;
}

static int receiver_distinct(receiver *r)
{
    int d;
    pthread_mutex_lock(&r->lock);
    d = r->distinct;
    pthread_mutex_unlock(&r->lock);
    return d;
}

/* ---- the parent ---- */

typedef struct {
    const char *kind;
    char self[512], dir[128];
    int n, pace, kill_max, drain_kills;
    unsigned rng, nonce;
    /* figures, in all runs */
    int starts, kills, kills_in_send, kills_pending, drain_done, self_exits, resends, stuck, dead, undrained;
    int kills_by_band[3]; /* <= 20 ms, <= 100 ms, more */
} rig;

static int rnd(rig *r, int lo, int hi) { return lo + (int)(rand_r(&r->rng) % (unsigned)(hi - lo + 1)); }

static pid_t spawn(rig *r, int run)
{
    char runs[16], ns[16], nonce[16], pace[16];
    char *argv[] = {r->self, (char *)"child", (char *)r->kind, r->dir, runs, ns, nonce, pace, NULL};
    posix_spawnattr_t attr;
    sigset_t term;
    pid_t pid;
    /* SIGTERM blocked until the child's handler is in place (see child()) */
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &term);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    snprintf(runs, sizeof(runs), "%d", run);
    snprintf(ns, sizeof(ns), "%d", r->n);
    snprintf(nonce, sizeof(nonce), "%u", r->nonce);
    snprintf(pace, sizeof(pace), "%d", r->pace);
    if (posix_spawn(&pid, r->self, NULL, &attr, argv, environ))
        fault_die("cannot start a sender");
    posix_spawnattr_destroy(&attr);
    r->starts++;
    return pid;
}

static int count_one(const mc_queue_entry *e, void *ud)
{
    (void)e;
    (*(int *)ud)++;
    return 0;
}

/* mail in the outbox (dead-lettered mail when dead); 0 before the store
 * exists; -1 if it cannot be read */
static int outbox_count(const char *state, bool dead)
{
    struct stat st;
    int n = 0, rc = MC_EBUSY;
    if (stat(state, &st))
        return 0;
    for (int i = 0; i < 20 && rc == MC_EBUSY; i++) {
        n = 0;
        if ((rc = mc_queue_list(state, dead, count_one, &n)) == MC_EBUSY)
            fault_sleep_ms(50);
    }
    if (rc) {
        printf("  mc_queue_list %s: %s: %s\n", state, mc_strerror(rc), mc_error_last());
        return -1;
    }
    return n;
}

/* waits for pid at most ms; true when it ended (status set) */
static bool wait_for(pid_t pid, int ms, int *status)
{
    int64_t end = fault_mono_ms() + ms;
    do {
        if (waitpid(pid, status, WNOHANG) == pid)
            return true;
        fault_sleep_ms(1);
    } while (fault_mono_ms() < end);
    return false;
}

/* one run: a fresh outbox, numbers run*n .. run*n+n-1; false if it did not complete */
static bool one_run(rig *r, int run)
{
    char state[192], record[192];
    record_state rs;
    int lives = 0, drain_left = r->drain_kills, kills = 0, in_send = 0, pending = 0, status, left;
    int64_t t0 = fault_mono_ms(), t_committed = -1, end;
    pid_t pid;
    FILE *f;
    paths(r->dir, run, state, sizeof(state), record, sizeof(record));
    if (!(f = fopen(record, "w")))
        fault_die("cannot create %s", record);
    fclose(f);
    for (;;) {
        int delay = rnd(r, 1, r->kill_max);
        if (lives++ == LIVES_MAX) {
            printf("run %d: no end after %d sender starts\n", run, LIVES_MAX);
            r->stuck++;
            return false;
        }
        pid = spawn(r, run);
        if (wait_for(pid, delay, &status)) {
            r->self_exits++;
            printf("run %d: a sender ended by itself (status %d)\n", run, status);
            if (r->self_exits >= SELF_EXITS_MAX)
                fault_die("%d senders ended by themselves", r->self_exits);
            continue;
        }
        record_read(record, r->n, &rs);
        if (rs.first_open == r->n) {
            if (t_committed < 0)
                t_committed = fault_mono_ms();
            if (drain_left-- <= 0)
                break; /* this one lives until its outbox is empty */
            r->drain_done++;
        }
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        kills++;
        r->kills_by_band[delay <= 20 ? 0 : delay <= 100 ? 1 : 2]++;
        record_read(record, r->n, &rs);
        in_send += rs.ended_in_try;
        if (outbox_count(state, false) > 0)
            pending++;
    }
    /* the last sender delivers what is left */
    end = fault_mono_ms() + DRAIN_MS;
    while ((left = outbox_count(state, false)) != 0 && fault_mono_ms() < end) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            r->self_exits++;
            printf("run %d: the last sender ended by itself (status %d); starting it again\n", run, status);
            if (r->self_exits >= SELF_EXITS_MAX)
                fault_die("%d senders ended by themselves", r->self_exits);
            pid = spawn(r, run);
        }
        fault_sleep_ms(50);
    }
    {
        int dead = outbox_count(state, true);
        if (left)
            r->undrained++;
        if (dead)
            r->dead += dead < 0 ? 1 : dead;
        if (left || dead)
            printf("run %d: %d mail still queued after %d s, %d dead-lettered\n", run, left, DRAIN_MS / 1000,
                   dead);
    }
    kill(pid, SIGTERM);
    if (!wait_for(pid, 15000, &status)) {
        printf("run %d: the sender did not stop within 15 s of SIGTERM: killed\n", run);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    } else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        printf("run %d: the sender ended with status %d after SIGTERM\n", run, status);
    }
    record_read(record, r->n, &rs);
    r->kills += kills;
    r->kills_in_send += in_send;
    r->kills_pending += pending;
    r->resends += rs.tries - r->n; /* every number was tried; the rest are sent again */
    printf("run %d: %d senders, %d kills (%d in send, %d with mail in the outbox), %d sends tried for %d "
           "numbers; committed after %.2f s, outbox empty after %.2f s\n",
           run, lives, kills, in_send, pending, rs.tries, r->n, (double)(t_committed - t0) / 1000.0,
           (double)(fault_mono_ms() - t0) / 1000.0);
    return !left;
}

int main(int argc, char **argv)
{
    rig r = {0};
    receiver rc = {0};
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    int64_t t0, end;
    int runs, lost = 0, twice = 0, got;
    bool mail;
    unsigned seed;
    if (argc == 8 && !strcmp(argv[1], "child"))
        return child(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), (unsigned)strtoul(argv[6], NULL, 10),
                     atoi(argv[7]));
    if (argc != 2 || (strcmp(argv[1], "mail") && strcmp(argv[1], "maildir")))
        fault_die("usage: fault_queue_kill mail|maildir");
    mail = !strcmp(argv[1], "mail");
    if (mail && !fault_servers_running())
        return 77;
    fault_begin(MC_LOG_WARN);
    t0 = fault_mono_ms();
    seed = (unsigned)fault_env_long("FAULT_SEED", (long)(time(NULL) ^ getpid()));
    r.kind = argv[1];
    r.rng = seed;
    r.nonce = (unsigned)rand_r(&r.rng) ^ ((unsigned)getpid() << 16);
    runs = (int)fault_env_long("FAULT_RUNS", 20);
    r.n = (int)fault_env_long("FAULT_N", mail ? 30 : 150);
    r.pace = (int)fault_env_long("FAULT_PACE", mail ? 10 : 0);
    r.kill_max = (int)fault_env_long("FAULT_KILL_MAX", 300);
    r.drain_kills = (int)fault_env_long("FAULT_DRAIN_KILLS", 4);
    if (runs < 1 || r.n < 1 || r.kill_max < 1)
        fault_die("FAULT_RUNS, FAULT_N and FAULT_KILL_MAX must be positive");
    if (readlink("/proc/self/exe", r.self, sizeof(r.self) - 1) < 0)
        fault_die("readlink /proc/self/exe: %s", strerror(errno));
    fault_tmpdir(r.dir, sizeof(r.dir), "qkill");

    /* the receiving application */
    rc.total = runs * r.n;
    rc.nonce = r.nonce;
    if (!(rc.count = calloc((size_t)rc.total, sizeof(int))))
        fault_die("out of memory");
    pthread_mutex_init(&rc.lock, NULL);
    {
        char setting[256], root[192];
        snprintf(setting, sizeof(setting), "state_path=%s/receiver.db", r.dir);
        if (mail) {
            fault_expunge_all("erin");
            rc.t = fault_mail_transport("erin", atoi(fault_env("MC_SUBMISSION_PORT")),
                                        atoi(fault_env("MC_IMAP_PORT")), setting, "timeout=5000",
                                        "server_query_interval=1000", "accept_existing_messages=true", NULL);
        } else {
            snprintf(root, sizeof(root), "%s/store", r.dir);
            rc.t = fault_maildir_transport(root, SVC, setting, "server_query_interval=500",
                                           "accept_existing_messages=true", NULL);
        }
    }
    fault_listen(rc.t, CHANNEL, &rc.l, &rc.in, "receiver");
    if (pthread_create(&rc.thread, NULL, receive_loop, &rc))
        fault_die("cannot start the receive thread");
    printf("fault_queue_kill %s: %d runs of %d messages, kills after 1 .. %d ms (+%d while delivering), seed "
           "%u, "
           "files in %s\n",
           r.kind, runs, r.n, r.kill_max, r.drain_kills, seed, r.dir);

    for (int run = 0; run < runs; run++)
        if (!one_run(&r, run))
            break;

    /* everything arrives, then a quiet while for late duplicates */
    end = fault_mono_ms() + RECEIVE_MS;
    while ((got = receiver_distinct(&rc)) < rc.total && fault_mono_ms() < end)
        fault_sleep_ms(100);
    fault_sleep_ms(QUIET_MS);
    atomic_store(&rc.stop, true);
    pthread_join(rc.thread, NULL);
    if (mc_transport_statistics(&st, rc.t))
        fault_die("mc_transport_statistics: %s", mc_error_last());
    if (mc_input_channel_close(rc.in))
        printf("receiver: close: %s\n", mc_error_last());
    mc_input_channel_free(rc.in);
    mc_channel_listener_free(rc.l);
    mc_transport_free(rc.t);

    for (int g = 0; g < rc.total; g++) {
        if (!rc.count[g]) {
            if (lost++ < 20)
                printf("  LOST: number %d (run %d, message %d) never delivered\n", g, g / r.n, g % r.n);
        } else {
            twice += rc.count[g] - 1;
        }
    }
    printf("kills by delay: %d <= 20 ms, %d <= 100 ms, %d later; %d of them after everything was committed\n",
           r.kills_by_band[0], r.kills_by_band[1], r.kills_by_band[2], r.drain_done);
    /* a resend by the application adds at most one copy; the rest were sent
     * again by an outbox killed after the server accepted a mail and before
     * its row was deleted */
    if (st.duplicates > (unsigned long long)r.resends)
        printf("at least %llu mails were sent again by a restarted outbox (killed between the server's "
               "acceptance and the row's deletion)\n",
               st.duplicates - (unsigned long long)r.resends);
    printf("library warnings in the parent: %zu\n", fault_log_count(t0, MC_LOG_WARN));
    fault_log_print(t0, MC_LOG_WARN, 10, t0);
    printf(
        "fault_queue_kill %s: runs %d, senders started %d, kills %d (in send %d, with mail in the outbox "
        "%d), "
        "resent by the application %d, senders ended by themselves %d; messages %d, delivered %d; LOST %d, "
        "DELIVERED TWICE %d, unknown %d; duplicates dropped by the receiver %llu; runs stuck %d, outboxes "
        "not "
        "emptied %d, dead letters %d; receive errors %d; %.1f s\n",
        r.kind, runs, r.starts, r.kills, r.kills_in_send, r.kills_pending, r.resends, r.self_exits, rc.total,
        got, lost, twice, rc.unknown, st.duplicates, r.stuck, r.undrained, r.dead, rc.errors,
        (double)(fault_mono_ms() - t0) / 1000.0);
    free(rc.count);
    pthread_mutex_destroy(&rc.lock);
    if (!getenv("FAULT_KEEP"))
        fault_rm_rf(r.dir);
    else
        printf("files kept: %s\n", r.dir);
    return lost || twice || rc.unknown || r.stuck || r.undrained || r.dead ? 1 : 0;
}
