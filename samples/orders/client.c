#define _POSIX_C_SOURCE 200809L
/* orderclient - the client of the orders sample: places orders with the
 * shop at net.mail://orders#SHOP_ADDRESS without waiting for the answers,
 * and in a later run collects the answer to every order it placed before.
 * It may be offline while it places them: over Maildir the shop need not
 * be running, and with `queued = true` the orders wait in the local outbox
 * until the mail server can be reached. The requests it has placed and the
 * replies not yet shown are kept in the transport's state store
 * (state_path), so every answer is shown once, in whichever run it comes.
 *
 * usage: orderclient STORE|--config FILE ADDRESS SHOP_ADDRESS place [--wait MS] ITEM QTY [ITEM QTY]...
 *        orderclient STORE|--config FILE ADDRESS SHOP_ADDRESS collect [--wait MS]
 * place sends one order per ITEM QTY pair and exits without waiting for the
 * answers (one that comes while it runs is shown at once). With a queued
 * outbox it first waits, up to MS milliseconds (default 10000), until the
 * outbox has handed the orders to the server, or a try failed (the server
 * cannot be reached: they go out with a later run). collect shows
 * the answers to earlier orders as they come, until none is waiting or MS
 * milliseconds (default 30000) have passed, and says how many orders still
 * wait for one.
 * STORE is a Maildir root directory shared with the shop; the client's
 * state store is then STORE/ADDRESS.orderclient.db. --config FILE names
 * any binding ("binding = KIND"), and must set state_path.
 * Exit status 0; 1 when it could not start or an order could not be
 * placed; 2 for bad usage. */
#include "orders.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROG "orderclient"
#define DEFAULT_WAIT_MS 30000       /* collect */
#define DEFAULT_PLACE_WAIT_MS 10000 /* place, for a queued outbox */
#define WAIT_SLICE_MS 500           /* how often collect looks whether orders still wait */
#define OUTBOX_LOOK_MS 200          /* how often place looks at the outbox */
#define OUTBOX_KNOWN 256            /* mails queued before place that it tells apart */

typedef struct {
    pthread_mutex_t lock; /* replies come on the request channel's thread */
    unsigned long replies, confirmed, refused;
} tally;

typedef struct {
    char state_path[4096];
    bool queued;
} client_store;

/* what a look at the outbox found: mail queued, and mail that failed since
 * this run began (the mails queued before it, with their attempts, tell) */
typedef struct {
    struct {
        int64_t id;
        unsigned attempts;
    } before[OUTBOX_KNOWN];
    size_t nbefore;
    bool first; /* the look before the orders: fills before[] */
    size_t queued, failed;
    char error[256];
} outbox_look;

