/* test_store_ingest_errors.c — `extrace store`'s receivers on bad and
 * unusual input, from real clients: the curl command line for OTLP/HTTP
 * (gzip bodies, the size limit before and after decompression, garbage
 * with a google.rpc.Status answer in the request's encoding, wrong
 * content type, method and path, a bad tenant, partial success) and
 * @grpc/grpc-js for OTLP/gRPC (tests/otel-js/raw_grpc.js: garbage,
 * over-limit message, unknown method, bad tenant). The store runs with
 * --max-request-bytes 65536. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/mem.h"
#include "otel/compress.h"
#include "otel/otlp_proto.h"
#include "support.h"

#define LIMIT 65536

static pid_t store;
static int grpc_port, http_port, query_port;
static const char *dir;
static char log_path[300];

static int start_store(void **state)
{
    dir = ts_tmpdir();
    snprintf(log_path, sizeof log_path, "%s/store.log", dir);
    char data[300];
    snprintf(data, sizeof data, "%s/data", dir);
    char lim[16];
    snprintf(lim, sizeof lim, "%d", LIMIT);
    char *args[] = {"--data-dir", data, "--max-request-bytes", lim, "--log-level", "debug", NULL};
    ts_store_ports ports;
    store = ts_store_start(args, log_path, &ports);
    grpc_port = ports.otlp_grpc;
    http_port = ports.otlp_http;
    query_port = ports.query;
    return store > 0 ? 0 : -1;
}

static int stop_store(void **state)
{
    int rc = ts_stop(store, SIGTERM, 10000);
    ts_cleanup();
    return rc == 0 ? 0 : -1;
}

/* ---- OTLP/HTTP with the curl command line ---- */

typedef struct reply {
    int status;
    char content_type[128];
    char *body; /* malloc'd, NUL-terminated */
    size_t len;
} reply;

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* curl -X method [-H header]... [--data-binary @file] URL path. */
static reply curl_run(const char *method, const char *path, const char *file, const char *h1, const char *h2,
                      const char *h3)
{
    char url[256], body_path[300], data[320];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", http_port, path);
    snprintf(body_path, sizeof body_path, "%s/reply.bin", dir);
    snprintf(data, sizeof data, "@%s", file ? file : "");
    char *argv[20];
    int n = 0;
    argv[n++] = "curl";
    argv[n++] = "-s";
    argv[n++] = "-o";
    argv[n++] = body_path;
    argv[n++] = "-w";
    argv[n++] = "%{http_code} %{content_type}";
    argv[n++] = "-X";
    argv[n++] = (char *)method;
    const char *hs[] = {h1, h2, h3};
    for (int i = 0; i < 3; i++)
        if (hs[i]) {
            argv[n++] = "-H";
            argv[n++] = (char *)hs[i];
        }
    if (file) {
        argv[n++] = "--data-binary";
        argv[n++] = data;
    }
    argv[n++] = url;
    argv[n] = NULL;
    char *out = NULL;
    assert_int_equal(ts_run(argv, &out, NULL, 20000), 0);
    reply r = {0};
    assert_int_equal(sscanf(out, "%d %127s", &r.status, r.content_type) >= 1, 1);
    free(out);
    r.body = ts_read_file(body_path, &r.len);
    if (!r.body) r.body = calloc(1, 1);
    return r;
}

static char *tmp_file(const char *name, const void *data, size_t len)
{
    static char path[4][320];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, 320, "%s/%s", dir, name);
    write_file(p, data, len);
    return p;
}

static const char one_span[] =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"gz\"}}]},"
    "\"scopeSpans\":[{\"spans\":[{\"traceId\":\"5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a\",\"spanId\":\"0102030405060708\","
    "\"name\":\"zipped\",\"startTimeUnixNano\":\"%lld\",\"endTimeUnixNano\":\"%lld\"}]}]}]}";

