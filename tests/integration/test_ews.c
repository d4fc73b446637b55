/* test_ews.c - the exchange binding against the EWS responder
 * (tests/ews/responder.py: answers like Exchange, validates every request
 * against Microsoft's schema). Run by tests/ews/run_test.sh, which starts
 * the responder and exports its env.sh; the control endpoint is driven
 * through tests/ews/ewsctl.py. Every test ends by checking that the
 * responder saw no invalid request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ews_helpers.h"

#define CTL MC_TEST_EWS_DIR "/ewsctl.py"
#define SVC "Service E-mail"

static long count(const char *user, const char *folder, const char *subject)
{
    return ews_ctl("count %s '%s' '%s'", user, folder, subject);
}

/* waits (bounded) until count() is want */
static long await_count(const char *user, const char *folder, const char *subject, long want, int ms)
{
    long n = -1;
    for (int64_t end = now_ms() + ms; now_ms() < end && (n = count(user, folder, subject)) != want;)
        sleep_ms(200);
    return n;
}

static mc_binding *ews_binding(const char *user, const char *password_var, const char *interval)
{
    mc_binding *b;
    char addr[128];
    snprintf(addr, sizeof(addr), "%s@example.test", user);
    assert_int_equal(mc_binding_new(&b, "exchange"), 0);
    binding_set(b, "address", addr);
    binding_set(b, "ews_url", test_env("MC_EWS_URL"));
    binding_set(b, "tls_ca_file", test_env("MC_EWS_CA"));
    if (password_var)
        binding_set(b, "password", test_env(password_var));
    binding_set(b, "server_query_interval", interval);
    binding_set(b, "timeout", "10000");
    return b;
}

/* a raw mail for the control endpoint to deliver */
static void deliver(const char *to, const char *subject, const char *body)
{
    char path[] = "/tmp/mc-ews-mail-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f,
            "From: someone@example.test\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%lld@x>\r\n"
            "Content-Type: application/soap+xml; charset=utf-8\r\n\r\n%s\r\n",
            to, subject, (long long)now_ms(), body);
    fclose(f);
    ews_ctl("deliver %s %s", to, path);
    unlink(path);
}

static void no_invalid_request(void) { assert_int_equal(ews_ctl("invalid"), 0); }

static void close_all(mc_transport *t, mc_channel_listener *l, mc_input_channel *in)
{
    assert_int_equal(mc_input_channel_close(in), 0);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_transport_free(t);
}

/* alice sends (Drafts, then SendItem), bob's listener learns of it by the
 * streaming notification (the query interval is a minute), receives it, and
 * it is deleted from the server */
static void test_roundtrip(void **state)
{
    mc_transport *a = transport_of(ews_binding("alice", "MC_EWS_ALICE_PW", "60000"));
    mc_transport *b = transport_of(ews_binding("bob", "MC_EWS_BOB_PW", "60000"));
    mc_channel_listener *l;
    mc_input_channel *in;
    char *text;
    int64_t t0;
    (void)state;
    open_in(b, "net.mail://orders#", &l, &in);
    sleep_ms(500); /* the first query ran and the stream is open: what follows is news */
    t0 = now_ms();
    assert_int_equal(send_text(a, "net.mail://orders#bob@example.test", "first order"), 0);
    text = receive_text(in, 15000);
    assert_string_equal(text, "first order");
    assert_true(now_ms() - t0 < 30000); /* not the minute's query: the stream */
    free(text);
    close_all(b, l, in);
    assert_int_equal(count("bob@example.test", SVC, "[net.mail] orders"), 0);
    assert_int_equal(count("alice@example.test", "Sent Items", "[net.mail] orders"), 1);
    assert_int_equal(count("alice@example.test", "Drafts", "[net.mail]"), 0);
    mc_transport_free(a);
    no_invalid_request();
}

/* accept_existing_messages = false: mail already in the folder stays there
 * untouched, and mail sent right after the listener opened - within the
 * same second, which is all DateTimeReceived has - is received */
