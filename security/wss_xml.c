/* wss_xml.c - small XML helpers for WS-Security processing. */
#include <string.h>
#include <time.h>
#include <limits.h>
#include <libxml/parser.h>
#include <libxml/valid.h>
#include <libxml/xmlsave.h>
#include <openssl/evp.h>
#include <xmlsec/base64.h>
#include "wss_int.h"

bool mc__wss_is(const xmlNode *n, const char *ns, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href && !strcmp((const char *)n->name, name) &&
           !strcmp((const char *)n->ns->href, ns);
}

xmlNodePtr mc__wss_child(xmlNodePtr parent, const char *ns, const char *name)
{
    for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
        if (mc__wss_is(c, ns, name))
            return c;
    return NULL;
}

size_t mc__wss_count_children(xmlNodePtr parent, const char *ns, const char *name)
{
    size_t n = 0;
    for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
        n += mc__wss_is(c, ns, name);
    return n;
}

char *mc__wss_attr(const xmlNode *n, const char *name, const char *ns)
{
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
    if (!v && ns)
        v = xmlGetNsProp(n, (const xmlChar *)name, (const xmlChar *)ns);
    return (char *)v;
}

/* Id attributes: wsu:Id (WS-Security), Id (XML-DSig, XML-Enc), xml:id */
static bool is_id_attr(const xmlAttr *a)
{
    if (!strcmp((const char *)a->name, "Id"))
        return !a->ns || !strcmp((const char *)a->ns->href, NS_WSU);
    return !strcmp((const char *)a->name, "id") && a->ns &&
           !strcmp((const char *)a->ns->href, "http://www.w3.org/XML/1998/namespace");
}

const xmlChar *mc__wss_id_of(const xmlNode *n)
{
    for (const xmlAttr *a = n ? n->properties : NULL; a; a = a->next)
        if (is_id_attr(a) && a->children && a->children->type == XML_TEXT_NODE)
            return a->children->content;
    return NULL;
}

static int register_node(xmlDocPtr doc, xmlNodePtr n)
{
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        for (xmlAttrPtr a = n->properties; a; a = a->next) {
            xmlChar *v;
            xmlAttrPtr known;
            if (!is_id_attr(a))
                continue;
            if (!(v = xmlNodeListGetString(doc, a->children, 1)))
                return mc__error_set(MC_ESECURITY, "an Id attribute is empty");
            known = xmlGetID(doc, v);
            if (known && known != a) {
                mc__error_set(MC_ESECURITY, "the Id \"%.60s\" appears twice (signature wrapping?)",
                              (const char *)v);
                xmlFree(v);
                return MC_ESECURITY;
            }
            if (!known && !xmlAddID(NULL, doc, v, a)) {
                xmlFree(v);
                return mc__error_set(MC_ENOMEM, "out of memory");
            }
            xmlFree(v);
        }
        if (n->children) {
            int rc = register_node(doc, n->children);
            if (rc)
                return rc;
        }
    }
    return 0;
}

int mc__wss_register_ids(xmlDocPtr doc) { return register_node(doc, xmlDocGetRootElement(doc)); }

int64_t mc__wss_now(const mc__wss *w) { return w->s.now_override ? w->s.now_override : (int64_t)time(NULL); }

char *mc__wss_b64(const unsigned char *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

int mc__wss_unb64(const xmlChar *text, unsigned char *out, size_t cap)
{
    xmlSecSize n = 0;
    if (!text || cap > INT_MAX || xmlSecBase64Decode_ex(text, out, (xmlSecSize)cap, &n) < 0)
        return -1;
    return (int)n;
}

int mc__wss_serialize(xmlDocPtr doc, char **out, size_t *out_len)
{
    xmlBufferPtr buf = xmlBufferCreate();
    xmlSaveCtxtPtr save;
    int rc = 0;
    if (!buf || !(save = xmlSaveToBuffer(buf, "UTF-8", XML_SAVE_NO_DECL))) {
        xmlBufferFree(buf);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    if (xmlSaveDoc(save, doc) < 0 || xmlSaveClose(save) < 0)
        rc = mc__error_set(MC_ENOMEM, "out of memory");
    else if (!(*out = mc__strndup((const char *)xmlBufferContent(buf), (size_t)xmlBufferLength(buf))))
        rc = mc__error_set(MC_ENOMEM, "out of memory");
    else
        *out_len = (size_t)xmlBufferLength(buf);
    xmlBufferFree(buf);
    return rc;
}
