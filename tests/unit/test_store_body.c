/* test_store_body.c — compressed span bodies (schema 4: src/store/body.c,
 * db_dict.c) and the migration from schema 3. The codec round-trips with
 * and without a dictionary, passes raw protobuf through and refuses
 * broken headers, unknown dictionaries and frames with a reason; a store
 * trains its dictionary after its first spans and compresses every body
 * after it, reads them back (trace by id, attribute search, compact-row
 * attributes, a reader connection, after reopening), loses a dictionary
 * with the transaction that trained it and trains again, and retention
 * empties it; a schema 3 database (written by this code and given back the
 * v3 layout: the mspans attrs column filled, spans_by_source, no dicts) is
 * migrated when opened and reads and writes as before. */
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
#include "store/body.h"
#include "store/db.h"
#include "store/metrics.h"
#include "store/query_metrics.h"
#include "store_fixture.h"
#include "support.h"

#define S (INT64_C(1000000000))
#define T0 (INT64_C(1720162676) * S)

/* ---- the codec ------------------------------------------------------------- */

static ZSTD_DDict *the_ddict;

static const ZSTD_DDict *lookup(void *arg, uint32_t id)
{
    (void)arg;
    return id == 7 ? the_ddict : NULL;
}

static void test_codec_round_trip(void **state)
{
    (void)state;
    static const char dict[] = "workflow.id=wf-stage.type=DataLoader service.name=extrace-worker status=ok "
                               "workflow.id=wf-stage.type=DataLoader service.name=extrace-worker";
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    assert_int_equal(sdb_body_cctx_init(cc, 3), 0);
    assert_int_equal(sdb_body_dctx_init(dc), 0);
    ZSTD_CDict *cd = ZSTD_createCDict(dict, sizeof dict - 1, 3);
    the_ddict = ZSTD_createDDict(dict, sizeof dict - 1);
    uint8_t raw[300];
    for (size_t i = 0; i < sizeof raw; i++) raw[i] = (uint8_t)("\x2a" "workflow.id=wf-stage.type=DataLoader"[i % 37]);
    uint8_t *enc = NULL, *dec = NULL;
    size_t ecap = 0, dcap = 0, n;
    const uint8_t *out;
    char why[200];
    for (int with = 0; with < 2; with++) {
        long len = sdb_body_encode(cc, with ? cd : NULL, with ? 7 : 0, raw, sizeof raw, &enc, &ecap);
        assert_true(len > 0 && len < 100);
        assert_int_equal(enc[0], 0);
        assert_int_equal(sdb_body_decode(dc, lookup, NULL, enc, (size_t)len, &dec, &dcap, &out, &n, why, sizeof why), 0);
        assert_int_equal(n, sizeof raw);
        assert_memory_equal(out, raw, sizeof raw);
        assert_ptr_equal(out, dec);
        /* cut short: refused with a reason, and the context still works */
        assert_int_equal(sdb_body_decode(dc, lookup, NULL, enc, (size_t)len - 1, &dec, &dcap, &out, &n, why, sizeof why),
                         -1);
        assert_non_null(strstr(why, "compressed body"));
    }
    /* raw protobuf (or empty) passes through as it is */
    assert_int_equal(sdb_body_decode(dc, lookup, NULL, raw, sizeof raw, &dec, &dcap, &out, &n, why, sizeof why), 0);
    assert_ptr_equal(out, raw);
    assert_int_equal(n, sizeof raw);
    assert_int_equal(sdb_body_decode(dc, lookup, NULL, raw, 0, &dec, &dcap, &out, &n, why, sizeof why), 0);
    assert_int_equal(n, 0);
    /* an unknown dictionary, a broken header, a length past the bound */
    long len = sdb_body_encode(cc, cd, 7, raw, sizeof raw, &enc, &ecap);
    enc[1] = 8;
    assert_int_equal(sdb_body_decode(dc, lookup, NULL, enc, (size_t)len, &dec, &dcap, &out, &n, why, sizeof why), -1);
    assert_string_equal(why, "compressed body: dictionary 8 is unknown");
    static const uint8_t cut[] = {0, 0x80};
    assert_int_equal(sdb_body_decode(dc, lookup, NULL, cut, sizeof cut, &dec, &dcap, &out, &n, why, sizeof why), -1);
    assert_non_null(strstr(why, "header is cut short or malformed"));
    static const uint8_t big[] = {0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3};
    assert_int_equal(sdb_body_decode(dc, lookup, NULL, big, sizeof big, &dec, &dcap, &out, &n, why, sizeof why), -1);
    assert_non_null(strstr(why, "is more than"));
    static const uint8_t junk[] = {0, 0, 5, 1, 2, 3, 4, 5, 6, 7};
    assert_int_equal(sdb_body_decode(dc, lookup, NULL, junk, sizeof junk, &dec, &dcap, &out, &n, why, sizeof why), -1);
    ex_free(enc);
    ex_free(dec);
    ZSTD_freeCDict(cd);
    ZSTD_freeDDict(the_ddict);
    ZSTD_freeCCtx(cc);
    ZSTD_freeDCtx(dc);
}

