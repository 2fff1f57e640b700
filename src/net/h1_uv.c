#include "net/h1_uv.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"

#define MAX_ADDRS   8
#define DNS_KEEP_MS 60000 /* libcurl's default DNS cache timeout */
#define READ_BUF    65536

typedef enum { C_NEW, C_CONNECTING, C_BUSY, C_IDLE, C_CLOSING } conn_state;

typedef struct h1_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect;
    uv_write_t write;
    struct ex_h1_pool *pool;
    ex_h1_call *call;
    conn_state state;
    int reused;   /* this call is not the connection's first */
    int addr;     /* the address tried (index into the pool's) */
    int open;     /* handles not yet closed */
    struct h1_conn *prev, *next; /* the pool's list of idle or of other connections */
} h1_conn;

struct ex_h1_pool {
    uv_loop_t *loop;
    ex_h1_target t;
    int max_idle;
    int closing;
    h1_conn *idle, *busy; /* lists */
    int nidle;
    int nconns;           /* connections not yet freed */
    struct sockaddr_storage addrs[MAX_ADDRS];
    int naddrs;
    int numeric;          /* the host is an address: addrs never go stale */
    uint64_t addrs_at;    /* uv_now() when resolved */
    uv_getaddrinfo_t gai;
    int resolving;
    ex_h1_call *waiting, **waiting_tail; /* calls waiting for the resolution */
    uint64_t opened, reused;
    char rbuf[READ_BUF];
};

#define LIST_ADD(head, item) \
    do { (item)->prev = NULL; (item)->next = (head); if (head) (head)->prev = (item); (head) = (item); } while (0)
#define LIST_DEL(head, item)                                                       \
    do {                                                                           \
        if ((item)->prev) (item)->prev->next = (item)->next;                       \
        else (head) = (item)->next;                                                \
        if ((item)->next) (item)->next->prev = (item)->prev;                       \
        (item)->prev = (item)->next = NULL;                                        \
    } while (0)

static void connect_call(ex_h1_pool *p, ex_h1_call *c, int addr);

/* Take c off the list of calls waiting for the host's addresses. */
static void wait_remove(ex_h1_pool *p, ex_h1_call *c)
{
    ex_h1_call **pp = &p->waiting;
    while (*pp && *pp != c) pp = &(*pp)->next_wait;
    if (*pp) {
        *pp = c->next_wait;
        if (p->waiting_tail == &c->next_wait) p->waiting_tail = pp;
    }
    c->waiting = 0;
}

static void maybe_free(ex_h1_pool *p)
{
    if (p->closing && p->nconns == 0 && !p->resolving) ex_free(p);
}

/* ---- connections ---- */

static void handle_closed(uv_handle_t *h)
{
    h1_conn *k = h->data;
    if (--k->open > 0) return;
    ex_h1_pool *p = k->pool;
    p->nconns--;
    ex_free(k);
    maybe_free(p);
}

static void conn_close(h1_conn *k)
{
    if (k->state == C_CLOSING) return;
    ex_h1_pool *p = k->pool;
    if (k->state == C_IDLE) {
        LIST_DEL(p->idle, k);
        p->nidle--;
    } else {
        LIST_DEL(p->busy, k);
    }
    k->state = C_CLOSING;
    uv_close((uv_handle_t *)&k->tcp, handle_closed);
    uv_close((uv_handle_t *)&k->timer, handle_closed);
}

static h1_conn *conn_new(ex_h1_pool *p)
{
    h1_conn *k = ex_calloc(1, sizeof *k);
    if (!k) return NULL;
    k->pool = p;
    uv_tcp_init(p->loop, &k->tcp);
    uv_timer_init(p->loop, &k->timer);
    k->tcp.data = k->timer.data = k->connect.data = k->write.data = k;
    k->open = 2;
    k->state = C_NEW;
    LIST_ADD(p->busy, k);
    p->nconns++;
    return k;
}

/* The call is over: the connection goes back to the pool (keep) or is
 * closed, then the caller hears of it. */
