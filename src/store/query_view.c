/* query_view.c — a TraceQL view (tql_trace) of a trace loaded from the
 * database: OTLP KeyValues become tql_attrs; strings are borrowed from the
 * loaded protobuf structs. */
#include <string.h>

#include "core/mem.h"
#include "store/query_int.h"

static tql_value any_value(const exo_pb_any *v)
{
    tql_value out = {.type = TQL_NIL};
    if (!v) return out;
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        out.type = TQL_STRING;
        out.v.s = v->string_value ? v->string_value : "";
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        out.type = TQL_BOOL;
        out.v.b = v->bool_value ? 1 : 0;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        out.type = TQL_INT;
        out.v.i = v->int_value;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        out.type = TQL_FLOAT;
        out.v.f = v->double_value;
        break;
    default: /* arrays, maps and bytes cannot be compared in this subset */
        break;
    }
    return out;
}

/* Convert n KeyValues into the next slots of v->attrs (at *used). */
static const tql_attr *convert(sq_view *v, size_t *used, exo_pb_kv *const *kv, size_t n)
{
    tql_attr *out = v->attrs + *used;
    for (size_t i = 0; i < n; i++) {
        out[i].key = kv[i]->key ? kv[i]->key : "";
        out[i].val = any_value(kv[i]->value);
    }
    *used += n;
    return out;
}

/* Converted attributes of each distinct resource / scope, found by pointer. */
typedef struct attr_cache {
    const void *owner;       /* the Resource or InstrumentationScope */
    const tql_attr *attrs;
    size_t n;
} attr_cache;

static const attr_cache *cached(sq_view *v, size_t *used, attr_cache *cache, size_t *ncache, const void *owner,
                                exo_pb_kv *const *kv, size_t n)
{
    for (size_t i = 0; i < *ncache; i++)
        if (cache[i].owner == owner) return &cache[i];
    attr_cache *c = &cache[(*ncache)++];
    c->owner = owner;
    c->n = n;
    c->attrs = convert(v, used, kv, n);
    return c;
}

/* Count what the view needs: attributes (resources and scopes counted
 * once per span, an upper bound) and events. */
static void count(const sdb_trace *t, size_t *nattrs, size_t *nevents)
{
    *nattrs = *nevents = 0;
    for (size_t i = 0; i < t->nspans; i++) {
        const sdb_span_ref *r = &t->spans[i];
        *nattrs += r->span->n_attributes;
        if (r->rs && r->rs->resource) *nattrs += r->rs->resource->n_attributes;
        if (r->ss && r->ss->scope) *nattrs += r->ss->scope->n_attributes;
        *nevents += r->span->n_events;
        for (size_t e = 0; e < r->span->n_events; e++) *nattrs += r->span->events[e]->n_attributes;
    }
}

static void fill_span(sq_view *v, size_t *used, size_t *ev_used, attr_cache *cache, size_t *ncache,
                      const sdb_span_ref *r, tql_span *s)
{
    const exo_pb_span *p = r->span;
    memset(s, 0, sizeof *s);
    if (p->span_id.len == 8) memcpy(s->span_id, p->span_id.data, 8);
    if (p->parent_span_id.len == 8) {
        memcpy(s->parent_id, p->parent_span_id.data, 8);
        s->has_parent = 1;
    }
    s->name = p->name ? p->name : "";
    s->kind = (int)p->kind;
    s->status_code = p->status ? (int)p->status->code : 0;
    s->status_message = p->status && p->status->message ? p->status->message : "";
    s->start_ns = (int64_t)p->start_time_unix_nano;
    s->end_ns = (int64_t)p->end_time_unix_nano;
    s->attrs = convert(v, used, p->attributes, p->n_attributes);
    s->nattrs = p->n_attributes;
    const exo_pb_resource *res = r->rs ? r->rs->resource : NULL;
    if (res) {
        const attr_cache *c = cached(v, used, cache, ncache, res, res->attributes, res->n_attributes);
        s->res_attrs = c->attrs;
        s->nres_attrs = c->n;
    }
    const exo_pb_scope *scope = r->ss ? r->ss->scope : NULL;
    s->scope_name = scope && scope->name ? scope->name : "";
    s->scope_version = scope && scope->version ? scope->version : "";
    if (scope) {
        const attr_cache *c = cached(v, used, cache, ncache, scope, scope->attributes, scope->n_attributes);
        s->scope_attrs = c->attrs;
        s->nscope_attrs = c->n;
    }
    s->events = v->events + *ev_used;
    s->nevents = p->n_events;
    for (size_t e = 0; e < p->n_events; e++) {
        tql_event *ev = &v->events[(*ev_used)++];
        ev->name = p->events[e]->name ? p->events[e]->name : "";
        ev->attrs = convert(v, used, p->events[e]->attributes, p->events[e]->n_attributes);
        ev->nattrs = p->events[e]->n_attributes;
    }
}

int sq_view_build(sq_view *v, const sdb_trace *t)
{
    memset(v, 0, sizeof *v);
    size_t nattrs, nevents;
    count(t, &nattrs, &nevents);
    v->spans = ex_calloc(t->nspans ? t->nspans : 1, sizeof *v->spans);
    v->attrs = ex_malloc((nattrs ? nattrs : 1) * sizeof *v->attrs);
    v->events = ex_malloc((nevents ? nevents : 1) * sizeof *v->events);
    attr_cache *cache = ex_malloc((2 * t->nspans + 1) * sizeof *cache);
    if (!v->spans || !v->attrs || !v->events || !cache) {
        ex_free(cache);
        sq_view_free(v);
        return -1;
    }
    size_t used = 0, ev_used = 0, ncache = 0;
    for (size_t i = 0; i < t->nspans; i++) fill_span(v, &used, &ev_used, cache, &ncache, &t->spans[i], &v->spans[i]);
    ex_free(cache);
    memcpy(v->trace.trace_id, t->summary.trace_id, 16);
    v->trace.spans = v->spans;
    v->trace.nspans = t->nspans;
    v->trace.root_name = t->summary.root_name ? t->summary.root_name : "";
    v->trace.root_service = t->summary.root_service ? t->summary.root_service : "";
    v->trace.duration_ns = t->summary.end_ns > t->summary.start_ns ? t->summary.end_ns - t->summary.start_ns : 0;
    return 0;
}

void sq_view_free(sq_view *v)
{
    ex_free(v->spans);
    ex_free(v->attrs);
    ex_free(v->events);
    memset(v, 0, sizeof *v);
}
