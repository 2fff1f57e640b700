#include "net/h1_uv.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"

#define MAX_ADDRS   8
#define DNS_KEEP_MS 60000 /* libcurl's default DNS cache timeout */
#define READ_BUF    65536

typedef enum { C_NEW, C_CONNECTING, C_OPEN, C_CLOSING } conn_state;
typedef enum { L_BUSY, L_ROOM, L_IDLE } conn_list; /* which of the pool's lists */

/* A connection carries its calls in order: the written ones (answered in
 * that order), then from `unsent` on those waiting for the next flush. */
typedef struct h1_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t connect;
    uv_write_t write;
    struct ex_h1_pool *pool;
    ex_h1_call *head, *tail, *unsent;
    int ncalls;
    uint64_t nsent;    /* requests written on it so far */
    uint64_t timer_at; /* uv_now() the timer is due, 0 when stopped */
    conn_state state;
    conn_list list;
    int proven;   /* an answer kept it alive: requests may be pipelined on it */
    int alone;    /* carries a request sent again: one request at a time */
    int writing;  /* a uv_write is pending */
    int flushing; /* on the pool's flush list */
    int addr;     /* the address tried (index into the pool's) */
    int open;     /* handles not yet closed */
    struct h1_conn *prev, *next, *next_flush;
} h1_conn;

struct ex_h1_pool {
    uv_loop_t *loop;
    ex_h1_target t;
    int max_idle, depth;
    int closing;
    h1_conn *idle, *room, *busy; /* lists: no call; open to more calls; the others */
    int nidle;
    int nconns;    /* connections not yet freed */
    int inflight;  /* calls on connections (written or not) */
    uint64_t pace_ns, turn_ns; /* pacing window; uv_hrtime() when the loop's turn began */
    int nhandles;  /* of prep and check, not yet closed */
    h1_conn *flush; /* connections with requests to write */
    uv_prepare_t prep;
    uv_check_t check;
    struct sockaddr_storage addrs[MAX_ADDRS];
    int naddrs;
    int numeric;          /* the host is an address: addrs never go stale */
    uint64_t addrs_at;    /* uv_now() when resolved */
    uv_getaddrinfo_t gai;
    int resolving;
    ex_h1_call *waiting, **waiting_tail; /* calls waiting for the resolution */
    ex_h1_stats st;
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
static void place_call(ex_h1_pool *p, ex_h1_call *c);
static void flush_conn(h1_conn *k);
static void timer_cb(uv_timer_t *t);

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
    if (p->closing && p->nconns == 0 && p->nhandles == 0 && !p->resolving) ex_free(p);
}

/* ---- the pool's lists ---- */

static h1_conn **list_of(ex_h1_pool *p, conn_list l) { return l == L_IDLE ? &p->idle : l == L_ROOM ? &p->room : &p->busy; }

