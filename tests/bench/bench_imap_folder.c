/* bench_imap_folder.c - what unstamped mail in the watched folder costs an
 * IMAP receiver: CPU per query and time to the first delivery, with N
 * unstamped mails in bob's "Service E-mail" against erin's empty one (the
 * reference, measured in the same run, interleaved), for both listing modes
 * (imap_search_stamp = true: the server filters; false: every mail listed
 * and its Subject read). Needs the test mail servers' env (mail_bench.sh).
 *
 *   bench_imap_folder [N [ROUNDS]]     (N default 10000, ROUNDS 3) */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <mailchan.h>
#define BENCH_NAME "bench_imap_folder"
#include "bench_util.h"

static double cpu_s(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + (double)r.ru_stime.tv_sec +
           r.ru_stime.tv_usec / 1e6;
}

static void folder(char *out, size_t cap, const char *user, const char *sub)
{
    snprintf(out, cap, "%s/home/%s/Maildir/.Service E-mail/%s", bench_env("MC_MAILDIR_TEST"), user, sub);
}

/* writes a mail file into a Maildir folder as the mail server's user would */
static void put(const char *user, const char *sub, const char *name, const char *data, size_t len)
{
    char dir[512], path[1024];
    struct stat st;
    FILE *f;
    folder(dir, sizeof(dir), user, sub);
    if (stat(dir, &st))
        die("no Service E-mail folder");
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (!(f = fopen(path, "wb")) || fwrite(data, 1, len, f) != len || fclose(f))
        die("write");
    if (chown(path, st.st_uid, st.st_gid))
        die("chown");
}

static void unstamped(const char *user, int n)
{
    char name[64], mail[512];
    for (int i = 0; i < n; i++) {
        int len =
            snprintf(mail, sizeof(mail),
                     "From: someone@example.test\r\nTo: %s@example.test\r\nSubject: an ordinary mail %d\r\n"
                     "Message-ID: <u%d@example.test>\r\n\r\nNothing for mailchan.\r\n",
                     user, i, i);
        snprintf(name, sizeof(name), "bench-unstamped-%d.host:2,S", i);
        put(user, "cur", name, mail, (size_t)len);
    }
}

static void stamped(const char *user, int round)
{
    mc_mail_frame_options o = MC_MAIL_FRAME_OPTIONS_INIT;
    char to[64], name[64], *mail;
    const char *tos[] = {to};
    size_t len;
    mc_message *m;
    snprintf(to, sizeof(to), "%s@example.test", user);
    o.from = "alice@example.test";
    o.to = tos;
    o.to_count = 1;
    o.channel = "bench";
    if (mc_message_new_text(&m, "urn:bench", "first") || mc_mail_frame(&mail, &len, NULL, m, &o))
        die("frame");
    snprintf(name, sizeof(name), "bench-stamped-%d.host", round);
    put(user, "new", name, mail, len);
    mc_free(mail);
    mc_message_free(m);
}

static mc_transport *transport(const char *user, const char *pw, bool search)
{
    mc_binding *b;
    mc_transport *t;
    char addr[64];
    snprintf(addr, sizeof(addr), "%s@example.test", user);
    if (mc_binding_new(&b, "mail") || mc_binding_set(b, "address", addr) ||
        mc_binding_set(b, "password", pw) || mc_binding_set(b, "smtp_host", "127.0.0.1") ||
        mc_binding_set(b, "imap_host", "127.0.0.1") ||
        mc_binding_set(b, "imap_port", bench_env("MC_IMAP_PORT")) ||
        mc_binding_set(b, "tls_ca_file", bench_env("MC_CA")) || mc_binding_set(b, "imap_idle", "false") ||
        mc_binding_set(b, "server_query_interval", "20") ||
        mc_binding_set(b, "imap_search_stamp", search ? "true" : "false") || mc_transport_new(&t, b))
        die("transport");
    mc_binding_free(b);
    return t;
}

typedef struct {
    double first_s, cpu_per_query_ms;
} result;

/* connect, list, deliver the one stamped mail; then 2 s of queries every 20 ms */
static result measure(const char *user, const char *pw, bool search, int round)
{
    mc_transport_stats s0 = MC_TRANSPORT_STATS_INIT, s1 = MC_TRANSPORT_STATS_INIT;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m = NULL;
    result r;
    double t0, c0;
    mc_transport *t;
    stamped(user, round);
    t0 = now();
    t = transport(user, pw, search);
    if (mc_channel_listener_new(&l, t, "net.mail://bench#") ||
        mc_channel_listener_accept_channel(&in, l, -1) || mc_input_channel_receive(&m, in, 60000))
        die("first delivery");
    r.first_s = now() - t0;
    mc_message_free(m);
    mc_transport_statistics(&s0, t);
    c0 = cpu_s();
    usleep(2000000);
    mc_transport_statistics(&s1, t);
    r.cpu_per_query_ms =
        (cpu_s() - c0) * 1000 / (double)(s1.queries - s0.queries ? s1.queries - s0.queries : 1);
    mc_input_channel_close(in);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_transport_free(t);
    return r;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000, rounds = argc > 2 ? atoi(argv[2]) : 3;
    const char *bob = bench_env("MC_BOB_PW"), *erin = bench_env("MC_ERIN_PW");
    mc_init();
    unstamped("bob", n);
    /* let Dovecot index the new files once (not timed) */
    measure("bob", bob, true, 1000);
    printf("IMAP listing with %d unstamped mails in the folder vs an empty folder (reference), %d rounds:\n",
           n, rounds);
    printf("  %-22s %14s %14s %8s   %12s %12s %8s\n", "mode", "first, full", "first, empty", "ratio",
           "CPU/query", "empty", "ratio");
    for (int i = 0; i < rounds; i++) {
        for (int search = 1; search >= 0; search--) {
            /* interleaved: the reference next to each measurement */
            result full = measure("bob", bob, search, 2 * i + search);
            result empty = measure("erin", erin, search, 2 * i + search);
            printf("  %-22s %12.3f s %12.3f s %8.1f   %9.3f ms %9.3f ms %8.1f\n",
                   search ? "imap_search_stamp on" : "imap_search_stamp off", full.first_s, empty.first_s,
                   full.first_s / empty.first_s, full.cpu_per_query_ms, empty.cpu_per_query_ms,
                   full.cpu_per_query_ms / empty.cpu_per_query_ms);
        }
    }
    mc_shutdown();
    return 0;
}
