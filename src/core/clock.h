/* clock.h — where "now" comes from.
 *
 * Times are int64 nanoseconds since the Unix epoch (UTC). Three kinds:
 *   real    the system's wall clock;
 *   scaled  starts at the real time of creation and runs `scale` times
 *           faster (600: ten simulated minutes per real second);
 *   fake    stands still until a test moves it (ex_clock_advance/set).
 * Pure logic takes an ex_clock* so tests inject a fake one. */
#ifndef EXTRACE_CORE_CLOCK_H
#define EXTRACE_CORE_CLOCK_H
#include <stdint.h>

#define EX_NS_PER_US  INT64_C(1000)
#define EX_NS_PER_MS  INT64_C(1000000)
#define EX_NS_PER_SEC INT64_C(1000000000)

typedef enum { EX_CLOCK_REAL, EX_CLOCK_SCALED, EX_CLOCK_FAKE } ex_clock_kind;

typedef struct ex_clock {
    ex_clock_kind kind;
    double scale;        /* scaled: simulated seconds per real second */
    int64_t origin_real; /* scaled: real monotonic ns at creation */
    int64_t origin_wall; /* scaled: wall ns at creation; fake: current time */
} ex_clock;

/* The shared real clock (never freed). */
ex_clock *ex_clock_real(void);
/* Initialise a caller-owned clock. */
void ex_clock_init_scaled(ex_clock *c, double scale);
void ex_clock_init_fake(ex_clock *c, int64_t start_ns);
void ex_clock_advance(ex_clock *c, int64_t ns); /* fake clocks only */
void ex_clock_set(ex_clock *c, int64_t ns);     /* fake clocks only */

/* Current time of the clock, ns since the epoch. */
int64_t ex_clock_now(const ex_clock *c);
/* Convert a simulated interval into the real interval it takes (for timers). */
int64_t ex_clock_real_interval(const ex_clock *c, int64_t sim_ns);

/* Monotonic real time in ns, for measuring durations. */
int64_t ex_mono_ns(void);

#endif