static void test_accept_existing_false(void **state)
{
    mc_transport *a = transport_of(ews_binding("alice", "MC_EWS_ALICE_PW", "60000"));
    mc_binding *bb = ews_binding("bob", "MC_EWS_BOB_PW", "60000");
    mc_transport *b;
    mc_channel_listener *l;
    mc_input_channel *in;
    char *text;
    (void)state;
    binding_set(bb, "accept_existing_messages", "false");
    b = transport_of(bb);
    assert_int_equal(send_text(a, "net.mail://early#bob@example.test", "there before"), 0);
    assert_int_equal(await_count("bob@example.test", SVC, "[net.mail] early", 1, 10000), 1);
    /* just after a second boundary: what comes next arrives in the second
     * the listener opened in */
    sleep_ms(1000 - now_ms() % 1000 + 20);
    open_in(b, "net.mail://early#", &l, &in);
    assert_int_equal(send_text(a, "net.mail://early#bob@example.test", "sent after open"), 0);
    text = receive_text(in, 15000);
    assert_string_equal(text, "sent after open");
    free(text);
    close_all(b, l, in);
    assert_int_equal(count("bob@example.test", SVC, "[net.mail] early"), 1); /* the one there before */
    /* which the default (accept existing) receives */
    b = transport_of(ews_binding("bob", "MC_EWS_BOB_PW", "60000"));
    open_in(b, "net.mail://early#", &l, &in);
    text = receive_text(in, 15000);
    assert_string_equal(text, "there before");
    free(text);
    close_all(b, l, in);
    mc_transport_free(a);
    no_invalid_request();
}

/* send_and_save_copy: one CreateItem */
static void test_send_and_save_copy(void **state)
{
    mc_binding *ab = ews_binding("alice", "MC_EWS_ALICE_PW", "60000");
    mc_transport *a, *b = transport_of(ews_binding("bob", "MC_EWS_BOB_PW", "300"));
    mc_channel_listener *l;
    mc_input_channel *in;
    char *text;
    long sends = ews_ctl("times SendItem | wc -l");
    (void)state;
    binding_set(ab, "ews_send_mode", "send_and_save_copy");
    a = transport_of(ab);
    assert_int_equal(send_text(a, "net.mail://copies#bob@example.test", "one call"), 0);
    open_in(b, "net.mail://copies#", &l, &in);
    text = receive_text(in, 15000);
    assert_string_equal(text, "one call");
    free(text);
    assert_int_equal(ews_ctl("times SendItem | wc -l"), sends);
    close_all(b, l, in);
    mc_transport_free(a);
    no_invalid_request();
}

/* DESIGN's outcomes: malformed to Deleted Items, invalid deleted after the
 * retry count, expired deleted, mail for a channel with no listener stays */
static void test_outcomes(void **state)
{
    mc_transport *a = transport_of(ews_binding("alice", "MC_EWS_ALICE_PW", "60000"));
    mc_transport *b = transport_of(ews_binding("bob", "MC_EWS_BOB_PW", "300"));
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m = NULL;
    (void)state;
    assert_int_equal(send_text(a, "net.mail://nobody#bob@example.test", "for no one yet"), 0);
    deliver("bob@example.test", "[net.mail] bad;ttl=yesterday", "<x/>");
    deliver("bob@example.test", "[net.mail] outcomes", "not an envelope");
    deliver("bob@example.test", "[net.mail] outcomes;ttl=2001-01-01T00:00:00Z", "<x/>");
    open_in(b, "net.mail://outcomes#", &l, &in);
    assert_int_equal(await_count("bob@example.test", "Deleted Items", "[net.mail] bad", 1, 15000), 1);
    assert_int_equal(await_count("bob@example.test", SVC, "[net.mail] outcomes", 0, 15000), 0);
    assert_int_equal(mc_input_channel_receive(&m, in, 500), MC_ETIMEOUT);
    assert_int_equal(count("bob@example.test", SVC, "[net.mail] nobody"), 1);
    close_all(b, l, in);
    assert_int_equal(count("bob@example.test", SVC, "[net.mail] nobody"), 1);
    mc_transport_free(a);
    no_invalid_request();
}

/* carol has no "Service E-mail": the Inbox is watched; unstamped mail there
 * stays, unread; the folder made later is picked up at the next query */
