/* The workflow monitor and its spans, driven by scripted API answers.
 *
 * Each scenario renders the API's JSON body for a workflow state (a small
 * builder on jansson), parses it with wm_snapshot_parse and applies it to
 * a monitor at a poll time, as the worker's runtime does; then it builds
 * the spans and checks every name, time, event, attribute, status and id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/iso8601.h"
#include "core/mem.h"
#include "otel/ids.h"
#include "model/attrs.h"
#include "model/monitor.h"
#include "model/spans.h"
#include "worker/seed_tree.h"
#include "worker/snapshot.h"

#define WM_RUNNING 0

#define WFID "704c0b60-3614-4e54-8985-5134cc20df22"
#define NS   "dev1"
#define SEC  EX_NS_PER_SEC
#define MS   EX_NS_PER_MS
/* SubmittedAt 2024-07-05T06:57:51.0737407Z; the monitor is made then. */
#define T0      (INT64_C(1720162671) * SEC + 73740700)
#define TIMEOUT (600 * SEC)
/* Step k of the scripted run: the API's clock reads A(k) while it answers
 * the poll that completes at P(k). Polls start 5 s after submission, every 10 s. */
#define A(k) (T0 + 5 * SEC + (int64_t)(k) * 10 * SEC + 1 * MS)
#define P(k) (T0 + 5 * SEC + (int64_t)(k) * 10 * SEC + 3 * MS)
/* The request of the poll that completes at t left 3 ms before it. */
#define SENT(t) ((t) - 3 * MS)
#define S(k)    SENT(P(k))
#define NONE WM_NO_TIME

static const char *const TYPES[3] = {"DataLoader", "Processor", "OutputGenerator"};
static const char *const IDS[3] = {"6f0e3c2a-0d1b-4c55-9d8e-1a2b3c4d5e6f", "b7c8d9e0-1f2a-4b3c-8d4e-5f6a7b8c9d0e",
                                   "0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d"};

/* ---- the API body builder ------------------------------------------------ */

typedef struct tb_stage {
    const char *type, *id;
    wm_status status;
    int64_t start, end; /* end NONE while open */
    const char *error;  /* entityErrorMessage or NULL */
    int64_t processing; /* entityProcessingStartTime, or 0: not sent */
} tb_stage;

typedef struct tb_workflow {
    wm_status status;
    int64_t start, end;
    const char *error;
    int nstages;
    tb_stage stages[WM_MAX_STAGES + 1];
} tb_workflow;

static json_t *iso(int64_t ns)
{
    char b[EX_ISO_LEN + 1];
    return json_string(ex_iso_format(ns, b));
}

static json_t *render_stage(const tb_stage *st)
{
    json_t *e = json_object();
    json_object_set_new(e, "entityType", json_string(st->type));
    json_object_set_new(e, "entityId", json_string(st->id));
    json_object_set_new(e, "entityStatus", json_string(wm_status_name(st->status)));
    if (st->error) json_object_set_new(e, "entityErrorMessage", json_string(st->error));
    json_object_set_new(e, "entityStartTime", iso(st->start));
    if (st->end != NONE) json_object_set_new(e, "entityEndTime", iso(st->end));
    if (st->processing) json_object_set_new(e, "entityProcessingStartTime", iso(st->processing));
    json_object_set_new(e, "isComplete", json_boolean(st->end != NONE));
    return e;
}

/* The API's JSON body for w (malloc'd). */
static char *render(const tb_workflow *w)
{
    json_t *o = json_object();
    json_object_set_new(o, "workflowId", json_string(WFID));
    json_object_set_new(o, "workflowStatus", json_string(wm_status_name(w->status)));
    json_object_set_new(o, "workflowStartTime", iso(w->start));
    if (w->end != NONE) json_object_set_new(o, "workflowEndTime", iso(w->end));
    json_object_set_new(o, "isComplete", json_boolean(w->end != NONE));
    if (w->error) json_object_set_new(o, "workflowErrorMessage", json_string(w->error));
    json_t *ents = json_object();
    for (int i = 0; i < w->nstages; i++) json_object_set_new(ents, w->stages[i].type, render_stage(&w->stages[i]));
    json_object_set_new(o, "workflowEntities", ents);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    assert_non_null(s);
    return s;
}

/* Render, parse (with `flags`) and apply w for a poll sent at `sent` and
 * answered at `t`; check the result and whether the state changed. */
static void poll_sent_expect(mdl_monitor *m, const tb_workflow *w, unsigned flags, int64_t sent, int64_t t,
                             int want_rc, int want_changed)
{
    static wm_snapshot s;
    char why[256];
    char *body = render(w);
    int rc = wm_snapshot_parse_flags(body, strlen(body), WFID, flags, &s, why, sizeof why);
    if (rc) fail_msg("parse %d: %s\n%s", rc, why, body);
    free(body);
    uint32_t v0 = m->version;
    int changed = -1;
    static mdl_snapshot tree;
    mdl_snapshot_init(&tree);
    assert_int_equal(wm_snapshot_to_tree(&s, &tree), 0);
    assert_int_equal(mdl_monitor_apply(m, &tree, sent, t, &changed), want_rc);
    ex_free(tree.nodes);
    assert_int_equal(changed, want_changed);
    assert_int_equal(m->version != v0, want_changed);
}

/* A poll answered at t whose request left 3 ms earlier. */
static void poll_expect(mdl_monitor *m, const tb_workflow *w, int64_t t, int want_rc, int want_changed)
{
    poll_sent_expect(m, w, 0, SENT(t), t, want_rc, want_changed);
}

static tb_stage *add_stage(tb_workflow *w, int i, int64_t start)
{
    tb_stage *st = &w->stages[w->nstages++];
    *st = (tb_stage){TYPES[i], IDS[i], WM_INITIALIZING, start, NONE, NULL, 0};
    return st;
}

static void end_stage(tb_stage *st, wm_status status, int64_t end, const char *error)
{
    st->status = status;
    st->end = end;
    st->error = error;
}

static mdl_monitor *new_monitor(void)
{
    mdl_monitor *m = mdl_monitor_new(WFID, T0, T0, TIMEOUT, MDL_SEED_MAX_NODES, MDL_SEED_MAX_EVENTS);
    assert_non_null(m);
    return m;
}

/* ---- span checks --------------------------------------------------------- */

static void check_str_attr(const exo_attrs *a, const char *key, const char *want)
{
    const exo_attr *at = exo_attrs_find(a, key);
    if (!want) {
        if (at) fail_msg("attribute %s should be absent", key);
        return;
    }
    if (!at) fail_msg("attribute %s missing (want %s)", key, want);
    assert_int_equal(at->type, EXO_VAL_STRING);
    if (strcmp(at->v.s, want) != 0) fail_msg("attribute %s = '%s', want '%s'", key, at->v.s, want);
}

static void check_time_attr(const exo_attrs *a, const char *key, int64_t ns)
{
    char b[EX_ISO_LEN + 1];
    check_str_attr(a, key, ns == NONE ? NULL : ex_iso_format(ns, b));
}

static void check_int_attr(const exo_attrs *a, const char *key, int64_t want)
{
    const exo_attr *at = exo_attrs_find(a, key);
    if (!at) fail_msg("attribute %s missing", key);
    assert_int_equal(at->type, EXO_VAL_INT);
    assert_int_equal(at->v.i, want);
}

