/* maildir.h - the Maildir transport's constructor (used by binding/). */
#ifndef MC_MAILDIR_H
#define MC_MAILDIR_H

#include "transport_int.h"

typedef struct {
    const char *root;           /* directory holding one Maildir per mailbox address */
    const char *address;        /* this transport's own mailbox */
    const char *service_folder; /* "Service E-mail" */
    const char *deleted_folder; /* "Deleted Items" */
    bool sync_directories;      /* fsync new/ after each delivery */
} mc__maildir_config;

/* The sending half (delivery into recipients' Maildirs) and the receiving
 * half (this address's mailbox); each belongs to the caller. */
int mc__maildir_new(mc__sender **sender, mc__receiver **receiver, const mc__maildir_config *cfg);

#endif
