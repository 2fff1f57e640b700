/* The durable intake when Redis misbehaves: real redis-server (append-only
 * file, restartable), `extrace api`, the Node OTLP receiver and `extrace
 * worker --stream`.
 *   - Redis goes down while workflows are in flight. Those that finish
 *     meanwhile are held back until their final checkpoint is written (a
 *     trace goes out only after that), and then delivered and acknowledged.
 *   - Another consumer claims a workflow's entry while the worker watches
 *     it (as after a restart in which the worker looked idle). The worker
 *     finds out at its next checkpoint and leaves the workflow alone; the
 *     claimer resumes from the checkpoint and alone exports its trace.
 *   - Redis is killed (-9) without persistence and restarts empty. The
 *     worker tells that from a claim, adds the lost entries again under
 *     its own name and exports every trace once, finished or not. */
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

#define STREAM  "wf-events"
#define WAIT_MS 40000

/* One test's processes and files. */
typedef struct run {
    char dir[256], rdir[256];   /* logs and receiver output; Redis' data */
    char out_path[300], ids_path[300];
    int redis_port, api_port, grpc_port, http_port;
    char redis_url[64];
    pid_t redis_pid, api_pid, receiver_pid;
} run;

static run R;
static tf_worker workers[2] = {{"worker-a"}, {"worker-b"}};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long long pending_count(void) { return tf_redis_pending(R.redis_port, STREAM, "extrace"); }

/* Redis, the API at `time_scale` and the receiver, in fresh directories. */
static void start_run(const char *time_scale)
{
    memset(&R, 0, sizeof R);
    snprintf(R.dir, sizeof R.dir, "%s", ts_tmpdir());
    snprintf(R.rdir, sizeof R.rdir, "%s", ts_tmpdir());
    snprintf(R.out_path, sizeof R.out_path, "%s/spans.jsonl", R.dir);
    snprintf(R.ids_path, sizeof R.ids_path, "%s/ids.txt", R.dir);
    R.redis_pid = tf_redis_start_aof(&R.redis_port, R.rdir);
    snprintf(R.redis_url, sizeof R.redis_url, "redis://127.0.0.1:%d", R.redis_port);
    char log[320];
    snprintf(log, sizeof log, "%s/api.log", R.dir);
    char *args[] = {"--time-scale", (char *)time_scale, "--seed", "11", NULL};
    R.api_pid = ts_api_start(args, log, &R.api_port);
    if (R.api_pid <= 0) fail_msg("extrace api did not start (log %s)", log);
    snprintf(log, sizeof log, "%s/receiver.log", R.dir);
    R.receiver_pid = tf_receiver_start(&R.grpc_port, &R.http_port, R.out_path, log);
}

static void start_worker(tf_worker *w)
{
    char *extra[] = {"--timeout", "60s", "--log-level", "debug", NULL};
    snprintf(w->log, sizeof w->log, "%s/%s.log", R.dir, w->consumer);
    tf_stream_worker_start(w, R.redis_url, R.api_port, R.http_port, STREAM, extra);
}

static void generate(int count, const char *rate)
{
    char n[16];
    snprintf(n, sizeof n, "%d", count);
    char *argv[] = {(char *)ts_bin(), "generate", "--redis", R.redis_url, "--stream", STREAM, "--rate", (char *)rate,
                    "--count", n, "--ids-out", R.ids_path, NULL};
    assert_int_equal(ts_run(argv, NULL, NULL, 20000), 0);
}

/* Wait until nothing is pending and `roots` root spans arrived; fails the
 * test (naming the logs) after WAIT_MS. */
static void wait_all_done(int roots)
{
    long long pending = -1;
    for (int waited = 0; waited < WAIT_MS; waited += 200) {
        pending = pending_count();
        if (pending == 0 && tc_count_roots(R.out_path) >= roots) return;
        sleep_ms(200);
    }
    fail_msg("after %d ms: %lld entries pending, %d root spans of %d (logs in %s)", WAIT_MS, pending,
             tc_count_roots(R.out_path), roots, R.dir);
}

/* Poll w's metric `sample` until it is within [lo, hi]; its last value. */
static double wait_metric(const tf_worker *w, const char *sample, double lo, double hi, int timeout_ms)
{
    double v = tf_worker_metric(w, sample);
    for (int waited = 0; waited < timeout_ms && (v < lo || v > hi); waited += 50) {
        sleep_ms(50);
        v = tf_worker_metric(w, sample);
    }
    return v;
}

/* Every generated id has one complete trace; the distinct
 * service.instance.ids of the spans (the processes that exported). */
