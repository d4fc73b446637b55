/* wss_int.h - shared by the files of security/. */
#ifndef MC_WSS_INT_H
#define MC_WSS_INT_H

#include <pthread.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/keys.h>
#include <xmlsec/transforms.h>
#include "wss.h"

#define NS_WSSE "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
#define NS_WSU "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
#define NS_WSSE11 "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
#define NS_DS "http://www.w3.org/2000/09/xmldsig#"
#define NS_XENC "http://www.w3.org/2001/04/xmlenc#"
#define NS_WSA "http://www.w3.org/2005/08/addressing"
#define NS_SOAP12 "http://www.w3.org/2003/05/soap-envelope"
#define NS_SOAP11 "http://schemas.xmlsoap.org/soap/envelope/"
#define X509_TOKEN "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0"
#define VT_X509V3 X509_TOKEN "#X509v3"
#define VT_SKI X509_TOKEN "#X509SubjectKeyIdentifier"
#define VT_THUMBPRINT "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1"
#define ENC_BASE64 \
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
#define ALG_EXC_C14N "http://www.w3.org/2001/10/xml-exc-c14n#"
#define ALG_AES256 "http://www.w3.org/2001/04/xmlenc#aes256-cbc"
#define ALG_RSA15 "http://www.w3.org/2001/04/xmlenc#rsa-1_5"
#define ALG_OAEP "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
#define ALG_SHA1 "http://www.w3.org/2000/09/xmldsig#sha1"
#define ALG_SHA256 "http://www.w3.org/2001/04/xmlenc#sha256"
#define ALG_RSA_SHA1 "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
#define ALG_RSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
#define TYPE_CONTENT "http://www.w3.org/2001/04/xmlenc#Content"
#define TYPE_ELEMENT "http://www.w3.org/2001/04/xmlenc#Element"

/* an algorithm suite: URIs for the checks, xmlsec transforms for the work */
typedef struct {
    const char *name;
    const char *digest, *signature, *key_wrap;
    xmlSecTransformId (*digest_id)(void);
    xmlSecTransformId (*signature_id)(void);
    xmlSecTransformId (*key_wrap_id)(void);
} mc__wss_suite;
const mc__wss_suite *mc__wss_suite_get(mc__wss_suite_id id);

/* a certificate with what identifies it in a SecurityTokenReference */
typedef struct {
    X509 *cert;
    xmlSecKeyPtr key; /* public (peers) or private (our own) key for xmlsec */
    unsigned char ski[64];
    size_t ski_len; /* 0: the certificate has no SubjectKeyIdentifier */
    unsigned char thumbprint[20];
    char *issuer;  /* RFC 2253 */
    char *serial;  /* decimal */
    char **emails; /* subjectAltName rfc822Name and subject emailAddress, lower case */
    size_t nemails;
} mc__wss_cert;

typedef struct mc__wss_replay mc__wss_replay;

/* senders' certificates already verified: a chain check and DER decoding
 * per message would cost as much as the RSA work itself */
#define MC__WSS_CERT_CACHE 16
typedef struct {
    unsigned char hash[32]; /* SHA-256 of the DER */
    X509 *cert;
    int64_t valid_from, valid_until; /* the whole chain's validity */
} mc__wss_known_cert;

typedef struct {
    mc__envelope_filter parent;
    mc__wss_settings s; /* strings not kept */
    const mc__wss_suite *suite;
    mc__wss_cert self;   /* our certificate and private key */
    char *self_b64;      /* DER of our certificate, base64, for the BinarySecurityToken */
    mc__wss_cert *peers; /* recipients' certificates */
    size_t npeers;
    X509_STORE *trust; /* for senders' certificates */
    mc__wss_replay *replay;
    pthread_mutex_t cert_lock;
    mc__wss_known_cert certs[MC__WSS_CERT_CACHE];
    unsigned next_cert;
} mc__wss;

/* xmlsec, once per process */
int mc__wss_global_init(void);

/* keys (wss_keys.c) */
int mc__wss_load_self(mc__wss *w, const char *cert, const char *key, const char *password);
int mc__wss_load_peers(mc__wss *w, const char *path);
int mc__wss_load_trust(mc__wss *w, const char *ca_file, const char *ca_path);
void mc__wss_cert_clear(mc__wss_cert *c);
/* a name as RFC 2253 text (malloc'ed), NULL when out of memory */
char *mc__wss_name_text(const X509_NAME *name);
int mc__wss_cert_fill(mc__wss_cert *c, X509 *cert, EVP_PKEY *pkey);
/* the certificate for one destination address; MC_ENOTFOUND when none */
const mc__wss_cert *mc__wss_peer_for(const mc__wss *w, const char *address);
/* checks a sender's certificate: chain, validity at `now`, purpose; the
 * chain's validity window goes to *from, *until */
int mc__wss_check_sender(const mc__wss *w, X509 *cert, int64_t now, int64_t *from, int64_t *until);
/* the verified certificate with this DER (a new reference), or NULL: a
 * known one from the cache, else decoded and checked, then remembered */
X509 *mc__wss_sender_cert(mc__wss *w, const unsigned char *der, size_t len, int64_t now);
/* whether a wsse:SecurityTokenReference (or ds:KeyInfo holding one) names c */
bool mc__wss_str_matches(xmlNodePtr keyinfo, const mc__wss_cert *c);

/* replay cache (wss_replay.c): 0, or MC_ESECURITY when value was seen with
 * another mail id before `expires` (unix seconds). With a state store, what
 * it holds is written there too and read back (the live entries, up to the
 * capacity) when it is created, so a restart forgets nothing. */
int mc__wss_replay_new(mc__wss_replay **out, size_t capacity, mc__state *state);
void mc__wss_replay_free(mc__wss_replay *r);
int mc__wss_replay_check(mc__wss_replay *r, const unsigned char *value, size_t len, const char *mail_id,
                         int64_t expires, int64_t now);

/* XML helpers (wss_xml.c) */
bool mc__wss_is(const xmlNode *n, const char *ns, const char *name);
xmlNodePtr mc__wss_child(xmlNodePtr parent, const char *ns, const char *name);
size_t mc__wss_count_children(xmlNodePtr parent, const char *ns, const char *name);
/* the value of an attribute in no namespace or in ns */
char *mc__wss_attr(const xmlNode *n, const char *name, const char *ns);
/* the wsu:Id or Id of an element, borrowed */
const xmlChar *mc__wss_id_of(const xmlNode *n);
/* registers every Id attribute as an XML ID; MC_ESECURITY on a duplicate */
int mc__wss_register_ids(xmlDocPtr doc);
int64_t mc__wss_now(const mc__wss *w);
/* base64 of data, without line breaks; NULL when out of memory */
char *mc__wss_b64(const unsigned char *data, size_t len);
/* decodes base64 text (white space allowed); returns length or -1 */
int mc__wss_unb64(const xmlChar *text, unsigned char *out, size_t cap);

/* the document without an XML declaration */
int mc__wss_serialize(xmlDocPtr doc, char **out, size_t *out_len);

/* the two directions */
int mc__wss_secure(mc__wss *w, const char *env, size_t len, const char *const *to, size_t nto, char **out,
                   size_t *out_len);
int mc__wss_unsecure(mc__wss *w, const char *env, size_t len, size_t max, const char *mail_id, char **out,
                     size_t *out_len, char **subject);

#endif
