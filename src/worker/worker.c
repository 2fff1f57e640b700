/* worker.c — wiring of intake, registry, poller, monitors, export and
 * admin HTTP on one libuv loop. */
#include "core/mem.h"

/* The holds map below allocates through our wrapper and leaves an item
 * out (hh.tbl == NULL) when that fails. */
#define uthash_malloc(sz)    ex_malloc(sz)
#define uthash_free(ptr, sz) ex_free(ptr)
#define HASH_NONFATAL_OOM 1

#include "worker/worker.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "otel/pipeline.h"
#include "otel/resource.h"
#include "worker/admin.h"
#include "worker/checkpoint.h"
#include "worker/event.h"
#include "worker/intake.h"
#include "worker/metrics.h"
#include "worker/poller.h"
#include "worker/spans.h"
#include "worker/stream.h"

#define WARN_BUDGET_PER_SEC 20 /* rejected-event warnings logged per second, the rest summed up */
#define SCOPE_NAME "sample-tracing"
#define CKPT_MARGIN_NS (3600 * EX_NS_PER_SEC) /* checkpoint TTL beyond the monitor's deadline */
#define STREAM_COUNT 64                        /* entries per XREADGROUP / XAUTOCLAIM */
#define STREAM_BLOCK_NS (2 * EX_NS_PER_SEC)    /* BLOCK of XREADGROUP */

struct wk_worker;

/* Durable intake: the stream entries behind one workflow, from the first
 * entry until its trace is delivered (then they are acknowledged) or
 * given up (then they are released, still pending). */
typedef struct wk_hold {
    UT_hash_handle hh;          /* in wk_worker.holds, keyed by workflow_id */
    struct wk_worker *w;        /* not owned */
    int64_t submitted_ns;       /* SubmittedAt of the first entry */
    size_t nids, cap;           /* entry ids held, slots allocated */
    char (*ids)[WK_STREAM_ID_MAX]; /* owned: the entries (duplicates included) */
    char workflow_id[WM_ID_MAX + 1]; /* the key */
} wk_hold;

/* Counters of the durable intake that wk_metrics does not have. */
typedef struct wk_durable_stats {
    uint64_t restored;        /* monitors resumed from a checkpoint */
    uint64_t ckpt_rejected;   /* checkpoints that could not be decoded */
    uint64_t undelivered;     /* traces not delivered: entries left pending */
} wk_durable_stats;

typedef struct wk_worker {
    uv_loop_t loop;           /* the one loop everything runs on */
    const wk_options *opt;    /* not owned */
    const char *ns;           /* service.namespace: names the traces */
    ex_rng rng;               /* jitter */
    wk_registry reg;          /* watched workflows */
    wk_metrics metrics;       /* counters behind /metrics */
    wk_poller *poller;        /* owned; NULL once stopped */
    wk_intake *intake;        /* owned; NULL once stopped (pub/sub mode) */
    wk_stream *stream;        /* owned; NULL once stopped (stream mode) */
    wk_hold *holds;           /* stream mode: uthash of workflows and their entries */
    wk_durable_stats durable; /* stream mode counters */
    wk_admin *admin;          /* owned; NULL once stopped */
    exo_pipeline *pipeline;   /* owned; NULL once destroyed */
    uv_timer_t timer;         /* the registry's one timer */
    int64_t armed_due;        /* due time the timer is set for, INT64_MAX if none */
    uv_signal_t sigint, sigterm; /* stop signals */
    int stopping;             /* a stop signal was received */
    int64_t warn_window;      /* start (mono ns) of the current warning budget window */
    int warn_used;            /* warnings logged in that window */
    uint64_t warn_suppressed; /* warnings not logged since the last one */
} wk_worker;

static int64_t now_ns(void) { return ex_clock_now(ex_clock_real()); }

