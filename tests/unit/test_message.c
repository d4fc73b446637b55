/* test_message.c - building, serializing and parsing SOAP messages; bad
 * envelopes of every kind give MC_EPROTO/MC_ETOOBIG, never a crash. */
#include <stdlib.h>
#include <string.h>
#include "helpers.h"
#include "tests/bench/hostile_inputs.h"

#define BODY "<e:Echo xmlns:e=\"urn:e\"><e:Text>a &amp; b</e:Text></e:Echo>"

static mc_message *roundtrip(const mc_message *m)
{
    char *s;
    size_t n;
    mc_message *back = NULL;
    assert_int_equal(mc_message_serialize(&s, &n, m), 0);
    assert_int_equal(mc_message_parse(&back, s, n, 0), 0);
    mc_free(s);
    return back;
}

static void test_roundtrip_soap12(void **state)
{
    mc_message *m, *b;
    (void)state;
    assert_int_equal(mc_message_new(&m, "urn:a", BODY, strlen(BODY)), 0);
    assert_string_equal(mc_message_action(m), "urn:a");
    assert_true(strncmp(mc_message_message_id(m), "urn:uuid:", 9) == 0);
    assert_int_equal(strlen(mc_message_message_id(m)), 45);
    assert_int_equal(mc_message_set_to(m, "net.mail://x#a@b"), 0);
    assert_int_equal(mc_message_set_from(m, "net.mail://f#f@b"), 0);
    assert_int_equal(mc_message_set_reply_to(m, "net.mail://r#r@b"), 0);
    assert_int_equal(mc_message_set_fault_to(m, "net.mail://ft#f@b"), 0);
    assert_int_equal(mc_message_set_relates_to(m, "urn:uuid:1"), 0);
    {
        const char *h = "<h:Token xmlns:h=\"urn:h\">t</h:Token>";
        assert_int_equal(mc_message_add_header(m, h, strlen(h)), 0);
    }
    b = roundtrip(m);
    assert_int_equal(mc_message_soap_version(b), MC_SOAP12);
    assert_string_equal(mc_message_action(b), "urn:a");
    assert_string_equal(mc_message_message_id(b), mc_message_message_id(m));
    assert_string_equal(mc_message_to(b), "net.mail://x#a@b");
    assert_string_equal(mc_message_from(b), "net.mail://f#f@b");
    assert_string_equal(mc_message_reply_to(b), "net.mail://r#r@b");
    assert_string_equal(mc_message_fault_to(b), "net.mail://ft#f@b");
    assert_string_equal(mc_message_relates_to(b), "urn:uuid:1");
    assert_int_equal(mc_message_header_count(b), 1);
    assert_non_null(strstr(mc_message_header(b, 0), "urn:h"));
    assert_string_equal(mc_message_body(b, NULL), BODY);
    mc_message_free(m);
    mc_message_free(b);
}

static void test_roundtrip_soap11_text(void **state)
{
    mc_message *m, *b;
    char *text = NULL, *s;
    size_t n;
    (void)state;
    assert_int_equal(mc_message_new_text(&m, "urn:t", "x < y & \"z\" \xc3\xa9"), 0);
    assert_int_equal(mc_message_set_soap_version(m, MC_SOAP11), 0);
    assert_int_equal(mc_message_serialize(&s, &n, m), 0);
    assert_non_null(strstr(s, MC_NS_SOAP11));
    mc_free(s);
    b = roundtrip(m);
    assert_int_equal(mc_message_soap_version(b), MC_SOAP11);
    assert_int_equal(mc_message_body_text(&text, b), 0);
    assert_string_equal(text, "x < y & \"z\" \xc3\xa9");
    mc_free(text);
    assert_int_equal(mc_message_set_soap_version(b, 7), MC_EINVAL);
    mc_message_free(m);
    mc_message_free(b);
}

static void test_body_namespaces_from_envelope(void **state)
{
    /* a body element whose prefix is declared on the Envelope stands alone after parsing */
    const char *env = "<s:Envelope xmlns:s=\"" MC_NS_SOAP12 "\" xmlns:a=\"" MC_NS_WSA "\" xmlns:m=\"urn:m\">"
                      "<s:Header><a:Action>urn:x</a:Action></s:Header>"
                      "<s:Body><m:Order m:id=\"1\"><m:Item/></m:Order></s:Body></s:Envelope>";
    mc_message *m, *again = NULL;
    size_t n;
    const char *body;
    (void)state;
    assert_int_equal(mc_message_parse(&m, env, strlen(env), 0), 0);
    assert_null(mc_message_message_id(m)); /* one-way messages from other stacks */
    body = mc_message_body(m, &n);
    assert_non_null(strstr(body, "xmlns:m=\"urn:m\""));
    assert_int_equal(mc_message_new(&again, "urn:y", body, n), 0);
    mc_message_free(again);
    mc_message_free(m);
}

