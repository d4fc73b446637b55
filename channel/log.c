/* log.c - the process-wide log sink, library init and version. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <libxml/parser.h>
#include <openssl/crypto.h>
#include "internal.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t log_idle = PTHREAD_COND_INITIALIZER;
static mc_log_cb log_cb;
static void *log_ud;
static unsigned log_busy;          /* sink calls in progress */
static _Thread_local bool in_sink; /* this thread runs inside the sink */
static atomic_int log_min = MC_LOG_NONE;
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static int init_count;

void mc_log_set_callback(mc_log_cb cb, mc_log_level min_level, void *user_data)
{
    pthread_mutex_lock(&log_lock);
    log_cb = cb;
    log_ud = user_data;
    atomic_store(&log_min, cb ? (int)min_level : MC_LOG_NONE);
    /* once this returns, the old sink runs no more (its user_data may be
     * freed) - except when called from inside the sink, which cannot wait
     * for itself */
    while (log_busy && !in_sink)
        pthread_cond_wait(&log_idle, &log_lock);
    pthread_mutex_unlock(&log_lock);
}

void mc_log_stderr(mc_log_level level, const char *message, void *user_data)
{
    static const char *names[] = {"debug", "info", "warning", "error", "none"};
    (void)user_data;
    fprintf(stderr, "mailchan: %s: %s\n", names[level <= MC_LOG_NONE ? level : MC_LOG_NONE], message);
}

bool mc__log_enabled(mc_log_level level) { return (int)level >= atomic_load(&log_min); }

void mc__log(mc_log_level level, const char *fmt, ...)
{
    char line[1024];
    mc_log_cb cb;
    void *ud;
    va_list ap;
    if (in_sink || !mc__log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* the sink runs outside the lock, so it may log or change the sink */
    pthread_mutex_lock(&log_lock);
    cb = log_cb;
    ud = log_ud;
    if (cb)
        log_busy++;
    pthread_mutex_unlock(&log_lock);
    if (!cb)
        return;
    in_sink = true;
    cb(level, line, ud);
    in_sink = false;
    pthread_mutex_lock(&log_lock);
    if (!--log_busy)
        pthread_cond_broadcast(&log_idle);
    pthread_mutex_unlock(&log_lock);
}

int mc_init(void)
{
    pthread_mutex_lock(&init_lock);
    if (init_count++ == 0) {
        xmlInitParser();
        OPENSSL_init_crypto(0, NULL);
    }
    pthread_mutex_unlock(&init_lock);
    return 0;
}

void mc_shutdown(void)
{
    pthread_mutex_lock(&init_lock);
    if (init_count > 0)
        init_count--;
    /* xmlCleanupParser() is not called: other users of libxml2 in the
     * process may still need it, and libxml2 documents it as unsafe then. */
    pthread_mutex_unlock(&init_lock);
}

const char *mc_version(void) { return MC_VERSION; }

void mc_free(void *ptr) { free(ptr); }
