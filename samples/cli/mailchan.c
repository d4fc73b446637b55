/* mailchan - command-line client: send, receive and serve SOAP messages
 * over a mail binding. Run "mailchan --help" for the options. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <mailchan.h>

/* exit codes */
enum { EXIT_OK = 0, EXIT_USAGE = 2, EXIT_TIMEOUT = 3, EXIT_TRANSPORT = 4 };

static const char usage_text[] =
    "usage: mailchan COMMAND [options]\n"
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
    "\n"
    "send options:\n"
    "  --to URI              destination, net.mail://CHANNEL#ADDR[;ADDR...]\n"
    "  --action IRI          wsa:Action of the message\n"
    "  --body-file FILE      body XML fragment from FILE ('-' or absent: stdin)\n"
    "  --text                treat the body as text (sent as a DataContract string)\n"
    "  --reply-to URI        wsa:ReplyTo\n"
    "  --ttl SECONDS         expire the message SECONDS from now\n"
    "  --wait-reply MS       then listen on --reply-to and print the reply (0: don't)\n"
    "\n"
    "receive and serve options:\n"
    "  --listen URI          address to listen on, net.mail://CHANNEL# (own mailbox)\n"
    "  --count N             stop after N messages (default: receive 1, serve unlimited)\n"
    "  --timeout MS          give up when no message came for MS ms (default: wait forever)\n"
    "  --exec COMMAND        serve: run COMMAND with the request body on stdin; its\n"
    "                        stdout is the reply body (XML, or text if not XML)\n"
    "\n"
    "Exit status: 0 success, 2 bad usage or bad input, 3 timeout, 4 transport failure.\n";

typedef struct {
    const char *command;
    mc_binding *binding;
    const char *to, *action, *body_file, *reply_to, *listen, *exec;
    int text, verbose;
    long ttl, wait_reply, count, timeout;
} options;

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int fail(int code, const char *what)
{
    fprintf(stderr, "mailchan: %s: %s\n", what, mc_error_last()[0] ? mc_error_last() : mc_strerror(code));
    if (code == MC_ETIMEOUT)
        return EXIT_TIMEOUT;
    if (code == MC_EINVAL || code == MC_EPROTO || code == MC_ENOTFOUND || code == MC_ETOOBIG)
        return EXIT_USAGE;
    return EXIT_TRANSPORT;
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "mailchan: %s\nTry 'mailchan --help'.\n", msg);
    return EXIT_USAGE;
}

static char *read_all(FILE *f, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
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
    int rc = mc_message_serialize(m, &env, &len);
    if (rc)
        return rc;
    printf("%s\n", env);
    fflush(stdout);
    mc_free(env);
    return 0;
}

/* a body: XML fragment if it parses as one, else text */
static int make_body_message(mc_message **out, const char *action, const char *body, size_t len, int text)
{
    if (text)
        return mc_message_new_text(out, action, body);
    if (mc_message_new(out, action, body, len) == 0)
        return 0;
    return mc_message_new_text(out, action, body);
}

static int receive_loop(mc_transport *t, options *o, int serve);

static int cmd_send(mc_transport *t, options *o)
{
    mc_channel_factory *f = NULL;
    mc_output_channel *ch = NULL;
    mc_message *m = NULL;
    char *body = NULL;
    size_t len = 0;
    int rc, ex = EXIT_OK;
    FILE *in = stdin;
    if (!o->to || !o->action)
        return usage_error("send needs --to and --action");
    if (o->body_file && strcmp(o->body_file, "-") && !(in = fopen(o->body_file, "r"))) {
        fprintf(stderr, "mailchan: cannot read %s: %s\n", o->body_file, strerror(errno));
        return EXIT_USAGE;
    }
    body = read_all(in, &len);
    if (in != stdin)
        fclose(in);
    if (!body)
        return usage_error("cannot read the body");
    while (len && (body[len - 1] == '\n' || body[len - 1] == '\r'))
        body[--len] = '\0';
    if ((rc = make_body_message(&m, o->action, body, len, o->text))) {
        ex = fail(rc, "bad message");
        goto done;
    }
    if ((o->reply_to && (rc = mc_message_set_reply_to(m, o->reply_to))) ||
        (o->ttl > 0 && (rc = mc_message_set_expiry(m, (int64_t)time(NULL) + o->ttl)))) {
        ex = fail(rc, "bad message");
        goto done;
    }
    if ((rc = mc_channel_factory_new(&f, t)) || (rc = mc_channel_factory_create_channel(&ch, f, o->to))) {
        ex = fail(rc, "bad destination");
        goto done;
    }
    if ((rc = mc_output_channel_send(ch, m))) {
        ex = fail(rc, "send failed");
        goto done;
    }
    fprintf(stderr, "mailchan: sent %s\n", mc_message_message_id(m));
    if (o->wait_reply > 0) {
        if (!o->reply_to) {
            ex = usage_error("--wait-reply needs --reply-to");
            goto done;
        }
        o->listen = o->reply_to;
        o->count = 1;
        o->timeout = o->wait_reply;
        ex = receive_loop(t, o, 0);
    }
done:
    mc_output_channel_free(ch);
    mc_channel_factory_free(f);
    mc_message_free(m);
    free(body);
    return ex;
}

