/* test_store_mspans.c — the compact span table (src/store/db_mspans.c)
 * and what the metrics engine reads of it (query_mcompact.c): one row per
 * stored span with its fields and packed attributes (decoded back to the
 * same values) and the service.name of their resource, a re-sent span
 * replacing its row (in an earlier request or the same one), a span whose
 * attributes do not fit keeping none, retention removing rows with their
 * trace, a database from schema version 2 filled when opened, which
 * queries are span-local, and a malformed attribute blob refused.
 * Requests are OTLP/JSON decoded by the real decoder. */
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
#include "store/metrics.h"
#include "store/query_metrics.h"
#include "store_fixture.h"
#include "support.h"

#define S (INT64_C(1000000000))
#define T0 (INT64_C(1720162676) * S)

/* Store one span of trace tb (span id byte sb), starting at T0 + start_s
 * seconds for dur_s, with the attributes JSON attrs (without brackets). */
static void span(sdb *db, int tb, int sb, const char *name, int64_t start_s, int64_t dur_s, int code,
                 const char *attrs)
{
    char hex[33], json[8192];
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", tb);
    snprintf(json, sizeof json,
             "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
             "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"svc-%d\"}}]},"
             "\"scopeSpans\":[{\"spans\":[{\"traceId\":\"%s\",\"spanId\":\"00000000000000%02x\",\"name\":\"%s\","
             "\"kind\":2,\"startTimeUnixNano\":\"%lld\",\"endTimeUnixNano\":\"%lld\",\"status\":{\"code\":%d},"
             "\"attributes\":[%s]}]}]}]}",
             tb, hex, sb, name, (long long)(T0 + start_s * S), (long long)(T0 + (start_s + dur_s) * S), code, attrs);
    tf_sdb_ingest_json(db, json, 1);
}

typedef struct row {
    char name[32], service[32];
    int64_t start, dur;
    int status, kind, kept, has_service;
    tql_attr attrs[SDB_MSPAN_ATTRS_MAX];
    long nattrs;
    char strings[SDB_MSPAN_ATTRS_MAX][64];
    char keys[SDB_MSPAN_ATTRS_MAX][64];
} row;

typedef struct rows {
    row r[16];
    size_t n;
    sdb *db;
} rows;

