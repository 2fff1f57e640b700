/* db_write.c — the writer: one export request = one transaction, and the
 * retention step that deletes old traces in bounded chunks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/mem.h"
#include "store/body.h"
#include "store/db_internal.h"

#define uthash_malloc(sz) ex_malloc(sz)
#define uthash_free(ptr, sz) ex_free(ptr)
#include <uthash.h>

/* A cached source: key = 4-byte resource length, resource bytes, scope bytes. */
struct sdb_source_entry {
    uint8_t *key;      /* owned */
    size_t keylen;
    int64_t id;        /* sources.id */
    UT_hash_handle hh;
};

/* Most sources cached; past it the cache is emptied and refilled. */
#define SOURCE_CACHE_MAX 4096

/* One valid span of the request being stored. */
typedef struct ingest_item {
    const exo_pb_span *span;
    const exo_pb_resource_spans *rs; /* its resource */
    int64_t source;                  /* sources.id of its (resource, scope) */
    size_t order;                    /* position in the request (stable sort) */
} ingest_item;

int sdb__reserve(sdb *db, size_t n)
{
    if (n <= db->bufcap) return 0;
    size_t cap = db->bufcap ? db->bufcap : 4096;
    while (cap < n) cap *= 2;
    uint8_t *p = ex_realloc(db->buf, cap);
    if (!p) return sdb__fail(db, "out of memory (%zu bytes)", cap);
    db->buf = p;
    db->bufcap = cap;
    return 0;
}

void sdb__sources_cache_clear(sdb *db)
{
    sdb_source_entry *e, *tmp;
    HASH_ITER(hh, db->sources, e, tmp) {
        HASH_DEL(db->sources, e);
        ex_free(e->key);
        ex_free(e);
    }
}

