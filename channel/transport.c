/* transport.c - the machinery of docs/semantics.md section 2, written once above
 * the receiver interface: the background query loop, the bounded processing
 * cache, dispatch by channel name, accept_existing_messages, the
 * deleted-message cache and its batch flush (a delete, or a move into
 * archive_folder with after_receive = move), receive_retry_count for
 * invalid mail (then deleted, or moved into dead_letter_folder), malformed
 * mail to the trash, ttl expiry. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "command.h"
#include "transport_int.h"

typedef struct entry {
    struct entry *next, *prev;
    char *id;
    char *channel;
    mc_message *msg;
    size_t bytes;
    int64_t arrived_ms;
} entry;

/* What the core remembers about a mail id between queries. PENDING: listed,
 * not finished with (not read yet, no room in the cache, evicted, or an
 * action that failed): read again at the next query, whether or not an
 * incremental listing names it again; INVALID likewise until its retry count. */
enum known_state { KNOWN_IGNORED = 1, KNOWN_PENDING, KNOWN_INVALID, KNOWN_DELETING, KNOWN_CACHED };
typedef struct {
    int state;
    unsigned attempts;
    unsigned listed; /* the query that last listed (or touched) it */
    size_t size;     /* from the listing, to read it again */
    int64_t arrived_ms;
} known;

struct mc__listener_slot {
    struct mc__listener_slot *next;
    char *channel;
    int64_t opened_ms;
    bool channel_open;
    bool shut;            /* listener closed */
    unsigned gen;         /* bumped when a channel closes: wakes its waiters */
    mc__accept_fn accept; /* NULL, or called on each message before it is recorded */
    void *accept_ud;
};

struct mc_transport {
    mc__sender *sender;     /* NULL: this transport does not send */
    mc__receiver *receiver; /* NULL: this transport does not receive */
    mc__transport_config cfg;
    pthread_mutex_t lock;   /* caches, slots, stats */
    pthread_cond_t cv;      /* cache or slot changed */
    pthread_mutex_t io;     /* the receiver: every call but set_deadline, wait included */
    pthread_cond_t io_free; /* io released by a thread other than the receive thread */
    atomic_int io_wanted;   /* threads waiting for io: the receive thread lets them in */
    pthread_mutex_t send_lock;
    pthread_t thread;
    bool thread_running, stopping, opened;
    int wake[2];
    entry *head, *tail; /* processing cache, oldest first */
    mc__strmap known;   /* id -> known* */
    char **deleting;    /* deleted-message cache */
    size_t ndeleting, capdeleting;
    int64_t delete_due_ms; /* monotonic: when the deleted-message cache is flushed */
    bool query_requested;  /* a listener opened: query without waiting */
    mc__listener_slot *slots;
    unsigned open_channels;
    unsigned listing; /* queries so far: known::listed compares with it */
    size_t nretry;    /* known ids PENDING or INVALID */
    mc_transport_stats stats;
};

static void config_free(mc__transport_config *c)
{
    mc__command_free(c->password_command);
    mc__command_free(c->token_command);
    free(c->address);
    free(c->archive_folder);
    free(c->dead_letter_folder);
    if (c->security)
        c->security->free(c->security);
    if (c->state) /* after security, whose replay cache writes to it */
        c->state->ops->free(c->state);
}

const mc__transport_config *mc__transport_config_of(const mc_transport *t) { return &t->cfg; }

static int cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t a;
    int r;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    r = pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
    return r;
}

/* waits on cv until deadline_ms (monotonic; negative: forever). false on timeout. */
static bool wait_until(pthread_cond_t *cv, pthread_mutex_t *m, int64_t deadline_ms)
{
    struct timespec ts;
    if (deadline_ms < 0) {
        pthread_cond_wait(cv, m);
        return true;
    }
    if (mc__mono_ms() >= deadline_ms)
        return false;
    mc__deadline_timespec(deadline_ms, &ts);
    return pthread_cond_timedwait(cv, m, &ts) != ETIMEDOUT;
}

static void halves_free(mc__sender *s, mc__receiver *r)
{
    if (s)
        s->ops->free(s);
    if (r)
        r->ops->free(r);
}

static bool has_dead_letter(const mc__transport_config *c)
{
    return c->dead_letter_folder && *c->dead_letter_folder;
}

int mc__transport_new(mc_transport **out, mc__sender *sender, mc__receiver *receiver,
                      mc__transport_config *cfg)
{
    mc_transport *t;
    if ((sender && sender->ops->version != MC__SENDER_VERSION) ||
        (receiver && receiver->ops->version != MC__RECEIVER_VERSION)) {
        halves_free(sender, receiver);
        config_free(cfg);
        return mc__error_set(MC_EINVAL, "a transport half of another interface version");
    }
    if (receiver && (cfg->after_receive == MC__AFTER_MOVE || has_dead_letter(cfg))) {
        const char *why = NULL;
        if (!receiver->ops->move)
            why = "this transport's receiver cannot move mail into a folder";
        else if (cfg->after_receive == MC__AFTER_MOVE && (!cfg->archive_folder || !*cfg->archive_folder))
            why = "after_receive = move needs archive_folder";
        if (why) {
            halves_free(sender, receiver);
            config_free(cfg);
            return mc__error_set(MC_EINVAL, "%s", why);
        }
    }
    if (!(t = calloc(1, sizeof(*t)))) {
        halves_free(sender, receiver);
        config_free(cfg);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    t->sender = sender;
    t->receiver = receiver;
    t->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    mc__strmap_init(&t->known);
    pthread_mutex_init(&t->lock, NULL);
    pthread_mutex_init(&t->io, NULL);
    pthread_mutex_init(&t->send_lock, NULL);
    cond_init(&t->cv);
    cond_init(&t->io_free);
    if (pipe2(t->wake, O_CLOEXEC | O_NONBLOCK)) {
        t->wake[0] = t->wake[1] = -1;
        mc_transport_free(t);
        return mc__error_set(MC_EIO, "cannot create a pipe: %s", strerror(errno));
    }
    *out = t;
    return 0;
}

const char *mc_transport_address(const mc_transport *t) { return t ? t->cfg.address : NULL; }

/* Bytes of mc_transport_stats in each published version: a caller built
 * against version v reads and gets exactly these. When a version appends
 * fields, the previous row becomes offsetof() its first new field. */
static const size_t stats_size[] = {0, offsetof(mc_transport_stats, duplicates), sizeof(mc_transport_stats)};
#define STATS_VERSIONS (sizeof(stats_size) / sizeof(stats_size[0]) - 1)

static int stats_version_ok(const mc_transport_stats *s, unsigned int version)
{
    if (!s)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if (version < 1 || version > STATS_VERSIONS)
        return mc__error_set(MC_EINVAL,
                             "mc_transport_stats version %u is not known (initialize it with "
                             "MC_TRANSPORT_STATS_INIT)",
                             version);
    return 0;
}

int mc_transport_stats_init(mc_transport_stats *stats, unsigned int version)
{
    const mc_transport_stats init = MC_TRANSPORT_STATS_INIT;
    int rc;
    if ((rc = stats_version_ok(stats, version)))
        return rc;
    memcpy(stats, &init, stats_size[version]);
    stats->version = version;
    return 0;
}

int mc_transport_statistics(mc_transport_stats *out, mc_transport *t)
{
    mc_transport_stats now;
    unsigned int version;
    int rc;
    if (!t)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = stats_version_ok(out, out ? out->version : 0)))
        return rc;
    version = out->version;
    pthread_mutex_lock(&t->lock);
    now = t->stats;
    pthread_mutex_unlock(&t->lock);
    memcpy(out, &now, stats_size[version]);
    out->version = version;
    return 0;
}

