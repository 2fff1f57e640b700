/* pipeline_send.c — the export pipeline's sending side: export jobs, the
 * spool hand-off and the spool's drain.
 *
 * Each batch becomes one export job per exporter: the exporter encodes it
 * once, sends it, and the job retries retryable failures (retry.h) until
 * OTEL_BSP_EXPORT_TIMEOUT after the first attempt. Whatever a job gives up
 * on is dropped, counted, and logged once per batch; with a spool, a batch
 * whose retries ran out (or whose exporter has older records waiting)
 * goes to the spool instead, and the drain sends the spool's records one
 * at a time, oldest first. The queue side is in pipeline.c; the state both
 * share is in pipeline_int.h. */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "otel/pipeline_int.h"

/* One batch on one exporter, from encoding to delivery or drop. */
struct export_job {
    exo_pipeline *p;           /* the pipeline it belongs to */
    exporter_slot *slot;       /* the exporter it sends to */
    exo_batch *batch;          /* NULL once accounted for (abandoned at a flush timeout) */
    exo_payload payload;       /* owned: the encoded batch, re-sent on retries */
    unsigned attempts;         /* sends started */
    int64_t deadline;          /* monotonic ns: no attempt starts after it */
    uv_timer_t timer;          /* retry delay; initialised on first use */
    int timer_used;            /* timer was initialised (must be closed) */
    int sending;               /* a send is in flight */
    int finished;              /* accounted for; freed once the send and timer are done */
    struct export_job *prev, *next; /* the pipeline's list */
};

/* ---- the spool's setup --------------------------------------------------- */

static exporter_slot *slot_by_name(exo_pipeline *p, const char *name)
{
    for (size_t i = 0; i < p->nslots; i++)
        if (strcmp(p->slots[i].impl->name, name) == 0) return &p->slots[i];
    return NULL;
}

int exo__pipeline_open_spool(exo_pipeline *p, const exo_pipeline_options *opts, char *err, size_t errlen)
{
    uint64_t max = opts->spool_max_bytes ? opts->spool_max_bytes : SPOOL_MAX_DEFAULT;
    uint64_t seg = opts->spool_segment_bytes ? opts->spool_segment_bytes : SPOOL_SEGMENT_DEFAULT;
    p->spool = exo_spool_open(opts->spool_dir, max, seg < max ? seg : max, err, errlen);
    if (!p->spool) return -1;
    p->spool_max_bytes = max;
    for (size_t i = 0; i < exo_spool_count(p->spool); i++) {
        exporter_slot *s = slot_by_name(p, exo_spool_name(p->spool, i));
        if (s) s->in_spool++;
    }
    ex_info(COMP, "spool in %s (at most %llu bytes)", opts->spool_dir, (unsigned long long)max);
    return 0;
}

/* ---- jobs ---------------------------------------------------------------- */

static void job_close_cb(uv_handle_t *h)
{
    export_job *j = h->data;
    exo_pipeline *p = j->p;
    ex_free(j);
    p->open_handles--;
    exo__pipeline_maybe_free(p);
}

/* Free the job once nothing refers to it any more. */
static void job_release(export_job *j)
{
    if (!j->finished || j->sending) return;
    exo_pipeline *p = j->p;
    if (j->prev) j->prev->next = j->next;
    else p->jobs = j->next;
    if (j->next) j->next->prev = j->prev;
    ex_free(j->payload.data);
    j->payload.data = NULL;
    if (j->timer_used) {
        p->open_handles++;
        uv_close((uv_handle_t *)&j->timer, job_close_cb);
    } else {
        ex_free(j);
        exo__pipeline_maybe_free(p);
    }
}

/* Account for the job's batch on its exporter: delivered (minus rejected
 * spans) or dropped with a reason, logged once per batch. */
static void job_account(export_job *j, int delivered, uint64_t rejected, const char *reason)
{
    exo_pipeline *p = j->p;
    exo_batch *b = j->batch;
    if (j->finished) return;
    j->finished = 1;
    if (!b) return;
    j->batch = NULL;
    if (!delivered) {
        p->batches_dropped++;
        ex_warn(COMP, "%s: dropped batch %llu (%zu spans) after %u attempt%s: %s", j->slot->impl->name,
                (unsigned long long)b->seq, b->n, j->attempts, j->attempts == 1 ? "" : "s", reason);
    } else if (rejected > 0) {
        p->spans_rejected += rejected > b->n ? b->n : rejected;
        ex_warn(COMP, "%s: batch %llu (%zu spans) partly refused, not retried: %s", j->slot->impl->name,
                (unsigned long long)b->seq, b->n, reason);
    }
    if (exo_bq_batch_done(&p->q, b, delivered, rejected)) p->batches_out--;
    exo__pipeline_schedule_dispatch(p);
}

