/* diskfull.c - queued sending when the state store's file system fills up.
 *
 * In a private mount namespace (unshare(CLONE_NEWNS), as root) a small
 * tmpfs holds the state store; the Maildir tree stays on the ordinary file
 * system. A queued Maildir transport sends to a recipient whose mailbox
 * cannot be written (a regular file where its directory belongs), so the
 * first delivery fails and every later mail waits behind its backoff: the
 * outbox only fills. A filler file leaves some space free; queue_max_bytes
 * is far larger, so the file system is what fills up. Then:
 *
 *   - sends return 0 until one fails with MC_EIO naming the store ("disk is
 *     full"), and the next ones fail so too (none hangs, none crashes);
 *   - nothing is corrupted: every mail whose send returned 0 is listed,
 *     whole (its row holds all its bytes, its sequence number and end
 *     marker), none other is; PRAGMA integrity_check says ok; the store
 *     opens again (a new transport) while the disk is still full;
 *   - when space returns (the filler removed) a send returns 0 again; with
 *     the mailbox writable and the queue made due (mc_queue_retry), the
 *     outbox delivers every queued mail exactly once and empties.
 *
 * Three rounds over one store, leaving 1 MiB, 64 KiB and 6 MiB free: the
 * WAL growing into the full disk, the database file growing at a
 * checkpoint (the WAL passes 1000 pages in the 6 MiB round), and a WAL
 * file already at its largest from earlier rounds.
 *
 * Exit 0 passed, 1 failed, 77 skipped (not root, no mount namespace, no
 * tmpfs). usage: queue_diskfull */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include <mailchan.h>

#define FS_BYTES (16u << 20) /* the tmpfs */
#define MAX_MAILS 20000
#define RCPT "peer@x.test"

static char base[64], small[96], root[96], state_path[128], filler[128], parked[160];
/* sent[seq]: its send returned 0; got[seq]: delivered (this round) */
static char sent[MAX_MAILS + 16], got[MAX_MAILS + 16];
static int nsent;

static void cleanup(void)
{
    char cmd[200];
    if (!*base)
        return;
    umount2(small, MNT_DETACH);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    if (system(cmd)) {
    }
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "queue_diskfull: FAILED: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    cleanup();
    exit(1);
}