/* runs the --exec command with the request body on stdin; returns its stdout */
static char *run_command(const char *cmd, const char *input, size_t in_len, size_t *out_len)
{
    char path[] = "/tmp/mailchan-reqXXXXXX";
    int fd = mkstemp(path);
    FILE *p;
    char *line, *out;
    if (fd < 0)
        return NULL;
    if (write(fd, input, in_len) != (ssize_t)in_len) {
        close(fd);
        unlink(path);
        return NULL;
    }
    close(fd);
    if (asprintf(&line, "(%s) < '%s'", cmd, path) < 0) {
        unlink(path);
        return NULL;
    }
    p = popen(line, "r");
    free(line);
    out = p ? read_all(p, out_len) : NULL;
    if (p && pclose(p) != 0) {
        free(out);
        out = NULL;
    }
    unlink(path);
    return out;
}

static int answer(mc_channel_factory *f, mc_message *req, options *o)
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
        while (rlen && (result[rlen - 1] == '\n' || result[rlen - 1] == '\r'))
            result[--rlen] = '\0';
        if (mc_message_set_body(reply, result, rlen) == MC_EPROTO)
            rc = mc_message_set_body_text(reply, result); /* not XML: send it as text */
    }
    if (!rc && !mc_message_to(reply))
        rc = MC_EINVAL; /* the request says nowhere to reply to */
    if (!rc)
        rc = mc_channel_factory_create_channel(&ch, f, mc_message_to(reply));
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

