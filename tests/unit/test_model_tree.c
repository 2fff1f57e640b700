/* The tree model: canonical snapshots read from JSON (every refusal named),
 * and the monitor fed scripted snapshots of a tree of any depth — nodes
 * appearing late, a retry, a node that disappears, cancelled and skipped
 * nodes, attributes that change — then its spans, checked field by field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "model/attrs.h"
#include "model/monitor.h"
#include "model/spans.h"
#include "otel/ids.h"

#define SEC EX_NS_PER_SEC
#define T0 (INT64_C(1714557600) * SEC) /* 2024-05-01T10:00:00Z */
#define P(k) (T0 + (int64_t)(k) * 10 * SEC + 5000000) /* poll k's answer arrives */
#define S(k) (P(k) - 2000000)                          /* poll k's request leaves */

/* ---- reading ---- */

static int read_snap(mdl_snapshot *s, const char *text, char *why, size_t len)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j) fail_msg("bad test JSON: %s", e.text);
    int rc = mdl_snapshot_from_json(s, j, why, len);
    json_decref(j);
    return rc;
}

static void expect_refused(const char *text, const char *needle)
{
    mdl_snapshot s;
    char why[300] = "";
    mdl_snapshot_init(&s);
    if (read_snap(&s, text, why, sizeof why) == 0) fail_msg("accepted %s", text);
    if (!strstr(why, needle)) fail_msg("message \"%s\" lacks \"%s\"", why, needle);
    mdl_snapshot_clear(&s);
    ex_free(s.nodes);
}

static void test_refusals_name_field_and_value(void **state)
{
    (void)state;
    expect_refused("[]", "snapshot: expected an object");
    expect_refused("{}", "status: required");
    expect_refused("{\"status\":\"done\"}", "status: unknown status \"done\"");
    expect_refused("{\"status\":\"ok\",\"start\":\"yesterday\"}", "start: expected an RFC 3339 time");
    expect_refused("{\"status\":\"ok\",\"start\":\"2024-05-01T10:00:05Z\",\"end\":\"2024-05-01T10:00:00Z\"}",
                   "end: before start");
    expect_refused("{\"status\":\"ok\",\"nodes\":[{\"status\":\"ok\"}]}", "nodes[0].key: required");
    expect_refused("{\"status\":\"ok\",\"nodes\":[{\"key\":\"a\",\"status\":\"ok\"},{\"key\":\"a\",\"status\":\"ok\"}]}",
                   "nodes[1].key: \"a\" is not unique");
    expect_refused("{\"status\":\"ok\",\"nodes\":[{\"key\":\"a\",\"parent\":\"zz\",\"status\":\"ok\"}]}",
                   "nodes[0].parent: \"zz\" is not a node of this snapshot");
    expect_refused("{\"status\":\"ok\",\"nodes\":[{\"key\":\"a\",\"parent\":\"b\",\"status\":\"ok\"},"
                   "{\"key\":\"b\",\"parent\":\"a\",\"status\":\"ok\"}]}",
                   "makes a cycle");
    expect_refused("{\"status\":\"ok\",\"attributes\":{\"x\":{\"y\":1}}}", "attributes: x: expected a string");
    expect_refused("{\"status\":\"ok\",\"attributes\":{\"x\":[1,\"a\"]}}", "x: an array mixes types");
    expect_refused("{\"status\":\"ok\",\"initial\":{\"time\":1}}", "initial.state: required");
    expect_refused("{\"status\":\"ok\",\"name\":\"\"}", "name: expected 1-256 bytes");
}

