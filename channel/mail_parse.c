/* mail_parse.c - classifies a raw mail: not ours, malformed, invalid,
 * expired, or a message for a channel. libetpan parses headers and MIME. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <libetpan/libetpan.h>
#include "internal.h"

#define DEFAULT_MAX 65536
#define MAX_MIME_DEPTH 8
#define STR_(x) #x
#define STR(x) STR_(x)

const char *mc_mail_class_name(mc_mail_class k)
{
    switch (k) {
    case MC_MAIL_OK:
        return "ok";
    case MC_MAIL_NOT_OURS:
        return "not-ours";
    case MC_MAIL_MALFORMED:
        return "malformed";
    case MC_MAIL_INVALID:
        return "invalid";
    case MC_MAIL_EXPIRED:
        return "expired";
    }
    return "unknown";
}

void mc_mail_info_free(mc_mail_info *i)
{
    if (!i)
        return;
    free(i->reason);
    free(i->channel);
    free(i->from);
    free(i->mail_message_id);
    free(i->in_reply_to);
    mc_message_free(i->message);
    free(i);
}

static char *bracketed(const char *core)
{
    mc__buf b;
    mc__buf_init(&b);
    mc__buf_printf(&b, "<%s>", core);
    return mc__buf_detach(&b, NULL);
}

/* Pulls Subject, From, Message-ID and In-Reply-To out of the header fields. */
static int read_headers(mc_mail_info *info, struct mailimf_fields *fields, const char **subject,
                        size_t *subject_len)
{
    clistiter *it;
    for (it = clist_begin(fields->fld_list); it; it = clist_next(it)) {
        struct mailimf_field *f = clist_content(it);
        switch (f->fld_type) {
        case MAILIMF_FIELD_SUBJECT:
            if (!*subject && f->fld_data.fld_subject->sbj_value) {
                *subject = f->fld_data.fld_subject->sbj_value;
                *subject_len = strlen(*subject);
            }
            break;
        case MAILIMF_FIELD_FROM: {
            struct mailimf_mailbox_list *l = f->fld_data.fld_from->frm_mb_list;
            if (!info->from && l && clist_begin(l->mb_list)) {
                struct mailimf_mailbox *mb = clist_content(clist_begin(l->mb_list));
                if (mb->mb_addr_spec && !(info->from = mc__strdup(mb->mb_addr_spec)))
                    return MC_ENOMEM;
            }
            break;
        }
        case MAILIMF_FIELD_MESSAGE_ID:
            if (!info->mail_message_id && f->fld_data.fld_message_id->mid_value &&
                !(info->mail_message_id = bracketed(f->fld_data.fld_message_id->mid_value)))
                return MC_ENOMEM;
            break;
        case MAILIMF_FIELD_IN_REPLY_TO: {
            clist *l = f->fld_data.fld_in_reply_to->mid_list;
            if (!info->in_reply_to && l && clist_begin(l) &&
                !(info->in_reply_to = bracketed(clist_content(clist_begin(l)))))
                return MC_ENOMEM;
            break;
        }
        default:
            break;
        }
    }
    return 0;
}

static bool is_soap_part(struct mailmime *m)
{
    struct mailmime_content *c = m->mm_content_type;
    struct mailmime_type *t;
    if (!c || !(t = c->ct_type) || t->tp_type != MAILMIME_TYPE_DISCRETE_TYPE || !c->ct_subtype)
        return false;
    switch (t->tp_data.tp_discrete_type->dt_type) {
    case MAILMIME_DISCRETE_TYPE_APPLICATION:
        return !strcasecmp(c->ct_subtype, "soap+xml") || !strcasecmp(c->ct_subtype, "xml");
    case MAILMIME_DISCRETE_TYPE_TEXT:
        return !strcasecmp(c->ct_subtype, "xml");
    default:
        return false;
    }
}

/* The first SOAP part: the body itself, or a part of a multipart body. */
static struct mailmime *find_soap_part(struct mailmime *m, int depth)
{
    clistiter *it;
    if (!m || depth > MAX_MIME_DEPTH)
        return NULL;
    switch (m->mm_type) {
    case MAILMIME_SINGLE:
        return is_soap_part(m) ? m : NULL;
    case MAILMIME_MULTIPLE:
        for (it = clist_begin(m->mm_data.mm_multipart.mm_mp_list); it; it = clist_next(it)) {
            struct mailmime *found = find_soap_part(clist_content(it), depth + 1);
            if (found)
                return found;
        }
        return NULL;
    case MAILMIME_MESSAGE:
        return depth == 0 ? find_soap_part(m->mm_data.mm_message.mm_msg_mime, depth + 1) : NULL;
    }
    return NULL;
}

