/* test_sim_faults.c — the fault injection's decisions (src/sim/faults.c):
 * rate validation, which requests may be faulted, the share of each kind
 * over many draws with a fixed seed, reproducibility, and the replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "sim/faults.h"

#define DRAWS 100000

static void test_rates_are_checked(void **state)
{
    char why[256];
    assert_int_equal(sim_faults_check(0, 0, 0, why, sizeof why), 0);
    assert_int_equal(sim_faults_check(0.5, 0.25, 0.25, why, sizeof why), 0);
    assert_int_equal(sim_faults_check(1, 0, 0, why, sizeof why), 0);
    assert_int_equal(sim_faults_check(0.5, 0.4, 0.2, why, sizeof why), -1);
    assert_non_null(strstr(why, "--fault-rate=0.5 + --drop-rate=0.4 + --garbage-rate=0.2 = 1.1"));
    assert_int_equal(sim_faults_check(-0.1, 0, 0, why, sizeof why), -1);
    assert_non_null(strstr(why, "--fault-rate=-0.1"));
    assert_int_equal(sim_faults_check(0, 0, 1.5, why, sizeof why), -1);
    assert_non_null(strstr(why, "--garbage-rate=1.5"));
}

static void test_only_the_poll_route_applies(void **state)
{
    assert_true(sim_faults_applies("GET", "/workflows/abc"));
    assert_true(sim_faults_applies("HEAD", "/workflows/a.b_c-1"));
    assert_false(sim_faults_applies("POST", "/workflows/abc"));
    assert_false(sim_faults_applies("GET", "/workflows"));
    assert_false(sim_faults_applies("GET", "/workflows/"));
    assert_false(sim_faults_applies("GET", "/workflows/a/b"));
    assert_false(sim_faults_applies("GET", "/healthz"));
    assert_false(sim_faults_applies("GET", "/openapi.json"));
    assert_false(sim_faults_applies("GET", "/workflowsX/abc"));
}

static void test_active(void **state)
{
    ex_rng rng;
    sim_faults f;
    sim_faults_init(&f, &rng, 0, 0, 0, 0);
    assert_false(sim_faults_active(&f));
    assert_false(sim_faults_active(NULL));
    sim_faults_init(&f, &rng, 0, 0, 0, 5);
    assert_true(sim_faults_active(&f));
    sim_faults_init(&f, &rng, 0, 0.1, 0, 0);
    assert_true(sim_faults_active(&f));
}

/* Counts within 1 % (absolute) of the configured shares over DRAWS. */
static void check_shares(double e, double d, double g)
{
    ex_rng rng;
    ex_rng_seed(&rng, 7);
    sim_faults f;
    sim_faults_init(&f, &rng, e, d, g, 0);
    uint64_t seen[4] = {0};
    for (int i = 0; i < DRAWS; i++) seen[sim_faults_draw(&f)]++;
    assert_int_equal(f.stats.considered, DRAWS);
    assert_int_equal(f.stats.errors, seen[SIM_FAULT_ERROR]);
    assert_int_equal(f.stats.drops, seen[SIM_FAULT_DROP]);
    assert_int_equal(f.stats.garbage, seen[SIM_FAULT_GARBAGE]);
    double want[4] = {1 - e - d - g, e, d, g};
    for (int k = 0; k < 4; k++) {
        double share = (double)seen[k] / DRAWS;
        if (share < want[k] - 0.01 || share > want[k] + 0.01)
            fail_msg("%s: share %.4f, configured %.4f", sim_fault_name((sim_fault_kind)k), share, want[k]);
    }
}

static void test_each_kind_at_its_rate(void **state)
{
    check_shares(0.05, 0.02, 0.02);
    check_shares(0.3, 0.3, 0.4);
    check_shares(0, 0.5, 0);
    check_shares(0, 0, 0);
    check_shares(1, 0, 0);
}

static void test_no_rates_draw_nothing(void **state)
{
    ex_rng rng, copy;
    ex_rng_seed(&rng, 3);
    copy = rng;
    sim_faults f;
    sim_faults_init(&f, &rng, 0, 0, 0, 10);
    for (int i = 0; i < 100; i++) assert_int_equal(sim_faults_draw(&f), SIM_FAULT_NONE);
    assert_memory_equal(&rng, &copy, sizeof rng); /* the rng was not touched */
    assert_int_equal(f.stats.considered, 100);
}

static void test_same_seed_same_fates(void **state)
{
    ex_rng r1, r2;
    ex_rng_seed(&r1, 42);
    ex_rng_seed(&r2, 42);
    sim_faults a, b;
    sim_faults_init(&a, &r1, 0.2, 0.2, 0.2, 0);
    sim_faults_init(&b, &r2, 0.2, 0.2, 0.2, 0);
    int differ = 0;
    for (int i = 0; i < 1000; i++) differ += sim_faults_draw(&a) != sim_faults_draw(&b);
    assert_int_equal(differ, 0);
}

static void test_replies(void **state)
{
    sim_reply rep;
    sim_faults_reply(SIM_FAULT_ERROR, &rep);
    assert_int_equal(rep.status, 500);
    json_t *j = json_loadb(rep.body, rep.body_len, 0, NULL);
    assert_non_null(j);
    assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "injected fault"));
    json_decref(j);
    sim_faults_reply(SIM_FAULT_GARBAGE, &rep);
    assert_int_equal(rep.status, 200);
    assert_true(rep.body_len > 0);
    json_error_t err;
    assert_null(json_loadb(rep.body, rep.body_len, 0, &err));
    assert_null(rep.allow);
    assert_string_equal(rep.location, "");
    assert_string_equal(sim_fault_name(SIM_FAULT_DROP), "drop");
    assert_string_equal(sim_fault_name(SIM_FAULT_NONE), "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rates_are_checked),    cmocka_unit_test(test_only_the_poll_route_applies),
        cmocka_unit_test(test_active),               cmocka_unit_test(test_each_kind_at_its_rate),
        cmocka_unit_test(test_no_rates_draw_nothing), cmocka_unit_test(test_same_seed_same_fates),
        cmocka_unit_test(test_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
