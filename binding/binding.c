/* binding.c - predefined and custom bindings, binding elements, and the
 * one place that turns settings into a concrete transport. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "transport_int.h"
#include "binding/kinds.h"
#include "binding/options.h"
#include "security/wss.h"

#define NKIND 3

struct mc_binding_element {
    mc_binding_element_kind kind;
    char *transport; /* the binding kind whose settings this element carries */
    char *name;
    char **values;   /* indexed like mc__settings; NULL for other elements' settings */
    mc_token_cb token_cb; /* transport element: XOAUTH2 token source */
    void *token_user_data;
};

struct mc_binding_elements {
    mc_binding_element **items;
    size_t count;
};

struct mc_binding {
    char *kind;
    mc_binding_element *el[NKIND];
};

static void element_free(mc_binding_element *e)
{
    if (!e)
        return;
    for (size_t i = 0; e->values && i < mc__settings_count; i++)
        free(e->values[i]);
    free(e->values);
    free(e->transport);
    free(e->name);
    free(e);
}

static mc_binding_element *element_new(mc_binding_element_kind kind, const char *transport)
{
    mc_binding_element *e = calloc(1, sizeof(*e));
    mc__buf name;
    if (!e)
        return NULL;
    e->kind = kind;
    mc__buf_init(&name);
    if (kind == MC_ELEMENT_TRANSPORT)
        mc__buf_printf(&name, "%s-transport", transport);
    else if (kind == MC_ELEMENT_SECURITY)
        mc__buf_puts(&name, "asymmetric-security");
    else
        mc__buf_puts(&name, "text-message-encoding");
    e->name = mc__buf_detach(&name, NULL);
    e->transport = mc__strdup(transport);
    e->values = calloc(mc__settings_count, sizeof(char *));
    if (!e->name || !e->transport || !e->values) {
        element_free(e);
        return NULL;
    }
    for (size_t i = 0; i < mc__settings_count; i++) {
        if (mc__settings[i].info.element != kind || !mc__setting_applies(i, transport))
            continue;
        if (!(e->values[i] = mc__strdup(mc__settings[i].info.default_value))) {
            element_free(e);
            return NULL;
        }
    }
    return e;
}

static mc_binding_element *element_clone(const mc_binding_element *src)
{
    mc_binding_element *e = element_new(src->kind, src->transport);
    if (e) {
        e->token_cb = src->token_cb;
        e->token_user_data = src->token_user_data;
    }
    for (size_t i = 0; e && i < mc__settings_count; i++) {
        if (!src->values[i])
            continue;
        free(e->values[i]);
        if (!(e->values[i] = mc__strdup(src->values[i]))) {
            element_free(e);
            return NULL;
        }
    }
    return e;
}

int mc_binding_new(mc_binding **out, const char *kind)
{
    mc_binding *b;
    if (!out || !kind)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if (!mc__binding_kind_find(kind))
        return mc__error_set(MC_ENOTFOUND, "unknown binding kind \"%.40s\" (known: %s)", kind,
                             mc__binding_kind_names());
    if (!(b = calloc(1, sizeof(*b))) || !(b->kind = mc__strdup(kind)) ||
        !(b->el[MC_ELEMENT_TRANSPORT] = element_new(MC_ELEMENT_TRANSPORT, kind)) ||
        !(b->el[MC_ELEMENT_ENCODING] = element_new(MC_ELEMENT_ENCODING, kind)) ||
        !(b->el[MC_ELEMENT_SECURITY] = element_new(MC_ELEMENT_SECURITY, kind))) {
        mc_binding_free(b);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    *out = b;
    return 0;
}

void mc_binding_free(mc_binding *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < NKIND; i++)
        element_free(b->el[i]);
    free(b->kind);
    free(b);
}

const char *mc_binding_kind(const mc_binding *b) { return b ? b->kind : NULL; }

int mc_binding_set_token_callback(mc_binding *b, mc_token_cb cb, void *user_data)
{
    mc_binding_element *e;
    if (!b)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if (!mc__binding_kind_find(b->kind)->token_callback)
        return mc__error_set(MC_EINVAL, "the %s binding takes no token callback", b->kind);
    e = b->el[MC_ELEMENT_TRANSPORT];
    e->token_cb = cb;
    e->token_user_data = cb ? user_data : NULL;
    return 0;
}

