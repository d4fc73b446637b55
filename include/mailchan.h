/** @file
 * mailchan.h - umbrella header: SOAP / WS-Addressing message channels
 * carried by e-mail. See README.md for an overview.
 *
 * @mainpage mailchan API reference
 *
 * `#include <mailchan.h>` gives the whole API. Start with the conventions in
 * common.h (errors, ownership, versioned structs), then binding.h (settings),
 * transport.h (one mailbox), channel.h (sending and receiving) and
 * request.h (request/reply). The guide (docs/guide/ in the source) explains
 * the concepts, the bindings and their server set-up.
 */
#ifndef MAILCHAN_H
#define MAILCHAN_H

#include "mailchan/common.h"
#include "mailchan/address.h"
#include "mailchan/message.h"
#include "mailchan/mail.h"
#include "mailchan/binding.h"
#include "mailchan/queue.h"
#include "mailchan/transport.h"
#include "mailchan/channel.h"
#include "mailchan/request.h"

#endif
