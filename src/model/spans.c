/* spans.c — a done monitor's spans. */
#include "model/spans.h"

#include <string.h>

#include "core/iso8601.h"
#include "core/mem.h"
#include "model/attrs.h"
#include "otel/ids.h"

void mdl_trace_id(const char *ns, const char *source, const char *key, uint8_t out[16])
{
    if (source && strcmp(source, MDL_SEED_SOURCE) == 0) source = NULL;
    exo_trace_id_source(ns, source, key, out);
}

/* Status message of an ERROR span that the source gave no message for. */
static const char *fallback_message(mdl_end end, int root)
{
    switch (end) {
    case MDL_END_FAILED:
        return root ? "workflow failed without an error message" : "stage failed without an error message";
    case MDL_END_CANCELLED: return root ? "workflow cancelled" : "stage cancelled";
    case MDL_END_NODE_OPEN: return "stage still open when workflow ended";
    case MDL_END_TIMEOUT: return "Monitor timed out";
    case MDL_END_NOT_FOUND: return "workflow not found by API";
    default: return NULL;
    }
}

/* Attribute error.type of an ERROR span; NULL for the others. */
static const char *error_type(mdl_end end, int root)
{
    switch (end) {
    case MDL_END_FAILED: return root ? "workflow_failed" : "stage_failed";
    case MDL_END_CANCELLED: return "cancelled";
    case MDL_END_NODE_OPEN: return "stage_open";
    case MDL_END_TIMEOUT: return "timeout";
    case MDL_END_NOT_FOUND: return "not_found";
    default: return NULL;
    }
}

static int add_time_attr(exo_attrs *a, const char *key, int64_t ns)
{
    char iso[EX_ISO_LEN + 1];
    return exo_attrs_add_str(a, key, ex_iso_format(ns, iso));
}

/* One bound of an event's observation window, twice: as unix ns (exact)
 * and in ISO form (100 ns ticks), rounded outwards so it still brackets. */
static int add_bound_attrs(exo_attrs *a, const char *key_iso, const char *key_ns, int64_t ns, int upper)
{
    int64_t iso_ns = ns;
    if (upper && ns % 100 != 0 && ns <= INT64_MAX - 100) iso_ns = ns + (100 - ns % 100) % 100;
    if (add_time_attr(a, key_iso, iso_ns)) return -1;
    return exo_attrs_add_int(a, key_ns, ns);
}

/* Status, status message and error.type of an ended span. */
static int set_end(exo_span *sp, const mdl_node *n, int root)
{
    mdl_end end = (mdl_end)n->end;
    if (end == MDL_END_OK) return exo_span_set_status(sp, EXO_STATUS_OK, NULL);
    const char *type = error_type(end, root);
    if (!type) return 0; /* open or skipped: left UNSET */
    const char *own = end == MDL_END_FAILED || end == MDL_END_CANCELLED ? mdl_node_error(n) : NULL;
    if (exo_span_set_status(sp, EXO_STATUS_ERROR, own ? own : fallback_message(end, root))) return -1;
    return exo_attrs_add_str(&sp->attrs, "error.type", type);
}

static int add_status_events(exo_span *sp, const mdl_monitor *m, const mdl_node *n)
{
    for (size_t i = 0; i < n->nevents; i++) {
        const mdl_event *e = &n->events[i];
        exo_event *ev = exo_span_add_event(sp, e->time_ns, mdl_monitor_word(m, e->word));
        if (!ev) return -1;
        if (add_bound_attrs(&ev->attrs, "extrace.observed_before", "extrace.observed_before_unix_nano", e->before_ns,
                            1))
            return -1;
        if (e->after_ns != MDL_NO_TIME && add_bound_attrs(&ev->attrs, "extrace.observed_after",
                                                          "extrace.observed_after_unix_nano", e->after_ns, 0))
            return -1;
        if (exo_attrs_add_str(&ev->attrs, "extrace.time_source", e->source == MDL_SRC_SOURCE ? "source" : "poll"))
            return -1;
    }
    return 0;
}

/* Attributes every span carries: its own, then the source's start and end. */
static int common_attrs(exo_span *sp, const mdl_node *n)
{
    mdl_attr_refs refs = {mdl_node_key(n), mdl_node_id(n)};
    int rc = mdl_attrs_apply(n->attrs, &refs, &sp->attrs);
    if (!rc && n->start_ns != MDL_NO_TIME) rc = add_time_attr(&sp->attrs, "startTime", n->start_ns);
    if (!rc && n->end_known) rc = add_time_attr(&sp->attrs, "endTime", n->end_ns);
    return rc;
}

