/* xml.c - the one hardened path by which untrusted XML is parsed.
 *
 * Size is checked before the parser sees a byte; any DTD (internal or
 * external subset) stops the parser, so no entity can be declared and none
 * expanded; the parser never loads anything from the network or disk;
 * nesting is bounded by MC_XML_MAX_DEPTH; libxml2 prints nothing. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include "internal.h"

enum { REFUSED_NONE = 0, REFUSED_DTD, REFUSED_DEPTH };

static void refuse(xmlParserCtxtPtr ctxt, int why)
{
    if (!ctxt->_private)
        ctxt->_private = (void *)(intptr_t)why;
    xmlStopParser(ctxt);
}

static void deny_subset(void *ctx, const xmlChar *name, const xmlChar *eid, const xmlChar *sid)
{
    refuse((xmlParserCtxtPtr)ctx, REFUSED_DTD);
}

static void deny_entity(void *ctx, const xmlChar *name, int type, const xmlChar *pid,
                        const xmlChar *sid, xmlChar *content)
{
    refuse((xmlParserCtxtPtr)ctx, REFUSED_DTD);
}

static void bounded_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
                          const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
                          int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
    xmlParserCtxtPtr ctxt = ctx;
    if (ctxt->nameNr > MC_XML_MAX_DEPTH) {
        refuse(ctxt, REFUSED_DEPTH);
        return;
    }
    xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes,
                          nb_defaulted, attributes);
}

static void quiet(void *ctx, const char *msg, ...) {}

int mc__xml_parse(xmlDoc **out, const char *data, size_t len, size_t max_size, const char *what)
{
    xmlParserCtxtPtr ctxt = NULL;
    xmlDocPtr doc = NULL;
    int rc = 0, why;
    if (!data)
        return mc__error_set(MC_EINVAL, "%s: no data", what);
    if (len > max_size || len > INT_MAX)
        return mc__error_set(MC_ETOOBIG, "%s is %zu bytes, over the limit of %zu", what, len,
                             max_size);
    if (len == 0)
        return mc__error_set(MC_EPROTO, "%s is empty", what);
    /* libxml2 reports some errors (encoding) on its per-thread generic
     * channel before our context options apply: silence it while we parse */
    void *old_ctx = xmlGenericErrorContext;
    xmlGenericErrorFunc old_func = xmlGenericError;
    xmlSetGenericErrorFunc(NULL, quiet);
    ctxt = xmlCreateMemoryParserCtxt(data, (int)len);
    if (!ctxt) {
        xmlSetGenericErrorFunc(old_ctx, old_func);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    ctxt->sax->internalSubset = deny_subset;
    ctxt->sax->externalSubset = deny_subset;
    ctxt->sax->entityDecl = deny_entity;
    ctxt->sax->startElementNs = bounded_start;
    ctxt->sax->error = NULL;
    ctxt->sax->warning = NULL;
    ctxt->vctxt.error = NULL;
    ctxt->vctxt.warning = NULL;
    ctxt->_private = NULL;
    xmlParseDocument(ctxt);
    doc = ctxt->myDoc;
    ctxt->myDoc = NULL;
    why = (int)(intptr_t)ctxt->_private;
    if (why == REFUSED_DTD) {
        rc = mc__error_set(MC_EPROTO, "%s: a DTD is not allowed", what);
    } else if (why == REFUSED_DEPTH) {
        rc = mc__error_set(MC_EPROTO, "%s: elements nested deeper than %d", what,
                           MC_XML_MAX_DEPTH);
    } else if (!ctxt->wellFormed || !ctxt->nsWellFormed || !doc) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        char detail[128] = "namespace error";
        size_t l;
        if (e && e->message)
            snprintf(detail, sizeof(detail), "%s", e->message);
        l = strlen(detail);
        while (l && (detail[l - 1] == '\n' || detail[l - 1] == ' '))
            detail[--l] = '\0'; /* libxml2 ends its messages with a newline */
        rc = mc__error_set(MC_EPROTO, "%s is not well-formed XML: line %d: %s", what,
                           e ? e->line : 0, detail);
    }
    xmlFreeParserCtxt(ctxt);
    xmlSetGenericErrorFunc(old_ctx, old_func);
    if (rc) {
        xmlFreeDoc(doc);
        return rc;
    }
    *out = doc;
    return 0;
}

/* A fragment is checked by parsing it inside a wrapper element: a body is
 * any sequence of elements (white space and comments between them), a
 * header block exactly one element. */
int mc__xml_check_fragment(const char *xml, size_t len, bool single_element)
{
    mc__buf b;
    xmlDocPtr doc = NULL;
    xmlNodePtr n;
    size_t elements = 0;
    int rc;
    mc__buf_init(&b);
    mc__buf_puts(&b, "<mc-fragment>");
    mc__buf_put(&b, xml, len);
    mc__buf_puts(&b, "</mc-fragment>");
    if (b.failed)
        return mc__error_set(MC_ENOMEM, "out of memory");
    rc = mc__xml_parse(&doc, b.data, b.len, (size_t)64 << 20, "XML fragment");
    mc__buf_free(&b);
    if (rc)
        return rc;
    for (n = xmlDocGetRootElement(doc)->children; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE) {
            elements++;
        } else if (n->type == XML_TEXT_NODE) {
            if (!xmlIsBlankNode(n)) {
                rc = mc__error_set(MC_EPROTO, "XML fragment has text outside its elements");
                break;
            }
        } else if (n->type != XML_COMMENT_NODE && n->type != XML_PI_NODE) {
            rc = mc__error_set(MC_EPROTO, "XML fragment has unexpected content");
            break;
        }
    }
    if (!rc && single_element && elements != 1)
        rc = mc__error_set(MC_EPROTO, "a header block must be exactly one element");
    xmlFreeDoc(doc);
    return rc;
}
