/* security_filter.c - the message-security filter (security/) a binding's
 * typed settings describe. Built with MC_WITH_SECURITY; security_none.c
 * stands in without it. */
#include <string.h>
#include "binding/options.h"
#include "security/wss.h"

/* the security element's filter, or none (security_mode none, also when the
 * binding has no security element) */
int mc__security_filter_new(const mc__values *v, struct mc__state *state, mc__envelope_filter **out)
{
    mc__wss_settings s;
    *out = NULL;
    if (v->security_mode != MC__SECURITY_MESSAGE)
        return 0;
    memset(&s, 0, sizeof(s));
    s.suite = (mc__wss_suite_id)v->algorithm_suite;
    s.encrypt = v->protection_level == MC__PROTECT_ENCRYPT_AND_SIGN;
    s.encrypt_signature = s.encrypt && v->encrypt_signature;
    s.certificate = v->certificate;
    s.private_key = v->private_key;
    s.key_password = v->private_key_password;
    s.recipient_certificate = v->recipient_certificate;
    s.keyid = (mc__wss_keyid)v->recipient_key_identifier;
    s.ca_file = v->security_ca_file;
    s.ca_path = v->security_ca_path;
    s.timestamp_validity_ms = (int64_t)v->timestamp_validity;
    s.max_clock_skew_ms = (int64_t)v->max_clock_skew;
    s.replay_detection = v->replay_detection;
    s.replay_window_ms = (int64_t)v->replay_window;
    s.replay_cache_size = v->replay_cache_size;
    s.require_signed_addressing = v->require_signed_addressing;
    s.state = state;
    return mc__wss_new(out, &s);
}
