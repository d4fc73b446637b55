/* store.c - the durable state store over SQLite (store.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <sqlite3.h>
#include "internal.h"
#include "store.h"

#define SCHEMA_VERSION 2

/* the statements kept prepared (each sent once per queued mail or received message) */
enum { STMT_BEGIN, STMT_COMMIT, STMT_INSERT, STMT_DEST_WAIT, STMT_SEEN, STMT_RECORD, STMT_COUNT };

struct mc__store {
    mc__state state; /* first: the mc__state view */
    sqlite3 *db;
    char *path;
    int lock_fd;
    int64_t dedup_window_ms;
    pthread_mutex_t lock;            /* one statement sequence (a transaction) at a time */
    unsigned records;                /* received ids recorded since the last prune */
    int64_t next_id;                 /* owner: the id of the next queued mail (0: not read yet) */
    int64_t bytes;                   /* owner: bytes in the outbox, at least (-1: not counted yet) */
    sqlite3_stmt *cache[STMT_COUNT]; /* statements of the hot paths, prepared once */
};

/* ---- errors: each names the store and keeps SQLite's reason ---- */

static int store_error(mc__store *s, int rc, const char *what)
{
    const char *why = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return mc__error_set(MC_EBUSY, "state store %s: %s: busy (%s)", s->path, what, why);
    case SQLITE_FULL:
        return mc__error_set(MC_EIO,
                             "state store %s: %s: the disk is full (%s); the last committed state is kept",
                             s->path, what, why);
    case SQLITE_NOMEM:
        return mc__error_set(MC_ENOMEM, "state store %s: %s: out of memory", s->path, what);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return mc__error_set(MC_EIO,
                             "state store %s: %s: the file is corrupt or not a mailchan state store (%s)",
                             s->path, what, why);
    case SQLITE_CANTOPEN:
        /* SQLite's text does not say why: the system's does */
        if (s->db && sqlite3_system_errno(s->db))
            return mc__error_set(MC_EIO, "state store %s: %s: %s (%s)", s->path, what, why,
                                 strerror(sqlite3_system_errno(s->db)));
        return mc__error_set(MC_EIO, "state store %s: %s: %s", s->path, what, why);
    default:
        return mc__error_set(MC_EIO, "state store %s: %s: %s", s->path, what, why);
    }
}

static int exec(mc__store *s, const char *sql, const char *what)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : store_error(s, rc, what);
}

static int prepare(mc__store *s, sqlite3_stmt **st, const char *sql, const char *what)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? 0 : store_error(s, rc, what);
}

/* A kept statement (s->lock held): prepared at first use, reset for reuse.
 * Finish with keep_done (never sqlite3_finalize). */
static int keep(mc__store *s, int which, const char *sql, sqlite3_stmt **st, const char *what)
{
    if (!s->cache[which]) {
        int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->cache[which], NULL);
        if (rc != SQLITE_OK)
            return store_error(s, rc, what);
    }
    *st = s->cache[which];
    return 0;
}

static void keep_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* runs a kept statement that returns no row */
static int keep_run(mc__store *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    keep_done(st);
    return rc == SQLITE_DONE ? 0 : store_error(s, rc, what);
}

/* runs a prepared statement that returns no row, and finalizes it */
static int run(mc__store *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : store_error(s, rc, what);
}

/* a transaction: BEGIN IMMEDIATE takes the write lock at once, so a busy
 * store fails here rather than half-way */
static int begin(mc__store *s, const char *what)
{
    sqlite3_stmt *st = NULL;
    int rc;
    pthread_mutex_lock(&s->lock);
    if (!(rc = keep(s, STMT_BEGIN, "BEGIN IMMEDIATE", &st, what)))
        rc = keep_run(s, st, what);
    if (rc)
        pthread_mutex_unlock(&s->lock);
    return rc;
}

