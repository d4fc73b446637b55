/* bench_maildir - (b) Maildir send -> receive of N messages (default 2000)
 * through mailchan, against a minimal loop, run in the same process and
 * directory tree, that only writes, fsyncs and renames the same bytes.
 * Reported as a throughput ratio mailchan / minimal loop.
 * usage: bench_maildir [N] [DIR]   (DIR defaults to a new directory in /tmp) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <mailchan.h>
#define BENCH_NAME "bench_maildir"
#include "bench_util.h"

static int n = 2000;

/* the minimal loop: the same framed bytes, written, fsynced, renamed */
static double reference(const char *dir, const char *mail, size_t len)
{
    char tmpd[512], newd[512], a[600], b[600];
    double t0;
    snprintf(tmpd, sizeof(tmpd), "%s/ref/tmp", dir);
    snprintf(newd, sizeof(newd), "%s/ref/new", dir);
    snprintf(a, sizeof(a), "%s/ref", dir);
    mkdir(a, 0700);
    mkdir(tmpd, 0700);
    mkdir(newd, 0700);
    t0 = now();
    for (int i = 0; i < n; i++) {
        int fd;
        snprintf(a, sizeof(a), "%s/%d", tmpd, i);
        snprintf(b, sizeof(b), "%s/%d", newd, i);
        fd = open(a, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0 || write(fd, mail, len) != (ssize_t)len || fsync(fd) || close(fd) || rename(a, b))
            die("reference loop");
    }
    return now() - t0;
}

typedef struct {
    mc_input_channel *in;
    double done_at;
} rx;

static void *receiver(void *arg)
{
    rx *r = arg;
    for (int i = 0; i < n; i++) {
        mc_message *m;
        if (mc_input_channel_receive(&m, r->in, 30000))
            die("receive");
        mc_message_free(m);
    }
    r->done_at = now();
    return NULL;
}

static double through_mailchan(const char *dir, const char *sync_dirs)
{
    mc_binding *b;
    mc_transport *svc, *cli;
    mc_channel_factory *f;
    mc_output_channel *ch;
    mc_channel_listener *l;
    rx r = {0};
    pthread_t th;
    mc_message *m = payload();
    double t0;
    char root[512];
    snprintf(root, sizeof(root), "%s/mc-%s", dir, sync_dirs);
    if (mc_binding_new(&b, "maildir") || mc_binding_set(b, "maildir_root", root) ||
        mc_binding_set(b, "maildir_sync_directories", sync_dirs) ||
        mc_binding_set(b, "address", "svc@bench.local") || mc_transport_new(&svc, b) ||
        mc_binding_set(b, "address", "cli@bench.local") || mc_transport_new(&cli, b))
        die("transport");
    if (mc_channel_listener_new(&l, svc, "net.mail://bench#") ||
        mc_channel_listener_accept_channel(&r.in, l, 1000) || mc_channel_factory_new(&f, cli) ||
        mc_channel_factory_create_channel(&ch, f, "net.mail://bench#svc@bench.local"))
        die("channels");
    t0 = now();
    pthread_create(&th, NULL, receiver, &r);
    for (int i = 0; i < n; i++)
        if (mc_output_channel_send(ch, m))
            die("send");
    pthread_join(th, NULL);
    if (mc_input_channel_close(r.in))
        die("close");
    mc_input_channel_free(r.in);
    mc_channel_listener_free(l);
    mc_output_channel_free(ch);
    mc_channel_factory_free(f);
    mc_transport_free(svc);
    mc_transport_free(cli);
    mc_binding_free(b);
    mc_message_free(m);
    return r.done_at - t0;
}

int main(int argc, char **argv)
{
    char tmpl[] = "/tmp/mailchan-bench.XXXXXX", *dir, cmd[600];
    mc_message *m;
    static const char *to[] = {"svc@bench.local"};
    mc_mail_frame_options o = MC_MAIL_FRAME_OPTIONS_INIT;
    char *mail;
    size_t len;
    double ref, fast, durable;
    if (argc > 1)
        n = atoi(argv[1]);
    dir = argc > 2 ? argv[2] : mkdtemp(tmpl);
    if (n <= 0 || !dir)
        return 2;
    mc_init();
    m = payload();
    o.from = "cli@bench.local";
    o.to = to;
    o.to_count = 1;
    o.channel = "bench";
    if (mc_mail_frame(&mail, &len, NULL, m, &o))
        die("frame");
    ref = reference(dir, mail, len);
    durable = through_mailchan(dir, "true");
    fast = through_mailchan(dir, "false");
    printf("%d messages of %zu bytes on %s\n", n, len, dir);
    printf("minimal loop (write+fsync+rename):          %7.3f s  %8.0f msg/s\n", ref, n / ref);
    printf("mailchan send->receive, directory fsync on:  %7.3f s  %8.0f msg/s  ratio %.2f\n", durable,
           n / durable, ref / durable);
    printf("mailchan send->receive, directory fsync off: %7.3f s  %8.0f msg/s  ratio %.2f\n", fast, n / fast,
           ref / fast);
    mc_free(mail);
    mc_message_free(m);
    if (argc <= 2) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd))
            return 1;
    }
    return 0;
}
