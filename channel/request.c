/* request.c - request channels over two one-way channels, and the reply
 * helper (mailchan/request.h).
 *
 * A request channel is an output channel to the service plus a listener on
 * the transport's own mailbox at the reply channel, read by one thread of
 * its own (the dispatcher). Every reply the dispatcher reads goes to the
 * request waiting for it (by wsa:RelatesTo) or, when none waits, to the
 * late-reply queue. With a state store, a reply is written to the store
 * before the core records its delivery (so before its mail may be
 * deleted) and leaves the store only when the application has it; the
 * requests themselves are recorded before they are sent. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "transport_int.h"

#define DEFAULT_REMEMBER_S (7u * 24 * 3600)
#define DISPATCH_TICK_MS 200

typedef struct waiter {
    struct waiter *next;
    char *id;
    int64_t deadline;  /* monotonic ms; < 0: none */
    mc_message *reply; /* set with status 0 or MC_EFAULT */
    int status;        /* 1 while waiting, then the outcome */
    char error[512];
    mc_reply_cb cb; /* asynchronous; NULL: a thread waits in request() */
    void *ud;
} waiter;

typedef struct late {
    struct late *next;
    mc_message *msg;
} late;

struct mc_request_channel {
    mc_transport *t;
    mc__state *state; /* the transport's store, or NULL */
    mc_channel_factory *f;
    mc_output_channel *out;
    mc_channel_listener *l;
    mc_input_channel *in;
    char *service, *reply_uri;
    int64_t remember_ms;
    pthread_mutex_t lock; /* everything below */
    pthread_cond_t cv;    /* a waiter was answered, a late reply came, closed */
    pthread_mutex_t send_lock;
    waiter *waiters;
    late *late_head, **late_tail;
    size_t nlate;
    mc__strmap sent; /* ids sent by this channel and not answered: int64_t forget time (wall ms) */
    mc_reply_cb late_cb;
    void *late_ud;
    pthread_t thread;
    bool started, joined, closed;
};

int mc_request_options_init(mc_request_options *o, unsigned int version)
{
    if (!o || version < 1 || version > MC_REQUEST_OPTIONS_VERSION)
        return mc__error_set(MC_EINVAL, "mc_request_options: unknown version %u", o ? version : 0);
    memset(o, 0, sizeof(*o));
    o->version = version;
    return 0;
}

/* ---- replies ---- */

/* the key a reply is kept under: its wsa:MessageID, else its mail's id */
static char *reply_key(const mc_message *m, const char *mail_id)
{
    const char *mid = mc_message_message_id(m);
    mc__buf b;
    if (mid && *mid)
        return mc__strdup(mid);
    if (!mail_id)
        mail_id = mc_message_property(m, MC_PROP_MAIL_ID);
    mc__buf_init(&b);
    mc__buf_printf(&b, "mail:%s", mail_id ? mail_id : "");
    return mc__buf_detach(&b, NULL);
}

static const char *prop_or_empty(const mc_message *m, const char *name)
{
    const char *v = mc_message_property(m, name);
    return v ? v : "";
}

/* mc__accept_fn: a reply is kept in the store before its mail may go */
static int keep_reply(void *ud, mc_message *msg, const char *mail_id)
{
    mc_request_channel *ch = ud;
    char *env = NULL, *key = reply_key(msg, mail_id);
    size_t len = 0;
    int rc;
    if (!key)
        return mc__error_set(MC_ENOMEM, "out of memory");
    if (!(rc = mc_message_serialize(&env, &len, msg))) {
        const char *rel = mc_message_relates_to(msg);
        mc__stored_reply r = {.key = key,
                              .relates_to = rel ? rel : "",
                              .envelope = env,
                              .len = len,
                              .from = prop_or_empty(msg, MC_PROP_FROM_EMAIL),
                              .mail_message_id = prop_or_empty(msg, MC_PROP_MAIL_MESSAGE_ID),
                              .received = prop_or_empty(msg, MC_PROP_RECEIVED_TIME)};
        rc = ch->state->ops->reply_put(ch->state, &r);
        if (rc > 0)
            mc__log(MC_LOG_INFO, "reply %s was received before: not handed over again", key);
    }
    mc_free(env);
    free(key);
    return rc;
}

