/* registry.h — the workflows the worker watches, and when each is due.
 *
 * A uthash map from workflow id to entry, plus one binary min-heap of due
 * times (ties in arrival order) that drives the worker's single uv_timer:
 * an idle workflow costs its entry and its monitor, no timer or socket.
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
#include <uthash.h>

#include "core/rng.h"
#include "worker/monitor.h"

#define WK_NOT_QUEUED UINT32_MAX /* wk_entry.heap_idx while a poll runs */

/* Error codes of wk_registry_add. */
enum { WK_REG_DUPLICATE = -1, WK_REG_FULL = -2, WK_REG_NOMEM = -3 };

/* One watched workflow (80 bytes on x86-64). */
typedef struct wk_entry {
    UT_hash_handle hh;  /* uthash, keyed by mon->workflow_id */
    wm_monitor *mon;    /* owned */
    int64_t due_ns;     /* next poll, or the deadline if that comes first (unix ns) */
    uint32_t heap_idx;  /* index in the heap, or WK_NOT_QUEUED while polled */
    uint32_t seq;       /* arrival order of the current due time, breaks ties */
} wk_entry;

/* Scheduling parameters. */
typedef struct wk_sched_config {
    int64_t initial_delay_ns; /* first poll this long after the event */
    int64_t interval_ns;      /* then every interval … */
    int jitter_permille;      /* … ± this many thousandths of it (100 = ±10%) */
    size_t max_entries;       /* most workflows watched at once */
} wk_sched_config;

typedef struct wk_registry {
    wk_entry *by_id;       /* uthash head */
    wk_entry **heap;       /* owned array: min-heap by (due_ns, seq) */
    size_t nheap, heap_cap; /* entries in the heap, slots allocated */
    size_t count;          /* entries in the map */
    uint32_t next_seq;     /* next arrival number */
    wk_sched_config cfg;   /* copied at init */
    ex_rng *rng;           /* not owned: jitter source */
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
int wk_registry_add(wk_registry *r, wm_monitor *mon, int64_t now_ns, wk_entry **out);
/* The entry of `workflow_id`, or NULL. */
wk_entry *wk_registry_find(const wk_registry *r, const char *workflow_id);
/* Take e out of the map and the heap, free it, and return its monitor
 * (the caller owns it now). */
wm_monitor *wk_registry_remove(wk_registry *r, wk_entry *e);

/* Put e (out of the heap after a poll) back, due at now_ns + interval ±
 * jitter, or at its deadline if that comes first. 0, or WK_REG_NOMEM. */
int wk_registry_reschedule(wk_registry *r, wk_entry *e, int64_t now_ns);
/* Earliest due time in the heap, or INT64_MAX if nothing waits. */
int64_t wk_registry_next_due(const wk_registry *r);
/* Entries waiting in the heap (the others are being polled). */
size_t wk_registry_waiting(const wk_registry *r);

/* Hand every entry due at now_ns to ops: expired ones (now_ns reached the
 * monitor's deadline) to expire, the others to poll while has_slot says
 * yes, in due order; stops at the first due poll that finds no slot.
 * Returns how many entries were handed over. The callbacks may add,
 * reschedule and remove entries. */
size_t wk_registry_dispatch(wk_registry *r, int64_t now_ns, const wk_sched_ops *ops, void *arg);

/* interval_ns ± permille/1000 of it, uniform, drawn from rng; never below 1 ms. */
int64_t wk_jitter(ex_rng *rng, int64_t interval_ns, int permille);

#endif
