/* imapfolders.c - the IMAP receiver's folders (see imapfolders.h).
 *
 * Servers such as Courier, and Cyrus without altnamespace, keep a user's
 * folders under "INBOX." (NAMESPACE (("INBOX." ".")) NIL NIL): there
 * "Service E-mail" is "INBOX.Service E-mail", and CREATE of a name outside
 * the namespace is refused. Configured names are therefore resolved in the
 * personal namespace and sent in modified UTF-7 (never as UTF-8: that would
 * need ENABLE UTF8=ACCEPT, and modified UTF-7 works on every server).
 *
 * The trash for malformed mail, looked for once per session: a folder
 * marked \Trash (RFC 6154: in LIST's answer, or asked for with
 * LIST (SPECIAL-USE) where the server announces SPECIAL-USE); else the
 * deleted_folder name; else Trash, Deleted Items, Deleted Messages (each in
 * the namespace) if one exists; only then CREATE of deleted_folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "imapfolders.h"

static const char *const well_known[] = {"Trash", "Deleted Items", "Deleted Messages"};

/* The first cell of a list libetpan returned, which may be NULL. */
static clistiter *first(clist *l) { return l ? clist_begin(l) : NULL; }

char *mc__imap_folder_shown(const char *wire)
{
    char *s = NULL, buf[512];
    if (mc__mutf7_decode(&s, wire) == 0 && mc__utf8_valid(s, strlen(s))) {
        /* decoded text may hold control characters: never into a log as they are */
        bool clean = true;
        for (const unsigned char *p = (const unsigned char *)s; *p && clean; p++)
            clean = *p >= 0x20 && *p != 0x7f;
        if (clean)
            return s;
    }
    free(s);
    mc__printable(buf, sizeof(buf), wire, strlen(wire));
    return mc__strdup(buf);
}

/* whether name starts with the prefix; INBOX is case-insensitive */
static bool has_prefix(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    if (n >= 5 && !strncasecmp(prefix, "INBOX", 5))
        return !strncasecmp(name, prefix, 5) && !strncmp(name + 5, prefix + 5, n - 5);
    return !strncmp(name, prefix, n);
}

