/* pipeline_int.h — the export pipeline's state, shared by pipeline.c (setup,
 * the queue and its batches, callbacks that are due, flush, stats,
 * shutdown) and pipeline_send.c (export jobs with their retries, the
 * hand-off to the spool and the spool's drain). Not a public interface:
 * only those two files include it; everyone else uses pipeline.h. */
#ifndef EXTRACE_OTEL_PIPELINE_INT_H
#define EXTRACE_OTEL_PIPELINE_INT_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/rng.h"
#include "otel/batch.h"
#include "otel/exporter.h"
#include "otel/pipeline.h"
#include "otel/spool.h"

#define COMP "export" /* log component of both files */
#define SPOOL_MAX_DEFAULT     (UINT64_C(256) << 20) /* spool bound when the options give none */
#define SPOOL_SEGMENT_DEFAULT (UINT64_C(8) << 20)   /* spool segment size when the options give none */

typedef struct export_job export_job;     /* one batch on one exporter (pipeline_send.c) */
typedef struct flush_waiter flush_waiter; /* a caller of exo_pipeline_flush (pipeline.c) */

typedef struct exporter_slot {
    const exo_exporter *impl; /* static */
    void *state;              /* the exporter's; invalid once closed */
    int closed;               /* shutdown has completed */
    size_t in_spool;          /* records for this exporter waiting in the spool */
    exo_pipeline *p;          /* back pointer for the closed callback */
} exporter_slot;

struct exo_pipeline {
    uv_loop_t *loop;                  /* not owned */
    exo_batch_queue q;                /* spans and submissions */
    exporter_slot slots[EXO_MAX_EXPORTERS]; /* the exporters, in OTEL_TRACES_EXPORTER order */
    size_t nslots;                    /* exporters in use (0: "none") */
    exo_resource resource;            /* copy of the caller's */
    char *scope_name, *scope_version; /* owned copies */

    int64_t schedule_delay_ns;        /* OTEL_BSP_SCHEDULE_DELAY */
    int64_t export_timeout_ns;        /* OTEL_BSP_EXPORT_TIMEOUT: a batch's whole life */
    int64_t request_timeout_ns;       /* OTEL_EXPORTER_OTLP_TIMEOUT: one attempt */
    size_t max_batch;                 /* OTEL_BSP_MAX_EXPORT_BATCH_SIZE */
    size_t max_inflight;              /* batches out at once */
    exo_backoff backoff;              /* retry delays */
    ex_rng rng;                       /* jitter */

    size_t batches_out;               /* batches taken and not yet released */
    int overdue;                      /* the schedule delay passed while spans waited */
    uv_timer_t sched_timer;           /* schedule delay */
    uv_timer_t dispatch_timer;        /* runs callbacks that are due */
    uv_timer_t flush_timer;           /* flush timeout */
    flush_waiter *flushes;            /* pending flush callers (flushing when non-NULL) */
    flush_waiter *flushed;            /* completed flushes whose callbacks are due */
    export_job *jobs;                 /* jobs alive */

    exo_spool *spool;                 /* owned; NULL without a spool directory */
    uint64_t spool_max_bytes;         /* its bound, for the log */
    uv_timer_t drain_timer;           /* next attempt to send the spool's head */
    int drain_sending;                /* the spool's head is on the wire */
    unsigned drain_attempts;          /* failed attempts on the current head */
    exo_payload drain_payload;        /* owned while drain_sending */
    uint64_t spans_dropped_spool_full, spool_spans_resent;

    uint64_t export_requests, export_failures, export_retries, spans_rejected, batches_dropped;

    int destroyed;                    /* exo_pipeline_destroy was called */
    int open_handles;                 /* uv handles not yet closed (after destroy) */
    size_t open_exporters;            /* exporters not yet closed (after destroy) */
    int pumping;                      /* exo__pipeline_pump is running (no re-entry) */
    int repump;                       /* it was asked again meanwhile */
};

/* ---- pipeline.c ---------------------------------------------------------- */

/* Cut batches from the queue and start their jobs while max_inflight
 * allows; keeps the schedule timer in step. Does nothing after destroy and
 * is safe to call from inside itself (the outer call goes round again). */
void exo__pipeline_pump(exo_pipeline *p);

/* Arm the zero-delay timer that runs the submission and flush callbacks
 * that are due, if any are (none is ever run inside this call). Does
 * nothing after destroy. */
void exo__pipeline_schedule_dispatch(exo_pipeline *p);

/* Complete the pending flushes once nothing is queued, in a batch or
 * held for the spool. */
void exo__pipeline_check_flush(exo_pipeline *p);

/* After destroy: once every handle, exporter, job and spool send is gone,
 * run the callbacks still owed and free p. Before destroy: nothing. */
void exo__pipeline_maybe_free(exo_pipeline *p);

/* ---- pipeline_send.c ----------------------------------------------------- */

/* Open the spool in opts->spool_dir (bounds from opts, 0 = the defaults)
 * and count each exporter's records found there. Called once by
 * exo_pipeline_new_opts after the exporters started and before the
 * timers exist. -1 with err set when the directory cannot be used. */
int exo__pipeline_open_spool(exo_pipeline *p, const exo_pipeline_options *opts, char *err, size_t errlen);

/* Start sending the spool now unless a send or a retry is pending (or
 * there is no spool, nothing in it, or the pipeline was destroyed). */
void exo__pipeline_drain_kick(exo_pipeline *p);

/* Send batch b to the exporter of slot, as one job with its own retries
 * (or, when older batches of that exporter wait in the spool, append it
 * behind them). The batch stays owned by the queue; a job that ends at
 * once may release it before this returns. */
void exo__pipeline_job_start(exo_pipeline *p, exporter_slot *slot, exo_batch *b);

/* Give up on every job still alive (dropped and counted with reason; a
 * send on the wire finishes later and is then freed) and complete the
 * submissions of spooled batches undelivered, leaving the records on
 * disk for a later drain or the next start. */
void exo__pipeline_abandon_sends(exo_pipeline *p, const char *reason);

#endif
