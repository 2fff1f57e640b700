/* query_api.c — routing of Tempo's query API, trace by id, and the small
 * endpoints (otlp-tempo.md §4). Search is in query_search.c, tags in
 * query_tags.c. */
#include "store/query_api.h"

#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/mem.h"
#include "store/query_int.h"
#include "tempopb/tempo.pb-c.h"

#ifndef EXTRACE_VERSION
#define EXTRACE_VERSION "0.0.0"
#endif

#define LOG "query"
#define ALLOW "GET, HEAD"

sq_ctx *sq_ctx_new(sdb *db)
{
    sq_ctx *ctx = ex_calloc(1, sizeof *ctx);
    if (ctx) ctx->db = db;
    return ctx;
}

void sq_ctx_free(sq_ctx *ctx) { ex_free(ctx); }

void sq_ctx_set_limits(sq_ctx *ctx, const sq_limits *lim) { ctx->lim = *lim; }

void sq_work_start(sq_work *w, const sq_ctx *ctx, int64_t now_ns)
{
    memset(w, 0, sizeof *w);
    w->lim = ctx->lim;
    w->started_ns = now_ns;
}

int sq_work_add(sq_work *w, uint64_t n, int64_t now_ns)
{
    w->bytes += n;
    if (w->lim.max_bytes && w->bytes >= w->lim.max_bytes)
        snprintf(w->stopped, sizeof w->stopped, "--query-max-bytes %" PRIu64 ": read %" PRIu64 " bytes of spans",
                 w->lim.max_bytes, w->bytes);
    else if (w->lim.max_duration_ns && now_ns - w->started_ns >= w->lim.max_duration_ns)
        snprintf(w->stopped, sizeof w->stopped, "--query-timeout %" PRId64 "ms: ran %" PRId64 "ms",
                 w->lim.max_duration_ns / EX_NS_PER_MS, (now_ns - w->started_ns) / EX_NS_PER_MS);
    return w->stopped[0] != '\0';
}

void sq_work_report(sq_ctx *ctx, const sq_work *w, ex_http_resp *resp)
{
    if (!w->stopped[0]) return;
    ctx->stats.limited++;
    ex_debug("query", "answered with partial results: %s", w->stopped);
    ex_http_resp_header(resp, "X-Extrace-Limit", w->stopped);
}

const sq_stats *sq_ctx_stats(const sq_ctx *ctx) { return &ctx->stats; }

/* ---- answers ------------------------------------------------------------ */

static void count_status(sq_ctx *ctx, int status)
{
    if (status == 400) ctx->stats.bad_requests++;
    else if (status == 404) ctx->stats.not_found++;
    else if (status >= 500) ctx->stats.failures++;
}

int sq_reply_text(sq_ctx *ctx, ex_http_resp *resp, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    count_status(ctx, status);
    if (status >= 500) ex_warn(LOG, "answering %d: %s", status, msg);
    else if (status == 400) ex_debug(LOG, "bad request: %s", msg);
    ex_http_resp_printf(resp, status, "text/plain; charset=utf-8", "%s\n", msg);
    return 1;
}

int sq_reply_buf(sq_ctx *ctx, ex_http_resp *resp, sq_buf *b, const char *content_type)
{
    int failed = b->failed;
    size_t len = 0;
    char *body = sqb_take(b, &len);
    sqb_free(b);
    if (!body)
        return sq_reply_text(ctx, resp, 500, failed == SQB_TOOBIG ? "response larger than %u bytes"
                                                                    : "out of memory building the response (%u)",
                             SQ_RESPONSE_MAX);
    resp->status = 200;
    resp->content_type = content_type;
    resp->body = body;
    resp->body_len = len;
    return 1;
}

/* A printable, shortened copy of a user value for messages. */
static const char *shown(const char *s, char *buf, size_t buflen)
{
    size_t o = 0;
    for (; *s && o + 5 < buflen; s++) {
        unsigned char c = (unsigned char)*s;
        if (o >= 120) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c != 0x7f) buf[o++] = (char)c;
        else o += (size_t)snprintf(buf + o, buflen - o, "\\x%02x", c);
    }
    buf[o] = '\0';
    return buf;
}

/* ---- requests ----------------------------------------------------------- */

const char *sq_arg(const sq_request *req, const char *name)
{
    return req->query ? req->query(req->arg, name) : NULL;
}

const char *sq_header(const sq_request *req, const char *name)
{
    return req->header ? req->header(req->arg, name) : NULL;
}

