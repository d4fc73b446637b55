/* test_channel.c - channels, listeners and the transport machinery over
 * the Maildir transport: delivery, deletion, caches, bad mail, API misuse. */
#include <dirent.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "helpers.h"
#include "transport_int.h"
#include "tests/bench/hostile_inputs.h"

#define SVC "svc@example.org"
#define CLI "cli@example.org"

typedef struct {
    char *root;
    mc_transport *svc, *cli;
    mc_channel_factory *f;
} fixture;

static int setup_with(void **state, const char *extra)
{
    fixture *fx = calloc(1, sizeof(*fx));
    fx->root = make_tmpdir();
    fx->svc = maildir_transport(fx->root, SVC, "server_query_interval=50", extra, NULL);
    fx->cli = maildir_transport(fx->root, CLI, NULL);
    assert_int_equal(mc_channel_factory_new(&fx->f, fx->cli), 0);
    *state = fx;
    return 0;
}
static int setup(void **state) { return setup_with(state, NULL); }
static int setup_no_existing(void **state) { return setup_with(state, "accept_existing_messages=false"); }
static int setup_small_cache(void **state) { return setup_with(state, "processing_cache_count=2"); }
static int setup_archive(void **state) { return setup_with(state, "after_receive=move"); }
static int setup_dead_letter(void **state) { return setup_with(state, "dead_letter_folder=Dead Letters"); }

static int teardown(void **state)
{
    fixture *fx = *state;
    mc_channel_factory_free(fx->f);
    mc_transport_free(fx->svc);
    mc_transport_free(fx->cli);
    rm_rf(fx->root);
    free(fx->root);
    free(fx);
    return 0;
}

static mc_message *text_message(const char *text)
{
    mc_message *m;
    assert_int_equal(mc_message_new_text(&m, "urn:test", text), 0);
    return m;
}

static void send_text(fixture *fx, const char *to, const char *text)
{
    mc_output_channel *ch;
    mc_message *m = text_message(text);
    assert_int_equal(mc_channel_factory_create_channel(&ch, fx->f, to), 0);
    assert_int_equal(mc_output_channel_send(ch, m), 0);
    mc_output_channel_free(ch);
    mc_message_free(m);
}

static char *body_text(mc_message *m)
{
    char *t = NULL;
    assert_int_equal(mc_message_body_text(&t, m), 0);
    return t;
}

static int mails_in(fixture *fx, const char *addr)
{
    char a[512], b[512];
    return count_files(mbox_path(a, sizeof(a), fx->root, addr, "new")) +
           count_files(mbox_path(b, sizeof(b), fx->root, addr, "cur"));
}

static void open_channel(fixture *fx, const char *uri, mc_channel_listener **l, mc_input_channel **in)
{
    assert_int_equal(mc_channel_listener_new(l, fx->svc, uri), 0);
    assert_int_equal(mc_channel_listener_accept_channel(in, *l, 1000), 0);
}

static void test_send_receive_delete(void **state)
{
    fixture *fx = *state;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m;
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    char *t;
    open_channel(fx, "net.mail://orders#", &l, &in);
    send_text(fx, "net.mail://orders#" SVC, "one");
    assert_int_equal(mc_input_channel_receive(&m, in, 5000), 0);
    t = body_text(m);
    assert_string_equal(t, "one");
    mc_free(t);
    assert_string_equal(mc_message_property(m, MC_PROP_FROM_EMAIL), CLI);
    assert_string_equal(mc_message_to(m), "net.mail://orders#" SVC);
    assert_non_null(mc_message_property(m, MC_PROP_MAIL_MESSAGE_ID));
    assert_non_null(mc_message_property(m, MC_PROP_RECEIVED_TIME));
    assert_non_null(mc_message_property(m, MC_PROP_MAIL_ID));
    mc_message_free(m);
    /* deleted at the next query */
    for (int i = 0; i < 200; i++) {
        assert_int_equal(mc_transport_statistics(&st, fx->svc), 0);
        if (st.deleted == 1)
            break;
        usleep(10000);
    }
    assert_int_equal(st.deleted, 1);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(mails_in(fx, SVC), 0);
    /* a second one, flushed synchronously by close */
    send_text(fx, "net.mail://orders#" SVC, "two");
    assert_int_equal(mc_input_channel_receive(&m, in, 5000), 0);
    mc_message_free(m);
    assert_int_equal(mc_input_channel_close(in), 0);
    assert_int_equal(mails_in(fx, SVC), 0);
    assert_int_equal(mc_transport_statistics(&st, fx->svc), 0);
    assert_int_equal(st.deleted, 2);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
}

