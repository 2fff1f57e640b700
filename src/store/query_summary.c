/* query_summary.c — GET /api/metrics/summary (Tempo's metrics summary,
 * what Grafana's "Aggregate by" asks): for the spans matching q in
 * [start, end], per distinct value of the groupBy fields, the span count,
 * the count with status error and exact duration percentiles p50, p90,
 * p95, p99 (ns), as Tempo's SpanMetricsSummaryResponse JSON. Computed as
 * quantile_over_time(duration, .5, .9, .95, .99) by (groupBy) over one
 * interval. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/query_metrics.h"

static const double pcts[] = {0.5, 0.9, 0.95, 0.99};
#define NPCT (sizeof pcts / sizeof pcts[0])

/* One group of the answer, rendered. */
typedef struct summary {
    uint64_t spans;
    char *json;    /* owned */
} summary;

typedef struct collect {
    summary *items;
    size_t n, cap;
    uint64_t pct_ns[NPCT];
    int failed;
} collect;

/* TraceQLStatic JSON of a value (Tempo's type numbers: 3 int, 4 float,
 * 5 string, 6 bool, 7 duration, 8 status, 9 kind; nil has no fields). */
static void static_json(sq_buf *b, const tql_value *v)
{
    switch (v->type) {
    case TQL_NIL: sqb_lit(b, "{}"); break;
    case TQL_INT: sqb_printf(b, "{\"type\":3,\"n\":\"%" PRId64 "\"}", v->v.i); break;
    case TQL_FLOAT: sqb_lit(b, "{\"type\":4,\"f\":"); sqb_double(b, v->v.f); sqb_lit(b, "}"); break;
    case TQL_STRING: sqb_lit(b, "{\"type\":5,\"s\":"); sqb_jstr(b, v->v.s); sqb_lit(b, "}"); break;
    case TQL_BOOL: sqb_lit(b, v->v.b ? "{\"type\":6,\"b\":true}" : "{\"type\":6}"); break;
    case TQL_DURATION: sqb_printf(b, "{\"type\":7,\"d\":\"%" PRId64 "\"}", v->v.i); break;
    case TQL_STATUS: sqb_printf(b, "{\"type\":8,\"status\":%d}", (int)v->v.i); break;
    case TQL_KIND: sqb_printf(b, "{\"type\":9,\"kind\":%d}", (int)v->v.i); break;
    }
}

static int summary_cb(void *arg, const smx_series *s)
{
    collect *c = arg;
    size_t j = 0;
    while (j + 1 < NPCT && s->labels[s->nlabels - 1].val.v.f != pcts[j]) j++;
    c->pct_ns[j] = isnan(s->values[0]) ? 0 : (uint64_t)llround(s->values[0] * 1e9);
    if (j + 1 < NPCT) return 0;
    sq_buf b;
    sqb_init(&b, 1u << 20);
    sqb_printf(&b, "{\"spanCount\":\"%" PRIu64 "\"", s->spans);
    if (s->errors) sqb_printf(&b, ",\"errorSpanCount\":\"%" PRIu64 "\"", s->errors);
    sqb_lit(&b, ",\"series\":[");
    for (size_t i = 0; i + 1 < s->nlabels; i++) {
        if (i) sqb_raw(&b, ",", 1);
        sqb_lit(&b, "{\"key\":");
        sqb_jstr(&b, s->labels[i].key);
        sqb_lit(&b, ",\"value\":");
        static_json(&b, &s->labels[i].val);
        sqb_lit(&b, "}");
    }
    sqb_printf(&b, "],\"p99\":\"%" PRIu64 "\",\"p95\":\"%" PRIu64 "\",\"p90\":\"%" PRIu64 "\",\"p50\":\"%" PRIu64 "\"}",
               c->pct_ns[3], c->pct_ns[2], c->pct_ns[1], c->pct_ns[0]);
    size_t len = 0;
    char *json = sqb_take(&b, &len);
    sqb_free(&b);
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        summary *p = ex_realloc(c->items, cap * sizeof *p);
        if (!p) json = (ex_free(json), NULL);
        else c->items = p, c->cap = cap;
    }
    if (!json) return c->failed = -1;
    c->items[c->n++] = (summary){s->spans, json};
    return 0;
}

/* Most spans first (a stable sort keeps label order among equals). */
static int summary_cmp(const void *a, const void *b)
{
    const summary *x = a, *y = b;
    return x->spans != y->spans ? (x->spans > y->spans ? -1 : 1) : (x < y ? -1 : x > y);
}

