/* ingest_grpc.c — OTLP/gRPC receiver (see ingest_grpc.h).
 *
 * Each accepted TCP connection gets an nghttp2 server session. Bytes read
 * go to nghttp2_session_mem_recv, whose callbacks collect each stream's
 * headers and body; when a stream's request ends, the call is handled on
 * the spot (decode, store, commit) and the reply submitted; then whatever
 * nghttp2 wants to send is written with one uv_write. */
#include "store/ingest_grpc.h"

#include <nghttp2/nghttp2.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/strcopy.h"
#include "otel/compress.h"
#include "otel/otlp_json.h"
#include "otel/otlp_proto.h"
#include "store/ingest_http.h"

enum {
    GRPC_OK = 0,
    GRPC_INVALID_ARGUMENT = 3,
    GRPC_RESOURCE_EXHAUSTED = 8,
    GRPC_UNIMPLEMENTED = 12,
    GRPC_INTERNAL = 13,
    GRPC_UNAVAILABLE = 14,
};

#define MAX_STREAMS 32           /* SETTINGS_MAX_CONCURRENT_STREAMS */
#define STREAM_WINDOW (1 << 20)  /* initial per-stream receive window */
#define CONN_WINDOW (16 << 20)   /* connection receive window */
#define READ_BUF 65536

typedef struct grpc_conn grpc_conn;

/* One call (HTTP/2 stream). */
typedef struct grpc_stream {
    int32_t id;
    char path[128];                  /* :path (truncated) */
    char method[8];                  /* :method */
    char content_type[64];           /* content-type (truncated) */
    char encoding[32];               /* grpc-encoding */
    char tenant[SDB_TENANT_MAX + 1]; /* x-scope-orgid (first bytes when too long) */
    size_t tenant_len;               /* its real length */
    int has_tenant;
    int repeated_tenant;             /* x-scope-orgid came more than once */
    int in_progress;                 /* counted in the connection's calls_in_progress */
    uint8_t *body;                   /* request bytes (owned), at most max_bytes + 5 */
    size_t len, cap;
    size_t taken;                    /* bytes of the memory budget held for body */
    int too_big;                     /* more than max_bytes + 5 arrived: body dropped */
    int over_budget;                 /* the memory budget could not hold the body: dropped */
    uint8_t *reply;                  /* framed response message (owned) */
    size_t reply_len, reply_off;
    char status[12];                 /* grpc-status for the trailers */
    char message[512];               /* percent-encoded grpc-message, "" for none */
    grpc_conn *conn;
    struct grpc_stream *prev, *next; /* the connection's streams */
} grpc_stream;

struct grpc_conn {
    uv_tcp_t tcp;
    ex_conn_slot *slot;              /* the listener's, released at close */
    int calls_in_progress;           /* streams begun whose request has not ended */
    nghttp2_session *session;        /* owned */
    sig_server *srv;
    grpc_stream *streams;            /* open streams (owned) */
    grpc_conn *prev, *next;          /* the server's connections */
    int closing;                     /* uv_close called */
    int finishing;                   /* uv_shutdown called: close once written */
    uint8_t rbuf[READ_BUF];
};

struct sig_server {
    ex_listener *listener;           /* owned; NULL once stopped */
    uv_loop_t *loop;
    sdb *db;                         /* not owned */
    size_t max_bytes;
    ex_mem_budget *budget;           /* shared with the HTTP receiver (not owned; NULL: none) */
    grpc_conn *conns;
    int handles;                     /* open connection handles */
    int stopping;
    int port;
    sig_stats stats;
};

typedef struct write_req {
    uv_write_t req;
    uint8_t *data;                   /* owned */
} write_req;

static void conn_close(grpc_conn *c);
static void conn_finish(grpc_conn *c);

static void server_release(sig_server *s)
{
    if (--s->handles == 0 && s->stopping) ex_free(s);
}

/* A call began or ended: the connection's deadline is the body's while a
 * call is in progress, else the idle one until the next call. */
