/* test_request.c - request channels (mailchan/request.h) over Maildir: a
 * client transport (cli@x.test) and a service transport (svc@x.test) share
 * one Maildir root; the service answers in a thread of its own, or by hand
 * where a test needs its timing. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "helpers.h"

#define SVC "net.mail://orders#svc@x.test"

typedef struct {
    char *root, *state;
    mc_transport *svc;
    mc_channel_factory *svc_f;
    mc_channel_listener *svc_l;
    mc_input_channel *svc_in;
    pthread_t thread;
    int answering; /* the service thread runs */
    volatile int stop;
    unsigned answered;
} fixture;

static int setup(void **state)
{
    fixture *x = calloc(1, sizeof(*x));
    char path[512];
    x->root = make_tmpdir();
    snprintf(path, sizeof(path), "%s/client.state", x->root);
    x->state = strdup(path);
    x->svc = maildir_transport(x->root, "svc@x.test", NULL);
    assert_int_equal(mc_channel_factory_new(&x->svc_f, x->svc), 0);
    open_in(x->svc, "net.mail://orders#", &x->svc_l, &x->svc_in);
    *state = x;
    return 0;
}

static void service_stop(fixture *x)
{
    if (x->answering) {
        x->stop = 1;
        pthread_join(x->thread, NULL);
        x->answering = 0;
    }
}

static int teardown(void **state)
{
    fixture *x = *state;
    service_stop(x);
    mc_input_channel_free(x->svc_in);
    mc_channel_listener_free(x->svc_l);
    mc_channel_factory_free(x->svc_f);
    mc_transport_free(x->svc);
    rm_rf(x->root);
    free(x->root);
    free(x->state);
    free(x);
    return 0;
}

/* The service: "fail:REASON" is answered with a Sender fault, anything else
 * with "re:" + the text, through the reply helper. */
static void answer(fixture *x, mc_message *req)
{
    char *text = NULL, *body;
    mc_message *reply = NULL;
    assert_int_equal(mc_message_body_text(&text, req), 0);
    if (!strncmp(text, "fail:", 5)) {
        assert_int_equal(mc_channel_factory_send_fault(x->svc_f, req, "Sender", text + 5), 0);
    } else {
        assert_int_equal(asprintf(&body, "re:%s", text), (int)strlen(text) + 3);
        assert_int_equal(mc_message_create_reply(&reply, req, "urn:test:Reply", NULL, 0), 0);
        assert_int_equal(mc_message_set_body_text(reply, body), 0);
        assert_int_equal(mc_channel_factory_send_reply(x->svc_f, req, reply), 0);
        free(body);
    }
    x->answered++;
    mc_message_free(reply);
    mc_free(text);
}

static void *service(void *arg)
{
    fixture *x = arg;
    while (!x->stop) {
        mc_message *req = NULL;
        if (mc_input_channel_try_receive(&req, x->svc_in, 50) == 0 && req) {
            answer(x, req);
            mc_message_free(req);
        }
    }
    return NULL;
}

static void service_start(fixture *x)
{
    x->stop = 0;
    assert_int_equal(pthread_create(&x->thread, NULL, service, x), 0);
    x->answering = 1;
}

/* answers the next request by hand */
static void answer_one(fixture *x)
{
    mc_message *req = NULL;
    assert_int_equal(mc_input_channel_receive(&req, x->svc_in, 10000), 0);
    answer(x, req);
    mc_message_free(req);
}

static mc_message *text_msg(const char *text)
{
    mc_message *m = NULL;
    assert_int_equal(mc_message_new_text(&m, "urn:test:Order", text), 0);
    return m;
}

static void assert_text(const mc_message *m, const char *want)
{
    char *text = NULL;
    assert_non_null(m);
    assert_int_equal(mc_message_body_text(&text, m), 0);
    assert_string_equal(text, want);
    mc_free(text);
}

