/* maildir.c - the embedded default transport: a directory holding one
 * Maildir per mailbox address, in Dovecot's Maildir++ layout:
 *
 *   <root>/<address, lower case>/{tmp,new,cur}             the Inbox
 *   <root>/<address>/.Service E-mail/{tmp,new,cur}         the service folder
 *   <root>/<address>/.Deleted Items/{tmp,new,cur}          Deleted Items
 *   <root>/<address>/.Archive/{tmp,new,cur}                archive_folder,
 *                                                          dead_letter_folder (made on first move)
 *   <root>/<address>/mailchan-claims/<owner>[.lock]        receivers' claims
 *
 * Dovecot serves it with mail_location = maildir:<root>/%Lu.
 *
 * Delivery writes tmp/<unique>, fsyncs it, and renames it into new/ (and
 * by default fsyncs new/). A receiver claims a mail before handing it to
 * a channel by renaming it into its own claims directory: rename is atomic,
 * so of two receivers exactly one wins. Each receiver holds an flock on its
 * <owner>.lock while it lives; claims of an owner whose lock can be taken
 * (the process died) are moved back into new/ by any receiver, so a crash
 * loses nothing and at worst delivers a mail twice. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <openssl/rand.h>
#include "maildir.h"

#define CLAIMS "mailchan-claims"

typedef struct {
    char *sub;  /* "new", "cur" or the claims directory */
    char *name; /* file name in it */
    size_t size;
    int64_t arrived_ms;
} location;

/* the sending half: delivery into each recipient's Maildir under root */
typedef struct {
    mc__sender parent;
    char *root, *service;
    bool sync_dirs;
    unsigned long seq;
} md_sender;

/* the receiving half: this transport's own mailbox */
typedef struct {
    mc__receiver parent;
    char *root, *mailbox, *service, *deleted;
    char *owner;   /* this receiver's claims directory name */
    int lock_fd;   /* flock held on <owner>.lock */
    char *watched; /* folder being watched (mailbox or mailbox/.Service E-mail) */
    int inotify_fd;
    int watch_new, watch_cur;
    mc__strmap where;     /* id -> location* */
    int64_t recovered_ms; /* last scan for dead receivers' claims (monotonic) */
} maildir;

static int sys_error(const char *what, const char *path)
{
    return mc__error_set(MC_EIO, "%s %s: %s", what, path, strerror(errno));
}

static char *path_join(const char *a, const char *b)
{
    mc__buf buf;
    mc__buf_init(&buf);
    mc__buf_printf(&buf, "%s/%s", a, b);
    return mc__buf_detach(&buf, NULL);
}

static char *path_join3(const char *a, const char *b, const char *c)
{
    mc__buf buf;
    mc__buf_init(&buf);
    mc__buf_printf(&buf, "%s/%s/%s", a, b, c);
    return mc__buf_detach(&buf, NULL);
}

static int mkdir_p(const char *path)
{
    char *p = mc__strdup(path);
    int rc = 0;
    if (!p)
        return mc__error_set(MC_ENOMEM, "out of memory");
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) && errno != EEXIST) {
            rc = sys_error("cannot create directory", p);
            break;
        }
        *s = '/';
    }
    if (!rc && mkdir(p, 0700) && errno != EEXIST)
        rc = sys_error("cannot create directory", p);
    free(p);
    return rc;
}

/* makes dir a Maildir (tmp, new, cur) */
static int ensure_maildir(const char *dir, bool folder)
{
    static const char *subs[] = {"tmp", "new", "cur"};
    struct stat st;
    char *p;
    int rc = 0;
    p = path_join(dir, "cur");
    if (p && !stat(p, &st) && S_ISDIR(st.st_mode)) {
        free(p);
        return 0; /* fast path: already there */
    }
    free(p);
    for (size_t i = 0; i < 3 && !rc; i++) {
        if (!(p = path_join(dir, subs[i])))
            return mc__error_set(MC_ENOMEM, "out of memory");
        rc = mkdir_p(p);
        free(p);
    }
    if (!rc && folder && (p = path_join(dir, "maildirfolder"))) {
        int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
        free(p);
    }
    return rc;
}

