/* The listener rules as pure logic: total and per-client limits, the
 * phase deadlines, and the rate limit of the reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "net/conn_guard.h"

static const uint8_t A[4] = {127, 0, 0, 1}, B[4] = {127, 0, 0, 2}, C[16] = {0x20, 1, 0xd, 0xb8};

static void test_limits(void **state)
{
    (void)state;
    ex_conn_limits l = {.max_conns = 3, .max_per_client = 2};
    ex_conn_guard *g = ex_guard_new(&l);
    assert_int_equal(ex_guard_admit(g, A, 4), EX_GUARD_ADMIT);
    assert_int_equal(ex_guard_admit(g, A, 4), EX_GUARD_ADMIT);
    assert_int_equal(ex_guard_admit(g, A, 4), EX_GUARD_CLIENT_FULL);
    assert_int_equal(ex_guard_admit(g, B, 4), EX_GUARD_ADMIT);
    assert_int_equal(ex_guard_admit(g, C, 16), EX_GUARD_FULL); /* total first */
    assert_int_equal(ex_guard_client_open(g, A, 4), 2);
    ex_guard_release(g, A, 4);
    assert_int_equal(ex_guard_client_open(g, A, 4), 1);
    assert_int_equal(ex_guard_admit(g, C, 16), EX_GUARD_ADMIT);
    const ex_conn_stats *s = ex_guard_stats(g);
    assert_int_equal(s->accepted, 4);
    assert_int_equal(s->refused_client, 1);
    assert_int_equal(s->refused_full, 1);
    assert_int_equal(s->open, 3);
    ex_guard_release(g, A, 4);
    ex_guard_release(g, B, 4);
    ex_guard_release(g, C, 16);
    ex_guard_release(g, C, 16); /* not open: ignored */
    assert_int_equal(s->open, 0);
    assert_int_equal(ex_guard_client_open(g, A, 4), 0);
    ex_guard_free(g);
}

static void test_no_limits(void **state)
{
    (void)state;
    ex_conn_limits l = {0};
    ex_conn_guard *g = ex_guard_new(&l);
    for (int i = 0; i < 5000; i++) assert_int_equal(ex_guard_admit(g, A, 4), EX_GUARD_ADMIT);
    assert_int_equal(ex_guard_client_open(g, A, 4), 5000);
    ex_guard_free(g); /* frees the client entries still open */
}

static void test_deadlines(void **state)
{
    (void)state;
    ex_conn_limits l = {.header_timeout_ms = 10, .body_timeout_ms = 20, .idle_timeout_ms = 0};
    assert_int_equal(ex_guard_deadline(&l, EX_PHASE_HEADERS, 100), 110);
    assert_int_equal(ex_guard_deadline(&l, EX_PHASE_BODY, 100), 120);
    assert_true(ex_guard_deadline(&l, EX_PHASE_IDLE, 100) == UINT64_MAX);
    assert_true(ex_guard_deadline(&l, EX_PHASE_REPLY, 100) == UINT64_MAX);
    ex_conn_guard *g = ex_guard_new(&l);
    ex_guard_count_timeout(g, EX_PHASE_BODY);
    assert_int_equal(ex_guard_stats(g)->timed_out[EX_PHASE_BODY], 1);
    assert_string_equal(ex_conn_phase_name(EX_PHASE_IDLE), "idle");
    ex_guard_free(g);
}

static void test_report_rate(void **state)
{
    (void)state;
    ex_conn_limits l = {0};
    ex_conn_guard *g = ex_guard_new(&l);
    uint64_t sup = 99;
    assert_int_equal(ex_guard_report_due(g, 1000, 10000, &sup), 1); /* the first at once */
    assert_int_equal(sup, 0);
    assert_int_equal(ex_guard_report_due(g, 2000, 10000, &sup), 0);
    assert_int_equal(ex_guard_report_due(g, 10999, 10000, &sup), 0);
    assert_int_equal(ex_guard_report_due(g, 11000, 10000, &sup), 1);
    assert_int_equal(sup, 2); /* the two held back */
    ex_guard_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_no_limits),
        cmocka_unit_test(test_deadlines),
        cmocka_unit_test(test_report_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
