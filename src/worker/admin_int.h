/* admin_int.h — the admin listener's state, shared by admin.c (routing,
 * /healthz, /readyz, /metrics) and admin_live.c (the live API). Not a
 * public interface. */
#ifndef EXTRACE_WORKER_ADMIN_INT_H
#define EXTRACE_WORKER_ADMIN_INT_H
#include <stdint.h>
#include <uv.h>

#include "net/httpd_uv.h"
#include "worker/admin.h"

#define WK_LIVE_PING_MS 15000 /* a ": ping" comment to every stream client this often */

typedef struct wk_sse_client wk_sse_client; /* admin_live.c */

/* Counters of the live API (extrace_live_* in /metrics). */
typedef struct wk_live_stats {
    uint64_t requests[3];    /* list, detail, stream */
    uint64_t bad_requests;   /* answered 400 */
    uint64_t not_found;      /* detail of a workflow not in flight: 404 */
    uint64_t clients_dropped; /* stream clients that fell behind the feed, disconnected */
    uint64_t clients_total;  /* stream clients accepted */
    int64_t clients;         /* stream clients connected now */
} wk_live_stats;

struct wk_admin {
    ex_httpd *httpd;         /* owned */
    wk_admin_source src;
    wk_live_stats live;
    wk_sse_client *clients;  /* connected stream clients (doubly linked) */
    uv_timer_t kick;         /* wakes stream clients after feed changes (0 ms) */
    uv_timer_t ping;         /* every WK_LIVE_PING_MS */
    int handles_open;        /* of kick and ping; the struct is freed once both closed */
};

/* Serve the live API's paths (/api/workflows…): 1 if req was one of
 * them (resp filled), else 0. */
int wk_admin_live(wk_admin *a, const ex_http_req *req, ex_http_resp *resp);
/* The live API's metrics, appended to t. */
void wk_admin_live_metrics(const wk_admin *a, wk_text *t);
/* Start the timers; 0 or -1. */
int wk_admin_live_start(wk_admin *a, uv_loop_t *loop);
/* End every stream (resumed so the server can close them), stop the timers. */
void wk_admin_live_stop(wk_admin *a);

#endif
