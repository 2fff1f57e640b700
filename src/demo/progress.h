/* progress.h — what the demo shows about the running system (pure).
 *
 * The worker's /metrics (Prometheus text format 0.0.4) gives the workflow
 * and span counters; the generator's --ids-out file gives how many
 * workflows were published. From both come the status line and the
 * answer to "is everything published finished and exported?". */
#ifndef EXTRACE_DEMO_PROGRESS_H
#define EXTRACE_DEMO_PROGRESS_H
#include <stddef.h>
#include <stdint.h>

/* The worker counters the demo reads. */
typedef struct dm_worker_stats {
    uint64_t started;        /* extrace_workflows_started_total */
    int64_t in_flight;       /* extrace_workflows_in_flight */
    uint64_t ok;             /* extrace_workflows_finished_total{result="ok"} */
    uint64_t failed;         /* … {result="error"} */
    uint64_t timed_out;      /* … {result="timeout"} */
    uint64_t spans_exported; /* extrace_spans_exported_total */
    uint64_t spans_dropped;  /* extrace_spans_dropped_total (0 when absent) */
    int64_t export_queue;    /* extrace_export_queue_spans: queued or being sent */
} dm_worker_stats;

/* Everything the status line shows. */
typedef struct dm_progress {
    int64_t published;     /* workflows the generator has sent */
    int64_t total;         /* workflows it will send (--workflows) */
    int gen_done;          /* the generator exited successfully */
    int have_stats;        /* stats holds a successful scrape */
    dm_worker_stats stats; /* the last successful scrape */
    char stats_error[256];  /* why the last scrape failed; "" when it did not */
} dm_progress;

/* Parse a /metrics answer of `len` bytes into *out. Returns 0, or -1 with
 * the name of a missing or malformed metric in why. */
int dm_metrics_parse(const char *text, size_t len, dm_worker_stats *out, char *why, size_t whylen);

/* Workflows the worker has finished, whatever their result. */
uint64_t dm_progress_finished(const dm_progress *p);

/* 1 once the generator is done, every published workflow has finished and
 * the worker has no span left to export; else 0. */
int dm_progress_done(const dm_progress *p);

/* The status line, e.g. "published 12/30, in flight 5, ok 6, failed 1,
 * timed out 0, spans exported 28" (under 80 columns for the usual counts),
 * into buf (truncated to len). Returns the length written. */
size_t dm_progress_format(const dm_progress *p, char *buf, size_t len);

#endif
