/* ingest_http.c — OTLP/HTTP receiver (see ingest_http.h). */
#include "store/ingest_http.h"

#include <inttypes.h>
#include <malloc.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/mem.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "otel/compress.h"
#include "otel/otlp_json.h"
#include "otel/otlp_pieces.h"

/* gRPC status codes used in google.rpc.Status bodies. */
enum { CODE_INVALID_ARGUMENT = 3, CODE_RESOURCE_EXHAUSTED = 8, CODE_UNAVAILABLE = 14 };

struct sih_server {
    ex_httpd *httpd;   /* owned */
    sdb *db;           /* not owned */
    size_t max_bytes;
    ex_mem_budget *budget; /* shared with the gRPC receiver (not owned) */
    sih_stats stats;
};

static int encode_message(const ProtobufCMessage *m, int json, uint8_t **out, size_t *len)
{
    if (json) return exo_otlp_json_encode_message(m, (char **)out, len) == 0 ? 0 : -1;
    *len = protobuf_c_message_get_packed_size(m);
    if (!(*out = ex_malloc(*len ? *len : 1))) return -1;
    protobuf_c_message_pack(m, *out);
    return 0;
}

int sih_encode_response(const sdb_ingest_result *res, int json, uint8_t **out, size_t *len)
{
    exo_pb_response resp = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
    Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess partial =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
    if (res->rejected > 0) {
        partial.rejected_spans = res->rejected;
        partial.error_message = (char *)res->message;
        resp.partial_success = &partial;
    }
    return encode_message(&resp.base, json, out, len);
}

int sih_encode_status(int code, const char *message, int json, uint8_t **out, size_t *len)
{
    return sih_encode_status_retry(code, message, json, 0, out, len);
}

int sih_encode_status_retry(int code, const char *message, int json, int retry_s, uint8_t **out, size_t *len)
{
    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
    st.code = code;
    st.message = (char *)message;
    Google__Protobuf__Duration delay = GOOGLE__PROTOBUF__DURATION__INIT;
    Google__Rpc__RetryInfo ri = GOOGLE__RPC__RETRY_INFO__INIT;
    Google__Protobuf__Any any = GOOGLE__PROTOBUF__ANY__INIT, *details[1] = {&any};
    uint8_t packed[32]; /* a RetryInfo with a Duration is at most 2 + 2 + 11 + 6 bytes */
    if (retry_s > 0 && !json) {
        delay.seconds = retry_s;
        ri.retry_delay = &delay;
        any.type_url = "type.googleapis.com/google.rpc.RetryInfo";
        any.value.len = protobuf_c_message_pack(&ri.base, packed);
        any.value.data = packed;
        st.n_details = 1;
        st.details = details;
    }
    return encode_message(&st.base, json, out, len);
}

/* Answer with an HTTP error carrying a google.rpc.Status. */
static void fail(ex_http_resp *resp, int http, int code, int json, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void fail(ex_http_resp *resp, int http, int code, int json, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ex_debug("otlp-http", "%d: %s", http, msg);
    uint8_t *body;
    size_t len;
    resp->status = http;
    resp->content_type = json ? "application/json" : "application/x-protobuf";
    if (sih_encode_status(code, msg, json, &body, &len) == 0) {
        resp->body = (char *)body;
        resp->body_len = len;
    }
}

/* Whether a Content-Type names media type `want` (parameters ignored). */
static int media_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    if (strncasecmp(ct, want, n) != 0) return 0;
    ct += n;
    while (*ct == ' ' || *ct == '\t') ct++;
    return *ct == '\0' || *ct == ';';
}

/* Decompress the body if it is gzipped; *plain is either r->body or an
 * allocated copy in *owned. 0, or -1 after filling resp. */
