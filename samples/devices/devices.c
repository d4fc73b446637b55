#define _POSIX_C_SOURCE 200809L
/* devices.c - helpers shared by the device and the server samples. */
#include "devices.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

volatile sig_atomic_t dev_stop;

static void on_signal(int sig)
{
    (void)sig;
    dev_stop = 1;
}

void dev_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int64_t dev_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double dev_c_to_unit(double celsius, char unit) { return unit == 'F' ? celsius * 9.0 / 5.0 + 32.0 : celsius; }

static int report(int rc, const char *prog, const char *what)
{
    if (rc)
        fprintf(stderr, "%s: %s: %s\n", prog, what, mc_error_last());
    return rc;
}

/* a binding of the kind the file names, or a Maildir store in a directory */
static int open_binding(mc_binding **b, char **argv, int argc, int *used, const char *prog)
{
    struct stat st;
    if (argc >= 2 && !strcmp(argv[0], "--config")) {
        *used = 2;
        return report(mc_binding_new_from_config(b, argv[1]), prog, argv[1]);
    }
    *used = 1;
    if (argc < 1 || stat(argv[0], &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: %s: not a directory (a Maildir store), and no --config FILE\n", prog,
                argc < 1 ? "(none)" : argv[0]);
        return MC_EINVAL;
    }
    if (report(mc_binding_new(b, "maildir"), prog, "binding"))
        return MC_EINVAL;
    return report(mc_binding_set(*b, "maildir_root", argv[0]), prog, "maildir_root");
}