static void list_move(h1_conn *k, conn_list to)
{
    ex_h1_pool *p = k->pool;
    if (k->list == to) return;
    h1_conn **from = list_of(p, k->list), **dest = list_of(p, to);
    LIST_DEL(*from, k);
    LIST_ADD(*dest, k);
    if (k->list == L_IDLE) {
        p->nidle--;
        uv_ref((uv_handle_t *)&k->tcp);
    }
    if (to == L_IDLE) {
        p->nidle++;
        uv_unref((uv_handle_t *)&k->tcp); /* an idle connection does not keep the loop alive */
    }
    k->list = to;
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
    if (k->list == L_IDLE) p->nidle--;
    LIST_DEL(*list_of(p, k->list), k);
    if (k->flushing) {
        h1_conn **pp = &p->flush;
        while (*pp != k) pp = &(*pp)->next_flush;
        *pp = k->next_flush;
        k->flushing = 0;
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
    uv_unref((uv_handle_t *)&k->timer); /* the socket, the lookup or the connect keeps the loop alive */
    k->tcp.data = k->timer.data = k->connect.data = k->write.data = k;
    k->open = 2;
    k->state = C_NEW;
    k->list = L_BUSY;
    LIST_ADD(p->busy, k);
    p->nconns++;
    return k;
}

/* The list k belongs on now that its calls changed; an open connection
 * left without calls beyond max_idle is closed. */
static void conn_place(h1_conn *k)
{
    ex_h1_pool *p = k->pool;
    if (k->state != C_OPEN) return;
    if (k->ncalls == 0) {
        k->alone = 0; /* its call sent again is over */
        if (p->closing || (k->list != L_IDLE && p->nidle >= p->max_idle)) conn_close(k);
        else list_move(k, L_IDLE);
    } else if (k->proven && !k->alone && k->ncalls < p->depth) {
        list_move(k, L_ROOM);
    } else {
        list_move(k, L_BUSY);
    }
}

/* The timer fires by the earliest deadline of k's calls (it is only
 * moved earlier here; timer_cb moves it on). */
static void arm(h1_conn *k, uint64_t deadline)
{
    if (k->timer_at && k->timer_at <= deadline) return;
    uint64_t now = uv_now(k->pool->loop);
    uv_timer_start(&k->timer, timer_cb, deadline > now ? deadline - now : 0, 0);
    k->timer_at = deadline;
}

static void push_call(h1_conn *k, ex_h1_call *c)
{
    c->conn = k;
    c->next_q = NULL;
    if (!k->unsent) k->unsent = c;
    if (k->tail) k->tail->next_q = c;
    else k->head = c;
    k->tail = c;
    k->ncalls++;
    k->pool->inflight++;
    arm(k, c->deadline);
}

static ex_h1_call *pop_head(h1_conn *k)
{
    ex_h1_call *c = k->head;
    k->head = c->next_q;
    if (!k->head) k->tail = NULL;
    if (k->unsent == c) k->unsent = k->head;
    k->ncalls--;
    k->pool->inflight--;
    c->next_q = NULL;
    c->conn = NULL;
    return c;
}

/* c is over (off its connection): its caller hears of it. */
static void deliver(ex_h1_pool *p, ex_h1_call *c, CURLcode code, const char *err)
{
    c->conn = NULL;
    if (c->waiting) wait_remove(p, c);
    c->done(c, code, err ? err : "");
}

/* c, alone on a connection not yet open, fails: the connection closes. */
static void fail_first(ex_h1_pool *p, ex_h1_call *c, CURLcode code, const char *err)
{
    h1_conn *k = c->conn;
    if (k) {
        pop_head(k);
        conn_close(k);
    }
    deliver(p, c, code, err);
}

static void timeout_msg(conn_state st, const ex_h1_call *c, uint64_t now, char *err, size_t len)
{
    unsigned long ms = (unsigned long)(now - c->started);
    if (st == C_NEW) {
        snprintf(err, len, "Resolving timed out after %lu milliseconds", ms);
    } else if (st == C_CONNECTING) {
        snprintf(err, len, "Connection timed out after %lu milliseconds", ms);
    } else {
        unsigned long long got = (unsigned long long)c->resp.body_bytes;
        const http_parser *hp = &c->resp.parser;
        if (c->resp.headers_done && (hp->flags & F_CONTENTLENGTH))
            snprintf(err, len, "Operation timed out after %lu milliseconds with %llu out of %llu bytes received", ms,
                     got, got + (unsigned long long)hp->content_length);
        else
            snprintf(err, len, "Operation timed out after %lu milliseconds with %llu bytes received", ms, got);
    }
}

/* c was written on a connection that ended without its answer: once more,
 * on a fresh connection of its own (as libcurl does for a reused one). */
static void resend(ex_h1_pool *p, ex_h1_call *c)
{
    c->retried = 1;
    p->st.resent++;
    ex_h1_resp_begin(&c->resp, c->body_cb, c->arg);
    connect_call(p, c, 0);
}

/* k ends: closed, and each of its calls that is not over goes on. Those
 * not written yet are placed anew; a written one with nothing of its
 * answer is sent again if it was not the connection's first request and
 * not sent again before (or, `timeout`, when the head's deadline passed:
 * not its fault); calls past their deadline time out; the others fail
 * with code and err. */
static void conn_end(h1_conn *k, CURLcode code, const char *err, int timeout)
{
    ex_h1_pool *p = k->pool;
    ex_h1_call *c = k->head, *unsent = k->unsent, *next;
    conn_state was = k->state;
    k->head = k->tail = k->unsent = NULL;
    p->inflight -= k->ncalls;
    k->ncalls = 0;
    conn_close(k);
    uint64_t now = uv_now(p->loop);
    int written = 1;
    for (; c; c = next) {
        next = c->next_q;
        c->next_q = NULL;
        c->conn = NULL;
        if (c == unsent) written = 0;
        if (p->closing) {
            deliver(p, c, CURLE_ABORTED_BY_CALLBACK, "aborted");
        } else if (timeout && c->deadline <= now) {
            char e[EX_H1_ERR_MAX];
            timeout_msg(was, c, now, e, sizeof e);
            deliver(p, c, CURLE_OPERATION_TIMEDOUT, e);
        } else if (!written) {
            place_call(p, c);
        } else if (!c->resp.got_bytes && (timeout || (!c->retried && c->nth > 0))) {
            resend(p, c);
        } else {
            deliver(p, c, code, err);
        }
    }
}

/* ---- reading and writing ---- */

static void timer_cb(uv_timer_t *t)
{
    h1_conn *k = t->data;
    ex_h1_pool *p = k->pool;
    k->timer_at = 0;
    if (k->state == C_CLOSING || !k->head) return;
    uint64_t now = uv_now(p->loop), next = UINT64_MAX;
    int expired = 0;
    for (ex_h1_call *c = k->head; c; c = c->next_q) {
        if (c->deadline <= now) expired = 1;
        else if (c->deadline < next) next = c->deadline;
    }
    if (!expired) {
        arm(k, next);
    } else if (k->state != C_OPEN) { /* resolving or connecting: its one call */
        char err[EX_H1_ERR_MAX];
        timeout_msg(k->state, k->head, now, err, sizeof err);
        fail_first(p, k->head, CURLE_OPERATION_TIMEDOUT, err);
    } else {
        conn_end(k, CURLE_OPERATION_TIMEDOUT, "Operation timed out", 1);
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    h1_conn *k = h->data;
    *buf = uv_buf_init(k->pool->rbuf, READ_BUF);
}

/* The server closed k (UV_EOF) or reading failed (n < 0). The head's
 * answer may end with the close; else the calls go on as conn_end says. */
static void conn_eof(h1_conn *k, ssize_t n)
{
    ex_h1_pool *p = k->pool;
    ex_h1_call *c = k->head;
    char err[EX_H1_ERR_MAX];
    CURLcode rest = n == UV_EOF ? CURLE_GOT_NOTHING : CURLE_RECV_ERROR;
    if (n == UV_EOF) snprintf(err, sizeof err, "Empty reply from server");
    else snprintf(err, sizeof err, "Recv failure: %s", strerror(-(int)n));
    if (!c || c == k->unsent) { /* nothing written: an idle connection the server is done with */
        conn_end(k, rest, err, 0);
        return;
    }
    ex_h1_state st = n == UV_EOF ? ex_h1_resp_eof(&c->resp) : EX_H1_FAILED;
    if (st != EX_H1_DONE && !c->resp.got_bytes && !c->retried && c->nth > 0) {
        conn_end(k, rest, err, 0); /* the head is sent again with the others */
        return;
    }
    pop_head(k);
    conn_end(k, rest, err, 0);
    if (st == EX_H1_DONE) deliver(p, c, CURLE_OK, NULL);
    else if (n == UV_EOF) deliver(p, c, c->resp.code, c->resp.err);
    else deliver(p, c, CURLE_RECV_ERROR, err);
}

/* Answers in order, several from one read: each to the call at the head. */
static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    h1_conn *k = s->data;
    ex_h1_pool *p = k->pool;
    if (n == 0 || k->state == C_CLOSING) return;
    if (n < 0) {
        conn_eof(k, n);
        return;
    }
    const char *d = buf->base;
    size_t left = (size_t)n;
    while (left > 0) {
        ex_h1_call *c = k->head;
        if (!c || c == k->unsent) { /* bytes nobody asked for: the server is done with the connection */
            conn_end(k, CURLE_GOT_NOTHING, "Empty reply from server", 0);
            return;
        }
        size_t used;
        ex_h1_state st = ex_h1_resp_feed_used(&c->resp, d, left, &used);
        d += used;
        left -= used;
        if (st == EX_H1_MORE) return;
        pop_head(k);
        if (st == EX_H1_DONE && c->resp.keep_alive) {
            k->proven = 1;
            conn_place(k);
            deliver(p, c, CURLE_OK, NULL);
            if (k->state == C_CLOSING) return;
            continue;
        }
        /* Failed, or the answer closes the connection: the rest go on elsewhere. */
        conn_end(k, CURLE_GOT_NOTHING, "Empty reply from server", 0);
        if (st == EX_H1_DONE) deliver(p, c, CURLE_OK, NULL);
        else deliver(p, c, c->resp.code, c->resp.err);
        return;
    }
}

static void send_failed(h1_conn *k, int uverr)
{
    char err[EX_H1_ERR_MAX];
    snprintf(err, sizeof err, "Send failure: %s", strerror(-uverr));
    conn_end(k, CURLE_SEND_ERROR, err, 0);
}

static void write_cb(uv_write_t *w, int status)
{
    h1_conn *k = w->data;
    k->writing = 0;
    if (k->state == C_CLOSING) return;
    if (status < 0) send_failed(k, status);
    else flush_conn(k); /* what came while it was written */
}

/* Write k's unwritten requests, all in one writev (the rest by uv_write
 * if the socket takes only part). */
static void flush_conn(h1_conn *k)
{
    if (k->state != C_OPEN || k->writing || !k->unsent) return;
    ex_h1_pool *p = k->pool;
    uv_buf_t bufs[EX_H1_DEPTH_MAX];
    int n = 0;
    size_t total = 0;
    int64_t stamp = ex_clock_now(ex_clock_real());
    for (ex_h1_call *c = k->unsent; c && n < EX_H1_DEPTH_MAX; c = c->next_q) {
        if (c->sent_ns) *c->sent_ns = stamp;
        c->nth = k->nsent++;
        if (c->nth) p->st.reused++;
        if (c != k->head) p->st.pipelined++;
        bufs[n++] = uv_buf_init((char *)c->req, (unsigned)c->req_len);
        total += c->req_len;
        k->unsent = c->next_q;
    }
    p->st.writes++;
    int rc = uv_try_write((uv_stream_t *)&k->tcp, bufs, (unsigned)n);
    if (rc == (int)total) return;
    if (rc == UV_EAGAIN) rc = 0;
    if (rc >= 0) {
        int i = 0;
        size_t off = (size_t)rc;
        while (off >= bufs[i].len) off -= bufs[i++].len;
        bufs[i].base += off;
        bufs[i].len -= off;
        rc = uv_write(&k->write, (uv_stream_t *)&k->tcp, bufs + i, (unsigned)(n - i), write_cb);
        if (rc == 0) {
            k->writing = 1;
            return;
        }
    }
    send_failed(k, rc);
}

static void flush_all(ex_h1_pool *p)
{
    h1_conn *k;
    while ((k = p->flush)) {
        p->flush = k->next_flush;
        k->flushing = 0;
        flush_conn(k);
    }
}

/* Before the loop waits for I/O: write what is ready, then hold the loop
 * for the rest of the pacing window (its answers arrive meanwhile). */
static void prep_cb(uv_prepare_t *h)
{
    ex_h1_pool *p = h->data;
    flush_all(p);
    if (!p->pace_ns) return; /* not paced: no clock read per turn */
    uint64_t now = uv_hrtime(), wait = ex_h1_pace_wait(now, p->turn_ns, p->pace_ns, p->inflight);
    if (wait) {
        struct timespec ts = {(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)};
        nanosleep(&ts, NULL); /* a signal cutting it short only shortens the wait */
        p->st.paced++;
        now = uv_hrtime();
    }
    p->turn_ns = now;
}
static void check_cb(uv_check_t *h) { flush_all(h->data); }

/* ---- placing a call ---- */

static void connect_cb(uv_connect_t *req, int status)
{
    h1_conn *k = req->data;
    if (k->state == C_CLOSING || !k->head) return;
    ex_h1_pool *p = k->pool;
    if (status < 0) {
        ex_h1_call *c = pop_head(k);
        conn_close(k);
        connect_call(p, c, k->addr + 1);
        return;
    }
    p->st.opened++;
    uv_tcp_nodelay(&k->tcp, 1);
    uv_tcp_keepalive(&k->tcp, 1, 60); /* CURLOPT_TCP_KEEPALIVE with libcurl's 60 s */
    uv_read_start((uv_stream_t *)&k->tcp, alloc_cb, read_cb);
    k->state = C_OPEN;
    flush_conn(k);
}

static void connect_failed(ex_h1_pool *p, ex_h1_call *c)
{
    char err[EX_H1_ERR_MAX];
    snprintf(err, sizeof err, "Failed to connect to %.160s port %d after %lu ms: Couldn't connect to server", p->t.host,
             p->t.port, (unsigned long)(uv_now(p->loop) - c->started));
    fail_first(p, c, CURLE_COULDNT_CONNECT, err);
}

/* A new connection (state C_NEW) carrying c alone; NULL (c over) without
 * memory. A call sent again keeps it to itself. */
static h1_conn *conn_attach(ex_h1_pool *p, ex_h1_call *c)
{
    h1_conn *k = conn_new(p);
    if (!k) {
        deliver(p, c, CURLE_OUT_OF_MEMORY, "out of memory opening a connection");
        return NULL;
    }
    k->alone = c->retried;
    push_call(k, c);
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
        pop_head(k);
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
            fail_first(p, c, CURLE_COULDNT_RESOLVE_HOST, err);
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

/* c (not written) onto a connection with room whose oldest request is
 * recent, else an idle one, else a new one; written at the next flush. */
static void place_call(ex_h1_pool *p, ex_h1_call *c)
{
    uint64_t now = uv_now(p->loop);
    h1_conn *k;
    while ((k = p->room) && now - k->head->started > EX_H1_HOL_MS) list_move(k, L_BUSY); /* back once answered */
    if (!k) k = p->idle;
    if (!k) {
        open_for(p, c);
        return;
    }
    push_call(k, c);
    conn_place(k);
    if (!k->flushing) {
        k->flushing = 1;
        k->next_flush = p->flush;
        p->flush = k;
    }
}

/* ---- the pool ---- */

ex_h1_pool *ex_h1_pool_new(uv_loop_t *loop, const ex_h1_target *t, int max_idle, int depth)
{
    ex_h1_pool *p = ex_calloc(1, sizeof *p);
    if (!p) return NULL;
    p->loop = loop;
    p->t = *t;
    p->t.path = "";
    p->max_idle = max_idle;
    p->depth = depth < 1 ? 1 : depth > EX_H1_DEPTH_MAX ? EX_H1_DEPTH_MAX : depth;
    p->waiting_tail = &p->waiting;
    p->numeric = numeric_addr(p);
    uv_prepare_init(loop, &p->prep);
    uv_check_init(loop, &p->check);
    p->prep.data = p->check.data = p;
    uv_prepare_start(&p->prep, prep_cb);
    uv_check_start(&p->check, check_cb);
    uv_unref((uv_handle_t *)&p->prep);
    uv_unref((uv_handle_t *)&p->check);
    p->nhandles = 2;
    return p;
}

int ex_h1_start(ex_h1_pool *p, ex_h1_call *c)
{
    if (p->closing) return -1;
    c->conn = NULL;
    c->next_q = NULL;
    c->waiting = 0;
    c->retried = 0;
    c->nth = 0;
    c->started = uv_now(p->loop);
    c->deadline = c->started + c->timeout_ms;
    ex_h1_resp_begin(&c->resp, c->body_cb, c->arg);
    place_call(p, c);
    return 0;
}

void ex_h1_pool_stats(const ex_h1_pool *p, ex_h1_stats *st) { *st = p->st; }

void ex_h1_pool_pace(ex_h1_pool *p, uint64_t window_ns) { p->pace_ns = window_ns; }

static void pool_handle_closed(uv_handle_t *h)
{
    ex_h1_pool *p = h->data;
    p->nhandles--;
    maybe_free(p);
}

void ex_h1_pool_destroy(ex_h1_pool *p)
{
    if (!p || p->closing) return;
    p->closing = 1;
    while (p->idle) conn_close(p->idle);
    while (p->room) conn_end(p->room, CURLE_ABORTED_BY_CALLBACK, "aborted", 0);
    while (p->busy) conn_end(p->busy, CURLE_ABORTED_BY_CALLBACK, "aborted", 0);
    ex_h1_call *w = take_waiting(p);
    while (w) {
        ex_h1_call *c = w;
        w = w->next_wait;
        c->waiting = 0;
        deliver(p, c, CURLE_ABORTED_BY_CALLBACK, "aborted");
    }
    uv_close((uv_handle_t *)&p->prep, pool_handle_closed);
    uv_close((uv_handle_t *)&p->check, pool_handle_closed);
    if (p->resolving) uv_cancel((uv_req_t *)&p->gai); /* resolved() frees the pool then */
    maybe_free(p);
}

void ex_h1_call_free(ex_h1_call *c) { ex_h1_resp_free(&c->resp); }