static void test_inbox_fallback_and_folder_later(void **state)
{
    mc_transport *a = transport_of(ews_binding("alice", "MC_EWS_ALICE_PW", "60000"));
    mc_transport *c = transport_of(ews_binding("carol", "MC_EWS_CAROL_PW", "300"));
    mc_channel_listener *l;
    mc_input_channel *in;
    char *text;
    (void)state;
    deliver("carol@example.test", "lunch?", "hi");
    open_in(c, "net.mail://later#", &l, &in);
    assert_int_equal(send_text(a, "net.mail://later#carol@example.test", "from the inbox"), 0);
    text = receive_text(in, 15000);
    assert_string_equal(text, "from the inbox");
    free(text);
    ews_ctl("folder carol@example.test '" SVC "'");
    sleep_ms(1000); /* a query or two: the folder is found */
    assert_int_equal(send_text(a, "net.mail://later#carol@example.test", "from the folder"), 0);
    text = receive_text(in, 15000);
    assert_string_equal(text, "from the folder");
    free(text);
    close_all(c, l, in);
    assert_int_equal(ews_ctl("unread carol@example.test Inbox lunch?"), 1);
    mc_transport_free(a);
    no_invalid_request();
}

/* ErrorServerBusy with BackOffMilliseconds: no FindItem before the wait
 * the server asked for has passed (no busy loop), then delivery */
static void test_server_busy(void **state)
{
    mc_transport *a = transport_of(ews_binding("alice", "MC_EWS_ALICE_PW", "60000"));
    mc_transport *b = transport_of(ews_binding("bob", "MC_EWS_BOB_PW", "200"));
    mc_channel_listener *l;
    mc_input_channel *in;
    char *text, cmd[512];
    FILE *p;
    double times[64];
    int n = 0, busy_at = -1;
    (void)state;
    assert_int_equal(send_text(a, "net.mail://busy#bob@example.test", "after the wait"), 0);
    ews_ctl("json '{\"clear_faults\": true}'");
    ews_ctl("json '{\"busy\": {\"op\": \"FindItem\", \"count\": 1, \"backoff_ms\": 2000}}'");
    {
        /* FindItems before this test */
        snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s times FindItem | wc -l", CTL);
        assert_non_null(p = popen(cmd, "r"));
        assert_int_equal(fscanf(p, "%d", &busy_at), 1);
        pclose(p);
    }
    open_in(b, "net.mail://busy#", &l, &in);
    text = receive_text(in, 15000);
    assert_string_equal(text, "after the wait");
    free(text);
    close_all(b, l, in);
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s times FindItem", CTL);
    assert_non_null(p = popen(cmd, "r"));
    while (n < 64 && fscanf(p, "%lf", &times[n]) == 1)
        n++;
    pclose(p);
    /* the busy answer was FindItem number busy_at; the next one came >= 2 s later */
    assert_true(n > busy_at + 1);
    assert_true(times[busy_at + 1] - times[busy_at] >= 1.95);
    mc_transport_free(a);
    no_invalid_request();
}

/* the stream is cut while mail arrives: the resync after the reconnect
 * delivers it, once */
static void test_stream_dropped(void **state)
{
    mc_transport *a = transport_of(ews_binding("alice", "MC_EWS_ALICE_PW", "60000"));
    mc_transport *b = transport_of(ews_binding("bob", "MC_EWS_BOB_PW", "60000"));
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m = NULL;
    char *text;
    (void)state;
    open_in(b, "net.mail://cut#", &l, &in);
    sleep_ms(500);
    ews_ctl("json '{\"drop_streams\": true}'");
    assert_int_equal(send_text(a, "net.mail://cut#bob@example.test", "through the cut"), 0);
    text = receive_text(in, 20000);
    assert_string_equal(text, "through the cut");
    free(text);
    assert_int_equal(mc_input_channel_receive(&m, in, 2000), MC_ETIMEOUT);
    close_all(b, l, in);
    mc_transport_free(a);
    no_invalid_request();
}

