/* metrics_agg.c — the aggregation engine of TraceQL metrics (metrics.h):
 * spans in, one value per series and step out. Counts, sums, minima and
 * maxima live in per-series arrays of one slot per step; quantile values
 * in one array for the whole query, sorted once at the end, so the
 * answer is exact; exemplars at most one per series and step. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/metrics_int.h"

#define KEY_MAX 4096

_Thread_local int smx__hash_oom;

uint64_t smx_log2_bucket(uint64_t v)
{
    if (v < 2) return 0;
    if (v > (UINT64_C(1) << 63)) return UINT64_C(1) << 63;
    return UINT64_C(1) << (64 - __builtin_clzll(v - 1));
}

int smx_grid_range(smx_grid *g, int64_t start_ns, int64_t end_ns, int64_t step_ns, char *err, size_t errlen)
{
    memset(g, 0, sizeof *g);
    if (step_ns <= 0) {
        snprintf(err, errlen, "the step must be positive");
        return -1;
    }
    if (end_ns <= start_ns) {
        snprintf(err, errlen, "end must be after start");
        return -1;
    }
    int64_t s = start_ns - start_ns % step_ns, e = end_ns;
    if (e % step_ns) e += step_ns - e % step_ns;
    uint64_t n = (uint64_t)(e - s) / (uint64_t)step_ns;
    if (n > SMX_STEPS_MAX) {
        snprintf(err, errlen, "%llu steps over the range, more than the limit of %d (use a larger step or a shorter range)",
                 (unsigned long long)n, SMX_STEPS_MAX);
        return -1;
    }
    *g = (smx_grid){s, e, step_ns, (size_t)n, 0};
    return 0;
}

void smx_grid_instant(smx_grid *g, int64_t start_ns, int64_t end_ns)
{
    *g = (smx_grid){start_ns, end_ns, end_ns - start_ns, 1, 1};
}

smx_agg *smx_agg_new(const smx_query *q, const smx_grid *g, size_t max_exemplars)
{
    smx_agg *a = ex_calloc(1, sizeof *a);
    if (!a) return NULL;
    a->q = q;
    a->g = g;
    a->per_group = q->fn == SMX_QUANTILE ? q->nq : 1;
    a->maxex = max_exemplars;
    return a;
}

static void group_free(group *e)
{
    for (size_t i = 0; i < e->nvals; i++)
        if (e->vals[i].type == TQL_STRING) ex_free((char *)e->vals[i].v.s);
    ex_free(e->key);
    ex_free(e->count);
    ex_free(e->acc);
    ex_free(e->has_exemplar);
    ex_free(e);
}

void smx_agg_free(smx_agg *a)
{
    if (!a) return;
    HASH_CLEAR(hh, a->table);
    for (size_t i = 0; i < a->ngroups; i++) group_free(a->groups[i]);
    ex_free(a->groups);
    ex_free(a->values);
    ex_free(a->ex);
    ex_free(a);
}

uint64_t smx_agg_spans(const smx_agg *a) { return a->spans; }

size_t smx_agg_series(const smx_agg *a) { return a->ngroups * a->per_group; }

/* ---- keys --------------------------------------------------------------- */

/* Append v to key (type byte, then the value); 0 or -1 when it does not fit. */
static int key_add(uint8_t *key, size_t *len, const tql_value *v)
{
    size_t n = 1;
    uint8_t buf[16];
    const void *p = buf;
    switch (v->type) {
    case TQL_NIL: break;
    case TQL_STRING: p = v->v.s; n = strlen(v->v.s) + 1; break;
    case TQL_FLOAT: memcpy(buf, &v->v.f, 8); n = 8; break;
    case TQL_BOOL: buf[0] = (uint8_t)v->v.b; n = 1; break;
    default: memcpy(buf, &v->v.i, 8); n = 8; break;
    }
    if (v->type == TQL_NIL) n = 0;
    if (*len + 1 + n > KEY_MAX) return -1;
    key[(*len)++] = (uint8_t)v->type;
    memcpy(key + *len, p, n);
    *len += n;
    return 0;
}