static void test_children_before_parents_are_reordered(void **state)
{
    (void)state;
    mdl_snapshot s;
    char why[300];
    mdl_snapshot_init(&s);
    const char *t = "{\"status\":\"running\",\"nodes\":["
                    "{\"key\":\"d\",\"parent\":\"c\",\"status\":\"ok\"},{\"key\":\"c\",\"parent\":\"b\",\"status\":\"ok\"},"
                    "{\"key\":\"b\",\"parent\":\"a\",\"status\":\"ok\"},{\"key\":\"a\",\"status\":\"running\"},"
                    "{\"key\":\"x\",\"status\":\"pending\",\"start\":1714557600.5}]}";
    if (read_snap(&s, t, why, sizeof why)) fail_msg("%s", why);
    const char *want[] = {"a", "x", "b", "c", "d"};
    for (size_t i = 0; i < 5; i++) assert_string_equal(s.nodes[i].key, want[i]);
    for (size_t i = 2; i < 5; i++) assert_int_equal(s.nodes[i].parent_idx, i == 2 ? 0 : i - 1);
    assert_true(s.nodes[1].start_ns == T0 + SEC / 2); /* unix seconds with a fraction */
    mdl_snapshot_clear(&s);
    ex_free(s.nodes);
}

/* Epoch milliseconds divided by 1000 (what a profile does for an API that
 * gives ms) come back exact: sec * 1e9 made 1796234316.010 into
 * 1796234316009999872 ns (seen as .0099998Z). */
static void test_fractional_seconds_exact_to_the_microsecond(void **state)
{
    (void)state;
    static const char *const texts[] = {"1796234316.010", "1796234316.999", "1714557600.000001", "1.5", "0.001"};
    static const int64_t want[] = {INT64_C(1796234316010000000), INT64_C(1796234316999000000),
                                   INT64_C(1714557600000001000), INT64_C(1500000000), INT64_C(1000000)};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        json_t *v = json_loads(texts[i], JSON_DECODE_ANY, NULL);
        int64_t ns;
        assert_int_equal(mdl_time_from_json(v, &ns), 0);
        if (ns != want[i]) fail_msg("%s: %lld ns, want %lld", texts[i], (long long)ns, (long long)want[i]);
        json_decref(v);
    }
    for (int64_t ms = INT64_C(1796234316000); ms < INT64_C(1796234316000) + 5000; ms++) {
        json_t *v = json_real((double)ms / 1000);
        int64_t ns;
        assert_int_equal(mdl_time_from_json(v, &ns), 0);
        assert_true(ns == ms * 1000000);
        json_decref(v);
    }
}

/* ---- a scripted run of a tree ---- */

static mdl_monitor *new_monitor(void)
{
    mdl_monitor *m = mdl_monitor_new("octo/hello/42", T0 - SEC, T0 - SEC, 3600 * SEC, MDL_MAX_NODES,
                                     MDL_DEF_MAX_EVENTS);
    assert_non_null(m);
    return m;
}

static int poll(mdl_monitor *m, int k, const char *text)
{
    mdl_snapshot s;
    char why[300];
    mdl_snapshot_init(&s);
    if (read_snap(&s, text, why, sizeof why)) fail_msg("poll %d: %s", k, why);
    int rc = mdl_monitor_apply(m, &s, S(k), P(k), NULL);
    mdl_snapshot_clear(&s);
    ex_free(s.nodes);
    return rc;
}

static const exo_span *span_named(exo_span **sp, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(sp[i]->name, name) == 0) return sp[i];
    fail_msg("no span %s", name);
    return NULL;
}

static void assert_parent(const exo_span *child, const exo_span *parent)
{
    assert_true(child->has_parent);
    assert_memory_equal(child->parent_span_id, parent->span_id, 8);
}

static const char *str_attr(const exo_span *sp, const char *key)
{
    const exo_attr *a = exo_attrs_find(&sp->attrs, key);
    return a && a->type == EXO_VAL_STRING ? a->v.s : NULL;
}

#define RUN0 "{\"name\":\"CI\",\"status\":\"pending\",\"state\":\"queued\",\"since\":\"2024-05-01T10:00:00Z\"," \
             "\"start\":\"2024-05-01T10:00:00Z\",\"attributes\":{\"cicd.pipeline.name\":\"CI\"}}"
