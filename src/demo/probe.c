/* probe.c — readiness checks and HTTP GETs on the demo's loop. */
#include "demo/probe.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"

static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
    dm_fetch *f = arg;
    return ex_curl_append(&f->body, &f->len, &f->cap, DM_FETCH_MAX_BODY, &f->too_big, data, size * nmemb);
}

static void fetch_done_cb(CURL *easy, CURLcode result, void *arg)
{
    dm_fetch *f = arg;
    long status = 0;
    f->busy = 0;
    if (result == CURLE_OK) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (f->too_big) snprintf(f->errbuf, sizeof f->errbuf, "the answer is larger than %d bytes", DM_FETCH_MAX_BODY);
    else if (result != CURLE_OK && !f->errbuf[0]) snprintf(f->errbuf, sizeof f->errbuf, "%s", curl_easy_strerror(result));
    f->cb(f, result, status, f->arg);
}

int dm_fetch_get(dm_fetch *f, ex_curl_loop *cl, const char *url, long timeout_ms, dm_fetch_cb cb, void *arg)
{
    if (f->busy) return -1;
    if (!f->easy && !(f->easy = curl_easy_init())) return -1;
    f->len = 0;
    f->too_big = 0;
    f->errbuf[0] = '\0';
    if (f->body) f->body[0] = '\0';
    CURL *e = f->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, ""); /* the children are local: ignore http_proxy */
    f->cb = cb;
    f->arg = arg;
    f->busy = 1;
    if (ex_curl_loop_add(cl, e, fetch_done_cb, f) != 0) {
        f->busy = 0;
        return -1;
    }
    return 0;
}

void dm_fetch_free(dm_fetch *f)
{
    if (f->easy) curl_easy_cleanup(f->easy);
    ex_free(f->body);
    f->easy = NULL;
    f->body = NULL;
    f->len = f->cap = 0;
}

void dm_probe_init(dm_probe *p, uv_loop_t *loop, ex_curl_loop *curl)
{
    memset(p, 0, sizeof *p);
    p->loop = loop;
    p->curl = curl;
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
}

static void attempt(dm_probe *p);

static void timer_cb(uv_timer_t *t) { attempt(t->data); }

/* The last attempt failed: try again shortly, or give up at the deadline. */
static void retry(dm_probe *p)
{
    if (!p->active) return;
    if (ex_mono_ns() >= p->deadline) {
        p->active = 0;
        p->cb(p, 0, p->why, p->arg);
        return;
    }
    uv_timer_start(&p->timer, timer_cb, DM_PROBE_RETRY_MS, 0);
}

static void succeed(dm_probe *p)
{
    p->active = 0;
    p->cb(p, 1, "", p->arg);
}

static void tcp_closed_cb(uv_handle_t *h)
{
    dm_probe *p = h->data;
    p->tcp_busy = 0;
    if (!p->active) return;
    if (p->tcp_status == 0) {
        succeed(p);
        return;
    }
    snprintf(p->why, sizeof p->why, "connect to 127.0.0.1:%d: %s", p->port, uv_strerror(p->tcp_status));
    retry(p);
}

static void connect_cb(uv_connect_t *req, int status)
{
    dm_probe *p = req->data;
    p->tcp_status = status;
    if (!uv_is_closing((uv_handle_t *)&p->tcp)) uv_close((uv_handle_t *)&p->tcp, tcp_closed_cb);
}

static void http_cb(dm_fetch *f, CURLcode result, long status, void *arg)
{
    dm_probe *p = arg;
    (void)f;
    if (!p->active) return;
    if (result == CURLE_OK && status == 200) {
        succeed(p);
        return;
    }
    if (result == CURLE_OK) snprintf(p->why, sizeof p->why, "GET %s: HTTP status %ld", p->url, status);
    else snprintf(p->why, sizeof p->why, "GET %s: %s", p->url, p->fetch.errbuf);
    retry(p);
}

static void attempt(dm_probe *p)
{
    if (!p->active) return;
    if (p->kind == DM_PROBE_HTTP) {
        if (dm_fetch_get(&p->fetch, p->curl, p->url, 1000, http_cb, p) != 0) {
            snprintf(p->why, sizeof p->why, "GET %s: could not start the request", p->url);
            retry(p);
        }
        return;
    }
    if (p->tcp_busy) { /* the previous attempt's handle is still closing */
        uv_timer_start(&p->timer, timer_cb, DM_PROBE_RETRY_MS, 0);
        return;
    }
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", p->port, &addr);
    uv_tcp_init(p->loop, &p->tcp);
    p->tcp.data = p->connect.data = p;
    p->tcp_busy = 1;
    int rc = uv_tcp_connect(&p->connect, &p->tcp, (const struct sockaddr *)&addr, connect_cb);
    if (rc != 0) {
        p->tcp_status = rc;
        uv_close((uv_handle_t *)&p->tcp, tcp_closed_cb);
    }
}

static void start(dm_probe *p, int64_t timeout_ns, dm_probe_cb cb, void *arg)
{
    p->deadline = ex_mono_ns() + timeout_ns;
    p->cb = cb;
    p->arg = arg;
    p->why[0] = '\0';
    p->active = 1;
    /* From the timer, so the result never comes from inside the start call. */
    uv_timer_start(&p->timer, timer_cb, 0, 0);
}

void dm_probe_start_tcp(dm_probe *p, int port, int64_t timeout_ns, dm_probe_cb cb, void *arg)
{
    p->kind = DM_PROBE_TCP;
    p->port = port;
    start(p, timeout_ns, cb, arg);
}

void dm_probe_start_http(dm_probe *p, const char *url, int64_t timeout_ns, dm_probe_cb cb, void *arg)
{
    p->kind = DM_PROBE_HTTP;
    snprintf(p->url, sizeof p->url, "%s", url);
    start(p, timeout_ns, cb, arg);
}

void dm_probe_cancel(dm_probe *p)
{
    p->active = 0;
    uv_timer_stop(&p->timer);
    if (p->tcp_busy && !uv_is_closing((uv_handle_t *)&p->tcp)) uv_close((uv_handle_t *)&p->tcp, tcp_closed_cb);
}

void dm_probe_close(dm_probe *p)
{
    dm_probe_cancel(p);
    if (!uv_is_closing((uv_handle_t *)&p->timer)) uv_close((uv_handle_t *)&p->timer, NULL);
}

void dm_probe_free(dm_probe *p) { dm_fetch_free(&p->fetch); }
