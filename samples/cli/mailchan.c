/* mailchan - command-line client: send, receive and serve SOAP messages
 * over a mail binding. Run "mailchan --help" for the options.
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
    EXIT_INTERRUPTED = 130
};
/* keep running: returned by the steps of main() that may end the program */
enum { CONTINUE = -1 };

static const char usage_text[] =
    "usage: mailchan COMMAND [options]\n"
    "       mailchan --help | --version | --list-settings\n"
    "\n"
    "Commands:\n"
    "  send      send one message to --to\n"
    "  receive   receive messages on --listen and print their envelopes\n"
    "  serve     answer each request on --listen: echo it, or run --exec\n"
    "\n"
    "Binding options (all commands):\n"
    "  --binding KIND        binding kind (default: maildir)\n"
    "  --config FILE         read settings from FILE (name = value lines)\n"
    "  --set NAME=VALUE      set one binding setting (repeatable); see --list-settings\n"
    "  --address ADDR        this side's own e-mail address (setting \"address\")\n"
    "  --maildir-root DIR    Maildir store root (setting \"maildir_root\")\n"
    "                        (binding mail: --set smtp_host=H --set imap_host=H ...;\n"
    "                        binding exchange: --set ews_url=https://H/EWS/Exchange.asmx ...;\n"
    "                        the password may come from $MAILCHAN_PASSWORD)\n"
    "  --security MODE       none or message: WS-Security X.509 (setting \"security_mode\")\n"
    "  --algorithm-suite S   Basic256Rsa15 (default), Basic256, Basic256Sha256, Basic256Sha256Rsa15\n"
    "  --certificate FILE    own certificate: PEM, or PKCS#12 with the key (setting \"certificate\")\n"
    "  --private-key FILE    own PEM private key; its or the PKCS#12 password may come\n"
    "                        from $MAILCHAN_KEY_PASSWORD\n"
    "  --recipient-certificate PATH  recipients' certificates: PEM file or directory\n"
    "  --security-ca FILE    CAs trusted for senders' certificates (setting \"security_ca_file\")\n"
    "  --list-settings       print every setting with its default and exit\n"
    "  -v, --verbose         log to stderr (twice: debug)\n"
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
    "\n"
    "receive and serve options:\n"
    "  --listen URI          address to listen on, net.mail://CHANNEL# (own mailbox)\n"
    "  --count N             stop after N messages (default: receive 1, serve unlimited)\n"
    "  --timeout MS          give up when no message came for MS ms (default: wait forever)\n"
    "  --exec COMMAND        serve: run COMMAND with the request body on stdin; its\n"
    "                        stdout is the reply body (XML, or text if not XML)\n"
    "\n"
    "Exit status:\n"
    "  0    success\n"
    "  2    bad usage or bad input: an option, a setting, a file that cannot be read\n"
    "       (--config, certificates, keys, --body-file), the message, an address, a\n"
    "       message over max_received_message_size; nothing was sent\n"
    "  3    timeout: no message within --timeout, or no reply within --wait-reply\n"
    "       (the request was sent)\n"
    "  4    transport or server failure: the store cannot be used, a server is\n"
    "       unreachable, TLS or login failed, the server refused the recipient or the mail\n"
    "  5    sent, but the server refused some of the recipients (named on stderr); the\n"
    "       others have the mail\n"
    "  130  interrupted by SIGINT or SIGTERM (a send not yet handed to the transport is\n"
    "       not made; a second signal ends the program at once)\n";

/* which command an option applies to */
enum { CMD_SEND = 1, CMD_RECEIVE = 2, CMD_SERVE = 4, CMD_ALL = 7 };

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
    {'o', CMD_RECEIVE | CMD_SERVE},
    {'e', CMD_SERVE},
};

/* binding options: the setting each one sets (--config and --set aside) */
static const struct {
    char key;
    const char *setting;
} binding_options[] = {
    {'a', "address"},     {'r', "maildir_root"}, {'S', "security_mode"},         {'U', "algorithm_suite"},
    {'C', "certificate"}, {'K', "private_key"},  {'P', "recipient_certificate"}, {'Q', "security_ca_file"},
};

/* settings that name a file or directory the library will read */
static const char *const input_file_settings[] = {
    "certificate",      "private_key", "recipient_certificate", "security_ca_file",
    "security_ca_path", "tls_ca_file", "tls_ca_path",
};

#define MAX_BINDING_OPTIONS 64

