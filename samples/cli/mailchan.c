/* mailchan - command-line client: send, receive and serve SOAP messages
 * over a mail binding, and administer the outbox of a state store (queue).
 * Run "mailchan --help" for the options.
 *
 * Everything the user gave (options, settings, files, the message, the
 * addresses) is checked before anything is sent or received, so a usage
 * error never leaves a side effect behind. SIGINT and SIGTERM are taken by
 * one thread (sigwait) that wakes the receive or cancels the send in
 * progress; the command then ends with exit status 130. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <mailchan.h>

extern char **environ;

/* exit codes, as documented in --help and the README */
enum {
    EXIT_OK = 0,
    EXIT_USAGE = 2,
    EXIT_TIMEOUT = 3,
    EXIT_TRANSPORT = 4,
    EXIT_PARTIAL = 5,
    EXIT_FAULT = 6, /* send --wait-reply: the reply is a SOAP fault */
    EXIT_INTERRUPTED = 130
};
/* keep running: returned by the steps of main() that may end the program */
enum { CONTINUE = -1 };

static const char usage_text[] =
    "usage: mailchan send|receive|serve [options]\n"
    "       mailchan queue list|dead|retry|purge|flush STATE_PATH [ID] [options]\n"
    "       mailchan --help | --version | --list-settings\n"
    "\n"
    "Commands:\n"
    "  send      send one message to --to\n"
    "  receive   receive messages on --listen and print their envelopes\n"
    "  serve     answer each request on --listen: echo it, or run --exec\n"
    "  queue     look at, retry, purge or deliver the outbox of a state store (below)\n"
    "\n"
    "Binding options (send, receive, serve, queue flush):\n"
    "  --binding KIND        binding kind (default: maildir)\n"
    "  --config FILE         read settings from FILE (name = value lines)\n"
    "  --set NAME=VALUE      set one binding setting (repeatable); see --list-settings\n"
    "  --address ADDR        this side's own e-mail address (setting \"address\")\n"
    "  --maildir-root DIR    Maildir store root (setting \"maildir_root\")\n"
    "                        (binding mail: --set smtp_host=H --set imap_host=H ...;\n"
    "                        binding exchange: --set ews_url=https://H/EWS/Exchange.asmx ...;\n"
    "                        the password may come from $MAILCHAN_PASSWORD or\n"
    "                        --set password_command=COMMAND, an OAuth 2.0 token\n"
    "                        (XOAUTH2, EWS bearer) from $MAILCHAN_TOKEN)\n"
    "  --security MODE       none or message: WS-Security X.509 (setting \"security_mode\")\n"
    "  --algorithm-suite S   Basic256Rsa15 (default), Basic256, Basic256Sha256, Basic256Sha256Rsa15\n"
    "  --certificate FILE    own certificate: PEM, or PKCS#12 with the key (setting \"certificate\")\n"
    "  --private-key FILE    own PEM private key; its or the PKCS#12 password may come\n"
    "                        from $MAILCHAN_KEY_PASSWORD\n"
    "  --recipient-certificate PATH  recipients' certificates: PEM file or directory\n"
    "  --security-ca FILE    CAs trusted for senders' certificates (setting \"security_ca_file\")\n"
    "  --state-path FILE     durable state store, a SQLite file (setting \"state_path\"; created\n"
    "                        if missing; one process at a time): receive and serve deliver\n"
    "                        each message once (a repeated wsa:MessageID is deleted unread)\n"
    "  --queued              queued sending (setting \"queued\"; needs --state-path): a send is\n"
    "                        committed to the store's outbox, then handed to the server by\n"
    "                        this process while it runs; what is left is delivered by the next\n"
    "                        process using the store with --queued, or by queue flush\n"
    "  --list-settings       print every setting with its default and exit\n"
    "  -v, --verbose         show the protocol steps on stderr: connect, TLS (version, cipher,\n"
    "                        certificate verified), login (never the secret), folder, IDLE,\n"
    "                        fetch, delete; SMTP MAIL FROM/RCPT TO/sent; Maildir files; EWS\n"
    "                        operations and HTTP status (twice, -vv: debug detail too)\n"
    "  --trace               show the wire dialogue on stderr, like curl -v: \"> \" sent,\n"
    "                        \"< \" received, \"* \" notes (SMTP, IMAP, EWS HTTP); passwords,\n"
    "                        tokens, AUTH/LOGIN arguments and Authorization headers show as\n"
    "                        [redacted]; lines over 1000 octets are cut\n"
    "  -h, --help            show this help and exit\n"
    "  -V, --version         print the library's version and exit\n"
    "\n"
    "send options:\n"
    "  --to URI              destination, net.mail://CHANNEL#ADDR[;ADDR...]\n"
    "  --action IRI          wsa:Action of the message\n"
    "  --body-file FILE      body XML fragment from FILE ('-' or absent: stdin)\n"
    "  --text                treat the body as text (sent as a DataContract string)\n"
    "  --reply-to URI        wsa:ReplyTo\n"
    "  --ttl SECONDS         expire the message SECONDS from now\n"
    "  --wait-reply MS       also listen on --reply-to (own mailbox; opened before the\n"
    "                        send) and print the reply; give up after MS ms (0: don't wait)\n"
    "  --queue-wait MS       with --queued: wait up to MS ms (default 10000) for the outbox to\n"
    "                        hand the mail to the server, and say \"sent\" or \"queued\" (the\n"
    "                        wait ends early when the next attempt is later); 0: don't wait.\n"
    "                        serve: waits so for its queued replies before it exits\n"
    "\n"
    "receive and serve options:\n"
    "  --listen URI          address to listen on, net.mail://CHANNEL# (own mailbox)\n"
    "  --count N             stop after N messages (default: receive 1, serve unlimited)\n"
    "  --timeout MS          give up when no message came for MS ms (default: wait forever);\n"
    "                        queue flush: stop waiting for deliveries after MS ms\n"
    "  --exec COMMAND        serve: run COMMAND with the request body on stdin; its\n"
    "                        stdout is the reply body (XML, or text if not XML). When it\n"
    "                        exits non-zero or is killed, stderr names the request, the\n"
    "                        status or signal and the end of its stderr (4 KiB), the request\n"
    "                        is answered with a Receiver fault naming it, and serving goes on\n"
    "  --body                receive (send --wait-reply): print only the body: the text of a\n"
    "                        string body (--text), else the XML fragment\n"
    "  --json                receive (send --wait-reply): one JSON object per line and message:\n"
    "                        action, message_id, relates_to, reply_to, from, to,\n"
    "                        mail_message_id, received, body_is_text, body, fault ({code,\n"
    "                        reason} or null)\n"
    "  While receive, serve, --wait-reply or the outbox (--queued, queue flush) wait, a status\n"
    "  line on stderr says what for and since when, refreshed in place - only when stderr is\n"
    "  a terminal.\n"
    "\n"
    "Queue commands (STATE_PATH: a store made by --state-path; a missing one is an error):\n"
    "  queue list STATE_PATH [--json]\n"
    "                        queued mail: id, queued at, attempts, next attempt, bytes,\n"
    "                        recipients, last error (--json: a JSON array, times in ms)\n"
    "  queue dead STATE_PATH [--json]\n"
    "                        dead-lettered mail (refused for good, or queue_lifetime over),\n"
    "                        with the error that ended it\n"
    "  queue retry STATE_PATH [ID]\n"
    "                        make all queued mail, or mail ID, due now; dead-lettered mail is\n"
    "                        queued again; prints how many. A process owning the store with\n"
    "                        --queued sends it within 5 s; else the next one, or queue flush\n"
    "  queue purge STATE_PATH [ID] [--dead]\n"
    "                        delete all mail, mail ID, or (--dead) only dead-lettered mail,\n"
    "                        without sending it; prints how many\n"
    "  queue flush STATE_PATH [binding options] [--timeout MS]\n"
    "                        deliver the queued mail now: owns the store, makes each mail due,\n"
    "                        tries it once over the binding the options describe (as for the\n"
    "                        send; --address defaults to the oldest mail's sender) and prints\n"
    "                        how many were sent, dead-lettered, or are still queued\n"
    "  A queued mail leaves the store only once a server accepted it. Only the process owning\n"
    "  the store delivers (send, receive or serve with --queued, or queue flush; one at a time);\n"
    "  list, dead, retry and purge work beside it.\n"
    "\n"
    "Exit status:\n"
    "  0    success; send --queued: sent, or safely queued (stderr says which and why)\n"
    "  2    bad usage or bad input: an option, a setting, a file that cannot be read\n"
    "       (--config, certificates, keys, --body-file), the message, an address, a\n"
    "       message over max_received_message_size, a queue ID not in the store;\n"
    "       nothing was sent or changed\n"
    "  3    timeout: no message within --timeout, or no reply within --wait-reply\n"
    "       (the request was sent)\n"
    "  4    transport or server failure: the store cannot be used, a server is\n"
    "       unreachable, TLS or login failed, the server refused the recipient or the mail;\n"
    "       the state store is missing, not a store, or in use by another process; a queued\n"
    "       mail was dead-lettered; queue flush left mail undelivered\n"
    "  5    sent, but the server refused some of the recipients (named on stderr); the\n"
    "       others have the mail\n"
    "  6    send --wait-reply: the reply is a SOAP fault (printed as asked; with --body\n"
    "       its code and reason on stderr)\n"
    "  130  interrupted by SIGINT or SIGTERM (a send not yet handed to the transport is\n"
    "       not made; send --queued waiting for the outbox says what stays queued; a\n"
    "       second signal ends the program at once)\n";

