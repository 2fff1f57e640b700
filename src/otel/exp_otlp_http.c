/* exp_otlp_http.c — OTLP/HTTP exporter (http/protobuf and http/json).
 *
 * POST <endpoint> (…/v1/traces) with an ExportTraceServiceRequest as
 * application/x-protobuf or application/json, gzip'ed when configured.
 * The answer is read by the OTLP/HTTP rules (opentelemetry-proto
 * docs/specification.md "OTLP/HTTP Response", otlp-tempo.md §1): 2xx is
 * success, with an optional partial_success whose rejected spans are
 * dropped, never retried; 429, 502, 503, 504 and broken connections are
 * retried (Retry-After honoured); any other status is final, and its
 * google.rpc.Status body, if any, explains why. */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "otel/compress.h"
#include "otel/exp_curl.h"
#include "otel/exporter.h"
#include "otel/otlp_json.h"
#include "otel/otlp_proto.h"

typedef struct http_exporter {
    exo_http_client client;        /* owned */
    int json;                      /* 1: http/json, 0: http/protobuf */
    int gzip;                      /* compress request bodies */
    const exo_resource *resource;  /* the pipeline's, outlives us */
    const char *scope_name, *scope_version; /* the pipeline's */
    exo_otlp_scratch scratch;      /* the protobuf encoder's buffer, kept between batches */
} http_exporter;

/* One send in flight. */
typedef struct http_send {
    http_exporter *ex;
    exo_export_done_cb done;
    void *arg;
} http_send;

static int http_init(const exo_exporter_env *env, void **state, char *err, size_t errlen)
{
    *state = NULL;
    http_exporter *ex = ex_calloc(1, sizeof *ex);
    if (!ex) {
        snprintf(err, errlen, "out of memory creating the OTLP/HTTP exporter");
        return -1;
    }
    ex->json = env->cfg->protocol == EXO_PROTOCOL_HTTP_JSON;
    ex->gzip = env->cfg->compression == EXO_COMPRESSION_GZIP;
    ex->resource = env->resource;
    ex->scope_name = env->scope_name;
    ex->scope_version = env->scope_version;
    const char *headers[3] = {ex->json ? "Content-Type: application/json" : "Content-Type: application/x-protobuf",
                              ex->gzip ? "Content-Encoding: gzip" : NULL, NULL};
    if (exo_http_client_init(&ex->client, env->loop, env->cfg, CURL_HTTP_VERSION_1_1, headers, err, errlen) != 0) {
        exo_http_client_shutdown(&ex->client);
        ex_free(ex);
        return -1;
    }
    *state = ex;
    return 0;
}

static int http_encode(void *state, exo_span *const *spans, size_t n, exo_payload *out, char *err, size_t errlen)
{
    http_exporter *ex = state;
    uint8_t *body = NULL;
    size_t len = 0;
    int rc;
    if (ex->json) rc = exo_otlp_json_encode(ex->resource, ex->scope_name, ex->scope_version, spans, n,
                                            (char **)&body, &len);
    else rc = exo_otlp_proto_encode_scratch(&ex->scratch, ex->resource, ex->scope_name, ex->scope_version, spans, n,
                                            0, &body, &len);
    if (rc != 0) {
        snprintf(err, errlen, "could not encode %zu spans as %s (error %d)", n, ex->json ? "OTLP/JSON" : "protobuf", rc);
        return -1;
    }
    if (ex->gzip) {
        uint8_t *z = NULL;
        size_t zlen = 0;
        rc = exo_gzip(body, len, &z, &zlen);
        ex_free(body);
        if (rc != 0) {
            snprintf(err, errlen, "could not gzip %zu spans: %s", n, exo_z_strerror(rc));
            return -1;
        }
        body = z;
        len = zlen;
    }
    out->data = body;
    out->len = len;
    out->nspans = n;
    return 0;
}

