/* test_fake_backend.c - the core's query loop and caches driven by a
 * programmable backend, for the paths no real server reaches on demand:
 * backoff after failed listings, a wait the server asked for, the retried
 * flush on close, a lost claim race, deletion within delete_delay, the
 * moves of after_receive = move and dead_letter_folder; a
 * transport with a receiving half only; and a sender that holds a send in
 * flight for as long as a test wants (busy, cancel). */
#include <semaphore.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "helpers.h"
#include "transport_int.h"

#define MAX_MAIL 8
#define MAX_CALLS 64

typedef struct {
    mc__receiver base;
    pthread_mutex_t lock;
    struct {
        char id[16];
        char *data;
        size_t len;
        bool present;
    } mail[MAX_MAIL];
    int nmail;
    int list_fail, list_retry_after; /* the next list_fail listings fail, asking for this wait */
    int remove_fail;                 /* the next remove_fail removals fail */
    int claim_lose;                  /* the next claim_lose claims are lost to "another receiver" */
    int64_t list_at[MAX_CALLS];
    int nlist;
    int64_t remove_at[MAX_CALLS];
    int nremove;
    /* incremental mode: after one full listing, only mail added since (the
     * cursor) and the ids that vanished */
    bool incremental, listed_full;
    int cursor;
    char gone[MAX_MAIL][16];
    int ngone;
    int move_fail;                 /* the next move_fail moves fail */
    int nmove;                     /* move calls */
    size_t moved_count[MAX_CALLS]; /* ids in each move call */
    char moved_to[MAX_MAIL][32];   /* the folder each mail was moved to */
    int fetches[MAX_MAIL];         /* fetches of each mail */
    int listed_items;              /* items returned by all listings */
} fake;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define F(b) ((fake *)(b))

static int f_open(mc__receiver *b)
{
    (void)b;
    return 0;
}

