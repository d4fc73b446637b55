/* ews_helpers.h - what the tests over the EWS responder share: its control
 * endpoint (tests/ews/ewsctl.py) and its request log. Every helper fails the
 * running test (cmocka) on an error. */
#ifndef MC_TEST_EWS_HELPERS_H
#define MC_TEST_EWS_HELPERS_H
#include "net_helpers.h"

/* Runs ewsctl.py with these arguments (a shell pipeline may follow them)
 * and returns its first output line as a number. */
long ews_ctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A fresh OAuth token for user from the responder (new_token): a new
 * string, free() it. */
char *ews_new_token(const char *user);
/* Lines of the responder's request log (MC_EWS_LOG) that hold needle; all
 * lines when needle is NULL. */
long ews_log_lines(const char *needle);
#endif
