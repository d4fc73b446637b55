/* options.h - the table of binding settings (options.c): a row per setting,
 * named inside the library by a stable id (mc__setting_id), so a misspelt
 * setting is a compile error; the choices of each enumeration, written
 * once; and the typed values (mc__values) a binding's settings are read
 * into when a transport is built. */
#ifndef MC_BINDING_OPTIONS_H
#define MC_BINDING_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include "mailchan.h"

/* Every setting, in the order of the table (options.c places each row at
 * its id; mc__settings_ready() checks that each row's name is its id's). */
typedef enum {
    MC__S_NONE = -1, /* "no setting", e.g. a kind without a network timeout */
    /* transport element, every kind */
    MC__S_ADDRESS,
    MC__S_MAX_RECEIVED_MESSAGE_SIZE,
    MC__S_MESSAGE_CONTAINER_TYPE,
    MC__S_MINIMUM_ATTACHMENT_SIZE,
    MC__S_SERVER_QUERY_INTERVAL,
    MC__S_ACCEPT_EXISTING_MESSAGES,
    MC__S_RECEIVE_RETRY_COUNT,
    MC__S_PROCESSING_CACHE_COUNT,
    MC__S_PROCESSING_CACHE_BYTES,
    MC__S_SERVICE_FOLDER,
    MC__S_DELETED_FOLDER,
    MC__S_AFTER_RECEIVE,
    MC__S_ARCHIVE_FOLDER,
    MC__S_DEAD_LETTER_FOLDER,
    MC__S_DELETE_DELAY,
    MC__S_FLUSH_RETRIES,
    MC__S_STATE_PATH,
    MC__S_QUEUED,
    MC__S_QUEUE_RETRY_INITIAL,
    MC__S_QUEUE_RETRY_MAX,
    MC__S_QUEUE_LIFETIME,
    MC__S_QUEUE_MAX_BYTES,
    MC__S_DEDUP_WINDOW,
    MC__S_TIME_TO_LIVE,
    /* maildir */
    MC__S_MAILDIR_ROOT,
    MC__S_MAILDIR_SYNC_DIRECTORIES,
    /* mail */
    MC__S_SMTP_HOST,
    MC__S_SMTP_PORT,
    MC__S_SMTP_SECURITY,
    MC__S_IMAP_HOST,
    MC__S_IMAP_PORT,
    MC__S_IMAP_SECURITY,
    MC__S_USERNAME,
    MC__S_PASSWORD,
    MC__S_PASSWORD_COMMAND,
    MC__S_TOKEN_COMMAND,
    MC__S_COMMAND_TIMEOUT,
    MC__S_AUTH_MECHANISM,
    MC__S_SMTP_AUTH,
    MC__S_TLS_CA_FILE,
    MC__S_TLS_CA_PATH,
    MC__S_TLS_VERIFY,
    MC__S_TLS_MIN_VERSION,
    MC__S_TIMEOUT,
    MC__S_IMAP_IDLE,
    MC__S_IMAP_SEARCH_STAMP,
    MC__S_IMAP_IDLE_INTERVAL,
    /* exchange */
    MC__S_EWS_URL,
    MC__S_EWS_AUTH,
    MC__S_EWS_IMPERSONATE,
    MC__S_EWS_SEND_MODE,
    MC__S_EWS_SERVER_VERSION,
    MC__S_EWS_NOTIFICATIONS,
    /* encoding element */
    MC__S_SOAP_VERSION,
    /* security element */
    MC__S_SECURITY_MODE,
    MC__S_ALGORITHM_SUITE,
    MC__S_PROTECTION_LEVEL,
    MC__S_ENCRYPT_SIGNATURE,
    MC__S_CERTIFICATE,
    MC__S_PRIVATE_KEY,
    MC__S_PRIVATE_KEY_PASSWORD,
    MC__S_RECIPIENT_CERTIFICATE,
    MC__S_RECIPIENT_KEY_IDENTIFIER,
    MC__S_SECURITY_CA_FILE,
    MC__S_SECURITY_CA_PATH,
    MC__S_TIMESTAMP_VALIDITY,
    MC__S_MAX_CLOCK_SKEW,
    MC__S_REPLAY_DETECTION,
    MC__S_REPLAY_WINDOW,
    MC__S_REPLAY_CACHE_SIZE,
    MC__S_REQUIRE_SIGNED_ADDRESSING,
    MC__S_COUNT
} mc__setting_id;

