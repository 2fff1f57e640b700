/* Spans as they end, end to end: a real redis-server, `extrace api` on
 * time at a time scale where each workflow runs for many poll intervals,
 * and two workers on the same pub/sub channel, each with its own Node
 * OTLP receiver: one with the default `--export-spans as-they-end`, one
 * with `--export-spans at-end`. While a workflow still runs (the API says
 * so), the first receiver already holds the spans of its stages that
 * ended (each matching an ended stage of the API's answer) and not its
 * root, and the second holds nothing of it. After the end, both traces
 * are complete and the same: same span ids, parents, names, times,
 * statuses, attributes and events — apart from what depends on when each
 * worker polled (observation windows, the root's poll counts). For the
 * seed, where the API stamps every state (--processing-times), every event
 * is the same; for GitHub Actions, where a poll stamps a job's
 * in_progress, the events are the same where the source stamped them. */
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

#include "model/spans.h"
#include "otel/ids.h"
#include "source/builtin.h"
#include "source_run.h"
#include "tree_check.h"

#define MAXK     8
#define WATCH_MS 40000

static ts_redis redis;
static run early, late; /* as-they-end, at-end; one API (early's) */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int stop_runs(void **state)
{
    (void)state;
    late.api = 0; /* early's */
    run_kill(&late);
    run_kill(&early);
    return 0;
}

/* The API, then both workers (extra arguments for both). */
static void start(const char *source, const char *const *api_extra, const char *const *worker_extra)
{
    run_begin(&early, source);
    run_begin(&late, source);
    run_start_api(&early, api_extra);
    late.api_port = early.api_port;
    const char *a[8] = {0}, *b[8] = {"--export-spans", "at-end"};
    for (int i = 0; worker_extra && worker_extra[i] && i < 5; i++) a[i] = b[i + 2] = worker_extra[i];
    run_start_worker(&early, redis.url, NULL, a);
    run_start_worker(&late, redis.url, NULL, b);
}

/* Announce keys to both workers (the seed's event form for the seed). */
static void announce(const char *source, char keys[][64], int n)
{
    for (int i = 0; i < n; i++) {
        char ev[600], iso[40];
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S", &tm);
        if (strcmp(source, "seed") == 0)
            snprintf(ev, sizeof ev, "{\"WorkflowId\":\"%s\",\"SubmittedAt\":\"%s.%03ldZ\"}", keys[i], iso,
                     ts.tv_nsec / 1000000);
        else snprintf(ev, sizeof ev, "{\"Source\":\"%s\",\"Key\":\"%s\",\"SubmittedAt\":\"%s.%03ldZ\"}", source,
                      keys[i], iso, ts.tv_nsec / 1000000);
        redisReply *rep = tf_redis(redis.port, "PUBLISH event.workflow.started %s", ev);
        assert_int_equal(rep->integer, 2); /* both workers are subscribed */
        freeReplyObject(rep);
    }
}

static void trace_hex(const char *source, const char *key, char hex[33])
{
    uint8_t tid[16];
    mdl_trace_id("dev1", source, key, tid);
    exo_hex(tid, 16, hex);
}

static const char *jstr(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* The spans of trace hex in s: roots, and the others but Queued. */
static void count_trace(const tc_spans *s, const char *hex, int *roots, int *others)
{
    *roots = *others = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(jstr(s->v[i], "traceId"), hex) != 0) continue;
        if (!jstr(s->v[i], "parentSpanId")[0]) (*roots)++;
        else if (strcmp(jstr(s->v[i], "name"), "Queued") != 0) (*others)++;
    }
}

/* ---- what the API says while a workflow runs ---- */

/* The seed: 1 while running; then every stage span received must be an
 * entity the answer shows ended, ending at its entityEndTime. */
