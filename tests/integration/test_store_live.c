/* `extrace store --live` end to end: a real redis-server, `extrace api`
 * at a time scale where each workflow runs for seconds, two real workers
 * sharing a stream (each owns some workflows), and a real store polling
 * both workers' live APIs every 100 ms (the workers export their spans to
 * it too).
 *
 * While the workflows run: the store's /api/live holds, for each worker,
 * exactly that worker's own GET /api/workflows list (as JSON, plus the
 * "worker" URL), its in-flight count is the workers' sum, and a
 * workflow's detail through the store carries the events its worker
 * reports. Then one worker is killed: the store reports it as not
 * answering, naming its URL and the connection's failure, while the other
 * worker's list is still served. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "http.h"
#include "support.h"

#define STREAM "live-workflows"
#define NWORKFLOWS 12
#define WAIT_MS 20000

static ts_redis redis;
static char dir[256];
static pid_t api_pid, gen_pid, store_pid;
static int api_port, store_port, otlp_port;
static tf_worker workers[2] = {{.consumer = "live-a"}, {.consumer = "live-b"}};
static CURL *curl;

/* GET url as JSON (NULL unless 200 and JSON). */
static json_t *get_json(const char *url, long *status)
{
    th_resp r;
    th_request_rc(curl, "GET", url, NULL, &r);
    if (status) *status = r.status;
    json_t *j = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
    th_resp_free(&r);
    return j;
}

static json_t *worker_list(int i)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/workflows?limit=1000", workers[i].admin_port);
    return get_json(url, NULL);
}

static json_t *store_get(const char *path, long *status)
{
    char url[1024];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", store_port, path);
    return get_json(url, status);
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl = curl_easy_init();
    if (ts_redis_start(&redis) != 0) return -1;
    snprintf(dir, sizeof dir, "%s", ts_tmpdir());
    char log[400];
    snprintf(log, sizeof log, "%s/api.log", dir);
    /* At 100x a 21-minute workflow takes about 13 s. */
    char *args[] = {"--time-scale", "100", "--seed", "11", "--advance", "on-time", NULL};
    api_pid = ts_api_start(args, log, &api_port);
    return api_pid > 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++)
        if (workers[i].pid > 0) ts_stop(workers[i].pid, SIGKILL, 5000);
    if (gen_pid > 0) ts_stop(gen_pid, SIGKILL, 5000);
    if (store_pid > 0) ts_stop(store_pid, SIGTERM, 5000);
    if (api_pid > 0) ts_stop(api_pid, SIGTERM, 5000);
    ts_redis_stop(&redis);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    return 0;
}

static void start_store(void)
{
    char otlp[64], live[256], log[400], data[300];
    snprintf(otlp, sizeof otlp, "127.0.0.1:%d", otlp_port);
    snprintf(live, sizeof live, "http://127.0.0.1:%d,http://127.0.0.1:%d/", workers[0].admin_port,
             workers[1].admin_port);
    snprintf(log, sizeof log, "%s/store.log", dir);
    snprintf(data, sizeof data, "%s/store-data", dir);
    char *argv[] = {(char *)ts_bin(), "store", "--data-dir", data, "--http-listen", "127.0.0.1:0", "--otlp-grpc-listen", "127.0.0.1:0",
                    "--otlp-http-listen", otlp, "--live", live, "--live-interval", "100ms", NULL};
    store_pid = ts_spawn(argv, log);
    assert_true(store_pid > 0);
    store_port = ts_logged_port(log, 0, "query API and UI listening on ", 20000);
    if (!store_port) fail_msg("extrace store did not start (log %s)", log);
}

/* The store's workflows listed for worker url, without the "worker" field. */
static json_t *store_part(json_t *live, const char *url)
{
    json_t *part = json_array(), *w;
    size_t i;
    json_array_foreach(json_object_get(live, "workflows"), i, w) {
        if (strcmp(json_string_value(json_object_get(w, "worker")), url) != 0) continue;
        json_t *c = json_deep_copy(w);
        json_object_del(c, "worker");
        json_array_append_new(part, c);
    }
    return part;
}

