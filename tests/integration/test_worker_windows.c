/* Truthful times, end to end, under CPU load: a real redis-server,
 * `extrace api --time-scale 600 --expose-plan` (on poll, then on time),
 * the Node OTLP receiver, `extrace generate` and `extrace worker` polling
 * every 10 ms while a busy process shares the worker's CPU (both pinned to
 * one core, the busy one for a bounded time). For every workflow:
 *   - the trace matches the API (trace_check.c: ids, times, Queued, every
 *     event inside its window to the nanosecond);
 *   - every transition the API does not timestamp (a stage's Processing,
 *     `extrace.time_source` = poll) lies inside its window, compared with
 *     the instant the simulator made it (GET /debug/plan/{id});
 *   - on time, every stage end is its planned instant exactly, and with
 *     --processing-times so is every Processing event;
 * the worker's clock offset gauge holds 0 (one host, one clock); and most
 * polls found the answer applied last, byte for byte, and took it as
 * unchanged without reading it (extrace_polls_same_answer_total): the
 * windows above hold all the same, so no changed answer was taken for
 * the last one. */
#define _GNU_SOURCE 1 /* sched_setaffinity */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "fixture.h"
#include "otel/ids.h"
#include "support.h"
#include "trace_check.h"

#define NWORKFLOWS 40
#define WAIT_SPANS_MS 30000
#define LOAD_SECONDS 12 /* the busy process ends by itself after this long */

static ts_redis redis;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
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

/* Pin pid to `cpu` (a no-op where the machine has fewer CPUs). */
static void pin(pid_t pid, int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(pid, sizeof set, &set);
}

/* A child spinning on `cpu` for LOAD_SECONDS, then exiting by itself. */
static pid_t busy_start(int cpu)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        pin(0, cpu);
        int64_t end = ex_mono_ns() + LOAD_SECONDS * EX_NS_PER_SEC;
        volatile uint64_t x = 0;
        while (ex_mono_ns() < end)
            for (int i = 0; i < 100000; i++) x += (uint64_t)i;
        _exit(0);
    }
    return pid;
}

/* One run's processes and files. */
typedef struct run {
    const char *advance;  /* --advance of the API */
    int processing_times; /* worker --processing-times */
    char dir[256], out[300], ids[300];
    pid_t api, receiver, busy;
    int api_port;
    tf_worker worker;
} run;

static void start_api(run *r)
{
    char log[320];
    snprintf(log, sizeof log, "%s/api.log", r->dir);
    char *args[] = {"--time-scale", "600", "--seed", "11", "--advance", (char *)r->advance, "--expose-plan", NULL};
    r->api = ts_api_start(args, log, &r->api_port);
    if (r->api <= 0) fail_msg("extrace api did not start (log %s)", log);
}

static void start_worker(run *r, int http_port)
{
    char endpoint[64], api[64];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", http_port);
    snprintf(api, sizeof api, "http://127.0.0.1:%d", r->api_port);
    snprintf(r->worker.log, sizeof r->worker.log, "%s/worker.log", r->dir);
    setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", 1);
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, 1);
    setenv("OTEL_BSP_SCHEDULE_DELAY", "100", 1);
    r->worker.consumer = "windows";
    char *argv[] = {"--redis", redis.url, "--api-url", api, "--initial-delay", "5ms", "--interval", "10ms",
                    "--timeout", "60s", "--seed", "3", r->processing_times ? "--processing-times" : NULL, NULL};
    tf_worker_start(&r->worker, argv);
    unsetenv("OTEL_EXPORTER_OTLP_PROTOCOL");
    unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
    unsetenv("OTEL_BSP_SCHEDULE_DELAY");
}

static void generate(run *r)
{
    char *out = NULL, *err = NULL, count[16];
    snprintf(count, sizeof count, "%d", NWORKFLOWS);
    char *argv[] = {(char *)ts_bin(), "generate", "--redis", redis.url, "--rate", "100", "--count", count,
                    "--ids-out", r->ids, NULL};
    int rc = ts_run(argv, &out, &err, 30000);
    if (rc != 0) fail_msg("generate exited %d: %s", rc, err ? err : "");
    free(out);
    free(err);
}

