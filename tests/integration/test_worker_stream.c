/* Durable intake end to end: real redis-server, `extrace api --time-scale
 * 600`, the Node OTLP receiver, and two `extrace worker --stream` sharing
 * one consumer group. `extrace generate --stream` adds 50 workflows (plus
 * two malformed entries); one worker is killed with SIGKILL mid-run and
 * restarted under the same consumer name. Every workflow must arrive as
 * one complete trace with the derived ids and no repeated event; a span
 * that arrived twice (a worker died after the export but before its XACK)
 * must be an identical copy, which a trace backend stores once. Every
 * entry ends acknowledged, the malformed ones in <stream>:dead, and no
 * checkpoint is left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "support.h"
#include "trace_check.h"

#define NWORKFLOWS 50
#define STREAM     "wf-events"
#define WAIT_MS    40000

static ts_redis redis;     /* the first test's Redis */
static int redis_port;     /* the Redis of the test in progress */
static char redis_url[64]; /* likewise, as redis://127.0.0.1:<port> */
static pid_t own_redis_pid; /* the outage test's restartable redis-server, or 0 */
static pid_t api_pid, receiver_pid, gen_pid;
static int api_port, grpc_port, http_port;
static char dir[256], out_path[300], ids_path[300];

/* One worker process. */
typedef struct worker {
    const char *consumer; /* --consumer */
    pid_t pid;            /* 0 when not running */
    int admin_port;       /* /readyz, /metrics */
    char log[320];        /* its log file */
} worker;

static worker workers[2] = {{"worker-a", 0, 0, ""}, {"worker-b", 0, 0, ""}};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A sample's value in a /metrics text, or -1 if absent. */
static double metric(const char *text, const char *sample)
{
    char want[256];
    snprintf(want, sizeof want, "\n%s ", sample);
    const char *p = strstr(text, want);
    return p ? strtod(p + strlen(want), NULL) : -1;
}

static double worker_metric(const worker *w, const char *sample)
{
    char url[128], *body;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/metrics", w->admin_port);
    double v = tc_http_get(url, &body) == 200 ? metric(body, sample) : -1;
    free(body);
    return v;
}

/* A Redis command's reply on a fresh connection (the caller frees it). */
static redisReply *redis_cmd(const char *fmt, ...)
{
    redisContext *c = redisConnect("127.0.0.1", redis_port);
    assert_non_null(c);
    assert_int_equal(c->err, 0);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    assert_non_null(r);
    return r;
}

/* Entries of the group still pending (XPENDING summary count). */
static long long pending_count(void)
{
    redisReply *r = redis_cmd("XPENDING %s extrace", STREAM);
    long long n = -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_INTEGER)
        n = r->element[0]->integer;
    freeReplyObject(r);
    return n;
}

/* Print the warnings and errors of a log (for a failing test's message). */
static void print_problems(const char *path)
{
    char *text = ts_read_file(path, NULL);
    for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n"))
        if (strstr(line, " WARN ") || strstr(line, " ERROR ")) print_message("%s: %s\n", path, line);
    free(text);
}

/* ---- processes ---- */

static void start_worker(worker *w)
{
    char endpoint[64], api[64], admin[64];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", http_port);
    snprintf(api, sizeof api, "http://127.0.0.1:%d", api_port);
    w->admin_port = ts_free_port();
    snprintf(admin, sizeof admin, "127.0.0.1:%d", w->admin_port);
    snprintf(w->log, sizeof w->log, "%s/%s.log", dir, w->consumer);
    setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", 1);
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, 1);
    setenv("OTEL_BSP_SCHEDULE_DELAY", "100", 1);
    char *argv[] = {(char *)ts_bin(), "worker", "--redis", redis_url, "--api-url", api, "--stream", STREAM,
                    "--consumer", (char *)w->consumer, "--claim-idle", "1s", "--initial-delay", "20ms", "--interval",
                    "50ms", "--timeout", "60s", "--admin-listen", admin, "--log-level", "debug", NULL};
    w->pid = ts_spawn(argv, w->log);
    unsetenv("OTEL_EXPORTER_OTLP_PROTOCOL");
    unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
    unsetenv("OTEL_BSP_SCHEDULE_DELAY");
    assert_true(w->pid > 0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/readyz", w->admin_port);
    long status = 0;
    for (int i = 0; i < 100 && status != 200; i++) {
        char *body;
        status = tc_http_get(url, &body);
        free(body);
        if (status != 200) sleep_ms(100);
    }
    if (status != 200) fail_msg("worker %s not ready within 10 s (log %s)", w->consumer, w->log);
}

