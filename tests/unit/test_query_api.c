/* test_query_api.c — the query API's pure pieces (src/store/query_*.c):
 * trace id parsing and padding, logfmt tags, Tempo's JSON for a fixed
 * trace (base64 ids, enum names, int64 strings) and its protobuf; then the
 * routes through sq_handle over a real database in a temp dir (no
 * sockets: the HTTP side is in tests/integration/test_store_query.c). */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/mem.h"
#include "otel/otlp_json.h"
#include "core/clock.h"
#include "store/query_api.h"
#include "store/query_int.h"
#include "store_fixture.h"
#include "tempopb/tempo.pb-c.h"

/* ---- trace ids ---------------------------------------------------------- */

static void test_trace_id_parse(void **state)
{
    (void)state;
    uint8_t id[16];
    char why[256];
    assert_int_equal(sq_trace_id_parse("5b8efff798038103d269b633813fc60c", id, why, sizeof why), 0);
    assert_int_equal(id[0], 0x5b);
    assert_int_equal(id[15], 0x0c);
    assert_int_equal(sq_trace_id_parse("ABC", id, why, sizeof why), 0);
    for (int i = 0; i < 14; i++) assert_int_equal(id[i], 0);
    assert_int_equal(id[14], 0x0a);
    assert_int_equal(id[15], 0xbc);
    assert_int_equal(sq_trace_id_parse("1", id, why, sizeof why), 0);
    assert_int_equal(id[15], 1);
    assert_int_equal(sq_trace_id_parse("", id, why, sizeof why), -1);
    assert_string_equal(why, "trace id \"\": expected 1 to 32 hex digits");
    assert_int_equal(sq_trace_id_parse("xyz", id, why, sizeof why), -1);
    assert_string_equal(why, "trace id \"xyz\": not hexadecimal");
    assert_int_equal(sq_trace_id_parse("0123456789abcdef0123456789abcdef0", id, why, sizeof why), -1);
    assert_string_equal(why, "trace id \"0123456789abcdef0123456789abcdef0\": longer than 32 hex digits");
    assert_int_equal(sq_trace_id_parse("12 4", id, why, sizeof why), -1);
    assert_string_equal(why, "trace id \"12 4\": not hexadecimal");
}

/* ---- logfmt tags ---------------------------------------------------------- */

static void test_tags_parse(void **state)
{
    (void)state;
    sq_tags t;
    char err[256];
    assert_int_equal(sq_tags_parse("service.name=Tracing.Worker  k2=\"v 2\" e=\"a\\\"b\\\\c\" empty=", &t, err,
                                   sizeof err),
                     0);
    assert_int_equal(t.n, 4);
    assert_string_equal(t.items[0].key, "service.name");
    assert_string_equal(t.items[0].value, "Tracing.Worker");
    assert_string_equal(t.items[1].key, "k2");
    assert_string_equal(t.items[1].value, "v 2");
    assert_string_equal(t.items[2].value, "a\"b\\c");
    assert_string_equal(t.items[3].key, "empty");
    assert_string_equal(t.items[3].value, "");
    sq_tags_free(&t);
    assert_int_equal(sq_tags_parse("   ", &t, err, sizeof err), 0);
    assert_int_equal(t.n, 0);
    sq_tags_free(&t);

    assert_int_equal(sq_tags_parse("a=1 novalue", &t, err, sizeof err), -1);
    assert_string_equal(err, "position 12: expected \"=\" after the tag name");
    assert_int_equal(t.n, 0);
    assert_int_equal(sq_tags_parse("=x", &t, err, sizeof err), -1);
    assert_string_equal(err, "position 1: expected a tag name");
    assert_int_equal(sq_tags_parse("a=\"open", &t, err, sizeof err), -1);
    assert_string_equal(err, "position 3: unterminated quoted value");
    assert_int_equal(sq_tags_parse("a=\"x\"y", &t, err, sizeof err), -1);
    assert_string_equal(err, "position 6: expected a space after the quoted value");
    char many[400] = "";
    for (int i = 0; i < 33; i++) snprintf(many + strlen(many), sizeof many - strlen(many), "k%d=v ", i);
    assert_int_equal(sq_tags_parse(many, &t, err, sizeof err), -1);
    assert_string_equal(err, "position 183: more than 32 tags");
}

