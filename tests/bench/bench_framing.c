/* bench_framing - (a) frame+serialize and parse+classify throughput, in
 * messages/s on one thread, for 1 KiB and 60 KiB envelopes.
 * usage: bench_framing [seconds-per-case]   (default 2) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mailchan.h>
#define BENCH_NAME "bench_framing"
#include "bench_util.h"

static mc_message *make(size_t envelope_bytes)
{
    mc_message *m;
    size_t body = envelope_bytes - 420; /* the envelope's own headers */
    char *b = malloc(body + 1);
    size_t n = (size_t)sprintf(b, "<d:Data xmlns:d=\"urn:bench\">");
    while (n < body - 9) {
        b[n] = (char)('a' + n % 26);
        n++;
    }
    strcpy(b + n, "</d:Data>");
    if (mc_message_new(&m, "urn:bench:Act", b, strlen(b)) ||
        mc_message_set_to(m, "net.mail://bench#svc@example.org") ||
        mc_message_set_reply_to(m, "net.mail://back#cli@example.org"))
        abort();
    free(b);
    return m;
}

static void run(size_t size, double seconds)
{
    static const char *to[] = {"svc@example.org"};
    mc_mail_frame_options o = MC_MAIL_FRAME_OPTIONS_INIT;
    mc_message *m = make(size);
    char *env, *mail = NULL;
    size_t env_len, mail_len = 0;
    unsigned long n;
    double t0, frame_rate, parse_rate;
    mc_message_serialize(&env, &env_len, m);
    o.from = "cli@example.org";
    o.to = to;
    o.to_count = 1;
    o.channel = "bench";
    t0 = now();
    for (n = 0; now() - t0 < seconds; n++) {
        mc_free(mail);
        if (mc_mail_frame(&mail, &mail_len, NULL, m, &o))
            abort();
    }
    frame_rate = (double)n / (now() - t0);
    t0 = now();
    for (n = 0; now() - t0 < seconds; n++) {
        mc_mail_info *info;
        if (mc_mail_classify(&info, mail, mail_len, 65536, 0) || info->kind != MC_MAIL_OK)
            abort();
        mc_mail_info_free(info);
    }
    parse_rate = (double)n / (now() - t0);
    printf("envelope %6zu B (mail %6zu B): frame+serialize %9.0f msg/s   parse+classify %9.0f msg/s\n",
           env_len, mail_len, frame_rate, parse_rate);
    mc_free(env);
    mc_free(mail);
    mc_message_free(m);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    mc_init();
    run(1024, seconds);
    run(60 * 1024, seconds);
    return 0;
}
