/* test_store_query.c — the query API of `extrace store` over real HTTP: a
 * real store process on ephemeral ports with a temp --data-dir; spans of
 * four traces sent over OTLP/HTTP (JSON and protobuf, two tenants); then
 * every query endpoint with libcurl: trace by id (Tempo JSON with base64
 * ids and enum names, protobuf decoded with protobuf-c), search with
 * TraceQL, tags= and duration / time bounds, 400 answers naming the
 * position, tenant isolation, tag names and values; finally a clean stop. */
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
#include "otel/otlp_json.h"
#include "otel/otlp_proto.h"
#include "support.h"
#include "tempopb/tempo.pb-c.h"

#define SEC INT64_C(1000000000)

static pid_t server;
static int otlp_port, query_port;
static char log_path[300];
static CURL *curl;
static int64_t base_ns;   /* start of trace A: an hour ago, inside the default 24h retention */

/* The four traces: A and B (Tracing.Worker), C (Other.Service), D (tenant acme). */
static const uint8_t ID_A[16] = {0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0x01};
static const uint8_t ID_B[16] = {0xb2, 0xb2, 0xb2, 0xb2, 0xb2, 0xb2, 0xb2, 0xb2, 0xb2, 0xb2, 0xb2, 0xb2, 0xb2, 0xb2, 0xb2, 0x02};
static const uint8_t ID_C[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc3, 0xc3, 0xc3};
static const uint8_t ID_D[16] = {0xd4, 0xd4, 0xd4, 0xd4, 0xd4, 0xd4, 0xd4, 0xd4, 0xd4, 0xd4, 0xd4, 0xd4, 0xd4, 0xd4, 0xd4, 0x04};
#define HEX_A "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a101"
#define HEX_B "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b202"
#define HEX_C "00000000000000000000000000c3c3c3"
#define HEX_D "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d404"

/* ---- HTTP ------------------------------------------------------------------ */

/* One request to the store on `port`; fails the test when no answer comes. */
static void http(const char *method, int port, const char *path, const char *const *headers, const void *body,
                 size_t body_len, th_resp *r)
{
    char url[4096];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    th_req req = {.headers = headers, .body = body, .body_len = body_len, .timeout_ms = 10000};
    th_request(curl, method, url, &req, r);
}

/* GET on the query port; fails unless the status is `want`. */
static void get(const char *path, const char *const *headers, long want, th_resp *r)
{
    http("GET", query_port, path, headers, NULL, 0, r);
    if (r->status != want) fail_msg("GET %s: status %ld, want %ld: %s", path, r->status, want, r->body);
}

static json_t *get_json(const char *path, const char *const *headers)
{
    th_resp r;
    get(path, headers, 200, &r);
    if (strncmp(r.content_type, "application/json", 16) != 0) fail_msg("GET %s: content type %s", path, r.content_type);
    json_error_t err;
    json_t *doc = json_loadb(r.body, r.len, JSON_REJECT_DUPLICATES, &err);
    if (!doc) fail_msg("GET %s: not JSON (%s): %s", path, err.text, r.body);
    th_resp_free(&r);
    return doc;
}

/* "/api/search?" + args with q URL-encoded (q may be NULL). */
static const char *search_path(const char *q, const char *more)
{
    static char path[2048];
    char *enc = q ? curl_easy_escape(curl, q, 0) : NULL;
    snprintf(path, sizeof path, "/api/search?%s%s%s%s", enc ? "q=" : "", enc ? enc : "", enc && more ? "&" : "",
             more ? more : "");
    curl_free(enc);
    return path;
}

/* The traceIDs a search answered, comma-separated. */
static const char *search_ids(const char *q, const char *more, const char *const *headers)
{
    static char ids[512];
    json_t *doc = get_json(search_path(q, more), headers);
    json_t *traces = json_object_get(doc, "traces");
    assert_true(json_is_array(traces));
    ids[0] = '\0';
    for (size_t i = 0; i < json_array_size(traces); i++)
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%s", i ? "," : "",
                 json_string_value(json_object_get(json_array_get(traces, i), "traceID")));
    assert_true(json_is_object(json_object_get(doc, "metrics")));
    json_decref(doc);
    return ids;
}

static void expect_ids(const char *q, const char *more, const char *const *headers, const char *want)
{
    const char *got = search_ids(q, more, headers);
    if (strcmp(got, want) != 0) fail_msg("search q=%s %s: got [%s], want [%s]", q, more ? more : "", got, want);
}

/* A GET answered with `status` and exactly the body `want`. */
static void expect_body(const char *path, long status, const char *want)
{
    th_resp r;
    get(path, NULL, status, &r);
    assert_string_equal(r.body, want);
    th_resp_free(&r);
}

/* A 400 whose body contains needle. */
static void expect_400(const char *path, const char *needle)
{
    th_resp r;
    get(path, NULL, 400, &r);
    if (!strstr(r.body, needle)) fail_msg("GET %s: 400 body \"%s\" lacks \"%s\"", path, r.body, needle);
    th_resp_free(&r);
}

