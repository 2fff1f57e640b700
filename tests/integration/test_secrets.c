/* No password reaches a person: credentials given to `extrace worker`,
 * `generate`, `store` and `api` — in a Redis URL's userinfo, in the
 * seed's "password=" option, in OTEL_EXPORTER_OTLP_ENDPOINT and
 * OTEL_EXPORTER_OTLP_HEADERS, by flag or environment variable, and in
 * URLs clients send — never show in their stderr, logs or /metrics;
 * messages still name the value with "***" in place of the secret. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>
#include <signal.h>
#include <time.h>

#include "fixture.h"
#include "support.h"
#include "trace_check.h"

/* Every secret of this test contains one of these. */
static const char *const secrets[] = {"hunter2", "s3cretPASS"};

static void assert_no_secret(const char *what, const char *text)
{
    for (size_t i = 0; i < sizeof secrets / sizeof *secrets; i++)
        if (text && strstr(text, secrets[i])) fail_msg("%s shows \"%s\":\n%s", what, secrets[i], text);
}

/* Run `extrace args…` with the environment variable env ("NAME=VALUE", or
 * NULL) set; it must fail with an error on stderr that contains `shown`
 * and no secret. */
static void expect_refused(const char *env, const char *shown, char *const args[])
{
    char *argv[16], *out = NULL, *err = NULL, name[64] = "";
    size_t n = 0;
    argv[n++] = (char *)ts_bin();
    for (size_t i = 0; args[i] && n < 15; i++) argv[n++] = args[i];
    argv[n] = NULL;
    if (env) {
        snprintf(name, sizeof name, "%.*s", (int)(strchr(env, '=') - env), env);
        setenv(name, strchr(env, '=') + 1, 1);
    }
    int rc = ts_run(argv, &out, &err, 10000);
    if (env) unsetenv(name);
    if (rc == 0) fail_msg("extrace %s %s accepted %s", args[0], args[1] ? args[1] : "", env ? env : "");
    assert_no_secret("stderr", err);
    assert_no_secret("stdout", out);
    if (!strstr(err, shown)) fail_msg("stderr does not name \"%s\":\n%s", shown, err);
    free(out);
    free(err);
}