static int f_list(mc__receiver *b, mc__listing *out)
{
    fake *f = F(b);
    int rc = 0;
    size_t n = 0;
    pthread_mutex_lock(&f->lock);
    if (f->nlist < MAX_CALLS)
        f->list_at[f->nlist++] = mono_ms();
    if (f->list_fail) {
        f->list_fail--;
        if (f->list_retry_after)
            mc__receiver_retry_after(b, f->list_retry_after);
        rc = mc__error_set(MC_EIO, "the fake server is unreachable");
        goto done;
    }
    out->items = calloc(MAX_MAIL, sizeof(*out->items));
    out->full = !f->incremental || !f->listed_full;
    for (int i = out->full ? 0 : f->cursor; i < f->nmail; i++) {
        if (!f->mail[i].present)
            continue;
        out->items[n].id = strdup(f->mail[i].id);
        out->items[n].size = f->mail[i].len;
        out->items[n].arrived_ms = (int64_t)time(NULL) * 1000;
        n++;
    }
    out->count = n;
    f->listed_items += (int)n;
    if (!out->full && f->ngone) {
        out->gone = calloc((size_t)f->ngone, sizeof(char *));
        for (int i = 0; i < f->ngone; i++)
            out->gone[i] = strdup(f->gone[i]);
        out->ngone = (size_t)f->ngone;
    }
    f->ngone = 0;
    f->cursor = f->nmail;
    f->listed_full = true;
done:
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static int f_fetch(mc__receiver *b, const char *id, size_t max, char **data, size_t *len, bool *truncated)
{
    fake *f = F(b);
    int rc = MC_ENOTFOUND;
    pthread_mutex_lock(&f->lock);
    for (int i = 0; i < f->nmail; i++) {
        if (f->mail[i].present && !strcmp(f->mail[i].id, id)) {
            *len = f->mail[i].len < max ? f->mail[i].len : max;
            *truncated = f->mail[i].len > max;
            *data = malloc(*len + 1);
            memcpy(*data, f->mail[i].data, *len);
            f->fetches[i]++;
            rc = 0;
        }
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static int f_claim(mc__receiver *b, const char *id)
{
    fake *f = F(b);
    int rc = 0;
    (void)id;
    pthread_mutex_lock(&f->lock);
    if (f->claim_lose) {
        f->claim_lose--;
        rc = MC_ENOTFOUND;
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static int f_remove(mc__receiver *b, const char *const *ids, size_t count)
{
    fake *f = F(b);
    int rc = 0;
    pthread_mutex_lock(&f->lock);
    if (f->nremove < MAX_CALLS)
        f->remove_at[f->nremove++] = mono_ms();
    if (f->remove_fail) {
        f->remove_fail--;
        rc = MC_EIO;
    } else {
        for (size_t k = 0; k < count; k++)
            for (int i = 0; i < f->nmail; i++)
                if (!strcmp(f->mail[i].id, ids[k]))
                    f->mail[i].present = false;
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static int f_move(mc__receiver *b, const char *const *ids, size_t count, const char *folder)
{
    fake *f = F(b);
    int rc = 0;
    pthread_mutex_lock(&f->lock);
    if (f->nmove < MAX_CALLS)
        f->moved_count[f->nmove] = count;
    f->nmove++;
    if (f->move_fail) {
        f->move_fail--;
        rc = mc__error_set(MC_EIO, "the fake server cannot move now");
    } else {
        for (size_t k = 0; k < count; k++)
            for (int i = 0; i < f->nmail; i++)
                if (!strcmp(f->mail[i].id, ids[k]) && f->mail[i].present) {
                    f->mail[i].present = false;
                    snprintf(f->moved_to[i], sizeof(f->moved_to[i]), "%s", folder);
                }
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static int f_trash(mc__receiver *b, const char *id, const char **folder)
{
    *folder = "Fake Trash";
    return f_remove(b, &id, 1);
}

static int f_wait(mc__receiver *b, int timeout_ms, int wake_fd)
{
    struct pollfd p = {wake_fd, POLLIN, 0};
    (void)b;
    poll(&p, 1, timeout_ms);
    return 0;
}

static void f_close(mc__receiver *b) { (void)b; }

static void f_free(mc__receiver *b)
{
    fake *f = F(b);
    for (int i = 0; i < f->nmail; i++)
        free(f->mail[i].data);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

static const mc__receiver_ops fake_ops = {
    .version = MC__RECEIVER_VERSION,
    .name = "fake",
    .open = f_open,
    .list = f_list,
    .fetch = f_fetch,
    .claim = f_claim,
    .remove = f_remove,
    .move_to_trash = f_trash,
    .wait = f_wait,
    .close = f_close,
    .free = f_free,
    .set_deadline = NULL,
    .move = f_move,
};

/* a receiver of the same interface version that cannot move mail */
static const mc__receiver_ops fake_ops_nomove = {
    .version = MC__RECEIVER_VERSION,
    .name = "fake without move",
    .open = f_open,
    .list = f_list,
    .fetch = f_fetch,
    .claim = NULL,
    .remove = f_remove,
    .move_to_trash = f_trash,
    .wait = f_wait,
    .close = f_close,
    .free = f_free,
    .move = NULL,
};

static void add_raw(fake *f, char *data, size_t len)
{
    int i;
    pthread_mutex_lock(&f->lock);
    i = f->nmail++;
    assert_true(i < MAX_MAIL);
    f->mail[i].data = data;
    f->mail[i].len = len;
    snprintf(f->mail[i].id, sizeof(f->mail[i].id), "m%d", i);
    f->mail[i].present = true;
    pthread_mutex_unlock(&f->lock);
}

/* a stamped mail for channel c, framed by the library */
static void add_mail(fake *f, const char *text)
{
    mc_mail_frame_options o = MC_MAIL_FRAME_OPTIONS_INIT;
    const char *to[] = {"bob@example.test"};
    mc_message *m;
    char *data;
    size_t len;
    o.from = "alice@example.test";
    o.to = to;
    o.to_count = 1;
    o.channel = "c";
    assert_int_equal(mc_message_new_text(&m, "urn:test", text), 0);
    assert_int_equal(mc_message_set_to(m, "net.mail://c#bob@example.test"), 0);
    assert_int_equal(mc_mail_frame(&data, &len, NULL, m, &o), 0);
    mc_message_free(m);
    add_raw(f, data, len);
}

/* stamped for channel c, but its envelope is not XML: invalid */
static void add_invalid(fake *f)
{
    const char *text = "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: [net.mail] c\r\n"
                       "Content-Type: application/soap+xml; charset=utf-8\r\n\r\nnot an envelope\r\n";
    add_raw(f, strdup(text), strlen(text));
}

/* another client deletes mail i */
static void vanish(fake *f, int i)
{
    pthread_mutex_lock(&f->lock);
    f->mail[i].present = false;
    snprintf(f->gone[f->ngone++], sizeof(f->gone[0]), "%s", f->mail[i].id);
    pthread_mutex_unlock(&f->lock);
}

static int locked_int(fake *f, const int *v)
{
    int x;
    pthread_mutex_lock(&f->lock);
    x = *v;
    pthread_mutex_unlock(&f->lock);
    return x;
}

/* polls until *v >= want or 10 s pass; returns the last value */
static int wait_for(fake *f, const int *v, int want)
{
    int x = 0;
    for (int i = 0; i < 1000 && (x = locked_int(f, v)) < want; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return x;
}

/* A sender whose send waits at a gate the test opens, then honours the
 * cancel token as a real one does until it commits. */
typedef struct {
    mc__sender base;
    sem_t entered, open;
    int accepted;
} gated_sender;

static int gs_send(mc__sender *s, const char *from, const char *const *to, size_t nto, const char *mail,
                   size_t len, const mc__cancel_token *cancel)
{
    gated_sender *g = (gated_sender *)s;
    (void)from, (void)to, (void)nto, (void)mail, (void)len;
    sem_post(&g->entered);
    sem_wait(&g->open);
    if (cancel && atomic_load(cancel))
        return mc__error_set(MC_ECANCELED, "sending was cancelled");
    g->accepted++;
    return 0;
}

static void gs_free(mc__sender *s)
{
    gated_sender *g = (gated_sender *)s;
    sem_destroy(&g->entered);
    sem_destroy(&g->open);
    free(g);
}

static const mc__sender_ops gated_ops = {
    .version = MC__SENDER_VERSION,
    .name = "gated",
    .send = gs_send,
    .free = gs_free,
};

/* what the next fake transport does after receive (reset once used) */
static mc__after_receive next_after = MC__AFTER_DELETE;
static const char *next_archive, *next_dead_letter;

static mc_transport *fake_transport_with(fake **out, mc__sender *sender, int query_interval_ms,
                                         int delete_delay_ms)
{
    fake *f = calloc(1, sizeof(*f));
    mc__transport_config cfg = {
        .max_received_message_size = 65536,
        .container = MC_CONTAINER_DEFAULT,
        .minimum_attachment_size = 2048,
        .server_query_interval_ms = query_interval_ms,
        .accept_existing_messages = true,
        .receive_retry_count = 3,
        .cache_count = 64,
        .cache_bytes = 1 << 20,
        .soap_version = MC_SOAP12,
        .flush_retries = 3,
        .delete_delay_ms = delete_delay_ms,
        .close_timeout_ms = 5000,
        .address = strdup("bob@example.test"),
        .after_receive = next_after,
        .archive_folder = next_archive ? strdup(next_archive) : NULL,
        .dead_letter_folder = next_dead_letter ? strdup(next_dead_letter) : NULL,
    };
    mc_transport *t;
    next_after = MC__AFTER_DELETE;
    next_archive = next_dead_letter = NULL;
    f->base.ops = &fake_ops;
    pthread_mutex_init(&f->lock, NULL);
    assert_int_equal(mc__transport_new(&t, sender, &f->base, &cfg), 0);
    *out = f;
    return t;
}

static mc_transport *fake_transport(fake **out, int query_interval_ms, int delete_delay_ms)
{
    return fake_transport_with(out, NULL, query_interval_ms, delete_delay_ms);
}

static void free_all(mc_transport *t, mc_channel_listener *l, mc_input_channel *in)
{
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_transport_free(t);
}

/* a failing listing is retried after 0.5 s, then 1 s, then 2 s */
static void test_backoff_after_failed_list(void **state)
{
    fake *f;
    mc_transport *t = fake_transport(&f, 60000, 1000);
    mc_channel_listener *l;
    mc_input_channel *in;
    char *text;
    (void)state;
    add_mail(f, "after three failures");
    f->list_fail = 3;
    open_in(t, "net.mail://c#", &l, &in);
    text = receive_text(in, 10000);
    assert_string_equal(text, "after three failures");
    free(text);
    pthread_mutex_lock(&f->lock);
    assert_true(f->nlist >= 4);
    printf("gaps between listings: %lld, %lld, %lld ms\n", (long long)(f->list_at[1] - f->list_at[0]),
           (long long)(f->list_at[2] - f->list_at[1]), (long long)(f->list_at[3] - f->list_at[2]));
    assert_true(f->list_at[1] - f->list_at[0] >= 450);
    assert_true(f->list_at[2] - f->list_at[1] >= 950);
    assert_true(f->list_at[3] - f->list_at[2] >= 1900);
    pthread_mutex_unlock(&f->lock);
    free_all(t, l, in);
}

/* the server asked for 1.5 s: the loop waits that, not its own 0.5 s */
static void test_server_requested_wait(void **state)
{
    fake *f;
    mc_transport *t = fake_transport(&f, 60000, 1000);
    mc_channel_listener *l;
    mc_input_channel *in;
    char *text;
    (void)state;
    add_mail(f, "after the wait");
    f->list_fail = 1;
    f->list_retry_after = 1500;
    open_in(t, "net.mail://c#", &l, &in);
    text = receive_text(in, 10000);
    free(text);
    pthread_mutex_lock(&f->lock);
    printf("gap after the server's request: %lld ms\n", (long long)(f->list_at[1] - f->list_at[0]));
    assert_true(f->list_at[1] - f->list_at[0] >= 1450);
    pthread_mutex_unlock(&f->lock);
    free_all(t, l, in);
}

/* closing the last channel retries a failing deletion until it works */
static void test_retried_flush_on_close(void **state)
{
    fake *f;
    mc_transport *t = fake_transport(&f, 60000, 60000); /* only the close flushes */
    mc_channel_listener *l;
    mc_input_channel *in;
    char *text;
    (void)state;
    add_mail(f, "received");
    open_in(t, "net.mail://c#", &l, &in);
    text = receive_text(in, 10000);
    free(text);
    pthread_mutex_lock(&f->lock);
    f->remove_fail = 2;
    f->nremove = 0;
    pthread_mutex_unlock(&f->lock);
    assert_int_equal(mc_input_channel_close(in), 0);
    pthread_mutex_lock(&f->lock);
    assert_int_equal(f->nremove, 3);
    assert_false(f->mail[0].present);
    pthread_mutex_unlock(&f->lock);
    free_all(t, l, in);
}

/* a claim lost to another receiver: that mail is not delivered here */
static void test_lost_claim_race(void **state)
{
    fake *f;
    mc_transport *t = fake_transport(&f, 60000, 1000);
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m = NULL;
    char *text;
    (void)state;
    add_mail(f, "taken by the other");
    add_mail(f, "ours");
    f->claim_lose = 1;
    open_in(t, "net.mail://c#", &l, &in);
    text = receive_text(in, 10000);
    assert_string_equal(text, "ours");
    free(text);
    assert_int_equal(mc_input_channel_receive(&m, in, 500), MC_ETIMEOUT);
    free_all(t, l, in);
}

/* received mail is deleted within delete_delay, not at the next query */
static void test_delete_delay(void **state)
{
    fake *f;
    mc_transport *t = fake_transport(&f, 60000, 300);
    mc_channel_listener *l;
    mc_input_channel *in;
    int64_t received, waited = 0;
    char *text;
    (void)state;
    add_mail(f, "one");
    open_in(t, "net.mail://c#", &l, &in);
    text = receive_text(in, 10000);
    received = mono_ms();
    free(text);
    for (bool gone = false; !gone && waited < 5000; waited += 20) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&f->lock);
        gone = !f->mail[0].present;
        pthread_mutex_unlock(&f->lock);
    }
    pthread_mutex_lock(&f->lock);
    assert_false(f->mail[0].present);
    printf("deleted %lld ms after the receive (delete_delay 300 ms)\n",
           (long long)(f->remove_at[0] - received));
    assert_true(f->remove_at[0] - received <= 300 + 1500);
    pthread_mutex_unlock(&f->lock);
    free_all(t, l, in);
}

/* a failing background loop shows in the stats while receive only times
 * out: failures in a row, the last error and its text; a success clears them */
static void test_stats_show_failures(void **state)
{
    fake *f;
    mc_transport *t = fake_transport(&f, 60000, 1000);
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT, bad = {0};
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m = NULL;
    char *text;
    (void)state;
    add_mail(f, "after the failures");
    f->list_fail = 2;
    open_in(t, "net.mail://c#", &l, &in);
    assert_int_equal(mc_input_channel_receive(&m, in, 300), MC_ETIMEOUT);
    assert_int_equal(mc_transport_statistics(&st, t), 0);
    assert_true(st.consecutive_failures >= 1);
    assert_int_equal(st.last_error, MC_EIO);
    assert_string_equal(st.last_error_text, "the fake server is unreachable");
    text = receive_text(in, 10000);
    free(text);
    assert_int_equal(mc_transport_statistics(&st, t), 0);
    assert_int_equal(st.consecutive_failures, 0);
    assert_int_equal(st.last_error, 0);
    assert_int_equal(mc_transport_statistics(&bad, t), MC_EINVAL); /* version 0: not initialized */
    free_all(t, l, in);
}

/* a transport made of a receiving half only: sending is refused, clearly */
static void test_receive_only(void **state)
{
    fake *f;
    mc_transport *t = fake_transport(&f, 60000, 1000);
    mc_channel_factory *cf;
    mc_output_channel *out;
    mc_message *m;
    (void)state;
    assert_int_equal(mc_channel_factory_new(&cf, t), 0);
    assert_int_equal(mc_channel_factory_create_channel(&out, cf, "net.mail://c#bob@example.test"), 0);
    assert_int_equal(mc_message_new_text(&m, "urn:test", "x"), 0);
    assert_int_equal(mc_output_channel_send(out, m), MC_EINVAL);
    assert_non_null(strstr(mc_error_last(), "only receives"));
    mc_message_free(m);
    mc_output_channel_free(out);
    mc_channel_factory_free(cf);
    mc_transport_free(t);
}

/* one send in flight: a second is MC_EBUSY; the callback fires once; a
 * cancel reaches the sender, which does not send; a closed channel refuses */
static void test_send_async_busy_cancel(void **state)
{
    gated_sender *g = calloc(1, sizeof(*g));
    fake *f;
    mc_transport *t;
    mc_channel_factory *cf;
    mc_output_channel *ch;
    mc_message *m;
    completion c = {0};
    (void)state;
    g->base.ops = &gated_ops;
    sem_init(&g->entered, 0, 0);
    sem_init(&g->open, 0, 0);
    sem_init(&c.done, 0, 0);
    t = fake_transport_with(&f, &g->base, 60000, 1000);
    assert_int_equal(mc_channel_factory_new(&cf, t), 0);
    assert_int_equal(mc_channel_factory_create_channel(&ch, cf, "net.mail://c#bob@example.test"), 0);
    assert_int_equal(mc_message_new_text(&m, "urn:test", "async"), 0);
    assert_int_equal(mc_output_channel_send_async_cancel(ch), MC_ENOTFOUND);
    /* success: callback once */
    assert_int_equal(mc_output_channel_send_async(ch, m, on_sent, &c), 0);
    sem_wait(&g->entered);
    assert_int_equal(mc_output_channel_send(ch, m), MC_EBUSY);
    assert_int_equal(mc_output_channel_send_async(ch, m, on_sent, &c), MC_EBUSY);
    sem_post(&g->open);
    sem_wait(&c.done);
    assert_int_equal(c.status, 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(g->accepted, 1);
    /* cancelled before the sender commits: not sent, MC_ECANCELED */
    assert_int_equal(mc_output_channel_send_async(ch, m, on_sent, &c), 0);
    sem_wait(&g->entered);
    assert_int_equal(mc_output_channel_send_async_cancel(ch), 0);
    sem_post(&g->open);
    sem_wait(&c.done);
    assert_int_equal(c.status, MC_ECANCELED);
    assert_int_equal(c.calls, 2);
    assert_int_equal(g->accepted, 1);
    /* the cancel applied to that send only */
    sem_post(&g->open);
    assert_int_equal(mc_output_channel_send(ch, m), 0);
    assert_int_equal(g->accepted, 2);
    sem_wait(&g->entered);
    assert_int_equal(mc_output_channel_close(ch), 0);
    assert_int_equal(mc_output_channel_close(ch), MC_ECLOSED);
    assert_int_equal(mc_output_channel_send(ch, m), MC_ECLOSED);
    assert_int_equal(mc_output_channel_send_async(ch, m, on_sent, &c), MC_ECLOSED);
    assert_int_equal(c.calls, 2); /* a failed call never calls back */
    sem_destroy(&c.done);
    mc_message_free(m);
    mc_output_channel_free(ch);
    mc_channel_factory_free(cf);
    mc_transport_free(t);
}

/* an incremental listing names each mail once, and new mail is delivered */
static void test_incremental_listing(void **state)
{
    fake *f;
    mc_transport *t = fake_transport(&f, 100, 1000);
    mc_channel_listener *l;
    mc_input_channel *in;
    char *text;
    int lists;
    (void)state;
    f->incremental = true;
    add_mail(f, "first");
    open_in(t, "net.mail://c#", &l, &in);
    text = receive_text(in, 10000);
    assert_string_equal(text, "first");
    free(text);
    add_mail(f, "second");
    text = receive_text(in, 10000);
    assert_string_equal(text, "second");
    free(text);
    lists = locked_int(f, &f->nlist);
    wait_for(f, &f->nlist, lists + 3);
    assert_int_equal(locked_int(f, &f->listed_items), 2);
    assert_int_equal(locked_int(f, &f->fetches[0]), 1);
    assert_int_equal(locked_int(f, &f->fetches[1]), 1);
    free_all(t, l, in);
}

/* invalid mail is read again up to the retry count and then deleted, though
 * no incremental listing names it again */
static void test_incremental_retries_invalid(void **state)
{
    fake *f;
    mc_transport *t = fake_transport(&f, 100, 1000);
    mc_channel_listener *l;
    mc_input_channel *in;
    (void)state;
    f->incremental = true;
    add_invalid(f);
    open_in(t, "net.mail://c#", &l, &in);
    assert_int_equal(wait_for(f, &f->nremove, 1), 1);
    assert_int_equal(locked_int(f, &f->fetches[0]), 3);
    assert_false(f->mail[0].present);
    free_all(t, l, in);
}

/* mail another client deleted is dropped from the cache, never delivered */
static void test_incremental_gone(void **state)
{
    fake *f;
    mc_transport *t = fake_transport(&f, 100, 1000);
    mc_channel_listener *lx, *lc;
    mc_input_channel *inx, *inc;
    mc_message *m = NULL;
    int lists;
    (void)state;
    f->incremental = true;
    add_mail(f, "deleted by someone else");
    open_in(t, "net.mail://x#", &lx, &inx); /* the mail waits in the cache for channel c */
    assert_true(wait_for(f, &f->fetches[0], 1) == 1);
    vanish(f, 0);
    lists = locked_int(f, &f->nlist);
    wait_for(f, &f->nlist, lists + 2);
    open_in(t, "net.mail://c#", &lc, &inc);
    assert_int_equal(mc_input_channel_receive(&m, inc, 500), MC_ETIMEOUT);
    assert_null(m);
    mc_input_channel_free(inc);
    mc_channel_listener_free(lc);
    free_all(t, lx, inx);
}

/* after_receive = move: what was received goes to archive_folder in one
 * batch (here at the close), retried like a deletion; nothing is deleted */
static void test_after_receive_move_batch(void **state)
{
    fake *f;
    mc_transport *t;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    char *a, *b;
    (void)state;
    next_after = MC__AFTER_MOVE;
    next_archive = "Archive";
    t = fake_transport(&f, 60000, 60000); /* only the close flushes */
    add_mail(f, "one");
    add_mail(f, "two");
    open_in(t, "net.mail://c#", &l, &in);
    a = receive_text(in, 10000);
    b = receive_text(in, 10000);
    assert_true((!strcmp(a, "one") && !strcmp(b, "two")) || (!strcmp(a, "two") && !strcmp(b, "one")));
    free(a);
    free(b);
    pthread_mutex_lock(&f->lock);
    assert_int_equal(f->nmove, 0);
    f->move_fail = 1;
    pthread_mutex_unlock(&f->lock);
    assert_int_equal(mc_input_channel_close(in), 0);
    pthread_mutex_lock(&f->lock);
    assert_int_equal(f->nmove, 2); /* one failure, one retry */
    assert_int_equal(f->moved_count[1], 2);
    assert_int_equal(f->nremove, 0);
    assert_false(f->mail[0].present);
    assert_false(f->mail[1].present);
    assert_string_equal(f->moved_to[0], "Archive");
    assert_string_equal(f->moved_to[1], "Archive");
    pthread_mutex_unlock(&f->lock);
    assert_int_equal(mc_transport_statistics(&st, t), 0);
    assert_int_equal(st.delivered, 2);
    assert_int_equal(st.deleted, 0);
    free_all(t, l, in);
}

/* with after_receive = move, received mail leaves within delete_delay too */
static void test_after_receive_move_within_delay(void **state)
{
    fake *f;
    mc_transport *t;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m = NULL;
    char *text;
    (void)state;
    next_after = MC__AFTER_MOVE;
    next_archive = "Archive";
    t = fake_transport(&f, 60000, 200);
    add_mail(f, "archived");
    open_in(t, "net.mail://c#", &l, &in);
    text = receive_text(in, 10000);
    assert_string_equal(text, "archived");
    free(text);
    assert_int_equal(wait_for(f, &f->nmove, 1), 1);
    pthread_mutex_lock(&f->lock);
    assert_false(f->mail[0].present);
    assert_string_equal(f->moved_to[0], "Archive");
    assert_int_equal(f->nremove, 0);
    pthread_mutex_unlock(&f->lock);
    assert_int_equal(mc_input_channel_receive(&m, in, 300), MC_ETIMEOUT); /* delivered once */
    free_all(t, l, in);
}

/* dead_letter_folder: invalid mail is moved there after the retry count,
 * never deleted; a failed move leaves it to be tried again */
static void test_dead_letter_invalid(void **state)
{
    fake *f;
    mc_transport *t;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    (void)state;
    next_dead_letter = "Dead Letters";
    t = fake_transport(&f, 100, 1000);
    f->move_fail = 1;
    add_invalid(f);
    open_in(t, "net.mail://c#", &l, &in);
    assert_int_equal(wait_for(f, &f->nmove, 2), 2);
    pthread_mutex_lock(&f->lock);
    assert_int_equal(f->fetches[0], 4); /* three attempts, then the retried move */
    assert_false(f->mail[0].present);
    assert_string_equal(f->moved_to[0], "Dead Letters");
    assert_int_equal(f->nremove, 0);
    pthread_mutex_unlock(&f->lock);
    assert_int_equal(mc_transport_statistics(&st, t), 0);
    assert_int_equal(st.invalid, 1);
    free_all(t, l, in);
}

/* without dead_letter_folder invalid mail is deleted, as before */
static void test_no_dead_letter_deletes(void **state)
{
    fake *f;
    mc_transport *t = fake_transport(&f, 100, 1000);
    mc_channel_listener *l;
    mc_input_channel *in;
    (void)state;
    add_invalid(f);
    open_in(t, "net.mail://c#", &l, &in);
    assert_int_equal(wait_for(f, &f->nremove, 1), 1);
    assert_int_equal(locked_int(f, &f->nmove), 0);
    free_all(t, l, in);
}

/* a receiver without move cannot be asked to move: refused at creation */
static void test_move_needs_receiver_support(void **state)
{
    fake *f = calloc(1, sizeof(*f));
    mc__transport_config cfg = {
        .receive_retry_count = 3,
        .cache_count = 8,
        .cache_bytes = 1 << 20,
        .after_receive = MC__AFTER_MOVE,
        .archive_folder = strdup("Archive"),
    };
    mc_transport *t = NULL;
    (void)state;
    f->base.ops = &fake_ops_nomove;
    pthread_mutex_init(&f->lock, NULL);
    assert_int_equal(mc__transport_new(&t, NULL, &f->base, &cfg), MC_EINVAL);
    assert_null(t);
    assert_non_null(strstr(mc_error_last(), "cannot move"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_after_failed_list),
        cmocka_unit_test(test_server_requested_wait),
        cmocka_unit_test(test_retried_flush_on_close),
        cmocka_unit_test(test_lost_claim_race),
        cmocka_unit_test(test_delete_delay),
        cmocka_unit_test(test_receive_only),
        cmocka_unit_test(test_stats_show_failures),
        cmocka_unit_test(test_send_async_busy_cancel),
        cmocka_unit_test(test_incremental_listing),
        cmocka_unit_test(test_incremental_retries_invalid),
        cmocka_unit_test(test_incremental_gone),
        cmocka_unit_test(test_after_receive_move_batch),
        cmocka_unit_test(test_after_receive_move_within_delay),
        cmocka_unit_test(test_dead_letter_invalid),
        cmocka_unit_test(test_no_dead_letter_deletes),
        cmocka_unit_test(test_move_needs_receiver_support),
    };
    mc_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