/* One try: the store's view equals both workers' own lists (each non-empty). */
static int views_equal(json_t *live, json_t *const lists[2], char *why, size_t whylen)
{
    json_int_t in_flight = 0;
    size_t total = 0;
    for (int i = 0; i < 2; i++) {
        char url[64];
        snprintf(url, sizeof url, "http://127.0.0.1:%d", workers[i].admin_port);
        json_t *ws = json_array_get(json_object_get(live, "workers"), (size_t)i);
        json_t *mine = json_object_get(lists[i], "workflows");
        json_t *part = store_part(live, url);
        int same = json_equal(part, mine) && json_array_size(mine) > 0;
        size_t listed = json_array_size(part);
        json_decref(part);
        if (!json_is_true(json_object_get(ws, "ok")) || strcmp(json_string_value(json_object_get(ws, "url")), url)) {
            snprintf(why, whylen, "worker %s not ok in the store's view", url);
            return 0;
        }
        if (!same) {
            snprintf(why, whylen, "worker %s: the store lists %zu workflows, the worker %zu (or they differ)", url,
                     listed, json_array_size(mine));
            return 0;
        }
        in_flight += json_integer_value(json_object_get(json_object_get(lists[i], "worker"), "inFlight"));
        total += json_array_size(mine);
    }
    if (json_integer_value(json_object_get(live, "inFlight")) != in_flight ||
        json_array_size(json_object_get(live, "workflows")) != total) {
        snprintf(why, whylen, "inFlight %lld / %zu workflows, the workers' sum %lld / %zu",
                 (long long)json_integer_value(json_object_get(live, "inFlight")),
                 json_array_size(json_object_get(live, "workflows")), (long long)in_flight, total);
        return 0;
    }
    return 1;
}

/* Read the workers' lists, the store's, and the workers' again: when
 * neither worker changed meanwhile, the store's copy must equal them.
 * Retried until the workflows run on both workers and the copies agree. */
static void check_merged(void)
{
    char why[512] = "no try";
    for (long long end = ts_mono_ms() + WAIT_MS; ts_mono_ms() < end;) {
        json_t *before[2] = {worker_list(0), worker_list(1)};
        ts_sleep_ms(250); /* more than two of the store's polls */
        json_t *live = store_get("/api/live", NULL);
        json_t *after[2] = {worker_list(0), worker_list(1)};
        int stable = before[0] && before[1] && after[0] && after[1] &&
                     json_equal(json_object_get(before[0], "workflows"), json_object_get(after[0], "workflows")) &&
                     json_equal(json_object_get(before[1], "workflows"), json_object_get(after[1], "workflows"));
        int ok = stable && live && views_equal(live, after, why, sizeof why);
        if (!stable) snprintf(why, sizeof why, "a worker's list changed during the try");
        for (int i = 0; i < 2; i++) {
            json_decref(before[i]);
            json_decref(after[i]);
        }
        json_decref(live);
        if (ok) return;
        ts_sleep_ms(50);
    }
    fail_msg("the store's /api/live never equalled the workers' lists: %s (logs in %s)", why, dir);
}