static mc_transport *client(fixture *x, bool with_state)
{
    char setting[600];
    snprintf(setting, sizeof(setting), "state_path=%s", x->state);
    return with_state ? maildir_transport(x->root, "cli@x.test", setting, NULL)
                      : maildir_transport(x->root, "cli@x.test", NULL);
}

static mc_request_channel *open_rc(mc_transport *t)
{
    mc_request_channel *rc = NULL;
    if (mc_request_channel_new(&rc, t, SVC, NULL))
        fail_msg("mc_request_channel_new: %s", mc_error_last());
    return rc;
}

/* ---- tests ---- */

/* A request gets the reply that relates to it: wsa:ReplyTo was the reply
 * channel on the client's own mailbox, and the reply's RelatesTo is the
 * request's MessageID. Several requests in a row, each its own reply. */
static void test_round_trip(void **state)
{
    fixture *x = *state;
    mc_transport *t = client(x, false);
    mc_request_channel *rc = open_rc(t);
    service_start(x);
    assert_string_equal(mc_request_channel_reply_address(rc), "net.mail://orders-reply#cli@x.test");
    assert_string_equal(mc_request_channel_address(rc), SVC);
    for (int i = 0; i < 3; i++) {
        char text[32], want[40];
        mc_message *req, *reply = NULL;
        snprintf(text, sizeof(text), "order %d", i);
        snprintf(want, sizeof(want), "re:order %d", i);
        req = text_msg(text);
        if (mc_request_channel_request(&reply, rc, req, 10000))
            fail_msg("request: %s", mc_error_last());
        assert_text(reply, want);
        assert_string_equal(mc_message_relates_to(reply), mc_message_message_id(req));
        assert_string_equal(mc_message_property(reply, MC_PROP_FROM_EMAIL), "svc@x.test");
        /* the caller's message was not changed */
        assert_null(mc_message_reply_to(req));
        mc_message_free(reply);
        mc_message_free(req);
    }
    assert_int_equal(mc_request_channel_pending(rc), 0);
    mc_request_channel_free(rc);
    mc_transport_free(t);
}

/* A fault in reply: MC_EFAULT with its code and reason, and the fault. */
static void test_fault(void **state)
{
    fixture *x = *state;
    mc_transport *t = client(x, true);
    mc_request_channel *rc = open_rc(t);
    mc_message *req = text_msg("fail:no such product"), *reply = NULL;
    const char *code = NULL, *reason = NULL;
    service_start(x);
    assert_int_equal(mc_request_channel_request(&reply, rc, req, 10000), MC_EFAULT);
    assert_non_null(strstr(mc_error_last(), "Sender"));
    assert_non_null(strstr(mc_error_last(), "no such product"));
    assert_non_null(reply);
    assert_int_equal(mc_message_fault(&code, &reason, reply), 0);
    assert_string_equal(code, "Sender");
    assert_string_equal(reason, "no such product");
    assert_string_equal(mc_message_relates_to(reply), mc_message_message_id(req));
    assert_int_equal(mc_request_channel_pending(rc), 0);
    mc_message_free(reply);
    mc_message_free(req);
    mc_request_channel_free(rc);
    mc_transport_free(t);
}

/* A reply after the wait ended is not dropped: it is a late reply, marked
 * "late"; one that relates to nothing known is marked "unknown". */
