/* test_worker_speaks.c — a misconfigured worker says so, a healthy one
 * says it is working, and `extrace worker --check` tells which dependency
 * is missing. Real redis-server, `extrace api`, `extrace store` and
 * `extrace generate`:
 *   - a worker whose --api-url nothing listens on logs one warn line that
 *     names the URL and the cause within two poll intervals, and only one
 *     for many failed polls (the rest are counted in the status line);
 *   - the status line (--status-interval) reports the workflows watched,
 *     the oldest one's age, polls/s and the poll errors by kind;
 *   - --check exits 0 with every dependency up (HTTP and gRPC OTLP, the
 *     API's /healthz or a workflow) and 1 naming each one that is down. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fixture.h"
#include "support.h"

#define INTERVAL_MS 300

static ts_redis redis;
static int api_port, grpc_port, http_port, dead_port;
static pid_t api, store;

static int start_deps(void **state)
{
    (void)state;
    if (ts_redis_start(&redis) != 0) return -1;
    const char *dir = ts_tmpdir();
    char log[300], data[300];
    snprintf(log, sizeof log, "%s/api.log", dir);
    api = ts_api_start((char *[]){"--time-scale", "600", NULL}, log, &api_port);
    snprintf(log, sizeof log, "%s/store.log", dir);
    snprintf(data, sizeof data, "%s/data", dir);
    ts_store_ports ports;
    store = ts_store_start((char *[]){"--data-dir", data, NULL}, log, &ports);
    grpc_port = ports.otlp_grpc;
    http_port = ports.otlp_http;
    dead_port = ts_refused_port(); /* nothing listens here */
    return api > 0 && store > 0 && dead_port > 0 ? 0 : -1;
}

static int stop_deps(void **state)
{
    (void)state;
    ts_stop(api, SIGTERM, 5000);
    ts_stop(store, SIGTERM, 5000);
    ts_redis_stop(&redis);
    ts_cleanup();
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Lines of text that contain every one of the needles (NULL-ended). */
static int count_lines(const char *text, const char *const needles[])
{
    int n = 0;
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, "\n");
        int all = 1;
        for (int i = 0; needles[i] && all; i++) {
            const char *hit = strstr(p, needles[i]);
            all = hit && hit < p + len;
        }
        n += all;
        p += len + (p[len] == '\n');
    }
    return n;
}

static void test_dead_api_url_is_told_once_at_warn(void **state)
{
    (void)state;
    tf_worker w = {.consumer = "dead-api"};
    char dead[64], interval[32], url[96], gen_out[300];
    snprintf(w.log, sizeof w.log, "%s/worker-dead.log", ts_tmpdir());
    snprintf(dead, sizeof dead, "http://127.0.0.1:%d", dead_port);
    snprintf(interval, sizeof interval, "%dms", INTERVAL_MS);
    char *args[] = {"--redis", redis.url, "--api-url", dead, "--initial-delay", "10ms", "--interval", interval,
                    "--status-interval", "1s", "--timeout", "60s", NULL};
    tf_worker_start(&w, args);

    snprintf(gen_out, sizeof gen_out, "%s/ids", ts_tmpdir());
    char *gen[] = {(char *)ts_bin(), "generate", "--redis", redis.url, "--count", "3", "--rate", "100",
                   "--ids-out", gen_out, NULL};
    char *out = NULL, *err = NULL;
    int64_t published = now_ms();
    assert_int_equal(ts_run(gen, &out, &err, 10000), 0);
    free(out);
    free(err);

    /* Within two poll intervals (the first comes 10 ms after the event): one warn line naming the URL. */
    snprintf(url, sizeof url, "GET %s/workflows/", dead);
    char *text = ts_wait_file_text(w.log, url, 2 * INTERVAL_MS);
    if (!text) fail_msg("no warn line naming %s within %d ms of the events:\n%s", dead, 2 * INTERVAL_MS,
                        ts_read_file(w.log, NULL));
    int64_t told = now_ms() - published;
    free(text);

    /* Many more failed polls later: still that one line, and the status line counts them. */
    text = ts_wait_file_text(w.log, "watching 3 workflows (oldest in flight", 5000);
    if (!text) fail_msg("no status line:\n%s", ts_read_file(w.log, NULL));
    free(text);
    usleep(3 * INTERVAL_MS * 1000);
    text = ts_read_file(w.log, NULL);
    const char *warn[] = {"WARN", url, "Couldn't connect", "(connect)", NULL};
    if (count_lines(text, warn) != 1) fail_msg("want exactly one warn line naming %s:\n%s", url, text);
    const char *status[] = {"INFO", "status: watching 3 workflows", "polls/s, poll errors connect ", NULL};
    if (count_lines(text, status) < 1) fail_msg("no status line counting connect errors:\n%s", text);
    const char *debug_only[] = {"poll failed", NULL}; /* the per-poll line stays at debug */
    assert_int_equal(count_lines(text, debug_only), 0);
    print_message("told after %lld ms\n", (long long)told);
    free(text);
    assert_int_equal(ts_stop(w.pid, SIGTERM, 5000), 0);
}

