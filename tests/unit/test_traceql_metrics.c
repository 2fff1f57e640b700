/* test_traceql_metrics.c — TraceQL metrics (src/store/metrics*.c): the
 * metrics stage parser with its exact errors, time parameters, the grid,
 * and every function with and without by() over hand-built spans,
 * checked against a brute-force computation written here. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/mem.h"
#include "store/metrics.h"

#define S INT64_C(1000000000)
#define T0 (INT64_C(1796000000) * S)

/* ---- parser ------------------------------------------------------------- */

static smx_query *parse_ok(const char *q)
{
    char err[512];
    smx_query *m = NULL;
    if (smx_parse(q, &m, err, sizeof err) != 0) fail_msg("%s: %s", q, err);
    return m;
}

static void check_error(const char *q, const char *want)
{
    char err[512];
    smx_query *m = (smx_query *)1;
    assert_int_equal(smx_parse(q, &m, err, sizeof err), -1);
    assert_null(m);
    if (strcmp(err, want) != 0) fail_msg("%s\n  got  %s\n  want %s", q, err, want);
}

static void test_stage_offset(void **state)
{
    (void)state;
    assert_int_equal(smx_stage_offset("{} | rate()"), 3);
    assert_int_equal(smx_stage_offset("{ name = \"a|b\" } | rate()"), 17);
    assert_int_equal(smx_stage_offset("{ name =~ `a|b` } | count_over_time ( )"), 18);
    assert_int_equal(smx_stage_offset("{ } || { } | rate()"), 11);
    assert_int_equal(smx_stage_offset("({} | select(name)) | rate()"), 20);
    assert_int_equal(smx_stage_offset("{} | select(name) | rate()"), 18);
    assert_int_equal(smx_stage_offset("{} | select(name)"), -1);
    assert_int_equal(smx_stage_offset("{} | count() > 2"), -1);
    assert_int_equal(smx_stage_offset("{} || {}"), -1);
    assert_int_equal(smx_stage_offset("{}"), -1);
    assert_int_equal(smx_stage_offset("{} | unknown_fn()"), 3);
}

static void test_parse_forms(void **state)
{
    (void)state;
    smx_query *m = parse_ok("{ status = error } | rate()");
    assert_int_equal(m->fn, SMX_RATE);
    assert_string_equal(m->fn_name, "rate");
    assert_null(m->attr);
    assert_int_equal(m->nby, 0);
    smx_query_free(m);
    m = parse_ok("{} | quantile_over_time(duration, .5, 0.9,1 ) by (resource.service.name, span.\"a b\")");
    assert_int_equal(m->fn, SMX_QUANTILE);
    assert_string_equal(m->attr_text, "duration");
    assert_int_equal(m->nq, 3);
    assert_true(m->q[0] == 0.5 && m->q[1] == 0.9 && m->q[2] == 1.0);
    assert_int_equal(m->nby, 2);
    assert_string_equal(m->by_text[0], "resource.service.name");
    assert_string_equal(m->by_text[1], "span.\"a b\"");
    smx_query_free(m);
    m = parse_ok("{ name = \"Workflow\" } | histogram_over_time(span.n) with(exemplars=true)");
    assert_int_equal(m->fn, SMX_HISTOGRAM);
    smx_query_free(m);
    m = parse_ok("{} | select(name) | count_over_time() by(name)");
    assert_int_equal(m->fn, SMX_COUNT);
    smx_query_free(m);
    const char *fns[] = {"min_over_time", "max_over_time", "avg_over_time", "sum_over_time"};
    const smx_fn want[] = {SMX_MIN, SMX_MAX, SMX_AVG, SMX_SUM};
    for (size_t i = 0; i < 4; i++) {
        char q[128];
        snprintf(q, sizeof q, "{}|%s(span.n)by(name)", fns[i]);
        m = parse_ok(q);
        assert_int_equal(m->fn, want[i]);
        assert_string_equal(m->attr_text, "span.n");
        smx_query_free(m);
    }
}