/* True if s starts with the lower-case word w, in any case. */
static bool starts_ci(const char *s, const char *end, const char *w)
{
    for (; *w; s++, w++)
        if (s >= end || (*s | 0x20) != *w)
            return false;
    return true;
}

/* The Content-Type fields that declare a container (multipart/..., or
 * message/rfc822), counted in one pass over the raw mail: a bound on how
 * deep libetpan would go, since every level needs one (a multipart/digest
 * part without a header is message/rfc822 by default: one level more per
 * digest). libetpan parses each level whole, looking for its boundary
 * through everything inside, so nesting costs depth x size (0.1 - 0.2 s at 160
 * KiB), and its recursion uses the stack. A field starts at "Content-Type"
 * anywhere in a line (a part's header may start right after a boundary
 * that is a prefix of its line) and runs to the end of its last folded
 * continuation line; any "multipart" or "rfc822" in it counts. Bodies in
 * base64 never match ('-' is not in its alphabet); other text can only
 * raise the count. */
static size_t mime_containers(const char *s, size_t len)
{
    const char *p, *end = s + len;
    size_t n = 0;
    bool in_field = false;
    for (p = s; p < end; p++) {
        char c = (char)(*p | 0x20);
        if (*p == '\n') {
            if (p + 1 < end && p[1] != ' ' && p[1] != '\t')
                in_field = false; /* the next line is not a continuation */
        } else if (c == 'c' && starts_ci(p, end, "content-type")) {
            in_field = true;
            p += 11;
        } else if (in_field && ((c == 'm' && starts_ci(p, end, "multipart")) ||
                                (c == 'r' && starts_ci(p, end, "rfc822")))) {
            n++;
            in_field = false;
        }
    }
    return n;
}

static int fail(mc_mail_info *info, mc_mail_class kind, int code, const char *fmt, const char *arg)
{
    mc__buf b;
    info->kind = kind;
    info->error = code;
    mc__buf_init(&b);
    mc__buf_printf(&b, fmt, arg ? arg : "");
    info->reason = mc__buf_detach(&b, NULL);
    return info->reason ? 0 : MC_ENOMEM;
}

typedef struct {
    mc__envelope_filter *filter;
    const char *mail_id;
} filter_use;

/* Removes message security (when a filter is set), then parses. */
static int parse_envelope(mc_mail_info *info, const char *env, size_t len, size_t max, const filter_use *f)
{
    char *plain = NULL, *subject = NULL;
    size_t plain_len = 0;
    int r, rc = 0;
    if (f && f->filter) {
        r = f->filter->unsecure(f->filter, env, len, max, f->mail_id, &plain, &plain_len, &subject);
        if (r)
            return r == MC_ENOMEM ? r : fail(info, MC_MAIL_INVALID, MC_ESECURITY, "%s", mc_error_last());
        env = plain;
        len = plain_len;
    }
    r = mc_message_parse(&info->message, env, len, max);
    if (r == MC_ENOMEM)
        rc = MC_ENOMEM;
    else if (r)
        rc = fail(info, MC_MAIL_INVALID, r, "%s", mc_error_last());
    else if (subject && mc_message_set_property(info->message, MC_PROP_SENDER_CERTIFICATE, subject))
        rc = MC_ENOMEM;
    free(plain);
    free(subject);
    return rc;
}

/* Decodes the envelope and parses it into info->message. */
static int read_envelope(mc_mail_info *info, const char *mail, size_t len, size_t max, const filter_use *f)
{
    struct mailmime *mime = NULL, *part;
    struct mailmime_data *d;
    char *decoded = NULL;
    size_t idx = 0, dlen = 0;
    int r, rc = 0;
    if (mime_containers(mail, len) > MC_MAIL_MAX_MIME_CONTAINERS)
        return fail(info, MC_MAIL_INVALID, MC_EPROTO,
                    "the mail declares more than " STR(
                        MC_MAIL_MAX_MIME_CONTAINERS) " multipart or message/rfc822 parts%s",
                    NULL);
    r = mailmime_parse(mail, len, &idx, &mime);
    if (r == MAILIMF_ERROR_MEMORY)
        return MC_ENOMEM;
    if (r != MAILIMF_NO_ERROR)
        return fail(info, MC_MAIL_INVALID, MC_EPROTO, "the mail's MIME structure cannot be parsed%s", NULL);
    part = find_soap_part(mime, 0);
    if (!part || !(d = part->mm_data.mm_single) || d->dt_type != MAILMIME_DATA_TEXT) {
        rc = fail(info, MC_MAIL_INVALID, MC_EPROTO, "the mail has no SOAP envelope part%s", NULL);
        goto done;
    }
    if (d->dt_data.dt_text.dt_length / 4 * 3 > max + max / 2 + 4096) {
        rc =
            fail(info, MC_MAIL_INVALID, MC_ETOOBIG, "the envelope is over max_received_message_size%s", NULL);
        goto done;
    }
    idx = 0;
    r = d->dt_encoded ? mailmime_part_parse(d->dt_data.dt_text.dt_data, d->dt_data.dt_text.dt_length, &idx,
                                            d->dt_encoding, &decoded, &dlen)
                      : MAILIMF_NO_ERROR;
    if (r == MAILIMF_ERROR_MEMORY) {
        rc = MC_ENOMEM;
        goto done;
    }
    if (r != MAILIMF_NO_ERROR) {
        rc = fail(info, MC_MAIL_INVALID, MC_EPROTO, "the envelope's transfer encoding is corrupt%s", NULL);
        goto done;
    }
    rc = parse_envelope(info, decoded ? decoded : d->dt_data.dt_text.dt_data,
                        decoded ? dlen : d->dt_data.dt_text.dt_length, max, f);
done:
    if (decoded)
        mailmime_decoded_part_free(decoded);
    mailmime_free(mime);
    return rc;
}

