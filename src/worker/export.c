/* export.c — a workflow's spans to the export pipeline: with
 * --export-spans as-they-end each span as soon as it is final (while the
 * workflow runs), the root and whatever was not delivered yet when the
 * workflow ends; with at-end every span when it ends. Which spans are
 * final is the model's (spans.h); this file does the hand-over and books
 * the outcome. */
#include "core/mem.h"

/* The waiting map allocates through our wrapper and leaves an item out
 * (hh.tbl == NULL) when that fails. */
#define uthash_malloc(sz)    ex_malloc(sz)
#define uthash_free(ptr, sz) ex_free(ptr)
#define HASH_NONFATAL_OOM 1

#include <inttypes.h>
#include <string.h>
#include <uthash.h>

#include "core/log.h"
#include "model/spans.h"
#include "worker/worker_int.h"

/* One export of a running workflow's final spans, until the pipeline's verdict. */
typedef struct wk_partial {
    wk_worker *w;        /* not owned */
    mdl_span_ref *refs;  /* owned: which spans went out */
    size_t n;
    char key[];          /* the workflow's key, inline */
} wk_partial;

/* A finished workflow (pub/sub mode) whose root waits for the verdict on
 * spans it exported while it ran. */
struct wk_waiting {
    UT_hash_handle hh; /* in wk_worker.waiting, keyed by the monitor's key */
    mdl_monitor *m;    /* owned */
};

static mdl_build_opts build_opts(const wk_worker *w)
{
    const wk_source *src = w->source;
    return (mdl_build_opts){w->ns, src->name, src->profile ? src->profile->root_name : NULL, src->key_attr,
                            w->opt->parent_from_traceparent};
}

/* The monitor of workflow key here now (watched, or finished and waiting
 * for its final checkpoint), or NULL. */
static mdl_monitor *monitor_of(wk_worker *w, const char *key, wk_waiting **waiting)
{
    wk_entry *e = wk_registry_find(&w->reg, key);
    *waiting = NULL;
    if (e) return e->mon;
    if (w->opt->stream) return wd_done_monitor(w, key);
    HASH_FIND_STR(w->waiting, key, *waiting);
    return *waiting ? (*waiting)->m : NULL;
}

/* Submit finished m's trace and free it (pub/sub mode). */
static void submit_final(wk_worker *w, mdl_monitor *m)
{
    wk_submit_trace(w, m, 0, NULL, NULL);
    mdl_monitor_free(m);
}

/* The last verdict the root of finished m waited for came: it goes out now. */
static void settled(wk_worker *w, mdl_monitor *m, wk_waiting *waiting)
{
    if (!waiting) {
        wd_partials_settled(w, m->key); /* stream mode: its hold exports it */
        return;
    }
    HASH_DELETE(hh, w->waiting, waiting);
    ex_free(waiting);
    submit_final(w, m);
}

/* The pipeline's verdict: delivered spans are not sent again (a later
 * checkpoint records it); undelivered ones go out again with the root. A
 * monitor already gone (exported, lost to another consumer) needs nothing. */
static void partial_done(void *arg, int delivered)
{
    wk_partial *p = arg;
    wk_worker *w = p->w;
    wk_waiting *waiting;
    w->metrics.partial_exports[delivered ? 0 : 1]++;
    mdl_monitor *m = monitor_of(w, p->key, &waiting);
    if (m) {
        mdl_build_opts bo = build_opts(w);
        mdl_settle_spans(m, &bo, p->refs, p->n, delivered);
        if (mdl_monitor_done(m) && !mdl_count_sent(m)) settled(w, m, waiting);
    }
    ex_free(p->refs);
    ex_free(p);
}

void wk_export_ready(wk_worker *w, mdl_monitor *m)
{
    if (w->opt->export_at_end || !w->pipeline || w->stopping || mdl_monitor_done(m)) return;
    if (!mdl_count_select(m, MDL_SEL_READY)) return;
    mdl_build_opts bo = build_opts(w);
    exo_span **spans;
    mdl_span_ref *refs;
    size_t n, klen = strlen(m->key);
    if (mdl_take_ready_spans(m, &bo, &spans, &refs, &n) != 0) {
        ex_debug("worker", "workflow %s: out of memory building its ended spans; they go out with the root", m->key);
        return;
    }
    wk_partial *p = ex_malloc(sizeof *p + klen + 1);
    if (!p) {
        mdl_settle_spans(m, &bo, refs, n, 0); /* FAILED: they go out with the root */
        mdl_spans_free(spans, n);
        ex_free(refs);
        return;
    }
    p->w = w;
    p->refs = refs;
    p->n = n;
    memcpy(p->key, m->key, klen + 1);
    w->metrics.spans_submitted[0] += n;
    ex_debug("worker", "workflow %s: exporting %zu span%s that ended", m->key, n, n == 1 ? "" : "s");
    exo_pipeline_submit(w->pipeline, spans, n, partial_done, p);
    ex_free(spans); /* the pipeline owns the spans, not the array */
}

static wk_result result_of(const mdl_monitor *m)
{
    if (m->root.end == MDL_END_OK) return WK_RESULT_OK;
    if (m->root.end == MDL_END_TIMEOUT) return WK_RESULT_TIMEOUT;
    return WK_RESULT_ERROR;
}

int wk_submit_trace(wk_worker *w, const mdl_monitor *m, int again, exo_submit_cb done_cb, void *arg)
{
    wk_result res = result_of(m);
    if (!again) w->metrics.workflows_finished[res]++;
    exo_span **spans = NULL;
    size_t n = 0;
    mdl_build_opts bo = build_opts(w);
    int rc = mdl_build_select(m, &bo, w->opt->export_at_end ? MDL_SEL_ALL : MDL_SEL_OWED, &spans, NULL, &n);
    if (rc != 0) {
        ex_error("worker", "workflow %s: could not build its spans (error %d, out of memory?); trace lost%s",
                 m->key, rc, w->stream ? " here (its stream entries stay pending)" : "");
        return -1;
    }
    size_t resent = w->opt->export_at_end ? 0 : mdl_count_resent(m);
    w->metrics.spans_submitted[1] += n;
    w->metrics.spans_resent += resent;
    ex_debug("worker", "workflow %s finished (%s) after %" PRIu32 " polls: exporting %zu spans (%zu sent before)",
             m->key, wk_result_name(res), m->polls, n, resent);
    exo_pipeline_submit_again(w->pipeline, spans, n, done_cb, arg, again);
    ex_free(spans); /* the pipeline owns the spans, not the array */
    return 0;
}

void wk_export_finished(wk_worker *w, mdl_monitor *m)
{
    wk_waiting *x = NULL;
    if (!w->stopping && !w->opt->export_at_end && mdl_count_sent(m) && (x = ex_malloc(sizeof *x))) {
        x->m = m;
        HASH_ADD_KEYPTR(hh, w->waiting, m->key, strlen(m->key), x);
        if (x->hh.tbl) return; /* partial_done sends it */
        ex_free(x);
    }
    submit_final(w, m); /* nothing on its way (or no memory to wait: a copy may go twice) */
}

void wk_export_stop(wk_worker *w)
{
    wk_waiting *x, *tmp;
    HASH_ITER(hh, w->waiting, x, tmp) {
        HASH_DELETE(hh, w->waiting, x);
        submit_final(w, x->m);
        ex_free(x);
    }
}
