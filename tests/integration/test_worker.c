/* End to end: real redis-server, `extrace api --time-scale 600`, the Node
 * OTLP receiver (tests/node/receiver.js), `extrace generate` publishing
 * 100 WorkflowStarted events, and `extrace worker` exporting over each
 * OTLP protocol (and through refused first exports). Every workflow must
 * arrive as exactly one complete trace that matches the API's final
 * answer: ids, parents, names, times, statuses, events. */
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

#include "core/iso8601.h"
#include "support.h"
#include "trace_check.h"

#define NWORKFLOWS 100
#define WAIT_SPANS_MS 45000

static ts_redis redis;
static pid_t api_pid;
static int api_port;

/* ---- small HTTP client ---- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A sample's value in a /metrics text, or -1 if absent. */
static double metric(const char *text, const char *sample)
{
    char want[256];
    snprintf(want, sizeof want, "\n%s ", sample);
    const char *p = strstr(text, want);
    return p ? strtod(p + strlen(want), NULL) : -1;
}

/* ---- the fixed part: Redis and the API ---- */

static int start_base(void **state)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (ts_redis_start(&redis) != 0) return -1;
    char log[400];
    snprintf(log, sizeof log, "%s/api.log", redis.dir);
    api_pid = ts_api_start((char *[]){"--time-scale", "600", "--seed", "7", NULL}, log, &api_port);
    return api_pid > 0 ? 0 : -1;
}

static int stop_base(void **state)
{
    if (api_pid > 0) ts_stop(api_pid, SIGTERM, 5000);
    ts_redis_stop(&redis);
    curl_global_cleanup();
    return 0;
}

/* ---- one run: receiver + worker + generator ---- */

typedef struct run {
    const char *protocol;  /* OTEL_EXPORTER_OTLP_PROTOCOL */
    const char *fail_mode; /* receiver --fail-mode, or NULL */
    char dir[256];
    char out[300];         /* receiver output */
    char ids[300];         /* generator's ids */
    pid_t receiver, worker;
    int admin_port;
    double export_failures;
} run;

/* receiver.js on ports of its own, read from its log into *grpc_port, *http_port. */
static void start_receiver(run *r, int *grpc_port, int *http_port)
{
    char script[512], *gp = "0", *hp = "0", log[320];
    const char *src = getenv("EXTRACE_SOURCE_DIR");
    snprintf(script, sizeof script, "%s/tests/node/receiver.js", src ? src : ".");
    snprintf(log, sizeof log, "%s/receiver.log", r->dir);
    char *plain[] = {"node", script, "--grpc-port", gp, "--http-port", hp, "--out", r->out, NULL};
    char *failing[] = {"node", script, "--grpc-port", gp, "--http-port", hp, "--out", r->out,
                       "--fail-first", "3", "--fail-mode", (char *)r->fail_mode, NULL};
    r->receiver = ts_spawn(r->fail_mode ? failing : plain, log);
    assert_true(r->receiver > 0);
    *grpc_port = ts_logged_port(log, 0, "receiver: grpc on ", 15000);
    *http_port = ts_logged_port(log, 0, ", http on ", 15000);
    if (!*grpc_port || !*http_port) fail_msg("receiver.js did not start (log %s)", log);
}

static void start_worker(run *r, int grpc_port, int http_port)
{
    char endpoint[64], api[64], log[320], url[128];
    int port = strcmp(r->protocol, "grpc") == 0 ? grpc_port : http_port;
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", port);
    snprintf(api, sizeof api, "http://127.0.0.1:%d", api_port);
    snprintf(log, sizeof log, "%s/worker.log", r->dir);
    setenv("OTEL_EXPORTER_OTLP_PROTOCOL", r->protocol, 1);
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, 1);
    setenv("OTEL_BSP_SCHEDULE_DELAY", "100", 1);
    char *argv[] = {(char *)ts_bin(), "worker", "--redis", redis.url, "--api-url", api, "--initial-delay", "20ms",
                    "--interval", "50ms", "--timeout", "60s", "--admin-listen", "127.0.0.1:0", "--seed", "1", NULL};
    r->worker = ts_spawn(argv, log);
    r->admin_port = ts_logged_port(log, 0, "admin HTTP on ", 15000);
    unsetenv("OTEL_EXPORTER_OTLP_PROTOCOL");
    unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
    unsetenv("OTEL_BSP_SCHEDULE_DELAY");
    assert_true(r->worker > 0);
    if (!r->admin_port) fail_msg("the worker logged no admin port (log %s)", log);
    /* Pub/sub keeps nothing for absent subscribers: wait until subscribed. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/readyz", r->admin_port);
    long status = 0;
    for (int i = 0; i < 100 && status != 200; i++) {
        char *body;
        status = tc_http_get(url, &body);
        free(body);
        if (status != 200) sleep_ms(100);
    }
    assert_int_equal(status, 200);
}

/* Root spans ("Workflow") in the receiver's output so far. */
static int count_roots(const char *path)
{
    char *text = ts_read_file(path, NULL);
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, "\"name\":\"Workflow\"")); p++) n++;
    free(text);
    return n;
}

