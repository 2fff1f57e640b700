/* db_mspans.c — the compact span table (mspans): per span its start,
 * duration, status, kind, name and source (resource + scope), clustered
 * by (tenant, start) — its scalar attributes are packed from the span's
 * stored body when a query needs them (sdb_mspan_attrs) — written in key
 * order at the end of each request part, and deleted with its span (a
 * re-sent span, retention). TraceQL metrics read it
 * instead of decoding every stored span (query_mcompact.c; the reasoning
 * and figures are in docs/store.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/db_internal.h"

static int64_t clamp(uint64_t v)
{
    return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* Append n bytes to out[*len..cap); 0 or -1 when they do not fit. */
static int put(uint8_t *out, size_t cap, size_t *len, const void *p, size_t n)
{
    if (*len + n > cap) return -1;
    memcpy(out + *len, p, n);
    *len += n;
    return 0;
}

long sdb_mspan_attrs_pack(exo_pb_kv *const *kv, size_t n, uint8_t *out, size_t cap)
{
    if (n > SDB_MSPAN_ATTRS_MAX) return -1;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *key = kv[i]->key ? kv[i]->key : "";
        const exo_pb_any *v = kv[i]->value;
        uint8_t type = SDB_MSPAN_NIL, b;
        const void *p = NULL;
        size_t vn = 0;
        switch (v ? v->value_case : 0) {
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
            type = SDB_MSPAN_STRING;
            p = v->string_value ? v->string_value : "";
            vn = strlen(p) + 1;
            break;
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
            type = SDB_MSPAN_INT, p = &v->int_value, vn = 8;
            break;
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
            type = SDB_MSPAN_DOUBLE, p = &v->double_value, vn = 8;
            break;
        case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
            b = v->bool_value ? 1 : 0;
            type = SDB_MSPAN_BOOL, p = &b, vn = 1;
            break;
        default: break; /* arrays, maps, bytes: TraceQL sees nil */
        }
        if (put(out, cap, &len, &type, 1) < 0 || put(out, cap, &len, key, strlen(key) + 1) < 0 ||
            (vn && put(out, cap, &len, p, vn) < 0))
            return -1;
    }
    return (long)len;
}

int sdb_duration_bucket(int64_t dur_ns)
{
    if (dur_ns < 2) return -1;
    return 64 - __builtin_clzll((uint64_t)dur_ns - 1);
}

/* Add delta spans to the count of (tenant, start's minute, name, source,
 * status, kind, bucket of dur). 0 or -1. */
static int roll_add(sdb *db, int64_t tenant, int64_t start, int64_t name, int64_t source, int status, int kind,
                    int64_t dur, int64_t delta)
{
    int64_t minute = start / SDB_MINUTE_NS - (start % SDB_MINUTE_NS < 0);
    sqlite3_stmt *st = sdb__stmt(db, SQ_ROLL_ADD);
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, minute);
    sqlite3_bind_int64(st, 3, name);
    sqlite3_bind_int64(st, 4, source);
    sqlite3_bind_int(st, 5, status);
    sqlite3_bind_int(st, 6, kind);
    sqlite3_bind_int(st, 7, sdb_duration_bucket(dur));
    sqlite3_bind_int64(st, 8, delta);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sdb__sqlfail(db, "counting a span");
}

/* One row waiting for the end of the request part (sdb__mspans_flush). */
struct sdb_mspan_row {
    int64_t tenant, start, span, trace, dur, source;
    int status, kind;
    int64_t name;       /* names.id of the span's name */
    size_t order;       /* arrival, to keep the last of a span sent twice in one part */
};

int sdb__mspan_store(sdb *db, int64_t tenant, int64_t trace, int64_t span, int64_t source, const exo_pb_span *sp)
{
    if (db->nmspan_rows == db->capmspan_rows) {
        size_t cap = db->capmspan_rows ? db->capmspan_rows * 2 : 1024;
        sdb_mspan_row *p = ex_realloc(db->mspan_rows, cap * sizeof *p);
        if (!p) return sdb__fail(db, "out of memory (%zu compact spans)", cap);
        db->mspan_rows = p;
        db->capmspan_rows = cap;
    }
    int64_t start = clamp(sp->start_time_unix_nano);
    int64_t name = sdb__name_id(db, sp->name ? sp->name : "", 1);
    if (name < 0) return -1;
    db->mspan_rows[db->nmspan_rows] = (sdb_mspan_row){tenant, start, span, trace,
                                                      clamp(sp->end_time_unix_nano) - start, source,
                                                      sp->status ? (int)sp->status->code : 0, (int)sp->kind,
                                                      name, db->nmspan_rows};
    db->nmspan_rows++;
    return 0;
}

