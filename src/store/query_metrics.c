/* query_metrics.c — GET /api/metrics/query_range and /api/metrics/query
 * (TraceQL metrics, metrics.h) over the store's traces, answered as
 * Tempo's QueryRangeResponse / QueryInstantResponse JSON. The spans of
 * every trace overlapping the range are read, the query's filter
 * evaluated on each trace, and each matched span starting in the range
 * counted; the scan stops at the context's work limits (X-Extrace-Limit,
 * "status":"PARTIAL"). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "store/metrics.h"
#include "store/query_metrics.h"

#define HOUR INT64_C(3600000000000)

/* ---- the scan -------------------------------------------------------------- */

void sqm_run_init(sqm_run *r, sq_ctx *ctx, const char *tenant)
{
    memset(r, 0, sizeof *r);
    r->ctx = ctx;
    r->tenant = tenant;
    sq_work_start(&r->work, ctx, ex_mono_ns());
}

/* Count every span of t the filter matches; -1 at the first error. */
static int observe_trace(sqm_run *r, const tql_trace *t)
{
    tql_match m = {0};
    if (tql_eval(r->filter, t, &m) < 0) {
        r->agg_rc = SMX_NOMEM;
        return -1;
    }
    int rc = SMX_OK;
    for (size_t k = 0; k < m.nspans && rc == SMX_OK; k++) rc = smx_agg_observe(r->agg, t, m.spans[k]);
    tql_match_free(&m);
    r->agg_rc = rc;
    return rc == SMX_OK ? 0 : -1;
}

static int scan_cb(void *arg, const sdb_trace_summary *sum)
{
    sqm_run *r = arg;
    sdb_trace *t = NULL;
    int rc = sdb_trace_get(r->ctx->db, r->tenant, sum->trace_id, &t);
    if (rc < 0) {
        snprintf(r->error, sizeof r->error, "reading a trace: %s", sdb_errmsg(r->ctx->db));
        return -1;
    }
    if (rc == 0) return 0; /* removed by retention meanwhile */
    uint64_t bytes = protobuf_c_message_get_packed_size(&t->data->base);
    r->traces++;
    r->bytes += bytes;
    r->spans += t->nspans;
    sq_view v;
    int result = -1;
    if (sq_view_build(&v, t) < 0) {
        r->agg_rc = SMX_NOMEM;
    } else {
        if (observe_trace(r, &v.trace) == 0) result = sq_work_add(&r->work, bytes, ex_mono_ns()) ? 1 : 0;
        else if (r->agg_rc == SMX_TOO_MANY_VALUES) {
            snprintf(r->work.stopped, sizeof r->work.stopped,
                     "quantile values: more than %u spans to keep for exact quantiles", SMX_VALUES_MAX);
            result = 1;
        }
        sq_view_free(&v);
    }
    sdb_trace_free(t);
    return result;
}

int sqm_scan(sqm_run *r, int64_t start_ns, int64_t end_ns)
{
    unsigned needs = 0;
    const char *name = NULL;
    if ((r->engine == SQM_AUTO || r->engine == SQM_ROLLUP) && r->mq &&
        sqm_rollup_usable(r->mq, r->grid, &needs, &name))
        return sqm_rollup_scan(r, needs, name, r->grid, r->exemplars);
    if (r->engine != SQM_SCAN && r->mq && sqm_compact_usable(r->mq, &needs, &name))
        return sqm_compact_scan(r, needs, name, start_ns, end_ns && end_ns < INT64_MAX ? end_ns + 1 : INT64_MAX);
    r->used = SQM_SCAN;
    sdb_trace_query qry = {.start_ns = start_ns, .end_ns = end_ns};
    const char *key, *value;
    long rc = tql_required_span_eq(r->filter, &key, &value)
                  ? sdb_traces_by_attr(r->ctx->db, r->tenant, key, value, strlen(value), &qry, scan_cb, r)
                  : sdb_traces_scan(r->ctx->db, r->tenant, &qry, scan_cb, r);
    return rc < 0 ? -1 : 0;
}

int sqm_engine_param(sqm_run *r, const sq_request *req, ex_http_resp *resp)
{
    static const char *const names[] = {[SQM_AUTO] = "auto", [SQM_ROLLUP] = "rollup", [SQM_COMPACT] = "compact",
                                         [SQM_SCAN] = "scan"};
    const char *e = sq_arg(req, "engine");
    if (!e || !*e) return 0;
    for (int i = 0; i < 4; i++)
        if (strcmp(e, names[i]) == 0) return r->engine = i, 0;
    sq_reply_text(r->ctx, resp, 400, "engine=\"%.100s\": expected auto, rollup, compact or scan", e);
    return -1;
}

void sqm_engine_header(const sqm_run *r, ex_http_resp *resp)
{
    ex_http_resp_header(resp, "X-Extrace-Engine",
                        r->used == SQM_ROLLUP ? "rollup" : r->used == SQM_COMPACT ? "compact" : "scan");
}