static int set_properties(mc_mail_info *info, int64_t now)
{
    char when[32];
    mc_message *m = info->message;
    mc__format_rfc3339(now, when);
    if ((info->from && mc_message_set_property(m, MC_PROP_FROM_EMAIL, info->from)) ||
        (info->mail_message_id &&
         mc_message_set_property(m, MC_PROP_MAIL_MESSAGE_ID, info->mail_message_id)) ||
        mc_message_set_property(m, MC_PROP_RECEIVED_TIME, when) ||
        mc_message_set_property(m, MC_PROP_CHANNEL, info->channel))
        return MC_ENOMEM;
    return info->expiry ? mc_message_set_expiry(m, info->expiry) : 0;
}

static int classify(mc_mail_info *info, const char *mail, size_t len, size_t max, int64_t now,
                    const filter_use *f)
{
    struct mailimf_fields *fields = NULL;
    const char *subject = NULL;
    size_t idx = 0, subject_len = 0;
    int r, rc;
    r = mailimf_fields_parse(mail, len, &idx, &fields);
    if (r == MAILIMF_ERROR_MEMORY)
        return MC_ENOMEM;
    if (r != MAILIMF_NO_ERROR) {
        info->kind = MC_MAIL_NOT_OURS; /* no readable header: no stamp to act on */
        return 0;
    }
    rc = read_headers(info, fields, &subject, &subject_len);
    if (rc)
        goto done;
    if (!subject) {
        info->kind = MC_MAIL_NOT_OURS;
        goto done;
    }
    r = mc_subject_parse(&info->channel, &info->expiry, subject, subject_len);
    if (r == MC_ENOTFOUND) {
        info->kind = MC_MAIL_NOT_OURS;
    } else if (r == MC_ENOMEM) {
        rc = r;
    } else if (r) {
        rc = fail(info, MC_MAIL_MALFORMED, r, "%s", mc_error_last());
    } else if (info->expiry && info->expiry <= now) {
        info->kind = MC_MAIL_EXPIRED;
        rc = fail(info, MC_MAIL_EXPIRED, 0, "the message expired (ttl in the past)%s", NULL);
    } else if (!(rc = read_envelope(info, mail, len, max, f)) && info->message) {
        info->kind = MC_MAIL_OK;
        rc = set_properties(info, now);
    }
done:
    mailimf_fields_free(fields);
    return rc;
}

int mc__mail_classify_filtered(mc_mail_info **out, const char *mail, size_t len, size_t max, int64_t now,
                               mc__envelope_filter *filter, const char *mail_id)
{
    mc_mail_info *info;
    filter_use f = {filter, mail_id};
    int rc;
    if (!out || !mail)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if (!(info = calloc(1, sizeof(*info))))
        return mc__error_set(MC_ENOMEM, "out of memory");
    rc = classify(info, mail, len, max ? max : DEFAULT_MAX, now ? now : (int64_t)time(NULL), &f);
    if (rc) {
        mc_mail_info_free(info);
        return mc__error_set(MC_ENOMEM, "out of memory while reading a mail");
    }
    *out = info;
    return 0;
}

int mc_mail_classify(mc_mail_info **out, const char *mail, size_t len, size_t max, int64_t now)
{
    return mc__mail_classify_filtered(out, mail, len, max, now, NULL, NULL);
}

bool mc__mail_stamped(const char *headers, size_t len)
{
    mc_mail_info *info = NULL;
    bool stamped;
    if (!headers || mc_mail_classify(&info, headers, len, 1, 0))
        return false;
    stamped = info->kind != MC_MAIL_NOT_OURS;
    mc_mail_info_free(info);
    return stamped;
}
