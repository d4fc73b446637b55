/* strmap.c - a small open-addressing hash map with string keys. */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

static char tomb_marker;
#define TOMB (&tomb_marker)

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603ULL;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h;
}

void mc__strmap_init(mc__strmap *m) { memset(m, 0, sizeof(*m)); }

void mc__strmap_free(mc__strmap *m, void (*free_value)(void *))
{
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] && m->keys[i] != TOMB) {
            free(m->keys[i]);
            if (free_value)
                free_value(m->values[i]);
        }
    }
    free(m->keys);
    free(m->values);
    mc__strmap_init(m);
}

static size_t find_slot(const mc__strmap *m, const char *key, bool *found)
{
    size_t mask = m->cap - 1, i = hash(key) & mask, first_tomb = SIZE_MAX;
    *found = false;
    for (;;) {
        char *k = m->keys[i];
        if (!k)
            return first_tomb != SIZE_MAX ? first_tomb : i;
        if (k == TOMB) {
            if (first_tomb == SIZE_MAX)
                first_tomb = i;
        } else if (strcmp(k, key) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & mask;
    }
}

static int grow(mc__strmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    mc__strmap old = *m;
    if (m->cap && (m->count + 1) * 4 < m->cap * 2)
        ncap = m->cap; /* mostly tombstones: rehash in place size */
    m->keys = calloc(ncap, sizeof(char *));
    m->values = calloc(ncap, sizeof(void *));
    if (!m->keys || !m->values) {
        free(m->keys);
        free(m->values);
        *m = old;
        return MC_ENOMEM;
    }
    m->cap = ncap;
    m->count = 0;
    m->tombs = 0;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.keys[i] && old.keys[i] != TOMB) {
            bool f;
            size_t s = find_slot(m, old.keys[i], &f);
            m->keys[s] = old.keys[i];
            m->values[s] = old.values[i];
            m->count++;
        }
    }
    free(old.keys);
    free(old.values);
    return 0;
}

int mc__strmap_put(mc__strmap *m, const char *key, void *value)
{
    bool found;
    size_t s;
    if ((m->count + m->tombs + 1) * 4 >= m->cap * 3 && grow(m))
        return mc__error_set(MC_ENOMEM, "out of memory");
    s = find_slot(m, key, &found);
    if (found) {
        m->values[s] = value;
        return 0;
    }
    if (m->keys[s] == TOMB)
        m->tombs--;
    if (!(m->keys[s] = mc__strdup(key))) {
        m->keys[s] = NULL;
        return mc__error_set(MC_ENOMEM, "out of memory");
    }
    m->values[s] = value;
    m->count++;
    return 0;
}

void *mc__strmap_get(const mc__strmap *m, const char *key, bool *found)
{
    bool f = false;
    size_t s;
    void *v = NULL;
    if (m->cap) {
        s = find_slot(m, key, &f);
        if (f)
            v = m->values[s];
    }
    if (found)
        *found = f;
    return v;
}

bool mc__strmap_remove(mc__strmap *m, const char *key, void **old_value)
{
    bool f;
    size_t s;
    if (!m->cap)
        return false;
    s = find_slot(m, key, &f);
    if (!f)
        return false;
    if (old_value)
        *old_value = m->values[s];
    free(m->keys[s]);
    m->keys[s] = TOMB;
    m->values[s] = NULL;
    m->count--;
    m->tombs++;
    return true;
}

const char *mc__strmap_slot(const mc__strmap *m, size_t i, void **value)
{
    if (i >= m->cap || !m->keys[i] || m->keys[i] == TOMB)
        return NULL;
    if (value)
        *value = m->values[i];
    return m->keys[i];
}
