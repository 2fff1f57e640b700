/* exp_otlp_grpc.c — OTLP/gRPC exporter: nghttp2 for http:// (grpc_h2.h,
 * one connection for every call), libcurl's HTTP/2 for https://.
 *
 * A unary gRPC call is one HTTP/2 POST (grpc/doc/PROTOCOL-HTTP2.md):
 * path /opentelemetry.proto.collector.trace.v1.TraceService/Export,
 * content-type application/grpc, te: trailers, body = one length-prefixed
 * message (flag 1 and grpc-encoding: gzip when compressing). h2c with
 * prior knowledge for http://, TLS + ALPN for https://. The status comes
 * in the grpc-status trailer (or in the headers of a trailers-only
 * answer); an HTTP status other than 200 is mapped to a gRPC code
 * (grpc/doc/http-grpc-status-mapping.md), and a 200 without grpc-status
 * counts as UNKNOWN. Which codes are retried: retry.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "otel/compress.h"
#include "otel/exp_curl.h"
#include "otel/exporter.h"
#include "otel/grpc_h2.h"
#include "otel/otlp_proto.h"

/* Largest response message decoded (an ExportTraceServiceResponse). */
#define MAX_RESPONSE_MSG (EXO_HTTP_MAX_BODY - 5)

typedef struct grpc_exporter {
    exo_h2_client *h2;             /* owned: http:// (h2c), one connection for every call */
    exo_http_client client;        /* owned: https:// (libcurl, TLS + ALPN) */
    int gzip;                      /* compress messages */
    const exo_resource *resource;  /* the pipeline's, outlives us */
    const char *scope_name, *scope_version; /* the pipeline's */
    exo_otlp_scratch scratch;      /* the encoder's buffer, kept between batches */
    exo_exporter_closed_cb closed; /* shutdown's, while the h2 client closes */
    void *closed_arg;
} grpc_exporter;

typedef struct grpc_send {
    grpc_exporter *ex;
    exo_export_done_cb done;
    void *arg;
} grpc_send;

static int grpc_init(const exo_exporter_env *env, void **state, char *err, size_t errlen)
{
    *state = NULL;
    grpc_exporter *ex = ex_calloc(1, sizeof *ex);
    if (!ex) {
        snprintf(err, errlen, "out of memory creating the OTLP/gRPC exporter");
        return -1;
    }
    ex->gzip = env->cfg->compression == EXO_COMPRESSION_GZIP;
    ex->resource = env->resource;
    ex->scope_name = env->scope_name;
    ex->scope_version = env->scope_version;
    if (!env->cfg->tls) {
        const char *pairs[] = {"content-type", "application/grpc", "te", "trailers", "grpc-accept-encoding", "identity",
                               ex->gzip ? "grpc-encoding" : NULL, "gzip", NULL};
        if (!(ex->h2 = exo_h2_client_new(env->loop, env->cfg, pairs, err, errlen))) {
            ex_free(ex);
            return -1;
        }
        *state = ex;
        return 0;
    }
    const char *headers[] = {"Content-Type: application/grpc", "TE: trailers", "grpc-accept-encoding: identity",
                             ex->gzip ? "grpc-encoding: gzip" : NULL, NULL};
    if (exo_http_client_init(&ex->client, env->loop, env->cfg, CURL_HTTP_VERSION_2TLS, headers, err, errlen) != 0) {
        exo_http_client_shutdown(&ex->client);
        ex_free(ex);
        return -1;
    }
    *state = ex;
    return 0;
}

/* Gzip msg (freed) and frame the result into *out. 0 or -1 with err set. */
static int gzip_frame(uint8_t *msg, size_t len, size_t n, exo_payload *out, char *err, size_t errlen)
{
    uint8_t *z = NULL;
    int rc = exo_gzip(msg, len, &z, &len);
    ex_free(msg);
    if (rc != 0) {
        snprintf(err, errlen, "could not gzip %zu spans: %s", n, exo_z_strerror(rc));
        return -1;
    }
    rc = exo_grpc_frame(z, len, 1, &out->data, &out->len);
    ex_free(z);
    if (rc != 0) {
        snprintf(err, errlen, "could not frame %zu spans for gRPC (error %d)", n, rc);
        return -1;
    }
    out->nspans = n;
    return 0;
}

static int grpc_encode(void *state, exo_span *const *spans, size_t n, exo_payload *out, char *err, size_t errlen)
{
    grpc_exporter *ex = state;
    uint8_t *msg = NULL;
    size_t len = 0;
    /* uncompressed, the message is encoded behind room for its gRPC header */
    size_t prefix = ex->gzip ? 0 : 5;
    int rc = exo_otlp_proto_encode_scratch(&ex->scratch, ex->resource, ex->scope_name, ex->scope_version, spans, n,
                                           prefix, &msg, &len);
    if (rc != 0) {
        snprintf(err, errlen, "could not encode %zu spans as protobuf (error %d)", n, rc);
        return -1;
    }
    if (ex->gzip) return gzip_frame(msg, len, n, out, err, errlen);
    if (len - prefix > UINT32_MAX) {
        ex_free(msg);
        snprintf(err, errlen, "could not frame %zu spans for gRPC (%zu bytes: over 4 GiB)", n, len - prefix);
        return -1;
    }
    exo_grpc_frame_header(msg, len - prefix, 0);
    out->data = msg;
    out->len = len;
    out->nspans = n;
    return 0;
}

