/* test_fault_silent.c - an IMAP server that goes silent under an idling
 * listener is noticed within the timeout, close stays bounded, and mail sent
 * meanwhile arrives once the server answers again.
 *
 * bob's listener reaches Dovecot through faultproxy.py (IMAP route only;
 * alice sends directly to Postfix), with timeout = 3000 ms and
 * server_query_interval = 60000 ms, so within this test only the watchdog on
 * the IDLE connection can notice a silent server. Steps:
 *   1. "pre" is sent and received (by IDLE); its deletion waits for the next
 *      query, so the close below has work to do.
 *   2. The proxy goes "blackhole": connections stay open, nothing is
 *      forwarded, new connections are accepted and get nothing either.
 *      "during" is sent meanwhile (Postfix and Dovecot take it).
 *   A. Within 2 x timeout + 4 s of the blackhole's start, the library logs a
 *      warning (level >= WARN) naming a timeout ("timeout", "timed out" or
 *      "time out"): the IDLE must be probed with DONE at least every `timeout`
 *      and a missing reply noticed within `timeout`.
 *   B. mc_input_channel_close, still in the blackhole, returns within
 *      timeout + 2 s (its flush of "pre" must give up in time).
 *   3. The proxy passes again.
 *   C. A new input channel of the same listener receives "during" within 30 s
 *      (reconnection with back-off), and "pre" is not delivered again (printed).
 * Every step is bounded; a close that never returns ends the test (exit 1)
 * after 60 s. The library's log from the blackhole on is printed with times.
 *
 * Needs the test mail servers (exit 77 without them):
 *   MC_PORT_BASE=26000 bash tests/mailserver/start.sh /tmp/srv && . /tmp/srv/env.sh
 *   build-test/tests/fault_silent               # or: (cd build-test && ctest -R fault_silent -V)
 * FAULT_VERBOSE=1 echoes the library's log (debug) to stderr as it happens;
 * FAULT_SILENT_WAIT_MS widens the bound of A (a diagnosis, not the requirement). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "fault_util.h"

#define TIMEOUT_MS 3000
#define CHANNEL "net.mail://fault-silent#"
#define TO CHANNEL "bob@example.test"

typedef struct {
    mc_input_channel *in;
    atomic_bool done;
    int rc;
} closer;

static void *close_thread(void *arg)
{
    closer *c = arg;
    c->rc = mc_input_channel_close(c->in);
    atomic_store(&c->done, true);
    return NULL;
}

static int send_text(mc_output_channel *out, const char *text)
{
    mc_message *m;
    int rc;
    if (mc_message_new_text(&m, "urn:mailchan:fault", text))
        fault_die("mc_message_new_text: %s", mc_error_last());
    rc = mc_output_channel_send(out, m);
    mc_message_free(m);
    if (rc)
        printf("send \"%s\": %s: %s\n", text, mc_strerror(rc), mc_error_last());
    return rc;
}

/* receives within timeout_ms; the body text (free()) or NULL */
static char *receive_text(mc_input_channel *in, int timeout_ms, bool quiet_timeout)
{
    mc_message *m = NULL;
    char *text = NULL, *copy;
    int rc = mc_input_channel_receive(&m, in, timeout_ms);
    if (rc) {
        if (rc != MC_ETIMEOUT || !quiet_timeout)
            printf("receive: %s: %s\n", mc_strerror(rc), mc_error_last());
        return NULL;
    }
    mc_message_body_text(&text, m);
    copy = strdup(text ? text : "");
    mc_free(text);
    mc_message_free(m);
    return copy;
}

static double secs(int64_t ms) { return (double)ms / 1000.0; }

/* milliseconds until deadline, never negative (a negative timeout waits forever) */
static int ms_left(int64_t deadline)
{
    int64_t now = fault_mono_ms();
    return deadline > now ? (int)(deadline - now) : 0;
}

