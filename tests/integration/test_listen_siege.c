/* Slow-client attacks on every listener kind, with real processes: the
 * store's query port and OTLP/HTTP port (libmicrohttpd), its OTLP/gRPC
 * port (nghttp2), `extrace api` and the worker's admin port. Thousands of
 * loopback sockets trickle requests a byte at a time; during the attack a
 * request from another client address is answered or refused at once
 * (never left to time out), the limits' refusals and deadline closes are
 * counted, and once the attack ends the port answers again within
 * seconds. */
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
#include <sys/socket.h>
#include <unistd.h>

#include "siege.h"
#include "support.h"

static const char http_trickle[] = "GET /api/echo HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
/* the HTTP/2 client preface, then a SETTINGS frame, never a call */
static const char h2_trickle[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

typedef struct target {
    const char *what;
    int port;
    const char *path; /* answered with a status that is not 503 */
    int grpc;
    const char *trickle;
    size_t trickle_len; /* bytes of trickle (the preface holds NULs) */
} target;

static long ask(const char *from, const target *t, long timeout_ms, long *ms)
{
    char url[160];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", t->port, t->path);
    return sg_request(from, url, t->grpc, timeout_ms, ms);
}

static void open_attack(sg_attack *a, const char *from, const target *t, int n)
{
    sg_open(a, from, t->port, n, "");
    a->bytes = t->trickle;
    a->len = t->trickle_len;
}

/* Two clients (127.0.0.1, 127.0.0.3) with 600 sockets each against a
 * listener allowing 200 connections, 100 per client, 2 s for headers. */
static void siege_with_limits(const target *t)
{
    sg_attack a, b;
    long ms;
    open_attack(&a, "127.0.0.1", t, 600);
    open_attack(&b, "127.0.0.3", t, 600);
    sg_trickle_for(&a, 0);
    for (int i = 0; i < 3; i++) {
        sg_trickle(&a);
        sg_trickle(&b);
        usleep(200 * 1000);
    }
    /* each client has 100 admitted; the other 500 were refused at once */
    int ca = sg_count_closed(&a), cb = sg_count_closed(&b);
    if (ca < 450 || cb < 450) fail_msg("%s: only %d and %d of 600 refused at the per-client limit", t->what, ca, cb);
    /* the listener is full: a third client is refused, fast */
    long st = ask("127.0.0.2", t, 3000, &ms);
    if (ms > 1000 || (!t->grpc && st != 503) || (t->grpc && st == 200))
        fail_msg("%s: a request while full got %ld after %ld ms (want a quick refusal)", t->what, st, ms);
    /* past the header deadline the admitted slow clients are closed */
    for (int i = 0; i < 12; i++) {
        sg_trickle(&a);
        sg_trickle(&b);
        usleep(200 * 1000);
    }
    ca = sg_count_closed(&a);
    cb = sg_count_closed(&b);
    if (ca != 600 || cb != 600) fail_msg("%s: %d and %d of 600 closed after the header deadline", t->what, ca, cb);
    st = ask("127.0.0.2", t, 3000, &ms);
    if (st == 0 || st == 503 || ms > 2000) fail_msg("%s: after the deadline, got %ld after %ld ms", t->what, st, ms);
    sg_close(&a);
    sg_close(&b);
    st = ask("127.0.0.1", t, 3000, &ms);
    if (st == 0 || st == 503 || ms > 2000) fail_msg("%s: after the attack, got %ld after %ld ms", t->what, st, ms);
}

/* `extrace store` with args after the addresses; ports in q, h, g. */
static pid_t start_store(const char *log, int *q, int *h, int *g, char *const *extra)
{
    char *args[32] = {"--data-dir", (char *)ts_tmpdir()};
    int n = 2;
    for (int i = 0; extra && extra[i] && n < 31; i++) args[n++] = extra[i];
    args[n] = NULL;
    ts_store_ports ports;
    pid_t pid = ts_store_start(args, log, &ports);
    if (pid <= 0) fail_msg("extrace store did not start (log %s)", log);
    *q = ports.query;
    *h = ports.otlp_http;
    *g = ports.otlp_grpc;
    return pid;
}

/* The number before `after` in the line of log that starts with `line`. */
static long count_in(const char *log, const char *line, const char *after)
{
    const char *l = strstr(log, line);
    if (!l) fail_msg("no line \"%s\" in the log:\n%s", line, log);
    const char *end = strchr(l, '\n'), *p = strstr(l, after);
    if (!p || (end && p > end)) fail_msg("no \"%s\" in the line \"%.*s\"", after, (int)(end ? end - l : 200), l);
    while (p > l && p[-1] == ' ') p--;
    while (p > l && p[-1] >= '0' && p[-1] <= '9') p--;
    return strtol(p, NULL, 10);
}

/* The attack with the default limits: 3,000 slow connections to
 * the query port, then the clients leave; a normal query must be answered
 * at once, during the attack from another address and after it from the
 * attacker's. (Before the listener rework, the port stopped accepting for
 * good: MHD had left its listening socket out of its epoll set.) */
static void test_query_port_survives_default_attack(void **state)
{
    (void)state;
    sg_raise_nofile(8000);
    char log[256];
    int q, h, g;
    snprintf(log, sizeof log, "%s/store.log", ts_tmpdir());
    pid_t pid = start_store(log, &q, &h, &g, NULL);
    target t = {"query", q, "/api/echo", 0, http_trickle, sizeof http_trickle - 1};
    sg_attack a;
    long ms;
    sg_open(&a, "127.0.0.1", q, 3000, http_trickle);
    sg_trickle_for(&a, 1000);
    long st = ask("127.0.0.2", &t, 5000, &ms);
    if (st != 200 || ms > 2000) fail_msg("during the attack: %ld after %ld ms", st, ms);
    sg_trickle_for(&a, 1000);
    sg_close(&a);
    usleep(300 * 1000);
    st = ask("127.0.0.1", &t, 5000, &ms);
    if (st != 200 || ms > 2000) fail_msg("after the attack: %ld after %ld ms", st, ms);
    assert_int_equal(ts_stop(pid, SIGTERM, 10000), 0);
    char *text = ts_read_file(log, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "WARN  query: refused a connection from 127.0.0.1"));
    assert_true(count_in(text, "store: query connections:", "at --max-connections-per-client") >= 2800);
    free(text);
}

