/* target_otlp.c — fuzz runs for what OTLP peers send us: requests in
 * protobuf (alone or in gRPC frames, maybe gzipped) and in OTLP/JSON, and
 * the responses and statuses a collector answers with. */
#include <jansson.h>
#include <string.h>

#include "core/mem.h"
#include "otel/compress.h"
#include "otel/grpc_h2.h"
#include "otel/otlp_json.h"
#include "otel/otlp_pieces.h"
#include "otel/otlp_proto.h"
#include "otel/retry.h"
#include "targets.h"
#include "targets_int.h"

#define OTLP_MAX_MSG  (64 * 1024)   /* max_msg of exo_grpc_unframe */
#define OTLP_MAX_GZIP (1024 * 1024) /* max_out of exo_gunzip */

/* The protobuf encoding of m (ex_malloc; the caller frees it). */
static uint8_t *otlp_pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = ex_malloc(*len ? *len : 1);
    if (!buf) fuzz__fail("harness", "out of memory packing %zu bytes", *len);
    if (protobuf_c_message_pack(m, buf) != *len) fuzz__fail("harness", "protobuf_c_message_pack: wrong length");
    return buf;
}

/* Encode m as OTLP/JSON and check that the text is JSON without duplicate
 * keys (jansson also rejects invalid UTF-8). Returns the text (ex_free). */
static char *otlp_json_text(const char *target, const ProtobufCMessage *m, size_t *len)
{
    char *text = NULL;
    json_error_t jerr;
    int rc = exo_otlp_json_encode_message(m, &text, len);
    if (rc || !text) fuzz__fail(target, "exo_otlp_json_encode_message returned %d", rc);
    json_t *j = json_loadb(text, *len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) fuzz__fail(target, "the OTLP/JSON encoder wrote invalid JSON (%s at %d): %.*s", jerr.text, jerr.position,
                       (int)(*len > 400 ? 400 : *len), text);
    json_decref(j);
    return text;
}

static void otlp_check_error(const char *target, int rc, const char *err, size_t errlen)
{
    if (rc != EXO_OTLP_EINVAL && rc != EXO_OTLP_ENOMEM && rc != EXO_OTLP_ETOOBIG)
        fuzz__fail(target, "decoder returned %d", rc);
    fuzz__check_terminated(target, "the error message", err, errlen);
    if (rc == EXO_OTLP_EINVAL && !err[0]) fuzz__fail(target, "malformed input rejected without a reason");
}

/* Decode a protobuf request; a decoded one must survive being re-encoded
 * as protobuf (and decoded again) and as OTLP/JSON. */
static void otlp_decode_proto(const char *target, const uint8_t *buf, size_t len)
{
    exo_pb_request *req = NULL, *again = NULL;
    char err[256];
    size_t plen, jlen;
    int rc = exo_otlp_proto_decode_request(buf, len, &req, err, sizeof err);
    if (rc) {
        otlp_check_error(target, rc, err, sizeof err);
        return;
    }
    if (!req) fuzz__fail(target, "success without a request");
    uint8_t *packed = otlp_pack(&req->base, &plen);
    if ((rc = exo_otlp_proto_decode_request(packed, plen, &again, err, sizeof err)))
        fuzz__fail(target, "a decoded request, packed again, does not decode: %s", err);
    exo_otlp_request_free(again);
    ex_free(packed);
    ex_free(otlp_json_text(target, &req->base, &jlen));
    exo_otlp_request_free(req);
}

int fuzz_run_otlp_proto(const uint8_t *data, size_t size)
{
    otlp_decode_proto("otlp_proto", data, size);
    return 0;
}

/* ---- OTLP protobuf in pieces ------------------------------------------------ */

/* Compare each piece with the whole-message decode of the same input. */
typedef struct pieces_check {
    const exo_pb_request *whole;
    size_t max_spans, spans;
} pieces_check;

static int same_packed(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t la, lb;
    uint8_t *pa = otlp_pack(a, &la), *pb = otlp_pack(b, &lb);
    int same = la == lb && memcmp(pa, pb, la) == 0;
    ex_free(pa);
    ex_free(pb);
    return same;
}

