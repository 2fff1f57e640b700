/* The worker's polls of a plain http:// API go over its own HTTP/1.1
 * client (docs/worker.md#the-request-path), against a Python server that
 * counts connections and requests and misbehaves on purpose:
 *   drop-*     the server drops a kept-alive connection, without a word, on
 *              its 4th request: the request is sent again on a new
 *              connection, and no poll fails;
 *   close-*    every 3rd answer on a connection says Connection: close;
 *              and the server closes connections idle for a second;
 *   chunked-*  the answer comes chunked, in pieces;
 *   slow-*     the answer comes after --poll-timeout: a timeout error, with
 *              libcurl's message;
 *   ok-*       a plain answer: many polls on one connection (kept alive).
 * With http_proxy set, the polls go through libcurl, which sends them to
 * the proxy (the same server, which sees absolute-form requests and
 * forwards those for other hosts, such as the worker's /readyz). A host
 * name in --api-url is looked up and each of its addresses tried. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <signal.h>

#include "fixture.h"
#include "support.h"
#include "trace_check.h"

#define POLL_TIMEOUT_MS 1000 /* long enough for a loaded machine; slow-* answers after 2 s */

static ts_redis redis;
static tf_worker worker;
static pid_t server;
static int server_port;

static const char server_py[] =
    "import http.server, json, socketserver, sys, threading, time, urllib.error, urllib.request\n"
    "stats = {'connections': 0, 'requests': 0, 'proxied': 0, 'dropped': 0, 'chunked': 0, 'max_per_conn': 0,\n"
    "         'agent': ''}\n"
    "lock = threading.Lock()\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    timeout = 1.0  # idle connections are closed after a second\n"
    "    def setup(self):\n"
    "        super().setup()\n"
    "        self.n = 0\n"
    "        with lock: stats['connections'] += 1\n"
    "    def log_message(self, *a): pass\n"
    "    def answer(self, body, chunked=False, close=False):\n"
    "        self.send_response(200)\n"
    "        self.send_header('Content-Type', 'application/json')\n"
    "        if close:\n"
    "            self.send_header('Connection', 'close')\n"
    "            self.close_connection = True\n"
    "        if chunked:\n"
    "            self.send_header('Transfer-Encoding', 'chunked')\n"
    "            self.end_headers()\n"
    "            for i in range(0, len(body), 16):\n"
    "                part = body[i:i + 16]\n"
    "                self.wfile.write(b'%x\\r\\n%s\\r\\n' % (len(part), part))\n"
    "                self.wfile.flush()\n"
    "            self.wfile.write(b'0\\r\\n\\r\\n')\n"
    "        else:\n"
    "            self.send_header('Content-Length', str(len(body)))\n"
    "            self.end_headers()\n"
    "            self.wfile.write(body)\n"
    "    def forward(self, url):\n"
    "        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))\n"
    "        try:\n"
    "            r = opener.open(url, timeout=5)\n"
    "            code, body = r.status, r.read()\n"
    "        except urllib.error.HTTPError as e:\n"
    "            code, body = e.code, e.read()\n"
    "        except Exception:\n"
    "            code, body = 502, b''\n"
    "        self.send_response(code)\n"
    "        self.send_header('Content-Length', str(len(body)))\n"
    "        self.end_headers()\n"
    "        self.wfile.write(body)\n"
    "    def do_GET(self):\n"
    "        path = self.path\n"
    "        proxied = path.startswith('http://')\n"
    "        if proxied and path.split('/', 3)[2] != '127.0.0.1:%d' % self.server.server_address[1]:\n"
    "            return self.forward(path)\n"
    "        if proxied:\n"
    "            path = '/' + path.split('/', 3)[3]\n"
    "        if path == '/stats':\n"
    "            return self.answer(json.dumps(stats).encode())\n"
    "        if proxied:\n"
    "            with lock: stats['proxied'] += 1\n"
    "        wid = path.rsplit('/', 1)[1]\n"
    "        self.n += 1\n"
    "        with lock:\n"
    "            stats['requests'] += 1\n"
    "            stats['max_per_conn'] = max(stats['max_per_conn'], self.n)\n"
    "            stats['agent'] = self.headers.get('User-Agent', '')\n"
    "        if wid.startswith('drop') and self.n % 4 == 0:\n"
    "            with lock: stats['dropped'] += 1\n"
    "            self.close_connection = True\n"
    "            return\n"
    "        if wid.startswith('slow'):\n"
    "            time.sleep(2.0)\n"
    "        body = json.dumps({'workflowId': wid, 'workflowStatus': 'Processing',\n"
    "                           'workflowStartTime': '2024-07-05T06:57:56.1234567Z', 'isComplete': False}).encode()\n"
    "        if wid.startswith('chunked'):\n"
    "            with lock: stats['chunked'] += 1\n"
    "        self.answer(body, wid.startswith('chunked'), wid.startswith('close') and self.n % 3 == 0)\n"
    "class S(socketserver.ThreadingMixIn, http.server.HTTPServer):\n"
    "    daemon_threads = True\n"
    "s = S(('127.0.0.1', 0), H)\n"
    "print('listening on %d' % s.server_address[1], flush=True)\n"
    "s.serve_forever()\n";

