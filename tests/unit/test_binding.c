/* test_binding.c - settings, binding elements, custom bindings, config files;
 * the settings table (ids, enumerations, kinds, secrets) and the typed values
 * the library reads from it. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "helpers.h"
#include "transport_int.h"
#include "binding/options.h"
#include "channel/mail/mailnet.h"
#include "exchange/ews/ews.h"
#include "security/wss.h"

/* This test is linked with -Wl,--wrap=free (tests/CMakeLists.txt): every
 * free() of the library and of this file comes here, which counts the freed
 * blocks still holding the watched text, i.e. a secret freed without being
 * wiped. */
void __real_free(void *p);
void __wrap_free(void *p);
static const char *watched;
static int watched_freed;

void __wrap_free(void *p)
{
    if (p && watched && memmem(p, malloc_usable_size(p), watched, strlen(watched)))
        watched_freed++;
    __real_free(p);
}

/* the kinds a row lists, as a user reads mc_setting_info: "*" or words */
static int listed(const char *kinds, const char *kind)
{
    char copy[128], *save = NULL;
    if (!strcmp(kinds, "*"))
        return 1;
    snprintf(copy, sizeof(copy), "%s", kinds);
    for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
        if (!strcmp(w, kind))
            return 1;
    return 0;
}

static void test_defaults_and_set(void **state)
{
    mc_binding *b;
    char *v;
    size_t n;
    const mc_setting_info *s = mc_binding_settings(&n);
    (void)state;
    assert_true(n >= 10);
    assert_int_equal(mc_binding_new(&b, "maildir"), 0);
    assert_string_equal(mc_binding_kind(b), "maildir");
    for (size_t i = 0; i < n; i++) {
        if (!listed(s[i].transports, "maildir")) {
            /* another transport's setting does not apply here */
            assert_int_equal(mc_binding_get(&v, b, s[i].name), MC_ENOTFOUND);
            continue;
        }
        assert_int_equal(mc_binding_is_default(b, s[i].name), 1);
        if (s[i].secret) {
            assert_int_equal(mc_binding_get(&v, b, s[i].name), MC_EINVAL);
            continue;
        }
        assert_int_equal(mc_binding_get(&v, b, s[i].name), 0);
        assert_string_equal(v, s[i].default_value);
        mc_free(v);
    }
    assert_int_equal(mc_binding_get(&v, b, "max_received_message_size"), 0);
    assert_string_equal(v, "65536");
    mc_free(v);
    assert_int_equal(mc_binding_set(b, "max_received_message_size", "131072"), 0);
    assert_int_equal(mc_binding_set(b, "accept_existing_messages", "no"), 0);
    assert_int_equal(mc_binding_get(&v, b, "accept_existing_messages"), 0);
    assert_string_equal(v, "false");
    mc_free(v);
    assert_int_equal(mc_binding_set(b, "soap_version", "1.1"), 0);
    /* bad values leave the setting unchanged */
    assert_int_equal(mc_binding_set(b, "max_received_message_size", "12abc"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "max_received_message_size", "1"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "max_received_message_size", "-5"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "max_received_message_size", "99999999999999999999999"), MC_EINVAL);
    assert_int_equal(mc_binding_get(&v, b, "max_received_message_size"), 0);
    assert_string_equal(v, "131072");
    mc_free(v);
    assert_int_equal(mc_binding_set(b, "message_container_type", "envelope"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "accept_existing_messages", "maybe"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "address", "Name <x@y>"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "no_such_thing", "1"), MC_ENOTFOUND);
    assert_int_equal(mc_binding_set(b, NULL, "1"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "address", NULL), MC_EINVAL);
    mc_binding_free(b);
    assert_int_equal(mc_binding_new(&b, "carrier-pigeon"), MC_ENOTFOUND);
    assert_int_equal(mc_binding_new(NULL, "maildir"), MC_EINVAL);
    mc_binding_free(NULL);
}

