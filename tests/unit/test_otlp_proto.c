/* OTLP protobuf: spans encoded by otlp_proto.c and read back by the
 * protobuf-c unpacker, field by field; received-request decoding with its
 * nesting bound; collector answers; gRPC framing; gzip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "otel/compress.h"
#include "otel/ids.h"
#include "otel/otlp_proto.h"

#define T0 INT64_C(1720162671073740700) /* 2024-07-05T06:57:51.0737407Z */
#define SEC INT64_C(1000000000)

typedef struct fixture {
    exo_resource res;
    exo_span *spans[3]; /* root, child DataLoader, child Processor */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    exo_attrs_add_str(&f->res.attrs, "service.name", "Tracing.Worker");
    exo_attrs_add_str(&f->res.attrs, "service.namespace", "dev1");

    exo_span *root = exo_span_new("Workflow", EXO_KIND_INTERNAL);
    exo_trace_id("dev1", "704c0b60-1d3c-4b43-9d0b-6a6d2e8f0a11", root->trace_id);
    exo_span_id(root->trace_id, "Workflow", "", root->span_id);
    root->start_ns = T0;
    root->end_ns = T0 + 65 * SEC + 13942200;
    exo_attrs_add_str(&root->attrs, "workflowId", "704c0b60-1d3c-4b43-9d0b-6a6d2e8f0a11");
    exo_attrs_add_int(&root->attrs, "attempts", -42);
    exo_attrs_add_int(&root->attrs, "big", INT64_MIN);
    exo_attrs_add_double(&root->attrs, "ratio", 0.125);
    exo_attrs_add_bool(&root->attrs, "retried", 1);
    exo_attrs_add_bool(&root->attrs, "cancelled", 0);
    exo_event *e = exo_span_add_event(root, T0, "Submitted");
    exo_attrs_add_str(&e->attrs, "source", "redis");
    exo_attrs_add_int(&e->attrs, "lag_ms", 12);
    exo_span_add_event(root, T0 + 5 * SEC, "Processing");
    exo_span_set_status(root, EXO_STATUS_ERROR, "Entity failed: DataLoader");

    for (int i = 1; i <= 2; i++) {
        exo_span *c = exo_span_new(i == 1 ? "DataLoader" : "Processor", i == 1 ? EXO_KIND_INTERNAL : EXO_KIND_CLIENT);
        memcpy(c->trace_id, root->trace_id, 16);
        exo_span_id(root->trace_id, c->name, i == 1 ? "e1" : "e2", c->span_id);
        memcpy(c->parent_span_id, root->span_id, 8);
        c->has_parent = 1;
        c->start_ns = T0 + i * SEC;
        c->end_ns = T0 + (i + 10) * SEC;
        exo_attrs_add_str(&c->attrs, "type", c->name);
        exo_span_set_status(c, i == 1 ? EXO_STATUS_OK : EXO_STATUS_UNSET, NULL);
        f->spans[i] = c;
    }
    f->spans[0] = root;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 3; i++) exo_span_free(f->spans[i]);
    exo_attrs_clear(&f->res.attrs);
    free(f);
    return 0;
}

static const Opentelemetry__Proto__Common__V1__AnyValue *kv_get(exo_pb_kv **kvs, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kvs[i]->key, key) == 0) return kvs[i]->value;
    fail_msg("attribute %s missing", key);
    return NULL;
}

static exo_pb_request *encode_decode(fixture *f, size_t n)
{
    uint8_t *buf;
    size_t len;
    assert_int_equal(exo_otlp_proto_encode(&f->res, "sample-tracing", "1.0.0", f->spans, n, &buf, &len), 0);
    exo_pb_request *req =
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, len, buf);
    ex_free(buf);
    assert_non_null(req);
    return req;
}

#define CASE(x) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x

