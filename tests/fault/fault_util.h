/* fault_util.h - what the fault-injection tests (tests/fault/) share:
 *
 * - the fault proxy (faultproxy.py) as a child process, and its control socket;
 * - mail and Maildir transports for the test servers of tests/mailserver/start.sh
 *   (their env.sh exported), doveadm and Postfix queue look-ups;
 * - a log sink that keeps the library's log lines with their times;
 * - the ledger: every send attempt and every delivery by sequence number, and
 *   its verdict (lost, duplicates explained or not).
 *
 * Failures of the test's own set-up end the process with exit status 2 and a
 * message; the tests' assertions are theirs. */
#ifndef MC_FAULT_UTIL_H
#define MC_FAULT_UTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <mailchan.h>

/* ---- clocks, environment ---- */

int64_t fault_mono_ms(void);
int64_t fault_wall_ms(void);
void fault_sleep_ms(int ms);
/* exits (2) with the message */
void fault_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* an environment variable, or exits (2) when it is missing */
const char *fault_env(const char *name);
/* whether the test mail servers run (their env.sh exported); else says on
 * stderr that the test is skipped */
bool fault_servers_running(void);
/* a test program's start: stdout line-buffered, the library initialised, its
 * log kept from min_level on (fault_log_capture) */
void fault_begin(mc_log_level min_level);
/* an integer from the environment, else def */
long fault_env_long(const char *name, long def);
/* a fresh temporary directory (short: unix sockets live in it) */
void fault_tmpdir(char *out, size_t cap, const char *tag);
void fault_rm_rf(const char *path);

/* ---- the proxy ---- */

typedef struct {
    pid_t pid;
    char dir[128];
    char ctl[192], log[192], ready[192];
    int smtp_port, imap_port; /* the proxy's own listening ports (0: no such route) */
} fault_proxy;

/* Starts faultproxy.py in dir with a route "smtp" in front of smtp_target and
 * "imap" in front of imap_target (0: no route), in pass mode. */
