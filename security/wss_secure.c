/* wss_secure.c - sending: sign, then encrypt (WS-Security 1.0, X.509).
 *
 * Security header, in this order: Timestamp, BinarySecurityToken (ours),
 * one EncryptedKey per recipient certificate (with its ReferenceList), then
 * the Signature - or, with encrypt_signature, the EncryptedData holding it.
 * Signed: Timestamp, every WS-Addressing header, Body. The Body's content
 * becomes an EncryptedData of type Content. xmlsec does the XML-DSig and
 * XML-Enc work; this file builds the templates around it. */
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <xmlsec/templates.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlenc.h>
#include <xmlsec/openssl/crypto.h>
#include "wss_int.h"

#define MAX_SIGNED 32

typedef struct {
    mc__wss *w;
    xmlDocPtr doc;
    xmlNodePtr root, header, body, security, signature;
    xmlNsPtr wsu, wsse;
    char idp[12]; /* random prefix: our Ids cannot collide with the body's */
    unsigned next_id;
    const mc__wss_cert *to[16];
    size_t nto;
    unsigned char key[32]; /* the session key */
} job;

static int oom(void) { return mc__error_set(MC_ENOMEM, "out of memory"); }

static const xmlChar *set_id(job *j, xmlNodePtr n, const char *kind)
{
    const xmlChar *id = mc__wss_id_of(n);
    char buf[64];
    if (id)
        return id;
    snprintf(buf, sizeof(buf), "%s-%s%u", kind, j->idp, j->next_id++);
    xmlAttrPtr a = xmlNewNsProp(n, j->wsu, BAD_CAST "Id", BAD_CAST buf);
    return a ? a->children->content : NULL;
}

static xmlNodePtr add(xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *text)
{
    return xmlNewTextChild(parent, ns, BAD_CAST name, BAD_CAST text);
}

static int find_parts(job *j)
{
    const xmlChar *sns;
    j->root = xmlDocGetRootElement(j->doc);
    if (!j->root || !j->root->ns)
        return mc__error_set(MC_EINVAL, "not a SOAP envelope");
    sns = j->root->ns->href;
    j->header = mc__wss_child(j->root, (const char *)sns, "Header");
    j->body = mc__wss_child(j->root, (const char *)sns, "Body");
    if (!j->body)
        return mc__error_set(MC_EINVAL, "the envelope has no Body");
    if (!j->header) {
        if (!(j->header = xmlNewDocNode(j->doc, j->root->ns, BAD_CAST "Header", NULL)) ||
            !xmlAddPrevSibling(j->body, j->header))
            return oom();
    }
    if (!(j->wsu = xmlNewNs(j->root, BAD_CAST NS_WSU, BAD_CAST "wsu")))
        return mc__error_set(MC_EINVAL, "the envelope already binds the prefix wsu");
    return 0;
}

static int pick_recipients(job *j, const char *const *to, size_t nto)
{
    if (!j->w->s.encrypt)
        return 0;
    if (nto == 0)
        return mc__error_set(MC_EINVAL, "no recipient to encrypt for");
    for (size_t i = 0; i < nto; i++) {
        const mc__wss_cert *c = mc__wss_peer_for(j->w, to[i]);
        bool dup = false;
        if (!c)
            return MC_ENOTFOUND;
        if (X509_cmp_time(X509_get0_notAfter(c->cert), NULL) <= 0)
            return mc__error_set(MC_ESECURITY, "the recipient certificate for %s has expired", to[i]);
        for (size_t k = 0; k < j->nto; k++)
            dup |= j->to[k] == c;
        if (dup)
            continue;
        if (j->nto == MC_ARRAY_SIZE(j->to))
            return mc__error_set(MC_EINVAL, "more than %zu recipient certificates", MC_ARRAY_SIZE(j->to));
        j->to[j->nto++] = c;
    }
    return 0;
}