/* The job is over: account, free, and let the next batch go. */
static void job_finish(export_job *j, int delivered, uint64_t rejected, const char *reason)
{
    exo_pipeline *p = j->p;
    job_account(j, delivered, rejected, reason);
    job_release(j);
    exo__pipeline_pump(p);
    exo__pipeline_check_flush(p);
}

/* Count and log a batch of j's that the spool did not take: full (rc -1)
 * or an error (err); reason says why it was being spooled. */
static void count_spool_drop(export_job *j, unsigned long long seq, size_t n, int rc, const char *err,
                             const char *reason)
{
    exo_pipeline *p = j->p;
    p->batches_dropped++;
    if (rc == -1) {
        p->spans_dropped_spool_full += n;
        ex_warn(COMP, "%s: dropped batch %llu (%zu spans): the spool is full (%llu bytes at most); %s",
                j->slot->impl->name, seq, n, (unsigned long long)p->spool_max_bytes, reason);
    } else {
        ex_warn(COMP, "%s: dropped batch %llu (%zu spans): %s; %s", j->slot->impl->name, seq, n, err, reason);
    }
}

/* Hand the job's batch to the spool instead of dropping it: its
 * submissions stay open until the spooled record is delivered. A full
 * spool (or a write error) drops the batch, counted. */
static void job_to_spool(export_job *j, const char *reason)
{
    exo_pipeline *p = j->p;
    exo_batch *b = j->batch;
    unsigned long long seq = (unsigned long long)b->seq;
    int released;
    exo_bq_hold *h = exo_bq_batch_hold(&p->q, b, &released);
    if (!h) {
        job_finish(j, 0, 0, "out of memory handing the batch to the spool");
        return;
    }
    j->batch = NULL;
    j->finished = 1;
    if (released) p->batches_out--;
    size_t n = h->n;
    char err[256] = "";
    int rc = exo_spool_append(p->spool, j->slot->impl->name, j->payload.data, j->payload.len, (uint32_t)n, h, err,
                              sizeof err);
    if (rc == 0) {
        j->slot->in_spool++;
        ex_debug(COMP, "%s: batch %llu (%zu spans) spooled: %s", j->slot->impl->name, seq, n, reason);
        exo__pipeline_drain_kick(p);
    } else {
        exo_bq_hold_done(&p->q, h, 0, 0, 0);
        count_spool_drop(j, seq, n, rc, err, reason);
    }
    exo__pipeline_schedule_dispatch(p);
    job_release(j);
    exo__pipeline_pump(p);
    exo__pipeline_check_flush(p);
}

static void job_attempt(export_job *j);

static void retry_timer_cb(uv_timer_t *t) { job_attempt(t->data); }

/* Attempt j again in delay ns, after its failed attempt (reason). */
static void job_retry_in(export_job *j, int64_t delay, const char *reason)
{
    ex_debug(COMP, "%s: batch %llu attempt %u failed (%s), retrying in %lld ms", j->slot->impl->name,
             (unsigned long long)j->batch->seq, j->attempts, reason, (long long)(delay / EX_NS_PER_MS));
    if (!j->timer_used) {
        uv_timer_init(j->p->loop, &j->timer);
        j->timer.data = j;
        j->timer_used = 1;
    }
    uv_timer_start(&j->timer, retry_timer_cb, (uint64_t)((delay + EX_NS_PER_MS - 1) / EX_NS_PER_MS), 0);
}

static void job_send_done(void *arg, const exo_export_result *r)
{
    export_job *j = arg;
    exo_pipeline *p = j->p;
    j->sending = 0;
    if (j->finished) { /* abandoned at a flush timeout or during shutdown */
        job_release(j);
        return;
    }
    if (r->verdict == EXO_RETRY_OK) {
        job_finish(j, 1, r->rejected, r->reason);
        return;
    }
    p->export_failures++;
    if (r->verdict == EXO_RETRY_FINAL || p->destroyed) {
        job_finish(j, 0, 0, r->reason);
        return;
    }
    int64_t delay = exo_retry_delay(&p->backoff, j->attempts - 1, r->retry_after_ns, &p->rng);
    if (!exo_retry_fits(ex_mono_ns(), delay, j->deadline)) {
        char why[400];
        snprintf(why, sizeof why, "no retry fits in OTEL_BSP_EXPORT_TIMEOUT (%lld ms); last error: %s",
                 (long long)(p->export_timeout_ns / EX_NS_PER_MS), r->reason);
        if (p->spool) job_to_spool(j, why);
        else job_finish(j, 0, 0, why);
        return;
    }
    job_retry_in(j, delay, r->reason);
}

