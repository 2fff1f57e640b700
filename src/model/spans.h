/* spans.h — the spans of a monitor: one per node, the root, Queued.
 *
 * One trace per workflow: a root span from the announcement to the end, a
 * child span "Queued" for the wait between the announcement and the
 * source's start (only when that wait is positive), and one span per node,
 * child of its parent node's span (or of the root), all kind INTERNAL,
 * with derived ids (ids.h), so a second or restarted worker emits the same:
 *   trace id       = exo_trace_id_source(namespace, source, key)
 *                    (the seed: exo_trace_id(namespace, key))
 *   root span id   = exo_span_id(trace id, "Workflow", "")
 *   Queued span id = exo_span_id(trace id, "Queued", "")
 *   node span id   = exo_span_id(trace id, node key, node id)
 * A workflow whose start carried its submitter's span (monitor.h,
 * m->link) gets a span link from the root to it, or, with
 * link_as_parent, the submitter's trace id in place of the derived one
 * and its span as the root's (remote) parent.
 * Building reads the monitor only: the same monitor gives the same spans,
 * byte for byte. docs/monitor.md lists every attribute, event and status. */
#ifndef EXTRACE_MODEL_SPANS_H
#define EXTRACE_MODEL_SPANS_H
#include <stddef.h>
#include <stdint.h>

#include "model/monitor.h"
#include "otel/span.h"

#define MDL_ROOT_SPAN_KEY   "Workflow"
#define MDL_QUEUED_SPAN_NAME "Queued"
#define MDL_SEED_SOURCE     "seed"
#define MDL_KEY_ATTR        "extrace.workflow.key" /* the root's attribute holding the key, by default */

typedef struct mdl_build_opts {
    const char *ns;        /* service.namespace */
    const char *source;    /* the source's name; NULL or "seed": the seed's trace ids */
    const char *root_name; /* root span name when the source gave none; NULL: "Workflow" */
    const char *key_attr;  /* the root's first attribute, holding the key; NULL: MDL_KEY_ATTR (seed: workflowId) */
    int link_as_parent;    /* a monitor with a submitter's span (m->link): 0 — the root links to it;
                              1 — the root is its child, in its trace (every id derives from that trace id) */
} mdl_build_opts;

/* The trace id of a workflow of `source` (NULL or "seed": the seed's form). */
void mdl_trace_id(const char *ns, const char *source, const char *key, uint8_t out[16]);

/* Build the spans of done monitor m: node spans in order of appearance,
 * Queued (when there is one), then the root. 0 with an owned array in
 * *out of *n spans (free with mdl_spans_free); MDL_ERR_STATE if m is not
 * done; MDL_ERR_NOMEM (nothing left allocated). */
int mdl_build_spans(const mdl_monitor *m, const mdl_build_opts *o, exo_span ***out, size_t *n);
void mdl_spans_free(exo_span **spans, size_t n);

#endif