/* The application has the reply: it leaves the store (with the request it
 * answers). A failure is logged: the reply then comes again, as a late
 * one, at the next start - never lost. */
static void reply_taken_key(mc_request_channel *ch, const char *key, const char *relates_to)
{
    if (!ch->state)
        return;
    if (!key || ch->state->ops->reply_take(ch->state, key, relates_to))
        mc__log(MC_LOG_WARN, "request channel: the state store kept reply %s: %s", key ? key : "",
                key ? mc_error_last() : "out of memory");
}

static void reply_taken(mc_request_channel *ch, const mc_message *m)
{
    char *key;
    if (!ch->state)
        return;
    key = reply_key(m, NULL);
    reply_taken_key(ch, key, mc_message_relates_to(m));
    free(key);
}

static void late_push(mc_request_channel *ch, mc_message *m)
{
    late *n = calloc(1, sizeof(*n));
    if (!n) { /* kept in the store (if any) for the next run; nothing else can be done */
        mc__log(MC_LOG_ERROR, "request channel: out of memory for a late reply");
        mc_message_free(m);
        return;
    }
    n->msg = m;
    *ch->late_tail = n;
    ch->late_tail = &n->next;
    ch->nlate++;
}

static mc_message *late_pop(mc_request_channel *ch)
{
    late *n = ch->late_head;
    mc_message *m;
    if (!n)
        return NULL;
    if (!(ch->late_head = n->next))
        ch->late_tail = &ch->late_head;
    ch->nlate--;
    m = n->msg;
    free(n);
    return m;
}

static waiter *waiter_find(mc_request_channel *ch, const char *id)
{
    for (waiter *w = ch->waiters; w; w = w->next)
        if (w->status == 1 && id && !strcmp(w->id, id))
            return w;
    return NULL;
}

static void waiter_unlink(mc_request_channel *ch, waiter *w)
{
    for (waiter **p = &ch->waiters; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            return;
        }
}

static void waiter_free(waiter *w)
{
    if (!w)
        return;
    mc_message_free(w->reply);
    free(w->id);
    free(w);
}

/* the outcome of a reply: 0, or MC_EFAULT with the fault's code and reason */
static int reply_status(const mc_message *m, char *error, size_t cap)
{
    const char *code = NULL, *reason = NULL;
    if (!mc_message_is_fault(m)) {
        error[0] = 0;
        return 0;
    }
    mc_message_fault(&code, &reason, m);
    snprintf(error, cap, "the service answered with a fault: %s: %s", code ? code : "?",
             reason ? reason : "");
    return MC_EFAULT;
}

/* A reply came (ch->lock held): to its waiter, or to the late queue. */
static void route(mc_request_channel *ch, mc_message *m)
{
    const char *rel = mc_message_relates_to(m);
    waiter *w = waiter_find(ch, rel);
    void *forget = NULL;
    bool sent_here = rel && mc__strmap_remove(&ch->sent, rel, &forget);
    free(forget);
    if (w) {
        w->reply = m;
        w->status = reply_status(m, w->error, sizeof(w->error));
    } else {
        const char *why = MC_CORRELATION_UNKNOWN;
        if (sent_here)
            why = MC_CORRELATION_LATE;
        else if (rel && ch->state && ch->state->ops->request_known(ch->state, rel) == 1)
            why = MC_CORRELATION_EARLIER;
        mc__log(MC_LOG_INFO, "request channel: reply %s to %s is %s", prop_or_empty(m, MC_PROP_MAIL_ID),
                rel ? rel : "(nothing)", why);
        if (mc_message_set_property(m, MC_PROP_CORRELATION, why))
            mc__log(MC_LOG_WARN, "request channel: out of memory marking a late reply");
        late_push(ch, m);
    }
    pthread_cond_broadcast(&ch->cv);
}

/* Hands answered or timed-out asynchronous requests and, with a late
 * callback, late replies to their callbacks (no lock held while they run). */
