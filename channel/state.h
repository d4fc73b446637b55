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

#define MC__STATE_VERSION 2

/* one replay-cache entry, as handed back by replay_load */
typedef void (*mc__replay_each)(void *ud, const char *key, const char *mail_id, int64_t expires_ms);

/* one reply kept for the application, as handed back by reply_load */
typedef struct {
    const char *key;        /* the reply's wsa:MessageID, or "mail:" + the mail's id */
    const char *relates_to; /* "" when none */
    const char *envelope;
    size_t len;
    const char *from;            /* MC_PROP_FROM_EMAIL or "" */
    const char *mail_message_id; /* MC_PROP_MAIL_MESSAGE_ID or "" */
    const char *received;        /* MC_PROP_RECEIVED_TIME or "" */
} mc__stored_reply;
typedef void (*mc__reply_each)(void *ud, const mc__stored_reply *r);

typedef struct {
    unsigned version; /* MC__STATE_VERSION */
    /* Received ids (exactly-once delivery): 1 when this wsa:MessageID was
     * handed to the application within the dedup window, 0 when not, < 0
     * an error (the store could not be read; the message is kept). */
    int (*seen)(mc__state *s, const char *message_id);
    /* Records, in one transaction, that the message with this id was handed
     * to the application and that mail_id (the mail that carried it) is to
     * be deleted. 0; 1 when the id was handed over before within the dedup
     * window (nothing is recorded: the mail is a duplicate, to be deleted);
     * or an error (< 0): the message is then not handed over. */
    int (*record)(mc__state *s, const char *message_id, const char *mail_id);
    /* The WS-Security replay cache (keys are hashes): an entry kept until
     * expires_ms (wall clock); remove forgets one; load hands every entry
     * still live at now_ms to each, the latest to expire last. */
    int (*replay_put)(mc__state *s, const char *key, const char *mail_id, int64_t expires_ms);
    int (*replay_remove)(mc__state *s, const char *key);
    int (*replay_load)(mc__state *s, int64_t now_ms, size_t max, mc__replay_each each, void *ud);
    /* Counted in the statistics: duplicates found by `seen`. */
    void (*free)(mc__state *s);
    /* version 2: request/reply correlation (request.c). A request sent and
     * not yet answered, remembered until forget_ms (wall clock); known: 1
     * while it is, 0 not; forget drops one (its send failed); count the
     * ones remembered now. */
    int (*request_put)(mc__state *s, const char *message_id, const char *service, int64_t forget_ms);
    int (*request_known)(mc__state *s, const char *message_id);
    int (*request_forget)(mc__state *s, const char *message_id);
    int (*request_count)(mc__state *s, size_t *n);
    /* A reply received and not yet taken by the application: put keeps it
     * (1 and nothing written when its wsa:MessageID was handed over before,
     * within the dedup window, or it is kept already); take removes it and
     * the request it answers, in one transaction; load hands every kept
     * reply to each, oldest first. */
    int (*reply_put)(mc__state *s, const mc__stored_reply *r);
    int (*reply_take)(mc__state *s, const char *key, const char *relates_to);
    int (*reply_load)(mc__state *s, mc__reply_each each, void *ud);
} mc__state_ops;

struct mc__state {
    const mc__state_ops *ops;
};

#endif
