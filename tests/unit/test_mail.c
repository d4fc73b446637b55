/* test_mail.c - the mail framing of docs/wire-format.md, both directions. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "helpers.h"
#include "tests/bench/hostile_inputs.h"

static void test_subject_parse(void **state)
{
    char *ch = NULL;
    int64_t exp = -1;
    (void)state;
    assert_int_equal(mc_subject_parse(&ch, &exp, "[net.mail] orders", 17), 0);
    assert_string_equal(ch, "orders");
    assert_int_equal(exp, 0);
    mc_free(ch);
    {
        const char *s = "Re: Fwd: [list] [net.mail] orders;ttl=2030-01-02T03:04:05Z;prio=high";
        assert_int_equal(mc_subject_parse(&ch, &exp, s, strlen(s)), 0);
        assert_string_equal(ch, "orders");
        assert_int_equal(exp, 1893553445);
        mc_free(ch);
    }
    {
        const char *s = "[net.mail] o;ttl=2030-01-02T05:04:05.250+02:00";
        assert_int_equal(mc_subject_parse(NULL, &exp, s, strlen(s)), 0);
        assert_int_equal(exp, 1893553445);
    }
    { /* RFC 2047, folded, Q and B */
        const char *s = "=?utf-8?B?W25ldC5tYWlsXSDDqWNo?=\r\n =?utf-8?Q?=C3=B8?=";
        assert_int_equal(mc_subject_parse(&ch, NULL, s, strlen(s)), 0);
        assert_string_equal(ch, "\xc3\xa9"
                                "ch\xc3\xb8");
        mc_free(ch);
    }
    assert_int_equal(mc_subject_parse(&ch, NULL, "Hello", 5), MC_ENOTFOUND);
    assert_int_equal(mc_subject_parse(&ch, NULL, "", 0), MC_ENOTFOUND);
    assert_int_equal(mc_subject_parse(&ch, NULL, "[net.mail]", 10), MC_EPROTO);
}

static void test_subject_malformed(void **state)
{
    static const char *bad[] = {
        "[net.mail]orders",
        "[net.mail] ",
        "[net.mail] or ders",
        "[net.mail] or#ders",
        "[net.mail] or=ders",
        "[net.mail] orders;",
        "[net.mail] orders;ttl",
        "[net.mail] orders;=x",
        "[net.mail] orders;ttl=",
        "[net.mail] orders;ttl=tomorrow",
        "[net.mail] orders;ttl=2030-13-01T00:00:00Z",
        "[net.mail] orders;ttl=2030-01-01T00:00:00Z;ttl=2030-01-01T00:00:00Z",
        "[net.mail] orders;k y=1",
        "[net.mail] =?utf-8?Q?bad",
        "[net.mail] =?utf-8?B?!!!?=",
        "[net.mail] \x01x",
        "[net.mail] a\xff",
    };
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *ch = NULL;
        int rc = mc_subject_parse(&ch, NULL, bad[i], strlen(bad[i]));
        if (rc != MC_EPROTO)
            fail_msg("\"%s\" gave %d (%s), expected MC_EPROTO", bad[i], rc, ch ? ch : "");
        assert_null(ch);
    }
}

static void test_subject_format(void **state)
{
    char *s, *ch;
    int64_t exp;
    (void)state;
    assert_int_equal(mc_subject_format(&s, "orders", 1893553445), 0);
    assert_string_equal(s, "[net.mail] orders;ttl=2030-01-02T03:04:05Z");
    mc_free(s);
    /* a long non-ASCII name: several encoded words of at most 75 octets each */
    {
        char name[256] = "";
        for (int i = 0; i < 40; i++)
            strcat(name, "\xc3\xa9\xe2\x82\xac");
        assert_int_equal(mc_subject_format(&s, name, 0), 0);
        for (char *w = s; (w = strstr(w, "=?utf-8?B?")); w++)
            assert_true(strstr(w, "?=") - w + 2 <= 75);
        for (char *p = s; *p; p++)
            assert_true((unsigned char)*p < 0x80);
        assert_int_equal(mc_subject_parse(&ch, &exp, s, strlen(s)), 0);
        assert_string_equal(ch, name);
        mc_free(ch);
        mc_free(s);
    }
    assert_int_equal(mc_subject_format(&s, "bad name", 0), MC_EINVAL);
}

static mc_message *sample(size_t body_bytes)
{
    mc_message *m;
    char *body = malloc(body_bytes + 64);
    size_t n;
    strcpy(body, "<d xmlns=\"urn:d\">");
    n = strlen(body);
    while (n < body_bytes) { /* lines far longer than 998 octets */
        body[n] = "abcdefghij"[n % 10];
        n++;
    }
    strcpy(body + n, "</d>");
    assert_int_equal(mc_message_new(&m, "urn:test:Act", body, strlen(body)), 0);
    free(body);
    return m;
}

