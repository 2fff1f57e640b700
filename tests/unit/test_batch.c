/* The batch queue without I/O: queue bound and drop accounting, batch
 * sizing and order, and when each submission's callback is due (all
 * delivered, partial drops, rejected spans, several exporters). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "otel/batch.h"

/* What the due list reported for one submission. */
typedef struct outcome {
    int calls;
    int delivered;
} outcome;

static void record_cb(void *arg, int delivered)
{
    outcome *o = arg;
    o->calls++;
    o->delivered = delivered;
}

/* Drain the due list, calling each callback; returns how many were due. */
static int drain(exo_batch_queue *q)
{
    exo_bq_done_cb cb;
    void *arg;
    int delivered, n = 0;
    while (exo_bq_next_due(q, &cb, &arg, &delivered)) {
        if (cb) cb(arg, delivered);
        n++;
    }
    return n;
}

/* Submit n fresh spans named "<tag>-<i>". */
static size_t submit(exo_batch_queue *q, const char *tag, size_t n, outcome *o)
{
    exo_span *spans[64];
    char name[32];
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%s-%zu", tag, i);
        spans[i] = exo_span_new(name, EXO_KIND_INTERNAL);
        assert_non_null(spans[i]);
    }
    return exo_bq_submit(q, spans, n, record_cb, o);
}

static void test_batches_in_order_and_sized(void **state)
{
    (void)state;
    exo_batch_queue q;
    exo_bq_init(&q, 100, 1);
    outcome a = {0}, b = {0};
    assert_int_equal(submit(&q, "a", 5, &a), 0);
    assert_int_equal(submit(&q, "b", 4, &b), 0);
    assert_int_equal(exo_bq_queued(&q), 9);
    assert_false(exo_bq_has_due(&q));

    exo_batch *b1 = exo_bq_take(&q, 4);
    exo_batch *b2 = exo_bq_take(&q, 4);
    exo_batch *b3 = exo_bq_take(&q, 4);
    assert_null(exo_bq_take(&q, 4));
    assert_int_equal(b1->n, 4);
    assert_int_equal(b2->n, 4);
    assert_int_equal(b3->n, 1);
    assert_true(b1->seq < b2->seq && b2->seq < b3->seq);
    assert_string_equal(b1->spans[0]->name, "a-0");
    assert_string_equal(b2->spans[0]->name, "a-4");
    assert_string_equal(b2->spans[1]->name, "b-0");
    assert_string_equal(b3->spans[0]->name, "b-3");
    assert_int_equal(q.in_batches, 9);

    /* "a" spans live in b1 and b2: not done until both are delivered. */
    assert_int_equal(exo_bq_batch_done(&q, b1, 1, 0), 1);
    assert_int_equal(drain(&q), 0);
    assert_int_equal(exo_bq_batch_done(&q, b2, 1, 0), 1);
    assert_int_equal(drain(&q), 1);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.delivered, 1);
    assert_int_equal(b.calls, 0);
    assert_int_equal(exo_bq_batch_done(&q, b3, 1, 0), 1);
    assert_int_equal(drain(&q), 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.delivered, 1);
    assert_int_equal(q.exported, 9);
    assert_int_equal(q.dropped, 0);
    assert_int_equal(q.in_batches, 0);
    exo_bq_free(&q);
}

static void test_queue_bound_drops_and_fails_submission(void **state)
{
    (void)state;
    exo_batch_queue q;
    exo_bq_init(&q, 6, 1);
    outcome a = {0}, b = {0}, c = {0};
    assert_int_equal(submit(&q, "a", 4, &a), 0);
    assert_int_equal(submit(&q, "b", 4, &b), 2); /* 2 fit, 2 dropped */
    assert_int_equal(exo_bq_queued(&q), 6);
    assert_int_equal(q.dropped, 2);
    assert_int_equal(q.dropped_queue_full, 2);

    /* b fails at once, although two of its spans are still queued. */
    assert_int_equal(drain(&q), 1);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.delivered, 0);

    /* Once room is made, the queue accepts spans again. */
    exo_batch *x = exo_bq_take(&q, 3);
    assert_int_equal(submit(&q, "c", 3, &c), 0);
    assert_int_equal(exo_bq_queued(&q), 6);
    assert_int_equal(exo_bq_batch_done(&q, x, 1, 0), 1);
    exo_batch *y = exo_bq_take(&q, 10);
    assert_int_equal(y->n, 6);
    assert_int_equal(exo_bq_batch_done(&q, y, 1, 0), 1);
    assert_int_equal(drain(&q), 2);
    assert_int_equal(a.delivered, 1);
    assert_int_equal(c.delivered, 1);
    assert_int_equal(b.calls, 1); /* never called twice */
    assert_int_equal(q.exported, 9);
    assert_int_equal(q.dropped, 2);
    exo_bq_free(&q);
}

