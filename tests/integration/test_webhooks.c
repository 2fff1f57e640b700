/* test_webhooks.c — GitHub Actions webhooks end to end, real processes:
 * `extrace api --source github-actions` starting runs of its own and
 * sending signed workflow_run / workflow_job deliveries, `extrace worker
 * --webhook-listen` with the built-in profile, a real redis-server (on
 * which nothing is ever published) and the Node OTLP receiver.
 *
 *   webhooks only        no event at all: every run is learnt of by webhook,
 *                        and yields exactly one trace equal to the
 *                        simulator's final answers (span tree, times,
 *                        statuses, messages, last status words);
 *   without Redis        the same with --redis pointing where nothing
 *                        listens: webhooks need no Redis;
 *   disturbed            the same with discovery too (each run learnt of by
 *                        delivery and by listing), duplicate deliveries
 *                        (replayed ids), out-of-order deliveries and forged
 *                        signatures: the
 *                        forged ones are refused (401) and counted, the
 *                        replayed ones answered but ignored, nothing else
 *                        changes;
 *   polling alone        the same runs announced on Redis, no webhooks: the
 *                        same checks, and the mean observation window
 *                        of the status events, compared with the webhook
 *                        runs' (printed; webhooks must be tighter);
 *   stream mode          --stream with webhooks and discovery together,
 *                        disturbed deliveries, and the worker killed
 *                        (SIGKILL) mid-run and replaced by another on the
 *                        same port: every run is added to the stream once
 *                        (webhook or listing, whichever came first), a
 *                        delivery id taken before the kill is recognised by
 *                        Redis after it, and every run yields one complete
 *                        trace at the receiver. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <signal.h>
#include <jansson.h>
#include <time.h>
#include <unistd.h>

#include "gh_read.h"
#include "hook_client.h"
#include "source/builtin.h"
#include "source_run.h"
#include "tree_check.h"

#define SECRET "webhook-test-secret"
#define NRUNS 5

static ts_redis redis;
static run current;

static int stop_run(void **state)
{
    (void)state;
    run_kill(&current);
    return 0;
}

/* Status events of every span: mean window (observed_before - observed_after), how many, how many exact. */
typedef struct windows {
    double sum_ns;
    size_t n, exact;
} windows;

static int64_t int_attr(json_t *ev, const char *key)
{
    json_t *v = json_object_get(json_object_get(ev, "attributes"), key);
    const char *d = json_string_value(json_object_get(v, "int"));
    return d ? strtoll(d, NULL, 10) : INT64_MIN;
}

static windows measure(const char *path)
{
    tc_spans s;
    windows w = {0};
    tc_load(path, &s);
    for (size_t i = 0; i < s.n; i++) {
        size_t k;
        json_t *ev;
        json_array_foreach(json_object_get(s.v[i], "events"), k, ev) {
            int64_t before = int_attr(ev, "extrace.observed_before_unix_nano");
            int64_t after = int_attr(ev, "extrace.observed_after_unix_nano");
            if (before == INT64_MIN || after == INT64_MIN) continue;
            w.sum_ns += (double)(before - after);
            w.n++;
            w.exact += before == after;
        }
    }
    tc_free(&s);
    return w;
}

/* The keys of the runs the simulator started (GET its runs listing). */
static int list_runs(const run *r, char keys[][64], int max)
{
    json_t *list = run_get_json(r, "/repos/extrace-sim/demo/actions/runs?per_page=100", NULL);
    size_t i;
    json_t *wr;
    int n = 0;
    json_array_foreach(json_object_get(list, "workflow_runs"), i, wr) {
        if (n < max) snprintf(keys[n++], 64, "extrace-sim/demo/%lld", (long long)json_integer_value(json_object_get(wr, "id")));
    }
    json_decref(list);
    return n;
}

static void check_all(const run *r, char keys[][64], int n)
{
    tc_spans spans;
    tc_load(r->out, &spans);
    for (int i = 0; i < n; i++) {
        tk_tree t;
        gh_read_run(r, keys[i], &t, NULL);
        assert_int_equal(tk_check(&spans, &t, "dev1", r->source), 1); /* one copy of every span */
        tk_free(&t);
    }
    assert_int_equal(tk_count_roots(r->out), n); /* one trace each, nothing twice */
    tc_free(&spans);
}

