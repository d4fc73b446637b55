/* test_fault_kill.c - receivers killed with SIGKILL at random moments and
 * restarted lose nothing; with a state store, nothing is delivered twice.
 *
 *   fault_kill imap      one receiver process on erin's IMAP mailbox (direct to
 *                        Dovecot, IDLE), alice sends by SMTP submission
 *   fault_kill maildir   two receiver processes on one Maildir mailbox (the
 *                        claim protocol: a dead owner's claimed mail goes back)
 *   fault_kill imap once      the same, each receiver with state_path:
 *   fault_kill maildir once   exactly-once delivery (see below)
 *
 * Each receiver is a child process (this program re-executed) that receives
 * and appends one line per message ("seq Message-ID mail-id wall-ms slot pid
 * wsa:MessageID") to a record file with write(2) right after
 * receive returns - there is no way to record before receive hands control
 * back, so a kill in between is the window the library must cover by
 * delivering again. The parent sends FAULT_N messages (300 IMAP, 500 Maildir)
 * at a steady pace, each body carrying its sequence number (a failed send is
 * retried), and meanwhile kills each child after a random 20 ms .. 1.5 s of
 * life and starts a new one at once. When sending has ended, the children
 * live until everything is recorded (bounded), then get SIGTERM and close
 * gracefully.
 *
 * Counting mode (no "once"; no state_path, the library's default):
 * at-least-once. Verdict: 0 lost (every seq sent is in the record).
 * Duplicates are allowed here: counted and printed, with those not preceded
 * by a kill marked. Kept beside the exactly-once mode because it is what an
 * application without a state store gets (the received ids live in memory
 * and die with the process), and it is the baseline the "once" figures are
 * compared with (e.g. 22 kills -> 287 duplicate deliveries on IMAP).
 *
 * Exactly-once mode ("once"): every receiver process slot has its own state
 * store (DIR/slotK.db); a restarted receiver reopens its dead predecessor's
 * store (a store has one owner at a time - the kernel drops the dead one's
 * lock, and the parent reaps it before starting the next). Each message
 * carries the wsa:MessageID "urn:mcfault:kill:<run>:<seq>" (the same for
 * every send attempt of that seq). The library records it in the store before
 * receive returns, and deletes a mail that repeats it. Verdict: 0 lost AND
 * 0 duplicates delivered (any seq in the record twice fails); the duplicates
 * the receivers dropped (mc_transport_statistics, stats v2 "duplicates",
 * reported by each child to DIR/stats.txt whenever it changes - a count
 * dropped just before a kill may be missed) are printed.
 *
 * Maildir with two receiver processes cannot be exactly-once with per-slot
 * stores: slot A receives message M (recorded in A's store, written to the
 * record), is killed before its deletion of M is flushed; the claim protocol
 * then hands A's claimed mail back to new/, and slot B - whose store never
 * saw M - may claim it and deliver it again. A store cannot be shared (one
 * owning process; a second opener gets MC_EBUSY), so the library offers no
 * exactly-once across processes on one mailbox. "maildir once" therefore
 * runs ONE receiving process slot (killed and restarted as above); set
 * FAULT_KIDS=2 to see the two-slot case: there a duplicate delivered by two
 * different slots is reported as "cross-slot" and not failed, while one
 * delivered twice by the same slot (same store) still fails.
 *
 * The inherent window: the library commits the received id, then receive
 * returns, then the application writes its record. A SIGKILL between the
 * commit and the write(2) loses the message as far as the application is
 * concerned (the library counts it delivered and will not deliver it again;
 * only a transaction spanning both could close this, and the application's
 * record is not in the library's database). The child therefore writes its
 * line with one write(2) right after receive returns, before anything else.
 * The window is wider than it looks: once SQLite has written the commit's
 * WAL frames, the transaction survives a kill of the process (the page
 * cache keeps them), so the fsync of synchronous=FULL - milliseconds here -
 * is part of it; measured, 0 to 3 of 20-24 kills per IMAP run and 0 to 4
 * of 11-18 per Maildir run land in it (a receiver busy delivering spends
 * much of its time in that fsync; killed 0-12 ms after the store's time).
 * So a seq missing from the record is counted as "lost in the application's
 * window" - and not failed - only with the evidence: its id is in the
 * slot's store, recorded at T, and the process of that slot alive at T was
 * killed after T without having written any line after T (died_in_window: a
 * line in T's own millisecond is the previous message's). Every other
 * missing seq is LOST and fails the test.
 *
 * Run alone:
 *   build-test/tests/fault_kill maildir [once]   # needs nothing else
 *   MC_PORT_BASE=26000 bash tests/mailserver/start.sh /tmp/srv && . /tmp/srv/env.sh
 *   build-test/tests/fault_kill imap [once]      # exit 77 without the servers
 * Knobs: FAULT_N, FAULT_SEED, FAULT_VERBOSE=1, FAULT_KEEP=1 (keep the record
 * and the stores), FAULT_KIDS (receiver processes: 1 or 2). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
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

/* with a store: the duplicates dropped so far, one line "pid slot count" each
 * time the count changes */
