/* wss_keys.c - our certificate and key, the recipients' certificates, the
 * trust store for senders, and how a SecurityTokenReference names a
 * certificate. OpenSSL reads the files; xmlsec gets the keys. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>
#include <xmlsec/openssl/app.h>
#include <xmlsec/openssl/evp.h>
#include <xmlsec/openssl/crypto.h>
#include "wss_int.h"

#define MAX_KEY_FILE (1 << 20)

void mc__wss_cert_clear(mc__wss_cert *c)
{
    if (!c)
        return;
    X509_free(c->cert);
    if (c->key)
        xmlSecKeyDestroy(c->key);
    free(c->issuer);
    free(c->serial);
    for (size_t i = 0; i < c->nemails; i++)
        free(c->emails[i]);
    free(c->emails);
    memset(c, 0, sizeof(*c));
}

char *mc__wss_name_text(const X509_NAME *name)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *out = NULL, *p;
    long n;
    if (b && X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0 && (n = BIO_get_mem_data(b, &p)) >= 0)
        out = mc__strndup(p, (size_t)n);
    BIO_free(b);
    return out;
}

static int add_email(mc__wss_cert *c, const char *s, size_t n)
{
    char **grown = realloc(c->emails, (c->nemails + 1) * sizeof(*grown));
    char *e;
    if (!grown)
        return MC_ENOMEM;
    c->emails = grown;
    if (!(e = mc__strndup(s, n)))
        return MC_ENOMEM;
    for (char *p = e; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    c->emails[c->nemails++] = e;
    return 0;
}

static int collect_emails(mc__wss_cert *c)
{
    GENERAL_NAMES *sans = X509_get_ext_d2i(c->cert, NID_subject_alt_name, NULL, NULL);
    const X509_NAME *subj = X509_get_subject_name(c->cert);
    int rc = 0, i = -1;
    for (int k = 0; !rc && sans && k < sk_GENERAL_NAME_num(sans); k++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, k);
        if (g->type == GEN_EMAIL)
            rc = add_email(c, (const char *)ASN1_STRING_get0_data(g->d.rfc822Name),
                           (size_t)ASN1_STRING_length(g->d.rfc822Name));
    }
    GENERAL_NAMES_free(sans);
    while (!rc && (i = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress, i)) >= 0) {
        const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
        rc = add_email(c, (const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
    }
    return rc;
}

/* Takes the certificate and key (either may be consumed into c). */
int mc__wss_cert_fill(mc__wss_cert *c, X509 *cert, EVP_PKEY *pkey)
{
    const ASN1_OCTET_STRING *ski;
    ASN1_INTEGER *serial;
    BIGNUM *bn = NULL;
    char *dec;
    xmlSecKeyDataPtr data;
    unsigned len = 0;
    memset(c, 0, sizeof(*c));
    c->cert = cert;
    if ((ski = X509_get0_subject_key_id(cert)) && (size_t)ASN1_STRING_length(ski) <= sizeof(c->ski)) {
        c->ski_len = (size_t)ASN1_STRING_length(ski);
        memcpy(c->ski, ASN1_STRING_get0_data(ski), c->ski_len);
    }
    X509_digest(cert, EVP_sha1(), c->thumbprint, &len);
    serial = X509_get_serialNumber(cert);
    if (!(c->issuer = mc__wss_name_text(X509_get_issuer_name(cert))) ||
        !(bn = ASN1_INTEGER_to_BN(serial, NULL)) || !(dec = BN_bn2dec(bn))) {
        BN_free(bn);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    BN_free(bn);
    c->serial = mc__strdup(dec);
    OPENSSL_free(dec);
    if (!c->serial || collect_emails(c))
        return mc__error_set(MC_ENOMEM, "out of memory");
    if (!pkey && !(pkey = X509_get_pubkey(cert)))
        return mc__error_set(MC_ESECURITY, "the certificate's public key cannot be read");
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
        EVP_PKEY_free(pkey);
        return mc__error_set(MC_ESECURITY, "the certificate's key is not RSA (the suites use RSA)");
    }
    if (!(data = xmlSecOpenSSLEvpKeyAdopt(pkey))) {
        EVP_PKEY_free(pkey);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    if (!(c->key = xmlSecKeyCreate()) || xmlSecKeySetValue(c->key, data) < 0) {
        xmlSecKeyDataDestroy(data);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    return 0;
}

static int read_file(const char *path, const char *what, BIO **out)
{
    struct stat st;
    if (stat(path, &st) || !S_ISREG(st.st_mode))
        return mc__error_set(MC_EIO, "%s: cannot read %s: %s", what, path,
                             errno ? strerror(errno) : "not a regular file");
    if (st.st_size > MAX_KEY_FILE)
        return mc__error_set(MC_EINVAL, "%s: %s is over 1 MiB", what, path);
    if (!(*out = BIO_new_file(path, "rb")))
        return mc__error_set(MC_EIO, "%s: cannot read %s", what, path);
    return 0;
}

static bool looks_pem(BIO *b)
{
    char head[11] = {0};
    int n = BIO_read(b, head, 10);
    (void)BIO_seek(b, 0);
    return n == 10 && strstr(head, "-----") != NULL;
}

static int pem_password(char *buf, int size, int rwflag, void *u)
{
    const char *pw = u;
    size_t n = pw ? strlen(pw) : 0;
    (void)rwflag;
    if (!pw || n >= (size_t)size)
        return -1;
    memcpy(buf, pw, n);
    return (int)n;
}

/* a password of "" means none */
static const char *pw_or_null(const char *pw) { return pw && *pw ? pw : NULL; }

static int load_pkcs12(BIO *b, const char *path, const char *password, X509 **cert, EVP_PKEY **key)
{
    PKCS12 *p12 = d2i_PKCS12_bio(b, NULL);
    int ok;
    if (!p12)
        return mc__error_set(MC_ESECURITY, "certificate: %s is neither PEM nor PKCS#12", path);
    ok = PKCS12_parse(p12, password ? password : "", key, cert, NULL);
    PKCS12_free(p12);
    ERR_clear_error();
    if (!ok || !*cert || !*key) {
        X509_free(*cert);
        EVP_PKEY_free(*key);
        *cert = NULL;
        *key = NULL;
        return mc__error_set(MC_ESECURITY,
                             "certificate: %s cannot be opened (wrong private_key_password, or "
                             "no certificate and key in it)",
                             path);
    }
    return 0;
}

int mc__wss_load_self(mc__wss *w, const char *cert_path, const char *key_path, const char *password)
{
    BIO *b = NULL;
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    int rc;
    if (!cert_path || !*cert_path)
        return mc__error_set(MC_EINVAL, "security_mode message needs certificate (own certificate file)");
    if ((rc = read_file(cert_path, "certificate", &b)))
        return rc;
    if (!looks_pem(b)) {
        rc = load_pkcs12(b, cert_path, pw_or_null(password), &cert, &key);
        BIO_free(b);
        if (rc)
            return rc;
    } else {
        cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
        BIO_free(b);
        if (!cert)
            return mc__error_set(MC_ESECURITY, "certificate: no PEM certificate in %s", cert_path);
        if (!key_path || !*key_path) {
            X509_free(cert);
            return mc__error_set(MC_EINVAL, "a PEM certificate needs private_key (PEM key file)");
        }
        if ((rc = read_file(key_path, "private_key", &b))) {
            X509_free(cert);
            return rc;
        }
        key = PEM_read_bio_PrivateKey(b, NULL, pem_password, (void *)pw_or_null(password));
        BIO_free(b);
        if (!key) {
            X509_free(cert);
            ERR_clear_error();
            return mc__error_set(MC_ESECURITY,
                                 "private_key: %s cannot be read (not a PEM key, or a wrong "
                                 "private_key_password)",
                                 key_path);
        }
    }
    ERR_clear_error();
    if (X509_check_private_key(cert, key) != 1) {
        ERR_clear_error();
        X509_free(cert);
        EVP_PKEY_free(key);
        return mc__error_set(MC_ESECURITY, "the private key does not belong to the certificate");
    }
    if ((rc = mc__wss_cert_fill(&w->self, cert, key)))
        return rc;
    {
        unsigned char *der = NULL;
        int n = i2d_X509(w->self.cert, &der);
        if (n <= 0 || !(w->self_b64 = mc__wss_b64(der, (size_t)n))) {
            OPENSSL_free(der);
            return mc__error_set(MC_ENOMEM, "out of memory");
        }
        OPENSSL_free(der);
    }
    return 0;
}

static int add_peer(mc__wss *w, X509 *cert)
{
    mc__wss_cert *grown = realloc(w->peers, (w->npeers + 1) * sizeof(*grown));
    int rc;
    if (!grown) {
        X509_free(cert);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    w->peers = grown;
    rc = mc__wss_cert_fill(&w->peers[w->npeers], cert, NULL);
    w->npeers++; /* cleared on failure by the caller's free */
    return rc;
}

static int load_peer_file(mc__wss *w, const char *path)
{
    BIO *b;
    X509 *cert;
    size_t before = w->npeers;
    int rc = read_file(path, "recipient_certificate", &b);
    while (!rc && (cert = PEM_read_bio_X509(b, NULL, NULL, NULL)))
        rc = add_peer(w, cert);
    BIO_free(b);
    ERR_clear_error();
    if (!rc && w->npeers == before)
        rc = mc__error_set(MC_ESECURITY, "recipient_certificate: no PEM certificate in %s", path);
    return rc;
}

int mc__wss_load_peers(mc__wss *w, const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *e;
    int rc = 0;
    if (!path || !*path)
        return 0;
    if (stat(path, &st))
        return mc__error_set(MC_EIO, "recipient_certificate: cannot read %s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return load_peer_file(w, path);
    if (!(d = opendir(path)))
        return mc__error_set(MC_EIO, "recipient_certificate: cannot read %s: %s", path, strerror(errno));
    while (!rc && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        mc__buf p;
        if (n < 5 || (strcasecmp(e->d_name + n - 4, ".pem") && strcasecmp(e->d_name + n - 4, ".crt")))
            continue;
        mc__buf_init(&p);
        mc__buf_printf(&p, "%s/%s", path, e->d_name);
        rc = p.failed ? mc__error_set(MC_ENOMEM, "out of memory") : load_peer_file(w, p.data);
        mc__buf_free(&p);
    }
    closedir(d);
    return rc;
}

const mc__wss_cert *mc__wss_peer_for(const mc__wss *w, const char *address)
{
    for (size_t i = 0; i < w->npeers; i++)
        for (size_t k = 0; k < w->peers[i].nemails; k++)
            if (!strcasecmp(w->peers[i].emails[k], address))
                return &w->peers[i];
    if (w->npeers == 1)
        return &w->peers[0];
    mc__error_set(MC_ENOTFOUND,
                  "no recipient certificate for %s (recipient_certificate holds %zu "
                  "certificates, none for that address)",
                  address, w->npeers);
    return NULL;
}

int mc__wss_load_trust(mc__wss *w, const char *ca_file, const char *ca_path)
{
    bool file = ca_file && *ca_file, dir = ca_path && *ca_path;
    if (!file && !dir)
        return mc__error_set(MC_EINVAL, "security_mode message needs security_ca_file or security_ca_path "
                                        "(the CAs that issue senders' certificates)");
    if (!(w->trust = X509_STORE_new()))
        return mc__error_set(MC_ENOMEM, "out of memory");
    if (X509_STORE_load_locations(w->trust, file ? ca_file : NULL, dir ? ca_path : NULL) != 1) {
        ERR_clear_error();
        return mc__error_set(MC_EIO, "cannot load the CA certificates from %s", file ? ca_file : ca_path);
    }
    return 0;
}

/* A signer's certificate must allow signing: keyUsage, when present, has
 * digitalSignature or nonRepudiation; extendedKeyUsage, when present, names
 * e-mail protection, client or server authentication, or any purpose. */
static int check_purpose(X509 *cert)
{
    uint32_t ku = X509_get_key_usage(cert), xku = X509_get_extended_key_usage(cert);
    if (ku != UINT32_MAX && !(ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)))
        return mc__error_set(MC_ESECURITY, "the sender's certificate is not for signing (its keyUsage lacks "
                                           "digitalSignature)");
    if (xku != UINT32_MAX && !(xku & (XKU_SMIME | XKU_SSL_CLIENT | XKU_SSL_SERVER | XKU_ANYEKU)))
        return mc__error_set(MC_ESECURITY, "the sender's certificate is for another purpose (its "
                                           "extendedKeyUsage allows neither e-mail protection nor client "
                                           "or server authentication)");
    return 0;
}

static int64_t unix_time(const ASN1_TIME *t)
{
    struct tm tm;
    return ASN1_TIME_to_tm(t, &tm) == 1 ? (int64_t)timegm(&tm) : 0;
}

int mc__wss_check_sender(const mc__wss *w, X509 *cert, int64_t now, int64_t *from, int64_t *until)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = 0, err;
    if (!ctx || !X509_STORE_CTX_init(ctx, w->trust, cert, NULL)) {
        X509_STORE_CTX_free(ctx);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    if (w->s.now_override)
        X509_STORE_CTX_set_time(ctx, 0, (time_t)now);
    if (X509_verify_cert(ctx) != 1) {
        err = X509_STORE_CTX_get_error(ctx);
        if (err == X509_V_ERR_CERT_HAS_EXPIRED)
            rc = mc__error_set(MC_ESECURITY, "the sender's certificate has expired");
        else if (err == X509_V_ERR_CERT_NOT_YET_VALID)
            rc = mc__error_set(MC_ESECURITY, "the sender's certificate is not yet valid");
        else
            rc = mc__error_set(MC_ESECURITY, "the sender's certificate is not trusted: %s",
                               X509_verify_cert_error_string(err));
    } else {
        STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
        *from = INT64_MIN;
        *until = INT64_MAX;
        for (int i = 0; i < sk_X509_num(chain); i++) {
            int64_t a = unix_time(X509_get0_notBefore(sk_X509_value(chain, i)));
            int64_t b = unix_time(X509_get0_notAfter(sk_X509_value(chain, i)));
            *from = a > *from ? a : *from;
            *until = b < *until ? b : *until;
        }
    }
    X509_STORE_CTX_free(ctx);
    ERR_clear_error();
    return rc ? rc : check_purpose(cert);
}

/* compares RFC 2253 names loosely: case and blanks after separators */
static bool same_name(const char *a, const char *b)
{
    while (*a && *b) {
        if (*a == ',' || *a == '+') {
            if (*b != *a)
                return false;
            a++, b++;
            while (*a == ' ')
                a++;
            while (*b == ' ')
                b++;
            continue;
        }
        if (tolower((unsigned char)*a++) != tolower((unsigned char)*b++))
            return false;
    }
    return !*a && !*b;
}

static bool key_identifier_matches(xmlNodePtr ki, const mc__wss_cert *c)
{
    char *vt = mc__wss_attr(ki, "ValueType", NULL);
    unsigned char buf[64];
    xmlChar *text = xmlNodeGetContent(ki);
    int n = mc__wss_unb64(text, buf, sizeof(buf));
    bool ok = false;
    xmlFree(text);
    if (vt && n > 0) {
        if (!strcmp(vt, VT_SKI))
            ok = c->ski_len && (size_t)n == c->ski_len && !memcmp(buf, c->ski, c->ski_len);
        else if (!strcmp(vt, VT_THUMBPRINT))
            ok = n == 20 && !memcmp(buf, c->thumbprint, 20);
    }
    xmlFree(vt);
    return ok;
}

static bool issuer_serial_matches(xmlNodePtr is, const mc__wss_cert *c)
{
    xmlNodePtr in = mc__wss_child(is, NS_DS, "X509IssuerName");
    xmlNodePtr sn = mc__wss_child(is, NS_DS, "X509SerialNumber");
    xmlChar *name = in ? xmlNodeGetContent(in) : NULL, *serial = sn ? xmlNodeGetContent(sn) : NULL;
    bool ok = name && serial && !strcmp((const char *)serial, c->serial) &&
              same_name((const char *)name, c->issuer);
    xmlFree(name);
    xmlFree(serial);
    return ok;
}

bool mc__wss_str_matches(xmlNodePtr keyinfo, const mc__wss_cert *c)
{
    xmlNodePtr str = mc__wss_is(keyinfo, NS_WSSE, "SecurityTokenReference")
                         ? keyinfo
                         : mc__wss_child(keyinfo, NS_WSSE, "SecurityTokenReference");
    for (xmlNodePtr n = str ? str->children : NULL; n; n = n->next) {
        if (mc__wss_is(n, NS_WSSE, "KeyIdentifier") && key_identifier_matches(n, c))
            return true;
        if (mc__wss_is(n, NS_DS, "X509Data"))
            for (xmlNodePtr is = n->children; is; is = is->next)
                if (mc__wss_is(is, NS_DS, "X509IssuerSerial") && issuer_serial_matches(is, c))
                    return true;
    }
    return false;
}

X509 *mc__wss_sender_cert(mc__wss *w, const unsigned char *der, size_t len, int64_t now)
{
    unsigned char hash[32];
    const unsigned char *p = der;
    int64_t from = 0, until = 0;
    X509 *cert = NULL;
    mc__wss_known_cert *k;
    SHA256(der, len, hash);
    pthread_mutex_lock(&w->cert_lock);
    for (size_t i = 0; i < MC__WSS_CERT_CACHE; i++) {
        k = &w->certs[i];
        if (k->cert && !memcmp(k->hash, hash, sizeof(hash)) && now >= k->valid_from &&
            now <= k->valid_until) {
            X509_up_ref(k->cert);
            pthread_mutex_unlock(&w->cert_lock);
            return k->cert;
        }
    }
    pthread_mutex_unlock(&w->cert_lock);
    if (!(cert = d2i_X509(NULL, &p, (long)len)) || p != der + len) {
        X509_free(cert);
        ERR_clear_error();
        mc__error_set(MC_ESECURITY, "the BinarySecurityToken does not hold a readable certificate");
        return NULL;
    }
    if (mc__wss_check_sender(w, cert, now, &from, &until)) {
        X509_free(cert);
        return NULL;
    }
    pthread_mutex_lock(&w->cert_lock);
    k = &w->certs[w->next_cert++ % MC__WSS_CERT_CACHE];
    X509_free(k->cert);
    memcpy(k->hash, hash, sizeof(hash));
    k->cert = cert;
    X509_up_ref(cert);
    k->valid_from = from;
    k->valid_until = until;
    pthread_mutex_unlock(&w->cert_lock);
    return cert;
}
