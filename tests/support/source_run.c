/* source_run.c — end-to-end runs of a source (source_run.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "source_run.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trace_check.h"
#include "tree_check.h"

#define WAIT_MS 40000

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

void run_start_api(run *r, const char *const *extra)
{
    snprintf(r->api_log, sizeof r->api_log, "%s/api.log", r->dir);
    char *argv[40] = {(char *)ts_bin(), "api",        "--listen", "127.0.0.1:0", "--source", (char *)r->source,
                      "--advance",      "on-time",    "--seed",   "11",          NULL};
    int n = 10;
    for (; extra && *extra && n < 39; extra++) argv[n++] = (char *)*extra;
    argv[n] = NULL;
    size_t from = ts_file_size(r->api_log);
    r->api = ts_spawn(argv, r->api_log);
    assert_true(r->api > 0);
    r->api_port = ts_logged_port(r->api_log, from, "api: listening on ", 20000);
    if (!r->api_port) fail_msg("extrace api --source %s did not start (%s)", r->source, r->api_log);
}

void run_start_worker(run *r, const char *redis_url, const char *profile, const char *const *extra)
{
    char log[320], api[64], endpoint[64];
    int grpc = 0, http = 0;
    snprintf(log, sizeof log, "%s/receiver.log", r->dir);
    r->receiver = tf_receiver_start(&grpc, &http, r->out, log);
    r->receiver_http = http;
    snprintf(r->worker.log, sizeof r->worker.log, "%s/worker.log", r->dir);
    r->worker.consumer = r->source;
    snprintf(api, sizeof api, "http://127.0.0.1:%d", r->api_port);
    char *args[40] = {"--redis", (char *)redis_url, "--source", (char *)(profile ? profile : r->source), "--api-url", api,
                      "--initial-delay", "20ms", "--interval", "100ms", "--timeout", "60s", "--seed", "3",
                      "--log-level", "debug"};
    int n = 16;
    for (; extra && *extra && n < 39; extra++) args[n++] = (char *)*extra;
    args[n] = NULL;
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", http);
    setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", 1);
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, 1);
    setenv("OTEL_BSP_SCHEDULE_DELAY", "100", 1);
    if (r->live_only) tf_worker_start_live(&r->worker, args);
    else tf_worker_start(&r->worker, args);
    unsetenv("OTEL_EXPORTER_OTLP_PROTOCOL");
    unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
    unsetenv("OTEL_BSP_SCHEDULE_DELAY");
}

void run_begin(run *r, const char *source)
{
    memset(r, 0, sizeof *r);
    r->source = source;
    snprintf(r->dir, sizeof r->dir, "%s", ts_tmpdir());
    snprintf(r->out, sizeof r->out, "%s/spans.jsonl", r->dir);
}

void run_kill(run *r)
{
    if (r->worker.pid > 0) ts_stop(r->worker.pid, SIGKILL, 5000);
    if (r->receiver > 0) ts_stop(r->receiver, SIGKILL, 5000);
    if (r->api > 0) ts_stop(r->api, SIGKILL, 5000);
    r->worker.pid = r->receiver = r->api = 0;
}

void run_announce(const run *r, int redis_port, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ev[600];
        time_t now = time(NULL);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&now, &tm);
        char iso[40];
        strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ev, sizeof ev, "{\"Source\":\"%s\",\"Key\":\"%s\",\"SubmittedAt\":\"%s.%03ldZ\"}", r->source,
                 keys[i], iso, ts.tv_nsec / 1000000);
        redisReply *rep = tf_redis(redis_port, "PUBLISH event.workflow.started %s", ev);
        assert_int_equal(rep->integer, 1); /* the worker is subscribed */
        freeReplyObject(rep);
    }
}

char *run_finish(run *r, int n)
{
    int roots = 0;
    for (int waited = 0; waited < WAIT_MS && (roots = tk_count_roots(r->out)) < n; waited += 200) sleep_ms(200);
    char url[128], *metrics = NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", r->worker.admin_port);
    assert_int_equal(tc_http_get(url, &metrics), 200);
    if (roots < n) fail_msg("%s: %d of %d traces within %d ms (logs in %s)", r->source, roots, n, WAIT_MS, r->dir);
    assert_int_equal(ts_stop(r->worker.pid, SIGTERM, 20000), 0);
    r->worker.pid = 0;
    ts_stop(r->receiver, SIGTERM, 5000);
    r->receiver = 0;
    return metrics;
}

double run_metric_sum(const char *text, const char *name)
{
    double sum = 0;
    char want[128];
    snprintf(want, sizeof want, "\n%s{", name);
    for (const char *p = text; (p = strstr(p, want)); p++) {
        const char *sp = strchr(p, '}');
        if (sp) sum += strtod(sp + 1, NULL);
    }
    return sum;
}


json_t *run_get_json(const run *r, const char *path, th_resp *keep)
{
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", r->api_port, path);
    CURL *c = curl_easy_init();
    th_resp resp;
    for (int i = 0; i < 100; i++) {
        th_request(c, "GET", url, NULL, &resp);
        if (resp.status != 403 && resp.status != 429) break;
        th_resp_free(&resp);
        sleep_ms(200);
    }
    curl_easy_cleanup(c);
    if (resp.status != 200) fail_msg("GET %s: %ld %s", url, resp.status, resp.body);
    json_error_t e;
    json_t *doc = json_loadb(resp.body, resp.len, 0, &e);
    if (!doc) fail_msg("GET %s: not JSON: %s", url, e.text);
    if (keep) *keep = resp;
    else th_resp_free(&resp);
    return doc;
}

