/* durable.c — the worker's stream mode: the entries behind each watched
 * workflow (its hold), its checkpoints and its acknowledgement.
 *
 * One rule makes a trace come out the same however often it is exported:
 * a finished workflow's trace goes out only after Redis confirmed its
 * final checkpoint, written while its entries were still this consumer's
 * (stream.h). A worker that finds its entries claimed by another consumer
 * stops and leaves the workflow to that one, which resumes from the last
 * checkpoint written here; a worker that cannot write the final
 * checkpoint (Redis down) keeps the finished monitor and writes again
 * once Redis is back. So whoever exports a workflow's trace exports the
 * one its final checkpoint holds, and a claimer either resumes before
 * that checkpoint (and the first worker exports nothing) or after it
 * (and exports the same trace again). */
#include "core/mem.h"

/* The holds map allocates through our wrapper and leaves an item out
 * (hh.tbl == NULL) when that fails. */
#define uthash_malloc(sz)    ex_malloc(sz)
#define uthash_free(ptr, sz) ex_free(ptr)
#define HASH_NONFATAL_OOM 1

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <uthash.h>

#include "core/clock.h"
#include "core/iso8601.h"
#include "core/log.h"
#include "model/spans.h"
#include "worker/checkpoint.h"
#include "worker/event.h"
#include "worker/worker_int.h"

#define CKPT_MARGIN_NS (3600 * EX_NS_PER_SEC)     /* checkpoint TTL beyond the monitor's deadline */
#define CKPT_TTL_MAX_NS (31 * 86400 * EX_NS_PER_SEC) /* at most this much before the margin */
#define PARK_RETRY_MS 1000                          /* retry of final checkpoints that waited */
#define UNDELIVERED_WINDOW_NS (60 * EX_NS_PER_SEC)  /* undelivered traces are summed up once per window */
#define UNDELIVERED_BURST 10                        /* … after this many logged one by one */

/* Where a hold's workflow is. */
enum {
    H_LOADING,   /* its checkpoint is being read */
    H_WATCHING,  /* its monitor is in the registry */
    H_FINAL,     /* done: the final checkpoint is being written (monitor in `done`) */
    H_PARKED,    /* done: the final checkpoint waits for Redis (monitor in `done`) */
    H_AWAIT,     /* done and checkpointed: its trace waits for the verdict on spans it exported as they
                    ended (monitor in `done`) */
    H_EXPORTING  /* its trace is with the pipeline */
};

/* The stream entries behind one workflow, from the first entry until its
 * trace is delivered (then they are acknowledged), given up (then they
 * are released, still pending) or lost to another consumer. */
struct wk_hold {
    UT_hash_handle hh;          /* in wk_worker.holds, keyed by workflow_id, until dropped */
    wk_worker *w;               /* not owned */
    mdl_monitor *done;           /* owned: the finished monitor in H_FINAL and H_PARKED */
    int64_t submitted_ns;       /* SubmittedAt of the first entry */
    uint32_t saves;             /* checkpoint writes awaiting their answer */
    uint32_t ckpt_version;      /* the monitor's version in the last checkpoint write */
    uint8_t state;              /* H_* */
    uint8_t lost;               /* a write found the entries another consumer's: stop watching */
    uint8_t gone;               /* dropped while writes were in flight: the last answer frees it */
    uint8_t reowning;           /* Redis lost its entries: re-adding them (writes wait meanwhile) */
    uint8_t ack_due;            /* delivered while re-owning: acknowledge once that answers */
    uint8_t again;              /* restored finished: its trace was submitted before */
    uint8_t has_link;           /* its event named the submitter's span (link) */
    mdl_link link;              /* … that span, for a monitor not restored from a checkpoint */
    size_t nids, cap;           /* entry ids held, slots allocated */
    char (*ids)[WK_STREAM_ID_MAX]; /* owned: the entries (duplicates included) */
    char workflow_id[];         /* the key, inline */
};

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
    mdl_monitor_free(h->done);
    ex_free(h->ids);
    ex_free(h);
}