static void test_empty_submission_and_null_cb(void **state)
{
    (void)state;
    exo_batch_queue q;
    exo_bq_init(&q, 4, 2);
    outcome a = {0};
    assert_int_equal(exo_bq_submit(&q, NULL, 0, record_cb, &a), 0);
    assert_int_equal(drain(&q), 1);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.delivered, 1);

    exo_span *s = exo_span_new("x", EXO_KIND_INTERNAL);
    assert_int_equal(exo_bq_submit(&q, &s, 1, NULL, NULL), 0);
    exo_batch *b = exo_bq_take(&q, 8);
    assert_int_equal(exo_bq_batch_done(&q, b, 1, 0), 0);
    assert_int_equal(exo_bq_batch_done(&q, b, 1, 0), 1);
    exo_bq_done_cb cb;
    void *arg;
    int delivered;
    assert_int_equal(exo_bq_next_due(&q, &cb, &arg, &delivered), 1);
    assert_null(cb);
    assert_int_equal(delivered, 1);
    exo_bq_free(&q);
}

static void test_two_exporters_one_fails(void **state)
{
    (void)state;
    exo_batch_queue q;
    exo_bq_init(&q, 100, 2);
    outcome a = {0}, b = {0};
    submit(&q, "a", 2, &a);
    submit(&q, "b", 2, &b);
    exo_batch *b1 = exo_bq_take(&q, 2); /* a */
    exo_batch *b2 = exo_bq_take(&q, 2); /* b */

    /* Exporter 1 drops b1: a fails right away, while exporter 2 still has it. */
    assert_int_equal(exo_bq_batch_done(&q, b1, 0, 0), 0);
    assert_int_equal(drain(&q), 1);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.delivered, 0);
    assert_int_equal(exo_bq_batch_done(&q, b1, 1, 0), 1);
    assert_int_equal(drain(&q), 0); /* no second call for a */

    /* b needs both exporters. */
    assert_int_equal(exo_bq_batch_done(&q, b2, 1, 0), 0);
    assert_int_equal(drain(&q), 0);
    assert_int_equal(exo_bq_batch_done(&q, b2, 1, 0), 1);
    assert_int_equal(drain(&q), 1);
    assert_int_equal(b.delivered, 1);

    /* Pairs: 4 spans x 2 exporters = 6 exported + 2 dropped. */
    assert_int_equal(q.exported, 6);
    assert_int_equal(q.dropped, 2);
    assert_int_equal(a.calls, 1);
    exo_bq_free(&q);
}

static void test_partial_rejection_fails_whole_batch(void **state)
{
    (void)state;
    exo_batch_queue q;
    exo_bq_init(&q, 100, 1);
    outcome a = {0}, b = {0}, c = {0};
    submit(&q, "a", 2, &a);
    submit(&q, "b", 2, &b);
    submit(&q, "c", 1, &c);
    exo_batch *b1 = exo_bq_take(&q, 4); /* a + b */
    exo_batch *b2 = exo_bq_take(&q, 4); /* c */
    assert_int_equal(exo_bq_batch_done(&q, b1, 1, 1), 1);
    assert_int_equal(exo_bq_batch_done(&q, b2, 1, 0), 1);
    assert_int_equal(drain(&q), 3);
    assert_int_equal(a.delivered, 0);
    assert_int_equal(b.delivered, 0);
    assert_int_equal(c.delivered, 1);
    assert_int_equal(q.exported, 4);
    assert_int_equal(q.dropped, 1);
    exo_bq_free(&q);
}

static void test_drop_queued_and_rejected_clamped(void **state)
{
    (void)state;
    exo_batch_queue q;
    exo_bq_init(&q, 100, 1);
    outcome a = {0}, b = {0};
    submit(&q, "a", 3, &a);
    submit(&q, "b", 3, &b);
    exo_batch *b1 = exo_bq_take(&q, 2); /* a-0, a-1 */
    assert_int_equal(exo_bq_drop_queued(&q), 4);
    assert_int_equal(exo_bq_queued(&q), 0);
    assert_int_equal(drain(&q), 2);
    assert_int_equal(a.delivered, 0);
    assert_int_equal(b.delivered, 0);
    /* A backend claiming more rejections than spans drops the batch, no more. */
    assert_int_equal(exo_bq_batch_done(&q, b1, 1, 99), 1);
    assert_int_equal(q.dropped, 6);
    assert_int_equal(q.exported, 0);
    assert_int_equal(drain(&q), 0);
    assert_int_equal(a.calls, 1);
    exo_bq_free(&q);
}

