/* plan.h — what the demo's time scale means for each child (pure).
 *
 * The demo runs the seed's system faster than real time: the API simulator
 * runs `scale` simulated seconds per real second, so the worker's poll
 * schedule and the generator's waits are divided by the same factor (with
 * floors, so a huge scale cannot make anything spin). Timestamps stay real
 * time (the simulator shrinks durations, not the clock), so the UI's
 * default "last hour" shows the demo's workflows. */
#ifndef EXTRACE_DEMO_PLAN_H
#define EXTRACE_DEMO_PLAN_H
#include <stddef.h>
#include <stdint.h>

#define DM_BATCH_SIZE 5 /* the seed's batch size */

/* Durations handed to the children, in real nanoseconds. */
typedef struct dm_plan {
    int64_t initial_delay_ns; /* worker --initial-delay: 5 s / scale, ≥ 50 ms */
    int64_t interval_ns;      /* worker --interval: 10 s / scale, ≥ 50 ms */
    int64_t timeout_ns;       /* worker --timeout: 30 min / scale, ≥ 1 s */
    int64_t bsp_delay_ns;     /* worker OTEL_BSP_SCHEDULE_DELAY: 5 s / scale, ≥ 100 ms */
    int batch_size;           /* generator --batch-size */
    int64_t batch_wait_ns;    /* generator --batch-wait: 4 min / scale, ≥ 1 ms */
    int64_t event_wait_lo_ns; /* generator --event-wait low end: 1 s / scale, ≥ 1 ms */
    int64_t event_wait_hi_ns; /* generator --event-wait high end: 19 s / scale, ≥ the low end */
    int64_t gen_real_max_ns;  /* longest the generator can take, real time */
} dm_plan;

/* Fill *out for `workflows` workflows at `scale` (≥ 1). Durations are whole
 * milliseconds. */
void dm_plan_make(int64_t workflows, double scale, dm_plan *out);

#endif
