/* wss_verify.c - receiving: decrypt, then verify, then check what was
 * signed. Lax layout: the Security header's children may come in any order,
 * and a ReferenceList may sit in the EncryptedKey or beside it.
 *
 * Against signature wrapping: every Id in the document is unique (checked
 * before and after decryption), references are same-document "#Id" only,
 * and the checks are on the nodes the references resolve to: the
 * Envelope's own Body, the Timestamp that is a direct child of the one
 * Security header, the WS-Addressing headers that are direct children of
 * the Header. Against RSA-1.5 padding oracles: a session key that cannot
 * be recovered is replaced by a random one and processing goes on, so
 * every decryption failure ends at the same place with the same error. */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlenc.h>
#include <xmlsec/xmltree.h>
#include <xmlsec/openssl/crypto.h>
#include <xmlsec/openssl/evp.h>
#include "wss_int.h"

#define UNDECRYPTABLE "the message cannot be decrypted (key transport or data decryption failed)"
#define MAX_CERT_DER 16384

typedef struct {
    mc__wss *w;
    xmlDocPtr doc;
    xmlNodePtr root, header, body, security, timestamp, my_key;
    const char *sns;
    int64_t now, created, expires;
    bool body_encrypted;
    unsigned char key[32];
    X509 *signer;
} vjob;

static int reject(const char *fmt, const char *arg)
{
    return mc__error_set(MC_ESECURITY, fmt, arg ? arg : "");
}

/* ---- structure ---- */

static int find_parts(vjob *j)
{
    xmlNodePtr r = j->root = xmlDocGetRootElement(j->doc);
    size_t n;
    if (!r || !r->ns || strcmp((const char *)r->name, "Envelope") ||
        (strcmp((const char *)r->ns->href, NS_SOAP12) && strcmp((const char *)r->ns->href, NS_SOAP11)))
        return reject("not a SOAP envelope%s", NULL);
    j->sns = (const char *)r->ns->href;
    if (mc__wss_count_children(r, j->sns, "Header") != 1 || mc__wss_count_children(r, j->sns, "Body") != 1)
        return reject("the envelope needs exactly one Header and one Body%s", NULL);
    j->header = mc__wss_child(r, j->sns, "Header");
    j->body = mc__wss_child(r, j->sns, "Body");
    n = mc__wss_count_children(j->header, NS_WSSE, "Security");
    if (n == 0)
        return reject("the message has no wsse:Security header (security_mode is message)%s", NULL);
    if (n > 1)
        return reject("the message has more than one wsse:Security header%s", NULL);
    j->security = mc__wss_child(j->header, NS_WSSE, "Security");
    return mc__wss_register_ids(j->doc);
}

/* the instant in a wsu:Created or wsu:Expires element */
static int read_instant(xmlNodePtr n, int64_t *out)
{
    xmlChar *t = xmlNodeGetContent(n);
    int bad = !t || mc__parse_rfc3339((const char *)t, strlen((const char *)t), out);
    xmlFree(t);
    return bad;
}

static int check_timestamp(vjob *j)
{
    const mc__wss_settings *s = &j->w->s;
    int64_t skew = s->max_clock_skew_ms / 1000;
    xmlNodePtr c, e;
    size_t n = mc__wss_count_children(j->security, NS_WSU, "Timestamp");
    if (n != 1)
        return reject(n ? "the Security header has more than one Timestamp%s"
                        : "the Security header has no Timestamp%s",
                      NULL);
    j->timestamp = mc__wss_child(j->security, NS_WSU, "Timestamp");
    if (!(c = mc__wss_child(j->timestamp, NS_WSU, "Created")) ||
        mc__wss_count_children(j->timestamp, NS_WSU, "Created") != 1 ||
        mc__wss_count_children(j->timestamp, NS_WSU, "Expires") > 1)
        return reject("the Timestamp needs one Created and at most one Expires%s", NULL);
    if (read_instant(c, &j->created))
        return reject("the Timestamp's Created is not a date and time%s", NULL);
    j->expires = j->created + s->timestamp_validity_ms / 1000;
    if ((e = mc__wss_child(j->timestamp, NS_WSU, "Expires")) && read_instant(e, &j->expires))
        return reject("the Timestamp's Expires is not a date and time%s", NULL);
    if (j->created > j->now + skew)
        return reject("the Timestamp is in the future, beyond max_clock_skew%s", NULL);
    if (j->expires + skew <= j->now)
        return reject("the Timestamp has expired%s", NULL);
    if (s->replay_detection && j->created + s->replay_window_ms / 1000 + skew < j->now)
        return reject("the Timestamp is older than the replay window%s", NULL);
    return 0;
}

