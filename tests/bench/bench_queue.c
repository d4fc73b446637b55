/* bench_queue - the durable state store's cost (channel/queue/).
 *
 * (a) Queued sending: mc_output_channel_send on a queued = true Maildir
 *     transport whose delivery is parked, against a bare SQLite loop that
 *     inserts and commits the same framed bytes with the same settings
 *     (WAL, synchronous = FULL, one BEGIN IMMEDIATE .. COMMIT per row,
 *     one prepared statement) in the same directory. Parked: the
 *     recipient's mailbox is a regular file, so the first delivery fails
 *     and every later mail waits behind its backoff (a day): the delivery
 *     thread, woken by each send, only looks at the outbox and sleeps
 *     again, which is part of what a queued send costs. The mailchan side
 *     pays for the framing (XML, MIME, base64), the byte bound's check,
 *     the outbox's indexes and total, and that wake-up. Goal: ratio
 *     mailchan / bare >= 0.8.
 *
 * (b) Exactly-once delivery: the check a receiver makes per message, seen
 *     + record through the store's mc__state ops, for a new id, on a store
 *     holding 1 000 000 received ids (all inside the window) against one
 *     holding 1 000. Goal: within 2x. Also seen alone (a lookup, no
 *     commit), hits and misses, which shows the index's depth without the
 *     commit's fsync.
 *
 * Each round runs both sides of (a), then both sides of (b), interleaved
 * in slices of 25 operations, the side going first alternating from slice
 * to slice, so machine load (fsync latency above all, which varies a lot
 * on a shared disk) hits both alike; every round is printed, then the
 * medians.
 *
 * usage: bench_queue [N [ROUNDS [BIG [DIR]]]]
 *   N       sends per side per round for (a), and N seen+record per side
 *           per round for (b) (default 1000)
 *   ROUNDS  default 5
 *   BIG     the big store's received ids (default 1000000)
 *   DIR     default a new directory in /tmp (removed afterwards)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>
#define BENCH_NAME "bench_queue"
#include "bench_util.h"
#include "internal.h"
#include "queue/store.h"

#define RCPT "svc@bench.local"

static int n = 1000, rounds = 5;
static long big = 1000000;

static void sql_die(sqlite3 *db, const char *what)
{
    fprintf(stderr, BENCH_NAME ": %s: %s\n", what, sqlite3_errmsg(db));
    exit(1);
}

/* ---- (a) queued sending ---- */

typedef struct {
    char root[512], state[600];
    mc_transport *t;
    mc_channel_factory *f;
    mc_output_channel *ch;
    mc_message *m;
} queued_side;

static int max_attempts(const mc_queue_entry *e, void *ud)
{
    if ((int)e->attempts > *(int *)ud)
        *(int *)ud = (int)e->attempts;
    return 0;
}

/* a queued transport over a fresh store, its delivery parked, one mail
 * queued (and its delivery failed) */
static void queued_open(queued_side *q, const char *dir, int round, mc_message *m)
{
    mc_binding *b;
    char parked[600];
    int fd, attempts = 0;
    snprintf(q->root, sizeof(q->root), "%s/mail", dir);
    snprintf(q->state, sizeof(q->state), "%s/mc-%d.db", dir, round);
    snprintf(parked, sizeof(parked), "%s/" RCPT, q->root);
    mkdir(q->root, 0700);
    if ((fd = open(parked, O_WRONLY | O_CREAT, 0600)) < 0)
        die("the parked mailbox");
    close(fd);
    if (mc_binding_new(&b, "maildir") || mc_binding_set(b, "maildir_root", q->root) ||
        mc_binding_set(b, "address", "cli@bench.local") || mc_binding_set(b, "state_path", q->state) ||
        mc_binding_set(b, "queued", "true") || mc_binding_set(b, "queue_max_bytes", "1099511627776") ||
        mc_binding_set(b, "queue_retry_initial", "86400000") ||
        mc_binding_set(b, "queue_retry_max", "86400000") || mc_transport_new(&q->t, b))
        die("queued transport");
    mc_binding_free(b);
    q->m = m;
    if (mc_channel_factory_new(&q->f, q->t) ||
        mc_channel_factory_create_channel(&q->ch, q->f, "net.mail://bench#" RCPT) ||
        mc_output_channel_send(q->ch, m))
        die("the first send");
    for (int i = 0; i < 1000 && attempts < 1; i++) {
        usleep(5000);
        if (mc_queue_list(q->state, false, max_attempts, &attempts))
            die("listing");
    }
    if (attempts < 1)
        die("the first delivery was not tried");
}

