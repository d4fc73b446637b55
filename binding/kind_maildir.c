/* kind_maildir.c - the maildir binding kind: the Maildir store
 * (channel/maildir/) from the binding's typed settings. */
#include "binding/kinds.h"
#include "channel/maildir/maildir.h"

int mc__kind_maildir_build(const mc__values *v, const char *address, mc__sender **s, mc__receiver **r)
{
    mc__maildir_config c = {
        .root = v->maildir_root,
        .address = address,
        .service_folder = v->service_folder,
        .deleted_folder = v->deleted_folder,
        .sync_directories = v->maildir_sync_directories,
    };
    return mc__maildir_new(s, r, &c);
}
