/* db_mspans.c — the compact span table (mspans): per span its start,
 * duration, status, kind, name, resource service.name and its scalar
 * attributes packed small, clustered by (tenant, start), written with the
 * span and removed with its trace (a trigger). TraceQL metrics read it
 * instead of decoding every stored span (query_mcompact.c; the reasoning
 * and figures are in docs/store.md). */
#include <stdio.h>
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

/* service.name of res: 1 with *svc (NULL when absent), or 0 when it is
 * there but not a string (the row then keeps no attributes). */
static int service_of(const exo_pb_resource *res, const char **svc)
{
    *svc = NULL;
    for (size_t i = 0; res && i < res->n_attributes; i++) {
        const exo_pb_kv *kv = res->attributes[i];
        if (!kv->key || strcmp(kv->key, "service.name") != 0) continue;
        if (!kv->value || kv->value->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
            return 0;
        *svc = kv->value->string_value ? kv->value->string_value : "";
        return 1;
    }
    return 1;
}

int sdb__mspan_store(sdb *db, int64_t tenant, int64_t trace, int64_t span, const exo_pb_span *sp,
                     const exo_pb_resource *res)
{
    if (span <= db->mspan_max_rowid) { /* a re-sent span (or a reused rowid): drop its old row */
        sqlite3_stmt *del = sdb__stmt(db, SQ_MSPAN_DELETE);
        sqlite3_bind_int64(del, 1, trace);
        sqlite3_bind_int64(del, 2, span);
        int rc = sqlite3_step(del);
        sqlite3_reset(del);
        if (rc != SQLITE_DONE) return sdb__sqlfail(db, "replacing a compact span");
    } else {
        db->mspan_max_rowid = span;
    }
    uint8_t attrs[SDB_MSPAN_ATTRS_BYTES];
    const char *svc;
    long alen = service_of(res, &svc) ? sdb_mspan_attrs_pack(sp->attributes, sp->n_attributes, attrs, sizeof attrs)
                                      : -1;
    int64_t start = clamp(sp->start_time_unix_nano);
    sqlite3_stmt *st = sdb__stmt(db, SQ_MSPAN_ADD);
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int64(st, 2, start);
    sqlite3_bind_int64(st, 3, span);
    sqlite3_bind_int64(st, 4, trace);
    sqlite3_bind_int64(st, 5, clamp(sp->end_time_unix_nano) - start);
    sqlite3_bind_int(st, 6, sp->status ? (int)sp->status->code : 0);
    sqlite3_bind_int(st, 7, (int)sp->kind);
    sqlite3_bind_text(st, 8, sp->name ? sp->name : "", -1, SQLITE_STATIC);
    if (svc) sqlite3_bind_text(st, 9, svc, -1, SQLITE_STATIC);
    if (alen > 0) sqlite3_bind_blob(st, 10, attrs, (int)alen, SQLITE_STATIC);
    else if (alen == 0) sqlite3_bind_zeroblob(st, 10, 0);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sdb__sqlfail(db, "storing a compact span");
}

int sdb__mspan_max_load(sdb *db)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->conn, "SELECT max(id) FROM spans", -1, &st, NULL) != SQLITE_OK)
        return sdb__sqlfail(db, "reading the last span");
    if (sqlite3_step(st) == SQLITE_ROW) db->mspan_max_rowid = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

/* ---- reading ------------------------------------------------------------- */