static void test_elements_and_custom(void **state)
{
    mc_binding *b, *c;
    mc_binding_elements *els;
    mc_binding_element *t;
    char *v;
    (void)state;
    assert_int_equal(mc_binding_new(&b, "maildir"), 0);
    assert_int_equal(mc_binding_create_binding_elements(&els, b), 0);
    assert_int_equal(mc_binding_elements_count(els), 3);
    assert_int_equal(mc_binding_element_kind(mc_binding_elements_at(els, 2)), MC_ELEMENT_SECURITY);
    assert_string_equal(mc_binding_element_name(mc_binding_elements_at(els, 2)), "asymmetric-security");
    t = mc_binding_elements_find(els, MC_ELEMENT_TRANSPORT);
    assert_non_null(t);
    assert_string_equal(mc_binding_element_name(t), "maildir-transport");
    assert_int_equal(mc_binding_element_kind(mc_binding_elements_at(els, 1)), MC_ELEMENT_ENCODING);
    assert_int_equal(mc_binding_element_set(t, "max_received_message_size", "200000"), 0);
    /* a setting of another element is not this element's */
    assert_int_equal(mc_binding_element_set(t, "soap_version", "1.1"), MC_ENOTFOUND);
    assert_int_equal(mc_binding_new_custom(&c, els), 0);
    assert_int_equal(mc_binding_get(&v, c, "max_received_message_size"), 0);
    assert_string_equal(v, "200000");
    mc_free(v);
    /* the original is unchanged */
    assert_int_equal(mc_binding_get(&v, b, "max_received_message_size"), 0);
    assert_string_equal(v, "65536");
    mc_free(v);
    mc_binding_free(c);
    /* without the encoding element: SOAP 1.2 default; without transport: refused */
    assert_int_equal(mc_binding_elements_remove(els, 1), 0);
    assert_int_equal(mc_binding_new_custom(&c, els), 0);
    assert_int_equal(mc_binding_get(&v, c, "soap_version"), 0);
    assert_string_equal(v, "1.2");
    mc_free(v);
    mc_binding_free(c);
    /* without the security element: no message security, its settings unknown */
    assert_int_equal(mc_binding_elements_remove(els, 1), 0);
    assert_int_equal(mc_binding_new_custom(&c, els), 0);
    assert_int_equal(mc_binding_set(c, "security_mode", "message"), MC_ENOTFOUND);
    mc_binding_free(c);
    assert_int_equal(mc_binding_elements_remove(els, 0), 0);
    assert_int_equal(mc_binding_elements_remove(els, 0), MC_ENOTFOUND);
    assert_int_equal(mc_binding_new_custom(&c, els), MC_EINVAL);
    mc_binding_elements_free(els);
    mc_binding_free(b);
}

static void test_config_file(void **state)
{
    char *dir = make_tmpdir(), path[512], *v;
    FILE *f;
    mc_binding *b;
    (void)state;
    snprintf(path, sizeof(path), "%s/mailchan.conf", dir);
    f = fopen(path, "w");
    fputs("# comment\n\n  maildir_root = /var/lib/mc  \naddress=dev@example.org\nreceive_retry_count = 5\n",
          f);
    fclose(f);
    assert_int_equal(mc_binding_new(&b, "maildir"), 0);
    assert_int_equal(mc_binding_load_config(b, path), 0);
    assert_int_equal(mc_binding_get(&v, b, "maildir_root"), 0);
    assert_string_equal(v, "/var/lib/mc");
    mc_free(v);
    f = fopen(path, "w");
    fputs("receive_retry_count = 7\nthis line is bad\n", f);
    fclose(f);
    assert_int_equal(mc_binding_load_config(b, path), MC_EINVAL);
    assert_non_null(strstr(mc_error_last(), ":2:"));
    f = fopen(path, "w");
    fputs("receive_retry_count = zero\n", f);
    fclose(f);
    assert_int_equal(mc_binding_load_config(b, path), MC_EINVAL);
    assert_non_null(strstr(mc_error_last(), "receive_retry_count"));
    assert_int_equal(mc_binding_load_config(b, "/nonexistent/x.conf"), MC_EIO);
    mc_binding_free(b);
    rm_rf(dir);
    free(dir);
}