static void test_gzip_json_is_stored(void **state)
{
    char json[1024];
    long long now = (long long)time(NULL) * 1000000000LL;
    int n = snprintf(json, sizeof json, one_span, now - 2000000000LL, now - 1000000000LL);
    uint8_t *gz;
    size_t gzlen;
    assert_int_equal(exo_gzip((const uint8_t *)json, (size_t)n, &gz, &gzlen), 0);
    const char *file = tmp_file("span.json.gz", gz, gzlen);
    ex_free(gz);
    reply r = curl_run("POST", "/v1/traces", file, "Content-Type: application/json", "Content-Encoding: gzip", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/json");
    assert_string_equal(r.body, "{}");
    free(r.body);
    /* The query API has it. */
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/traces/5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a", query_port);
    char *argv[] = {"curl", "-s", "-f", url, NULL};
    char *out = NULL;
    assert_int_equal(ts_run(argv, &out, NULL, 10000), 0);
    assert_non_null(strstr(out, "\"zipped\""));
    free(out);
}

static void assert_status_json(const reply *r, int http, int code, const char *needle)
{
    if (r->status != http) fail_msg("HTTP %d, want %d: %s", r->status, http, r->body);
    assert_string_equal(r->content_type, "application/json");
    json_error_t err;
    json_t *j = json_loads(r->body, 0, &err);
    if (!j) fail_msg("not JSON: %s", r->body);
    assert_int_equal(json_integer_value(json_object_get(j, "code")), code);
    const char *msg = json_string_value(json_object_get(j, "message"));
    if (!msg || !strstr(msg, needle)) fail_msg("message %s lacks \"%s\"", msg ? msg : "(none)", needle);
    json_decref(j);
}

static void test_size_limit(void **state)
{
    /* A raw body over the limit. */
    size_t big = LIMIT + 100;
    char *body = malloc(big);
    memset(body, ' ', big);
    body[0] = '{';
    body[big - 1] = '}';
    reply r = curl_run("POST", "/v1/traces", tmp_file("big.json", body, big), "Content-Type: application/json", NULL,
                       NULL);
    assert_int_equal(r.status, 413);
    free(r.body);
    /* A small gzip body that decompresses past the limit. */
    uint8_t *gz;
    size_t gzlen;
    assert_int_equal(exo_gzip((const uint8_t *)body, big, &gz, &gzlen), 0);
    assert_true(gzlen < LIMIT);
    r = curl_run("POST", "/v1/traces", tmp_file("bomb.json.gz", gz, gzlen), "Content-Type: application/json",
                 "Content-Encoding: gzip", NULL);
    assert_status_json(&r, 413, 8, "decompresses to more than 65536 bytes");
    free(r.body);
    ex_free(gz);
    free(body);
}

static void test_garbage_gets_status(void **state)
{
    reply r = curl_run("POST", "/v1/traces", tmp_file("bad.json", "{\"resourceSpans\": 7}", 20),
                       "Content-Type: application/json", NULL, NULL);
    assert_status_json(&r, 400, 3, "OTLP/JSON body: resourceSpans");
    free(r.body);
    /* Protobuf garbage: the Status comes back as protobuf. */
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
    r = curl_run("POST", "/v1/traces", tmp_file("bad.pb", junk, sizeof junk), "Content-Type: application/x-protobuf",
                 NULL, NULL);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.content_type, "application/x-protobuf");
    int32_t code;
    char msg[256];
    assert_int_equal(exo_otlp_decode_status((const uint8_t *)r.body, r.len, &code, msg, sizeof msg, NULL), 0);
    assert_int_equal(code, 3);
    assert_non_null(strstr(msg, "OTLP/protobuf body"));
    free(r.body);
    /* Corrupt gzip. */
    r = curl_run("POST", "/v1/traces", tmp_file("bad.gz", "not gzip", 8), "Content-Type: application/json",
                 "Content-Encoding: gzip", NULL);
    assert_status_json(&r, 400, 3, "gzip body");
    free(r.body);
}

static void test_wrong_type_method_path_tenant(void **state)
{
    const char *file = tmp_file("empty.json", "{}", 2);
    reply r = curl_run("POST", "/v1/traces", file, "Content-Type: text/plain", NULL, NULL);
    assert_status_json(&r, 415, 3, "Content-Type \"text/plain\"");
    free(r.body);
    r = curl_run("POST", "/v1/traces", file, "Content-Type: application/json", "Content-Encoding: br", NULL);
    assert_status_json(&r, 415, 3, "Content-Encoding \"br\"");
    free(r.body);
    r = curl_run("GET", "/v1/traces", NULL, NULL, NULL, NULL);
    assert_int_equal(r.status, 405);
    free(r.body);
    r = curl_run("POST", "/v1/metrics", file, "Content-Type: application/json", NULL, NULL);
    assert_int_equal(r.status, 404);
    free(r.body);
    char hdr[200] = "X-Scope-OrgID: ";
    memset(hdr + 15, 't', 151);
    hdr[166] = '\0';
    r = curl_run("POST", "/v1/traces", file, "Content-Type: application/json", hdr, NULL);
    assert_status_json(&r, 400, 3, "longer than 150 bytes");
    free(r.body);
    /* An accepted request with a good tenant. */
    r = curl_run("POST", "/v1/traces", file, "Content-Type: application/json", "X-Scope-OrgID: ok-tenant", NULL);
    assert_int_equal(r.status, 200);
    free(r.body);
}