#define FN_LIST                                                                                              \
    "rate, count_over_time, min_over_time, max_over_time, avg_over_time, sum_over_time, quantile_over_time, " \
    "histogram_over_time"

static void test_parse_errors(void **state)
{
    (void)state;
    check_error("{} | rates()", "position 6: unknown metrics function \"rates\" (expected one of " FN_LIST ")");
    check_error("{}", "not a metrics query: expected a span filter and a last stage such as \"| rate()\" or "
                      "\"| quantile_over_time(duration, .9)\" (one of " FN_LIST ")");
    check_error(" | rate()", "position 1: expected a span filter such as { } before \"|\"");
    check_error("{ name = } | rate()", "position 10: expected a value (a string, number, duration, true, false, nil, "
                                       "ok, error, unset or a span kind), got \"}\"");
    check_error("{} | rate(duration)", "position 11: rate() takes no arguments, got \"duration)\"");
    check_error("{} | avg_over_time()", "position 20: expected a field (such as duration or span.x), got \")\"");
    check_error("{} | avg_over_time(span.)", "position 25: expected an attribute name after \"span.\"");
    check_error("{} | quantile_over_time(duration)", "position 33: expected \",\" and a quantile, got \")\"");
    check_error("{} | quantile_over_time(duration, 1.5)",
                "position 35: quantile \"1.5\": expected a number from 0 to 1");
    check_error("{} | quantile_over_time(duration, -1)", "position 35: quantile \"-1\": expected a number from 0 to 1");
    check_error("{} | rate() by (name", "position 21: expected \",\" or \")\", got end of query");
    check_error("{} | rate() by name", "position 16: expected \"(\" after by, got \"name\"");
    check_error("{} | rate() foo", "position 13: expected by(…), with(…) or end of query after rate(), got \"foo\"");
    check_error("{} | rate() by (.a,.b,.c,.d,.e,.f)", "position 32: more than 5 fields in by()");
    check_error("{} | rate() with(x)", "position 18: expected a hint key=value, got \"x\"");
    check_error("{} | rate() with(a=b", "position 21: expected \",\" or \")\", got end of query");
}

/* ---- time parameters ------------------------------------------------------ */

static void test_time_params(void **state)
{
    (void)state;
    int64_t ns = 0;
    const char *why = NULL;
    assert_int_equal(smx_time_parse("1796000000", &ns, &why), 0);
    assert_true(ns == T0);
    assert_int_equal(smx_time_parse("1796000000123456789", &ns, &why), 0);
    assert_true(ns == T0 + 123456789);
    assert_int_equal(smx_time_parse("1796000000.25", &ns, &why), 0);
    assert_true(ns == T0 + S / 4);
    assert_int_equal(smx_time_parse("2026-12-02T10:00:00Z", &ns, &why), 0);
    assert_true(ns == INT64_C(1796205600) * S);
    assert_int_equal(smx_time_parse("yesterday", &ns, &why), -1);
    assert_string_equal(why, "expected unix seconds, unix nanoseconds or an RFC 3339 time");
    assert_int_equal(smx_duration_parse("1m30s", &ns, &why), 0);
    assert_true(ns == 90 * S);
    assert_int_equal(smx_duration_parse("15", &ns, &why), 0);
    assert_true(ns == 15 * S);
    assert_int_equal(smx_duration_parse("0.5", &ns, &why), 0);
    assert_true(ns == S / 2);
    assert_int_equal(smx_duration_parse("0s", &ns, &why), -1);
    assert_string_equal(why, "must be positive");
    assert_int_equal(smx_duration_parse("1 minute", &ns, &why), -1);
    assert_true(smx_default_step(T0, T0 + 3600 * S) == 15 * S);
    assert_true(smx_default_step(T0, T0 + 24 * 3600 * S) == 300 * S);
    assert_true(smx_default_step(T0, T0 + 30 * S) == 100 * INT64_C(1000000));
    assert_true(smx_default_step(T0, T0 + 120 * S) == S);
}

