/* test_store_memory.c — `extrace store` under memory pressure, with real
 * clients (libcurl for OTLP/HTTP, @grpc/grpc-js through
 * tests/otel-js/raw_grpc.js for OTLP/gRPC):
 *   - a burst of concurrent large uploads over both protocols stays within
 *     --max-inflight-bytes: the store's peak RSS stays under a stated
 *     bound, and every upload is answered — stored (200 / OK) or refused
 *     with 429 + Retry-After / RESOURCE_EXHAUSTED + RetryInfo, none lost;
 *   - /api/echo answers while a big request is being stored;
 *   - a search reading traces with megabytes of attributes does not hold
 *     up ingest, and stops at --query-max-bytes with what it found.
 * The sizes are scaled down from the production defaults (flags) so the
 * test is quick, also under AddressSanitizer. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "core/clock.h"
#include "core/mem.h"
#include "google/rpc/status.pb-c.h"
#include "http.h"
#include "otel/otlp_proto.h"
#include "support.h"

#define MIB (1024 * 1024)
#define MAX_REQUEST (8 * MIB)  /* --max-request-bytes */
#define BUDGET (24 * MIB)      /* --max-inflight-bytes: three requests' worth */
#define UPLOADS 30             /* concurrent HTTP uploads */
#define GRPC_CALLS 30          /* concurrent gRPC calls */
#define UPLOAD_BYTES (6 * MIB) /* each upload's body */

static pid_t store;
static int grpc_port, http_port, query_port;
static const char *dir;
static char log_path[300];

/* Under AddressSanitizer freed memory sits in a quarantine before reuse;
 * keep it small so the store's RSS reflects what it holds. */
static void small_asan_quarantine(void)
{
    const char *old = getenv("ASAN_OPTIONS");
    char opts[512];
    snprintf(opts, sizeof opts, "%s%squarantine_size_mb=8", old ? old : "", old && *old ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
}

static int start_store(void **state)
{
    dir = ts_tmpdir();
    snprintf(log_path, sizeof log_path, "%s/store.log", dir);
    small_asan_quarantine();
    char data[300];
    snprintf(data, sizeof data, "%s/data", dir);
    char lim[16], budget[16];
    snprintf(lim, sizeof lim, "%d", MAX_REQUEST);
    snprintf(budget, sizeof budget, "%d", BUDGET);
    char *args[] = {"--data-dir", data, "--max-request-bytes", lim, "--max-inflight-bytes", budget,
                    "--query-max-bytes", "67108864", NULL};
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

/* A /proc/<store>/status field in KiB (VmRSS, VmHWM), or -1. */
static long proc_kib(const char *field)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)store);
    char *text = ts_read_file(path, NULL);
    if (!text) return -1;
    const char *p = strstr(text, field);
    long v = p ? strtol(p + strlen(field) + 1, NULL, 10) : -1;
    free(text);
    return v;
}

/* An export request of nspans spans, spans_per_trace to a trace (trace
 * ids derived from seed), each with a string attribute "payload" of
 * attr_bytes bytes when attr_bytes > 0 (ex_malloc'd protobuf; ex_free). */
static uint8_t *make_request(size_t nspans, size_t spans_per_trace, size_t attr_bytes, uint8_t seed, size_t *len)
{
    char *value = ex_malloc(attr_bytes + 1);
    memset(value, 'v', attr_bytes);
    value[attr_bytes] = '\0';
    exo_pb_any av = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    av.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    av.string_value = value;
    exo_pb_kv kv = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT, *kvs[1] = {&kv};
    kv.key = "payload";
    kv.value = &av;
    exo_pb_span *spans = ex_calloc(nspans, sizeof *spans);
    exo_pb_span **sp = ex_calloc(nspans, sizeof *sp);
    uint8_t (*ids)[24] = ex_calloc(nspans, sizeof *ids); /* trace id, span id */
    int64_t now = ex_clock_now(ex_clock_real());
    for (size_t i = 0; i < nspans; i++) {
        opentelemetry__proto__trace__v1__span__init(&spans[i]);
        size_t t = i / spans_per_trace;
        uint8_t *tid = ids[i], *sid = ids[i] + 16;
        tid[0] = 0xbe, tid[1] = seed, tid[12] = (uint8_t)(t >> 24), tid[13] = (uint8_t)(t >> 16);
        tid[14] = (uint8_t)(t >> 8), tid[15] = (uint8_t)t;
        sid[0] = 1, sid[5] = (uint8_t)(i >> 16), sid[6] = (uint8_t)(i >> 8), sid[7] = (uint8_t)i;
        spans[i].trace_id = (ProtobufCBinaryData){16, tid};
        spans[i].span_id = (ProtobufCBinaryData){8, sid};
        spans[i].name = "s";
        spans[i].start_time_unix_nano = (uint64_t)now;
        spans[i].end_time_unix_nano = (uint64_t)now + 1000;
        if (attr_bytes) spans[i].n_attributes = 1, spans[i].attributes = kvs;
        sp[i] = &spans[i];
    }
    exo_pb_scope_spans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT, *ssp[1] = {&ss};
    ss.n_spans = nspans;
    ss.spans = sp;
    exo_pb_resource_spans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT, *rsp[1] = {&rs};
    rs.n_scope_spans = 1;
    rs.scope_spans = ssp;
    exo_pb_request req = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
    req.n_resource_spans = 1;
    req.resource_spans = rsp;
    *len = protobuf_c_message_get_packed_size(&req.base);
    uint8_t *buf = ex_malloc(*len);
    protobuf_c_message_pack(&req.base, buf);
    ex_free(ids);
    ex_free(spans);
    ex_free(sp);
    ex_free(value);
    return buf;
}

