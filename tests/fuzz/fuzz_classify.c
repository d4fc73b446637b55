/* fuzz_classify.c - mail classification: headers, MIME, transfer
 * encodings, subject, SOAP, all through mc_mail_classify(). */
#include <stdint.h>
#include <stdlib.h>
#include <mailchan.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mc_mail_info *info = NULL;
    if (mc_mail_classify(&info, (const char *)data, size, 65536, 1700000000) == 0) {
        if (info->kind == MC_MAIL_OK && (!info->message || !info->channel))
            abort();
        if ((info->kind == MC_MAIL_MALFORMED || info->kind == MC_MAIL_INVALID) && !info->reason)
            abort();
        mc_mail_info_free(info);
    }
    return 0;
}
