/* options.c - every binding setting, its default, its parser, its choices:
 * one place. The API (by name), the CLI's --list-settings, configuration
 * files and the library's own reading (by id, into mc__values) all use it. */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "internal.h"
#include "binding/options.h"
#include "channel/mail/mailnet.h"
#include "exchange/ews/ews.h"
#include "security/wss.h"

/* ---- the enumerations: each written once, with the C value it maps to ---- */

/* clang-format off */
#define CH(n, v, note_) {.name = n, .value = v, .note = note_}
#define ALIAS(n, v) {.name = n, .value = v, .alias = true}
#define END {.name = NULL}
/* clang-format on */

static const mc__choice container_types[] = {
    CH("default", MC_CONTAINER_DEFAULT, "body up to minimum_attachment_size"),
    CH("body", MC_CONTAINER_BODY, NULL),
    CH("attachment", MC_CONTAINER_ATTACHMENT, NULL),
    END,
};

static const mc__choice after_receive_modes[] = {
    CH("delete", MC__AFTER_DELETE, "deleted for good, as WCF does"),
    CH("move", MC__AFTER_MOVE, "moved into archive_folder"),
    END,
};

static const mc__choice tls_modes[] = {
    CH("starttls", MC__TLS_STARTTLS, "required"),
    CH("tls", MC__TLS_IMPLICIT, "implicit"),
    CH("none", MC__TLS_NONE, "plain text: only when chosen"),
    END,
};

static const mc__choice auth_mechanisms[] = {
    CH("auto", MC__AUTH_AUTO, "XOAUTH2 with a token callback, else the password"),
    CH("plain", MC__AUTH_PLAIN, NULL),
    CH("login", MC__AUTH_LOGIN, NULL),
    CH("xoauth2", MC__AUTH_XOAUTH2, NULL),
    END,
};

static const mc__choice ews_auths[] = {
    CH("basic", MC__HTTP_BASIC, "username and password over TLS"),
    CH("ntlm", MC__HTTP_NTLM, "Windows integrated: username as DOMAIN\\user"),
    CH("bearer", MC__HTTP_BEARER, "OAuth 2.0 token from the token callback, asked again after a 401"),
    END,
};

static const mc__choice ews_send_modes[] = {
    CH("save_then_send", MC__EWS_SAVE_THEN_SEND, "CreateItem in Drafts, then SendItem: through the Outbox"),
    CH("send_and_save_copy", MC__EWS_SEND_AND_SAVE_COPY, "one CreateItem SendAndSaveCopy"),
    END,
};

static const mc__choice ews_notifies[] = {
    CH("streaming", MC__EWS_NOTIFY_STREAMING,
       "GetStreamingEvents on a connection of its own; pull where missing"),
    CH("pull", MC__EWS_NOTIFY_PULL, "GetEvents every 5 s while waiting"),
    CH("none", MC__EWS_NOTIFY_NONE, "only the query every server_query_interval"),
    END,
};

/* ExchangeVersionType of Microsoft's schema (types.xsd) */
static const mc__choice ews_versions[] = {
    CH("Exchange2007_SP1", 0, NULL), CH("Exchange2010", 1, NULL),
    CH("Exchange2010_SP1", 2, NULL), CH("Exchange2010_SP2", 3, NULL),
    CH("Exchange2013", 4, NULL),     CH("Exchange2013_SP1", 5, NULL),
    CH("Exchange2016", 6, NULL),     END,
};

static const mc__choice smtp_auth_modes[] = {
    CH("auto", MC__SMTP_AUTH_AUTO,
       "authenticate when a password or token is set; a server that offers no AUTH is then an error"),
    CH("none", MC__SMTP_AUTH_NONE,
       "never authenticate to SMTP, even with a password (a relay that trusts the network)"),
    END,
};

static const mc__choice tls_versions[] = {
    CH("1.2", 12, NULL),
    CH("1.3", 13, NULL),
    END,
};

