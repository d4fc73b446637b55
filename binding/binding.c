/* binding.c - predefined and custom bindings, binding elements, and the
 * one place that turns settings into a concrete transport. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "command.h"
#include "internal.h"
#include "transport_int.h"
#include "binding/kinds.h"
#include "binding/options.h"
#include "queue/outbox.h"

#define NKIND 3

/* the compiler may not drop stores through a volatile pointer */
static void wipe(volatile char *p, size_t n)
{
    while (n--)
        *p++ = 0;
}

/* frees a stored value of setting id, wiped first if it is a secret */
static void value_free(int id, char *v)
{
    if (v && mc__settings[id].secret)
        wipe(v, strlen(v));
    free(v);
}

struct mc_binding_element {
    mc_element_kind kind;
    char *transport; /* the binding kind whose settings this element carries */
    char *name;
    char **values;        /* canonical text by mc__setting_id; NULL: another element's or kind's setting */
    mc_token_cb token_cb; /* transport element: XOAUTH2 token source */
    void *token_user_data;
    mc_delivery_cb delivery_cb; /* transport element: outcome of queued mail */
    void *delivery_user_data;
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
    for (int i = 0; e->values && i < MC__S_COUNT; i++)
        value_free(i, e->values[i]);
    free(e->values);
    free(e->transport);
    free(e->name);
    free(e);
}

static mc_binding_element *element_new(mc_element_kind kind, const char *transport)
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
    e->values = calloc(MC__S_COUNT, sizeof(char *));
    if (!e->name || !e->transport || !e->values) {
        element_free(e);
        return NULL;
    }
    for (int i = 0; i < MC__S_COUNT; i++) {
        if (mc__settings[i].element != kind || !mc__setting_applies(&mc__settings[i], transport))
            continue;
        if (!(e->values[i] = mc__strdup(mc__settings[i].default_value))) {
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
        e->delivery_cb = src->delivery_cb;
        e->delivery_user_data = src->delivery_user_data;
    }
    for (int i = 0; e && i < MC__S_COUNT; i++) {
        if (!src->values[i])
            continue;
        value_free(i, e->values[i]);
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
    int rc;
    if (!out || !kind)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = mc__settings_ready()))
        return rc;
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

int mc_binding_set_delivery_callback(mc_binding *b, mc_delivery_cb cb, void *user_data)
{
    mc_binding_element *e;
    if (!b)
        return mc__error_set(MC_EINVAL, "NULL argument");
    e = b->el[MC_ELEMENT_TRANSPORT];
    e->delivery_cb = cb;
    e->delivery_user_data = cb ? user_data : NULL;
    return 0;
}

static int element_slot(const mc_binding_element *e, const char *name, mc__setting_id *idx)
{
    mc__setting_id i = mc__setting_find(name);
    if (i == MC__S_NONE)
        return mc__error_set(MC_ENOTFOUND, "unknown setting \"%.60s\"", name ? name : "(null)");
    if (!e || !e->values[i])
        return mc__error_set(MC_ENOTFOUND, "setting \"%s\" does not apply here", name);
    *idx = i;
    return 0;
}

int mc_binding_element_set(mc_binding_element *e, const char *name, const char *value)
{
    mc__setting_id i = MC__S_NONE;
    char *canon;
    int rc;
    if (!e || !name)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = element_slot(e, name, &i)) || (rc = mc__setting_parse(i, value, &canon)))
        return rc;
    value_free(i, e->values[i]);
    e->values[i] = canon;
    return 0;
}

int mc_binding_element_get(char **value, const mc_binding_element *e, const char *name)
{
    mc__setting_id i = MC__S_NONE;
    char *copy;
    int rc;
    if (!e || !name || !value)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = element_slot(e, name, &i)))
        return rc;
    if (mc__settings[i].secret)
        return mc__error_set(MC_EINVAL, "%s is a secret: it is never read back", name);
    if (!(copy = mc__strdup(e->values[i])))
        return mc__error_set(MC_ENOMEM, "out of memory");
    *value = copy;
    return 0;
}

static mc_binding_element *owner_of(const mc_binding *b, const char *name)
{
    mc__setting_id i = mc__setting_find(name);
    return i == MC__S_NONE ? NULL : b->el[mc__settings[i].element];
}

int mc_binding_set(mc_binding *b, const char *name, const char *value)
{
    if (!b || !name)
        return mc__error_set(MC_EINVAL, "NULL argument");
    return mc_binding_element_set(owner_of(b, name) ? owner_of(b, name) : b->el[0], name, value);
}

