/* Unit tests of gen/gen_config: defaults, seed aliases, errors that name
 * the value and its source. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/clock.h"
#include "gen/gen_config.h"

#define SEC EX_NS_PER_SEC

/* Load with argv (NULL-ended, without the command name) and envp. */
static int load(gen_cfg *cfg, gen_settings *set, char **args, char **env, char *err, size_t errlen)
{
    char *argv[32] = {"generate"};
    int argc = 1;
    for (; args && args[argc - 1] && argc < 31; argc++) argv[argc] = args[argc - 1];
    char *empty_env[] = {NULL};
    memset(cfg, 0, sizeof *cfg);
    err[0] = '\0';
    return gen_config_load(cfg, set, argc, argv, env ? env : empty_env, stdout, err, errlen);
}

static void expect_error(char **args, char **env, const char *part1, const char *part2)
{
    gen_cfg cfg;
    gen_settings set;
    char err[600];
    int rc = load(&cfg, &set, args, env, err, sizeof err);
    gen_config_free(&cfg);
    if (rc != EX_CFG_ERROR) fail_msg("accepted; expected an error naming %s", part1);
    if (!strstr(err, part1) || (part2 && !strstr(err, part2)))
        fail_msg("error \"%s\" does not name \"%s\" and \"%s\"", err, part1, part2 ? part2 : "");
}

static void test_defaults(void **state)
{
    gen_cfg cfg;
    gen_settings set;
    char err[600];
    assert_int_equal(load(&cfg, &set, NULL, NULL, err, sizeof err), EX_CFG_OK);
    assert_string_equal(set.redis.host, "localhost");
    assert_int_equal(set.redis.port, 6379);
    assert_int_equal(set.plan.count, 10);
    assert_int_equal(set.plan.batch_size, 5);
    assert_int_equal(set.plan.batch_wait, 240 * SEC);
    assert_int_equal(set.plan.event_wait.lo, 1 * SEC);
    assert_int_equal(set.plan.event_wait.hi, 19 * SEC);
    assert_true(set.plan.rate == 0);
    assert_null(set.stream);
    assert_null(set.ids_out);
    assert_int_equal(set.has_seed, 0);
    gen_config_free(&cfg);
}

static void test_flags(void **state)
{
    gen_cfg cfg;
    gen_settings set;
    char err[600];
    char *args[] = {"--redis", "redis://:pw@10.1.2.3:7000/4", "--count", "25", "--batch-size=10",
                    "--batch-wait", "100ms", "--event-wait", "0s", "--rate", "200.5", "--stream", "wf",
                    "--ids-out", "/tmp/ids", "--seed", "18446744073709551615", NULL};
    assert_int_equal(load(&cfg, &set, args, NULL, err, sizeof err), EX_CFG_OK);
    assert_string_equal(set.redis.host, "10.1.2.3");
    assert_int_equal(set.redis.port, 7000);
    assert_int_equal(set.redis.db, 4);
    assert_string_equal(set.redis.password, "pw");
    assert_int_equal(set.plan.count, 25);
    assert_int_equal(set.plan.batch_size, 10);
    assert_int_equal(set.plan.batch_wait, 100 * EX_NS_PER_MS);
    assert_int_equal(set.plan.event_wait.hi, 0);
    assert_true(set.plan.rate == 200.5);
    assert_string_equal(set.stream, "wf");
    assert_string_equal(set.ids_out, "/tmp/ids");
    assert_int_equal(set.has_seed, 1);
    assert_true(set.seed == UINT64_MAX);
    gen_config_free(&cfg);
}

