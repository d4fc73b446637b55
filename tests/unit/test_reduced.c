/* test_reduced.c - a build without the mail transport and message security
 * (MC_WITH_MAIL=OFF, MC_WITH_SECURITY=OFF: no libcurl, no xmlsec1): what it
 * leaves out is refused with a clear error, the rest works (the core and
 * Maildir tests run in the same build). */
#include <stdlib.h>
#include <string.h>
#include "helpers.h"

static void test_no_mail_kind(void **state)
{
    mc_binding *b = NULL;
    (void)state;
    assert_int_equal(mc_binding_new(&b, "mail"), MC_ENOTFOUND);
    assert_non_null(strstr(mc_error_last(), "known: maildir"));
    assert_null(b);
}

static void test_no_message_security(void **state)
{
    char *root = make_tmpdir();
    mc_binding *b;
    mc_transport *t = NULL;
    (void)state;
    assert_int_equal(mc_binding_new(&b, "maildir"), 0);
    assert_int_equal(mc_binding_set(b, "maildir_root", root), 0);
    assert_int_equal(mc_binding_set(b, "address", "device@example.test"), 0);
    assert_int_equal(mc_binding_set(b, "security_mode", "message"), 0);
    assert_int_equal(mc_transport_new(&t, b), MC_EINVAL);
    assert_non_null(strstr(mc_error_last(), "MC_WITH_SECURITY=OFF"));
    assert_null(t);
    assert_int_equal(mc_binding_set(b, "security_mode", "none"), 0);
    assert_int_equal(mc_transport_new(&t, b), 0);
    mc_transport_free(t);
    mc_binding_free(b);
    rm_rf(root);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_no_mail_kind),
                                       cmocka_unit_test(test_no_message_security)};
    mc_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
