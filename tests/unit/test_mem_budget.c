/* The process-wide byte budget: taking, giving back, refusing, and the
 * rate of refusal log lines (fake clock). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/clock.h"
#include "core/mem_budget.h"

static void test_take_and_give(void **state)
{
    ex_clock clk;
    ex_clock_init_fake(&clk, 0);
    ex_mem_budget b;
    ex_mbud_init(&b, 100, &clk, EX_NS_PER_SEC);
    assert_int_equal(ex_mbud_take(&b, 60), 0);
    assert_int_equal(ex_mbud_take(&b, 41), -1); /* 101 > 100: nothing taken */
    assert_int_equal(ex_mbud_used(&b), 60);
    assert_int_equal(ex_mbud_take(&b, 40), 0);  /* exactly the limit fits */
    assert_int_equal(ex_mbud_take(&b, 1), -1);
    ex_mbud_give(&b, 60);
    assert_int_equal(ex_mbud_used(&b), 40);
    assert_int_equal(ex_mbud_take(&b, 60), 0);
    assert_int_equal(b.peak, 100);
    assert_int_equal(ex_mbud_take(&b, SIZE_MAX), -1); /* no overflow */
    assert_int_equal(ex_mbud_take(NULL, SIZE_MAX), 0); /* no budget: always fits */
    ex_mbud_give(NULL, 5);
}

static void test_unlimited(void **state)
{
    ex_mem_budget b;
    ex_mbud_init(&b, 0, ex_clock_real(), EX_NS_PER_SEC);
    assert_int_equal(ex_mbud_take(&b, SIZE_MAX / 2), 0);
    assert_int_equal(ex_mbud_used(&b), SIZE_MAX / 2);
}

/* The first refusal is logged at once; the next ones within the period are
 * only counted, and the next line reports all of them. */
static void test_refusal_log_rate(void **state)
{
    ex_clock clk;
    ex_clock_init_fake(&clk, 1000 * EX_NS_PER_SEC);
    ex_mem_budget b;
    ex_mbud_init(&b, 10, &clk, 10 * EX_NS_PER_SEC);
    assert_int_equal(ex_mbud_refusal(&b), 1);
    for (int i = 0; i < 5; i++) {
        ex_clock_advance(&clk, EX_NS_PER_SEC);
        assert_int_equal(ex_mbud_refusal(&b), 0);
    }
    ex_clock_advance(&clk, 5 * EX_NS_PER_SEC); /* 10 s after the first line */
    assert_int_equal(ex_mbud_refusal(&b), 6);
    assert_int_equal(b.refused, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_take_and_give),
        cmocka_unit_test(test_unlimited),
        cmocka_unit_test(test_refusal_log_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
