/* bench_wss - WS-Security cost per message: sign+encrypt and decrypt+verify
 * of a 1 KiB envelope with RSA-2048 keys, against the raw RSA operations
 * alone (OpenSSL EVP sign + encrypt, decrypt + verify) in the same run.
 *
 * usage: bench_wss PKI_DIR [N [SUITE]]   (PKI_DIR from tests/security/pki.sh)
 * Prints messages/s of both and the ratios; goal: ratio >= 0.8.
 *
 * Then two measurements that explain the figures:
 *  - the xmlsec floor: xmlsec's XML-DSig and XML-Enc work for the same
 *    envelope and references with HMAC in place of RSA, which bounds the
 *    ratio any code driving xmlsec can reach (see floor());
 *  - the replay cache: one check against an empty and a full cache. */
#define _GNU_SOURCE
#define BENCH_NAME "bench_wss"
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <xmlsec/templates.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlenc.h>
#include <xmlsec/openssl/crypto.h>
#include "bench_util.h"
#include "internal.h"
#include "binding/options.h"
#include "security/wss_int.h"

static mc__envelope_filter *filter(const char *pki, const char *me, const char *peer, const char *suite)
{
    mc_binding *b;
    mc__envelope_filter *f = NULL;
    char v[4][512];
    snprintf(v[0], sizeof(v[0]), "%s/%s.pem", pki, me);
    snprintf(v[1], sizeof(v[1]), "%s/%s.key", pki, me);
    snprintf(v[2], sizeof(v[2]), "%s/%s.pem", pki, peer);
    snprintf(v[3], sizeof(v[3]), "%s/ca.pem", pki);
    if (mc_binding_new(&b, "maildir") || mc_binding_set(b, "security_mode", "message") ||
        mc_binding_set(b, "algorithm_suite", suite) || mc_binding_set(b, "certificate", v[0]) ||
        mc_binding_set(b, "private_key", v[1]) || mc_binding_set(b, "recipient_certificate", v[2]) ||
        mc_binding_set(b, "security_ca_file", v[3]) || mc__binding_security_filter(b, &f))
        die("security settings");
    mc_binding_free(b);
    return f;
}

static EVP_PKEY *read_key(const char *pki, const char *name, int priv)
{
    char path[512];
    FILE *f;
    EVP_PKEY *k = NULL;
    snprintf(path, sizeof(path), "%s/%s.%s", pki, name, priv ? "key" : "pem");
    if (!(f = fopen(path, "r")))
        die(path);
    if (priv) {
        k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    } else {
        X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
        k = c ? X509_get_pubkey(c) : NULL;
        X509_free(c);
    }
    fclose(f);
    if (!k)
        die(path);
    return k;
}

/* the RSA work of one message each way, nothing else: sign a SignedInfo-
 * sized buffer and encrypt a 32-byte key; decrypt it and verify */
static void raw_rsa(const char *pki, int n, const EVP_MD *md, int pad, double *send_s, double *recv_s)
{
    EVP_PKEY *a = read_key(pki, "alice", 1), *apub = read_key(pki, "alice", 0);
    EVP_PKEY *b = read_key(pki, "bob", 1), *bpub = read_key(pki, "bob", 0);
    unsigned char data[700], sig[512], key[32], ct[512], pt[512];
    size_t siglen = sizeof(sig), ctlen = sizeof(ct), ptlen;
    double t0;
    memset(data, 'x', sizeof(data));
    memset(key, 7, sizeof(key));
    t0 = now();
    for (int i = 0; i < n; i++) {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        EVP_PKEY_CTX *e = EVP_PKEY_CTX_new(bpub, NULL);
        siglen = sizeof(sig);
        ctlen = sizeof(ct);
        if (EVP_DigestSignInit(m, NULL, md, NULL, a) != 1 ||
            EVP_DigestSign(m, sig, &siglen, data, sizeof(data)) != 1 || EVP_PKEY_encrypt_init(e) != 1 ||
            EVP_PKEY_CTX_set_rsa_padding(e, pad) != 1 ||
            EVP_PKEY_encrypt(e, ct, &ctlen, key, sizeof(key)) != 1)
            die("raw sign/encrypt");
        EVP_MD_CTX_free(m);
        EVP_PKEY_CTX_free(e);
    }
    *send_s = now() - t0;
    t0 = now();
    for (int i = 0; i < n; i++) {
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        EVP_PKEY_CTX *d = EVP_PKEY_CTX_new(b, NULL);
        ptlen = sizeof(pt);
        if (EVP_PKEY_decrypt_init(d) != 1 || EVP_PKEY_CTX_set_rsa_padding(d, pad) != 1 ||
            EVP_PKEY_decrypt(d, pt, &ptlen, ct, ctlen) != 1 ||
            EVP_DigestVerifyInit(m, NULL, md, NULL, apub) != 1 ||
            EVP_DigestVerify(m, sig, siglen, data, sizeof(data)) != 1)
            die("raw decrypt/verify");
        EVP_MD_CTX_free(m);
        EVP_PKEY_CTX_free(d);
    }
    *recv_s = now() - t0;
    EVP_PKEY_free(a);
    EVP_PKEY_free(apub);
    EVP_PKEY_free(b);
    EVP_PKEY_free(bpub);
}

