/* credential.c - the secret a connection presents, shared by SMTP and IMAP:
 * the token callback's bearer token (XOAUTH2; token_command is such a
 * callback), or the password: password_command's output, else a copy of the
 * password setting; wiped when freed. */
#include <stdlib.h>
#include "command.h"
#include "mailnet.h"

int mc__credential(const mc__mail_config *cfg, char **secret)
{
    *secret = NULL;
    if (cfg->auth == MC__AUTH_XOAUTH2 || (cfg->auth == MC__AUTH_AUTO && cfg->token_cb)) {
        if (!cfg->token_cb)
            return mc__error_set(MC_EINVAL, "XOAUTH2 needs a token callback (mc_binding_set_token_callback)");
        return mc__token_get(cfg->token_cb, cfg->token_user_data, secret);
    }
    if (cfg->password_command)
        return mc__command_run(cfg->password_command, secret); /* each time: it may change */
    if (!cfg->password || !*cfg->password)
        return 0; /* no credential: no AUTH */
    if (!(*secret = mc__strdup(cfg->password)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    return 0;
}
