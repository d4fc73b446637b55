/* wss.h - WS-Security 1.0 X.509 message security (docs/wire-format.md section 7,
 * docs/semantics.md section 5), as an envelope filter the core applies to
 * every message of a transport.
 * binding/ fills the settings; nothing else includes this file. */
#ifndef MC_WSS_H
#define MC_WSS_H

#include <stdbool.h>
#include <stdint.h>
#include "internal.h"
#include "state.h"

typedef enum {
    MC__SUITE_BASIC256RSA15 = 0, /* AES-256-CBC, RSA-1.5, SHA-1, RSA-SHA1 */
    MC__SUITE_BASIC256,          /* AES-256-CBC, RSA-OAEP (MGF1-SHA1), SHA-1, RSA-SHA1 */
    MC__SUITE_BASIC256SHA256,    /* AES-256-CBC, RSA-OAEP, SHA-256, RSA-SHA256 */
    MC__SUITE_BASIC256SHA256RSA15
} mc__wss_suite_id;

typedef enum { MC__KEYID_SKI, MC__KEYID_ISSUER_SERIAL, MC__KEYID_THUMBPRINT } mc__wss_keyid;

/* Strings are borrowed for the duration of mc__wss_new. */
typedef struct {
    mc__wss_suite_id suite;
    bool encrypt;            /* protection_level encrypt_and_sign: body encrypted, and required */
    bool encrypt_signature;  /* the Signature travels encrypted too */
    const char *certificate; /* own certificate: PEM, or PKCS#12 holding the key too */
    const char *private_key; /* PEM private key; empty when certificate is PKCS#12 */
    const char *key_password;
    const char *recipient_certificate; /* PEM file (one or more) or directory of PEM files */
    mc__wss_keyid keyid;
    const char *ca_file, *ca_path; /* trust anchors for senders' certificates */
    int64_t timestamp_validity_ms;
    int64_t max_clock_skew_ms;
    bool replay_detection;
    int64_t replay_window_ms;
    size_t replay_cache_size;
    bool require_signed_addressing;
    mc__state *state;     /* borrowed, outlives the filter: the replay cache persisted there; NULL: memory */
    int64_t now_override; /* tests and fuzzing: a fixed clock (unix seconds), 0 for the real one */
} mc__wss_settings;

/* Loads keys and certificates and returns the filter. MC_EINVAL names the
 * setting that is missing or wrong; MC_EIO a file that cannot be read;
 * MC_ESECURITY a key or certificate that cannot be used. */
int mc__wss_new(mc__envelope_filter **out, const mc__wss_settings *s);

/* tests and fuzzing: runs the filter's clock at a fixed time (unix seconds) */
void mc__wss_set_clock(mc__envelope_filter *f, int64_t now);

#endif
