/* kinds.h - the one registry of binding kinds (kinds.c): a row per kind,
 * read by mc_binding_new, mc_binding_set_token_callback and
 * mc_transport_new. Adding a kind is its transport's folder, one row here,
 * its construction (binding/kind_<name>.c) and its settings rows
 * (options.c). */
#ifndef MC_BINDING_KINDS_H
#define MC_BINDING_KINDS_H

#include <stdbool.h>
#include "mailchan.h"
#include "transport_int.h"
#include "binding/options.h"

typedef struct {
    const char *name;       /* as in mc_binding_new and the settings rows */
    bool token_callback;    /* accepts mc_binding_set_token_callback */
    mc__setting_id timeout; /* the setting bounding its network operations, or MC__S_NONE */
    /* Builds the kind's two halves from the binding's typed settings; on
     * failure nothing is left to free. */
    int (*build)(const mc__values *v, const char *address, mc__sender **sender, mc__receiver **receiver);
} mc__binding_kind;

const mc__binding_kind *mc__binding_kind_find(const char *name);
/* "maildir, mail": the known kinds, for error texts */
const char *mc__binding_kind_names(void);

/* the kinds' constructions (binding/kind_<name>.c) */
int mc__kind_maildir_build(const mc__values *v, const char *address, mc__sender **s, mc__receiver **r);
int mc__kind_mail_build(const mc__values *v, const char *address, mc__sender **s, mc__receiver **r);
int mc__kind_exchange_build(const mc__values *v, const char *address, mc__sender **s, mc__receiver **r);

#endif