/* ---- building and sending spans ------------------------------------------------- */

static exo_span *mk_span(const uint8_t tid[16], uint8_t sid, uint8_t parent, const char *name, int kind,
                         int64_t start_s, int64_t dur_ns, int status, const char *msg)
{
    exo_span *s = exo_span_new(name, kind);
    assert_non_null(s);
    memcpy(s->trace_id, tid, 16);
    memset(s->span_id, sid, 8);
    if (parent) {
        memset(s->parent_span_id, parent, 8);
        s->has_parent = 1;
    }
    s->start_ns = base_ns + start_s * SEC;
    s->end_ns = s->start_ns + dur_ns;
    exo_span_set_status(s, status, msg);
    return s;
}

static void send_spans(const char *service, exo_span **spans, size_t n, int as_json, const char *tenant)
{
    exo_resource res = {{0}};
    exo_attrs_add_str(&res.attrs, "service.name", service);
    exo_attrs_add_str(&res.attrs, "service.namespace", "dev1");
    char *body = NULL;
    size_t len = 0;
    if (as_json) assert_int_equal(exo_otlp_json_encode(&res, "sample-tracing", "1.0.0", spans, n, &body, &len), 0);
    else assert_int_equal(exo_otlp_proto_encode(&res, "sample-tracing", "1.0.0", spans, n, (uint8_t **)&body, &len), 0);
    char tenant_h[128];
    snprintf(tenant_h, sizeof tenant_h, "X-Scope-OrgID: %s", tenant ? tenant : "");
    const char *headers[] = {as_json ? "Content-Type: application/json" : "Content-Type: application/x-protobuf",
                             tenant ? tenant_h : NULL, NULL};
    th_resp r;
    http("POST", otlp_port, "/v1/traces", headers, body, len, &r);
    if (r.status != 200) fail_msg("ingest: %ld %s", r.status, r.body);
    th_resp_free(&r);
    ex_free(body);
    exo_attrs_clear(&res.attrs);
    for (size_t i = 0; i < n; i++) exo_span_free(spans[i]);
}

static void ingest_all(void)
{
    exo_span *a[2] = {mk_span(ID_A, 0x11, 0, "Workflow", EXO_KIND_INTERNAL, 0, 300 * SEC, EXO_STATUS_OK, NULL),
                      mk_span(ID_A, 0x12, 0x11, "DataLoader", EXO_KIND_INTERNAL, 5, 95 * SEC, EXO_STATUS_OK, NULL)};
    exo_attrs_add_str(&a[0]->attrs, "workflowId", "wf-A");
    exo_attrs_add_str(&a[0]->attrs, "startTime", "2024-07-05T06:57:56.1234567Z");
    exo_attrs_add_str(&a[1]->attrs, "type", "DataLoader");
    exo_attrs_add_str(&a[1]->attrs, "id", "e-A1");
    exo_span_add_event(a[0], base_ns, "Submitted");
    send_spans("Tracing.Worker", a, 2, 1, NULL);

    exo_span *b[2] = {
        mk_span(ID_B, 0x21, 0, "Workflow", EXO_KIND_INTERNAL, 600, 600 * SEC, EXO_STATUS_ERROR, "Entity failed: Processor"),
        mk_span(ID_B, 0x22, 0x21, "Processor", EXO_KIND_INTERNAL, 610, 580 * SEC, EXO_STATUS_ERROR, "Failed. Error code: 7")};
    exo_attrs_add_str(&b[0]->attrs, "workflowId", "wf-B");
    exo_attrs_add_str(&b[1]->attrs, "type", "Processor");
    exo_attrs_add_str(&b[1]->attrs, "my key", "spaced");
    exo_attrs_add_int(&b[1]->attrs, "retries", 3);
    send_spans("Tracing.Worker", b, 2, 0, NULL);

    exo_span *c[1] = {mk_span(ID_C, 0x31, 0, "Quick", EXO_KIND_SERVER, 1500, 50 * 1000000, EXO_STATUS_UNSET, NULL)};
    send_spans("Other.Service", c, 1, 1, NULL);

    exo_span *d[1] = {mk_span(ID_D, 0x41, 0, "Workflow", EXO_KIND_INTERNAL, 100, 100 * SEC, EXO_STATUS_OK, NULL)};
    send_spans("Acme.Worker", d, 1, 0, "acme");
}

/* ---- setup ---------------------------------------------------------------------- */