/* ---- JSON and protobuf of a fixed trace ----------------------------------- */

#define TRACE_HEX "5b8efff798038103d269b633813fc60c"
#define T_START "1720162676123456700"

static const char fixture[] =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
    "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"Tracing.Worker\"}},"
    "{\"key\":\"n\",\"value\":{\"intValue\":\"7\"}}]},"
    "\"scopeSpans\":[{\"scope\":{\"name\":\"sample-tracing\",\"version\":\"1.0.0\"},\"spans\":["
    "{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"eee19b7ec3c1b174\",\"name\":\"Workflow\",\"kind\":1,"
    "\"startTimeUnixNano\":\"" T_START "\",\"endTimeUnixNano\":\"1720162976123456700\","
    "\"attributes\":[{\"key\":\"workflowId\",\"value\":{\"stringValue\":\"wf \\\"1\\\"\"}},"
    "{\"key\":\"ratio\",\"value\":{\"doubleValue\":0.5}},{\"key\":\"ok\",\"value\":{\"boolValue\":true}}],"
    "\"events\":[{\"timeUnixNano\":\"" T_START "\",\"name\":\"Submitted\"}],"
    "\"status\":{\"code\":2,\"message\":\"Entity failed: Processor\"}},"
    "{\"traceId\":\"" TRACE_HEX "\",\"spanId\":\"00f067aa0ba902b7\",\"parentSpanId\":\"eee19b7ec3c1b174\","
    "\"name\":\"DataLoader\",\"kind\":3,\"startTimeUnixNano\":\"1720162681000000000\","
    "\"endTimeUnixNano\":\"1720162781000000000\",\"status\":{}}]}]}]}";

/* What Tempo (gogo jsonpb) writes for the fixture's ResourceSpans. */
static const char expected_batch[] =
    "{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"Tracing.Worker\"}},"
    "{\"key\":\"n\",\"value\":{\"intValue\":\"7\"}}]},"
    "\"scopeSpans\":[{\"scope\":{\"name\":\"sample-tracing\",\"version\":\"1.0.0\"},\"spans\":["
    "{\"traceId\":\"W47/95gDgQPSabYzgT/GDA==\",\"spanId\":\"7uGbfsPBsXQ=\",\"name\":\"Workflow\","
    "\"kind\":\"SPAN_KIND_INTERNAL\",\"startTimeUnixNano\":\"" T_START "\","
    "\"endTimeUnixNano\":\"1720162976123456700\",\"attributes\":["
    "{\"key\":\"workflowId\",\"value\":{\"stringValue\":\"wf \\\"1\\\"\"}},"
    "{\"key\":\"ratio\",\"value\":{\"doubleValue\":0.5}},{\"key\":\"ok\",\"value\":{\"boolValue\":true}}],"
    "\"events\":[{\"timeUnixNano\":\"" T_START "\",\"name\":\"Submitted\"}],"
    "\"status\":{\"message\":\"Entity failed: Processor\",\"code\":\"STATUS_CODE_ERROR\"}},"
    "{\"traceId\":\"W47/95gDgQPSabYzgT/GDA==\",\"spanId\":\"APBnqgupArc=\",\"parentSpanId\":\"7uGbfsPBsXQ=\","
    "\"name\":\"DataLoader\",\"kind\":\"SPAN_KIND_CLIENT\",\"startTimeUnixNano\":\"1720162681000000000\","
    "\"endTimeUnixNano\":\"1720162781000000000\",\"status\":{}}]}]}";

static exo_pb_traces_data *load_fixture(void)
{
    ProtobufCMessage *m = NULL;
    char err[256];
    int rc = exo_otlp_json_decode_message(&opentelemetry__proto__trace__v1__traces_data__descriptor, fixture,
                                          strlen(fixture), &m, err, sizeof err);
    if (rc != 0) fail_msg("fixture: %s", err);
    return (exo_pb_traces_data *)m;
}

