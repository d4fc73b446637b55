/* bench_mail_e2e - (b) N messages (default 1000) end to end through Postfix
 * and Dovecot: alice sends (submission, STARTTLS, AUTH) to bob's channel,
 * bob's listener receives every one (IMAP, STARTTLS, IDLE), in one process.
 * Reference: smtp-source feeding the same pipeline (plain port, one
 * connection) the same number of stamped mails, timed until Dovecot has
 * filed all of them into bob's "Service E-mail" (counted in the Maildir).
 * Reports the throughput ratio mailchan / reference and the p50/p99 latency
 * from send to receive returning: for the N messages sent at once (Postfix's
 * queue dominates), and for 100 sent one at a time (the pipeline's own
 * latency: submission, LMTP, Sieve, IDLE, fetch).
 * usage: bench_mail_e2e [N]   with tests/mailserver/start.sh's env.sh exported */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <mailchan.h>
#define BENCH_NAME "bench_mail_e2e"
#include "bench_util.h"

static int n = 1000;
static double *sent_at, *latency;

static mc_transport *transport(const char *user, const char *pw)
{
    mc_binding *b;
    mc_transport *t;
    char addr[64];
    snprintf(addr, sizeof(addr), "%s@example.test", user);
    if (mc_binding_new(&b, "mail") || mc_binding_set(b, "address", addr) ||
        mc_binding_set(b, "password", pw) || mc_binding_set(b, "smtp_host", "127.0.0.1") ||
        mc_binding_set(b, "smtp_port", bench_env("MC_SUBMISSION_PORT")) ||
        mc_binding_set(b, "imap_host", "127.0.0.1") ||
        mc_binding_set(b, "imap_port", bench_env("MC_IMAP_PORT")) ||
        mc_binding_set(b, "tls_ca_file", bench_env("MC_CA")) || mc_transport_new(&t, b))
        die("transport");
    mc_binding_free(b);
    return t;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int count_dir(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    int k = 0;
    if (!d)
        return 0;
    while ((e = readdir(d)))
        k += e->d_name[0] != '.';
    closedir(d);
    return k;
}

static double reference(void)
{
    char cmd[512], newdir[512], curdir[512];
    double t0, deadline;
    const char *dir = bench_env("MC_MAILDIR_TEST");
    snprintf(newdir, sizeof(newdir), "%s/home/bob/Maildir/.Service E-mail/new", dir);
    snprintf(curdir, sizeof(curdir), "%s/home/bob/Maildir/.Service E-mail/cur", dir);
    snprintf(cmd, sizeof(cmd),
             "/usr/sbin/smtp-source -d -s 1 -m %d -l 1200 -S '[net.mail] reference' -f alice@example.test "
             "-t bob@example.test 127.0.0.1:%s",
             n, bench_env("MC_SMTP_PORT"));
    t0 = now();
    if (system(cmd))
        die("smtp-source");
    deadline = now() + 300;
    while (count_dir(newdir) + count_dir(curdir) < n && now() < deadline)
        usleep(2000);
    if (count_dir(newdir) + count_dir(curdir) < n)
        die("the reference mail did not all arrive");
    return now() - t0;
}

int main(int argc, char **argv)
{
    mc_transport *a, *b;
    mc_channel_factory *f;
    mc_output_channel *ch;
    mc_channel_listener *l;
    mc_input_channel *in;
    double t0, ours, ref;
    int got = 0, seq;
    double loaded50, loaded99, loadedmax;
    char cmd[512];
    if (argc > 1)
        n = atoi(argv[1]);
    if (n <= 0)
        return 2;
    seq = n < 100 ? n : 100;
    sent_at = calloc((size_t)n, sizeof(double));
    latency = calloc((size_t)n, sizeof(double));
    mc_init();
    a = transport("alice", bench_env("MC_ALICE_PW"));
    b = transport("bob", bench_env("MC_BOB_PW"));
    if (mc_channel_listener_new(&l, b, "net.mail://bench#") ||
        mc_channel_listener_accept_channel(&in, l, -1) || mc_channel_factory_new(&f, a) ||
        mc_channel_factory_create_channel(&ch, f, "net.mail://bench#bob@example.test"))
        die("setup");
    usleep(300000); /* the listener is idling */
    t0 = now();
    /* send everything first from this thread; the receive thread of the
     * transport fills the processing cache meanwhile */
    for (int i = 0; i < n; i++) {
        mc_message *m;
        char text[1100];
        int k = snprintf(text, sizeof(text), "%d ", i);
        memset(text + k, 'x', 600);
        text[k + 600] = 0;
        if (mc_message_new_text(&m, "urn:bench:Act", text))
            die("message");
        sent_at[i] = now();
        if (mc_output_channel_send(ch, m))
            die("send");
        mc_message_free(m);
        /* receive what is ready without waiting, so latency is measured when it arrives */
        for (;;) {
            mc_message *r = NULL;
            char *body = NULL;
            if (mc_input_channel_receive(&r, in, 0))
                break;
            if (mc_message_body_text(&body, r))
                die("body");
            latency[got++] = now() - sent_at[atoi(body)];
            mc_free(body);
            mc_message_free(r);
        }
    }
    while (got < n) {
        mc_message *r = NULL;
        char *body = NULL;
        if (mc_input_channel_receive(&r, in, 60000))
            die("receive");
        if (mc_message_body_text(&body, r))
            die("body");
        latency[got++] = now() - sent_at[atoi(body)];
        mc_free(body);
        mc_message_free(r);
    }
    ours = now() - t0;
    qsort(latency, (size_t)n, sizeof(double), cmp);
    loaded50 = latency[n / 2];
    loaded99 = latency[n * 99 / 100];
    loadedmax = latency[n - 1];
    /* latency one at a time: send, wait for it to arrive, again (IDLE push) */
    for (int i = 0; i < seq; i++) {
        mc_message *m, *r = NULL;
        double t1;
        if (mc_message_new_text(&m, "urn:bench:Act", "one at a time"))
            die("message");
        t1 = now();
        if (mc_output_channel_send(ch, m) || mc_input_channel_receive(&r, in, 60000))
            die("send/receive");
        latency[i] = now() - t1;
        mc_message_free(m);
        mc_message_free(r);
    }
    qsort(latency, (size_t)seq, sizeof(double), cmp);
    mc_input_channel_close(in);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_output_channel_free(ch);
    mc_channel_factory_free(f);
    mc_transport_free(a);
    mc_transport_free(b);
    ref = reference();
    snprintf(cmd, sizeof(cmd),
             "doveadm -c '%s/dovecot/dovecot.conf' expunge -u bob@example.test mailbox "
             "'Service E-mail' all",
             bench_env("MC_MAILDIR_TEST"));
    if (system(cmd))
        fprintf(stderr, "bench_mail_e2e: could not empty the folder\n");
    printf("End to end through Postfix + Dovecot, %d messages, all received:\n", n);
    printf("  mailchan     %8.0f msg/s (send -> Sieve -> IDLE -> receive)\n", n / ours);
    printf("  reference    %8.0f msg/s (smtp-source -> Sieve -> filed in the Maildir)\n", n / ref);
    printf("  ratio        %8.2f (goal >= 0.8)\n", ref / ours);
    printf("  latency, all %d sent at once:  p50 %.3f s, p99 %.3f s, max %.3f s\n", n, loaded50, loaded99,
           loadedmax);
    printf("  latency, %d one at a time:     p50 %.3f s, p99 %.3f s, max %.3f s (goal p50 <= 1 s)\n", seq,
           latency[seq / 2], latency[seq * 99 / 100], latency[seq - 1]);
    free(sent_at);
    free(latency);
    mc_shutdown();
    return 0;
}
