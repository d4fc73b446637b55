/* fuzz_ews.c - an EWS server's response, every way the transport reads one:
 * the envelope and fault (ErrorServerBusy's BackOffMilliseconds), each
 * response message's class and code, and every field the sender and the
 * receiver take from it (folder id, items with their size and time, MIME
 * content, deletion and move results, a created folder's id, subscription, events, a draft's id). */
#include <stdint.h>
#include <stdlib.h>
#include "exchange/ews/ews.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const ids[] = {"a", "b", "c"};
    mc__ews_response r = {0};
    char code[64], text[256], id[1024], ck[512], wm[512];
    int backoff;
    if (mc__ews_parse(&r, (const char *)data, size, 1u << 24))
        return 0;
    mc__ews_read_deleted(&r, ids, 3, &backoff);
    mc__ews_read_each(&r, "MoveItem", ids, 2, &backoff);
    for (xmlNode *m = mc__ews_first_message(&r); m; m = mc__ews_next_message(m)) {
        mc__listing l = {0};
        size_t cap = 0;
        bool last, truncated;
        char *mime = NULL;
        size_t len;
        mc__ews_message_status(m, code, text, &backoff);
        mc__ews_read_folder_id(m, id, sizeof(id));
        mc__ews_read_created_folder_id(m, id, sizeof(id));
        mc__ews_read_items(m, &l, &cap, &last);
        for (size_t i = 0; i < l.count; i++)
            free(l.items[i].id);
        free(l.items);
        if (!mc__ews_read_mime(m, 65536, &mime, &len, &truncated))
            free(mime);
        mc__ews_read_subscription(m, id, sizeof(id), wm, sizeof(wm));
        wm[0] = 0;
        mc__ews_read_events(m, wm, sizeof(wm));
        mc__ews_read_draft_id(m, id, sizeof(id), ck, sizeof(ck));
    }
    mc__ews_response_free(&r);
    return 0;
}