static const mc__choice soap_versions[] = {
    CH("1.2", MC_SOAP12, NULL),
    CH("1.1", MC_SOAP11, NULL),
    ALIAS("12", MC_SOAP12),
    ALIAS("11", MC_SOAP11),
    END,
};

static const mc__choice security_modes[] = {
    CH("none", MC__SECURITY_NONE, NULL),
    CH("message", MC__SECURITY_MESSAGE, "WS-Security X.509 signing and encryption of every message"),
    END,
};

static const mc__choice algorithm_suites[] = {
    CH("Basic256Rsa15", MC__SUITE_BASIC256RSA15, NULL),
    CH("Basic256", MC__SUITE_BASIC256, NULL),
    CH("Basic256Sha256", MC__SUITE_BASIC256SHA256, NULL),
    CH("Basic256Sha256Rsa15", MC__SUITE_BASIC256SHA256RSA15, NULL),
    END,
};

static const mc__choice protection_levels[] = {
    CH("encrypt_and_sign", MC__PROTECT_ENCRYPT_AND_SIGN, "Body encrypted, and required so"),
    CH("sign", MC__PROTECT_SIGN, NULL),
    END,
};

static const mc__choice key_identifiers[] = {
    CH("ski", MC__KEYID_SKI, NULL),
    CH("issuer_serial", MC__KEYID_ISSUER_SERIAL, NULL),
    CH("thumbprint", MC__KEYID_THUMBPRINT, NULL),
    END,
};

/* ---- the table ---- */

#define ALL "*"
#define TR MC_ELEMENT_TRANSPORT
#define EN MC_ELEMENT_ENCODING
#define SE MC_ELEMENT_SECURITY

/* The offset of a field of mc__values, which must have the C type of its
 * setting's type: _Generic without a matching association does not compile. */
#define FIELD(f, ctype) (offsetof(mc__values, f) + 0 * sizeof(_Generic(((mc__values *)0)->f, ctype : 1)))

/* A row sits at its id; its name is its field's name. */
#define ROW(ID, f, el, k, def, ctype, help_, ...) \
    [MC__S_##ID] = {.name = #f,                   \
                    .id_name = #ID,               \
                    .element = el,                \
                    .kinds = k,                   \
                    .default_value = def,         \
                    .help = help_,                \
                    .field = FIELD(f, ctype),     \
                    __VA_ARGS__}
#define STRING(ID, f, el, k, def, help) ROW(ID, f, el, k, def, const char *, help, .type = T_STRING)
#define SECRET(ID, f, el, k, help) ROW(ID, f, el, k, "", const char *, help, .type = T_STRING, .secret = true)
#define ADDRESS(ID, f, el, k, help) ROW(ID, f, el, k, "", const char *, help, .type = T_ADDRESS)
#define HOST(ID, f, el, k, help) ROW(ID, f, el, k, "", const char *, help, .type = T_HOST)
#define SIZE(ID, f, el, k, def, lo, hi, help) \
    ROW(ID, f, el, k, def, size_t, help, .type = T_SIZE, .min = lo, .max = hi)
#define UINT(ID, f, el, k, def, lo, hi, help) \
    ROW(ID, f, el, k, def, unsigned long long, help, .type = T_UINT, .min = lo, .max = hi)
#define BOOL(ID, f, el, k, def, help) ROW(ID, f, el, k, def, bool, help, .type = T_BOOL)
#define CHOICE(ID, f, el, k, def, list, help) \
    ROW(ID, f, el, k, def, int, help, .type = T_CHOICE, .choices = list)

