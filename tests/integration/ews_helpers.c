/* ews_helpers.c - see ews_helpers.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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

long ews_log_lines(const char *needle)
{
    FILE *f = fopen(test_env("MC_EWS_LOG"), "r");
    char line[8192];
    long n = 0;
    assert_non_null(f);
    while (fgets(line, sizeof(line), f))
        n += !needle || strstr(line, needle) != NULL;
    fclose(f);
    return n;
}
