/* worker.c — wiring of intake, registry, poller, monitors, export and
 * admin HTTP on one libuv loop. Stream mode's holds and checkpoints are
 * in durable.c. */
#include "worker/worker.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "otel/resource.h"
#include "worker/event.h"
#include "core/iso8601.h"
#include "model/spans.h"
#include "source/httpmeta.h"
#include "worker/worker_int.h"
#include "worker/webhook.h"
#include "worker/discover.h"

#define WARN_BUDGET_PER_SEC 20 /* rejected-event warnings logged per second, the rest summed up */
#define POLLWARN_WINDOW_NS (60 * EX_NS_PER_SEC) /* repeated poll failures of a kind: one line a minute */
#define SCOPE_NAME "sample-tracing"
#define STREAM_COUNT 64                        /* entries per XREADGROUP / XAUTOCLAIM */
#define STREAM_BLOCK_NS (2 * EX_NS_PER_SEC)    /* BLOCK of XREADGROUP */
#define INBOX_MAX_BYTES ((size_t)64 << 20)     /* pub/sub payloads read but not yet taken by the loop */

int64_t wk_now_ns(void) { return ex_clock_now(ex_clock_real()); }

/* At most WARN_BUDGET_PER_SEC a second. */
void wk_event_warn(wk_worker *w, const char *msg)
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

/* 1 while the API's rate limit holds polling back. */
static int paused(wk_worker *w, int64_t now)
{
    if (!w->paused_until) return 0;
    if (now < w->paused_until) return 1;
    ex_info("worker", "polling resumed after the rate-limit pause");
    w->paused_until = 0;
    return 0;
}


/* Point the one timer at the earliest due time. A due poll that waits for
 * a free slot needs no timer: the end of a running poll dispatches it. */