static void test_faults(void **state)
{
    mc_message *m, *b;
    const char *code, *reason;
    (void)state;
    assert_int_equal(mc_message_new_fault(&m, "Sender", "bad <input>", NULL), 0);
    assert_true(mc_message_is_fault(m));
    b = roundtrip(m);
    assert_true(mc_message_is_fault(b));
    assert_int_equal(mc_message_fault(&code, &reason, b), 0);
    assert_string_equal(code, "Sender");
    assert_string_equal(reason, "bad <input>");
    mc_message_free(b);
    assert_int_equal(mc_message_set_soap_version(m, MC_SOAP11), 0);
    b = roundtrip(m);
    assert_int_equal(mc_message_fault(&code, &reason, b), 0);
    assert_string_equal(code, "Sender"); /* Client maps back */
    mc_message_free(b);
    mc_message_free(m);
    assert_int_equal(mc_message_new_fault(&m, "Oops", "x", NULL), MC_EINVAL);
    assert_int_equal(mc_message_new(&m, "urn:a", "<a/>", 4), 0);
    assert_int_equal(mc_message_fault(&code, &reason, m), MC_ENOTFOUND);
    assert_int_equal(mc_message_body_text((char **)&code, m), MC_ENOTFOUND);
    mc_message_free(m);
}

static void test_reply(void **state)
{
    mc_message *req, *rep;
    (void)state;
    assert_int_equal(mc_message_new(&req, "urn:q", "<q/>", 4), 0);
    assert_int_equal(mc_message_set_reply_to(req, "net.mail://back#c@d"), 0);
    assert_int_equal(mc_message_set_property(req, MC_PROP_MAIL_MESSAGE_ID, "<m1@d>"), 0);
    assert_int_equal(mc_message_create_reply(&rep, req, "urn:r", "<r/>", 4), 0);
    assert_string_equal(mc_message_relates_to(rep), mc_message_message_id(req));
    assert_string_equal(mc_message_to(rep), "net.mail://back#c@d");
    assert_string_not_equal(mc_message_message_id(rep), mc_message_message_id(req));
    mc_message_free(rep);
    /* without ReplyTo or From: the sender's mailbox, same channel */
    assert_int_equal(mc_message_set_reply_to(req, NULL), 0);
    assert_int_equal(mc_message_set_property(req, MC_PROP_FROM_EMAIL, "c@d"), 0);
    assert_int_equal(mc_message_set_property(req, MC_PROP_CHANNEL, "orders"), 0);
    assert_int_equal(mc_message_create_reply(&rep, req, "urn:r", NULL, 0), 0);
    assert_string_equal(mc_message_to(rep), "net.mail://orders#c@d");
    mc_message_free(rep);
    mc_message_free(req);
}

static void expect_parse_error(const char *xml, int code, const char *fragment)
{
    mc_message *m = NULL;
    int rc = mc_message_parse(&m, xml, strlen(xml), 4096);
    assert_int_equal(rc, code);
    assert_null(m);
    if (fragment && !strstr(mc_error_last(), fragment))
        fail_msg("error \"%s\" does not mention \"%s\"", mc_error_last(), fragment);
}

