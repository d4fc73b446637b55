/* output.c - channel factories and output channels: blocking send, and
 * send_async on a per-channel worker thread whose callback fires once. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "transport_int.h"

struct mc_channel_factory {
    mc_transport *t;
};

struct mc_output_channel {
    mc_transport *t;
    mc_address *addr;
    const char **to;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    bool closed, busy, in_callback, worker_running, worker_stop;
    pthread_t worker;
    /* the job in flight */
    mc_message *job;
    mc_send_cb cb;
    void *ud;
    mc__cancel_token cancel;
};

int mc_channel_factory_new(mc_channel_factory **out, mc_transport *t)
{
    mc_channel_factory *f;
    if (!out || !t)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if (!(f = calloc(1, sizeof(*f))))
        return mc__error_set(MC_ENOMEM, "out of memory");
    f->t = t;
    *out = f;
    return 0;
}

void mc_channel_factory_free(mc_channel_factory *f) { free(f); }

int mc_channel_factory_create_channel(mc_output_channel **out, mc_channel_factory *f, const char *uri)
{
    mc_output_channel *ch;
    mc_address *a = NULL;
    size_t n;
    int rc;
    if (!out || !f || !uri)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = mc_address_parse(&a, uri)))
        return rc;
    n = mc_address_email_count(a);
    if (!n) {
        mc_address_free(a);
        return mc__error_set(MC_EINVAL, "an output channel's address needs at least one e-mail address");
    }
    if (!(ch = calloc(1, sizeof(*ch))) || !(ch->to = calloc(n, sizeof(char *)))) {
        free(ch);
        mc_address_free(a);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        ch->to[i] = mc_address_email(a, i);
    ch->t = f->t;
    ch->addr = a;
    pthread_mutex_init(&ch->lock, NULL);
    pthread_cond_init(&ch->cv, NULL);
    *out = ch;
    return 0;
}

const char *mc_output_channel_address(const mc_output_channel *ch)
{
    return ch ? mc_address_uri(ch->addr) : NULL;
}

static int do_send(mc_output_channel *ch, const mc_message *msg, const mc__cancel_token *cancel)
{
    return mc__transport_send(ch->t, msg, mc_address_uri(ch->addr), mc_address_channel(ch->addr), ch->to,
                              mc_address_email_count(ch->addr), cancel);
}

/* takes the channel for one send; caller holds ch->lock */
static int acquire(mc_output_channel *ch)
{
    if (ch->closed)
        return mc__error_set(MC_ECLOSED, "the output channel is closed");
    if (ch->busy)
        return mc__error_set(MC_EBUSY, "a send is already in flight on this channel");
    ch->busy = true;
    return 0;
}

int mc_output_channel_send(mc_output_channel *ch, const mc_message *msg)
{
    int rc;
    if (!ch || !msg)
        return mc__error_set(MC_EINVAL, "NULL argument");
    pthread_mutex_lock(&ch->lock);
    rc = acquire(ch);
    pthread_mutex_unlock(&ch->lock);
    if (rc)
        return rc;
    rc = do_send(ch, msg, NULL);
    pthread_mutex_lock(&ch->lock);
    ch->busy = false;
    pthread_cond_broadcast(&ch->cv);
    pthread_mutex_unlock(&ch->lock);
    return rc;
}

static void *worker(void *arg)
{
    mc_output_channel *ch = arg;
    pthread_mutex_lock(&ch->lock);
    for (;;) {
        mc_message *job;
        mc_send_cb cb;
        void *ud;
        int rc;
        char message[512];
        while (!ch->job && !ch->worker_stop)
            pthread_cond_wait(&ch->cv, &ch->lock);
        if (!ch->job)
            break;
        job = ch->job;
        cb = ch->cb;
        ud = ch->ud;
        pthread_mutex_unlock(&ch->lock);
        rc = atomic_load(&ch->cancel) ? mc__error_set(MC_ECANCELED, "the send was cancelled")
                                      : do_send(ch, job, &ch->cancel);
        snprintf(message, sizeof(message), "%s", rc ? mc_error_last() : "");
        mc_message_free(job);
        pthread_mutex_lock(&ch->lock);
        ch->job = NULL;
        ch->busy = false; /* the callback may start the next send */
        ch->in_callback = true;
        pthread_mutex_unlock(&ch->lock);
        cb(rc, message, ud);
        pthread_mutex_lock(&ch->lock);
        ch->in_callback = false;
        pthread_cond_broadcast(&ch->cv);
    }
    pthread_mutex_unlock(&ch->lock);
    return NULL;
}

int mc_output_channel_send_async(mc_output_channel *ch, const mc_message *msg, mc_send_cb cb, void *user_data)
{
    mc_message *copy = NULL;
    int rc;
    if (!ch || !msg || !cb)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = mc_message_clone(&copy, msg)))
        return rc;
    pthread_mutex_lock(&ch->lock);
    if ((rc = acquire(ch)))
        goto done;
    if (!ch->worker_running) {
        if (pthread_create(&ch->worker, NULL, worker, ch)) {
            ch->busy = false;
            rc = mc__error_set(MC_EIO, "cannot start the send thread");
            goto done;
        }
        ch->worker_running = true;
    }
    ch->job = copy;
    copy = NULL;
    ch->cb = cb;
    ch->ud = user_data;
    atomic_store(&ch->cancel, 0);
    pthread_cond_broadcast(&ch->cv);
done:
    pthread_mutex_unlock(&ch->lock);
    mc_message_free(copy);
    return rc;
}

int mc_output_channel_send_async_cancel(mc_output_channel *ch)
{
    int rc = 0;
    if (!ch)
        return mc__error_set(MC_EINVAL, "NULL argument");
    pthread_mutex_lock(&ch->lock);
    if (ch->job)
        atomic_store(&ch->cancel, 1);
    else
        rc = mc__error_set(MC_ENOTFOUND, "no send is in flight");
    pthread_mutex_unlock(&ch->lock);
    return rc;
}

int mc_output_channel_close(mc_output_channel *ch)
{
    bool join;
    if (!ch)
        return mc__error_set(MC_EINVAL, "NULL argument");
    pthread_mutex_lock(&ch->lock);
    if (ch->closed) {
        pthread_mutex_unlock(&ch->lock);
        return mc__error_set(MC_ECLOSED, "the output channel is already closed");
    }
    ch->closed = true;
    join = ch->worker_running && !pthread_equal(pthread_self(), ch->worker);
    /* a send in flight finishes, and its callback fires, before close returns;
     * from inside the callback only the job part can be waited for */
    while (ch->busy || (join && ch->in_callback))
        pthread_cond_wait(&ch->cv, &ch->lock);
    ch->worker_stop = true;
    pthread_cond_broadcast(&ch->cv);
    pthread_mutex_unlock(&ch->lock);
    if (ch->worker_running) {
        if (join)
            pthread_join(ch->worker, NULL);
        else
            pthread_detach(ch->worker);
        ch->worker_running = false;
    }
    return 0;
}

void mc_output_channel_free(mc_output_channel *ch)
{
    if (!ch)
        return;
    if (!ch->closed)
        mc_output_channel_close(ch);
    pthread_mutex_destroy(&ch->lock);
    pthread_cond_destroy(&ch->cv);
    mc_address_free(ch->addr);
    free(ch->to);
    free(ch);
}
