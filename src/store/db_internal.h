/* db_internal.h — what db.c (open, writer, retention), db_read.c (reader)
 * and db_tags.c (tag index) share. Not for use outside src/store/db*.c. */
#ifndef EXTRACE_STORE_DB_INTERNAL_H
#define EXTRACE_STORE_DB_INTERNAL_H
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <zstd.h>

#include "store/db.h"

/* Prepared statements, by purpose. */
enum {
    SQ_BEGIN,
    SQ_COMMIT,
    SQ_ROLLBACK,
    SQ_TENANT_GET,
    SQ_TENANT_ADD,
    SQ_SOURCE_FIND,
    SQ_SOURCE_ADD,
    SQ_TRACE_ADD,
    SQ_TRACE_MERGE,
    SQ_SPAN_ADD,
    SQ_SPAN_SET,
    SQ_TRACE_GET,
    SQ_TRACE_SPANS,
    SQ_SOURCE_GET,
    SQ_KEY_GET,
    SQ_KEY_ADD,
    SQ_KEY_TOUCH,
    SQ_VALUE_ADD,
    SQ_VALUE_TOUCH,
    SQ_VALUE_COUNT,
    SQ_RET_TRACES,
    SQ_RET_SPANS,
    SQ_RET_TRACE,
    SQ_RET_VALUES,
    SQ_RET_KEYS,
    SQ_RET_SOURCES,
    SQ_BLOOM_GET,
    SQ_BLOOM_PUT,
    SQ_RET_BLOOMS,
    SQ_ROOT_UPSERT,
    SQ_MSPAN_ADD,
    SQ_MSPAN_DELETE,
    SQ_SPAN_OLD,
    SQ_ROLL_ADD,
    SQ_ROLL_TIDY,
    SQ_ROLL_SCAN,
    SQ_ROLL_SCAN_NAME,
    SQ_MSPAN_SCAN,
    SQ_MSPAN_SCAN_NAME,
    SQ_SPAN_IDS,
    SQ_DICT_ADD,
    SQ_DICT_GET,
    SQ_SPAN_BODY,
    SQ_NAME_GET,
    SQ_NAME_ADD,
    SQ_NAME_TEXT,
    SQ_RET_NAMES,
    SQ_COUNT
};

typedef struct sdb_tenant_entry sdb_tenant_entry;
typedef struct sdb_source_entry sdb_source_entry;
typedef struct sdb_tag_entry sdb_tag_entry;
typedef struct sdb_mspan_row sdb_mspan_row;
typedef struct sdb_dict_entry sdb_dict_entry;
typedef struct sdb_name_entry sdb_name_entry;

