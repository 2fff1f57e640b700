/* test_submitter.c — the submitter's trace, linked: a service instrumented
 * with the OpenTelemetry JS SDK (tests/otel-js/submit.js) makes a span
 * "submit workflow" and exports it to the Node OTLP receiver; its W3C
 * traceparent rides on the WorkflowStarted event (`extrace generate
 * --traceparent`); `extrace worker` (seed source, real redis-server, the
 * simulator) traces the workflow. At the same independent receiver:
 *   - by default the workflow's root span keeps its derived trace id
 *     (`extrace traceid`) and links to the SDK's span (remote flags);
 *   - with --parent-from-traceparent the root is a child of the SDK's
 *     span, in the SDK's trace;
 *   - a malformed traceparent is counted and the workflow traced anyway;
 *   - the same over a webhook: a signed GitHub workflow_run delivery
 *     (github-actions source, `--webhook-listen`, no event) carrying the
 *     SDK's traceparent in its `traceparent` header links the root span,
 *     or parents it with --parent-from-traceparent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <time.h>

#include "hook_client.h"
#include "source_run.h"
#include "trace_check.h"

static ts_redis redis;
static run current;

static int stop_run(void **state)
{
    (void)state;
    run_kill(&current);
    return 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Run submit.js against the receiver: the SDK's traceparent, trace and span ids. */
static json_t *submit(const run *r)
{
    char script[512], endpoint[64];
    snprintf(script, sizeof script, "%s/tests/otel-js/submit.js", getenv("EXTRACE_SOURCE_DIR"));
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", r->receiver_http);
    char *argv[] = {"node", script, "--endpoint", endpoint, NULL};
    char *out = NULL, *err = NULL;
    int rc = ts_run(argv, &out, &err, 30000);
    if (rc != 0) fail_msg("submit.js exited %d: %s", rc, err ? err : "");
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    free(out);
    free(err);
    return j;
}

/* extrace generate one seed event with traceparent tp; its workflow id into id. */
static void generate(const run *r, const char *tp, char id[64])
{
    char ids[320];
    snprintf(ids, sizeof ids, "%.250s/ids-%ld.txt", r->dir, (long)time(NULL) ^ (long)(intptr_t)tp);
    char *argv[] = {(char *)ts_bin(), "generate", "--redis", redis.url, "--count", "1", "--event-wait", "0s",
                    "--batch-wait", "0s", "--traceparent", (char *)tp, "--ids-out", ids, NULL};
    assert_int_equal(ts_run(argv, NULL, NULL, 30000), 0);
    char *text = ts_read_file(ids, NULL);
    assert_non_null(text);
    snprintf(id, 64, "%.*s", (int)strcspn(text, "\n"), text);
    free(text);
}

/* The "Workflow" root span of workflow id at the receiver (waits up to 30 s); a new reference. */
static json_t *workflow_root(const run *r, const char *id)
{
    for (int waited = 0; waited < 30000; waited += 200) {
        tc_spans s;
        tc_load(r->out, &s);
        for (size_t i = 0; i < s.n; i++) {
            json_t *attrs = json_object_get(s.v[i], "attributes");
            const char *wid = json_string_value(json_object_get(attrs, "workflowId"));
            if (wid && !strcmp(wid, id) && !strcmp(json_string_value(json_object_get(s.v[i], "name")), "Workflow")) {
                json_t *root = json_incref(s.v[i]);
                tc_free(&s);
                return root;
            }
        }
        tc_free(&s);
        sleep_ms(200);
    }
    fail_msg("no root span of workflow %s at the receiver (%s)", id, r->dir);
    return NULL;
}

static void start(run *r, const char *const *extra)
{
    run_begin(r, "seed");
    const char *api_extra[] = {"--time-scale", "600", NULL};
    run_start_api(r, api_extra);
    run_start_worker(r, redis.url, NULL, extra);
}

