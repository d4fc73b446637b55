/* test_binding.c - settings, binding elements, custom bindings, config files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "helpers.h"

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
        if (strcmp(s[i].transports, "*") && strcmp(s[i].transports, "maildir")) {
            /* another transport's setting does not apply here */
            assert_int_equal(mc_binding_get(b, s[i].name, &v), MC_ENOTFOUND);
            continue;
        }
        assert_int_equal(mc_binding_get(b, s[i].name, &v), 0);
        assert_string_equal(v, s[i].default_value);
        mc_free(v);
    }
    assert_int_equal(mc_binding_get(b, "max_received_message_size", &v), 0);
    assert_string_equal(v, "65536");
    mc_free(v);
    assert_int_equal(mc_binding_set(b, "max_received_message_size", "131072"), 0);
    assert_int_equal(mc_binding_set(b, "accept_existing_messages", "no"), 0);
    assert_int_equal(mc_binding_get(b, "accept_existing_messages", &v), 0);
    assert_string_equal(v, "false");
    mc_free(v);
    assert_int_equal(mc_binding_set(b, "soap_version", "1.1"), 0);
    /* bad values leave the setting unchanged */
    assert_int_equal(mc_binding_set(b, "max_received_message_size", "12abc"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "max_received_message_size", "1"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "max_received_message_size", "-5"), MC_EINVAL);
    assert_int_equal(mc_binding_set(b, "max_received_message_size", "99999999999999999999999"), MC_EINVAL);
    assert_int_equal(mc_binding_get(b, "max_received_message_size", &v), 0);
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
    assert_int_equal(mc_binding_create_binding_elements(b, &els), 0);
    assert_int_equal(mc_binding_elements_count(els), 3);
    assert_int_equal(mc_binding_element_get_kind(mc_binding_elements_at(els, 2)), MC_ELEMENT_SECURITY);
    assert_string_equal(mc_binding_element_name(mc_binding_elements_at(els, 2)), "asymmetric-security");
    t = mc_binding_elements_find(els, MC_ELEMENT_TRANSPORT);
    assert_non_null(t);
    assert_string_equal(mc_binding_element_name(t), "maildir-transport");
    assert_int_equal(mc_binding_element_get_kind(mc_binding_elements_at(els, 1)), MC_ELEMENT_ENCODING);
    assert_int_equal(mc_binding_element_set(t, "max_received_message_size", "200000"), 0);
    /* a setting of another element is not this element's */
    assert_int_equal(mc_binding_element_set(t, "soap_version", "1.1"), MC_ENOTFOUND);
    assert_int_equal(mc_binding_new_custom(&c, els), 0);
    assert_int_equal(mc_binding_get(c, "max_received_message_size", &v), 0);
    assert_string_equal(v, "200000");
    mc_free(v);
    /* the original is unchanged */
    assert_int_equal(mc_binding_get(b, "max_received_message_size", &v), 0);
    assert_string_equal(v, "65536");
    mc_free(v);
    mc_binding_free(c);
    /* without the encoding element: SOAP 1.2 default; without transport: refused */
    assert_int_equal(mc_binding_elements_remove(els, 1), 0);
    assert_int_equal(mc_binding_new_custom(&c, els), 0);
    assert_int_equal(mc_binding_get(c, "soap_version", &v), 0);
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
    fputs("# comment\n\n  maildir_root = /var/lib/mc  \naddress=dev@example.org\nreceive_retry_count = 5\n", f);
    fclose(f);
    assert_int_equal(mc_binding_new(&b, "maildir"), 0);
    assert_int_equal(mc_binding_load_config(b, path), 0);
    assert_int_equal(mc_binding_get(b, "maildir_root", &v), 0);
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
    assert_int_equal(mc_binding_get(b, "smtp_security", &v), 0);
    assert_string_equal(v, "starttls");
    mc_free(v);
    assert_int_equal(mc_binding_get(b, "tls_verify", &v), 0);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_set), cmocka_unit_test(test_elements_and_custom),
        cmocka_unit_test(test_config_file), cmocka_unit_test(test_transport_needs_settings),
        cmocka_unit_test(test_mail_binding),
    };
    mc_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
