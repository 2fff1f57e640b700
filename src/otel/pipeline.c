/* pipeline.c — batch span processor + exporters + retries, on one loop.
 *
 * Spans wait in the batch queue (batch.h). A batch is cut when the queue
 * holds a full batch, when the schedule delay has passed since the queue
 * stopped being empty, or during a flush; at most max_inflight batches
 * are out at once. Each batch becomes one export job per exporter: the
 * exporter encodes it once, sends it, and the job retries retryable
 * failures (retry.h) until OTEL_BSP_EXPORT_TIMEOUT after the first
 * attempt. Whatever a job gives up on is dropped, counted, and logged once
 * per batch. Submission callbacks and flush callbacks run from a
 * zero-delay timer, never inside the call that finished them. */
#include "otel/pipeline.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "otel/batch.h"
#include "otel/exporter.h"
#include "otel/resource.h"
#include "otel/spool.h"

#define COMP "export"

/* The exporters that OTEL_TRACES_EXPORTER can name: one line each. */
static const exo_exporter *const exo_exporters[] = {
    &exo_exporter_otlp_grpc,
    &exo_exporter_otlp_http,
    &exo_exporter_console,
};

typedef struct exporter_slot {
    const exo_exporter *impl; /* static */
    void *state;              /* the exporter's; invalid once closed */
    int closed;               /* shutdown has completed */
    size_t in_spool;          /* records for this exporter waiting in the spool */
    exo_pipeline *p;          /* back pointer for the closed callback */
} exporter_slot;

/* One batch on one exporter, from encoding to delivery or drop. */
typedef struct export_job {
    exo_pipeline *p;
    exporter_slot *slot;
    exo_batch *batch;          /* NULL once accounted for (abandoned at a flush timeout) */
    exo_payload payload;       /* owned: the encoded batch, re-sent on retries */
    unsigned attempts;         /* sends started */
    int64_t deadline;          /* monotonic ns: no attempt starts after it */
    uv_timer_t timer;          /* retry delay; initialised on first use */
    int timer_used;            /* timer was initialised (must be closed) */
    int sending;               /* a send is in flight */
    int finished;              /* accounted for; freed once the send and timer are done */
    struct export_job *prev, *next; /* the pipeline's list */
} export_job;

/* A caller of exo_pipeline_flush waiting for the queue to drain. */
typedef struct flush_waiter {
    void (*cb)(void *arg);
    void *arg;
    struct flush_waiter *next;
} flush_waiter;

struct exo_pipeline {
    uv_loop_t *loop;                  /* not owned */
    exo_batch_queue q;                /* spans and submissions */
    exporter_slot slots[EXO_MAX_EXPORTERS];
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
    int pumping;                      /* pump() is running (no re-entry) */
    int repump;                       /* pump() was asked again meanwhile */
};

static void pump(exo_pipeline *p);
static void maybe_free(exo_pipeline *p);

/* ---- setup ---------------------------------------------------------------- */

void exo_pipeline_options_default(exo_pipeline_options *o)
{
    exo_backoff_default(&o->backoff);
    o->max_inflight = 2;
    o->rng_seed = 0;
    o->spool_dir = NULL;
    o->spool_max_bytes = UINT64_C(256) << 20;
    o->spool_segment_bytes = UINT64_C(8) << 20;
}

static int copy_resource(exo_resource *dst, const exo_resource *src)
{
    memset(dst, 0, sizeof *dst);
    for (size_t i = 0; src && i < src->attrs.len; i++) {
        const exo_attr *a = &src->attrs.items[i];
        int rc = -1;
        switch (a->type) {
        case EXO_VAL_STRING: rc = exo_attrs_add_str(&dst->attrs, a->key, a->v.s); break;
        case EXO_VAL_BOOL: rc = exo_attrs_add_bool(&dst->attrs, a->key, a->v.b); break;
        case EXO_VAL_INT: rc = exo_attrs_add_int(&dst->attrs, a->key, a->v.i); break;
        case EXO_VAL_DOUBLE: rc = exo_attrs_add_double(&dst->attrs, a->key, a->v.d); break;
        }
        if (rc != 0) return -1;
    }
    return 0;
}