static void fire_callbacks(mc_request_channel *ch, bool closing)
{
    waiter *done = NULL, **tail = &done;
    late *lates = NULL;
    mc_reply_cb late_cb;
    void *late_ud;
    int64_t now = mc__mono_ms();
    pthread_mutex_lock(&ch->lock);
    for (waiter **p = &ch->waiters; *p;) {
        waiter *w = *p;
        if (w->cb && (w->status != 1 || closing || (w->deadline >= 0 && now >= w->deadline))) {
            if (w->status == 1) {
                w->status = closing ? MC_ECLOSED : MC_ETIMEOUT;
                snprintf(w->error, sizeof(w->error), "%s",
                         closing ? "the request channel was closed" : "no reply in time");
            }
            *p = w->next;
            w->next = NULL;
            *tail = w;
            tail = &w->next;
        } else {
            p = &w->next;
        }
    }
    late_cb = ch->late_cb;
    late_ud = ch->late_ud;
    if (late_cb && ch->late_head) {
        lates = ch->late_head;
        ch->late_head = NULL;
        ch->late_tail = &ch->late_head;
        ch->nlate = 0;
    }
    pthread_mutex_unlock(&ch->lock);
    while (done) {
        waiter *w = done;
        mc_message *reply = w->reply;
        done = w->next;
        /* the callback owns the reply: what the store needs is copied first */
        char *key = reply && ch->state ? reply_key(reply, NULL) : NULL;
        w->reply = NULL;
        w->cb(w->status, reply, w->id, w->error, w->ud);
        if (key)
            reply_taken_key(ch, key, w->id); /* after the callback: a crash in it finds the reply again */
        free(key);
        waiter_free(w);
    }
    while (lates) {
        late *n = lates;
        const char *rel = mc_message_relates_to(n->msg);
        /* the callback owns the message: what the store needs is copied first */
        char *key = ch->state ? reply_key(n->msg, NULL) : NULL;
        char *relc = ch->state && rel ? mc__strdup(rel) : NULL;
        lates = n->next;
        late_cb(0, n->msg, rel ? rel : "", "", late_ud);
        reply_taken_key(ch, key, relc);
        free(relc);
        free(key);
        free(n);
    }
}

static void *dispatch(void *arg)
{
    mc_request_channel *ch = arg;
    for (;;) {
        mc_message *m = NULL;
        int64_t now = mc__mono_ms(), next = now + DISPATCH_TICK_MS;
        int rc;
        pthread_mutex_lock(&ch->lock);
        if (ch->closed) {
            pthread_mutex_unlock(&ch->lock);
            break;
        }
        for (waiter *w = ch->waiters; w; w = w->next)
            if (w->cb && w->deadline >= 0 && w->deadline < next)
                next = w->deadline;
        pthread_mutex_unlock(&ch->lock);
        rc = mc_input_channel_receive(&m, ch->in, next > now ? (int)(next - now) : 0);
        if (rc == 0) {
            pthread_mutex_lock(&ch->lock);
            route(ch, m);
            pthread_mutex_unlock(&ch->lock);
        } else if (rc == MC_ECLOSED) {
            break;
        } else if (rc != MC_ETIMEOUT) {
            /* the store or the transport failed: the reply stays where it is
             * and is read again */
            struct timespec ts;
            mc__log(MC_LOG_WARN, "request channel: receiving replies: %s", mc_error_last());
            pthread_mutex_lock(&ch->lock);
            mc__deadline_timespec(mc__deadline(DISPATCH_TICK_MS), &ts);
            if (!ch->closed)
                pthread_cond_timedwait(&ch->cv, &ch->lock, &ts);
            pthread_mutex_unlock(&ch->lock);
        }
        fire_callbacks(ch, false);
    }
    fire_callbacks(ch, true);
    return NULL;
}

/* ---- opening ---- */

typedef struct {
    mc_request_channel *ch;
    int rc;
} load_ctx;