static int element_slot(const mc_binding_element *e, const char *name, int *idx)
{
    int i = mc__setting_find(name);
    if (i < 0)
        return mc__error_set(MC_ENOTFOUND, "unknown setting \"%.60s\"", name ? name : "(null)");
    if (!e || !e->values[i])
        return mc__error_set(MC_ENOTFOUND, "setting \"%s\" does not apply here", name);
    *idx = i;
    return 0;
}

int mc_binding_element_set(mc_binding_element *e, const char *name, const char *value)
{
    int i = 0, rc;
    char *canon;
    if (!e || !name)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = element_slot(e, name, &i)) || (rc = mc__setting_parse((size_t)i, value, &canon)))
        return rc;
    free(e->values[i]);
    e->values[i] = canon;
    return 0;
}

int mc_binding_element_get(const mc_binding_element *e, const char *name, char **value)
{
    int i = 0, rc;
    if (!e || !name || !value)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = element_slot(e, name, &i)))
        return rc;
    return (*value = mc__strdup(e->values[i])) ? 0 : mc__error_set(MC_ENOMEM, "out of memory");
}

static mc_binding_element *owner_of(const mc_binding *b, const char *name)
{
    int i = mc__setting_find(name);
    return i < 0 ? NULL : b->el[mc__settings[i].info.element];
}

int mc_binding_set(mc_binding *b, const char *name, const char *value)
{
    if (!b || !name)
        return mc__error_set(MC_EINVAL, "NULL argument");
    return mc_binding_element_set(owner_of(b, name) ? owner_of(b, name) : b->el[0], name, value);
}

int mc_binding_get(const mc_binding *b, const char *name, char **value)
{
    if (!b || !name)
        return mc__error_set(MC_EINVAL, "NULL argument");
    return mc_binding_element_get(owner_of(b, name) ? owner_of(b, name) : b->el[0], name, value);
}

static char *trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

int mc_binding_load_config(mc_binding *b, const char *path)
{
    FILE *f;
    char line[4096];
    unsigned lineno = 0;
    int rc = 0;
    if (!b || !path)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if (!(f = fopen(path, "r")))
        return mc__error_set(MC_EIO, "cannot read %s: %s", path, strerror(errno));
    while (fgets(line, sizeof(line), f)) {
        char *s = trim(line), *eq;
        lineno++;
        if (strlen(line) == sizeof(line) - 1 && line[sizeof(line) - 2] != '\n') {
            rc = mc__error_set(MC_EINVAL, "%s:%u: line too long", path, lineno);
            break;
        }
        if (!*s || *s == '#')
            continue;
        if (!(eq = strchr(s, '='))) {
            rc = mc__error_set(MC_EINVAL, "%s:%u: expected name = value", path, lineno);
            break;
        }
        *eq = '\0';
        if ((rc = mc_binding_set(b, trim(s), trim(eq + 1)))) {
            rc = mc__error_set(rc, "%s:%u: %s", path, lineno, mc_error_last());
            break;
        }
    }
    fclose(f);
    return rc;
}

/* ---- elements ---- */

int mc_binding_create_binding_elements(const mc_binding *b, mc_binding_elements **out)
{
    mc_binding_elements *els;
    if (!b || !out)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if (!(els = calloc(1, sizeof(*els))) || !(els->items = calloc(NKIND, sizeof(*els->items)))) {
        free(els);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < NKIND; i++) {
        if (!b->el[i])
            continue;
        if (!(els->items[els->count] = element_clone(b->el[i]))) {
            mc_binding_elements_free(els);
            return mc__error_set(MC_ENOMEM, "out of memory");
        }
        els->count++;
    }
    *out = els;
    return 0;
}

void mc_binding_elements_free(mc_binding_elements *els)
{
    if (!els)
        return;
    for (size_t i = 0; i < els->count; i++)
        element_free(els->items[i]);
    free(els->items);
    free(els);
}