static int start_store(void **state)
{
    (void)state;
    const char *dir = ts_tmpdir();
    assert_non_null(dir);
    snprintf(log_path, sizeof log_path, "%s/store.log", dir);
    char data_dir[300];
    snprintf(data_dir, sizeof data_dir, "%s/data", dir);
    ts_store_ports ports;
    server = ts_store_start((char *[]){"--data-dir", data_dir, "--log-level", "debug", NULL}, log_path, &ports);
    otlp_port = ports.otlp_http;
    query_port = ports.query;
    assert_true(server > 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl = curl_easy_init();
    base_ns = ((int64_t)time(NULL) - 3600) * SEC;
    ingest_all();
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

/* ---- reading trace bodies ----------------------------------------------------- */

static size_t b64_decode(const char *s, uint8_t *out, size_t max)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (; *s && *s != '='; s++) {
        const char *p = strchr(tab, *s);
        if (!p) fail_msg("not base64: %s", s);
        acc = acc << 6 | (uint32_t)(p - tab);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n < max) out[n] = (uint8_t)(acc >> bits);
            n++;
        }
    }
    return n;
}

static void expect_b64(json_t *v, const uint8_t *want, size_t n)
{
    uint8_t got[32];
    assert_true(json_is_string(v));
    assert_int_equal(b64_decode(json_string_value(v), got, sizeof got), n);
    assert_memory_equal(got, want, n);
}

static json_t *spans_of(json_t *resource_spans_array, size_t i)
{
    json_t *rs = json_array_get(resource_spans_array, i);
    return json_object_get(json_array_get(json_object_get(rs, "scopeSpans"), 0), "spans");
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_small_endpoints(void **state)
{
    (void)state;
    th_resp r;
    expect_body("/api/echo", 200, "echo");
    expect_body("/ready", 200, "ready");
    json_t *bi = get_json("/api/status/buildinfo", NULL);
    const char *keys[] = {"version", "revision", "branch", "buildDate", "buildUser", "goVersion"};
    for (size_t i = 0; i < 6; i++) assert_true(json_is_string(json_object_get(bi, keys[i])));
    assert_string_equal(json_string_value(json_object_get(bi, "version")), EXTRACE_VERSION);
    json_decref(bi);
    http("POST", query_port, "/api/search", NULL, "x", 1, &r);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "GET, HEAD");
    th_resp_free(&r);
    http("DELETE", query_port, "/api/traces/" HEX_A, NULL, NULL, 0, &r);
    assert_int_equal(r.status, 405);
    th_resp_free(&r);
}

static void test_trace_by_id_json(void **state)
{
    (void)state;
    json_t *doc = get_json("/api/traces/" HEX_A, NULL);
    json_t *batches = json_object_get(doc, "batches");
    assert_int_equal(json_array_size(batches), 1);
    json_t *res_attrs = json_object_get(json_object_get(json_array_get(batches, 0), "resource"), "attributes");
    assert_string_equal(json_string_value(json_object_get(json_array_get(res_attrs, 0), "key")), "service.name");
    json_t *spans = spans_of(batches, 0);
    assert_int_equal(json_array_size(spans), 2);
    json_t *root = json_array_get(spans, 0), *child = json_array_get(spans, 1);
    expect_b64(json_object_get(root, "traceId"), ID_A, 16);
    uint8_t sid[8], pid[8];
    memset(sid, 0x11, 8);
    memset(pid, 0x12, 8);
    expect_b64(json_object_get(root, "spanId"), sid, 8);
    expect_b64(json_object_get(child, "spanId"), pid, 8);
    expect_b64(json_object_get(child, "parentSpanId"), sid, 8);
    assert_null(json_object_get(root, "parentSpanId"));
    assert_string_equal(json_string_value(json_object_get(root, "name")), "Workflow");
    assert_string_equal(json_string_value(json_object_get(root, "kind")), "SPAN_KIND_INTERNAL");
    char start[32];
    snprintf(start, sizeof start, "%lld", (long long)base_ns);
    assert_string_equal(json_string_value(json_object_get(root, "startTimeUnixNano")), start);
    assert_string_equal(json_string_value(json_object_get(json_object_get(root, "status"), "code")), "STATUS_CODE_OK");
    json_t *ev = json_array_get(json_object_get(root, "events"), 0);
    assert_string_equal(json_string_value(json_object_get(ev, "name")), "Submitted");
    assert_string_equal(json_string_value(json_object_get(ev, "timeUnixNano")), start);
    json_decref(doc);

    doc = get_json("/api/v2/traces/" HEX_B, NULL);
    spans = spans_of(json_object_get(json_object_get(doc, "trace"), "resourceSpans"), 0);
    assert_int_equal(json_array_size(spans), 2);
    json_t *st = json_object_get(json_array_get(spans, 0), "status");
    assert_string_equal(json_string_value(json_object_get(st, "code")), "STATUS_CODE_ERROR");
    assert_string_equal(json_string_value(json_object_get(st, "message")), "Entity failed: Processor");
    assert_true(json_is_string(json_object_get(json_object_get(doc, "metrics"), "inspectedBytes")));
    json_decref(doc);

    /* Ids are left-padded: C's id has leading zero bytes; case does not matter. */
    doc = get_json("/api/traces/c3c3c3", NULL);
    expect_b64(json_object_get(json_array_get(spans_of(json_object_get(doc, "batches"), 0), 0), "traceId"), ID_C, 16);
    json_decref(doc);
    doc = get_json("/api/traces/A1A1A1A1A1A1A1A1A1A1A1A1A1A1A101?start=0", NULL);
    json_decref(doc);

    expect_body("/api/traces/123456", 404, "trace not found: 123456\n");
    expect_400("/api/traces/xyz", "trace id \"xyz\": not hexadecimal");
    expect_400("/api/v2/traces/" HEX_A "0", "longer than 32 hex digits");
    expect_400("/api/traces/" HEX_A "?end=soon", "end=\"soon\": expected unix seconds");
}