static int piece_cb(void *arg, const exo_otlp_piece *p)
{
    pieces_check *c = arg;
    const exo_pb_request *w = c->whole;
    if (p->req->n_resource_spans != 1 || p->req->resource_spans[0]->n_scope_spans != 1)
        fuzz__fail("otlp_pieces", "a piece is not one ResourceSpans with one ScopeSpans");
    /* An invalid request may deliver pieces before its fault is reached;
     * the walk must then fail as the whole decode did (checked after). */
    if (!w) return 0;
    const exo_pb_resource_spans *rs = p->req->resource_spans[0];
    const exo_pb_scope_spans *ss = rs->scope_spans[0];
    if (p->rs_index >= w->n_resource_spans || p->ss_index >= w->resource_spans[p->rs_index]->n_scope_spans)
        fuzz__fail("otlp_pieces", "piece at resourceSpans[%zu].scopeSpans[%zu] is not in the request", p->rs_index,
                   p->ss_index);
    const exo_pb_resource_spans *wrs = w->resource_spans[p->rs_index];
    const exo_pb_scope_spans *wss = wrs->scope_spans[p->ss_index];
    if (ss->n_spans == 0 || ss->n_spans > c->max_spans || p->span_index + ss->n_spans > wss->n_spans)
        fuzz__fail("otlp_pieces", "piece of %zu spans at %zu (of %zu, at most %zu a piece)", ss->n_spans,
                   p->span_index, wss->n_spans, c->max_spans);
    for (size_t i = 0; i < ss->n_spans; i++)
        if (!same_packed(&ss->spans[i]->base, &wss->spans[p->span_index + i]->base))
            fuzz__fail("otlp_pieces", "span %zu differs from the whole decode's", p->span_index + i);
    if ((rs->resource != NULL) != (wrs->resource != NULL) ||
        (rs->resource && !same_packed(&rs->resource->base, &wrs->resource->base)) ||
        strcmp(rs->schema_url, wrs->schema_url) != 0)
        fuzz__fail("otlp_pieces", "a piece's resource differs from the whole decode's");
    if ((ss->scope != NULL) != (wss->scope != NULL) || (ss->scope && !same_packed(&ss->scope->base, &wss->scope->base)) ||
        strcmp(ss->schema_url, wss->schema_url) != 0)
        fuzz__fail("otlp_pieces", "a piece's scope differs from the whole decode's");
    c->spans += ss->n_spans;
    return 0;
}

int fuzz_run_otlp_pieces(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t max_spans = (size_t)(data[0] % 5) + 1;
    data++, size--;
    exo_pb_request *whole = NULL;
    char err[256], perr[256];
    int rc = exo_otlp_proto_decode_request(data, size, &whole, err, sizeof err);
    pieces_check c = {whole, max_spans, 0};
    int prc = rc == 0 || rc == EXO_OTLP_EINVAL
                  ? exo_otlp_proto_decode_pieces(data, size, max_spans, piece_cb, &c, perr, sizeof perr)
                  : rc;
    if (rc == EXO_OTLP_ENOMEM || prc == EXO_OTLP_ENOMEM) {
        exo_otlp_request_free(whole);
        return 0;
    }
    if ((rc == 0) != (prc == 0))
        fuzz__fail("otlp_pieces", "the whole decode says %d (%s), the pieces %d (%s)", rc, rc ? err : "",
                   prc, prc ? perr : "");
    if (rc) {
        otlp_check_error("otlp_pieces", prc, perr, sizeof perr);
        if (strcmp(err, perr) != 0) fuzz__fail("otlp_pieces", "errors differ: \"%s\" / \"%s\"", err, perr);
        return 0;
    }
    size_t total = 0;
    for (size_t r = 0; r < whole->n_resource_spans; r++)
        for (size_t s = 0; s < whole->resource_spans[r]->n_scope_spans; s++)
            total += whole->resource_spans[r]->scope_spans[s]->n_spans;
    if (c.spans != total) fuzz__fail("otlp_pieces", "pieces held %zu spans, the request %zu", c.spans, total);
    exo_otlp_request_free(whole);
    return 0;
}

/* ---- OTLP/JSON ----------------------------------------------------------- */

/* A decoded request, encoded as OTLP/JSON, decodes to a request that
 * encodes to the same text; packed as protobuf, it decodes too. */
static void otlp_json_roundtrip(const exo_pb_request *req)
{
    exo_pb_request *again = NULL, *fromproto = NULL;
    char err[256];
    size_t len1, len2, plen;
    char *text1 = otlp_json_text("otlp_json", &req->base, &len1);
    int rc = exo_otlp_json_decode_request(text1, len1, &again, err, sizeof err);
    if (rc) fuzz__fail("otlp_json", "the encoder's output does not decode (%s): %.*s", err, (int)len1, text1);
    char *text2 = otlp_json_text("otlp_json", &again->base, &len2);
    if (len1 != len2 || memcmp(text1, text2, len1))
        fuzz__fail("otlp_json", "encode(decode(encode(x))) differs from encode(x):\n%.*s\n%.*s", (int)len1, text1,
                   (int)len2, text2);
    uint8_t *packed = otlp_pack(&req->base, &plen);
    if (exo_otlp_proto_decode_request(packed, plen, &fromproto, err, sizeof err))
        fuzz__fail("otlp_json", "a request decoded from JSON, packed as protobuf, does not decode: %s", err);
    exo_otlp_request_free(fromproto);
    ex_free(packed);
    ex_free(text2);
    ex_free(text1);
    exo_otlp_request_free(again);
}

