/* inbox.h — the pub/sub intake on a thread of its own.
 *
 * The worker's loop is busy with polls: at full load a loop turn handles
 * hundreds of finished transfers and, on a shared machine, can last
 * 100 ms to over a second. A subscriber read once per turn (hiredis reads
 * 16 KiB at a time) then falls behind a fast publisher, Redis piles the
 * messages up in the client's output buffer and closes the connection at
 * client-output-buffer-limit (pubsub 32mb 8mb 60 by default): every event
 * published until the worker subscribes again is lost, silently.
 *
 * So the subscriber (intake.c, unchanged) runs on its own libuv loop in
 * its own thread, which does nothing but read: each message's payload is
 * copied into a queue and the worker's loop is woken (uv_async) to take
 * everything queued in one go, between its polls. Redis sees a reader as
 * fast as the thread gets CPU, whatever the polls cost.
 *
 * The queue holds at most max_bytes of payloads; a message beyond that is
 * refused (counted and handed to on_refused on the worker's loop), never
 * left to Redis. Everything but the thread's loop runs on the caller's. */
#ifndef EXTRACE_WORKER_INBOX_H
#define EXTRACE_WORKER_INBOX_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "worker/intake.h"

typedef struct wk_inbox wk_inbox;

/* n messages were refused because the queue was full (on the caller's loop). */
typedef void (*wk_inbox_refused_cb)(void *arg, uint64_t n);

/* The bounded queue of payloads between the threads (pure; exposed for tests).
 * Records are a 4-byte length and the payload, appended to one buffer. */
typedef struct wk_inbox_queue {
    char *buf;
    size_t len, cap;   /* bytes used, allocated */
    size_t max_bytes;  /* payload bytes at most */
    size_t payload;    /* payload bytes queued */
    uint64_t refused;  /* messages refused since the last take */
} wk_inbox_queue;

/* Append one payload: 0, or -1 when it would pass max_bytes or memory ran
 * out (counted in q->refused). */
int wk_inbox_queue_put(wk_inbox_queue *q, const char *payload, size_t len);
/* Call fn(arg, payload, len) for every record of q in order, then empty it. */
void wk_inbox_queue_each(wk_inbox_queue *q, wk_intake_msg_cb fn, void *arg);
void wk_inbox_queue_free(wk_inbox_queue *q);

/* Start the thread and subscribe as wk_intake_new does; on_msg, on_state
 * and on_refused run on `loop` (the caller's), with arg. NULL when the
 * thread or memory could not be had. */
wk_inbox *wk_inbox_start(uv_loop_t *loop, const wk_intake_config *cfg, size_t max_bytes, wk_intake_msg_cb on_msg,
                         wk_intake_state_cb on_state, wk_inbox_refused_cb on_refused, void *arg);
/* 1 while subscribed (any thread). */
int wk_inbox_subscribed(const wk_inbox *ib);
/* Unsubscribe, end the thread (joined here) and drop what is still queued;
 * no callback after this. The memory goes once the loop has closed the
 * handle. NULL is ignored. */
void wk_inbox_stop(wk_inbox *ib);

#endif
