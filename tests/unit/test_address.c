/* test_address.c - net.mail:// addresses. */
#include <string.h>
#include "helpers.h"

static void test_valid(void **state)
{
    mc_address *a;
    (void)state;
    assert_int_equal(mc_address_parse(&a, "net.mail://orders#a@example.org;b@example.org"), 0);
    assert_string_equal(mc_address_channel(a), "orders");
    assert_int_equal(mc_address_email_count(a), 2);
    assert_string_equal(mc_address_email(a, 1), "b@example.org");
    assert_null(mc_address_email(a, 2));
    assert_string_equal(mc_address_uri(a), "net.mail://orders#a@example.org;b@example.org");
    mc_address_free(a);
    assert_int_equal(mc_address_parse(&a, "NET.MAIL://orders#"), 0);
    assert_int_equal(mc_address_email_count(a), 0);
    assert_string_equal(mc_address_uri(a), "net.mail://orders#");
    mc_address_free(a);
    assert_int_equal(mc_address_parse(&a, "net.mail://\xc3\xa9"
                                          "chec#x@y.z"),
                     0); /* UTF-8 channel */
    mc_address_free(a);
    {
        const char *e[] = {"d@e.f"};
        assert_int_equal(mc_address_new(&a, "game-1.2_x", e, 1), 0);
        assert_string_equal(mc_address_uri(a), "net.mail://game-1.2_x#d@e.f");
        mc_address_free(a);
    }
}

static void test_invalid(void **state)
{
    static const char *bad[] = {
        "",
        "mail://x#a@b",
        "net.mail://x",
        "net.mail://#a@b",
        "net.mail://a b#x@y",
        "net.mail://a=b#x@y",
        "net.mail://a;b#x@y",
        "net.mail://a\tb#x@y",
        "net.mail://a\x01#x@y",
        "net.mail://a#x@y#z",
        "net.mail://a#x@y;",
        "net.mail://a#;x@y",
        "net.mail://a#x@@y",
        "net.mail://a#xy",
        "net.mail://a#Name <x@y>",
        "net.mail://a#x y@z",
        "net.mail://a#@y",
        "net.mail://a#x@",
        "net.mail://\xff#x@y",
        "net.mail://a#x@y..z",
        "net.mail://a\xc2\xa0#x@y",
    };
    mc_address *a = (mc_address *)0x1;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (mc_address_parse(&a, bad[i]) != MC_EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_true(mc_error_last()[0] != '\0');
    }
    assert_ptr_equal(a, (mc_address *)0x1); /* untouched on failure */
    assert_int_equal(mc_address_parse(NULL, "net.mail://a#"), MC_EINVAL);
    assert_int_equal(mc_address_parse(&a, NULL), MC_EINVAL);
    {
        char longname[300];
        memset(longname, 'c', 299);
        longname[299] = '\0';
        assert_int_equal(mc_channel_name_validate(longname), MC_EINVAL);
    }
    mc_address_free(NULL);
    assert_null(mc_address_channel(NULL));
}

/* the headers' compile-time version is the library's run-time version */
static void test_version(void **state)
{
    (void)state;
    assert_string_equal(mc_version(), MC_VERSION);
    assert_true(MC_VERSION_NUMBER == MC_VERSION_MAJOR * 10000 + MC_VERSION_MINOR * 100 + MC_VERSION_PATCH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_version), cmocka_unit_test(test_valid),
                                       cmocka_unit_test(test_invalid)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
