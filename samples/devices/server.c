#define _POSIX_C_SOURCE 200809L
/* devserver - the central server of the devices sample: prints every
 * reading its devices send to net.mail://readings#ADDRESS, and pushes a
 * configuration change to a set of devices by address - one message to
 * net.mail://config#dev1;dev2;... - which they apply while they run.
 *
 * usage: devserver STORE|--config FILE ADDRESS [--push-after N] [--to A,B,...] [--set NAME=VALUE]...
 * STORE is a Maildir root directory shared with the devices (the embedded
 * default); --config FILE names any binding ("binding = KIND").
 * NAME=VALUE: interval=MS (100 to 3600000), unit=C|F, threshold=CELSIUS.
 * --push-after N pushes the --set change to the --to devices once N
 * readings have arrived. Commands on standard input, one a line:
 *   push NAME=VALUE... [to A,B,...]
 * Without a "to", a push goes to every device heard from so far. Each push
 * carries the next version number; devices report the version they run in
 * every reading, and the server says when each device is on it.
 * Exit status 0 when stopped by SIGINT/SIGTERM, 1 when it could not start
 * or receiving failed, 2 for bad usage. */
#include "devices.h"
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define PROG "devserver"
#define MAX_DEVICES 256
#define MAX_SEQ 10000000 /* duplicates are told apart up to this sequence number */

typedef struct {
    char address[256];
    unsigned long readings, max_seq, duplicates, late;
    unsigned version;    /* the highest config version it reported */
    unsigned char *seen; /* by sequence number */
    size_t seen_len;
} device_entry;

typedef struct {
    mc_channel_factory *factory;
    device_entry devs[MAX_DEVICES];
    size_t ndevs;
    unsigned long readings, ignored;
    unsigned version, pushes; /* the last version pushed */
    char line[1024];          /* standard input not yet a whole line */
    size_t line_len;
    bool stdin_open;
} server;

static int usage(void)
{
    fprintf(stderr, "usage: " PROG " STORE|--config FILE ADDRESS [--push-after N] [--to A,B,...] "
                    "[--set NAME=VALUE]...\n"
                    "       NAME=VALUE: interval=MS, unit=C|F, threshold=CELSIUS\n"
                    "       standard input: push NAME=VALUE... [to A,B,...]\n");
    return 2;
}

static device_entry *find_device(server *s, const char *address)
{
    for (size_t i = 0; i < s->ndevs; i++)
        if (!strcasecmp(s->devs[i].address, address))
            return &s->devs[i];
    if (s->ndevs == MAX_DEVICES || strlen(address) >= sizeof(s->devs[0].address))
        return NULL;
    snprintf(s->devs[s->ndevs].address, sizeof(s->devs[0].address), "%s", address);
    return &s->devs[s->ndevs++];
}

/* true the first time seq is seen from this device */
static bool first_time(device_entry *d, unsigned long seq)
{
    if (seq >= MAX_SEQ)
        return true;
    if (seq >= d->seen_len) {
        size_t len = d->seen_len ? d->seen_len : 1024;
        unsigned char *p;
        while (len <= seq)
            len *= 2;
        if (!(p = realloc(d->seen, len)))
            return true;
        memset(p + d->seen_len, 0, len - d->seen_len);
        d->seen = p, d->seen_len = len;
    }
    if (d->seen[seq])
        return false;
    d->seen[seq] = 1;
    return true;
}

static void on_reading(server *s, const mc_message *m)
{
    const char *from = mc_message_property(m, MC_PROP_FROM_EMAIL), *body;
    char temp[32], unit[4], alarm[8] = "";
    unsigned long seq, version;
    device_entry *d;
    size_t len;
    body = mc_message_body(m, &len);
    if (!from || strcmp(mc_message_action(m), DEV_ACTION_READING) ||
        !dev_field_uint(body, len, "Seq", &seq) || !dev_field_uint(body, len, "ConfigVersion", &version) ||
        !dev_field(body, len, "Temperature", temp, sizeof(temp)) ||
        !dev_field(body, len, "Unit", unit, sizeof(unit))) {
        printf("ignored a message from %s: not a reading\n", from ? from : "nobody");
        s->ignored++;
        return;
    }
    dev_field(body, len, "Alarm", alarm, sizeof(alarm));
    if (!(d = find_device(s, from))) {
        printf("ignored a reading from %s: too many devices\n", from);
        s->ignored++;
        return;
    }
    if (!first_time(d, seq)) {
        printf("duplicate reading from %s seq %lu: dropped\n", from, seq);
        d->duplicates++;
        return;
    }
    printf("reading from %s seq %lu: %s %s (config v%lu)%s%s\n", from, seq, temp, unit, version,
           !strcmp(alarm, "true") ? " ALARM" : "", seq < d->max_seq ? " (late)" : "");
    if (seq < d->max_seq)
        d->late++;
    else
        d->max_seq = seq;
    if (d->readings++ && version > d->version)
        printf("%s now runs config v%lu (first reading with it: seq %lu)\n", from, version, seq);
    if (version > d->version)
        d->version = (unsigned)version;
    s->readings++;
}