static void test_trace_by_id_protobuf(void **state)
{
    (void)state;
    static const char *const proto[] = {"Accept: application/protobuf", NULL};
    th_resp r;
    get("/api/traces/" HEX_A, proto, 200, &r);
    assert_string_equal(r.content_type, "application/protobuf");
    Tempopb__Trace *t = tempopb__trace__unpack(NULL, r.len, (const uint8_t *)r.body);
    assert_non_null(t);
    assert_int_equal(t->n_resource_spans, 1);
    exo_pb_scope_spans *ss = t->resource_spans[0]->scope_spans[0];
    assert_string_equal(ss->scope->name, "sample-tracing");
    assert_int_equal(ss->n_spans, 2);
    assert_string_equal(ss->spans[0]->name, "Workflow");
    assert_string_equal(ss->spans[1]->name, "DataLoader");
    assert_memory_equal(ss->spans[1]->trace_id.data, ID_A, 16);
    assert_int_equal(ss->spans[0]->start_time_unix_nano, (uint64_t)base_ns);
    tempopb__trace__free_unpacked(t, NULL);
    th_resp_free(&r);

    get("/api/v2/traces/" HEX_B, proto, 200, &r);
    Tempopb__TraceByIDResponse *resp = tempopb__trace_by_idresponse__unpack(NULL, r.len, (const uint8_t *)r.body);
    assert_non_null(resp);
    assert_non_null(resp->trace);
    assert_int_equal(resp->status, TEMPOPB__PARTIAL_STATUS__COMPLETE);
    exo_pb_span *s = resp->trace->resource_spans[0]->scope_spans[0]->spans[1];
    assert_string_equal(s->name, "Processor");
    assert_int_equal(s->status->code, OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR);
    tempopb__trace_by_idresponse__free_unpacked(resp, NULL);
    th_resp_free(&r);
}

static void test_search_traceql(void **state)
{
    (void)state;
    const char *dashboard = "{resource.service.name=\"Tracing.Worker\" && name=\"Workflow\"} | select(span.id, "
                            "span.workflowId, span.startTime, span.endTime, status)";
    json_t *doc = get_json(search_path(dashboard, NULL), NULL);
    json_t *traces = json_object_get(doc, "traces");
    assert_int_equal(json_array_size(traces), 2);
    json_t *b = json_array_get(traces, 0); /* newest first */
    assert_string_equal(json_string_value(json_object_get(b, "traceID")), HEX_B);
    assert_string_equal(json_string_value(json_object_get(b, "rootServiceName")), "Tracing.Worker");
    assert_string_equal(json_string_value(json_object_get(b, "rootTraceName")), "Workflow");
    assert_int_equal(json_integer_value(json_object_get(b, "durationMs")), 600000);
    char start[32];
    snprintf(start, sizeof start, "%lld", (long long)(base_ns + 600 * SEC));
    assert_string_equal(json_string_value(json_object_get(b, "startTimeUnixNano")), start);
    json_t *set = json_array_get(json_object_get(b, "spanSets"), 0);
    assert_int_equal(json_integer_value(json_object_get(set, "matched")), 1);
    assert_true(json_equal(set, json_object_get(b, "spanSet")));
    json_t *span = json_array_get(json_object_get(set, "spans"), 0);
    assert_string_equal(json_string_value(json_object_get(span, "spanID")), "2121212121212121");
    assert_string_equal(json_string_value(json_object_get(span, "name")), "Workflow");
    assert_string_equal(json_string_value(json_object_get(span, "durationNanos")), "600000000000");
    json_t *attrs = json_object_get(span, "attributes");
    int seen = 0;
    for (size_t i = 0; i < json_array_size(attrs); i++) {
        json_t *kv = json_array_get(attrs, i);
        const char *k = json_string_value(json_object_get(kv, "key"));
        const char *v = json_string_value(json_object_get(json_object_get(kv, "value"), "stringValue"));
        if (strcmp(k, "workflowId") == 0) seen += strcmp(v, "wf-B") == 0;
        if (strcmp(k, "status") == 0) seen += strcmp(v, "error") == 0;
        if (strcmp(k, "service.name") == 0) seen += strcmp(v, "Tracing.Worker") == 0;
    }
    assert_int_equal(seen, 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(traces, 1), "traceID")), HEX_A);
    json_t *metrics = json_object_get(doc, "metrics");
    assert_true(json_integer_value(json_object_get(metrics, "inspectedTraces")) >= 2);
    assert_true(json_is_string(json_object_get(metrics, "inspectedBytes")));
    json_decref(doc);

    expect_ids("{status=error}", NULL, NULL, HEX_B);
    expect_ids("{resource.service.name=\"Tracing.Worker\" && name=\"Workflow\" && status=error && duration>100ms}",
               NULL, NULL, HEX_B);
    expect_ids("{}", NULL, NULL, HEX_C "," HEX_B "," HEX_A);
    expect_ids(NULL, NULL, NULL, HEX_C "," HEX_B "," HEX_A);
    expect_ids("{ kind = server }", NULL, NULL, HEX_C);
    expect_ids("{ name =~ \"Data.*\" }", NULL, NULL, HEX_A);
    expect_ids("{ name =~ \"Data\" }", NULL, NULL, "");
    expect_ids("{ span.retries >= 3 } && { event:name = \"Submitted\" }", NULL, NULL, "");
    expect_ids("{ span.retries >= 3 } || { event:name = \"Submitted\" }", NULL, NULL, HEX_B "," HEX_A);
    expect_ids("{ span.\"my key\" = \"spaced\" }", NULL, NULL, HEX_B);
    expect_ids("{ rootServiceName = \"Other.Service\" }", NULL, NULL, HEX_C);
    expect_ids("{ traceDuration > 5m }", NULL, NULL, HEX_B);
}

