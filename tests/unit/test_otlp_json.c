/* OTLP/JSON: encoder output checked field by field with jansson; decode
 * round trips against the protobuf path; the decoder's leniencies and its
 * error messages; hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/rng.h"
#include "otel/ids.h"
#include "otel/otlp_json.h"
#include "otel/otlp_proto.h"

#define T0 INT64_C(1720162671073740700) /* 2024-07-05T06:57:51.0737407Z */
#define SEC INT64_C(1000000000)

typedef struct fixture {
    exo_resource res;
    exo_span *spans[3];
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
    root->end_ns = T0 + 65 * SEC;
    exo_attrs_add_str(&root->attrs, "workflowId", "704c0b60-1d3c-4b43-9d0b-6a6d2e8f0a11");
    exo_attrs_add_int(&root->attrs, "attempts", -42);
    exo_attrs_add_int(&root->attrs, "big", INT64_MIN);
    exo_attrs_add_double(&root->attrs, "ratio", 0.125);
    exo_attrs_add_bool(&root->attrs, "retried", 1);
    exo_attrs_add_str(&root->attrs, "quote", "say \"hi\"\n\xE2\x9C\x93");
    exo_event *e = exo_span_add_event(root, T0, "Submitted");
    exo_attrs_add_str(&e->attrs, "source", "redis");
    exo_attrs_add_int(&e->attrs, "lag_ms", 12);
    exo_span_set_status(root, EXO_STATUS_ERROR, "Entity failed: DataLoader");
    for (int i = 1; i <= 2; i++) {
        exo_span *c = exo_span_new(i == 1 ? "DataLoader" : "Processor", EXO_KIND_INTERNAL);
        memcpy(c->trace_id, root->trace_id, 16);
        exo_span_id(root->trace_id, c->name, i == 1 ? "e1" : "e2", c->span_id);
        memcpy(c->parent_span_id, root->span_id, 8);
        c->has_parent = 1;
        c->start_ns = T0 + i * SEC;
        c->end_ns = T0 + (i + 10) * SEC;
        exo_attrs_add_bool(&c->attrs, "cached", 0);
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

static json_t *encode_parse(fixture *f)
{
    char *out;
    size_t len;
    assert_int_equal(exo_otlp_json_encode(&f->res, "sample-tracing", "1.0.0", f->spans, 3, &out, &len), 0);
    assert_int_equal(strlen(out), len);
    json_error_t je;
    json_t *j = json_loadb(out, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) fail_msg("encoder output is not JSON: %s", je.text);
    ex_free(out);
    return j;
}

static const json_t *attr_value(const json_t *attrs, const char *key)
{
    size_t i;
    const json_t *kv;
    json_array_foreach(attrs, i, kv) if (strcmp(json_string_value(json_object_get(kv, "key")), key) == 0)
        return json_object_get(kv, "value");
    fail_msg("attribute %s missing", key);
    return NULL;
}

#define STR(obj, key) json_string_value(json_object_get((obj), (key)))

/* No key anywhere may be snake_case. */
static void assert_camel_keys(const json_t *j)
{
    const char *k;
    const json_t *v;
    size_t i;
    if (json_is_object(j)) {
        json_object_foreach((json_t *)j, k, v) {
            if (strchr(k, '_')) fail_msg("snake_case key %s", k);
            assert_camel_keys(v);
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) assert_camel_keys(v);
    }
}

static void test_encode_fields(void **state)
{
    fixture *f = *state;
    json_t *j = encode_parse(f);
    char hex[33];
    assert_camel_keys(j);
    assert_int_equal(json_object_size(j), 1);
    const json_t *rs = json_array_get(json_object_get(j, "resourceSpans"), 0);
    const json_t *rattrs = json_object_get(json_object_get(rs, "resource"), "attributes");
    assert_int_equal(json_array_size(rattrs), 2);
    assert_string_equal(STR(json_array_get(rattrs, 0), "key"), "service.name");
    assert_string_equal(STR(attr_value(rattrs, "service.name"), "stringValue"), "Tracing.Worker");
    const json_t *ss = json_array_get(json_object_get(rs, "scopeSpans"), 0);
    assert_string_equal(STR(json_object_get(ss, "scope"), "name"), "sample-tracing");
    assert_string_equal(STR(json_object_get(ss, "scope"), "version"), "1.0.0");
    const json_t *spans = json_object_get(ss, "spans");
    assert_int_equal(json_array_size(spans), 3);

    const json_t *root = json_array_get(spans, 0);
    assert_string_equal(STR(root, "traceId"), exo_hex(f->spans[0]->trace_id, 16, hex));
    assert_int_equal(strlen(STR(root, "traceId")), 32);
    assert_string_equal(STR(root, "spanId"), exo_hex(f->spans[0]->span_id, 8, hex));
    assert_null(json_object_get(root, "parentSpanId")); /* root: default (empty) omitted */
    assert_string_equal(STR(root, "name"), "Workflow");
    assert_true(json_is_integer(json_object_get(root, "kind")));
    assert_int_equal(json_integer_value(json_object_get(root, "kind")), 1);
    assert_int_equal(json_integer_value(json_object_get(root, "flags")), 1);
    assert_string_equal(STR(root, "startTimeUnixNano"), "1720162671073740700");
    assert_string_equal(STR(root, "endTimeUnixNano"), "1720162736073740700");
    assert_null(json_object_get(root, "droppedAttributesCount"));

    const json_t *attrs = json_object_get(root, "attributes");
    assert_string_equal(STR(attr_value(attrs, "workflowId"), "stringValue"), "704c0b60-1d3c-4b43-9d0b-6a6d2e8f0a11");
    assert_string_equal(STR(attr_value(attrs, "attempts"), "intValue"), "-42");
    assert_string_equal(STR(attr_value(attrs, "big"), "intValue"), "-9223372036854775808");
    const json_t *ratio = json_object_get(attr_value(attrs, "ratio"), "doubleValue");
    assert_true(json_is_real(ratio) && json_real_value(ratio) == 0.125);
    assert_true(json_is_true(json_object_get(attr_value(attrs, "retried"), "boolValue")));
    assert_string_equal(STR(attr_value(attrs, "quote"), "stringValue"), "say \"hi\"\n\xE2\x9C\x93");
    assert_int_equal(json_object_size(attr_value(attrs, "quote")), 1);

    const json_t *ev = json_array_get(json_object_get(root, "events"), 0);
    assert_string_equal(STR(ev, "timeUnixNano"), "1720162671073740700");
    assert_string_equal(STR(ev, "name"), "Submitted");
    assert_string_equal(STR(attr_value(json_object_get(ev, "attributes"), "lag_ms"), "intValue"), "12");

    const json_t *st = json_object_get(root, "status");
    assert_true(json_is_integer(json_object_get(st, "code")));
    assert_int_equal(json_integer_value(json_object_get(st, "code")), 2);
    assert_string_equal(STR(st, "message"), "Entity failed: DataLoader");

    for (size_t i = 1; i <= 2; i++) {
        const json_t *c = json_array_get(spans, i);
        assert_string_equal(STR(c, "parentSpanId"), exo_hex(f->spans[0]->span_id, 8, hex));
        assert_string_equal(STR(c, "spanId"), exo_hex(f->spans[i]->span_id, 8, hex));
        const json_t *cached = json_object_get(attr_value(json_object_get(c, "attributes"), "cached"), "boolValue");
        assert_true(json_is_false(cached));
        const json_t *cst = json_object_get(c, "status");
        if (i == 1) assert_int_equal(json_integer_value(json_object_get(cst, "code")), 1);
        else assert_int_equal(json_object_size(cst), 0); /* UNSET, no message */
        assert_null(json_object_get(c, "events"));
    }
    json_decref(j);
}

static void test_roundtrip_matches_protobuf(void **state)
{
    fixture *f = *state;
    char *js, *js2, err[256];
    size_t jslen, js2len, pblen;
    uint8_t *pb;
    exo_pb_request *req;
    assert_int_equal(exo_otlp_json_encode(&f->res, "sample-tracing", "1.0.0", f->spans, 3, &js, &jslen), 0);
    assert_int_equal(exo_otlp_json_decode_request(js, jslen, &req, err, sizeof err), 0);
    assert_string_equal(err, "");
    /* The decoded model packs to exactly the bytes the protobuf path sends. */
    assert_int_equal(exo_otlp_proto_encode(&f->res, "sample-tracing", "1.0.0", f->spans, 3, &pb, &pblen), 0);
    size_t n = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(req);
    uint8_t *again = malloc(n);
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(req, again);
    assert_int_equal(n, pblen);
    assert_memory_equal(again, pb, pblen);
    /* And re-encodes to the same JSON. */
    assert_int_equal(exo_otlp_json_encode_message(&req->base, &js2, &js2len), 0);
    assert_string_equal(js2, js);
    /* The protobuf decoder gives the same model. */
    exo_pb_request *req2;
    assert_int_equal(exo_otlp_proto_decode_request(pb, pblen, &req2, err, sizeof err), 0);
    char *js3;
    size_t js3len;
    assert_int_equal(exo_otlp_json_encode_message(&req2->base, &js3, &js3len), 0);
    assert_string_equal(js3, js);
    free(again);
    ex_free(js);
    ex_free(js2);
    ex_free(js3);
    ex_free(pb);
    exo_otlp_request_free(req);
    exo_otlp_request_free(req2);
}

static const char lenient[] =
    "{\"resource_spans\":[{\"resource\":{\"attributes\":[{\"key\":\"k\",\"value\":{\"stringValue\":\"v\"}}]},"
    "\"scopeSpans\":[{\"scope\":null,\"unknownField\":{\"x\":[1,2]},\"spans\":[{"
    "\"traceId\":\"0123456789ABCDEF0123456789abcdef\",\"span_id\":\"0011223344556677\",\"parentSpanId\":\"\","
    "\"name\":\"n\",\"kind\":\"SPAN_KIND_SERVER\",\"startTimeUnixNano\":1720162671073740700,"
    "\"endTimeUnixNano\":\"1720162672000000000\",\"droppedAttributesCount\":3.0,"
    "\"attributes\":["
    "{\"key\":\"nan\",\"value\":{\"doubleValue\":\"NaN\"}},"
    "{\"key\":\"inf\",\"value\":{\"doubleValue\":\"-Infinity\"}},"
    "{\"key\":\"num\",\"value\":{\"doubleValue\":\"2.5\"}},"
    "{\"key\":\"int\",\"value\":{\"intValue\":-7}},"
    "{\"key\":\"bytes\",\"value\":{\"bytesValue\":\"aGk_\"}},"
    "{\"key\":\"empty\",\"value\":{}},"
    "{\"key\":\"arr\",\"value\":{\"arrayValue\":{\"values\":[{\"boolValue\":true},{\"stringValue\":\"s\"}]}}},"
    "{\"key\":\"map\",\"value\":{\"kvlistValue\":{\"values\":[{\"key\":\"a\",\"value\":{\"intValue\":\"1\"}}]}}}],"
    "\"links\":[{\"traceId\":\"ffffffffffffffffffffffffffffffff\",\"spanId\":\"0000000000000001\",\"flags\":257}],"
    "\"status\":{\"code\":\"STATUS_CODE_ERROR\",\"message\":\"m\"}}]}]}]}";

static void test_decoder_leniency(void **state)
{
    (void)state;
    exo_pb_request *req;
    char err[256];
    assert_int_equal(exo_otlp_json_decode_request(lenient, strlen(lenient), &req, err, sizeof err), 0);
    exo_pb_resource_spans *rs = req->resource_spans[0];
    assert_string_equal(rs->resource->attributes[0]->value->string_value, "v");
    assert_null(rs->scope_spans[0]->scope);
    exo_pb_span *s = rs->scope_spans[0]->spans[0];
    static const uint8_t tid[] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                  0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    assert_int_equal(s->trace_id.len, 16);
    assert_memory_equal(s->trace_id.data, tid, 16);
    assert_int_equal(s->span_id.len, 8);
    assert_int_equal(s->span_id.data[7], 0x77);
    assert_int_equal(s->parent_span_id.len, 0);
    assert_int_equal(s->kind, 2);
    assert_true(s->start_time_unix_nano == UINT64_C(1720162671073740700));
    assert_true(s->end_time_unix_nano == UINT64_C(1720162672000000000));
    assert_int_equal(s->dropped_attributes_count, 3);
    assert_int_equal(s->n_attributes, 8);
    assert_true(isnan(s->attributes[0]->value->double_value));
    assert_true(isinf(s->attributes[1]->value->double_value) && s->attributes[1]->value->double_value < 0);
    assert_true(s->attributes[2]->value->double_value == 2.5);
    assert_true(s->attributes[3]->value->int_value == -7);
    const exo_pb_any *b = s->attributes[4]->value;
    assert_int_equal(b->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE);
    assert_int_equal(b->bytes_value.len, 3);
    assert_memory_equal(b->bytes_value.data, "hi?", 3);
    assert_int_equal(s->attributes[5]->value->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET);
    const exo_pb_array *arr = s->attributes[6]->value->array_value;
    assert_int_equal(arr->n_values, 2);
    assert_true(arr->values[0]->bool_value);
    assert_string_equal(arr->values[1]->string_value, "s");
    const exo_pb_kvlist *map = s->attributes[7]->value->kvlist_value;
    assert_string_equal(map->values[0]->key, "a");
    assert_true(map->values[0]->value->int_value == 1);
    assert_int_equal(s->n_links, 1);
    assert_int_equal(s->links[0]->flags, 257);
    assert_int_equal(s->links[0]->span_id.data[7], 1);
    assert_int_equal(s->status->code, 2);
    assert_string_equal(s->status->message, "m");

    /* Bytes and non-finite doubles encode back the OTLP/JSON way. */
    char *js;
    size_t jslen;
    assert_int_equal(exo_otlp_json_encode_message(&req->base, &js, &jslen), 0);
    assert_non_null(strstr(js, "{\"doubleValue\":\"NaN\"}"));
    assert_non_null(strstr(js, "{\"doubleValue\":\"-Infinity\"}"));
    assert_non_null(strstr(js, "{\"bytesValue\":\"aGk/\"}"));
    assert_non_null(strstr(js, "\"traceId\":\"0123456789abcdef0123456789abcdef\""));
    assert_non_null(strstr(js, "{\"key\":\"empty\",\"value\":{}}"));
    ex_free(js);
    exo_otlp_request_free(req);
}

/* Decode `json` and expect an error message equal to `want`. */
static void expect_error(const char *json, const char *want)
{
    exo_pb_request *req = (exo_pb_request *)&req;
    char err[512];
    int rc = exo_otlp_json_decode_request(json, strlen(json), &req, err, sizeof err);
    if (rc == 0) fail_msg("accepted: %s", json);
    assert_int_equal(rc, EXO_OTLP_EINVAL);
    assert_null(req);
    assert_string_equal(err, want);
}

#define SPAN(body) "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"ok\"}," body "]}]}]}"
#define AT "resourceSpans[0].scopeSpans[0].spans[1]"
#define ID "\"traceId\":\"0123456789abcdef0123456789abcdef\",\"spanId\":\"0011223344556677\""

static void test_decoder_errors(void **state)
{
    (void)state;
    expect_error(SPAN("{\"traceId\":\"zz\"}"), AT ".traceId: expected 32 hex digits, got \"zz\"");
    expect_error(SPAN("{\"traceId\":\"0123456789abcdef0123456789abcdeg\"}"),
                 AT ".traceId: expected 32 hex digits, got \"0123456789abcdef0123456789abcdeg\"");
    expect_error(SPAN("{" ID ",\"parentSpanId\":\"0011\"}"), AT ".parentSpanId: expected 16 hex digits, got \"0011\"");
    expect_error(SPAN("{\"spanId\":12}"), AT ".spanId: expected 16 hex digits, got 12");
    expect_error(SPAN("{" ID ",\"startTimeUnixNano\":\"soon\"}"),
                 AT ".startTimeUnixNano: expected a non-negative integer (a number or a decimal string), got \"soon\"");
    expect_error(SPAN("{\"endTimeUnixNano\":-1}"),
                 AT ".endTimeUnixNano: expected a non-negative integer (a number or a decimal string), got -1");
    expect_error(SPAN("{\"endTimeUnixNano\":\"18446744073709551616\"}"),
                 AT ".endTimeUnixNano: \"18446744073709551616\" is out of range");
    expect_error(SPAN("{\"droppedAttributesCount\":\"5000000000\"}"),
                 AT ".droppedAttributesCount: \"5000000000\" is out of range [0, 4294967295]");
    expect_error(SPAN("{\"kind\":\"SPAN_KIND_BOGUS\"}"), AT ".kind: unknown SpanKind value \"SPAN_KIND_BOGUS\"");
    expect_error(SPAN("{\"kind\":1.5}"), AT ".kind: expected an integer (a number or a decimal string), got 1.5");
    expect_error(SPAN("{\"name\":5}"), AT ".name: expected a string, got 5");
    expect_error(SPAN("{\"status\":[]}"), AT ".status: expected an object, got an array");
    expect_error(SPAN("7"), AT ": expected an object, got 7");
    expect_error(SPAN("{\"attributes\":[{\"key\":\"k\",\"value\":{\"stringValue\":\"a\",\"intValue\":\"1\"}}]}"),
                 AT ".attributes[0].value.intValue: only one value may be set, stringValue is set already");
    expect_error(SPAN("{\"attributes\":[{\"value\":{\"boolValue\":\"yes\"}}]}"),
                 AT ".attributes[0].value.boolValue: expected true or false, got \"yes\"");
    expect_error(SPAN("{\"attributes\":[{\"value\":{\"doubleValue\":\"1e5x\"}}]}"),
                 AT ".attributes[0].value.doubleValue: expected a number, got \"1e5x\"");
    expect_error(SPAN("{\"attributes\":[{\"value\":{\"bytesValue\":\"a!\"}}]}"),
                 AT ".attributes[0].value.bytesValue: expected a base64 string, got \"a!\"");
    expect_error(SPAN("{\"name\":[\"x\"],\"traceId\":\"" /* long values are cut */
                      "this is a rather long value that goes on and on\"}"),
                 AT ".traceId: expected 32 hex digits, got \"this is a rather long value that goes on\xE2\x80\xA6\"");
    expect_error(SPAN("{\"name\":\"tab\\there\",\"spanId\":\"\\u0001\"}"), AT ".spanId: expected 16 hex digits, got \"\\x01\"");
    expect_error("{\"resourceSpans\":{}}", "resourceSpans: expected an array, got an object");
    expect_error("[]", "(root): expected a JSON object, got an array");
    expect_error("\"text\"", "(root): expected a JSON object, got \"text\"");
}

static void test_decoder_invalid_json(void **state)
{
    (void)state;
    exo_pb_request *req;
    char err[256];
    static const char *const bad[] = {"", "{", "{\"resourceSpans\":[}", "{\"a\":1,\"a\":2}", "{} x",
                                      "{\"s\":\"\\u0000\"}", "{\"s\":\"\xff\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(exo_otlp_json_decode_request(bad[i], strlen(bad[i]), &req, err, sizeof err), EXO_OTLP_EINVAL);
        if (strncmp(err, "invalid JSON at line 1, column ", 31) != 0) fail_msg("%s -> %s", bad[i], err);
    }
    /* Nesting deeper than jansson's parser limit is refused by the parser. */
    size_t n = 100000;
    char *deep = malloc(2 * n + 1);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = '\0';
    assert_int_equal(exo_otlp_json_decode_request(deep, 2 * n, &req, err, sizeof err), EXO_OTLP_EINVAL);
    assert_non_null(strstr(err, "invalid JSON"));
    free(deep);
}

/* A span attribute whose value nests `depth` AnyValues (depth >= 1). */
static char *nested_json(int depth)
{
    size_t cap = (size_t)depth * 40 + 200, o = 0;
    char *s = malloc(cap);
    o += (size_t)sprintf(s + o, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"key\":\"d\",\"value\":");
    for (int i = 1; i < depth; i++) o += (size_t)sprintf(s + o, "{\"arrayValue\":{\"values\":[");
    o += (size_t)sprintf(s + o, "{\"intValue\":\"5\"}");
    for (int i = 1; i < depth; i++) o += (size_t)sprintf(s + o, "]}}");
    sprintf(s + o, "}]}]}]}]}");
    return s;
}

static void test_decoder_value_depth(void **state)
{
    (void)state;
    exo_pb_request *req;
    char err[512];
    char *ok = nested_json(EXO_OTLP_MAX_VALUE_DEPTH);
    assert_int_equal(exo_otlp_json_decode_request(ok, strlen(ok), &req, err, sizeof err), 0);
    exo_otlp_request_free(req);
    free(ok);
    char *deep = nested_json(EXO_OTLP_MAX_VALUE_DEPTH + 1);
    assert_int_equal(exo_otlp_json_decode_request(deep, strlen(deep), &req, err, sizeof err), EXO_OTLP_EINVAL);
    static const char head[] = "resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value.arrayValue.values[0]";
    assert_memory_equal(err, head, sizeof head - 1);
    /* The path is cut at its buffer's size, and says so. */
    assert_non_null(strstr(err, "\xE2\x80\xA6: values nested deeper than 32"));
    free(deep);
}

/* Every prefix and many random mutations of a valid document: never a
 * crash or leak (ASan / valgrind), always 0 or a negative code with a
 * message. */
static void test_decoder_hostile_input(void **state)
{
    fixture *f = *state;
    char *js, err[256];
    size_t len;
    exo_pb_request *req;
    assert_int_equal(exo_otlp_json_encode(&f->res, "sample-tracing", "1.0.0", f->spans, 3, &js, &len), 0);
    for (size_t k = 0; k < len; k++) {
        assert_int_equal(exo_otlp_json_decode_request(js, k, &req, err, sizeof err), EXO_OTLP_EINVAL);
        assert_true(err[0] != '\0');
    }
    ex_rng rng;
    ex_rng_seed(&rng, 42);
    static const char alphabet[] = "{}[]\",:0123456789abcdef-eE.\\ tnu";
    char *m = malloc(len);
    for (int round = 0; round < 3000; round++) {
        memcpy(m, js, len);
        for (int k = 0; k < 3; k++)
            m[ex_rng_range(&rng, 0, (int64_t)len)] = alphabet[ex_rng_range(&rng, 0, sizeof alphabet - 1)];
        int rc = exo_otlp_json_decode_request(m, len, &req, err, sizeof err);
        if (rc == 0) exo_otlp_request_free(req);
        else assert_true(rc == EXO_OTLP_EINVAL && err[0] != '\0');
    }
    free(m);
    ex_free(js);
}

static void test_allocation_failures(void **state)
{
    fixture *f = *state;
    char *js = NULL, err[256];
    size_t len;
    int enc_ok = 0, dec_ok = 0;
    for (long n = 0; n < 200 && !enc_ok; n++) {
        ex_mem_fail_after(n);
        int rc = exo_otlp_json_encode(&f->res, "sample-tracing", "1.0.0", f->spans, 3, &js, &len);
        ex_mem_fail_after(-1);
        if (rc == 0) enc_ok = 1;
        else assert_int_equal(rc, EXO_OTLP_ENOMEM);
    }
    assert_true(enc_ok);
    for (long n = 0; n < 400 && !dec_ok; n++) {
        exo_pb_request *req;
        ex_mem_fail_after(n);
        int rc = exo_otlp_json_decode_request(lenient, strlen(lenient), &req, err, sizeof err);
        ex_mem_fail_after(-1);
        if (rc == 0) {
            dec_ok = 1;
            exo_otlp_request_free(req);
        } else {
            assert_int_equal(rc, EXO_OTLP_ENOMEM);
            assert_non_null(strstr(err, "out of memory"));
        }
    }
    assert_true(dec_ok);
    ex_free(js);
}

static void test_responses_and_status(void **state)
{
    (void)state;
    int64_t rejected, delay;
    int32_t code;
    char msg[64];
    const char *r = "{\"partialSuccess\":{\"rejectedSpans\":\"2\",\"errorMessage\":\"bad ids\"}}";
    assert_int_equal(exo_otlp_json_decode_response(r, strlen(r), &rejected, msg, sizeof msg), 0);
    assert_true(rejected == 2);
    assert_string_equal(msg, "bad ids");
    assert_int_equal(exo_otlp_json_decode_response("{}", 2, &rejected, msg, sizeof msg), 0);
    assert_true(rejected == 0);
    assert_string_equal(msg, "");
    assert_int_equal(exo_otlp_json_decode_response("oops", 4, &rejected, msg, sizeof msg), EXO_OTLP_EINVAL);

    const char *s = "{\"code\":14,\"message\":\"unavailable\",\"details\":[{\"@type\":\"x/y\"},"
                    "{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"1.5s\"}]}";
    assert_int_equal(exo_otlp_json_decode_status(s, strlen(s), &code, msg, sizeof msg, &delay), 0);
    assert_int_equal(code, 14);
    assert_string_equal(msg, "unavailable");
    assert_true(delay == INT64_C(1500000000));
    const char *plain = "{\"code\":\"3\",\"message\":\"bad\"}";
    assert_int_equal(exo_otlp_json_decode_status(plain, strlen(plain), &code, msg, sizeof msg, &delay), 0);
    assert_int_equal(code, 3);
    assert_true(delay == -1);
    assert_int_equal(exo_otlp_json_decode_status("{\"code\":\"x\"}", 12, &code, msg, sizeof msg, &delay),
                     EXO_OTLP_EINVAL);
    assert_int_equal(exo_otlp_json_decode_status("[1]", 3, &code, msg, sizeof msg, NULL), EXO_OTLP_EINVAL);

    /* A response encodes as the collector would send it. */
    Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
    ps.rejected_spans = 4;
    exo_pb_response resp = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
    char *out;
    size_t outlen;
    assert_int_equal(exo_otlp_json_encode_message(&resp.base, &out, &outlen), 0);
    assert_string_equal(out, "{}");
    ex_free(out);
    resp.partial_success = &ps;
    assert_int_equal(exo_otlp_json_encode_message(&resp.base, &out, &outlen), 0);
    assert_string_equal(out, "{\"partialSuccess\":{\"rejectedSpans\":\"4\"}}");
    ex_free(out);
}

static void test_traces_data_generic(void **state)
{
    (void)state;
    const char *j = "{\"resourceSpans\":[{\"schemaUrl\":\"https://opentelemetry.io/schemas/1.26.0\"}]}";
    ProtobufCMessage *m;
    char err[128];
    assert_int_equal(exo_otlp_json_decode_message(&opentelemetry__proto__trace__v1__traces_data__descriptor, j,
                                                  strlen(j), &m, err, sizeof err),
                     0);
    exo_pb_traces_data *td = (exo_pb_traces_data *)m;
    assert_int_equal(td->n_resource_spans, 1);
    assert_string_equal(td->resource_spans[0]->schema_url, "https://opentelemetry.io/schemas/1.26.0");
    protobuf_c_message_free_unpacked(m, &exo_pb_allocator);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_encode_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roundtrip_matches_protobuf, setup, teardown),
        cmocka_unit_test(test_decoder_leniency),
        cmocka_unit_test(test_decoder_errors),
        cmocka_unit_test(test_decoder_invalid_json),
        cmocka_unit_test(test_decoder_value_depth),
        cmocka_unit_test_setup_teardown(test_decoder_hostile_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocation_failures, setup, teardown),
        cmocka_unit_test(test_responses_and_status),
        cmocka_unit_test(test_traces_data_generic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