static void check_wire(const char *mail)
{
    size_t line = 0;
    for (const char *p = mail; *p; p++) {
        assert_true((unsigned char)*p < 0x80); /* 7-bit clean */
        if (*p == '\n') {
            assert_true(p > mail && p[-1] == '\r');
            line = 0;
        } else {
            assert_true(++line <= 998);
        }
    }
}

static const char *to[] = {"svc@example.org", "copy@example.org"};

static mc_mail_info *frame_and_classify(mc_message *m, mc_container_type c, const char *channel,
                                        const char *in_reply_to, char **mail_out)
{
    mc_mail_frame_options o = MC_MAIL_FRAME_OPTIONS_INIT;
    char *mail, *mid;
    size_t len;
    mc_mail_info *info;
    o.from = "client@example.org";
    o.to = to;
    o.to_count = 2;
    o.channel = channel;
    o.container = c;
    o.in_reply_to = in_reply_to;
    assert_int_equal(mc_mail_frame(&mail, &len, &mid, m, &o), 0);
    check_wire(mail);
    assert_int_equal(mc_mail_classify(&info, mail, len, 0, 0), 0);
    if (info->kind == MC_MAIL_OK)
        assert_string_equal(info->mail_message_id, mid);
    mc_free(mid);
    if (mail_out)
        *mail_out = mail;
    else
        mc_free(mail);
    return info;
}

static void test_frame_body_and_attachment(void **state)
{
    mc_message *small = sample(500), *large = sample(5000);
    mc_mail_info *i;
    char *mail;
    (void)state;
    i = frame_and_classify(small, MC_CONTAINER_DEFAULT, "orders", NULL, &mail);
    assert_int_equal(i->kind, MC_MAIL_OK);
    assert_string_equal(i->channel, "orders");
    assert_string_equal(i->from, "client@example.org");
    assert_non_null(strstr(mail, "\r\nSubject: [net.mail] orders\r\n"));
    assert_non_null(strstr(mail, "\r\nX-Net-Mail-Channel: orders\r\n"));
    assert_non_null(strstr(mail, "\r\nMIME-Version: 1.0\r\n"));
    assert_non_null(strstr(mail, "To: svc@example.org, copy@example.org"));
    assert_non_null(
        strstr(mail, "Content-Type: application/soap+xml; charset=\"utf-8\"; action=\"urn:test:Act\""));
    assert_null(strstr(mail, "multipart"));
    assert_string_equal(mc_message_property(i->message, MC_PROP_FROM_EMAIL), "client@example.org");
    assert_string_equal(mc_message_property(i->message, MC_PROP_CHANNEL), "orders");
    assert_non_null(mc_message_property(i->message, MC_PROP_RECEIVED_TIME));
    assert_string_equal(mc_message_body(i->message, NULL), mc_message_body(small, NULL));
    mc_mail_info_free(i);
    mc_free(mail);
    i = frame_and_classify(large, MC_CONTAINER_DEFAULT, "orders", NULL, &mail);
    assert_int_equal(i->kind, MC_MAIL_OK);
    assert_non_null(strstr(mail, "multipart/mixed"));
    assert_non_null(strstr(mail, "filename=\"message.xml\""));
    assert_non_null(strstr(mail, "text/plain"));
    assert_string_equal(mc_message_body(i->message, NULL), mc_message_body(large, NULL));
    mc_mail_info_free(i);
    mc_free(mail);
    i = frame_and_classify(small, MC_CONTAINER_ATTACHMENT, "orders", NULL, &mail);
    assert_non_null(strstr(mail, "multipart/mixed"));
    assert_int_equal(i->kind, MC_MAIL_OK);
    mc_mail_info_free(i);
    mc_free(mail);
    i = frame_and_classify(large, MC_CONTAINER_BODY, "orders", NULL, &mail);
    assert_null(strstr(mail, "multipart"));
    assert_int_equal(i->kind, MC_MAIL_OK);
    mc_mail_info_free(i);
    mc_free(mail);
    /* SOAP 1.1 travels as text/xml */
    assert_int_equal(mc_message_set_soap_version(small, MC_SOAP11), 0);
    i = frame_and_classify(small, MC_CONTAINER_BODY, "orders", NULL, &mail);
    assert_non_null(strstr(mail, "Content-Type: text/xml; charset=\"utf-8\""));
    assert_int_equal(mc_message_soap_version(i->message), MC_SOAP11);
    mc_mail_info_free(i);
    mc_free(mail);
    mc_message_free(small);
    mc_message_free(large);
}

