#include "worker/inbox.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"

/* ---- the queue (pure) ---- */

#define REC_HDR 4 /* a record's length prefix */

int wk_inbox_queue_put(wk_inbox_queue *q, const char *payload, size_t len)
{
    if (len > UINT32_MAX || q->payload + len > q->max_bytes) {
        q->refused++;
        return -1;
    }
    size_t need = q->len + REC_HDR + len;
    if (need > q->cap) {
        size_t cap = q->cap ? q->cap : 64 * 1024;
        while (cap < need) cap *= 2;
        char *b = ex_realloc(q->buf, cap);
        if (!b) {
            q->refused++;
            return -1;
        }
        q->buf = b;
        q->cap = cap;
    }
    uint32_t n = (uint32_t)len;
    memcpy(q->buf + q->len, &n, REC_HDR);
    memcpy(q->buf + q->len + REC_HDR, payload, len);
    q->len = need;
    q->payload += len;
    return 0;
}

void wk_inbox_queue_each(wk_inbox_queue *q, wk_intake_msg_cb fn, void *arg)
{
    for (size_t at = 0; at + REC_HDR <= q->len;) {
        uint32_t n;
        memcpy(&n, q->buf + at, REC_HDR);
        fn(arg, q->buf + at + REC_HDR, n);
        at += REC_HDR + n;
    }
    q->len = q->payload = 0;
}

void wk_inbox_queue_free(wk_inbox_queue *q)
{
    ex_free(q->buf);
    q->buf = NULL;
    q->len = q->cap = q->payload = 0;
}

/* ---- the thread ---- */

struct wk_inbox {
    /* the caller's loop */
    uv_loop_t *loop;
    uv_async_t wake;          /* the thread queued something */
    wk_intake_msg_cb on_msg;
    wk_intake_state_cb on_state;
    wk_inbox_refused_cb on_refused;
    void *arg;
    wk_inbox_queue taken;     /* swapped out of `queue`, handed to on_msg */
    uint64_t subs_seen;       /* subscriptions told to on_state */
    int state_seen;           /* last state told */
    /* the thread */
    uv_thread_t thread;
    uv_loop_t tloop;
    uv_async_t stop;          /* wk_inbox_stop asks the thread to end */
    wk_intake *intake;
    wk_intake_config cfg;     /* as given (the intake copies it) */
    /* shared, under mu */
    pthread_mutex_t mu;
    wk_inbox_queue queue;
    uint64_t subs;            /* subscriptions so far */
    int subscribed;           /* also read without mu (atomic) */
};

static void t_msg(void *arg, const char *payload, size_t len)
{
    wk_inbox *ib = arg;
    pthread_mutex_lock(&ib->mu);
    int was_empty = ib->queue.len == 0 && ib->queue.refused == 0;
    (void)wk_inbox_queue_put(&ib->queue, payload, len);
    pthread_mutex_unlock(&ib->mu);
    if (was_empty) uv_async_send(&ib->wake);
}

static void t_state(void *arg, int subscribed)
{
    wk_inbox *ib = arg;
    pthread_mutex_lock(&ib->mu);
    if (subscribed) ib->subs++;
    __atomic_store_n(&ib->subscribed, subscribed, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&ib->mu);
    uv_async_send(&ib->wake);
}

static void t_stop_cb(uv_async_t *a)
{
    wk_inbox *ib = a->data;
    wk_intake_stop(ib->intake);
    ib->intake = NULL;
    uv_close((uv_handle_t *)a, NULL);
}

static void t_main(void *arg)
{
    wk_inbox *ib = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals are the worker loop's */
    uv_run(&ib->tloop, UV_RUN_DEFAULT);
}

/* ---- the caller's loop ---- */

static void wake_cb(uv_async_t *a)
{
    wk_inbox *ib = a->data;
    pthread_mutex_lock(&ib->mu);
    wk_inbox_queue q = ib->queue; /* swap: the thread fills the other buffer meanwhile */
    ib->queue = ib->taken;
    ib->queue.max_bytes = q.max_bytes;
    ib->queue.refused = 0;
    uint64_t subs = ib->subs;
    int state = ib->subscribed;
    pthread_mutex_unlock(&ib->mu);
    ib->taken = q;
    for (; ib->subs_seen < subs; ib->subs_seen++) ib->on_state(ib->arg, 1);
    if (state != ib->state_seen && !state) ib->on_state(ib->arg, 0);
    ib->state_seen = state;
    if (q.refused) ib->on_refused(ib->arg, q.refused);
    ib->taken.refused = 0;
    wk_inbox_queue_each(&ib->taken, ib->on_msg, ib->arg);
}

static void closed_cb(uv_handle_t *h)
{
    wk_inbox *ib = h->data;
    wk_inbox_queue_free(&ib->queue);
    wk_inbox_queue_free(&ib->taken);
    pthread_mutex_destroy(&ib->mu);
    memset(&ib->cfg.addr, 0, sizeof ib->cfg.addr); /* the copied password */
    ex_free(ib);
}

wk_inbox *wk_inbox_start(uv_loop_t *loop, const wk_intake_config *cfg, size_t max_bytes, wk_intake_msg_cb on_msg,
                         wk_intake_state_cb on_state, wk_inbox_refused_cb on_refused, void *arg)
{
    wk_inbox *ib = ex_calloc(1, sizeof *ib);
    if (!ib) return NULL;
    *ib = (wk_inbox){.loop = loop, .on_msg = on_msg, .on_state = on_state, .on_refused = on_refused, .arg = arg,
                     .cfg = *cfg};
    ib->queue.max_bytes = ib->taken.max_bytes = max_bytes;
    pthread_mutex_init(&ib->mu, NULL);
    uv_loop_init(&ib->tloop);
    uv_async_init(&ib->tloop, &ib->stop, t_stop_cb);
    uv_async_init(loop, &ib->wake, wake_cb);
    ib->stop.data = ib->wake.data = ib;
    /* Set up on the thread's loop before it runs (thread creation orders the two). */
    ib->intake = wk_intake_new(&ib->tloop, &ib->cfg, t_msg, t_state, ib);
    if (!ib->intake || uv_thread_create(&ib->thread, t_main, ib) != 0) {
        ex_error("intake", "cannot start the subscriber: %s", ib->intake ? "no thread" : "out of memory");
        wk_intake_stop(ib->intake);
        uv_close((uv_handle_t *)&ib->stop, NULL);
        uv_run(&ib->tloop, UV_RUN_DEFAULT);
        uv_loop_close(&ib->tloop);
        uv_close((uv_handle_t *)&ib->wake, closed_cb);
        return NULL;
    }
    return ib;
}

int wk_inbox_subscribed(const wk_inbox *ib) { return ib && __atomic_load_n(&ib->subscribed, __ATOMIC_ACQUIRE); }

void wk_inbox_stop(wk_inbox *ib)
{
    if (!ib) return;
    uv_async_send(&ib->stop);
    uv_thread_join(&ib->thread);
    uv_loop_close(&ib->tloop);
    uv_close((uv_handle_t *)&ib->wake, closed_cb);
}
