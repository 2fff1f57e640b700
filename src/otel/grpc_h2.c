/* grpc_h2.c — gRPC calls multiplexed on one nghttp2 connection (grpc_h2.h).
 *
 * Every entry point from the loop (timer, resolver, connect, read, write)
 * does its work, then delivers the calls that finished meanwhile
 * (deliver): callbacks never run inside nghttp2, inside post, or while a
 * connection is half torn down. */
#include "otel/grpc_h2.h"

#include <ctype.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/strcopy.h"
#include "otel/exporter.h"

#define READ_BUF 65536
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
#define MAX_ADDRS 8

typedef struct h2_call h2_call;
typedef struct h2_conn h2_conn;

struct h2_call {
    exo_h2_client *c;
    int32_t stream_id;        /* 0 until submitted */
    const uint8_t *body;      /* borrowed */
    size_t len, off;          /* request bytes, bytes handed to nghttp2 */
    char timeout[24];         /* grpc-timeout value, "" for none */
    uint64_t deadline_ms;     /* uv_now() time it fails at */
    exo_http_done_cb cb;
    void *arg;
    exo_http_response resp;
    size_t body_cap;
    h2_call **list;           /* the list it is on */
    h2_call *prev, *next;
};

struct h2_conn {
    uv_tcp_t tcp;
    uv_connect_t connect;
    exo_h2_client *c;
    nghttp2_session *session; /* NULL until connected and after teardown */
    int dead;                 /* torn down: uv_close called */
    int goaway;               /* the server sent GOAWAY: no new streams */
    uint8_t rbuf[READ_BUF];
};

struct exo_h2_client {
    uv_loop_t *loop;
    char *host, *port, *authority, *path;
    nghttp2_nv *nv;           /* fixed request headers (pseudo-headers first) */
    size_t nnv;
    char *nv_text;            /* owned lower-cased names and values the nv point into */
    uv_timer_t kick;          /* submit waiting calls / (re)connect, after the backoff */
    uv_timer_t deadline;      /* the earliest call deadline */
    uv_getaddrinfo_t gai;
    int resolving;
    struct sockaddr_storage addrs[MAX_ADDRS];
    int naddrs, next_addr;
    char last_error[CURL_ERROR_SIZE];
    h2_conn *conn;            /* current connection, or NULL */
    h2_call *waiting, *active, *done;
    int failures;             /* connections failed in a row */
    uint64_t next_connect_ms; /* no connect before this (backoff) */
    uint64_t connections;
    int closing, handles;     /* handles (and resolver) not yet released */
    void (*closed)(void *);
    void *closed_arg;
};

/* ---- calls ------------------------------------------------------------- */

static void list_del(h2_call *k)
{
    if (!k->list) return;
    if (k->prev) k->prev->next = k->next;
    else *k->list = k->next;
    if (k->next) k->next->prev = k->prev;
    k->prev = k->next = NULL;
    k->list = NULL;
}

/* Append (lists hold a few calls: max_inflight batches). */
static void list_add(h2_call **list, h2_call *k)
{
    list_del(k);
    h2_call *tail = *list;
    while (tail && tail->next) tail = tail->next;
    k->prev = tail;
    k->next = NULL;
    if (tail) tail->next = k;
    else *list = k;
    k->list = list;
}

/* Move k to the done list with a transport result. */
static void call_fail(h2_call *k, CURLcode code, const char *msg)
{
    k->resp.result = code;
    snprintf(k->resp.error, sizeof k->resp.error, "%s", msg);
    list_add(&k->c->done, k);
}

static void fail_all(h2_call **list, CURLcode code, const char *msg)
{
    while (*list) call_fail(*list, code, msg);
}

static void update_deadline(exo_h2_client *c);

/* Run the callbacks of finished calls; c stays valid (it is freed only
 * once its handles are closed, which a callback cannot finish). */
static void deliver(exo_h2_client *c)
{
    while (c->done) {
        h2_call *k = c->done;
        list_del(k);
        k->cb(k->arg, &k->resp);
        ex_free(k->resp.body);
        ex_free(k->resp.grpc_details);
        ex_free(k);
    }
    if (!c->closing) update_deadline(c);
}

