/* db_roots.c — the root span of each trace in a table of its own
 * (roots: name, service, namespace, times, status, workflow id, outcome),
 * written with the trace and removed with it (a trigger), so a workflow
 * list can be counted, filtered, sorted and paged in SQL without loading
 * any trace. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "store/db_internal.h"

/* Attributes read from the root span (src/worker/spans.c writes them). */
#define ATTR_WORKFLOW_ID "workflowId"
#define ATTR_RESULT "extrace.result"
/* Longest id prefix taken, bytes. */
#define PREFIX_MAX 256

const char *sdb_root_outcome(const char *result, int status_code, const char *message)
{
    if (result && (strcmp(result, "ok") == 0 || strcmp(result, "error") == 0 || strcmp(result, "timeout") == 0))
        return result;
    if (status_code == 1) return "ok";
    if (status_code != 2) return "unset";
    const char *m = message ? message : "";
    for (; *m; m++)
        if (strncasecmp(m, "timed out", 9) == 0) return "timeout";
    return "error";
}

/* The string value of attribute key in kvs, or NULL. */
static const char *string_attr(exo_pb_kv *const *kvs, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        const exo_pb_kv *kv = kvs[i];
        if (kv->key && strcmp(kv->key, key) == 0 && kv->value &&
            kv->value->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
            return kv->value->string_value;
    }
    return NULL;
}

static int64_t clamp(uint64_t v)
{
    return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

int sdb__root_store(sdb *db, int64_t tenant, int64_t trace, const exo_pb_span *span, const exo_pb_resource *res)
{
    exo_pb_kv *const *rattrs = res ? res->attributes : NULL;
    size_t nr = res ? res->n_attributes : 0;
    const char *svc = string_attr(rattrs, nr, "service.name");
    const char *ns = string_attr(rattrs, nr, "service.namespace");
    const char *wf = string_attr(span->attributes, span->n_attributes, ATTR_WORKFLOW_ID);
    const char *result = string_attr(span->attributes, span->n_attributes, ATTR_RESULT);
    int code = span->status ? (int)span->status->code : 0;
    const char *msg = span->status && span->status->message ? span->status->message : "";
    int64_t name = sdb__name_id(db, span->name ? span->name : "", 1), service = sdb__name_id(db, svc ? svc : "", 1);
    if (name < 0 || service < 0) return -1;
    sqlite3_stmt *st = sdb__stmt(db, SQ_ROOT_UPSERT);
    sqlite3_bind_int64(st, 1, trace);
    sqlite3_bind_int64(st, 2, tenant);
    sqlite3_bind_int64(st, 3, name);
    sqlite3_bind_int64(st, 4, service);
    sqlite3_bind_text(st, 5, ns ? ns : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, clamp(span->start_time_unix_nano));
    sqlite3_bind_int64(st, 7, clamp(span->end_time_unix_nano));
    sqlite3_bind_int(st, 8, code);
    sqlite3_bind_text(st, 9, msg, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, wf ? wf : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, sdb_root_outcome(result, code, msg), -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sdb__sqlfail(db, "storing a root span");
}

/* ---- listing ------------------------------------------------------------ */

/* The conditions of a query but its outcome; parameters ?1..?7. Name and
 * service are equalities so the primary key narrows the scan. */
#define ROOTS_WHERE                                                                                                  \
    " tenant = ?1 AND name = ?4 AND service = ?5 AND start_ns <= ?2 AND end_ns >= ?3"                                \
    " AND (?6 = '' OR namespace = ?6) AND (?7 = '' OR workflow_id LIKE ?7 ESCAPE '\\')"

static const char *const sort_sql[] = {
    [SDB_ROOTS_START] = "start_ns",   [SDB_ROOTS_END] = "end_ns",     [SDB_ROOTS_DURATION] = "end_ns - start_ns",
    [SDB_ROOTS_OUTCOME] = "outcome",  [SDB_ROOTS_ID] = "workflow_id", [SDB_ROOTS_MESSAGE] = "message",
    [SDB_ROOTS_NAMESPACE] = "namespace",
};

/* prefix with LIKE's wildcards escaped, then "%". 0, or -1 when too long. */
static int like_prefix(const char *prefix, char *out, size_t outlen)
{
    size_t o = 0;
    for (const char *p = prefix ? prefix : ""; *p; p++) {
        if (o + 3 >= outlen) return -1;
        if (*p == '%' || *p == '_' || *p == '\\') out[o++] = '\\';
        out[o++] = *p;
    }
    if (o) out[o++] = '%';
    out[o] = '\0';
    return 0;
}

/* The names.id of a query's name and service (db_names.c). */
typedef struct root_ids {
    int64_t tenant, name, service;
} root_ids;

static void bind_where(sqlite3_stmt *st, const root_ids *id, const sdb_roots_query *q, const char *like)
{
    sqlite3_bind_int64(st, 1, id->tenant);
    sqlite3_bind_int64(st, 2, q->end_ns ? q->end_ns : INT64_MAX);
    sqlite3_bind_int64(st, 3, q->start_ns ? q->start_ns : INT64_MIN);
    sqlite3_bind_int64(st, 4, id->name);
    sqlite3_bind_int64(st, 5, id->service);
    sqlite3_bind_text(st, 6, q->ns ? q->ns : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, like, -1, SQLITE_STATIC);
}

/* One pass, no grouping (a GROUP BY sorts: four times slower at 100,000). */
static int count_rows(sdb *db, const root_ids *tid, const sdb_roots_query *q, const char *like, sdb_roots_counts *c)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->conn,
                           "SELECT count(*), sum(outcome = 'ok'), sum(outcome = 'error'), sum(outcome = 'timeout'),"
                           " sum(outcome = ?8) FROM roots WHERE" ROOTS_WHERE,
                           -1, &st, NULL) != SQLITE_OK)
        return sdb__sqlfail(db, "counting root spans");
    bind_where(st, tid, q, like);
    const char *outcome = q->outcome ? q->outcome : "";
    sqlite3_bind_text(st, 8, outcome, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        c->total = sqlite3_column_int64(st, 0);
        c->ok = sqlite3_column_int64(st, 1);
        c->error = sqlite3_column_int64(st, 2);
        c->timeout = sqlite3_column_int64(st, 3);
        c->unset = c->total - c->ok - c->error - c->timeout;
        c->matched = *outcome ? sqlite3_column_int64(st, 4) : c->total;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : sdb__sqlfail(db, "counting root spans");
}