#define ENV_OPEN "<s:Envelope xmlns:s=\"" MC_NS_SOAP12 "\" xmlns:a=\"" MC_NS_WSA "\">"
static void test_bad_envelopes(void **state)
{
    char *deep, *big;
    (void)state;
    expect_parse_error("", MC_EPROTO, "empty");
    expect_parse_error("not xml at all", MC_EPROTO, "well-formed");
    expect_parse_error(ENV_OPEN "<s:Header><a:Action>x</a:Action>", MC_EPROTO, "well-formed");
    expect_parse_error("<x/>", MC_EPROTO, "not a SOAP envelope");
    expect_parse_error("<s:Envelope xmlns:s=\"urn:other\"><s:Body/></s:Envelope>", MC_EPROTO, "namespace");
    expect_parse_error(ENV_OPEN "<s:Header/></s:Envelope>", MC_EPROTO, "no Body");
    expect_parse_error(ENV_OPEN "<s:Body/></s:Envelope>", MC_EPROTO, "Action");
    expect_parse_error(
        ENV_OPEN "<s:Header><a:Action>x</a:Action><a:Action>y</a:Action></s:Header><s:Body/></s:Envelope>",
        MC_EPROTO, "duplicate");
    expect_parse_error(ENV_OPEN "<s:Body/><s:Body/></s:Envelope>", MC_EPROTO, "unexpected");
    expect_parse_error(ENV_OPEN
                       "<s:Header><a:ReplyTo/><a:Action>x</a:Action></s:Header><s:Body/></s:Envelope>",
                       MC_EPROTO, "Address");
    expect_parse_error(ENV_OPEN "<s:Body><u:x/></s:Body></s:Envelope>", MC_EPROTO, NULL);
    /* DTDs: external entities, entity expansion bombs, any DOCTYPE */
    expect_parse_error(
        "<?xml version=\"1.0\"?><!DOCTYPE s [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>" ENV_OPEN
        "<s:Header><a:Action>&x;</a:Action></s:Header><s:Body/></s:Envelope>",
        MC_EPROTO, "DTD");
    expect_parse_error("<!DOCTYPE s [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
                       "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d "
                       "\"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">]>" ENV_OPEN
                       "<s:Header><a:Action>&d;</a:Action></s:Header><s:Body/></s:Envelope>",
                       MC_EPROTO, "DTD");
    expect_parse_error("<!DOCTYPE s SYSTEM \"http://127.0.0.1:1/x.dtd\">" ENV_OPEN "<s:Body/></s:Envelope>",
                       MC_EPROTO, "DTD");
    /* an undeclared entity is not expanded either */
    expect_parse_error(ENV_OPEN "<s:Header><a:Action>&x;</a:Action></s:Header><s:Body/></s:Envelope>",
                       MC_EPROTO, NULL);
    /* nesting bomb */
    deep = malloc(200 * 7 + 200);
    strcpy(deep, ENV_OPEN "<s:Header><a:Action>x</a:Action></s:Header><s:Body>");
    for (int i = 0; i < 150; i++)
        strcat(deep, "<d>");
    strcat(deep, "</s:Body></s:Envelope>");
    expect_parse_error(deep, MC_EPROTO, "deeper");
    free(deep);
    /* over the size limit: refused before parsing */
    big = malloc(8192);
    memset(big, ' ', 8191);
    big[8191] = '\0';
    expect_parse_error(big, MC_ETOOBIG, "over the limit");
    free(big);
}

/* an envelope at the default limit, expected refused for `fragment`, or
 * accepted with its body intact when fragment is NULL */
static void expect_big(char *env, size_t len, const char *fragment)
{
    mc_message *m = NULL;
    int rc = mc_message_parse(&m, env, len, 65536);
    assert_true(len > 60000 && len <= 65536);
    if (!fragment) {
        if (rc)
            fail_msg("refused: %s", mc_error_last());
        assert_non_null(strstr(env, mc_message_body(m, NULL))); /* the body, unchanged */
        mc_message_free(m);
    } else {
        assert_int_equal(rc, MC_EPROTO);
        assert_null(m);
        if (!strstr(mc_error_last(), fragment))
            fail_msg("error \"%s\" does not mention \"%s\"", mc_error_last(), fragment);
    }
    free(env);
}

static void expect_parse_ok(const char *xml)
{
    mc_message *m = NULL;
    if (mc_message_parse(&m, xml, strlen(xml), 65536))
        fail_msg("refused: %s", mc_error_last());
    mc_message_free(m);
}

/* an element with n attributes, `ns` of them namespace declarations, each
 * value `value` */
static char *element_with(unsigned n, unsigned ns, const char *value)
{
    hi_buf b = {0};
    size_t len;
    hi_puts(&b, ENV_OPEN "<s:Header><a:Action>x</a:Action></s:Header><s:Body><d");
    for (unsigned i = 0; i < n; i++)
        hi_printf(&b, i < ns ? " xmlns:p%u=\"%s\"" : " a%u=\"%s\"", i, value);
    hi_puts(&b, "/></s:Body></s:Envelope>");
    return hi_done(&b, &len);
}

