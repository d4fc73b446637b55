/* wss_tool - drives the library's WS-Security filter from the command line,
 * for the interop and rejection tests (tests/security/interop_test.py).
 *
 *   wss_tool [--set NAME=VALUE]... [--now UNIX] secure TO...      stdin -> stdout
 *   wss_tool [--set NAME=VALUE]... [--now UNIX] verify FILE...    one line per file
 *   wss_tool [--set NAME=VALUE]... [--now UNIX] open FILE         the plain envelope
 *
 * Settings are binding settings (security_mode is set to message). verify
 * prints "OK <signer subject>" or "REJECT <reason>"; the mail id of each
 * file is its path, so the same path twice is no replay. Exit status 0 when
 * everything passed, 1 when something was rejected, 2 on usage errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mailchan.h"
#include "internal.h"
#include "binding/options.h"
#include "security/wss.h"

static char *slurp(FILE *f, size_t *len)
{
    mc__buf b;
    char chunk[65536];
    size_t n;
    mc__buf_init(&b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        mc__buf_put(&b, chunk, n);
    return mc__buf_detach(&b, len);
}

static int usage(void)
{
    fprintf(stderr,
            "usage: wss_tool [--set NAME=VALUE]... [--now UNIX] secure TO... | verify FILE... | open FILE\n");
    return 2;
}

int main(int argc, char **argv)
{
    mc_binding *b = NULL;
    mc__envelope_filter *f = NULL;
    long long now = 0;
    int i = 1, status = 0;
    if (mc_binding_new(&b, "maildir") || mc_binding_set(b, "security_mode", "message"))
        return 2;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            char *eq = strchr(argv[++i], '=');
            if (!eq)
                return usage();
            *eq = '\0';
            if (mc_binding_set(b, argv[i], eq + 1)) {
                fprintf(stderr, "wss_tool: %s\n", mc_error_last());
                return 2;
            }
        } else if (!strcmp(argv[i], "--now") && i + 1 < argc) {
            now = atoll(argv[++i]);
        } else {
            break;
        }
    }
    if (i >= argc)
        return usage();
    if (mc__binding_security_filter(b, &f) || !f) {
        fprintf(stderr, "wss_tool: %s\n", mc_error_last());
        return 2;
    }
    if (now)
        mc__wss_set_clock(f, now);
    if (!strcmp(argv[i], "secure")) {
        size_t len, out_len;
        char *in = slurp(stdin, &len), *out;
        if (f->secure(f, in, len, (const char *const *)argv + i + 1, (size_t)(argc - i - 1), &out,
                      &out_len)) {
            fprintf(stderr, "wss_tool: %s\n", mc_error_last());
            status = 1;
        } else {
            fwrite(out, 1, out_len, stdout);
            free(out);
        }
        free(in);
    } else if (!strcmp(argv[i], "verify") || !strcmp(argv[i], "open")) {
        bool print = !strcmp(argv[i], "open");
        for (int k = i + 1; k < argc; k++) {
            FILE *fp = fopen(argv[k], "rb");
            size_t len, out_len;
            char *in, *out, *subject;
            if (!fp) {
                perror(argv[k]);
                return 2;
            }
            in = slurp(fp, &len);
            fclose(fp);
            if (f->unsecure(f, in ? in : "", in ? len : 0, 1 << 24, argv[k], &out, &out_len, &subject)) {
                printf("REJECT %s\n", mc_error_last());
                status = 1;
            } else {
                if (print)
                    fwrite(out, 1, out_len, stdout);
                else
                    printf("OK %s\n", subject);
                free(out);
                free(subject);
            }
            free(in);
        }
    } else {
        return usage();
    }
    f->free(f);
    mc_binding_free(b);
    return status;
}