/* how a value is parsed, and the C type of its field in mc__values */
typedef enum {
    T_STRING,  /* const char *: no control characters */
    T_ADDRESS, /* const char *: empty, or an e-mail address */
    T_HOST,    /* const char *: a host name or IP address */
    T_SIZE,    /* size_t, decimal within min..max */
    T_UINT,    /* unsigned long long, decimal within min..max */
    T_BOOL,    /* bool: true/false/yes/no/1/0/on/off */
    T_CHOICE   /* int: the value of one of the row's choices */
} mc__setting_type;

/* One value of an enumerated setting. A list ends with a NULL name. */
typedef struct {
    const char *name; /* as set, stored and shown */
    int value;        /* what the library reads (a C enumeration's value) */
    const char *note; /* shown after the name in the help text, or NULL */
    bool alias;       /* accepted, stored as the first choice of its value, not listed */
} mc__choice;

/* the values of security_mode and protection_level (no other C enumeration has them) */
typedef enum { MC__SECURITY_NONE, MC__SECURITY_MESSAGE } mc__security_mode;
typedef enum { MC__PROTECT_ENCRYPT_AND_SIGN, MC__PROTECT_SIGN } mc__protection_level;

typedef struct {
    const char *name;    /* e.g. "max_received_message_size" */
    const char *id_name; /* its id without MC__S_ ("MAX_RECEIVED_MESSAGE_SIZE"), for the check */
    mc_element_kind element;
    const char *kinds; /* the kinds it applies to: "*", or names separated by spaces */
    const char *default_value;
    const char *help; /* one line; an enumeration's choices are appended */
    mc__setting_type type;
    unsigned long long min, max; /* T_SIZE, T_UINT */
    const mc__choice *choices;   /* T_CHOICE */
    bool secret;                 /* never returned by mc_binding_get; wiped when replaced or freed */
    size_t field;                /* offset of its typed value in mc__values */
} mc__setting;

extern const mc__setting mc__settings[MC__S_COUNT];

/* Checks the table once (every id has its row, names unique, defaults
 * valid, choice lists sound) and composes the public descriptions.
 * 0, or MC_EINVAL naming the broken row. */
int mc__settings_ready(void);

/* the id of a setting named by a user, or MC__S_NONE */
mc__setting_id mc__setting_find(const char *name);
/* whether a setting applies to a binding kind: its row's kinds are "*" or
 * contain the kind as a whole word ("mail exchange" holds "mail", not "mai") */
bool mc__setting_applies(const mc__setting *s, const char *kind);
/* the name of an enumerated setting's choice of this value (static), or NULL */
const char *mc__setting_choice_name(mc__setting_id id, int value);
/* validates and canonicalizes a value; *out is malloc'ed. Errors never echo a secret. */
int mc__setting_parse(mc__setting_id id, const char *value, char **out);

/* A binding's settings read once, typed: one field per setting, named as
 * the setting (its row's `field`). Strings are borrowed from the binding
 * (or the table's defaults) and live as long as it is unchanged. */