static void test_search_parameters(void **state)
{
    (void)state;
    expect_ids("{}", "minDuration=400s", NULL, HEX_B);
    expect_ids("{}", "maxDuration=1s", NULL, HEX_C);
    expect_ids("{}", "minDuration=200s&maxDuration=400s", NULL, HEX_A);
    expect_ids("{}", "limit=1", NULL, HEX_C);
    expect_ids(NULL, "tags=service.name%3DOther.Service", NULL, HEX_C);
    expect_ids(NULL, "tags=name%3DProcessor%20type%3DProcessor", NULL, HEX_B);
    expect_ids(NULL, "tags=retries%3D3", NULL, HEX_B);
    expect_ids(NULL, "tags=name%3DProcessor%20type%3DDataLoader", NULL, "");
    char more[128];
    snprintf(more, sizeof more, "start=%lld", (long long)(base_ns / SEC + 500));
    expect_ids("{}", more, NULL, HEX_C "," HEX_B);
    snprintf(more, sizeof more, "start=%lld&end=%lld", (long long)(base_ns / SEC), (long long)(base_ns / SEC + 200));
    expect_ids("{}", more, NULL, HEX_A);
    snprintf(more, sizeof more, "start=%lld", (long long)(base_ns / SEC + 7200));
    expect_ids("{}", more, NULL, "");

    /* spss caps the spans shown, not the matched count. */
    json_t *doc = get_json(search_path("{resource.service.name=\"Tracing.Worker\"}", "spss=1&limit=1"), NULL);
    json_t *set = json_array_get(json_object_get(json_array_get(json_object_get(doc, "traces"), 0), "spanSets"), 0);
    assert_int_equal(json_array_size(json_object_get(set, "spans")), 1);
    assert_int_equal(json_integer_value(json_object_get(set, "matched")), 2);
    json_decref(doc);

    expect_400(search_path("{ name = }", NULL), "position 10: expected a value");
    expect_400(search_path("{resource.service.name=\"x\"", NULL),
               "position 27: expected \"&&\", \"||\" or \"}\" to close the \"{\" at position 1, got end of query");
    expect_400(search_path("{ foo = 1 }", NULL), "position 3: unknown intrinsic \"foo\"");
    expect_400(search_path("{ name =~ \"(\" }", NULL), "position 11: bad regular expression");
    expect_400(search_path("{}", "limit=x"), "limit=\"x\": expected an integer");
    expect_400(search_path("{}", "spss=-2"), "spss=\"-2\": expected an integer");
    expect_400(search_path("{}", "start=abc"), "start=\"abc\": expected unix seconds");
    expect_400(search_path("{}", "minDuration=5"), "minDuration=\"5\": missing unit");
    expect_400(search_path("{}", "minDuration=5s&maxDuration=1s"), "maxDuration=1s is below minDuration=5s");
    expect_400(search_path("{}", "tags=%3Dx"), "tags=\"=x\": position 1: expected a tag name");
}

