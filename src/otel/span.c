#include "otel/span.h"

#include <string.h>

#include "core/mem.h"

exo_span *exo_span_new(const char *name, int kind)
{
    exo_span *s = ex_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->name = ex_strdup(name);
    s->kind = kind;
    if (!s->name) {
        ex_free(s);
        return NULL;
    }
    return s;
}

void exo_attrs_clear(exo_attrs *a)
{
    for (size_t i = 0; i < a->len; i++) {
        ex_free(a->items[i].key);
        if (a->items[i].type == EXO_VAL_STRING) ex_free(a->items[i].v.s);
    }
    ex_free(a->items);
    memset(a, 0, sizeof *a);
}

void exo_span_free(exo_span *s)
{
    if (!s) return;
    exo_attrs_clear(&s->attrs);
    for (size_t i = 0; i < s->nevents; i++) {
        ex_free(s->events[i].name);
        exo_attrs_clear(&s->events[i].attrs);
    }
    ex_free(s->events);
    for (size_t i = 0; i < s->nlinks; i++) exo_attrs_clear(&s->links[i].attrs);
    ex_free(s->links);
    ex_free(s->name);
    ex_free(s->status_message);
    ex_free(s);
}

/* Reserve one more slot; the new attribute's key is set by the caller. */
static exo_attr *attrs_push(exo_attrs *a, const char *key, exo_value_type type)
{
    if (a->len == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 4;
        exo_attr *n = ex_realloc(a->items, cap * sizeof *n);
        if (!n) return NULL;
        a->items = n;
        a->cap = cap;
    }
    exo_attr *at = &a->items[a->len];
    at->key = ex_strdup(key);
    if (!at->key) return NULL;
    at->type = type;
    a->len++;
    return at;
}

int exo_attrs_add_str(exo_attrs *a, const char *key, const char *val)
{
    char *copy = ex_strdup(val ? val : "");
    if (!copy) return -1;
    exo_attr *at = attrs_push(a, key, EXO_VAL_STRING);
    if (!at) {
        ex_free(copy);
        return -1;
    }
    at->v.s = copy;
    return 0;
}

int exo_attrs_add_int(exo_attrs *a, const char *key, int64_t val)
{
    exo_attr *at = attrs_push(a, key, EXO_VAL_INT);
    if (!at) return -1;
    at->v.i = val;
    return 0;
}

int exo_attrs_add_double(exo_attrs *a, const char *key, double val)
{
    exo_attr *at = attrs_push(a, key, EXO_VAL_DOUBLE);
    if (!at) return -1;
    at->v.d = val;
    return 0;
}

int exo_attrs_add_bool(exo_attrs *a, const char *key, int val)
{
    exo_attr *at = attrs_push(a, key, EXO_VAL_BOOL);
    if (!at) return -1;
    at->v.b = val ? 1 : 0;
    return 0;
}

const exo_attr *exo_attrs_find(const exo_attrs *a, const char *key)
{
    for (size_t i = 0; i < a->len; i++)
        if (strcmp(a->items[i].key, key) == 0) return &a->items[i];
    return NULL;
}

exo_event *exo_span_add_event(exo_span *s, int64_t time_ns, const char *name)
{
    if (s->nevents == s->events_cap) {
        size_t cap = s->events_cap ? s->events_cap * 2 : 4;
        exo_event *n = ex_realloc(s->events, cap * sizeof *n);
        if (!n) return NULL;
        s->events = n;
        s->events_cap = cap;
    }
    exo_event *e = &s->events[s->nevents];
    memset(e, 0, sizeof *e);
    e->name = ex_strdup(name);
    if (!e->name) return NULL;
    e->time_ns = time_ns;
    s->nevents++;
    return e;
}

int exo_span_set_status(exo_span *s, int code, const char *message)
{
    char *m = NULL;
    if (message && !(m = ex_strdup(message))) return -1;
    ex_free(s->status_message);
    s->status_message = m;
    s->status_code = code;
    return 0;
}

exo_link *exo_span_add_link(exo_span *s, const uint8_t trace_id[16], const uint8_t span_id[8], uint32_t flags)
{
    exo_link *n = ex_realloc(s->links, (s->nlinks + 1) * sizeof *n);
    if (!n) return NULL;
    s->links = n;
    exo_link *l = &n[s->nlinks++];
    memset(l, 0, sizeof *l);
    memcpy(l->trace_id, trace_id, 16);
    memcpy(l->span_id, span_id, 8);
    l->flags = flags;
    return l;
}
