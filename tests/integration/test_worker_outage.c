/* A long receiver outage with the durable intake and a small spool: the
 * traces that cannot be delivered stay pending and are claimed and
 * exported again every --claim-idle. The metrics must keep describing
 * the events — each workflow started once, finished once, its spans
 * dropped (first time) once — with the repeats counted apart, and the
 * warnings must stay bounded. When the receiver comes back, every trace
 * arrives. Real redis-server, `extrace api`, the Node OTLP receiver. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <signal.h>
#include <time.h>

#include "fixture.h"
#include "support.h"
#include "trace_check.h"

#define STREAM    "wf-outage"
#define WORKFLOWS 30

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* WARN lines of a log. */
static int count_warnings(const char *path)
{
    char *text = ts_read_file(path, NULL);
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, " WARN ")); p++) n++;
    free(text);
    return n;
}

static void test_long_receiver_outage(void **state)
{
    const char *dir = ts_tmpdir(), *rdir = ts_tmpdir();
    char out_path[300], ids_path[300], spool[300], log[320], redis_url[64];
    snprintf(out_path, sizeof out_path, "%s/spans.jsonl", dir);
    snprintf(ids_path, sizeof ids_path, "%s/ids.txt", dir);
    snprintf(spool, sizeof spool, "%s/spool", dir);
    int redis_port = 0, api_port = 0;
    pid_t redis = tf_redis_start_aof(&redis_port, rdir);
    snprintf(redis_url, sizeof redis_url, "redis://127.0.0.1:%d", redis_port);
    snprintf(log, sizeof log, "%s/api.log", dir);
    pid_t api = ts_api_start((char *[]){"--time-scale", "3000", "--seed", "5", NULL}, log, &api_port);
    if (api <= 0) fail_msg("extrace api did not start (log %s)", log);
    /* held, refusing, until the receiver binds them */
    int grpc_port = ts_refused_port(), http_port = ts_refused_port();
    assert_true(grpc_port > 0 && http_port > 0);

    /* The receiver is down (nothing listens on http_port); a 4 KiB spool takes next to nothing.
     * Whole traces at the end: what is under test is how a trace that is not delivered is
     * exported again. (As they end, a finished trace whose stage spans wait in the spool
     * waits for them instead, held by this worker, until the backend is back.) */
    tf_worker w = {"outage"};
    snprintf(w.log, sizeof w.log, "%s/worker.log", dir);
    setenv("OTEL_BSP_EXPORT_TIMEOUT", "300", 1);
    tf_stream_worker_start(&w, redis_url, api_port, http_port, STREAM,
                           (char *[]){"--timeout", "60s", "--spool-dir", spool, "--spool-max-bytes", "4096",
                                      "--export-spans", "at-end", NULL});
    unsetenv("OTEL_BSP_EXPORT_TIMEOUT");
    char n[16];
    snprintf(n, sizeof n, "%d", WORKFLOWS);
    assert_int_equal(ts_run((char *[]){(char *)ts_bin(), "generate", "--redis", redis_url, "--stream", STREAM,
                                       "--rate", "200", "--count", n, "--ids-out", ids_path, NULL},
                            NULL, NULL, 20000),
                     0);

    /* Every trace fails once, then again every --claim-idle (1 s). */
    double again = 0;
    for (int i = 0; i < 200 && again < 2 * WORKFLOWS; i++, sleep_ms(50))
        again = tf_worker_metric(&w, "extrace_stream_entries_resumed_total");
    if (again < 2 * WORKFLOWS) fail_msg("traces were not claimed again twice each (log %s)", w.log);
    double dropped = tf_worker_metric(&w, "extrace_spans_dropped_total");
    sleep_ms(2500); /* two more cycles */
    assert_int_equal(tf_worker_metric(&w, "extrace_workflows_started_total"), WORKFLOWS);
    double finished = 0;
    const char *results[] = {"ok", "error", "timeout"};
    for (size_t i = 0; i < 3; i++) {
        char sample[96];
        snprintf(sample, sizeof sample, "extrace_workflows_finished_total{result=\"%s\"}", results[i]);
        double v = tf_worker_metric(&w, sample);
        finished += v > 0 ? v : 0;
    }
    assert_int_equal(finished, WORKFLOWS);
    assert_true(tf_worker_metric(&w, "extrace_workflows_resumed_total") >= 2 * WORKFLOWS);
    assert_true(tf_worker_metric(&w, "extrace_traces_exported_again_total") >= 2 * WORKFLOWS);
    assert_true(dropped > 0);
    assert_int_equal(tf_worker_metric(&w, "extrace_spans_dropped_total"), dropped); /* no new data, no new drops */
    assert_true(tf_worker_metric(&w, "extrace_spans_dropped_again_total") >= dropped);
    int warnings = count_warnings(w.log);
    if (warnings > 40) fail_msg("%d warnings for %d workflows (log %s)", warnings, WORKFLOWS, w.log);

    /* The receiver comes back: every trace arrives, complete. */
    snprintf(log, sizeof log, "%s/receiver.log", dir);
    pid_t receiver = tf_receiver_start(&grpc_port, &http_port, out_path, log);
    long long pending = -1;
    for (int i = 0; i < 200 && (pending != 0 || tc_count_roots(out_path) < WORKFLOWS); i++, sleep_ms(100))
        pending = tf_redis_pending(redis_port, STREAM, "extrace");
    if (pending != 0) fail_msg("%lld entries still pending (log %s)", pending, w.log);
    assert_int_equal(ts_stop(w.pid, SIGTERM, 20000), 0);
    tc_spans spans;
    tc_load(out_path, &spans);
    char *ids = ts_read_file(ids_path, NULL);
    for (char *id = strtok(ids, "\n"); id; id = strtok(NULL, "\n")) tc_check_workflow(&spans, api_port, "dev1", id, "outage");
    free(ids);
    tc_free(&spans);
    print_message("%.0f spans dropped once; %d warnings in the log\n", dropped, warnings);
    ts_stop(receiver, SIGTERM, 5000);
    ts_stop(api, SIGTERM, 5000);
    ts_stop(redis, SIGTERM, 5000);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_receiver_outage),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ts_cleanup();
    curl_global_cleanup();
    return rc;
}