/* Event i of sp: name, time, and its three (or two) attributes exactly. */
static void check_event(const exo_span *sp, size_t i, const char *name, int64_t t, int64_t before, int64_t after,
                        const char *source)
{
    if (i >= sp->nevents) fail_msg("%s: no event %zu (has %zu)", sp->name, i, sp->nevents);
    const exo_event *e = &sp->events[i];
    if (strcmp(e->name, name) != 0) fail_msg("%s event %zu: '%s', want '%s'", sp->name, i, e->name, name);
    assert_int_equal(e->time_ns, t);
    /* ISO holds 100 ns ticks: the upper bound is rounded up, the lower down. */
    check_time_attr(&e->attrs, "extrace.observed_before", before == NONE ? NONE : (before + 99) / 100 * 100);
    check_time_attr(&e->attrs, "extrace.observed_after", after);
    check_int_attr(&e->attrs, "extrace.observed_before_unix_nano", before);
    if (after != NONE) check_int_attr(&e->attrs, "extrace.observed_after_unix_nano", after);
    else if (exo_attrs_find(&e->attrs, "extrace.observed_after_unix_nano")) fail_msg("observed_after without after");
    check_str_attr(&e->attrs, "extrace.time_source", source);
    assert_int_equal(e->attrs.len, after == NONE ? 3 : 5);
    /* The window holds the event, exactly. */
    if (after != NONE && e->time_ns < after) fail_msg("%s: %s before its window", sp->name, name);
    if (e->time_ns > before) fail_msg("%s: %s after its window", sp->name, name);
}

/* Ids as ids.h derives them; stages (and Queued, before the root, when
 * there is one) are children of the root. */
static void check_ids(exo_span **sp, size_t n, const char *const *stage_ids)
{
    uint8_t trace[16], root[8], id[8];
    if (n >= 2 && strcmp(sp[n - 2]->name, "Queued") == 0) {
        exo_trace_id(NS, WFID, trace);
        exo_span_id(trace, "Queued", "", id);
        assert_memory_equal(sp[n - 2]->span_id, id, 8);
        assert_int_equal(sp[n - 2]->has_parent, 1);
        exo_span_id(trace, "Workflow", "", root);
        assert_memory_equal(sp[n - 2]->parent_span_id, root, 8);
        exo_span *tmp = sp[n - 2];
        sp[n - 2] = sp[n - 1];
        check_ids(sp, n - 1, stage_ids);
        sp[n - 2] = tmp;
        return;
    }
    exo_trace_id(NS, WFID, trace);
    exo_span_id(trace, "Workflow", "", root);
    const exo_span *r = sp[n - 1];
    assert_string_equal(r->name, "Workflow");
    assert_memory_equal(r->trace_id, trace, 16);
    assert_memory_equal(r->span_id, root, 8);
    assert_int_equal(r->has_parent, 0);
    assert_int_equal(r->kind, EXO_KIND_INTERNAL);
    for (size_t i = 0; i + 1 < n; i++) {
        exo_span_id(trace, sp[i]->name, stage_ids[i], id);
        assert_memory_equal(sp[i]->trace_id, trace, 16);
        assert_memory_equal(sp[i]->span_id, id, 8);
        assert_int_equal(sp[i]->has_parent, 1);
        assert_memory_equal(sp[i]->parent_span_id, root, 8);
        assert_int_equal(sp[i]->kind, EXO_KIND_INTERNAL);
    }
}

static void check_status(const exo_span *sp, int code, const char *msg, const char *error_type)
{
    assert_int_equal(sp->status_code, code);
    if (msg) {
        assert_non_null(sp->status_message);
        assert_string_equal(sp->status_message, msg);
    } else {
        assert_null(sp->status_message);
    }
    check_str_attr(&sp->attrs, "error.type", error_type);
}

/* The Queued span: a child of the root from SubmittedAt to the API's
 * start, no attributes, no events, status UNSET. */
static void check_queued(const exo_span *q, int64_t submitted, int64_t start)
{
    uint8_t trace[16], id[8];
    exo_trace_id(NS, WFID, trace);
    exo_span_id(trace, "Queued", "", id);
    assert_string_equal(q->name, "Queued");
    assert_memory_equal(q->span_id, id, 8);
    assert_int_equal(q->has_parent, 1);
    assert_int_equal(q->start_ns, submitted);
    assert_int_equal(q->end_ns, start);
    assert_int_equal(q->attrs.len, 0);
    assert_int_equal(q->nevents, 0);
    assert_int_equal(q->status_code, EXO_STATUS_UNSET);
}

/* The stage span's attributes: type, id, startTime, endTime (when the API
 * gave one), error.type (when ERROR), nothing else. */
static void check_stage_attrs(const exo_span *sp, int i, int64_t start, int64_t source_end)
{
    assert_string_equal(sp->name, TYPES[i]);
    check_str_attr(&sp->attrs, "type", TYPES[i]);
    check_str_attr(&sp->attrs, "id", IDS[i]);
    check_time_attr(&sp->attrs, "startTime", start);
    check_time_attr(&sp->attrs, "endTime", source_end);
    size_t want = 3 + (source_end != NONE) + (sp->status_code == EXO_STATUS_ERROR);
    assert_int_equal(sp->attrs.len, want);
}

/* The root span's attributes, nothing else. */
static void check_root_attrs(const exo_span *r, int64_t start, int64_t source_end, const char *result, int64_t polls,
                             int64_t errors)
{
    check_str_attr(&r->attrs, "workflowId", WFID);
    check_time_attr(&r->attrs, "startTime", start);
    check_time_attr(&r->attrs, "endTime", source_end);
    check_str_attr(&r->attrs, "extrace.result", result);
    check_int_attr(&r->attrs, "extrace.polls", polls);
    check_int_attr(&r->attrs, "extrace.poll_errors", errors);
    size_t want = 4 + (start != NONE) + (source_end != NONE) + (r->status_code == EXO_STATUS_ERROR);
    assert_int_equal(r->attrs.len, want);
}

static exo_span **build(const mdl_monitor *m, size_t want_n)
{
    exo_span **sp;
    size_t n;
    assert_int_equal(mdl_build_spans(m, &(mdl_build_opts){.key_attr = "workflowId", .ns = NS}, &sp, &n), 0);
    assert_int_equal(n, want_n);
    return sp;
}

/* ---- the seed's lifecycle -------------------------------------------------- */

/* Run the lifecycle the seed's API goes through, one poll per step:
 * step 0 the workflow is created; stage i is added at step b = 1 + 3i
 * (with the previous stage's end), moves to Processing at b + 1, shows no
 * change at b + 2 and ends at b + 3. Stage `failing` (or none, -1) fails. */