/* ---- the xmlsec floor ----
 * What xmlsec alone costs per message for this profile, with no RSA: the
 * same envelope gets a Timestamp and the same references (Timestamp, each
 * WS-Addressing header, Body; exclusive C14N; the suite's digest), signed
 * with HMAC instead of RSA, and its Body content encrypted (AES-256-CBC);
 * the receiver decrypts and verifies. Left out, so the floor is a lower
 * bound: the BinarySecurityToken, the EncryptedKey, the encrypted
 * signature and every check. Since a message costs at least the raw RSA
 * work plus this, raw / (raw + floor) bounds the ratio. */

static void floor_ref(xmlNodePtr sig, xmlNodePtr target, xmlNsPtr wsu, int k, xmlSecTransformId digest)
{
    char id[16], uri[17];
    xmlNodePtr ref;
    snprintf(id, sizeof(id), "F%d", k);
    snprintf(uri, sizeof(uri), "#%s", id);
    if (!xmlNewNsProp(target, wsu, BAD_CAST "Id", BAD_CAST id) ||
        !(ref = xmlSecTmplSignatureAddReference(sig, digest, NULL, BAD_CAST uri, NULL)) ||
        !xmlSecTmplReferenceAddTransform(ref, xmlSecTransformExclC14NId))
        die("floor template");
}

static char *floor_send(const char *env, size_t len, const unsigned char *key, bool sha256, size_t *out_len)
{
    xmlDocPtr doc;
    xmlNodePtr root, header, body, sec, ts, sig, ed, h;
    xmlNsPtr wsu;
    xmlSecDSigCtxPtr d;
    xmlSecEncCtxPtr e;
    char *out;
    int k = 0;
    if (mc__xml_parse(&doc, env, len, len + 1, "envelope"))
        die("floor parse");
    root = xmlDocGetRootElement(doc);
    header = mc__wss_child(root, (const char *)root->ns->href, "Header");
    body = mc__wss_child(root, (const char *)root->ns->href, "Body");
    wsu = xmlNewNs(root, BAD_CAST NS_WSU, BAD_CAST "wsu");
    sec = xmlNewDocNode(doc, NULL, BAD_CAST "Security", NULL);
    xmlSetNs(sec, xmlNewNs(sec, BAD_CAST NS_WSSE, BAD_CAST "wsse"));
    xmlAddPrevSibling(header->children, sec);
    ts = xmlNewChild(sec, wsu, BAD_CAST "Timestamp", NULL);
    xmlNewTextChild(ts, wsu, BAD_CAST "Created", BAD_CAST "2026-11-21T10:00:00Z");
    xmlNewTextChild(ts, wsu, BAD_CAST "Expires", BAD_CAST "2026-11-22T10:00:00Z");
    sig = xmlSecTmplSignatureCreateNsPref(
        doc, xmlSecTransformExclC14NId,
        sha256 ? xmlSecOpenSSLTransformHmacSha256Id : xmlSecOpenSSLTransformHmacSha1Id, NULL, BAD_CAST "ds");
    xmlAddChild(sec, sig);
    xmlSecTransformId digest = sha256 ? xmlSecOpenSSLTransformSha256Id : xmlSecOpenSSLTransformSha1Id;
    floor_ref(sig, ts, wsu, k++, digest);
    for (h = header->children; h; h = h->next)
        if (h->type == XML_ELEMENT_NODE && h->ns && !strcmp((const char *)h->ns->href, NS_WSA))
            floor_ref(sig, h, wsu, k++, digest);
    floor_ref(sig, body, wsu, k++, digest);
    if (mc__wss_register_ids(doc))
        die("floor ids");
    d = xmlSecDSigCtxCreate(NULL);
    if (!d || !(d->signKey = xmlSecKeyReadMemory(xmlSecOpenSSLKeyDataHmacId, key, 32)) ||
        xmlSecDSigCtxSign(d, sig) < 0)
        die("floor sign");
    xmlSecDSigCtxDestroy(d);
    ed = xmlSecTmplEncDataCreate(doc, xmlSecOpenSSLTransformAes256CbcId, BAD_CAST "FED", xmlSecTypeEncContent,
                                 NULL, NULL);
    e = xmlSecEncCtxCreate(NULL);
    if (!ed || !xmlSecTmplEncDataEnsureCipherValue(ed) || !e ||
        !(e->encKey = xmlSecKeyReadMemory(xmlSecOpenSSLKeyDataAesId, key, 32)) ||
        xmlSecEncCtxXmlEncrypt(e, ed, body) < 0)
        die("floor encrypt");
    xmlSecEncCtxDestroy(e);
    if (mc__wss_serialize(doc, &out, out_len))
        die("floor serialize");
    xmlFreeDoc(doc);
    return out;
}

