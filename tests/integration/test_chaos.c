/* test_chaos.c — nothing lost under chaos. 500 workflows go through a Redis
 * stream to two `extrace worker --stream` on one consumer group, polling
 * an `extrace api --time-scale 600` that answers 5 % of polls 500, 2 %
 * with garbage, drops 2 % of connections and delays every poll by 5 ms,
 * and exporting over OTLP http/protobuf to the Node receiver with a spool
 * each. Meanwhile: five SIGKILLs of a random worker at random moments
 * (each restarted under its name, on its spool), the receiver down for
 * 20 s and back on the same ports, and redis-server restarted once (AOF,
 * fsync always: the stream and the group survive). At the end every
 * workflow has exactly one complete trace with the ids an undisturbed run
 * derives, no event twice in a span, copies of a span identical; every
 * entry acknowledged; no span dropped; every process stopped cleanly;
 * stage spans went out as they ended (the workers' default). The run's random seed is printed (EXTRACE_CHAOS_SEED=N repeats the
 * schedule of the disturbances). */
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

#include "core/clock.h"
#include "core/rng.h"
#include "fixture.h"
#include "support.h"
#include "trace_check.h"

#define HALF       250          /* workflows per generator run (two runs) */
#define NWORKFLOWS (2 * HALF)
#define RATE       "10"         /* events per second */
#define STREAM     "chaos-events"
#define OUTAGE_MS  20000        /* the receiver's downtime */
#define WAIT_MS    150000       /* for the end state after the last event */

static int redis_port, api_port, grpc_port, http_port;
static pid_t redis_pid, api_pid, receiver_pid, gen_pid;
static char dir[256], rdir[300], out_path[300], ids_path[2][300];
static ex_rng rng;        /* the disturbances' schedule */
static double dropped;    /* extrace_spans_dropped_total over every worker process's last scrape */
static double early;      /* extrace_spans_submitted_total{phase="running"}, likewise: spans out as they ended */
static int kills;         /* SIGKILLs done */

static tf_worker workers[2] = {{"chaos-a"}, {"chaos-b"}};
static char spools[2][300]; /* each worker's --spool-dir, kept across restarts */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int rand_ms(int lo, int hi) { return (int)ex_rng_range(&rng, lo, hi); }

static int64_t elapsed_ms(int64_t since) { return (ex_mono_ns() - since) / 1000000; }

/* ---- Redis ---- */

static redisReply *redis_cmd(const char *fmt, const char *arg) { return tf_redis(redis_port, fmt, arg); }

static long long redis_int(const char *fmt, const char *arg)
{
    redisReply *r = redis_cmd(fmt, arg);
    long long n = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return n;
}

static long long pending_count(void) { return tf_redis_pending(redis_port, STREAM, "extrace"); }

/* 1 once the group has been handed the stream's last entry. */
static int all_delivered(void)
{
    redisReply *last = redis_cmd("XREVRANGE %s + - COUNT 1", STREAM);
    redisReply *groups = redis_cmd("XINFO GROUPS %s", STREAM);
    int done = 0;
    if (last->type == REDIS_REPLY_ARRAY && last->elements == 1 && groups->type == REDIS_REPLY_ARRAY &&
        groups->elements == 1) {
        const char *last_id = last->element[0]->element[0]->str;
        redisReply *g = groups->element[0];
        for (size_t k = 0; k + 1 < g->elements; k += 2)
            if (!strcmp(g->element[k]->str, "last-delivered-id"))
                done = g->element[k + 1]->type == REDIS_REPLY_STRING && !strcmp(g->element[k + 1]->str, last_id);
    }
    freeReplyObject(last);
    freeReplyObject(groups);
    return done;
}

/* the first start takes a port (held), a restart comes back on it */
static void start_redis(void) { redis_pid = tf_redis_start_aof(&redis_port, rdir); }

/* ---- the other processes ---- */

static void start_worker(int i)
{
    char redis_url[64];
    snprintf(redis_url, sizeof redis_url, "redis://127.0.0.1:%d", redis_port);
    setenv("OTEL_BSP_EXPORT_TIMEOUT", "5000", 1); /* past it, a batch waits in the spool */
    setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2000", 1);
    char *extra[] = {"--spool-dir", spools[i], "--timeout", "120s", NULL};
    tf_stream_worker_start(&workers[i], redis_url, api_port, http_port, STREAM, extra);
    unsetenv("OTEL_BSP_EXPORT_TIMEOUT");
    unsetenv("OTEL_EXPORTER_OTLP_TIMEOUT");
}

/* SIGKILL a random worker at once (after a last scrape), and restart it
 * under its name on its spool a moment later. */