/* which command an option applies to */
enum { CMD_SEND = 1, CMD_RECEIVE = 2, CMD_SERVE = 4, CMD_ALL = 7, CMD_QUEUE = 8 };

/* the queue commands */
enum { Q_LIST = 1, Q_DEAD, Q_RETRY, Q_PURGE, Q_FLUSH };

/* send --queued: how long to wait for the delivery by default (ms) */
#define DEFAULT_QUEUE_WAIT 10000

static const struct option longopts[] = {{"binding", required_argument, 0, 'b'},
                                         {"config", required_argument, 0, 'c'},
                                         {"set", required_argument, 0, 's'},
                                         {"address", required_argument, 0, 'a'},
                                         {"maildir-root", required_argument, 0, 'r'},
                                         {"list-settings", no_argument, 0, 'L'},
                                         {"verbose", no_argument, 0, 'v'},
                                         {"to", required_argument, 0, 't'},
                                         {"action", required_argument, 0, 'A'},
                                         {"body-file", required_argument, 0, 'f'},
                                         {"text", no_argument, 0, 'T'},
                                         {"reply-to", required_argument, 0, 'R'},
                                         {"ttl", required_argument, 0, 'l'},
                                         {"wait-reply", required_argument, 0, 'w'},
                                         {"listen", required_argument, 0, 'n'},
                                         {"count", required_argument, 0, 'N'},
                                         {"timeout", required_argument, 0, 'o'},
                                         {"exec", required_argument, 0, 'e'},
                                         {"security", required_argument, 0, 'S'},
                                         {"algorithm-suite", required_argument, 0, 'U'},
                                         {"certificate", required_argument, 0, 'C'},
                                         {"private-key", required_argument, 0, 'K'},
                                         {"recipient-certificate", required_argument, 0, 'P'},
                                         {"security-ca", required_argument, 0, 'Q'},
                                         {"state-path", required_argument, 0, 'D'},
                                         {"queued", no_argument, 0, 'q'},
                                         {"queue-wait", required_argument, 0, 'W'},
                                         {"dead", no_argument, 0, 'X'},
                                         {"json", no_argument, 0, 'J'},
                                         {"body", no_argument, 0, 'B'},
                                         {"trace", no_argument, 0, 'Z'},
                                         {"help", no_argument, 0, 'h'},
                                         {"version", no_argument, 0, 'V'},
                                         {0, 0, 0, 0}};

/* the commands each command-specific option applies to (others: all) */
static const struct {
    char key;
    unsigned commands;
} option_commands[] = {
    {'t', CMD_SEND},
    {'A', CMD_SEND},
    {'f', CMD_SEND},
    {'T', CMD_SEND},
    {'R', CMD_SEND},
    {'l', CMD_SEND},
    {'w', CMD_SEND},
    {'n', CMD_RECEIVE | CMD_SERVE},
    {'N', CMD_RECEIVE | CMD_SERVE},
    {'o', CMD_RECEIVE | CMD_SERVE | CMD_QUEUE},
    {'e', CMD_SERVE},
    {'D', CMD_ALL},
    {'q', CMD_ALL},
    {'W', CMD_SEND | CMD_SERVE},
    {'X', CMD_QUEUE},
    {'J', CMD_QUEUE | CMD_RECEIVE | CMD_SEND},
    {'B', CMD_RECEIVE | CMD_SEND},
};

/* binding options: the setting each one sets (--config and --set aside) */
static const struct {
    char key;
    const char *setting;
} binding_options[] = {
    {'a', "address"},     {'r', "maildir_root"}, {'S', "security_mode"},         {'U', "algorithm_suite"},
    {'C', "certificate"}, {'K', "private_key"},  {'P', "recipient_certificate"}, {'Q', "security_ca_file"},
    {'D', "state_path"},  {'q', "queued"},
};

/* settings that name a file or directory the library will read */
static const char *const input_file_settings[] = {
    "certificate",      "private_key", "recipient_certificate", "security_ca_file",
    "security_ca_path", "tls_ca_file", "tls_ca_path",
};

#define MAX_BINDING_OPTIONS 64

typedef struct {
    unsigned command;
    int queue;              /* queue: Q_LIST... */
    const char *state_path; /* queue: the store */
    int64_t queue_id;       /* queue retry/purge: one mail (0: all) */
    const char *kind;
    const char *to, *action, *body_file, *reply_to, *listen, *exec;
    int text, verbose, dead, json, body, trace;
    long ttl, wait_reply, count, timeout, queue_wait;
    unsigned char seen[128]; /* options given, by key */
    struct {
        char key;
        const char *val;
    } pending[MAX_BINDING_OPTIONS]; /* binding options, in command-line order */
    size_t npending;
} options;

/* ---- SIGINT and SIGTERM ---- */

/* What a signal stops. The receive or send in progress is registered
 * here; with nothing registered, or at a second signal, the program ends
 * at once (nothing is half done that a clean stop would finish). A wait
 * for the outbox (waiting) polls interrupted() and then says what is
 * still queued. */
static struct {
    pthread_mutex_t lock;
    atomic_int signal;      /* the signal taken, 0 until then */
    mc_input_channel *in;   /* a receive a signal wakes (aborts) */
    mc_output_channel *out; /* a send a signal cancels */
    int waiting;            /* a wait for the outbox is in progress */
} intr = {PTHREAD_MUTEX_INITIALIZER, 0, NULL, NULL, 0};

static void *watch_signals(void *arg)
{
    const sigset_t *set = arg;
    int sig;
    while (sigwait(set, &sig) == 0) {
        pthread_mutex_lock(&intr.lock);
        if (atomic_load(&intr.signal) || (!intr.in && !intr.out && !intr.waiting))
            _exit(EXIT_INTERRUPTED);
        atomic_store(&intr.signal, sig);
        if (intr.in)
            mc_input_channel_abort(intr.in);
        if (intr.out)
            mc_output_channel_send_async_cancel(intr.out);
        pthread_mutex_unlock(&intr.lock);
    }
    return NULL;
}

/* blocks SIGINT and SIGTERM in every thread (the library's threads inherit
 * the mask) and takes them on a thread of their own */
static int watch_signals_start(void)
{
    static sigset_t set;
    pthread_t th;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) || pthread_create(&th, NULL, watch_signals, &set))
        return -1;
    pthread_detach(th);
    return 0;
}

static int interrupted(void) { return atomic_load(&intr.signal) != 0; }

static void register_input(mc_input_channel *ch)
{
    pthread_mutex_lock(&intr.lock);
    intr.in = ch;
    if (ch && interrupted())
        mc_input_channel_abort(ch);
    pthread_mutex_unlock(&intr.lock);
}

/* ---- the terminal: stderr lines and the status line ---- */

/* While a wait is long, a one-line status on stderr - what it waits for and
 * since when - refreshed in place; only when stderr is a terminal. Every
 * other line written to stderr while it may be shown (the log and trace
 * sinks, which run on the library's threads too) erases it first, under
 * the same lock. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    int tty;     /* stderr is a terminal: the status line is used */
    int started; /* the refresh thread runs */
    int active;  /* a wait is in progress */
    int shown;   /* the line is on the screen */
    char what[400];
    int64_t since_ms; /* wall clock */
} waitline = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, "", 0};

/* a wait shows its status line once it has lasted this long (ms) */
#define STATUS_AFTER_MS 1000

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* with waitline.lock held */
static void status_erase_locked(void)
{
    if (waitline.shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        waitline.shown = 0;
    }
}

static void status_draw_locked(void)
{
    char clock[16];
    time_t t = (time_t)(waitline.since_ms / 1000);
    struct tm tm;
    int64_t secs = (wall_ms() - waitline.since_ms) / 1000;
    if (!localtime_r(&t, &tm) || !strftime(clock, sizeof(clock), "%H:%M:%S", &tm))
        snprintf(clock, sizeof(clock), "?");
    fprintf(stderr, "\r%s since %s (%lld s)\033[K", waitline.what, clock, (long long)secs);
    fflush(stderr);
    waitline.shown = 1;
}

static void *status_refresh(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&waitline.lock);
    for (;;) {
        struct timespec ts;
        if (waitline.active && wall_ms() - waitline.since_ms >= STATUS_AFTER_MS)
            status_draw_locked();
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&waitline.cv, &waitline.lock, &ts);
    }
    return NULL;
}

/* a wait begins: @p fmt says what for ("waiting for mail on URI") */
static void status_begin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void status_begin(const char *fmt, ...)
{
    va_list ap;
    pthread_t th;
    pthread_mutex_lock(&waitline.lock);
    if (!waitline.started) {
        waitline.started = 1;
        waitline.tty = isatty(STDERR_FILENO) && pthread_create(&th, NULL, status_refresh, NULL) == 0;
        if (waitline.tty)
            pthread_detach(th);
    }
    if (waitline.tty) {
        va_start(ap, fmt);
        vsnprintf(waitline.what, sizeof(waitline.what), fmt, ap);
        va_end(ap);
        waitline.since_ms = wall_ms();
        waitline.active = 1;
    }
    pthread_mutex_unlock(&waitline.lock);
}

/* the wait is over: the line goes before anything else is written */
static void status_end(void)
{
    pthread_mutex_lock(&waitline.lock);
    waitline.active = 0;
    status_erase_locked();
    pthread_mutex_unlock(&waitline.lock);
}