/* Take h out of the map and free it; with `release`, its entries stay
 * pending (claimed again later) and stop being kept ours. A write still
 * in flight frees it when it answers. */
static void hold_drop(wk_worker *w, wk_hold *h, int release)
{
    HASH_DELETE(hh, w->holds, h);
    if (h->state == H_PARKED) w->durable.parked_now--;
    for (size_t i = 0; release && w->stream && i < h->nids; i++) wk_stream_release(w->stream, h->ids[i]);
    if (h->saves) {
        h->gone = 1;
        return;
    }
    hold_free(h);
}

/* ---- checkpoints ---- */

static void saved(void *arg, void *tag, wk_ckpt_result res);

/* Write m's state as h's checkpoint, kept until m's deadline plus a
 * margin; saved() gets the answer. */
static void ckpt_write(wk_worker *w, wk_hold *h, const mdl_monitor *m)
{
    uint8_t *blob;
    size_t len;
    if (h->reowning) return; /* written once the entries are ours again (reowned) */
    h->saves++;
    h->ckpt_version = m->version;
    if (wk_ckpt_encode(m, &blob, &len) != 0) {
        ex_error("worker", "workflow %s: out of memory encoding its checkpoint; not saved", m->key);
        saved(w, h, WK_CKPT_FAILED);
        return;
    }
    int64_t now = wk_now_ns(), deadline = mdl_monitor_deadline(m);
    int64_t left = !mdl_monitor_done(m) && deadline > now ? deadline - now : 0;
    if (left > CKPT_TTL_MAX_NS) left = CKPT_TTL_MAX_NS;
    wk_stream_ckpt_save(w->stream, m->key, h->ids, h->nids, blob, len, left + CKPT_MARGIN_NS, saved, h);
    ex_free(blob);
}

static void park(wk_worker *w, wk_hold *h);
static void export_trace(wk_worker *w, wk_hold *h);

/* Another consumer holds h's entries now: it goes on from the last
 * checkpoint written here, so this worker stops. */
static void lost(wk_worker *w, wk_hold *h)
{
    w->durable.lost++;
    ex_info("worker", "workflow %s: its stream entries were claimed by another consumer (this one looked idle); "
            "leaving the workflow to that one", h->workflow_id);
    if (h->state == H_WATCHING) h->lost = 1; /* its next poll or deadline ends the watch */
    else hold_drop(w, h, 1);
}

/* The last checkpoint write of a watched workflow is in Redis: the spans
 * that it holds as ended can go out now, since whoever resumes the
 * workflow from there builds them the same. Only when the monitor has not
 * moved since (else the next write's answer does it). */
static void ready_saved(wk_worker *w, wk_hold *h)
{
    wk_entry *e = wk_registry_find(&w->reg, h->workflow_id);
    if (e && e->mon->version == h->ckpt_version) wk_export_ready(w, e->mon);
}

/* A checkpoint write answered. Answers come in the order of the writes,
 * so in H_FINAL the last one is the final checkpoint's. */
static void saved(void *arg, void *tag, wk_ckpt_result res)
{
    wk_worker *w = arg;
    wk_hold *h = tag;
    h->saves--;
    if (h->gone) {
        if (!h->saves) hold_free(h);
        return;
    }
    if (w->stopping || h->lost) return;
    if (res == WK_CKPT_LOST) {
        lost(w, h);
        return;
    }
    if (h->state == H_WATCHING && res == WK_CKPT_SAVED && !h->saves && !h->reowning) {
        ready_saved(w, h);
        return;
    }
    if (h->state != H_FINAL || h->saves || h->reowning) return; /* a re-own writes again when it answers */
    if (res == WK_CKPT_SAVED) export_trace(w, h);
    else park(w, h);
}

/* ---- finished workflows ---- */

/* Write the final checkpoints that waited, if Redis is back. */
static void retry_parked(wk_worker *w)
{
    if (w->stopping || !w->durable.parked_now || !wk_stream_ready(w->stream)) return;
    ex_info("worker", "Redis is back: writing the final checkpoints of %zu finished workflows",
            w->durable.parked_now);
    wk_hold *h, *tmp;
    HASH_ITER(hh, w->holds, h, tmp) {
        if (h->state != H_PARKED || h->reowning) continue;
        h->state = H_FINAL;
        w->durable.parked_now--;
        ckpt_write(w, h, h->done); /* may park it again at once */
    }
    if (!w->durable.parked_now) uv_timer_stop(&w->park_timer);
}

