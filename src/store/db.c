/* db.c — opening the trace database: schema, pragmas, prepared
 * statements, tenant cache and error helpers. The writer is in
 * db_write.c, the reader in db_read.c, the tag index in db_tags.c.
 *
 * Schema (docs/store.md has the reasoning):
 *   tenants(id, name)                     tenant names, small integer ids
 *   sources(id, hash, resource, scope)    distinct (ResourceSpans head, ScopeSpans head) pairs, as protobuf
 *   traces(id, tenant, trace_id, start_ns, end_ns, root_name, root_service)   one row per trace
 *   spans(id, trace, span_id, source, body)   body = the protobuf Span without its trace and span ids,
 *                                         zstd-compressed with the store's dictionary (body.h, db_dict.c)
 *   dicts(id, bytes)                      the body dictionaries (db_dict.c)
 *   tag_keys / tag_values                 attribute names and (bounded) values for search builders
 *   attr_bloom(chunk, bits)               per 4096 span rowids, a Bloom filter of their string attributes
 *   roots(...)                            the root span of each trace (db_roots.c)
 *   mspans(tenant, start_ns, span, ...)   per span what metrics filter and group on (db_mspans.c)
 *   names(id, name)                       span and service names of roots, mspans, mroll (db_names.c) */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/mem.h"
#include "store/db_internal.h"
#include "store/dirlock.h"

#define uthash_malloc(sz) ex_malloc(sz)
#define uthash_free(ptr, sz) ex_free(ptr)
#include <uthash.h>

/* 2: the roots table (db_roots.c). 3: the compact span table (db_mspans.c).
 * 4: compressed span bodies and dicts (db_dict.c); mspans without attrs;
 * no spans_by_source (see migrate_v3). 5: bodies written with relative
 * times (body.h forms 1 and 2; schema 4 bodies read as they are, so
 * opening a schema 4 database changes nothing but the version). 6: names
 * (span and service) interned in `names` for roots, mspans and mroll;
 * roots without trace_id; no traces_by_end (see migrate_names). 7: the
 * statuses of each trace's spans in traces.statuses (migrate_statuses). */
#define SDB_SCHEMA_VERSION 7