static int by_span(const void *a, const void *b)
{
    const sdb_mspan_row *x = a, *y = b;
    if (x->span != y->span) return x->span < y->span ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int by_key(const void *a, const void *b)
{
    const sdb_mspan_row *x = a, *y = b;
    if (x->tenant != y->tenant) return x->tenant < y->tenant ? -1 : 1;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->span < y->span ? -1 : x->span > y->span;
}

/* Insert one row: 1 when added, 0 when it was there already, -1. */
static int insert_row(sdb *db, const sdb_mspan_row *r)
{
    sqlite3_stmt *st = sdb__stmt(db, SQ_MSPAN_ADD);
    sqlite3_bind_int64(st, 1, r->tenant);
    sqlite3_bind_int64(st, 2, r->start);
    sqlite3_bind_int64(st, 3, r->span);
    sqlite3_bind_int64(st, 4, r->trace);
    sqlite3_bind_int64(st, 5, r->dur);
    sqlite3_bind_int(st, 6, r->status);
    sqlite3_bind_int(st, 7, r->kind);
    sqlite3_bind_int64(st, 8, r->name);
    sqlite3_bind_int64(st, 9, r->source);
    int rc = sqlite3_step(st), added = sqlite3_changes(db->conn) == 1;
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? added : sdb__sqlfail(db, "storing a compact span");
}

/* Same minute, name, source, status, kind and bucket: one count. */
static int same_count(const sdb_mspan_row *x, const sdb_mspan_row *y)
{
    return x->tenant == y->tenant && x->start / SDB_MINUTE_NS == y->start / SDB_MINUTE_NS && x->source == y->source &&
           x->status == y->status && x->kind == y->kind &&
           sdb_duration_bucket(x->dur) == sdb_duration_bucket(y->dur) && x->name == y->name;
}

static int by_count(const void *a, const void *b)
{
    const sdb_mspan_row *x = a, *y = b;
    int64_t mx = x->start / SDB_MINUTE_NS, my = y->start / SDB_MINUTE_NS;
    if (x->tenant != y->tenant) return x->tenant < y->tenant ? -1 : 1;
    if (mx != my) return mx < my ? -1 : 1;
    if (x->name != y->name) return x->name < y->name ? -1 : 1;
    if (x->source != y->source) return x->source < y->source ? -1 : 1;
    if (x->status != y->status) return x->status - y->status;
    if (x->kind != y->kind) return x->kind - y->kind;
    return sdb_duration_bucket(x->dur) - sdb_duration_bucket(y->dur);
}

int sdb__mspans_flush(sdb *db)
{
    size_t n = db->nmspan_rows, k = 0, added = 0;
    int rc = 0;
    /* A span sent twice in one part: keep its last row only. */
    qsort(db->mspan_rows, n, sizeof *db->mspan_rows, by_span);
    for (size_t i = 0; i < n; i++)
        if (i + 1 == n || db->mspan_rows[i + 1].span != db->mspan_rows[i].span) db->mspan_rows[k++] = db->mspan_rows[i];
    /* In key order, so pages fill as in an append. */
    qsort(db->mspan_rows, k, sizeof *db->mspan_rows, by_key);
    for (size_t i = 0; i < k && rc >= 0; i++) {
        rc = insert_row(db, &db->mspan_rows[i]);
        if (rc > 0) db->mspan_rows[added++] = db->mspan_rows[i];
    }
    /* The counts of the rows added, one upsert per distinct count. */
    qsort(db->mspan_rows, added, sizeof *db->mspan_rows, by_count);
    for (size_t i = 0, j; i < added && rc >= 0; i = j) {
        for (j = i + 1; j < added && same_count(&db->mspan_rows[i], &db->mspan_rows[j]);) j++;
        const sdb_mspan_row *r = &db->mspan_rows[i];
        rc = roll_add(db, r->tenant, r->start, r->name, r->source, r->status, r->kind, r->dur, (int64_t)(j - i));
    }
    db->nmspan_rows = 0;
    return rc < 0 ? -1 : 0;
}

void sdb__mspans_drop(sdb *db)
{
    db->nmspan_rows = 0;
    /* after a rollback: a name added in it is gone */
    sdb__names_cache_clear(db);
}

int sdb__mspan_delete(sdb *db, int64_t tenant, int64_t span, int64_t source, const void *body, size_t len)
{
    exo_pb_span *s = sdb__body_unpack(db, body, len);
    if (!s) return 0; /* never stored a row either (the backfill skips it too) */
    int64_t start = clamp(s->start_time_unix_nano);
    sqlite3_stmt *st = sdb__stmt(db, SQ_MSPAN_DELETE);
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, start);
    sqlite3_bind_int64(st, 3, span);
    int rc = sqlite3_step(st), gone = sqlite3_changes(db->conn) == 1;
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) rc = sdb__sqlfail(db, "deleting a compact span");
    else if (gone) {
        int64_t name = sdb__name_id(db, s->name ? s->name : "", 1);
        rc = name < 0 ? -1
                      : roll_add(db, tenant, start, name, source, s->status ? (int)s->status->code : 0, (int)s->kind,
                                 clamp(s->end_time_unix_nano) - start, -1);
    } else rc = 0;
    protobuf_c_message_free_unpacked(&s->base, &exo_pb_allocator);
    return rc;
}