static void test_dispatch_by_channel(void **state)
{
    fixture *fx = *state;
    mc_channel_listener *la, *lb;
    mc_input_channel *a, *b;
    mc_message *m;
    char *t;
    open_channel(fx, "net.mail://alpha#" SVC, &la, &a);
    open_channel(fx, "net.mail://beta#", &lb, &b);
    send_text(fx, "net.mail://beta#" SVC, "for beta");
    send_text(fx, "net.mail://gamma#" SVC, "for nobody");
    send_text(fx, "net.mail://alpha#" SVC, "for alpha");
    assert_int_equal(mc_input_channel_receive(&m, a, 5000), 0);
    t = body_text(m);
    assert_string_equal(t, "for alpha");
    mc_free(t);
    mc_message_free(m);
    assert_int_equal(mc_input_channel_receive(&m, b, 5000), 0);
    t = body_text(m);
    assert_string_equal(t, "for beta");
    mc_free(t);
    mc_message_free(m);
    assert_int_equal(mc_input_channel_receive(&m, a, 200), MC_ETIMEOUT);
    assert_int_equal(mc_input_channel_close(a), 0);
    assert_int_equal(mc_input_channel_close(b), 0);
    /* mail for a channel with no listener stays on the server */
    assert_int_equal(mails_in(fx, SVC), 1);
    mc_input_channel_free(a);
    mc_input_channel_free(b);
    mc_channel_listener_free(la);
    mc_channel_listener_free(lb);
}

static void test_accept_existing_false(void **state)
{
    fixture *fx = *state;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m;
    char *t;
    send_text(fx, "net.mail://orders#" SVC, "old");
    usleep(20000);
    open_channel(fx, "net.mail://orders#", &l, &in);
    send_text(fx, "net.mail://orders#" SVC, "new");
    assert_int_equal(mc_input_channel_receive(&m, in, 5000), 0);
    t = body_text(m);
    assert_string_equal(t, "new");
    mc_free(t);
    mc_message_free(m);
    assert_int_equal(mc_input_channel_receive(&m, in, 300), MC_ETIMEOUT);
    assert_int_equal(mc_input_channel_close(in), 0);
    assert_int_equal(mails_in(fx, SVC), 1); /* the old one is left alone */
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
}

static void test_accept_existing_true(void **state)
{
    fixture *fx = *state;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m;
    send_text(fx, "net.mail://orders#" SVC, "queued while offline");
    open_channel(fx, "net.mail://orders#", &l, &in);
    assert_int_equal(mc_input_channel_receive(&m, in, 5000), 0);
    mc_message_free(m);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
}

/* a backlog is delivered in the order it was sent (a directory lists its
 * files in no particular order) */
static void test_backlog_in_sending_order(void **state)
{
    fixture *fx = *state;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m;
    char text[16];
    for (int i = 0; i < 60; i++) {
        snprintf(text, sizeof(text), "%d", i);
        send_text(fx, "net.mail://orders#" SVC, text);
    }
    open_channel(fx, "net.mail://orders#", &l, &in);
    for (int i = 0; i < 60; i++) {
        char *t;
        assert_int_equal(mc_input_channel_receive(&m, in, 5000), 0);
        t = body_text(m);
        snprintf(text, sizeof(text), "%d", i);
        assert_string_equal(t, text);
        mc_free(t);
        mc_message_free(m);
    }
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
}

