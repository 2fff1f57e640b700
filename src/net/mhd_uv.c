#include "net/mhd_uv.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/hex.h"
#include "core/log.h"
#include "core/mem.h"

const char ex_mhd_refusal[] = "HTTP/1.1 503 Service Unavailable\r\n"
                              "Content-Type: text/plain; charset=utf-8\r\n"
                              "Retry-After: 1\r\n"
                              "Connection: close\r\n"
                              "Content-Length: 56\r\n"
                              "\r\n"
                              "too many connections: try again later or from elsewhere\n";

struct ex_mhd {
    struct MHD_Daemon *daemon; /* owned; NULL once stopped */
    ex_listener *listener;     /* owned; NULL once stopped */
    ex_mhd_cfg cfg;
    uv_poll_t poll;            /* watches MHD's epoll fd */
    uv_timer_t timer;          /* MHD's next timeout */
    int handles_open;
    ex_conn_slot *adding;      /* the slot of the connection being added */
    int port;
};

static void reschedule(ex_mhd *h);

static void run(ex_mhd *h)
{
    if (!h->daemon) return;
    MHD_run(h->daemon);
    reschedule(h);
}

static void poll_cb(uv_poll_t *p, int status, int events) { run(p->data); }
static void timer_cb(uv_timer_t *t) { run(t->data); }

static void reschedule(ex_mhd *h)
{
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(h->daemon, &ms) == MHD_YES) uv_timer_start(&h->timer, timer_cb, (uint64_t)ms, 0);
    else uv_timer_stop(&h->timer);
}

void ex_mhd_run(ex_mhd *h) { run(h); }

void ex_mhd_run_soon(ex_mhd *h)
{
    if (h->daemon) uv_timer_start(&h->timer, timer_cb, 0, 0);
}

static ex_conn_slot *slot_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *i = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return i ? i->socket_context : NULL;
}

/* Moves the connection's phase along, then hands the call on. */
static enum MHD_Result access_cb(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                 const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    ex_mhd *h = cls;
    if (!*con_cls) ex_listener_phase(slot_of(c), EX_PHASE_BODY);
    else if (!*upload_size) ex_listener_phase(slot_of(c), EX_PHASE_REPLY);
    return h->cfg.access(h->cfg.access_cls, c, url, method, version, upload, upload_size, con_cls);
}

static void completed_cb(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    ex_mhd *h = cls;
    ex_listener_phase(slot_of(c), EX_PHASE_IDLE);
    if (h->cfg.completed) h->cfg.completed(h->cfg.completed_cls, c, con_cls, t);
}

static void notify_cb(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code)
{
    ex_mhd *h = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = h->adding;
        h->adding = NULL;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        ex_listener_release(*socket_context);
        *socket_context = NULL;
    }
}

static void on_accept(void *arg, int fd, const struct sockaddr *sa, socklen_t salen, ex_conn_slot *slot)
{
    ex_mhd *h = arg;
    h->adding = slot;
    if (MHD_add_connection(h->daemon, fd, sa, salen) != MHD_YES && h->adding) {
        /* MHD closed fd without taking the connection */
        h->adding = NULL;
        ex_listener_release(slot);
    }
    run(h); /* MHD may hold the connection as ready without an epoll event */
}

/* Percent-decode in place, but keep "%00" as is. */
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

static void debug_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\r\n")] = '\0';
    ex_debug(((ex_mhd *)cls)->cfg.name, "http: %s", msg);
}

static int start_daemon(ex_mhd *h)
{
    const ex_conn_limits *l = &h->cfg.limits;
    /* our limit is the listener's; MHD's only must not be lower */
    unsigned limit = l->max_conns > 0 && l->max_conns < (1 << 24) ? (unsigned)l->max_conns + 16 : 1u << 24;
    unsigned idle_s = l->idle_timeout_ms > 0 ? (unsigned)((l->idle_timeout_ms + 999) / 1000) : 0;
    struct MHD_OptionItem opts[] = {
        /* first: libmicrohttpd warns on stderr when the logger follows other options */
        {MHD_OPTION_EXTERNAL_LOGGER, h->cfg.logger ? (intptr_t)h->cfg.logger : (intptr_t)debug_log,
         h->cfg.logger ? h->cfg.logger_cls : h},
        {MHD_OPTION_CONNECTION_LIMIT, limit, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, idle_s, NULL},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)notify_cb, h},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed_cb, h},
        {MHD_OPTION_UNESCAPE_CALLBACK, (intptr_t)unescape, h},
        {h->cfg.conn_memory ? MHD_OPTION_CONNECTION_MEMORY_LIMIT : MHD_OPTION_END, (intptr_t)h->cfg.conn_memory, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    h->daemon = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG | h->cfg.flags, 0,
                                 NULL, NULL, access_cb, h, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    return h->daemon ? 0 : -1;
}

ex_mhd *ex_mhd_start(uv_loop_t *loop, const char *listen, const ex_mhd_cfg *cfg, char *err, size_t errlen)
{
    ex_mhd *h = ex_calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->cfg = *cfg;
    if (start_daemon(h) != 0) {
        snprintf(err, errlen, "cannot start the HTTP server for %s", listen);
        ex_free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *fd = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    ex_listener_cfg lc = {cfg->name, cfg->flag_prefix ? cfg->flag_prefix : "", cfg->limits, ex_mhd_refusal,
                          sizeof ex_mhd_refusal - 1, on_accept, h};
    if (!fd || uv_poll_init(loop, &h->poll, fd->epoll_fd) != 0) {
        snprintf(err, errlen, "cannot watch the HTTP server's epoll fd");
        MHD_stop_daemon(h->daemon);
        ex_free(h);
        return NULL;
    }
    uv_timer_init(loop, &h->timer);
    h->poll.data = h->timer.data = h;
    h->handles_open = 2;
    uv_poll_start(&h->poll, UV_READABLE, poll_cb);
    if (!(h->listener = ex_listener_start(loop, listen, &lc, err, errlen))) {
        ex_mhd_stop(h);
        return NULL;
    }
    h->port = ex_listener_port(h->listener);
    reschedule(h);
    return h;
}

struct MHD_Daemon *ex_mhd_daemon(ex_mhd *h) { return h->daemon; }

int ex_mhd_port(const ex_mhd *h) { return h->port; }

const ex_listener *ex_mhd_listener(const ex_mhd *h) { return h->listener; }

static void close_cb(uv_handle_t *handle)
{
    ex_mhd *h = handle->data;
    if (--h->handles_open == 0) ex_free(h);
}

void ex_mhd_stop(ex_mhd *h)
{
    if (!h || !h->daemon) return;
    ex_listener_stop(h->listener);
    h->listener = NULL;
    uv_poll_stop(&h->poll);
    uv_timer_stop(&h->timer);
    MHD_stop_daemon(h->daemon); /* closes the connections: their slots are released */
    h->daemon = NULL;
    uv_close((uv_handle_t *)&h->poll, close_cb);
    uv_close((uv_handle_t *)&h->timer, close_cb);
}
