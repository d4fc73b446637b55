/* soap.c - building EWS requests and reading their responses (soap.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "soap.h"

char *mc__ews_envelope(const mc__ews_header *h, const char *body, size_t *len)
{
    mc__buf b;
    mc__buf_init(&b);
    mc__buf_puts(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                     "<soap:Envelope xmlns:soap=\"" MC__EWS_NS_SOAP "\" xmlns:t=\"" MC__EWS_NS_T
                     "\" xmlns:m=\"" MC__EWS_NS_M "\"><soap:Header><t:RequestServerVersion Version=\"");
    mc__buf_put_xml_escaped(&b, h->server_version, strlen(h->server_version));
    mc__buf_puts(&b, "\"/>");
    if (h->impersonate && *h->impersonate) {
        mc__buf_puts(&b, "<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>");
        mc__buf_put_xml_escaped(&b, h->impersonate, strlen(h->impersonate));
        mc__buf_puts(&b, "</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>");
    }
    mc__buf_puts(&b, "</soap:Header><soap:Body>");
    mc__buf_puts(&b, body);
    mc__buf_puts(&b, "</soap:Body></soap:Envelope>");
    return mc__buf_detach(&b, len);
}

static bool is(const xmlNode *n, const char *ns, const char *name)
{
    return n->type == XML_ELEMENT_NODE && (!name || !strcmp((const char *)n->name, name)) &&
           (!ns || (n->ns && n->ns->href && !strcmp((const char *)n->ns->href, ns)));
}

xmlNode *mc__ews_child(const xmlNode *n, const char *ns, const char *name)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (is(c, ns, name))
            return c;
    return NULL;
}

xmlNode *mc__ews_next(const xmlNode *n, const char *ns, const char *name)
{
    for (xmlNode *c = n ? n->next : NULL; c; c = c->next)
        if (is(c, ns, name))
            return c;
    return NULL;
}

const char *mc__ews_text(const xmlNode *n, char *buf, size_t cap)
{
    xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
    const char *s = t ? (const char *)t : "";
    size_t len = strlen(s);
    /* trim the white space around values (some servers indent) */
    while (len && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == '\t'))
        len--;
    mc__printable(buf, cap, s, len);
    xmlFree(t);
    return buf;
}

const char *mc__ews_attr(const xmlNode *n, const char *name, char *buf, size_t cap)
{
    xmlChar *v = n ? xmlGetProp(n, (const xmlChar *)name) : NULL;
    mc__printable(buf, cap, v ? (const char *)v : "", v ? strlen((const char *)v) : 0);
    xmlFree(v);
    return buf;
}

/* BackOffMilliseconds among t:Value children of a MessageXml element */
static int backoff_of(const xmlNode *msgxml)
{
    char name[64], val[32];
    for (xmlNode *v = mc__ews_child(msgxml, MC__EWS_NS_T, "Value"); v;
         v = mc__ews_next(v, MC__EWS_NS_T, "Value")) {
        if (strcmp(mc__ews_attr(v, "Name", name, sizeof(name)), "BackOffMilliseconds"))
            continue;
        char *end;
        unsigned long ms = strtoul(mc__ews_text(v, val, sizeof(val)), &end, 10);
        if (end != val && !*end)
            return (int)(ms > 3600000 ? 3600000 : ms); /* an hour at most, whatever it says */
    }
    return 0;
}

static void read_fault(mc__ews_response *r, const xmlNode *fault)
{
    const xmlNode *detail = mc__ews_child(fault, NULL, "detail");
    const xmlNode *code = mc__ews_child(detail, MC__EWS_NS_E, "ResponseCode");
    char tmp[64];
    r->fault = true;
    if (code) {
        mc__ews_text(code, r->code, sizeof(r->code));
    } else {
        /* faultcode "a:ErrorServerBusy": the local part */
        const char *c = mc__ews_text(mc__ews_child(fault, NULL, "faultcode"), tmp, sizeof(tmp));
        const char *colon = strchr(c, ':');
        snprintf(r->code, sizeof(r->code), "%s", colon ? colon + 1 : c);
    }
    mc__ews_text(mc__ews_child(detail, MC__EWS_NS_E, "Message"), r->text, sizeof(r->text));
    if (!r->text[0])
        mc__ews_text(mc__ews_child(fault, NULL, "faultstring"), r->text, sizeof(r->text));
    r->backoff_ms = backoff_of(mc__ews_child(detail, MC__EWS_NS_T, "MessageXml"));
}

