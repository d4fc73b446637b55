/* wss_replay.c - the replay cache: SHA-256 of each accepted signature value,
 * kept until its message's Timestamp could no longer be accepted. Bounded:
 * when full of live entries, the one expiring first goes (and is logged),
 * so a flood can shorten protection but never exhaust memory. */
#include <stdio.h>
#include <string.h>
#include <openssl/sha.h>
#include "wss_int.h"

typedef struct {
    char *mail_id;
    int64_t expires;
} seen;

struct mc__wss_replay {
    pthread_mutex_t lock;
    mc__strmap map;
    size_t capacity;
};

static void seen_free(void *p)
{
    seen *s = p;
    if (s)
        free(s->mail_id);
    free(s);
}

int mc__wss_replay_new(mc__wss_replay **out, size_t capacity)
{
    mc__wss_replay *r = calloc(1, sizeof(*r));
    if (!r)
        return mc__error_set(MC_ENOMEM, "out of memory");
    pthread_mutex_init(&r->lock, NULL);
    mc__strmap_init(&r->map);
    r->capacity = capacity ? capacity : 1;
    *out = r;
    return 0;
}

void mc__wss_replay_free(mc__wss_replay *r)
{
    if (!r)
        return;
    mc__strmap_free(&r->map, seen_free);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* drops expired entries; when still full, the one expiring first */
static void make_room(mc__wss_replay *r, int64_t now)
{
    char oldest[2 * SHA256_DIGEST_LENGTH + 1] = "";
    int64_t oldest_t = INT64_MAX;
    void *v;
    for (size_t i = 0; i < r->map.cap; i++) {
        const char *k = mc__strmap_slot(&r->map, i, &v);
        if (k && ((seen *)v)->expires <= now) {
            snprintf(oldest, sizeof(oldest), "%s", k); /* the key is freed by remove */
            mc__strmap_remove(&r->map, oldest, &v);
            seen_free(v);
        }
    }
    if (r->map.count < r->capacity)
        return;
    for (size_t i = 0; i < r->map.cap; i++) {
        const char *k = mc__strmap_slot(&r->map, i, &v);
        if (k && ((seen *)v)->expires < oldest_t) {
            snprintf(oldest, sizeof(oldest), "%s", k);
            oldest_t = ((seen *)v)->expires;
        }
    }
    if (*oldest && mc__strmap_remove(&r->map, oldest, &v)) {
        seen_free(v);
        mc__log(MC_LOG_WARN, "replay cache full (%zu signatures): forgot one still inside the replay window",
                r->capacity);
    }
}

int mc__wss_replay_check(mc__wss_replay *r, const unsigned char *value, size_t len,
                         const char *mail_id, int64_t expires, int64_t now)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    char key[2 * SHA256_DIGEST_LENGTH + 1];
    seen *s;
    bool found;
    int rc = 0;
    SHA256(value, len, md);
    for (size_t i = 0; i < sizeof(md); i++)
        snprintf(key + 2 * i, 3, "%02x", md[i]);
    pthread_mutex_lock(&r->lock);
    s = mc__strmap_get(&r->map, key, &found);
    if (found && s->expires > now) {
        /* the same mail read again (a restart, a full cache) is no replay */
        if (!mail_id || !s->mail_id || strcmp(mail_id, s->mail_id))
            rc = mc__error_set(MC_ESECURITY, "replayed message: this signature was accepted before "
                                             "(mail %s)", s->mail_id ? s->mail_id : "?");
        goto done;
    }
    if (r->map.count >= r->capacity)
        make_room(r, now);
    if (!(s = calloc(1, sizeof(*s))) || (mail_id && !(s->mail_id = mc__strdup(mail_id)))) {
        seen_free(s);
        rc = mc__error_set(MC_ENOMEM, "out of memory");
        goto done;
    }
    s->expires = expires;
    if (found) {
        void *old;
        mc__strmap_remove(&r->map, key, &old);
        seen_free(old);
    }
    if (mc__strmap_put(&r->map, key, s)) {
        seen_free(s);
        rc = mc__error_set(MC_ENOMEM, "out of memory");
    }
done:
    pthread_mutex_unlock(&r->lock);
    return rc;
}
