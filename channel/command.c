/* command.c - a secret read from a program's output (command.h): posix_spawn
 * of /bin/sh -c with a pipe, a bounded read against a deadline, the child
 * reaped on every path. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include "command.h"

extern char **environ;

struct mc__command {
    char *setting; /* for errors: "password_command" */
    char *text;    /* the command line (not a secret: the secret is its output) */
    int timeout_ms;
};

int mc__command_new(mc__command **out, const char *setting, const char *text, int timeout_ms)
{
    mc__command *c = calloc(1, sizeof(*c));
    if (!c || !(c->setting = mc__strdup(setting)) || !(c->text = mc__strdup(text))) {
        mc__command_free(c);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
    *out = c;
    return 0;
}

void mc__command_free(mc__command *c)
{
    if (!c)
        return;
    free(c->setting);
    free(c->text);
    free(c);
}

/* the compiler may not drop stores through a volatile pointer */
static void wipe(volatile char *p, size_t n)
{
    while (n--)
        *p++ = 0;
}

/* a descriptor >= 3, close-on-exec, in place of fd: the child's stdin and
 * stdout are set up by number, so the pipe must not be one of 0..2 (an
 * application may have closed them) */
static int above_stdio(int fd)
{
    int moved;
    if (fd > 2)
        return fd;
    moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return moved;
}

/* Starts /bin/sh -c TEXT with stdout on out_fd, in its own process group. */
static int spawn(const mc__command *c, int out_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, all;
    char sh[] = "sh", dash_c[] = "-c";
    char *argv[] = {sh, dash_c, c->text, NULL};
    int r;
    if ((r = posix_spawn_file_actions_init(&fa)))
        return mc__error_set(MC_ENOMEM, "%s: cannot start it: %s", c->setting, strerror(r));
    if ((r = posix_spawnattr_init(&at))) {
        posix_spawn_file_actions_destroy(&fa);
        return mc__error_set(MC_ENOMEM, "%s: cannot start it: %s", c->setting, strerror(r));
    }
    sigemptyset(&none);
    sigfillset(&all);
    /* no input: a command that waits for a typed password fails at once */
    r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!r)
        r = posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    /* nothing of the application's but stdin, stdout and stderr, even a
     * descriptor someone left without close-on-exec */
    if (!r)
        r = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    /* the application's signal mask and ignored signals (SIGPIPE) are not
     * the command's; its own process group lets a timeout kill all of it */
    if (!r)
        r = posix_spawnattr_setsigmask(&at, &none);
    if (!r)
        r = posix_spawnattr_setsigdefault(&at, &all);
    if (!r)
        r = posix_spawnattr_setpgroup(&at, 0);
    if (!r)
        r = posix_spawnattr_setflags(&at,
                                     POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    if (!r)
        r = posix_spawn(pid, "/bin/sh", &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (r)
        return mc__error_set(MC_EIO, "%s: cannot start /bin/sh: %s", c->setting, strerror(r));
    return 0;
}

typedef enum { OUT_EOF, OUT_TIMEOUT, OUT_TOO_MUCH, OUT_ERROR } out_end;

/* Reads the command's output into buf (cap octets) until EOF, the deadline
 * or more than cap - 1 octets. */
static out_end collect(int fd, char *buf, size_t cap, size_t *len, int64_t deadline)
{
    *len = 0;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int64_t left = deadline - mc__mono_ms();
        ssize_t n;
        if (left <= 0)
            return OUT_TIMEOUT;
        if (poll(&p, 1, left > 60000 ? 60000 : (int)left) < 0) {
            if (errno == EINTR)
                continue;
            return OUT_ERROR;
        }
        if (!p.revents)
            continue;
        n = read(fd, buf + *len, cap - *len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0)
            return OUT_ERROR;
        if (n == 0)
            return OUT_EOF;
        *len += (size_t)n;
        if (*len == cap)
            return OUT_TOO_MUCH;
    }
}

/* Waits for the child until the deadline (it may close stdout and go on);
 * kills its process group when it is passed. The status, -1 when the
 * application reaps children itself (SIGCHLD ignored: ECHILD), -2 when it
 * had to be killed. */
static int reap(pid_t pid, int64_t deadline, bool kill_now)
{
    int st = 0;
    pid_t r;
    while (!kill_now) {
        r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return st;
        if (r < 0 && errno != EINTR)
            return -1;
        if (mc__mono_ms() >= deadline)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 5 * 1000 * 1000}, NULL);
    }
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL); /* should it have left its group */
    while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
        ;
    return -2;
}

