/* registry_int.h — the registry's map from id to entry (registry_map.c),
 * for registry.c only. */
#ifndef EXTRACE_WORKER_REGISTRY_INT_H
#define EXTRACE_WORKER_REGISTRY_INT_H
#include "worker/registry.h"

/* The hash of a workflow id (wk_entry.hash). */
uint32_t wk_map_hash(const char *key);
/* The entry whose monitor's key is `key` (its hash: `hash`), or NULL. */
wk_entry *wk_map_find(const wk_registry *r, const char *key, uint32_t hash);
/* Add e (e->hash and e->self set, not in the map; r->count not yet
 * counting it). 0, or -1 when growing the map failed. */
int wk_map_add(wk_registry *r, wk_entry *e);
/* Take e out of the map (it must be in it; r->count no longer counting it). */
void wk_map_del(wk_registry *r, const wk_entry *e);
/* Free the map (the registry holds no entry). */
void wk_map_clear(wk_registry *r);

#endif