static void test_grid(void **state)
{
    (void)state;
    smx_grid g;
    char err[256];
    assert_int_equal(smx_grid_range(&g, T0 + 10 * S, T0 + 130 * S, 60 * S, err, sizeof err), 0);
    assert_true(g.start_ns == T0 - 20 * S && g.end_ns == T0 + 160 * S);
    assert_int_equal(g.nsteps, 3);
    assert_int_equal(smx_grid_range(&g, T0, T0 + 86400 * S, S, err, sizeof err), -1);
    assert_string_equal(err, "86400 steps over the range, more than the limit of 11000 (use a larger step or a "
                             "shorter range)");
    assert_int_equal(smx_grid_range(&g, T0, T0, S, err, sizeof err), -1);
    assert_string_equal(err, "end must be after start");
    assert_true(smx_log2_bucket(1) == 0 && smx_log2_bucket(2) == 2 && smx_log2_bucket(3) == 4);
    assert_true(smx_log2_bucket(1024) == 1024 && smx_log2_bucket(1025) == 2048);
}

/* ---- the engine against brute force ------------------------------------- */

#define NTRACES 40
#define NSPANS 6
static const char *const names[] = {"Workflow", "DataLoader", "Processor"};

typedef struct world {
    tql_span spans[NTRACES][NSPANS];
    tql_attr attrs[NTRACES][NSPANS][1];
    tql_trace traces[NTRACES];
} world;

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Spans over 10 minutes: random name, status, duration (1 ms .. 10 s),
 * and an int attribute n in 0..99 on most of them. */
static void build(world *w)
{
    memset(w, 0, sizeof *w);
    for (size_t t = 0; t < NTRACES; t++) {
        for (size_t i = 0; i < NSPANS; i++) {
            tql_span *s = &w->spans[t][i];
            s->span_id[7] = (uint8_t)(i + 1);
            s->span_id[6] = (uint8_t)t;
            s->name = names[next_rand() % 3];
            s->status_code = (int)(next_rand() % 3);
            s->status_message = "";
            s->start_ns = T0 + (int64_t)(next_rand() % (600 * 1000)) * INT64_C(1000000);
            s->end_ns = s->start_ns + INT64_C(1000000) * (int64_t)(1 + next_rand() % 10000);
            s->scope_name = s->scope_version = "";
            if (next_rand() % 5) {
                w->attrs[t][i][0] = (tql_attr){"n", {.type = TQL_INT, .v.i = (int64_t)(next_rand() % 100)}};
                s->attrs = w->attrs[t][i];
                s->nattrs = 1;
            }
        }
        tql_trace *tr = &w->traces[t];
        tr->trace_id[15] = (uint8_t)(t + 1);
        tr->spans = w->spans[t];
        tr->nspans = NSPANS;
        tql_trace_derive(tr);
    }
}

/* What brute force and the engine are compared on: a label value by name
 * (or NULL without by), a value per step. */
typedef struct expect_series {
    const char *name;
    double bucket;  /* histogram bucket, or the quantile */
    double values[16];
} expect_series;

typedef struct got {
    expect_series s[64];
    size_t n;
    uint64_t exemplars;
    size_t nsteps;
} got;

