/* test_store_roots.c — the roots table (src/store/db_roots.c): the outcome
 * rule, one row per root span written with its trace and removed with it,
 * counts, filters, sorts and pages of sdb_roots_list, and the filling of
 * roots when a schema version 1 database is opened. Requests are OTLP/JSON
 * decoded by the real decoder. */
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

/* Store one workflow root span (trace id bytes all tb) in namespace ns,
 * with a child span; result "" leaves extrace.result out. */
static void workflow(sdb *db, int tb, const char *ns, const char *wf, const char *result, int code, const char *msg,
                     int64_t start_s, int64_t end_s)
{
    char hex[33], json[4096], extra[256] = "";
    for (int i = 0; i < 16; i++) snprintf(hex + 2 * i, 3, "%02x", tb);
    if (*result) snprintf(extra, sizeof extra, ",{\"key\":\"extrace.result\",\"value\":{\"stringValue\":\"%s\"}}", result);
    snprintf(json, sizeof json,
             "{\"resourceSpans\":[{\"resource\":{\"attributes\":["
             "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"Tracing.Worker\"}},"
             "{\"key\":\"service.namespace\",\"value\":{\"stringValue\":\"%s\"}}]},"
             "\"scopeSpans\":[{\"spans\":[{\"traceId\":\"%s\",\"spanId\":\"0000000000000001\",\"name\":\"Workflow\","
             "\"startTimeUnixNano\":\"%lld\",\"endTimeUnixNano\":\"%lld\",\"status\":{\"code\":%d,\"message\":\"%s\"},"
             "\"attributes\":[{\"key\":\"workflowId\",\"value\":{\"stringValue\":\"%s\"}}%s]},"
             "{\"traceId\":\"%s\",\"spanId\":\"0000000000000002\",\"parentSpanId\":\"0000000000000001\","
             "\"name\":\"DataLoader\",\"startTimeUnixNano\":\"%lld\",\"endTimeUnixNano\":\"%lld\"}]}]}]}",
             ns, hex, (long long)(T0 + start_s * S), (long long)(T0 + end_s * S), code, msg, wf, extra, hex,
             (long long)(T0 + start_s * S - 5 * S), (long long)(T0 + end_s * S));
    tf_sdb_ingest_json(db, json, 2);
}

typedef struct rows {
    char ids[16][64];
    char outcomes[16][16];
    int64_t start[16], end[16];
    int status[16];
    size_t n;
} rows;

static int row_cb(void *arg, const sdb_root_row *r)
{
    rows *l = arg;
    assert_true(l->n < 16);
    snprintf(l->ids[l->n], sizeof l->ids[0], "%s", r->workflow_id);
    snprintf(l->outcomes[l->n], sizeof l->outcomes[0], "%s", r->outcome);
    l->start[l->n] = r->start_ns;
    l->end[l->n] = r->end_ns;
    l->status[l->n] = r->status;
    l->n++;
    return 0;
}

static long list(sdb *db, sdb_roots_query q, sdb_roots_counts *c, rows *out)
{
    memset(out, 0, sizeof *out);
    q.name = "Workflow";
    q.service = "Tracing.Worker";
    if (!q.limit) q.limit = 16;
    long n = sdb_roots_list(db, NULL, &q, c, row_cb, out);
    if (n < 0) fail_msg("sdb_roots_list: %s", sdb_errmsg(db));
    return n;
}

static void test_outcome_rule(void **state)
{
    (void)state;
    assert_string_equal(sdb_root_outcome("timeout", 1, ""), "timeout");
    assert_string_equal(sdb_root_outcome("ok", 2, "x"), "ok");
    assert_string_equal(sdb_root_outcome("bogus", 1, ""), "ok");
    assert_string_equal(sdb_root_outcome(NULL, 2, "Monitor Timed Out after 30 m"), "timeout");
    assert_string_equal(sdb_root_outcome(NULL, 2, "Entity failed"), "error");
    assert_string_equal(sdb_root_outcome(NULL, 2, NULL), "error");
    assert_string_equal(sdb_root_outcome(NULL, 0, "timed out"), "unset");
}

/* Five workflows: ids, outcomes, namespaces and durations differ. */
static void five(sdb *db)
{
    workflow(db, 1, "dev1", "aa11-first", "ok", 1, "", 0, 60);
    workflow(db, 2, "dev1", "AB22-second", "error", 2, "Entity failed: Processor", 10, 30);
    workflow(db, 3, "dev2", "ab33-third", "", 2, "Monitor timed out", 20, 2000);
    workflow(db, 4, "dev2", "cc44-fourth", "ok", 1, "", 30, 35);
    workflow(db, 5, "dev1", "a_5-fifth", "", 0, "", 40, 50);
}