static int64_t clamp_ns(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

/* The resource's service.name string, or NULL. */
static const char *service_name(const exo_pb_resource *res)
{
    if (!res) return NULL;
    for (size_t i = 0; i < res->n_attributes; i++) {
        const exo_pb_kv *kv = res->attributes[i];
        if (kv->key && strcmp(kv->key, "service.name") == 0 && kv->value &&
            kv->value->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
            return kv->value->string_value;
    }
    return NULL;
}

/* Find or add the source row of (rs head, ss head); 0 with *id, or -1. */
static int source_id(sdb *db, const exo_pb_resource_spans *rs, const exo_pb_scope_spans *ss, int64_t *id)
{
    exo_pb_resource_spans rh = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
    exo_pb_scope_spans sh = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
    rh.resource = rs->resource;
    if (rs->schema_url) rh.schema_url = rs->schema_url;
    sh.scope = ss->scope;
    if (ss->schema_url) sh.schema_url = ss->schema_url;
    size_t rlen = protobuf_c_message_get_packed_size(&rh.base);
    size_t slen = protobuf_c_message_get_packed_size(&sh.base);
    size_t keylen = 4 + rlen + slen;
    if (sdb__reserve(db, keylen) != 0) return -1;
    uint8_t *key = db->buf;
    memcpy(key, &(uint32_t){(uint32_t)rlen}, 4);
    protobuf_c_message_pack(&rh.base, key + 4);
    protobuf_c_message_pack(&sh.base, key + 4 + rlen);
    sdb_source_entry *e;
    HASH_FIND(hh, db->sources, key, keylen, e);
    if (e) {
        *id = e->id;
        return 0;
    }
    int64_t hash = (int64_t)XXH3_64bits(key, keylen);
    sqlite3_stmt *st = sdb__stmt(db, SQ_SOURCE_FIND);
    sqlite3_bind_int64(st, 1, hash);
    sqlite3_bind_blob(st, 2, key + 4, (int)rlen, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, key + 4 + rlen, (int)slen, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
    } else if (rc == SQLITE_DONE) {
        st = sdb__stmt(db, SQ_SOURCE_ADD);
        sqlite3_bind_int64(st, 1, hash);
        sqlite3_bind_blob(st, 2, key + 4, (int)rlen, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, key + 4 + rlen, (int)slen, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) return sdb__sqlfail(db, "adding a resource");
        *id = sqlite3_last_insert_rowid(db->conn);
    } else {
        return sdb__sqlfail(db, "looking up a resource");
    }
    sqlite3_reset(st);
    if (HASH_COUNT(db->sources) >= SOURCE_CACHE_MAX) sdb__sources_cache_clear(db);
    e = ex_calloc(1, sizeof *e);
    if (!e || !(e->key = ex_malloc(keylen))) {
        ex_free(e);
        return sdb__fail(db, "out of memory");
    }
    memcpy(e->key, key, keylen);
    e->keylen = keylen;
    e->id = *id;
    HASH_ADD_KEYPTR(hh, db->sources, e->key, e->keylen, e);
    return 0;
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

/* Why a span cannot be stored, or NULL if it can. */
static const char *span_invalid(const exo_pb_span *s, char *why, size_t n)
{
    if (s->trace_id.len != 16) snprintf(why, n, "traceId is %zu bytes, not 16", s->trace_id.len);
    else if (all_zero(s->trace_id.data, 16)) snprintf(why, n, "traceId is all zeros");
    else if (s->span_id.len != 8) snprintf(why, n, "spanId is %zu bytes, not 8", s->span_id.len);
    else if (all_zero(s->span_id.data, 8)) snprintf(why, n, "spanId is all zeros");
    else if (s->parent_span_id.len != 0 && s->parent_span_id.len != 8)
        snprintf(why, n, "parentSpanId is %zu bytes, not 0 or 8", s->parent_span_id.len);
    else return NULL;
    return why;
}

/* Collect the valid spans of req into items (sources resolved, resource
 * and scope tags recorded). base gives req's place in a request delivered
 * in pieces (for the rejection message). Returns the item count or -1. */
static long collect(sdb *db, int64_t tenant, const exo_pb_request *req, const sdb_piece_base *base,
                    ingest_item *items, sdb_ingest_result *res)
{
    size_t n = 0;
    char why[128];
    for (size_t r = 0; r < req->n_resource_spans; r++) {
        const exo_pb_resource_spans *rs = req->resource_spans[r];
        for (size_t s = 0; s < rs->n_scope_spans; s++) {
            const exo_pb_scope_spans *ss = rs->scope_spans[s];
            if (ss->n_spans == 0) continue;
            int64_t src = 0;
            if (source_id(db, rs, ss, &src) != 0) return -1;
            int64_t last = 0;
            for (size_t k = 0; k < ss->n_spans; k++) {
                const exo_pb_span *sp = ss->spans[k];
                if (span_invalid(sp, why, sizeof why)) {
                    if (res->rejected++ == 0)
                        snprintf(res->message, sizeof res->message, "resourceSpans[%zu].scopeSpans[%zu].spans[%zu]: %s",
                                 r + base->rs_index, s + base->ss_index, k + base->span_index, why);
                    continue;
                }
                items[n] = (ingest_item){sp, rs, src, n};
                n++;
                if (clamp_ns(sp->end_time_unix_nano) > last) last = clamp_ns(sp->end_time_unix_nano);
            }
            if (rs->resource &&
                sdb__tags_attrs(db, tenant, SDB_TAG_RESOURCE, rs->resource->attributes, rs->resource->n_attributes,
                                last) != 0)
                return -1;
            if (ss->scope &&
                sdb__tags_attrs(db, tenant, SDB_TAG_INSTRUMENTATION, ss->scope->attributes, ss->scope->n_attributes,
                                last) != 0)
                return -1;
        }
    }
    return (long)n;
}

static int item_cmp(const void *a, const void *b)
{
    const ingest_item *x = a, *y = b;
    int c = memcmp(x->span->trace_id.data, y->span->trace_id.data, 16);
    if (c) return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Whether an INSERT's step failed on a uniqueness constraint: the row is
 * there already. A single-row INSERT checks its constraints before writing
 * anything, so nothing is undone and the transaction goes on. */
static int is_conflict(int rc)
{
    return (rc & 0xff) == SQLITE_CONSTRAINT;
}

/* Widen the stored trace row of (tenant, trace id) to [*start, *end],
 * add the status bits and set its root if given; *start / *end become the
 * row's. 0 or -1. */
static int merge_trace(sdb *db, int64_t tenant, const uint8_t *trace_id, const char *root, const char *svc,
                       unsigned statuses, int64_t *start, int64_t *end, int64_t *trace)
{
    sqlite3_stmt *st = sdb__stmt(db, SQ_TRACE_GET);
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_blob(st, 2, trace_id, 16, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) return sdb__sqlfail(db, "storing a trace");
    *trace = sqlite3_column_int64(st, 0);
    if (sqlite3_column_int64(st, 1) < *start) *start = sqlite3_column_int64(st, 1);
    if (sqlite3_column_int64(st, 2) > *end) *end = sqlite3_column_int64(st, 2);
    sqlite3_reset(st);
    st = sdb__stmt(db, SQ_TRACE_MERGE);
    sqlite3_bind_int64(st, 1, *trace);
    sqlite3_bind_int64(st, 2, *start);
    sqlite3_bind_int64(st, 3, *end);
    if (root) {
        sqlite3_bind_text(st, 4, root, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, svc, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int(st, 6, (int)statuses);
    if (sqlite3_step(st) != SQLITE_DONE) return sdb__sqlfail(db, "storing a trace");
    sqlite3_reset(st);
    return 0;
}

/* Add or widen the trace row for items[0..n) (all of one trace). 0 or -1. */
static int store_trace(sdb *db, int64_t tenant, const ingest_item *items, size_t n, int64_t *trace)
{
    int64_t start = INT64_MAX, end = INT64_MIN;
    unsigned statuses = 0; /* of its spans (SDB_STATUS_BIT): a search by status may pass the trace over */
    const ingest_item *root = NULL;
    for (size_t i = 0; i < n; i++) {
        const exo_pb_span *s = items[i].span;
        statuses |= SDB_STATUS_BIT(s->status ? (int)s->status->code : 0);
        if (clamp_ns(s->start_time_unix_nano) < start) start = clamp_ns(s->start_time_unix_nano);
        if (clamp_ns(s->end_time_unix_nano) > end) end = clamp_ns(s->end_time_unix_nano);
        if (s->parent_span_id.len == 0) root = &items[i];
    }
    const char *name = NULL, *svc = NULL;
    if (root) {
        name = root->span->name ? root->span->name : "";
        svc = service_name(root->rs->resource);
        if (!svc) svc = "";
    }
    const uint8_t *id = items[0].span->trace_id.data;
    sqlite3_stmt *st = sdb__stmt(db, SQ_TRACE_ADD);
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_blob(st, 2, id, 16, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, start);
    sqlite3_bind_int64(st, 4, end);
    if (root) {
        sqlite3_bind_text(st, 5, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, svc, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int(st, 7, (int)statuses);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && !is_conflict(rc)) return sdb__sqlfail(db, "storing a trace");
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) *trace = sqlite3_last_insert_rowid(db->conn);
    else if (merge_trace(db, tenant, id, name, svc, statuses, &start, &end, trace) != 0) return -1;
    /* Before COMMIT: a reader that sees the trace also sees its duration. */
    if (end - start > db->max_trace_ns) __atomic_store_n(&db->max_trace_ns, end - start, __ATOMIC_RELEASE);
    return root ? sdb__root_store(db, tenant, *trace, root->span, root->rs->resource) : 0;
}

/* A span of a trace stored before may be a re-sent one: delete the
 * compact row of the span it replaces. 1 with its row id in *old, 0 if
 * there is none, or -1. */
static int replace_old(sdb *db, int64_t tenant, int64_t trace, const ingest_item *it, int64_t *old)
{
    sqlite3_stmt *st = sdb__stmt(db, SQ_SPAN_OLD);
    sqlite3_bind_int64(st, 1, trace);
    sqlite3_bind_blob(st, 2, it->span->span_id.data, 8, SQLITE_STATIC);
    int rc = sqlite3_step(st), r = 0;
    if (rc == SQLITE_ROW) {
        *old = sqlite3_column_int64(st, 0);
        r = sdb__mspan_delete(db, tenant, *old, sqlite3_column_int64(st, 2), sqlite3_column_blob(st, 1),
                              (size_t)sqlite3_column_bytes(st, 1));
        if (r == 0) r = 1;
    } else if (rc != SQLITE_DONE) {
        r = sdb__sqlfail(db, "looking up a span");
    }
    sqlite3_reset(st);
    return r;
}

/* The stored form of a span's body (ids cleared: they have their own
 * columns), in db's buffers until the next call; NULL on failure. */
static const uint8_t *span_body(sdb *db, const exo_pb_span *span, size_t *stored)
{
    exo_pb_span body = *span;
    body.trace_id = (ProtobufCBinaryData){0, NULL};
    body.span_id = (ProtobufCBinaryData){0, NULL};
    /* Times relative to the start compress to almost nothing (body.h);
     * the events are the request's own: made absolute again at once. */
    sdb_body_times(&body, 1);
    size_t len = protobuf_c_message_get_packed_size(&body.base);
    int ok = sdb__reserve(db, len + 1) == 0;
    if (ok) protobuf_c_message_pack(&body.base, db->buf + 1);
    sdb_body_times(&body, 0);
    if (!ok) return NULL;
    return sdb__body_pack(db, db->buf + 1, len, stored);
}

/* Insert a span row (old 0) or overwrite row `old`; the rowid in *rowid.
 * 0, 1 if the insert found the span there already, or -1. */
static int put_span(sdb *db, int64_t trace, const ingest_item *it, int64_t old, int64_t *rowid)
{
    size_t stored;
    const uint8_t *bytes = span_body(db, it->span, &stored);
    if (!bytes) return -1;
    sqlite3_stmt *st = sdb__stmt(db, old ? SQ_SPAN_SET : SQ_SPAN_ADD);
    if (old) {
        sqlite3_bind_int64(st, 1, old);
        sqlite3_bind_int64(st, 2, it->source);
        sqlite3_bind_blob(st, 3, bytes, (int)stored, SQLITE_STATIC);
    } else {
        sqlite3_bind_int64(st, 1, trace);
        sqlite3_bind_blob(st, 2, it->span->span_id.data, 8, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, it->source);
        sqlite3_bind_blob(st, 4, bytes, (int)stored, SQLITE_STATIC);
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && (old || !is_conflict(rc))) return sdb__sqlfail(db, "storing a span");
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return 1;
    *rowid = old ? old : sqlite3_last_insert_rowid(db->conn);
    return 0;
}

/* Add or replace one span row. A new trace has no spans yet but may hold
 * one twice in a request: the insert then finds the first. 0 or -1. */
static int store_span(sdb *db, int64_t tenant, int64_t trace, int trace_is_new, const ingest_item *it)
{
    int64_t rowid = 0, old = 0;
    int rc = trace_is_new ? put_span(db, trace, it, 0, &rowid) : 1;
    if (rc == 1) {
        if ((rc = replace_old(db, tenant, trace, it, &old)) < 0) return -1;
        /* not there a moment ago, so the insert cannot find it either */
        rc = put_span(db, trace, it, rc == 1 ? old : 0, &rowid);
        if (rc == 1) rc = sdb__fail(db, "storing a span: its row came and went in the same transaction");
    }
    if (rc != 0) return -1;
    if (sdb__bloom_add_span(db, tenant, rowid, it->span) != 0) return -1;
    if (sdb__mspan_store(db, tenant, trace, rowid, it->source, it->span) != 0) return -1;
    return sdb__tags_span(db, tenant, it->span, clamp_ns(it->span->end_time_unix_nano));
}

static int exec_stmt(sdb *db, int which, const char *what)
{
    sqlite3_stmt *st = sdb__stmt(db, which);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sdb__sqlfail(db, what);
}

/* After a rollback, cached ids may name rows that no longer exist. SQLite
 * has rolled back already after some errors (SQLITE_FULL among them): then
 * there is nothing to undo, and the error that caused it stays the one
 * reported. */
static void rollback(sdb *db)
{
    if (!sqlite3_get_autocommit(db->conn)) {
        sqlite3_stmt *st = sdb__stmt(db, SQ_ROLLBACK);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    sdb__tenants_cache_clear(db);
    sdb__sources_cache_clear(db);
    sdb__tags_cache_clear(db);
    /* The bloom in memory may be of a chunk the rollback undid. */
    if (sdb__bloom_load(db) != 0) ex_free(db->bloom), db->bloom = NULL;
    sdb__mspans_drop(db);
    sdb__trace_max_load(db);
    /* A dictionary trained in the undone transaction is gone with it. */
    sdb__dict_load(db);
}

/* Store items (sorted by trace id). 0 or -1. */
static int store_items(sdb *db, int64_t tenant, const ingest_item *items, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && memcmp(items[j].span->trace_id.data, items[i].span->trace_id.data, 16) == 0) j++;
        int64_t trace = 0;
        if (store_trace(db, tenant, items + i, j - i, &trace) != 0) return -1;
        int is_new = trace > db->trace_max_rowid;
        if (is_new) db->trace_max_rowid = trace;
        for (size_t k = i; k < j; k++)
            if (store_span(db, tenant, trace, is_new, &items[k]) != 0) return -1;
        i = j;
    }
    return sdb__mspans_flush(db);
}

void sdb_ingest_begin(sdb *db, const char *tenant, sdb_ingest_result *res)
{
    memset(res, 0, sizeof *res);
    db->ingest_tenant = tenant;
    db->ingest_tid = 0;
}

int sdb_ingest_part(sdb *db, const exo_pb_request *req, const sdb_piece_base *base, sdb_ingest_result *res)
{
    static const sdb_piece_base whole = {0, 0, 0};
    size_t total = 0;
    for (size_t r = 0; r < req->n_resource_spans; r++)
        for (size_t s = 0; s < req->resource_spans[r]->n_scope_spans; s++)
            total += req->resource_spans[r]->scope_spans[s]->n_spans;
    if (total == 0) return 0;
    ingest_item *items = ex_malloc(total * sizeof *items);
    if (!items) return sdb__fail(db, "out of memory (%zu spans)", total);
    int rc = -1;
    if (db->ingest_tid == 0) { /* the first piece with spans opens the transaction */
        if (exec_stmt(db, SQ_BEGIN, "beginning a transaction") != 0) goto out;
        int64_t tid = sdb__tenant_id(db, db->ingest_tenant, 1);
        if (tid <= 0) {
            rollback(db);
            goto out;
        }
        db->ingest_tid = tid;
    }
    long n = collect(db, db->ingest_tid, req, base ? base : &whole, items, res);
    if (n < 0) goto out;
    qsort(items, (size_t)n, sizeof *items, item_cmp);
    if (store_items(db, db->ingest_tid, items, (size_t)n) != 0) goto out;
    res->accepted += n;
    rc = 0;
out:
    ex_free(items);
    return rc;
}

int sdb_ingest_end(sdb *db, int commit, sdb_ingest_result *res)
{
    int open = db->ingest_tid > 0;
    db->ingest_tid = 0;
    if (commit && open && (sdb__bloom_flush(db) != 0 || exec_stmt(db, SQ_COMMIT, "committing") != 0)) commit = 0;
    if (!commit) {
        if (open) rollback(db);
        res->accepted = 0;
        db->stats.failed++;
        return -1;
    }
    if (open) db->stats.requests++;
    db->stats.spans += (uint64_t)res->accepted;
    db->stats.rejected += (uint64_t)res->rejected;
    return 0;
}

int sdb_ingest(sdb *db, const char *tenant, const exo_pb_request *req, sdb_ingest_result *res)
{
    sdb_ingest_begin(db, tenant, res);
    int ok = sdb_ingest_part(db, req, NULL, res) == 0;
    return sdb_ingest_end(db, ok, res);
}

/* Delete tag rows and sources no longer needed. 0 or -1. */
static int retention_tidy(sdb *db, int64_t cutoff_ns)
{
    static const int which[] = {SQ_RET_VALUES, SQ_RET_KEYS};
    for (size_t i = 0; i < 2; i++) {
        sqlite3_stmt *st = sdb__stmt(db, which[i]);
        sqlite3_bind_int64(st, 1, cutoff_ns);
        if (sqlite3_step(st) != SQLITE_DONE) return sdb__sqlfail(db, "deleting old tags");
        sqlite3_reset(st);
    }
    sqlite3_stmt *st = sdb__stmt(db, SQ_RET_BLOOMS);
    sqlite3_bind_int64(st, 1, db->bloom_chunk * SDB__BLOOM_CHUNK);
    sqlite3_bind_int64(st, 2, SDB__BLOOM_CHUNK);
    if (sqlite3_step(st) != SQLITE_DONE) return sdb__sqlfail(db, "deleting old attribute blooms");
    sqlite3_reset(st);
    if (exec_stmt(db, SQ_ROLL_TIDY, "deleting empty span counts") != 0) return -1;
    if (exec_stmt(db, SQ_RET_NAMES, "deleting unused names") != 0) return -1;
    return exec_stmt(db, SQ_RET_SOURCES, "deleting unused resources");
}

long sdb_retention_step(sdb *db, int64_t cutoff_ns, size_t max_traces)
{
    if (exec_stmt(db, SQ_BEGIN, "beginning a transaction") != 0) return -1;
    sqlite3_stmt *sel = sdb__stmt(db, SQ_RET_TRACES);
    sqlite3_bind_int64(sel, 1, cutoff_ns);
    sqlite3_bind_int64(sel, 2, (sqlite3_int64)max_traces);
    long traces = 0;
    uint64_t spans = 0;
    int rc;
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(sel, 0), tenant = sqlite3_column_int64(sel, 1);
        sqlite3_stmt *del = sdb__stmt(db, SQ_RET_SPANS);
        sqlite3_bind_int64(del, 1, id);
        int drc;
        /* the deleted spans come back: their starts find their compact rows */
        while ((drc = sqlite3_step(del)) == SQLITE_ROW) {
            spans++;
            if (sdb__mspan_delete(db, tenant, sqlite3_column_int64(del, 0), sqlite3_column_int64(del, 2),
                                  sqlite3_column_blob(del, 1), (size_t)sqlite3_column_bytes(del, 1)) != 0)
                goto undo_del;
        }
        sqlite3_reset(del);
        if (drc != SQLITE_DONE) goto fail;
        del = sdb__stmt(db, SQ_RET_TRACE);
        sqlite3_bind_int64(del, 1, id);
        if (sqlite3_step(del) != SQLITE_DONE) goto fail;
        sqlite3_reset(del);
        traces++;
    }
    if (rc != SQLITE_DONE) goto fail;
    sqlite3_reset(sel);
    /* Tags and sources are tidied once the old traces are gone, so a
     * chunked pass pays for it once. */
    if ((size_t)traces < max_traces && retention_tidy(db, cutoff_ns) != 0) goto undo;
    if (exec_stmt(db, SQ_COMMIT, "committing") != 0) goto undo;
    if ((size_t)traces < max_traces) {
        sdb__sources_cache_clear(db);
        sdb__tags_cache_clear(db);
        sdb__names_cache_clear(db);
        /* Emptied, the spans table hands out rowids from 1 again. */
        if (sdb__bloom_load(db) != 0 || sdb__trace_max_load(db) != 0) return -1;
    }
    db->stats.traces_deleted += (uint64_t)traces;
    db->stats.spans_deleted += spans;
    return traces;
undo_del:
    sqlite3_reset(sdb__stmt(db, SQ_RET_SPANS));
    goto undo;
fail:
    sdb__sqlfail(db, "deleting old traces");
undo:
    sqlite3_reset(sel);
    rollback(db);
    return -1;
}
