/* The registry: map + min-heap of due times, dispatch against a fake
 * poller (slots), jitter bounds with a fixed rng, FIFO waiting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/rng.h"
#include "worker/registry.h"

#define SEC EX_NS_PER_SEC
#define MS  EX_NS_PER_MS
#define T0  (INT64_C(1720162671) * SEC)

/* A fake poller: `slots` free slots; records what dispatch handed over. */
typedef struct fake {
    wk_registry *reg;
    int slots;
    char polled[64][16];
    int npolled;
    char expired[64][16];
    int nexpired;
    wk_entry *running[64]; /* polls "in flight" */
    int nrunning;
} fake;

static int fake_has_slot(void *arg) { return ((fake *)arg)->slots > 0; }

static void fake_poll(void *arg, wk_entry *e)
{
    fake *f = arg;
    assert_int_equal(e->heap_idx, WK_NOT_QUEUED);
    f->slots--;
    snprintf(f->polled[f->npolled++], 16, "%s", e->mon->key);
    f->running[f->nrunning++] = e;
}

static void fake_expire(void *arg, wk_entry *e)
{
    fake *f = arg;
    snprintf(f->expired[f->nexpired++], 16, "%s", e->mon->key);
    mdl_monitor_free(wk_registry_remove(f->reg, e));
}

static const wk_sched_ops fake_ops = {fake_has_slot, fake_poll, fake_expire};

static ex_rng rng;

static void setup_reg(wk_registry *r, int64_t initial, int64_t interval, int permille, size_t max)
{
    wk_sched_config cfg = {initial, interval, permille, max};
    ex_rng_seed(&rng, 42);
    wk_registry_init(r, &cfg, &rng);
}

static wk_entry *add(wk_registry *r, const char *id, int64_t now, int64_t timeout)
{
    mdl_monitor *m = mdl_monitor_new(id, now, now, timeout, MDL_SEED_MAX_NODES, MDL_SEED_MAX_EVENTS);
    wk_entry *e = NULL;
    assert_non_null(m);
    assert_int_equal(wk_registry_add(r, m, now, &e), 0);
    return e;
}

/* Every parent is due no later than its children, and indexes agree. */
static void check_heap(const wk_registry *r)
{
    for (size_t i = 0; i < r->nheap; i++) {
        assert_int_equal(wk_registry_at(r, r->heap[i].idx)->heap_idx, i);
        assert_int_equal(wk_registry_due(r, wk_registry_at(r, r->heap[i].idx)), r->heap[i].due_ns);
        if (i > 0) assert_true(r->heap[WK_HEAP_PARENT(i)].due_ns <= r->heap[i].due_ns);
    }
}

static void test_heap_order(void **state)
{
    (void)state;
    wk_registry r;
    setup_reg(&r, 5 * SEC, 10 * SEC, 0, 1000);
    ex_rng shuffle;
    ex_rng_seed(&shuffle, 7);
    char id[16];
    for (int i = 0; i < 500; i++) {
        snprintf(id, sizeof id, "w%d", i);
        add(&r, id, T0 + ex_rng_range(&shuffle, 0, 1000) * MS, 3600 * SEC);
        check_heap(&r);
    }
    assert_int_equal(r.count, 500);
    assert_int_equal(wk_registry_next_due(&r), r.heap[0].due_ns);
    int64_t last = INT64_MIN;
    size_t n = 0;
    while (wk_registry_waiting(&r)) {
        wk_entry *top = wk_registry_at(&r, r.heap[0].idx);
        int64_t due = wk_registry_due(&r, top);
        assert_true(due >= last);
        last = due;
        /* Dispatch exactly the top by asking at its due time with one slot. */
        fake f = {.reg = &r, .slots = 1};
        assert_int_equal(wk_registry_dispatch(&r, due, &fake_ops, &f), 1);
        assert_int_equal(wk_registry_due(&r, top), INT64_MIN); /* being polled */
        assert_ptr_equal(f.running[0], top);
        check_heap(&r);
        n++;
    }
    assert_int_equal(n, 500);
    assert_int_equal(wk_registry_next_due(&r), INT64_MAX);
    assert_int_equal(wk_registry_clear(&r), 500);
}

