/* The poll budget's token bucket with a fake clock: burst, continuous
 * refill, the time of the next token, the long-run rate bound, a clock
 * going backwards, unlimited. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker/budget.h"

#define MS INT64_C(1000000)
#define T0 (INT64_C(1700000000000) * MS)

static void test_burst_then_empty(void **state)
{
    (void)state;
    wk_budget b;
    wk_budget_init(&b, 10, 3);
    assert_true(wk_budget_limited(&b));
    for (int i = 0; i < 3; i++) assert_true(wk_budget_take(&b, T0));
    assert_false(wk_budget_take(&b, T0));
    /* 10/s: the next token comes 100 ms later, not before. */
    assert_int_equal(wk_budget_ready_ns(&b), T0 + 100 * MS);
    assert_false(wk_budget_take(&b, T0 + 99 * MS));
    assert_int_equal(wk_budget_ready_ns(&b), T0 + 100 * MS);
    assert_true(wk_budget_take(&b, T0 + 100 * MS));
    assert_false(wk_budget_take(&b, T0 + 100 * MS));
}

static void test_refill_is_continuous_and_capped(void **state)
{
    (void)state;
    wk_budget b;
    wk_budget_init(&b, 4, 2);
    assert_true(wk_budget_take(&b, T0));
    assert_true(wk_budget_take(&b, T0));
    /* 125 ms = half a token, twice = one token. */
    assert_false(wk_budget_take(&b, T0 + 125 * MS));
    assert_true(wk_budget_take(&b, T0 + 250 * MS));
    /* A long pause fills the bucket to the burst, no more. */
    int n = 0;
    while (wk_budget_take(&b, T0 + 3600 * 1000 * MS)) n++;
    assert_int_equal(n, 2);
}

static void test_rate_bound_over_time(void **state)
{
    (void)state;
    /* Taking greedily every 1 ms for 10 s at 50/s with burst 50:
     * at most 50 * 10 + 50 polls, and waiting until ready always works. */
    wk_budget b;
    wk_budget_init(&b, 50, 0); /* burst 0: defaults to the rate */
    assert_true(b.burst == 50);
    int taken = 0;
    for (int64_t t = T0; t <= T0 + 10000 * MS; t += MS) {
        while (wk_budget_take(&b, t)) taken++;
        int64_t r = wk_budget_ready_ns(&b);
        if (r != INT64_MIN) {
            assert_true(r > t);
            assert_true(r - t <= 20 * MS + 1);
        }
    }
    assert_true(taken <= 50 * 10 + 50);
    assert_true(taken >= 50 * 10); /* the bucket refills at the rate */
    /* Jumping exactly to the ready time yields a token. */
    wk_budget_init(&b, 3, 1);
    int64_t t = T0;
    assert_true(wk_budget_take(&b, t));
    for (int i = 0; i < 100; i++) {
        t = wk_budget_ready_ns(&b);
        assert_true(wk_budget_take(&b, t));
        assert_false(wk_budget_take(&b, t));
    }
    assert_true(t - T0 >= 100 * (1000 * MS / 3) && t - T0 <= 100 * (1000 * MS / 3) + 100);
}

static void test_clock_backwards_and_unlimited(void **state)
{
    (void)state;
    wk_budget b;
    wk_budget_init(&b, 1, 1);
    assert_true(wk_budget_take(&b, T0));
    assert_false(wk_budget_take(&b, T0 - 5000 * MS)); /* no refill from a jump back */
    assert_false(wk_budget_take(&b, T0 - 4500 * MS));
    assert_true(wk_budget_take(&b, T0 - 4000 * MS)); /* one second after the jump */
    wk_budget u;
    wk_budget_init(&u, 0, 0);
    assert_false(wk_budget_limited(&u));
    for (int i = 0; i < 10000; i++) assert_true(wk_budget_take(&u, T0));
    assert_int_equal(wk_budget_ready_ns(&u), INT64_MIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_empty),
        cmocka_unit_test(test_refill_is_continuous_and_capped),
        cmocka_unit_test(test_rate_bound_over_time),
        cmocka_unit_test(test_clock_backwards_and_unlimited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