static void call_progress(grpc_stream *st, int begun)
{
    grpc_conn *c = st->conn;
    if (begun == st->in_progress) return;
    st->in_progress = begun;
    c->calls_in_progress += begun ? 1 : -1;
    ex_listener_phase(c->slot, c->calls_in_progress ? EX_PHASE_BODY : EX_PHASE_IDLE);
}

/* ---- output ------------------------------------------------------------ */

static void write_cb(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    ex_free(w->data);
    ex_free(w);
}

/* Write everything nghttp2 has queued. 0 or -1 (the connection is
 * closed). */
static int flush(grpc_conn *c)
{
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(c->session, &data);
        if (n < 0) {
            ex_free(buf);
            ex_warn("otlp-grpc", "HTTP/2 send error: %s", nghttp2_strerror((int)n));
            conn_close(c);
            return -1;
        }
        if (n == 0) break;
        if (len + (size_t)n > cap) {
            size_t nc = cap ? cap * 2 : 16384;
            while (nc < len + (size_t)n) nc *= 2;
            uint8_t *p = ex_realloc(buf, nc);
            if (!p) {
                ex_free(buf);
                conn_close(c);
                return -1;
            }
            buf = p;
            cap = nc;
        }
        memcpy(buf + len, data, (size_t)n);
        len += (size_t)n;
    }
    if (len) {
        write_req *w = ex_malloc(sizeof *w);
        uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
        if (!w || uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
            ex_free(w);
            ex_free(buf);
            conn_close(c);
            return -1;
        }
        w->data = buf;
    }
    if (!nghttp2_session_want_read(c->session) && !nghttp2_session_want_write(c->session)) conn_finish(c);
    return 0;
}

/* ---- replies ----------------------------------------------------------- */

size_t sig_encode_message(const char *in, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        int plain = *p >= 0x20 && *p <= 0x7e && *p != '%';
        size_t need = plain ? 1 : 3;
        if (o + need + 1 > outlen) break;
        if (plain) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    if (outlen) out[o] = '\0';
    return o;
}

#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}

/* Trailers-only reply with a gRPC error. */
static void reply_error(grpc_stream *st, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void reply_error(grpc_stream *st, int code, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ex_debug("otlp-grpc", "stream %d: grpc-status %d: %s", (int)st->id, code, msg);
    sig_stats *s = &st->conn->srv->stats;
    if (code == GRPC_RESOURCE_EXHAUSTED) s->too_large++;
    else if (code == GRPC_UNIMPLEMENTED) s->unimplemented++;
    else if (code == GRPC_UNAVAILABLE) s->failed++;
    else s->invalid++;
    snprintf(st->status, sizeof st->status, "%d", code);
    sig_encode_message(msg, st->message, sizeof st->message);
    nghttp2_nv hdrs[] = {NV(":status", "200"), NV("content-type", "application/grpc"), NV("grpc-status", st->status),
                         NV("grpc-message", st->message)};
    nghttp2_submit_response(st->conn->session, st->id, hdrs, 4, NULL);
}

/* Feeds the framed response, then asks for trailers. */
static ssize_t reply_read_cb(nghttp2_session *session, int32_t id, uint8_t *buf, size_t length, uint32_t *flags,
                             nghttp2_data_source *source, void *user_data)
{
    grpc_stream *st = source->ptr;
    size_t n = st->reply_len - st->reply_off;
    if (n > length) n = length;
    memcpy(buf, st->reply + st->reply_off, n);
    st->reply_off += n;
    if (st->reply_off == st->reply_len) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        nghttp2_nv trailers[] = {NV("grpc-status", st->status)};
        if (nghttp2_submit_trailer(session, id, trailers, 1) != 0) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return (ssize_t)n;
}

static void reply_ok(grpc_stream *st, const sdb_ingest_result *res)
{
    uint8_t *msg = NULL;
    size_t len;
    if (sih_encode_response(res, 0, &msg, &len) != 0 || exo_grpc_frame(msg, len, 0, &st->reply, &st->reply_len) != 0) {
        if (msg) ex_free(msg);
        /* Stored already: say so without a body would break the unary
         * contract, so report the memory failure instead. */
        reply_error(st, GRPC_UNAVAILABLE, "out of memory encoding the reply (the spans were stored)");
        return;
    }
    ex_free(msg);
    snprintf(st->status, sizeof st->status, "%d", GRPC_OK);
    nghttp2_nv hdrs[] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                         NV("grpc-accept-encoding", "identity,gzip")};
    nghttp2_data_provider dp = {.source.ptr = st, .read_callback = reply_read_cb};
    nghttp2_submit_response(st->conn->session, st->id, hdrs, 3, &dp);
}

