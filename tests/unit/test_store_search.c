/* test_store_search.c — /api/search's status engine (query_search.c,
 * tql_span_statuses, the statuses kept per trace by the store): over a
 * store of traces with mixed statuses (errors on the root, only on a
 * child, on a span re-sent as ok, only on a child starting long after its
 * trace's other spans, under a service.name that is not a string), every
 * query whose matches must have some status answers with the same traces
 * in the same order and with the same spansets as the full scan
 * (engine=scan), for limits that cut the list, time windows, durations
 * and tags=, reading fewer traces; the error traces are the ones a brute
 * force over what was sent finds; and a database from before the
 * statuses were kept (schema 6) answers the same. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "store/query_api.h"
#include "store_fixture.h"

#define NTRACES 48
#define SEC UINT64_C(1000000000)
#define BASE_S UINT64_C(1700000000)
#define BASE (BASE_S * SEC)

/* The spans of trace i: a root and three children, with statuses by i % 6
 * (codes 0 unset, 1 ok, 2 error). */
static const char *const child_names[3] = {"DataLoader", "Processor", "OutputGenerator"};
static const int child_kinds[3] = {3, 2, 1};

static int status_of(int i, int span) /* span 0: the root, 1..3 the children */
{
    static const int by_pattern[6][4] = {{2, 0, 2, 0}, {1, 0, 2, 0}, {1, 0, 0, 0},
                                         {0, 0, 0, 0}, {0, 2, 0, 1}, {1, 1, 1, 1}};
    if (i == 7) return span == 3 ? 2 : 0; /* the child that ends before it starts */
    if (i == 13 && span == 2) return 1;   /* its error was re-sent as ok */
    return by_pattern[i % 6][span];
}

/* The late span of trace 3 (error, before its root: widens its start). */
static int has_error(int i)
{
    for (int sp = 0; sp < 4; sp++)
        if (status_of(i, sp) == 2) return 1;
    return i == 3;
}

static uint64_t root_start(int i) { return BASE + (uint64_t)i * 10 * SEC; }

/* A trace's start: its earliest span's (trace 3's late span is earlier). */
static uint64_t trace_start(int i) { return i == 3 ? root_start(3) - 30 * SEC : root_start(i); }

/* Newest start first; ties: the trace stored last first. */
static int newest_first(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    if (trace_start(x) != trace_start(y)) return trace_start(x) < trace_start(y) ? 1 : -1;
    return y - x;
}

/* One span as OTLP/JSON appended to b; sp is its span id's last byte
 * (0: the root, the parent of the others). */
static void span_json(char *b, size_t cap, int i, int sp, const char *name, int kind, uint64_t start, uint64_t end,
                      int status)
{
    size_t n = strlen(b);
    char parent[48] = "";
    if (sp) snprintf(parent, sizeof parent, "\"parentSpanId\":\"%014x00\",", i + 1);
    snprintf(b + n, cap - n,
             "%s{\"traceId\":\"%032x\",\"spanId\":\"%014x%02x\",%s\"name\":\"%s\",\"kind\":%d,"
             "\"startTimeUnixNano\":\"%" PRIu64 "\",\"endTimeUnixNano\":\"%" PRIu64 "\","
             "\"attributes\":[{\"key\":\"workflowId\",\"value\":{\"stringValue\":\"wf-%d\"}}],"
             "\"status\":{\"code\":%d}}",
             b[n - 1] == '[' ? "" : ",", i + 1, i + 1, sp, parent, name, kind, start, end, i, status);
}

/* A request of one resource (service.name svc, or the int 7 when NULL). */
static void request_json(char *b, size_t cap, const char *svc)
{
    if (svc)
        snprintf(b, cap, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
                         "\"value\":{\"stringValue\":\"%s\"}}]},\"scopeSpans\":[{\"spans\":[", svc);
    else
        snprintf(b, cap, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\","
                         "\"value\":{\"intValue\":\"7\"}}]},\"scopeSpans\":[{\"spans\":[");
}

static void send_request(sdb *db, char *b, size_t cap, uint64_t spans)
{
    size_t n = strlen(b);
    snprintf(b + n, cap - n, "]}]}]}");
    tf_sdb_ingest_json(db, b, spans);
}

