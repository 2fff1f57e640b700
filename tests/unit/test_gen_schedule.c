/* Unit tests of gen/schedule: wait ranges, batch waits, rate pacing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/clock.h"
#include "gen/schedule.h"

#define SEC EX_NS_PER_SEC
#define MS EX_NS_PER_MS

static gen_range range_ok(const char *text)
{
    gen_range r;
    char why[256] = "";
    if (gen_range_parse(text, &r, why, sizeof why)) fail_msg("\"%s\" rejected: %s", text, why);
    return r;
}

static void range_bad(const char *text, const char *part)
{
    gen_range r;
    char why[256] = "";
    if (gen_range_parse(text, &r, why, sizeof why) == 0) fail_msg("\"%s\" accepted", text);
    if (!strstr(why, part)) fail_msg("\"%s\": reason \"%s\" does not name \"%s\"", text, why, part);
}

static void test_range_parse(void **state)
{
    gen_range r = range_ok("1s-19s");
    assert_int_equal(r.lo, 1 * SEC);
    assert_int_equal(r.hi, 19 * SEC);
    r = range_ok("500ms");
    assert_int_equal(r.lo, 500 * MS);
    assert_int_equal(r.hi, 500 * MS);
    r = range_ok("0s");
    assert_int_equal(r.lo, 0);
    assert_int_equal(r.hi, 0);
    r = range_ok("250ms-1m30s");
    assert_int_equal(r.lo, 250 * MS);
    assert_int_equal(r.hi, 90 * SEC);
    r = range_ok("2s-2s");
    assert_int_equal(r.lo, r.hi);
}

static void test_range_errors(void **state)
{
    range_bad("19s-1s", "lower bound 19s is above upper bound 1s");
    range_bad("x", "not a duration");
    range_bad("1s-", "missing upper bound");
    range_bad("-1s", "missing lower bound");
    range_bad("1s-x", "upper bound \"x\"");
    range_bad("y-2s", "lower bound \"y\"");
    range_bad("5", "missing unit");
    range_bad("", "empty");
    range_bad("1s-2s-3s", "more than one '-'");
}

static void test_range_format(void **state)
{
    char buf[GEN_RANGE_STR_MAX];
    gen_range r = range_ok("1s-19s");
    assert_string_equal(gen_range_format(&r, buf), "1s-19s");
    r = range_ok("500ms");
    assert_string_equal(gen_range_format(&r, buf), "500ms");
}

static void test_range_draw_inclusive(void **state)
{
    ex_rng rng;
    gen_range r = {10, 13};
    int seen[4] = {0};
    ex_rng_seed(&rng, 5);
    for (int i = 0; i < 2000; i++) {
        int64_t w = gen_range_draw(&r, &rng);
        assert_in_range(w, 10, 13);
        seen[w - 10]++;
    }
    for (int i = 0; i < 4; i++) assert_true(seen[i] > 300); /* both ends reached, roughly uniform */
    gen_range fixed = {7 * SEC, 7 * SEC};
    assert_int_equal(gen_range_draw(&fixed, &rng), 7 * SEC);
}

static void test_batch_wait_range(void **state)
{
    ex_rng rng;
    ex_rng_seed(&rng, 9);
    int64_t w = 4 * 60 * SEC, min = w, max = 0;
    for (int i = 0; i < 5000; i++) {
        int64_t d = gen_batch_wait_draw(w, &rng);
        assert_true(d >= w / 2 && d < w);
        if (d < min) min = d;
        if (d > max) max = d;
    }
    /* The draws spread over the whole [w/2, w) interval. */
    assert_true(min < w / 2 + w / 50);
    assert_true(max > w - w / 50);
    assert_int_equal(gen_batch_wait_draw(0, &rng), 0);
    assert_int_equal(gen_batch_wait_draw(1, &rng), 0);
    for (int i = 0; i < 50; i++) assert_in_range(gen_batch_wait_draw(3, &rng), 1, 2); /* [1, 3) */
}

static void test_wait_mode_gaps(void **state)
{
    ex_rng rng;
    gen_plan plan = {.count = 7, .batch_size = 3, .event_wait = {2 * SEC, 2 * SEC}, .batch_wait = 10 * SEC};
    gen_schedule s;
    ex_rng_seed(&rng, 11);
    gen_schedule_init(&s, &plan, &rng, 1000);
    static const gen_gap_kind want[] = {GEN_GAP_EVENT, GEN_GAP_EVENT, GEN_GAP_BATCH,
                                        GEN_GAP_EVENT, GEN_GAP_EVENT, GEN_GAP_BATCH};
    int64_t now = 5 * SEC;
    for (int64_t next = 1; next < plan.count; next++) {
        gen_gap_kind kind;
        int64_t due = gen_schedule_due(&s, next, now, &kind);
        assert_int_equal(kind, want[next - 1]);
        if (kind == GEN_GAP_EVENT) assert_int_equal(due - now, 2 * SEC);
        else assert_true(due - now >= 5 * SEC && due - now < 10 * SEC);
        now = due + 3 * MS; /* sending takes a little time */
    }
    assert_int_equal(gen_plan_batches(&plan), 3);
    assert_true(gen_plan_batch_start(&plan, 0) && gen_plan_batch_start(&plan, 6));
    assert_false(gen_plan_batch_start(&plan, 4));
}