/* A request of about `bytes` in one trace of spans with 64 KiB attributes. */
static uint8_t *big_request(size_t bytes, uint8_t seed, size_t *len)
{
    return make_request(bytes / (64 * 1024), SIZE_MAX, 64 * 1024, seed, len);
}

/* Start raw_grpc.js making `calls` concurrent calls of `size` bytes; its
 * JSON lines go to out_path. */
static pid_t grpc_burst(int calls, size_t size, const char *out_path)
{
    const char *src = getenv("EXTRACE_SOURCE_DIR");
    char script[512], target[64], mods[600], n[16], sz[24];
    snprintf(script, sizeof script, "%s/tests/otel-js/raw_grpc.js", src ? src : ".");
    snprintf(mods, sizeof mods, "%s/tests/otel-js/node_modules/@grpc/grpc-js", src ? src : ".");
    struct stat st;
    if (stat(mods, &st) != 0) fail_msg("%s missing: run `npm ci` in tests/otel-js", mods);
    snprintf(target, sizeof target, "127.0.0.1:%d", grpc_port);
    snprintf(n, sizeof n, "%d", calls);
    snprintf(sz, sizeof sz, "%zu", size);
    char *argv[] = {"node", script, "--target", target, "--case", "big", "--size", sz, "--calls", n, NULL};
    return ts_spawn(argv, out_path);
}

/* Check one 429: Retry-After and a google.rpc.Status RESOURCE_EXHAUSTED
 * naming the flag. */
static void check_throttled(const th_resp *r)
{
    if (strcmp(r->retry_after, "1") != 0) fail_msg("429 with Retry-After \"%s\", want \"1\"", r->retry_after);
    Google__Rpc__Status *st = google__rpc__status__unpack(NULL, r->len, (const uint8_t *)r->body);
    assert_non_null(st);
    assert_int_equal(st->code, 8);
    if (!strstr(st->message, "--max-inflight-bytes")) fail_msg("429 message \"%s\"", st->message);
    assert_int_equal(st->n_details, 1);
    assert_string_equal(st->details[0]->type_url, "type.googleapis.com/google.rpc.RetryInfo");
    google__rpc__status__free_unpacked(st, NULL);
}

/* UPLOADS concurrent OTLP/HTTP uploads and GRPC_CALLS concurrent gRPC
 * calls of 6 MiB each (≈ 360 MiB offered at once) against a 24 MiB
 * budget: every one is answered, stored or refused with a retryable
 * answer, and the store's peak RSS grows by less than the budget plus
 * what decoding one request at a time takes. */