static void ingest_all(sdb *db)
{
    char b[8192];
    for (int i = 0; i < NTRACES; i++) {
        request_json(b, sizeof b, i % 11 == 10 ? NULL : i % 2 ? "svc-b" : "svc-a");
        uint64_t r0 = root_start(i);
        span_json(b, sizeof b, i, 0, "Workflow", 1, r0, r0 + (uint64_t)(i % 4 + 1) * 60 * SEC, status_of(i, 0));
        for (int c = 1; c <= 3; c++) {
            uint64_t s0 = r0 + (uint64_t)(c * (i % 3 + 1) * 7) * SEC, e0 = s0 + (uint64_t)c * 5 * SEC;
            if (i == 7 && c == 3) s0 = BASE + 2000 * SEC, e0 = r0 + SEC; /* long after its trace ends */
            span_json(b, sizeof b, i, c, child_names[c - 1], child_kinds[c - 1], s0, e0,
                      i == 13 && c == 2 ? 2 : status_of(i, c));
        }
        send_request(db, b, sizeof b, 4);
    }
    /* trace 3: a late span with an error; trace 13: Processor again, ok */
    request_json(b, sizeof b, "svc-b");
    span_json(b, sizeof b, 3, 9, "Retry", 1, root_start(3) - 30 * SEC, root_start(3) - 20 * SEC, 2);
    send_request(db, b, sizeof b, 1);
    request_json(b, sizeof b, "svc-b");
    uint64_t p0 = root_start(13) + 2 * 7 * 2 * SEC;
    span_json(b, sizeof b, 13, 2, "Processor", 2, p0, p0 + 10 * SEC, 1);
    send_request(db, b, sizeof b, 1);
}

typedef struct world {
    sdb *db;
    sq_ctx *ctx;
    ex_http_resp resp;
} world;

static int setup(void **state)
{
    world *w = calloc(1, sizeof *w);
    w->db = tf_sdb_open(NULL);
    ingest_all(w->db);
    w->ctx = sq_ctx_new(w->db);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    world *w = *state;
    tf_resp_free(&w->resp);
    sq_ctx_free(w->ctx);
    sdb_close(w->db);
    free(w);
    return 0;
}

/* GET /api/search with q, args and engine=…; the answer's JSON. */
static json_t *search(world *w, const char *q, const char *const *args, const char *engine, const char *want_engine)
{
    const char *all[12];
    char qa[300], ea[40];
    size_t n = 0;
    snprintf(qa, sizeof qa, "q=%s", q);
    snprintf(ea, sizeof ea, "engine=%s", engine);
    all[n++] = qa;
    all[n++] = ea;
    for (size_t i = 0; args && args[i] && n < 11; i++) all[n++] = args[i];
    all[n] = NULL;
    int status = tf_sq_call(w->ctx, "GET", "/api/search", all, NULL, &w->resp);
    if (status != 200) fail_msg("%s %s: %d %.*s", q, engine, status, (int)w->resp.body_len, w->resp.body);
    const char *used = tf_resp_header(&w->resp, "X-Extrace-Engine");
    if (!used || strcmp(used, want_engine) != 0)
        fail_msg("%s engine=%s: answered by %s, want %s", q, engine, used ? used : "(none)", want_engine);
    json_error_t e;
    json_t *j = json_loadb(w->resp.body, w->resp.body_len, 0, &e);
    if (!j) fail_msg("not JSON (%s)", e.text);
    return j;
}

/* The two engines' answers to q with args: the same traces (order,
 * spansets); the status engine reads no more traces. Returns its answer. */
static json_t *same_answer(world *w, const char *q, const char *const *args, const char *want_engine)
{
    json_t *scan = search(w, q, args, "scan", "scan");
    json_t *fast = search(w, q, args, "auto", want_engine);
    json_int_t read_scan = json_integer_value(json_object_get(json_object_get(scan, "metrics"), "inspectedTraces"));
    json_int_t read_fast = json_integer_value(json_object_get(json_object_get(fast, "metrics"), "inspectedTraces"));
    if (!json_equal(json_object_get(scan, "traces"), json_object_get(fast, "traces")) || read_fast > read_scan) {
        char *a = json_dumps(scan, JSON_COMPACT), *b = json_dumps(fast, JSON_COMPACT);
        fail_msg("%s (%s …):\nscan %s\n%s %s", q, args && args[0] ? args[0] : "", a, want_engine, b);
    }
    json_decref(scan);
    return fast;
}

/* Each query with the engine that answers it. */
static const struct {
    const char *q, *engine;
} queries[] = {
    {"{status=error}", "status"},
    {"{status != error}", "status"},
    {"{status=ok}", "status"},
    {"{status = unset}", "status"},
    {"{status != unset && name != \"Workflow\"}", "status"},
    {"{status=error && kind=server}", "status"},
    {"{!(status=error || status=ok)}", "status"},
    {"{resource.service.name=\"svc-b\" && status=error}", "status"},
    {"{duration > 12s && status != ok}", "status"},
    {"{name=\"Workflow\" && status=ok} | select(span.workflowId)", "status"},
    {"{span.workflowId=\"wf-3\" && status=error}", "status"}, /* through the Bloom filters */
    {"{status=error && status=ok}", "status"},                /* no span can match */
    /* what a status cannot narrow */
    {"{status=error || kind=client}", "scan"},
    {"{resource.service.name != \"svc-a\"}", "scan"},
    {"{}", "scan"},
    {"{status=error} >> {name=\"Processor\"}", "scan"},
};