static void finish(ex_h1_call *c, int keep, CURLcode code, const char *err)
{
    h1_conn *k = c->conn;
    c->conn = NULL;
    if (k) {
        ex_h1_pool *p = k->pool;
        if (c->waiting) wait_remove(p, c);
        k->call = NULL;
        uv_timer_stop(&k->timer);
        if (keep && !p->closing && p->nidle < p->max_idle && k->state == C_BUSY) {
            LIST_DEL(p->busy, k);
            LIST_ADD(p->idle, k);
            p->nidle++;
            k->state = C_IDLE;
            uv_unref((uv_handle_t *)&k->tcp); /* an idle connection does not keep the loop alive */
        } else {
            conn_close(k);
        }
    }
    c->done(c, code, err ? err : "");
}

static void fail_errno(ex_h1_call *c, CURLcode code, const char *what, int uverr)
{
    char err[EX_H1_ERR_MAX];
    snprintf(err, sizeof err, "%s: %s", what, strerror(-uverr));
    finish(c, 0, code, err);
}

/* The connection died before any byte of the answer: a reused one gets
 * the request again on a new connection (once), as libcurl does. */
static int retry(ex_h1_call *c)
{
    h1_conn *k = c->conn;
    if (!k || !k->reused || c->resp.got_bytes || c->retried) return 0;
    ex_h1_pool *p = k->pool;
    c->retried = 1;
    k->call = NULL;
    c->conn = NULL;
    conn_close(k);
    ex_h1_resp_begin(&c->resp, c->body_cb, c->arg);
    connect_call(p, c, 0);
    return 1;
}

static void timer_cb(uv_timer_t *t)
{
    h1_conn *k = t->data;
    ex_h1_call *c = k->call;
    if (!c) return;
    char err[EX_H1_ERR_MAX];
    unsigned long ms = (unsigned long)(uv_now(k->pool->loop) - c->started);
    if (k->state == C_NEW) {
        snprintf(err, sizeof err, "Resolving timed out after %lu milliseconds", ms);
    } else if (k->state == C_CONNECTING) {
        snprintf(err, sizeof err, "Connection timed out after %lu milliseconds", ms);
    } else {
        unsigned long long got = (unsigned long long)c->resp.body_bytes;
        const http_parser *hp = &c->resp.parser;
        if (c->resp.headers_done && (hp->flags & F_CONTENTLENGTH))
            snprintf(err, sizeof err, "Operation timed out after %lu milliseconds with %llu out of %llu bytes received",
                     ms, got, got + (unsigned long long)hp->content_length);
        else
            snprintf(err, sizeof err, "Operation timed out after %lu milliseconds with %llu bytes received", ms, got);
    }
    finish(c, 0, CURLE_OPERATION_TIMEDOUT, err);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    h1_conn *k = h->data;
    *buf = uv_buf_init(k->pool->rbuf, READ_BUF);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    h1_conn *k = s->data;
    ex_h1_call *c = k->call;
    if (n == 0) return;
    if (!c) { /* an idle connection spoke or closed: the server is done with it */
        conn_close(k);
        return;
    }
    if (n < 0 && retry(c)) return;
    ex_h1_state st;
    if (n == UV_EOF) st = ex_h1_resp_eof(&c->resp);
    else if (n < 0) {
        fail_errno(c, CURLE_RECV_ERROR, "Recv failure", (int)n);
        return;
    } else st = ex_h1_resp_feed(&c->resp, buf->base, (size_t)n);
    if (st == EX_H1_DONE) finish(c, c->resp.keep_alive, CURLE_OK, NULL);
    else if (st == EX_H1_FAILED) finish(c, 0, c->resp.code, c->resp.err);
}

static void write_cb(uv_write_t *w, int status)
{
    h1_conn *k = w->data;
    ex_h1_call *c = k->call;
    if (status >= 0 || !c || k->state == C_CLOSING || retry(c)) return;
    fail_errno(c, CURLE_SEND_ERROR, "Send failure", status);
}

