/* test_fault_queue_offline.c - a device queues mail while its servers are
 * away; when they are back, everything arrives, each message once (issue 13).
 *
 * The fault proxy (faultproxy.py) stands in front of Postfix's submission
 * port and Dovecot's IMAP port. It first refuses every connection (RST
 * before a byte reaches the server), later keeps connections open and
 * forwards nothing (blackhole: a server gone silent, attempts end in the
 * timeout), then passes traffic again.
 *
 *  1. Refused: a listener on a transport without queueing cannot be created
 *     (which shows that the servers really are unreachable); a listener on a
 *     *queued* transport (erin, state_path, queued = true) is created, and so
 *     is a second one (bob, another channel) while the proxy is silent.
 *  2. alice's queued transport (its own state_path, queue_retry_initial 200
 *     ms, queue_retry_max 2000 ms) sends FAULT_N (200) messages numbered in
 *     their bodies, half while refused, half while silent: every send must
 *     return 0; one more message goes to bob's channel. Then: the outbox
 *     holds all of them (mc_queue_list), at least
 *     one delivery attempt failed in each mode, and nothing arrived (erin's
 *     application got nothing, Dovecot holds no mail for erin, Postfix's
 *     queue is empty).
 *  3. Pass: all messages reach erin's application, each exactly once (no
 *     timing assertion: the bounds only keep the test finite), bob's
 *     listener receives its message, alice's outbox empties with no dead
 *     letter.
 *
 * Exit 77 without the test servers. Run alone:
 *   MC_PORT_BASE=26000 bash tests/mailserver/start.sh /tmp/srv && . /tmp/srv/env.sh
 *   build/tests/fault_queue_offline
 * Knobs: FAULT_N, FAULT_SEED, FAULT_VERBOSE=1, FAULT_KEEP=1 (keep the files). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "fault_util.h"

#define TAG "fault-queue-offline"
#define CHANNEL "net.mail://fault-qoff#"
#define BOB_CHANNEL "net.mail://fault-qoff-bob#"
#define ARRIVE_MS 120000 /* bound for everything to arrive once the servers are back */
#define DRAIN_MS 60000   /* bound for the outbox to empty */
#define QUIET_MS 2000    /* after everything arrived: time for late duplicates */

static int failures;

#define CHECK(cond, ...)                      \
    do {                                      \
        if (!(cond)) {                        \
            failures++;                       \
            printf("  FAILED: " __VA_ARGS__); \
            printf("\n");                     \
        }                                     \
    } while (0)

/* ---- erin's application ---- */

typedef struct {
    mc_input_channel *in;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t lock;
    int n, *count, distinct, twice, unknown, errors;
} receiver;

static void *receive_loop(void *arg)
{
    receiver *r = arg;
    while (!atomic_load(&r->stop)) {
        mc_message *m = NULL;
        char *text = NULL;
        const char *seq;
        int g, rc = mc_input_channel_receive(&m, r->in, 200);
        if (rc == MC_ETIMEOUT)
            continue;
        if (rc) {
            pthread_mutex_lock(&r->lock);
            if (r->errors++ < 5)
                printf("  receive: %s: %s\n", mc_strerror(rc), mc_error_last());
            pthread_mutex_unlock(&r->lock);
            fault_sleep_ms(100);
            continue;
        }
        seq = mc_message_body_text(&text, m) ? NULL : strstr(text, "seq=");
        g = seq ? atoi(seq + 4) : -1;
        pthread_mutex_lock(&r->lock);
        if (g < 0 || g >= r->n) {
            r->unknown++;
            printf("  UNKNOWN: a message \"%.60s\"\n", text ? text : "?");
        } else if (r->count[g]++) {
            r->twice++;
            printf("  DUPLICATE: number %d delivered %d times (MessageID %s)\n", g, r->count[g],
                   mc_message_message_id(m));
        } else {
            r->distinct++;
        }
        pthread_mutex_unlock(&r->lock);
        mc_free(text);
        mc_message_free(m);
    }
    return NULL;
}

static int delivered(receiver *r)
{
    int n;
    pthread_mutex_lock(&r->lock);
    n = r->distinct + r->twice + r->unknown;
    pthread_mutex_unlock(&r->lock);
    return n;
}

static int distinct(receiver *r)
{
    int n;
    pthread_mutex_lock(&r->lock);
    n = r->distinct;
    pthread_mutex_unlock(&r->lock);
    return n;
}