/* GET a JSON document from the API. */
static json_t *api_json(const run *r, const char *path_fmt, const char *id)
{
    char url[512], path[300], *body;
    snprintf(path, sizeof path, path_fmt, id);
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", r->api_port, path);
    long status = tc_http_get(url, &body);
    if (status != 200) fail_msg("GET %s: %ld %s", url, status, body);
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    assert_non_null(j);
    return j;
}

static int64_t int_of(json_t *v) { return strtoll(json_string_value(json_object_get(v, "int")), NULL, 10); }

static json_t *attr_of(json_t *obj, const char *key) { return json_object_get(json_object_get(obj, "attributes"), key); }

/* The plan entry of stage `type`, or NULL. */
static json_t *plan_entry(json_t *plan, const char *type)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(plan, "entities"), i, e) {
        if (strcmp(json_string_value(json_object_get(e, "entityType")), type) == 0) return e;
    }
    return NULL;
}

/* What one run saw, for its summary line. */
typedef struct tally {
    int poll_stamped;   /* un-timestamped transitions checked against the simulator */
    int source_stamped; /* Processing events with the API's own time (--processing-times) */
    int ends;           /* stage ends compared with the plan */
    int64_t widest;     /* widest window of a poll-stamped event, ns */
} tally;

/* The stage spans of one workflow against its plan. */
static void check_against_plan(const run *r, const tc_spans *s, const char *id, json_t *plan, tally *t)
{
    uint8_t tid[16];
    char hex[33];
    exo_trace_id("dev1", id, tid);
    exo_hex(tid, 16, hex);
    for (size_t i = 0; i < s->n; i++) {
        json_t *span = s->v[i];
        if (strcmp(json_string_value(json_object_get(span, "traceId")), hex) != 0) continue;
        const char *name = json_string_value(json_object_get(span, "name"));
        json_t *entry = plan_entry(plan, name);
        if (!entry) continue; /* the root or Queued */
        int on_time = strcmp(r->advance, "on-time") == 0;
        int64_t actual = json_integer_value(json_object_get(entry, "processingUnixNano"));
        if (on_time) {
            int64_t end = strtoll(json_string_value(json_object_get(span, "endTimeUnixNano")), NULL, 10);
            if (end != json_integer_value(json_object_get(entry, "plannedEndUnixNano")))
                fail_msg("%s %s: %s ended at %lld, planned %lld", r->advance, id, name, (long long)end,
                         (long long)json_integer_value(json_object_get(entry, "plannedEndUnixNano")));
            assert_true(actual == json_integer_value(json_object_get(entry, "plannedProcessingUnixNano")));
            t->ends++;
        }
        size_t k;
        json_t *ev;
        json_array_foreach(json_object_get(span, "events"), k, ev) {
            if (strcmp(json_string_value(json_object_get(ev, "name")), "Processing") != 0) continue;
            int64_t time = strtoll(json_string_value(json_object_get(ev, "timeUnixNano")), NULL, 10);
            const char *src = json_string_value(attr_of(ev, "extrace.time_source"));
            if (strcmp(src, "source") == 0) {
                assert_true(r->processing_times);
                if (time != actual) fail_msg("%s %s: %s Processing at %lld, made at %lld", r->advance, id, name,
                                             (long long)time, (long long)actual);
                t->source_stamped++;
                continue;
            }
            assert_false(r->processing_times && on_time);
            int64_t before = int_of(attr_of(ev, "extrace.observed_before_unix_nano"));
            json_t *a = attr_of(ev, "extrace.observed_after_unix_nano");
            int64_t after = a ? int_of(a) : INT64_MIN;
            if (actual < after || actual > before)
                fail_msg("%s %s: %s became Processing at %lld, outside its window [%lld, %lld] (%s)", r->advance, id,
                         name, (long long)actual, (long long)after, (long long)before, r->dir);
            if (a && before - after > t->widest) t->widest = before - after;
            t->poll_stamped++;
        }
    }
}