static void test_wait_mode_reproducible(void **state)
{
    ex_rng a, b;
    gen_plan plan = {.count = 50, .batch_size = 5, .event_wait = {1 * SEC, 19 * SEC}, .batch_wait = 4 * 60 * SEC};
    gen_schedule sa, sb;
    ex_rng_seed(&a, 123);
    ex_rng_seed(&b, 123);
    gen_schedule_init(&sa, &plan, &a, 0);
    gen_schedule_init(&sb, &plan, &b, 0);
    int distinct = 0;
    int64_t prev = -1;
    for (int64_t next = 1; next < plan.count; next++) {
        gen_gap_kind ka, kb;
        int64_t da = gen_schedule_due(&sa, next, 0, &ka), db = gen_schedule_due(&sb, next, 0, &kb);
        assert_int_equal(da, db);
        if (ka == GEN_GAP_EVENT) {
            assert_true(da >= 1 * SEC && da <= 19 * SEC);
            distinct += da != prev;
            prev = da;
        }
    }
    assert_true(distinct > 30); /* really random, not a constant */
}

static void test_rate_pacing_absolute(void **state)
{
    gen_plan plan = {.count = 1000, .batch_size = 5, .event_wait = {SEC, SEC}, .batch_wait = 60 * SEC, .rate = 200};
    gen_schedule s;
    ex_rng rng;
    ex_rng_seed(&rng, 1);
    int64_t start = 77 * SEC;
    gen_schedule_init(&s, &plan, &rng, start);
    gen_gap_kind kind;
    /* Due times depend on the index only: a late send does not push the rest. */
    assert_int_equal(gen_schedule_due(&s, 1, start + 40 * MS, &kind), start + 5 * MS);
    assert_int_equal(kind, GEN_GAP_RATE);
    assert_int_equal(gen_schedule_due(&s, 5, start, &kind), start + 25 * MS); /* no batch wait */
    assert_int_equal(kind, GEN_GAP_RATE);
    assert_int_equal(gen_schedule_due(&s, 999, start, &kind), start + 4995 * MS);
    plan.rate = 3;
    gen_schedule_init(&s, &plan, &rng, start);
    assert_int_equal(gen_schedule_due(&s, 3, 0, &kind), start + SEC);
    assert_int_equal(gen_schedule_due(&s, 300, 0, &kind), start + 100 * SEC);
    plan.rate = 0.5;
    gen_schedule_init(&s, &plan, &rng, start);
    assert_int_equal(gen_schedule_due(&s, 1, 0, &kind), start + 2 * SEC);
}

/* due_by(t) counts exactly the events whose gen_schedule_due is <= t. */
static void test_rate_due_by(void **state)
{
    static const double rates[] = {0.5, 3, 200, 7777.7, 20000, 1e7};
    ex_rng rng;
    ex_rng_seed(&rng, 2);
    for (size_t r = 0; r < sizeof rates / sizeof *rates; r++) {
        gen_plan plan = {.count = 100000, .batch_size = 5, .rate = rates[r]};
        gen_schedule s;
        gen_gap_kind kind;
        int64_t start = 5 * SEC + 123;
        gen_schedule_init(&s, &plan, &rng, start);
        assert_int_equal(gen_schedule_due_by(&s, start - 1), 0);
        assert_int_equal(gen_schedule_due_by(&s, start), 1);
        assert_int_equal(gen_schedule_due_by(&s, INT64_MAX / 2), plan.count);
        for (int64_t i = 1; i < plan.count; i += 1 + i / 7) {
            int64_t due = gen_schedule_due(&s, i, 0, &kind);
            if (gen_schedule_due_by(&s, due) != i + 1) fail_msg("rate %g: due_by(due(%lld)) is not %lld", rates[r], (long long)i, (long long)i + 1);
            if (gen_schedule_due_by(&s, due - 1) != i) fail_msg("rate %g: due_by(due(%lld) - 1) is not %lld", rates[r], (long long)i, (long long)i);
        }
    }
}

/* A sender driven by gen_schedule_batch on a simulated clock: each batch
 * costs fixed + per_event ns, and once (at stall_at events) the sender is
 * stalled for stall ns. Checks that no event goes early or later than a
 * tick plus one batch's cost (outside the stall), and returns the finish
 * time; *wakes and *batches count the wake-ups and the batches, *biggest
 * the largest batch. */
typedef struct sim_sender {
    int64_t fixed, per_event, stall_at, stall, max, tick;
    int64_t wakes, batches, biggest;
} sim_sender;