/* a file that names its binding: "binding = KIND" */
static void test_config_names_binding(void **state)
{
    char *dir = make_tmpdir(), path[512], *v;
    FILE *f;
    mc_binding *b = NULL;
    (void)state;
    snprintf(path, sizeof(path), "%s/svc.conf", dir);
    f = fopen(path, "w");
    fputs("# an EWS device\nbinding = exchange\naddress = dev@example.org\n"
          "ews_url = https://ex.example.org/EWS/Exchange.asmx\npassword = s3cret\n",
          f);
    fclose(f);
    assert_int_equal(mc_binding_new_from_config(&b, path), 0);
    assert_string_equal(mc_binding_kind(b), "exchange");
    assert_int_equal(mc_binding_get(&v, b, "ews_url"), 0);
    assert_string_equal(v, "https://ex.example.org/EWS/Exchange.asmx");
    mc_free(v);
    assert_int_equal(mc_binding_is_default(b, "password"), 0);
    /* the same file applied to a binding of that kind; another kind refuses it */
    assert_int_equal(mc_binding_load_config(b, path), 0);
    mc_binding_free(b);
    assert_int_equal(mc_binding_new(&b, "maildir"), 0);
    assert_int_equal(mc_binding_load_config(b, path), MC_EINVAL);
    assert_non_null(strstr(mc_error_last(), ":2:"));
    mc_binding_free(b);
    b = NULL;
    /* no binding line; an unknown kind; a bad line after it; no file: *out untouched */
    f = fopen(path, "w");
    fputs("address = dev@example.org\n", f);
    fclose(f);
    assert_int_equal(mc_binding_new_from_config(&b, path), MC_EINVAL);
    f = fopen(path, "w");
    fputs("binding = carrier-pigeon\n", f);
    fclose(f);
    assert_int_equal(mc_binding_new_from_config(&b, path), MC_ENOTFOUND);
    f = fopen(path, "w");
    fputs("binding = maildir\nsmtp_host = x\n", f);
    fclose(f);
    assert_int_equal(mc_binding_new_from_config(&b, path), MC_ENOTFOUND);
    assert_int_equal(mc_binding_new_from_config(&b, "/nonexistent/x.conf"), MC_EIO);
    assert_null(b);
    rm_rf(dir);
    free(dir);
}

static void test_transport_needs_settings(void **state)
{
    mc_binding *b;
    mc_transport *t = NULL;
    char *dir = make_tmpdir();
    (void)state;
    assert_int_equal(mc_binding_new(&b, "maildir"), 0);
    assert_int_equal(mc_transport_new(&t, b), MC_EINVAL); /* no address */
    assert_int_equal(mc_binding_set(b, "address", "me@example.org"), 0);
    assert_int_equal(mc_transport_new(&t, b), MC_EINVAL); /* no root */
    assert_int_equal(mc_binding_set(b, "maildir_root", "/proc/cannot-create-here"), 0);
    assert_int_equal(mc_transport_new(&t, b), MC_EIO);
    assert_int_equal(mc_binding_set(b, "maildir_root", dir), 0);
    assert_int_equal(mc_binding_set(b, "address", "../escape@example.org"), 0);
    assert_int_equal(mc_transport_new(&t, b), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "address", "me@example.org"), 0);
    assert_int_equal(mc_transport_new(&t, b), 0);
    assert_string_equal(mc_transport_address(t), "me@example.org");
    mc_transport_free(t);
    mc_transport_free(NULL);
    mc_binding_free(b);
    rm_rf(dir);
    free(dir);
}

static int no_token(char **token, void *user_data)
{
    (void)token, (void)user_data;
    return MC_EAUTH;
}

/* the mail binding's settings: defaults, choices, hosts, the token callback */
static void test_mail_binding(void **state)
{
    mc_binding *b, *m;
    mc_transport *t = NULL;
    char *v;
    (void)state;
    assert_int_equal(mc_binding_new(&b, "mail"), 0);
    assert_int_equal(mc_binding_get(&v, b, "smtp_security"), 0);
    assert_string_equal(v, "starttls");
    mc_free(v);
    assert_int_equal(mc_binding_get(&v, b, "tls_verify"), 0);
    assert_string_equal(v, "true");
    mc_free(v);
    assert_int_equal(mc_binding_set(b, "smtp_security", "tls"), 0);
    assert_int_equal(mc_binding_set(b, "smtp_security", "ssl"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "smtp_security", ""), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "imap_security", "starttl"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "auth_mechanism", "xoauth2"), 0);
    assert_int_equal(mc_binding_set(b, "smtp_port", "70000"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "smtp_host", "bad host"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "smtp_host", "user@host"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "maildir_root", "/tmp"), MC_ENOTFOUND);
    /* a password with a control character is refused without echoing it */
    assert_int_equal(mc_binding_set(b, "password", "sec\nret"), MC_EINVAL);
    assert_null(strstr(mc_error_last(), "sec"));
    assert_int_equal(mc_binding_set(b, "address", "dev@example.org"), 0);
    /* hosts are required; xoauth2 needs a token callback */
    assert_int_equal(mc_transport_new(&t, b), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "smtp_host", "127.0.0.1"), 0);
    assert_int_equal(mc_binding_set(b, "imap_host", "::1"), 0);
    assert_int_equal(mc_transport_new(&t, b), MC_EINVAL);
    assert_non_null(strstr(mc_error_last(), "token callback"));
    assert_int_equal(mc_binding_set_token_callback(b, no_token, NULL), 0);
    assert_int_equal(mc_transport_new(&t, b), 0); /* nothing connects until used */
    mc_transport_free(t);
    assert_int_equal(mc_binding_set_token_callback(NULL, no_token, NULL), MC_EINVAL);
    assert_int_equal(mc_binding_new(&m, "maildir"), 0);
    assert_int_equal(mc_binding_set_token_callback(m, no_token, NULL), MC_EINVAL);
    mc_binding_free(m);
    mc_binding_free(b);
}

