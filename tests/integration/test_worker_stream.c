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

#include "fixture.h"
#include "support.h"
#include "trace_check.h"

#define NWORKFLOWS 50
#define STREAM     "wf-events"
#define WAIT_MS    40000

static ts_redis redis;
static pid_t api_pid, receiver_pid, gen_pid;
static int api_port, grpc_port, http_port;
static char dir[256], out_path[300], ids_path[300];
static tf_worker workers[2] = {{"worker-a"}, {"worker-b"}};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static redisReply *redis_cmd(const char *fmt, const char *arg) { return tf_redis(redis.port, fmt, STREAM, arg); }

static long long pending_count(void) { return tf_redis_pending(redis.port, STREAM, "extrace"); }

/* ---- processes ---- */

static void start_worker(tf_worker *w)
{
    char *extra[] = {"--timeout", "60s", "--log-level", "debug", NULL};
    snprintf(w->log, sizeof w->log, "%s/%s.log", dir, w->consumer);
    tf_stream_worker_start(w, redis.url, api_port, http_port, STREAM, extra);
}

static int setup(void **state)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (ts_redis_start(&redis) != 0) return -1;
    snprintf(dir, sizeof dir, "%s", ts_tmpdir());
    snprintf(out_path, sizeof out_path, "%s/spans.jsonl", dir);
    snprintf(ids_path, sizeof ids_path, "%s/ids.txt", dir);
    char log[400];
    snprintf(log, sizeof log, "%s/api.log", dir);
    api_pid = ts_api_start((char *[]){"--time-scale", "600", "--seed", "11", NULL}, log, &api_port);
    return api_pid > 0 ? 0 : -1;
}

static int teardown(void **state)
{
    for (int i = 0; i < 2; i++)
        if (workers[i].pid > 0) ts_stop(workers[i].pid, SIGKILL, 5000);
    if (gen_pid > 0) ts_stop(gen_pid, SIGKILL, 5000);
    if (receiver_pid > 0) ts_stop(receiver_pid, SIGTERM, 5000);
    if (api_pid > 0) ts_stop(api_pid, SIGTERM, 5000);
    ts_redis_stop(&redis);
    curl_global_cleanup();
    return 0;
}

/* ---- checks ---- */

static void check_dead_letters(void)
{
    redisReply *r = redis_cmd("XRANGE %s:dead - +", NULL);
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
    redisReply *r = tf_redis(redis.port, "KEYS extrace:ckpt:*");
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
    freeReplyObject(redis_cmd("XADD %s * data %s", "not json at all"));
    freeReplyObject(redis_cmd("XADD %s * note %s", "no data field here"));
}

static void test_two_workers_one_killed(void **state)
{
    char rlog[320];
    snprintf(rlog, sizeof rlog, "%s/receiver.log", dir);
    grpc_port = http_port = 0;
    receiver_pid = tf_receiver_start(&grpc_port, &http_port, out_path, rlog);
    start_worker(&workers[0]);
    start_worker(&workers[1]);
    char *argv[] = {(char *)ts_bin(), "generate", "--redis", redis.url, "--stream", STREAM, "--rate", "25",
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
        restored += tf_worker_metric(&workers[i], "extrace_checkpoints_restored_total");
        claimed += tf_worker_metric(&workers[i], "extrace_stream_entries_resumed_total");
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_workers_one_killed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
