/* libcurl multi on libuv against a real HTTP server (extrace api):
 * many concurrent transfers complete, a refused connection reports its
 * error, destroy aborts what is in flight, and the loop closes cleanly;
 * kept-alive connections are reused without keeping the loop alive, and
 * one its server closed while idle neither spins the loop nor breaks the
 * next transfer (a small HTTP server on the same loop). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Like done_cb, but the caller keeps the easy handle. */
static void keep_cb(CURL *easy, CURLcode result, void *arg)
{
    fetch *f = arg;
    f->result = result;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &f->status);
    f->done++;
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
    char log[300];
    snprintf(log, sizeof log, "%s/api.log", ts_tmpdir());
    api_pid = ts_api_start(NULL, log, &api_port);
    return api_pid > 0 ? 0 : -1;
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
    snprintf(url, sizeof url, "http://127.0.0.1:%d/workflows/x", ts_refused_port());
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

/* Sequential transfers to the api: the second reuses the first's
 * connection, and uv_run returns as soon as each is done (the idle
 * connection's watch does not hold the loop). */
static void test_keepalive_reuse(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    ex_curl_loop *cl = ex_curl_loop_new(&loop);
    char url[128];
    for (int i = 0; i < 3; i++) {
        static fetch f;
        memset(&f, 0, sizeof f);
        snprintf(url, sizeof url, "http://127.0.0.1:%d/workflows/ka-%d", api_port, i);
        CURL *e = make_easy(url, &f);
        long connects = -1;
        ex_curl_loop_add(cl, e, keep_cb, &f);
        int64_t t0 = ts_mono_ms();
        uv_run(&loop, UV_RUN_DEFAULT);
        assert_true(ts_mono_ms() - t0 < 5000); /* the api keeps the connection open far longer */
        assert_int_equal(f.done, 1);
        assert_int_equal(f.result, CURLE_OK);
        curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
        assert_int_equal(connects, i == 0 ? 1 : 0);
        curl_easy_cleanup(e);
    }
    ex_curl_loop_destroy(cl);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A one-shot HTTP/1.1 server on the test's loop: answers every request
 * with a keep-alive 200, then closes the connection after the first
 * answer (as a server timing out an idle connection would). */
typedef struct mini {
    uv_tcp_t listener;
    int port, accepted, closed;
} mini;

typedef struct mini_conn {
    uv_tcp_t tcp;
    uv_write_t wr;
    mini *m;
    char buf[4096];
    size_t len;
} mini_conn;

static void mini_closed(uv_handle_t *h) { free(h->data); }

static void mini_written(uv_write_t *wr, int status)
{
    (void)status;
    mini_conn *c = wr->data;
    c->m->closed++;
    uv_close((uv_handle_t *)&c->tcp, mini_closed);
}

static void mini_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    (void)hint;
    mini_conn *c = h->data;
    *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - 1 - c->len));
}

static void mini_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    mini_conn *c = s->data;
    if (n < 0) {
        uv_close((uv_handle_t *)&c->tcp, mini_closed);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    if (!strstr(c->buf, "\r\n\r\n")) return;
    static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok";
    static uv_buf_t out;
    out = uv_buf_init((char *)reply, sizeof reply - 1);
    uv_read_stop(s);
    c->wr.data = c;
    uv_write(&c->wr, s, &out, 1, mini_written);
}

static void mini_conn_cb(uv_stream_t *server, int status)
{
    assert_int_equal(status, 0);
    mini *m = server->data;
    mini_conn *c = calloc(1, sizeof *c);
    c->m = m;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    assert_int_equal(uv_accept(server, (uv_stream_t *)&c->tcp), 0);
    m->accepted++;
    uv_read_start((uv_stream_t *)&c->tcp, mini_alloc, mini_read);
}

static void mini_start(uv_loop_t *loop, mini *m)
{
    struct sockaddr_in a;
    struct sockaddr_storage got;
    int len = sizeof got;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(loop, &m->listener);
    m->listener.data = m;
    assert_int_equal(uv_tcp_bind(&m->listener, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&m->listener, 16, mini_conn_cb), 0);
    uv_tcp_getsockname(&m->listener, (struct sockaddr *)&got, &len);
    m->port = ntohs(((struct sockaddr_in *)&got)->sin_port);
}

static void tick_cb(uv_timer_t *t) { (*(int *)t->data)++; }

static void test_idle_close_by_server(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    mini m = {0};
    mini_start(&loop, &m);
    ex_curl_loop *cl = ex_curl_loop_new(&loop);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/a", m.port);
    static fetch f1, f2;
    CURL *e = make_easy(url, &f1);
    ex_curl_loop_add(cl, e, keep_cb, &f1);
    while (!f1.done || !m.closed) uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(f1.result, CURLE_OK);
    assert_string_equal(f1.body, "ok");
    /* The server closed the kept-alive connection: its socket is readable
     * (EOF) while curl does not watch it. The loop must sleep, not spin:
     * over 300 ms of a 50 ms timer, a few iterations, not thousands. */
    int ticks = 0, iterations = 0;
    uv_timer_t tick;
    uv_timer_init(&loop, &tick);
    tick.data = &ticks;
    uv_timer_start(&tick, tick_cb, 50, 50);
    while (ticks < 6) {
        uv_run(&loop, UV_RUN_ONCE);
        iterations++;
    }
    assert_true(iterations < 40);
    uv_timer_stop(&tick);
    uv_close((uv_handle_t *)&tick, NULL);
    /* The next transfer finds the connection dead and makes a new one
     * (likely on the same descriptor number). */
    curl_easy_reset(e);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &f2);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
    ex_curl_loop_add(cl, e, keep_cb, &f2);
    while (!f2.done) uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(f2.result, CURLE_OK);
    assert_string_equal(f2.body, "ok");
    assert_int_equal(m.accepted, 2);
    long connects = -1;
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &connects);
    assert_int_equal(connects, 1);
    curl_easy_cleanup(e);
    ex_curl_loop_destroy(cl);
    uv_close((uv_handle_t *)&m.listener, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_concurrent),
        cmocka_unit_test(test_refused_and_abort),
        cmocka_unit_test(test_keepalive_reuse),
        cmocka_unit_test(test_idle_close_by_server),
    };
    int rc = cmocka_run_group_tests(tests, start_api, stop_api);
    curl_global_cleanup();
    return rc;
}
