/* kind_exchange.c - the exchange binding kind: EWS (exchange/ews/) from the
 * binding's typed settings. */
#include <string.h>
#include "binding/kinds.h"
#include "exchange/ews/ews.h"

int mc__kind_exchange_build(const mc__values *v, const char *address, mc__sender **s, mc__receiver **r)
{
    mc__ews_config c;
    int rc;
    memset(&c, 0, sizeof(c));
    c.address = address;
    c.http.url = v->ews_url;
    c.http.auth = (mc__http_auth)v->ews_auth;
    c.http.username = v->username && *v->username ? v->username : address;
    c.http.password = v->password;
    c.http.password_command = v->password_source;
    c.http.token_cb = v->token_cb;
    c.http.token_user_data = v->token_user_data;
    c.http.ca_file = v->tls_ca_file;
    c.http.ca_path = v->tls_ca_path;
    c.http.verify = v->tls_verify;
    c.http.tls_min_version = v->tls_min_version;
    c.http.timeout_ms = (int)v->timeout;
    c.http.content_type = "text/xml; charset=utf-8";
    /* Exchange routes a request by the mailbox it is for */
    c.http.anchor_mailbox = v->ews_impersonate && *v->ews_impersonate ? v->ews_impersonate : address;
    c.server_version = mc__setting_choice_name(MC__S_EWS_SERVER_VERSION, v->ews_server_version);
    c.impersonate = v->ews_impersonate;
    c.send_mode = (mc__ews_send_mode)v->ews_send_mode;
    c.service_folder = v->service_folder;
    c.notify = (mc__ews_notify)v->ews_notifications;
    if (!v->ews_url || !*v->ews_url)
        return mc__error_set(MC_EINVAL, "the exchange binding needs ews_url");
    if (c.http.auth == MC__HTTP_BEARER && !c.http.token_cb)
        return mc__error_set(MC_EINVAL, "ews_auth bearer needs a token callback");
    if ((rc = mc__ews_sender_new(s, &c)))
        return rc;
    if ((rc = mc__ews_receiver_new(r, &c))) {
        (*s)->ops->free(*s);
        return rc;
    }
    return 0;
}