static int setup(void **state)
{
    if (ts_redis_start(&redis) != 0) return -1;
    char script[400], log[400];
    snprintf(script, sizeof script, "%s/api.py", ts_tmpdir());
    snprintf(log, sizeof log, "%s/api.log", ts_tmpdir());
    FILE *f = fopen(script, "w");
    if (!f) return -1;
    fputs(server_py, f);
    fclose(f);
    char *argv[] = {"python3", script, NULL};
    server = ts_spawn(argv, log);
    char *text = ts_wait_file_text(log, "listening on ", 15000);
    if (!text) return -1;
    server_port = atoi(strstr(text, "listening on ") + 13);
    free(text);
    return server_port > 0 ? 0 : -1;
}

static int teardown(void **state)
{
    if (server) ts_stop(server, SIGTERM, 5000);
    ts_redis_stop(&redis);
    return 0;
}

static int stop_worker(void **state)
{
    if (worker.pid) ts_stop(worker.pid, SIGTERM, 5000);
    worker.pid = 0;
    return 0;
}

static json_t *server_stats(void)
{
    char url[96], *body = NULL;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/stats", server_port);
    assert_int_equal(tc_http_get(url, &body), 200);
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    assert_non_null(j);
    return j;
}

static long long stat_of(json_t *j, const char *name) { return json_integer_value(json_object_get(j, name)); }

static void publish(const char *id)
{
    char msg[200];
    snprintf(msg, sizeof msg, "{\"WorkflowId\":\"%s\",\"SubmittedAt\":\"2024-07-05T06:57:51.0737407Z\"}", id);
    redisReply *r = tf_redis(redis.port, "PUBLISH event.workflow.started %s", msg);
    if (r->integer != 1) fail_msg("%s: %lld subscribers; worker log:\n%s", msg, r->integer, ts_read_file(worker.log, NULL));
    freeReplyObject(r);
}

/* Wait until sample >= want (up to timeout_ms); the last value. */
static double wait_metric(const char *sample, double want, int timeout_ms)
{
    double v = -1;
    for (long long end = ts_mono_ms() + timeout_ms; ts_mono_ms() < end; ts_sleep_ms(50))
        if ((v = tf_worker_metric(&worker, sample)) >= want) break;
    return v;
}

static void start(const char *consumer, const char *host)
{
    char api[64], timeout[16];
    snprintf(api, sizeof api, "http://%s:%d", host, server_port);
    snprintf(timeout, sizeof timeout, "%dms", POLL_TIMEOUT_MS);
    worker.consumer = consumer;
    snprintf(worker.log, sizeof worker.log, "%s/%s.log", ts_tmpdir(), consumer);
    char *args[] = {"--redis", redis.url, "--api-url", api, "--initial-delay", "10ms", "--interval", "50ms",
                    "--poll-timeout", timeout, "--max-concurrent-polls", "8", "--log-level", "debug", NULL};
    setenv("OTEL_TRACES_EXPORTER", "none", 1);
    tf_worker_start(&worker, args);
    unsetenv("OTEL_TRACES_EXPORTER");
}