struct sdb_tenant_entry {
    char *name;        /* tenant name (owned) */
    int64_t id;        /* tenants.id */
    UT_hash_handle hh;
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS tenants(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS sources(id INTEGER PRIMARY KEY, hash INTEGER NOT NULL,"
    " resource BLOB NOT NULL, scope BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS sources_by_hash ON sources(hash);"
    "CREATE TABLE IF NOT EXISTS traces(id INTEGER PRIMARY KEY, tenant INTEGER NOT NULL, trace_id BLOB NOT NULL,"
    " start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL, root_name TEXT, root_service TEXT,"
    " statuses INTEGER NOT NULL DEFAULT 15);"
    "CREATE UNIQUE INDEX IF NOT EXISTS traces_by_id ON traces(tenant, trace_id);"
    "CREATE INDEX IF NOT EXISTS traces_by_start ON traces(tenant, start_ns);"
    "CREATE TABLE IF NOT EXISTS spans(id INTEGER PRIMARY KEY, trace INTEGER NOT NULL, span_id BLOB NOT NULL,"
    " source INTEGER NOT NULL, body BLOB NOT NULL);"
    "CREATE UNIQUE INDEX IF NOT EXISTS spans_by_trace ON spans(trace, span_id);"
    "CREATE TABLE IF NOT EXISTS dicts(id INTEGER PRIMARY KEY, bytes BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tag_keys(tenant INTEGER NOT NULL, scope INTEGER NOT NULL, key TEXT NOT NULL,"
    " last_ns INTEGER NOT NULL, PRIMARY KEY(tenant, scope, key)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS tag_values(tenant INTEGER NOT NULL, scope INTEGER NOT NULL, key TEXT NOT NULL,"
    " type INTEGER NOT NULL, value TEXT NOT NULL, last_ns INTEGER NOT NULL,"
    " PRIMARY KEY(tenant, scope, key, type, value)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS attr_bloom(chunk INTEGER PRIMARY KEY, bits BLOB NOT NULL);"
    /* The root span of each trace, for listing workflows (db_roots.c):
     * clustered by what a list filters and sorts on first. */
    "CREATE TABLE IF NOT EXISTS names(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS roots(tenant INTEGER NOT NULL, name INTEGER NOT NULL, service INTEGER NOT NULL,"
    " start_ns INTEGER NOT NULL, trace INTEGER NOT NULL, end_ns INTEGER NOT NULL, namespace TEXT NOT NULL,"
    " outcome TEXT NOT NULL, workflow_id TEXT NOT NULL, status INTEGER NOT NULL, message TEXT NOT NULL,"
    " PRIMARY KEY(tenant, name, service, start_ns, trace)) WITHOUT ROWID;"
    "CREATE UNIQUE INDEX IF NOT EXISTS roots_by_trace ON roots(trace);"
    "CREATE TRIGGER IF NOT EXISTS roots_follow_traces AFTER DELETE ON traces"
    " BEGIN DELETE FROM roots WHERE trace = old.id; END;"
    /* Per span what TraceQL metrics filter and group on (db_mspans.c):
     * clustered by tenant and start time, so a time range is one walk. */
    "CREATE TABLE IF NOT EXISTS mspans(tenant INTEGER NOT NULL, start_ns INTEGER NOT NULL, span INTEGER NOT NULL,"
    " trace INTEGER NOT NULL, dur_ns INTEGER NOT NULL, status INTEGER NOT NULL, kind INTEGER NOT NULL,"
    " name INTEGER NOT NULL, source INTEGER NOT NULL, PRIMARY KEY(tenant, start_ns, span)) WITHOUT ROWID;"
    /* Per minute, name, source, status, kind and log2 duration bucket: how
     * many spans (db_mspans.c keeps it in step with mspans). */
    "CREATE TABLE IF NOT EXISTS mroll(tenant INTEGER NOT NULL, minute INTEGER NOT NULL, name INTEGER NOT NULL,"
    " source INTEGER NOT NULL, status INTEGER NOT NULL, kind INTEGER NOT NULL, bucket INTEGER NOT NULL,"
    " n INTEGER NOT NULL, PRIMARY KEY(tenant, minute, name, source, status, kind, bucket)) WITHOUT ROWID;";

/* From schema 3: the attributes of mspans rows are read from the span
 * bodies instead (the column was 2/3 of the table); sources are tidied
 * from mroll instead of an index of every span. Bodies stored before stay
 * as they are (body.h reads both forms). */
static const char migrate_v3[] = "DROP INDEX IF EXISTS spans_by_source;";
static const char migrate_v3_attrs[] = "ALTER TABLE mspans DROP COLUMN attrs;";

/* To schema 6, the tables that named spans and services in text: before
 * the schema is created they are renamed away (with the index and
 * trigger that follow roots), after it they are copied into the new ones
 * with their names interned, in key order (pages fill as in an append),
 * and dropped. roots' trace id is read from traces instead. */
static const char migrate_names_roots_pre[] = "DROP TRIGGER IF EXISTS roots_follow_traces;"
                                              " DROP INDEX IF EXISTS roots_by_trace; ALTER TABLE roots RENAME TO roots_v5;";
static const char migrate_names_roots_post[] =
    "INSERT OR IGNORE INTO names(name) SELECT name FROM roots_v5 UNION SELECT service FROM roots_v5;"
    "INSERT INTO roots(tenant, name, service, start_ns, trace, end_ns, namespace, outcome, workflow_id, status,"
    " message) SELECT r.tenant, n.id, v.id, r.start_ns, r.trace, r.end_ns, r.namespace, r.outcome, r.workflow_id,"
    " r.status, r.message FROM roots_v5 r JOIN names n ON n.name = r.name JOIN names v ON v.name = r.service"
    " ORDER BY r.tenant, n.id, v.id, r.start_ns, r.trace;"
    "DROP TABLE roots_v5;";
static const char migrate_names_mspans_pre[] = "ALTER TABLE mspans RENAME TO mspans_v5; ALTER TABLE mroll RENAME TO mroll_v5;";
static const char migrate_names_mspans_post[] =
    "INSERT OR IGNORE INTO names(name) SELECT DISTINCT name FROM mroll_v5;"
    "INSERT OR IGNORE INTO names(name) SELECT DISTINCT name FROM mspans_v5;"
    "INSERT INTO mspans(tenant, start_ns, span, trace, dur_ns, status, kind, name, source)"
    " SELECT m.tenant, m.start_ns, m.span, m.trace, m.dur_ns, m.status, m.kind, n.id, m.source"
    " FROM mspans_v5 m JOIN names n ON n.name = m.name ORDER BY m.tenant, m.start_ns, m.span;"
    "INSERT INTO mroll(tenant, minute, name, source, status, kind, bucket, n)"
    " SELECT r.tenant, r.minute, n.id, r.source, r.status, r.kind, r.bucket, r.n"
    " FROM mroll_v5 r JOIN names n ON n.name = r.name;"
    "DROP TABLE mspans_v5; DROP TABLE mroll_v5;";
static const char migrate_end_index[] = "DROP INDEX IF EXISTS traces_by_end;";
/* To schema 7: a trace stored before has every status bit (SDB_STATUS_ALL,
 * the column's default): a search by status reads it, as it read every
 * trace before. No row is rewritten. */
static const char migrate_statuses[] = "ALTER TABLE traces ADD COLUMN statuses INTEGER NOT NULL DEFAULT 15;";

static const char *const stmt_sql[SQ_COUNT] = {
    [SQ_BEGIN] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    [SQ_TENANT_GET] = "SELECT id FROM tenants WHERE name = ?1",
    [SQ_TENANT_ADD] = "INSERT INTO tenants(name) VALUES(?1)",
    [SQ_SOURCE_FIND] = "SELECT id FROM sources WHERE hash = ?1 AND resource = ?2 AND scope = ?3",
    [SQ_SOURCE_ADD] = "INSERT INTO sources(hash, resource, scope) VALUES(?1, ?2, ?3)",
    /* Traces and spans are added with plain INSERTs, and the rows already
     * there found and updated by the writer (db_write.c): an upsert with
     * RETURNING buffers its rows in an ephemeral table, opened and closed
     * on every call (a tenth of the ingest's CPU, bench/README.md). */
    [SQ_TRACE_ADD] = "INSERT INTO traces(tenant, trace_id, start_ns, end_ns, root_name, root_service, statuses)"
                     " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [SQ_TRACE_MERGE] = "UPDATE traces SET start_ns = ?2, end_ns = ?3, root_name = coalesce(?4, root_name),"
                       " root_service = coalesce(?5, root_service), statuses = statuses | ?6 WHERE id = ?1",
    [SQ_SPAN_ADD] = "INSERT INTO spans(trace, span_id, source, body) VALUES(?1, ?2, ?3, ?4)",
    [SQ_SPAN_SET] = "UPDATE spans SET source = ?2, body = ?3 WHERE id = ?1",
    [SQ_TRACE_GET] = "SELECT id, start_ns, end_ns, root_name, root_service FROM traces"
                     " WHERE tenant = ?1 AND trace_id = ?2",
    [SQ_TRACE_SPANS] = "SELECT span_id, source, body FROM spans WHERE trace = ?1",
    [SQ_SOURCE_GET] = "SELECT resource, scope FROM sources WHERE id = ?1",
    [SQ_KEY_GET] = "SELECT last_ns, (SELECT count(*) FROM tag_values v WHERE v.tenant = ?1 AND v.scope = ?2"
                   " AND v.key = ?3) FROM tag_keys WHERE tenant = ?1 AND scope = ?2 AND key = ?3",
    [SQ_KEY_ADD] = "INSERT INTO tag_keys(tenant, scope, key, last_ns) VALUES(?1, ?2, ?3, ?4)",
    [SQ_KEY_TOUCH] = "UPDATE tag_keys SET last_ns = max(last_ns, ?4) WHERE tenant = ?1 AND scope = ?2 AND key = ?3",
    [SQ_VALUE_ADD] = "INSERT OR IGNORE INTO tag_values(tenant, scope, key, type, value, last_ns)"
                     " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
    [SQ_VALUE_TOUCH] = "UPDATE tag_values SET last_ns = max(last_ns, ?6) WHERE tenant = ?1 AND scope = ?2"
                       " AND key = ?3 AND type = ?4 AND value = ?5",
    [SQ_VALUE_COUNT] = "SELECT count(*) FROM tag_values WHERE tenant = ?1 AND scope = ?2 AND key = ?3",
    /* A trace ending before the cutoff started before it: traces_by_start
     * finds them per tenant (no index by end: 18 bytes a trace; CROSS JOIN
     * keeps tenants outside, so the index is used); the ones that started
     * before but still run are passed over. */
    [SQ_RET_TRACES] = "SELECT t.id, t.tenant FROM tenants n CROSS JOIN traces t ON t.tenant = n.id AND t.start_ns < ?1"
                      " WHERE t.end_ns < ?1 LIMIT ?2",
    [SQ_RET_SPANS] = "DELETE FROM spans WHERE trace = ?1 RETURNING id, body, source",
    [SQ_RET_TRACE] = "DELETE FROM traces WHERE id = ?1",
    [SQ_RET_VALUES] = "DELETE FROM tag_values WHERE last_ns < ?1",
    [SQ_RET_KEYS] = "DELETE FROM tag_keys WHERE last_ns < ?1",
    /* Every stored span is counted in mroll under its source (db_mspans.c),
     * and mroll is small: no index of spans by source is needed. */
    [SQ_RET_SOURCES] = "DELETE FROM sources WHERE id NOT IN (SELECT source FROM mroll)",
    [SQ_BLOOM_GET] = "SELECT bits FROM attr_bloom WHERE chunk = ?1",
    [SQ_BLOOM_PUT] = "INSERT OR REPLACE INTO attr_bloom(chunk, bits) VALUES(?1, ?2)",
    [SQ_RET_BLOOMS] = "DELETE FROM attr_bloom WHERE chunk < coalesce((SELECT min(id) FROM spans), ?1) / ?2",
    [SQ_ROOT_UPSERT] = "INSERT OR REPLACE INTO roots(trace, tenant, name, service, namespace, start_ns,"
                       " end_ns, status, message, workflow_id, outcome)"
                       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [SQ_MSPAN_ADD] = "INSERT INTO mspans(tenant, start_ns, span, trace, dur_ns, status, kind, name,"
                     " source) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING",
    [SQ_ROLL_ADD] = "INSERT INTO mroll(tenant, minute, name, source, status, kind, bucket, n)"
                    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO UPDATE SET n = n + excluded.n",
    [SQ_ROLL_TIDY] = "DELETE FROM mroll WHERE n <= 0",
#define ROLL_COLUMNS "SELECT minute, name, source, status, kind, bucket, n FROM mroll"
    [SQ_ROLL_SCAN] = ROLL_COLUMNS " WHERE tenant = ?1 AND minute >= ?2 AND minute < ?3 AND n > 0",
    [SQ_ROLL_SCAN_NAME] = ROLL_COLUMNS " WHERE tenant = ?1 AND minute >= ?2 AND minute < ?3 AND n > 0 AND name = ?4",
    [SQ_MSPAN_DELETE] = "DELETE FROM mspans WHERE tenant = ?1 AND start_ns = ?2 AND span = ?3",
    [SQ_SPAN_OLD] = "SELECT id, body, source FROM spans WHERE trace = ?1 AND span_id = ?2",
#define MSPAN_COLUMNS "SELECT start_ns, span, trace, dur_ns, status, kind, name, source FROM mspans"
    [SQ_MSPAN_SCAN] = MSPAN_COLUMNS " WHERE tenant = ?1 AND start_ns >= ?2 AND start_ns < ?3 LIMIT ?5",
    [SQ_MSPAN_SCAN_NAME] = MSPAN_COLUMNS " WHERE tenant = ?1 AND start_ns >= ?2 AND start_ns < ?3 AND name = ?4 LIMIT ?5",
    [SQ_SPAN_IDS] = "SELECT t.trace_id, s.span_id FROM spans s JOIN traces t ON t.id = s.trace WHERE s.id = ?1",
    [SQ_DICT_ADD] = "INSERT INTO dicts(bytes) VALUES(?1)",
    [SQ_DICT_GET] = "SELECT bytes FROM dicts WHERE id = ?1",
    [SQ_SPAN_BODY] = "SELECT body FROM spans WHERE id = ?1",
    [SQ_NAME_GET] = "SELECT id FROM names WHERE name = ?1",
    [SQ_NAME_ADD] = "INSERT INTO names(name) VALUES(?1)",
    [SQ_NAME_TEXT] = "SELECT name FROM names WHERE id = ?1",
    /* Span names are counted in mroll as long as a span has them; service
     * names are only in roots (few, and found in its first rows). */
    [SQ_RET_NAMES] = "DELETE FROM names WHERE id NOT IN (SELECT name FROM mroll)"
                     " AND NOT EXISTS (SELECT 1 FROM roots r WHERE r.service = names.id)"
                     " AND NOT EXISTS (SELECT 1 FROM roots r WHERE r.name = names.id)",
};

int sdb__fail(sdb *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->err, sizeof db->err, fmt, ap);
    va_end(ap);
    return -1;
}

int sdb__sqlfail(sdb *db, const char *what)
{
    /* SQLite says "disk I/O error" when the WAL cannot grow or be created
     * and "database or disk is full" elsewhere: name the cause either way;
     * and only "unable to open database file": name the OS reason too. */
    int code = sqlite3_errcode(db->conn) & 0xff, sys = db->conn ? sqlite3_system_errno(db->conn) : 0;
    if (code == SQLITE_FULL || sys == ENOSPC || sys == EDQUOT) {
        const char *slash = strrchr(db->path, '/');
        int dirlen = slash ? (int)(slash - db->path) : 1;
        return sdb__fail(db, "%s: %s: disk full: no space left in the data directory %.*s (%s%s%s)", db->path, what,
                         dirlen, slash ? db->path : ".", sqlite3_errmsg(db->conn), sys ? ": " : "",
                         sys ? strerror(sys) : "");
    }
    if (sys && (code == SQLITE_CANTOPEN || code == SQLITE_IOERR || code == SQLITE_READONLY || code == SQLITE_PERM))
        return sdb__fail(db, "%s: %s: %s (%s)", db->path, what, sqlite3_errmsg(db->conn), strerror(sys));
    return sdb__fail(db, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->conn));
}

sqlite3_stmt *sdb__stmt(sdb *db, int which)
{
    sqlite3_stmt *st = db->stmt[which];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

const char *sdb_errmsg(const sdb *db)
{
    return db->err;
}

const char *sdb_path(const sdb *db)
{
    return db->path;
}

const sdb_stats *sdb_get_stats(const sdb *db)
{
    return &db->stats;
}

int sdb_tenant_check(const char *tenant, size_t len, char *why, size_t whylen)
{
    if (len == 0) {
        snprintf(why, whylen, "X-Scope-OrgID \"\": a tenant id must not be empty");
        return -1;
    }
    if (len > SDB_TENANT_MAX) {
        snprintf(why, whylen, "X-Scope-OrgID \"%.40s…\": longer than %d bytes (%zu)", tenant, SDB_TENANT_MAX, len);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)tenant[i];
        if (c < 0x21 || c > 0x7e) {
            snprintf(why, whylen, "X-Scope-OrgID \"%.*s\": byte %zu (0x%02x) is not a printable ASCII character",
                     (int)(len < 60 ? len : 60), tenant, i, c);
            return -1;
        }
    }
    return 0;
}

int64_t sdb__tenant_id(sdb *db, const char *name, int create)
{
    if (!name) name = SDB_DEFAULT_TENANT;
    sdb_tenant_entry *e;
    HASH_FIND_STR(db->tenants, name, e);
    if (e) return e->id;
    sqlite3_stmt *st = sdb__stmt(db, SQ_TENANT_GET);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int64_t id = 0;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
    } else if (rc != SQLITE_DONE) {
        return sdb__sqlfail(db, "looking up a tenant");
    } else if (create) {
        st = sdb__stmt(db, SQ_TENANT_ADD);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) return sdb__sqlfail(db, "adding a tenant");
        id = sqlite3_last_insert_rowid(db->conn);
    }
    sqlite3_reset(st);
    /* Only cache ids that exist: a tenant created inside a transaction that
     * later rolls back is dropped from the cache by the writer. */
    if (id > 0) {
        e = ex_calloc(1, sizeof *e);
        if (!e || !(e->name = ex_strdup(name))) {
            ex_free(e);
            return sdb__fail(db, "out of memory");
        }
        e->id = id;
        HASH_ADD_KEYPTR(hh, db->tenants, e->name, strlen(e->name), e);
    }
    return id;
}

