/* wss_replay.c - the replay cache: SHA-256 of each accepted signature value,
 * kept until its message's Timestamp could no longer be accepted. Bounded:
 * when full of live entries, the one expiring first goes (and is logged),
 * so a flood can shorten protection but never exhaust memory.
 *
 * A hash map finds an entry; a min-heap on the expiry instant finds the
 * entries to drop. Every check costs O(log n) however full the cache is:
 * a busy receiver sits at capacity, and a scan of 100 000 entries per
 * message would cost more than the RSA work. */
#include <stdio.h>
#include <string.h>
#include <openssl/sha.h>
#include "wss_int.h"

typedef struct {
    char key[2 * SHA256_DIGEST_LENGTH + 1]; /* hex, the map's key */
    char *mail_id;
    int64_t expires;
    size_t slot; /* index in the heap */
} seen;

struct mc__wss_replay {
    pthread_mutex_t lock;
    mc__state *state; /* NULL: memory only */
    mc__strmap map;   /* key -> seen */
    seen **heap;      /* ordered on expires, the first to expire at [0] */
    size_t count, heap_cap, capacity;
};

static void seen_free(void *p)
{
    seen *s = p;
    if (s)
        free(s->mail_id);
    free(s);
}

static int remember(mc__wss_replay *r, const char *key, const char *mail_id, int64_t expires);

typedef struct {
    mc__wss_replay *r;
    int rc;
} loader;

static void load_one(void *ud, const char *key, const char *mail_id, int64_t expires_ms)
{
    loader *l = ud;
    if (!l->rc && key && strlen(key) == 2 * SHA256_DIGEST_LENGTH && !mc__strmap_get(&l->r->map, key, NULL))
        l->rc = remember(l->r, key, mail_id, expires_ms / 1000);
}

int mc__wss_replay_new(mc__wss_replay **out, size_t capacity, mc__state *state)
{
    mc__wss_replay *r = calloc(1, sizeof(*r));
    if (!r)
        return mc__error_set(MC_ENOMEM, "out of memory");
    r->capacity = capacity ? capacity : 1;
    r->state = state;
    pthread_mutex_init(&r->lock, NULL);
    mc__strmap_init(&r->map);
    if (state) {
        /* what a previous process accepted and is still inside the window */
        loader l = {r, 0};
        int rc = state->ops->replay_load(state, mc__wall_ms(), r->capacity, load_one, &l);
        if (rc || l.rc) {
            mc__wss_replay_free(r);
            return rc ? rc : l.rc;
        }
    }
    *out = r;
    return 0;
}

void mc__wss_replay_free(mc__wss_replay *r)
{
    if (!r)
        return;
    mc__strmap_free(&r->map, seen_free);
    free(r->heap);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* ---- the heap ---- */

static void place(mc__wss_replay *r, size_t i, seen *s)
{
    r->heap[i] = s;
    s->slot = i;
}

static void sift_up(mc__wss_replay *r, size_t i)
{
    seen *s = r->heap[i];
    while (i > 0 && r->heap[(i - 1) / 2]->expires > s->expires) {
        place(r, i, r->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    place(r, i, s);
}

static void sift_down(mc__wss_replay *r, size_t i)
{
    seen *s = r->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= r->count)
            break;
        if (c + 1 < r->count && r->heap[c + 1]->expires < r->heap[c]->expires)
            c++;
        if (r->heap[c]->expires >= s->expires)
            break;
        place(r, i, r->heap[c]);
        i = c;
    }
    place(r, i, s);
}

/* takes an entry out of the heap and the map, and frees it */
static void drop(mc__wss_replay *r, seen *s)
{
    size_t i = s->slot;
    seen *last = r->heap[--r->count];
    if (i < r->count) {
        place(r, i, last);
        sift_up(r, i);
        sift_down(r, last->slot);
    }
    mc__strmap_remove(&r->map, s->key, NULL);
    seen_free(s);
}

/* drops expired entries; when still full, the one expiring first */
static void make_room(mc__wss_replay *r, int64_t now)
{
    while (r->count && r->heap[0]->expires <= now)
        drop(r, r->heap[0]);
    if (r->count < r->capacity)
        return;
    if (r->state && r->state->ops->replay_remove(r->state, r->heap[0]->key))
        mc__log(MC_LOG_WARN, "replay cache: %s", mc_error_last());
    drop(r, r->heap[0]);
    mc__log(MC_LOG_WARN, "replay cache full (%zu signatures): forgot one still inside the replay window",
            r->capacity);
}

/* room for one more in the heap: it grows with use, up to the capacity */
static int heap_reserve(mc__wss_replay *r)
{
    size_t cap;
    seen **h;
    if (r->count < r->heap_cap)
        return 0;
    cap = r->heap_cap ? 2 * r->heap_cap : 64;
    if (cap > r->capacity)
        cap = r->capacity;
    if (!(h = realloc(r->heap, cap * sizeof(*h))))
        return MC_ENOMEM;
    r->heap = h;
    r->heap_cap = cap;
    return 0;
}

static int remember(mc__wss_replay *r, const char *key, const char *mail_id, int64_t expires)
{
    seen *s = heap_reserve(r) ? NULL : calloc(1, sizeof(*s));
    if (!s || (mail_id && !(s->mail_id = mc__strdup(mail_id))) || mc__strmap_put(&r->map, key, s)) {
        seen_free(s);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    memcpy(s->key, key, sizeof(s->key));
    s->expires = expires;
    place(r, r->count++, s);
    sift_up(r, s->slot);
    return 0;
}

int mc__wss_replay_check(mc__wss_replay *r, const unsigned char *value, size_t len, const char *mail_id,
                         int64_t expires, int64_t now)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    char key[2 * SHA256_DIGEST_LENGTH + 1];
    seen *s;
    int rc = 0;
    SHA256(value, len, md);
    for (size_t i = 0; i < sizeof(md); i++)
        snprintf(key + 2 * i, 3, "%02x", md[i]);
    pthread_mutex_lock(&r->lock);
    s = mc__strmap_get(&r->map, key, NULL);
    if (s && s->expires > now) {
        /* the same mail read again (a restart, a full cache) is no replay */
        if (!mail_id || !s->mail_id || strcmp(mail_id, s->mail_id))
            rc = mc__error_set(MC_ESECURITY,
                               "replayed message: this signature was accepted before "
                               "(mail %s)",
                               s->mail_id ? s->mail_id : "?");
        goto done;
    }
    make_room(r, now); /* an expired entry for this key goes here too */
    rc = remember(r, key, mail_id, expires);
    /* persisted: a restarted receiver still refuses a replay. If the store
     * fails, this process's cache still protects it (logged). */
    if (!rc && r->state && r->state->ops->replay_put(r->state, key, mail_id, expires * 1000))
        mc__log(MC_LOG_WARN, "replay cache not persisted: %s", mc_error_last());
done:
    pthread_mutex_unlock(&r->lock);
    return rc;
}