/* matched: how many rows the query has (-1: unknown). A page past the
 * middle is read from the other end (offset counted from the last row),
 * so the sorter keeps at most half of the rows. */
static long list_rows(sdb *db, const root_ids *tid, const sdb_roots_query *q, const char *like, int64_t matched,
                      sdb_root_cb cb, void *arg)
{
    const char *dir = q->descending ? "DESC" : "ASC";
    const char *inner = dir;
    size_t offset = q->offset, limit = q->limit;
    if (matched >= 0 && offset < (uint64_t)matched && offset > (uint64_t)matched / 2) {
        inner = q->descending ? "ASC" : "DESC";
        size_t end = offset + limit < (uint64_t)matched ? offset + limit : (size_t)matched;
        limit = end - offset;
        offset = (size_t)matched - end;
    }
    char sql[1024];
    /* The page is chosen on (key, trace) alone, then its rows are read:
     * the sorter never carries whole rows. */
    snprintf(sql, sizeof sql,
             "SELECT t.trace_id, r.namespace, r.workflow_id, r.outcome, r.message, r.status,"
             " r.start_ns, r.end_ns FROM (SELECT trace AS t, %s AS k FROM roots WHERE" ROOTS_WHERE
             " AND (?8 = '' OR outcome = ?8) ORDER BY k %s, trace %s LIMIT ?9 OFFSET ?10) p"
             " JOIN roots r ON r.trace = p.t JOIN traces t ON t.id = p.t ORDER BY p.k %s, p.t %s",
             sort_sql[q->sort], inner, inner, dir, dir);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL) != SQLITE_OK) return sdb__sqlfail(db, "listing root spans");
    bind_where(st, tid, q, like);
    sqlite3_bind_text(st, 8, q->outcome ? q->outcome : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
    sqlite3_bind_int64(st, 10, offset > INT64_MAX ? INT64_MAX : (int64_t)offset);
    long n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sdb_root_row r = {{0}};
        if (sqlite3_column_bytes(st, 0) == 16) memcpy(r.trace_id, sqlite3_column_blob(st, 0), 16);
        r.name = q->name; /* every row has the query's name and service */
        r.service = q->service;
        r.ns = (const char *)sqlite3_column_text(st, 1);
        r.workflow_id = (const char *)sqlite3_column_text(st, 2);
        r.outcome = (const char *)sqlite3_column_text(st, 3);
        r.message = (const char *)sqlite3_column_text(st, 4);
        r.status = sqlite3_column_int(st, 5);
        r.start_ns = sqlite3_column_int64(st, 6);
        r.end_ns = sqlite3_column_int64(st, 7);
        n++;
        int c = cb(arg, &r);
        if (c < 0) {
            n = -1;
            break;
        }
        if (c > 0) break;
    }
    if (n >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE) n = sdb__sqlfail(db, "listing root spans");
    sqlite3_finalize(st);
    return n;
}