const mc__setting mc__settings[MC__S_COUNT] = {
    ADDRESS(ADDRESS, address, TR, ALL, "this transport's own e-mail address (its mailbox)"),
    SIZE(MAX_RECEIVED_MESSAGE_SIZE, max_received_message_size, TR, ALL, "65536", 1024, 1ULL << 31,
         "largest envelope in bytes that is sent or received; larger mail is invalid"),
    CHOICE(MESSAGE_CONTAINER_TYPE, message_container_type, TR, ALL, "default", container_types,
           "where the envelope goes"),
    SIZE(MINIMUM_ATTACHMENT_SIZE, minimum_attachment_size, TR, ALL, "2048", 0, 1ULL << 31,
         "envelopes larger than this travel as an attachment (container type default)"),
    UINT(SERVER_QUERY_INTERVAL, server_query_interval, TR, ALL, "30000", 10, 86400000,
         "milliseconds from the end of one server query to the start of the next"),
    BOOL(ACCEPT_EXISTING_MESSAGES, accept_existing_messages, TR, ALL, "true",
         "deliver mail that was already in the mailbox when the listener opened"),
    UINT(RECEIVE_RETRY_COUNT, receive_retry_count, TR, ALL, "3", 1, 1000,
         "attempts at reading an invalid mail before it is deleted (or moved to dead_letter_folder)"),
    SIZE(PROCESSING_CACHE_COUNT, processing_cache_count, TR, ALL, "4096", 1, 1ULL << 24,
         "most messages held parsed in the processing cache"),
    SIZE(PROCESSING_CACHE_BYTES, processing_cache_bytes, TR, ALL, "52428800", 65536, 1ULL << 34,
         "most envelope bytes held in the processing cache"),
    STRING(SERVICE_FOLDER, service_folder, TR, ALL, "Service E-mail",
           "folder watched for stamped mail; the Inbox when it does not exist"),
    STRING(DELETED_FOLDER, deleted_folder, TR, ALL, "Deleted Items",
           "folder malformed mail is moved to (IMAP: the \\Trash special-use folder)"),
    CHOICE(AFTER_RECEIVE, after_receive, TR, ALL, "delete", after_receive_modes,
           "what becomes of a received mail (and of a duplicate of one) once the application has it"),
    STRING(ARCHIVE_FOLDER, archive_folder, TR, ALL, "Archive",
           "folder received mail is moved to with after_receive = move (made when missing; Maildir: "
           "a Maildir++ sub-folder, IMAP: in the personal namespace, EWS: under msgfolderroot)"),
    STRING(DEAD_LETTER_FOLDER, dead_letter_folder, TR, ALL, "",
           "folder invalid mail (corrupt SOAP, failed security checks, too big) is moved to after "
           "receive_retry_count attempts, instead of being deleted; empty: deleted"),
    UINT(DELETE_DELAY, delete_delay, TR, ALL, "1000", 0, 3600000,
         "milliseconds after a receive within which received mail is deleted, or moved (after_receive), in "
         "one batch; a crash "
         "redelivers at most this much"),
    UINT(FLUSH_RETRIES, flush_retries, TR, ALL, "3", 0, 20,
         "retries of the synchronous deletion when the last input channel closes"),
    STRING(STATE_PATH, state_path, TR, ALL, "",
           "SQLite file of durable state (outbox, received ids, replay cache); empty: in memory only"),
    BOOL(QUEUED, queued, TR, ALL, "false",
         "send returns once the mail is committed to the outbox (needs state_path); delivered in the "
         "background"),
    UINT(QUEUE_RETRY_INITIAL, queue_retry_initial, TR, ALL, "30000", 10, 86400000,
         "milliseconds before the outbox tries a mail again after a failed attempt (doubling)"),
    UINT(QUEUE_RETRY_MAX, queue_retry_max, TR, ALL, "3600000", 10, 86400000,
         "longest wait in milliseconds between two attempts at a queued mail"),
    UINT(QUEUE_LIFETIME, queue_lifetime, TR, ALL, "432000000", 1000, 31536000000ULL,
         "milliseconds a mail may stay queued before it is dead-lettered (5 days)"),
    SIZE(QUEUE_MAX_BYTES, queue_max_bytes, TR, ALL, "104857600", 65536, 1ULL << 40,
         "most bytes of mail the outbox holds (queued and dead); a send beyond it fails with MC_EFULL"),
    UINT(DEDUP_WINDOW, dedup_window, TR, ALL, "604800000", 60000, 31536000000ULL,
         "milliseconds a received wsa:MessageID is remembered, so a message is delivered once (with "
         "state_path)"),
    UINT(TIME_TO_LIVE, time_to_live, TR, ALL, "0", 0, 315360000,
         "seconds a sent message lives when it has no expiry of its own (WCF TimeToLive; "
         "mc_message_set_expiry wins): framed as \";ttl=\" in the subject, counted from the send, and "
         "deleted unread by a receiver after it; queued mail that expires in the outbox is dead-lettered, "
         "not sent; 0: no expiry"),
    STRING(MAILDIR_ROOT, maildir_root, TR, "maildir", "",
           "directory holding one Maildir per mailbox address"),
    BOOL(MAILDIR_SYNC_DIRECTORIES, maildir_sync_directories, TR, "maildir", "false",
         "also fsync new/ after each rename (survives power loss on any file system; halves throughput)"),
    HOST(SMTP_HOST, smtp_host, TR, "mail", "SMTP submission server (host name or IP address)"),
    UINT(SMTP_PORT, smtp_port, TR, "mail", "0", 0, 65535,
         "SMTP port; 0: 587 for starttls and none, 465 for tls"),
    CHOICE(SMTP_SECURITY, smtp_security, TR, "mail", "starttls", tls_modes,
           "security of the SMTP connection (implicit TLS: port 465)"),
    HOST(IMAP_HOST, imap_host, TR, "mail", "IMAP server (host name or IP address)"),
    UINT(IMAP_PORT, imap_port, TR, "mail", "0", 0, 65535,
         "IMAP port; 0: 143 for starttls and none, 993 for tls"),
    CHOICE(IMAP_SECURITY, imap_security, TR, "mail", "starttls", tls_modes,
           "security of the IMAP connection (implicit TLS: port 993)"),
    STRING(USERNAME, username, TR, "mail exchange", "",
           "login name for SMTP, IMAP and EWS; the address when empty"),
    SECRET(PASSWORD, password, TR, "mail exchange",
           "password for SMTP, IMAP and EWS (a secret: never logged or read back)"),
    STRING(PASSWORD_COMMAND, password_command, TR, "mail exchange", "",
           "a command whose first line of output is the password, instead of password (as msmtp's "
           "passwordeval): run by /bin/sh -c with no input, at each SMTP send, IMAP login and the first EWS "
           "request (again after an HTTP 401); exit status not 0, no output, more than 8192 octets or "
           "command_timeout passed fail with MC_EAUTH; the output is a secret, the command is not"),
    STRING(TOKEN_COMMAND, token_command, TR, "mail exchange", "",
           "a command whose first line of output is an OAuth 2.0 bearer token: a built-in token callback "
           "(XOAUTH2 for SMTP and IMAP, ews_auth bearer), run each time a token is needed (each SMTP send, "
           "IMAP login, after an EWS 401); not with mc_binding_set_token_callback"),
    UINT(COMMAND_TIMEOUT, command_timeout, TR, "mail exchange", "30000", 100, 600000,
         "milliseconds password_command and token_command may run before they are killed"),
    CHOICE(AUTH_MECHANISM, auth_mechanism, TR, "mail", "auto", auth_mechanisms,
           "how SMTP and IMAP authenticate"),
    CHOICE(SMTP_AUTH, smtp_auth, TR, "mail", "auto", smtp_auth_modes,
           "whether SMTP authenticates (IMAP always logs in)"),
    STRING(TLS_CA_FILE, tls_ca_file, TR, "mail exchange", "",
           "PEM file of trusted CA certificates; the system's when empty"),
    STRING(TLS_CA_PATH, tls_ca_path, TR, "mail exchange", "",
           "directory of hashed CA certificates; the system's when empty"),
    BOOL(TLS_VERIFY, tls_verify, TR, "mail exchange", "true",
         "verify the servers' certificates and host names (turn off only for tests)"),
    CHOICE(TLS_MIN_VERSION, tls_min_version, TR, "mail exchange", "1.2", tls_versions,
           "lowest TLS version accepted for SMTP, IMAP and EWS (older servers fail before any credential)"),
    UINT(TIMEOUT, timeout, TR, "mail exchange", "30000", 100, 3600000,
         "milliseconds to connect and for each server reply"),
    BOOL(IMAP_IDLE, imap_idle, TR, "mail", "true",
         "learn of new mail by IMAP IDLE when the server offers it"),
    BOOL(
        IMAP_SEARCH_STAMP, imap_search_stamp, TR, "mail", "true",
        "list only mail whose Subject has the stamp or that has an X-Net-Mail-Channel header, by a "
        "server-side SEARCH (false: list every mail and read each Subject; for servers whose SEARCH does not "
        "decode RFC 2047)"),
    UINT(IMAP_IDLE_INTERVAL, imap_idle_interval, TR, "mail", "540000", 1000, 1740000,
         "milliseconds after which IDLE is re-issued (servers drop it after 30 min; NATs sooner)"),
    STRING(EWS_URL, ews_url, TR, "exchange", "",
           "the EWS endpoint, https://server/EWS/Exchange.asmx (https only)"),
    CHOICE(EWS_AUTH, ews_auth, TR, "exchange", "basic", ews_auths, "how EWS requests authenticate"),
    ADDRESS(EWS_IMPERSONATE, ews_impersonate, TR, "exchange",
            "act as this mailbox (ExchangeImpersonation and X-AnchorMailbox); the account needs the "
            "ApplicationImpersonation role"),
    CHOICE(EWS_SEND_MODE, ews_send_mode, TR, "exchange", "save_then_send", ews_send_modes,
           "how mail is sent"),
    CHOICE(EWS_SERVER_VERSION, ews_server_version, TR, "exchange", "Exchange2013_SP1", ews_versions,
           "RequestServerVersion of every request"),
    CHOICE(EWS_NOTIFICATIONS, ews_notifications, TR, "exchange", "streaming", ews_notifies,
           "how new mail is learnt of between queries"),
    CHOICE(SOAP_VERSION, soap_version, EN, ALL, "1.2", soap_versions, "SOAP version of the text encoder"),
    CHOICE(SECURITY_MODE, security_mode, SE, ALL, "none", security_modes, "message security"),
    CHOICE(ALGORITHM_SUITE, algorithm_suite, SE, ALL, "Basic256Rsa15", algorithm_suites,
           "WS-Security algorithm suite, sent and required"),
    CHOICE(PROTECTION_LEVEL, protection_level, SE, ALL, "encrypt_and_sign", protection_levels,
           "what message security protects"),
    BOOL(ENCRYPT_SIGNATURE, encrypt_signature, SE, ALL, "true",
         "encrypt the Signature too, as WCF's default protection order does"),
    STRING(CERTIFICATE, certificate, SE, ALL, "",
           "own certificate: PEM file (key in private_key) or PKCS#12 file holding the key"),
    STRING(PRIVATE_KEY, private_key, SE, ALL, "", "own private key: PEM file (may be encrypted)"),
    SECRET(PRIVATE_KEY_PASSWORD, private_key_password, SE, ALL,
           "password of private_key or the PKCS#12 file (a secret: never logged or read back)"),
    STRING(
        RECIPIENT_CERTIFICATE, recipient_certificate, SE, ALL, "",
        "recipients' certificates: a PEM file of one or more, or a directory of .pem/.crt files; chosen by "
        "the e-mail address in the certificate, or the only one"),
    CHOICE(RECIPIENT_KEY_IDENTIFIER, recipient_key_identifier, SE, ALL, "ski", key_identifiers,
           "how the EncryptedKey names the recipient's certificate"),
    STRING(SECURITY_CA_FILE, security_ca_file, SE, ALL, "",
           "PEM file of the CAs trusted to issue senders' certificates"),
    STRING(SECURITY_CA_PATH, security_ca_path, SE, ALL, "",
           "directory of hashed CA certificates trusted for senders"),
    UINT(TIMESTAMP_VALIDITY, timestamp_validity, SE, ALL, "86400000", 1000, 2592000000ULL,
         "milliseconds a sent message's Timestamp stays valid"),
    UINT(MAX_CLOCK_SKEW, max_clock_skew, SE, ALL, "300000", 0, 86400000,
         "milliseconds of clock difference tolerated in Timestamps"),
    BOOL(REPLAY_DETECTION, replay_detection, SE, ALL, "true",
         "refuse a signature seen before within the replay window"),
    UINT(REPLAY_WINDOW, replay_window, SE, ALL, "86400000", 1000, 2592000000ULL,
         "milliseconds a signature is remembered; older messages are refused"),
    SIZE(REPLAY_CACHE_SIZE, replay_cache_size, SE, ALL, "100000", 16, 1ULL << 26,
         "most signatures remembered"),
    BOOL(REQUIRE_SIGNED_ADDRESSING, require_signed_addressing, SE, ALL, "true",
         "WS-Addressing headers (To, Action, ReplyTo...) must be signed"),
};
/* a row too many does not compile (the array's size); a missing one is a
 * hole that mc__settings_ready() reports */
