/* mem_budget.h — a process-wide byte budget shared by several servers.
 *
 * The store's OTLP receivers (HTTP and gRPC, possibly on different
 * threads) take bytes from one budget before they buffer a request body
 * and give them back when the body is freed; a body that does not fit is
 * refused (HTTP 429 / gRPC RESOURCE_EXHAUSTED) instead of being buffered.
 * Taking and giving are lock-free (atomics), so any thread may call them.
 *
 * Refusals are counted; ex_mbud_refusal also says whether this refusal
 * should be logged (at most one log line per `log_every_ns`, reporting how
 * many refusals it stands for), so a flood of refused clients cannot
 * flood the log. Time comes from an injected clock. */
#ifndef EXTRACE_CORE_MEM_BUDGET_H
#define EXTRACE_CORE_MEM_BUDGET_H
#include <stddef.h>
#include <stdint.h>

#include "core/clock.h"

typedef struct ex_mem_budget {
    size_t limit;                 /* bytes that may be taken at once */
    _Atomic size_t used;          /* bytes taken now */
    _Atomic size_t peak;          /* most bytes taken at once since init */
    _Atomic uint64_t refused;     /* refusals since init */
    _Atomic uint64_t unlogged;    /* refusals not yet reported in a log line */
    _Atomic int64_t next_log_ns;  /* earliest time of the next log line */
    int64_t log_every_ns;         /* time between two log lines */
    const ex_clock *clock;        /* for the log rate (not owned) */
} ex_mem_budget;

/* Initialise b with a limit in bytes (0: unlimited), a clock (not owned)
 * and the least time between two refusal log lines. */
void ex_mbud_init(ex_mem_budget *b, size_t limit, const ex_clock *clock, int64_t log_every_ns);
/* Take n bytes: 0 when they fit (used += n), -1 when used + n would pass
 * the limit (nothing taken; count the refusal with ex_mbud_refusal).
 * NULL b always fits. */
int ex_mbud_take(ex_mem_budget *b, size_t n);
/* Give back n bytes taken earlier (NULL b: nothing). */
void ex_mbud_give(ex_mem_budget *b, size_t n);
/* Count one refusal. Returns how many refusals a log line written now
 * should report (this one included), or 0 when the line is not due yet. */
uint64_t ex_mbud_refusal(ex_mem_budget *b);
/* Bytes taken now. */
size_t ex_mbud_used(const ex_mem_budget *b);

#endif
