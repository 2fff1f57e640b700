/* test_store_ingest.c — `extrace store` fed by the OpenTelemetry JS SDK:
 * spans exported with the SDK's gRPC, http/protobuf and http/json
 * exporters (tests/otel-js/send.js), per tenant, with and without gzip;
 * read back over the query API (/api/traces/<id>) and through the
 * database reader API; kept across a restart; and kill -9 in the middle
 * of a stream of exports loses no acknowledged span and leaves a sound
 * database. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <sqlite3.h>

#include "store/db.h"
#include "support.h"

/* ---- the store process ---- */

typedef struct store_proc {
    pid_t pid;
    int grpc, http, query; /* ports */
    char dir[256];         /* --data-dir */
    char log[300];
} store_proc;

static void store_start(store_proc *s, const char *dir)
{
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    snprintf(s->log, sizeof s->log, "%s.log", dir);
    ts_store_ports ports;
    s->pid = ts_store_start((char *[]){"--data-dir", s->dir, NULL}, s->log, &ports);
    s->grpc = ports.otlp_grpc;
    s->http = ports.otlp_http;
    s->query = ports.query;
    if (s->pid <= 0) fail_msg("extrace store did not start; see %s", s->log);
}

static void store_stop(store_proc *s)
{
    int rc = ts_stop(s->pid, SIGTERM, 10000);
    if (rc != 0) fail_msg("extrace store exited with %d after SIGTERM; see %s", rc, s->log);
    s->pid = 0;
}

/* ---- the Node senders ---- */

static const char *js(const char *script)
{
    static char path[4][512];
    static int next;
    const char *src = getenv("EXTRACE_SOURCE_DIR");
    char *p = path[next++ % 4];
    snprintf(p, 512, "%s/tests/otel-js/%s", src ? src : ".", script);
    char mods[600];
    snprintf(mods, sizeof mods, "%s/tests/otel-js/node_modules/@opentelemetry/sdk-trace-base", src ? src : ".");
    struct stat st;
    if (stat(mods, &st) != 0) fail_msg("%s missing: run `npm ci` in tests/otel-js", mods);
    return p;
}

/* Run send.js; returns its exit status, summary JSON in *summary. */
static int send_js(const char *protocol, const store_proc *s, const char *tenant, int count, int batch,
                const char *compression, const char *out, json_t **summary)
{
    char endpoint[128], n[16], b[16];
    if (strcmp(protocol, "grpc") == 0) snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", s->grpc);
    else snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d/v1/traces", s->http);
    snprintf(n, sizeof n, "%d", count);
    snprintf(b, sizeof b, "%d", batch);
    char *argv[] = {"node", (char *)js("send.js"), "--protocol", (char *)protocol, "--endpoint", endpoint,
                    "--count", n, "--batch", b, "--compression", (char *)compression, "--out", (char *)out,
                    "--tenant", (char *)(tenant ? tenant : ""), NULL};
    if (!tenant) argv[14] = NULL;
    char *o = NULL, *e = NULL;
    int rc = ts_run(argv, &o, &e, 60000);
    json_error_t jerr;
    *summary = o ? json_loads(o, 0, &jerr) : NULL;
    if (!*summary) fail_msg("send.js %s: no summary (rc %d): %s %s", protocol, rc, o ? o : "", e ? e : "");
    free(o);
    free(e);
    return rc;
}

/* The traces acknowledged, from send.js's --out file (one JSON line per
 * successful export), as one array. */
static json_t *acked_traces(const char *path)
{
    json_t *all = json_array();
    char *text = ts_read_file(path, NULL);
    if (!text) return all;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        if (!j) continue; /* a line cut by the sender's own death is not an acknowledgement */
        json_array_extend(all, json_object_get(j, "traces"));
        json_decref(j);
    }
    free(text);
    return all;
}

/* ---- HTTP ---- */

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    char **buf = arg;
    size_t have = *buf ? strlen(*buf) : 0;
    *buf = realloc(*buf, have + sz * n + 1);
    memcpy(*buf + have, p, sz * n);
    (*buf)[have + sz * n] = '\0';
    return sz * n;
}

/* GET /api/traces/<id> with the tenant header; status, body in *body. */
static long get_trace(const store_proc *s, const char *tenant, const char *trace_id, char **body)
{
    char url[256], hdr[200];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/traces/%s", s->query, trace_id);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    if (tenant) {
        snprintf(hdr, sizeof hdr, "X-Scope-OrgID: %s", tenant);
        h = curl_slist_append(h, hdr);
    }
    *body = NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

/* ---- checks ---- */

static void hex_to_bin(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) sscanf(hex + 2 * i, "%2hhx", &out[i]);
}

static void to_hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

/* Every span of every trace in `traces` (send.js's description) is in db
 * for the tenant, with the same parent, name, status, attribute and event
 * counts; returns the number of spans checked. */