static void generate(run *r)
{
    char *out = NULL, *err = NULL;
    char *argv[] = {(char *)ts_bin(), "generate", "--redis", redis.url, "--rate", "200", "--count", "100",
                    "--ids-out", r->ids, NULL};
    int rc = ts_run(argv, &out, &err, 30000);
    if (rc != 0) fail_msg("generate exited %d: %s", rc, err ? err : "");
    free(out);
    free(err);
}

static void execute(run *r)
{
    snprintf(r->dir, sizeof r->dir, "%s", ts_tmpdir());
    snprintf(r->out, sizeof r->out, "%s/spans.jsonl", r->dir);
    snprintf(r->ids, sizeof r->ids, "%s/ids.txt", r->dir);
    int grpc_port, http_port;
    start_receiver(r, &grpc_port, &http_port);
    start_worker(r, grpc_port, http_port);
    generate(r);
    int roots = 0;
    for (int waited = 0; waited < WAIT_SPANS_MS && (roots = count_roots(r->out)) < NWORKFLOWS; waited += 200)
        sleep_ms(200);
    char url[128], *metrics;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", r->admin_port);
    assert_int_equal(tc_http_get(url, &metrics), 200);
    r->export_failures = metric(metrics, "extrace_export_failures_total");
    free(metrics);
    int wrc = ts_stop(r->worker, SIGTERM, 20000);
    r->worker = 0;
    ts_stop(r->receiver, SIGTERM, 5000);
    r->receiver = 0;
    if (roots < NWORKFLOWS) fail_msg("%s: only %d of %d root spans within %d ms (logs in %s)", r->protocol, roots,
                                     NWORKFLOWS, WAIT_SPANS_MS, r->dir);
    assert_int_equal(wrc, 0);
}

/* ---- checking one workflow's trace ---- */

static void verify(run *r)
{
    tc_spans spans;
    tc_load(r->out, &spans);
    char *ids = ts_read_file(r->ids, NULL);
    assert_non_null(ids);
    int nids = 0;
    for (char *id = strtok(ids, "\n"); id; id = strtok(NULL, "\n")) {
        assert_int_equal(tc_check_workflow(&spans, api_port, "dev1", id, r->protocol), 1); /* no copies */
        nids++;
    }
    assert_int_equal(nids, NWORKFLOWS);
    assert_int_equal(tc_count_roots(r->out), NWORKFLOWS); /* nothing twice, nothing extra */
    tc_free(&spans);
    free(ids);
}

static run current; /* the run of the test in progress, stopped by its teardown */

static void run_protocol(const char *protocol, const char *fail_mode)
{
    run *r = &current;
    memset(r, 0, sizeof *r);
    r->protocol = protocol;
    r->fail_mode = fail_mode;
    execute(r);
    verify(r);
    if (fail_mode) assert_true(r->export_failures >= 3); /* the refusals did happen */
}

/* Stop what a failed test left running. */
static int stop_run(void **state)
{
    if (current.worker > 0) ts_stop(current.worker, SIGKILL, 5000);
    if (current.receiver > 0) ts_stop(current.receiver, SIGKILL, 5000);
    current.worker = current.receiver = 0;
    return 0;
}

static void test_grpc(void **state) { run_protocol("grpc", NULL); }
static void test_http_protobuf(void **state) { run_protocol("http/protobuf", NULL); }
static void test_http_json(void **state) { run_protocol("http/json", NULL); }
static void test_grpc_refused_first(void **state) { run_protocol("grpc", "unavailable"); }
static void test_http_refused_first(void **state) { run_protocol("http/protobuf", "503"); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_grpc, stop_run),
        cmocka_unit_test_teardown(test_http_protobuf, stop_run),
        cmocka_unit_test_teardown(test_http_json, stop_run),
        cmocka_unit_test_teardown(test_grpc_refused_first, stop_run),
        cmocka_unit_test_teardown(test_http_refused_first, stop_run),
    };
    return cmocka_run_group_tests(tests, start_base, stop_base);
}
