/* HTTP/1.1 pipelining in the worker's client (net/h1_uv.h,
 * docs/worker.md#the-request-path): requests written back to back on one
 * kept-alive connection, answered in order, against
 *   - a Python server that misbehaves on purpose, one mode per server:
 *       ok     answers every request;
 *       once   answers a connection's first two requests, then closes it;
 *       close  answers the second with Connection: close, then closes;
 *       die    answers the first, then half of the second's headers, then
 *              closes;
 *     (the first request of each test proves the connection kept alive);
 *       slow   answers requests for slow-* after 1.5 s (in order: those
 *              behind wait too);
 *   - `extrace api` (libmicrohttpd), which must serve pipelined requests
 *     in order: thousands of polls, each body naming its own workflow.
 * Paced (ex_h1_pool_pace), the loop is held between turns only with
 * EX_H1_PACE_MIN calls or more in flight, and every answer still is its
 * own request's.
 * The idempotent GETs left unanswered on a closed connection are sent
 * again, once each, on a fresh connection, and do not fail; a request that
 * got part of its answer fails; timeouts run per request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <signal.h>
#include <uv.h>

#include "net/h1_uv.h"
#include "support.h"

#define NCALLS 6

static const char server_py[] =
    "import asyncio, sys\n"
    "mode = sys.argv[1]\n"
    "async def handle(r, w):\n"
    "    n = 0\n"
    "    try:\n"
    "        while True:\n"
    "            line = await r.readline()\n"
    "            if not line: return\n"
    "            while True:\n"
    "                l = await r.readline()\n"
    "                if not l: return\n"
    "                if l in (b'\\r\\n', b'\\n'): break\n"
    "            n += 1\n"
    "            path = line.split()[1].decode()\n"
    "            wid = path.rsplit('/', 1)[1]\n"
    "            if mode == 'slow' and wid.startswith('slow'): await asyncio.sleep(1.5)\n"
    "            if mode == 'die' and n == 2:\n"
    "                w.write(b'HTTP/1.1 200 OK\\r\\nContent-Le')\n"
    "                await w.drain()\n"
    "                return\n"
    "            body = ('{\"workflowId\":\"%s\",\"n\":%d}' % (wid, n)).encode()\n"
    "            close = mode == 'close' and n == 2\n"
    "            w.write(b'HTTP/1.1 200 OK\\r\\nContent-Type: application/json\\r\\n' +\n"
    "                    (b'Connection: close\\r\\n' if close else b'') +\n"
    "                    b'Content-Length: %d\\r\\n\\r\\n' % len(body) + body)\n"
    "            await w.drain()\n"
    "            if close or (mode == 'once' and n == 2): return\n"
    "    finally:\n"
    "        w.close()\n"
    "async def main():\n"
    "    s = await asyncio.start_server(handle, '127.0.0.1', 0)\n"
    "    print('listening on %d' % s.sockets[0].getsockname()[1], flush=True)\n"
    "    await s.serve_forever()\n"
    "asyncio.run(main())\n";

typedef struct call {
    ex_h1_call c;
    char id[32];
    char *req;
    char body[16384];
    size_t len;
    int done;
    CURLcode code;
    char err[EX_H1_ERR_MAX];
    uint64_t ms; /* from start to done */
    struct run *run;
} call;

typedef struct run {
    uv_loop_t loop;
    ex_h1_pool *pool;
    ex_h1_target t;
    char host[300];
    int pending;
    int again;  /* the api test: calls still to start from done */
    int next_id;
} run;

static int take(void *arg, const char *d, size_t n)
{
    call *k = arg;
    if (k->len + n >= sizeof k->body) return -1;
    memcpy(k->body + k->len, d, n);
    k->len += n;
    k->body[k->len] = '\0';
    return 0;
}

static void done(ex_h1_call *c, CURLcode code, const char *err)
{
    call *k = (call *)c;
    k->done = 1;
    k->code = code;
    snprintf(k->err, sizeof k->err, "%s", err);
    k->ms = uv_now(&k->run->loop) - c->started;
    k->run->pending--;
}