/* Forget cached tenants (after a rollback, an id may no longer exist). */
void sdb__tenants_cache_clear(sdb *db)
{
    sdb_tenant_entry *e, *tmp;
    HASH_ITER(hh, db->tenants, e, tmp) {
        HASH_DEL(db->tenants, e);
        ex_free(e->name);
        ex_free(e);
    }
}

/* Whether table has column (of declared type `type` unless NULL). */
static int column_is(sdb *db, const char *table, const char *column, const char *type)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->conn, "SELECT type FROM pragma_table_info(?1) WHERE name = ?2", -1, &st, NULL) !=
        SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
    int yes = sqlite3_step(st) == SQLITE_ROW &&
              (!type || strcasecmp((const char *)sqlite3_column_text(st, 0), type) == 0);
    sqlite3_finalize(st);
    return yes;
}

/* Create or check the schema. 0 or -1. */
static int schema_init(sdb *db)
{
    char *msg = NULL;
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(db->conn, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return sdb__sqlfail(db, "reading the schema version");
    if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > SDB_SCHEMA_VERSION)
        return sdb__fail(db, "%s: schema version %d is newer than this program's (%d)", db->path, version,
                         SDB_SCHEMA_VERSION);
    db->roots_missing = version == 1;
    db->mspans_missing = version >= 1 && version < 3;
    int texts_roots = version >= 2 && column_is(db, "roots", "name", "TEXT");
    int texts_mspans = version >= 3 && column_is(db, "mspans", "name", "TEXT");
    int attrs = version >= 3 && !texts_mspans && column_is(db, "mspans", "attrs", NULL);
    int statuses = version >= 1 && !column_is(db, "traces", "statuses", NULL);
    size_t cap = sizeof migrate_statuses + sizeof schema_sql + sizeof migrate_v3 + sizeof migrate_v3_attrs +
                 sizeof migrate_names_roots_pre + sizeof migrate_names_roots_post + sizeof migrate_names_mspans_pre +
                 sizeof migrate_names_mspans_post + sizeof migrate_end_index + 128;
    char *sql = ex_malloc(cap);
    if (!sql) return sdb__fail(db, "out of memory");
    snprintf(sql, cap, "BEGIN; %s %s %s %s %s %s %s %s %s PRAGMA user_version = %d; COMMIT;",
             statuses ? migrate_statuses : "", version == 3 ? migrate_v3 : "", attrs ? migrate_v3_attrs : "",
             texts_roots ? migrate_names_roots_pre : "", texts_mspans ? migrate_names_mspans_pre : "", schema_sql,
             texts_roots ? migrate_names_roots_post : "", texts_mspans ? migrate_names_mspans_post : "",
             migrate_end_index, SDB_SCHEMA_VERSION);
    int rc = sqlite3_exec(db->conn, sql, NULL, NULL, &msg);
    ex_free(sql);
    if (rc != SQLITE_OK) {
        sdb__fail(db, "%s: creating the schema: %s", db->path, msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

static int pragmas(sdb *db)
{
    /* WAL: readers never block the writer and a commit is one append to the
     * log. synchronous=NORMAL: the log is written (not fsynced) before
     * COMMIT returns, which survives a killed process; see docs/store.md.
     * No automatic checkpoints: the checkpointer thread does them. */
    static const char *const list[] = {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL",
                                       "PRAGMA cache_size = -32768", "PRAGMA temp_store = MEMORY",
                                       "PRAGMA busy_timeout = 5000", "PRAGMA wal_autocheckpoint = 0",
                                       "PRAGMA journal_size_limit = 67108864"};
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db->conn, list[i], -1, &st, NULL) != SQLITE_OK) return sdb__sqlfail(db, list[i]);
        int rc = sqlite3_step(st);
        if (i == 0 && rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
            sqlite3_finalize(st);
            return sdb__fail(db, "%s: the file system does not support WAL mode", db->path);
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sdb__sqlfail(db, list[i]);
    }
    return 0;
}

/* ---- checkpoints ----------------------------------------------------------- */

static void *checkpointer(void *arg)
{
    sdb *db = arg;
    pthread_mutex_lock(&db->ckpt_lock);
    for (;;) {
        while (!db->ckpt_wanted && !db->ckpt_stop) pthread_cond_wait(&db->ckpt_cond, &db->ckpt_lock);
        if (db->ckpt_stop) break;
        db->ckpt_wanted = 0;
        pthread_mutex_unlock(&db->ckpt_lock);
        /* PASSIVE copies what is committed into the database file without
         * blocking the writer. Under steady writes new frames keep coming,
         * so RESTART then copies the few left, holding writers off only
         * for that and its fsync, and makes the next write start the WAL
         * from its beginning (its size stays bounded). */
        sqlite3_wal_checkpoint_v2(db->ckpt_conn, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        sqlite3_wal_checkpoint_v2(db->ckpt_conn, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
        pthread_mutex_lock(&db->ckpt_lock);
    }
    pthread_mutex_unlock(&db->ckpt_lock);
    return NULL;
}

/* sqlite3_wal_hook: runs on the writer after each commit. */
static int wal_hook(void *arg, sqlite3 *conn, const char *name, int pages)
{
    sdb *db = arg;
    if (pages >= SDB__WAL_FORCE_PAGES) {
        db->ckpt_forced++;
        sqlite3_wal_checkpoint_v2(conn, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
    } else if (pages >= SDB__WAL_CHECKPOINT_PAGES) {
        pthread_mutex_lock(&db->ckpt_lock);
        db->ckpt_wanted = 1;
        pthread_cond_signal(&db->ckpt_cond);
        pthread_mutex_unlock(&db->ckpt_lock);
    }
    return SQLITE_OK;
}

static int checkpointer_start(sdb *db)
{
    if (sqlite3_open_v2(db->path, &db->ckpt_conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        return sdb__fail(db, "%s: opening the checkpoint connection: %s", db->path,
                         db->ckpt_conn ? sqlite3_errmsg(db->ckpt_conn) : "out of memory");
    sqlite3_busy_timeout(db->ckpt_conn, 5000);
    sqlite3_exec(db->ckpt_conn, "PRAGMA wal_autocheckpoint = 0", NULL, NULL, NULL);
    if (pthread_create(&db->ckpt_thread, NULL, checkpointer, db) != 0)
        return sdb__fail(db, "%s: cannot start the checkpoint thread", db->path);
    db->ckpt_started = 1;
    sqlite3_wal_hook(db->conn, wal_hook, db);
    return 0;
}

static void checkpointer_stop(sdb *db)
{
    if (db->ckpt_started) {
        pthread_mutex_lock(&db->ckpt_lock);
        db->ckpt_stop = 1;
        pthread_cond_signal(&db->ckpt_cond);
        pthread_mutex_unlock(&db->ckpt_lock);
        pthread_join(db->ckpt_thread, NULL);
        db->ckpt_started = 0;
    }
    if (db->ckpt_conn) sqlite3_close(db->ckpt_conn);
    db->ckpt_conn = NULL;
}

int sdb__trace_max_load(sdb *db)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->conn, "SELECT max(id) FROM traces", -1, &st, NULL) != SQLITE_OK)
        return sdb__sqlfail(db, "reading the last trace");
    if (sqlite3_step(st) == SQLITE_ROW) db->trace_max_rowid = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

static int load_max_trace(sdb *db)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->conn, "SELECT max(end_ns - start_ns) FROM traces", -1, &st, NULL) != SQLITE_OK)
        return sdb__sqlfail(db, "reading trace durations");
    if (sqlite3_step(st) == SQLITE_ROW) db->max_trace_ns = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return 0;
}

/* A zeroed sdb with its checkpoint lock set up, or NULL ("out of memory" in err). */
/* Before SQLite's first use: no allocation statistics. With them every
 * sqlite3_malloc/free takes a global mutex (6% of the ingest's CPU in
 * perf, bench/README.md); nothing here reads them. Too late (SQLite
 * already initialised by someone else) is harmless: the call fails. */
static void sqlite_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static sdb *db_new(char *err, size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_setup);
    sdb *db = ex_calloc(1, sizeof *db);
    if (!db) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&db->ckpt_lock, NULL);
    pthread_cond_init(&db->ckpt_cond, NULL);
    return db;
}