int main(void)
{
    /* FAULT_SILENT_WAIT_MS only to see, today, when the warning comes at all */
    const int warn_bound = (int)fault_env_long("FAULT_SILENT_WAIT_MS", 2 * TIMEOUT_MS + 4000);
    const int close_bound = TIMEOUT_MS + 2000;
    char dir[128], line[512], to_port[16];
    int64_t t0 = fault_mono_ms(), t_bh, t_warn, t_pass, t_close = -1;
    bool ok_a, ok_b, ok_c = false, pre_again = false;
    fault_proxy proxy;
    mc_transport *alice, *bob;
    mc_channel_factory *f;
    mc_output_channel *out;
    mc_channel_listener *lis;
    mc_input_channel *in, *in2 = NULL;
    closer c = {0};
    pthread_t th;
    char *text;
    if (!fault_servers_running())
        return 77;
    fault_begin(MC_LOG_INFO);
    fault_expunge_all("bob");
    fault_tmpdir(dir, sizeof(dir), "silent");
    fault_proxy_start(&proxy, dir, (unsigned)time(NULL), 0, atoi(fault_env("MC_IMAP_PORT")));
    snprintf(to_port, sizeof(to_port), "timeout=%d", TIMEOUT_MS);
    bob = fault_mail_transport("bob", atoi(fault_env("MC_SUBMISSION_PORT")), proxy.imap_port, to_port,
                               "server_query_interval=60000", NULL);
    alice = fault_mail_transport("alice", atoi(fault_env("MC_SUBMISSION_PORT")),
                                 atoi(fault_env("MC_IMAP_PORT")), "timeout=5000", NULL);
    fault_listen(bob, CHANNEL, &lis, &in, "bob's listener");
    fault_output(alice, TO, &f, &out, "alice's channel");
    printf("fault_silent: timeout %d ms, server_query_interval 60000 ms, proxy imap :%d, log %s\n",
           TIMEOUT_MS, proxy.imap_port, proxy.log);

    /* 1. a message received whose deletion is still pending */
    if (send_text(out, "pre") || !(text = receive_text(in, 15000, false)) || strcmp(text, "pre"))
        fault_die("the first message did not arrive by IDLE within 15 s");
    free(text);
    fault_sleep_ms(500); /* the receive thread is back in IDLE */

    /* 2. the server goes silent; mail arrives at it meanwhile */
    t_bh = fault_mono_ms();
    fault_proxy_cmd(&proxy, NULL, 0, "mode blackhole");
    if (send_text(out, "during"))
        fault_die("sending directly to Postfix failed");

    /* A. the watchdog's warning */
    while ((t_warn = fault_log_find(t_bh, MC_LOG_WARN, line, sizeof(line), "timeout", "timed out", "time out",
                                    NULL)) < 0 &&
           fault_mono_ms() < t_bh + warn_bound)
        fault_sleep_ms(50);
    ok_a = t_warn >= 0;
    if (ok_a)
        printf("A. warning %.1f s after the blackhole began (bound %.1f s): %s\n", secs(t_warn - t_bh),
               secs(warn_bound), line);
    else
        printf("A. FAILED: no warning naming a timeout within %.1f s of the blackhole\n", secs(warn_bound));

    /* B. close, still silent */
    {
        int64_t tc = fault_mono_ms();
        c.in = in;
        pthread_create(&th, NULL, close_thread, &c);
        while (!atomic_load(&c.done) && fault_mono_ms() < tc + 60000)
            fault_sleep_ms(20);
        if (atomic_load(&c.done)) {
            pthread_join(th, NULL);
            t_close = fault_mono_ms() - tc;
        }
        ok_b = t_close >= 0 && t_close <= close_bound;
        if (t_close < 0)
            printf("B. FAILED: mc_input_channel_close did not return within 60 s (bound %.1f s)\n",
                   secs(close_bound));
        else
            printf("B. %smc_input_channel_close returned %s after %.1f s (bound %.1f s)\n",
                   ok_b ? "" : "FAILED: ", c.rc ? mc_strerror(c.rc) : "0", secs(t_close), secs(close_bound));
    }

    /* 3. + C. the server answers again: what was sent meanwhile arrives */
    t_pass = fault_mono_ms();
    fault_proxy_cmd(&proxy, NULL, 0, "mode pass");
    if (t_close >= 0 && !mc_channel_listener_accept_channel(&in2, lis, 5000)) {
        while ((text = receive_text(in2, ms_left(t_pass + 30000), false)) && !strcmp(text, "pre")) {
            pre_again = true;
            free(text);
        }
        ok_c = text && !strcmp(text, "during");
        printf("C. %s%s %.1f s after the proxy passed again (bound 30 s)\n",
               ok_c ? "" : "FAILED: ", ok_c ? "\"during\" received" : "\"during\" not received",
               secs(fault_mono_ms() - t_pass));
        free(text);
        if (ok_c && (text = receive_text(in2, 2000, true))) {
            pre_again |= !strcmp(text, "pre");
            free(text);
        }
        printf("   \"pre\" delivered again: %s\n", pre_again ? "yes" : "no");
    } else {
        printf("C. FAILED: no input channel to receive on (%s)\n",
               t_close < 0 ? "close never returned" : mc_error_last());
    }
    printf("library log from the blackhole on (times from its start):\n");
    fault_log_print(t_bh - 1000, MC_LOG_INFO, 40, t_bh);
    printf("fault_silent: A (warning within %.0f s) %s, B (close within %.0f s) %s, C (delivery after) %s; "
           "total %.1f s\n",
           secs(warn_bound), ok_a ? "ok" : "FAILED", secs(close_bound), ok_b ? "ok" : "FAILED",
           ok_c ? "ok" : "FAILED", secs(fault_mono_ms() - t0));
    if (t_close < 0) {
        fault_proxy_stop(&proxy);
        _exit(1); /* close is stuck inside the library: nothing can be freed */
    }
    if (in2) {
        mc_input_channel_close(in2);
        mc_input_channel_free(in2);
    }
    mc_input_channel_free(in);
    mc_channel_listener_free(lis);
    mc_output_channel_free(out);
    mc_channel_factory_free(f);
    mc_transport_free(alice);
    mc_transport_free(bob);
    fault_proxy_stop(&proxy);
    fault_rm_rf(dir);
    return ok_a && ok_b && ok_c ? 0 : 1;
}
