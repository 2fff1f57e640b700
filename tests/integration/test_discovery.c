/* test_discovery.c — discovery by listing, end to end: `extrace api
 * --source github-actions` (its runs list answers created=>=T with paging),
 * `extrace worker --discover` on a real redis-server and the Node OTLP
 * receiver. No event is published: the runs are made at the simulator
 * (created on first sight, as its docs say) and the worker must find them
 * by listing.
 *   - discovery only: every run yields exactly one trace, equal to the
 *     event-driven one (derived trace id, span tree, times, statuses —
 *     the test's own reading of the final answers, tree_check.c);
 *   - the same for Argo Workflows (ListWorkflows of a namespace, continue
 *     tokens) and Airflow (a DAG's runs by logical date, offsets) with
 *     their built-in profiles and personas;
 *   - --stream: a worker killed (SIGKILL) in the middle of discovery and
 *     a new one started: every run is added to the stream exactly once
 *     and arrives as one trace (distinct trace ids at the receiver). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "gh_read.h"
#include "source/builtin.h"
#include "source_run.h"
#include "src_read.h"
#include "tree_check.h"

#define SCOPE "octo-org/hello-world"

static ts_redis redis;
static run current;

static int stop_run(void **state)
{
    (void)state;
    run_kill(&current);
    return 0;
}

/* Make run `id` at the simulator (a GET creates it) and name its key. */
static void make_run(run *r, long id, char key[64])
{
    char path[128];
    snprintf(key, 64, SCOPE "/%ld", id);
    snprintf(path, sizeof path, "/repos/" SCOPE "/actions/runs/%ld", id);
    json_decref(run_get_json(r, path, NULL));
}

/* Every trace complete; `copies_ok`: a span may arrive again as an
 * identical copy (a worker killed after an export, before its record of
 * it, exports it again - docs/worker.md), else exactly once. */
static void check_traces(run *r, char keys[][64], int n, int copies_ok)
{
    tc_spans spans;
    tc_load(r->out, &spans);
    for (int i = 0; i < n; i++) {
        tk_tree t;
        gh_read_run(r, keys[i], &t, NULL);
        int most = tk_check(&spans, &t, "dev1", "discovered");
        if (copies_ok) assert_true(most >= 1);
        else assert_int_equal(most, 1);
        tk_free(&t);
    }
    tc_free(&spans);
}

/* Wait (up to 30 s) until the worker's listings have found n workflows. */
static void wait_found(const run *r, double n)
{
    double found = 0;
    for (int waited = 0; waited < 30000 && found < n; waited += 50) {
        found = tf_worker_metric(&r->worker, "extrace_discovery_workflows_total");
        if (found < n) ts_sleep_ms(50);
    }
    if (found < n) fail_msg("the listings found %.0f of %.0f workflows within 30 s (%s)", found, n, r->dir);
}

#define NRUNS 6

static void test_discovery_only(void **state)
{
    (void)state;
    run *r = &current;
    run_begin(r, "github-actions");
    const char *api_extra[] = {"--time-scale", "120", "--failure-rate", "0.3", NULL};
    run_start_api(r, api_extra);
    setenv("GITHUB_TOKEN", "test-token", 1);
    const char *extra[] = {"--discover", "300ms", "--discover-scope", SCOPE, NULL};
    run_start_worker(r, redis.url, NULL, extra);
    char keys[NRUNS][64];
    for (int i = 0; i < NRUNS; i++) {
        make_run(r, 5000 + i, keys[i]);
        if (i == 2) wait_found(r, 3); /* the rest in a later listing */
    }
    char *metrics = run_finish(r, NRUNS);
    double found = tf_metric(metrics, "extrace_discovery_workflows_total");
    double polls = tf_metric(metrics, "extrace_discovery_polls_total");
    double received = tf_metric(metrics, "extrace_events_received_total");
    free(metrics);
    print_message("discovery only: %.0f listings found %.0f runs; %.0f events\n", polls, found, received);
    assert_int_equal((int)found, NRUNS);
    assert_int_equal((int)received, 0);
    assert_true(polls >= 2);
    check_traces(r, keys, NRUNS, 0);
    assert_int_equal(tk_count_roots(r->out), NRUNS); /* nothing twice */
}

/* Discovery only for another source: runs made at its persona by a GET of
 * path_fmt (with the run's number), keys key_fmt, found by listing scope;
 * each checked against the test's own reading of the final answers. */
typedef struct other {
    const char *source, *scope, *time_scale, *path_fmt, *key_fmt;
    void (*read)(const run *r, const char *key, tk_tree *t);
} other;

static void discover_other(const other *o)
{
    if (!sr_builtin_find(o->source)) skip();
    run *r = &current;
    run_begin(r, o->source);
    const char *api_extra[] = {"--time-scale", o->time_scale, "--failure-rate", "0.3", NULL};
    run_start_api(r, api_extra);
    const char *extra[] = {"--discover", "300ms", "--discover-scope", o->scope, NULL};
    run_start_worker(r, redis.url, NULL, extra);
    char keys[NRUNS][64], path[160];
    for (int i = 0; i < NRUNS; i++) {
        snprintf(keys[i], 64, o->key_fmt, i + 1);
        snprintf(path, sizeof path, o->path_fmt, i + 1);
        json_decref(run_get_json(r, path, NULL)); /* made on first sight */
        if (i == 2) wait_found(r, 3);            /* the rest in a later listing */
    }
    char *metrics = run_finish(r, NRUNS);
    double found = tf_metric(metrics, "extrace_discovery_workflows_total");
    double polls = tf_metric(metrics, "extrace_discovery_polls_total");
    double received = tf_metric(metrics, "extrace_events_received_total");
    free(metrics);
    tc_spans spans;
    tc_load(r->out, &spans);
    size_t nodes = 0;
    for (int i = 0; i < NRUNS; i++) {
        tk_tree t;
        o->read(r, keys[i], &t);
        nodes += t.n;
        assert_int_equal(tk_check(&spans, &t, "dev1", o->source), 1);
        tk_free(&t);
    }
    tc_free(&spans);
    print_message("%s discovery only: %.0f listings found %.0f workflows (%zu nodes); %.0f events\n", o->source,
                  polls, found, nodes, received);
    assert_int_equal((int)found, NRUNS); /* each once */
    assert_int_equal((int)received, 0);
    assert_int_equal(tk_count_roots(r->out), NRUNS); /* nothing twice */
}