static const exo_exporter *find_exporter(exo_exporter_kind kind, exo_otlp_protocol protocol)
{
    for (size_t i = 0; i < sizeof exo_exporters / sizeof exo_exporters[0]; i++) {
        const exo_exporter *e = exo_exporters[i];
        if (e->kind == kind && (e->protocols == 0 || (e->protocols & (1 << protocol)))) return e;
    }
    return NULL;
}

static int64_t ms_to_ns(int64_t ms, int64_t fallback_ms)
{
    return (ms > 0 ? ms : fallback_ms) * EX_NS_PER_MS;
}

static void ignore_closed(void *arg) { (void)arg; }

/* Free what exo_pipeline_new_opts built before it failed. The pipeline's
 * own timers are not open yet; an exporter's HTTP client may still be
 * closing its handles on the loop. */
static void free_unstarted(exo_pipeline *p)
{
    for (size_t i = 0; i < p->nslots; i++)
        if (p->slots[i].state) p->slots[i].impl->shutdown(p->slots[i].state, ignore_closed, NULL);
    exo_bq_free(&p->q);
    exo_spool_close(p->spool);
    exo_resource_free(&p->resource);
    ex_free(p->scope_name);
    ex_free(p->scope_version);
    ex_free(p);
}

static int start_exporters(exo_pipeline *p, const exo_export_config *cfg, char *err, size_t errlen)
{
    exo_exporter_env env = {p->loop, cfg, &p->resource, p->scope_name, p->scope_version};
    for (size_t i = 0; i < cfg->nexporters && i < EXO_MAX_EXPORTERS; i++) {
        const exo_exporter *e = find_exporter(cfg->exporters[i], cfg->protocol);
        if (!e) {
            snprintf(err, errlen, "no exporter for OTEL_TRACES_EXPORTER=%s with protocol %s",
                     exo_exporter_name(cfg->exporters[i]), exo_protocol_name(cfg->protocol));
            return -1;
        }
        exporter_slot *s = &p->slots[p->nslots];
        s->impl = e;
        s->p = p;
        char why[256] = "";
        if (e->init(&env, &s->state, why, sizeof why) != 0) {
            snprintf(err, errlen, "%s exporter: %s", e->name, why);
            return -1;
        }
        p->nslots++;
        ex_info(COMP, "exporter %s ready%s%s", e->name, cfg->exporters[i] == EXO_EXPORTER_OTLP ? " for " : "",
                cfg->exporters[i] == EXO_EXPORTER_OTLP ? cfg->url : "");
    }
    return 0;
}

static exporter_slot *slot_by_name(exo_pipeline *p, const char *name)
{
    for (size_t i = 0; i < p->nslots; i++)
        if (strcmp(p->slots[i].impl->name, name) == 0) return &p->slots[i];
    return NULL;
}

