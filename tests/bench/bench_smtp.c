/* bench_smtp - (a) SMTP sending over one connection into Postfix's smtp-sink:
 * N messages (default 1000) sent through mailchan's output channel (framing
 * included), against `smtp-source -d` sending N messages of the same size over
 * one connection into the same sink, run one after the other.
 * Reported as a throughput ratio mailchan / smtp-source.
 * usage: bench_smtp PORT [N]   (tests/bench/mail_bench.sh starts the sink) */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mailchan.h>
#define BENCH_NAME "bench_smtp"
#include "bench_util.h"

static size_t framed_size(mc_message *m)
{
    const char *to[] = {"sink@example.test"};
    mc_mail_frame_options o = MC_MAIL_FRAME_OPTIONS_INIT;
    char *mail = NULL, *mid = NULL;
    size_t len = 0, body;
    const char *sep;
    o.from = "bench@example.test";
    o.to = to;
    o.to_count = 1;
    o.channel = "bench";
    if (mc_message_set_to(m, "net.mail://bench#sink@example.test") || mc_mail_frame(&mail, &len, &mid, m, &o))
        die("frame");
    sep = strstr(mail, "\r\n\r\n");
    body = sep ? len - (size_t)(sep + 4 - mail) : len;
    mc_free(mail);
    mc_free(mid);
    return body; /* smtp-source's -l counts the payload without headers */
}

int main(int argc, char **argv)
{
    mc_binding *b;
    mc_transport *t;
    mc_channel_factory *f;
    mc_output_channel *ch;
    mc_message *m;
    int n = argc > 2 ? atoi(argv[2]) : 1000;
    double t0, ours, ref;
    char cmd[512];
    size_t body;
    if (argc < 2 || n <= 0) {
        fprintf(stderr, "usage: bench_smtp PORT [N]\n");
        return 2;
    }
    mc_init();
    m = payload();
    body = framed_size(m);
    if (mc_binding_new(&b, "mail") || mc_binding_set(b, "address", "bench@example.test") ||
        mc_binding_set(b, "smtp_host", "127.0.0.1") || mc_binding_set(b, "smtp_port", argv[1]) ||
        mc_binding_set(b, "smtp_security", "none") || mc_binding_set(b, "imap_host", "127.0.0.1") ||
        mc_transport_new(&t, b) || mc_channel_factory_new(&f, t) ||
        mc_channel_factory_create_channel(&ch, f, "net.mail://bench#sink@example.test"))
        die("setup");
    t0 = now();
    for (int i = 0; i < n; i++)
        if (mc_output_channel_send(ch, m))
            die("send");
    ours = now() - t0;
    mc_output_channel_free(ch);
    mc_channel_factory_free(f);
    mc_transport_free(t);
    mc_binding_free(b);
    mc_message_free(m);
    snprintf(cmd, sizeof(cmd),
             "/usr/sbin/smtp-source -d -s 1 -m %d -l %zu -f bench@example.test -t sink@example.test "
             "127.0.0.1:%s",
             n, body, argv[1]);
    t0 = now();
    if (system(cmd))
        die("smtp-source");
    ref = now() - t0;
    printf("SMTP sending, %d messages of %zu payload bytes over one connection into smtp-sink:\n", n, body);
    printf("  mailchan     %8.0f msg/s\n", n / ours);
    printf("  smtp-source  %8.0f msg/s\n", n / ref);
    printf("  ratio        %8.2f (goal >= 0.8)\n", ref / ours);
    mc_shutdown();
    return 0;
}
