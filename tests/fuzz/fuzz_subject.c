/* fuzz_subject.c - the subject stamp parser and the RFC 2047 decoder. */
#include <stdint.h>
#include <stdlib.h>
#include <mailchan.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *channel = NULL, *again = NULL;
    int64_t expiry = 0;
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    for (size_t i = 0; i < size; i++)
        s[i] = data[i] ? (char)data[i] : ' ';
    s[size] = '\0';
    if (mc_subject_parse(&channel, &expiry, s, size) == 0) {
        /* what parses must format and parse back to the same channel */
        if (mc_subject_format(&again, channel, expiry > 0 ? expiry : 0) == 0) {
            char *c2 = NULL;
            if (mc_subject_parse(&c2, NULL, again, __builtin_strlen(again)) != 0 ||
                __builtin_strcmp(c2, channel) != 0)
                abort();
            mc_free(c2);
        }
        mc_free(again);
        mc_free(channel);
    }
    free(s);
    return 0;
}