static void test_late_and_unknown(void **state)
{
    fixture *x = *state;
    mc_transport *t = client(x, false);
    mc_request_channel *rc = open_rc(t);
    mc_message *req = text_msg("slow"), *reply = NULL, *late = NULL, *stray = NULL;
    mc_output_channel *out = NULL;
    assert_int_equal(mc_request_channel_request(&reply, rc, req, 100), MC_ETIMEOUT);
    assert_null(reply);
    assert_int_equal(mc_request_channel_pending(rc), 1);
    answer_one(x);
    assert_int_equal(mc_request_channel_receive_late(&late, rc, 10000), 0);
    assert_text(late, "re:slow");
    assert_string_equal(mc_message_property(late, MC_PROP_CORRELATION), MC_CORRELATION_LATE);
    assert_string_equal(mc_message_relates_to(late), mc_message_message_id(req));
    assert_int_equal(mc_request_channel_pending(rc), 0);
    /* a reply to nothing this client sent */
    stray = text_msg("stray");
    assert_int_equal(mc_message_set_relates_to(stray, "urn:uuid:00000000-0000-4000-8000-000000000000"), 0);
    assert_int_equal(mc_channel_factory_create_channel(&out, x->svc_f, "net.mail://orders-reply#cli@x.test"),
                     0);
    assert_int_equal(mc_output_channel_send(out, stray), 0);
    mc_message_free(late);
    late = NULL;
    assert_int_equal(mc_request_channel_receive_late(&late, rc, 10000), 0);
    assert_text(late, "stray");
    assert_string_equal(mc_message_property(late, MC_PROP_CORRELATION), MC_CORRELATION_UNKNOWN);
    assert_int_equal(mc_request_channel_receive_late(&reply, rc, 0), MC_ETIMEOUT);
    mc_output_channel_free(out);
    mc_message_free(stray);
    mc_message_free(late);
    mc_message_free(req);
    mc_request_channel_free(rc);
    mc_transport_free(t);
}

static void on_nothing(int status, mc_message *reply, const char *id, const char *err, void *ud)
{
    (void)id;
    (void)err;
    *(int *)ud += status == MC_ECLOSED;
    mc_message_free(reply);
}

/* A client that stops with requests unanswered (their callbacks get
 * MC_ECLOSED), and starts again on the same store, gets their replies:
 * marked "earlier", each once. */
