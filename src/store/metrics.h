/* metrics.h — TraceQL metrics (Tempo's /api/metrics/query_range and
 * /api/metrics/query): the metrics stage parser and the aggregation
 * engine. Pure: no I/O, no database; query_metrics.c feeds it the spans
 * of the store and serves the HTTP side. docs/query.md has the full page.
 *
 *   query   := filter "|" fn "(" args ")" [ "by" "(" field ( "," field )* ")" ] [ "with" "(" … ")" ]
 *   fn      := rate | count_over_time                          (no args)
 *            | min_over_time | max_over_time | avg_over_time
 *            | sum_over_time | histogram_over_time              (one field)
 *            | quantile_over_time                               (a field, then 1..16 numbers in [0, 1])
 *
 * The filter is every stage before the last top-level "|" and goes to
 * tql_parse (so it may be any TraceQL query the store accepts). */
#ifndef EXTRACE_STORE_METRICS_H
#define EXTRACE_STORE_METRICS_H
#include <stddef.h>
#include <stdint.h>

#include "store/traceql.h"

typedef enum {
    SMX_RATE = 0,
    SMX_COUNT,
    SMX_MIN,
    SMX_MAX,
    SMX_AVG,
    SMX_SUM,
    SMX_QUANTILE,
    SMX_HISTOGRAM,
} smx_fn;

/* Most by() fields, quantiles of one quantile_over_time. */
#define SMX_BY_MAX 5
#define SMX_QUANTILES_MAX 16
/* Bounds of one query: series in the answer (histogram buckets and
 * quantiles each count as a series) and steps of a range. */
#define SMX_SERIES_MAX 1000
#define SMX_STEPS_MAX 11000
/* Most values kept for exact quantiles (16 bytes each). */
#define SMX_VALUES_MAX (32u << 20)
/* Exemplars: default and most per query. */
#define SMX_EXEMPLARS_DEFAULT 100
#define SMX_EXEMPLARS_MAX 1000

/* A parsed metrics query. */
typedef struct smx_query {
    smx_fn fn;
    const char *fn_name;          /* "rate", "quantile_over_time" … (static) */
    tql_query *filter;            /* the span filter (owned) */
    tql_fieldref *attr;           /* the function's field, NULL for rate / count_over_time (owned) */
    char *attr_text;              /* as written, trimmed (owned; NULL without attr) */
    size_t nq;                    /* quantiles */
    double q[SMX_QUANTILES_MAX];
    size_t nby;
    tql_fieldref *by[SMX_BY_MAX]; /* owned */
    char *by_text[SMX_BY_MAX];    /* label keys: the fields as written, trimmed (owned) */
} smx_query;

/* Where the metrics stage starts in q: the byte offset of the last
 * top-level "|" (outside strings, parentheses and braces; "||" is not a
 * pipe) followed by an identifier and "(" that is not a TraceQL spanset
 * stage (select, count, avg, min, max, sum, by, coalesce). Returns the
 * offset, or -1 when q has no such stage. Pure. */
long smx_stage_offset(const char *q);

/* Parse a whole metrics query. 0 with *out (free with smx_query_free), or
 * -1 with a message in err naming the 1-based position in q, e.g.
 * `position 9: unknown metrics function "rates" (expected rate, …)`,
 * `not a metrics query: … `. */
int smx_parse(const char *q, smx_query **out, char *err, size_t errlen);
void smx_query_free(smx_query *q);
/* Free what q holds, not q itself (a query built by hand), and zero it. */
void smx_query_clear(smx_query *q);

/* ---- aggregation --------------------------------------------------------- */

/* The time grid: spans starting in [start_ns, end_ns) count, in step
 * intervals [start_ns + k·step_ns, start_ns + (k+1)·step_ns), each
 * stamped with its start. An instant query has one interval. */
typedef struct smx_grid {
    int64_t start_ns, end_ns, step_ns;
    size_t nsteps;
    int instant;
} smx_grid;

/* Align a range to its step as Tempo does (start down, end up to a
 * multiple of step) and count the steps. 0, or -1 with err naming the
 * limit (end not after start, or more than SMX_STEPS_MAX steps). */
int smx_grid_range(smx_grid *g, int64_t start_ns, int64_t end_ns, int64_t step_ns, char *err, size_t errlen);
/* One interval [start_ns, end_ns) (end > start). */
void smx_grid_instant(smx_grid *g, int64_t start_ns, int64_t end_ns);