int fuzz_run_otlp_json(const uint8_t *data, size_t size)
{
    exo_pb_request *req = NULL;
    ProtobufCMessage *td = NULL;
    char err[256];
    int rc = exo_otlp_json_decode_request((const char *)data, size, &req, err, sizeof err);
    if (rc == 0) {
        if (!req) fuzz__fail("otlp_json", "success without a request");
        otlp_json_roundtrip(req);
        exo_otlp_request_free(req);
    } else {
        otlp_check_error("otlp_json", rc, err, sizeof err);
    }
    /* The generic decoder, for the other message with the same shape. */
    rc = exo_otlp_json_decode_message(&opentelemetry__proto__trace__v1__traces_data__descriptor, (const char *)data,
                                      size, &td, err, sizeof err);
    if (rc == 0) protobuf_c_message_free_unpacked(td, &exo_pb_allocator);
    else otlp_check_error("otlp_json", rc, err, sizeof err);
    return 0;
}

/* ---- gRPC bodies and gzip ------------------------------------------------- */

/* One unframed message: framing it again gives the same bytes; its
 * payload (gunzipped when flagged) is decoded as a request. */
static void grpc_message(const uint8_t *frame, const uint8_t *msg, size_t len, int compressed, size_t consumed)
{
    uint8_t *again = NULL, *plain = NULL;
    size_t alen, plen;
    if (consumed != 5 + len || msg != frame + 5) fuzz__fail("grpc", "consumed %zu for a %zu-byte message", consumed, len);
    if (exo_grpc_frame(msg, len, compressed, &again, &alen)) fuzz__fail("grpc", "exo_grpc_frame failed");
    if (alen != consumed || memcmp(again, frame, alen)) fuzz__fail("grpc", "framing the message again differs");
    ex_free(again);
    if (!compressed) {
        otlp_decode_proto("grpc", msg, len);
        return;
    }
    if (exo_gunzip(msg, len, OTLP_MAX_GZIP, &plain, &plen) == 0) otlp_decode_proto("grpc", plain, plen);
    ex_free(plain);
}

int fuzz_run_grpc(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        const uint8_t *msg = NULL;
        size_t len = 0, consumed = 0;
        int compressed = -1;
        int rc = exo_grpc_unframe(data + off, size - off, OTLP_MAX_MSG, &msg, &len, &compressed, &consumed);
        if (rc == EXO_OTLP_EINCOMPLETE || rc == EXO_OTLP_EINVAL || rc == EXO_OTLP_ETOOBIG) break;
        if (rc) fuzz__fail("grpc", "exo_grpc_unframe returned %d", rc);
        if (consumed > size - off || len > OTLP_MAX_MSG || (compressed != 0 && compressed != 1))
            fuzz__fail("grpc", "unframed %zu bytes of %zu (message %zu, flag %d)", consumed, size - off, len, compressed);
        grpc_message(data + off, msg, len, compressed, consumed);
        off += consumed;
    }
    return 0;
}

int fuzz_run_gunzip(const uint8_t *data, size_t size)
{
    uint8_t *out = NULL, *again = NULL, *zipped = NULL;
    size_t n = 0, an = 0, zn = 0;
    int rc = exo_gunzip(data, size, OTLP_MAX_GZIP, &out, &n);
    if (rc) {
        if (out) fuzz__fail("gunzip", "error %d with an output buffer", rc);
        if (rc != EXO_Z_ECORRUPT && rc != EXO_Z_ETOOBIG && rc != EXO_Z_ENOMEM) fuzz__fail("gunzip", "returned %d", rc);
        if (!exo_z_strerror(rc)) fuzz__fail("gunzip", "no description for %d", rc);
        return 0;
    }
    if (!out || n > OTLP_MAX_GZIP || out[n] != '\0') fuzz__fail("gunzip", "bad output for %zu bytes", n);
    /* The bound is exact: n bytes fit in n, not in n - 1. */
    if (exo_gunzip(data, size, n, &again, &an) || an != n || memcmp(again, out, n))
        fuzz__fail("gunzip", "%zu bytes do not decompress within a bound of %zu", n, n);
    ex_free(again);
    again = NULL;
    if (n > 0 && (rc = exo_gunzip(data, size, n - 1, &again, &an)) != EXO_Z_ETOOBIG)
        fuzz__fail("gunzip", "%zu bytes with a bound of %zu: returned %d", n, n - 1, rc);
    ex_free(again);
    again = NULL;
    if (exo_gzip(out, n, &zipped, &zn)) fuzz__fail("gunzip", "exo_gzip of %zu bytes failed", n);
    if (exo_gunzip(zipped, zn, n, &again, &an) || an != n || memcmp(again, out, n))
        fuzz__fail("gunzip", "gzip round trip of %zu bytes differs", n);
    ex_free(again);
    ex_free(zipped);
    ex_free(out);
    return 0;
}

