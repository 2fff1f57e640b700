/* test_sim_persona_argo.c — `extrace api --source argo-workflows` without
 * sockets (src/sim/persona_argo.c): a workflow polled every second on a
 * fake clock, field by field — phases, node types, Argo's node ids and
 * names, displayName, boundaryID, children, messages, times — retries,
 * failing and omitted branches, no ETag, 404 bodies, the listing with
 * listOptions.limit / continue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "persona_client.h"

#define SEC EX_NS_PER_SEC

static pc c;

static const char *str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int one_of(const char *s, const char *const *w)
{
    for (; *w; w++)
        if (s && strcmp(s, *w) == 0) return 1;
    return 0;
}

static const char *const node_phases[] = {"Pending", "Running", "Succeeded", "Failed", "Error", "Skipped", "Omitted", NULL};
static const char *const wf_phases[] = {"Pending", "Running", "Succeeded", "Failed", "Error", NULL};
static const char *const types[] = {"Pod", "DAG", "Retry", "Skipped", "Steps", "StepGroup", NULL};

static uint32_t fnv32a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

typedef struct tally {
    int retried, failed, omitted, succeeded;
} tally;

/* Check one answer; returns 1 once the workflow has finished. */
static int check_workflow(json_t *wf, const char *name, tally *t, int final)
{
    json_t *meta = json_object_get(wf, "metadata");
    assert_string_equal(str(meta, "name"), name);
    assert_string_equal(str(meta, "namespace"), "argo");
    assert_non_null(str(meta, "uid"));
    json_t *st = json_object_get(wf, "status");
    const char *phase = str(st, "phase");
    if (!phase) { /* not yet picked up by the controller */
        assert_int_equal(json_object_size(st), 0);
        return 0;
    }
    assert_true(one_of(phase, wf_phases));
    assert_string_equal(str(json_object_get(meta, "labels"), "workflows.argoproj.io/phase"), phase);
    int done = strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0;
    int64_t started = pc_time(st, "startedAt"), finished = pc_time(st, "finishedAt");
    assert_true(done ? finished >= started : finished == SIM_NO_TIME);
    json_t *nodes = json_object_get(st, "nodes");
    json_t *root = json_object_get(nodes, name);
    assert_non_null(root);
    assert_string_equal(str(root, "type"), "DAG");
    assert_string_equal(str(root, "phase"), phase);
    assert_null(json_object_get(root, "boundaryID"));
    const char *prev_key = "";
    const char *id;
    json_t *n;
    json_object_foreach(nodes, id, n) {
        assert_true(strcmp(prev_key, id) < 0); /* Go writes map keys sorted */
        prev_key = id;
        assert_string_equal(str(n, "id"), id);
        const char *nname = str(n, "name");
        char want[512];
        if (strcmp(nname, name) == 0) snprintf(want, sizeof want, "%s", name);
        else snprintf(want, sizeof want, "%s-%u", name, fnv32a(nname));
        assert_string_equal(id, want);
        assert_true(one_of(str(n, "phase"), node_phases));
        assert_true(one_of(str(n, "type"), types));
        const char *dn = str(n, "displayName");
        assert_true(strlen(nname) >= strlen(dn) && strcmp(nname + strlen(nname) - strlen(dn), dn) == 0);
        int64_t s0 = pc_time(n, "startedAt"), s1 = pc_time(n, "finishedAt");
        assert_true(s0 >= started);
        const char *np = str(n, "phase");
        int ended = !one_of(np, (const char *const[]){"Pending", "Running", NULL});
        assert_true(ended ? s1 >= s0 : s1 == SIM_NO_TIME);
        if (strcmp(id, name) != 0) {
            json_t *boundary = json_object_get(nodes, str(n, "boundaryID"));
            assert_non_null(boundary);
            assert_string_equal(str(boundary, "type"), "DAG");
            assert_true(s0 >= pc_time(boundary, "startedAt"));
        }
        size_t i;
        json_t *child;
        json_array_foreach(json_object_get(n, "children"), i, child) {
            json_t *cn = json_object_get(nodes, json_string_value(child));
            assert_non_null(cn);
            assert_true(pc_time(cn, "startedAt") >= s0);
        }
        if (strcmp(np, "Omitted") == 0) {
            t->omitted += final;
            assert_string_equal(str(n, "type"), "Skipped");
            assert_string_equal(str(n, "message"), "omitted: depends condition not met");
        }
        if (strcmp(str(n, "type"), "Pod") == 0 && strcmp(np, "Failed") == 0)
            assert_string_equal(str(n, "message"), "Error (exit code 1)");
        if (strcmp(str(n, "type"), "Retry") == 0) {
            json_t *kids = json_object_get(n, "children");
            size_t nk = json_array_size(kids);
            assert_true(nk >= 1 && nk <= 3);
            for (size_t k = 0; k < nk; k++) { /* attempts: name(k), Pods of the Retry's boundary */
                json_t *a = json_object_get(nodes, json_string_value(json_array_get(kids, k)));
                char an[512];
                snprintf(an, sizeof an, "%s(%zu)", nname, k);
                assert_string_equal(str(a, "name"), an);
                assert_string_equal(str(a, "type"), "Pod");
                assert_string_equal(str(a, "boundaryID"), str(n, "boundaryID"));
                if (k + 1 < nk) assert_string_equal(str(a, "phase"), "Failed");
            }
            if (ended) {
                json_t *last = json_object_get(nodes, json_string_value(json_array_get(kids, nk - 1)));
                assert_string_equal(str(last, "phase"), np);
                assert_true(pc_time(last, "finishedAt") == s1);
                if (strcmp(np, "Failed") == 0) assert_string_equal(str(n, "message"), "No more retries left");
            }
            t->retried += final && nk > 1;
        }
    }
    if (final) {
        t->failed += strcmp(phase, "Failed") == 0;
        t->succeeded += strcmp(phase, "Succeeded") == 0;
    }
    return done;
}

