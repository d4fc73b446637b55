/* test_outbox.c - queued sending (channel/queue/outbox.c) over a real state
 * store, with a programmable sender behind it: order, per-destination
 * backoff, permanent refusals and the lifetime dead-lettering, the delivery
 * callback, partial acceptance, the byte bound, a restart that delivers what
 * an earlier outbox left, and a delivery in flight ended by free. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "helpers.h"
#include "queue/outbox.h"

#define MAX_SENT 64

typedef struct {
    mc__sender base;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    /* what it answers: fail_left attempts fail with fail_rc (for every
     * recipient, or only for fail_rcpt when set); block: wait for cancel */
    int fail_left, fail_rc;
    const char *fail_rcpt;
    bool block, blocked;
    /* what it was given, in order */
    char sent[MAX_SENT][64]; /* "rcpt|body-tag" of each accepted mail */
    int nsent, attempts;
} fake;

static int fake_send(mc__sender *s, const char *from, const char *const *to, size_t nto, const char *mail,
                     size_t len, const mc__cancel_token *cancel)
{
    fake *f = (fake *)s;
    int rc = 0;
    (void)from;
    (void)len;
    pthread_mutex_lock(&f->lock);
    f->attempts++;
    if (f->block) {
        f->blocked = true;
        pthread_cond_broadcast(&f->cv);
        while (!atomic_load(cancel)) {
            pthread_mutex_unlock(&f->lock);
            usleep(1000);
            pthread_mutex_lock(&f->lock);
        }
        rc = mc__error_set(MC_ECANCELED, "cancelled");
    } else if (f->fail_left && (!f->fail_rcpt || !strcmp(f->fail_rcpt, to[0]))) {
        f->fail_left--;
        rc = mc__error_set(f->fail_rc, "fake failure %d", f->fail_rc);
    } else if (f->nsent < MAX_SENT) {
        snprintf(f->sent[f->nsent++], 64, "%s|%.*s", nto ? to[0] : "", (int)(len < 20 ? len : 20), mail);
        if (f->fail_rc == MC_EPARTIAL)
            rc = mc__error_set(MC_EPARTIAL, "refused by the server: other@x.test");
    }
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static void fake_free(mc__sender *s) { (void)s; /* owned by the test */ }

static const mc__sender_ops fake_ops = {
    .version = MC__SENDER_VERSION, .name = "fake", .send = fake_send, .free = fake_free};

static void fake_init(fake *f)
{
    memset(f, 0, sizeof(*f));
    f->base.ops = &fake_ops;
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->cv, NULL);
}

/* waits (bounded, 20 s) until the fake accepted n mails */
static void wait_sent(fake *f, int n)
{
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&f->lock);
        int got = f->nsent;
        pthread_mutex_unlock(&f->lock);
        if (got >= n)
            return;
        usleep(10000);
    }
    fail_msg("the outbox handed over fewer than %d mails", n);
}

/* ---- reports of the delivery callback ---- */

typedef struct {
    pthread_mutex_t lock;
    int n;
    int64_t id[MAX_SENT];
    int result[MAX_SENT];
    char error[MAX_SENT][128];
} reports;

static void on_report(const mc_delivery_report *r, void *ud)
{
    reports *rp = ud;
    pthread_mutex_lock(&rp->lock);
    if (rp->n < MAX_SENT) {
        rp->id[rp->n] = r->id;
        rp->result[rp->n] = r->result;
        snprintf(rp->error[rp->n], 128, "%s", r->error);
        rp->n++;
    }
    pthread_mutex_unlock(&rp->lock);
}

static int reports_count(reports *rp)
{
    pthread_mutex_lock(&rp->lock);
    int n = rp->n;
    pthread_mutex_unlock(&rp->lock);
    return n;
}

static void wait_reports(reports *rp, int n)
{
    for (int i = 0; i < 2000 && reports_count(rp) < n; i++)
        usleep(10000);
    assert_true(reports_count(rp) >= n);
}

/* ---- fixture ---- */

typedef struct {
    char dir[256], path[300];
    mc__store *store;
    fake f;
    reports rp;
    mc__outbox_options o;
} fixture;

