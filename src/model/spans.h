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

/* The trace id of m's spans: the submitter's with o->link_as_parent and
 * a link, else mdl_trace_id's. */
void mdl_monitor_trace_id(const mdl_monitor *m, const mdl_build_opts *o, uint8_t out[16]);

/* Build the spans of done monitor m: node spans in order of appearance,
 * Queued (when there is one), then the root. 0 with an owned array in
 * *out of *n spans (free with mdl_spans_free); MDL_ERR_STATE if m is not
 * done; MDL_ERR_NOMEM (nothing left allocated). */
int mdl_build_spans(const mdl_monitor *m, const mdl_build_opts *o, exo_span ***out, size_t *n);
void mdl_spans_free(exo_span **spans, size_t n);

/* ---- exporting spans as they end ----
 *
 * A node's span is final once the node has ended: the monitor changes an
 * ended node no more (monitor.h), and its span depends on nothing else
 * but ids derived from keys, so it can go out at once and is the same,
 * byte for byte, as the one built when the workflow ends. The Queued span
 * is final once the source's start is known (first value wins); the root
 * only when the workflow ends. Each node and Queued keep their
 * mdl_export_state: NONE → (taken) SENT → (settled) DELIVERED or FAILED. */

#define MDL_REF_QUEUED (MDL_ROOT - 1) /* mdl_span_ref.node of the Queued span */

/* Which spans a build makes. */
typedef enum {
    MDL_SEL_ALL,   /* done monitor: every span (export at the end) */
    MDL_SEL_OWED,  /* done monitor: the root and every span not MDL_EXP_DELIVERED */
    MDL_SEL_READY, /* any monitor: final spans still MDL_EXP_NONE (never the root) */
} mdl_span_sel;

/* How many spans selection sel of m builds (cheap: no ids, no spans). */
size_t mdl_count_select(const mdl_monitor *m, mdl_span_sel sel);
/* Build the spans of m that sel takes, nodes in order of appearance, then
 * Queued, then the root. which (may be NULL) receives an owned array
 * naming each span: a node's index, MDL_REF_QUEUED or MDL_ROOT. 0 (with
 * *n = 0 and nothing allocated when sel takes none), MDL_ERR_STATE
 * (OWED/ALL of a monitor not done) or MDL_ERR_NOMEM (nothing left). */
int mdl_build_select(const mdl_monitor *m, const mdl_build_opts *o, mdl_span_sel sel, exo_span ***out,
                     uint32_t **which, size_t *n);

/* One span taken for export: which it is, and its id (so that the
 * outcome is not booked on a node of another monitor of the same key). */
typedef struct mdl_span_ref {
    uint32_t node;      /* node index, or MDL_REF_QUEUED */
    uint8_t span_id[8];
} mdl_span_ref;

/* Take the spans of m that became final since the last take (READY) and
 * mark them MDL_EXP_SENT. 0 with *n spans in *out (owned array; free with
 * mdl_spans_free or hand the spans over and ex_free the array) and their
 * refs in *refs (owned, ex_free); *n = 0 with nothing allocated when none
 * is new; MDL_ERR_NOMEM with nothing marked. */
int mdl_take_ready_spans(mdl_monitor *m, const mdl_build_opts *o, exo_span ***out, mdl_span_ref **refs, size_t *n);
/* The export's verdict on spans taken earlier: delivered → DELIVERED
 * (they are not sent again), else FAILED (they go out again with the
 * root). Only spans still SENT whose node has the same span id change. */
void mdl_settle_spans(mdl_monitor *m, const mdl_build_opts *o, const mdl_span_ref *refs, size_t n, int delivered);
/* Spans the root's export sends again although they were taken before
 * (SENT or FAILED: not known delivered), for the metrics. */
size_t mdl_count_resent(const mdl_monitor *m);
/* Spans taken whose verdict is still to come (MDL_EXP_SENT): the root's
 * export waits for them, so that a span on its way is not sent twice. */
size_t mdl_count_sent(const mdl_monitor *m);

#endif
