/* keyindex.c — open addressing over XXH3 of the keys, linear probing. */
#include "model/keyindex.h"

#include <string.h>
#include <xxhash.h>

#include "core/mem.h"

static size_t slot_of(const mdl_keyindex *ix, const char *k)
{
    return (size_t)XXH3_64bits(k, strlen(k)) & ix->mask;
}

uint32_t mdl_ki_find(const mdl_keyindex *ix, const char *k)
{
    for (size_t h = slot_of(ix, k); ix->slots[h]; h = (h + 1) & ix->mask)
        if (strcmp(ix->key(ix->items, ix->slots[h] - 1), k) == 0) return ix->slots[h] - 1;
    return MDL_KI_NONE;
}

void mdl_ki_add(mdl_keyindex *ix, size_t i)
{
    size_t h = slot_of(ix, ix->key(ix->items, i));
    while (ix->slots[h]) h = (h + 1) & ix->mask;
    ix->slots[h] = (uint32_t)i + 1;
}

int mdl_ki_build(mdl_keyindex *ix, const void *items, size_t n, size_t room, mdl_ki_key_fn key, size_t *dup)
{
    size_t cap = 16;
    while (cap < room * 2) cap *= 2;
    ix->slots = ex_calloc(cap, sizeof *ix->slots);
    ix->mask = cap - 1;
    ix->key = key;
    ix->items = items;
    if (dup) *dup = MDL_KI_NONE;
    if (!ix->slots) return -1;
    for (size_t i = 0; i < n; i++) {
        if (dup && *dup == MDL_KI_NONE && mdl_ki_find(ix, key(items, i)) != MDL_KI_NONE) *dup = i;
        mdl_ki_add(ix, i);
    }
    return 0;
}

void mdl_ki_free(mdl_keyindex *ix)
{
    ex_free(ix->slots);
    ix->slots = NULL;
}
