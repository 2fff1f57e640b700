/* schedule.h — when each event goes out.
 *
 * Two modes. Waits (the seed's): between two events of a batch a random
 * wait drawn uniformly from the event-wait range [lo, hi]; between two
 * batches a random wait in [batch_wait/2, batch_wait). Rate (load tests):
 * event i is due at start + i/rate, absolute deadlines, so a slow send is
 * caught up and the average rate holds; the sender wakes at most once a
 * tick and sends every event due by then in one pipelined batch
 * (gen_schedule_batch), never sleeping per event. Nothing waits after the
 * last event.
 *
 * Pure: times are passed in (monotonic ns) and waits come from the rng
 * the caller owns. */
#ifndef EXTRACE_GEN_SCHEDULE_H
#define EXTRACE_GEN_SCHEDULE_H
#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

#define GEN_RANGE_STR_MAX 72

typedef struct gen_range {
    int64_t lo; /* ns, inclusive */
    int64_t hi; /* ns, inclusive; == lo for a fixed wait */
} gen_range;

/* Parse "LO-HI" ("1s-19s") or one duration ("500ms", "0s": fixed) into
 * *out. Returns 0, or -1 with a reason in why that names the bad part. */
int gen_range_parse(const char *text, gen_range *out, char *why, size_t whylen);
/* ex_opt_check_fn for range options. */
int gen_range_check(const char *text, char *why, size_t whylen);
/* "1s-19s", or "500ms" for a fixed range; buf holds GEN_RANGE_STR_MAX. */
char *gen_range_format(const gen_range *r, char *buf);
/* A wait drawn uniformly from [lo, hi]. */
int64_t gen_range_draw(const gen_range *r, ex_rng *rng);

/* A wait drawn uniformly from [wait/2, wait) (.NET Random.Next(w/2, w)
 * as the seed does, in ns instead of whole minutes); 0 when wait is 0. */
int64_t gen_batch_wait_draw(int64_t wait, ex_rng *rng);

typedef struct gen_plan {
    int64_t count;        /* events in all, >= 1 */
    int64_t batch_size;   /* events per batch, >= 1 */
    gen_range event_wait; /* between two events of a batch */
    int64_t batch_wait;   /* ns; the wait between batches is in [w/2, w) */
    double rate;          /* events per second; > 0 replaces both waits */
} gen_plan;

/* What separates an event from the one before it. */
typedef enum { GEN_GAP_EVENT, GEN_GAP_BATCH, GEN_GAP_RATE } gen_gap_kind;

typedef struct gen_schedule {
    gen_plan plan;    /* copied in */
    ex_rng *rng;      /* draws the waits; owned by the caller */
    int64_t start_ns; /* monotonic time event 0 was due (rate mode anchor) */
    int64_t last_batch_ns; /* rate mode: when gen_schedule_batch last said send */
} gen_schedule;

void gen_schedule_init(gen_schedule *s, const gen_plan *plan, ex_rng *rng, int64_t start_ns);

/* The monotonic time at which event `next` (0-based, 1 <= next < count) is
 * due, the previous event having gone out at now_ns. *kind tells which
 * wait applied. Draws from the rng in wait mode. */
int64_t gen_schedule_due(gen_schedule *s, int64_t next, int64_t now_ns, gen_gap_kind *kind);

/* Rate mode: how many events (0..count) are due by now_ns, i.e. the
 * number of indexes i with gen_schedule_due(i) <= now_ns (event 0 is due
 * at start). */
int64_t gen_schedule_due_by(const gen_schedule *s, int64_t now_ns);

/* Rate mode, the sender's whole decision: `sent` events are out and the
 * time is now_ns. Returns how many to send now, at most `max`: every event
 * due, once a tick has passed since the last batch (at once when `max` or
 * more are due: the sender is behind). When it returns 0, *wake_ns is when
 * to look again: the next event's due time, or the end of the tick if that
 * is later. So at high rates a tick's worth goes out together (one round
 * trip per tick, not per event), each event at most a tick after its due
 * time, and the average rate stays exact: deadlines are absolute. */
int64_t gen_schedule_batch(gen_schedule *s, int64_t sent, int64_t now_ns, int64_t max, int64_t tick_ns,
                           int64_t *wake_ns);

/* 1 if event `i` (0-based) is the first of a batch. */
int gen_plan_batch_start(const gen_plan *p, int64_t i);
/* Number of batches: ceil(count / batch_size). */
int64_t gen_plan_batches(const gen_plan *p);

#endif