/* Log a warning about an event, at most WARN_BUDGET_PER_SEC a second. */
static void event_warn(wk_worker *w, const char *msg)
{
    int64_t mono = ex_mono_ns();
    if (mono - w->warn_window >= EX_NS_PER_SEC) {
        w->warn_window = mono;
        w->warn_used = 0;
    }
    if (w->warn_used >= WARN_BUDGET_PER_SEC) {
        w->warn_suppressed++;
        return;
    }
    w->warn_used++;
    if (w->warn_suppressed)
        ex_warn("worker", "%s (%" PRIu64 " similar warnings suppressed before this one)", msg, w->warn_suppressed);
    else ex_warn("worker", "%s", msg);
    w->warn_suppressed = 0;
}

/* ---- scheduling ---- */

static void timer_cb(uv_timer_t *t);

/* Point the one timer at the earliest due time. A due poll that waits for
 * a free slot needs no timer: the end of a running poll dispatches it. */
static void arm(wk_worker *w, int64_t now)
{
    if (w->stopping) return;
    int64_t due = wk_registry_next_due(&w->reg);
    if (due == INT64_MAX || (due <= now && !wk_poller_has_slot(w->poller))) {
        uv_timer_stop(&w->timer);
        w->armed_due = INT64_MAX;
        return;
    }
    if (due == w->armed_due && uv_is_active((uv_handle_t *)&w->timer)) return;
    uint64_t delay_ms = due <= now ? 0 : (uint64_t)((due - now + EX_NS_PER_MS - 1) / EX_NS_PER_MS);
    uv_timer_start(&w->timer, timer_cb, delay_ms, 0);
    w->armed_due = due;
}

static int has_slot_op(void *arg) { return wk_poller_has_slot(((wk_worker *)arg)->poller); }
static void poll_op(void *arg, wk_entry *e);
static void expire_op(void *arg, wk_entry *e);
static const wk_sched_ops sched_ops = {has_slot_op, poll_op, expire_op};

/* Hand over what is due at `now` and re-arm the timer. */
static void dispatch(wk_worker *w, int64_t now)
{
    if (w->stopping) return;
    wk_registry_dispatch(&w->reg, now, &sched_ops, w);
    arm(w, now);
}

static void timer_cb(uv_timer_t *t)
{
    wk_worker *w = t->data;
    w->armed_due = INT64_MAX;
    dispatch(w, now_ns());
}

/* ---- durable intake: holds and checkpoints ---- */

static wk_hold *hold_find(const wk_worker *w, const char *workflow_id)
{
    wk_hold *h = NULL;
    HASH_FIND_STR(w->holds, workflow_id, h);
    return h;
}

/* Add entry `id` to h (once). 0, or -1 when out of memory. */
static int hold_add_id(wk_hold *h, const char *id)
{
    for (size_t i = 0; i < h->nids; i++)
        if (strcmp(h->ids[i], id) == 0) return 0;
    if (h->nids == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 1;
        void *p = ex_realloc(h->ids, cap * sizeof *h->ids);
        if (!p) return -1;
        h->ids = p;
        h->cap = cap;
    }
    snprintf(h->ids[h->nids++], WK_STREAM_ID_MAX, "%s", id);
    return 0;
}

static void hold_free(wk_hold *h)
{
    if (!h) return;
    ex_free(h->ids);
    ex_free(h);
}

/* h is out of the map: leave its entries pending (claimed again later) and free it. */
static void hold_release(wk_worker *w, wk_hold *h)
{
    for (size_t i = 0; w->stream && i < h->nids; i++) wk_stream_release(w->stream, h->ids[i]);
    hold_free(h);
}