static int seed_running(const tc_spans *s, const char *hex, const char *key)
{
    char path[300];
    snprintf(path, sizeof path, "/workflows/%s", key);
    json_t *api = run_get_json(&early, path, NULL);
    int running = !json_is_true(json_object_get(api, "isComplete"));
    uint8_t tid[16];
    mdl_trace_id("dev1", "seed", key, tid);
    for (size_t i = 0; running && i < s->n; i++) {
        json_t *sp = s->v[i];
        if (strcmp(jstr(sp, "traceId"), hex) != 0 || strcmp(jstr(sp, "name"), "Queued") == 0) continue;
        json_t *ent = json_object_get(json_object_get(api, "workflowEntities"), jstr(sp, "name"));
        if (!ent) fail_msg("seed %s: span %s is no entity of the API's answer", key, jstr(sp, "name"));
        uint8_t sid[8];
        char shex[17];
        exo_span_id(tid, jstr(sp, "name"), jstr(ent, "entityId"), sid);
        assert_string_equal(jstr(sp, "spanId"), exo_hex(sid, 8, shex));
        const char *end = jstr(ent, "entityEndTime");
        if (!end) fail_msg("seed %s: span %s arrived while the stage runs", key, jstr(sp, "name"));
        char want[32];
        snprintf(want, sizeof want, "%lld", (long long)tk_time(end));
        assert_string_equal(jstr(sp, "endTimeUnixNano"), want);
    }
    json_decref(api);
    return running;
}

/* GitHub: 1 while the run is not completed. */
static int github_running(const tc_spans *s, const char *hex, const char *key)
{
    (void)s;
    (void)hex;
    char path[300];
    const char *slash = strrchr(key, '/');
    snprintf(path, sizeof path, "/repos/%.*s/actions/runs/%s", (int)(slash - key), key, slash + 1);
    json_t *api = run_get_json(&early, path, NULL);
    int running = strcmp(jstr(api, "status"), "completed") != 0;
    json_decref(api);
    return running;
}

/* Until every workflow was seen running with ended spans received (and
 * no root) by the early receiver while the late one has none of it. */
static void watch_partials(const char *source, char keys[][64], int n,
                           int (*running)(const tc_spans *, const char *, const char *))
{
    int seen[MAXK] = {0}, nseen = 0, most = 0;
    for (int waited = 0; nseen < n && waited < WATCH_MS; waited += 50) {
        tc_spans a;
        tc_load(early.out, &a);
        for (int i = 0; i < n; i++) {
            char hex[33];
            int roots, others;
            trace_hex(source, keys[i], hex);
            count_trace(&a, hex, &roots, &others);
            if (seen[i] || roots || !others || !running(&a, hex, keys[i])) continue;
            tc_spans b;
            tc_load(late.out, &b);
            size_t bspans = 0;
            for (size_t k = 0; k < b.n; k++) bspans += strcmp(jstr(b.v[k], "traceId"), hex) == 0;
            tc_free(&b);
            assert_int_equal(bspans, 0); /* at-end: nothing before the end */
            seen[i] = 1;
            nseen++;
            if (others > most) most = others;
        }
        tc_free(&a);
        if (nseen < n) sleep_ms(50);
    }
    if (nseen < n) fail_msg("%s: %d of %d workflows seen running with ended spans exported (logs in %s)", source,
                            nseen, n, early.dir);
    print_message("%s: every workflow seen running with its ended spans received (up to %d spans)\n", source, most);
}

/* ---- the traces after the end ---- */

static const char *time_source(json_t *ev)
{
    const char *v = json_string_value(json_object_get(json_object_get(ev, "attributes"), "extrace.time_source"));
    return v ? v : "";
}

/* A span without what depends on when its worker polled: the root's poll
 * counts, the observation windows and, unless strict, the events (which
 * states a poll saw, hence their time source: same_events compares them). */
