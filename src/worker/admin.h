/* admin.h — the worker's admin HTTP endpoints.
 *
 *   GET /healthz  200 "ok" while the process runs
 *   GET /readyz   200 while subscribed to the event channel, else 503
 *   GET /metrics  Prometheus text format 0.0.4 (metrics.h)
 * Anything else: 404 (unknown path) or 405 (a method other than GET/HEAD).
 * Served by libmicrohttpd on the worker's libuv loop (net/httpd_uv.h), so
 * handlers read the worker's state without locks. */
#ifndef EXTRACE_WORKER_ADMIN_H
#define EXTRACE_WORKER_ADMIN_H
#include <stddef.h>
#include <uv.h>

#include "net/conn_guard.h"
#include "worker/metrics.h"

typedef struct wk_admin wk_admin;

/* The worker's side: readiness, and the metrics text appended to out
 * (0, or -1 if it could not be built). */
typedef struct wk_admin_source {
    int (*ready)(void *arg);
    int (*metrics)(void *arg, wk_text *out);
    void *arg;
} wk_admin_source;

/* Listen on "HOST:PORT" (port 0: any free one) within *limits; /metrics
 * adds the listener's extrace_admin_connections_* counters. NULL with err
 * set. */
wk_admin *wk_admin_start(uv_loop_t *loop, const char *listen, const ex_conn_limits *limits,
                         const wk_admin_source *src, char *err, size_t errlen);
/* The port bound. */
int wk_admin_port(const wk_admin *a);
/* Stop serving; memory is freed once libuv has closed the handles. NULL is ignored. */
void wk_admin_stop(wk_admin *a);

#endif
