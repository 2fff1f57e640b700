/* test_store_metrics.c — TraceQL metrics and the metrics summary of
 * `extrace store` over real HTTP: a real store process on ephemeral ports
 * with a temp --data-dir, 30 workflow traces (a root and two stages each)
 * sent over OTLP/HTTP protobuf, then /api/metrics/query_range,
 * /api/metrics/query and /api/metrics/summary with libcurl. Every answer
 * is checked field by field against Tempo's JSON shape and against values
 * computed here by brute force over the spans the test sent; the 400
 * answers name the value at fault. Queries the compact span table can
 * answer are also answered by the trace scan (engine=scan) and the two
 * compared; so are the per-minute counts' answers with the compact
 * table's (counts equal, quantiles the bound of the exact one's bucket); some Processor spans carry too many attributes for their
 * compact row (read from the stored span instead); a filter on the
 * trace's root goes to the scan. */
#include <math.h>
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
#include <curl/curl.h>
#include <jansson.h>

#include "core/mem.h"
#include "http.h"
#include "otel/otlp_proto.h"
#include "support.h"

#define SEC INT64_C(1000000000)
#define NWF 30
#define NSP (NWF * 3)

static pid_t server;
static int otlp_port, query_port;
static char log_path[300];
static CURL *curl;
static int64_t base_ns; /* a minute boundary about an hour ago */

/* What the test sent, for the brute-force answers. */
typedef struct sent {
    uint8_t trace_id[16];
    const char *name;
    int status;
    int64_t start_ns, dur_ns;
} sent;
static sent spans[NSP];

/* ---- HTTP ------------------------------------------------------------------ */

static void http(const char *method, int port, const char *path, const char *const *headers, const void *body,
                 size_t body_len, th_resp *r)
{
    char url[4096];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    th_req req = {.headers = headers, .body = body, .body_len = body_len, .timeout_ms = 20000};
    th_request(curl, method, url, &req, r);
}

/* path + "?q=<q encoded>&" + more. */
static const char *with_q(const char *path, const char *q, const char *more)
{
    static char out[4096];
    char *enc = curl_easy_escape(curl, q, 0);
    snprintf(out, sizeof out, "%s?q=%s%s%s", path, enc, more ? "&" : "", more ? more : "");
    curl_free(enc);
    return out;
}

static char last_engine[16]; /* X-Extrace-Engine of the last get_json */

static json_t *get_json(const char *path)
{
    th_resp r;
    http("GET", query_port, path, NULL, NULL, 0, &r);
    snprintf(last_engine, sizeof last_engine, "%s", r.engine);
    if (r.status != 200) fail_msg("GET %s: status %ld: %s", path, r.status, r.body);
    if (strncmp(r.content_type, "application/json", 16) != 0) fail_msg("GET %s: content type %s", path, r.content_type);
    json_error_t err;
    json_t *doc = json_loadb(r.body, r.len, JSON_REJECT_DUPLICATES, &err);
    if (!doc) fail_msg("GET %s: not JSON (%s): %s", path, err.text, r.body);
    th_resp_free(&r);
    return doc;
}

static void expect_400(const char *path, const char *needle)
{
    th_resp r;
    http("GET", query_port, path, NULL, NULL, 0, &r);
    if (r.status != 400 || !strstr(r.body, needle))
        fail_msg("GET %s: %ld \"%s\", want 400 containing \"%s\"", path, r.status, r.body, needle);
    th_resp_free(&r);
}

/* Exactly these keys in object o. */
static void expect_keys(json_t *o, const char *const *keys)
{
    assert_true(json_is_object(o));
    size_t n = 0;
    for (; keys[n]; n++)
        if (!json_object_get(o, keys[n])) fail_msg("missing key %s in %s", keys[n], json_dumps(o, JSON_COMPACT));
    if (json_object_size(o) != n) fail_msg("extra keys in %s", json_dumps(o, JSON_COMPACT));
}

/* ---- data ------------------------------------------------------------------- */

/* Workflow i: root at base + 20·i s lasting i+1 s, status error when i%3
 * is 0; a DataLoader (0.5·(i+1) s) and a Processor (i%7+1 s, error when
 * i%5 is 0) starting with it. */