static void test_counts_filters_sorts_pages(void **state)
{
    (void)state;
    sdb *db = tf_sdb_open(NULL);
    five(db);
    sdb_roots_counts c;
    rows r;
    /* Newest start first by default; the root span's own times (the child
     * starts 5 s earlier). */
    assert_int_equal(list(db, (sdb_roots_query){.descending = 1}, &c, &r), 5);
    assert_int_equal(c.total, 5);
    assert_int_equal(c.ok, 2);
    assert_int_equal(c.error, 1);
    assert_int_equal(c.timeout, 1);
    assert_int_equal(c.unset, 1);
    assert_int_equal(c.matched, 5);
    assert_string_equal(r.ids[0], "a_5-fifth");
    assert_string_equal(r.ids[4], "aa11-first");
    assert_true(r.start[4] == T0 && r.end[4] == T0 + 60 * S);
    assert_string_equal(r.outcomes[2], "timeout");
    assert_int_equal(r.status[3], 2);
    /* Status filter: rows and `matched` follow it, the counts do not. */
    assert_int_equal(list(db, (sdb_roots_query){.outcome = "ok"}, &c, &r), 2);
    assert_int_equal(c.total, 5);
    assert_int_equal(c.matched, 2);
    assert_string_equal(r.ids[0], "aa11-first");
    /* Namespace, then id prefix (case ignored, LIKE wildcards literal). */
    assert_int_equal(list(db, (sdb_roots_query){.ns = "dev2"}, &c, &r), 2);
    assert_int_equal(c.total, 2);
    assert_int_equal(list(db, (sdb_roots_query){.id_prefix = "ab"}, &c, &r), 2);
    assert_int_equal(c.total, 2);
    assert_int_equal(list(db, (sdb_roots_query){.id_prefix = "a_"}, &c, &r), 1);
    assert_string_equal(r.ids[0], "a_5-fifth");
    assert_int_equal(list(db, (sdb_roots_query){.id_prefix = "zz"}, &c, &r), 0);
    assert_int_equal(c.total, 0);
    /* Sorts: duration descending, id ascending, status ascending. */
    list(db, (sdb_roots_query){.sort = SDB_ROOTS_DURATION, .descending = 1}, &c, &r);
    assert_string_equal(r.ids[0], "ab33-third");
    assert_string_equal(r.ids[4], "cc44-fourth");
    list(db, (sdb_roots_query){.sort = SDB_ROOTS_ID}, &c, &r);
    assert_string_equal(r.ids[0], "AB22-second"); /* binary order: upper case first */
    list(db, (sdb_roots_query){.sort = SDB_ROOTS_OUTCOME}, &c, &r);
    assert_string_equal(r.outcomes[0], "error");
    assert_string_equal(r.outcomes[4], "unset");
    /* Pages: offset and limit over the same order. */
    assert_int_equal(list(db, (sdb_roots_query){.sort = SDB_ROOTS_START, .offset = 3, .limit = 10}, &c, &r), 2);
    assert_string_equal(r.ids[0], "cc44-fourth"); /* past the middle: read from the other end */
    assert_string_equal(r.ids[1], "a_5-fifth");
    assert_int_equal(list(db, (sdb_roots_query){.descending = 1, .offset = 3, .limit = 1}, &c, &r), 1);
    assert_string_equal(r.ids[0], "AB22-second");
    assert_int_equal(list(db, (sdb_roots_query){.sort = SDB_ROOTS_DURATION, .offset = 1, .limit = 2}, &c, &r), 2);
    assert_string_equal(r.ids[0], "a_5-fifth"); /* durations 5, 10, 20, 60, 1980 s */
    assert_string_equal(r.ids[1], "AB22-second");
    assert_int_equal(list(db, (sdb_roots_query){.offset = 5}, &c, &r), 0);
    assert_int_equal(c.matched, 5);
    /* Time window: root spans overlapping it. */
    assert_int_equal(list(db, (sdb_roots_query){.start_ns = T0 + 36 * S, .end_ns = T0 + 45 * S}, &c, &r), 3);
    sdb_close(db);
}

static void test_resend_and_retention(void **state)
{
    (void)state;
    const char *dir;
    sdb *db = tf_sdb_open(&dir);
    five(db);
    /* The root span sent again with a new status replaces its row. */
    workflow(db, 1, "dev1", "aa11-first", "", 2, "Entity failed: DataLoader", 0, 60);
    sdb_roots_counts c;
    rows r;
    list(db, (sdb_roots_query){.id_prefix = "aa11"}, &c, &r);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.outcomes[0], "error");
    assert_int_equal(c.total, 1);
    /* Retention takes the row with its trace (ends before 100 s: all but trace 3). */
    assert_int_equal(sdb_retention_step(db, T0 + 100 * S, 100), 4);
    assert_int_equal(list(db, (sdb_roots_query){0}, &c, &r), 1);
    assert_string_equal(r.ids[0], "ab33-third");
    sdb_close(db);
}

/* A database written before the roots table (schema version 1) gets its
 * rows when opened. */
static void test_backfill_on_upgrade(void **state)
{
    (void)state;
    const char *dir;
    sdb *db = tf_sdb_open(&dir);
    five(db);
    sdb_close(db);
    char path[512];
    snprintf(path, sizeof path, "%s/traces.db", dir);
    sqlite3 *c;
    assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
    assert_int_equal(sqlite3_exec(c, "DROP TABLE roots; PRAGMA user_version = 1;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(c);
    char err[512];
    db = sdb_open(dir, err, sizeof err);
    if (!db) fail_msg("sdb_open: %s", err);
    sdb_roots_counts counts;
    rows r;
    assert_int_equal(list(db, (sdb_roots_query){.descending = 1}, &counts, &r), 5);
    assert_int_equal(counts.timeout, 1);
    assert_string_equal(r.ids[0], "a_5-fifth");
    sdb_close(db);
}

static void test_bad_query(void **state)
{
    (void)state;
    sdb *db = tf_sdb_open(NULL);
    sdb_roots_query q = {.name = "Workflow", .service = "Tracing.Worker", .sort = (sdb_roots_sort)99, .limit = 1};
    assert_int_equal(sdb_roots_list(db, NULL, &q, NULL, row_cb, NULL), -1);
    assert_string_equal(sdb_errmsg(db), "unknown sort 99");
    q = (sdb_roots_query){.limit = 1};
    assert_int_equal(sdb_roots_list(db, NULL, &q, NULL, row_cb, NULL), -1);
    sdb_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outcome_rule),
        cmocka_unit_test(test_counts_filters_sorts_pages),
        cmocka_unit_test(test_resend_and_retention),
        cmocka_unit_test(test_backfill_on_upgrade),
        cmocka_unit_test(test_bad_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