/* -v: the library's log, on stderr */
static void log_sink(mc_log_level level, const char *message, void *user_data)
{
    pthread_mutex_lock(&waitline.lock);
    status_erase_locked();
    mc_log_stderr(level, message, user_data);
    pthread_mutex_unlock(&waitline.lock);
}

/* --trace: the wire dialogue, "> " sent, "< " received, "* " notes */
static void trace_sink(mc_trace_direction direction, const char *protocol, const char *line, void *user_data)
{
    pthread_mutex_lock(&waitline.lock);
    status_erase_locked();
    mc_trace_stderr(direction, protocol, line, user_data);
    pthread_mutex_unlock(&waitline.lock);
}

static void start_diagnostics(const options *o)
{
    if (o->verbose)
        mc_log_set_callback(log_sink, o->verbose > 1 ? MC_LOG_DEBUG : MC_LOG_INFO, NULL);
    if (o->trace)
        mc_trace_set_callback(trace_sink, NULL);
}

/* ---- errors ---- */

static int exit_code(int code)
{
    switch (code) {
    case MC_ETIMEOUT:
        return EXIT_TIMEOUT;
    case MC_EPARTIAL:
        return EXIT_PARTIAL;
    case MC_EINVAL:
    case MC_ENOTFOUND:
    case MC_ETOOBIG:
    case MC_ESECURITY:
        return EXIT_USAGE;
    default: /* MC_EPROTO (refused or malformed by the server), MC_EIO, MC_EAUTH, MC_ETLS... */
        return EXIT_TRANSPORT;
    }
}

static int report(int code, const char *what, const char *detail)
{
    if (!detail || !*detail)
        detail = mc_error_last()[0] ? mc_error_last() : mc_strerror(code);
    fprintf(stderr, "mailchan: %s: %s\n", what, detail);
    return exit_code(code);
}

/* a failure while running: the exit code follows the error code */
static int fail(int code, const char *what) { return report(code, what, NULL); }

/* a failure in what the user gave (settings, files, message): always bad input */
static int bad_input(int code, const char *what)
{
    report(code, what, NULL);
    return code == MC_ENOMEM ? EXIT_TRANSPORT : EXIT_USAGE;
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "mailchan: %s\nTry 'mailchan --help'.\n", msg);
    return EXIT_USAGE;
}

static int stopped_by_signal(void)
{
    fprintf(stderr, "mailchan: interrupted by %s\n",
            atomic_load(&intr.signal) == SIGTERM ? "SIGTERM" : "SIGINT");
    return EXIT_INTERRUPTED;
}

/* ---- small helpers ---- */

static char *read_all_fd(int fd, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    ssize_t r;
    while (buf && ((r = read(fd, buf + n, cap - n - 1)) > 0 || (r < 0 && errno == EINTR))) {
        if (r < 0)
            continue;
        n += (size_t)r;
        if (n + 1 == cap) {
            char *g = realloc(buf, cap *= 2);
            if (!g) {
                free(buf);
                return NULL;
            }
            buf = g;
        }
    }
    if (buf)
        buf[n] = '\0';
    *len = n;
    return buf;
}

static void chomp(char *s, size_t *len)
{
    while (*len && (s[*len - 1] == '\n' || s[*len - 1] == '\r'))
        s[--*len] = '\0';
}

static const char *option_name(char key)
{
    for (const struct option *o = longopts; o->name; o++)
        if (o->val == key)
            return o->name;
    return "?";
}

static void list_settings(void)
{
    size_t n;
    const mc_setting_info *s = mc_binding_settings(&n);
    for (size_t i = 0; i < n; i++)
        printf("%-28s default \"%s\" (%s)\n    %s\n", s[i].name, s[i].default_value,
               strcmp(s[i].transports, "*") ? s[i].transports : "all bindings", s[i].help);
}

/* a JSON string (UTF-8 passes; quotes, backslashes and controls escaped); NULL: null */
static void json_string(const char *v)
{
    if (!v) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p == '\r')
            fputs("\\r", stdout);
        else if (*p == '\t')
            fputs("\\t", stdout);
        else if (*p < 0x20 || *p == 0x7f)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

/* the body as a user reads it: the text of a DataContract string, else
 * the XML fragment (*text says which); the caller frees it */
static char *body_of(const mc_message *m, int *text)
{
    char *t = NULL;
    size_t len;
    const char *xml;
    if (mc_message_body_text(&t, m) == 0) {
        *text = 1;
        return t;
    }
    *text = 0;
    xml = mc_message_body(m, &len);
    t = malloc(len + 1);
    if (t) {
        if (len) /* a fault has no body: xml is NULL */
            memcpy(t, xml, len);
        t[len] = 0;
    }
    return t;
}

/* --json: one object per message, on one line */
static int print_json(const mc_message *m)
{
    static const struct {
        const char *key;
        const char *(*get)(const mc_message *);
    } headers[] = {{"action", mc_message_action},
                   {"message_id", mc_message_message_id},
                   {"relates_to", mc_message_relates_to},
                   {"reply_to", mc_message_reply_to}};
    const char *code = NULL, *reason = NULL;
    int text;
    char *body = body_of(m, &text);
    if (!body)
        return MC_ENOMEM;
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        printf("%s\"%s\": ", i ? ", " : "{", headers[i].key);
        json_string(headers[i].get(m));
    }
    fputs(", \"from\": ", stdout);
    json_string(mc_message_property(m, MC_PROP_FROM_EMAIL));
    fputs(", \"to\": ", stdout);
    json_string(mc_message_to(m));
    fputs(", \"mail_message_id\": ", stdout);
    json_string(mc_message_property(m, MC_PROP_MAIL_MESSAGE_ID));
    fputs(", \"received\": ", stdout);
    json_string(mc_message_property(m, MC_PROP_RECEIVED_TIME));
    printf(", \"body_is_text\": %s, \"body\": ", text ? "true" : "false");
    json_string(body);
    fputs(", \"fault\": ", stdout);
    if (mc_message_fault(&code, &reason, m) == 0) {
        fputs("{\"code\": ", stdout);
        json_string(code);
        fputs(", \"reason\": ", stdout);
        json_string(reason);
        putchar('}');
    } else {
        fputs("null", stdout);
    }
    fputs("}\n", stdout);
    free(body);
    return 0;
}

/* the message as --body, --json or (default) the whole envelope asks */
static int print_message(const mc_message *m, const options *o)
{
    const char *code, *reason;
    char *out;
    size_t len;
    int rc = 0, text;
    if (o->json) {
        rc = print_json(m);
    } else if (o->body && mc_message_fault(&code, &reason, m) == 0) {
        /* a fault has no body to print: say what it is */
        fprintf(stderr, "mailchan: the message is a SOAP fault (%s): %s\n", code, reason);
    } else if (o->body) {
        if (!(out = body_of(m, &text)))
            return MC_ENOMEM;
        printf("%s\n", out);
        free(out);
    } else {
        if ((rc = mc_message_serialize(&out, &len, m)))
            return rc;
        printf("%s\n", out);
        mc_free(out);
    }
    fflush(stdout);
    return rc;
}

/* ---- the command line ---- */

static int parse_number(const char *s, long *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (*s == '\0' || *end || v < 0 || v > INT_MAX || errno)
        return usage_error("expected a number from 0 to 2147483647");
    *out = v;
    return CONTINUE;
}

static int parse_option(options *o, int c, const char *arg)
{
    switch (c) {
    case 'b':
        o->kind = arg;
        break;
    case 'c':
    case 's':
    case 'a':
    case 'r':
    case 'S':
    case 'U':
    case 'C':
    case 'K':
    case 'P':
    case 'Q':
    case 'D':
        if (o->npending == MAX_BINDING_OPTIONS)
            return usage_error("too many binding options");
        o->pending[o->npending].key = (char)c;
        o->pending[o->npending++].val = arg;
        break;
    case 'q':
        /* --queued: a binding option without a value */
        if (o->npending == MAX_BINDING_OPTIONS)
            return usage_error("too many binding options");
        o->pending[o->npending].key = 'q';
        o->pending[o->npending++].val = "true";
        break;
    case 'X':
        o->dead = 1;
        break;
    case 'J':
        o->json = 1;
        break;
    case 'B':
        o->body = 1;
        break;
    case 'Z':
        o->trace = 1;
        break;
    case 'W':
        return parse_number(arg, &o->queue_wait);
    case 'v':
        o->verbose++;
        break;
    case 't':
        o->to = arg;
        break;
    case 'A':
        o->action = arg;
        break;
    case 'f':
        o->body_file = arg;
        break;
    case 'T':
        o->text = 1;
        break;
    case 'R':
        o->reply_to = arg;
        break;
    case 'e':
        o->exec = arg;
        break;
    case 'n':
        o->listen = arg;
        break;
    case 'l':
        return parse_number(arg, &o->ttl);
    case 'w':
        return parse_number(arg, &o->wait_reply);
    case 'N':
        return parse_number(arg, &o->count);
    case 'o':
        return parse_number(arg, &o->timeout);
    default:
        return usage_error("bad option");
    }
    return CONTINUE;
}

static int parse_queue_command(options *o, const char *name)
{
    static const char *const names[] = {NULL, "list", "dead", "retry", "purge", "flush"};
    for (int i = Q_LIST; name && i <= Q_FLUSH; i++)
        if (!strcmp(name, names[i]))
            o->queue = i;
    if (!o->queue)
        return usage_error(name && *name != '-' ? "unknown queue command (list, dead, retry, purge or flush)"
                                                : "queue needs a command: list, dead, retry, purge or flush");
    return CONTINUE;
}