static size_t check_traces(sdb *db, const char *tenant, json_t *traces)
{
    size_t i, checked = 0;
    json_t *t;
    json_array_foreach(traces, i, t) {
        const char *tid = json_string_value(json_object_get(t, "traceId"));
        uint8_t id[16];
        hex_to_bin(tid, id, 16);
        sdb_trace *tr = NULL;
        int rc = sdb_trace_get(db, tenant, id, &tr);
        if (rc != 1) fail_msg("trace %s (tenant %s): sdb_trace_get = %d %s", tid, tenant ? tenant : "-", rc,
                              sdb_errmsg(db));
        json_t *spans = json_object_get(t, "spans");
        assert_int_equal(tr->nspans, json_array_size(spans));
        size_t k;
        json_t *want;
        json_array_foreach(spans, k, want) {
            const sdb_span_ref *got = NULL;
            for (size_t m = 0; m < tr->nspans && !got; m++) {
                char hex[17];
                to_hex(tr->spans[m].span->span_id.data, 8, hex);
                if (strcmp(hex, json_string_value(json_object_get(want, "spanId"))) == 0) got = &tr->spans[m];
            }
            if (!got) fail_msg("trace %s: span %s missing", tid, json_string_value(json_object_get(want, "spanId")));
            const exo_pb_span *sp = got->span;
            char parent[17] = "";
            if (sp->parent_span_id.len == 8) to_hex(sp->parent_span_id.data, 8, parent);
            assert_string_equal(parent, json_string_value(json_object_get(want, "parentSpanId")));
            assert_string_equal(sp->name, json_string_value(json_object_get(want, "name")));
            assert_int_equal(sp->status ? sp->status->code : 0, json_integer_value(json_object_get(want, "status")));
            assert_int_equal(sp->n_attributes, json_integer_value(json_object_get(want, "attributes")));
            assert_int_equal(sp->n_events, json_integer_value(json_object_get(want, "events")));
            assert_string_equal(got->ss->scope->name, "sample-tracing");
            checked++;
        }
        /* The root's summary. */
        assert_string_equal(tr->summary.root_name, "Workflow");
        assert_string_equal(tr->summary.root_service, "Tracing.Worker");
        sdb_trace_free(tr);
    }
    return checked;
}

static sdb *open_db(const char *dir)
{
    char err[512];
    sdb *db = sdb_open(dir, err, sizeof err);
    if (!db) fail_msg("sdb_open %s: %s", dir, err);
    return db;
}

/* The query API answers the first trace of `traces` for its tenant only. */
static void check_over_http(const store_proc *s, const char *tenant, json_t *traces)
{
    const char *tid = json_string_value(json_object_get(json_array_get(traces, 0), "traceId"));
    char *body;
    long st = get_trace(s, tenant, tid, &body);
    if (st != 200) fail_msg("GET /api/traces/%s (tenant %s): %ld %s", tid, tenant ? tenant : "-", st, body ? body : "");
    json_error_t err;
    json_t *j = json_loads(body, 0, &err);
    assert_non_null(j);
    assert_true(json_array_size(json_object_get(j, "batches")) >= 1);
    assert_non_null(strstr(body, "\"Workflow\""));
    json_decref(j);
    free(body);
    st = get_trace(s, "someone-else", tid, &body);
    assert_int_equal(st, 404);
    free(body);
}

static void test_sdk_exporters(void **state)
{
    const char *dir = ts_tmpdir();
    char data[300], out[4][300];
    snprintf(data, sizeof data, "%s/data", dir);
    store_proc s;
    store_start(&s, data);
    struct { const char *protocol, *tenant, *compression; } runs[] = {
        {"grpc", "team-grpc", "none"}, {"proto", "team-proto", "none"}, {"http", NULL, "none"},
        {"grpc", "team-gzip", "gzip"}};
    json_t *traces[4];
    for (int i = 0; i < 4; i++) {
        snprintf(out[i], sizeof out[i], "%s/acked-%d.jsonl", dir, i);
        json_t *sum;
        int rc = send_js(runs[i].protocol, &s, runs[i].tenant, 12, 5, runs[i].compression, out[i], &sum);
        assert_int_equal(rc, 0);
        assert_int_equal(json_integer_value(json_object_get(sum, "exported")), 12);
        json_decref(sum);
        traces[i] = acked_traces(out[i]);
        assert_int_equal(json_array_size(traces[i]), 12);
        check_over_http(&s, runs[i].tenant, traces[i]);
    }
    store_stop(&s);
    /* Everything is in the database, per tenant; nothing leaked across. */
    sdb *db = open_db(data);
    size_t spans = 0;
    for (int i = 0; i < 4; i++) spans += check_traces(db, runs[i].tenant, traces[i]);
    assert_int_equal(spans, 4 * (12 * 4 - 12 / 5)); /* every fifth workflow stops at its failed Processor */
    const char *tid = json_string_value(json_object_get(json_array_get(traces[0], 0), "traceId"));
    uint8_t id[16];
    hex_to_bin(tid, id, 16);
    sdb_trace *tr;
    assert_int_equal(sdb_trace_get(db, "team-proto", id, &tr), 0);
    assert_int_equal(sdb_trace_get(db, NULL, id, &tr), 0);
    sdb_close(db);
    /* After a restart the query API still has them. */
    store_start(&s, data);
    for (int i = 0; i < 4; i++) check_over_http(&s, runs[i].tenant, traces[i]);
    store_stop(&s);
    for (int i = 0; i < 4; i++) json_decref(traces[i]);
}

