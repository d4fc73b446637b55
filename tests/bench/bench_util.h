/* bench_util.h - what every benchmark program shares: a monotonic clock,
 * dying with the library's last error, the servers' environment, and the
 * 1 KiB-class payload. Each
 * program defines BENCH_NAME before including it. */
#ifndef MC_BENCH_UTIL_H
#define MC_BENCH_UTIL_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mailchan.h>

static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void die(const char *what)
{
    fprintf(stderr, BENCH_NAME ": %s: %s\n", what, mc_error_last());
    exit(1);
}

/* an environment variable the servers' env.sh exports; missing, the
 * program says which and exits 2 */
static inline const char *bench_env(const char *k)
{
    const char *v = getenv(k);
    if (!v) {
        fprintf(stderr, BENCH_NAME ": %s not set (source the test servers' env.sh)\n", k);
        exit(2);
    }
    return v;
}

/* a message whose envelope is about 1 KiB */
static inline mc_message *payload(void)
{
    mc_message *m;
    char body[1100];
    size_t k = (size_t)sprintf(body, "<d:Data xmlns:d=\"urn:bench\">");
    while (k < 600)
        body[k++] = 'x';
    strcpy(body + k, "</d:Data>");
    if (mc_message_new(&m, "urn:bench:Act", body, strlen(body)))
        die("message");
    return m;
}
#endif
