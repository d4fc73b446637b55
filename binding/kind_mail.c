/* kind_mail.c - the mail binding kind: SMTP + IMAP (channel/mail/) from
 * the binding's typed settings. */
#include <string.h>
#include "binding/kinds.h"
#include "channel/mail/mailnet.h"

int mc__kind_mail_build(const mc__values *v, const char *address, mc__sender **s, mc__receiver **r)
{
    mc__mail_config c;
    int rc;
    memset(&c, 0, sizeof(c));
    c.address = address;
    c.smtp.host = v->smtp_host;
    c.smtp.port = (unsigned)v->smtp_port;
    c.smtp.tls = (mc__tls_mode)v->smtp_security;
    c.imap.host = v->imap_host;
    c.imap.port = (unsigned)v->imap_port;
    c.imap.tls = (mc__tls_mode)v->imap_security;
    c.username = v->username;
    c.password = v->password;
    c.password_command = v->password_source;
    c.auth = (mc__auth_mech)v->auth_mechanism;
    c.smtp_auth = (mc__smtp_auth)v->smtp_auth;
    c.token_cb = v->token_cb;
    c.token_user_data = v->token_user_data;
    c.ca_file = v->tls_ca_file;
    c.ca_path = v->tls_ca_path;
    c.verify = v->tls_verify;
    c.tls_min_version = v->tls_min_version;
    c.timeout_ms = (int)v->timeout;
    c.service_folder = v->service_folder;
    c.deleted_folder = v->deleted_folder;
    c.idle = v->imap_idle;
    c.idle_ms = (int)v->imap_idle_interval;
    c.search_stamp = v->imap_search_stamp;
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