static int64_t simulate(const gen_plan *plan, int64_t start, sim_sender *x)
{
    gen_schedule s;
    ex_rng rng;
    gen_gap_kind kind;
    ex_rng_seed(&rng, 1);
    gen_schedule_init(&s, plan, &rng, start);
    int64_t now = start, sent = 0, stalled = 0, last_batch = INT64_MIN / 2;
    while (sent < plan->count) {
        int64_t wake = -1;
        int64_t n = gen_schedule_batch(&s, sent, now, x->max, x->tick, &wake);
        if (n == 0) {
            int64_t next = gen_schedule_due(&s, sent, 0, &kind);
            assert_true(wake > now);
            /* The next due time, or the end of the tick begun by the last batch. */
            assert_true(wake == (next > last_batch + x->tick ? next : last_batch + x->tick));
            now = wake;
            x->wakes++;
            continue;
        }
        assert_true(n <= x->max);
        assert_true(n == x->max || now >= last_batch + x->tick); /* one batch a tick unless behind */
        last_batch = now;
        assert_true(gen_schedule_due(&s, sent + n - 1, 0, &kind) <= now); /* none early */
        int64_t late = now - gen_schedule_due(&s, sent, 0, &kind);
        if (!stalled && late > x->tick + x->fixed + x->per_event * x->max)
            fail_msg("event %lld sent %lld ns late", (long long)sent, (long long)late);
        sent += n;
        x->batches++;
        if (n > x->biggest) x->biggest = n;
        now += x->fixed + x->per_event * n;
        if (!stalled && sent >= x->stall_at && x->stall > 0) {
            now += x->stall;
            stalled = 1;
        }
    }
    return now;
}

/* One million events at 20,000/s: a tick's worth per wake-up, never a
 * sleep per event, and done when the last one is due (+ about a tick). */
static void test_rate_ticks_not_events(void **state)
{
    gen_plan plan = {.count = 1000000, .batch_size = 5, .rate = 20000};
    sim_sender x = {.fixed = 40 * 1000, .per_event = 300, .max = 1024, .tick = MS};
    int64_t start = 1000 * SEC;
    int64_t end = simulate(&plan, start, &x);
    int64_t last_due = start + INT64_C(49999950000); /* (N - 1) / rate = 49.99995 s */
    assert_true(end >= last_due);
    assert_true(end - last_due <= 2 * MS);
    double rate = (double)plan.count * (double)SEC / (double)(end - start);
    assert_true(rate >= 19995 && rate <= 20001);
    /* About 50 s of 1 ms ticks: 50,000 batches and wake-ups, not a million. */
    assert_true(x.wakes <= 51000);
    assert_true(x.batches <= 51000 && x.batches >= 49000);
    if (x.biggest < 15 || x.biggest > 30) fail_msg("largest batch %lld (wakes %lld, batches %lld)", (long long)x.biggest, (long long)x.wakes, (long long)x.batches);
}

/* A 300 ms stall is caught up in batches of at most `max`, then the pace
 * returns: the average rate holds. */
static void test_rate_catches_up(void **state)
{
    gen_plan plan = {.count = 200000, .batch_size = 5, .rate = 20000};
    sim_sender x = {.fixed = 40 * 1000, .per_event = 300, .max = 1024, .tick = MS, .stall_at = 50000, .stall = 300 * MS};
    int64_t start = 7 * SEC;
    int64_t end = simulate(&plan, start, &x);
    assert_int_equal(x.biggest, 1024); /* 6,000 events were due at once: sent 1,024 at a time */
    assert_true(end - (start + INT64_C(9999950000)) <= 2 * MS);
}

/* Slow rates: one event per wake-up, woken at its due time exactly. */
static void test_rate_slow_wakes_on_time(void **state)
{
    gen_plan plan = {.count = 20, .batch_size = 5, .rate = 3};
    sim_sender x = {.fixed = 40 * 1000, .per_event = 300, .max = 20, .tick = MS};
    int64_t start = 3 * SEC;
    int64_t end = simulate(&plan, start, &x);
    assert_int_equal(x.batches, 20);
    assert_int_equal(x.biggest, 1);
    assert_int_equal(x.wakes, 19);
    assert_int_equal(end, start + 19 * SEC / 3 + x.fixed + x.per_event); /* the last one at its due time */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_parse),
        cmocka_unit_test(test_range_errors),
        cmocka_unit_test(test_range_format),
        cmocka_unit_test(test_range_draw_inclusive),
        cmocka_unit_test(test_batch_wait_range),
        cmocka_unit_test(test_wait_mode_gaps),
        cmocka_unit_test(test_wait_mode_reproducible),
        cmocka_unit_test(test_rate_pacing_absolute),
        cmocka_unit_test(test_rate_due_by),
        cmocka_unit_test(test_rate_ticks_not_events),
        cmocka_unit_test(test_rate_catches_up),
        cmocka_unit_test(test_rate_slow_wakes_on_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