static void ingest(void)
{
    exo_span *out[NSP];
    for (int i = 0; i < NWF; i++) {
        const char *names[3] = {"Workflow", "DataLoader", "Processor"};
        int64_t durs[3] = {(i + 1) * SEC, (i + 1) * SEC / 2, (i % 7 + 1) * SEC};
        int status[3] = {i % 3 == 0 ? 2 : 1, 1, i % 5 == 0 ? 2 : 1};
        for (int k = 0; k < 3; k++) {
            sent *s = &spans[i * 3 + k];
            memset(s->trace_id, 0x5a, 16);
            s->trace_id[15] = (uint8_t)(i + 1);
            s->name = names[k];
            s->status = status[k];
            s->start_ns = base_ns + (int64_t)i * 20 * SEC + k * SEC / 10;
            s->dur_ns = durs[k];
            exo_span *e = exo_span_new(s->name, 1);
            assert_non_null(e);
            memcpy(e->trace_id, s->trace_id, 16);
            memset(e->span_id, 0x10 + k, 8);
            e->span_id[7] = (uint8_t)i;
            if (k) {
                memset(e->parent_span_id, 0x10, 8);
                e->parent_span_id[7] = (uint8_t)i;
                e->has_parent = 1;
                exo_attrs_add_str(&e->attrs, "type", s->name);
            }
            for (int a = 0; k == 2 && i % 4 == 0 && a < 10; a++) { /* more than a compact row keeps */
                char key[16];
                snprintf(key, sizeof key, "extra.%d", a);
                exo_attrs_add_str(&e->attrs, key, "0123456789012345678901234567890123456789");
            }
            e->start_ns = s->start_ns;
            e->end_ns = s->start_ns + s->dur_ns;
            exo_span_set_status(e, s->status, s->status == 2 ? "failed" : NULL);
            out[i * 3 + k] = e;
        }
    }
    exo_resource res = {{0}};
    exo_attrs_add_str(&res.attrs, "service.name", "Tracing.Worker");
    uint8_t *body = NULL;
    size_t len = 0;
    assert_int_equal(exo_otlp_proto_encode(&res, "sample-tracing", "1.0.0", out, NSP, &body, &len), 0);
    const char *headers[] = {"Content-Type: application/x-protobuf", NULL};
    th_resp r;
    http("POST", otlp_port, "/v1/traces", headers, body, len, &r);
    if (r.status != 200) fail_msg("ingest: %ld %s", r.status, r.body);
    th_resp_free(&r);
    ex_free(body);
    exo_attrs_clear(&res.attrs);
    for (size_t i = 0; i < NSP; i++) exo_span_free(out[i]);
}