static int receive_loop(mc_transport *t, options *o, int serve)
{
    mc_channel_listener *l = NULL;
    mc_input_channel *ch = NULL;
    mc_channel_factory *f = NULL;
    long n = 0, limit = o->count > 0 ? o->count : (serve ? -1 : 1);
    int rc, ex = EXIT_OK;
    if (!o->listen)
        return usage_error("receive and serve need --listen");
    if ((rc = mc_channel_listener_new(&l, t, o->listen)))
        return fail(rc, "cannot listen");
    if ((rc = mc_channel_factory_new(&f, t)) || (rc = mc_channel_listener_accept_channel(l, -1, &ch))) {
        ex = fail(rc, "cannot open the channel");
        goto done;
    }
    while (!stop && (limit < 0 || n < limit)) {
        mc_message *m = NULL;
        /* wake now and then to notice signals */
        int slice = o->timeout < 0 || o->timeout > 500 ? 500 : (int)o->timeout;
        long waited = 0;
        do {
            rc = mc_input_channel_receive(ch, slice, &m);
            waited += slice;
        } while (rc == MC_ETIMEOUT && !stop && (o->timeout < 0 || waited < o->timeout));
        if (rc == MC_ETIMEOUT && stop)
            break;
        if (rc) {
            ex = fail(rc, "receive failed");
            break;
        }
        n++;
        if (o->verbose)
            fprintf(stderr, "mailchan: from %s\n", mc_message_property(m, MC_PROP_FROM_EMAIL));
        if (serve)
            answer(f, m, o);
        else
            print_message(m);
        mc_message_free(m);
    }
    if (ch && (rc = mc_input_channel_close(ch)) && ex == EXIT_OK)
        ex = fail(rc, "close failed");
done:
    mc_input_channel_free(ch);
    mc_channel_listener_free(l);
    mc_channel_factory_free(f);
    return ex;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"binding", required_argument, 0, 'b'}, {"config", required_argument, 0, 'c'},
        {"set", required_argument, 0, 's'},     {"address", required_argument, 0, 'a'},
        {"maildir-root", required_argument, 0, 'r'}, {"list-settings", no_argument, 0, 'L'},
        {"verbose", no_argument, 0, 'v'},       {"to", required_argument, 0, 't'},
        {"action", required_argument, 0, 'A'},  {"body-file", required_argument, 0, 'f'},
        {"text", no_argument, 0, 'T'},          {"reply-to", required_argument, 0, 'R'},
        {"ttl", required_argument, 0, 'l'},     {"wait-reply", required_argument, 0, 'w'},
        {"listen", required_argument, 0, 'n'},  {"count", required_argument, 0, 'N'},
        {"timeout", required_argument, 0, 'o'}, {"exec", required_argument, 0, 'e'},
        {"security", required_argument, 0, 'S'}, {"algorithm-suite", required_argument, 0, 'U'},
        {"certificate", required_argument, 0, 'C'}, {"private-key", required_argument, 0, 'K'},
        {"recipient-certificate", required_argument, 0, 'P'}, {"security-ca", required_argument, 0, 'Q'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    options o = {0};
    const char *kind = "maildir";
    mc_transport *t = NULL;
    int c, rc, ex;
    struct {
        char key;
        const char *val;
    } pending[64];
    size_t npending = 0;
    o.timeout = -1;
    o.ttl = 0;
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (argc > 1 && !strcmp(argv[1], "--list-settings")) {
        list_settings();
        return EXIT_OK;
    }
    if (argc < 2 || argv[1][0] == '-')
        return usage_error("missing command (send, receive or serve)");
    o.command = argv[1];
    if (strcmp(o.command, "send") && strcmp(o.command, "receive") && strcmp(o.command, "serve"))
        return usage_error("unknown command");
    optind = 2;
    while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'b': kind = optarg; break;
        case 'c': case 's': case 'a': case 'r': case 'S': case 'U': case 'C': case 'K': case 'P': case 'Q':
            if (npending == sizeof(pending) / sizeof(pending[0]))
                return usage_error("too many binding options");
            pending[npending].key = (char)c;
            pending[npending++].val = optarg;
            break;
        case 'L': list_settings(); return EXIT_OK;
        case 'v': o.verbose++; break;
        case 't': o.to = optarg; break;
        case 'A': o.action = optarg; break;
        case 'f': o.body_file = optarg; break;
        case 'T': o.text = 1; break;
        case 'R': o.reply_to = optarg; break;
        case 'e': o.exec = optarg; break;
        case 'n': o.listen = optarg; break;
        case 'l': case 'w': case 'N': case 'o': {
            long v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end || v < 0)
                return usage_error("expected a non-negative number");
            if (c == 'l') o.ttl = v;
            else if (c == 'w') o.wait_reply = v;
            else if (c == 'N') o.count = v;
            else o.timeout = v;
            break;
        }
        case 'h': fputs(usage_text, stdout); return EXIT_OK;
        default: return usage_error("bad option");
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument");
    mc_init();
    if (o.verbose)
        mc_log_set_callback(mc_log_stderr, o.verbose > 1 ? MC_LOG_DEBUG : MC_LOG_INFO, NULL);
    if ((rc = mc_binding_new(&o.binding, kind)))
        return fail(rc, "bad binding");
    for (size_t i = 0; i < npending; i++) {
        const char *v = pending[i].val;
        switch (pending[i].key) {
        case 'c': rc = mc_binding_load_config(o.binding, v); break;
        case 'a': rc = mc_binding_set(o.binding, "address", v); break;
        case 'r': rc = mc_binding_set(o.binding, "maildir_root", v); break;
        case 'S': rc = mc_binding_set(o.binding, "security_mode", v); break;
        case 'U': rc = mc_binding_set(o.binding, "algorithm_suite", v); break;
        case 'C': rc = mc_binding_set(o.binding, "certificate", v); break;
        case 'K': rc = mc_binding_set(o.binding, "private_key", v); break;
        case 'P': rc = mc_binding_set(o.binding, "recipient_certificate", v); break;
        case 'Q': rc = mc_binding_set(o.binding, "security_ca_file", v); break;
        case 's': {
            char name[128];
            const char *eq = strchr(v, '=');
            if (!eq || (size_t)(eq - v) >= sizeof(name)) {
                mc_binding_free(o.binding);
                return usage_error("--set expects NAME=VALUE");
            }
            memcpy(name, v, (size_t)(eq - v));
            name[eq - v] = '\0';
            rc = mc_binding_set(o.binding, name, eq + 1);
            break;
        }
        }
        if (rc) {
            mc_binding_free(o.binding);
            return fail(rc, "bad setting");
        }
    }
    /* passwords from the environment stay off the command line (ps) */
    if (getenv("MAILCHAN_KEY_PASSWORD")) {
        char *cur = NULL;
        if (!mc_binding_get(o.binding, "private_key_password", &cur) && !*cur)
            rc = mc_binding_set(o.binding, "private_key_password", getenv("MAILCHAN_KEY_PASSWORD"));
        mc_free(cur);
        if (rc) {
            mc_binding_free(o.binding);
            return fail(rc, "bad setting");
        }
    }
    if (!strcmp(kind, "mail") && getenv("MAILCHAN_PASSWORD")) {
        char *cur = NULL;
        if (!mc_binding_get(o.binding, "password", &cur) && !*cur)
            rc = mc_binding_set(o.binding, "password", getenv("MAILCHAN_PASSWORD"));
        mc_free(cur);
        if (rc) {
            mc_binding_free(o.binding);
            return fail(rc, "bad setting");
        }
    }
    if ((rc = mc_transport_new(&t, o.binding))) {
        mc_binding_free(o.binding);
        return fail(rc, "cannot open the transport");
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (!strcmp(o.command, "send"))
        ex = cmd_send(t, &o);
    else
        ex = receive_loop(t, &o, !strcmp(o.command, "serve"));
    mc_transport_free(t);
    mc_binding_free(o.binding);
    mc_shutdown();
    return ex;
}