static int unwrap(const sih_request *r, size_t max_bytes, int json, const uint8_t **plain, size_t *len,
                  uint8_t **owned, ex_http_resp *resp, sih_stats *st)
{
    *plain = (const uint8_t *)r->body;
    *len = r->body_len;
    *owned = NULL;
    const char *enc = r->content_encoding;
    if (!enc || !*enc || strcasecmp(enc, "identity") == 0) return 0;
    if (strcasecmp(enc, "gzip") != 0) {
        st->unsupported++;
        fail(resp, 415, CODE_INVALID_ARGUMENT, json, "Content-Encoding \"%.64s\": not supported (gzip or identity)",
             enc);
        return -1;
    }
    int rc = exo_gunzip((const uint8_t *)r->body, r->body_len, max_bytes, owned, len);
    if (rc == EXO_Z_ETOOBIG) {
        st->too_large++;
        fail(resp, 413, CODE_RESOURCE_EXHAUSTED, json, "gzip body: decompresses to more than %zu bytes", max_bytes);
        return -1;
    }
    if (rc != 0) {
        st->bad_request++;
        fail(resp, 400, CODE_INVALID_ARGUMENT, json, "gzip body (%zu bytes): %s", r->body_len, exo_z_strerror(rc));
        return -1;
    }
    *plain = *owned;
    return 0;
}

/* Store one piece of a request (exo_otlp_piece_fn). */
static int store_piece(void *arg, const exo_otlp_piece *p)
{
    void **a = arg; /* db, res */
    sdb_piece_base base = {p->rs_index, p->ss_index, p->span_index};
    return sdb_ingest_part(a[0], p->req, &base, a[1]);
}

int sih_store(sdb *db, const char *tenant, int json, const uint8_t *body, size_t len, sdb_ingest_result *res,
              char *err, size_t errlen)
{
    int rc;
    sdb_ingest_begin(db, tenant, res);
    if (json) {
        exo_pb_request *req = NULL;
        rc = exo_otlp_json_decode_request((const char *)body, len, &req, err, errlen);
        if (rc == EXO_OTLP_ENOMEM) snprintf(err, errlen, "out of memory");
        if (rc == 0 && sdb_ingest_part(db, req, NULL, res) != 0) rc = EXO_OTLP_ESTOPPED;
        exo_otlp_request_free(req);
    } else {
        void *arg[2] = {db, res};
        rc = exo_otlp_proto_decode_pieces(body, len, SIH_PIECE_SPANS, store_piece, arg, err, errlen);
    }
    int stored = sdb_ingest_end(db, rc == 0, res);
    /* A big request leaves freed memory in malloc's arenas: give it back
     * (measured in bench/README.md). */
    if (len >= SIH_TRIM_BYTES) malloc_trim(0);
    if (rc != 0 && rc != EXO_OTLP_ESTOPPED) return SIH_EDECODE;
    return rc == 0 && stored == 0 ? 0 : SIH_EDB;
}

void sih_export(sdb *db, size_t max_bytes, const sih_request *r, ex_http_resp *resp, sih_stats *st)
{
    const char *ct = r->content_type ? r->content_type : "";
    int json = media_is(ct, "application/json");
    if (!json && !media_is(ct, "application/x-protobuf") && !media_is(ct, "application/protobuf")) {
        st->unsupported++;
        fail(resp, 415, CODE_INVALID_ARGUMENT, 1,
             "Content-Type \"%.64s\": expected application/x-protobuf or application/json", ct);
        return;
    }
    char why[256];
    if (r->tenant && sdb_tenant_check(r->tenant, strlen(r->tenant), why, sizeof why) != 0) {
        st->bad_request++;
        fail(resp, 400, CODE_INVALID_ARGUMENT, json, "%s", why);
        return;
    }
    const uint8_t *body;
    size_t len;
    uint8_t *owned;
    if (unwrap(r, max_bytes, json, &body, &len, &owned, resp, st) != 0) return;
    char err[512];
    sdb_ingest_result res;
    int rc = sih_store(db, r->tenant, json, body, len, &res, err, sizeof err);
    ex_free(owned);
    if (rc == SIH_EDECODE) {
        st->bad_request++;
        fail(resp, 400, CODE_INVALID_ARGUMENT, json, "%s body: %s", json ? "OTLP/JSON" : "OTLP/protobuf", err);
        return;
    }
    if (rc != 0) {
        st->failed++;
        ex_error("otlp-http", "storing spans failed: %s", sdb_errmsg(db));
        fail(resp, 503, CODE_UNAVAILABLE, json, "storing spans failed: %s", sdb_errmsg(db));
        return;
    }
    if (res.rejected) {
        st->partial++;
        ex_warn("otlp-http", "rejected %lld of %lld spans: %s", (long long)res.rejected,
                (long long)(res.rejected + res.accepted), res.message);
    }
    uint8_t *out;
    size_t out_len;
    if (sih_encode_response(&res, json, &out, &out_len) != 0) {
        /* The spans are stored; an empty body still says success. */
        out = NULL;
        out_len = 0;
    }
    st->ok++;
    resp->status = 200;
    resp->content_type = json ? "application/json" : "application/x-protobuf";
    resp->body = (char *)out;
    resp->body_len = out_len;
}