/* ---- the settings table ---- */

/* every id has its row, at its place, named as the id; the public table is the same */
static void test_table_matches_ids(void **state)
{
    size_t n;
    const mc_setting_info *info = mc_binding_settings(&n);
    (void)state;
    assert_int_equal(mc__settings_ready(), 0);
    assert_int_equal(n, MC__S_COUNT);
    for (int i = 0; i < MC__S_COUNT; i++) {
        const mc__setting *s = &mc__settings[i];
        assert_non_null(s->name);
        assert_int_equal(strcasecmp(s->name, s->id_name), 0);
        assert_int_equal(mc__setting_find(s->name), i);
        assert_string_equal(info[i].name, s->name);
        assert_string_equal(info[i].default_value, s->default_value);
        assert_int_equal(info[i].choices != NULL, s->type == T_CHOICE);
        assert_int_equal(info[i].secret != 0, s->secret);
    }
    /* ids the library reads by, against the names users write */
    assert_int_equal(mc__setting_find("timeout"), MC__S_TIMEOUT);
    assert_int_equal(mc__setting_find("address"), MC__S_ADDRESS);
    assert_int_equal(mc__setting_find("require_signed_addressing"), MC__S_REQUIRE_SIGNED_ADDRESSING);
    assert_int_equal(mc__setting_find("timeuot"), MC__S_NONE);
    assert_int_equal(mc__setting_find(NULL), MC__S_NONE);
    /* the secrets are exactly the two passwords */
    for (int i = 0; i < MC__S_COUNT; i++)
        assert_int_equal(mc__settings[i].secret, i == MC__S_PASSWORD || i == MC__S_PRIVATE_KEY_PASSWORD);
}

/* a row's kinds are a list of whole words */
static void test_setting_applies_to_listed_kinds(void **state)
{
    mc__setting two = {.name = "x", .kinds = "mail exchange"}, all = {.name = "y", .kinds = "*"},
                one = {.name = "z", .kinds = "maildir"};
    (void)state;
    assert_true(mc__setting_applies(&two, "mail"));
    assert_true(mc__setting_applies(&two, "exchange"));
    assert_false(mc__setting_applies(&two, "mai"));
    assert_false(mc__setting_applies(&two, "maildir"));
    assert_false(mc__setting_applies(&two, "mail exchange"));
    assert_false(mc__setting_applies(&two, "exchange2"));
    assert_false(mc__setting_applies(&two, ""));
    assert_true(mc__setting_applies(&all, "maildir"));
    assert_true(mc__setting_applies(&one, "maildir"));
    assert_false(mc__setting_applies(&one, "mail"));
    assert_true(mc__setting_applies(&mc__settings[MC__S_TIMEOUT], "mail"));
    assert_false(mc__setting_applies(&mc__settings[MC__S_TIMEOUT], "maildir"));
    /* each kind's bindings hold exactly the settings whose rows list it */
    for (int k = 0; k < 2; k++) {
        const char *kind = k ? "mail" : "maildir";
        mc_binding *b;
        assert_int_equal(mc_binding_new(&b, kind), 0);
        for (int i = 0; i < MC__S_COUNT; i++)
            assert_int_equal(mc_binding_is_default(b, mc__settings[i].name) == 1,
                             listed(mc__settings[i].kinds, kind));
        mc_binding_free(b);
    }
}

/* the typed value of an enumerated setting, as the library reads it */
static int typed_choice(const mc_binding *b, mc__setting_id id)
{
    mc__values v;
    assert_int_equal(mc__binding_values(b, &v), 0);
    return *(const int *)((const char *)&v + mc__settings[id].field);
}

/* the binding of the two that has this setting (mail, or exchange for ews_*) */
static mc_binding *holder(mc_binding *mail, mc_binding *exchange, const char *name)
{
    return mc__setting_applies(&mc__settings[mc__setting_find(name)], "mail") ? mail : exchange;
}

static void expect_choice(mc_binding *b, const char *name, const char *text, const char *stored, int value)
{
    char *got;
    assert_int_equal(mc_binding_set(b, name, text), 0);
    assert_int_equal(mc_binding_get(&got, b, name), 0);
    assert_string_equal(got, stored);
    mc_free(got);
    assert_int_equal(typed_choice(b, mc__setting_find(name)), value);
}

