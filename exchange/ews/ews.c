/* ews.c - an EWS session and one call (ews.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ews.h"

/* what a busy server that names no wait gets: 5 s */
#define DEFAULT_BACKOFF_MS 5000

int mc__ews_open(mc__ews *e, const mc__ews_config *cfg)
{
    int rc;
    memset(e, 0, sizeof(*e));
    if (!(e->version = mc__strdup(cfg->server_version && *cfg->server_version ? cfg->server_version
                                                                              : "Exchange2013_SP1")) ||
        (cfg->impersonate && *cfg->impersonate && !(e->impersonate = mc__strdup(cfg->impersonate)))) {
        mc__ews_close(e);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    e->header.server_version = e->version;
    e->header.impersonate = e->impersonate;
    e->timeout_ms = cfg->http.timeout_ms;
    if ((rc = mc__http_new(&e->http, &cfg->http))) {
        mc__ews_close(e);
        return rc;
    }
    return 0;
}

void mc__ews_close(mc__ews *e)
{
    mc__http_free(e->http);
    free(e->version);
    free(e->impersonate);
    memset(e, 0, sizeof(*e));
}

static int fault_error(mc__ews_response *r, int *backoff_ms)
{
    if (!strcmp(r->code, "ErrorServerBusy")) {
        *backoff_ms = r->backoff_ms > 0 ? r->backoff_ms : DEFAULT_BACKOFF_MS;
        return mc__error_set(MC_EBUSY, "EWS: the server is busy (ErrorServerBusy; back off %d ms)",
                             *backoff_ms);
    }
    if (!strcmp(r->code, "ErrorAccessDenied") || !strcmp(r->code, "ErrorImpersonateUserDenied") ||
        !strcmp(r->code, "ErrorNonExistentMailbox"))
        return mc__error_set(MC_EAUTH, "EWS: %s: %s", r->code, r->text);
    return mc__error_set(MC_EPROTO, "EWS: the server refused the request: %s: %s",
                         r->code[0] ? r->code : "fault", r->text);
}

/* the operation a request body names: its first element's local name */
static void operation_of(const char *body, char *out, size_t cap)
{
    const char *p = strchr(body, '<'), *colon, *end;
    size_t n;
    if (!p) {
        snprintf(out, cap, "?");
        return;
    }
    end = p + 1 + strcspn(p + 1, " />\t\r\n");
    colon = memchr(p + 1, ':', (size_t)(end - p - 1));
    p = colon ? colon + 1 : p + 1;
    n = (size_t)(end - p);
    mc__printable(out, cap, p, n < cap ? n : cap - 1);
}

int mc__ews_call(mc__ews *e, const char *body, size_t max_reply, const mc__cancel_token *cancel,
                 mc__ews_response *out, int *backoff_ms)
{
    mc__http_reply reply = {0};
    mc__ews_response r = {0};
    size_t len;
    char *env = mc__ews_envelope(&e->header, body, &len);
    int rc;
    *backoff_ms = 0;
    if (!env)
        return mc__error_set(MC_ENOMEM, "out of memory");
    rc = mc__http_post(e->http, env, len, max_reply, cancel, &reply);
    free(env);
    if (mc__log_enabled(MC_LOG_INFO)) {
        char op[64];
        operation_of(body, op, sizeof(op));
        if (rc)
            mc__log(MC_LOG_INFO, "EWS %s: %s failed: %s", mc__http_url(e->http), op, mc_error_last());
        else
            mc__log(MC_LOG_INFO, "EWS %s: %s: HTTP %ld", mc__http_url(e->http), op, reply.status);
    }
    if (rc)
        return rc;
    if (reply.status == 503 || reply.status == 429) {
        *backoff_ms = reply.retry_after_ms > 0 ? reply.retry_after_ms : DEFAULT_BACKOFF_MS;
        rc = mc__error_set(MC_EBUSY, "EWS: HTTP %ld: the server asks to wait %d ms", reply.status,
                           *backoff_ms);
        goto done;
    }
    if (reply.status != 200 && reply.status != 500) {
        rc = mc__error_set(reply.status == 403 ? MC_EAUTH : MC_EIO, "%s: HTTP %ld", mc__http_url(e->http),
                           reply.status);
        goto done;
    }
    if ((rc = mc__ews_parse(&r, reply.body, reply.len, max_reply)))
        goto done;
    if (r.fault) {
        rc = fault_error(&r, backoff_ms);
        mc__ews_response_free(&r);
        goto done;
    }
    if (reply.status != 200) {
        mc__ews_response_free(&r);
        rc = mc__error_set(MC_EIO, "%s: HTTP %ld without a SOAP fault", mc__http_url(e->http), reply.status);
        goto done;
    }
    *out = r;
done:
    mc__http_reply_free(&reply);
    return rc;
}

xmlNode *mc__ews_first_message(const mc__ews_response *r)
{
    xmlNode *msgs = mc__ews_child(r->op, MC__EWS_NS_M, "ResponseMessages");
    return mc__ews_child(msgs, MC__EWS_NS_M, NULL);
}

xmlNode *mc__ews_next_message(const xmlNode *msg) { return mc__ews_next(msg, MC__EWS_NS_M, NULL); }
