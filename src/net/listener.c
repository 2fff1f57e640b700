#include "net/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/duration.h"
#include "core/log.h"
#include "core/mem.h"

#define ACCEPTS_PER_WAKE 256  /* then let the loop serve others */
#define PAUSE_MS 100          /* accepting pauses this long when out of file descriptors */
#define REPORT_MS 10000       /* at most one log line about refusals and deadlines per this */

struct ex_conn_slot {
    ex_listener *l;
    int fd;
    uint8_t key[16];  /* the client's address */
    size_t keylen;
    char addr[INET6_ADDRSTRLEN];
    ex_conn_phase phase;
    uint64_t deadline_ms; /* UINT64_MAX: none */
    int expired;          /* shut down at a deadline already */
    ex_conn_slot *prev, *next;
};

struct ex_listener {
    uv_loop_t *loop;
    ex_listener_cfg cfg;
    ex_conn_guard *guard;   /* owned */
    int fd;                 /* listening socket */
    int port;
    uv_poll_t poll;         /* readable: connections to accept */
    uv_timer_t sweep;       /* closes connections past their deadline */
    uv_timer_t pause;       /* resumes accepting after EMFILE */
    int handles_open;
    int stopping;
    ex_conn_slot *slots;    /* admitted, not yet released */
};

static void maybe_free(ex_listener *l)
{
    if (!l->stopping || l->handles_open || l->slots) return;
    ex_guard_free(l->guard);
    ex_free(l);
}

/* One rate-limited line about what happened, with the totals so far. */
static void report(ex_listener *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(ex_listener *l, const char *fmt, ...)
{
    uint64_t suppressed;
    if (!ex_guard_report_due(l->guard, uv_now(l->loop), REPORT_MS, &suppressed)) return;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const ex_conn_stats *s = ex_guard_stats(l->guard);
    uint64_t timed_out = 0;
    for (int i = 0; i < EX_CONN_PHASES; i++) timed_out += s->timed_out[i];
    ex_warn(l->cfg.name,
            "%s (%" PRIu64 " similar events not logged in the last %ds; so far %" PRIu64 " refused at --%smax-connections, %" PRIu64
            " at --%smax-connections-per-client, %" PRIu64 " closed at a deadline)",
            what, suppressed, REPORT_MS / 1000, s->refused_full, l->cfg.flag_prefix, s->refused_client, l->cfg.flag_prefix,
            timed_out);
}

static void refuse(ex_listener *l, int fd, const char *addr, ex_guard_verdict v)
{
    char drain[4096];
    for (int i = 0; i < 4 && recv(fd, drain, sizeof drain, MSG_DONTWAIT) > 0; i++) {
    } /* what was sent already: read, so that close does not reset the answer away */
    if (l->cfg.refusal) (void)!send(fd, l->cfg.refusal, l->cfg.refusal_len, MSG_DONTWAIT | MSG_NOSIGNAL);
    close(fd);
    const ex_conn_limits *lim = ex_guard_limits(l->guard);
    if (v == EX_GUARD_FULL)
        report(l, "refused a connection from %s: %" PRId64 " connections open, the limit (--%smax-connections)", addr,
               ex_guard_stats(l->guard)->open, l->cfg.flag_prefix);
    else
        report(l, "refused a connection from %s: it has %" PRId64 " open, the limit (--%smax-connections-per-client)",
               addr, lim->max_per_client, l->cfg.flag_prefix);
}

static void client_key(const struct sockaddr_storage *ss, ex_conn_slot *s)
{
    const void *a = NULL;
    if (ss->ss_family == AF_INET) {
        a = &((const struct sockaddr_in *)ss)->sin_addr;
        s->keylen = 4;
    } else if (ss->ss_family == AF_INET6) {
        a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        s->keylen = 16;
    }
    if (a) {
        memcpy(s->key, a, s->keylen);
        inet_ntop(ss->ss_family, a, s->addr, sizeof s->addr);
    } else {
        snprintf(s->addr, sizeof s->addr, "?");
    }
}

static void admit(ex_listener *l, int fd, const struct sockaddr_storage *ss, socklen_t salen)
{
    ex_conn_slot tmp = {0};
    client_key(ss, &tmp);
    ex_guard_verdict v = ex_guard_admit(l->guard, tmp.key, tmp.keylen);
    if (v != EX_GUARD_ADMIT) {
        refuse(l, fd, tmp.addr, v);
        return;
    }
    ex_conn_slot *s = ex_malloc(sizeof *s);
    if (!s) {
        ex_guard_release(l->guard, tmp.key, tmp.keylen);
        close(fd);
        return;
    }
    *s = tmp;
    s->l = l;
    s->fd = fd;
    s->next = l->slots;
    if (l->slots) l->slots->prev = s;
    l->slots = s;
    ex_listener_phase(s, EX_PHASE_HEADERS);
    l->cfg.on_accept(l->cfg.arg, fd, (const struct sockaddr *)ss, salen, s);
}

static void poll_cb(uv_poll_t *p, int status, int events);

static void pause_cb(uv_timer_t *t)
{
    ex_listener *l = t->data;
    if (!l->stopping) uv_poll_start(&l->poll, UV_READABLE, poll_cb);
}

static void poll_cb(uv_poll_t *p, int status, int events)
{
    ex_listener *l = p->data;
    for (int i = 0; i < ACCEPTS_PER_WAKE && !l->stopping; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            admit(l, fd, &ss, len);
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            report(l, "cannot accept a connection: %s; accepting again in %d ms", strerror(errno), PAUSE_MS);
            uv_poll_stop(&l->poll);
            uv_timer_start(&l->pause, pause_cb, PAUSE_MS, 0);
            return;
        }
        /* ECONNABORTED and the like concern one connection: go on */
    }
}