static mdl_monitor *run_lifecycle(int failing)
{
    static char wf_error[64];
    mdl_monitor *m = new_monitor();
    tb_workflow w = {WM_INITIALIZING, A(0), NONE, NULL, 0, {{0}}};
    poll_expect(m, &w, P(0), WM_RUNNING, 1);
    for (int i = 0; i < 3; i++) {
        int b = 1 + 3 * i;
        if (i > 0) end_stage(&w.stages[i - 1], WM_COMPLETED, A(b), NULL);
        add_stage(&w, i, A(b));
        w.status = WM_PROCESSING;
        poll_expect(m, &w, P(b), WM_RUNNING, 1);
        w.stages[i].status = WM_PROCESSING;
        poll_expect(m, &w, P(b + 1), WM_RUNNING, 1);
        poll_expect(m, &w, P(b + 2), WM_RUNNING, 0);
        if (i == failing) {
            end_stage(&w.stages[i], WM_FAILED, A(b + 3), "Failed. Error code: 42");
            snprintf(wf_error, sizeof wf_error, "Entity failed: %s", TYPES[i]);
            w.status = WM_FAILED;
            w.end = A(b + 3);
            w.error = wf_error;
            poll_expect(m, &w, P(b + 3), MDL_DONE, 1);
            return m;
        }
    }
    end_stage(&w.stages[2], WM_COMPLETED, A(10), NULL);
    w.status = WM_COMPLETED;
    w.end = A(10);
    poll_expect(m, &w, P(10), MDL_DONE, 1);
    return m;
}

/* The spans of run_lifecycle(failing), checked field by field. */
static void check_lifecycle(exo_span **sp, size_t n, int failing)
{
    int nst = failing < 0 ? 3 : failing + 1;
    assert_int_equal(n, (size_t)nst + 2);
    check_ids(sp, n, IDS);
    for (int i = 0; i < nst; i++) {
        int b = 1 + 3 * i, failed = i == failing;
        const exo_span *s = sp[i];
        assert_int_equal(s->start_ns, A(b));
        assert_int_equal(s->end_ns, A(b + 3));
        assert_int_equal(s->nevents, 3);
        check_event(s, 0, "Initializing", A(b), P(b), S(b - 1), "source");
        check_event(s, 1, "Processing", P(b + 1), P(b + 1), S(b), "poll");
        check_event(s, 2, failed ? "Failed" : "Completed", A(b + 3), P(b + 3), S(b + 2), "source");
        if (failed)
            check_status(s, EXO_STATUS_ERROR, "Failed. Error code: 42", "stage_failed");
        else
            check_status(s, EXO_STATUS_OK, NULL, NULL);
        check_stage_attrs(s, i, A(b), A(b + 3));
    }
    const exo_span *r = sp[n - 1];
    int last = 1 + 3 * nst; /* the step that ended the workflow */
    char msg[64];
    snprintf(msg, sizeof msg, "Entity failed: %s", failing >= 0 ? TYPES[failing] : "");
    /* The root covers submission to end; Queued the wait before the start. */
    assert_int_equal(r->start_ns, T0);
    assert_int_equal(r->end_ns, A(last));
    check_queued(sp[n - 2], T0, A(0));
    assert_int_equal(r->nevents, 4);
    assert_string_equal(r->events[0].name, "Submitted");
    assert_int_equal(r->events[0].time_ns, T0);
    assert_int_equal(r->events[0].attrs.len, 0);
    check_event(r, 1, "Initializing", A(0), P(0), NONE, "source");
    check_event(r, 2, "Processing", A(1), P(1), S(0), "source");
    check_event(r, 3, failing >= 0 ? "Failed" : "Completed", A(last), P(last), S(last - 1), "source");
    if (failing >= 0)
        check_status(r, EXO_STATUS_ERROR, msg, "workflow_failed");
    else
        check_status(r, EXO_STATUS_OK, NULL, NULL);
    check_root_attrs(r, A(0), A(last), failing >= 0 ? "error" : "ok", last + 1, 0);
}

static void test_all_stages_ok(void **state)
{
    (void)state;
    mdl_monitor *m = run_lifecycle(-1);
    assert_true(mdl_monitor_done(m));
    assert_int_equal(m->root.end, MDL_END_OK);
    exo_span **sp = build(m, 5);
    check_lifecycle(sp, 5, -1);
    mdl_spans_free(sp, 5);
    mdl_monitor_free(m);
}

static void test_each_stage_fails(void **state)
{
    (void)state;
    for (int f = 0; f < 3; f++) {
        mdl_monitor *m = run_lifecycle(f);
        assert_int_equal(m->root.end, MDL_END_FAILED);
        exo_span **sp = build(m, (size_t)f + 3);
        check_lifecycle(sp, (size_t)f + 3, f);
        mdl_spans_free(sp, (size_t)f + 3);
        mdl_monitor_free(m);
    }
}

/* Two runs of the same script, and two builds of one monitor, give
 * identical spans (ids included). */
static int attrs_equal(const exo_attrs *a, const exo_attrs *b)
{
    if (a->len != b->len) return 0;
    for (size_t i = 0; i < a->len; i++) {
        const exo_attr *x = &a->items[i], *y = &b->items[i];
        if (strcmp(x->key, y->key) || x->type != y->type) return 0;
        if (x->type == EXO_VAL_STRING ? strcmp(x->v.s, y->v.s) != 0 : x->v.i != y->v.i) return 0;
    }
    return 1;
}

static int span_equal(const exo_span *a, const exo_span *b)
{
    if (memcmp(a->trace_id, b->trace_id, 16) || memcmp(a->span_id, b->span_id, 8)) return 0;
    if (a->has_parent != b->has_parent || (a->has_parent && memcmp(a->parent_span_id, b->parent_span_id, 8))) return 0;
    if (strcmp(a->name, b->name) || a->kind != b->kind) return 0;
    if (a->start_ns != b->start_ns || a->end_ns != b->end_ns) return 0;
    if (a->status_code != b->status_code || !a->status_message != !b->status_message) return 0;
    if (a->status_message && strcmp(a->status_message, b->status_message)) return 0;
    if (!attrs_equal(&a->attrs, &b->attrs) || a->nevents != b->nevents) return 0;
    for (size_t i = 0; i < a->nevents; i++) {
        if (a->events[i].time_ns != b->events[i].time_ns || strcmp(a->events[i].name, b->events[i].name)) return 0;
        if (!attrs_equal(&a->events[i].attrs, &b->events[i].attrs)) return 0;
    }
    return 1;
}

static void test_ids_stable(void **state)
{
    (void)state;
    mdl_monitor *m1 = run_lifecycle(1), *m2 = run_lifecycle(1);
    exo_span **a = build(m1, 4), **b = build(m2, 4), **c = build(m1, 4);
    for (size_t i = 0; i < 4; i++) {
        assert_true(span_equal(a[i], b[i]));
        assert_true(span_equal(a[i], c[i]));
    }
    /* Another namespace is another trace. */
    exo_span **d;
    size_t n;
    assert_int_equal(mdl_build_spans(m1, &(mdl_build_opts){.key_attr = "workflowId", .ns = "dev2"}, &d, &n), 0);
    assert_memory_not_equal(d[3]->trace_id, a[3]->trace_id, 16);
    mdl_spans_free(d, n);
    mdl_spans_free(a, 4);
    mdl_spans_free(b, 4);
    mdl_spans_free(c, 4);
    mdl_monitor_free(m1);
    mdl_monitor_free(m2);
}

/* ---- timeouts, 404 ----------------------------------------------------------- */

