/* registry_map.c — the registry's map from workflow id to slab index.
 *
 * Open addressing with linear probing over an array of 32-bit slots
 * (power-of-two size, at most 80 % full): 4–8 bytes per workflow where a
 * uthash handle took 56 plus its bucket. A slot holds the entry's slab
 * index + 1 (0: empty) in its low WK_MAP_IDX_BITS bits and the top bits
 * of the key's hash above them, so that a probe reads the slab entry and
 * its key only when those bits match. Removal shifts the following run
 * back (no tombstones). The full hash stays in the entry for growing. */
#include "worker/registry_int.h"

#include <string.h>

#include "core/mem.h"

#define MAP_MIN_CAP 1024u
#define IDX_MASK    ((UINT32_C(1) << WK_MAP_IDX_BITS) - 1)
#define TAG_SHIFT   WK_MAP_IDX_BITS

uint32_t wk_map_hash(const char *key)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a, then murmur3's finalizer */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) h = (h ^ *p) * UINT64_C(0x100000001b3);
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return (uint32_t)h;
}

static inline uint32_t slot_of(const wk_entry *e)
{
    return (e->hash >> TAG_SHIFT << TAG_SHIFT) | (e->self + 1);
}

static inline int tag_matches(uint32_t slot, uint32_t hash) { return (slot ^ hash) >> TAG_SHIFT == 0; }

/* Put e into slots (no resize, no duplicate check). */
static void place(uint32_t *slots, uint32_t mask, const wk_entry *e)
{
    uint32_t i = e->hash & mask;
    while (slots[i]) i = (i + 1) & mask;
    slots[i] = slot_of(e);
}

/* Rebuild the map with cap slots. 0, or -1 (the old map stays). */
static int map_resize(wk_registry *r, uint32_t cap)
{
    uint32_t *slots = ex_calloc(cap, sizeof *slots);
    if (!slots) return -1;
    for (uint32_t i = 0; i < r->map_cap; i++)
        if (r->map[i]) place(slots, cap - 1, wk_registry_at(r, (r->map[i] & IDX_MASK) - 1));
    ex_free(r->map);
    r->map = slots;
    r->map_cap = cap;
    return 0;
}

wk_entry *wk_map_find(const wk_registry *r, const char *key, uint32_t hash)
{
    if (!r->map_cap) return NULL;
    uint32_t mask = r->map_cap - 1;
    for (uint32_t i = hash & mask; r->map[i]; i = (i + 1) & mask) {
        if (!tag_matches(r->map[i], hash)) continue;
        wk_entry *e = wk_registry_at(r, (r->map[i] & IDX_MASK) - 1);
        if (e->hash == hash && strcmp(e->mon->key, key) == 0) return e;
    }
    return NULL;
}

int wk_map_add(wk_registry *r, wk_entry *e)
{
    /* Grow past 80 % full (the new entry counted). */
    if ((uint64_t)(r->count + 1) * 5 > (uint64_t)r->map_cap * 4) {
        uint32_t cap = r->map_cap ? r->map_cap * 2 : MAP_MIN_CAP;
        if (cap == 0 || map_resize(r, cap)) return -1;
    }
    place(r->map, r->map_cap - 1, e);
    return 0;
}

void wk_map_del(wk_registry *r, const wk_entry *e)
{
    uint32_t mask = r->map_cap - 1, want = slot_of(e), i = e->hash & mask;
    while (r->map[i] != want) i = (i + 1) & mask;
    /* Shift back every later slot of the run whose home is not in (i, j]. */
    for (uint32_t j = (i + 1) & mask; r->map[j]; j = (j + 1) & mask) {
        uint32_t home = wk_registry_at(r, (r->map[j] & IDX_MASK) - 1)->hash & mask;
        int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays) continue;
        r->map[i] = r->map[j];
        i = j;
    }
    r->map[i] = 0;
    /* Give memory back after a burst (under 20 % full: half the slots). */
    if (r->map_cap > MAP_MIN_CAP && (uint64_t)r->count * 10 < (uint64_t)r->map_cap * 2) map_resize(r, r->map_cap / 2);
}

void wk_map_clear(wk_registry *r)
{
    ex_free(r->map);
    r->map = NULL;
    r->map_cap = 0;
}