/* ---- connection teardown ---------------------------------------------- */

static void maybe_closed(exo_h2_client *c)
{
    if (!c->closing || c->handles > 0) return;
    void (*closed)(void *) = c->closed;
    void *arg = c->closed_arg;
    ex_free(c->host);
    ex_free(c->port);
    ex_free(c->authority);
    ex_free(c->path);
    ex_free(c->nv);
    ex_free(c->nv_text);
    ex_free(c);
    if (closed) closed(arg);
}

static void conn_closed_cb(uv_handle_t *h)
{
    h2_conn *conn = h->data;
    exo_h2_client *c = conn->c;
    ex_free(conn);
    c->handles--;
    maybe_closed(c);
}

static void kick_soon(exo_h2_client *c);

/* Tear conn down: its calls fail with code (retryable unless aborted). */
static void conn_lost(h2_conn *conn, CURLcode code, const char *msg)
{
    exo_h2_client *c = conn->c;
    if (conn->dead) return;
    conn->dead = 1;
    if (c->conn == conn) c->conn = NULL;
    for (h2_call *k = c->active; k;) {
        h2_call *next = k->next;
        if (conn->session) nghttp2_session_set_stream_user_data(conn->session, k->stream_id, NULL);
        call_fail(k, code, msg);
        k = next;
    }
    if (conn->session) nghttp2_session_del(conn->session);
    conn->session = NULL;
    uv_close((uv_handle_t *)&conn->tcp, conn_closed_cb);
    if (code != CURLE_OK) c->failures++;
    if (!c->closing && c->waiting) kick_soon(c);
}

/* ---- output ------------------------------------------------------------ */

typedef struct write_req {
    uv_write_t req;
    uint8_t *data;
} write_req;

static void write_cb(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    h2_conn *conn = req->data;
    ex_free(w->data);
    ex_free(w);
    if (status < 0 && !conn->dead) {
        char msg[128];
        snprintf(msg, sizeof msg, "sending to the collector failed: %s", uv_strerror(status));
        conn_lost(conn, CURLE_SEND_ERROR, msg);
        deliver(conn->c);
    }
}

/* Write what nghttp2 has queued; on failure the connection is lost. */
static void flush(h2_conn *conn)
{
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    char msg[128];
    for (;;) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(conn->session, &data);
        if (n < 0) {
            snprintf(msg, sizeof msg, "HTTP/2 error: %s", nghttp2_strerror((int)n));
            goto fail;
        }
        if (n == 0) break;
        if (len + (size_t)n > cap) {
            size_t nc = cap ? cap * 2 : 16384;
            while (nc < len + (size_t)n) nc *= 2;
            uint8_t *p = ex_realloc(buf, nc);
            if (!p) goto oom;
            buf = p;
            cap = nc;
        }
        memcpy(buf + len, data, (size_t)n);
        len += (size_t)n;
    }
    if (len) {
        write_req *w = ex_malloc(sizeof *w);
        if (!w) goto oom;
        uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
        w->data = buf;
        w->req.data = conn;
        int rc = uv_write(&w->req, (uv_stream_t *)&conn->tcp, &b, 1, write_cb);
        if (rc < 0) {
            ex_free(w);
            snprintf(msg, sizeof msg, "sending to the collector failed: %s", uv_strerror(rc));
            goto fail;
        }
    }
    if (!nghttp2_session_want_read(conn->session) && !nghttp2_session_want_write(conn->session))
        conn_lost(conn, CURLE_RECV_ERROR, "the collector closed the HTTP/2 connection");
    return;
oom:
    snprintf(msg, sizeof msg, "out of memory writing to the collector");
fail:
    ex_free(buf);
    conn_lost(conn, CURLE_SEND_ERROR, msg);
}

/* ---- nghttp2 callbacks --------------------------------------------------- */

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                         nghttp2_data_source *src, void *user)
{
    h2_call *k = src->ptr;
    size_t n = k->len - k->off < length ? k->len - k->off : length;
    memcpy(buf, k->body + k->off, n);
    k->off += n;
    if (k->off == k->len) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user)
{
    h2_call *k = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!k || f->hd.type != NGHTTP2_HEADERS) return 0;
    exo_http_response *r = &k->resp;
