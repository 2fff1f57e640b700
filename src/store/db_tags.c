/* db_tags.c — the tag index: which attribute keys exist per tenant and
 * scope, and up to SDB_TAG_VALUES_PER_KEY distinct scalar values of each,
 * with the latest span end time at which each was seen (so retention can
 * drop what only old spans had).
 *
 * The writer sees every attribute of every span; a cache of what was
 * already written keeps that to a hash lookup. A key's or value's time is
 * written again only when it moved on by TAG_REFRESH_NS, so the listed
 * time can lag the truth by that much. A key holding
 * SDB_TAG_VALUES_PER_KEY values is full: its values are not looked at any
 * more (unique values, ids, would otherwise each cost a hash and a cache
 * entry). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "store/db_internal.h"

#define uthash_malloc(sz) ex_malloc(sz)
#define uthash_free(ptr, sz) ex_free(ptr)
#include <uthash.h>

#define TAG_REFRESH_NS (60LL * 1000000000LL)
/* Type byte of a key entry in the cache (values use sdb_value_type). */
#define TYPE_KEY 0xff

/* A cached key or value. Cache key bytes: tenant (8), scope (1), type (1),
 * key length (4), key, value. */
struct sdb_tag_entry {
    uint8_t *ck;       /* cache key (owned) */
    size_t cklen;
    int64_t last_ns;   /* last time written to the table */
    long nvalues;      /* key entries: values stored for this key */
    UT_hash_handle hh;
};

void sdb__tags_cache_clear(sdb *db)
{
    sdb_tag_entry *e, *tmp;
    HASH_ITER(hh, db->tags, e, tmp) {
        HASH_DEL(db->tags, e);
        ex_free(e->ck);
        ex_free(e);
    }
    db->ntags = 0;
}

/* Build a cache key into buf (cap bytes); returns its length, 0 if too long. */
static size_t cache_key(uint8_t *buf, size_t cap, int64_t tenant, int scope, int type, const char *key, size_t klen,
                        const char *val, size_t vlen)
{
    size_t n = 8 + 1 + 1 + 4 + klen + vlen;
    if (n > cap) return 0;
    memcpy(buf, &tenant, 8);
    buf[8] = (uint8_t)scope;
    buf[9] = (uint8_t)type;
    uint32_t k32 = (uint32_t)klen;
    memcpy(buf + 10, &k32, 4);
    memcpy(buf + 14, key, klen);
    if (vlen) memcpy(buf + 14 + klen, val, vlen);
    return n;
}

static sdb_tag_entry *cache_add(sdb *db, const uint8_t *ck, size_t cklen, int64_t last_ns)
{
    if (db->ntags >= SDB__TAG_CACHE_MAX) sdb__tags_cache_clear(db);
    sdb_tag_entry *e = ex_calloc(1, sizeof *e);
    if (!e || !(e->ck = ex_malloc(cklen))) {
        ex_free(e);
        return NULL;
    }
    memcpy(e->ck, ck, cklen);
    e->cklen = cklen;
    e->last_ns = last_ns;
    HASH_ADD_KEYPTR(hh, db->tags, e->ck, e->cklen, e);
    db->ntags++;
    return e;
}

/* Bind tenant, scope, key (and type, value when type >= 0) in the usual
 * parameter positions ?1..?5 and the time in pos_ns. */
static void bind_tag(sqlite3_stmt *st, int64_t tenant, int scope, const char *key, size_t klen, int type,
                     const char *val, size_t vlen, int pos_ns, int64_t last_ns)
{
    sqlite3_bind_int64(st, 1, tenant);
    sqlite3_bind_int(st, 2, scope);
    sqlite3_bind_text(st, 3, key, (int)klen, SQLITE_STATIC);
    if (type >= 0) {
        sqlite3_bind_int(st, 4, type);
        sqlite3_bind_text(st, 5, val, (int)vlen, SQLITE_STATIC);
    }
    sqlite3_bind_int64(st, pos_ns, last_ns);
}

static int step_done(sdb *db, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sdb__sqlfail(db, what);
}

/* The key's cache entry, recorded/refreshed in tag_keys; *out NULL when
 * the cache could not take it. 0 or -1. */
