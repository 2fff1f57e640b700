#include "sim/http.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "net/mhd_uv.h"
#include "sim/faults.h"

/* What a request's MHD context (con_cls) points at, besides &no_body. */
enum { CTX_UPLOAD = 1, CTX_DELAYED };

/* A faultable request held back by --latency: its connection is
 * suspended (MHD keeps it, unpolled) until due, then resumed, and MHD
 * calls on_request again to get the answer. Owned by the connection's
 * con_cls; freed in on_completed. */
typedef struct delayed {
    int ctx;                     /* CTX_DELAYED */
    struct MHD_Connection *conn; /* the suspended connection */
    uint64_t due_ms;             /* uv_now() at which it is answered */
    struct delayed *next;        /* next in the FIFO of suspended requests */
    int queued;                  /* 1 while in the FIFO (suspended) */
    sim_fault_kind fault;        /* its fate, drawn on arrival */
} delayed;

struct sim_http {
    ex_mhd *mhd;               /* owned; NULL once stopped */
    uv_loop_t *loop;           /* the loop serving it; owned by the caller */
    uv_timer_t latency_timer;  /* fires when the oldest delayed request is due */
    delayed *head, *tail;      /* suspended requests; due times ascend (one latency for all) */
    sim_api *api;              /* served; owned by the caller */
    int port;                  /* bound port */
};

/* The body of a request that carries one, collected across calls. */
typedef struct upload {
    int ctx;        /* CTX_UPLOAD */
    sim_buf body;   /* up to SIM_BODY_MAX bytes */
    int too_large;  /* 1 once more than SIM_BODY_MAX arrived (the rest is dropped) */
} upload;

static const char json_type[] = "application/json; charset=utf-8";
static char no_body; /* con_cls of a request without a body that is not delayed */


static const char *query_arg(void *ctx, const char *key)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)ctx, MHD_GET_ARGUMENT_KIND, key);
}

static const char *header_arg(void *ctx, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)ctx, MHD_HEADER_KIND, name);
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, const sim_reply *rep)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(rep->body_len, (void *)rep->body, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    enum MHD_Result ok = MHD_YES;
    if (rep->status != 304)
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                     rep->content_type ? rep->content_type : json_type);
    for (int i = 0; ok == MHD_YES && i < rep->nheaders; i++)
        ok = MHD_add_response_header(resp, rep->hname[i], rep->hvalue[i]);
    if (ok == MHD_YES && rep->allow) ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rep->allow);
    if (ok == MHD_YES && rep->location[0])
        ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, rep->location);
    if (ok == MHD_YES) ok = MHD_queue_response(conn, (unsigned int)rep->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result answer(sim_http *h, struct MHD_Connection *conn, const char *url, const char *method,
                              const upload *up)
{
    sim_request req = {.method = method, .path = url, .query = query_arg, .query_ctx = conn,
                       .header = header_arg, .header_ctx = conn};
    if (up) {
        req.body = up->body.data;
        req.body_len = up->body.len;
        req.body_too_large = up->too_large;
    }
    sim_reply rep;
    sim_api_handle(h->api, &req, &rep);
    return send_reply(conn, &rep);
}

/* Answer a faultable request as its drawn fate says: a dropped one gets
 * MHD_NO, which makes MHD close the connection without a reply. */
static enum MHD_Result answer_fault(sim_http *h, struct MHD_Connection *conn, const char *url, const char *method,
                                    sim_fault_kind kind)
{
    if (kind == SIM_FAULT_NONE) return answer(h, conn, url, method, NULL);
    ex_debug("api", "%s %s: injected fault: %s", method, url, sim_fault_name(kind));
    if (kind == SIM_FAULT_DROP) return MHD_NO;
    sim_reply rep;
    sim_faults_reply(kind, &rep);
    return send_reply(conn, &rep);
}

static void arm_latency_timer(sim_http *h);

static void on_latency_timer(uv_timer_t *t)
{
    sim_http *h = t->data;
    uint64_t now = uv_now(h->loop);
    while (h->head && h->head->due_ms <= now) {
        delayed *d = h->head;
        h->head = d->next;
        if (!h->head) h->tail = NULL;
        d->next = NULL;
        d->queued = 0;
        MHD_resume_connection(d->conn);
    }
    arm_latency_timer(h);
    ex_mhd_run(h->mhd); /* serve the resumed connections now */
}

static void arm_latency_timer(sim_http *h)
{
    if (!h->head) return;
    uint64_t now = uv_now(h->loop);
    uv_timer_start(&h->latency_timer, on_latency_timer, h->head->due_ms > now ? h->head->due_ms - now : 0, 0);
}

/* Hold a faultable request back by the latency: suspend its connection
 * and queue it. MHD_YES, or the answer right away if out of memory. */
static enum MHD_Result delay(sim_http *h, struct MHD_Connection *conn, const char *url, const char *method,
                             sim_fault_kind kind, void **con_cls)
{
    sim_faults *f = h->api->faults;
    delayed *d = ex_calloc(1, sizeof *d);
    if (!d) return answer_fault(h, conn, url, method, kind);
    d->ctx = CTX_DELAYED;
    d->conn = conn;
    d->fault = kind;
    d->due_ms = uv_now(h->loop) + f->latency_ms;
    d->queued = 1;
    if (h->tail) h->tail->next = d;
    else h->head = d;
    h->tail = d;
    *con_cls = d;
    f->stats.delayed++;
    MHD_suspend_connection(conn);
    if (h->head == d) arm_latency_timer(h);
    return MHD_YES;
}

/* A complete request without a body: faulted and delayed if it may be. */
static enum MHD_Result answer_bodiless(sim_http *h, struct MHD_Connection *conn, const char *url,
                                       const char *method, void **con_cls)
{
    sim_faults *f = h->api->faults;
    if (*con_cls != &no_body) return answer_fault(h, conn, url, method, ((delayed *)*con_cls)->fault); /* resumed */
    if (!sim_faults_active(f) || !sim_api_faultable(h->api, method, url)) return answer(h, conn, url, method, NULL);
    sim_fault_kind kind = sim_faults_draw(f);
    if (f->latency_ms == 0) return answer_fault(h, conn, url, method, kind);
    return delay(h, conn, url, method, kind, con_cls);
}

static int carries_body(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
}

/* A declared Content-Length over the limit: answer 413 before reading. */
static int declared_too_large(struct MHD_Connection *conn)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return cl && strtoull(cl, NULL, 10) > SIM_BODY_MAX;
}