static void wait_stat(fixture *fx, size_t offset, unsigned long long want)
{
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    for (int i = 0; i < 500; i++) {
        assert_int_equal(mc_transport_statistics(&st, fx->svc), 0);
        if (*(unsigned long long *)((char *)&st + offset) >= want)
            return;
        usleep(10000);
    }
    fail_msg("statistic did not reach %llu", want);
}

#define MAIL(subject, body)                                                        \
    "From: x@example.org\r\nTo: " SVC "\r\nMessage-ID: <m@x>\r\nSubject: " subject \
    "\r\nContent-Type: application/soap+xml\r\n\r\n" body

static void test_bad_mail_handling(void **state)
{
    fixture *fx = *state;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m;
    char path[512];
    deliver_raw(fx->root, SVC, NULL, "From: friend@example.org\r\nSubject: lunch?\r\n\r\nsee you\r\n");
    deliver_raw(fx->root, SVC, NULL, MAIL("[net.mail] bad name", "<x/>"));
    deliver_raw(fx->root, SVC, NULL, MAIL("[net.mail] orders", "<not-soap"));
    deliver_raw(fx->root, SVC, NULL, MAIL("[net.mail] orders;ttl=2001-01-01T00:00:00Z", "<x/>"));
    open_channel(fx, "net.mail://orders#", &l, &in);
    wait_stat(fx, offsetof(mc_transport_stats, malformed), 1);
    wait_stat(fx, offsetof(mc_transport_stats, expired), 1);
    wait_stat(fx, offsetof(mc_transport_stats, invalid), 1);
    assert_int_equal(mc_input_channel_receive(&m, in, 100), MC_ETIMEOUT);
    /* only the unstamped mail is left; the malformed one is in Deleted Items */
    assert_int_equal(mails_in(fx, SVC), 1);
    assert_int_equal(count_files(mbox_path(path, sizeof(path), fx->root, SVC, ".Deleted Items/new")), 1);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
}

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char logged[8192];

static void capture(mc_log_level level, const char *message, void *user_data)
{
    (void)level, (void)user_data;
    pthread_mutex_lock(&log_lock);
    strncat(logged, message, sizeof(logged) - strlen(logged) - 2);
    strcat(logged, "\n");
    pthread_mutex_unlock(&log_lock);
}

/* Mail that would make a parser take quadratic time, at the largest size
 * read whole, is invalid mail: never delivered, deleted after the retry
 * count, the reason logged; a good message beside it still arrives. */
static void test_hostile_mail_is_invalid(void **state)
{
    fixture *fx = *state;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m;
    size_t len, elen;
    char *env = hi_env_attributes(65536, 0, &elen), *mail = hi_mail_with_envelope(env, elen, &len);
    deliver_raw(fx->root, SVC, NULL, mail);
    free(mail);
    free(env);
    mail = hi_mail_nested(163840, 70, 0, 100000, &len);
    deliver_raw(fx->root, SVC, NULL, mail);
    free(mail);
    logged[0] = '\0';
    mc_log_set_callback(capture, MC_LOG_INFO, NULL);
    open_channel(fx, "net.mail://c#", &l, &in);
    send_text(fx, "net.mail://c#" SVC, "still here");
    assert_int_equal(mc_input_channel_receive(&m, in, 5000), 0);
    {
        char *t = body_text(m);
        assert_string_equal(t, "still here");
        mc_free(t);
    }
    mc_message_free(m);
    wait_stat(fx, offsetof(mc_transport_stats, invalid), 2);
    mc_log_set_callback(NULL, MC_LOG_NONE, NULL);
    assert_int_equal(mc_input_channel_receive(&m, in, 100), MC_ETIMEOUT);
    for (int i = 0; i < 200 && mails_in(fx, SVC); i++)
        usleep(10000); /* the good one is deleted at the next query */
    assert_int_equal(mails_in(fx, SVC), 0);
    pthread_mutex_lock(&log_lock);
    assert_non_null(strstr(logged, "an element has more than 64 attributes"));
    assert_non_null(strstr(logged, "more than 16 multipart or message/rfc822 parts"));
    pthread_mutex_unlock(&log_lock);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
}