/* <root>/<address in lower case>; refuses names that could leave the root */
static int mailbox_dir(const char *root, const char *address, char **out)
{
    char *lower;
    int rc;
    if ((rc = mc_email_validate(address)))
        return rc;
    if (strchr(address, '/') || address[0] == '.')
        return mc__error_set(MC_EINVAL, "address %s cannot name a Maildir ('/' or a leading '.')", address);
    if (!(lower = mc__strdup(address)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    for (char *s = lower; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
    *out = path_join(root, lower);
    free(lower);
    return *out ? 0 : mc__error_set(MC_ENOMEM, "out of memory");
}

static char *folder_dir(const char *mailbox, const char *folder)
{
    mc__buf b;
    mc__buf_init(&b);
    mc__buf_printf(&b, "%s/.%s", mailbox, folder);
    return mc__buf_detach(&b, NULL);
}

/* where stamped mail lands: the service folder if it exists, else the Inbox */
static char *delivery_folder(const char *mailbox, const char *service)
{
    char *f = folder_dir(mailbox, service);
    struct stat st;
    if (f && !stat(f, &st) && S_ISDIR(st.st_mode))
        return f;
    free(f);
    return mc__strdup(mailbox);
}

static void unique_name(md_sender *m, char *out, size_t cap, size_t size)
{
    struct timeval tv;
    unsigned char r[4];
    char host[64];
    gettimeofday(&tv, NULL);
    RAND_bytes(r, sizeof(r));
    if (gethostname(host, sizeof(host)))
        strcpy(host, "localhost");
    host[sizeof(host) - 1] = '\0';
    for (char *h = host; *h; h++)
        if (*h == '/' || *h == ':')
            *h = '_';
    snprintf(out, cap, "%ld.M%ldP%dQ%luR%02x%02x%02x%02x.%s,S=%zu", (long)tv.tv_sec, (long)tv.tv_usec,
             (int)getpid(), __atomic_add_fetch(&m->seq, 1, __ATOMIC_RELAXED), r[0], r[1], r[2], r[3], host,
             size);
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    if (fd < 0)
        return sys_error("cannot open", dir);
    if (fsync(fd))
        rc = sys_error("cannot fsync", dir);
    close(fd);
    return rc;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t w = write(fd, data, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

/* ---- sending: delivery into each recipient's Maildir ---- */

static int deliver_one(md_sender *m, const char *rcpt, const char *mail, size_t len,
                       const mc__cancel_token *cancel, bool *committed)
{
    char *mbox = NULL, *folder = NULL, *tmp = NULL, *dst = NULL, *newdir = NULL, name[256];
    int fd = -1, rc;
    if ((rc = mailbox_dir(m->root, rcpt, &mbox)) || (rc = ensure_maildir(mbox, false)))
        goto done;
    rc = MC_ENOMEM;
    if (!(folder = delivery_folder(mbox, m->service)))
        goto nomem;
    unique_name(m, name, sizeof(name), len);
    if (!(tmp = path_join3(folder, "tmp", name)) || !(dst = path_join3(folder, "new", name)) ||
        !(newdir = path_join(folder, "new")))
        goto nomem;
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = sys_error("cannot create", tmp);
        goto done;
    }
    if (write_all(fd, mail, len) || fsync(fd)) {
        rc = sys_error("cannot write", tmp);
        goto unlink_tmp;
    }
    close(fd);
    fd = -1;
    if (cancel && atomic_load(cancel) && !*committed) {
        rc = mc__error_set(MC_ECANCELED, "the send was cancelled");
        goto unlink_tmp;
    }
    if (rename(tmp, dst)) {
        rc = sys_error("cannot move the mail into", newdir);
        goto unlink_tmp;
    }
    *committed = true;
    rc = m->sync_dirs ? fsync_dir(newdir) : 0;
    mc__log(MC_LOG_INFO, "maildir: wrote %s (%zu octets)", dst, len);
    goto done;
unlink_tmp:
    if (fd >= 0)
        close(fd);
    fd = -1;
    unlink(tmp);
    goto done;
nomem:
    rc = mc__error_set(MC_ENOMEM, "out of memory");
done:
    if (fd >= 0)
        close(fd);
    free(mbox);
    free(folder);
    free(tmp);
    free(dst);
    free(newdir);
    return rc;
}

static int md_send(mc__sender *b, const char *from, const char *const *to, size_t nto, const char *mail,
                   size_t len, const mc__cancel_token *cancel)
{
    md_sender *m = (md_sender *)b;
    bool committed = false;
    int rc = 0;
    for (size_t i = 0; i < nto && !rc; i++)
        rc = deliver_one(m, to[i], mail, len, cancel, &committed);
    return rc;
}

static void md_sender_free(mc__sender *b)
{
    md_sender *m = (md_sender *)b;
    free(m->root);
    free(m->service);
    free(m);
}

static const mc__sender_ops sender_ops = {
    .version = MC__SENDER_VERSION,
    .name = "maildir",
    .send = md_send,
    .free = md_sender_free,
};

/* ---- receiving ---- */

static void location_free(void *p)
{
    location *l = p;
    if (l) {
        free(l->sub);
        free(l->name);
        free(l);
    }
}

static char *location_path(maildir *m, const location *l)
{
    if (!strcmp(l->sub, "new") || !strcmp(l->sub, "cur"))
        return path_join3(m->watched, l->sub, l->name);
    return path_join3(m->mailbox, l->sub, l->name);
}

/* the id of a file name: the unique part, without ":2,flags" */
static char *id_of(const char *name)
{
    const char *colon = strchr(name, ':');
    return colon ? mc__strndup(name, (size_t)(colon - name)) : mc__strdup(name);
}

static size_t size_of(const char *name, const struct stat *st)
{
    const char *s = strstr(name, ",S=");
    if (s) {
        char *end;
        unsigned long long v = strtoull(s + 3, &end, 10);
        if (end != s + 3)
            return (size_t)v;
    }
    return st ? (size_t)st->st_size : 0;
}

static int watch_folder(maildir *m)
{
    char *f = delivery_folder(m->mailbox, m->service), *n = NULL, *c = NULL;
    int rc = 0;
    if (!f)
        return mc__error_set(MC_ENOMEM, "out of memory");
    if (m->watched && !strcmp(m->watched, f)) {
        free(f);
        return 0;
    }
    if ((rc = ensure_maildir(f, strcmp(f, m->mailbox) != 0))) {
        free(f);
        return rc;
    }
    free(m->watched);
    m->watched = f;
    mc__strmap_free(&m->where, location_free);
    if (m->inotify_fd >= 0) {
        if (m->watch_new >= 0)
            inotify_rm_watch(m->inotify_fd, m->watch_new);
        if (m->watch_cur >= 0)
            inotify_rm_watch(m->inotify_fd, m->watch_cur);
        n = path_join(f, "new");
        c = path_join(f, "cur");
        m->watch_new = n ? inotify_add_watch(m->inotify_fd, n, IN_MOVED_TO | IN_CREATE) : -1;
        m->watch_cur = c ? inotify_add_watch(m->inotify_fd, c, IN_MOVED_TO | IN_CREATE) : -1;
        free(n);
        free(c);
    }
    mc__log(MC_LOG_DEBUG, "maildir: watching %s", f);
    return 0;
}

/* Moves every mail in a claims directory back into the watched folder's
 * new/ (without its ":2," info), removes the directory and its lock file.
 * Returns how many mails were given back. */
static unsigned give_back(maildir *m, const char *claims, const char *owner)
{
    char *dir = path_join(claims, owner), *lock;
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *de;
    unsigned moved = 0;
    mc__buf lb;
    while (d && m->watched && (de = readdir(d))) {
        char *src, *id, *dst;
        if (de->d_name[0] == '.')
            continue;
        src = path_join(dir, de->d_name);
        id = id_of(de->d_name);
        dst = id ? path_join3(m->watched, "new", id) : NULL;
        if (src && dst && !rename(src, dst))
            moved++;
        free(src);
        free(id);
        free(dst);
    }
    if (d)
        closedir(d);
    if (dir)
        rmdir(dir);
    mc__buf_init(&lb);
    mc__buf_printf(&lb, "%s/%s.lock", claims, owner);
    if ((lock = mc__buf_detach(&lb, NULL)))
        unlink(lock);
    free(lock);
    free(dir);
    return moved;
}

/* Moves the claims of dead receivers back into new/. */
static void recover_claims(maildir *m)
{
    char *claims = path_join(m->mailbox, CLAIMS);
    DIR *d = claims ? opendir(claims) : NULL;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        size_t n = strlen(de->d_name);
        char *lock, owner[256];
        int fd;
        /* ".<owner>.lock" is a lock being created, not yet held: never touch it */
        if (de->d_name[0] == '.' || n < 6 || strcmp(de->d_name + n - 5, ".lock") || n - 5 >= sizeof(owner))
            continue;
        memcpy(owner, de->d_name, n - 5);
        owner[n - 5] = '\0';
        if (!strcmp(owner, m->owner))
            continue;
        lock = path_join(claims, de->d_name);
        fd = lock ? open(lock, O_RDWR | O_CLOEXEC) : -1;
        if (fd >= 0 && !flock(fd, LOCK_EX | LOCK_NB)) {
            unsigned moved = give_back(m, claims, owner);
            if (moved)
                mc__log(MC_LOG_WARN, "maildir: recovered %u mail(s) claimed by a receiver that stopped",
                        moved);
        }
        if (fd >= 0)
            close(fd);
        free(lock);
    }
    if (d)
        closedir(d);
    free(claims);
}

/* Creates this receiver's claims directory and holds its lock. The lock
 * file is locked under a temporary name and then renamed, so that no one
 * ever sees it unlocked. */
static int make_owner(maildir *m)
{
    char uuid[37], *claims = NULL, *tmp = NULL, *lock = NULL, *dir = NULL;
    mc__buf b;
    int rc;
    if ((rc = mc__uuid(uuid)))
        return rc;
    mc__buf_init(&b);
    mc__buf_printf(&b, "%d-%.8s", (int)getpid(), uuid);
    if (!(m->owner = mc__buf_detach(&b, NULL)) || !(claims = path_join(m->mailbox, CLAIMS)) ||
        !(dir = path_join(claims, m->owner)))
        goto nomem;
    mc__buf_init(&b);
    mc__buf_printf(&b, "%s/.%s.lock", claims, m->owner);
    tmp = mc__buf_detach(&b, NULL);
    mc__buf_init(&b);
    mc__buf_printf(&b, "%s/%s.lock", claims, m->owner);
    lock = mc__buf_detach(&b, NULL);
    if (!tmp || !lock)
        goto nomem;
    if ((rc = mkdir_p(dir)))
        goto done;
    m->lock_fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (m->lock_fd < 0 || flock(m->lock_fd, LOCK_EX) || rename(tmp, lock)) {
        rc = sys_error("cannot create the claims lock", tmp);
        goto done;
    }
    goto done;
nomem:
    rc = mc__error_set(MC_ENOMEM, "out of memory");
done:
    free(claims);
    free(tmp);
    free(lock);
    free(dir);
    return rc;
}

static int md_open(mc__receiver *b)
{
    maildir *m = (maildir *)b;
    int rc;
    if ((rc = ensure_maildir(m->mailbox, false)))
        goto done;
    if (m->inotify_fd < 0)
        m->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if ((rc = watch_folder(m)))
        goto done;
    if (!m->owner && (rc = make_owner(m)))
        goto done;
    recover_claims(m);
done:
    return rc;
}

static int push_item(mc__mail_item **items, size_t *n, size_t *cap, const char *id, const location *loc)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        mc__mail_item *g = realloc(*items, nc * sizeof(**items));
        if (!g)
            return mc__error_set(MC_ENOMEM, "out of memory");
        *items = g;
        *cap = nc;
    }
    if (!((*items)[*n].id = mc__strdup(id)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    (*items)[*n].size = loc->size;
    (*items)[*n].arrived_ms = loc->arrived_ms;
    (*items)[*n].headers = NULL;
    (*n)++;
    return 0;
}

/* Lists one of new/ and cur/; files seen before are not stat'ed again. */
static int list_dir(maildir *m, const char *sub, mc__mail_item **items, size_t *n, size_t *cap,
                    mc__strmap *seen)
{
    char *dir = path_join(m->watched, sub);
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *de;
    int rc = 0;
    if (!d) {
        rc = dir ? sys_error("cannot read", dir) : mc__error_set(MC_ENOMEM, "out of memory");
        free(dir);
        return rc;
    }
    while (!rc && (de = readdir(d))) {
        char *id;
        location *loc;
        struct stat st;
        if (de->d_name[0] == '.' || !(id = id_of(de->d_name)))
            continue;
        loc = mc__strmap_get(&m->where, id, NULL);
        if (!loc || strcmp(loc->sub, sub) || strcmp(loc->name, de->d_name)) {
            void *old = NULL;
            if (fstatat(dirfd(d), de->d_name, &st, 0)) {
                free(id);
                continue; /* gone meanwhile */
            }
            mc__strmap_remove(&m->where, id, &old);
            location_free(old);
            if (!(loc = calloc(1, sizeof(*loc))) || !(loc->sub = mc__strdup(sub)) ||
                !(loc->name = mc__strdup(de->d_name)) || mc__strmap_put(&m->where, id, loc)) {
                location_free(loc);
                free(id);
                rc = mc__error_set(MC_ENOMEM, "out of memory");
                break;
            }
            loc->size = size_of(de->d_name, &st);
            loc->arrived_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
        }
        rc = push_item(items, n, cap, id, loc);
        if (!rc)
            rc = mc__strmap_put(seen, id, NULL);
        free(id);
    }
    closedir(d);
    free(dir);
    return rc;
}

/* The order of arrival of a file called "SEC.MUSEC..." (as this library
 * and most delivery agents name them; P<pid>Q<n> orders one process's
 * files within a microsecond), else its mtime. */
typedef struct {
    int64_t us;
    unsigned long long q;
    mc__mail_item item;
} arrival;

static void arrival_of(arrival *a, const mc__mail_item *it)
{
    const char *p = it->id, *q;
    char *end;
    unsigned long long sec = strtoull(p, &end, 10), us;
    a->item = *it;
    a->us = it->arrived_ms * 1000;
    a->q = 0;
    if (end == p || end - p > 12 || strncmp(end, ".M", 2))
        return;
    p = end + 2;
    us = strtoull(p, &end, 10);
    if (end == p || us > 999999)
        return;
    a->us = (int64_t)sec * 1000000 + (int64_t)us;
    if (*end == 'P' && (q = strchr(end, 'Q')) && q - end < 12)
        a->q = strtoull(q + 1, NULL, 10);
}

static int by_arrival(const void *x, const void *y)
{
    const arrival *a = x, *b = y;
    if (a->us != b->us)
        return a->us < b->us ? -1 : 1;
    if (a->q != b->q)
        return a->q < b->q ? -1 : 1;
    return strcmp(a->item.id, b->item.id);
}

/* A directory lists its files in no order: a backlog is delivered oldest
 * first, as IMAP and EWS list it. Left as listed when out of memory. */
static void sort_by_arrival(mc__mail_item *v, size_t n)
{
    arrival *a = n > 1 ? calloc(n, sizeof(*a)) : NULL;
    if (!a)
        return;
    for (size_t i = 0; i < n; i++)
        arrival_of(&a[i], &v[i]);
    qsort(a, n, sizeof(*a), by_arrival);
    for (size_t i = 0; i < n; i++)
        v[i] = a[i].item;
    free(a);
}

static int md_list(mc__receiver *b, mc__listing *out)
{
    maildir *m = (maildir *)b;
    mc__mail_item *v = NULL;
    size_t n = 0, cap = 0;
    mc__strmap seen;
    int rc;
    if ((rc = watch_folder(m)))
        goto done;
    /* a dead peer's claims need not be found within milliseconds: at most once a second */
    if (mc__mono_ms() - m->recovered_ms >= 1000) {
        recover_claims(m);
        m->recovered_ms = mc__mono_ms();
    }
    mc__strmap_init(&seen);
    rc = list_dir(m, "new", &v, &n, &cap, &seen);
    if (!rc)
        rc = list_dir(m, "cur", &v, &n, &cap, &seen);
    /* forget the locations of files that are gone (claimed ones stay) */
    for (size_t i = 0; !rc && i < m->where.cap; i++) {
        void *val;
        bool found;
        const char *k = mc__strmap_slot(&m->where, i, &val);
        location *loc = val;
        if (!k || (strcmp(loc->sub, "new") && strcmp(loc->sub, "cur")))
            continue;
        mc__strmap_get(&seen, k, &found);
        if (!found) {
            mc__strmap_remove(&m->where, k, NULL);
            location_free(loc);
        }
    }
    mc__strmap_free(&seen, NULL);
    if (rc) {
        for (size_t i = 0; i < n; i++)
            free(v[i].id);
        free(v);
        goto done;
    }
    sort_by_arrival(v, n);
    out->items = v;
    out->count = n;
    out->full = true; /* a directory listing is cheap: no cursor */
done:
    return rc;
}

static int md_fetch(mc__receiver *b, const char *id, size_t max, char **data, size_t *len, bool *truncated)
{
    maildir *m = (maildir *)b;
    location *loc = mc__strmap_get(&m->where, id, NULL);
    char *path, *buf = NULL;
    struct stat st;
    size_t want, got = 0;
    int fd, rc = 0;
    if (!loc)
        return mc__error_set(MC_ENOTFOUND, "mail %s is gone", id);
    if (!(path = location_path(m, loc)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = errno == ENOENT ? mc__error_set(MC_ENOTFOUND, "mail %s is gone", id)
                             : sys_error("cannot open", path);
        goto done;
    }
    if (fstat(fd, &st)) {
        rc = sys_error("cannot stat", path);
        goto done;
    }
    want = (size_t)st.st_size < max ? (size_t)st.st_size : max;
    if (!(buf = malloc(want + 1))) {
        rc = mc__error_set(MC_ENOMEM, "out of memory");
        goto done;
    }
    while (got < want) {
        ssize_t r = read(fd, buf + got, want - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    *data = buf;
    buf = NULL;
    *len = got;
    *truncated = (size_t)st.st_size > got;
    mc__log(MC_LOG_INFO, "maildir: read %s (%zu octets%s)", path, got, *truncated ? ", truncated" : "");
done:
    if (fd >= 0)
        close(fd);
    free(buf);
    free(path);
    return rc;
}

static int md_claim(mc__receiver *b, const char *id)
{
    maildir *m = (maildir *)b;
    location *loc = mc__strmap_get(&m->where, id, NULL);
    char *src, *dst, *sub;
    int rc = 0;
    if (!loc)
        return mc__error_set(MC_ENOTFOUND, "mail %s is gone", id);
    sub = path_join(CLAIMS, m->owner);
    src = location_path(m, loc);
    dst = sub ? path_join3(m->mailbox, sub, loc->name) : NULL;
    if (!src || !dst || !sub) {
        rc = mc__error_set(MC_ENOMEM, "out of memory");
    } else if (rename(src, dst)) {
        rc = errno == ENOENT ? mc__error_set(MC_ENOTFOUND, "mail %s was taken by another receiver", id)
                             : sys_error("cannot claim", src);
    } else {
        free(loc->sub);
        loc->sub = sub;
        sub = NULL;
    }
    free(sub);
    free(src);
    free(dst);
    return rc;
}

static int md_remove(mc__receiver *b, const char *const *ids, size_t count)
{
    maildir *m = (maildir *)b;
    int rc = 0;
    for (size_t i = 0; i < count; i++) {
        void *val = NULL;
        location *loc = mc__strmap_get(&m->where, ids[i], NULL);
        char *path;
        if (!loc)
            continue;
        if (!(path = location_path(m, loc)))
            return mc__error_set(MC_ENOMEM, "out of memory");
        if (unlink(path) && errno != ENOENT) {
            rc = sys_error("cannot delete", path);
            free(path);
            continue;
        }
        mc__log(MC_LOG_INFO, "maildir: deleted %s", path);
        free(path);
        mc__strmap_remove(&m->where, ids[i], &val);
        location_free(val);
    }
    return rc;
}

static int md_move_to_trash(mc__receiver *b, const char *id, const char **folder)
{
    maildir *m = (maildir *)b;
    location *loc = mc__strmap_get(&m->where, id, NULL);
    char *trash = NULL, *src = NULL, *dst = NULL;
    int rc;
    void *val = NULL;
    if (!loc)
        return mc__error_set(MC_ENOTFOUND, "mail %s is gone", id);
    if (!(trash = folder_dir(m->mailbox, m->deleted))) {
        rc = mc__error_set(MC_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = ensure_maildir(trash, true)))
        goto done;
    src = location_path(m, loc);
    dst = path_join3(trash, "new", loc->name);
    if (!src || !dst) {
        rc = mc__error_set(MC_ENOMEM, "out of memory");
        goto done;
    }
    if (rename(src, dst) && errno != ENOENT) {
        rc = sys_error("cannot move to Deleted Items:", src);
        goto done;
    }
    mc__log(MC_LOG_INFO, "maildir: moved %s to %s", src, dst);
    mc__strmap_remove(&m->where, id, &val);
    location_free(val);
    *folder = m->deleted;
done:
    free(trash);
    free(src);
    free(dst);
    return rc;
}

/* A configured folder name as a Maildir++ folder directory: "/" separates
 * levels (Dovecot's "." on disk); a name that could leave the mailbox or
 * name the Inbox or the claims is refused. */
static int named_folder(maildir *m, const char *name, char **out)
{
    char *flat;
    if (!*name || name[0] == '.' || name[0] == '/' || strstr(name, "..") || strstr(name, "/.") ||
        !strcasecmp(name, "INBOX"))
        return mc__error_set(MC_EINVAL, "\"%s\" cannot name a Maildir folder", name);
    if (!(flat = mc__strdup(name)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    for (char *p = flat; *p; p++)
        if (*p == '/')
            *p = '.';
    *out = folder_dir(m->mailbox, flat);
    free(flat);
    return *out ? 0 : mc__error_set(MC_ENOMEM, "out of memory");
}

/* Renames each mail into <folder>/new (atomic, as the trash move): it
 * leaves the watched folder, or the claims directory, in one step. */
static int md_move(mc__receiver *b, const char *const *ids, size_t count, const char *folder)
{
    maildir *m = (maildir *)b;
    char *dir = NULL;
    int rc;
    if ((rc = named_folder(m, folder, &dir)))
        return rc;
    if (m->watched && !strcmp(dir, m->watched)) {
        rc = mc__error_set(MC_EINVAL, "folder \"%s\" is the watched folder", folder);
        goto done;
    }
    if ((rc = ensure_maildir(dir, true)))
        goto done;
    for (size_t i = 0; i < count; i++) {
        void *val = NULL;
        location *loc = mc__strmap_get(&m->where, ids[i], NULL);
        char *src, *dst;
        if (!loc)
            continue; /* gone: not an error */
        src = location_path(m, loc);
        dst = path_join3(dir, "new", loc->name);
        if (!src || !dst) {
            free(src);
            free(dst);
            rc = mc__error_set(MC_ENOMEM, "out of memory");
            break;
        }
        if (rename(src, dst) && errno != ENOENT) {
            rc = sys_error("cannot move to the folder:", src);
        } else {
            mc__strmap_remove(&m->where, ids[i], &val);
            location_free(val);
        }
        free(src);
        free(dst);
    }
done:
    free(dir);
    return rc;
}

static int md_wait(mc__receiver *b, int timeout_ms, int wake_fd)
{
    maildir *m = (maildir *)b;
    struct pollfd p[2] = {{wake_fd, POLLIN, 0}, {m->inotify_fd, POLLIN, 0}};
    char buf[4096];
    int r = poll(p, m->inotify_fd >= 0 ? 2 : 1, timeout_ms);
    if (r > 0 && m->inotify_fd >= 0 && (p[1].revents & POLLIN)) {
        while (read(m->inotify_fd, buf, sizeof(buf)) > 0) {
        }
        return 1; /* something changed in the folder */
    }
    return 0;
}

static void md_close(mc__receiver *b)
{
    maildir *m = (maildir *)b;
    if (m->inotify_fd >= 0)
        close(m->inotify_fd);
    m->inotify_fd = -1;
    m->watch_new = m->watch_cur = -1;
}

static void md_free(mc__receiver *b)
{
    maildir *m = (maildir *)b;
    md_close(b);
    if (m->owner) {
        /* give back what was claimed and not delivered */
        char *claims = path_join(m->mailbox, CLAIMS);
        if (claims)
            give_back(m, claims, m->owner);
        free(claims);
    }
    if (m->lock_fd >= 0)
        close(m->lock_fd);
    mc__strmap_free(&m->where, location_free);
    free(m->root);
    free(m->mailbox);
    free(m->service);
    free(m->deleted);
    free(m->owner);
    free(m->watched);
    free(m);
}

static const mc__receiver_ops receiver_ops = {
    .version = MC__RECEIVER_VERSION,
    .name = "maildir",
    .open = md_open,
    .list = md_list,
    .fetch = md_fetch,
    .claim = md_claim,
    .remove = md_remove,
    .move_to_trash = md_move_to_trash,
    .wait = md_wait,
    .close = md_close,
    .free = md_free,
    .set_deadline = NULL, /* local files: every call is quick */
    .move = md_move,
};

static int sender_new(mc__sender **out, const mc__maildir_config *cfg)
{
    md_sender *m = calloc(1, sizeof(*m));
    if (!m || !(m->root = mc__strdup(cfg->root)) || !(m->service = mc__strdup(cfg->service_folder))) {
        if (m)
            md_sender_free(&m->parent);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    m->parent.ops = &sender_ops;
    m->sync_dirs = cfg->sync_directories;
    *out = &m->parent;
    return 0;
}

static int receiver_new(mc__receiver **out, const mc__maildir_config *cfg)
{
    maildir *m;
    int rc;
    if (!(m = calloc(1, sizeof(*m))))
        return mc__error_set(MC_ENOMEM, "out of memory");
    m->parent.ops = &receiver_ops;
    m->lock_fd = m->inotify_fd = m->watch_new = m->watch_cur = -1;
    mc__strmap_init(&m->where);
    if (!(m->root = mc__strdup(cfg->root)) || !(m->service = mc__strdup(cfg->service_folder)) ||
        !(m->deleted = mc__strdup(cfg->deleted_folder))) {
        md_free(&m->parent);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    if ((rc = mailbox_dir(m->root, cfg->address, &m->mailbox)) || (rc = mkdir_p(m->root)) ||
        (rc = ensure_maildir(m->mailbox, false))) {
        md_free(&m->parent);
        return rc;
    }
    *out = &m->parent;
    return 0;
}

int mc__maildir_new(mc__sender **sender, mc__receiver **receiver, const mc__maildir_config *cfg)
{
    int rc;
    if (!cfg->root || !*cfg->root)
        return mc__error_set(MC_EINVAL, "the maildir binding needs maildir_root");
    if (!cfg->address)
        return mc__error_set(MC_EINVAL, "the maildir binding needs address (its own mailbox)");
    if ((rc = sender_new(sender, cfg)))
        return rc;
    if ((rc = receiver_new(receiver, cfg))) {
        (*sender)->ops->free(*sender);
        return rc;
    }
    return 0;
}