static int steps_arrays(const smx_agg *a, group *e)
{
    size_t n = a->g->nsteps;
    smx_fn fn = a->q->fn;
    e->count = ex_calloc(n, sizeof *e->count);
    if (fn == SMX_MIN || fn == SMX_MAX || fn == SMX_SUM || fn == SMX_AVG) e->acc = ex_calloc(n, sizeof *e->acc);
    e->has_exemplar = ex_calloc((n + 7) / 8, 1);
    return e->count && e->has_exemplar && (e->acc || !(fn == SMX_MIN || fn == SMX_MAX || fn == SMX_SUM || fn == SMX_AVG))
               ? 0
               : -1;
}

/* The group of labels vals[0..n), created when new. NULL with *rc set. */
static group *group_of(smx_agg *a, const tql_value *vals, size_t n, int *rc)
{
    uint8_t key[KEY_MAX];
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        if (key_add(key, &len, &vals[i]) < 0) {
            tql_value nil = {.type = TQL_NIL};
            len = 0; /* labels too long to tell apart: grouped as nil */
            for (size_t k = 0; k < n; k++) key_add(key, &len, &nil);
            vals = NULL;
            break;
        }
    group *e = NULL;
    HASH_FIND(hh, a->table, key, len, e);
    if (e) return e;
    if ((a->ngroups + 1) * a->per_group > SMX_SERIES_MAX) {
        *rc = SMX_TOO_MANY_SERIES;
        return NULL;
    }
    *rc = SMX_NOMEM;
    if (a->ngroups == a->capgroups) {
        size_t cap = a->capgroups ? a->capgroups * 2 : 16;
        group **p = ex_realloc(a->groups, cap * sizeof *p);
        if (!p) return NULL;
        a->groups = p;
        a->capgroups = cap;
    }
    e = ex_calloc(1, sizeof *e);
    if (!e) return NULL;
    e->key = ex_malloc(len ? len : 1);
    int ok = e->key != NULL;
    if (ok) memcpy(e->key, key, len);
    e->keylen = len;
    e->nvals = n;
    for (size_t i = 0; ok && i < n; i++) {
        e->vals[i] = vals ? vals[i] : (tql_value){.type = TQL_NIL};
        if (e->vals[i].type == TQL_STRING && !(e->vals[i].v.s = ex_strdup(e->vals[i].v.s))) {
            e->vals[i].type = TQL_NIL;
            ok = 0;
        }
    }
    if (!ok || steps_arrays(a, e) < 0) {
        group_free(e);
        return NULL;
    }
    smx__hash_oom = 0;
    HASH_ADD_KEYPTR(hh, a->table, e->key, e->keylen, e);
    if (smx__hash_oom) {
        group_free(e);
        return NULL;
    }
    e->index = a->ngroups;
    a->groups[a->ngroups++] = e;
    *rc = SMX_OK;
    return e;
}

/* ---- observing ------------------------------------------------------------ */

/* The first value of field f on span i (TQL_NIL when absent). */
static tql_value field_value(const tql_fieldref *f, const tql_trace *t, size_t i)
{
    tql_value v[1] = {{.type = TQL_NIL}};
    if (tql_fieldref_values(f, t, i, v, 1) == 0) v[0].type = TQL_NIL;
    return v[0];
}

/* The span's value of the function's field as a number (durations in
 * seconds); 0 when it has none that is numeric. */
static int numeric(const tql_value *v, double *out)
{
    switch (v->type) {
    case TQL_INT: *out = (double)v->v.i; return 1;
    case TQL_FLOAT: *out = v->v.f; return !isnan(v->v.f);
    case TQL_DURATION: *out = (double)v->v.i / NS_PER_S; return 1;
    default: return 0;
    }
}

/* The histogram bucket label of v (0 when v has none). */
static int bucket_of(const tql_value *v, tql_value *out)
{
    if ((v->type != TQL_INT && v->type != TQL_DURATION) || v->v.i < 2) return 0;
    double b = (double)smx_log2_bucket((uint64_t)v->v.i);
    out->type = TQL_FLOAT;
    out->v.f = v->type == TQL_DURATION ? b / NS_PER_S : b;
    return 1;
}

