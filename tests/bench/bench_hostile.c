/* bench_hostile - the parse time of each hostile input of
 * hostile_inputs.h at the default max_received_message_size (65536): the
 * envelope at the limit, a raw mail at the largest size that is read whole
 * (1.5 x limit + 64 KiB), a subject at 64 KiB. Prints one line per input:
 * milliseconds per parse (the best of several runs, in this thread's CPU
 * time and in wall time) and the outcome.
 * usage: bench_hostile [limit]        (the envelope size; default 65536)
 *        bench_hostile --seeds DIR    (writes fuzz seeds, see tests/corpus) */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <mailchan.h>
#define BENCH_NAME "bench_hostile"
#include "bench_util.h"
#include "hostile_inputs.h"

#ifndef MC_MAIL_MAX_MIME_CONTAINERS /* so that it builds against older versions too */
#define MC_MAIL_MAX_MIME_CONTAINERS 16
#endif

enum kind { ENVELOPE, MAIL, SUBJECT };

typedef struct {
    const char *name;
    enum kind kind;
    char *data;
    size_t len;
} input;

/* one parse; writes a short outcome */
static void parse_once(const input *in, size_t limit, char *outcome, size_t cap)
{
    if (in->kind == ENVELOPE) {
        mc_message *m = NULL;
        int rc = mc_message_parse(&m, in->data, in->len, limit);
        snprintf(outcome, cap, "%s", rc ? mc_error_last() : "accepted");
        mc_message_free(m);
    } else if (in->kind == SUBJECT) {
        char *ch = NULL;
        int rc = mc_subject_parse(&ch, NULL, in->data, in->len);
        snprintf(outcome, cap, "%s", rc ? mc_error_last() : "accepted");
        mc_free(ch);
    } else {
        mc_mail_info *info = NULL;
        if (mc_mail_classify(&info, in->data, in->len, limit, 0))
            die("classify");
        snprintf(outcome, cap, "%s%s%s", mc_mail_class_name(info->kind), info->reason ? ": " : "",
                 info->reason ? info->reason : "");
        mc_mail_info_free(info);
    }
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* best wall and CPU time of several runs: this thread's CPU time is what a
 * parse costs, the wall time adds whatever else ran on the machine */
static void measure(const input *in, size_t limit)
{
    char outcome[160];
    double best = 1e9, best_cpu = 1e9, total = 0;
    int runs = 0;
    /* at least 3 runs, more while under half a second in all */
    while (runs < 3 || (total < 0.5 && runs < 200)) {
        double t0 = now(), c0 = cpu_now(), dt, dc;
        parse_once(in, limit, outcome, sizeof(outcome));
        dc = cpu_now() - c0;
        dt = now() - t0;
        total += dt;
        if (dt < best)
            best = dt;
        if (dc < best_cpu)
            best_cpu = dc;
        runs++;
        if (dt > 5)
            break; /* far too slow already: one more run says nothing new */
    }
    printf("%-28s %7zu %9.3f %9.3f   %.80s\n", in->name, in->len, best_cpu * 1e3, best * 1e3, outcome);
    fflush(stdout);
}

static size_t build(input *all, size_t limit)
{
    size_t mail = limit + limit / 2 + 65536, n = 0, elen;
    char *env;
#define ENV(nm, expr) all[n].name = nm, all[n].kind = ENVELOPE, all[n].data = (expr), n++
#define MAIL_(nm, expr) all[n].name = nm, all[n].kind = MAIL, all[n].data = (expr), n++
    ENV("xml-attributes", hi_env_attributes(limit, 0, &all[n].len));
    ENV("xml-ns-declarations", hi_env_ns_declarations(limit, &all[n].len));
    ENV("xml-prefixed-attributes", hi_env_prefixed_attributes(limit, &all[n].len));
    ENV("xml-64-attrs-per-element", hi_env_attributes(limit, 64, &all[n].len));
    ENV("xml-ns-scope-64-per-level", hi_env_ns_scope(limit, 60, 64, &all[n].len));
    ENV("xml-ns-scope-8-per-level", hi_env_ns_scope(limit, 60, 8, &all[n].len));
    ENV("xml-long-element-name", hi_env_long_name(limit, 0, &all[n].len));
    ENV("xml-long-attribute-name", hi_env_long_name(limit, 1, &all[n].len));
    ENV("xml-header-blocks", hi_env_header_blocks(limit, &all[n].len));
    ENV("xml-char-refs", hi_env_char_refs(limit, &all[n].len));
    ENV("xml-worst-accepted", hi_env_worst_accepted(limit, &all[n].len));
    /* envelopes at the limit inside mails: the worst refused one, and the
     * worst accepted one with the header filled with recipients */
    env = hi_env_attributes(limit, 0, &elen);
    all[n].name = "mail-xml-attributes";
    all[n].kind = MAIL;
    all[n].data = hi_mail_with_envelope(env, elen, &all[n].len);
    n++;
    free(env);
    env = hi_env_worst_accepted(limit, &elen);
    all[n].name = "mail-worst-accepted";
    all[n].kind = MAIL;
    all[n].data = hi_mail_with_envelope_and_recipients(env, elen, mail, &all[n].len);
    n++;
    free(env);
    MAIL_("mail-nested-multipart", hi_mail_nested(mail, 10, 0, 100000, &all[n].len));
    MAIL_("mail-nested-multipart-b70", hi_mail_nested(mail, 70, 0, 100000, &all[n].len));
    MAIL_("mail-nested-multipart-b900", hi_mail_nested(mail, 900, 0, 100000, &all[n].len));
    MAIL_("mail-nested-rfc822", hi_mail_nested(mail, 10, 1, 100000, &all[n].len));
    MAIL_("mail-nested-16-multipart-b70",
          hi_mail_nested(mail, 70, 0, MC_MAIL_MAX_MIME_CONTAINERS, &all[n].len));
    MAIL_("mail-nested-16-rfc822", hi_mail_nested(mail, 10, 1, MC_MAIL_MAX_MIME_CONTAINERS, &all[n].len));
    MAIL_("mail-many-parts", hi_mail_many_parts(mail, &all[n].len));
    MAIL_("mail-boundary-lookalikes", hi_mail_boundary_lookalikes(mail, &all[n].len));
    MAIL_("mail-header-lines", hi_mail_header_lines(mail, 0, &all[n].len));
    MAIL_("mail-part-header-lines", hi_mail_header_lines(mail, 1, &all[n].len));
    MAIL_("mail-folded-header", hi_mail_folded_header(mail, &all[n].len));
    MAIL_("mail-content-params", hi_mail_content_params(mail, &all[n].len));
    MAIL_("mail-many-recipients", hi_mail_many_recipients(mail, &all[n].len));
    MAIL_("mail-subject-words", hi_mail_subject_words(mail, &all[n].len));
    all[n].name = "subject-encoded-words";
    all[n].kind = SUBJECT;
    all[n].data = hi_subject_encoded_words(65536, &all[n].len);
    n++;
    all[n].name = "subject-encoded-words-4k";
    all[n].kind = SUBJECT;
    all[n].data = hi_subject_encoded_words(4096, &all[n].len);
    n++;
#undef ENV
#undef MAIL_
    return n;
}

int main(int argc, char **argv)
{
    input all[64];
    size_t limit = 65536, n;
    mc_init();
    if (argc > 1 && strcmp(argv[1], "--seeds") != 0)
        limit = strtoul(argv[1], NULL, 10);
    n = build(all, limit);
    if (argc > 2 && !strcmp(argv[1], "--seeds")) {
        /* every input, as a file named after it, for tests/corpus */
        if (mkdir(argv[2], 0755) && errno != EEXIST)
            die("mkdir");
        for (size_t i = 0; i < n; i++) {
            char path[4096];
            FILE *f;
            snprintf(path, sizeof(path), "%s/%s", argv[2], all[i].name);
            if (!(f = fopen(path, "wb")) || fwrite(all[i].data, 1, all[i].len, f) != all[i].len || fclose(f))
                die("write");
        }
        return 0;
    }
    printf("# limit %zu, mails up to %zu bytes; best of several runs, milliseconds\n", limit,
           limit + limit / 2 + 65536);
    printf("%-28s %7s %9s %9s   %s\n", "input", "bytes", "cpu ms", "wall ms", "outcome");
    fflush(stdout);
    /* each input in a fresh process, so that no run inherits a heap the
     * previous inputs fragmented */
    for (size_t i = 0; i < n; i++) {
        pid_t pid = fork();
        int status;
        if (pid == 0) {
            measure(&all[i], limit);
            _exit(0);
        }
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
            die("child");
    }
    for (size_t i = 0; i < n; i++)
        free(all[i].data);
    return 0;
}
