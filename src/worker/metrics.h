/* metrics.h — the worker's counters, gauges and histogram, and their
 * Prometheus text exposition (format 0.0.4).
 *
 * The worker bumps plain fields of a wk_metrics (single thread, no locks);
 * /metrics renders them, together with gauges read at that moment, with
 * HELP and TYPE lines, label values escaped (\\, \", \n) and histogram
 * buckets cumulative with _sum and _count. Rendering is pure. */
#ifndef EXTRACE_WORKER_METRICS_H
#define EXTRACE_WORKER_METRICS_H
#include <stddef.h>
#include <stdint.h>

#include "worker/event.h"

#define WK_HIST_MAX_BOUNDS 16
#define WK_TEXT_MAX        (16 * 1024 * 1024) /* largest exposition we build */

/* How a watched workflow ended (label result of extrace_workflows_finished_total). */
typedef enum { WK_RESULT_OK, WK_RESULT_ERROR, WK_RESULT_TIMEOUT, WK_NRESULT } wk_result;

/* Why a poll failed (label kind of extrace_poll_errors_total). */
typedef enum {
    WK_POLL_ERR_CONNECT,    /* no connection, or it broke */
    WK_POLL_ERR_TIMEOUT,    /* --poll-timeout passed */
    WK_POLL_ERR_HTTP_5XX,   /* the API answered 5xx */
    WK_POLL_ERR_HTTP_OTHER, /* an unexpected status (not 200, 404, 5xx) */
    WK_POLL_ERR_JSON,       /* 200 but the body is not a JSON object */
    WK_POLL_ERR_CONTRACT,   /* 200 and JSON, but it breaks the API contract (or is too large) */
    WK_POLL_ERR_MAP,        /* a profile's jq program failed on the answers (extrace_map_errors_total says how) */
    WK_NPOLL_ERR
} wk_poll_error;

const char *wk_result_name(wk_result r);     /* "ok", "error", "timeout" */
const char *wk_poll_error_name(wk_poll_error k); /* "connect", "timeout", "http_5xx", … */

/* A histogram with fixed upper bounds (ascending, +Inf implied). */
typedef struct wk_histogram {
    const double *bounds;                   /* not owned: nbounds upper bounds */
    size_t nbounds;                         /* at most WK_HIST_MAX_BOUNDS */
    uint64_t counts[WK_HIST_MAX_BOUNDS + 1]; /* per bucket, NOT cumulative; last = above every bound */
    double sum;                             /* sum of observed values */
    uint64_t count;                         /* observations */
} wk_histogram;

void wk_histogram_init(wk_histogram *h, const double *bounds, size_t nbounds);
void wk_histogram_observe(wk_histogram *h, double v);

/* The bounds of extrace_poll_duration_seconds: 1 ms … 10 s. */
extern const double wk_poll_duration_bounds[];
extern const size_t wk_poll_duration_nbounds;

/* Counters the worker bumps. */
typedef struct wk_metrics {
    uint64_t events_received;                /* messages read from the channel */
    uint64_t events_rejected[WK_NREJECT];    /* by reason */
    uint64_t events_duplicate;               /* for a workflow already watched */
    uint64_t workflows_started;              /* monitors created */
    uint64_t workflows_finished[WK_NRESULT]; /* by result */
    uint64_t polls;                          /* polls completed (any outcome, aborts excluded) */
    uint64_t poll_errors[WK_NPOLL_ERR];      /* by kind */
    uint64_t map_errors[16];                 /* profile sources: the jq program's failures, by sr_jq_error */
    uint64_t polls_unchanged;                /* polls whose answers were all 304 Not Modified */
    uint64_t polls_same_doc;                 /* polls answered (200) with the document applied last: not read */
    uint64_t rate_limit_pauses[4];           /* pauses the API's rate limit asked for, by sr_pace_reason */
    uint64_t redis_connects;                 /* successful subscriptions (1 + reconnects) */
    uint64_t spans_submitted[2];             /* spans handed to the export: [0] while their workflow ran
                                                (as they ended), [1] when it ended */
    uint64_t spans_resent;                   /* of [1]: sent before, delivery not confirmed (identical copies) */
    uint64_t partial_exports[2];             /* exports of a running workflow's ended spans: [0] delivered,
                                                [1] not delivered (their spans go out again with the root) */
    wk_histogram poll_duration;              /* seconds per completed poll */
} wk_metrics;

/* Values read at render time. */
typedef struct wk_gauges {
    uint64_t workflows_in_flight; /* watched now */
    uint64_t polls_in_flight;     /* polls running now */
    uint64_t polls_waiting;       /* workflows waiting in the schedule */
    int polling_paused;           /* the rate limit holds polls back */
    int redis_subscribed;         /* 1 while subscribed */
    uint64_t spans_exported;      /* from exo_pipeline_get_stats */
    uint64_t spans_dropped;       /* likewise: queue full, final errors, shutdown */
    uint64_t export_queue_spans;  /* likewise: waiting or being sent */
    uint64_t export_requests;     /* likewise: sent, retries included */
    uint64_t export_failures;     /* likewise: failed requests */
    uint64_t spool_bytes;         /* likewise: size of the export spool on disk */
} wk_gauges;

void wk_metrics_init(wk_metrics *m);

/* A growable text buffer with a maximum (WK_TEXT_MAX). Appends past the
 * maximum or after a failed allocation set `failed` and are dropped. */
typedef struct wk_text {
    char *data;   /* owned, NUL-terminated when len > 0 */
    size_t len, cap; /* bytes used (without the NUL), bytes allocated */
    int failed;   /* 1 if something could not be appended */
} wk_text;

void wk_text_printf(wk_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void wk_text_free(wk_text *t);

/* "# HELP name help" (help escaped) and "# TYPE name type". */
void wk_prom_family(wk_text *t, const char *name, const char *type, const char *help);
/* One sample line: name{label="value"} v, or name v when label is NULL.
 * The label value is escaped. */
void wk_prom_sample(wk_text *t, const char *name, const char *label, const char *label_value, double v);
/* A counter / gauge family with its one unlabelled sample. */
void wk_prom_counter(wk_text *t, const char *name, const char *help, uint64_t v);
void wk_prom_gauge(wk_text *t, const char *name, const char *help, double v);
/* A whole histogram family: HELP, TYPE, _bucket{le=…} (cumulative), _sum, _count. */
void wk_prom_histogram(wk_text *t, const char *name, const char *help, const wk_histogram *h);
/* Append s as a label value: credentials masked (core/secret.h), cut at
 * 511 bytes, backslash, double quote and newline escaped. */
void wk_prom_escape_label(wk_text *t, const char *s);
/* Shortest text that reads back as v ("+Inf", "NaN", "3", "0.25"). buf >= 32 bytes. */
char *wk_prom_number(double v, char *buf, size_t len);

/* Render every worker metric into t (appended). 0, or -1 if t failed. */
int wk_metrics_render(const wk_metrics *m, const wk_gauges *g, wk_text *t);

#endif
