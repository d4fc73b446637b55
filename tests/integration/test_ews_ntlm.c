/* test_ews_ntlm.c - the exchange binding with ews_auth = ntlm through a real
 * NTLM acceptor (Apache + mod_auth_gssapi + gss-ntlmssp, tests/ews/ntlm) in
 * front of the EWS responder, which trusts the proxy's X-Authenticated-User
 * (MAILCHAN\ewsuser is bob@example.test there). Run by
 * tests/ews/ntlm/run_test.sh, which starts both and exports their env.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ews_helpers.h"

#define CTL MC_TEST_EWS_DIR "/ewsctl.py"
#define BOB "bob@example.test"

/* the NTLM user as libcurl wants it: DOMAIN\user */
static const char *ntlm_user(void)
{
    static char user[128];
    snprintf(user, sizeof(user), "%s\\%s", test_env("MC_NTLM_DOMAIN"), test_env("MC_NTLM_USER"));
    return user;
}

static mc_binding *ntlm_binding(const char *user, const char *password, const char *interval)
{
    mc_binding *b;
    assert_int_equal(mc_binding_new(&b, "exchange"), 0);
    binding_set(b, "address", BOB);
    binding_set(b, "ews_url", test_env("MC_NTLM_URL"));
    binding_set(b, "tls_ca_file", test_env("MC_NTLM_CA"));
    binding_set(b, "ews_auth", "ntlm");
    binding_set(b, "username", user);
    binding_set(b, "password", password);
    binding_set(b, "server_query_interval", interval);
    binding_set(b, "timeout", "10000");
    return b;
}

/* The proxy's access log, by client connection (its source port): EWS
 * requests answered 401 (an NTLM handshake's first round trip: one per
 * login) and answered otherwise (authenticated). */
typedef struct {
    int port;
    int challenges, served;
} conn;

static int read_access_log(conn *c, int cap, long *from_line)
{
    FILE *f = fopen(test_env("MC_NTLM_ACCESS_LOG"), "r");
    char line[4096];
    long lineno = 0;
    int n = 0;
    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        const char *req = strstr(line, "\"POST /EWS/"), *st = strstr(line, "HTTP/1.1\" "),
                   *pp = strstr(line, "client_port=");
        int port, status, i;
        if (lineno++ < *from_line || !req || !st || !pp)
            continue;
        status = atoi(st + 10);
        port = atoi(pp + 12);
        for (i = 0; i < n && c[i].port != port; i++)
            ;
        if (i == n) {
            assert_true(n < cap);
            c[n++] = (conn){.port = port};
        }
        if (status == 401)
            c[i].challenges++;
        else
            c[i].served++;
    }
    fclose(f);
    *from_line = lineno;
    return n;
}

static long access_log_lines(void)
{
    long n = 0;
    conn c[256];
    read_access_log(c, 256, &n);
    return n;
}

/* bob, logged in with NTLM as MAILCHAN\ewsuser, sends to his own channel
 * (CreateItem + SendItem) and his listener learns of it by the streaming
 * notification (through the proxy) and receives it; then nine more. The
 * responder saw only proxy-authenticated requests without Authorization,
 * and each HTTP connection logged in once: later requests reuse it. */
static void test_ntlm_roundtrip(void **state)
{
    mc_transport *s = transport_of(ntlm_binding(ntlm_user(), test_env("MC_NTLM_PASSWORD"), "60000"));
    mc_transport *r = transport_of(ntlm_binding(ntlm_user(), test_env("MC_NTLM_PASSWORD"), "60000"));
    mc_channel_listener *l;
    mc_input_channel *in;
    long from = access_log_lines(), before = ews_ctl("requests");
    conn c[256];
    int n, busiest = 0, served = 0;
    int64_t t0;
    char *text;
    (void)state;
    open_in(r, "net.mail://ntlm#", &l, &in);
    sleep_ms(500); /* the first query ran and the stream is open: what follows is news */
    t0 = now_ms();
    assert_int_equal(send_text(s, "net.mail://ntlm#" BOB, "over ntlm"), 0);
    text = receive_text(in, 15000);
    assert_string_equal(text, "over ntlm");
    assert_true(now_ms() - t0 < 30000); /* the stream, not the minute's query */
    free(text);
    for (int i = 0; i < 9; i++) {
        char body[32];
        snprintf(body, sizeof(body), "ntlm %d", i);
        assert_int_equal(send_text(s, "net.mail://ntlm#" BOB, body), 0);
        text = receive_text(in, 15000);
        assert_string_equal(text, body);
        free(text);
    }
    assert_int_equal(mc_input_channel_close(in), 0);
    mc_input_channel_free(in);
    mc_channel_listener_free(l);
    mc_transport_free(r);
    mc_transport_free(s);
    assert_int_equal(ews_ctl("count " BOB " 'Service E-mail' '[net.mail] ntlm'"), 0);
    assert_int_equal(ews_ctl("count " BOB " 'Sent Items' '[net.mail] ntlm'"), 10);
    assert_int_equal(ews_ctl("invalid"), 0);
    /* what reached the responder came through the proxy's login, as bob */
    assert_true(ews_ctl("requests") - before >= 20);
    assert_int_equal(ews_log_lines("\"auth_scheme\": null"), 0);
    assert_int_equal(ews_log_lines("\"authorization\": true"), 0);
    assert_true(ews_log_lines("\"proxy_user\": \"MAILCHAN\\\\ewsuser\"") >= 20);
    /* one handshake per connection, and connections are reused */
    n = read_access_log(c, 256, &from);
    for (int i = 0; i < n; i++) {
        printf("connection :%d: %d NTLM challenge(s), %d authenticated request(s)\n", c[i].port,
               c[i].challenges, c[i].served);
        assert_true(c[i].challenges <= 1);
        served += c[i].served;
        if (c[i].served > c[busiest].served)
            busiest = i;
    }
    assert_true(served >= 20);
    assert_int_equal(c[busiest].challenges, 1);
    assert_true(c[busiest].served >= 10);
    assert_true(n <= 6); /* the sender's, the receiver's, its stream's: not one per request */
}