/* RESOURCE_EXHAUSTED for a body the memory budget refused, with the
 * google.rpc.RetryInfo OTLP exporters need before they retry that code
 * (grpc-status-details-bin). */
static void reply_throttled(grpc_stream *st)
{
    sig_server *srv = st->conn->srv;
    srv->stats.throttled++;
    sih_log_refusal(srv->budget, "otlp-grpc");
    char msg[256];
    sih_throttle_message(srv->budget, msg, sizeof msg);
    snprintf(st->status, sizeof st->status, "%d", GRPC_RESOURCE_EXHAUSTED);
    sig_encode_message(msg, st->message, sizeof st->message);
    uint8_t *status = NULL;
    size_t len = 0;
    char details[512] = "";
    if (sih_encode_status_retry(GRPC_RESOURCE_EXHAUSTED, msg, 0, SIH_RETRY_AFTER_S, &status, &len) == 0 &&
        4 * ((len + 2) / 3) < sizeof details) {
        exo_b64_encode(status, len, details);
        /* gRPC wants binary headers unpadded. */
        details[strcspn(details, "=")] = '\0';
    }
    ex_free(status);
    nghttp2_nv hdrs[] = {NV(":status", "200"), NV("content-type", "application/grpc"), NV("grpc-status", st->status),
                         NV("grpc-message", st->message), NV("grpc-status-details-bin", details)};
    nghttp2_submit_response(st->conn->session, st->id, hdrs, details[0] ? 5 : 4, NULL);
}

/* Free the body and give its bytes back to the budget. */
static void drop_body(grpc_stream *st)
{
    ex_free(st->body);
    st->body = NULL;
    st->len = st->cap = 0;
    ex_mbud_give(st->conn->srv->budget, st->taken);
    st->taken = 0;
}

/* ---- handling a call ----------------------------------------------------- */

/* The request message of st, decompressed if needed, in *msg (pointing into
 * st->body or allocated in *owned). 0, or -1 after replying. */
static int request_message(grpc_stream *st, size_t max, const uint8_t **msg, size_t *len, uint8_t **owned)
{
    int compressed = 0;
    size_t consumed = 0;
    *owned = NULL;
    int rc = exo_grpc_unframe(st->body ? st->body : (const uint8_t *)"", st->len, max, msg, len, &compressed,
                              &consumed);
    if (rc == EXO_OTLP_ETOOBIG) {
        reply_error(st, GRPC_RESOURCE_EXHAUSTED, "message larger than %zu bytes", max);
        return -1;
    }
    if (rc != 0) {
        reply_error(st, GRPC_INVALID_ARGUMENT, "%s (%zu bytes received)",
                    rc == EXO_OTLP_EINCOMPLETE ? "truncated or missing gRPC message" : "bad gRPC message flag",
                    st->len);
        return -1;
    }
    if (consumed != st->len) {
        reply_error(st, GRPC_INVALID_ARGUMENT, "more than one message in a unary call");
        return -1;
    }
    if (!compressed) return 0;
    if (!st->encoding[0] || strcasecmp(st->encoding, "identity") == 0) {
        reply_error(st, GRPC_INTERNAL, "compressed message without grpc-encoding");
        return -1;
    }
    if (strcasecmp(st->encoding, "gzip") != 0) {
        reply_error(st, GRPC_UNIMPLEMENTED, "grpc-encoding \"%s\" is not supported (identity, gzip)", st->encoding);
        return -1;
    }
    rc = exo_gunzip(*msg, *len, max, owned, len);
    if (rc == EXO_Z_ETOOBIG) {
        reply_error(st, GRPC_RESOURCE_EXHAUSTED, "message decompresses to more than %zu bytes", max);
        return -1;
    }
    if (rc != 0) {
        reply_error(st, GRPC_INVALID_ARGUMENT, "gzip message: %s", exo_z_strerror(rc));
        return -1;
    }
    *msg = *owned;
    return 0;
}