long sdb_mspans_scan(sdb *db, const char *tenant, int64_t start_ns, int64_t end_ns, const char *name,
                     sdb_mspan_cb cb, void *arg)
{
    int64_t tid = sdb__tenant_id(db, tenant, 0);
    if (tid <= 0) return tid < 0 ? -1 : 0;
    sqlite3_stmt *st = sdb__stmt(db, name ? SQ_MSPAN_SCAN_NAME : SQ_MSPAN_SCAN);
    sqlite3_bind_int64(st, 1, tid);
    sqlite3_bind_int64(st, 2, start_ns);
    sqlite3_bind_int64(st, 3, end_ns);
    if (name) sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
    long n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sdb_mspan m;
        m.start_ns = sqlite3_column_int64(st, 0);
        m.span = sqlite3_column_int64(st, 1);
        m.trace = sqlite3_column_int64(st, 2);
        m.dur_ns = sqlite3_column_int64(st, 3);
        m.status = sqlite3_column_int(st, 4);
        m.kind = sqlite3_column_int(st, 5);
        m.name = (const char *)sqlite3_column_text(st, 6);
        m.service = sqlite3_column_type(st, 7) == SQLITE_NULL ? NULL : (const char *)sqlite3_column_text(st, 7);
        m.attrs_kept = sqlite3_column_type(st, 8) != SQLITE_NULL;
        m.attrs = sqlite3_column_blob(st, 8);
        m.attrs_len = (size_t)sqlite3_column_bytes(st, 8);
        if (!m.name) m.name = "";
        n++;
        int c = cb(arg, &m);
        if (c < 0) {
            n = -1;
            break;
        }
        if (c > 0) break;
    }
    if (n >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE) n = sdb__sqlfail(db, "reading compact spans");
    sqlite3_reset(st);
    return n;
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

/* ---- filling mspans for spans stored before it existed ------------------ */

/* The resource of source id (cached in *rs for *cached); NULL when none. */
static const exo_pb_resource *source_resource(sdb *db, int64_t source, int64_t *cached, exo_pb_resource_spans **rs)
{
    if (*cached == source) return *rs ? (*rs)->resource : NULL;
    if (*rs) protobuf_c_message_free_unpacked(&(*rs)->base, &exo_pb_allocator);
    *rs = NULL;
    *cached = source;
    sqlite3_stmt *st = sdb__stmt(db, SQ_SOURCE_GET);
    sqlite3_bind_int64(st, 1, source);
    if (sqlite3_step(st) == SQLITE_ROW)
        *rs = opentelemetry__proto__trace__v1__resource_spans__unpack(
            &exo_pb_allocator, (size_t)sqlite3_column_bytes(st, 0), sqlite3_column_blob(st, 0));
    sqlite3_reset(st);
    return *rs ? (*rs)->resource : NULL;
}

long sdb__mspans_backfill(sdb *db)
{
    sqlite3_stmt *sel = NULL;
    exo_pb_resource_spans *rs = NULL;
    int64_t cached = -1;
    long n = -1;
    int rc = SQLITE_ERROR;
    if (sqlite3_exec(db->conn, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) goto out;
    if (sqlite3_prepare_v2(db->conn,
                           "SELECT s.id, s.trace, s.source, s.body, t.tenant FROM spans s JOIN traces t"
                           " ON t.id = s.trace ORDER BY s.id",
                           -1, &sel, NULL) != SQLITE_OK)
        goto out;
    db->mspan_max_rowid = 0; /* the table is new: in rowid order, every span is a new row */
    n = 0;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        exo_pb_span *s = opentelemetry__proto__trace__v1__span__unpack(
            &exo_pb_allocator, (size_t)sqlite3_column_bytes(sel, 3), sqlite3_column_blob(sel, 3));
        if (!s) continue; /* the reader skips it too */
        const exo_pb_resource *res = source_resource(db, sqlite3_column_int64(sel, 2), &cached, &rs);
        int r = sdb__mspan_store(db, sqlite3_column_int64(sel, 4), sqlite3_column_int64(sel, 1),
                                 sqlite3_column_int64(sel, 0), s, res);
        protobuf_c_message_free_unpacked(&s->base, &exo_pb_allocator);
        if (r < 0) {
            n = -1;
            break;
        }
        n++;
    }
out:
    if (sel) sqlite3_finalize(sel);
    if (rs) protobuf_c_message_free_unpacked(&rs->base, &exo_pb_allocator);
    if (n >= 0 && rc == SQLITE_DONE && sqlite3_exec(db->conn, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        return sdb__mspan_max_load(db) < 0 ? -1 : n;
    if (n >= 0 || rc != SQLITE_ROW) sdb__sqlfail(db, "filling the compact span table");
    sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}