/* the URI of the config channel at every address in the list (commas or
 * blanks between them), or at every device heard from when there is none */
static int config_uri(server *s, const char *list, char *uri, size_t len)
{
    size_t n = (size_t)snprintf(uri, len, "net.mail://" DEV_CONFIG "#"), count = 0;
    char copy[2048], *save = NULL;
    snprintf(copy, sizeof(copy), "%s", list ? list : "");
    for (char *a = strtok_r(copy, ", \t", &save); a && n < len; a = strtok_r(NULL, ", \t", &save))
        n += (size_t)snprintf(uri + n, len - n, "%s%s", count++ ? ";" : "", a);
    for (size_t i = 0; !list && i < s->ndevs && n < len; i++)
        n += (size_t)snprintf(uri + n, len - n, "%s%s", count++ ? ";" : "", s->devs[i].address);
    if (n >= len || !count) {
        fprintf(stderr, PROG ": push: %s\n",
                n >= len ? "too many addresses"
                : list   ? "\"to\" names no address"
                         : "no devices heard from yet");
        return -1;
    }
    return 0;
}

/* one message to every addressed device; the version after the highest
 * pushed or reported, so a restarted server does not repeat a version */
static int push(server *s, dev_config *change, const char *to)
{
    char uri[4096], body[512], what[160];
    mc_output_channel *out = NULL;
    mc_message *m = NULL;
    int rc;
    if (!change->has) {
        fprintf(stderr, PROG ": push: nothing to change (interval=MS, unit=C|F, threshold=CELSIUS)\n");
        return -1;
    }
    if (config_uri(s, to, uri, sizeof(uri)))
        return -1;
    change->version = s->version + 1;
    for (size_t i = 0; i < s->ndevs; i++)
        if (s->devs[i].version >= change->version)
            change->version = s->devs[i].version + 1;
    dev_config_xml(change, body, sizeof(body));
    if (!(rc = mc_message_new(&m, DEV_ACTION_CONFIG, body, MC_NUL_TERMINATED)) &&
        !(rc = mc_channel_factory_create_channel(&out, s->factory, uri)))
        rc = mc_output_channel_send(out, m);
    if (rc && rc != MC_EPARTIAL) {
        fprintf(stderr, PROG ": push config v%u to %s: %s\n", change->version, uri, mc_error_last());
    } else {
        dev_config_describe(change, change->has & DEV_HAS_UNIT ? change->unit : 'C', what, sizeof(what));
        for (char *p = strchr(uri, ';'); p; p = strchr(p, ';'))
            *p = ','; /* for people: "a, b" */
        printf("pushed config v%u (%s) in one message to %s\n", change->version, what, strchr(uri, '#') + 1);
        if (rc) /* some recipients refused: the others have it */
            fprintf(stderr, PROG ": push config v%u: %s\n", change->version, mc_error_last());
        s->version = change->version;
        s->pushes++;
    }
    mc_output_channel_free(out);
    mc_message_free(m);
    return rc && rc != MC_EPARTIAL ? -1 : 0;
}

/* "push NAME=VALUE... [to A,B,...]" */
static void command(server *s, char *line)
{
    dev_config change = {0};
    char err[160], *save = NULL, *word = strtok_r(line, " \t\r", &save);
    if (!word)
        return;
    if (strcmp(word, "push")) {
        fprintf(stderr, PROG ": unknown command \"%s\" (push NAME=VALUE... [to A,B,...])\n", word);
        return;
    }
    while ((word = strtok_r(NULL, " \t\r", &save)) && strcmp(word, "to"))
        if (dev_config_set(&change, word, err, sizeof(err))) {
            fprintf(stderr, PROG ": push: %s\n", err);
            return;
        }
    push(s, &change, word ? save : NULL);
}

