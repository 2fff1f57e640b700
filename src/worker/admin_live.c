/* admin_live.c — the live API on the admin listener: the list, one
 * workflow, and the Server-Sent Events stream (docs/worker.md, "Live API").
 *
 * The JSON and the feed are live.h's (pure); here are the routes, the
 * query's parameters and each stream client: a position in the feed's
 * ring and the bytes of its current message already handed to MHD. A
 * client waits suspended (MHD_suspend_connection) until the feed has
 * something for it; one whose next message left the ring fell behind
 * and is disconnected (counted), so a slow client never holds the
 * worker's memory or time. */
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "core/clock.h"
#include "core/iso8601.h"
#include "core/mem.h"
#include "worker/admin_int.h"

#define JSON       "application/json"
#define SSE        "text/event-stream"
#define PREFIX     "/api/workflows"
#define PRE_MAX    256 /* bytes of a hello or ping */

enum { EP_LIST, EP_DETAIL, EP_STREAM };

struct wk_sse_client {
    wk_sse_client *next, *prev;
    wk_admin *a;
    struct MHD_Connection *conn;
    uint64_t next_seq;     /* next feed message to send */
    size_t off;            /* bytes of it already sent */
    char pre[PRE_MAX];     /* hello or ping waiting to go out before it */
    size_t pre_len, pre_off;
    int suspended;         /* waiting in MHD_suspend_connection */
    int drop;              /* fell behind: end with an error */
    int closing;           /* the worker stops: end the stream */
};

static void json_error(ex_http_resp *resp, int status, const char *msg)
{
    sim_buf b;
    sim_buf_init(&b, 4096);
    sim_buf_puts(&b, "{\"error\":");
    sim_buf_json_string(&b, msg, strlen(msg));
    sim_buf_puts(&b, "}\n");
    ex_http_resp_set(resp, status, JSON, b.data ? b.data : "{}", b.len);
    sim_buf_free(&b);
}

/* Hand b's text to resp (the server frees it). */
static void json_ok(ex_http_resp *resp, sim_buf *b)
{
    if (sim_buf_put(b, "\n", 1)) {
        sim_buf_free(b);
        json_error(resp, 500, "the answer could not be rendered (out of memory)");
        return;
    }
    resp->status = 200;
    resp->content_type = JSON;
    resp->body = b->data;
    resp->body_len = b->len;
    ex_http_resp_header(resp, "Cache-Control", "no-store");
}

/* ---- the list ---- */

typedef struct args_ctx {
    wk_live_query *q;
    const char *only;  /* the one parameter allowed (detail: "source"), or NULL: the list's */
    unsigned seen;     /* parameters met (bit per name) */
    int failed;
    char why[300];
} args_ctx;

static enum MHD_Result arg_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    args_ctx *c = cls;
    if (c->failed) return MHD_NO;
    if (c->only && strcmp(key, c->only) != 0) {
        snprintf(c->why, sizeof c->why, "unknown query parameter \"%.64s\" (this path takes %s%s)", key,
                 c->only[0] ? "only " : "none", c->only);
        c->failed = 1;
        return MHD_NO;
    }
    static const char *const names[] = {"status", "source", "limit", "cursor"};
    unsigned bit = 0;
    for (unsigned i = 0; i < 4; i++)
        if (strcmp(key, names[i]) == 0) bit = 1u << i;
    if (wk_live_query_param(c->q, key, value, c->why, sizeof c->why) != 0) {
        c->failed = 1;
    } else if (c->seen & bit) { /* the parser took every name it knows: bit is set */
        snprintf(c->why, sizeof c->why, "query parameter %s comes more than once: give it once", key);
        c->failed = 1;
    }
    c->seen |= bit;
    return c->failed ? MHD_NO : MHD_YES;
}

/* Read the query into q; 0, or -1 with a 400 in resp. */
static int read_query(wk_admin *a, const ex_http_req *req, wk_live_query *q, const char *only, ex_http_resp *resp)
{
    args_ctx c = {q, only, 0, 0, ""};
    wk_live_query_init(q);
    if (req->conn) MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, arg_cb, &c);
    if (!c.failed) return 0;
    a->live.bad_requests++;
    json_error(resp, 400, c.why);
    return -1;
}

static void worker_json(wk_admin *a, char *out, size_t len)
{
    char iso[EX_ISO_LEN + 1];
    sim_buf b;
    sim_buf_init(&b, len - 1);
    sim_buf_puts(&b, "{\"instance\":");
    sim_buf_json_string(&b, a->src.instance, strlen(a->src.instance));
    sim_buf_printf(&b, ",\"inFlight\":%zu,\"time\":\"%s\"}", a->src.reg->count,
                   ex_iso_format(ex_clock_now(ex_clock_real()), iso));
    snprintf(out, len, "%s", b.overflow || !b.data ? "null" : b.data);
    sim_buf_free(&b);
}