/* every choice of every enumeration reaches the library as its C value */
static void test_enumerations_round_trip(void **state)
{
    static const struct {
        const char *name, *text, *stored;
        int value;
    } cases[] = {
        {"message_container_type", "default", "default", MC_CONTAINER_DEFAULT},
        {"message_container_type", "body", "body", MC_CONTAINER_BODY},
        {"message_container_type", "attachment", "attachment", MC_CONTAINER_ATTACHMENT},
        {"smtp_security", "starttls", "starttls", MC__TLS_STARTTLS},
        {"smtp_security", "tls", "tls", MC__TLS_IMPLICIT},
        {"smtp_security", "none", "none", MC__TLS_NONE},
        {"imap_security", "starttls", "starttls", MC__TLS_STARTTLS},
        {"imap_security", "tls", "tls", MC__TLS_IMPLICIT},
        {"imap_security", "none", "none", MC__TLS_NONE},
        {"auth_mechanism", "auto", "auto", MC__AUTH_AUTO},
        {"auth_mechanism", "plain", "plain", MC__AUTH_PLAIN},
        {"auth_mechanism", "login", "login", MC__AUTH_LOGIN},
        {"auth_mechanism", "xoauth2", "xoauth2", MC__AUTH_XOAUTH2},
        {"smtp_auth", "auto", "auto", MC__SMTP_AUTH_AUTO},
        {"smtp_auth", "none", "none", MC__SMTP_AUTH_NONE},
        {"tls_min_version", "1.2", "1.2", 12},
        {"tls_min_version", "1.3", "1.3", 13},
        {"soap_version", "1.2", "1.2", MC_SOAP12},
        {"soap_version", "1.1", "1.1", MC_SOAP11},
        {"soap_version", "12", "1.2", MC_SOAP12},
        {"soap_version", "11", "1.1", MC_SOAP11},
        {"security_mode", "none", "none", MC__SECURITY_NONE},
        {"security_mode", "message", "message", MC__SECURITY_MESSAGE},
        {"algorithm_suite", "Basic256Rsa15", "Basic256Rsa15", MC__SUITE_BASIC256RSA15},
        {"algorithm_suite", "Basic256", "Basic256", MC__SUITE_BASIC256},
        {"algorithm_suite", "Basic256Sha256", "Basic256Sha256", MC__SUITE_BASIC256SHA256},
        {"algorithm_suite", "Basic256Sha256Rsa15", "Basic256Sha256Rsa15", MC__SUITE_BASIC256SHA256RSA15},
        {"protection_level", "encrypt_and_sign", "encrypt_and_sign", MC__PROTECT_ENCRYPT_AND_SIGN},
        {"protection_level", "sign", "sign", MC__PROTECT_SIGN},
        {"recipient_key_identifier", "ski", "ski", MC__KEYID_SKI},
        {"recipient_key_identifier", "issuer_serial", "issuer_serial", MC__KEYID_ISSUER_SERIAL},
        {"recipient_key_identifier", "thumbprint", "thumbprint", MC__KEYID_THUMBPRINT},
        {"ews_auth", "basic", "basic", MC__HTTP_BASIC},
        {"ews_auth", "ntlm", "ntlm", MC__HTTP_NTLM},
        {"ews_auth", "bearer", "bearer", MC__HTTP_BEARER},
        {"ews_send_mode", "save_then_send", "save_then_send", MC__EWS_SAVE_THEN_SEND},
        {"ews_send_mode", "send_and_save_copy", "send_and_save_copy", MC__EWS_SEND_AND_SAVE_COPY},
        {"ews_notifications", "streaming", "streaming", MC__EWS_NOTIFY_STREAMING},
        {"ews_notifications", "pull", "pull", MC__EWS_NOTIFY_PULL},
        {"ews_notifications", "none", "none", MC__EWS_NOTIFY_NONE},
        {"ews_server_version", "Exchange2007_SP1", "Exchange2007_SP1", 0},
        {"ews_server_version", "Exchange2010", "Exchange2010", 1},
        {"ews_server_version", "Exchange2010_SP1", "Exchange2010_SP1", 2},
        {"ews_server_version", "Exchange2010_SP2", "Exchange2010_SP2", 3},
        {"ews_server_version", "Exchange2013", "Exchange2013", 4},
        {"ews_server_version", "Exchange2013_SP1", "Exchange2013_SP1", 5},
        {"ews_server_version", "Exchange2016", "Exchange2016", 6},
        {"after_receive", "delete", "delete", MC__AFTER_DELETE},
        {"after_receive", "move", "move", MC__AFTER_MOVE},
    };
    mc_binding *b, *ex;
    size_t covered = 0;
    (void)state;
    assert_int_equal(mc_binding_new(&b, "mail"), 0);
    assert_int_equal(mc_binding_new(&ex, "exchange"), 0);
    for (size_t i = 0; i < MC_ARRAY_SIZE(cases); i++)
        expect_choice(holder(b, ex, cases[i].name), cases[i].name, cases[i].text, cases[i].stored,
                      cases[i].value);
    /* the server version's choice name is what requests carry */
    assert_string_equal(mc__setting_choice_name(MC__S_EWS_SERVER_VERSION, 5), "Exchange2013_SP1");
    assert_null(mc__setting_choice_name(MC__S_EWS_SERVER_VERSION, 99));
    assert_null(mc__setting_choice_name(MC__S_TIMEOUT, 0));
    /* the cases above are every choice of every enumeration in the table */
    for (int i = 0; i < MC__S_COUNT; i++)
        for (const mc__choice *c = mc__settings[i].choices; c && c->name; c++, covered++) {
            size_t j = 0;
            while (j < MC_ARRAY_SIZE(cases) &&
                   (strcmp(cases[j].name, mc__settings[i].name) || strcmp(cases[j].text, c->name)))
                j++;
            assert_true(j < MC_ARRAY_SIZE(cases));
        }
    assert_int_equal(covered, MC_ARRAY_SIZE(cases));
    mc_binding_free(b);
    mc_binding_free(ex);
}

