/* The registry's poll budget and failure backoff: tokens gate dispatch in
 * due order and next_due waits for the next token (no spinning);
 * consecutive failures double the delay up to the caps with ±20 %
 * jitter, a success resets it; Retry-After pushes the next poll out;
 * Retry-After values from 429/503 answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/rng.h"
#include "worker/poller.h"
#include "worker/registry.h"

#define SEC EX_NS_PER_SEC
#define MS  EX_NS_PER_MS
#define T0  (INT64_C(1720162671) * SEC)

typedef struct fake {
    wk_registry *reg;
    int slots;
    char polled[256][16];
    int npolled;
} fake;

static int fake_has_slot(void *arg) { return ((fake *)arg)->slots > 0; }

static void fake_poll(void *arg, wk_entry *e)
{
    fake *f = arg;
    f->slots--;
    snprintf(f->polled[f->npolled++], 16, "%s", e->mon->key);
}

static void fake_expire(void *arg, wk_entry *e)
{
    fake *f = arg;
    mdl_monitor_free(wk_registry_remove(f->reg, e));
}

static const wk_sched_ops fake_ops = {fake_has_slot, fake_poll, fake_expire};

static ex_rng rng;

static wk_entry *add(wk_registry *r, const char *id, int64_t now)
{
    mdl_monitor *m = mdl_monitor_new(id, now, now, 3600 * SEC, MDL_SEED_MAX_NODES, MDL_SEED_MAX_EVENTS);
    wk_entry *e = NULL;
    assert_non_null(m);
    assert_int_equal(wk_registry_add(r, m, now, &e), 0);
    return e;
}

static void test_budget_gates_dispatch_fifo(void **state)
{
    (void)state;
    wk_registry r;
    wk_sched_config cfg = {.initial_delay_ns = 0, .interval_ns = SEC, .jitter_permille = 0, .max_entries = 100,
                           .max_polls_per_sec = 10, .poll_burst = 2};
    ex_rng_seed(&rng, 1);
    wk_registry_init(&r, &cfg, &rng);
    fake f = {&r, 100, {{0}}, 0};
    char id[16];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "wf-%d", i);
        add(&r, id, T0);
    }
    assert_int_equal(wk_registry_dispatch(&r, T0, &fake_ops, &f), 2); /* the burst */
    assert_string_equal(f.polled[0], "wf-0");
    assert_string_equal(f.polled[1], "wf-1");
    /* The rest wait; the timer is to be set for the next token, 100 ms on. */
    assert_int_equal(wk_registry_next_due(&r), T0 + 100 * MS);
    assert_int_equal(wk_registry_dispatch(&r, T0 + 99 * MS, &fake_ops, &f), 0);
    assert_int_equal(wk_registry_dispatch(&r, T0 + 100 * MS, &fake_ops, &f), 1);
    assert_string_equal(f.polled[2], "wf-2"); /* in arrival order */
    assert_int_equal(wk_registry_dispatch(&r, T0 + 300 * MS, &fake_ops, &f), 2);
    assert_string_equal(f.polled[3], "wf-3");
    assert_string_equal(f.polled[4], "wf-4");
    /* Nothing waits: next_due is INT64_MAX even without tokens. */
    assert_int_equal(wk_registry_next_due(&r), INT64_MAX);
    wk_registry_clear(&r);
}

static void test_budget_long_run_bound(void **state)
{
    (void)state;
    /* 20 workflows every 100 ms want 200 polls/s; the budget allows 50/s. */
    wk_registry r;
    wk_sched_config cfg = {.initial_delay_ns = 0, .interval_ns = 100 * MS, .jitter_permille = 100,
                           .max_entries = 100, .max_polls_per_sec = 50};
    ex_rng_seed(&rng, 2);
    wk_registry_init(&r, &cfg, &rng);
    char id[16];
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "wf-%02d", i);
        add(&r, id, T0);
    }
    fake f = {&r, 1000000, {{0}}, 0};
    int64_t now = T0;
    int polls = 0, wakeups = 0;
    while (now < T0 + 10 * SEC) {
        int before = f.npolled;
        wk_registry_dispatch(&r, now, &fake_ops, &f);
        for (int i = before; i < f.npolled; i++) {
            wk_entry *p = wk_registry_find(&r, f.polled[i]);
            assert_int_equal(wk_registry_reschedule(&r, p, now), 0); /* the poll ends at once */
        }
        polls += f.npolled - before;
        f.npolled = 0;
        int64_t next = wk_registry_next_due(&r);
        assert_true(next > now); /* never a wake-up for nothing due */
        now = next;
        wakeups++;
    }
    assert_true(polls <= 50 * 10 + 50);
    assert_true(polls >= 50 * 10 - 50);
    assert_true(wakeups <= polls + 20);
    wk_registry_clear(&r);
}