static void test_timeout_with_open_stages(void **state)
{
    (void)state;
    mdl_monitor *m = new_monitor();
    assert_int_equal(mdl_monitor_deadline(m), T0 + TIMEOUT);
    tb_workflow w = {WM_PROCESSING, A(0), NONE, NULL, 0, {{0}}};
    add_stage(&w, 0, A(0));
    poll_expect(m, &w, P(0), WM_RUNNING, 1);
    end_stage(&w.stages[0], WM_COMPLETED, A(5), NULL);
    add_stage(&w, 1, A(5))->status = WM_PROCESSING;
    poll_expect(m, &w, P(5), WM_RUNNING, 1);
    /* The timer fires 2 s late: the spans still end at the deadline. */
    int64_t deadline = T0 + TIMEOUT;
    assert_int_equal(mdl_monitor_timeout(m, deadline + 2 * SEC), MDL_DONE);
    assert_int_equal(m->root.end, MDL_END_TIMEOUT);
    /* Later answers change nothing. */
    poll_expect(m, &w, deadline + 5 * SEC, MDL_DONE, 0);
    assert_int_equal(mdl_monitor_not_found(m, deadline + 6 * SEC), MDL_DONE);
    assert_int_equal(m->root.end, MDL_END_TIMEOUT);

    exo_span **sp = build(m, 4);
    const char *ids[] = {IDS[0], IDS[1]};
    check_ids(sp, 4, ids);
    check_queued(sp[2], T0, A(0));
    check_status(sp[0], EXO_STATUS_OK, NULL, NULL);
    check_stage_attrs(sp[0], 0, A(0), A(5));
    assert_int_equal(sp[1]->start_ns, A(5));
    assert_int_equal(sp[1]->end_ns, deadline);
    check_status(sp[1], EXO_STATUS_ERROR, "Monitor timed out", "timeout");
    check_stage_attrs(sp[1], 1, A(5), NONE);
    assert_int_equal(sp[1]->nevents, 2);
    check_event(sp[1], 0, "Initializing", A(5), P(5), S(0), "source");
    check_event(sp[1], 1, "Processing", P(5), P(5), S(0), "poll");
    const exo_span *r = sp[3];
    assert_int_equal(r->start_ns, T0);
    assert_int_equal(r->end_ns, deadline);
    check_status(r, EXO_STATUS_ERROR, "Monitor timed out", "timeout");
    check_root_attrs(r, A(0), NONE, "timeout", 2, 0);
    assert_int_equal(r->nevents, 3);
    check_event(r, 1, "Initializing", A(0), P(0), NONE, "source");
    check_event(r, 2, "Processing", A(0), P(0), NONE, "source");
    mdl_spans_free(sp, 4);
    mdl_monitor_free(m);
}

static void test_timeout_never_polled(void **state)
{
    (void)state;
    mdl_monitor *m = mdl_monitor_new(WFID, T0 - 2 * SEC, T0, TIMEOUT, MDL_SEED_MAX_NODES, MDL_SEED_MAX_EVENTS);
    assert_non_null(m);
    mdl_monitor_poll_failed(m);
    mdl_monitor_poll_failed(m);
    /* Called before the deadline (e.g. at shutdown): ends then. */
    assert_int_equal(mdl_monitor_timeout(m, P(2)), MDL_DONE);
    exo_span **sp = build(m, 1);
    const exo_span *r = sp[0];
    assert_int_equal(r->start_ns, T0 - 2 * SEC); /* SubmittedAt: nothing better is known */
    assert_int_equal(r->end_ns, P(2));
    check_root_attrs(r, NONE, NONE, "timeout", 0, 2);
    check_status(r, EXO_STATUS_ERROR, "Monitor timed out", "timeout");
    assert_int_equal(r->nevents, 1);
    assert_string_equal(r->events[0].name, "Submitted");
    assert_int_equal(r->events[0].time_ns, T0 - 2 * SEC);
    mdl_spans_free(sp, 1);
    mdl_monitor_free(m);
}

static void test_not_found(void **state)
{
    (void)state;
    /* Never seen by the API. */
    mdl_monitor *m = new_monitor();
    assert_int_equal(mdl_monitor_not_found(m, P(0)), MDL_DONE);
    exo_span **sp = build(m, 1);
    assert_int_equal(sp[0]->start_ns, T0);
    assert_int_equal(sp[0]->end_ns, P(0));
    check_status(sp[0], EXO_STATUS_ERROR, "workflow not found by API", "not_found");
    check_root_attrs(sp[0], NONE, NONE, "error", 0, 0);
    assert_int_equal(sp[0]->nevents, 1);
    mdl_spans_free(sp, 1);
    mdl_monitor_free(m);

    /* Seen, then lost by the API: the open stage ends with it. */
    m = new_monitor();
    tb_workflow w = {WM_PROCESSING, A(0), NONE, NULL, 0, {{0}}};
    add_stage(&w, 0, A(0));
    poll_expect(m, &w, P(0), WM_RUNNING, 1);
    assert_int_equal(mdl_monitor_not_found(m, P(1)), MDL_DONE);
    sp = build(m, 3);
    assert_int_equal(sp[0]->end_ns, P(1));
    check_status(sp[0], EXO_STATUS_ERROR, "workflow not found by API", "not_found");
    check_stage_attrs(sp[0], 0, A(0), NONE);
    check_queued(sp[1], T0, A(0));
    assert_int_equal(sp[2]->start_ns, T0);
    assert_int_equal(sp[2]->end_ns, P(1));
    check_status(sp[2], EXO_STATUS_ERROR, "workflow not found by API", "not_found");
    check_root_attrs(sp[2], A(0), NONE, "error", 1, 0);
    mdl_spans_free(sp, 3);
    mdl_monitor_free(m);
}

/* ---- gaps, errors, duplicates ----------------------------------------------- */

/* The first poll comes late (the workflow is already Processing), then
 * three polls fail, then one poll shows two changes at once, then the
 * last shows a stage that came and went between polls. */
