/* live_json.c — the JSON of one in-flight workflow (live.h). */
#include <stdlib.h>
#include <string.h>

#include "core/iso8601.h"
#include "core/mem.h"
#include "model/spans.h"
#include "otel/ids.h"
#include "worker/live.h"

#define NODE_SLACK 64 /* bytes kept free after the nodes for "]" and the rest of W */

static int put_str(sim_buf *b, const char *s) { return sim_buf_json_string(b, s, strlen(s)); }

/* ,"name":"<ISO>" or ,"name":null */
static int put_time(sim_buf *b, const char *name, int64_t ns)
{
    char iso[EX_ISO_LEN + 1];
    if (ns == MDL_NO_TIME || ns <= 0) return sim_buf_printf(b, ",\"%s\":null", name);
    return sim_buf_printf(b, ",\"%s\":\"%s\"", name, ex_iso_format(ns, iso));
}

/* ,"sourceStatus":"<word>" or null */
static int put_word(sim_buf *b, const mdl_monitor *m, const mdl_node *n)
{
    if (sim_buf_puts(b, ",\"sourceStatus\":")) return -1;
    if (n->last_word == MDL_NO_WORD) return sim_buf_puts(b, "null");
    return put_str(b, mdl_monitor_word(m, n->last_word));
}

static int depth_of(const mdl_monitor *m, const mdl_node *n)
{
    int d = 0;
    while (n->parent != MDL_ROOT && n->parent < m->nnodes && d < MDL_MAX_NODES) {
        n = &m->nodes[n->parent];
        d++;
    }
    return d;
}

const mdl_node *wk_live_current(const mdl_monitor *m)
{
    const mdl_node *best = NULL;
    int best_depth = -1;
    for (size_t i = 0; i < m->nnodes; i++) {
        const mdl_node *n = &m->nodes[i];
        if (mdl_node_status(n) != MDL_RUNNING) continue;
        int d = depth_of(m, n);
        if (d > best_depth || (d == best_depth && n->start_ns >= best->start_ns)) {
            best = n;
            best_depth = d;
        }
    }
    return best;
}

static int render_node(sim_buf *b, const mdl_monitor *m, const mdl_node *n, const uint8_t trace[16])
{
    uint8_t sid[8];
    char hex[17];
    exo_span_id(trace, mdl_node_key(n), mdl_node_id(n), sid);
    int rc = sim_buf_puts(b, "{\"key\":");
    if (!rc) rc = put_str(b, mdl_node_key(n));
    if (!rc) rc = sim_buf_puts(b, ",\"name\":");
    if (!rc) rc = put_str(b, mdl_node_name(n));
    if (!rc) rc = sim_buf_puts(b, ",\"parent\":");
    if (!rc) rc = n->parent == MDL_ROOT || n->parent >= m->nnodes ? sim_buf_puts(b, "null")
                                                                  : put_str(b, mdl_node_key(&m->nodes[n->parent]));
    if (!rc) rc = sim_buf_printf(b, ",\"status\":\"%s\"", mdl_status_name(mdl_node_status(n)));
    if (!rc) rc = put_word(b, m, n);
    if (!rc) rc = put_time(b, "start", n->start_ns);
    if (!rc) rc = put_time(b, "end", n->end_ns);
    if (!rc) rc = sim_buf_printf(b, ",\"spanId\":\"%s\"}", exo_hex(sid, 8, hex));
    return rc;
}

/* The nodes, within max bytes of b (the W began at w_start); returns how many were left out. */
static size_t render_nodes(sim_buf *b, const mdl_monitor *m, const uint8_t trace[16], size_t w_start)
{
    size_t max = b->max, limit = w_start + WK_LIVE_MAX_WORKFLOW - NODE_SLACK;
    if (limit < max) b->max = limit;
    size_t i = 0;
    for (; i < m->nnodes; i++) {
        size_t saved = b->len;
        if ((i > 0 && sim_buf_put(b, ",", 1)) || render_node(b, m, &m->nodes[i], trace)) {
            sim_buf_truncate(b, saved);
            break;
        }
    }
    b->max = max;
    return m->nnodes - i;
}

typedef struct ev_ref {
    int64_t time;
    uint32_t order; /* recording order among equal times */
    uint32_t node;  /* MDL_ROOT or the node's index */
    uint8_t word;
} ev_ref;