/* reads what standard input has without waiting; runs each whole line */
static void read_commands(server *s)
{
    struct pollfd p = {.fd = 0, .events = POLLIN};
    char *nl;
    ssize_t n;
    if (!s->stdin_open || poll(&p, 1, 0) <= 0)
        return;
    n = read(0, s->line + s->line_len, sizeof(s->line) - 1 - s->line_len);
    if (n <= 0) { /* end of input (or /dev/null): go on receiving */
        s->stdin_open = false;
        return;
    }
    s->line_len += (size_t)n;
    s->line[s->line_len] = '\0';
    while ((nl = strchr(s->line, '\n')) != NULL) {
        *nl = '\0';
        command(s, s->line);
        s->line_len -= (size_t)(nl + 1 - s->line);
        memmove(s->line, nl + 1, s->line_len + 1);
    }
    if (s->line_len == sizeof(s->line) - 1) {
        fprintf(stderr, PROG ": command line too long: dropped\n");
        s->line_len = 0;
    }
}

static void summary(server *s, const char *address)
{
    unsigned long dup = 0, late = 0;
    for (size_t i = 0; i < s->ndevs; i++)
        dup += s->devs[i].duplicates, late += s->devs[i].late;
    printf(
        "server %s stopping: %lu reading%s from %zu device%s, %lu duplicates dropped, %lu late, %lu ignored, "
        "%u config%s pushed\n",
        address, s->readings, s->readings == 1 ? "" : "s", s->ndevs, s->ndevs == 1 ? "" : "s", dup, late,
        s->ignored, s->pushes, s->pushes == 1 ? "" : "s");
    for (size_t i = 0; i < s->ndevs; i++) {
        device_entry *d = &s->devs[i];
        printf("  %s: %lu reading%s, highest seq %lu, on config v%u\n", d->address, d->readings,
               d->readings == 1 ? "" : "s", d->max_seq, d->version);
        free(d->seen);
    }
}

int main(int argc, char **argv)
{
    static server s; /* large: not on the stack */
    dev_config change = {0};
    dev_endpoint e = {0};
    const char *address, *to = NULL;
    unsigned long push_after = 0;
    char err[160];
    int used, rc = 1, i;
    if (argc < 3 || (argv[1][0] == '-' && strcmp(argv[1], "--config")))
        return usage();
    used = strcmp(argv[1], "--config") ? 1 : 2;
    if (argc < 2 + used)
        return usage();
    address = argv[1 + used];
    for (i = 2 + used; i + 1 < argc; i += 2) {
        char *end;
        if (!strcmp(argv[i], "--push-after") && (push_after = strtoul(argv[i + 1], &end, 10)) > 0 && !*end)
            continue;
        if (!strcmp(argv[i], "--to"))
            to = argv[i + 1];
        else if (!strcmp(argv[i], "--set") && dev_config_set(&change, argv[i + 1], err, sizeof(err)))
            return fprintf(stderr, PROG ": --set: %s\n", err), 2;
        else if (strcmp(argv[i], "--set"))
            return usage();
    }
    if (i != argc || (push_after && !change.has) || (!push_after && (change.has || to)))
        return usage();
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (mc_init())
        return 1;
    dev_catch_signals();
    s.stdin_open = true;
    if (dev_endpoint_open(&e, argv + 1, argc - 1, address, DEV_READINGS, PROG))
        goto done;
    s.factory = e.factory;
    printf("server listening on net.mail://" DEV_READINGS "#%s\n", mc_transport_address(e.t));
    rc = 0;
    while (!dev_stop) {
        mc_message *m = NULL;
        int r = mc_input_channel_try_receive(&m, e.in, 200); /* 200: see dev_stop and commands */
        if (r) {
            fprintf(stderr, PROG ": receiving readings: %s\n", mc_error_last());
            rc = 1;
            break;
        }
        if (m)
            on_reading(&s, m);
        mc_message_free(m);
        if (push_after && s.readings >= push_after) {
            push(&s, &change, to);
            push_after = 0;
        }
        read_commands(&s);
    }
    mc_input_channel_close(e.in); /* deletes the readings received */
    summary(&s, mc_transport_address(e.t));
done:
    dev_endpoint_close(&e);
    mc_shutdown();
    return rc;
}