/* Send c's request on k (connected). */
static void send_call(h1_conn *k, ex_h1_call *c)
{
    k->call = c;
    c->conn = k;
    k->state = C_BUSY;
    uint64_t now = uv_now(k->pool->loop);
    uv_timer_start(&k->timer, timer_cb, c->deadline > now ? c->deadline - now : 0, 0);
    if (c->sent_ns) *c->sent_ns = ex_clock_now(ex_clock_real());
    uv_buf_t b = uv_buf_init((char *)c->req, (unsigned)c->req_len);
    int rc = uv_try_write((uv_stream_t *)&k->tcp, &b, 1);
    if (rc == (int)c->req_len) return;
    if (rc == UV_EAGAIN) rc = 0;
    if (rc >= 0) {
        b = uv_buf_init((char *)c->req + rc, (unsigned)(c->req_len - (size_t)rc));
        rc = uv_write(&k->write, (uv_stream_t *)&k->tcp, &b, 1, write_cb);
        if (rc == 0) return;
    }
    if (!retry(c)) fail_errno(c, CURLE_SEND_ERROR, "Send failure", rc);
}

static void connect_cb(uv_connect_t *req, int status)
{
    h1_conn *k = req->data;
    ex_h1_call *c = k->call;
    if (k->state == C_CLOSING || !c) return;
    if (status < 0) {
        ex_h1_pool *p = k->pool;
        k->call = NULL;
        c->conn = NULL;
        conn_close(k);
        connect_call(p, c, k->addr + 1);
        return;
    }
    k->pool->opened++;
    uv_tcp_nodelay(&k->tcp, 1);
    uv_tcp_keepalive(&k->tcp, 1, 60); /* CURLOPT_TCP_KEEPALIVE with libcurl's 60 s */
    uv_read_start((uv_stream_t *)&k->tcp, alloc_cb, read_cb);
    send_call(k, c);
}

static void connect_failed(ex_h1_pool *p, ex_h1_call *c)
{
    char err[EX_H1_ERR_MAX];
    snprintf(err, sizeof err, "Failed to connect to %.160s port %d after %lu ms: Couldn't connect to server", p->t.host,
             p->t.port, (unsigned long)(uv_now(p->loop) - c->started));
    finish(c, 0, CURLE_COULDNT_CONNECT, err);
}

/* A new connection (state C_NEW) for c, its timer running; NULL (c
 * finished) without memory. */
static h1_conn *conn_attach(ex_h1_pool *p, ex_h1_call *c)
{
    h1_conn *k = conn_new(p);
    if (!k) {
        finish(c, 0, CURLE_OUT_OF_MEMORY, "out of memory opening a connection");
        return NULL;
    }
    k->call = c;
    c->conn = k;
    uint64_t now = uv_now(p->loop);
    uv_timer_start(&k->timer, timer_cb, c->deadline > now ? c->deadline - now : 0, 0);
    return k;
}

/* Connect a new connection for c to the pool's address `addr` (the
 * following ones if that fails). */
static void connect_call(ex_h1_pool *p, ex_h1_call *c, int addr)
{
    if (addr >= p->naddrs) {
        connect_failed(p, c);
        return;
    }
    h1_conn *k = c->conn; /* made while the addresses were looked up */
    if (!k && !(k = conn_attach(p, c))) return;
    k->addr = addr;
    k->state = C_CONNECTING;
    if (uv_tcp_connect(&k->connect, &k->tcp, (const struct sockaddr *)&p->addrs[addr], connect_cb) != 0) {
        k->call = NULL;
        c->conn = NULL;
        conn_close(k);
        connect_call(p, c, addr + 1);
    }
}

/* ---- addresses ---- */

/* Empty the list of calls waiting for the addresses; its old head. */
static ex_h1_call *take_waiting(ex_h1_pool *p)
{
    ex_h1_call *w = p->waiting;
    p->waiting = NULL;
    p->waiting_tail = &p->waiting;
    return w;
}