int dev_open_binding(mc_binding **out, char **argv, int argc, const char *address, int *used,
                     const char *prog)
{
    mc_binding *b = NULL;
    const char *pw = getenv("MAILCHAN_PASSWORD");
    int rc = open_binding(&b, argv, argc, used, prog);
    /* kinds without a password answer MC_ENOTFOUND: nothing to do */
    if (!rc && pw && *pw && mc_binding_is_default(b, "password") == 1)
        rc = report(mc_binding_set(b, "password", pw), prog, "password");
    if (!rc)
        rc = report(mc_binding_set(b, "address", address), prog, "address");
    if (rc) {
        mc_binding_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

int dev_open(mc_transport **out, char **argv, int argc, const char *address, int *used, const char *prog)
{
    mc_binding *b = NULL;
    int rc = dev_open_binding(&b, argv, argc, address, used, prog);
    if (!rc)
        rc = report(mc_transport_new(out, b), prog, "transport");
    mc_binding_free(b);
    return rc;
}

int dev_endpoint_open(dev_endpoint *e, char **argv, int argc, const char *address, const char *channel,
                      const char *prog)
{
    char uri[256];
    int used, rc;
    if ((rc = dev_open(&e->t, argv, argc, address, &used, prog)))
        return rc; /* dev_open said what failed */
    snprintf(uri, sizeof(uri), "net.mail://%s#", channel);
    if ((rc = mc_channel_factory_new(&e->factory, e->t)) ||
        (rc = mc_channel_listener_new(&e->listener, e->t, uri)) ||
        (rc = mc_channel_listener_accept_channel(&e->in, e->listener, -1)))
        fprintf(stderr, "%s: %s\n", prog, mc_error_last());
    return rc;
}

void dev_endpoint_close(dev_endpoint *e)
{
    if (e->in)
        mc_input_channel_close(e->in);
    mc_input_channel_free(e->in);
    mc_channel_listener_free(e->listener);
    mc_channel_factory_free(e->factory);
    mc_transport_free(e->t);
    *e = (dev_endpoint){0};
}

static int parse_uint(const char *s, unsigned long *out)
{
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9')
        return -1;
    *out = strtoul(s, &end, 10);
    return errno || *end ? -1 : 0;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    if (!*s)
        return -1;
    errno = 0;
    *out = strtod(s, &end);
    return errno || *end || *out < -100.0 || *out > 1000.0 ? -1 : 0;
}

/* one field of a configuration by name; shared by the command line and
 * the message, so both refuse the same values */
static int config_field(dev_config *cfg, const char *name, const char *value, char *err, size_t errlen)
{
    unsigned long n;
    if (!strcmp(name, "interval") || !strcmp(name, "IntervalMs")) {
        if (parse_uint(value, &n) || n < DEV_INTERVAL_MIN || n > DEV_INTERVAL_MAX) {
            snprintf(err, errlen, "interval \"%s\" is not a number of milliseconds from %d to %d", value,
                     DEV_INTERVAL_MIN, DEV_INTERVAL_MAX);
            return -1;
        }
        cfg->interval_ms = (unsigned)n;
        cfg->has |= DEV_HAS_INTERVAL;
    } else if (!strcmp(name, "unit") || !strcmp(name, "Unit")) {
        if (strcmp(value, "C") && strcmp(value, "F")) {
            snprintf(err, errlen, "unit \"%s\" is not C or F", value);
            return -1;
        }
        cfg->unit = value[0];
        cfg->has |= DEV_HAS_UNIT;
    } else if (!strcmp(name, "threshold") || !strcmp(name, "ThresholdC")) {
        if (parse_double(value, &cfg->threshold_c)) {
            snprintf(err, errlen, "threshold \"%s\" is not a temperature in Celsius", value);
            return -1;
        }
        cfg->has |= DEV_HAS_THRESHOLD;
    } else {
        snprintf(err, errlen, "unknown setting \"%s\" (interval, unit, threshold)", name);
        return -1;
    }
    return 0;
}

int dev_config_set(dev_config *cfg, const char *pair, char *err, size_t errlen)
{
    char name[32];
    const char *eq = strchr(pair, '=');
    if (!eq || eq == pair || (size_t)(eq - pair) >= sizeof(name)) {
        snprintf(err, errlen, "\"%s\" is not name=value", pair);
        return -1;
    }
    memcpy(name, pair, (size_t)(eq - pair));
    name[eq - pair] = '\0';
    return config_field(cfg, name, eq + 1, err, errlen);
}

void dev_config_xml(const dev_config *cfg, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "<Config xmlns=\"" DEV_NS "\"><Version>%u</Version>", cfg->version);
    if (n < len && (cfg->has & DEV_HAS_INTERVAL))
        n += (size_t)snprintf(buf + n, len - n, "<IntervalMs>%u</IntervalMs>", cfg->interval_ms);
    if (n < len && (cfg->has & DEV_HAS_UNIT))
        n += (size_t)snprintf(buf + n, len - n, "<Unit>%c</Unit>", cfg->unit);
    if (n < len && (cfg->has & DEV_HAS_THRESHOLD))
        n += (size_t)snprintf(buf + n, len - n, "<ThresholdC>%.1f</ThresholdC>", cfg->threshold_c);
    if (n < len)
        snprintf(buf + n, len - n, "</Config>");
}

int dev_config_parse(dev_config *cfg, const char *body, size_t len, char *err, size_t errlen)
{
    static const char *const names[] = {"IntervalMs", "Unit", "ThresholdC"};
    char value[64];
    unsigned long version;
    if (!dev_field_uint(body, len, "Version", &version) || version == 0 || version > 1000000000) {
        snprintf(err, errlen, "no valid Version");
        return -1;
    }
    cfg->version = (unsigned)version;
    cfg->has = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (dev_field(body, len, names[i], value, sizeof(value)) &&
            config_field(cfg, names[i], value, err, errlen))
            return -1;
    return 0;
}

void dev_config_describe(const dev_config *cfg, char unit, char *buf, size_t len)
{
    size_t n = 0;
    const char *sep = "";
    buf[0] = '\0';
    if (cfg->has & DEV_HAS_UNIT)
        unit = cfg->unit;
    if (cfg->has & DEV_HAS_INTERVAL) {
        n += (size_t)snprintf(buf + n, len - n, "interval %u ms", cfg->interval_ms);
        sep = ", ";
    }
    if (n < len && (cfg->has & DEV_HAS_UNIT)) {
        n += (size_t)snprintf(buf + n, len - n, "%sunit %c", sep, cfg->unit);
        sep = ", ";
    }
    if (n < len && (cfg->has & DEV_HAS_THRESHOLD))
        snprintf(buf + n, len - n, "%sthreshold %.1f %c", sep, dev_c_to_unit(cfg->threshold_c, unit), unit);
}

/* the start of the element's text: after "<name>" or "<p:name ...>" */
static const char *element_text(const char *p, const char *end, const char *name)
{
    size_t nlen = strlen(name);
    while ((p = memchr(p, '<', (size_t)(end - p))) != NULL) {
        const char *q = ++p, *colon;
        while (q < end && *q != ':' && *q != '>' && *q != ' ' && *q != '/' && *q != '<')
            q++;
        colon = q < end && *q == ':' ? q + 1 : p; /* skip a namespace prefix */
        if ((size_t)(end - colon) > nlen && !memcmp(colon, name, nlen) &&
            (colon[nlen] == '>' || colon[nlen] == ' ')) {
            const char *gt = memchr(colon, '>', (size_t)(end - colon));
            if (gt && gt[-1] != '/')
                return gt + 1;
        }
    }
    return NULL;
}

bool dev_field(const char *body, size_t len, const char *name, char *out, size_t outlen)
{
    const char *end = body + len, *text = element_text(body, end, name), *lt;
    if (!text || !(lt = memchr(text, '<', (size_t)(end - text))) || (size_t)(lt - text) >= outlen)
        return false;
    memcpy(out, text, (size_t)(lt - text));
    out[lt - text] = '\0';
    return true;
}

bool dev_field_uint(const char *body, size_t len, const char *name, unsigned long *out)
{
    char value[32];
    return dev_field(body, len, name, value, sizeof(value)) && !parse_uint(value, out);
}