/* ---- the store ------------------------------------------------------------- */

/* Parse OTLP/JSON of one span of trace tb (span id byte sb). */
static exo_pb_request *one_span(int tb, int sb, const char *name, int64_t start_s)
{
    char hex[33], json[4096];
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", tb);
    snprintf(json, sizeof json,
             "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
             "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"extrace-worker\"}}]},"
             "\"scopeSpans\":[{\"scope\":{\"name\":\"extrace\"},\"spans\":[{\"traceId\":\"%s\","
             "\"spanId\":\"00000000000000%02x\",\"name\":\"%s\",\"kind\":1,"
             "\"startTimeUnixNano\":\"%lld\",\"endTimeUnixNano\":\"%lld\",\"status\":{\"code\":1},"
             "\"attributes\":[{\"key\":\"workflow.id\",\"value\":{\"stringValue\":\"wf-%d\"}},"
             "{\"key\":\"stage.type\",\"value\":{\"stringValue\":\"DataLoader\"}},"
             "{\"key\":\"stage.index\",\"value\":{\"intValue\":\"%d\"}}]}]}]}]}",
             hex, sb, name, (long long)(T0 + start_s * S), (long long)(T0 + (start_s + 2) * S), tb, sb);
    exo_pb_request *req = NULL;
    char err[256];
    if (exo_otlp_json_decode_request(json, strlen(json), &req, err, sizeof err) != 0) fail_msg("decode: %s", err);
    return req;
}

static void put(sdb *db, int tb, int sb, const char *name, int64_t start_s)
{
    exo_pb_request *req = one_span(tb, sb, name, start_s);
    sdb_ingest_result res;
    if (sdb_ingest(db, NULL, req, &res) != 0) fail_msg("sdb_ingest: %s", sdb_errmsg(db));
    assert_int_equal(res.accepted, 1);
    exo_otlp_request_free(req);
}

static long query(const char *dir, const char *sql)
{
    char path[512];
    snprintf(path, sizeof path, "%s/traces.db", dir);
    sqlite3 *c;
    assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(c, sql, -1, &st, NULL) != SQLITE_OK) fail_msg("%s: %s", sql, sqlite3_errmsg(c));
    long n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    sqlite3_close(c);
    return n;
}

/* The trace tb reads back with its span's name and workflow.id. */
static void expect_trace(sdb *db, int tb, const char *name)
{
    uint8_t id[16];
    memset(id, tb, sizeof id);
    sdb_trace *t = NULL;
    if (sdb_trace_get(db, NULL, id, &t) != 1) fail_msg("trace %d: %s", tb, sdb_errmsg(db));
    assert_int_equal(t->nspans, 1);
    assert_string_equal(t->spans[0].span->name, name);
    char wf[16];
    snprintf(wf, sizeof wf, "wf-%d", tb);
    assert_int_equal(t->spans[0].span->n_attributes, 3);
    assert_string_equal(t->spans[0].span->attributes[0]->value->string_value, wf);
    assert_string_equal(t->spans[0].rs->resource->attributes[0]->value->string_value, "extrace-worker");
    sdb_trace_free(t);
}

static int count_cb(void *arg, const sdb_trace_summary *s)
{
    (void)s;
    (*(int *)arg)++;
    return 0;
}

