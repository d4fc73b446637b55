/* outbox.c - queued sending over the state store (outbox.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "internal.h"
#include "outbox.h"

typedef struct {
    mc__sender base;
    mc__sender *inner;
    mc__store *store;
    mc__outbox_options o;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    bool stop, kicked, running;
    pthread_t thread;
    mc__cancel_token cancel; /* ends a delivery in flight when the outbox is freed */
} outbox;

static void kick(outbox *b)
{
    pthread_mutex_lock(&b->lock);
    b->kicked = true;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->lock);
}

static int outbox_send(mc__sender *s, const char *from, const char *const *to, size_t nto, const char *mail,
                       size_t len, const mc__cancel_token *cancel)
{
    outbox *b = (outbox *)s;
    int64_t id, due;
    int rc;
    if (cancel && atomic_load(cancel))
        return mc__error_set(MC_ECANCELED, "the send was cancelled");
    if ((rc = mc__store_outbox_add(b->store, from, to, nto, mail, len, b->o.max_bytes, &id, &due)))
        return rc;
    mc__log(MC_LOG_DEBUG, "queued mail %lld (%zu bytes) in %s", (long long)id, len, mc__store_path(b->store));
    /* mail that waits behind its destination's backoff needs no look now */
    if (due <= mc__wall_ms())
        kick(b);
    return 0;
}

/* The server's answer cannot change by trying again: dead-letter at once. */
static bool permanent(int rc)
{
    return rc == MC_EPROTO || rc == MC_ETOOBIG || rc == MC_EINVAL || rc == MC_ESECURITY;
}

/* attempts: the delivery attempts made, this one included */
static void report(outbox *b, const mc__outbox_row *r, int result, const char *error, unsigned attempts)
{
    mc_delivery_report d;
    char *to;
    if (!b->o.callback)
        return;
    to = mc__outbox_row_recipients(r);
    memset(&d, 0, sizeof(d));
    d.id = r->id;
    d.to = to ? to : "";
    d.result = result;
    d.error = error ? error : "";
    d.attempts = attempts;
    d.queued_ms = r->created_ms;
    b->o.callback(&d, b->o.user_data);
    free(to);
}

static int64_t backoff(const outbox *b, unsigned attempts)
{
    int64_t w = b->o.retry_initial_ms;
    while (attempts-- > 0 && w < b->o.retry_max_ms)
        w *= 2;
    return w < b->o.retry_max_ms ? w : b->o.retry_max_ms;
}

/* Whether the mail's ttl (its expiry or time_to_live, framed in the
 * Subject) passed while it waited here. Only mail whose header carries
 * ";ttl=" is classified, by the receivers' own classifier. */
static bool expired_in_outbox(const mc__outbox_row *r, int64_t now_ms)
{
    const char *end = memmem(r->mail, r->len, "\r\n\r\n", 4);
    size_t head = end ? (size_t)(end - r->mail) : r->len;
    mc_mail_info *info = NULL;
    bool expired;
    if (!memmem(r->mail, head, ";ttl=", 5) || mc_mail_classify(&info, r->mail, r->len, r->len, now_ms / 1000))
        return false;
    expired = info->kind == MC_MAIL_EXPIRED;
    mc_mail_info_free(info);
    return expired;
}

/* An expired mail is not sent (a receiver would delete it unread): it is
 * dead-lettered and reported with MC_ETIMEOUT, as WCF's queues do when a
 * message's TimeToLive passes. */
static void expire(outbox *b, const mc__outbox_row *r, int64_t now)
{
    static const char why[] = "its ttl (the message's expiry or time_to_live) passed while it was queued: "
                              "not sent";
    if (mc__store_outbox_dead(b->store, r->id, now, why))
        mc__log(MC_LOG_WARN, "cannot dead-letter mail %lld: %s", (long long)r->id, mc_error_last());
    mc__log(MC_LOG_WARN, "queued mail %lld to %s dead-lettered: %s", (long long)r->id,
            r->nto ? r->to[0] : "?", why);
    report(b, r, MC_ETIMEOUT, why, r->attempts);
}