static void test_burst_stays_within_budget(void **state)
{
    long base_kib = proc_kib("VmRSS");
    assert_true(base_kib > 0);
    size_t len;
    uint8_t *body = big_request(UPLOAD_BYTES, 1, &len);
    char grpc_out[320];
    snprintf(grpc_out, sizeof grpc_out, "%s/grpc.jsonl", dir);
    pid_t node = grpc_burst(GRPC_CALLS, UPLOAD_BYTES, grpc_out);

    CURLM *multi = curl_multi_init();
    CURL *easy[UPLOADS];
    th_resp resp[UPLOADS];
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", http_port);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/x-protobuf");
    for (int i = 0; i < UPLOADS; i++) {
        easy[i] = curl_easy_init();
        curl_easy_setopt(easy[i], CURLOPT_URL, url);
        curl_easy_setopt(easy[i], CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(easy[i], CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(easy[i], CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(easy[i], CURLOPT_TIMEOUT_MS, 60000L);
        curl_easy_setopt(easy[i], CURLOPT_FRESH_CONNECT, 1L);
        th_collect(easy[i], &resp[i]);
        curl_multi_add_handle(multi, easy[i]);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(multi, &running);
        curl_multi_poll(multi, NULL, 0, 100, NULL);
    }
    int ok = 0, throttled = 0;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(multi, &left)))
        if (msg->msg == CURLMSG_DONE && msg->data.result != CURLE_OK)
            fail_msg("an upload got no answer: %s", curl_easy_strerror(msg->data.result));
    for (int i = 0; i < UPLOADS; i++) {
        long code = 0;
        curl_easy_getinfo(easy[i], CURLINFO_RESPONSE_CODE, &code);
        if (code == 200) ok++;
        else if (code == 429) throttled++, check_throttled(&resp[i]);
        else fail_msg("upload %d: HTTP %ld: %.200s", i, code, resp[i].body ? resp[i].body : "");
        curl_multi_remove_handle(multi, easy[i]);
        curl_easy_cleanup(easy[i]);
        th_resp_free(&resp[i]);
    }
    curl_multi_cleanup(multi);
    curl_slist_free_all(hdrs);
    ex_free(body);

    assert_int_equal(ts_wait(node, 60000), 0);
    char *lines = ts_read_file(grpc_out, NULL);
    assert_non_null(lines);
    int g_ok = 0, g_throttled = 0;
    for (char *line = strtok(lines, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        if (!j) fail_msg("raw_grpc.js said: %s", line);
        int code = (int)json_integer_value(json_object_get(j, "code"));
        const char *details = json_string_value(json_object_get(j, "details"));
        if (code == 0) g_ok++;
        else if (code == 8 && details && strstr(details, "--max-inflight-bytes") &&
                 json_is_true(json_object_get(j, "retryInfo")))
            g_throttled++;
        else fail_msg("gRPC call answered %s", line);
        json_decref(j);
    }
    free(lines);
    long peak_kib = proc_kib("VmHWM");
    print_message("HTTP: %d stored, %d refused (429); gRPC: %d stored, %d refused; RSS %ld KiB at start, peak %ld KiB\n",
                  ok, throttled, g_ok, g_throttled, base_kib, peak_kib);
    assert_int_equal(ok + throttled, UPLOADS);
    assert_int_equal(g_ok + g_throttled, GRPC_CALLS);
    assert_true(ok >= 1 && g_ok >= 1);
    assert_true(throttled >= 1 && g_throttled >= 1);
    /* Bodies in flight ≤ BUDGET; decoding and storing one request at a time
     * adds a few times its size. Without the budget the peak passes 300 MiB. */
    long bound_kib = (BUDGET + 8 * UPLOAD_BYTES) / 1024;
    if (peak_kib - base_kib > bound_kib)
        fail_msg("peak RSS grew by %ld KiB, bound %ld KiB", peak_kib - base_kib, bound_kib);
    char *log = ts_read_file(log_path, NULL);
    assert_non_null(strstr(log, "reached --max-inflight-bytes"));
    free(log);
}

/* ---- ingest and queries do not wait for each other ---- */

static struct curl_slist *proto_hdrs;

/* A POST of body to /v1/traces on a new handle answering into r. */
static CURL *post_handle(const uint8_t *body, size_t len, th_resp *r)
{
    static char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", http_port);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, proto_hdrs);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 120000L);
    th_collect(c, r);
    return c;
}

/* A GET of path on the query port on a new handle answering into r. */
static CURL *get_handle(const char *path, th_resp *r)
{
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", query_port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 120000L);
    th_collect(c, r);
    return c;
}

/* Side requests sent while a slow one is pending. */
typedef struct side {
    CURL *(*make)(void *arg, th_resp *r); /* a new side request */
    void *arg;
    long want;                            /* its expected status */
    int gap_ms;                           /* one side request every gap_ms at most */
    int answered;                         /* side requests answered `want` while the slow one was pending */
    int64_t max_ns;                       /* the slowest of them */
} side;

/* Run `slow` to its end and return its status; once its body is sent,
 * send side requests one after another and count in sd those answered
 * before slow was. */
static long while_pending(CURL *slow, side *sd)
{
    CURLM *multi = curl_multi_init();
    curl_multi_add_handle(multi, slow);
    CURL *cur = NULL;
    th_resp cur_r;
    int64_t cur_start = 0;
    long slow_status = -1;
    while (slow_status < 0) {
        int running;
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            if (msg->data.result != CURLE_OK) fail_msg("no answer: %s", curl_easy_strerror(msg->data.result));
            if (msg->easy_handle == slow) {
                slow_status = code;
                continue;
            }
            if (code == sd->want) sd->answered++;
            int64_t took = ex_mono_ns() - cur_start;
            if (took > sd->max_ns) sd->max_ns = took;
            curl_multi_remove_handle(multi, cur);
            curl_easy_cleanup(cur);
            th_resp_free(&cur_r);
            cur = NULL;
        }
        curl_off_t sent = 0, total = 0;
        curl_easy_getinfo(slow, CURLINFO_SIZE_UPLOAD_T, &sent);
        curl_easy_getinfo(slow, CURLINFO_CONTENT_LENGTH_UPLOAD_T, &total);
        /* One side request at a time, every gap_ms at most: probing, not a flood. */
        if (!cur && slow_status < 0 && (total <= 0 || sent >= total) &&
            ex_mono_ns() - cur_start >= sd->gap_ms * EX_NS_PER_MS) {
            cur = sd->make(sd->arg, &cur_r);
            cur_start = ex_mono_ns();
            curl_multi_add_handle(multi, cur);
        }
        curl_multi_poll(multi, NULL, 0, 5, NULL);
    }
    if (cur) {
        curl_multi_remove_handle(multi, cur);
        curl_easy_cleanup(cur);
        th_resp_free(&cur_r);
    }
    curl_multi_remove_handle(multi, slow);
    curl_multi_cleanup(multi);
    return slow_status;
}