/* queue: STATE_PATH, and an ID for retry and purge */
static int parse_queue_arguments(options *o, int n, char **args)
{
    int max = o->queue == Q_RETRY || o->queue == Q_PURGE ? 2 : 1;
    if (n < 1 || !*args[0])
        return usage_error("queue commands need STATE_PATH (the store of --state-path)");
    if (n > max)
        return usage_error(max == 2 ? "unexpected argument (one STATE_PATH and at most one ID)"
                                    : "unexpected argument (this queue command takes only STATE_PATH)");
    o->state_path = args[0];
    if (n == 2) {
        char *end;
        long long v;
        errno = 0;
        v = strtoll(args[1], &end, 10);
        if (!*args[1] || *end || v <= 0 || errno)
            return usage_error("a queue ID is a positive number (as queue list shows it)");
        o->queue_id = (int64_t)v;
    }
    return CONTINUE;
}

/* fills @p o; returns CONTINUE, or the exit code (help, version, errors) */
static int parse_args(options *o, int argc, char **argv)
{
    static const struct {
        const char *name;
        unsigned cmd;
    } commands[] = {{"send", CMD_SEND}, {"receive", CMD_RECEIVE}, {"serve", CMD_SERVE}, {"queue", CMD_QUEUE}};
    int c, ex, first = 2;
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (argc > 1 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))) {
        printf("mailchan %s\n", mc_version());
        return EXIT_OK;
    }
    if (argc > 1 && !strcmp(argv[1], "--list-settings")) {
        list_settings();
        return EXIT_OK;
    }
    if (argc < 2 || argv[1][0] == '-')
        return usage_error("missing command (send, receive, serve or queue)");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            o->command = commands[i].cmd;
    if (!o->command)
        return usage_error("unknown command");
    if (o->command == CMD_QUEUE) {
        if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            fputs(usage_text, stdout);
            return EXIT_OK;
        }
        if ((ex = parse_queue_command(o, argc > 2 ? argv[2] : NULL)) != CONTINUE)
            return ex;
        first = 3;
    }
    optind = first;
    while ((c = getopt_long(argc, argv, "vhV", longopts, NULL)) != -1) {
        if (c == 'h' || c == 'V' || c == 'L') {
            if (c == 'h')
                fputs(usage_text, stdout);
            else if (c == 'V')
                printf("mailchan %s\n", mc_version());
            else
                list_settings();
            return EXIT_OK;
        }
        if ((ex = parse_option(o, c, optarg)) != CONTINUE)
            return ex;
        if (c > 0 && c < (int)sizeof(o->seen))
            o->seen[c] = 1;
    }
    if (o->command == CMD_QUEUE)
        return parse_queue_arguments(o, argc - optind, argv + optind);
    if (optind < argc)
        return usage_error("unexpected argument");
    return CONTINUE;
}

static int check_address(const char *uri, const char *option)
{
    mc_address *a = NULL;
    char what[64];
    if (mc_address_parse(&a, uri)) {
        snprintf(what, sizeof(what), "bad address in --%s", option);
        return bad_input(MC_EINVAL, what);
    }
    mc_address_free(a);
    return CONTINUE;
}

/* queue commands: binding options for flush only (the store is STATE_PATH) */
static int check_queue_usage(const options *o)
{
    if (o->queue != Q_FLUSH && (o->npending || o->seen['b']))
        return usage_error("binding options apply to queue flush only");
    if (o->queue != Q_FLUSH && o->seen['o'])
        return usage_error("--timeout applies to queue flush only");
    if (o->queue != Q_PURGE && o->dead)
        return usage_error("--dead applies to queue purge only");
    if (o->queue != Q_LIST && o->queue != Q_DEAD && o->json)
        return usage_error("--json applies to queue list and queue dead only");
    return CONTINUE;
}

/* what needs no library state: required options, options that do not
 * apply to the command, address syntax */
static int check_usage(const options *o)
{
    char msg[128];
    int ex = CONTINUE;
    for (size_t i = 0; i < sizeof(option_commands) / sizeof(option_commands[0]); i++)
        if (o->seen[(unsigned char)option_commands[i].key] && !(option_commands[i].commands & o->command)) {
            snprintf(msg, sizeof(msg), "--%s does not apply to this command",
                     option_name(option_commands[i].key));
            return usage_error(msg);
        }
    if (o->command == CMD_QUEUE)
        return check_queue_usage(o);
    if (o->command == CMD_SEND && (!o->to || !o->action))
        return usage_error("send needs --to and --action");
    if (o->command == CMD_SEND && o->wait_reply > 0 && !o->reply_to)
        return usage_error("--wait-reply needs --reply-to");
    if (o->command != CMD_SEND && !o->listen)
        return usage_error("receive and serve need --listen");
    if (o->body && o->json)
        return usage_error("--body and --json exclude each other");
    if (o->command == CMD_SEND && (o->body || o->json) && o->wait_reply <= 0)
        return usage_error("send takes --body and --json only with --wait-reply (they print the reply)");

    if (o->to && (ex = check_address(o->to, "to")) != CONTINUE)
        return ex;
    if (o->reply_to && (ex = check_address(o->reply_to, "reply-to")) != CONTINUE)
        return ex;
    if (o->listen && (ex = check_address(o->listen, "listen")) != CONTINUE)
        return ex;
    return CONTINUE;
}

/* ---- the binding ---- */

static int apply_binding_option(mc_binding *b, char key, const char *v)
{
    char name[128];
    const char *eq;
    if (key == 'c')
        return mc_binding_load_config(b, v);
    for (size_t i = 0; i < sizeof(binding_options) / sizeof(binding_options[0]); i++)
        if (binding_options[i].key == key)
            return mc_binding_set(b, binding_options[i].setting, v);
    /* --set NAME=VALUE */
    eq = strchr(v, '=');
    if (!eq || eq == v || (size_t)(eq - v) >= sizeof(name)) {
        fprintf(stderr, "mailchan: --set expects NAME=VALUE\n");
        return MC_EINVAL;
    }
    memcpy(name, v, (size_t)(eq - v));
    name[eq - v] = '\0';
    return mc_binding_set(b, name, eq + 1);
}

/* passwords from the environment stay off the command line (ps); one given
 * by --set or --config wins (a secret is never read back: ask whether it
 * was given) */
static int apply_environment(mc_binding *b, const char *setting, const char *variable)
{
    if (!getenv(variable) || mc_binding_is_default(b, setting) != 1)
        return 0;
    return mc_binding_set(b, setting, getenv(variable));
}

/* every file a setting names must be readable: a missing certificate is
 * bad input, found before the transport exists */
static int check_input_files(const mc_binding *b)
{
    int ex = CONTINUE;
    for (size_t i = 0; ex == CONTINUE && i < sizeof(input_file_settings) / sizeof(input_file_settings[0]);
         i++) {
        char *path = NULL;
        if (mc_binding_get(&path, b, input_file_settings[i]) == 0 && *path && access(path, R_OK)) {
            fprintf(stderr, "mailchan: %s: cannot read %s: %s\n", input_file_settings[i], path,
                    strerror(errno));
            ex = EXIT_USAGE;
        }
        mc_free(path);
    }
    return ex;
}

/* $MAILCHAN_TOKEN: an OAuth 2.0 bearer token (XOAUTH2, EWS bearer) */
static int env_token(char **token, void *user_data)
{
    const char *t = getenv("MAILCHAN_TOKEN");
    (void)user_data;
    if (!t || !*t || !(*token = strdup(t)))
        return MC_EAUTH;
    return 0;
}

static int make_binding(mc_binding **out, const options *o)
{
    mc_binding *b = NULL;
    int rc, ex = CONTINUE;
    if ((rc = mc_binding_new(&b, o->kind)))
        return bad_input(rc, "bad binding");
    for (size_t i = 0; i < o->npending; i++)
        if ((rc = apply_binding_option(b, o->pending[i].key, o->pending[i].val))) {
            ex = bad_input(rc, o->pending[i].key == 'c' ? "bad configuration" : "bad setting");
            goto done;
        }
    if ((rc = apply_environment(b, "private_key_password", "MAILCHAN_KEY_PASSWORD")) ||
        /* every kind that has a password (mail, exchange), unless a
         * password_command gives it (both would be refused) */
        (mc_binding_is_default(b, "password") >= 0 && mc_binding_is_default(b, "password_command") == 1 &&
         (rc = apply_environment(b, "password", "MAILCHAN_PASSWORD")))) {
        ex = bad_input(rc, "bad setting");
        goto done;
    }
    if (getenv("MAILCHAN_TOKEN") && (rc = mc_binding_set_token_callback(b, env_token, NULL))) {
        ex = bad_input(rc, "$MAILCHAN_TOKEN");
        goto done;
    }
    ex = check_input_files(b);
done:
    if (ex == CONTINUE)
        *out = b;
    else
        mc_binding_free(b);
    return ex;
}

/* ---- sending ---- */

/* a body: XML fragment if it parses as one, else text */
static int make_body_message(mc_message **out, const char *action, const char *body, size_t len, int text)
{
    if (text)
        return mc_message_new_text(out, action, body);
    if (mc_message_new(out, action, body, len) == 0)
        return 0;
    return mc_message_new_text(out, action, body);
}

