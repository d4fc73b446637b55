/* mailnet.h - the network mail transport: SMTP sending (smtp.c, libcurl),
 * IMAP receiving (imap.c, libetpan), TLS peer verification (tlsverify.c),
 * the credentials both present (credential.c). Used by binding/. */
#ifndef MC_MAILNET_H
#define MC_MAILNET_H

#include "transport_int.h"

typedef enum { MC__TLS_STARTTLS = 0, MC__TLS_IMPLICIT, MC__TLS_NONE } mc__tls_mode;
typedef enum { MC__AUTH_AUTO = 0, MC__AUTH_PLAIN, MC__AUTH_LOGIN, MC__AUTH_XOAUTH2 } mc__auth_mech;
/* SMTP: auto authenticates with a credential (and fails where the server
 * offers no AUTH); none never does */
typedef enum { MC__SMTP_AUTH_AUTO = 0, MC__SMTP_AUTH_NONE } mc__smtp_auth;

typedef struct {
    const char *host;
    unsigned port; /* 0: the protocol's default for the TLS mode */
    mc__tls_mode tls;
} mc__endpoint;

/* Borrowed strings; each part copies what it keeps. */
typedef struct {
    const char *address; /* the account's own address */
    mc__endpoint smtp, imap;
    const char *username; /* login name; the address when empty */
    const char *password; /* secret: never logged, never in an error */
    /* password_command (command.h), borrowed: it lives as long as the
     * transport; when set, run for each login instead of password */
    const struct mc__command *password_command;
    mc__auth_mech auth;
    mc__smtp_auth smtp_auth;
    mc_token_cb token_cb; /* XOAUTH2 bearer token source */
    void *token_user_data;
    const char *ca_file, *ca_path; /* trust anchors; system default when both empty */
    bool verify;                   /* certificate + host name verification */
    int timeout_ms;                /* connect and each network operation */
    const char *service_folder, *deleted_folder;
    bool idle;           /* use IMAP IDLE when the server has it */
    int idle_ms;         /* IDLE is re-issued at least this often */
    int tls_min_version; /* lowest TLS version: 12 (TLS 1.2; also when 0) or 13 */
    bool search_stamp;   /* list only what a server-side SEARCH finds stamped */
} mc__mail_config;

/* The sending half: SMTP submission (smtp.c, libcurl), one connection kept
 * across messages, QUIT on free. */
int mc__smtp_new(mc__sender **out, const mc__mail_config *cfg);

/* The receiving half: IMAP (imap.c, libetpan over imapconn.c). Each call is
 * safe from any thread; one interrupts another's IDLE. */
int mc__imap_new(mc__receiver **out, const mc__mail_config *cfg);
/* tests and fuzzing: connections use this socket instead of TCP */
extern int (*mc__imap_test_socket)(void);

/* Secret handling shared by both halves: the credential to present. *token
 * is malloc'ed (token callback) or a copy of the password; the caller wipes
 * and frees it with mc__secret_free (internal.h). */
int mc__credential(const mc__mail_config *cfg, char **secret);

/* Verifies a TLS peer's DER certificate chain (leaf first) against the
 * configured trust anchors and the host name or IP address. MC_ETLS with
 * the reason on failure. */
int mc__tls_verify_chain(const unsigned char *const *der, const size_t *der_len, size_t n, const char *host,
                         const char *ca_file, const char *ca_path);

/* The server's replies to one SMTP send as smtp.c keeps them for its errors
 * (every reply is untrusted input; tests/fuzz/fuzz_smtp_reply.c). */
typedef struct {
    char text[512]; /* printable ASCII, NUL-terminated; the lines of one reply joined by spaces */
    int code;       /* its code (100-599), or 0 when the line had none */
    bool more;      /* the last line was "NNN-": more lines of that reply follow */
} mc__smtp_reply;
/* Notes one reply line as curl hands it over (CR/LF at the end or not; any
 * bytes): the first refusal (4xx/5xx) of a send is kept with all its lines,
 * otherwise the last reply replaces what was kept. */
void mc__smtp_reply_note(mc__smtp_reply *r, const char *line, size_t len);

#endif