#define IS(lit) (namelen == sizeof(lit) - 1 && memcmp(name, lit, namelen) == 0)
    if (IS(":status")) {
        char num[8];
        ex_copy_cut(num, sizeof num, value, valuelen);
        r->status = strtol(num, NULL, 10);
    } else if (IS("content-type")) {
        ex_copy_cut(r->content_type, sizeof r->content_type, value, valuelen);
        char *semi = strchr(r->content_type, ';');
        if (semi) *semi = '\0';
    } else if (IS("grpc-status")) {
        ex_copy_cut(r->grpc_status, sizeof r->grpc_status, value, valuelen);
    } else if (IS("grpc-encoding")) {
        ex_copy_cut(r->grpc_encoding, sizeof r->grpc_encoding, value, valuelen);
    } else if (IS("grpc-message")) {
        ex_copy_cut(r->grpc_message, sizeof r->grpc_message, value, valuelen);
    } else if (IS("grpc-status-details-bin") && valuelen < 64 * 1024) {
        ex_free(r->grpc_details);
        r->grpc_details = ex_malloc(valuelen + 1);
        if (r->grpc_details) ex_copy_cut(r->grpc_details, valuelen + 1, value, valuelen);
    }
#undef IS
    return 0;
}

static int on_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t len, void *user)
{
    h2_call *k = nghttp2_session_get_stream_user_data(s, id);
    if (!k) return 0;
    exo_http_response *r = &k->resp;
    size_t room = EXO_HTTP_MAX_BODY - r->body_len, keep = len < room ? len : room;
    if (keep < len) r->body_truncated = 1;
    if (keep == 0) return 0;
    if (r->body_len + keep + 1 > k->body_cap) {
        size_t nc = k->body_cap ? k->body_cap * 2 : 256;
        while (nc < r->body_len + keep + 1) nc *= 2;
        uint8_t *p = ex_realloc(r->body, nc);
        if (!p) return NGHTTP2_ERR_CALLBACK_FAILURE;
        r->body = p;
        k->body_cap = nc;
    }
    memcpy(r->body + r->body_len, data, keep);
    r->body_len += keep;
    r->body[r->body_len] = '\0';
    return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t error_code, void *user)
{
    h2_call *k = nghttp2_session_get_stream_user_data(s, id);
    if (!k) return 0;
    if (error_code == NGHTTP2_NO_ERROR) {
        k->resp.result = CURLE_OK;
        k->c->failures = 0;
        list_add(&k->c->done, k);
    } else {
        char msg[128];
        snprintf(msg, sizeof msg, "HTTP/2 stream %d closed by the collector: %s", id,
                 nghttp2_http2_strerror(error_code));
        call_fail(k, CURLE_HTTP2_STREAM, msg);
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *user)
{
    h2_conn *conn = user;
    if (f->hd.type == NGHTTP2_GOAWAY) conn->goaway = 1;
    return 0;
}

/* ---- calls onto streams -------------------------------------------------- */

static void submit(h2_conn *conn, h2_call *k)
{
    exo_h2_client *c = conn->c;
    nghttp2_nv nv[c->nnv + 1];
    memcpy(nv, c->nv, c->nnv * sizeof *nv);
    size_t n = c->nnv;
    if (k->timeout[0])
        nv[n++] = (nghttp2_nv){(uint8_t *)"grpc-timeout", (uint8_t *)k->timeout, 12, strlen(k->timeout),
                               NGHTTP2_NV_FLAG_NO_COPY_NAME};
    nghttp2_data_provider prd = {.source.ptr = k, .read_callback = read_body};
    int32_t id = nghttp2_submit_request(conn->session, NULL, nv, n, &prd, k);
    if (id < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "HTTP/2 request not started: %s", nghttp2_strerror(id));
        call_fail(k, CURLE_HTTP2, msg);
        return;
    }
    k->stream_id = id;
    list_add(&c->active, k);
}

/* ---- connecting ---------------------------------------------------------- */

static void connect_next(exo_h2_client *c);

/* No connection could be made: the waiting calls fail (the pipeline
 * retries them), the next attempt waits the backoff. */
