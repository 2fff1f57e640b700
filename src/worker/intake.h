/* intake.h — WorkflowStarted events from a Redis pub/sub channel.
 *
 * hiredis' async API on the caller's libuv loop (its libuv adapter):
 * connect, AUTH if the address has a password, SUBSCRIBE <channel>, then
 * hand each message's payload to the caller. A refused or lost connection,
 * a rejected AUTH or no answer within the connect timeout is logged and
 * retried after a backoff (backoff_min doubling to backoff_max, back to
 * backoff_min once subscribed). Pub/sub ignores the database number, so no
 * SELECT is sent. hiredis 0.14 resolves host names synchronously; use an IP
 * address where DNS may be slow. */
#ifndef EXTRACE_WORKER_INTAKE_H
#define EXTRACE_WORKER_INTAKE_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/redis_url.h"

typedef struct wk_intake wk_intake;

/* One message of the channel (payload not NUL-terminated; valid during the call). */
typedef void (*wk_intake_msg_cb)(void *arg, const char *payload, size_t len);
/* The subscription started (1) or ended (0). */
typedef void (*wk_intake_state_cb)(void *arg, int subscribed);

typedef struct wk_intake_config {
    ex_redis_addr addr;         /* where and how to log in (copied) */
    const char *channel;        /* copied */
    int64_t backoff_min_ns;     /* first retry delay (e.g. 100 ms) */
    int64_t backoff_max_ns;     /* largest retry delay (e.g. 5 s) */
    int64_t connect_timeout_ns; /* connect + AUTH + SUBSCRIBE must finish within this */
} wk_intake_config;

/* Start connecting on `loop`; messages and state changes go to the
 * callbacks with `arg`. NULL on allocation failure. */
wk_intake *wk_intake_new(uv_loop_t *loop, const wk_intake_config *cfg, wk_intake_msg_cb on_msg,
                         wk_intake_state_cb on_state, void *arg);
/* 1 while subscribed. */
int wk_intake_subscribed(const wk_intake *in);
/* Close the connection (no callbacks after this) and stop retrying; the
 * memory is freed once libuv has closed the handles. NULL is ignored. */
void wk_intake_stop(wk_intake *in);

#endif
