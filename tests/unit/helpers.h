/* helpers.h - shared test utilities. */
#ifndef MC_TEST_HELPERS_H
#define MC_TEST_HELPERS_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <mailchan.h>

/* a fresh temporary directory (freed with rm_rf) */
char *make_tmpdir(void);
void rm_rf(const char *path);
/* number of regular files in dir (0 if missing) */
int count_files(const char *dir);
/* writes a raw mail into <root>/<addr>/<folder>/new as an MTA would */
void deliver_raw(const char *root, const char *addr, const char *folder, const char *mail);
/* a maildir transport for addr under root, with optional extra settings "k=v" (NULL-terminated) */
mc_transport *maildir_transport(const char *root, const char *addr, ...);
/* sets each "name=value" of a NULL-ended list (failing the test on an error) */
void binding_set_pairs(mc_binding *b, va_list ap);
/* path helper: <root>/<addr>/<sub> in a static buffer per call slot */
const char *mbox_path(char *buf, size_t cap, const char *root, const char *addr, const char *sub);
/* a listener on uri and its input channel (fails the test on error) */
void open_in(mc_transport *t, const char *uri, mc_channel_listener **l, mc_input_channel **in);
/* the text body of the next message (fails the test on timeout); the caller frees it */
char *receive_text(mc_input_channel *in, int timeout_ms);
/* what a send_async completion reported: on_sent records it and posts done */
#include <semaphore.h>
typedef struct {
    int calls, status;
    char message[256];
    sem_t done;
} completion;
void on_sent(int status, const char *message, void *ud);
#endif