/* a listener that restarts does not deliver again what it received */
static void test_restart_no_duplicate(void **state)
{
    mc_transport *a = transport_of(ews_binding("alice", "MC_EWS_ALICE_PW", "60000"));
    mc_transport *b = transport_of(ews_binding("bob", "MC_EWS_BOB_PW", "300"));
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m = NULL;
    char *text;
    (void)state;
    assert_int_equal(send_text(a, "net.mail://again#bob@example.test", "once"), 0);
    open_in(b, "net.mail://again#", &l, &in);
    text = receive_text(in, 15000);
    assert_string_equal(text, "once");
    free(text);
    close_all(b, l, in);
    b = transport_of(ews_binding("bob", "MC_EWS_BOB_PW", "300"));
    open_in(b, "net.mail://again#", &l, &in);
    assert_int_equal(mc_input_channel_receive(&m, in, 2000), MC_ETIMEOUT);
    close_all(b, l, in);
    mc_transport_free(a);
    no_invalid_request();
}

/* Exactly-once over EWS (state_path): alice's outbox (queued) sends one
 * message, then the same message again, as a sender that retried would;
 * bob's listener delivers it once and deletes the second mail. A restarted
 * bob over the same store still does not deliver it again. */
static void test_queued_exactly_once(void **state)
{
    char dir[] = "/tmp/mc-ews-state-XXXXXX", apath[64], bpath[64], cmd[96];
    mc_binding *ab = ews_binding("alice", "MC_EWS_ALICE_PW", "60000");
    mc_binding *bb = ews_binding("bob", "MC_EWS_BOB_PW", "300");
    mc_transport *a, *b;
    mc_channel_factory *f;
    mc_output_channel *out;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m = NULL, *r = NULL;
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    long before = count("bob@example.test", SVC, "[net.mail]"); /* mail earlier tests left */
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(apath, sizeof(apath), "%s/alice.db", dir);
    snprintf(bpath, sizeof(bpath), "%s/bob.db", dir);
    binding_set(ab, "state_path", apath);
    binding_set(ab, "queued", "true");
    binding_set(ab, "queue_retry_initial", "200");
    binding_set(bb, "state_path", bpath);
    a = transport_of(ab);
    b = transport_of(bb);
    open_in(b, "net.mail://once#", &l, &in);
    assert_int_equal(mc_channel_factory_new(&f, a), 0);
    assert_int_equal(mc_channel_factory_create_channel(&out, f, "net.mail://once#bob@example.test"), 0);
    assert_int_equal(mc_message_new_text(&m, "urn:test:once", "exactly once"), 0);
    assert_int_equal(mc_output_channel_send(out, m), 0);
    assert_int_equal(mc_input_channel_receive(&r, in, 15000), 0);
    assert_string_equal(mc_message_message_id(r), mc_message_message_id(m));
    mc_message_free(r);
    r = NULL;
    assert_int_equal(mc_output_channel_send(out, m), 0); /* the same MessageID again */
    assert_int_equal(mc_input_channel_receive(&r, in, 3000), MC_ETIMEOUT);
    assert_int_equal(await_count("bob@example.test", SVC, "[net.mail]", before, 10000), before);
    assert_int_equal(mc_transport_statistics(&st, b), 0);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.duplicates, 1);
    close_all(b, l, in);
    /* restarted, and the message arrives a third time */
    bb = ews_binding("bob", "MC_EWS_BOB_PW", "300");
    binding_set(bb, "state_path", bpath);
    b = transport_of(bb);
    open_in(b, "net.mail://once#", &l, &in);
    assert_int_equal(mc_output_channel_send(out, m), 0);
    assert_int_equal(mc_input_channel_receive(&r, in, 3000), MC_ETIMEOUT);
    assert_int_equal(await_count("bob@example.test", SVC, "[net.mail]", before, 10000), before);
    close_all(b, l, in);
    mc_message_free(m);
    mc_output_channel_free(out);
    mc_channel_factory_free(f);
    mc_transport_free(a);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    no_invalid_request();
}

static int token_calls;
static char *token_now;

static int token_cb(char **token, void *ud)
{
    (void)ud;
    token_calls++;
    *token = strdup(token_now);
    return 0;
}

/* bearer: an expired token is asked for again once after the 401; a wrong
 * CA fails before any credential leaves; a wrong password is MC_EAUTH */
