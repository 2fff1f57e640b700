/* test_sources.c — every built-in source end to end: a real redis-server,
 * `extrace api --source X` on time at a high time scale, `extrace worker
 * --source X` (its built-in profile) and the Node OTLP receiver. Every
 * announced workflow must arrive as exactly one trace whose span tree,
 * times, statuses, messages and last status words equal the simulator's
 * final answers, fetched over HTTP after the end and read here in C (the
 * test's own reading of each API, not the profile's jq), with the derived
 * ids. GitHub also shows that conditional requests save counted requests
 * (304s), and that a worker hitting the rate limit pauses, says so, and
 * resumes without losing a workflow. */
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
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "source/builtin.h"
#include "gh_read.h"
#include "src_read.h"
#include "source_run.h"
#include "tree_check.h"

static ts_redis redis;

static run current;

/* A source is tested once both its persona and its built-in profile are in
 * this build; without its profile the test says so and is skipped. */
static int have_profile(const char *source)
{
    if (sr_builtin_find(source)) return 1;
    print_message("SKIPPED %s: no built-in profile profiles/%s.yaml in this build\n", source, source);
    return 0;
}

static int stop_run(void **state)
{
    (void)state;
    run_kill(&current);
    return 0;
}

/* ---- the runs ---- */

#define NGH 6
#define NARGO 6
#define NAIRFLOW 6

static void gh_keys(char keys[][64], const char *pp[], int n, int base)
{
    for (int i = 0; i < n; i++) {
        snprintf(keys[i], 64, "octo-org/hello-world/%d", base + i);
        pp[i] = keys[i];
    }
}

/* Check every workflow's trace; returns the counted requests the first answer announced. */
static long check_github(run *r, const char *const *keys, int n)
{
    tc_spans spans;
    tc_load(r->out, &spans);
    long used = -1;
    int failed = 0, attempts2 = 0;
    for (int i = 0; i < n; i++) {
        tk_tree t;
        th_resp first = {0};
        gh_read_run(r, keys[i], &t, &first);
        if (i == 0) used = 5000 - atol(first.rate_remaining);
        th_resp_free(&first);
        failed += t.root.code == 2;
        for (size_t k = 0; k < t.n; k++) attempts2 += strstr(t.nodes[k].name, "(attempt 2)") != NULL;
        assert_int_equal(tk_check(&spans, &t, "dev1", r->source), 1);
        tk_free(&t);
    }
    assert_int_equal(tk_count_roots(r->out), n); /* one trace each, nothing twice */
    tc_free(&spans);
    print_message("github-actions: %d runs, %d failed, %d re-run jobs\n", n, failed, attempts2);
    return used;
}

/* GitHub Actions: the run → jobs → queued/steps tree of each run; 304s save counted requests. */
static void test_github_actions(void **state)
{
    (void)state;
    if (!have_profile("github-actions")) skip();
    run *r = &current;
    run_begin(r, "github-actions");
    const char *api_extra[] = {"--time-scale", "120", "--failure-rate", "0.3", NULL};
    run_start_api(r, api_extra);
    setenv("GITHUB_TOKEN", "test-token", 1);
    run_start_worker(r, redis.url, NULL, NULL);
    char keys[NGH][64];
    const char *pp[NGH];
    gh_keys(keys, pp, NGH, 30433642);
    run_announce(r, redis.port, pp, NGH);
    char *metrics = run_finish(r, NGH);
    double polls = tf_metric(metrics, "extrace_polls_total");
    double unchanged = tf_metric(metrics, "extrace_polls_unchanged_total");
    free(metrics);
    long used = check_github(r, pp, NGH);
    print_message("github-actions: %.0f polls (%.0f requests at least), %.0f unchanged, %ld counted by the API\n",
                  polls, 2 * polls, unchanged, used);
    assert_true(unchanged > 0);
    /* every poll sends two requests; the API counted fewer (304s are free), the test's own GETs included */
    assert_true(used > 0 && used < 2 * polls);
}