static int ev_cmp(const void *pa, const void *pb)
{
    const ev_ref *a = pa, *b = pb;
    if (a->time != b->time) return a->time < b->time ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* Every state event of m, by time. NULL (and *n = 0) when none or out of memory. */
static ev_ref *collect_events(const mdl_monitor *m, size_t *n)
{
    size_t total = m->root.nevents;
    for (size_t i = 0; i < m->nnodes; i++) total += m->nodes[i].nevents;
    *n = 0;
    ev_ref *ev = total ? ex_malloc(total * sizeof *ev) : NULL;
    if (!ev) return NULL;
    for (size_t i = 0; i <= m->nnodes; i++) {
        const mdl_node *nd = i < m->nnodes ? &m->nodes[i] : &m->root;
        for (size_t k = 0; k < nd->nevents; k++, (*n)++)
            ev[*n] = (ev_ref){nd->events[k].time_ns, (uint32_t)*n, i < m->nnodes ? (uint32_t)i : MDL_ROOT,
                              nd->events[k].word};
    }
    qsort(ev, *n, sizeof *ev, ev_cmp);
    return ev;
}

/* ,"events":[…] — as many as fit; ,"eventsOmitted":k after when some did not. */
static int render_events(sim_buf *b, const mdl_monitor *m)
{
    size_t n, i = 0;
    ev_ref *ev = collect_events(m, &n);
    size_t max = b->max;
    b->max = max > NODE_SLACK ? max - NODE_SLACK : max;
    int rc = sim_buf_puts(b, ",\"events\":[");
    for (; !rc && i < n; i++) {
        size_t saved = b->len;
        char iso[EX_ISO_LEN + 1];
        int r = i > 0 ? sim_buf_put(b, ",", 1) : 0;
        if (!r) r = sim_buf_puts(b, "{\"node\":");
        if (!r) r = ev[i].node == MDL_ROOT ? sim_buf_puts(b, "null") : put_str(b, mdl_node_key(&m->nodes[ev[i].node]));
        if (!r) r = sim_buf_puts(b, ",\"name\":");
        if (!r) r = put_str(b, mdl_monitor_word(m, ev[i].word));
        if (!r) r = sim_buf_printf(b, ",\"time\":\"%s\"}", ex_iso_format(ev[i].time, iso));
        if (r) {
            sim_buf_truncate(b, saved);
            break;
        }
    }
    b->max = max;
    if (!rc) rc = sim_buf_put(b, "]", 1);
    if (!rc && i < n) rc = sim_buf_printf(b, ",\"eventsOmitted\":%zu", n - i);
    ex_free(ev);
    return rc;
}

int wk_live_render(sim_buf *b, const wk_live_ctx *c, const wk_entry *e, int events)
{
    const mdl_monitor *m = e->mon;
    uint8_t trace[16];
    char hex[33];
    size_t w_start = b->len;
    mdl_trace_id(c->ns, c->source, m->key, trace);
    int rc = sim_buf_puts(b, "{\"key\":");
    if (!rc) rc = put_str(b, m->key);
    if (!rc) rc = sim_buf_puts(b, ",\"source\":");
    if (!rc) rc = put_str(b, c->source);
    if (!rc) rc = sim_buf_printf(b, ",\"traceId\":\"%s\",\"status\":\"%s\"", exo_hex(trace, 16, hex),
                                 mdl_status_name(mdl_node_status(&m->root)));
    if (!rc) rc = put_word(b, m, &m->root);
    if (!rc) rc = put_time(b, "submitted", m->submitted_ns);
    if (!rc) rc = put_time(b, "started", m->root.start_ns);
    const mdl_node *cur = wk_live_current(m);
    if (!rc) rc = sim_buf_puts(b, ",\"currentStage\":");
    if (!rc) rc = cur ? put_str(b, mdl_node_name(cur)) : sim_buf_puts(b, "null");
    if (!rc) rc = put_time(b, "lastPoll", m->last_sent_ns);
    if (!rc) rc = put_time(b, "nextPoll", c->reg && e->heap_idx != WK_NOT_QUEUED ? wk_registry_due(c->reg, e) : MDL_NO_TIME);
    if (!rc) rc = sim_buf_printf(b, ",\"polls\":%u,\"pollErrors\":%u,\"nodes\":[", (unsigned)m->polls,
                                 (unsigned)m->poll_errors);
    if (rc) return -1;
    size_t omitted = render_nodes(b, m, trace, w_start);
    rc = sim_buf_put(b, "]", 1);
    if (!rc && omitted) rc = sim_buf_printf(b, ",\"nodesOmitted\":%zu", omitted);
    if (!rc && events) rc = render_events(b, m);
    if (!rc) rc = sim_buf_put(b, "}", 1);
    return rc;
}