/* ---- algorithms ---- */

static int check_alg(xmlNodePtr method, const char *want, const char *what)
{
    char *alg = method ? mc__wss_attr(method, "Algorithm", NULL) : NULL;
    int rc = 0;
    if (!alg || strcmp(alg, want)) {
        mc__error_set(MC_ESECURITY, "%s algorithm %.100s is outside the suite (expected %s)", what,
                      alg ? alg : "(none)", want);
        rc = MC_ESECURITY;
    }
    xmlFree(alg);
    return rc;
}

/* ---- decryption ---- */

static int check_encrypted_key(vjob *j, xmlNodePtr ek)
{
    xmlNodePtr em = mc__wss_child(ek, NS_XENC, "EncryptionMethod"), dm;
    int rc = check_alg(em, j->w->suite->key_wrap, "key transport");
    if (!rc && (dm = mc__wss_child(em, NS_DS, "DigestMethod")))
        rc = check_alg(dm, ALG_SHA1, "RSA-OAEP digest");
    if (!rc && !mc__wss_child(mc__wss_child(ek, NS_XENC, "CipherData"), NS_XENC, "CipherValue"))
        rc = reject("an EncryptedKey has no CipherValue%s", NULL);
    return rc;
}

/* Recovers the session key, or a random one: the caller cannot tell, and
 * neither can a sender probing RSA-1.5 padding. */
static void recover_key(vjob *j)
{
    xmlSecEncCtxPtr ctx = xmlSecEncCtxCreate(NULL);
    xmlSecBufferPtr res = NULL;
    unsigned char good = 0;
    RAND_bytes(j->key, sizeof(j->key));
    if (ctx && (ctx->encKey = xmlSecKeyDuplicate(j->w->self.key))) {
        ctx->mode = xmlEncCtxModeEncryptedKey;
        res = xmlSecEncCtxDecryptToBuffer(ctx, j->my_key);
    }
    if (res && xmlSecBufferGetSize(res) == sizeof(j->key))
        good = 0xff;
    for (size_t i = 0; good && i < sizeof(j->key); i++)
        j->key[i] = (unsigned char)((xmlSecBufferGetData(res)[i] & good) | (j->key[i] & ~good));
    xmlSecEncCtxDestroy(ctx);
}

static xmlNodePtr by_id(vjob *j, const char *uri)
{
    xmlAttrPtr a;
    if (!uri || uri[0] != '#' || !uri[1] || strchr(uri, '('))
        return NULL;
    a = xmlGetID(j->doc, BAD_CAST(uri + 1));
    return a ? a->parent : NULL;
}

