/* The store's HTTP edges, against a real store process: a repeated
 * X-Scope-OrgID (a proxy that appends instead of replacing) is refused on
 * every port rather than letting one of the tenants win; an encoded NUL in
 * a path names nothing; a TraceQL query of exactly the documented 16 KiB
 * limit is served even when percent-encoding triples it, and one byte more
 * gets the documented error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "support.h"

static int query_port, otlp_port, grpc_port;
static pid_t store_pid;

static long get(int port, const char *path, const char *const *headers, th_resp *r)
{
    char url[65536 + 128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    th_req req = {.headers = headers, .timeout_ms = 5000};
    th_request(c, "GET", url, &req, r);
    curl_easy_cleanup(c);
    return r->status;
}

static void test_repeated_tenant_refused(void **state)
{
    (void)state;
    const char *two[] = {"X-Scope-OrgID: alice", "X-Scope-OrgID: bob", NULL};
    const char *one[] = {"X-Scope-OrgID: alice", NULL};
    th_resp r;
    assert_int_equal(get(query_port, "/api/search?q=%7B%7D", two, &r), 400);
    assert_non_null(strstr(r.body, "X-Scope-OrgID"));
    assert_non_null(strstr(r.body, "2 times"));
    th_resp_free(&r);
    assert_int_equal(get(query_port, "/api/search?q=%7B%7D", one, &r), 200);
    th_resp_free(&r);

    /* OTLP/HTTP: an empty (valid) protobuf export */
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", otlp_port);
    const char *two_post[] = {"Content-Type: application/x-protobuf", "X-Scope-OrgID: alice", "x-scope-orgid: bob",
                              NULL};
    CURL *c = curl_easy_init();
    th_req req = {.headers = two_post, .body = "", .body_len = 0};
    th_request(c, "POST", url, &req, &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "X-Scope-OrgID"));
    th_resp_free(&r);
    two_post[2] = NULL;
    th_request(c, "POST", url, &req, &r);
    assert_int_equal(r.status, 200);
    th_resp_free(&r);
    curl_easy_cleanup(c);
}

static size_t grab_status(char *p, size_t s, size_t n, void *arg)
{
    if (s * n > 12 && strncasecmp(p, "grpc-status:", 12) == 0) *(int *)arg = atoi(p + 12);
    return s * n;
}

static size_t discard(char *p, size_t s, size_t n, void *arg) { return s * n; }

/* A gRPC call with the given x-scope-orgid values: its grpc-status. */
static int grpc_call(const char *const *tenants)
{
    static const char empty_call[5] = {0};
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/opentelemetry.proto.collector.trace.v1.TraceService/Export",
             grpc_port);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/grpc");
    h = curl_slist_append(h, "TE: trailers");
    for (int i = 0; tenants[i]; i++) h = curl_slist_append(h, tenants[i]);
    int status = -1;
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, empty_call);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)sizeof empty_call);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, grab_status);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &status);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    return status;
}

static void test_repeated_tenant_refused_grpc(void **state)
{
    (void)state;
    const char *two[] = {"x-scope-orgid: alice", "x-scope-orgid: bob", NULL};
    const char *one[] = {"x-scope-orgid: alice", NULL};
    assert_int_equal(grpc_call(two), 3); /* INVALID_ARGUMENT */
    assert_int_equal(grpc_call(one), 0);
}

static void test_encoded_nul_is_not_found(void **state)
{
    (void)state;
    th_resp r;
    assert_int_equal(get(query_port, "/ui/style.css", NULL, &r), 200);
    th_resp_free(&r);
    assert_int_equal(get(query_port, "/ui/style.css%00.html", NULL, &r), 404);
    th_resp_free(&r);
    assert_int_equal(get(query_port, "/ui/style.css%00", NULL, &r), 404);
    th_resp_free(&r);
    assert_int_equal(get(query_port, "/api/echo%00", NULL, &r), 404);
    th_resp_free(&r);
}

/* A TraceQL query of exactly len bytes made of conditions whose strings
 * are spaces (each percent-encoded to three bytes). */
static char *long_query(size_t len)
{
    char *q = malloc(len + 1);
    assert_non_null(q);
    size_t n = 0;
    n += (size_t)sprintf(q, "{ ");
    for (;;) {
        const char *cond = n > 2 ? " || span.k = \"" : "span.k = \"";
        size_t room = len - n - 2; /* keep " }" */
        size_t clen = strlen(cond);
        if (room < clen + 2 + 1) break;
        size_t s = room - clen - 1;
        if (s > 1000) s = 1000;
        if (room - (clen + s + 1) < 20 && room > clen + 1 + 1000) s = 900; /* leave room for one more */
        memcpy(q + n, cond, clen);
        n += clen;
        memset(q + n, ' ', s);
        n += s;
        q[n++] = '"';
    }
    while (n < len - 2) q[n++] = ' '; /* whitespace between the last condition and the brace */
    memcpy(q + n, " }", 2);
    n += 2;
    q[n] = '\0';
    assert_int_equal(n, len);
    return q;
}

static long search(const char *query, th_resp *r)
{
    CURL *c = curl_easy_init();
    char *enc = curl_easy_escape(c, query, 0);
    curl_easy_cleanup(c);
    size_t need = strlen(enc) + 32;
    char *path = malloc(need);
    snprintf(path, need, "/api/search?q=%s", enc);
    curl_free(enc);
    long st = get(query_port, path, NULL, r);
    free(path);
    return st;
}

static void test_traceql_16k_limit(void **state)
{
    (void)state;
    th_resp r;
    char *q = long_query(16384);
    if (search(q, &r) != 200) fail_msg("a %zu-byte query got %ld: %s", strlen(q), r.status, r.body);
    th_resp_free(&r);
    free(q);
    q = long_query(16385);
    assert_int_equal(search(q, &r), 400);
    if (!strstr(r.body, "longer than 16384 bytes")) fail_msg("16385 bytes: %s", r.body);
    th_resp_free(&r);
    free(q);
}

static int setup(void **state)
{
    (void)state;
    char log[256];
    snprintf(log, sizeof log, "%s/store.log", ts_tmpdir());
    ts_store_ports ports;
    store_pid = ts_store_start((char *[]){"--data-dir", (char *)ts_tmpdir(), NULL}, log, &ports);
    query_port = ports.query;
    otlp_port = ports.otlp_http;
    grpc_port = ports.otlp_grpc;
    return store_pid > 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return ts_stop(store_pid, SIGTERM, 10000) == 0 ? 0 : -1;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repeated_tenant_refused),
        cmocka_unit_test(test_repeated_tenant_refused_grpc),
        cmocka_unit_test(test_encoded_nul_is_not_found),
        cmocka_unit_test(test_traceql_16k_limit),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    ts_cleanup();
    curl_global_cleanup();
    return rc;
}
