/* seed_tree.h — the seed's native snapshot as a canonical tree.
 *
 * The seed source's fast path: its answers are parsed by the C parser of
 * snapshot.h (no jq), then described as a canonical snapshot whose spans
 * are exactly the seed's: root attribute workflowId; one top-level node per
 * entity (key entityType, id entityId, attributes type and id); state
 * words Initializing/Processing/Completed/Failed, every node beginning in
 * Initializing at its start; the times of docs/monitor.md. The tree
 * borrows the strings of `s`: it is valid while s is. */
#ifndef EXTRACE_WORKER_SEED_TREE_H
#define EXTRACE_WORKER_SEED_TREE_H
#include "model/snapshot.h"
#include "worker/snapshot.h"

/* Fill *out (initialised; cleared first) from s. 0, or -1 when memory ran out. */
int wm_snapshot_to_tree(const wm_snapshot *s, mdl_snapshot *out);

#endif
