/* kind_mail.c - the mail binding kind: SMTP + IMAP (channel/mail/) from
 * the binding's settings. */
#include <string.h>
#include "binding/kinds.h"
#include "binding/options.h"
#include "channel/mail/mailnet.h"


static mc__tls_mode tls_mode(const char *v)
{
    return !strcmp(v, "tls") ? MC__TLS_IMPLICIT : !strcmp(v, "none") ? MC__TLS_NONE : MC__TLS_STARTTLS;
}

int mc__kind_mail_build(const mc_binding *b, const char *address, mc__sender **s, mc__receiver **r)
{
    const char *auth = mc__binding_value(b, "auth_mechanism");
    mc__mail_config c;
    int rc;
    memset(&c, 0, sizeof(c));
    c.address = address;
    c.smtp.host = mc__binding_value(b, "smtp_host");
    c.smtp.port = (unsigned)mc__binding_number(b, "smtp_port");
    c.smtp.tls = tls_mode(mc__binding_value(b, "smtp_security"));
    c.imap.host = mc__binding_value(b, "imap_host");
    c.imap.port = (unsigned)mc__binding_number(b, "imap_port");
    c.imap.tls = tls_mode(mc__binding_value(b, "imap_security"));
    c.username = mc__binding_value(b, "username");
    c.password = mc__binding_value(b, "password");
    c.auth = !strcmp(auth, "plain") ? MC__AUTH_PLAIN : !strcmp(auth, "login") ? MC__AUTH_LOGIN
             : !strcmp(auth, "xoauth2") ? MC__AUTH_XOAUTH2 : MC__AUTH_AUTO;
    c.token_cb = mc__binding_token_cb(b, &c.token_user_data);
    c.ca_file = mc__binding_value(b, "tls_ca_file");
    c.ca_path = mc__binding_value(b, "tls_ca_path");
    c.verify = mc__setting_bool(mc__binding_value(b, "tls_verify"));
    c.tls_min_version = !strcmp(mc__binding_value(b, "tls_min_version"), "1.3") ? 13 : 12;
    c.timeout_ms = (int)mc__binding_number(b, "timeout");
    c.service_folder = mc__binding_value(b, "service_folder");
    c.deleted_folder = mc__binding_value(b, "deleted_folder");
    c.idle = mc__setting_bool(mc__binding_value(b, "imap_idle"));
    c.idle_ms = (int)mc__binding_number(b, "imap_idle_interval");
    c.search_stamp = mc__setting_bool(mc__binding_value(b, "imap_search_stamp"));
    if (!*c.smtp.host || !*c.imap.host)
        return mc__error_set(MC_EINVAL, "the mail binding needs smtp_host and imap_host");
    if (c.auth == MC__AUTH_XOAUTH2 && !c.token_cb)
        return mc__error_set(MC_EINVAL, "auth_mechanism xoauth2 needs a token callback");
    if ((rc = mc__smtp_new(s, &c)))
        return rc;
    if ((rc = mc__imap_new(r, &c))) {
        (*s)->ops->free(*s);
        return rc;
    }
    return 0;
}