static int keep_value(smx_agg *a, const group *e, size_t step, double v, uint32_t w)
{
    if (a->nvalues == a->capvalues) {
        if (a->nvalues >= SMX_VALUES_MAX) return SMX_TOO_MANY_VALUES;
        size_t cap = a->capvalues ? a->capvalues * 2 : 1024;
        qvalue *p = ex_realloc(a->values, cap * sizeof *p);
        if (!p) return SMX_NOMEM;
        a->values = p;
        a->capvalues = cap;
    }
    a->values[a->nvalues++] = (qvalue){(uint16_t)e->index, (uint16_t)step, w, v};
    return SMX_OK;
}

static int keep_exemplar(smx_agg *a, group *e, size_t step, const tql_trace *t, size_t i, double v)
{
    if (a->nex >= a->maxex || (e->has_exemplar[step / 8] & (1u << (step % 8)))) return SMX_OK;
    if (!a->ex) {
        a->ex = ex_malloc(a->maxex * sizeof *a->ex);
        if (!a->ex) return SMX_NOMEM;
    }
    xentry *x = &a->ex[a->nex++];
    x->group = e->index;
    memcpy(x->ex.trace_id, t->trace_id, 16);
    memcpy(x->ex.span_id, t->spans[i].span_id, 8);
    x->ex.ts_ns = t->spans[i].start_ns;
    x->ex.value = v;
    e->has_exemplar[step / 8] |= (uint8_t)(1u << (step % 8));
    return SMX_OK;
}

/* Where span i of t goes: its step, group and value; 1, 0 when it does
 * not count (outside the grid, no value), -1 with *rc set. */
static int place(smx_agg *a, const tql_trace *t, size_t i, size_t *step, group **e, double *v, int *rc)
{
    const smx_query *q = a->q;
    const smx_grid *g = a->g;
    int64_t ts = t->spans[i].start_ns;
    if (ts < g->start_ns || ts >= g->end_ns) return 0;
    *step = g->instant ? 0 : (size_t)((ts - g->start_ns) / g->step_ns);
    tql_value vals[SMX_BY_MAX + 1];
    size_t n = 0;
    for (; n < q->nby; n++) vals[n] = field_value(q->by[n], t, i);
    *v = NAN;
    if (q->attr) {
        tql_value fv = field_value(q->attr, t, i);
        if (q->fn == SMX_HISTOGRAM ? !bucket_of(&fv, &vals[n++]) : !numeric(&fv, v)) return 0;
    }
    *rc = SMX_OK;
    *e = group_of(a, vals, n, rc);
    return *e ? 1 : -1;
}

int smx_agg_observe_n(smx_agg *a, const tql_trace *t, size_t i, uint32_t n, int exemplar)
{
    size_t step;
    group *e;
    double v;
    int rc, p = place(a, t, i, &step, &e, &v, &rc);
    if (p <= 0) return p < 0 ? rc : SMX_OK;
    a->spans += n;
    e->spans += n;
    e->errors += t->spans[i].status_code == 2 ? n : 0;
    double *acc = e->acc ? &e->acc[step] : NULL;
    uint64_t c = e->count[step];
    e->count[step] += n;
    switch (a->q->fn) {
    case SMX_MIN: if (!c || v < *acc) *acc = v; break;
    case SMX_MAX: if (!c || v > *acc) *acc = v; break;
    case SMX_SUM:
    case SMX_AVG: *acc += v * n; break;
    case SMX_QUANTILE: rc = keep_value(a, e, step, v, n); break;
    default: break;
    }
    if (rc != SMX_OK || !exemplar) return rc;
    return keep_exemplar(a, e, step, t, i, a->q->fn == SMX_HISTOGRAM ? NAN : v);
}

int smx_agg_observe(smx_agg *a, const tql_trace *t, size_t i)
{
    return smx_agg_observe_n(a, t, i, 1, 1);
}

int smx_agg_exemplar(smx_agg *a, const tql_trace *t, size_t i)
{
    size_t step;
    group *e;
    double v;
    int rc, p = place(a, t, i, &step, &e, &v, &rc);
    if (p <= 0) return p < 0 ? rc : SMX_OK;
    return keep_exemplar(a, e, step, t, i, a->q->fn == SMX_HISTOGRAM ? NAN : v);
}

void smx_agg_clear(smx_agg *a)
{
    HASH_CLEAR(hh, a->table);
    for (size_t i = 0; i < a->ngroups; i++) group_free(a->groups[i]);
    a->ngroups = a->nvalues = a->nex = 0;
    a->spans = 0;
}
