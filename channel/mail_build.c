/* mail_build.c - frames a message as one mail (docs/wire-format.md sections 2-4),
 * building the MIME structure with libetpan and letting it encode. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libetpan/libetpan.h>
#include "internal.h"

static const char people_text[] =
    "This mail carries a SOAP message for the net.mail channel named in its subject.\r\n"
    "It is meant for a program; the message is in the attachment message.xml.\r\n";

/* strips one pair of angle brackets */
static char *msgid_core(const char *id)
{
    size_t n = strlen(id);
    if (n >= 2 && id[0] == '<' && id[n - 1] == '>')
        return mc__strndup(id + 1, n - 2);
    return mc__strdup(id);
}

int mc_mail_frame_options_init(mc_mail_frame_options *opts, unsigned int version)
{
    const mc_mail_frame_options init = MC_MAIL_FRAME_OPTIONS_INIT;
    /* one version so far: when one is added, copy only the caller's
     * version's fields, as mc_transport_stats_init() does */
    if (!opts || version < 1 || version > MC_MAIL_FRAME_OPTIONS_VERSION)
        return mc__error_set(MC_EINVAL, "mail frame options version %u is not known", version);
    *opts = init;
    opts->version = version;
    return 0;
}

static int check_options(const mc_mail_frame_options *o)
{
    int rc;
    if (!o || o->version < 1 || o->version > MC_MAIL_FRAME_OPTIONS_VERSION)
        return mc__error_set(MC_EINVAL, "mail frame options missing or of an unknown version");
    if ((rc = mc_email_validate(o->from)))
        return mc__error_set(rc, "sender: %s", mc_error_last());
    if (!o->to || !o->to_count)
        return mc__error_set(MC_EINVAL, "a mail needs at least one recipient");
    for (size_t i = 0; i < o->to_count; i++)
        if ((rc = mc_email_validate(o->to[i])))
            return mc__error_set(rc, "recipient: %s", mc_error_last());
    if (o->container > MC_CONTAINER_ATTACHMENT)
        return mc__error_set(MC_EINVAL, "unknown container type");
    return mc_channel_name_validate(o->channel);
}

static struct mailmime_content *soap_content(const mc_message *msg)
{
    struct mailmime_content *c;
    const char *action = mc_message_action(msg);
    bool v11 = mc_message_soap_version(msg) == MC_SOAP11;
    c = mailmime_content_new_with_str(v11 ? "text/xml" : "application/soap+xml");
    if (!c)
        return NULL;
    if (clist_append(c->ct_parameters, mailmime_param_new_with_data((char *)"charset", (char *)"utf-8")) < 0)
        goto fail;
    /* libetpan copies parameter names and values, and quotes values as needed */
    if (!v11 && action &&
        clist_append(c->ct_parameters, mailmime_param_new_with_data((char *)"action", (char *)action)) < 0)
        goto fail;
    return c;
fail:
    mailmime_content_free(c);
    return NULL;
}

static struct mailmime *single_part(struct mailmime_content *content, struct mailmime_fields *fields,
                                    const char *data, size_t len)
{
    struct mailmime *part;
    if (!content || !fields) {
        if (content)
            mailmime_content_free(content);
        if (fields)
            mailmime_fields_free(fields);
        return NULL;
    }
    if (!(part = mailmime_new_empty(content, fields))) {
        mailmime_content_free(content);
        mailmime_fields_free(fields);
        return NULL;
    }
    if (mailmime_set_body_text(part, (char *)data, len) != MAILIMF_NO_ERROR) {
        mailmime_free(part);
        return NULL;
    }
    return part;
}

static struct mailmime *body_mime(const mc_message *msg, const char *env, size_t len, bool attach)
{
    struct mailmime *multi, *text, *xml;
    if (!attach)
        return single_part(soap_content(msg), mailmime_fields_new_encoding(MAILMIME_MECHANISM_BASE64), env,
                           len);
    if (!(multi = mailmime_multiple_new("multipart/mixed")))
        return NULL;
    text = single_part(mailmime_content_new_with_str("text/plain"),
                       mailmime_fields_new_encoding(MAILMIME_MECHANISM_7BIT), people_text,
                       sizeof(people_text) - 1);
    if (!text || mailmime_smart_add_part(multi, text) != MAILIMF_NO_ERROR) {
        if (text)
            mailmime_free(text);
        mailmime_free(multi);
        return NULL;
    }
    xml = single_part(soap_content(msg),
                      mailmime_fields_new_filename(MAILMIME_DISPOSITION_TYPE_ATTACHMENT,
                                                   strdup("message.xml"), MAILMIME_MECHANISM_BASE64),
                      env, len);
    if (!xml || mailmime_smart_add_part(multi, xml) != MAILIMF_NO_ERROR) {
        if (xml)
            mailmime_free(xml);
        mailmime_free(multi);
        return NULL;
    }
    return multi;
}

static void free_id_list(clist *l)
{
    if (!l)
        return;
    for (clistiter *it = clist_begin(l); it; it = clist_next(it))
        free(clist_content(it));
    clist_free(l);
}