static int setup(void **state)
{
    fixture *x = calloc(1, sizeof(*x));
    snprintf(x->dir, sizeof(x->dir), "/tmp/mc-outbox-XXXXXX");
    assert_non_null(mkdtemp(x->dir));
    snprintf(x->path, sizeof(x->path), "%s/state.db", x->dir);
    assert_int_equal(mc__store_open(&x->store, x->path, MC__STORE_OWNER, NULL), 0);
    fake_init(&x->f);
    pthread_mutex_init(&x->rp.lock, NULL);
    x->o.retry_initial_ms = 20;
    x->o.retry_max_ms = 80;
    x->o.lifetime_ms = 3600000;
    x->o.max_bytes = 1 << 20;
    x->o.callback = on_report;
    x->o.user_data = &x->rp;
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fixture *x = *state;
    char cmd[400];
    mc__store_free(x->store);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", x->dir);
    if (system(cmd)) {
    }
    free(x);
    return 0;
}

static mc__sender *outbox(fixture *x)
{
    mc__sender *s;
    assert_int_equal(mc__outbox_new(&s, &x->f.base, x->store, &x->o), 0);
    return s;
}

static void queue(mc__sender *s, const char *to, const char *body)
{
    const char *rcpt[1] = {to};
    assert_int_equal(s->ops->send(s, "me@x.test", rcpt, 1, body, strlen(body), NULL), 0);
}

static size_t listed(fixture *x, bool dead);

static int count_row(const mc__outbox_row *r, void *ud)
{
    (void)r;
    (*(size_t *)ud)++;
    return 0;
}

static size_t listed(fixture *x, bool dead)
{
    size_t n = 0;
    assert_int_equal(mc__store_outbox_list(x->store, dead, count_row, &n), 0);
    return n;
}

/* ---- tests ---- */

/* Failed attempts are retried after the backoff, and the mails to one
 * destination leave oldest first: a later one never overtakes. */