static int open_spool(exo_pipeline *p, const exo_pipeline_options *opts, char *err, size_t errlen)
{
    uint64_t max = opts->spool_max_bytes ? opts->spool_max_bytes : UINT64_C(256) << 20;
    uint64_t seg = opts->spool_segment_bytes ? opts->spool_segment_bytes : UINT64_C(8) << 20;
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

static void drain_kick(exo_pipeline *p);

exo_pipeline *exo_pipeline_new_opts(uv_loop_t *loop, const exo_export_config *cfg, const exo_resource *res,
                                    const char *scope_name, const char *scope_version,
                                    const exo_pipeline_options *opts, char *err, size_t errlen)
{
    exo_pipeline_options defaults;
    if (!opts) {
        exo_pipeline_options_default(&defaults);
        opts = &defaults;
    }
    exo_pipeline *p = ex_calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory creating the export pipeline");
        return NULL;
    }
    p->loop = loop;
    p->schedule_delay_ns = ms_to_ns(cfg->bsp_schedule_delay_ms, 5000);
    p->export_timeout_ns = ms_to_ns(cfg->bsp_export_timeout_ms, 30000);
    p->request_timeout_ns = ms_to_ns(cfg->timeout_ms, 10000);
    size_t max_queue = cfg->bsp_max_queue_size > 0 ? (size_t)cfg->bsp_max_queue_size : 2048;
    p->max_batch = cfg->bsp_max_export_batch_size > 0 ? (size_t)cfg->bsp_max_export_batch_size : 512;
    if (p->max_batch > max_queue) p->max_batch = max_queue;
    p->max_inflight = opts->max_inflight ? opts->max_inflight : 1;
    p->backoff = opts->backoff;
    if (opts->rng_seed) ex_rng_seed(&p->rng, opts->rng_seed);
    else ex_rng_seed_random(&p->rng);
    size_t nexp = cfg->sdk_disabled ? 0 : cfg->nexporters;
    exo_bq_init(&p->q, max_queue, nexp ? nexp : 1);
    p->scope_name = ex_strdup(scope_name ? scope_name : "");
    p->scope_version = scope_version ? ex_strdup(scope_version) : NULL;
    if (!p->scope_name || (scope_version && !p->scope_version) || copy_resource(&p->resource, res) != 0) {
        snprintf(err, errlen, "out of memory creating the export pipeline");
        free_unstarted(p);
        return NULL;
    }
    if (!cfg->sdk_disabled && start_exporters(p, cfg, err, errlen) != 0) {
        free_unstarted(p);
        return NULL;
    }
    if (opts->spool_dir && p->nslots > 0 && open_spool(p, opts, err, errlen) != 0) {
        free_unstarted(p);
        return NULL;
    }
    uv_timer_init(loop, &p->sched_timer);
    uv_timer_init(loop, &p->dispatch_timer);
    uv_timer_init(loop, &p->flush_timer);
    uv_timer_init(loop, &p->drain_timer);
    p->sched_timer.data = p->dispatch_timer.data = p->flush_timer.data = p->drain_timer.data = p;
    if (p->spool && exo_spool_count(p->spool) > 0) drain_kick(p);
    return p;
}

exo_pipeline *exo_pipeline_new(uv_loop_t *loop, const exo_export_config *cfg, const exo_resource *res,
                               const char *scope_name, const char *scope_version, char *err, size_t errlen)
{
    return exo_pipeline_new_opts(loop, cfg, res, scope_name, scope_version, NULL, err, errlen);
}

/* ---- callbacks that are due --------------------------------------------- */

static void dispatch_cb(uv_timer_t *t)
{
    exo_pipeline *p = t->data;
    exo_bq_done_cb cb;
    void *arg;
    int delivered;
    while (!p->destroyed && exo_bq_next_due(&p->q, &cb, &arg, &delivered))
        if (cb) cb(arg, delivered);
    while (!p->destroyed && p->flushed) {
        flush_waiter *w = p->flushed;
        p->flushed = w->next;
        w->cb(w->arg);
        ex_free(w);
    }
}

static void schedule_dispatch(exo_pipeline *p)
{
    if (p->destroyed) return;
    if (exo_bq_has_due(&p->q) || p->flushed) uv_timer_start(&p->dispatch_timer, dispatch_cb, 0, 0);
}

/* ---- flush ---------------------------------------------------------------- */

static int idle(const exo_pipeline *p)
{
    return exo_bq_queued(&p->q) == 0 && p->batches_out == 0 && p->q.held == 0;
}

/* Move every pending flush to the due list. */
static void complete_flushes(exo_pipeline *p)
{
    while (p->flushes) {
        flush_waiter *w = p->flushes;
        p->flushes = w->next;
        w->next = p->flushed;
        p->flushed = w;
    }
    uv_timer_stop(&p->flush_timer);
    schedule_dispatch(p);
}

static void check_flush(exo_pipeline *p)
{
    if (p->flushes && idle(p)) complete_flushes(p);
}

/* ---- jobs ----------------------------------------------------------------- */

static void job_close_cb(uv_handle_t *h)
{
    export_job *j = h->data;
    exo_pipeline *p = j->p;
    ex_free(j);
    p->open_handles--;
    maybe_free(p);
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
        maybe_free(p);
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
    schedule_dispatch(p);
}