static void resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    ex_h1_pool *p = req->data;
    p->resolving = 0;
    p->naddrs = 0;
    for (struct addrinfo *a = res; a && p->naddrs < MAX_ADDRS; a = a->ai_next)
        if (a->ai_addrlen <= sizeof p->addrs[0]) memcpy(&p->addrs[p->naddrs++], a->ai_addr, a->ai_addrlen);
    uv_freeaddrinfo(res);
    p->addrs_at = uv_now(p->loop);
    ex_h1_call *w = take_waiting(p);
    while (w) {
        ex_h1_call *c = w;
        w = w->next_wait;
        c->waiting = 0;
        char err[EX_H1_ERR_MAX];
        if (status < 0 || p->naddrs == 0) {
            snprintf(err, sizeof err, "Could not resolve host: %.200s", p->t.host);
            finish(c, 0, CURLE_COULDNT_RESOLVE_HOST, err);
        } else {
            connect_call(p, c, 0);
        }
    }
    maybe_free(p);
}

static int numeric_addr(ex_h1_pool *p)
{
    struct sockaddr_in *a4 = (struct sockaddr_in *)&p->addrs[0];
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&p->addrs[0];
    if ((p->t.ipv6 ? uv_ip6_addr(p->t.host, p->t.port, a6) : uv_ip4_addr(p->t.host, p->t.port, a4)) != 0) return 0;
    p->naddrs = 1;
    return 1;
}

/* A new connection for c: now, or once the host's addresses are known. */
static void open_for(ex_h1_pool *p, ex_h1_call *c)
{
    if (p->numeric || (p->naddrs && uv_now(p->loop) - p->addrs_at < DNS_KEEP_MS)) {
        connect_call(p, c, 0);
        return;
    }
    if (!conn_attach(p, c)) return; /* its timer covers the lookup */
    c->next_wait = NULL;
    c->waiting = 1;
    *p->waiting_tail = c;
    p->waiting_tail = &c->next_wait;
    if (p->resolving) return;
    char port[8];
    snprintf(port, sizeof port, "%d", p->t.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    p->resolving = 1;
    p->gai.data = p;
    if (uv_getaddrinfo(p->loop, &p->gai, resolved, p->t.host, port, &hints) != 0) {
        p->resolving = 0;
        p->naddrs = 0;
        resolved(&p->gai, UV_EAI_FAIL, NULL);
    }
}

/* ---- the pool ---- */

ex_h1_pool *ex_h1_pool_new(uv_loop_t *loop, const ex_h1_target *t, int max_idle)
{
    ex_h1_pool *p = ex_calloc(1, sizeof *p);
    if (!p) return NULL;
    p->loop = loop;
    p->t = *t;
    p->t.path = "";
    p->max_idle = max_idle;
    p->waiting_tail = &p->waiting;
    p->numeric = numeric_addr(p);
    return p;
}

int ex_h1_start(ex_h1_pool *p, ex_h1_call *c)
{
    if (p->closing) return -1;
    c->conn = NULL;
    c->waiting = 0;
    c->retried = 0;
    c->started = uv_now(p->loop);
    c->deadline = c->started + c->timeout_ms;
    ex_h1_resp_begin(&c->resp, c->body_cb, c->arg);
    h1_conn *k = p->idle;
    if (k) {
        LIST_DEL(p->idle, k);
        p->nidle--;
        LIST_ADD(p->busy, k);
        uv_ref((uv_handle_t *)&k->tcp);
        k->reused = 1;
        p->reused++;
        send_call(k, c);
    } else {
        open_for(p, c);
    }
    return 0;
}

void ex_h1_pool_stats(const ex_h1_pool *p, uint64_t *opened, uint64_t *reused)
{
    *opened = p->opened;
    *reused = p->reused;
}

void ex_h1_pool_destroy(ex_h1_pool *p)
{
    if (!p || p->closing) return;
    p->closing = 1;
    while (p->idle) conn_close(p->idle);
    while (p->busy) {
        h1_conn *k = p->busy;
        if (k->call) finish(k->call, 0, CURLE_ABORTED_BY_CALLBACK, "aborted");
        else conn_close(k);
    }
    ex_h1_call *w = take_waiting(p);
    while (w) {
        ex_h1_call *c = w;
        w = w->next_wait;
        finish(c, 0, CURLE_ABORTED_BY_CALLBACK, "aborted");
    }
    if (p->resolving) uv_cancel((uv_req_t *)&p->gai); /* resolved() frees the pool then */
    maybe_free(p);
}

void ex_h1_call_free(ex_h1_call *c) { ex_h1_resp_free(&c->resp); }