static int start_store(void **state)
{
    (void)state;
    const char *dir = ts_tmpdir();
    assert_non_null(dir);
    snprintf(log_path, sizeof log_path, "%s/store.log", dir);
    char data_dir[300];
    snprintf(data_dir, sizeof data_dir, "%s/data", dir);
    ts_store_ports ports;
    server = ts_store_start((char *[]){"--data-dir", data_dir, "--log-level", "info", NULL}, log_path, &ports);
    otlp_port = ports.otlp_http;
    query_port = ports.query;
    assert_true(server > 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl = curl_easy_init();
    base_ns = ((int64_t)time(NULL) - 3600) / 60 * 60 * SEC;
    ingest();
    return curl ? 0 : -1;
}

static int stop_store(void **state)
{
    (void)state;
    if (curl) curl_easy_cleanup(curl);
    curl_global_cleanup();
    int rc = server > 0 ? ts_stop(server, SIGTERM, 10000) : -1;
    if (rc != 0) {
        char *log = ts_read_file(log_path, NULL);
        fprintf(stderr, "store exit status %d; log:\n%s\n", rc, log ? log : "(none)");
        free(log);
        return -1;
    }
    return 0;
}

/* ---- brute force ------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Spans named name (NULL: any) with status st (-1: any) starting in
 * [lo, hi): their count, and their durations sorted into durs. */
static size_t select_spans(const char *name, int st, int64_t lo, int64_t hi, int64_t *durs)
{
    size_t n = 0;
    for (size_t i = 0; i < NSP; i++)
        if ((!name || strcmp(spans[i].name, name) == 0) && (st < 0 || spans[i].status == st) &&
            spans[i].start_ns >= lo && spans[i].start_ns < hi)
            durs[n++] = spans[i].dur_ns;
    qsort(durs, n, sizeof *durs, cmp_i64);
    return n;
}

static int64_t nearest_rank(const int64_t *sorted, size_t n, double q)
{
    size_t r = (size_t)ceil(q * (double)n);
    return sorted[r ? r - 1 : 0];
}

static const char *label_string(json_t *series, const char *key)
{
    json_t *labels = json_object_get(series, "labels"), *l;
    size_t i;
    json_array_foreach(labels, i, l) {
        const char *kk[] = {"key", "value", NULL};
        expect_keys(l, kk);
        if (strcmp(json_string_value(json_object_get(l, "key")), key) == 0)
            return json_string_value(json_object_get(json_object_get(l, "value"), "stringValue"));
    }
    return NULL;
}

/* ---- tests --------------------------------------------------------------------- */

static char range_args[256];

/* rate() by (status) over root spans: Tempo's shape, every step, exact
 * values, exemplars with trace and span ids. */
static void test_rate_by_status(void **state)
{
    (void)state;
    int64_t base_s = base_ns / SEC;
    snprintf(range_args, sizeof range_args, "start=%lld&end=%lld&step=60s", (long long)base_s,
             (long long)base_s + 600);
    json_t *doc = get_json(with_q("/api/metrics/query_range", "{ name = \"Workflow\" } | rate() by (status)", range_args));
    assert_string_equal(last_engine, "rollup"); /* whole minutes, counts by name and status */
    const char *top[] = {"series", "metrics", NULL};
    expect_keys(doc, top);
    const char *mk[] = {"inspectedTraces", "inspectedBytes", "inspectedSpans", "completedJobs", "totalJobs", NULL};
    expect_keys(json_object_get(doc, "metrics"), mk);
    /* the counts of the 30 root spans (no trace is read) */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "metrics"), "inspectedTraces")), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "metrics"), "inspectedSpans")), "30");
    json_t *series = json_object_get(doc, "series");
    assert_int_equal(json_array_size(series), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *s = json_array_get(series, i);
        const char *sk[] = {"labels", "samples", "exemplars", NULL};
        expect_keys(s, sk);
        assert_int_equal(json_array_size(json_object_get(s, "labels")), 1);
        const char *status = label_string(s, "status");
        assert_non_null(status);
        int code = strcmp(status, "error") == 0 ? 2 : 1;
        assert_string_equal(status, i == 0 ? "ok" : "error"); /* ordered by status code: ok (1), error (2) */
        json_t *samples = json_object_get(s, "samples");
        assert_int_equal(json_array_size(samples), 10);
        for (size_t k = 0; k < 10; k++) {
            json_t *p = json_array_get(samples, k);
            const char *pk[] = {"timestampMs", "value", NULL};
            expect_keys(p, pk);
            int64_t lo = base_ns + (int64_t)k * 60 * SEC;
            char ts[32];
            snprintf(ts, sizeof ts, "%lld", (long long)(lo / 1000000));
            assert_string_equal(json_string_value(json_object_get(p, "timestampMs")), ts);
            int64_t durs[NSP];
            size_t n = select_spans("Workflow", code, lo, lo + 60 * SEC, durs);
            double got = json_number_value(json_object_get(p, "value"));
            if (fabs(got - (double)n / 60.0) > 1e-12) fail_msg("%s step %zu: %g, want %zu/60", status, k, got, n);
        }
        json_t *ex = json_object_get(s, "exemplars"), *x;
        size_t j;
        assert_true(json_array_size(ex) > 0);
        json_array_foreach(ex, j, x) {
            const char *xk[] = {"labels", "value", "timestampMs", NULL};
            expect_keys(x, xk);
            assert_string_equal(json_string_value(json_object_get(x, "value")), "NaN");
            const char *tid = label_string(x, "trace:id");
            assert_non_null(tid);
            assert_int_equal(strlen(tid), 32);
            assert_int_equal(strncmp(tid, "5a5a5a5a", 8), 0);
            assert_int_equal(strlen(label_string(x, "span:id")), 16);
        }
    }
    json_decref(doc);
}

/* quantile_over_time(duration, .5, .9) by (name) over the stages: exact
 * nearest-rank durations in seconds, steps without spans left out. */
