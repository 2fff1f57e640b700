/* submitter.c — the span that submitted a workflow (a W3C traceparent on
 * its start: the event's "Traceparent", a webhook's header), checked and
 * counted when the watch starts. What the trace makes of it (a link from
 * the root, or the root as its child) is spans.c's. */
#include <stdio.h>

#include "worker/worker_int.h"

int wk_submitter_link(wk_worker *w, const wk_event *ev, mdl_link *out)
{
    char why[400], msg[1000];
    int rc = wk_event_link(ev, out, why, sizeof why);
    if (rc > 0) w->links.linked++;
    if (rc >= 0) return rc;
    w->links.malformed++;
    snprintf(msg, sizeof msg, "workflow %.256s: %s; traced without a link to its submitter", ev->workflow_id, why);
    wk_event_warn(w, msg);
    return -1;
}

void wk_submitter_render(const wk_worker *w, wk_text *t)
{
    const char *name = "extrace_traceparents_total";
    wk_prom_family(t, name, "counter",
                   "Workflows started with a submitter's W3C traceparent, by result: linked (the root span links "
                   "to it, or is its child with --parent-from-traceparent) or malformed (left out).");
    wk_prom_sample(t, name, "result", "linked", (double)w->links.linked);
    wk_prom_sample(t, name, "result", "malformed", (double)w->links.malformed);
}