static int end(mc__store *s, int rc, const char *what)
{
    sqlite3_stmt *st = NULL;
    if (!rc && !(rc = keep(s, STMT_COMMIT, "COMMIT", &st, what)))
        rc = keep_run(s, st, what);
    if (rc && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- schema ---- */

/* Version 1. A queued mail's commit writes as few pages as it can: its row
 * and the two indexes the delivery thread reads. Its id comes from the
 * owner's counter - above every id in the table and the highest one that
 * ever left it (meta.outbox_last_id, kept by a trigger on delete, so the
 * cost falls on delivery) - not AUTOINCREMENT, which rewrites
 * sqlite_sequence at every insert. The byte bound is checked against the
 * owner's running total, recounted from the table only when a mail would
 * pass the bound (what was sent or purged meanwhile is then seen). */
static const char schema_v1[] =
    "CREATE TABLE outbox("
    " id INTEGER PRIMARY KEY," /* the owner numbers mail itself (store.c: next_id) */
    " created_ms INTEGER NOT NULL,"
    " sender TEXT NOT NULL,"
    " rcpt TEXT NOT NULL," /* the recipients, one per line: also the destination */
    " mail BLOB NOT NULL,"
    " bytes INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_ms INTEGER NOT NULL,"
    " last_error TEXT,"
    " dead_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX outbox_due ON outbox(dead_ms, next_ms, id);"
    "CREATE INDEX outbox_dest ON outbox(rcpt, dead_ms);"
    /* the highest id that left the outbox: ids are never given twice */
    "CREATE TABLE meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO meta VALUES('outbox_last_id', 0);"
    "CREATE TRIGGER outbox_gone AFTER DELETE ON outbox BEGIN"
    " UPDATE meta SET value = max(value, OLD.id) WHERE name = 'outbox_last_id'; END;"
    "CREATE TABLE received("
    " message_id TEXT PRIMARY KEY,"
    " seen_ms INTEGER NOT NULL,"
    " mail_id TEXT) WITHOUT ROWID;"
    "CREATE INDEX received_age ON received(seen_ms);"
    "CREATE TABLE replay("
    " key TEXT PRIMARY KEY,"
    " mail_id TEXT,"
    " expires_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX replay_expiry ON replay(expires_ms);";

/* Version 2: request/reply correlation. `request` holds what a request
 * channel sent and was not answered yet; `reply` what was received for it
 * and not yet taken by the application (the mail may be gone). */
static const char schema_v2[] = "CREATE TABLE request("
                                " message_id TEXT PRIMARY KEY,"
                                " service TEXT NOT NULL,"
                                " sent_ms INTEGER NOT NULL,"
                                " forget_ms INTEGER NOT NULL) WITHOUT ROWID;"
                                "CREATE INDEX request_forget ON request(forget_ms);"
                                "CREATE TABLE reply("
                                " seq INTEGER PRIMARY KEY,"
                                " key TEXT NOT NULL UNIQUE,"
                                " relates_to TEXT NOT NULL,"
                                " envelope BLOB NOT NULL,"
                                " from_email TEXT NOT NULL,"
                                " mail_message_id TEXT NOT NULL,"
                                " received TEXT NOT NULL);";

/* migrations[v] takes a store from version v to v + 1 */
static const char *const migrations[] = {schema_v1, schema_v2};

static int migrate(mc__store *s)
{
    sqlite3_stmt *st = NULL;
    int version, rc;
    if ((rc = begin(s, "reading the schema version")))
        return rc;
    if ((rc = prepare(s, &st, "PRAGMA user_version", "reading the schema version")))
        return end(s, rc, "");
    rc = sqlite3_step(st);
    version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (version < 0)
        return end(s, store_error(s, rc, "reading the schema version"), "");
    rc = 0;
    if (version > SCHEMA_VERSION)
        return end(s,
                   mc__error_set(MC_EIO,
                                 "state store %s: schema version %d is newer than this mailchan's (%d); "
                                 "refusing to change it",
                                 s->path, version, SCHEMA_VERSION),
                   "");
    for (; version < SCHEMA_VERSION && !rc; version++) {
        char sql[64];
        rc = exec(s, migrations[version], "creating the schema");
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version + 1);
        if (!rc)
            rc = exec(s, sql, "recording the schema version");
    }
    return end(s, rc, "committing the schema");
}

/* ---- open / free ---- */

static int take_lock(mc__store *s)
{
    size_t n = strlen(s->path) + sizeof("-lock");
    char *name = malloc(n);
    if (!name)
        return mc__error_set(MC_ENOMEM, "out of memory");
    snprintf(name, n, "%s-lock", s->path);
    s->lock_fd = open(name, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        int e = errno;
        free(name);
        return mc__error_set(MC_EIO, "state store %s: cannot open its lock file: %s", s->path, strerror(e));
    }
    free(name);
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB)) {
        int e = errno;
        if (e == EWOULDBLOCK)
            return mc__error_set(MC_EBUSY, "state store %s is in use by another transport or process",
                                 s->path);
        return mc__error_set(MC_EIO, "state store %s: cannot lock it: %s", s->path, strerror(e));
    }
    return 0;
}

