#define _POSIX_C_SOURCE 200809L
/* echo_client - sends N requests to the echo service and prints each
 * reply, matched to its request by wsa:RelatesTo.
 *
 * usage: echo_client MAILDIR_ROOT|CONFIG_FILE [N] [SERVICE_ADDRESS]
 * A directory is a Maildir store (the embedded default, own address
 * client@demo.local); a file is the configuration of a "mail" binding
 * (SMTP + IMAP; "name = value" lines, its own address included).
 * Exit status 0 when every request got its reply within 30 s. */
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mailchan.h>

#define CLIENT "client@demo.local"

static int check(int rc, const char *what)
{
    if (rc)
        fprintf(stderr, "echo_client: %s: %s\n", what, mc_error_last());
    return rc;
}

int main(int argc, char **argv)
{
    mc_binding *b = NULL;
    mc_transport *t = NULL;
    mc_channel_factory *f = NULL;
    mc_output_channel *out = NULL;
    mc_channel_listener *l = NULL;
    mc_input_channel *in = NULL;
    int n = argc > 2 ? atoi(argv[2]) : 5, got = 0, ok = 1;
    char **ids = NULL, to[300], reply_to[300];
    struct stat st;
    if (argc < 2 || n <= 0 || n > 100000) {
        fprintf(stderr, "usage: echo_client MAILDIR_ROOT|CONFIG_FILE [N] [SERVICE_ADDRESS]\n");
        return 2;
    }
    snprintf(to, sizeof(to), "net.mail://echo#%s", argc > 3 ? argv[3] : "svc@demo.local");
    mc_init();
    if (stat(argv[1], &st) == 0 && S_ISREG(st.st_mode)) {
        if (check(mc_binding_new(&b, "mail"), "binding") ||
            check(mc_binding_load_config(b, argv[1]), argv[1]))
            goto fail;
    } else if (check(mc_binding_new(&b, "maildir"), "binding") ||
               check(mc_binding_set(b, "maildir_root", argv[1]), "maildir_root") ||
               check(mc_binding_set(b, "address", CLIENT), "address")) {
        goto fail;
    }
    if (!(ids = calloc((size_t)n, sizeof(char *))) || check(mc_transport_new(&t, b), "transport") ||
        check(mc_channel_listener_new(&l, t, "net.mail://echo-client#"), "listener") ||
        check(mc_channel_listener_accept_channel(&in, l, -1), "accept") ||
        check(mc_channel_factory_new(&f, t), "factory") ||
        check(mc_channel_factory_create_channel(&out, f, to), "channel"))
        goto fail;
    snprintf(reply_to, sizeof(reply_to), "net.mail://echo-client#%s", mc_transport_address(t));
    for (int i = 0; i < n; i++) {
        mc_message *m = NULL;
        char text[64];
        snprintf(text, sizeof(text), "hello #%d", i + 1);
        if (check(mc_message_new_text(&m, "urn:mailchan:demo:Echo", text), "message") ||
            check(mc_message_set_reply_to(m, reply_to), "reply-to") ||
            check(mc_output_channel_send(out, m), "send")) {
            mc_message_free(m);
            goto fail;
        }
        ids[i] = strdup(mc_message_message_id(m));
        printf("sent     %s  \"%s\"\n", ids[i], text);
        mc_message_free(m);
    }
    while (got < n) {
        mc_message *r = NULL;
        char *text = NULL;
        int i;
        if (check(mc_input_channel_receive(&r, in, 30000), "waiting for replies"))
            goto fail;
        for (i = 0; i < n; i++)
            if (ids[i] && mc_message_relates_to(r) && !strcmp(ids[i], mc_message_relates_to(r)))
                break;
        mc_message_body_text(&text, r);
        if (i == n) {
            printf("unmatched reply (RelatesTo %s)\n",
                   mc_message_relates_to(r) ? mc_message_relates_to(r) : "none");
            ok = 0;
        } else {
            printf("reply to %s  \"%s\" (from %s)\n", ids[i], text ? text : "?",
                   mc_message_property(r, MC_PROP_FROM_EMAIL));
            free(ids[i]);
            ids[i] = NULL;
            got++;
        }
        mc_free(text);
        mc_message_free(r);
    }
    printf("%d of %d requests answered\n", got, n);
    goto done;
fail:
    ok = 0;
done:
    if (in)
        mc_input_channel_close(in);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_output_channel_free(out);
    mc_channel_factory_free(f);
    mc_transport_free(t);
    mc_binding_free(b);
    for (int i = 0; ids && i < n; i++)
        free(ids[i]);
    free(ids);
    mc_shutdown();
    return ok ? 0 : 1;
}