/* a folder received or invalid mail is moved to may not be a watched one:
 * refused when the transport is made */
static void test_disposal_folders_checked(void **state)
{
    static const struct {
        const char *name, *value;
        int rc;
    } cases[] = {
        {"archive_folder", "Service E-mail", MC_EINVAL},
        {"archive_folder", "inbox", MC_EINVAL},
        {"archive_folder", "", MC_EINVAL},
        {"dead_letter_folder", "INBOX", MC_EINVAL},
        {"dead_letter_folder", "service e-mail", MC_EINVAL},
        {"archive_folder", "Archive/2026", 0},
    };
    char dir[] = "/tmp/mc-disp-XXXXXX";
    (void)state;
    assert_non_null(mkdtemp(dir));
    for (size_t i = 0; i < MC_ARRAY_SIZE(cases); i++) {
        mc_binding *b;
        mc_transport *t = NULL;
        assert_int_equal(mc_binding_new(&b, "maildir"), 0);
        assert_int_equal(mc_binding_set(b, "maildir_root", dir), 0);
        assert_int_equal(mc_binding_set(b, "address", "bob@example.test"), 0);
        assert_int_equal(mc_binding_set(b, "after_receive", "move"), 0);
        assert_int_equal(mc_binding_set(b, cases[i].name, cases[i].value), 0);
        assert_int_equal(mc_transport_new(&t, b), cases[i].rc);
        if (cases[i].rc)
            assert_non_null(strstr(mc_error_last(), cases[i].name));
        mc_transport_free(t);
        mc_binding_free(b);
    }
    rm_rf(dir);
}

/* the container type and SOAP version reach the transport built from the binding */
static void test_enumerations_reach_the_transport(void **state)
{
    static const struct {
        const char *container, *soap;
        mc_container_type c;
        mc_soap_version v;
    } cases[] = {{"body", "1.1", MC_CONTAINER_BODY, MC_SOAP11},
                 {"attachment", "12", MC_CONTAINER_ATTACHMENT, MC_SOAP12},
                 {"default", "11", MC_CONTAINER_DEFAULT, MC_SOAP11}};
    char *dir = make_tmpdir();
    (void)state;
    for (size_t i = 0; i < MC_ARRAY_SIZE(cases); i++) {
        mc_binding *b;
        mc_transport *t = NULL;
        assert_int_equal(mc_binding_new(&b, "maildir"), 0);
        assert_int_equal(mc_binding_set(b, "maildir_root", dir), 0);
        assert_int_equal(mc_binding_set(b, "address", "me@example.org"), 0);
        assert_int_equal(mc_binding_set(b, "message_container_type", cases[i].container), 0);
        assert_int_equal(mc_binding_set(b, "soap_version", cases[i].soap), 0);
        assert_int_equal(mc_transport_new(&t, b), 0);
        assert_int_equal(mc__transport_config_of(t)->container, cases[i].c);
        assert_int_equal(mc__transport_config_of(t)->soap_version, cases[i].v);
        mc_transport_free(t);
        mc_binding_free(b);
    }
    rm_rf(dir);
    free(dir);
}

