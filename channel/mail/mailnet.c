/* mailnet.c - the "mail" transport's backend: SMTP sends, IMAP receives. */
#include <stdlib.h>
#include "mailnet.h"

typedef struct {
    mc__backend base;
    mc__smtp *smtp;
    mc__imap *imap;
} mailnet;

#define MN(b) ((mailnet *)(b))

static int mn_send(mc__backend *b, const char *from, const char *const *to, size_t nto,
                   const char *mail, size_t len, const volatile int *cancel)
{
    return mc__smtp_send(MN(b)->smtp, from, to, nto, mail, len, cancel);
}

static int mn_open(mc__backend *b) { return mc__imap_open(MN(b)->imap); }

static int mn_list(mc__backend *b, mc__mail_item **items, size_t *count)
{
    return mc__imap_list(MN(b)->imap, items, count);
}

static int mn_fetch(mc__backend *b, const char *id, size_t max, char **data, size_t *len,
                    bool *truncated)
{
    return mc__imap_fetch(MN(b)->imap, id, max, data, len, truncated);
}

static int mn_remove(mc__backend *b, const char *const *ids, size_t count)
{
    return mc__imap_remove(MN(b)->imap, ids, count);
}

static int mn_move_to_trash(mc__backend *b, const char *id)
{
    return mc__imap_move_to_trash(MN(b)->imap, id);
}

static int mn_wait(mc__backend *b, int timeout_ms, int wake_fd)
{
    return mc__imap_wait(MN(b)->imap, timeout_ms, wake_fd);
}

static void mn_close(mc__backend *b) { mc__imap_close(MN(b)->imap); }

static void mn_set_deadline(mc__backend *b, int64_t deadline_ms) { mc__imap_set_deadline(MN(b)->imap, deadline_ms); }

static void mn_free(mc__backend *b)
{
    mc__smtp_free(MN(b)->smtp);
    mc__imap_free(MN(b)->imap);
    free(b);
}

static const mc__backend_ops ops = {
    .name = "mail",
    .send = mn_send,
    .open = mn_open,
    .list = mn_list,
    .fetch = mn_fetch,
    .claim = NULL,
    .remove = mn_remove,
    .move_to_trash = mn_move_to_trash,
    .wait = mn_wait,
    .close = mn_close,
    .free = mn_free,
    .set_deadline = mn_set_deadline,
};

int mc__mailnet_backend_new(mc__backend **out, const mc__mail_config *cfg)
{
    mailnet *m = calloc(1, sizeof(*m));
    int rc;
    if (!m)
        return mc__error_set(MC_ENOMEM, "out of memory");
    m->base.ops = &ops;
    if ((rc = mc__smtp_new(&m->smtp, cfg)) || (rc = mc__imap_new(&m->imap, cfg))) {
        mn_free(&m->base);
        return rc;
    }
    *out = &m->base;
    return 0;
}
