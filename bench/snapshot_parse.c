/* snapshot_parse.c — CPU per parse of the seed's answer: the jansson
 * parser (wm_snapshot__parse_dom) against the fast one
 * (wm_snapshot__parse_fast) and wm_snapshot_parse_flags, in one process,
 * rounds interleaved. Built and run by `bench/worker.sh parse`.
 *
 *   snapshot_parse FILE [ROUNDS [N]]   FILE: an answer for workflow "wf-1" */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_cpu.h"
#include "worker/snapshot_int.h"

static wm_snapshot snap;

int main(int argc, char **argv)
{
    static char body[1 << 20];
    if (argc < 2) return fprintf(stderr, "usage: snapshot_parse FILE [ROUNDS [N]]\n"), 2;
    FILE *f = fopen(argv[1], "rb");
    if (!f) return perror(argv[1]), 1;
    size_t len = fread(body, 1, sizeof body, f);
    fclose(f);
    int rounds = argc > 2 ? atoi(argv[2]) : 5, n = argc > 3 ? atoi(argv[3]) : 100000;
    if (rounds < 1 || rounds > 100 || n < 1) return fprintf(stderr, "snapshot_parse: bad ROUNDS or N\n"), 2;
    char why[400];
    if (wm_snapshot__parse_fast(body, len, "wf-1", 0, &snap) != 0) return fprintf(stderr, "not a fast answer\n"), 1;
    double dom[100], fast[100], both[100];
    for (int r = 0; r < rounds; r++) {
        double t0 = cpu_ns();
        for (int i = 0; i < n; i++) wm_snapshot__parse_dom(body, len, "wf-1", 0, &snap, why, sizeof why);
        double t1 = cpu_ns();
        for (int i = 0; i < n; i++) wm_snapshot__parse_fast(body, len, "wf-1", 0, &snap);
        double t2 = cpu_ns();
        for (int i = 0; i < n; i++) wm_snapshot_parse_flags(body, len, "wf-1", 0, &snap, why, sizeof why);
        double t3 = cpu_ns();
        dom[r] = (t1 - t0) / n, fast[r] = (t2 - t1) / n, both[r] = (t3 - t2) / n;
    }
    double ratio[100];
    for (int r = 0; r < rounds; r++) ratio[r] = dom[r] / fast[r];
    qsort(dom, (size_t)rounds, sizeof *dom, cmp_double);
    qsort(fast, (size_t)rounds, sizeof *fast, cmp_double);
    qsort(both, (size_t)rounds, sizeof *both, cmp_double);
    qsort(ratio, (size_t)rounds, sizeof *ratio, cmp_double);
    int m = rounds / 2, z = rounds - 1;
    printf("answer of %zu bytes, %d rounds of %d parses each; ns of CPU per parse, min / median / max\n", len, rounds, n);
    printf("jansson (DOM)          %7.0f / %7.0f / %7.0f\n", dom[0], dom[m], dom[z]);
    printf("fast (yajl callbacks)  %7.0f / %7.0f / %7.0f\n", fast[0], fast[m], fast[z]);
    printf("wm_snapshot_parse      %7.0f / %7.0f / %7.0f\n", both[0], both[m], both[z]);
    printf("jansson / fast         %7.1f / %7.1f / %7.1f\n", ratio[0], ratio[m], ratio[z]);
    return 0;
}