static CURL *make_echo(void *arg, th_resp *r)
{
    return get_handle("/api/echo", r);
}

/* /api/echo answers while a big request (60k tiny spans) is being
 * stored. */
static void test_echo_answers_during_big_ingest(void **state)
{
    size_t len;
    uint8_t *body = make_request(60000, 10, 0, 2, &len);
    th_resp r;
    CURL *post = post_handle(body, len, &r);
    side sd = {make_echo, NULL, 200, 10};
    int64_t t0 = ex_mono_ns();
    long status = while_pending(post, &sd);
    int64_t took = ex_mono_ns() - t0;
    print_message("ingest of %zu bytes (60000 spans): HTTP %ld in %" PRId64 " ms; %d echoes answered meanwhile, "
                  "slowest %" PRId64 " ms\n",
                  len, status, took / EX_NS_PER_MS, sd.answered, sd.max_ns / EX_NS_PER_MS);
    assert_int_equal(status, 200);
    /* One loop for both would answer at most the echo that arrived before
     * the ingest began: the rest wait for its commit. */
    assert_true(sd.answered >= 5);
    curl_easy_cleanup(post);
    th_resp_free(&r);
    ex_free(body);
}

typedef struct small_ingest {
    uint8_t *body;
    size_t len;
} small_ingest;

static CURL *make_small_ingest(void *arg, th_resp *r)
{
    small_ingest *si = arg;
    return post_handle(si->body, si->len, r);
}

/* A search reading traces with 6 MiB of attributes each stops at
 * --query-max-bytes with what it found (X-Extrace-Limit), and small
 * ingests are stored while it runs. */
static void test_search_does_not_block_ingest(void **state)
{
    for (uint8_t seed = 10; seed < 22; seed++) {
        size_t len;
        uint8_t *body = big_request(UPLOAD_BYTES, seed, &len);
        th_resp r;
        CURL *c = post_handle(body, len, &r);
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        assert_int_equal(code, 200);
        curl_easy_cleanup(c);
        th_resp_free(&r);
        ex_free(body);
    }
    small_ingest si;
    si.body = make_request(5, 5, 0, 99, &si.len);
    th_resp r;
    CURL *search = get_handle("/api/search?q=%7Bspan.payload%20%21%3D%20%22x%22%7D&limit=100", &r);
    side sd = {make_small_ingest, &si, 200, 2}; /* the search takes 30-60 ms */
    int64_t t0 = ex_mono_ns();
    long status = while_pending(search, &sd);
    int64_t took = ex_mono_ns() - t0;
    json_error_t jerr;
    json_t *j = json_loadb(r.body, r.len, 0, &jerr);
    assert_non_null(j);
    size_t found = json_array_size(json_object_get(j, "traces"));
    print_message("search: HTTP %ld in %" PRId64 " ms, %zu traces (%s); %d ingests stored meanwhile, slowest %" PRId64
                  " ms\n",
                  status, took / EX_NS_PER_MS, found, r.limit, sd.answered, sd.max_ns / EX_NS_PER_MS);
    assert_int_equal(status, 200);
    /* A search holding the loop would let at most the ingest sent with it
     * through, once it ended. */
    assert_true(sd.answered >= 3);
    /* --query-max-bytes is 64 MiB: it stops after 11 of the 12 traces. */
    assert_non_null(strstr(r.limit, "--query-max-bytes"));
    assert_true(found >= 1 && found < 12);
    json_decref(j);
    curl_easy_cleanup(search);
    th_resp_free(&r);
    ex_free(si.body);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    proto_hdrs = curl_slist_append(NULL, "Content-Type: application/x-protobuf");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_stays_within_budget),
        cmocka_unit_test(test_echo_answers_during_big_ingest),
        cmocka_unit_test(test_search_does_not_block_ingest),
    };
    int rc = cmocka_run_group_tests(tests, start_store, stop_store);
    curl_slist_free_all(proto_hdrs);
    curl_global_cleanup();
    return rc;
}
