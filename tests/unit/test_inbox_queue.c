/* The bounded queue between the subscriber's thread and the worker's
 * loop: payloads come out whole and in order (empty ones and binary bytes
 * included), the bound counts payload bytes and refuses the message that
 * would pass it, and a taken queue is empty and reusable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "worker/inbox.h"

typedef struct seen {
    int n;
    char text[4096];
} seen;

static void collect(void *arg, const char *payload, size_t len)
{
    seen *s = arg;
    size_t at = strlen(s->text);
    snprintf(s->text + at, sizeof s->text - at, "%d:%.*s|", (int)len, (int)len, payload);
    s->n++;
}

static void test_order_and_bytes(void **state)
{
    (void)state;
    wk_inbox_queue q = {.max_bytes = 1000};
    assert_int_equal(wk_inbox_queue_put(&q, "{\"a\":1}", 7), 0);
    assert_int_equal(wk_inbox_queue_put(&q, "", 0), 0);
    assert_int_equal(wk_inbox_queue_put(&q, "x\0y", 3), 0);
    seen s = {0};
    wk_inbox_queue_each(&q, collect, &s);
    assert_int_equal(s.n, 3);
    assert_int_equal(memcmp(s.text, "7:{\"a\":1}|0:|3:x", 16), 0);
    assert_int_equal(q.len, 0);
    assert_int_equal(q.payload, 0);
    assert_int_equal(q.refused, 0);
    wk_inbox_queue_free(&q);
}

static void test_bound_refuses_and_counts(void **state)
{
    (void)state;
    wk_inbox_queue q = {.max_bytes = 10};
    assert_int_equal(wk_inbox_queue_put(&q, "12345", 5), 0);
    assert_int_equal(wk_inbox_queue_put(&q, "67890", 5), 0);   /* exactly at the bound */
    assert_int_equal(wk_inbox_queue_put(&q, "x", 1), -1);      /* one byte over */
    assert_int_equal(wk_inbox_queue_put(&q, "", 0), 0);        /* nothing over */
    assert_int_equal(q.refused, 1);
    seen s = {0};
    wk_inbox_queue_each(&q, collect, &s);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.text, "5:12345|5:67890|0:|");
    /* Taken: room again. */
    assert_int_equal(wk_inbox_queue_put(&q, "abcdefghij", 10), 0);
    wk_inbox_queue_free(&q);
    assert_null(q.buf);
}

static void test_grows_past_its_first_buffer(void **state)
{
    (void)state;
    static char big[100000];
    memset(big, 'z', sizeof big);
    wk_inbox_queue q = {.max_bytes = 1 << 20};
    for (int i = 0; i < 5; i++) assert_int_equal(wk_inbox_queue_put(&q, big, sizeof big), 0);
    assert_int_equal(q.payload, 5 * sizeof big);
    seen s = {0};
    wk_inbox_queue_each(&q, collect, &s);
    assert_int_equal(s.n, 5);
    wk_inbox_queue_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_bytes),
        cmocka_unit_test(test_bound_refuses_and_counts),
        cmocka_unit_test(test_grows_past_its_first_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