/* The job is over: account, free, and let the next batch go. */
static void job_finish(export_job *j, int delivered, uint64_t rejected, const char *reason)
{
    exo_pipeline *p = j->p;
    job_account(j, delivered, rejected, reason);
    job_release(j);
    pump(p);
    check_flush(p);
}

static void job_attempt(export_job *j);

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
        drain_kick(p);
    } else {
        exo_bq_hold_done(&p->q, h, 0, 0, 0);
        p->batches_dropped++;
        if (rc == -1) {
            p->spans_dropped_spool_full += n;
            ex_warn(COMP, "%s: dropped batch %llu (%zu spans): the spool is full (%llu bytes at most); %s",
                    j->slot->impl->name, seq, n, (unsigned long long)p->spool_max_bytes, reason);
        } else {
            ex_warn(COMP, "%s: dropped batch %llu (%zu spans): %s; %s", j->slot->impl->name, seq, n, err, reason);
        }
    }
    schedule_dispatch(p);
    job_release(j);
    pump(p);
    check_flush(p);
}

static void retry_timer_cb(uv_timer_t *t) { job_attempt(t->data); }

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
    ex_debug(COMP, "%s: batch %llu attempt %u failed (%s), retrying in %lld ms", j->slot->impl->name,
             (unsigned long long)j->batch->seq, j->attempts, r->reason, (long long)(delay / EX_NS_PER_MS));
    if (!j->timer_used) {
        uv_timer_init(p->loop, &j->timer);
        j->timer.data = j;
        j->timer_used = 1;
    }
    uv_timer_start(&j->timer, retry_timer_cb, (uint64_t)((delay + EX_NS_PER_MS - 1) / EX_NS_PER_MS), 0);
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

static void job_start(exo_pipeline *p, exporter_slot *slot, exo_batch *b)
{
    export_job *j = ex_calloc(1, sizeof *j);
    if (!j) {
        p->batches_dropped++;
        ex_warn(COMP, "%s: dropped batch %llu (%zu spans): out of memory", slot->impl->name,
                (unsigned long long)b->seq, b->n);
        if (exo_bq_batch_done(&p->q, b, 0, 0)) p->batches_out--;
        schedule_dispatch(p);
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

/* ---- the spool's drain ------------------------------------------------------ */

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
    schedule_dispatch(p);
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
        maybe_free(p);
        return;
    }
    if (r->verdict == EXO_RETRY_OK) {
        if (r->rejected) {
            uint64_t n = p->drain_payload.nspans;
            p->spans_rejected += r->rejected < n ? r->rejected : n;
            ex_warn(COMP, "spool: record partly refused, not retried: %s", r->reason);
        }
        drain_pop(p, 1, r->rejected);
        drain_kick(p);
        check_flush(p);
        return;
    }
    p->export_failures++;
    if (r->verdict == EXO_RETRY_FINAL) {
        p->batches_dropped++;
        ex_warn(COMP, "spool: dropped the oldest record (%zu spans) after a final error: %s",
                p->drain_payload.nspans, r->reason);
        drain_pop(p, 0, 0);
        drain_kick(p);
        check_flush(p);
        return;
    }
    drain_retry(p, r->retry_after_ns, r->reason);
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
        p->drain_payload = (exo_payload){buf, len, nspans};
        p->drain_sending = 1;
        p->export_requests++;
        if (p->drain_attempts > 0) p->export_retries++;
        if (slot->impl->send(slot->state, &p->drain_payload, p->request_timeout_ns, drain_done, p, err,
                             sizeof err) != 0) {
            p->drain_sending = 0;
            p->export_failures++;
            ex_free(p->drain_payload.data);
            p->drain_payload.data = NULL;
            drain_retry(p, -1, err);
        }
        return;
    }
    check_flush(p);
}

