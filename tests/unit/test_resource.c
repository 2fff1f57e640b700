/* The worker's resource: seed defaults, OTEL_RESOURCE_ATTRIBUTES with
 * percent-decoding and its all-or-nothing error rule, OTEL_SERVICE_NAME
 * precedence, the instance id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "core/uuid.h"
#include "otel/resource.h"

static void build(char *const *envp, uint64_t seed, exo_resource *r, char *warn, size_t warnlen)
{
    ex_rng rng;
    ex_rng_seed(&rng, seed);
    assert_int_equal(exo_resource_from_env(envp, &rng, r, warn, warnlen), 0);
}

static void test_defaults(void **state)
{
    (void)state;
    char *env[] = {"HOME=/root", NULL};
    exo_resource r;
    char warn[256] = "x";
    build(env, 1, &r, warn, sizeof warn);
    assert_string_equal(warn, "");
    static const char *const keys[] = {"service.name", "service.version", "service.namespace", "service.instance.id",
                                       "telemetry.sdk.name", "telemetry.sdk.language", "telemetry.sdk.version"};
    assert_int_equal(r.attrs.len, 7);
    for (size_t i = 0; i < 7; i++) {
        assert_string_equal(r.attrs.items[i].key, keys[i]);
        assert_int_equal(r.attrs.items[i].type, EXO_VAL_STRING);
    }
    assert_string_equal(exo_resource_get(&r, "service.name"), "Tracing.Worker");
    assert_string_equal(exo_resource_get(&r, "service.version"), "1.0.0");
    assert_string_equal(exo_resource_get(&r, "service.namespace"), "dev1");
    assert_string_equal(exo_resource_get(&r, "telemetry.sdk.name"), "extrace");
    assert_string_equal(exo_resource_get(&r, "telemetry.sdk.language"), "c");
    assert_string_equal(exo_resource_get(&r, "telemetry.sdk.version"), EXTRACE_VERSION);
    const char *id = exo_resource_get(&r, "service.instance.id");
    assert_true(ex_uuid_valid(id));
    assert_int_equal(id[14], '4'); /* version 4 */
    assert_null(exo_resource_get(&r, "host.name"));

    /* The id comes from the rng: same seed, same id; another seed, another. */
    exo_resource r2, r3;
    build(env, 1, &r2, NULL, 0);
    build(env, 2, &r3, NULL, 0);
    assert_string_equal(exo_resource_get(&r2, "service.instance.id"), id);
    assert_string_not_equal(exo_resource_get(&r3, "service.instance.id"), id);
    exo_resource_free(&r);
    exo_resource_free(&r2);
    exo_resource_free(&r3);

    /* NULL envp and NULL rng are fine (the id is then random). */
    assert_int_equal(exo_resource_from_env(NULL, NULL, &r, NULL, 0), 0);
    assert_true(ex_uuid_valid(exo_resource_get(&r, "service.instance.id")));
    exo_resource_free(&r);
}

