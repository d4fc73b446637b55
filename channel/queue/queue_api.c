/* queue_api.c - mailchan/queue.h: a state store administered from outside
 * its owner (the CLI's queue commands). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "internal.h"
#include "store.h"

/* an existing store only: administration never creates one */
static int open_admin(mc__store **s, const char *path)
{
    struct stat st;
    if (!path || !*path)
        return mc__error_set(MC_EINVAL, "NULL or empty state path");
    if (stat(path, &st))
        return mc__error_set(MC_EIO, "state store %s does not exist", path);
    return mc__store_open(s, path, MC__STORE_ADMIN, NULL);
}

typedef struct {
    mc_queue_each_cb each;
    void *ud;
} lister;

static int list_one(const mc__outbox_row *r, void *arg)
{
    lister *l = arg;
    mc_queue_entry e;
    char *to = mc__outbox_row_recipients(r);
    int rc;
    if (!to)
        return mc__error_set(MC_ENOMEM, "out of memory");
    memset(&e, 0, sizeof(e));
    e.id = r->id;
    e.queued_ms = r->created_ms;
    e.next_attempt_ms = r->next_ms;
    e.dead_ms = r->dead_ms;
    e.attempts = r->attempts;
    e.from = r->from;
    e.to = to;
    e.bytes = r->len;
    e.last_error = r->last_error;
    rc = l->each(&e, l->ud);
    free(to);
    return rc;
}

int mc_queue_list(const char *state_path, bool dead, mc_queue_each_cb each, void *user_data)
{
    mc__store *s;
    lister l = {each, user_data};
    int rc;
    if (!each)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = open_admin(&s, state_path)))
        return rc;
    rc = mc__store_outbox_list(s, dead, list_one, &l);
    mc__store_free(s);
    return rc;
}

int mc_queue_retry(const char *state_path, int64_t id, size_t *count)
{
    mc__store *s;
    size_t a = 0, b = 0;
    int rc;
    if (id < 0)
        return mc__error_set(MC_EINVAL, "a queue id is positive (0: all)");
    if ((rc = open_admin(&s, state_path)))
        return rc;
    rc = mc__store_outbox_requeue(s, id, false, mc__wall_ms(), &a);
    if (!rc)
        rc = mc__store_outbox_requeue(s, id, true, mc__wall_ms(), &b);
    mc__store_free(s);
    if (count)
        *count = a + b;
    return rc;
}

int mc_queue_purge(const char *state_path, int64_t id, bool dead_only, size_t *count)
{
    mc__store *s;
    int rc;
    if (id < 0)
        return mc__error_set(MC_EINVAL, "a queue id is positive (0: all)");
    if ((rc = open_admin(&s, state_path)))
        return rc;
    rc = mc__store_outbox_purge(s, id, dead_only, count);
    mc__store_free(s);
    return rc;
}