/* Save m's state under extrace:ckpt:<id> until its deadline plus a margin. */
static void ckpt_save(wk_worker *w, const wm_monitor *m)
{
    uint8_t *blob;
    size_t len;
    if (!w->stream) return;
    if (wk_ckpt_encode(m, &blob, &len) != 0) {
        ex_error("worker", "workflow %s: out of memory encoding its checkpoint; not saved", m->workflow_id);
        return;
    }
    int64_t now = now_ns(), deadline = wm_monitor_deadline(m);
    int64_t left = !wm_monitor_done(m) && deadline > now ? deadline - now : 0;
    if (left > 31 * 86400 * EX_NS_PER_SEC) left = 31 * 86400 * EX_NS_PER_SEC;
    wk_stream_ckpt_save(w->stream, m->workflow_id, blob, len, left + CKPT_MARGIN_NS);
    ex_free(blob);
}

/* The pipeline's verdict on a workflow's trace: acknowledge its entries
 * and drop its checkpoint once delivered; else leave them pending. */
static void export_done(void *arg, int delivered)
{
    wk_hold *h = arg;
    wk_worker *w = h->w;
    if (!w->stream) {
        hold_free(h);
        return;
    }
    if (!delivered) {
        w->durable.undelivered++;
        ex_warn("worker", "workflow %s: its trace was not delivered; its %zu stream entr%s stay%s pending and will "
                "be claimed and exported again from the checkpoint", h->workflow_id, h->nids,
                h->nids == 1 ? "y" : "ies", h->nids == 1 ? "s" : "");
        hold_release(w, h);
        return;
    }
    for (size_t i = 0; i < h->nids; i++) wk_stream_ack(w->stream, h->ids[i], h->workflow_id);
    hold_free(h);
}

/* ---- finishing a workflow ---- */

static wk_result result_of(const wm_monitor *m)
{
    if (m->end == WM_END_OK) return WK_RESULT_OK;
    if (m->end == WM_END_TIMEOUT) return WK_RESULT_TIMEOUT;
    return WK_RESULT_ERROR;
}

/* The monitor of e is done: count it, build its spans, hand them to the
 * pipeline, forget the workflow. With a stream, the final state is
 * checkpointed first (a worker that dies before the acknowledgement is
 * replaced by one that exports the same trace again, identically) and
 * the entries are acknowledged once the pipeline delivered the trace. */
static void finish(wk_worker *w, wk_entry *e)
{
    wm_monitor *m = wk_registry_remove(&w->reg, e);
    wk_result res = result_of(m);
    wk_hold *h = w->stream ? hold_find(w, m->workflow_id) : NULL;
    if (h) HASH_DELETE(hh, w->holds, h);
    ckpt_save(w, m);
    w->metrics.workflows_finished[res]++;
    exo_span **spans = NULL;
    size_t n = 0;
    int rc = wm_build_spans(m, w->ns, &spans, &n);
    if (rc != 0) {
        ex_error("worker", "workflow %s: could not build its spans (error %d, out of memory?); trace lost%s",
                 m->workflow_id, rc, h ? " here (its stream entries stay pending)" : "");
        if (h) hold_release(w, h);
    } else {
        ex_debug("worker", "workflow %s finished (%s) after %" PRIu32 " polls: exporting %zu spans", m->workflow_id,
                 wk_result_name(res), m->polls, n);
        exo_pipeline_submit(w->pipeline, spans, n, h ? export_done : NULL, h);
        ex_free(spans); /* the pipeline owns the spans, not the array */
    }
    wm_monitor_free(m);
}

static void expire_op(void *arg, wk_entry *e)
{
    wk_worker *w = arg;
    ex_debug("worker", "workflow %s: monitor timed out", e->mon->workflow_id);
    wm_monitor_timeout(e->mon, now_ns());
    finish(w, e);
}

/* ---- polling ---- */

/* Due again after the interval; without memory for that, end it now as a
 * timeout rather than lose track of it. */
static void reschedule(wk_worker *w, wk_entry *e, int64_t now, int64_t retry_after_ns)
{
    if (wk_registry_reschedule_after(&w->reg, e, now, retry_after_ns) == 0) return;
    ex_error("worker", "workflow %s: out of memory rescheduling its poll; ending its watch now", e->mon->workflow_id);
    expire_op(w, e);
}

