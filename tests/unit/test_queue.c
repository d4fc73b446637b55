/* test_queue.c - the durable state store (channel/queue/store.c) on its
 * own and as a transport opens it: the schema and its version, one owner
 * per store beside administrators, files that are not a store (random
 * bytes, a garbled or truncated database, a newer schema) and paths that
 * cannot hold one refused with a clear error naming the store, the outbox's
 * rows (order, backoff per destination, dead letters, the byte bound, the
 * public queue API), received ids (seen, record, the window, pruning, two
 * copies of one message delivered once, across a restart) and the
 * persisted WS-Security replay cache. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include "helpers.h"
#include "queue/outbox.h"
#include "queue/store.h"
#ifdef MC_WITH_SECURITY
#include "security/wss_int.h"
#endif

/* ---- fixture: a fresh directory and a store path in it ---- */

typedef struct {
    char dir[256], path[300];
} fixture;

static int setup(void **state)
{
    fixture *x = calloc(1, sizeof(*x));
    snprintf(x->dir, sizeof(x->dir), "/tmp/mc-queue-XXXXXX");
    assert_non_null(mkdtemp(x->dir));
    snprintf(x->path, sizeof(x->path), "%s/state.db", x->dir);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fixture *x = *state;
    rm_rf(x->dir);
    free(x);
    return 0;
}

static mc__store *open_owner(const char *path, int64_t window_ms)
{
    mc__store *s = NULL;
    mc__store_options o = {.dedup_window_ms = window_ms};
    if (mc__store_open(&s, path, MC__STORE_OWNER, &o))
        fail_msg("opening %s: %s", path, mc_error_last());
    return s;
}

/* the last error names the store and says `why` */
static void error_says(const char *path, const char *why)
{
    const char *e = mc_error_last();
    if (!strstr(e, path) || (why && !strstr(e, why)))
        fail_msg("error \"%s\" should name %s and say \"%s\"", e, path, why ? why : "");
}

/* ---- SQLite beside the store, as a tool would look at it ---- */

static int64_t sql_int(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t v = -1;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static char *sql_text(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    char *v = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        v = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void sql_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    char *err = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err);
    sqlite3_close(db);
}

