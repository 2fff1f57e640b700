/* keyindex.h — find an item by its string key among n items, in O(1).
 *
 * An open-addressing table of item indices over keys the caller already
 * holds (the table stores no strings): the tree check indexes a
 * snapshot's nodes, the monitor its nodes, once per poll. Pure. */
#ifndef EXTRACE_MODEL_KEYINDEX_H
#define EXTRACE_MODEL_KEYINDEX_H
#include <stddef.h>
#include <stdint.h>

#define MDL_KI_NONE UINT32_MAX

/* The key of item i. */
typedef const char *(*mdl_ki_key_fn)(const void *items, size_t i);

typedef struct mdl_keyindex {
    uint32_t *slots; /* item index + 1; 0 = empty */
    size_t mask;
    mdl_ki_key_fn key;
    const void *items;
} mdl_keyindex;

/* Index items[0..n) (room for `room` items in all, >= n). 0, or -1 when
 * memory ran out. *dup (may be NULL) is the first i whose key an earlier
 * item has, or MDL_KI_NONE. */
int mdl_ki_build(mdl_keyindex *ix, const void *items, size_t n, size_t room, mdl_ki_key_fn key, size_t *dup);
/* Add item i (its key must not be indexed yet; within `room`). */
void mdl_ki_add(mdl_keyindex *ix, size_t i);
/* The index of the item with key k, or MDL_KI_NONE. */
uint32_t mdl_ki_find(const mdl_keyindex *ix, const char *k);
void mdl_ki_free(mdl_keyindex *ix);

#endif
