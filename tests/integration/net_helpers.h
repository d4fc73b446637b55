/* net_helpers.h - what the integration tests over SMTP and IMAP share: the
 * environment of tests/mailserver/start.sh, mail bindings for 127.0.0.1,
 * sending a text, and a scripted Python server that writes a record of what
 * it saw. Every helper fails the running test (cmocka) on an error. */
#ifndef MC_TEST_NET_HELPERS_H
#define MC_TEST_NET_HELPERS_H
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "../unit/helpers.h"

/* the directory of the mail servers of tests/mailserver/start.sh (from its
 * env.sh), or NULL: then it says on stderr that the test is skipped */
const char *mail_servers_dir(void);
/* a test program's start: curl's global state and, with MC_TEST_VERBOSE set,
 * the library's debug log on stderr */
void net_test_init(void);
/* the environment variable name; fails the test when it is missing */
const char *test_env(const char *name);
void sleep_ms(int ms);
/* a monotonic clock in milliseconds */
int64_t now_ms(void);

/* sets name to value on b; fails the test, naming the setting, when refused */
void binding_set(mc_binding *b, const char *name, const char *value);
/* sets each "name=value" of ap up to a NULL, in order (a later one wins) */
void binding_set_list(mc_binding *b, va_list ap);
/* a mail binding for user@example.test, SMTP and IMAP on 127.0.0.1, with the
 * ports given (NULL: left at the default); the caller frees it */
mc_binding *mail_binding_new(const char *user, const char *smtp_port, const char *imap_port);
/* the transport of b; b is freed */
mc_transport *transport_of(mc_binding *b);
/* sends text as a message to the channel URI to; 0 or the error (printed) */
int send_text(mc_transport *t, const char *to, const char *text);

/* libcurl's upload source for a text in memory: CURLOPT_READFUNCTION
 * text_reader_cb with CURLOPT_READDATA a text_reader {text, 0, length} */
typedef struct {
    const char *data;
    size_t off, len;
} text_reader;
size_t text_reader_cb(char *buf, size_t size, size_t n, void *arg);

/* A scripted server: /usr/bin/python3 running a script that takes
 * "--record FILE" and writes one line per event there, "port N" first. */
typedef struct {
    pid_t pid;
    const char *name; /* for messages */
    char record[256];
    char port[16];
    char *final; /* the record as the stopped server left it (the file is gone) */
} script_server;

/* whether /usr/bin/python3 is there to run the server called name (else it
 * says on stderr that the test is skipped) */
bool script_server_available(const char *name);
/* Starts script with the arguments that follow (NULL-terminated) and
 * "--record" a new file, and waits (bounded: 20 s) for its "port" line. */
void script_server_start(script_server *s, const char *name, const char *script, ...);
/* Stops the server: SIGTERM first when terminate, else it is waited for to
 * end by itself; SIGKILL after wait_ms. Keeps its record in s->final (until
 * the next stop or script_server_cleanup), prints it and removes the file. */
void script_server_stop(script_server *s, bool terminate, int wait_ms);
/* the record's text, malloc'ed ("" when missing) */
char *script_server_record(const script_server *s);
/* lines of the record that start with prefix */
int script_server_count(const script_server *s, const char *prefix);
/* frees the record the last stop kept */
void script_server_cleanup(void);
#endif