static char *read_only_file(const char *dir)
{
    char path[1024], *data = NULL;
    struct dirent *de;
    DIR *d = opendir(dir);
    FILE *f = NULL;
    long n;
    assert_non_null(d);
    while ((de = readdir(d)) && de->d_name[0] == '.') {
    }
    assert_non_null(de);
    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
    closedir(d);
    assert_non_null(f = fopen(path, "rb"));
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    data = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return data;
}

/* after_receive = move: received mail is moved into the Maildir++ folder
 * .Archive (not deleted), leaves the watched folder, and is delivered once */
static void test_after_receive_move(void **state)
{
    fixture *fx = *state;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m;
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    char path[512], *t, *archived;
    open_channel(fx, "net.mail://orders#", &l, &in);
    send_text(fx, "net.mail://orders#" SVC, "keep me");
    assert_int_equal(mc_input_channel_receive(&m, in, 5000), 0);
    t = body_text(m);
    assert_string_equal(t, "keep me");
    mc_free(t);
    mc_message_free(m);
    /* moved within delete_delay (1 s) */
    mbox_path(path, sizeof(path), fx->root, SVC, ".Archive/new");
    for (int i = 0; i < 300 && count_files(path) < 1; i++)
        usleep(10000);
    assert_int_equal(count_files(path), 1);
    assert_int_equal(mails_in(fx, SVC), 0);
    archived = read_only_file(path);
    assert_non_null(strstr(archived, "[net.mail] orders"));
    free(archived);
    /* a second one, moved synchronously by close; nothing is delivered twice */
    send_text(fx, "net.mail://orders#" SVC, "and me");
    assert_int_equal(mc_input_channel_receive(&m, in, 5000), 0);
    mc_message_free(m);
    assert_int_equal(mc_input_channel_receive(&m, in, 300), MC_ETIMEOUT);
    assert_int_equal(mc_input_channel_close(in), 0);
    assert_int_equal(mails_in(fx, SVC), 0);
    assert_int_equal(count_files(path), 2);
    assert_int_equal(count_files(mbox_path(path, sizeof(path), fx->root, SVC, ".Deleted Items/new")), 0);
    assert_int_equal(mc_transport_statistics(&st, fx->svc), 0);
    assert_int_equal(st.delivered, 2);
    assert_int_equal(st.deleted, 0);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
}

/* dead_letter_folder: corrupt SOAP and mail over the size limit are moved
 * there after receive_retry_count attempts (not deleted), the log naming
 * the mail and the folder; malformed mail still goes to Deleted Items,
 * expired mail is still deleted */