static void test_remove_middle(void **state)
{
    (void)state;
    wk_registry r;
    setup_reg(&r, 0, 10 * SEC, 0, 1000);
    wk_entry *e[100];
    char id[16];
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "w%d", i);
        e[i] = add(&r, id, T0 + (i * 37 % 100) * MS, 3600 * SEC); /* due times out of order */
    }
    /* Remove every third, wherever it sits in the heap. */
    for (int i = 0; i < 100; i += 3) {
        mdl_monitor_free(wk_registry_remove(&r, e[i]));
        check_heap(&r);
        snprintf(id, sizeof id, "w%d", i);
        assert_null(wk_registry_find(&r, id));
    }
    assert_int_equal(r.count, 66);
    assert_non_null(wk_registry_find(&r, "w1"));
    int64_t due[100];
    for (int i = 0; i < 100; i++) due[i] = i % 3 ? wk_registry_due(&r, e[i]) : INT64_MIN;
    fake f = {.reg = &r, .slots = 64};
    assert_int_equal(wk_registry_dispatch(&r, T0 + SEC, &fake_ops, &f), 64);
    int prev = -1;
    for (int i = 0; i < f.npolled; i++) {
        int n;
        assert_int_equal(sscanf(f.polled[i], "w%d", &n), 1);
        assert_true(n % 3 != 0);
        if (prev >= 0) assert_true(due[prev] <= due[n]);
        prev = n;
    }
    /* An entry being polled can be removed too (it is not in the heap). */
    mdl_monitor_free(wk_registry_remove(&r, f.running[0]));
    assert_int_equal(r.count, 65);
    wk_registry_clear(&r);
}

/* Entries live in slab chunks: freed slots are reused, addresses stay put
 * while chunks are added, and an empty registry gives its chunks back. */
static void test_slab_reuse(void **state)
{
    (void)state;
    wk_registry r;
    setup_reg(&r, SEC, 10 * SEC, 0, 10000);
    enum { N = 2 * WK_SLAB_CHUNK + 300 };
    static wk_entry *e[N];
    char id[16];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "w%d", i);
        e[i] = add(&r, id, T0 + (i * 7919 % N) * MS, 3600 * SEC);
    }
    assert_int_equal(r.nchunks, 3);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "w%d", i);
        assert_ptr_equal(wk_registry_find(&r, id), e[i]); /* not moved by later chunks */
        assert_ptr_equal(wk_registry_at(&r, e[i]->self), e[i]);
    }
    for (int i = 1; i < N; i += 2) mdl_monitor_free(wk_registry_remove(&r, e[i]));
    check_heap(&r);
    for (int i = 1; i < N; i += 2) {
        snprintf(id, sizeof id, "again%d", i);
        add(&r, id, T0, 3600 * SEC);
    }
    assert_int_equal(r.nchunks, 3); /* the freed slots, no new chunk */
    assert_int_equal(r.count, N);
    check_heap(&r);
    for (int i = 0; i < N; i += 2) mdl_monitor_free(wk_registry_remove(&r, e[i]));
    for (int i = 1; i < N; i += 2) {
        snprintf(id, sizeof id, "again%d", i);
        mdl_monitor_free(wk_registry_remove(&r, wk_registry_find(&r, id)));
    }
    assert_int_equal(r.count, 0);
    assert_int_equal(r.nchunks, 0); /* given back */
    assert_int_equal(wk_registry_waiting(&r), 0);
    add(&r, "after", T0, 3600 * SEC);
    assert_int_equal(wk_registry_next_due(&r), T0 + SEC);
    assert_int_equal(wk_registry_clear(&r), 1);
}

