/*
 * mailchan.h - umbrella header: SOAP / WS-Addressing message channels
 * carried by e-mail. See README.md for an overview.
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