typedef struct {
    unsigned command;
    const char *kind;
    const char *to, *action, *body_file, *reply_to, *listen, *exec;
    int text, verbose;
    long ttl, wait_reply, count, timeout;
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
 * at once (nothing is half done that a clean stop would finish). */
static struct {
    pthread_mutex_t lock;
    atomic_int signal;      /* the signal taken, 0 until then */
    mc_input_channel *in;   /* a receive a signal wakes (aborts) */
    mc_output_channel *out; /* a send a signal cancels */
} intr = {PTHREAD_MUTEX_INITIALIZER, 0, NULL, NULL};

static void *watch_signals(void *arg)
{
    const sigset_t *set = arg;
    int sig;
    while (sigwait(set, &sig) == 0) {
        pthread_mutex_lock(&intr.lock);
        if (atomic_load(&intr.signal) || (!intr.in && !intr.out))
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

static int print_message(mc_message *m)
{
    char *env;
    size_t len;
    int rc = mc_message_serialize(&env, &len, m);
    if (rc)
        return rc;
    printf("%s\n", env);
    fflush(stdout);
    mc_free(env);
    return 0;
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
        if (o->npending == MAX_BINDING_OPTIONS)
            return usage_error("too many binding options");
        o->pending[o->npending].key = (char)c;
        o->pending[o->npending++].val = arg;
        break;
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

/* fills @p o; returns CONTINUE, or the exit code (help, version, errors) */
static int parse_args(options *o, int argc, char **argv)
{
    static const struct {
        const char *name;
        unsigned cmd;
    } commands[] = {{"send", CMD_SEND}, {"receive", CMD_RECEIVE}, {"serve", CMD_SERVE}};
    int c, ex;
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
        return usage_error("missing command (send, receive or serve)");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            o->command = commands[i].cmd;
    if (!o->command)
        return usage_error("unknown command");
    optind = 2;
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
    if (o->command == CMD_SEND && (!o->to || !o->action))
        return usage_error("send needs --to and --action");
    if (o->command == CMD_SEND && o->wait_reply > 0 && !o->reply_to)
        return usage_error("--wait-reply needs --reply-to");
    if (o->command != CMD_SEND && !o->listen)
        return usage_error("receive and serve need --listen");
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
        /* every kind that has a password (mail, exchange) */
        (mc_binding_is_default(b, "password") >= 0 &&
         (rc = apply_environment(b, "password", "MAILCHAN_PASSWORD")))) {
        ex = bad_input(rc, "bad setting");
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

/* ---- receiving ---- */

typedef struct {
    mc_channel_listener *listener;
    mc_input_channel *ch;
} receiver;

static int receiver_open(receiver *r, mc_transport *t, const char *uri)
{
    int rc;
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

/* runs the --exec command with the request body on stdin; returns its stdout.
 * The child gets the default signal mask back (ours blocks SIGINT/SIGTERM). */
static char *run_command(const char *cmd, const char *input, size_t in_len, size_t *out_len)
{
    char path[] = "/tmp/mailchan-reqXXXXXX";
    int fd = mkstemp(path), p[2] = {-1, -1}, status;
    char *line = NULL, *out = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none;
    pid_t pid;
    if (fd < 0)
        return NULL;
    if (write(fd, input, in_len) != (ssize_t)in_len)
        goto done;
    if (asprintf(&line, "(%s) < '%s'", cmd, path) < 0) {
        line = NULL;
        goto done;
    }
    if (pipe2(p, O_CLOEXEC))
        goto done;
    sigemptyset(&none);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    status = posix_spawn(&pid, "/bin/sh", &fa, &attr, (char *[]){"sh", "-c", line, NULL}, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(p[1]);
    p[1] = -1;
    if (status)
        goto done;
    out = read_all_fd(p[0], out_len);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        free(out);
        out = NULL;
    }
done:
    for (int i = 0; i < 2; i++)
        if (p[i] >= 0)
            close(p[i]);
    close(fd);
    unlink(path);
    free(line);
    return out;
}

static int answer(mc_channel_factory *f, mc_message *req, const options *o)
{
    mc_message *reply = NULL;
    mc_output_channel *ch = NULL;
    char *action = NULL, *result = NULL;
    size_t blen, rlen = 0;
    const char *body = mc_message_body(req, &blen);
    int rc;
    if (asprintf(&action, "%sResponse", mc_message_action(req)) < 0)
        return MC_ENOMEM;
    rc = mc_message_create_reply(&reply, req, action, NULL, 0);
    if (!rc && !o->exec) {
        rc = mc_message_set_body(reply, body, blen);
    } else if (!rc && !(result = run_command(o->exec, body, blen, &rlen))) {
        rc = mc_message_set_fault(reply, "Receiver", "the service command failed");
    } else if (!rc) {
        chomp(result, &rlen);
        if (mc_message_set_body(reply, result, rlen) == MC_EPROTO)
            rc = mc_message_set_body_text(reply, result); /* not XML: send it as text */
    }
    if (!rc && !mc_message_to(reply))
        rc = MC_EINVAL; /* the request says nowhere to reply to */
    if (!rc)
        rc = mc_channel_factory_create_channel(&ch, f, mc_message_to(reply));
    /* the request in hand is answered even after a first signal */
    if (!rc)
        rc = mc_output_channel_send(ch, reply);
    if (rc)
        fprintf(stderr, "mailchan: cannot answer %s: %s\n", mc_message_message_id(req), mc_error_last());
    else if (o->verbose)
        fprintf(stderr, "mailchan: answered %s\n", mc_message_message_id(req));
    mc_output_channel_free(ch);
    mc_message_free(reply);
    free(action);
    free(result);
    return rc;
}

/* receives @p limit messages (negative: until stopped), each within
 * @p timeout ms (negative: forever); prints or answers them */
static int receive_messages(receiver *r, mc_channel_factory *f, const options *o, long limit, long timeout,
                            int serve)
{
    long n = 0;
    int rc;
    while (limit < 0 || n < limit) {
        mc_message *m = NULL;
        /* one call with the caller's whole timeout: a signal wakes it */
        rc = mc_input_channel_receive(&m, r->ch, timeout < 0 ? -1 : (int)timeout);
        if (rc && interrupted())
            return stopped_by_signal();
        if (rc)
            return fail(rc, "receive failed");
        n++;
        if (o->verbose)
            fprintf(stderr, "mailchan: from %s\n", mc_message_property(m, MC_PROP_FROM_EMAIL));
        if (serve)
            answer(f, m, o);
        else
            print_message(m);
        mc_message_free(m);
        if (interrupted() && (limit < 0 || n < limit))
            return stopped_by_signal();
    }
    return EXIT_OK;
}

/* ---- the commands ---- */

static int cmd_send(mc_transport *t, const options *o, const mc_message *m)
{
    mc_channel_factory *f = NULL;
    mc_output_channel *ch = NULL;
    receiver reply = {NULL, NULL};
    int rc, ex = EXIT_OK;
    if ((rc = mc_channel_factory_new(&f, t)) || (rc = mc_channel_factory_create_channel(&ch, f, o->to))) {
        ex = fail(rc, "bad destination");
        goto done;
    }
    /* listen before sending: a quick reply is not missed, and a --reply-to
     * that is not our own mailbox fails before anything is sent */
    if (o->wait_reply > 0 && (ex = receiver_open(&reply, t, o->reply_to)) != CONTINUE)
        goto done;
    if ((ex = send_interruptible(ch, m)) != EXIT_OK)
        goto done;
    fprintf(stderr, "mailchan: sent %s\n", mc_message_message_id(m));
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
    receiver r = {NULL, NULL};
    mc_channel_factory *f = NULL;
    if ((rc = mc_channel_factory_new(&f, t)))
        ex = fail(rc, "cannot make a channel factory");
    else if ((ex = receiver_open(&r, t, o->listen)) == CONTINUE)
        ex = receive_messages(&r, f, o, limit, o->timeout, serve);
    if (ex == CONTINUE)
        ex = EXIT_OK;
    receiver_close(&r, &ex);
    mc_channel_factory_free(f);
    return ex;
}

/* everything the user gave is checked before the transport exists */
static int run(const options *o)
{
    mc_binding *b = NULL;
    mc_message *m = NULL;
    mc_transport *t = NULL;
    int rc, ex;
    if (watch_signals_start())
        return fail(MC_ENOMEM, "cannot start the signal thread");
    if (o->verbose)
        mc_log_set_callback(mc_log_stderr, o->verbose > 1 ? MC_LOG_DEBUG : MC_LOG_INFO, NULL);
    if ((ex = make_binding(&b, o)) != CONTINUE)
        return ex;
    if (o->command == CMD_SEND && (ex = make_message(&m, o)) != CONTINUE)
        goto done;
    if ((rc = mc_transport_new(&t, b))) {
        ex = fail(rc, "cannot open the transport");
        goto done;
    }
    ex = o->command == CMD_SEND ? cmd_send(t, o, m) : cmd_receive(t, o);
done:
    mc_transport_free(t);
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
    ex = run(&o);
    mc_shutdown();
    return ex;
}