/* a reply kept by an earlier run, not yet taken: ready as a late reply */
static void load_reply(void *ud, const mc__stored_reply *r)
{
    load_ctx *x = ud;
    mc_message *m = NULL;
    if (x->rc)
        return;
    if (mc_message_parse(&m, r->envelope, r->len, r->len + 1)) {
        mc__log(MC_LOG_WARN, "request channel: a kept reply (%s) does not parse: %s", r->key,
                mc_error_last());
        return;
    }
    if ((*r->from && mc_message_set_property(m, MC_PROP_FROM_EMAIL, r->from)) ||
        (*r->mail_message_id && mc_message_set_property(m, MC_PROP_MAIL_MESSAGE_ID, r->mail_message_id)) ||
        (*r->received && mc_message_set_property(m, MC_PROP_RECEIVED_TIME, r->received))) {
        x->rc = MC_ENOMEM;
        mc_message_free(m);
        return;
    }
    late_push(x->ch, m);
}

static void free_value(void *v) { free(v); }

void mc_request_channel_free(mc_request_channel *ch)
{
    if (!ch)
        return;
    mc_request_channel_close(ch);
    if (ch->started && !ch->joined)
        pthread_join(ch->thread, NULL);
    mc_input_channel_free(ch->in);
    mc_channel_listener_free(ch->l);
    mc_output_channel_free(ch->out);
    mc_channel_factory_free(ch->f);
    while (ch->late_head)
        mc_message_free(late_pop(ch));
    while (ch->waiters) { /* none: every waiter leaves before close returns */
        waiter *w = ch->waiters;
        ch->waiters = w->next;
        waiter_free(w);
    }
    mc__strmap_free(&ch->sent, free_value);
    pthread_mutex_destroy(&ch->lock);
    pthread_mutex_destroy(&ch->send_lock);
    pthread_cond_destroy(&ch->cv);
    free(ch->service);
    free(ch->reply_uri);
    free(ch);
}

static int cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    int rc;
    if (pthread_condattr_init(&a))
        return -1;
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    rc = pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
    return rc;
}

