/* registry.c — slab of entries, 4-ary min-heap of due times (the map
 * from id to entry: registry_map.c). */
#include "core/mem.h"
#include "worker/registry_int.h"

#include <string.h>

#define HEAP_INITIAL_CAP 1024
#define HEAP_LINE        64 /* bytes in a cache line */
#define MIN_DELAY_NS     INT64_C(1000000)
#define BACKOFF_JITTER_PERMILLE 200                       /* ±20 % after failures */
#define BACKOFF_CAP_NS   (INT64_C(300) * 1000000000)      /* 5 min */
#define BACKOFF_FACTOR   8                                /* intervals at most */
#define RETRY_AFTER_MAX_NS (INT64_C(3600) * 1000000000)   /* a server's wish is honoured up to 1 h */

void wk_registry_init(wk_registry *r, const wk_sched_config *cfg, ex_rng *rng)
{
    memset(r, 0, sizeof *r);
    r->cfg = *cfg;
    r->rng = rng;
    r->free_idx = WK_NOT_QUEUED;
    wk_budget_init(&r->budget, cfg->max_polls_per_sec, cfg->poll_burst);
}

/* 1 if a is due before b (ties: earlier arrival first, modulo 2^32). */
static inline int before(const wk_due *a, const wk_due *b)
{
    if (a->due_ns != b->due_ns) return a->due_ns < b->due_ns;
    return (int32_t)(a->seq - b->seq) < 0;
}

static inline void heap_set(wk_registry *r, size_t i, wk_due d)
{
    r->heap[i] = d;
    wk_registry_at(r, d.idx)->heap_idx = (uint32_t)i;
}

static void sift_up(wk_registry *r, size_t i)
{
    wk_due d = r->heap[i];
    while (i > 0) {
        size_t parent = WK_HEAP_PARENT(i);
        if (!before(&d, &r->heap[parent])) break;
        heap_set(r, i, r->heap[parent]);
        i = parent;
    }
    heap_set(r, i, d);
}

static void sift_down(wk_registry *r, size_t i)
{
    wk_due d = r->heap[i];
    for (;;) {
        size_t first = WK_HEAP_ARITY * i + 1;
        if (first >= r->nheap) break;
        size_t end = r->nheap - first < WK_HEAP_ARITY ? r->nheap : first + WK_HEAP_ARITY, child = first;
        for (size_t c = first + 1; c < end; c++)
            if (before(&r->heap[c], &r->heap[child])) child = c;
        if (!before(&r->heap[child], &d)) break;
        heap_set(r, i, r->heap[child]);
        i = child;
    }
    heap_set(r, i, d);
}

/* Move the heap into an array of cap elements placed so that element 1
 * starts a cache line: then the WK_HEAP_ARITY children of any element
 * (16 bytes each) fill exactly one 64-byte line. 0, or -1 (the old array
 * stays). */
static int heap_resize(wk_registry *r, size_t cap)
{
    char *mem = ex_malloc(cap * sizeof(wk_due) + 2 * HEAP_LINE);
    if (!mem) return -1;
    uintptr_t line = ((uintptr_t)mem + HEAP_LINE - 1) & ~(uintptr_t)(HEAP_LINE - 1);
    wk_due *h = (wk_due *)(line + HEAP_LINE) - 1;
    if (r->nheap) memcpy(h, r->heap, r->nheap * sizeof *h);
    ex_free(r->heap_mem);
    r->heap_mem = mem;
    r->heap = h;
    r->heap_cap = cap;
    return 0;
}

/* Insert e due at due_ns. 0 or WK_REG_NOMEM. */
static int heap_push(wk_registry *r, wk_entry *e, int64_t due_ns)
{
    if (r->nheap == r->heap_cap && heap_resize(r, r->heap_cap ? r->heap_cap * 2 : HEAP_INITIAL_CAP))
        return WK_REG_NOMEM;
    r->heap[r->nheap] = (wk_due){due_ns, r->next_seq++, e->self};
    sift_up(r, r->nheap++);
    return 0;
}

/* Take e out of the heap (it must be in it). */
static void heap_del(wk_registry *r, wk_entry *e)
{
    size_t i = e->heap_idx;
    wk_due last = r->heap[--r->nheap];
    e->heap_idx = WK_NOT_QUEUED;
    if (i != r->nheap) {
        heap_set(r, i, last);
        /* The moved entry may belong above or below its new place. */
        if (i > 0 && before(&last, &r->heap[WK_HEAP_PARENT(i)])) sift_up(r, i);
        else sift_down(r, i);
    }
    /* Give memory back after a burst; a failed shrink keeps the old array. */
    if (r->heap_cap > HEAP_INITIAL_CAP && r->nheap < r->heap_cap / 4) heap_resize(r, r->heap_cap / 2);
}