static void test_dead_letter_folder(void **state)
{
    fixture *fx = *state;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m;
    char path[512], *big, *dead;
    size_t n = 200000;
    big = malloc(n + 512);
    snprintf(big, 512, MAIL("[net.mail] orders", "<e>"));
    memset(big + strlen(big), 'x', n);
    big[n] = '\0';
    deliver_raw(fx->root, SVC, NULL, MAIL("[net.mail] orders", "<not-soap"));
    deliver_raw(fx->root, SVC, NULL, big);
    deliver_raw(fx->root, SVC, NULL, MAIL("[net.mail] bad name", "<x/>"));
    deliver_raw(fx->root, SVC, NULL, MAIL("[net.mail] orders;ttl=2001-01-01T00:00:00Z", "<x/>"));
    free(big);
    logged[0] = '\0';
    mc_log_set_callback(capture, MC_LOG_INFO, NULL);
    open_channel(fx, "net.mail://orders#", &l, &in);
    wait_stat(fx, offsetof(mc_transport_stats, invalid), 2);
    wait_stat(fx, offsetof(mc_transport_stats, malformed), 1);
    wait_stat(fx, offsetof(mc_transport_stats, expired), 1);
    mc_log_set_callback(NULL, MC_LOG_NONE, NULL);
    assert_int_equal(mc_input_channel_receive(&m, in, 100), MC_ETIMEOUT);
    assert_int_equal(mails_in(fx, SVC), 0);
    mbox_path(path, sizeof(path), fx->root, SVC, ".Dead Letters/new");
    assert_int_equal(count_files(path), 2);
    assert_int_equal(count_files(mbox_path(path, sizeof(path), fx->root, SVC, ".Deleted Items/new")), 1);
    pthread_mutex_lock(&log_lock);
    dead = strstr(logged, "moved invalid mail ");
    assert_non_null(dead);
    assert_non_null(strstr(dead, " to Dead Letters after 3 attempts: "));
    assert_null(strstr(logged, "deleted invalid mail"));
    pthread_mutex_unlock(&log_lock);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
}

static void test_service_folder(void **state)
{
    fixture *fx = *state;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m;
    char path[512];
    /* a Sieve rule (or an admin) made "Service E-mail": stamped mail goes there */
    deliver_raw(fx->root, SVC, "Service E-mail", "From: a@b.c\r\nSubject: x\r\n\r\nx\r\n");
    send_text(fx, "net.mail://orders#" SVC, "via folder");
    assert_int_equal(count_files(mbox_path(path, sizeof(path), fx->root, SVC, ".Service E-mail/new")), 2);
    open_channel(fx, "net.mail://orders#", &l, &in);
    assert_int_equal(mc_input_channel_receive(&m, in, 5000), 0);
    mc_message_free(m);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
}

static void test_receive_variants_and_close(void **state)
{
    fixture *fx = *state;
    mc_channel_listener *l;
    mc_input_channel *in, *second;
    mc_message *m = (mc_message *)0x1;
    open_channel(fx, "net.mail://orders#", &l, &in);
    assert_int_equal(mc_input_channel_try_receive(&m, in, 50), 0);
    assert_null(m);
    assert_int_equal(mc_input_channel_wait_for_message(in, 50), MC_ETIMEOUT);
    send_text(fx, "net.mail://orders#" SVC, "x");
    assert_int_equal(mc_input_channel_wait_for_message(in, 5000), 0);
    assert_int_equal(mc_input_channel_wait_for_message(in, 0), 0); /* not taken */
    assert_int_equal(mc_input_channel_try_receive(&m, in, 0), 0);
    assert_non_null(m);
    mc_message_free(m);
    /* one input channel per listener at a time */
    assert_int_equal(mc_channel_listener_accept_channel(&second, l, 100), MC_ETIMEOUT);
    assert_int_equal(mc_input_channel_close(in), 0);
    assert_int_equal(mc_input_channel_close(in), MC_ECLOSED);
    assert_int_equal(mc_input_channel_receive(&m, in, 0), MC_ECLOSED);
    mc_input_channel_abort(in);
    assert_int_equal(mc_channel_listener_accept_channel(&second, l, 100), 0);
    mc_input_channel_free(in);
    mc_input_channel_abort(second);
    mc_input_channel_abort(second);
    mc_input_channel_free(second);
    assert_int_equal(mc_channel_listener_close(l), 0);
    assert_int_equal(mc_channel_listener_close(l), MC_ECLOSED);
    assert_int_equal(mc_channel_listener_accept_channel(&second, l, 100), MC_ECLOSED);
    mc_channel_listener_free(l);
}

typedef struct {
    mc_input_channel *in;
    int rc;
} waiter;

static void *wait_receive(void *arg)
{
    waiter *w = arg;
    mc_message *m = NULL;
    w->rc = mc_input_channel_receive(&m, w->in, -1);
    mc_message_free(m);
    return NULL;
}