static void test_reply_headers_and_utf8_channel(void **state)
{
    mc_message *m = sample(100);
    mc_mail_info *i;
    char *mail;
    (void)state;
    i = frame_and_classify(m, MC_CONTAINER_DEFAULT, "r\xc3\xa9ponse", "<req-1@example.org>", &mail);
    assert_int_equal(i->kind, MC_MAIL_OK);
    assert_string_equal(i->channel, "r\xc3\xa9ponse");
    assert_string_equal(i->in_reply_to, "<req-1@example.org>");
    assert_non_null(strstr(mail, "In-Reply-To: <req-1@example.org>"));
    assert_non_null(strstr(mail, "References: <req-1@example.org>"));
    assert_non_null(strstr(mail, "X-Net-Mail-Channel: =?utf-8?B?"));
    mc_mail_info_free(i);
    mc_free(mail);
    mc_message_free(m);
}

static void test_expiry(void **state)
{
    mc_message *m = sample(100);
    mc_mail_info *i;
    (void)state;
    assert_int_equal(mc_message_set_expiry(m, (int64_t)time(NULL) + 3600), 0);
    i = frame_and_classify(m, MC_CONTAINER_DEFAULT, "orders", NULL, NULL);
    assert_int_equal(i->kind, MC_MAIL_OK);
    assert_int_equal(mc_message_expiry(i->message), mc_message_expiry(m));
    mc_mail_info_free(i);
    assert_int_equal(mc_message_set_expiry(m, (int64_t)time(NULL) - 10), 0);
    i = frame_and_classify(m, MC_CONTAINER_DEFAULT, "orders", NULL, NULL);
    assert_int_equal(i->kind, MC_MAIL_EXPIRED);
    assert_null(i->message);
    mc_mail_info_free(i);
    mc_message_free(m);
}

static mc_mail_info *classify(const char *mail)
{
    mc_mail_info *i = NULL;
    assert_int_equal(mc_mail_classify(&i, mail, strlen(mail), 4096, 0), 0);
    return i;
}

#define HDRS(subject) "From: a@b.c\r\nTo: d@e.f\r\nMessage-ID: <x@b.c>\r\nSubject: " subject "\r\n"
static void test_classify_bad_mail(void **state)
{
    mc_mail_info *i;
    (void)state;
    i = classify(HDRS("lunch?") "\r\nhi\r\n");
    assert_int_equal(i->kind, MC_MAIL_NOT_OURS);
    mc_mail_info_free(i);
    i = classify("From: a@b.c\r\n\r\nno subject\r\n");
    assert_int_equal(i->kind, MC_MAIL_NOT_OURS);
    mc_mail_info_free(i);
    i = classify("\x01\x02 garbage");
    assert_int_equal(i->kind, MC_MAIL_NOT_OURS);
    mc_mail_info_free(i);
    i = classify(HDRS("[net.mail] bad channel") "\r\n");
    assert_int_equal(i->kind, MC_MAIL_MALFORMED);
    assert_non_null(i->reason);
    mc_mail_info_free(i);
    i = classify(HDRS("[net.mail] c;ttl=never") "\r\n");
    assert_int_equal(i->kind, MC_MAIL_MALFORMED);
    mc_mail_info_free(i);
    /* stamped but the envelope is missing, corrupt, truncated or too big */
    i = classify(HDRS("[net.mail] c") "Content-Type: text/plain\r\n\r\nhello\r\n");
    assert_int_equal(i->kind, MC_MAIL_INVALID);
    assert_string_equal(i->channel, "c");
    mc_mail_info_free(i);
    i = classify(
        HDRS("[net.mail] c") "Content-Type: application/soap+xml\r\n\r\n<s:Envelope xmlns:s=\"" MC_NS_SOAP12
                             "\"><s:Bo");
    assert_int_equal(i->kind, MC_MAIL_INVALID);
    assert_int_equal(i->error, MC_EPROTO);
    mc_mail_info_free(i);
    i = classify(HDRS("[net.mail] c") "Content-Type: application/soap+xml\r\nContent-Transfer-Encoding: "
                                      "base64\r\n\r\n!!!!\r\n");
    assert_int_equal(i->kind, MC_MAIL_INVALID);
    mc_mail_info_free(i);
    i = classify(
        HDRS("[net.mail] c") "Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n--zz\r\nContent-Type: "
                             "text/plain\r\n\r\nx\r\n--zz");
    assert_int_equal(i->kind, MC_MAIL_INVALID);
    mc_mail_info_free(i);
    i = classify(HDRS("[net.mail] c") "Content-Type: application/soap+xml\r\n\r\n<!DOCTYPE x [<!ENTITY e "
                                      "SYSTEM \"file:///etc/passwd\">]><x>&e;</x>");
    assert_int_equal(i->kind, MC_MAIL_INVALID);
    assert_non_null(strstr(i->reason, "DTD"));
    mc_mail_info_free(i);
    {
        mc_message *m = sample(6000);
        mc_mail_frame_options o = MC_MAIL_FRAME_OPTIONS_INIT;
        char *mail;
        size_t len;
        o.from = "a@b.c";
        o.to = to;
        o.to_count = 1;
        o.channel = "c";
        assert_int_equal(mc_mail_frame(&mail, &len, NULL, m, &o), 0);
        assert_int_equal(mc_mail_classify(&i, mail, len, 4096, 0), 0);
        assert_int_equal(i->kind, MC_MAIL_INVALID);
        assert_int_equal(i->error, MC_ETOOBIG);
        mc_mail_info_free(i);
        /* truncated anywhere: never a crash, never OK with a different body */
        for (size_t cut = 0; cut < len; cut += 97) {
            assert_int_equal(mc_mail_classify(&i, mail, cut, 0, 0), 0);
            if (i->kind == MC_MAIL_OK)
                assert_string_equal(mc_message_body(i->message, NULL), mc_message_body(m, NULL));
            mc_mail_info_free(i);
        }
        mc_free(mail);
        mc_message_free(m);
    }
    assert_int_equal(mc_mail_classify(NULL, "x", 1, 0, 0), MC_EINVAL);
}

