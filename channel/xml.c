/* xml.c - the one hardened path by which untrusted XML is parsed.
 *
 * Size is checked before the parser sees a byte; so are attributes per
 * element, by a linear pre-scan (libxml2 2.9 checks an element's attributes
 * for duplicates in O(n^2), before any callback of ours can run), which
 * needs the input in UTF-8 (anything else would hide the markup from it:
 * the encoding declaration is ignored, UTF-16 and the like refused). Any DTD
 * (internal or external subset) stops the parser, so no entity can be
 * declared and none expanded; the parser never loads anything from the
 * network or disk; nesting and the namespace declarations in scope (every
 * name is looked up through all of them) are bounded at each element;
 * libxml2 prints nothing. The parser runs in recovery mode so that our
 * callbacks, and with them the limits, stay on after a well-formedness
 * error (without it libxml2 keeps parsing with callbacks off); the first
 * error stops it at the next element, and the document is refused. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <libxml/encoding.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/xmlversion.h>
#include "internal.h"

enum { REFUSED_NONE = 0, REFUSED_DTD, REFUSED_DEPTH, REFUSED_NAMESPACES };

typedef struct {
    int why;         /* REFUSED_* */
    bool have_error; /* the first error of the parse, kept for the reason */
    int line;
    char detail[128];
} parse_state;

#if LIBXML_VERSION >= 21200
typedef const xmlError lib_error;
#else
typedef xmlError lib_error;
#endif

/* True if a start tag of data has more than MC_XML_MAX_ATTRIBUTES
 * attributes, in one pass. It counts an upper bound of what libxml2 reads:
 * a tag runs from a '<' to the next '>' outside a quoted value, or to the
 * next '<' (libxml2 never takes a '<' into a tag); libxml2 reads
 * attributes only while they are name="value" or name='value', so each has
 * its own '=' outside quotes, and a value opens with a quote after '='.
 * Comments, CDATA sections and processing instructions are scanned alike:
 * what they hold can only raise the count, never hide a tag. */
#define MC__STR2(x) #x
#define MC__STR(x) MC__STR2(x)

static bool too_many_attributes(const char *data, size_t len)
{
    const char *p = data, *end = data + len;
    while ((p = memchr(p, '<', (size_t)(end - p)))) {
        unsigned n = 0;
        char quote = 0;
        bool after_eq = false;
        for (p++; p < end && *p != '<'; p++) {
            char c = *p;
            if (quote) {
                if (c == quote)
                    quote = 0;
            } else if (c == '>') {
                break;
            } else if (c == '=') {
                if (++n > MC_XML_MAX_ATTRIBUTES)
                    return true;
                after_eq = true;
            } else if ((c == '"' || c == '\'') && after_eq) {
                quote = c;
                after_eq = false;
            } else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
                after_eq = false;
            }
        }
    }
    return false;
}

/* Declarations of namespaces in data (an upper bound of those in scope at
 * any element), counted without parsing. */
static size_t namespace_declarations(const char *data, size_t len)
{
    size_t n = 0;
    for (const char *p = data, *end = data + len; (p = memmem(p, (size_t)(end - p), "xmlns", 5)); p += 5)
        n++;
    return n;
}

const char *mc__xml_prescan(const char *data, size_t len)
{
    if (too_many_attributes(data, len))
        return "an element has more than " MC__STR(MC_XML_MAX_ATTRIBUTES) " attributes";
    if (namespace_declarations(data, len) > MC_XML_MAX_NAMESPACES)
        return "more than " MC__STR(MC_XML_MAX_NAMESPACES) " namespace declarations";
    return NULL;
}

static void refuse(xmlParserCtxtPtr ctxt, int why)
{
    parse_state *st = ctxt->_private;
    if (!st->why)
        st->why = why;
    xmlStopParser(ctxt);
}

static void deny_subset(void *ctx, const xmlChar *name, const xmlChar *eid, const xmlChar *sid)
{
    refuse((xmlParserCtxtPtr)ctx, REFUSED_DTD);
}

static void deny_entity(void *ctx, const xmlChar *name, int type, const xmlChar *pid, const xmlChar *sid,
                        xmlChar *content)
{
    refuse((xmlParserCtxtPtr)ctx, REFUSED_DTD);
}