/* A node's span starts at its start; without one, at its first event, else at its end. */
static int64_t node_start(const mdl_node *n)
{
    if (n->start_ns != MDL_NO_TIME) return n->start_ns;
    return n->nevents ? n->events[0].time_ns : n->end_ns;
}

static exo_span *build_node(const mdl_monitor *m, const mdl_node *n, const uint8_t trace[16],
                            const uint8_t (*ids)[8], const uint8_t root_id[8])
{
    exo_span *sp = exo_span_new(mdl_node_name(n), EXO_KIND_INTERNAL);
    if (!sp) return NULL;
    memcpy(sp->trace_id, trace, 16);
    memcpy(sp->span_id, ids[n - m->nodes], 8);
    memcpy(sp->parent_span_id, n->parent == MDL_ROOT ? root_id : ids[n->parent], 8);
    sp->has_parent = 1;
    sp->start_ns = node_start(n);
    sp->end_ns = n->end_ns > sp->start_ns ? n->end_ns : sp->start_ns;
    int rc = common_attrs(sp, n);
    if (!rc && mdl_node_kind(n)[0]) rc = exo_attrs_add_str(&sp->attrs, "extrace.node.kind", mdl_node_kind(n));
    if (!rc) rc = add_status_events(sp, m, n);
    if (!rc) rc = set_end(sp, n, 0);
    if (rc) {
        exo_span_free(sp);
        return NULL;
    }
    return sp;
}

/* 1 when the workflow waited between its announcement and the source's start. */
static int has_queue(const mdl_monitor *m)
{
    return m->root.start_ns != MDL_NO_TIME && m->root.start_ns > m->submitted_ns;
}

static exo_span *build_queued(const mdl_monitor *m, const uint8_t trace[16], const uint8_t root_id[8])
{
    exo_span *sp = exo_span_new(MDL_QUEUED_SPAN_NAME, EXO_KIND_INTERNAL);
    if (!sp) return NULL;
    memcpy(sp->trace_id, trace, 16);
    exo_span_id(trace, MDL_QUEUED_SPAN_NAME, "", sp->span_id);
    memcpy(sp->parent_span_id, root_id, 8);
    sp->has_parent = 1;
    sp->start_ns = m->submitted_ns;
    sp->end_ns = m->root.start_ns; /* status left UNSET: a wait, neither success nor failure */
    return sp;
}

static const char *result_of(mdl_end end)
{
    switch (end) {
    case MDL_END_OK: return "ok";
    case MDL_END_TIMEOUT: return "timeout";
    case MDL_END_CANCELLED: return "cancelled";
    case MDL_END_SKIPPED: return "skipped";
    default: return "error";
    }
}

static int root_attrs(exo_span *sp, const mdl_monitor *m, const mdl_build_opts *o)
{
    int rc = exo_attrs_add_str(&sp->attrs, o->key_attr ? o->key_attr : MDL_KEY_ATTR, m->key);
    if (!rc) rc = common_attrs(sp, &m->root);
    if (!rc) rc = exo_attrs_add_str(&sp->attrs, "extrace.result", result_of((mdl_end)m->root.end));
    if (!rc) rc = exo_attrs_add_int(&sp->attrs, "extrace.polls", m->polls);
    if (!rc) rc = exo_attrs_add_int(&sp->attrs, "extrace.poll_errors", m->poll_errors);
    if (!rc && m->events_dropped) rc = exo_attrs_add_int(&sp->attrs, "extrace.events_dropped", m->events_dropped);
    if (!rc && m->nodes_dropped) rc = exo_attrs_add_int(&sp->attrs, "extrace.stages_dropped", m->nodes_dropped);
    return rc;
}

static exo_span *build_root(const mdl_monitor *m, const mdl_build_opts *o, const uint8_t trace[16],
                            const uint8_t root_id[8])
{
    const char *name = mdl_node_name(&m->root); /* "" unless the source named it */
    if (!name[0]) name = o->root_name ? o->root_name : MDL_ROOT_SPAN_KEY;
    exo_span *sp = exo_span_new(name, EXO_KIND_INTERNAL);
    if (!sp) return NULL;
    memcpy(sp->trace_id, trace, 16);
    memcpy(sp->span_id, root_id, 8);
    /* From the announcement (the Queued child covers the wait), or from the
     * source's start when its clock puts that earlier. */
    int64_t start = m->root.start_ns;
    sp->start_ns = start != MDL_NO_TIME && start < m->submitted_ns ? start : m->submitted_ns;
    sp->end_ns = m->root.end_ns > sp->start_ns ? m->root.end_ns : sp->start_ns;
    int rc = root_attrs(sp, m, o);
    const mdl_link *link = mdl_monitor_link(m);
    if (!rc && link && o->link_as_parent) {
        sp->has_parent = 1;
        sp->parent_remote = 1;
        memcpy(sp->parent_span_id, link->span_id, 8);
    } else if (!rc && link &&
               !exo_span_add_link(sp, link->trace_id, link->span_id,
                                  link->flags | EXO_FLAG_HAS_IS_REMOTE | EXO_FLAG_IS_REMOTE))
        rc = -1;
    if (!rc && !exo_span_add_event(sp, m->submitted_ns, "Submitted")) rc = -1;
    if (!rc) rc = add_status_events(sp, m, &m->root);
    if (!rc) rc = set_end(sp, &m->root, 1);
    if (rc) {
        exo_span_free(sp);
        return NULL;
    }
    return sp;
}