static int usage(void)
{
    fprintf(stderr, "usage: " PROG
                    " STORE|--config FILE ADDRESS SHOP_ADDRESS place [--wait MS] ITEM QTY [ITEM QTY]...\n"
                    "       " PROG " STORE|--config FILE ADDRESS SHOP_ADDRESS collect [--wait MS]\n");
    return 2;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool valid_item(const char *s)
{
    size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_");
    return n > 0 && n <= ORD_ITEM_MAX && !s[n];
}

static bool valid_quantity(const char *s)
{
    size_t n = strspn(s, "0123456789");
    return n > 0 && n <= 9 && !s[n];
}

/* "urn:uuid:1b4e28ba-2fa1-..." is shown as "1b4e28ba" */
static void short_id(const char *id, char *out, size_t len)
{
    const char *prefix = "urn:uuid:";
    if (!strncmp(id, prefix, strlen(prefix)) && strlen(id) >= strlen(prefix) + 8)
        snprintf(out, len, "%.8s", id + strlen(prefix));
    else
        snprintf(out, len, "%s", *id ? id : "(none)");
}

/* one answer, as a line; counted in t */
static void show_reply(tally *t, const mc_message *r, const char *request_id)
{
    const char *corr = mc_message_property(r, MC_PROP_CORRELATION), *code = NULL, *reason = NULL, *body;
    char id[64], number[32], item[ORD_ITEM_MAX + 1], qty[16], total[32], currency[8];
    size_t len;
    short_id(request_id ? request_id : "", id, sizeof(id));
    body = mc_message_body(r, &len);
    pthread_mutex_lock(&t->lock);
    t->replies++;
    if (corr && !strcmp(corr, MC_CORRELATION_UNKNOWN)) {
        printf("an answer to an order this client does not know (%s) from %s\n", id,
               mc_message_property(r, MC_PROP_FROM_EMAIL) ? mc_message_property(r, MC_PROP_FROM_EMAIL) : "?");
    } else if (mc_message_is_fault(r) && !mc_message_fault(&code, &reason, r)) {
        printf("order %s refused (%s): %s\n", id, code ? code : "?", reason ? reason : "");
        t->refused++;
    } else if (!strcmp(mc_message_action(r), ORD_ACTION_CONFIRMATION) &&
               dev_field(body, len, "OrderNumber", number, sizeof(number)) &&
               dev_field(body, len, "Item", item, sizeof(item)) &&
               dev_field(body, len, "Quantity", qty, sizeof(qty)) &&
               dev_field(body, len, "Total", total, sizeof(total)) &&
               dev_field(body, len, "Currency", currency, sizeof(currency))) {
        printf("order %s confirmed: shop order %s, %s %s, %s %s\n", id, number, qty, item, total, currency);
        t->confirmed++;
    } else {
        printf("order %s: an answer that is no confirmation (%s)\n", id, mc_message_action(r));
    }
    pthread_mutex_unlock(&t->lock);
}

/* an answer that comes while place runs; MC_ECLOSED at the end: it comes later */
static void on_reply(int status, mc_message *reply, const char *request_id, const char *error, void *ud)
{
    if (reply)
        show_reply(ud, reply, request_id);
    else if (status != MC_ECLOSED)
        fprintf(stderr, PROG ": order %s: %s\n", request_id, error);
    mc_message_free(reply);
}

static int place_one(mc_request_channel *ch, tally *t, const char *item, const char *qty)
{
    char body[256], id[64], *request_id = NULL;
    mc_message *m = NULL;
    int rc;
    snprintf(body, sizeof(body),
             "<o:Order xmlns:o=\"" ORD_NS "\"><o:Item>%s</o:Item><o:Quantity>%s</o:Quantity></o:Order>", item,
             qty);
    if (!(rc = mc_message_new(&m, ORD_ACTION_ORDER, body, MC_NUL_TERMINATED)))
        rc = mc_request_channel_request_async(&request_id, ch, m, -1, on_reply, t);
    mc_message_free(m);
    if (rc) {
        fprintf(stderr, PROG ": could not place the order of %s %s: %s\n", qty, item, mc_error_last());
        return rc;
    }
    short_id(request_id, id, sizeof(id));
    printf("placed order %s: %s %s\n", id, qty, item);
    mc_free(request_id);
    return 0;
}

static int look_each(const mc_queue_entry *e, void *ud)
{
    outbox_look *o = ud;
    bool tried = e->last_error != NULL;
    o->queued++;
    if (o->first) {
        if (o->nbefore < OUTBOX_KNOWN) {
            o->before[o->nbefore].id = e->id;
            o->before[o->nbefore++].attempts = e->attempts;
        }
        return 0;
    }
    for (size_t i = 0; i < o->nbefore; i++)
        if (o->before[i].id == e->id && e->attempts <= o->before[i].attempts)
            tried = false;
    if (tried) {
        snprintf(o->error, sizeof(o->error), "%s", e->last_error);
        o->failed++;
    }
    return 0;
}

/* one look at the outbox; a busy store is looked at again */
static int look(outbox_look *o, const char *state_path)
{
    int rc;
    for (int i = 0; i < 10; i++) {
        o->queued = o->failed = 0;
        if ((rc = mc_queue_list(state_path, false, look_each, o)) != MC_EBUSY)
            break;
        sleep_ms(OUTBOX_LOOK_MS);
    }
    if (rc)
        fprintf(stderr, PROG ": the outbox %s: %s\n", state_path, mc_error_last());
    return rc;
}

/* until the outbox is empty, a mail in it failed since this run began
 * (the server cannot be reached: the others wait behind it), or wait_ms
 * passed */
static void wait_outbox(outbox_look *o, const char *state_path, long wait_ms)
{
    int64_t deadline = dev_now_ms() + wait_ms;
    o->first = false;
    while (!look(o, state_path) && o->queued && !o->failed && dev_now_ms() < deadline && !dev_stop)
        sleep_ms(OUTBOX_LOOK_MS);
    if (o->queued)
        printf("%zu mail%s wait%s in the outbox (%s): sent by a later run, once the server can be reached\n",
               o->queued, o->queued == 1 ? "" : "s", o->queued == 1 ? "s" : "",
               *o->error ? o->error : "not tried yet");
}

static int place(mc_request_channel *ch, tally *t, const client_store *st, long wait_ms, char **pairs,
                 int npairs)
{
    static outbox_look o; /* large: not on the stack */
    int failed = 0;
    o.first = true;
    if (st->queued && look(&o, st->state_path))
        return 1;
    for (int i = 0; i + 1 < npairs; i += 2)
        failed += place_one(ch, t, pairs[i], pairs[i + 1]) != 0;
    if (st->queued)
        wait_outbox(&o, st->state_path, wait_ms);
    mc_request_channel_close(ch); /* the orders not answered yet stay in the store */
    printf("%d order%s placed, %zu waiting for an answer\n", npairs / 2 - failed,
           npairs / 2 - failed == 1 ? "" : "s", mc_request_channel_pending(ch));
    return failed ? 1 : 0;
}

/* the answers to earlier orders, until none waits or wait_ms passed */
static int collect(mc_request_channel *ch, tally *t, long wait_ms)
{
    int64_t deadline = dev_now_ms() + wait_ms;
    while (!dev_stop) {
        int64_t left = deadline - dev_now_ms();
        size_t pending = mc_request_channel_pending(ch);
        mc_message *m = NULL;
        int rc = mc_request_channel_receive_late(&m, ch,
                                                 !pending || left <= 0  ? 0
                                                 : left < WAIT_SLICE_MS ? (int)left
                                                                        : WAIT_SLICE_MS);
        if (!rc) {
            show_reply(t, m, mc_message_relates_to(m));
            mc_message_free(m);
            continue;
        }
        if (rc != MC_ETIMEOUT) {
            fprintf(stderr, PROG ": collecting answers: %s\n", mc_error_last());
            return 1;
        }
        if (!pending || left <= 0)
            break;
    }
    mc_request_channel_close(ch);
    printf("%lu answer%s (%lu confirmed, %lu refused), %zu order%s waiting for an answer\n", t->replies,
           t->replies == 1 ? "" : "s", t->confirmed, t->refused, mc_request_channel_pending(ch),
           mc_request_channel_pending(ch) == 1 ? "" : "s");
    return 0;
}

/* The transport, with a state store: a directory's is STORE/ADDRESS.orderclient.db */
static int open_transport(mc_transport **out, client_store *st, char **argv, int argc, const char *address)
{
    mc_binding *b = NULL;
    char *v = NULL;
    int used, rc = dev_open_binding(&b, argv, argc, address, &used, PROG);
    if (rc)
        return rc;
    if (mc_binding_is_default(b, "state_path") == 1) {
        if (used == 2) {
            fprintf(stderr,
                    PROG ": %s sets no state_path: the answers to orders of an earlier run could not be "
                         "told apart\n",
                    argv[1]);
            mc_binding_free(b);
            return MC_EINVAL;
        }
        snprintf(st->state_path, sizeof(st->state_path), "%s/%s.orderclient.db", argv[0], address);
        if ((rc = mc_binding_set(b, "state_path", st->state_path)))
            fprintf(stderr, PROG ": state_path %s: %s\n", st->state_path, mc_error_last());
    } else if (!(rc = mc_binding_get(&v, b, "state_path"))) {
        snprintf(st->state_path, sizeof(st->state_path), "%s", v);
        mc_free(v);
        if (!(rc = mc_binding_get(&v, b, "queued")))
            st->queued = !strcmp(v, "true");
        mc_free(v);
    }
    if (!rc && (rc = mc_transport_new(out, b)))
        fprintf(stderr, PROG ": transport: %s\n", mc_error_last());
    else if (rc)
        fprintf(stderr, PROG ": %s: %s\n", argv[1], mc_error_last());
    mc_binding_free(b);
    return rc;
}

/* "--wait MS" at argv[i], if there: *wait_ms set, 2 returned; 0 without; -1 when bad */
static int wait_option(char **argv, int argc, int i, long *wait_ms)
{
    char *end;
    if (i >= argc || strcmp(argv[i], "--wait"))
        return 0;
    if (i + 1 >= argc)
        return -1;
    *wait_ms = strtol(argv[i + 1], &end, 10);
    return end == argv[i + 1] || *end || *wait_ms < 0 || *wait_ms > 86400000 ? -1 : 2;
}

int main(int argc, char **argv)
{
    tally t = {.lock = PTHREAD_MUTEX_INITIALIZER};
    static client_store st; /* large: not on the stack */
    mc_transport *tr = NULL;
    mc_request_channel *ch = NULL;
    const char *address, *shop, *mode;
    char uri[512];
    long wait_ms = DEFAULT_WAIT_MS;
    int used, first, rc = 1;
    if (argc < 5 || (argv[1][0] == '-' && strcmp(argv[1], "--config")))
        return usage();
    used = strcmp(argv[1], "--config") ? 1 : 2;
    first = 4 + used; /* the first argument after the mode */
    if (argc < first)
        return usage();
    address = argv[1 + used], shop = argv[2 + used], mode = argv[3 + used];
    if (!strcmp(mode, "place")) {
        int n = wait_option(argv, argc, first, &wait_ms);
        if (n < 0 || argc == first + n || (argc - first - n) % 2)
            return usage();
        if (!n)
            wait_ms = DEFAULT_PLACE_WAIT_MS;
        first += n;
        for (int i = first; i < argc; i += 2)
            if (!valid_item(argv[i]) || !valid_quantity(argv[i + 1]))
                return fprintf(stderr,
                               PROG ": \"%s %s\" is not ITEM QTY (an item of letters, digits, - and _; a "
                                    "number)\n",
                               argv[i], argv[i + 1]),
                       2;
    } else if (!strcmp(mode, "collect")) {
        int n = wait_option(argv, argc, first, &wait_ms);
        if (n < 0 || argc != first + n)
            return usage();
    } else {
        return usage();
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (mc_init())
        return 1;
    dev_catch_signals();
    snprintf(uri, sizeof(uri), "net.mail://" ORD_CHANNEL "#%s", shop);
    if (open_transport(&tr, &st, argv + 1, argc - 1, address))
        goto done;
    if (mc_request_channel_new(&ch, tr, uri, NULL)) {
        fprintf(stderr, PROG ": %s: %s\n", uri, mc_error_last());
        goto done;
    }
    rc = !strcmp(mode, "place") ? place(ch, &t, &st, wait_ms, argv + first, argc - first)
                                : collect(ch, &t, wait_ms);
done:
    mc_request_channel_free(ch);
    mc_transport_free(tr);
    mc_shutdown();
    pthread_mutex_destroy(&t.lock);
    return rc;
}
