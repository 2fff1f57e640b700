/* test_store_db.c — the trace store's database (src/store/db*.c): schema,
 * every span field read back, replace on resend, tenants, retention, the
 * time-range scan and the tag index. Each test opens a fresh database in
 * its own temp dir. Requests are written as OTLP/JSON and decoded by the
 * real decoder, so what is stored is what a receiver would store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/mem.h"
#include "otel/otlp_json.h"
#include "store/db.h"
#include "store_fixture.h"
#include "support.h"

#define S (INT64_C(1000000000))
#define T0 (INT64_C(1720162676) * S)

/* A trace id whose bytes are all `b`, as hex and binary. */
static void tid(int b, char hex[33], uint8_t bin[16])
{
    for (int i = 0; i < 16; i++) {
        if (hex) snprintf(hex + 2 * i, 3, "%02x", b);
        if (bin) bin[i] = (uint8_t)b;
    }
}

static exo_pb_request *decode(const char *json)
{
    exo_pb_request *req = NULL;
    char err[256];
    if (exo_otlp_json_decode_request(json, strlen(json), &req, err, sizeof err) != 0) fail_msg("decode: %s", err);
    return req;
}

/* Ingest an OTLP/JSON request; returns the result. */
static sdb_ingest_result ingest(sdb *db, const char *tenant, const char *json)
{
    exo_pb_request *req = decode(json);
    sdb_ingest_result res;
    if (sdb_ingest(db, tenant, req, &res) != 0) fail_msg("sdb_ingest: %s", sdb_errmsg(db));
    exo_otlp_request_free(req);
    return res;
}

/* A request with one span of service `svc`: trace id bytes tb, span id
 * "00000000000000<sid>", parent "" or a span id, times in seconds after T0. */
static char *one_span(const char *svc, int tb, const char *sid, const char *parent, const char *name, int64_t start_s,
                      int64_t end_s)
{
    char hex[33];
    tid(tb, hex, NULL);
    char *out = ex_malloc(2048);
    snprintf(out, 2048,
             "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":"
             "\"%s\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"sample-tracing\"},\"spans\":[{\"traceId\":\"%s\","
             "\"spanId\":\"%s\",\"parentSpanId\":\"%s\",\"name\":\"%s\",\"kind\":1,\"startTimeUnixNano\":\"%lld\","
             "\"endTimeUnixNano\":\"%lld\",\"attributes\":[{\"key\":\"type\",\"value\":{\"stringValue\":\"%s\"}}]}]}]}]}",
             svc, hex, sid, parent, name, (long long)(T0 + start_s * S), (long long)(T0 + end_s * S), name);
    return out;
}

static void put(sdb *db, const char *tenant, const char *svc, int tb, const char *sid, const char *parent,
                const char *name, int64_t start_s, int64_t end_s)
{
    char *json = one_span(svc, tb, sid, parent, name, start_s, end_s);
    sdb_ingest_result r = ingest(db, tenant, json);
    assert_int_equal(r.accepted, 1);
    assert_int_equal(r.rejected, 0);
    ex_free(json);
}

static int64_t count_rows(const char *dir, const char *sql)
{
    char path[512];
    snprintf(path, sizeof path, "%s/traces.db", dir);
    sqlite3 *c;
    assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) != SQLITE_OK) fail_msg("%s: %s", sql, sqlite3_errmsg(c));
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(c);
    return n;
}

