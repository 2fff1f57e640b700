/* checkpoint_v2.c — checkpoints of formats 1 and 2 (the seed's monitor of
 * fixed stages, written by earlier versions), read as a tree: each stage a
 * top-level node keyed by its type, its status events named by the seed's
 * words, so a workflow checkpointed before an upgrade resumes after it.
 *
 * Layout after the envelope:
 *   str workflow_id   i64 submitted created timeout start end last_sent
 *   u32 version polls poll_errors   u16 events_dropped stages_dropped
 *   u8 last_status end nstages nevents   nstr error
 *   per stage:  i64 start end  str type  str id  nstr error  u8 last_status end
 *   per event:  i64 time before after  u8 owner status source
 * Version 1 kept the last poll's receive time in place of last_sent; it
 * is read as the monitor's creation, which widens the next event's window
 * instead of making it wrong. */
#include <string.h>

#include "core/mem.h"
#include "model/attrs.h"
#include "worker/checkpoint_int.h"

#define V2_MAX_STAGES 8
#define V2_MAX_EVENTS 64
#define V2_NSTATUS    4    /* Initializing Processing Completed Failed: the first common words */
#define V2_NO_STATUS  0xFF
#define V2_OWNER_ROOT 0xFF
#define V2_ERR_MAX    8192

static int status_ok(uint8_t s) { return s < V2_NSTATUS || s == V2_NO_STATUS; }

/* The parts both a workflow and a stage have: end reason, last status, message. */
static void set_end(ck_rbuf *r, mdl_node *n, uint8_t last, uint8_t end, char *error, const char *what)
{
    if (!status_ok(last)) ck_fail(r, "%s: last status %u is not a status", what, last);
    else if (end > MDL_END_NOT_FOUND) ck_fail(r, "%s: end reason %u is unknown", what, end);
    n->last_word = last; /* the seed's statuses are the first common words, in order */
    n->end = end;
    n->end_known = end == MDL_END_OK || end == MDL_END_FAILED;
    if (error && error[0] && mdl_node_set_error(n, error, strlen(error))) ck_fail(r, "out of memory");
    ex_free(error);
}

static void get_stage(ck_rbuf *r, mdl_node *n, size_t i)
{
    char what[32];
    snprintf(what, sizeof what, "stage %zu", i);
    n->start_ns = ck_get_i64(r, what);
    n->end_ns = ck_get_i64(r, what);
    n->parent = MDL_ROOT;
    char *type = ck_get_str(r, 1, 64, 0, "a stage's type");
    char *id = ck_get_str(r, 1, 128, 0, "a stage's id");
    char *error = ck_get_str(r, 0, V2_ERR_MAX, 1, "a stage's error");
    const uint8_t *s2 = ck_take(r, 2, what);
    if (type && id && !r->failed) {
        mdl_snode sn;
        mdl_snode_init(&sn);
        sn.sattrs[0] = (mdl_sattr){"type", type};
        sn.sattrs[1] = (mdl_sattr){"id", id};
        sn.nsattrs = 2;
        mdl_attr_refs refs = {type, id};
        if (mdl_node_set_strs(n, type, id, NULL, NULL) || mdl_attrs_encode(&sn, &refs, &n->attrs))
            ck_fail(r, "out of memory");
    }
    ex_free(type);
    ex_free(id);
    if (s2) set_end(r, n, s2[0], s2[1], error, what);
    else ex_free(error);
}

static void get_event(ck_rbuf *r, mdl_monitor *m, size_t i)
{
    mdl_event ev;
    ev.time_ns = ck_get_i64(r, "an event");
    ev.before_ns = ck_get_i64(r, "an event");
    ev.after_ns = ck_get_i64(r, "an event");
    const uint8_t *s3 = ck_take(r, 3, "an event");
    if (!s3) return;
    ev.word = s3[1];
    ev.source = s3[2];
    if (s3[0] != V2_OWNER_ROOT && s3[0] >= m->nnodes) {
        ck_fail(r, "event %zu belongs to stage %u of %u", i, s3[0], m->nnodes);
        return;
    }
    if (ev.word >= V2_NSTATUS || ev.source > MDL_SRC_POLL) {
        ck_fail(r, "event %zu: status %u or time source %u is unknown", i, ev.word, ev.source);
        return;
    }
    mdl_node *n = s3[0] == V2_OWNER_ROOT ? &m->root : &m->nodes[s3[0]];
    mdl_event *arr = ex_realloc(n->events, (n->nevents + 1u) * sizeof *arr);
    if (!arr) {
        ck_fail(r, "out of memory");
        return;
    }
    n->events = arr;
    arr[n->nevents++] = ev;
    m->nevents++;
}

mdl_monitor *wk_ckpt_decode_v2(ck_rbuf *r, uint8_t version)
{
    char *id = ck_get_str(r, 1, 128, 0, "the workflow id");
    int64_t t[6];
    for (int i = 0; i < 6; i++) t[i] = ck_get_i64(r, "times"); /* submitted created timeout start end last_sent */
    mdl_monitor *m = id && !r->failed
                         ? mdl_monitor_new(id, t[0], t[1], t[2], V2_MAX_STAGES, V2_MAX_EVENTS)
                         : NULL;
    ex_free(id);
    if (!m) {
        ck_fail(r, "out of memory");
        return NULL;
    }
    m->root.start_ns = t[3];
    m->root.end_ns = t[4];
    m->last_sent_ns = version == 1 && t[5] != MDL_NO_TIME ? m->created_ns : t[5];
    m->version = (uint32_t)ck_get_uint(r, 4, "version");
    m->polls = (uint32_t)ck_get_uint(r, 4, "polls");
    m->poll_errors = (uint32_t)ck_get_uint(r, 4, "poll errors");
    m->events_dropped = (uint16_t)ck_get_uint(r, 2, "events dropped");
    m->nodes_dropped = (uint16_t)ck_get_uint(r, 2, "stages dropped");
    const uint8_t *s = ck_take(r, 4, "statuses and counts");
    if (!s) return m;
    uint8_t last = s[0], end = s[1], ns = s[2], ne = s[3];
    if (ns > V2_MAX_STAGES || ne > V2_MAX_EVENTS) ck_fail(r, "%u stages, %u events (at most 8, 64)", ns, ne);
    if (m->timeout_ns < 0) ck_fail(r, "negative timeout %lld", (long long)m->timeout_ns);
    char *error = ck_get_str(r, 0, V2_ERR_MAX, 1, "the workflow error");
    set_end(r, &m->root, last, end, error, "the workflow");
    if (!r->failed && ns && !(m->nodes = ex_calloc(ns, sizeof *m->nodes))) ck_fail(r, "out of memory");
    for (uint8_t i = 0; i < ns && !r->failed; i++) {
        m->nnodes = (uint16_t)(i + 1);
        get_stage(r, &m->nodes[i], i);
    }
    for (uint8_t i = 0; i < ne && !r->failed; i++) get_event(r, m, i);
    return m;
}