static void run_once(const char *advance, int processing_times)
{
    run r = {.advance = advance, .processing_times = processing_times};
    snprintf(r.dir, sizeof r.dir, "%s", ts_tmpdir());
    snprintf(r.out, sizeof r.out, "%s/spans.jsonl", r.dir);
    snprintf(r.ids, sizeof r.ids, "%s/ids.txt", r.dir);
    start_api(&r);
    int grpc_port = 0, http_port = 0;
    char rlog[320];
    snprintf(rlog, sizeof rlog, "%s/receiver.log", r.dir);
    r.receiver = tf_receiver_start(&grpc_port, &http_port, r.out, rlog);
    start_worker(&r, http_port);
    pin(r.worker.pid, 0);
    r.busy = busy_start(0);
    generate(&r);
    int roots = 0;
    for (int waited = 0; waited < WAIT_SPANS_MS && (roots = tc_count_roots(r.out)) < NWORKFLOWS; waited += 100)
        sleep_ms(100);
    char sample[128];
    snprintf(sample, sizeof sample, "extrace_api_clock_offset_seconds{host=\"127.0.0.1:%d\"}", r.api_port);
    double offset = tf_worker_metric(&r.worker, sample);
    snprintf(sample, sizeof sample, "extrace_api_clock_offset_uncertainty_seconds{host=\"127.0.0.1:%d\"}", r.api_port);
    double uncertainty = tf_worker_metric(&r.worker, sample);
    double polls = tf_worker_metric(&r.worker, "extrace_polls_total");
    double same = tf_worker_metric(&r.worker, "extrace_polls_same_answer_total");
    assert_int_equal(ts_stop(r.worker.pid, SIGTERM, 20000), 0);
    ts_stop(r.receiver, SIGTERM, 5000);
    kill(r.busy, SIGKILL);
    waitpid(r.busy, NULL, 0);
    if (roots < NWORKFLOWS) fail_msg("%s: %d of %d traces within %d ms (logs in %s)", advance, roots, NWORKFLOWS,
                                     WAIT_SPANS_MS, r.dir);
    /* One host, one clock: the offset interval holds 0. */
    if (uncertainty < 0 || offset - uncertainty > 1e-9 || offset + uncertainty < -1e-9)
        fail_msg("%s: clock offset %g s ± %g s excludes 0", advance, offset, uncertainty);
    /* A workflow moves a handful of times in its hundred-odd polls. */
    print_message("%s: %.0f of %.0f polls found the answer applied last\n", advance, same, polls);
    if (!(same > polls / 2)) fail_msg("%s: %.0f of %.0f polls took the same answer's route", advance, same, polls);

    tc_spans spans;
    tc_load(r.out, &spans);
    char *ids = ts_read_file(r.ids, NULL);
    assert_non_null(ids);
    tally t = {0};
    int n = 0;
    for (char *id = strtok(ids, "\n"); id; id = strtok(NULL, "\n"), n++) {
        json_t *plan = api_json(&r, "/debug/plan/%s", id);
        tc_check_workflow(&spans, r.api_port, "dev1", id, advance);
        check_against_plan(&r, &spans, id, plan, &t);
        json_decref(plan);
    }
    assert_int_equal(n, NWORKFLOWS);
    print_message("%s%s: %d un-timestamped transitions inside their windows (widest %.1f ms), %d Processing "
                  "times from the API, %d stage ends on plan; clock offset %.6f s ± %.6f s\n",
                  advance, processing_times ? " --processing-times" : "", t.poll_stamped, (double)t.widest / 1e6,
                  t.source_stamped, t.ends, offset, uncertainty);
    if (processing_times) assert_true(t.source_stamped > NWORKFLOWS);
    else assert_true(t.poll_stamped > NWORKFLOWS); /* most workflows reach Processing in 2+ stages */
    tc_free(&spans);
    free(ids);
    ts_stop(r.api, SIGTERM, 5000);
}

static void test_on_poll(void **state)
{
    (void)state;
    run_once("on-poll", 0);
}

static void test_on_time(void **state)
{
    (void)state;
    run_once("on-time", 0);
}

static void test_on_time_processing_times(void **state)
{
    (void)state;
    run_once("on-time", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_on_poll),
        cmocka_unit_test(test_on_time),
        cmocka_unit_test(test_on_time_processing_times),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
