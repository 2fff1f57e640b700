/* metrics_result.c — the answer of a metrics aggregator (metrics.h):
 * groups in label order, one value per step, exact quantiles from the
 * sorted values, exemplars by time. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store/metrics_int.h"

static int value_cmp(const tql_value *x, const tql_value *y)
{
    if (x->type != y->type) return x->type < y->type ? -1 : 1;
    switch (x->type) {
    case TQL_NIL: return 0;
    case TQL_STRING: return strcmp(x->v.s, y->v.s);
    case TQL_FLOAT: return x->v.f < y->v.f ? -1 : x->v.f > y->v.f;
    case TQL_BOOL: return x->v.b - y->v.b;
    default: return x->v.i < y->v.i ? -1 : x->v.i > y->v.i;
    }
}

static int group_cmp(const void *a, const void *b)
{
    const group *x = *(group *const *)a, *y = *(group *const *)b;
    for (size_t i = 0; i < x->nvals; i++) {
        int c = value_cmp(&x->vals[i], &y->vals[i]);
        if (c) return c;
    }
    return 0;
}

static int qvalue_cmp(const void *a, const void *b)
{
    const qvalue *x = a, *y = b;
    if (x->group != y->group) return x->group < y->group ? -1 : 1;
    if (x->step != y->step) return x->step < y->step ? -1 : 1;
    return x->v < y->v ? -1 : x->v > y->v;
}

static int xentry_cmp(const void *a, const void *b)
{
    const xentry *x = a, *y = b;
    if (x->group != y->group) return x->group < y->group ? -1 : 1;
    if (x->ex.ts_ns != y->ex.ts_ns) return x->ex.ts_ns < y->ex.ts_ns ? -1 : 1;
    return memcmp(x->ex.span_id, y->ex.span_id, 8);
}

/* Values of group e for every step (nq rows for quantiles). vals is
 * nsteps × per_group; *next walks sorted (the quantile values ordered by
 * group, step, value). */
static void group_values(const smx_agg *a, const group *e, const qvalue *sorted, double *out, size_t *next)
{
    const smx_grid *g = a->g;
    size_t n = g->nsteps;
    double secs = (double)g->step_ns / NS_PER_S;
    for (size_t k = 0; k < n; k++) {
        uint64_t c = e->count[k];
        double *row = out + k;
        switch (a->q->fn) {
        case SMX_RATE: *row = (double)c / secs; break;
        case SMX_COUNT:
        case SMX_HISTOGRAM: *row = (double)c; break;
        case SMX_MIN:
        case SMX_MAX:
        case SMX_SUM: *row = c ? e->acc[k] : NAN; break;
        case SMX_AVG: *row = c ? e->acc[k] / (double)c : NAN; break;
        case SMX_QUANTILE: {
            /* this cell's values, sorted; each stands for w spans */
            const qvalue *v = sorted + *next;
            size_t nv = 0;
            while (*next + nv < a->nvalues && v[nv].group == e->index && v[nv].step == k) nv++;
            for (size_t j = 0; j < a->q->nq; j++) {
                /* nearest rank: the ceil(q·c)-th smallest (the smallest for q = 0) */
                double r = ceil(a->q->q[j] * (double)c);
                uint64_t rank = r < 1 ? 1 : (uint64_t)r, cum = 0;
                size_t idx = 0;
                while (idx + 1 < nv && (cum += v[idx].w) < rank) idx++;
                out[j * n + k] = c && nv ? v[idx].v : NAN;
            }
            *next += nv;
            break;
        }
        }
    }
}

/* The quantile row whose value at the exemplar's step is closest to it. */
static size_t closest_row(const smx_agg *a, const double *vals, const smx_exemplar *x)
{
    const smx_grid *g = a->g;
    size_t step = g->instant ? 0 : (size_t)((x->ts_ns - g->start_ns) / g->step_ns), best = 0;
    for (size_t j = 1; j < a->per_group; j++)
        if (fabs(vals[j * g->nsteps + step] - x->value) < fabs(vals[best * g->nsteps + step] - x->value)) best = j;
    return best;
}