static void test_status_equals_scan(void **state)
{
    world *w = *state;
    char start[40], end[40], end_past[40];
    snprintf(start, sizeof start, "start=%" PRIu64, BASE_S + 100);
    snprintf(end, sizeof end, "end=%" PRIu64, BASE_S + 3000);
    snprintf(end_past, sizeof end_past, "end=%" PRIu64, BASE_S + 200);
    const char *const limit20[] = {"limit=20", NULL}, *const limit3[] = {"limit=3", NULL},
                      *const limit7[] = {"limit=7", "spss=1", NULL}, *const all[] = {"limit=200", NULL},
                      *const window[] = {start, end, "limit=5", NULL}, *const past[] = {end_past, "limit=5", NULL},
                      *const longer[] = {"minDuration=150s", "limit=4", NULL},
                      *const tags[] = {"tags=service.name=svc-b", NULL};
    const char *const *const argsets[] = {limit20, limit3, limit7, all, window, past, longer, tags};
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++)
        for (size_t a = 0; a < sizeof argsets / sizeof *argsets; a++)
            json_decref(same_answer(w, queries[i].q, argsets[a], queries[i].engine));
}

/* The error traces of a brute force over what was sent, newest first. */
static void expect_error_traces(world *w)
{
    const char *const all[] = {"limit=200", NULL};
    json_t *j = same_answer(w, "{status=error}", all, "status");
    json_t *traces = json_object_get(j, "traces");
    int want[NTRACES];
    size_t n = 0;
    for (int i = 0; i < NTRACES; i++)
        if (has_error(i)) want[n++] = i;
    qsort(want, n, sizeof *want, newest_first);
    assert_int_equal(json_array_size(traces), n);
    for (size_t k = 0; k < n; k++) {
        char id[33];
        snprintf(id, sizeof id, "%032x", want[k] + 1);
        const char *got = json_string_value(json_object_get(json_array_get(traces, k), "traceID"));
        if (!got || strcmp(got, id) != 0) fail_msg("trace %zu: %s, want %s", k, got ? got : "none", id);
    }
    json_decref(j);
}

static void test_error_traces(void **state)
{
    world *w = *state;
    expect_error_traces(w);
    /* read: the error traces and trace 13 (its error span re-sent as ok) */
    const char *const all[] = {"limit=200", NULL};
    json_t *j = search(w, "{status=error}", all, "status", "status");
    size_t errors = json_array_size(json_object_get(j, "traces"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "metrics"), "inspectedTraces")),
                     errors + 1);
    json_decref(j);
    const char *const bad[] = {"q={}", "engine=compact", NULL};
    assert_int_equal(tf_sq_call(w->ctx, "GET", "/api/search", bad, NULL, &w->resp), 400);
    assert_string_equal(w->resp.body, "engine=\"compact\": expected auto, status or scan\n");
}

static void exec_sql(const char *dir, const char *sql)
{
    char path[512];
    snprintf(path, sizeof path, "%s/traces.db", dir);
    sqlite3 *c;
    assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
    if (sqlite3_exec(c, sql, NULL, NULL, NULL) != SQLITE_OK) fail_msg("%s: %s", sql, sqlite3_errmsg(c));
    sqlite3_close(c);
}

/* A database of schema 6 gets the column, every status set in its
 * traces: the status engine reads them all and answers the same. */
static void test_schema_6(void **state)
{
    (void)state;
    const char *dir;
    world w = {.db = tf_sdb_open(&dir)};
    ingest_all(w.db);
    sdb_close(w.db);
    exec_sql(dir, "ALTER TABLE traces DROP COLUMN statuses; PRAGMA user_version = 6;");
    char err[256];
    if (!(w.db = sdb_open(dir, err, sizeof err))) fail_msg("sdb_open: %s", err);
    w.ctx = sq_ctx_new(w.db);
    expect_error_traces(&w);
    const char *const all[] = {"limit=200", NULL};
    json_t *j = search(&w, "{status=error}", all, "status", "status");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "metrics"), "inspectedTraces")),
                     NTRACES);
    json_decref(j);
    tf_resp_free(&w.resp);
    sq_ctx_free(w.ctx);
    sdb_close(w.db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_status_equals_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_traces, setup, teardown),
        cmocka_unit_test(test_schema_6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