static void test_close_wakes_receivers(void **state)
{
    fixture *fx = *state;
    mc_channel_listener *l;
    waiter w = {0};
    pthread_t th;
    open_channel(fx, "net.mail://orders#", &l, &w.in);
    pthread_create(&th, NULL, wait_receive, &w);
    usleep(50000);
    assert_int_equal(mc_input_channel_close(w.in), 0);
    pthread_join(th, NULL);
    assert_int_equal(w.rc, MC_ECLOSED);
    mc_input_channel_free(w.in);
    mc_channel_listener_free(l);
}

static void test_listener_misuse(void **state)
{
    fixture *fx = *state;
    mc_channel_listener *l, *l2 = NULL;
    assert_int_equal(mc_channel_listener_new(&l2, fx->svc, "net.mail://x#other@example.org"), MC_EINVAL);
    assert_int_equal(mc_channel_listener_new(&l2, fx->svc, "net.mail://bad name#"), MC_EINVAL);
    assert_int_equal(mc_channel_listener_new(&l, fx->svc, "net.mail://x#"), 0);
    assert_int_equal(mc_channel_listener_new(&l2, fx->svc, "net.mail://x#"), MC_EBUSY);
    assert_null(l2);
    assert_int_equal(mc_channel_listener_new(NULL, fx->svc, "net.mail://x#"), MC_EINVAL);
    mc_channel_listener_free(l);
    mc_channel_listener_free(NULL);
    assert_int_equal(mc_input_channel_receive(NULL, NULL, 0), MC_EINVAL);
    assert_int_equal(mc_input_channel_close(NULL), MC_EINVAL);
    mc_input_channel_free(NULL);
}

static void test_send_errors(void **state)
{
    fixture *fx = *state;
    mc_output_channel *ch = NULL;
    mc_message *m;
    completion c = {0};
    char *big = malloc(70000);
    sem_init(&c.done, 0, 0);
    assert_int_equal(mc_channel_factory_create_channel(&ch, fx->f, "net.mail://orders#"), MC_EINVAL);
    assert_int_equal(mc_channel_factory_create_channel(&ch, fx->f, "mailto:x@y"), MC_EINVAL);
    assert_null(ch);
    assert_int_equal(mc_channel_factory_create_channel(&ch, fx->f, "net.mail://orders#" SVC), 0);
    memset(big, 'x', 69999);
    big[69999] = '\0';
    assert_int_equal(mc_message_new_text(&m, "urn:big", big), 0);
    assert_int_equal(mc_output_channel_send(ch, m), MC_ETOOBIG);
    assert_non_null(strstr(mc_error_last(), "max_received_message_size"));
    assert_int_equal(mc_output_channel_send_async(ch, m, on_sent, &c), 0);
    sem_wait(&c.done);
    assert_int_equal(c.status, MC_ETOOBIG);
    assert_non_null(strstr(c.message, "max_received_message_size"));
    assert_int_equal(mc_output_channel_send(ch, NULL), MC_EINVAL);
    assert_int_equal(mc_output_channel_send_async(ch, m, NULL, NULL), MC_EINVAL);
    mc_output_channel_free(ch);
    mc_message_free(m);
    free(big);
    mc_output_channel_free(NULL);
}

static void test_processing_cache_bounded(void **state)
{
    fixture *fx = *state;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    mc_message *m;
    for (int i = 0; i < 6; i++)
        send_text(fx, "net.mail://orders#" SVC, "q");
    open_channel(fx, "net.mail://orders#", &l, &in);
    wait_stat(fx, offsetof(mc_transport_stats, queries), 3);
    assert_int_equal(mc_transport_statistics(&st, fx->svc), 0);
    assert_true(st.cached <= 2);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(mc_input_channel_receive(&m, in, 5000), 0);
        mc_message_free(m);
        assert_int_equal(mc_transport_statistics(&st, fx->svc), 0);
        assert_true(st.cached <= 2);
    }
    assert_int_equal(mc_input_channel_close(in), 0);
    assert_int_equal(mails_in(fx, SVC), 0);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
}