static void test_schema_created(void **state)
{
    const char *dir;
    sdb *db = tf_sdb_open(&dir);
    char path[512];
    snprintf(path, sizeof path, "%s/traces.db", dir);
    assert_string_equal(sdb_path(db), path);
    assert_int_equal(count_rows(dir, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
                                      " ('tenants','sources','traces','spans','tag_keys','tag_values','attr_bloom',"
                                      "'roots','mspans','dicts')"),
                     10);
    assert_int_equal(count_rows(dir, "PRAGMA user_version"), 7);
    sdb_close(db);
    /* Reopening an existing database keeps it (and WAL mode is persistent). */
    char err[256];
    db = sdb_open(dir, err, sizeof err);
    assert_non_null(db);
    sdb_close(db);
    sqlite3 *c;
    assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(c, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(c);
}

static void test_open_fails_with_reason(void **state)
{
    char err[512];
    assert_null(sdb_open("/proc/self/no/such/dir", err, sizeof err));
    assert_non_null(strstr(err, "/proc/self/no/such/dir"));
}

/* Every field OTLP defines, on the span, its events and links, the
 * resource and the scope. */
static const char full_request[] =
    "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
    "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"Tracing.Worker\"}},"
    "{\"key\":\"service.namespace\",\"value\":{\"stringValue\":\"dev1\"}}],\"droppedAttributesCount\":2},"
    "\"schemaUrl\":\"https://opentelemetry.io/schemas/1.25.0\","
    "\"scopeSpans\":[{\"scope\":{\"name\":\"sample-tracing\",\"version\":\"1.2\",\"attributes\":["
    "{\"key\":\"lib\",\"value\":{\"boolValue\":true}}],\"droppedAttributesCount\":1},\"schemaUrl\":\"s-url\","
    "\"spans\":[{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"1112131415161718\","
    "\"traceState\":\"k=v\",\"parentSpanId\":\"2122232425262728\",\"flags\":769,\"name\":\"Processor\",\"kind\":3,"
    "\"startTimeUnixNano\":\"1720162676000000001\",\"endTimeUnixNano\":\"1720162686000000002\","
    "\"attributes\":[{\"key\":\"s\",\"value\":{\"stringValue\":\"text\"}},{\"key\":\"i\",\"value\":{\"intValue\":\"-42\"}},"
    "{\"key\":\"d\",\"value\":{\"doubleValue\":2.5}},{\"key\":\"b\",\"value\":{\"boolValue\":false}},"
    "{\"key\":\"a\",\"value\":{\"arrayValue\":{\"values\":[{\"intValue\":\"1\"},{\"stringValue\":\"x\"}]}}},"
    "{\"key\":\"kv\",\"value\":{\"kvlistValue\":{\"values\":[{\"key\":\"in\",\"value\":{\"doubleValue\":1}}]}}},"
    "{\"key\":\"by\",\"value\":{\"bytesValue\":\"AAEC\"}}],\"droppedAttributesCount\":3,"
    "\"events\":[{\"timeUnixNano\":\"1720162677000000000\",\"name\":\"Processing\",\"attributes\":["
    "{\"key\":\"ev\",\"value\":{\"stringValue\":\"e1\"}}],\"droppedAttributesCount\":4},"
    "{\"timeUnixNano\":\"1720162680000000000\",\"name\":\"Failed\"}],\"droppedEventsCount\":5,"
    "\"links\":[{\"traceId\":\"a1a2a3a4a5a6a7a8a9aaabacadaeafb0\",\"spanId\":\"b1b2b3b4b5b6b7b8\",\"traceState\":\"l=1\","
    "\"attributes\":[{\"key\":\"ln\",\"value\":{\"intValue\":\"7\"}}],\"droppedAttributesCount\":6,\"flags\":1}],"
    "\"droppedLinksCount\":7,\"status\":{\"message\":\"Failed. Error code: 42\",\"code\":2}}]}]}]}";

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *b = ex_malloc(*len + 1);
    protobuf_c_message_pack(m, b);
    return b;
}