static void test_encode_every_field(void **state)
{
    fixture *f = *state;
    exo_pb_request *req = encode_decode(f, 3);
    assert_int_equal(req->n_resource_spans, 1);
    exo_pb_resource_spans *rs = req->resource_spans[0];
    assert_int_equal(rs->resource->n_attributes, 2);
    assert_string_equal(rs->resource->attributes[0]->key, "service.name");
    assert_string_equal(rs->resource->attributes[0]->value->string_value, "Tracing.Worker");
    assert_string_equal(kv_get(rs->resource->attributes, 2, "service.namespace")->string_value, "dev1");
    assert_int_equal(rs->n_scope_spans, 1);
    exo_pb_scope_spans *ss = rs->scope_spans[0];
    assert_string_equal(ss->scope->name, "sample-tracing");
    assert_string_equal(ss->scope->version, "1.0.0");
    assert_int_equal(ss->n_spans, 3);

    exo_pb_span *root = ss->spans[0];
    assert_int_equal(root->trace_id.len, 16);
    assert_memory_equal(root->trace_id.data, f->spans[0]->trace_id, 16);
    assert_int_equal(root->span_id.len, 8);
    assert_memory_equal(root->span_id.data, f->spans[0]->span_id, 8);
    assert_int_equal(root->parent_span_id.len, 0);
    assert_int_equal(root->flags, EXO_OTLP_SPAN_FLAGS);
    assert_string_equal(root->name, "Workflow");
    assert_int_equal(root->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_INTERNAL);
    assert_true(root->start_time_unix_nano == (uint64_t)T0);
    assert_true(root->end_time_unix_nano == (uint64_t)(T0 + 65 * SEC + 13942200));

    assert_int_equal(root->n_attributes, 6);
    const exo_pb_any *v = kv_get(root->attributes, 6, "workflowId");
    assert_int_equal(v->value_case, CASE(STRING_VALUE));
    assert_string_equal(v->string_value, "704c0b60-1d3c-4b43-9d0b-6a6d2e8f0a11");
    v = kv_get(root->attributes, 6, "attempts");
    assert_int_equal(v->value_case, CASE(INT_VALUE));
    assert_true(v->int_value == -42);
    v = kv_get(root->attributes, 6, "big");
    assert_true(v->value_case == CASE(INT_VALUE) && v->int_value == INT64_MIN);
    v = kv_get(root->attributes, 6, "ratio");
    assert_int_equal(v->value_case, CASE(DOUBLE_VALUE));
    assert_true(v->double_value == 0.125);
    v = kv_get(root->attributes, 6, "retried");
    assert_true(v->value_case == CASE(BOOL_VALUE) && v->bool_value);
    v = kv_get(root->attributes, 6, "cancelled");
    assert_true(v->value_case == CASE(BOOL_VALUE) && !v->bool_value);

    assert_int_equal(root->n_events, 2);
    assert_string_equal(root->events[0]->name, "Submitted");
    assert_true(root->events[0]->time_unix_nano == (uint64_t)T0);
    assert_int_equal(root->events[0]->n_attributes, 2);
    assert_string_equal(kv_get(root->events[0]->attributes, 2, "source")->string_value, "redis");
    assert_true(kv_get(root->events[0]->attributes, 2, "lag_ms")->int_value == 12);
    assert_string_equal(root->events[1]->name, "Processing");
    assert_true(root->events[1]->time_unix_nano == (uint64_t)(T0 + 5 * SEC));
    assert_int_equal(root->events[1]->n_attributes, 0);

    assert_non_null(root->status);
    assert_int_equal(root->status->code, OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR);
    assert_string_equal(root->status->message, "Entity failed: DataLoader");

    for (int i = 1; i <= 2; i++) {
        exo_pb_span *c = ss->spans[i];
        assert_memory_equal(c->trace_id.data, f->spans[0]->trace_id, 16);
        assert_memory_equal(c->span_id.data, f->spans[i]->span_id, 8);
        assert_int_equal(c->parent_span_id.len, 8);
        assert_memory_equal(c->parent_span_id.data, f->spans[0]->span_id, 8);
        assert_string_equal(c->name, i == 1 ? "DataLoader" : "Processor");
        assert_int_equal(c->kind, i == 1 ? 1 : 3);
        assert_true(c->start_time_unix_nano == (uint64_t)(T0 + i * SEC));
        assert_string_equal(kv_get(c->attributes, c->n_attributes, "type")->string_value, c->name);
        assert_int_equal(c->status->code, i == 1 ? 1 : 0);
        assert_string_equal(c->status->message, "");
        assert_int_equal(c->n_events, 0);
    }
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req, NULL);
}

