/* pipeline.c — the export pipeline's queue side, on one loop: setup, the
 * batch span processor, callbacks that are due, flush, stats, shutdown.
 *
 * Spans wait in the batch queue (batch.h). A batch is cut when the queue
 * holds a full batch, when the schedule delay has passed since the queue
 * stopped being empty, or during a flush; at most max_inflight batches
 * are out at once. Each batch goes to every exporter as one export job
 * (pipeline_send.c: sending, retries, the spool). Submission callbacks and
 * flush callbacks run from a zero-delay timer, never inside the call that
 * finished them. The state shared with pipeline_send.c is in
 * pipeline_int.h. */
#include "otel/pipeline.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "otel/pipeline_int.h"
#include "otel/resource.h"

/* The exporters that OTEL_TRACES_EXPORTER can name: one line each. */
static const exo_exporter *const exo_exporters[] = {
    &exo_exporter_otlp_grpc,
    &exo_exporter_otlp_http,
    &exo_exporter_console,
};

/* A caller of exo_pipeline_flush waiting for the queue to drain. */
struct flush_waiter {
    void (*cb)(void *arg);     /* the caller's done_cb */
    void *arg;                 /* its argument */
    struct flush_waiter *next; /* the rest of p->flushes or p->flushed */
};

/* ---- setup --------------------------------------------------------------- */

/* Fill o with the defaults that exo_pipeline_new uses (no spool). */
void exo_pipeline_options_default(exo_pipeline_options *o)
{
    exo_backoff_default(&o->backoff);
    o->max_inflight = 2;
    o->rng_seed = 0;
    o->spool_dir = NULL;
    o->spool_max_bytes = SPOOL_MAX_DEFAULT;
    o->spool_segment_bytes = SPOOL_SEGMENT_DEFAULT;
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

/* Free p and what it owns: the queue, the spool (its records stay on
 * disk), the resource and scope copies. Its own timers must be closed
 * or never initialised. */
static void free_pipeline(exo_pipeline *p)
{
    exo_bq_free(&p->q);
    exo_spool_close(p->spool);
    exo_resource_free(&p->resource);
    ex_free(p->scope_name);
    ex_free(p->scope_version);
    ex_free(p);
}

/* Free what exo_pipeline_new_opts built before it failed. The pipeline's
 * own timers are not open yet; an exporter's HTTP client may still be
 * closing its handles on the loop. */
static void free_unstarted(exo_pipeline *p)
{
    for (size_t i = 0; i < p->nslots; i++)
        if (p->slots[i].state) p->slots[i].impl->shutdown(p->slots[i].state, ignore_closed, NULL);
    free_pipeline(p);
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

/* Take the limits, delays and retry settings from cfg (0 or less: the
 * OTEL_* defaults) and opts, and set up the empty queue. */
static void apply_settings(exo_pipeline *p, const exo_export_config *cfg, const exo_pipeline_options *opts)
{
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
}

/* Initialise the pipeline's own timers (closed by exo_pipeline_destroy). */
static void start_timers(exo_pipeline *p)
{
    uv_timer_init(p->loop, &p->sched_timer);
    uv_timer_init(p->loop, &p->dispatch_timer);
    uv_timer_init(p->loop, &p->flush_timer);
    uv_timer_init(p->loop, &p->drain_timer);
    p->sched_timer.data = p->dispatch_timer.data = p->flush_timer.data = p->drain_timer.data = p;
}

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
    apply_settings(p, cfg, opts);
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
    if (opts->spool_dir && p->nslots > 0 && exo__pipeline_open_spool(p, opts, err, errlen) != 0) {
        free_unstarted(p);
        return NULL;
    }
    start_timers(p);
    if (p->spool && exo_spool_count(p->spool) > 0) exo__pipeline_drain_kick(p);
    return p;
}

exo_pipeline *exo_pipeline_new(uv_loop_t *loop, const exo_export_config *cfg, const exo_resource *res,
                               const char *scope_name, const char *scope_version, char *err, size_t errlen)
{
    return exo_pipeline_new_opts(loop, cfg, res, scope_name, scope_version, NULL, err, errlen);
}

/* ---- callbacks that are due ---------------------------------------------- */

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

void exo__pipeline_schedule_dispatch(exo_pipeline *p)
{
    if (p->destroyed) return;
    if (exo_bq_has_due(&p->q) || p->flushed) uv_timer_start(&p->dispatch_timer, dispatch_cb, 0, 0);
}

/* ---- flush --------------------------------------------------------------- */

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
    exo__pipeline_schedule_dispatch(p);
}