typedef struct smx_agg smx_agg;

/* Results of observing spans. */
enum { SMX_OK = 0, SMX_NOMEM = -1, SMX_TOO_MANY_SERIES = -2, SMX_TOO_MANY_VALUES = -3 };

/* An aggregator for q over grid g (both must outlive it), keeping up to
 * max_exemplars exemplars. NULL on allocation failure. */
smx_agg *smx_agg_new(const smx_query *q, const smx_grid *g, size_t max_exemplars);
void smx_agg_free(smx_agg *a);
/* Count span i of t (which the filter matched). SMX_OK (also when the
 * span is outside the grid or lacks the function's field), SMX_NOMEM,
 * SMX_TOO_MANY_SERIES (more than SMX_SERIES_MAX series) or
 * SMX_TOO_MANY_VALUES (more than SMX_VALUES_MAX quantile values). */
int smx_agg_observe(smx_agg *a, const tql_trace *t, size_t i);
/* smx_agg_observe for n spans alike (a histogram bucket's count: their
 * value is the one of span i), with an exemplar unless exemplar is 0. */
int smx_agg_observe_n(smx_agg *a, const tql_trace *t, size_t i, uint32_t n, int exemplar);
/* Only an exemplar of span i, when its series and step have none yet and
 * the query has room: it is not counted. SMX_OK or an error as above. */
int smx_agg_exemplar(smx_agg *a, const tql_trace *t, size_t i);
/* Forget everything observed (start over with the same query and grid). */
void smx_agg_clear(smx_agg *a);
/* Spans observed inside the grid. */
uint64_t smx_agg_spans(const smx_agg *a);
/* Series the answer will hold (by() groups × quantiles or buckets). */
size_t smx_agg_series(const smx_agg *a);

/* One computed series, for smx_agg_result. Labels are the by() fields
 * (in by() order) then "p" (quantiles) or "__bucket" (histograms); a
 * query without by() gets {__name__ = fn name} as Tempo does. */
typedef struct smx_label {
    const char *key;   /* by() text, "p", "__bucket" or "__name__" */
    tql_value val;     /* TQL_NIL when the span lacked the field */
} smx_label;

typedef struct smx_exemplar {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    int64_t ts_ns;     /* span start */
    double value;      /* the span's value (NaN for rate, count, histogram) */
} smx_exemplar;

typedef struct smx_series {
    smx_label labels[SMX_BY_MAX + 1];
    size_t nlabels;
    const double *values;   /* one per step; NaN where the series has no value */
    const smx_exemplar *exemplars;
    size_t nexemplars;
    uint64_t spans;         /* spans counted in the group, over every step */
    uint64_t errors;        /* of which with status error */
} smx_series;

/* Compute the answer: calls cb once per series, ordered by labels. Values
 * are rate (count / step seconds), counts, min/max/avg/sum of the field
 * (durations in seconds), exact quantiles (nearest rank: the
 * ceil(q·n)-th smallest value) or log2 bucket counts. Strings and the
 * arrays are valid during the call. 0, or -1 on allocation failure or
 * when cb returns non-zero. */
typedef int (*smx_series_cb)(void *arg, const smx_series *s);
int smx_agg_result(smx_agg *a, smx_series_cb cb, void *arg);

/* ---- request parameters (metrics_time.c) ----------------------------------- */

/* A time as Tempo's metrics API takes it: unix seconds (at most 10
 * digits), unix nanoseconds (more digits), fractional seconds
 * ("1700000000.5", to the millisecond) or RFC 3339 ("2026-12-02T10:00:00Z").
 * 0, or -1 with a static reason in *why. */
int smx_time_parse(const char *s, int64_t *ns, const char **why);
/* A step or since= duration: a Go duration ("30s", "1m30s") or seconds
 * ("15", "0.5"); positive. 0 or -1 with a static reason. */
int smx_duration_parse(const char *s, int64_t *ns, const char **why);
/* Tempo's step when none is given: about 240 points over the range, at
 * least 1 s (50 ms steps below a minute), rounded down to 1 h, 5 m, 1 m,
 * 15 s, 5 s or 1 s. */
int64_t smx_default_step(int64_t start_ns, int64_t end_ns);

/* Tempo's log2 bucket of a value: the next power of two ≥ v (v ≥ 2; 0
 * for v < 2, which no bucket holds). */
uint64_t smx_log2_bucket(uint64_t v);

#endif