static json_t *normalized(json_t *sp, int strict)
{
    json_t *x = json_deep_copy(sp);
    static const char *const transport[] = {"request", "protocol", "encoding"};
    for (size_t i = 0; i < 3; i++) json_object_del(x, transport[i]);
    json_object_del(json_object_get(x, "resource"), "service.instance.id");
    json_object_del(json_object_get(x, "attributes"), "extrace.polls");
    json_object_del(json_object_get(x, "attributes"), "extrace.poll_errors");
    if (!strict) {
        json_object_del(x, "events");
        return x;
    }
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(x, "events"), i, ev) {
        static const char *const window[] = {"extrace.observed_before", "extrace.observed_after",
                                             "extrace.observed_before_unix_nano",
                                             "extrace.observed_after_unix_nano"};
        for (size_t k = 0; k < 4; k++) json_object_del(json_object_get(ev, "attributes"), window[k]);
    }
    return x;
}

/* Events of two workers' copies of a span, where states a poll saw may
 * differ: the last (the end) is the same state, at the same time when the
 * source stamped it; a state both have with the source's time, at that time. */
static int same_events(json_t *a, json_t *b)
{
    json_t *ea = json_object_get(a, "events"), *eb = json_object_get(b, "events");
    size_t na = json_array_size(ea), nb = json_array_size(eb);
    if (!na || !nb) return na == nb;
    json_t *la = json_array_get(ea, na - 1), *lb = json_array_get(eb, nb - 1);
    if (strcmp(jstr(la, "name"), jstr(lb, "name")) != 0) return 0;
    for (size_t i = 0; i < na; i++) {
        json_t *x = json_array_get(ea, i);
        for (size_t j = 0; j < nb; j++) {
            json_t *y = json_array_get(eb, j);
            if (strcmp(jstr(x, "name"), jstr(y, "name")) != 0 || strcmp(time_source(x), "source") != 0 ||
                strcmp(time_source(y), "source") != 0)
                continue;
            if (strcmp(jstr(x, "timeUnixNano"), jstr(y, "timeUnixNano")) != 0) return 0;
        }
    }
    return 1;
}

/* The spans of trace hex, one per span id (copies must be identical);
 * returns how many, the most copies of one in *most. */
static size_t unique_spans(const tc_spans *s, const char *hex, json_t **out, size_t cap, int *most)
{
    size_t n = 0;
    int copies[64] = {0};
    *most = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(jstr(s->v[i], "traceId"), hex) != 0) continue;
        size_t k = 0;
        while (k < n && strcmp(jstr(out[k], "spanId"), jstr(s->v[i], "spanId")) != 0) k++;
        if (k == n) {
            assert_true(n < cap && n < 64);
            out[n++] = s->v[i];
        } else {
            json_t *x = json_deep_copy(out[k]), *y = json_deep_copy(s->v[i]);
            json_object_del(x, "request");
            json_object_del(y, "request");
            if (!json_equal(x, y)) fail_msg("span %s arrived in differing copies", jstr(out[k], "spanId"));
            json_decref(x);
            json_decref(y);
        }
        if (++copies[k] > *most) *most = copies[k];
    }
    return n;
}

/* Both receivers hold each workflow's complete trace, the same (strict:
 * every event too, when the source stamps every state). */