static void test_quantiles_by_stage(void **state)
{
    (void)state;
    json_t *doc = get_json(with_q("/api/metrics/query_range",
                                  "{ span.type != nil } | quantile_over_time(duration, .5, .9) by (name)", range_args));
    json_t *series = json_object_get(doc, "series");
    assert_int_equal(json_array_size(series), 4);
    const char *order[] = {"DataLoader", "DataLoader", "Processor", "Processor"};
    for (size_t i = 0; i < 4; i++) {
        json_t *s = json_array_get(series, i);
        assert_string_equal(label_string(s, "name"), order[i]);
        json_t *p = json_object_get(json_array_get(json_object_get(s, "labels"), 1), "value");
        double q = json_number_value(json_object_get(p, "doubleValue"));
        assert_true(q == (i % 2 ? 0.9 : 0.5));
        json_t *samples = json_object_get(s, "samples"), *smp;
        size_t k;
        assert_int_equal(json_array_size(samples), 10); /* every step has 3 workflows */
        json_array_foreach(samples, k, smp) {
            int64_t lo = base_ns + (int64_t)k * 60 * SEC, durs[NSP];
            size_t n = select_spans(order[i], -1, lo, lo + 60 * SEC, durs);
            assert_true(n > 0);
            double want = (double)nearest_rank(durs, n, q) / 1e9;
            assert_true(json_number_value(json_object_get(smp, "value")) == want);
        }
    }
    json_decref(doc);
}

/* The instant form: count_over_time() by (name) and
 * max_over_time(duration) without by() ({__name__=…}). */
static void test_instant(void **state)
{
    (void)state;
    char args[128];
    snprintf(args, sizeof args, "start=%lld&end=%lld", (long long)(base_ns / SEC), (long long)(base_ns / SEC + 300));
    json_t *doc = get_json(with_q("/api/metrics/query", "{} | count_over_time() by (name)", args));
    json_t *series = json_object_get(doc, "series");
    assert_int_equal(json_array_size(series), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *s = json_array_get(series, i);
        const char *sk[] = {"labels", "value", NULL};
        expect_keys(s, sk);
        int64_t durs[NSP];
        size_t n = select_spans(label_string(s, "name"), -1, base_ns, base_ns + 300 * SEC, durs);
        assert_true(json_number_value(json_object_get(s, "value")) == (double)n);
    }
    json_decref(doc);
    doc = get_json(with_q("/api/metrics/query", "{ status = error } | max_over_time(duration)", args));
    series = json_object_get(doc, "series");
    assert_int_equal(json_array_size(series), 1);
    assert_string_equal(label_string(json_array_get(series, 0), "__name__"), "max_over_time");
    int64_t durs[NSP];
    size_t n = select_spans(NULL, 2, base_ns, base_ns + 300 * SEC, durs);
    assert_true(json_number_value(json_object_get(json_array_get(series, 0), "value")) == (double)durs[n - 1] / 1e9);
    json_decref(doc);
}

/* /api/metrics/summary groupBy=name: counts, errors and exact
 * percentiles in ns, most spans first then by name. */
static void test_summary(void **state)
{
    (void)state;
    json_t *doc = get_json("/api/metrics/summary?q=%7B%7D&groupBy=name");
    const char *top[] = {"summaries", NULL};
    expect_keys(doc, top);
    json_t *sums = json_object_get(doc, "summaries");
    assert_int_equal(json_array_size(sums), 3);
    const char *names[] = {"DataLoader", "Processor", "Workflow"};
    for (size_t i = 0; i < 3; i++) {
        json_t *s = json_array_get(sums, i);
        int64_t durs[NSP], errs[NSP];
        size_t n = select_spans(names[i], -1, 0, INT64_MAX, durs), ne = select_spans(names[i], 2, 0, INT64_MAX, errs);
        const char *with_err[] = {"spanCount", "errorSpanCount", "series", "p99", "p95", "p90", "p50", NULL};
        const char *no_err[] = {"spanCount", "series", "p99", "p95", "p90", "p50", NULL};
        expect_keys(s, ne ? with_err : no_err);
        json_t *kv = json_array_get(json_object_get(s, "series"), 0);
        assert_string_equal(json_string_value(json_object_get(kv, "key")), "name");
        assert_int_equal(json_integer_value(json_object_get(json_object_get(kv, "value"), "type")), 5);
        assert_string_equal(json_string_value(json_object_get(json_object_get(kv, "value"), "s")), names[i]);
        char want[32];
        snprintf(want, sizeof want, "%zu", n);
        assert_string_equal(json_string_value(json_object_get(s, "spanCount")), want);
        if (ne) {
            snprintf(want, sizeof want, "%zu", ne);
            assert_string_equal(json_string_value(json_object_get(s, "errorSpanCount")), want);
        }
        const char *pk[] = {"p50", "p90", "p95", "p99"};
        const double pq[] = {.5, .9, .95, .99};
        for (size_t k = 0; k < 4; k++) {
            snprintf(want, sizeof want, "%lld", (long long)nearest_rank(durs, n, pq[k]));
            assert_string_equal(json_string_value(json_object_get(s, pk[k])), want);
        }
    }
    json_decref(doc);
}

