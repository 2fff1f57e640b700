#include "net/httpd_uv.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"

struct ex_httpd {
    struct MHD_Daemon *daemon; /* owned */
    uv_poll_t poll;            /* watches MHD's epoll fd */
    uv_timer_t timer;          /* MHD's connection timeouts */
    int handles_open;          /* uv handles not yet closed */
    size_t max_body;
    ex_mem_budget *budget;     /* bodies take their bytes from it (NULL: none) */
    ex_http_handler handler;
    void *arg;
    int port;
};

/* Per-request state between MHD's calls of the access handler. */
typedef struct pending {
    char *body;     /* owned */
    size_t len, cap;
    size_t taken;   /* bytes taken from the server's budget for body */
    int too_large;  /* the body passed max_body: answer 413 */
    int over_budget; /* the budget could not hold the body: dropped */
} pending;

static void reschedule(ex_httpd *h);

static enum MHD_Result queue(struct MHD_Connection *c, ex_http_resp *r)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->body_len, r->body ? r->body : (char *)"", MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc = MHD_NO;
    if (resp) {
        MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type : "text/plain; charset=utf-8");
        for (int i = 0; i < r->nheaders; i++) MHD_add_response_header(resp, r->header_names[i], r->header_values[i]);
        rc = MHD_queue_response(c, (unsigned)(r->status ? r->status : 200), resp);
        MHD_destroy_response(resp);
    }
    ex_free(r->body);
    for (int i = 0; i < r->nheaders; i++) ex_free(r->header_values[i]);
    return rc;
}

/* Drop the body and give its bytes back to the budget. */
static void release(ex_httpd *h, pending *p)
{
    ex_free(p->body);
    p->body = NULL;
    p->len = p->cap = 0;
    ex_mbud_give(h->budget, p->taken);
    p->taken = 0;
}

/* Take what a body buffer of cap bytes needs beyond what p holds already
 * from the budget. 0, or -1 when the budget refuses (over_budget set, the
 * body dropped). */
static int budget_grow(ex_httpd *h, pending *p, size_t cap)
{
    if (cap <= p->taken) return 0;
    if (ex_mbud_take(h->budget, cap - p->taken) != 0) {
        p->over_budget = 1;
        release(h, p);
        return -1;
    }
    p->taken = cap;
    return 0;
}

static int append(ex_httpd *h, pending *p, const char *data, size_t n)
{
    if (p->len + n > h->max_body) { p->too_large = 1; release(h, p); return 0; }
    if (p->len + n + 1 > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (cap < p->len + n + 1) cap *= 2;
        if (cap > h->max_body + 1) cap = h->max_body + 1;
        if (h->budget && budget_grow(h, p, cap) != 0) return 0;
        char *b = ex_realloc(p->body, cap);
        if (!b) return -1;
        p->body = b;
        p->cap = cap;
    }
    memcpy(p->body + p->len, data, n);
    p->len += n;
    p->body[p->len] = '\0';
    return 0;
}

/* With a Content-Length within max_body, take the whole body's bytes from
 * the budget before any arrives (and allocate them once). */
static void reserve_declared(ex_httpd *h, struct MHD_Connection *c, pending *p)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    char *end;
    unsigned long long n = cl ? strtoull(cl, &end, 10) : 0;
    if (!cl || end == cl || *end || n == 0 || n > h->max_body) return;
    if (budget_grow(h, p, (size_t)n + 1) != 0) return;
    if ((p->body = ex_malloc((size_t)n + 1))) p->cap = (size_t)n + 1;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                 const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    ex_httpd *h = cls;
    pending *p = *con_cls;
    if (!p) { /* first call: headers only */
        if (!(p = ex_calloc(1, sizeof *p))) return MHD_NO;
        *con_cls = p;
        if (h->budget) reserve_declared(h, c, p);
        return MHD_YES;
    }
    if (*upload_size) {
        if (!p->too_large && !p->over_budget && append(h, p, upload, *upload_size) < 0) return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    ex_http_resp r = {0};
    if (p->too_large) {
        ex_http_resp_printf(&r, 413, "application/json", "{\"error\":\"request body larger than %zu bytes\"}\n",
                            h->max_body);
        return queue(c, &r);
    }
    ex_http_req req = {method, url, c, p->body ? p->body : "", p->len, p->over_budget};
    h->handler(h->arg, &req, &r);
    release(h, p);
    return queue(c, &r);
}