static void kill_and_restart(void)
{
    int i = (int)ex_rng_range(&rng, 0, 2);
    tf_worker *w = &workers[i];
    double d = tf_worker_metric(w, "extrace_spans_dropped_total");
    if (d > 0) dropped += d;
    d = tf_worker_metric(w, "extrace_spans_submitted_total{phase=\"running\"}");
    if (d > 0) early += d;
    assert_int_equal(ts_stop(w->pid, SIGKILL, 5000), 128 + SIGKILL);
    w->pid = 0;
    kills++;
    sleep_ms(rand_ms(100, 1000));
    start_worker(i);
}

static void start_receiver(void)
{
    char log[320];
    snprintf(log, sizeof log, "%s/receiver.log", dir);
    receiver_pid = tf_receiver_start(&grpc_port, &http_port, out_path, log);
}

static void start_generator(int half)
{
    char redis_url[64], count[16], log[320];
    snprintf(redis_url, sizeof redis_url, "redis://127.0.0.1:%d", redis_port);
    snprintf(count, sizeof count, "%d", HALF);
    snprintf(log, sizeof log, "%s/generate.log", dir);
    char *argv[] = {(char *)ts_bin(), "generate", "--redis", redis_url, "--stream", STREAM, "--rate", RATE,
                    "--count", count, "--ids-out", ids_path[half], NULL};
    gen_pid = ts_spawn(argv, log);
    assert_true(gen_pid > 0);
}

static void wait_generator(void)
{
    int rc = ts_wait(gen_pid, 60000);
    gen_pid = 0;
    if (rc != 0) {
        char log[320];
        snprintf(log, sizeof log, "%s/generate.log", dir);
        char *text = ts_read_file(log, NULL);
        fail_msg("extrace generate exited %d:\n%s", rc, text ? text : "(no log)");
    }
}

static int setup(void **state)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *seed_text = getenv("EXTRACE_CHAOS_SEED");
    uint64_t seed = seed_text ? strtoull(seed_text, NULL, 10) : ex_rng_seed_random(&rng);
    ex_rng_seed(&rng, seed);
    print_message("chaos seed %llu (EXTRACE_CHAOS_SEED=%llu repeats the schedule)\n", (unsigned long long)seed,
                  (unsigned long long)seed);
    snprintf(dir, sizeof dir, "%s", ts_tmpdir());
    snprintf(rdir, sizeof rdir, "%s", ts_tmpdir());
    snprintf(out_path, sizeof out_path, "%s/spans.jsonl", dir);
    for (int i = 0; i < 2; i++) {
        snprintf(ids_path[i], sizeof ids_path[i], "%s/ids%d.txt", dir, i);
        snprintf(spools[i], sizeof spools[i], "%s/spool%d", dir, i);
        snprintf(workers[i].log, sizeof workers[i].log, "%s/%s.log", dir, workers[i].consumer);
    }
    redis_port = 0;
    start_redis();
    /* the receiver comes back on the same ports: held for it from here on */
    grpc_port = ts_refused_port();
    http_port = ts_refused_port();
    char log[400];
    snprintf(log, sizeof log, "%s/api.log", dir);
    char *args[] = {"--time-scale", "600", "--seed", "11", "--fault-rate", "0.05", "--garbage-rate", "0.02",
                    "--drop-rate", "0.02", "--latency", "5ms", NULL};
    api_pid = ts_api_start(args, log, &api_port);
    return api_pid > 0 && grpc_port > 0 && http_port > 0 ? 0 : -1;
}

static int teardown(void **state)
{
    for (int i = 0; i < 2; i++)
        if (workers[i].pid > 0) ts_stop(workers[i].pid, SIGKILL, 5000);
    if (gen_pid > 0) ts_stop(gen_pid, SIGKILL, 5000);
    if (receiver_pid > 0) ts_stop(receiver_pid, SIGTERM, 5000);
    if (api_pid > 0) ts_stop(api_pid, SIGTERM, 5000);
    if (redis_pid > 0) ts_stop(redis_pid, SIGTERM, 10000);
    curl_global_cleanup();
    return 0;
}

/* ---- checks ---- */

/* GET the workflow from the faulty API until a complete JSON answer. */
static json_t *final_answer(const char *id)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/workflows/%s", api_port, id);
    for (int attempt = 0; attempt < 100; attempt++) {
        char *body;
        long status = tc_http_get(url, &body);
        json_t *j = status == 200 ? json_loads(body, 0, NULL) : NULL;
        free(body);
        if (j && json_is_true(json_object_get(j, "isComplete"))) return j;
        json_decref(j);
    }
    fail_msg("no complete answer for workflow %s from the API in 100 attempts", id);
    return NULL;
}