/* 400s name what is wrong: step, the steps limit, the function, the
 * quantile, start, groupBy, and the series limit. */
static void test_errors(void **state)
{
    (void)state;
    expect_400(with_q("/api/metrics/query_range", "{} | rate()", "step=abc"), "step=\"abc\": expected a duration");
    expect_400(with_q("/api/metrics/query_range", "{} | rate()", "since=24h&step=1s"),
               "step=\"1s\" from start to end: 86401 steps over the range, more than the limit of 11000");
    expect_400(with_q("/api/metrics/query_range", "{} | rates()", NULL),
               "position 6: unknown metrics function \"rates\"");
    expect_400(with_q("/api/metrics/query_range", "{} | quantile_over_time(duration, 9)", NULL),
               "quantile \"9\": expected a number from 0 to 1");
    expect_400(with_q("/api/metrics/query_range", "{}", NULL), "not a metrics query");
    expect_400(with_q("/api/metrics/query", "{} | rate()", "start=yesterday"), "start=\"yesterday\": expected unix");
    expect_400("/api/metrics/query_range", "q: a TraceQL metrics query is required");
    expect_400("/api/metrics/summary?q=%7B%7D", "groupBy: required");
    /* one more trace with 1001 distinct values of span.k */
    exo_span *out[1001];
    for (int i = 0; i < 1001; i++) {
        out[i] = exo_span_new("many", 1);
        memset(out[i]->trace_id, 0x77, 16);
        out[i]->span_id[0] = 1;
        out[i]->span_id[6] = (uint8_t)(i >> 8);
        out[i]->span_id[7] = (uint8_t)i;
        out[i]->start_ns = base_ns + 30 * SEC;
        out[i]->end_ns = out[i]->start_ns + SEC;
        exo_attrs_add_int(&out[i]->attrs, "k", i);
    }
    exo_resource res = {{0}};
    exo_attrs_add_str(&res.attrs, "service.name", "Many");
    uint8_t *body = NULL;
    size_t len = 0;
    assert_int_equal(exo_otlp_proto_encode(&res, "s", "1", out, 1001, &body, &len), 0);
    const char *headers[] = {"Content-Type: application/x-protobuf", NULL};
    th_resp r;
    http("POST", otlp_port, "/v1/traces", headers, body, len, &r);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    ex_free(body);
    exo_attrs_clear(&res.attrs);
    for (int i = 0; i < 1001; i++) exo_span_free(out[i]);
    expect_400(with_q("/api/metrics/query_range", "{ name = \"many\" } | rate() by (span.k)", range_args),
               "more than 1000 series (the series limit)");
    /* 1000 of them are fine */
    json_t *doc = get_json(with_q("/api/metrics/query", "{ name = \"many\" && span.k < 1000 } | rate() by (span.k)",
                                  "since=2h"));
    assert_int_equal(json_array_size(json_object_get(doc, "series")), 1000);
    json_decref(doc);
}

/* Labels and samples of every series of a query_range answer, as text. */
static char *series_text(json_t *doc)
{
    json_t *series = json_object_get(doc, "series"), *s;
    size_t i;
    json_t *out = json_array();
    json_array_foreach(series, i, s) {
        json_t *one = json_pack("{sOsO}", "labels", json_object_get(s, "labels"), "samples",
                                json_object_get(s, "samples") ? json_object_get(s, "samples")
                                                              : json_object_get(s, "value"));
        json_array_append_new(out, one);
    }
    char *text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(out);
    return text;
}

