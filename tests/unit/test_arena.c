/* test_arena.c — the bump allocator (src/core/arena.c): allocations are
 * aligned and do not overlap, within a chunk and across chunks, one larger
 * than a chunk gets a chunk of its own, a reset keeps at most `keep` bytes
 * of chunks and reuses them, and running out of memory returns NULL and
 * leaves the arena usable. */
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/mem.h"

static void test_aligned_and_distinct(void **state)
{
    (void)state;
    ex_arena a;
    ex_arena_init(&a, 1024, 0);
    assert_int_equal(ex_arena_held(&a), 0);
    unsigned char *p[200];
    for (size_t i = 0; i < 200; i++) {
        size_t n = i % 37; /* 0 included */
        p[i] = ex_arena_alloc(&a, n);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % alignof(max_align_t), 0);
        memset(p[i], (int)i, n ? n : 1);
    }
    /* every block still holds what was written: none overlapped another */
    for (size_t i = 0; i < 200; i++) {
        size_t n = i % 37 ? i % 37 : 1;
        for (size_t k = 0; k < n; k++) assert_int_equal(p[i][k], (unsigned char)i);
    }
    assert_true(ex_arena_held(&a) >= 200 * alignof(max_align_t));
    ex_arena_free(&a);
    assert_int_equal(ex_arena_held(&a), 0);
}

static void test_big_and_reset(void **state)
{
    (void)state;
    ex_arena a;
    ex_arena_init(&a, 4096, 8192);
    unsigned char *big = ex_arena_alloc(&a, 10000); /* more than a chunk */
    assert_non_null(big);
    memset(big, 1, 10000);
    assert_true(ex_arena_held(&a) >= 10000);
    for (int i = 0; i < 10; i++) assert_non_null(ex_arena_alloc(&a, 1000));
    assert_true(ex_arena_held(&a) > 8192);
    ex_arena_reset(&a);
    size_t kept = ex_arena_held(&a);
    assert_true(kept <= 8192);
    assert_true(kept > 0);
    /* what fits in the kept chunks takes no new one */
    assert_non_null(ex_arena_alloc(&a, 1000));
    assert_non_null(ex_arena_alloc(&a, 1000));
    assert_int_equal(ex_arena_held(&a), kept);
    ex_arena_reset(&a);
    ex_arena_free(&a);
    /* keep 0: a reset gives everything back */
    ex_arena_init(&a, 0, 0);
    assert_non_null(ex_arena_alloc(&a, 10));
    ex_arena_reset(&a);
    assert_int_equal(ex_arena_held(&a), 0);
    assert_non_null(ex_arena_alloc(&a, 10));
    ex_arena_free(&a);
}

static void test_out_of_memory(void **state)
{
    (void)state;
    ex_arena a;
    ex_arena_init(&a, 256, 1 << 20);
    assert_non_null(ex_arena_alloc(&a, 100));
    ex_mem_fail_after(0);
    assert_null(ex_arena_alloc(&a, 1000)); /* needs a new chunk */
    assert_non_null(ex_arena_alloc(&a, 100)); /* still fits the first */
    ex_mem_fail_after(-1);
    assert_null(ex_arena_alloc(&a, SIZE_MAX - 8)); /* too big to round up */
    assert_non_null(ex_arena_alloc(&a, 1000));
    ex_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aligned_and_distinct),
        cmocka_unit_test(test_big_and_reset),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