static void test_discovery_argo(void **state)
{
    (void)state;
    setenv("ARGO_TOKEN", "test-token", 1);
    const other o = {"argo-workflows", "argo", "60", "/api/v1/workflows/argo/ci-dag-%05d", "argo/ci-dag-%05d",
                     read_argo};
    discover_other(&o);
}

static void test_discovery_airflow(void **state)
{
    (void)state;
    setenv("AIRFLOW_USERNAME", "test", 1);
    setenv("AIRFLOW_PASSWORD", "test-password", 1);
    const other o = {"airflow", "etl_daily", "20", "/api/v1/dags/etl_daily/dagRuns/manual__run-%d",
                     "etl_daily/manual__run-%d", read_airflow};
    discover_other(&o);
}

static void start_stream_worker(run *r, tf_worker *w, const char *name, int http)
{
    char api[64], endpoint[64];
    snprintf(api, sizeof api, "http://127.0.0.1:%d", r->api_port);
    snprintf(w->log, sizeof w->log, "%.200s/%.64s.log", r->dir, name);
    w->consumer = name;
    char *args[] = {"--redis", redis.url, "--source", "github-actions", "--api-url", api, "--stream", "runs",
                    "--consumer", (char *)name, "--claim-idle", "1s", "--initial-delay", "20ms", "--interval",
                    "100ms", "--discover", "300ms", "--discover-scope", SCOPE, "--log-level", "debug", NULL};
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", http);
    setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", 1);
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, 1);
    setenv("OTEL_BSP_SCHEDULE_DELAY", "100", 1);
    tf_worker_start(w, args);
}

#define NBEFORE 4
#define NAFTER 4

static void test_restart_in_stream_mode(void **state)
{
    (void)state;
    run *r = &current;
    run_begin(r, "github-actions");
    const char *api_extra[] = {"--time-scale", "120", NULL};
    run_start_api(r, api_extra);
    setenv("GITHUB_TOKEN", "test-token", 1);
    char log[320];
    int grpc = 0, http = 0;
    snprintf(log, sizeof log, "%.250s/receiver.log", r->dir);
    r->receiver = tf_receiver_start(&grpc, &http, r->out, log);
    tf_worker a = {0};
    start_stream_worker(r, &a, "first", http);
    r->worker = a;
    char keys[NBEFORE + NAFTER][64];
    for (int i = 0; i < NBEFORE; i++) make_run(r, 7000 + i, keys[i]);
    /* kill it once it has added some runs to the stream, most still running */
    double found = 0;
    for (int waited = 0; waited < 20000 && found < 2; waited += 50) {
        found = tf_worker_metric(&a, "extrace_discovery_workflows_total");
        ts_sleep_ms(50);
    }
    assert_true(found >= 2);
    ts_stop(a.pid, SIGKILL, 5000); /* its status says it was killed */
    r->worker.pid = 0;
    for (int i = NBEFORE; i < NBEFORE + NAFTER; i++) make_run(r, 7000 + i, keys[i]); /* while no worker runs */
    tf_worker b = {0};
    start_stream_worker(r, &b, "second", http);
    r->worker = b;
    int n = NBEFORE + NAFTER, got = 0;
    for (int waited = 0; waited < 40000 && (got = tc_distinct_roots(r->out)) < n; waited += 200) ts_sleep_ms(200);
    ts_sleep_ms(1500); /* anything more would arrive now */
    got = tc_distinct_roots(r->out);
    redisReply *len = tf_redis(redis.port, "XLEN runs");
    long long added = len->integer;
    freeReplyObject(len);
    double known = tf_worker_metric(&b, "extrace_discovery_known_total");
    print_message("restart: %.0f found before the kill; %d traces, %lld stream entries, %.0f runs known "
                  "already to the second worker\n", found, got, added, known);
    assert_int_equal(got, n);     /* none missed, none twice */
    assert_int_equal(added, n);   /* each run added to the stream once */
    assert_true(known >= found);  /* the second worker listed them again and skipped them */
    assert_int_equal(ts_stop(b.pid, SIGTERM, 20000), 0);
    r->worker.pid = 0;
    check_traces(r, keys, n, 1); /* SIGKILLed above */
}

static int setup(void **state)
{
    (void)state;
    return ts_redis_start(&redis) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ts_redis_stop(&redis);
    ts_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_discovery_only, stop_run),
        cmocka_unit_test_teardown(test_discovery_argo, stop_run),
        cmocka_unit_test_teardown(test_discovery_airflow, stop_run),
        cmocka_unit_test_teardown(test_restart_in_stream_mode, stop_run),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