/* ---- files ---- */

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static char *read_file(const char *path, size_t *len)
{
    struct stat st;
    char *data;
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    data = malloc((size_t)st.st_size + 1);
    assert_int_equal(read(fd, data, (size_t)st.st_size), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return data;
}

/* a deterministic stream of bytes that is nothing in particular */
static void noise(unsigned char *p, size_t len, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
}

/* ---- the outbox ---- */

static int64_t add(mc__store *s, const char *to, const char *body, uint64_t max_bytes)
{
    const char *rcpt[1] = {to};
    int64_t id = 0;
    if (mc__store_outbox_add(s, "me@x.test", rcpt, 1, body, strlen(body), max_bytes, &id, NULL))
        fail_msg("queueing: %s", mc_error_last());
    return id;
}

static int count_row(const mc__outbox_row *r, void *ud)
{
    (void)r;
    (*(size_t *)ud)++;
    return 0;
}

static size_t listed(mc__store *s, bool dead)
{
    size_t n = 0;
    assert_int_equal(mc__store_outbox_list(s, dead, count_row, &n), 0);
    return n;
}

/* the ids listed, in order, as "1,2,3" */
static int ids_row(const mc__outbox_row *r, void *ud)
{
    char *out = ud;
    snprintf(out + strlen(out), 256 - strlen(out), "%s%lld", *out ? "," : "", (long long)r->id);
    return 0;
}

static const char *ids(mc__store *s, bool dead, char out[256])
{
    out[0] = '\0';
    assert_int_equal(mc__store_outbox_list(s, dead, ids_row, out), 0);
    return out;
}

/* a store with some queued mail, closed: what the damage tests start from */
static void store_with_mail(const char *path)
{
    mc__store *s = open_owner(path, 0);
    char body[3000];
    memset(body, 'm', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    for (int i = 0; i < 40; i++)
        add(s, "a@x.test", body, 0);
    assert_int_equal(mc__store_state(s)->ops->record(mc__store_state(s), "urn:uuid:one", "mail-1"), 0);
    mc__store_free(s); /* the last connection: the WAL is checkpointed into the file */
}

/* A maildir binding with state_path (and more "k=v" settings, NULL-ended):
 * what mc_transport_new returns; a transport made is freed. */
static int transport_rc(const char *root, const char *state_path, ...)
{
    mc_binding *b;
    mc_transport *t = NULL;
    va_list ap;
    int rc;
    assert_int_equal(mc_binding_new(&b, "maildir"), 0);
    assert_int_equal(mc_binding_set(b, "maildir_root", root), 0);
    assert_int_equal(mc_binding_set(b, "address", "svc@x.test"), 0);
    if (state_path)
        assert_int_equal(mc_binding_set(b, "state_path", state_path), 0);
    va_start(ap, state_path);
    binding_set_pairs(b, ap);
    va_end(ap);
    rc = mc_transport_new(&t, b);
    mc_transport_free(t);
    mc_binding_free(b);
    return rc;
}

static int ignore_row(const mc_queue_entry *e, void *ud)
{
    (void)e;
    (*(size_t *)ud)++;
    return 0;
}

/* A damaged or foreign file: refused with MC_EIO naming the store, wherever
 * it is opened - or, when the damage lies where opening does not look,
 * every use that reaches it fails so (never a crash, never a change that
 * makes things worse). Returns true when opening itself refused it. */
static bool refused_as_damaged(const char *dir, const char *path, const char *why)
{
    mc__store *s = NULL;
    size_t n = 0;
    int rc = mc__store_open(&s, path, MC__STORE_OWNER, NULL);
    if (rc) {
        assert_int_equal(rc, MC_EIO);
        error_says(path, why);
        /* the same through a transport and the administration API */
        assert_int_equal(transport_rc(dir, path, NULL), MC_EIO);
        error_says(path, why);
        assert_int_equal(mc_queue_list(path, false, ignore_row, &n), MC_EIO);
        error_says(path, why);
        return true;
    }
    /* opened: the damage is in pages opening does not read */
    assert_int_equal(mc__store_outbox_list(s, false, count_row, &n), MC_EIO);
    error_says(path, why);
    {
        mc__outbox_row r;
        int64_t next;
        memset(&r, 0, sizeof(r));
        assert_int_equal(mc__store_outbox_next(s, 0x7fffffffffffLL, &r, &next), MC_EIO);
        error_says(path, why);
    }
    mc__store_free(s);
    return false;
}

/* ---- tests: opening ---- */

/* A new store gets the schema, version 2, in WAL mode; opened again it is
 * the same store (nothing recreated, what it held kept). */
static void test_schema_created_and_versioned(void **state)
{
    fixture *x = *state;
    mc__store *s = open_owner(x->path, 0);
    char got[256];
    char *mode;
    add(s, "a@x.test", "kept", 0);
    assert_string_equal(mc__store_path(s), x->path);
    /* beside the owner, as any SQLite tool */
    assert_int_equal(sql_int(x->path, "PRAGMA user_version"), 2);
    assert_int_equal(sql_int(x->path, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN "
                                      "('outbox', 'received', 'replay', 'meta', 'request', 'reply')"),
                     6);
    mode = sql_text(x->path, "PRAGMA journal_mode");
    assert_string_equal(mode, "wal");
    free(mode);
    mc__store_free(s);
    s = open_owner(x->path, 0);
    assert_int_equal(sql_int(x->path, "PRAGMA user_version"), 2);
    assert_string_equal(ids(s, false, got), "1");
    assert_int_equal(sql_int(x->path, "SELECT coalesce(sum(bytes), 0) FROM outbox"), 4);
    mc__store_free(s);
}

/* One owner per store: a second one (another transport, another process)
 * is refused with MC_EBUSY naming the store; an administrator beside the
 * owner reads and changes it; once the owner is gone, another may own it. */
static void test_second_owner_refused(void **state)
{
    fixture *x = *state;
    mc__store *s = open_owner(x->path, 0), *second = NULL;
    size_t n = 0;
    int64_t id = add(s, "a@x.test", "one", 0);
    assert_int_equal(mc__store_open(&second, x->path, MC__STORE_OWNER, NULL), MC_EBUSY);
    assert_null(second);
    error_says(x->path, "in use");
    assert_int_equal(transport_rc(x->dir, x->path, NULL), MC_EBUSY);
    error_says(x->path, "in use");
    /* a second owner in another process */
    {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            mc__store *o = NULL;
            int rc = mc__store_open(&o, x->path, MC__STORE_OWNER, NULL);
            _exit(rc == MC_EBUSY && strstr(mc_error_last(), x->path) ? 0 : 1);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    /* administration beside the owner */
    assert_int_equal(mc_queue_list(x->path, false, ignore_row, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(mc_queue_retry(x->path, id, &n), 0);
    assert_int_equal(n, 1);
    add(s, "a@x.test", "two", 0); /* the owner still writes */
    assert_int_equal(mc_queue_purge(x->path, id, false, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(listed(s, false), 1);
    mc__store_free(s);
    s = open_owner(x->path, 0);
    assert_int_equal(listed(s, false), 1);
    mc__store_free(s);
}

/* Random bytes where the store should be: MC_EIO, "not a mailchan state
 * store", the file left as it was. */
static void test_random_bytes_refused(void **state)
{
    fixture *x = *state;
    unsigned char junk[8192];
    size_t len;
    char *after;
    noise(junk, sizeof(junk), 1);
    write_file(x->path, junk, sizeof(junk));
    assert_true(refused_as_damaged(x->dir, x->path, "not a mailchan state store"));
    after = read_file(x->path, &len);
    assert_int_equal(len, sizeof(junk));
    assert_memory_equal(after, junk, len);
    free(after);
    /* a text file, and an empty-looking one shorter than a header */
    write_file(x->path, "hello, world\n", 13);
    assert_true(refused_as_damaged(x->dir, x->path, "not a mailchan state store"));
}

/* A store whose header was overwritten: refused at open. */
static void test_garbled_header_refused(void **state)
{
    fixture *x = *state;
    unsigned char junk[100];
    int fd;
    store_with_mail(x->path);
    noise(junk, sizeof(junk), 2);
    fd = open(x->path, O_WRONLY);
    assert_int_equal(pwrite(fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
    close(fd);
    assert_true(refused_as_damaged(x->dir, x->path, "corrupt"));
}

/* A store whose pages past the first were overwritten: whatever reads
 * them fails with MC_EIO naming the store, "corrupt". */
static void test_garbled_pages_refused(void **state)
{
    fixture *x = *state;
    size_t len;
    char *data;
    store_with_mail(x->path);
    data = read_file(x->path, &len);
    assert_true(len > 3 * 4096);
    noise((unsigned char *)data + 4096, len - 4096, 3);
    write_file(x->path, data, len);
    free(data);
    refused_as_damaged(x->dir, x->path, "corrupt");
}

/* A store cut short (a copy that stopped half-way): MC_EIO, "corrupt". */
static void test_truncated_refused(void **state)
{
    fixture *x = *state;
    struct stat st;
    store_with_mail(x->path);
    assert_int_equal(stat(x->path, &st), 0);
    assert_int_equal(truncate(x->path, st.st_size / 2), 0);
    refused_as_damaged(x->dir, x->path, "corrupt");
    /* cut inside its first page */
    assert_int_equal(truncate(x->path, 1000), 0);
    refused_as_damaged(x->dir, x->path, NULL);
}

/* A store written by a newer mailchan (schema version 3) is refused, not
 * changed: MC_EIO, "newer". */
static void test_newer_schema_refused(void **state)
{
    fixture *x = *state;
    mc__store *s = NULL;
    size_t n = 0;
    store_with_mail(x->path);
    sql_exec(x->path, "PRAGMA user_version = 3");
    assert_int_equal(mc__store_open(&s, x->path, MC__STORE_OWNER, NULL), MC_EIO);
    assert_null(s);
    error_says(x->path, "newer");
    assert_int_equal(transport_rc(x->dir, x->path, NULL), MC_EIO);
    error_says(x->path, "newer");
    assert_int_equal(mc_queue_list(x->path, false, ignore_row, &n), MC_EIO);
    error_says(x->path, "newer");
    assert_int_equal(sql_int(x->path, "PRAGMA user_version"), 3);
    assert_int_equal(sql_int(x->path, "SELECT count(*) FROM outbox"), 40);
}

/* A store of version 1 (before request channels) is migrated to version 2
 * when opened: the request tables are added, what it held is kept. */
static void test_v1_store_migrated(void **state)
{
    fixture *x = *state;
    mc__store *s;
    store_with_mail(x->path);
    sql_exec(x->path, "DROP TABLE request; DROP TABLE reply; PRAGMA user_version = 1");
    s = open_owner(x->path, 0);
    assert_int_equal(sql_int(x->path, "PRAGMA user_version"), 2);
    assert_int_equal(sql_int(x->path, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN "
                                      "('request', 'reply')"),
                     2);
    assert_int_equal(sql_int(x->path, "SELECT count(*) FROM outbox"), 40);
    mc__store_free(s);
}

/* Paths that cannot hold a store: a clear MC_EIO naming it and saying why. */
static void test_unusable_paths(void **state)
{
    fixture *x = *state;
    mc__store *s = NULL;
    char path[500], file[400];
    size_t n = 0;
    /* under a regular file (ENOTDIR: also as root) */
    snprintf(file, sizeof(file), "%s/plain", x->dir);
    write_file(file, "x", 1);
    snprintf(path, sizeof(path), "%s/state.db", file);
    assert_int_equal(mc__store_open(&s, path, MC__STORE_OWNER, NULL), MC_EIO);
    error_says(path, strerror(ENOTDIR));
    assert_int_equal(transport_rc(x->dir, path, NULL), MC_EIO);
    error_says(path, strerror(ENOTDIR));
    assert_int_equal(mc_queue_list(path, false, ignore_row, &n), MC_EIO);
    error_says(path, NULL);
    /* in a directory that does not exist */
    snprintf(path, sizeof(path), "%s/missing/state.db", x->dir);
    assert_int_equal(mc__store_open(&s, path, MC__STORE_OWNER, NULL), MC_EIO);
    error_says(path, strerror(ENOENT));
    assert_int_equal(mc_queue_list(path, false, ignore_row, &n), MC_EIO);
    error_says(path, "does not exist");
    /* a directory */
    assert_int_equal(mc__store_open(&s, x->dir, MC__STORE_OWNER, NULL), MC_EIO);
    error_says(x->dir, strerror(EISDIR));
    assert_null(s);
    /* no permission: as an unprivileged user (tests run as root, who may
     * write anywhere) */
    {
        char locked[300];
        pid_t pid;
        int status;
        snprintf(locked, sizeof(locked), "%s/locked", x->dir);
        assert_int_equal(mkdir(locked, 0700), 0);
        snprintf(path, sizeof(path), "%s/state.db", locked);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            int rc;
            if (geteuid() == 0 ? setgid(65534) || setuid(65534) : chmod(locked, 0500))
                _exit(2);
            rc = mc__store_open(&s, path, MC__STORE_OWNER, NULL);
            if (rc != MC_EIO || !strstr(mc_error_last(), path) ||
                !strstr(mc_error_last(), strerror(EACCES))) {
                fprintf(stderr, "unexpected: %d %s\n", rc, mc_error_last());
                _exit(1);
            }
            _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    /* no path */
    assert_int_equal(mc__store_open(&s, "", MC__STORE_OWNER, NULL), MC_EINVAL);
    assert_int_equal(mc_queue_list("", false, ignore_row, &n), MC_EINVAL);
}

/* queued = true needs a store to queue in. */
static void test_queued_needs_state_path(void **state)
{
    fixture *x = *state;
    assert_int_equal(transport_rc(x->dir, NULL, "queued=true", NULL), MC_EINVAL);
    assert_non_null(strstr(mc_error_last(), "state_path"));
    /* with one it opens (and the store is made) */
    assert_int_equal(transport_rc(x->dir, x->path, "queued=true", NULL), 0);
    assert_int_equal(sql_int(x->path, "PRAGMA user_version"), 2);
}

/* ---- tests: the outbox ---- */

/* next hands out the oldest due mail; done removes it; with nothing due it
 * says when the next one is. Several recipients and any bytes (NULs) come
 * back as they went in. */
static void test_outbox_order(void **state)
{
    fixture *x = *state;
    mc__store *s = open_owner(x->path, 0);
    mc__outbox_row r;
    int64_t next, a, b;
    const char *two[2] = {"p@x.test", "q@x.test"};
    const char bin[5] = {'a', 0, 'b', 0, 'c'};
    char got[256];
    memset(&r, 0, sizeof(r));
    assert_int_equal(mc__store_outbox_next(s, mc__wall_ms(), &r, &next), 0);
    assert_int_equal(next, -1);
    a = add(s, "a@x.test", "first", 0);
    assert_int_equal(mc__store_outbox_add(s, "me@x.test", two, 2, bin, sizeof(bin), 0, &b, NULL), 0);
    assert_true(b > a);
    assert_int_equal(mc__store_outbox_next(s, mc__wall_ms(), &r, &next), 1);
    assert_int_equal(r.id, a);
    assert_string_equal(r.mail, "first");
    assert_string_equal(r.from, "me@x.test");
    assert_int_equal(r.nto, 1);
    assert_string_equal(r.to[0], "a@x.test");
    assert_int_equal(r.attempts, 0);
    assert_null(r.last_error);
    mc__outbox_row_clear(&r);
    /* not done yet: handed out again */
    assert_int_equal(mc__store_outbox_next(s, mc__wall_ms(), &r, &next), 1);
    assert_int_equal(r.id, a);
    mc__outbox_row_clear(&r);
    assert_int_equal(mc__store_outbox_done(s, a), 0);
    assert_int_equal(mc__store_outbox_next(s, mc__wall_ms(), &r, &next), 1);
    assert_int_equal(r.id, b);
    assert_int_equal(r.nto, 2);
    assert_string_equal(r.to[0], "p@x.test");
    assert_string_equal(r.to[1], "q@x.test");
    assert_int_equal(r.len, sizeof(bin));
    assert_memory_equal(r.mail, bin, sizeof(bin));
    mc__outbox_row_clear(&r);
    /* before it is due: nothing, and when it will be */
    assert_int_equal(mc__store_outbox_next(s, 0, &r, &next), 0);
    assert_true(next > 0 && next <= mc__wall_ms());
    assert_string_equal(ids(s, false, got), "2");
    mc__store_free(s);
}

/* A failed attempt counts on that mail and keeps its error; every queued
 * mail to the same recipients waits as long (oldest first still), other
 * destinations and dead mail are untouched. */
static void test_outbox_retry_same_recipients(void **state)
{
    fixture *x = *state;
    mc__store *s = open_owner(x->path, 0);
    mc__outbox_row r;
    int64_t next, now = mc__wall_ms(), later = now + 3600000;
    int64_t a1 = add(s, "a@x.test", "a1", 0), b1 = add(s, "b@x.test", "b1", 0),
            a2 = add(s, "a@x.test", "a2", 0);
    int64_t a3 = add(s, "a@x.test", "a3", 0);
    char got[256];
    memset(&r, 0, sizeof(r));
    assert_int_equal(mc__store_outbox_dead(s, a3, now, "refused"), 0);
    assert_int_equal(mc__store_outbox_retry(s, a1, later, "try later"), 0);
    /* only b1 is due */
    assert_int_equal(mc__store_outbox_next(s, now + 1000, &r, &next), 1);
    assert_int_equal(r.id, b1);
    mc__outbox_row_clear(&r);
    assert_int_equal(mc__store_outbox_done(s, b1), 0);
    assert_int_equal(mc__store_outbox_next(s, now + 1000, &r, &next), 0);
    assert_int_equal(next, later);
    /* then the a's, oldest first */
    assert_int_equal(mc__store_outbox_next(s, later, &r, &next), 1);
    assert_int_equal(r.id, a1);
    assert_int_equal(r.attempts, 1);
    assert_string_equal(r.last_error, "try later");
    mc__outbox_row_clear(&r);
    assert_int_equal(mc__store_outbox_done(s, a1), 0);
    assert_int_equal(mc__store_outbox_next(s, later, &r, &next), 1);
    assert_int_equal(r.id, a2);
    assert_int_equal(r.attempts, 0); /* it waited, it was not tried */
    assert_null(r.last_error);
    mc__outbox_row_clear(&r);
    /* the dead one was not moved */
    assert_string_equal(ids(s, true, got), "4");
    assert_int_equal(sql_int(x->path, "SELECT next_ms FROM outbox WHERE id = 4") < later, 1);
    mc__store_free(s);
}

/* A mail queued while its destination is backing off waits behind the
 * older mail there: it is not tried first (where it could overtake it). */
static void test_outbox_new_mail_waits_behind_backoff(void **state)
{
    fixture *x = *state;
    mc__store *s = open_owner(x->path, 0);
    mc__outbox_row r;
    int64_t next, now = mc__wall_ms(), later = now + 3600000;
    int64_t a1 = add(s, "a@x.test", "a1", 0), a2, b1;
    memset(&r, 0, sizeof(r));
    assert_int_equal(mc__store_outbox_retry(s, a1, later, "try later"), 0);
    a2 = add(s, "a@x.test", "a2", 0);
    b1 = add(s, "b@x.test", "b1", 0); /* another destination: due at once */
    assert_int_equal(mc__store_outbox_next(s, mc__wall_ms(), &r, &next), 1);
    assert_int_equal(r.id, b1);
    mc__outbox_row_clear(&r);
    assert_int_equal(mc__store_outbox_done(s, b1), 0);
    assert_int_equal(mc__store_outbox_next(s, mc__wall_ms(), &r, &next), 0);
    assert_int_equal(next, later);
    assert_int_equal(mc__store_outbox_next(s, later, &r, &next), 1);
    assert_int_equal(r.id, a1);
    mc__outbox_row_clear(&r);
    assert_int_equal(mc__store_outbox_done(s, a1), 0);
    assert_int_equal(mc__store_outbox_next(s, later, &r, &next), 1);
    assert_int_equal(r.id, a2);
    mc__outbox_row_clear(&r);
    mc__store_free(s);
}

/* ---- the same through the outbox's delivery thread: a sender that fails
 * its first attempt, then accepts ---- */

typedef struct {
    mc__sender base;
    pthread_mutex_t lock;
    int attempts, fail_left;
    char sent[8][16];
    int nsent;
} flaky;

static int flaky_send(mc__sender *s, const char *from, const char *const *to, size_t nto, const char *mail,
                      size_t len, const mc__cancel_token *cancel)
{
    flaky *f = (flaky *)s;
    int rc = 0;
    (void)from, (void)to, (void)nto, (void)cancel;
    pthread_mutex_lock(&f->lock);
    f->attempts++;
    if (f->fail_left > 0) {
        f->fail_left--;
        rc = mc__error_set(MC_EIO, "the server is away");
    } else if (f->nsent < 8) {
        snprintf(f->sent[f->nsent++], 16, "%.*s", (int)(len < 15 ? len : 15), mail);
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static void flaky_free(mc__sender *s) { (void)s; }

static const mc__sender_ops flaky_ops = {
    .version = MC__SENDER_VERSION, .name = "flaky", .send = flaky_send, .free = flaky_free};

static int flaky_get(flaky *f, int *nsent)
{
    pthread_mutex_lock(&f->lock);
    int a = f->attempts;
    *nsent = f->nsent;
    pthread_mutex_unlock(&f->lock);
    return a;
}

/* The first attempt at m1 fails; m2, queued during m1's backoff, leaves
 * after m1, not before. */
static void test_outbox_thread_keeps_order_after_failure(void **state)
{
    fixture *x = *state;
    mc__store *s = open_owner(x->path, 0);
    mc__outbox_options o = {.retry_initial_ms = 400, .retry_max_ms = 400, .lifetime_ms = 3600000};
    flaky f;
    mc__sender *b;
    const char *rcpt[1] = {"a@x.test"};
    int nsent = 0;
    memset(&f, 0, sizeof(f));
    f.base.ops = &flaky_ops;
    f.fail_left = 1;
    pthread_mutex_init(&f.lock, NULL);
    assert_int_equal(mc__outbox_new(&b, &f.base, s, &o), 0);
    assert_int_equal(b->ops->send(b, "me@x.test", rcpt, 1, "m1", 2, NULL), 0);
    for (int i = 0; i < 500 && flaky_get(&f, &nsent) < 1; i++)
        usleep(10000);
    usleep(50000); /* the failure recorded */
    assert_int_equal(b->ops->send(b, "me@x.test", rcpt, 1, "m2", 2, NULL), 0);
    for (int i = 0; i < 500 && (flaky_get(&f, &nsent), nsent < 2); i++)
        usleep(10000);
    b->ops->free(b);
    assert_int_equal(f.nsent, 2);
    assert_string_equal(f.sent[0], "m1");
    assert_string_equal(f.sent[1], "m2");
    assert_int_equal(f.attempts, 3);
    mc__store_free(s);
}

/* The byte bound: a mail that would pass it is refused with MC_EFULL and
 * nothing is queued; dead-lettered mail counts; purging makes room. */
static void test_outbox_bound(void **state)
{
    fixture *x = *state;
    mc__store *s = open_owner(x->path, 0);
    const char *rcpt[1] = {"a@x.test"};
    char big[600];
    int64_t id = 0, first;
    size_t n;
    char got[256];
    memset(big, 'x', sizeof(big));
    assert_int_equal(mc__store_outbox_add(s, "me@x.test", rcpt, 1, big, sizeof(big), 1000, &first, NULL), 0);
    assert_int_equal(mc__store_outbox_add(s, "me@x.test", rcpt, 1, big, sizeof(big), 1000, &id, NULL),
                     MC_EFULL);
    error_says(x->path, "full");
    assert_string_equal(ids(s, false, got), "1");
    assert_int_equal(sql_int(x->path, "SELECT count(*) FROM outbox"), 1);
    assert_int_equal(sql_int(x->path, "SELECT coalesce(sum(bytes), 0) FROM outbox"), 600);
    /* up to the bound exactly */
    assert_int_equal(mc__store_outbox_add(s, "me@x.test", rcpt, 1, big, 400, 1000, &id, NULL), 0);
    assert_int_equal(mc__store_outbox_done(s, id), 0);
    /* dead mail counts */
    assert_int_equal(mc__store_outbox_dead(s, first, mc__wall_ms(), "refused"), 0);
    assert_int_equal(mc__store_outbox_add(s, "me@x.test", rcpt, 1, big, sizeof(big), 1000, &id, NULL),
                     MC_EFULL);
    assert_int_equal(listed(s, false), 0);
    assert_int_equal(listed(s, true), 1);
    /* purged (by an administrator): room again, the total kept right */
    assert_int_equal(mc_queue_purge(x->path, 0, true, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(sql_int(x->path, "SELECT coalesce(sum(bytes), 0) FROM outbox"), 0);
    assert_int_equal(mc__store_outbox_add(s, "me@x.test", rcpt, 1, big, sizeof(big), 1000, &id, NULL), 0);
    assert_int_equal(sql_int(x->path, "SELECT coalesce(sum(bytes), 0) FROM outbox"), 600);
    mc__store_free(s);
}

typedef struct {
    int n;
    mc_queue_entry e[8];
    char to[8][64], from[8][64], err[8][64];
} entries;

static int keep_entry(const mc_queue_entry *e, void *ud)
{
    entries *l = ud;
    if (l->n < 8) {
        l->e[l->n] = *e;
        snprintf(l->to[l->n], 64, "%s", e->to);
        snprintf(l->from[l->n], 64, "%s", e->from);
        snprintf(l->err[l->n], 64, "%s", e->last_error ? e->last_error : "(none)");
        l->n++;
    }
    return 0;
}

static int stop_at_first(const mc_queue_entry *e, void *ud)
{
    (void)e, (void)ud;
    return 42;
}

/* The public queue API: list (fields, queued or dead), retry (a dead mail
 * is queued again, due now, its attempts from 0), purge (one, dead only, all). */
static void test_queue_api(void **state)
{
    fixture *x = *state;
    mc__store *s = open_owner(x->path, 0);
    const char *two[2] = {"p@x.test", "q@x.test"};
    int64_t a, b, c, t0 = mc__wall_ms();
    entries l;
    size_t n;
    a = add(s, "a@x.test", "aaaa", 0);
    assert_int_equal(mc__store_outbox_add(s, "me@x.test", two, 2, "bb", 2, 0, &b, NULL), 0);
    c = add(s, "c@x.test", "c", 0);
    assert_int_equal(mc__store_outbox_dead(s, b, t0, "550 no such user"), 0);
    assert_int_equal(mc__store_outbox_retry(s, c, t0 + 3600000, "421 later"), 0);

    memset(&l, 0, sizeof(l));
    assert_int_equal(mc_queue_list(x->path, false, keep_entry, &l), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.e[0].id, a);
    assert_string_equal(l.to[0], "a@x.test");
    assert_string_equal(l.from[0], "me@x.test");
    assert_int_equal(l.e[0].bytes, 4);
    assert_int_equal(l.e[0].attempts, 0);
    assert_int_equal(l.e[0].dead_ms, 0);
    assert_string_equal(l.err[0], "(none)");
    assert_true(l.e[0].queued_ms >= t0 - 1000 && l.e[0].queued_ms <= mc__wall_ms());
    assert_int_equal(l.e[1].id, c);
    assert_int_equal(l.e[1].attempts, 1);
    assert_int_equal(l.e[1].next_attempt_ms, t0 + 3600000);
    assert_string_equal(l.err[1], "421 later");
    memset(&l, 0, sizeof(l));
    assert_int_equal(mc_queue_list(x->path, true, keep_entry, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.e[0].id, b);
    assert_string_equal(l.to[0], "p@x.test, q@x.test");
    assert_int_equal(l.e[0].dead_ms, t0);
    assert_string_equal(l.err[0], "550 no such user");
    assert_int_equal(mc_queue_list(x->path, false, stop_at_first, NULL), 42);

    /* retry one: the dead mail is queued again, due now */
    assert_int_equal(mc_queue_retry(x->path, b, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(listed(s, true), 0);
    memset(&l, 0, sizeof(l));
    assert_int_equal(mc_queue_list(x->path, false, keep_entry, &l), 0);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.e[1].id, b);
    assert_int_equal(l.e[1].attempts, 0);
    assert_int_equal(l.e[1].dead_ms, 0);
    assert_true(l.e[1].next_attempt_ms <= mc__wall_ms());
    assert_true(l.e[1].queued_ms >= t0);
    /* retry all: c is due now too */
    assert_int_equal(mc_queue_retry(x->path, 0, &n), 0);
    assert_int_equal(n, 3);
    {
        mc__outbox_row r;
        int64_t next, now = mc__wall_ms();
        int got = 0;
        memset(&r, 0, sizeof(r));
        while (mc__store_outbox_next(s, now, &r, &next) == 1) {
            assert_int_equal(mc__store_outbox_done(s, r.id), 0);
            mc__outbox_row_clear(&r);
            got++;
        }
        assert_int_equal(got, 3);
    }
    /* purge: one, dead only, all */
    a = add(s, "a@x.test", "1", 0);
    b = add(s, "a@x.test", "2", 0);
    c = add(s, "a@x.test", "3", 0);
    assert_int_equal(mc__store_outbox_dead(s, c, mc__wall_ms(), "refused"), 0);
    assert_int_equal(mc_queue_purge(x->path, a, false, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(mc_queue_purge(x->path, b, true, &n), 0); /* b is not dead */
    assert_int_equal(n, 0);
    assert_int_equal(mc_queue_purge(x->path, 0, true, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(mc_queue_purge(x->path, 0, false, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(listed(s, false) + listed(s, true), 0);
    assert_int_equal(mc_queue_retry(x->path, -1, &n), MC_EINVAL);
    assert_int_equal(mc_queue_purge(x->path, -1, false, &n), MC_EINVAL);
    assert_int_equal(mc_queue_list(x->path, false, NULL, NULL), MC_EINVAL);
    mc__store_free(s);
}

/* ---- tests: received ids ---- */

/* seen is 0 until record; record is 0 the first time and 1 for an id
 * recorded before (the record kept as it was: the first mail's id). */
static void test_dedup_seen_record(void **state)
{
    fixture *x = *state;
    mc__store *s = open_owner(x->path, 0);
    mc__state *st = mc__store_state(s);
    int64_t n;
    char *mail;
    assert_int_equal(st->ops->version, MC__STATE_VERSION);
    assert_int_equal(st->ops->seen(st, "urn:uuid:a"), 0);
    assert_int_equal(st->ops->record(st, "urn:uuid:a", "mail-1"), 0);
    assert_int_equal(st->ops->seen(st, "urn:uuid:a"), 1);
    assert_int_equal(st->ops->seen(st, "urn:uuid:b"), 0);
    assert_int_equal(st->ops->record(st, "urn:uuid:a", "mail-2"), 1);
    mail = sql_text(x->path, "SELECT mail_id FROM received WHERE message_id = 'urn:uuid:a'");
    assert_string_equal(mail, "mail-1");
    free(mail);
    assert_int_equal(st->ops->record(st, "urn:uuid:b", "mail-3"), 0);
    assert_int_equal(mc__store_received_count(s, &n), 0);
    assert_int_equal(n, 2);
    /* kept across a restart */
    mc__store_free(s);
    s = open_owner(x->path, 0);
    st = mc__store_state(s);
    assert_int_equal(st->ops->seen(st, "urn:uuid:a"), 1);
    assert_int_equal(st->ops->record(st, "urn:uuid:b", "mail-4"), 1);
    st->ops->free(st); /* the state view frees the store */
}

/* An id recorded longer ago than dedup_window is not "seen", and recorded
 * again it is new (0); ids past the window are pruned as records go on. */
static void test_dedup_window(void **state)
{
    fixture *x = *state;
    mc__store *s = open_owner(x->path, 60000);
    mc__state *st = mc__store_state(s);
    int64_t n;
    char sql[200];
    assert_int_equal(st->ops->record(st, "urn:uuid:old", "mail-1"), 0);
    assert_int_equal(st->ops->record(st, "urn:uuid:recent", "mail-2"), 0);
    snprintf(sql, sizeof(sql), "UPDATE received SET seen_ms = %lld WHERE message_id = 'urn:uuid:old'",
             (long long)(mc__wall_ms() - 61000));
    sql_exec(x->path, sql);
    snprintf(sql, sizeof(sql), "UPDATE received SET seen_ms = %lld WHERE message_id = 'urn:uuid:recent'",
             (long long)(mc__wall_ms() - 59000));
    sql_exec(x->path, sql);
    assert_int_equal(st->ops->seen(st, "urn:uuid:old"), 0);
    assert_int_equal(st->ops->seen(st, "urn:uuid:recent"), 1);
    assert_int_equal(st->ops->record(st, "urn:uuid:recent", "mail-3"), 1);
    assert_int_equal(st->ops->record(st, "urn:uuid:old", "mail-4"), 0);
    assert_int_equal(st->ops->seen(st, "urn:uuid:old"), 1);
    /* pruning: an old id goes once a thousand more were recorded */
    sql_exec(x->path, "INSERT INTO received VALUES('urn:uuid:ancient', 1, 'mail-0')");
    assert_int_equal(mc__store_received_count(s, &n), 0);
    assert_int_equal(n, 3);
    for (int i = 0; i < 1000; i++) {
        char id[40];
        snprintf(id, sizeof(id), "urn:uuid:p%d", i);
        assert_int_equal(st->ops->record(st, id, "m"), 0);
    }
    assert_int_equal(sql_int(x->path, "SELECT count(*) FROM received WHERE message_id = 'urn:uuid:ancient'"),
                     0);
    assert_int_equal(mc__store_received_count(s, &n), 0);
    assert_true(n >= 1001); /* old (recorded again) and the thousand */
    assert_int_equal(st->ops->seen(st, "urn:uuid:old"), 1);
    mc__store_free(s);
}

static int wait_stats(mc_transport *t, size_t cached, unsigned long long duplicates)
{
    for (int i = 0; i < 1000; i++) {
        mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
        assert_int_equal(mc_transport_statistics(&st, t), 0);
        if (st.cached >= cached && st.duplicates >= duplicates)
            return 0;
        usleep(10000);
    }
    return -1;
}

static void send_copy(mc_channel_factory *f, const char *to, const char *text, const char *message_id)
{
    mc_output_channel *ch;
    mc_message *m;
    assert_int_equal(mc_message_new_text(&m, "urn:test", text), 0);
    assert_int_equal(mc_message_set_message_id(m, message_id), 0);
    assert_int_equal(mc_channel_factory_create_channel(&ch, f, to), 0);
    assert_int_equal(mc_output_channel_send(ch, m), 0);
    mc_output_channel_free(ch);
    mc_message_free(m);
}

static int mails_in(const char *root, const char *addr)
{
    char a[512], b[512];
    return count_files(mbox_path(a, sizeof(a), root, addr, "new")) +
           count_files(mbox_path(b, sizeof(b), root, addr, "cur"));
}

static void wait_mails(const char *root, const char *addr, int n)
{
    for (int i = 0; i < 1000 && mails_in(root, addr) != n; i++)
        usleep(10000);
    assert_int_equal(mails_in(root, addr), n);
}

/* Two mails carrying one message (a sender that retried) in the processing
 * cache at once: handed to the application once, the other deleted and
 * counted as a duplicate. A restarted receiver over the same store drops a
 * third copy too. */
static void test_two_copies_delivered_once(void **state)
{
    fixture *x = *state;
    char root[300], sp[320];
    mc_transport *svc, *cli;
    mc_channel_factory *f;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m = NULL;
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    char *text;
    snprintf(root, sizeof(root), "%s/mail", x->dir);
    snprintf(sp, sizeof(sp), "state_path=%s", x->path);
    svc = maildir_transport(root, "svc@x.test", "server_query_interval=50", sp, NULL);
    cli = maildir_transport(root, "cli@x.test", NULL);
    assert_int_equal(mc_channel_factory_new(&f, cli), 0);
    send_copy(f, "net.mail://c#svc@x.test", "once", "urn:uuid:dup-1");
    send_copy(f, "net.mail://c#svc@x.test", "once", "urn:uuid:dup-1");
    open_in(svc, "net.mail://c#", &l, &in);
    assert_int_equal(wait_stats(svc, 2, 0), 0); /* both copies cached */
    text = receive_text(in, 5000);
    assert_string_equal(text, "once");
    mc_free(text);
    assert_int_equal(mc_input_channel_receive(&m, in, 1000), MC_ETIMEOUT);
    assert_null(m);
    assert_int_equal(mc_transport_statistics(&st, svc), 0);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(st.delivered, 1);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_transport_free(svc);
    wait_mails(root, "svc@x.test", 0);

    /* restarted: a third copy is dropped, a new message delivered */
    svc = maildir_transport(root, "svc@x.test", "server_query_interval=50", sp, NULL);
    send_copy(f, "net.mail://c#svc@x.test", "once", "urn:uuid:dup-1");
    send_copy(f, "net.mail://c#svc@x.test", "new", "urn:uuid:new-1");
    open_in(svc, "net.mail://c#", &l, &in);
    text = receive_text(in, 5000);
    assert_string_equal(text, "new");
    mc_free(text);
    assert_int_equal(mc_input_channel_receive(&m, in, 500), MC_ETIMEOUT);
    assert_int_equal(wait_stats(svc, 0, 1), 0);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_transport_free(svc);
    wait_mails(root, "svc@x.test", 0);
    mc_channel_factory_free(f);
    mc_transport_free(cli);
}

/* ---- tests: the replay cache ---- */

typedef struct {
    int n;
    char key[8][80], mail[8][32];
    int64_t expires[8];
} loaded;

static void load_each(void *ud, const char *key, const char *mail_id, int64_t expires_ms)
{
    loaded *l = ud;
    if (l->n < 8) {
        snprintf(l->key[l->n], 80, "%s", key);
        snprintf(l->mail[l->n], 32, "%s", mail_id ? mail_id : "(null)");
        l->expires[l->n] = expires_ms;
        l->n++;
    }
}

/* replay_put keeps an entry until it expires, replay_load hands back the
 * live ones (the `max` expiring last, in expiry order), replay_remove
 * forgets one; expired entries go as new ones come. */
static void test_replay_table(void **state)
{
    fixture *x = *state;
    mc__store *s = open_owner(x->path, 0);
    mc__state *st = mc__store_state(s);
    int64_t now = mc__wall_ms();
    loaded l;
    assert_int_equal(st->ops->replay_put(st, "k-late", "mail-2", now + 300000), 0);
    assert_int_equal(st->ops->replay_put(st, "k-soon", "mail-1", now + 100000), 0);
    assert_int_equal(st->ops->replay_put(st, "k-mid", NULL, now + 200000), 0);
    memset(&l, 0, sizeof(l));
    assert_int_equal(st->ops->replay_load(st, now, 10, load_each, &l), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.key[0], "k-soon");
    assert_string_equal(l.mail[0], "mail-1");
    assert_string_equal(l.key[1], "k-mid");
    assert_string_equal(l.mail[1], "(null)");
    assert_string_equal(l.key[2], "k-late");
    assert_int_equal(l.expires[2], now + 300000);
    /* at most 2: the two expiring last */
    memset(&l, 0, sizeof(l));
    assert_int_equal(st->ops->replay_load(st, now, 2, load_each, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.key[0], "k-mid");
    assert_string_equal(l.key[1], "k-late");
    /* later: k-soon is not live */
    memset(&l, 0, sizeof(l));
    assert_int_equal(st->ops->replay_load(st, now + 150000, 10, load_each, &l), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(st->ops->replay_remove(st, "k-mid"), 0);
    assert_int_equal(st->ops->replay_remove(st, "k-none"), 0);
    memset(&l, 0, sizeof(l));
    assert_int_equal(st->ops->replay_load(st, now, 10, load_each, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.key[0], "k-soon");
    assert_string_equal(l.key[1], "k-late");
    /* an expired entry goes when the next one is put */
    sql_exec(x->path, "INSERT INTO replay VALUES('k-expired', 'm', 1)");
    assert_int_equal(st->ops->replay_put(st, "k-new", "mail-3", now + 100000), 0);
    assert_int_equal(sql_int(x->path, "SELECT count(*) FROM replay WHERE key = 'k-expired'"), 0);
    assert_int_equal(sql_int(x->path, "SELECT count(*) FROM replay"), 3);
    mc__store_free(s);
}

#ifdef MC_WITH_SECURITY
/* A restarted receiver refuses a replayed WS-Security message: a replay
 * cache created again over the same store (the store itself reopened)
 * refuses a signature accepted before with another mail id; the same mail
 * read again is no replay. */
static void test_replay_cache_survives_restart(void **state)
{
    fixture *x = *state;
    mc__store *s = open_owner(x->path, 0);
    mc__wss_replay *r;
    const unsigned char sig[] = "a signature value, as bytes";
    const unsigned char other[] = "another signature";
    int64_t now = time(NULL);
    assert_int_equal(mc__wss_replay_new(&r, 100, mc__store_state(s)), 0);
    assert_int_equal(mc__wss_replay_check(r, sig, sizeof(sig), "mail-1", now + 300, now), 0);
    assert_int_equal(mc__wss_replay_check(r, sig, sizeof(sig), "mail-2", now + 300, now), MC_ESECURITY);
    mc__wss_replay_free(r);
    /* the same store, a new cache (the transport made again) */
    assert_int_equal(mc__wss_replay_new(&r, 100, mc__store_state(s)), 0);
    assert_int_equal(mc__wss_replay_check(r, sig, sizeof(sig), "mail-2", now + 300, now), MC_ESECURITY);
    assert_non_null(strstr(mc_error_last(), "replayed"));
    assert_non_null(strstr(mc_error_last(), "mail-1"));
    assert_int_equal(mc__wss_replay_check(r, sig, sizeof(sig), "mail-1", now + 300, now), 0);
    mc__wss_replay_free(r);
    mc__store_free(s);
    /* a new process: the store reopened */
    s = open_owner(x->path, 0);
    assert_int_equal(mc__wss_replay_new(&r, 100, mc__store_state(s)), 0);
    assert_int_equal(mc__wss_replay_check(r, sig, sizeof(sig), "mail-3", now + 300, now), MC_ESECURITY);
    assert_int_equal(mc__wss_replay_check(r, other, sizeof(other), "mail-3", now + 300, now), 0);
    mc__wss_replay_free(r);
    /* without the store, a new cache knows nothing (what the store adds) */
    assert_int_equal(mc__wss_replay_new(&r, 100, NULL), 0);
    assert_int_equal(mc__wss_replay_check(r, sig, sizeof(sig), "mail-3", now + 300, now), 0);
    mc__wss_replay_free(r);
    mc__store_free(s);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema_created_and_versioned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_owner_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_bytes_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbled_header_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbled_pages_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v1_store_migrated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unusable_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queued_needs_state_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_retry_same_recipients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_new_mail_waits_behind_backoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_thread_keeps_order_after_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_api, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedup_seen_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedup_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_copies_delivered_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_table, setup, teardown),
#ifdef MC_WITH_SECURITY
        cmocka_unit_test_setup_teardown(test_replay_cache_survives_restart, setup, teardown),
#endif
    };
    mc_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