/* redis_url: the worker's --redis; NULL for one where nothing listens (no Redis at all). */
static windows webhook_run(const char *redis_url, const char *const *disturb, const char *const *worker_more,
                           char **metrics_out)
{
    run *r = &current;
    run_begin(r, "github-actions");
    char dead[64];
    if (!redis_url) { /* nothing listens there: the worker never subscribes, so it is never ready */
        snprintf(dead, sizeof dead, "redis://127.0.0.1:%d", ts_refused_port());
        redis_url = dead;
        r->live_only = 1;
    }
    char url[128], hook_listen[64], secret_file[1400];
    int hook_port = ts_refused_port(); /* held for the worker, which binds it after the API sends there */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hooks/github-actions", hook_port);
    snprintf(hook_listen, sizeof hook_listen, "127.0.0.1:%d", hook_port);
    snprintf(secret_file, sizeof secret_file, "%s/secret", r->dir);
    FILE *f = fopen(secret_file, "w");
    assert_non_null(f);
    fputs(SECRET "\n", f);
    fclose(f);
    const char *api_extra[20] = {"--time-scale", "120", "--failure-rate", "0.3", "--webhook-url", url,
                                 "--webhook-secret", SECRET, "--webhook-runs", "5", "--webhook-every", "300ms"};
    int n = 12;
    for (; disturb && *disturb && n < 19; disturb++) api_extra[n++] = *disturb;
    api_extra[n] = NULL;
    run_start_api(r, api_extra);
    setenv("GITHUB_TOKEN", "test-token", 1);
    /* polling every 2 s: the safety net, not the eye */
    const char *worker_extra[12] = {"--webhook-listen", hook_listen, "--webhook-secret-file", secret_file,
                                    "--interval", "2s", NULL};
    for (int k = 6; worker_more && *worker_more && k < 11; worker_more++) worker_extra[k++] = *worker_more;
    run_start_worker(r, redis_url, NULL, worker_extra);
    char *metrics = run_finish(r, NRUNS);
    char keys[NRUNS + 2][64];
    int got = list_runs(r, keys, NRUNS + 2);
    assert_int_equal(got, NRUNS);
    check_all(r, keys, got);
    assert_true(tf_metric(metrics, "extrace_events_received_total") == 0); /* no event at all */
    assert_true(tf_metric(metrics, "extrace_workflows_started_total") == NRUNS);
    *metrics_out = metrics;
    return measure(r->out);
}

static double hooks(const char *metrics, const char *result)
{
    char want[160];
    snprintf(want, sizeof want, "extrace_webhooks_total{source=\"github-actions\",result=\"%s\"} ", result);
    const char *p = strstr(metrics, want);
    return p ? strtod(p + strlen(want), NULL) : -1;
}

static windows hooked, polled;

static void test_webhooks_only(void **state)
{
    (void)state;
    if (!sr_builtin_find("github-actions")) skip();
    char *m;
    hooked = webhook_run(redis.url, NULL, NULL, &m);
    assert_true(hooks(m, "accepted") >= NRUNS * 3);
    assert_true(hooks(m, "bad_signature") == 0 && hooks(m, "unsigned") == 0 && hooks(m, "duplicate") == 0);
    assert_true(tf_metric(m, "extrace_webhook_observations_total") >= NRUNS * 3);
    print_message("webhooks only: %.0f deliveries accepted, %.0f polls; %zu status events, %zu exact, mean window %.1f ms\n",
                  hooks(m, "accepted"), tf_metric(m, "extrace_polls_total"), hooked.n, hooked.exact,
                  hooked.n ? hooked.sum_ns / (double)hooked.n / 1e6 : 0);
    free(m);
}

