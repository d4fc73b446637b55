/* wss.c - the message-security filter: xmlsec set-up, algorithm suites, and
 * the object the binding builds from its settings. */
#include <string.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/parser.h>
#include <xmlsec/openssl/app.h>
#include <xmlsec/openssl/crypto.h>
#include "wss_int.h"

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result;

/* xmlsec reports every failure on stderr by default; our callers get a
 * reason through mc_error_last() instead */
static void quiet(const char *file, int line, const char *func, const char *obj, const char *subj, int reason,
                  const char *msg)
{
    (void)file, (void)line, (void)func, (void)obj, (void)subj, (void)reason, (void)msg;
}

static void global_init(void)
{
    /* decrypted content is parsed by xmlsec: never from the network, no entities */
    xmlSecParserSetDefaultOptions(XML_PARSE_NONET);
    if (xmlSecInit() < 0 || xmlSecCheckVersion() != 1 || xmlSecOpenSSLAppInit(NULL) < 0 ||
        xmlSecOpenSSLInit() < 0)
        init_result = -1;
    /* after xmlSecInit, which installs the default (stderr) callback; a
     * printed RSA padding error would be an oracle as well as noise */
    xmlSecErrorsSetCallback(quiet);
}

int mc__wss_global_init(void)
{
    pthread_once(&init_once, global_init);
    return init_result ? mc__error_set(MC_ESECURITY, "xmlsec (OpenSSL) cannot be initialised") : 0;
}

static const mc__wss_suite suites[] = {
    {"Basic256Rsa15", ALG_SHA1, ALG_RSA_SHA1, ALG_RSA15, xmlSecOpenSSLTransformSha1GetKlass,
     xmlSecOpenSSLTransformRsaSha1GetKlass, xmlSecOpenSSLTransformRsaPkcs1GetKlass},
    {"Basic256", ALG_SHA1, ALG_RSA_SHA1, ALG_OAEP, xmlSecOpenSSLTransformSha1GetKlass,
     xmlSecOpenSSLTransformRsaSha1GetKlass, xmlSecOpenSSLTransformRsaOaepGetKlass},
    {"Basic256Sha256", ALG_SHA256, ALG_RSA_SHA256, ALG_OAEP, xmlSecOpenSSLTransformSha256GetKlass,
     xmlSecOpenSSLTransformRsaSha256GetKlass, xmlSecOpenSSLTransformRsaOaepGetKlass},
    {"Basic256Sha256Rsa15", ALG_SHA256, ALG_RSA_SHA256, ALG_RSA15, xmlSecOpenSSLTransformSha256GetKlass,
     xmlSecOpenSSLTransformRsaSha256GetKlass, xmlSecOpenSSLTransformRsaPkcs1GetKlass},
};

const mc__wss_suite *mc__wss_suite_get(mc__wss_suite_id id)
{
    return (size_t)id < MC_ARRAY_SIZE(suites) ? &suites[id] : NULL;
}

static void wss_free(mc__envelope_filter *f)
{
    mc__wss *w = (mc__wss *)f;
    if (!w)
        return;
    mc__wss_cert_clear(&w->self);
    free(w->self_b64);
    for (size_t i = 0; i < w->npeers; i++)
        mc__wss_cert_clear(&w->peers[i]);
    free(w->peers);
    X509_STORE_free(w->trust);
    for (size_t i = 0; i < MC__WSS_CERT_CACHE; i++)
        X509_free(w->certs[i].cert);
    pthread_mutex_destroy(&w->cert_lock);
    mc__wss_replay_free(w->replay);
    free(w);
}

static int wss_secure(mc__envelope_filter *f, const char *env, size_t len, const char *const *to, size_t nto,
                      char **out, size_t *out_len)
{
    return mc__wss_secure((mc__wss *)f, env, len, to, nto, out, out_len);
}

static int wss_unsecure(mc__envelope_filter *f, const char *env, size_t len, size_t max, const char *mail_id,
                        char **out, size_t *out_len, char **subject)
{
    return mc__wss_unsecure((mc__wss *)f, env, len, max, mail_id, out, out_len, subject);
}

int mc__wss_new(mc__envelope_filter **out, const mc__wss_settings *s)
{
    mc__wss *w;
    int rc;
    if (!out || !s || !(mc__wss_suite_get(s->suite)))
        return mc__error_set(MC_EINVAL, "bad security settings");
    if ((rc = mc__wss_global_init()))
        return rc;
    if (!(w = calloc(1, sizeof(*w))))
        return mc__error_set(MC_ENOMEM, "out of memory");
    pthread_mutex_init(&w->cert_lock, NULL);
    w->parent.secure = wss_secure;
    w->parent.unsecure = wss_unsecure;
    w->parent.free = wss_free;
    w->s = *s;
    w->s.certificate = w->s.private_key = w->s.key_password = NULL;
    w->s.recipient_certificate = w->s.ca_file = w->s.ca_path = NULL;
    w->suite = mc__wss_suite_get(s->suite);
    if ((rc = mc__wss_load_self(w, s->certificate, s->private_key, s->key_password)) ||
        (rc = mc__wss_load_peers(w, s->recipient_certificate)) ||
        (rc = mc__wss_load_trust(w, s->ca_file, s->ca_path)) ||
        (s->replay_detection && (rc = mc__wss_replay_new(&w->replay, s->replay_cache_size, s->state)))) {
        wss_free(&w->parent);
        return rc;
    }
    *out = &w->parent;
    return 0;
}

void mc__wss_set_clock(mc__envelope_filter *f, int64_t now)
{
    if (f)
        ((mc__wss *)f)->s.now_override = now;
}