/* Inputs on which libxml2 2.9 is quadratic are refused before it sees them,
 * with the reason; the largest legitimate ones pass. */
static void test_hostile_envelopes(void **state)
{
    size_t len;
    char *x;
    (void)state;
    /* one element with thousands of attributes, declarations, prefixed attributes */
    x = hi_env_attributes(65536, 0, &len);
    expect_big(x, len, "more than 64 attributes");
    x = hi_env_ns_declarations(65536, &len);
    expect_big(x, len, "more than 64 attributes");
    x = hi_env_prefixed_attributes(65536, &len);
    expect_big(x, len, "more than 64 attributes");
    /* namespaces piling up in scope, 64 or 8 per level */
    x = hi_env_ns_scope(65536, 60, 64, &len);
    expect_big(x, len, "more than 128 namespace declarations in scope");
    x = hi_env_ns_scope(65536, 60, 8, &len);
    expect_big(x, len, "more than 128 namespace declarations in scope");
    /* at the limits: elements of 64 attributes; 128 namespaces in scope */
    x = hi_env_attributes(65536, 64, &len);
    expect_big(x, len, NULL);
    x = hi_env_worst_accepted(65536, &len);
    expect_big(x, len, NULL);

    /* thousands of header blocks: each kept, in order, and cloned */
    {
        mc_message *m = NULL, *c = NULL;
        char last[32];
        size_t blocks = 0;
        x = hi_env_header_blocks(65536, &len);
        for (const char *p = x; (p = strstr(p, "<h")); p++)
            blocks++;
        assert_true(blocks > 3000);
        assert_int_equal(mc_message_parse(&m, x, len, 65536), 0);
        assert_int_equal(mc_message_header_count(m), blocks);
        assert_string_equal(mc_message_header(m, 0), "<h0 xmlns=\"urn:h\"/>");
        snprintf(last, sizeof(last), "<h%zx xmlns=\"urn:h\"/>", blocks - 1);
        assert_string_equal(mc_message_header(m, blocks - 1), last);
        assert_int_equal(mc_message_clone(&c, m), 0);
        assert_int_equal(mc_message_header_count(c), blocks);
        assert_string_equal(mc_message_header(c, blocks - 1), last);
        mc_message_free(c);
        mc_message_free(m);
        free(x);
    }
    /* exactly at the attribute limit, namespace declarations included */
    x = element_with(64, 0, "v");
    expect_parse_ok(x);
    free(x);
    x = element_with(64, 10, "urn:v");
    expect_parse_ok(x);
    free(x);
    x = element_with(65, 0, "v");
    expect_parse_error(x, MC_EPROTO, "more than 64 attributes");
    free(x);
    x = element_with(65, 1, "urn:v");
    expect_parse_error(x, MC_EPROTO, "more than 64 attributes");
    free(x);
    /* '=', '>' and the other quote inside values are not attributes */
    x = element_with(64, 0, "a=b>c=d'e=f");
    expect_parse_ok(x);
    free(x);
    /* exactly 128 namespaces in scope (the Envelope declares s and a) */
    {
        hi_buf b = {0};
        hi_puts(&b, ENV_OPEN "<s:Header><a:Action>x</a:Action></s:Header><s:Body><d");
        for (unsigned i = 0; i < 63; i++)
            hi_printf(&b, " xmlns:p%u=\"urn:p%u\"", i, i);
        hi_puts(&b, "><e");
        for (unsigned i = 0; i < 63; i++)
            hi_printf(&b, " xmlns:q%u=\"urn:q%u\"", i, i);
        hi_puts(&b, "><p0:f/></e></d></s:Body></s:Envelope>");
        expect_parse_ok(hi_done(&b, &len));
        /* one more, on a child */
        strcpy(strstr(b.data, "<p0:f/>"), "<p0:f xmlns:r=\"urn:r\"/></e></d></s:Body></s:Envelope>");
        expect_parse_error(b.data, MC_EPROTO, "more than 128 namespace declarations in scope");
        free(b.data);
    }
    /* a tag hidden in what a well-formed parser would read as a comment,
     * a CDATA section or a processing instruction still counts: libxml2
     * goes on after a broken one */
    {
        const char *wrap[][2] = {{"<!-- \x01 ", " -->"}, {"<![CDATA[ ", " ]]>"}, {"<? ", " ?>"}};
        for (size_t w = 0; w < 3; w++) {
            hi_buf b = {0};
            hi_puts(&b, ENV_OPEN "<s:Header><a:Action>x</a:Action></s:Header><s:Body>");
            hi_puts(&b, wrap[w][0]);
            hi_puts(&b, "<d");
            for (unsigned i = 0; i < 65; i++)
                hi_printf(&b, " a%u=\"\"", i);
            hi_puts(&b, "/>");
            hi_puts(&b, wrap[w][1]);
            hi_puts(&b, "</s:Body></s:Envelope>");
            expect_parse_error(hi_done(&b, &len), MC_EPROTO, "more than 64 attributes");
            free(b.data);
        }
    }
    /* after a well-formedness error the limits still hold: a DTD after a
     * broken XML declaration is still refused as a DTD */
    expect_parse_error("<?xml version=\"1.0\" bogus?><!DOCTYPE s [<!ATTLIST d a CDATA \"x\">]>" ENV_OPEN
                       "<s:Body/></s:Envelope>",
                       MC_EPROTO, "DTD");
    /* the pre-scan reads UTF-8, so the parser does too: an encoding
     * declaration cannot hide the markup (UTF-7 here), UTF-16 is refused */
    expect_parse_error("<?xml version=\"1.0\" encoding=\"UTF-7\"?>+ADw-s:Envelope xmlns:s=+ACI-" MC_NS_SOAP12
                       "+ACI- xmlns:a=+ACI-" MC_NS_WSA
                       "+ACI-+AD4APA-s:Header+AD4APA-a:Action+AD4-x+ADw-/a:Action+AD4-"
                       "+ADw-/s:Header+AD4APA-s:Body/+AD4APA-/s:Envelope+AD4-",
                       MC_EPROTO, "well-formed");
    {
        static const char utf16[] = "\xff\xfe<\0s\0:\0E\0"; /* BOM, then "<s:E" in UTF-16LE */
        mc_message *m = NULL;
        assert_int_equal(mc_message_parse(&m, utf16, sizeof(utf16) - 1, 0), MC_EPROTO);
        assert_non_null(strstr(mc_error_last(), "not UTF-8"));
    }
    expect_parse_ok("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>" ENV_OPEN
                    "<s:Header><a:Action>x</a:Action></s:Header><s:Body/></s:Envelope>");
    /* and the first error is the one reported */
    expect_parse_error(ENV_OPEN "<s:Header><a:Action>x</a:Action></s:Header><s:Body><d a=\"1\"b=\"2\"/>"
                                "<e></f></s:Body></s:Envelope>",
                       MC_EPROTO, "attributes construct error");
}