/* Start sending the spool now unless a send or a retry is pending. */
static void drain_kick(exo_pipeline *p)
{
    if (p->destroyed || !p->spool || p->drain_sending || uv_is_active((uv_handle_t *)&p->drain_timer)) return;
    if (exo_spool_count(p->spool) > 0) uv_timer_start(&p->drain_timer, drain_cb, 0, 0);
}

/* ---- batching ------------------------------------------------------------- */

static void sched_cb(uv_timer_t *t)
{
    exo_pipeline *p = t->data;
    p->overdue = 1;
    pump(p);
}

static void pump_once(exo_pipeline *p);

/* Cut and send batches while allowed; keep the schedule timer in step. */
static void pump(exo_pipeline *p)
{
    if (p->destroyed) return;
    if (p->pumping) {
        p->repump = 1; /* a job finished synchronously inside this pump */
        return;
    }
    p->pumping = 1;
    do {
        p->repump = 0;
        pump_once(p);
    } while (p->repump && !p->destroyed);
    p->pumping = 0;
    if (p->destroyed) return;
    if (exo_bq_queued(&p->q) == 0) {
        p->overdue = 0;
        uv_timer_stop(&p->sched_timer);
    } else if (!p->overdue && !uv_is_active((uv_handle_t *)&p->sched_timer)) {
        uv_timer_start(&p->sched_timer, sched_cb, (uint64_t)(p->schedule_delay_ns / EX_NS_PER_MS), 0);
    }
}

static void pump_once(exo_pipeline *p)
{
    while (!p->destroyed && p->batches_out < p->max_inflight && exo_bq_queued(&p->q) > 0 &&
           (exo_bq_queued(&p->q) >= p->max_batch || p->overdue || p->flushes)) {
        exo_batch *b = exo_bq_take(&p->q, p->max_batch);
        if (!b) break; /* out of memory: the spans stay queued for the next try */
        p->batches_out++;
        /* Every exporter gets the batch; a job that fails synchronously
         * may release it before the loop ends, so b is not used after. */
        for (size_t i = 0; i < p->nslots; i++) job_start(p, &p->slots[i], b);
    }
}

/* ---- public API ----------------------------------------------------------- */

void exo_pipeline_submit(exo_pipeline *p, exo_span **spans, size_t n, exo_submit_cb done_cb, void *arg)
{
    if (p->destroyed || p->nslots == 0) {
        for (size_t i = 0; i < n; i++) exo_span_free(spans[i]);
        if (p->destroyed) {
            /* Too late to export: counted as dropped, reported while closing. */
            exo_bq_submit(&p->q, NULL, 0, done_cb, arg);
            p->q.dropped += (uint64_t)n * p->q.nexporters;
            ex_warn(COMP, "dropped %zu spans submitted after shutdown", n);
        } else {
            exo_bq_submit(&p->q, NULL, 0, done_cb, arg); /* "none": nothing to deliver to */
        }
        schedule_dispatch(p);
        return;
    }
    size_t dropped = exo_bq_submit(&p->q, spans, n, done_cb, arg);
    if (dropped)
        ex_warn(COMP, "queue full (OTEL_BSP_MAX_QUEUE_SIZE=%zu): dropped %zu of %zu spans", p->q.max_queue, dropped,
                n);
    pump(p);
    schedule_dispatch(p);
}

void exo_pipeline_get_stats(const exo_pipeline *p, exo_pipeline_stats *out)
{
    memset(out, 0, sizeof *out);
    out->spans_exported = p->q.exported;
    out->spans_dropped = p->q.dropped;
    out->export_requests = p->export_requests;
    out->export_failures = p->export_failures;
    out->spans_queued = exo_bq_queued(&p->q) + p->q.in_batches;
    out->export_retries = p->export_retries;
    out->spans_rejected = p->spans_rejected;
    out->spans_dropped_queue_full = p->q.dropped_queue_full;
    out->batches_dropped = p->batches_dropped;
    out->spans_dropped_spool_full = p->spans_dropped_spool_full;
    out->spool_spans_resent = p->spool_spans_resent;
    if (p->spool) {
        exo_spool_stats ss;
        exo_spool_get_stats(p->spool, &ss);
        out->spans_spooled = ss.spans;
        out->spool_bytes = ss.bytes;
        out->spool_records_corrupt = ss.corrupt_records;
    }
}