/* The compact table and the trace scan give the same series over the
 * same spans; exemplars of both name spans the test sent. */
static void test_compact_equals_scan(void **state)
{
    (void)state;
    static const char *const queries[] = {
        "{ name = \"Workflow\" } | rate() by (status)",
        "{ span.type != nil } | quantile_over_time(duration, .5, .9, .99) by (name)",
        "{ span.type = \"Processor\" } | count_over_time() by (status)",
        "{ resource.service.name = \"Tracing.Worker\" && duration > 2s } | max_over_time(duration) by (name)",
        "{ kind = internal } | histogram_over_time(duration)",
        "{} | avg_over_time(duration) by (name, status)",
    };
    char compact_args[300];
    snprintf(compact_args, sizeof compact_args, "%s&engine=compact", range_args);
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        json_t *fast = get_json(with_q("/api/metrics/query_range", queries[i], compact_args));
        if (strcmp(last_engine, "compact") != 0) fail_msg("%s: engine %s, want compact", queries[i], last_engine);
        char args[300];
        snprintf(args, sizeof args, "%s&engine=scan", range_args);
        json_t *slow = get_json(with_q("/api/metrics/query_range", queries[i], args));
        if (strcmp(last_engine, "scan") != 0) fail_msg("%s: engine %s with engine=scan", queries[i], last_engine);
        char *a = series_text(fast), *b = series_text(slow);
        if (strcmp(a, b) != 0) fail_msg("%s:\ncompact %s\nscan    %s", queries[i], a, b);
        assert_true(json_array_size(json_object_get(fast, "series")) > 0);
        json_t *s, *x;
        size_t k, j;
        json_array_foreach(json_object_get(fast, "series"), k, s) {
            json_array_foreach(json_object_get(s, "exemplars"), j, x) {
                const char *tid = label_string(x, "trace:id"), *sid = label_string(x, "span:id");
                assert_true(tid && strncmp(tid, "5a5a5a5a5a5a", 12) == 0);
                assert_true(sid && strlen(sid) == 16 && (strncmp(sid, "10", 2) == 0 || strncmp(sid, "11", 2) == 0 ||
                                                         strncmp(sid, "12", 2) == 0));
            }
        }
        free(a);
        free(b);
        json_decref(fast);
        json_decref(slow);
    }
    /* the summary too */
    json_t *fast = get_json("/api/metrics/summary?q=%7Bspan.type%20!%3D%20nil%7D&groupBy=name");
    assert_string_equal(last_engine, "compact");
    json_t *slow = get_json("/api/metrics/summary?q=%7Bspan.type%20!%3D%20nil%7D&groupBy=name&engine=scan");
    assert_string_equal(last_engine, "scan");
    char *a = json_dumps(fast, JSON_COMPACT | JSON_SORT_KEYS), *b = json_dumps(slow, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(a, b);
    free(a);
    free(b);
    json_decref(fast);
    json_decref(slow);
    expect_400(with_q("/api/metrics/query_range", "{} | rate()", "engine=fast"),
               "engine=\"fast\": expected auto, rollup, compact or scan");
}

/* The value of series s at step k (NAN when it has no sample there). */
static double sample_at(json_t *s, const char *ts)
{
    json_t *p;
    size_t i;
    json_array_foreach(json_object_get(s, "samples"), i, p) {
        if (strcmp(json_string_value(json_object_get(p, "timestampMs")), ts) == 0)
            return json_number_value(json_object_get(p, "value"));
    }
    return NAN;
}

/* The per-minute counts answer the queries they can: counts equal to the
 * compact engine's and to brute force; a quantile is the upper bound of
 * the log2 bucket that holds the exact one (Tempo's precision). */