/* The health of the background loop, for mc_transport_statistics. */
static void note_outcome(mc_transport *t, int rc)
{
    pthread_mutex_lock(&t->lock);
    if (rc) {
        t->stats.consecutive_failures++;
        t->stats.last_error = rc;
        snprintf(t->stats.last_error_text, sizeof(t->stats.last_error_text), "%s",
                 *mc_error_last() ? mc_error_last() : mc_strerror(rc));
    } else {
        t->stats.consecutive_failures = 0;
        t->stats.last_error = 0;
        t->stats.last_error_text[0] = 0;
    }
    pthread_mutex_unlock(&t->lock);
}

static void wake_thread(mc_transport *t)
{
    ssize_t r = write(t->wake[1], "x", 1);
    (void)r; /* a full pipe already wakes it */
}

/* ---- the receiver's lock ----
 * Every receiver call but set_deadline runs with t->io held, the receive
 * thread's wait included, so a backend is single-threaded and needs no lock
 * of its own. A thread that needs the receiver while the receive thread
 * waits asks for it: io_wanted makes the receive thread step aside, and the
 * wake pipe ends its wait (a backend's wait returns when wake_fd is
 * readable). SIGPIPE from a dead socket is blocked while a backend runs. */

typedef struct {
    sigset_t old;
    bool was_pending;
} sigpipe_guard;