static void start_receiver(void)
{
    char script[512], gp[16], hp[16], log[320];
    const char *src = getenv("EXTRACE_SOURCE_DIR");
    snprintf(script, sizeof script, "%s/tests/node/receiver.js", src ? src : ".");
    grpc_port = ts_free_port();
    http_port = ts_free_port();
    snprintf(gp, sizeof gp, "%d", grpc_port);
    snprintf(hp, sizeof hp, "%d", http_port);
    snprintf(log, sizeof log, "%s/receiver.log", dir);
    char *argv[] = {"node", script, "--grpc-port", gp, "--http-port", hp, "--out", out_path, NULL};
    receiver_pid = ts_spawn(argv, log);
    assert_true(receiver_pid > 0);
    assert_int_equal(ts_wait_port(grpc_port, 10000), 0);
    assert_int_equal(ts_wait_port(http_port, 10000), 0);
}

/* A fresh directory, receiver output and ids file for one test. */
static void new_run_dir(void)
{
    snprintf(dir, sizeof dir, "%s", ts_tmpdir());
    snprintf(out_path, sizeof out_path, "%s/spans.jsonl", dir);
    snprintf(ids_path, sizeof ids_path, "%s/ids.txt", dir);
}

static int setup(void **state)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (ts_redis_start(&redis) != 0) return -1;
    redis_port = redis.port;
    snprintf(redis_url, sizeof redis_url, "%s", redis.url);
    new_run_dir();
    api_port = ts_free_port();
    char listen[64], log[400];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", api_port);
    snprintf(log, sizeof log, "%s/api.log", dir);
    char *argv[] = {(char *)ts_bin(), "api", "--listen", listen, "--time-scale", "600", "--seed", "11", NULL};
    api_pid = ts_spawn(argv, log);
    return api_pid > 0 && ts_wait_port(api_port, 5000) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    for (int i = 0; i < 2; i++)
        if (workers[i].pid > 0) ts_stop(workers[i].pid, SIGKILL, 5000);
    if (gen_pid > 0) ts_stop(gen_pid, SIGKILL, 5000);
    if (receiver_pid > 0) ts_stop(receiver_pid, SIGTERM, 5000);
    if (own_redis_pid > 0) ts_stop(own_redis_pid, SIGKILL, 5000);
    if (api_pid > 0) ts_stop(api_pid, SIGTERM, 5000);
    ts_redis_stop(&redis);
    curl_global_cleanup();
    return 0;
}

/* ---- checks ---- */

static void check_dead_letters(void)
{
    redisReply *r = redis_cmd("XRANGE %s:dead - +", STREAM);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    assert_int_equal(r->elements, 2);
    int json_seen = 0, missing_seen = 0;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *f = r->element[i]->element[1];
        const char *data = NULL, *reason = NULL, *source = NULL;
        for (size_t k = 0; k + 1 < f->elements; k += 2) {
            if (!strcmp(f->element[k]->str, "data")) data = f->element[k + 1]->str;
            if (!strcmp(f->element[k]->str, "reason")) reason = f->element[k + 1]->str;
            if (!strcmp(f->element[k]->str, "source-id")) source = f->element[k + 1]->str;
        }
        assert_non_null(data);
        assert_non_null(reason);
        assert_non_null(source);
        if (!strcmp(data, "not json at all") && strncmp(reason, "json:", 5) == 0) json_seen++;
        if (!strcmp(data, "") && strstr(reason, "no \"data\" field")) missing_seen++;
    }
    assert_int_equal(json_seen, 1);
    assert_int_equal(missing_seen, 1);
    freeReplyObject(r);
}

