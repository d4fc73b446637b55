/* fuzz_soap.c - the hardened SOAP envelope parser, and a round trip of
 * whatever it accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <mailchan.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mc_message *m = NULL, *back = NULL;
    char *out = NULL;
    size_t len;
    if (mc_message_parse(&m, (const char *)data, size, 65536) != 0)
        return 0;
    if (mc_message_serialize(&out, &len, m) == 0) {
        /* our own output of an accepted message must parse again */
        if (mc_message_parse(&back, out, len, len + 1) != 0)
            abort();
        mc_message_free(back);
        mc_free(out);
    }
    mc_message_free(m);
    return 0;
}