static void test_bad_fragments_and_misuse(void **state)
{
    mc_message *m = NULL;
    (void)state;
    assert_int_equal(mc_message_new(&m, "urn:a", "<a>", 3), MC_EPROTO);
    assert_int_equal(mc_message_new(&m, "urn:a", "text", 4), MC_EPROTO);
    assert_int_equal(mc_message_new(&m, "urn:a", "<p:a/>", 6), MC_EPROTO); /* undeclared prefix */
    assert_int_equal(mc_message_new(&m, "urn:a", "<a/></mc-fragment><b>", 21), MC_EPROTO);
    assert_int_equal(mc_message_new(&m, "urn:a", "<!DOCTYPE a><a/>", 16), MC_EPROTO);
    assert_int_equal(mc_message_new(&m, "", "<a/>", 4), MC_EINVAL);
    assert_int_equal(mc_message_new(&m, NULL, "<a/>", 4), MC_EINVAL);
    assert_int_equal(mc_message_new(NULL, "urn:a", "<a/>", 4), MC_EINVAL);
    assert_int_equal(mc_message_new(&m, "urn:a", NULL, 4), MC_EINVAL);
    assert_int_equal(mc_message_new_text(&m, "urn:a", "bad \x01 char"), MC_EINVAL);
    assert_int_equal(mc_message_new_text(&m, "urn:a", "bad \xff utf8"), MC_EINVAL);
    assert_null(m);
    assert_int_equal(mc_message_parse(NULL, "x", 1, 0), MC_EINVAL);
    assert_int_equal(mc_message_parse(&m, NULL, 1, 0), MC_EINVAL);
    assert_int_equal(mc_message_set_action(NULL, "x"), MC_EINVAL);
    assert_int_equal(mc_message_new(&m, "urn:a", "", 0), 0);
    assert_int_equal(mc_message_set_action(m, NULL), MC_EINVAL);
    assert_int_equal(mc_message_set_message_id(m, ""), MC_EINVAL);
    assert_int_equal(mc_message_add_header(m, "<a/><b/>", 8), MC_EPROTO);
    assert_int_equal(mc_message_add_header(m, NULL, 0), MC_EINVAL);
    assert_int_equal(mc_message_set_property(m, "k", "v"), 0);
    assert_string_equal(mc_message_property(m, "k"), "v");
    assert_int_equal(mc_message_set_property(m, "k", NULL), 0);
    assert_null(mc_message_property(m, "k"));
    assert_null(mc_message_action(NULL));
    mc_message_free(m);
    mc_message_free(NULL);
    assert_string_equal(mc_strerror(MC_EPROTO), "protocol error or malformed data");
    assert_string_equal(mc_strerror(12345), "unknown error");
}

