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
 *   disturbed            the same with duplicate deliveries (replayed ids),
 *                        out-of-order deliveries and forged signatures: the
 *                        forged ones are refused (401) and counted, the
 *                        replayed ones answered but ignored, nothing else
 *                        changes;
 *   polling alone        the same runs announced on Redis, no webhooks: the
 *                        same checks, and the mean observation window
 *                        of the status events, compared with the webhook
 *                        runs' (printed; webhooks must be tighter). */
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
#include <unistd.h>

#include "gh_read.h"
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

static windows webhook_run(const char *const *disturb, char **metrics_out)
{
    run *r = &current;
    run_begin(r, "github-actions");
    char url[128], hook_listen[64], secret_file[1400];
    int hook_port = ts_free_port();
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
    const char *worker_extra[] = {"--webhook-listen", hook_listen, "--webhook-secret-file", secret_file,
                                  "--interval", "2s", NULL};
    run_start_worker(r, redis.url, NULL, worker_extra);
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
    hooked = webhook_run(NULL, &m);
    assert_true(hooks(m, "accepted") >= NRUNS * 3);
    assert_true(hooks(m, "bad_signature") == 0 && hooks(m, "unsigned") == 0 && hooks(m, "duplicate") == 0);
    assert_true(tf_metric(m, "extrace_webhook_observations_total") >= NRUNS * 3);
    print_message("webhooks only: %.0f deliveries accepted, %.0f polls; %zu status events, %zu exact, mean window %.1f ms\n",
                  hooks(m, "accepted"), tf_metric(m, "extrace_polls_total"), hooked.n, hooked.exact,
                  hooked.n ? hooked.sum_ns / (double)hooked.n / 1e6 : 0);
    free(m);
}

static void test_webhooks_disturbed(void **state)
{
    (void)state;
    if (!sr_builtin_find("github-actions")) skip();
    const char *disturb[] = {"--webhook-duplicates", "0.3", "--webhook-reorder", "0.3", "--webhook-bad-signatures",
                             "0.2", NULL};
    char *m;
    windows w = webhook_run(disturb, &m);
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
    print_message("disturbed: %.0f accepted, %.0f duplicate (of %llu replayed), %.0f bad signature (of %llu forged), "
                  "%llu reordered, %.0f finished; mean window %.1f ms over %zu events (%zu exact)\n",
                  hooks(m, "accepted"), hooks(m, "duplicate"), dups, hooks(m, "bad_signature"), forged, reordered,
                  hooks(m, "finished"), w.n ? w.sum_ns / (double)w.n / 1e6 : 0, w.n, w.exact);
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
        cmocka_unit_test_teardown(test_webhooks_disturbed, stop_run),
        cmocka_unit_test_teardown(test_polling_alone_is_the_same_but_looser, stop_run),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
