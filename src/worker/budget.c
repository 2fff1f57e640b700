/* budget.c — token bucket arithmetic; see budget.h. */
#include "worker/budget.h"

#include <math.h>

#define NS_PER_SEC 1e9
/* Refill is computed in doubles: a token that is short by less than this
 * (rounding) counts as whole, so waiting until wk_budget_ready_ns always
 * yields one and the scheduler never re-arms for the same instant. */
#define TOKEN_SLACK 1e-6

void wk_budget_init(wk_budget *b, double rate, double burst)
{
    b->rate = rate > 0 ? rate : 0;
    if (burst < 1) burst = b->rate > 1 ? b->rate : 1;
    b->burst = burst;
    b->tokens = burst;
    b->last_ns = INT64_MIN;
}

int wk_budget_limited(const wk_budget *b) { return b->rate > 0; }

/* Bring tokens up to now_ns. */
static void refill(wk_budget *b, int64_t now_ns)
{
    if (b->last_ns == INT64_MIN || now_ns < b->last_ns) { /* first use, or the clock went back */
        b->last_ns = now_ns;
        return;
    }
    double add = (double)(now_ns - b->last_ns) * b->rate / NS_PER_SEC;
    b->tokens = b->tokens + add > b->burst ? b->burst : b->tokens + add;
    b->last_ns = now_ns;
}

int wk_budget_take(wk_budget *b, int64_t now_ns)
{
    if (b->rate <= 0) return 1;
    refill(b, now_ns);
    if (b->tokens < 1 - TOKEN_SLACK) return 0;
    b->tokens = b->tokens > 1 ? b->tokens - 1 : 0;
    return 1;
}

int64_t wk_budget_ready_ns(const wk_budget *b)
{
    if (b->rate <= 0 || b->last_ns == INT64_MIN || b->tokens >= 1 - TOKEN_SLACK) return INT64_MIN;
    /* Whole nanoseconds, rounded up, but not for a float error of a
     * thousandth of a nanosecond (1 / 10 per second is 100 ms, not 100 ms + 1 ns). */
    double wait = ceil((1 - b->tokens) * NS_PER_SEC / b->rate - 1e-3);
    return b->last_ns + (int64_t)wait;
}
