/* OTEL_* exporter configuration: defaults, precedence, endpoints, headers,
 * booleans, numbers, exporter lists, batch settings, error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "otel/otel_env.h"
#include "otel/otlp_proto.h"

#define GRPC_PATH "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

static exo_export_config cfg;
static char err[512], warn[512];

static int teardown(void **state)
{
    (void)state;
    exo_export_config_free(&cfg);
    return 0;
}

/* Parse envp (a NULL-terminated list) and expect success. */
static void ok(char **envp)
{
    exo_export_config_free(&cfg);
    int rc = exo_export_config_from_env(envp, &cfg, err, sizeof err, warn, sizeof warn);
    if (rc != 0) fail_msg("rc %d: %s", rc, err);
    assert_string_equal(err, "");
}

static void bad(char **envp, const char *want)
{
    exo_export_config_free(&cfg);
    assert_int_equal(exo_export_config_from_env(envp, &cfg, err, sizeof err, warn, sizeof warn), -1);
    assert_string_equal(err, want);
}

#define ENV(...) ((char *[]){__VA_ARGS__, NULL})

static void test_defaults(void **state)
{
    (void)state;
    ok(ENV("PATH=/bin"));
    assert_int_equal(cfg.nexporters, 1);
    assert_int_equal(cfg.exporters[0], EXO_EXPORTER_OTLP);
    assert_false(cfg.sdk_disabled);
    assert_int_equal(cfg.protocol, EXO_PROTOCOL_HTTP_PROTOBUF);
    assert_string_equal(cfg.endpoint, "http://localhost:4318/v1/traces");
    assert_string_equal(cfg.url, "http://localhost:4318/v1/traces");
    assert_string_equal(cfg.endpoint_from, "default");
    assert_false(cfg.tls);
    assert_int_equal(cfg.headers.len, 0);
    assert_true(cfg.timeout_ms == 10000);
    assert_int_equal(cfg.compression, EXO_COMPRESSION_NONE);
    assert_false(cfg.insecure);
    assert_null(cfg.certificate);
    assert_true(cfg.bsp_schedule_delay_ms == 5000);
    assert_true(cfg.bsp_export_timeout_ms == 30000);
    assert_true(cfg.bsp_max_queue_size == 2048);
    assert_true(cfg.bsp_max_export_batch_size == 512);
    assert_string_equal(warn, "");

    ok(ENV("OTEL_EXPORTER_OTLP_PROTOCOL=grpc"));
    assert_string_equal(cfg.endpoint, "http://localhost:4317");
    assert_string_equal(cfg.url, "http://localhost:4317" GRPC_PATH);
    assert_string_equal(exo_protocol_name(cfg.protocol), "grpc");
}

static void test_seed_configuration(void **state)
{
    (void)state;
    /* What the seed's compose file sets. */
    ok(ENV("OTEL_TRACES_EXPORTER=console,otlp", "OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
           "OTEL_EXPORTER_OTLP_ENDPOINT=http://tempo:4317"));
    assert_int_equal(cfg.nexporters, 2);
    assert_int_equal(cfg.exporters[0], EXO_EXPORTER_CONSOLE);
    assert_int_equal(cfg.exporters[1], EXO_EXPORTER_OTLP);
    assert_string_equal(exo_exporter_name(cfg.exporters[0]), "console");
    assert_true(exo_export_config_has(&cfg, EXO_EXPORTER_OTLP));
    assert_string_equal(cfg.endpoint, "http://tempo:4317"); /* gRPC: no /v1/traces */
    assert_string_equal(cfg.url, "http://tempo:4317" GRPC_PATH);
    assert_string_equal(cfg.endpoint_from, "OTEL_EXPORTER_OTLP_ENDPOINT");
}

