/* budget.h — a token bucket for the worker's polls, pure.
 *
 * At most `rate` polls a second over all monitors, with bursts of up to
 * `burst` polls: the bucket holds at most `burst` tokens, refills
 * continuously at `rate` tokens a second, and each poll takes one. Time
 * comes in as an argument (unix or monotonic ns, the caller's choice), so
 * the arithmetic is unit-tested with a fake clock. A clock that goes
 * backwards refills nothing. rate 0 means unlimited. */
#ifndef EXTRACE_WORKER_BUDGET_H
#define EXTRACE_WORKER_BUDGET_H
#include <stdint.h>

typedef struct wk_budget {
    double rate;     /* tokens per second; 0 = unlimited */
    double burst;    /* bucket size (at least 1) */
    double tokens;   /* tokens at last_ns */
    int64_t last_ns; /* time tokens was computed; INT64_MIN before first use */
} wk_budget;

/* A full bucket of `burst` tokens (burst < 1 becomes max(rate, 1)),
 * filled at `rate` a second; rate <= 0: unlimited. */
void wk_budget_init(wk_budget *b, double rate, double burst);

/* 1 when the budget limits anything (rate > 0). */
int wk_budget_limited(const wk_budget *b);

/* Take one token at now_ns: 1 if there was one (always, when unlimited), else 0. */
int wk_budget_take(wk_budget *b, int64_t now_ns);

/* The earliest time at which a token is available: INT64_MIN when one is
 * available now (or the bucket is unlimited / not used yet), else the
 * time the refill reaches one token. Taking at that time succeeds. */
int64_t wk_budget_ready_ns(const wk_budget *b);

#endif
