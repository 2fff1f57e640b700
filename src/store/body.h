/* body.h — the stored form of a span body (schema 4, docs/store.md):
 *
 *   raw:        the protobuf Span itself (empty, or a first byte that is
 *               never 0: a field tag). Schema 3 bodies, and the spans a
 *               store keeps before it has a dictionary.
 *   compressed: 0x00, the dictionary id (varint, 0 = none), the length of
 *               the protobuf Span (varint), then one zstd frame without
 *               magic number, checksum, content size or dictionary id
 *               (those 9–13 bytes a span are in the header or implied).
 *
 * Pure: the caller owns the zstd contexts and the dictionaries. */
#ifndef EXTRACE_STORE_BODY_H
#define EXTRACE_STORE_BODY_H
#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

/* Largest decoded body accepted (a span is never larger than a request). */
#define SDB_BODY_MAX ((size_t)64 << 20)

/* Set the frame parameters of the compressed form on a context (once). 0 or -1. */
int sdb_body_cctx_init(ZSTD_CCtx *cctx, int level);
int sdb_body_dctx_init(ZSTD_DCtx *dctx);

/* Compress raw[0..n) with cdict (id dict_id; NULL and 0: none) into
 * *out (grown with ex_realloc, capacity *cap). The stored length, or -1
 * (out of memory or a zstd error). */
long sdb_body_encode(ZSTD_CCtx *cctx, const ZSTD_CDict *cdict, uint32_t dict_id, const uint8_t *raw, size_t n,
                     uint8_t **out, size_t *cap);

/* The dictionary of an id (never 0), or NULL when unknown. */
typedef const ZSTD_DDict *(*sdb_body_dict_fn)(void *arg, uint32_t id);

/* Decode a stored body: *raw and *rawlen are the protobuf Span, either
 * in[0..len) itself or *buf (grown with ex_realloc, capacity *cap).
 * 0, or -1 with why (NUL-terminated, names what is wrong). */
int sdb_body_decode(ZSTD_DCtx *dctx, sdb_body_dict_fn dict, void *arg, const uint8_t *in, size_t len, uint8_t **buf,
                    size_t *cap, const uint8_t **raw, size_t *rawlen, char *why, size_t whylen);

#endif