static void test_tenants(void **state)
{
    (void)state;
    static const char *const acme[] = {"X-Scope-OrgID: acme", NULL};
    static const char *const other[] = {"X-Scope-OrgID: nobody", NULL};
    expect_ids("{}", NULL, acme, HEX_D);
    expect_ids("{}", NULL, other, "");
    expect_ids("{ resource.service.name = \"Tracing.Worker\" }", NULL, acme, "");
    th_resp r;
    get("/api/traces/" HEX_A, acme, 404, &r);
    th_resp_free(&r);
    get("/api/traces/" HEX_D, NULL, 404, &r);
    th_resp_free(&r);
    json_t *doc = get_json("/api/traces/" HEX_D, acme);
    json_decref(doc);
    doc = get_json("/api/search/tag/service.name/values", acme);
    assert_string_equal(json_string_value(json_array_get(json_object_get(doc, "tagValues"), 0)), "Acme.Worker");
    assert_int_equal(json_array_size(json_object_get(doc, "tagValues")), 1);
    json_decref(doc);
    static const char *const bad[] = {"X-Scope-OrgID: a b", NULL};
    get("/api/search", bad, 400, &r);
    assert_non_null(strstr(r.body, "X-Scope-OrgID"));
    th_resp_free(&r);
}

static int has_string(json_t *arr, const char *s)
{
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (json_is_string(json_array_get(arr, i)) && strcmp(json_string_value(json_array_get(arr, i)), s) == 0)
            return 1;
    return 0;
}

static void test_tags(void **state)
{
    (void)state;
    json_t *doc = get_json("/api/search/tags", NULL);
    json_t *names = json_object_get(doc, "tagNames");
    assert_true(has_string(names, "service.name") && has_string(names, "workflowId") && has_string(names, "my key"));
    assert_false(has_string(names, "status"));
    json_decref(doc);

    doc = get_json("/api/v2/search/tags", NULL);
    json_t *scopes = json_object_get(doc, "scopes");
    int found = 0;
    for (size_t i = 0; i < json_array_size(scopes); i++) {
        json_t *sc = json_array_get(scopes, i);
        const char *n = json_string_value(json_object_get(sc, "name"));
        json_t *tags = json_object_get(sc, "tags");
        if (strcmp(n, "resource") == 0) found += has_string(tags, "service.name") && !has_string(tags, "workflowId");
        if (strcmp(n, "span") == 0) found += has_string(tags, "workflowId") && !has_string(tags, "service.name");
        if (strcmp(n, "intrinsic") == 0) found += has_string(tags, "status") && has_string(tags, "duration");
    }
    assert_int_equal(found, 3);
    json_decref(doc);
    doc = get_json("/api/v2/search/tags?scope=span", NULL);
    assert_int_equal(json_array_size(json_object_get(doc, "scopes")), 1);
    json_decref(doc);
    expect_400("/api/v2/search/tags?scope=bogus", "scope=\"bogus\"");

    expect_body("/api/search/tag/service.name/values", 200, "{\"tagValues\":[\"Other.Service\",\"Tracing.Worker\"]}");
    expect_body("/api/v2/search/tag/resource.service.name/values", 200,
                "{\"tagValues\":[{\"type\":\"string\",\"value\":\"Other.Service\"},"
                "{\"type\":\"string\",\"value\":\"Tracing.Worker\"}]}");
    expect_body("/api/v2/search/tag/span.retries/values", 200,
                "{\"tagValues\":[{\"type\":\"int\",\"value\":\"3\"}]}");
    expect_body("/api/v2/search/tag/span.%22my%20key%22/values", 200,
                "{\"tagValues\":[{\"type\":\"string\",\"value\":\"spaced\"}]}");
    expect_body("/api/v2/search/tag/status/values", 200,
                "{\"tagValues\":[{\"type\":\"keyword\",\"value\":\"error\"},{\"type\":\"keyword\","
                "\"value\":\"ok\"},{\"type\":\"keyword\",\"value\":\"unset\"}]}");
    expect_body("/api/v2/search/tag/kind/values?q=%7Bstatus%3Derror%7D", 200,
                "{\"tagValues\":[{\"type\":\"keyword\",\"value\":\"internal\"}]}");
    expect_body("/api/v2/search/tag/name/values?q=%7Bstatus%3Derror%7D", 200,
                "{\"tagValues\":[{\"type\":\"string\",\"value\":\"Processor\"},"
                "{\"type\":\"string\",\"value\":\"Workflow\"}]}");
    expect_body("/api/v2/search/tag/rootServiceName/values", 200,
                "{\"tagValues\":[{\"type\":\"string\",\"value\":\"Other.Service\"},"
                "{\"type\":\"string\",\"value\":\"Tracing.Worker\"}]}");
    expect_400("/api/v2/search/tag/service.name/values", "unknown attribute scope \"service\"");
    expect_400("/api/v2/search/tag/name/values?q=%7B", "invalid TraceQL query q=\"{\": position 2");
}

/* Structural operators and the pipeline through /api/search, on two
 * traces of their own tenant: E, Workflow > Stage(load) > {Task error >
 * Call > Query error, Task ok} and Stage(process) > Task; F, Workflow >
 * Stage > Task. E's spans arrive in two requests, children first. */