static int add_security_header(job *j)
{
    char created[32], expires[32];
    int64_t now = mc__wss_now(j->w);
    xmlNodePtr ts, bst;
    if (!(j->security = xmlNewDocNode(j->doc, NULL, BAD_CAST "Security", NULL)) ||
        !(j->wsse = xmlNewNs(j->security, BAD_CAST NS_WSSE, BAD_CAST "wsse")))
        return oom();
    xmlSetNs(j->security, j->wsse);
    xmlNewNsProp(j->security, j->root->ns, BAD_CAST "mustUnderstand",
                 BAD_CAST(strcmp((const char *)j->root->ns->href, NS_SOAP11) ? "true" : "1"));
    if (j->header->children)
        xmlAddPrevSibling(j->header->children, j->security);
    else
        xmlAddChild(j->header, j->security);
    mc__format_rfc3339(now, created);
    mc__format_rfc3339(now + j->w->s.timestamp_validity_ms / 1000, expires);
    if (!(ts = xmlNewChild(j->security, j->wsu, BAD_CAST "Timestamp", NULL)) || !set_id(j, ts, "TS") ||
        !add(ts, j->wsu, "Created", created) || !add(ts, j->wsu, "Expires", expires) ||
        !(bst = add(j->security, j->wsse, "BinarySecurityToken", j->w->self_b64)) ||
        !set_id(j, bst, "X509") || !xmlNewProp(bst, BAD_CAST "ValueType", BAD_CAST VT_X509V3) ||
        !xmlNewProp(bst, BAD_CAST "EncodingType", BAD_CAST ENC_BASE64))
        return oom();
    return 0;
}

static int add_reference(job *j, xmlNodePtr sig, xmlNodePtr target, const char *kind)
{
    const xmlChar *id = set_id(j, target, kind);
    char uri[80];
    xmlNodePtr ref;
    if (!id)
        return oom();
    snprintf(uri, sizeof(uri), "#%s", (const char *)id);
    if (!(ref = xmlSecTmplSignatureAddReference(sig, j->w->suite->digest_id(), NULL, BAD_CAST uri, NULL)) ||
        !xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId))
        return oom();
    return 0;
}

static int sign(job *j)
{
    xmlNodePtr sig, ki, str, ref, bst;
    xmlSecDSigCtxPtr ctx = NULL;
    char uri[80];
    int rc = 0;
    if (!(sig = xmlSecTmplSignatureCreateNsPref(j->doc, xmlSecTransformExclC14NId,
                                                j->w->suite->signature_id(), NULL, BAD_CAST "ds")))
        return oom();
    xmlAddChild(j->security, sig);
    j->signature = sig;
    if ((rc = add_reference(j, sig, mc__wss_child(j->security, NS_WSU, "Timestamp"), "TS")))
        return rc;
    for (xmlNodePtr h = j->header->children; h; h = h->next)
        if (h->type == XML_ELEMENT_NODE && h->ns && !strcmp((const char *)h->ns->href, NS_WSA) &&
            (rc = add_reference(j, sig, h, "A")))
            return rc;
    if ((rc = add_reference(j, sig, j->body, "B")))
        return rc;
    bst = mc__wss_child(j->security, NS_WSSE, "BinarySecurityToken");
    snprintf(uri, sizeof(uri), "#%s", (const char *)mc__wss_id_of(bst));
    if (!(ki = xmlSecTmplSignatureEnsureKeyInfo(sig, NULL)) ||
        !(str = xmlNewChild(ki, j->wsse, BAD_CAST "SecurityTokenReference", NULL)) ||
        !(ref = xmlNewChild(str, j->wsse, BAD_CAST "Reference", NULL)) ||
        !xmlNewProp(ref, BAD_CAST "URI", BAD_CAST uri) ||
        !xmlNewProp(ref, BAD_CAST "ValueType", BAD_CAST VT_X509V3))
        return oom();
    if ((rc = mc__wss_register_ids(j->doc)))
        return rc == MC_ESECURITY ? mc__error_set(MC_EINVAL, "%s", mc_error_last()) : rc;
    if (!(ctx = xmlSecDSigCtxCreate(NULL)) || !(ctx->signKey = xmlSecKeyDuplicate(j->w->self.key))) {
        xmlSecDSigCtxDestroy(ctx);
        return oom();
    }
    ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
    if (xmlSecDSigCtxSign(ctx, sig) < 0)
        rc = mc__error_set(MC_ESECURITY, "xmlsec cannot sign the message");
    xmlSecDSigCtxDestroy(ctx);
    return rc;
}

