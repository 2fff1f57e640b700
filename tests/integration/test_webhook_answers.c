/* test_webhook_answers.c — in stream mode a webhook's sender is answered
 * only once Redis holds the delivery (github-actions source, --stream,
 * --webhook-listen, a real redis-server that the test pauses with SIGSTOP):
 *   - while Redis does not answer, the sender waits (no 202 for a
 *     delivery Redis does not hold); when Redis answers, 202 and the
 *     workflow's stream entry is there;
 *   - Redis lost with a delivery waiting: 503 (the sender sends it again),
 *     counted in extrace_webhook_redis_errors_total;
 *   - the worker stopped with a delivery waiting: not a 202, and the
 *     worker exits 0 (the server does not stop with a suspended
 *     connection). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <signal.h>

#include "hook_client.h"
#include "source/builtin.h"
#include "source_run.h"

#define SECRET "answers-hook-secret"
#define STREAM "hooks"

static ts_redis redis;
static run current;

static int stop_run(void **state)
{
    (void)state;
    if (redis.pid > 0) kill(redis.pid, SIGCONT);
    run_kill(&current);
    ts_redis_stop(&redis);
    return 0;
}

static int start(run *r)
{
    if (ts_redis_start(&redis) != 0) fail_msg("redis-server did not start");
    run_begin(r, "github-actions");
    const char *api_extra[] = {"--time-scale", "120", NULL};
    run_start_api(r, api_extra);
    setenv("GITHUB_TOKEN", "test-token", 1);
    setenv("EXTRACE_WEBHOOK_SECRET", SECRET, 1);
    const char *args[] = {"--stream", STREAM, "--webhook-listen", "127.0.0.1:0", NULL};
    run_start_worker(r, redis.url, NULL, args);
    unsetenv("EXTRACE_WEBHOOK_SECRET");
    return hc_webhook_port(r->worker.log);
}

static long long stream_len(void)
{
    redisReply *rep = tf_redis(redis.port, "XLEN %s", STREAM);
    long long n = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
    freeReplyObject(rep);
    return n;
}

/* Send run id's delivery on a thread while Redis is paused; returns once the worker says it waits for Redis. */
static void post_paused(const run *r, hc_async *a, int port, long id, const char *delivery)
{
    char *body = hc_run_payload(r, id); /* from the api, before Redis pauses */
    assert_int_equal(kill(redis.pid, SIGSTOP), 0);
    hc_post_async(a, port, "github-actions", SECRET, "workflow_run", delivery, body, 30000);
    for (int waited = 0; tf_worker_metric(&r->worker, "extrace_webhook_deliveries_waiting") != 1; waited += 20) {
        if (waited > 15000 || a->done) fail_msg("delivery %s: not waiting for Redis (answered %ld)", delivery, a->status);
        ts_sleep_ms(20);
    }
}

static void test_answer_waits_for_redis(void **state)
{
    (void)state;
    run *r = &current;
    int port = start(r);
    char *body = hc_run_payload(r, 9100001);
    assert_int_equal(hc_post(port, "github-actions", SECRET, "workflow_run", "answers-1", body, NULL), 202);
    free(body);
    assert_int_equal(stream_len(), 1);

    hc_async a;
    post_paused(r, &a, port, 9100002, "answers-2");
    ts_sleep_ms(500);
    assert_false(a.done); /* no answer while Redis holds nothing */
    assert_int_equal(kill(redis.pid, SIGCONT), 0);
    assert_int_equal(hc_async_wait(&a), 202);
    assert_int_equal(stream_len(), 2); /* answered once the entry is there */
    assert_int_equal(tf_worker_metric(&r->worker, "extrace_webhooks_total{source=\"github-actions\",result=\"accepted\"}"),
                     2);
    assert_int_equal(tf_worker_metric(&r->worker, "extrace_webhook_deliveries_waiting"), 0);
    free(run_finish(r, 0));
}

static void test_redis_lost_is_503(void **state)
{
    (void)state;
    run *r = &current;
    int port = start(r);
    hc_async a;
    post_paused(r, &a, port, 9200001, "answers-lost");
    assert_int_equal(kill(redis.pid, SIGKILL), 0); /* the delivery's script dies with it */
    ts_stop(redis.pid, SIGKILL, 5000);
    redis.pid = 0;
    assert_int_equal(hc_async_wait(&a), 503);
    assert_int_equal(tf_worker_metric(&r->worker, "extrace_webhook_redis_errors_total"), 1);
    assert_int_equal(
        tf_worker_metric(&r->worker, "extrace_webhooks_total{source=\"github-actions\",result=\"unavailable\"}"), 1);
    assert_int_equal(
        tf_worker_metric(&r->worker, "extrace_webhooks_total{source=\"github-actions\",result=\"accepted\"}"), 0);
    char *log = ts_read_file(r->worker.log, NULL);
    assert_non_null(strstr(log, "Redis did not take delivery for workflow extrace-sim/demo/9200001"));
    free(log);
}

static void test_stop_while_waiting(void **state)
{
    (void)state;
    run *r = &current;
    int port = start(r);
    hc_async a;
    post_paused(r, &a, port, 9300001, "answers-stop");
    assert_int_equal(kill(r->worker.pid, SIGTERM), 0);
    long status = hc_async_wait(&a);
    assert_true(status == 503 || status == 0); /* "shutting down", or closed: never a 202 */
    assert_int_equal(kill(redis.pid, SIGCONT), 0);
    assert_int_equal(ts_wait(r->worker.pid, 20000), 0); /* exits 0: no abort with a suspended connection */
    r->worker.pid = 0;
}

int main(void)
{
    if (!sr_builtin_find("github-actions")) return 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_answer_waits_for_redis, stop_run),
        cmocka_unit_test_teardown(test_redis_lost_is_503, stop_run),
        cmocka_unit_test_teardown(test_stop_while_waiting, stop_run),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ts_cleanup();
    return rc;
}