/* a wrong password (or the right one in another domain) is MC_EAUTH, names
 * no password, and nothing reaches the responder */
static void test_ntlm_refused(void **state)
{
    const char *pw = test_env("MC_NTLM_PASSWORD");
    char wrong[256], other[128];
    mc_transport *t;
    mc_channel_listener *l = NULL;
    long before = ews_ctl("requests"), from = access_log_lines();
    conn c[64];
    int n, challenges = 0;
    (void)state;
    snprintf(wrong, sizeof(wrong), "%sx", pw);
    t = transport_of(ntlm_binding(ntlm_user(), wrong, "60000"));
    assert_int_equal(mc_channel_listener_new(&l, t, "net.mail://x#"), MC_EAUTH);
    assert_null(strstr(mc_error_last(), wrong));
    assert_int_not_equal(send_text(t, "net.mail://x#" BOB, "never"), 0);
    mc_transport_free(t);
    snprintf(other, sizeof(other), "OTHERDOM\\%s", test_env("MC_NTLM_USER"));
    t = transport_of(ntlm_binding(other, pw, "60000"));
    assert_int_equal(mc_channel_listener_new(&l, t, "net.mail://x#"), MC_EAUTH);
    mc_transport_free(t);
    assert_int_equal(ews_ctl("requests"), before);
    n = read_access_log(c, 64, &from);
    for (int i = 0; i < n; i++) {
        assert_int_equal(c[i].served, 0);
        challenges += c[i].challenges;
    }
    assert_true(challenges >= 2);
}

/* The wire trace of an NTLM login shows the handshake's headers with the
 * blobs redacted (base64 "NTLMSSP" begins "TlRMTVNT"), never the password. */
static void trace_collect(mc_trace_direction direction, const char *protocol, const char *line,
                          void *user_data)
{
    char **all = user_data;
    char *more = NULL;
    if (asprintf(&more, "%s%s %s %s\n", *all ? *all : "", protocol,
                 direction == MC_TRACE_SENT       ? ">"
                 : direction == MC_TRACE_RECEIVED ? "<"
                                                  : "*",
                 line) < 0)
        return;
    free(*all);
    *all = more;
}

static void test_ntlm_trace(void **state)
{
    char *all = NULL;
    mc_transport *t;
    (void)state;
    mc_trace_set_callback(trace_collect, &all);
    t = transport_of(ntlm_binding(ntlm_user(), test_env("MC_NTLM_PASSWORD"), "60000"));
    assert_int_equal(send_text(t, "net.mail://ntlmtrace#" BOB, "traced"), 0);
    mc_transport_free(t);
    mc_trace_set_callback(NULL, NULL);
    assert_non_null(all);
    assert_non_null(strstr(all, "http > Authorization: NTLM [redacted]\n"));
    assert_non_null(strstr(all, "http < WWW-Authenticate: NTLM [redacted]\n"));
    assert_non_null(strstr(all, "http < HTTP/1.1 200"));
    assert_null(strstr(all, "TlRMTVNT"));
    assert_null(strstr(all, test_env("MC_NTLM_PASSWORD")));
    free(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ntlm_roundtrip),
        cmocka_unit_test(test_ntlm_refused),
        cmocka_unit_test(test_ntlm_trace),
    };
    if (!getenv("MC_EWS_URL") || !getenv("MC_NTLM_URL")) {
        fprintf(stderr,
                "test_ews_ntlm: no NTLM proxy and EWS responder (run tests/ews/ntlm/run_test.sh); skipped\n");
        return 77;
    }
    net_test_init();
    mc_init();
    if (getenv("MC_TEST_ONLY"))
        cmocka_set_test_filter(getenv("MC_TEST_ONLY"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