/* Build the summary's query: its filter from q, durations by groupBy. */
static int summary_query(sq_ctx *ctx, const sq_request *req, ex_http_resp *resp, smx_query *m)
{
    char err[512];
    const char *q = sq_arg(req, "q"), *by = sq_arg(req, "groupBy");
    if (!q || !*q) q = "{}";
    if (tql_parse(q, &m->filter, err, sizeof err) < 0)
        return sq_reply_text(ctx, resp, 400, "invalid TraceQL query q=\"%.200s\": %s", q, err), -1;
    if (!by || !*by)
        return sq_reply_text(ctx, resp, 400, "groupBy: required, one or more fields separated by commas (such as name)"),
               -1;
    m->fn = SMX_QUANTILE;
    m->fn_name = "quantile_over_time";
    m->nq = NPCT;
    memcpy(m->q, pcts, sizeof pcts);
    if (tql_fieldref_parse("duration", &m->attr, err, sizeof err) < 0) return sq_reply_text(ctx, resp, 500, "%s", err), -1;
    for (const char *p = by; *p;) {
        size_t n = strcspn(p, ",");
        while (n && (p[n - 1] == ' ')) n--;
        if (m->nby == SMX_BY_MAX)
            return sq_reply_text(ctx, resp, 400, "groupBy=\"%.200s\": more than %d fields", by, SMX_BY_MAX), -1;
        size_t k = m->nby++;
        m->by_text[k] = ex_strndup(p, n);
        if (!m->by_text[k]) return sq_reply_text(ctx, resp, 500, "out of memory"), -1;
        if (tql_fieldref_parse(m->by_text[k], &m->by[k], err, sizeof err) < 0)
            return sq_reply_text(ctx, resp, 400, "groupBy=\"%.200s\": field \"%s\": %s", by, m->by_text[k], err), -1;
        p += strcspn(p, ",");
        if (*p == ',') p++;
        while (*p == ' ') p++;
    }
    return 0;
}

static void summary_reply(sq_ctx *ctx, const sqm_run *r, collect *c, ex_http_resp *resp)
{
    qsort(c->items, c->n, sizeof *c->items, summary_cmp);
    sq_buf b;
    sqb_init(&b, SQ_RESPONSE_MAX);
    sqb_lit(&b, "{\"summaries\":[");
    for (size_t i = 0; i < c->n; i++) {
        if (i) sqb_raw(&b, ",", 1);
        sqb_lit(&b, c->items[i].json);
    }
    sqb_lit(&b, "]}");
    sq_reply_buf(ctx, resp, &b, "application/json");
    if (resp->status == 200) sq_work_report(ctx, &r->work, resp);
}

int sq_metrics_summary(sq_ctx *ctx, const sq_request *req, const char *tenant, ex_http_resp *resp)
{
    smx_query m = {0};
    smx_agg *agg = NULL;
    collect c = {0};
    int64_t start = 0, end = 0;
    if (summary_query(ctx, req, resp, &m) < 0 || sq_time_arg(ctx, req, resp, "start", 0, &start) < 0 ||
        sq_time_arg(ctx, req, resp, "end", 1, &end) < 0)
        goto out;
    if (end && end < start) {
        sq_reply_text(ctx, resp, 400, "end=%s is before start=%s", sq_arg(req, "end"), sq_arg(req, "start"));
        goto out;
    }
    smx_grid g;
    smx_grid_instant(&g, start, end ? end + 1 : INT64_MAX);
    sqm_run r;
    sqm_run_init(&r, ctx, tenant);
    if (sqm_engine_param(&r, req, resp) < 0) goto out;
    r.filter = m.filter;
    r.mq = &m;
    r.agg = agg = smx_agg_new(&m, &g, 0);
    if (!agg) {
        sq_reply_text(ctx, resp, 500, "out of memory");
        goto out;
    }
    ctx->stats.searches++;
    if (sqm_scan(&r, start, end) < 0) sqm_scan_failed(&r, resp);
    else if (smx_agg_result(agg, summary_cb, &c) < 0) sq_reply_text(ctx, resp, 500, "out of memory computing the summary");
    else summary_reply(ctx, &r, &c, resp);
    sqm_engine_header(&r, resp);
out:
    for (size_t i = 0; i < c.n; i++) ex_free(c.items[i].json);
    ex_free(c.items);
    smx_agg_free(agg);
    smx_query_clear(&m);
    return 1;
}