void exo__pipeline_check_flush(exo_pipeline *p)
{
    if (p->flushes && idle(p)) complete_flushes(p);
}

/* ---- batching ------------------------------------------------------------ */

static void sched_cb(uv_timer_t *t)
{
    exo_pipeline *p = t->data;
    p->overdue = 1;
    exo__pipeline_pump(p);
}

/* One round of cutting batches and starting their jobs. */
static void pump_once(exo_pipeline *p)
{
    while (!p->destroyed && p->batches_out < p->max_inflight && exo_bq_queued(&p->q) > 0 &&
           (exo_bq_queued(&p->q) >= p->max_batch || p->overdue || p->flushes)) {
        exo_batch *b = exo_bq_take(&p->q, p->max_batch);
        if (!b) break; /* out of memory: the spans stay queued for the next try */
        p->batches_out++;
        /* Every exporter gets the batch; a job that fails synchronously
         * may release it before the loop ends, so b is not used after. */
        for (size_t i = 0; i < p->nslots; i++) exo__pipeline_job_start(p, &p->slots[i], b);
    }
}

/* Cut and send batches while allowed; keep the schedule timer in step. */
void exo__pipeline_pump(exo_pipeline *p)
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

/* ---- public API ---------------------------------------------------------- */

void exo_pipeline_submit(exo_pipeline *p, exo_span **spans, size_t n, exo_submit_cb done_cb, void *arg)
{
    exo_pipeline_submit_again(p, spans, n, done_cb, arg, 0);
}

void exo_pipeline_submit_again(exo_pipeline *p, exo_span **spans, size_t n, exo_submit_cb done_cb, void *arg,
                               int again)
{
    if (p->destroyed || p->nslots == 0) {
        for (size_t i = 0; i < n; i++) exo_span_free(spans[i]);
        if (p->destroyed) {
            /* Too late to export: counted as dropped, reported while closing. */
            exo_bq_submit(&p->q, NULL, 0, done_cb, arg);
            p->q.dropped += (uint64_t)n * p->q.nexporters;
            if (again) p->q.dropped_again += (uint64_t)n * p->q.nexporters;
            ex_warn(COMP, "dropped %zu spans submitted after shutdown", n);
        } else {
            exo_bq_submit(&p->q, NULL, 0, done_cb, arg); /* "none": nothing to deliver to */
        }
        exo__pipeline_schedule_dispatch(p);
        return;
    }
    size_t dropped = exo_bq_submit_again(&p->q, spans, n, done_cb, arg, again);
    if (dropped)
        ex_warn(COMP, "queue full (OTEL_BSP_MAX_QUEUE_SIZE=%zu): dropped %zu of %zu spans", p->q.max_queue, dropped,
                n);
    exo__pipeline_pump(p);
    exo__pipeline_schedule_dispatch(p);
}

/* Copy p's counters into out (the spool's fields stay 0 without a spool). */
void exo_pipeline_get_stats(const exo_pipeline *p, exo_pipeline_stats *out)
{
    memset(out, 0, sizeof *out);
    out->spans_exported = p->q.exported;
    out->spans_dropped = p->q.dropped - p->q.dropped_again;
    out->spans_dropped_again = p->q.dropped_again;
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
    exo__pipeline_abandon_sends(p, reason);
    p->overdue = 0;
    uv_timer_stop(&p->sched_timer);
    exo__pipeline_schedule_dispatch(p);
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
    exo__pipeline_pump(p);
    exo__pipeline_check_flush(p);
}

/* ---- shutdown ------------------------------------------------------------ */

static void handle_close_cb(uv_handle_t *h)
{
    exo_pipeline *p = h->data;
    p->open_handles--;
    exo__pipeline_maybe_free(p);
}

static void exporter_closed_cb(void *arg)
{
    exporter_slot *s = arg;
    s->closed = 1;
    s->p->open_exporters--;
    exo__pipeline_maybe_free(s->p);
}

/* Free the pipeline once every handle, exporter, job and spool send is
 * gone, after running the callbacks still owed. */
void exo__pipeline_maybe_free(exo_pipeline *p)
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
    free_pipeline(p);
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