int64_t wk_registry_due(const wk_registry *r, const wk_entry *e)
{
    return e->heap_idx == WK_NOT_QUEUED ? INT64_MIN : r->heap[e->heap_idx].due_ns;
}

/* A free slab slot for a new entry (zeroed), or NULL. */
static wk_entry *slab_take(wk_registry *r)
{
    if (r->free_idx == WK_NOT_QUEUED) {
        if ((uint64_t)(r->nchunks + 1) * WK_SLAB_CHUNK >= (UINT64_C(1) << WK_MAP_IDX_BITS)) return NULL;
        wk_entry **c = ex_realloc(r->chunks, (r->nchunks + 1) * sizeof *c);
        if (!c) return NULL;
        r->chunks = c;
        wk_entry *chunk = ex_malloc(WK_SLAB_CHUNK * sizeof *chunk);
        if (!chunk) return NULL;
        uint32_t base = r->nchunks * WK_SLAB_CHUNK;
        /* Thread the new slots onto the free list, lowest index first. */
        for (uint32_t i = 0; i < WK_SLAB_CHUNK; i++) {
            chunk[i].mon = NULL;
            chunk[i].self = base + i;
            chunk[i].heap_idx = i + 1 < WK_SLAB_CHUNK ? base + i + 1 : r->free_idx;
        }
        r->chunks[r->nchunks++] = chunk;
        r->free_idx = base;
    }
    wk_entry *e = wk_registry_at(r, r->free_idx);
    uint32_t self = e->self;
    r->free_idx = e->heap_idx;
    memset(e, 0, sizeof *e);
    e->self = self;
    return e;
}

/* Free every chunk (the registry holds no entry). */
static void slab_clear(wk_registry *r)
{
    for (uint32_t i = 0; i < r->nchunks; i++) ex_free(r->chunks[i]);
    ex_free(r->chunks);
    r->chunks = NULL;
    r->nchunks = 0;
    r->free_idx = WK_NOT_QUEUED;
    wk_map_clear(r);
}

static void slab_give(wk_registry *r, wk_entry *e)
{
    e->mon = NULL;
    e->heap_idx = r->free_idx;
    r->free_idx = e->self;
    /* The last entry gone: give the chunks back (after a burst, say). */
    if (r->count == 0 && r->nchunks > 1) slab_clear(r);
}

int64_t wk_jitter(ex_rng *rng, int64_t interval_ns, int permille)
{
    int64_t spread = permille > 0 ? interval_ns / 1000 * permille : 0;
    int64_t v = interval_ns + (spread > 0 ? ex_rng_range(rng, -spread, spread + 1) : 0);
    return v < MIN_DELAY_NS ? MIN_DELAY_NS : v;
}

/* now_ns + delay_ns, but no later than the monitor's deadline. */
static int64_t due_at(const wk_entry *e, int64_t now_ns, int64_t delay_ns)
{
    int64_t deadline = mdl_monitor_deadline(e->mon);
    int64_t due = now_ns > INT64_MAX - delay_ns ? INT64_MAX : now_ns + delay_ns;
    return due < deadline ? due : deadline;
}

int wk_registry_add(wk_registry *r, mdl_monitor *mon, int64_t now_ns, wk_entry **out)
{
    uint32_t hash = wk_map_hash(mon->key);
    if (wk_map_find(r, mon->key, hash)) return WK_REG_DUPLICATE;
    if (r->count >= r->cfg.max_entries) return WK_REG_FULL;
    wk_entry *e = slab_take(r);
    if (!e) return WK_REG_NOMEM;
    e->mon = mon;
    e->heap_idx = WK_NOT_QUEUED;
    e->hash = hash;
    e->errors_seen = (uint16_t)mon->poll_errors; /* a resumed monitor may have failed before */
    if (wk_map_add(r, e)) {
        slab_give(r, e);
        return WK_REG_NOMEM;
    }
    r->count++;
    if (heap_push(r, e, due_at(e, now_ns, r->cfg.initial_delay_ns))) {
        r->count--;
        wk_map_del(r, e);
        slab_give(r, e);
        return WK_REG_NOMEM;
    }
    if (out) *out = e;
    return 0;
}

wk_entry *wk_registry_find(const wk_registry *r, const char *workflow_id)
{
    return wk_map_find(r, workflow_id, wk_map_hash(workflow_id));
}

wk_entry *wk_registry_next(const wk_registry *r, const wk_entry *e)
{
    uint64_t end = (uint64_t)r->nchunks * WK_SLAB_CHUNK;
    for (uint64_t i = e ? (uint64_t)e->self + 1 : 0; i < end; i++) {
        wk_entry *x = wk_registry_at(r, (uint32_t)i);
        if (x->mon) return x;
    }
    return NULL;
}