static void skip(const char *what)
{
    printf("queue_diskfull: skipped: %s: %s\n", what, strerror(errno));
    cleanup();
    exit(77);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static mc_transport *transport(void)
{
    mc_binding *b;
    mc_transport *t;
    if (mc_binding_new(&b, "maildir") || mc_binding_set(b, "maildir_root", root) ||
        mc_binding_set(b, "address", "svc@x.test") || mc_binding_set(b, "state_path", state_path) ||
        mc_binding_set(b, "queued", "true") || mc_binding_set(b, "queue_max_bytes", "1073741824") ||
        mc_binding_set(b, "queue_retry_initial", "86400000") ||
        mc_binding_set(b, "queue_retry_max", "86400000"))
        fail("binding: %s", mc_error_last());
    if (mc_transport_new(&t, b))
        fail("a transport over %s: %s", state_path, mc_error_last());
    mc_binding_free(b);
    return t;
}

/* A message whose framed mail is about 6 KiB, sent on channel "q-<seq>"
 * (the number is in the mail's header, in plain text), its body carrying
 * the number again at its end (base64 in the mail). */
static int send_seq(mc_channel_factory *f, int seq)
{
    char body[4200], uri[64];
    mc_output_channel *ch;
    mc_message *m;
    int rc, k = snprintf(body, sizeof(body), "<d:Fill xmlns:d=\"urn:fill\"><d:Pad>");
    for (; k < 4000; k++)
        body[k] = (char)('a' + k % 26);
    snprintf(body + k, sizeof(body) - (size_t)k, "</d:Pad><d:End>END-%d-</d:End></d:Fill>", seq);
    snprintf(uri, sizeof(uri), "net.mail://q-%d#" RCPT, seq);
    if (mc_message_new(&m, "urn:fill:Act", body, strlen(body)) ||
        mc_channel_factory_create_channel(&ch, f, uri))
        fail("message: %s", mc_error_last());
    rc = mc_output_channel_send(ch, m);
    mc_output_channel_free(ch);
    mc_message_free(m);
    return rc;
}

static int count_entry(const mc_queue_entry *e, void *ud)
{
    (void)e;
    (*(size_t *)ud)++;
    return 0;
}

static size_t queued(void)
{
    size_t n = 0;
    if (mc_queue_list(state_path, false, count_entry, &n))
        fail("listing the outbox: %s", mc_error_last());
    return n;
}

static int max_attempts(const mc_queue_entry *e, void *ud)
{
    if ((int)e->attempts > *(int *)ud)
        *(int *)ud = (int)e->attempts;
    return 0;
}

/* the most delivery attempts any queued mail has had */
static int attempts(void)
{
    int n = 0;
    if (mc_queue_list(state_path, false, max_attempts, &n))
        fail("listing the outbox: %s", mc_error_last());
    return n;
}

static int b64(int c)
{
    const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(a, c) : NULL;
    return p ? (int)(p - a) : -1;
}

/* The sequence number of a framed mail, when it is whole: its channel
 * header names it, its attachment decodes to a body ending in its END
 * marker, its last MIME boundary closes it. -1 otherwise. */
#define CHANNEL_HEADER "\r\nX-Net-Mail-Channel: q-"
#define ATTACHMENT "filename=\"message.xml\"\r\n\r\n"

static int seq_of(const char *mail, size_t len)
{
    const char *p = memmem(mail, len, CHANNEL_HEADER, sizeof(CHANNEL_HEADER) - 1), *end = mail + len;
    const char *att = memmem(mail, len, ATTACHMENT, sizeof(ATTACHMENT) - 1);
    char marker[64], *xml;
    size_t n = 0;
    unsigned acc = 0;
    int seq, bits = 0, whole;
    if (!p || !att || sscanf(p + sizeof(CHANNEL_HEADER) - 1, "%d", &seq) != 1 || len < 4 ||
        memcmp(end - 4, "--\r\n", 4))
        return -1;
    xml = malloc(len);
    for (p = att + sizeof(ATTACHMENT) - 1; p < end && *p != '-'; p++) {
        int v = b64(*p);
        if (v < 0)
            continue; /* line ends, padding */
        acc = acc << 6 | (unsigned)v;
        if ((bits += 6) >= 8) {
            bits -= 8;
            xml[n++] = (char)(acc >> bits & 0xff);
        }
    }
    snprintf(marker, sizeof(marker), "<d:End>END-%d-</d:End></d:Fill>", seq);
    whole = memmem(xml, n, marker, strlen(marker)) != NULL;
    free(xml);
    return whole ? seq : -1;
}

/* every row whole and of a mail of this round (from `first` on) whose send
 * returned 0, each once, none missing; integrity_check ok. Returns the rows. */
static int check_store(int first)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    char *seen = calloc((size_t)nsent + 1, 1);
    int rows = 0, rc;
    if (sqlite3_open_v2(state_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        fail("sqlite3 cannot open %s: %s", state_path, sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, 10000);
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(st, 0), "ok"))
        fail("integrity_check of %s: %s", state_path,
             sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : sqlite3_errmsg(db));
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "SELECT id, mail, bytes FROM outbox WHERE dead_ms = 0", -1, &st, NULL))
        fail("reading the outbox: %s", sqlite3_errmsg(db));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *mail = sqlite3_column_blob(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        int seq = seq_of(mail, len);
        if (len != (size_t)sqlite3_column_int64(st, 2))
            fail("row %lld holds %zu bytes of %lld", (long long)sqlite3_column_int64(st, 0), len,
                 (long long)sqlite3_column_int64(st, 2));
        if (seq < first || seq >= nsent)
            fail("row %lld is not a whole mail of this round (%d)", (long long)sqlite3_column_int64(st, 0),
                 seq);
        if (!sent[seq])
            fail("mail %d is queued, but its send failed", seq);
        if (seen[seq]++)
            fail("mail %d is queued twice", seq);
        rows++;
    }
    if (rc != SQLITE_DONE)
        fail("reading the outbox: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    for (int i = first; i < nsent; i++)
        if (sent[i] && !seen[i])
            fail("mail %d was queued (its send returned 0) but is gone", i);
    free(seen);
    return rows;
}