/* encrypts node (its content, or the whole element) under the session key;
 * returns the EncryptedData's Id through *id */
static int encrypt_node(job *j, xmlNodePtr node, bool content, char *id, size_t idlen)
{
    xmlNodePtr ed;
    xmlSecEncCtxPtr ctx = NULL;
    int rc = 0;
    snprintf(id, idlen, "ED-%s%u", j->idp, j->next_id++);
    if (!(ed = xmlSecTmplEncDataCreate(j->doc, xmlSecOpenSSLTransformAes256CbcId, BAD_CAST id,
                                       content ? xmlSecTypeEncContent : xmlSecTypeEncElement, NULL, NULL)) ||
        !xmlSecTmplEncDataEnsureCipherValue(ed))
        goto nomem;
    if (!(ctx = xmlSecEncCtxCreate(NULL)) ||
        !(ctx->encKey = xmlSecKeyReadMemory(xmlSecOpenSSLKeyDataAesId, j->key, sizeof(j->key))))
        goto nomem;
    if (xmlSecEncCtxXmlEncrypt(ctx, ed, node) < 0) {
        rc = mc__error_set(MC_ESECURITY, "xmlsec cannot encrypt the message");
        xmlFreeNode(ed);
    }
    xmlSecEncCtxDestroy(ctx);
    return rc;
nomem:
    xmlSecEncCtxDestroy(ctx);
    xmlFreeNode(ed);
    return oom();
}

static int add_key_info(job *j, xmlNodePtr ek, const mc__wss_cert *c)
{
    mc__wss_keyid how = j->w->s.keyid;
    xmlNsPtr ds;
    xmlNodePtr ki, str, n, is;
    char *b64 = NULL;
    if (how == MC__KEYID_SKI && !c->ski_len)
        how = MC__KEYID_ISSUER_SERIAL; /* a certificate without the extension */
    if (!(ki = xmlNewChild(ek, NULL, BAD_CAST "KeyInfo", NULL)) ||
        !(ds = xmlNewNs(ki, BAD_CAST NS_DS, BAD_CAST "ds")))
        return oom();
    xmlSetNs(ki, ds);
    if (!(str = xmlNewChild(ki, j->wsse, BAD_CAST "SecurityTokenReference", NULL)))
        return oom();
    if (how == MC__KEYID_ISSUER_SERIAL) {
        if (!(n = xmlNewChild(str, ds, BAD_CAST "X509Data", NULL)) ||
            !(is = xmlNewChild(n, ds, BAD_CAST "X509IssuerSerial", NULL)) ||
            !add(is, ds, "X509IssuerName", c->issuer) || !add(is, ds, "X509SerialNumber", c->serial))
            return oom();
        return 0;
    }
    b64 = how == MC__KEYID_SKI ? mc__wss_b64(c->ski, c->ski_len) : mc__wss_b64(c->thumbprint, 20);
    if (!b64 || !(n = add(str, j->wsse, "KeyIdentifier", b64)) ||
        !xmlNewProp(n, BAD_CAST "ValueType", BAD_CAST(how == MC__KEYID_SKI ? VT_SKI : VT_THUMBPRINT)) ||
        !xmlNewProp(n, BAD_CAST "EncodingType", BAD_CAST ENC_BASE64)) {
        free(b64);
        return oom();
    }
    free(b64);
    return 0;
}