static void connect_failed(exo_h2_client *c, CURLcode code)
{
    c->failures++;
    int shift = c->failures - 1 < 6 ? c->failures - 1 : 6;
    uint64_t delay = (uint64_t)BACKOFF_FIRST_MS << shift;
    if (delay > BACKOFF_MAX_MS) delay = BACKOFF_MAX_MS;
    c->next_connect_ms = uv_now(c->loop) + delay;
    fail_all(&c->waiting, code, c->last_error);
}

static int session_new(h2_conn *conn)
{
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) != 0) return -1;
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    int rc = nghttp2_session_client_new(&conn->session, cbs, conn);
    nghttp2_session_callbacks_del(cbs);
    if (rc != 0) return -1;
    nghttp2_settings_entry s[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                  {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    return nghttp2_submit_settings(conn->session, NGHTTP2_FLAG_NONE, s, 2) == 0 ? 0 : -1;
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    h2_conn *conn = h->data;
    *buf = uv_buf_init((char *)conn->rbuf, READ_BUF);
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    h2_conn *conn = st->data;
    exo_h2_client *c = conn->c;
    if (conn->dead || n == 0) return;
    if (n < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "connection to the collector %s", n == UV_EOF ? "closed" : uv_strerror((int)n));
        conn_lost(conn, CURLE_RECV_ERROR, msg);
    } else {
        ssize_t rc = nghttp2_session_mem_recv(conn->session, (const uint8_t *)buf->base, (size_t)n);
        if (rc < 0) {
            char msg[128];
            snprintf(msg, sizeof msg, "HTTP/2 error from the collector: %s", nghttp2_strerror((int)rc));
            conn_lost(conn, CURLE_RECV_ERROR, msg);
        } else {
            flush(conn);
            if (!conn->dead && conn->goaway && !c->active) conn_lost(conn, CURLE_OK, "");
        }
    }
    if (!c->closing && c->waiting) kick_soon(c);
    deliver(c);
}

static void on_connect(uv_connect_t *req, int status)
{
    h2_conn *conn = req->data;
    exo_h2_client *c = conn->c;
    if (conn->dead) return;
    if (status < 0) {
        snprintf(c->last_error, sizeof c->last_error, "could not connect to %s: %s", c->authority,
                 uv_strerror(status));
        conn->dead = 1;
        c->conn = NULL;
        uv_close((uv_handle_t *)&conn->tcp, conn_closed_cb);
        c->next_addr++;
        connect_next(c);
        deliver(c);
        return;
    }
    uv_tcp_nodelay(&conn->tcp, 1);
    if (session_new(conn) != 0 || uv_read_start((uv_stream_t *)&conn->tcp, alloc_cb, read_cb) != 0) {
        snprintf(c->last_error, sizeof c->last_error, "could not start HTTP/2 with %s", c->authority);
        fail_all(&c->waiting, CURLE_COULDNT_CONNECT, c->last_error);
        conn_lost(conn, CURLE_COULDNT_CONNECT, c->last_error);
        deliver(c);
        return;
    }
    c->connections++;
    while (c->waiting) submit(conn, c->waiting);
    flush(conn);
    deliver(c);
}

/* Connect to the next resolved address; when none is left, fail. */
static void connect_next(exo_h2_client *c)
{
    for (; c->next_addr < c->naddrs; c->next_addr++) {
        h2_conn *conn = ex_calloc(1, sizeof *conn);
        if (!conn) break;
        conn->c = c;
        conn->tcp.data = conn;
        conn->connect.data = conn;
        uv_tcp_init(c->loop, &conn->tcp);
        c->handles++;
        int rc = uv_tcp_connect(&conn->connect, &conn->tcp, (const struct sockaddr *)&c->addrs[c->next_addr],
                                on_connect);
        if (rc == 0) {
            c->conn = conn;
            return;
        }
        snprintf(c->last_error, sizeof c->last_error, "could not connect to %s: %s", c->authority, uv_strerror(rc));
        conn->dead = 1;
        uv_close((uv_handle_t *)&conn->tcp, conn_closed_cb);
    }
    connect_failed(c, CURLE_COULDNT_CONNECT);
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    exo_h2_client *c = req->data;
    c->resolving = 0;
    c->handles--;
    if (c->closing) {
        if (res) uv_freeaddrinfo(res);
        maybe_closed(c);
        return;
    }
    c->naddrs = c->next_addr = 0;
    for (struct addrinfo *a = res; a && c->naddrs < MAX_ADDRS; a = a->ai_next)
        if (a->ai_addrlen <= sizeof c->addrs[0]) memcpy(&c->addrs[c->naddrs++], a->ai_addr, a->ai_addrlen);
    if (res) uv_freeaddrinfo(res);
    if (status < 0 || c->naddrs == 0) {
        snprintf(c->last_error, sizeof c->last_error, "could not resolve host %s: %s", c->host,
                 status < 0 ? uv_strerror(status) : "no address");
        connect_failed(c, CURLE_COULDNT_RESOLVE_HOST);
    } else {
        connect_next(c);
    }
    deliver(c);
}