static void assert_same_message(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t la, lb;
    uint8_t *pa = pack(a, &la), *pb = pack(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(pa, pb, la);
    ex_free(pa);
    ex_free(pb);
}

static void test_every_field_read_back(void **state)
{
    sdb *db = tf_sdb_open(NULL);
    exo_pb_request *req = decode(full_request);
    sdb_ingest_result res;
    assert_int_equal(sdb_ingest(db, NULL, req, &res), 0);
    assert_int_equal(res.accepted, 1);
    uint8_t id[16];
    for (int i = 0; i < 16; i++) id[i] = (uint8_t)(i + 1);
    sdb_trace *t = NULL;
    assert_int_equal(sdb_trace_get(db, NULL, id, &t), 1);
    assert_int_equal(t->nspans, 1);
    assert_int_equal(t->data->n_resource_spans, 1);
    const exo_pb_resource_spans *in_rs = req->resource_spans[0], *out_rs = t->data->resource_spans[0];
    assert_string_equal(out_rs->schema_url, "https://opentelemetry.io/schemas/1.25.0");
    assert_same_message(&in_rs->resource->base, &out_rs->resource->base);
    assert_int_equal(out_rs->n_scope_spans, 1);
    assert_string_equal(out_rs->scope_spans[0]->schema_url, "s-url");
    assert_same_message(&in_rs->scope_spans[0]->scope->base, &out_rs->scope_spans[0]->scope->base);
    /* The whole span, ids included, is byte-for-byte what was sent. */
    assert_same_message(&in_rs->scope_spans[0]->spans[0]->base, &t->spans[0].span->base);
    assert_ptr_equal(t->spans[0].rs, out_rs);
    assert_ptr_equal(t->spans[0].ss, out_rs->scope_spans[0]);
    assert_string_equal(t->spans[0].span->status->message, "Failed. Error code: 42");
    /* Not a root: the summary has no root yet. */
    assert_null(t->summary.root_name);
    assert_null(t->summary.root_service);
    assert_true(t->summary.start_ns == INT64_C(1720162676000000001));
    assert_true(t->summary.end_ns == INT64_C(1720162686000000002));
    sdb_trace_free(t);
    exo_otlp_request_free(req);
    /* Unknown trace id: 0, not an error. */
    id[0] = 0x77;
    assert_int_equal(sdb_trace_get(db, NULL, id, &t), 0);
    assert_null(t);
    sdb_close(db);
}

static void test_grouping_and_order(void **state)
{
    sdb *db = tf_sdb_open(NULL);
    /* Two services, two spans each, sent in an order unlike start order. */
    put(db, NULL, "b-svc", 9, "0000000000000004", "0000000000000001", "Late", 40, 50);
    put(db, NULL, "a-svc", 9, "0000000000000001", "", "Workflow", 0, 60);
    put(db, NULL, "b-svc", 9, "0000000000000003", "0000000000000001", "Early", 10, 20);
    put(db, NULL, "a-svc", 9, "0000000000000002", "0000000000000001", "Mid", 30, 35);
    uint8_t id[16];
    tid(9, NULL, id);
    sdb_trace *t;
    assert_int_equal(sdb_trace_get(db, NULL, id, &t), 1);
    assert_int_equal(t->nspans, 4);
    const char *order[] = {"Workflow", "Early", "Mid", "Late"};
    for (int i = 0; i < 4; i++) assert_string_equal(t->spans[i].span->name, order[i]);
    assert_int_equal(t->data->n_resource_spans, 2);
    for (size_t i = 0; i < 2; i++) {
        const exo_pb_resource_spans *rs = t->data->resource_spans[i];
        assert_int_equal(rs->n_scope_spans, 1);
        assert_int_equal(rs->scope_spans[0]->n_spans, 2);
        const exo_pb_span *a = rs->scope_spans[0]->spans[0], *b = rs->scope_spans[0]->spans[1];
        assert_true(a->start_time_unix_nano < b->start_time_unix_nano);
    }
    assert_string_equal(t->summary.root_name, "Workflow");
    assert_string_equal(t->summary.root_service, "a-svc");
    assert_true(t->summary.start_ns == T0);
    assert_true(t->summary.end_ns == T0 + 60 * S);
    sdb_trace_free(t);
    sdb_close(db);
}

static void test_resend_replaces(void **state)
{
    const char *dir;
    sdb *db = tf_sdb_open(&dir);
    put(db, NULL, "svc", 3, "00000000000000aa", "", "Workflow", 0, 10);
    put(db, NULL, "svc", 3, "00000000000000aa", "", "Workflow", 0, 10);
    put(db, NULL, "svc", 3, "00000000000000aa", "", "Renamed", 0, 20);
    assert_int_equal(count_rows(dir, "SELECT count(*) FROM spans"), 1);
    uint8_t id[16];
    tid(3, NULL, id);
    sdb_trace *t;
    assert_int_equal(sdb_trace_get(db, NULL, id, &t), 1);
    assert_int_equal(t->nspans, 1);
    assert_string_equal(t->spans[0].span->name, "Renamed");
    assert_true(t->spans[0].span->end_time_unix_nano == (uint64_t)(T0 + 20 * S));
    assert_string_equal(t->summary.root_name, "Renamed");
    sdb_trace_free(t);
    /* The same span twice in one request is stored once, the later copy. */
    char hex[33];
    tid(4, hex, NULL);
    char json[1024];
    snprintf(json, sizeof json,
             "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"%s\",\"spanId\":\"0000000000000001\","
             "\"name\":\"first\"},{\"traceId\":\"%s\",\"spanId\":\"0000000000000001\",\"name\":\"second\"}]}]}]}",
             hex, hex);
    assert_int_equal(ingest(db, NULL, json).accepted, 2);
    assert_int_equal(count_rows(dir, "SELECT count(*) FROM spans"), 2);
    tid(4, NULL, id);
    assert_int_equal(sdb_trace_get(db, NULL, id, &t), 1);
    assert_int_equal(t->nspans, 1);
    assert_string_equal(t->spans[0].span->name, "second");
    sdb_trace_free(t);
    sdb_close(db);
}

static void test_invalid_ids_rejected(void **state)
{
    sdb *db = tf_sdb_open(NULL);
    char json[1024];
    snprintf(json, sizeof json,
             "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":["
             "{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0000000000000001\",\"name\":\"ok\"},"
             "{\"traceId\":\"\",\"spanId\":\"0000000000000002\",\"name\":\"no trace id\"},"
             "{\"traceId\":\"00000000000000000000000000000000\",\"spanId\":\"0000000000000003\",\"name\":\"zero\"},"
             "{\"traceId\":\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"0000000000000000\",\"name\":\"zero span\"}"
             "]}]}]}");
    sdb_ingest_result r = ingest(db, NULL, json);
    assert_int_equal(r.accepted, 1);
    assert_int_equal(r.rejected, 3);
    assert_string_equal(r.message, "resourceSpans[0].scopeSpans[0].spans[1]: traceId is 0 bytes, not 16");
    assert_int_equal(sdb_get_stats(db)->rejected, 3);
    assert_int_equal(sdb_get_stats(db)->spans, 1);
    sdb_close(db);
}

static void test_tenants_isolated(void **state)
{
    sdb *db = tf_sdb_open(NULL);
    put(db, "team-a", "svc", 5, "0000000000000001", "", "A", 0, 1);
    put(db, NULL, "svc", 5, "0000000000000001", "", "Default", 0, 1);
    uint8_t id[16];
    tid(5, NULL, id);
    sdb_trace *t;
    assert_int_equal(sdb_trace_get(db, "team-b", id, &t), 0);
    assert_int_equal(sdb_trace_get(db, "team-a", id, &t), 1);
    assert_string_equal(t->spans[0].span->name, "A");
    assert_int_equal(t->nspans, 1);
    sdb_trace_free(t);
    assert_int_equal(sdb_trace_get(db, SDB_DEFAULT_TENANT, id, &t), 1);
    assert_string_equal(t->spans[0].span->name, "Default");
    sdb_trace_free(t);
    sdb_trace_query q = {0};
    assert_int_equal(sdb_traces_scan(db, "team-b", &q, NULL, NULL), 0);
    long names = sdb_tag_names(db, "team-b", ~0u, 0, 0, NULL, NULL);
    assert_int_equal(names, 0);
    sdb_close(db);
}

static void test_tenant_check(void **state)
{
    char why[256];
    assert_int_equal(sdb_tenant_check("team-a", 6, why, sizeof why), 0);
    assert_int_equal(sdb_tenant_check("", 0, why, sizeof why), -1);
    assert_int_equal(sdb_tenant_check("a b", 3, why, sizeof why), -1);
    assert_non_null(strstr(why, "X-Scope-OrgID \"a b\""));
    char big[152];
    memset(big, 'x', 151);
    big[151] = 0;
    assert_int_equal(sdb_tenant_check(big, 150, why, sizeof why), 0);
    assert_int_equal(sdb_tenant_check(big, 151, why, sizeof why), -1);
    assert_non_null(strstr(why, "longer than 150"));
}

/* Collects scanned trace ids' first byte. */
typedef struct scan_log {
    int ids[32];
    int n;
    int stop_after;
    sdb *db;
    int loaded;
} scan_log;

static int scan_cb(void *arg, const sdb_trace_summary *s)
{
    scan_log *l = arg;
    l->ids[l->n++] = s->trace_id[0];
    if (l->db) {
        /* Loading spans from inside the scan works. */
        sdb_trace *t;
        if (sdb_trace_get(l->db, NULL, s->trace_id, &t) == 1) {
            l->loaded += (int)t->nspans;
            sdb_trace_free(t);
        }
    }
    return l->stop_after && l->n >= l->stop_after;
}

static void test_scan_order_window_limit(void **state)
{
    sdb *db = tf_sdb_open(NULL);
    /* Trace k starts at 100k s and lasts 10k s (k = 1..6); trace 7 is long. */
    for (int k = 1; k <= 6; k++) put(db, NULL, "svc", k, "0000000000000001", "", "W", 100 * k, 100 * k + 10 * k);
    put(db, NULL, "svc", 7, "0000000000000001", "", "Long", 50, 1000);
    put(db, NULL, "svc", 7, "0000000000000002", "0000000000000001", "child", 60, 70);
    scan_log l = {.db = db};
    sdb_trace_query q = {0};
    assert_int_equal(sdb_traces_scan(db, NULL, &q, scan_cb, &l), 7);
    int all[] = {6, 5, 4, 3, 2, 1, 7};
    assert_memory_equal(l.ids, all, sizeof all);
    assert_int_equal(l.loaded, 8);
    /* Limit. */
    l = (scan_log){0};
    q.limit = 2;
    assert_int_equal(sdb_traces_scan(db, NULL, &q, scan_cb, &l), 2);
    assert_int_equal(l.ids[0], 6);
    assert_int_equal(l.ids[1], 5);
    /* Window [335 s, 410 s]: overlaps 3 (300–330? no), 4 (400–440), and 7 (50–1000). */
    l = (scan_log){0};
    q = (sdb_trace_query){.start_ns = T0 + 335 * S, .end_ns = T0 + 410 * S};
    assert_int_equal(sdb_traces_scan(db, NULL, &q, scan_cb, &l), 2);
    assert_int_equal(l.ids[0], 4);
    assert_int_equal(l.ids[1], 7);
    /* Duration bounds: 30 s .. 50 s → traces 3, 4, 5. */
    l = (scan_log){0};
    q = (sdb_trace_query){.min_duration_ns = 30 * S, .max_duration_ns = 50 * S};
    assert_int_equal(sdb_traces_scan(db, NULL, &q, scan_cb, &l), 3);
    int dur[] = {5, 4, 3};
    assert_memory_equal(l.ids, dur, sizeof dur);
    /* The callback stops it. */
    l = (scan_log){.stop_after = 1};
    q = (sdb_trace_query){0};
    assert_int_equal(sdb_traces_scan(db, NULL, &q, scan_cb, &l), 1);
    sdb_close(db);
}

static int summary_cb(void *arg, const sdb_trace_summary *s)
{
    sdb_trace_summary *out = arg;
    *out = *s;
    out->root_name = s->root_name ? strdup(s->root_name) : NULL;
    out->root_service = s->root_service ? strdup(s->root_service) : NULL;
    return 1;
}

static void test_scan_summary_fields(void **state)
{
    sdb *db = tf_sdb_open(NULL);
    put(db, NULL, "Tracing.Worker", 8, "0000000000000002", "0000000000000001", "DataLoader", 5, 30);
    sdb_trace_summary s;
    sdb_trace_query q = {0};
    assert_int_equal(sdb_traces_scan(db, NULL, &q, summary_cb, &s), 1);
    assert_null(s.root_name);
    put(db, NULL, "Tracing.Worker", 8, "0000000000000001", "", "Workflow", 0, 20);
    assert_int_equal(sdb_traces_scan(db, NULL, &q, summary_cb, &s), 1);
    assert_string_equal(s.root_name, "Workflow");
    assert_string_equal(s.root_service, "Tracing.Worker");
    assert_true(s.start_ns == T0);
    assert_true(s.end_ns == T0 + 30 * S);
    uint8_t id[16];
    tid(8, NULL, id);
    assert_memory_equal(s.trace_id, id, 16);
    free((char *)s.root_name);
    free((char *)s.root_service);
    sdb_close(db);
}

static void test_retention_deletes_only_old(void **state)
{
    const char *dir;
    sdb *db = tf_sdb_open(&dir);
    /* Old trace 1 (ends at 100 s) from service "old"; trace 2 straddles the
     * cutoff (ends at 300 s); trace 3 is new. */
    put(db, NULL, "old", 1, "0000000000000001", "", "W", 0, 100);
    put(db, NULL, "old", 1, "0000000000000002", "0000000000000001", "S", 10, 90);
    put(db, NULL, "mid", 2, "0000000000000001", "", "W", 100, 300);
    put(db, NULL, "mid", 2, "0000000000000002", "0000000000000001", "S", 100, 110);
    put(db, NULL, "new", 3, "0000000000000001", "", "W", 400, 500);
    assert_int_equal(count_rows(dir, "SELECT count(*) FROM sources"), 3);
    /* In chunks of one trace: the first call deletes trace 1 only. */
    assert_int_equal(sdb_retention_step(db, T0 + 200 * S, 1), 1);
    assert_int_equal(sdb_retention_step(db, T0 + 200 * S, 1), 0);
    uint8_t id[16];
    sdb_trace *t;
    tid(1, NULL, id);
    assert_int_equal(sdb_trace_get(db, NULL, id, &t), 0);
    tid(2, NULL, id);
    assert_int_equal(sdb_trace_get(db, NULL, id, &t), 1);
    assert_int_equal(t->nspans, 2); /* whole traces stay or go */
    sdb_trace_free(t);
    tid(3, NULL, id);
    assert_int_equal(sdb_trace_get(db, NULL, id, &t), 1);
    sdb_trace_free(t);
    assert_int_equal(count_rows(dir, "SELECT count(*) FROM spans"), 3);
    assert_int_equal(count_rows(dir, "SELECT count(*) FROM sources"), 2); /* "old" is gone */
    assert_int_equal(sdb_get_stats(db)->traces_deleted, 1);
    assert_int_equal(sdb_get_stats(db)->spans_deleted, 2);
    /* Tag values only old spans had are gone too; the others stay. */
    assert_int_equal(count_rows(dir, "SELECT count(*) FROM tag_values WHERE key = 'service.name' AND value = 'old'"),
                     0);
    assert_int_equal(count_rows(dir, "SELECT count(*) FROM tag_values WHERE key = 'service.name'"), 2);
    /* New ingest after retention reuses nothing stale. */
    put(db, NULL, "old", 4, "0000000000000001", "", "W", 600, 700);
    tid(4, NULL, id);
    assert_int_equal(sdb_trace_get(db, NULL, id, &t), 1);
    assert_string_equal(t->summary.root_service, "old");
    sdb_trace_free(t);
    sdb_close(db);
}

typedef struct tag_log {
    char items[64][64];
    int n;
} tag_log;

static int name_cb(void *arg, sdb_tag_scope scope, const char *name)
{
    tag_log *l = arg;
    snprintf(l->items[l->n++], 64, "%d:%s", (int)scope, name);
    return 0;
}

static int value_cb(void *arg, sdb_tag_scope scope, sdb_value_type type, const char *value)
{
    tag_log *l = arg;
    snprintf(l->items[l->n++], 64, "%d:%d:%s", (int)scope, (int)type, value);
    return 0;
}

static int has(const tag_log *l, const char *s)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->items[i], s) == 0) return 1;
    return 0;
}