static void test_webhooks_without_redis(void **state)
{
    (void)state;
    if (!sr_builtin_find("github-actions")) skip();
    char *m;
    windows w = webhook_run(NULL, NULL, NULL, &m);
    assert_true(hooks(m, "accepted") >= NRUNS * 3);
    assert_true(tf_metric(m, "extrace_redis_subscriptions_total") == 0); /* never connected */
    print_message("webhooks without Redis: %.0f deliveries accepted; %zu status events, %zu exact, mean window %.1f ms\n",
                  hooks(m, "accepted"), w.n, w.exact, w.n ? w.sum_ns / (double)w.n / 1e6 : 0);
    free(m);
}

static void test_webhooks_disturbed(void **state)
{
    (void)state;
    if (!sr_builtin_find("github-actions")) skip();
    const char *disturb[] = {"--webhook-duplicates", "0.3", "--webhook-reorder", "0.3", "--webhook-bad-signatures",
                             "0.2", NULL};
    /* discovery too: a run is learnt of twice, by delivery and by listing, and traced once */
    const char *discover[] = {"--discover", "300ms", "--discover-scope", "extrace-sim/demo", NULL};
    char *m;
    windows w = webhook_run(redis.url, disturb, discover, &m);
    /* forged copies refused and counted, replayed delivery ids answered and ignored */
    assert_true(hooks(m, "bad_signature") > 0);
    assert_true(hooks(m, "duplicate") > 0);
    char *log = ts_read_file(current.worker.log, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "webhook rejected (bad_signature)"));
    assert_null(strstr(log, SECRET)); /* the secret is never logged */
    free(log);
    assert_int_equal(ts_stop(current.api, SIGTERM, 5000), 0); /* it logs what it injected as it stops */
    current.api = 0;
    char *api_log = ts_read_file(current.api_log, NULL);
    assert_non_null(api_log);
    const char *line = strstr(api_log, "webhooks: ");
    assert_non_null(line);
    unsigned long long forged = 0, dups = 0, reordered = 0;
    const char *inj = strstr(line, "injected ");
    assert_non_null(inj);
    assert_int_equal(sscanf(inj, "injected %llu duplicates, %llu reordered, %llu forged", &dups, &reordered, &forged), 3);
    free(api_log);
    assert_true((double)forged == hooks(m, "bad_signature"));
    assert_true(reordered > 0);
    assert_true(tf_metric(m, "extrace_discovery_polls_total") > 0);
    print_message("disturbed, with discovery: %.0f accepted, %.0f duplicate (of %llu replayed), %.0f bad signature "
                  "(of %llu forged), %llu reordered, %.0f finished; listings found %.0f new, %.0f known; mean window "
                  "%.1f ms over %zu events (%zu exact)\n",
                  hooks(m, "accepted"), hooks(m, "duplicate"), dups, hooks(m, "bad_signature"), forged, reordered,
                  hooks(m, "finished"), tf_metric(m, "extrace_discovery_workflows_total"),
                  tf_metric(m, "extrace_discovery_known_total"), w.n ? w.sum_ns / (double)w.n / 1e6 : 0, w.n, w.exact);
    free(m);
}

static void test_polling_alone_is_the_same_but_looser(void **state)
{
    (void)state;
    if (!sr_builtin_find("github-actions")) skip();
    run *r = &current;
    run_begin(r, "github-actions");
    const char *api_extra[] = {"--time-scale", "120", "--failure-rate", "0.3", NULL};
    run_start_api(r, api_extra);
    setenv("GITHUB_TOKEN", "test-token", 1);
    const char *worker_extra[] = {"--interval", "2s", NULL};
    run_start_worker(r, redis.url, NULL, worker_extra);
    char keys[NRUNS][64];
    const char *pp[NRUNS];
    for (int i = 0; i < NRUNS; i++) {
        snprintf(keys[i], 64, "extrace-sim/demo/%d", 7000001 + i);
        pp[i] = keys[i];
    }
    run_announce(r, redis.port, pp, NRUNS);
    free(run_finish(r, NRUNS));
    check_all(r, keys, NRUNS);
    polled = measure(r->out);
    double mp = polled.n ? polled.sum_ns / (double)polled.n / 1e6 : 0;
    double mh = hooked.n ? hooked.sum_ns / (double)hooked.n / 1e6 : 0;
    print_message("polling alone (every 2 s): %zu status events, %zu exact, mean window %.1f ms; with webhooks "
                  "%.1f ms (%.1f%% of it), %zu of %zu exact\n",
                  polled.n, polled.exact, mp, mh, mp > 0 ? 100 * mh / mp : 0, hooked.exact, hooked.n);
    if (hooked.n) assert_true(mh < mp); /* webhooks tighten the windows */
}

