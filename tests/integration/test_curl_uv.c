/* libcurl multi on libuv against a real HTTP server (extrace api):
 * many concurrent transfers complete, a refused connection reports its
 * error, destroy aborts what is in flight, and the loop closes cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "net/curl_uv.h"
#include "support.h"

typedef struct fetch {
    char body[4096];
    size_t len;
    CURLcode result;
    long status;
    int done;
} fetch;

static size_t write_cb(char *p, size_t size, size_t n, void *arg)
{
    fetch *f = arg;
    size_t len = size * n, room = sizeof f->body - 1 - f->len;
    memcpy(f->body + f->len, p, len < room ? len : room);
    f->len += len < room ? len : room;
    f->body[f->len] = '\0';
    return len;
}

static void done_cb(CURL *easy, CURLcode result, void *arg)
{
    fetch *f = arg;
    f->result = result;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &f->status);
    f->done++;
    curl_easy_cleanup(easy);
}

static CURL *make_easy(const char *url, fetch *f)
{
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    return e;
}

static int api_port;
static pid_t api_pid;

static int start_api(void **state)
{
    (void)state;
    char port[16], listen[64];
    api_port = ts_free_port();
    snprintf(port, sizeof port, "%d", api_port);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", api_port);
    char *argv[] = {(char *)ts_bin(), "api", "--listen", listen, "--log-level", "warn", NULL};
    api_pid = ts_spawn(argv, NULL);
    return ts_wait_port(api_port, 5000);
}

static int stop_api(void **state)
{
    (void)state;
    ts_stop(api_pid, SIGTERM, 5000);
    return 0;
}

static void test_many_concurrent(void **state)
{
    (void)state;
    enum { N = 200 };
    static fetch f[N];
    uv_loop_t loop;
    uv_loop_init(&loop);
    ex_curl_loop *cl = ex_curl_loop_new(&loop);
    curl_multi_setopt(ex_curl_loop_multi(cl), CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
    char url[128];
    for (int i = 0; i < N; i++) {
        snprintf(url, sizeof url, "http://127.0.0.1:%d/workflows/wf-%d", api_port, i);
        assert_int_equal(ex_curl_loop_add(cl, make_easy(url, &f[i]), done_cb, &f[i]), 0);
    }
    assert_int_equal(ex_curl_loop_active(cl), N);
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < N; i++) {
        char want[64];
        snprintf(want, sizeof want, "{\"workflowId\":\"wf-%d\"", i);
        assert_int_equal(f[i].done, 1);
        assert_int_equal(f[i].result, CURLE_OK);
        assert_int_equal(f[i].status, 200);
        assert_memory_equal(f[i].body, want, strlen(want));
    }
    assert_int_equal(ex_curl_loop_active(cl), 0);
    ex_curl_loop_destroy(cl);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_refused_and_abort(void **state)
{
    (void)state;
    static fetch refused, inflight;
    uv_loop_t loop;
    uv_loop_init(&loop);
    ex_curl_loop *cl = ex_curl_loop_new(&loop);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/workflows/x", ts_free_port());
    ex_curl_loop_add(cl, make_easy(url, &refused), done_cb, &refused);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(refused.done, 1);
    assert_int_equal(refused.result, CURLE_COULDNT_CONNECT);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/workflows/y", api_port);
    ex_curl_loop_add(cl, make_easy(url, &inflight), done_cb, &inflight);
    ex_curl_loop_destroy(cl); /* before the loop ever ran the transfer */
    assert_int_equal(inflight.done, 1);
    assert_int_equal(inflight.result, CURLE_ABORTED_BY_CALLBACK);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_concurrent),
        cmocka_unit_test(test_refused_and_abort),
    };
    int rc = cmocka_run_group_tests(tests, start_api, stop_api);
    curl_global_cleanup();
    return rc;
}