/* a mail at the largest size read whole at the default limit (1.5 x 65536
 * + 64 KiB), classified with the default limit */
static mc_mail_info *classify_big(char *mail, size_t len)
{
    mc_mail_info *i = NULL;
    assert_true(len > 150000 && len <= 163840);
    assert_int_equal(mc_mail_classify(&i, mail, len, 65536, 0), 0);
    free(mail);
    return i;
}

static void expect_invalid(mc_mail_info *i, int code, const char *fragment)
{
    assert_int_equal(i->kind, MC_MAIL_INVALID);
    assert_int_equal(i->error, code);
    assert_string_equal(i->channel, "c");
    if (!strstr(i->reason, fragment))
        fail_msg("reason \"%s\" does not mention \"%s\"", i->reason, fragment);
    mc_mail_info_free(i);
}

/* a stamped mail: a multipart/mixed of `alternatives` multipart/alternative
 * parts and then the envelope (containers: alternatives + 1) */
static char *mail_with_containers(unsigned alternatives)
{
    hi_buf b = {0};
    size_t len;
    hi_puts(&b, HI_MAIL_HEAD "Content-Type: multipart/mixed; boundary=\"out\"\r\n\r\n");
    for (unsigned i = 0; i < alternatives; i++)
        hi_puts(&b, "--out\r\nContent-Type: multipart/alternative; boundary=\"in\"\r\n\r\n"
                    "--in\r\nContent-Type: text/plain\r\n\r\nhello\r\n--in--\r\n");
    hi_puts(&b, "--out\r\nContent-Type: application/soap+xml\r\n\r\n"
                "<s:Envelope xmlns:s=\"" MC_NS_SOAP12 "\" xmlns:a=\"" MC_NS_WSA "\">"
                "<s:Header><a:Action>urn:x</a:Action></s:Header><s:Body/></s:Envelope>\r\n--out--\r\n");
    return hi_done(&b, &len);
}

/* Mails on which libetpan or libxml2 would take time quadratic in their
 * size are invalid before either parses them, with the reason; the
 * largest legitimate ones still pass. */