static void park_cb(uv_timer_t *t) { retry_parked(t->data); }

/* The final checkpoint could not be written: hold the trace back. */
static void park(wk_worker *w, wk_hold *h)
{
    h->state = H_PARKED;
    w->durable.parked++;
    w->durable.parked_now++;
    char msg[WK_EVENT_KEY_MAX + 256];
    snprintf(msg, sizeof msg, "workflow %s finished, but its final checkpoint could not be written (Redis "
             "unavailable): its trace waits for it, so that a worker taking over its entries exports the same trace",
             h->workflow_id);
    wk_event_warn(w, msg); /* one per workflow in an outage: rate-limited */
    if (!uv_is_active((uv_handle_t *)&w->park_timer))
        uv_timer_start(&w->park_timer, park_cb, PARK_RETRY_MS, PARK_RETRY_MS);
}

/* A trace was not delivered. Its entries stay pending and it is exported
 * again every --claim-idle while the backend is away: the first failure
 * of each workflow is logged (at most UNDELIVERED_BURST a window), the
 * rest — repeats above all — are summed up once per window. */
static void warn_undelivered(wk_worker *w, const wk_hold *h)
{
    wk_durable_stats *d = &w->durable;
    int64_t now = ex_mono_ns();
    if (h->again) d->undelivered_repeats++;
    if (now - d->undelivered_window >= UNDELIVERED_WINDOW_NS) {
        if (d->undelivered_summed)
            ex_warn("worker", "%" PRIu64 " more traces were not delivered in the last %d s (%" PRIu64 " of all "
                    "attempts so far were retries of the same traces); their entries stay pending and each is "
                    "exported again every --claim-idle", d->undelivered_summed,
                    (int)(UNDELIVERED_WINDOW_NS / EX_NS_PER_SEC), d->undelivered_repeats);
        d->undelivered_window = now;
        d->undelivered_logged = 0;
        d->undelivered_summed = 0;
    }
    if (h->again || d->undelivered_logged >= UNDELIVERED_BURST) {
        d->undelivered_summed++;
        return;
    }
    d->undelivered_logged++;
    ex_warn("worker", "workflow %s: its trace was not delivered; its %zu stream entr%s stay%s pending and will "
            "be claimed and exported again from the checkpoint", h->workflow_id, h->nids,
            h->nids == 1 ? "y" : "ies", h->nids == 1 ? "s" : "");
}

/* h's trace was delivered: acknowledge its entries (the last one with
 * the DEL of its checkpoint) and forget it. */
static void ack_all(wk_worker *w, wk_hold *h)
{
    for (size_t i = 0; i < h->nids; i++)
        wk_stream_ack(w->stream, h->ids[i], i + 1 == h->nids ? h->workflow_id : NULL);
    hold_drop(w, h, 0);
}

/* The pipeline's verdict on h's trace: acknowledge its entries (and drop
 * the checkpoint with the last) once delivered; else leave them pending. */
static void export_done(void *arg, int delivered)
{
    wk_hold *h = arg;
    wk_worker *w = h->w;
    if (!w->stream) return; /* shutting down: h stays in the map, freed at exit */
    if (delivered && h->reowning) { /* its entries are being replaced: acknowledge the new ones */
        h->ack_due = 1;
        return;
    }
    if (!delivered) {
        w->durable.undelivered++;
        warn_undelivered(w, h);
        hold_drop(w, h, 1);
        return;
    }
    ack_all(w, h);
}

static void export_trace(wk_worker *w, wk_hold *h)
{
    if (!w->opt->export_at_end && mdl_count_sent(h->done)) {
        h->state = H_AWAIT; /* wd_partials_settled goes on */
        return;
    }
    mdl_monitor *m = h->done;
    h->done = NULL;
    h->state = H_EXPORTING;
    if (h->again) w->durable.exported_again++;
    int rc = wk_submit_trace(w, m, h->again, export_done, h);
    mdl_monitor_free(m);
    if (rc != 0) hold_drop(w, h, 1); /* logged; its entries stay pending */
}