static void test_encode_edge_cases(void **state)
{
    fixture *f = *state;
    /* An empty batch is a valid request with one empty ScopeSpans. */
    exo_pb_request *req = encode_decode(f, 0);
    assert_int_equal(req->resource_spans[0]->scope_spans[0]->n_spans, 0);
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req, NULL);

    /* Invalid UTF-8 is repaired (proto3 strings must be UTF-8); negative
     * times are clamped to 0 instead of wrapping to huge unsigned values. */
    exo_span *s = f->spans[1];
    exo_attrs_add_str(&s->attrs, "raw", "a\xff" "b\xc3");
    s->start_ns = -5;
    req = encode_decode(f, 3);
    exo_pb_span *ps = req->resource_spans[0]->scope_spans[0]->spans[1];
    assert_string_equal(kv_get(ps->attributes, ps->n_attributes, "raw")->string_value, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
    assert_true(ps->start_time_unix_nano == 0);
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req, NULL);

    /* Resource and scope version may be absent. */
    uint8_t *buf;
    size_t len;
    assert_int_equal(exo_otlp_proto_encode(NULL, "s", NULL, f->spans, 1, &buf, &len), 0);
    req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, len, buf);
    assert_int_equal(req->resource_spans[0]->resource->n_attributes, 0);
    assert_string_equal(req->resource_spans[0]->scope_spans[0]->scope->version, "");
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req, NULL);
    ex_free(buf);
}

static void test_encode_allocation_failures(void **state)
{
    fixture *f = *state;
    int ok = 0;
    for (long n = 0; n < 100 && !ok; n++) {
        uint8_t *buf = (uint8_t *)"x";
        size_t len = 7;
        ex_mem_fail_after(n);
        int rc = exo_otlp_proto_encode(&f->res, "sample-tracing", "1.0.0", f->spans, 3, &buf, &len);
        ex_mem_fail_after(-1);
        if (rc == 0) {
            ok = 1;
            ex_free(buf);
        } else {
            assert_int_equal(rc, EXO_OTLP_ENOMEM);
            assert_null(buf);
            assert_int_equal(len, 0);
        }
    }
    assert_true(ok);
}

