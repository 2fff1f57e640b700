/* test_source_user_profile.c — a profile is enough: an in-house CI API that no
 * built-in profile knows (tests/node/pipeline_api.js: pipeline → phases →
 * tasks → steps, its own state words, epoch-millisecond times, tasks on a
 * second route naming their phase, ETags) traced by `extrace worker
 * --source tests/fixtures/profiles/pipeline.yaml`, a file a user writes.
 * Every pipeline must arrive as exactly one trace equal to the API's final
 * answers, read here in C: a tree of depth 3 below the root, with the
 * API's exact times, statuses and error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>

#include "source_run.h"
#include "tree_check.h"

#define NPIPELINES 6

static ts_redis redis;
static run current;

static const char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

/* An epoch-millisecond member, or TK_NO_TIME for null. */
static int64_t ms(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) * 1000000 : TK_NO_TIME;
}

static int code_of(const char *state)
{
    if (!strcmp(state, "DONE")) return 1;
    return strcmp(state, "BROKEN") == 0 ? 2 : 0;
}

/* One node of the expected tree from an item with `state`, `began`, `ended`. */
static tk_node *node(tk_tree *t, json_t *item, const char *key, const char *parent, const char *name)
{
    tk_node *n = tk_add(t);
    snprintf(n->key, sizeof n->key, "%s", key);
    snprintf(n->parent, sizeof n->parent, "%s", parent);
    snprintf(n->name, sizeof n->name, "%s", name);
    n->start = ms(item, "began");
    n->end = ms(item, "ended");
    n->code = code_of(jstr(item, "state"));
    snprintf(n->word, sizeof n->word, "%s", jstr(item, "state"));
    snprintf(n->message, sizeof n->message, "stage failed without an error message");
    return n;
}

static void read_pipeline(const run *r, const char *key, tk_tree *t)
{
    char path[256], k[320], parent[320];
    tk_init(t, "inhouse-pipeline", key);
    char project[64];
    int number;
    assert_int_equal(sscanf(key, "%63[^/]/%d", project, &number), 2);
    snprintf(path, sizeof path, "/v2/projects/%s/pipelines/%d", project, number);
    json_t *p = run_get_json(r, path, NULL);
    const char *state = jstr(p, "state");
    assert_true(!strcmp(state, "DONE") || !strcmp(state, "BROKEN"));
    snprintf(t->root.name, sizeof t->root.name, "%s", jstr(p, "title"));
    t->root.start = ms(p, "created");
    t->root.end = ms(p, "finished");
    t->root.code = code_of(state);
    snprintf(t->root.message, sizeof t->root.message, "%s", jstr(json_object_get(p, "failure"), "reason"));
    snprintf(t->root.word, sizeof t->root.word, "%s", state);
    size_t i, j;
    json_t *ph, *task, *step;
    json_array_foreach(json_object_get(p, "phases"), i, ph) {
        snprintf(k, sizeof k, "phase/%s", jstr(ph, "ref"));
        node(t, ph, k, "", jstr(ph, "label"));
    }
    snprintf(path, sizeof path, "/v2/projects/%s/pipelines/%d/tasks", project, number);
    json_t *tasks = run_get_json(r, path, NULL);
    json_array_foreach(json_object_get(tasks, "items"), i, task) {
        snprintf(k, sizeof k, "task/%s", jstr(task, "ref"));
        snprintf(parent, sizeof parent, "phase/%s", jstr(task, "phase"));
        tk_node *n = node(t, task, k, parent, jstr(task, "label"));
        if (n->code == 2) snprintf(n->message, sizeof n->message, "%s", jstr(task, "error"));
        snprintf(parent, sizeof parent, "task/%s", jstr(task, "ref"));
        json_array_foreach(json_object_get(task, "steps"), j, step) {
            snprintf(k, sizeof k, "step/%s/%lld", jstr(task, "ref"), (long long)json_integer_value(json_object_get(step, "seq")));
            tk_node *s = node(t, step, k, parent, jstr(step, "cmd"));
            if (s->code == 2)
                snprintf(s->message, sizeof s->message, "exit code %lld",
                         (long long)json_integer_value(json_object_get(step, "exit")));
        }
    }
    json_decref(tasks);
    json_decref(p);
}

static void start_fixture_api(run *r)
{
    char script[512];
    const char *src = getenv("EXTRACE_SOURCE_DIR");
    snprintf(script, sizeof script, "%s/tests/node/pipeline_api.js", src ? src : ".");
    snprintf(r->api_log, sizeof r->api_log, "%s/pipeline_api.log", r->dir);
    char *argv[] = {"node", script, "--port", "0", NULL};
    r->api = ts_spawn(argv, r->api_log);
    assert_true(r->api > 0);
    r->api_port = ts_logged_port(r->api_log, 0, "ready on ", 15000);
    if (!r->api_port) fail_msg("pipeline_api.js did not start (log %s)", r->api_log);
}

static void test_user_profile_traces_an_unknown_api(void **state)
{
    (void)state;
    run *r = &current;
    run_begin(r, "inhouse-pipeline");
    start_fixture_api(r);
    char profile[512];
    const char *src = getenv("EXTRACE_SOURCE_DIR");
    snprintf(profile, sizeof profile, "%s/tests/fixtures/profiles/pipeline.yaml", src ? src : ".");
    run_start_worker(r, redis.url, profile, NULL);
    char keys[NPIPELINES][64];
    const char *pp[NPIPELINES];
    for (int i = 0; i < NPIPELINES; i++) {
        snprintf(keys[i], sizeof keys[i], "acme-web/%d", 101 + i);
        pp[i] = keys[i];
    }
    run_announce(r, redis.port, pp, NPIPELINES);
    char *metrics = run_finish(r, NPIPELINES);
    double unchanged = tf_metric(metrics, "extrace_polls_unchanged_total");
    double map_errors = run_metric_sum(metrics, "extrace_map_errors_total");
    free(metrics);
    assert_true(map_errors == 0);
    tc_spans spans;
    tc_load(r->out, &spans);
    int failed = 0, depth3 = 0;
    for (int i = 0; i < NPIPELINES; i++) {
        tk_tree t;
        read_pipeline(r, pp[i], &t);
        failed += t.root.code == 2;
        for (size_t k = 0; k < t.n; k++) depth3 += strncmp(t.nodes[k].key, "step/", 5) == 0;
        assert_int_equal(tk_check(&spans, &t, "dev1", "user profile"), 1);
        tk_free(&t);
    }
    assert_int_equal(tk_count_roots(r->out), NPIPELINES);
    tc_free(&spans);
    print_message("inhouse-pipeline: %d pipelines, %d failed, %d steps at depth 3, %.0f polls unchanged\n",
                  NPIPELINES, failed, depth3, unchanged);
    assert_true(failed == 2 && depth3 > 0); /* 102 and 105 fail; steps three levels below the root */
}

static int stop_run(void **state)
{
    (void)state;
    run_kill(&current);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return ts_redis_start(&redis);
}

static int teardown(void **state)
{
    (void)state;
    ts_redis_stop(&redis);
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_user_profile_traces_an_unknown_api, stop_run),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