void sih_log_refusal(ex_mem_budget *b, const char *who)
{
    uint64_t n = b ? ex_mbud_refusal(b) : 0;
    if (n)
        ex_warn(who,
                "request bodies in flight reached --max-inflight-bytes (%zu bytes): refused %" PRIu64
                " request(s) (429 / RESOURCE_EXHAUSTED, retry after %d s); %" PRIu64 " refused since start",
                b->limit, n, SIH_RETRY_AFTER_S, (uint64_t)b->refused);
}

void sih_throttle_message(const ex_mem_budget *b, char *out, size_t outlen)
{
    snprintf(out, outlen,
             "the store is busy: request bodies in flight would pass --max-inflight-bytes (%zu bytes); retry after "
             "%d s",
             b ? b->limit : 0, SIH_RETRY_AFTER_S);
}

void sih_throttle(ex_mem_budget *b, const char *content_type, ex_http_resp *resp)
{
    sih_log_refusal(b, "otlp-http");
    int json = content_type && media_is(content_type, "application/json");
    char msg[256];
    sih_throttle_message(b, msg, sizeof msg);
    resp->status = 429;
    resp->content_type = json ? "application/json" : "application/x-protobuf";
    uint8_t *body;
    size_t len;
    if (sih_encode_status_retry(CODE_RESOURCE_EXHAUSTED, msg, json, SIH_RETRY_AFTER_S, &body, &len) == 0) {
        resp->body = (char *)body;
        resp->body_len = len;
    }
    char secs[16];
    snprintf(secs, sizeof secs, "%d", SIH_RETRY_AFTER_S);
    ex_http_resp_header(resp, "Retry-After", secs);
}

static const char *header(const ex_http_req *req, const char *name)
{
    return req->conn ? MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name) : NULL;
}

static void handle(void *arg, const ex_http_req *req, ex_http_resp *resp)
{
    sih_server *s = arg;
    s->stats.requests++;
    if (strcmp(req->path, "/v1/traces") != 0) {
        s->stats.not_found++;
        ex_http_resp_printf(resp, 404, "application/json",
                            "{\"error\":\"not found: OTLP traces go to POST /v1/traces\"}\n");
        return;
    }
    if (strcmp(req->method, "POST") != 0) {
        s->stats.bad_method++;
        ex_http_resp_printf(resp, 405, "application/json", "{\"error\":\"method not allowed: use POST\"}\n");
        ex_http_resp_header(resp, "Allow", "POST");
        return;
    }
    if (ex_http_reject_repeated(req, "X-Scope-OrgID", resp)) {
        s->stats.bad_request++;
        return;
    }
    if (req->over_budget) {
        s->stats.throttled++;
        sih_throttle(s->budget, header(req, "Content-Type"), resp);
        return;
    }
    sih_request r = {header(req, "Content-Type"), header(req, "Content-Encoding"), header(req, "X-Scope-OrgID"),
                     req->body, req->body_len};
    sih_export(s->db, s->max_bytes, &r, resp, &s->stats);
}

sih_server *sih_start(uv_loop_t *loop, const char *listen, const ex_conn_limits *limits, size_t max_bytes,
                      ex_mem_budget *budget, sdb *db, char *err, size_t errlen)
{
    sih_server *s = ex_calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->db = db;
    s->max_bytes = max_bytes;
    s->budget = budget;
    ex_httpd_cfg cfg = {.name = "otlp-http", .limits = *limits, .max_body = max_bytes, .handler = handle, .arg = s};
    if (!(s->httpd = ex_httpd_start_with(loop, listen, &cfg, err, errlen))) {
        ex_free(s);
        return NULL;
    }
    if (budget) ex_httpd_set_budget(s->httpd, budget);
    return s;
}

int sih_port(const sih_server *s)
{
    return ex_httpd_port(s->httpd);
}

const ex_listener *sih_listener(const sih_server *s)
{
    return ex_httpd_listener(s->httpd);
}

const sih_stats *sih_get_stats(const sih_server *s)
{
    return &s->stats;
}

void sih_stop(sih_server *s)
{
    if (!s) return;
    ex_httpd_stop(s->httpd);
    ex_free(s);
}