static void test_rollup(void **state)
{
    (void)state;
    static const char *const counts[] = {
        "{ name = \"Workflow\" } | rate() by (status)",
        "{ resource.service.name = \"Tracing.Worker\" && name != \"Workflow\" && status = error } | count_over_time() by (name)",
        "{ kind = internal } | histogram_over_time(duration) by (name)",
        "{} | count_over_time() by (name, status)",
    };
    char compact_args[300];
    snprintf(compact_args, sizeof compact_args, "%s&engine=compact", range_args);
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        json_t *roll = get_json(with_q("/api/metrics/query_range", counts[i], range_args));
        if (strcmp(last_engine, "rollup") != 0) fail_msg("%s: engine %s, want rollup", counts[i], last_engine);
        json_t *rows = get_json(with_q("/api/metrics/query_range", counts[i], compact_args));
        assert_string_equal(last_engine, "compact");
        char *a = series_text(roll), *b = series_text(rows);
        if (strcmp(a, b) != 0) fail_msg("%s:\nrollup  %s\ncompact %s", counts[i], a, b);
        assert_true(json_array_size(json_object_get(roll, "series")) > 0);
        free(a);
        free(b);
        json_decref(roll);
        json_decref(rows);
    }
    const char *q = "{ resource.service.name = \"Tracing.Worker\" && name != \"Workflow\" }"
                    " | quantile_over_time(duration, .5, .9, .99) by (name)";
    json_t *roll = get_json(with_q("/api/metrics/query_range", q, range_args));
    assert_string_equal(last_engine, "rollup");
    json_t *series = json_object_get(roll, "series"), *s;
    size_t i, checked = 0;
    assert_int_equal(json_array_size(series), 6);
    json_array_foreach(series, i, s) {
        const char *name = label_string(s, "name");
        double p = json_number_value(json_object_get(json_object_get(json_array_get(json_object_get(s, "labels"), 1),
                                                                     "value"),
                                                      "doubleValue"));
        for (size_t k = 0; k < 10; k++) {
            int64_t lo = base_ns + (int64_t)k * 60 * SEC, durs[NSP];
            size_t n = select_spans(name, -1, lo, lo + 60 * SEC, durs);
            char ts[32];
            snprintf(ts, sizeof ts, "%lld", (long long)(lo / 1000000));
            double got = sample_at(s, ts);
            if (!n) {
                assert_true(isnan(got));
                continue;
            }
            int64_t exact = nearest_rank(durs, n, p), bound = 2;
            while (bound < exact) bound *= 2;
            if (got != (double)bound / 1e9)
                fail_msg("%s p%g step %zu: %.9f, want the bucket bound %.9f of %.9f", name, p, k, got,
                         (double)bound / 1e9, (double)exact / 1e9);
            checked++;
        }
    }
    assert_true(checked >= 30);
    /* exemplars come from the spans */
    size_t nex = 0;
    json_array_foreach(series, i, s) nex += json_array_size(json_object_get(s, "exemplars"));
    assert_true(nex > 0);
    json_decref(roll);
    /* not whole minutes: the compact rows answer */
    char args[300];
    snprintf(args, sizeof args, "start=%lld&end=%lld&step=30s", (long long)(base_ns / SEC), (long long)(base_ns / SEC + 600));
    json_decref(get_json(with_q("/api/metrics/query_range", "{ name = \"Workflow\" } | rate()", args)));
    assert_string_equal(last_engine, "compact");
}

/* A filter the compact rows cannot answer (the trace's root name) goes to
 * the trace scan, with exact counts. */
static void test_scan_fallback(void **state)
{
    (void)state;
    json_t *doc = get_json(with_q("/api/metrics/query_range",
                                  "{ rootName = \"Workflow\" && status = error } | count_over_time() by (name)",
                                  range_args));
    assert_string_equal(last_engine, "scan");
    json_t *series = json_object_get(doc, "series"), *s;
    size_t i;
    size_t total = 0;
    json_array_foreach(series, i, s) {
        const char *name = label_string(s, "name");
        json_t *samples = json_object_get(s, "samples");
        assert_int_equal(json_array_size(samples), 10);
        for (size_t k = 0; k < 10; k++) {
            int64_t lo = base_ns + (int64_t)k * 60 * SEC, durs[NSP];
            size_t n = select_spans(name, 2, lo, lo + 60 * SEC, durs);
            assert_true(json_number_value(json_object_get(json_array_get(samples, k), "value")) == (double)n);
            total += n;
        }
    }
    int64_t durs[NSP];
    assert_int_equal(total, select_spans(NULL, 2, base_ns, base_ns + 600 * SEC, durs));
    assert_true(total > 0);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_by_status),
        cmocka_unit_test(test_quantiles_by_stage),
        cmocka_unit_test(test_instant),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_compact_equals_scan),
        cmocka_unit_test(test_rollup),
        cmocka_unit_test(test_scan_fallback),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, start_store, stop_store);
}