/* MHD calls this at least twice per request: first with the headers only
 * (nothing is queued then: a reply queued that early makes MHD close the
 * connection, losing keep-alive), then once per chunk of body, then with
 * *data_size == 0 when the request is complete (and once more after a
 * delayed request is resumed). A request without a body marks its first
 * call with `no_body` and so needs no allocation. */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **con_cls)
{
    sim_http *h = cls;
    if (*con_cls == NULL) {
        if (!carries_body(method)) {
            *con_cls = &no_body;
            return MHD_YES;
        }
        if (declared_too_large(conn)) {
            upload early = {.too_large = 1}; /* answered now: the body is never read */
            return answer(h, conn, url, method, &early);
        }
        upload *up = ex_calloc(1, sizeof *up);
        if (!up) return MHD_NO;
        up->ctx = CTX_UPLOAD;
        sim_buf_init(&up->body, SIM_BODY_MAX);
        *con_cls = up;
        return MHD_YES;
    }
    if (!carries_body(method)) { /* &no_body, or a delayed request */
        if (*data_size == 0) return answer_bodiless(h, conn, url, method, con_cls);
        *data_size = 0; /* a body on GET and the like is read and dropped */
        return MHD_YES;
    }
    upload *up = *con_cls;
    if (*data_size) {
        if (!up->too_large && sim_buf_put(&up->body, data, *data_size)) up->too_large = 1;
        *data_size = 0;
        return MHD_YES;
    }
    return answer(h, conn, url, method, up);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode code)
{
    sim_http *h = cls;
    void *ctx = *con_cls;
    *con_cls = NULL;
    if (!ctx || ctx == &no_body) return;
    if (*(int *)ctx == CTX_DELAYED) {
        delayed *d = ctx, **pp = &h->head, *prev = NULL;
        while (d->queued && *pp && *pp != d) { /* closed while suspended (only at stop) */
            prev = *pp;
            pp = &(*pp)->next;
        }
        if (d->queued && *pp) {
            *pp = d->next;
            if (h->tail == d) h->tail = prev;
        }
        ex_free(d);
        return;
    }
    upload *up = ctx;
    sim_buf_free(&up->body);
    ex_free(up);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    sim_http *h = cls;
    /* the close that follows an injected drop is expected: not a warning */
    if (h->api->faults && h->api->faults->drop_rate > 0 && strstr(msg, "Application reported internal error"))
        ex_debug("api", "http: %s", msg);
    else
        ex_warn("api", "http: %s", msg);
}

sim_http *sim_http_start(uv_loop_t *loop, sim_api *api, const char *listen, const ex_conn_limits *limits,
                         char *err, size_t errlen)
{
    sim_http *h = ex_calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->api = api;
    h->loop = loop;
    ex_mhd_cfg cfg = {.name = "api", .limits = *limits, .flags = MHD_USE_TURBO,
                      .conn_memory = SIM_HTTP_CONN_MEMORY, .access = on_request, .access_cls = h,
                      .completed = on_completed, .completed_cls = h, .logger = mhd_log, .logger_cls = h};
    /* only with a latency: suspending needs MHD's extra wake-up fd */
    if (api->faults && api->faults->latency_ms > 0) cfg.flags |= MHD_ALLOW_SUSPEND_RESUME;
    if (!(h->mhd = ex_mhd_start(loop, listen, &cfg, err, errlen))) {
        ex_free(h);
        return NULL;
    }
    uv_timer_init(loop, &h->latency_timer);
    h->latency_timer.data = h;
    h->port = ex_mhd_port(h->mhd);
    return h;
}

const ex_listener *sim_http_listener(const sim_http *h) { return ex_mhd_listener(h->mhd); }

int sim_http_port(const sim_http *h) { return h->port; }

static void on_closed(uv_handle_t *handle) { ex_free(handle->data); }

void sim_http_stop(sim_http *h)
{
    if (!h || !h->mhd) return;
    uv_timer_stop(&h->latency_timer);
    /* MHD must not be stopped with suspended connections: resume them, and
     * MHD_stop_daemon closes them unanswered (on_completed frees them) */
    while (h->head) {
        delayed *d = h->head;
        h->head = d->next;
        d->next = NULL;
        d->queued = 0;
        MHD_resume_connection(d->conn);
    }
    h->tail = NULL;
    ex_mhd_stop(h->mhd);
    h->mhd = NULL;
    uv_close((uv_handle_t *)&h->latency_timer, on_closed);
}
