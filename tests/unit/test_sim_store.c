/* test_sim_store.c — the simulator's workflow store (src/sim/store.c):
 * lookup, the memory bound, eviction order and the memory of evictions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/mem.h"
#include "sim/store.h"

#define T0 INT64_C(1720162676123456700)

static ex_clock clock_;
static ex_rng rng;
static sim_env env;

static int setup(void **state)
{
    ex_clock_init_fake(&clock_, T0);
    ex_rng_seed(&rng, 5);
    env = (sim_env){&clock_, &rng, 1.0}; /* every entity fails: quick ends */
    return 0;
}

static sim_record *add(sim_store *s, const char *id)
{
    sim_record *r = NULL;
    assert_int_equal(sim_store_add(s, id, &env, &r), SIM_STORE_OK);
    assert_non_null(r);
    assert_string_equal(r->id, id);
    return r;
}

/* Drive r to its end and tell the store. */
static void finish(sim_store *s, sim_record *r)
{
    for (int i = 0; i < 10 && !sim_workflow_complete(&r->wf); i++) {
        ex_clock_advance(&clock_, 1000 * EX_NS_PER_SEC);
        if (sim_workflow_advance(&r->wf, r->id, &env)) sim_store_completed(s, r);
    }
    assert_true(sim_workflow_complete(&r->wf));
}

static void test_add_and_find(void **state)
{
    sim_store s;
    sim_store_init(&s, 10, 10);
    sim_record *a = add(&s, "a"), *b = add(&s, "bb");
    assert_ptr_equal(sim_store_find(&s, "a"), a);
    assert_ptr_equal(sim_store_find(&s, "bb"), b);
    assert_null(sim_store_find(&s, "b"));
    assert_int_equal(s.count, 2);
    assert_int_equal(s.stats.created, 2);
    assert_int_equal(a->wf.status, SIM_INITIALIZING);
    assert_true(a->wf.start_ns == T0);
    sim_store_destroy(&s);
    assert_int_equal(s.count, 0);
}

static void test_full_without_completed_refuses(void **state)
{
    sim_store s;
    sim_store_init(&s, 2, 10);
    add(&s, "a");
    add(&s, "b");
    sim_record *r = (sim_record *)1;
    assert_int_equal(sim_store_add(&s, "c", &env, &r), SIM_STORE_FULL);
    assert_null(r);
    assert_null(sim_store_find(&s, "c"));
    assert_int_equal(s.count, 2);
    assert_int_equal(s.stats.refused, 1);
    sim_store_destroy(&s);
}

static void test_evicts_oldest_completed_first(void **state)
{
    sim_store s;
    sim_store_init(&s, 3, 10);
    sim_record *a = add(&s, "a"), *b = add(&s, "b");
    add(&s, "c");
    finish(&s, b); /* b completes before a, though a is older */
    finish(&s, a);
    add(&s, "d");
    assert_null(sim_store_find(&s, "b"));
    assert_true(sim_store_was_evicted(&s, "b"));
    assert_non_null(sim_store_find(&s, "a"));
    add(&s, "e");
    assert_null(sim_store_find(&s, "a"));
    assert_true(sim_store_was_evicted(&s, "a"));
    assert_int_equal(s.stats.evicted, 2);
    assert_int_equal(s.count, 3);
    /* c, d, e are running: nothing left to evict */
    sim_record *r;
    assert_int_equal(sim_store_add(&s, "f", &env, &r), SIM_STORE_FULL);
    assert_false(sim_store_was_evicted(&s, "c"));
    sim_store_destroy(&s);
}

static void test_evicted_ids_are_bounded(void **state)
{
    sim_store s;
    sim_store_init(&s, 1, 2);
    char id[8];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "w%d", i);
        sim_record *r = add(&s, id);
        finish(&s, r);
    }
    /* w0..w3 were evicted; only the last two are remembered */
    assert_int_equal(s.stats.evicted, 4);
    assert_int_equal(s.stats.forgotten, 2);
    assert_false(sim_store_was_evicted(&s, "w0"));
    assert_false(sim_store_was_evicted(&s, "w1"));
    assert_true(sim_store_was_evicted(&s, "w2"));
    assert_true(sim_store_was_evicted(&s, "w3"));
    assert_false(sim_store_was_evicted(&s, "w4"));
    assert_non_null(sim_store_find(&s, "w4"));
    assert_int_equal(s.ring_len, 2);
    sim_store_destroy(&s);
}

static void test_no_memory_of_evictions(void **state)
{
    sim_store s;
    sim_store_init(&s, 1, 0);
    finish(&s, add(&s, "a"));
    add(&s, "b");
    assert_null(sim_store_find(&s, "a"));
    assert_false(sim_store_was_evicted(&s, "a"));
    assert_null(s.ring);
    sim_store_destroy(&s);
}

static int collect(const sim_record *r, void *arg)
{
    char *out = arg;
    strcat(out, r->id);
    strcat(out, ",");
    return 0;
}

static void test_each_filters_in_insertion_order(void **state)
{
    sim_store s;
    sim_store_init(&s, 10, 10);
    sim_record *a = add(&s, "a");
    add(&s, "b");
    sim_record *c = add(&s, "c");
    add(&s, "d");
    sim_workflow_advance(&a->wf, "a", &env);
    sim_workflow_advance(&c->wf, "c", &env);
    char out[64] = "";
    sim_store_each(&s, 1, SIM_INITIALIZING, 100, collect, out);
    assert_string_equal(out, "a,b,c,d,");
    out[0] = '\0';
    sim_store_each(&s, 0, SIM_PROCESSING, 100, collect, out);
    assert_string_equal(out, "a,c,");
    out[0] = '\0';
    sim_store_each(&s, 0, SIM_INITIALIZING, 1, collect, out);
    assert_string_equal(out, "b,");
    out[0] = '\0';
    sim_store_each(&s, 0, SIM_FAILED, 100, collect, out);
    assert_string_equal(out, "");
    sim_store_destroy(&s);
}

static void test_out_of_memory_leaves_store_intact(void **state)
{
    sim_store s;
    sim_store_init(&s, 10, 10);
    add(&s, "a");
    ex_mem_fail_after(0);
    sim_record *r;
    int rc = sim_store_add(&s, "b", &env, &r);
    ex_mem_fail_after(-1);
    assert_int_equal(rc, SIM_STORE_NOMEM);
    assert_null(sim_store_find(&s, "b"));
    assert_non_null(sim_store_find(&s, "a"));
    assert_int_equal(s.count, 1);
    add(&s, "b");
    assert_int_equal(s.count, 2);
    sim_store_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_add_and_find, setup),
        cmocka_unit_test_setup(test_full_without_completed_refuses, setup),
        cmocka_unit_test_setup(test_evicts_oldest_completed_first, setup),
        cmocka_unit_test_setup(test_evicted_ids_are_bounded, setup),
        cmocka_unit_test_setup(test_no_memory_of_evictions, setup),
        cmocka_unit_test_setup(test_each_filters_in_insertion_order, setup),
        cmocka_unit_test_setup(test_out_of_memory_leaves_store_intact, setup),
    };
    return cmocka_run_group_tests_name("sim_store", tests, NULL, NULL);
}