int sqm_scan_failed(sqm_run *r, ex_http_resp *resp)
{
    if (r->agg_rc == SMX_TOO_MANY_SERIES)
        return sq_reply_text(r->ctx, resp, 400,
                             "the query gives more than %d series (the series limit): narrow the filter or by()",
                             SMX_SERIES_MAX);
    if (r->agg_rc == SMX_NOMEM) return sq_reply_text(r->ctx, resp, 500, "out of memory computing metrics");
    return sq_reply_text(r->ctx, resp, 500, "metrics query failed: %s",
                         r->error[0] ? r->error : sdb_errmsg(r->ctx->db));
}

void sqm_stats_json(sq_buf *b, const sqm_run *r)
{
    sqb_printf(b,
               "\"metrics\":{\"inspectedTraces\":%" PRIu64 ",\"inspectedBytes\":\"%" PRIu64
               "\",\"inspectedSpans\":\"%" PRIu64 "\",\"completedJobs\":1,\"totalJobs\":1}",
               r->traces, r->bytes, r->spans);
    if (r->work.stopped[0]) {
        sqb_lit(b, ",\"status\":\"PARTIAL\",\"message\":");
        sqb_jstr(b, r->work.stopped);
    }
}

/* ---- parameters ------------------------------------------------------------ */

/* An optional time parameter; 0 (absent), 1 (set), -1 after a 400. */
static int time_param(sq_ctx *ctx, const sq_request *req, ex_http_resp *resp, const char *name, int64_t *ns)
{
    const char *v = sq_arg(req, name), *why = NULL;
    if (!v || !*v) return 0;
    if (smx_time_parse(v, ns, &why) < 0) {
        sq_reply_text(ctx, resp, 400, "%s=\"%.100s\": %s", name, v, why);
        return -1;
    }
    return 1;
}

int sqm_range_params(sq_ctx *ctx, const sq_request *req, ex_http_resp *resp, int64_t now_ns, int64_t *start,
                     int64_t *end)
{
    int hs = time_param(ctx, req, resp, "start", start);
    if (hs < 0) return -1;
    int he = time_param(ctx, req, resp, "end", end);
    if (he < 0) return -1;
    const char *since = sq_arg(req, "since"), *why = NULL;
    int64_t back = HOUR;
    if (since && *since && !hs && smx_duration_parse(since, &back, &why) < 0) {
        sq_reply_text(ctx, resp, 400, "since=\"%.100s\": %s", since, why);
        return -1;
    }
    if (!he) *end = now_ns;
    if (!hs) *start = *end - back;
    if (*end <= *start) {
        sq_reply_text(ctx, resp, 400, "end=\"%s\" must be after start=\"%s\"", he ? sq_arg(req, "end") : "now",
                      hs ? sq_arg(req, "start") : "end - since");
        return -1;
    }
    return 0;
}

/* q (or Tempo's older name, query) parsed as a metrics query; -1 after a 400. */
static int query_param(sq_ctx *ctx, const sq_request *req, ex_http_resp *resp, smx_query **out)
{
    const char *q = sq_arg(req, "q");
    if (!q || !*q) q = sq_arg(req, "query");
    if (!q || !*q) {
        sq_reply_text(ctx, resp, 400, "q: a TraceQL metrics query is required, such as {} | rate()");
        return -1;
    }
    char err[512];
    if (smx_parse(q, out, err, sizeof err) < 0) {
        sq_reply_text(ctx, resp, 400, "invalid TraceQL metrics query q=\"%.200s\": %s", q, err);
        return -1;
    }
    return 0;
}

/* ---- answers --------------------------------------------------------------- */

/* A label or attribute as Tempo's KeyValue JSON; status and kind as their
 * names. */
static void label_json(sq_buf *b, const char *key, tql_value v)
{
    const char *name = v.type == TQL_STATUS ? tql_status_name((int)v.v.i)
                       : v.type == TQL_KIND ? tql_kind_name((int)v.v.i)
                                            : NULL;
    if (name) v = (tql_value){.type = TQL_STRING, .v.s = name};
    tql_attr a = {key, v};
    sq_attr_json(b, &a);
}

typedef struct render {
    sqm_run *run;
    sq_buf *b;
    const smx_grid *g;
    int instant;
    size_t n;
} render;

static void labels_json(sq_buf *b, const smx_series *s)
{
    sqb_lit(b, "\"labels\":[");
    for (size_t i = 0; i < s->nlabels; i++) {
        if (i) sqb_raw(b, ",", 1);
        label_json(b, s->labels[i].key, s->labels[i].val);
    }
    sqb_lit(b, "]");
}

