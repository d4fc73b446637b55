/* test_fault_e2e.c - messages end to end through a proxy that cuts
 * connections at random bytes: nothing may be lost, and every duplicate must
 * have a cause.
 *
 *   alice --SMTP--> proxy --> Postfix submission (STARTTLS, AUTH) --LMTP--> Dovecot
 *   Dovecot --IMAP--> proxy --> bob's listener (IDLE)
 *
 * faultproxy.py runs in "reset" mode on both routes: every connection is cut
 * with RST after a random number of bytes (1 .. FAULT_SMTP_MAX / FAULT_IMAP_MAX,
 * 60 000 / 200 000 by default, both directions counted), in the TLS handshake, mid-command, mid-DATA or
 * mid-FETCH. Alice sends FAULT_N (500) messages of ~4.5 KB, one at a time,
 * each body carrying its sequence number; a failed send is retried (as an application
 * would) up to 30 times. Bob's receiver thread records every delivery with
 * the mail's Message-ID (a fresh one per send attempt) and IMAP id.
 *
 * Verdict: every seq whose send succeeded is delivered (0 lost); a seq
 * delivered as two different mails is explained only if it had a failed send
 * attempt (the server accepted, the reply was cut, the app retried); the same
 * mail delivered twice is explained only if the proxy cut an IMAP connection
 * between the two deliveries (the deletion had not been flushed). Anything else
 * fails. Counts of cuts (by where they landed), retries and duplicates are
 * printed; the proxy's log stays in FAULT_KEEP's directory when set.
 *
 * Needs the test mail servers (exit 77 without them):
 *   MC_PORT_BASE=26000 bash tests/mailserver/start.sh /tmp/srv && . /tmp/srv/env.sh
 *   build-test/tests/fault_e2e                  # or: (cd build-test && ctest -R fault_e2e -V)
 * Knobs: FAULT_N, FAULT_SEED, FAULT_SMTP_MAX, FAULT_IMAP_MAX (bytes), FAULT_VERBOSE=1
 * (library log and every failed send on stderr), FAULT_KEEP=1 (keep the proxy log). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "fault_util.h"

#define TAG "fault-e2e"
#define CHANNEL "net.mail://fault-e2e#"
#define PAD 2500 /* a mail of ~4.5 KB: its DATA and its FETCH are TLS records of their own size */

typedef struct {
    int64_t *t;
    size_t n;
} cuts;

/* the same mail again: explained if an IMAP connection was cut in between */
static bool cut_between(int64_t first_ms, int64_t again_ms, void *ud)
{
    const cuts *c = ud;
    return fault_any_between(c->t, c->n, first_ms, again_ms);
}

/* waits (bounded) until every seq that was sent is delivered */
static int await_all(fault_ledger *l, int want, int64_t deadline)
{
    int got;
    while ((got = fault_ledger_distinct(l)) < want && fault_mono_ms() < deadline)
        fault_sleep_ms(100);
    return got;
}

static void print_errors(const fault_ledger *l)
{
    printf("failed sends by error:");
    for (int i = 0; i < 16; i++)
        if (l->errors[i])
            printf(" %s %d;", i ? mc_strerror(-i) : "other", l->errors[i]);
    printf("\n");
}

