/* address.c - net.mail://<channel>#<addr>[;<addr>...] endpoint addresses. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "internal.h"

#define EMAIL_MAX 254

struct mc_address {
    char *channel;
    char **emails;
    size_t count;
    char *uri;
};

int mc_channel_name_validate(const char *ch)
{
    size_t n;
    if (!ch || !*ch)
        return mc__error_set(MC_EINVAL, "the channel name is empty");
    n = strlen(ch);
    if (n > MC_CHANNEL_NAME_MAX)
        return mc__error_set(MC_EINVAL, "the channel name is longer than %d octets", MC_CHANNEL_NAME_MAX);
    if (!mc__utf8_valid(ch, n))
        return mc__error_set(MC_EINVAL, "the channel name is not valid UTF-8");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)ch[i];
        if (c == '#' || c == '=' || c == ';' || c == ' ' || c == '\t' || c < 0x20 || c == 0x7f)
            return mc__error_set(MC_EINVAL,
                                 "the channel name has a forbidden character at offset %zu "
                                 "('#', '=', ';', white space and control characters are not allowed)",
                                 i);
        /* C1 controls U+0080..U+009F and NO-BREAK SPACE U+00A0 are C2 80..C2 A0 in UTF-8 */
        if (c == 0xc2 && (unsigned char)ch[i + 1] <= 0xa0)
            return mc__error_set(MC_EINVAL, "the channel name has a control or space character");
    }
    return 0;
}

int mc_email_validate(const char *e)
{
    const char *at;
    size_t n;
    if (!e || !*e)
        return mc__error_set(MC_EINVAL, "the e-mail address is empty");
    n = strlen(e);
    if (n > EMAIL_MAX)
        return mc__error_set(MC_EINVAL, "the e-mail address is longer than %d octets", EMAIL_MAX);
    if (!mc__utf8_valid(e, n))
        return mc__error_set(MC_EINVAL, "the e-mail address is not valid UTF-8");
    at = strrchr(e, '@');
    if (!at || at == e || !at[1])
        return mc__error_set(MC_EINVAL, "the e-mail address must be local@domain");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)e[i];
        if (c <= 0x20 || c == 0x7f || strchr("<>()[]\\,;:\"#", c))
            return mc__error_set(MC_EINVAL,
                                 "the e-mail address has a forbidden character at offset %zu "
                                 "(a bare local@domain address is expected)",
                                 i);
        if (c == '@' && e + i != at)
            return mc__error_set(MC_EINVAL, "the e-mail address has more than one '@'");
    }
    if (at[1] == '.' || e[n - 1] == '.' || strstr(at, ".."))
        return mc__error_set(MC_EINVAL, "the e-mail address has a malformed domain");
    return 0;
}

void mc_address_free(mc_address *a)
{
    if (!a)
        return;
    free(a->channel);
    for (size_t i = 0; i < a->count; i++)
        free(a->emails[i]);
    free(a->emails);
    free(a->uri);
    free(a);
}

static int build_uri(mc_address *a)
{
    mc__buf b;
    mc__buf_init(&b);
    mc__buf_printf(&b, MC_ADDRESS_SCHEME "://%s#", a->channel);
    for (size_t i = 0; i < a->count; i++) {
        if (i)
            mc__buf_puts(&b, ";");
        mc__buf_puts(&b, a->emails[i]);
    }
    return (a->uri = mc__buf_detach(&b, NULL)) ? 0 : mc__error_set(MC_ENOMEM, "out of memory");
}

int mc_address_new(mc_address **out, const char *channel, const char *const *emails, size_t count)
{
    mc_address *a;
    int rc;
    if (!out || (count && !emails))
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = mc_channel_name_validate(channel)))
        return rc;
    for (size_t i = 0; i < count; i++)
        if ((rc = mc_email_validate(emails[i])))
            return rc;
    if (!(a = calloc(1, sizeof(*a))) || !(a->channel = mc__strdup(channel)) ||
        (count && !(a->emails = calloc(count, sizeof(char *))))) {
        mc_address_free(a);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    for (; a->count < count; a->count++) {
        if (!(a->emails[a->count] = mc__strdup(emails[a->count]))) {
            mc_address_free(a);
            return mc__error_set(MC_ENOMEM, "out of memory");
        }
    }
    if ((rc = build_uri(a))) {
        mc_address_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

#define MAX_EMAILS 100

int mc_address_parse(mc_address **out, const char *uri)
{
    static const char prefix[] = MC_ADDRESS_SCHEME "://";
    const char *rest, *hash, *p;
    char *channel = NULL, *list = NULL, *emails[MAX_EMAILS];
    size_t count = 0;
    int rc;
    if (!out || !uri)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if (strncasecmp(uri, prefix, sizeof(prefix) - 1))
        return mc__error_set(MC_EINVAL, "the address must start with \"net.mail://\"");
    rest = uri + sizeof(prefix) - 1;
    if (!(hash = strchr(rest, '#')))
        return mc__error_set(MC_EINVAL, "the address has no '#' between channel and e-mail addresses");
    if (!(channel = mc__strndup(rest, (size_t)(hash - rest))) || !(list = mc__strdup(hash + 1))) {
        rc = mc__error_set(MC_ENOMEM, "out of memory");
        goto done;
    }
    for (p = list; *p;) {
        char *semi = strchr(p, ';');
        if (semi)
            *semi = '\0';
        if (!*p) {
            rc = mc__error_set(MC_EINVAL, "the address has an empty e-mail address in its list");
            goto done;
        }
        if (count == MAX_EMAILS) {
            rc = mc__error_set(MC_EINVAL, "the address lists more than %d e-mail addresses", MAX_EMAILS);
            goto done;
        }
        emails[count++] = (char *)p;
        if (!semi)
            break;
        p = semi + 1;
        if (!*p) {
            rc = mc__error_set(MC_EINVAL, "the address ends with ';'");
            goto done;
        }
    }
    rc = mc_address_new(out, channel, (const char *const *)emails, count);
done:
    free(channel);
    free(list);
    return rc;
}

const char *mc_address_channel(const mc_address *a) { return a ? a->channel : NULL; }
size_t mc_address_email_count(const mc_address *a) { return a ? a->count : 0; }
const char *mc_address_email(const mc_address *a, size_t i)
{
    return a && i < a->count ? a->emails[i] : NULL;
}
const char *mc_address_uri(const mc_address *a) { return a ? a->uri : NULL; }