int mc__imap_folder_resolve(char **out, const char *prefix, char delim, const char *name)
{
    char *levels = NULL, *enc = NULL;
    mc__buf b;
    int rc;
    if (!strcasecmp(name, "INBOX")) {
        *out = mc__strdup("INBOX");
        return *out ? 0 : mc__error_set(MC_ENOMEM, "out of memory");
    }
    if (!(levels = mc__strdup(name)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    if (delim && delim != '/')
        for (char *p = levels; *p; p++)
            if (*p == '/')
                *p = delim;
    rc = mc__mutf7_encode(&enc, levels);
    free(levels);
    if (rc)
        return rc;
    if (!prefix || !*prefix || has_prefix(enc, prefix)) {
        *out = enc;
        return 0;
    }
    mc__buf_init(&b);
    mc__buf_puts(&b, prefix);
    mc__buf_puts(&b, enc);
    free(enc);
    if (!(*out = mc__buf_detach(&b, NULL)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    return 0;
}

static void forget_session(mc__imap_folders *f)
{
    free(f->listed_trash);
    free(f->named);
    free(f->trash);
    free(f->trash_shown);
    f->listed_trash = f->named = f->trash = f->trash_shown = NULL;
    f->named_rank = 0;
    f->looked = false;
    mc__strmap_free(&f->targets, free);
}

void mc__imap_folders_free(mc__imap_folders *f)
{
    forget_session(f);
    free(f->prefix);
    free(f->service);
    free(f->service_shown);
    free(f->deleted);
    f->prefix = f->service = f->service_shown = f->deleted = NULL;
}

/* NAMESPACE: the first personal namespace. A server's answer is untrusted:
 * a prefix that is too long or not printable is not used. */
static int read_namespace(mc__imap_folders *f, mailimap *s, mc__imap_fail fail, void *ctx)
{
    struct mailimap_namespace_data *ns = NULL;
    struct mailimap_namespace_info *info = NULL;
    int r = mailimap_namespace(s, &ns);
    if (r != MAILIMAP_NO_ERROR) {
        if (r == MAILIMAP_ERROR_EXTENSION || r == MAILIMAP_ERROR_PROTOCOL) {
            mc__log(MC_LOG_INFO, "IMAP NAMESPACE refused; folder names are used as configured");
            return 0;
        }
        return fail(ctx, r, "NAMESPACE");
    }
    if (ns && ns->ns_personal && first(ns->ns_personal->ns_data_list))
        info = clist_content(first(ns->ns_personal->ns_data_list));
    if (info && info->ns_prefix && strlen(info->ns_prefix) < 256) {
        bool printable = true;
        for (const unsigned char *p = (const unsigned char *)info->ns_prefix; *p; p++)
            printable &= *p >= 0x20 && *p < 0x7f;
        if (printable && !(f->prefix = mc__strdup(info->ns_prefix))) {
            mailimap_namespace_data_free(ns);
            return mc__error_set(MC_ENOMEM, "out of memory");
        }
        f->delim = info->ns_delimiter >= 0x20 && info->ns_delimiter < 0x7f ? info->ns_delimiter : 0;
    }
    if (ns)
        mailimap_namespace_data_free(ns);
    return 0;
}

int mc__imap_folders_start(mc__imap_folders *f, mailimap *s, const char *service, const char *deleted,
                           mc__imap_fail fail, void *ctx)
{
    bool warned = f->warned;
    int rc;
    mc__imap_folders_free(f);
    memset(f, 0, sizeof(*f));
    f->warned = warned;
    f->special_use = mailimap_has_extension(s, "SPECIAL-USE") != 0;
    if (mailimap_has_namespace(s) && (rc = read_namespace(f, s, fail, ctx)))
        return rc;
    if ((rc = mc__imap_folder_resolve(&f->service, f->prefix, f->delim, service)) ||
        (rc = mc__imap_folder_resolve(&f->deleted, f->prefix, f->delim, deleted)))
        return rc;
    if (!(f->service_shown = mc__imap_folder_shown(f->service)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    if (f->prefix && *f->prefix)
        mc__log(MC_LOG_DEBUG, "IMAP personal namespace \"%s\" (delimiter '%c'): watching \"%s\"", f->prefix,
                f->delim ? f->delim : ' ', f->service_shown);
    return 0;
}

/* whether a LIST entry carries the \Trash attribute */
static bool marked_trash(const struct mailimap_mailbox_list *mb)
{
    if (!mb->mb_flag)
        return false;
    for (clistiter *it = first(mb->mb_flag->mbf_oflags); it; it = clist_next(it)) {
        struct mailimap_mbx_list_oflag *o = clist_content(it);
        if (o->of_type == MAILIMAP_MBX_LIST_OFLAG_FLAG_EXT && o->of_flag_ext &&
            !strcasecmp(o->of_flag_ext, "Trash"))
            return true;
    }
    return false;
}

/* the rank of a name as a trash by name: 1 deleted_folder, 2.. the
 * well-known names; 0 none */
static int name_rank(const mc__imap_folders *f, const char *name)
{
    if (!strcmp(name, f->deleted))
        return 1;
    for (size_t i = 0; i < MC_ARRAY_SIZE(well_known); i++) {
        char *w = NULL;
        bool same = mc__imap_folder_resolve(&w, f->prefix, f->delim, well_known[i]) == 0 && !strcmp(w, name);
        free(w);
        if (same)
            return (int)i + 2;
    }
    return 0;
}

/* notes what one LIST answer shows */
static int take_list(mc__imap_folders *f, clist *list, bool *service_exists)
{
    for (clistiter *it = first(list); it; it = clist_next(it)) {
        struct mailimap_mailbox_list *mb = clist_content(it);
        int rank;
        if (!mb || !mb->mb_name || strlen(mb->mb_name) > MC__MUTF7_MAX)
            continue;
        if (service_exists && !strcmp(mb->mb_name, f->service))
            *service_exists = true;
        if (marked_trash(mb) && !f->listed_trash && !(f->listed_trash = mc__strdup(mb->mb_name)))
            return mc__error_set(MC_ENOMEM, "out of memory");
        rank = name_rank(f, mb->mb_name);
        if (rank && (!f->named_rank || rank < f->named_rank)) {
            free(f->named);
            if (!(f->named = mc__strdup(mb->mb_name)))
                return mc__error_set(MC_ENOMEM, "out of memory");
            f->named_rank = rank;
        }
    }
    return 0;
}

int mc__imap_folders_list(mc__imap_folders *f, mailimap *s, bool *service_exists, mc__imap_fail fail,
                          void *ctx)
{
    clist *list = NULL;
    int rc, r = mailimap_list(s, "", "*", &list);
    *service_exists = false;
    if (r != MAILIMAP_NO_ERROR) {
        if (list)
            mailimap_list_result_free(list);
        return fail(ctx, r, "LIST");
    }
    free(f->listed_trash);
    free(f->named);
    f->listed_trash = f->named = NULL;
    f->named_rank = 0;
    rc = take_list(f, list, service_exists);
    if (list)
        mailimap_list_result_free(list);
    return rc;
}

/* LIST (SPECIAL-USE) "" "*" (RFC 6154): only the special-use folders, with
 * their attributes. libetpan has no call for LIST's selection options; its
 * custom command sends the line and its parser reads the LIST answers. */
static int ask_special_use(mc__imap_folders *f, mailimap *s, mc__imap_fail fail, void *ctx)
{
    int r = mailimap_custom_command(s, "LIST (SPECIAL-USE) \"\" \"*\"");
    if (r == MAILIMAP_NO_ERROR) {
        clist *list = s->imap_response_info ? s->imap_response_info->rsp_mailbox_list : NULL;
        return take_list(f, list, NULL);
    }
    if (r == MAILIMAP_ERROR_PROTOCOL || r == MAILIMAP_ERROR_CUSTOM_COMMAND)
        return 0; /* refused: the names will do */
    return fail(ctx, r, "LIST (SPECIAL-USE)");
}

static int settle(mc__imap_folders *f, const char *wire, const char **out, const char **shown)
{
    f->looked = true;
    if (!(f->trash = mc__strdup(wire)) || !(f->trash_shown = mc__imap_folder_shown(wire)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    *out = f->trash;
    *shown = f->trash_shown;
    return 0;
}

static int no_trash(mc__imap_folders *f, mailimap *s)
{
    char said[201], *shown = mc__imap_folder_shown(f->deleted);
    const char *t = s->imap_response ? s->imap_response : "";
    mc__printable(said, sizeof(said), t, strlen(t));
    f->looked = true;
    if (!f->warned)
        mc__log(MC_LOG_WARN,
                "IMAP: no folder for malformed mail: the server marks none \\Trash, has none named \"%s\", "
                "Trash, Deleted Items or Deleted Messages, and refused to create \"%s\" (%s); malformed mail "
                "is deleted after receive_retry_count attempts",
                shown ? shown : "", shown ? shown : "", said);
    f->warned = true;
    free(shown);
    return mc__error_set(MC_EPROTO, "the IMAP server has no trash folder");
}

/* whether LIST shows exactly this folder */
static int folder_exists(mailimap *s, const char *wire, bool *exists, mc__imap_fail fail, void *ctx)
{
    clist *list = NULL;
    int r = mailimap_list(s, "", wire, &list);
    *exists = false;
    if (r != MAILIMAP_NO_ERROR) {
        if (list)
            mailimap_list_result_free(list);
        return fail(ctx, r, "LIST");
    }
    for (clistiter *it = first(list); it && !*exists; it = clist_next(it)) {
        struct mailimap_mailbox_list *mb = clist_content(it);
        *exists = mb && mb->mb_name && !strcmp(mb->mb_name, wire);
    }
    if (list)
        mailimap_list_result_free(list);
    return 0;
}

int mc__imap_folders_target(mc__imap_folders *f, mailimap *s, const char *name, const char **wire,
                            mc__imap_fail fail, void *ctx)
{
    char *w = NULL, said[201];
    bool exists = false;
    int r, rc;
    if ((*wire = mc__strmap_get(&f->targets, name, NULL)))
        return 0;
    if (strpbrk(name, "*%"))
        return mc__error_set(MC_EINVAL, "folder name \"%s\" holds an IMAP wildcard", name);
    if ((rc = mc__imap_folder_resolve(&w, f->prefix, f->delim, name)))
        return rc;
    if ((rc = folder_exists(s, w, &exists, fail, ctx)))
        goto done;
    if (!exists) {
        r = mailimap_create(s, w);
        if (r == MAILIMAP_ERROR_CREATE || r == MAILIMAP_ERROR_PROTOCOL) {
            /* another client may have made it meanwhile */
            const char *t = s->imap_response ? s->imap_response : "";
            mc__printable(said, sizeof(said), t, strlen(t));
            if ((rc = folder_exists(s, w, &exists, fail, ctx)))
                goto done;
            if (!exists) {
                rc = mc__error_set(MC_EPROTO, "the IMAP server refused to create folder \"%s\" (%s)", name,
                                   said);
                goto done;
            }
        } else if (r != MAILIMAP_NO_ERROR) {
            rc = fail(ctx, r, "CREATE");
            goto done;
        } else {
            mc__log(MC_LOG_INFO, "IMAP: created folder \"%s\"", name);
        }
    }
    if (mc__strmap_put(&f->targets, name, w)) {
        rc = mc__error_set(MC_ENOMEM, "out of memory");
        goto done;
    }
    *wire = w;
    w = NULL;
done:
    free(w);
    return rc;
}

int mc__imap_folders_trash(mc__imap_folders *f, mailimap *s, const char **wire, const char **shown,
                           mc__imap_fail fail, void *ctx)
{
    int r, rc;
    if (f->looked && !f->trash)
        return mc__error_set(MC_EPROTO, "the IMAP server has no trash folder");
    if (f->looked) {
        *wire = f->trash;
        *shown = f->trash_shown;
        return 0;
    }
    if (!f->listed_trash && f->special_use && (rc = ask_special_use(f, s, fail, ctx)))
        return rc;
    if (f->listed_trash)
        return settle(f, f->listed_trash, wire, shown);
    if (f->named)
        return settle(f, f->named, wire, shown);
    r = mailimap_create(s, f->deleted);
    if (r == MAILIMAP_NO_ERROR)
        return settle(f, f->deleted, wire, shown);
    if (r == MAILIMAP_ERROR_CREATE || r == MAILIMAP_ERROR_PROTOCOL)
        return no_trash(f, s);
    return fail(ctx, r, "CREATE of the folder for malformed mail");
}