_Static_assert(sizeof(mc__settings) / sizeof(mc__settings[0]) == MC__S_COUNT, "one row per mc__setting_id");

/* ---- choices ---- */

const char *mc__setting_choice_name(mc__setting_id id, int value)
{
    if (id < 0 || id >= MC__S_COUNT || mc__settings[id].type != T_CHOICE)
        return NULL;
    for (const mc__choice *c = mc__settings[id].choices; c->name; c++)
        if (c->value == value && !c->alias)
            return c->name;
    return NULL;
}

static const mc__choice *choice_find(const mc__choice *list, const char *name)
{
    for (const mc__choice *c = list; c && c->name; c++)
        if (!strcmp(c->name, name))
            return c;
    return NULL;
}

/* the listed (non-alias) choice of a value: the one stored for its aliases */
static const mc__choice *choice_canonical(const mc__choice *list, int value)
{
    for (const mc__choice *c = list; c && c->name; c++)
        if (!c->alias && c->value == value)
            return c;
    return NULL;
}

/* the listed choices joined by sep (last_sep before the last), with their notes if asked */
static void choices_text(const mc__choice *list, const char *sep, const char *last_sep, bool notes,
                         mc__buf *out)
{
    size_t n = 0, k = 0;
    for (const mc__choice *c = list; c->name; c++)
        n += !c->alias;
    for (const mc__choice *c = list; c->name; c++) {
        if (c->alias)
            continue;
        if (k++)
            mc__buf_puts(out, k == n ? last_sep : sep);
        mc__buf_puts(out, c->name);
        if (notes && c->note)
            mc__buf_printf(out, " (%s)", c->note);
    }
}