static void test_healthy_worker_says_it_works(void **state)
{
    (void)state;
    tf_worker w = {.consumer = "healthy"};
    char api_url[64], endpoint[64];
    snprintf(w.log, sizeof w.log, "%s/worker-ok.log", ts_tmpdir());
    snprintf(api_url, sizeof api_url, "http://127.0.0.1:%d", api_port);
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", http_port);
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, 1);
    setenv("OTEL_BSP_SCHEDULE_DELAY", "100", 1);
    char *args[] = {"--redis", redis.url, "--api-url", api_url, "--initial-delay", "10ms", "--interval", "50ms",
                    "--status-interval", "500ms", NULL};
    tf_worker_start(&w, args);
    unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
    unsetenv("OTEL_BSP_SCHEDULE_DELAY");
    char *gen[] = {(char *)ts_bin(), "generate", "--redis", redis.url, "--count", "5", "--rate", "100", NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(ts_run(gen, &out, &err, 10000), 0);
    free(out);
    free(err);
    /* 21-minute workflows at 600x: about 2 s each; then the line says none is watched any more. */
    char *text = ts_wait_file_text(w.log, "status: watching 0 workflows; last ", 15000);
    if (!text) fail_msg("no status line after the workflows ended:\n%s", ts_read_file(w.log, NULL));
    /* (Some may have failed early: how many are watched at the first line varies.) */
    const char *watching[] = {"INFO", "status: watching ", " workflows (oldest in flight ", " polls/s, ", NULL};
    if (count_lines(text, watching) < 1) fail_msg("no status line while workflows were watched:\n%s", text);
    const char *none[] = {"poll errors none", NULL};
    assert_true(count_lines(text, none) >= 1);
    const char *warns[] = {"WARN", NULL};
    if (count_lines(text, warns) != 0) fail_msg("a healthy worker warned:\n%s", text);
    free(text);
    assert_int_equal(ts_stop(w.pid, SIGTERM, 5000), 0);
}

/* Run `extrace worker --check` with OTEL_* protocol/endpoint and extra args; its stdout. */
static char *check(const char *protocol, int otlp_port, const char *redis_url, int api_at, const char *workflow,
                   int want_status)
{
    char endpoint[64], api_url[64];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", otlp_port);
    snprintf(api_url, sizeof api_url, "http://127.0.0.1:%d", api_at);
    setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol, 1);
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, 1);
    char *argv[] = {(char *)ts_bin(), "worker", "--check", "--redis", (char *)redis_url, "--api-url", api_url,
                    "--poll-timeout", "2s", workflow ? "--check-workflow" : NULL, (char *)workflow, NULL};
    char *out = NULL, *err = NULL;
    int rc = ts_run(argv, &out, &err, 20000);
    unsetenv("OTEL_EXPORTER_OTLP_PROTOCOL");
    unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
    if (rc != want_status) fail_msg("--check exited %d, not %d:\n%s%s", rc, want_status, out, err);
    free(err);
    return out;
}

static void test_check_with_everything_up(void **state)
{
    (void)state;
    char *out = check("http/protobuf", http_port, redis.url, api_port, NULL, 0);
    const char *http[] = {"redis  ok", "api    ok   GET", "/healthz answers HTTP 200",
                          "otlp   ok   otlp/http", "all checks passed"};
    for (size_t i = 0; i < 5; i++)
        if (!strstr(out, http[i])) fail_msg("no \"%s\" in:\n%s", http[i], out);
    free(out);
    out = check("grpc", grpc_port, redis.url, api_port, "check-me-1", 0);
    if (!strstr(out, "/workflows/check-me-1 answers the workflow") || !strstr(out, "otlp   ok   otlp/grpc"))
        fail_msg("gRPC and workflow checks:\n%s", out);
    free(out);
}

static void test_check_names_each_dead_dependency(void **state)
{
    (void)state;
    char dead_redis[64];
    snprintf(dead_redis, sizeof dead_redis, "redis://127.0.0.1:%d", dead_port);
    char *out = check("http/protobuf", dead_port, dead_redis, dead_port, NULL, 1);
    const char *want[] = {"redis  FAIL", "Connection refused", "api    FAIL", "Couldn't connect",
                          "otlp   FAIL", "3 of 3 checks failed"};
    for (size_t i = 0; i < 6; i++)
        if (!strstr(out, want[i])) fail_msg("no \"%s\" in:\n%s", want[i], out);
    free(out);
    /* One down among live ones: only it fails. The wrong protocol for the port counts as down. */
    out = check("grpc", http_port, redis.url, api_port, NULL, 1);
    if (!strstr(out, "redis  ok") || !strstr(out, "api    ok") || !strstr(out, "otlp   FAIL otlp/grpc") ||
        !strstr(out, "1 of 3 checks failed"))
        fail_msg("one dependency down:\n%s", out);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dead_api_url_is_told_once_at_warn),
        cmocka_unit_test(test_healthy_worker_says_it_works),
        cmocka_unit_test(test_check_with_everything_up),
        cmocka_unit_test(test_check_names_each_dead_dependency),
    };
    return cmocka_run_group_tests(tests, start_deps, stop_deps);
}