void wk_arm(wk_worker *w, int64_t now)
{
    if (w->stopping) return;
    int64_t due = wk_registry_next_due(&w->reg);
    if (due != INT64_MAX && paused(w, now) && due < w->paused_until) due = w->paused_until;
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

static int has_slot_op(void *arg)
{
    wk_worker *w = arg;
    return !paused(w, wk_now_ns()) && wk_poller_has_slot(w->poller);
}
static void poll_op(void *arg, wk_entry *e);
static void expire_op(void *arg, wk_entry *e);
static const wk_sched_ops sched_ops = {has_slot_op, poll_op, expire_op};

/* Hand over what is due at `now` and re-arm the timer. */
static void dispatch(wk_worker *w, int64_t now)
{
    if (w->stopping) return;
    wk_registry_dispatch(&w->reg, now, &sched_ops, w);
    wk_arm(w, now);
}

static void timer_cb(uv_timer_t *t)
{
    wk_worker *w = t->data;
    w->armed_due = INT64_MAX;
    dispatch(w, wk_now_ns());
}

mdl_monitor *wk_monitor_new(const wk_worker *w, const char *key, int64_t submitted_ns, int64_t now)
{
    return mdl_monitor_new(key, submitted_ns, now, w->opt->timeout_ns, w->source->max_nodes, w->source->max_events);
}

int wk_event_accept(const wk_worker *w, const wk_event *ev, wk_reject *reason, char *why, size_t whylen)
{
    const wk_source *src = w->source;
    char detail[SR_ERR_LEN];
    if (ev->source[0] && strcmp(ev->source, src->name) != 0) {
        *reason = WK_REJECT_SOURCE;
        snprintf(why, whylen, "an event of source %s: this worker watches %s (--source)", ev->source, src->name);
        return -1;
    }
    if (src->profile) {
        sr_key k;
        if (sr_key_parse(src->profile, ev->workflow_id, strlen(ev->workflow_id), &k, detail, sizeof detail)) {
            *reason = WK_REJECT_BAD_ID;
            snprintf(why, whylen, "%s", detail);
            return -1;
        }
        sr_key_free(&k);
    } else if (ev->from_key && wk_event_check_id(ev->workflow_id, strlen(ev->workflow_id), detail, sizeof detail)) {
        *reason = WK_REJECT_BAD_ID;
        snprintf(why, whylen, "Key %.128s: %s", ev->workflow_id, detail);
        return -1;
    }
    return 0;
}

void wk_started_key(const wk_worker *w, const char *key, char *buf, size_t len)
{
    snprintf(buf, len, "extrace:started:%s:%s", w->source->name, key);
}

int64_t wk_started_ttl_ms(const wk_worker *w) { return (w->opt->timeout_ns + 86400 * EX_NS_PER_SEC) / EX_NS_PER_MS; }

/* ---- finishing a workflow ---- */

void wk_watched(wk_worker *w, const mdl_monitor *m, int64_t now)
{
    wk_feed_watch(&w->feed, &w->live, m, now);
    wk_admin_changed(w->admin);
}

/* Forget what the poller kept for a workflow that is no longer watched
 * (the live feed tells its end). */
static mdl_monitor *unwatch(wk_worker *w, wk_entry *e)
{
    wk_feed_end(&w->feed, &w->live, e->mon, wk_now_ns());
    wk_admin_changed(w->admin);
    wk_poller_forget(w->poller, e->mon->key);
    return wk_registry_remove(&w->reg, e);
}

/* The monitor of e is done: out of the registry, and its trace to the
 * export (with a stream, once its final checkpoint is in Redis). */
static void finish(wk_worker *w, wk_entry *e)
{
    mdl_monitor *m = unwatch(w, e);
    wk_webhook_finished(w->webhook, m->key); /* late deliveries about it must not start it again */
    if (w->stream) {
        wd_finished(w, m);
        return;
    }
    wk_export_finished(w, m);
}


/* Stream mode: stop watching e if another consumer took its workflow over. 1 if so. */
static int dropped_if_lost(wk_worker *w, wk_entry *e)
{
    if (!w->stream || !wd_lost(w, e->mon->key)) return 0;
    mdl_monitor_free(unwatch(w, e));
    return 1;
}

static void expire_op(void *arg, wk_entry *e)
{
    wk_worker *w = arg;
    if (dropped_if_lost(w, e)) return;
    ex_debug("worker", "workflow %s: monitor timed out", e->mon->key);
    mdl_monitor_timeout(e->mon, wk_now_ns());
    finish(w, e);
}

/* ---- polling ---- */

/* Due again after the interval; without memory for that, end it now as a
 * timeout rather than lose track of it. */
static void reschedule(wk_worker *w, wk_entry *e, int64_t now, int64_t retry_after_ns)
{
    if (wk_registry_reschedule_after(&w->reg, e, now, retry_after_ns) == 0) return;
    ex_error("worker", "workflow %s: out of memory rescheduling its poll; ending its watch now", e->mon->key);
    expire_op(w, e);
}

static void poll_op(void *arg, wk_entry *e)
{
    wk_worker *w = arg;
    if (wk_poller_start(w->poller, e->mon->key, mdl_monitor_doc_hash(e->mon), e) == 0) return;
    /* curl refused the transfer (out of memory): count it, try next interval. */
    w->metrics.poll_errors[WK_POLL_ERR_CONNECT]++;
    mdl_monitor_poll_failed(e->mon);
    ex_warn("worker", "workflow %s: could not start a poll; retrying at the next interval", e->mon->key);
    reschedule(w, e, wk_now_ns(), -1);
}

/* The first failure of each kind at warn, with its URL and cause; repeats summed up. */
static void tell_poll_failure(wk_worker *w, const char *workflow_id, const wk_poll_result *r)
{
    char url[512], msg[1400];
    size_t base = strlen(w->opt->api_url);
    while (base > 0 && w->opt->api_url[base - 1] == '/') base--;
    if (w->source->profile) /* the failing request is named in r->why */
        snprintf(url, sizeof url, "%s workflow %.256s", w->source->name, workflow_id);
    else snprintf(url, sizeof url, "%.*s/workflows/%s", (int)base, w->opt->api_url, workflow_id);
    if (wk_pollwarn_failed(&w->pollwarn, r->kind, url, r->why, ex_mono_ns(), msg, sizeof msg))
        ex_warn("worker", "%s", msg);
}

#define SKEW_WARN_EVERY (10 * 60 * EX_NS_PER_SEC) /* a persisting clock offset is warned about this often */

/* Feed the answer's Date header to the clock offset estimate; warn when
 * the API's clock is surely more than a poll interval off ours: windows
 * are on the worker's clock, the API's times on its own. */
static void observe_clock(wk_worker *w, const wk_poll_result *r, int64_t now)
{
    if (r->date_ns < 0) return;
    wk_skew_add(&w->skew, r->sent_ns, r->received_ns, r->date_ns);
    if (!wk_skew_should_warn(&w->skew, now, w->opt->sched.interval_ns, SKEW_WARN_EVERY)) return;
    ex_warn("worker",
            "the API at %s runs %+.3f s (±%.3f s) from this host's clock, more than the poll interval: "
            "observation windows are on this clock, the API's times on its own, so a window may miss a "
            "transition the API stamped; synchronise the clocks (NTP)",
            w->api_host, (double)wk_skew_offset(&w->skew) / 1e9, (double)wk_skew_uncertainty(&w->skew) / 1e9);
}

/* The API's rate-limit headers ask every poll to wait: hold polling
 * back until then (logged once per pause, with when it resumes). */
static void rate_limit(wk_worker *w, const wk_poll_result *r, int64_t now)
{
    if (r->pause_ns <= 0) return;
    int64_t until = now + r->pause_ns;
    if (until <= w->paused_until) return;
    char iso[EX_ISO_LEN + 1];
    if (w->paused_until <= now) {
        w->metrics.rate_limit_pauses[r->pause_reason < SR_PACE_SPREAD + 1 ? r->pause_reason : 0]++;
        ex_info("worker", "%s's rate limit (%s): polling paused for %.1f s, resumes at %s", w->api_host,
                sr_pace_reason_name((sr_pace_reason)r->pause_reason), (double)r->pause_ns / 1e9,
                ex_iso_format(until, iso));
    }
    w->paused_until = until;
}

static void poll_done(void *arg, void *tag, const wk_poll_result *r)
{
    wk_worker *w = arg;
    wk_entry *e = tag;
    if (r->outcome == WK_POLL_ABORTED) return; /* shutting down */
    int64_t now = wk_now_ns();
    w->metrics.polls++;
    wk_histogram_observe(&w->metrics.poll_duration, r->seconds);
    observe_clock(w, r, now);
    if (dropped_if_lost(w, e)) {
        dispatch(w, now);
        return;
    }
    int done = 0, changed = 0;
    rate_limit(w, r, now);
    if (r->outcome == WK_POLL_OK && r->unchanged) { /* a 304, or the document applied last (not read again) */
        if (r->same_doc) w->metrics.polls_same_doc++;
        else w->metrics.polls_unchanged++;
        mdl_monitor_unchanged(e->mon, r->sent_ns, r->received_ns);
    } else if (r->outcome == WK_POLL_OK) {
        wk_feed_before(&w->feed, e->mon);
        done = mdl_monitor_apply_doc(e->mon, r->snap, r->doc_hash, r->sent_ns, r->received_ns, &changed) == MDL_DONE;
        wk_feed_after(&w->feed, &w->live, e->mon);
        if (changed) wk_admin_changed(w->admin);
    } else if (r->outcome == WK_POLL_NOT_FOUND) {
        ex_debug("worker", "workflow %s: the API does not know it (%s)", e->mon->key, r->why);
        done = mdl_monitor_not_found(e->mon, now) == MDL_DONE;
    } else {
        w->metrics.poll_errors[r->kind]++;
        if (r->kind == WK_POLL_ERR_MAP && (unsigned)r->map_error < SR_JQ_NKINDS) w->metrics.map_errors[r->map_error]++;
        ex_debug("worker", "workflow %s: poll failed (%s): %s", e->mon->key, wk_poll_error_name(r->kind),
                 r->why);
        tell_poll_failure(w, e->mon->key, r);
        mdl_monitor_poll_failed(e->mon);
    }
    char msg[256];
    if (r->outcome != WK_POLL_FAILED && wk_pollwarn_ok(&w->pollwarn, ex_mono_ns(), msg, sizeof msg))
        ex_info("worker", "%s", msg);
    if (done) {
        finish(w, e); /* checkpoints the final state */
    } else {
        if (changed && w->stream) wd_changed(w, e->mon); /* checkpoint every state change, not every poll */
        else if (changed) wk_export_ready(w, e->mon);    /* stream mode: once the checkpoint is in (durable.c) */
        /* A 429/503's Retry-After (else -1) holds the next poll back. */
        reschedule(w, e, now, r->outcome == WK_POLL_OK ? -1 : r->retry_after_ns);
    }
    dispatch(w, now);
}

/* ---- intake ---- */

int wk_watch_event(wk_worker *w, const wk_event *ev, int64_t now, wk_entry **out)
{
    char msg[700];
    wk_entry *e = wk_registry_find(&w->reg, ev->workflow_id);
    if (out) *out = e;
    if (e) {
        w->metrics.events_duplicate++;
        ex_debug("worker", "workflow %s is already watched: duplicate event ignored", ev->workflow_id);
        return 1;
    }
    mdl_link link;
    mdl_monitor *m = wk_monitor_new(w, ev->workflow_id, ev->submitted_ns, now);
    int rc = m ? wk_registry_add(&w->reg, m, now, out) : WK_REG_NOMEM;
    if (rc == 0) {
        if (wk_submitter_link(w, ev, &link) > 0 && mdl_monitor_set_link(m, link.trace_id, link.span_id, link.flags))
            ex_warn("worker", "workflow %s: out of memory keeping its submitter's span; traced without the link",
                    ev->workflow_id);
        w->metrics.workflows_started++;
        wk_watched(w, m, now);
        wk_arm(w, now);
        return 0;
    }
    mdl_monitor_free(m);
    w->metrics.events_rejected[WK_REJECT_CAPACITY]++;
    snprintf(msg, sizeof msg, "event rejected (capacity): workflow %.256s: %s", ev->workflow_id,
             rc == WK_REG_FULL ? "--max-workflows workflows are watched already" : "out of memory");
    wk_event_warn(w, msg);
    return -1;
}

static void on_event(void *arg, const char *payload, size_t len)
{
    wk_worker *w = arg;
    wk_event ev;
    wk_reject reason;
    char why[512], msg[700];
    w->metrics.events_received++;
    if (w->stopping) return;
    if (wk_event_parse(payload, len, &ev, &reason, why, sizeof why) != 0 ||
        wk_event_accept(w, &ev, &reason, why, sizeof why) != 0) {
        w->metrics.events_rejected[reason]++;
        snprintf(msg, sizeof msg, "event rejected (%s): %s", wk_reject_name(reason), why);
        wk_event_warn(w, msg);
        return;
    }
    (void)wk_watch_event(w, &ev, wk_now_ns(), NULL);
}

/* The subscriber's thread had to refuse n events: its queue was full. */
static void on_intake_refused(void *arg, uint64_t n)
{
    wk_worker *w = arg;
    char msg[200];
    w->metrics.events_received += n;
    w->metrics.events_rejected[WK_REJECT_CAPACITY] += n;
    snprintf(msg, sizeof msg, "%" PRIu64 " events rejected (capacity): %d MiB of events already wait for the "
             "worker's loop", n, (int)(INBOX_MAX_BYTES >> 20));
    wk_event_warn(w, msg);
}

static void on_intake_state(void *arg, int subscribed)
{
    wk_worker *w = arg;
    if (subscribed) w->metrics.redis_connects++;
}

/* ---- admin ---- */

static int admin_ready(void *arg)
{
    wk_worker *w = arg;
    if (w->opt->stream) return !w->stopping && wk_stream_ready(w->stream);
    return !w->stopping && wk_inbox_subscribed(w->intake);
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
        .polling_paused = w->paused_until > wk_now_ns(),
        .redis_subscribed = w->opt->stream ? wk_stream_ready(w->stream) : wk_inbox_subscribed(w->intake),
        .spans_exported = ps.spans_exported,
        .spans_dropped = ps.spans_dropped,
        .export_queue_spans = ps.spans_queued,
        .export_requests = ps.export_requests,
        .export_failures = ps.export_failures,
        .spool_bytes = ps.spool_bytes,
    };
    int rc = wk_metrics_render(&w->metrics, &g, out);
    if (rc == 0) wk_skew_render(&w->skew, w->api_host, out);
    if (rc == 0) wk_submitter_render(w, out);
    if (rc == 0) wk_disc_render(w->disc, out);
    if (rc == 0 && w->opt->stream) wd_render_metrics(w, out);
    if (rc == 0) wk_webhook_render_metrics(w->webhook, out);
    return rc;
}