/* ---- looking up and parsing ---- */

mc__setting_id mc__setting_find(const char *name)
{
    for (int i = 0; name && i < MC__S_COUNT; i++)
        if (!strcmp(mc__settings[i].name, name))
            return (mc__setting_id)i;
    return MC__S_NONE;
}

bool mc__setting_applies(const mc__setting *s, const char *kind)
{
    size_t n = kind ? strlen(kind) : 0;
    if (!s->kinds || !n)
        return false;
    if (!strcmp(s->kinds, ALL))
        return true;
    for (const char *p = s->kinds; *p;) {
        size_t w = strcspn(p, " ");
        if (w == n && !strncmp(p, kind, n))
            return true;
        p += w;
        p += strspn(p, " ");
    }
    return false;
}

static int parse_number(const mc__setting *s, const char *v, char *buf, size_t cap)
{
    char *end;
    unsigned long long n;
    if (*v < '0' || *v > '9')
        return mc__error_set(MC_EINVAL, "%s: \"%.40s\" is not a number", s->name, v);
    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno || *end)
        return mc__error_set(MC_EINVAL, "%s: \"%.40s\" is not a number", s->name, v);
    if (n < s->min || n > s->max)
        return mc__error_set(MC_EINVAL, "%s: %llu is outside %llu..%llu", s->name, n, s->min, s->max);
    snprintf(buf, cap, "%llu", n);
    return 0;
}