size_t mc_binding_elements_count(const mc_binding_elements *els) { return els ? els->count : 0; }

mc_binding_element *mc_binding_elements_at(mc_binding_elements *els, size_t i)
{
    return els && i < els->count ? els->items[i] : NULL;
}

mc_binding_element *mc_binding_elements_find(mc_binding_elements *els, mc_binding_element_kind kind)
{
    for (size_t i = 0; els && i < els->count; i++)
        if (els->items[i]->kind == kind)
            return els->items[i];
    return NULL;
}

int mc_binding_elements_remove(mc_binding_elements *els, size_t i)
{
    if (!els || i >= els->count)
        return mc__error_set(MC_ENOTFOUND, "no element at index %zu", i);
    element_free(els->items[i]);
    memmove(els->items + i, els->items + i + 1, (els->count - i - 1) * sizeof(*els->items));
    els->count--;
    return 0;
}

mc_binding_element_kind mc_binding_element_get_kind(const mc_binding_element *e)
{
    return e ? e->kind : MC_ELEMENT_TRANSPORT;
}

const char *mc_binding_element_name(const mc_binding_element *e) { return e ? e->name : NULL; }

int mc_binding_new_custom(mc_binding **out, const mc_binding_elements *els)
{
    mc_binding *b;
    const mc_binding_element *tr = NULL;
    if (!out || !els)
        return mc__error_set(MC_EINVAL, "NULL argument");
    for (size_t i = 0; i < els->count; i++) {
        if (els->items[i]->kind != MC_ELEMENT_TRANSPORT)
            continue;
        if (tr)
            return mc__error_set(MC_EINVAL, "a binding takes one transport element, not two");
        tr = els->items[i];
    }
    if (!tr)
        return mc__error_set(MC_EINVAL, "a binding needs a transport element");
    if (!(b = calloc(1, sizeof(*b))) || !(b->kind = mc__strdup(tr->transport))) {
        free(b);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < els->count; i++) {
        mc_binding_element_kind k = els->items[i]->kind;
        if (b->el[k]) {
            mc_binding_free(b);
            return mc__error_set(MC_EINVAL, "a binding takes one element of each kind");
        }
        if (!(b->el[k] = element_clone(els->items[i]))) {
            mc_binding_free(b);
            return mc__error_set(MC_ENOMEM, "out of memory");
        }
    }
    if (!b->el[MC_ELEMENT_ENCODING] && !(b->el[MC_ELEMENT_ENCODING] = element_new(MC_ELEMENT_ENCODING, b->kind))) {
        mc_binding_free(b);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    *out = b;
    return 0;
}

/* ---- building the transport ---- */

const char *mc__binding_value(const mc_binding *b, const char *name)
{
    int i = mc__setting_find(name);
    mc_binding_element *e = b->el[mc__settings[i].info.element];
    return e && e->values[i] ? e->values[i] : mc__settings[i].info.default_value;
}

unsigned long long mc__binding_number(const mc_binding *b, const char *name)
{
    return mc__setting_number(mc__binding_value(b, name));
}

mc_token_cb mc__binding_token_cb(const mc_binding *b, void **user_data)
{
    const mc_binding_element *tr = b->el[MC_ELEMENT_TRANSPORT];
    *user_data = tr ? tr->token_user_data : NULL;
    return tr ? tr->token_cb : NULL;
}


/* the security element's filter, or none (no element, or security_mode none) */
int mc__binding_security_filter(const mc_binding *b, mc__envelope_filter **out)
{
    static const char *const suites[] = {"Basic256Rsa15", "Basic256", "Basic256Sha256", "Basic256Sha256Rsa15"};
    const char *suite = mc__binding_value(b, "algorithm_suite"), *keyid = mc__binding_value(b, "recipient_key_identifier");
    mc__wss_settings s;
    *out = NULL;
    if (!b->el[MC_ELEMENT_SECURITY] || strcmp(mc__binding_value(b, "security_mode"), "message"))
        return 0;
    memset(&s, 0, sizeof(s));
    for (size_t i = 0; i < MC_ARRAY_SIZE(suites); i++)
        if (!strcmp(suite, suites[i]))
            s.suite = (mc__wss_suite_id)i;
    s.encrypt = !strcmp(mc__binding_value(b, "protection_level"), "encrypt_and_sign");
    s.encrypt_signature = s.encrypt && mc__setting_bool(mc__binding_value(b, "encrypt_signature"));
    s.certificate = mc__binding_value(b, "certificate");
    s.private_key = mc__binding_value(b, "private_key");
    s.key_password = mc__binding_value(b, "private_key_password");
    s.recipient_certificate = mc__binding_value(b, "recipient_certificate");
    s.keyid = !strcmp(keyid, "issuer_serial") ? MC__KEYID_ISSUER_SERIAL
              : !strcmp(keyid, "thumbprint") ? MC__KEYID_THUMBPRINT : MC__KEYID_SKI;
    s.ca_file = mc__binding_value(b, "security_ca_file");
    s.ca_path = mc__binding_value(b, "security_ca_path");
    s.timestamp_validity_ms = (int64_t)mc__binding_number(b, "timestamp_validity");
    s.max_clock_skew_ms = (int64_t)mc__binding_number(b, "max_clock_skew");
    s.replay_detection = mc__setting_bool(mc__binding_value(b, "replay_detection"));
    s.replay_window_ms = (int64_t)mc__binding_number(b, "replay_window");
    s.replay_cache_size = (size_t)mc__binding_number(b, "replay_cache_size");
    s.require_signed_addressing = mc__setting_bool(mc__binding_value(b, "require_signed_addressing"));
    return mc__wss_new(out, &s);
}

int mc_transport_new(mc_transport **out, const mc_binding *b)
{
    mc__transport_config cfg;
    mc__sender *sender = NULL;
    mc__receiver *receiver = NULL;
    const mc__binding_kind *kind;
    const char *container;
    int rc;
    if (!out || !b)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if (!*mc__binding_value(b, "address"))
        return mc__error_set(MC_EINVAL, "the binding needs address (its own mailbox)");
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_received_message_size = (size_t)mc__binding_number(b, "max_received_message_size");
    container = mc__binding_value(b, "message_container_type");
    cfg.container = !strcmp(container, "body") ? MC_CONTAINER_BODY
                    : !strcmp(container, "attachment") ? MC_CONTAINER_ATTACHMENT
                                                        : MC_CONTAINER_DEFAULT;
    cfg.minimum_attachment_size = (size_t)mc__binding_number(b, "minimum_attachment_size");
    cfg.server_query_interval_ms = (int)mc__binding_number(b, "server_query_interval");
    cfg.accept_existing_messages = mc__setting_bool(mc__binding_value(b, "accept_existing_messages"));
    cfg.receive_retry_count = (unsigned)mc__binding_number(b, "receive_retry_count");
    cfg.cache_count = (size_t)mc__binding_number(b, "processing_cache_count");
    cfg.cache_bytes = (size_t)mc__binding_number(b, "processing_cache_bytes");
    cfg.flush_retries = (unsigned)mc__binding_number(b, "flush_retries");
    cfg.delete_delay_ms = (int)mc__binding_number(b, "delete_delay");
    /* closing waits at most one network timeout for the deletion */
    kind = mc__binding_kind_find(b->kind);
    cfg.close_timeout_ms = kind->timeout ? (int)mc__binding_number(b, kind->timeout) : 30000;
    cfg.soap_version = !strcmp(mc__binding_value(b, "soap_version"), "1.1") ? MC_SOAP11 : MC_SOAP12;
    if (cfg.cache_bytes < cfg.max_received_message_size)
        return mc__error_set(MC_EINVAL, "processing_cache_bytes is smaller than max_received_message_size");
    if ((rc = mc__binding_security_filter(b, &cfg.security)))
        return rc;
    if (!(cfg.address = mc__strdup(mc__binding_value(b, "address")))) {
        if (cfg.security)
            cfg.security->free(cfg.security);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    rc = kind->build(b, cfg.address, &sender, &receiver);
    if (rc) {
        free(cfg.address);
        if (cfg.security)
            cfg.security->free(cfg.security);
        return rc;
    }
    return mc__transport_new(out, sender, receiver, &cfg);
}