int mc_binding_get(char **value, const mc_binding *b, const char *name)
{
    if (!b || !name)
        return mc__error_set(MC_EINVAL, "NULL argument");
    return mc_binding_element_get(value, owner_of(b, name) ? owner_of(b, name) : b->el[0], name);
}

/* the setting's id if it is of one of two types, else MC_ENOTFOUND/MC_EINVAL */
static int typed_id(const char *name, mc__setting_type t1, mc__setting_type t2, const char *what,
                    mc__setting_id *id)
{
    if ((*id = mc__setting_find(name)) == MC__S_NONE)
        return mc__error_set(MC_ENOTFOUND, "unknown setting \"%.60s\"", name);
    if (mc__settings[*id].type != t1 && mc__settings[*id].type != t2)
        return mc__error_set(MC_EINVAL, "%s is not a %s setting", name, what);
    return 0;
}

int mc_binding_set_uint(mc_binding *b, const char *name, unsigned long long value)
{
    mc__setting_id id;
    char text[32];
    int rc;
    if (!b || !name)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = typed_id(name, T_UINT, T_SIZE, "number", &id)))
        return rc;
    snprintf(text, sizeof(text), "%llu", value);
    return mc_binding_set(b, name, text);
}

int mc_binding_set_bool(mc_binding *b, const char *name, int value)
{
    mc__setting_id id;
    int rc;
    if (!b || !name)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = typed_id(name, T_BOOL, T_BOOL, "boolean", &id)))
        return rc;
    return mc_binding_set(b, name, value ? "true" : "false");
}

int mc_binding_is_default(const mc_binding *b, const char *name)
{
    mc__setting_id i = MC__S_NONE;
    const mc_binding_element *e;
    int rc;
    if (!b || !name)
        return mc__error_set(MC_EINVAL, "NULL argument");
    e = owner_of(b, name) ? owner_of(b, name) : b->el[0];
    if ((rc = element_slot(e, name, &i)))
        return rc;
    return !strcmp(e->values[i], mc__settings[i].default_value);
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
    char line[4096], io[4096];
    unsigned lineno = 0;
    int rc = 0;
    if (!b || !path)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if (!(f = fopen(path, "r")))
        return mc__error_set(MC_EIO, "cannot read %s: %s", path, strerror(errno));
    setvbuf(f, io, _IOFBF, sizeof(io)); /* our buffer, so that it can be wiped */
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
        if (!strcmp(trim(s), "binding")) {
            /* the kind the file is for (mc_binding_new_from_config): it must be this one */
            const char *kind = trim(eq + 1);
            if (strcmp(kind, b->kind)) {
                rc = mc__error_set(MC_EINVAL, "%s:%u: the file is for a \"%.40s\" binding, not \"%s\"", path,
                                   lineno, kind, b->kind);
                break;
            }
            continue;
        }
        if ((rc = mc_binding_set(b, trim(s), trim(eq + 1)))) {
            rc = mc__error_set(rc, "%s:%u: %s", path, lineno, mc_error_last());
            break;
        }
    }
    fclose(f);
    /* the file may hold a secret: leave no copy of it behind */
    wipe(line, sizeof(line));
    wipe(io, sizeof(io));
    return rc;
}

/* the value of the file's first "binding = KIND" line into kind ("" when none) */
static int config_kind(const char *path, char *kind, size_t cap)
{
    FILE *f;
    char line[4096], io[4096];
    kind[0] = '\0';
    if (!(f = fopen(path, "r")))
        return mc__error_set(MC_EIO, "cannot read %s: %s", path, strerror(errno));
    setvbuf(f, io, _IOFBF, sizeof(io));
    while (!kind[0] && fgets(line, sizeof(line), f)) {
        char *s = trim(line), *eq = strchr(s, '=');
        if (*s == '#' || !eq)
            continue;
        *eq = '\0';
        if (!strcmp(trim(s), "binding"))
            snprintf(kind, cap, "%s", trim(eq + 1));
    }
    fclose(f);
    wipe(line, sizeof(line));
    wipe(io, sizeof(io));
    return 0;
}

