/* devices.h - what the device and the server samples share: opening the
 * transport from the command line, the configuration a server pushes, the
 * fields of the messages, signals and the clock. Not part of the library. */
#ifndef MAILCHAN_SAMPLE_DEVICES_H
#define MAILCHAN_SAMPLE_DEVICES_H
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <mailchan.h>

#define DEV_NS "urn:mailchan:sample:devices"
#define DEV_ACTION_READING DEV_NS ":Reading"
#define DEV_ACTION_CONFIG DEV_NS ":Config"
#define DEV_READINGS "readings" /* the server's channel */
#define DEV_CONFIG "config"     /* each device's channel */
#define DEV_INTERVAL_MIN 100
#define DEV_INTERVAL_MAX 3600000

/* set by SIGINT/SIGTERM (dev_catch_signals) */
extern volatile sig_atomic_t dev_stop;

/* A configuration, or a change of one: only the fields flagged in "has"
 * are set. The threshold is in degrees Celsius, whatever the unit. */
enum { DEV_HAS_INTERVAL = 1, DEV_HAS_UNIT = 2, DEV_HAS_THRESHOLD = 4 };
typedef struct {
    unsigned version;
    unsigned has;
    unsigned interval_ms;
    char unit; /* 'C' or 'F' */
    double threshold_c;
} dev_config;

/* Opens the transport of ADDRESS from the command line's first
 * arguments: "STORE" (a Maildir root directory) or "--config FILE" (any
 * binding, named in the file by "binding = KIND"). *used is the number of
 * arguments taken (1 or 2). A password left out of the file is taken from
 * $MAILCHAN_PASSWORD. Prints what failed; returns 0 or an MC_E* code. */
int dev_open(mc_transport **out, char **argv, int argc, const char *address, int *used, const char *prog);
/* dev_open() up to the transport: the binding, with the address and
 * password set, for a program that sets more before mc_transport_new(). */
int dev_open_binding(mc_binding **out, char **argv, int argc, const char *address, int *used,
                     const char *prog);

/* What each program of the samples opens: the transport of an address, a
 * channel factory and an input channel on net.mail://CHANNEL#. */
typedef struct {
    mc_transport *t;
    mc_channel_factory *factory;
    mc_channel_listener *listener;
    mc_input_channel *in;
} dev_endpoint;

/* dev_open(), then the factory and the input channel on CHANNEL. Prints
 * what failed; 0 or an MC_E* code (then call dev_endpoint_close too). */
int dev_endpoint_open(dev_endpoint *e, char **argv, int argc, const char *address, const char *channel,
                      const char *prog);
/* Closes the input channel (which deletes the mail received) and frees
 * everything; a zeroed or half-opened endpoint is fine. */
void dev_endpoint_close(dev_endpoint *e);

/* "name=value" (interval=MS, unit=C|F, threshold=CELSIUS) into cfg; 0, or
 * -1 with the reason in err. */
int dev_config_set(dev_config *cfg, const char *pair, char *err, size_t errlen);
/* cfg (with its version) as the body of a Config message. */
void dev_config_xml(const dev_config *cfg, char *buf, size_t len);
/* The body of a Config message into cfg (only the fields present); 0, or
 * -1 with the reason in err. */
int dev_config_parse(dev_config *cfg, const char *body, size_t len, char *err, size_t errlen);
/* "interval 500 ms, unit F, threshold 86.0 F": the fields set in cfg, the
 * threshold shown in unit (or cfg's own unit when it has one). */
void dev_config_describe(const dev_config *cfg, char unit, char *buf, size_t len);

/* The text of the first element called name (any namespace prefix) in an
 * XML body, copied into out; false when missing or too long. The bodies
 * are small and flat, and hold no entities: this is not an XML parser. */
bool dev_field(const char *body, size_t len, const char *name, char *out, size_t outlen);
/* dev_field() as an unsigned number; false when missing or not one. */
bool dev_field_uint(const char *body, size_t len, const char *name, unsigned long *out);

double dev_c_to_unit(double celsius, char unit);
int64_t dev_now_ms(void); /* a monotonic clock */
void dev_catch_signals(void);

#endif