/* one queued mail handed to the wrapped sender, and its row changed to match */
static void deliver(outbox *b, mc__outbox_row *r)
{
    char error[512];
    int64_t now;
    int rc;
    if (expired_in_outbox(r, mc__wall_ms())) {
        expire(b, r, mc__wall_ms());
        return;
    }
    rc = b->inner->ops->send(b->inner, r->from, (const char *const *)r->to, r->nto, r->mail, r->len,
                             &b->cancel);
    snprintf(error, sizeof(error), "%s", rc ? mc_error_last() : "");
    now = mc__wall_ms();
    if (rc == MC_ECANCELED && atomic_load(&b->cancel))
        return; /* shutting down: the mail stays queued */
    if (!rc || rc == MC_EPARTIAL) {
        /* accepted (by some recipients at least): it leaves the outbox */
        int src = mc__store_outbox_done(b->store, r->id);
        if (src)
            mc__log(MC_LOG_WARN, "mail %lld was sent, but %s; it may be sent once more", (long long)r->id,
                    mc_error_last());
        if (rc)
            mc__log(MC_LOG_WARN, "queued mail %lld: %s", (long long)r->id, error);
        else
            mc__log(MC_LOG_DEBUG, "queued mail %lld sent after %u attempt(s)", (long long)r->id,
                    r->attempts + 1);
        report(b, r, rc, error, r->attempts + 1);
        return;
    }
    if (permanent(rc) || now - r->created_ms >= b->o.lifetime_ms) {
        if (mc__store_outbox_dead(b->store, r->id, now, error))
            mc__log(MC_LOG_WARN, "cannot dead-letter mail %lld: %s", (long long)r->id, mc_error_last());
        mc__log(MC_LOG_ERROR, "queued mail %lld to %s dead-lettered after %u attempt(s)%s: %s",
                (long long)r->id, r->nto ? r->to[0] : "?", r->attempts + 1,
                permanent(rc) ? " (the server refused it)" : " (queue_lifetime passed)", error);
        report(b, r, rc, error, r->attempts + 1);
        return;
    }
    {
        int64_t wait = backoff(b, r->attempts);
        if (mc__store_outbox_retry(b->store, r->id, now + wait, error))
            mc__log(MC_LOG_WARN, "cannot record a failed delivery of mail %lld: %s", (long long)r->id,
                    mc_error_last());
        mc__log(MC_LOG_INFO, "queued mail %lld: attempt %u failed (%s); next in %lld s", (long long)r->id,
                r->attempts + 1, error, (long long)(wait / 1000));
    }
}

/* another process (mailchan queue retry) may change the outbox: it is
 * looked at again at least this often */
#define POLL_MS 5000

/* waits until the wall-clock instant `until` (-1: nothing due), a kick, or POLL_MS */
static void sleep_until(outbox *b, int64_t until)
{
    pthread_mutex_lock(&b->lock);
    if (!b->stop && !b->kicked) {
        struct timespec ts;
        int64_t d = until < 0 ? POLL_MS : until - mc__wall_ms();
        if (d > POLL_MS)
            d = POLL_MS;
        if (d > 0) {
            mc__deadline_timespec(mc__mono_ms() + d, &ts);
            pthread_cond_timedwait(&b->cv, &b->lock, &ts);
        }
    }
    b->kicked = false;
    pthread_mutex_unlock(&b->lock);
}

static void *delivery_loop(void *arg)
{
    outbox *b = arg;
    unsigned store_failures = 0;
    for (;;) {
        mc__outbox_row r;
        int64_t next = -1;
        int rc;
        pthread_mutex_lock(&b->lock);
        if (b->stop) {
            pthread_mutex_unlock(&b->lock);
            break;
        }
        pthread_mutex_unlock(&b->lock);
        memset(&r, 0, sizeof(r));
        rc = mc__store_outbox_next(b->store, mc__wall_ms(), &r, &next);
        if (rc < 0) {
            /* the store cannot be read (busy, disk trouble): try again later */
            int64_t wait = 1000LL << (store_failures < 6 ? store_failures : 6);
            store_failures++;
            mc__log(MC_LOG_WARN, "outbox: %s; retrying in %lld s", mc_error_last(), (long long)(wait / 1000));
            sleep_until(b, mc__wall_ms() + wait);
            continue;
        }
        store_failures = 0;
        if (rc == 0) {
            sleep_until(b, next);
            continue;
        }
        deliver(b, &r);
        mc__outbox_row_clear(&r);
    }
    return NULL;
}

static void outbox_free(mc__sender *s)
{
    outbox *b = (outbox *)s;
    if (b->running) {
        pthread_mutex_lock(&b->lock);
        b->stop = true;
        atomic_store(&b->cancel, 1);
        pthread_cond_signal(&b->cv);
        pthread_mutex_unlock(&b->lock);
        pthread_join(b->thread, NULL);
    }
    if (b->inner)
        b->inner->ops->free(b->inner);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

static const mc__sender_ops outbox_ops = {
    .version = MC__SENDER_VERSION,
    .name = "outbox",
    .send = outbox_send,
    .free = outbox_free,
};

int mc__outbox_new(mc__sender **out, mc__sender *inner, mc__store *store, const mc__outbox_options *o)
{
    outbox *b = calloc(1, sizeof(*b));
    pthread_condattr_t ca;
    if (!b) {
        inner->ops->free(inner);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    b->base.ops = &outbox_ops;
    b->inner = inner;
    b->store = store;
    b->o = *o;
    if (b->o.retry_initial_ms <= 0)
        b->o.retry_initial_ms = 1;
    if (b->o.retry_max_ms < b->o.retry_initial_ms)
        b->o.retry_max_ms = b->o.retry_initial_ms;
    pthread_mutex_init(&b->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&b->thread, NULL, delivery_loop, b)) {
        outbox_free(&b->base);
        return mc__error_set(MC_EIO, "cannot start the outbox's delivery thread");
    }
    b->running = true;
    *out = &b->base;
    return 0;
}