/* reads the body and builds the message send will send */
static int make_message(mc_message **out, const options *o)
{
    mc_message *m = NULL;
    char *body;
    size_t len = 0;
    int fd = 0, rc, ex = CONTINUE;
    if (o->body_file && strcmp(o->body_file, "-") && (fd = open(o->body_file, O_RDONLY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "mailchan: cannot read %s: %s\n", o->body_file, strerror(errno));
        return EXIT_USAGE;
    }
    body = read_all_fd(fd, &len);
    if (fd != 0)
        close(fd);
    if (!body)
        return usage_error("cannot read the body");
    chomp(body, &len);
    if ((rc = make_body_message(&m, o->action, body, len, o->text)) ||
        (o->reply_to && (rc = mc_message_set_reply_to(m, o->reply_to))) ||
        (o->ttl > 0 && (rc = mc_message_set_expiry(m, (int64_t)time(NULL) + o->ttl))))
        ex = bad_input(rc, "bad message");
    free(body);
    if (ex == CONTINUE)
        *out = m;
    else
        mc_message_free(m);
    return ex;
}

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    int done, status;
    char error[512];
} send_result;

static void on_sent(int status, const char *error_message, void *user_data)
{
    send_result *r = user_data;
    pthread_mutex_lock(&r->lock);
    r->status = status;
    snprintf(r->error, sizeof(r->error), "%s", error_message ? error_message : "");
    r->done = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->lock);
}

/* sends @p m, cancelled by a signal unless the transport has it already;
 * returns the exit code (EXIT_OK when sent) */
static int send_interruptible(mc_output_channel *ch, const mc_message *m)
{
    send_result r = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, ""};
    int rc;
    pthread_mutex_lock(&intr.lock);
    rc = interrupted() ? MC_ECANCELED : mc_output_channel_send_async(ch, m, on_sent, &r);
    if (!rc)
        intr.out = ch;
    pthread_mutex_unlock(&intr.lock);
    if (rc == MC_ECANCELED)
        return stopped_by_signal();
    if (rc)
        return fail(rc, "send failed");
    pthread_mutex_lock(&r.lock);
    while (!r.done)
        pthread_cond_wait(&r.cv, &r.lock);
    pthread_mutex_unlock(&r.lock);
    pthread_mutex_lock(&intr.lock);
    intr.out = NULL;
    pthread_mutex_unlock(&intr.lock);
    if (r.status == MC_ECANCELED && interrupted())
        return stopped_by_signal();
    if (r.status)
        return report(r.status, r.status == MC_EPARTIAL ? "sent, but not to every recipient" : "send failed",
                      r.error);
    return EXIT_OK;
}

/* ---- queued sending: what the outbox did with this process's mail ---- */

static void format_time(char *buf, size_t size, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || !localtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm))
        snprintf(buf, size, "-");
}

/* The delivery callback's reports. This process's mail is told apart from
 * what earlier processes left queued by its outbox id (above `baseline`,
 * the largest id in the store once the transport owned it) and its queuing
 * time (at or after `since`); queue flush counts every mail (0, 0). */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    const char *path; /* the store (state_path) when queued, else NULL */
    int64_t baseline, since;
    int print_each;               /* queue flush: a line per outcome */
    unsigned queued;              /* mails this process queued */
    unsigned sent, partial, dead; /* their outcomes */
    unsigned earlier;             /* outcomes of mail earlier processes left */
    int64_t last_id;
    int last_result;
    char last_error[512];
} outbox = {.lock = PTHREAD_MUTEX_INITIALIZER,
            .cv = PTHREAD_COND_INITIALIZER,
            .baseline = INT64_MAX,
            .since = INT64_MAX};

static void on_delivery(const mc_delivery_report *r, void *user_data)
{
    (void)user_data;
    pthread_mutex_lock(&outbox.lock);
    if (r->id > outbox.baseline && r->queued_ms >= outbox.since) {
        if (!r->result)
            outbox.sent++;
        else if (r->result == MC_EPARTIAL)
            outbox.partial++;
        else
            outbox.dead++;
        outbox.last_id = r->id;
        outbox.last_result = r->result;
        snprintf(outbox.last_error, sizeof(outbox.last_error), "%s", r->error);
    } else {
        outbox.earlier++;
    }
    if (outbox.print_each) {
        pthread_mutex_lock(&waitline.lock);
        status_erase_locked();
        if (!r->result)
            fprintf(stderr, "mailchan: mail %lld to %s: sent\n", (long long)r->id, r->to);
        else
            fprintf(stderr, "mailchan: mail %lld to %s: %s after %u attempt(s): %s\n", (long long)r->id,
                    r->to, r->result == MC_EPARTIAL ? "sent, not to every recipient" : "dead-lettered",
                    r->attempts, r->error);
        pthread_mutex_unlock(&waitline.lock);
    }
    pthread_cond_broadcast(&outbox.cv);
    pthread_mutex_unlock(&outbox.lock);
}

static void count_queued(void)
{
    pthread_mutex_lock(&outbox.lock);
    outbox.queued++;
    pthread_mutex_unlock(&outbox.lock);
}

static unsigned outcomes(void)
{
    pthread_mutex_lock(&outbox.lock);
    unsigned n = outbox.sent + outbox.partial + outbox.dead;
    pthread_mutex_unlock(&outbox.lock);
    return n;
}

/* what of this process's mail is still queued (the oldest one's details) */
typedef struct {
    int64_t baseline, since, due_by;
    size_t pending, due; /* still queued; of them, tried again by due_by */
    int64_t id, next_ms; /* the oldest one still queued */
    unsigned attempts;
    char error[512];
} pending_scan;

static int scan_pending(const mc_queue_entry *e, void *user_data)
{
    pending_scan *p = user_data;
    if (e->id <= p->baseline || e->queued_ms < p->since)
        return 0;
    if (!p->pending++) {
        p->id = e->id;
        p->next_ms = e->next_attempt_ms;
        p->attempts = e->attempts;
        snprintf(p->error, sizeof(p->error), "%s", e->last_error ? e->last_error : "");
    }
    if (e->next_attempt_ms <= p->due_by)
        p->due++;
    return 0;
}

static int scan(pending_scan *p)
{
    pthread_mutex_lock(&outbox.lock);
    p->baseline = outbox.baseline;
    p->since = outbox.since;
    pthread_mutex_unlock(&outbox.lock);
    p->pending = p->due = 0;
    return mc_queue_list(outbox.path, false, scan_pending, p);
}

/* Waits until this process's queued mail (`expected` of it) was accepted
 * or dead-lettered, or none of what is left will be tried again by due_by
 * (a failed attempt put it off), or the wall-clock deadline (-1: none), or
 * a signal. A signal during the wait ends it, not the program. */
static int wait_outbox(unsigned expected, int64_t due_by, int64_t deadline, pending_scan *p)
{
    int gone = 0, rc;
    memset(p, 0, sizeof(*p));
    p->due_by = due_by;
    pthread_mutex_lock(&intr.lock);
    intr.waiting = 1;
    pthread_mutex_unlock(&intr.lock);
    status_begin("waiting for the outbox to hand %u mail to the server (%s)", expected, outbox.path);
    for (;;) {
        struct timespec ts;
        if ((rc = scan(p)) || outcomes() >= expected)
            break;
        /* out of the store without a report: purged from outside (or the
         * report is on its way: look twice more) */
        if (!p->pending && ++gone >= 3)
            break;
        if ((p->pending && !p->due) || (deadline >= 0 && wall_ms() >= deadline) || interrupted())
            break;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&outbox.lock);
        if (outbox.sent + outbox.partial + outbox.dead < expected)
            pthread_cond_timedwait(&outbox.cv, &outbox.lock, &ts);
        pthread_mutex_unlock(&outbox.lock);
    }
    status_end();
    pthread_mutex_lock(&intr.lock);
    intr.waiting = 0;
    pthread_mutex_unlock(&intr.lock);
    return rc;
}

/* why a queued mail is still there, for the user */
static void describe_pending(const pending_scan *p, char *buf, size_t size)
{
    char when[32];
    format_time(when, sizeof(when), p->next_ms);
    if (p->attempts && *p->error)
        snprintf(buf, size, "attempt %u failed: %s; next attempt at %s", p->attempts, p->error, when);
    else if (p->next_ms > wall_ms())
        snprintf(buf, size, "waiting behind earlier mail to the same recipients until %s", when);
    else
        snprintf(buf, size, "not handed to the server yet");
}

/* send --queued: waits up to --queue-wait for the outbox to hand the mail
 * over, then says what became of it */