static void start_call(run *r, call *k, const char *id, uint64_t timeout_ms, ex_h1_done_cb cb)
{
    size_t cap = 0;
    char target[64];
    snprintf(k->id, sizeof k->id, "%s", id);
    snprintf(target, sizeof target, "/workflows/%s", id);
    free(k->req);
    k->req = NULL;
    long n = ex_h1_request(&k->req, &cap, "GET", target, r->host, NULL, 0, NULL, 0);
    assert_true(n > 0);
    k->run = r;
    k->len = 0;
    k->body[0] = '\0';
    k->done = 0;
    k->c.req = k->req;
    k->c.req_len = (size_t)n;
    k->c.timeout_ms = timeout_ms;
    k->c.body_cb = take;
    k->c.arg = k;
    k->c.done = cb;
    k->c.sent_ns = NULL;
    r->pending++;
    assert_int_equal(ex_h1_start(r->pool, &k->c), 0);
}

/* Run the loop until no call is pending (20 s at most). */
static void run_until_done(run *r)
{
    long long end = ts_mono_ms() + 20000;
    while (r->pending > 0 && ts_mono_ms() < end) uv_run(&r->loop, UV_RUN_ONCE);
    assert_int_equal(r->pending, 0);
}

static void run_open(run *r, int port, int depth)
{
    memset(r, 0, sizeof *r);
    assert_int_equal(uv_loop_init(&r->loop), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    assert_int_equal(ex_h1_target_parse(url, &r->t), 0);
    assert_true(ex_h1_host_header(&r->t, r->host, sizeof r->host) > 0);
    r->pool = ex_h1_pool_new(&r->loop, &r->t, 64, depth);
    assert_non_null(r->pool);
}

static void run_close(run *r, call *calls, int n)
{
    ex_h1_pool_destroy(r->pool);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&r->loop), 0);
    for (int i = 0; i < n; i++) {
        ex_h1_call_free(&calls[i].c);
        free(calls[i].req);
        calls[i].req = NULL;
    }
}

static pid_t spawn_server(const char *mode, int *port)
{
    char script[400], log[400];
    snprintf(script, sizeof script, "%s/pipe.py", ts_tmpdir());
    snprintf(log, sizeof log, "%s/pipe-%s.log", ts_tmpdir(), mode);
    FILE *f = fopen(script, "w");
    assert_non_null(f);
    fputs(server_py, f);
    fclose(f);
    char *argv[] = {"python3", script, (char *)mode, NULL};
    pid_t pid = ts_spawn(argv, log);
    *port = ts_logged_port(log, 0, "listening on ", 15000);
    if (*port <= 0) fail_msg("the %s server did not start", mode);
    return pid;
}

/* A warm-up call proves the connection kept alive; then NCALLS calls are
 * started in one turn of the loop: one writev on that connection. */
static void pipeline_of(const char *mode, int depth, call *calls, ex_h1_stats *before, ex_h1_stats *after, run *r)
{
    int port;
    pid_t pid = spawn_server(mode, &port);
    run_open(r, port, depth);
    start_call(r, &calls[NCALLS], "warm", 10000, done);
    run_until_done(r);
    assert_int_equal(calls[NCALLS].code, CURLE_OK);
    ex_h1_pool_stats(r->pool, before);
    for (int i = 0; i < NCALLS; i++) {
        char id[32];
        snprintf(id, sizeof id, "%s-%d", i == 0 && !strcmp(mode, "slow") ? "slow" : "ok", i);
        start_call(r, &calls[i], id, i == 0 && !strcmp(mode, "slow") ? 300 : 10000, done);
    }
    run_until_done(r);
    ex_h1_pool_stats(r->pool, after);
    ts_stop(pid, SIGTERM, 5000);
}

/* Each answer is its own request's. */
static void assert_own_answer(const call *k)
{
    char want[64];
    if (k->code != CURLE_OK) fail_msg("%s: code %d (%s)", k->id, (int)k->code, k->err);
    assert_int_equal(k->c.resp.status, 200);
    snprintf(want, sizeof want, "\"workflowId\":\"%s\"", k->id);
    if (!strstr(k->body, want)) fail_msg("%s: answer %s", k->id, k->body);
}

