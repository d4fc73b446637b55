/* fuzz_mutf7.c - IMAP folder names as channel/mail/mutf7.c and
 * imapfolders.c handle them: any octets decoded as modified UTF-7 (a
 * server's LIST answer) and encoded from UTF-8 (a configured name). Whatever
 * decodes must encode back to the very same octets and whatever encodes must
 * decode back to its input (canonical in both directions); a name shown in a
 * log is printable; a configured name resolved in a namespace stays ASCII. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "channel/mail/imapfolders.h"

static void roundtrip_from_wire(const char *in)
{
    char *utf8 = NULL, *back = NULL;
    if (mc__mutf7_decode(&utf8, in))
        return;
    if (!mc__utf8_valid(utf8, strlen(utf8)) || mc__mutf7_encode(&back, utf8) || strcmp(back, in))
        abort();
    free(utf8);
    free(back);
}

static void roundtrip_from_utf8(const char *in)
{
    char *wire = NULL, *back = NULL, *resolved = NULL;
    if (mc__mutf7_encode(&wire, in))
        return;
    for (const char *p = wire; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            abort(); /* only printable ASCII goes on the wire */
    if (mc__mutf7_decode(&back, wire) || strcmp(back, in))
        abort();
    if (!mc__imap_folder_resolve(&resolved, "INBOX.", '.', in))
        for (const char *p = resolved; *p; p++)
            if (*p < 0x20 || *p > 0x7e)
                abort();
    free(wire);
    free(back);
    free(resolved);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in, *shown;
    if (size > 2 * MC__MUTF7_MAX || !(in = malloc(size + 1)))
        return 0;
    memcpy(in, data, size);
    in[size] = 0; /* a NUL inside ends the name, as in a C string from libetpan */
    roundtrip_from_wire(in);
    roundtrip_from_utf8(in);
    if ((shown = mc__imap_folder_shown(in))) {
        for (const unsigned char *p = (const unsigned char *)shown; *p; p++)
            if (*p < 0x20 || *p == 0x7f)
                abort();
        free(shown);
    }
    free(in);
    return 0;
}
