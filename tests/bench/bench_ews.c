/* bench_ews - mailchan's exchange binding against python3-exchangelib, both
 * against the EWS responder (tests/ews/responder.py) in the same run.
 *
 * Throughput: N messages (default 1000) each side, interleaved in ROUNDS
 * rounds (default 5; the side that goes first alternates). mailchan: alice
 * sends (ews_send_mode save_then_send: CreateItem SaveOnly + SendItem) to
 * bob's channel, bob's listener receives every one (streaming notification,
 * FindItem, GetItem with the MIME, DeleteItem), timed from the first send
 * to the last receive. Reference: tests/bench/ews_exchangelib_worker.py,
 * a process kept running, doing the same operations (save + send, then
 * FindItem / GetItem / DeleteItem until all arrived) alice -> carol, timed
 * inside it. Reports msg/s of each and the ratio mailchan / exchangelib, and
 * each client's own CPU time per message (getrusage of this process, every
 * thread; process_time of the worker): the responder, a Python process
 * validating every request and response, is the same for both.
 *
 * Latency: SEQ messages (default 200) sent one at a time, each received
 * before the next is sent (the streaming notification wakes the listener):
 * p50, p90, max from send to receive returning.
 *
 * usage: bench_ews WORKER.py [N [ROUNDS [SEQ]]]   with tests/ews/start.sh's env.sh exported
 * (tests/bench/ews_bench.sh starts the responder and runs it). */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <mailchan.h>
#define BENCH_NAME "bench_ews"
#include "bench_util.h"

static mc_transport *transport(const char *user, const char *pw)
{
    mc_binding *b;
    mc_transport *t;
    char addr[64];
    snprintf(addr, sizeof(addr), "%s@example.test", user);
    if (mc_binding_new(&b, "exchange") || mc_binding_set(b, "address", addr) ||
        mc_binding_set(b, "password", pw) || mc_binding_set(b, "ews_url", bench_env("MC_EWS_URL")) ||
        mc_binding_set(b, "tls_ca_file", bench_env("MC_EWS_CA")) ||
        mc_binding_set(b, "ews_send_mode", "save_then_send") ||
        mc_binding_set(b, "ews_notifications", "streaming") ||
        mc_binding_set(b, "server_query_interval", "60000") || mc_transport_new(&t, b))
        die("transport");
    mc_binding_free(b);
    return t;
}

/* ---- the reference: a worker process, one line per round ---- */

typedef struct {
    pid_t pid;
    FILE *in, *out;
} worker;

