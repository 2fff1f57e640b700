/* query_metrics.h — what query_metrics.c (TraceQL metrics routes) and
 * query_summary.c (metrics summary) share: one scan of the store feeding
 * metrics aggregators. Not a public header. */
#ifndef EXTRACE_STORE_QUERY_METRICS_H
#define EXTRACE_STORE_QUERY_METRICS_H
#include "store/metrics.h"
#include "store/query_int.h"

/* One scan: the filter, the aggregator each matched span goes to, and
 * what was read. */
typedef struct sqm_run {
    sq_ctx *ctx;
    const char *tenant;
    const tql_query *filter;          /* borrowed */
    smx_agg *agg;                     /* borrowed */
    sq_work work;
    int agg_rc;                       /* the first error of smx_agg_observe (SMX_OK while none) */
    uint64_t traces, bytes, spans;    /* inspected */
    char error[512];                  /* a database failure */
} sqm_run;

/* Start a run (work limits counted from now). */
void sqm_run_init(sqm_run *r, sq_ctx *ctx, const char *tenant);
/* Feed every trace overlapping [start_ns, end_ns] (0: unbounded) to the
 * aggregator. 0
 * (also when stopped by a limit: r->work.stopped says which), or -1:
 * answer it with sqm_scan_failed. */
int sqm_scan(sqm_run *r, int64_t start_ns, int64_t end_ns);
/* Answer a failed scan: 400 for the series limit, else 500. Returns 1. */
int sqm_scan_failed(sqm_run *r, ex_http_resp *resp);
/* "metrics":{…} (Tempo's SearchMetrics) and, when a limit stopped the
 * scan, "status":"PARTIAL","message":"…". */
void sqm_stats_json(sq_buf *b, const sqm_run *r);

/* start/end/since as Tempo's metrics API takes them (metrics.h,
 * smx_time_parse); default: the hour before now_ns. 0, or -1 after a 400
 * naming the parameter. */
int sqm_range_params(sq_ctx *ctx, const sq_request *req, ex_http_resp *resp, int64_t now_ns, int64_t *start,
                     int64_t *end);

#endif