static void serve_list(wk_admin *a, const ex_http_req *req, ex_http_resp *resp)
{
    wk_live_query q;
    wk_live_page page;
    char worker[1024];
    if (read_query(a, req, &q, NULL, resp)) return;
    if (wk_live_select(a->src.reg, &q, a->src.live.source, &page)) {
        json_error(resp, 500, "out of memory selecting the page");
        return;
    }
    worker_json(a, worker, sizeof worker);
    sim_buf b;
    sim_buf_init(&b, WK_LIVE_MAX_PAGE);
    int rc = wk_live_render_page(&b, &a->src.live, worker, &page);
    wk_live_page_free(&page);
    if (rc) {
        sim_buf_free(&b);
        json_error(resp, 500, "the page could not be rendered (out of memory)");
        return;
    }
    json_ok(resp, &b);
}

static void serve_detail(wk_admin *a, const ex_http_req *req, const char *key, ex_http_resp *resp)
{
    wk_live_query q;
    char msg[512];
    if (read_query(a, req, &q, "source", resp)) return;
    wk_entry *e = *key ? wk_registry_find(a->src.reg, key) : NULL;
    if (!e || (q.source[0] && strcmp(q.source, a->src.live.source) != 0)) {
        a->live.not_found++;
        snprintf(msg, sizeof msg, "workflow %.256s%s%s is not in flight on this worker (it watches %s)", key,
                 q.source[0] ? " of source " : "", q.source, a->src.live.source);
        json_error(resp, 404, msg);
        return;
    }
    sim_buf b;
    sim_buf_init(&b, WK_LIVE_MAX_DETAIL);
    if (wk_live_render(&b, &a->src.live, e, 1)) {
        sim_buf_free(&b);
        json_error(resp, 500, "the workflow could not be rendered (out of memory)");
        return;
    }
    json_ok(resp, &b);
}

/* ---- the stream ---- */

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    wk_sse_client *cl = cls;
    const wk_feed *f = cl->a->src.feed;
    size_t n = 0;
    if (cl->closing) return MHD_CONTENT_READER_END_OF_STREAM;
    if (cl->pre_off < cl->pre_len) {
        n = cl->pre_len - cl->pre_off < max ? cl->pre_len - cl->pre_off : max;
        memcpy(buf, cl->pre + cl->pre_off, n);
        cl->pre_off += n;
    }
    while (n < max && !cl->drop && cl->next_seq <= f->last) {
        const wk_feed_msg *m = wk_feed_get(f, cl->next_seq);
        if (!m) { /* it left the ring before this client read it */
            cl->drop = 1;
            cl->a->live.clients_dropped++;
            break;
        }
        size_t k = m->len - cl->off < max - n ? m->len - cl->off : max - n;
        memcpy(buf + n, m->text + cl->off, k);
        n += k;
        if ((cl->off += k) == m->len) {
            cl->next_seq++;
            cl->off = 0;
        }
    }
    if (n > 0) return (ssize_t)n;
    if (cl->drop) return MHD_CONTENT_READER_END_WITH_ERROR;
    MHD_suspend_connection(cl->conn);
    cl->suspended = 1;
    return 0;
}

static void sse_free(void *cls)
{
    wk_sse_client *cl = cls;
    wk_admin *a = cl->a;
    if (cl->prev) cl->prev->next = cl->next;
    else a->clients = cl->next;
    if (cl->next) cl->next->prev = cl->prev;
    a->live.clients--;
    if (!a->clients) wk_feed_keep(a->src.feed, 0);
    ex_free(cl);
}

static void serve_stream(wk_admin *a, const ex_http_req *req, ex_http_resp *resp)
{
    wk_live_query q;
    if (read_query(a, req, &q, "", resp)) return;
    if (strcmp(req->method, "HEAD") == 0 || !req->conn) {
        ex_http_resp_set(resp, 200, SSE, "", 0);
        return;
    }
    wk_sse_client *cl = ex_calloc(1, sizeof *cl);
    if (!cl) {
        json_error(resp, 503, "out of memory for another stream client");
        return;
    }
    wk_feed *f = a->src.feed;
    if (!a->clients) wk_feed_keep(f, 1);
    *cl = (wk_sse_client){.next = a->clients, .a = a, .conn = req->conn, .next_seq = f->last + 1};
    if (a->clients) a->clients->prev = cl;
    a->clients = cl;
    a->live.clients++;
    a->live.clients_total++;
    int n = snprintf(cl->pre, sizeof cl->pre, "retry: 2000\nevent: hello\ndata: {\"inFlight\":%zu,\"seq\":%llu}\n\n",
                     a->src.reg->count, (unsigned long long)f->last);
    cl->pre_len = n > 0 && (size_t)n < sizeof cl->pre ? (size_t)n : 0;
    resp->status = 200;
    resp->content_type = SSE;
    resp->stream = (ex_http_stream){sse_read, sse_free, cl};
    ex_http_resp_header(resp, "Cache-Control", "no-store");
    ex_http_resp_header(resp, "X-Accel-Buffering", "no");
}