static void test_seed_environment(void **state)
{
    gen_cfg cfg;
    gen_settings set;
    char err[600];
    char *env[] = {"TracingSample__Redis__ConnectionString=redis:6379,password=pw,abortConnect=false",
                   "TracingSample__WorkflowGenerator__WorkflowCount=300",
                   "TracingSample__WorkflowGenerator__BatchSize=100",
                   "TracingSample__WorkflowGenerator__BatchWaitMinutes=2", NULL};
    assert_int_equal(load(&cfg, &set, NULL, env, err, sizeof err), EX_CFG_OK);
    assert_string_equal(set.redis.host, "redis");
    assert_string_equal(set.redis.password, "pw");
    assert_int_equal(set.plan.count, 300);
    assert_int_equal(set.plan.batch_size, 100);
    assert_int_equal(set.plan.batch_wait, 120 * SEC);
    gen_config_free(&cfg);
}

static void test_precedence(void **state)
{
    gen_cfg cfg;
    gen_settings set;
    char err[600];
    char *env[] = {"TracingSample__WorkflowGenerator__WorkflowCount=300", "EXTRACE_COUNT=40", NULL};
    char *args[] = {"--count", "7", NULL};
    assert_int_equal(load(&cfg, &set, NULL, env, err, sizeof err), EX_CFG_OK);
    assert_int_equal(set.plan.count, 40);
    gen_config_free(&cfg);
    assert_int_equal(load(&cfg, &set, args, env, err, sizeof err), EX_CFG_OK);
    assert_int_equal(set.plan.count, 7);
    gen_config_free(&cfg);
}

static void test_errors(void **state)
{
    char *count_env[] = {"EXTRACE_COUNT=ten", NULL};
    expect_error(NULL, count_env, "EXTRACE_COUNT=\"ten\"", "not an integer");
    char *alias_env[] = {"TracingSample__WorkflowGenerator__BatchWaitMinutes=soon", NULL};
    expect_error(NULL, alias_env, "TracingSample__WorkflowGenerator__BatchWaitMinutes=\"soon\"", NULL);
    char *redis_env[] = {"TracingSample__Redis__ConnectionString=redis:6379,ssl=true", NULL};
    expect_error(NULL, redis_env, "TracingSample__Redis__ConnectionString", "TLS is not supported");

    char *a1[] = {"--count", "0", NULL};
    expect_error(a1, NULL, "--count=\"0\"", "at least 1");
    char *a2[] = {"--batch-size", "-2", NULL};
    expect_error(a2, NULL, "--batch-size=\"-2\"", "at least 1");
    char *a3[] = {"--event-wait", "19s-1s", NULL};
    expect_error(a3, NULL, "--event-wait=\"19s-1s\"", "above upper bound");
    char *a4[] = {"--rate", "0", NULL};
    expect_error(a4, NULL, "--rate=\"0\"", "greater than 0");
    char *a5[] = {"--rate", "fast", NULL};
    expect_error(a5, NULL, "--rate=\"fast\"", "not a number");
    char *a6[] = {"--redis", "redis://h:99999", NULL};
    expect_error(a6, NULL, "--redis=\"redis://h:99999\"", "port \"99999\"");
    char *a7[] = {"--seed", "-1", NULL};
    expect_error(a7, NULL, "--seed=\"-1\"", "unsigned");
    char *a8[] = {"--batch-wait", "4", NULL};
    expect_error(a8, NULL, "--batch-wait=\"4\"", "missing unit");
    char *a9[] = {"--stream", "", NULL};
    expect_error(a9, NULL, "--stream=\"\"", "empty");
    char *a10[] = {"--bogus", "1", NULL};
    expect_error(a10, NULL, "--bogus", "unknown option");
    char *a11[] = {"extra", NULL};
    expect_error(a11, NULL, "unexpected argument \"extra\"", NULL);
}

static void test_help(void **state)
{
    gen_cfg cfg;
    gen_settings set;
    char err[600];
    char *argv[] = {"generate", "--help", NULL};
    char *env[] = {NULL};
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    memset(&cfg, 0, sizeof cfg);
    assert_int_equal(gen_config_load(&cfg, &set, 2, argv, env, out, err, sizeof err), EX_CFG_HELP);
    fclose(out);
    assert_non_null(strstr(text, "--event-wait RANGE"));
    assert_non_null(strstr(text, "TracingSample__Redis__ConnectionString"));
    free(text);
    gen_config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_seed_environment),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
