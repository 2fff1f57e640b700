#include "core/clock.h"

#include <time.h>

static ex_clock real_clock = {EX_CLOCK_REAL, 1.0, 0, 0};

static int64_t read_clock(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * EX_NS_PER_SEC + ts.tv_nsec;
}

int64_t ex_mono_ns(void) { return read_clock(CLOCK_MONOTONIC); }

ex_clock *ex_clock_real(void) { return &real_clock; }

void ex_clock_init_scaled(ex_clock *c, double scale)
{
    c->kind = EX_CLOCK_SCALED;
    c->scale = scale > 0 ? scale : 1.0;
    c->origin_real = ex_mono_ns();
    c->origin_wall = read_clock(CLOCK_REALTIME);
}

void ex_clock_init_fake(ex_clock *c, int64_t start_ns)
{
    c->kind = EX_CLOCK_FAKE;
    c->scale = 1.0;
    c->origin_real = 0;
    c->origin_wall = start_ns;
}

void ex_clock_advance(ex_clock *c, int64_t ns)
{
    if (c->kind == EX_CLOCK_FAKE) c->origin_wall += ns;
}

void ex_clock_set(ex_clock *c, int64_t ns)
{
    if (c->kind == EX_CLOCK_FAKE) c->origin_wall = ns;
}

int64_t ex_clock_now(const ex_clock *c)
{
    switch (c->kind) {
    case EX_CLOCK_FAKE:
        return c->origin_wall;
    case EX_CLOCK_SCALED:
        return c->origin_wall + (int64_t)((double)(ex_mono_ns() - c->origin_real) * c->scale);
    case EX_CLOCK_REAL:
    default:
        return read_clock(CLOCK_REALTIME);
    }
}

int64_t ex_clock_real_interval(const ex_clock *c, int64_t sim_ns)
{
    if (c->kind != EX_CLOCK_SCALED) return sim_ns;
    return (int64_t)((double)sim_ns / c->scale);
}