static void test_auth(void **state)
{
    mc_binding *d;
    mc_transport *t;
    mc_channel_listener *l = NULL;
    (void)state;
    token_now = strdup(test_env("MC_EWS_DAVE_TOKEN"));
    d = ews_binding("dave", NULL, "60000");
    binding_set(d, "ews_auth", "bearer");
    assert_int_equal(mc_binding_set_token_callback(d, token_cb, NULL), 0);
    t = transport_of(d);
    assert_int_equal(send_text(t, "net.mail://tok#bob@example.test", "with a token"), 0);
    assert_int_equal(token_calls, 1);
    ews_ctl("json '{\"expire_tokens\": true}'");
    /* the fresh token the callback will give */
    free(token_now);
    token_now = ews_new_token("dave@example.test");
    assert_int_equal(send_text(t, "net.mail://tok#bob@example.test", "after the refresh"), 0);
    assert_int_equal(token_calls, 2);
    mc_transport_free(t);
    free(token_now);

    t = transport_of(ews_binding("bob", NULL, "60000"));
    {
        mc_binding *w = ews_binding("bob", "MC_EWS_BOB_PW", "60000");
        mc_transport_free(t);
        binding_set(w, "tls_ca_file", test_env("MC_EWS_OTHER_CA"));
        t = transport_of(w);
    }
    assert_int_equal(mc_channel_listener_new(&l, t, "net.mail://x#"), MC_ETLS);
    mc_transport_free(t);
    {
        mc_binding *w = ews_binding("bob", "MC_EWS_ALICE_PW", "60000");
        t = transport_of(w);
    }
    assert_int_equal(mc_channel_listener_new(&l, t, "net.mail://x#"), MC_EAUTH);
    assert_null(strstr(mc_error_last(), test_env("MC_EWS_ALICE_PW")));
    mc_transport_free(t);
    no_invalid_request();
}

/* a wrong CA: MC_ETLS, and the responder never saw a request (so no
 * credential); impersonation: svc acts for bob (ExchangeImpersonation and
 * X-AnchorMailbox) and receives bob's mail */
static void test_ca_and_impersonation(void **state)
{
    mc_binding *w = ews_binding("bob", "MC_EWS_BOB_PW", "60000");
    mc_transport *t, *a;
    mc_channel_listener *l = NULL;
    mc_input_channel *in;
    char *text;
    long before;
    (void)state;
    binding_set(w, "tls_ca_file", test_env("MC_EWS_OTHER_CA"));
    t = transport_of(w);
    before = ews_log_lines(NULL);
    assert_int_equal(mc_channel_listener_new(&l, t, "net.mail://x#"), MC_ETLS);
    assert_null(strstr(mc_error_last(), test_env("MC_EWS_BOB_PW")));
    mc_transport_free(t);
    /* a failed handshake may be logged, never a request */
    {
        char cmd[512];
        FILE *p;
        long requests = -1;
        snprintf(cmd, sizeof(cmd), "tail -n +%ld '%s' | grep -c '\"authorization\": true' || true",
                 before + 1, test_env("MC_EWS_LOG"));
        assert_non_null(p = popen(cmd, "r"));
        assert_int_equal(fscanf(p, "%ld", &requests), 1);
        pclose(p);
        assert_int_equal(requests, 0);
    }

    a = transport_of(ews_binding("alice", "MC_EWS_ALICE_PW", "60000"));
    w = ews_binding("svc", "MC_EWS_SVC_PW", "300");
    binding_set(w, "address", "bob@example.test");
    binding_set(w, "username", "svc@example.test");
    binding_set(w, "ews_impersonate", "bob@example.test");
    t = transport_of(w);
    open_in(t, "net.mail://acting#", &l, &in);
    assert_int_equal(send_text(a, "net.mail://acting#bob@example.test", "for bob, read by svc"), 0);
    text = receive_text(in, 15000);
    assert_string_equal(text, "for bob, read by svc");
    free(text);
    close_all(t, l, in);
    mc_transport_free(a);
    no_invalid_request();
}

/* after_receive = move: received mail is moved (MoveItem) into a folder
 * found by name under msgfolderroot, made by CreateFolder the first time;
 * it leaves "Service E-mail" and is delivered once */