/* The secret: the first line of out[0..len) without its line end. */
static int first_line(const mc__command *c, const char *out, size_t len, char **secret)
{
    const char *nl = memchr(out, '\n', len);
    size_t n = nl ? (size_t)(nl - out) : len;
    if (n && out[n - 1] == '\r')
        n--;
    if (!n)
        return mc__error_set(MC_EAUTH, "%s printed no secret (its first line of output is empty)",
                             c->setting);
    if (memchr(out, '\0', n))
        return mc__error_set(MC_EAUTH, "%s printed a NUL octet in its first line", c->setting);
    if (!(*secret = mc__strndup(out, n)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    return 0;
}

static int status_error(const mc__command *c, int st)
{
    if (WIFSIGNALED(st))
        return mc__error_set(MC_EAUTH, "%s was killed by signal %d", c->setting, WTERMSIG(st));
    /* the shell's own codes for a command it could not run */
    return mc__error_set(MC_EAUTH, "%s failed (exit status %d%s)", c->setting, WEXITSTATUS(st),
                         WEXITSTATUS(st) == 127   ? ": command not found"
                         : WEXITSTATUS(st) == 126 ? ": not executable"
                                                  : "");
}

int mc__command_run(const mc__command *c, char **secret)
{
    char out[MC__COMMAND_MAX_OUTPUT + 1];
    int fds[2], st, rc, err;
    size_t len = 0;
    pid_t pid;
    out_end end;
    int64_t deadline = mc__mono_ms() + c->timeout_ms;
    *secret = NULL;
    if (pipe2(fds, O_CLOEXEC))
        return mc__error_set(MC_EIO, "%s: cannot create a pipe: %s", c->setting, strerror(errno));
    fds[0] = above_stdio(fds[0]);
    fds[1] = above_stdio(fds[1]);
    if (fds[0] < 0 || fds[1] < 0) {
        rc = mc__error_set(MC_EIO, "%s: cannot create a pipe: %s", c->setting, strerror(errno));
        goto close_fds;
    }
    if ((rc = spawn(c, fds[1], &pid)))
        goto close_fds;
    close(fds[1]);
    fds[1] = -1;
    end = collect(fds[0], out, sizeof(out), &len, deadline);
    err = errno;
    st = reap(pid, deadline, end != OUT_EOF);
    if (end == OUT_TIMEOUT || (end == OUT_EOF && st == -2))
        rc = mc__error_set(MC_EAUTH, "%s did not finish within %d ms (command_timeout): killed", c->setting,
                           c->timeout_ms);
    else if (end == OUT_TOO_MUCH)
        rc = mc__error_set(MC_EAUTH, "%s printed more than %d octets: killed", c->setting,
                           MC__COMMAND_MAX_OUTPUT);
    else if (end == OUT_ERROR)
        rc = mc__error_set(MC_EIO, "%s: cannot read its output: %s", c->setting, strerror(err));
    else if (st >= 0 && (!WIFEXITED(st) || WEXITSTATUS(st)))
        rc = status_error(c, st);
    else
        rc = first_line(c, out, len, secret);
    wipe(out, len);
close_fds:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    return rc;
}

int mc__command_token_cb(char **token, void *user_data) { return mc__command_run(user_data, token); }

int mc__token_get(mc_token_cb cb, void *user_data, char **token)
{
    int rc;
    *token = NULL;
    rc = cb(token, user_data);
    if (!rc && *token && **token)
        return 0;
    mc__secret_free(*token);
    *token = NULL;
    if (rc && cb == mc__command_token_cb)
        return rc; /* its text names the setting and what went wrong */
    return mc__error_set(MC_EAUTH, "the token callback gave no token (%d)", rc);
}