static void sigpipe_block(sigpipe_guard *g)
{
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigpending(&pend);
    g->was_pending = sigismember(&pend, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

/* swallows a SIGPIPE the backend caused, then restores the mask */
static void sigpipe_restore(sigpipe_guard *g)
{
    sigset_t set, pend;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigpending(&pend);
    if (!g->was_pending && sigismember(&pend, SIGPIPE)) {
        struct timespec zero = {0, 0};
        sigtimedwait(&set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* Another thread's entry. until: NULL waits for as long as it takes;
 * otherwise ETIMEDOUT once that CLOCK_REALTIME instant passes. */
static int io_enter(mc_transport *t, const struct timespec *until, sigpipe_guard *g)
{
    int r;
    atomic_fetch_add(&t->io_wanted, 1);
    wake_thread(t);
    r = until ? pthread_mutex_timedlock(&t->io, until) : pthread_mutex_lock(&t->io);
    atomic_fetch_sub(&t->io_wanted, 1);
    if (!r)
        sigpipe_block(g);
    return r;
}

static void io_leave(mc_transport *t, sigpipe_guard *g)
{
    sigpipe_restore(g);
    pthread_cond_broadcast(&t->io_free);
    pthread_mutex_unlock(&t->io);
}

/* The receive thread's entry: after every other thread that asked. */
static void io_enter_loop(mc_transport *t, sigpipe_guard *g)
{
    pthread_mutex_lock(&t->io);
    while (atomic_load(&t->io_wanted))
        pthread_cond_wait(&t->io_free, &t->io);
    sigpipe_block(g);
}

/* ---- caches (t->lock held) ---- */

static void entry_free(entry *e)
{
    free(e->id);
    free(e->channel);
    mc_message_free(e->msg);
    free(e);
}

static void cache_unlink(mc_transport *t, entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        t->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        t->tail = e->prev;
    t->stats.cached--;
    t->stats.cached_bytes -= e->bytes;
}

static known *known_get(mc_transport *t, const char *id) { return mc__strmap_get(&t->known, id, NULL); }

static bool retried(int state) { return state == KNOWN_PENDING || state == KNOWN_INVALID; }

static known *known_set(mc_transport *t, const char *id, int state)
{
    known *k = known_get(t, id);
    if (!k) {
        if (!(k = calloc(1, sizeof(*k))))
            return NULL;
        if (mc__strmap_put(&t->known, id, k)) {
            free(k);
            return NULL;
        }
    }
    t->nretry -= retried(k->state);
    t->nretry += retried(state);
    k->state = state;
    k->listed = t->listing;
    return k;
}

static void known_forget(mc_transport *t, const char *id)
{
    void *v;
    if (mc__strmap_remove(&t->known, id, &v)) {
        t->nretry -= retried(((known *)v)->state);
        free(v);
    }
}

static mc__listener_slot *slot_for(mc_transport *t, const char *channel)
{
    for (mc__listener_slot *s = t->slots; s; s = s->next)
        if (!s->shut && !strcmp(s->channel, channel))
            return s;
    return NULL;
}

static bool deliverable(mc_transport *t, const entry *e, const mc__listener_slot *s)
{
    return t->cfg.accept_existing_messages || e->arrived_ms >= s->opened_ms;
}

/* Makes room for one more entry of `bytes`: evicts cached mail that no open
 * listener can take (it stays on the server and is read again later). */
static bool cache_make_room(mc_transport *t, size_t bytes)
{
    entry *e = t->head, *next;
    while (e &&
           (t->stats.cached + 1 > t->cfg.cache_count || t->stats.cached_bytes + bytes > t->cfg.cache_bytes)) {
        mc__listener_slot *s = slot_for(t, e->channel);
        next = e->next;
        if (!s || !deliverable(t, e, s)) {
            cache_unlink(t, e);
            known_set(t, e->id, KNOWN_PENDING); /* read again when there is room */
            entry_free(e);
        }
        e = next;
    }
    return t->stats.cached + 1 <= t->cfg.cache_count && t->stats.cached_bytes + bytes <= t->cfg.cache_bytes;
}

static int deleting_add(mc_transport *t, const char *id)
{
    char *copy;
    if (t->ndeleting == t->capdeleting) {
        size_t ncap = t->capdeleting ? t->capdeleting * 2 : 64;
        char **g = realloc(t->deleting, ncap * sizeof(char *));
        if (!g)
            return MC_ENOMEM;
        t->deleting = g;
        t->capdeleting = ncap;
    }
    if (!(copy = mc__strdup(id)))
        return MC_ENOMEM;
    if (!t->ndeleting) {
        /* the first of a batch: the receive thread flushes it within delete_delay */
        t->delete_due_ms = mc__mono_ms() + t->cfg.delete_delay_ms;
        wake_thread(t);
    }
    t->deleting[t->ndeleting++] = copy;
    return known_set(t, id, KNOWN_DELETING) ? 0 : MC_ENOMEM;
}

/* ---- the deleted-message cache flush (t->io held, t->lock not) ---- */

/* What after_receive asks for these received mails: one batch deleted, or
 * moved into archive_folder. */
static int dispose(mc_transport *t, const char *const *ids, size_t n)
{
    if (t->cfg.after_receive == MC__AFTER_MOVE)
        return t->receiver->ops->move(t->receiver, ids, n, t->cfg.archive_folder);
    return t->receiver->ops->remove(t->receiver, ids, n);
}

static int flush_deleted(mc_transport *t)
{
    bool moving = t->cfg.after_receive == MC__AFTER_MOVE;
    char **ids;
    size_t n;
    int rc;
    pthread_mutex_lock(&t->lock);
    ids = t->deleting;
    n = t->ndeleting;
    t->deleting = NULL;
    t->ndeleting = t->capdeleting = 0;
    pthread_mutex_unlock(&t->lock);
    if (!n) {
        free(ids);
        return 0;
    }
    rc = dispose(t, (const char *const *)ids, n);
    if (!rc && moving)
        mc__log(MC_LOG_DEBUG, "moved %zu received mail(s) to %s", n, t->cfg.archive_folder);
    pthread_mutex_lock(&t->lock);
    if (rc) {
        /* keep them for the next try, ahead of what was added meanwhile */
        mc__log(MC_LOG_WARN, "%s %zu received mail(s) failed: %s; will retry",
                moving ? "moving to archive_folder" : "deleting", n, mc_error_last());
        for (size_t i = 0; i < t->ndeleting; i++) {
            char **g = realloc(ids, (n + 1) * sizeof(char *));
            if (!g)
                break;
            ids = g;
            ids[n++] = t->deleting[i];
            t->deleting[i] = NULL;
        }
        for (size_t i = 0; i < t->ndeleting; i++)
            free(t->deleting[i]);
        free(t->deleting);
        t->deleting = ids;
        t->ndeleting = t->capdeleting = n;
    } else {
        if (!moving)
            t->stats.deleted += n;
        for (size_t i = 0; i < n; i++) {
            known_forget(t, ids[i]);
            free(ids[i]);
        }
        free(ids);
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

static void set_deadline(mc_transport *t, int64_t deadline_ms)
{
    if (t->receiver && t->receiver->ops->set_deadline)
        t->receiver->ops->set_deadline(t->receiver, deadline_ms);
}

/* The synchronous flush of close and free: retries with back-off, all of it
 * within close_timeout_ms, even when the receive thread is stuck on a silent
 * server (the deadline ends its wait too). */
static int flush_with_retries(mc_transport *t)
{
    int64_t deadline = mc__mono_ms() + t->cfg.close_timeout_ms;
    struct timespec until;
    int rc = 0;
    unsigned delay = 100;
    sigpipe_guard g;
    set_deadline(t, deadline);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += t->cfg.close_timeout_ms / 1000;
    until.tv_nsec += (long)(t->cfg.close_timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    if (io_enter(t, &until, &g)) {
        set_deadline(t, 0);
        mc__log(MC_LOG_ERROR,
                "deleting received mail: the server did not answer within %d ms; the ids stay cached",
                t->cfg.close_timeout_ms);
        return mc__error_set(MC_ETIMEOUT, "the server did not answer within %d ms", t->cfg.close_timeout_ms);
    }
    for (unsigned i = 0; i <= t->cfg.flush_retries; i++) {
        if (!(rc = flush_deleted(t)))
            break;
        if (i < t->cfg.flush_retries && mc__mono_ms() + delay < deadline) {
            struct timespec ts = {delay / 1000, (long)(delay % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            delay *= 2;
        } else {
            break;
        }
    }
    io_leave(t, &g);
    set_deadline(t, 0);
    if (rc)
        mc__log(MC_LOG_ERROR, "giving up deleting received mail (%s); the ids stay cached", mc_error_last());
    return rc;
}

/* ---- one query (t->io held) ---- */

static size_t raw_limit(const mc_transport *t)
{
    size_t m = t->cfg.max_received_message_size;
    return m + m / 2 + 65536; /* base64 growth, MIME headers, the people's text part */
}

/* Invalid mail past its retry count, with dead_letter_folder set: moved
 * there, the reason logged. A move that fails leaves it where it is (never
 * deleted: the user asked to keep it), tried again at the next query. */
static void dead_letter(mc_transport *t, const char *id, const mc_mail_info *info)
{
    const char *folder = t->cfg.dead_letter_folder;
    if (t->receiver->ops->move(t->receiver, &id, 1, folder)) {
        mc__log(MC_LOG_WARN, "cannot move invalid mail %s to dead_letter_folder %s: %s; will retry", id,
                folder, mc_error_last());
        return;
    }
    mc__log(MC_LOG_WARN, "moved invalid mail %s for channel %s to %s after %u attempts: %s", id,
            info->channel ? info->channel : "?", folder, t->cfg.receive_retry_count, info->reason);
    pthread_mutex_lock(&t->lock);
    t->stats.invalid++;
    known_forget(t, id);
    pthread_mutex_unlock(&t->lock);
}

static void act_invalid(mc_transport *t, const char *id, const mc_mail_info *info)
{
    known *k;
    bool remove;
    pthread_mutex_lock(&t->lock);
    k = known_set(t, id, KNOWN_INVALID);
    remove = !k || ++k->attempts >= t->cfg.receive_retry_count;
    pthread_mutex_unlock(&t->lock);
    if (!remove) {
        mc__log(MC_LOG_INFO, "invalid mail %s (attempt %u of %u): %s", id, k->attempts,
                t->cfg.receive_retry_count, info->reason);
        return;
    }
    if (has_dead_letter(&t->cfg)) {
        dead_letter(t, id, info);
        return;
    }
    if (t->receiver->ops->remove(t->receiver, &id, 1)) {
        mc__log(MC_LOG_WARN, "cannot delete invalid mail %s: %s", id, mc_error_last());
        return;
    }
    mc__log(MC_LOG_WARN, "deleted invalid mail %s for channel %s after %u attempts: %s", id,
            info->channel ? info->channel : "?", t->cfg.receive_retry_count, info->reason);
    pthread_mutex_lock(&t->lock);
    t->stats.invalid++;
    known_forget(t, id);
    pthread_mutex_unlock(&t->lock);
}

/* Malformed mail goes to the trash. Where that fails (a server with no
 * trash folder that refuses to make one), it must not stay in the watched
 * folder forever: like invalid mail it is deleted after receive_retry_count
 * attempts. */
static void act_malformed(mc_transport *t, const char *id, const mc_mail_info *info)
{
    const char *folder = NULL;
    char why[512];
    known *k;
    bool remove;
    int rc = t->receiver->ops->move_to_trash(t->receiver, id, &folder);
    if (!rc || rc == MC_ENOTFOUND) {
        if (!rc)
            mc__log(MC_LOG_WARN, "moved malformed mail %s to %s: %s", id, folder ? folder : "the trash",
                    info->reason);
        pthread_mutex_lock(&t->lock);
        if (!rc)
            t->stats.malformed++;
        known_forget(t, id);
        pthread_mutex_unlock(&t->lock);
        return;
    }
    snprintf(why, sizeof(why), "%s", mc_error_last());
    pthread_mutex_lock(&t->lock);
    k = known_set(t, id, KNOWN_INVALID);
    remove = !k || ++k->attempts >= t->cfg.receive_retry_count;
    pthread_mutex_unlock(&t->lock);
    if (!remove) {
        mc__log(MC_LOG_DEBUG, "cannot move malformed mail %s to the trash (attempt %u of %u): %s", id,
                k->attempts, t->cfg.receive_retry_count, why);
        return;
    }
    if (t->receiver->ops->remove(t->receiver, &id, 1)) {
        mc__log(MC_LOG_WARN, "cannot delete malformed mail %s: %s", id, mc_error_last());
        return;
    }
    mc__log(MC_LOG_WARN, "deleted malformed mail %s after %u attempts to move it to the trash (%s): %s", id,
            t->cfg.receive_retry_count, why, info->reason);
    pthread_mutex_lock(&t->lock);
    t->stats.malformed++;
    known_forget(t, id);
    pthread_mutex_unlock(&t->lock);
}

/* ---- exactly-once delivery (with a state store) ---- */

/* A mail whose wsa:MessageID was delivered before is deleted, not cached:
 * true then. A store that cannot be read leaves the mail PENDING (true). */
static bool already_delivered(mc_transport *t, const char *id, const mc_message *msg)
{
    const char *mid = mc_message_message_id(msg);
    int seen;
    if (!t->cfg.state || !mid || !*mid)
        return false;
    seen = t->cfg.state->ops->seen(t->cfg.state, mid);
    if (seen == 0)
        return false;
    pthread_mutex_lock(&t->lock);
    if (seen > 0) {
        mc__log(MC_LOG_INFO, "mail %s repeats message %s, delivered before: deleting it", id, mid);
        t->stats.duplicates++;
        if (deleting_add(t, id))
            known_set(t, id, KNOWN_PENDING);
    } else {
        mc__log(MC_LOG_WARN, "mail %s stays on the server: %s", id, mc_error_last());
    }
    pthread_mutex_unlock(&t->lock);
    return true;
}

static void act(mc_transport *t, const mc__mail_item *it, mc_mail_info *info)
{
    const char *id = it->id;
    switch (info->kind) {
    case MC_MAIL_NOT_OURS:
        pthread_mutex_lock(&t->lock);
        known_set(t, id, KNOWN_IGNORED);
        pthread_mutex_unlock(&t->lock);
        break;
    case MC_MAIL_MALFORMED:
        act_malformed(t, id, info);
        break;
    case MC_MAIL_EXPIRED:
        if (t->receiver->ops->remove(t->receiver, &id, 1)) {
            mc__log(MC_LOG_WARN, "cannot delete expired mail %s: %s", id, mc_error_last());
            break;
        }
        mc__log(MC_LOG_INFO, "deleted expired mail %s for channel %s", id, info->channel);
        pthread_mutex_lock(&t->lock);
        t->stats.expired++;
        known_forget(t, id);
        pthread_mutex_unlock(&t->lock);
        break;
    case MC_MAIL_INVALID:
        act_invalid(t, id, info);
        break;
    case MC_MAIL_OK: {
        entry *e;
        size_t bytes = 0;
        if (already_delivered(t, id, info->message))
            break;
        e = calloc(1, sizeof(*e));
        if (!e || !(e->id = mc__strdup(id)) || !(e->channel = mc__strdup(info->channel)) ||
            mc_message_set_property(info->message, MC_PROP_MAIL_ID, id)) {
            if (e)
                entry_free(e);
            break;
        }
        mc_message_body(info->message, &bytes);
        e->msg = info->message;
        info->message = NULL;
        e->bytes = bytes;
        e->arrived_ms = it->arrived_ms;
        pthread_mutex_lock(&t->lock);
        if (!cache_make_room(t, e->bytes) || !known_set(t, id, KNOWN_CACHED)) {
            pthread_mutex_unlock(&t->lock);
            entry_free(e); /* stays on the server; read again when there is room */
            break;
        }
        e->prev = t->tail;
        if (t->tail)
            t->tail->next = e;
        else
            t->head = e;
        t->tail = e;
        t->stats.cached++;
        t->stats.cached_bytes += e->bytes;
        pthread_cond_broadcast(&t->cv);
        pthread_mutex_unlock(&t->lock);
        break;
    }
    }
}

/* Marks a listed mail as listed now; true if it is to be read: new, or not
 * finished with, and there is room in the cache (else it stays PENDING). */
static bool needs_reading(mc_transport *t, const mc__mail_item *it)
{
    known *k;
    bool read;
    pthread_mutex_lock(&t->lock);
    k = known_get(t, it->id);
    if (!k && (k = known_set(t, it->id, KNOWN_PENDING))) {
        k->size = it->size;
        k->arrived_ms = it->arrived_ms;
    }
    if (k)
        k->listed = t->listing;
    read = !k || retried(k->state);
    if (read && (t->stats.cached >= t->cfg.cache_count || t->stats.cached_bytes >= t->cfg.cache_bytes))
        read = cache_make_room(t, 0);
    pthread_mutex_unlock(&t->lock);
    return read;
}

static void read_item(mc_transport *t, const mc__mail_item *it)
{
    char *data = NULL;
    size_t len = 0;
    bool truncated = false;
    mc_mail_info *info = NULL;
    size_t limit = raw_limit(t);
    /* a mail over the limit is read only far enough to see its headers */
    int rc = t->receiver->ops->fetch(t->receiver, it->id, it->size > limit ? 65536 : limit, &data, &len,
                                     &truncated);
    if (rc) {
        if (rc != MC_ENOTFOUND) {
            mc__log(MC_LOG_WARN, "cannot read mail %s: %s", it->id, mc_error_last());
            return; /* PENDING: read again at the next query */
        }
        pthread_mutex_lock(&t->lock);
        known_forget(t, it->id); /* gone meanwhile */
        pthread_mutex_unlock(&t->lock);
        return;
    }
    rc = mc__mail_classify_filtered(&info, data, len, t->cfg.max_received_message_size, 0, t->cfg.security,
                                    it->id);
    free(data);
    if (rc)
        return;
    if (truncated && (info->kind == MC_MAIL_OK || info->kind == MC_MAIL_INVALID)) {
        mc_message_free(info->message);
        info->message = NULL;
        free(info->reason);
        info->kind = MC_MAIL_INVALID;
        info->error = MC_ETOOBIG;
        info->reason = mc__strdup("the mail is larger than max_received_message_size allows");
    }
    act(t, it, info);
    mc_mail_info_free(info);
}

/* A receiver that lists headers lets us pass over mail without the stamp
 * without fetching it: it is not ours, and stays untouched. */
static bool unstamped(mc_transport *t, const mc__mail_item *it)
{
    bool skip = it->headers && !mc__mail_stamped(it->headers, strlen(it->headers));
    if (skip) {
        pthread_mutex_lock(&t->lock);
        known_set(t, it->id, KNOWN_IGNORED);
        pthread_mutex_unlock(&t->lock);
    }
    return skip;
}

/* After a full listing: forgets what is no longer on the server, cached
 * entries and ids that were not listed. */
static void prune(mc_transport *t)
{
    pthread_mutex_lock(&t->lock);
    for (entry *e = t->head, *next; e; e = next) {
        known *k = known_get(t, e->id);
        next = e->next;
        if (k && k->listed != t->listing) {
            cache_unlink(t, e);
            entry_free(e);
        }
    }
    for (size_t i = 0; i < t->known.cap; i++) {
        void *v;
        const char *key = mc__strmap_slot(&t->known, i, &v);
        known *k = v;
        if (key && k->listed != t->listing && k->state != KNOWN_DELETING) {
            t->nretry -= retried(k->state);
            mc__strmap_remove(&t->known, key, NULL);
            free(k);
        }
    }
    pthread_mutex_unlock(&t->lock);
}

/* After an incremental listing: what the receiver says left the folder. */
static void forget_gone(mc_transport *t, char *const *gone, size_t n)
{
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < n; i++) {
        known *k = known_get(t, gone[i]);
        if (!k || k->state == KNOWN_DELETING)
            continue; /* ours to delete: a missing mail counts as deleted */
        for (entry *e = t->head; e; e = e->next) {
            if (!strcmp(e->id, gone[i])) {
                cache_unlink(t, e);
                entry_free(e);
                break;
            }
        }
        known_forget(t, gone[i]);
    }
    pthread_mutex_unlock(&t->lock);
}

static void take_item(mc_transport *t, const mc__mail_item *it)
{
    if (needs_reading(t, it) && !unstamped(t, it))
        read_item(t, it);
}

/* After an incremental listing: mail listed before and not finished with
 * (no room, a failed action, an invalid one under its retry count) is read
 * again, as a full listing would have listed it again. Costs nothing while
 * nothing waits. */
static void retry_known(mc_transport *t)
{
    mc__mail_item *again = NULL;
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    if (t->nretry && (again = calloc(t->nretry, sizeof(*again)))) {
        for (size_t i = 0; i < t->known.cap && n < t->nretry; i++) {
            void *v;
            const char *key = mc__strmap_slot(&t->known, i, &v);
            known *k = v;
            if (!key || !retried(k->state) || k->listed == t->listing)
                continue;
            if (!(again[n].id = mc__strdup(key)))
                break;
            again[n].size = k->size;
            again[n].arrived_ms = k->arrived_ms;
            n++;
        }
    }
    pthread_mutex_unlock(&t->lock);
    for (size_t i = 0; i < n; i++) {
        take_item(t, &again[i]);
        free(again[i].id);
    }
    free(again);
}

static void listing_free(mc__listing *l)
{
    for (size_t i = 0; i < l->count; i++) {
        free(l->items[i].id);
        free(l->items[i].headers);
    }
    free(l->items);
    for (size_t i = 0; i < l->ngone; i++)
        free(l->gone[i]);
    free(l->gone);
}

static int query(mc_transport *t)
{
    mc__listing l = {0};
    int rc;
    flush_deleted(t);
    if ((rc = t->receiver->ops->list(t->receiver, &l))) {
        mc__log(MC_LOG_WARN, "listing the mailbox failed: %s", mc_error_last());
        listing_free(&l);
        return rc;
    }
    pthread_mutex_lock(&t->lock);
    t->listing++;
    pthread_mutex_unlock(&t->lock);
    for (size_t i = 0; i < l.count; i++)
        take_item(t, &l.items[i]);
    if (l.full) {
        prune(t);
    } else {
        forget_gone(t, l.gone, l.ngone);
        retry_known(t);
    }
    listing_free(&l);
    pthread_mutex_lock(&t->lock);
    t->stats.queries++;
    pthread_mutex_unlock(&t->lock);
    return 0;
}

static void drain_wake(mc_transport *t)
{
    char buf[64];
    while (read(t->wake[0], buf, sizeof(buf)) > 0) {
    }
}

void mc__receiver_retry_after(mc__receiver *r, int ms) { atomic_store(&r->retry_after_ms, ms > 0 ? ms : 0); }

/* what the server asked for, once (0: nothing) */
static int server_wait(mc_transport *t)
{
    int ms = atomic_exchange(&t->receiver->retry_after_ms, 0);
    if (ms > 0)
        mc__log(MC_LOG_INFO, "the server asked to wait %d ms before the next request", ms);
    return ms;
}

/* Sleeps until `until`, or less when woken (a stop, a listener, a
 * receive): the caller looks again. No receiver call. */
static void quiet_until(mc_transport *t, int64_t until)
{
    struct pollfd p = {t->wake[0], POLLIN, 0};
    int64_t left = until - mc__mono_ms();
    if (left > 0)
        poll(&p, 1, (int)left);
    drain_wake(t);
}

/* back-off after n failures in a row: 500 ms doubling, at most the query interval */
static int backoff_ms(const mc_transport *t, unsigned n)
{
    int64_t b = 500;
    while (--n && b < t->cfg.server_query_interval_ms)
        b *= 2;
    return (int)(b < t->cfg.server_query_interval_ms ? b : t->cfg.server_query_interval_ms);
}

/* The receive thread: a query when the server announces mail, a listener
 * opens, or the interval has passed; the deleted-message cache flushed within
 * delete_delay of the receive that filled it (so a crash redelivers at most
 * that much), also before going back to waiting. */
static void *receive_loop(void *arg)
{
    mc_transport *t = arg;
    unsigned failures = 0, wait_failures = 0;
    bool query_now = true;
    int64_t next_query = 0, hold_until = 0;
    for (;;) {
        int rc = 0, wrc, timeout, asked;
        int64_t now, until, due = -1;
        sigpipe_guard g;
        pthread_mutex_lock(&t->lock);
        if (t->stopping) {
            pthread_mutex_unlock(&t->lock);
            break;
        }
        if (t->query_requested)
            query_now = true;
        t->query_requested = false;
        if (t->ndeleting)
            due = t->delete_due_ms;
        pthread_mutex_unlock(&t->lock);
        drain_wake(t);
        now = mc__mono_ms();
        if (now < hold_until) {
            /* the server asked for quiet: no request at all until then */
            quiet_until(t, hold_until);
            continue;
        }
        io_enter_loop(t, &g);
        rc = t->opened ? 0 : t->receiver->ops->open(t->receiver);
        if (!rc) {
            t->opened = true;
            if (query_now || now >= next_query) {
                rc = query(t); /* flushes first */
                query_now = rc != 0;
                next_query = mc__mono_ms() + t->cfg.server_query_interval_ms;
            } else if (due >= 0 && now >= due) {
                rc = flush_deleted(t);
            }
        }
        note_outcome(t, rc);
        failures = rc ? failures + 1 : 0;
        now = mc__mono_ms();
        until = next_query;
        pthread_mutex_lock(&t->lock);
        if (t->ndeleting && t->delete_due_ms < until)
            until = t->delete_due_ms;
        pthread_mutex_unlock(&t->lock);
        if (failures + wait_failures && (asked = server_wait(t))) {
            hold_until = mc__mono_ms() + asked;
            sigpipe_restore(&g);
            pthread_mutex_unlock(&t->io);
            continue;
        }
        if (failures + wait_failures) {
            timeout = backoff_ms(t, failures + wait_failures);
        } else {
            timeout = until > now ? (int)(until - now) : 0;
        }
        /* with io held: a thread that asks for it wakes this wait */
        wrc = t->receiver->ops->wait(t->receiver, timeout, t->wake[0]);
        if (wrc > 0) {
            query_now = true;
            wait_failures = 0;
        } else if (wrc < 0) {
            /* the connection failed while waiting: back off, then reconnect */
            note_outcome(t, wrc);
            query_now = true;
            wait_failures++;
            if ((asked = server_wait(t)))
                hold_until = mc__mono_ms() + asked;
            else
                t->receiver->ops->wait(t->receiver, backoff_ms(t, failures + wait_failures), t->wake[0]);
        } else if (!failures) {
            wait_failures = 0;
        }
        sigpipe_restore(&g);
        pthread_mutex_unlock(&t->io);
    }
    return NULL;
}

/* ---- listeners and input channels ---- */

int mc__transport_listen(mc_transport *t, const char *channel, mc__listener_slot **out)
{
    mc__listener_slot *s;
    int rc = 0;
    if (!t->receiver)
        return mc__error_set(MC_EINVAL, "this transport only sends");
    /* the first listener connects here, so a wrong CA, password or server
     * fails the open with its own error instead of only being logged later */
    sigpipe_guard g;
    io_enter(t, NULL, &g);
    if (!t->opened && !(rc = t->receiver->ops->open(t->receiver)))
        t->opened = true;
    io_leave(t, &g);
    if (rc && t->cfg.open_offline && (rc == MC_EIO || rc == MC_ETIMEOUT)) {
        /* queued: the server may be away; the receive thread connects when it is back */
        mc__log(MC_LOG_WARN, "the server cannot be reached now (%s); receiving starts when it can",
                mc_error_last());
        rc = 0;
    }
    if (rc)
        return rc;
    pthread_mutex_lock(&t->lock);
    if (slot_for(t, channel)) {
        rc = mc__error_set(MC_EBUSY, "a listener for channel \"%s\" is already open on this transport",
                           channel);
        goto done;
    }
    if (!(s = calloc(1, sizeof(*s))) || !(s->channel = mc__strdup(channel))) {
        free(s);
        rc = mc__error_set(MC_ENOMEM, "out of memory");
        goto done;
    }
    /* file systems stamp mail with the kernel's coarse clock: compare like with like,
     * so mail written after this instant never looks older than the listener */
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME_COARSE, &ts);
        s->opened_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    if (!t->thread_running) {
        if (pthread_create(&t->thread, NULL, receive_loop, t)) {
            free(s->channel);
            free(s);
            rc = mc__error_set(MC_EIO, "cannot start the receive thread");
            goto done;
        }
        t->thread_running = true;
    }
    s->next = t->slots;
    t->slots = s;
    *out = s;
    t->query_requested = true;
    wake_thread(t);
done:
    pthread_mutex_unlock(&t->lock);
    return rc;
}

void mc__transport_unlisten(mc_transport *t, mc__listener_slot *slot)
{
    pthread_mutex_lock(&t->lock);
    for (mc__listener_slot **p = &t->slots; *p; p = &(*p)->next) {
        if (*p == slot) {
            *p = slot->next;
            break;
        }
    }
    pthread_mutex_unlock(&t->lock);
    free(slot->channel);
    free(slot);
}

void mc__slot_shutdown(mc_transport *t, mc__listener_slot *slot)
{
    pthread_mutex_lock(&t->lock);
    slot->shut = true;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->lock);
}

int mc__slot_open(mc_transport *t, mc__listener_slot *slot, int timeout_ms)
{
    int64_t deadline = mc__deadline(timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&t->lock);
    while (!slot->shut && slot->channel_open) {
        if (!wait_until(&t->cv, &t->lock, deadline) && slot->channel_open) {
            rc = mc__error_set(MC_ETIMEOUT, "another input channel of this listener is still open");
            goto done;
        }
    }
    if (slot->shut) {
        rc = mc__error_set(MC_ECLOSED, "the listener is closed");
        goto done;
    }
    slot->channel_open = true;
    t->open_channels++;
    rc = (int)slot->gen;
done:
    pthread_mutex_unlock(&t->lock);
    return rc;
}

int mc__slot_close(mc_transport *t, mc__listener_slot *slot, bool flush)
{
    bool last;
    pthread_mutex_lock(&t->lock);
    slot->channel_open = false;
    slot->gen++;
    last = --t->open_channels == 0;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->lock);
    if (last && flush && flush_with_retries(t))
        return mc__error_set(MC_EIO, "deleting received mail failed; the ids stay cached");
    return 0;
}

static int delivery_outcome(mc_transport *t, entry *e, int rc);

/* Records a message about to be handed over (t->lock held; released while
 * the store works). 0: hand it over; 1: delivered before (the mail is being
 * deleted, e freed); < 0: the store failed (e freed, the mail read again at
 * the next query, the error returned to the caller). */
static int record_delivery(mc_transport *t, entry *e)
{
    const char *mid = mc_message_message_id(e->msg);
    int rc;
    if (!mid || !*mid)
        return 0;
    pthread_mutex_unlock(&t->lock);
    rc = t->cfg.state->ops->record(t->cfg.state, mid, e->id);
    pthread_mutex_lock(&t->lock);
    return delivery_outcome(t, e, rc);
}

/* What a check before hand-over decided (t->lock held): 0 hand it over; 1
 * a duplicate (deleted, e freed); < 0 failed (e freed, read again later). */
static int delivery_outcome(mc_transport *t, entry *e, int rc)
{
    const char *mid = mc_message_message_id(e->msg);
    if (rc > 0) {
        mc__log(MC_LOG_INFO, "mail %s repeats message %s, delivered before: deleting it", e->id,
                mid ? mid : "(no id)");
        t->stats.duplicates++;
        if (deleting_add(t, e->id))
            known_set(t, e->id, KNOWN_PENDING);
    } else if (rc < 0) {
        known_set(t, e->id, KNOWN_PENDING);
    }
    if (rc)
        entry_free(e);
    return rc;
}

void mc__slot_set_accept(mc_transport *t, mc__listener_slot *slot, mc__accept_fn fn, void *ud)
{
    pthread_mutex_lock(&t->lock);
    slot->accept = fn;
    slot->accept_ud = ud;
    pthread_mutex_unlock(&t->lock);
}

int mc__slot_receive(mc_transport *t, mc__listener_slot *slot, unsigned gen, int timeout_ms, bool take,
                     mc_message **out)
{
    int64_t deadline = mc__deadline(timeout_ms);
    int rc;
    pthread_mutex_lock(&t->lock);
    for (;;) {
        entry *e;
        if (slot->gen != gen || !slot->channel_open || slot->shut) {
            rc = mc__error_set(MC_ECLOSED, "the input channel was closed");
            break;
        }
        for (e = t->head; e; e = e->next)
            if (!strcmp(e->channel, slot->channel) && deliverable(t, e, slot))
                break;
        if (e && !take) {
            rc = 0;
            break;
        }
        if (e) {
            cache_unlink(t, e);
            if (t->receiver->ops->claim) {
                /* claim outside the lock: it is file-system or network work */
                sigpipe_guard g;
                pthread_mutex_unlock(&t->lock);
                io_enter(t, NULL, &g);
                rc = t->receiver->ops->claim(t->receiver, e->id);
                io_leave(t, &g);
                pthread_mutex_lock(&t->lock);
                if (rc) {
                    known_forget(t, e->id);
                    entry_free(e);
                    continue; /* another receiver has it */
                }
            }
            if (slot->accept) {
                /* the slot's owner keeps the message first (request.c: a
                 * reply is written to the store before its mail may go) */
                mc__accept_fn accept = slot->accept;
                void *ud = slot->accept_ud;
                pthread_mutex_unlock(&t->lock);
                rc = accept(ud, e->msg, e->id);
                pthread_mutex_lock(&t->lock);
                if ((rc = delivery_outcome(t, e, rc)) > 0)
                    continue;
                if (rc)
                    break;
            }
            if (t->cfg.state && (rc = record_delivery(t, e)) != 0) {
                if (rc > 0)
                    continue; /* delivered before: deleted, not delivered again */
                break;
            }
            if (deleting_add(t, e->id)) {
                rc = mc__error_set(MC_ENOMEM, "out of memory");
                entry_free(e);
                break;
            }
            t->stats.delivered++;
            *out = e->msg;
            e->msg = NULL;
            entry_free(e);
            rc = 0;
            break;
        }
        if (!wait_until(&t->cv, &t->lock, deadline)) {
            rc = mc__error_set(MC_ETIMEOUT, "no message within %d ms", timeout_ms);
            break;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

/* ---- sending ---- */

/* time_to_live: an expiry, counted from now, for a message without its own */
static int default_expiry(const mc_transport *t, mc_message *m)
{
    if (!t->cfg.time_to_live_s || mc_message_expiry(m))
        return 0;
    return mc_message_set_expiry(m, mc__wall_ms() / 1000 + t->cfg.time_to_live_s);
}

int mc__transport_send(mc_transport *t, const mc_message *msg, const char *to_uri, const char *channel,
                       const char *const *to, size_t nto, const mc__cancel_token *cancel)
{
    mc_mail_frame_options o = MC_MAIL_FRAME_OPTIONS_INIT;
    char *env = NULL, *mail = NULL;
    size_t env_len = 0, mail_len = 0;
    mc_message *copy = NULL;
    int rc;
    if (!t->sender)
        return mc__error_set(MC_EINVAL, "this transport only receives");
    /* what is sent carries the channel's address and the binding's SOAP
     * version; it is serialized once, checked against the limit, framed */
    if ((rc = mc_message_clone(&copy, msg)) || (rc = mc_message_set_to(copy, to_uri)) ||
        (rc = mc_message_set_soap_version(copy, t->cfg.soap_version)) || (rc = default_expiry(t, copy)) ||
        (rc = mc_message_serialize(&env, &env_len, copy)))
        goto done;
    if (t->cfg.security) {
        char *plain = env;
        rc = t->cfg.security->secure(t->cfg.security, plain, env_len, to, nto, &env, &env_len);
        free(plain);
        if (rc) {
            env = NULL;
            goto done;
        }
    }
    if (env_len > t->cfg.max_received_message_size) {
        rc = mc__error_set(MC_ETOOBIG, "the envelope is %zu bytes%s, over max_received_message_size (%zu)",
                           env_len, t->cfg.security ? " after message security" : "",
                           t->cfg.max_received_message_size);
        goto done;
    }
    o.from = t->cfg.address;
    o.to = to;
    o.to_count = nto;
    o.channel = channel;
    o.in_reply_to = mc__message_in_reply_to_mail(msg);
    o.container = t->cfg.container;
    o.minimum_attachment_size = t->cfg.minimum_attachment_size;
    if ((rc = mc__mail_frame_envelope(&mail, &mail_len, NULL, copy, env, env_len, &o)))
        goto done;
    if (cancel && *cancel) {
        rc = mc__error_set(MC_ECANCELED, "the send was cancelled");
        goto done;
    }
    pthread_mutex_lock(&t->send_lock);
    rc = t->sender->ops->send(t->sender, t->cfg.address, to, nto, mail, mail_len, cancel);
    pthread_mutex_unlock(&t->send_lock);
    if (!rc) {
        pthread_mutex_lock(&t->lock);
        t->stats.sent++;
        pthread_mutex_unlock(&t->lock);
    }
done:
    mc_message_free(copy);
    free(env);
    free(mail);
    return rc;
}

/* ---- teardown ---- */

static void free_known(void *k) { free(k); }

void mc_transport_free(mc_transport *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    for (mc__listener_slot *s = t->slots; s; s = s->next)
        s->shut = true;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->lock);
    if (t->thread_running) {
        wake_thread(t);
        pthread_join(t->thread, NULL);
    }
    if (t->ndeleting)
        flush_with_retries(t);
    if (t->opened) {
        sigpipe_guard g;
        io_enter(t, NULL, &g);
        t->receiver->ops->close(t->receiver);
        io_leave(t, &g);
    }
    halves_free(t->sender, t->receiver);
    while (t->head) {
        entry *e = t->head;
        cache_unlink(t, e);
        entry_free(e);
    }
    for (size_t i = 0; i < t->ndeleting; i++)
        free(t->deleting[i]);
    free(t->deleting);
    mc__strmap_free(&t->known, free_known);
    if (t->wake[0] >= 0) {
        close(t->wake[0]);
        close(t->wake[1]);
    }
    pthread_mutex_destroy(&t->lock);
    pthread_mutex_destroy(&t->io);
    pthread_mutex_destroy(&t->send_lock);
    pthread_cond_destroy(&t->cv);
    pthread_cond_destroy(&t->io_free);
    config_free(&t->cfg);
    free(t);
}