static void test_trace_json(void **state)
{
    (void)state;
    exo_pb_traces_data *td = load_fixture();
    char *out = NULL;
    size_t len = 0;
    char want[4096];

    assert_int_equal(sq_trace_json(td, 1, 0, &out, &len), 0);
    snprintf(want, sizeof want, "{\"batches\":[%s]}", expected_batch);
    assert_string_equal(out, want);
    assert_int_equal(len, strlen(want));
    ex_free(out);

    assert_int_equal(sq_trace_json(td, 2, 1234, &out, &len), 0);
    snprintf(want, sizeof want, "{\"trace\":{\"resourceSpans\":[%s]},\"metrics\":{\"inspectedBytes\":\"1234\"}}",
             expected_batch);
    assert_string_equal(out, want);
    ex_free(out);

    exo_pb_traces_data empty = OPENTELEMETRY__PROTO__TRACE__V1__TRACES_DATA__INIT;
    assert_int_equal(sq_trace_json(&empty, 2, 0, &out, &len), 0);
    assert_string_equal(out, "{\"trace\":{\"resourceSpans\":[]}}");
    ex_free(out);
    protobuf_c_message_free_unpacked(&td->base, &exo_pb_allocator);
}

static void test_trace_json_escapes_and_numbers(void **state)
{
    (void)state;
    static const char doc[] =
        "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"" TRACE_HEX "\","
        "\"spanId\":\"0000000000000001\",\"name\":\"a\\u0001\\n\\t\\\\\\u00e9\",\"kind\":9,"
        "\"attributes\":[{\"key\":\"d\",\"value\":{\"doubleValue\":0.1}},{\"key\":\"i\",\"value\":{\"intValue\":\"-5\"}},"
        "{\"key\":\"b\",\"value\":{\"bytesValue\":\"AAEC\"}},{\"key\":\"z\",\"value\":{\"intValue\":\"0\"}},"
        "{\"key\":\"arr\",\"value\":{\"arrayValue\":{\"values\":[{\"boolValue\":false}]}}}]}]}]}]}";
    ProtobufCMessage *m = NULL;
    char err[256];
    assert_int_equal(exo_otlp_json_decode_message(&opentelemetry__proto__trace__v1__traces_data__descriptor, doc,
                                                  strlen(doc), &m, err, sizeof err),
                     0);
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(sq_trace_json((exo_pb_traces_data *)m, 1, 0, &out, &len), 0);
    /* Controls escaped, UTF-8 kept; an unknown enum value as a number;
     * oneof members written even at their default (0, false). */
    assert_string_equal(out,
                        "{\"batches\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"W47/95gDgQPSabYzgT/GDA==\","
                        "\"spanId\":\"AAAAAAAAAAE=\",\"name\":\"a\\u0001\\n\\t\\\\\xc3\xa9\",\"kind\":9,"
                        "\"attributes\":[{\"key\":\"d\",\"value\":{\"doubleValue\":0.1}},"
                        "{\"key\":\"i\",\"value\":{\"intValue\":\"-5\"}},{\"key\":\"b\",\"value\":{\"bytesValue\":"
                        "\"AAEC\"}},{\"key\":\"z\",\"value\":{\"intValue\":\"0\"}},{\"key\":\"arr\",\"value\":"
                        "{\"arrayValue\":{\"values\":[{\"boolValue\":false}]}}}]}]}]}]}");
    ex_free(out);
    protobuf_c_message_free_unpacked(m, &exo_pb_allocator);
}