void wd_finished(wk_worker *w, mdl_monitor *m)
{
    wk_hold *h = hold_find(w, m->key);
    if (!h || h->state != H_WATCHING) { /* cannot happen: every watched workflow has its hold */
        ex_error("worker", "workflow %s finished without its stream entries; exporting it anyway", m->key);
        wk_submit_trace(w, m, 0, NULL, NULL);
        mdl_monitor_free(m);
        return;
    }
    h->done = m;
    h->state = H_FINAL;
    ckpt_write(w, h, m);
}

void wd_changed(wk_worker *w, const mdl_monitor *m)
{
    wk_hold *h = hold_find(w, m->key);
    if (h && h->state == H_WATCHING && !h->lost) ckpt_write(w, h, m);
}

int wd_lost(wk_worker *w, const char *workflow_id)
{
    wk_hold *h = hold_find(w, workflow_id);
    if (!h || !h->lost) return 0;
    hold_drop(w, h, 1);
    return 1;
}

mdl_monitor *wd_done_monitor(wk_worker *w, const char *workflow_id)
{
    wk_hold *h = hold_find(w, workflow_id);
    return h ? h->done : NULL;
}

void wd_partials_settled(wk_worker *w, const char *workflow_id)
{
    wk_hold *h = hold_find(w, workflow_id);
    if (h && h->state == H_AWAIT && !w->stopping && w->stream) export_trace(w, h);
}

/* ---- Redis lost its data ---- */

/* h's entries are ours again: write the checkpoint Redis lost (the final
 * one of a finished workflow, which then goes out), or acknowledge a
 * trace delivered meanwhile. */
static void resume_writes(wk_worker *w, wk_hold *h)
{
    if (h->ack_due) {
        ack_all(w, h);
        return;
    }
    if (h->state == H_WATCHING) {
        wk_entry *e = wk_registry_find(&w->reg, h->workflow_id);
        if (e) ckpt_write(w, h, e->mon);
    } else if (h->state == H_FINAL || h->state == H_PARKED) {
        if (h->state == H_PARKED) w->durable.parked_now--;
        h->state = H_FINAL;
        ckpt_write(w, h, h->done);
    }
}

/* Replace h's entries that were gone by new_id. */
static void swap_ids(wk_hold *h, const char *new_id, const char *const *gone, size_t ngone)
{
    size_t kept = 0;
    for (size_t i = 0; i < h->nids; i++) {
        int lost_here = 0;
        for (size_t j = 0; j < ngone && !lost_here; j++) lost_here = strcmp(h->ids[i], gone[j]) == 0;
        if (!lost_here) memmove(h->ids[kept++], h->ids[i], WK_STREAM_ID_MAX);
    }
    h->nids = kept;
    if (hold_add_id(h, new_id) != 0) /* cannot happen: the array had room for the old ids */
        ex_error("worker", "workflow %s: out of memory keeping entry %s", h->workflow_id, new_id);
}

static void reowned(void *arg, void *tag, wk_reown_result res, const char *new_id, const char *const *gone,
                    size_t ngone)
{
    wk_worker *w = arg;
    wk_hold *h = tag;
    h->saves--;
    h->reowning = 0;
    if (h->gone) { /* dropped meanwhile (its export failed): leave the new entry to a later claim */
        if (res == WK_REOWN_NEW) wk_stream_release(w->stream, new_id);
        if (!h->saves) hold_free(h);
        return;
    }
    if (w->stopping) return;
    if (res == WK_REOWN_OTHER) {
        lost(w, h);
        return;
    }
    if (res == WK_REOWN_FAILED) { /* Redis went away again: the next loss found starts over */
        if (h->state == H_FINAL && !h->saves) park(w, h);
        return;
    }
    if (res == WK_REOWN_NEW) {
        swap_ids(h, new_id, gone, ngone);
        w->durable.reowned++;
        ex_info("worker", "workflow %s: Redis lost its stream entry; added it again as %s, owned by this worker, "
                "which goes on watching it", h->workflow_id, new_id);
    }
    resume_writes(w, h);
}

