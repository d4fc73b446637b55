/* credential.c - the secret a connection presents, shared by SMTP and IMAP:
 * the token callback's bearer token (XOAUTH2) or a copy of the password,
 * wiped when freed. */
#include <stdlib.h>
#include "mailnet.h"

int mc__credential(const mc__mail_config *cfg, char **secret)
{
    *secret = NULL;
    if (cfg->auth == MC__AUTH_XOAUTH2 || (cfg->auth == MC__AUTH_AUTO && cfg->token_cb)) {
        int rc;
        if (!cfg->token_cb)
            return mc__error_set(MC_EINVAL, "XOAUTH2 needs a token callback (mc_binding_set_token_callback)");
        if ((rc = cfg->token_cb(secret, cfg->token_user_data)) || !*secret) {
            free(*secret);
            *secret = NULL;
            return mc__error_set(MC_EAUTH, "the token callback gave no token (%d)", rc);
        }
        return 0;
    }
    if (!cfg->password || !*cfg->password)
        return 0; /* no credential: no AUTH */
    if (!(*secret = mc__strdup(cfg->password)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    return 0;
}
