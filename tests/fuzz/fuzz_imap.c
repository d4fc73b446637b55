/* fuzz_imap.c - what an IMAP server sends, as the receiver handles it: the
 * input is replayed as the server's side of one session (greeting, LOGIN,
 * CAPABILITY, LIST, SELECT, UID SEARCH, UID FETCH of headers and bodies,
 * UID STORE/EXPUNGE, UID MOVE, IDLE) through the guard (imapconn.c),
 * libetpan's parser and imap.c's handling of what it returns. The guard's
 * limits are lowered so that inputs of a few hundred KB reach every one. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <mailchan.h>
#include "channel/mail/imapconn.h"
#include "channel/mail/mailnet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int session_fd = -1;

static int take_fd(void)
{
    int fd = session_fd;
    session_fd = -1; /* one session per input: a reconnect finds nobody */
    return fd;
}

typedef struct {
    int fd;
    const uint8_t *data;
    size_t size;
} server;

/* The end of the next reply from off: the greeting is the first line; a
 * reply runs to the first line that is not untagged ('*') or a continuation
 * ('+'), as a tagged completion is. */
static size_t next_reply(const server *s, size_t off, bool greeting)
{
    size_t i = off;
    bool start = true; /* at the start of a response (not after a literal) */
    while (i < s->size) {
        const uint8_t *nl = memchr(s->data + i, '\n', s->size - i);
        bool tagged = start && s->data[i] != '*' && s->data[i] != '+';
        size_t e = nl ? (size_t)(nl - s->data) : s->size, j = e, lit = 0, mul = 1;
        i = nl ? e + 1 : s->size;
        /* a line ending in {n} is followed by n octets of literal */
        if (j > off && s->data[j - 1] == '\r')
            j--;
        if (j > off && s->data[j - 1] == '}') {
            for (j--; j > off && s->data[j - 1] >= '0' && s->data[j - 1] <= '9' && mul < 100000000;
                 j--, mul *= 10)
                lit += (size_t)(s->data[j - 1] - '0') * mul;
            if (j > off && s->data[j - 1] == '{') {
                i = lit < s->size - i ? i + lit : s->size;
                start = false;
                continue;
            }
        }
        start = true;
        if (greeting || tagged)
            break;
    }
    return i;
}

/* The server's side: the greeting, then one reply per command line the
 * client sends, as a real server paces them; what the client says is dropped. */
static void *serve(void *arg)
{
    server *s = arg;
    size_t off = 0, end = next_reply(s, 0, true);
    char sink[4096];
    for (int idle = 0; idle < 50;) {
        struct pollfd p = {s->fd, (short)(POLLIN | (off < end ? POLLOUT : 0)), 0};
        if (poll(&p, 1, 20) <= 0) {
            if (++idle > 10 && off >= s->size)
                break;
            continue;
        }
        if (p.revents & POLLIN) {
            ssize_t r = read(s->fd, sink, sizeof(sink));
            if (r <= 0)
                break;
            for (ssize_t i = 0; i < r; i++)
                if (sink[i] == '\n' && end < s->size)
                    end = next_reply(s, end, false);
        }
        if ((p.revents & POLLOUT) && off < end) {
            ssize_t w = send(s->fd, s->data + off, end - off, MSG_NOSIGNAL);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        if (off >= s->size)
            shutdown(s->fd, SHUT_WR);
        if (p.revents & (POLLHUP | POLLERR))
            break;
    }
    return NULL;
}

/* FUZZ_IMAP_VERBOSE=1: say how far each input got (for writing seeds) */
static int step(int rc, const char *what)
{
    if (getenv("FUZZ_IMAP_VERBOSE"))
        fprintf(stderr, "%s: %d %s\n", what, rc, rc ? mc_error_last() : "");
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    mc__mail_config cfg = {0};
    mc__receiver *m = NULL;
    mc__listing l = {0}, again = {0};
    mc__mail_item *items = NULL;
    size_t n = 0;
    int sv[2];
    pthread_t th;
    server srv;
    if (!once) {
        signal(SIGPIPE, SIG_IGN);
        mc_init();
        mc__imap_default_limits = (mc__imap_limits){4096, 70000, 256u << 10, 1000, 64};
        mc__imap_test_socket = take_fd;
        once = 1;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        return 0;
    srv = (server){sv[1], data, size};
    session_fd = sv[0];
    cfg.address = "bob@example.test";
    cfg.imap.host = "fuzz.example";
    cfg.imap.port = 143;
    cfg.imap.tls = MC__TLS_NONE;
    cfg.password = "secret";
    cfg.timeout_ms = 200;
    cfg.service_folder = "Service E-mail";
    cfg.deleted_folder = "Deleted Items";
    cfg.idle = true;
    cfg.idle_ms = 50;
    if (pthread_create(&th, NULL, serve, &srv)) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    if (!mc__imap_new(&m, &cfg) && !step(m->ops->open(m), "open") && !step(m->ops->list(m, &l), "list")) {
        items = l.items;
        n = l.count;
        for (size_t i = 0; i < n; i++) {
            char *body = NULL;
            size_t len = 0;
            bool truncated = false;
            if (!step(m->ops->fetch(m, items[i].id, 65536, &body, &len, &truncated), "fetch"))
                free(body);
        }
        if (n)
            step(m->ops->remove(m, (const char *const *)&items[0].id, 1), "remove");
        if (n > 1) {
            const char *folder;
            step(m->ops->move_to_trash(m, items[1].id, &folder), "move");
        }
        step(m->ops->wait(m, 30, -1), "wait");
        step(m->ops->list(m, &again), "list again"); /* incremental when the cursor held */
    }
    for (size_t i = 0; i < again.count; i++) {
        free(again.items[i].id);
        free(again.items[i].headers);
    }
    free(again.items);
    for (size_t i = 0; i < n; i++) {
        free(items[i].id);
        free(items[i].headers);
    }
    free(items);
    if (m)
        m->ops->free(m);
    if (session_fd >= 0)
        close(session_fd); /* never taken */
    session_fd = -1;
    pthread_join(th, NULL);
    close(sv[1]);
    return 0;
}