/* Redis lost entries (stream.h): put every workflow held here back. */
void wd_data_lost(void *arg, const char *why)
{
    wk_worker *w = arg;
    wk_hold *h, *tmp;
    size_t n = 0;
    char data[WK_EVENT_KEY_MAX * 6 + 256];
    if (w->stopping) return;
    HASH_ITER(hh, w->holds, h, tmp) {
        if (h->reowning || h->state == H_LOADING || (h->state == H_WATCHING && h->lost)) continue;
        int len = wk_event_render(w->source->name, h->workflow_id, h->submitted_ns, data, sizeof data);
        if (len < 0) continue; /* out of memory: its entries stay as they are */
        h->reowning = 1;
        h->saves++;
        n++;
        wk_stream_reown(w->stream, h->ids, h->nids, data, (size_t)len, reowned, h); /* may answer at once */
    }
    if (n) ex_info("worker", "checking the stream entries of %zu workflows after Redis lost data (%s)", n, why);
}

/* ---- stream entries ---- */

/* Watch h's workflow with m (restored from a checkpoint) or a new
 * monitor. A resumed entry (pending already) is not a new start. */
static void start_watch(wk_worker *w, wk_hold *h, mdl_monitor *m, int resumed)
{
    int64_t now = wk_now_ns();
    int fresh = m == NULL;
    if (resumed) w->durable.resumed++;
    else w->metrics.workflows_started++;
    if (m && mdl_monitor_done(m)) { /* its final checkpoint: export the same trace again */
        h->done = m;
        h->again = 1;
        export_trace(w, h);
        return;
    }
    if (!m && (m = wk_monitor_new(w, h->workflow_id, h->submitted_ns, now)) && h->has_link &&
        mdl_monitor_set_link(m, h->link.trace_id, h->link.span_id, h->link.flags))
        ex_warn("worker", "workflow %s: out of memory keeping its submitter's span; traced without the link",
                h->workflow_id);
    int rc = m ? wk_registry_add(&w->reg, m, now, NULL) : WK_REG_NOMEM;
    if (rc != 0) {
        mdl_monitor_free(m);
        w->metrics.events_rejected[WK_REJECT_CAPACITY]++;
        ex_warn("worker", "workflow %s: %s; its stream entries stay pending for a later claim", h->workflow_id,
                rc == WK_REG_FULL ? "--max-workflows workflows are watched already" : "out of memory");
        hold_drop(w, h, 1);
        return;
    }
    h->state = H_WATCHING;
    wk_watched(w, m, now);
    if (fresh) ckpt_write(w, h, m); /* its creation time starts the timeout, for whoever resumes it */
    else wk_export_ready(w, m);     /* read from Redis: its ended spans not known delivered go out (again) */
    wk_arm(w, now);
}

static void ckpt_loaded(void *arg, void *tag, int found, const uint8_t *blob, size_t len)
{
    wk_worker *w = arg;
    wk_hold *h = tag;
    if (w->stopping) return; /* h stays in the map, freed at exit */
    if (found < 0) {
        ex_warn("worker", "workflow %s: cannot read its checkpoint (Redis unavailable); its stream entries stay "
                "pending for a later claim", h->workflow_id);
        hold_drop(w, h, 1);
        return;
    }
    mdl_monitor *m = NULL;
    if (found) {
        char why[256];
        m = wk_ckpt_decode(blob, len, why, sizeof why);
        if (m && strcmp(m->key, h->workflow_id) != 0) {
            snprintf(why, sizeof why, "it holds workflow %.128s", m->key);
            mdl_monitor_free(m);
            m = NULL;
        }
        if (!m) {
            w->durable.ckpt_rejected++;
            ex_error("worker", "checkpoint %s%s unusable: %s; watching the workflow from the start again",
                     WK_CKPT_KEY_PREFIX, h->workflow_id, why);
        } else {
            w->durable.restored++;
            EX_LOG(mdl_monitor_done(m) ? EX_LOG_DEBUG : EX_LOG_INFO, "worker", /* done: the claim said it already */
                   "workflow %s resumed from its checkpoint (%u events, %s)", h->workflow_id, m->nevents,
                   mdl_monitor_done(m) ? "done: exporting again" : "running");
        }
    }
    start_watch(w, h, m, 1);
}

