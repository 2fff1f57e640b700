/* mem_budget.c — a process-wide byte budget (see mem_budget.h). */
#include "core/mem_budget.h"

#include <stdatomic.h>

void ex_mbud_init(ex_mem_budget *b, size_t limit, const ex_clock *clock, int64_t log_every_ns)
{
    b->limit = limit;
    atomic_init(&b->used, 0);
    atomic_init(&b->peak, 0);
    atomic_init(&b->refused, 0);
    atomic_init(&b->unlogged, 0);
    atomic_init(&b->next_log_ns, INT64_MIN);
    b->log_every_ns = log_every_ns;
    b->clock = clock;
}

int ex_mbud_take(ex_mem_budget *b, size_t n)
{
    if (!b || n == 0) return 0;
    size_t cur = atomic_load(&b->used);
    for (;;) {
        if (b->limit && (n > b->limit || cur > b->limit - n)) return -1;
        if (atomic_compare_exchange_weak(&b->used, &cur, cur + n)) break;
    }
    size_t now = cur + n, peak = atomic_load(&b->peak);
    while (now > peak && !atomic_compare_exchange_weak(&b->peak, &peak, now)) {
    }
    return 0;
}

void ex_mbud_give(ex_mem_budget *b, size_t n)
{
    if (b && n) atomic_fetch_sub(&b->used, n);
}

uint64_t ex_mbud_refusal(ex_mem_budget *b)
{
    atomic_fetch_add(&b->refused, 1);
    uint64_t pending = atomic_fetch_add(&b->unlogged, 1) + 1;
    int64_t now = ex_clock_now(b->clock);
    int64_t due = atomic_load(&b->next_log_ns);
    if (now < due) return 0;
    /* One thread wins the right to log this period. */
    if (!atomic_compare_exchange_strong(&b->next_log_ns, &due, now + b->log_every_ns)) return 0;
    uint64_t n = atomic_exchange(&b->unlogged, 0);
    return n ? n : pending;
}

size_t ex_mbud_used(const ex_mem_budget *b)
{
    return atomic_load(&((ex_mem_budget *)b)->used);
}
