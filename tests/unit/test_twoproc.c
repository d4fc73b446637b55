/* test_twoproc.c - two processes receiving from one Maildir mailbox never
 * both deliver a message, and a receiver killed mid-way loses nothing. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "helpers.h"

#define SVC "svc@example.org"
#define N 300

/* child: receives until idle for 3 s, writes one MessageID per line */
static void receiver(const char *root, const char *out_path)
{
    mc_transport *t = maildir_transport(root, SVC, NULL);
    mc_channel_listener *l;
    mc_input_channel *in;
    FILE *out = fopen(out_path, "w");
    mc_message *m;
    if (mc_channel_listener_new(&l, t, "net.mail://work#") ||
        mc_channel_listener_accept_channel(&in, l, 1000))
        _exit(3);
    while (mc_input_channel_receive(&m, in, 3000) == 0) {
        fprintf(out, "%s\n", mc_message_message_id(m));
        mc_message_free(m);
    }
    fclose(out);
    mc_input_channel_close(in);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_transport_free(t);
    _exit(0);
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void test_two_receivers(void **state)
{
    char *root = make_tmpdir(), outs[2][512], line[128];
    char **ids = calloc(2 * N + 2, sizeof(char *));
    pid_t kids[2];
    size_t n = 0, per[2] = {0, 0};
    (void)state;
    for (int k = 0; k < 2; k++) {
        snprintf(outs[k], sizeof(outs[k]), "%s/received-%d.txt", root, k);
        if ((kids[k] = fork()) == 0)
            receiver(root, outs[k]);
    }
    usleep(200000);
    {
        mc_transport *cli = maildir_transport(root, "cli@example.org", NULL);
        mc_channel_factory *f;
        mc_output_channel *ch;
        assert_int_equal(mc_channel_factory_new(&f, cli), 0);
        assert_int_equal(mc_channel_factory_create_channel(&ch, f, "net.mail://work#" SVC), 0);
        for (int i = 0; i < N; i++) {
            mc_message *m;
            assert_int_equal(mc_message_new_text(&m, "urn:work", "job"), 0);
            assert_int_equal(mc_output_channel_send(ch, m), 0);
            mc_message_free(m);
        }
        mc_output_channel_free(ch);
        mc_channel_factory_free(f);
        mc_transport_free(cli);
    }
    for (int k = 0; k < 2; k++) {
        int status;
        FILE *in;
        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        in = fopen(outs[k], "r");
        assert_non_null(in);
        while (fgets(line, sizeof(line), in) && n < 2 * N + 1) {
            ids[n++] = strdup(line);
            per[k]++;
        }
        fclose(in);
    }
    printf("receiver 0 took %zu, receiver 1 took %zu\n", per[0], per[1]);
    assert_int_equal(n, N); /* every message delivered, none twice */
    qsort(ids, n, sizeof(char *), cmp);
    for (size_t i = 1; i < n; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    {
        char p[512];
        assert_int_equal(count_files(mbox_path(p, sizeof(p), root, SVC, "new")), 0);
    }
    rm_rf(root);
    free(root);
}

static void test_crash_loses_nothing(void **state)
{
    char *root = make_tmpdir(), idfile[512], id[128] = "";
    pid_t kid;
    int status, fds[2];
    (void)state;
    {
        mc_transport *cli = maildir_transport(root, "cli@example.org", NULL);
        mc_channel_factory *f;
        mc_output_channel *ch;
        mc_message *m;
        assert_int_equal(mc_channel_factory_new(&f, cli), 0);
        assert_int_equal(mc_channel_factory_create_channel(&ch, f, "net.mail://work#" SVC), 0);
        assert_int_equal(mc_message_new_text(&m, "urn:work", "precious"), 0);
        assert_int_equal(mc_output_channel_send(ch, m), 0);
        snprintf(id, sizeof(id), "%s", mc_message_message_id(m));
        mc_message_free(m);
        mc_output_channel_free(ch);
        mc_channel_factory_free(f);
        mc_transport_free(cli);
    }
    snprintf(idfile, sizeof(idfile), "%s/unused", root);
    assert_int_equal(pipe(fds), 0);
    if ((kid = fork()) == 0) {
        /* receives the message, then dies before its deletion is flushed */
        mc_transport *t = maildir_transport(root, SVC, NULL);
        mc_channel_listener *l;
        mc_input_channel *in;
        mc_message *m;
        char ok = 'n';
        if (!mc_channel_listener_new(&l, t, "net.mail://work#") &&
            !mc_channel_listener_accept_channel(&in, l, 1000) && !mc_input_channel_receive(&m, in, 5000))
            ok = 'y';
        if (write(fds[1], &ok, 1) != 1)
            _exit(3);
        pause();
        _exit(0);
    }
    {
        char ok = 0;
        assert_int_equal(read(fds[0], &ok, 1), 1);
        assert_int_equal(ok, 'y');
    }
    kill(kid, SIGKILL);
    waitpid(kid, &status, 0);
    {
        mc_transport *t = maildir_transport(root, SVC, NULL);
        mc_channel_listener *l;
        mc_input_channel *in;
        mc_message *m;
        assert_int_equal(mc_channel_listener_new(&l, t, "net.mail://work#"), 0);
        assert_int_equal(mc_channel_listener_accept_channel(&in, l, 1000), 0);
        assert_int_equal(mc_input_channel_receive(&m, in, 5000), 0);
        assert_string_equal(mc_message_message_id(m), id); /* delivered again, not lost */
        mc_message_free(m);
        assert_int_equal(mc_input_channel_close(in), 0);
        mc_input_channel_free(in);
        mc_channel_listener_free(l);
        mc_transport_free(t);
    }
    close(fds[0]);
    close(fds[1]);
    rm_rf(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_receivers),
        cmocka_unit_test(test_crash_loses_nothing),
    };
    mc_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