/* Give up on everything still queued or in flight, with a reason. */
static void abandon_all(exo_pipeline *p, const char *reason)
{
    size_t n = exo_bq_drop_queued(&p->q);
    if (n) ex_warn(COMP, "dropped %zu queued spans: %s", n, reason);
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
    p->overdue = 0;
    uv_timer_stop(&p->sched_timer);
    schedule_dispatch(p);
}

static void flush_timeout_cb(uv_timer_t *t)
{
    exo_pipeline *p = t->data;
    abandon_all(p, "flush timeout");
    complete_flushes(p);
}

void exo_pipeline_flush(exo_pipeline *p, int64_t timeout_ns, void (*done_cb)(void *arg), void *arg)
{
    flush_waiter *w = ex_calloc(1, sizeof *w);
    if (!w) {
        /* Nowhere to keep the caller: tell it right away, with nothing lost. */
        ex_error(COMP, "out of memory starting a flush; nothing was dropped");
        done_cb(arg);
        return;
    }
    w->cb = done_cb;
    w->arg = arg;
    if (p->destroyed) {
        w->next = p->flushed;
        p->flushed = w;
        return; /* runs while the pipeline closes */
    }
    int first = p->flushes == NULL;
    w->next = p->flushes;
    p->flushes = w;
    uint64_t ms = timeout_ns > 0 ? (uint64_t)((timeout_ns + EX_NS_PER_MS - 1) / EX_NS_PER_MS) : 0;
    /* A later flush may shorten the wait, never lengthen it. */
    if (first || ms < uv_timer_get_due_in(&p->flush_timer)) uv_timer_start(&p->flush_timer, flush_timeout_cb, ms, 0);
    pump(p);
    check_flush(p);
}

static void handle_close_cb(uv_handle_t *h)
{
    exo_pipeline *p = h->data;
    p->open_handles--;
    maybe_free(p);
}

static void exporter_closed_cb(void *arg)
{
    exporter_slot *s = arg;
    s->closed = 1;
    s->p->open_exporters--;
    maybe_free(s->p);
}

/* Free the pipeline once every handle, exporter and job is gone, after
 * running the callbacks still owed. */
static void maybe_free(exo_pipeline *p)
{
    if (!p->destroyed || p->open_handles > 0 || p->open_exporters > 0 || p->jobs || p->drain_sending) return;
    exo_bq_done_cb cb;
    void *arg;
    int delivered;
    /* A callback may submit or flush again (both answered at once now). */
    for (;;) {
        flush_waiter *w;
        if (exo_bq_next_due(&p->q, &cb, &arg, &delivered)) {
            if (cb) cb(arg, delivered);
        } else if ((w = p->flushed ? p->flushed : p->flushes)) {
            if (w == p->flushed) p->flushed = w->next;
            else p->flushes = w->next;
            w->cb(w->arg);
            ex_free(w);
        } else {
            break;
        }
    }
    exo_bq_free(&p->q);
    exo_spool_close(p->spool);
    exo_resource_free(&p->resource);
    ex_free(p->scope_name);
    ex_free(p->scope_version);
    ex_free(p);
}

void exo_pipeline_destroy(exo_pipeline *p)
{
    if (!p || p->destroyed) return;
    abandon_all(p, "the pipeline was shut down");
    p->destroyed = 1;
    /* Handles first, so the pipeline cannot be freed before this returns. */
    uv_timer_t *timers[] = {&p->sched_timer, &p->dispatch_timer, &p->flush_timer, &p->drain_timer};
    for (size_t i = 0; i < 4; i++) {
        uv_timer_stop(timers[i]);
        p->open_handles++;
        uv_close((uv_handle_t *)timers[i], handle_close_cb);
    }
    p->open_exporters = p->nslots;
    for (size_t i = 0; i < p->nslots; i++) p->slots[i].impl->shutdown(p->slots[i].state, exporter_closed_cb,
                                                                       &p->slots[i]);
}