static long long redis_count(const char *pattern)
{
    long long n = 0;
    redisReply *rep = tf_redis(redis.port, "KEYS %s", pattern);
    if (rep && rep->type == REDIS_REPLY_ARRAY) n = (long long)rep->elements;
    freeReplyObject(rep);
    return n;
}

#define NSTREAM 8

static void start_stream_worker(run *r, tf_worker *w, const char *name, int http, int hook_port, const char *secret)
{
    char api[64], endpoint[64], listen[64];
    snprintf(api, sizeof api, "http://127.0.0.1:%d", r->api_port);
    snprintf(listen, sizeof listen, "127.0.0.1:%d", hook_port);
    snprintf(w->log, sizeof w->log, "%.200s/%.64s.log", r->dir, name);
    w->consumer = name;
    char *args[] = {"--redis", redis.url, "--source", "github-actions", "--api-url", api, "--stream", "hooks",
                    "--consumer", (char *)name, "--claim-idle", "1s", "--initial-delay", "20ms", "--interval", "1s",
                    "--timeout", "60s", "--webhook-listen", listen, "--webhook-secret-file", (char *)secret,
                    "--discover", "500ms", "--discover-scope", "extrace-sim/demo", "--log-level", "debug", NULL};
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", http);
    setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", 1);
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, 1);
    setenv("OTEL_BSP_SCHEDULE_DELAY", "100", 1);
    setenv("GITHUB_TOKEN", "test-token", 1);
    tf_worker_start(w, args);
}

/* One signed workflow_run delivery of run `id` (made at the simulator) with delivery id `delivery`. */
static long post_run(const run *r, int port, long id, const char *delivery)
{
    char *body = hc_run_payload(r, id);
    long status = hc_post(port, "github-actions", SECRET, "workflow_run", delivery, body, NULL);
    free(body);
    return status;
}

