/* orders.h - what the order service and its client share: the addresses,
 * the actions and the price list. Not part of the library. The command
 * line, the transport and the XML fields come from the devices sample's
 * helpers (../devices/devices.h). */
#ifndef MAILCHAN_SAMPLE_ORDERS_H
#define MAILCHAN_SAMPLE_ORDERS_H
#include "../devices/devices.h"

#define ORD_NS "urn:mailchan:sample:orders"
#define ORD_ACTION_ORDER ORD_NS ":Order"
#define ORD_ACTION_CONFIRMATION ORD_NS ":OrderConfirmation"
#define ORD_CHANNEL "orders" /* the shop's channel; replies come back on "orders-reply" */
#define ORD_QUANTITY_MAX 1000
#define ORD_ITEM_MAX 40 /* letters, digits, '-' and '_' */

#endif