static void queued_close(queued_side *q)
{
    mc_output_channel_free(q->ch);
    mc_channel_factory_free(q->f);
    mc_transport_free(q->t);
}

static void queued_ops(void *ud, int k)
{
    queued_side *q = ud;
    for (int i = 0; i < k; i++)
        if (mc_output_channel_send(q->ch, q->m))
            die("send");
}

/* the framed mail the outbox holds (its first row) */
static char *framed_mail(const char *state, size_t *len)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    char *mail;
    if (sqlite3_open_v2(state, &db, SQLITE_OPEN_READONLY, NULL) ||
        sqlite3_prepare_v2(db, "SELECT mail FROM outbox ORDER BY id LIMIT 1", -1, &st, NULL) ||
        sqlite3_step(st) != SQLITE_ROW)
        sql_die(db, "reading the framed mail");
    *len = (size_t)sqlite3_column_bytes(st, 0);
    mail = malloc(*len);
    memcpy(mail, sqlite3_column_blob(st, 0), *len);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return mail;
}

/* the bare loop: the same bytes, inserted and committed one per transaction */
typedef struct {
    sqlite3 *db;
    sqlite3_stmt *ins;
    const char *mail;
    size_t len;
} bare_side;

static void bare_open(bare_side *b, const char *dir, int round, const char *mail, size_t len)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/bare-%d.db", dir, round);
    b->mail = mail;
    b->len = len;
    if (sqlite3_open(path, &b->db) ||
        sqlite3_exec(b->db,
                     "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                     "CREATE TABLE mail(id INTEGER PRIMARY KEY, mail BLOB NOT NULL)",
                     NULL, NULL, NULL) ||
        sqlite3_prepare_v2(b->db, "INSERT INTO mail(mail) VALUES(?1)", -1, &b->ins, NULL))
        sql_die(b->db, "the bare loop's database");
}

static void bare_ops(void *ud, int k)
{
    bare_side *b = ud;
    for (int i = 0; i < k; i++) {
        if (sqlite3_exec(b->db, "BEGIN IMMEDIATE", NULL, NULL, NULL))
            sql_die(b->db, "begin");
        sqlite3_bind_blob64(b->ins, 1, b->mail, b->len, SQLITE_STATIC);
        if (sqlite3_step(b->ins) != SQLITE_DONE)
            sql_die(b->db, "insert");
        sqlite3_reset(b->ins);
        if (sqlite3_exec(b->db, "COMMIT", NULL, NULL, NULL))
            sql_die(b->db, "commit");
    }
}

static void bare_close(bare_side *b)
{
    sqlite3_finalize(b->ins);
    sqlite3_close(b->db);
}

/* n operations of each side in slices of SLICE, which side goes first
 * alternating from slice to slice (the first slice's first: `flip`); the
 * time each side took goes to *ta, *tb */
#define SLICE 25

static void interleave(void (*a)(void *, int), void *ua, void (*b)(void *, int), void *ub, int flip,
                       double *ta, double *tb)
{
    *ta = *tb = 0;
    for (int done = 0, s = 0; done < n; done += SLICE, s++) {
        int k = n - done < SLICE ? n - done : SLICE;
        double t0, t1, t2;
        t0 = now();
        if ((s + flip) % 2 == 0)
            a(ua, k);
        else
            b(ub, k);
        t1 = now();
        if ((s + flip) % 2 == 0)
            b(ub, k);
        else
            a(ua, k);
        t2 = now();
        *((s + flip) % 2 == 0 ? ta : tb) += t1 - t0;
        *((s + flip) % 2 == 0 ? tb : ta) += t2 - t1;
    }
}

/* ---- (b) the dedup check ---- */