/* service.instance.id names the exporting process (a random UUID per
 * process, as OpenTelemetry asks), so a span exported again by a restarted
 * or another worker carries a different one; a backend deduplicates by
 * span id and keeps one. Every span must carry it; it is then removed so
 * that the copies compare equal in everything else, the rest of the
 * resource included. Returns how many distinct instance ids were seen. */
static int strip_instance_ids(tc_spans *spans)
{
    json_t *seen = json_object();
    for (size_t i = 0; i < spans->n; i++) {
        json_t *res = json_object_get(spans->v[i], "resource");
        const char *inst = json_string_value(json_object_get(res, "service.instance.id"));
        if (!inst || !*inst) fail_msg("span %zu of %s has no service.instance.id", i, out_path);
        json_object_set_new(seen, inst, json_true());
        json_object_del(res, "service.instance.id");
    }
    int n = (int)json_object_size(seen);
    json_decref(seen);
    return n;
}

/* A copy of span without what the receiver adds per request. */
static json_t *content(json_t *span)
{
    json_t *c = json_deep_copy(span);
    json_object_del(c, "request");
    json_object_del(c, "protocol");
    json_object_del(c, "encoding");
    return c;
}

/* Before the full checks: for spans that arrived in copies that differ,
 * print which members differ (at most 5 spans), and fail with the count.
 * (tc_check_workflow_json would stop at the first, with both lines cut.) */
static void check_copies_identical(const tc_spans *spans)
{
    json_t *first = json_object(); /* span id -> its first copy */
    int differing = 0;
    for (size_t i = 0; i < spans->n; i++) {
        const char *sid = json_string_value(json_object_get(spans->v[i], "spanId"));
        json_t *a = json_object_get(first, sid);
        if (!a) {
            json_object_set(first, sid, spans->v[i]);
            continue;
        }
        json_t *x = content(a), *y = content(spans->v[i]);
        if (!json_equal(x, y) && ++differing <= 5) {
            const char *key;
            json_t *v;
            json_object_foreach(x, key, v) {
                if (json_equal(v, json_object_get(y, key))) continue;
                char *va = json_dumps(v, JSON_COMPACT), *vb = json_dumps(json_object_get(y, key), JSON_COMPACT);
                print_message("span %s (%s, trace %s), requests %lld and %lld: \"%s\" differs:\n  %s\n  %s\n", sid,
                              json_string_value(json_object_get(a, "name")),
                              json_string_value(json_object_get(a, "traceId")),
                              json_integer_value(json_object_get(a, "request")),
                              json_integer_value(json_object_get(spans->v[i], "request")), key, va, vb);
                free(va);
                free(vb);
            }
        }
        json_decref(x);
        json_decref(y);
    }
    json_decref(first);
    if (differing)
        fail_msg("%d spans arrived in copies that differ (not only in service.instance.id): a backend keeping "
                 "one copy may keep either; see above and the logs in %s",
                 differing, dir);
}

/* The first copy of every span of all (borrowed references; free only the array). */
static void first_copies(const tc_spans *all, tc_spans *out)
{
    json_t *seen = json_object();
    out->v = malloc((all->n ? all->n : 1) * sizeof *out->v);
    out->n = 0;
    for (size_t i = 0; i < all->n; i++) {
        const char *sid = json_string_value(json_object_get(all->v[i], "spanId"));
        if (json_object_get(seen, sid)) continue;
        json_object_set_new(seen, sid, json_true());
        out->v[out->n++] = all->v[i];
    }
    json_decref(seen);
}

/* Every id of both generator runs: one complete trace each, judged on the
 * first copy of each span; then every later copy must equal the first.
 * Returns how many spans arrived more than once. */
static int check_traces(void)
{
    tc_spans spans, firsts;
    tc_load(out_path, &spans);
    int instances = strip_instance_ids(&spans);
    assert_true(instances >= 2 && instances <= 2 + kills); /* one per worker process */
    first_copies(&spans, &firsts);
    int nids = 0;
    for (int half = 0; half < 2; half++) {
        char *ids = ts_read_file(ids_path[half], NULL);
        assert_non_null(ids);
        for (char *id = strtok(ids, "\n"); id; id = strtok(NULL, "\n")) {
            json_t *api = final_answer(id);
            tc_check_workflow_json(&firsts, api, "dev1", id, "chaos");
            json_decref(api);
            nids++;
        }
        free(ids);
    }
    assert_int_equal(nids, NWORKFLOWS);
    print_message("every workflow has one complete trace with the derived ids (first copies); %zu spans, %zu "
                  "copies in all\n", firsts.n, spans.n);
    int twice = (int)(spans.n - firsts.n);
    free(firsts.v);
    check_copies_identical(&spans);
    tc_free(&spans);
    return twice;
}

