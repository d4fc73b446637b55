/* test_fault_e2e_once.c - exactly-once end to end: queued sending and a
 * receiver with a state store, through a proxy that cuts connections at
 * random bytes; the application sees every message once.
 *
 *   alice (queued, own store) --SMTP--> proxy --> Postfix submission --LMTP--> Dovecot
 *   Dovecot --IMAP--> proxy --> bob's listener (IDLE, own store)
 *
 * As in fault_e2e, faultproxy.py runs in "reset" mode on both routes: every
 * connection is cut with RST after a random number of bytes (1 ..
 * FAULT_SMTP_MAX / FAULT_IMAP_MAX, 60 000 / 200 000 by default). Here alice's
 * transport has queued=true and its own state_path: mc_output_channel_send
 * returns once the framed mail is committed to the outbox, so a send never
 * fails for the application (each seq is sent exactly once, no application
 * retry); the outbox's delivery thread retries after queue_retry_initial
 * (150 ms) doubling to queue_retry_max (2000 ms). A cut after Postfix accepted
 * the DATA but before its reply arrived makes the outbox send the same mail
 * again: two copies carrying one wsa:MessageID. Bob's transport has a
 * state_path: the wsa:MessageID of each message handed to the application is
 * committed before receive returns; a mail repeating one is deleted, not
 * delivered - whether it is the outbox's second copy or the same mail seen
 * again because an IMAP cut lost the deletion.
 *
 * FAULT_N (1000) messages of ~4.5 KB, each with its own wsa:MessageID
 * ("urn:mcfault:e2e-once:<run>:<seq>"), each body carrying its seq.
 *
 * Verdict: every send returned 0; every seq delivered to the application
 * exactly once (0 lost, 0 duplicates delivered, nothing unknown); alice's
 * outbox empty at the end (nothing queued, nothing dead-lettered). Printed:
 * the cuts on each route, the duplicates bob's receiver dropped (stats v2
 * "duplicates"), the time taken. Bounds: 120 s after the last send with
 * cuts, then 30 s with the proxy passing (to tell "slow" from "lost").
 *
 * Needs the test mail servers (exit 77 without them):
 *   MC_PORT_BASE=26000 bash tests/mailserver/start.sh /tmp/srv && . /tmp/srv/env.sh
 *   build-test/tests/fault_e2e_once             # or: (cd build-test && ctest -R fault_e2e_once -V)
 * Knobs: FAULT_N, FAULT_SEED, FAULT_SMTP_MAX, FAULT_IMAP_MAX (bytes), FAULT_PAD
 * (body filler, 2500), FAULT_VERBOSE=1, FAULT_KEEP=1 (keep the proxy log and
 * the stores). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "fault_util.h"

#define TAG "fault-e2e-once"
#define CHANNEL "net.mail://fault-e2e-once#"

static int count_entry(const mc_queue_entry *e, void *ud)
{
    (void)e;
    (*(int *)ud)++;
    return 0;
}

/* mails in the outbox at path, queued (dead false) or dead-lettered; -1 if it cannot be read */
static int outbox_count(const char *path, bool dead)
{
    int n = 0;
    if (mc_queue_list(path, dead, count_entry, &n)) {
        fprintf(stderr, "mc_queue_list %s: %s\n", path, mc_error_last());
        return -1;
    }
    return n;
}

/* waits (bounded) until every seq is delivered and the outbox is empty */
static bool await_all(fault_ledger *l, int want, const char *outbox, int64_t deadline, int *got, int *queued)
{
    for (;;) {
        *got = fault_ledger_distinct(l);
        *queued = outbox_count(outbox, false);
        if ((*got >= want && *queued == 0) || fault_mono_ms() >= deadline)
            return *got >= want && *queued == 0;
        fault_sleep_ms(250);
    }
}

static unsigned long long duplicates_dropped(mc_transport *t)
{
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    return mc_transport_statistics(&st, t) ? 0 : st.duplicates;
}