static void job_attempt(export_job *j)
{
    exo_pipeline *p = j->p;
    if (p->destroyed) {
        job_finish(j, 0, 0, "the pipeline was shut down");
        return;
    }
    int64_t left = j->deadline - ex_mono_ns();
    if (left <= 0) {
        if (p->spool) job_to_spool(j, "OTEL_BSP_EXPORT_TIMEOUT passed before the next attempt");
        else job_finish(j, 0, 0, "OTEL_BSP_EXPORT_TIMEOUT passed before the next attempt");
        return;
    }
    int64_t timeout = left < p->request_timeout_ns ? left : p->request_timeout_ns;
    char err[256] = "";
    if (j->attempts > 0) p->export_retries++;
    j->attempts++;
    p->export_requests++;
    j->sending = 1;
    if (j->slot->impl->send(j->slot->state, &j->payload, timeout, job_send_done, j, err, sizeof err) != 0) {
        j->sending = 0;
        p->export_failures++;
        job_finish(j, 0, 0, err);
    }
}

void exo__pipeline_job_start(exo_pipeline *p, exporter_slot *slot, exo_batch *b)
{
    export_job *j = ex_calloc(1, sizeof *j);
    if (!j) {
        p->batches_dropped++;
        ex_warn(COMP, "%s: dropped batch %llu (%zu spans): out of memory", slot->impl->name,
                (unsigned long long)b->seq, b->n);
        if (exo_bq_batch_done(&p->q, b, 0, 0)) p->batches_out--;
        exo__pipeline_schedule_dispatch(p);
        return;
    }
    j->p = p;
    j->slot = slot;
    j->batch = b;
    j->deadline = ex_mono_ns() + p->export_timeout_ns;
    j->next = p->jobs;
    if (p->jobs) p->jobs->prev = j;
    p->jobs = j;
    char err[256] = "";
    if (slot->impl->encode(slot->state, b->spans, b->n, &j->payload, err, sizeof err) != 0) {
        job_finish(j, 0, 0, err);
        return;
    }
    if (p->spool && slot->in_spool > 0) { /* older batches wait there: keep the order */
        job_to_spool(j, "older batches wait in the spool");
        return;
    }
    job_attempt(j);
}

/* ---- the spool's drain --------------------------------------------------- */

/* The head record is settled: delivered (minus rejected spans) or not;
 * its submissions learn it, then the record leaves the spool. */
static void drain_pop(exo_pipeline *p, int delivered, uint64_t rejected)
{
    const char *name;
    uint32_t nspans;
    void *tag;
    if (exo_spool_head(p->spool, &name, &nspans, &tag) != 0) return;
    exporter_slot *slot = slot_by_name(p, name);
    if (slot && slot->in_spool) slot->in_spool--;
    if (tag) exo_bq_hold_done(&p->q, tag, delivered, rejected, 0);
    else if (delivered) p->spool_spans_resent += nspans - (rejected < nspans ? rejected : nspans);
    exo_spool_pop(p->spool);
    p->drain_attempts = 0;
    exo__pipeline_schedule_dispatch(p);
}

static void drain_cb(uv_timer_t *t);

/* Try the head again after the retry backoff (or the server's delay). */
static void drain_retry(exo_pipeline *p, int64_t server_delay_ns, const char *reason)
{
    int64_t delay = exo_retry_delay(&p->backoff, p->drain_attempts++, server_delay_ns, &p->rng);
    ex_debug(COMP, "spool: sending the oldest record failed (%s); next try in %lld ms", reason,
             (long long)(delay / EX_NS_PER_MS));
    uv_timer_start(&p->drain_timer, drain_cb, (uint64_t)((delay + EX_NS_PER_MS - 1) / EX_NS_PER_MS), 0);
}