/* depth 4: run > job > step > sub-step > sub-sub-step */
#define RUN1 "{\"name\":\"CI\",\"status\":\"running\",\"state\":\"in_progress\",\"since\":\"2024-05-01T10:00:03Z\"," \
    "\"initial\":{\"state\":\"queued\",\"time\":\"2024-05-01T10:00:00Z\"},\"start\":\"2024-05-01T10:00:00Z\"," \
    "\"attributes\":{\"cicd.pipeline.name\":\"CI\",\"n\":1,\"f\":0.5,\"b\":true,\"tags\":[\"a\",\"b\"],\"gone\":null}," \
    "\"nodes\":[" \
    "{\"key\":\"job/1\",\"name\":\"build\",\"kind\":\"job\",\"status\":\"running\",\"state\":\"in_progress\"," \
    " \"initial\":{\"state\":\"queued\",\"time\":\"2024-05-01T10:00:01Z\"},\"since\":\"2024-05-01T10:00:04Z\"," \
    " \"start\":\"2024-05-01T10:00:04Z\"}," \
    "{\"key\":\"step/1/1\",\"parent\":\"job/1\",\"name\":\"Checkout\",\"status\":\"ok\",\"state\":\"success\"," \
    " \"start\":\"2024-05-01T10:00:05Z\",\"end\":\"2024-05-01T10:00:06Z\"}," \
    "{\"key\":\"step/1/2\",\"parent\":\"job/1\",\"name\":\"Test\",\"status\":\"running\",\"start\":\"2024-05-01T10:00:06Z\"}," \
    "{\"key\":\"sub/1/2/a\",\"parent\":\"step/1/2\",\"name\":\"unit\",\"status\":\"running\",\"start\":\"2024-05-01T10:00:07Z\"}," \
    "{\"key\":\"sub/1/2/a/i\",\"parent\":\"sub/1/2/a\",\"name\":\"shard-1\",\"status\":\"error\",\"error\":\"exit 1\"," \
    " \"start\":\"2024-05-01T10:00:07Z\",\"end\":\"2024-05-01T10:00:08Z\"}," \
    "{\"key\":\"job/2\",\"name\":\"lint\",\"status\":\"running\",\"start\":\"2024-05-01T10:00:02Z\"}]}"
/* job/2 disappears; job/1 attempt 2 appears late (a retry); the test step is cancelled; deploy skipped */
#define RUN2 "{\"name\":\"CI\",\"status\":\"error\",\"state\":\"failure\",\"end\":\"2024-05-01T10:01:00Z\"," \
    "\"error\":\"1 job failed\",\"start\":\"2024-05-01T10:00:00Z\",\"attributes\":{\"cicd.pipeline.name\":\"CI\"," \
    "\"cicd.pipeline.result\":\"failure\"},\"nodes\":[" \
    "{\"key\":\"job/1\",\"name\":\"build\",\"kind\":\"job\",\"status\":\"error\",\"state\":\"failure\"," \
    " \"start\":\"2024-05-01T10:00:04Z\",\"end\":\"2024-05-01T10:00:30Z\"}," \
    "{\"key\":\"step/1/2\",\"parent\":\"job/1\",\"name\":\"Test\",\"status\":\"cancelled\",\"start\":\"2024-05-01T10:00:06Z\"}," \
    "{\"key\":\"job/1#2\",\"name\":\"build (attempt 2)\",\"status\":\"ok\",\"start\":\"2024-05-01T10:00:31Z\"," \
    " \"end\":\"2024-05-01T10:00:50Z\"}," \
    "{\"key\":\"job/3\",\"name\":\"deploy\",\"status\":\"skipped\"}]}"