static void sweep_cb(uv_timer_t *t)
{
    ex_listener *l = t->data;
    uint64_t now = uv_now(l->loop);
    for (ex_conn_slot *s = l->slots; s; s = s->next) {
        if (s->expired || now < s->deadline_ms) continue;
        s->expired = 1;
        ex_guard_count_timeout(l->guard, s->phase);
        shutdown(s->fd, SHUT_RDWR); /* the owner reads end-of-file and closes */
        const ex_conn_limits *lim = ex_guard_limits(l->guard);
        int64_t ms = s->phase == EX_PHASE_HEADERS ? lim->header_timeout_ms
                     : s->phase == EX_PHASE_BODY  ? lim->body_timeout_ms
                                                  : lim->idle_timeout_ms;
        char d[EX_DURATION_STR_MAX];
        report(l, "closed a connection from %s: no complete request %s within %s (--%s%s-timeout)", s->addr,
               s->phase == EX_PHASE_IDLE ? "after the previous one" : ex_conn_phase_name(s->phase),
               ex_duration_format(ms * 1000000, d), l->cfg.flag_prefix,
               s->phase == EX_PHASE_HEADERS ? "header" : ex_conn_phase_name(s->phase));
    }
}

void ex_listener_phase(ex_conn_slot *s, ex_conn_phase phase)
{
    if (!s) return;
    s->phase = phase;
    s->deadline_ms = ex_guard_deadline(ex_guard_limits(s->l->guard), phase, uv_now(s->l->loop));
}

void ex_listener_release(ex_conn_slot *s)
{
    if (!s) return;
    ex_listener *l = s->l;
    if (s->prev) s->prev->next = s->next;
    else l->slots = s->next;
    if (s->next) s->next->prev = s->prev;
    ex_guard_release(l->guard, s->key, s->keylen);
    ex_free(s);
    maybe_free(l);
}

/* The socket, bound and listening; -1 with err set. */
static int open_socket(const char *where, int *port, char *err, size_t errlen)
{
    char host[256], serv[16];
    if (ex_hostport_split(where, host, sizeof host, port) != 0) {
        snprintf(err, errlen, "\"%s\": expected HOST:PORT", where);
        return -1;
    }
    snprintf(serv, sizeof serv, "%d", *port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res = NULL;
    int rc = getaddrinfo(host, serv, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "\"%s\": cannot resolve \"%s\": %s", where, host, gai_strerror(rc));
        return -1;
    }
    int one = 1, fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* Deadlines are checked this often: a quarter of the shortest timeout,
 * within 20 ms..1 s. 0 when no phase has a deadline. */
static uint64_t sweep_interval(const ex_conn_limits *lim)
{
    int64_t t[] = {lim->header_timeout_ms, lim->body_timeout_ms, lim->idle_timeout_ms}, min = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i] > 0 && (min == 0 || t[i] < min)) min = t[i];
    if (min == 0) return 0;
    min /= 4;
    return (uint64_t)(min < 20 ? 20 : min > 1000 ? 1000 : min);
}

