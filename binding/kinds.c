/* kinds.c - the registry of binding kinds (kinds.h), like curl's table of
 * protocols: one row per kind. */
#include <pthread.h>
#include <string.h>
#include "binding/kinds.h"

static const mc__binding_kind kinds[] = {
    {.name = "maildir", .token_callback = false, .timeout = MC__S_NONE, .build = mc__kind_maildir_build},
#ifdef MC_WITH_MAIL
    {.name = "mail", .token_callback = true, .timeout = MC__S_TIMEOUT, .build = mc__kind_mail_build},
    {.name = "exchange", .token_callback = true, .timeout = MC__S_TIMEOUT, .build = mc__kind_exchange_build},
#endif
};

#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

const mc__binding_kind *mc__binding_kind_find(const char *name)
{
    for (size_t i = 0; name && i < NKINDS; i++)
        if (!strcmp(kinds[i].name, name))
            return &kinds[i];
    return NULL;
}

static char names[256];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void list_names(void)
{
    for (size_t i = 0; i < NKINDS; i++) {
        if (i)
            strncat(names, ", ", sizeof(names) - strlen(names) - 1);
        strncat(names, kinds[i].name, sizeof(names) - strlen(names) - 1);
    }
}

const char *mc__binding_kind_names(void)
{
    pthread_once(&names_once, list_names);
    return names;
}
