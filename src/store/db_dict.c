/* db_dict.c — span bodies compressed with the store's dictionary
 * (schema 4; the format is in body.h, the reasoning in docs/store.md).
 *
 * A store starts without a dictionary and keeps its first spans' bodies
 * as they are, keeping a copy of each as a sample. Once it has
 * SDB__DICT_SAMPLES of them (or SDB__DICT_SAMPLE_BYTES), it trains a zstd
 * dictionary on them, stores it in `dicts` inside the request's
 * transaction, and compresses every body from then on. Dictionaries are
 * never changed nor deleted, so a reader caches each one it meets by id. */
#include <stdio.h>
#include <string.h>
#include <zdict.h>

#include "core/mem.h"
#include "store/body.h"
#include "store/db_internal.h"

struct sdb_dict_entry {
    uint32_t id;
    ZSTD_DDict *dd;
};

void sdb_set_dict_samples(sdb *db, size_t n)
{
    db->dict_after = n ? n : 1;
}

static void samples_free(sdb *db)
{
    ex_free(db->samples);
    ex_free(db->sample_sizes);
    db->samples = NULL;
    db->sample_sizes = NULL;
    db->samples_len = db->samples_cap = db->nsamples = 0;
}

void sdb__dict_free(sdb *db)
{
    ZSTD_freeCDict(db->cdict);
    db->cdict = NULL;
    db->cdict_id = 0;
    for (size_t i = 0; i < db->nddicts; i++) ZSTD_freeDDict(db->ddicts[i].dd);
    ex_free(db->ddicts);
    db->ddicts = NULL;
    db->nddicts = 0;
    samples_free(db);
    ZSTD_freeCCtx(db->zc);
    ZSTD_freeDCtx(db->zd);
    db->zc = NULL;
    db->zd = NULL;
    ex_free(db->zbuf);
    ex_free(db->dbuf);
    db->zbuf = db->dbuf = NULL;
    db->zcap = db->dcap = 0;
}

/* The contexts, made on first use. 0 or -1. */
static int contexts(sdb *db)
{
    if (!db->zd && (!(db->zd = ZSTD_createDCtx()) || sdb_body_dctx_init(db->zd) != 0))
        return sdb__fail(db, "out of memory (zstd)");
    if (!db->writer && !db->zc && (!(db->zc = ZSTD_createCCtx()) || sdb_body_cctx_init(db->zc, SDB__BODY_LEVEL) != 0))
        return sdb__fail(db, "out of memory (zstd)");
    return 0;
}

int sdb__dict_load(sdb *db)
{
    ZSTD_freeCDict(db->cdict);
    db->cdict = NULL;
    db->cdict_id = 0;
    samples_free(db);
    if (!db->dict_after) db->dict_after = SDB__DICT_SAMPLES;
    if (contexts(db) != 0) return -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->conn, "SELECT id, bytes FROM dicts ORDER BY id DESC LIMIT 1", -1, &st, NULL) !=
        SQLITE_OK)
        return sdb__sqlfail(db, "reading the body dictionary");
    int rc = sqlite3_step(st), r = 0;
    if (rc == SQLITE_ROW) {
        db->cdict = ZSTD_createCDict(sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
                                     SDB__BODY_LEVEL);
        db->cdict_id = (uint32_t)sqlite3_column_int64(st, 0);
        if (!db->cdict) r = sdb__fail(db, "%s: the body dictionary %u does not load", db->path, db->cdict_id);
    } else if (rc != SQLITE_DONE) {
        r = sdb__sqlfail(db, "reading the body dictionary");
    }
    sqlite3_finalize(st);
    return r;
}

/* Train on the samples and store the dictionary (in the open
 * transaction). 0 or -1. */
static int train(sdb *db)
{
    uint8_t *dict = ex_malloc(SDB__DICT_BYTES);
    if (!dict) return sdb__fail(db, "out of memory (dictionary)");
    size_t n = ZDICT_trainFromBuffer(dict, SDB__DICT_BYTES, db->samples, db->sample_sizes, (unsigned)db->nsamples);
    if (ZDICT_isError(n)) { /* too few or too alike samples: their last bytes as they are */
        n = db->samples_len < SDB__DICT_BYTES ? db->samples_len : SDB__DICT_BYTES;
        memcpy(dict, db->samples + db->samples_len - n, n);
    }
    int r = 0;
    sqlite3_stmt *st = sdb__stmt(db, SQ_DICT_ADD);
    sqlite3_bind_blob(st, 1, dict, (int)n, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) r = sdb__sqlfail(db, "storing the body dictionary");
    sqlite3_reset(st);
    if (r == 0) {
        db->cdict_id = (uint32_t)sqlite3_last_insert_rowid(db->conn);
        if (!(db->cdict = ZSTD_createCDict(dict, n, SDB__BODY_LEVEL))) r = sdb__fail(db, "out of memory (dictionary)");
    }
    ex_free(dict);
    samples_free(db);
    return r;
}

