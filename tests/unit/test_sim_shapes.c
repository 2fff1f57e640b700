/* test_sim_shapes.c — the simulator's personas cannot drift from the real
 * APIs: their answers, at every stage of a run, are compared with
 * recorded answers written from each system's public API reference
 * (tests/fixtures/sources/<source>/ files). Every member the simulator
 * sends must exist in the recorded answer with the same JSON type (null
 * matches any: nullable members), and every member of the recorded answer
 * must be sent, except those listed here as not simulated or optional
 * (omitted when empty, as Go's omitempty does). Array elements are
 * compared with the recorded first element; maps (Argo's nodes, labels)
 * value by value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "persona_client.h"

#define SEC EX_NS_PER_SEC

static pc c;

typedef struct rules {
    const char *const *optional; /* paths the simulator may leave out */
    const char *const *maps;     /* paths whose object keys are data */
} rules;

static int listed(const char *const *list, const char *path)
{
    for (; list && *list; list++)
        if (strcmp(*list, path) == 0) return 1;
    return 0;
}

static const char *kind(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

static char drift[600]; /* what differs, after compare() returned -1 */

/* The recorded elements of an array merged into one (objects: every member
 * any element has), so that a member of any recorded element is known. */
static void merge_into(json_t *into, json_t *from)
{
    const char *k;
    json_t *v;
    json_object_foreach(from, k, v) {
        json_t *have = json_object_get(into, k);
        if (!have || json_is_null(have)) json_object_set(into, k, v);
        else if (json_is_object(have) && json_is_object(v)) merge_into(have, v);
    }
}

static json_t *element_shape(json_t *ref)
{
    json_t *first = json_array_get(ref, 0);
    if (!json_is_object(first)) return json_incref(first);
    json_t *merged = json_deep_copy(first);
    for (size_t i = 1; i < json_array_size(ref); i++) merge_into(merged, json_array_get(ref, i));
    return merged;
}

/* 0 if sim has ref's shape under the rules, else -1 with `drift` set. */
static int compare(json_t *sim, json_t *ref, const char *path, const rules *r)
{
    if (json_is_null(sim) || json_is_null(ref)) return 0;
    if (strcmp(kind(sim), kind(ref)) != 0) {
        snprintf(drift, sizeof drift, "%s: the simulator sends a %s, the reference a %s", path, kind(sim), kind(ref));
        return -1;
    }
    char sub[512];
    int rc = 0;
    if (json_is_array(sim)) {
        if (json_array_size(ref) == 0) return 0;
        snprintf(sub, sizeof sub, "%s[]", path);
        json_t *shape = element_shape(ref);
        size_t i;
        json_t *v;
        json_array_foreach(sim, i, v) if (!rc) rc = compare(v, shape, sub, r);
        json_decref(shape);
        return rc;
    }
    if (!json_is_object(sim)) return 0;
    const char *k;
    json_t *v;
    if (listed(r->maps, path)) {
        json_t *values = json_array();
        json_object_foreach(ref, k, v) json_array_append(values, v);
        snprintf(sub, sizeof sub, "%s.*", path);
        json_t *shape = json_array_size(values) ? element_shape(values) : NULL;
        json_object_foreach(sim, k, v) if (!rc && shape) rc = compare(v, shape, sub, r);
        json_decref(shape);
        json_decref(values);
        return rc;
    }
    json_object_foreach(sim, k, v) {
        snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", k);
        json_t *rv = json_object_get(ref, k);
        if (!rv) {
            snprintf(drift, sizeof drift, "%s: sent by the simulator, not in the reference", sub);
            return -1;
        }
        if (compare(v, rv, sub, r)) return -1;
    }
    json_object_foreach(ref, k, v) {
        snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", k);
        if (!json_object_get(sim, k) && !listed(r->optional, sub)) {
            snprintf(drift, sizeof drift, "%s: in the reference, not sent by the simulator", sub);
            return -1;
        }
    }
    return 0;
}

static void same_shape(json_t *sim, json_t *ref, const rules *r)
{
    if (compare(sim, ref, "", r)) fail_msg("%s", drift);
}

static json_t *fixture(const char *source, const char *file)
{
    const char *dir = getenv("EXTRACE_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/sources/%s/%s", dir ? dir : ".", source, file);
    json_error_t err;
    json_t *doc = json_load_file(path, 0, &err);
    if (!doc) fail_msg("%s: %s (line %d)", path, err.text, err.line);
    return doc;
}

/* Poll `path` every `step` until `done` holds for 3 hours of fake time at
 * most, comparing every answer (and those of `also`) with the fixtures. */
static void follow(const char *path, json_t *ref, const char *also, json_t *also_ref, const rules *r,
                   int (*done)(json_t *))
{
    for (int i = 0; i < 3 * 3600; i++) {
        assert_int_equal(pc_get(&c, path, NULL), 200);
        json_t *doc = pc_json(&c);
        same_shape(doc, ref, r);
        int end = done(doc);
        json_decref(doc);
        if (also) {
            assert_int_equal(pc_get(&c, also, "filter=all"), 200);
            json_t *more = pc_json(&c);
            same_shape(more, also_ref, r);
            json_decref(more);
        }
        if (end) return;
        pc_sleep(&c, 3 * SEC);
    }
    fail_msg("%s never ended", path);
}

static int gh_done(json_t *d) { return strcmp(json_string_value(json_object_get(d, "status")), "completed") == 0; }

static void test_github_actions(void **state)
{
    static const char *const optional[] = {
        /* simple-user and minimal-repository have many more members than the simulator fills */
        "actor.node_id", "actor.avatar_url", "actor.url", "actor.html_url", "triggering_actor.node_id",
        "triggering_actor.avatar_url", "triggering_actor.url", "triggering_actor.html_url",
        "repository.owner.node_id", "repository.owner.avatar_url", "repository.owner.url",
        "repository.owner.html_url", "repository.hooks_url", "head_repository.owner.node_id",
        "head_repository.owner.avatar_url", "head_repository.owner.url", "head_repository.owner.html_url",
        "head_repository.hooks_url", NULL};
    rules r = {optional, NULL};
    json_t *run = fixture("github-actions", "run.json"), *jobs = fixture("github-actions", "jobs.json");
    pc_init(&c, &sim_persona_github, 4, 0.5, SIM_ADVANCE_ON_TIME);
    for (int i = 0; i < 4; i++) {
        char path[96], jpath[128];
        snprintf(path, sizeof path, "/repos/octo-org/hello-world/actions/runs/%d", 500 + i);
        snprintf(jpath, sizeof jpath, "%s/jobs", path);
        follow(path, run, jpath, jobs, &r, gh_done);
    }
    assert_int_equal(pc_get(&c, "/repos/octo-org/hello-world/actions/runs", NULL), 200);
    json_t *list = pc_json(&c);
    json_t *runs = json_object_get(list, "workflow_runs");
    assert_int_equal(json_array_size(runs), 4);
    for (size_t i = 0; i < 4; i++) same_shape(json_array_get(runs, i), run, &r);
    json_decref(list);
    pc_destroy(&c);
    json_decref(run);
    json_decref(jobs);
}

static int argo_done(json_t *d)
{
    const char *ph = json_string_value(json_object_get(json_object_get(d, "status"), "phase"));
    return ph && (strcmp(ph, "Succeeded") == 0 || strcmp(ph, "Failed") == 0);
}

static void test_argo_workflows(void **state)
{
    static const char *const optional[] = {
        /* omitted when empty (omitempty), or not simulated */
        "status.phase", "status.startedAt", "status.finishedAt", "status.progress", "status.nodes",
        "status.conditions", "status.resourcesDuration", "status.artifactRepositoryRef",
        "status.artifactGCStatus", "status.taskResultsCompletionStatus",
        "status.nodes.*.boundaryID", "status.nodes.*.message", "status.nodes.*.progress",
        "status.nodes.*.resourcesDuration", "status.nodes.*.children", "status.nodes.*.outboundNodes",
        "status.nodes.*.hostNodeName", "spec.templates[].dag", "spec.templates[].container",
        "spec.templates[].retryStrategy", "spec.templates[].dag.tasks[].dependencies",
        "spec.templates[].container.command", "spec.templates[].container.args", "metadata.labels", NULL};
    static const char *const maps[] = {"status.nodes", "metadata.labels", NULL};
    rules r = {optional, maps};
    json_t *wf = fixture("argo-workflows", "workflow.json");
    pc_init(&c, &sim_persona_argo, 4, 0.5, SIM_ADVANCE_ON_TIME);
    for (int i = 0; i < 4; i++) {
        char path[96];
        snprintf(path, sizeof path, "/api/v1/workflows/argo/ci-dag-s%d", i);
        follow(path, wf, NULL, NULL, &r, argo_done);
    }
    pc_destroy(&c);
    json_decref(wf);
}

static int airflow_done(json_t *d)
{
    const char *st = json_string_value(json_object_get(d, "state"));
    return strcmp(st, "success") == 0 || strcmp(st, "failed") == 0;
}

static void test_airflow(void **state)
{
    rules r = {NULL, NULL};
    json_t *run = fixture("airflow", "dag_run.json"), *tis = fixture("airflow", "task_instances.json");
    pc_init(&c, &sim_persona_airflow, 4, 0.5, SIM_ADVANCE_ON_TIME);
    for (int i = 0; i < 4; i++) {
        char path[128], tpath[160];
        snprintf(path, sizeof path, "/api/v1/dags/etl_daily/dagRuns/scheduled__2024-05-0%dT00:00:00+00:00", i + 1);
        snprintf(tpath, sizeof tpath, "%s/taskInstances", path);
        follow(path, run, tpath, tis, &r, airflow_done);
    }
    pc_destroy(&c);
    json_decref(run);
    json_decref(tis);
}

/* The comparison itself fails on a changed type, an invented member and a missing one. */
static void test_compare_catches_drift(void **state)
{
    rules r = {NULL, NULL};
    json_t *ref = json_pack("{s:s, s:i, s:[{s:s}]}", "status", "queued", "id", 1, "steps", "name", "x");
    json_t *same = json_pack("{s:s, s:i, s:[{s:n}]}", "status", "done", "id", 7, "steps", "name");
    assert_int_equal(compare(same, ref, "", &r), 0);
    json_t *retyped = json_pack("{s:i, s:i, s:[]}", "status", 3, "id", 7, "steps");
    assert_int_equal(compare(retyped, ref, "", &r), -1);
    assert_string_equal(drift, "status: the simulator sends a number, the reference a string");
    json_t *invented = json_pack("{s:s, s:i, s:[{s:s, s:b}]}", "status", "x", "id", 7, "steps", "name", "y", "extra", 1);
    assert_int_equal(compare(invented, ref, "", &r), -1);
    assert_string_equal(drift, "steps[].extra: sent by the simulator, not in the reference");
    json_t *missing = json_pack("{s:s, s:[]}", "status", "x", "steps");
    assert_int_equal(compare(missing, ref, "", &r), -1);
    assert_string_equal(drift, "id: in the reference, not sent by the simulator");
    json_decref(missing);
    json_decref(invented);
    json_decref(retyped);
    json_decref(same);
    json_decref(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare_catches_drift),
        cmocka_unit_test(test_github_actions),
        cmocka_unit_test(test_argo_workflows),
        cmocka_unit_test(test_airflow),
    };
    return cmocka_run_group_tests_name("sim_shapes", tests, NULL, NULL);
}