static int got_cb(void *arg, const smx_series *s)
{
    got *g = arg;
    assert_true(g->n < 64);
    expect_series *e = &g->s[g->n++];
    memset(e, 0, sizeof *e);
    for (size_t i = 0; i < s->nlabels; i++) {
        if (strcmp(s->labels[i].key, "name") == 0) e->name = s->labels[i].val.v.s;
        if (strcmp(s->labels[i].key, "__bucket") == 0 || strcmp(s->labels[i].key, "p") == 0)
            e->bucket = s->labels[i].val.v.f;
    }
    for (size_t k = 0; k < g->nsteps; k++) e->values[k] = s->values[k];
    g->exemplars += s->nexemplars;
    for (size_t k = 0; k < s->nexemplars; k++) assert_true(s->exemplars[k].trace_id[15] >= 1);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The brute-force value of one cell from the values of the spans in it. */
static double brute_cell(smx_fn fn, double *v, size_t n, double step_s, double q)
{
    switch (fn) {
    case SMX_RATE: return (double)n / step_s;
    case SMX_COUNT:
    case SMX_HISTOGRAM: return (double)n;
    default: break;
    }
    if (!n) return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += v[i];
    switch (fn) {
    case SMX_MIN: return v[0];
    case SMX_MAX: return v[n - 1];
    case SMX_SUM: return sum;
    case SMX_AVG: return sum / (double)n;
    default: {
        size_t r = (size_t)ceil(q * (double)n);
        return v[r ? r - 1 : 0];
    }
    }
}

/* Does span s pass the test's filter { span.n >= 10 } (or {} when all)? */
static int passes(const tql_span *s, int all)
{
    return all || (s->nattrs && s->attrs[0].val.v.i >= 10);
}

/* The span's value for the function's field (duration or span.n). */
static int span_value(const tql_span *s, int use_duration, double *v)
{
    if (use_duration) *v = (double)(s->end_ns - s->start_ns) / 1e9;
    else if (s->nattrs) *v = (double)s->attrs[0].val.v.i;
    else return 0;
    return 1;
}

static void check_series(const expect_series *e, const world *w, smx_fn fn, const smx_grid *g, int by, int all,
                         int use_duration)
{
    for (size_t k = 0; k < g->nsteps; k++) {
        double vals[NTRACES * NSPANS];
        size_t n = 0;
        for (size_t t = 0; t < NTRACES; t++)
            for (size_t i = 0; i < NSPANS; i++) {
                const tql_span *s = &w->spans[t][i];
                double v = 0;
                int64_t lo = g->start_ns + (int64_t)k * g->step_ns;
                if (!passes(s, all) || s->start_ns < lo || s->start_ns >= lo + g->step_ns) continue;
                if (by && strcmp(s->name, e->name) != 0) continue;
                if (fn != SMX_RATE && fn != SMX_COUNT && !span_value(s, use_duration, &v)) continue;
                if (fn == SMX_HISTOGRAM) {
                    uint64_t raw = use_duration ? (uint64_t)(s->end_ns - s->start_ns) : (uint64_t)v;
                    double b = (double)smx_log2_bucket(raw) / (use_duration ? 1e9 : 1);
                    if (raw < 2 || b != e->bucket) continue;
                }
                vals[n++] = v;
            }
        double want = brute_cell(fn, vals, n, (double)g->step_ns / 1e9, e->bucket);
        double have = e->values[k];
        if (isnan(want) ? !isnan(have) : (fabs(have - want) > 1e-9 * fmax(1, fabs(want))))
            fail_msg("fn %d by %d step %zu series %s/%g: got %.17g want %.17g (%zu spans)", fn, by, k,
                     e->name ? e->name : "-", e->bucket, have, want, n);
    }
}

static void run_case(const world *w, const char *query, smx_fn fn, int by, int all, int use_duration)
{
    smx_query *m = parse_ok(query);
    smx_grid g;
    char err[128];
    assert_int_equal(smx_grid_range(&g, T0, T0 + 600 * S, 60 * S, err, sizeof err), 0);
    smx_agg *a = smx_agg_new(m, &g, 50);
    assert_non_null(a);
    for (size_t t = 0; t < NTRACES; t++) {
        tql_match match;
        assert_int_equal(tql_eval(m->filter, &w->traces[t], &match), 0);
        for (size_t k = 0; k < match.nspans; k++) assert_int_equal(smx_agg_observe(a, &w->traces[t], match.spans[k]), 0);
        tql_match_free(&match);
    }
    got r = {.nsteps = g.nsteps};
    assert_int_equal(smx_agg_result(a, got_cb, &r), 0);
    assert_true(r.n > 0);
    if (by && fn != SMX_HISTOGRAM) assert_int_equal(r.n, fn == SMX_QUANTILE ? 3 * m->nq : 3);
    for (size_t i = 0; i < r.n; i++) check_series(&r.s[i], w, fn, &g, by, all, use_duration);
    assert_true(r.exemplars > 0 && r.exemplars <= 50);
    smx_agg_free(a);
    smx_query_free(m);
}

static void test_engine_brute_force(void **state)
{
    (void)state;
    world *w = malloc(sizeof *w);
    build(w);
    static const struct {
        const char *q;
        smx_fn fn;
        int by, all, dur;
    } cases[] = {
        {"{} | rate()", SMX_RATE, 0, 1, 0},
        {"{} | rate() by (name)", SMX_RATE, 1, 1, 0},
        {"{ span.n >= 10 } | count_over_time() by (name)", SMX_COUNT, 1, 0, 0},
        {"{} | min_over_time(duration) by (name)", SMX_MIN, 1, 1, 1},
        {"{} | max_over_time(span.n)", SMX_MAX, 0, 1, 0},
        {"{ span.n >= 10 } | avg_over_time(span.n) by (name)", SMX_AVG, 1, 0, 0},
        {"{} | sum_over_time(duration)", SMX_SUM, 0, 1, 1},
        {"{} | quantile_over_time(duration, 0, .5, .9, .99, 1) by (name)", SMX_QUANTILE, 1, 1, 1},
        {"{ span.n >= 10 } | quantile_over_time(span.n, .25, .75)", SMX_QUANTILE, 0, 0, 0},
        {"{} | histogram_over_time(duration) by (name)", SMX_HISTOGRAM, 1, 1, 1},
        {"{} | histogram_over_time(span.n)", SMX_HISTOGRAM, 0, 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(w, cases[i].q, cases[i].fn, cases[i].by, cases[i].all, cases[i].dur);
    free(w);
}

struct first {
    tql_type type;
    double v;
    const char *key;
    size_t nlabels;
};
/* Keeps the first series' first label and value. */
static int first_cb(void *arg, const smx_series *s)
{
    struct first *f = arg;
    if (f->nlabels) return 0;
    f->type = s->labels[0].val.type;
    f->v = s->values[0];
    f->key = s->labels[0].key;
    f->nlabels = s->nlabels;
    return 0;
}

/* Labels: {__name__=fn} without by(); nil for a missing by() field; the
 * instant grid; spans outside the grid are not counted. */
static void test_engine_labels_and_instant(void **state)
{
    (void)state;
    world *w = malloc(sizeof *w);
    build(w);
    smx_query *m = parse_ok("{} | count_over_time() by (span.n)");
    smx_grid g;
    smx_grid_instant(&g, T0, T0 + 300 * S);
    smx_agg *a = smx_agg_new(m, &g, 0);
    uint64_t inside = 0, missing = 0;
    for (size_t t = 0; t < NTRACES; t++)
        for (size_t i = 0; i < NSPANS; i++) {
            assert_int_equal(smx_agg_observe(a, &w->traces[t], i), 0);
            if (w->spans[t][i].start_ns < T0 + 300 * S) {
                inside++;
                missing += w->spans[t][i].nattrs == 0;
            }
        }
    assert_true(smx_agg_spans(a) == inside);
    got r = {.nsteps = 1};
    assert_int_equal(smx_agg_result(a, got_cb, &r), 0);
    assert_int_equal(r.exemplars, 0);
    smx_agg_free(a);
    smx_query_free(m);
    /* the nil group comes first and counts the spans without n */
    m = parse_ok("{} | count_over_time() by (span.n)");
    a = smx_agg_new(m, &g, 0);
    for (size_t t = 0; t < NTRACES; t++)
        for (size_t i = 0; i < NSPANS; i++) smx_agg_observe(a, &w->traces[t], i);
    struct first f = {0};
    assert_int_equal(smx_agg_result(a, first_cb, &f), 0);
    assert_int_equal(f.type, TQL_NIL);
    assert_true(f.v == (double)missing);
    smx_agg_free(a);
    smx_query_free(m);
    m = parse_ok("{} | rate()");
    a = smx_agg_new(m, &g, 0);
    smx_agg_observe(a, &w->traces[0], 0);
    f.nlabels = 0;
    assert_int_equal(smx_agg_result(a, first_cb, &f), 0);
    assert_int_equal(f.nlabels, 1);
    assert_string_equal(f.key, "__name__");
    smx_agg_free(a);
    smx_query_free(m);
    free(w);
}

/* More than SMX_SERIES_MAX groups, or quantile series, is refused. */
static void test_series_limit(void **state)
{
    (void)state;
    tql_attr attr = {"id", {.type = TQL_INT}};
    tql_span span = {.name = "x", .status_message = "", .scope_name = "", .scope_version = "", .start_ns = T0,
                     .end_ns = T0 + S, .attrs = &attr, .nattrs = 1};
    tql_trace t = {.spans = &span, .nspans = 1, .root_name = "", .root_service = ""};
    smx_grid g;
    smx_grid_instant(&g, T0, T0 + S);
    smx_query *m = parse_ok("{} | rate() by (span.id)");
    smx_agg *a = smx_agg_new(m, &g, 10);
    for (int i = 0; i < SMX_SERIES_MAX; i++) {
        attr.val.v.i = i;
        assert_int_equal(smx_agg_observe(a, &t, 0), SMX_OK);
    }
    attr.val.v.i = 0;
    assert_int_equal(smx_agg_observe(a, &t, 0), SMX_OK); /* an existing group still counts */
    attr.val.v.i = SMX_SERIES_MAX;
    assert_int_equal(smx_agg_observe(a, &t, 0), SMX_TOO_MANY_SERIES);
    assert_int_equal(smx_agg_series(a), SMX_SERIES_MAX);
    smx_agg_free(a);
    smx_query_free(m);
    m = parse_ok("{} | quantile_over_time(duration, .1, .2, .3, .4) by (span.id)");
    a = smx_agg_new(m, &g, 0);
    int rc = SMX_OK, i = 0;
    for (; rc == SMX_OK; i++) {
        attr.val.v.i = i;
        rc = smx_agg_observe(a, &t, 0);
    }
    assert_int_equal(rc, SMX_TOO_MANY_SERIES);
    assert_int_equal(i - 1, SMX_SERIES_MAX / 4);
    smx_agg_free(a);
    smx_query_free(m);
}

/* Allocation failures anywhere fail cleanly (no leak, no crash). */
static void test_out_of_memory(void **state)
{
    (void)state;
    world *w = malloc(sizeof *w);
    build(w);
    for (long n = 0; n < 200; n++) {
        char err[256];
        smx_query *m = NULL;
        ex_mem_fail_after(n);
        int ok = smx_parse("{ span.n > 1 } | quantile_over_time(duration, .5) by (name, span.n)", &m, err,
                           sizeof err) == 0;
        smx_grid g;
        smx_grid_instant(&g, T0, T0 + 600 * S);
        smx_agg *a = ok ? smx_agg_new(m, &g, 5) : NULL;
        for (size_t t = 0; a && t < NTRACES; t++)
            for (size_t i = 0; i < NSPANS; i++) smx_agg_observe(a, &w->traces[t], i);
        got r = {.nsteps = 1};
        if (a) smx_agg_result(a, got_cb, &r);
        ex_mem_fail_after(-1);
        smx_agg_free(a);
        smx_query_free(m);
    }
    free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stage_offset),
        cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_time_params),
        cmocka_unit_test(test_grid),
        cmocka_unit_test(test_engine_brute_force),
        cmocka_unit_test(test_engine_labels_and_instant),
        cmocka_unit_test(test_series_limit),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