/* ---- responses and statuses ------------------------------------------------ */

#define RESP_MSG 64 /* a small message buffer, so long messages are cut */

int fuzz_run_otlp_response(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    const uint8_t *buf = data + 1;
    size_t len = size - 1;
    char msg[RESP_MSG];
    int64_t rejected = 0, delay = 0;
    int32_t code = 0;
    int rc = 0;
    memset(msg, 'x', sizeof msg);
    switch (data[0] % 5) {
    case 0: rc = exo_otlp_proto_decode_response(buf, len, &rejected, msg, sizeof msg); break;
    case 1: rc = exo_otlp_decode_status(buf, len, &code, msg, sizeof msg, &delay); break;
    case 2: rc = exo_otlp_json_decode_response((const char *)buf, len, &rejected, msg, sizeof msg); break;
    case 3: rc = exo_otlp_json_decode_status((const char *)buf, len, &code, msg, sizeof msg, &delay); break;
    default: {
        char *in = fuzz__cstr(buf, len);
        size_t n = exo_grpc_decode_message(in, msg, sizeof msg);
        if (n >= sizeof msg || msg[n] != '\0') fuzz__fail("otlp_response", "grpc message: %zu bytes written", n);
        ex_free(in);
        return 0;
    }
    }
    if (rc != 0 && rc != EXO_OTLP_EINVAL) fuzz__fail("otlp_response", "decoder %d returned %d", data[0] % 5, rc);
    if (rc == 0) {
        fuzz__check_terminated("otlp_response", "the message", msg, sizeof msg);
        if ((data[0] % 5 == 1 || data[0] % 5 == 3) && delay < -1)
            fuzz__fail("otlp_response", "retry delay %lld ns", (long long)delay);
    }
    return 0;
}

/* ---- grpc_h2: what a collector sends back on the client's connection ---- */

static void h2_response(void *arg, const exo_http_response *r)
{
    *(int *)arg = 1;
    if (r->result != CURLE_OK && r->result != CURLE_HTTP2_STREAM && r->result != CURLE_HTTP2)
        fuzz__fail("grpc_h2", "transport result %d", (int)r->result);
    const struct { const char *name, *s; size_t cap; } text[] = {
        {"error", r->error, sizeof r->error},           {"content-type", r->content_type, sizeof r->content_type},
        {"grpc-status", r->grpc_status, sizeof r->grpc_status}, {"grpc-encoding", r->grpc_encoding, sizeof r->grpc_encoding},
        {"grpc-message", r->grpc_message, sizeof r->grpc_message}};
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
        if (strnlen(text[i].s, text[i].cap) == text[i].cap) fuzz__fail("grpc_h2", "%s not terminated", text[i].name);
    if (r->body_len > EXO_HTTP_MAX_BODY || (r->body_len && (!r->body || r->body[r->body_len] != '\0')))
        fuzz__fail("grpc_h2", "body of %zu bytes", r->body_len);
    /* what the exporter then does with the answer */
    const uint8_t *msg;
    size_t len, consumed;
    int compressed;
    if (r->body_len && exo_grpc_unframe(r->body, r->body_len, OTLP_MAX_MSG, &msg, &len, &compressed, &consumed) == 0) {
        int64_t rejected;
        char m[64];
        exo_otlp_proto_decode_response(msg, len, &rejected, m, sizeof m);
    }
    char decoded[64];
    exo_grpc_decode_message(r->grpc_message, decoded, sizeof decoded);
    if (r->grpc_details) {
        int64_t delay;
        char why[64];
        exo_retry_grpc_details(r->grpc_details, strlen(r->grpc_details), &delay, why, sizeof why);
        if (delay < -1) fuzz__fail("grpc_h2", "retry delay %lld", (long long)delay);
    }
}

int fuzz_run_grpc_h2(const uint8_t *data, size_t size)
{
    int called = 0;
    int ended = exo_h2__exchange(data, size, h2_response, &called);
    if (ended != called) fuzz__fail("grpc_h2", "ended %d but the callback ran %d times", ended, called);
    return 0;
}
