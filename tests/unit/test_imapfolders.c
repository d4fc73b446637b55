/* test_imapfolders.c - IMAP folder names: modified UTF-7 (RFC 3501 5.1.3)
 * both ways with the RFC's own example, round trips, refusal of what is not
 * canonical, and configured names resolved in a personal namespace
 * (RFC 2342) the way Courier and Cyrus name folders ("INBOX." and "."). */
#include <stdlib.h>
#include <string.h>
#include "helpers.h"
#include "channel/mail/imapfolders.h"

static char *enc(const char *utf8)
{
    char *out = NULL;
    assert_int_equal(mc__mutf7_encode(&out, utf8), 0);
    return out;
}

static char *dec(const char *wire)
{
    char *out = NULL;
    assert_int_equal(mc__mutf7_decode(&out, wire), 0);
    return out;
}

static void expect_pair(const char *utf8, const char *wire)
{
    char *e = enc(utf8), *d = dec(wire);
    assert_string_equal(e, wire);
    assert_string_equal(d, utf8);
    free(e);
    free(d);
}

static void test_rfc3501_example(void **state)
{
    (void)state;
    expect_pair("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
                "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
}

static void test_pairs_and_roundtrips(void **state)
{
    static const char *const names[] = {
        "",
        "INBOX",
        "Service E-mail",
        "A&B",
        "&",
        "&&",
        "Entw\xc3\xbcrfe",
        "\xc3\xa9t\xc3\xa9",
        "\xf0\x9f\x98\x80 smile",
        "\xe2\x82\xac\xe2\x82\xac/\xe2\x82\xac",
        "a\tb",
        "~-,+/",
    };
    (void)state;
    expect_pair("A&B", "A&-B");
    expect_pair("Entw\xc3\xbcrfe", "Entw&APw-rfe");
    expect_pair("\xf0\x9f\x98\x80", "&2D3eAA-"); /* U+1F600: a surrogate pair */
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char *e = enc(names[i]), *d = dec(e);
        assert_string_equal(d, names[i]);
        for (const char *p = e; *p; p++)
            assert_true(*p >= 0x20 && *p <= 0x7e);
        free(e);
        free(d);
    }
}

static void test_invalid_refused(void **state)
{
    static const char *const wire[] = {
        "&AGE-",       /* "a" must stand for itself */
        "&Jjo-&Jjo-",  /* two runs back to back */
        "&U,BTF2-",    /* leftover bits not zero */
        "&2D0-",       /* a lone high surrogate */
        "&3gA-",       /* a lone low surrogate */
        "&U,B",        /* no end */
        "&",           /* no end */
        "&&-",         /* "&" is not base64 */
        "&U/BTFw-",    /* "/" is "," here */
        "caf\xc3\xa9", /* 8-bit octets never appear raw */
        "a\x1b b",     /* nor controls */
        "&AA-",        /* 12 bits: no whole unit */
        "&AAA-",       /* U+0000: would end the name (found by fuzz_mutf7) */
    };
    static const char *const utf8[] = {"\xff", "\xed\xa0\x80", "\xc0\xaf", "\xe2\x82", "\xf4\x90\x80\x80"};
    char *out = NULL, *longname;
    (void)state;
    for (size_t i = 0; i < sizeof(wire) / sizeof(wire[0]); i++) {
        if (mc__mutf7_decode(&out, wire[i]) != MC_EINVAL)
            fail_msg("decoded \"%s\" as \"%s\"", wire[i], out ? out : "");
    }
    for (size_t i = 0; i < sizeof(utf8) / sizeof(utf8[0]); i++)
        assert_int_equal(mc__mutf7_encode(&out, utf8[i]), MC_EINVAL);
    assert_null(out);
    longname = malloc(MC__MUTF7_MAX + 2);
    memset(longname, 'x', MC__MUTF7_MAX + 1);
    longname[MC__MUTF7_MAX + 1] = 0;
    assert_int_equal(mc__mutf7_encode(&out, longname), MC_EINVAL);
    assert_int_equal(mc__mutf7_decode(&out, longname), MC_EINVAL);
    free(longname);
}

static void expect_resolved(const char *prefix, char delim, const char *name, const char *want)
{
    char *out = NULL;
    assert_int_equal(mc__imap_folder_resolve(&out, prefix, delim, name), 0);
    assert_string_equal(out, want);
    free(out);
}

static void test_resolve_in_namespace(void **state)
{
    (void)state;
    /* Courier, Cyrus (altnamespace no) */
    expect_resolved("INBOX.", '.', "Service E-mail", "INBOX.Service E-mail");
    expect_resolved("INBOX.", '.', "Deleted Items", "INBOX.Deleted Items");
    /* given with the prefix already: left alone (INBOX in any case) */
    expect_resolved("INBOX.", '.', "INBOX.Trash", "INBOX.Trash");
    expect_resolved("INBOX.", '.', "inbox.Trash", "inbox.Trash");
    expect_resolved("INBOX.", '.', "INBOX", "INBOX");
    expect_resolved("INBOX.", '.', "inbox", "INBOX");
    /* "/" separates levels whatever the server's delimiter */
    expect_resolved("INBOX.", '.', "Work/Orders", "INBOX.Work.Orders");
    expect_resolved("INBOX.", '.', "INBOX/Orders", "INBOX.Orders");
    /* encoded after resolving */
    expect_resolved("INBOX.", '.', "Entw\xc3\xbcrfe & more", "INBOX.Entw&APw-rfe &- more");
    /* Dovecot's default: no prefix */
    expect_resolved("", '/', "Service E-mail", "Service E-mail");
    expect_resolved(NULL, 0, "Work/Orders", "Work/Orders");
}

static void test_shown(void **state)
{
    char *s;
    (void)state;
    s = mc__imap_folder_shown("INBOX.&ZeVnLIqe-");
    assert_string_equal(s, "INBOX.\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
    free(s);
    /* not modified UTF-7, or decoding to a control: printable as it is */
    s = mc__imap_folder_shown("bad\x1b[2J&U,B");
    assert_string_equal(s, "bad?[2J&U,B");
    free(s);
    s = mc__imap_folder_shown("&ABs-");
    assert_string_equal(s, "&ABs-");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3501_example), cmocka_unit_test(test_pairs_and_roundtrips),
        cmocka_unit_test(test_invalid_refused), cmocka_unit_test(test_resolve_in_namespace),
        cmocka_unit_test(test_shown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