void mdl_monitor_trace_id(const mdl_monitor *m, const mdl_build_opts *o, uint8_t out[16])
{
    const mdl_link *link = mdl_monitor_link(m);
    if (link && o->link_as_parent) memcpy(out, link->trace_id, 16);
    else mdl_trace_id(o->ns, o->source, m->key, out);
}

/* 1 when selection sel takes span `st` (an mdl_export_state) of a final span. */
static int takes(mdl_span_sel sel, uint8_t st)
{
    if (sel == MDL_SEL_ALL) return 1;
    if (sel == MDL_SEL_READY) return st == MDL_EXP_NONE;
    return st != MDL_EXP_DELIVERED; /* MDL_SEL_OWED */
}

size_t mdl_count_select(const mdl_monitor *m, mdl_span_sel sel)
{
    size_t k = 0;
    for (size_t i = 0; i < m->nnodes; i++)
        k += (sel != MDL_SEL_READY || m->nodes[i].end != MDL_END_OPEN) && takes(sel, m->nodes[i].exported);
    k += has_queue(m) && takes(sel, m->queued_exported);
    return k + (sel != MDL_SEL_READY);
}

int mdl_build_select(const mdl_monitor *m, const mdl_build_opts *o, mdl_span_sel sel, exo_span ***out,
                     uint32_t **which, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (which) *which = NULL;
    if (sel != MDL_SEL_READY && !mdl_monitor_done(m)) return MDL_ERR_STATE;
    size_t total = mdl_count_select(m, sel), k = 0;
    if (!total) return 0;
    exo_span **spans = ex_calloc(total, sizeof *spans);
    uint32_t *idx = which ? ex_malloc(total * sizeof *idx) : NULL;
    uint8_t(*ids)[8] = ex_malloc((m->nnodes ? m->nnodes : 1) * sizeof *ids);
    uint8_t trace[16], root_id[8];
    if (!spans || !ids || (which && !idx)) goto nomem;
    mdl_monitor_trace_id(m, o, trace);
    exo_span_id(trace, MDL_ROOT_SPAN_KEY, "", root_id);
    for (size_t i = 0; i < m->nnodes; i++) exo_span_id(trace, mdl_node_key(&m->nodes[i]), mdl_node_id(&m->nodes[i]), ids[i]);
    for (size_t i = 0; i < m->nnodes; i++) {
        const mdl_node *nd = &m->nodes[i];
        if ((sel == MDL_SEL_READY && nd->end == MDL_END_OPEN) || !takes(sel, nd->exported)) continue;
        if (idx) idx[k] = (uint32_t)i;
        if (!(spans[k++] = build_node(m, nd, trace, (const uint8_t(*)[8])ids, root_id))) goto nomem;
    }
    if (has_queue(m) && takes(sel, m->queued_exported)) {
        if (idx) idx[k] = MDL_REF_QUEUED;
        if (!(spans[k++] = build_queued(m, trace, root_id))) goto nomem;
    }
    if (sel != MDL_SEL_READY) {
        if (idx) idx[k] = MDL_ROOT;
        if (!(spans[k++] = build_root(m, o, trace, root_id))) goto nomem;
    }
    ex_free(ids);
    *out = spans;
    *n = total;
    if (which) *which = idx;
    return 0;
nomem:
    ex_free(ids);
    ex_free(idx);
    mdl_spans_free(spans, total);
    return MDL_ERR_NOMEM;
}

int mdl_build_spans(const mdl_monitor *m, const mdl_build_opts *o, exo_span ***out, size_t *n)
{
    return mdl_build_select(m, o, MDL_SEL_ALL, out, NULL, n);
}

void mdl_spans_free(exo_span **spans, size_t n)
{
    if (!spans) return;
    for (size_t i = 0; i < n; i++) exo_span_free(spans[i]);
    ex_free(spans);
}