static void test_missed_and_failed_polls(void **state)
{
    (void)state;
    mdl_monitor *m = new_monitor();
    tb_workflow w = {WM_PROCESSING, A(0), NONE, NULL, 0, {{0}}};
    add_stage(&w, 0, A(1))->status = WM_PROCESSING;
    poll_expect(m, &w, P(3), WM_RUNNING, 1);
    uint32_t v = m->version;
    mdl_monitor_poll_failed(m);
    mdl_monitor_poll_failed(m);
    mdl_monitor_poll_failed(m);
    assert_int_equal(m->version, v); /* failures are counted, not state */
    assert_int_equal(m->poll_errors, 3);
    assert_int_equal(m->last_sent_ns, S(3));
    end_stage(&w.stages[0], WM_COMPLETED, A(5), NULL);
    add_stage(&w, 1, A(5))->status = WM_PROCESSING;
    poll_expect(m, &w, P(7), WM_RUNNING, 1);
    end_stage(&w.stages[1], WM_COMPLETED, A(8), NULL);
    end_stage(add_stage(&w, 2, A(8)), WM_COMPLETED, A(9), NULL);
    w.status = WM_COMPLETED;
    w.end = A(9);
    poll_expect(m, &w, P(10), MDL_DONE, 1);

    exo_span **sp = build(m, 5);
    check_ids(sp, 5, IDS);
    /* DataLoader: first seen Processing on the late first poll. */
    assert_int_equal(sp[0]->nevents, 3);
    check_event(sp[0], 0, "Initializing", A(1), P(3), NONE, "source");
    check_event(sp[0], 1, "Processing", P(3), P(3), NONE, "poll");
    check_event(sp[0], 2, "Completed", A(5), P(7), S(3), "source");
    /* Processor: first seen Processing after the failed polls. */
    assert_int_equal(sp[1]->nevents, 3);
    check_event(sp[1], 0, "Initializing", A(5), P(7), S(3), "source");
    check_event(sp[1], 1, "Processing", P(7), P(7), S(3), "poll");
    check_event(sp[1], 2, "Completed", A(8), P(10), S(7), "source");
    /* OutputGenerator: never seen Processing; none is invented. */
    assert_int_equal(sp[2]->nevents, 2);
    check_event(sp[2], 0, "Initializing", A(8), P(10), S(7), "source");
    check_event(sp[2], 1, "Completed", A(9), P(10), S(7), "source");
    for (int i = 0; i < 3; i++) check_status(sp[i], EXO_STATUS_OK, NULL, NULL);
    check_stage_attrs(sp[2], 2, A(8), A(9));
    /* The workflow: Initializing and Processing both from source times. */
    const exo_span *r = sp[4];
    assert_int_equal(r->nevents, 4);
    check_event(r, 1, "Initializing", A(0), P(3), NONE, "source");
    check_event(r, 2, "Processing", A(1), P(3), NONE, "source");
    check_event(r, 3, "Completed", A(9), P(10), S(7), "source");
    check_root_attrs(r, A(0), A(9), "ok", 3, 3);
    mdl_spans_free(sp, 5);
    mdl_monitor_free(m);
}

static void test_duplicate_polls(void **state)
{
    (void)state;
    mdl_monitor *m = new_monitor();
    tb_workflow w = {WM_INITIALIZING, A(0), NONE, NULL, 0, {{0}}};
    poll_expect(m, &w, P(0), WM_RUNNING, 1);
    uint32_t v = m->version;
    uint8_t ne = m->nevents;
    poll_expect(m, &w, P(1), WM_RUNNING, 0);
    poll_expect(m, &w, P(2), WM_RUNNING, 0);
    assert_int_equal(m->version, v);
    assert_int_equal(m->nevents, ne);
    assert_int_equal(m->polls, 3);
    assert_int_equal(m->last_sent_ns, S(2));
    /* The next change is bracketed by the last successful poll. */
    add_stage(&w, 0, A(3));
    w.status = WM_PROCESSING;
    mdl_monitor_poll_failed(m);
    poll_expect(m, &w, P(4), WM_RUNNING, 1);
    assert_int_equal(mdl_monitor_timeout(m, P(5)), MDL_DONE);
    exo_span **sp = build(m, 3);
    check_event(sp[0], 0, "Initializing", A(3), P(4), S(2), "source");
    assert_int_equal(sp[2]->nevents, 3);
    check_event(sp[2], 1, "Initializing", A(0), P(0), NONE, "source");
    check_event(sp[2], 2, "Processing", A(3), P(4), S(2), "source");
    check_root_attrs(sp[2], A(0), NONE, "timeout", 4, 1);
    mdl_spans_free(sp, 3);
    mdl_monitor_free(m);
}

/* The first successful poll sees a finished workflow. */
static void test_first_poll_after_completion(void **state)
{
    (void)state;
    mdl_monitor *m = new_monitor();
    tb_workflow w = {WM_COMPLETED, A(0), A(30), NULL, 0, {{0}}};
    end_stage(add_stage(&w, 0, A(1)), WM_COMPLETED, A(10), NULL);
    end_stage(add_stage(&w, 1, A(10)), WM_COMPLETED, A(25), NULL);
    end_stage(add_stage(&w, 2, A(25)), WM_COMPLETED, A(30), NULL);
    poll_expect(m, &w, P(40), MDL_DONE, 1);
    exo_span **sp = build(m, 5);
    check_ids(sp, 5, IDS);
    int64_t starts[] = {A(1), A(10), A(25)}, ends[] = {A(10), A(25), A(30)};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sp[i]->start_ns, starts[i]);
        assert_int_equal(sp[i]->end_ns, ends[i]);
        assert_int_equal(sp[i]->nevents, 2);
        check_event(sp[i], 0, "Initializing", starts[i], P(40), NONE, "source");
        check_event(sp[i], 1, "Completed", ends[i], P(40), NONE, "source");
        check_status(sp[i], EXO_STATUS_OK, NULL, NULL);
        check_stage_attrs(sp[i], i, starts[i], ends[i]);
    }
    assert_int_equal(sp[4]->nevents, 3);
    check_event(sp[4], 1, "Initializing", A(0), P(40), NONE, "source");
    check_event(sp[4], 2, "Completed", A(30), P(40), NONE, "source");
    check_root_attrs(sp[4], A(0), A(30), "ok", 1, 0);
    mdl_spans_free(sp, 5);
    mdl_monitor_free(m);
}

/* A contract oddity: the workflow completes while a stage is open. */
static void test_stage_open_at_workflow_end(void **state)
{
    (void)state;
    mdl_monitor *m = new_monitor();
    tb_workflow w = {WM_PROCESSING, A(0), NONE, NULL, 0, {{0}}};
    add_stage(&w, 0, A(0));
    poll_expect(m, &w, P(0), WM_RUNNING, 1);
    w.stages[0].status = WM_PROCESSING;
    w.status = WM_FAILED;
    w.end = A(2);
    /* No workflowErrorMessage: the span says the API gave none. */
    poll_expect(m, &w, P(2), MDL_DONE, 1);
    exo_span **sp = build(m, 3);
    assert_int_equal(sp[0]->end_ns, A(2));
    check_status(sp[0], EXO_STATUS_ERROR, "stage still open when workflow ended", "stage_open");
    check_stage_attrs(sp[0], 0, A(0), NONE);
    assert_int_equal(sp[0]->nevents, 2);
    check_event(sp[0], 1, "Processing", P(2), P(2), S(0), "poll");
    check_status(sp[2], EXO_STATUS_ERROR, "workflow failed without an error message", "workflow_failed");
    check_root_attrs(sp[2], A(0), A(2), "error", 2, 0);
    check_event(sp[2], 3, "Failed", A(2), P(2), S(0), "source");
    mdl_spans_free(sp, 3);
    mdl_monitor_free(m);
}

/* A status that comes back gets the poll time: the source time of its
 * first occurrence would put it before the events in between. */
static void test_status_back_and_forth(void **state)
{
    (void)state;
    mdl_monitor *m = new_monitor();
    tb_workflow w = {WM_PROCESSING, A(0), NONE, NULL, 0, {{0}}};
    tb_stage *st = add_stage(&w, 0, A(0));
    poll_expect(m, &w, P(0), WM_RUNNING, 1);
    st->status = WM_PROCESSING;
    poll_expect(m, &w, P(1), WM_RUNNING, 1);
    st->status = WM_INITIALIZING;
    poll_expect(m, &w, P(2), WM_RUNNING, 1);
    st->status = WM_PROCESSING;
    poll_expect(m, &w, P(3), WM_RUNNING, 1);
    mdl_monitor_timeout(m, P(4));
    exo_span **sp = build(m, 3);
    assert_int_equal(sp[0]->nevents, 4);
    check_event(sp[0], 0, "Initializing", A(0), P(0), NONE, "source");
    check_event(sp[0], 1, "Processing", P(1), P(1), S(0), "poll");
    check_event(sp[0], 2, "Initializing", P(2), P(2), S(1), "poll");
    check_event(sp[0], 3, "Processing", P(3), P(3), S(2), "poll");
    mdl_spans_free(sp, 3);
    mdl_monitor_free(m);
}

