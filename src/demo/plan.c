/* plan.c — scaling the seed's timings down to the demo's time scale. */
#include "demo/plan.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

#include "core/clock.h"

#define MS EX_NS_PER_MS
#define SEC EX_NS_PER_SEC
#define MINUTE (60 * SEC)

/* ns / scale, rounded to whole milliseconds, at least floor_ns. */
static int64_t scaled(int64_t ns, double scale, int64_t floor_ns)
{
    int64_t v = (int64_t)llround((double)ns / scale / (double)MS) * MS;
    return v < floor_ns ? floor_ns : v;
}

void dm_plan_make(int64_t workflows, double scale, dm_plan *out)
{
    if (scale < 1) scale = 1;
    out->initial_delay_ns = scaled(5 * SEC, scale, 50 * MS);
    out->interval_ns = scaled(10 * SEC, scale, 50 * MS);
    out->timeout_ns = scaled(30 * MINUTE, scale, SEC);
    out->bsp_delay_ns = scaled(5 * SEC, scale, 100 * MS);
    out->batch_size = DM_BATCH_SIZE;
    out->batch_wait_ns = scaled(4 * MINUTE, scale, MS);
    out->event_wait_lo_ns = scaled(SEC, scale, MS);
    out->event_wait_hi_ns = scaled(19 * SEC, scale, out->event_wait_lo_ns);
    /* The generator waits between events and between batches, never after
     * the last one: (batches - 1) batch waits and fewer than `workflows`
     * event waits, each at most its upper bound. */
    int64_t batches = (workflows + out->batch_size - 1) / out->batch_size;
    out->gen_real_max_ns = (batches > 0 ? batches - 1 : 0) * out->batch_wait_ns + workflows * out->event_wait_hi_ns;
}

