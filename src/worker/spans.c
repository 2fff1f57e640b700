#include "worker/spans.h"

#include <string.h>

#include "core/iso8601.h"
#include "core/mem.h"
#include "otel/ids.h"

/* Status message of an ERROR span that the API gave no message for. */
static const char *fallback_message(wm_end end, int root)
{
    switch (end) {
    case WM_END_FAILED:
        return root ? "workflow failed without an error message" : "stage failed without an error message";
    case WM_END_STAGE_OPEN: return "stage still open when workflow ended";
    case WM_END_TIMEOUT: return "Monitor timed out";
    case WM_END_NOT_FOUND: return "workflow not found by API";
    default: return NULL;
    }
}

/* Attribute error.type of an ERROR span; NULL for the others. */
static const char *error_type(wm_end end, int root)
{
    switch (end) {
    case WM_END_FAILED: return root ? "workflow_failed" : "stage_failed";
    case WM_END_STAGE_OPEN: return "stage_open";
    case WM_END_TIMEOUT: return "timeout";
    case WM_END_NOT_FOUND: return "not_found";
    default: return NULL;
    }
}

/* The end time is the API's own (attribute endTime) only for these. */
static int end_from_source(wm_end end) { return end == WM_END_OK || end == WM_END_FAILED; }

static int add_time_attr(exo_attrs *a, const char *key, int64_t ns)
{
    char iso[EX_ISO_LEN + 1];
    return exo_attrs_add_str(a, key, ex_iso_format(ns, iso));
}

/* One bound of an event's observation window, twice: as unix ns (an int a
 * query can compare with the event's time exactly) and in ISO form, which
 * holds 100 ns ticks only and is therefore rounded outwards (the lower
 * bound down, the upper bound up) so that it still brackets the event. */
static int add_bound_attrs(exo_attrs *a, const char *key_iso, const char *key_ns, int64_t ns, int upper)
{
    int64_t iso_ns = ns;
    if (upper && ns % 100 != 0 && ns <= INT64_MAX - 100) iso_ns = ns + (100 - ns % 100) % 100;
    if (add_time_attr(a, key_iso, iso_ns)) return -1;
    return exo_attrs_add_int(a, key_ns, ns);
}

/* Status, status message and error.type of an ended span. */
static int set_end(exo_span *sp, wm_end end, const char *api_message, int root)
{
    if (end == WM_END_OK) return exo_span_set_status(sp, EXO_STATUS_OK, NULL);
    const char *type = error_type(end, root);
    if (!type) return 0; /* not ended: left UNSET */
    const char *msg = end == WM_END_FAILED && api_message ? api_message : fallback_message(end, root);
    if (exo_span_set_status(sp, EXO_STATUS_ERROR, msg)) return -1;
    return exo_attrs_add_str(&sp->attrs, "error.type", type);
}

/* The status events of one span (owner), in order of observation. */
static int add_status_events(exo_span *sp, const wm_monitor *m, uint8_t owner)
{
    for (size_t i = 0; i < m->nevents; i++) {
        const wm_event *e = &m->events[i];
        if (e->owner != owner) continue;
        exo_event *ev = exo_span_add_event(sp, e->time_ns, wm_status_name(e->status));
        if (!ev) return -1;
        if (add_bound_attrs(&ev->attrs, "extrace.observed_before", "extrace.observed_before_unix_nano", e->before_ns,
                            1))
            return -1;
        if (e->after_ns != WM_NO_TIME && add_bound_attrs(&ev->attrs, "extrace.observed_after",
                                                         "extrace.observed_after_unix_nano", e->after_ns, 0))
            return -1;
        const char *src = e->source == WM_SRC_SOURCE ? "source" : "poll";
        if (exo_attrs_add_str(&ev->attrs, "extrace.time_source", src)) return -1;
    }
    return 0;
}

static exo_span *build_stage(const wm_monitor *m, uint8_t i, const uint8_t trace[16], const uint8_t root_id[8])
{
    const wm_stage *st = &m->stages[i];
    exo_span *sp = exo_span_new(wm_stage_type(st), EXO_KIND_INTERNAL);
    if (!sp) return NULL;
    memcpy(sp->trace_id, trace, 16);
    exo_span_id(trace, wm_stage_type(st), wm_stage_id(st), sp->span_id);
    memcpy(sp->parent_span_id, root_id, 8);
    sp->has_parent = 1;
    sp->start_ns = st->start_ns;
    sp->end_ns = st->end_ns > st->start_ns ? st->end_ns : st->start_ns;
    int rc = exo_attrs_add_str(&sp->attrs, "type", wm_stage_type(st));
    if (!rc) rc = exo_attrs_add_str(&sp->attrs, "id", wm_stage_id(st));
    if (!rc) rc = add_time_attr(&sp->attrs, "startTime", st->start_ns);
    if (!rc && end_from_source(st->end)) rc = add_time_attr(&sp->attrs, "endTime", st->end_ns);
    if (!rc) rc = add_status_events(sp, m, i);
    if (!rc) rc = set_end(sp, st->end, st->error, 0);
    if (rc) {
        exo_span_free(sp);
        return NULL;
    }
    return sp;
}