static void test_store_listeners_limits(void **state)
{
    (void)state;
    sg_raise_nofile(8000);
    char log[256];
    int q, h, g;
    snprintf(log, sizeof log, "%s/store.log", ts_tmpdir());
    char *limits[] = {"--max-connections", "200", "--max-connections-per-client", "100", "--header-timeout", "2s",
                      "--body-timeout", "1s", "--idle-timeout", "1s", NULL};
    pid_t pid = start_store(log, &q, &h, &g, limits);
    target targets[] = {
        {"query", q, "/api/echo", 0, http_trickle, sizeof http_trickle - 1},
        {"otlp-http", h, "/v1/traces", 0, http_trickle, sizeof http_trickle - 1},
        {"otlp-grpc", g, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", 1, h2_trickle,
         sizeof h2_trickle - 1},
    };
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) siege_with_limits(&targets[i]);

    /* a body that trickles is closed at the body deadline */
    sg_attack body;
    sg_open(&body, "127.0.0.4", h, 1, "x");
    usleep(100 * 1000);
    static const char head[] = "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                               "Content-Length: 1000\r\n\r\n";
    assert_int_equal(send(body.fds[0], head, sizeof head - 1, MSG_NOSIGNAL), (ssize_t)(sizeof head - 1));
    sg_trickle_for(&body, 2000);
    assert_int_equal(sg_count_closed(&body), 1);
    sg_close(&body);

    assert_int_equal(ts_stop(pid, SIGTERM, 10000), 0);
    char *text = ts_read_file(log, NULL);
    assert_non_null(text);
    const char *lines[] = {"store: query connections:", "store: otlp-http connections:", "store: otlp-grpc connections:"};
    for (int i = 0; i < 3; i++) {
        /* 127.0.0.1 filled its 100 then met the per-client limit; 127.0.0.3
         * filled the last 100 then met the total one */
        assert_true(count_in(text, lines[i], "refused at --max-connections") >= 450);
        assert_true(count_in(text, lines[i], "at --max-connections-per-client") >= 450);
        assert_true(count_in(text, lines[i], "headers") >= 150);
    }
    assert_int_equal(count_in(text, "store: otlp-http connections:", "body"), 1);
    free(text);
}