/* A malformed entry: to <stream>:dead with the reason. */
static void reject_entry(wk_worker *w, const char *id, const char *data, size_t len, wk_reject reason,
                         const char *why)
{
    char msg[600], warn[700];
    snprintf(msg, sizeof msg, "%s: %s", wk_reject_name(reason), data ? why : "the entry has no \"data\" field");
    w->metrics.events_rejected[reason]++;
    wk_stream_dead_letter(w->stream, id, data, len, msg);
    snprintf(warn, sizeof warn, "stream entry %s rejected (%.400s); moved to %s:dead", id, msg, w->opt->stream);
    wk_event_warn(w, warn);
}

/* A new hold for entry id of ev's workflow, in the map; NULL (entry left
 * pending, logged) at --max-workflows or without memory. */
static wk_hold *hold_new(wk_worker *w, const char *id, const wk_event *ev)
{
    wk_hold *h = NULL;
    char msg[300];
    size_t klen = strlen(ev->workflow_id);
    if (HASH_COUNT(w->holds) >= w->opt->sched.max_entries || !(h = ex_calloc(1, sizeof *h + klen + 1)) ||
        hold_add_id(h, id) != 0) {
        w->metrics.events_rejected[WK_REJECT_CAPACITY]++;
        snprintf(msg, sizeof msg, "stream entry %s (workflow %s) left pending: %s", id, ev->workflow_id,
                 h ? "out of memory" : "--max-workflows workflows are watched already");
        wk_event_warn(w, msg);
        hold_free(h);
        wk_stream_release(w->stream, id);
        return NULL;
    }
    h->w = w;
    h->submitted_ns = ev->submitted_ns;
    memcpy(h->workflow_id, ev->workflow_id, klen + 1);
    HASH_ADD_KEYPTR(hh, w->holds, h->workflow_id, klen, h);
    if (!h->hh.tbl) {
        ex_error("worker", "stream entry %s: out of memory; left pending", id);
        hold_free(h);
        wk_stream_release(w->stream, id);
        return NULL;
    }
    return h;
}

void wd_on_entry(void *arg, const char *id, const char *data, size_t len, int resumed)
{
    wk_worker *w = arg;
    wk_event ev;
    wk_reject reason = WK_REJECT_MISSING_FIELD;
    char why[512];
    w->metrics.events_received++;
    if (w->stopping) {
        wk_stream_release(w->stream, id); /* stays pending: read again after the restart */
        return;
    }
    if (!data || wk_event_parse(data, len, &ev, &reason, why, sizeof why) != 0 ||
        wk_event_accept(w, &ev, &reason, why, sizeof why) != 0) {
        reject_entry(w, id, data, len, reason, why);
        return;
    }
    wk_hold *h = hold_find(w, ev.workflow_id);
    if (h) { /* acknowledged together with the watched one, once its trace is delivered */
        w->metrics.events_duplicate++;
        if (hold_add_id(h, id) != 0) wk_stream_release(w->stream, id);
        ex_debug("worker", "workflow %s is already watched: entry %s joins it", ev.workflow_id, id);
        return;
    }
    if (!(h = hold_new(w, id, &ev))) return;
    h->has_link = wk_submitter_link(w, &ev, &h->link) > 0;
    if (!resumed) {
        start_watch(w, h, NULL, 0);
        return;
    }
    wk_stream_ckpt_load(w->stream, h->workflow_id, ckpt_loaded, h); /* may answer at once */
}

void wd_on_state(void *arg, int ready)
{
    wk_worker *w = arg;
    if (!ready) return;
    w->metrics.redis_connects++;
    retry_parked(w);
}