int main(void)
{
    int n = (int)fault_env_long("FAULT_N", 1000), failed = 0, got = 0, queued = -1, dead;
    size_t pad = (size_t)fault_env_long("FAULT_PAD", 2500);
    unsigned seed = (unsigned)fault_env_long("FAULT_SEED", (long)(time(NULL) ^ getpid()));
    char dir[128], reply[2048], to[128], prefix[96], alice_db[192], bob_db[192], s_alice[224], s_bob[224];
    int64_t t0 = fault_mono_ms(), t_sent, t_all = -1;
    unsigned long long dropped;
    fault_proxy proxy;
    fault_ledger ledger;
    fault_verdict v;
    fault_receiver r = {0};
    mc_transport *alice, *bob;
    mc_channel_factory *f;
    mc_output_channel *out;
    mc_channel_listener *lis;
    pthread_t th;
    bool ok;
    if (!fault_servers_running())
        return 77;
    fault_begin(MC_LOG_WARN);
    fault_ledger_init(&ledger, n);
    snprintf(prefix, sizeof(prefix), "urn:mcfault:e2e-once:%u-%d:", seed, (int)getpid());
    ledger.mid_prefix = prefix;
    fault_expunge_all("bob");
    fault_tmpdir(dir, sizeof(dir), "e2e1");
    snprintf(alice_db, sizeof(alice_db), "%s/alice.db", dir);
    snprintf(bob_db, sizeof(bob_db), "%s/bob.db", dir);
    snprintf(s_alice, sizeof(s_alice), "state_path=%s", alice_db);
    snprintf(s_bob, sizeof(s_bob), "state_path=%s", bob_db);
    fault_proxy_start(&proxy, dir, seed, atoi(fault_env("MC_SUBMISSION_PORT")),
                      atoi(fault_env("MC_IMAP_PORT")));
    fault_proxy_cmd(&proxy, NULL, 0, "max smtp %ld", fault_env_long("FAULT_SMTP_MAX", 60000));
    fault_proxy_cmd(&proxy, NULL, 0, "max imap %ld", fault_env_long("FAULT_IMAP_MAX", 200000));
    printf("fault_e2e_once: %d messages, seed %u, proxy smtp :%d imap :%d, log %s\n", n, seed,
           proxy.smtp_port, proxy.imap_port, proxy.log);

    /* bob listens through the proxy (still passing: the listener's first
     * connection is made here and must succeed) */
    bob = fault_mail_transport("bob", proxy.smtp_port, proxy.imap_port, "timeout=5000",
                               "server_query_interval=5000", "accept_existing_messages=true", s_bob, NULL);
    fault_listen(bob, CHANNEL, &lis, &r.in, "bob's listener");
    r.ledger = &ledger;
    pthread_create(&th, NULL, fault_receive_loop, &r);

    alice = fault_mail_transport("alice", proxy.smtp_port, proxy.imap_port, "timeout=5000", s_alice,
                                 "queued=true", "queue_retry_initial=150", "queue_retry_max=2000", NULL);
    snprintf(to, sizeof(to), "%sbob@example.test", CHANNEL);
    fault_output(alice, to, &f, &out, "alice's channel");

    fault_proxy_cmd(&proxy, NULL, 0, "mode reset");
    for (int s = 0; s < n; s++)
        if (fault_send_seq(&ledger, out, TAG, s, pad, 1)) /* one attempt: a queued send does not fail */
            failed++;
    t_sent = fault_mono_ms();
    printf("queueing done in %.1f s: %d sends returned 0, %d failed\n", (double)(t_sent - t0) / 1000.0,
           n - failed, failed);

    /* still cutting: everything delivered and the outbox empty within 120 s;
     * else the proxy passes, 30 s more */
    ok = await_all(&ledger, n - failed, alice_db, t_sent + 120000, &got, &queued);
    if (ok)
        t_all = fault_mono_ms();
    fault_proxy_cmd(&proxy, reply, sizeof(reply), "stats");
    fault_proxy_cmd(&proxy, NULL, 0, "mode pass");
    if (!ok) {
        printf("after 120 s of faults: %d of %d delivered, %d still in the outbox; proxy now passing\n", got,
               n - failed, queued);
        if (await_all(&ledger, n - failed, alice_db, fault_mono_ms() + 30000, &got, &queued))
            t_all = fault_mono_ms();
    }
    fault_sleep_ms(3000); /* late duplicates */
    atomic_store(&r.stop, true);
    pthread_join(th, NULL);
    dropped = duplicates_dropped(bob);
    {
        int64_t tc = fault_mono_ms();
        int rc = mc_input_channel_close(r.in);
        printf("close (flush) %s in %.1f s\n", rc ? mc_strerror(rc) : "ok",
               (double)(fault_mono_ms() - tc) / 1000.0);
    }
    mc_input_channel_free(r.in);
    mc_channel_listener_free(lis);
    mc_output_channel_free(out);
    mc_channel_factory_free(f);
    mc_transport_free(alice);
    mc_transport_free(bob);
    fault_proxy_stop(&proxy);
    queued = outbox_count(alice_db, false);
    dead = outbox_count(alice_db, true);

    printf("proxy (while cutting): %s\n", reply);
    printf("receive errors: %d; library warnings: %zu (first ones below)\n", r.errors,
           fault_log_count(t0, MC_LOG_WARN));
    fault_log_print(t0, MC_LOG_WARN, 15, t0);
    fault_ledger_judge(&ledger, NULL, NULL, &v);
    printf("left on the server: %d in bob's Service E-mail (%d of them flagged \\Deleted), %d in Postfix's "
           "queue\n",
           fault_server_count("bob", "Service E-mail", "all"),
           fault_server_count("bob", "Service E-mail", "deleted"), fault_postfix_queued());
    if (t_all < 0)
        printf("NOT all delivered within the bound; ");
    else
        printf("all delivered and the outbox empty %.1f s after queueing ended; ",
               (double)(t_all - t_sent) / 1000.0);
    printf("total %.1f s\n", (double)(fault_mono_ms() - t0) / 1000.0);
    {
        size_t smtp_cuts, imap_cuts;
        int64_t *c1 = fault_proxy_cut_times(&proxy, "smtp", &smtp_cuts);
        int64_t *c2 = fault_proxy_cut_times(&proxy, "imap", &imap_cuts);
        free(c1);
        free(c2);
        fault_verdict_print("fault_e2e_once", &v);
        printf(
            "fault_e2e_once: %d messages; cuts smtp %zu, imap %zu; sends failed %d; delivered %d, distinct "
            "%d: LOST %d, DUPLICATES DELIVERED %d, unknown %d; duplicates dropped by dedup %llu; outbox at "
            "the end: %d queued, %d dead; %.1f s\n",
            n, smtp_cuts, imap_cuts, failed, v.delivered, v.distinct, v.lost, v.duplicates, v.unknown,
            dropped, queued, dead, (double)(fault_mono_ms() - t0) / 1000.0);
    }
    fault_ledger_free(&ledger);
    if (!getenv("FAULT_KEEP"))
        fault_rm_rf(dir);
    else
        printf("proxy log and stores kept in %s\n", dir);
    return failed || v.lost || v.duplicates || v.unknown || v.gave_up || queued != 0 || dead != 0 ? 1 : 0;
}
