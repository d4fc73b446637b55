/* test_trace.c - the wire trace (mc_trace_set_callback): lines cut at
 * newlines (CR LF or LF), capped with the count of what was cut, control
 * characters and broken UTF-8 shown as '?', the redact hook applied before
 * the sink, and nothing at all without a sink. The protocols' redaction is
 * tested end to end (tests/integration/cli_trace_test.sh, tests/ews). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "helpers.h"
#include "internal.h"
#include "trace.h"

typedef struct {
    char lines[16][MC_TRACE_LINE_MAX + 64];
    mc_trace_direction dir[16];
    char protocol[16][8];
    int n;
} seen;

static void sink(mc_trace_direction direction, const char *protocol, const char *line, void *user_data)
{
    seen *s = user_data;
    if (s->n < 16) {
        snprintf(s->lines[s->n], sizeof(s->lines[0]), "%s", line);
        snprintf(s->protocol[s->n], sizeof(s->protocol[0]), "%s", protocol);
        s->dir[s->n++] = direction;
    }
}

static int setup(void **state)
{
    seen *s = calloc(1, sizeof(*s));
    mc_trace_set_callback(sink, s);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    mc_trace_set_callback(NULL, NULL);
    free(*state);
    return 0;
}

static void test_lines(void **state)
{
    seen *s = *state;
    mc__tracer t;
    mc__tracer_init(&t, "smtp", NULL, NULL);
    /* pieces: a line may come in several calls, several lines in one */
    mc__trace_data(&t, MC_TRACE_SENT, "EHLO ", 5);
    mc__trace_data(&t, MC_TRACE_SENT, "host\r\nQUIT\r\n", 12);
    mc__trace_data(&t, MC_TRACE_RECEIVED, "250 ok\n", 7);
    mc__trace_data(&t, MC_TRACE_RECEIVED, "partial", 7);
    assert_int_equal(s->n, 3);
    mc__trace_flush(&t, MC_TRACE_RECEIVED);
    assert_int_equal(s->n, 4);
    assert_string_equal(s->lines[0], "EHLO host");
    assert_string_equal(s->lines[1], "QUIT");
    assert_string_equal(s->lines[2], "250 ok");
    assert_string_equal(s->lines[3], "partial");
    assert_int_equal(s->dir[0], MC_TRACE_SENT);
    assert_int_equal(s->dir[2], MC_TRACE_RECEIVED);
    assert_string_equal(s->protocol[0], "smtp");
    mc__trace_note("imap", "Connected to %s port %u", "h", 143u);
    assert_string_equal(s->lines[4], "Connected to h port 143");
    assert_int_equal(s->dir[4], MC_TRACE_INFO);
}

static void test_cap(void **state)
{
    seen *s = *state;
    mc__tracer t;
    char *big = malloc(MC_TRACE_LINE_MAX + 501);
    char want[64];
    memset(big, 'x', MC_TRACE_LINE_MAX + 500);
    big[MC_TRACE_LINE_MAX + 500] = '\n';
    mc__tracer_init(&t, "http", NULL, NULL);
    mc__trace_data(&t, MC_TRACE_RECEIVED, big, MC_TRACE_LINE_MAX + 501);
    assert_int_equal(s->n, 1);
    snprintf(want, sizeof(want), " [... %d more octets]", 500);
    assert_int_equal(strlen(s->lines[0]), MC_TRACE_LINE_MAX + strlen(want));
    assert_string_equal(s->lines[0] + MC_TRACE_LINE_MAX, want);
    free(big);
}

static void test_printable(void **state)
{
    seen *s = *state;
    mc__tracer t;
    /* ESC (a terminal's escape), a C1 control (U+009B, CSI), a lone
     * continuation byte and a cut sequence become '?'; UTF-8 stays */
    static const char in[] = "a\x1b[2Jb\tc \xc2\x9b d \x80 caf\xc3\xa9 \xe6\x97\xa5 \xe6\x97\n";
    mc__tracer_init(&t, "imap", NULL, NULL);
    mc__trace_data(&t, MC_TRACE_RECEIVED, in, sizeof(in) - 1);
    assert_int_equal(s->n, 1);
    assert_string_equal(s->lines[0], "a?[2Jb\tc ?? d ? caf\xc3\xa9 \xe6\x97\xa5 ??");
}

/* redacts every line that starts with "SECRET" (after the prefix) */
static bool redact_secret(void *state, mc_trace_direction dir, char *line, size_t *len)
{
    (*(int *)state)++;
    if (dir != MC_TRACE_SENT || strncmp(line, "SECRET ", 7))
        return false;
    mc__trace_redact_from(line, len, mc__trace_skip_words(line, *len, 1));
    return true;
}

static void test_redact(void **state)
{
    seen *s = *state;
    mc__tracer t;
    int calls = 0;
    char *big = malloc(MC_TRACE_LINE_MAX + 101);
    memcpy(big, "SECRET ", 7);
    memset(big + 7, 'k', MC_TRACE_LINE_MAX + 93);
    big[MC_TRACE_LINE_MAX + 100] = '\n';
    mc__tracer_init(&t, "smtp", redact_secret, &calls);
    mc__trace_data(&t, MC_TRACE_SENT, "SECRET hunter2\r\n", 16);
    mc__trace_data(&t, MC_TRACE_RECEIVED, "SECRET stays\r\n", 14);
    /* a redacted line does not tell how long it was */
    mc__trace_data(&t, MC_TRACE_SENT, big, MC_TRACE_LINE_MAX + 101);
    assert_int_equal(calls, 3);
    assert_int_equal(s->n, 3);
    assert_string_equal(s->lines[0], "SECRET [redacted]");
    assert_string_equal(s->lines[1], "SECRET stays");
    assert_string_equal(s->lines[2], "SECRET [redacted]");
    free(big);
}

static void test_off(void **state)
{
    seen *s = *state;
    mc__tracer t;
    int calls = 0;
    mc_trace_set_callback(NULL, NULL);
    assert_false(mc__trace_on());
    mc__tracer_init(&t, "smtp", redact_secret, &calls);
    mc__trace_data(&t, MC_TRACE_SENT, "SECRET x\r\n", 10);
    mc__trace_note("smtp", "note");
    assert_int_equal(calls, 0);
    assert_int_equal(s->n, 0);
    mc_trace_set_callback(sink, s);
    assert_true(mc__trace_on());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_printable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_off, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