static void report_duplicates(mc_transport *t, int sfd, int who, unsigned long long *last)
{
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    char line[96];
    int len;
    if (sfd < 0 || mc_transport_statistics(&st, t) || st.duplicates == *last)
        return;
    *last = st.duplicates;
    len = snprintf(line, sizeof(line), "%d %d %llu\n", (int)getpid(), who, *last);
    if (write(sfd, line, (size_t)len) != len)
        fault_die("write stats: %s", strerror(errno));
}

static int child(const char *kind, const char *record, int who, const char *root, const char *state,
                 const char *stats)
{
    struct sigaction sa = {.sa_handler = on_term};
    mc_transport *t;
    mc_channel_listener *l;
    mc_input_channel *in;
    char state_setting[256];
    const char *st = NULL; /* "state_path=..." or NULL (ends the settings) */
    unsigned long long dropped = 0;
    int fd = open(record, O_WRONLY | O_APPEND | O_CLOEXEC), sfd = -1;
    sigaction(SIGTERM, &sa, NULL);
    if (fd < 0)
        fault_die("open %s: %s", record, strerror(errno));
    if (strcmp(state, "-")) {
        snprintf(state_setting, sizeof(state_setting), "state_path=%s", state);
        st = state_setting;
        if ((sfd = open(stats, O_WRONLY | O_APPEND | O_CLOEXEC)) < 0)
            fault_die("open %s: %s", stats, strerror(errno));
    }
    mc_init();
    if (getenv("FAULT_VERBOSE"))
        mc_log_set_callback(mc_log_stderr, MC_LOG_INFO, NULL);
    if (!strcmp(kind, "imap"))
        t = fault_mail_transport("erin", atoi(fault_env("MC_SUBMISSION_PORT")),
                                 atoi(fault_env("MC_IMAP_PORT")), "timeout=3000",
                                 "server_query_interval=1000", "accept_existing_messages=true", st, NULL);
    else
        t = fault_maildir_transport(root, SVC, "server_query_interval=500", "accept_existing_messages=true",
                                    st, NULL);
    if (mc_channel_listener_new(&l, t, CHANNEL) || mc_channel_listener_accept_channel(&in, l, 5000)) {
        fprintf(stderr, "receiver %d: listener: %s\n", who, mc_error_last());
        return 3;
    }
    while (!atomic_load(&g_term)) {
        mc_message *m = NULL;
        char line[512], *text = NULL;
        const char *mid, *id, *seq, *wsa;
        int len, rc = mc_input_channel_receive(&m, in, sfd >= 0 ? 100 : 200);
        if (rc == MC_ETIMEOUT) {
            report_duplicates(t, sfd, who, &dropped);
            continue;
        }
        if (rc) {
            fprintf(stderr, "receiver %d: receive: %s: %s\n", who, mc_strerror(rc), mc_error_last());
            fault_sleep_ms(100);
            continue;
        }
        /* the record, at once: nothing but formatting between receive and write(2) */
        mid = mc_message_property(m, MC_PROP_MAIL_MESSAGE_ID);
        id = mc_message_property(m, MC_PROP_MAIL_ID);
        wsa = mc_message_message_id(m);
        seq = mc_message_body_text(&text, m) ? NULL : strstr(text, "seq=");
        len = snprintf(line, sizeof(line), "%d %s %s %lld %d %d %s\n", seq ? atoi(seq + 4) : -1,
                       mid ? mid : "-", id ? id : "-", (long long)fault_wall_ms(), who, (int)getpid(),
                       wsa && *wsa ? wsa : "-");
        if (write(fd, line, (size_t)len) != len)
            fault_die("write %s: %s", record, strerror(errno));
        mc_free(text);
        mc_message_free(m);
        report_duplicates(t, sfd, who, &dropped);
    }
    if (mc_input_channel_close(in))
        fprintf(stderr, "receiver %d: close: %s\n", who, mc_error_last());
    report_duplicates(t, sfd, who, &dropped);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_transport_free(t);
    close(fd);
    if (sfd >= 0)
        close(sfd);
    return 0;
}