static void test_restart_earlier(void **state)
{
    fixture *x = *state;
    mc_transport *t = client(x, true);
    mc_request_channel *rc = open_rc(t);
    mc_message *req[3], *late = NULL;
    int closed = 0, seen[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        char text[16];
        snprintf(text, sizeof(text), "o%d", i);
        req[i] = text_msg(text);
        assert_int_equal(mc_request_channel_request_async(NULL, rc, req[i], -1, on_nothing, &closed), 0);
    }
    assert_int_equal(mc_request_channel_pending(rc), 3);
    mc_request_channel_free(rc);
    mc_transport_free(t);
    assert_int_equal(closed, 3);
    /* the service answers while the client is away */
    for (int i = 0; i < 3; i++)
        answer_one(x);
    /* back, on the same store */
    t = client(x, true);
    rc = open_rc(t);
    assert_int_equal(mc_request_channel_pending(rc), 3);
    for (int n = 0; n < 3; n++) {
        int i;
        char *text = NULL;
        assert_int_equal(mc_request_channel_receive_late(&late, rc, 10000), 0);
        assert_string_equal(mc_message_property(late, MC_PROP_CORRELATION), MC_CORRELATION_EARLIER);
        assert_int_equal(mc_message_body_text(&text, late), 0);
        assert_int_equal(sscanf(text, "re:o%d", &i), 1);
        assert_true(i >= 0 && i < 3);
        seen[i]++;
        assert_string_equal(mc_message_relates_to(late), mc_message_message_id(req[i]));
        mc_free(text);
        mc_message_free(late);
        late = NULL;
    }
    assert_int_equal(seen[0] + seen[1] + seen[2], 3);
    assert_true(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
    assert_int_equal(mc_request_channel_pending(rc), 0);
    assert_int_equal(mc_request_channel_receive_late(&late, rc, 300), MC_ETIMEOUT);
    mc_request_channel_free(rc);
    mc_transport_free(t);
    for (int i = 0; i < 3; i++)
        mc_message_free(req[i]);
}

/* A reply that was read (its mail is gone) but not yet taken when the
 * client stopped is kept in the store: the next run hands it over, once. */
static void test_read_but_not_taken_survives(void **state)
{
    fixture *x = *state;
    mc_transport *t = client(x, true);
    mc_request_channel *rc = open_rc(t);
    mc_message *req = text_msg("kept"), *reply = NULL, *late = NULL;
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    char path[600];
    assert_int_equal(mc_request_channel_request(&reply, rc, req, 50), MC_ETIMEOUT);
    answer_one(x);
    /* wait until the dispatcher has read it (the mail is then deleted) */
    for (int i = 0; i < 200; i++) {
        assert_int_equal(mc_transport_statistics(&st, t), 0);
        if (st.delivered == 1)
            break;
        usleep(50 * 1000);
    }
    assert_int_equal(st.delivered, 1);
    mc_request_channel_free(rc); /* the late reply was never taken */
    mc_transport_free(t);
    snprintf(path, sizeof(path), "%s/cli@x.test/new", x->root);
    assert_int_equal(count_files(path), 0);
    snprintf(path, sizeof(path), "%s/cli@x.test/cur", x->root);
    assert_int_equal(count_files(path), 0);
    t = client(x, true);
    rc = open_rc(t);
    assert_int_equal(mc_request_channel_receive_late(&late, rc, 5000), 0);
    assert_text(late, "re:kept");
    assert_string_equal(mc_message_property(late, MC_PROP_FROM_EMAIL), "svc@x.test");
    mc_message_free(late);
    late = NULL;
    mc_request_channel_free(rc);
    mc_transport_free(t);
    /* taken: not again */
    t = client(x, true);
    rc = open_rc(t);
    assert_int_equal(mc_request_channel_receive_late(&late, rc, 300), MC_ETIMEOUT);
    assert_int_equal(mc_request_channel_pending(rc), 0);
    mc_request_channel_free(rc);
    mc_transport_free(t);
    mc_message_free(req);
}

typedef struct {
    pthread_mutex_t m;
    int calls, ok, timeouts;
    char got[8][32];
    char ids[8][64];
} async_log;

static void on_reply(int status, mc_message *reply, const char *id, const char *err, void *ud)
{
    async_log *a = ud;
    char *text = NULL;
    (void)err;
    pthread_mutex_lock(&a->m);
    if (status == 0 && a->ok < 8) {
        assert_int_equal(mc_message_body_text(&text, reply), 0);
        snprintf(a->got[a->ok], sizeof(a->got[0]), "%s", text);
        snprintf(a->ids[a->ok], sizeof(a->ids[0]), "%s", id);
        assert_string_equal(mc_message_relates_to(reply), id);
        a->ok++;
        mc_free(text);
    } else if (status == MC_ETIMEOUT) {
        assert_null(reply);
        a->timeouts++;
    }
    a->calls++;
    pthread_mutex_unlock(&a->m);
    mc_message_free(reply);
}

static int async_calls(async_log *a)
{
    int n;
    pthread_mutex_lock(&a->m);
    n = a->calls;
    pthread_mutex_unlock(&a->m);
    return n;
}

/* Asynchronous requests: several in flight at once, each callback fires
 * exactly once with its own reply; one nobody answers times out. */
static void test_async(void **state)
{
    fixture *x = *state;
    mc_transport *t = client(x, true);
    mc_request_channel *rc = open_rc(t);
    async_log a = {.m = PTHREAD_MUTEX_INITIALIZER};
    char *ids[4];
    for (int i = 0; i < 4; i++) {
        char text[16];
        mc_message *m;
        snprintf(text, sizeof(text), "a%d", i);
        m = text_msg(text);
        assert_int_equal(mc_request_channel_request_async(&ids[i], rc, m, 20000, on_reply, &a), 0);
        mc_message_free(m);
    }
    for (int i = 0; i < 4; i++)
        answer_one(x);
    for (int i = 0; i < 400 && async_calls(&a) < 4; i++)
        usleep(25 * 1000);
    assert_int_equal(a.calls, 4);
    assert_int_equal(a.ok, 4);
    for (int i = 0; i < 4; i++) {
        char want[16];
        int found = 0;
        snprintf(want, sizeof(want), "re:a%d", i);
        for (int j = 0; j < 4; j++)
            if (!strcmp(a.got[j], want)) {
                assert_string_equal(a.ids[j], ids[i]);
                found++;
            }
        assert_int_equal(found, 1);
        mc_free(ids[i]);
    }
    /* one that times out */
    {
        mc_message *m = text_msg("never");
        assert_int_equal(mc_request_channel_request_async(NULL, rc, m, 100, on_reply, &a), 0);
        mc_message_free(m);
    }
    for (int i = 0; i < 400 && async_calls(&a) < 5; i++)
        usleep(25 * 1000);
    assert_int_equal(a.calls, 5);
    assert_int_equal(a.timeouts, 1);
    mc_request_channel_free(rc);
    mc_transport_free(t);
    assert_int_equal(a.calls, 5); /* never twice */
}

static void on_late(int status, mc_message *reply, const char *id, const char *err, void *ud)
{
    async_log *a = ud;
    (void)err;
    pthread_mutex_lock(&a->m);
    assert_int_equal(status, 0);
    snprintf(a->ids[0], sizeof(a->ids[0]), "%s", id);
    a->calls++;
    pthread_mutex_unlock(&a->m);
    mc_message_free(reply);
}

/* Late replies through a callback instead of receive_late. */
static void test_late_callback(void **state)
{
    fixture *x = *state;
    mc_transport *t = client(x, true);
    mc_request_channel *rc = open_rc(t);
    async_log a = {.m = PTHREAD_MUTEX_INITIALIZER};
    mc_message *req = text_msg("cb"), *reply = NULL;
    assert_int_equal(mc_request_channel_set_late_callback(rc, on_late, &a), 0);
    assert_int_equal(mc_request_channel_request(&reply, rc, req, 50), MC_ETIMEOUT);
    answer_one(x);
    for (int i = 0; i < 400 && async_calls(&a) < 1; i++)
        usleep(25 * 1000);
    assert_int_equal(a.calls, 1);
    assert_string_equal(a.ids[0], mc_message_message_id(req));
    mc_request_channel_free(rc);
    mc_transport_free(t);
    /* taken by the callback: not handed over again */
    t = client(x, true);
    rc = open_rc(t);
    assert_int_equal(mc_request_channel_receive_late(&reply, rc, 300), MC_ETIMEOUT);
    mc_request_channel_free(rc);
    mc_transport_free(t);
    mc_message_free(req);
}

/* A request that cannot be sent leaves nothing pending; the send's error
 * comes back. */
static void test_send_failure_leaves_nothing(void **state)
{
    fixture *x = *state;
    char setting[600];
    mc_transport *t;
    mc_request_channel *rc;
    char big[4000];
    mc_message *req, *reply = NULL;
    snprintf(setting, sizeof(setting), "state_path=%s", x->state);
    t = maildir_transport(x->root, "cli@x.test", setting, "max_received_message_size=2000", NULL);
    rc = open_rc(t);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    req = text_msg(big);
    assert_int_equal(mc_request_channel_request(&reply, rc, req, 1000), MC_ETOOBIG);
    assert_null(reply);
    assert_int_equal(mc_request_channel_pending(rc), 0);
    mc_request_channel_free(rc);
    mc_transport_free(t);
    mc_message_free(req);
}

/* The same reply mail twice (a duplicate from the server) is handed over once. */
static void test_duplicate_reply_once(void **state)
{
    fixture *x = *state;
    mc_transport *t = client(x, true);
    mc_request_channel *rc = open_rc(t);
    mc_message *req = text_msg("dup"), *reply = NULL, *in = NULL, *late = NULL;
    mc_output_channel *out = NULL;
    assert_int_equal(mc_request_channel_request(&reply, rc, req, 50), MC_ETIMEOUT);
    assert_int_equal(mc_input_channel_receive(&in, x->svc_in, 10000), 0);
    assert_int_equal(mc_message_create_reply(&reply, in, "urn:test:Reply", NULL, 0), 0);
    assert_int_equal(mc_message_set_body_text(reply, "once"), 0);
    assert_int_equal(mc_channel_factory_create_channel(&out, x->svc_f, mc_message_to(reply)), 0);
    assert_int_equal(mc_output_channel_send(out, reply), 0);
    assert_int_equal(mc_output_channel_send(out, reply), 0);
    assert_int_equal(mc_request_channel_receive_late(&late, rc, 10000), 0);
    assert_text(late, "once");
    mc_message_free(late);
    late = NULL;
    assert_int_equal(mc_request_channel_receive_late(&late, rc, 1500), MC_ETIMEOUT);
    mc_output_channel_free(out);
    mc_message_free(in);
    mc_message_free(reply);
    mc_message_free(req);
    mc_request_channel_free(rc);
    mc_transport_free(t);
}

/* The reply helper: to wsa:ReplyTo; a fault to wsa:FaultTo when given; a
 * request naming nowhere to answer is MC_EINVAL. */
static void test_reply_helper_addresses(void **state)
{
    fixture *x = *state;
    mc_transport *t = client(x, false);
    mc_channel_listener *l1 = NULL, *l2 = NULL;
    mc_input_channel *in1 = NULL, *in2 = NULL;
    mc_message *req = text_msg("q"), *got = NULL, *reply = NULL;
    open_in(t, "net.mail://answers#", &l1, &in1);
    open_in(t, "net.mail://faults#", &l2, &in2);
    assert_int_equal(mc_message_set_reply_to(req, "net.mail://answers#cli@x.test"), 0);
    assert_int_equal(mc_message_set_fault_to(req, "net.mail://faults#cli@x.test"), 0);
    assert_int_equal(mc_message_new_text(&reply, "urn:test:Reply", "fine"), 0);
    assert_int_equal(mc_channel_factory_send_reply(x->svc_f, req, reply), 0);
    assert_int_equal(mc_input_channel_receive(&got, in1, 10000), 0);
    /* RelatesTo set from the request, since the reply had none */
    assert_string_equal(mc_message_relates_to(got), mc_message_message_id(req));
    assert_null(mc_message_relates_to(reply));
    mc_message_free(got);
    assert_int_equal(mc_channel_factory_send_fault(x->svc_f, req, "Receiver", "down"), 0);
    assert_int_equal(mc_input_channel_receive(&got, in2, 10000), 0);
    assert_true(mc_message_is_fault(got));
    mc_message_free(got);
    mc_message_free(req);
    req = text_msg("nowhere");
    assert_int_equal(mc_channel_factory_send_reply(x->svc_f, req, reply), MC_EINVAL);
    assert_non_null(strstr(mc_error_last(), "no address"));
    mc_message_free(req);
    mc_message_free(reply);
    mc_input_channel_free(in1);
    mc_input_channel_free(in2);
    mc_channel_listener_free(l1);
    mc_channel_listener_free(l2);
    mc_transport_free(t);
}

/* Misuse: NULLs, a bad service address, a reply channel taken already,
 * calls after close. */
static void test_misuse(void **state)
{
    fixture *x = *state;
    mc_transport *t = client(x, false);
    mc_request_channel *rc = NULL, *rc2 = NULL;
    mc_request_options o = MC_REQUEST_OPTIONS_INIT;
    mc_message *req = text_msg("x"), *reply = NULL;
    assert_int_equal(mc_request_channel_new(NULL, t, SVC, NULL), MC_EINVAL);
    assert_int_equal(mc_request_channel_new(&rc, t, "mailto:svc@x.test", NULL), MC_EINVAL);
    assert_null(rc);
    o.reply_channel = "has space";
    assert_int_equal(mc_request_channel_new(&rc, t, SVC, &o), MC_EINVAL);
    o.version = 99;
    assert_int_equal(mc_request_channel_new(&rc, t, SVC, &o), MC_EINVAL);
    assert_int_equal(mc_request_options_init(&o, MC_REQUEST_OPTIONS_VERSION), 0);
    o.reply_channel = "mine";
    rc = open_rc(t);
    assert_int_equal(mc_request_channel_new(&rc2, t, SVC, NULL), MC_EBUSY);
    assert_int_equal(mc_request_channel_new(&rc2, t, SVC, &o), 0);
    assert_string_equal(mc_request_channel_reply_address(rc2), "net.mail://mine#cli@x.test");
    assert_int_equal(mc_request_channel_request(NULL, rc, req, 10), MC_EINVAL);
    assert_int_equal(mc_request_channel_request_async(NULL, rc, req, 10, NULL, NULL), MC_EINVAL);
    assert_int_equal(mc_request_channel_close(rc), 0);
    assert_int_equal(mc_request_channel_close(rc), MC_ECLOSED);
    assert_int_equal(mc_request_channel_request(&reply, rc, req, 10), MC_ECLOSED);
    assert_int_equal(mc_request_channel_receive_late(&reply, rc, 10), MC_ECLOSED);
    assert_null(reply);
    mc_request_channel_free(rc);
    mc_request_channel_free(rc2);
    mc_request_channel_free(NULL);
    mc_message_free(req);
    mc_transport_free(t);
}

/* A request waiting in another thread returns MC_ECLOSED when the channel
 * is closed under it; the request stays correlated in the store. */
typedef struct {
    mc_request_channel *rc;
    int rc_result;
    sem_t started;
} waiter_arg;

static void *wait_request(void *arg)
{
    waiter_arg *w = arg;
    mc_message *req = text_msg("blocked"), *reply = NULL;
    sem_post(&w->started);
    w->rc_result = mc_request_channel_request(&reply, w->rc, req, -1);
    mc_message_free(reply);
    mc_message_free(req);
    return NULL;
}

static void test_close_wakes_waiter(void **state)
{
    fixture *x = *state;
    mc_transport *t = client(x, true);
    waiter_arg w = {.rc = open_rc(t)};
    pthread_t th;
    char path[600], cur[600];
    sem_init(&w.started, 0, 0);
    assert_int_equal(pthread_create(&th, NULL, wait_request, &w), 0);
    sem_wait(&w.started);
    /* until it is sent: in the service's mailbox */
    snprintf(path, sizeof(path), "%s/svc@x.test/new", x->root);
    snprintf(cur, sizeof(cur), "%s/svc@x.test/cur", x->root);
    for (int i = 0; i < 400 && count_files(path) + count_files(cur) < 1; i++)
        usleep(25 * 1000);
    assert_int_equal(count_files(path) + count_files(cur), 1);
    assert_int_equal(mc_request_channel_pending(w.rc), 1);
    assert_int_equal(mc_request_channel_close(w.rc), 0);
    pthread_join(th, NULL);
    assert_int_equal(w.rc_result, MC_ECLOSED);
    mc_request_channel_free(w.rc);
    mc_transport_free(t);
    /* still correlated for the next run */
    t = client(x, true);
    w.rc = open_rc(t);
    assert_int_equal(mc_request_channel_pending(w.rc), 1);
    mc_request_channel_free(w.rc);
    mc_transport_free(t);
    sem_destroy(&w.started);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fault, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_and_unknown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_earlier, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_but_not_taken_survives, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_failure_leaves_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_reply_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_helper_addresses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_misuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_wakes_waiter, setup, teardown),
    };
    mc_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