struct sdb {
    sqlite3 *conn;                 /* the connection (owned) */
    sqlite3_stmt *stmt[SQ_COUNT];  /* prepared statements (owned) */
    char *path;                    /* database file path (owned) */
    char err[512];                 /* last error message */
    sdb_stats stats;               /* counters since open */
    int64_t max_trace_ns;          /* longest trace duration stored: bounds the range scan (written by the
                                      writer's thread with __atomic stores; see sdb__max_trace) */
    const sdb *writer;             /* a reader connection (sdb_open_reader): the writer it reads beside */
    const char *ingest_tenant;     /* the request being stored in pieces (sdb_ingest_begin), borrowed */
    int64_t ingest_tid;            /* its tenant id once its transaction is open, else 0 */
    sdb_tenant_entry *tenants;     /* cache: tenant name → id (uthash) */
    sdb_source_entry *sources;     /* cache: (resource, scope) bytes → source id (uthash) */
    sdb_tag_entry *tags;           /* cache: tag key / value → last time written (uthash) */
    sdb_name_entry *names_by_id;   /* cache: names.id → name (uthash, db_names.c) */
    sdb_name_entry *names_by_name; /* the writer's cache: name → names.id (the same entries) */
    size_t ntags;                  /* entries in the tag cache (bounded by SDB__TAG_CACHE_MAX) */
    uint8_t *buf;                  /* scratch buffer for packing (owned) */
    size_t bufcap;
    /* Checkpoints run on their own thread and connection (db.c), so the
     * loop never waits for their fsyncs. */
    sqlite3 *ckpt_conn;            /* the checkpointer's connection (owned) */
    pthread_t ckpt_thread;
    int ckpt_started;              /* the thread exists (join it on close) */
    pthread_mutex_t ckpt_lock;     /* guards the two flags below */
    pthread_cond_t ckpt_cond;
    int ckpt_wanted;               /* the WAL passed SDB__WAL_CHECKPOINT_PAGES */
    int ckpt_stop;                 /* sdb_close asks the thread to end */
    uint64_t ckpt_forced;          /* checkpoints the writer had to run itself */
    uint8_t *bloom;                /* bloom bits of the current chunk (SDB__BLOOM_BYTES, owned) */
    int64_t bloom_chunk;           /* the current chunk's number (span rowid / SDB__BLOOM_CHUNK) */
    int bloom_dirty;               /* bits set since the last write */
    int roots_missing;             /* opened at schema version 1: roots to fill (sdb__roots_backfill) */
    int mspans_missing;            /* opened below schema version 3: mspans to fill (sdb__mspans_backfill) */
    int64_t trace_max_rowid;       /* highest trace rowid written: a trace at or below it existed before, so
                                      its spans may be re-sent ones whose compact rows must go (db_write.c) */
    sdb_mspan_row *mspan_rows;     /* compact rows of the request part being stored (db_mspans.c; owned) */
    size_t nmspan_rows, capmspan_rows;
    /* Span bodies (db_dict.c, body.h). */
    ZSTD_CCtx *zc;                 /* the writer's compression context (owned) */
    ZSTD_DCtx *zd;                 /* decompression context (owned) */
    ZSTD_CDict *cdict;             /* the writer's dictionary, NULL until trained (owned) */
    uint32_t cdict_id;             /* its dicts.id */
    sdb_dict_entry *ddicts;        /* dictionaries met while reading, by id (owned) */
    size_t nddicts;
    uint8_t *zbuf, *dbuf;          /* the last body compressed / decompressed (owned) */
    size_t zcap, dcap;
    uint8_t *samples;              /* raw bodies kept to train the dictionary on (owned) */
    size_t samples_len, samples_cap;
    size_t *sample_sizes;          /* their lengths (owned) */
    size_t nsamples, dict_after;   /* kept so far; how many to train on */
};

/* WAL size (pages) at which the checkpointer thread is woken, and the
 * size at which the writer checkpoints itself (the thread fell behind:
 * bounds the WAL under sustained load). */
#define SDB__WAL_CHECKPOINT_PAGES 2000
#define SDB__WAL_FORCE_PAGES 16000

/* Most entries in the tag cache; past it new tag values are not recorded. */
#define SDB__TAG_CACHE_MAX 200000

/* The longest trace duration stored, as the writer knows it (readers ask
 * their writer, which may be on another thread). */
static inline int64_t sdb__max_trace(const sdb *db)
{
    return __atomic_load_n(&(db->writer ? db->writer : db)->max_trace_ns, __ATOMIC_ACQUIRE);
}

