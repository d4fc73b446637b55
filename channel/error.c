/* error.c - error codes, text, and the per-thread detailed message. */
#include <stdio.h>
#include <string.h>
#include "internal.h"

static _Thread_local struct {
    int code;
    char message[512];
} last_error;

const char *mc_strerror(int code)
{
    switch (code) {
    case MC_OK:
        return "success";
    case MC_EINVAL:
        return "invalid argument";
    case MC_ENOMEM:
        return "out of memory";
    case MC_ETIMEOUT:
        return "timed out";
    case MC_ECANCELED:
        return "cancelled";
    case MC_EAUTH:
        return "authentication failed";
    case MC_ETLS:
        return "TLS failure";
    case MC_ENOTFOUND:
        return "not found";
    case MC_EPROTO:
        return "protocol error or malformed data";
    case MC_ESECURITY:
        return "message security check failed";
    case MC_ETOOBIG:
        return "size limit exceeded";
    case MC_EBUSY:
        return "busy";
    case MC_EIO:
        return "I/O error";
    case MC_ECLOSED:
        return "closed";
    case MC_EPARTIAL:
        return "delivered to some recipients, refused by the server for others";
    case MC_EFULL:
        return "the outbox is full";
    case MC_EFAULT:
        return "the service answered with a SOAP fault";
    default:
        return "unknown error";
    }
}

/* Formats into a scratch buffer first: callers may pass mc_error_last()
 * itself as an argument, to prefix context to a detail. */
int mc__error_set(int code, const char *fmt, ...)
{
    char scratch[sizeof(last_error.message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(scratch, sizeof(scratch), fmt, ap);
    va_end(ap);
    last_error.code = code;
    memcpy(last_error.message, scratch, sizeof(scratch));
    return code;
}

const char *mc_error_last(void) { return last_error.message; }
int mc_error_last_code(void) { return last_error.code; }

void mc_error_clear(void)
{
    last_error.code = 0;
    last_error.message[0] = '\0';
}