static int by_attr(sdb *db, const char *wf)
{
    int n = 0;
    sdb_trace_query q = {0};
    assert_true(sdb_traces_by_attr(db, NULL, "workflow.id", wf, strlen(wf), &q, count_cb, &n) >= 0);
    return n;
}

#define COMPRESSED "SELECT count(*) FROM spans WHERE substr(body, 1, 1) = x'01'"

static void test_store_compresses_after_training(void **state)
{
    (void)state;
    const char *dir;
    sdb *db = tf_sdb_open(&dir);
    sdb_set_dict_samples(db, 4);
    for (int i = 1; i <= 20; i++) put(db, i, 1, i % 2 ? "Workflow" : "DataLoader", i);
    assert_int_equal(query(dir, "SELECT count(*) FROM dicts"), 1);
    /* the first 4 spans were the samples; every later one is compressed, smaller */
    assert_int_equal(query(dir, COMPRESSED), 16);
    assert_true(query(dir, "SELECT max(length(body)) FROM spans WHERE substr(body, 1, 1) = x'01'") <
                query(dir, "SELECT min(length(body)) FROM spans WHERE substr(body, 1, 1) <> x'01'"));
    for (int i = 1; i <= 20; i++) expect_trace(db, i, i % 2 ? "Workflow" : "DataLoader");
    assert_int_equal(by_attr(db, "wf-17"), 1);
    assert_int_equal(by_attr(db, "wf-99"), 0);
    /* a reader connection finds the dictionary by itself */
    char err[256];
    sdb *rd = sdb_open_reader(db, err, sizeof err);
    if (!rd) fail_msg("reader: %s", err);
    expect_trace(rd, 18, "DataLoader");
    assert_int_equal(by_attr(rd, "wf-18"), 1);
    sdb_close(rd);
    /* a re-sent span replaces a compressed one (its compact row found by the old body) */
    put(db, 18, 1, "Workflow", 18);
    expect_trace(db, 18, "Workflow");
    assert_int_equal(query(dir, "SELECT count(*) FROM mspans"), 20);
    sdb_close(db);
    /* reopened: the same dictionary compresses the next spans */
    db = sdb_open(dir, err, sizeof err);
    if (!db) fail_msg("sdb_open: %s", err);
    put(db, 21, 1, "Workflow", 21);
    expect_trace(db, 21, "Workflow");
    assert_int_equal(query(dir, "SELECT count(*) FROM dicts"), 1);
    assert_int_equal(query(dir, COMPRESSED), 17);
    /* retention deletes compressed spans with their compact rows and sources */
    assert_int_equal(sdb_retention_step(db, T0 + 1000 * S, 100), 21);
    assert_int_equal(query(dir, "SELECT count(*) FROM spans"), 0);
    assert_int_equal(query(dir, "SELECT count(*) FROM mspans"), 0);
    assert_int_equal(query(dir, "SELECT count(*) FROM sources"), 0);
    sdb_close(db);
}

/* A dictionary trained in a transaction that is rolled back is not used:
 * the next spans train another one, and every body reads back. */
static void test_dictionary_rolled_back(void **state)
{
    (void)state;
    const char *dir;
    sdb *db = tf_sdb_open(&dir);
    sdb_set_dict_samples(db, 2);
    sdb_ingest_result res;
    sdb_ingest_begin(db, NULL, &res);
    for (int i = 1; i <= 3; i++) {
        exo_pb_request *req = one_span(i, 1, "Workflow", i);
        assert_int_equal(sdb_ingest_part(db, req, NULL, &res), 0);
        exo_otlp_request_free(req);
    }
    assert_int_equal(sdb_ingest_end(db, 0, &res), -1);
    assert_int_equal(query(dir, "SELECT count(*) FROM dicts"), 0);
    sdb_set_dict_samples(db, 2);
    for (int i = 1; i <= 6; i++) put(db, i, 1, "Workflow", i);
    assert_int_equal(query(dir, "SELECT count(*) FROM dicts"), 1);
    assert_int_equal(query(dir, COMPRESSED), 4);
    for (int i = 1; i <= 6; i++) expect_trace(db, i, "Workflow");
    sdb_close(db);
}

