/* uthash allocates its bucket tables through our wrapper, and reports a
 * failed allocation instead of exiting (the add is then undone). These
 * must come before the first inclusion of uthash.h, hence before store.h. */
#include "core/mem.h"
static int hash_oom;
#define uthash_malloc(sz) ex_malloc(sz)
#define uthash_free(ptr, sz) ex_free(ptr)
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) (hash_oom = 1)

#include "sim/store.h"

#include <string.h>

#include "core/log.h"

void sim_store_init(sim_store *s, size_t max_workflows, size_t max_evicted)
{
    memset(s, 0, sizeof *s);
    s->max_workflows = max_workflows ? max_workflows : 1;
    s->max_evicted = max_evicted;
}

void sim_store_destroy(sim_store *s)
{
    sim_record *r, *rtmp;
    HASH_ITER(hh, s->by_id, r, rtmp) {
        HASH_DEL(s->by_id, r);
        ex_free(r->run);
        ex_free(r);
    }
    sim_evicted *e, *etmp;
    HASH_ITER(hh, s->evicted_by_id, e, etmp) {
        HASH_DEL(s->evicted_by_id, e);
        ex_free(e);
    }
    ex_free(s->ring);
    sim_store_init(s, s->max_workflows, s->max_evicted);
}

sim_record *sim_store_find(const sim_store *s, const char *id)
{
    sim_record *r = NULL;
    HASH_FIND(hh, s->by_id, id, strlen(id), r);
    return r;
}

int sim_store_was_evicted(const sim_store *s, const char *id)
{
    sim_evicted *e = NULL;
    HASH_FIND(hh, s->evicted_by_id, id, strlen(id), e);
    return e != NULL;
}

/* Drop the oldest remembered evicted id. */
static void forget_oldest(sim_store *s)
{
    sim_evicted *e = s->ring[s->ring_start];
    s->ring_start = (s->ring_start + 1) % s->max_evicted;
    s->ring_len--;
    HASH_DEL(s->evicted_by_id, e);
    ex_free(e);
    s->stats.forgotten++;
}

/* Remember that `id` was evicted, forgetting the oldest beyond the bound.
 * Out of memory, the id is not remembered (and is logged). */
static void remember_evicted(sim_store *s, const char *id)
{
    if (s->max_evicted == 0) return;
    if (!s->ring && !(s->ring = ex_calloc(s->max_evicted, sizeof *s->ring))) goto nomem;
    if (s->ring_len == s->max_evicted) forget_oldest(s);
    size_t len = strlen(id);
    sim_evicted *e = ex_malloc(sizeof *e + len + 1);
    if (!e) goto nomem;
    memcpy(e->id, id, len + 1);
    hash_oom = 0;
    HASH_ADD_KEYPTR(hh, s->evicted_by_id, e->id, len, e);
    if (hash_oom) {
        ex_free(e);
        goto nomem;
    }
    s->ring[(s->ring_start + s->ring_len++) % s->max_evicted] = e;
    return;
nomem:
    ex_warn("sim", "out of memory: evicted workflow %s will not be remembered", id);
}

static void done_unlink(sim_store *s, sim_record *r)
{
    if (r->done_prev) r->done_prev->done_next = r->done_next;
    else s->done_head = r->done_next;
    if (r->done_next) r->done_next->done_prev = r->done_prev;
    else s->done_tail = r->done_prev;
    r->done_prev = r->done_next = NULL;
}

/* Evict the workflow that completed longest ago. 0, or -1 if none has. */
static int evict_one(sim_store *s)
{
    sim_record *r = s->done_head;
    if (!r) return -1;
    done_unlink(s, r);
    HASH_DEL(s->by_id, r);
    s->count--;
    s->stats.evicted++;
    ex_debug("sim", "Workflow: %s evicted (store at --max-workflows=%zu)", r->id, s->max_workflows);
    remember_evicted(s, r->id);
    ex_free(r->run);
    ex_free(r);
    return 0;
}

int sim_store_add(sim_store *s, const char *id, const sim_env *env, sim_record **out)
{
    *out = NULL;
    if (s->count >= s->max_workflows && evict_one(s) != 0) {
        s->stats.refused++;
        return SIM_STORE_FULL;
    }
    size_t len = strlen(id);
    sim_record *r = ex_malloc(sizeof *r + len + 1);
    if (!r) return SIM_STORE_NOMEM;
    r->done_prev = r->done_next = NULL;
    r->run = NULL;
    memcpy(r->id, id, len + 1);
    sim_workflow_init(&r->wf, env);
    hash_oom = 0;
    HASH_ADD_KEYPTR(hh, s->by_id, r->id, len, r);
    if (hash_oom) {
        ex_free(r);
        return SIM_STORE_NOMEM;
    }
    s->count++;
    s->stats.created++;
    *out = r;
    return SIM_STORE_OK;
}

void sim_store_drop(sim_store *s, sim_record *r)
{
    if (r->done_prev || s->done_head == r) done_unlink(s, r);
    HASH_DEL(s->by_id, r);
    s->count--;
    s->stats.created--;
    ex_free(r->run);
    ex_free(r);
}

void sim_store_completed(sim_store *s, sim_record *r)
{
    if (r->done_prev || s->done_head == r) return; /* already listed */
    r->done_prev = s->done_tail;
    r->done_next = NULL;
    if (s->done_tail) s->done_tail->done_next = r;
    else s->done_head = r;
    s->done_tail = r;
}

void sim_store_each(const sim_store *s, int any, sim_status status, size_t limit,
                    int (*fn)(const sim_record *r, void *arg), void *arg)
{
    size_t n = 0;
    for (const sim_record *r = s->by_id; r && n < limit; r = r->hh.next) {
        if (!any && r->wf.status != status) continue;
        n++;
        if (fn(r, arg)) break;
    }
}
