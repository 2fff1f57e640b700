/* The registry's schedule against a reference model: random adds,
 * dispatches with few slots, reschedules (with and without Retry-After),
 * confirming polls brought forward and removals anywhere, on an injected
 * clock; every dispatch must hand over exactly what the model's earliest
 * (due time, arrival) order says, and the heap's invariants hold after
 * every step. Pure logic: no I/O, no real time. */
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
#define MAXW 1500

/* The model: per workflow, whether it waits, is being polled or is gone,
 * its due time and its arrival number (the order of its last push). */
enum { GONE, WAITING, POLLED };
typedef struct model {
    int state[MAXW];
    int64_t due[MAXW], deadline[MAXW];
    uint64_t seq[MAXW];
    uint64_t next_seq;
    wk_entry *entry[MAXW];
} model;

typedef struct harness {
    wk_registry reg;
    model m;
    int slots;
    int handed[MAXW], nhanded; /* workflow numbers, in the order handed over */
    int expired[MAXW];       /* 1 for each handed one that expired */
} harness;

static int h_has_slot(void *arg) { return ((harness *)arg)->slots > 0; }

static void h_poll(void *arg, wk_entry *e)
{
    harness *h = arg;
    h->slots--;
    h->expired[h->nhanded] = 0;
    h->handed[h->nhanded++] = atoi(e->mon->key + 1);
}

static void h_expire(void *arg, wk_entry *e)
{
    harness *h = arg;
    h->expired[h->nhanded] = 1;
    h->handed[h->nhanded++] = atoi(e->mon->key + 1);
    mdl_monitor_free(wk_registry_remove(&h->reg, e));
}

static const wk_sched_ops h_ops = {h_has_slot, h_poll, h_expire};

/* The waiting workflow the model says comes first, or -1. */
static int model_head(const model *m)
{
    int best = -1;
    for (int i = 0; i < MAXW; i++) {
        if (m->state[i] != WAITING) continue;
        if (best < 0 || m->due[i] < m->due[best] || (m->due[i] == m->due[best] && m->seq[i] < m->seq[best]))
            best = i;
    }
    return best;
}

/* Heap order, indexes that agree, due times that agree with the model. */
static void check(const harness *h)
{
    const wk_registry *r = &h->reg;
    size_t waiting = 0;
    for (size_t i = 0; i < r->nheap; i++) {
        const wk_entry *e = wk_registry_at(r, r->heap[i].idx);
        assert_int_equal(e->heap_idx, i);
        if (i > 0) assert_true(r->heap[WK_HEAP_PARENT(i)].due_ns <= r->heap[i].due_ns);
        int w = atoi(e->mon->key + 1);
        assert_int_equal(h->m.state[w], WAITING);
        assert_int_equal(r->heap[i].due_ns, h->m.due[w]);
    }
    for (int i = 0; i < MAXW; i++) waiting += h->m.state[i] == WAITING;
    assert_int_equal(waiting, r->nheap);
}

static int64_t capped(int64_t due, int64_t deadline) { return due < deadline ? due : deadline; }

static void step(harness *h, ex_rng *pick, int64_t now, int64_t interval)
{
    model *m = &h->m;
    int w = (int)ex_rng_range(pick, 0, MAXW), op = (int)ex_rng_range(pick, 0, 100);
    if (m->state[w] == GONE && op < 60) { /* a new workflow */
        char id[16];
        snprintf(id, sizeof id, "w%d", w);
        int64_t timeout = ex_rng_range(pick, 1, 400) * 100 * MS;
        mdl_monitor *mon = mdl_monitor_new(id, now, now, timeout, MDL_SEED_MAX_NODES, MDL_SEED_MAX_EVENTS);
        assert_non_null(mon);
        assert_int_equal(wk_registry_add(&h->reg, mon, now, &m->entry[w]), 0);
        m->state[w] = WAITING;
        m->deadline[w] = mdl_monitor_deadline(mon);
        m->due[w] = capped(now + h->reg.cfg.initial_delay_ns, m->deadline[w]);
        m->seq[w] = m->next_seq++;
    } else if (m->state[w] == POLLED && op < 70) { /* its poll ended */
        int64_t retry = op < 20 ? ex_rng_range(pick, 0, 30) * SEC : -1;
        assert_int_equal(wk_registry_reschedule_after(&h->reg, m->entry[w], now, retry), 0);
        m->state[w] = WAITING;
        m->due[w] = capped(now + (retry > interval ? retry : interval), m->deadline[w]);
        m->seq[w] = m->next_seq++;
    } else if (m->state[w] == WAITING && op < 15) { /* a webhook asks for a poll soon */
        int64_t by = now + ex_rng_range(pick, 0, 2000) * MS;
        wk_registry_due_by(&h->reg, m->entry[w], by);
        if (by < m->due[w]) m->due[w] = by; /* the arrival number stays */
    } else if (m->state[w] != GONE && op >= 95) { /* gone (cancelled, say), waiting or polled */
        mdl_monitor_free(wk_registry_remove(&h->reg, m->entry[w]));
        m->state[w] = GONE;
    }
}

