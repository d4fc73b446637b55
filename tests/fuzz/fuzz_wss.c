/* fuzz_wss.c - WS-Security header processing on the receiving side: Id
 * registration, Timestamp, EncryptedKey and EncryptedData, Signature,
 * certificate, coverage and replay checks (security/wss_verify.c).
 * The first byte picks the receiver's algorithm suite; the rest is the
 * envelope. Keys and the fixed clock: tests/corpus/wss-keys/README. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mailchan.h"
#include "internal.h"
#include "binding/options.h"
#include "security/wss.h"

#ifndef MC_WSS_KEYS
#error "MC_WSS_KEYS: the directory of the fuzzer's keys"
#endif
#define CLOCK 1795245600

static mc__envelope_filter *filters[4];

static mc__envelope_filter *make(const char *suite)
{
    static const char *const names[][2] = {{"security_mode", "message"},
                                           {"certificate", MC_WSS_KEYS "/bob.pem"},
                                           {"private_key", MC_WSS_KEYS "/bob.key"},
                                           {"recipient_certificate", MC_WSS_KEYS "/alice.pem"},
                                           {"security_ca_file", MC_WSS_KEYS "/ca.pem"},
                                           {"protection_level", "sign"},
                                           {"require_signed_addressing", "false"},
                                           {"replay_cache_size", "16"}};
    mc_binding *b = NULL;
    mc__envelope_filter *f = NULL;
    if (mc_binding_new(&b, "maildir") || mc_binding_set(b, "algorithm_suite", suite))
        abort();
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (mc_binding_set(b, names[i][0], names[i][1]))
            abort();
    if (mc__binding_security_filter(b, &f) || !f)
        abort();
    mc__wss_set_clock(f, CLOCK);
    mc_binding_free(b);
    return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const suites[] = {"Basic256Rsa15", "Basic256", "Basic256Sha256",
                                         "Basic256Sha256Rsa15"};
    mc__envelope_filter *f;
    char *out = NULL, *subject = NULL;
    size_t len = 0;
    if (size < 1)
        return 0;
    if (!filters[0])
        for (size_t i = 0; i < 4; i++)
            filters[i] = make(suites[i]);
    f = filters[data[0] % 4];
    if (f->unsecure(f, (const char *)data + 1, size - 1, 65536, "fuzz", &out, &len, &subject) == 0) {
        /* what passes is a whole envelope again, with a signer */
        if (!out || !len || !subject)
            abort();
        free(out);
        free(subject);
    }
    return 0;
}
