/* registry.h — the workflows the worker watches, and when each is due.
 *
 * A map from workflow id to entry (open addressing over 32-bit slab
 * indexes, registry_map.c), plus one 4-ary min-heap of due times (ties in
 * arrival order) that drives the worker's single uv_timer: an idle
 * workflow costs its entry, its map slot, its heap element and its
 * monitor, no timer or socket (docs/worker.md#memory).
 * The heap holds values (due time, arrival number, entry index), so that
 * sifting compares within one array instead of following a pointer to a
 * scattered entry per comparison; entries live in chunks of a slab
 * (stable addresses, no malloc header), found by index.
 *
 * An entry is either waiting in the heap (due at its next poll or at its
 * deadline, whichever comes first) or out of it while its poll runs.
 * wk_registry_dispatch pops what is due: a deadline is handed to `expire`
 * at once, a poll only while the poller has a free slot. When the poller
 * is full, due polls stay in the heap and are taken in due order (FIFO)
 * as slots free up. Pure: no I/O; time and randomness come in. */
#ifndef EXTRACE_WORKER_REGISTRY_H
#define EXTRACE_WORKER_REGISTRY_H
#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "worker/budget.h"
#include "model/monitor.h"

#define WK_NOT_QUEUED UINT32_MAX /* wk_entry.heap_idx while a poll runs */
#define WK_MAP_IDX_BITS 27        /* slab indexes below 2^27 - 1 (--max-workflows is at most 10^8) */

/* Error codes of wk_registry_add. */
enum { WK_REG_DUPLICATE = -1, WK_REG_FULL = -2, WK_REG_NOMEM = -3 };

/* One watched workflow (24 bytes on 64-bit targets, in the registry's
 * slab; test_registry pins the size). */
typedef struct wk_entry {
    mdl_monitor *mon;     /* owned; NULL while the slab slot is free */
    uint32_t heap_idx;    /* index in the heap, or WK_NOT_QUEUED while polled (free slot: next free) */
    uint32_t self;        /* this entry's index in the slab */
    uint32_t hash;        /* of mon->key (the map's) */
    uint16_t errors_seen; /* mon->poll_errors at the last reschedule, modulo 2^16 (it moves by 1 a poll) */
    uint16_t failures;    /* consecutive failed polls (backoff exponent) */
} wk_entry;

/* A heap element: when, in what order, which entry. */
typedef struct wk_due {
    int64_t due_ns; /* next poll, or the deadline if that comes first (unix ns) */
    uint32_t seq;   /* arrival order of this due time, breaks ties */
    uint32_t idx;   /* the entry's slab index */
} wk_due;

#define WK_SLAB_CHUNK 1024 /* entries per slab chunk */

/* Scheduling parameters. */
typedef struct wk_sched_config {
    int64_t initial_delay_ns; /* first poll this long after the event */
    int64_t interval_ns;      /* then every interval … */
    int jitter_permille;      /* … ± this many thousandths of it (100 = ±10%) */
    size_t max_entries;       /* most workflows watched at once */
    /* Poll budget and backoff (0 = off / the defaults): */
    double max_polls_per_sec; /* token bucket over all workflows; 0 = unlimited */
    double poll_burst;        /* bucket size; 0 = max_polls_per_sec (at least 1) */
    int64_t backoff_cap_ns;   /* longest delay after failures (default 5 min) */
    int backoff_max_factor;   /* … and at most this many intervals (default 8) */
    int64_t slack_ns;         /* once a poll is due, those due within this much more leave with it (0: none) */
} wk_sched_config;

#define WK_SLACK_MAX_NS 2000000 /* the worker's slack_ns: 2 ms, or a twentieth of a shorter interval */

/* The heap is 4-ary: element i's children are 4i+1 … 4i+4, its parent
 * (i-1)/4. Half the depth of a binary heap (10 levels at 1,000,000
 * waiting, not 20), so a pop moves half as many elements and writes half
 * as many entries' heap_idx, and the children compared at each level
 * share one cache line (the array is placed for that). */
#define WK_HEAP_ARITY     4
#define WK_HEAP_PARENT(i) (((i) - 1) / WK_HEAP_ARITY)

typedef struct wk_registry {
    uint32_t *map;         /* owned: id → entry slots (registry_map.c), map_cap of them */
    uint32_t map_cap;      /* a power of two, or 0 */
    wk_due *heap;          /* min-heap by (due_ns, seq), WK_HEAP_ARITY-ary, inside heap_mem */
    void *heap_mem;        /* owned: the heap's allocation (heap is aligned within it) */
    size_t nheap, heap_cap; /* entries in the heap, slots allocated */
    size_t count;          /* entries in the map */
    wk_entry **chunks;     /* owned: the slab, WK_SLAB_CHUNK entries a chunk */
    uint32_t nchunks;      /* chunks made */
    uint32_t free_idx;     /* first free slab slot (WK_NOT_QUEUED: none) */
    uint32_t next_seq;     /* next arrival number */
    wk_sched_config cfg;   /* copied at init */
    ex_rng *rng;           /* not owned: jitter source */
    wk_budget budget;      /* polls per second over all workflows */
} wk_registry;