static void exemplars_json(sqm_run *r, sq_buf *b, const smx_series *s)
{
    sqb_lit(b, ",\"exemplars\":[");
    for (size_t i = 0, k = 0; i < s->nexemplars; i++) {
        const smx_exemplar *x = &s->exemplars[i];
        uint8_t trace_id[16], span_id[8];
        if (!sqm_exemplar_ids(r, x, trace_id, span_id)) continue;
        if (k++) sqb_raw(b, ",", 1);
        sqb_lit(b, "{\"labels\":[{\"key\":\"trace:id\",\"value\":{\"stringValue\":");
        sqb_hex(b, trace_id, 16);
        sqb_lit(b, "}},{\"key\":\"span:id\",\"value\":{\"stringValue\":");
        sqb_hex(b, span_id, 8);
        sqb_lit(b, "}}],\"value\":");
        sqb_double(b, x->value);
        sqb_printf(b, ",\"timestampMs\":\"%" PRId64 "\"}", x->ts_ns / INT64_C(1000000));
    }
    sqb_lit(b, "]");
}

static int series_json(void *arg, const smx_series *s)
{
    render *r = arg;
    sq_buf *b = r->b;
    if (r->n++) sqb_raw(b, ",", 1);
    sqb_raw(b, "{", 1);
    labels_json(b, s);
    if (r->instant) {
        sqb_lit(b, ",\"value\":");
        sqb_double(b, isnan(s->values[0]) ? 0 : s->values[0]);
    } else {
        sqb_lit(b, ",\"samples\":[");
        size_t k = 0;
        for (size_t i = 0; i < r->g->nsteps; i++) {
            if (isnan(s->values[i])) continue;
            if (k++) sqb_raw(b, ",", 1);
            sqb_printf(b, "{\"timestampMs\":\"%" PRId64 "\",\"value\":",
                       (r->g->start_ns + (int64_t)i * r->g->step_ns) / INT64_C(1000000));
            sqb_double(b, s->values[i]);
            sqb_raw(b, "}", 1);
        }
        sqb_lit(b, "]");
        exemplars_json(r->run, b, s);
    }
    sqb_raw(b, "}", 1);
    return b->failed ? -1 : 0;
}

/* Shared by both routes once the grid is known. */
static int metrics_answer(sq_ctx *ctx, const sq_request *req, const char *tenant, smx_query *mq, const smx_grid *g,
                          size_t exemplars, ex_http_resp *resp)
{
    sqm_run r;
    sqm_run_init(&r, ctx, tenant);
    if (sqm_engine_param(&r, req, resp) < 0) return 1;
    r.filter = mq->filter;
    r.mq = mq;
    r.grid = g;
    r.exemplars = g->instant ? 0 : exemplars;
    r.agg = smx_agg_new(mq, g, r.exemplars);
    if (!r.agg) return sq_reply_text(ctx, resp, 500, "out of memory");
    ctx->stats.searches++;
    if (sqm_scan(&r, g->start_ns, g->end_ns - 1) < 0) {
        sqm_scan_failed(&r, resp);
        smx_agg_free(r.agg);
        return 1;
    }
    sq_buf b;
    sqb_init(&b, SQ_RESPONSE_MAX);
    sqb_lit(&b, "{\"series\":[");
    render rd = {&r, &b, g, g->instant, 0};
    if (smx_agg_result(r.agg, series_json, &rd) < 0 && !b.failed) b.failed = SQB_NOMEM;
    sqb_lit(&b, "],");
    sqm_stats_json(&b, &r);
    sqb_lit(&b, "}");
    smx_agg_free(r.agg);
    sq_reply_buf(ctx, resp, &b, "application/json");
    if (resp->status == 200) sq_work_report(ctx, &r.work, resp);
    sqm_engine_header(&r, resp);
    return 1;
}

int sq_metrics_query(sq_ctx *ctx, const sq_request *req, const char *tenant, int instant, ex_http_resp *resp)
{
    smx_query *mq = NULL;
    int64_t start = 0, end = 0, step = 0;
    size_t exemplars = 0;
    if (query_param(ctx, req, resp, &mq) < 0) return 1;
    if (sqm_range_params(ctx, req, resp, ex_clock_now(ex_clock_real()), &start, &end) < 0 ||
        sq_count_arg(ctx, req, resp, "exemplars", SMX_EXEMPLARS_DEFAULT, SMX_EXEMPLARS_MAX, &exemplars) < 0)
        goto out;
    smx_grid g;
    if (instant) {
        smx_grid_instant(&g, start, end);
    } else {
        const char *sv = sq_arg(req, "step"), *why = NULL;
        char err[256];
        if (sv && *sv && smx_duration_parse(sv, &step, &why) < 0) {
            sq_reply_text(ctx, resp, 400, "step=\"%.100s\": %s", sv, why);
            goto out;
        }
        if (!sv || !*sv) step = smx_default_step(start, end);
        if (smx_grid_range(&g, start, end, step, err, sizeof err) < 0) {
            sq_reply_text(ctx, resp, 400, "step=\"%.100s\" from start to end: %s", sv && *sv ? sv : "(default)",
                          err);
            goto out;
        }
    }
    metrics_answer(ctx, req, tenant, mq, &g, exemplars, resp);
out:
    smx_query_free(mq);
    return 1;
}
