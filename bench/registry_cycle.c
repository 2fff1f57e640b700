/* registry_cycle.c — CPU per scheduling cycle of the worker's registry at
 * two sizes in one process, rounds interleaved: the registry holds SMALL
 * and LARGE workflows, all overdue (a saturated poller), and one cycle
 * is what a poll costs the schedule: dispatch hands over the head (one
 * slot), then the entry is rescheduled an interval later (behind every
 * other). The clock is injected (60 µs a cycle). Built and run by
 * `bench/worker.sh registry`.
 *
 *   registry_cycle [ROUNDS [CYCLES [SMALL [LARGE]]]] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_cpu.h"
#include "core/clock.h"
#include "core/rng.h"
#include "worker/registry.h"

#define T0 (INT64_C(1720162671) * EX_NS_PER_SEC)

typedef struct sched {
    wk_registry reg;
    ex_rng rng;
    int64_t now;
    wk_entry *taken;
} sched;

static int has_slot(void *arg) { return ((sched *)arg)->taken == NULL; }
static void take(void *arg, wk_entry *e) { ((sched *)arg)->taken = e; }
static void expire(void *arg, wk_entry *e)
{
    (void)arg, (void)e;
    fprintf(stderr, "registry_cycle: a deadline passed\n");
    exit(1);
}
static const wk_sched_ops ops = {has_slot, take, expire};

static int fill(sched *s, long n)
{
    wk_sched_config cfg = {0, 100 * EX_NS_PER_MS, 100, (size_t)n};
    ex_rng_seed(&s->rng, 42);
    wk_registry_init(&s->reg, &cfg, &s->rng);
    s->now = T0;
    char id[40];
    for (long i = 0; i < n; i++) {
        /* A GUID-shaped id, as the seed's. */
        snprintf(id, sizeof id, "%08lx-0000-4000-8000-%012lx", (unsigned long)i * 2654435761u % 0xffffffffu,
                 (unsigned long)i);
        mdl_monitor *m = mdl_monitor_new(id, T0, T0, 3600 * EX_NS_PER_SEC, MDL_SEED_MAX_NODES, MDL_SEED_MAX_EVENTS);
        if (!m || wk_registry_add(&s->reg, m, T0 + i * 1000, NULL)) return -1;
    }
    s->now = T0 + n * 1000; /* every one overdue */
    return 0;
}

/* CPU ns per cycle over `cycles` cycles. */
static double run(sched *s, long cycles)
{
    double t0 = cpu_ns();
    for (long i = 0; i < cycles; i++) {
        s->taken = NULL;
        s->now += 60 * EX_NS_PER_US;
        if (wk_registry_dispatch(&s->reg, s->now, &ops, s) != 1) {
            fprintf(stderr, "registry_cycle: nothing due\n");
            exit(1);
        }
        wk_registry_reschedule(&s->reg, s->taken, s->now);
    }
    return (cpu_ns() - t0) / (double)cycles;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    long cycles = argc > 2 ? atol(argv[2]) : 1000000, n[2] = {argc > 3 ? atol(argv[3]) : 10000,
                                                              argc > 4 ? atol(argv[4]) : 1000000};
    if (rounds < 1 || rounds > 100 || cycles < 1 || n[0] < 1 || n[1] < 1)
        return fprintf(stderr, "usage: registry_cycle [ROUNDS [CYCLES [SMALL [LARGE]]]]\n"), 2;
    static sched s[2];
    for (int k = 0; k < 2; k++)
        if (fill(&s[k], n[k])) return fprintf(stderr, "registry_cycle: could not fill %ld\n", n[k]), 1;
    /* One pass over each first: every entry rescheduled once. */
    run(&s[0], n[0]);
    run(&s[1], n[1]);
    double ns[2][100], ratio[100];
    for (int r = 0; r < rounds; r++) {
        ns[0][r] = run(&s[0], cycles);
        ns[1][r] = run(&s[1], cycles);
        ratio[r] = ns[1][r] / ns[0][r];
    }
    for (int k = 0; k < 2; k++) qsort(ns[k], (size_t)rounds, sizeof ns[k][0], cmp_double);
    qsort(ratio, (size_t)rounds, sizeof *ratio, cmp_double);
    int m = rounds / 2, z = rounds - 1;
    printf("%d rounds of %ld cycles (dispatch the head, reschedule it); ns of CPU per cycle, min / median / max\n",
           rounds, cycles);
    printf("%8ld in the registry  %6.1f / %6.1f / %6.1f\n", n[0], ns[0][0], ns[0][m], ns[0][z]);
    printf("%8ld in the registry  %6.1f / %6.1f / %6.1f\n", n[1], ns[1][0], ns[1][m], ns[1][z]);
    printf("large / small               %6.2f / %6.2f / %6.2f\n", ratio[0], ratio[m], ratio[z]);
    for (int k = 0; k < 2; k++) wk_registry_clear(&s[k].reg);
    return 0;
}