static void poll_op(void *arg, wk_entry *e)
{
    wk_worker *w = arg;
    if (wk_poller_start(w->poller, e->mon->workflow_id, e) == 0) return;
    /* curl refused the transfer (out of memory): count it, try next interval. */
    w->metrics.poll_errors[WK_POLL_ERR_CONNECT]++;
    wm_monitor_poll_failed(e->mon, now_ns(), WK_POLL_ERR_CONNECT);
    ex_warn("worker", "workflow %s: could not start a poll; retrying at the next interval", e->mon->workflow_id);
    reschedule(w, e, now_ns(), -1);
}

static void poll_done(void *arg, void *tag, const wk_poll_result *r)
{
    wk_worker *w = arg;
    wk_entry *e = tag;
    if (r->outcome == WK_POLL_ABORTED) return; /* shutting down */
    int64_t now = now_ns();
    int done = 0, changed = 0;
    w->metrics.polls++;
    wk_histogram_observe(&w->metrics.poll_duration, r->seconds);
    if (r->outcome == WK_POLL_OK) {
        done = wm_monitor_apply(e->mon, r->snap, now, &changed) == WM_DONE;
    } else if (r->outcome == WK_POLL_NOT_FOUND) {
        ex_debug("worker", "workflow %s: the API does not know it (%s)", e->mon->workflow_id, r->why);
        done = wm_monitor_not_found(e->mon, now) == WM_DONE;
    } else {
        w->metrics.poll_errors[r->kind]++;
        ex_debug("worker", "workflow %s: poll failed (%s): %s", e->mon->workflow_id, wk_poll_error_name(r->kind),
                 r->why);
        wm_monitor_poll_failed(e->mon, now, (int)r->kind);
    }
    if (done) {
        finish(w, e); /* checkpoints the final state */
    } else {
        if (changed) ckpt_save(w, e->mon); /* every state change, not every poll */
        /* A 429/503's Retry-After (else -1) holds the next poll back. */
        reschedule(w, e, now, r->outcome == WK_POLL_OK ? -1 : r->retry_after_ns);
    }
    dispatch(w, now);
}

/* ---- intake ---- */

static void on_event(void *arg, const char *payload, size_t len)
{
    wk_worker *w = arg;
    wk_event ev;
    wk_reject reason;
    char why[512], msg[700];
    w->metrics.events_received++;
    if (w->stopping) return;
    if (wk_event_parse(payload, len, &ev, &reason, why, sizeof why) != 0) {
        w->metrics.events_rejected[reason]++;
        snprintf(msg, sizeof msg, "event rejected (%s): %s", wk_reject_name(reason), why);
        event_warn(w, msg);
        return;
    }
    if (wk_registry_find(&w->reg, ev.workflow_id)) {
        w->metrics.events_duplicate++;
        ex_debug("worker", "workflow %s is already watched: duplicate event ignored", ev.workflow_id);
        return;
    }
    int64_t now = now_ns();
    wm_monitor *m = wm_monitor_new(ev.workflow_id, ev.submitted_ns, now, w->opt->timeout_ns);
    int rc = m ? wk_registry_add(&w->reg, m, now, NULL) : WK_REG_NOMEM;
    if (rc == 0) {
        w->metrics.workflows_started++;
        arm(w, now);
        return;
    }
    wm_monitor_free(m);
    w->metrics.events_rejected[WK_REJECT_CAPACITY]++;
    snprintf(msg, sizeof msg, "event rejected (capacity): workflow %s: %s", ev.workflow_id,
             rc == WK_REG_FULL ? "--max-workflows workflows are watched already" : "out of memory");
    event_warn(w, msg);
}

static void on_intake_state(void *arg, int subscribed)
{
    wk_worker *w = arg;
    if (subscribed) w->metrics.redis_connects++;
}

/* ---- durable intake: stream entries ---- */

static void finish(wk_worker *w, wk_entry *e);