static void drain_done(void *arg, const exo_export_result *r)
{
    exo_pipeline *p = arg;
    p->drain_sending = 0;
    ex_free(p->drain_payload.data);
    p->drain_payload.data = NULL;
    if (p->destroyed) { /* the record stays on disk for the next start */
        exo__pipeline_maybe_free(p);
        return;
    }
    if (r->verdict == EXO_RETRY_OK) {
        if (r->rejected) {
            uint64_t n = p->drain_payload.nspans;
            p->spans_rejected += r->rejected < n ? r->rejected : n;
            ex_warn(COMP, "spool: record partly refused, not retried: %s", r->reason);
        }
        drain_pop(p, 1, r->rejected);
        exo__pipeline_drain_kick(p);
        exo__pipeline_check_flush(p);
        return;
    }
    p->export_failures++;
    if (r->verdict == EXO_RETRY_FINAL) {
        p->batches_dropped++;
        ex_warn(COMP, "spool: dropped the oldest record (%zu spans) after a final error: %s",
                p->drain_payload.nspans, r->reason);
        drain_pop(p, 0, 0);
        exo__pipeline_drain_kick(p);
        exo__pipeline_check_flush(p);
        return;
    }
    drain_retry(p, r->retry_after_ns, r->reason);
}

/* Put the head record (payload buf/len of nspans spans, owned from now on)
 * on the wire to slot's exporter; a send that fails at once is retried. */
static void drain_send(exo_pipeline *p, exporter_slot *slot, uint8_t *buf, size_t len, uint32_t nspans)
{
    char err[256] = "";
    p->drain_payload = (exo_payload){buf, len, nspans};
    p->drain_sending = 1;
    p->export_requests++;
    if (p->drain_attempts > 0) p->export_retries++;
    int rc = slot->impl->send(slot->state, &p->drain_payload, p->request_timeout_ns, drain_done, p, err, sizeof err);
    if (rc != 0) {
        p->drain_sending = 0;
        p->export_failures++;
        ex_free(p->drain_payload.data);
        p->drain_payload.data = NULL;
        drain_retry(p, -1, err);
    }
}

/* Send the spool's oldest record, skipping what cannot be sent. */
static void drain_cb(uv_timer_t *t)
{
    exo_pipeline *p = t->data;
    const char *name;
    uint32_t nspans;
    void *tag;
    while (!p->destroyed && !p->drain_sending && exo_spool_head(p->spool, &name, &nspans, &tag) == 0) {
        exporter_slot *slot = slot_by_name(p, name);
        char err[256] = "";
        uint8_t *buf = NULL;
        size_t len = 0;
        if (!slot) {
            ex_warn(COMP, "spool: skipped a record (%u spans) for exporter %s, which is not configured now", nspans,
                    name);
            drain_pop(p, 0, 0);
            continue;
        }
        if (exo_spool_read_head(p->spool, &buf, &len, err, sizeof err) != 0) {
            ex_warn(COMP, "spool: skipped a record (%u spans): %s", nspans, err);
            exo_spool_count_corrupt(p->spool);
            drain_pop(p, 0, 0);
            continue;
        }
        drain_send(p, slot, buf, len, nspans);
        return;
    }
    exo__pipeline_check_flush(p);
}

/* Start sending the spool now unless a send or a retry is pending. */
void exo__pipeline_drain_kick(exo_pipeline *p)
{
    if (p->destroyed || !p->spool || p->drain_sending || uv_is_active((uv_handle_t *)&p->drain_timer)) return;
    if (exo_spool_count(p->spool) > 0) uv_timer_start(&p->drain_timer, drain_cb, 0, 0);
}

/* ---- giving up ----------------------------------------------------------- */

/* Complete the submissions of spooled batches undelivered; the records
 * stay in the spool. */
static void release_spooled(exo_pipeline *p, const char *reason)
{
    size_t held = 0;
    for (size_t i = 0; p->spool && i < exo_spool_count(p->spool); i++) {
        void **tag = exo_spool_tag(p->spool, i);
        if (!*tag) continue;
        exo_bq_hold_done(&p->q, *tag, 0, 0, 1);
        *tag = NULL;
        held++;
    }
    if (held)
        ex_warn(COMP, "%zu spooled batches not yet delivered (%s): they stay in the spool, their submissions "
                "complete undelivered", held, reason);
}

void exo__pipeline_abandon_sends(exo_pipeline *p, const char *reason)
{
    export_job *j = p->jobs;
    while (j) {
        export_job *next = j->next;
        if (!j->finished) {
            if (j->timer_used) uv_timer_stop(&j->timer);
            job_account(j, 0, 0, reason);
            job_release(j); /* frees it now unless a send is in flight */
        }
        j = next;
    }
    release_spooled(p, reason);
}