/* versioned stats: the _init function, every known version accepted, the
 * caller's version kept, unknown versions refused with the output untouched */
static void test_stats_versions(void **state)
{
    fixture *fx = *state;
    mc_transport_stats st, bad;
    assert_int_equal(mc_transport_stats_init(&st, MC_TRANSPORT_STATS_VERSION), 0);
    assert_int_equal(st.version, MC_TRANSPORT_STATS_VERSION);
    assert_int_equal(st.queries, 0);
    assert_string_equal(st.last_error_text, "");
    send_text(fx, "net.mail://orders#" SVC, "q");
    assert_int_equal(mc_transport_statistics(&st, fx->svc), 0);
    assert_int_equal(st.version, MC_TRANSPORT_STATS_VERSION);
    assert_int_equal(mc_transport_stats_init(&bad, 0), MC_EINVAL);
    assert_int_equal(mc_transport_stats_init(&bad, MC_TRANSPORT_STATS_VERSION + 1), MC_EINVAL);
    memset(&bad, 0x5a, sizeof(bad));
    bad.version = MC_TRANSPORT_STATS_VERSION + 1;
    assert_int_equal(mc_transport_statistics(&bad, fx->svc), MC_EINVAL);
    assert_int_equal(bad.queries, 0x5a5a5a5a5a5a5a5aULL);
}

static void test_soap11_binding(void **state)
{
    fixture *fx = *state;
    mc_transport *t11 = maildir_transport(fx->root, "old@example.org", "soap_version=1.1", NULL);
    mc_channel_factory *f;
    mc_output_channel *ch;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m = text_message("v11"), *r;
    assert_int_equal(mc_channel_factory_new(&f, t11), 0);
    assert_int_equal(mc_channel_factory_create_channel(&ch, f, "net.mail://orders#" SVC), 0);
    assert_int_equal(mc_output_channel_send(ch, m), 0);
    open_channel(fx, "net.mail://orders#", &l, &in);
    assert_int_equal(mc_input_channel_receive(&r, in, 5000), 0);
    assert_int_equal(mc_message_soap_version(r), MC_SOAP11);
    mc_message_free(r);
    mc_message_free(m);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_output_channel_free(ch);
    mc_channel_factory_free(f);
    mc_transport_free(t11);
}

/* the log sink runs with no library lock held: it may replace itself (this
 * deadlocked when the sink ran under the log mutex); what the library would
 * log from inside the sink is dropped */
static int sink_calls, sink2_calls;

static void sink2(mc_log_level level, const char *msg, void *ud)
{
    (void)level;
    (void)msg;
    (void)ud;
    sink2_calls++;
}

static void sink_that_reinstalls(mc_log_level level, const char *msg, void *ud)
{
    (void)level;
    (void)msg;
    (void)ud;
    sink_calls++;
    mc__log(MC_LOG_ERROR, "from inside the sink: dropped");
    mc_log_set_callback(sink2, MC_LOG_DEBUG, NULL);
}

static void test_log_sink_may_reinstall(void **state)
{
    (void)state;
    sink_calls = sink2_calls = 0;
    mc_log_set_callback(sink_that_reinstalls, MC_LOG_DEBUG, NULL);
    mc__log(MC_LOG_WARN, "first");
    mc__log(MC_LOG_WARN, "second");
    mc_log_set_callback(NULL, MC_LOG_NONE, NULL);
    assert_int_equal(sink_calls, 1);
    assert_int_equal(sink2_calls, 1);
}

/* With state_path, two mails carrying one wsa:MessageID that are read in the
 * same server query (neither handed over yet, so the look-up at read time
 * passes both) are delivered once: the second is deleted when its turn comes. */
