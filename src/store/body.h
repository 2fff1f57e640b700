/* body.h — the stored form of a span body (schemas 4 and 5, docs/store.md):
 *
 *   raw:        the protobuf Span itself (empty, or a first byte that is
 *               never 0, 1 or 2: a field tag of field 1 or more). Schema 3
 *               bodies, and the spans a schema 4 store kept before it had
 *               a dictionary.
 *   compressed: 0x00, the dictionary id (varint, 0 = none), the length of
 *               the protobuf Span (varint), then one zstd frame without
 *               magic number, checksum, content size or dictionary id
 *               (those 9–13 bytes a span are in the header or implied).
 *   0x01 + the compressed form's rest, 0x02 + a raw protobuf Span (schema
 *               5): the same, but the Span's times are relative: its end
 *               and its events' times minus its start (modulo 2^64, so
 *               any values come back exactly). A fixed64 time of a few
 *               seconds is mostly zero bytes, which zstd stores in almost
 *               nothing; an absolute one is 8 bytes of noise.
 *
 * Pure: the caller owns the zstd contexts and the dictionaries. */
#ifndef EXTRACE_STORE_BODY_H
#define EXTRACE_STORE_BODY_H
#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#include "otel/otlp_proto.h"

/* First bytes of the stored forms. */
#define SDB_BODY_Z 0    /* compressed, absolute times (schema 4) */
#define SDB_BODY_ZREL 1 /* compressed, relative times */
#define SDB_BODY_REL 2  /* raw, relative times */

/* Largest decoded body accepted (a span is never larger than a request). */
#define SDB_BODY_MAX ((size_t)64 << 20)

/* Set the frame parameters of the compressed form on a context (once). 0 or -1. */
int sdb_body_cctx_init(ZSTD_CCtx *cctx, int level);
int sdb_body_dctx_init(ZSTD_DCtx *dctx);

/* Compress raw[0..n) with cdict (id dict_id; NULL and 0: none) into
 * *out (grown with ex_realloc, capacity *cap), first byte form
 * (SDB_BODY_Z or SDB_BODY_ZREL). The stored length, or -1 (out of memory
 * or a zstd error). */
long sdb_body_encode(ZSTD_CCtx *cctx, const ZSTD_CDict *cdict, uint32_t dict_id, const uint8_t *raw, size_t n,
                     uint8_t **out, size_t *cap);
long sdb_body_encode_form(ZSTD_CCtx *cctx, const ZSTD_CDict *cdict, uint32_t dict_id, int form, const uint8_t *raw,
                          size_t n, uint8_t **out, size_t *cap);

/* Whether a stored body's Span has relative times (forms 1 and 2). */
int sdb_body_relative(const uint8_t *in, size_t len);

/* Make s's end and event times relative to its start (to = 1), or
 * absolute again (to = 0). The events are changed in place. */
void sdb_body_times(exo_pb_span *s, int to);

/* The dictionary of an id (never 0), or NULL when unknown. */
typedef const ZSTD_DDict *(*sdb_body_dict_fn)(void *arg, uint32_t id);

/* Decode a stored body: *raw and *rawlen are the protobuf Span, either
 * in[0..len) itself or *buf (grown with ex_realloc, capacity *cap).
 * 0, or -1 with why (NUL-terminated, names what is wrong). */
int sdb_body_decode(ZSTD_DCtx *dctx, sdb_body_dict_fn dict, void *arg, const uint8_t *in, size_t len, uint8_t **buf,
                    size_t *cap, const uint8_t **raw, size_t *rawlen, char *why, size_t whylen);

#endif