/* ---- status line ---- */

/* The counters the status line compares. */
static wk_status_snap status_snap(wk_worker *w)
{
    exo_pipeline_stats ps = {0};
    if (w->pipeline) exo_pipeline_get_stats(w->pipeline, &ps);
    wk_status_snap s = {.mono_ns = ex_mono_ns(), .polls = w->metrics.polls,
                        .spans_exported = ps.spans_exported, .spans_dropped = ps.spans_dropped};
    for (int k = 0; k < WK_NPOLL_ERR; k++) s.poll_errors[k] = w->metrics.poll_errors[k];
    for (int k = 0; k < WK_NRESULT; k++) s.finished += w->metrics.workflows_finished[k];
    return s;
}

static void status_cb(uv_timer_t *t)
{
    wk_worker *w = t->data;
    wk_status_snap now = status_snap(w);
    int64_t oldest = INT64_MAX, wall = wk_now_ns();
    for (wk_entry *e = wk_registry_next(&w->reg, NULL); e; e = wk_registry_next(&w->reg, e))
        if (e->mon->created_ns < oldest) oldest = e->mon->created_ns;
    char line[1024];
    wk_status_line(&w->status_prev, &now, w->reg.count, oldest == INT64_MAX ? -1 : wall - oldest, line, sizeof line);
    ex_info("worker", "%s", line);
    w->status_prev = now;
}