int mc_binding_new_from_config(mc_binding **out, const char *path)
{
    mc_binding *b = NULL;
    char kind[64];
    int rc;
    if (!out || !path)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = config_kind(path, kind, sizeof(kind))))
        return rc;
    if (!kind[0])
        return mc__error_set(MC_EINVAL, "%s names no binding (a \"binding = KIND\" line)", path);
    if ((rc = mc_binding_new(&b, kind)))
        return mc__error_set(rc, "%s: %s", path, mc_error_last());
    if ((rc = mc_binding_load_config(b, path))) {
        mc_binding_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

/* ---- elements ---- */

int mc_binding_create_binding_elements(mc_binding_elements **out, const mc_binding *b)
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

mc_binding_element *mc_binding_elements_find(mc_binding_elements *els, mc_element_kind kind)
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

mc_element_kind mc_binding_element_kind(const mc_binding_element *e)
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
        mc_element_kind k = els->items[i]->kind;
        if (b->el[k]) {
            mc_binding_free(b);
            return mc__error_set(MC_EINVAL, "a binding takes one element of each kind");
        }
        if (!(b->el[k] = element_clone(els->items[i]))) {
            mc_binding_free(b);
            return mc__error_set(MC_ENOMEM, "out of memory");
        }
    }
    if (!b->el[MC_ELEMENT_ENCODING] &&
        !(b->el[MC_ELEMENT_ENCODING] = element_new(MC_ELEMENT_ENCODING, b->kind))) {
        mc_binding_free(b);
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    *out = b;
    return 0;
}

/* ---- building the transport ---- */

int mc__binding_values(const mc_binding *b, mc__values *v)
{
    const mc_binding_element *tr = b->el[MC_ELEMENT_TRANSPORT];
    int rc;
    memset(v, 0, sizeof(*v));
    for (int i = 0; i < MC__S_COUNT; i++) {
        const mc_binding_element *e = b->el[mc__settings[i].element];
        const char *text = e && e->values[i] ? e->values[i] : mc__settings[i].default_value;
        if ((rc = mc__setting_read((mc__setting_id)i, text, v)))
            return rc;
    }
    v->token_cb = tr ? tr->token_cb : NULL;
    v->token_user_data = tr ? tr->token_user_data : NULL;
    v->delivery_cb = tr ? tr->delivery_cb : NULL;
    v->delivery_user_data = tr ? tr->delivery_user_data : NULL;
    return 0;
}

int mc__binding_security_filter(const mc_binding *b, mc__envelope_filter **out)
{
    mc__values v;
    int rc;
    *out = NULL;
    if ((rc = mc__binding_values(b, &v)))
        return rc;
    return mc__security_filter_new(&v, NULL, out);
}

/* A folder received or invalid mail is moved to must not be the one
 * watched: the mail would come back forever. */
static int folder_apart(const mc__values *v, const char *setting, const char *folder)
{
    if (!strcasecmp(folder, v->service_folder) || !strcasecmp(folder, "INBOX"))
        return mc__error_set(MC_EINVAL,
                             "%s \"%s\" is a folder mailchan watches (service_folder or the Inbox)", setting,
                             folder);
    return 0;
}

/* after_receive, archive_folder and dead_letter_folder into cfg (copies) */
static int disposal_from(const mc__values *v, mc__transport_config *cfg)
{
    int rc;
    cfg->after_receive = (mc__after_receive)v->after_receive;
    if (cfg->after_receive == MC__AFTER_MOVE) {
        if (!*v->archive_folder)
            return mc__error_set(MC_EINVAL, "after_receive = move needs archive_folder");
        if ((rc = folder_apart(v, "archive_folder", v->archive_folder)))
            return rc;
        if (!(cfg->archive_folder = mc__strdup(v->archive_folder)))
            return mc__error_set(MC_ENOMEM, "out of memory");
    }
    if (*v->dead_letter_folder) {
        if ((rc = folder_apart(v, "dead_letter_folder", v->dead_letter_folder)))
            return rc;
        if (!(cfg->dead_letter_folder = mc__strdup(v->dead_letter_folder)))
            return mc__error_set(MC_ENOMEM, "out of memory");
    }
    return 0;
}

static void config_from(const mc__values *v, const mc__binding_kind *kind, mc__transport_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_received_message_size = v->max_received_message_size;
    cfg->container = (mc_container_type)v->message_container_type;
    cfg->minimum_attachment_size = v->minimum_attachment_size;
    cfg->server_query_interval_ms = (int)v->server_query_interval;
    cfg->accept_existing_messages = v->accept_existing_messages;
    cfg->receive_retry_count = (unsigned)v->receive_retry_count;
    cfg->cache_count = v->processing_cache_count;
    cfg->cache_bytes = v->processing_cache_bytes;
    cfg->flush_retries = (unsigned)v->flush_retries;
    cfg->delete_delay_ms = (int)v->delete_delay;
    /* closing waits at most one network timeout for the deletion */
    cfg->close_timeout_ms = kind->timeout != MC__S_NONE ? (int)mc__values_number(v, kind->timeout) : 30000;
    cfg->soap_version = (mc_soap_version)v->soap_version;
    cfg->time_to_live_s = (int64_t)v->time_to_live;
}