static void test_attributes_and_precedence(void **state)
{
    (void)state;
    char *env[] = {"OTEL_RESOURCE_ATTRIBUTES=service.namespace=tenant-a, deployment.environment = prod%2Ceu ,"
                   "team=a%20b%3Dc,,service.name=from-attrs,team=platform",
                   NULL};
    exo_resource r;
    char warn[256];
    build(env, 1, &r, warn, sizeof warn);
    assert_string_equal(warn, "");
    assert_int_equal(r.attrs.len, 9); /* 7 defaults + 2 new keys, no duplicates */
    assert_string_equal(r.attrs.items[2].key, "service.namespace"); /* replaced in place */
    assert_string_equal(r.attrs.items[2].v.s, "tenant-a");
    assert_string_equal(exo_resource_get(&r, "deployment.environment"), "prod,eu");
    assert_string_equal(exo_resource_get(&r, "team"), "platform"); /* the later one wins */
    assert_string_equal(exo_resource_get(&r, "service.name"), "from-attrs");
    exo_resource_free(&r);

    /* OTEL_SERVICE_NAME wins over service.name from the attributes. */
    char *env2[] = {"OTEL_SERVICE_NAME=billing", env[0], NULL};
    build(env2, 1, &r, warn, sizeof warn);
    assert_string_equal(exo_resource_get(&r, "service.name"), "billing");
    assert_string_equal(exo_resource_get(&r, "service.namespace"), "tenant-a");
    exo_resource_free(&r);

    /* Empty means unset. */
    char *env3[] = {"OTEL_SERVICE_NAME=", "OTEL_RESOURCE_ATTRIBUTES=", NULL};
    build(env3, 1, &r, warn, sizeof warn);
    assert_string_equal(exo_resource_get(&r, "service.name"), "Tracing.Worker");
    assert_int_equal(r.attrs.len, 7);
    exo_resource_free(&r);

    /* A given instance id is kept; no rng is needed then. */
    char *env4[] = {"OTEL_RESOURCE_ATTRIBUTES=service.instance.id=worker-7", NULL};
    assert_int_equal(exo_resource_from_env(env4, NULL, &r, warn, sizeof warn), 0);
    assert_string_equal(exo_resource_get(&r, "service.instance.id"), "worker-7");
    assert_string_equal(r.attrs.items[3].key, "service.instance.id");
    exo_resource_free(&r);
}

static void expect_dropped(const char *value, const char *want)
{
    char var[256];
    snprintf(var, sizeof var, "OTEL_RESOURCE_ATTRIBUTES=%s", value);
    char *env[] = {var, "OTEL_SERVICE_NAME=svc", NULL};
    exo_resource r;
    char warn[256];
    build(env, 1, &r, warn, sizeof warn);
    assert_string_equal(warn, want);
    /* The whole variable is dropped: only defaults and the service name. */
    assert_int_equal(r.attrs.len, 7);
    assert_string_equal(exo_resource_get(&r, "service.name"), "svc");
    assert_string_equal(exo_resource_get(&r, "service.namespace"), "dev1");
    exo_resource_free(&r);
}

static void test_decoding_errors_drop_variable(void **state)
{
    (void)state;
    expect_dropped("service.namespace=x,c=%zz",
                   "OTEL_RESOURCE_ATTRIBUTES=\"service.namespace=x,c=%zz\": member 2 (key \"c\"): invalid "
                   "percent-encoding \"%zz\"; the variable is ignored");
    expect_dropped("service.namespace=x,c=50%",
                   "OTEL_RESOURCE_ATTRIBUTES=\"service.namespace=x,c=50%\": member 2 (key \"c\"): invalid "
                   "percent-encoding \"%\"; the variable is ignored");
    expect_dropped("service.namespace=x,novalue",
                   "OTEL_RESOURCE_ATTRIBUTES=\"service.namespace=x,novalue\": member 2 (key \"novalue\") has no '='; "
                   "the variable is ignored");
    expect_dropped("=v", "OTEL_RESOURCE_ATTRIBUTES=\"=v\": member 1 has an empty key; the variable is ignored");
    expect_dropped("k=%ff", "OTEL_RESOURCE_ATTRIBUTES=\"k=%ff\": member 1 (key \"k\"): not valid UTF-8 after "
                            "percent-decoding; the variable is ignored");
}

static void test_allocation_failures(void **state)
{
    (void)state;
    char *env[] = {"OTEL_RESOURCE_ATTRIBUTES=a=1,b=2,service.name=x", "OTEL_SERVICE_NAME=y", NULL};
    int ok = 0;
    for (long n = 0; n < 200 && !ok; n++) {
        exo_resource r;
        ex_rng rng;
        ex_rng_seed(&rng, 3);
        ex_mem_fail_after(n);
        int rc = exo_resource_from_env(env, &rng, &r, NULL, 0);
        ex_mem_fail_after(-1);
        if (rc == 0) {
            ok = 1;
            assert_string_equal(exo_resource_get(&r, "service.name"), "y");
            exo_resource_free(&r);
        } else {
            assert_int_equal(rc, -1);
            assert_int_equal(r.attrs.len, 0);
        }
    }
    assert_true(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_attributes_and_precedence),
        cmocka_unit_test(test_decoding_errors_drop_variable),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