/* A workflow of worker 0 through the store: its events come from the worker. */
static void check_detail(void)
{
    json_t *list = worker_list(0);
    json_t *w = json_array_get(json_object_get(list, "workflows"), 0);
    assert_non_null(w);
    char *key = curl_easy_escape(curl, json_string_value(json_object_get(w, "key")), 0);
    char path[512], wurl[512];
    snprintf(path, sizeof path, "/api/live/workflows/%s?source=%s", key, json_string_value(json_object_get(w, "source")));
    snprintf(wurl, sizeof wurl, "http://127.0.0.1:%d/api/workflows/%s", workers[0].admin_port, key);
    curl_free(key);
    json_decref(list);
    int found = 0;
    for (long long end = ts_mono_ms() + 5000; ts_mono_ms() < end && !found;) {
        json_t *d = store_get(path, NULL);
        json_t *mine = get_json(wurl, NULL);
        json_t *events = json_object_get(d, "events");
        if (d && mine && json_array_size(events) > 0) {
            /* The store's copy is at most one poll old: each of its events is the worker's. */
            json_t *all = json_object_get(mine, "events");
            size_t i;
            json_t *e;
            assert_true(json_array_size(events) <= json_array_size(all));
            json_array_foreach(events, i, e) assert_true(json_equal(e, json_array_get(all, i)));
            char url[64];
            snprintf(url, sizeof url, "http://127.0.0.1:%d", workers[0].admin_port);
            assert_string_equal(json_string_value(json_object_get(d, "worker")), url);
            found = 1;
        }
        json_decref(d);
        json_decref(mine);
        if (!found) ts_sleep_ms(100);
    }
    if (!found) fail_msg("the store never gave the events of %s (logs in %s)", path, dir);
    long status = 0;
    json_decref(store_get("/api/live/workflows/no-such-workflow", &status));
    assert_int_equal(status, 404);
}

/* Worker 1 killed: reported as not answering, worker 0 still listed. */
static void check_stopped_worker(void)
{
    assert_int_equal(ts_stop(workers[1].pid, SIGKILL, 5000), 128 + SIGKILL);
    workers[1].pid = 0;
    char want[128];
    snprintf(want, sizeof want, "worker http://127.0.0.1:%d: no answer from GET /api/workflows: ", workers[1].admin_port);
    char last[1024] = "";
    for (long long end = ts_mono_ms() + 5000; ts_mono_ms() < end;) {
        json_t *live = store_get("/api/live", NULL);
        json_t *b = json_array_get(json_object_get(live, "workers"), 1);
        json_t *a = json_array_get(json_object_get(live, "workers"), 0);
        const char *err = json_string_value(json_object_get(b, "error"));
        snprintf(last, sizeof last, "%s", err ? err : "(none)");
        int ok = json_is_false(json_object_get(b, "ok")) && err && strncmp(err, want, strlen(want)) == 0 &&
                 strstr(err, "Connection refused") && json_is_null(json_object_get(b, "inFlight")) &&
                 json_is_true(json_object_get(a, "ok"));
        if (ok) {
            /* What is listed is worker 0's alone. */
            char url[64];
            snprintf(url, sizeof url, "http://127.0.0.1:%d", workers[0].admin_port);
            size_t i;
            json_t *w;
            json_array_foreach(json_object_get(live, "workflows"), i, w)
                assert_string_equal(json_string_value(json_object_get(w, "worker")), url);
            json_decref(live);
            return;
        }
        json_decref(live);
        ts_sleep_ms(100);
    }
    fail_msg("the stopped worker was not reported as not answering; its error: %s", last);
}

static void test_two_workers(void **state)
{
    (void)state;
    otlp_port = ts_refused_port(); /* held: the workers export there before the store listens */
    char *extra[] = {"--interval", "1s", "--timeout", "60s", NULL};
    for (int i = 0; i < 2; i++) {
        snprintf(workers[i].log, sizeof workers[i].log, "%s/%s.log", dir, workers[i].consumer);
        tf_stream_worker_start(&workers[i], redis.url, api_port, otlp_port, STREAM, extra);
    }
    start_store();
    char count[16], glog[320];
    snprintf(count, sizeof count, "%d", NWORKFLOWS);
    snprintf(glog, sizeof glog, "%s/generate.log", dir);
    char *argv[] = {(char *)ts_bin(), "generate", "--redis", redis.url, "--stream", STREAM, "--rate", "50", "--count",
                    count, NULL};
    gen_pid = ts_spawn(argv, glog);
    assert_true(gen_pid > 0);
    assert_int_equal(ts_wait(gen_pid, 20000), 0);
    gen_pid = 0;
    check_merged();
    check_detail();
    check_stopped_worker();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_two_workers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