void wd_clear(wk_worker *w)
{
    wk_hold *h, *tmp;
    HASH_ITER(hh, w->holds, h, tmp) {
        HASH_DELETE(hh, w->holds, h);
        hold_free(h);
    }
}

/* ---- metrics ---- */

void wd_render_metrics(wk_worker *w, wk_text *t)
{
    wk_stream_stats st;
    wk_stream_get_stats(w->stream, &st);
    wk_prom_counter(t, "extrace_stream_entries_total",
                    "Stream entries delivered to the worker, resumed ones included.", st.entries_read);
    wk_prom_counter(t, "extrace_stream_entries_resumed_total",
                    "Entries that were pending already (own after a restart, or claimed).", st.entries_resumed);
    wk_prom_counter(t, "extrace_stream_entries_claimed_total",
                    "Entries taken over from idle consumers (XAUTOCLAIM).", st.entries_claimed);
    wk_prom_counter(t, "extrace_stream_acks_total", "Entries acknowledged after their trace was delivered.", st.acks);
    wk_prom_counter(t, "extrace_stream_acks_lost_total",
                    "Acknowledgements left to the consumer that had claimed the entry meanwhile.", st.acks_lost);
    wk_prom_counter(t, "extrace_stream_dead_letters_total", "Malformed entries moved to <stream>:dead.",
                    st.dead_letters);
    wk_prom_counter(t, "extrace_stream_ack_dropped_total",
                    "Acknowledgements dropped while Redis was down (left pending).", st.outbox_dropped);
    wk_prom_counter(t, "extrace_checkpoints_saved_total", "Monitor checkpoints written to Redis.", st.ckpt_saved);
    wk_prom_counter(t, "extrace_checkpoint_save_failures_total", "Checkpoint writes dropped or refused.",
                    st.ckpt_save_failed);
    wk_prom_counter(t, "extrace_checkpoints_restored_total", "Monitors resumed from a checkpoint.",
                    w->durable.restored);
    wk_prom_counter(t, "extrace_checkpoints_rejected_total", "Checkpoints that could not be decoded.",
                    w->durable.ckpt_rejected);
    wk_prom_counter(t, "extrace_traces_undelivered_total",
                    "Traces the export did not deliver (entries left pending).", w->durable.undelivered);
    wk_prom_counter(t, "extrace_workflows_lost_total",
                    "Workflows left to the consumer that claimed their entries (found when writing a checkpoint).",
                    w->durable.lost);
    exo_pipeline_stats ps = {0};
    if (w->pipeline) exo_pipeline_get_stats(w->pipeline, &ps);
    wk_prom_counter(t, "extrace_workflows_resumed_total",
                    "Workflows taken up again from a pending entry (after a restart, a claim, or an undelivered "
                    "export): not counted as started.", w->durable.resumed);
    wk_prom_counter(t, "extrace_traces_exported_again_total",
                    "Traces submitted again from their final checkpoint (not counted as finished again).",
                    w->durable.exported_again);
    wk_prom_counter(t, "extrace_spans_dropped_again_total",
                    "Spans of traces exported again that were dropped again (not counted in "
                    "extrace_spans_dropped_total a second time).", ps.spans_dropped_again);
    wk_prom_counter(t, "extrace_redis_data_lost_total",
                    "Times Redis was found without the group or without entries held here (restarted without its "
                    "data, stream or group deleted), told apart from a claim by another consumer.", st.data_lost);
    wk_prom_counter(t, "extrace_workflows_reowned_total",
                    "Workflows whose lost stream entry was added again and owned by this worker.", w->durable.reowned);
    wk_prom_counter(t, "extrace_stream_acks_gone_total",
                    "Acknowledgements with nothing to do: the entry was no longer in Redis.", st.acks_gone);
    wk_prom_counter(t, "extrace_final_checkpoints_parked_total",
                    "Finished workflows whose final checkpoint had to wait for Redis (their trace waited with it).",
                    w->durable.parked);
    wk_prom_gauge(t, "extrace_final_checkpoints_waiting",
                  "Finished workflows waiting for Redis to take their final checkpoint now.",
                  (double)w->durable.parked_now);
}