/* ---- truthful windows -------------------------------------------------------- */

/* An injected clock for the poller's side: the request of each poll leaves
 * at `sent`, the API reads its clock `api` later, the reply arrives at
 * `received`. */
typedef struct poll_at {
    int64_t sent, api, received;
} poll_at;

/* The API changes a stage to Processing just after answering a poll, while
 * that poll's reply is still on its way; the next poll sees it. The
 * event's window runs from the first poll's send to the second's receive
 * and holds the change (the first poll's receive time would not). */
static void test_window_holds_transition_after_api_read(void **state)
{
    (void)state;
    mdl_monitor *m = new_monitor();
    tb_workflow w = {WM_PROCESSING, A(0), NONE, NULL, 0, {{0}}};
    tb_stage *st = add_stage(&w, 0, A(0));
    poll_at p1 = {P(1), P(1) + 1 * MS, P(1) + 30 * MS};
    poll_sent_expect(m, &w, 0, p1.sent, p1.received, WM_RUNNING, 1);
    int64_t change = p1.api + 7 * MS; /* after the API answered, before the reply arrived */
    assert_true(change > p1.api && change < p1.received);
    st->status = WM_PROCESSING;
    poll_at p2 = {P(2), P(2) + 1 * MS, P(2) + 2 * MS};
    poll_sent_expect(m, &w, 0, p2.sent, p2.received, WM_RUNNING, 1);
    const mdl_node *st0 = &m->nodes[0];
    const mdl_event *e = &st0->events[st0->nevents - 1];
    assert_string_equal(mdl_monitor_word(m, e->word), "Processing");
    assert_int_equal(e->after_ns, p1.sent);
    assert_int_equal(e->before_ns, p2.received);
    assert_true(e->after_ns <= change && change <= e->before_ns);
    assert_true(e->after_ns <= e->time_ns && e->time_ns <= e->before_ns);
    mdl_monitor_free(m);
}

/* A poll whose reply takes 4 s: the change it reports happened before the
 * API answered, early in that time; its window still ends at the receive
 * time and starts at the previous send, so it holds both the change and
 * the API's own end time. */
static void test_slow_reply_keeps_window_honest(void **state)
{
    (void)state;
    mdl_monitor *m = new_monitor();
    tb_workflow w = {WM_PROCESSING, A(0), NONE, NULL, 0, {{0}}};
    tb_stage *st = add_stage(&w, 0, A(0));
    st->status = WM_PROCESSING;
    poll_at p1 = {P(1), P(1) + 1 * MS, P(1) + 2 * MS};
    poll_sent_expect(m, &w, 0, p1.sent, p1.received, WM_RUNNING, 1);
    poll_at slow = {P(2), P(2) + 5 * MS, P(2) + 4 * SEC};
    end_stage(st, WM_COMPLETED, slow.api, NULL); /* the API ends it as it answers */
    w.status = WM_COMPLETED;
    w.end = slow.api;
    poll_sent_expect(m, &w, 0, slow.sent, slow.received, MDL_DONE, 1);
    for (size_t i = 0; i < m->nodes[0].nevents + m->root.nevents; i++) {
        const mdl_event *e = i < m->nodes[0].nevents ? &m->nodes[0].events[i] : &m->root.events[i - m->nodes[0].nevents];
        if (strcmp(mdl_monitor_word(m, e->word), "Completed") != 0) continue;
        assert_int_equal(e->time_ns, slow.api);
        assert_int_equal(e->after_ns, p1.sent);
        assert_int_equal(e->before_ns, slow.received);
    }
    /* The next poll after a slow one brackets from the slow one's send,
     * not from its late receive. */
    assert_int_equal(m->last_sent_ns, slow.sent);
    /* A clock that stepped back between send and receive: the bracket
     * stays inside the poll. */
    mdl_monitor *m2 = new_monitor();
    tb_workflow w2 = {WM_INITIALIZING, A(0), NONE, NULL, 0, {{0}}};
    poll_sent_expect(m2, &w2, 0, P(0) + SEC, P(0), WM_RUNNING, 1);
    assert_int_equal(m2->last_sent_ns, P(0));
    mdl_monitor_free(m2);
    mdl_monitor_free(m);
}

/* Queued appears only when SubmittedAt is before the API's start. */
static void test_queued_only_with_positive_wait(void **state)
{
    (void)state;
    int64_t submits[] = {A(0) - 1, A(0), A(0) + 2 * SEC}; /* 1 ns before, same instant, after (skewed clocks) */
    for (int k = 0; k < 3; k++) {
        mdl_monitor *m = mdl_monitor_new(WFID, submits[k], T0, TIMEOUT, MDL_SEED_MAX_NODES, MDL_SEED_MAX_EVENTS);
        tb_workflow w = {WM_COMPLETED, A(0), A(1), NULL, 0, {{0}}};
        end_stage(add_stage(&w, 0, A(0)), WM_COMPLETED, A(1), NULL);
        poll_expect(m, &w, P(1), MDL_DONE, 1);
        size_t want = k == 0 ? 3 : 2;
        exo_span **sp = build(m, want);
        const exo_span *r = sp[want - 1];
        assert_string_equal(r->name, "Workflow");
        assert_int_equal(r->start_ns, k == 0 ? submits[k] : A(0));
        check_time_attr(&r->attrs, "startTime", A(0)); /* the API's start, always */
        if (k == 0) check_queued(sp[1], submits[0], A(0));
        if (k) assert_string_equal(sp[0]->name, "DataLoader");
        /* Submitted stays where it happened, inside the root unless the clocks disagree. */
        assert_int_equal(r->events[0].time_ns, submits[k]);
        mdl_spans_free(sp, want);
        mdl_monitor_free(m);
    }
}

/* Bounds that are not whole 100 ns ticks: the int bounds equal them, the
 * ISO bounds are rounded outwards, and the event lies inside both. */