static void test_trace_proto(void **state)
{
    (void)state;
    exo_pb_traces_data *td = load_fixture();
    uint8_t *buf = NULL;
    size_t len = 0;

    assert_int_equal(sq_trace_proto(td, 1, 0, &buf, &len), 0);
    Tempopb__Trace *t = tempopb__trace__unpack(NULL, len, buf);
    assert_non_null(t);
    assert_int_equal(t->n_resource_spans, 1);
    assert_int_equal(t->resource_spans[0]->scope_spans[0]->n_spans, 2);
    assert_string_equal(t->resource_spans[0]->scope_spans[0]->spans[1]->name, "DataLoader");
    tempopb__trace__free_unpacked(t, NULL);
    /* Same bytes as an OTLP TracesData (Tempo's v1 clients read either). */
    size_t td_len = protobuf_c_message_get_packed_size(&td->base);
    uint8_t *td_buf = malloc(td_len);
    protobuf_c_message_pack(&td->base, td_buf);
    assert_int_equal(td_len, len);
    assert_memory_equal(td_buf, buf, len);
    free(td_buf);
    ex_free(buf);

    assert_int_equal(sq_trace_proto(td, 2, 99, &buf, &len), 0);
    Tempopb__TraceByIDResponse *r = tempopb__trace_by_idresponse__unpack(NULL, len, buf);
    assert_non_null(r);
    assert_non_null(r->trace);
    assert_int_equal(r->status, TEMPOPB__PARTIAL_STATUS__COMPLETE);
    assert_non_null(r->metrics);
    assert_int_equal(r->metrics->inspected_bytes, 99);
    const exo_pb_span *s = r->trace->resource_spans[0]->scope_spans[0]->spans[0];
    assert_int_equal(s->trace_id.len, 16);
    assert_int_equal(s->trace_id.data[0], 0x5b);
    assert_string_equal(s->status->message, "Entity failed: Processor");
    tempopb__trace_by_idresponse__free_unpacked(r, NULL);
    ex_free(buf);
    protobuf_c_message_free_unpacked(&td->base, &exo_pb_allocator);
}

/* ---- routes over a real database ---------------------------------------------- */

typedef struct world {
    char dir[64];
    sdb *db;
    sq_ctx *ctx;
    ex_http_resp resp;
} world;

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void ingest(sdb *db, const char *tenant, const char *json)
{
    exo_pb_request *req = NULL;
    char err[256];
    if (exo_otlp_json_decode_request(json, strlen(json), &req, err, sizeof err) != 0) fail_msg("%s", err);
    sdb_ingest_result res;
    assert_int_equal(sdb_ingest(db, tenant, req, &res), 0);
    assert_int_equal(res.rejected, 0);
    exo_otlp_request_free(req);
}

