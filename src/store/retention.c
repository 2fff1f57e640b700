/* retention.c — the retention timer (see retention.h). */
#include "store/retention.h"

#include <inttypes.h>

#include "core/duration.h"
#include "core/log.h"
#include "core/mem.h"

struct sret {
    uv_timer_t timer;
    sdb *db;               /* not owned */
    const ex_clock *clock; /* not owned */
    sret_cfg cfg;
    int64_t cutoff_ns;     /* of the pass in progress */
    uint64_t pass_deleted; /* traces deleted in the pass in progress */
    uint64_t deleted;      /* traces deleted since start */
    int in_pass;           /* a pass is between chunks */
};

static uint64_t interval_ms(const sret *r)
{
    int64_t ms = r->cfg.interval_ns / 1000000;
    return ms > 0 ? (uint64_t)ms : 1;
}

static void tick_cb(uv_timer_t *t)
{
    sret *r = t->data;
    if (!r->in_pass) {
        r->cutoff_ns = ex_clock_now(r->clock) - r->cfg.retention_ns;
        r->pass_deleted = 0;
        r->in_pass = 1;
    }
    long n = sdb_retention_step(r->db, r->cutoff_ns, r->cfg.chunk);
    if (n < 0) {
        char d[EX_DURATION_STR_MAX];
        ex_error("retention", "deleting old traces failed (will retry in %s): %s",
                 ex_duration_format(r->cfg.interval_ns, d), sdb_errmsg(r->db));
        r->in_pass = 0;
        uv_timer_start(&r->timer, tick_cb, interval_ms(r), 0);
        return;
    }
    r->pass_deleted += (uint64_t)n;
    r->deleted += (uint64_t)n;
    if ((size_t)n == r->cfg.chunk) {
        /* More to do: yield to the loop (pending ingest), then go on. */
        uv_timer_start(&r->timer, tick_cb, 0, 0);
        return;
    }
    if (r->pass_deleted) {
        char buf[EX_DURATION_STR_MAX];
        ex_info("retention", "deleted %" PRIu64 " traces that ended more than %s ago", r->pass_deleted,
                ex_duration_format(r->cfg.retention_ns, buf));
    }
    r->in_pass = 0;
    uv_timer_start(&r->timer, tick_cb, interval_ms(r), 0);
}

sret *sret_start(uv_loop_t *loop, sdb *db, const ex_clock *clock, const sret_cfg *cfg)
{
    sret *r = ex_calloc(1, sizeof *r);
    if (!r) return NULL;
    r->db = db;
    r->clock = clock;
    r->cfg = *cfg;
    if (!r->cfg.chunk) r->cfg.chunk = 1;
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    uv_timer_start(&r->timer, tick_cb, 0, 0);
    return r;
}

uint64_t sret_deleted(const sret *r)
{
    return r->deleted;
}

static void closed_cb(uv_handle_t *h)
{
    ex_free(h->data);
}

void sret_stop(sret *r)
{
    if (!r) return;
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, closed_cb);
}