/* Check the call's headers; 0, or -1 after replying. */
static int check_call(grpc_stream *st)
{
    if (strncasecmp(st->content_type, "application/grpc", 16) != 0) {
        st->conn->srv->stats.unimplemented++;
        nghttp2_nv hdrs[] = {NV(":status", "415"), NV("content-type", "text/plain")};
        nghttp2_submit_response(st->conn->session, st->id, hdrs, 2, NULL);
        return -1;
    }
    if (strcmp(st->method, "POST") != 0) {
        reply_error(st, GRPC_UNIMPLEMENTED, "method %s: gRPC calls are POST", st->method);
        return -1;
    }
    if (strcmp(st->path, EXO_OTLP_GRPC_PATH) != 0) {
        reply_error(st, GRPC_UNIMPLEMENTED, "unknown method %s (this server has %s)", st->path, EXO_OTLP_GRPC_PATH);
        return -1;
    }
    char why[256];
    if (st->repeated_tenant) {
        reply_error(st, GRPC_INVALID_ARGUMENT, "x-scope-orgid came more than once; send exactly one tenant");
        return -1;
    }
    if (st->has_tenant && sdb_tenant_check(st->tenant, st->tenant_len, why, sizeof why) != 0) {
        reply_error(st, GRPC_INVALID_ARGUMENT, "%s", why);
        return -1;
    }
    if (st->too_big) {
        reply_error(st, GRPC_RESOURCE_EXHAUSTED, "message larger than %zu bytes", st->conn->srv->max_bytes);
        return -1;
    }
    if (st->over_budget) {
        reply_throttled(st);
        return -1;
    }
    return 0;
}

static void handle_call(grpc_stream *st)
{
    sig_server *srv = st->conn->srv;
    srv->stats.calls++;
    call_progress(st, 0);
    if (check_call(st) != 0) return;
    const uint8_t *msg;
    size_t len;
    uint8_t *owned;
    if (request_message(st, srv->max_bytes, &msg, &len, &owned) != 0) return;
    char err[512];
    sdb_ingest_result res;
    int rc = sih_store(srv->db, st->has_tenant ? st->tenant : NULL, 0, msg, len, &res, err, sizeof err);
    ex_free(owned);
    if (rc == SIH_EDECODE) {
        reply_error(st, GRPC_INVALID_ARGUMENT, "ExportTraceServiceRequest: %s", err);
        return;
    }
    if (rc != 0) {
        ex_error("otlp-grpc", "storing spans failed: %s", sdb_errmsg(srv->db));
        reply_error(st, GRPC_UNAVAILABLE, "storing spans failed: %s", sdb_errmsg(srv->db));
        return;
    }
    if (res.rejected) {
        srv->stats.partial++;
        ex_warn("otlp-grpc", "rejected %lld of %lld spans: %s", (long long)res.rejected,
                (long long)(res.rejected + res.accepted), res.message);
    }
    srv->stats.ok++;
    drop_body(st);
    reply_ok(st, &res);
}