static int world_setup(void **state)
{
    world *w = calloc(1, sizeof *w);
    strcpy(w->dir, "/tmp/test_query_api.XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    char err[256];
    w->db = sdb_open(w->dir, err, sizeof err);
    if (!w->db) fail_msg("%s", err);
    ingest(w->db, NULL, fixture);
    /* The same trace id under another tenant, with another root. */
    char other[sizeof fixture + 16];
    snprintf(other, sizeof other, "%s", fixture);
    char *p = strstr(other, "Tracing.Worker");
    memcpy(p, "Acme.Service!!", 14);
    ingest(w->db, "acme", other);
    w->ctx = sq_ctx_new(w->db);
    *state = w;
    return 0;
}

static int world_teardown(void **state)
{
    world *w = *state;
    tf_resp_free(&w->resp);
    sq_ctx_free(w->ctx);
    sdb_close(w->db);
    nftw(w->dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
    free(w);
    return 0;
}

/* Handle one request; returns the status (0 when not routed). */
static int call(world *w, const char *method, const char *path, const char *const *args, const char *const *headers)
{
    return tf_sq_call(w->ctx, method, path, args, headers, &w->resp);
}

static json_t *body_json(world *w)
{
    json_error_t e;
    json_t *j = json_loadb(w->resp.body, w->resp.body_len, 0, &e);
    if (!j) fail_msg("not JSON (%s): %.*s", e.text, (int)w->resp.body_len, w->resp.body);
    return j;
}

static void test_routes_basic(void **state)
{
    world *w = *state;
    assert_int_equal(call(w, "GET", "/api/echo", NULL, NULL), 200);
    assert_string_equal(w->resp.body, "echo");
    assert_int_equal(call(w, "GET", "/ready", NULL, NULL), 200);
    assert_int_equal(call(w, "GET", "/nope", NULL, NULL), 0);
    assert_int_equal(call(w, "GET", "/api/traces/a/b", NULL, NULL), 0);
    assert_int_equal(call(w, "POST", "/api/search", NULL, NULL), 405);
    assert_string_equal(w->resp.header_names[0], "Allow");
    assert_string_equal(w->resp.header_values[0], "GET, HEAD");
    assert_int_equal(call(w, "DELETE", "/api/traces/" TRACE_HEX, NULL, NULL), 405);
    assert_int_equal(call(w, "GET", "/api/status/buildinfo", NULL, NULL), 200);
    json_t *j = body_json(w);
    assert_string_equal(json_string_value(json_object_get(j, "version")), EXTRACE_VERSION);
    const char *keys[] = {"revision", "branch", "buildDate", "buildUser", "goVersion"};
    for (size_t i = 0; i < 5; i++) assert_true(json_is_string(json_object_get(j, keys[i])));
    json_decref(j);
}

static void test_routes_trace(void **state)
{
    world *w = *state;
    assert_int_equal(call(w, "GET", "/api/traces/" TRACE_HEX, NULL, NULL), 200);
    assert_string_equal(w->resp.content_type, "application/json");
    json_t *j = body_json(w);
    json_t *span = json_array_get(
        json_object_get(json_array_get(json_object_get(json_array_get(json_object_get(j, "batches"), 0), "scopeSpans"),
                                       0),
                        "spans"),
        0);
    assert_string_equal(json_string_value(json_object_get(span, "traceId")), "W47/95gDgQPSabYzgT/GDA==");
    assert_string_equal(json_string_value(json_object_get(span, "name")), "Workflow");
    json_decref(j);

    static const char *const proto[] = {"Accept: application/protobuf", NULL};
    assert_int_equal(call(w, "GET", "/api/v2/traces/" TRACE_HEX, NULL, proto), 200);
    assert_string_equal(w->resp.content_type, "application/protobuf");
    Tempopb__TraceByIDResponse *r =
        tempopb__trace_by_idresponse__unpack(NULL, w->resp.body_len, (const uint8_t *)w->resp.body);
    assert_non_null(r);
    assert_int_equal(r->trace->n_resource_spans, 1);
    assert_true(r->metrics->inspected_bytes > 0);
    tempopb__trace_by_idresponse__free_unpacked(r, NULL);

    assert_int_equal(call(w, "GET", "/api/traces/zz", NULL, NULL), 400);
    assert_string_equal(w->resp.body, "trace id \"zz\": not hexadecimal\n");
    assert_int_equal(call(w, "GET", "/api/traces/", NULL, NULL), 400);
    assert_int_equal(call(w, "GET", "/api/traces/abc", NULL, NULL), 404);
    assert_string_equal(w->resp.body, "trace not found: abc\n");
    static const char *const early[] = {"end=1000", NULL};
    assert_int_equal(call(w, "GET", "/api/traces/" TRACE_HEX, early, NULL), 404);
    /* 0 means "not given" (Tempo's reading): any time. */
    static const char *const zeros[] = {"start=0", "end=0", NULL};
    assert_int_equal(call(w, "GET", "/api/v2/traces/" TRACE_HEX, zeros, NULL), 200);
    static const char *const badstart[] = {"start=yesterday", NULL};
    assert_int_equal(call(w, "GET", "/api/traces/" TRACE_HEX, badstart, NULL), 400);
    assert_string_equal(w->resp.body,
                        "start=\"yesterday\": expected unix seconds (an integer from 0 to 9000000000)\n");
    const sq_stats *st = sq_ctx_stats(w->ctx);
    assert_int_equal(st->bad_requests, 3);
    assert_int_equal(st->not_found, 2);
}

static void test_routes_search_and_tenants(void **state)
{
    world *w = *state;
    static const char *const q1[] = {"q={status=error} | select(span.workflowId)", NULL};
    assert_int_equal(call(w, "GET", "/api/search", q1, NULL), 200);
    json_t *j = body_json(w);
    json_t *tr = json_array_get(json_object_get(j, "traces"), 0);
    assert_int_equal(json_array_size(json_object_get(j, "traces")), 1);
    assert_string_equal(json_string_value(json_object_get(tr, "traceID")), TRACE_HEX);
    assert_string_equal(json_string_value(json_object_get(tr, "rootServiceName")), "Tracing.Worker");
    assert_string_equal(json_string_value(json_object_get(tr, "rootTraceName")), "Workflow");
    assert_string_equal(json_string_value(json_object_get(tr, "startTimeUnixNano")), T_START);
    assert_int_equal(json_integer_value(json_object_get(tr, "durationMs")), 300000);
    json_t *ss = json_array_get(json_object_get(tr, "spanSets"), 0);
    assert_int_equal(json_integer_value(json_object_get(ss, "matched")), 1);
    json_t *sp = json_array_get(json_object_get(ss, "spans"), 0);
    assert_string_equal(json_string_value(json_object_get(sp, "spanID")), "eee19b7ec3c1b174");
    assert_string_equal(json_string_value(json_object_get(sp, "durationNanos")), "300000000000");
    json_t *attrs = json_object_get(sp, "attributes");
    assert_int_equal(json_array_size(attrs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(attrs, 0), "key")), "status");
    assert_string_equal(json_string_value(json_object_get(json_array_get(attrs, 1), "key")), "workflowId");
    assert_true(json_equal(ss, json_object_get(tr, "spanSet")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "metrics"), "inspectedTraces")), 1);
    json_decref(j);

    static const char *const acme[] = {"X-Scope-OrgID: acme", NULL};
    static const char *const q2[] = {"q={resource.service.name=\"Tracing.Worker\"}", NULL};
    assert_int_equal(call(w, "GET", "/api/search", q2, acme), 200);
    j = body_json(w);
    assert_int_equal(json_array_size(json_object_get(j, "traces")), 0);
    json_decref(j);
    static const char *const q3[] = {"q={}", "tags=service.name=Acme.Service!!", NULL};
    assert_int_equal(call(w, "GET", "/api/search", q3, acme), 200);
    j = body_json(w);
    assert_int_equal(json_array_size(json_object_get(j, "traces")), 1);
    json_decref(j);
    static const char *const badtenant[] = {"X-Scope-OrgID: a b", NULL};
    assert_int_equal(call(w, "GET", "/api/search", NULL, badtenant), 400);
    assert_non_null(strstr(w->resp.body, "X-Scope-OrgID: "));

    static const char *const bad[] = {"q={ name = }", NULL};
    assert_int_equal(call(w, "GET", "/api/search", bad, NULL), 400);
    assert_string_equal(w->resp.body,
                        "invalid TraceQL query q=\"{ name = }\": position 10: expected a value (a string, number, "
                        "duration, true, false, nil, ok, error, unset or a span kind), got \"}\"\n");
    static const char *const badlimit[] = {"limit=-1", NULL};
    assert_int_equal(call(w, "GET", "/api/search", badlimit, NULL), 400);
    assert_string_equal(w->resp.body, "limit=\"-1\": expected an integer from 0 to 10000 (0: the default, 20)\n");
    static const char *const baddur[] = {"minDuration=5", NULL};
    assert_int_equal(call(w, "GET", "/api/search", baddur, NULL), 400);
    assert_string_equal(w->resp.body,
                        "minDuration=\"5\": missing unit (use ns, us, ms, s, m or h) (a duration such as 100ms, 1.5s "
                        "or 2m)\n");
    static const char *const badrange[] = {"start=2000", "end=1000", NULL};
    assert_int_equal(call(w, "GET", "/api/search", badrange, NULL), 400);
    assert_string_equal(w->resp.body, "end=1000 is before start=2000\n");
    static const char *const badtags[] = {"tags=a", NULL};
    assert_int_equal(call(w, "GET", "/api/search", badtags, NULL), 400);
    assert_string_equal(w->resp.body, "tags=\"a\": position 2: expected \"=\" after the tag name\n");
}

