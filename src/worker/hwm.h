/* hwm.h — discovery's high-water mark and the keys it has seen (pure).
 *
 * A listing asks the source for the workflows created since
 * wk_hwm_since() = mark − overlap. The overlap is there because a
 * listing is not a snapshot of one instant: a workflow created at T may
 * show up only after one created later was listed (replication lag,
 * clocks of several API servers, a transaction committed late), and
 * listings filter by whole seconds. Every key listed is offered: it is new
 * unless it was seen before (then it is skipped, so the overlap repeats
 * nothing, and workflows created in the same second as the mark — ties —
 * are neither missed nor repeated). After a complete listing the mark
 * moves to the latest time it named (never back), and keys older than the
 * new since are forgotten: no listing names them again.
 *
 * No clock inside: the first mark (now − overlap, or one kept in Redis)
 * and every time are passed in. */
#ifndef EXTRACE_WORKER_HWM_H
#define EXTRACE_WORKER_HWM_H
#include <stddef.h>
#include <stdint.h>

typedef struct wk_hwm_seen wk_hwm_seen;

typedef struct wk_hwm {
    int64_t mark_ns;      /* the latest creation time a complete listing named */
    int64_t overlap_ns;   /* how far before it each listing reaches back */
    int64_t pending_ns;   /* the latest time offered since the last wk_hwm_commit */
    wk_hwm_seen *seen;    /* uthash: key → its time */
    size_t nseen;
} wk_hwm;

/* Start at mark_ns (the kept mark, or now − overlap). */
void wk_hwm_init(wk_hwm *h, int64_t mark_ns, int64_t overlap_ns);
void wk_hwm_clear(wk_hwm *h);
/* The time the next listing starts at. */
int64_t wk_hwm_since(const wk_hwm *h);
/* Offer a listed key created at time_ns: 1 if new (now seen), 0 if seen
 * before or older than since (a listing that ignores its filter), -1 when
 * out of memory (not seen: offered again next time). */
int wk_hwm_offer(wk_hwm *h, const char *key, int64_t time_ns);
/* Forget key (its start could not be recorded: it is offered again). */
void wk_hwm_forget(wk_hwm *h, const char *key);
/* A listing completed: the mark moves to the latest time offered (never
 * back); keys older than the new since are dropped. Returns the mark. */
int64_t wk_hwm_commit(wk_hwm *h);

#endif