void wk_api_host(const char *url, char *out, size_t outlen)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *at = strchr(p, '@'), *end = p + strcspn(p, "/?#");
    if (at && at < end) p = at + 1; /* never show credentials */
    snprintf(out, outlen, "%.*s", (int)(end - p), p);
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
    wk_webhook_stop(w->webhook);
    w->webhook = NULL;
    close_handle((uv_handle_t *)&w->timer);
    close_handle((uv_handle_t *)&w->park_timer);
    close_handle((uv_handle_t *)&w->status_timer);
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
    wk_inbox_stop(w->intake);
    w->intake = NULL;
    wk_disc_stop(w->disc);
    w->disc = NULL;
    uv_timer_stop(&w->timer);
    uv_timer_stop(&w->status_timer);
    wk_poller_destroy(w->poller); /* aborted polls report ABORTED: ignored */
    w->poller = NULL;
    size_t abandoned = wk_registry_clear(&w->reg);
    wk_export_stop(w);
    if (w->opt->stream)
        ex_info("worker", "left %zu in-flight workflows pending in %s with their checkpoints: a restart or another "
                "worker of group %s resumes them", abandoned, w->opt->stream, w->opt->group);
    else ex_info("worker", "abandoned %zu in-flight workflows (pub/sub keeps no record of them: run workers with "
                 "--stream to have them resumed)", abandoned);
    exo_pipeline_flush(w->pipeline, w->opt->export->bsp_export_timeout_ms * EX_NS_PER_MS, flushed_cb, w);
}