/* The UI's own route: counts, one page of rows, 400s naming the value. */
static void test_routes_ui_workflows(void **state)
{
    world *w = *state;
    static const char *const q1[] = {"sort=duration", "order=asc", "id=WF", "limit=5", NULL};
    assert_int_equal(call(w, "GET", "/api/ui/workflows", q1, NULL), 200);
    json_t *j = body_json(w);
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "limit")), 5);
    json_t *c = json_object_get(j, "counts");
    assert_int_equal(json_integer_value(json_object_get(c, "total")), 1);
    assert_int_equal(json_integer_value(json_object_get(c, "error")), 1);
    assert_int_equal(json_integer_value(json_object_get(c, "ok")), 0);
    json_t *r = json_array_get(json_object_get(j, "workflows"), 0);
    assert_string_equal(json_string_value(json_object_get(r, "traceID")), TRACE_HEX);
    assert_string_equal(json_string_value(json_object_get(r, "workflowId")), "wf \"1\"");
    assert_string_equal(json_string_value(json_object_get(r, "result")), "error");
    assert_int_equal(json_integer_value(json_object_get(r, "statusCode")), 2);
    assert_string_equal(json_string_value(json_object_get(r, "statusMessage")), "Entity failed: Processor");
    assert_string_equal(json_string_value(json_object_get(r, "startTimeUnixNano")), T_START);
    assert_string_equal(json_string_value(json_object_get(r, "endTimeUnixNano")), "1720162976123456700");
    assert_string_equal(json_string_value(json_object_get(r, "durationNanos")), "300000000000");
    json_decref(j);
    /* Filtered out: by status (counts stay), by prefix, by tenant (its root is another service's). */
    static const char *const q2[] = {"status=ok", NULL};
    assert_int_equal(call(w, "GET", "/api/ui/workflows", q2, NULL), 200);
    j = body_json(w);
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "counts"), "total")), 1);
    assert_int_equal(json_array_size(json_object_get(j, "workflows")), 0);
    json_decref(j);
    static const char *const acme[] = {"X-Scope-OrgID: acme", NULL};
    assert_int_equal(call(w, "GET", "/api/ui/workflows", NULL, acme), 200);
    j = body_json(w);
    assert_int_equal(json_integer_value(json_object_get(j, "total")), 0);
    json_decref(j);

    static const struct { const char *arg, *msg; } bad[] = {
        {"sort=size", "sort=\"size\": expected start, end, duration, status, id, message or namespace\n"},
        {"order=up", "order=\"up\": expected asc or desc\n"},
        {"status=failed", "status=\"failed\": expected ok, error, timeout or unset\n"},
        {"limit=1001", "limit=\"1001\": expected an integer from 0 to 1000 (0: the default, 50)\n"},
        {"offset=x", "offset=\"x\": expected an integer from 0 to 1000000000 (0: the default, 0)\n"},
        {"start=soon", "start=\"soon\": expected unix seconds (an integer from 0 to 9000000000)\n"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *const args[] = {bad[i].arg, NULL};
        assert_int_equal(call(w, "GET", "/api/ui/workflows", args, NULL), 400);
        assert_string_equal(w->resp.body, bad[i].msg);
    }
    assert_int_equal(call(w, "POST", "/api/ui/workflows", NULL, NULL), 405);
}