static void test_ring_wraps_and_grows(void **state)
{
    (void)state;
    exo_batch_queue q;
    exo_bq_init(&q, 200, 1);
    outcome o[40] = {{0}};
    size_t total = 0;
    /* Interleave submits and takes so head moves around the ring while it grows. */
    for (int round = 0; round < 40; round++) {
        assert_int_equal(submit(&q, "r", (size_t)(round % 7) + 1, &o[round]), 0);
        total += (size_t)(round % 7) + 1;
        if (round % 3 == 2) {
            exo_batch *b = exo_bq_take(&q, 5);
            assert_non_null(b);
            exo_bq_batch_done(&q, b, 1, 0);
        }
    }
    exo_batch *b;
    while ((b = exo_bq_take(&q, 9))) exo_bq_batch_done(&q, b, 1, 0);
    assert_int_equal(drain(&q), 40);
    for (int i = 0; i < 40; i++) {
        assert_int_equal(o[i].calls, 1);
        assert_int_equal(o[i].delivered, 1);
    }
    assert_int_equal(q.exported, total);
    assert_true(q.cap <= 200);
    exo_bq_free(&q);
}

static void test_submission_alloc_failure(void **state)
{
    (void)state;
    exo_batch_queue q;
    exo_bq_init(&q, 10, 1);
    outcome a = {0};
    exo_span *spans[2] = {exo_span_new("x", 1), exo_span_new("y", 1)};
    ex_mem_fail_after(0);
    size_t dropped = exo_bq_submit(&q, spans, 2, record_cb, &a);
    ex_mem_fail_after(-1);
    assert_int_equal(dropped, 2);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.delivered, 0);
    assert_int_equal(q.dropped, 2);
    assert_int_equal(exo_bq_queued(&q), 0);
    exo_bq_free(&q);
}

/* Spans submitted again (a trace exported again) that are dropped count
 * in dropped_again as well, whichever way they are dropped; others not. */
static void test_dropped_again_counted_apart(void **state)
{
    (void)state;
    exo_batch_queue q;
    exo_bq_init(&q, 5, 1);
    outcome a = {0}, b = {0}, c = {0};
    exo_span *again[4], *first[2];
    for (size_t i = 0; i < 4; i++) again[i] = exo_span_new("again", EXO_KIND_INTERNAL);
    for (size_t i = 0; i < 2; i++) first[i] = exo_span_new("first", EXO_KIND_INTERNAL);
    assert_int_equal(exo_bq_submit_again(&q, again, 4, record_cb, &a, 1), 0);
    assert_int_equal(exo_bq_submit(&q, first, 2, record_cb, &b), 1); /* queue full: one "first" dropped */
    assert_int_equal(q.dropped, 1);
    assert_int_equal(q.dropped_again, 0);
    exo_batch *x = exo_bq_take(&q, 10); /* 4 again + 1 first, dropped by the exporter */
    assert_int_equal(exo_bq_batch_done(&q, x, 0, 0), 1);
    assert_int_equal(q.dropped, 6);
    assert_int_equal(q.dropped_again, 4);
    exo_span *more[3];
    for (size_t i = 0; i < 3; i++) more[i] = exo_span_new("more", EXO_KIND_INTERNAL);
    assert_int_equal(exo_bq_submit_again(&q, more, 3, record_cb, &c, 1), 0);
    assert_int_equal(exo_bq_drop_queued(&q), 3); /* shutdown */
    assert_int_equal(q.dropped, 9);
    assert_int_equal(q.dropped_again, 7);
    assert_int_equal(drain(&q), 3);
    assert_int_equal(a.delivered + b.delivered + c.delivered, 0);
    exo_bq_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batches_in_order_and_sized),
        cmocka_unit_test(test_queue_bound_drops_and_fails_submission),
        cmocka_unit_test(test_empty_submission_and_null_cb),
        cmocka_unit_test(test_two_exporters_one_fails),
        cmocka_unit_test(test_partial_rejection_fails_whole_batch),
        cmocka_unit_test(test_drop_queued_and_rejected_clamped),
        cmocka_unit_test(test_ring_wraps_and_grows),
        cmocka_unit_test(test_submission_alloc_failure),
        cmocka_unit_test(test_dropped_again_counted_apart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
