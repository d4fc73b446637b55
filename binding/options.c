/* options.c - every binding setting, its default, its parser: one place. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "internal.h"
#include "binding/options.h"

#define ALL "*"
#define TR MC_ELEMENT_TRANSPORT
#define EN MC_ELEMENT_ENCODING
#define SE MC_ELEMENT_SECURITY

const mc__setting mc__settings[] = {
    {{"address", TR, ALL, "", "this transport's own e-mail address (its mailbox)"}, T_STRING, 0, 0, NULL},
    {{"max_received_message_size", TR, ALL, "65536",
      "largest envelope in bytes that is sent or received; larger mail is invalid"}, T_SIZE, 1024, 1ULL << 31, NULL},
    {{"message_container_type", TR, ALL, "default",
      "where the envelope goes: default (body up to minimum_attachment_size), body, attachment"}, T_CONTAINER, 0, 0, NULL},
    {{"minimum_attachment_size", TR, ALL, "2048",
      "envelopes larger than this travel as an attachment (container type default)"}, T_SIZE, 0, 1ULL << 31, NULL},
    {{"server_query_interval", TR, ALL, "30000",
      "milliseconds from the end of one server query to the start of the next"}, T_UINT, 10, 86400000, NULL},
    {{"accept_existing_messages", TR, ALL, "true",
      "deliver mail that was already in the mailbox when the listener opened"}, T_BOOL, 0, 0, NULL},
    {{"receive_retry_count", TR, ALL, "3",
      "attempts at reading an invalid mail before it is deleted"}, T_UINT, 1, 1000, NULL},
    {{"processing_cache_count", TR, ALL, "4096",
      "most messages held parsed in the processing cache"}, T_SIZE, 1, 1ULL << 24, NULL},
    {{"processing_cache_bytes", TR, ALL, "52428800",
      "most envelope bytes held in the processing cache"}, T_SIZE, 65536, 1ULL << 34, NULL},
    {{"service_folder", TR, ALL, "Service E-mail",
      "folder watched for stamped mail; the Inbox when it does not exist"}, T_STRING, 0, 0, NULL},
    {{"deleted_folder", TR, ALL, "Deleted Items",
      "folder malformed mail is moved to (IMAP: the \\Trash special-use folder)"}, T_STRING, 0, 0, NULL},
    {{"delete_delay", TR, ALL, "1000",
      "milliseconds after a receive within which received mail is deleted (in one batch); a crash redelivers at most this much"},
     T_UINT, 0, 3600000, NULL},
    {{"flush_retries", TR, ALL, "3",
      "retries of the synchronous deletion when the last input channel closes"}, T_UINT, 0, 20, NULL},
    {{"maildir_root", TR, "maildir", "",
      "directory holding one Maildir per mailbox address"}, T_STRING, 0, 0, NULL},
    {{"maildir_sync_directories", TR, "maildir", "false",
      "also fsync new/ after each rename (survives power loss on any file system; halves throughput)"}, T_BOOL, 0, 0, NULL},
    {{"smtp_host", TR, "mail", "", "SMTP submission server (host name or IP address)"}, T_HOST, 0, 0, NULL},
    {{"smtp_port", TR, "mail", "0", "SMTP port; 0: 587 for starttls and none, 465 for tls"}, T_UINT, 0, 65535, NULL},
    {{"smtp_security", TR, "mail", "starttls",
      "starttls (required), tls (implicit, port 465) or none (plain text: only when chosen)"}, T_CHOICE, 0, 0,
     "starttls tls none"},
    {{"imap_host", TR, "mail", "", "IMAP server (host name or IP address)"}, T_HOST, 0, 0, NULL},
    {{"imap_port", TR, "mail", "0", "IMAP port; 0: 143 for starttls and none, 993 for tls"}, T_UINT, 0, 65535, NULL},
    {{"imap_security", TR, "mail", "starttls",
      "starttls (required), tls (implicit, port 993) or none (plain text: only when chosen)"}, T_CHOICE, 0, 0,
     "starttls tls none"},
    {{"username", TR, "mail", "", "login name for SMTP and IMAP; the address when empty"}, T_STRING, 0, 0, NULL},
    {{"password", TR, "mail", "", "password for SMTP and IMAP (a secret: never logged)"}, T_STRING, 0, 0, NULL},
    {{"auth_mechanism", TR, "mail", "auto",
      "auto (XOAUTH2 with a token callback, else the password), plain, login or xoauth2"}, T_CHOICE, 0, 0,
     "auto plain login xoauth2"},
    {{"tls_ca_file", TR, "mail", "", "PEM file of trusted CA certificates; the system's when empty"}, T_STRING, 0, 0, NULL},
    {{"tls_ca_path", TR, "mail", "", "directory of hashed CA certificates; the system's when empty"}, T_STRING, 0, 0, NULL},
    {{"tls_verify", TR, "mail", "true",
      "verify the servers' certificates and host names (turn off only for tests)"}, T_BOOL, 0, 0, NULL},
    {{"tls_min_version", TR, "mail", "1.2",
      "lowest TLS version accepted for SMTP and IMAP: 1.2 or 1.3 (older servers fail before any credential)"},
     T_CHOICE, 0, 0, "1.2 1.3"},
    {{"timeout", TR, "mail", "30000", "milliseconds to connect and for each server reply"}, T_UINT, 100, 3600000, NULL},
    {{"imap_idle", TR, "mail", "true", "learn of new mail by IMAP IDLE when the server offers it"}, T_BOOL, 0, 0, NULL},
    {{"imap_search_stamp", TR, "mail", "true",
      "list only mail whose Subject has the stamp or that has an X-Net-Mail-Channel header, by a server-side "
      "SEARCH (false: list every mail and read each Subject; for servers whose SEARCH does not decode RFC 2047)"},
     T_BOOL, 0, 0, NULL},
    {{"imap_idle_interval", TR, "mail", "540000",
      "milliseconds after which IDLE is re-issued (servers drop it after 30 min; NATs sooner)"}, T_UINT, 1000,
     1740000, NULL},
    {{"soap_version", EN, ALL, "1.2", "SOAP version of the text encoder: 1.2 or 1.1"}, T_SOAP, 0, 0, NULL},
    {{"security_mode", SE, ALL, "none",
      "none, or message: WS-Security X.509 signing and encryption of every message"}, T_CHOICE, 0, 0,
     "none message"},
    {{"algorithm_suite", SE, ALL, "Basic256Rsa15",
      "Basic256Rsa15, Basic256, Basic256Sha256 or Basic256Sha256Rsa15 (sent and required)"}, T_CHOICE, 0, 0,
     "Basic256Rsa15 Basic256 Basic256Sha256 Basic256Sha256Rsa15"},
    {{"protection_level", SE, ALL, "encrypt_and_sign",
      "encrypt_and_sign (Body encrypted, and required so) or sign"}, T_CHOICE, 0, 0, "encrypt_and_sign sign"},
    {{"encrypt_signature", SE, ALL, "true",
      "encrypt the Signature too, as WCF's default protection order does"}, T_BOOL, 0, 0, NULL},
    {{"certificate", SE, ALL, "",
      "own certificate: PEM file (key in private_key) or PKCS#12 file holding the key"}, T_STRING, 0, 0, NULL},
    {{"private_key", SE, ALL, "", "own private key: PEM file (may be encrypted)"}, T_STRING, 0, 0, NULL},
    {{"private_key_password", SE, ALL, "",
      "password of private_key or the PKCS#12 file (a secret: never logged)"}, T_STRING, 0, 0, NULL},
    {{"recipient_certificate", SE, ALL, "",
      "recipients' certificates: a PEM file of one or more, or a directory of .pem/.crt files; chosen by "
      "the e-mail address in the certificate, or the only one"}, T_STRING, 0, 0, NULL},
    {{"recipient_key_identifier", SE, ALL, "ski",
      "how the EncryptedKey names the recipient's certificate: ski, issuer_serial or thumbprint"}, T_CHOICE, 0,
     0, "ski issuer_serial thumbprint"},
    {{"security_ca_file", SE, ALL, "", "PEM file of the CAs trusted to issue senders' certificates"}, T_STRING, 0,
     0, NULL},
    {{"security_ca_path", SE, ALL, "", "directory of hashed CA certificates trusted for senders"}, T_STRING, 0,
     0, NULL},
    {{"timestamp_validity", SE, ALL, "86400000",
      "milliseconds a sent message's Timestamp stays valid"}, T_UINT, 1000, 2592000000ULL, NULL},
    {{"max_clock_skew", SE, ALL, "300000",
      "milliseconds of clock difference tolerated in Timestamps"}, T_UINT, 0, 86400000, NULL},
    {{"replay_detection", SE, ALL, "true", "refuse a signature seen before within the replay window"}, T_BOOL,
     0, 0, NULL},
    {{"replay_window", SE, ALL, "86400000",
      "milliseconds a signature is remembered; older messages are refused"}, T_UINT, 1000, 2592000000ULL, NULL},
    {{"replay_cache_size", SE, ALL, "100000", "most signatures remembered"}, T_SIZE, 16, 1ULL << 26, NULL},
    {{"require_signed_addressing", SE, ALL, "true",
      "WS-Addressing headers (To, Action, ReplyTo...) must be signed"}, T_BOOL, 0, 0, NULL},
};
const size_t mc__settings_count = sizeof(mc__settings) / sizeof(mc__settings[0]);

const mc_setting_info *mc_binding_settings(size_t *count)
{
    static mc_setting_info infos[sizeof(mc__settings) / sizeof(mc__settings[0])];
    static int filled;
    if (!__atomic_load_n(&filled, __ATOMIC_ACQUIRE)) {
        for (size_t i = 0; i < mc__settings_count; i++)
            infos[i] = mc__settings[i].info;
        __atomic_store_n(&filled, 1, __ATOMIC_RELEASE);
    }
    if (count)
        *count = mc__settings_count;
    return infos;
}

int mc__setting_find(const char *name)
{
    for (size_t i = 0; name && i < mc__settings_count; i++)
        if (!strcmp(mc__settings[i].info.name, name))
            return (int)i;
    return -1;
}

int mc__setting_applies(size_t i, const char *kind)
{
    const char *t = mc__settings[i].info.transports;
    return !strcmp(t, ALL) || !strcmp(t, kind);
}

unsigned long long mc__setting_number(const char *v) { return strtoull(v, NULL, 10); }
int mc__setting_bool(const char *v) { return !strcmp(v, "true"); }

int mc__setting_parse(size_t i, const char *v, char **out)
{
    const mc__setting *s = &mc__settings[i];
    char buf[32];
    const char *canon = v;
    if (!v)
        return mc__error_set(MC_EINVAL, "%s: no value", s->info.name);
    switch (s->type) {
    case T_STRING:
        for (const char *p = v; *p; p++)
            if ((unsigned char)*p < 0x20)
                return mc__error_set(MC_EINVAL, "%s: control characters are not allowed", s->info.name);
        if (!strcmp(s->info.name, "address") && *v && mc_email_validate(v))
            return mc__error_set(MC_EINVAL, "address: %s", mc_error_last());
        break;
    case T_SIZE:
    case T_UINT: {
        char *end;
        unsigned long long n;
        if (*v < '0' || *v > '9')
            return mc__error_set(MC_EINVAL, "%s: \"%.40s\" is not a number", s->info.name, v);
        errno = 0;
        n = strtoull(v, &end, 10);
        if (errno || *end)
            return mc__error_set(MC_EINVAL, "%s: \"%.40s\" is not a number", s->info.name, v);
        if (n < s->min || n > s->max)
            return mc__error_set(MC_EINVAL, "%s: %llu is outside %llu..%llu", s->info.name, n,
                                 s->min, s->max);
        snprintf(buf, sizeof(buf), "%llu", n);
        canon = buf;
        break;
    }
    case T_BOOL:
        if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1") || !strcasecmp(v, "on"))
            canon = "true";
        else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0") ||
                 !strcasecmp(v, "off"))
            canon = "false";
        else
            return mc__error_set(MC_EINVAL, "%s: \"%.40s\" is not true or false", s->info.name, v);
        break;
    case T_HOST:
        for (const char *p = v; *p; p++)
            if ((unsigned char)*p <= 0x20 || strchr("/@?#[]\\", *p))
                return mc__error_set(MC_EINVAL, "%s: \"%.60s\" is not a host name or address", s->info.name, v);
        break;
    case T_CHOICE: {
        size_t n = strlen(v);
        const char *c = s->choices;
        bool ok = false;
        while (!ok && *c) {
            size_t w = strcspn(c, " ");
            ok = n && w == n && !strncmp(c, v, n);
            c += w + (c[w] == ' ');
        }
        if (!ok)
            return mc__error_set(MC_EINVAL, "%s: expected one of: %s", s->info.name, s->choices);
        break;
    }
    case T_CONTAINER:
        if (strcmp(v, "default") && strcmp(v, "body") && strcmp(v, "attachment"))
            return mc__error_set(MC_EINVAL, "%s: expected default, body or attachment", s->info.name);
        break;
    case T_SOAP:
        if (!strcmp(v, "1.2") || !strcmp(v, "12"))
            canon = "1.2";
        else if (!strcmp(v, "1.1") || !strcmp(v, "11"))
            canon = "1.1";
        else
            return mc__error_set(MC_EINVAL, "%s: expected 1.2 or 1.1", s->info.name);
        break;
    }
    if (!(*out = mc__strdup(canon)))
        return mc__error_set(MC_ENOMEM, "out of memory");
    return 0;
}
