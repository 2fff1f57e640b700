/* db_names.c — interned names (schema 6): span names and service names
 * stored once in `names` and referred to by id from mspans, mroll and
 * roots (a name of 8–20 bytes in every compact row was a quarter of it;
 * docs/store.md). Ids come from AUTOINCREMENT, so an id never names
 * another string, even after retention deleted unused names: a reader may
 * cache id → name for as long as it lives. Only the writer caches name →
 * id (a reader asks once per query). */
#include <string.h>

#include "core/mem.h"
#include "store/db_internal.h"

#define uthash_malloc(sz) ex_malloc(sz)
#define uthash_free(ptr, sz) ex_free(ptr)
#include <uthash.h>

/* One cached name, in the by-id table and (the writer's) by-name table. */
struct sdb_name_entry {
    char *name;        /* owned */
    int64_t id;        /* names.id */
    int by_name;       /* also in db->names_by_name */
    UT_hash_handle hi; /* db->names_by_id */
    UT_hash_handle hn; /* db->names_by_name */
};

/* Most names cached; past it the caches are emptied and refilled. */
#define NAME_CACHE_MAX 4096

void sdb__names_cache_clear(sdb *db)
{
    sdb_name_entry *e, *tmp;
    HASH_CLEAR(hn, db->names_by_name);
    HASH_ITER(hi, db->names_by_id, e, tmp) {
        HASH_DELETE(hi, db->names_by_id, e);
        ex_free(e->name);
        ex_free(e);
    }
}

/* Cache (id, name); the entry or NULL (out of memory: db->err set). */
static sdb_name_entry *remember(sdb *db, int64_t id, const char *name, size_t len)
{
    if (HASH_CNT(hi, db->names_by_id) >= NAME_CACHE_MAX) sdb__names_cache_clear(db);
    sdb_name_entry *e = ex_calloc(1, sizeof *e);
    if (!e || !(e->name = ex_malloc(len + 1))) {
        ex_free(e);
        sdb__fail(db, "out of memory");
        return NULL;
    }
    memcpy(e->name, name, len);
    e->name[len] = '\0';
    e->id = id;
    HASH_ADD(hi, db->names_by_id, id, sizeof e->id, e);
    if (!db->writer) {
        HASH_ADD_KEYPTR(hn, db->names_by_name, e->name, len, e);
        e->by_name = 1;
    }
    return e;
}

int64_t sdb__name_id(sdb *db, const char *name, int create)
{
    size_t len = strlen(name);
    sdb_name_entry *e = NULL;
    if (!db->writer) HASH_FIND(hn, db->names_by_name, name, len, e);
    if (e) return e->id;
    sqlite3_stmt *st = sdb__stmt(db, SQ_NAME_GET);
    sqlite3_bind_text(st, 1, name, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return sdb__sqlfail(db, "looking up a name");
    } else if (rc == SQLITE_DONE && create) {
        st = sdb__stmt(db, SQ_NAME_ADD);
        sqlite3_bind_text(st, 1, name, (int)len, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) return sdb__sqlfail(db, "adding a name");
        id = sqlite3_last_insert_rowid(db->conn);
    }
    if (id > 0 && !db->writer && !remember(db, id, name, len)) return -1;
    return id;
}

const char *sdb__name_text(sdb *db, int64_t id)
{
    sdb_name_entry *e;
    HASH_FIND(hi, db->names_by_id, &id, sizeof id, e);
    if (e) return e->name;
    sqlite3_stmt *st = sdb__stmt(db, SQ_NAME_TEXT);
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        e = remember(db, id, text ? text : "", (size_t)sqlite3_column_bytes(st, 0));
    } else if (rc == SQLITE_DONE) {
        sdb__fail(db, "%s: name %lld is not in the names table", db->path, (long long)id);
    } else {
        sdb__sqlfail(db, "reading a name");
    }
    sqlite3_reset(st);
    return e ? e->name : NULL;
}