static void test_clone(void **state)
{
    mc_message *m, *c;
    (void)state;
    assert_int_equal(mc_message_new(&m, "urn:a", BODY, strlen(BODY)), 0);
    assert_int_equal(mc_message_add_header(m, "<h xmlns=\"urn:h\"/>", 18), 0);
    assert_int_equal(mc_message_set_property(m, MC_PROP_FROM_EMAIL, "x@y"), 0);
    assert_int_equal(mc_message_set_expiry(m, 12345), 0);
    assert_int_equal(mc_message_clone(&c, m), 0);
    mc_message_free(m);
    assert_string_equal(mc_message_body(c, NULL), BODY);
    assert_string_equal(mc_message_property(c, MC_PROP_FROM_EMAIL), "x@y");
    assert_int_equal(mc_message_header_count(c), 1);
    assert_int_equal(mc_message_expiry(c), 12345);
    mc_message_free(c);
}

/* counted inputs also take NUL-terminated strings (MC_NUL_TERMINATED) */
static void test_nul_terminated(void **state)
{
    mc_message *m, *p;
    char *env;
    size_t len;
    (void)state;
    assert_int_equal(mc_message_new(&m, "urn:a", BODY, MC_NUL_TERMINATED), 0);
    assert_string_equal(mc_message_body(m, &len), BODY);
    assert_int_equal(len, strlen(BODY));
    assert_int_equal(mc_message_add_header(m, "<h xmlns=\"urn:h\"/>", MC_NUL_TERMINATED), 0);
    assert_int_equal(mc_message_set_body(m, "<b xmlns=\"urn:b\"/>", MC_NUL_TERMINATED), 0);
    assert_string_equal(mc_message_body(m, NULL), "<b xmlns=\"urn:b\"/>");
    assert_int_equal(mc_message_serialize(&env, &len, m), 0);
    assert_int_equal(mc_message_parse(&p, env, MC_NUL_TERMINATED, 0), 0);
    assert_string_equal(mc_message_body(p, NULL), "<b xmlns=\"urn:b\"/>");
    assert_int_equal(mc_message_header_count(p), 1);
    mc_message_free(p);
    mc_free(env);
    /* an empty string is an empty body; a NULL body with it too */
    assert_int_equal(mc_message_set_body(m, "", MC_NUL_TERMINATED), 0);
    assert_string_equal(mc_message_body(m, NULL), "");
    mc_message_free(m);
    assert_int_equal(mc_message_new(&m, "urn:a", NULL, MC_NUL_TERMINATED), 0);
    mc_message_free(m);
    /* malformed text is still refused, and outputs stay untouched */
    p = (mc_message *)0x1;
    assert_int_equal(mc_message_new(&p, "urn:a", "<a>", MC_NUL_TERMINATED), MC_EPROTO);
    assert_ptr_equal(p, (mc_message *)0x1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_soap12),
        cmocka_unit_test(test_roundtrip_soap11_text),
        cmocka_unit_test(test_body_namespaces_from_envelope),
        cmocka_unit_test(test_faults),
        cmocka_unit_test(test_reply),
        cmocka_unit_test(test_bad_envelopes),
        cmocka_unit_test(test_hostile_envelopes),
        cmocka_unit_test(test_bad_fragments_and_misuse),
        cmocka_unit_test(test_clone),
        cmocka_unit_test(test_nul_terminated),
    };
    mc_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
