/* spans.h — the finished spans of a done monitor.
 *
 * One trace per workflow: a root span "Workflow" from submission to the
 * end, a child span "Queued" for the wait between SubmittedAt and the
 * API's workflowStartTime (only when that wait is positive) and one child
 * span per stage, all kind INTERNAL, with ids derived as ids.h says (so a
 * second worker, or a restarted one, emits the same ids):
 *   trace id       = exo_trace_id(namespace, workflow id)
 *   root span id   = exo_span_id(trace id, "Workflow", "")
 *   Queued span id = exo_span_id(trace id, "Queued", "")
 *   stage span id  = exo_span_id(trace id, entity type, entity id)
 * Building reads the monitor only: the same monitor gives the same spans,
 * byte for byte, every time. */
#ifndef EXTRACE_WORKER_SPANS_H
#define EXTRACE_WORKER_SPANS_H
#include <stddef.h>

#include "otel/span.h"
#include "worker/monitor.h"

#define WM_ROOT_SPAN_NAME   "Workflow"
#define WM_QUEUED_SPAN_NAME "Queued"

/* Build the spans of done monitor m under `service_namespace`: the stage
 * spans in order of appearance, Queued (when there is one), then the root
 * (which ends last).
 * On success *out is an owned array of *n spans (free with wm_spans_free)
 * and 0 is returned. Returns WM_ERR_STATE if m is not done, WM_ERR_NOMEM
 * if an allocation failed (nothing is left allocated; *out = NULL, *n = 0). */
int wm_build_spans(const wm_monitor *m, const char *service_namespace, exo_span ***out, size_t *n);
/* Free an array from wm_build_spans (each span, then the array). */
void wm_spans_free(exo_span **spans, size_t n);

#endif