static void test_partial_success(void **state)
{
    static const char body[] =
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":["
        "{\"traceId\":\"6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b\",\"spanId\":\"0102030405060708\",\"name\":\"good\"},"
        "{\"traceId\":\"\",\"spanId\":\"0102030405060709\",\"name\":\"no trace id\"}]}]}]}";
    reply r = curl_run("POST", "/v1/traces", tmp_file("partial.json", body, sizeof body - 1),
                       "Content-Type: application/json", NULL, NULL);
    assert_int_equal(r.status, 200);
    json_error_t err;
    json_t *j = json_loads(r.body, 0, &err);
    assert_non_null(j);
    json_t *ps = json_object_get(j, "partialSuccess");
    assert_string_equal(json_string_value(json_object_get(ps, "rejectedSpans")), "1");
    assert_string_equal(json_string_value(json_object_get(ps, "errorMessage")),
                        "resourceSpans[0].scopeSpans[0].spans[1]: traceId is 0 bytes, not 16");
    json_decref(j);
    free(r.body);
}

/* ---- OTLP/gRPC with @grpc/grpc-js ---- */

/* Run raw_grpc.js; returns its JSON answer. */
static json_t *grpc_call(const char *kase, const char *size, const char *tenant)
{
    const char *src = getenv("EXTRACE_SOURCE_DIR");
    char script[512], target[64], mods[600];
    snprintf(script, sizeof script, "%s/tests/otel-js/raw_grpc.js", src ? src : ".");
    snprintf(mods, sizeof mods, "%s/tests/otel-js/node_modules/@grpc/grpc-js", src ? src : ".");
    struct stat st;
    if (stat(mods, &st) != 0) fail_msg("%s missing: run `npm ci` in tests/otel-js", mods);
    snprintf(target, sizeof target, "127.0.0.1:%d", grpc_port);
    char *argv[12] = {"node", script, "--target", target, "--case", (char *)kase};
    int n = 6;
    if (size) argv[n++] = "--size", argv[n++] = (char *)size;
    if (tenant) argv[n++] = "--tenant", argv[n++] = (char *)tenant;
    argv[n] = NULL;
    char *out = NULL, *err = NULL;
    int rc = ts_run(argv, &out, &err, 30000);
    json_error_t jerr;
    json_t *j = out ? json_loads(out, 0, &jerr) : NULL;
    if (rc != 0 || !j) fail_msg("raw_grpc.js %s: %d %s %s", kase, rc, out ? out : "", err ? err : "");
    free(out);
    free(err);
    return j;
}

static void assert_grpc(json_t *j, int code, const char *needle)
{
    int got = (int)json_integer_value(json_object_get(j, "code"));
    const char *details = json_string_value(json_object_get(j, "details"));
    if (got != code) fail_msg("grpc-status %d, want %d (%s)", got, code, details ? details : "");
    if (needle && (!details || !strstr(details, needle)))
        fail_msg("grpc-message \"%s\" lacks \"%s\"", details ? details : "", needle);
    json_decref(j);
}

static void test_grpc_errors(void **state)
{
    assert_grpc(grpc_call("garbage", NULL, NULL), 3, "ExportTraceServiceRequest");
    assert_grpc(grpc_call("big", "100000", NULL), 8, "larger than 65536 bytes");
    assert_grpc(grpc_call("big", "60000", NULL), 0, NULL);
    assert_grpc(grpc_call("path", NULL, NULL), 12, "unknown method");
    assert_grpc(grpc_call("tenant", NULL, "two words"), 3, "X-Scope-OrgID \"two words\"");
    assert_grpc(grpc_call("tenant", NULL, "good-tenant"), 0, NULL);
    assert_grpc(grpc_call("empty", NULL, NULL), 0, NULL);
}

static void test_counters_in_log(void **state)
{
    /* The store still runs and logged the bad input it refused. */
    assert_int_equal(ts_wait_port(http_port, 1000), 0);
    char *log = ts_read_file(log_path, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "OTLP/HTTP listening on"));
    assert_non_null(strstr(log, "OTLP/gRPC listening on"));
    assert_non_null(strstr(log, "query API and UI listening on"));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gzip_json_is_stored),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_garbage_gets_status),
        cmocka_unit_test(test_wrong_type_method_path_tenant),
        cmocka_unit_test(test_partial_success),
        cmocka_unit_test(test_grpc_errors),
        cmocka_unit_test(test_counters_in_log),
    };
    return cmocka_run_group_tests(tests, start_store, stop_store);
}