static void test_ok_one_write(void **state)
{
    (void)state;
    call calls[NCALLS + 1] = {0};
    ex_h1_stats b, a;
    run r;
    pipeline_of("ok", 8, calls, &b, &a, &r);
    for (int i = 0; i < NCALLS; i++) assert_own_answer(&calls[i]);
    print_message("ok: %llu writes, %llu pipelined, %llu connections for %d requests\n",
                  (unsigned long long)(a.writes - b.writes), (unsigned long long)(a.pipelined - b.pipelined),
                  (unsigned long long)(a.opened - b.opened), NCALLS);
    assert_int_equal(a.writes - b.writes, 1);
    assert_int_equal(a.pipelined - b.pipelined, NCALLS - 1);
    assert_int_equal(a.opened - b.opened, 0);
    assert_int_equal(a.resent, 0);
    run_close(&r, calls, NCALLS + 1);
}

/* Depth 1: no pipelining, one connection and one write per request. */
static void test_depth_one(void **state)
{
    (void)state;
    call calls[NCALLS + 1] = {0};
    ex_h1_stats b, a;
    run r;
    pipeline_of("ok", 1, calls, &b, &a, &r);
    for (int i = 0; i < NCALLS; i++) assert_own_answer(&calls[i]);
    assert_int_equal(a.pipelined, 0);
    assert_int_equal(a.writes - b.writes, NCALLS);
    assert_int_equal(a.opened - b.opened, NCALLS - 1);
    run_close(&r, calls, NCALLS + 1);
}

/* The server closes after one answer (with or without saying so): the
 * others are sent again, each on a fresh connection, and none fails. */
static void closes_after_one(const char *mode)
{
    call calls[NCALLS + 1] = {0};
    ex_h1_stats b, a;
    run r;
    pipeline_of(mode, 8, calls, &b, &a, &r);
    for (int i = 0; i < NCALLS; i++) assert_own_answer(&calls[i]);
    assert_int_equal(a.pipelined - b.pipelined, NCALLS - 1);
    assert_int_equal(a.resent - b.resent, NCALLS - 1);
    assert_int_equal(a.opened - b.opened, NCALLS - 1);
    run_close(&r, calls, NCALLS + 1);
}

static void test_closes_after_one(void **state)
{
    (void)state;
    closes_after_one("once");
}

static void test_connection_close(void **state)
{
    (void)state;
    closes_after_one("close");
}

/* The server dies in the middle of the second answer: that request fails
 * (it got part of an answer), those behind it are sent again. */
static void test_dies_mid_pipeline(void **state)
{
    (void)state;
    call calls[NCALLS + 1] = {0};
    ex_h1_stats b, a;
    run r;
    pipeline_of("die", 8, calls, &b, &a, &r);
    /* The warm-up was the connection's first request: calls[0] is its second. */
    assert_int_equal(calls[0].code, CURLE_RECV_ERROR);
    assert_string_equal(calls[0].err, "Connection closed before the end of the response headers");
    for (int i = 1; i < NCALLS; i++) assert_own_answer(&calls[i]);
    assert_int_equal(a.resent - b.resent, NCALLS - 1);
    run_close(&r, calls, NCALLS + 1);
}

/* A slow head: it times out at its own deadline (300 ms), the requests
 * written behind it (10 s each) are sent again and answered. */
static void test_timeout_per_request(void **state)
{
    (void)state;
    call calls[NCALLS + 1] = {0};
    ex_h1_stats b, a;
    run r;
    pipeline_of("slow", 8, calls, &b, &a, &r);
    assert_int_equal(calls[0].code, CURLE_OPERATION_TIMEDOUT);
    if (!strstr(calls[0].err, "Operation timed out after ")) fail_msg("%s", calls[0].err);
    assert_true(calls[0].ms >= 300);
    assert_true(calls[0].ms < 1500);
    for (int i = 1; i < NCALLS; i++) assert_own_answer(&calls[i]);
    assert_int_equal(a.pipelined - b.pipelined, NCALLS - 1);
    assert_int_equal(a.resent - b.resent, NCALLS - 1);
    run_close(&r, calls, NCALLS + 1);
}