static void test_bounds_exact_to_the_nanosecond(void **state)
{
    (void)state;
    mdl_monitor *m = new_monitor();
    tb_workflow w = {WM_PROCESSING, A(0), NONE, NULL, 0, {{0}}};
    tb_stage *st = add_stage(&w, 0, A(0));
    poll_sent_expect(m, &w, 0, P(0) + 12345, P(0) + 67891, WM_RUNNING, 1);
    st->status = WM_PROCESSING;
    poll_sent_expect(m, &w, 0, P(1) + 11, P(1) + 99999, WM_RUNNING, 1);
    mdl_monitor_timeout(m, P(2));
    exo_span **sp = build(m, 3);
    const exo_event *e = &sp[0]->events[1];
    assert_string_equal(e->name, "Processing");
    assert_int_equal(e->time_ns, P(1) + 99999);
    check_event(sp[0], 1, "Processing", P(1) + 99999, P(1) + 99999, P(0) + 12345, "poll");
    char b[EX_ISO_LEN + 1];
    check_str_attr(&e->attrs, "extrace.observed_before", ex_iso_format(P(1) + 100000, b));
    check_str_attr(&e->attrs, "extrace.observed_after", ex_iso_format(P(0) + 12300, b));
    /* Equal bounds: a poll answered in the very nanosecond it was sent. */
    mdl_monitor *m2 = new_monitor();
    tb_workflow w2 = {WM_INITIALIZING, A(0), NONE, NULL, 0, {{0}}};
    poll_sent_expect(m2, &w2, 0, P(0) + 7, P(0) + 7, WM_RUNNING, 1);
    w2.status = WM_PROCESSING;
    add_stage(&w2, 0, A(0))->status = WM_PROCESSING;
    poll_sent_expect(m2, &w2, 0, P(0) + 7, P(0) + 7, WM_RUNNING, 1);
    mdl_monitor_timeout(m2, P(1));
    exo_span **sp2 = build(m2, 3);
    check_event(sp2[0], 1, "Processing", P(0) + 7, P(0) + 7, P(0) + 7, "poll");
    mdl_spans_free(sp2, 3);
    mdl_monitor_free(m2);
    mdl_spans_free(sp, 3);
    mdl_monitor_free(m);
}

/* entityProcessingStartTime is the Processing event's time only when the
 * parser was told to read it; otherwise the poll that saw it is. */
static void test_processing_time_read_only_when_asked(void **state)
{
    (void)state;
    for (unsigned flags = 0; flags <= WM_PARSE_PROCESSING_TIME; flags += WM_PARSE_PROCESSING_TIME) {
        mdl_monitor *m = new_monitor();
        tb_workflow w = {WM_PROCESSING, A(0), NONE, NULL, 0, {{0}}};
        tb_stage *st = add_stage(&w, 0, A(0));
        poll_sent_expect(m, &w, flags, S(0), P(0), WM_RUNNING, 1);
        st->status = WM_PROCESSING;
        st->processing = A(0) + 4 * SEC;
        poll_sent_expect(m, &w, flags, S(1), P(1), WM_RUNNING, 1);
        mdl_monitor_timeout(m, P(2));
        exo_span **sp = build(m, 3);
        if (flags) check_event(sp[0], 1, "Processing", A(0) + 4 * SEC, P(1), S(0), "source");
        else check_event(sp[0], 1, "Processing", P(1), P(1), S(0), "poll");
        mdl_spans_free(sp, 3);
        mdl_monitor_free(m);
    }
}

/* ---- limits, allocation failures, misuse ------------------------------------ */

static void test_limits(void **state)
{
    (void)state;
    static char names[WM_MAX_STAGES + 1][8];
    mdl_monitor *m = new_monitor();
    tb_workflow w = {WM_PROCESSING, A(0), NONE, NULL, 0, {{0}}};
    /* An API that renames its one stage on every poll: only WM_MAX_STAGES are kept. */
    w.nstages = 1;
    for (int i = 0; i <= WM_MAX_STAGES; i++) {
        snprintf(names[i], sizeof names[i], "S%d", i);
        w.stages[0] = (tb_stage){names[i], "id", WM_INITIALIZING, A(i), NONE, NULL, 0};
        poll_expect(m, &w, P(i), WM_RUNNING, i < WM_MAX_STAGES);
    }
    assert_int_equal(m->nnodes, WM_MAX_STAGES);
    assert_int_equal(m->nodes_dropped, 1);
    /* A stage flapping between two statuses: events stop at MDL_SEED_MAX_EVENTS. */
    w.stages[0] = (tb_stage){names[0], "id", WM_INITIALIZING, A(0), NONE, NULL, 0};
    for (int i = 0; i < 2 * MDL_SEED_MAX_EVENTS; i++) {
        w.stages[0].status = i % 2 ? WM_INITIALIZING : WM_PROCESSING;
        poll_expect(m, &w, P(20 + i), WM_RUNNING, 1);
    }
    assert_int_equal(m->nevents, MDL_SEED_MAX_EVENTS);
    int kept = m->nodes[0].nevents;
    /* every poll above changed stage S0's status: one event each */
    assert_int_equal(m->events_dropped, 2 * MDL_SEED_MAX_EVENTS - (kept - 1));
    mdl_monitor_timeout(m, P(300));
    exo_span **sp = build(m, WM_MAX_STAGES + 2);
    const exo_span *r = sp[WM_MAX_STAGES + 1];
    check_int_attr(&r->attrs, "extrace.stages_dropped", 1);
    check_int_attr(&r->attrs, "extrace.events_dropped", m->events_dropped);
    assert_int_equal(sp[0]->nevents, (size_t)kept);
    mdl_spans_free(sp, WM_MAX_STAGES + 2);
    mdl_monitor_free(m);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    ex_mem_fail_after(0);
    assert_null(mdl_monitor_new(WFID, T0, T0, TIMEOUT, MDL_SEED_MAX_NODES, MDL_SEED_MAX_EVENTS));
    ex_mem_fail_after(-1);
    assert_null(mdl_monitor_new("", T0, T0, TIMEOUT, MDL_SEED_MAX_NODES, MDL_SEED_MAX_EVENTS));
    char long_id[4 * MDL_KEY_MAX + 2];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[4 * MDL_KEY_MAX + 1] = '\0';
    assert_null(mdl_monitor_new(long_id, T0, T0, TIMEOUT, MDL_SEED_MAX_NODES, MDL_SEED_MAX_EVENTS));

    /* Every allocation of a build failing in turn: an error, nothing leaked. */
    mdl_monitor *m = run_lifecycle(2);
    int failures = 0;
    for (long k = 0;; k++) {
        exo_span **sp = (exo_span **)&failures;
        size_t n = 99;
        ex_mem_fail_after(k);
        int rc = mdl_build_spans(m, &(mdl_build_opts){.key_attr = "workflowId", .ns = NS}, &sp, &n);
        ex_mem_fail_after(-1);
        if (rc == 0) {
            check_lifecycle(sp, n, 2);
            mdl_spans_free(sp, n);
            break;
        }
        assert_int_equal(rc, WM_ERR_NOMEM);
        assert_null(sp);
        assert_int_equal(n, 0);
        failures++;
    }
    assert_true(failures > 20);
    mdl_monitor_free(m);

    /* Without memory a poll still counts; what could not be kept is counted. */
    m = new_monitor();
    tb_workflow w = {WM_PROCESSING, A(0), NONE, NULL, 0, {{0}}};
    add_stage(&w, 0, A(0));
    static wm_snapshot s;
    char *body = render(&w);
    assert_int_equal(wm_snapshot_parse(body, strlen(body), WFID, &s, NULL, 0), 0);
    free(body);
    mdl_snapshot tree;
    mdl_snapshot_init(&tree);
    assert_int_equal(wm_snapshot_to_tree(&s, &tree), 0);
    ex_mem_fail_after(0);
    assert_int_equal(mdl_monitor_apply(m, &tree, S(0), P(0), NULL), WM_RUNNING);
    ex_mem_fail_after(-1);
    ex_free(tree.nodes);
    assert_int_equal(m->nnodes, 0);
    assert_int_equal(m->nodes_dropped, 1);
    assert_int_equal(m->events_dropped, 2);
    assert_int_equal(m->polls, 1);
    mdl_monitor_free(m);
}