static void bounded_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
                          int nb_namespaces, const xmlChar **namespaces, int nb_attributes, int nb_defaulted,
                          const xmlChar **attributes)
{
    xmlParserCtxtPtr ctxt = ctx;
    if (!ctxt->wellFormed || !ctxt->nsWellFormed) {
        xmlStopParser(ctxt); /* refused already: read no further */
        return;
    }
    if (ctxt->nameNr > MC_XML_MAX_DEPTH) {
        refuse(ctxt, REFUSED_DEPTH);
        return;
    }
    if (ctxt->nsNr / 2 > MC_XML_MAX_NAMESPACES) { /* nsTab holds prefix, URI pairs */
        refuse(ctxt, REFUSED_NAMESPACES);
        return;
    }
    xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_namespaces, namespaces, nb_attributes, nb_defaulted,
                          attributes);
}

/* Keeps the first error (recovery mode goes on to report its sequels). */
static void first_error(void *ctx, lib_error *e)
{
    xmlParserCtxtPtr ctxt = ctx;
    parse_state *st = ctxt ? ctxt->_private : NULL;
    size_t l;
    if (!st || !e || e->level < XML_ERR_ERROR || st->have_error)
        return;
    st->have_error = true;
    st->line = e->line;
    snprintf(st->detail, sizeof(st->detail), "%s", e->message ? e->message : "namespace error");
    l = strlen(st->detail);
    while (l && (st->detail[l - 1] == '\n' || st->detail[l - 1] == ' '))
        st->detail[--l] = '\0'; /* libxml2 ends its messages with a newline */
    for (char *nl = st->detail; (nl = strchr(nl, '\n'));)
        *nl = ' '; /* and some have two lines */
}

static void quiet(void *ctx, const char *msg, ...) {}

int mc__xml_parse(xmlDoc **out, const char *data, size_t len, size_t max_size, const char *what)
{
    xmlParserCtxtPtr ctxt = NULL;
    xmlDocPtr doc = NULL;
    parse_state st = {0};
    xmlCharEncoding enc;
    int rc = 0;
    if (!data)
        return mc__error_set(MC_EINVAL, "%s: no data", what);
    if (len > max_size || len > INT_MAX)
        return mc__error_set(MC_ETOOBIG, "%s is %zu bytes, over the limit of %zu", what, len, max_size);
    if (len == 0)
        return mc__error_set(MC_EPROTO, "%s is empty", what);
    /* the pre-scan reads bytes as ASCII, so the parser must too: no UTF-16,
     * UCS-4 or EBCDIC (detected from the first bytes), and the encoding
     * declaration is ignored (XML_PARSE_IGNORE_ENC): the input is UTF-8 */
    enc = xmlDetectCharEncoding((const unsigned char *)data, len < 4 ? (int)len : 4);
    if (enc != XML_CHAR_ENCODING_NONE && enc != XML_CHAR_ENCODING_UTF8)
        return mc__error_set(MC_EPROTO, "%s is not UTF-8 (%s)", what,
                             xmlGetCharEncodingName(enc) ? xmlGetCharEncodingName(enc) : "?");
    if (too_many_attributes(data, len))
        return mc__error_set(MC_EPROTO,
                             "%s: an element has more than %d attributes (namespace declarations "
                             "included)",
                             what, MC_XML_MAX_ATTRIBUTES);
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
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_RECOVER |
                                XML_PARSE_IGNORE_ENC);
    ctxt->sax->internalSubset = deny_subset;
    ctxt->sax->externalSubset = deny_subset;
    ctxt->sax->entityDecl = deny_entity;
    ctxt->sax->startElementNs = bounded_start;
    ctxt->sax->serror = first_error;
    ctxt->sax->error = NULL;
    ctxt->sax->warning = NULL;
    ctxt->vctxt.error = NULL;
    ctxt->vctxt.warning = NULL;
    ctxt->_private = &st;
    xmlParseDocument(ctxt);
    doc = ctxt->myDoc;
    ctxt->myDoc = NULL;
    if (st.why == REFUSED_DTD) {
        rc = mc__error_set(MC_EPROTO, "%s: a DTD is not allowed", what);
    } else if (st.why == REFUSED_DEPTH) {
        rc = mc__error_set(MC_EPROTO, "%s: elements nested deeper than %d", what, MC_XML_MAX_DEPTH);
    } else if (st.why == REFUSED_NAMESPACES) {
        rc = mc__error_set(MC_EPROTO, "%s: more than %d namespace declarations in scope", what,
                           MC_XML_MAX_NAMESPACES);
    } else if (!ctxt->wellFormed || !ctxt->nsWellFormed || !doc) {
        if (!st.have_error) /* an error that did not reach first_error: the last one */
            first_error(ctxt, xmlCtxtGetLastError(ctxt));
        rc = mc__error_set(MC_EPROTO, "%s is not well-formed XML: line %d: %s", what, st.line,
                           st.have_error ? st.detail : "namespace error");
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