static void test_dedup_copies_read_together(void **state)
{
    fixture *fx = *state;
    char setting[600];
    mc_transport *svc;
    mc_output_channel *ch;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m = text_message("twice"), *got = NULL;
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    assert_int_equal(mc_message_set_message_id(m, "urn:test:one-id"), 0);
    assert_int_equal(mc_channel_factory_create_channel(&ch, fx->f, "net.mail://dedup#" SVC), 0);
    assert_int_equal(mc_output_channel_send(ch, m), 0);
    assert_int_equal(mc_output_channel_send(ch, m), 0);
    mc_output_channel_free(ch);
    mc_message_free(m);
    snprintf(setting, sizeof(setting), "state_path=%s/state.db", fx->root);
    svc = maildir_transport(fx->root, SVC, "server_query_interval=50", setting, NULL);
    open_in(svc, "net.mail://dedup#", &l, &in);
    assert_int_equal(mc_input_channel_receive(&got, in, 5000), 0);
    assert_string_equal(mc_message_message_id(got), "urn:test:one-id");
    mc_message_free(got);
    got = NULL;
    assert_int_equal(mc_input_channel_receive(&got, in, 500), MC_ETIMEOUT);
    assert_int_equal(mc_transport_statistics(&st, svc), 0);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(mc_input_channel_close(in), 0);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_transport_free(svc);
}

/* exactly-once holds with after_receive = move: the copy dropped as a
 * duplicate is archived with the delivered one, neither stays nor comes
 * twice */
static void test_dedup_with_archive(void **state)
{
    fixture *fx = *state;
    char setting[600], path[512];
    mc_transport *svc;
    mc_output_channel *ch;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_message *m = text_message("twice"), *got = NULL;
    mc_transport_stats st = MC_TRANSPORT_STATS_INIT;
    assert_int_equal(mc_message_set_message_id(m, "urn:test:archived-id"), 0);
    assert_int_equal(mc_channel_factory_create_channel(&ch, fx->f, "net.mail://dedup#" SVC), 0);
    assert_int_equal(mc_output_channel_send(ch, m), 0);
    assert_int_equal(mc_output_channel_send(ch, m), 0);
    mc_output_channel_free(ch);
    mc_message_free(m);
    snprintf(setting, sizeof(setting), "state_path=%s/state.db", fx->root);
    svc = maildir_transport(fx->root, SVC, "server_query_interval=50", "after_receive=move",
                            "archive_folder=Done/2026", setting, NULL);
    open_in(svc, "net.mail://dedup#", &l, &in);
    assert_int_equal(mc_input_channel_receive(&got, in, 5000), 0);
    mc_message_free(got);
    got = NULL;
    assert_int_equal(mc_input_channel_receive(&got, in, 500), MC_ETIMEOUT);
    assert_int_equal(mc_input_channel_close(in), 0);
    assert_int_equal(mc_transport_statistics(&st, svc), 0);
    assert_int_equal(st.delivered, 1);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(mails_in(fx, SVC), 0);
    /* "/" separates levels: Maildir++ ".Done.2026" */
    assert_int_equal(count_files(mbox_path(path, sizeof(path), fx->root, SVC, ".Done.2026/new")), 2);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_transport_free(svc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_sink_may_reinstall),
        cmocka_unit_test_setup_teardown(test_send_receive_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dispatch_by_channel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accept_existing_false, setup_no_existing, teardown),
        cmocka_unit_test_setup_teardown(test_accept_existing_true, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backlog_in_sending_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_mail_handling, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_mail_is_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_service_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receive_variants_and_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_wakes_receivers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_misuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_processing_cache_bounded, setup_small_cache, teardown),
        cmocka_unit_test_setup_teardown(test_soap11_binding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedup_copies_read_together, setup, teardown),
        cmocka_unit_test_setup_teardown(test_after_receive_move, setup_archive, teardown),
        cmocka_unit_test_setup_teardown(test_dead_letter_folder, setup_dead_letter, teardown),
        cmocka_unit_test_setup_teardown(test_dedup_with_archive, setup, teardown),
    };
    mc_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