static void test_workflows_field_by_field(void **state)
{
    pc_init(&c, &sim_persona_argo, 21, 0.15, SIM_ADVANCE_ON_TIME);
    tally t = {0};
    for (int w = 0; w < 12; w++) {
        char name[64], path[128];
        snprintf(name, sizeof name, "ci-dag-w%02d", w);
        snprintf(path, sizeof path, "/api/v1/workflows/argo/%s", name);
        int done = 0;
        for (int i = 0; i < 4 * 3600 && !done; i++) {
            assert_int_equal(pc_get(&c, path, NULL), 200);
            assert_null(pc_header(&c, "ETag")); /* the Argo Server sends none */
            json_t *wf = pc_json(&c);
            done = check_workflow(wf, name, &t, 0);
            if (done) check_workflow(wf, name, &t, 1);
            json_decref(wf);
            pc_sleep(&c, SEC);
        }
        assert_true(done);
    }
    print_message("argo: %d succeeded, %d failed, %d retried, %d omitted\n", t.succeeded, t.failed, t.retried, t.omitted);
    assert_true(t.succeeded >= 1);
    assert_true(t.failed >= 1);
    assert_true(t.retried >= 1);
    assert_true(t.omitted >= 1);
    pc_destroy(&c);
}

static void test_errors_and_listing(void **state)
{
    pc_init(&c, &sim_persona_argo, 21, 0.15, SIM_ADVANCE_ON_TIME);
    const char *bad[] = {"/api/v1/workflows/Argo/x", "/api/v1/workflows/argo/x/y", "/api/v1/workflow/argo/x",
                         "/workflows/x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pc_get(&c, bad[i], NULL), 404);
        json_t *doc = pc_json(&c);
        assert_int_equal(json_integer_value(json_object_get(doc, "code")), 5);
        assert_non_null(str(doc, "message"));
        json_decref(doc);
    }
    for (int i = 0; i < 3; i++) {
        char path[64];
        snprintf(path, sizeof path, "/api/v1/workflows/argo/wf-%d", i);
        assert_int_equal(pc_get(&c, path, NULL), 200);
    }
    assert_int_equal(pc_get(&c, "/api/v1/workflows/other/wf-9", NULL), 200);
    assert_int_equal(pc_get(&c, "/api/v1/workflows/argo", NULL), 200);
    json_t *doc = pc_json(&c);
    assert_int_equal(json_array_size(json_object_get(doc, "items")), 3);
    assert_null(json_object_get(json_object_get(doc, "metadata"), "continue"));
    json_decref(doc);
    assert_int_equal(pc_get(&c, "/api/v1/workflows/argo", "listOptions.limit=2"), 200);
    doc = pc_json(&c);
    assert_int_equal(json_array_size(json_object_get(doc, "items")), 2);
    const char *cont = str(json_object_get(doc, "metadata"), "continue");
    assert_non_null(cont);
    char q[96];
    snprintf(q, sizeof q, "listOptions.limit=2&listOptions.continue=%s", cont);
    json_decref(doc);
    assert_int_equal(pc_get(&c, "/api/v1/workflows/argo", q), 200);
    doc = pc_json(&c);
    json_t *items = json_object_get(doc, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(str(json_object_get(json_array_get(items, 0), "metadata"), "name"), "wf-2");
    assert_null(json_object_get(json_object_get(doc, "metadata"), "continue"));
    json_decref(doc);
    assert_int_equal(pc_get(&c, "/api/v1/workflows/argo", "listOptions.continue=zz"), 400);
    pc_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workflows_field_by_field),
        cmocka_unit_test(test_errors_and_listing),
    };
    return cmocka_run_group_tests_name("sim_persona_argo", tests, NULL, NULL);
}