long sdb_roots_list(sdb *db, const char *tenant, const sdb_roots_query *q, sdb_roots_counts *counts, sdb_root_cb cb,
                    void *arg)
{
    if (counts) memset(counts, 0, sizeof *counts);
    if ((unsigned)q->sort >= sizeof sort_sql / sizeof sort_sql[0]) return sdb__fail(db, "unknown sort %d", q->sort);
    if (!q->name || !q->service) return sdb__fail(db, "listing root spans: a name and a service are required");
    char like[PREFIX_MAX * 2 + 2];
    if (like_prefix(q->id_prefix, like, sizeof like) < 0)
        return sdb__fail(db, "workflow id prefix longer than %d bytes", PREFIX_MAX);
    root_ids id = {sdb__tenant_id(db, tenant, 0), 0, 0};
    if (id.tenant <= 0) return id.tenant < 0 ? -1 : 0;
    /* a name or service never stored: no rows */
    if ((id.name = sdb__name_id(db, q->name, 0)) <= 0 || (id.service = sdb__name_id(db, q->service, 0)) <= 0)
        return id.name < 0 || id.service < 0 ? -1 : 0;
    if (counts && count_rows(db, &id, q, like, counts) < 0) return -1;
    if (!q->limit) return 0;
    return list_rows(db, &id, q, like, counts ? counts->matched : -1, cb, arg);
}

/* ---- filling roots for traces stored before it existed ----------------- */

/* The root span of trace (rowid) and its resource; 1 stored, 0 none, -1. */
static int backfill_trace(sdb *db, int64_t tenant, int64_t trace)
{
    sqlite3_stmt *st = sdb__stmt(db, SQ_TRACE_SPANS);
    sqlite3_bind_int64(st, 1, trace);
    exo_pb_span *root = NULL;
    int64_t source = 0;
    int rc;
    while (!root && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        exo_pb_span *s = sdb__body_unpack(db, sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2));
        if (s && s->parent_span_id.len == 0) {
            root = s;
            source = sqlite3_column_int64(st, 1);
        } else if (s) {
            protobuf_c_message_free_unpacked(&s->base, &exo_pb_allocator);
        }
    }
    sqlite3_reset(st);
    if (!root) return 0;
    exo_pb_resource_spans *rs = NULL;
    st = sdb__stmt(db, SQ_SOURCE_GET);
    sqlite3_bind_int64(st, 1, source);
    if (sqlite3_step(st) == SQLITE_ROW)
        rs = opentelemetry__proto__trace__v1__resource_spans__unpack(
            &exo_pb_allocator, (size_t)sqlite3_column_bytes(st, 0), sqlite3_column_blob(st, 0));
    sqlite3_reset(st);
    rc = sdb__root_store(db, tenant, trace, root, rs ? rs->resource : NULL);
    protobuf_c_message_free_unpacked(&root->base, &exo_pb_allocator);
    if (rs) protobuf_c_message_free_unpacked(&rs->base, &exo_pb_allocator);
    return rc < 0 ? -1 : 1;
}

long sdb__roots_backfill(sdb *db)
{
    sqlite3_stmt *sel;
    if (sqlite3_exec(db->conn, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return sdb__sqlfail(db, "filling the roots table");
    if (sqlite3_prepare_v2(db->conn,
                           "SELECT id, tenant FROM traces t"
                           " WHERE NOT EXISTS (SELECT 1 FROM roots r WHERE r.trace = t.id)",
                           -1, &sel, NULL) != SQLITE_OK) {
        sdb__sqlfail(db, "filling the roots table");
        sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    long n = 0;
    int rc;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        int r = backfill_trace(db, sqlite3_column_int64(sel, 1), sqlite3_column_int64(sel, 0));
        if (r < 0) break;
        n += r;
    }
    sqlite3_finalize(sel);
    if (rc != SQLITE_DONE || sqlite3_exec(db->conn, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        if (rc == SQLITE_DONE || rc == SQLITE_ROW) sdb__sqlfail(db, "filling the roots table");
        sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return n;
}
