/* store.h — the simulator's workflows by id, with a memory bound.
 *
 * At most `max_workflows` workflows are kept. When a new one would pass
 * the bound, the workflow that completed (Completed or Failed) longest ago
 * is evicted; if none has completed, the new one is refused (SIM_STORE_FULL).
 * The ids of the last `max_evicted` evictions are remembered, so that a
 * poll for one can be answered "evicted" instead of silently creating a new
 * workflow under that id, as the seed would; an id evicted longer ago than
 * that is forgotten and counts as unknown again.
 *
 * Not thread-safe: one thread owns a store. */
#ifndef EXTRACE_SIM_STORE_H
#define EXTRACE_SIM_STORE_H
#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

#include "sim/workflow.h"

#define SIM_ID_MAX 128 /* longest workflow id, in bytes */

/* One stored workflow; owned by the store. */
typedef struct sim_record {
    UT_hash_handle hh;                   /* by id */
    struct sim_record *done_prev;        /* completed list (oldest first), or NULL */
    struct sim_record *done_next;
    sim_workflow wf;                     /* the workflow's state (the seed's API) */
    struct sim_run *run;                 /* a persona's planned run (run.h), freed with the record; or NULL */
    char id[];                           /* workflowId, NUL-terminated */
} sim_record;

/* One remembered evicted id; owned by the store. */
typedef struct sim_evicted {
    UT_hash_handle hh; /* by id */
    char id[];         /* NUL-terminated */
} sim_evicted;

/* Counters, for logs and tests. */
typedef struct sim_store_stats {
    uint64_t created;   /* workflows added */
    uint64_t evicted;   /* completed workflows evicted at the bound */
    uint64_t forgotten; /* evicted ids dropped from the memory of evictions */
    uint64_t refused;   /* new workflows refused: full and nothing completed */
} sim_store_stats;

typedef struct sim_store {
    sim_record *by_id;              /* uthash head: every stored workflow, oldest first */
    sim_record *done_head;          /* completed workflows, oldest completion first */
    sim_record *done_tail;
    size_t count;                   /* stored workflows */
    size_t max_workflows;           /* bound on count (>= 1) */
    sim_evicted *evicted_by_id;     /* uthash head: remembered evicted ids */
    sim_evicted **ring;             /* evicted ids in eviction order (circular), or NULL */
    size_t ring_start, ring_len;    /* oldest slot, used slots */
    size_t max_evicted;             /* ring capacity; 0: remember none */
    sim_store_stats stats;          /* counters */
} sim_store;

enum { SIM_STORE_OK = 0, SIM_STORE_FULL = -1, SIM_STORE_NOMEM = -2 };

/* An empty store with the given bounds (max_workflows >= 1). */
void sim_store_init(sim_store *s, size_t max_workflows, size_t max_evicted);
/* Free every workflow and remembered id. */
void sim_store_destroy(sim_store *s);

/* The workflow with this id, or NULL. */
sim_record *sim_store_find(const sim_store *s, const char *id);
/* 1 if this id was evicted and is still remembered, else 0. */
int sim_store_was_evicted(const sim_store *s, const char *id);

/* Add a new workflow (sim_workflow_init) under `id`, which must be neither
 * stored nor remembered as evicted, evicting the oldest completed workflow
 * if the store is at its bound. Returns SIM_STORE_OK with *out set,
 * SIM_STORE_FULL (nothing completed to evict) or SIM_STORE_NOMEM. */
int sim_store_add(sim_store *s, const char *id, const sim_env *env, sim_record **out);

/* Remove r, just added and not yet handed out (its creation failed later),
 * and free it; it is not remembered as evicted. */
void sim_store_drop(sim_store *s, sim_record *r);

/* Tell the store that r has just completed (makes it evictable). */
void sim_store_completed(sim_store *s, sim_record *r);

/* Call fn for each stored workflow, oldest first, with status `status`
 * (or any status if `any`), until fn returns non-zero or `limit` calls. */
void sim_store_each(const sim_store *s, int any, sim_status status, size_t limit,
                    int (*fn)(const sim_record *r, void *arg), void *arg);

#endif