/* ---- reading ------------------------------------------------------------- */

/* A user callback and its argument, for a row decoder. */
typedef struct visit_cb {
    sdb *db;            /* for the names */
    sdb_mspan_cb mspan;
    sdb_mroll_cb mroll;
    void *arg;
} visit_cb;

/* Step st to its end, handing each row to deliver (which returns the
 * user callback's 0 / 1 stop / -1 error). The number delivered, or -1. */
static long visit(sdb *db, sqlite3_stmt *st, int (*deliver)(sqlite3_stmt *, const visit_cb *), const visit_cb *v,
                  const char *what)
{
    long n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        n++;
        int c = deliver(st, v);
        if (c < 0) {
            n = -1;
            break;
        }
        if (c > 0) break;
    }
    if (n >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE) n = sdb__sqlfail(db, what);
    sqlite3_reset(st);
    return n;
}

static int deliver_mspan(sqlite3_stmt *st, const visit_cb *v)
{
    sdb_mspan m;
    m.start_ns = sqlite3_column_int64(st, 0);
    m.span = sqlite3_column_int64(st, 1);
    m.trace = sqlite3_column_int64(st, 2);
    m.dur_ns = sqlite3_column_int64(st, 3);
    m.status = sqlite3_column_int(st, 4);
    m.kind = sqlite3_column_int(st, 5);
    m.name = sdb__name_text(v->db, sqlite3_column_int64(st, 6));
    m.source = sqlite3_column_int64(st, 7);
    if (!m.name) return -1;
    return v->mspan(v->arg, &m);
}

static int deliver_mroll(sqlite3_stmt *st, const visit_cb *v)
{
    sdb_mroll m;
    m.minute = sqlite3_column_int64(st, 0);
    m.name = sdb__name_text(v->db, sqlite3_column_int64(st, 1));
    m.source = sqlite3_column_int64(st, 2);
    m.status = sqlite3_column_int(st, 3);
    m.kind = sqlite3_column_int(st, 4);
    m.bucket = sqlite3_column_int(st, 5);
    m.n = sqlite3_column_int64(st, 6);
    if (!m.name) return -1;
    return v->mroll(v->arg, &m);
}

/* The scan statement of tenant's [lo, hi) (named name unless NULL), or
 * NULL when the tenant has none (*n 0) or on error (*n -1). */
static sqlite3_stmt *range_stmt(sdb *db, const char *tenant, int which, int64_t lo, int64_t hi, const char *name,
                                long *n)
{
    int64_t tid = sdb__tenant_id(db, tenant, 0);
    *n = tid < 0 ? -1 : 0;
    if (tid <= 0) return NULL;
    int64_t nid = name ? sdb__name_id(db, name, 0) : 0;
    *n = nid < 0 ? -1 : 0;
    if (name && nid <= 0) return NULL; /* a name never stored: no spans */
    sqlite3_stmt *st = sdb__stmt(db, which);
    sqlite3_bind_int64(st, 1, tid);
    sqlite3_bind_int64(st, 2, lo);
    sqlite3_bind_int64(st, 3, hi);
    if (name) sqlite3_bind_int64(st, 4, nid);
    return st;
}

long sdb_mspans_scan(sdb *db, const char *tenant, int64_t start_ns, int64_t end_ns, const char *name, size_t limit,
                     sdb_mspan_cb cb, void *arg)
{
    long n;
    sqlite3_stmt *st =
        range_stmt(db, tenant, name ? SQ_MSPAN_SCAN_NAME : SQ_MSPAN_SCAN, start_ns, end_ns, name, &n);
    if (!st) return n;
    sqlite3_bind_int64(st, 5, limit && limit < INT64_MAX ? (int64_t)limit : -1);
    visit_cb v = {.db = db, .mspan = cb, .arg = arg};
    return visit(db, st, deliver_mspan, &v, "reading compact spans");
}

