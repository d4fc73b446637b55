/* message.c - SOAP 1.2/1.1 envelopes with WS-Addressing 1.0: building,
 * serializing, and parsing through the hardened XML path. */
#include <stdlib.h>
#include <string.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>
#include "internal.h"

#define WSA_FAULT_ACTION "http://www.w3.org/2005/08/addressing/soap/fault"
#define MAX_FRAGMENT ((size_t)64 << 20)

struct mc_message {
    mc_soap_version version;
    char *action, *to, *from, *reply_to, *fault_to, *message_id, *relates_to;
    char **headers;
    size_t nheaders, headers_cap;
    char *body;
    size_t body_len;
    bool is_fault;
    char *fault_code, *fault_reason;
    int64_t expiry;
    char *in_reply_to_mail;
    mc__strmap props;
};

static int new_id(mc_message *m)
{
    char uuid[37], id[46];
    int rc = mc__uuid(uuid);
    if (rc)
        return rc;
    memcpy(id, "urn:uuid:", 9);
    memcpy(id + 9, uuid, 37);
    return mc__set_str(&m->message_id, id);
}

static int alloc_message(mc_message **out, const char *action)
{
    mc_message *m;
    int rc;
    if (!out || !action || !*action)
        return mc__error_set(MC_EINVAL, "a message needs an output pointer and a non-empty action");
    if (!(m = calloc(1, sizeof(*m))))
        return mc__error_set(MC_ENOMEM, "out of memory");
    mc__strmap_init(&m->props);
    if ((rc = mc__set_str(&m->action, action)) || (rc = new_id(m))) {
        mc_message_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

static int set_body(mc_message *m, const char *xml, size_t len)
{
    int rc;
    char *copy;
    if (len > MAX_FRAGMENT)
        return mc__error_set(MC_ETOOBIG, "body of %zu bytes is over 64 MiB", len);
    if (len && (rc = mc__xml_check_fragment(xml, len, false)))
        return rc;
    if (!(copy = mc__strndup(xml ? xml : "", len)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    free(m->body);
    m->body = copy;
    m->body_len = len;
    return 0;
}

/* A counted input given as a NUL-terminated string (MC_NUL_TERMINATED). */
static size_t measured(const char *s, size_t len)
{
    return len == MC_NUL_TERMINATED ? (s ? strlen(s) : 0) : len;
}

int mc_message_new(mc_message **out, const char *action, const char *body_xml, size_t len)
{
    mc_message *m = NULL;
    int rc;
    len = measured(body_xml, len);
    if (!out)
        return mc__error_set(MC_EINVAL, "NULL output pointer");
    if (!body_xml && len)
        return mc__error_set(MC_EINVAL, "body is NULL but its length is not 0");
    if ((rc = alloc_message(&m, action)))
        return rc;
    if ((rc = set_body(m, body_xml, len))) {
        mc_message_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

static bool xml_text_ok(const char *s, size_t n)
{
    if (!mc__utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            return false;
    }
    return true;
}

static int text_body(const char *text, char **out, size_t *len)
{
    mc__buf b;
    size_t n;
    if (!text)
        return mc__error_set(MC_EINVAL, "text is NULL");
    n = strlen(text);
    if (!xml_text_ok(text, n))
        return mc__error_set(MC_EINVAL, "text is not valid UTF-8 or has characters XML forbids");
    mc__buf_init(&b);
    mc__buf_puts(&b, "<string xmlns=\"" MC_NS_SERIALIZATION "\">");
    mc__buf_put_xml_escaped(&b, text, n);
    mc__buf_puts(&b, "</string>");
    return (*out = mc__buf_detach(&b, len)) ? 0 : mc__error_set(MC_ENOMEM, "out of memory");
}

int mc_message_set_body(mc_message *m, const char *xml, size_t len)
{
    int rc;
    len = measured(xml, len);
    if (!m || (!xml && len))
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = set_body(m, xml, len)))
        return rc;
    m->is_fault = false;
    return 0;
}

int mc_message_set_body_text(mc_message *m, const char *text)
{
    char *body;
    size_t len;
    int rc;
    if (!m)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = text_body(text, &body, &len)))
        return rc;
    free(m->body);
    m->body = body;
    m->body_len = len;
    m->is_fault = false;
    return 0;
}

int mc_message_set_fault(mc_message *m, const char *code, const char *reason)
{
    char *c = NULL, *r = NULL, *empty = NULL;
    if (!m || !code || !reason)
        return mc__error_set(MC_EINVAL, "a fault needs a message, a code and a reason");
    if (strcmp(code, "Sender") && strcmp(code, "Receiver"))
        return mc__error_set(MC_EINVAL, "fault code must be \"Sender\" or \"Receiver\"");
    if (!xml_text_ok(reason, strlen(reason)))
        return mc__error_set(MC_EINVAL, "fault reason is not valid XML text");
    if (!(c = mc__strdup(code)) || !(r = mc__strdup(reason)) || !(empty = mc__strdup(""))) {
        free(c);
        free(r);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    free(m->fault_code);
    free(m->fault_reason);
    free(m->body);
    m->fault_code = c;
    m->fault_reason = r;
    m->body = empty;
    m->body_len = 0;
    m->is_fault = true;
    return 0;
}

int mc_message_new_text(mc_message **out, const char *action, const char *text)
{
    mc_message *m = NULL;
    int rc;
    if (!text || !out)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = alloc_message(&m, action)) || (rc = mc_message_set_body_text(m, text))) {
        mc_message_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int mc_message_new_fault(mc_message **out, const char *code, const char *reason, const char *action)
{
    mc_message *m = NULL;
    int rc;
    if (!code || !reason || !out)
        return mc__error_set(MC_EINVAL, "a fault needs an output pointer, a code and a reason");
    if ((rc = alloc_message(&m, action ? action : WSA_FAULT_ACTION)) ||
        (rc = mc_message_set_fault(m, code, reason))) {
        mc_message_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

/* Where a reply goes: for a fault FaultTo when given, then ReplyTo, else
 * From, else the sender's mailbox at the same channel (anonymous counts as
 * absent). NULL when none (or out of memory). */
char *mc__reply_destination(const mc_message *req, bool fault)
{
    const char *from_mail, *chan;
    mc__buf b;
    if (fault && req->fault_to && strcmp(req->fault_to, MC_WSA_ANONYMOUS))
        return mc__strdup(req->fault_to);
    if (req->reply_to && strcmp(req->reply_to, MC_WSA_ANONYMOUS))
        return mc__strdup(req->reply_to);
    if (req->from && strcmp(req->from, MC_WSA_ANONYMOUS))
        return mc__strdup(req->from);
    from_mail = mc_message_property(req, MC_PROP_FROM_EMAIL);
    chan = mc_message_property(req, MC_PROP_CHANNEL);
    if (!from_mail || !chan)
        return NULL;
    mc__buf_init(&b);
    mc__buf_printf(&b, MC_ADDRESS_SCHEME "://%s#%s", chan, from_mail);
    return mc__buf_detach(&b, NULL);
}

int mc_message_create_reply(mc_message **out, const mc_message *request, const char *action,
                            const char *body_xml, size_t len)
{
    mc_message *m = NULL;
    char *dest;
    int rc;
    if (!request || !out)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = mc_message_new(&m, action, body_xml, len)))
        return rc;
    m->version = request->version;
    dest = mc__reply_destination(request, false);
    if ((request->message_id && (rc = mc__set_str(&m->relates_to, request->message_id))) ||
        (rc = mc__set_str(&m->to, dest)) ||
        (rc = mc__set_str(&m->in_reply_to_mail, mc_message_property(request, MC_PROP_MAIL_MESSAGE_ID)))) {
        free(dest);
        mc_message_free(m);
        return rc;
    }
    free(dest);
    *out = m;
    return 0;
}

static void free_str(void *p) { free(p); }

void mc_message_free(mc_message *m)
{
    if (!m)
        return;
    free(m->action);
    free(m->to);
    free(m->from);
    free(m->reply_to);
    free(m->fault_to);
    free(m->message_id);
    free(m->relates_to);
    for (size_t i = 0; i < m->nheaders; i++)
        free(m->headers[i]);
    free(m->headers);
    free(m->body);
    free(m->fault_code);
    free(m->fault_reason);
    free(m->in_reply_to_mail);
    mc__strmap_free(&m->props, free_str);
    free(m);
}

int mc_message_set_soap_version(mc_message *m, mc_soap_version v)
{
    if (!m || (v != MC_SOAP12 && v != MC_SOAP11))
        return mc__error_set(MC_EINVAL, "unknown SOAP version");
    m->version = v;
    return 0;
}

mc_soap_version mc_message_soap_version(const mc_message *m) { return m ? m->version : MC_SOAP12; }

static int set_header_str(mc_message *m, char **field, const char *v, bool required)
{
    if (!m)
        return mc__error_set(MC_EINVAL, "message is NULL");
    if (required && (!v || !*v))
        return mc__error_set(MC_EINVAL, "this header is required and cannot be empty");
    if (v && !xml_text_ok(v, strlen(v)))
        return mc__error_set(MC_EINVAL, "header value is not valid XML text");
    return mc__set_str(field, v);
}

int mc_message_set_action(mc_message *m, const char *v)
{
    return set_header_str(m, m ? &m->action : NULL, v, true);
}
int mc_message_set_to(mc_message *m, const char *v) { return set_header_str(m, m ? &m->to : NULL, v, false); }
int mc_message_set_from(mc_message *m, const char *v)
{
    return set_header_str(m, m ? &m->from : NULL, v, false);
}
int mc_message_set_reply_to(mc_message *m, const char *v)
{
    return set_header_str(m, m ? &m->reply_to : NULL, v, false);
}
int mc_message_set_fault_to(mc_message *m, const char *v)
{
    return set_header_str(m, m ? &m->fault_to : NULL, v, false);
}
int mc_message_set_message_id(mc_message *m, const char *v)
{
    return set_header_str(m, m ? &m->message_id : NULL, v, true);
}
int mc_message_set_relates_to(mc_message *m, const char *v)
{
    return set_header_str(m, m ? &m->relates_to : NULL, v, false);
}
const char *mc_message_action(const mc_message *m) { return m ? m->action : NULL; }
const char *mc_message_to(const mc_message *m) { return m ? m->to : NULL; }
const char *mc_message_from(const mc_message *m) { return m ? m->from : NULL; }
const char *mc_message_reply_to(const mc_message *m) { return m ? m->reply_to : NULL; }
const char *mc_message_fault_to(const mc_message *m) { return m ? m->fault_to : NULL; }
const char *mc_message_message_id(const mc_message *m) { return m ? m->message_id : NULL; }
const char *mc_message_relates_to(const mc_message *m) { return m ? m->relates_to : NULL; }

int mc_message_set_expiry(mc_message *m, int64_t t)
{
    if (!m || t < 0)
        return mc__error_set(MC_EINVAL, "bad message or expiry");
    m->expiry = t;
    return 0;
}

int64_t mc_message_expiry(const mc_message *m) { return m ? m->expiry : 0; }

/* Appends h (taken over); the array grows by doubling, so that n headers
 * cost O(n) however many a received envelope holds. */
static int push_header(mc_message *m, char *h)
{
    if (m->nheaders == m->headers_cap) {
        size_t cap = m->headers_cap ? m->headers_cap * 2 : 4;
        char **grown = realloc(m->headers, cap * sizeof(char *));
        if (!grown)
            return MC_ENOMEM;
        m->headers = grown;
        m->headers_cap = cap;
    }
    m->headers[m->nheaders++] = h;
    return 0;
}

int mc_message_add_header(mc_message *m, const char *xml, size_t len)
{
    char *copy;
    int rc;
    len = measured(xml, len);
    if (!m || !xml || !len)
        return mc__error_set(MC_EINVAL, "a header block needs a message and XML text");
    if (len > MAX_FRAGMENT)
        return mc__error_set(MC_ETOOBIG, "header block over 64 MiB");
    if ((rc = mc__xml_check_fragment(xml, len, true)))
        return rc;
    if (!(copy = mc__strndup(xml, len)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    if (push_header(m, copy)) {
        free(copy);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    return 0;
}

size_t mc_message_header_count(const mc_message *m) { return m ? m->nheaders : 0; }
const char *mc_message_header(const mc_message *m, size_t i)
{
    return m && i < m->nheaders ? m->headers[i] : NULL;
}

const char *mc_message_body(const mc_message *m, size_t *len)
{
    if (len)
        *len = m ? m->body_len : 0;
    return m ? m->body : NULL;
}

int mc_message_body_text(char **out, const mc_message *m)
{
    xmlDocPtr doc = NULL;
    xmlNodePtr root;
    xmlChar *text;
    int rc;
    if (!m || !out)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if (!m->body_len)
        return mc__error_set(MC_ENOTFOUND, "the body is empty");
    if ((rc = mc__xml_parse(&doc, m->body, m->body_len, MAX_FRAGMENT, "body")))
        return rc == MC_ENOMEM ? rc : mc__error_set(MC_ENOTFOUND, "the body is not a text string");
    root = xmlDocGetRootElement(doc);
    if (!root || !root->ns || strcmp((const char *)root->name, "string") ||
        strcmp((const char *)root->ns->href, MC_NS_SERIALIZATION)) {
        xmlFreeDoc(doc);
        return mc__error_set(MC_ENOTFOUND, "the body is not a DataContract string");
    }
    text = xmlNodeGetContent(root);
    *out = mc__strdup(text ? (const char *)text : "");
    xmlFree(text);
    xmlFreeDoc(doc);
    return *out ? 0 : mc__error_set(MC_ENOMEM, "out of memory");
}

int mc_message_is_fault(const mc_message *m) { return m && m->is_fault; }

int mc_message_fault(const char **code, const char **reason, const mc_message *m)
{
    if (!m || !m->is_fault)
        return mc__error_set(MC_ENOTFOUND, "not a fault");
    if (code)
        *code = m->fault_code;
    if (reason)
        *reason = m->fault_reason;
    return 0;
}

const char *mc_message_property(const mc_message *m, const char *name)
{
    return m && name ? mc__strmap_get(&m->props, name, NULL) : NULL;
}

int mc_message_set_property(mc_message *m, const char *name, const char *value)
{
    void *old = NULL;
    char *copy;
    if (!m || !name)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if (!value) {
        if (mc__strmap_remove(&m->props, name, &old))
            free(old);
        return 0;
    }
    if (!(copy = mc__strdup(value)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    old = mc__strmap_get(&m->props, name, NULL);
    if (mc__strmap_put(&m->props, name, copy)) {
        free(copy);
        return MC_ENOMEM;
    }
    free(old);
    return 0;
}

const char *mc__message_in_reply_to_mail(const mc_message *m) { return m->in_reply_to_mail; }
int mc__message_set_in_reply_to_mail(mc_message *m, const char *v)
{
    return mc__set_str(&m->in_reply_to_mail, v);
}

/* ---- serializing ---- */

static void put_simple(mc__buf *b, const char *name, const char *value, bool must_understand)
{
    if (!value)
        return;
    mc__buf_printf(b, "<a:%s%s>", name, must_understand ? " s:mustUnderstand=\"1\"" : "");
    mc__buf_put_xml_escaped(b, value, strlen(value));
    mc__buf_printf(b, "</a:%s>", name);
}

static void put_epr(mc__buf *b, const char *name, const char *value)
{
    if (!value)
        return;
    mc__buf_printf(b, "<a:%s><a:Address>", name);
    mc__buf_put_xml_escaped(b, value, strlen(value));
    mc__buf_printf(b, "</a:Address></a:%s>", name);
}

static void put_fault(mc__buf *b, const mc_message *m)
{
    const char *reason = m->fault_reason ? m->fault_reason : "";
    if (m->version == MC_SOAP12) {
        mc__buf_printf(b,
                       "<s:Fault><s:Code><s:Value>s:%s</s:Value></s:Code><s:Reason>"
                       "<s:Text xml:lang=\"en\">",
                       m->fault_code);
        mc__buf_put_xml_escaped(b, reason, strlen(reason));
        mc__buf_puts(b, "</s:Text></s:Reason></s:Fault>");
    } else {
        mc__buf_printf(b, "<s:Fault><faultcode>s:%s</faultcode><faultstring xml:lang=\"en\">",
                       strcmp(m->fault_code, "Sender") ? "Server" : "Client");
        mc__buf_put_xml_escaped(b, reason, strlen(reason));
        mc__buf_puts(b, "</faultstring></s:Fault>");
    }
}

int mc_message_serialize(char **out, size_t *len, const mc_message *m)
{
    mc__buf b;
    if (!m || !out)
        return mc__error_set(MC_EINVAL, "NULL argument");
    mc__buf_init(&b);
    mc__buf_reserve(&b, 640 + m->body_len);
    mc__buf_printf(&b, "<s:Envelope xmlns:s=\"%s\" xmlns:a=\"" MC_NS_WSA "\"><s:Header>",
                   m->version == MC_SOAP12 ? MC_NS_SOAP12 : MC_NS_SOAP11);
    put_simple(&b, "Action", m->action, true);
    put_simple(&b, "MessageID", m->message_id, false);
    put_simple(&b, "RelatesTo", m->relates_to, false);
    put_epr(&b, "From", m->from);
    put_epr(&b, "ReplyTo", m->reply_to);
    put_epr(&b, "FaultTo", m->fault_to);
    put_simple(&b, "To", m->to, true);
    for (size_t i = 0; i < m->nheaders; i++)
        mc__buf_puts(&b, m->headers[i]);
    mc__buf_puts(&b, "</s:Header><s:Body>");
    if (m->is_fault)
        put_fault(&b, m);
    else
        mc__buf_put(&b, m->body, m->body_len);
    mc__buf_puts(&b, "</s:Body></s:Envelope>");
    if (!(*out = mc__buf_detach(&b, len)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    return 0;
}

/* ---- parsing ---- */

static bool is_el(xmlNodePtr n, const char *ns, const char *name)
{
    return n->type == XML_ELEMENT_NODE && n->ns && !strcmp((const char *)n->ns->href, ns) &&
           !strcmp((const char *)n->name, name);
}

static xmlNodePtr next_el(xmlNodePtr n)
{
    while (n && n->type != XML_ELEMENT_NODE)
        n = n->next;
    return n;
}

/* text content, trimmed */
static char *trimmed_content(xmlNodePtr n)
{
    xmlChar *c = xmlNodeGetContent(n);
    const char *s = c ? (const char *)c : "";
    size_t a = 0, e = strlen(s);
    char *r;
    while (a < e && strchr(" \t\r\n", s[a]))
        a++;
    while (e > a && strchr(" \t\r\n", s[e - 1]))
        e--;
    r = mc__strndup(s + a, e - a);
    xmlFree(c);
    return r;
}

/* Serializes a node so that it stands alone: namespaces declared on
 * ancestors and used inside are declared on its copy. */
static int dump_standalone(xmlNodePtr n, mc__buf *b)
{
    xmlDocPtr tmp = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr copy;
    xmlBufferPtr xb;
    int rc = 0;
    if (!tmp)
        return MC_ENOMEM;
    copy = xmlDocCopyNode(n, tmp, 1);
    if (!copy) {
        xmlFreeDoc(tmp);
        return MC_ENOMEM;
    }
    xmlDocSetRootElement(tmp, copy);
    xb = xmlBufferCreate();
    if (!xb || xmlNodeDump(xb, tmp, copy, 0, 0) < 0)
        rc = MC_ENOMEM;
    else
        mc__buf_put(b, (const char *)xmlBufferContent(xb), (size_t)xmlBufferLength(xb));
    xmlBufferFree(xb);
    xmlFreeDoc(tmp);
    return rc;
}

typedef struct {
    const char *name;
    size_t offset;
    bool epr;
} wsa_field;

static const wsa_field wsa_fields[] = {
    {"Action", offsetof(mc_message, action), false},
    {"MessageID", offsetof(mc_message, message_id), false},
    {"RelatesTo", offsetof(mc_message, relates_to), false},
    {"To", offsetof(mc_message, to), false},
    {"From", offsetof(mc_message, from), true},
    {"ReplyTo", offsetof(mc_message, reply_to), true},
    {"FaultTo", offsetof(mc_message, fault_to), true},
};

static int parse_header_block(mc_message *m, xmlNodePtr h)
{
    for (size_t i = 0; i < MC_ARRAY_SIZE(wsa_fields); i++) {
        char **field = (char **)((char *)m + wsa_fields[i].offset);
        xmlNodePtr src = h;
        if (!is_el(h, MC_NS_WSA, wsa_fields[i].name))
            continue;
        if (*field)
            return mc__error_set(MC_EPROTO, "duplicate wsa:%s header", wsa_fields[i].name);
        if (wsa_fields[i].epr) {
            for (src = next_el(h->children); src && !is_el(src, MC_NS_WSA, "Address");)
                src = next_el(src->next);
            if (!src)
                return mc__error_set(MC_EPROTO, "wsa:%s has no wsa:Address", wsa_fields[i].name);
        }
        if (!(*field = trimmed_content(src)))
            return mc__error_set(MC_ENOMEM, "out of memory");
        return 0;
    }
    {
        mc__buf b;
        char *text;
        mc__buf_init(&b);
        if (dump_standalone(h, &b) || b.failed || !(text = mc__buf_detach(&b, NULL))) {
            mc__buf_free(&b);
            return mc__error_set(MC_ENOMEM, "out of memory");
        }
        if (push_header(m, text)) {
            free(text);
            return mc__error_set(MC_ENOMEM, "out of memory");
        }
    }
    return 0;
}

static int parse_fault(mc_message *m, xmlNodePtr f, const char *ns)
{
    xmlNodePtr c;
    char *code = NULL, *reason = NULL;
    for (c = next_el(f->children); c; c = next_el(c->next)) {
        if (m->version == MC_SOAP12 && is_el(c, ns, "Code")) {
            xmlNodePtr v = next_el(c->children);
            if (v && is_el(v, ns, "Value") && !code)
                code = trimmed_content(v);
        } else if (m->version == MC_SOAP12 && is_el(c, ns, "Reason")) {
            xmlNodePtr t = next_el(c->children);
            if (t && is_el(t, ns, "Text") && !reason)
                reason = trimmed_content(t);
        } else if (m->version == MC_SOAP11 && !c->ns && !strcmp((const char *)c->name, "faultcode")) {
            if (!code)
                code = trimmed_content(c);
        } else if (m->version == MC_SOAP11 && !c->ns && !strcmp((const char *)c->name, "faultstring")) {
            if (!reason)
                reason = trimmed_content(c);
        }
    }
    m->is_fault = true;
    {
        const char *local = code ? strchr(code, ':') : NULL;
        local = local ? local + 1 : (code ? code : "Receiver");
        if (!strcmp(local, "Client"))
            local = "Sender";
        else if (!strcmp(local, "Server"))
            local = "Receiver";
        m->fault_code = mc__strdup(local);
    }
    m->fault_reason = reason ? reason : mc__strdup("");
    free(code);
    return m->fault_code && m->fault_reason ? 0 : mc__error_set(MC_ENOMEM, "out of memory");
}

static int parse_envelope(mc_message *m, xmlDocPtr doc)
{
    xmlNodePtr env = xmlDocGetRootElement(doc), c, header = NULL, body = NULL;
    const char *ns;
    int rc;
    mc__buf b;
    if (!env || !env->ns || strcmp((const char *)env->name, "Envelope"))
        return mc__error_set(MC_EPROTO, "not a SOAP envelope");
    ns = (const char *)env->ns->href;
    if (!strcmp(ns, MC_NS_SOAP12))
        m->version = MC_SOAP12;
    else if (!strcmp(ns, MC_NS_SOAP11))
        m->version = MC_SOAP11;
    else
        return mc__error_set(MC_EPROTO, "unknown SOAP envelope namespace");
    for (c = next_el(env->children); c; c = next_el(c->next)) {
        if (is_el(c, ns, "Header") && !header && !body)
            header = c;
        else if (is_el(c, ns, "Body") && !body)
            body = c;
        else
            return mc__error_set(MC_EPROTO, "unexpected <%s> in the SOAP envelope", c->name);
    }
    if (!body)
        return mc__error_set(MC_EPROTO, "the SOAP envelope has no Body");
    for (c = header ? next_el(header->children) : NULL; c; c = next_el(c->next))
        if ((rc = parse_header_block(m, c)))
            return rc;
    if (!m->action)
        return mc__error_set(MC_EPROTO, "the message has no wsa:Action header");
    c = next_el(body->children);
    if (c && is_el(c, ns, "Fault"))
        return parse_fault(m, c, ns);
    mc__buf_init(&b);
    for (; c; c = next_el(c->next))
        if (dump_standalone(c, &b))
            b.failed = true;
    if (b.failed) {
        mc__buf_free(&b);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    if (!(m->body = mc__buf_detach(&b, &m->body_len)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    return 0;
}

int mc_message_parse(mc_message **out, const char *data, size_t len, size_t max_size)
{
    xmlDocPtr doc = NULL;
    mc_message *m;
    int rc;
    len = measured(data, len);
    if (!out || !data)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = mc__xml_parse(&doc, data, len, max_size ? max_size : 65536, "SOAP envelope")))
        return rc;
    if (!(m = calloc(1, sizeof(*m)))) {
        xmlFreeDoc(doc);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    mc__strmap_init(&m->props);
    rc = parse_envelope(m, doc);
    xmlFreeDoc(doc);
    if (rc) {
        mc_message_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int mc_message_clone(mc_message **out, const mc_message *src)
{
    mc_message *m;
    int rc = 0;
    if (!out || !src)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if (!(m = calloc(1, sizeof(*m))))
        return mc__error_set(MC_ENOMEM, "out of memory");
    mc__strmap_init(&m->props);
    m->version = src->version;
    m->is_fault = src->is_fault;
    m->expiry = src->expiry;
    m->body_len = src->body_len;
    for (size_t i = 0; i < MC_ARRAY_SIZE(wsa_fields) && !rc; i++)
        rc = mc__set_str((char **)((char *)m + wsa_fields[i].offset),
                         *(char *const *)((const char *)src + wsa_fields[i].offset));
    if (!rc && !(rc = mc__set_str(&m->fault_code, src->fault_code)) &&
        !(rc = mc__set_str(&m->fault_reason, src->fault_reason)) &&
        !(rc = mc__set_str(&m->in_reply_to_mail, src->in_reply_to_mail)) &&
        !(m->body = mc__strndup(src->body ? src->body : "", src->body_len)))
        rc = mc__error_set(MC_ENOMEM, "out of memory");
    for (size_t i = 0; i < src->nheaders && !rc; i++) {
        char *h = mc__strdup(src->headers[i]);
        if (!h || push_header(m, h)) {
            free(h);
            rc = mc__error_set(MC_ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < src->props.cap && !rc; i++) {
        void *v;
        const char *k = mc__strmap_slot(&src->props, i, &v);
        if (k)
            rc = mc_message_set_property(m, k, v);
    }
    if (rc) {
        mc_message_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