static int decrypt_data(vjob *j, xmlNodePtr ed)
{
    xmlNodePtr cd = mc__wss_child(ed, NS_XENC, "CipherData"), parent = ed->parent;
    char *type = mc__wss_attr(ed, "Type", NULL);
    bool content = type && !strcmp(type, TYPE_CONTENT), element = type && !strcmp(type, TYPE_ELEMENT);
    xmlSecEncCtxPtr ctx;
    int rc;
    xmlFree(type);
    if ((rc = check_alg(mc__wss_child(ed, NS_XENC, "EncryptionMethod"), ALG_AES256, "data encryption")))
        return rc;
    if (!content && !element)
        return reject("an EncryptedData is neither of type Content nor Element%s", NULL);
    if (!mc__wss_child(cd, NS_XENC, "CipherValue") || mc__wss_child(cd, NS_XENC, "CipherReference"))
        return reject("an EncryptedData has no CipherValue (CipherReference is refused)%s", NULL);
    if (!(ctx = xmlSecEncCtxCreate(NULL)) ||
        !(ctx->encKey = xmlSecKeyReadMemory(xmlSecOpenSSLKeyDataAesId, j->key, sizeof(j->key)))) {
        xmlSecEncCtxDestroy(ctx);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    ctx->transformCtx.enabledUris = xmlSecTransformUriTypeNone;
    {
        /* decrypted content reaches libxml2 through xmlsec, not through
         * mc__xml_parse: the same linear pre-scan first (its quadratic
         * attribute and namespace checks). A refusal ends in the one
         * decryption error, so that it tells an attacker nothing more. */
        xmlSecBufferPtr out = xmlSecEncCtxDecryptToBuffer(ctx, ed);
        const char *why =
            out ? mc__xml_prescan((const char *)xmlSecBufferGetData(out), xmlSecBufferGetSize(out)) : NULL;
        if (why)
            mc__log(MC_LOG_WARN, "decrypted content refused: %s", why);
        rc =
            !out || why || xmlSecReplaceNodeBuffer(ed, xmlSecBufferGetData(out), xmlSecBufferGetSize(out)) < 0
                ? reject(UNDECRYPTABLE "%s", NULL)
                : 0;
    }
    xmlSecEncCtxDestroy(ctx);
    if (!rc && content && parent == j->body)
        j->body_encrypted = true;
    return rc;
}

static int decrypt_list(vjob *j, xmlNodePtr list)
{
    for (xmlNodePtr r = list ? list->children : NULL; r; r = r->next) {
        char *uri;
        xmlNodePtr ed;
        int rc;
        if (r->type != XML_ELEMENT_NODE)
            continue;
        if (!mc__wss_is(r, NS_XENC, "DataReference"))
            return reject("a ReferenceList names something other than EncryptedData%s", NULL);
        uri = mc__wss_attr(r, "URI", NULL);
        ed = by_id(j, uri);
        xmlFree(uri);
        if (!ed || !mc__wss_is(ed, NS_XENC, "EncryptedData"))
            return reject("a DataReference does not name an EncryptedData in this message%s", NULL);
        if ((rc = decrypt_data(j, ed)))
            return rc;
    }
    return 0;
}

static bool has_encrypted_data(xmlNodePtr n)
{
    for (; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE &&
            (mc__wss_is(n, NS_XENC, "EncryptedData") || has_encrypted_data(n->children)))
            return true;
    return false;
}

static int decrypt(vjob *j)
{
    xmlNodePtr c, next;
    int rc;
    for (c = j->security->children; c; c = c->next) {
        if (!mc__wss_is(c, NS_XENC, "EncryptedKey"))
            continue;
        if ((rc = check_encrypted_key(j, c)))
            return rc;
        if (!j->my_key && mc__wss_str_matches(mc__wss_child(c, NS_DS, "KeyInfo"), &j->w->self))
            j->my_key = c;
    }
    if (!j->my_key) {
        if (has_encrypted_data(j->root))
            return reject("the message is encrypted, but not for this receiver's certificate%s", NULL);
        return j->w->s.encrypt
                   ? reject("the Body is not encrypted (protection_level is encrypt_and_sign)%s", NULL)
                   : 0;
    }
    recover_key(j);
    if ((rc = decrypt_list(j, mc__wss_child(j->my_key, NS_XENC, "ReferenceList"))))
        return rc;
    for (c = j->security->children; c; c = next) {
        next = c->next;
        if (mc__wss_is(c, NS_XENC, "ReferenceList") && (rc = decrypt_list(j, c)))
            return rc;
    }
    if (has_encrypted_data(j->root))
        return reject("the message holds EncryptedData that no ReferenceList names%s", NULL);
    if (j->w->s.encrypt && !j->body_encrypted)
        return reject("the Body is not encrypted (protection_level is encrypt_and_sign)%s", NULL);
    return mc__wss_register_ids(j->doc); /* decrypted content may carry Ids too */
}

/* ---- signature ---- */

static int check_signed_info(vjob *j, xmlNodePtr si)
{
    const mc__wss_suite *s = j->w->suite;
    int rc;
    size_t refs = 0;
    if (!si)
        return reject("the Signature has no SignedInfo%s", NULL);
    if ((rc = check_alg(mc__wss_child(si, NS_DS, "CanonicalizationMethod"), ALG_EXC_C14N,
                        "canonicalization")) ||
        (rc = check_alg(mc__wss_child(si, NS_DS, "SignatureMethod"), s->signature, "signature")))
        return rc;
    for (xmlNodePtr r = si->children; r; r = r->next) {
        xmlNodePtr tr;
        char *uri;
        bool ok;
        if (!mc__wss_is(r, NS_DS, "Reference"))
            continue;
        refs++;
        uri = mc__wss_attr(r, "URI", NULL);
        ok = by_id(j, uri) != NULL;
        xmlFree(uri);
        if (!ok)
            return reject("a signature Reference is not \"#Id\" of an element in this message%s", NULL);
        for (tr = mc__wss_child(mc__wss_child(r, NS_DS, "Transforms"), NS_DS, "Transform"); tr; tr = tr->next)
            if (tr->type == XML_ELEMENT_NODE && (rc = check_alg(tr, ALG_EXC_C14N, "reference transform")))
                return rc;
        if ((rc = check_alg(mc__wss_child(r, NS_DS, "DigestMethod"), s->digest, "digest")))
            return rc;
    }
    return refs ? 0 : reject("the Signature references nothing%s", NULL);
}

static int signer_cert(vjob *j, xmlNodePtr sig)
{
    xmlNodePtr str = mc__wss_child(mc__wss_child(sig, NS_DS, "KeyInfo"), NS_WSSE, "SecurityTokenReference");
    xmlNodePtr ref = mc__wss_child(str, NS_WSSE, "Reference"), bst;
    char *uri = ref ? mc__wss_attr(ref, "URI", NULL) : NULL, *vt;
    unsigned char *der;
    xmlChar *text;
    int n;
    bst = by_id(j, uri);
    xmlFree(uri);
    if (!bst || !mc__wss_is(bst, NS_WSSE, "BinarySecurityToken") || bst->parent != j->security)
        return reject("the Signature's key is not a BinarySecurityToken of this Security header%s", NULL);
    vt = mc__wss_attr(bst, "ValueType", NULL);
    n = vt && !strcmp(vt, VT_X509V3);
    xmlFree(vt);
    if (!n)
        return reject("the BinarySecurityToken is not an X.509 v3 certificate%s", NULL);
    if (!(der = malloc(MAX_CERT_DER)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    text = xmlNodeGetContent(bst);
    n = mc__wss_unb64(text, der, MAX_CERT_DER);
    xmlFree(text);
    if (n <= 0) {
        free(der);
        return reject("the BinarySecurityToken does not hold a readable certificate%s", NULL);
    }
    j->signer = mc__wss_sender_cert(j->w, der, (size_t)n, j->now);
    free(der);
    return j->signer ? 0 : MC_ESECURITY;
}

static int run_xmlsec(vjob *j, xmlNodePtr sig)
{
    xmlSecDSigCtxPtr ctx = xmlSecDSigCtxCreate(NULL);
    EVP_PKEY *pub = X509_get_pubkey(j->signer);
    xmlSecKeyDataPtr data = NULL;
    int rc = 0;
    if (!ctx || !pub || !(data = xmlSecOpenSSLEvpKeyAdopt(pub)) || !(ctx->signKey = xmlSecKeyCreate()) ||
        xmlSecKeySetValue(ctx->signKey, data) < 0) {
        if (!data)
            EVP_PKEY_free(pub);
        else if (!ctx || !ctx->signKey || xmlSecKeyGetValue(ctx->signKey) != data)
            xmlSecKeyDataDestroy(data);
        xmlSecDSigCtxDestroy(ctx);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
    if (xmlSecDSigCtxVerify(ctx, sig) < 0)
        rc = reject("the Signature cannot be processed%s", NULL);
    else if (ctx->status != xmlSecDSigStatusSucceeded)
        rc = reject("bad signature: the signature value or a digest does not match%s", NULL);
    xmlSecDSigCtxDestroy(ctx);
    return rc;
}

static bool is_signed(xmlNodePtr si, xmlNodePtr node, vjob *j)
{
    for (xmlNodePtr r = si->children; r; r = r->next) {
        char *uri;
        bool hit;
        if (!mc__wss_is(r, NS_DS, "Reference"))
            continue;
        uri = mc__wss_attr(r, "URI", NULL);
        hit = by_id(j, uri) == node;
        xmlFree(uri);
        if (hit)
            return true;
    }
    return false;
}

static int check_coverage(vjob *j, xmlNodePtr si)
{
    if (!is_signed(si, j->body, j))
        return reject("the Body is not signed%s", NULL);
    if (!is_signed(si, j->timestamp, j))
        return reject("the Timestamp is not signed%s", NULL);
    if (!j->w->s.require_signed_addressing)
        return 0;
    for (xmlNodePtr h = j->header->children; h; h = h->next)
        if (h->type == XML_ELEMENT_NODE && h->ns && !strcmp((const char *)h->ns->href, NS_WSA) &&
            !is_signed(si, h, j))
            return reject("wsa:%s is not signed", (const char *)h->name);
    return 0;
}

static int check_replay(vjob *j, xmlNodePtr sig, const char *mail_id)
{
    const mc__wss_settings *s = &j->w->s;
    xmlChar *value;
    int64_t until = j->created + s->replay_window_ms / 1000 + s->max_clock_skew_ms / 1000;
    int rc;
    if (!j->w->replay)
        return 0;
    if (j->expires + s->max_clock_skew_ms / 1000 > until)
        until = j->expires + s->max_clock_skew_ms / 1000;
    if (!(value = xmlNodeGetContent(mc__wss_child(sig, NS_DS, "SignatureValue"))))
        return reject("the Signature has no SignatureValue%s", NULL);
    rc = mc__wss_replay_check(j->w->replay, value, strlen((const char *)value), mail_id, until, j->now);
    xmlFree(value);
    return rc;
}

static int verify(vjob *j, const char *mail_id)
{
    size_t n = mc__wss_count_children(j->security, NS_DS, "Signature");
    xmlNodePtr sig = mc__wss_child(j->security, NS_DS, "Signature"), si;
    int rc;
    if (n != 1)
        return reject(n ? "the Security header has more than one Signature%s" : "the message is not signed%s",
                      NULL);
    si = mc__wss_child(sig, NS_DS, "SignedInfo");
    if ((rc = check_signed_info(j, si)) || (rc = signer_cert(j, sig)) || (rc = run_xmlsec(j, sig)) ||
        (rc = check_coverage(j, si)))
        return rc;
    return check_replay(j, sig, mail_id);
}

static int unsecure(mc__wss *w, const char *env, size_t len, size_t max, const char *mail_id, char **out,
                    size_t *out_len, char **subject)
{
    vjob j;
    int rc;
    memset(&j, 0, sizeof(j));
    j.w = w;
    j.now = mc__wss_now(w);
    if ((rc = mc__xml_parse(&j.doc, env, len, max, "the envelope"))) {
        char why[256];
        snprintf(why, sizeof(why), "%s", mc_error_last());
        return rc == MC_ENOMEM ? rc : reject("%s", why);
    }
    if (!(rc = find_parts(&j)) && !(rc = check_timestamp(&j)) && !(rc = decrypt(&j)) &&
        !(rc = verify(&j, mail_id))) {
        xmlUnlinkNode(j.security);
        xmlFreeNode(j.security);
        if (!(rc = mc__wss_serialize(j.doc, out, out_len)) &&
            !(*subject = mc__wss_name_text(X509_get_subject_name(j.signer)))) {
            free(*out);
            rc = mc__error_set(MC_ENOMEM, "out of memory");
        }
    }
    OPENSSL_cleanse(j.key, sizeof(j.key));
    X509_free(j.signer);
    xmlFreeDoc(j.doc);
    return rc;
}

static void quiet_xml(void *ctx, const char *msg, ...) { (void)ctx, (void)msg; }

int mc__wss_unsecure(mc__wss *w, const char *env, size_t len, size_t max, const char *mail_id, char **out,
                     size_t *out_len, char **subject)
{
    /* xmlsec parses decrypted content with libxml2, which reports errors on
     * the thread's generic channel: nothing of it may reach stderr */
    void *old_ctx = xmlGenericErrorContext;
    xmlGenericErrorFunc old_func = xmlGenericError;
    int rc;
    xmlSetGenericErrorFunc(NULL, quiet_xml);
    rc = unsecure(w, env, len, max, mail_id, out, out_len, subject);
    xmlSetGenericErrorFunc(old_ctx, old_func);
    ERR_clear_error(); /* OpenSSL's queue holds the reasons: leave none behind */
    return rc;
}