static struct mailimf_fields *header_fields(const mc_mail_frame_options *o, const char *subject,
                                            const char *mid, const char *channel_header)
{
    struct mailimf_mailbox_list *from = mailimf_mailbox_list_new_empty();
    struct mailimf_address_list *to = mailimf_address_list_new_empty();
    struct mailimf_date_time *date = mailimf_get_date(o->date ? (time_t)o->date : time(NULL));
    struct mailimf_fields *f = NULL;
    clist *irt = NULL, *refs = NULL;
    char *msgid = mc__strdup(mid), *subj = mc__strdup(subject);
    bool ok = from && to && date && msgid && subj;
    ok = ok && mailimf_mailbox_list_add_mb(from, NULL, strdup(o->from)) == MAILIMF_NO_ERROR;
    for (size_t i = 0; ok && i < o->to_count; i++)
        ok = mailimf_address_list_add_mb(to, NULL, strdup(o->to[i])) == MAILIMF_NO_ERROR;
    if (ok && o->in_reply_to) {
        ok = (irt = clist_new()) && (refs = clist_new()) &&
             clist_append(irt, msgid_core(o->in_reply_to)) == 0 &&
             clist_append(refs, msgid_core(o->in_reply_to)) == 0;
    }
    if (ok)
        f = mailimf_fields_new_with_data_all(date, from, NULL, NULL, to, NULL, NULL, msgid, irt, refs, subj);
    if (!f) {
        if (from)
            mailimf_mailbox_list_free(from);
        if (to)
            mailimf_address_list_free(to);
        if (date)
            mailimf_date_time_free(date);
        free_id_list(irt);
        free_id_list(refs);
        free(msgid);
        free(subj);
        return NULL;
    }
    {
        struct mailimf_field *x =
            mailimf_field_new_custom(strdup("X-Net-Mail-Channel"), strdup(channel_header));
        if (!x || mailimf_fields_add(f, x) != MAILIMF_NO_ERROR) {
            if (x)
                mailimf_field_free(x);
            mailimf_fields_free(f);
            return NULL;
        }
    }
    return f;
}

/* The X-Net-Mail-Channel value: the name, or its encoded words when not ASCII. */
static char *channel_header_value(const char *channel)
{
    mc__buf b;
    const char *p;
    for (p = channel; *p; p++)
        if ((unsigned char)*p > 0x7e)
            break;
    if (!*p)
        return mc__strdup(channel);
    mc__buf_init(&b);
    mc__put_encoded_words(&b, channel, strlen(channel));
    return mc__buf_detach(&b, NULL);
}

int mc__mail_frame_envelope(char **out, size_t *len, char **mail_message_id, const mc_message *msg,
                            const char *env, size_t env_len, const mc_mail_frame_options *o)
{
    char *subject = NULL, *chan_hdr = NULL, *mid = NULL, *result = NULL;
    char uuid[37];
    struct mailimf_fields *fields = NULL;
    struct mailmime *message = NULL, *body = NULL;
    MMAPString *s = NULL;
    int rc, col = 0;
    bool attach;
    mc__buf midb;
    if (!out || !len || !msg)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = check_options(o)))
        return rc;
    if ((rc = mc_subject_format(&subject, o->channel, mc_message_expiry(msg))) || (rc = mc__uuid(uuid)))
        goto done;
    mc__buf_init(&midb);
    mc__buf_printf(&midb, "%s@%s", uuid, strrchr(o->from, '@') + 1);
    rc = MC_ENOMEM;
    if (!(mid = mc__buf_detach(&midb, NULL)) || !(chan_hdr = channel_header_value(o->channel)))
        goto nomem;
    attach = o->container == MC_CONTAINER_ATTACHMENT ||
             (o->container == MC_CONTAINER_DEFAULT && env_len > o->minimum_attachment_size);
    if (!(fields = header_fields(o, subject, mid, chan_hdr)) || !(message = mailmime_new_message_data(NULL)))
        goto nomem;
    mailmime_set_imf_fields(message, fields);
    fields = NULL;
    if (!(body = body_mime(msg, env, env_len, attach)))
        goto nomem;
    if (mailmime_smart_add_part(message, body) != MAILIMF_NO_ERROR) {
        mailmime_free(body);
        goto nomem;
    }
    if (!(s = mmap_string_new("")) || mailmime_write_mem(s, &col, message) != MAILIMF_NO_ERROR ||
        !(result = mc__strndup(s->str, s->len)))
        goto nomem;
    *out = result;
    *len = s->len;
    if (mail_message_id) {
        mc__buf b;
        mc__buf_init(&b);
        mc__buf_printf(&b, "<%s>", mid);
        *mail_message_id = mc__buf_detach(&b, NULL);
    }
    rc = 0;
    goto done;
nomem:
    rc = mc__error_set(MC_ENOMEM, "out of memory while framing the mail");
done:
    if (s)
        mmap_string_free(s);
    if (message)
        mailmime_free(message);
    if (fields)
        mailimf_fields_free(fields);
    free(subject);
    free(chan_hdr);
    free(mid);
    return rc;
}

int mc_mail_frame(char **out, size_t *len, char **mail_message_id, const mc_message *msg,
                  const mc_mail_frame_options *o)
{
    char *env = NULL;
    size_t env_len = 0;
    int rc;
    if (!out || !len || !msg)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = check_options(o)) || (rc = mc_message_serialize(&env, &env_len, msg)))
        return rc;
    rc = mc__mail_frame_envelope(out, len, mail_message_id, msg, env, env_len, o);
    free(env);
    return rc;
}
