/* options.h - the table of binding settings: names, defaults, parsers. */
#ifndef MC_BINDING_OPTIONS_H
#define MC_BINDING_OPTIONS_H

#include "mailchan.h"

typedef enum { T_STRING, T_SIZE, T_UINT, T_BOOL, T_CONTAINER, T_SOAP, T_CHOICE, T_HOST } mc__setting_type;

typedef struct {
    mc_setting_info info;
    mc__setting_type type;
    unsigned long long min, max; /* numbers */
    const char *choices;         /* T_CHOICE: space-separated values */
} mc__setting;

extern const mc__setting mc__settings[];
extern const size_t mc__settings_count;

/* index of a setting by name, or -1 */
int mc__setting_find(const char *name);
/* whether setting i applies to binding kind */
int mc__setting_applies(size_t i, const char *kind);
/* validates and canonicalizes a value; *out is malloc'ed */
int mc__setting_parse(size_t i, const char *value, char **out);
/* typed readers of canonical values */
unsigned long long mc__setting_number(const char *value);
int mc__setting_bool(const char *value);

/* the message-security filter a binding's settings describe, or NULL for
 * security_mode none (binding.c; the security tests use it directly) */
struct mc__envelope_filter;
int mc__binding_security_filter(const mc_binding *b, struct mc__envelope_filter **out);

#endif