static const char *str(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static void test_root_links_to_the_sdk_span(void **state)
{
    (void)state;
    run *r = &current;
    start(r, NULL);
    json_t *sub = submit(r);
    char id[64];
    generate(r, str(sub, "traceparent"), id);
    json_t *root = workflow_root(r, id);
    /* the trace id stays the workflow's own */
    char *argv[] = {(char *)ts_bin(), "traceid", id, NULL};
    char *out = NULL;
    assert_int_equal(ts_run(argv, &out, NULL, 10000), 0);
    out[strcspn(out, "\n")] = '\0';
    assert_string_equal(str(root, "traceId"), out);
    free(out);
    assert_string_equal(str(root, "parentSpanId"), "");
    json_t *links = json_object_get(root, "links");
    assert_int_equal(json_array_size(links), 1);
    json_t *l = json_array_get(links, 0);
    assert_string_equal(str(l, "traceId"), str(sub, "traceId"));
    assert_string_equal(str(l, "spanId"), str(sub, "spanId"));
    assert_int_equal(json_integer_value(json_object_get(l, "flags")), 0x301);
    /* the SDK's own span reached the same receiver */
    tc_spans s;
    tc_load(r->out, &s);
    int found = 0;
    for (size_t i = 0; i < s.n; i++)
        found += !strcmp(str(s.v[i], "spanId"), str(sub, "spanId")) && !strcmp(str(s.v[i], "name"), "submit workflow");
    tc_free(&s);
    assert_int_equal(found, 1);
    json_decref(root);
    json_decref(sub);
    char *metrics = run_finish(r, 1);
    assert_int_equal((int)tf_metric(metrics, "extrace_traceparents_total{result=\"linked\"}"), 1);
    free(metrics);
}

static void test_root_is_the_sdk_span_child(void **state)
{
    (void)state;
    run *r = &current;
    const char *extra[] = {"--parent-from-traceparent", NULL};
    start(r, extra);
    json_t *sub = submit(r);
    char id[64];
    generate(r, str(sub, "traceparent"), id);
    json_t *root = workflow_root(r, id);
    assert_string_equal(str(root, "traceId"), str(sub, "traceId")); /* one trace: the SDK's */
    assert_string_equal(str(root, "parentSpanId"), str(sub, "spanId"));
    assert_int_equal(json_array_size(json_object_get(root, "links")), 0);
    assert_int_equal(json_integer_value(json_object_get(root, "flags")) & 0x300, 0x300); /* remote parent */
    json_decref(root);
    json_decref(sub);
    free(run_finish(r, 0));
}

static void test_malformed_is_counted(void **state)
{
    (void)state;
    run *r = &current;
    start(r, NULL);
    redisReply *rep = tf_redis(redis.port, "PUBLISH event.workflow.started %s",
                               "{\"WorkflowId\":\"w-bad-tp\",\"SubmittedAt\":\"2026-01-01T00:00:00Z\","
                               "\"Traceparent\":\"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01\"}");
    assert_int_equal(rep->integer, 1);
    freeReplyObject(rep);
    json_t *root = workflow_root(r, "w-bad-tp");
    assert_int_equal(json_array_size(json_object_get(root, "links")), 0);
    json_decref(root);
    char *metrics = run_finish(r, 1);
    assert_int_equal((int)tf_metric(metrics, "extrace_traceparents_total{result=\"malformed\"}"), 1);
    free(metrics);
    char *log = ts_read_file(r->worker.log, NULL);
    assert_non_null(strstr(log, "trace-id: 'B' at offset 4 is not a lower-case hex digit; traced without a link"));
    free(log);
}

#define HOOK_SECRET "submitter-hook-secret"

/* The root span (no parent, or parent_span as its parent) of trace_id at the receiver (waits up to 30 s). */
static json_t *root_of(const run *r, const char *trace_id, const char *parent_span)
{
    for (int waited = 0; waited < 30000; waited += 200) {
        tc_spans s;
        tc_load(r->out, &s);
        for (size_t i = 0; i < s.n; i++) {
            const char *t = str(s.v[i], "traceId"), *p = str(s.v[i], "parentSpanId");
            if (t && p && !strcmp(t, trace_id) && !strcmp(p, parent_span ? parent_span : "")) {
                json_t *root = json_incref(s.v[i]);
                tc_free(&s);
                return root;
            }
        }
        tc_free(&s);
        sleep_ms(200);
    }
    fail_msg("no root span in trace %s at the receiver (%s)", trace_id, r->dir);
    return NULL;
}

/* POST a signed workflow_run "requested" delivery of run `id` (made at
 * the simulator on first sight) carrying traceparent tp (NULL: none). */
static void post_run(const run *r, long id, const char *tp)
{
    char delivery[64];
    snprintf(delivery, sizeof delivery, "submitter-%ld", id);
    char *body = hc_run_payload(r, id);
    assert_int_equal(hc_post(hc_webhook_port(r->worker.log), "github-actions", HOOK_SECRET, "workflow_run", delivery,
                             body, tp), 202);
    free(body);
}

/* A github-actions worker taking webhooks, no event published at all. */
static void hook_start(run *r, const char *const *extra)
{
    run_begin(r, "github-actions");
    const char *api_extra[] = {"--time-scale", "120", NULL};
    run_start_api(r, api_extra);
    setenv("GITHUB_TOKEN", "test-token", 1);
    setenv("EXTRACE_WEBHOOK_SECRET", HOOK_SECRET, 1);
    const char *args[8] = {"--webhook-listen", "127.0.0.1:0"};
    int n = 2;
    for (; extra && *extra && n < 7; extra++) args[n++] = *extra;
    args[n] = NULL;
    run_start_worker(r, redis.url, NULL, args);
    unsetenv("EXTRACE_WEBHOOK_SECRET");
}

static void test_webhook_traceparent_links_root(void **state)
{
    (void)state;
    run *r = &current;
    hook_start(r, NULL);
    json_t *sub = submit(r);
    post_run(r, 8100001, str(sub, "traceparent"));
    char *argv[] = {(char *)ts_bin(), "traceid", "--source", "github-actions", "extrace-sim/demo/8100001", NULL};
    char *out = NULL;
    assert_int_equal(ts_run(argv, &out, NULL, 10000), 0);
    out[strcspn(out, "\n")] = '\0';
    json_t *root = root_of(r, out, NULL); /* the trace id stays the workflow's own */
    free(out);
    json_t *links = json_object_get(root, "links");
    assert_int_equal(json_array_size(links), 1);
    json_t *l = json_array_get(links, 0);
    assert_string_equal(str(l, "traceId"), str(sub, "traceId"));
    assert_string_equal(str(l, "spanId"), str(sub, "spanId"));
    assert_int_equal(json_integer_value(json_object_get(l, "flags")), 0x301);
    json_decref(root);
    json_decref(sub);
    char *metrics = run_finish(r, 1);
    assert_int_equal((int)tf_metric(metrics, "extrace_traceparents_total{result=\"linked\"}"), 1);
    assert_int_equal((int)tf_metric(metrics, "extrace_events_received_total"), 0); /* the webhook alone */
    free(metrics);
}

static void test_webhook_traceparent_parents_root(void **state)
{
    (void)state;
    run *r = &current;
    const char *extra[] = {"--parent-from-traceparent", NULL};
    hook_start(r, extra);
    json_t *sub = submit(r);
    post_run(r, 8200001, str(sub, "traceparent"));
    json_t *root = root_of(r, str(sub, "traceId"), str(sub, "spanId")); /* one trace: the SDK's */
    assert_int_equal(json_array_size(json_object_get(root, "links")), 0);
    assert_int_equal(json_integer_value(json_object_get(root, "flags")) & 0x300, 0x300); /* remote parent */
    json_decref(root);
    json_decref(sub);
    free(run_finish(r, 0));
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
        cmocka_unit_test_teardown(test_root_links_to_the_sdk_span, stop_run),
        cmocka_unit_test_teardown(test_root_is_the_sdk_span_child, stop_run),
        cmocka_unit_test_teardown(test_malformed_is_counted, stop_run),
        cmocka_unit_test_teardown(test_webhook_traceparent_links_root, stop_run),
        cmocka_unit_test_teardown(test_webhook_traceparent_parents_root, stop_run),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
