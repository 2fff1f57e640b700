#include "worker/admin.h"

#include <stdio.h>
#include <string.h>
#include <microhttpd.h>

#include "core/mem.h"
#include "net/httpd_uv.h"
#include "worker/admin_int.h"

#define TEXT      "text/plain; charset=utf-8"
#define PROM_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define MAX_BODY  1024 /* admin requests carry no body worth reading */

static void serve_metrics(wk_admin *a, ex_http_resp *resp)
{
    wk_text t = {0};
    char conns[2048];
    size_t n = ex_listener_metrics(ex_httpd_listener(a->httpd), "extrace_admin", conns, sizeof conns);
    int rc = a->src.metrics(a->src.arg, &t);
    wk_text_printf(&t, "%.*s", (int)n, conns);
    wk_admin_live_metrics(a, &t);
    if (rc != 0 || t.failed) {
        wk_text_free(&t);
        ex_http_resp_printf(resp, 500, TEXT, "metrics could not be rendered (out of memory)\n");
        return;
    }
    /* The server frees the body (ex_malloc'd by wk_text). */
    resp->status = 200;
    resp->content_type = PROM_TEXT;
    resp->body = t.data;
    resp->body_len = t.len;
}

static void handle(void *arg, const ex_http_req *req, ex_http_resp *resp)
{
    wk_admin *a = arg;
    if (wk_admin_live(a, req, resp)) return;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        ex_http_resp_printf(resp, 405, TEXT, "method %s not allowed: use GET\n", req->method);
        ex_http_resp_header(resp, "Allow", "GET, HEAD");
    } else if (strcmp(req->path, "/healthz") == 0) {
        ex_http_resp_printf(resp, 200, TEXT, "ok\n");
    } else if (strcmp(req->path, "/readyz") == 0) {
        if (a->src.ready(a->src.arg)) ex_http_resp_printf(resp, 200, TEXT, "ready\n");
        else ex_http_resp_printf(resp, 503, TEXT, "not ready: not subscribed to the event channel\n");
    } else if (strcmp(req->path, "/metrics") == 0) {
        serve_metrics(a, resp);
    } else {
        ex_http_resp_printf(resp, 404, TEXT, "no such path: %s (try /healthz, /readyz, /metrics, /api/workflows)\n", req->path);
    }
}

wk_admin *wk_admin_start(uv_loop_t *loop, const char *listen, const ex_conn_limits *limits,
                         const wk_admin_source *src, char *err, size_t errlen)
{
    wk_admin *a = ex_calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->src = *src;
    ex_httpd_cfg cfg = {.name = "admin", .flag_prefix = "admin-", .limits = *limits, .max_body = MAX_BODY,
                        .mhd_flags = MHD_ALLOW_SUSPEND_RESUME, .handler = handle, .arg = a};
    a->httpd = ex_httpd_start_with(loop, listen, &cfg, err, errlen);
    if (!a->httpd) {
        ex_free(a);
        return NULL;
    }
    wk_admin_live_start(a, loop);
    return a;
}

int wk_admin_port(const wk_admin *a) { return ex_httpd_port(a->httpd); }

static void closed_cb(uv_handle_t *h)
{
    wk_admin *a = h->data;
    if (--a->handles_open == 0) ex_free(a);
}

void wk_admin_stop(wk_admin *a)
{
    if (!a) return;
    wk_admin_live_stop(a); /* the server must not stop with suspended connections */
    ex_httpd_stop(a->httpd);
    uv_close((uv_handle_t *)&a->kick, closed_cb);
    uv_close((uv_handle_t *)&a->ping, closed_cb);
}