/* Keep a copy of a raw body as a training sample. 0 or -1. */
static int sample(sdb *db, const uint8_t *raw, size_t n)
{
    if (db->samples_len + n > db->samples_cap) {
        size_t cap = db->samples_cap ? db->samples_cap : 65536;
        while (cap < db->samples_len + n) cap *= 2;
        uint8_t *p = ex_realloc(db->samples, cap);
        if (!p) return sdb__fail(db, "out of memory (dictionary samples)");
        db->samples = p;
        db->samples_cap = cap;
    }
    size_t *sz = ex_realloc(db->sample_sizes, (db->nsamples + 1) * sizeof *sz);
    if (!sz) return sdb__fail(db, "out of memory (dictionary samples)");
    db->sample_sizes = sz;
    memcpy(db->samples + db->samples_len, raw, n);
    db->samples_len += n;
    sz[db->nsamples++] = n;
    if (db->nsamples >= db->dict_after || db->samples_len >= SDB__DICT_SAMPLE_BYTES) return train(db);
    return 0;
}

const uint8_t *sdb__body_pack(sdb *db, const uint8_t *raw, size_t n, size_t *outlen)
{
    uint8_t *form = (uint8_t *)raw - 1;
    *form = SDB_BODY_REL;
    if (!db->cdict) {
        if (n < SDB_BODY_MAX && sample(db, raw, n) != 0) return NULL;
        *outlen = n + 1;
        return form; /* until there is a dictionary (also for the sample that made it) */
    }
    long z = sdb_body_encode_form(db->zc, db->cdict, db->cdict_id, SDB_BODY_ZREL, raw, n, &db->zbuf, &db->zcap);
    if (z < 0) {
        sdb__fail(db, "compressing a span body of %zu bytes failed", n);
        return NULL;
    }
    if ((size_t)z > n) { /* nothing gained: as it is */
        *outlen = n + 1;
        return form;
    }
    *outlen = (size_t)z;
    return db->zbuf;
}

/* body.h's lookup: the cached dictionary of id, read on first use. */
static const ZSTD_DDict *ddict(void *arg, uint32_t id)
{
    sdb *db = arg;
    for (size_t i = 0; i < db->nddicts; i++)
        if (db->ddicts[i].id == id) return db->ddicts[i].dd;
    sqlite3_stmt *st = sdb__stmt(db, SQ_DICT_GET);
    sqlite3_bind_int64(st, 1, id);
    ZSTD_DDict *dd = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        dd = ZSTD_createDDict(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    sqlite3_reset(st);
    sdb_dict_entry *p = dd ? ex_realloc(db->ddicts, (db->nddicts + 1) * sizeof *p) : NULL;
    if (!p) {
        ZSTD_freeDDict(dd);
        return NULL;
    }
    db->ddicts = p;
    p[db->nddicts++] = (sdb_dict_entry){id, dd};
    return dd;
}

int sdb__body_raw(sdb *db, const void *blob, size_t len, const uint8_t **raw, size_t *rawlen)
{
    char why[256];
    if (contexts(db) != 0) return -1;
    if (sdb_body_decode(db->zd, ddict, db, blob, len, &db->dbuf, &db->dcap, raw, rawlen, why, sizeof why) != 0)
        return sdb__fail(db, "%s: %s", db->path, why);
    return 0;
}

exo_pb_span *sdb__body_unpack(sdb *db, const void *blob, size_t len)
{
    const uint8_t *raw;
    size_t n;
    if (sdb__body_raw(db, blob, len, &raw, &n) != 0) return NULL;
    exo_pb_span *s = opentelemetry__proto__trace__v1__span__unpack(&exo_pb_allocator, n, raw);
    if (!s) sdb__fail(db, "%s: a stored span body (%zu bytes) is not a protobuf Span", db->path, n);
    else if (sdb_body_relative(blob, len)) sdb_body_times(s, 0);
    return s;
}