/* Watch h's workflow with m (restored from a checkpoint) or a new monitor. */
static void start_watch(wk_worker *w, wk_hold *h, wm_monitor *m)
{
    int64_t now = now_ns();
    int fresh = m == NULL;
    if (!m) m = wm_monitor_new(h->workflow_id, h->submitted_ns, now, w->opt->timeout_ns);
    wk_entry *e = NULL;
    int rc = m ? wk_registry_add(&w->reg, m, now, &e) : WK_REG_NOMEM;
    if (rc != 0) {
        wm_monitor_free(m);
        HASH_DELETE(hh, w->holds, h);
        w->metrics.events_rejected[WK_REJECT_CAPACITY]++;
        ex_warn("worker", "workflow %s: %s; its stream entries stay pending for a later claim", h->workflow_id,
                rc == WK_REG_FULL ? "--max-workflows workflows are watched already" : "out of memory");
        hold_release(w, h);
        return;
    }
    w->metrics.workflows_started++;
    if (wm_monitor_done(m)) { /* resumed after its trace was built: export the same trace again */
        finish(w, e);
        return;
    }
    if (fresh) ckpt_save(w, m); /* its creation time starts the timeout, for whoever resumes it */
    arm(w, now);
}

static void ckpt_loaded(void *arg, void *tag, int found, const uint8_t *blob, size_t len)
{
    wk_worker *w = arg;
    wk_hold *h = tag;
    if (w->stopping) return; /* h stays in the map, freed at exit */
    if (found < 0) {
        HASH_DELETE(hh, w->holds, h);
        ex_warn("worker", "workflow %s: cannot read its checkpoint (Redis unavailable); its stream entries stay "
                "pending for a later claim", h->workflow_id);
        hold_release(w, h);
        return;
    }
    wm_monitor *m = NULL;
    if (found) {
        char why[256];
        m = wk_ckpt_decode(blob, len, why, sizeof why);
        if (m && strcmp(m->workflow_id, h->workflow_id) != 0) {
            snprintf(why, sizeof why, "it holds workflow %.128s", m->workflow_id);
            wm_monitor_free(m);
            m = NULL;
        }
        if (!m) {
            w->durable.ckpt_rejected++;
            ex_error("worker", "checkpoint %s%s unusable: %s; watching the workflow from the start again",
                     WK_CKPT_KEY_PREFIX, h->workflow_id, why);
        } else {
            w->durable.restored++;
            ex_info("worker", "workflow %s resumed from its checkpoint (%u events, %s)", h->workflow_id, m->nevents,
                    wm_monitor_done(m) ? "done: exporting again" : "running");
        }
    }
    start_watch(w, h, m);
}

static void on_stream_entry(void *arg, const char *id, const char *data, size_t len, int resumed)
{
    wk_worker *w = arg;
    wk_event ev;
    wk_reject reason;
    char why[512], msg[700];
    w->metrics.events_received++;
    if (w->stopping) {
        wk_stream_release(w->stream, id); /* stays pending: read again after the restart */
        return;
    }
    if (!data || wk_event_parse(data, len, &ev, &reason, why, sizeof why) != 0) {
        if (!data) reason = WK_REJECT_MISSING_FIELD;
        snprintf(msg, sizeof msg, "%s: %s", wk_reject_name(reason), data ? why : "the entry has no \"data\" field");
        w->metrics.events_rejected[reason]++;
        wk_stream_dead_letter(w->stream, id, data, len, msg);
        snprintf(why, sizeof why, "stream entry %s rejected (%.400s); moved to %s:dead", id, msg, w->opt->stream);
        event_warn(w, why);
        return;
    }
    wk_hold *h = hold_find(w, ev.workflow_id);
    if (h) { /* acknowledged together with the watched one, once its trace is delivered */
        w->metrics.events_duplicate++;
        if (hold_add_id(h, id) != 0) wk_stream_release(w->stream, id);
        ex_debug("worker", "workflow %s is already watched: entry %s joins it", ev.workflow_id, id);
        return;
    }
    if (HASH_COUNT(w->holds) >= w->opt->sched.max_entries || !(h = ex_calloc(1, sizeof *h)) ||
        hold_add_id(h, id) != 0) {
        w->metrics.events_rejected[WK_REJECT_CAPACITY]++;
        snprintf(msg, sizeof msg, "stream entry %s (workflow %s) left pending: %s", id, ev.workflow_id,
                 h ? "out of memory" : "--max-workflows workflows are watched already");
        event_warn(w, msg);
        hold_free(h);
        wk_stream_release(w->stream, id);
        return;
    }
    h->w = w;
    h->submitted_ns = ev.submitted_ns;
    snprintf(h->workflow_id, sizeof h->workflow_id, "%s", ev.workflow_id);
    HASH_ADD_STR(w->holds, workflow_id, h);
    if (!h->hh.tbl) {
        ex_error("worker", "stream entry %s: out of memory; left pending", id);
        hold_release(w, h);
        return;
    }
    if (!resumed) {
        start_watch(w, h, NULL);
        return;
    }
    wk_stream_ckpt_load(w->stream, h->workflow_id, ckpt_loaded, h); /* may answer at once */
}

