#define _POSIX_C_SOURCE 200809L
/* echo_service - a request/response service over the Maildir binding:
 * answers every request on net.mail://echo# with a reply carrying the
 * same body, until SIGINT/SIGTERM.
 *
 * usage: echo_service MAILDIR_ROOT|CONFIG_FILE [ADDRESS]
 * A directory is a Maildir store (the embedded default; own address
 * svc@demo.local); a file is the configuration of a "mail" binding (SMTP +
 * IMAP; "name = value" lines). ADDRESS overrides the own address. */
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <mailchan.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int check(int rc, const char *what)
{
    if (rc)
        fprintf(stderr, "echo_service: %s: %s\n", what, mc_error_last());
    return rc;
}

int main(int argc, char **argv)
{
    mc_binding *b = NULL;
    mc_transport *t = NULL;
    mc_channel_listener *l = NULL;
    mc_input_channel *in = NULL;
    mc_channel_factory *f = NULL;
    unsigned answered = 0;
    int rc;
    struct stat st;
    bool mail;
    if (argc < 2) {
        fprintf(stderr, "usage: echo_service MAILDIR_ROOT|CONFIG_FILE [ADDRESS]\n");
        return 2;
    }
    mc_init();
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    /* a short query interval only matters where push (inotify) is missing */
    mail = stat(argv[1], &st) == 0 && S_ISREG(st.st_mode);
    if (check(mc_binding_new(&b, mail ? "mail" : "maildir"), "binding") ||
        (mail ? check(mc_binding_load_config(b, argv[1]), argv[1])
              : check(mc_binding_set(b, "maildir_root", argv[1]), "maildir_root")) ||
        ((argc > 2 || !mail) &&
         check(mc_binding_set(b, "address", argc > 2 ? argv[2] : "svc@demo.local"), "address")) ||
        check(mc_transport_new(&t, b), "transport") || check(mc_channel_factory_new(&f, t), "factory") ||
        check(mc_channel_listener_new(&l, t, "net.mail://echo#"), "listener") ||
        check(mc_channel_listener_accept_channel(&in, l, -1), "accept"))
        goto done;
    printf("echo service listening on net.mail://echo#%s\n", mc_transport_address(t));
    fflush(stdout);
    while (!stop) {
        mc_message *req = NULL, *reply = NULL;
        mc_output_channel *out = NULL;
        size_t len;
        const char *body;
        rc = mc_input_channel_receive(&req, in, 200);
        if (rc == MC_ETIMEOUT)
            continue;
        if (check(rc, "receive"))
            break;
        body = mc_message_body(req, &len);
        if (!check(mc_message_create_reply(&reply, req, "urn:mailchan:demo:EchoResponse", body, len),
                   "reply") &&
            !check(mc_channel_factory_create_channel(&out, f, mc_message_to(reply)), "reply address") &&
            !check(mc_output_channel_send(out, reply), "send"))
            answered++;
        mc_output_channel_free(out);
        mc_message_free(reply);
        mc_message_free(req);
    }
    rc = mc_input_channel_close(in);
    printf("echo service stopping after %u replies\n", answered);
done:
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_channel_factory_free(f);
    mc_transport_free(t);
    mc_binding_free(b);
    mc_shutdown();
    return 0;
}
