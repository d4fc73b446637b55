/* soap.h - EWS SOAP: requests written as text with every value escaped, and
 * responses read through the core's one hardened XML parser, namespace-aware
 * (any prefix; Exchange 2007-era and modern shapes alike). Every field read
 * from a response is untrusted: lengths are bounded, numbers range-checked. */
#ifndef MC_EWS_SOAP_H
#define MC_EWS_SOAP_H

#include <libxml/tree.h>
#include "transport_int.h"

#define MC__EWS_NS_SOAP "http://schemas.xmlsoap.org/soap/envelope/"
#define MC__EWS_NS_M "http://schemas.microsoft.com/exchange/services/2006/messages"
#define MC__EWS_NS_T "http://schemas.microsoft.com/exchange/services/2006/types"
#define MC__EWS_NS_E "http://schemas.microsoft.com/exchange/services/2006/errors"

/* The SOAP header every request carries. */
typedef struct {
    const char *server_version; /* RequestServerVersion Version */
    const char *impersonate;    /* ExchangeImpersonation PrimarySmtpAddress, or NULL */
} mc__ews_header;

/* The envelope around a body fragment (m:/t: prefixes declared). */
char *mc__ews_envelope(const mc__ews_header *h, const char *body, size_t *len);

/* A parsed response: the first element in soap:Body, or the fault read out. */
typedef struct {
    xmlDoc *doc;
    xmlNode *op; /* e.g. m:FindItemResponse; NULL for a fault */
    bool fault;
    char code[64];  /* fault: the EWS ResponseCode (e.g. ErrorServerBusy) or faultcode */
    char text[256]; /* fault: its message, printable */
    int backoff_ms; /* fault: BackOffMilliseconds, or 0 */
} mc__ews_response;

/* Parses a response body of at most max octets. MC_EPROTO for anything that
 * is not a SOAP envelope with a body. */
int mc__ews_parse(mc__ews_response *out, const char *xml, size_t len, size_t max);
void mc__ews_response_free(mc__ews_response *r);

/* Navigation, namespace-aware: the first element child named ns:name (name
 * NULL: any), and the next element sibling with the same rule. */
xmlNode *mc__ews_child(const xmlNode *n, const char *ns, const char *name);
xmlNode *mc__ews_next(const xmlNode *n, const char *ns, const char *name);
/* An element's text, printable and bounded, into buf; "" when absent. */
const char *mc__ews_text(const xmlNode *n, char *buf, size_t cap);
/* An attribute's value, bounded, into buf; "" when absent. */
const char *mc__ews_attr(const xmlNode *n, const char *name, char *buf, size_t cap);

/* The outcome of one m:*ResponseMessage: 0 for Success or Warning; else
 * MC_ENOTFOUND (ErrorItemNotFound, ErrorFolderNotFound), MC_EBUSY
 * (ErrorServerBusy; *backoff_ms set when given), MC_EAUTH (access denied),
 * MC_EPROTO (any other), with code/text for the error. */
int mc__ews_message_status(const xmlNode *msg, char code[64], char text[256], int *backoff_ms);

/* base64 of raw bytes into b (76-column lines are not needed in XML). */
void mc__ews_put_base64(mc__buf *b, const char *data, size_t len);
/* Decodes base64 text (white space skipped) of at most max decoded octets;
 * *truncated when there was more. MC_EPROTO for text that is not base64. */
int mc__ews_base64_decode(const char *text, size_t max, char **out, size_t *len, bool *truncated);

#endif