/* ---- the test ---- */

static void wait_until_ms(int64_t t0, int64_t at_ms)
{
    int64_t left = at_ms - elapsed_ms(t0);
    if (left > 0) sleep_ms((int)left);
}

/* The disturbances, while two generator runs add the workflows. Returns
 * the spool bytes seen just before the receiver came back. */
static double disturb(void)
{
    int64_t t0 = ex_mono_ns();
    start_generator(0);
    sleep_ms(rand_ms(2000, 5000));
    kill_and_restart(); /* 1 */
    wait_until_ms(t0, 8000);
    assert_int_equal(ts_stop(receiver_pid, SIGTERM, 5000), 0);
    receiver_pid = 0;
    int64_t down_at = elapsed_ms(t0);
    sleep_ms(rand_ms(2000, 5000));
    kill_and_restart(); /* 2 */
    wait_generator();
    /* Redis goes down while workflows are in flight and the receiver is down. */
    assert_int_equal(ts_stop(redis_pid, SIGTERM, 10000), 0);
    redis_pid = 0;
    sleep_ms(rand_ms(300, 1500));
    start_redis();
    start_generator(1);
    wait_until_ms(t0, down_at + OUTAGE_MS);
    double spooled = 0;
    for (int i = 0; i < 2; i++) spooled += tf_worker_metric(&workers[i], "extrace_spool_bytes");
    start_receiver();
    print_message("receiver down for %lld ms\n", (long long)(elapsed_ms(t0) - down_at));
    for (int k = 0; k < 3; k++) {
        sleep_ms(rand_ms(2000, 6000));
        kill_and_restart(); /* 3, 4, 5 */
    }
    wait_generator();
    return spooled;
}

static void test_nothing_lost_under_chaos(void **state)
{
    int64_t t0 = ex_mono_ns();
    start_receiver();
    start_worker(0);
    start_worker(1);
    double spooled = disturb();
    long long pending = -1;
    int delivered = 0, roots = 0;
    int64_t waited_from = ex_mono_ns();
    while (elapsed_ms(waited_from) < WAIT_MS) {
        pending = pending_count();
        delivered = all_delivered();
        roots = tc_count_roots(out_path);
        if (pending == 0 && delivered && roots >= NWORKFLOWS) break;
        sleep_ms(250);
    }
    for (int i = 0; i < 2; i++) {
        double d = tf_worker_metric(&workers[i], "extrace_spans_dropped_total");
        assert_true(d >= 0); /* the final scrape answered */
        dropped += d;
        early += tf_worker_metric(&workers[i], "extrace_spans_submitted_total{phase=\"running\"}");
    }
    int64_t run_ms = elapsed_ms(t0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ts_stop(workers[i].pid, SIGTERM, 20000), 0);
        workers[i].pid = 0;
    }
    assert_int_equal(ts_stop(receiver_pid, SIGTERM, 5000), 0);
    receiver_pid = 0;
    if (pending != 0 || !delivered || roots < NWORKFLOWS)
        fail_msg("after %d s: %lld entries pending, last entry %sdelivered, %d root spans of %d (logs in %s)",
                 WAIT_MS / 1000, pending, delivered ? "" : "not ", roots, NWORKFLOWS, dir);
    assert_int_equal(pending_count(), 0);
    assert_int_equal(redis_int("XLEN %s", STREAM), NWORKFLOWS);
    char dead[64];
    snprintf(dead, sizeof dead, "%s:dead", STREAM);
    assert_int_equal(redis_int("XLEN %s", dead), 0);
    if (dropped != 0) fail_msg("%.0f spans dropped (extrace_spans_dropped_total; logs in %s)", dropped, dir);
    assert_int_equal(kills, 5);
    assert_true(spooled > 0); /* the outage did push batches to the spools */
    assert_true(early > NWORKFLOWS); /* stage spans went out as they ended, while their workflows ran */
    int twice = check_traces(); /* the API is still needed for the final answers */
    assert_int_equal(ts_stop(api_pid, SIGTERM, 5000), 0);
    api_pid = 0;
    assert_int_equal(ts_stop(redis_pid, SIGTERM, 10000), 0);
    redis_pid = 0;
    print_message("%d workflows, %d kills, receiver down %d s, one Redis restart: %d root spans received, %d "
                  "extra identical copies, %.0f spool bytes at the receiver's return, %.0f spans exported as they "
                  "ended (at least); %lld s in all\n",
                  NWORKFLOWS, kills, OUTAGE_MS / 1000, roots, twice, spooled, early, (long long)(run_ms / 1000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_lost_under_chaos),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