static void test_stream_mode_restart(void **state)
{
    (void)state;
    if (!sr_builtin_find("github-actions")) skip();
    run *r = &current;
    run_begin(r, "github-actions");
    redisReply *flush = tf_redis(redis.port, "FLUSHALL");
    freeReplyObject(flush);
    char url[128], secret_file[1400], log[320];
    /* the hook port is held for the workers (one after the other), the API sends there from the start */
    int hook_port = ts_refused_port(), grpc = 0, http = 0;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hooks/github-actions", hook_port);
    snprintf(secret_file, sizeof secret_file, "%s/secret", r->dir);
    FILE *f = fopen(secret_file, "w");
    assert_non_null(f);
    fputs(SECRET "\n", f);
    fclose(f);
    snprintf(log, sizeof log, "%.250s/receiver.log", r->dir);
    r->receiver = tf_receiver_start(&grpc, &http, r->out, log);
    char runs[16];
    snprintf(runs, sizeof runs, "%d", NSTREAM - 1);
    const char *api_extra[] = {"--time-scale", "120", "--failure-rate", "0.3", "--webhook-url", url,
                               "--webhook-secret", SECRET, "--webhook-runs", runs, "--webhook-every", "400ms",
                               "--webhook-duplicates", "0.3", "--webhook-reorder", "0.3",
                               "--webhook-bad-signatures", "0.2", NULL};
    run_start_api(r, api_extra);
    tf_worker a = {0};
    start_stream_worker(r, &a, "first", http, hook_port, secret_file);
    r->worker = a;
    /* one delivery of our own, taken by the first worker, replayed to the second */
    assert_int_equal(post_run(r, hook_port, 9000001, "replayed-across-restart"), 202);
    double added = 0;
    for (int waited = 0; waited < 30000 && added < 3; waited += 50) {
        double by_hook = tf_worker_metric(&a, "extrace_webhook_workflows_added_total");
        double listed = tf_worker_metric(&a, "extrace_discovery_workflows_total");
        added = (by_hook > 0 ? by_hook : 0) + (listed > 0 ? listed : 0);
        ts_sleep_ms(50);
    }
    assert_true(added >= 3);
    char *ma = NULL, murl[128];
    snprintf(murl, sizeof murl, "http://127.0.0.1:%d/metrics", a.admin_port);
    assert_int_equal(tc_http_get(murl, &ma), 200);
    ts_stop(a.pid, SIGKILL, 5000); /* mid-run: runs still starting, deliveries on their way */
    r->worker.pid = 0;
    tf_worker b = {0};
    start_stream_worker(r, &b, "second", http, hook_port, secret_file);
    r->worker = b;
    assert_int_equal(post_run(r, hook_port, 9000001, "replayed-across-restart"), 202);
    int got = 0;
    for (int waited = 0; waited < 60000 && (got = tc_distinct_roots(r->out)) < NSTREAM; waited += 200) ts_sleep_ms(200);
    ts_sleep_ms(1500); /* anything more would arrive now */
    got = tc_distinct_roots(r->out);
    redisReply *len = tf_redis(redis.port, "XLEN hooks");
    long long entries = len->integer;
    freeReplyObject(len);
    char *mb = NULL;
    snprintf(murl, sizeof murl, "http://127.0.0.1:%d/metrics", b.admin_port);
    assert_int_equal(tc_http_get(murl, &mb), 200);
    assert_int_equal(ts_stop(b.pid, SIGTERM, 20000), 0);
    r->worker.pid = 0;
    long long started = redis_count("extrace:started:github-actions:*");
    long long deliveries = redis_count("extrace:webhook:github-actions:delivery:*");
    double replays = tf_metric(mb, "extrace_webhook_replays_total");
    double bad = hooks(ma, "bad_signature") + hooks(mb, "bad_signature");
    double by_hooks = tf_metric(ma, "extrace_webhook_workflows_added_total") +
                    tf_metric(mb, "extrace_webhook_workflows_added_total");
    double listed = tf_metric(ma, "extrace_discovery_workflows_total") + tf_metric(mb, "extrace_discovery_workflows_total");
    windows w = measure(r->out);
    print_message("stream mode, killed mid-run: %d traces, %lld stream entries (%.0f added by webhooks, %.0f by "
                  "listings), %lld started markers, %lld delivery ids in Redis, %.0f replays recognised by Redis, "
                  "%.0f bad signatures; mean window %.1f ms over %zu events (%zu exact)\n",
                  got, entries, by_hooks, listed, started, deliveries, replays, bad, w.n ? w.sum_ns / (double)w.n / 1e6 : 0,
                  w.n, w.exact);
    assert_int_equal(got, NSTREAM);          /* none missed, none twice */
    assert_int_equal(entries, NSTREAM);      /* each run added to the stream once, by webhook or listing */
    assert_int_equal(started, NSTREAM);
    assert_true(deliveries > NSTREAM);
    assert_true(replays >= 1);               /* at least ours, taken before the kill */
    assert_true(bad > 0);
    free(ma);
    free(mb);
    tc_spans spans;
    tc_load(r->out, &spans);
    char keys[NSTREAM + 2][64];
    int n = list_runs(r, keys, NSTREAM + 2);
    assert_int_equal(n, NSTREAM);
    for (int i = 0; i < n; i++) {
        tk_tree t;
        gh_read_run(r, keys[i], &t, NULL);
        assert_true(tk_check(&spans, &t, "dev1", "stream") >= 1); /* complete; a copy re-exported is identical */
        tk_free(&t);
    }
    tc_free(&spans);
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return ts_redis_start(&redis);
}

static int teardown(void **state)
{
    (void)state;
    ts_redis_stop(&redis);
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_webhooks_only, stop_run),
        cmocka_unit_test_teardown(test_webhooks_without_redis, stop_run),
        cmocka_unit_test_teardown(test_webhooks_disturbed, stop_run),
        cmocka_unit_test_teardown(test_polling_alone_is_the_same_but_looser, stop_run),
        cmocka_unit_test_teardown(test_stream_mode_restart, stop_run),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
