#define _POSIX_C_SOURCE 200809L
/* orderservice - the order service of the orders sample: takes orders at
 * net.mail://orders#ADDRESS and answers each, to the address in its
 * wsa:ReplyTo, with an OrderConfirmation (an order number and the total
 * from its price list) or a Sender fault (an unknown item, a quantity
 * that is not from 1 to 1000, a message that is no order). Orders that
 * arrived while it was not running are answered when it starts.
 *
 * usage: orderservice STORE|--config FILE ADDRESS
 * STORE is a Maildir root directory shared with the clients (the embedded
 * default); --config FILE names any binding ("binding = KIND").
 * Exit status 0 when stopped by SIGINT/SIGTERM, 1 when it could not start
 * or receiving failed, 2 for bad usage. */
#include "orders.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "orderservice"
#define FIRST_ORDER 1001

typedef struct {
    const char *item;
    unsigned cents;
} price;

static const price prices[] = {{"widget", 250}, {"gadget", 1200}, {"sprocket", 75}};
#define PRICE_LIST "widget, gadget, sprocket"

typedef struct {
    mc_channel_factory *factory;
    unsigned long next_number, orders, confirmed, refused, failed;
} shop;

static int usage(void)
{
    fprintf(stderr, "usage: " PROG " STORE|--config FILE ADDRESS\n");
    return 2;
}

static const price *find_price(const char *item)
{
    for (size_t i = 0; i < sizeof(prices) / sizeof(prices[0]); i++)
        if (!strcmp(prices[i].item, item))
            return &prices[i];
    return NULL;
}

/* the order in m as item and quantity; NULL, or why it cannot be taken */
static const char *check_order(const mc_message *m, char *item, size_t itemlen, unsigned long *qty, char *why,
                               size_t whylen)
{
    size_t len;
    const char *body = mc_message_body(m, &len);
    char text[32];
    if (strcmp(mc_message_action(m), ORD_ACTION_ORDER) || !dev_field(body, len, "Item", item, itemlen) ||
        !dev_field(body, len, "Quantity", text, sizeof(text))) {
        snprintf(why, whylen,
                 "not an order: an " ORD_ACTION_ORDER " with an Item (at most %d characters) and a "
                 "Quantity",
                 ORD_ITEM_MAX);
        return why;
    }
    if (!find_price(item)) {
        snprintf(why, whylen, "unknown item \"%s\" (the shop sells " PRICE_LIST ")", item);
        return why;
    }
    if (!dev_field_uint(body, len, "Quantity", qty) || *qty < 1 || *qty > ORD_QUANTITY_MAX) {
        snprintf(why, whylen, "quantity \"%s\" is not a number from 1 to %d", text, ORD_QUANTITY_MAX);
        return why;
    }
    return NULL;
}

static int confirm(shop *s, const mc_message *m, const char *from, const char *item, unsigned long qty)
{
    unsigned long total = find_price(item)->cents * qty, number = s->next_number;
    char body[512];
    mc_message *reply = NULL;
    int rc;
    snprintf(body, sizeof(body),
             "<o:OrderConfirmation xmlns:o=\"" ORD_NS
             "\"><o:OrderNumber>%lu</o:OrderNumber><o:Item>%s</o:Item>"
             "<o:Quantity>%lu</o:Quantity><o:Total>%lu.%02lu</o:Total><o:Currency>EUR</o:Currency>"
             "</o:OrderConfirmation>",
             number, item, qty, total / 100, total % 100);
    if (!(rc = mc_message_create_reply(&reply, m, ORD_ACTION_CONFIRMATION, body, MC_NUL_TERMINATED)))
        rc = mc_channel_factory_send_reply(s->factory, m, reply);
    mc_message_free(reply);
    if (rc)
        return rc;
    s->next_number++;
    s->confirmed++;
    printf("order %lu from %s: %lu %s at %u.%02u = %lu.%02lu EUR\n", number, from, qty, item,
           find_price(item)->cents / 100, find_price(item)->cents % 100, total / 100, total % 100);
    return 0;
}

static int refuse(shop *s, const mc_message *m, const char *from, const char *why)
{
    int rc = mc_channel_factory_send_fault(s->factory, m, "Sender", why);
    if (rc)
        return rc;
    s->refused++;
    printf("refused an order from %s: %s\n", from, why);
    return 0;
}

/* one order in, one answer out; an answer that cannot be sent is reported
 * (the order is not received again) */
static void on_order(shop *s, const mc_message *m)
{
    const char *from = mc_message_property(m, MC_PROP_FROM_EMAIL), *why;
    char item[ORD_ITEM_MAX + 1], reason[256];
    unsigned long qty = 0;
    int rc;
    if (!from)
        from = "(unknown sender)";
    s->orders++;
    why = check_order(m, item, sizeof(item), &qty, reason, sizeof(reason));
    rc = why ? refuse(s, m, from, why) : confirm(s, m, from, item, qty);
    if (rc) {
        fprintf(stderr, PROG ": could not answer an order from %s: %s\n", from, mc_error_last());
        s->failed++;
    }
}

int main(int argc, char **argv)
{
    shop s = {.next_number = FIRST_ORDER};
    dev_endpoint e = {0};
    const char *address;
    int used, rc = 1;
    if (argc < 3 || (argv[1][0] == '-' && strcmp(argv[1], "--config")))
        return usage();
    used = strcmp(argv[1], "--config") ? 1 : 2;
    if (argc != 2 + used)
        return usage();
    address = argv[1 + used];
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (mc_init())
        return 1;
    dev_catch_signals();
    if (dev_endpoint_open(&e, argv + 1, argc - 1, address, ORD_CHANNEL, PROG))
        goto done;
    s.factory = e.factory;
    printf("shop taking orders at net.mail://" ORD_CHANNEL "#%s\n", mc_transport_address(e.t));
    rc = 0;
    while (!dev_stop) {
        mc_message *m = NULL;
        if (mc_input_channel_try_receive(&m, e.in, 200)) { /* 200: see dev_stop */
            fprintf(stderr, PROG ": receiving orders: %s\n", mc_error_last());
            rc = 1;
            break;
        }
        if (m)
            on_order(&s, m);
        mc_message_free(m);
    }
    mc_input_channel_close(e.in); /* deletes the orders received */
    printf("shop %s stopping: %lu order%s, %lu confirmed, %lu refused, %lu not answered\n",
           mc_transport_address(e.t), s.orders, s.orders == 1 ? "" : "s", s.confirmed, s.refused, s.failed);
done:
    dev_endpoint_close(&e);
    mc_shutdown();
    return rc;
}