static int finish_queued_send(const options *o, const mc_message *m)
{
    long wait = o->seen['W'] ? o->queue_wait : DEFAULT_QUEUE_WAIT;
    int64_t deadline = wall_ms() + wait;
    pending_scan p;
    char why[768];
    int rc = wait_outbox(1, deadline, deadline, &p);
    pthread_mutex_lock(&outbox.lock);
    unsigned sent = outbox.sent, partial = outbox.partial, dead = outbox.dead, earlier = outbox.earlier;
    long long id = (long long)outbox.last_id;
    char error[512];
    snprintf(error, sizeof(error), "%s", outbox.last_error);
    pthread_mutex_unlock(&outbox.lock);
    if (earlier)
        fprintf(stderr, "mailchan: %u mail left queued in %s by earlier processes went out too\n", earlier,
                outbox.path);
    if (sent) {
        fprintf(stderr, "mailchan: sent %s\n", mc_message_message_id(m));
        return EXIT_OK;
    }
    if (partial)
        return report(MC_EPARTIAL, "sent, but not to every recipient", error);
    if (dead) {
        fprintf(stderr,
                "mailchan: send failed: %s\n"
                "mailchan: the mail is dead-lettered as mail %lld in %s (mailchan queue dead lists it,\n"
                "          mailchan queue retry %s %lld queues it again)\n",
                error, id, outbox.path, outbox.path, id);
        return EXIT_TRANSPORT;
    }
    if (rc)
        snprintf(why, sizeof(why), "cannot look at the outbox: %s", mc_error_last());
    else if (!p.pending)
        snprintf(why, sizeof(why), "it is no longer in the outbox (purged?)");
    else
        describe_pending(&p, why, sizeof(why));
    fprintf(stderr,
            "mailchan: queued %s as mail %lld in %s; %s\n"
            "mailchan: the next mailchan process using %s with --queued sends it, or now:\n"
            "          mailchan queue flush %s (with this command's binding options)\n",
            mc_message_message_id(m), (long long)p.id, outbox.path, why, outbox.path, outbox.path);
    return interrupted() ? stopped_by_signal() : EXIT_OK;
}

/* serve --queued: waits up to --queue-wait for the replies still queued */
static void finish_queued_replies(const options *o)
{
    long wait = o->seen['W'] ? o->queue_wait : DEFAULT_QUEUE_WAIT;
    int64_t deadline = wall_ms() + wait;
    pending_scan p;
    unsigned queued;
    pthread_mutex_lock(&outbox.lock);
    queued = outbox.queued;
    pthread_mutex_unlock(&outbox.lock);
    if (!queued || interrupted())
        return;
    if (wait_outbox(queued, deadline, deadline, &p) == 0 && p.pending) {
        char why[768];
        describe_pending(&p, why, sizeof(why));
        fprintf(stderr,
                "mailchan: %zu repl%s still queued in %s (oldest: mail %lld, %s); the next mailchan "
                "process using it with --queued, or mailchan queue flush, sends them\n",
                p.pending, p.pending == 1 ? "y" : "ies", outbox.path, (long long)p.id, why);
    }
    pthread_mutex_lock(&outbox.lock);
    if (outbox.dead)
        fprintf(stderr, "mailchan: %u repl%s dead-lettered in %s, the last: %s\n", outbox.dead,
                outbox.dead == 1 ? "y was" : "ies were", outbox.path, outbox.last_error);
    pthread_mutex_unlock(&outbox.lock);
}

/* ---- receiving ---- */

typedef struct {
    mc_channel_listener *listener;
    mc_input_channel *ch;
    char shown[400]; /* the address listened on, for the status line */
} receiver;

static int receiver_open(receiver *r, mc_transport *t, const char *uri)
{
    int rc;
    size_t n = strlen(uri);
    /* "net.mail://c#" is the own mailbox: name it */
    snprintf(r->shown, sizeof(r->shown), "%s%s", uri, n && uri[n - 1] == '#' ? mc_transport_address(t) : "");
    if ((rc = mc_channel_listener_new(&r->listener, t, uri)))
        return fail(rc, "cannot listen");
    if ((rc = mc_channel_listener_accept_channel(&r->ch, r->listener, -1)))
        return fail(rc, "cannot open the channel");
    register_input(r->ch);
    return CONTINUE;
}

/* closes gracefully (the received mail is deleted now) unless a signal
 * aborted the channel; sets *ex when that fails and nothing else did */
static void receiver_close(receiver *r, int *ex)
{
    int rc;
    register_input(NULL);
    if (r->ch && (rc = mc_input_channel_close(r->ch)) && *ex == EXIT_OK && !interrupted())
        *ex = fail(rc, "close failed");
    mc_input_channel_free(r->ch);
    mc_channel_listener_free(r->listener);
    r->ch = NULL;
    r->listener = NULL;
}

/* what the --exec command did: its stdout, the end of its stderr, how it ended */
#define STDERR_KEEP 4096
typedef struct {
    char *out; /* its stdout (NULL: it could not be run, or no memory) */
    size_t out_len;
    char err[2 * STDERR_KEEP + 1]; /* the last STDERR_KEEP octets (or fewer) of its stderr */
    size_t err_len, err_dropped;   /* ...and how many came before them */
    int status;                    /* waitpid's status; -1: never ran */
} command_result;

/* keeps the last STDERR_KEEP octets of the command's stderr (the buffer
 * holds twice that, so it is moved only once per STDERR_KEEP octets) */
static void keep_stderr(command_result *r, const char *buf, size_t n)
{
    if (n > STDERR_KEEP) {
        r->err_dropped += n - STDERR_KEEP;
        buf += n - STDERR_KEEP;
        n = STDERR_KEEP;
    }
    if (r->err_len + n > 2 * STDERR_KEEP) {
        size_t cut = r->err_len - STDERR_KEEP; /* err_len > STDERR_KEEP here */
        memmove(r->err, r->err + cut, STDERR_KEEP);
        r->err_len = STDERR_KEEP;
        r->err_dropped += cut;
    }
    memcpy(r->err + r->err_len, buf, n);
    r->err_len += n;
    r->err[r->err_len] = 0;
}

/* the end of the command's stderr as kept: at most STDERR_KEEP octets */
static const char *stderr_tail(const command_result *r, size_t *len, size_t *dropped)
{
    size_t skip = r->err_len > STDERR_KEEP ? r->err_len - STDERR_KEEP : 0;
    *len = r->err_len - skip;
    *dropped = r->err_dropped + skip;
    return r->err + skip;
}

/* appends to the command's stdout; on no memory it is dropped (out NULL) */
static void keep_stdout(command_result *r, size_t *cap, const char *buf, size_t n)
{
    if (r->out && r->out_len + n + 1 > *cap) {
        char *g;
        while (r->out_len + n + 1 > *cap)
            *cap *= 2;
        if (!(g = realloc(r->out, *cap)))
            free(r->out);
        r->out = g;
    }
    if (r->out) {
        memcpy(r->out + r->out_len, buf, n);
        r->out_len += n;
        r->out[r->out_len] = 0;
    }
}

/* reads the command's stdout (all) and stderr (its end) until both close */
static void collect(int out_fd, int err_fd, command_result *r)
{
    size_t cap = 4096;
    char chunk[4096];
    struct pollfd p[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    if ((r->out = malloc(cap)))
        r->out[0] = 0;
    r->out_len = 0;
    while (p[0].fd >= 0 || p[1].fd >= 0) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            ssize_t n;
            if (p[i].fd < 0 || !p[i].revents)
                continue;
            if ((n = read(p[i].fd, chunk, sizeof(chunk))) < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                p[i].fd = -1; /* poll skips it; run_command closes it */
            else if (i == 1)
                keep_stderr(r, chunk, (size_t)n);
            else
                keep_stdout(r, &cap, chunk, (size_t)n);
        }
    }
}

/* Runs the --exec command with the request body on stdin; fills @p r with
 * its stdout, the end of its stderr and its exit status. The child gets the
 * default signal mask back (ours blocks SIGINT/SIGTERM). */
static void run_command(const char *cmd, const char *input, size_t in_len, command_result *r)
{
    char path[] = "/tmp/mailchan-reqXXXXXX";
    int fd = mkstemp(path), po[2] = {-1, -1}, pe[2] = {-1, -1}, st;
    char *line = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none;
    pid_t pid;
    memset(r, 0, sizeof(*r));
    r->status = -1;
    if (fd < 0)
        return;
    if (write(fd, input, in_len) != (ssize_t)in_len)
        goto done;
    if (asprintf(&line, "(%s) < '%s'", cmd, path) < 0) {
        line = NULL;
        goto done;
    }
    if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC))
        goto done;
    sigemptyset(&none);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, po[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, pe[1], STDERR_FILENO);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    st = posix_spawn(&pid, "/bin/sh", &fa, &attr, (char *[]){"sh", "-c", line, NULL}, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(po[1]);
    close(pe[1]);
    po[1] = pe[1] = -1;
    if (st)
        goto done;
    collect(po[0], pe[0], r);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    r->status = st;
done:
    for (int i = 0; i < 2; i++) {
        if (po[i] >= 0)
            close(po[i]);
        if (pe[i] >= 0)
            close(pe[i]);
    }
    close(fd);
    unlink(path);
    free(line);
}

/* "exited with status 3", "was killed by signal 9 (Killed)", "could not be run" */
static void describe_exit(int status, char *buf, size_t size)
{
    if (status == -1)
        snprintf(buf, size, "could not be run");
    else if (WIFEXITED(status))
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "was killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        snprintf(buf, size, "ended with wait status %d", status);
}

static int command_failed(const command_result *r)
{
    return !r->out || r->status == -1 || !WIFEXITED(r->status) || WEXITSTATUS(r->status);
}

/* after the command ran: a failure is reported with the request it was
 * for and the end of its stderr; a success passes its stderr on */
static void report_command(const command_result *r, const mc_message *req, const char *why)
{
    size_t len, dropped;
    const char *err = stderr_tail(r, &len, &dropped);
    pthread_mutex_lock(&waitline.lock);
    status_erase_locked();
    if (why)
        fprintf(stderr, "mailchan: request %s (action %s): the command %s\n", mc_message_message_id(req),
                mc_message_action(req), why);
    if (len && (why || dropped)) {
        if (dropped)
            fprintf(stderr, "mailchan: its stderr (the last %zu octets; %zu before them not shown):\n", len,
                    dropped);
        else
            fprintf(stderr, "mailchan: its stderr:\n");
    }
    fwrite(err, 1, len, stderr);
    if (len && err[len - 1] != '\n')
        fputc('\n', stderr);
    if (why && !len)
        fprintf(stderr, "mailchan: it wrote nothing to stderr\n");
    fflush(stderr);
    pthread_mutex_unlock(&waitline.lock);
}