ex_listener *ex_listener_start(uv_loop_t *loop, const char *where, const ex_listener_cfg *cfg, char *err,
                               size_t errlen)
{
    ex_listener *l = ex_calloc(1, sizeof *l);
    if (l) l->guard = ex_guard_new(&cfg->limits);
    if (!l || !l->guard) {
        if (l) ex_free(l);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->loop = loop;
    l->cfg = *cfg;
    if ((l->fd = open_socket(where, &l->port, err, errlen)) < 0 || uv_poll_init_socket(loop, &l->poll, l->fd) != 0) {
        if (l->fd >= 0) {
            snprintf(err, errlen, "cannot watch the listening socket of %s", where);
            close(l->fd);
        }
        ex_guard_free(l->guard);
        ex_free(l);
        return NULL;
    }
    uv_timer_init(loop, &l->sweep);
    uv_timer_init(loop, &l->pause);
    l->poll.data = l->sweep.data = l->pause.data = l;
    l->handles_open = 3;
    uv_poll_start(&l->poll, UV_READABLE, poll_cb);
    uint64_t every = sweep_interval(&cfg->limits);
    if (every) uv_timer_start(&l->sweep, sweep_cb, every, every);
    return l;
}

int ex_listener_port(const ex_listener *l) { return l->port; }

const ex_conn_stats *ex_listener_stats(const ex_listener *l) { return ex_guard_stats(l->guard); }

size_t ex_listener_metrics(const ex_listener *l, const char *prefix, char *buf, size_t cap)
{
    const ex_conn_stats *s = ex_guard_stats(l->guard);
    const char *n = l->cfg.name, *p = prefix;
    int w = snprintf(buf, cap,
                     "# HELP %s_connections_open Connections open now on a listener.\n"
                     "# TYPE %s_connections_open gauge\n"
                     "%s_connections_open{listener=\"%s\"} %" PRId64 "\n"
                     "# HELP %s_connections_accepted_total Connections admitted by a listener.\n"
                     "# TYPE %s_connections_accepted_total counter\n"
                     "%s_connections_accepted_total{listener=\"%s\"} %" PRIu64 "\n"
                     "# HELP %s_connections_refused_total Connections refused at a limit.\n"
                     "# TYPE %s_connections_refused_total counter\n"
                     "%s_connections_refused_total{listener=\"%s\",reason=\"max_connections\"} %" PRIu64 "\n"
                     "%s_connections_refused_total{listener=\"%s\",reason=\"max_per_client\"} %" PRIu64 "\n"
                     "# HELP %s_connections_timed_out_total Connections closed at a deadline, by phase.\n"
                     "# TYPE %s_connections_timed_out_total counter\n"
                     "%s_connections_timed_out_total{listener=\"%s\",phase=\"headers\"} %" PRIu64 "\n"
                     "%s_connections_timed_out_total{listener=\"%s\",phase=\"body\"} %" PRIu64 "\n"
                     "%s_connections_timed_out_total{listener=\"%s\",phase=\"idle\"} %" PRIu64 "\n",
                     p, p, p, n, s->open, p, p, p, n, s->accepted, p, p, p, n, s->refused_full, p, n,
                     s->refused_client, p, p, p, n, s->timed_out[EX_PHASE_HEADERS], p, n, s->timed_out[EX_PHASE_BODY],
                     p, n, s->timed_out[EX_PHASE_IDLE]);
    if (w < 0) w = 0;
    if (cap && (size_t)w >= cap) w = (int)cap - 1;
    return (size_t)w;
}

static void poll_closed_cb(uv_handle_t *h)
{
    ex_listener *l = h->data;
    close(l->fd);
    l->handles_open--;
    maybe_free(l);
}

static void timer_closed_cb(uv_handle_t *h)
{
    ex_listener *l = h->data;
    l->handles_open--;
    maybe_free(l);
}

void ex_listener_stop(ex_listener *l)
{
    if (!l || l->stopping) return;
    l->stopping = 1;
    uv_close((uv_handle_t *)&l->poll, poll_closed_cb);
    uv_close((uv_handle_t *)&l->sweep, timer_closed_cb);
    uv_close((uv_handle_t *)&l->pause, timer_closed_cb);
}

void ex_listener_log_stats(const ex_listener *l, const char *component)
{
    if (!l) return;
    const ex_conn_stats *c = ex_guard_stats(l->guard);
    const char *p = l->cfg.flag_prefix;
    ex_info(component,
            "%s connections: %" PRIu64 " accepted, %" PRIu64 " refused at --%smax-connections, %" PRIu64
            " at --%smax-connections-per-client; closed at a deadline: %" PRIu64 " headers, %" PRIu64 " body, %" PRIu64
            " idle",
            l->cfg.name, c->accepted, c->refused_full, p, c->refused_client, p, c->timed_out[EX_PHASE_HEADERS],
            c->timed_out[EX_PHASE_BODY], c->timed_out[EX_PHASE_IDLE]);
}