/* What dispatch does with due entries (the worker's poller, or a test's). */
typedef struct wk_sched_ops {
    int (*has_slot)(void *arg);                 /* 1 if a poll can start now */
    void (*poll)(void *arg, wk_entry *e);       /* start a poll; e is out of the heap */
    void (*expire)(void *arg, wk_entry *e);     /* deadline reached; e is out of the heap */
} wk_sched_ops;

/* Initialise an empty registry; `rng` must outlive it. */
void wk_registry_init(wk_registry *r, const wk_sched_config *cfg, ex_rng *rng);
/* Free every entry and its monitor; returns how many there were. The
 * registry is empty and usable afterwards. */
size_t wk_registry_clear(wk_registry *r);

/* Watch `mon` (ownership passes on success): first due at now_ns +
 * initial delay (or its deadline if earlier). Returns 0 and the entry in
 * *out (may be NULL), or WK_REG_DUPLICATE (id already watched),
 * WK_REG_FULL (max_entries reached) or WK_REG_NOMEM; the caller keeps
 * `mon` on error. */
int wk_registry_add(wk_registry *r, mdl_monitor *mon, int64_t now_ns, wk_entry **out);
/* The entry of `workflow_id`, or NULL. */
wk_entry *wk_registry_find(const wk_registry *r, const char *workflow_id);
/* Every entry, in slab order: the one after e (NULL: the first), or NULL
 * at the end. Not safe across adds and removes. */
wk_entry *wk_registry_next(const wk_registry *r, const wk_entry *e);
/* Take e out of the map and the heap, free it, and return its monitor
 * (the caller owns it now). */
mdl_monitor *wk_registry_remove(wk_registry *r, wk_entry *e);

/* Put e (out of the heap after a poll) back, due at now_ns + interval ±
 * jitter, or at its deadline if that comes first. 0, or WK_REG_NOMEM.
 * When the monitor's poll_errors grew since the last reschedule, the
 * poll failed: after k consecutive failures the delay is
 * wk_backoff_delay(k) instead (reset by the next poll that did not fail). */
int wk_registry_reschedule(wk_registry *r, wk_entry *e, int64_t now_ns);

/* Like wk_registry_reschedule after a failed poll whose answer asked to
 * wait retry_after_ns (Retry-After on 429/503; < 0: none): due no
 * earlier than that, and no earlier than the backoff. */
int wk_registry_reschedule_after(wk_registry *r, wk_entry *e, int64_t now_ns, int64_t retry_after_ns);

/* Bring e's next poll forward to due_ns when it is due later (a webhook
 * asked for a confirming poll); no-op while e is being polled. */
void wk_registry_due_by(wk_registry *r, wk_entry *e, int64_t due_ns);

/* Delay after k >= 1 consecutive failures: interval * 2^k, capped at
 * max_factor intervals and at cap_ns (never below the interval), then
 * ± permille/1000 jitter from rng. k = 0: the plain jittered interval. */
int64_t wk_backoff_delay(ex_rng *rng, int64_t interval_ns, unsigned k, int max_factor, int64_t cap_ns,
                         int permille);
/* The entry at slab index idx (a heap element's). */
static inline wk_entry *wk_registry_at(const wk_registry *r, uint32_t idx)
{
    return &r->chunks[idx / WK_SLAB_CHUNK][idx % WK_SLAB_CHUNK];
}
/* When e is due (its next poll or its deadline), or INT64_MIN while it is polled. */
int64_t wk_registry_due(const wk_registry *r, const wk_entry *e);
/* Earliest due time in the heap, or INT64_MAX if nothing waits. With a
 * poll budget whose tokens ran out, no earlier than the next token (so
 * the one timer waits for it instead of spinning). */
int64_t wk_registry_next_due(const wk_registry *r);
/* Entries waiting in the heap (the others are being polled). */
size_t wk_registry_waiting(const wk_registry *r);

/* Hand every entry due at now_ns to ops: expired ones (now_ns reached the
 * monitor's deadline) to expire, the others to poll while has_slot says
 * yes and the budget has a token, in due order; stops at the first due
 * poll that finds no slot or no token (it keeps its place: FIFO). When
 * the first entry is due, those due up to cfg.slack_ns later go too (a
 * batch), so a steady trickle of due times leaves in batches a slack
 * apart instead of a few at every turn of the loop.
 * Returns how many entries were handed over. The callbacks may add,
 * reschedule and remove entries. */
size_t wk_registry_dispatch(wk_registry *r, int64_t now_ns, const wk_sched_ops *ops, void *arg);

/* interval_ns ± permille/1000 of it, uniform, drawn from rng; never below 1 ms. */
int64_t wk_jitter(ex_rng *rng, int64_t interval_ns, int permille);

#endif
