/* target_metrics.c — fuzz run for TraceQL metrics queries
 * (store/metrics.h): the q= of /api/metrics/query_range and
 * /api/metrics/query, parsed and run over a small fixed trace. */
#include <math.h>
#include <string.h>

#include "core/mem.h"
#include "store/metrics.h"
#include "store/query_metrics.h"
#include "targets.h"
#include "targets_int.h"

#define MX_T0 INT64_C(1796000000000000000)
#define MX_S INT64_C(1000000000)

static const tql_attr mx_res[] = {{"service.name", {TQL_STRING, {.s = "Tracing.Worker"}}}};
static const tql_attr mx_a[] = {{"type", {TQL_STRING, {.s = "DataLoader"}}}, {"n", {TQL_INT, {.i = 7}}},
                                {"f", {TQL_FLOAT, {.f = 2.5}}},           {"d", {TQL_DURATION, {.i = 3 * MX_S}}},
                                {"b", {TQL_BOOL, {.b = 1}}}};
static const tql_attr mx_b[] = {{"type", {TQL_STRING, {.s = "Processor"}}}, {"n", {TQL_INT, {.i = 1}}}};

static const tql_span mx_spans[] = {
    {{0, 0, 0, 0, 0, 0, 0, 1}, {0}, 0, "Workflow", 1, 2, "failed", MX_T0, MX_T0 + 300 * MX_S, NULL, 0, mx_res, 1, "",
     "", NULL, 0, NULL, 0},
    {{0, 0, 0, 0, 0, 0, 0, 2}, {0, 0, 0, 0, 0, 0, 0, 1}, 1, "DataLoader", 1, 1, "", MX_T0 + 5 * MX_S,
     MX_T0 + 100 * MX_S, mx_a, 5, mx_res, 1, "", "", NULL, 0, NULL, 0},
    {{0, 0, 0, 0, 0, 0, 0, 3}, {0, 0, 0, 0, 0, 0, 0, 1}, 1, "Processor", 1, 2, "", MX_T0 + 100 * MX_S,
     MX_T0 + 301 * MX_S, mx_b, 2, mx_res, 1, "", "", NULL, 0, NULL, 0},
};

typedef struct mx_seen {
    size_t series;
    size_t nsteps;
} mx_seen;

static int mx_series(void *arg, const smx_series *s)
{
    mx_seen *seen = arg;
    seen->series++;
    if (s->nlabels == 0 && s->nexemplars) fuzz__fail("metrics", "a series without labels");
    for (size_t i = 0; i < s->nlabels; i++)
        if (!s->labels[i].key || (s->labels[i].val.type == TQL_STRING && !s->labels[i].val.v.s))
            fuzz__fail("metrics", "label %zu without a key or string", i);
    for (size_t k = 0; k < seen->nsteps; k++)
        if (isinf(s->values[k])) fuzz__fail("metrics", "an infinite value at step %zu", k);
    return 0;
}

/* Accepted queries have a filter and a function, their field when the
 * function takes one, ≥ 1 quantile in [0, 1] for quantile_over_time;
 * over the fixed trace they give at most one series per span and
 * quantile; errors start with "position" or name the query's kind. */
int fuzz_run_metrics(const uint8_t *data, size_t size)
{
    /* the same bytes as a compact row's packed attributes: decoded within them */
    tql_attr at[SDB_MSPAN_ATTRS_MAX];
    long na = sqm_attrs_decode(data, size, at, SDB_MSPAN_ATTRS_MAX);
    for (long i = 0; i < na; i++) {
        const char *lo = (const char *)data, *key = at[i].key;
        if (key < lo || key + strlen(key) >= lo + size) fuzz__fail("metrics", "attribute %ld outside the blob", i);
        if (at[i].val.type == TQL_STRING && at[i].val.v.s + strlen(at[i].val.v.s) >= lo + size)
            fuzz__fail("metrics", "string of attribute %ld outside the blob", i);
    }
    char *q = fuzz__cstr(data, size);
    char err[256];
    smx_query *m = NULL;
    if (smx_parse(q, &m, err, sizeof err) != 0) {
        fuzz__check_terminated("metrics", "the error", err, sizeof err);
        if (strncmp(err, "position ", 9) != 0 && strncmp(err, "not a metrics query", 19) != 0 &&
            strcmp(err, "out of memory") != 0)
            fuzz__fail("metrics", "error without a position: %s", err);
        ex_free(q);
        return 0;
    }
    if (!m->filter || !m->fn_name) fuzz__fail("metrics", "accepted without a filter or function");
    if ((m->fn == SMX_RATE || m->fn == SMX_COUNT) != (m->attr == NULL))
        fuzz__fail("metrics", "%s with%s a field", m->fn_name, m->attr ? "" : "out");
    if ((m->fn == SMX_QUANTILE) != (m->nq > 0)) fuzz__fail("metrics", "quantiles on %s", m->fn_name);
    for (size_t i = 0; i < m->nq; i++)
        if (!(m->q[i] >= 0 && m->q[i] <= 1)) fuzz__fail("metrics", "quantile %g", m->q[i]);
    tql_trace t = {.spans = mx_spans, .nspans = sizeof mx_spans / sizeof mx_spans[0]};
    t.trace_id[15] = 9;
    tql_trace_derive(&t);
    smx_grid g;
    if (smx_grid_range(&g, MX_T0, MX_T0 + 600 * MX_S, 60 * MX_S, err, sizeof err) != 0)
        fuzz__fail("metrics", "grid: %s", err);
    /* what the per-minute counts answer, the compact rows answer too */
    unsigned needs = 0;
    const char *name = NULL;
    if (sqm_rollup_usable(m, &g, &needs, &name) && !sqm_compact_usable(m, &needs, &name))
        fuzz__fail("metrics", "rollup but not compact");
    smx_agg *a = smx_agg_new(m, &g, 4);
    tql_match match;
    if (!a || tql_eval(m->filter, &t, &match) != 0) fuzz__fail("metrics", "out of memory");
    for (size_t k = 0; k < match.nspans; k++)
        if (smx_agg_observe(a, &t, match.spans[k]) != SMX_OK) fuzz__fail("metrics", "observe failed");
    size_t limit = t.nspans * (m->nq ? m->nq : 1);
    if (smx_agg_series(a) > limit) fuzz__fail("metrics", "%zu series from %zu spans", smx_agg_series(a), t.nspans);
    mx_seen seen = {0, g.nsteps};
    if (smx_agg_result(a, mx_series, &seen) != 0) fuzz__fail("metrics", "result failed");
    if (seen.series != smx_agg_series(a)) fuzz__fail("metrics", "%zu series given, %zu counted", seen.series, smx_agg_series(a));
    tql_match_free(&match);
    smx_agg_free(a);
    smx_query_free(m);
    ex_free(q);
    return 0;
}
