#define _POSIX_C_SOURCE 200809L
/* device - a field device: sends a temperature reading to its server every
 * interval, one-way, and applies the configuration changes the server
 * pushes to it (interval, unit, alarm threshold) while it runs.
 *
 * usage: device STORE|--config FILE ADDRESS SERVER_ADDRESS [--interval-ms N] [--count N]
 * STORE is a Maildir root directory shared with the server (the embedded
 * default); --config FILE names any binding in a "binding = KIND" line
 * (maildir, mail, exchange). ADDRESS is the device's own mailbox; readings
 * go to net.mail://readings#SERVER_ADDRESS, configuration comes in on
 * net.mail://config#ADDRESS, only from SERVER_ADDRESS.
 *
 * One transport serves both directions, and one loop: it waits for a
 * configuration message until the next reading is due, so a change
 * applies from the next reading on, without a restart.
 * Exit status 0 when stopped by SIGINT/SIGTERM or after --count readings,
 * 1 when it could not start or receiving failed, 2 for bad usage. */
#include "devices.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define PROG "device"

typedef struct {
    const char *address, *server;
    dev_config cfg; /* the configuration in force: every field set */
    unsigned long seq, failed, applied, ignored;
    double base_c;
    int64_t next_due, last_sent;
} device;

static int usage(void)
{
    fprintf(stderr,
            "usage: " PROG " STORE|--config FILE ADDRESS SERVER_ADDRESS [--interval-ms N] [--count N]\n");
    return 2;
}

/* a made-up sensor: a few degrees around a level of the device's own */
static double temperature_c(const device *d) { return d->base_c + (double)((d->seq * 37) % 23) / 10.0; }

/* 18.0 to 22.9 degrees, from the address: the same at every start */
static double base_level(const char *address)
{
    unsigned h = 5381;
    for (const char *p = address; *p; p++)
        h = h * 33 + (unsigned char)*p;
    return 18.0 + (double)(h % 50) / 10.0;
}

static void send_reading(device *d, mc_output_channel *out)
{
    char body[512];
    mc_message *m = NULL;
    double c;
    int rc;
    d->seq++;
    c = temperature_c(d);
    snprintf(body, sizeof(body),
             "<Reading xmlns=\"" DEV_NS "\"><Device>%s</Device><Seq>%lu</Seq><Temperature>%.1f</Temperature>"
             "<Unit>%c</Unit><ConfigVersion>%u</ConfigVersion><Alarm>%s</Alarm></Reading>",
             d->address, d->seq, dev_c_to_unit(c, d->cfg.unit), d->cfg.unit, d->cfg.version,
             c >= d->cfg.threshold_c ? "true" : "false");
    rc = mc_message_new(&m, DEV_ACTION_READING, body, MC_NUL_TERMINATED);
    if (!rc)
        rc = mc_output_channel_send(out, m);
    if (rc) { /* the reading is lost (a queued binding would keep it): say so, go on */
        fprintf(stderr, PROG ": reading %lu not sent: %s\n", d->seq, mc_error_last());
        d->failed++;
    }
    mc_message_free(m);
}

static void on_config(device *d, const mc_message *m)
{
    const char *from = mc_message_property(m, MC_PROP_FROM_EMAIL), *body;
    char err[160], what[160];
    dev_config change = {0};
    size_t len;
    body = mc_message_body(m, &len);
    if (!from || strcasecmp(from, d->server)) {
        printf("ignored a config message from %s: not my server\n", from ? from : "nobody");
    } else if (strcmp(mc_message_action(m), DEV_ACTION_CONFIG)) {
        printf("ignored a message with action %s\n", mc_message_action(m));
    } else if (dev_config_parse(&change, body, len, err, sizeof(err))) {
        printf("ignored a config message from %s: %s\n", from, err);
    } else if (change.version <= d->cfg.version) {
        printf("ignored config v%u from %s: already on v%u\n", change.version, from, d->cfg.version);
    } else {
        d->cfg.version = change.version;
        if (change.has & DEV_HAS_INTERVAL) /* the next reading one new interval after the last */
            d->next_due = d->last_sent + (d->cfg.interval_ms = change.interval_ms);
        if (change.has & DEV_HAS_UNIT)
            d->cfg.unit = change.unit;
        if (change.has & DEV_HAS_THRESHOLD)
            d->cfg.threshold_c = change.threshold_c;
        dev_config_describe(&change, d->cfg.unit, what, sizeof(what));
        printf("applied config v%u: %s (from %s, after seq %lu)\n", change.version, what, from, d->seq);
        d->applied++;
        return;
    }
    d->ignored++;
}