static const uint8_t ID_E[16] = {0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0xe5, 0x05};
static const uint8_t ID_F[16] = {0xf6, 0xf6, 0xf6, 0xf6, 0xf6, 0xf6, 0xf6, 0xf6, 0xf6, 0xf6, 0xf6, 0xf6, 0xf6, 0xf6, 0xf6, 0x06};
#define HEX_E "e5e5e5e5e5e5e5e5e5e5e5e5e5e5e505"
#define HEX_F "f6f6f6f6f6f6f6f6f6f6f6f6f6f6f606"

static void ingest_tree(void)
{
    exo_span *deep[4] = {
        mk_span(ID_E, 0x55, 0x54, "Query", EXO_KIND_CLIENT, 2030, 1 * SEC, EXO_STATUS_ERROR, "timeout"),
        mk_span(ID_E, 0x54, 0x53, "Call", EXO_KIND_INTERNAL, 2030, 2 * SEC, EXO_STATUS_UNSET, NULL),
        mk_span(ID_E, 0x53, 0x52, "Task", EXO_KIND_INTERNAL, 2020, 10 * SEC, EXO_STATUS_ERROR, "failed"),
        mk_span(ID_E, 0x58, 0x52, "Task", EXO_KIND_INTERNAL, 2040, 20 * SEC, EXO_STATUS_OK, NULL),
    };
    send_spans("Tracing.Worker", deep, 4, 0, "tree");
    exo_span *top[4] = {
        mk_span(ID_E, 0x51, 0, "Workflow", EXO_KIND_INTERNAL, 2000, 100 * SEC, EXO_STATUS_ERROR, "failed"),
        mk_span(ID_E, 0x52, 0x51, "Stage", EXO_KIND_INTERNAL, 2010, 50 * SEC, EXO_STATUS_ERROR, NULL),
        mk_span(ID_E, 0x56, 0x51, "Stage", EXO_KIND_INTERNAL, 2060, 30 * SEC, EXO_STATUS_OK, NULL),
        mk_span(ID_E, 0x57, 0x56, "Task", EXO_KIND_INTERNAL, 2060, 30 * SEC, EXO_STATUS_OK, NULL),
    };
    exo_attrs_add_str(&top[1]->attrs, "stage", "load");
    exo_attrs_add_str(&top[2]->attrs, "stage", "process");
    send_spans("Tracing.Worker", top, 4, 1, "tree");
    exo_span *f[3] = {
        mk_span(ID_F, 0x61, 0, "Workflow", EXO_KIND_INTERNAL, 1000, 60 * SEC, EXO_STATUS_OK, NULL),
        mk_span(ID_F, 0x62, 0x61, "Stage", EXO_KIND_INTERNAL, 1000, 60 * SEC, EXO_STATUS_OK, NULL),
        mk_span(ID_F, 0x63, 0x62, "Task", EXO_KIND_INTERNAL, 1000, 60 * SEC, EXO_STATUS_OK, NULL),
    };
    exo_attrs_add_str(&f[1]->attrs, "stage", "process");
    send_spans("Tracing.Worker", f, 3, 1, "tree");
}

/* The spanIDs of one spanset, comma-separated. */
static const char *set_span_ids(json_t *set)
{
    static char ids[256];
    json_t *spans = json_object_get(set, "spans");
    ids[0] = '\0';
    for (size_t i = 0; i < json_array_size(spans); i++)
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%.2s", i ? "," : "",
                 json_string_value(json_object_get(json_array_get(spans, i), "spanID")));
    return ids;
}