/* ---- start and run ---- */

/* --discover: list the source every interval (discover.h). */
static int start_discovery(wk_worker *w)
{
    char err[SR_ERR_LEN];
    if (w->opt->discover_interval_ns <= 0) return 0;
    w->disc = wk_disc_start(w, w->opt->discover_interval_ns, w->opt->discover_scope, err, sizeof err);
    if (w->disc) return 0;
    ex_error("worker", "%s", err);
    return -1;
}

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
    wk_skew_init(&w->skew);
    wk_api_host(o->api_url, w->api_host, sizeof w->api_host);
    wk_poller_config pc = {o->api_url, o->max_concurrent_polls, o->poll_timeout_ns, WM_BODY_MAX, o->parse_flags,
                           o->source, o->cond_cache_max, o->pipeline_depth, o->poll_batch_window_ns};
    w->poller = wk_poller_new(&w->loop, &pc, poll_done, w, err, sizeof err);
    if (!w->poller) {
        ex_error("worker", "%s", err);
        return -1;
    }
    if (o->stream) snprintf(w->instance, sizeof w->instance, "%s", o->consumer);
    else {
        char host[256] = "localhost";
        gethostname(host, sizeof host - 1);
        snprintf(w->instance, sizeof w->instance, "%s:%ld", host, (long)getpid());
    }
    wk_admin_source src = {admin_ready, admin_metrics, w, &w->reg, &w->feed, w->live, w->instance};
    w->admin = wk_admin_start(&w->loop, o->admin_listen, &o->admin_limits, &src, err, sizeof err);
    if (!w->admin) {
        ex_error("worker", "admin HTTP: %s", err);
        return -1;
    }
    ex_info("worker", "admin HTTP on %s (port %d): /healthz /readyz /metrics /api/workflows", o->admin_listen,
            wk_admin_port(w->admin));
    if (o->webhook_listen) {
        if (!(w->webhook = wk_webhook_start(w, err, sizeof err))) {
            ex_error("worker", "webhooks: %s", err);
            return -1;
        }
        ex_info("worker", "webhooks on %s (port %d): POST /hooks/%s", o->webhook_listen, wk_webhook_port(w->webhook),
                w->source->name);
    }
    w->status_prev = status_snap(w);
    if (o->status_interval_ns > 0) {
        uint64_t ms = (uint64_t)((o->status_interval_ns + EX_NS_PER_MS - 1) / EX_NS_PER_MS);
        uv_timer_start(&w->status_timer, status_cb, ms, ms);
    }
    int64_t connect_timeout = (o->redis.connect_timeout_ms > 0 ? o->redis.connect_timeout_ms : 5000) * EX_NS_PER_MS;
    if (o->stream) {
        wk_stream_config sc = {o->redis, o->stream, o->group, o->consumer, STREAM_COUNT, STREAM_BLOCK_NS,
                               o->claim_idle_ns, 100 * EX_NS_PER_MS, 5 * EX_NS_PER_SEC, connect_timeout,
                               o->sched.max_entries};
        w->stream = wk_stream_new(&w->loop, &sc, wd_on_entry, wd_on_state, w);
        if (!w->stream) {
            ex_error("worker", "out of memory starting the stream intake");
            return -1;
        }
        wk_stream_on_lost(w->stream, wd_data_lost);
        return start_discovery(w);
    }
    wk_intake_config ic = {o->redis, o->channel, 100 * EX_NS_PER_MS, 5 * EX_NS_PER_SEC, connect_timeout};
    w->intake = wk_inbox_start(&w->loop, &ic, INBOX_MAX_BYTES, on_event, on_intake_state, on_intake_refused, w);
    if (!w->intake) {
        ex_error("worker", "out of memory starting the intake");
        return -1;
    }
    return start_discovery(w);
}