static void compare_traces(const char *source, char keys[][64], int n, int strict)
{
    tc_spans a, b;
    tc_load(early.out, &a);
    tc_load(late.out, &b);
    int copies = 0;
    for (int i = 0; i < n; i++) {
        char hex[33];
        json_t *ua[64], *ub[64];
        int ma, mb;
        trace_hex(source, keys[i], hex);
        size_t na = unique_spans(&a, hex, ua, 64, &ma), nb = unique_spans(&b, hex, ub, 64, &mb);
        if (na != nb) fail_msg("%s %s: %zu spans as they end, %zu at the end", source, keys[i], na, nb);
        assert_true(na >= 3); /* the root and at least two more */
        copies += ma > 1;
        for (size_t k = 0; k < na; k++) {
            size_t j = 0;
            while (j < nb && strcmp(jstr(ua[k], "spanId"), jstr(ub[j], "spanId")) != 0) j++;
            if (j == nb) fail_msg("%s %s: span %s (%s) only as they end", source, keys[i], jstr(ua[k], "spanId"),
                                  jstr(ua[k], "name"));
            json_t *x = normalized(ua[k], strict), *y = normalized(ub[j], strict);
            if (!json_equal(x, y) || (!strict && !same_events(ua[k], ub[j]))) {
                char *sx = json_dumps(x, JSON_COMPACT | JSON_SORT_KEYS), *sy = json_dumps(y, JSON_COMPACT | JSON_SORT_KEYS);
                fail_msg("%s %s: span %s differs:\nas they end: %s\nat the end:  %s", source, keys[i],
                         jstr(ua[k], "name"), sx, sy);
            }
            json_decref(x);
            json_decref(y);
        }
    }
    print_message("%s: %d traces the same both ways (%d with a span sent twice, identical)\n", source, n, copies);
    tc_free(&a);
    tc_free(&b);
}

/* Stop both workers; the early one exported spans while workflows ran, the late one none. */
static void finish(int n)
{
    char *ma = run_finish(&early, n), *mb = run_finish(&late, n);
    double running_a = tf_metric(ma, "extrace_spans_submitted_total{phase=\"running\"}");
    double running_b = tf_metric(mb, "extrace_spans_submitted_total{phase=\"running\"}");
    double delivered = tf_metric(ma, "extrace_partial_exports_total{outcome=\"delivered\"}");
    print_message("as they end: %.0f spans while running (%.0f exports delivered), %.0f at the end, %.0f resent\n",
                  running_a, delivered, tf_metric(ma, "extrace_spans_submitted_total{phase=\"end\"}"),
                  tf_metric(ma, "extrace_spans_resent_total"));
    assert_true(running_a >= n && delivered >= 1);
    assert_true(running_b == 0);
    assert_true(tf_metric(mb, "extrace_spans_submitted_total{phase=\"end\"}") >= 3 * n);
    free(ma);
    free(mb);
}

static void test_seed(void **state)
{
    (void)state;
    /* On time at 150x: a stage runs 0.3 s to 6 s, a workflow 3 to 8.5 s;
     * no failures, so that no phase is shorter than a few poll intervals
     * and both workers see each one. */
    const char *api_extra[] = {"--time-scale", "150", "--failure-rate", "0", NULL};
    const char *worker_extra[] = {"--processing-times", NULL};
    start("seed", api_extra, worker_extra);
    char keys[MAXK][64];
    int n = 4;
    for (int i = 0; i < n; i++) snprintf(keys[i], 64, "live-%d-%d", (int)getpid(), i);
    announce("seed", keys, n);
    watch_partials("seed", keys, n, seed_running);
    finish(n);
    tc_spans a;
    tc_load(early.out, &a);
    for (int i = 0; i < n; i++) tc_check_workflow(&a, early.api_port, "dev1", keys[i], "as-they-end");
    tc_free(&a);
    compare_traces("seed", keys, n, 1);
}

static void test_github_actions(void **state)
{
    (void)state;
    if (!sr_builtin_find("github-actions")) skip();
    const char *api_extra[] = {"--time-scale", "120", "--failure-rate", "0", NULL};
    setenv("GITHUB_TOKEN", "test-token", 1);
    start("github-actions", api_extra, NULL);
    char keys[MAXK][64];
    int n = 3;
    for (int i = 0; i < n; i++) snprintf(keys[i], 64, "octo-org/hello-world/%d", 30433700 + i);
    announce("github-actions", keys, n);
    watch_partials("github-actions", keys, n, github_running);
    finish(n);
    compare_traces("github-actions", keys, n, 0);
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
    ts_cleanup();
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_seed, stop_runs),
        cmocka_unit_test_teardown(test_github_actions, stop_runs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
