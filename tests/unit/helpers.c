#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "helpers.h"

char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/mailchan-test.XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

void rm_rf(const char *path)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", path);
}

int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    if (!d)
        return 0;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

const char *mbox_path(char *buf, size_t cap, const char *root, const char *addr, const char *sub)
{
    snprintf(buf, cap, "%s/%s/%s", root, addr, sub);
    return buf;
}

void deliver_raw(const char *root, const char *addr, const char *folder, const char *mail)
{
    static unsigned seq;
    char dir[512], path[600], tmp[600];
    int fd;
    snprintf(dir, sizeof(dir), "%s/%s%s%s", root, addr, folder ? "/." : "", folder ? folder : "");
    mkdir(root, 0700);
    snprintf(path, sizeof(path), "%s/%s", root, addr);
    mkdir(path, 0700);
    mkdir(dir, 0700);
    snprintf(path, sizeof(path), "%s/tmp", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/new", dir);
    mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/cur", dir);
    mkdir(path, 0700);
    snprintf(tmp, sizeof(tmp), "%s/tmp/raw%u.%d", dir, ++seq, (int)getpid());
    snprintf(path, sizeof(path), "%s/new/raw%u.%d", dir, seq, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, mail, strlen(mail)), (ssize_t)strlen(mail));
    close(fd);
    assert_int_equal(rename(tmp, path), 0);
}

void binding_set_pairs(mc_binding *b, va_list ap)
{
    const char *kv;
    while ((kv = va_arg(ap, const char *))) {
        char name[128];
        const char *eq = strchr(kv, '=');
        memcpy(name, kv, (size_t)(eq - kv));
        name[eq - kv] = '\0';
        assert_int_equal(mc_binding_set(b, name, eq + 1), 0);
    }
}

mc_transport *maildir_transport(const char *root, const char *addr, ...)
{
    mc_binding *b = NULL;
    mc_transport *t = NULL;
    va_list ap;
    assert_int_equal(mc_binding_new(&b, "maildir"), 0);
    assert_int_equal(mc_binding_set(b, "maildir_root", root), 0);
    assert_int_equal(mc_binding_set(b, "address", addr), 0);
    va_start(ap, addr);
    binding_set_pairs(b, ap);
    va_end(ap);
    assert_int_equal(mc_transport_new(&t, b), 0);
    mc_binding_free(b);
    return t;
}

void open_in(mc_transport *t, const char *uri, mc_channel_listener **l, mc_input_channel **in)
{
    if (mc_channel_listener_new(l, t, uri))
        fail_msg("listener: %s", mc_error_last());
    assert_int_equal(mc_channel_listener_accept_channel(in, *l, 5000), 0);
}

char *receive_text(mc_input_channel *in, int timeout_ms)
{
    mc_message *m = NULL;
    char *text = NULL;
    int rc = mc_input_channel_receive(&m, in, timeout_ms);
    if (rc)
        fail_msg("receive: %s (%s)", mc_strerror(rc), mc_error_last());
    assert_int_equal(mc_message_body_text(&text, m), 0);
    mc_message_free(m);
    return text;
}

void on_sent(int status, const char *message, void *ud)
{
    completion *c = ud;
    c->calls++;
    c->status = status;
    snprintf(c->message, sizeof(c->message), "%s", message);
    sem_post(&c->done);
}