int mc__ews_parse(mc__ews_response *out, const char *xml, size_t len, size_t max)
{
    mc__ews_response r = {0};
    xmlNode *env, *body, *first;
    int rc;
    if ((rc = mc__xml_parse(&r.doc, xml, len, max, "EWS response")))
        return rc;
    env = xmlDocGetRootElement(r.doc);
    if (!env || !is(env, MC__EWS_NS_SOAP, "Envelope") ||
        !(body = mc__ews_child(env, MC__EWS_NS_SOAP, "Body")) || !(first = mc__ews_child(body, NULL, NULL))) {
        xmlFreeDoc(r.doc);
        return mc__error_set(MC_EPROTO, "EWS response: not a SOAP 1.1 envelope with a body");
    }
    if (is(first, MC__EWS_NS_SOAP, "Fault"))
        read_fault(&r, first);
    else
        r.op = first;
    *out = r;
    return 0;
}

void mc__ews_response_free(mc__ews_response *r)
{
    if (r->doc)
        xmlFreeDoc(r->doc);
    memset(r, 0, sizeof(*r));
}

int mc__ews_message_status(const xmlNode *msg, char code[64], char text[256], int *backoff_ms)
{
    char cls[16];
    mc__ews_attr(msg, "ResponseClass", cls, sizeof(cls));
    mc__ews_text(mc__ews_child(msg, MC__EWS_NS_M, "ResponseCode"), code, 64);
    mc__ews_text(mc__ews_child(msg, MC__EWS_NS_M, "MessageText"), text, 256);
    if (!strcmp(cls, "Success") || !strcmp(cls, "Warning"))
        return 0;
    if (!strcmp(code, "ErrorItemNotFound") || !strcmp(code, "ErrorFolderNotFound"))
        return MC_ENOTFOUND;
    if (!strcmp(code, "ErrorServerBusy")) {
        if (backoff_ms)
            *backoff_ms = backoff_of(mc__ews_child(msg, MC__EWS_NS_M, "MessageXml"));
        return MC_EBUSY;
    }
    if (!strcmp(code, "ErrorAccessDenied") || !strcmp(code, "ErrorImpersonateUserDenied") ||
        !strcmp(code, "ErrorImpersonationDenied") || !strcmp(code, "ErrorSendAsDenied"))
        return MC_EAUTH;
    return MC_EPROTO;
}

void mc__ews_put_base64(mc__buf *b, const char *data, size_t len)
{
    unsigned char out[4 * 768 / 3 + 1];
    for (size_t i = 0; i < len; i += 768) {
        size_t take = len - i < 768 ? len - i : 768;
        int n = EVP_EncodeBlock(out, (const unsigned char *)data + i, (int)take);
        mc__buf_put(b, (const char *)out, (size_t)n);
    }
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int mc__ews_base64_decode(const char *text, size_t max, char **out, size_t *len, bool *truncated)
{
    size_t n = 0, cap = max < 4096 ? max + 3 : 4096;
    char *d = malloc(cap + 1);
    unsigned acc = 0;
    int bits = 0, pad = 0;
    *truncated = false;
    if (!d)
        return mc__error_set(MC_ENOMEM, "out of memory");
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        int v;
        if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
            continue;
        if (*p == '=') {
            pad++;
            continue;
        }
        if (pad || (v = b64_value(*p)) < 0) {
            free(d);
            return mc__error_set(MC_EPROTO, "EWS response: MimeContent is not base64");
        }
        acc = (acc << 6) | (unsigned)v;
        if ((bits += 6) >= 8) {
            bits -= 8;
            if (n == max) {
                *truncated = true;
                break;
            }
            if (n == cap) {
                size_t ncap = cap * 2 < max ? cap * 2 : max;
                char *g = realloc(d, ncap + 1);
                if (!g) {
                    free(d);
                    return mc__error_set(MC_ENOMEM, "out of memory");
                }
                d = g;
                cap = ncap;
            }
            d[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    d[n] = 0;
    *out = d;
    *len = n;
    return 0;
}