static void test_protocol_precedence(void **state)
{
    (void)state;
    ok(ENV("OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json"));
    assert_int_equal(cfg.protocol, EXO_PROTOCOL_HTTP_JSON);
    ok(ENV("OTEL_EXPORTER_OTLP_PROTOCOL=http/json", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="));
    assert_int_equal(cfg.protocol, EXO_PROTOCOL_HTTP_JSON); /* empty = unset */
    bad(ENV("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http"),
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=\"http\": unknown protocol (expected grpc, http/protobuf or http/json)");
}

static void test_http_endpoints(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318", "http://collector:4318/v1/traces"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318/", "http://collector:4318/v1/traces"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT=https://otlp.example.com/base", "https://otlp.example.com/base/v1/traces"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318/base/?tenant=a", "http://c:4318/base/v1/traces?tenant=a"},
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://c:4318/custom/path", "http://c:4318/custom/path"},
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=HTTPS://c", "HTTPS://c"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ok(ENV((char *)cases[i][0]));
        assert_string_equal(cfg.endpoint, cases[i][1]);
        assert_string_equal(cfg.url, cases[i][1]);
        assert_int_equal(cfg.tls, strncasecmp(cases[i][1], "https", 5) == 0);
    }
    /* The signal-specific variable wins, and is used as is. */
    ok(ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http://generic:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://t:1/x"));
    assert_string_equal(cfg.endpoint, "http://t:1/x");
    assert_string_equal(cfg.endpoint_from, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    ok(ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http://generic:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="));
    assert_string_equal(cfg.endpoint, "http://generic:4318/v1/traces");

    bad(ENV("OTEL_EXPORTER_OTLP_ENDPOINT=ftp://x"),
        "OTEL_EXPORTER_OTLP_ENDPOINT=\"ftp://x\": unsupported URL scheme (expected http or https)");
    bad(ENV("OTEL_EXPORTER_OTLP_ENDPOINT=localhost:4318"),
        "OTEL_EXPORTER_OTLP_ENDPOINT=\"localhost:4318\": not a URL (expected http://host:port or https://host:port)");
    bad(ENV("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http:///v1/traces"),
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=\"http:///v1/traces\": the URL has no host");
    bad(ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http://a b"),
        "OTEL_EXPORTER_OTLP_ENDPOINT=\"http://a b\": the URL contains spaces or control characters");
    bad(ENV("OTEL_EXPORTER_OTLP_ENDPOINT=http://a/#x"), "OTEL_EXPORTER_OTLP_ENDPOINT=\"http://a/#x\": the URL has a fragment ('#')");
}

static void test_grpc_endpoints(void **state)
{
    (void)state;
    ok(ENV("OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_ENDPOINT=https://tempo.example:443/ignored"));
    assert_string_equal(cfg.endpoint, "https://tempo.example:443/ignored");
    assert_string_equal(cfg.url, "https://tempo.example:443" GRPC_PATH);
    assert_true(cfg.tls);
    /* Without a scheme, INSECURE decides (false: TLS). */
    ok(ENV("OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_ENDPOINT=collector:4317"));
    assert_string_equal(cfg.endpoint, "https://collector:4317");
    assert_true(cfg.tls);
    ok(ENV("OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "OTEL_EXPORTER_OTLP_ENDPOINT=collector:4317",
           "OTEL_EXPORTER_OTLP_TRACES_INSECURE=TRUE"));
    assert_string_equal(cfg.url, "http://collector:4317" GRPC_PATH);
    assert_true(cfg.insecure);
    assert_false(cfg.tls);
}

static void test_headers(void **state)
{
    (void)state;
    ok(ENV("OTEL_EXPORTER_OTLP_HEADERS=api-key=s3cr%3Dt, X-Scope-OrgID = tenant%201 ,,"));
    assert_int_equal(cfg.headers.len, 2);
    assert_string_equal(cfg.headers.items[0].key, "api-key");
    assert_string_equal(cfg.headers.items[0].value, "s3cr=t");
    assert_string_equal(cfg.headers.items[1].key, "X-Scope-OrgID");
    assert_string_equal(cfg.headers.items[1].value, "tenant 1");
    /* The signal-specific list replaces the generic one. */
    ok(ENV("OTEL_EXPORTER_OTLP_HEADERS=a=1,b=2", "OTEL_EXPORTER_OTLP_TRACES_HEADERS=c=3"));
    assert_int_equal(cfg.headers.len, 1);
    assert_string_equal(cfg.headers.items[0].key, "c");
    /* Errors never quote header values. */
    bad(ENV("OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%zzsecret"),
        "OTEL_EXPORTER_OTLP_HEADERS: member 1 (key \"authorization\"): invalid percent-encoding \"%zz\"");
    bad(ENV("OTEL_EXPORTER_OTLP_HEADERS=ok=1,bad name=secret"),
        "OTEL_EXPORTER_OTLP_HEADERS: header 2: \"bad name\" is not a valid header name");
    bad(ENV("OTEL_EXPORTER_OTLP_TRACES_HEADERS=x=a%0D%0AInjected: 1"),
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS: header 1 (\"x\"): the value contains a line break");
    bad(ENV("OTEL_EXPORTER_OTLP_HEADERS=justakey"), "OTEL_EXPORTER_OTLP_HEADERS: member 1 (key \"justakey\") has no '='");
}

static void test_numbers_booleans_compression(void **state)
{
    (void)state;
    ok(ENV("OTEL_EXPORTER_OTLP_TIMEOUT=2500", "OTEL_EXPORTER_OTLP_COMPRESSION=gzip",
           "OTEL_EXPORTER_OTLP_CERTIFICATE=/etc/ca.pem", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY=/k.pem",
           "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE=/c.pem"));
    assert_true(cfg.timeout_ms == 2500);
    assert_int_equal(cfg.compression, EXO_COMPRESSION_GZIP);
    assert_string_equal(cfg.certificate, "/etc/ca.pem");
    assert_string_equal(cfg.client_key, "/k.pem");
    assert_string_equal(cfg.client_certificate, "/c.pem");
    ok(ENV("OTEL_EXPORTER_OTLP_TIMEOUT=2500", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=700",
           "OTEL_EXPORTER_OTLP_COMPRESSION=gzip", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION=none"));
    assert_true(cfg.timeout_ms == 700);
    assert_int_equal(cfg.compression, EXO_COMPRESSION_NONE);

    bad(ENV("OTEL_EXPORTER_OTLP_TIMEOUT=ten"), "OTEL_EXPORTER_OTLP_TIMEOUT=\"ten\": not an integer number of milliseconds");
    bad(ENV("OTEL_EXPORTER_OTLP_TIMEOUT=-5"), "OTEL_EXPORTER_OTLP_TIMEOUT=\"-5\": not an integer number of milliseconds");
    bad(ENV("OTEL_EXPORTER_OTLP_TIMEOUT=10s"), "OTEL_EXPORTER_OTLP_TIMEOUT=\"10s\": not an integer number of milliseconds");
    bad(ENV("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=0"), "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=\"0\": must be at least 1");
    bad(ENV("OTEL_EXPORTER_OTLP_TIMEOUT=99999999999999999999"),
        "OTEL_EXPORTER_OTLP_TIMEOUT=\"99999999999999999999\": must be at most 3600000");
    bad(ENV("OTEL_EXPORTER_OTLP_COMPRESSION=zstd"),
        "OTEL_EXPORTER_OTLP_COMPRESSION=\"zstd\": unknown compression (expected gzip or none)");

    /* Booleans: only "true" is true; other words warn. */
    ok(ENV("OTEL_EXPORTER_OTLP_INSECURE=false"));
    assert_false(cfg.insecure);
    assert_string_equal(warn, "");
    ok(ENV("OTEL_EXPORTER_OTLP_INSECURE=yes", "OTEL_SDK_DISABLED=1"));
    assert_false(cfg.insecure);
    assert_false(cfg.sdk_disabled);
    assert_string_equal(warn, "OTEL_SDK_DISABLED=\"1\": not \"true\" or \"false\", taken as false; "
                              "OTEL_EXPORTER_OTLP_INSECURE=\"yes\": not \"true\" or \"false\", taken as false");
}

static void test_exporters(void **state)
{
    (void)state;
    ok(ENV("OTEL_TRACES_EXPORTER=none"));
    assert_int_equal(cfg.nexporters, 0);
    ok(ENV("OTEL_TRACES_EXPORTER= otlp , OTLP,console"));
    assert_int_equal(cfg.nexporters, 2);
    assert_int_equal(cfg.exporters[0], EXO_EXPORTER_OTLP);
    assert_int_equal(cfg.exporters[1], EXO_EXPORTER_CONSOLE);
    /* Console alone: malformed OTLP settings do not matter. */
    ok(ENV("OTEL_TRACES_EXPORTER=console", "OTEL_EXPORTER_OTLP_TIMEOUT=soon"));
    assert_int_equal(cfg.nexporters, 1);
    assert_false(exo_export_config_has(&cfg, EXO_EXPORTER_OTLP));
    /* A disabled SDK reads nothing else. */
    ok(ENV("OTEL_SDK_DISABLED=True", "OTEL_TRACES_EXPORTER=bogus", "OTEL_BSP_MAX_QUEUE_SIZE=x"));
    assert_true(cfg.sdk_disabled);
    assert_int_equal(cfg.nexporters, 0);

    bad(ENV("OTEL_TRACES_EXPORTER=otlp,zipkin"),
        "OTEL_TRACES_EXPORTER=\"otlp,zipkin\": unknown exporter \"zipkin\" (known: otlp, console, none)");
    bad(ENV("OTEL_TRACES_EXPORTER=none,console"),
        "OTEL_TRACES_EXPORTER=\"none,console\": \"none\" cannot be combined with other exporters");
    bad(ENV("OTEL_TRACES_EXPORTER= , "), "OTEL_TRACES_EXPORTER=\" , \": names no exporter (known: otlp, console, none)");
}

static void test_batch_settings(void **state)
{
    (void)state;
    ok(ENV("OTEL_BSP_SCHEDULE_DELAY=250", "OTEL_BSP_EXPORT_TIMEOUT=1000", "OTEL_BSP_MAX_QUEUE_SIZE=4096",
           "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=1024"));
    assert_true(cfg.bsp_schedule_delay_ms == 250);
    assert_true(cfg.bsp_export_timeout_ms == 1000);
    assert_true(cfg.bsp_max_queue_size == 4096);
    assert_true(cfg.bsp_max_export_batch_size == 1024);
    /* Only the queue given, below the default batch: the batch follows. */
    ok(ENV("OTEL_BSP_MAX_QUEUE_SIZE=100"));
    assert_true(cfg.bsp_max_export_batch_size == 100);
    bad(ENV("OTEL_BSP_MAX_QUEUE_SIZE=100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=200"),
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=\"200\": must not exceed the queue size (OTEL_BSP_MAX_QUEUE_SIZE=100)");
    bad(ENV("OTEL_BSP_SCHEDULE_DELAY=5s"), "OTEL_BSP_SCHEDULE_DELAY=\"5s\": not an integer number of milliseconds");
    bad(ENV("OTEL_BSP_MAX_QUEUE_SIZE=0"), "OTEL_BSP_MAX_QUEUE_SIZE=\"0\": must be at least 1");
    bad(ENV("OTEL_BSP_MAX_EXPORT_BATCH_SIZE=lots"), "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=\"lots\": not an integer number of spans");
}

static void test_env_get_and_kv_lists(void **state)
{
    (void)state;
    char **env = ENV("OTEL_XY=2", "OTEL_X=1", "OTEL_E=", "BROKEN");
    assert_string_equal(exo_env_get(env, "OTEL_X"), "1");
    assert_string_equal(exo_env_get(env, "OTEL_XY"), "2");
    assert_null(exo_env_get(env, "OTEL_E"));
    assert_null(exo_env_get(env, "OTEL"));
    assert_null(exo_env_get(env, "BROKEN"));
    assert_null(exo_env_get(NULL, "OTEL_X"));

    exo_kv_list l;
    char why[160];
    assert_int_equal(exo_kv_list_parse("", &l, why, sizeof why), 0);
    assert_int_equal(l.len, 0);
    exo_kv_list_free(&l);
    assert_int_equal(exo_kv_list_parse("a==b, %E2%9C%93=x,e=,+=%2B", &l, why, sizeof why), 0);
    assert_int_equal(l.len, 4);
    assert_string_equal(l.items[0].value, "=b");
    assert_string_equal(l.items[1].key, "\xE2\x9C\x93");
    assert_string_equal(l.items[2].value, "");
    assert_string_equal(l.items[3].key, "+");
    assert_string_equal(l.items[3].value, "+");
    exo_kv_list_free(&l);
    assert_int_equal(exo_kv_list_parse("a=%00", &l, why, sizeof why), -1);
    assert_string_equal(why, "member 1 (key \"a\"): \"%00\" (NUL) is not allowed");
    assert_null(l.items);
    assert_int_equal(exo_kv_list_parse("a=%4", &l, why, sizeof why), -1);
    assert_string_equal(why, "member 1 (key \"a\"): invalid percent-encoding \"%4\"");
}

static void test_allocation_failures(void **state)
{
    (void)state;
    char **env = ENV("OTEL_EXPORTER_OTLP_HEADERS=a=1,b=2", "OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318/x",
                     "OTEL_EXPORTER_OTLP_CERTIFICATE=/ca", "OTEL_EXPORTER_OTLP_CLIENT_KEY=/k");
    int done = 0;
    for (long n = 0; n < 100 && !done; n++) {
        exo_export_config_free(&cfg);
        ex_mem_fail_after(n);
        int rc = exo_export_config_from_env(env, &cfg, err, sizeof err, NULL, 0);
        ex_mem_fail_after(-1);
        if (rc == 0) done = 1;
        else {
            assert_int_equal(rc, -2);
            assert_string_equal(err, "out of memory");
        }
    }
    assert_true(done);
    assert_string_equal(cfg.endpoint, "http://c:4318/x/v1/traces");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_defaults, teardown),
        cmocka_unit_test_teardown(test_seed_configuration, teardown),
        cmocka_unit_test_teardown(test_protocol_precedence, teardown),
        cmocka_unit_test_teardown(test_http_endpoints, teardown),
        cmocka_unit_test_teardown(test_grpc_endpoints, teardown),
        cmocka_unit_test_teardown(test_headers, teardown),
        cmocka_unit_test_teardown(test_numbers_booleans_compression, teardown),
        cmocka_unit_test_teardown(test_exporters, teardown),
        cmocka_unit_test_teardown(test_batch_settings, teardown),
        cmocka_unit_test(test_env_get_and_kv_lists),
        cmocka_unit_test_teardown(test_allocation_failures, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
