#include "otel/batch.h"

#include <string.h>

#include "core/mem.h"

enum { SUB_RUNNING, SUB_DUE, SUB_REPORTED };

struct exo_submission {
    exo_bq_done_cb cb;        /* may be NULL */
    void *arg;                /* for cb; not owned */
    size_t pending;           /* (span, exporter) pairs not yet delivered or dropped */
    int failed;               /* a span was dropped somewhere */
    int again;                /* its spans were submitted before (exo_bq_submit_again) */
    int state;                /* SUB_*: running, waiting in the due list, reported */
    exo_submission *next_due; /* due list link */
};

#define RING_MIN 64

void exo_bq_init(exo_batch_queue *q, size_t max_queue, size_t nexporters)
{
    memset(q, 0, sizeof *q);
    q->max_queue = max_queue ? max_queue : 1;
    q->nexporters = nexporters ? nexporters : 1;
    q->next_seq = 1;
}

static void push_due(exo_batch_queue *q, exo_submission *s)
{
    s->state = SUB_DUE;
    s->next_due = NULL;
    if (q->due_tail) q->due_tail->next_due = s;
    else q->due_head = s;
    q->due_tail = s;
}

/* Count `pairs` (span, exporter) pairs of s as dropped (again, if s was). */
static void drop(exo_batch_queue *q, const exo_submission *s, uint64_t pairs)
{
    q->dropped += pairs;
    if (s && s->again) q->dropped_again += pairs;
}

/* Settle `pairs` (span, exporter) pairs of s as delivered (ok) or dropped;
 * queue it for its callback or free it when that is all that is left. */
static void settle(exo_batch_queue *q, exo_submission *s, size_t pairs, int ok)
{
    s->pending -= pairs;
    if (!ok) s->failed = 1;
    if (s->state == SUB_RUNNING && (s->failed || s->pending == 0)) push_due(q, s);
    else if (s->state == SUB_REPORTED && s->pending == 0) ex_free(s);
}

/* Make room for one more slot; 0 or -1 (full or out of memory). */
static int ring_reserve(exo_batch_queue *q)
{
    if (q->len < q->cap) return 0;
    if (q->len >= q->max_queue) return -1;
    size_t ncap = q->cap ? q->cap * 2 : RING_MIN;
    if (ncap > q->max_queue) ncap = q->max_queue;
    exo_bq_slot *r = ex_malloc(ncap * sizeof *r);
    if (!r) return -1;
    for (size_t i = 0; i < q->len; i++) r[i] = q->ring[(q->head + i) % q->cap];
    ex_free(q->ring);
    q->ring = r;
    q->cap = ncap;
    q->head = 0;
    return 0;
}

size_t exo_bq_submit(exo_batch_queue *q, exo_span **spans, size_t n, exo_bq_done_cb cb, void *arg)
{
    return exo_bq_submit_again(q, spans, n, cb, arg, 0);
}

size_t exo_bq_submit_again(exo_batch_queue *q, exo_span **spans, size_t n, exo_bq_done_cb cb, void *arg, int again)
{
    exo_submission *s = ex_calloc(1, sizeof *s);
    if (!s) {
        for (size_t i = 0; i < n; i++) exo_span_free(spans[i]);
        q->dropped += (uint64_t)n * q->nexporters;
        if (again) q->dropped_again += (uint64_t)n * q->nexporters;
        if (cb) cb(arg, 0);
        return n;
    }
    s->again = again;
    s->cb = cb;
    s->arg = arg;
    s->pending = n * q->nexporters;
    s->state = SUB_RUNNING;
    size_t dropped = 0;
    for (size_t i = 0; i < n; i++) {
        if (ring_reserve(q) != 0) {
            exo_span_free(spans[i]);
            dropped++;
            continue;
        }
        q->ring[(q->head + q->len) % q->cap] = (exo_bq_slot){spans[i], s};
        q->len++;
    }
    if (dropped) {
        drop(q, s, (uint64_t)dropped * q->nexporters);
        q->dropped_queue_full += dropped;
    }
    /* Settle the dropped pairs (or nothing, for n == 0) in one go: this
     * also queues the callback of an empty or failed submission. */
    settle(q, s, dropped * q->nexporters, dropped == 0);
    return dropped;
}

size_t exo_bq_queued(const exo_batch_queue *q) { return q->len; }

