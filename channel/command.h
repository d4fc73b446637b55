/* command.h - a secret read from a program's output (command.c): the
 * password_command and token_command settings, in the convention of msmtp's
 * passwordeval and git's credential helpers.
 *
 * The command is run as /bin/sh -c COMMAND (so it may be a pipeline), in a
 * process group of its own, with stdin on /dev/null, stdout on a pipe and
 * stderr inherited (its diagnostics reach the application's stderr), no
 * other descriptor open, and default signal dispositions. The secret is the
 * first line of its stdout, without the line end (LF or CR LF); what follows
 * is read and ignored. Failures, all MC_EAUTH naming the setting and never
 * the output: exit status not 0, killed by a signal, no first line (empty),
 * a NUL octet, more than MC__COMMAND_MAX_OUTPUT octets of output, or still
 * running after the timeout (the whole process group is then killed).
 * MC_EIO when the process cannot be started at all. The child is always
 * reaped, the pipe always closed; every copy of the output is wiped. An
 * application that ignores SIGCHLD, or reaps every child itself, hides the
 * exit status: the output is then taken as it is. */
#ifndef MC_COMMAND_H
#define MC_COMMAND_H

#include "internal.h"

#define MC__COMMAND_MAX_OUTPUT 8192

/* A command that yields a secret. Immutable once made: one may be run from
 * several threads at once (the SMTP sender and the IMAP receiver). */
typedef struct mc__command mc__command;

/* setting: the setting's name, for errors ("password_command"); text: the
 * command line; timeout_ms > 0. MC_ENOMEM. */
int mc__command_new(mc__command **out, const char *setting, const char *text, int timeout_ms);
void mc__command_free(mc__command *c);

/* Runs the command and gives its secret (*secret: malloc'ed, the caller
 * wipes it with mc__secret_free). 0 or an error as above. */
int mc__command_run(const mc__command *c, char **secret);

/* mc__command_run as an mc_token_cb (user_data: the mc__command): the
 * token_command setting is this callback, so it is asked exactly when and
 * where a user's token callback would be. */
int mc__command_token_cb(char **token, void *user_data);

/* Asks a token source for a token: cb(token, user_data), or MC_EAUTH when it
 * fails or gives none. The built-in command callback keeps its own error
 * text (naming the setting); a user's callback is reported by its code. */
int mc__token_get(mc_token_cb cb, void *user_data, char **token);

#endif