/* ---- nghttp2 callbacks ---------------------------------------------------- */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    grpc_conn *c = user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    grpc_stream *st = ex_calloc(1, sizeof *st);
    if (!st) return NGHTTP2_ERR_CALLBACK_FAILURE;
    st->id = frame->hd.stream_id;
    st->conn = c;
    st->next = c->streams;
    if (c->streams) c->streams->prev = st;
    c->streams = st;
    nghttp2_session_set_stream_user_data(session, st->id, st);
    call_progress(st, 1);
    return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *user_data)
{
    grpc_stream *st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!st || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
#define IS(s) (namelen == sizeof(s) - 1 && memcmp(name, s, namelen) == 0)
    if (IS(":path")) ex_copy_cut(st->path, sizeof st->path, value, valuelen);
    else if (IS(":method")) ex_copy_cut(st->method, sizeof st->method, value, valuelen);
    else if (IS("content-type")) ex_copy_cut(st->content_type, sizeof st->content_type, value, valuelen);
    else if (IS("grpc-encoding")) ex_copy_cut(st->encoding, sizeof st->encoding, value, valuelen);
    else if (IS("x-scope-orgid")) {
        st->repeated_tenant |= st->has_tenant;
        st->has_tenant = 1;
        st->tenant_len = valuelen;
        ex_copy_cut(st->tenant, sizeof st->tenant, value, valuelen);
    }
#undef IS
    return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                         void *user_data)
{
    grpc_stream *st = nghttp2_session_get_stream_user_data(session, id);
    if (!st || st->too_big || st->over_budget) return 0;
    size_t limit = st->conn->srv->max_bytes + 5;
    if (st->len + len > limit) {
        /* Keep reading (flow control is nghttp2's) but drop the bytes. */
        st->too_big = 1;
        drop_body(st);
        return 0;
    }
    if (st->len + len > st->cap) {
        size_t cap = st->cap ? st->cap : 16384;
        while (cap < st->len + len) cap *= 2;
        if (cap > limit) cap = limit;
        if (cap > st->taken) {
            if (ex_mbud_take(st->conn->srv->budget, cap - st->taken) != 0) {
                st->over_budget = 1; /* answered when the call ends */
                drop_body(st);
                return 0;
            }
            st->taken = cap;
        }
        uint8_t *p = ex_realloc(st->body, cap);
        if (!p) return NGHTTP2_ERR_CALLBACK_FAILURE;
        st->body = p;
        st->cap = cap;
    }
    memcpy(st->body + st->len, data, len);
    st->len += len;
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    if ((frame->hd.type != NGHTTP2_DATA && frame->hd.type != NGHTTP2_HEADERS) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    grpc_stream *st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (st) handle_call(st);
    return 0;
}

static void stream_free(grpc_stream *st)
{
    grpc_conn *c = st->conn;
    call_progress(st, 0);
    if (st->prev) st->prev->next = st->next;
    else c->streams = st->next;
    if (st->next) st->next->prev = st->prev;
    drop_body(st);
    ex_free(st->reply);
    ex_free(st);
}

static int on_stream_close(nghttp2_session *session, int32_t id, uint32_t error_code, void *user_data)
{
    grpc_stream *st = nghttp2_session_get_stream_user_data(session, id);
    if (st) {
        nghttp2_session_set_stream_user_data(session, id, NULL);
        stream_free(st);
    }
    return 0;
}

/* ---- connections ---------------------------------------------------------- */

static void conn_closed_cb(uv_handle_t *h)
{
    grpc_conn *c = h->data;
    sig_server *s = c->srv;
    while (c->streams) stream_free(c->streams);
    nghttp2_session_del(c->session);
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    ex_listener_release(c->slot);
    ex_free(c);
    server_release(s);
}

static void conn_close(grpc_conn *c)
{
    if (c->closing) return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    grpc_conn *c = req->data;
    ex_free(req);
    conn_close(c);
}

/* Close once the queued writes are out (uv_shutdown waits for them). */
static void conn_finish(grpc_conn *c)
{
    if (c->closing || c->finishing) return;
    c->finishing = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_shutdown_t *req = ex_malloc(sizeof *req);
    if (req) req->data = c;
    if (!req || uv_shutdown(req, (uv_stream_t *)&c->tcp, shutdown_cb) != 0) {
        ex_free(req);
        conn_close(c);
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    grpc_conn *c = h->data;
    *buf = uv_buf_init((char *)c->rbuf, sizeof c->rbuf);
}

static void read_cb(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
    grpc_conn *c = stream->data;
    if (n == 0) return;
    if (n < 0) {
        conn_close(c);
        return;
    }
    ssize_t rc = nghttp2_session_mem_recv(c->session, (const uint8_t *)buf->base, (size_t)n);
    if (rc < 0) {
        c->srv->stats.protocol_errors++;
        ex_debug("otlp-grpc", "HTTP/2 error from a client: %s", nghttp2_strerror((int)rc));
        /* nghttp2 may have queued a GOAWAY explaining it: send, then close. */
        if (flush(c) == 0) conn_finish(c);
        return;
    }
    flush(c);
}

static int session_new(grpc_conn *c)
{
    nghttp2_session_callbacks *cbs;
    if (nghttp2_session_callbacks_new(&cbs) != 0) return -1;
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    int rc = nghttp2_session_server_new(&c->session, cbs, c);
    nghttp2_session_callbacks_del(cbs);
    if (rc != 0) return -1;
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW}};
    if (nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 2) != 0 ||
        nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW) != 0)
        return -1;
    return 0;
}