static void test_routes_tags(void **state)
{
    world *w = *state;
    assert_int_equal(call(w, "GET", "/api/search/tags", NULL, NULL), 200);
    json_t *j = body_json(w);
    json_t *names = json_object_get(j, "tagNames");
    int found = 0;
    for (size_t i = 0; i < json_array_size(names); i++)
        found += strcmp(json_string_value(json_array_get(names, i)), "workflowId") == 0 ||
                 strcmp(json_string_value(json_array_get(names, i)), "service.name") == 0;
    assert_int_equal(found, 2);
    json_decref(j);

    static const char *const scope[] = {"scope=intrinsic", NULL};
    assert_int_equal(call(w, "GET", "/api/v2/search/tags", scope, NULL), 200);
    j = body_json(w);
    json_t *scopes = json_object_get(j, "scopes");
    assert_int_equal(json_array_size(scopes), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(scopes, 0), "name")), "intrinsic");
    json_decref(j);
    static const char *const badscope[] = {"scope=nope", NULL};
    assert_int_equal(call(w, "GET", "/api/v2/search/tags", badscope, NULL), 400);

    assert_int_equal(call(w, "GET", "/api/v2/search/tag/resource.service.name/values", NULL, NULL), 200);
    assert_string_equal(w->resp.body, "{\"tagValues\":[{\"type\":\"string\",\"value\":\"Tracing.Worker\"}]}");
    assert_int_equal(call(w, "GET", "/api/v2/search/tag/status/values", NULL, NULL), 200);
    assert_string_equal(w->resp.body, "{\"tagValues\":[{\"type\":\"keyword\",\"value\":\"error\"},"
                                      "{\"type\":\"keyword\",\"value\":\"ok\"},"
                                      "{\"type\":\"keyword\",\"value\":\"unset\"}]}");
    static const char *const q[] = {"q={kind=client}", NULL};
    assert_int_equal(call(w, "GET", "/api/v2/search/tag/name/values", q, NULL), 200);
    assert_string_equal(w->resp.body, "{\"tagValues\":[{\"type\":\"string\",\"value\":\"DataLoader\"}]}");
    assert_int_equal(call(w, "GET", "/api/search/tag/n/values", NULL, NULL), 200);
    assert_string_equal(w->resp.body, "{\"tagValues\":[\"7\"]}");
    /* The path arrives decoded: a tag name may hold '/' (Grafana sends %2F). */
    assert_int_equal(call(w, "GET", "/api/v2/search/tag/span.http/route/values", NULL, NULL), 200);
    assert_string_equal(w->resp.body, "{\"tagValues\":[]}");
    assert_int_equal(call(w, "GET", "/api/v2/search/tag/bogus/values", NULL, NULL), 400);
    assert_non_null(strstr(w->resp.body, "unknown intrinsic \"bogus\""));
}