static int record_key(sdb *db, int64_t tenant, int scope, const char *key, size_t klen, int64_t last_ns,
                      sdb_tag_entry **out)
{
    uint8_t ck[1024];
    size_t cklen = cache_key(ck, sizeof ck, tenant, scope, TYPE_KEY, key, klen, NULL, 0);
    *out = NULL;
    if (!cklen) return 0; /* keys over ~1 KiB are not indexed */
    sdb_tag_entry *e;
    HASH_FIND(hh, db->tags, ck, cklen, e);
    if (e) {
        if (last_ns > e->last_ns + TAG_REFRESH_NS) {
            sqlite3_stmt *st = sdb__stmt(db, SQ_KEY_TOUCH);
            bind_tag(st, tenant, scope, key, klen, -1, NULL, 0, 4, last_ns);
            if (step_done(db, st, "updating a tag") != 0) return -1;
            e->last_ns = last_ns;
        }
        *out = e;
        return 0;
    }
    sqlite3_stmt *st = sdb__stmt(db, SQ_KEY_GET);
    bind_tag(st, tenant, scope, key, klen, -1, NULL, 0, 4, 0);
    int rc = sqlite3_step(st);
    int64_t stored = 0;
    long count = 0;
    if (rc == SQLITE_ROW) {
        stored = sqlite3_column_int64(st, 0);
        count = (long)sqlite3_column_int64(st, 1);
    } else if (rc != SQLITE_DONE) {
        return sdb__sqlfail(db, "reading a tag");
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE || last_ns > stored) {
        st = sdb__stmt(db, rc == SQLITE_DONE ? SQ_KEY_ADD : SQ_KEY_TOUCH);
        bind_tag(st, tenant, scope, key, klen, -1, NULL, 0, 4, last_ns);
        if (step_done(db, st, "recording a tag") != 0) return -1;
        stored = last_ns > stored ? last_ns : stored;
    }
    e = cache_add(db, ck, cklen, stored);
    if (e) e->nvalues = count;
    *out = e;
    return 0;
}

/* Record one scalar value of a key whose entry is ke. 0 or -1. */
static int record_value(sdb *db, int64_t tenant, int scope, const char *key, size_t klen, sdb_tag_entry *ke,
                        int type, const char *val, size_t vlen, int64_t last_ns)
{
    uint8_t ck[1024];
    size_t cklen = cache_key(ck, sizeof ck, tenant, scope, type, key, klen, val, vlen);
    if (!cklen) return 0; /* long values are not offered as choices */
    sdb_tag_entry *e;
    HASH_FIND(hh, db->tags, ck, cklen, e);
    if (e) {
        if (last_ns > e->last_ns + TAG_REFRESH_NS) {
            sqlite3_stmt *st = sdb__stmt(db, SQ_VALUE_TOUCH);
            bind_tag(st, tenant, scope, key, klen, type, val, vlen, 6, last_ns);
            if (step_done(db, st, "updating a tag value") != 0) return -1;
            e->last_ns = last_ns;
        }
        return 0;
    }
    sqlite3_stmt *st = sdb__stmt(db, SQ_VALUE_ADD);
    bind_tag(st, tenant, scope, key, klen, type, val, vlen, 6, last_ns);
    if (step_done(db, st, "recording a tag value") != 0) return -1;
    if (sqlite3_changes(db->conn) > 0) {
        ke->nvalues++;
    } else {
        st = sdb__stmt(db, SQ_VALUE_TOUCH);
        bind_tag(st, tenant, scope, key, klen, type, val, vlen, 6, last_ns);
        if (step_done(db, st, "updating a tag value") != 0) return -1;
    }
    /* The key entry may be evicted by cache_add clearing the cache; it is
     * not used after this point. */
    cache_add(db, ck, cklen, last_ns);
    return 0;
}