int mc_request_channel_new(mc_request_channel **out, mc_transport *t, const char *to_uri,
                           const mc_request_options *o)
{
    mc_request_channel *ch;
    mc_address *svc = NULL;
    const char *reply_channel = NULL;
    unsigned remember = 0;
    mc__buf b;
    int rc;
    if (!out || !t || !to_uri)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if (o && (o->version < 1 || o->version > MC_REQUEST_OPTIONS_VERSION))
        return mc__error_set(MC_EINVAL, "mc_request_options: unknown version %u", o->version);
    if (o) {
        reply_channel = o->reply_channel;
        remember = o->remember_seconds;
    }
    if ((rc = mc_address_parse(&svc, to_uri)))
        return rc;
    if (!(ch = calloc(1, sizeof(*ch)))) {
        mc_address_free(svc);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    ch->t = t;
    ch->state = mc__transport_config_of(t)->state;
    ch->remember_ms = (int64_t)(remember ? remember : DEFAULT_REMEMBER_S) * 1000;
    ch->late_tail = &ch->late_head;
    mc__strmap_init(&ch->sent);
    pthread_mutex_init(&ch->lock, NULL);
    pthread_mutex_init(&ch->send_lock, NULL);
    if (cond_init_mono(&ch->cv)) {
        pthread_mutex_destroy(&ch->lock);
        pthread_mutex_destroy(&ch->send_lock);
        free(ch);
        mc_address_free(svc);
        return mc__error_set(MC_ENOMEM, "cannot make a condition variable");
    }
    mc__buf_init(&b);
    if (reply_channel)
        mc__buf_printf(&b, "%s", reply_channel);
    else
        mc__buf_printf(&b, "%s-reply", mc_address_channel(svc));
    {
        char *name = mc__buf_detach(&b, NULL);
        if (!name)
            rc = mc__error_set(MC_ENOMEM, "out of memory");
        else if (!(rc = mc_channel_name_validate(name))) {
            mc__buf_init(&b);
            mc__buf_printf(&b, MC_ADDRESS_SCHEME "://%s#%s", name, mc_transport_address(t));
            if (!(ch->reply_uri = mc__buf_detach(&b, NULL)))
                rc = mc__error_set(MC_ENOMEM, "out of memory");
        }
        free(name);
    }
    if (!rc && !(ch->service = mc__strdup(mc_address_uri(svc))))
        rc = mc__error_set(MC_ENOMEM, "out of memory");
    mc_address_free(svc);
    if (rc || (rc = mc_channel_factory_new(&ch->f, t)) ||
        (rc = mc_channel_factory_create_channel(&ch->out, ch->f, ch->service)) ||
        (rc = mc_channel_listener_new(&ch->l, t, ch->reply_uri)))
        goto fail;
    if (ch->state) {
        load_ctx x = {ch, 0};
        mc__listener_set_accept(ch->l, keep_reply, ch);
        if ((rc = ch->state->ops->reply_load(ch->state, load_reply, &x)) || (rc = x.rc))
            goto fail;
        /* (the store is not called again while it hands replies over) */
        for (late *n = ch->late_head; n; n = n->next) {
            const char *rel = mc_message_relates_to(n->msg);
            bool known = rel && ch->state->ops->request_known(ch->state, rel) == 1;
            if ((rc = mc_message_set_property(n->msg, MC_PROP_CORRELATION,
                                              known ? MC_CORRELATION_EARLIER : MC_CORRELATION_UNKNOWN)))
                goto fail;
        }
    }
    if ((rc = mc_channel_listener_accept_channel(&ch->in, ch->l, 0)))
        goto fail;
    if (pthread_create(&ch->thread, NULL, dispatch, ch)) {
        rc = mc__error_set(MC_ENOMEM, "cannot start the request channel's thread");
        goto fail;
    }
    ch->started = true;
    if (ch->nlate)
        mc__log(MC_LOG_INFO, "request channel to %s: %zu replies from an earlier run are ready", ch->service,
                ch->nlate);
    *out = ch;
    return 0;
fail:
    ch->closed = true;
    mc_request_channel_free(ch);
    return rc;
}

/* ---- requesting ---- */

/* Sends a copy of @p request with ReplyTo set, under a waiter made first
 * (so a fast reply finds it). The waiter is linked on success. */
static int send_request(waiter **out, char **id_out, mc_request_channel *ch, const mc_message *request,
                        int timeout_ms, mc_reply_cb cb, void *ud)
{
    mc_message *m = NULL;
    waiter *w = NULL;
    int64_t *forget = NULL;
    int rc;
    if (!ch || !request)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = mc_message_clone(&m, request)) || (rc = mc_message_set_reply_to(m, ch->reply_uri)))
        goto done;
    if (!mc_message_message_id(m) || !*mc_message_message_id(m)) {
        char uuid[37], id[48];
        if ((rc = mc__uuid(uuid)))
            goto done;
        snprintf(id, sizeof(id), "urn:uuid:%s", uuid);
        if ((rc = mc_message_set_message_id(m, id)))
            goto done;
    }
    if (!(w = calloc(1, sizeof(*w))) || !(w->id = mc__strdup(mc_message_message_id(m))) ||
        !(forget = malloc(sizeof(*forget))) || (id_out && !(*id_out = mc__strdup(w->id)))) {
        rc = mc__error_set(MC_ENOMEM, "out of memory");
        goto done;
    }
    w->status = 1;
    w->deadline = mc__deadline(timeout_ms);
    w->cb = cb;
    w->ud = ud;
    *forget = mc__wall_ms() + ch->remember_ms;
    /* recorded before it is sent: a reply can never find it unknown */
    if (ch->state && (rc = ch->state->ops->request_put(ch->state, w->id, ch->service, *forget)))
        goto done;
    pthread_mutex_lock(&ch->lock);
    if (ch->closed || (rc = mc__strmap_put(&ch->sent, w->id, forget))) {
        rc = ch->closed ? mc__error_set(MC_ECLOSED, "the request channel was closed") : rc;
        pthread_mutex_unlock(&ch->lock);
        goto forget;
    }
    forget = NULL;
    w->next = ch->waiters;
    ch->waiters = w;
    pthread_mutex_unlock(&ch->lock);
    pthread_mutex_lock(&ch->send_lock);
    rc = mc_output_channel_send(ch->out, m);
    pthread_mutex_unlock(&ch->send_lock);
    if (rc) {
        void *v = NULL;
        pthread_mutex_lock(&ch->lock);
        waiter_unlink(ch, w);
        mc__strmap_remove(&ch->sent, w->id, &v);
        free(v);
        pthread_mutex_unlock(&ch->lock);
        goto forget;
    }
    *out = w;
    w = NULL;
    id_out = NULL;
    goto done;
