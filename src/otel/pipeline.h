/* pipeline.h — from finished spans to the backends.
 *
 * The worker submits finished spans: a workflow's stage spans as they
 * end, its root (with what is still owed) when it ends. The
 * pipeline keeps them in a bounded queue (OTEL_BSP_MAX_QUEUE_SIZE spans),
 * sends batches of at most OTEL_BSP_MAX_EXPORT_BATCH_SIZE spans every
 * OTEL_BSP_SCHEDULE_DELAY (or as soon as a batch is full) to every
 * configured exporter (otlp over grpc | http/protobuf | http/json,
 * console), retries by the OTLP rules with exponential backoff and
 * Retry-After, and counts what it could not deliver. It runs on the
 * caller's libuv loop; nothing here blocks.
 *
 * Each submission has a completion callback, called exactly once when all
 * its spans have been delivered to every exporter (delivered = 1) or when
 * any of them was dropped (delivered = 0): the worker acknowledges durable
 * intake only on delivery. */
#ifndef EXTRACE_OTEL_PIPELINE_H
#define EXTRACE_OTEL_PIPELINE_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "otel/otel_env.h"
#include "otel/retry.h"
#include "otel/span.h"

typedef struct exo_pipeline exo_pipeline;

typedef void (*exo_submit_cb)(void *arg, int delivered);

typedef struct exo_pipeline_stats {
    uint64_t spans_exported;  /* accepted by the backend (per span, summed over exporters) */
    uint64_t spans_dropped;   /* queue full, final errors, retries exhausted, shutdown; spans submitted again not */
    uint64_t spans_dropped_again; /* dropped again: spans of a submission made with again = 1 */
    uint64_t export_requests; /* requests sent, retries included */
    uint64_t export_failures; /* requests that failed (retryable or not) */
    size_t spans_queued;      /* waiting in the queue or in flight now */
    /* Added by the export pipeline (details of the counters above): */
    uint64_t export_retries;      /* requests that were retries of a failed one */
    uint64_t spans_rejected;      /* dropped because the backend refused them (partial success) */
    uint64_t spans_dropped_queue_full; /* spans refused at submit because the queue was full (once per span) */
    uint64_t batches_dropped;     /* (batch, exporter) pairs given up on: final error, retries exhausted, shutdown */
    /* The spool (all 0 without --spool-dir): */
    uint64_t spans_dropped_spool_full; /* spans dropped because the spool was full (also in spans_dropped) */
    uint64_t spans_spooled;       /* spans waiting in the spool now (per exporter record) */
    uint64_t spool_bytes;         /* size of the spool's segment files now */
    uint64_t spool_records_corrupt; /* spool records skipped: bad checksum, cut short, unreadable */
    uint64_t spool_spans_resent;  /* spans delivered from records no submission waits for (from before a restart) */
} exo_pipeline_stats;

/* Create on `loop` from the parsed OTEL_* config and resource (both copied).
 * NULL with err set when the config can't be used (e.g. a bad endpoint). */
exo_pipeline *exo_pipeline_new(uv_loop_t *loop, const exo_export_config *cfg, const exo_resource *res,
                               const char *scope_name, const char *scope_version, char *err, size_t errlen);

/* Hand over n finished spans (the pipeline owns them from now on, even when
 * it drops them). done_cb (may be NULL) runs once, later, on the loop. */
void exo_pipeline_submit(exo_pipeline *p, exo_span **spans, size_t n, exo_submit_cb done_cb, void *arg);
/* The same; again = 1 says these spans were submitted before and that
 * submission was not delivered (a trace exported again): if they are
 * dropped now, they count in spans_dropped_again, not spans_dropped, so a
 * backend that stays away does not inflate spans_dropped with the same
 * data every retry. */
void exo_pipeline_submit_again(exo_pipeline *p, exo_span **spans, size_t n, exo_submit_cb done_cb, void *arg,
                               int again);

void exo_pipeline_get_stats(const exo_pipeline *p, exo_pipeline_stats *out);

/* Settings that are not OTEL_* variables; exo_pipeline_new uses the
 * defaults. Tests pass short backoffs so retries take milliseconds. */
typedef struct exo_pipeline_options {
    exo_backoff backoff;  /* retry delays (default: 1 s, x2, 30 s cap, 20 % jitter) */
    size_t max_inflight;  /* batches being exported at once (default 2, at least 1) */
    uint64_t rng_seed;    /* jitter seed; 0 = from the OS */
    const char *spool_dir; /* on-disk spool for batches the backend did not take in time; NULL = drop them */
    uint64_t spool_max_bytes;     /* bound of the spool (default 256 MiB) */
    uint64_t spool_segment_bytes; /* segment size (default 8 MiB, at most spool_max_bytes) */
} exo_pipeline_options;

void exo_pipeline_options_default(exo_pipeline_options *o);

/* exo_pipeline_new with explicit options (NULL: the defaults). With a
 * spool_dir, a batch whose retries run out of OTEL_BSP_EXPORT_TIMEOUT on a
 * retryable failure is written to the spool instead of dropped; spooled
 * batches are sent again in order (probing with the retry backoff) and
 * only then complete their submissions (delivered = 1). While an
 * exporter has records in the spool, its new batches join the spool's
 * tail, so order is kept. Records left by an earlier process are sent
 * first. A flush timeout or destroy completes the submissions of spooled
 * batches with delivered = 0; the records stay on disk. */
exo_pipeline *exo_pipeline_new_opts(uv_loop_t *loop, const exo_export_config *cfg, const exo_resource *res,
                                    const char *scope_name, const char *scope_version,
                                    const exo_pipeline_options *opts, char *err, size_t errlen);

/* Export everything queued now, without waiting for the schedule; then call
 * done_cb. Whatever is not delivered within timeout_ns is dropped and
 * counted. Used at shutdown. */
void exo_pipeline_flush(exo_pipeline *p, int64_t timeout_ns, void (*done_cb)(void *arg), void *arg);

/* Drop what is left (counted), close every handle; the memory is freed once
 * the loop has closed them (run the loop afterwards). Callbacks still owed
 * (submissions, a pending flush) run during that loop run, before the
 * memory is freed; none runs inside this call. Safe to call from a
 * submission or flush callback. */
void exo_pipeline_destroy(exo_pipeline *p);

#endif