static void test_tree_run(void **state)
{
    (void)state;
    mdl_monitor *m = new_monitor();
    assert_int_equal(poll(m, 0, RUN0), 0);
    assert_int_equal(poll(m, 1, RUN1), 0);
    assert_int_equal(m->nnodes, 6);
    assert_int_equal(poll(m, 2, RUN2), MDL_DONE);
    assert_int_equal(m->nnodes, 8);
    exo_span **sp;
    size_t n;
    mdl_build_opts o = {"dev1", "github-actions", "Workflow", NULL};
    assert_int_equal(mdl_build_spans(m, &o, &sp, &n), 0);
    assert_int_equal(n, 8 + 1 + 1); /* nodes, Queued, root */
    const exo_span *root = sp[n - 1];
    assert_string_equal(root->name, "CI");
    uint8_t trace[16], id[8];
    mdl_trace_id("dev1", "github-actions", "octo/hello/42", trace);
    assert_memory_equal(root->trace_id, trace, 16);
    exo_span_id(trace, "Workflow", "", id);
    assert_memory_equal(root->span_id, id, 8);
    assert_string_equal(str_attr(root, "extrace.workflow.key"), "octo/hello/42");
    assert_string_equal(str_attr(root, "cicd.pipeline.result"), "failure"); /* latest attributes */
    assert_null(exo_attrs_find(&root->attrs, "n"));
    assert_int_equal(root->status_code, EXO_STATUS_ERROR);
    assert_string_equal(root->status_message, "1 job failed");
    assert_string_equal(str_attr(root, "error.type"), "workflow_failed");
    assert_true(root->end_ns == T0 + 60 * SEC);
    /* root events: Submitted, queued (initial, source time), in_progress (since), failure (no since: its end) */
    assert_int_equal(root->nevents, 4);
    assert_string_equal(root->events[1].name, "queued");
    assert_true(root->events[1].time_ns == T0);
    assert_string_equal(root->events[2].name, "in_progress");
    assert_true(root->events[2].time_ns == T0 + 3 * SEC);
    assert_string_equal(root->events[3].name, "failure");
    assert_true(root->events[3].time_ns == T0 + 60 * SEC);
    /* cancelled without an end: the poll's time */
    const exo_span *t2 = span_named(sp, n, "Test");
    assert_true(t2->events[t2->nevents - 1].time_ns == P(2));
    /* the tree, depth 4 below the root */
    const exo_span *build = span_named(sp, n, "build"), *test = span_named(sp, n, "Test");
    const exo_span *unit = span_named(sp, n, "unit"), *shard = span_named(sp, n, "shard-1");
    assert_parent(build, root);
    assert_parent(span_named(sp, n, "Checkout"), build);
    assert_parent(test, build);
    assert_parent(unit, test);
    assert_parent(shard, unit);
    exo_span_id(trace, "sub/1/2/a/i", "", id);
    assert_memory_equal(shard->span_id, id, 8);
    assert_string_equal(str_attr(build, "extrace.node.kind"), "job");
    assert_int_equal(build->status_code, EXO_STATUS_ERROR);
    assert_string_equal(build->status_message, "stage failed without an error message");
    assert_int_equal(shard->status_code, EXO_STATUS_ERROR);
    assert_string_equal(shard->status_message, "exit 1");
    assert_string_equal(str_attr(shard, "endTime"), "2024-05-01T10:00:08.0000000Z");
    /* cancelled without an end: ends at the poll that saw it, no endTime */
    assert_int_equal(test->status_code, EXO_STATUS_ERROR);
    assert_string_equal(str_attr(test, "error.type"), "cancelled");
    assert_true(test->end_ns == P(2));
    assert_null(str_attr(test, "endTime"));
    /* the unit sub-step never ended by itself: open when the workflow ended */
    assert_string_equal(str_attr(unit, "error.type"), "stage_open");
    assert_true(unit->end_ns == T0 + 60 * SEC);
    /* job/2 disappeared: kept, ended with the workflow */
    assert_string_equal(str_attr(span_named(sp, n, "lint"), "error.type"), "stage_open");
    /* the retry appeared late, as its own span */
    const exo_span *retry = span_named(sp, n, "build (attempt 2)");
    assert_int_equal(retry->status_code, EXO_STATUS_OK);
    assert_true(retry->start_ns == T0 + 31 * SEC);
    /* skipped without times: status unset, at the poll that saw it */
    const exo_span *deploy = span_named(sp, n, "deploy");
    assert_int_equal(deploy->status_code, EXO_STATUS_UNSET);
    assert_true(deploy->start_ns == P(2) && deploy->end_ns == P(2));
    mdl_spans_free(sp, n);
    mdl_monitor_free(m);
}

