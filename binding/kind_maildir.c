/* kind_maildir.c - the maildir binding kind: the Maildir store
 * (channel/maildir/) from the binding's settings. */
#include "binding/kinds.h"
#include "binding/options.h"
#include "channel/maildir/maildir.h"

int mc__kind_maildir_build(const mc_binding *b, const char *address, mc__sender **s, mc__receiver **r)
{
    mc__maildir_config c = {mc__binding_value(b, "maildir_root"), address, mc__binding_value(b, "service_folder"),
                            mc__binding_value(b, "deleted_folder"),
                            mc__setting_bool(mc__binding_value(b, "maildir_sync_directories"))};
    return mc__maildir_new(s, r, &c);
}
