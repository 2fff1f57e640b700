/* admin.h — the worker's admin HTTP endpoints.
 *
 *   GET /healthz  200 "ok" while the process runs
 *   GET /readyz   200 while subscribed to the event channel, else 503
 *   GET /metrics  Prometheus text format 0.0.4 (metrics.h)
 *   GET /api/workflows[/{key}|/stream]  the live API (live.h, admin_live.c)
 * Anything else: 404 (unknown path) or 405 (a method other than GET/HEAD).
 * Served by libmicrohttpd on the worker's libuv loop (net/httpd_uv.h), so
 * handlers read the worker's state without locks. */
#ifndef EXTRACE_WORKER_ADMIN_H
#define EXTRACE_WORKER_ADMIN_H
#include <stddef.h>
#include <uv.h>

#include "net/conn_guard.h"
#include "worker/live.h"
#include "worker/metrics.h"

typedef struct wk_admin wk_admin;

/* The worker's side: readiness, and the metrics text appended to out
 * (0, or -1 if it could not be built); the live API reads reg and feed
 * (not owned; NULL reg: no live API). */
typedef struct wk_admin_source {
    int (*ready)(void *arg);
    int (*metrics)(void *arg, wk_text *out);
    void *arg;
    const wk_registry *reg; /* the workflows in flight */
    wk_feed *feed;          /* their changes */
    wk_live_ctx live;       /* namespace and source of their JSON */
    const char *instance;   /* "instance" of the list: the stream consumer, or host:pid */
} wk_admin_source;

/* Listen on "HOST:PORT" (port 0: any free one) within *limits; /metrics
 * adds the listener's extrace_admin_connections_* counters. NULL with err
 * set. */
wk_admin *wk_admin_start(uv_loop_t *loop, const char *listen, const ex_conn_limits *limits,
                         const wk_admin_source *src, char *err, size_t errlen);
/* The feed has new messages (or dropped some): wake the stream clients
 * on the next loop turn. NULL is ignored. */
void wk_admin_changed(wk_admin *a);
/* The port bound. */
int wk_admin_port(const wk_admin *a);
/* Stop serving; memory is freed once libuv has closed the handles. NULL is ignored. */
void wk_admin_stop(wk_admin *a);

#endif