static void test_after_receive_move(void **state)
{
    mc_transport *a = transport_of(ews_binding("alice", "MC_EWS_ALICE_PW", "60000"));
    mc_binding *bb = ews_binding("bob", "MC_EWS_BOB_PW", "300");
    mc_transport *b;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m = NULL;
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    long creates = ews_ctl("requests CreateFolder"), deletes = ews_ctl("requests DeleteItem");
    char *text;
    (void)state;
    binding_set(bb, "after_receive", "move");
    binding_set(bb, "archive_folder", "Processed Orders");
    b = transport_of(bb);
    open_in(b, "net.mail://archived#", &l, &in);
    assert_int_equal(send_text(a, "net.mail://archived#bob@example.test", "one"), 0);
    text = receive_text(in, 15000);
    assert_string_equal(text, "one");
    free(text);
    assert_int_equal(await_count("bob@example.test", "Processed Orders", "[net.mail] archived", 1, 15000), 1);
    assert_int_equal(count("bob@example.test", SVC, "[net.mail] archived"), 0);
    assert_int_equal(send_text(a, "net.mail://archived#bob@example.test", "two"), 0);
    text = receive_text(in, 15000);
    assert_string_equal(text, "two");
    free(text);
    assert_int_equal(mc_input_channel_receive(&m, in, 1000), MC_ETIMEOUT); /* delivered once */
    assert_int_equal(mc_transport_statistics(&st, b), 0);
    close_all(b, l, in);
    assert_int_equal(count("bob@example.test", "Processed Orders", "[net.mail] archived"), 2);
    assert_int_equal(count("bob@example.test", SVC, "[net.mail] archived"), 0);
    assert_int_equal(count("bob@example.test", "Deleted Items", "[net.mail] archived"), 0);
    assert_int_equal(ews_ctl("requests CreateFolder"), creates + 1); /* made once, then known */
    assert_int_equal(ews_ctl("requests DeleteItem"), deletes);
    assert_int_equal(st.delivered, 2);
    mc_transport_free(a);
    no_invalid_request();
}

/* dead_letter_folder: invalid mail is moved there after the retry count
 * (an existing folder: found, not made again), not deleted */
static void test_dead_letter(void **state)
{
    mc_binding *bb = ews_binding("bob", "MC_EWS_BOB_PW", "300");
    mc_transport *b;
    mc_channel_listener *l;
    mc_input_channel *in;
    long creates;
    (void)state;
    ews_ctl("folder bob@example.test 'Dead Letters'");
    creates = ews_ctl("requests CreateFolder");
    binding_set(bb, "dead_letter_folder", "Dead Letters");
    binding_set(bb, "receive_retry_count", "2");
    b = transport_of(bb);
    deliver("bob@example.test", "[net.mail] deadletter", "not an envelope");
    open_in(b, "net.mail://deadletter#", &l, &in);
    assert_int_equal(await_count("bob@example.test", "Dead Letters", "[net.mail] deadletter", 1, 15000), 1);
    assert_int_equal(count("bob@example.test", SVC, "[net.mail] deadletter"), 0);
    assert_int_equal(count("bob@example.test", "Deleted Items", "[net.mail] deadletter"), 0);
    assert_int_equal(ews_ctl("requests CreateFolder"), creates);
    close_all(b, l, in);
    no_invalid_request();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_send_and_save_copy),
        cmocka_unit_test(test_accept_existing_false),
        cmocka_unit_test(test_outcomes),
        cmocka_unit_test(test_inbox_fallback_and_folder_later),
        cmocka_unit_test(test_server_busy),
        cmocka_unit_test(test_stream_dropped),
        cmocka_unit_test(test_restart_no_duplicate),
        cmocka_unit_test(test_queued_exactly_once),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_ca_and_impersonation),
        cmocka_unit_test(test_after_receive_move),
        cmocka_unit_test(test_dead_letter),
    };
    if (!getenv("MC_EWS_URL")) {
        fprintf(stderr, "test_ews: no EWS responder (run tests/ews/run_test.sh); skipped\n");
        return 77;
    }
    net_test_init();
    mc_init();
    if (getenv("MC_TEST_ONLY"))
        cmocka_set_test_filter(getenv("MC_TEST_ONLY"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