/* Why the backend refused: its google.rpc.Status message, else a body excerpt. */
static void error_detail(const exo_http_response *r, int json_request, char *out, size_t outlen)
{
    int32_t code = 0;
    int rc = -1;
    out[0] = '\0';
    if (r->body_len == 0) return;
    int json = strcmp(r->content_type, "application/json") == 0 ||
               (!r->content_type[0] && json_request);
    if (json) rc = exo_otlp_json_decode_status((const char *)r->body, r->body_len, &code, out, outlen, NULL);
    else if (strcmp(r->content_type, "application/x-protobuf") == 0 || !r->content_type[0])
        rc = exo_otlp_decode_status(r->body, r->body_len, &code, out, outlen, NULL);
    if (rc != 0 || !out[0]) exo_http_body_excerpt(r->body, r->body_len < 200 ? r->body_len : 200, out, outlen);
}

/* Fill res from a 2xx answer: partial_success, if any. */
static void read_success(const http_exporter *ex, const exo_http_response *r, exo_export_result *res)
{
    int64_t rejected = 0;
    char msg[200] = "";
    int rc = 0;
    if (r->body_len == 0) return;
    if (ex->json || strcmp(r->content_type, "application/json") == 0)
        rc = exo_otlp_json_decode_response((const char *)r->body, r->body_len, &rejected, msg, sizeof msg);
    else rc = exo_otlp_proto_decode_response(r->body, r->body_len, &rejected, msg, sizeof msg);
    if (rc != 0) return; /* the spans were accepted; an odd body does not change that */
    if (rejected > 0) {
        res->rejected = (uint64_t)rejected;
        snprintf(res->reason, sizeof res->reason, "backend rejected %lld spans: %s", (long long)rejected,
                 msg[0] ? msg : "(no message)");
    }
}

static void http_done_cb(void *arg, const exo_http_response *r)
{
    http_send *s = arg;
    http_exporter *ex = s->ex;
    exo_export_result res = {.verdict = EXO_RETRY_OK, .retry_after_ns = -1};
    if (r->result != CURLE_OK) {
        res.verdict = exo_retry_transport_verdict(r->result);
        snprintf(res.reason, sizeof res.reason, "%s", r->error);
    } else {
        res.verdict = exo_retry_http_verdict(r->status);
        if (res.verdict == EXO_RETRY_OK) {
            read_success(ex, r, &res);
        } else {
            char detail[200];
            error_detail(r, ex->json, detail, sizeof detail);
            snprintf(res.reason, sizeof res.reason, "HTTP %ld%s%s", r->status, detail[0] ? ": " : "", detail);
            int64_t delay;
            if (res.verdict == EXO_RETRY_AGAIN && r->retry_after[0] &&
                exo_retry_after_parse(r->retry_after, ex_clock_now(ex_clock_real()), &delay) == 0)
                res.retry_after_ns = delay;
        }
    }
    exo_export_done_cb done = s->done;
    void *done_arg = s->arg;
    ex_free(s);
    done(done_arg, &res);
}

static int http_send_payload(void *state, const exo_payload *p, int64_t timeout_ns, exo_export_done_cb done,
                             void *arg, char *err, size_t errlen)
{
    http_exporter *ex = state;
    http_send *s = ex_malloc(sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory sending %zu spans", p->nspans);
        return -1;
    }
    *s = (http_send){ex, done, arg};
    if (exo_http_client_post(&ex->client, p->data, p->len, NULL, timeout_ns, http_done_cb, s, err, errlen) != 0) {
        ex_free(s);
        return -1;
    }
    return 0;
}

static void http_shutdown(void *state, exo_exporter_closed_cb closed, void *arg)
{
    http_exporter *ex = state;
    exo_http_client_shutdown(&ex->client);
    exo_otlp_scratch_free(&ex->scratch);
    ex_free(ex);
    closed(arg);
}

const exo_exporter exo_exporter_otlp_http = {
    .name = "otlp/http",
    .kind = EXO_EXPORTER_OTLP,
    .protocols = (1 << EXO_PROTOCOL_HTTP_PROTOBUF) | (1 << EXO_PROTOCOL_HTTP_JSON),
    .init = http_init,
    .encode = http_encode,
    .send = http_send_payload,
    .shutdown = http_shutdown,
};