static void floor_receive(const char *msg, size_t len, const unsigned char *key)
{
    xmlDocPtr doc;
    xmlNodePtr root, body, sec;
    xmlSecDSigCtxPtr d;
    xmlSecEncCtxPtr e = xmlSecEncCtxCreate(NULL);
    char *out;
    size_t out_len;
    if (mc__xml_parse(&doc, msg, len, len + 1, "envelope"))
        die("floor parse");
    root = xmlDocGetRootElement(doc);
    body = mc__wss_child(root, (const char *)root->ns->href, "Body");
    sec = mc__wss_child(mc__wss_child(root, (const char *)root->ns->href, "Header"), NS_WSSE, "Security");
    if (mc__wss_register_ids(doc))
        die("floor ids");
    if (!e || !(e->encKey = xmlSecKeyReadMemory(xmlSecOpenSSLKeyDataAesId, key, 32)) ||
        xmlSecEncCtxDecrypt(e, mc__wss_child(body, NS_XENC, "EncryptedData")) < 0)
        die("floor decrypt");
    xmlSecEncCtxDestroy(e);
    d = xmlSecDSigCtxCreate(NULL);
    if (!d || !(d->signKey = xmlSecKeyReadMemory(xmlSecOpenSSLKeyDataHmacId, key, 32)) ||
        xmlSecDSigCtxVerify(d, mc__wss_child(sec, NS_DS, "Signature")) < 0 ||
        d->status != xmlSecDSigStatusSucceeded)
        die("floor verify");
    xmlSecDSigCtxDestroy(d);
    if (mc__wss_serialize(doc, &out, &out_len))
        die("floor serialize");
    free(out);
    xmlFreeDoc(doc);
}

static void floor_measure(const char *env, size_t len, int n, bool sha256, double *send_s, double *recv_s)
{
    unsigned char key[32];
    char **msg = calloc((size_t)n, sizeof(*msg));
    size_t *msg_len = calloc((size_t)n, sizeof(*msg_len));
    double t0;
    memset(key, 0x5a, sizeof(key));
    if (!msg || !msg_len)
        die("out of memory");
    t0 = now();
    for (int i = 0; i < n; i++)
        msg[i] = floor_send(env, len, key, sha256, &msg_len[i]);
    *send_s = now() - t0;
    t0 = now();
    for (int i = 0; i < n; i++)
        floor_receive(msg[i], msg_len[i], key);
    *recv_s = now() - t0;
    for (int i = 0; i < n; i++)
        free(msg[i]);
    free(msg);
    free(msg_len);
}

/* ---- the replay cache: microseconds per check, empty and at capacity ---- */