/* 1 when the workflow waited between SubmittedAt and the API's start. */
static int has_queue(const wm_monitor *m) { return m->start_ns != WM_NO_TIME && m->start_ns > m->submitted_ns; }

/* Child span "Queued": from SubmittedAt to the API's workflowStartTime. */
static exo_span *build_queued(const wm_monitor *m, const uint8_t trace[16], const uint8_t root_id[8])
{
    exo_span *sp = exo_span_new(WM_QUEUED_SPAN_NAME, EXO_KIND_INTERNAL);
    if (!sp) return NULL;
    memcpy(sp->trace_id, trace, 16);
    exo_span_id(trace, WM_QUEUED_SPAN_NAME, "", sp->span_id);
    memcpy(sp->parent_span_id, root_id, 8);
    sp->has_parent = 1;
    sp->start_ns = m->submitted_ns;
    sp->end_ns = m->start_ns; /* status left UNSET: a wait, neither success nor failure */
    return sp;
}

static int root_attrs(exo_span *sp, const wm_monitor *m)
{
    const char *result = m->end == WM_END_OK ? "ok" : m->end == WM_END_TIMEOUT ? "timeout" : "error";
    int rc = exo_attrs_add_str(&sp->attrs, "workflowId", m->workflow_id);
    if (!rc && m->start_ns != WM_NO_TIME) rc = add_time_attr(&sp->attrs, "startTime", m->start_ns);
    if (!rc && end_from_source(m->end)) rc = add_time_attr(&sp->attrs, "endTime", m->end_ns);
    if (!rc) rc = exo_attrs_add_str(&sp->attrs, "extrace.result", result);
    if (!rc) rc = exo_attrs_add_int(&sp->attrs, "extrace.polls", m->polls);
    if (!rc) rc = exo_attrs_add_int(&sp->attrs, "extrace.poll_errors", m->poll_errors);
    if (!rc && m->events_dropped) rc = exo_attrs_add_int(&sp->attrs, "extrace.events_dropped", m->events_dropped);
    if (!rc && m->stages_dropped) rc = exo_attrs_add_int(&sp->attrs, "extrace.stages_dropped", m->stages_dropped);
    return rc;
}

static exo_span *build_root(const wm_monitor *m, const uint8_t trace[16], const uint8_t root_id[8])
{
    exo_span *sp = exo_span_new(WM_ROOT_SPAN_NAME, EXO_KIND_INTERNAL);
    if (!sp) return NULL;
    memcpy(sp->trace_id, trace, 16);
    memcpy(sp->span_id, root_id, 8);
    /* From submission (the Queued child covers the wait), or from the
     * API's start when its clock puts that earlier; never polled
     * successfully: SubmittedAt is all we know. */
    sp->start_ns = m->start_ns != WM_NO_TIME && m->start_ns < m->submitted_ns ? m->start_ns : m->submitted_ns;
    sp->end_ns = m->end_ns > sp->start_ns ? m->end_ns : sp->start_ns;
    int rc = root_attrs(sp, m);
    if (!rc && !exo_span_add_event(sp, m->submitted_ns, "Submitted")) rc = -1;
    if (!rc) rc = add_status_events(sp, m, WM_OWNER_WORKFLOW);
    if (!rc) rc = set_end(sp, m->end, m->error, 1);
    if (rc) {
        exo_span_free(sp);
        return NULL;
    }
    return sp;
}

int wm_build_spans(const wm_monitor *m, const char *service_namespace, exo_span ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!wm_monitor_done(m)) return WM_ERR_STATE;
    size_t nq = (size_t)has_queue(m), total = nq + m->nstages + 1;
    exo_span **spans = ex_calloc(total, sizeof *spans);
    if (!spans) return WM_ERR_NOMEM;
    uint8_t trace[16], root_id[8];
    exo_trace_id(service_namespace, m->workflow_id, trace);
    exo_span_id(trace, WM_ROOT_SPAN_NAME, "", root_id);
    for (uint8_t i = 0; i < m->nstages; i++) {
        if (!(spans[i] = build_stage(m, i, trace, root_id))) goto nomem;
    }
    if (nq && !(spans[m->nstages] = build_queued(m, trace, root_id))) goto nomem;
    if (!(spans[total - 1] = build_root(m, trace, root_id))) goto nomem;
    *out = spans;
    *n = total;
    return 0;
nomem:
    wm_spans_free(spans, total);
    return WM_ERR_NOMEM;
}

void wm_spans_free(exo_span **spans, size_t n)
{
    if (!spans) return;
    for (size_t i = 0; i < n; i++) exo_span_free(spans[i]);
    ex_free(spans);
}