/* Dispatch at now with `slots` free and compare with the model. */
static void dispatch(harness *h, int64_t now, int slots)
{
    model *m = &h->m;
    h->slots = slots;
    h->nhanded = 0;
    size_t n = wk_registry_dispatch(&h->reg, now, &h_ops, h);
    assert_int_equal(n, h->nhanded);
    for (int k = 0; k < h->nhanded; k++) {
        int want = model_head(m);
        if (h->handed[k] != want) {
            int g = h->handed[k];
            fprintf(stderr, "now %lld got w%d due %lld seq %llu dl %lld state %d; want w%d due %lld seq %llu dl %lld\n",
                    (long long)(now - T0), g, (long long)(m->due[g] - T0), (unsigned long long)m->seq[g],
                    (long long)(m->deadline[g] - T0), m->state[g], want, (long long)(m->due[want] - T0),
                    (unsigned long long)m->seq[want], (long long)(m->deadline[want] - T0));
        }
        assert_int_equal(h->handed[k], want);
        assert_true(m->due[want] <= now);
        int expired = now >= m->deadline[want];
        assert_int_equal(h->expired[k], expired);
        m->state[want] = expired ? GONE : POLLED;
    }
    /* Dispatch stopped for a reason: nothing due, or the head needs a slot. */
    int head = model_head(m);
    if (head >= 0 && m->due[head] <= now) {
        assert_int_equal(h->slots, 0);
        assert_true(now < m->deadline[head]);
    }
}

static void run_model(uint64_t seed, int steps, int64_t interval)
{
    static harness h;
    memset(&h, 0, sizeof h);
    ex_rng jitter, pick;
    ex_rng_seed(&jitter, seed);
    ex_rng_seed(&pick, seed + 1);
    wk_sched_config cfg = {500 * MS, interval, 0, MAXW}; /* no jitter: the model knows every due time */
    wk_registry_init(&h.reg, &cfg, &jitter);
    int64_t now = T0;
    for (int s = 0; s < steps; s++) {
        step(&h, &pick, now, interval);
        if (s % 7 == 0) {
            now += ex_rng_range(&pick, 0, 300) * MS;
            dispatch(&h, now, (int)ex_rng_range(&pick, 0, 40));
        }
        if (s % 97 == 0) check(&h);
    }
    check(&h);
    /* Drain: far in the future every deadline has passed. */
    for (int i = 0; i < MAXW; i++)
        if (h.m.state[i] == POLLED) {
            assert_int_equal(wk_registry_reschedule(&h.reg, h.m.entry[i], now), 0);
            h.m.state[i] = WAITING;
            h.m.due[i] = capped(now + interval, h.m.deadline[i]);
            h.m.seq[i] = h.m.next_seq++;
        }
    while (wk_registry_waiting(&h.reg)) dispatch(&h, now += 10 * SEC, 0);
    assert_int_equal(h.reg.count, 0);
    wk_registry_clear(&h.reg);
}

/* Many workflows with equal intervals (the worker's case): a deep heap,
 * many equal due times broken by arrival. */
static void test_model_equal_intervals(void **state)
{
    (void)state;
    run_model(1, 30000, SEC);
}

/* A longer interval than the steps cover: the heap fills to thousands. */
static void test_model_long_interval(void **state)
{
    (void)state;
    run_model(2, 30000, 20 * SEC);
}

/* Every size from empty to a full last level and back: pops at each
 * size keep the order (children counts 0..WK_HEAP_ARITY at the end). */
static void test_every_size(void **state)
{
    (void)state;
    static harness h;
    memset(&h, 0, sizeof h);
    ex_rng jitter;
    ex_rng_seed(&jitter, 3);
    wk_sched_config cfg = {0, SEC, 0, MAXW};
    wk_registry_init(&h.reg, &cfg, &jitter);
    for (int n = 1; n <= 90; n++) {
        for (int i = 0; i < n; i++) {
            char id[16];
            snprintf(id, sizeof id, "w%d", i);
            /* Due times descending with repeats: every push sifts up. */
            mdl_monitor *mon = mdl_monitor_new(id, T0, T0, 3600 * SEC, MDL_SEED_MAX_NODES, MDL_SEED_MAX_EVENTS);
            assert_int_equal(wk_registry_add(&h.reg, mon, T0 + (n - i) / 2 * MS, &h.m.entry[i]), 0);
            h.m.state[i] = WAITING;
            h.m.due[i] = T0 + (n - i) / 2 * MS;
            h.m.deadline[i] = mdl_monitor_deadline(mon);
            h.m.seq[i] = h.m.next_seq++;
        }
        check(&h);
        while (wk_registry_waiting(&h.reg)) {
            dispatch(&h, T0 + SEC, 1);
            check(&h);
            for (int i = 0; i < n; i++)
                if (h.m.state[i] == POLLED) {
                    mdl_monitor_free(wk_registry_remove(&h.reg, h.m.entry[i]));
                    h.m.state[i] = GONE;
                }
        }
    }
    wk_registry_clear(&h.reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_equal_intervals),
        cmocka_unit_test(test_model_long_interval),
        cmocka_unit_test(test_every_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
