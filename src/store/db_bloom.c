/* db_bloom.c — attribute Bloom filters: for each chunk of
 * SDB__BLOOM_CHUNK consecutive span rowids, one filter of the (tenant,
 * key, string value) of their span attributes.
 *
 * Spans are appended in rowid order, so the filter being filled is always
 * the last chunk's: it lives in memory and is written at every commit
 * (one row of SDB__BLOOM_BYTES). A span replaced in place keeps its old
 * rowid; its values are added to its own, older, chunk's row. Filters only
 * grow: a replaced value stays set, which costs a false candidate, never a
 * missed one. An equality search tests each chunk's filter and reads only
 * the spans of the chunks that may hold the value (db_read.c). With 16 KiB
 * per 4096 spans (4 bytes a span) and k = 6, a chunk whose spans carry
 * 16k distinct values answers "maybe" for an absent one about 2% of the
 * time. */
#include <string.h>
#include <xxhash.h>

#include "core/mem.h"
#include "store/db_internal.h"

#define NBITS ((uint32_t)SDB__BLOOM_BYTES * 8u)

void sdb__bloom_bits(int64_t tenant, const char *key, const char *value, size_t vlen, uint32_t pos[SDB__BLOOM_K])
{
    uint64_t seed = XXH3_64bits_withSeed(key, strlen(key), (uint64_t)tenant);
    uint64_t h = XXH3_64bits_withSeed(value, vlen, seed);
    /* Kirsch–Mitzenmacher: k positions from two halves of one hash. */
    uint32_t h1 = (uint32_t)h, h2 = (uint32_t)(h >> 32) | 1u;
    for (uint32_t i = 0; i < SDB__BLOOM_K; i++) pos[i] = (h1 + i * h2) % NBITS;
}

int sdb__bloom_test(const uint8_t *bits, const uint32_t pos[SDB__BLOOM_K])
{
    for (int i = 0; i < SDB__BLOOM_K; i++)
        if (!(bits[pos[i] >> 3] & (1u << (pos[i] & 7)))) return 0;
    return 1;
}

static void set_bits(uint8_t *bits, const uint32_t pos[SDB__BLOOM_K])
{
    for (int i = 0; i < SDB__BLOOM_K; i++) bits[pos[i] >> 3] |= (uint8_t)(1u << (pos[i] & 7));
}

/* Read chunk's stored bits into out (zeros when it has no row). 0 or -1. */
static int read_chunk(sdb *db, int64_t chunk, uint8_t *out)
{
    memset(out, 0, SDB__BLOOM_BYTES);
    sqlite3_stmt *st = sdb__stmt(db, SQ_BLOOM_GET);
    sqlite3_bind_int64(st, 1, chunk);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == SDB__BLOOM_BYTES)
        memcpy(out, sqlite3_column_blob(st, 0), SDB__BLOOM_BYTES);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sdb__sqlfail(db, "reading an attribute bloom");
}

static int write_chunk(sdb *db, int64_t chunk, const uint8_t *bits)
{
    sqlite3_stmt *st = sdb__stmt(db, SQ_BLOOM_PUT);
    sqlite3_bind_int64(st, 1, chunk);
    sqlite3_bind_blob(st, 2, bits, SDB__BLOOM_BYTES, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sdb__sqlfail(db, "writing an attribute bloom");
}

int sdb__bloom_load(sdb *db)
{
    if (!db->bloom && !(db->bloom = ex_malloc(SDB__BLOOM_BYTES))) return sdb__fail(db, "out of memory");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->conn, "SELECT coalesce(max(id), 0) + 1 FROM spans", -1, &st, NULL) != SQLITE_OK)
        return sdb__sqlfail(db, "finding the last span");
    int64_t next = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 1;
    sqlite3_finalize(st);
    db->bloom_chunk = next / SDB__BLOOM_CHUNK;
    db->bloom_dirty = 0;
    return read_chunk(db, db->bloom_chunk, db->bloom);
}

int sdb__bloom_flush(sdb *db)
{
    if (!db->bloom_dirty) return 0;
    if (write_chunk(db, db->bloom_chunk, db->bloom) != 0) return -1;
    db->bloom_dirty = 0;
    return 0;
}

/* The bits of a span's string attributes, OR-ed into bits. */
static void span_bits(int64_t tenant, const exo_pb_span *span, uint8_t *bits)
{
    uint32_t pos[SDB__BLOOM_K];
    for (size_t i = 0; i < span->n_attributes; i++) {
        const exo_pb_kv *kv = span->attributes[i];
        if (!kv->key || !kv->value ||
            kv->value->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
            continue;
        const char *v = kv->value->string_value ? kv->value->string_value : "";
        sdb__bloom_bits(tenant, kv->key, v, strlen(v), pos);
        set_bits(bits, pos);
    }
}

int sdb__bloom_add_span(sdb *db, int64_t tenant, int64_t rowid, const exo_pb_span *span)
{
    if (!db->bloom && sdb__bloom_load(db) != 0) return -1;
    int64_t chunk = rowid / SDB__BLOOM_CHUNK;
    if (chunk < db->bloom_chunk) {
        /* A replaced span in an older chunk: update that chunk's row. */
        uint8_t *old = ex_malloc(SDB__BLOOM_BYTES);
        if (!old) return sdb__fail(db, "out of memory");
        int rc = read_chunk(db, chunk, old);
        if (rc == 0) {
            span_bits(tenant, span, old);
            rc = write_chunk(db, chunk, old);
        }
        ex_free(old);
        return rc;
    }
    if (chunk > db->bloom_chunk) {
        if (sdb__bloom_flush(db) != 0) return -1;
        memset(db->bloom, 0, SDB__BLOOM_BYTES);
        db->bloom_chunk = chunk;
    }
    span_bits(tenant, span, db->bloom);
    db->bloom_dirty = 1;
    return 0;
}