typedef struct {
    /* transport element, every kind */
    const char *address;
    size_t max_received_message_size;
    int message_container_type; /* mc_container_type */
    size_t minimum_attachment_size;
    unsigned long long server_query_interval; /* ms */
    bool accept_existing_messages;
    unsigned long long receive_retry_count;
    size_t processing_cache_count;
    size_t processing_cache_bytes;
    const char *service_folder;
    const char *deleted_folder;
    int after_receive; /* mc__after_receive */
    const char *archive_folder;
    const char *dead_letter_folder;
    unsigned long long delete_delay; /* ms */
    unsigned long long flush_retries;
    const char *state_path;
    bool queued;
    unsigned long long queue_retry_initial; /* ms */
    unsigned long long queue_retry_max;     /* ms */
    unsigned long long queue_lifetime;      /* ms */
    size_t queue_max_bytes;
    unsigned long long dedup_window; /* ms */
    unsigned long long time_to_live; /* s; 0: none */
    /* maildir */
    const char *maildir_root;
    bool maildir_sync_directories;
    /* mail */
    const char *smtp_host;
    unsigned long long smtp_port;
    int smtp_security; /* mc__tls_mode */
    const char *imap_host;
    unsigned long long imap_port;
    int imap_security; /* mc__tls_mode */
    const char *username;
    const char *password;
    const char *password_command;
    const char *token_command;
    unsigned long long command_timeout; /* ms */
    int auth_mechanism;                 /* mc__auth_mech */
    int smtp_auth;                      /* mc__smtp_auth */
    const char *tls_ca_file;
    const char *tls_ca_path;
    bool tls_verify;
    int tls_min_version;        /* 12 or 13 */
    unsigned long long timeout; /* ms */
    bool imap_idle;
    bool imap_search_stamp;
    unsigned long long imap_idle_interval; /* ms */
    /* exchange */
    const char *ews_url;
    int ews_auth; /* mc__http_auth */
    const char *ews_impersonate;
    int ews_send_mode;      /* mc__ews_send_mode */
    int ews_server_version; /* an index into its choices: mc__setting_choice_name() */
    int ews_notifications;  /* mc__ews_notify */
    /* encoding element */
    int soap_version; /* mc_soap_version */
    /* security element */
    int security_mode;    /* mc__security_mode */
    int algorithm_suite;  /* mc__wss_suite_id */
    int protection_level; /* mc__protection_level */
    bool encrypt_signature;
    const char *certificate;
    const char *private_key;
    const char *private_key_password;
    const char *recipient_certificate;
    int recipient_key_identifier; /* mc__wss_keyid */
    const char *security_ca_file;
    const char *security_ca_path;
    unsigned long long timestamp_validity; /* ms */
    unsigned long long max_clock_skew;     /* ms */
    bool replay_detection;
    unsigned long long replay_window; /* ms */
    size_t replay_cache_size;
    bool require_signed_addressing;
    /* not a setting: the transport element's XOAUTH2 token source (the
     * token_command's built-in callback when that is set) */
    mc_token_cb token_cb;
    void *token_user_data;
    /* not a setting: password_command made runnable (mc_transport_new) */
    const struct mc__command *password_source;
    /* not a setting: the transport element's delivery callback (queued mail) */
    mc_delivery_cb delivery_cb;
    void *delivery_user_data;
} mc__values;

/* Stores the typed value of canonical text into its field of *v. MC_EINVAL
 * (never a silent default) for text that is not a canonical value. */
int mc__setting_read(mc__setting_id id, const char *text, mc__values *v);
/* a number setting's typed value (T_UINT or T_SIZE), by id */
unsigned long long mc__values_number(const mc__values *v, mc__setting_id id);

/* Reads every setting of a binding (its element's value, or the default
 * when the binding has no such element) into *v (binding.c). */
int mc__binding_values(const mc_binding *b, mc__values *v);

/* the message-security filter the settings describe, or NULL for
 * security_mode none (binding.c; mc__binding_security_filter reads the
 * binding's values first: the security tests use it directly) */
struct mc__envelope_filter;
struct mc__state;
int mc__security_filter_new(const mc__values *v, struct mc__state *state, struct mc__envelope_filter **out);
int mc__binding_security_filter(const mc_binding *b, struct mc__envelope_filter **out);

#endif
