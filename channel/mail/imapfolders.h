/* imapfolders.h - the IMAP receiver's folders (imapfolders.c): configured
 * names resolved in the server's personal namespace (RFC 2342) and encoded
 * in modified UTF-7 (mutf7.c); the service folder found by LIST; the folder
 * malformed mail goes to, found once per session (RFC 6154 \Trash, the
 * deleted_folder name, well-known names, else CREATE). Used by imap.c under
 * its session lock. */
#ifndef MC_IMAPFOLDERS_H
#define MC_IMAPFOLDERS_H

#include <stdbool.h>
#include <libetpan/libetpan.h>
#include "mailnet.h"

/* the longest folder name handled, in octets, either form */
#define MC__MUTF7_MAX 4096

/* UTF-8 -> modified UTF-7 (RFC 3501 5.1.3). MC_EINVAL for invalid UTF-8 or
 * a name over MC__MUTF7_MAX; MC_ENOMEM. *out is the caller's. */
int mc__mutf7_encode(char **out, const char *utf8);
/* modified UTF-7 -> UTF-8; strict: MC_EINVAL for anything not in canonical
 * form (it then would not encode back to the same octets); MC_ENOMEM. */
int mc__mutf7_decode(char **out, const char *mutf7);

/* imap.c's error mapping for a libetpan result r at a step (it drops a
 * broken session); returns the MC_E* code */
typedef int (*mc__imap_fail)(void *ctx, int r, const char *step);

typedef struct {
    /* the personal namespace, as on the wire ("" and 0 without NAMESPACE) */
    char *prefix;
    char delim;
    bool special_use; /* the server announced SPECIAL-USE */
    /* service_folder and deleted_folder, resolved: as on the wire, and for logs */
    char *service, *service_shown, *deleted;
    /* what the last LIST showed: a folder marked \Trash, and the best
     * existing folder by name (deleted_folder, Trash, Deleted Items,
     * Deleted Messages, in that order) */
    char *listed_trash, *named;
    int named_rank;
    /* this session's trash, looked for once: NULL after looking means none */
    bool looked;
    char *trash, *trash_shown;
    bool warned; /* "no folder for malformed mail" said (once per receiver) */
    /* folders mail is moved to (archive_folder, dead_letter_folder) made
     * sure of in this session: configured name -> wire name */
    mc__strmap targets;
} mc__imap_folders;

/* After login (capabilities known): NAMESPACE where offered, the configured
 * names resolved; forgets the previous session's trash. */
int mc__imap_folders_start(mc__imap_folders *f, mailimap *s, const char *service, const char *deleted,
                           mc__imap_fail fail, void *ctx);
/* LIST "" "*": whether the service folder exists; notes trash candidates. */
int mc__imap_folders_list(mc__imap_folders *f, mailimap *s, bool *service_exists, mc__imap_fail fail,
                          void *ctx);
/* The folder malformed mail goes to (*wire for commands, *shown for logs;
 * both borrowed from f until the next session). Looked for once per
 * session; when there is none (nothing found and CREATE refused) the
 * warning is logged once per receiver and every call fails with MC_EPROTO
 * without asking the server again. */
int mc__imap_folders_trash(mc__imap_folders *f, mailimap *s, const char **wire, const char **shown,
                           mc__imap_fail fail, void *ctx);
/* A folder mail is moved to (after_receive = move, dead_letter_folder):
 * the configured name resolved in the personal namespace; LIST shows
 * whether it exists, CREATE makes it when not - once per session and name.
 * *wire is borrowed from f until the next session. MC_EINVAL for a name
 * with IMAP wildcards; MC_EPROTO when the server refuses to create it. */
int mc__imap_folders_target(mc__imap_folders *f, mailimap *s, const char *name, const char **wire,
                            mc__imap_fail fail, void *ctx);
void mc__imap_folders_free(mc__imap_folders *f);

/* A configured name (UTF-8) as the server names it: INBOX stays INBOX; "/"
 * separates levels (made the server's delimiter); the namespace prefix is
 * put in front unless the name has it; then modified UTF-7. */
int mc__imap_folder_resolve(char **out, const char *prefix, char delim, const char *name);
/* A name from the server for a log line: decoded, or printable as it is. */
char *mc__imap_folder_shown(const char *wire);

#endif