static void test_misuse(void **state)
{
    (void)state;
    mdl_monitor *m = new_monitor();
    exo_span **sp = (exo_span **)m;
    size_t n = 5;
    assert_int_equal(mdl_build_spans(m, &(mdl_build_opts){.key_attr = "workflowId", .ns = NS}, &sp, &n), WM_ERR_STATE);
    assert_null(sp);
    assert_int_equal(n, 0);
    mdl_monitor_free(m);
    mdl_monitor_free(NULL);
    mdl_spans_free(NULL, 0);
    /* The deadline saturates instead of overflowing. */
    m = mdl_monitor_new(WFID, T0, INT64_MAX - SEC, TIMEOUT, MDL_SEED_MAX_NODES, MDL_SEED_MAX_EVENTS);
    assert_true(mdl_monitor_deadline(m) == INT64_MAX);
    mdl_monitor_free(m);
}

/* ---- memory -------------------------------------------------------------------- */

/* Heap bytes behind one allocation: usable size plus glibc's 8-byte chunk header. */
static size_t heap(const void *p) { return p ? malloc_usable_size((void *)p) + sizeof(size_t) : 0; }

static size_t heap_bytes(const mdl_monitor *m)
{
    size_t n = heap(m) + heap(m->nodes) + heap(m->extra) + (m->extra ? heap(m->extra->words) : 0);
    for (unsigned i = 0; i < mdl_monitor_nwords(m); i++) n += heap(m->extra->words[i]);
    for (size_t i = 0; i <= m->nnodes; i++) {
        const mdl_node *nd = i < m->nnodes ? &m->nodes[i] : &m->root;
        n += heap(nd->strs) + heap(nd->attrs) + heap(nd->events);
    }
    return n;
}

static void test_memory_idle(void **state)
{
    (void)state;
    mdl_monitor *m = new_monitor();
    tb_workflow w = {WM_INITIALIZING, A(0), NONE, NULL, 0, {{0}}};
    poll_expect(m, &w, P(0), WM_RUNNING, 1);
    add_stage(&w, 0, A(1));
    w.status = WM_PROCESSING;
    poll_expect(m, &w, P(1), WM_RUNNING, 1);
    /* 2 polls, 1 stage, 3 events: the exact bytes asked for ... */
    size_t stage_names = strlen(TYPES[0]) + strlen(IDS[0]) + 4; /* key, id, name (= key: ""), kind ("") */
    size_t words = 0; /* the seed's words are common ones */
    size_t attrs = mdl_attrs_len(m->root.attrs) + mdl_attrs_len(m->nodes[0].attrs);
    assert_int_equal(m->nevents, 3);
    assert_int_equal(mdl_monitor_size_bytes(m), offsetof(mdl_monitor, key) + strlen(WFID) + 1 + sizeof(mdl_node) +
                                                    stage_names + 3 * sizeof(mdl_event) + words + attrs);
    size_t idle = heap_bytes(m);
    print_message("monitor after 2 polls, 1 stage: sizeof %zu, requested %zu, heap %zu bytes in 4 allocations\n",
                  sizeof(mdl_monitor), mdl_monitor_size_bytes(m), idle);
    assert_true(idle <= 1024);
    /* ... and later in-flight states of the seed's lifecycle, up to the
     * largest: the third stage processing after the others went through
     * every status. */
    size_t most = 0;
    for (int i = 0; i < 3; i++) {
        if (i > 0) {
            end_stage(&w.stages[i - 1], WM_COMPLETED, A(2 * i + 1), NULL);
            add_stage(&w, i, A(2 * i + 1));
            poll_expect(m, &w, P(2 * i + 1), WM_RUNNING, 1);
        }
        w.stages[i].status = WM_PROCESSING;
        poll_expect(m, &w, P(2 * i + 2), WM_RUNNING, 1);
        most = heap_bytes(m);
        print_message("monitor with stage %d processing, %u events: requested %zu, heap %zu bytes\n", i + 1,
                      m->nevents, mdl_monitor_size_bytes(m), most);
        assert_true(most <= 1024);
    }
    assert_int_equal(m->nevents, 10);
    mdl_monitor_free(m);
}

/* What a workflow that was never polled costs (docs/worker.md#memory):
 * one allocation, its key inline, no extras. These sizes grow only on
 * purpose: 141 bytes before the key keep a GUID's monitor in a 192-byte
 * glibc chunk (184 bytes usable: a 208-byte one from 148 bytes on). The
 * note of the last document applied (doc_hash, doc_version) took it from
 * 129 bytes and a 176-byte chunk. */
static void test_memory_never_polled(void **state)
{
    (void)state;
    if (sizeof(void *) != 8) skip();
    assert_int_equal(offsetof(mdl_monitor, key), 141);
    assert_int_equal(sizeof(mdl_node), 56);
    assert_int_equal(sizeof(mdl_event), 26);
    mdl_monitor *m = new_monitor();
    assert_null(m->extra);
    assert_null(m->nodes);
    assert_int_equal(mdl_monitor_size_bytes(m), 141 + sizeof WFID);
    /* glibc serves it from a 192-byte chunk (184 usable); not asked of
     * heap_bytes(m): a larger free chunk an earlier test left may be
     * handed out whole */
    assert_true(mdl_monitor_size_bytes(m) <= 192 - 8);
    /* A state word of its own or a submitter's span brings the extras. */
    uint8_t tid[16] = {1}, sid[8] = {2};
    assert_int_equal(mdl_monitor_set_link(m, tid, sid, 1), 0);
    assert_non_null(mdl_monitor_link(m));
    assert_int_equal(mdl_monitor_link(m)->flags, 1);
    assert_int_equal(mdl_monitor_nwords(m), 0);
    int w = mdl_monitor_word_index(m, "Frobnicating");
    assert_true(w != MDL_NO_WORD);
    assert_int_equal(mdl_monitor_nwords(m), 1);
    assert_string_equal(mdl_monitor_word(m, (uint8_t)w), "Frobnicating");
    assert_string_equal(mdl_monitor_own_word(m, 0), "Frobnicating");
    assert_int_equal(mdl_monitor_word_index(m, "Frobnicating"), w);
    assert_true(mdl_monitor_word_valid(m, (uint8_t)w));
    assert_false(mdl_monitor_word_valid(m, (uint8_t)(w + 1)));
    mdl_monitor_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_stages_ok),
        cmocka_unit_test(test_each_stage_fails),
        cmocka_unit_test(test_ids_stable),
        cmocka_unit_test(test_timeout_with_open_stages),
        cmocka_unit_test(test_timeout_never_polled),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_missed_and_failed_polls),
        cmocka_unit_test(test_duplicate_polls),
        cmocka_unit_test(test_first_poll_after_completion),
        cmocka_unit_test(test_stage_open_at_workflow_end),
        cmocka_unit_test(test_status_back_and_forth),
        cmocka_unit_test(test_window_holds_transition_after_api_read),
        cmocka_unit_test(test_slow_reply_keeps_window_honest),
        cmocka_unit_test(test_queued_only_with_positive_wait),
        cmocka_unit_test(test_bounds_exact_to_the_nanosecond),
        cmocka_unit_test(test_processing_time_read_only_when_asked),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_memory_idle),
        cmocka_unit_test(test_memory_never_polled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