exo_batch *exo_bq_take(exo_batch_queue *q, size_t max_batch)
{
    if (q->len == 0 || max_batch == 0) return NULL;
    size_t n = q->len < max_batch ? q->len : max_batch;
    exo_batch *b = ex_calloc(1, sizeof *b);
    if (!b) return NULL;
    b->spans = ex_malloc(n * sizeof *b->spans);
    b->subs = ex_malloc(n * sizeof *b->subs);
    if (!b->spans || !b->subs) {
        ex_free(b->spans);
        ex_free(b->subs);
        ex_free(b);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        exo_bq_slot *slot = &q->ring[(q->head + i) % q->cap];
        b->spans[i] = slot->span;
        b->subs[i] = slot->sub;
    }
    q->head = (q->head + n) % q->cap;
    q->len -= n;
    b->n = n;
    b->pending = q->nexporters;
    b->seq = q->next_seq++;
    q->in_batches += n;
    return b;
}

int exo_bq_batch_done(exo_batch_queue *q, exo_batch *b, int delivered, uint64_t rejected)
{
    if (!delivered || rejected > b->n) rejected = b->n;
    q->exported += b->n - rejected;
    if (rejected == b->n) /* all dropped: each span's submission says whether again */
        for (size_t i = 0; i < b->n; i++) drop(q, b->subs[i], 1);
    else q->dropped += rejected; /* some refused by the backend: which ones is not known */
    for (size_t i = 0; i < b->n; i++) settle(q, b->subs[i], 1, rejected == 0);
    if (--b->pending > 0) return 0;
    for (size_t i = 0; i < b->n; i++) exo_span_free(b->spans[i]);
    q->in_batches -= b->n;
    ex_free(b->spans);
    ex_free(b->subs);
    ex_free(b);
    return 1;
}

exo_bq_hold *exo_bq_batch_hold(exo_batch_queue *q, exo_batch *b, int *released)
{
    *released = 0;
    exo_bq_hold *h = ex_calloc(1, sizeof *h);
    exo_submission **subs = h ? ex_malloc((b->n ? b->n : 1) * sizeof *subs) : NULL;
    if (!subs) {
        ex_free(h);
        return NULL;
    }
    memcpy(subs, b->subs, b->n * sizeof *subs);
    h->subs = subs;
    h->n = b->n;
    q->held += b->n;
    if (--b->pending == 0) {
        for (size_t i = 0; i < b->n; i++) exo_span_free(b->spans[i]);
        q->in_batches -= b->n;
        ex_free(b->spans);
        ex_free(b->subs);
        ex_free(b);
        *released = 1;
    }
    return h;
}

void exo_bq_hold_done(exo_batch_queue *q, exo_bq_hold *h, int delivered, uint64_t rejected, int abandon)
{
    if (!delivered || rejected > h->n) rejected = h->n;
    if (!abandon) {
        q->exported += h->n - rejected;
        if (rejected == h->n)
            for (size_t i = 0; i < h->n; i++) drop(q, h->subs[i], 1);
        else q->dropped += rejected;
    }
    q->held -= h->n;
    for (size_t i = 0; i < h->n; i++) settle(q, h->subs[i], 1, !abandon && rejected == 0);
    ex_free(h->subs);
    ex_free(h);
}

size_t exo_bq_drop_queued(exo_batch_queue *q)
{
    size_t n = q->len;
    for (size_t i = 0; i < n; i++) {
        exo_bq_slot *slot = &q->ring[(q->head + i) % q->cap];
        exo_span_free(slot->span);
        drop(q, slot->sub, q->nexporters);
        settle(q, slot->sub, q->nexporters, 0);
    }
    q->head = 0;
    q->len = 0;
    return n;
}

int exo_bq_next_due(exo_batch_queue *q, exo_bq_done_cb *cb, void **arg, int *delivered)
{
    exo_submission *s = q->due_head;
    if (!s) return 0;
    q->due_head = s->next_due;
    if (!q->due_head) q->due_tail = NULL;
    *cb = s->cb;
    *arg = s->arg;
    *delivered = !s->failed;
    s->state = SUB_REPORTED;
    if (s->pending == 0) ex_free(s);
    return 1;
}

int exo_bq_has_due(const exo_batch_queue *q) { return q->due_head != NULL; }

void exo_bq_free(exo_batch_queue *q)
{
    exo_bq_drop_queued(q);
    exo_bq_done_cb cb;
    void *arg;
    int delivered;
    while (exo_bq_next_due(q, &cb, &arg, &delivered)) {
    }
    ex_free(q->ring);
    q->ring = NULL;
    q->cap = 0;
}