/* a value outside an enumeration is refused when set, naming every choice */
static void test_bad_choice_refused_with_list(void **state)
{
    size_t n;
    const mc_setting_info *info = mc_binding_settings(&n);
    mc_binding *mail, *ex, *b;
    (void)state;
    assert_int_equal(mc_binding_new(&mail, "mail"), 0);
    assert_int_equal(mc_binding_new(&ex, "exchange"), 0);
    for (size_t i = 0; i < n; i++) {
        char *before, *after, list[256];
        if (!info[i].choices)
            continue;
        b = holder(mail, ex, info[i].name);
        assert_int_equal(mc_binding_get(&before, b, info[i].name), 0);
        assert_int_equal(mc_binding_set(b, info[i].name, "bogus"), MC_EINVAL);
        assert_non_null(strstr(mc_error_last(), info[i].name));
        snprintf(list, sizeof(list), "%s", info[i].choices);
        for (char *save = NULL, *w = strtok_r(list, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
            assert_non_null(strstr(mc_error_last(), w));
            assert_non_null(strstr(info[i].help, w)); /* --list-settings shows them */
        }
        assert_int_equal(mc_binding_set(b, info[i].name, ""), MC_EINVAL);
        assert_int_equal(mc_binding_get(&after, b, info[i].name), 0);
        assert_string_equal(before, after);
        mc_free(before);
        mc_free(after);
    }
    /* exact names: no case folding, no prefixes */
    b = mail;
    mc_binding_free(ex);
    assert_int_equal(mc_binding_set(b, "smtp_security", "STARTTLS"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "auth_mechanism", "xoauth"), MC_EINVAL);
    assert_string_equal(mc_error_last(),
                        "auth_mechanism: \"xoauth\" is not one of: auto, plain, login, xoauth2");
    /* aliases are accepted but not listed */
    assert_string_equal(info[MC__S_SOAP_VERSION].choices, "1.2 1.1");
    assert_string_equal(info[MC__S_SMTP_SECURITY].choices, "starttls tls none");
    mc_binding_free(b);
}

/* ---- secrets ---- */

static void test_secrets_never_read_back(void **state)
{
    mc_binding *b, *c;
    mc_binding_elements *els;
    char *v = (char *)"untouched";
    mc__values values;
    (void)state;
    assert_int_equal(mc_binding_new(&b, "mail"), 0);
    assert_int_equal(mc_binding_is_default(b, "password"), 1);
    assert_int_equal(mc_binding_get(&v, b, "password"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "password", "hunter2-0123"), 0);
    assert_int_equal(mc_binding_get(&v, b, "password"), MC_EINVAL);
    assert_string_equal(v, "untouched");
    assert_null(strstr(mc_error_last(), "hunter2"));
    assert_int_equal(mc_binding_is_default(b, "password"), 0);
    assert_int_equal(mc_binding_set(b, "private_key_password", "p12-secret-77"), 0);
    assert_int_equal(mc_binding_get(&v, b, "private_key_password"), MC_EINVAL);
    /* nor through an element */
    assert_int_equal(mc_binding_create_binding_elements(&els, b), 0);
    assert_int_equal(
        mc_binding_element_get(&v, mc_binding_elements_find(els, MC_ELEMENT_TRANSPORT), "password"),
        MC_EINVAL);
    assert_int_equal(mc_binding_element_get(&v, mc_binding_elements_find(els, MC_ELEMENT_SECURITY),
                                            "private_key_password"),
                     MC_EINVAL);
    assert_string_equal(v, "untouched");
    /* but the library still has them */
    assert_int_equal(mc_binding_new_custom(&c, els), 0);
    assert_int_equal(mc__binding_values(c, &values), 0);
    assert_string_equal(values.password, "hunter2-0123");
    assert_string_equal(values.private_key_password, "p12-secret-77");
    assert_int_equal(mc_binding_is_default(c, "password"), 0);
    /* set back to empty: the default again */
    assert_int_equal(mc_binding_set(c, "password", ""), 0);
    assert_int_equal(mc_binding_is_default(c, "password"), 1);
    assert_int_equal(mc_binding_is_default(c, "no_such"), MC_ENOTFOUND);
    assert_int_equal(mc_binding_is_default(NULL, "password"), MC_EINVAL);
    mc_binding_free(c);
    mc_binding_elements_free(els);
    mc_binding_free(b);
}

/* a secret is wiped before its memory is freed: replaced, cloned, freed, from a file */
static void test_secrets_wiped(void **state)
{
    char *dir = make_tmpdir(), path[512];
    mc_binding *b, *c;
    mc_binding_elements *els;
    FILE *f;
    (void)state;
    watched = "Wipe-Me-Secret";
    watched_freed = 0;
    assert_int_equal(mc_binding_new(&b, "mail"), 0);
    assert_int_equal(mc_binding_set(b, "password", "Wipe-Me-Secret"), 0);
    assert_int_equal(mc_binding_set(b, "private_key_password", "Wipe-Me-Secret"), 0);
    assert_int_equal(mc_binding_create_binding_elements(&els, b), 0);
    assert_int_equal(mc_binding_new_custom(&c, els), 0);
    mc_binding_elements_free(els);
    mc_binding_free(c);
    assert_int_equal(mc_binding_set(b, "password", "another"), 0); /* replaced */
    mc_binding_free(b);
    snprintf(path, sizeof(path), "%s/secret.conf", dir);
    f = fopen(path, "w");
    fputs("password = Wipe-Me-Secret\nprivate_key_password = Wipe-Me-Secret\n", f);
    fclose(f);
    assert_int_equal(mc_binding_new(&b, "mail"), 0);
    assert_int_equal(mc_binding_load_config(b, path), 0);
    mc_binding_free(b);
    assert_int_equal(watched_freed, 0);
    /* the check itself works: a block freed holding the text is seen */
    free(strdup("x Wipe-Me-Secret"));
    assert_int_equal(watched_freed, 1);
    watched = NULL;
    rm_rf(dir);
    free(dir);
}

/* ---- typed setters ---- */

static void test_typed_setters(void **state)
{
    mc_binding *b;
    char *v;
    (void)state;
    assert_int_equal(mc_binding_new(&b, "mail"), 0);
    assert_int_equal(mc_binding_set_uint(b, "timeout", 5000), 0);
    assert_int_equal(mc_binding_get(&v, b, "timeout"), 0);
    assert_string_equal(v, "5000");
    mc_free(v);
    assert_int_equal(mc_binding_set_uint(b, "max_received_message_size", 1ULL << 20), 0);
    assert_int_equal(mc_binding_set_uint(b, "timeout", 1), MC_EINVAL); /* below 100 */
    assert_non_null(strstr(mc_error_last(), "100..3600000"));
    assert_int_equal(mc_binding_set_uint(b, "timeout", 18446744073709551615ULL), MC_EINVAL);
    assert_int_equal(mc_binding_get(&v, b, "timeout"), 0);
    assert_string_equal(v, "5000");
    mc_free(v);
    assert_int_equal(mc_binding_set_uint(b, "smtp_security", 1), MC_EINVAL);
    assert_int_equal(mc_binding_set_uint(b, "tls_verify", 1), MC_EINVAL);
    assert_int_equal(mc_binding_set_uint(b, "no_such", 1), MC_ENOTFOUND);
    assert_int_equal(mc_binding_set_uint(b, "maildir_root", 1), MC_EINVAL); /* a string */
    assert_int_equal(mc_binding_set_uint(NULL, "timeout", 1), MC_EINVAL);
    assert_int_equal(mc_binding_set_bool(b, "tls_verify", 0), 0);
    assert_int_equal(mc_binding_get(&v, b, "tls_verify"), 0);
    assert_string_equal(v, "false");
    mc_free(v);
    assert_int_equal(mc_binding_set_bool(b, "imap_idle", 42), 0);
    assert_int_equal(mc_binding_get(&v, b, "imap_idle"), 0);
    assert_string_equal(v, "true");
    mc_free(v);
    assert_int_equal(mc_binding_set_bool(b, "timeout", 1), MC_EINVAL);
    assert_int_equal(mc_binding_set_bool(b, "maildir_sync_directories", 1), MC_ENOTFOUND); /* not mail's */
    assert_int_equal(mc_binding_set_bool(b, NULL, 1), MC_EINVAL);
    mc_binding_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_set),
        cmocka_unit_test(test_elements_and_custom),
        cmocka_unit_test(test_config_file),
        cmocka_unit_test(test_config_names_binding),
        cmocka_unit_test(test_transport_needs_settings),
        cmocka_unit_test(test_mail_binding),
        cmocka_unit_test(test_table_matches_ids),
        cmocka_unit_test(test_setting_applies_to_listed_kinds),
        cmocka_unit_test(test_enumerations_round_trip),
        cmocka_unit_test(test_disposal_folders_checked),
        cmocka_unit_test(test_enumerations_reach_the_transport),
        cmocka_unit_test(test_bad_choice_refused_with_list),
        cmocka_unit_test(test_secrets_never_read_back),
        cmocka_unit_test(test_secrets_wiped),
        cmocka_unit_test(test_typed_setters),
    };
    mc_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