static void on_stream_state(void *arg, int ready)
{
    wk_worker *w = arg;
    if (ready) w->metrics.redis_connects++;
}

/* Free every hold left at exit (their entries stay pending). */
static void holds_clear(wk_worker *w)
{
    wk_hold *h, *tmp;
    HASH_ITER(hh, w->holds, h, tmp) {
        HASH_DELETE(hh, w->holds, h);
        hold_free(h);
    }
}

/* ---- admin ---- */

static int admin_ready(void *arg)
{
    wk_worker *w = arg;
    if (w->opt->stream) return !w->stopping && wk_stream_ready(w->stream);
    return !w->stopping && wk_intake_subscribed(w->intake);
}

/* One counter family with a single sample. */
static void counter(wk_text *t, const char *name, const char *help, uint64_t v)
{
    wk_prom_family(t, name, "counter", help);
    wk_prom_sample(t, name, NULL, NULL, (double)v);
}

/* The durable intake's counters (stream mode only). */
static void render_stream_metrics(wk_worker *w, wk_text *t)
{
    wk_stream_stats st;
    wk_stream_get_stats(w->stream, &st);
    counter(t, "extrace_stream_entries_total", "Stream entries delivered to the worker, resumed ones included.",
            st.entries_read);
    counter(t, "extrace_stream_entries_resumed_total", "Entries that were pending already (own after a restart, or "
            "claimed).", st.entries_resumed);
    counter(t, "extrace_stream_entries_claimed_total", "Entries taken over from idle consumers (XAUTOCLAIM).",
            st.entries_claimed);
    counter(t, "extrace_stream_acks_total", "Entries acknowledged after their trace was delivered.", st.acks);
    counter(t, "extrace_stream_dead_letters_total", "Malformed entries moved to <stream>:dead.", st.dead_letters);
    counter(t, "extrace_stream_ack_dropped_total", "Acknowledgements dropped while Redis was down (left pending).",
            st.outbox_dropped);
    counter(t, "extrace_checkpoints_saved_total", "Monitor checkpoints written to Redis.", st.ckpt_saved);
    counter(t, "extrace_checkpoint_save_failures_total", "Checkpoint writes dropped or refused.",
            st.ckpt_save_failed);
    counter(t, "extrace_checkpoints_restored_total", "Monitors resumed from a checkpoint.", w->durable.restored);
    counter(t, "extrace_checkpoints_rejected_total", "Checkpoints that could not be decoded.",
            w->durable.ckpt_rejected);
    counter(t, "extrace_traces_undelivered_total", "Traces the export did not deliver (entries left pending).",
            w->durable.undelivered);
}