static void start_connect(exo_h2_client *c)
{
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    int port = atoi(c->port);
    c->naddrs = c->next_addr = 0;
    if (uv_ip4_addr(c->host, port, &a4) == 0) memcpy(&c->addrs[c->naddrs++], &a4, sizeof a4);
    else if (uv_ip6_addr(c->host, port, &a6) == 0) memcpy(&c->addrs[c->naddrs++], &a6, sizeof a6);
    if (c->naddrs) {
        connect_next(c);
        return;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    c->gai.data = c;
    int rc = uv_getaddrinfo(c->loop, &c->gai, gai_cb, c->host, c->port, &hints);
    if (rc != 0) {
        snprintf(c->last_error, sizeof c->last_error, "could not resolve host %s: %s", c->host, uv_strerror(rc));
        connect_failed(c, CURLE_COULDNT_RESOLVE_HOST);
        return;
    }
    c->resolving = 1;
    c->handles++;
}

/* ---- timers ------------------------------------------------------------- */

static void kick_cb(uv_timer_t *t)
{
    exo_h2_client *c = t->data;
    if (c->closing || !c->waiting) return;
    h2_conn *conn = c->conn;
    if (conn && conn->session && !conn->goaway) {
        while (c->waiting) submit(conn, c->waiting);
        flush(conn);
    } else if (!conn && !c->resolving) {
        uint64_t now = uv_now(c->loop);
        if (now < c->next_connect_ms) uv_timer_start(&c->kick, kick_cb, c->next_connect_ms - now, 0);
        else start_connect(c);
    }
    deliver(c);
}

static void kick_soon(exo_h2_client *c)
{
    if (!uv_is_active((uv_handle_t *)&c->kick)) uv_timer_start(&c->kick, kick_cb, 0, 0);
}

static void expire(h2_call **list, uint64_t now)
{
    for (h2_call *k = *list; k;) {
        h2_call *next = k->next;
        if (k->deadline_ms <= now) {
            char msg[96];
            if (k->stream_id && k->c->conn && k->c->conn->session) {
                nghttp2_session_set_stream_user_data(k->c->conn->session, k->stream_id, NULL);
                nghttp2_submit_rst_stream(k->c->conn->session, NGHTTP2_FLAG_NONE, k->stream_id, NGHTTP2_CANCEL);
            }
            snprintf(msg, sizeof msg, "the collector did not answer in time (%s)",
                     k->stream_id ? "request sent" : "not connected");
            call_fail(k, CURLE_OPERATION_TIMEDOUT, msg);
        }
        k = next;
    }
}

static void deadline_cb(uv_timer_t *t)
{
    exo_h2_client *c = t->data;
    uint64_t now = uv_now(c->loop);
    expire(&c->active, now);
    expire(&c->waiting, now);
    if (c->conn && c->conn->session) flush(c->conn);
    deliver(c);
}

static void update_deadline(exo_h2_client *c)
{
    uint64_t first = UINT64_MAX;
    for (h2_call *k = c->active; k; k = k->next) first = k->deadline_ms < first ? k->deadline_ms : first;
    for (h2_call *k = c->waiting; k; k = k->next) first = k->deadline_ms < first ? k->deadline_ms : first;
    if (first == UINT64_MAX) {
        uv_timer_stop(&c->deadline);
        return;
    }
    uint64_t now = uv_now(c->loop);
    uv_timer_start(&c->deadline, deadline_cb, first > now ? first - now : 0, 0);
}

/* ---- setup -------------------------------------------------------------- */

/* Split http://host:port/path (host may be [v6]); 0 or -1. */
static int parse_url(exo_h2_client *c, const char *url)
{
    if (strncmp(url, "http://", 7) != 0) return -1;
    const char *auth = url + 7, *slash = strchr(auth, '/');
    size_t alen = slash ? (size_t)(slash - auth) : strlen(auth);
    c->authority = ex_strndup(auth, alen);
    c->path = ex_strdup(slash ? slash : "/");
    if (!c->authority || !c->path || alen == 0) return -1;
    const char *colon = NULL, *host = c->authority, *host_end;
    if (host[0] == '[') {
        host_end = strchr(host, ']');
        if (!host_end) return -1;
        host++;
        if (host_end[1] == ':') colon = host_end + 1;
    } else {
        colon = strrchr(host, ':');
        host_end = colon ? colon : host + alen;
    }
    c->host = ex_strndup(host, (size_t)(host_end - host));
    c->port = ex_strdup(colon ? colon + 1 : "80");
    return c->host && c->port && c->port[0] ? 0 : -1;
}

/* The fixed headers in order: pseudo-headers, the base pairs,
 * cfg->headers (names lower cased), user-agent; text in one owned block. */
static int build_headers(exo_h2_client *c, const exo_export_config *cfg, const char *const *base)
{
    size_t nbase = 0, text = 0;
    while (base && base[2 * nbase]) nbase++;
    c->nnv = 4 + nbase + cfg->headers.len + 1;
    const char **pairs = ex_calloc(2 * c->nnv, sizeof *pairs);
    c->nv = ex_calloc(c->nnv, sizeof *c->nv);
    if (!pairs || !c->nv) {
        ex_free(pairs);
        return -1;
    }
    const char *fixed[] = {":method", "POST", ":scheme", "http", ":authority", c->authority, ":path", c->path};
    size_t n = 0;
    for (size_t i = 0; i < 8; i++) pairs[n++] = fixed[i];
    for (size_t i = 0; i < 2 * nbase; i++) pairs[n++] = base[i];
    for (size_t i = 0; i < cfg->headers.len; i++) {
        pairs[n++] = cfg->headers.items[i].key;
        pairs[n++] = cfg->headers.items[i].value;
    }
    pairs[n++] = "user-agent";
    pairs[n++] = EXO_OTLP_USER_AGENT;
    for (size_t i = 0; i < n; i++) text += strlen(pairs[i]) + 1;
    char *p = c->nv_text = ex_malloc(text);
    int rc = p ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < c->nnv; i++) {
        const char *name = pairs[2 * i], *value = pairs[2 * i + 1];
        if (strpbrk(name, "\r\n") || strpbrk(value, "\r\n")) {
            rc = -2;
            break;
        }
        size_t nl = strlen(name), vl = strlen(value);
        for (size_t j = 0; j <= nl; j++) p[j] = (char)tolower((unsigned char)name[j]);
        memcpy(p + nl + 1, value, vl + 1);
        c->nv[i] = (nghttp2_nv){(uint8_t *)p, (uint8_t *)p + nl + 1, nl, vl,
                                NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
        p += nl + vl + 2;
    }
    ex_free(pairs);
    return rc;
}

exo_h2_client *exo_h2_client_new(uv_loop_t *loop, const exo_export_config *cfg, const char *const *base_headers,
                                 char *err, size_t errlen)
{
    exo_h2_client *c = ex_calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory creating the gRPC client for %s", cfg->url);
        return NULL;
    }
    c->loop = loop;
    int rc = parse_url(c, cfg->url);
    if (rc == 0) rc = build_headers(c, cfg, base_headers);
    if (rc != 0) {
        if (rc == -2) snprintf(err, errlen, "OTEL_EXPORTER_OTLP_HEADERS: a header value contains a line break");
        else snprintf(err, errlen, "cannot use %s for OTLP/gRPC over h2c (or out of memory)", cfg->url);
        c->closing = 1;
        maybe_closed(c);
        return NULL;
    }
    uv_timer_init(loop, &c->kick);
    uv_timer_init(loop, &c->deadline);
    c->kick.data = c->deadline.data = c;
    c->handles = 2;
    return c;
}

