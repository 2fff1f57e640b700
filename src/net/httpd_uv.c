#include "net/httpd_uv.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/mem.h"
#include "net/mhd_uv.h"

struct ex_httpd {
    ex_mhd *mhd;               /* owned */
    size_t max_body;
    ex_mem_budget *budget;     /* bodies take their bytes from it (NULL: none) */
    ex_http_handler handler;
    void *arg;
    ex_http_later *waiting;    /* requests waiting for their later answer (ex_http_defer) */
};

/* Per-request state between MHD's calls of the access handler. */
typedef struct pending {
    char *body;     /* owned */
    size_t len, cap;
    size_t taken;   /* bytes taken from the server's budget for body */
    int too_large;  /* the body passed max_body: answer 413 */
    int over_budget; /* the budget could not hold the body: dropped */
    ex_httpd *h;
    ex_http_later *later; /* the handler deferred its answer, which has not come yet */
    ex_http_resp answer;  /* the later answer, until queued */
    int answered;         /* answer holds it */
    int suspended;        /* the connection waits for it */
} pending;

/* A deferred answer's handle: h and p are NULL once the connection is
 * gone or the server stopped (then the answer only frees it). */
struct ex_http_later {
    ex_httpd *h;
    pending *p;
    struct MHD_Connection *conn;
    ex_http_later *prev, *next; /* in h->waiting */
};

#define STREAM_BLOCK 16384 /* bytes MHD asks a stream for at once */

static void resp_clear(ex_http_resp *r)
{
    ex_free(r->body);
    for (int i = 0; i < r->nheaders; i++) ex_free(r->header_values[i]);
    if (r->stream.free) r->stream.free(r->stream.cls);
    memset(r, 0, sizeof *r);
}

static enum MHD_Result queue(struct MHD_Connection *c, ex_http_resp *r)
{
    struct MHD_Response *resp =
        r->stream.read ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
                                                           r->stream.read, r->stream.cls,
                                                           r->stream.free)
                       : MHD_create_response_from_buffer(r->body_len, r->body ? r->body : (char *)"",
                                                         MHD_RESPMEM_MUST_COPY);
    if (!resp && r->stream.free) r->stream.free(r->stream.cls);
    enum MHD_Result rc = MHD_NO;
    if (resp) {
        MHD_add_response_header(resp, "Content-Type", r->content_type ? r->content_type : "text/plain; charset=utf-8");
        for (int i = 0; i < r->nheaders; i++) MHD_add_response_header(resp, r->header_names[i], r->header_values[i]);
        rc = MHD_queue_response(c, (unsigned)(r->status ? r->status : 200), resp);
        MHD_destroy_response(resp);
    }
    r->stream.free = NULL; /* the stream belongs to MHD now (or was freed above) */
    resp_clear(r);
    return rc;
}

/* Take l out of its server's list; it answers nothing any more. */
static void later_detach(ex_http_later *l)
{
    ex_httpd *h = l->h;
    if (h) {
        if (l->prev) l->prev->next = l->next;
        else h->waiting = l->next;
        if (l->next) l->next->prev = l->prev;
    }
    if (l->p) l->p->later = NULL;
    l->h = NULL;
    l->p = NULL;
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
        p->h = h;
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
    if (p->suspended) { /* resumed: the later answer has come */
        p->suspended = 0;
        if (!p->answered) return MHD_YES;
        p->answered = 0;
        return queue(c, &p->answer);
    }
    ex_http_req req = {method, url, c, p->body ? p->body : "", p->len, p->over_budget, p};
    h->handler(h->arg, &req, &r);
    release(h, p);
    if (!p->later && !p->answered) return queue(c, &r);
    resp_clear(&r); /* a deferring handler leaves it empty */
    if (p->answered) { /* it came before the handler returned */
        p->answered = 0;
        return queue(c, &p->answer);
    }
    MHD_suspend_connection(c);
    p->suspended = 1;
    return MHD_YES;
}

ex_http_later *ex_http_defer(const ex_http_req *req)
{
    pending *p = req->priv;
    if (!p) return NULL;
    if (p->later) return p->later;
    ex_http_later *l = ex_calloc(1, sizeof *l);
    if (!l) return NULL;
    l->h = p->h;
    l->p = p;
    l->conn = req->conn;
    l->next = l->h->waiting;
    if (l->next) l->next->prev = l;
    l->h->waiting = l;
    p->later = l;
    return l;
}