static void test_jitter_bounds(void **state)
{
    (void)state;
    ex_rng_seed(&rng, 1234);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (int i = 0; i < 20000; i++) {
        int64_t v = wk_jitter(&rng, 10 * SEC, 100);
        assert_true(v >= 9 * SEC && v <= 11 * SEC);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    /* Spread over the whole ±10%, not stuck at the centre. */
    assert_true(lo < 9 * SEC + 50 * MS);
    assert_true(hi > 11 * SEC - 50 * MS);
    assert_int_equal(wk_jitter(&rng, 10 * SEC, 0), 10 * SEC);
    assert_int_equal(wk_jitter(&rng, 0, 100), MS); /* never below 1 ms */
    /* The same seed draws the same delays. */
    ex_rng a, b;
    ex_rng_seed(&a, 99);
    ex_rng_seed(&b, 99);
    for (int i = 0; i < 10; i++) assert_int_equal(wk_jitter(&a, 50 * MS, 100), wk_jitter(&b, 50 * MS, 100));
}

static void test_reschedule(void **state)
{
    (void)state;
    wk_registry r;
    setup_reg(&r, 5 * SEC, 10 * SEC, 100, 10);
    wk_entry *e = add(&r, "a", T0, 60 * SEC);
    assert_int_equal(wk_registry_due(&r, e), T0 + 5 * SEC);
    fake f = {.reg = &r, .slots = 10};
    assert_int_equal(wk_registry_dispatch(&r, T0 + 5 * SEC - 1, &fake_ops, &f), 0);
    assert_int_equal(wk_registry_dispatch(&r, T0 + 5 * SEC, &fake_ops, &f), 1);
    assert_int_equal(wk_registry_waiting(&r), 0);
    assert_int_equal(wk_registry_next_due(&r), INT64_MAX);
    int64_t now = T0 + 5 * SEC + 3 * MS;
    assert_int_equal(wk_registry_reschedule(&r, e, now), 0);
    assert_true(wk_registry_due(&r, e) >= now + 9 * SEC && wk_registry_due(&r, e) <= now + 11 * SEC);
    /* Near the deadline the next due time is the deadline itself. */
    assert_int_equal(wk_registry_reschedule(&r, e, T0 + 55 * SEC), 0);
    assert_int_equal(wk_registry_due(&r, e), T0 + 60 * SEC);
    /* At the deadline dispatch expires it, even with no free slot. */
    f.slots = 0;
    assert_int_equal(wk_registry_dispatch(&r, T0 + 60 * SEC, &fake_ops, &f), 1);
    assert_int_equal(f.nexpired, 1);
    assert_string_equal(f.expired[0], "a");
    assert_int_equal(r.count, 0);
    /* A deadline before the initial delay: first due at the deadline. */
    e = add(&r, "b", T0, 2 * SEC);
    assert_int_equal(wk_registry_due(&r, e), T0 + 2 * SEC);
    wk_registry_clear(&r);
}

static void test_fifo_when_full(void **state)
{
    (void)state;
    wk_registry r;
    setup_reg(&r, 100 * MS, 10 * SEC, 0, 100);
    /* Five arrive at the same instant (equal due times), three a bit later. */
    const char *ids[] = {"e0", "e1", "e2", "e3", "e4", "l0", "l1", "l2"};
    for (int i = 0; i < 5; i++) add(&r, ids[i], T0, 3600 * SEC);
    for (int i = 5; i < 8; i++) add(&r, ids[i], T0 + i * MS, 3600 * SEC);
    fake f = {.reg = &r, .slots = 2};
    /* All due; only two slots: the two that arrived first. */
    assert_int_equal(wk_registry_dispatch(&r, T0 + SEC, &fake_ops, &f), 2);
    assert_string_equal(f.polled[0], "e0");
    assert_string_equal(f.polled[1], "e1");
    assert_int_equal(wk_registry_waiting(&r), 6);
    /* No slot: nothing moves, however often the timer fires. */
    assert_int_equal(wk_registry_dispatch(&r, T0 + 2 * SEC, &fake_ops, &f), 0);
    /* Each finished poll frees a slot for the next in line. */
    for (int step = 0; step < 6; step++) {
        wk_entry *done = f.running[step];
        assert_int_equal(wk_registry_reschedule(&r, done, T0 + 2 * SEC), 0);
        f.slots++;
        assert_int_equal(wk_registry_dispatch(&r, T0 + 2 * SEC, &fake_ops, &f), 1);
        assert_string_equal(f.polled[2 + step], ids[2 + step]);
    }
    /* The rescheduled ones are not due before their interval. */
    f.slots = 10;
    assert_int_equal(wk_registry_dispatch(&r, T0 + 11 * SEC, &fake_ops, &f), 0);
    wk_registry_clear(&r);
}

static void test_duplicate_and_capacity(void **state)
{
    (void)state;
    wk_registry r;
    setup_reg(&r, SEC, SEC, 0, 2);
    add(&r, "a", T0, SEC);
    mdl_monitor *m = mdl_monitor_new("a", T0, T0, SEC, MDL_SEED_MAX_NODES, MDL_SEED_MAX_EVENTS);
    assert_int_equal(wk_registry_add(&r, m, T0, NULL), WK_REG_DUPLICATE);
    mdl_monitor_free(m);
    add(&r, "b", T0, SEC);
    m = mdl_monitor_new("c", T0, T0, SEC, MDL_SEED_MAX_NODES, MDL_SEED_MAX_EVENTS);
    assert_int_equal(wk_registry_add(&r, m, T0, NULL), WK_REG_FULL);
    assert_null(wk_registry_find(&r, "c"));
    mdl_monitor_free(m);
    assert_int_equal(r.count, 2);
    /* Room again after a removal. */
    mdl_monitor_free(wk_registry_remove(&r, wk_registry_find(&r, "a")));
    add(&r, "c", T0, SEC);
    assert_int_equal(wk_registry_clear(&r), 2);
    assert_null(wk_registry_find(&r, "b"));
    /* Usable after clear. */
    add(&r, "d", T0, SEC);
    assert_int_equal(wk_registry_clear(&r), 1);
}

/* The map from id to entry under churn: it grows and shrinks, removals
 * shift runs back (also across the end of the slot array), and every
 * entry stays findable, every removed one gone; iteration sees each
 * entry once. */
static void test_map_churn(void **state)
{
    (void)state;
    wk_registry r;
    setup_reg(&r, SEC, 10 * SEC, 0, 100000);
    enum { N = 20000 };
    static wk_entry *e[N];
    static int gone[N];
    static unsigned char seen[N];
    char id[16];
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "w%d", i);
        e[i] = add(&r, id, T0, 3600 * SEC);
        gone[i] = 0;
    }
    assert_true(r.map_cap >= N && r.map_cap <= 4 * N);
    ex_rng pick;
    ex_rng_seed(&pick, 7);
    for (int round = 0; round < 14; round++) {
        for (int k = 0; k < N / 8; k++) {
            int i = (int)ex_rng_range(&pick, 0, N);
            if (gone[i]) continue;
            mdl_monitor_free(wk_registry_remove(&r, e[i]));
            gone[i] = 1;
        }
        size_t live = 0;
        for (int i = 0; i < N; i++) {
            snprintf(id, sizeof id, "w%d", i);
            wk_entry *f = wk_registry_find(&r, id);
            if (gone[i]) assert_null(f);
            else assert_ptr_equal(f, e[i]);
            live += !gone[i];
        }
        assert_int_equal(r.count, live);
        memset(seen, 0, sizeof seen);
        size_t visited = 0;
        for (wk_entry *x = wk_registry_next(&r, NULL); x; x = wk_registry_next(&r, x)) {
            int i = atoi(x->mon->key + 1);
            assert_ptr_equal(x, e[i]);
            assert_int_equal(seen[i], 0);
            seen[i] = 1;
            visited++;
        }
        assert_int_equal(visited, live);
        check_heap(&r);
    }
    assert_true(r.map_cap < N); /* shrank with the entries */
    wk_registry_clear(&r);
    assert_null(wk_registry_find(&r, "w1"));
    /* A small map nearly full: runs wrap around the end of the slots. */
    for (int i = 0; i < 800; i++) {
        snprintf(id, sizeof id, "s%d", i);
        e[i] = add(&r, id, T0, 3600 * SEC);
    }
    for (int i = 0; i < 800; i += 3) mdl_monitor_free(wk_registry_remove(&r, e[i]));
    for (int i = 0; i < 800; i++) {
        snprintf(id, sizeof id, "s%d", i);
        if (i % 3 == 0) assert_null(wk_registry_find(&r, id));
        else assert_ptr_equal(wk_registry_find(&r, id), e[i]);
    }
    wk_registry_clear(&r);
}