static void test_tags(void **state)
{
    sdb *db = tf_sdb_open(NULL);
    exo_pb_request *req = decode(full_request);
    sdb_ingest_result res;
    assert_int_equal(sdb_ingest(db, "t", req, &res), 0);
    exo_otlp_request_free(req);
    tag_log l = {0};
    long got = sdb_tag_names(db, "t", ~0u, 0, 0, name_cb, &l);
    assert_int_equal(got, l.n);
    const char *want[] = {"0:service.name", "0:service.namespace", "1:a", "1:b", "1:by", "1:d", "1:i", "1:kv",
                          "1:s", "2:ev", "3:ln", "4:lib", "5:event:name", "5:name"};
    assert_int_equal(l.n, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < l.n; i++) assert_string_equal(l.items[i], want[i]);
    /* Scope mask and limit. */
    l = (tag_log){0};
    assert_int_equal(sdb_tag_names(db, "t", 1u << SDB_TAG_RESOURCE, 0, 1, name_cb, &l), 1);
    assert_string_equal(l.items[0], "0:service.name");
    /* Values, typed. */
    const char *keys[] = {"i", "d", "b", "s", "name", "event:name"};
    const char *vals[] = {"1:1:-42", "1:2:2.5", "1:3:false", "1:0:text", "5:0:Processor", "5:0:Failed"};
    for (int i = 0; i < 6; i++) {
        l = (tag_log){0};
        assert_true(sdb_tag_values(db, "t", ~0u, keys[i], 0, 0, value_cb, &l) >= 1);
        if (!has(&l, vals[i])) fail_msg("%s: %s not found (first: %s)", keys[i], vals[i], l.items[0]);
    }
    /* Arrays are keys without values. */
    l = (tag_log){0};
    assert_int_equal(sdb_tag_values(db, "t", ~0u, "a", 0, 0, value_cb, &l), 0);
    /* since_ns after every span's end: nothing. */
    assert_int_equal(sdb_tag_names(db, "t", ~0u, INT64_C(1720162686000000003), 0, name_cb, &l), 0);
    sdb_close(db);
}