static void on_accept(void *arg, int fd, const struct sockaddr *sa, socklen_t salen, ex_conn_slot *slot)
{
    sig_server *s = arg;
    grpc_conn *c = ex_calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        ex_listener_release(slot);
        return;
    }
    c->srv = s;
    c->slot = slot;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    s->handles++;
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    if (uv_tcp_open(&c->tcp, fd) != 0) {
        close(fd);
        conn_close(c);
        return;
    }
    if (session_new(c) != 0) {
        conn_close(c);
        return;
    }
    s->stats.connections++;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    flush(c);
}

/* ---- server ------------------------------------------------------------------ */

/* What a refused connection reads: the server's SETTINGS, then GOAWAY
 * (last stream 0, ENHANCE_YOUR_CALM, "too many connections"). */
static const char refusal[] = "\x00\x00\x00\x04\x00\x00\x00\x00\x00"
                              "\x00\x00\x1c\x07\x00\x00\x00\x00\x00"
                              "\x00\x00\x00\x00\x00\x00\x00\x0b"
                              "too many connections";

sig_server *sig_start(uv_loop_t *loop, const char *listen, const ex_conn_limits *limits, size_t max_bytes,
                      ex_mem_budget *budget, sdb *db, char *err, size_t errlen)
{
    sig_server *s = ex_calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->loop = loop;
    s->db = db;
    s->max_bytes = max_bytes;
    s->budget = budget;
    ex_listener_cfg lc = {"otlp-grpc", "", *limits, refusal, sizeof refusal - 1, on_accept, s};
    if (!(s->listener = ex_listener_start(loop, listen, &lc, err, errlen))) {
        ex_free(s);
        return NULL;
    }
    s->port = ex_listener_port(s->listener);
    return s;
}

const ex_listener *sig_listener(const sig_server *s)
{
    return s->listener;
}

int sig_port(const sig_server *s)
{
    return s->port;
}

const sig_stats *sig_get_stats(const sig_server *s)
{
    return &s->stats;
}

void sig_stop(sig_server *s)
{
    if (!s) return;
    s->stopping = 1;
    ex_listener_stop(s->listener);
    s->listener = NULL;
    for (grpc_conn *c = s->conns; c; c = c->next) {
        if (c->closing || c->finishing) continue;
        nghttp2_session_terminate_session(c->session, NGHTTP2_NO_ERROR);
        if (flush(c) == 0) conn_finish(c);
    }
    if (s->handles == 0) ex_free(s);
}