static void test_api_limits(void **state)
{
    (void)state;
    sg_raise_nofile(8000);
    char log[256];
    int port;
    snprintf(log, sizeof log, "%s/api.log", ts_tmpdir());
    char *args[] = {"--max-connections", "200", "--max-connections-per-client", "100", "--header-timeout", "2s", NULL};
    pid_t pid = ts_api_start(args, log, &port);
    assert_true(pid > 0);
    target t = {"api", port, "/workflows/siege", 0, http_trickle, sizeof http_trickle - 1};
    siege_with_limits(&t);
    assert_int_equal(ts_stop(pid, SIGTERM, 10000), 0);
    char *text = ts_read_file(log, NULL);
    assert_non_null(text);
    assert_true(count_in(text, "api: api connections:", "refused at --max-connections") >= 450);
    assert_true(count_in(text, "api: api connections:", "at --max-connections-per-client") >= 450);
    assert_true(count_in(text, "api: api connections:", "headers") >= 150);
    free(text);
}

static double metric(int port, const char *sample)
{
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", port);
    CURL *c = curl_easy_init();
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_INTERFACE, "127.0.0.2");
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    fclose(f);
    if (rc != CURLE_OK) fail_msg("GET %s: %s", url, curl_easy_strerror(rc));
    const char *p = strstr(body, sample);
    if (!p) fail_msg("no %s in /metrics:\n%s", sample, body);
    double v = strtod(p + strlen(sample), NULL);
    free(body);
    return v;
}

static void test_worker_admin_limits(void **state)
{
    (void)state;
    ts_redis redis;
    assert_int_equal(ts_redis_start(&redis), 0);
    char log[256];
    snprintf(log, sizeof log, "%s/worker.log", ts_tmpdir());
    char *argv[] = {(char *)ts_bin(), "worker", "--redis", redis.url, "--api-url", "http://127.0.0.1:1",
                    "--admin-listen", "127.0.0.1:0", "--admin-max-connections", "20", "--admin-max-connections-per-client",
                    "10", "--admin-header-timeout", "1s", NULL};
    setenv("OTEL_TRACES_EXPORTER", "none", 1);
    pid_t pid = ts_spawn(argv, log);
    unsetenv("OTEL_TRACES_EXPORTER");
    int port = ts_logged_port(log, 0, "admin HTTP on ", 15000);
    if (!port) fail_msg("the worker logged no admin port (log %s)", log);
    sg_attack a;
    sg_open(&a, "127.0.0.1", port, 15, "");
    usleep(300 * 1000);
    assert_int_equal(sg_count_closed(&a), 5);
    const char *refused = "extrace_admin_connections_refused_total{listener=\"admin\",reason=\"max_per_client\"} ";
    assert_true(metric(port, refused) == 5);
    usleep(1500 * 1000);
    assert_int_equal(sg_count_closed(&a), 15);
    assert_true(metric(port, "extrace_admin_connections_timed_out_total{listener=\"admin\",phase=\"headers\"} ") >= 10);
    sg_close(&a);
    assert_int_equal(ts_stop(pid, SIGTERM, 10000), 0);
    ts_redis_stop(&redis);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_port_survives_default_attack),
        cmocka_unit_test(test_store_listeners_limits),
        cmocka_unit_test(test_api_limits),
        cmocka_unit_test(test_worker_admin_limits),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ts_cleanup();
    curl_global_cleanup();
    return rc;
}