long sdb_mroll_scan(sdb *db, const char *tenant, int64_t first_minute, int64_t end_minute, const char *name,
                    sdb_mroll_cb cb, void *arg)
{
    long n;
    sqlite3_stmt *st =
        range_stmt(db, tenant, name ? SQ_ROLL_SCAN_NAME : SQ_ROLL_SCAN, first_minute, end_minute, name, &n);
    if (!st) return n;
    visit_cb v = {.db = db, .mroll = cb, .arg = arg};
    return visit(db, st, deliver_mroll, &v, "reading span counts");
}

int sdb_span_ids(sdb *db, int64_t span, uint8_t trace_id[16], uint8_t span_id[8])
{
    sqlite3_stmt *st = sdb__stmt(db, SQ_SPAN_IDS);
    sqlite3_bind_int64(st, 1, span);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 16 && sqlite3_column_bytes(st, 1) == 8) {
        memcpy(trace_id, sqlite3_column_blob(st, 0), 16);
        memcpy(span_id, sqlite3_column_blob(st, 1), 8);
        found = 1;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sdb__sqlfail(db, "reading span ids");
    return found;
}

long sdb_mspan_attrs(sdb *db, int64_t span, uint8_t *out, size_t cap)
{
    sqlite3_stmt *st = sdb__stmt(db, SQ_SPAN_BODY);
    sqlite3_bind_int64(st, 1, span);
    int rc = sqlite3_step(st);
    long n = -2;
    if (rc == SQLITE_ROW) {
        exo_pb_span *s = sdb__body_unpack(db, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
        if (!s) n = -1;
        else if ((n = sdb_mspan_attrs_pack(s->attributes, s->n_attributes, out, cap)) < 0) n = -2;
        if (s) protobuf_c_message_free_unpacked(&s->base, &exo_pb_allocator);
    } else if (rc != SQLITE_DONE) {
        n = sdb__sqlfail(db, "reading a span body");
    }
    sqlite3_reset(st);
    return n;
}

/* ---- filling mspans for spans stored before it existed ------------------ */

long sdb__mspans_backfill(sdb *db)
{
    sqlite3_stmt *sel = NULL;
    long n = -1;
    int rc = SQLITE_ERROR;
    if (sqlite3_exec(db->conn, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) goto out;
    if (sqlite3_prepare_v2(db->conn,
                           "SELECT s.id, s.trace, s.source, s.body, t.tenant FROM spans s JOIN traces t"
                           " ON t.id = s.trace ORDER BY s.id",
                           -1, &sel, NULL) != SQLITE_OK)
        goto out;
    n = 0;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        exo_pb_span *s = sdb__body_unpack(db, sqlite3_column_blob(sel, 3), (size_t)sqlite3_column_bytes(sel, 3));
        if (!s) continue; /* the reader skips it too */
        int r = sdb__mspan_store(db, sqlite3_column_int64(sel, 4), sqlite3_column_int64(sel, 1),
                                 sqlite3_column_int64(sel, 0), sqlite3_column_int64(sel, 2), s);
        /* written at once: the row points into s (the spans come in rowid order, close to start order) */
        if (r == 0) r = sdb__mspans_flush(db);
        protobuf_c_message_free_unpacked(&s->base, &exo_pb_allocator);
        if (r < 0) {
            n = -1;
            break;
        }
        n++;
    }
out:
    if (sel) sqlite3_finalize(sel);
    if (n >= 0 && rc == SQLITE_DONE && sqlite3_exec(db->conn, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) return n;
    if (n >= 0 || rc != SQLITE_ROW) sdb__sqlfail(db, "filling the compact span table");
    sdb__mspans_drop(db);
    sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int sdb_source_service(sdb *db, int64_t source, char **out)
{
    *out = NULL;
    sqlite3_stmt *st = sdb__stmt(db, SQ_SOURCE_GET);
    sqlite3_bind_int64(st, 1, source);
    int rc = sqlite3_step(st), result = 0;
    exo_pb_resource_spans *rs = NULL;
    if (rc == SQLITE_ROW)
        rs = opentelemetry__proto__trace__v1__resource_spans__unpack(
            &exo_pb_allocator, (size_t)sqlite3_column_bytes(st, 0), sqlite3_column_blob(st, 0));
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sdb__sqlfail(db, "reading a resource");
    const exo_pb_resource *res = rs ? rs->resource : NULL;
    for (size_t i = 0; res && i < res->n_attributes && !result; i++) {
        const exo_pb_kv *kv = res->attributes[i];
        if (!kv->key || strcmp(kv->key, "service.name") != 0) continue;
        result = 2;
        if (kv->value && kv->value->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE) {
            result = (*out = ex_strdup(kv->value->string_value ? kv->value->string_value : "")) ? 1 : -1;
            if (result < 0) sdb__fail(db, "out of memory");
        }
    }
    if (rs) protobuf_c_message_free_unpacked(&rs->base, &exo_pb_allocator);
    return result;
}