static int admin_metrics(void *arg, wk_text *out)
{
    wk_worker *w = arg;
    exo_pipeline_stats ps = {0};
    if (w->pipeline) exo_pipeline_get_stats(w->pipeline, &ps);
    wk_gauges g = {
        .workflows_in_flight = w->reg.count,
        .polls_in_flight = w->poller ? (uint64_t)wk_poller_active(w->poller) : 0,
        .polls_waiting = wk_registry_waiting(&w->reg),
        .redis_subscribed = w->opt->stream ? wk_stream_ready(w->stream) : wk_intake_subscribed(w->intake),
        .spans_exported = ps.spans_exported,
        .spans_dropped = ps.spans_dropped,
        .export_queue_spans = ps.spans_queued,
        .export_requests = ps.export_requests,
        .export_failures = ps.export_failures,
        .spool_bytes = ps.spool_bytes,
    };
    int rc = wk_metrics_render(&w->metrics, &g, out);
    if (rc == 0 && w->opt->stream) render_stream_metrics(w, out);
    return rc;
}

/* ---- shutdown ---- */

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void flushed_cb(void *arg)
{
    wk_worker *w = arg;
    exo_pipeline_stats ps;
    exo_pipeline_get_stats(w->pipeline, &ps);
    ex_info("worker", "export flushed: %" PRIu64 " spans exported, %" PRIu64 " dropped in all", ps.spans_exported,
            ps.spans_dropped);
    exo_pipeline_destroy(w->pipeline);
    w->pipeline = NULL;
    wk_stream_stop(w->stream); /* after the flush: its acknowledgements go out first */
    w->stream = NULL;
    wk_admin_stop(w->admin);
    w->admin = NULL;
    close_handle((uv_handle_t *)&w->timer);
    close_handle((uv_handle_t *)&w->sigint);
    close_handle((uv_handle_t *)&w->sigterm);
}

static void signal_cb(uv_signal_t *s, int signum)
{
    wk_worker *w = s->data;
    const char *name = signum == SIGINT ? "SIGINT" : "SIGTERM";
    if (w->stopping) {
        ex_warn("worker", "received %s again: exiting without waiting for the export", name);
        exit(1);
    }
    w->stopping = 1;
    ex_info("worker", "received %s: stopping intake and polls, flushing finished spans", name);
    wk_intake_stop(w->intake);
    w->intake = NULL;
    uv_timer_stop(&w->timer);
    wk_poller_destroy(w->poller); /* aborted polls report ABORTED: ignored */
    w->poller = NULL;
    size_t abandoned = wk_registry_clear(&w->reg);
    if (w->opt->stream)
        ex_info("worker", "left %zu in-flight workflows pending in %s with their checkpoints: a restart or another "
                "worker of group %s resumes them", abandoned, w->opt->stream, w->opt->group);
    else ex_info("worker", "abandoned %zu in-flight workflows (resuming them is a later feature)", abandoned);
    exo_pipeline_flush(w->pipeline, w->opt->export->bsp_export_timeout_ms * EX_NS_PER_MS, flushed_cb, w);
}

/* ---- start and run ---- */