/* Attribute types survive the blob, as the span carries them. */
static void test_attribute_types(void **state)
{
    (void)state;
    mdl_monitor *m = new_monitor();
    poll(m, 1, RUN1);
    exo_attrs a = {0};
    mdl_attr_refs refs = {NULL, NULL};
    assert_int_equal(mdl_attrs_apply(m->root.attrs, &refs, &a), 0);
    const exo_attr *x = exo_attrs_find(&a, "n");
    assert_true(x && x->type == EXO_VAL_INT && x->v.i == 1);
    x = exo_attrs_find(&a, "f");
    assert_true(x && x->type == EXO_VAL_DOUBLE && x->v.d == 0.5);
    x = exo_attrs_find(&a, "b");
    assert_true(x && x->type == EXO_VAL_BOOL && x->v.b);
    x = exo_attrs_find(&a, "tags");
    assert_true(x && x->type == EXO_VAL_STRING && strcmp(x->v.s, "[\"a\",\"b\"]") == 0);
    assert_null(exo_attrs_find(&a, "gone"));
    assert_int_equal(mdl_attrs_check(m->root.attrs, mdl_attrs_len(m->root.attrs)), 0);
    exo_attrs_clear(&a);
    mdl_monitor_free(m);
}

/* A large flat tree goes through the key index; repeating a poll changes nothing. */
static void test_wide_tree(void **state)
{
    (void)state;
    json_t *root = json_pack("{s:s}", "status", "running"), *nodes = json_array();
    for (int i = 0; i < 3000; i++) {
        char key[32];
        snprintf(key, sizeof key, "task/%d", i);
        json_array_append_new(nodes, json_pack("{s:s, s:s, s:s}", "key", key, "status", "running", "start",
                                               "2024-05-01T10:00:00Z"));
    }
    json_object_set_new(root, "nodes", nodes);
    mdl_monitor *m = new_monitor();
    mdl_snapshot s;
    char why[200];
    mdl_snapshot_init(&s);
    assert_int_equal(mdl_snapshot_from_json(&s, root, why, sizeof why), 0);
    int changed = -1;
    mdl_monitor_apply(m, &s, S(0), P(0), &changed);
    assert_int_equal(changed, 1);
    assert_int_equal(m->nnodes, 3000);
    mdl_monitor_apply(m, &s, S(1), P(1), &changed);
    assert_int_equal(changed, 0);
    assert_int_equal(m->polls, 2);
    assert_non_null(mdl_monitor_find(m, "task/2999"));
    mdl_snapshot_clear(&s);
    ex_free(s.nodes);
    json_decref(root);
    mdl_monitor_free(m);
}

/* An unchanged (all 304) poll is the same as applying the same snapshot again. */
static void test_unchanged_poll(void **state)
{
    (void)state;
    mdl_monitor *a = new_monitor(), *b = new_monitor();
    poll(a, 1, RUN1);
    poll(b, 1, RUN1);
    poll(a, 2, RUN1);
    mdl_monitor_unchanged(b, S(2), P(2));
    assert_int_equal(a->polls, b->polls);
    assert_true(a->last_sent_ns == b->last_sent_ns);
    assert_int_equal(a->version, b->version);
    mdl_monitor_free(a);
    mdl_monitor_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals_name_field_and_value),
        cmocka_unit_test(test_children_before_parents_are_reordered),
        cmocka_unit_test(test_fractional_seconds_exact_to_the_microsecond),
        cmocka_unit_test(test_tree_run),
        cmocka_unit_test(test_attribute_types),
        cmocka_unit_test(test_wide_tree),
        cmocka_unit_test(test_unchanged_poll),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
