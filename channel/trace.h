/* trace.h - the wire trace's line assembler, for the transports (internal).
 * A transport feeds what it sends and receives to mc__trace_data(); whole
 * lines go to its redact function, then, capped and printable, to the sink. */
#ifndef MC_TRACE_H
#define MC_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include "mailchan/common.h"

/* room for a capped line plus what a redaction writes over its end */
#define MC__TRACE_BUF (MC_TRACE_LINE_MAX + 16)

/* Rewrites a whole line (no CR LF; len octets, NUL-terminated, room for
 * MC__TRACE_BUF) of direction dir before it is shown, and follows the
 * dialogue in state. Returns true when it redacted something. */
typedef bool (*mc__trace_redact)(void *state, mc_trace_direction dir, char *line, size_t *len);

typedef struct {
    const char *protocol;
    mc__trace_redact redact;
    void *state;
    char line[2][MC__TRACE_BUF]; /* the partial line of each direction (sent, received) */
    size_t len[2], over[2];      /* octets kept; octets over the cap */
} mc__tracer;

/* whether a sink is installed (and this thread is not inside it) */
bool mc__trace_on(void);
void mc__tracer_init(mc__tracer *t, const char *protocol, mc__trace_redact redact, void *state);
/* octets sent or received; every complete line is shown */
void mc__trace_data(mc__tracer *t, mc_trace_direction dir, const char *data, size_t n);
/* shows a partial line (the end of a block that has no final newline) */
void mc__trace_flush(mc__tracer *t, mc_trace_direction dir);
/* a note ("* "): connection, TLS */
void mc__trace_note(const char *protocol, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* for redact functions: replaces line[at..] by "[redacted]" */
void mc__trace_redact_from(char *line, size_t *len, size_t at);
size_t mc__trace_skip_words(const char *line, size_t len, unsigned words);

#endif