/* Bad values that carry a password are refused with the password masked. */
static void test_config_errors_masked(void **state)
{
    expect_refused(NULL, "--redis=\"redis://alice:***@localhost:99999\": port \"99999\"",
                   (char *[]){"worker", "--redis=redis://alice:s3cretPASS@localhost:99999", NULL});
    expect_refused(NULL, "--redis=\"localhost:99999,password=***\"",
                   (char *[]){"worker", "--redis", "localhost:99999,password=hunter2", NULL});
    expect_refused("EXTRACE_REDIS=redis://alice:s3cretPASS@localhost:99999",
                   "EXTRACE_REDIS=\"redis://alice:***@localhost:99999\" (environment)", (char *[]){"worker", NULL});
    expect_refused("TracingSample__Redis__ConnectionString=localhost:99999,password=hunter2",
                   "TracingSample__Redis__ConnectionString=\"localhost:99999,password=***\" (environment)",
                   (char *[]){"worker", NULL});
    expect_refused(NULL, "--redis=\"redis://alice:***@localhost:99999\"",
                   (char *[]){"generate", "--redis=redis://alice:s3cretPASS@localhost:99999", NULL});
    expect_refused("EXTRACE_REDIS=localhost:1,password=hunter2,bogus=1", "password=***,bogus=1",
                   (char *[]){"generate", NULL});
    expect_refused("OTEL_EXPORTER_OTLP_ENDPOINT=ftp://bob:hunter2@127.0.0.1:1", "\"ftp://bob:***@127.0.0.1:1\"",
                   (char *[]){"worker", NULL});
    expect_refused("OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20hunter2,x-api-key=hunter2,bad",
                   "OTEL_EXPORTER_OTLP_HEADERS", (char *[]){"worker", NULL});
    expect_refused(NULL, "--http-listen=\"http://bob:***@x:1\"",
                   (char *[]){"store", "--http-listen", "http://bob:hunter2@x:1", NULL});
    expect_refused("EXTRACE_LISTEN=http://bob:hunter2@x:1", "EXTRACE_LISTEN=\"http://bob:***@x:1\"",
                   (char *[]){"api", NULL});
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A worker and a generator on a Redis that wants a password, exporting to
 * an OTLP endpoint with credentials in its URL and headers, logging at
 * trace level; the API and the store get tokens in request URLs. */
static void test_running_processes_masked(void **state)
{
    ts_redis redis;
    assert_int_equal(ts_redis_start(&redis), 0);
    freeReplyObject(tf_redis(redis.port, "CONFIG SET requirepass hunter2"));
    const char *dir = ts_tmpdir();
    char url[128], seed_url[128], api[96], log_api[300], log_store[300], log_gen[300], endpoint[128];
    snprintf(url, sizeof url, "redis://default:hunter2@127.0.0.1:%d", redis.port);
    snprintf(seed_url, sizeof seed_url, "127.0.0.1:%d,password=hunter2", redis.port);
    snprintf(log_api, sizeof log_api, "%s/api.log", dir);
    snprintf(log_store, sizeof log_store, "%s/store.log", dir);
    snprintf(log_gen, sizeof log_gen, "%s/generate.log", dir);
    int api_port;
    pid_t api_pid = ts_api_start((char *[]){"--time-scale", "600", "--log-level", "trace", NULL}, log_api, &api_port);
    assert_true(api_pid > 0);
    snprintf(api, sizeof api, "http://127.0.0.1:%d", api_port);
    char data_dir[300];
    snprintf(data_dir, sizeof data_dir, "%s/data", dir);
    ts_store_ports ports;
    pid_t store_pid = ts_store_start((char *[]){"--data-dir", data_dir, "--log-level", "trace", NULL}, log_store, &ports);
    assert_true(store_pid > 0);
    int otlp_port = ports.otlp_http;

    tf_worker w = {"secrets"};
    snprintf(w.log, sizeof w.log, "%s/worker.log", dir);
    snprintf(endpoint, sizeof endpoint, "http://bob:hunter2@127.0.0.1:%d", otlp_port);
    setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", 1);
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint, 1);
    setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer%20hunter2tok,x-api-key=hunter2key", 1);
    setenv("OTEL_BSP_SCHEDULE_DELAY", "100", 1);
    setenv("EXTRACE_REDIS", url, 1);
    tf_worker_start(&w, (char *[]){"--api-url", api, "--initial-delay", "20ms", "--interval", "50ms", "--log-level",
                                   "trace", NULL});
    unsetenv("OTEL_EXPORTER_OTLP_PROTOCOL");
    unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
    unsetenv("OTEL_EXPORTER_OTLP_HEADERS");
    unsetenv("OTEL_BSP_SCHEDULE_DELAY");
    unsetenv("EXTRACE_REDIS");

    char *gen_out = NULL, *gen_err = NULL;
    assert_int_equal(ts_run((char *[]){(char *)ts_bin(), "generate", "--redis", seed_url, "--count", "3",
                                       "--event-wait", "0s", "--batch-size", "3", "--log-level", "trace", NULL},
                            &gen_out, &gen_err, 20000),
                     0);
    assert_no_secret("generate's stdout", gen_out);
    assert_no_secret("generate's stderr", gen_err);
    double finished = 0;
    for (int i = 0; i < 100 && finished < 3; i++) {
        sleep_ms(100);
        finished = tf_worker_metric(&w, "extrace_spans_exported_total");
    }
    assert_true(finished >= 3); /* the export went through the credentials */

    char req[256], *body = NULL;
    snprintf(req, sizeof req, "%s/workflows/wf-secret?access_token=hunter2tok", api);
    tc_http_get(req, &body);
    free(body);
    snprintf(req, sizeof req, "http://127.0.0.1:%d/api/search?tags=token%%3Dhunter2&password=hunter2", ports.query);
    tc_http_get(req, &body);
    free(body);
    snprintf(req, sizeof req, "http://127.0.0.1:%d/metrics", w.admin_port);
    assert_int_equal(tc_http_get(req, &body), 200);
    assert_no_secret("/metrics", body);
    free(body);

    ts_stop(w.pid, SIGTERM, 5000);
    ts_stop(api_pid, SIGTERM, 5000);
    ts_stop(store_pid, SIGTERM, 5000);
    ts_redis_stop(&redis);
    const char *logs[] = {w.log, log_api, log_store};
    for (size_t i = 0; i < 3; i++) {
        char *text = ts_read_file(logs[i], NULL);
        assert_non_null(text);
        assert_no_secret(logs[i], text);
        if (i == 0 && !strstr(text, "ready for http://bob:***@127.0.0.1"))
            fail_msg("the worker's log does not name the masked endpoint:\n%s", text);
        free(text);
    }
    free(gen_out);
    free(gen_err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_errors_masked),
        cmocka_unit_test(test_running_processes_masked),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ts_cleanup();
    return rc;
}