static void test_decode_request_roundtrip(void **state)
{
    fixture *f = *state;
    uint8_t *buf;
    size_t len;
    char err[160];
    exo_pb_request *req;
    assert_int_equal(exo_otlp_proto_encode(&f->res, "sample-tracing", "1.0.0", f->spans, 3, &buf, &len), 0);
    assert_int_equal(exo_otlp_proto_decode_request(buf, len, &req, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_int_equal(req->resource_spans[0]->scope_spans[0]->n_spans, 3);
    assert_string_equal(req->resource_spans[0]->scope_spans[0]->spans[2]->name, "Processor");
    exo_otlp_request_free(req);

    /* Truncated and garbage inputs are rejected with a reason. */
    assert_int_equal(exo_otlp_proto_decode_request(buf, len - 3, &req, err, sizeof err), EXO_OTLP_EINVAL);
    assert_null(req);
    assert_true(strncmp(err, "protobuf: ", 10) == 0);
    static const uint8_t junk[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01};
    assert_int_equal(exo_otlp_proto_decode_request(junk, sizeof junk, &req, err, sizeof err), EXO_OTLP_EINVAL);
    assert_string_equal(err, "protobuf: malformed wire data");
    static const uint8_t group[] = {0x0b, 0x0c}; /* start/end group: not proto3 */
    assert_int_equal(exo_otlp_proto_decode_request(group, sizeof group, &req, err, sizeof err), EXO_OTLP_EINVAL);
    ex_free(buf);
}

/* Prepend a length-delimited field header (tag, varint length of the
 * bytes from *start to end) in front of *start; the buffer is filled back
 * to front, so nesting costs no recursion (protobuf-c's packer would
 * recurse as deep as the value). */
static void wrap(uint8_t *buf, size_t *start, size_t end, uint8_t tag)
{
    uint8_t v[10];
    size_t n = 0, len = end - *start;
    do {
        v[n++] = (uint8_t)((len & 0x7F) | (len > 0x7F ? 0x80 : 0));
        len >>= 7;
    } while (len);
    *start -= n;
    memcpy(buf + *start, v, n);
    buf[--*start] = tag;
}

/* A request whose single attribute value nests `depth` AnyValues. */
static uint8_t *nested_request(int depth, size_t *len)
{
    size_t cap = (size_t)depth * 12 + 64, end = cap, start = cap;
    uint8_t *buf = malloc(cap);
    buf[--start] = 7;    /* AnyValue.int_value = 7 */
    buf[--start] = 0x18; /* field 3, varint */
    for (int i = 1; i < depth; i++) {
        wrap(buf, &start, end, 0x0a); /* ArrayValue.values (1) */
        wrap(buf, &start, end, 0x2a); /* AnyValue.array_value (5) */
    }
    wrap(buf, &start, end, 0x12);     /* KeyValue.value (2) */
    memcpy(buf + (start -= 4), "deep", 4);
    buf[--start] = 4;
    buf[--start] = 0x0a;              /* KeyValue.key (1) */
    wrap(buf, &start, end, 0x4a);     /* Span.attributes (9) */
    wrap(buf, &start, end, 0x12);     /* ScopeSpans.spans (2) */
    wrap(buf, &start, end, 0x12);     /* ResourceSpans.scope_spans (2) */
    wrap(buf, &start, end, 0x0a);     /* request.resource_spans (1) */
    *len = end - start;
    memmove(buf, buf + start, *len);
    return buf;
}

static void test_decode_request_depth_bound(void **state)
{
    (void)state;
    size_t len;
    char err[160];
    exo_pb_request *req;
    uint8_t *ok = nested_request(EXO_OTLP_MAX_VALUE_DEPTH, &len);
    assert_int_equal(exo_otlp_proto_decode_request(ok, len, &req, err, sizeof err), 0);
    const exo_pb_any *v = req->resource_spans[0]->scope_spans[0]->spans[0]->attributes[0]->value;
    int depth = 1;
    while (v->value_case == CASE(ARRAY_VALUE)) v = v->array_value->values[0], depth++;
    assert_int_equal(depth, EXO_OTLP_MAX_VALUE_DEPTH);
    assert_true(v->int_value == 7);
    exo_otlp_request_free(req);
    free(ok);

    uint8_t *deep = nested_request(EXO_OTLP_MAX_VALUE_DEPTH + 1, &len);
    assert_int_equal(exo_otlp_proto_decode_request(deep, len, &req, err, sizeof err), EXO_OTLP_EINVAL);
    assert_null(req);
    assert_string_equal(err, "protobuf: attribute values nested deeper than 32");
    free(deep);
    /* Far deeper than any stack would survive when unpacked recursively. */
    deep = nested_request(200000, &len);
    assert_int_equal(exo_otlp_proto_decode_request(deep, len, &req, err, sizeof err), EXO_OTLP_EINVAL);
    free(deep);
}

static void test_decode_response(void **state)
{
    (void)state;
    int64_t rejected = -1;
    char msg[16];
    /* An empty body is an empty response: full success. */
    assert_int_equal(exo_otlp_proto_decode_response((const uint8_t *)"", 0, &rejected, msg, sizeof msg), 0);
    assert_true(rejected == 0);
    assert_string_equal(msg, "");

    Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
    ps.rejected_spans = 3;
    ps.error_message = "3 spans had no trace id";
    exo_pb_response r = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
    r.partial_success = &ps;
    uint8_t buf[128];
    size_t len = opentelemetry__proto__collector__trace__v1__export_trace_service_response__pack(&r, buf);
    assert_int_equal(exo_otlp_proto_decode_response(buf, len, &rejected, msg, sizeof msg), 0);
    assert_true(rejected == 3);
    assert_string_equal(msg, "3 spans had no "); /* truncated to the buffer */

    static const uint8_t junk[] = {0x0a, 0x05, 0x08};
    assert_int_equal(exo_otlp_proto_decode_response(junk, sizeof junk, &rejected, msg, sizeof msg), EXO_OTLP_EINVAL);
}

static void test_decode_status(void **state)
{
    (void)state;
    Google__Protobuf__Duration d = GOOGLE__PROTOBUF__DURATION__INIT;
    d.seconds = 2;
    d.nanos = 500000000;
    Google__Rpc__RetryInfo ri = GOOGLE__RPC__RETRY_INFO__INIT;
    ri.retry_delay = &d;
    uint8_t ribuf[32];
    size_t rilen = google__rpc__retry_info__pack(&ri, ribuf);
    Google__Protobuf__Any other = GOOGLE__PROTOBUF__ANY__INIT, retry = GOOGLE__PROTOBUF__ANY__INIT;
    other.type_url = "type.googleapis.com/google.rpc.DebugInfo";
    retry.type_url = "type.googleapis.com/google.rpc.RetryInfo";
    retry.value.data = ribuf;
    retry.value.len = rilen;
    Google__Protobuf__Any *details[] = {&other, &retry};
    Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
    st.code = 8;
    st.message = "ingester overloaded";
    st.n_details = 2;
    st.details = details;
    uint8_t buf[256];
    size_t len = google__rpc__status__pack(&st, buf);

    int32_t code;
    int64_t delay;
    char msg[64];
    assert_int_equal(exo_otlp_decode_status(buf, len, &code, msg, sizeof msg, &delay), 0);
    assert_int_equal(code, 8);
    assert_string_equal(msg, "ingester overloaded");
    assert_true(delay == INT64_C(2500000000));
    assert_true(exo_otlp_grpc_retryable(code, delay >= 0));

    st.n_details = 1; /* no RetryInfo: delay -1, RESOURCE_EXHAUSTED final */
    len = google__rpc__status__pack(&st, buf);
    assert_int_equal(exo_otlp_decode_status(buf, len, &code, msg, sizeof msg, &delay), 0);
    assert_true(delay == -1);
    assert_false(exo_otlp_grpc_retryable(code, delay >= 0));

    static const uint8_t junk[] = {0x12, 0x09, 'x'};
    assert_int_equal(exo_otlp_decode_status(junk, sizeof junk, &code, msg, sizeof msg, NULL), EXO_OTLP_EINVAL);
}

static void test_retryable(void **state)
{
    (void)state;
    static const int retry[] = {1, 4, 10, 11, 14, 15};
    for (size_t i = 0; i < sizeof retry / sizeof retry[0]; i++) assert_true(exo_otlp_grpc_retryable(retry[i], 0));
    static const int final[] = {0, 2, 3, 5, 6, 7, 9, 12, 13, 16};
    for (size_t i = 0; i < sizeof final / sizeof final[0]; i++) assert_false(exo_otlp_grpc_retryable(final[i], 1));
    assert_true(exo_otlp_http_retryable(429) && exo_otlp_http_retryable(502));
    assert_true(exo_otlp_http_retryable(503) && exo_otlp_http_retryable(504));
    assert_false(exo_otlp_http_retryable(400) || exo_otlp_http_retryable(500) || exo_otlp_http_retryable(200));
}

static void test_grpc_framing(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0x0a, 0x00, 0x42};
    uint8_t *fr;
    size_t frlen;
    assert_int_equal(exo_grpc_frame(msg, sizeof msg, 1, &fr, &frlen), 0);
    static const uint8_t want[] = {1, 0, 0, 0, 3, 0x0a, 0x00, 0x42};
    assert_int_equal(frlen, sizeof want);
    assert_memory_equal(fr, want, sizeof want);

    const uint8_t *m;
    size_t mlen, used;
    int comp = -1;
    assert_int_equal(exo_grpc_unframe(fr, frlen, 1024, &m, &mlen, &comp, &used), 0);
    assert_int_equal(comp, 1);
    assert_int_equal(mlen, 3);
    assert_ptr_equal(m, fr + 5);
    assert_int_equal(used, 8);
    /* Any prefix is incomplete, not an error. */
    for (size_t k = 0; k < frlen; k++)
        assert_int_equal(exo_grpc_unframe(fr, k, 1024, &m, &mlen, &comp, &used), EXO_OTLP_EINCOMPLETE);
    /* Over the caller's limit. */
    assert_int_equal(exo_grpc_unframe(fr, frlen, 2, &m, &mlen, &comp, &used), EXO_OTLP_ETOOBIG);
    /* Flag byte other than 0/1. */
    fr[0] = 2;
    assert_int_equal(exo_grpc_unframe(fr, frlen, 1024, &m, &mlen, &comp, &used), EXO_OTLP_EINVAL);
    ex_free(fr);

    /* Empty message, uncompressed, followed by another frame. */
    assert_int_equal(exo_grpc_frame(NULL, 0, 0, &fr, &frlen), 0);
    uint8_t two[10];
    memcpy(two, fr, 5);
    memcpy(two + 5, fr, 5);
    assert_int_equal(exo_grpc_unframe(two, sizeof two, 0, &m, &mlen, &comp, &used), 0);
    assert_int_equal(comp, 0);
    assert_int_equal(mlen, 0);
    assert_int_equal(used, 5);
    ex_free(fr);
}

static void test_grpc_message_decoding(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(exo_grpc_decode_message("no%20such%20%E2%9C%93", out, sizeof out), 11);
    assert_string_equal(out, "no such \xE2\x9C\x93");
    /* Malformed escapes stay literal. */
    exo_grpc_decode_message("100%zz%4", out, sizeof out);
    assert_string_equal(out, "100%zz%4");
    exo_grpc_decode_message("%", out, sizeof out);
    assert_string_equal(out, "%");
    /* Truncation. */
    assert_int_equal(exo_grpc_decode_message("abcdef", out, 4), 3);
    assert_string_equal(out, "abc");
}

static void test_gzip_roundtrip_and_bound(void **state)
{
    (void)state;
    size_t n = 300000;
    uint8_t *data = malloc(n);
    for (size_t i = 0; i < n; i++) data[i] = (uint8_t)((i * 2654435761u) >> 13); /* not very compressible */
    memset(data + n / 2, 'a', n / 4);
    uint8_t *gz, *back;
    size_t gzlen, backlen;
    assert_int_equal(exo_gzip(data, n, &gz, &gzlen), 0);
    assert_true(gz[0] == 0x1f && gz[1] == 0x8b); /* gzip magic */
    assert_int_equal(exo_gunzip(gz, gzlen, n, &back, &backlen), 0);
    assert_int_equal(backlen, n);
    assert_memory_equal(back, data, n);
    assert_int_equal(back[n], 0);
    ex_free(back);
    /* One byte less than the real size is over the bound. */
    assert_int_equal(exo_gunzip(gz, gzlen, n - 1, &back, &backlen), EXO_Z_ETOOBIG);
    assert_null(back);
    /* Truncated and damaged input. */
    assert_int_equal(exo_gunzip(gz, gzlen - 4, n, &back, &backlen), EXO_Z_ECORRUPT);
    gz[gzlen / 2] ^= 0x55;
    gz[gzlen / 2 + 1] ^= 0x55;
    assert_int_equal(exo_gunzip(gz, gzlen, n, &back, &backlen), EXO_Z_ECORRUPT);
    assert_int_equal(exo_gunzip((const uint8_t *)"plain text", 10, n, &back, &backlen), EXO_Z_ECORRUPT);
    assert_int_equal(exo_gunzip((const uint8_t *)"", 0, n, &back, &backlen), EXO_Z_ECORRUPT);
    ex_free(gz);
    free(data);
}

static void test_gzip_bomb_and_members(void **state)
{
    (void)state;
    /* 64 MiB of zeros compresses to ~64 KiB; a 1 MiB bound stops it early. */
    size_t n = (size_t)64 << 20;
    uint8_t *zeros = calloc(1, n);
    uint8_t *gz, *back;
    size_t gzlen, backlen;
    assert_int_equal(exo_gzip(zeros, n, &gz, &gzlen), 0);
    free(zeros);
    assert_true(gzlen < n / 500);
    assert_int_equal(exo_gunzip(gz, gzlen, (size_t)1 << 20, &back, &backlen), EXO_Z_ETOOBIG);
    ex_free(gz);

    /* Two concatenated members decode to the concatenation. */
    uint8_t *a, *b;
    size_t alen, blen;
    assert_int_equal(exo_gzip((const uint8_t *)"hello ", 6, &a, &alen), 0);
    assert_int_equal(exo_gzip((const uint8_t *)"world", 5, &b, &blen), 0);
    uint8_t *ab = malloc(alen + blen);
    memcpy(ab, a, alen);
    memcpy(ab + alen, b, blen);
    assert_int_equal(exo_gunzip(ab, alen + blen, 100, &back, &backlen), 0);
    assert_int_equal(backlen, 11);
    assert_string_equal((char *)back, "hello world");
    ex_free(back);
    /* Trailing garbage after a member is rejected. */
    memcpy(ab + alen, "junk", 4);
    assert_int_equal(exo_gunzip(ab, alen + 4, 100, &back, &backlen), EXO_Z_ECORRUPT);
    /* Empty input compresses to a valid member of empty output. */
    assert_int_equal(exo_gzip(NULL, 0, &gz, &gzlen), 0);
    assert_int_equal(exo_gunzip(gz, gzlen, 0, &back, &backlen), 0);
    assert_int_equal(backlen, 0);
    ex_free(back);
    ex_free(gz);
    ex_free(a);
    ex_free(b);
    free(ab);
    assert_string_equal(exo_z_strerror(EXO_Z_ETOOBIG), "decompressed size over the limit");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_encode_every_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encode_edge_cases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encode_allocation_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decode_request_roundtrip, setup, teardown),
        cmocka_unit_test(test_decode_request_depth_bound),
        cmocka_unit_test(test_decode_response),
        cmocka_unit_test(test_decode_status),
        cmocka_unit_test(test_retryable),
        cmocka_unit_test(test_grpc_framing),
        cmocka_unit_test(test_grpc_message_decoding),
        cmocka_unit_test(test_gzip_roundtrip_and_bound),
        cmocka_unit_test(test_gzip_bomb_and_members),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
