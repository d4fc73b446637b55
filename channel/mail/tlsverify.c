/* tlsverify.c - verifies a TLS server's certificate chain with OpenSSL.
 * Debian's libetpan (GnuTLS) completes a handshake with any certificate, so
 * the IMAP transport checks the chain and the host name itself before it
 * sends a credential. */
#include <string.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "mailnet.h"

static bool is_ip(const char *host)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

int mc__tls_verify_chain(const unsigned char *const *der, const size_t *der_len, size_t n, const char *host,
                         const char *ca_file, const char *ca_path)
{
    X509_STORE *store = NULL;
    X509_STORE_CTX *ctx = NULL;
    STACK_OF(X509) *chain = NULL;
    X509 *leaf = NULL;
    X509_VERIFY_PARAM *param;
    int rc = 0;
    if (!n)
        return mc__error_set(MC_ETLS, "the server %s presented no certificate", host);
    if (!(store = X509_STORE_new()) || !(ctx = X509_STORE_CTX_new()) || !(chain = sk_X509_new_null())) {
        rc = mc__error_set(MC_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = der[i];
        X509 *c = d2i_X509(NULL, &p, (long)der_len[i]);
        if (!c) {
            rc = mc__error_set(MC_ETLS, "the server %s sent an unreadable certificate", host);
            goto done;
        }
        if (!i)
            leaf = c;
        else if (!sk_X509_push(chain, c)) {
            X509_free(c);
            rc = mc__error_set(MC_ENOMEM, "out of memory");
            goto done;
        }
    }
    if ((ca_file && *ca_file) || (ca_path && *ca_path)) {
        if (X509_STORE_load_locations(store, ca_file && *ca_file ? ca_file : NULL,
                                      ca_path && *ca_path ? ca_path : NULL) != 1) {
            rc = mc__error_set(MC_ETLS, "cannot load the CA certificates from %s",
                               ca_file && *ca_file ? ca_file : ca_path);
            goto done;
        }
    } else if (X509_STORE_set_default_paths(store) != 1) {
        rc = mc__error_set(MC_ETLS, "cannot load the system's CA certificates");
        goto done;
    }
    if (X509_STORE_CTX_init(ctx, store, leaf, chain) != 1) {
        rc = mc__error_set(MC_ENOMEM, "out of memory");
        goto done;
    }
    param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
    if (is_ip(host))
        X509_VERIFY_PARAM_set1_ip_asc(param, host);
    else
        X509_VERIFY_PARAM_set1_host(param, host, 0);
    if (X509_verify_cert(ctx) != 1) {
        int e = X509_STORE_CTX_get_error(ctx);
        rc = mc__error_set(MC_ETLS, "the certificate of %s is not trusted: %s", host,
                           X509_verify_cert_error_string(e));
    }
done:
    ERR_clear_error();
    sk_X509_pop_free(chain, X509_free);
    X509_free(leaf);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    return rc;
}