/* sends readings and applies configuration until stopped; 0 or the error
 * that stopped receiving */
static int run(device *d, mc_input_channel *in, mc_output_channel *out, unsigned long count)
{
    d->next_due = dev_now_ms();
    while (!dev_stop && (!count || d->seq < count)) {
        int64_t now = dev_now_ms(), wait;
        mc_message *m = NULL;
        int rc;
        if (now >= d->next_due) {
            send_reading(d, out);
            d->last_sent = now;
            d->next_due += d->cfg.interval_ms;
            if (d->next_due <= now) /* fell behind (a slow send): keep the interval, skip the rest */
                d->next_due = now + d->cfg.interval_ms;
            continue;
        }
        wait = d->next_due - now;
        rc = mc_input_channel_try_receive(&m, in, wait > 200 ? 200 : (int)wait); /* 200: see dev_stop */
        if (rc) {
            fprintf(stderr, PROG ": receiving configuration: %s\n", mc_error_last());
            return rc;
        }
        if (m)
            on_config(d, m);
        mc_message_free(m);
    }
    return 0;
}

static int parse_options(char **argv, int argc, unsigned long *interval, unsigned long *count)
{
    for (int i = 0; i < argc; i += 2) {
        char *end;
        unsigned long v = i + 1 < argc ? strtoul(argv[i + 1], &end, 10) : 0;
        if (i + 1 >= argc || !*argv[i + 1] || *end)
            return -1;
        if (!strcmp(argv[i], "--interval-ms") && v >= DEV_INTERVAL_MIN && v <= DEV_INTERVAL_MAX)
            *interval = v;
        else if (!strcmp(argv[i], "--count") && v > 0)
            *count = v;
        else
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    device d = {0};
    dev_endpoint e = {0};
    mc_output_channel *out = NULL;
    unsigned long interval = 1000, count = 0;
    char to[400];
    int used = 0, rc = 1;
    if (argc < 4 || (argv[1][0] == '-' && strcmp(argv[1], "--config")))
        return usage();
    if (!strcmp(argv[1], "--config") && argc < 5)
        return usage();
    used = strcmp(argv[1], "--config") ? 1 : 2;
    d.address = argv[1 + used];
    d.server = argv[2 + used];
    if (parse_options(argv + 3 + used, argc - 3 - used, &interval, &count))
        return usage();
    d.cfg = (dev_config){.version = 1, .interval_ms = (unsigned)interval, .unit = 'C', .threshold_c = 30.0};
    d.base_c = base_level(d.address);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (mc_init())
        return 1;
    dev_catch_signals();
    snprintf(to, sizeof(to), "net.mail://" DEV_READINGS "#%s", d.server);
    if (dev_endpoint_open(&e, argv + 1, argc - 1, d.address, DEV_CONFIG, PROG))
        goto done;
    if (mc_channel_factory_create_channel(&out, e.factory, to)) {
        fprintf(stderr, PROG ": %s\n", mc_error_last());
        goto done;
    }
    printf("device %s (pid %ld): a reading every %u ms to %s, config from net.mail://" DEV_CONFIG "#%s\n",
           d.address, (long)getpid(), d.cfg.interval_ms, to, mc_transport_address(e.t));
    rc = run(&d, e.in, out, count) ? 1 : 0;
    mc_input_channel_close(e.in); /* deletes the configuration mail received */
    printf("device %s stopping: %lu reading%s sent, %lu failed (seq 1-%lu), %lu config%s applied, %lu "
           "ignored, on config v%u\n",
           d.address, d.seq - d.failed, d.seq - d.failed == 1 ? "" : "s", d.failed, d.seq, d.applied,
           d.applied == 1 ? "" : "s", d.ignored, d.cfg.version);
done:
    mc_output_channel_free(out);
    dev_endpoint_close(&e);
    mc_shutdown();
    return rc;
}