int sq_time_arg(sq_ctx *ctx, const sq_request *req, ex_http_resp *resp, const char *name, int end_of_second,
                int64_t *ns)
{
    const char *v = sq_arg(req, name);
    *ns = 0;
    if (!v || !*v) return 0;
    char *end = NULL;
    char buf[160];
    errno = 0;
    long long s = strtoll(v, &end, 10);
    if (errno || end == v || *end || s < 0 || s > INT64_C(9000000000)) {
        sq_reply_text(ctx, resp, 400, "%s=\"%s\": expected unix seconds (an integer from 0 to 9000000000)", name,
                      shown(v, buf, sizeof buf));
        return -1;
    }
    /* 0 is "not given", as in Tempo (start=0&end=0 asks for any time). */
    if (s == 0) return 0;
    *ns = (int64_t)s * INT64_C(1000000000) + (end_of_second ? INT64_C(999999999) : 0);
    return 1;
}

/* ---- trace ids ---------------------------------------------------------- */

int sq_trace_id_parse(const char *s, uint8_t out[16], char *why, size_t whylen)
{
    char buf[160];
    size_t n = strlen(s);
    if (n == 0) {
        snprintf(why, whylen, "trace id \"\": expected 1 to 32 hex digits");
        return -1;
    }
    if (n > 32) {
        snprintf(why, whylen, "trace id \"%s\": longer than 32 hex digits", shown(s, buf, sizeof buf));
        return -1;
    }
    char padded[33];
    memset(padded, '0', 32 - n);
    memcpy(padded + 32 - n, s, n);
    for (size_t i = 0; i < 16; i++) {
        int hi = ex_hex_digit(padded[2 * i]), lo = ex_hex_digit(padded[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            snprintf(why, whylen, "trace id \"%s\": not hexadecimal", shown(s, buf, sizeof buf));
            return -1;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* ---- trace by id ---------------------------------------------------------- */

int sq_trace_json(const exo_pb_traces_data *td, int version, uint64_t inspected_bytes, char **out, size_t *out_len)
{
    sq_buf b;
    sqb_init(&b, SQ_RESPONSE_MAX);
    sqb_lit(&b, version == 1 ? "{\"batches\":[" : "{\"trace\":{\"resourceSpans\":[");
    for (size_t i = 0; i < td->n_resource_spans; i++) {
        if (i) sqb_raw(&b, ",", 1);
        sq_pb_json(&b, &td->resource_spans[i]->base);
    }
    sqb_lit(&b, "]}");
    if (version != 1) {
        if (inspected_bytes) sqb_printf(&b, ",\"metrics\":{\"inspectedBytes\":\"%llu\"}", (unsigned long long)inspected_bytes);
        sqb_lit(&b, "}");
    }
    *out = sqb_take(&b, out_len);
    sqb_free(&b);
    return *out ? 0 : -1;
}

int sq_trace_proto(const exo_pb_traces_data *td, int version, uint64_t inspected_bytes, uint8_t **out,
                   size_t *out_len)
{
    Tempopb__Trace trace = TEMPOPB__TRACE__INIT;
    Tempopb__TraceByIDMetrics metrics = TEMPOPB__TRACE_BY_IDMETRICS__INIT;
    Tempopb__TraceByIDResponse reply = TEMPOPB__TRACE_BY_IDRESPONSE__INIT;
    trace.n_resource_spans = td->n_resource_spans;
    trace.resource_spans = td->resource_spans;
    const ProtobufCMessage *m = &trace.base;
    if (version != 1) {
        metrics.inspected_bytes = inspected_bytes;
        reply.trace = &trace;
        reply.metrics = &metrics;
        m = &reply.base;
    }
    size_t n = protobuf_c_message_get_packed_size(m);
    *out = ex_malloc(n ? n : 1);
    if (!*out) return -1;
    *out_len = protobuf_c_message_pack(m, *out);
    return 0;
}

/* Whether the client asked for protobuf (Grafana's backend does). */
static int wants_protobuf(const sq_request *req)
{
    const char *accept = sq_header(req, "Accept");
    return accept && (strstr(accept, "application/protobuf") || strstr(accept, "application/x-protobuf"));
}

static int trace_by_id(sq_ctx *ctx, const sq_request *req, const char *tenant, const char *id, int version,
                       ex_http_resp *resp)
{
    uint8_t tid[16];
    char why[256];
    if (sq_trace_id_parse(id, tid, why, sizeof why) < 0) return sq_reply_text(ctx, resp, 400, "%s", why);
    int64_t start = 0, end = 0;
    if (sq_time_arg(ctx, req, resp, "start", 0, &start) < 0 || sq_time_arg(ctx, req, resp, "end", 1, &end) < 0)
        return 1;
    sdb_trace *t = NULL;
    int rc = sdb_trace_get(ctx->db, tenant, tid, &t);
    if (rc < 0) return sq_reply_text(ctx, resp, 500, "reading trace %s: %s", id, sdb_errmsg(ctx->db));
    /* start/end (unix seconds) narrow the search as in Tempo: a trace
     * entirely outside them is not found. */
    if (rc == 1 && ((start && t->summary.end_ns < start) || (end && t->summary.start_ns > end))) rc = 0;
    if (rc == 0) {
        sdb_trace_free(t);
        return sq_reply_text(ctx, resp, 404, "trace not found: %s", id);
    }
    uint64_t inspected = protobuf_c_message_get_packed_size(&t->data->base);
    int ok;
    if (wants_protobuf(req)) {
        uint8_t *body = NULL;
        size_t len = 0;
        ok = sq_trace_proto(t->data, version, inspected, &body, &len) == 0;
        if (ok) ex_http_resp_set(resp, 200, "application/protobuf", (const char *)body, len);
        ex_free(body);
    } else {
        char *body = NULL;
        size_t len = 0;
        ok = sq_trace_json(t->data, version, inspected, &body, &len) == 0;
        if (ok) {
            resp->status = 200;
            resp->content_type = "application/json";
            resp->body = body;
            resp->body_len = len;
        }
    }
    sdb_trace_free(t);
    if (!ok) return sq_reply_text(ctx, resp, 500, "trace %s: out of memory or larger than %u bytes", id, SQ_RESPONSE_MAX);
    return 1;
}

/* ---- small endpoints -------------------------------------------------------- */

/* __DATE__ ("Jul  5 2024") and __TIME__ as ISO 8601. */
static void build_date(char *out, size_t outlen)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const char *d = __DATE__;
    const char *m = strstr(months, (char[4]){d[0], d[1], d[2], 0});
    int month = m ? (int)(m - months) / 3 + 1 : 0;
    snprintf(out, outlen, "%.4s-%02d-%02dT%sZ", d + 7, month, atoi(d + 4), __TIME__);
}

static int buildinfo(sq_ctx *ctx, ex_http_resp *resp)
{
    char date[40];
    build_date(date, sizeof date);
    sq_buf b;
    sqb_init(&b, 4096);
    sqb_lit(&b, "{\"version\":");
    sqb_jstr(&b, EXTRACE_VERSION);
#ifdef EXTRACE_REVISION
    sqb_lit(&b, ",\"revision\":");
    sqb_jstr(&b, EXTRACE_REVISION);
#else
    sqb_lit(&b, ",\"revision\":\"unknown\"");
#endif
    sqb_lit(&b, ",\"branch\":\"unknown\",\"buildDate\":");
    sqb_jstr(&b, date);
    sqb_lit(&b, ",\"buildUser\":\"unknown\",\"goVersion\":");
    sqb_jstr(&b, "none (extrace is C11; compiler " __VERSION__ ")");
    sqb_lit(&b, "}");
    return sq_reply_buf(ctx, resp, &b, "application/json");
}

/* ---- routing ---------------------------------------------------------------- */

/* If path is prefix + X + suffix with a non-empty X, copy X. X may hold
 * '/' only when slash is set (a tag name: the path arrives decoded, and
 * Grafana sends a tag such as "http/route" as "http%2Froute"). */
static int match_middle(const char *path, const char *prefix, const char *suffix, int slash, char *out, size_t outlen)
{
    size_t pl = strlen(prefix), sl = strlen(suffix), n = strlen(path);
    if (n < pl + sl || strncmp(path, prefix, pl) != 0 || strcmp(path + n - sl, suffix) != 0) return 0;
    size_t mid = n - pl - sl;
    if (mid >= outlen || (!slash && memchr(path + pl, '/', mid))) return 0;
    memcpy(out, path + pl, mid);
    out[mid] = '\0';
    return 1;
}

typedef enum {
    R_NONE, R_TRACE_V1, R_TRACE_V2, R_SEARCH, R_TAGS_V1, R_TAGS_V2, R_VALUES_V1, R_VALUES_V2, R_ECHO, R_READY,
    R_BUILDINFO, R_UI_WORKFLOWS, R_METRICS_RANGE, R_METRICS_INSTANT, R_METRICS_SUMMARY,
} route_id;

/* Which route path is; `param` gets the trace id or tag name. */
static route_id classify(const char *path, char *param, size_t plen)
{
    static const struct { const char *path; route_id id; } exact[] = {
        {"/api/search", R_SEARCH}, {"/api/search/", R_SEARCH}, {"/api/search/tags", R_TAGS_V1},
        {"/api/v2/search/tags", R_TAGS_V2}, {"/api/echo", R_ECHO}, {"/ready", R_READY},
        {"/api/status/buildinfo", R_BUILDINFO}, {"/api/ui/workflows", R_UI_WORKFLOWS},
        {"/api/metrics/query_range", R_METRICS_RANGE}, {"/api/metrics/query", R_METRICS_INSTANT},
        {"/api/metrics/summary", R_METRICS_SUMMARY},
    };
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (strcmp(path, exact[i].path) == 0) return exact[i].id;
    if (match_middle(path, "/api/traces/", "", 0, param, plen)) return R_TRACE_V1;
    if (strcmp(path, "/api/traces/") == 0) { param[0] = '\0'; return R_TRACE_V1; }
    if (match_middle(path, "/api/v2/traces/", "", 0, param, plen)) return R_TRACE_V2;
    if (strcmp(path, "/api/v2/traces/") == 0) { param[0] = '\0'; return R_TRACE_V2; }
    if (match_middle(path, "/api/search/tag/", "/values", 1, param, plen)) return R_VALUES_V1;
    if (match_middle(path, "/api/v2/search/tag/", "/values", 1, param, plen)) return R_VALUES_V2;
    return R_NONE;
}

static int dispatch(sq_ctx *ctx, const sq_request *req, route_id r, const char *param, ex_http_resp *resp)
{
    if (r == R_ECHO || r == R_READY) {
        const char *body = r == R_ECHO ? "echo" : "ready";
        if (ex_http_resp_set(resp, 200, "text/plain; charset=utf-8", body, strlen(body)) < 0)
            return sq_reply_text(ctx, resp, 500, "out of memory");
        return 1;
    }
    if (r == R_BUILDINFO) return buildinfo(ctx, resp);
    /* Every data route is per tenant (X-Scope-OrgID, as on ingest). */
    const char *tenant = sq_header(req, "X-Scope-OrgID");
    if (tenant && !*tenant) tenant = NULL;
    char why[256];
    if (tenant && sdb_tenant_check(tenant, strlen(tenant), why, sizeof why) < 0)
        return sq_reply_text(ctx, resp, 400, "X-Scope-OrgID: %s", why);
    switch (r) {
    case R_TRACE_V1: return trace_by_id(ctx, req, tenant, param, 1, resp);
    case R_TRACE_V2: return trace_by_id(ctx, req, tenant, param, 2, resp);
    case R_SEARCH: return sq_search(ctx, req, tenant, resp);
    case R_TAGS_V1: return sq_search_tags(ctx, req, tenant, 0, resp);
    case R_TAGS_V2: return sq_search_tags(ctx, req, tenant, 1, resp);
    case R_VALUES_V1: return sq_tag_values(ctx, req, tenant, param, 0, resp);
    case R_VALUES_V2: return sq_tag_values(ctx, req, tenant, param, 1, resp);
    case R_UI_WORKFLOWS: return sq_ui_workflows(ctx, req, tenant, resp);
    case R_METRICS_RANGE: return sq_metrics_query(ctx, req, tenant, 0, resp);
    case R_METRICS_INSTANT: return sq_metrics_query(ctx, req, tenant, 1, resp);
    case R_METRICS_SUMMARY: return sq_metrics_summary(ctx, req, tenant, resp);
    default: return 0;
    }
}

int sq_handle(sq_ctx *ctx, const sq_request *req, ex_http_resp *resp)
{
    char param[1024];
    route_id r = classify(req->path, param, sizeof param);
    if (r == R_NONE) return 0;
    ctx->stats.requests++;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        sq_reply_text(ctx, resp, 405, "method %s not allowed on %s (use GET)", req->method, req->path);
        ex_http_resp_header(resp, "Allow", ALLOW);
        return 1;
    }
    return dispatch(ctx, req, r, param, resp);
}

/* ---- httpd adapter ------------------------------------------------------------ */

static const char *mhd_arg(void *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

static const char *mhd_header(void *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

void sq_request_from_http(const ex_http_req *req, sq_request *out)
{
    *out = (sq_request){req->method, req->path, req->conn ? mhd_arg : NULL, req->conn ? mhd_header : NULL, req->conn};
}

int sq_route(sq_ctx *ctx, const ex_http_req *req, ex_http_resp *resp)
{
    sq_request r;
    sq_request_from_http(req, &r);
    return sq_handle(ctx, &r, resp);
}