static int check_traces(int nworkflows)
{
    tc_spans spans;
    tc_load(R.out_path, &spans);
    char *ids = ts_read_file(R.ids_path, NULL);
    assert_non_null(ids);
    int nids = 0;
    for (char *id = strtok(ids, "\n"); id; id = strtok(NULL, "\n")) {
        tc_check_workflow(&spans, R.api_port, "dev1", id, "stream");
        nids++;
    }
    assert_int_equal(nids, nworkflows);
    free(ids);
    json_t *seen = json_object();
    for (size_t i = 0; i < spans.n; i++) {
        const char *inst = json_string_value(json_object_get(json_object_get(spans.v[i], "resource"),
                                                             "service.instance.id"));
        json_object_set_new(seen, inst ? inst : "", json_true());
    }
    int instances = (int)json_object_size(seen);
    json_decref(seen);
    tc_free(&spans);
    return instances;
}

static void check_no_checkpoints(void)
{
    redisReply *r = tf_redis(R.redis_port, "KEYS extrace:ckpt:*");
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    if (r->elements) fail_msg("%zu checkpoints left behind, e.g. %s", r->elements, r->element[0]->str);
    freeReplyObject(r);
}

static void stop_all(void)
{
    for (int i = 0; i < 2; i++) {
        if (workers[i].pid > 0) assert_int_equal(ts_stop(workers[i].pid, SIGTERM, 20000), 0);
        workers[i].pid = 0;
    }
    ts_stop(R.receiver_pid, SIGTERM, 5000);
    R.receiver_pid = 0;
}

static int teardown(void **state)
{
    for (int i = 0; i < 2; i++)
        if (workers[i].pid > 0) ts_stop(workers[i].pid, SIGKILL, 5000);
    workers[0].pid = workers[1].pid = 0;
    if (R.receiver_pid > 0) ts_stop(R.receiver_pid, SIGTERM, 5000);
    if (R.api_pid > 0) ts_stop(R.api_pid, SIGTERM, 5000);
    if (R.redis_pid > 0) ts_stop(R.redis_pid, SIGTERM, 5000);
    memset(&R, 0, sizeof R);
    return 0;
}

/* ---- Redis goes away and comes back ---- */

#define OUTAGE_WORKFLOWS 20

static void test_redis_outage(void **state)
{
    start_run("600");
    tf_worker *w = &workers[1];
    start_worker(w);
    generate(OUTAGE_WORKFLOWS, "40");
    assert_int_equal(ts_stop(R.redis_pid, SIGTERM, 10000), 0); /* while workflows are in flight */
    R.redis_pid = 0;
    long status = 200;
    for (int i = 0; i < 50 && status == 200; i++) {
        status = tf_worker_readyz(w);
        if (status == 200) sleep_ms(100);
    }
    assert_int_equal(status, 503);
    sleep_ms(500); /* traces submitted before the outage are out by now */
    int roots_before = tc_count_roots(R.out_path);
    /* Workflows finishing now cannot write their final checkpoint: their traces wait. */
    double waiting = wait_metric(w, "extrace_final_checkpoints_waiting", 1, 1e9, 15000);
    if (waiting < 1) fail_msg("no finished workflow waited for its final checkpoint (log %s)", w->log);
    sleep_ms(300);
    int roots_during = tc_count_roots(R.out_path);
    assert_int_equal(roots_during, roots_before);
    R.redis_pid = tf_redis_start_aof(&R.redis_port, R.rdir); /* back on its port */
    for (int i = 0; i < 150 && status != 200; i++) {
        status = tf_worker_readyz(w);
        if (status != 200) sleep_ms(100);
    }
    assert_int_equal(status, 200);
    wait_all_done(OUTAGE_WORKFLOWS);
    assert_int_equal(tf_worker_metric(w, "extrace_final_checkpoints_waiting"), 0);
    double parked = tf_worker_metric(w, "extrace_final_checkpoints_parked_total");
    stop_all();
    char *log = ts_read_file(w->log, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "lost the connection to Redis")); /* the outage was seen … */
    assert_non_null(strstr(log, "Redis is back: writing the final checkpoints")); /* … and recovered from */
    free(log);
    assert_int_equal(check_traces(OUTAGE_WORKFLOWS), 1);
    check_no_checkpoints();
    assert_true(roots_before < OUTAGE_WORKFLOWS);
    print_message("%d root spans before the outage; %.0f finished workflows waited for Redis\n", roots_before,
                  parked);
}

/* ---- Redis restarted without its data ---- */

#define EMPTY_WORKFLOWS 40

/* redis-server on port (the one it had) without persistence (no AOF, no snapshots), data in dir. */
static pid_t redis_start_volatile(int port, const char *dir)
{
    char log[320];
    snprintf(log, sizeof log, "%s/redis.log", dir);
    char *args[] = {"--dir", (char *)dir, "--save", "", "--appendonly", "no", NULL};
    pid_t pid = ts_redis_spawn(&port, args, log);
    if (pid <= 0) fail_msg("redis-server did not start again on port %d (log %s)", port, log);
    return pid;
}

/* kill -9 of a Redis without persistence while workflows are in flight,
 * some finishing during the outage, then a restart with nothing in it:
 * the worker tells this from a claim, puts every workflow back into the
 * stream under its own name and exports each trace once. */
