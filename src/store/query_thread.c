/* query_thread.c — the query API and UI on their own thread (see
 * query_thread.h). */
#include "store/query_thread.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <uv.h>

#include "core/log.h"
#include "core/mem.h"
#include "net/httpd_uv.h"
#include "store/live.h"
#include "store/ui.h"

struct sqt {
    uv_loop_t loop;      /* the thread's loop */
    uv_async_t stop;     /* wakes the loop to stop */
    sdb *db;             /* the read-only connection (owned) */
    sq_ctx *query;       /* owned */
    ex_httpd *http;      /* owned until stopped */
    slv *live;           /* the live workers' poller (NULL: no --live) */
    pthread_t thread;
    int started;         /* the thread runs */
    uint64_t not_found;  /* requests no route took */
};

/* The request line must hold a 16 KiB TraceQL query percent-encoded (up
 * to 48 KiB) besides the headers: MHD gets 128 KiB per connection. */
#define QUERY_CONN_MEMORY (128 * 1024)

static void handler(void *arg, const ex_http_req *req, ex_http_resp *resp)
{
    sqt *t = arg;
    if (ex_http_reject_repeated(req, "X-Scope-OrgID", resp)) return;
    sq_request r;
    sq_request_from_http(req, &r);
    if (sq_handle(t->query, &r, resp) || slv_route(t->live, &r, resp) || slv_trace_route(t->live, t->query, &r, resp) ||
        sui_route(req, resp))
        return;
    t->not_found++;
    ex_http_resp_printf(resp, 404, "application/json", "{\"error\":\"not found\"}\n");
}

static void stop_cb(uv_async_t *a)
{
    sqt *t = a->data;
    ex_listener_log_stats(ex_httpd_listener(t->http), "store");
    ex_httpd_stop(t->http);
    t->http = NULL;
    slv_stop(t->live);
    t->live = NULL;
    uv_close((uv_handle_t *)&t->stop, NULL);
}

static void *run(void *arg)
{
    sqt *t = arg;
    uv_run(&t->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* Free what exists of t once its thread (if any) has ended. */
static void release(sqt *t)
{
    if (uv_loop_close(&t->loop) != 0) ex_warn("query", "query loop closed with handles still open");
    sq_ctx_free(t->query);
    sdb_close(t->db);
    ex_free(t);
}

sqt *sqt_start(const sdb *writer, const char *listen, const ex_conn_limits *conn, const sq_limits *lim,
               const sqt_live *live, char *err, size_t errlen)
{
    sqt *t = ex_calloc(1, sizeof *t);
    if (!t || uv_loop_init(&t->loop) != 0) {
        ex_free(t);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    uv_async_init(&t->loop, &t->stop, stop_cb);
    t->stop.data = t;
    if (!(t->db = sdb_open_reader(writer, err, errlen))) goto fail;
    if (!(t->query = sq_ctx_new(t->db))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    sq_ctx_set_limits(t->query, lim);
    /* Query requests are GETs: a small body bound is plenty. */
    ex_httpd_cfg hc = {.name = "query", .limits = *conn, .max_body = 1 << 20, .conn_memory = QUERY_CONN_MEMORY,
                       .handler = handler, .arg = t};
    if (!(t->http = ex_httpd_start_with(&t->loop, listen, &hc, err, errlen))) goto fail;
    if (live && live->urls && *live->urls &&
        !(t->live = slv_start(&t->loop, live->urls, live->interval_ns, err, errlen)))
        goto fail;
    if (pthread_create(&t->thread, NULL, run, t) != 0) {
        snprintf(err, errlen, "cannot start the query thread");
        goto fail;
    }
    t->started = 1;
    return t;
fail:
    slv_stop(t->live);
    ex_httpd_stop(t->http);
    uv_close((uv_handle_t *)&t->stop, NULL);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    release(t);
    return NULL;
}

int sqt_port(const sqt *t)
{
    return ex_httpd_port(t->http);
}

void sqt_stop(sqt *t)
{
    if (!t) return;
    uv_async_send(&t->stop);
    pthread_join(t->thread, NULL);
    const sq_stats *q = sq_ctx_stats(t->query);
    ex_info("query",
            "%" PRIu64 " requests (%" PRIu64 " bad, %" PRIu64 " not found, %" PRIu64 " failed, %" PRIu64
            " other paths); %" PRIu64 " searches inspected %" PRIu64 " traces, %" PRIu64 " stopped at a limit",
            q->requests, q->bad_requests, q->not_found, q->failures, t->not_found, q->searches, q->inspected,
            q->limited);
    release(t);
}