static int64_t count_spans(const char *dir)
{
    char path[400];
    snprintf(path, sizeof path, "%s/traces.db", dir);
    sqlite3 *c;
    assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(c, "SELECT count(*) FROM spans", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(c);
    return n;
}

/* Each batch exported three times (gRPC, then http/json): stored once. */
static void test_resend_is_not_duplicated(void **state)
{
    const char *dir = ts_tmpdir();
    char data[300];
    snprintf(data, sizeof data, "%s/data", dir);
    store_proc s;
    store_start(&s, data);
    const char *protocols[] = {"grpc", "http"};
    json_t *traces[2];
    for (int i = 0; i < 2; i++) {
        char out[300], endpoint[128];
        snprintf(out, sizeof out, "%s/acked-%d.jsonl", dir, i);
        if (i == 0) snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", s.grpc);
        else snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d/v1/traces", s.http);
        char *argv[] = {"node", (char *)js("send.js"), "--protocol", (char *)protocols[i], "--endpoint", endpoint,
                        "--count", "10", "--batch", "5", "--repeat", "3", "--out", out, "--tenant", "r", NULL};
        char *o = NULL, *e = NULL;
        int rc = ts_run(argv, &o, &e, 60000);
        if (rc != 0) fail_msg("send.js: %d %s %s", rc, o ? o : "", e ? e : "");
        free(o);
        free(e);
        traces[i] = acked_traces(out);
        assert_int_equal(json_array_size(traces[i]), 10);
    }
    store_stop(&s);
    sdb *db = open_db(data);
    size_t spans = check_traces(db, "r", traces[0]) + check_traces(db, "r", traces[1]);
    sdb_close(db);
    assert_int_equal(spans, 2 * (10 * 4 - 2));
    assert_int_equal(count_spans(data), (int64_t)spans);
    json_decref(traces[0]);
    json_decref(traces[1]);
}

/* kill -9 while send.js streams exports; every acknowledged span survives. */
static void test_kill9_keeps_acknowledged(void **state)
{
    const char *dir = ts_tmpdir();
    char data[300], out[300], log[300];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(out, sizeof out, "%s/acked.jsonl", dir);
    snprintf(log, sizeof log, "%s/send.log", dir);
    store_proc s;
    store_start(&s, data);
    char endpoint[128];
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", s.grpc);
    char *argv[] = {"node", (char *)js("send.js"), "--protocol", "grpc", "--endpoint", endpoint, "--count", "100000",
                    "--batch", "20", "--out", out, "--tenant", "k9", NULL};
    pid_t sender = ts_spawn(argv, log);
    /* Let a good number of exports be acknowledged, then kill the store. */
    size_t lines = 0;
    for (int i = 0; i < 1000 && lines < 15; i++) {
        usleep(20000);
        char *text = ts_read_file(out, NULL);
        lines = 0;
        for (char *p = text; p && *p; p++) lines += *p == '\n';
        free(text);
    }
    assert_true(lines >= 15);
    assert_int_equal(ts_stop(s.pid, SIGKILL, 5000), 128 + SIGKILL);
    /* The sender sees its next export fail and stops (exit status 1). */
    assert_int_equal(ts_wait(sender, 30000), 1);
    json_t *traces = acked_traces(out);
    assert_true(json_array_size(traces) >= 15 * 20);
    /* Restart on the same directory: the store opens it (recovering the
     * WAL), and every acknowledged span is there. */
    store_start(&s, data);
    check_over_http(&s, "k9", traces);
    store_stop(&s);
    sdb *db = open_db(data);
    size_t spans = check_traces(db, "k9", traces);
    assert_true(spans >= 15 * 20 * 3);
    sdb_close(db);
    char path[400];
    snprintf(path, sizeof path, "%s/traces.db", data);
    sqlite3 *c;
    assert_int_equal(sqlite3_open(path, &c), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(c, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(c);
    json_decref(traces);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sdk_exporters),
        cmocka_unit_test(test_resend_is_not_duplicated),
        cmocka_unit_test(test_kill9_keeps_acknowledged),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ts_cleanup();
    curl_global_cleanup();
    return rc;
}