/* What an idle workflow costs in the registry (docs/worker.md#memory):
 * these grow only on purpose. */
static void test_sizes(void **state)
{
    (void)state;
    if (sizeof(void *) != 8) skip();
    assert_int_equal(sizeof(wk_entry), 24);
    assert_int_equal(sizeof(wk_due), 16);
}

/* Slack: once the first entry is due, those due within slack_ns leave
 * with it (the bound included); nothing leaves ahead of time while none
 * is due. */
static void test_slack_batches(void **state)
{
    (void)state;
    wk_registry r;
    wk_sched_config cfg = {0, 10 * SEC, 0, 100};
    cfg.slack_ns = MS;
    ex_rng_seed(&rng, 42);
    wk_registry_init(&r, &cfg, &rng);
    add(&r, "a", T0, 3600 * SEC);
    add(&r, "b", T0 + MS / 2, 3600 * SEC);
    add(&r, "c", T0 + MS, 3600 * SEC);
    add(&r, "d", T0 + 3 * MS, 3600 * SEC);
    fake f = {.reg = &r, .slots = 64};
    assert_int_equal(wk_registry_dispatch(&r, T0 - 1, &fake_ops, &f), 0);      /* none due: no batch yet */
    assert_int_equal(wk_registry_dispatch(&r, T0, &fake_ops, &f), 3);          /* a, and b and c a ms on */
    assert_int_equal(wk_registry_dispatch(&r, T0 + 2 * MS, &fake_ops, &f), 0); /* d is not due */
    assert_int_equal(wk_registry_dispatch(&r, T0 + 3 * MS, &fake_ops, &f), 1);
    assert_int_equal(f.npolled, 4);
    assert_int_equal(wk_registry_clear(&r), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heap_order),    cmocka_unit_test(test_remove_middle),
        cmocka_unit_test(test_slab_reuse), cmocka_unit_test(test_slack_batches),
        cmocka_unit_test(test_jitter_bounds), cmocka_unit_test(test_reschedule),
        cmocka_unit_test(test_fifo_when_full), cmocka_unit_test(test_duplicate_and_capacity),
        cmocka_unit_test(test_map_churn),     cmocka_unit_test(test_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
