#include "sim/http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/config.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/mem.h"
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
    struct MHD_Daemon *daemon; /* owned; NULL once stopped */
    uv_loop_t *loop;           /* the loop serving it; owned by the caller */
    uv_poll_t poll;            /* watches MHD's epoll fd */
    uv_timer_t timer;          /* fires when MHD's next timeout is due */
    uv_timer_t latency_timer;  /* fires when the oldest delayed request is due */
    delayed *head, *tail;      /* suspended requests; due times ascend (one latency for all) */
    int handles_open;          /* uv handles not yet closed */
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

static void on_timer(uv_timer_t *t);
static void run_mhd(sim_http *h);

static const char *query_arg(void *ctx, const char *key)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)ctx, MHD_GET_ARGUMENT_KIND, key);
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, const sim_reply *rep)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(rep->body_len, (void *)rep->body, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    enum MHD_Result ok = MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, json_type);
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
    sim_request req = {.method = method, .path = url, .query = query_arg, .query_ctx = conn};
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
    run_mhd(h); /* serve the resumed connections now */
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
    if (!sim_faults_active(f) || !sim_faults_applies(method, url)) return answer(h, conn, url, method, NULL);
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

/* Percent-decode in place, but keep "%00" as is: a NUL inside the path
 * would cut the id short unseen; kept, its '%' makes the id invalid. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        int hi, lo;
        if (r[0] == '%' && (hi = ex_hex_digit(r[1])) >= 0 && (lo = ex_hex_digit(r[2])) >= 0 && (hi | lo)) {
            *w++ = (char)(hi * 16 + lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
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

/* Resolve host:port into a socket address. 0, or -1 with err set. */
static int resolve(const char *listen, struct sockaddr_storage *sa, int *p, char *err, size_t errlen)
{
    char host[256], port[16];
    if (ex_hostport_split(listen, host, sizeof host, p)) {
        snprintf(err, errlen, "--listen=\"%s\": expected HOST:PORT", listen);
        return -1;
    }
    snprintf(port, sizeof port, "%d", *p);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res = NULL;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "--listen=\"%s\": cannot resolve \"%s\": %s", listen, host, gai_strerror(rc));
        return -1;
    }
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

/* Let MHD do all it can without blocking, then arm the timer for its
 * next deadline (0 when it has more to do right away). */
static void run_mhd(sim_http *h)
{
    MHD_run(h->daemon);
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(h->daemon, &ms) == MHD_YES) uv_timer_start(&h->timer, on_timer, (uint64_t)ms, 0);
    else uv_timer_stop(&h->timer);
}

static void on_readable(uv_poll_t *p, int status, int events) { run_mhd(p->data); }

static void on_timer(uv_timer_t *t) { run_mhd(t->data); }

sim_http *sim_http_start(uv_loop_t *loop, sim_api *api, const char *listen, char *err, size_t errlen)
{
    struct sockaddr_storage sa;
    int port;
    if (resolve(listen, &sa, &port, err, errlen)) return NULL;
    sim_http *h = ex_calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->api = api;
    h->loop = loop;
    unsigned int flags = MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ERROR_LOG;
    /* only with a latency: suspending needs MHD's extra wake-up fd */
    if (api->faults && api->faults->latency_ms > 0) flags |= MHD_ALLOW_SUSPEND_RESUME;
    if (sa.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    errno = 0;
    /* the port argument only names the port in MHD's messages: SOCK_ADDR rules */
    h->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, h,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned int)SIM_HTTP_MAX_CONNECTIONS,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SIM_HTTP_CONN_MEMORY,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)SIM_HTTP_IDLE_TIMEOUT_S,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                                 MHD_OPTION_UNESCAPE_CALLBACK, unescape, h,
                                 MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, errlen, "cannot listen on %s: %s", listen, errno ? strerror(errno) : "see the log above");
        ex_free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *bound = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    const union MHD_DaemonInfo *epfd = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    h->port = bound ? (int)bound->port : port;
    if (!epfd || uv_poll_init(loop, &h->poll, epfd->epoll_fd) != 0) {
        snprintf(err, errlen, "cannot watch the HTTP server's epoll fd");
        MHD_stop_daemon(h->daemon);
        ex_free(h);
        return NULL;
    }
    uv_timer_init(loop, &h->timer);
    uv_timer_init(loop, &h->latency_timer);
    h->poll.data = h->timer.data = h->latency_timer.data = h;
    h->handles_open = 3;
    uv_poll_start(&h->poll, UV_READABLE, on_readable);
    run_mhd(h); /* arms the timer */
    return h;
}

int sim_http_port(const sim_http *h) { return h->port; }

static void on_closed(uv_handle_t *handle)
{
    sim_http *h = handle->data;
    if (--h->handles_open == 0) ex_free(h);
}

void sim_http_stop(sim_http *h)
{
    if (!h || !h->daemon) return;
    uv_poll_stop(&h->poll);
    uv_timer_stop(&h->timer);
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
    MHD_stop_daemon(h->daemon);
    h->daemon = NULL;
    uv_close((uv_handle_t *)&h->poll, on_closed);
    uv_close((uv_handle_t *)&h->timer, on_closed);
    uv_close((uv_handle_t *)&h->latency_timer, on_closed);
}