static int add_encrypted_key(job *j, const mc__wss_cert *c, xmlNodePtr before, char ids[][48], size_t nids)
{
    xmlNodePtr ek, em, cd, rl, dr;
    xmlNsPtr xenc;
    xmlSecEncCtxPtr ctx = NULL;
    char eid[48], uri[128];
    int rc;
    snprintf(eid, sizeof(eid), "EK-%s%u", j->idp, j->next_id++);
    if (!(ek = xmlNewDocNode(j->doc, NULL, BAD_CAST "EncryptedKey", NULL)) ||
        !(xenc = xmlNewNs(ek, BAD_CAST NS_XENC, BAD_CAST "xenc")))
        return oom();
    xmlSetNs(ek, xenc);
    xmlAddPrevSibling(before, ek);
    if (!xmlNewProp(ek, BAD_CAST "Id", BAD_CAST eid) ||
        !(em = xmlNewChild(ek, xenc, BAD_CAST "EncryptionMethod", NULL)) ||
        !xmlNewProp(em, BAD_CAST "Algorithm", BAD_CAST j->w->suite->key_wrap))
        return oom();
    if (!strcmp(j->w->suite->key_wrap, ALG_OAEP)) {
        xmlNodePtr dm = xmlNewChild(em, NULL, BAD_CAST "DigestMethod", NULL);
        if (!dm || !xmlNewProp(dm, BAD_CAST "Algorithm", BAD_CAST ALG_SHA1))
            return oom();
        xmlSetNs(dm, xmlNewNs(dm, BAD_CAST NS_DS, BAD_CAST "ds"));
    }
    if ((rc = add_key_info(j, ek, c)))
        return rc;
    if (!(cd = xmlNewChild(ek, xenc, BAD_CAST "CipherData", NULL)) ||
        !xmlNewChild(cd, xenc, BAD_CAST "CipherValue", NULL) ||
        !(rl = xmlNewChild(ek, xenc, BAD_CAST "ReferenceList", NULL)))
        return oom();
    for (size_t i = 0; i < nids; i++) {
        snprintf(uri, sizeof(uri), "#%s", ids[i]);
        if (!(dr = xmlNewChild(rl, xenc, BAD_CAST "DataReference", NULL)) ||
            !xmlNewProp(dr, BAD_CAST "URI", BAD_CAST uri))
            return oom();
    }
    if (!(ctx = xmlSecEncCtxCreate(NULL)) || !(ctx->encKey = xmlSecKeyDuplicate(c->key))) {
        xmlSecEncCtxDestroy(ctx);
        return oom();
    }
    ctx->mode = xmlEncCtxModeEncryptedKey;
    rc = xmlSecEncCtxBinaryEncrypt(ctx, ek, j->key, sizeof(j->key)) < 0
             ? mc__error_set(MC_ESECURITY, "xmlsec cannot encrypt the session key")
             : 0;
    xmlSecEncCtxDestroy(ctx);
    return rc;
}

static int encrypt(job *j)
{
    char ids[2][48];
    size_t nids = 0;
    xmlNodePtr anchor = j->signature;
    int rc;
    if (RAND_bytes(j->key, sizeof(j->key)) != 1)
        return mc__error_set(MC_ESECURITY, "no random bytes for the session key");
    if ((rc = encrypt_node(j, j->body, true, ids[nids++], sizeof(ids[0]))))
        return rc;
    if (j->w->s.encrypt_signature) {
        xmlNodePtr prev = j->signature->prev;
        if ((rc = encrypt_node(j, j->signature, false, ids[nids++], sizeof(ids[0]))))
            return rc;
        anchor = prev ? prev->next : j->security->children;
        while (anchor && anchor->type != XML_ELEMENT_NODE)
            anchor = anchor->next;
    }
    for (size_t i = 0; i < j->nto; i++)
        if ((rc = add_encrypted_key(j, j->to[i], anchor, ids, nids)))
            return rc;
    return 0;
}

int mc__wss_secure(mc__wss *w, const char *env, size_t len, const char *const *to, size_t nto, char **out,
                   size_t *out_len)
{
    job j;
    unsigned char r[4];
    int rc;
    memset(&j, 0, sizeof(j));
    j.w = w;
    if (RAND_bytes(r, sizeof(r)) != 1)
        return mc__error_set(MC_ESECURITY, "no random bytes");
    snprintf(j.idp, sizeof(j.idp), "%02x%02x%02x%02x-", r[0], r[1], r[2], r[3]);
    if ((rc = pick_recipients(&j, to, nto)) || (rc = mc__xml_parse(&j.doc, env, len, len + 1, "envelope")))
        return rc;
    if (!(rc = find_parts(&j)) && !(rc = add_security_header(&j)) && !(rc = sign(&j)) &&
        !(rc = w->s.encrypt ? encrypt(&j) : 0))
        rc = mc__wss_serialize(j.doc, out, out_len);
    OPENSSL_cleanse(j.key, sizeof(j.key));
    xmlFreeDoc(j.doc);
    ERR_clear_error();
    return rc;
}