static void test_search_structural_and_pipeline(void **state)
{
    (void)state;
    const char *const tree[] = {"X-Scope-OrgID: tree", NULL};
    ingest_tree();
    expect_ids("{ name = \"Workflow\" } >> { name = \"Query\" }", NULL, tree, HEX_E);
    expect_ids("{ name = \"Workflow\" } > { name = \"Stage\" } > { name = \"Task\" } > { name = \"Call\" } > "
               "{ name = \"Query\" && status = error }", NULL, tree, HEX_E);
    expect_ids("{ name = \"Task\" } ~ { name = \"Task\" }", NULL, tree, HEX_E);
    expect_ids("{ span.stage = \"process\" } > { name = \"Task\" }", NULL, tree, HEX_E "," HEX_F);
    expect_ids("{ span.stage = \"load\" } !>> { name = \"Task\" }", NULL, tree, HEX_E "," HEX_F);
    expect_ids("{ status = error } << { name = \"Workflow\" }", NULL, tree, HEX_E);
    expect_ids("{ name = \"Stage\" } !< { name = \"Workflow\" }", NULL, tree, "");
    expect_ids("{} | count() > 3", NULL, tree, HEX_E);
    expect_ids("{ name = \"Task\" } | avg(duration) > 15s", NULL, tree, HEX_E "," HEX_F);
    expect_ids("{ name = \"Task\" } | avg(duration) > 1m", NULL, tree, "");

    /* The spans of the right side, as Tempo returns them. */
    json_t *doc = get_json(search_path("{ name = \"Stage\" } >> { status = error }", NULL), tree);
    json_t *e = json_array_get(json_object_get(doc, "traces"), 0);
    assert_int_equal(json_array_size(json_object_get(doc, "traces")), 1);
    json_t *set = json_array_get(json_object_get(e, "spanSets"), 0);
    assert_string_equal(set_span_ids(set), "53,55");
    assert_int_equal(json_integer_value(json_object_get(set, "matched")), 2);
    assert_null(json_object_get(set, "attributes"));
    json_decref(doc);

    /* by(): one spanset per group, with Tempo's spanset attributes. */
    doc = get_json(search_path("{} | by(name) | count() > 1", "spss=2"), tree);
    json_t *traces = json_object_get(doc, "traces");
    assert_int_equal(json_array_size(traces), 1);
    e = json_array_get(traces, 0);
    assert_string_equal(json_string_value(json_object_get(e, "traceID")), HEX_E);
    json_t *sets = json_object_get(e, "spanSets");
    assert_int_equal(json_array_size(sets), 2);
    json_error_t jerr;
    json_t *want_stage = json_loads("[{\"key\":\"by(name)\",\"value\":{\"stringValue\":\"Stage\"}},"
                                    "{\"key\":\"count()\",\"value\":{\"intValue\":\"2\"}}]", 0, &jerr);
    json_t *want_task = json_loads("[{\"key\":\"by(name)\",\"value\":{\"stringValue\":\"Task\"}},"
                                   "{\"key\":\"count()\",\"value\":{\"intValue\":\"3\"}}]", 0, &jerr);
    json_t *stage = json_array_get(sets, 0), *task = json_array_get(sets, 1);
    if (strcmp(json_string_value(json_object_get(json_array_get(json_object_get(stage, "spans"), 0), "name")),
               "Stage") != 0) {
        json_t *tmp = stage;
        stage = task;
        task = tmp;
    }
    assert_true(json_equal(json_object_get(stage, "attributes"), want_stage));
    assert_true(json_equal(json_object_get(task, "attributes"), want_task));
    assert_int_equal(json_integer_value(json_object_get(task, "matched")), 3);
    assert_int_equal(json_array_size(json_object_get(task, "spans")), 2); /* spss=2 */
    assert_true(json_equal(json_array_get(sets, 0), json_object_get(e, "spanSet")));
    json_decref(want_stage);
    json_decref(want_task);
    json_decref(doc);

    /* Aggregates of durations come back as Go duration strings. */
    doc = get_json(search_path("{ name = \"Task\" } | by(status) | avg(duration) >= 20s", NULL), tree);
    traces = json_object_get(doc, "traces");
    assert_int_equal(json_array_size(traces), 2);
    json_t *want_e = json_loads("[{\"key\":\"by(status)\",\"value\":{\"stringValue\":\"ok\"}},"
                                "{\"key\":\"avg(duration)\",\"value\":{\"stringValue\":\"25s\"}}]", 0, &jerr);
    json_t *want_f = json_loads("[{\"key\":\"by(status)\",\"value\":{\"stringValue\":\"ok\"}},"
                                "{\"key\":\"avg(duration)\",\"value\":{\"stringValue\":\"1m0s\"}}]", 0, &jerr);
    e = json_array_get(traces, 0);
    assert_string_equal(json_string_value(json_object_get(e, "traceID")), HEX_E);
    assert_int_equal(json_array_size(json_object_get(e, "spanSets")), 1);
    set = json_array_get(json_object_get(e, "spanSets"), 0);
    assert_true(json_equal(json_object_get(set, "attributes"), want_e));
    assert_string_equal(set_span_ids(set), "58,57");
    set = json_array_get(json_object_get(json_array_get(traces, 1), "spanSets"), 0);
    assert_true(json_equal(json_object_get(set, "attributes"), want_f));
    json_decref(want_e);
    json_decref(want_f);
    json_decref(doc);

    expect_400("/api/search?q=%7B%7D%20%7C%20count(", "invalid TraceQL query q=\"{} | count(\": position 12: "
               "expected \")\": count() takes no field, got end of query");
    expect_400("/api/search?q=%7B%7D%20%3E%3E", "invalid TraceQL query q=\"{} >>\": position 6: expected a spanset "
               "filter");
    expect_400("/api/search?q=%7B%7D%20%7C%20rate()", "position 6: rate() is a TraceQL metrics function");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_endpoints),
        cmocka_unit_test(test_trace_by_id_json),
        cmocka_unit_test(test_trace_by_id_protobuf),
        cmocka_unit_test(test_search_traceql),
        cmocka_unit_test(test_search_parameters),
        cmocka_unit_test(test_tenants),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_search_structural_and_pipeline),
    };
    return cmocka_run_group_tests(tests, start_store, stop_store);
}
