/* `extrace worker` around the happy path: its admin endpoints (/healthz,
 * /readyz, /metrics checked by promtool, 404, 405), malformed and
 * duplicate events and the capacity bound (counted, the worker keeps
 * running), Redis going away and coming back (readiness follows,
 * resubscribed), every kind of poll error against real servers, monitor
 * timeouts, and a clean exit on SIGTERM. */
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
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "http.h"
#include "support.h"

#define VALID(id) "{\"WorkflowId\":\"" id "\",\"SubmittedAt\":\"2024-07-05T06:57:51.0737407Z\"}"

static ts_redis redis;

/* ---- helpers ---- */

/* `method` url; returns the status (0 if no answer) and the body (malloc'd). */
static long http(const char *method, const char *url, char **body)
{
    CURL *c = curl_easy_init();
    th_resp r;
    th_request_rc(c, method, url, NULL, &r);
    curl_easy_cleanup(c);
    *body = r.body ? r.body : strdup("");
    return r.status;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

typedef struct worker {
    pid_t pid;
    int admin_port;
    char log[300];
} worker;

static worker current; /* the test's worker, stopped by the teardown if still running */
static pid_t server;    /* the test's API stand-in, likewise */

static double worker_metric(const worker *w, const char *sample)
{
    char url[128], *body;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", w->admin_port);
    double v = http("GET", url, &body) == 200 ? tf_metric(body, sample) : -1;
    free(body);
    return v;
}

/* Wait until sample >= want (up to timeout_ms); returns the last value. */
static double wait_metric(const worker *w, const char *sample, double want, int timeout_ms)
{
    double v = -1;
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        if ((v = worker_metric(w, sample)) >= want) break;
        sleep_ms(50);
    }
    return v;
}

static long admin_get(const worker *w, const char *method, const char *path, char **body)
{
    char url[160];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", w->admin_port, path);
    return http(method, url, body);
}

static long wait_status(const worker *w, const char *path, long want, int timeout_ms)
{
    long status = 0;
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        char *body;
        status = admin_get(w, "GET", path, &body);
        free(body);
        if (status == want) break;
        sleep_ms(50);
    }
    return status;
}

/* Start a worker with extra flags (NULL-terminated); exporter "none". */
static void start_worker(worker *w, const char *api_url, char *const *extra)
{
    char *argv[40];
    int n = 0;
    snprintf(w->log, sizeof w->log, "%s/worker.log", ts_tmpdir());
    char *base[] = {(char *)ts_bin(), "worker", "--redis", redis.url, "--api-url", (char *)api_url,
                    "--admin-listen", "127.0.0.1:0", "--log-level", "debug", NULL};
    for (int i = 0; base[i]; i++) argv[n++] = base[i];
    for (int i = 0; extra && extra[i]; i++) argv[n++] = extra[i];
    argv[n] = NULL;
    setenv("OTEL_TRACES_EXPORTER", "none", 1);
    w->pid = ts_spawn(argv, w->log);
    unsetenv("OTEL_TRACES_EXPORTER");
    assert_true(w->pid > 0);
    w->admin_port = ts_logged_port(w->log, 0, "admin HTTP on ", 15000);
    if (!w->admin_port) fail_msg("the worker logged no admin port (log %s)", w->log);
    assert_int_equal(wait_status(w, "/readyz", 200, 10000), 200);
}

/* SIGTERM: must exit 0; returns its log (malloc'd). */
static char *stop_worker(worker *w)
{
    int rc = ts_stop(w->pid, SIGTERM, 20000);
    w->pid = 0;
    char *log = ts_read_file(w->log, NULL);
    if (rc != 0) fail_msg("worker exited %d:\n%s", rc, log ? log : "");
    return log;
}

static int stop_current(void **state)
{
    if (current.pid > 0) ts_stop(current.pid, SIGKILL, 5000);
    if (server > 0) ts_stop(server, SIGKILL, 5000);
    current.pid = server = 0;
    return 0;
}

static redisContext *redis_client(int port)
{
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    assert_non_null(c);
    if (c->err) fail_msg("cannot connect to Redis: %s", c->errstr);
    return c;
}

static void publish(redisContext *c, const char *payload, size_t len)
{
    redisReply *r = redisCommand(c, "PUBLISH event.workflow.started %b", payload, len);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, 1); /* the worker is subscribed */
    freeReplyObject(r);
}

