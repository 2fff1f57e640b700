/* query_metrics.h — what query_metrics.c (TraceQL metrics routes) and
 * query_summary.c (metrics summary) share: one scan of the store feeding
 * metrics aggregators. Not a public header. */
#ifndef EXTRACE_STORE_QUERY_METRICS_H
#define EXTRACE_STORE_QUERY_METRICS_H
#include "store/metrics.h"
#include "store/query_int.h"

/* The engines (query_mcompact.c; docs/query.md). */
enum { SQM_AUTO = 0, SQM_ROLLUP, SQM_COMPACT, SQM_SCAN };

/* One scan: the filter, the aggregator each matched span goes to, and
 * what was read. */
typedef struct sqm_run {
    sq_ctx *ctx;
    const char *tenant;
    const tql_query *filter;          /* borrowed */
    const smx_query *mq;              /* the aggregator's query (borrowed): when its fields allow, the scan
                                         reads the compact span table (query_mcompact.c) */
    smx_agg *agg;                     /* borrowed */
    const smx_grid *grid;             /* the aggregator's grid (NULL: no rollups) */
    size_t exemplars;                 /* exemplars wanted (the rollup engine samples them) */
    int engine;                       /* SQM_AUTO, or the one engine= asks for */
    int used;                         /* the engine that answered (exemplar ids are rowids but with the scan) */
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
/* engine= (absent or "auto", "rollup", "compact", "scan") into
 * r->engine; 0, or -1 after a 400 naming the value. */
int sqm_engine_param(sqm_run *r, const sq_request *req, ex_http_resp *resp);
/* Say which engine answered: X-Extrace-Engine: rollup | compact | scan. */
void sqm_engine_header(const sqm_run *r, ex_http_resp *resp);
/* Answer a failed scan: 400 for the series limit, else 500. Returns 1. */
int sqm_scan_failed(sqm_run *r, ex_http_resp *resp);
/* "metrics":{…} (Tempo's SearchMetrics) and, when a limit stopped the
 * scan, "status":"PARTIAL","message":"…". */
void sqm_stats_json(sq_buf *b, const sqm_run *r);

/* ---- the compact engine (query_mcompact.c) ------------------------------ */

/* Whether mq's filter, by() fields and function field depend on one span
 * alone (tql_span_local): 1 with *needs (TQL_LOCAL_ATTRS) and *name (a
 * name every match has, or NULL), else 0. Pure. */
int sqm_compact_usable(const smx_query *mq, unsigned *needs, const char **name);
/* Feed every compact row starting in [start_ns, end_ns) (named name
 * unless NULL) to r's filter and aggregator. 0 (also when a limit
 * stopped it), or -1: answer with sqm_scan_failed. */
int sqm_compact_scan(sqm_run *r, unsigned needs, const char *name, int64_t start_ns, int64_t end_ns);
/* Whether mq over g can be answered from the per-minute counts: a range
 * on whole minutes; rate, count_over_time, quantile_over_time(duration)
 * or histogram_over_time(duration); filter and by() on name, status,
 * kind and resource.service.name only. 1 with *needs and *name, else 0.
 * Pure. */
int sqm_rollup_usable(const smx_query *mq, const smx_grid *g, unsigned *needs, const char **name);
/* Feed the counts of g's minutes to r's filter and aggregator, then offer
 * it exemplars from a few compact rows. 0 or -1 as sqm_compact_scan. */
int sqm_rollup_scan(sqm_run *r, unsigned needs, const char *name, const smx_grid *g, size_t exemplars);
/* Unpack a compact row's attributes (db.h, sdb_mspan_attrs_pack) into
 * out[0..max): keys and strings point into p. The count, or -1 when p is
 * malformed or holds more than max. Pure. */
long sqm_attrs_decode(const uint8_t *p, size_t len, tql_attr *out, size_t max);
/* The trace and span id of exemplar x of run r: 1, or 0 when its span
 * is gone (leave the exemplar out). */
int sqm_exemplar_ids(sqm_run *r, const smx_exemplar *x, uint8_t trace_id[16], uint8_t span_id[8]);

/* start/end/since as Tempo's metrics API takes them (metrics.h,
 * smx_time_parse); default: the hour before now_ns. 0, or -1 after a 400
 * naming the parameter. */
int sqm_range_params(sq_ctx *ctx, const sq_request *req, ex_http_resp *resp, int64_t now_ns, int64_t *start,
                     int64_t *end);

#endif