/* ---- the parent ---- */

typedef struct {
    int64_t ms; /* wall clock */
    int who;
    pid_t pid;
} kill_note;

typedef struct {
    const char *kind;
    bool once;
    char self[512], record[192], root[192], stats[192], state[MAX_KIDS][192];
    pid_t pid[MAX_KIDS];
    int64_t kill_at[MAX_KIDS];
    int nkids, kills, exits, spawns;
    int64_t *kill_ms; /* wall-clock times of every kill */
    kill_note *kill_notes;
    size_t nkill_ms, capkill_ms;
    unsigned rng;
    int lo_ms, hi_ms;
} rig;

static int rnd(rig *r, int lo, int hi) { return lo + (int)(rand_r(&r->rng) % (unsigned)(hi - lo + 1)); }

static void spawn(rig *r, int k)
{
    char who[16];
    char *argv[] = {r->self,
                    (char *)"child",
                    (char *)r->kind,
                    r->record,
                    who,
                    r->root,
                    r->once ? r->state[k] : (char *)"-",
                    r->stats,
                    NULL};
    snprintf(who, sizeof(who), "%d", k);
    if (posix_spawn(&r->pid[k], r->self, NULL, NULL, argv, environ))
        fault_die("cannot start a receiver");
    r->spawns++;
    r->kill_at[k] = fault_mono_ms() + rnd(r, r->lo_ms, r->hi_ms);
}