static void test_backoff_delay_math(void **state)
{
    (void)state;
    ex_rng_seed(&rng, 3);
    /* No jitter: 2, 4, 8 intervals, then the 8x cap. */
    assert_int_equal(wk_backoff_delay(&rng, 10 * SEC, 1, 8, 300 * SEC, 0), 20 * SEC);
    assert_int_equal(wk_backoff_delay(&rng, 10 * SEC, 2, 8, 300 * SEC, 0), 40 * SEC);
    assert_int_equal(wk_backoff_delay(&rng, 10 * SEC, 3, 8, 300 * SEC, 0), 80 * SEC);
    assert_int_equal(wk_backoff_delay(&rng, 10 * SEC, 9, 8, 300 * SEC, 0), 80 * SEC);
    assert_int_equal(wk_backoff_delay(&rng, 10 * SEC, 60000, 8, 300 * SEC, 0), 80 * SEC);
    /* The 5 min cap wins over 8 intervals of 1 min; never below one interval. */
    assert_int_equal(wk_backoff_delay(&rng, 60 * SEC, 5, 8, 300 * SEC, 0), 300 * SEC);
    assert_int_equal(wk_backoff_delay(&rng, 600 * SEC, 5, 8, 300 * SEC, 0), 600 * SEC);
    /* ±20 % jitter stays in bounds and is not constant. */
    int64_t lo = INT64_MAX, hi = 0;
    for (int i = 0; i < 1000; i++) {
        int64_t d = wk_backoff_delay(&rng, 10 * SEC, 2, 8, 300 * SEC, 200);
        assert_true(d >= 32 * SEC && d <= 48 * SEC);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
    }
    assert_true(hi - lo > 10 * SEC);
}

static void test_reschedule_backs_off_and_resets(void **state)
{
    (void)state;
    wk_registry r;
    wk_sched_config cfg = {.initial_delay_ns = 0, .interval_ns = 10 * SEC, .jitter_permille = 0, .max_entries = 10};
    ex_rng_seed(&rng, 4);
    wk_registry_init(&r, &cfg, &rng);
    wk_entry *e = add(&r, "wf", T0);
    fake f = {&r, 100, {{0}}, 0};
    int64_t now = T0;
    assert_int_equal(wk_registry_dispatch(&r, now, &fake_ops, &f), 1);
    /* Four failures in a row: 2x, 4x, 8x, 8x the interval, ±20 %. */
    const int factor[] = {2, 4, 8, 8};
    for (int k = 0; k < 4; k++) {
        mdl_monitor_poll_failed(e->mon);
        assert_int_equal(wk_registry_reschedule(&r, e, now), 0);
        int64_t d = wk_registry_due(&r, e) - now, want = factor[k] * 10 * SEC;
        assert_true(d >= want - want / 5 && d <= want + want / 5);
        now = wk_registry_due(&r, e);
        assert_int_equal(wk_registry_dispatch(&r, now, &fake_ops, &f), 1);
    }
    /* A poll without a new error: back to the plain interval. */
    assert_int_equal(wk_registry_reschedule(&r, e, now), 0);
    assert_int_equal(wk_registry_due(&r, e) - now, 10 * SEC);
    assert_int_equal(e->failures, 0);
    now = wk_registry_due(&r, e);
    assert_int_equal(wk_registry_dispatch(&r, now, &fake_ops, &f), 1);
    /* Retry-After longer than the backoff wins; shorter does not shorten it. */
    mdl_monitor_poll_failed(e->mon);
    assert_int_equal(wk_registry_reschedule_after(&r, e, now, 120 * SEC), 0);
    assert_int_equal(wk_registry_due(&r, e) - now, 120 * SEC);
    now = wk_registry_due(&r, e);
    assert_int_equal(wk_registry_dispatch(&r, now, &fake_ops, &f), 1);
    mdl_monitor_poll_failed(e->mon);
    assert_int_equal(wk_registry_reschedule_after(&r, e, now, 1 * SEC), 0);
    int64_t d = wk_registry_due(&r, e) - now;
    assert_true(d >= 32 * SEC && d <= 48 * SEC); /* second failure in a row: 4x ± 20 % */
    wk_registry_clear(&r);
}

static void test_retry_after_values(void **state)
{
    (void)state;
    int64_t now = INT64_C(1720162676) * SEC; /* 2024-07-05T06:57:56Z */
    assert_int_equal(wk_poll_retry_after(429, "7", now), 7 * SEC);
    assert_int_equal(wk_poll_retry_after(503, " 0 ", now), 0);
    assert_int_equal(wk_poll_retry_after(503, "Fri, 05 Jul 2024 06:58:06 GMT", now), 10 * SEC);
    assert_int_equal(wk_poll_retry_after(429, "soon", now), -1);
    assert_int_equal(wk_poll_retry_after(429, NULL, now), -1);
    assert_int_equal(wk_poll_retry_after(500, "7", now), -1); /* only 429 and 503 */
    assert_int_equal(wk_poll_retry_after(200, "7", now), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_gates_dispatch_fifo),
        cmocka_unit_test(test_budget_long_run_bound),
        cmocka_unit_test(test_backoff_delay_math),
        cmocka_unit_test(test_reschedule_backs_off_and_resets),
        cmocka_unit_test(test_retry_after_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