/* A small rate limit: the worker pauses ("polling paused"), resumes, loses nothing. */
static void test_github_rate_limited(void **state)
{
    (void)state;
    if (!have_profile("github-actions")) skip();
    run *r = &current;
    run_begin(r, "github-actions");
    const char *api_extra[] = {"--time-scale", "120", "--failure-rate", "0.2", "--rate-limit", "30",
                               "--rate-window", "2s", NULL};
    run_start_api(r, api_extra);
    setenv("GITHUB_TOKEN", "test-token", 1);
    run_start_worker(r, redis.url, NULL, NULL);
    char keys[4][64];
    const char *pp[4];
    gh_keys(keys, pp, 4, 50000001);
    run_announce(r, redis.port, pp, 4);
    char *metrics = run_finish(r, 4);
    double pauses = run_metric_sum(metrics, "extrace_rate_limit_pauses_total");
    free(metrics);
    char *log = ts_read_file(r->worker.log, NULL);
    assert_non_null(log);
    if (pauses < 1 || !strstr(log, "polling paused") || !strstr(log, "polling resumed"))
        fail_msg("no rate-limit pause: %.0f pauses (log %s)", pauses, r->worker.log);
    free(log);
    check_github(r, pp, 4);
}

/* Argo Workflows: the node graph (DAG, nested DAG, Retry, Pods, omitted branches). */
static void test_argo_workflows(void **state)
{
    (void)state;
    if (!have_profile("argo-workflows")) skip();
    run *r = &current;
    run_begin(r, "argo-workflows");
    const char *api_extra[] = {"--time-scale", "60", "--failure-rate", "0.3", NULL};
    run_start_api(r, api_extra);
    setenv("ARGO_TOKEN", "test-token", 1);
    run_start_worker(r, redis.url, NULL, NULL);
    char keys[NARGO][64];
    const char *pp[NARGO];
    for (int i = 0; i < NARGO; i++) {
        snprintf(keys[i], sizeof keys[i], "argo/ci-dag-%05d", 100 + i);
        pp[i] = keys[i];
    }
    run_announce(r, redis.port, pp, NARGO);
    free(run_finish(r, NARGO));
    tc_spans spans;
    tc_load(r->out, &spans);
    int failed = 0;
    size_t nodes = 0;
    for (int i = 0; i < NARGO; i++) {
        tk_tree t;
        read_argo(r, pp[i], &t);
        failed += t.root.code == 2;
        nodes += t.n;
        assert_int_equal(tk_check(&spans, &t, "dev1", r->source), 1);
        tk_free(&t);
    }
    assert_int_equal(tk_count_roots(r->out), NARGO);
    tc_free(&spans);
    print_message("argo-workflows: %d workflows, %d failed, %zu nodes\n", NARGO, failed, nodes);
}

/* Airflow: DAG runs with retried, mapped, skipped and upstream_failed task instances. */
static void test_airflow(void **state)
{
    (void)state;
    if (!have_profile("airflow")) skip();
    run *r = &current;
    run_begin(r, "airflow");
    const char *api_extra[] = {"--time-scale", "20", "--failure-rate", "0.3", NULL};
    run_start_api(r, api_extra);
    setenv("AIRFLOW_USERNAME", "test", 1);
    setenv("AIRFLOW_PASSWORD", "test-password", 1);
    run_start_worker(r, redis.url, NULL, NULL);
    char keys[NAIRFLOW][64];
    const char *pp[NAIRFLOW];
    for (int i = 0; i < NAIRFLOW; i++) {
        snprintf(keys[i], sizeof keys[i], "etl_daily/manual__run-%d", i + 1);
        pp[i] = keys[i];
    }
    run_announce(r, redis.port, pp, NAIRFLOW);
    free(run_finish(r, NAIRFLOW));
    tc_spans spans;
    tc_load(r->out, &spans);
    int failed = 0;
    size_t nodes = 0;
    for (int i = 0; i < NAIRFLOW; i++) {
        tk_tree t;
        read_airflow(r, pp[i], &t);
        failed += t.root.code == 2;
        nodes += t.n;
        assert_int_equal(tk_check(&spans, &t, "dev1", r->source), 1);
        tk_free(&t);
    }
    assert_int_equal(tk_count_roots(r->out), NAIRFLOW);
    tc_free(&spans);
    print_message("airflow: %d DAG runs, %d failed, %zu nodes\n", NAIRFLOW, failed, nodes);
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
        cmocka_unit_test_teardown(test_github_actions, stop_run),
        cmocka_unit_test_teardown(test_github_rate_limited, stop_run),
        cmocka_unit_test_teardown(test_argo_workflows, stop_run),
        cmocka_unit_test_teardown(test_airflow, stop_run),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
