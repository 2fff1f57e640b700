/* bench_cpu.h — what the C micro-benchmarks in bench/ share: the
 * process's CPU time and a comparison for sorting samples (medians). */
#ifndef EXTRACE_BENCH_CPU_H
#define EXTRACE_BENCH_CPU_H
#include <time.h>

/* CPU time of this process so far, in nanoseconds. */
static inline double cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* qsort comparison of doubles, ascending. */
static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#endif