/* ---- against `extrace api` (libmicrohttpd) ---- */

#define API_SLOTS 64
#define API_POLLS 3000

static call api_calls[API_SLOTS];

static void api_done(ex_h1_call *c, CURLcode code, const char *err)
{
    call *k = (call *)c;
    run *r = k->run;
    done(c, code, err);
    assert_own_answer(k);
    if (r->again > 0) {
        r->again--;
        char id[32];
        snprintf(id, sizeof id, "pipe-%d", r->next_id++ % 500);
        start_call(r, k, id, 10000, api_done);
    }
}

/* API_POLLS polls through `slots` calls kept in flight on a pool of
 * depth 8 paced by `window_ns`; each answer checked by api_done. */
static void api_polls(int port, int slots, uint64_t window_ns, ex_h1_stats *st)
{
    run r;
    run_open(&r, port, 8);
    ex_h1_pool_pace(r.pool, window_ns);
    start_call(&r, &api_calls[0], "pipe-warm", 10000, done);
    run_until_done(&r);
    assert_own_answer(&api_calls[0]);
    r.again = API_POLLS;
    for (int i = 0; i < slots; i++) {
        char id[32];
        snprintf(id, sizeof id, "pipe-%d", r.next_id++);
        start_call(&r, &api_calls[i], id, 10000, api_done);
    }
    run_until_done(&r);
    ex_h1_pool_stats(r.pool, st);
    print_message("api, %d in flight, window %llu ns: %d polls, %llu pipelined, %llu writes, %llu connections, "
                  "%llu sent again, %llu turns paced\n",
                  slots, (unsigned long long)window_ns, API_POLLS + slots + 1, (unsigned long long)st->pipelined,
                  (unsigned long long)st->writes, (unsigned long long)st->opened, (unsigned long long)st->resent,
                  (unsigned long long)st->paced);
    assert_int_equal(st->resent, 0);
    run_close(&r, api_calls, slots);
}

static pid_t spawn_api(int *port)
{
    char log[400];
    snprintf(log, sizeof log, "%s/api.log", ts_tmpdir());
    char *argv[] = {(char *)ts_bin(), "api", "--listen", "127.0.0.1:0", "--time-scale", "600", "--seed", "3", NULL};
    pid_t pid = ts_spawn(argv, log);
    *port = ts_logged_port(log, 0, "listening on ", 15000);
    if (*port <= 0) fail_msg("extrace api did not start");
    return pid;
}

static void test_api_serves_pipelined(void **state)
{
    (void)state;
    int port;
    pid_t pid = spawn_api(&port);
    ex_h1_stats st;
    api_polls(port, API_SLOTS, 0, &st);
    assert_true(st.pipelined > API_POLLS / 2);
    assert_true(st.writes < (uint64_t)API_POLLS);
    assert_int_equal(st.paced, 0); /* no window: never held */
    ts_stop(pid, SIGTERM, 5000);
}

/* Pacing (ex_h1_pool_pace): with 64 calls in flight the loop is held
 * between turns and every answer is still its own request's; with fewer
 * than EX_H1_PACE_MIN in flight it never is. */
static void test_api_paced(void **state)
{
    (void)state;
    int port;
    pid_t pid = spawn_api(&port);
    ex_h1_stats st;
    api_polls(port, API_SLOTS, 2000000, &st); /* 2 ms: longer than any turn of this loop */
    assert_true(st.paced > 0);
    assert_true(st.pipelined > API_POLLS / 2);
    api_polls(port, EX_H1_PACE_MIN - 1, 2000000, &st);
    assert_int_equal(st.paced, 0);
    ts_stop(pid, SIGTERM, 5000);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_one_write),      cmocka_unit_test(test_depth_one),
        cmocka_unit_test(test_closes_after_one),  cmocka_unit_test(test_connection_close),
        cmocka_unit_test(test_dies_mid_pipeline), cmocka_unit_test(test_timeout_per_request),
        cmocka_unit_test(test_api_serves_pipelined), cmocka_unit_test(test_api_paced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