static const mc__state_ops state_ops;

/* a mailchan store has its schema (user_version >= 1): 0 or an error if so */
static int check_is_store(mc__store *s)
{
    sqlite3_stmt *st = NULL;
    int rc, version;
    if ((rc = prepare(s, &st, "PRAGMA user_version", "reading the schema version")))
        return rc;
    rc = sqlite3_step(st);
    version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (version < 0)
        return store_error(s, rc, "reading the schema version");
    if (version == 0)
        return mc__error_set(MC_EIO, "state store %s: not a mailchan state store (no schema)", s->path);
    return 0;
}

int mc__store_open(mc__store **out, const char *path, mc__store_mode mode, const mc__store_options *o)
{
    mc__store *s;
    sqlite3_stmt *st = NULL;
    int rc;
    if (!out || !path || !*path)
        return mc__error_set(MC_EINVAL, "a state store needs a path");
    if (!(s = calloc(1, sizeof(*s))) || !(s->path = mc__strdup(path))) {
        free(s);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    s->state.ops = &state_ops;
    s->lock_fd = -1;
    s->dedup_window_ms = o && o->dedup_window_ms > 0 ? o->dedup_window_ms : 7LL * 24 * 3600 * 1000;
    s->bytes = -1;
    pthread_mutex_init(&s->lock, NULL);
    if (mode == MC__STORE_OWNER && (rc = take_lock(s)))
        goto fail;
    rc = sqlite3_open_v2(path, &s->db,
                         SQLITE_OPEN_READWRITE | (mode == MC__STORE_OWNER ? SQLITE_OPEN_CREATE : 0) |
                             SQLITE_OPEN_FULLMUTEX,
                         NULL);
    if (rc != SQLITE_OK) {
        rc = store_error(s, rc, "cannot open it");
        goto fail;
    }
    sqlite3_busy_timeout(s->db, 10000);
    sqlite3_extended_result_codes(s->db, 1);
    /* an administrator never makes a store: an empty file or another
     * program's database is refused before anything is written to it */
    if (mode == MC__STORE_ADMIN && (rc = check_is_store(s)))
        goto fail;
    /* WAL: readers beside the writer; FULL: a commit survives power loss */
    if ((rc = prepare(s, &st, "PRAGMA journal_mode = WAL", "setting WAL mode")))
        goto fail;
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(st, 0), "wal")) {
        rc = rc == SQLITE_ROW ? mc__error_set(MC_EIO, "state store %s: WAL mode is not available here", path)
                              : store_error(s, rc, "setting WAL mode");
        sqlite3_finalize(st);
        goto fail;
    }
    sqlite3_finalize(st);
    if ((rc = exec(s, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF", "setting synchronous=FULL")) ||
        (rc = migrate(s)))
        goto fail;
    *out = s;
    return 0;
fail:
    mc__store_free(s);
    return rc;
}

void mc__store_free(mc__store *s)
{
    if (!s)
        return;
    for (int i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(s->cache[i]);
    if (s->db)
        sqlite3_close_v2(s->db);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the lock */
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}

const char *mc__store_path(const mc__store *s) { return s->path; }

mc__state *mc__store_state(mc__store *s) { return &s->state; }

/* ---- the outbox ---- */

void mc__outbox_row_clear(mc__outbox_row *r)
{
    free(r->from);
    for (size_t i = 0; i < r->nto; i++)
        free(r->to[i]);
    free(r->to);
    free(r->mail);
    free(r->last_error);
    memset(r, 0, sizeof(*r));
}

/* the addresses joined by sep (malloc'ed; NULL when out of memory) */
static char *join(const char *const *to, size_t nto, const char *sep)
{
    mc__buf b;
    mc__buf_init(&b);
    for (size_t i = 0; i < nto; i++) {
        if (i)
            mc__buf_puts(&b, sep);
        mc__buf_puts(&b, to[i]);
    }
    return b.len ? mc__buf_detach(&b, NULL) : (mc__buf_free(&b), mc__strdup(""));
}

/* stored one per line: the column is also the destination */
static char *join_rcpt(const char *const *to, size_t nto) { return join(to, nto, "\n"); }

char *mc__outbox_row_recipients(const mc__outbox_row *r)
{
    return join((const char *const *)r->to, r->nto, ", ");
}

static int split_rcpt(const char *text, mc__outbox_row *r)
{
    size_t n = 1;
    for (const char *p = text; *p; p++)
        n += *p == '\n';
    if (!(r->to = calloc(n, sizeof(char *))))
        return MC_ENOMEM;
    for (const char *p = text;;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (!(r->to[r->nto] = mc__strndup(p, len)))
            return MC_ENOMEM;
        r->nto++;
        if (!nl)
            break;
        p = nl + 1;
    }
    return 0;
}

static char *column_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? mc__strdup((const char *)t) : NULL;
}

/* the owner's id counter and byte total, read once (s->lock held) */
static int outbox_counters(mc__store *s, const char *what)
{
    sqlite3_stmt *st = NULL;
    int rc;
    if (s->next_id && s->bytes >= 0)
        return 0;
    if ((rc = prepare(
             s, &st,
             "SELECT max(coalesce(max(id), 0), (SELECT value FROM meta WHERE name = 'outbox_last_id')) + 1, "
             "coalesce(sum(bytes), 0) FROM outbox",
             what)))
        return rc;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (!s->next_id)
            s->next_id = sqlite3_column_int64(st, 0);
        s->bytes = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : store_error(s, rc, what);
}

int mc__store_outbox_add(mc__store *s, const char *from, const char *const *to, size_t nto, const char *mail,
                         size_t len, uint64_t max_bytes, int64_t *id, int64_t *due_ms)
{
    static const char *what = "queueing a mail";
    sqlite3_stmt *st = NULL;
    char *rcpt = join_rcpt(to, nto);
    int64_t now = mc__wall_ms(), due = now;
    int rc;
    if (!rcpt)
        return mc__error_set(MC_ENOMEM, "out of memory");
    if ((rc = begin(s, what))) {
        free(rcpt);
        return rc;
    }
    rc = outbox_counters(s, what);
    if (!rc && max_bytes && (uint64_t)s->bytes + len > max_bytes) {
        /* the running total only grows: count again (mail sent or purged meanwhile) */
        s->bytes = -1;
        if (!(rc = outbox_counters(s, what)) && (uint64_t)s->bytes + len > max_bytes)
            rc = mc__error_set(MC_EFULL,
                               "the outbox of state store %s is full: %lld bytes queued, this mail %zu, "
                               "queue_max_bytes %llu",
                               s->path, (long long)s->bytes, len, (unsigned long long)max_bytes);
    }
    /* due now - or, when mail to the same recipients is waiting (a failed
     * attempt's backoff), when the newest of it is: it leaves after them */
    if (!rc &&
        !(rc = keep(s, STMT_DEST_WAIT,
                    "SELECT next_ms FROM outbox WHERE rcpt = ?1 AND dead_ms = 0 ORDER BY id DESC LIMIT 1",
                    &st, what))) {
        sqlite3_bind_text(st, 1, rcpt, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) > due)
            due = sqlite3_column_int64(st, 0);
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_error(s, rc, what);
        keep_done(st);
    }
    if (!rc && !(rc = keep(s, STMT_INSERT,
                           "INSERT INTO outbox(id, created_ms, sender, rcpt, mail, bytes, next_ms) "
                           "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                           &st, what))) {
        sqlite3_bind_int64(st, 1, s->next_id);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_text(st, 3, from ? from : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, rcpt, -1, SQLITE_STATIC);
        sqlite3_bind_blob64(st, 5, mail, len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, (sqlite3_int64)len);
        sqlite3_bind_int64(st, 7, due);
        rc = keep_run(s, st, what);
    }
    if (!(rc = end(s, rc, what))) {
        if (id)
            *id = s->next_id;
        if (due_ms)
            *due_ms = due;
        s->next_id++;
        s->bytes += (int64_t)len;
    }
    free(rcpt);
    return rc;
}

static int read_row(sqlite3_stmt *st, mc__outbox_row *r, bool with_mail)
{
    const char *rcpt = (const char *)sqlite3_column_text(st, 3);
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(st, 0);
    r->created_ms = sqlite3_column_int64(st, 1);
    r->from = column_dup(st, 2);
    r->attempts = (unsigned)sqlite3_column_int(st, 4);
    r->next_ms = sqlite3_column_int64(st, 5);
    r->last_error = column_dup(st, 6);
    r->dead_ms = sqlite3_column_int64(st, 7);
    r->len = (size_t)sqlite3_column_int64(st, 8);
    if (!r->from || split_rcpt(rcpt ? rcpt : "", r))
        return MC_ENOMEM;
    if (with_mail) {
        const void *blob = sqlite3_column_blob(st, 9);
        r->len = (size_t)sqlite3_column_bytes(st, 9);
        if (!(r->mail = malloc(r->len + 1)))
            return MC_ENOMEM;
        if (r->len)
            memcpy(r->mail, blob, r->len);
        r->mail[r->len] = 0;
    }
    return 0;
}

#define ROW_COLUMNS "id, created_ms, sender, rcpt, attempts, next_ms, last_error, dead_ms, bytes"

int mc__store_outbox_next(mc__store *s, int64_t now_ms, mc__outbox_row *row, int64_t *next_ms)
{
    static const char *what = "reading the outbox";
    sqlite3_stmt *st = NULL;
    int rc;
    *next_ms = -1;
    pthread_mutex_lock(&s->lock);
    rc = prepare(s, &st,
                 "SELECT " ROW_COLUMNS ", mail FROM outbox WHERE dead_ms = 0 AND next_ms <= ?1 "
                 "ORDER BY id LIMIT 1",
                 what);
    if (!rc) {
        sqlite3_bind_int64(st, 1, now_ms);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            rc = read_row(st, row, true) ? mc__error_set(MC_ENOMEM, "out of memory") : 1;
            if (rc < 0)
                mc__outbox_row_clear(row);
        } else {
            rc = rc == SQLITE_DONE ? 0 : store_error(s, rc, what);
        }
        sqlite3_finalize(st);
    }
    if (rc == 0 && !(rc = prepare(s, &st, "SELECT min(next_ms) FROM outbox WHERE dead_ms = 0", what))) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            *next_ms = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* one statement in its own transaction; parameters ?1 ?2 (integers) and
 * ?3 (text) where the statement has them; *n: the rows it changed */
static int change_n(mc__store *s, const char *sql, int64_t a, int64_t b, const char *text, size_t *n,
                    const char *what)
{
    sqlite3_stmt *st = NULL;
    int rc, params;
    if (n)
        *n = 0;
    if ((rc = begin(s, what)))
        return rc;
    if (!(rc = prepare(s, &st, sql, what))) {
        params = sqlite3_bind_parameter_count(st);
        sqlite3_bind_int64(st, 1, a);
        if (params >= 2)
            sqlite3_bind_int64(st, 2, b);
        if (params >= 3)
            sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
        rc = run(s, st, what);
        if (!rc && n)
            *n = (size_t)sqlite3_changes(s->db);
    }
    return end(s, rc, what);
}

static int change(mc__store *s, const char *sql, int64_t a, int64_t b, const char *text, const char *what)
{
    return change_n(s, sql, a, b, text, NULL, what);
}

int mc__store_outbox_done(mc__store *s, int64_t id)
{
    return change(s, "DELETE FROM outbox WHERE id = ?1", id, 0, NULL, "removing a sent mail from the outbox");
}

int mc__store_outbox_retry(mc__store *s, int64_t id, int64_t next_ms, const char *error)
{
    /* this mail counts the attempt; every queued mail to the same
     * recipients waits as long, so they leave in order */
    return change(s,
                  "UPDATE outbox SET attempts = attempts + (id = ?1), last_error = CASE WHEN id = ?1 THEN ?3 "
                  "ELSE last_error END, next_ms = max(next_ms, ?2) "
                  "WHERE dead_ms = 0 AND rcpt = (SELECT rcpt FROM outbox WHERE id = ?1)",
                  id, next_ms, error, "recording a failed delivery");
}

int mc__store_outbox_dead(mc__store *s, int64_t id, int64_t now_ms, const char *error)
{
    return change(s, "UPDATE outbox SET attempts = attempts + 1, dead_ms = ?2, last_error = ?3 WHERE id = ?1",
                  id, now_ms, error, "dead-lettering a mail");
}

int mc__store_outbox_list(mc__store *s, bool dead, mc__outbox_each each, void *ud)
{
    static const char *what = "listing the outbox";
    sqlite3_stmt *st = NULL;
    int rc;
    pthread_mutex_lock(&s->lock);
    rc = prepare(s, &st,
                 dead ? "SELECT " ROW_COLUMNS " FROM outbox WHERE dead_ms != 0 ORDER BY id"
                      : "SELECT " ROW_COLUMNS " FROM outbox WHERE dead_ms = 0 ORDER BY id",
                 what);
    while (!rc) {
        mc__outbox_row r;
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = store_error(s, step, what);
            break;
        }
        if (read_row(st, &r, false))
            rc = mc__error_set(MC_ENOMEM, "out of memory");
        else
            rc = each(&r, ud);
        mc__outbox_row_clear(&r);
    }
    if (st)
        sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int mc__store_outbox_requeue(mc__store *s, int64_t id, bool dead, int64_t now_ms, size_t *n)
{
    return change_n(s,
                    dead ? "UPDATE outbox SET dead_ms = 0, next_ms = ?2, created_ms = ?2, attempts = 0 "
                           "WHERE dead_ms != 0 AND (?1 = 0 OR id = ?1)"
                         : "UPDATE outbox SET next_ms = ?2 WHERE dead_ms = 0 AND (?1 = 0 OR id = ?1)",
                    id, now_ms, NULL, n, "queueing mail again");
}

int mc__store_outbox_purge(mc__store *s, int64_t id, bool dead_only, size_t *n)
{
    return change_n(s,
                    dead_only ? "DELETE FROM outbox WHERE dead_ms != 0 AND (?1 = 0 OR id = ?1)"
                              : "DELETE FROM outbox WHERE (?1 = 0 OR id = ?1)",
                    id, 0, NULL, n, "purging the outbox");
}

/* ---- received ids ---- */

static int state_seen(mc__state *st_, const char *message_id)
{
    mc__store *s = (mc__store *)st_;
    static const char *what = "looking up a received message id";
    sqlite3_stmt *st = NULL;
    int rc;
    pthread_mutex_lock(&s->lock);
    if (!(rc = keep(s, STMT_SEEN, "SELECT 1 FROM received WHERE message_id = ?1 AND seen_ms >= ?2", &st,
                    what))) {
        sqlite3_bind_text(st, 1, message_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, mc__wall_ms() - s->dedup_window_ms);
        rc = sqlite3_step(st);
        rc = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : store_error(s, rc, what);
        keep_done(st);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int state_record(mc__state *st_, const char *message_id, const char *mail_id)
{
    mc__store *s = (mc__store *)st_;
    static const char *what = "recording a received message id";
    sqlite3_stmt *st = NULL;
    int64_t now = mc__wall_ms();
    int rc;
    if ((rc = begin(s, what)))
        return rc;
    /* handed over before, within the window: 1, nothing changes (two mails
     * carrying one id may both be read before either is handed over, so the
     * look-up at read time cannot be the only one) */
    if (!(rc = keep(s, STMT_SEEN, "SELECT 1 FROM received WHERE message_id = ?1 AND seen_ms >= ?2", &st,
                    what))) {
        sqlite3_bind_text(st, 1, message_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now - s->dedup_window_ms);
        rc = sqlite3_step(st);
        rc = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : store_error(s, rc, what);
        keep_done(st);
    }
    if (rc > 0) {
        rc = end(s, 0, what); /* nothing was written */
        return rc ? rc : 1;
    }
    if (rc)
        return end(s, rc, what);
    if (!(rc = keep(s, STMT_RECORD, "INSERT OR REPLACE INTO received VALUES(?1, ?2, ?3)", &st, what))) {
        sqlite3_bind_text(st, 1, message_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now);
        sqlite3_bind_text(st, 3, mail_id, -1, SQLITE_STATIC);
        rc = keep_run(s, st, what);
    }
    /* now and then, ids older than the window go (an index range delete) */
    if (!rc && ++s->records >= 1000) {
        s->records = 0;
        if (!(rc = prepare(s, &st, "DELETE FROM received WHERE seen_ms < ?1", what))) {
            sqlite3_bind_int64(st, 1, now - s->dedup_window_ms);
            rc = run(s, st, what);
        }
    }
    return end(s, rc, what);
}

int mc__store_received_count(mc__store *s, int64_t *n)
{
    sqlite3_stmt *st = NULL;
    int rc;
    pthread_mutex_lock(&s->lock);
    if (!(rc = prepare(s, &st, "SELECT count(*) FROM received", "counting received ids"))) {
        *n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- the replay cache ---- */

static int state_replay_put(mc__state *st_, const char *key, const char *mail_id, int64_t expires_ms)
{
    mc__store *s = (mc__store *)st_;
    static const char *what = "recording a signature in the replay cache";
    sqlite3_stmt *st = NULL;
    int rc;
    if ((rc = begin(s, what)))
        return rc;
    if (!(rc = prepare(s, &st, "INSERT OR REPLACE INTO replay VALUES(?1, ?2, ?3)", what))) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, mail_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, expires_ms);
        rc = run(s, st, what);
    }
    /* expired entries go with each new one: the table stays as bounded as
     * the cache in memory (which removes what it evicts) */
    if (!rc && !(rc = prepare(s, &st, "DELETE FROM replay WHERE expires_ms <= ?1", what))) {
        sqlite3_bind_int64(st, 1, mc__wall_ms());
        rc = run(s, st, what);
    }
    return end(s, rc, what);
}

static int state_replay_remove(mc__state *st_, const char *key)
{
    mc__store *s = (mc__store *)st_;
    static const char *what = "removing a signature from the replay cache";
    sqlite3_stmt *st = NULL;
    int rc;
    if ((rc = begin(s, what)))
        return rc;
    if (!(rc = prepare(s, &st, "DELETE FROM replay WHERE key = ?1", what))) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        rc = run(s, st, what);
    }
    return end(s, rc, what);
}

static int state_replay_load(mc__state *st_, int64_t now_ms, size_t max, mc__replay_each each, void *ud)
{
    mc__store *s = (mc__store *)st_;
    static const char *what = "reading the replay cache";
    sqlite3_stmt *st = NULL;
    int rc;
    pthread_mutex_lock(&s->lock);
    /* the `max` entries expiring last, handed over in expiry order */
    rc = prepare(s, &st,
                 "SELECT key, mail_id, expires_ms FROM (SELECT * FROM replay WHERE expires_ms > ?1 "
                 "ORDER BY expires_ms DESC LIMIT ?2) ORDER BY expires_ms",
                 what);
    if (!rc) {
        sqlite3_bind_int64(st, 1, now_ms);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            each(ud, (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
                 sqlite3_column_int64(st, 2));
        rc = rc == SQLITE_DONE ? 0 : store_error(s, rc, what);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ---- request/reply correlation ---- */

/* runs `sql` with text ?1 (and int ?2 when n2 is set) in its own transaction */
static int change_text(mc__store *s, const char *sql, const char *text, const int64_t *n2, const char *what)
{
    sqlite3_stmt *st = NULL;
    int rc;
    if ((rc = begin(s, what)))
        return rc;
    if (!(rc = prepare(s, &st, sql, what))) {
        sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
        if (n2)
            sqlite3_bind_int64(st, 2, *n2);
        rc = run(s, st, what);
    }
    return end(s, rc, what);
}

static int state_request_put(mc__state *st_, const char *message_id, const char *service, int64_t forget_ms)
{
    mc__store *s = (mc__store *)st_;
    static const char *what = "recording a request";
    sqlite3_stmt *st = NULL;
    int64_t now = mc__wall_ms();
    int rc;
    if ((rc = begin(s, what)))
        return rc;
    if (!(rc = prepare(s, &st, "INSERT OR REPLACE INTO request VALUES(?1, ?2, ?3, ?4)", what))) {
        sqlite3_bind_text(st, 1, message_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, service, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, now);
        sqlite3_bind_int64(st, 4, forget_ms);
        rc = run(s, st, what);
    }
    /* requests past their memory go with each new one */
    if (!rc && !(rc = prepare(s, &st, "DELETE FROM request WHERE forget_ms <= ?1", what))) {
        sqlite3_bind_int64(st, 1, now);
        rc = run(s, st, what);
    }
    return end(s, rc, what);
}

static int state_request_known(mc__state *st_, const char *message_id)
{
    mc__store *s = (mc__store *)st_;
    static const char *what = "looking up a request";
    sqlite3_stmt *st = NULL;
    int rc;
    pthread_mutex_lock(&s->lock);
    if (!(rc = prepare(s, &st, "SELECT 1 FROM request WHERE message_id = ?1 AND forget_ms > ?2", what))) {
        sqlite3_bind_text(st, 1, message_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, mc__wall_ms());
        rc = sqlite3_step(st);
        rc = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : store_error(s, rc, what);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int state_request_forget(mc__state *st_, const char *message_id)
{
    return change_text((mc__store *)st_, "DELETE FROM request WHERE message_id = ?1", message_id, NULL,
                       "forgetting a request");
}

static int state_request_count(mc__state *st_, size_t *n)
{
    mc__store *s = (mc__store *)st_;
    static const char *what = "counting requests";
    sqlite3_stmt *st = NULL;
    int rc;
    pthread_mutex_lock(&s->lock);
    if (!(rc = prepare(s, &st, "SELECT count(*) FROM request WHERE forget_ms > ?1", what))) {
        sqlite3_bind_int64(st, 1, mc__wall_ms());
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *n = (size_t)sqlite3_column_int64(st, 0);
            rc = 0;
        } else {
            rc = store_error(s, rc, what);
        }
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int state_reply_put(mc__state *st_, const mc__stored_reply *r)
{
    mc__store *s = (mc__store *)st_;
    static const char *what = "keeping a reply";
    sqlite3_stmt *st = NULL;
    int rc;
    if ((rc = begin(s, what)))
        return rc;
    /* handed over before (its id is among the received ones) or kept
     * already: a duplicate, nothing is written */
    if (!(rc = prepare(s, &st,
                       "SELECT 1 FROM received WHERE message_id = ?1 AND seen_ms >= ?2 "
                       "UNION ALL SELECT 1 FROM reply WHERE key = ?1",
                       what))) {
        sqlite3_bind_text(st, 1, r->key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, mc__wall_ms() - s->dedup_window_ms);
        rc = sqlite3_step(st);
        rc = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : store_error(s, rc, what);
        sqlite3_finalize(st);
    }
    if (rc > 0) {
        rc = end(s, 0, what);
        return rc ? rc : 1;
    }
    if (!rc &&
        !(rc = prepare(s, &st,
                       "INSERT INTO reply(key, relates_to, envelope, from_email, mail_message_id, received) "
                       "VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                       what))) {
        sqlite3_bind_text(st, 1, r->key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->relates_to ? r->relates_to : "", -1, SQLITE_STATIC);
        sqlite3_bind_blob64(st, 3, r->envelope, r->len, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, r->from ? r->from : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, r->mail_message_id ? r->mail_message_id : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, r->received ? r->received : "", -1, SQLITE_STATIC);
        rc = run(s, st, what);
    }
    return end(s, rc, what);
}

static int state_reply_take(mc__state *st_, const char *key, const char *relates_to)
{
    mc__store *s = (mc__store *)st_;
    static const char *what = "handing a reply over";
    sqlite3_stmt *st = NULL;
    int rc;
    if ((rc = begin(s, what)))
        return rc;
    if (!(rc = prepare(s, &st, "DELETE FROM reply WHERE key = ?1", what))) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        rc = run(s, st, what);
    }
    if (!rc && relates_to && *relates_to &&
        !(rc = prepare(s, &st, "DELETE FROM request WHERE message_id = ?1", what))) {
        sqlite3_bind_text(st, 1, relates_to, -1, SQLITE_STATIC);
        rc = run(s, st, what);
    }
    return end(s, rc, what);
}

static int state_reply_load(mc__state *st_, mc__reply_each each, void *ud)
{
    mc__store *s = (mc__store *)st_;
    static const char *what = "reading the kept replies";
    sqlite3_stmt *st = NULL;
    int rc;
    pthread_mutex_lock(&s->lock);
    rc = prepare(
        s, &st,
        "SELECT key, relates_to, envelope, from_email, mail_message_id, received FROM reply ORDER BY seq",
        what);
    if (!rc) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            mc__stored_reply r = {
                .key = (const char *)sqlite3_column_text(st, 0),
                .relates_to = (const char *)sqlite3_column_text(st, 1),
                .envelope = (const char *)sqlite3_column_blob(st, 2),
                .len = (size_t)sqlite3_column_bytes(st, 2),
                .from = (const char *)sqlite3_column_text(st, 3),
                .mail_message_id = (const char *)sqlite3_column_text(st, 4),
                .received = (const char *)sqlite3_column_text(st, 5),
            };
            if (r.key && r.envelope)
                each(ud, &r);
        }
        rc = rc == SQLITE_DONE ? 0 : store_error(s, rc, what);
        sqlite3_finalize(st);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static void state_free(mc__state *st) { mc__store_free((mc__store *)st); }

static const mc__state_ops state_ops = {
    .version = MC__STATE_VERSION,
    .seen = state_seen,
    .record = state_record,
    .replay_put = state_replay_put,
    .replay_remove = state_replay_remove,
    .replay_load = state_replay_load,
    .free = state_free,
    .request_put = state_request_put,
    .request_known = state_request_known,
    .request_forget = state_request_forget,
    .request_count = state_request_count,
    .reply_put = state_reply_put,
    .reply_take = state_reply_take,
    .reply_load = state_reply_load,
};