static uint64_t rng = 88172645463325252ULL;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* a wsa:MessageID as senders make them: urn:uuid:, random */
static void random_id(char out[64])
{
    uint64_t a = next_rand(), b = next_rand();
    snprintf(out, 64, "urn:uuid:%08x-%04x-4%03x-a%03x-%012llx", (unsigned)(a >> 32),
             (unsigned)(a >> 16) & 0xffff, (unsigned)a & 0xfff, (unsigned)(b >> 52) & 0xfff,
             (unsigned long long)(b & 0xffffffffffffULL));
}

typedef struct {
    long count;
    mc__store *s;
    char path[600];
    char (*known)[64]; /* a sample of the ids it holds */
    size_t nknown;
} dedup_side;

/* a store holding `count` received ids, all recorded within the window */
static void dedup_open(dedup_side *d, const char *dir, const char *name, long count)
{
    mc__store *s;
    sqlite3 *db;
    sqlite3_stmt *ins;
    int64_t now_ms = mc__wall_ms();
    double t0 = now();
    d->count = count;
    d->nknown = 1000;
    d->known = malloc(d->nknown * sizeof(*d->known));
    snprintf(d->path, sizeof(d->path), "%s/dedup-%s.db", dir, name);
    if (mc__store_open(&s, d->path, MC__STORE_OWNER, NULL))
        die("a dedup store");
    mc__store_free(s);
    if (sqlite3_open(d->path, &db) || sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) ||
        sqlite3_prepare_v2(db, "INSERT INTO received VALUES(?1, ?2, ?3)", -1, &ins, NULL))
        sql_die(db, "filling a dedup store");
    for (long i = 0; i < count; i++) {
        char id[64], mail[80];
        random_id(id);
        snprintf(mail, sizeof(mail), "1700000000.M%ldP4242Q%ld.bench.local,S=3172", i, i);
        if ((size_t)i < d->nknown)
            memcpy(d->known[i], id, sizeof(id));
        sqlite3_bind_text(ins, 1, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins, 2, now_ms - (count - i)); /* in order of arrival, all recent */
        sqlite3_bind_text(ins, 3, mail, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(ins) != SQLITE_DONE)
            sql_die(db, "filling a dedup store");
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL))
        sql_die(db, "filling a dedup store");
    sqlite3_close(db);
    if (mc__store_open(&d->s, d->path, MC__STORE_OWNER, NULL))
        die("a dedup store");
    {
        int64_t held;
        struct stat st;
        if (mc__store_received_count(d->s, &held) || stat(d->path, &st))
            die("counting");
        printf("dedup store with %lld ids: %.1f MiB, filled in %.1f s\n", (long long)held,
               (double)st.st_size / (1 << 20), now() - t0);
    }
}

/* k new ids: seen (0) then record (0), as a receiver does per message */
static void dedup_ops(void *ud, int k)
{
    dedup_side *d = ud;
    mc__state *st = mc__store_state(d->s);
    for (int i = 0; i < k; i++) {
        char id[64];
        random_id(id);
        if (st->ops->seen(st, id) != 0 || st->ops->record(st, id, "1700000001.M1P1.bench.local,S=3172") != 0)
            die("seen + record");
    }
}

/* lookups alone: k hits (ids it holds) and k misses */
static void lookup_ops(void *ud, int k)
{
    dedup_side *d = ud;
    mc__state *st = mc__store_state(d->s);
    for (int i = 0; i < k; i++) {
        char id[64];
        random_id(id);
        if (st->ops->seen(st, d->known[next_rand() % d->nknown]) != 1 || st->ops->seen(st, id) != 0)
            die("seen");
    }
}