/* Hold r as p's answer and wake its connection if it waits. */
static void later_give(pending *p, struct MHD_Connection *c, ex_http_resp *r)
{
    p->answer = *r;
    memset(r, 0, sizeof *r);
    p->answered = 1;
    if (p->suspended) {
        MHD_resume_connection(c);
        ex_mhd_run_soon(p->h->mhd); /* not now: this may be inside MHD_run */
    }
}

void ex_http_later_answer(ex_http_later *l, ex_http_resp *r)
{
    if (!l) {
        resp_clear(r);
        return;
    }
    pending *p = l->p;
    struct MHD_Connection *c = l->conn;
    later_detach(l);
    ex_free(l);
    if (p) later_give(p, c, r);
    else resp_clear(r); /* the connection is gone, or the server stopped */
}

static void completed_cb(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    pending *p = *con_cls;
    if (p) {
        if (p->later) later_detach(p->later); /* its answer will only free it */
        resp_clear(&p->answer);
        release(cls, p);
        ex_free(p);
        *con_cls = NULL;
    }
}

ex_httpd *ex_httpd_start_with(uv_loop_t *loop, const char *listen, const ex_httpd_cfg *cfg, char *err,
                             size_t errlen)
{
    ex_httpd *h = ex_calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->max_body = cfg->max_body;
    h->handler = cfg->handler;
    h->arg = cfg->arg;
    ex_mhd_cfg mc = {.name = cfg->name ? cfg->name : "http", .flag_prefix = cfg->flag_prefix, .limits = cfg->limits,
                     .conn_memory = cfg->conn_memory, .flags = cfg->mhd_flags, .access = access_cb, .access_cls = h,
                     .completed = completed_cb, .completed_cls = h};
    if (!(h->mhd = ex_mhd_start(loop, listen, &mc, err, errlen))) {
        ex_free(h);
        return NULL;
    }
    return h;
}

ex_httpd *ex_httpd_start(uv_loop_t *loop, const char *listen, size_t max_body, ex_http_handler handler,
                         void *arg, char *err, size_t errlen)
{
    ex_httpd_cfg cfg = {.limits = EX_CONN_LIMITS_DEFAULT, .max_body = max_body, .handler = handler, .arg = arg};
    return ex_httpd_start_with(loop, listen, &cfg, err, errlen);
}

int ex_httpd_port(const ex_httpd *h) { return ex_mhd_port(h->mhd); }

void ex_httpd_set_budget(ex_httpd *h, ex_mem_budget *b) { h->budget = b; }

const ex_listener *ex_httpd_listener(const ex_httpd *h) { return ex_mhd_listener(h->mhd); }

void ex_httpd_resume(ex_httpd *h, struct MHD_Connection *c)
{
    (void)h;
    MHD_resume_connection(c);
}

void ex_httpd_run(ex_httpd *h) { ex_mhd_run(h->mhd); }

void ex_httpd_stop(ex_httpd *h)
{
    if (!h) return;
    while (h->waiting) { /* MHD must not stop with suspended connections: they get 503 */
        ex_http_later *l = h->waiting;
        pending *p = l->p;
        later_detach(l); /* l stays for its later answer, which frees it */
        ex_http_resp r = {0};
        ex_http_resp_printf(&r, 503, "text/plain; charset=utf-8", "shutting down: send it again later\n");
        ex_http_resp_header(&r, "Retry-After", "1");
        later_give(p, l->conn, &r);
    }
    ex_mhd_run(h->mhd);
    ex_mhd_stop(h->mhd);
    ex_free(h);
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

typedef struct header_count {
    const char *name;
    int n;
} header_count;

static enum MHD_Result count_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    header_count *hc = cls;
    if (key && strcasecmp(key, hc->name) == 0) hc->n++;
    return MHD_YES;
}

int ex_http_header_count(const ex_http_req *req, const char *name)
{
    header_count hc = {name, 0};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, count_cb, &hc);
    return hc.n;
}

int ex_http_reject_repeated(const ex_http_req *req, const char *name, ex_http_resp *resp)
{
    int n = req->conn ? ex_http_header_count(req, name) : 0;
    if (n <= 1) return 0;
    ex_http_resp_printf(resp, 400, "application/json",
                        "{\"error\":\"%s: the header came %d times; send it exactly once\"}\n", name, n);
    return 1;
}