/* Record key (and its value when scalar). 0 or -1. */
static int record(sdb *db, int64_t tenant, int scope, const char *key, const exo_pb_any *v, int64_t last_ns)
{
    if (!key) return 0;
    size_t klen = strlen(key);
    sdb_tag_entry *ke;
    if (record_key(db, tenant, scope, key, klen, last_ns, &ke) != 0) return -1;
    if (!ke || !v) return 0;
    /* A full key (an id-like attribute: a new value per span) takes no more
     * values: stop before hashing or formatting one. Its listed values are
     * no longer refreshed, so retention drops them in time and makes room. */
    if (ke->nvalues >= SDB_TAG_VALUES_PER_KEY) return 0;
    char num[40];
    const char *val = num;
    int type;
    switch (v->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        type = SDB_VAL_STRING;
        val = v->string_value ? v->string_value : "";
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        type = SDB_VAL_INT;
        snprintf(num, sizeof num, "%" PRId64, v->int_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        type = SDB_VAL_DOUBLE;
        snprintf(num, sizeof num, "%.17g", v->double_value);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        type = SDB_VAL_BOOL;
        val = v->bool_value ? "true" : "false";
        break;
    default:
        return 0;
    }
    return record_value(db, tenant, scope, key, klen, ke, type, val, strlen(val), last_ns);
}

int sdb__tags_attrs(sdb *db, int64_t tenant, sdb_tag_scope scope, exo_pb_kv *const *attrs, size_t n, int64_t last_ns)
{
    for (size_t i = 0; i < n; i++)
        if (record(db, tenant, (int)scope, attrs[i]->key, attrs[i]->value, last_ns) != 0) return -1;
    return 0;
}

/* A string AnyValue on the stack, for intrinsics. */
static exo_pb_any string_any(const char *s)
{
    exo_pb_any v = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    v.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v.string_value = (char *)s;
    return v;
}

int sdb__tags_span(sdb *db, int64_t tenant, const exo_pb_span *span, int64_t last_ns)
{
    if (sdb__tags_attrs(db, tenant, SDB_TAG_SPAN, span->attributes, span->n_attributes, last_ns) != 0) return -1;
    exo_pb_any name = string_any(span->name ? span->name : "");
    if (record(db, tenant, SDB_TAG_INTRINSIC, "name", &name, last_ns) != 0) return -1;
    for (size_t i = 0; i < span->n_events; i++) {
        const exo_pb_event *ev = span->events[i];
        exo_pb_any evname = string_any(ev->name ? ev->name : "");
        if (record(db, tenant, SDB_TAG_INTRINSIC, "event:name", &evname, last_ns) != 0 ||
            sdb__tags_attrs(db, tenant, SDB_TAG_EVENT, ev->attributes, ev->n_attributes, last_ns) != 0)
            return -1;
    }
    for (size_t i = 0; i < span->n_links; i++) {
        const exo_pb_link *ln = span->links[i];
        if (sdb__tags_attrs(db, tenant, SDB_TAG_LINK, ln->attributes, ln->n_attributes, last_ns) != 0) return -1;
    }
    return 0;
}

/* ---- reader ------------------------------------------------------------ */

/* One listing: its query, run once per tag scope, and what to do per row. */
typedef struct tag_walk {
    const char *sql;     /* ?1 tenant, ?2 scope, ?3 since (names) or key (values), ?4 since (values) */
    const char *what;    /* for error messages */
    const char *key;     /* values: the tag's key; names: NULL */
    sdb_tag_name_cb on_name;   /* names: per row */
    sdb_tag_value_cb on_value; /* values: per row */
    void *arg;           /* of the callback */
} tag_walk;

/* The callback of one row of scope; nonzero stops the listing. */
static int tag_row(const tag_walk *t, sqlite3_stmt *st, int scope)
{
    if (t->on_name) return t->on_name(t->arg, (sdb_tag_scope)scope, (const char *)sqlite3_column_text(st, 1));
    return t->on_value(t->arg, (sdb_tag_scope)scope, (sdb_value_type)sqlite3_column_int(st, 0),
                       (const char *)sqlite3_column_text(st, 1));
}

/* Run t's query for every scope in scope_mask, in scope order, until a
 * callback says stop or `limit` rows (0: no limit) were handed over.
 * Returns the rows handed over, or -1 on an SQLite error (logged). */
static long tag_walk_run(sdb *db, const char *tenant, unsigned scope_mask, int64_t since_ns, size_t limit,
                         const tag_walk *t)
{
    int64_t tid = sdb__tenant_id(db, tenant, 0);
    if (tid <= 0) return tid < 0 ? -1 : 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->conn, t->sql, -1, &st, NULL) != SQLITE_OK) return sdb__sqlfail(db, t->what);
    long n = 0;
    int stop = 0, rc = SQLITE_DONE;
    for (int scope = 0; scope < SDB_TAG_NSCOPES && !stop; scope++) {
        if (!(scope_mask & (1u << scope))) continue;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, tid);
        sqlite3_bind_int(st, 2, scope);
        if (t->key) sqlite3_bind_text(st, 3, t->key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, t->key ? 4 : 3, since_ns);
        while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            n++;
            if (tag_row(t, st, scope) != 0 || (limit && (size_t)n >= limit)) stop = 1;
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) n = sdb__sqlfail(db, t->what);
    sqlite3_finalize(st);
    return n;
}

long sdb_tag_names(sdb *db, const char *tenant, unsigned scope_mask, int64_t since_ns, size_t limit,
                   sdb_tag_name_cb cb, void *arg)
{
    tag_walk t = {"SELECT scope, key FROM tag_keys WHERE tenant = ?1 AND scope = ?2 AND last_ns >= ?3 ORDER BY key",
                  "listing tags", NULL, cb, NULL, arg};
    return tag_walk_run(db, tenant, scope_mask, since_ns, limit, &t);
}

long sdb_tag_values(sdb *db, const char *tenant, unsigned scope_mask, const char *key, int64_t since_ns,
                    size_t limit, sdb_tag_value_cb cb, void *arg)
{
    tag_walk t = {"SELECT type, value FROM tag_values WHERE tenant = ?1 AND scope = ?2 AND key = ?3"
                  " AND last_ns >= ?4 ORDER BY type, value",
                  "listing tag values", key, NULL, cb, arg};
    return tag_walk_run(db, tenant, scope_mask, since_ns, limit, &t);
}