static int emit_group(smx_agg *a, const group *e, double *vals, const xentry *xs, size_t nx, smx_exemplar *xbuf,
                      smx_series_cb cb, void *arg)
{
    const smx_query *q = a->q;
    smx_series s = {.spans = e->spans, .errors = e->errors};
    for (size_t i = 0; i < q->nby; i++) s.labels[s.nlabels++] = (smx_label){q->by_text[i], e->vals[i]};
    if (q->fn == SMX_HISTOGRAM) s.labels[s.nlabels++] = (smx_label){"__bucket", e->vals[q->nby]};
    else if (!q->nby && q->fn != SMX_QUANTILE)
        s.labels[s.nlabels++] = (smx_label){"__name__", {.type = TQL_STRING, .v.s = q->fn_name}};
    for (size_t j = 0; j < a->per_group; j++) {
        s.nlabels = s.nlabels - (j > 0);
        if (q->fn == SMX_QUANTILE)
            s.labels[s.nlabels++] = (smx_label){"p", {.type = TQL_FLOAT, .v.f = q->q[j]}};
        s.values = vals + j * a->g->nsteps;
        s.nexemplars = 0;
        for (size_t k = 0; k < nx; k++)
            if (q->fn != SMX_QUANTILE || closest_row(a, vals, &xs[k].ex) == j) xbuf[s.nexemplars++] = xs[k].ex;
        s.exemplars = xbuf;
        if (cb(arg, &s) != 0) return -1;
    }
    return 0;
}

static int value_only_cmp(const void *a, const void *b)
{
    double x = ((const qvalue *)a)->v, y = ((const qvalue *)b)->v;
    return x < y ? -1 : x > y;
}

/* Most (group, step) cells sorted by counting (4 bytes each); beyond, one
 * qsort of every value. */
#define CELLS_MAX (UINT64_C(1) << 24)

/* The quantile values ordered by group, step, value (ex_malloc'd), or
 * NULL. Counting them into their (group, step) cell first leaves small
 * sorts: at 3M values, 4-5 times faster than one qsort of them all. */
static qvalue *sorted_values(smx_agg *a)
{
    size_t nv = a->nvalues, nsteps = a->g->nsteps;
    qvalue *out = ex_malloc((nv ? nv : 1) * sizeof *out);
    uint64_t ncells = (uint64_t)a->ngroups * nsteps;
    uint32_t *pos = ncells <= CELLS_MAX && nv < UINT32_MAX ? ex_calloc((size_t)ncells + 1, sizeof *pos) : NULL;
    if (!out) return ex_free(pos), NULL;
    if (!pos) { /* too many cells (or no memory for them): one sort */
        qsort(a->values, nv, sizeof *a->values, qvalue_cmp);
        memcpy(out, a->values, nv * sizeof *out);
        return out;
    }
    for (size_t i = 0; i < nv; i++) pos[(size_t)a->values[i].group * nsteps + a->values[i].step + 1]++;
    for (size_t c = 0; c < ncells; c++) pos[c + 1] += pos[c];
    for (size_t i = 0; i < nv; i++) out[pos[(size_t)a->values[i].group * nsteps + a->values[i].step]++] = a->values[i];
    /* pos[c] is now where cell c ends */
    for (size_t c = 0, from = 0; c < ncells; from = pos[c++])
        if (pos[c] - from > 1) qsort(out + from, pos[c] - from, sizeof *out, value_only_cmp);
    ex_free(pos);
    return out;
}

int smx_agg_result(smx_agg *a, smx_series_cb cb, void *arg)
{
    size_t n = a->g->nsteps, ng = a->ngroups;
    group **order = ex_malloc((ng ? ng : 1) * sizeof *order);
    size_t nvals = n * a->per_group;
    double *vals = ex_malloc((nvals ? nvals : 1) * sizeof *vals);
    size_t *first = ex_calloc(ng + 1, sizeof *first);
    size_t *xfirst = ex_calloc(ng + 1, sizeof *xfirst);
    smx_exemplar *xbuf = ex_malloc((a->nex ? a->nex : 1) * sizeof *xbuf);
    qvalue *sorted = NULL;
    int rc = -1;
    if (!order || !vals || !first || !xfirst || !xbuf) goto out;
    if (ng) memcpy(order, a->groups, ng * sizeof *order);
    qsort(order, ng, sizeof *order, group_cmp);
    if (!(sorted = sorted_values(a))) goto out;
    if (a->nex) qsort(a->ex, a->nex, sizeof *a->ex, xentry_cmp);
    /* where each group's quantile values and exemplars start */
    for (size_t i = 0; i < a->nvalues; i++) first[a->values[i].group + 1]++;
    for (size_t i = 0; i < a->nex; i++) xfirst[a->ex[i].group + 1]++;
    for (size_t i = 0; i < ng; i++) {
        first[i + 1] += first[i];
        xfirst[i + 1] += xfirst[i];
    }
    rc = 0;
    for (size_t i = 0; i < ng && rc == 0; i++) {
        const group *e = order[i];
        size_t next = first[e->index];
        group_values(a, e, sorted, vals, &next);
        rc = emit_group(a, e, vals, a->ex + xfirst[e->index], xfirst[e->index + 1] - xfirst[e->index], xbuf, cb,
                        arg);
    }
out:
    ex_free(sorted);
    ex_free(xfirst);
    ex_free(order);
    ex_free(vals);
    ex_free(first);
    ex_free(xbuf);
    return rc;
}