/* Close whatever start() opened (after a failed start). */
static void teardown(wk_worker *w)
{
    wk_disc_stop(w->disc);
    w->disc = NULL;
    wk_inbox_stop(w->intake);
    wk_stream_stop(w->stream);
    wk_admin_stop(w->admin);
    wk_webhook_stop(w->webhook);
    wk_poller_destroy(w->poller);
    if (w->pipeline) exo_pipeline_destroy(w->pipeline);
    close_handle((uv_handle_t *)&w->timer);
    close_handle((uv_handle_t *)&w->park_timer);
    close_handle((uv_handle_t *)&w->status_timer);
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

/* The host[:port] of a base URL, without userinfo ("http://u:p@h:1/x" → "h:1"), into host. */
static const char *api_host(const char *url, char *host, size_t len)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/");
    const char *at = memchr(p, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    snprintf(host, len, "%.*s", (int)n, p);
    return host;
}

int wk_worker_run(const wk_options *opt)
{
    wk_worker *w = ex_calloc(1, sizeof *w);
    if (!w) {
        ex_error("worker", "out of memory");
        return 1;
    }
    w->opt = opt;
    w->source = opt->source;
    w->ns = exo_resource_get(opt->resource, "service.namespace");
    if (!w->ns) w->ns = EXO_DEFAULT_SERVICE_NAMESPACE;
    w->armed_due = INT64_MAX;
    wk_feed_init(&w->feed);
    w->live = (wk_live_ctx){w->ns, w->source->name, &w->reg};
    ex_rng_seed(&w->rng, opt->seed);
    wk_registry_init(&w->reg, &opt->sched, &w->rng);
    wk_metrics_init(&w->metrics);
    uv_loop_init(&w->loop);
    uv_timer_init(&w->loop, &w->timer);
    uv_timer_init(&w->loop, &w->park_timer);
    uv_timer_init(&w->loop, &w->status_timer);
    uv_signal_init(&w->loop, &w->sigint);
    uv_signal_init(&w->loop, &w->sigterm);
    w->timer.data = w->park_timer.data = w->status_timer.data = w->sigint.data = w->sigterm.data = w;
    char host[256];
    wk_pollwarn_init(&w->pollwarn, api_host(opt->api_url, host, sizeof host), POLLWARN_WINDOW_NS);
    int rc = start(w);
    if (rc == 0) {
        uv_signal_start(&w->sigint, signal_cb, SIGINT);
        uv_signal_start(&w->sigterm, signal_cb, SIGTERM);
    } else {
        teardown(w);
    }
    drain_loop(&w->loop);
    wk_registry_clear(&w->reg);
    wd_clear(w);
    wk_feed_clear(&w->feed);
    ex_free(w);
    return rc == 0 ? 0 : 1;
}