/* ---- the outbox, seen from outside ---- */

typedef struct {
    int n;
    unsigned attempts; /* the most attempts of one mail */
    char error[200];   /* its last error */
} outbox_view;

static int view_one(const mc_queue_entry *e, void *ud)
{
    outbox_view *v = ud;
    v->n++;
    if (e->attempts > v->attempts) {
        v->attempts = e->attempts;
        snprintf(v->error, sizeof(v->error), "%s", e->last_error ? e->last_error : "");
    }
    return 0;
}

static outbox_view outbox(const char *state, bool dead)
{
    outbox_view v;
    int rc = MC_EBUSY;
    for (int i = 0; i < 20 && rc == MC_EBUSY; i++) {
        memset(&v, 0, sizeof(v));
        if ((rc = mc_queue_list(state, dead, view_one, &v)) == MC_EBUSY)
            fault_sleep_ms(50);
    }
    if (rc)
        fault_die("mc_queue_list %s: %s", state, mc_error_last());
    return v;
}

/* waits (bounded) until a mail of the outbox has more than `than` attempts */
static outbox_view await_attempt(const char *state, unsigned than, int bound_ms)
{
    int64_t end = fault_mono_ms() + bound_ms;
    outbox_view v = outbox(state, false);
    while (v.attempts <= than && fault_mono_ms() < end) {
        fault_sleep_ms(100);
        v = outbox(state, false);
    }
    return v;
}

static void proxy_mode(fault_proxy *p, const char *mode)
{
    char reply[256];
    if (fault_proxy_cmd(p, reply, sizeof(reply), "mode %s", mode))
        fault_die("proxy: mode %s: %s", mode, reply);
}

static int send_numbered(mc_output_channel *out, int from, int to)
{
    int bad = 0;
    for (int i = from; i < to; i++) {
        char text[64];
        mc_message *m;
        int rc;
        snprintf(text, sizeof(text), TAG " seq=%d", i);
        if (mc_message_new_text(&m, "urn:mailchan:fault", text))
            fault_die("mc_message_new_text: %s", mc_error_last());
        if ((rc = mc_output_channel_send(out, m)) && bad++ < 5)
            printf("  send %d: %s: %s\n", i, mc_strerror(rc), mc_error_last());
        mc_message_free(m);
    }
    return bad;
}