mdl_monitor *wk_registry_remove(wk_registry *r, wk_entry *e)
{
    mdl_monitor *mon = e->mon;
    if (e->heap_idx != WK_NOT_QUEUED) heap_del(r, e);
    r->count--;
    wk_map_del(r, e);
    slab_give(r, e);
    return mon;
}

size_t wk_registry_clear(wk_registry *r)
{
    size_t n = r->count;
    for (wk_entry *e = wk_registry_next(r, NULL); e; e = wk_registry_next(r, e)) mdl_monitor_free(e->mon);
    slab_clear(r);
    ex_free(r->heap_mem);
    r->heap_mem = NULL;
    r->heap = NULL;
    r->nheap = r->heap_cap = 0;
    r->count = 0;
    return n;
}

int64_t wk_backoff_delay(ex_rng *rng, int64_t interval_ns, unsigned k, int max_factor, int64_t cap_ns,
                         int permille)
{
    if (k == 0) return wk_jitter(rng, interval_ns, permille);
    int64_t cap = max_factor > 0 && interval_ns <= INT64_MAX / max_factor ? interval_ns * max_factor : INT64_MAX;
    if (cap_ns > 0 && cap > cap_ns) cap = cap_ns;
    if (cap < interval_ns) cap = interval_ns;
    int64_t d = interval_ns;
    for (unsigned i = 0; i < k && d < cap; i++) d = d > cap / 2 ? cap : d * 2;
    if (d > cap) d = cap;
    return wk_jitter(rng, d, permille);
}

/* Count the outcome of the poll that just ended: failed when the
 * monitor's error counter moved. */
static void note_outcome(wk_entry *e)
{
    uint16_t errs = (uint16_t)e->mon->poll_errors;
    if (errs != e->errors_seen) {
        if (e->failures < UINT16_MAX) e->failures++;
    } else {
        e->failures = 0;
    }
    e->errors_seen = errs;
}

static int64_t next_delay(wk_registry *r, const wk_entry *e)
{
    if (e->failures == 0) return wk_jitter(r->rng, r->cfg.interval_ns, r->cfg.jitter_permille);
    return wk_backoff_delay(r->rng, r->cfg.interval_ns, e->failures,
                            r->cfg.backoff_max_factor > 0 ? r->cfg.backoff_max_factor : BACKOFF_FACTOR,
                            r->cfg.backoff_cap_ns > 0 ? r->cfg.backoff_cap_ns : BACKOFF_CAP_NS,
                            BACKOFF_JITTER_PERMILLE);
}

int wk_registry_reschedule(wk_registry *r, wk_entry *e, int64_t now_ns)
{
    return wk_registry_reschedule_after(r, e, now_ns, -1);
}

int wk_registry_reschedule_after(wk_registry *r, wk_entry *e, int64_t now_ns, int64_t retry_after_ns)
{
    if (e->heap_idx != WK_NOT_QUEUED) heap_del(r, e);
    note_outcome(e);
    int64_t delay = next_delay(r, e);
    if (retry_after_ns > RETRY_AFTER_MAX_NS) retry_after_ns = RETRY_AFTER_MAX_NS;
    if (retry_after_ns > delay) delay = retry_after_ns;
    return heap_push(r, e, due_at(e, now_ns, delay));
}

void wk_registry_due_by(wk_registry *r, wk_entry *e, int64_t due_ns)
{
    if (e->heap_idx == WK_NOT_QUEUED || r->heap[e->heap_idx].due_ns <= due_ns) return;
    r->heap[e->heap_idx].due_ns = due_ns;
    sift_up(r, e->heap_idx);
}

int64_t wk_registry_next_due(const wk_registry *r)
{
    if (!r->nheap) return INT64_MAX;
    int64_t due = r->heap[0].due_ns, ready = wk_budget_ready_ns(&r->budget);
    /* An expired head needs no token. */
    if (due >= mdl_monitor_deadline(wk_registry_at(r, r->heap[0].idx)->mon)) return due;
    return ready > due ? ready : due;
}

size_t wk_registry_waiting(const wk_registry *r) { return r->nheap; }

size_t wk_registry_dispatch(wk_registry *r, int64_t now_ns, const wk_sched_ops *ops, void *arg)
{
    size_t handed = 0;
    int64_t horizon = r->nheap && r->heap[0].due_ns <= now_ns ? now_ns + r->cfg.slack_ns : now_ns;
    while (r->nheap && r->heap[0].due_ns <= horizon) {
        wk_entry *e = wk_registry_at(r, r->heap[0].idx);
        int expired = now_ns >= mdl_monitor_deadline(e->mon);
        if (!expired && (!ops->has_slot(arg) || !wk_budget_take(&r->budget, now_ns))) break;
        heap_del(r, e);
        handed++;
        if (expired) ops->expire(arg, e);
        else ops->poll(arg, e);
    }
    return handed;
}