int exo_h2_client_post(exo_h2_client *c, const uint8_t *body, size_t len, const char *grpc_timeout,
                       int64_t timeout_ns, exo_http_done_cb cb, void *arg, char *err, size_t errlen)
{
    if (c->closing) {
        snprintf(err, errlen, "gRPC client for %s is shut down", c->authority);
        return -1;
    }
    h2_call *k = ex_calloc(1, sizeof *k);
    if (!k) {
        snprintf(err, errlen, "out of memory starting a call to %s", c->authority);
        return -1;
    }
    k->c = c;
    k->body = body;
    k->len = len;
    if (grpc_timeout) snprintf(k->timeout, sizeof k->timeout, "%s", grpc_timeout);
    int64_t ms = timeout_ns / 1000000;
    k->deadline_ms = uv_now(c->loop) + (uint64_t)(ms > 0 ? ms : 1);
    k->cb = cb;
    k->arg = arg;
    list_add(&c->waiting, k);
    update_deadline(c);
    kick_soon(c);
    return 0;
}

uint64_t exo_h2_client_connections(const exo_h2_client *c) { return c->connections; }

static void timer_closed_cb(uv_handle_t *h)
{
    exo_h2_client *c = h->data;
    c->handles--;
    maybe_closed(c);
}

void exo_h2_client_close(exo_h2_client *c, void (*closed)(void *arg), void *arg)
{
    c->closing = 1;
    c->closed = closed;
    c->closed_arg = arg;
    fail_all(&c->waiting, CURLE_ABORTED_BY_CALLBACK, "export aborted: shutting down");
    if (c->conn) conn_lost(c->conn, CURLE_ABORTED_BY_CALLBACK, "export aborted: shutting down");
    fail_all(&c->active, CURLE_ABORTED_BY_CALLBACK, "export aborted: shutting down");
    deliver(c);
    if (c->resolving) uv_cancel((uv_req_t *)&c->gai);
    uv_close((uv_handle_t *)&c->kick, timer_closed_cb);
    uv_close((uv_handle_t *)&c->deadline, timer_closed_cb);
}