void fault_proxy_start(fault_proxy *p, const char *dir, unsigned seed, int smtp_target, int imap_target);
/* Sends one control command; the reply line goes to reply (may be NULL). 0 if it was "ok". */
int fault_proxy_cmd(fault_proxy *p, char *reply, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Stops the proxy (bounded) and waits for it. */
void fault_proxy_stop(fault_proxy *p);
/* Wall-clock times (ms) of the proxy's cuts on route ("imap", "smtp"), from its log; *n of them. */
int64_t *fault_proxy_cut_times(const fault_proxy *p, const char *route, size_t *n);

/* ---- transports ---- */

/* A mail transport for user (alice, bob, erin) of the test servers, with
 * smtp_port and imap_port (the servers' or the proxy's), the password from
 * MC_<USER>_PW, and extra "name=value" settings, NULL-terminated. */
mc_transport *fault_mail_transport(const char *user, int smtp_port, int imap_port, ...);
/* A Maildir transport for addr under root, extra "name=value" settings, NULL-terminated. */
mc_transport *fault_maildir_transport(const char *root, const char *addr, ...);
/* A listener on uri and its first input channel; exits (2) naming who when either fails. */
void fault_listen(mc_transport *t, const char *uri, mc_channel_listener **l, mc_input_channel **in,
                  const char *who);
/* A factory and its output channel to the URI to; exits (2) naming who when either fails. */
void fault_output(mc_transport *t, const char *to, mc_channel_factory **f, mc_output_channel **out,
                  const char *who);
/* Expunges every mail of user on the test IMAP server. */
void fault_expunge_all(const char *user);
/* Mails in user's folder on the test IMAP server matching a doveadm search
 * query ("all", "deleted"...); -1 if doveadm failed. */
int fault_server_count(const char *user, const char *folder, const char *query);
/* Files in Postfix's incoming, active and deferred queues. */
int fault_postfix_queued(void);

/* ---- the library's log ---- */

/* Installs a sink that keeps every line at min_level or above with its
 * monotonic time; with FAULT_VERBOSE set, also echoes them to stderr. */
void fault_log_capture(mc_log_level min_level);
/* The time (monotonic ms) of the first line at level or above, logged at or
 * after since_ms, that contains any of the words (case-insensitive,
 * NULL-terminated); -1 if none. The line is copied into line when not NULL. */
int64_t fault_log_find(int64_t since_ms, mc_log_level level, char *line, size_t cap, ...);
/* Prints the lines at level or above logged at or after since_ms (at most max). */
void fault_log_print(int64_t since_ms, mc_log_level level, size_t max, int64_t t0_ms);
/* Number of lines at level or above logged at or after since_ms. */
size_t fault_log_count(int64_t since_ms, mc_log_level level);

/* ---- the ledger ---- */

/* whether any of the times t[0..n) lies in [from_ms, to_ms] (a cut or a kill
 * between two deliveries of the same mail) */
bool fault_any_between(const int64_t *t, size_t n, int64_t from_ms, int64_t to_ms);

typedef struct {
    int seq;
    char mid[96];    /* the mail's Message-ID: a fresh one for each send attempt */
    char mailid[64]; /* the transport's id (IMAP UIDVALIDITY.UID, Maildir file) */
    int64_t wall_ms; /* when receive returned it */
    int who;         /* which receiver (process) */
} fault_delivery;

typedef struct {
    int n;              /* sequence numbers 0 .. n-1 */
    int *attempts;      /* sends tried per seq */
    int *failures;      /* of which failed */
    bool *gave_up;      /* the sender stopped retrying */
    int errors[16];     /* failed attempts by -MC_E* code (0: other) */
    fault_delivery *dl; /* every delivery */
    size_t ndl, capdl;
    pthread_mutex_t lock;
    /* when set (before sending), fault_send_seq gives seq N the
     * wsa:MessageID "<mid_prefix>N" (else a fresh urn:uuid: per message;
     * either way every attempt at one seq carries the same wsa:MessageID) */
    const char *mid_prefix;
} fault_ledger;

/* A receiving thread: records each message in the ledger (as receiver 0)
 * until stop is set; receive errors other than a timeout are counted (the
 * first five printed). Start it with pthread_create(.., fault_receive_loop, &r). */
typedef struct {
    fault_ledger *ledger;
    mc_input_channel *in;
    atomic_bool stop;
    int errors;
} fault_receiver;
void *fault_receive_loop(void *arg);

void fault_ledger_init(fault_ledger *l, int n);
void fault_ledger_free(fault_ledger *l);
/* Records a delivery; a body that is not "... seq=N" counts as seq -1. */
void fault_ledger_deliver(fault_ledger *l, const mc_message *m, int who);
/* Records a delivery from a record line "seq mid mailid wall_ms who". */
void fault_ledger_deliver_line(fault_ledger *l, const char *line);
/* Distinct sequence numbers delivered so far. */
int fault_ledger_distinct(fault_ledger *l);

/* Whether the same mail (same Message-ID) delivered first at first_ms and
 * again at again_ms is explained, e.g. by a connection cut or a kill between. */
typedef bool (*fault_redelivery_cb)(int64_t first_ms, int64_t again_ms, void *user_data);

typedef struct {
    int sent, attempts, failed_attempts, gave_up;
    int delivered, distinct, lost, unknown;
    int duplicates;     /* deliveries beyond the first per seq */
    int dup_retry;      /* another server copy of a seq whose send failed and was retried */
    int dup_redelivery; /* the same mail again, explained by redelivery_cb */
    int dup_unexplained;
} fault_verdict;

/* Judges the ledger; prints every lost seq and unexplained duplicate. */
void fault_ledger_judge(fault_ledger *l, fault_redelivery_cb cb, void *user_data, fault_verdict *v);
void fault_verdict_print(const char *test, const fault_verdict *v);

/* ---- sending with retries, as an application would ---- */

/* Sends "<tag> seq=N " and pad filler characters on ch until it succeeds or
 * max_attempts, recording each attempt. 0 or the last error. */
int fault_send_seq(fault_ledger *l, mc_output_channel *ch, const char *tag, int seq, size_t pad,
                   int max_attempts);

#endif