forget:
    if (ch->state) {
        /* nothing was sent: nothing stays pending (the send's error is kept) */
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", mc_error_last());
        if (ch->state->ops->request_forget(ch->state, w->id))
            mc__log(MC_LOG_WARN, "request channel: could not forget request %s: %s", w->id, mc_error_last());
        mc__error_set(rc, "%s", msg);
    }
done:
    if (id_out) {
        free(*id_out);
        *id_out = NULL;
    }
    free(forget);
    waiter_free(w);
    mc_message_free(m);
    return rc;
}

int mc_request_channel_request(mc_message **reply, mc_request_channel *ch, const mc_message *request,
                               int timeout_ms)
{
    waiter *w = NULL;
    int rc;
    if (!reply)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = send_request(&w, NULL, ch, request, timeout_ms, NULL, NULL)))
        return rc;
    pthread_mutex_lock(&ch->lock);
    while (w->status == 1 && !ch->closed) {
        struct timespec ts;
        if (w->deadline < 0) {
            pthread_cond_wait(&ch->cv, &ch->lock);
            continue;
        }
        mc__deadline_timespec(w->deadline, &ts);
        if (pthread_cond_timedwait(&ch->cv, &ch->lock, &ts) && w->status == 1 &&
            mc__mono_ms() >= w->deadline) {
            w->status = MC_ETIMEOUT;
            snprintf(w->error, sizeof(w->error), "no reply to %s within %d ms (a later reply is a late one)",
                     w->id, timeout_ms);
        }
    }
    if (w->status == 1) {
        w->status = MC_ECLOSED;
        snprintf(w->error, sizeof(w->error), "the request channel was closed");
    }
    waiter_unlink(ch, w);
    pthread_cond_broadcast(&ch->cv); /* close waits for the waiters to leave */
    pthread_mutex_unlock(&ch->lock);
    rc = w->status;
    if (w->reply) {
        reply_taken(ch, w->reply);
        *reply = w->reply;
        w->reply = NULL;
    }
    if (rc)
        mc__error_set(rc, "%s", w->error);
    waiter_free(w);
    return rc;
}

int mc_request_channel_request_async(char **request_id, mc_request_channel *ch, const mc_message *request,
                                     int timeout_ms, mc_reply_cb cb, void *user_data)
{
    waiter *w = NULL;
    char *id = NULL;
    int rc;
    if (!cb)
        return mc__error_set(MC_EINVAL, "NULL callback");
    /* from here on w belongs to the dispatcher */
    if ((rc = send_request(&w, request_id ? &id : NULL, ch, request, timeout_ms, cb, user_data)))
        return rc;
    if (request_id)
        *request_id = id;
    return 0;
}

int mc_request_channel_receive_late(mc_message **out, mc_request_channel *ch, int timeout_ms)
{
    int64_t deadline = mc__deadline(timeout_ms);
    mc_message *m = NULL;
    int rc = 0;
    if (!out || !ch)
        return mc__error_set(MC_EINVAL, "NULL argument");
    pthread_mutex_lock(&ch->lock);
    while (!(m = late_pop(ch))) {
        struct timespec ts;
        if (ch->closed) {
            rc = mc__error_set(MC_ECLOSED, "the request channel was closed");
            break;
        }
        if (deadline < 0) {
            pthread_cond_wait(&ch->cv, &ch->lock);
            continue;
        }
        mc__deadline_timespec(deadline, &ts);
        if (pthread_cond_timedwait(&ch->cv, &ch->lock, &ts) && mc__mono_ms() >= deadline && !ch->late_head) {
            rc = mc__error_set(MC_ETIMEOUT, "no late reply within %d ms", timeout_ms);
            break;
        }
    }
    pthread_mutex_unlock(&ch->lock);
    if (m) {
        reply_taken(ch, m);
        *out = m;
    }
    return rc;
}