static int row_cb(void *arg, const sdb_mspan *m)
{
    rows *l = arg;
    assert_true(l->n < 16);
    row *r = &l->r[l->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", m->name);
    char *svc = NULL;
    r->has_service = sdb_source_service(l->db, m->source, &svc);
    snprintf(r->service, sizeof r->service, "%s", svc ? svc : "");
    ex_free(svc);
    r->start = m->start_ns;
    r->dur = m->dur_ns;
    r->status = m->status;
    r->kind = m->kind;
    uint8_t packed[SDB_MSPAN_ATTRS_BYTES];
    long len = sdb_mspan_attrs(l->db, m->span, packed, sizeof packed);
    assert_true(len >= -2);
    r->kept = len >= 0;
    r->nattrs = len >= 0 ? sqm_attrs_decode(packed, (size_t)len, r->attrs, SDB_MSPAN_ATTRS_MAX) : 0;
    for (long i = 0; i < r->nattrs; i++) { /* copy: the blob is gone after the callback */
        snprintf(r->keys[i], sizeof r->keys[i], "%s", r->attrs[i].key);
        r->attrs[i].key = r->keys[i];
        if (r->attrs[i].val.type == TQL_STRING) {
            snprintf(r->strings[i], sizeof r->strings[i], "%s", r->attrs[i].val.v.s);
            r->attrs[i].val.v.s = r->strings[i];
        }
    }
    return 0;
}

static size_t scan(sdb *db, const char *name, rows *out)
{
    memset(out, 0, sizeof *out);
    out->db = db;
    long n = sdb_mspans_scan(db, NULL, T0 - 1000 * S, T0 + 1000 * S, name, 0, row_cb, out);
    assert_true(n >= 0);
    assert_int_equal((size_t)n, out->n);
    return out->n;
}

static const char *ATTRS = "{\"key\":\"type\",\"value\":{\"stringValue\":\"DataLoader\"}},"
                           "{\"key\":\"rows\",\"value\":{\"intValue\":\"42\"}},"
                           "{\"key\":\"ratio\",\"value\":{\"doubleValue\":0.25}},"
                           "{\"key\":\"ok\",\"value\":{\"boolValue\":true}},"
                           "{\"key\":\"list\",\"value\":{\"arrayValue\":{\"values\":[{\"intValue\":\"1\"}]}}}";

/* Fields and attributes come back as sent, ordered by start. */
static void test_rows_and_attributes(void **state)
{
    (void)state;
    sdb *db = tf_sdb_open(NULL);
    span(db, 1, 2, "DataLoader", 10, 3, 2, ATTRS);
    span(db, 1, 1, "Workflow", 5, 20, 1, "");
    rows r;
    assert_int_equal(scan(db, NULL, &r), 2);
    assert_string_equal(r.r[0].name, "Workflow");
    assert_int_equal(r.r[0].start, T0 + 5 * S);
    assert_int_equal(r.r[0].dur, 20 * S);
    assert_int_equal(r.r[0].kept, 1);
    assert_int_equal(r.r[0].nattrs, 0);
    const row *d = &r.r[1];
    assert_string_equal(d->name, "DataLoader");
    assert_string_equal(d->service, "svc-1");
    assert_int_equal(d->has_service, 1);
    assert_int_equal(d->status, 2);
    assert_int_equal(d->kind, 2);
    assert_int_equal(d->nattrs, 5);
    assert_string_equal(d->attrs[0].key, "type");
    assert_int_equal(d->attrs[0].val.type, TQL_STRING);
    assert_string_equal(d->attrs[0].val.v.s, "DataLoader");
    assert_int_equal(d->attrs[1].val.type, TQL_INT);
    assert_int_equal(d->attrs[1].val.v.i, 42);
    assert_int_equal(d->attrs[2].val.type, TQL_FLOAT);
    assert_true(d->attrs[2].val.v.f == 0.25);
    assert_int_equal(d->attrs[3].val.type, TQL_BOOL);
    assert_int_equal(d->attrs[3].val.v.b, 1);
    assert_string_equal(d->attrs[4].key, "list");
    assert_int_equal(d->attrs[4].val.type, TQL_NIL); /* TraceQL cannot compare arrays */
    /* the name filter of the scan */
    assert_int_equal(scan(db, "DataLoader", &r), 1);
    assert_int_equal(scan(db, "Nothing", &r), 0);
    sdb_close(db);
}

/* A re-sent span replaces its row (even at another start time); one with
 * attributes that do not fit keeps none; retention removes the rows of
 * the traces it deletes. */
static void test_resend_overflow_retention(void **state)
{
    (void)state;
    sdb *db = tf_sdb_open(NULL);
    span(db, 1, 1, "Workflow", 5, 20, 1, "");
    span(db, 2, 1, "Workflow", 200, 20, 1, "");
    span(db, 1, 1, "Workflow", 7, 30, 2, "");
    rows r;
    assert_int_equal(scan(db, NULL, &r), 2);
    assert_int_equal(r.r[0].start, T0 + 7 * S);
    assert_int_equal(r.r[0].status, 2);
    /* twice in one request, at two starts: the last one counts */
    const char *twice = "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":["
                        "{\"traceId\":\"0909090909090909090909090909090f\",\"spanId\":\"0000000000000001\",\"name\":\"T\","
                        "\"startTimeUnixNano\":\"%lld\",\"endTimeUnixNano\":\"%lld\"},"
                        "{\"traceId\":\"0909090909090909090909090909090f\",\"spanId\":\"0000000000000001\",\"name\":\"T\","
                        "\"startTimeUnixNano\":\"%lld\",\"endTimeUnixNano\":\"%lld\"}]}]}]}";
    char json[1024];
    snprintf(json, sizeof json, twice, (long long)(T0 + 300 * S), (long long)(T0 + 301 * S), (long long)(T0 + 299 * S),
             (long long)(T0 + 301 * S));
    exo_pb_request *req = NULL;
    char err[256];
    if (exo_otlp_json_decode_request(json, strlen(json), &req, err, sizeof err) != 0) fail_msg("decode: %s", err);
    sdb_ingest_result res;
    assert_int_equal(sdb_ingest(db, NULL, req, &res), 0);
    exo_otlp_request_free(req);
    assert_int_equal(scan(db, "T", &r), 1);
    assert_int_equal(r.r[0].start, T0 + 299 * S);
    assert_int_equal(r.r[0].has_service, 0);
    char big[4096];
    size_t o = 0;
    for (int i = 0; i < 8; i++)
        o += (size_t)snprintf(big + o, sizeof big - o, "%s{\"key\":\"k%d\",\"value\":{\"stringValue\":\"%040d\"}}",
                              i ? "," : "", i, i);
    span(db, 1, 3, "Processor", 8, 1, 1, big);
    assert_int_equal(scan(db, "Processor", &r), 1);
    assert_int_equal(r.r[0].kept, 0);
    /* trace 1 ends at 37 s: deleted with a cutoff at 100 s; traces 2 and 9 stay */
    assert_int_equal(sdb_retention_step(db, T0 + 100 * S, 100), 1);
    assert_int_equal(scan(db, NULL, &r), 2);
    assert_int_equal(r.r[0].start, T0 + 200 * S);
    assert_int_equal(sdb_retention_step(db, T0 + 1000 * S, 100), 2);
    assert_int_equal(scan(db, NULL, &r), 0);
    sdb_close(db);
}

/* A database written before mspans (schema version 2) gets its rows when
 * opened, the same as written at ingest. */
static void test_backfill_on_upgrade(void **state)
{
    (void)state;
    const char *dir;
    sdb *db = tf_sdb_open(&dir);
    span(db, 1, 2, "DataLoader", 10, 3, 2, ATTRS);
    span(db, 1, 1, "Workflow", 5, 20, 1, "");
    span(db, 3, 1, "Workflow", 50, 1, 0, "");
    rows before, after;
    assert_int_equal(scan(db, NULL, &before), 3);
    sdb_close(db);
    char path[512];
    snprintf(path, sizeof path, "%s/traces.db", dir);
    sqlite3 *c;
    assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
    assert_int_equal(sqlite3_exec(c, "DROP TABLE mspans; PRAGMA user_version = 2;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(c);
    char err[512];
    db = sdb_open(dir, err, sizeof err);
    if (!db) fail_msg("sdb_open: %s", err);
    assert_int_equal(scan(db, NULL, &after), 3);
    for (size_t i = 0; i < 3; i++) {
        const row *x = &before.r[i], *y = &after.r[i];
        assert_string_equal(x->name, y->name);
        assert_string_equal(x->service, y->service);
        assert_true(x->start == y->start && x->dur == y->dur && x->status == y->status && x->kind == y->kind);
        assert_true(x->kept == y->kept && x->nattrs == y->nattrs);
        for (long k = 0; k < x->nattrs; k++) {
            assert_string_equal(x->keys[k], y->keys[k]);
            assert_int_equal(x->attrs[k].val.type, y->attrs[k].val.type);
            if (x->attrs[k].val.type == TQL_STRING) assert_string_equal(x->strings[k], y->strings[k]);
        }
    }
    /* and it is written to after the upgrade */
    span(db, 4, 1, "Workflow", 60, 1, 0, "");
    assert_int_equal(scan(db, NULL, &after), 4);
    sdb_close(db);
}

static smx_query *mq(const char *q)
{
    smx_query *out = NULL;
    char err[256];
    if (smx_parse(q, &out, err, sizeof err) < 0) fail_msg("%s: %s", q, err);
    return out;
}

/* Which metrics queries the compact rows answer. */
static void test_span_local(void **state)
{
    (void)state;
    static const struct {
        const char *q;
        int usable;
        unsigned needs;
        const char *name;
    } cases[] = {
        {"{ name = \"Workflow\" } | rate() by (status)", 1, 0, "Workflow"},
        {"{ span.type != nil } | quantile_over_time(duration, .9) by (name)", 1, TQL_LOCAL_ATTRS | TQL_LOCAL_DURATION,
         NULL},
        {"{ resource.service.name = \"a\" && kind = server } | count_over_time()", 1, TQL_LOCAL_SERVICE, NULL},
        {"{ .service.name = \"a\" || duration > 1s } | max_over_time(duration) by (span.x)", 1,
         TQL_LOCAL_ATTRS | TQL_LOCAL_SERVICE | TQL_LOCAL_DURATION, NULL},
        {"{} | rate() by (resource.service.name)", 1, TQL_LOCAL_SERVICE, NULL},
        {"{} | rate() by (resource.service.namespace)", 0, 0, NULL},
        {"{ .x = 1 } | rate()", 0, 0, NULL},
        {"{ rootName = \"Workflow\" } | rate()", 0, 0, NULL},
        {"{ statusMessage = \"x\" } | rate()", 0, 0, NULL},
        {"{ event.x = 1 } | rate()", 0, 0, NULL},
        {"{ name = \"a\" } > { status = error } | rate()", 0, 0, NULL},
        {"{ name = \"a\" } | count() > 1 | rate()", 0, 0, NULL},
        {"{ name = \"a\" } | rate() by (trace:duration)", 0, 0, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        smx_query *q = mq(cases[i].q);
        unsigned needs = 0;
        const char *name = NULL;
        int usable = sqm_compact_usable(q, &needs, &name);
        if (usable != cases[i].usable) fail_msg("%s: usable %d", cases[i].q, usable);
        if (usable && needs != cases[i].needs) fail_msg("%s: needs %u", cases[i].q, needs);
        if (usable && (cases[i].name ? !name || strcmp(name, cases[i].name) : name != NULL))
            fail_msg("%s: name %s", cases[i].q, name ? name : "(none)");
        smx_query_free(q);
    }
}

/* Which range queries the per-minute counts answer. */
static void test_rollup_usable(void **state)
{
    (void)state;
    static const struct {
        const char *q;
        int64_t step_s;
        int usable;
    } cases[] = {
        {"{ name = \"Workflow\" } | rate() by (status)", 60, 1},
        {"{ resource.service.name = \"a\" && name != \"W\" } | quantile_over_time(duration, .5, .9) by (name)", 300, 1},
        {"{ status = error } | histogram_over_time(duration) by (kind)", 3600, 1},
        {"{} | count_over_time()", 60, 1},
        {"{ name = \"Workflow\" } | rate()", 30, 0},                 /* not whole minutes */
        {"{ name = \"Workflow\" } | rate()", 90, 0},
        {"{ span.type != nil } | rate()", 60, 0},                     /* an attribute */
        {"{ .service.name = \"a\" } | rate()", 60, 0},               /* span first */
        {"{ duration > 1s } | rate()", 60, 0},                        /* within a bucket */
        {"{} | max_over_time(duration)", 60, 0},
        {"{} | avg_over_time(duration)", 60, 0},
        {"{} | quantile_over_time(span.x, .5)", 60, 0},
        {"{} | rate() by (duration)", 60, 0},
        {"{ rootName = \"W\" } | rate()", 60, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        smx_query *q = mq(cases[i].q);
        smx_grid g;
        char err[128];
        int64_t start = INT64_C(1720162680) * S; /* a whole hour */
        assert_int_equal(smx_grid_range(&g, start, start + 3600 * S, cases[i].step_s * S, err, sizeof err), 0);
        unsigned needs = 0;
        const char *name = NULL;
        if (sqm_rollup_usable(q, &g, &needs, &name) != cases[i].usable) fail_msg("%s step %lld", cases[i].q,
                                                                                (long long)cases[i].step_s);
        smx_grid inst;
        smx_grid_instant(&inst, start, start + 3600 * S);
        assert_int_equal(sqm_rollup_usable(q, &inst, &needs, &name), 0); /* instant: never */
        assert_int_equal(sqm_rollup_usable(q, NULL, &needs, &name), 0);
        smx_query_free(q);
    }
    assert_int_equal(sdb_duration_bucket(0), -1);
    assert_int_equal(sdb_duration_bucket(1), -1);
    assert_int_equal(sdb_duration_bucket(2), 1);
    assert_int_equal(sdb_duration_bucket(3), 2);
    assert_int_equal(sdb_duration_bucket(4), 2);
    assert_int_equal(sdb_duration_bucket(5), 3);
    assert_int_equal(sdb_duration_bucket(S), 30); /* 2^30 ns ≈ 1.07 s */
    for (int64_t d = 2; d < 5000; d++) assert_int_equal(INT64_C(1) << sdb_duration_bucket(d), (int64_t)smx_log2_bucket((uint64_t)d));
}

/* mroll counts what mspans holds, through re-send and retention. */
static void test_rollup_counts(void **state)
{
    (void)state;
    sdb *db = tf_sdb_open(NULL);
    span(db, 1, 1, "Workflow", 5, 20, 1, "");
    span(db, 1, 2, "Stage", 6, 3, 2, "");
    span(db, 1, 3, "Stage", 7, 3, 2, "");
    span(db, 2, 1, "Workflow", 200, 20, 1, "");
    span(db, 1, 3, "Stage", 70, 1, 1, ""); /* re-sent: another minute, status, bucket */
    const char *sql = "SELECT group_concat((minute - %lld) || ':' || name || ':' || status || ':' || bucket || ':' || n, ' ')"
                      " FROM (SELECT r.minute, x.name, r.status, r.bucket, r.n FROM mroll r JOIN names x ON x.id = r.name"
                      " WHERE n > 0 ORDER BY minute, x.name, status, bucket)";
    char q[512];
    snprintf(q, sizeof q, sql, (long long)(T0 / SDB_MINUTE_NS));
    sqlite3 *c;
    char path[512];
    snprintf(path, sizeof path, "%s", sdb_path(db));
    assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(c, q, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    /* T0 is 56 s past a minute: 5-7 s after it are the next minute */
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "1:Stage:2:32:1 1:Workflow:1:35:1 2:Stage:1:30:1 4:Workflow:1:35:1");
    sqlite3_finalize(st);
    assert_int_equal(sdb_retention_step(db, T0 + 100 * S, 100), 1);
    assert_int_equal(sqlite3_prepare_v2(c, q, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "4:Workflow:1:35:1");
    sqlite3_finalize(st);
    sqlite3_close(c);
    sdb_close(db);
}

/* A blob that is cut short or holds an unknown type is refused. */
static void test_decode_malformed(void **state)
{
    (void)state;
    tql_attr a[4];
    static const uint8_t ok[] = {SDB_MSPAN_BOOL, 'b', 0, 1, SDB_MSPAN_STRING, 'k', 0, 'v', 0};
    assert_int_equal(sqm_attrs_decode(ok, sizeof ok, a, 4), 2);
    assert_int_equal(sqm_attrs_decode(ok, sizeof ok, a, 1), -1); /* more than max */
    assert_int_equal(sqm_attrs_decode(ok, sizeof ok - 1, a, 4), -1);
    static const uint8_t no_key_end[] = {SDB_MSPAN_NIL, 'k'};
    assert_int_equal(sqm_attrs_decode(no_key_end, sizeof no_key_end, a, 4), -1);
    static const uint8_t short_int[] = {SDB_MSPAN_INT, 'k', 0, 1, 2, 3};
    assert_int_equal(sqm_attrs_decode(short_int, sizeof short_int, a, 4), -1);
    static const uint8_t bad_type[] = {9, 'k', 0};
    assert_int_equal(sqm_attrs_decode(bad_type, sizeof bad_type, a, 4), -1);
    assert_int_equal(sqm_attrs_decode(NULL, 0, a, 4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_and_attributes),
        cmocka_unit_test(test_resend_overflow_retention),
        cmocka_unit_test(test_backfill_on_upgrade),
        cmocka_unit_test(test_span_local),
        cmocka_unit_test(test_rollup_usable),
        cmocka_unit_test(test_rollup_counts),
        cmocka_unit_test(test_decode_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