/* Set db->err from a format; returns -1. */
int sdb__fail(sdb *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Set db->err from SQLite's message for what failed; returns -1. */
int sdb__sqlfail(sdb *db, const char *what);
/* Reset and clear the bindings of a statement; returns it. */
sqlite3_stmt *sdb__stmt(sdb *db, int which);
/* The names.id of name (db_names.c); added when `create`. The id, 0 when
 * absent and not added, -1 on error. */
int64_t sdb__name_id(sdb *db, const char *name, int create);
/* The name of a names.id, valid until the next call on db; NULL with
 * db->err set. */
const char *sdb__name_text(sdb *db, int64_t id);
/* Forget cached names (after a rollback, or retention deleted some). */
void sdb__names_cache_clear(sdb *db);
/* Tenant id for name (NULL: default); create it when `create`. Returns
 * the id, 0 when absent and not created, -1 on error. */
int64_t sdb__tenant_id(sdb *db, const char *name, int create);

/* Forget cached tenants / sources (after a rollback or a deletion, a
 * cached id may no longer exist). */
void sdb__tenants_cache_clear(sdb *db);
void sdb__sources_cache_clear(sdb *db);
/* Make db->buf hold at least n bytes. 0 or -1. */
int sdb__reserve(sdb *db, size_t n);

/* Record the tags of one span (attributes of span, events, links, and its
 * name) seen at time last_ns. 0 or -1. */
int sdb__tags_span(sdb *db, int64_t tenant, const exo_pb_span *span, int64_t last_ns);
/* Record the attributes of a resource or scope (scope SDB_TAG_RESOURCE or
 * SDB_TAG_INSTRUMENTATION). 0 or -1. */
int sdb__tags_attrs(sdb *db, int64_t tenant, sdb_tag_scope scope, exo_pb_kv *const *attrs, size_t n,
                    int64_t last_ns);
/* Record the root span of a trace (db_roots.c): its row in roots is
 * replaced. 0 or -1. */
int sdb__root_store(sdb *db, int64_t tenant, int64_t trace, const exo_pb_span *span, const exo_pb_resource *res);
/* Fill roots for every trace with a root span but no roots row (a
 * database from schema version 1), in one transaction. Returns the number
 * of rows added, or -1. */
long sdb__roots_backfill(sdb *db);
/* Queue the compact row of span (rowid span, of trace, from source)
 * (db_mspans.c); sdb__mspans_flush writes the queue in key order (sp must
 * live until then). 0 or -1. */
int sdb__mspan_store(sdb *db, int64_t tenant, int64_t trace, int64_t span, int64_t source, const exo_pb_span *sp);
/* Write the queued rows (the last of a span queued twice). 0 or -1. */
int sdb__mspans_flush(sdb *db);
/* Forget the queued rows (after a failure). */
void sdb__mspans_drop(sdb *db);
/* Delete the compact row of span rowid span, whose stored body (the
 * protobuf Span) gives its start, and take it out of mroll. 0 or -1. */
int sdb__mspan_delete(sdb *db, int64_t tenant, int64_t span, int64_t source, const void *body, size_t len);
/* Set trace_max_rowid from the traces table. 0 or -1. */
int sdb__trace_max_load(sdb *db);
/* Fill mspans from every stored span (a database below schema version
 * 3), in one transaction. Returns the rows added, or -1. */
long sdb__mspans_backfill(sdb *db);
/* Attribute blooms (db_bloom.c): one Bloom filter of (tenant, key, string
 * value) per chunk of SDB__BLOOM_CHUNK consecutive span rowids. */
#define SDB__BLOOM_CHUNK 4096
#define SDB__BLOOM_BYTES 16384
#define SDB__BLOOM_K 6
/* Load the bloom of the chunk the next span goes to. 0 or -1. */
int sdb__bloom_load(sdb *db);
/* Add a stored span's string attributes to the bloom of its chunk. 0 or -1. */
int sdb__bloom_add_span(sdb *db, int64_t tenant, int64_t rowid, const exo_pb_span *span);
/* Write the current chunk's bloom if it changed (before COMMIT). 0 or -1. */
int sdb__bloom_flush(sdb *db);
/* Bit positions of (tenant, key, value). */
void sdb__bloom_bits(int64_t tenant, const char *key, const char *value, size_t vlen,
                     uint32_t pos[SDB__BLOOM_K]);
/* Whether every bit of pos is set in bits. */
int sdb__bloom_test(const uint8_t *bits, const uint32_t pos[SDB__BLOOM_K]);

/* Span bodies (db_dict.c). Training threshold, dictionary size, zstd level. */
#define SDB__DICT_SAMPLES 4096
#define SDB__DICT_SAMPLE_BYTES ((size_t)4 << 20)
#define SDB__DICT_BYTES 112640
#define SDB__BODY_LEVEL 3
/* Load the newest dictionary for compressing (the writer: at open and
 * after a rollback, which may have undone one just trained). 0 or -1. */
int sdb__dict_load(sdb *db);
/* Free the contexts, dictionaries and samples. */
void sdb__dict_free(sdb *db);
/* The stored form of a raw protobuf Span body with relative times
 * (body.h): raw - 1 (raw[-1] must be writable: it becomes the form byte)
 * or db->zbuf (valid until the next call); NULL with db->err set. */
const uint8_t *sdb__body_pack(sdb *db, const uint8_t *raw, size_t n, size_t *outlen);
/* The protobuf Span of a stored body: the blob itself or db->dbuf
 * (valid until the next call). 0, or -1 with db->err set. */
int sdb__body_raw(sdb *db, const void *blob, size_t len, const uint8_t **raw, size_t *rawlen);
/* A stored body unpacked, its times absolute (free with
 * protobuf_c_message_free_unpacked and exo_pb_allocator), or NULL with
 * db->err set. */
exo_pb_span *sdb__body_unpack(sdb *db, const void *blob, size_t len);

/* Forget every cached tag (after retention deleted rows). */
void sdb__tags_cache_clear(sdb *db);

#endif