/* ---- from schema 3 ----------------------------------------------------------- */

static void exec(const char *dir, const char *sql)
{
    char path[512], *msg = NULL;
    snprintf(path, sizeof path, "%s/traces.db", dir);
    sqlite3 *c;
    assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
    if (sqlite3_exec(c, sql, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s: %s", sql, msg);
    sqlite3_close(c);
}

typedef struct attrs_seen {
    sdb *db;
    int rows, with_stage;
} attrs_seen;

static int attrs_cb(void *arg, const sdb_mspan *m)
{
    attrs_seen *a = arg;
    uint8_t packed[SDB_MSPAN_ATTRS_BYTES];
    tql_attr at[SDB_MSPAN_ATTRS_MAX];
    long len = sdb_mspan_attrs(a->db, m->span, packed, sizeof packed);
    assert_true(len > 0);
    long n = sqm_attrs_decode(packed, (size_t)len, at, SDB_MSPAN_ATTRS_MAX);
    assert_int_equal(n, 3);
    a->rows++;
    a->with_stage += strcmp(at[1].key, "stage.type") == 0 && strcmp(at[1].val.v.s, "DataLoader") == 0;
    return 0;
}

static void test_migrates_schema_3(void **state)
{
    (void)state;
    const char *dir;
    sdb *db = tf_sdb_open(&dir);
    for (int i = 1; i <= 6; i++) put(db, i, 1, "Workflow", i);
    sdb_close(db);
    /* the v3 layout: attrs in mspans (filled), spans_by_source, no dicts, raw bodies */
    assert_int_equal(query(dir, COMPRESSED), 0);
    exec(dir, "BEGIN; ALTER TABLE mspans ADD COLUMN attrs BLOB; UPDATE mspans SET attrs = randomblob(120);"
              "CREATE INDEX spans_by_source ON spans(source); DROP TABLE dicts; PRAGMA user_version = 3; COMMIT;");
    char err[256];
    db = sdb_open(dir, err, sizeof err);
    if (!db) fail_msg("sdb_open: %s", err);
    assert_int_equal(query(dir, "PRAGMA user_version"), 7);
    assert_int_equal(query(dir, "SELECT count(*) FROM pragma_table_info('mspans') WHERE name = 'attrs'"), 0);
    assert_int_equal(query(dir, "SELECT count(*) FROM sqlite_master WHERE name = 'spans_by_source'"), 0);
    assert_int_equal(query(dir, "SELECT count(*) FROM sqlite_master WHERE name = 'dicts'"), 1);
    /* the v3 spans read as before: trace, search, their compact rows' attributes */
    for (int i = 1; i <= 6; i++) expect_trace(db, i, "Workflow");
    assert_int_equal(by_attr(db, "wf-3"), 1);
    attrs_seen a = {db, 0, 0};
    assert_int_equal(sdb_mspans_scan(db, NULL, T0, T0 + 1000 * S, NULL, 0, attrs_cb, &a), 6);
    assert_int_equal(a.with_stage, 6);
    /* written to after: compressed bodies beside the raw ones */
    sdb_set_dict_samples(db, 2);
    for (int i = 7; i <= 12; i++) put(db, i, 1, "DataLoader", i);
    assert_int_equal(query(dir, COMPRESSED), 4);
    for (int i = 7; i <= 12; i++) expect_trace(db, i, "DataLoader");
    a = (attrs_seen){db, 0, 0};
    assert_int_equal(sdb_mspans_scan(db, NULL, T0, T0 + 1000 * S, NULL, 0, attrs_cb, &a), 12);
    assert_int_equal(a.with_stage, 12);
    /* retention still deletes both kinds, and their sources */
    assert_int_equal(sdb_retention_step(db, T0 + 9 * S, 100), 6);
    assert_int_equal(query(dir, "SELECT count(*) FROM spans"), 6);
    assert_int_equal(query(dir, "SELECT count(*) FROM sources"), 1);
    assert_int_equal(sdb_retention_step(db, T0 + 1000 * S, 100), 6);
    assert_int_equal(query(dir, "SELECT count(*) FROM mspans"), 0);
    assert_int_equal(query(dir, "SELECT count(*) FROM sources"), 0);
    sdb_close(db);
}

/* ---- relative times (schema 5) and from schema 4 ----------------------------- */

/* One span of trace tb with two events, one before its start (the times
 * wrap around when made relative). */
static void put_events(sdb *db, int tb, int64_t start_s)
{
    char hex[33], json[4096];
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", tb);
    long long st = (long long)(T0 + start_s * S + 123), en = st + 2 * S + 7;
    snprintf(json, sizeof json,
             "{\"resourceSpans\":[{\"resource\":{},\"scopeSpans\":[{\"spans\":[{\"traceId\":\"%s\","
             "\"spanId\":\"0000000000000001\",\"name\":\"Stage\",\"startTimeUnixNano\":\"%lld\","
             "\"endTimeUnixNano\":\"%lld\",\"attributes\":[{\"key\":\"workflow.id\",\"value\":{\"stringValue\":"
             "\"wf-%d\"}}],\"events\":[{\"name\":\"early\",\"timeUnixNano\":\"%lld\"},"
             "{\"name\":\"late\",\"timeUnixNano\":\"%lld\"}]}]}]}]}",
             hex, st, en, tb, st - 5 * S, en + 1);
    tf_sdb_ingest_json(db, json, 1);
}

/* Trace tb reads back with exactly the times put_events sent. */
static void expect_times(sdb *db, int tb, int64_t start_s)
{
    uint8_t id[16];
    memset(id, tb, sizeof id);
    sdb_trace *t = NULL;
    if (sdb_trace_get(db, NULL, id, &t) != 1) fail_msg("trace %d: %s", tb, sdb_errmsg(db));
    const exo_pb_span *sp = t->spans[0].span;
    uint64_t st = (uint64_t)(T0 + start_s * S + 123), en = st + 2 * S + 7;
    assert_int_equal(sp->start_time_unix_nano, st);
    assert_int_equal(sp->end_time_unix_nano, en);
    assert_int_equal(sp->n_events, 2);
    assert_int_equal(sp->events[0]->time_unix_nano, st - 5 * S);
    assert_int_equal(sp->events[1]->time_unix_nano, en + 1);
    sdb_trace_free(t);
}

static ZSTD_DDict *v4_ddict;

static const ZSTD_DDict *v4_lookup(void *arg, uint32_t id)
{
    (void)arg;
    (void)id;
    return v4_ddict;
}

/* Rewrite every stored body as schema 4 stored it: absolute times, and
 * compressed (form 0, the same dictionary) when it was compressed. */
static void to_schema4(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/traces.db", dir);
    sqlite3 *c;
    assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
    sqlite3_stmt *d, *sel, *upd;
    assert_int_equal(sqlite3_prepare_v2(c, "SELECT id, bytes FROM dicts", -1, &d, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(d), SQLITE_ROW);
    uint32_t dict_id = (uint32_t)sqlite3_column_int(d, 0);
    ZSTD_CDict *cd = ZSTD_createCDict(sqlite3_column_blob(d, 1), (size_t)sqlite3_column_bytes(d, 1), 3);
    v4_ddict = ZSTD_createDDict(sqlite3_column_blob(d, 1), (size_t)sqlite3_column_bytes(d, 1));
    sqlite3_finalize(d);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    assert_int_equal(sdb_body_cctx_init(cc, 3), 0);
    assert_int_equal(sdb_body_dctx_init(dc), 0);
    assert_int_equal(sqlite3_prepare_v2(c, "SELECT id, body FROM spans", -1, &sel, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(c, "UPDATE spans SET body = ?2 WHERE id = ?1", -1, &upd, NULL), SQLITE_OK);
    uint8_t *dec = NULL, *enc = NULL, packed[4096];
    size_t dcap = 0, ecap = 0;
    char why[256];
    while (sqlite3_step(sel) == SQLITE_ROW) {
        const uint8_t *blob = sqlite3_column_blob(sel, 1), *raw;
        size_t len = (size_t)sqlite3_column_bytes(sel, 1), n;
        assert_true(sdb_body_relative(blob, len));
        int compressed = blob[0] == SDB_BODY_ZREL;
        assert_int_equal(sdb_body_decode(dc, v4_lookup, NULL, blob, len, &dec, &dcap, &raw, &n, why, sizeof why), 0);
        exo_pb_span *s = opentelemetry__proto__trace__v1__span__unpack(NULL, n, raw);
        assert_non_null(s);
        sdb_body_times(s, 0);
        size_t plen = protobuf_c_message_pack(&s->base, packed);
        protobuf_c_message_free_unpacked(&s->base, NULL);
        const uint8_t *out = packed;
        long olen = (long)plen;
        if (compressed) {
            olen = sdb_body_encode(cc, cd, dict_id, packed, plen, &enc, &ecap);
            assert_true(olen > 0 && enc[0] == SDB_BODY_Z);
            out = enc;
        }
        sqlite3_bind_int64(upd, 1, sqlite3_column_int64(sel, 0));
        sqlite3_bind_blob(upd, 2, out, (int)olen, SQLITE_TRANSIENT);
        assert_int_equal(sqlite3_step(upd), SQLITE_DONE);
        sqlite3_reset(upd);
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    assert_int_equal(sqlite3_exec(c, "PRAGMA user_version = 4", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(c);
    ex_free(dec);
    ex_free(enc);
    ZSTD_freeCDict(cd);
    ZSTD_freeDDict(v4_ddict);
    ZSTD_freeCCtx(cc);
    ZSTD_freeDCtx(dc);
}

#define FORM(f) "SELECT count(*) FROM spans WHERE substr(body, 1, 1) = x'0" #f "'"

static void test_relative_times_and_schema_4(void **state)
{
    (void)state;
    const char *dir;
    sdb *db = tf_sdb_open(&dir);
    sdb_set_dict_samples(db, 2);
    for (int i = 1; i <= 6; i++) put_events(db, i, i);
    /* the samples raw (form 2), the rest compressed (form 1); every time exact */
    assert_int_equal(query(dir, FORM(2)), 2);
    assert_int_equal(query(dir, FORM(1)), 4);
    for (int i = 1; i <= 6; i++) expect_times(db, i, i);
    sdb_close(db);
    /* a schema 4 database: its bodies absolute, raw or form 0 */
    to_schema4(dir);
    assert_int_equal(query(dir, FORM(0)), 4);
    assert_int_equal(query(dir, FORM(1)) + query(dir, FORM(2)), 0);
    char err[256];
    db = sdb_open(dir, err, sizeof err);
    if (!db) fail_msg("sdb_open: %s", err);
    assert_int_equal(query(dir, "PRAGMA user_version"), 7);
    for (int i = 1; i <= 6; i++) expect_times(db, i, i);
    assert_int_equal(by_attr(db, "wf-5"), 1);
    /* new spans beside them in the new form; a re-sent old one replaced */
    for (int i = 7; i <= 9; i++) put_events(db, i, i);
    put_events(db, 3, 3);
    assert_int_equal(query(dir, FORM(1)), 4);
    assert_int_equal(query(dir, FORM(0)), 3);
    for (int i = 1; i <= 9; i++) expect_times(db, i, i);
    assert_int_equal(query(dir, "SELECT count(*) FROM mspans"), 9);
    /* retention finds the compact rows of both (by the bodies' starts) */
    assert_int_equal(sdb_retention_step(db, T0 + 1000 * S, 100), 9);
    assert_int_equal(query(dir, "SELECT count(*) FROM mspans"), 0);
    assert_int_equal(query(dir, "SELECT count(*) FROM spans"), 0);
    sdb_close(db);
}

/* ---- names interned (schema 6) and from schema 5 ------------------------------ */

/* Give a database schema 5's layout back: names as text in roots, mspans
 * and mroll, roots' trace ids, traces_by_end, no names table. */
static const char to_schema5[] =
    "BEGIN;"
    "CREATE TABLE r5(tenant INTEGER NOT NULL, name TEXT NOT NULL, service TEXT NOT NULL,"
    " start_ns INTEGER NOT NULL, trace INTEGER NOT NULL, end_ns INTEGER NOT NULL, namespace TEXT NOT NULL,"
    " outcome TEXT NOT NULL, workflow_id TEXT NOT NULL, status INTEGER NOT NULL, message TEXT NOT NULL,"
    " trace_id BLOB NOT NULL, PRIMARY KEY(tenant, name, service, start_ns, trace)) WITHOUT ROWID;"
    "INSERT INTO r5 SELECT r.tenant, n.name, v.name, r.start_ns, r.trace, r.end_ns, r.namespace, r.outcome,"
    " r.workflow_id, r.status, r.message, t.trace_id FROM roots r JOIN names n ON n.id = r.name"
    " JOIN names v ON v.id = r.service JOIN traces t ON t.id = r.trace;"
    "DROP TRIGGER roots_follow_traces; DROP TABLE roots; ALTER TABLE r5 RENAME TO roots;"
    "CREATE UNIQUE INDEX roots_by_trace ON roots(trace);"
    "CREATE TRIGGER roots_follow_traces AFTER DELETE ON traces BEGIN DELETE FROM roots WHERE trace = old.id; END;"
    "CREATE TABLE m5(tenant INTEGER NOT NULL, start_ns INTEGER NOT NULL, span INTEGER NOT NULL,"
    " trace INTEGER NOT NULL, dur_ns INTEGER NOT NULL, status INTEGER NOT NULL, kind INTEGER NOT NULL,"
    " name TEXT NOT NULL, source INTEGER NOT NULL, PRIMARY KEY(tenant, start_ns, span)) WITHOUT ROWID;"
    "INSERT INTO m5 SELECT m.tenant, m.start_ns, m.span, m.trace, m.dur_ns, m.status, m.kind, n.name, m.source"
    " FROM mspans m JOIN names n ON n.id = m.name;"
    "DROP TABLE mspans; ALTER TABLE m5 RENAME TO mspans;"
    "CREATE TABLE o5(tenant INTEGER NOT NULL, minute INTEGER NOT NULL, name TEXT NOT NULL,"
    " source INTEGER NOT NULL, status INTEGER NOT NULL, kind INTEGER NOT NULL, bucket INTEGER NOT NULL,"
    " n INTEGER NOT NULL, PRIMARY KEY(tenant, minute, name, source, status, kind, bucket)) WITHOUT ROWID;"
    "INSERT INTO o5 SELECT o.tenant, o.minute, n.name, o.source, o.status, o.kind, o.bucket, o.n"
    " FROM mroll o JOIN names n ON n.id = o.name;"
    "DROP TABLE mroll; ALTER TABLE o5 RENAME TO mroll; DROP TABLE names;"
    "CREATE INDEX traces_by_end ON traces(end_ns); PRAGMA user_version = 5; COMMIT;";

typedef struct listed {
    int rows;
    int first; /* the first row's trace (put's tb) */
} listed;

static int root_cb(void *arg, const sdb_root_row *r)
{
    listed *l = arg;
    assert_string_equal(r->name, "Workflow");
    assert_string_equal(r->service, "extrace-worker");
    int tb = (int)((r->start_ns - T0) / S); /* put starts trace tb at T0 + tb s */
    uint8_t id[16];
    memset(id, tb, sizeof id);
    assert_memory_equal(r->trace_id, id, 16);
    if (l->rows++ == 0) l->first = tb;
    return 0;
}

/* Workflow roots listed newest first: their count; the first is trace first. */
static int roots_listed(sdb *db, int first)
{
    sdb_roots_query q = {.name = "Workflow", .service = "extrace-worker", .sort = SDB_ROOTS_START, .descending = 1,
                         .limit = 100};
    sdb_roots_counts c;
    listed l = {0};
    assert_true(sdb_roots_list(db, NULL, &q, &c, root_cb, &l) >= 0);
    assert_int_equal(c.total, l.rows);
    if (l.rows) assert_int_equal(l.first, first);
    return l.rows;
}

static int count_mspan(void *arg, const sdb_mspan *m)
{
    assert_string_equal(m->name, "DataLoader");
    (*(int *)arg)++;
    return 0;
}

static int count_mroll(void *arg, const sdb_mroll *m)
{
    *(long *)arg += strcmp(m->name, "Workflow") == 0 ? m->n : 1000;
    return 0;
}

static void test_names_and_schema_5(void **state)
{
    (void)state;
    const char *dir;
    sdb *db = tf_sdb_open(&dir);
    for (int i = 1; i <= 4; i++) put(db, i, 1, "Workflow", i);
    put(db, 5, 2, "DataLoader", 5);
    put(db, 6, 2, "DataLoader", 6);
    /* one row a name: two span names and one service */
    assert_int_equal(query(dir, "SELECT count(*) FROM names"), 3);
    assert_int_equal(query(dir, "SELECT count(*) FROM pragma_table_info('mspans') WHERE name = 'name'"
                                " AND type = 'INTEGER'"),
                     1);
    assert_int_equal(roots_listed(db, 4), 4);
    sdb_close(db);
    exec(dir, to_schema5);
    assert_int_equal(query(dir, "SELECT count(*) FROM sqlite_master WHERE name = 'names'"), 0);
    char err[256];
    db = sdb_open(dir, err, sizeof err);
    if (!db) fail_msg("sdb_open: %s", err);
    assert_int_equal(query(dir, "PRAGMA user_version"), 7);
    assert_int_equal(query(dir, "SELECT count(*) FROM names"), 3);
    assert_int_equal(query(dir, "SELECT count(*) FROM sqlite_master WHERE name IN ('roots_v5', 'mspans_v5',"
                                " 'mroll_v5', 'traces_by_end')"),
                     0);
    assert_int_equal(query(dir, "SELECT count(*) FROM pragma_table_info('roots') WHERE name = 'trace_id'"), 0);
    assert_int_equal(query(dir, "SELECT count(*) FROM mspans"), 6);
    /* the migrated rows read as before: roots listed (trace ids from traces), spans and counts by name */
    assert_int_equal(roots_listed(db, 4), 4);
    int n = 0;
    assert_int_equal(sdb_mspans_scan(db, NULL, T0, T0 + 1000 * S, "DataLoader", 0, count_mspan, &n), 2);
    assert_int_equal(n, 2);
    long wf = 0;
    assert_true(sdb_mroll_scan(db, NULL, T0 / SDB_MINUTE_NS, T0 / SDB_MINUTE_NS + 100, "Workflow", count_mroll, &wf) >
                0);
    assert_int_equal(wf, 4);
    assert_int_equal(sdb_mspans_scan(db, NULL, T0, T0 + 1000 * S, "NoSuchName", 0, count_mspan, &n), 0);
    /* written to after: a new root and a new name */
    put(db, 7, 1, "Workflow", 7);
    put(db, 8, 3, "OutputGenerator", 8);
    assert_int_equal(roots_listed(db, 7), 5);
    assert_int_equal(query(dir, "SELECT count(*) FROM names"), 4);
    /* retention: names no span or root has any more go with their spans */
    assert_int_equal(sdb_retention_step(db, T0 + 15 * S / 2, 100), 5); /* ends at 3..7 s */
    assert_int_equal(query(dir, "SELECT count(*) FROM names WHERE name = 'DataLoader'"), 1);
    assert_int_equal(sdb_retention_step(db, T0 + 17 * S / 2, 100), 1);
    assert_int_equal(query(dir, "SELECT count(*) FROM names WHERE name = 'DataLoader'"), 0);
    assert_int_equal(query(dir, "SELECT count(*) FROM names"), 3);
    assert_int_equal(roots_listed(db, 7), 1);
    put(db, 9, 2, "DataLoader", 9); /* added again: a new id, read back by name */
    n = 0;
    assert_int_equal(sdb_mspans_scan(db, NULL, T0, T0 + 1000 * S, "DataLoader", 0, count_mspan, &n), 1);
    assert_int_equal(sdb_retention_step(db, T0 + 1000 * S, 100), 3);
    assert_int_equal(query(dir, "SELECT count(*) FROM names"), 0);
    sdb_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codec_round_trip),
        cmocka_unit_test(test_store_compresses_after_training),
        cmocka_unit_test(test_dictionary_rolled_back),
        cmocka_unit_test(test_migrates_schema_3),
        cmocka_unit_test(test_relative_times_and_schema_4),
        cmocka_unit_test(test_names_and_schema_5),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