static void check_no_checkpoints(void)
{
    redisReply *r = redis_cmd("KEYS extrace:ckpt:*");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    if (r->elements) fail_msg("%zu checkpoints left behind, e.g. %s", r->elements, r->element[0]->str);
    freeReplyObject(r);
}

/* Every id: one complete trace; returns how many arrived more than once. */
static int check_traces(int nworkflows)
{
    tc_spans spans;
    tc_load(out_path, &spans);
    char *ids = ts_read_file(ids_path, NULL);
    assert_non_null(ids);
    int nids = 0, twice = 0;
    for (char *id = strtok(ids, "\n"); id; id = strtok(NULL, "\n")) {
        twice += tc_check_workflow(&spans, api_port, "dev1", id, "stream") > 1;
        nids++;
    }
    assert_int_equal(nids, nworkflows);
    free(ids);
    tc_free(&spans);
    return twice;
}

/* ---- the test ---- */

static void add_malformed(void)
{
    freeReplyObject(redis_cmd("XADD %s * data %s", STREAM, "not json at all"));
    freeReplyObject(redis_cmd("XADD %s * note %s", STREAM, "no data field here"));
}

static void test_two_workers_one_killed(void **state)
{
    start_receiver();
    start_worker(&workers[0]);
    start_worker(&workers[1]);
    char *argv[] = {(char *)ts_bin(), "generate", "--redis", redis_url, "--stream", STREAM, "--rate", "25",
                    "--count", "50", "--ids-out", ids_path, NULL};
    char glog[320];
    snprintf(glog, sizeof glog, "%s/generate.log", dir);
    gen_pid = ts_spawn(argv, glog);
    assert_true(gen_pid > 0);
    add_malformed();
    sleep_ms(1000); /* about half of the workflows are in */
    int roots_at_kill = tc_count_roots(out_path);
    assert_int_equal(ts_stop(workers[0].pid, SIGKILL, 5000), 128 + SIGKILL);
    workers[0].pid = 0;
    sleep_ms(1500); /* longer than --claim-idle: the other worker claims what it can */
    start_worker(&workers[0]);
    assert_int_equal(ts_wait(gen_pid, 20000), 0);
    gen_pid = 0;
    long long pending = -1;
    int waited = 0;
    for (; waited < WAIT_MS; waited += 200) {
        pending = pending_count();
        if (pending == 0 && tc_count_roots(out_path) >= NWORKFLOWS) break;
        sleep_ms(200);
    }
    double restored = 0, claimed = 0;
    for (int i = 0; i < 2; i++) {
        restored += worker_metric(&workers[i], "extrace_checkpoints_restored_total");
        claimed += worker_metric(&workers[i], "extrace_stream_entries_resumed_total");
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ts_stop(workers[i].pid, SIGTERM, 20000), 0);
        workers[i].pid = 0;
    }
    ts_stop(receiver_pid, SIGTERM, 5000);
    receiver_pid = 0;
    if (waited >= WAIT_MS)
        fail_msg("after %d ms: %lld entries pending, %d root spans of %d (logs in %s)", WAIT_MS, pending,
                 tc_count_roots(out_path), NWORKFLOWS, dir);
    int twice = check_traces(NWORKFLOWS);
    check_dead_letters();
    check_no_checkpoints();
    assert_int_equal(pending_count(), 0);
    /* The kill did interrupt work that was then resumed from checkpoints. */
    assert_true(roots_at_kill < NWORKFLOWS);
    assert_true(claimed >= 1);
    assert_true(restored >= 1);
    print_message("%d root spans before the kill; %.0f entries resumed, %.0f monitors restored; %d traces "
                  "arrived twice (identical copies)\n", roots_at_kill, claimed, restored, twice);
}