static void note_kill(rig *r, int k)
{
    if (r->nkill_ms == r->capkill_ms) {
        size_t cap = r->capkill_ms ? r->capkill_ms * 2 : 64;
        int64_t *g = realloc(r->kill_ms, cap * sizeof(int64_t));
        kill_note *h = g ? realloc(r->kill_notes, cap * sizeof(kill_note)) : NULL;
        if (g)
            r->kill_ms = g;
        if (!g || !h)
            fault_die("out of memory");
        r->kill_notes = h;
        r->capkill_ms = cap;
    }
    r->kill_notes[r->nkill_ms] = (kill_note){fault_wall_ms(), k, r->pid[k]};
    r->kill_ms[r->nkill_ms] = r->kill_notes[r->nkill_ms].ms;
    r->nkill_ms++;
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
            note_kill(r, k);
            waitpid(r->pid[k], &status, 0); /* reaped: its store's lock is free for the next one */
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

/* ---- the exactly-once verdict ---- */

/* the duplicates the receivers dropped: the last count of each process */
static unsigned long long duplicates_dropped(const rig *r)
{
    struct {
        int pid;
        unsigned long long n;
    } *last = NULL;
    size_t n = 0, cap = 0;
    unsigned long long sum = 0, c;
    int pid, who;
    FILE *f = fopen(r->stats, "r");
    while (f && fscanf(f, "%d %d %llu", &pid, &who, &c) == 3) {
        size_t i;
        for (i = 0; i < n && last[i].pid != pid; i++) {
        }
        if (i == n) {
            if (n == cap && !(last = realloc(last, (cap = cap ? cap * 2 : 64) * sizeof(*last))))
                fault_die("out of memory");
            last[n].pid = pid;
            last[n++].n = 0;
        }
        if (c > last[i].n)
            last[i].n = c;
    }
    if (f)
        fclose(f);
    for (size_t i = 0; i < n; i++)
        sum += last[i].n;
    free(last);
    return sum;
}

/* slot k's store, read-only (beside its owner: SQLite's WAL allows it), or NULL */
static sqlite3 *store_open(const rig *r, int k, sqlite3_stmt **st)
{
    sqlite3 *db = NULL;
    if (access(r->state[k], F_OK))
        return NULL; /* that receiver has not started yet */
    if (sqlite3_open_v2(r->state[k], &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        if (sqlite3_prepare_v2(db, "SELECT seen_ms FROM received WHERE message_id = ?1", -1, st, NULL) ==
            SQLITE_OK)
            return db;
    }
    printf("  cannot read the store %s: %s\n", r->state[k], db ? sqlite3_errmsg(db) : "?");
    sqlite3_close(db);
    return NULL;
}

/* when the store recorded the wsa:MessageID of seq (wall ms), or -1 */
static int64_t store_lookup(sqlite3_stmt *st, const char *prefix, int seq)
{
    char mid[160];
    int64_t ms = -1;
    snprintf(mid, sizeof(mid), "%s%d", prefix, seq);
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, mid, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW)
        ms = sqlite3_column_int64(st, 0);
    return ms;
}

/* Distinct seqs in the record plus those missing from it that a store holds:
 * the library counts those delivered and will not deliver them again, so
 * waiting for them is pointless (they are judged at the end). */
static int settled(const rig *r, int n, const char *prefix)
{
    fault_ledger l;
    char line[512], *seen = calloc((size_t)n, 1);
    int d = 0;
    FILE *f = fopen(r->record, "r");
    if (!seen)
        fault_die("out of memory");
    fault_ledger_init(&l, n);
    while (f && fgets(line, sizeof(line), f))
        fault_ledger_deliver_line(&l, line);
    if (f)
        fclose(f);
    for (size_t i = 0; i < l.ndl; i++)
        if (l.dl[i].seq >= 0 && l.dl[i].seq < n && !seen[l.dl[i].seq]++)
            d++;
    for (int k = 0; k < r->nkids; k++) {
        sqlite3_stmt *st = NULL;
        sqlite3 *db = store_open(r, k, &st);
        for (int q = 0; db && q < n; q++)
            if (!seen[q] && store_lookup(st, prefix, q) >= 0) {
                seen[q] = 1;
                d++;
            }
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    fault_ledger_free(&l);
    free(seen);
    return d;
}

typedef struct {
    int lost, window;           /* lost for the library; lost in the application's window */
    int dup_same, dup_cross;    /* seqs delivered again by the same slot / by another slot */
    unsigned long long dropped; /* duplicates dropped by the receivers */
} once_verdict;

/* whether the process of slot k alive at t_ms was killed after t_ms without
 * having recorded anything after t_ms (wall clock, ms). A line in the same
 * millisecond as t_ms is the previous message's: the receiver writes it
 * before it asks for the next message, and the store's time is taken when
 * the next one's record begins (seen at +0 ms in most runs); a later
 * message's line in that millisecond would need a whole record, with its
 * fsync, in under a millisecond. *after: the first line that shows the
 * process went on, if any. */
static bool died_in_window(const rig *r, const fault_ledger *l, int k, int64_t t_ms, int64_t *kill_ms,
                           const fault_delivery **after)
{
    const kill_note *kn = NULL;
    *after = NULL;
    *kill_ms = -1;
    for (size_t i = 0; i < r->nkill_ms && !kn; i++)
        if (r->kill_notes[i].who == k && r->kill_notes[i].ms >= t_ms)
            kn = &r->kill_notes[i];
    for (size_t i = 0; i < l->ndl && !*after; i++)
        if (l->dl[i].who == k && l->dl[i].wall_ms > t_ms && (!kn || l->dl[i].wall_ms <= kn->ms))
            *after = &l->dl[i];
    if (kn)
        *kill_ms = kn->ms;
    return kn && !*after;
}

static void judge_once(const rig *r, fault_ledger *l, const char *prefix, once_verdict *o)
{
    int *first_who = malloc((size_t)l->n * sizeof(int)), shown = 0;
    if (!first_who)
        fault_die("out of memory");
    memset(o, 0, sizeof(*o));
    for (int s = 0; s < l->n; s++)
        first_who[s] = -1;
    for (size_t i = 0; i < l->ndl; i++) {
        const fault_delivery *d = &l->dl[i];
        if (d->seq < 0 || d->seq >= l->n)
            continue; /* counted as unknown by fault_ledger_judge */
        if (first_who[d->seq] < 0) {
            first_who[d->seq] = d->who;
            continue;
        }
        if (d->who == first_who[d->seq])
            o->dup_same++;
        else
            o->dup_cross++;
        if (shown++ < 20)
            printf("  DUPLICATE: seq %d delivered again (mail %s, receiver %d; first by receiver %d)\n",
                   d->seq, d->mailid, d->who, first_who[d->seq]);
    }
    for (int s = 0; s < l->n; s++) {
        int64_t at = -1, killed = 0;
        const fault_delivery *after;
        int k;
        if (first_who[s] >= 0 || !l->attempts[s] || l->gave_up[s])
            continue;
        for (k = 0; k < r->nkids && at < 0; k++) {
            sqlite3_stmt *st = NULL;
            sqlite3 *db = store_open(r, k, &st);
            if (db)
                at = store_lookup(st, prefix, s);
            sqlite3_finalize(st);
            sqlite3_close(db);
        }
        k--;
        if (at >= 0 && died_in_window(r, l, k, at, &killed, &after)) {
            o->window++;
            printf("  lost in the application's window: seq %d recorded in slot %d's store, that receiver "
                   "killed "
                   "%lld ms later before writing any record\n",
                   s, k, (long long)(killed - at));
        } else {
            o->lost++;
            if (at < 0)
                printf("  LOST: seq %d (not in any receiver's store: never handed over)\n", s);
            else if (after)
                printf("  LOST: seq %d (recorded in slot %d's store at %lld, but that receiver went on: it "
                       "recorded seq %d %+lld ms after; next kill %+lld ms)\n",
                       s, k, (long long)at, after->seq, (long long)(after->wall_ms - at),
                       (long long)(killed < 0 ? 0 : killed - at));
            else
                printf("  LOST: seq %d (recorded in slot %d's store, that receiver never killed after)\n", s,
                       k);
        }
    }
    o->dropped = duplicates_dropped(r);
    free(first_who);
}

int main(int argc, char **argv)
{
    rig r = {0};
    sender s = {0};
    fault_ledger ledger;
    fault_verdict v;
    once_verdict ov = {0};
    mc_transport *t;
    mc_channel_factory *f;
    char dir[128], to[128], prefix[96];
    pthread_t th;
    int64_t t0 = fault_mono_ms(), t_sent, deadline;
    bool imap;
    int got, want;
    unsigned seed;
    FILE *rec;
    if (argc == 8 && !strcmp(argv[1], "child"))
        return child(argv[2], argv[3], atoi(argv[4]), argv[5], argv[6], argv[7]);
    if ((argc != 2 && argc != 3) || (strcmp(argv[1], "imap") && strcmp(argv[1], "maildir")) ||
        (argc == 3 && strcmp(argv[2], "once")))
        fault_die("usage: fault_kill imap|maildir [once]");
    imap = !strcmp(argv[1], "imap");
    if (imap && !fault_servers_running())
        return 77;
    fault_begin(MC_LOG_WARN);
    seed = (unsigned)fault_env_long("FAULT_SEED", (long)(time(NULL) ^ getpid()));
    r.kind = argv[1];
    r.once = argc == 3;
    r.rng = seed;
    /* exactly-once on one Maildir mailbox needs one receiving process (header) */
    r.nkids = (int)fault_env_long("FAULT_KIDS", imap || r.once ? 1 : 2);
    if (r.nkids < 1 || r.nkids > MAX_KIDS)
        fault_die("FAULT_KIDS must be 1 or %d", MAX_KIDS);
    r.lo_ms = 20;
    r.hi_ms = 1500;
    if (readlink("/proc/self/exe", r.self, sizeof(r.self) - 1) < 0)
        fault_die("readlink /proc/self/exe: %s", strerror(errno));
    fault_tmpdir(dir, sizeof(dir), "kill");
    snprintf(r.record, sizeof(r.record), "%s/record.txt", dir);
    snprintf(r.root, sizeof(r.root), "%s/store", dir);
    snprintf(r.stats, sizeof(r.stats), "%s/stats.txt", dir);
    for (int k = 0; k < MAX_KIDS; k++)
        snprintf(r.state[k], sizeof(r.state[k]), "%s/slot%d.db", dir, k);
    if (!(rec = fopen(r.record, "w")))
        fault_die("cannot create %s", r.record);
    fclose(rec);
    if (!(rec = fopen(r.stats, "w")))
        fault_die("cannot create %s", r.stats);
    fclose(rec);
    s.n = (int)fault_env_long("FAULT_N", imap ? 300 : 500);
    s.pace_ms = imap ? 40 : 15;
    fault_ledger_init(&ledger, s.n);
    snprintf(prefix, sizeof(prefix), "urn:mcfault:kill:%u-%d:", seed, (int)getpid());
    if (r.once)
        ledger.mid_prefix = prefix;
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
    printf("fault_kill %s%s: %d messages, %d receiver(s)%s, seed %u, record %s\n", r.kind,
           r.once ? " once" : "", s.n, r.nkids, r.once ? " each with its own state store" : "", seed,
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
    while ((got = recorded(&r, s.n)) < want && (!r.once || settled(&r, s.n, prefix) < want) &&
           fault_mono_ms() < deadline) {
        tend(&r, false);
        fault_sleep_ms(200);
    }
    printf("sending took %.1f s; %d of %d recorded %.1f s after sending ended%s\n",
           (double)(t_sent - t0) / 1000.0, got, want, (double)(fault_mono_ms() - t_sent) / 1000.0,
           got >= want                            ? ""
           : r.once && fault_mono_ms() < deadline ? " (the others are in a store: judged below)"
                                                  : " (60 s bound reached)");
    fault_sleep_ms(r.once ? 2500 : 1000); /* late duplicates (once: past a server query or two) */
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
    if (r.once) {
        printf("exactly-once judgement (seqs missing from the record looked up in the stores):\n");
        judge_once(&r, &ledger, prefix, &ov);
    }
    printf("total %.1f s\n", (double)(fault_mono_ms() - t0) / 1000.0);
    {
        char name[64];
        snprintf(name, sizeof(name), "fault_kill %s%s", r.kind, r.once ? " once" : "");
        fault_verdict_print(name, &v);
        if (r.once)
            printf(
                "%s: kills %d; LOST %d (+ %d lost in the application's window after receive returned); "
                "DUPLICATES DELIVERED %d (same receiver slot %d, cross-slot %d); duplicates dropped by the "
                "receivers (stats, at least) %llu\n",
                name, r.kills, ov.lost, ov.window, ov.dup_same + ov.dup_cross, ov.dup_same, ov.dup_cross,
                ov.dropped);
    }
    if (!r.once && v.dup_unexplained)
        printf(
            "(duplicates are allowed in this test: the %d not preceded by a kill are reported, not failed)\n",
            v.dup_unexplained);
    if (r.once && ov.dup_cross)
        printf(
            "(cross-slot duplicates: two receiving processes with a store each cannot be exactly-once on one "
            "mailbox - see the header; not failed)\n");
    fault_ledger_free(&ledger);
    free(r.kill_ms);
    free(r.kill_notes);
    if (!getenv("FAULT_KEEP"))
        fault_rm_rf(dir);
    else
        printf("record kept: %s\n", r.record);
    if (v.unknown || v.gave_up)
        return 1;
    if (r.once)
        return ov.lost || ov.dup_same || (r.nkids == 1 && ov.dup_cross) ? 1 : 0;
    return v.lost ? 1 : 0;
}
