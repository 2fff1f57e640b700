/* attrs.h — a node's attributes as one compact owned blob.
 *
 * A monitor keeps each node's latest attributes from the snapshot until
 * the node's span is built, and a checkpoint saves them: as a blob, one
 * allocation per node, that needs no parsing to be copied or compared.
 * Layout: u32 total length (this header included), u16 count, then per
 * attribute: u16 key length, key, u8 type, value: 's' u32 length + bytes,
 * 'i' i64, 'd' f64, 'b' u8 (little-endian), 'K' / 'I' (nothing: the
 * value is the node's key / id, which the node holds anyway). Arrays are kept as their
 * compact JSON text (a string). Pure. */
#ifndef EXTRACE_MODEL_ATTRS_H
#define EXTRACE_MODEL_ATTRS_H
#include <stddef.h>
#include <stdint.h>

#include "model/snapshot.h"
#include "otel/span.h"

/* What 'K' and 'I' values refer to (either may be NULL). */
typedef struct mdl_attr_refs {
    const char *key, *id;
} mdl_attr_refs;

/* Encode n's sattrs then its attribute object (null values left out).
 * 0 with *out = NULL when there are none, 0 with an owned blob, or -1
 * when memory ran out. */
int mdl_attrs_encode(const mdl_snode *n, const mdl_attr_refs *refs, uint8_t **out);
/* Bytes of a blob (its header's length); 0 for NULL. */
size_t mdl_attrs_len(const uint8_t *blob);
/* 1 when the two blobs (either may be NULL) hold the same attributes. */
int mdl_attrs_equal(const uint8_t *a, const uint8_t *b);
/* Append every attribute of blob to a. 0, or -1 when memory ran out. */
int mdl_attrs_apply(const uint8_t *blob, const mdl_attr_refs *refs, exo_attrs *a);
/* 0 when `len` bytes are one well-formed blob (a checkpoint's), else -1. */
int mdl_attrs_check(const uint8_t *blob, size_t len);

#endif