/* Prepare every statement of stmt_sql on db->conn; 0, or -1 with db->err set. */
static int prepare_statements(sdb *db)
{
    for (int i = 0; i < SQ_COUNT; i++) {
        if (sqlite3_prepare_v3(db->conn, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &db->stmt[i], NULL) !=
            SQLITE_OK) {
            sdb__sqlfail(db, stmt_sql[i]);
            return -1;
        }
    }
    return 0;
}

sdb *sdb_open(const char *dir, char *err, size_t errlen)
{
    sdb *db = db_new(err, errlen);
    if (!db) return NULL;
    if (sdl_mkdir_p(dir, err, errlen) != 0) goto fail_quiet;
    size_t n = strlen(dir) + sizeof "/traces.db";
    if (!(db->path = ex_malloc(n))) goto fail_oom;
    snprintf(db->path, n, "%s/traces.db", dir);
    if (sqlite3_open_v2(db->path, &db->conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        sdb__sqlfail(db, "opening");
        goto fail;
    }
    sqlite3_extended_result_codes(db->conn, 1);
    if (pragmas(db) != 0 || schema_init(db) != 0 || load_max_trace(db) != 0) goto fail;
    if (prepare_statements(db) != 0) goto fail;
    if (sdb__dict_load(db) != 0) goto fail;
    if (db->roots_missing && sdb__roots_backfill(db) < 0) goto fail;
    if (db->mspans_missing && sdb__mspans_backfill(db) < 0) goto fail;
    if (sdb__trace_max_load(db) < 0) goto fail;
    if (checkpointer_start(db) != 0 || sdb__bloom_load(db) != 0) goto fail;
    return db;
fail_oom:
    snprintf(db->err, sizeof db->err, "out of memory");
fail:
    snprintf(err, errlen, "%s", db->err);
fail_quiet:
    sdb_close(db);
    return NULL;
}

sdb *sdb_open_reader(const sdb *writer, char *err, size_t errlen)
{
    sdb *db = db_new(err, errlen);
    if (!db) return NULL;
    db->writer = writer;
    if (!(db->path = ex_strdup(writer->path))) {
        snprintf(db->err, sizeof db->err, "out of memory");
        goto fail;
    }
    /* Read-only: WAL lets it read committed data while the writer writes;
     * TEMP tables (the attribute search's) are still allowed. */
    if (sqlite3_open_v2(db->path, &db->conn, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        sdb__sqlfail(db, "opening a reader");
        goto fail;
    }
    sqlite3_extended_result_codes(db->conn, 1);
    if (sqlite3_exec(db->conn, "PRAGMA busy_timeout = 5000; PRAGMA cache_size = -32768; PRAGMA temp_store = MEMORY",
                     NULL, NULL, NULL) != SQLITE_OK) {
        sdb__sqlfail(db, "setting up a reader");
        goto fail;
    }
    if (prepare_statements(db) != 0) goto fail;
    return db;
fail:
    snprintf(err, errlen, "%s", db->err);
    sdb_close(db);
    return NULL;
}

void sdb_close(sdb *db)
{
    if (!db) return;
    checkpointer_stop(db);
    for (int i = 0; i < SQ_COUNT; i++) sqlite3_finalize(db->stmt[i]);
    if (db->conn) sqlite3_close(db->conn);
    sdb__tenants_cache_clear(db);
    sdb__sources_cache_clear(db);
    sdb__tags_cache_clear(db);
    sdb__names_cache_clear(db);
    ex_free(db->buf);
    ex_free(db->mspan_rows);
    sdb__dict_free(db);
    ex_free(db->bloom);
    ex_free(db->path);
    pthread_mutex_destroy(&db->ckpt_lock);
    pthread_cond_destroy(&db->ckpt_cond);
    ex_free(db);
}