/* Read the ExportTraceServiceResponse of a successful call (partial_success). */
static void read_success(const exo_http_response *r, exo_export_result *res)
{
    const uint8_t *msg;
    size_t msg_len, consumed;
    int compressed;
    if (r->body_len == 0) return;
    if (exo_grpc_unframe(r->body, r->body_len, MAX_RESPONSE_MSG, &msg, &msg_len, &compressed, &consumed) != 0)
        return; /* accepted all the same: the status said OK */
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    if (compressed) {
        if (strcmp(r->grpc_encoding, "gzip") != 0 ||
            exo_gunzip(msg, msg_len, MAX_RESPONSE_MSG, &plain, &plain_len) != 0)
            return;
        msg = plain;
        msg_len = plain_len;
    }
    int64_t rejected = 0;
    char text[200] = "";
    if (exo_otlp_proto_decode_response(msg, msg_len, &rejected, text, sizeof text) == 0 && rejected > 0) {
        res->rejected = (uint64_t)rejected;
        snprintf(res->reason, sizeof res->reason, "backend rejected %lld spans: %s", (long long)rejected,
                 text[0] ? text : "(no message)");
    }
    ex_free(plain);
}

/* Fill res for a call whose gRPC status is `code` (not OK). */
static void read_failure(const exo_http_response *r, int code, const char *why, exo_export_result *res)
{
    int64_t delay = -1;
    char msg[160] = "";
    if (r->grpc_details) exo_retry_grpc_details(r->grpc_details, strlen(r->grpc_details), &delay, NULL, 0);
    res->verdict = exo_retry_grpc_verdict(code, delay >= 0);
    if (res->verdict == EXO_RETRY_AGAIN) res->retry_after_ns = delay;
    exo_grpc_decode_message(r->grpc_message, msg, sizeof msg);
    snprintf(res->reason, sizeof res->reason, "gRPC status %d%s%s%s%s", code, why, msg[0] ? ": " : "", msg,
             code == EXO_GRPC_RESOURCE_EXHAUSTED && delay < 0 ? " (no RetryInfo: not retried)" : "");
}

/* Parse the decimal grpc-status value; -1 when absent or malformed. */
static int parse_status(const char *s)
{
    if (!s[0] || strspn(s, "0123456789") != strlen(s) || strlen(s) > 3) return -1;
    return atoi(s);
}

static void grpc_done_cb(void *arg, const exo_http_response *r)
{
    grpc_send *s = arg;
    exo_export_result res = {.verdict = EXO_RETRY_OK, .retry_after_ns = -1};
    char why[64];
    if (r->result != CURLE_OK) {
        res.verdict = exo_retry_transport_verdict(r->result);
        snprintf(res.reason, sizeof res.reason, "%s", r->error);
    } else if (r->status != 200) {
        snprintf(why, sizeof why, " (from HTTP %ld)", r->status);
        read_failure(r, exo_retry_grpc_from_http(r->status), why, &res);
    } else {
        int code = parse_status(r->grpc_status);
        if (code < 0) {
            snprintf(why, sizeof why, " (HTTP 200 without a valid grpc-status%s%s)", r->grpc_status[0] ? ": " : "",
                     r->grpc_status);
            read_failure(r, EXO_GRPC_UNKNOWN, why, &res);
        } else if (code != EXO_GRPC_OK) {
            read_failure(r, code, "", &res);
        } else {
            read_success(r, &res);
        }
    }
    exo_export_done_cb done = s->done;
    void *done_arg = s->arg;
    ex_free(s);
    done(done_arg, &res);
}

static int grpc_send_payload(void *state, const exo_payload *p, int64_t timeout_ns, exo_export_done_cb done,
                             void *arg, char *err, size_t errlen)
{
    grpc_exporter *ex = state;
    grpc_send *s = ex_malloc(sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory sending %zu spans", p->nspans);
        return -1;
    }
    *s = (grpc_send){ex, done, arg};
    /* grpc-timeout: at most 8 digits; milliseconds cover ~27 hours. */
    char timeout[48];
    int64_t ms = timeout_ns / EX_NS_PER_MS;
    if (ms < 1) ms = 1;
    if (ms > 99999999) ms = 99999999;
    int rc;
    if (ex->h2) {
        snprintf(timeout, sizeof timeout, "%lldm", (long long)ms);
        rc = exo_h2_client_post(ex->h2, p->data, p->len, timeout, timeout_ns, grpc_done_cb, s, err, errlen);
    } else {
        snprintf(timeout, sizeof timeout, "grpc-timeout: %lldm", (long long)ms);
        rc = exo_http_client_post(&ex->client, p->data, p->len, timeout, timeout_ns, grpc_done_cb, s, err, errlen);
    }
    if (rc != 0) {
        ex_free(s);
        return -1;
    }
    return 0;
}

/* The h2 client has released its handles: the exporter goes. */
static void h2_closed(void *arg)
{
    grpc_exporter *ex = arg;
    exo_exporter_closed_cb closed = ex->closed;
    void *closed_arg = ex->closed_arg;
    exo_otlp_scratch_free(&ex->scratch);
    ex_free(ex);
    closed(closed_arg);
}

static void grpc_shutdown(void *state, exo_exporter_closed_cb closed, void *arg)
{
    grpc_exporter *ex = state;
    if (ex->h2) {
        ex->closed = closed;
        ex->closed_arg = arg;
        exo_h2_client_close(ex->h2, h2_closed, ex);
        return;
    }
    exo_http_client_shutdown(&ex->client);
    exo_otlp_scratch_free(&ex->scratch);
    ex_free(ex);
    closed(arg);
}

const exo_exporter exo_exporter_otlp_grpc = {
    .name = "otlp/grpc",
    .kind = EXO_EXPORTER_OTLP,
    .protocols = 1 << EXO_PROTOCOL_GRPC,
    .init = grpc_init,
    .encode = grpc_encode,
    .send = grpc_send_payload,
    .shutdown = grpc_shutdown,
};