/* A client whose next message left the ring fell behind: counted, and
 * ended — through its reader when it waits suspended, else by shutting
 * its socket down (the server then sees it fail and closes it), since a
 * client that does not read never makes its socket writable again. */
static void drop_if_behind(wk_admin *a, wk_sse_client *cl)
{
    const wk_feed *f = a->src.feed;
    if (cl->drop || cl->closing || cl->next_seq >= f->oldest || cl->next_seq > f->last) return;
    cl->drop = 1;
    a->live.clients_dropped++;
    if (cl->suspended) return;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(cl->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci) shutdown(ci->connect_fd, SHUT_RDWR);
}

/* Wake every client that has something to do: new messages, a ping, an end. */
static void wake(wk_admin *a)
{
    const wk_feed *f = a->src.feed;
    int woke = 0;
    for (wk_sse_client *cl = a->clients; cl; cl = cl->next) {
        drop_if_behind(a, cl);
        if (!cl->suspended) continue;
        if (cl->next_seq <= f->last || cl->pre_off < cl->pre_len || cl->closing || cl->drop) {
            cl->suspended = 0;
            ex_httpd_resume(a->httpd, cl->conn);
            woke = 1;
        }
    }
    if (woke) ex_httpd_run(a->httpd);
}

static void kick_cb(uv_timer_t *t) { wake(t->data); }

static void ping_cb(uv_timer_t *t)
{
    wk_admin *a = t->data;
    for (wk_sse_client *cl = a->clients; cl; cl = cl->next) {
        if (cl->pre_off < cl->pre_len) continue;
        cl->pre_len = (size_t)snprintf(cl->pre, sizeof cl->pre, ": ping\n\n");
        cl->pre_off = 0;
    }
    wake(a);
}

void wk_admin_changed(wk_admin *a)
{
    if (!a || !a->clients || uv_is_active((uv_handle_t *)&a->kick)) return;
    uv_timer_start(&a->kick, kick_cb, 0, 0);
}

int wk_admin_live_start(wk_admin *a, uv_loop_t *loop)
{
    uv_timer_init(loop, &a->kick);
    uv_timer_init(loop, &a->ping);
    a->kick.data = a->ping.data = a;
    a->handles_open = 2;
    uv_timer_start(&a->ping, ping_cb, WK_LIVE_PING_MS, WK_LIVE_PING_MS);
    return 0;
}

void wk_admin_live_stop(wk_admin *a)
{
    uv_timer_stop(&a->kick);
    uv_timer_stop(&a->ping);
    for (wk_sse_client *cl = a->clients; cl; cl = cl->next) cl->closing = 1;
    wake(a);
}

/* ---- routing and metrics ---- */

int wk_admin_live(wk_admin *a, const ex_http_req *req, ex_http_resp *resp)
{
    size_t plen = sizeof PREFIX - 1;
    if (!a->src.reg || strncmp(req->path, PREFIX, plen) != 0 || (req->path[plen] && req->path[plen] != '/'))
        return 0;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) return 0; /* 405 as elsewhere */
    const char *rest = req->path + plen;
    if (!rest[0] || strcmp(rest, "/") == 0) {
        a->live.requests[EP_LIST]++;
        serve_list(a, req, resp);
    } else if (strcmp(rest, "/stream") == 0) {
        a->live.requests[EP_STREAM]++;
        serve_stream(a, req, resp);
    } else {
        a->live.requests[EP_DETAIL]++;
        serve_detail(a, req, rest + 1, resp);
    }
    return 1;
}

void wk_admin_live_metrics(const wk_admin *a, wk_text *t)
{
    static const char *const eps[] = {"list", "detail", "stream"};
    wk_prom_family(t, "extrace_live_requests_total", "counter", "Requests to the live API, by endpoint.");
    for (int i = 0; i < 3; i++) wk_prom_sample(t, "extrace_live_requests_total", "endpoint", eps[i], (double)a->live.requests[i]);
    wk_prom_counter(t, "extrace_live_bad_requests_total", "Live API requests answered 400 (a bad query parameter).",
                    a->live.bad_requests);
    wk_prom_counter(t, "extrace_live_not_found_total", "Live API requests for a workflow not in flight (404).",
                    a->live.not_found);
    wk_prom_gauge(t, "extrace_live_stream_clients", "Clients of /api/workflows/stream connected now.",
                  (double)a->live.clients);
    wk_prom_counter(t, "extrace_live_stream_clients_total", "Clients of /api/workflows/stream accepted.",
                    a->live.clients_total);
    wk_prom_counter(t, "extrace_live_stream_clients_dropped_total",
                    "Stream clients disconnected because they fell behind the change feed.", a->live.clients_dropped);
    wk_prom_counter(t, "extrace_live_stream_messages_total", "Changes numbered by the feed (watch, state, end).",
                    a->src.feed ? a->src.feed->messages : 0);
}