/* the mails delivered to RCPT: each whole, each once; how many */
static int delivered(void)
{
    char dir[200], path[600];
    DIR *d;
    struct dirent *e;
    int n = 0;
    memset(got, 0, sizeof(got));
    snprintf(dir, sizeof(dir), "%s/%s/new", root, RCPT);
    if (!(d = opendir(dir)))
        return 0;
    while ((e = readdir(d))) {
        size_t len;
        char *mail;
        FILE *f;
        int seq;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (!(f = fopen(path, "r")))
            continue;
        mail = malloc(1 << 16);
        len = fread(mail, 1, 1 << 16, f);
        fclose(f);
        seq = seq_of(mail, len);
        free(mail);
        if (seq < 0 || seq >= nsent)
            fail("%s is not a whole mail of this test", path);
        if (got[seq]++)
            fail("mail %d was delivered twice", seq);
        n++;
    }
    closedir(d);
    return n;
}

/* One round: the recipient parked, the file system filled to `free_bytes`
 * free, queued until a send fails, checked, restarted, space back, the
 * queue delivered. */
static void round_(mc_transport **t, mc_channel_factory **f, int round, unsigned free_bytes)
{
    int first = nsent, ok = 0, rc = 0, fd;
    struct statvfs vfs;
    char moved[200];
    /* the recipient's mailbox cannot be made: delivery fails (MC_EIO) */
    if ((fd = open(parked, O_WRONLY | O_CREAT, 0600)) < 0 || close(fd))
        fail("creating %s: %s", parked, strerror(errno));
    /* the first mail's delivery fails: from then on the outbox only fills */
    if (send_seq(*f, nsent))
        fail("the first send: %s", mc_error_last());
    sent[nsent++] = 1;
    ok++;
    for (int i = 0; i < 1000 && attempts() < 1; i++)
        usleep(10000);
    if (attempts() < 1)
        fail("the first delivery was not tried");

    /* ---- fill the file system to about free_bytes free ---- */
    if (statvfs(small, &vfs))
        fail("statvfs: %s", strerror(errno));
    {
        unsigned long long avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize, left;
        char chunk[65536];
        memset(chunk, 'F', sizeof(chunk));
        left = avail > free_bytes ? avail - free_bytes : 0;
        if ((fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
            fail("creating %s: %s", filler, strerror(errno));
        while (left) {
            size_t n = left < sizeof(chunk) ? (size_t)left : sizeof(chunk);
            if (write(fd, chunk, n) != (ssize_t)n)
                fail("writing %s: %s", filler, strerror(errno));
            left -= n;
        }
        close(fd);
        say("round %d: tmpfs %u KiB, %llu KiB free, the filler leaves %u KiB\n", round, FS_BYTES >> 10,
            avail >> 10, free_bytes >> 10);
    }

    /* ---- queue until the disk is full ---- */
    while (nsent < MAX_MAILS) {
        rc = send_seq(*f, nsent);
        if (rc)
            break;
        sent[nsent++] = 1;
        ok++;
    }
    if (!rc)
        fail("%d mails queued and the disk is not full", ok);
    say("  %d mails queued; then %s (%s)\n", ok, mc_strerror(rc), mc_error_last());
    if (rc != MC_EIO)
        fail("a send on a full disk returned %s, not MC_EIO: %s", mc_strerror(rc), mc_error_last());
    if (!strstr(mc_error_last(), state_path) || !strstr(mc_error_last(), "full"))
        fail("the error does not name the store and say it is full: %s", mc_error_last());
    nsent++; /* failed: sent[] stays 0 */
    for (int i = 0; i < 5; i++, nsent++)
        if ((rc = send_seq(*f, nsent)) != MC_EIO)
            fail("send %d on a full disk: %s (%s)", nsent, mc_strerror(rc), mc_error_last());

    /* ---- nothing corrupted ---- */
    if ((int)queued() != ok)
        fail("%zu mails listed beside the owner, %d sends returned 0", queued(), ok);
    if (check_store(first) != ok)
        fail("the store's rows do not match the sends");
    mc_channel_factory_free(*f);
    mc_transport_free(*t);
    /* opened again (a restart) while the disk is still full */
    *t = transport();
    if (mc_channel_factory_new(f, *t))
        fail("channel factory: %s", mc_error_last());
    if ((int)queued() != ok)
        fail("after a restart on a full disk %zu mails are listed, not %d", queued(), ok);
    if (check_store(first) != ok)
        fail("the store's rows do not match the sends after a restart");
    say("  still full: the store opens again, %d mails listed, each whole, integrity_check ok\n", ok);

    /* ---- space returns: sending resumes, the outbox delivers ---- */
    if (unlink(filler))
        fail("removing %s: %s", filler, strerror(errno));
    if ((rc = send_seq(*f, nsent)))
        fail("a send after space returned: %s (%s)", mc_strerror(rc), mc_error_last());
    sent[nsent++] = 1;
    ok++;
    if (check_store(first) != ok)
        fail("the store's rows do not match the sends after space returned");
    /* the mailbox writable again, the queue due now */
    if (unlink(parked))
        fail("removing %s: %s", parked, strerror(errno));
    {
        size_t n = 0;
        if (mc_queue_retry(state_path, 0, &n))
            fail("mc_queue_retry: %s", mc_error_last());
        if ((int)n != ok)
            fail("mc_queue_retry made %zu mails due, not %d", n, ok);
    }
    /* one more send wakes the delivery thread at once */
    if ((rc = send_seq(*f, nsent)))
        fail("a send after space returned: %s (%s)", mc_strerror(rc), mc_error_last());
    sent[nsent++] = 1;
    ok++;
    for (int i = 0; i < 600 && (delivered() < ok || queued()); i++)
        usleep(50000);
    if (delivered() != ok || queued())
        fail("%d of %d mails delivered, %zu still queued", delivered(), ok, queued());
    for (int i = 0; i < nsent; i++)
        if ((i >= first && sent[i] != got[i]) || (i < first && got[i]))
            fail("mail %d: sent %d, delivered %d", i, sent[i], got[i]);
    say("  space back: sending resumed, the outbox delivered all %d mails, once each, and is empty\n", ok);
    /* the delivered mail out of the way, for the next round */
    snprintf(moved, sizeof(moved), "%s-round%d", parked, round);
    if (rename(parked, moved))
        fail("renaming %s: %s", parked, strerror(errno));
}

int main(void)
{
    mc_transport *t;
    mc_channel_factory *f;
    static const unsigned rounds[] = {1u << 20, 64u << 10, 6u << 20};
    char opts[64];
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* ---- a private mount namespace (before any thread) and the tmpfs ---- */
    if (geteuid() != 0) {
        errno = EPERM;
        skip("needs root (to mount a tmpfs)");
    }
    if (unshare(CLONE_NEWNS))
        skip("unshare(CLONE_NEWNS)");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
        skip("making the mounts private");
    snprintf(base, sizeof(base), "/tmp/mc-diskfull-XXXXXX");
    if (!mkdtemp(base)) {
        *base = '\0';
        fail("mkdtemp: %s", strerror(errno));
    }
    snprintf(small, sizeof(small), "%s/small", base);
    snprintf(root, sizeof(root), "%s/mail", base);
    snprintf(state_path, sizeof(state_path), "%s/state.db", small);
    snprintf(filler, sizeof(filler), "%s/filler", small);
    snprintf(parked, sizeof(parked), "%s/%s", root, RCPT);
    if (mkdir(small, 0700) || mkdir(root, 0700))
        fail("mkdir: %s", strerror(errno));
    snprintf(opts, sizeof(opts), "size=%u,mode=0700", FS_BYTES);
    if (mount("mc-diskfull", small, "tmpfs", 0, opts))
        skip("mounting a tmpfs");

    mc_init();
    t = transport();
    if (mc_channel_factory_new(&f, t))
        fail("channel factory: %s", mc_error_last());
    for (size_t r = 0; r < sizeof(rounds) / sizeof(*rounds); r++)
        round_(&t, &f, (int)r, rounds[r]);
    mc_channel_factory_free(f);
    mc_transport_free(t);
    mc_shutdown();
    cleanup();
    say("queue_diskfull: passed\n");
    return 0;
}
