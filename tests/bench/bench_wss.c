/* bench_wss - WS-Security cost per message: sign+encrypt and decrypt+verify
 * of a 1 KiB envelope with RSA-2048 keys, against the raw RSA operations
 * alone (OpenSSL EVP sign + encrypt, decrypt + verify) in the same run.
 *
 * usage: bench_wss PKI_DIR [N [SUITE]]   (PKI_DIR from tests/security/pki.sh)
 * Prints messages/s of both and the ratios; goal: ratio >= 0.8. */
#define _GNU_SOURCE
#define BENCH_NAME "bench_wss"
#include <openssl/evp.h>
#include <openssl/pem.h>
#include "bench_util.h"
#include "internal.h"
#include "binding/options.h"
#include "security/wss.h"

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
        if (EVP_DigestSignInit(m, NULL, md, NULL, a) != 1 || EVP_DigestSign(m, sig, &siglen, data, sizeof(data)) != 1 ||
            EVP_PKEY_encrypt_init(e) != 1 || EVP_PKEY_CTX_set_rsa_padding(e, pad) != 1 ||
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
            EVP_PKEY_decrypt(d, pt, &ptlen, ct, ctlen) != 1 || EVP_DigestVerifyInit(m, NULL, md, NULL, apub) != 1 ||
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

int main(int argc, char **argv)
{
    const char *pki = argc > 1 ? argv[1] : NULL, *suite = argc > 3 ? argv[3] : "Basic256Rsa15";
    int n = argc > 2 ? atoi(argv[2]) : 500;
    const char *to[] = {"bob@example.test"};
    mc__envelope_filter *alice, *bob;
    mc_message *m = payload();
    char *env, **sec, id[32];
    size_t env_len, *sec_len;
    double t0, send_s, recv_s, raw_send, raw_recv;
    int sha256 = strstr(suite, "Sha256") != NULL, rsa15 = strstr(suite, "Rsa15") != NULL;
    if (!pki || n < 1) {
        fprintf(stderr, "usage: bench_wss PKI_DIR [N [SUITE]]\n");
        return 2;
    }
    alice = filter(pki, "alice", "bob", suite);
    bob = filter(pki, "bob", "alice", suite);
    if (mc_message_set_to(m, "net.mail://bench#bob@example.test") || mc_message_serialize(m, &env, &env_len))
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
    printf("bench_wss %s: %d messages, envelope %zu bytes -> %zu bytes secured\n", suite, n, env_len, sec_len[0]);
    printf("  sign+encrypt:   %8.0f msg/s   raw RSA sign+encrypt:   %8.0f ops/s   ratio %.2f\n", n / send_s,
           n / raw_send, raw_send / send_s);
    printf("  decrypt+verify: %8.0f msg/s   raw RSA decrypt+verify: %8.0f ops/s   ratio %.2f\n", n / recv_s,
           n / raw_recv, raw_recv / recv_s);
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