static void worker_start(worker *w, const char *script)
{
    int to[2], from[2];
    char line[256];
    if (pipe(to) || pipe(from))
        die("pipe");
    if ((w->pid = fork()) == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[1]);
        close(from[0]);
        execl("/usr/bin/python3", "python3", script, (char *)NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    w->in = fdopen(to[1], "w");
    w->out = fdopen(from[0], "r");
    if (!fgets(line, sizeof(line), w->out) || strncmp(line, "ready", 5)) {
        fprintf(stderr, "bench_ews: the exchangelib worker did not start: %s", line);
        exit(strstr(line, "skipped") ? 77 : 1);
    }
}

/* the process's CPU seconds (every thread) */
static double cpu(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
           (double)u.ru_stime.tv_usec / 1e6;
}

static double worker_round(worker *w, int k, double *cpu_s)
{
    char line[256];
    fprintf(w->in, "%d\n", k);
    fflush(w->in);
    if (!fgets(line, sizeof(line), w->out)) {
        fprintf(stderr, "bench_ews: the exchangelib worker failed\n");
        exit(1);
    }
    if (sscanf(line, "%*f %lf", cpu_s) != 1)
        *cpu_s = 0;
    return atof(line);
}

static void worker_stop(worker *w)
{
    fclose(w->in);
    fclose(w->out);
    waitpid(w->pid, NULL, 0);
}

/* ---- mailchan ---- */

typedef struct {
    mc_output_channel *out;
    mc_input_channel *in;
    int next; /* numbers the messages */
} pair;

static mc_message *numbered(int i)
{
    mc_message *m;
    char text[1100];
    int k = snprintf(text, sizeof(text), "%d ", i);
    memset(text + k, 'x', 1000 - (size_t)k);
    text[1000] = 0;
    if (mc_message_new_text(&m, "urn:bench:Act", text))
        die("message");
    return m;
}

/* takes one message (waiting up to ms); 0 when one came */
static int take(pair *p, int ms, int *got)
{
    mc_message *r = NULL;
    int rc = mc_input_channel_receive(&r, p->in, ms);
    if (rc == MC_ETIMEOUT && ms == 0)
        return rc;
    if (rc)
        die("receive");
    mc_message_free(r);
    (*got)++;
    return 0;
}

/* k messages sent (draining what has arrived between sends), all received */
static double mailchan_round(pair *p, int k, double *cpu_s)
{
    double t0 = now(), c0 = cpu();
    int got = 0;
    for (int i = 0; i < k; i++) {
        mc_message *m = numbered(p->next++);
        if (mc_output_channel_send(p->out, m))
            die("send");
        mc_message_free(m);
        while (take(p, 0, &got) == 0)
            ;
    }
    while (got < k)
        take(p, 60000, &got);
    *cpu_s = cpu() - c0;
    return now() - t0;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int n = argc > 2 ? atoi(argv[2]) : 1000, rounds = argc > 3 ? atoi(argv[3]) : 5,
        seq = argc > 4 ? atoi(argv[4]) : 200, k;
    double ours = 0, ref = 0, ours_cpu = 0, ref_cpu = 0, c, *lat;
    mc_transport *a, *b;
    mc_channel_factory *f;
    mc_channel_listener *l;
    pair p = {0};
    worker w;
    if (argc < 2 || n <= 0 || rounds <= 0 || seq <= 0 || n % rounds) {
        fprintf(stderr, "usage: bench_ews WORKER.py [N [ROUNDS [SEQ]]]  (N a multiple of ROUNDS)\n");
        return 2;
    }
    k = n / rounds;
    signal(SIGPIPE, SIG_IGN);
    mc_init();
    a = transport("alice", bench_env("MC_EWS_ALICE_PW"));
    b = transport("bob", bench_env("MC_EWS_BOB_PW"));
    if (mc_channel_listener_new(&l, b, "net.mail://bench#") ||
        mc_channel_listener_accept_channel(&p.in, l, -1) || mc_channel_factory_new(&f, a) ||
        mc_channel_factory_create_channel(&p.out, f, "net.mail://bench#bob@example.test"))
        die("setup");
    worker_start(&w, argv[1]);
    /* warm up: connections made and logged in, the stream open */
    mailchan_round(&p, 5, &c);
    worker_round(&w, 5, &c);
    printf("EWS responder, %d messages each side in %d rounds of %d (save_then_send; FindItem, GetItem, "
           "DeleteItem):\n",
           n, rounds, k);
    for (int r = 0; r < rounds; r++) {
        double m, x, mc, xc;
        if (r % 2 == 0) {
            m = mailchan_round(&p, k, &mc);
            x = worker_round(&w, k, &xc);
        } else {
            x = worker_round(&w, k, &xc);
            m = mailchan_round(&p, k, &mc);
        }
        ours_cpu += mc;
        ref_cpu += xc;
        printf("  round %d: mailchan %7.1f msg/s, exchangelib %7.1f msg/s, ratio %.2f\n", r + 1, k / m, k / x,
               x / m);
        ours += m;
        ref += x;
    }
    worker_stop(&w);
    printf("  mailchan     %8.1f msg/s\n", n / ours);
    printf("  exchangelib  %8.1f msg/s\n", n / ref);
    printf("  ratio        %8.2f (goal >= 3)\n", ref / ours);
    printf("  client CPU per message: mailchan %.2f ms, exchangelib %.2f ms (ratio %.1f; the responder's own "
           "time is in both throughputs)\n",
           ours_cpu / n * 1e3, ref_cpu / n * 1e3, ref_cpu / ours_cpu);
    /* one at a time: the streaming notification's latency */
    lat = calloc((size_t)seq, sizeof(double));
    for (int i = 0; i < seq; i++) {
        mc_message *m = numbered(p.next++);
        int got = 0;
        double t1 = now();
        if (mc_output_channel_send(p.out, m))
            die("send");
        take(&p, 60000, &got);
        lat[i] = now() - t1;
        mc_message_free(m);
    }
    qsort(lat, (size_t)seq, sizeof(double), cmp);
    printf(
        "  latency, %d one at a time (send -> streaming notification -> receive): p50 %.0f ms, p90 %.0f ms, "
        "max %.0f ms (goal p50 <= 100 ms)\n",
        seq, lat[seq / 2] * 1e3, lat[seq * 9 / 10] * 1e3, lat[seq - 1] * 1e3);
    free(lat);
    mc_input_channel_close(p.in);
    mc_input_channel_free(p.in);
    mc_channel_listener_free(l);
    mc_output_channel_free(p.out);
    mc_channel_factory_free(f);
    mc_transport_free(a);
    mc_transport_free(b);
    mc_shutdown();
    return 0;
}
