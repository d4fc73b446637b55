/* listener.c - channel listeners and their input channels. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "transport_int.h"

struct mc_channel_listener {
    mc_transport *t;
    mc__listener_slot *slot;
    mc_address *addr;
    atomic_bool closed;
    unsigned channels; /* input channels not yet freed */
};

struct mc_input_channel {
    mc_channel_listener *l;
    unsigned gen;
    bool closed;
    pthread_mutex_t lock;
};

int mc_channel_listener_new(mc_channel_listener **out, mc_transport *t, const char *uri)
{
    mc_channel_listener *l;
    mc_address *a = NULL;
    int rc;
    if (!out || !t || !uri)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = mc_address_parse(&a, uri)))
        return rc;
    if (mc_address_email_count(a) > 1 ||
        (mc_address_email_count(a) == 1 && strcasecmp(mc_address_email(a, 0), mc_transport_address(t)))) {
        mc_address_free(a);
        return mc__error_set(MC_EINVAL, "a listener listens on its transport's own mailbox (%s)",
                             mc_transport_address(t));
    }
    if (!(l = calloc(1, sizeof(*l)))) {
        mc_address_free(a);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    l->t = t;
    l->addr = a;
    if ((rc = mc__transport_listen(t, mc_address_channel(a), &l->slot))) {
        mc_address_free(a);
        free(l);
        return rc;
    }
    *out = l;
    return 0;
}

void mc__listener_set_accept(mc_channel_listener *l, mc__accept_fn fn, void *ud)
{
    mc__slot_set_accept(l->t, l->slot, fn, ud);
}

int mc_channel_listener_accept_channel(mc_input_channel **out, mc_channel_listener *l, int timeout_ms)
{
    mc_input_channel *ch;
    int gen;
    if (!l || !out)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if (atomic_load(&l->closed))
        return mc__error_set(MC_ECLOSED, "the listener is closed");
    if (!(ch = calloc(1, sizeof(*ch))))
        return mc__error_set(MC_ENOMEM, "out of memory");
    if ((gen = mc__slot_open(l->t, l->slot, timeout_ms)) < 0) {
        free(ch);
        return gen;
    }
    ch->l = l;
    ch->gen = (unsigned)gen;
    pthread_mutex_init(&ch->lock, NULL);
    __atomic_add_fetch(&l->channels, 1, __ATOMIC_SEQ_CST);
    *out = ch;
    return 0;
}

int mc_channel_listener_close(mc_channel_listener *l)
{
    if (!l)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if (atomic_exchange(&l->closed, true))
        return mc__error_set(MC_ECLOSED, "the listener is already closed");
    mc__slot_shutdown(l->t, l->slot);
    return 0;
}

void mc_channel_listener_free(mc_channel_listener *l)
{
    if (!l)
        return;
    if (__atomic_load_n(&l->channels, __ATOMIC_SEQ_CST))
        mc__log(MC_LOG_ERROR, "a channel listener was freed before its input channel");
    if (!atomic_load(&l->closed))
        mc_channel_listener_close(l);
    mc__transport_unlisten(l->t, l->slot);
    mc_address_free(l->addr);
    free(l);
}

/* marks the channel closed once; false if it already was */
static bool mark_closed(mc_input_channel *ch)
{
    bool was;
    pthread_mutex_lock(&ch->lock);
    was = ch->closed;
    ch->closed = true;
    pthread_mutex_unlock(&ch->lock);
    return !was;
}

static int receive(mc_input_channel *ch, int timeout_ms, bool take, mc_message **out)
{
    bool closed;
    if (!ch || (take && !out))
        return mc__error_set(MC_EINVAL, "NULL argument");
    pthread_mutex_lock(&ch->lock);
    closed = ch->closed;
    pthread_mutex_unlock(&ch->lock);
    if (closed)
        return mc__error_set(MC_ECLOSED, "the input channel is closed");
    return mc__slot_receive(ch->l->t, ch->l->slot, ch->gen, timeout_ms, take, out);
}

int mc_input_channel_receive(mc_message **out, mc_input_channel *ch, int timeout_ms)
{
    return receive(ch, timeout_ms, true, out);
}

int mc_input_channel_try_receive(mc_message **out, mc_input_channel *ch, int timeout_ms)
{
    int rc = receive(ch, timeout_ms, true, out);
    if (rc == MC_ETIMEOUT) {
        *out = NULL;
        return 0;
    }
    return rc;
}

int mc_input_channel_wait_for_message(mc_input_channel *ch, int timeout_ms)
{
    return receive(ch, timeout_ms, false, NULL);
}

int mc_input_channel_close(mc_input_channel *ch)
{
    if (!ch)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if (!mark_closed(ch))
        return mc__error_set(MC_ECLOSED, "the input channel is already closed");
    return mc__slot_close(ch->l->t, ch->l->slot, true);
}

void mc_input_channel_abort(mc_input_channel *ch)
{
    if (ch && mark_closed(ch))
        mc__slot_close(ch->l->t, ch->l->slot, false);
}

const char *mc_input_channel_address(const mc_input_channel *ch)
{
    return ch ? mc_address_uri(ch->l->addr) : NULL;
}

void mc_input_channel_free(mc_input_channel *ch)
{
    if (!ch)
        return;
    mc_input_channel_abort(ch);
    __atomic_sub_fetch(&ch->l->channels, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_destroy(&ch->lock);
    free(ch);
}