static int parse_choice(const mc__setting *s, const char *v, const char **canon)
{
    const mc__choice *c = choice_find(s->choices, v);
    mc__buf list;
    int rc;
    if (c) {
        *canon = c->alias ? choice_canonical(s->choices, c->value)->name : c->name;
        return 0;
    }
    mc__buf_init(&list);
    choices_text(s->choices, ", ", ", ", false, &list);
    rc = mc__error_set(MC_EINVAL, "%s: \"%.40s\" is not one of: %s", s->name, v, list.data ? list.data : "");
    mc__buf_free(&list);
    return rc;
}

int mc__setting_parse(mc__setting_id id, const char *v, char **out)
{
    const mc__setting *s = &mc__settings[id];
    char buf[32];
    const char *canon = v;
    int rc = 0;
    if (!v)
        return mc__error_set(MC_EINVAL, "%s: no value", s->name);
    switch (s->type) {
    case T_STRING:
    case T_ADDRESS:
        /* never echoes the value: it may be a secret */
        for (const char *p = v; *p; p++)
            if ((unsigned char)*p < 0x20)
                return mc__error_set(MC_EINVAL, "%s: control characters are not allowed", s->name);
        if (s->type == T_ADDRESS && *v && mc_email_validate(v))
            return mc__error_set(MC_EINVAL, "%s: %s", s->name, mc_error_last());
        break;
    case T_HOST:
        for (const char *p = v; *p; p++)
            if ((unsigned char)*p <= 0x20 || strchr("/@?#[]\\", *p))
                return mc__error_set(MC_EINVAL, "%s: \"%.60s\" is not a host name or address", s->name, v);
        break;
    case T_SIZE:
    case T_UINT:
        rc = parse_number(s, v, buf, sizeof(buf));
        canon = buf;
        break;
    case T_BOOL:
        if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1") || !strcasecmp(v, "on"))
            canon = "true";
        else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0") || !strcasecmp(v, "off"))
            canon = "false";
        else
            return mc__error_set(MC_EINVAL, "%s: \"%.40s\" is not true or false", s->name, v);
        break;
    case T_CHOICE:
        rc = parse_choice(s, v, &canon);
        break;
    }
    if (rc)
        return rc;
    if (!(*out = mc__strdup(canon)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    return 0;
}

/* ---- typed reading ---- */

int mc__setting_read(mc__setting_id id, const char *text, mc__values *v)
{
    const mc__setting *s = &mc__settings[id];
    char *field = (char *)v + s->field, *end;
    const mc__choice *c;
    unsigned long long n;
    switch (s->type) {
    case T_STRING:
    case T_ADDRESS:
    case T_HOST:
        *(const char **)field = text;
        return 0;
    case T_SIZE:
    case T_UINT:
        errno = 0;
        n = strtoull(text, &end, 10);
        if (*text < '0' || *text > '9' || errno || *end || n < s->min || n > s->max)
            break;
        if (s->type == T_SIZE)
            *(size_t *)field = (size_t)n;
        else
            *(unsigned long long *)field = n;
        return 0;
    case T_BOOL:
        if (strcmp(text, "true") && strcmp(text, "false"))
            break;
        *(bool *)field = !strcmp(text, "true");
        return 0;
    case T_CHOICE:
        if (!(c = choice_find(s->choices, text)))
            break;
        *(int *)field = c->value;
        return 0;
    }
    /* stored values are canonical, so this is a defect: refuse, never guess */
    return mc__error_set(MC_EINVAL, "%s: the stored value is not valid (internal error)", s->name);
}

unsigned long long mc__values_number(const mc__values *v, mc__setting_id id)
{
    const mc__setting *s = &mc__settings[id];
    const char *field = (const char *)v + s->field;
    assert(s->type == T_SIZE || s->type == T_UINT);
    return s->type == T_SIZE ? *(const size_t *)field : *(const unsigned long long *)field;
}

/* ---- the check, and the public descriptions ---- */

static mc_setting_info infos[MC__S_COUNT];
static char *texts[2 * MC__S_COUNT]; /* composed help and choice lists, kept for the process */
static char table_error[256];
static pthread_once_t ready_once = PTHREAD_ONCE_INIT;

static int check_choices(const mc__setting *s)
{
    if (!s->choices || !s->choices[0].name || s->choices[0].alias)
        return -1;
    for (const mc__choice *c = s->choices; c->name; c++) {
        if (!*c->name || choice_find(s->choices, c->name) != c || !choice_canonical(s->choices, c->value))
            return -1;
        for (const mc__choice *d = c + 1; d->name; d++)
            if (!c->alias && !d->alias && c->value == d->value)
                return -1; /* two listed names for one value */
    }
    return 0;
}

static int check_row(int i)
{
    const mc__setting *s = &mc__settings[i];
    char *canon = NULL;
    int bad;
    if (!s->name || !s->id_name || !s->kinds || !*s->kinds || !s->default_value || !s->help)
        return -1; /* a hole: an id without its row */
    if (strcasecmp(s->name, s->id_name) || s->element > MC_ELEMENT_SECURITY ||
        (s->secret && s->type != T_STRING) || (s->type == T_CHOICE) != (s->choices != NULL) ||
        (s->type == T_CHOICE && check_choices(s)))
        return -1;
    for (int j = 0; j < i; j++)
        if (!strcmp(mc__settings[j].name, s->name))
            return -1;
    /* the default is a canonical value of its own parser */
    bad = mc__setting_parse((mc__setting_id)i, s->default_value, &canon) || strcmp(canon, s->default_value);
    free(canon);
    return bad ? -1 : 0;
}

static void describe(int i)
{
    const mc__setting *s = &mc__settings[i];
    mc__buf help, list;
    if (!s->name) { /* a hole (reported by the check): an empty row rather than NULLs */
        infos[i] = (mc_setting_info){.name = "", .transports = "", .default_value = "", .help = ""};
        return;
    }
    infos[i] = (mc_setting_info){.name = s->name,
                                 .element = s->element,
                                 .transports = s->kinds,
                                 .default_value = s->default_value,
                                 .help = s->help,
                                 .secret = s->secret};
    if (s->type != T_CHOICE || !s->choices)
        return;
    mc__buf_init(&help);
    mc__buf_init(&list);
    mc__buf_printf(&help, "%s: ", s->help);
    choices_text(s->choices, ", ", " or ", true, &help);
    choices_text(s->choices, " ", " ", false, &list);
    texts[2 * i] = mc__buf_detach(&help, NULL);
    texts[2 * i + 1] = mc__buf_detach(&list, NULL);
    if (texts[2 * i])
        infos[i].help = texts[2 * i];
    infos[i].choices = texts[2 * i + 1] ? texts[2 * i + 1] : "";
}

static void make_ready(void)
{
    for (int i = 0; i < MC__S_COUNT; i++) {
        if (!table_error[0] && check_row(i))
            snprintf(table_error, sizeof(table_error), "the settings table is broken at row %d (%s)", i,
                     mc__settings[i].name ? mc__settings[i].name : "missing");
        describe(i);
    }
}

int mc__settings_ready(void)
{
    pthread_once(&ready_once, make_ready);
    return table_error[0] ? mc__error_set(MC_EINVAL, "%s", table_error) : 0;
}

const mc_setting_info *mc_binding_settings(size_t *count)
{
    mc__settings_ready();
    if (count)
        *count = MC__S_COUNT;
    return infos;
}