static int answer(mc_channel_factory *f, mc_message *req, const options *o)
{
    mc_message *reply = NULL;
    mc_output_channel *ch = NULL;
    char *action = NULL, why[96];
    command_result cr;
    size_t blen;
    const char *body = mc_message_body(req, &blen);
    int rc;
    if (asprintf(&action, "%sResponse", mc_message_action(req)) < 0)
        return MC_ENOMEM;
    memset(&cr, 0, sizeof(cr));
    rc = mc_message_create_reply(&reply, req, action, NULL, 0);
    if (!rc && o->exec)
        run_command(o->exec, body, blen, &cr);
    if (!rc && !o->exec) {
        rc = mc_message_set_body(reply, body, blen);
    } else if (!rc && command_failed(&cr)) {
        /* the requester learns that it failed and how; our stderr says more */
        char reason[160];
        describe_exit(cr.out || cr.status == -1 ? cr.status : -1, why, sizeof(why));
        report_command(&cr, req, why);
        snprintf(reason, sizeof(reason), "the service command %s", why);
        rc = mc_message_set_fault(reply, "Receiver", reason);
    } else if (!rc) {
        report_command(&cr, req, NULL);
        chomp(cr.out, &cr.out_len);
        if (mc_message_set_body(reply, cr.out, cr.out_len) == MC_EPROTO)
            rc = mc_message_set_body_text(reply, cr.out); /* not XML: send it as text */
    }
    if (!rc && !mc_message_to(reply))
        rc = MC_EINVAL; /* the request says nowhere to reply to */
    if (!rc)
        rc = mc_channel_factory_create_channel(&ch, f, mc_message_to(reply));
    /* the request in hand is answered even after a first signal */
    if (!rc)
        rc = mc_output_channel_send(ch, reply);
    if (!rc && outbox.path)
        count_queued();
    if (rc)
        fprintf(stderr, "mailchan: cannot answer %s: %s\n", mc_message_message_id(req), mc_error_last());
    else if (o->verbose)
        fprintf(stderr, "mailchan: %s %s\n", outbox.path ? "queued the answer to" : "answered",
                mc_message_message_id(req));
    mc_output_channel_free(ch);
    mc_message_free(reply);
    free(action);
    free(cr.out);
    return rc;
}

/* receives @p limit messages (negative: until stopped), each within
 * @p timeout ms (negative: forever); prints or answers them */
static int receive_messages(receiver *r, mc_channel_factory *f, const options *o, long limit, long timeout,
                            int serve)
{
    long n = 0;
    int rc, ex = EXIT_OK;
    const char *code, *reason;
    while (limit < 0 || n < limit) {
        mc_message *m = NULL;
        /* one call with the caller's whole timeout: a signal wakes it */
        status_begin("waiting for %s on %s",
                     serve                    ? "requests"
                     : o->command == CMD_SEND ? "the reply"
                                              : "mail",
                     r->shown);
        rc = mc_input_channel_receive(&m, r->ch, timeout < 0 ? -1 : (int)timeout);
        status_end();
        if (rc && interrupted())
            return stopped_by_signal();
        if (rc)
            return fail(rc, "receive failed");
        n++;
        if (o->verbose)
            fprintf(stderr, "mailchan: from %s\n", mc_message_property(m, MC_PROP_FROM_EMAIL));
        if (serve)
            answer(f, m, o);
        else if ((rc = print_message(m, o)))
            fprintf(stderr, "mailchan: cannot print a message: %s\n", mc_strerror(rc));
        if (!serve && o->command == CMD_SEND && mc_message_fault(&code, &reason, m) == 0)
            ex = EXIT_FAULT;
        mc_message_free(m);
        if (interrupted() && (limit < 0 || n < limit))
            return stopped_by_signal();
    }
    return ex;
}

/* ---- the commands ---- */

static int cmd_send(mc_transport *t, const options *o, const mc_message *m)
{
    mc_channel_factory *f = NULL;
    mc_output_channel *ch = NULL;
    receiver reply = {NULL, NULL, ""};
    int rc, ex = EXIT_OK;
    if ((rc = mc_channel_factory_new(&f, t)) || (rc = mc_channel_factory_create_channel(&ch, f, o->to))) {
        ex = fail(rc, "bad destination");
        goto done;
    }
    /* listen before sending: a quick reply is not missed, and a --reply-to
     * that is not our own mailbox fails before anything is sent */
    if (o->wait_reply > 0 && (ex = receiver_open(&reply, t, o->reply_to)) != CONTINUE)
        goto done;
    if (outbox.path) {
        /* a signal from here on ends the wait for the outbox, which then
         * says what is queued (not the program at once) */
        pthread_mutex_lock(&intr.lock);
        intr.waiting = 1;
        pthread_mutex_unlock(&intr.lock);
    }
    if ((ex = send_interruptible(ch, m)) != EXIT_OK)
        goto done;
    if (outbox.path) {
        /* committed to the outbox: wait a while for the delivery */
        count_queued();
        if ((ex = finish_queued_send(o, m)) != EXIT_OK)
            goto done;
    } else {
        fprintf(stderr, "mailchan: sent %s\n", mc_message_message_id(m));
    }
    if (o->wait_reply > 0)
        ex = receive_messages(&reply, f, o, 1, o->wait_reply, 0);
done:
    if (ex == CONTINUE)
        ex = EXIT_OK;
    receiver_close(&reply, &ex);
    mc_output_channel_free(ch);
    mc_channel_factory_free(f);
    return ex;
}

static int cmd_receive(mc_transport *t, const options *o)
{
    int serve = o->command == CMD_SERVE, rc, ex = EXIT_OK;
    long limit = o->count > 0 ? o->count : (serve ? -1 : 1);
    receiver r = {NULL, NULL, ""};
    mc_channel_factory *f = NULL;
    if ((rc = mc_channel_factory_new(&f, t)))
        ex = fail(rc, "cannot make a channel factory");
    else if ((ex = receiver_open(&r, t, o->listen)) == CONTINUE)
        ex = receive_messages(&r, f, o, limit, o->timeout, serve);
    if (serve && outbox.path)
        finish_queued_replies(o);
    if (ex == CONTINUE)
        ex = EXIT_OK;
    receiver_close(&r, &ex);
    mc_channel_factory_free(f);
    return ex;
}

/* ---- the queue commands ---- */

typedef struct {
    const options *o;
    size_t n;
    int64_t now;
} listing;

static int print_entry(const mc_queue_entry *e, void *user_data)
{
    listing *l = user_data;
    char queued[32], when[32];
    int dead = l->o->queue == Q_DEAD;
    if (l->o->json) {
        printf("%s{\"id\": %lld, \"queued_ms\": %lld, \"attempts\": %u, \"next_attempt_ms\": %lld, "
               "\"dead_ms\": %lld, \"from\": ",
               l->n ? ",\n " : "[", (long long)e->id, (long long)e->queued_ms, e->attempts,
               (long long)(dead ? 0 : e->next_attempt_ms), (long long)e->dead_ms);
        json_string(e->from);
        fputs(", \"to\": ", stdout);
        json_string(e->to);
        printf(", \"bytes\": %zu, \"last_error\": ", e->bytes);
        json_string(e->last_error);
        putchar('}');
        l->n++;
        return 0;
    }
    if (!l->n++)
        printf("%-6s  %-19s  %8s  %-19s  %9s  %s\n", "ID", "QUEUED", "ATTEMPTS",
               dead ? "DEAD SINCE" : "NEXT ATTEMPT", "BYTES", "TO");
    format_time(queued, sizeof(queued), e->queued_ms);
    if (!dead && e->next_attempt_ms <= l->now)
        snprintf(when, sizeof(when), "now");
    else
        format_time(when, sizeof(when), dead ? e->dead_ms : e->next_attempt_ms);
    printf("%-6lld  %-19s  %8u  %-19s  %9zu  %s\n", (long long)e->id, queued, e->attempts, when, e->bytes,
           e->to);
    if (e->last_error && *e->last_error)
        printf("        %s: %s\n", dead ? "error" : "last error", e->last_error);
    return 0;
}

static int queue_list(const options *o)
{
    listing l = {o, 0, wall_ms()};
    int rc;
    rc = mc_queue_list(o->state_path, o->queue == Q_DEAD, print_entry, &l);
    if (o->json && (!rc || l.n))
        fputs(l.n ? "]\n" : "[]\n", stdout);
    else if (!rc && !l.n)
        printf("no %s mail in %s\n", o->queue == Q_DEAD ? "dead-lettered" : "queued", o->state_path);
    fflush(stdout);
    return rc ? fail(rc, "cannot list the outbox") : EXIT_OK;
}

static int no_such_mail(const options *o, const char *what)
{
    fprintf(stderr, "mailchan: no %smail %lld in %s (see: mailchan queue %s %s)\n", what,
            (long long)o->queue_id, o->state_path, *what ? "dead" : "list", o->state_path);
    return EXIT_USAGE;
}

