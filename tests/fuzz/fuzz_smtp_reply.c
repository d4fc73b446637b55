/* fuzz_smtp_reply.c - SMTP server replies as channel/mail/smtp.c handles them:
 * the reply kept for errors (mc__smtp_reply_note: code parsing, multi-line
 * joining, first refusal kept) and the sanitising of text quoted into errors
 * (mc__printable). The input is cut into lines at '\n' and fed as curl
 * feeds the debug callback; a first byte below 0x20 chooses fixed chunks of
 * that many bytes instead (inputs up to 4 KB), so that lines without their end and several
 * lines in one chunk occur too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "channel/mail/mailnet.h"

static void check(const mc__smtp_reply *r)
{
    const char *end = memchr(r->text, 0, sizeof(r->text));
    size_t n;
    if (!end)
        abort(); /* not NUL-terminated */
    n = (size_t)(end - r->text);
    for (size_t i = 0; i < n; i++)
        if (r->text[i] < 0x20 || r->text[i] > 0x7e)
            abort(); /* a control or non-ASCII byte would reach an error message */
    if (r->code && (r->code < 100 || r->code > 599))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    mc__smtp_reply r;
    char small[8], big[600];
    /* a control byte first: fixed chunks (small inputs only: a call per byte
     * of a large input would starve the fuzzer); else lines */
    size_t chunk = size && size <= 4096 && data[0] < 0x20 ? data[0] : 0;
    size_t n;

    memset(&r, 0, sizeof(r));
    for (size_t off = 0, calls = 0; off < size; calls++) {
        size_t len;
        if (chunk) {
            len = size - off < chunk ? size - off : chunk;
        } else { /* not memchr: ASan checks its whole range, each line would cost the rest */
            for (len = 0; off + len < size && in[off + len] != '\n'; len++)
                ;
            len += off + len < size; /* with its '\n' */
        }
        mc__smtp_reply_note(&r, in + off, len);
        if (calls < 64) /* then only at the end: a check per line of a long reply would starve the fuzzer */
            check(&r);
        off += len;
    }
    check(&r);
    /* a refusal, once kept, stays: later replies do not hide it */
    if (r.code >= 400 && !r.more) {
        mc__smtp_reply kept = r;
        mc__smtp_reply_note(&r, "250 2.0.0 Ok\r\n", 14);
        if (memcmp(&kept, &r, sizeof(r)))
            abort();
    }
    /* the whole input as one chunk */
    memset(&r, 0, sizeof(r));
    mc__smtp_reply_note(&r, in, size);
    check(&r);

    n = mc__printable(small, sizeof(small), in, size);
    if (n != (size < sizeof(small) ? size : sizeof(small) - 1) || small[n])
        abort();
    n = mc__printable(big, sizeof(big), in, size);
    if (n != (size < sizeof(big) ? size : sizeof(big) - 1) || big[n] || strlen(big) != n)
        abort();
    return 0;
}