static int start(wk_worker *w)
{
    char err[512];
    const wk_options *o = w->opt;
    exo_pipeline_options po;
    exo_pipeline_options_default(&po);
    po.spool_dir = o->spool_dir;
    if (o->spool_max_bytes) po.spool_max_bytes = o->spool_max_bytes;
    w->pipeline = exo_pipeline_new_opts(&w->loop, o->export, o->resource, SCOPE_NAME, EXTRACE_VERSION, &po, err,
                                        sizeof err);
    if (!w->pipeline) {
        ex_error("worker", "cannot set up the export: %s", err);
        return -1;
    }
    wk_poller_config pc = {o->api_url, o->max_concurrent_polls, o->poll_timeout_ns, WM_BODY_MAX};
    w->poller = wk_poller_new(&w->loop, &pc, poll_done, w, err, sizeof err);
    if (!w->poller) {
        ex_error("worker", "%s", err);
        return -1;
    }
    wk_admin_source src = {admin_ready, admin_metrics, w};
    w->admin = wk_admin_start(&w->loop, o->admin_listen, &src, err, sizeof err);
    if (!w->admin) {
        ex_error("worker", "admin HTTP: %s", err);
        return -1;
    }
    ex_info("worker", "admin HTTP on %s (port %d): /healthz /readyz /metrics", o->admin_listen, wk_admin_port(w->admin));
    int64_t connect_timeout = (o->redis.connect_timeout_ms > 0 ? o->redis.connect_timeout_ms : 5000) * EX_NS_PER_MS;
    if (o->stream) {
        wk_stream_config sc = {o->redis, o->stream, o->group, o->consumer, STREAM_COUNT, STREAM_BLOCK_NS,
                               o->claim_idle_ns, 100 * EX_NS_PER_MS, 5 * EX_NS_PER_SEC, connect_timeout,
                               o->sched.max_entries};
        w->stream = wk_stream_new(&w->loop, &sc, on_stream_entry, on_stream_state, w);
        if (!w->stream) {
            ex_error("worker", "out of memory starting the stream intake");
            return -1;
        }
        ex_info("worker", "reading stream %s as consumer %s of group %s (claiming entries idle for %lld ms)",
                o->stream, o->consumer, o->group, (long long)(o->claim_idle_ns / EX_NS_PER_MS));
        return 0;
    }
    wk_intake_config ic = {o->redis, o->channel, 100 * EX_NS_PER_MS, 5 * EX_NS_PER_SEC, connect_timeout};
    w->intake = wk_intake_new(&w->loop, &ic, on_event, on_intake_state, w);
    if (!w->intake) {
        ex_error("worker", "out of memory starting the intake");
        return -1;
    }
    return 0;
}

/* Close whatever start() opened (after a failed start). */
static void teardown(wk_worker *w)
{
    wk_intake_stop(w->intake);
    wk_stream_stop(w->stream);
    wk_admin_stop(w->admin);
    wk_poller_destroy(w->poller);
    if (w->pipeline) exo_pipeline_destroy(w->pipeline);
    close_handle((uv_handle_t *)&w->timer);
    close_handle((uv_handle_t *)&w->sigint);
    close_handle((uv_handle_t *)&w->sigterm);
}

static void walk_close(uv_handle_t *h, void *arg) { close_handle(h); }

/* Run the loop until every handle is closed and the loop itself closes. */
static void drain_loop(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
    while (uv_loop_close(loop) == UV_EBUSY) {
        ex_warn("worker", "handles still open at exit: closing them");
        uv_walk(loop, walk_close, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
    }
}

int wk_worker_run(const wk_options *opt)
{
    wk_worker *w = ex_calloc(1, sizeof *w);
    if (!w) {
        ex_error("worker", "out of memory");
        return 1;
    }
    w->opt = opt;
    w->ns = exo_resource_get(opt->resource, "service.namespace");
    if (!w->ns) w->ns = EXO_DEFAULT_SERVICE_NAMESPACE;
    w->armed_due = INT64_MAX;
    ex_rng_seed(&w->rng, opt->seed);
    wk_registry_init(&w->reg, &opt->sched, &w->rng);
    wk_metrics_init(&w->metrics);
    uv_loop_init(&w->loop);
    uv_timer_init(&w->loop, &w->timer);
    uv_signal_init(&w->loop, &w->sigint);
    uv_signal_init(&w->loop, &w->sigterm);
    w->timer.data = w->sigint.data = w->sigterm.data = w;
    int rc = start(w);
    if (rc == 0) {
        uv_signal_start(&w->sigint, signal_cb, SIGINT);
        uv_signal_start(&w->sigterm, signal_cb, SIGTERM);
    } else {
        teardown(w);
    }
    drain_loop(&w->loop);
    wk_registry_clear(&w->reg);
    holds_clear(w);
    ex_free(w);
    return rc == 0 ? 0 : 1;
}
