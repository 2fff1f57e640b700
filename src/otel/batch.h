/* batch.h — the batch span processor's bookkeeping, without I/O.
 *
 * A bounded FIFO of finished spans, cut into batches that every exporter
 * sends, and the accounting that decides when a submission (the spans of
 * one exo_pipeline_submit call) is finished:
 *   - a span that does not fit in the queue is dropped at once;
 *   - each batch is handed to every exporter, and each exporter reports
 *     once whether the batch was delivered (possibly minus spans the
 *     backend rejected) or dropped;
 *   - a submission succeeds when every exporter delivered all of its
 *     spans, and fails as soon as one of them is dropped anywhere.
 * Finished submissions are not called back from here: they wait in a
 * "due" list that the owner drains on its loop (exo_bq_next_due), so a
 * callback never runs inside exo_bq_submit or exo_bq_batch_done.
 *
 * Counters are per (span, exporter) pair, so with E exporters, once
 * every batch taken has been reported on by every exporter,
 *   submitted * E = exported + dropped + queued * E. */
#ifndef EXTRACE_OTEL_BATCH_H
#define EXTRACE_OTEL_BATCH_H
#include <stddef.h>
#include <stdint.h>

#include "otel/span.h"

/* Called once per submission: delivered = 1 when every span reached every
 * exporter's backend, 0 when any was dropped. Same type as exo_submit_cb. */
typedef void (*exo_bq_done_cb)(void *arg, int delivered);

typedef struct exo_submission exo_submission;

/* A batch taken from the queue; owned by the queue, alive until every
 * exporter has reported on it (exo_bq_batch_done). */
typedef struct exo_batch {
    exo_span **spans;      /* n spans, owned by the batch */
    exo_submission **subs; /* the submission of each span */
    size_t n;              /* spans in the batch */
    size_t pending;        /* exporters that have not reported yet */
    uint64_t seq;          /* 1, 2, … in the order batches were taken */
} exo_batch;

/* One queued span. */
typedef struct exo_bq_slot {
    exo_span *span;      /* owned */
    exo_submission *sub; /* its submission */
} exo_bq_slot;

typedef struct exo_batch_queue {
    exo_bq_slot *ring;      /* circular buffer, grown on demand up to max_queue */
    size_t cap;             /* slots allocated */
    size_t head, len;       /* first slot, slots in use */
    size_t max_queue;       /* OTEL_BSP_MAX_QUEUE_SIZE: spans beyond it are dropped */
    size_t nexporters;      /* each batch waits for this many reports */
    size_t in_batches;      /* spans taken but not yet released */
    uint64_t next_seq;      /* seq of the next batch */
    exo_submission *due_head, *due_tail; /* finished submissions, FIFO */
    uint64_t exported;      /* (span, exporter) pairs delivered */
    uint64_t dropped;       /* (span, exporter) pairs dropped */
    uint64_t dropped_again; /* … of which from submissions made again (exo_bq_submit_again) */
    uint64_t dropped_queue_full; /* spans dropped because the queue was full */
    uint64_t held;          /* (span, exporter) pairs in holds now (handed to the spool) */
} exo_batch_queue;

/* Prepare an empty queue. max_queue >= 1, nexporters >= 1. No allocation. */
void exo_bq_init(exo_batch_queue *q, size_t max_queue, size_t nexporters);

/* Take ownership of n spans and enqueue them as one submission. Spans that
 * do not fit are freed and counted (exo_bq_submit returns how many); the
 * submission then fails. n == 0 succeeds at once. cb may be NULL and is
 * called through the due list. Only when the submission itself cannot be
 * allocated are all n spans dropped and cb called with 0 before this
 * returns (there is nowhere to keep it). */
size_t exo_bq_submit(exo_batch_queue *q, exo_span **spans, size_t n, exo_bq_done_cb cb, void *arg);
/* The same for spans submitted before whose submission failed (a trace
 * exported again): their drops are also counted in dropped_again. */
size_t exo_bq_submit_again(exo_batch_queue *q, exo_span **spans, size_t n, exo_bq_done_cb cb, void *arg, int again);

/* Spans waiting in the queue (not yet in a batch). */
size_t exo_bq_queued(const exo_batch_queue *q);

/* Move up to max_batch spans (FIFO) into a new batch. NULL when the queue
 * is empty or on allocation failure (the spans then stay queued). */
exo_batch *exo_bq_take(exo_batch_queue *q, size_t max_batch);

/* One exporter's report on a batch: delivered = 1 with `rejected` spans
 * refused by the backend (partial success: which ones is not known, so
 * every submission in the batch fails when rejected > 0), or delivered = 0
 * (all n spans dropped). When the last exporter has reported, the batch
 * and its spans are freed and 1 is returned (b is then invalid); else 0. */
int exo_bq_batch_done(exo_batch_queue *q, exo_batch *b, int delivered, uint64_t rejected);

/* One exporter's share of a batch handed to the spool: the spans are gone
 * from memory, their submissions wait for exo_bq_hold_done. */
typedef struct exo_bq_hold {
    exo_submission **subs; /* the submission of each span (owned array) */
    size_t n;              /* spans */
} exo_bq_hold;

/* Report exporter's share of b as handed on (to the spool) instead of
 * delivered or dropped: the submissions stay open until
 * exo_bq_hold_done. Returns the hold (NULL when out of memory: then
 * nothing changed and the caller drops the batch as usual); *released =
 * 1 when that was the last report and b is freed. */
exo_bq_hold *exo_bq_batch_hold(exo_batch_queue *q, exo_batch *b, int *released);

/* Settle a hold like exo_bq_batch_done settles a batch: delivered with
 * `rejected` spans refused, or dropped; counted in exported / dropped.
 * abandon = 1 instead fails the submissions without counting the spans
 * as exported or dropped (they stay in the spool). Frees h. */
void exo_bq_hold_done(exo_batch_queue *q, exo_bq_hold *h, int delivered, uint64_t rejected, int abandon);

/* Drop every queued span (counted; their submissions fail). Returns the
 * number of spans dropped. Batches already taken are not affected. */
size_t exo_bq_drop_queued(exo_batch_queue *q);

/* Pop the next finished submission: 1 with *cb, *arg and *delivered set
 * (cb may be NULL: the submission had none), or 0 when none is due. The
 * submission is freed here unless batches still hold its spans. */
int exo_bq_next_due(exo_batch_queue *q, exo_bq_done_cb *cb, void **arg, int *delivered);

/* Whether submissions are waiting in the due list. */
int exo_bq_has_due(const exo_batch_queue *q);

/* Free the ring and any queued spans (counted as dropped). Batches still
 * taken must have been completed first; the due list must be drained
 * (undrained entries are freed without their callbacks). */
void exo_bq_free(exo_batch_queue *q);

#endif
