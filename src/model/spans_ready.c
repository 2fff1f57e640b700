/* spans_ready.c — which spans of a running workflow are final and not yet
 * exported, and what became of those that were (spans.h). */
#include <string.h>

#include "core/mem.h"
#include "model/spans.h"
#include "otel/ids.h"

/* The export state of the span ref names, or NULL when m has no such span. */
static uint8_t *state_of(mdl_monitor *m, uint32_t node)
{
    if (node == MDL_REF_QUEUED) return &m->queued_exported;
    return node < m->nnodes ? &m->nodes[node].exported : NULL;
}

/* The span id of node i (or Queued) of m. */
static void span_id_of(const mdl_monitor *m, const uint8_t trace[16], uint32_t node, uint8_t out[8])
{
    if (node == MDL_REF_QUEUED) exo_span_id(trace, MDL_QUEUED_SPAN_NAME, "", out);
    else exo_span_id(trace, mdl_node_key(&m->nodes[node]), mdl_node_id(&m->nodes[node]), out);
}

int mdl_take_ready_spans(mdl_monitor *m, const mdl_build_opts *o, exo_span ***out, mdl_span_ref **refs, size_t *n)
{
    uint32_t *which = NULL;
    *refs = NULL;
    int rc = mdl_build_select(m, o, MDL_SEL_READY, out, &which, n);
    if (rc || !*n) return rc;
    mdl_span_ref *r = ex_malloc(*n * sizeof *r);
    if (!r) {
        mdl_spans_free(*out, *n);
        ex_free(which);
        *out = NULL;
        *n = 0;
        return MDL_ERR_NOMEM;
    }
    for (size_t i = 0; i < *n; i++) {
        r[i].node = which[i];
        memcpy(r[i].span_id, (*out)[i]->span_id, 8);
        *state_of(m, which[i]) = MDL_EXP_SENT;
    }
    ex_free(which);
    *refs = r;
    return 0;
}

void mdl_settle_spans(mdl_monitor *m, const mdl_build_opts *o, const mdl_span_ref *refs, size_t n, int delivered)
{
    uint8_t trace[16], id[8];
    mdl_monitor_trace_id(m, o, trace);
    for (size_t i = 0; i < n; i++) {
        uint8_t *st = state_of(m, refs[i].node);
        if (!st || *st != MDL_EXP_SENT) continue;
        span_id_of(m, trace, refs[i].node, id);
        if (memcmp(id, refs[i].span_id, 8) != 0) continue; /* another monitor of this key: not that span */
        *st = delivered ? MDL_EXP_DELIVERED : MDL_EXP_FAILED;
    }
}

size_t mdl_count_resent(const mdl_monitor *m)
{
    size_t k = m->queued_exported == MDL_EXP_SENT || m->queued_exported == MDL_EXP_FAILED;
    for (size_t i = 0; i < m->nnodes; i++)
        k += m->nodes[i].exported == MDL_EXP_SENT || m->nodes[i].exported == MDL_EXP_FAILED;
    return k;
}

size_t mdl_count_sent(const mdl_monitor *m)
{
    size_t k = m->queued_exported == MDL_EXP_SENT;
    for (size_t i = 0; i < m->nnodes; i++) k += m->nodes[i].exported == MDL_EXP_SENT;
    return k;
}
