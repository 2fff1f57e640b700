/* `extrace worker --max-polls-per-second 50` against `extrace api` with 20
 * workflows polled every 20 ms (1000 polls/s wanted): the polls counted
 * in /metrics rise, and never faster than the budget allows
 * (50 × elapsed + the burst). An upper bound only: no timing lower bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "fixture.h"
#include "support.h"
#include "trace_check.h"

#define RATE 50
#define NWF 20

static ts_redis redis;
static pid_t api_pid, worker_pid;

/* A sample of the worker's /metrics, or -1. */
static double metric(int admin_port, const char *sample)
{
    char url[128], *body;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", admin_port);
    double v = tc_http_get(url, &body) == 200 ? tf_metric(body, sample) : -1;
    free(body);
    return v;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int stop_all(void **state)
{
    (void)state;
    if (worker_pid > 0) ts_stop(worker_pid, SIGKILL, 5000);
    if (api_pid > 0) ts_stop(api_pid, SIGKILL, 5000);
    worker_pid = api_pid = 0;
    ts_redis_stop(&redis);
    curl_global_cleanup();
    return 0;
}

static void test_polls_stay_within_budget(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    assert_int_equal(ts_redis_start(&redis), 0);
    int api_port;
    char api_url[64], log[400], wlog[400];
    snprintf(log, sizeof log, "%s/api.log", ts_tmpdir());
    snprintf(wlog, sizeof wlog, "%s/worker.log", ts_tmpdir());
    api_pid = ts_api_start((char *[]){"--seed", "3", NULL}, log, &api_port);
    assert_true(api_pid > 0);
    snprintf(api_url, sizeof api_url, "http://127.0.0.1:%d", api_port);
    char *wk[] = {(char *)ts_bin(), "worker", "--redis", redis.url, "--api-url", api_url, "--admin-listen", "127.0.0.1:0",
                  "--initial-delay", "0ms", "--interval", "20ms", "--max-polls-per-second", "50", "--seed", "1",
                  NULL};
    setenv("OTEL_TRACES_EXPORTER", "none", 1);
    worker_pid = ts_spawn(wk, wlog);
    unsetenv("OTEL_TRACES_EXPORTER");
    int admin_port = ts_logged_port(wlog, 0, "admin HTTP on ", 15000);
    if (!admin_port) fail_msg("the worker logged no admin port (log %s)", wlog);
    int ready = 0;
    for (int i = 0; i < 200 && !ready; i++) {
        char url[128], *body;
        snprintf(url, sizeof url, "http://127.0.0.1:%d/readyz", admin_port);
        ready = tc_http_get(url, &body) == 200;
        free(body);
        if (!ready) sleep_ms(50);
    }
    assert_true(ready);

    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", redis.port, tv);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    int64_t t0 = ex_mono_ns();
    for (int i = 0; i < NWF; i++) {
        char ev[160];
        snprintf(ev, sizeof ev, "{\"WorkflowId\":\"budget-wf-%02d\",\"SubmittedAt\":\"2024-07-05T06:57:51Z\"}", i);
        redisReply *r = redisCommand(c, "PUBLISH event.workflow.started %s", ev);
        assert_non_null(r);
        assert_int_equal(r->integer, 1);
        freeReplyObject(r);
    }
    redisFree(c);

    /* Wait until every workflow has been polled at least about once. */
    double p1 = -1;
    for (int i = 0; i < 200 && (p1 = metric(admin_port, "extrace_polls_total")) < NWF; i++) sleep_ms(50);
    assert_true(p1 >= NWF);
    int64_t t1 = ex_mono_ns();
    sleep_ms(2000);
    double p2 = metric(admin_port, "extrace_polls_total");
    int64_t t2 = ex_mono_ns();
    assert_true(p2 > p1); /* polls keep going */
    double burst = RATE, slack = 2; /* a poll counted just before / after a read */
    double window = (double)(t2 - t1) / 1e9;
    if (p2 - p1 > RATE * window + burst + slack)
        fail_msg("%.0f polls in %.2f s: more than %d/s allows", p2 - p1, window, RATE);
    double total = (double)(t2 - t0) / 1e9;
    if (p2 > RATE * total + burst + slack)
        fail_msg("%.0f polls since the events (%.2f s): more than %d/s + burst allows", p2, total, RATE);
    assert_int_equal(ts_stop(worker_pid, SIGTERM, 20000), 0);
    worker_pid = 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_polls_stay_within_budget, stop_all),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ts_cleanup();
    return rc;
}