static void test_redis_restarted_empty(void **state)
{
    start_run("300");
    ts_stop(R.redis_pid, SIGKILL, 5000); /* start_run's Redis keeps its data: use one that does not */
    R.redis_pid = redis_start_volatile(R.redis_port, R.rdir);
    tf_worker *w = &workers[1];
    start_worker(w);
    generate(EMPTY_WORKFLOWS, "200");
    assert_true(wait_metric(w, "extrace_checkpoints_saved_total", EMPTY_WORKFLOWS, 1e9, 10000) >= EMPTY_WORKFLOWS);
    int roots_before = tc_count_roots(R.out_path);
    assert_int_equal(ts_stop(R.redis_pid, SIGKILL, 5000), 128 + SIGKILL);
    R.redis_pid = 0;
    /* Some finish while Redis is away: their final checkpoints wait. */
    if (wait_metric(w, "extrace_final_checkpoints_waiting", 1, 1e9, 15000) < 1)
        fail_msg("no finished workflow waited for Redis (log %s)", w->log);
    sleep_ms(300);
    double waiting = tf_worker_metric(w, "extrace_final_checkpoints_waiting");
    R.redis_pid = redis_start_volatile(R.redis_port, R.rdir);
    wait_all_done(EMPTY_WORKFLOWS);
    sleep_ms(500); /* a second copy of a trace would show by now */
    double lost = tf_worker_metric(w, "extrace_workflows_lost_total");
    double reowned = tf_worker_metric(w, "extrace_workflows_reowned_total");
    double data_lost = tf_worker_metric(w, "extrace_redis_data_lost_total");
    stop_all();
    assert_int_equal(tc_count_roots(R.out_path), EMPTY_WORKFLOWS); /* each trace exported once */
    assert_int_equal(check_traces(EMPTY_WORKFLOWS), 1);
    check_no_checkpoints();
    assert_int_equal(lost, 0);
    assert_true(data_lost >= 1);
    assert_true(reowned >= waiting); /* at least every finished one that waited, and those in flight */
    char *log = ts_read_file(w->log, NULL);
    assert_non_null(strstr(log, "Redis at 127.0.0.1"));
    assert_non_null(strstr(log, "lost entries of " STREAM));
    if (strstr(log, "claimed by another consumer")) fail_msg("a loss of data logged as a claim (log %s)", w->log);
    free(log);
    print_message("%d traces out before the kill, %.0f finished ones waiting at the restart; %.0f workflows put back "
                  "after the empty restart\n", roots_before, waiting, reowned);
}

/* ---- an entry claimed away ---- */

static void test_claimed_entry_is_left_to_the_claimer(void **state)
{
    start_run("120"); /* a workflow takes about 10 s: time to take it away */
    tf_worker *a = &workers[0], *thief = &workers[1];
    thief->consumer = "thief";
    start_worker(a);
    generate(1, "10");
    /* a watches it: its first checkpoint is written; then its entry moves to "thief". */
    assert_true(wait_metric(a, "extrace_checkpoints_saved_total", 1, 1e9, 10000) >= 1);
    redisReply *r = tf_redis(R.redis_port, "XRANGE %s - +", STREAM);
    assert_int_equal(r->elements, 1);
    const char *id = r->element[0]->element[0]->str;
    redisReply *c = tf_redis(R.redis_port, "XCLAIM %s extrace thief 0 %s JUSTID", STREAM, id);
    assert_int_equal(c->elements, 1);
    freeReplyObject(c);
    freeReplyObject(r);
    /* a's next checkpoint finds the entry gone: it stops watching. */
    assert_int_equal(wait_metric(a, "extrace_workflows_lost_total", 1, 1, 20000), 1);
    assert_int_equal(wait_metric(a, "extrace_workflows_in_flight", 0, 0, 5000), 0); /* at its next poll */
    assert_int_equal(pending_count(), 1); /* still pending, now for thief */
    /* thief (started under that name) resumes it from a's checkpoint and exports it. */
    start_worker(thief);
    wait_all_done(1);
    double restored = tf_worker_metric(thief, "extrace_checkpoints_restored_total");
    double a_acks = tf_worker_metric(a, "extrace_stream_acks_total");
    stop_all();
    thief->consumer = "worker-b";
    assert_int_equal(restored, 1);
    assert_int_equal(a_acks, 0);
    /* One exporter of the trace: thief (the root, once). a may have exported
     * the spans of stages that ended while the entry was its own, after a
     * checkpoint holding their end was in Redis: thief's copies of those
     * are identical (check_traces fails on differing copies). */
    assert_true(check_traces(1) <= 2);
    assert_int_equal(tc_count_roots(R.out_path), 1);
    check_no_checkpoints();
    char *log = ts_read_file(a->log, NULL);
    assert_non_null(strstr(log, "claimed by another consumer"));
    free(log);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_redis_outage, teardown),
        cmocka_unit_test_teardown(test_claimed_entry_is_left_to_the_claimer, teardown),
        cmocka_unit_test_teardown(test_redis_restarted_empty, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
