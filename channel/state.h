/* state.h - what the core and message security need from durable state,
 * as a table of functions: the state store (channel/queue/) implements it,
 * the binding wires it in, and neither the core nor security/ knows SQLite.
 * Without a store (no state_path) these are NULL and everything stays in
 * memory, as before. Every function may be called from any thread. */
#ifndef MC_STATE_H
#define MC_STATE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct mc__state mc__state;

#define MC__STATE_VERSION 1

/* one replay-cache entry, as handed back by replay_load */
typedef void (*mc__replay_each)(void *ud, const char *key, const char *mail_id, int64_t expires_ms);

typedef struct {
    unsigned version; /* MC__STATE_VERSION */
    /* Received ids (exactly-once delivery): 1 when this wsa:MessageID was
     * handed to the application within the dedup window, 0 when not, < 0
     * an error (the store could not be read; the message is kept). */
    int (*seen)(mc__state *s, const char *message_id);
    /* Records, in one transaction, that the message with this id was handed
     * to the application and that mail_id (the mail that carried it) is to
     * be deleted. 0: recorded now, hand it over; 1: this id was recorded
     * within the dedup window already (another copy of the message was
     * handed over: this one is not, and the record is left as it was); < 0
     * an error: the message is then not handed over. */
    int (*record)(mc__state *s, const char *message_id, const char *mail_id);
    /* The WS-Security replay cache (keys are hashes): an entry kept until
     * expires_ms (wall clock); remove forgets one; load hands every entry
     * still live at now_ms to each, the latest to expire last. */
    int (*replay_put)(mc__state *s, const char *key, const char *mail_id, int64_t expires_ms);
    int (*replay_remove)(mc__state *s, const char *key);
    int (*replay_load)(mc__state *s, int64_t now_ms, size_t max, mc__replay_each each, void *ud);
    /* Counted in the statistics: duplicates found by `seen`. */
    void (*free)(mc__state *s);
} mc__state_ops;

struct mc__state {
    const mc__state_ops *ops;
};

#endif