static void test_retry_in_order(void **state)
{
    fixture *x = *state;
    mc__sender *s;
    x->f.fail_left = 3;
    x->f.fail_rc = MC_EIO;
    s = outbox(x);
    queue(s, "a@x.test", "m1");
    queue(s, "a@x.test", "m2");
    queue(s, "a@x.test", "m3");
    wait_sent(&x->f, 3);
    assert_string_equal(x->f.sent[0], "a@x.test|m1");
    assert_string_equal(x->f.sent[1], "a@x.test|m2");
    assert_string_equal(x->f.sent[2], "a@x.test|m3");
    assert_int_equal(x->f.attempts, 6); /* 3 failed + 3 accepted */
    wait_reports(&x->rp, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(x->rp.result[i], 0);
    s->ops->free(s);
    assert_int_equal(listed(x, false), 0);
    assert_int_equal(listed(x, true), 0);
}

/* One destination failing does not hold back another. */
static void test_destinations_independent(void **state)
{
    fixture *x = *state;
    mc__sender *s;
    x->f.fail_left = 1000000;
    x->f.fail_rc = MC_EIO;
    x->f.fail_rcpt = "down@x.test";
    x->o.retry_initial_ms = x->o.retry_max_ms = 3600000; /* down stays down here */
    s = outbox(x);
    queue(s, "down@x.test", "d1");
    queue(s, "up@x.test", "u1");
    queue(s, "down@x.test", "d2");
    queue(s, "up@x.test", "u2");
    wait_sent(&x->f, 2);
    assert_string_equal(x->f.sent[0], "up@x.test|u1");
    assert_string_equal(x->f.sent[1], "up@x.test|u2");
    s->ops->free(s);
    assert_int_equal(listed(x, false), 2); /* d1, d2 wait */
}

/* A refusal the server will repeat is dead-lettered at once, kept, listed
 * and reported with the server's error; the next mail goes on. */
static void test_permanent_refusal_dead_lettered(void **state)
{
    fixture *x = *state;
    mc__sender *s;
    x->f.fail_left = 1;
    x->f.fail_rc = MC_EPROTO;
    s = outbox(x);
    queue(s, "a@x.test", "refused");
    queue(s, "a@x.test", "next");
    wait_sent(&x->f, 1);
    wait_reports(&x->rp, 2);
    s->ops->free(s);
    assert_int_equal(x->rp.result[0], MC_EPROTO);
    assert_non_null(strstr(x->rp.error[0], "fake failure"));
    assert_int_equal(x->rp.result[1], 0);
    assert_string_equal(x->f.sent[0], "a@x.test|next");
    assert_int_equal(listed(x, true), 1);
    assert_int_equal(listed(x, false), 0);
}

/* A mail still not accepted after queue_lifetime is dead-lettered. */
static void test_lifetime_dead_lettered(void **state)
{
    fixture *x = *state;
    mc__sender *s;
    x->f.fail_left = 1000000;
    x->f.fail_rc = MC_ETIMEOUT;
    x->o.lifetime_ms = 300;
    s = outbox(x);
    queue(s, "a@x.test", "late");
    wait_reports(&x->rp, 1);
    s->ops->free(s);
    assert_int_equal(x->rp.result[0], MC_ETIMEOUT);
    assert_true(x->f.attempts >= 2); /* retried within its lifetime first */
    assert_int_equal(listed(x, true), 1);
    assert_int_equal(listed(x, false), 0);
}

/* Accepted for some recipients: it leaves the outbox, reported partial. */
static void test_partial_leaves(void **state)
{
    fixture *x = *state;
    mc__sender *s;
    x->f.fail_rc = MC_EPARTIAL;
    s = outbox(x);
    queue(s, "a@x.test", "partial");
    wait_reports(&x->rp, 1);
    s->ops->free(s);
    assert_int_equal(x->rp.result[0], MC_EPARTIAL);
    assert_int_equal(listed(x, false), 0);
    assert_int_equal(listed(x, true), 0);
}

/* The byte bound: a send beyond it is refused (MC_EFULL), nothing queued. */
static void test_full_outbox_refuses(void **state)
{
    fixture *x = *state;
    mc__sender *s;
    const char *rcpt[1] = {"a@x.test"};
    char big[700];
    memset(big, 'x', sizeof(big));
    x->f.block = true; /* nothing leaves meanwhile */
    x->o.max_bytes = 1000;
    s = outbox(x);
    assert_int_equal(s->ops->send(s, "me@x.test", rcpt, 1, big, sizeof(big), NULL), 0);
    assert_int_equal(s->ops->send(s, "me@x.test", rcpt, 1, big, sizeof(big), NULL), MC_EFULL);
    assert_non_null(strstr(mc_error_last(), "full"));
    assert_non_null(strstr(mc_error_last(), x->path));
    s->ops->free(s); /* ends the blocked delivery: the mail stays */
    assert_int_equal(listed(x, false), 1);
}

/* What one outbox left queued (its process ended, or died) the next one
 * over the same store delivers, in order. */
static void test_restart_delivers_leftovers(void **state)
{
    fixture *x = *state;
    mc__sender *s;
    x->f.fail_left = 1000000;
    x->f.fail_rc = MC_EIO;
    x->o.retry_initial_ms = x->o.retry_max_ms = 3600000;
    s = outbox(x);
    for (int i = 0; i < 5; i++) {
        char body[8];
        snprintf(body, sizeof(body), "r%d", i);
        queue(s, "a@x.test", body);
    }
    s->ops->free(s);
    assert_int_equal(listed(x, false), 5);
    /* a new process: the server works now, and the wait recorded before is over */
    x->f.fail_left = 0;
    {
        size_t n = 0;
        assert_int_equal(mc__store_outbox_requeue(x->store, 0, false, 0, &n), 0);
        assert_int_equal(n, 5);
    }
    s = outbox(x);
    wait_sent(&x->f, 5);
    for (int i = 0; i < 5; i++) {
        char want[32];
        snprintf(want, sizeof(want), "a@x.test|r%d", i);
        assert_string_equal(x->f.sent[i], want);
    }
    wait_reports(&x->rp, 5);
    s->ops->free(s);
    assert_int_equal(listed(x, false), 0);
}

/* free ends a delivery in flight promptly; the mail stays queued. */
static void test_free_cancels_in_flight(void **state)
{
    fixture *x = *state;
    mc__sender *s;
    x->f.block = true;
    s = outbox(x);
    queue(s, "a@x.test", "inflight");
    pthread_mutex_lock(&x->f.lock);
    while (!x->f.blocked)
        pthread_cond_wait(&x->f.cv, &x->f.lock);
    pthread_mutex_unlock(&x->f.lock);
    s->ops->free(s);
    assert_int_equal(listed(x, false), 1);
    assert_int_equal(reports_count(&x->rp), 0);
}

static int count_entry(const mc_queue_entry *e, void *ud)
{
    (void)e;
    (*(size_t *)ud)++;
    return 0;
}

/* The administration API never makes a store: an empty file stays empty
 * (a foreign file is refused, not given a schema); a real store is listed. */
static void test_admin_refuses_non_store(void **state)
{
    fixture *x = *state;
    char empty[320];
    struct stat st;
    size_t n = 0;
    FILE *f;
    snprintf(empty, sizeof(empty), "%s/empty.db", x->dir);
    assert_non_null(f = fopen(empty, "w"));
    fclose(f);
    assert_int_equal(mc_queue_list(empty, false, count_entry, &n), MC_EIO);
    assert_non_null(strstr(mc_error_last(), "not a mailchan state store"));
    assert_int_equal(mc_queue_purge(empty, 0, false, NULL), MC_EIO);
    assert_int_equal(stat(empty, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(mc_queue_list(x->path, false, count_entry, &n), 0);
    assert_int_equal(n, 0);
}

/* `mailchan queue retry` from outside (the admin API, not the owner's
 * kick) is picked up by the owner's delivery thread, which looks at the
 * outbox at least every 5 s, though its backoff would wait an hour. */
static void test_outside_retry_picked_up(void **state)
{
    fixture *x = *state;
    mc__sender *s;
    size_t n = 0;
    x->f.fail_left = 1;
    x->f.fail_rc = MC_EIO;
    x->o.retry_initial_ms = x->o.retry_max_ms = 3600000;
    s = outbox(x);
    queue(s, "a@x.test", "later");
    for (int i = 0; i < 2000 && x->f.attempts < 1; i++)
        usleep(10000);
    assert_int_equal(mc_queue_retry(x->path, 0, &n), 0);
    assert_int_equal(n, 1);
    wait_sent(&x->f, 1);
    assert_string_equal(x->f.sent[0], "a@x.test|later");
    s->ops->free(s);
}

/* An id is never given twice, also after the mail left the outbox and the
 * store was opened again (ids are not AUTOINCREMENT's). */
static void test_ids_never_reused(void **state)
{
    fixture *x = *state;
    const char *rcpt[1] = {"a@x.test"};
    int64_t a = 0, b = 0, c = 0;
    assert_int_equal(mc__store_outbox_add(x->store, "me@x.test", rcpt, 1, "m", 1, 0, &a, NULL), 0);
    assert_int_equal(mc__store_outbox_add(x->store, "me@x.test", rcpt, 1, "m", 1, 0, &b, NULL), 0);
    assert_true(b > a);
    assert_int_equal(mc__store_outbox_done(x->store, b), 0);
    assert_int_equal(mc__store_outbox_done(x->store, a), 0);
    mc__store_free(x->store);
    assert_int_equal(mc__store_open(&x->store, x->path, MC__STORE_OWNER, NULL), 0);
    assert_int_equal(mc__store_outbox_add(x->store, "me@x.test", rcpt, 1, "m", 1, 0, &c, NULL), 0);
    assert_true(c > b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retry_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destinations_independent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permanent_refusal_dead_lettered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifetime_dead_lettered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_leaves, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_outbox_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_delivers_leftovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_cancels_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ids_never_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outside_retry_picked_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_admin_refuses_non_store, setup, teardown),
    };
    mc_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