static int queue_retry(const options *o)
{
    size_t n = 0;
    int rc = mc_queue_retry(o->state_path, o->queue_id, &n);
    if (rc)
        return fail(rc, "cannot retry");
    if (o->queue_id && !n)
        return no_such_mail(o, "");
    printf("%zu mail due now\n", n);
    if (n)
        fprintf(stderr,
                "mailchan: a process owning %s with --queued sends it within 5 s; otherwise the next\n"
                "          one does, or now: mailchan queue flush %s (with the binding's options)\n",
                o->state_path, o->state_path);
    return EXIT_OK;
}

static int queue_purge(const options *o)
{
    size_t n = 0;
    int rc = mc_queue_purge(o->state_path, o->queue_id, o->dead, &n);
    if (rc)
        return fail(rc, "cannot purge");
    if (o->queue_id && !n)
        return no_such_mail(o, o->dead ? "dead-lettered " : "");
    printf("%zu %smail purged\n", n, o->dead ? "dead-lettered " : "");
    return EXIT_OK;
}

/* the queued mail before a flush: how many, their ids, the oldest's sender */
typedef struct {
    int64_t *ids;
    size_t n, cap;
    char *from;
} snapshot;

static int snapshot_one(const mc_queue_entry *e, void *user_data)
{
    snapshot *s = user_data;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        int64_t *ids = realloc(s->ids, cap * sizeof(*ids));
        if (!ids)
            return MC_ENOMEM;
        s->ids = ids;
        s->cap = cap;
    }
    s->ids[s->n++] = e->id;
    if (!s->from && e->from && !(s->from = strdup(e->from)))
        return MC_ENOMEM;
    return 0;
}

static int count_entry(const mc_queue_entry *e, void *user_data)
{
    (void)e;
    (*(size_t *)user_data)++;
    return 0;
}

/* what is still queued after a flush, one line each */
static int print_left(const mc_queue_entry *e, void *user_data)
{
    pending_scan p;
    char why[768];
    (void)user_data;
    memset(&p, 0, sizeof(p));
    p.next_ms = e->next_attempt_ms;
    p.attempts = e->attempts;
    snprintf(p.error, sizeof(p.error), "%s", e->last_error ? e->last_error : "");
    describe_pending(&p, why, sizeof(why));
    fprintf(stderr, "mailchan: mail %lld to %s: still queued, %s\n", (long long)e->id, e->to, why);
    return 0;
}

/* Delivers what is queued: owns the store with the binding the options
 * describe, makes every queued mail due, and waits until each was
 * accepted, dead-lettered or put off by a failed attempt (or --timeout). */
static int queue_flush(const options *o)
{
    snapshot snap = {NULL, 0, 0, NULL};
    mc_binding *b = NULL;
    mc_transport *t = NULL;
    pending_scan p;
    size_t dead = 0;
    int64_t start;
    int rc, ex;
    if ((rc = mc_queue_list(o->state_path, false, snapshot_one, &snap)) ||
        (rc = mc_queue_list(o->state_path, true, count_entry, &dead))) {
        ex = fail(rc, "cannot read the outbox");
        goto done;
    }
    if (!snap.n) {
        printf("nothing queued in %s\n", o->state_path);
        if (dead)
            fprintf(stderr,
                    "mailchan: %zu dead-lettered mail stays (mailchan queue retry %s queues it again)\n",
                    dead, o->state_path);
        ex = EXIT_OK;
        goto done;
    }
    if ((ex = make_binding(&b, o)) != CONTINUE)
        goto done;
    if ((rc = mc_binding_set(b, "state_path", o->state_path)) || (rc = mc_binding_set(b, "queued", "true")) ||
        (mc_binding_is_default(b, "address") == 1 && snap.from &&
         (rc = mc_binding_set(b, "address", snap.from)))) {
        ex = bad_input(rc, "bad setting");
        goto done;
    }
    mc_binding_set_delivery_callback(b, on_delivery, NULL);
    /* due now; dead-lettered mail stays dead (queue retry requeues it) */
    for (size_t i = 0; i < snap.n; i++)
        if ((rc = mc_queue_retry(o->state_path, snap.ids[i], NULL))) {
            ex = fail(rc, "cannot retry");
            goto done;
        }
    start = wall_ms();
    pthread_mutex_lock(&outbox.lock);
    outbox.path = o->state_path;
    outbox.baseline = 0;
    outbox.since = 0;
    outbox.print_each = 1;
    pthread_mutex_unlock(&outbox.lock);
    if ((rc = mc_transport_new(&t, b))) {
        ex = fail(rc, "cannot deliver");
        if (rc == MC_EBUSY)
            fprintf(stderr,
                    "mailchan: the queued mail was made due now: the process owning %s sends it within 5 s "
                    "if it runs with --queued\n",
                    o->state_path);
        goto done;
    }
    rc = wait_outbox((unsigned)snap.n, start, o->timeout >= 0 ? start + o->timeout : -1, &p);
    mc_transport_free(t); /* a delivery still in flight is cancelled: its mail stays queued */
    t = NULL;
    if (rc) {
        ex = fail(rc, "cannot read the outbox");
        goto done;
    }
    mc_queue_list(o->state_path, false, print_left, NULL);
    p.pending = 0;
    mc_queue_list(o->state_path, false, count_entry, &p.pending);
    pthread_mutex_lock(&outbox.lock);
    printf("%u sent, %u dead-lettered, %zu still queued\n", outbox.sent + outbox.partial, outbox.dead,
           p.pending);
    ex = outbox.dead || p.pending ? EXIT_TRANSPORT : outbox.partial ? EXIT_PARTIAL : EXIT_OK;
    pthread_mutex_unlock(&outbox.lock);
    if (interrupted())
        ex = stopped_by_signal();
done:
    mc_transport_free(t);
    outbox.path = NULL;
    mc_binding_free(b);
    free(snap.ids);
    free(snap.from);
    return ex;
}

static int run_queue(const options *o)
{
    switch (o->queue) {
    case Q_LIST:
    case Q_DEAD:
        return queue_list(o);
    case Q_RETRY:
        return queue_retry(o);
    case Q_PURGE:
        return queue_purge(o);
    default:
        if (watch_signals_start())
            return fail(MC_ENOMEM, "cannot start the signal thread");
        start_diagnostics(o);
        return queue_flush(o);
    }
}

static int max_id(const mc_queue_entry *e, void *user_data)
{
    int64_t *max = user_data;
    if (e->id > *max)
        *max = e->id;
    return 0;
}

/* a queued binding: the delivery callback, and the store's path when it
 * is queued (NULL otherwise); --queue-wait only with it */
static int prepare_queued(mc_binding *b, const options *o, char **path)
{
    char *queued = NULL;
    int on;
    *path = NULL;
    if (mc_binding_get(&queued, b, "queued") || mc_binding_get(path, b, "state_path")) {
        mc_free(queued);
        return bad_input(MC_EINVAL, "bad setting");
    }
    on = !strcmp(queued, "true");
    mc_free(queued);
    if (!on) {
        mc_free(*path);
        *path = NULL;
        return o->seen['W'] ? usage_error("--queue-wait needs --queued") : CONTINUE;
    }
    mc_binding_set_delivery_callback(b, on_delivery, NULL);
    return CONTINUE;
}

/* the transport owns the store now: what is in it was not queued by us */
static int start_outbox_watch(const char *path)
{
    int64_t max = 0;
    int rc;
    if ((rc = mc_queue_list(path, false, max_id, &max)) || (rc = mc_queue_list(path, true, max_id, &max)))
        return fail(rc, "cannot read the outbox");
    pthread_mutex_lock(&outbox.lock);
    outbox.path = path;
    outbox.baseline = max;
    outbox.since = wall_ms();
    pthread_mutex_unlock(&outbox.lock);
    return CONTINUE;
}

/* everything the user gave is checked before the transport exists */
static int run(const options *o)
{
    mc_binding *b = NULL;
    mc_message *m = NULL;
    mc_transport *t = NULL;
    char *queued_path = NULL;
    int rc, ex;
    if (watch_signals_start())
        return fail(MC_ENOMEM, "cannot start the signal thread");
    start_diagnostics(o);
    if ((ex = make_binding(&b, o)) != CONTINUE)
        return ex;
    if ((ex = prepare_queued(b, o, &queued_path)) != CONTINUE)
        goto done;
    if (o->command == CMD_SEND && (ex = make_message(&m, o)) != CONTINUE)
        goto done;
    if ((rc = mc_transport_new(&t, b))) {
        ex = fail(rc, "cannot open the transport");
        goto done;
    }
    if (queued_path && (ex = start_outbox_watch(queued_path)) != CONTINUE)
        goto done;
    ex = o->command == CMD_SEND ? cmd_send(t, o, m) : cmd_receive(t, o);
done:
    mc_transport_free(t);
    outbox.path = NULL;
    mc_free(queued_path);
    mc_message_free(m);
    mc_binding_free(b);
    return ex;
}

int main(int argc, char **argv)
{
    options o;
    int ex;
    memset(&o, 0, sizeof(o));
    o.kind = "maildir";
    o.timeout = -1;
    if ((ex = parse_args(&o, argc, argv)) != CONTINUE || (ex = check_usage(&o)) != CONTINUE)
        return ex;
    if (mc_init())
        return fail(MC_ENOMEM, "cannot initialize the library");
    ex = o.command == CMD_QUEUE ? run_queue(&o) : run(&o);
    mc_shutdown();
    return ex;
}
