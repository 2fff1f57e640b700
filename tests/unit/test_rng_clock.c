/* The injectable random source, UUIDs, clocks and the allocation hook. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "core/rng.h"
#include "core/uuid.h"

static void test_rng_reproducible(void **state)
{
    (void)state;
    ex_rng a, b;
    ex_rng_seed(&a, 42);
    ex_rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++) assert_int_equal(ex_rng_next(&a), ex_rng_next(&b));
    ex_rng_seed(&b, 43);
    assert_int_not_equal(ex_rng_next(&a), ex_rng_next(&b));
}

static void test_rng_range_uniform(void **state)
{
    (void)state;
    ex_rng r;
    ex_rng_seed(&r, 1);
    int counts[10] = {0};
    const int n = 100000;
    for (int i = 0; i < n; i++) {
        int64_t v = ex_rng_range(&r, 10, 20);
        assert_true(v >= 10 && v < 20);
        counts[v - 10]++;
    }
    /* Each bucket expects 10,000 with sd ≈ 95; 5 sd is a generous bound. */
    for (int i = 0; i < 10; i++) assert_true(counts[i] > 10000 - 475 && counts[i] < 10000 + 475);
    assert_int_equal(ex_rng_range(&r, 5, 5), 5); /* .NET Next(5,5) == 5 */
    for (int i = 0; i < 1000; i++) {
        double d = ex_rng_double(&r);
        assert_true(d >= 0.0 && d < 1.0);
    }
}

static void test_uuid(void **state)
{
    (void)state;
    ex_rng r;
    ex_rng_seed(&r, 9);
    char a[EX_UUID_LEN + 1], b[EX_UUID_LEN + 1];
    ex_uuid4(&r, a);
    ex_uuid4(&r, b);
    assert_true(ex_uuid_valid(a));
    assert_string_not_equal(a, b);
    assert_int_equal(a[14], '4');                  /* version */
    assert_non_null(strchr("89ab", a[19]));        /* variant */
    assert_false(ex_uuid_valid("not-a-uuid"));
    assert_false(ex_uuid_valid("704c0b60-3614-4e54-8985-5134cc20df2g"));
    assert_true(ex_uuid_valid("704C0B60-3614-4E54-8985-5134CC20DF22"));
}

static void test_clocks(void **state)
{
    (void)state;
    ex_clock fake;
    ex_clock_init_fake(&fake, 1000);
    assert_int_equal(ex_clock_now(&fake), 1000);
    ex_clock_advance(&fake, 500);
    assert_int_equal(ex_clock_now(&fake), 1500);
    ex_clock_set(&fake, 7);
    assert_int_equal(ex_clock_now(&fake), 7);
    assert_int_equal(ex_clock_real_interval(&fake, 100), 100);

    ex_clock scaled;
    ex_clock_init_scaled(&scaled, 600);
    assert_int_equal(ex_clock_real_interval(&scaled, 600 * EX_NS_PER_SEC), EX_NS_PER_SEC);
    int64_t real0 = ex_clock_now(ex_clock_real()), s0 = ex_clock_now(&scaled);
    assert_true(s0 >= real0 - EX_NS_PER_SEC && s0 <= real0 + EX_NS_PER_SEC);
    int64_t m0 = ex_mono_ns();
    while (ex_mono_ns() - m0 < 20 * EX_NS_PER_MS) {
    }
    /* 20 ms real is at least 12 s simulated at 600x. */
    assert_true(ex_clock_now(&scaled) - s0 >= 12 * EX_NS_PER_SEC);
}

static void test_mem_fail_hook(void **state)
{
    (void)state;
    ex_mem_fail_after(1);
    void *a = ex_malloc(8);
    void *b = ex_malloc(8);
    ex_mem_fail_after(-1);
    assert_non_null(a);
    assert_null(b);
    ex_free(a);
    char *s = ex_strdup("abc");
    assert_string_equal(s, "abc");
    ex_free(s);
    assert_null(ex_strdup(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_reproducible),
        cmocka_unit_test(test_rng_range_uniform),
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_mem_fail_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