int main(void)
{
    int n = (int)fault_env_long("FAULT_N", 500), sent_ok = 0, got, failed = 0;
    unsigned seed = (unsigned)fault_env_long("FAULT_SEED", (long)(time(NULL) ^ getpid()));
    char dir[128], reply[2048], smtp_to[64];
    int64_t t0 = fault_mono_ms(), t_sent, t_all = -1;
    fault_proxy proxy;
    fault_ledger ledger;
    fault_verdict v;
    fault_receiver r = {0};
    mc_transport *alice, *bob;
    mc_channel_factory *f;
    mc_output_channel *out;
    mc_channel_listener *lis;
    pthread_t th;
    cuts imap_cuts;
    if (!fault_servers_running())
        return 77;
    fault_begin(MC_LOG_WARN);
    fault_ledger_init(&ledger, n);
    fault_expunge_all("bob");
    fault_tmpdir(dir, sizeof(dir), "e2e");
    fault_proxy_start(&proxy, dir, seed, atoi(fault_env("MC_SUBMISSION_PORT")),
                      atoi(fault_env("MC_IMAP_PORT")));
    fault_proxy_cmd(&proxy, NULL, 0, "max smtp %ld", fault_env_long("FAULT_SMTP_MAX", 60000));
    fault_proxy_cmd(&proxy, NULL, 0, "max imap %ld", fault_env_long("FAULT_IMAP_MAX", 200000));
    printf("fault_e2e: %d messages, seed %u, proxy smtp :%d imap :%d, log %s\n", n, seed, proxy.smtp_port,
           proxy.imap_port, proxy.log);

    /* bob listens through the proxy (still passing: the listener's first
     * connection is made here and must succeed) */
    bob = fault_mail_transport("bob", proxy.smtp_port, proxy.imap_port, "timeout=5000",
                               "server_query_interval=5000", "accept_existing_messages=true", NULL);
    fault_listen(bob, CHANNEL, &lis, &r.in, "bob's listener");
    r.ledger = &ledger;
    pthread_create(&th, NULL, fault_receive_loop, &r);

    alice = fault_mail_transport("alice", proxy.smtp_port, proxy.imap_port, "timeout=5000", NULL);
    snprintf(smtp_to, sizeof(smtp_to), "%sbob@example.test", CHANNEL);
    fault_output(alice, smtp_to, &f, &out, "alice's channel");

    fault_proxy_cmd(&proxy, NULL, 0, "mode reset");
    for (int s = 0; s < n; s++) {
        if (fault_send_seq(&ledger, out, TAG, s, PAD, 30))
            failed++;
        else
            sent_ok++;
    }
    t_sent = fault_mono_ms();
    printf("sending done in %.1f s: %d sent, %d given up\n", (double)(t_sent - t0) / 1000.0, sent_ok, failed);

    /* still cutting: receive everything within 90 s; then pass, 30 s more,
     * which tells "slow under faults" from "lost" */
    got = await_all(&ledger, n - failed, t_sent + 90000);
    if (got >= n - failed)
        t_all = fault_mono_ms();
    fault_proxy_cmd(&proxy, reply, sizeof(reply), "stats");
    fault_proxy_cmd(&proxy, NULL, 0, "mode pass");
    if (t_all < 0) {
        printf("after 90 s of faults %d of %d delivered; proxy now passing\n", got, n - failed);
        got = await_all(&ledger, n - failed, fault_mono_ms() + 30000);
        if (got >= n - failed)
            t_all = fault_mono_ms();
    }
    fault_sleep_ms(2000); /* late duplicates */
    atomic_store(&r.stop, true);
    pthread_join(th, NULL);
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

    printf("proxy (while cutting): %s\n", reply);
    print_errors(&ledger);
    printf("receive errors: %d; library warnings: %zu (first ones below)\n", r.errors,
           fault_log_count(t0, MC_LOG_WARN));
    fault_log_print(t0, MC_LOG_WARN, 15, t0);
    imap_cuts.t = fault_proxy_cut_times(&proxy, "imap", &imap_cuts.n);
    fault_ledger_judge(&ledger, cut_between, &imap_cuts, &v);
    printf("left on the server: %d in bob's Service E-mail (%d of them flagged \\Deleted), %d in Postfix's "
           "queue\n",
           fault_server_count("bob", "Service E-mail", "all"),
           fault_server_count("bob", "Service E-mail", "deleted"), fault_postfix_queued());
    if (t_all < 0)
        printf("NOT all delivered within the bound; ");
    else
        printf("all delivered %.1f s after sending ended; ", (double)(t_all - t_sent) / 1000.0);
    printf("total %.1f s\n", (double)(fault_mono_ms() - t0) / 1000.0);
    fault_verdict_print("fault_e2e", &v);
    free(imap_cuts.t);
    fault_ledger_free(&ledger);
    if (!getenv("FAULT_KEEP"))
        fault_rm_rf(dir);
    else
        printf("proxy log kept: %s\n", proxy.log);
    return v.lost || v.dup_unexplained || v.unknown || v.gave_up ? 1 : 0;
}