/* The work bound of one search: bytes first, then time (injected times). */
static void test_work_limits(void **state)
{
    sq_ctx *ctx = sq_ctx_new(NULL);
    sq_limits lim = {1000, 50 * EX_NS_PER_MS};
    sq_ctx_set_limits(ctx, &lim);
    sq_work w;
    sq_work_start(&w, ctx, 0);
    assert_int_equal(sq_work_add(&w, 600, 10 * EX_NS_PER_MS), 0);
    assert_int_equal(sq_work_add(&w, 400, 20 * EX_NS_PER_MS), 1);
    assert_string_equal(w.stopped, "--query-max-bytes 1000: read 1000 bytes of spans");
    sq_work_start(&w, ctx, 100 * EX_NS_PER_MS);
    assert_int_equal(sq_work_add(&w, 1, 149 * EX_NS_PER_MS), 0);
    assert_int_equal(sq_work_add(&w, 1, 150 * EX_NS_PER_MS), 1);
    assert_string_equal(w.stopped, "--query-timeout 50ms: ran 50ms");
    ex_http_resp resp = {0};
    sq_work_report(ctx, &w, &resp);
    assert_int_equal(resp.nheaders, 1);
    assert_string_equal(resp.header_names[0], "X-Extrace-Limit");
    assert_int_equal(sq_ctx_stats(ctx)->limited, 1);
    ex_free(resp.header_values[0]);
    sq_limits none = {0, 0};
    sq_ctx_set_limits(ctx, &none);
    sq_work_start(&w, ctx, 0);
    assert_int_equal(sq_work_add(&w, UINT64_MAX / 2, INT64_MAX / 2), 0);
    sq_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_id_parse),
        cmocka_unit_test(test_tags_parse),
        cmocka_unit_test(test_trace_json),
        cmocka_unit_test(test_trace_json_escapes_and_numbers),
        cmocka_unit_test(test_trace_proto),
        cmocka_unit_test(test_work_limits),
        cmocka_unit_test_setup_teardown(test_routes_basic, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_routes_trace, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_routes_search_and_tenants, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_routes_tags, world_setup, world_teardown),
        cmocka_unit_test_setup_teardown(test_routes_ui_workflows, world_setup, world_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