/* A request of n spans of trace tb (ids first_id…), attribute "u" =
 * "<prefix><span id>", ending at end_s. */
static char *many_spans(int tb, int first_id, int n, const char *prefix, int64_t end_s)
{
    char hex[33];
    tid(tb, hex, NULL);
    size_t cap = 200 + (size_t)n * 260;
    char *json = ex_malloc(cap);
    size_t len = (size_t)snprintf(json, cap, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(json + len, cap - len,
                                "%s{\"traceId\":\"%s\",\"spanId\":\"%016x\",\"name\":\"n\",\"endTimeUnixNano\":\"%lld\","
                                "\"attributes\":[{\"key\":\"u\",\"value\":{\"stringValue\":\"%s%d\"}}]}",
                                i ? "," : "", hex, first_id + i, (long long)(T0 + end_s * S), prefix, first_id + i);
    snprintf(json + len, cap - len, "]}]}]}");
    return json;
}

static void test_attr_search(void **state)
{
    const char *dir;
    sdb *db = tf_sdb_open(&dir);
    /* one_span sets attribute "type" to the span's name. */
    const char *wf = "wf-0123456789abcdef";
    put(db, "a", "svc", 1, "0000000000000001", "", wf, 0, 10);
    put(db, "a", "svc", 2, "0000000000000001", "", "other", 20, 30);
    put(db, "a", "svc", 3, "0000000000000001", "", wf, 40, 50);
    put(db, "b", "svc", 4, "0000000000000001", "", wf, 60, 70);
    scan_log l = {0};
    sdb_trace_query q = {0};
    assert_int_equal(sdb_traces_by_attr(db, "a", "type", wf, strlen(wf), &q, scan_cb, &l), 2);
    assert_int_equal(l.ids[0], 3); /* newest first */
    assert_int_equal(l.ids[1], 1);
    l = (scan_log){0};
    assert_int_equal(sdb_traces_by_attr(db, "b", "type", wf, strlen(wf), &q, scan_cb, &l), 1);
    assert_int_equal(l.ids[0], 4);
    /* Short values, other keys, a prefix of the value, the window, the limit. */
    l = (scan_log){0};
    assert_int_equal(sdb_traces_by_attr(db, "a", "type", "other", 5, &q, scan_cb, &l), 1);
    assert_int_equal(l.ids[0], 2);
    assert_int_equal(sdb_traces_by_attr(db, "a", "name", wf, strlen(wf), &q, scan_cb, &l), 0);
    assert_int_equal(sdb_traces_by_attr(db, "a", "type", wf, 5, &q, scan_cb, &l), 0);
    l = (scan_log){0};
    q = (sdb_trace_query){.start_ns = T0 + 5 * S, .end_ns = T0 + 25 * S};
    assert_int_equal(sdb_traces_by_attr(db, "a", "type", wf, strlen(wf), &q, scan_cb, &l), 1);
    assert_int_equal(l.ids[0], 1);
    q = (sdb_trace_query){.limit = 1};
    assert_int_equal(sdb_traces_by_attr(db, "a", "type", wf, strlen(wf), &q, scan_cb, &l), 1);
    sdb_close(db);
}

static void test_attr_search_across_chunks(void **state)
{
    const char *dir;
    sdb *db = tf_sdb_open(&dir);
    /* Trace 1 (old) fills chunk 0 and part of 1, trace 2 the rest. */
    char *json = many_spans(1, 1, 5000, "v-", 10);
    assert_int_equal(ingest(db, NULL, json).accepted, 5000);
    ex_free(json);
    json = many_spans(2, 1, 5000, "w-", 100);
    assert_int_equal(ingest(db, NULL, json).accepted, 5000);
    ex_free(json);
    assert_int_equal(count_rows(dir, "SELECT count(*) FROM attr_bloom"), 3);
    scan_log l = {0};
    sdb_trace_query q = {0};
    assert_int_equal(sdb_traces_by_attr(db, NULL, "u", "v-17", 4, &q, scan_cb, &l), 1);
    assert_int_equal(l.ids[0], 1);
    l = (scan_log){0};
    assert_int_equal(sdb_traces_by_attr(db, NULL, "u", "w-4999", 6, &q, scan_cb, &l), 1);
    assert_int_equal(l.ids[0], 2);
    /* A span of chunk 0 re-sent with a new value is found by it. */
    json = many_spans(1, 3, 1, "changed-", 10);
    assert_int_equal(ingest(db, NULL, json).accepted, 1);
    ex_free(json);
    l = (scan_log){0};
    assert_int_equal(sdb_traces_by_attr(db, NULL, "u", "changed-3", 9, &q, scan_cb, &l), 1);
    assert_int_equal(sdb_traces_by_attr(db, NULL, "u", "v-3", 3, &q, scan_cb, &l), 0);
    /* Survives a reopen (the current chunk's filter was written). */
    sdb_close(db);
    char err[256];
    db = sdb_open(dir, err, sizeof err);
    assert_non_null(db);
    l = (scan_log){0};
    assert_int_equal(sdb_traces_by_attr(db, NULL, "u", "w-4999", 6, &q, scan_cb, &l), 1);
    /* Retention of trace 1 frees chunk 0's filter (chunk 1 still has spans). */
    assert_int_equal(sdb_retention_step(db, T0 + 50 * S, 100), 1);
    assert_int_equal(count_rows(dir, "SELECT count(*) FROM attr_bloom"), 2);
    assert_int_equal(sdb_traces_by_attr(db, NULL, "u", "v-17", 4, &q, scan_cb, &l), 0);
    sdb_close(db);
}

static int count_cb(void *arg, sdb_tag_scope scope, sdb_value_type type, const char *value)
{
    return 0;
}

static void test_tag_values_bounded(void **state)
{
    sdb *db = tf_sdb_open(NULL);
    char hex[33];
    tid(1, hex, NULL);
    /* One request with SDB_TAG_VALUES_PER_KEY + 50 distinct values of "u". */
    size_t cap = 200 + (SDB_TAG_VALUES_PER_KEY + 50) * 160;
    char *json = ex_malloc(cap);
    size_t n = (size_t)snprintf(json, cap, "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[");
    for (int i = 0; i < SDB_TAG_VALUES_PER_KEY + 50; i++)
        n += (size_t)snprintf(json + n, cap - n,
                              "%s{\"traceId\":\"%s\",\"spanId\":\"%016x\",\"name\":\"n\",\"attributes\":[{\"key\":"
                              "\"u\",\"value\":{\"intValue\":\"%d\"}}]}",
                              i ? "," : "", hex, i + 1, i);
    snprintf(json + n, cap - n, "]}]}]}");
    assert_int_equal(ingest(db, NULL, json).accepted, SDB_TAG_VALUES_PER_KEY + 50);
    ex_free(json);
    assert_int_equal(sdb_tag_values(db, NULL, 1u << SDB_TAG_SPAN, "u", 0, 0, count_cb, NULL) == SDB_TAG_VALUES_PER_KEY,
                     1);
    sdb_close(db);
}

static void test_persists_across_reopen(void **state)
{
    const char *dir;
    sdb *db = tf_sdb_open(&dir);
    put(db, "p", "svc", 6, "0000000000000001", "", "Workflow", 0, 10);
    sdb_close(db);
    char err[256];
    db = sdb_open(dir, err, sizeof err);
    assert_non_null(db);
    uint8_t id[16];
    tid(6, NULL, id);
    sdb_trace *t;
    assert_int_equal(sdb_trace_get(db, "p", id, &t), 1);
    assert_string_equal(t->spans[0].span->name, "Workflow");
    sdb_trace_free(t);
    /* The tag index carries on where it was (cache rebuilt from disk). */
    put(db, "p", "svc", 6, "0000000000000002", "0000000000000001", "Stage", 1, 2);
    assert_int_equal(sdb_tag_values(db, "p", 1u << SDB_TAG_INTRINSIC, "name", 0, 0, count_cb, NULL), 2);
    sdb_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_created),
        cmocka_unit_test(test_open_fails_with_reason),
        cmocka_unit_test(test_every_field_read_back),
        cmocka_unit_test(test_grouping_and_order),
        cmocka_unit_test(test_resend_replaces),
        cmocka_unit_test(test_invalid_ids_rejected),
        cmocka_unit_test(test_tenants_isolated),
        cmocka_unit_test(test_tenant_check),
        cmocka_unit_test(test_scan_order_window_limit),
        cmocka_unit_test(test_scan_summary_fields),
        cmocka_unit_test(test_retention_deletes_only_old),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_attr_search),
        cmocka_unit_test(test_attr_search_across_chunks),
        cmocka_unit_test(test_tag_values_bounded),
        cmocka_unit_test(test_persists_across_reopen),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ts_cleanup();
    return rc;
}
