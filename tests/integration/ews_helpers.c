/* ews_helpers.c - see ews_helpers.h. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <string.h>
#include "ews_helpers.h"

long ews_ctl(const char *fmt, ...)
{
    char cmd[2048], line[256] = "";
    va_list ap;
    FILE *p;
    int n = snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/ewsctl.py ", MC_TEST_EWS_DIR);
    va_start(ap, fmt);
    vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
    va_end(ap);
    assert_non_null(p = popen(cmd, "r"));
    if (!fgets(line, sizeof(line), p))
        line[0] = 0;
    if (pclose(p) != 0)
        fail_msg("%s failed", cmd);
    return strtol(line, NULL, 10);
}

char *ews_new_token(const char *user)
{
    char cmd[2048], line[4096];
    FILE *p;
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 %s/ewsctl.py json '{\"new_token\": {\"user\": \"%s\"}}' | "
             "/usr/bin/python3 -c \"import json,sys; print(json.loads(sys.stdin.read())['token'])\"",
             MC_TEST_EWS_DIR, user);
    assert_non_null(p = popen(cmd, "r"));
    if (!fgets(line, sizeof(line), p))
        line[0] = 0;
    if (pclose(p) != 0 || !line[0])
        fail_msg("%s failed", cmd);
    line[strcspn(line, "\n")] = 0;
    return strdup(line);
}

/* Complete lines only: a line the responder is still writing (no newline
 * yet) is left for the next call, and a long line counts once. */
long ews_log_lines(const char *needle)
{
    FILE *f = fopen(test_env("MC_EWS_LOG"), "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long n = 0;
    assert_non_null(f);
    while ((len = getline(&line, &cap, f)) > 0)
        if (line[len - 1] == '\n')
            n += !needle || strstr(line, needle) != NULL;
    free(line);
    fclose(f);
    return n;
}