int main(void)
{
    fault_proxy p;
    receiver r = {0};
    mc_transport *plain, *erin, *bob, *alice;
    mc_channel_listener *l, *bl;
    mc_input_channel *bin;
    mc_channel_factory *f, *f2;
    mc_output_channel *out, *bout;
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    outbox_view v, dead;
    char dir[128], alice_db[192], erin_db[192], bob_db[192], setting[3][256];
    int64_t t0, t_up, end;
    int n, rc, bad_sends, arrived_offline, server_offline, postfix_offline, got;
    unsigned seed, refused_attempts;
    if (!fault_servers_running())
        return 77;
    fault_begin(MC_LOG_WARN);
    t0 = fault_mono_ms();
    seed = (unsigned)fault_env_long("FAULT_SEED", (long)(time(NULL) ^ getpid()));
    n = (int)fault_env_long("FAULT_N", 200);
    if (n < 2)
        fault_die("FAULT_N must be at least 2");
    fault_tmpdir(dir, sizeof(dir), "qoff");
    snprintf(alice_db, sizeof(alice_db), "%s/alice.db", dir);
    snprintf(erin_db, sizeof(erin_db), "%s/erin.db", dir);
    snprintf(bob_db, sizeof(bob_db), "%s/bob.db", dir);
    fault_expunge_all("erin");
    fault_expunge_all("bob");
    fault_proxy_start(&p, dir, seed, atoi(fault_env("MC_SUBMISSION_PORT")), atoi(fault_env("MC_IMAP_PORT")));
    printf("fault_queue_offline: %d messages, seed %u, proxy smtp %d imap %d, files in %s\n", n, seed,
           p.smtp_port, p.imap_port, dir);

    /* 1. the servers refuse: listeners */
    proxy_mode(&p, "refuse");
    plain = fault_mail_transport("erin", p.smtp_port, p.imap_port, "timeout=2000", NULL);
    rc = mc_channel_listener_new(&l, plain, CHANNEL);
    printf("refused: a listener without queueing: %s%s%s\n", rc ? mc_strerror(rc) : "created", rc ? ": " : "",
           rc ? mc_error_last() : "");
    CHECK(rc != 0, "a listener on a transport without queueing was created while IMAP refused connections: "
                   "the proxy does not make the server unreachable");
    if (!rc)
        mc_channel_listener_free(l);
    mc_transport_free(plain);

    snprintf(setting[0], sizeof(setting[0]), "state_path=%s", erin_db);
    erin = fault_mail_transport("erin", p.smtp_port, p.imap_port, setting[0], "queued=true", "timeout=2000",
                                "server_query_interval=1000", "accept_existing_messages=true", NULL);
    rc = mc_channel_listener_new(&l, erin, CHANNEL);
    printf("refused: a listener on a queued transport: %s%s%s\n", rc ? mc_strerror(rc) : "created",
           rc ? ": " : "", rc ? mc_error_last() : "");
    CHECK(rc == 0, "mc_channel_listener_new on a queued transport failed while IMAP was unreachable");
    if (rc)
        fault_die("cannot go on without erin's listener");
    if ((rc = mc_channel_listener_accept_channel(&r.in, l, 5000)))
        fault_die("erin: accept_channel: %s", mc_error_last());
    r.n = n;
    if (!(r.count = calloc((size_t)n, sizeof(int))))
        fault_die("out of memory");
    pthread_mutex_init(&r.lock, NULL);
    if (pthread_create(&r.thread, NULL, receive_loop, &r))
        fault_die("cannot start the receive thread");

    /* 2. alice queues: half refused, half silent */
    snprintf(setting[1], sizeof(setting[1]), "state_path=%s", alice_db);
    alice = fault_mail_transport("alice", p.smtp_port, p.imap_port, setting[1], "queued=true", "timeout=2000",
                                 "queue_retry_initial=200", "queue_retry_max=2000", NULL);
    fault_output(alice, CHANNEL "erin@example.test", &f, &out, "alice");
    bad_sends = send_numbered(out, 0, n / 2);
    v = await_attempt(alice_db, 0, 15000);
    refused_attempts = v.attempts;
    printf("refused: %d queued, a delivery attempt failed %u time(s), last error: %s\n", v.n, v.attempts,
           v.error);
    CHECK(v.attempts > 0, "no failed delivery attempt seen within 15 s while the server refused");

    proxy_mode(&p, "blackhole");
    snprintf(setting[2], sizeof(setting[2]), "state_path=%s", bob_db);
    bob = fault_mail_transport("bob", p.smtp_port, p.imap_port, setting[2], "queued=true", "timeout=2000",
                               "server_query_interval=1000", NULL);
    rc = mc_channel_listener_new(&bl, bob, BOB_CHANNEL);
    printf("silent: a listener on a queued transport: %s%s%s\n", rc ? mc_strerror(rc) : "created",
           rc ? ": " : "", rc ? mc_error_last() : "");
    CHECK(rc == 0, "mc_channel_listener_new on a queued transport failed while IMAP was silent");
    bad_sends += send_numbered(out, n / 2, n);
    {
        mc_message *m;
        fault_output(alice, BOB_CHANNEL "bob@example.test", &f2, &bout, "alice to bob");
        if (mc_message_new_text(&m, "urn:mailchan:fault", TAG " for bob"))
            fault_die("mc_message_new_text: %s", mc_error_last());
        if (mc_output_channel_send(bout, m)) {
            printf("  send to bob: %s\n", mc_error_last());
            bad_sends++;
        }
        mc_message_free(m);
    }
    printf("all %d sends done %.1f s after the start, %d failed\n", n,
           (double)(fault_mono_ms() - t0) / 1000.0, bad_sends);
    CHECK(bad_sends == 0, "%d of %d sends failed while the server was away (a queued send must return 0)",
          bad_sends, n);
    v = await_attempt(alice_db, refused_attempts, 20000);
    printf("silent: a delivery attempt failed %u time(s) in all, last error: %s\n", v.attempts, v.error);
    CHECK(v.attempts > refused_attempts,
          "no failed delivery attempt seen within 20 s while the server was silent");
    CHECK(v.n == n + 1 - bad_sends, "the outbox holds %d mails, not %d", v.n, n + 1 - bad_sends);
    arrived_offline = delivered(&r);
    server_offline = fault_server_count("erin", "*", "all") + fault_server_count("bob", "*", "all");
    postfix_offline = fault_postfix_queued();
    printf("offline: outbox %d, delivered to the application %d, mails on erin's and bob's server %d, in "
           "Postfix's "
           "queue %d\n",
           v.n, arrived_offline, server_offline, postfix_offline);
    CHECK(arrived_offline == 0 && server_offline == 0 && postfix_offline == 0,
          "something arrived while the server was unreachable");
    if (!rc) {
        if ((rc = mc_channel_listener_accept_channel(&bin, bl, 5000)))
            fault_die("bob: accept_channel: %s", mc_error_last());
    }

    /* 3. back */
    proxy_mode(&p, "pass");
    t_up = fault_mono_ms();
    end = t_up + ARRIVE_MS;
    while ((got = distinct(&r)) < n - bad_sends && fault_mono_ms() < end)
        fault_sleep_ms(100);
    printf("back: %d of %d delivered to the application %.1f s after the servers came back%s\n", got,
           n - bad_sends, (double)(fault_mono_ms() - t_up) / 1000.0,
           got < n - bad_sends ? " (bound reached)" : "");
    end = fault_mono_ms() + DRAIN_MS;
    while ((v = outbox(alice_db, false)).n && fault_mono_ms() < end)
        fault_sleep_ms(100);
    dead = outbox(alice_db, true);
    CHECK(v.n == 0, "alice's outbox still holds %d mails", v.n);
    CHECK(dead.n == 0, "%d mails were dead-lettered (last error: %s)", dead.n, dead.error);
    fault_sleep_ms(QUIET_MS);
    if (!rc) {
        /* bob's listener, made while IMAP was silent, receives now */
        mc_message *m = NULL;
        char *text = NULL;
        int brc = mc_input_channel_receive(&m, bin, 60000);
        printf("back: bob's listener: %s\n", brc ? mc_error_last() : "received its message");
        CHECK(brc == 0 && !mc_message_body_text(&text, m) && !strcmp(text, TAG " for bob"),
              "bob's listener did not receive its message: %s", brc ? mc_strerror(brc) : "another message");
        mc_free(text);
        mc_message_free(m);
        if (mc_input_channel_close(bin))
            printf("bob: close: %s\n", mc_error_last());
        mc_input_channel_free(bin);
    }
    if (!rc)
        mc_channel_listener_free(bl);
    mc_transport_free(bob);
    atomic_store(&r.stop, true);
    pthread_join(r.thread, NULL);
    if (mc_transport_statistics(&st, erin))
        fault_die("mc_transport_statistics: %s", mc_error_last());
    {
        int lost = 0;
        for (int i = 0; i < n; i++)
            if (!r.count[i] && lost++ < 20)
                printf("  LOST: number %d\n", i);
        CHECK(lost == bad_sends, "%d messages lost", lost - bad_sends);
        printf(
            "fault_queue_offline: sent %d (queued while away), delivered %d, distinct %d; LOST %d, DELIVERED "
            "TWICE %d, unknown %d; duplicates dropped by the receiver %llu; outbox left %d, dead letters %d; "
            "receive errors %d; %.1f s\n",
            n - bad_sends, r.distinct + r.twice + r.unknown, r.distinct, lost, r.twice, r.unknown,
            st.duplicates, v.n, dead.n, r.errors, (double)(fault_mono_ms() - t0) / 1000.0);
    }
    CHECK(r.twice == 0 && r.unknown == 0, "%d delivered twice, %d unknown", r.twice, r.unknown);
    if (mc_input_channel_close(r.in))
        printf("erin: close: %s\n", mc_error_last());
    mc_input_channel_free(r.in);
    mc_channel_listener_free(l);
    mc_output_channel_free(out);
    mc_output_channel_free(bout);
    mc_channel_factory_free(f);
    mc_channel_factory_free(f2);
    mc_transport_free(alice);
    mc_transport_free(erin);
    fault_proxy_stop(&p);
    printf("library warnings: %zu\n", fault_log_count(t0, MC_LOG_WARN));
    fault_log_print(t0, MC_LOG_WARN, 10, t0);
    free(r.count);
    pthread_mutex_destroy(&r.lock);
    if (!getenv("FAULT_KEEP"))
        fault_rm_rf(dir);
    else
        printf("files kept: %s\n", dir);
    printf("fault_queue_offline: %s\n", failures ? "FAILED" : "passed");
    return failures ? 1 : 0;
}