/* ---- Redis goes away and comes back ---- */

#define OUTAGE_WORKFLOWS 20

/* (Re)start the outage test's redis-server on redis_port with its data
 * kept in an append-only file, so the stream survives the restart. */
static void start_own_redis(const char *rdir)
{
    char port[16], log[320];
    snprintf(port, sizeof port, "%d", redis_port);
    snprintf(log, sizeof log, "%s/redis.log", rdir);
    char *argv[] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", (char *)rdir, "--save", "",
                    "--appendonly", "yes", "--appendfsync", "always", NULL};
    own_redis_pid = ts_spawn(argv, log);
    assert_true(own_redis_pid > 0);
    assert_int_equal(ts_wait_port(redis_port, 10000), 0);
}

/* /readyz status of w (0: no answer). */
static long readyz(const worker *w)
{
    char url[128], *body;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/readyz", w->admin_port);
    long status = tc_http_get(url, &body);
    free(body);
    return status;
}

static void test_redis_outage(void **state)
{
    char rdir[300];
    new_run_dir();
    snprintf(rdir, sizeof rdir, "%s", ts_tmpdir());
    redis_port = ts_free_port();
    snprintf(redis_url, sizeof redis_url, "redis://127.0.0.1:%d", redis_port);
    start_own_redis(rdir);
    start_receiver();
    worker *w = &workers[1];
    start_worker(w);
    char count[16];
    snprintf(count, sizeof count, "%d", OUTAGE_WORKFLOWS);
    char *argv[] = {(char *)ts_bin(), "generate", "--redis", redis_url, "--stream", STREAM, "--rate", "40",
                    "--count", count, "--ids-out", ids_path, NULL};
    assert_int_equal(ts_run(argv, NULL, NULL, 20000), 0);
    /* Down while workflows are in flight: their acknowledgements must wait. */
    int roots_at_stop = tc_count_roots(out_path);
    assert_int_equal(ts_stop(own_redis_pid, SIGTERM, 10000), 0);
    own_redis_pid = 0;
    long status = 200;
    for (int i = 0; i < 50 && status == 200; i++) {
        status = readyz(w);
        if (status == 200) sleep_ms(100);
    }
    assert_int_equal(status, 503);
    sleep_ms(1500);
    start_own_redis(rdir);
    for (int i = 0; i < 150 && status != 200; i++) {
        status = readyz(w);
        if (status != 200) sleep_ms(100);
    }
    assert_int_equal(status, 200);
    long long pending = -1;
    int waited = 0;
    for (; waited < WAIT_MS; waited += 200) {
        pending = pending_count();
        if (pending == 0 && tc_count_roots(out_path) >= OUTAGE_WORKFLOWS) break;
        sleep_ms(200);
    }
    assert_int_equal(ts_stop(w->pid, SIGTERM, 20000), 0);
    w->pid = 0;
    ts_stop(receiver_pid, SIGTERM, 5000);
    receiver_pid = 0;
    if (waited >= WAIT_MS) print_problems(w->log);
    if (waited >= WAIT_MS)
        fail_msg("after the outage: %lld entries pending, %d root spans of %d (logs in %s)", pending,
                 tc_count_roots(out_path), OUTAGE_WORKFLOWS, dir);
    char *log = ts_read_file(w->log, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "lost the connection to Redis")); /* the outage was seen … */
    assert_non_null(strstr(log, "command connection to Redis at")); /* … and recovered from */
    free(log);
    int twice = check_traces(OUTAGE_WORKFLOWS);
    check_no_checkpoints();
    assert_true(roots_at_stop < OUTAGE_WORKFLOWS);
    print_message("%d root spans before the outage; %d traces arrived twice (identical copies)\n", roots_at_stop,
                  twice);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_workers_one_killed),
        cmocka_unit_test(test_redis_outage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