/* ---- reporting ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int k)
{
    double *c = malloc((size_t)k * sizeof(*c)), m;
    memcpy(c, v, (size_t)k * sizeof(*c));
    qsort(c, (size_t)k, sizeof(*c), cmp_double);
    m = k % 2 ? c[k / 2] : (c[k / 2 - 1] + c[k / 2]) / 2;
    free(c);
    return m;
}

int main(int argc, char **argv)
{
    char tmpl[] = "/tmp/mailchan-bench-queue.XXXXXX", *dir, cmd[600];
    mc_message *m;
    dedup_side small, large;
    char *mail = NULL;
    size_t len = 0;
    double *mc_rate, *bare_rate, *ratio, *dd_small, *dd_big, *dd_ratio, *lk_small, *lk_big, *lk_ratio;
    if (argc > 1)
        n = atoi(argv[1]);
    if (argc > 2)
        rounds = atoi(argv[2]);
    if (argc > 3)
        big = atol(argv[3]);
    dir = argc > 4 ? argv[4] : mkdtemp(tmpl);
    if (n <= 0 || rounds <= 0 || big < 1000 || !dir)
        return 2;
    mc_rate = calloc((size_t)rounds, sizeof(double));
    bare_rate = calloc((size_t)rounds, sizeof(double));
    ratio = calloc((size_t)rounds, sizeof(double));
    dd_small = calloc((size_t)rounds, sizeof(double));
    dd_big = calloc((size_t)rounds, sizeof(double));
    dd_ratio = calloc((size_t)rounds, sizeof(double));
    lk_small = calloc((size_t)rounds, sizeof(double));
    lk_big = calloc((size_t)rounds, sizeof(double));
    lk_ratio = calloc((size_t)rounds, sizeof(double));
    mc_init();
    m = payload();
    printf("bench_queue: N %d, %d rounds, in %s\n", n, rounds, dir);
    dedup_open(&small, dir, "small", 1000);
    dedup_open(&large, dir, "big", big);

    for (int r = 0; r < rounds; r++) {
        queued_side q;
        bare_side b;
        double tq, tb, ts, tl, ls, ll;
        /* (a) */
        queued_open(&q, dir, r, m);
        if (!mail)
            mail = framed_mail(q.state, &len);
        bare_open(&b, dir, r, mail, len);
        interleave(queued_ops, &q, bare_ops, &b, r % 2, &tq, &tb);
        queued_close(&q);
        bare_close(&b);
        mc_rate[r] = n / tq;
        bare_rate[r] = n / tb;
        ratio[r] = tb / tq;
        /* (b) */
        interleave(dedup_ops, &small, dedup_ops, &large, r % 2, &ts, &tl);
        interleave(lookup_ops, &small, lookup_ops, &large, r % 2, &ls, &ll);
        dd_small[r] = ts / n * 1e6;
        dd_big[r] = tl / n * 1e6;
        dd_ratio[r] = tl / ts;
        lk_small[r] = ls / (2.0 * n) * 1e6;
        lk_big[r] = ll / (2.0 * n) * 1e6;
        lk_ratio[r] = ll / ls;
        printf("round %d: queued send %7.0f msg/s, bare SQLite %7.0f msg/s, ratio %.2f | "
               "seen+record %6.0f us (%ld ids) vs %6.0f us (1000), x%.2f | seen alone %5.1f us vs %5.1f us, "
               "x%.2f\n",
               r, mc_rate[r], bare_rate[r], ratio[r], dd_big[r], big, dd_small[r], dd_ratio[r], lk_big[r],
               lk_small[r], lk_ratio[r]);
    }
    printf("framed mail %zu bytes; medians over %d rounds:\n", len, rounds);
    printf("(a) queued send %.0f msg/s, bare SQLite insert+commit %.0f msg/s: ratio %.2f (goal >= 0.8)\n",
           median(mc_rate, rounds), median(bare_rate, rounds), median(ratio, rounds));
    printf("(b) seen+record per message: %.0f us with %ld ids, %.0f us with 1000: x%.2f (goal <= 2)\n",
           median(dd_big, rounds), big, median(dd_small, rounds), median(dd_ratio, rounds));
    printf("    seen alone: %.1f us with %ld ids, %.1f us with 1000: x%.2f\n", median(lk_big, rounds), big,
           median(lk_small, rounds), median(lk_ratio, rounds));
    mc__store_free(small.s);
    mc__store_free(large.s);
    free(small.known);
    free(large.known);
    free(mail);
    mc_message_free(m);
    free(mc_rate), free(bare_rate), free(ratio), free(dd_small), free(dd_big), free(dd_ratio);
    free(lk_small), free(lk_big), free(lk_ratio);
    if (argc <= 4) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd))
            return 1;
    }
    return 0;
}