static void test_classify_hostile_mail(void **state)
{
    size_t len, elen;
    char *env, *mail;
    mc_mail_info *i;
    (void)state;
    /* multiparts or message/rfc822 parts nested as deep as fit */
    mail = hi_mail_nested(163840, 10, 0, 100000, &len);
    i = classify_big(mail, len);
    expect_invalid(i, MC_EPROTO, "more than 16 multipart or message/rfc822 parts");
    mail = hi_mail_nested(163840, 70, 0, 100000, &len);
    i = classify_big(mail, len);
    expect_invalid(i, MC_EPROTO, "more than 16 multipart or message/rfc822 parts");
    mail = hi_mail_nested(163840, 10, 1, 100000, &len);
    i = classify_big(mail, len);
    expect_invalid(i, MC_EPROTO, "more than 16 multipart or message/rfc822 parts");
    /* 16 nested: past the limit of the MIME depth searched, but parsed */
    mail = hi_mail_nested(163840, 70, 0, 16, &len);
    i = classify_big(mail, len);
    expect_invalid(i, MC_EPROTO, "no SOAP envelope part");
    /* an envelope at the limit with one element of thousands of attributes */
    env = hi_env_attributes(65536, 0, &elen);
    mail = hi_mail_with_envelope(env, elen, &len);
    free(env);
    assert_int_equal(mc_mail_classify(&i, mail, len, 65536, 0), 0);
    free(mail);
    expect_invalid(i, MC_EPROTO, "more than 64 attributes");
    /* the costliest envelope that passes, in a mail filled up with recipients */
    env = hi_env_worst_accepted(65536, &elen);
    mail = hi_mail_with_envelope_and_recipients(env, elen, 163840, &len);
    i = classify_big(mail, len);
    free(env);
    if (i->kind != MC_MAIL_OK)
        fail_msg("%s: %s", mc_mail_class_name(i->kind), i->reason);
    mc_mail_info_free(i);
    /* 16 containers pass, 17 do not */
    mail = mail_with_containers(15);
    i = classify(mail);
    free(mail);
    if (i->kind != MC_MAIL_OK)
        fail_msg("%s: %s", mc_mail_class_name(i->kind), i->reason);
    mc_mail_info_free(i);
    mail = mail_with_containers(16);
    i = classify(mail);
    free(mail);
    expect_invalid(i, MC_EPROTO, "more than 16 multipart or message/rfc822 parts");
    /* what the count sees: any case, folded, right after a boundary */
    {
        const char *m =
            HI_MAIL_HEAD "content-TYPE:\r\n\tMultiPart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n";
        hi_buf b = {0};
        for (int k = 0; k < 16; k++) /* and the folded one makes 17 */
            hi_puts(&b, "--bContent-Type: message/rfc822\r\n\r\n\r\n");
        mail = malloc(strlen(m) + b.len + 1);
        strcpy(mail, m);
        strcpy(strstr(mail, "--b\r\n\r\nx"), b.data);
        i = classify(mail);
        expect_invalid(i, MC_EPROTO, "more than 16");
        free(mail);
        free(b.data);
    }
}

static void test_frame_misuse(void **state)
{
    mc_message *m = sample(10);
    mc_mail_frame_options o = MC_MAIL_FRAME_OPTIONS_INIT;
    char *mail = NULL;
    size_t len;
    const char *bad_to[] = {"not an address"};
    (void)state;
    o.from = "a@b.c";
    o.to = to;
    o.to_count = 1;
    o.channel = "c";
    o.version = 99;
    assert_int_equal(mc_mail_frame(&mail, &len, NULL, m, &o), MC_EINVAL);
    assert_int_equal(mc_mail_frame_options_init(&o, 99), MC_EINVAL);
    assert_int_equal(mc_mail_frame_options_init(&o, 0), MC_EINVAL);
    assert_int_equal(mc_mail_frame_options_init(&o, MC_MAIL_FRAME_OPTIONS_VERSION), 0);
    assert_int_equal(o.minimum_attachment_size, 2048);
    assert_null(o.from);
    o.from = "a@b.c";
    o.to = to;
    o.to_count = 1;
    o.channel = "c";
    o.to_count = 0;
    assert_int_equal(mc_mail_frame(&mail, &len, NULL, m, &o), MC_EINVAL);
    o.to = bad_to;
    o.to_count = 1;
    assert_int_equal(mc_mail_frame(&mail, &len, NULL, m, &o), MC_EINVAL);
    o.to = to;
    o.channel = "has space";
    assert_int_equal(mc_mail_frame(&mail, &len, NULL, m, &o), MC_EINVAL);
    o.channel = "c";
    o.from = "Name <a@b.c>";
    assert_int_equal(mc_mail_frame(&mail, &len, NULL, m, &o), MC_EINVAL);
    assert_int_equal(mc_mail_frame(&mail, &len, NULL, NULL, &o), MC_EINVAL);
    assert_null(mail);
    mc_message_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subject_parse),
        cmocka_unit_test(test_subject_malformed),
        cmocka_unit_test(test_subject_format),
        cmocka_unit_test(test_frame_body_and_attachment),
        cmocka_unit_test(test_reply_headers_and_utf8_channel),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_classify_bad_mail),
        cmocka_unit_test(test_classify_hostile_mail),
        cmocka_unit_test(test_frame_misuse),
    };
    mc_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