/* ---- no socket: the fuzz target's way in --------------------------------- */

static void drain(h2_conn *conn)
{
    const uint8_t *data;
    while (nghttp2_session_mem_send(conn->session, &data) > 0) {}
}

int exo_h2__exchange(const uint8_t *server, size_t len, exo_http_done_cb cb, void *arg)
{
    static const uint8_t body[] = {0, 0, 0, 0, 0}; /* an empty gRPC message */
    const char *pairs[] = {"content-type", "application/grpc", "te", "trailers", NULL};
    exo_export_config cfg = {.url = "http://127.0.0.1:4317/opentelemetry.proto.collector.trace.v1.TraceService/Export"};
    exo_h2_client *c = ex_calloc(1, sizeof *c);
    h2_conn *conn = ex_calloc(1, sizeof *conn);
    h2_call *k = ex_calloc(1, sizeof *k);
    int ended = 0;
    if (!c || !conn || !k || parse_url(c, cfg.url) != 0 || build_headers(c, &cfg, pairs) != 0) goto out;
    conn->c = c;
    if (session_new(conn) != 0) goto out;
    *k = (h2_call){.c = c, .body = body, .len = sizeof body, .cb = cb, .arg = arg};
    submit(conn, k);
    drain(conn);
    if (k->list == &c->active && nghttp2_session_mem_recv(conn->session, server, len) >= 0) drain(conn);
    if (k->list == &c->done) {
        ended = 1;
        list_del(k);
        cb(arg, &k->resp);
    }
out:
    if (conn && conn->session) {
        if (k && k->stream_id) nghttp2_session_set_stream_user_data(conn->session, k->stream_id, NULL);
        nghttp2_session_del(conn->session);
    }
    if (k) {
        ex_free(k->resp.body);
        ex_free(k->resp.grpc_details);
    }
    ex_free(k);
    ex_free(conn);
    if (c) {
        c->closing = 1;
        maybe_closed(c);
    }
    return ended;
}
