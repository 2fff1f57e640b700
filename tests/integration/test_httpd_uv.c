/* The libuv-driven HTTP server, exercised by a real HTTP client (libcurl,
 * through curl_uv on the same loop): routing, request bodies, the body
 * limit (413), response headers, and a clean stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "net/curl_uv.h"
#include "net/httpd_uv.h"

typedef struct got {
    char body[256];
    size_t len;
    long status;
    char header[128];
    int done;
} got;

static void handler(void *arg, const ex_http_req *req, ex_http_resp *resp)
{
    int *calls = arg;
    (*calls)++;
    if (strcmp(req->path, "/echo") == 0) {
        ex_http_resp_printf(resp, 200, "text/plain", "%s %zu:%s", req->method, req->body_len, req->body);
        ex_http_resp_header(resp, "X-Test", "yes");
    } else {
        ex_http_resp_printf(resp, 404, "application/json", "{\"error\":\"no route %s\"}", req->path);
    }
}

static size_t write_cb(char *p, size_t s, size_t n, void *arg)
{
    got *g = arg;
    size_t len = s * n, room = sizeof g->body - 1 - g->len, k = len < room ? len : room;
    memcpy(g->body + g->len, p, k);
    g->len += k;
    g->body[g->len] = '\0';
    return len;
}

static size_t header_cb(char *p, size_t s, size_t n, void *arg)
{
    got *g = arg;
    if (n * s > 8 && strncasecmp(p, "X-Test:", 7) == 0) snprintf(g->header, sizeof g->header, "%.*s", (int)(n * s), p);
    return n * s;
}

static void done_cb(CURL *e, CURLcode rc, void *arg)
{
    got *g = arg;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &g->status);
    g->done = 1;
    curl_easy_cleanup(e);
}

static void request(ex_curl_loop *cl, int port, const char *path, const char *body, got *g)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, g);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, g);
    if (body) curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
    ex_curl_loop_add(cl, e, done_cb, g);
}

static void test_serve_and_stop(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    int calls = 0;
    char err[256];
    ex_httpd *h = ex_httpd_start(&loop, "127.0.0.1:0", 64, handler, &calls, err, sizeof err);
    assert_non_null(h);
    int port = ex_httpd_port(h);
    assert_true(port > 0);

    ex_curl_loop *cl = ex_curl_loop_new(&loop);
    static got a, b, c, d;
    request(cl, port, "/echo", NULL, &a);
    request(cl, port, "/echo", "hello", &b);
    request(cl, port, "/nowhere", NULL, &c);
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    request(cl, port, "/echo", big, &d);
    while (!(a.done && b.done && c.done && d.done)) uv_run(&loop, UV_RUN_ONCE);

    assert_int_equal(a.status, 200);
    assert_string_equal(a.body, "GET 0:");
    assert_non_null(strstr(a.header, "yes"));
    assert_int_equal(b.status, 200);
    assert_string_equal(b.body, "POST 5:hello");
    assert_int_equal(c.status, 404);
    assert_string_equal(c.body, "{\"error\":\"no route /nowhere\"}");
    assert_int_equal(d.status, 413);               /* over the 64-byte limit */
    assert_int_equal(calls, 3);                    /* the handler never saw it */

    ex_curl_loop_destroy(cl);
    ex_httpd_stop(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_address_in_use(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    int calls = 0;
    char err[256], listen[64];
    ex_httpd *h = ex_httpd_start(&loop, "127.0.0.1:0", 64, handler, &calls, err, sizeof err);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", ex_httpd_port(h));
    assert_null(ex_httpd_start(&loop, listen, 64, handler, &calls, err, sizeof err));
    assert_non_null(strstr(err, listen));
    assert_null(ex_httpd_start(&loop, "127.0.0.1:99999", 64, handler, &calls, err, sizeof err));
    assert_non_null(strstr(err, "127.0.0.1:99999"));
    ex_httpd_stop(h);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serve_and_stop),
        cmocka_unit_test(test_address_in_use),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