static void publish_str(redisContext *c, const char *payload) { publish(c, payload, strlen(payload)); }

static int start_redis(void **state)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return ts_redis_start(&redis);
}

static int stop_redis(void **state)
{
    ts_redis_stop(&redis);
    curl_global_cleanup();
    return 0;
}

/* ---- tests ---- */

static void check_promtool(const char *metrics_text)
{
    char path[300], cmd[400], *out = NULL, *err = NULL;
    snprintf(path, sizeof path, "%s/metrics.txt", redis.dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(metrics_text, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s", path);
    char *argv[] = {"sh", "-c", cmd, NULL};
    int rc = ts_run(argv, &out, &err, 20000);
    if (rc != 0) fail_msg("promtool check metrics: exit %d\n%s%s", rc, out ? out : "", err ? err : "");
    free(out);
    free(err);
}

static void check_endpoints(const worker *w)
{
    char *body;
    assert_int_equal(admin_get(w, "GET", "/healthz", &body), 200);
    assert_string_equal(body, "ok\n");
    free(body);
    assert_int_equal(admin_get(w, "GET", "/readyz", &body), 200);
    free(body);
    assert_int_equal(admin_get(w, "GET", "/nope", &body), 404);
    assert_non_null(strstr(body, "/nope"));
    free(body);
    assert_int_equal(admin_get(w, "POST", "/metrics", &body), 405);
    free(body);
    assert_int_equal(admin_get(w, "GET", "/metrics", &body), 200);
    assert_non_null(strstr(body, "# TYPE extrace_poll_duration_seconds histogram\n"));
    check_promtool(body);
    free(body);
}

/* Restart redis-server on the same port (the worker keeps its address). */
static void restart_redis(const worker *w)
{
    ts_redis_stop(&redis);
    assert_int_equal(wait_status(w, "/readyz", 503, 10000), 503);
    char log[300];
    snprintf(log, sizeof log, "%s/redis2.log", redis.dir);
    char *args[] = {"--dir", redis.dir, "--save", "", "--appendonly", "no", NULL};
    redis.pid = ts_redis_spawn(&redis.port, args, log); /* the port it had, held since */
    assert_true(redis.pid > 0);
    /* Backoff is at most 5 s. */
    assert_int_equal(wait_status(w, "/readyz", 200, 10000), 200);
}

static void test_events_admin_reconnect(void **state)
{
    worker *w = &current;
    char *extra[] = {"--initial-delay", "1h", "--max-workflows", "3", NULL};
    start_worker(w, "http://127.0.0.1:9", extra);
    redisContext *c = redis_client(redis.port);
    char long_id[200];
    memset(long_id, 'x', 129);
    long_id[129] = '\0';
    char long_event[300];
    snprintf(long_event, sizeof long_event, "{\"WorkflowId\":\"%s\",\"SubmittedAt\":\"2024-07-05T06:57:51Z\"}", long_id);
    publish_str(c, "garbage");
    publish(c, "\x00\xff{", 3);
    publish_str(c, "{\"WorkflowId\":\"a/b\",\"SubmittedAt\":\"2024-07-05T06:57:51Z\"}");
    publish_str(c, long_event);
    publish_str(c, "{\"WorkflowId\":\"x1\"}");
    publish_str(c, "{\"WorkflowId\":\"\",\"SubmittedAt\":\"2024-07-05T06:57:51Z\"}");
    publish_str(c, "{\"WorkflowId\":\"x2\",\"SubmittedAt\":\"soon\"}");
    publish_str(c, VALID("w1"));
    publish_str(c, VALID("w2"));
    publish_str(c, VALID("w1"));
    publish_str(c, VALID("w3"));
    publish_str(c, VALID("w4"));
    assert_int_equal(wait_metric(w, "extrace_events_received_total", 12, 5000), 12);
    assert_int_equal(worker_metric(w, "extrace_events_rejected_total{reason=\"json\"}"), 2);
    assert_int_equal(worker_metric(w, "extrace_events_rejected_total{reason=\"bad_id\"}"), 2);
    assert_int_equal(worker_metric(w, "extrace_events_rejected_total{reason=\"missing_field\"}"), 2);
    assert_int_equal(worker_metric(w, "extrace_events_rejected_total{reason=\"bad_time\"}"), 1);
    assert_int_equal(worker_metric(w, "extrace_events_rejected_total{reason=\"capacity\"}"), 1);
    assert_int_equal(worker_metric(w, "extrace_events_duplicate_total"), 1);
    assert_int_equal(worker_metric(w, "extrace_workflows_started_total"), 3);
    assert_int_equal(worker_metric(w, "extrace_workflows_in_flight"), 3);
    assert_int_equal(worker_metric(w, "extrace_polls_total"), 0);
    check_endpoints(w);
    redisFree(c);
    /* Redis goes away and comes back: not ready meanwhile, then resubscribed. */
    restart_redis(w);
    assert_int_equal(worker_metric(w, "extrace_redis_subscriptions_total"), 2);
    c = redis_client(redis.port);
    publish_str(c, VALID("after-restart"));
    redisFree(c);
    assert_int_equal(wait_metric(w, "extrace_events_received_total", 13, 5000), 13);
    assert_int_equal(worker_metric(w, "extrace_events_rejected_total{reason=\"capacity\"}"), 2);
    char *log = stop_worker(w);
    /* Rejections are logged with the reason and the value. */
    assert_non_null(strstr(log, "event rejected (json): event \"garbage\" is not JSON"));
    assert_non_null(strstr(log, "event rejected (bad_id): WorkflowId \"a/b\": character '/' at offset 1"));
    assert_non_null(strstr(log, "event rejected (bad_time): SubmittedAt \"soon\""));
    assert_non_null(strstr(log, "event rejected (capacity): workflow w4"));
    assert_non_null(strstr(log, "lost the connection to Redis"));
    assert_non_null(strstr(log, "abandoned 3 in-flight workflows (pub/sub keeps no record of them: run workers "
                                "with --stream to have them resumed)"));
    free(log);
}

/* A directory served by python's http.server whose files break the API
 * contract in every way a 200 can, plus a redirect and a hanging read. */
static const char *make_bad_api_dir(void)
{
    static char dir[300];
    char path[400];
    snprintf(dir, sizeof dir, "%s", ts_tmpdir());
    snprintf(path, sizeof path, "%s/workflows", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/workflows/json-bad", dir);
    FILE *f = fopen(path, "w");
    fputs("this is not JSON", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/workflows/contract-bad", dir);
    f = fopen(path, "w");
    fputs("{\"workflowId\":\"someone-else\",\"workflowStatus\":\"Processing\","
          "\"workflowStartTime\":\"2024-07-05T06:57:56.1234567Z\",\"isComplete\":false}", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/workflows/moved", dir); /* a directory: 301 to moved/ */
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/workflows/hang", dir); /* opening a FIFO blocks the handler */
    assert_int_equal(mkfifo(path, 0644), 0);
    return dir;
}

static void test_poll_errors_and_timeout(void **state)
{
    const char *dir = make_bad_api_dir();
    char api[64], log[400];
    snprintf(log, sizeof log, "%s/http.log", dir);
    char *py[] = {"python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", (char *)dir, NULL};
    server = ts_spawn(py, log);
    int port = ts_logged_port(log, 0, "Serving HTTP on 127.0.0.1 port ", 15000);
    if (!port) fail_msg("python3 -m http.server did not start (log %s)", log);
    snprintf(api, sizeof api, "http://127.0.0.1:%d", port);
    worker *w = &current;
    char *extra[] = {"--initial-delay", "10ms", "--interval", "50ms", "--timeout", "2s", "--poll-timeout", "300ms",
                     NULL};
    start_worker(w, api, extra);
    redisContext *c = redis_client(redis.port);
    publish_str(c, VALID("json-bad"));
    publish_str(c, VALID("contract-bad"));
    publish_str(c, VALID("moved"));
    publish_str(c, VALID("hang"));
    publish_str(c, VALID("gone"));
    redisFree(c);
    assert_true(wait_metric(w, "extrace_poll_errors_total{kind=\"json\"}", 2, 5000) >= 2);
    assert_true(wait_metric(w, "extrace_poll_errors_total{kind=\"contract\"}", 2, 5000) >= 2);
    assert_true(wait_metric(w, "extrace_poll_errors_total{kind=\"http_other\"}", 2, 5000) >= 2);
    assert_true(wait_metric(w, "extrace_poll_errors_total{kind=\"timeout\"}", 1, 5000) >= 1);
    /* 404 ends a workflow at once; the others carry on until their timeout. */
    assert_int_equal(wait_metric(w, "extrace_workflows_finished_total{result=\"error\"}", 1, 5000), 1);
    assert_int_equal(wait_metric(w, "extrace_workflows_finished_total{result=\"timeout\"}", 4, 10000), 4);
    assert_int_equal(worker_metric(w, "extrace_workflows_in_flight"), 0);
    assert_int_equal(worker_metric(w, "extrace_poll_errors_total{kind=\"connect\"}"), 0);
    assert_int_equal(worker_metric(w, "extrace_poll_errors_total{kind=\"http_5xx\"}"), 0);
    char *text = stop_worker(w);
    assert_non_null(strstr(text, "workflow json-bad: poll failed (json): HTTP 200"));
    assert_non_null(strstr(text, "workflow contract-bad: poll failed (contract): HTTP 200"));
    assert_non_null(strstr(text, "workflow moved: poll failed (http_other): HTTP 301"));
    assert_non_null(strstr(text, "abandoned 0 in-flight workflows"));
    free(text);
}

static void test_5xx_and_connect(void **state)
{
    /* The real API refuses a second workflow with 503 while the first runs. */
    int port;
    char api[64], log[400];
    snprintf(log, sizeof log, "%s/api.log", redis.dir);
    server = ts_api_start((char *[]){"--max-workflows", "1", NULL}, log, &port);
    assert_true(server > 0);
    snprintf(api, sizeof api, "http://127.0.0.1:%d", port);
    worker *w = &current;
    char *extra[] = {"--initial-delay", "10ms", "--interval", "50ms", "--timeout", "60s", NULL};
    start_worker(w, api, extra);
    redisContext *c = redis_client(redis.port);
    publish_str(c, VALID("first"));
    assert_true(wait_metric(w, "extrace_polls_total", 1, 5000) >= 1);
    publish_str(c, VALID("second"));
    redisFree(c);
    assert_true(wait_metric(w, "extrace_poll_errors_total{kind=\"http_5xx\"}", 2, 5000) >= 2);
    /* The API goes away: connection errors, and the monitors carry on. */
    ts_stop(server, SIGTERM, 5000);
    server = 0;
    assert_true(wait_metric(w, "extrace_poll_errors_total{kind=\"connect\"}", 2, 5000) >= 2);
    assert_int_equal(worker_metric(w, "extrace_workflows_in_flight"), 2);
    char *text = stop_worker(w);
    assert_non_null(strstr(text, "workflow second: poll failed (http_5xx): HTTP 503"));
    assert_non_null(strstr(text, "abandoned 2 in-flight workflows"));
    free(text);
}

static void test_bad_options(void **state)
{
    char *out = NULL, *err = NULL;
    char *a1[] = {(char *)ts_bin(), "worker", "--api-url", "ftp://x", NULL};
    assert_int_equal(ts_run(a1, &out, &err, 10000), 2);
    assert_non_null(strstr(err, "--api-url=\"ftp://x\""));
    free(out);
    free(err);
    char *a2[] = {(char *)ts_bin(), "worker", "--interval", "soon", NULL};
    assert_int_equal(ts_run(a2, &out, &err, 10000), 2);
    assert_non_null(strstr(err, "--interval=\"soon\""));
    free(out);
    free(err);
    /* An OTEL_* error stops it with 2 too, naming the variable. */
    setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon", 1);
    char *a3[] = {(char *)ts_bin(), "worker", NULL};
    int rc = ts_run(a3, &out, &err, 10000);
    unsetenv("OTEL_EXPORTER_OTLP_PROTOCOL");
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "OTEL_EXPORTER_OTLP_PROTOCOL"));
    free(out);
    free(err);
    /* The seed's variable names work, with their units. */
    setenv("TracingSample__WorkflowMonitor__IntervalSeconds", "0", 1);
    char *a4[] = {(char *)ts_bin(), "worker", NULL};
    rc = ts_run(a4, &out, &err, 10000);
    unsetenv("TracingSample__WorkflowMonitor__IntervalSeconds");
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "TracingSample__WorkflowMonitor__IntervalSeconds"));
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_events_admin_reconnect, stop_current),
        cmocka_unit_test_teardown(test_poll_errors_and_timeout, stop_current),
        cmocka_unit_test_teardown(test_5xx_and_connect, stop_current),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, start_redis, stop_redis);
}