static void completed_cb(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    pending *p = *con_cls;
    if (p) {
        release(cls, p);
        ex_free(p);
        *con_cls = NULL;
    }
}

/* MHD's own messages go through our logger instead of straight to stderr. */
static void mhd_log_cb(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    ex_debug("http", "%s", msg);
}

static void run(ex_httpd *h)
{
    MHD_run(h->daemon);
    reschedule(h);
}

static void poll_cb(uv_poll_t *p, int status, int events) { run(p->data); }
static void timer_cb(uv_timer_t *t) { run(t->data); }

static void reschedule(ex_httpd *h)
{
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(h->daemon, &ms) == MHD_YES) uv_timer_start(&h->timer, timer_cb, ms, 0);
    else uv_timer_stop(&h->timer);
}

ex_httpd *ex_httpd_start(uv_loop_t *loop, const char *listen, size_t max_body, ex_http_handler handler,
                         void *arg, char *err, size_t errlen)
{
    char host[256];
    int port;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    if (ex_hostport_split(listen, host, sizeof host, &port) || inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "\"%s\": expected IPv4-ADDRESS:PORT", listen);
        return NULL;
    }
    sa.sin_port = htons((uint16_t)port);
    ex_httpd *h = ex_calloc(1, sizeof *h);
    if (!h) { snprintf(err, errlen, "out of memory"); return NULL; }
    h->max_body = max_body;
    h->handler = handler;
    h->arg = arg;
    h->daemon = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL, access_cb, h,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED,
                                 completed_cb, h, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_log_cb, NULL, MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, errlen, "cannot listen on %s (address in use or not available)", listen);
        ex_free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *fd = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *bound = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = bound ? bound->port : port;
    uv_poll_init(loop, &h->poll, fd->epoll_fd);
    uv_timer_init(loop, &h->timer);
    h->poll.data = h->timer.data = h;
    h->handles_open = 2;
    uv_poll_start(&h->poll, UV_READABLE, poll_cb);
    reschedule(h);
    return h;
}

int ex_httpd_port(const ex_httpd *h) { return h->port; }

void ex_httpd_set_budget(ex_httpd *h, ex_mem_budget *b) { h->budget = b; }

static void close_cb(uv_handle_t *handle)
{
    ex_httpd *h = handle->data;
    if (--h->handles_open == 0) ex_free(h);
}

void ex_httpd_stop(ex_httpd *h)
{
    if (!h) return;
    uv_poll_stop(&h->poll);
    uv_timer_stop(&h->timer);
    MHD_stop_daemon(h->daemon);
    h->daemon = NULL;
    uv_close((uv_handle_t *)&h->poll, close_cb);
    uv_close((uv_handle_t *)&h->timer, close_cb);
}

int ex_http_resp_set(ex_http_resp *r, int status, const char *content_type, const char *body, size_t len)
{
    char *copy = ex_malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, body, len);
    copy[len] = '\0';
    ex_free(r->body);
    r->body = copy;
    r->body_len = len;
    r->status = status;
    r->content_type = content_type;
    return 0;
}

int ex_http_resp_printf(ex_http_resp *r, int status, const char *content_type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0) return -1;
    int rc = ex_http_resp_set(r, status, content_type, text, (size_t)n);
    free(text);
    return rc;
}

int ex_http_resp_header(ex_http_resp *r, const char *name, const char *value)
{
    if (r->nheaders >= EX_HTTP_MAX_HEADERS) return -1;
    char *v = ex_strdup(value);
    if (!v) return -1;
    r->header_names[r->nheaders] = name;
    r->header_values[r->nheaders++] = v;
    return 0;
}