int mc_request_channel_set_late_callback(mc_request_channel *ch, mc_reply_cb cb, void *user_data)
{
    if (!ch)
        return mc__error_set(MC_EINVAL, "NULL argument");
    pthread_mutex_lock(&ch->lock);
    ch->late_cb = cb;
    ch->late_ud = user_data;
    pthread_mutex_unlock(&ch->lock);
    return 0;
}

size_t mc_request_channel_pending(mc_request_channel *ch)
{
    size_t n = 0;
    if (!ch)
        return 0;
    if (ch->state && ch->state->ops->request_count(ch->state, &n) == 0)
        return n;
    pthread_mutex_lock(&ch->lock);
    n = ch->sent.count;
    pthread_mutex_unlock(&ch->lock);
    return n;
}

const char *mc_request_channel_address(const mc_request_channel *ch) { return ch ? ch->service : NULL; }

const char *mc_request_channel_reply_address(const mc_request_channel *ch)
{
    return ch ? ch->reply_uri : NULL;
}

int mc_request_channel_close(mc_request_channel *ch)
{
    if (!ch)
        return mc__error_set(MC_EINVAL, "NULL argument");
    pthread_mutex_lock(&ch->lock);
    if (ch->closed && (ch->joined || !ch->started)) {
        pthread_mutex_unlock(&ch->lock);
        return mc__error_set(MC_ECLOSED, "the request channel is closed");
    }
    ch->closed = true;
    pthread_cond_broadcast(&ch->cv);
    /* synchronous requests leave before the channel closes under them */
    while (ch->waiters) {
        bool sync_left = false;
        for (waiter *w = ch->waiters; w; w = w->next)
            sync_left |= !w->cb;
        if (!sync_left)
            break;
        pthread_cond_wait(&ch->cv, &ch->lock);
    }
    pthread_mutex_unlock(&ch->lock);
    if (ch->in)
        mc_input_channel_abort(ch->in);
    /* from a callback (the dispatcher itself) the thread ends on its own */
    if (ch->started && !ch->joined && !pthread_equal(pthread_self(), ch->thread)) {
        pthread_join(ch->thread, NULL);
        ch->joined = true;
    }
    return 0;
}

/* ---- the service side ---- */

int mc_channel_factory_send_reply(mc_channel_factory *f, const mc_message *request, const mc_message *reply)
{
    mc_output_channel *out = NULL;
    mc_message *copy = NULL;
    char *dest;
    int rc;
    if (!f || !request || !reply)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if (!(dest = mc__reply_destination(request, mc_message_is_fault(reply))))
        return mc__error_set(MC_EINVAL, "the request names no address to answer to (no wsa:ReplyTo, "
                                        "wsa:From or sender)");
    if (!mc_message_relates_to(reply) && mc_message_message_id(request)) {
        if ((rc = mc_message_clone(&copy, reply)) ||
            (rc = mc_message_set_relates_to(copy, mc_message_message_id(request))))
            goto done;
        reply = copy;
    }
    if (!(rc = mc_channel_factory_create_channel(&out, f, dest)))
        rc = mc_output_channel_send(out, reply);
done:
    mc_output_channel_free(out);
    mc_message_free(copy);
    free(dest);
    return rc;
}

int mc_channel_factory_send_fault(mc_channel_factory *f, const mc_message *request, const char *code,
                                  const char *reason)
{
    mc_message *fault = NULL;
    int rc;
    if (!f || !request || !code || !reason)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if (!(rc = mc_message_create_reply(&fault, request, "http://www.w3.org/2005/08/addressing/soap/fault",
                                       NULL, 0)) &&
        !(rc = mc_message_set_fault(fault, code, reason)))
        rc = mc_channel_factory_send_reply(f, request, fault);
    mc_message_free(fault);
    return rc;
}