static void test_fast_path(void **state)
{
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    json_t *before = server_stats();
    start("fast", "127.0.0.1");
    publish("ok-1");
    publish("drop-1");
    publish("drop-2");
    publish("chunked-1");
    publish("close-1");
    publish("slow-1");
    assert_true(wait_metric("extrace_poll_errors_total{kind=\"timeout\"}", 2, 20000) >= 2);
    /* Enough polls that every drop-* connection was dropped a few times. */
    json_t *j = NULL;
    for (long long end = ts_mono_ms() + 15000; ts_mono_ms() < end; ts_sleep_ms(100)) {
        json_decref(j);
        j = server_stats();
        if (stat_of(j, "dropped") - stat_of(before, "dropped") >= 4 && stat_of(j, "chunked") >= 10) break;
    }
    assert_true(stat_of(j, "dropped") - stat_of(before, "dropped") >= 4);
    assert_true(stat_of(j, "chunked") >= 10);
    /* Kept alive: a connection serves several polls (without keep-alive, one
     * each; every slow-* poll and every drop costs a connection here). */
    long long conns = stat_of(j, "connections") - stat_of(before, "connections");
    long long reqs = stat_of(j, "requests") - stat_of(before, "requests");
    print_message("%lld requests on %lld connections (%lld dropped)\n", reqs, conns,
                  stat_of(j, "dropped") - stat_of(before, "dropped"));
    assert_true(reqs >= 2 * conns);
    assert_int_equal(stat_of(j, "proxied"), stat_of(before, "proxied"));
    assert_non_null(strstr(json_string_value(json_object_get(j, "agent")), "extrace-worker/"));
    /* Dropped connections were retried, chunked answers read, slow ones timed out. */
    assert_int_equal(tf_worker_metric(&worker, "extrace_poll_errors_total{kind=\"connect\"}"), 0);
    assert_int_equal(tf_worker_metric(&worker, "extrace_poll_errors_total{kind=\"json\"}"), 0);
    assert_int_equal(tf_worker_metric(&worker, "extrace_poll_errors_total{kind=\"contract\"}"), 0);
    assert_int_equal(tf_worker_metric(&worker, "extrace_workflows_in_flight"), 6);
    json_decref(j);
    json_decref(before);
    stop_worker(state);
    char *text = ts_read_file(worker.log, NULL);
    assert_non_null(strstr(text, "over the HTTP/1.1 client"));
    /* The client's own count at the stop: connections opened, requests sent on kept-alive ones. */
    const char *st = strstr(text, "HTTP/1.1 client: ");
    unsigned long long opened = 0, reused = 0;
    if (!st || sscanf(st, "HTTP/1.1 client: %llu connections opened, %llu requests on kept-alive ones", &opened,
                      &reused) != 2)
        fail_msg("no count of the client's connections in:\n%s", text);
    assert_true(opened >= 2 && reused >= opened);
    char want[200];
    snprintf(want, sizeof want, "workflow slow-1: poll failed (timeout): Operation timed out after");
    if (!strstr(text, want)) fail_msg("no line \"%s\" in:\n%s", want, text);
    free(text);
}

static void test_proxy_goes_to_curl(void **state)
{
    char proxy[64];
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", server_port);
    setenv("http_proxy", proxy, 1);
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    json_t *before = server_stats();
    start("proxied", "127.0.0.1");
    unsetenv("http_proxy");
    publish("ok-proxied");
    assert_true(wait_metric("extrace_polls_total", 5, 15000) >= 5);
    json_t *j = server_stats();
    assert_true(stat_of(j, "proxied") - stat_of(before, "proxied") >= 5);
    assert_int_equal(tf_worker_metric(&worker, "extrace_poll_errors_total{kind=\"connect\"}"), 0);
    json_decref(j);
    json_decref(before);
    stop_worker(state);
    char *text = ts_read_file(worker.log, NULL);
    assert_non_null(strstr(text, "over libcurl: a proxy variable is set"));
    assert_null(strstr(text, "over the HTTP/1.1 client"));
    free(text);
}

/* A host name: looked up (localhost may come as ::1 first, where nothing
 * listens: the next address is tried), then polled as usual. */
static void test_host_name(void **state)
{
    json_t *before = server_stats();
    start("named", "localhost");
    publish("ok-named");
    assert_true(wait_metric("extrace_polls_total", 5, 15000) >= 5);
    json_t *j = server_stats();
    assert_true(stat_of(j, "requests") - stat_of(before, "requests") >= 5);
    assert_int_equal(tf_worker_metric(&worker, "extrace_poll_errors_total{kind=\"connect\"}"), 0);
    json_decref(j);
    json_decref(before);
    stop_worker(state);
    char *text = ts_read_file(worker.log, NULL);
    assert_non_null(strstr(text, "over the HTTP/1.1 client"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_fast_path, stop_worker),
        cmocka_unit_test_teardown(test_proxy_goes_to_curl, stop_worker),
        cmocka_unit_test_teardown(test_host_name, stop_worker),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