/* password_command and token_command made runnable into cfg (which owns
 * them), token_command as the built-in token callback: from here on both
 * are the password and the token callback the kinds already take. */
static int credential_commands(mc__values *v, mc__transport_config *cfg)
{
    int timeout = (int)v->command_timeout, rc;
    if (*v->password_command && *v->password)
        return mc__error_set(MC_EINVAL, "password and password_command are both set: choose one");
    if (*v->token_command && v->token_cb)
        return mc__error_set(MC_EINVAL,
                             "token_command and a token callback (mc_binding_set_token_callback) are both "
                             "set: choose one");
    if (*v->password_command &&
        (rc = mc__command_new(&cfg->password_command, "password_command", v->password_command, timeout)))
        return rc;
    if (*v->token_command &&
        (rc = mc__command_new(&cfg->token_command, "token_command", v->token_command, timeout)))
        return rc;
    v->password_source = cfg->password_command;
    if (cfg->token_command) {
        v->token_cb = mc__command_token_cb;
        v->token_user_data = cfg->token_command;
    }
    return 0;
}

/* The state store of state_path, if any, and the outbox around the sender
 * when queued (channel/queue/). */
static int durable_state(const mc__values *v, mc__store **store)
{
    mc__store_options o = {.dedup_window_ms = (int64_t)v->dedup_window};
    *store = NULL;
    if (v->queued && !*v->state_path)
        return mc__error_set(MC_EINVAL, "queued = true needs state_path (the file the outbox is kept in)");
    if (!*v->state_path)
        return 0;
    return mc__store_open(store, v->state_path, MC__STORE_OWNER, &o);
}

static int queued_sender(const mc__values *v, mc__store *store, mc__sender **sender)
{
    mc__outbox_options o = {
        .retry_initial_ms = (int64_t)v->queue_retry_initial,
        .retry_max_ms = (int64_t)v->queue_retry_max,
        .lifetime_ms = (int64_t)v->queue_lifetime,
        .max_bytes = v->queue_max_bytes,
        .callback = v->delivery_cb,
        .user_data = v->delivery_user_data,
    };
    mc__sender *inner = *sender;
    *sender = NULL;
    return mc__outbox_new(sender, inner, store, &o);
}

int mc_transport_new(mc_transport **out, const mc_binding *b)
{
    mc__transport_config cfg;
    mc__sender *sender = NULL;
    mc__receiver *receiver = NULL;
    const mc__binding_kind *kind;
    mc__store *store = NULL;
    mc__values v;
    int rc;
    if (!out || !b)
        return mc__error_set(MC_EINVAL, "NULL argument");
    if ((rc = mc__binding_values(b, &v)))
        return rc;
    if (!*v.address)
        return mc__error_set(MC_EINVAL, "the binding needs address (its own mailbox)");
    kind = mc__binding_kind_find(b->kind);
    config_from(&v, kind, &cfg);
    if (cfg.cache_bytes < cfg.max_received_message_size)
        return mc__error_set(MC_EINVAL, "processing_cache_bytes is smaller than max_received_message_size");
    if ((rc = disposal_from(&v, &cfg)))
        goto fail;
    if ((rc = credential_commands(&v, &cfg)) || (rc = durable_state(&v, &store)))
        goto fail;
    cfg.state = store ? mc__store_state(store) : NULL;
    cfg.open_offline = v.queued;
    if ((rc = mc__security_filter_new(&v, cfg.state, &cfg.security)) ||
        !(cfg.address = mc__strdup(v.address))) {
        rc = rc ? rc : mc__error_set(MC_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = kind->build(&v, cfg.address, &sender, &receiver)))
        goto fail;
    if (v.queued && sender && (rc = queued_sender(&v, store, &sender))) {
        if (receiver)
            receiver->ops->free(receiver);
        goto fail;
    }
    return mc__transport_new(out, sender, receiver, &cfg);
fail:
    mc__command_free(cfg.password_command);
    mc__command_free(cfg.token_command);
    free(cfg.address);
    free(cfg.archive_folder);
    free(cfg.dead_letter_folder);
    if (cfg.security)
        cfg.security->free(cfg.security);
    mc__store_free(store);
    return rc;
}