static double replay_us(size_t fill, int n)
{
    mc__wss_replay *r;
    char v[32];
    double t0;
    if (mc__wss_replay_new(&r, 100000, NULL))
        die("replay cache");
    for (size_t i = 0; i < fill; i++) {
        snprintf(v, sizeof(v), "fill%zu", i);
        if (mc__wss_replay_check(r, (const unsigned char *)v, strlen(v), "m", 2000000 + (int64_t)i, 1000))
            die("replay fill");
    }
    t0 = now();
    for (int i = 0; i < n; i++) {
        snprintf(v, sizeof(v), "new%d", i);
        if (mc__wss_replay_check(r, (const unsigned char *)v, strlen(v), "m", 3000000 + i, 1000))
            die("replay check");
    }
    t0 = now() - t0;
    mc__wss_replay_free(r);
    return t0 / n * 1e6;
}

int main(int argc, char **argv)
{
    const char *pki = argc > 1 ? argv[1] : NULL, *suite = argc > 3 ? argv[3] : "Basic256Rsa15";
    int n = argc > 2 ? atoi(argv[2]) : 500;
    const char *to[] = {"bob@example.test"};
    mc__envelope_filter *alice, *bob;
    mc_message *m = payload();
    char *env, **sec, id[32];
    size_t env_len, *sec_len;
    double t0, send_s, recv_s, raw_send, raw_recv, floor_s, floor_r, full_us, empty_us;
    int sha256 = strstr(suite, "Sha256") != NULL, rsa15 = strstr(suite, "Rsa15") != NULL;
    if (!pki || n < 1) {
        fprintf(stderr, "usage: bench_wss PKI_DIR [N [SUITE]]\n");
        return 2;
    }
    alice = filter(pki, "alice", "bob", suite);
    bob = filter(pki, "bob", "alice", suite);
    if (mc_message_set_to(m, "net.mail://bench#bob@example.test") || mc_message_serialize(&env, &env_len, m))
        die("envelope");
    sec = calloc((size_t)n, sizeof(*sec));
    sec_len = calloc((size_t)n, sizeof(*sec_len));
    t0 = now();
    for (int i = 0; i < n; i++)
        if (alice->secure(alice, env, env_len, to, 1, &sec[i], &sec_len[i]))
            die("secure");
    send_s = now() - t0;
    t0 = now();
    for (int i = 0; i < n; i++) {
        char *plain, *subject;
        size_t plain_len;
        snprintf(id, sizeof(id), "%d", i);
        if (bob->unsecure(bob, sec[i], sec_len[i], 1 << 20, id, &plain, &plain_len, &subject))
            die("unsecure");
        free(plain);
        free(subject);
    }
    recv_s = now() - t0;
    raw_rsa(pki, n, sha256 ? EVP_sha256() : EVP_sha1(), rsa15 ? RSA_PKCS1_PADDING : RSA_PKCS1_OAEP_PADDING,
            &raw_send, &raw_recv);
    floor_measure(env, env_len, n, sha256, &floor_s, &floor_r);
    mc_log_set_callback(NULL, MC_LOG_NONE, NULL); /* evictions warn */
    empty_us = replay_us(0, 20000);
    full_us = replay_us(100000, 20000);
    printf("bench_wss %s: %d messages, envelope %zu bytes -> %zu bytes secured\n", suite, n, env_len,
           sec_len[0]);
    printf("  sign+encrypt:   %8.0f msg/s   raw RSA sign+encrypt:   %8.0f ops/s   ratio %.2f\n", n / send_s,
           n / raw_send, raw_send / send_s);
    printf("  decrypt+verify: %8.0f msg/s   raw RSA decrypt+verify: %8.0f ops/s   ratio %.2f\n", n / recv_s,
           n / raw_recv, raw_recv / recv_s);
    printf("  xmlsec floor (HMAC for RSA, no key transport): sign+encrypt %.0f us/msg, decrypt+verify %.0f "
           "us/msg\n"
           "    so at best: sign+encrypt ratio %.2f, decrypt+verify ratio %.2f\n",
           floor_s / n * 1e6, floor_r / n * 1e6, raw_send / (raw_send + floor_s),
           raw_recv / (raw_recv + floor_r));
    printf("  replay cache check: %.2f us empty, %.2f us at capacity (100000 entries)\n", empty_us, full_us);
    for (int i = 0; i < n; i++)
        free(sec[i]);
    free(sec);
    free(sec_len);
    mc_free(env);
    mc_message_free(m);
    alice->free(alice);
    bob->free(bob);
    return 0;
}
