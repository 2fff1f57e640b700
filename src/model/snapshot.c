/* snapshot.c — the canonical snapshot: nodes, the tree check, statuses. */
#include "model/snapshot.h"

#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "model/keyindex.h"

static const char *const status_names[MDL_NSTATUS] = {"pending", "running", "ok", "error", "cancelled", "skipped"};

const char *mdl_status_name(int status)
{
    return status >= 0 && status < MDL_NSTATUS ? status_names[status] : "?";
}

int mdl_status_parse(const char *name)
{
    for (int i = 0; i < MDL_NSTATUS; i++)
        if (strcmp(name, status_names[i]) == 0) return i;
    return -1;
}

int mdl_status_terminal(int status) { return status >= MDL_OK && status < MDL_NSTATUS; }

const char *mdl_snode_state(const mdl_snode *n) { return n->state ? n->state : mdl_status_name(n->status); }

void mdl_snode_init(mdl_snode *n)
{
    memset(n, 0, sizeof *n);
    n->initial_ns = n->since_ns = n->start_ns = n->end_ns = MDL_NO_TIME;
    n->parent_idx = MDL_ROOT;
}

void mdl_snapshot_init(mdl_snapshot *s)
{
    memset(s, 0, sizeof *s);
    mdl_snode_init(&s->root);
}

void mdl_snapshot_clear(mdl_snapshot *s)
{
    mdl_snode *nodes = s->nodes;
    size_t cap = s->cap;
    if (s->json) json_decref(s->json);
    mdl_snapshot_init(s);
    s->nodes = nodes; /* kept for reuse */
    s->cap = cap;
}

mdl_snode *mdl_snapshot_add(mdl_snapshot *s)
{
    if (s->nnodes >= MDL_MAX_NODES) return NULL;
    if (s->nnodes == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        mdl_snode *n = ex_realloc(s->nodes, cap * sizeof *n);
        if (!n) return NULL;
        s->nodes = n;
        s->cap = cap;
    }
    mdl_snode *n = &s->nodes[s->nnodes++];
    mdl_snode_init(n);
    return n;
}

static const char *snode_key(const void *items, size_t i) { return ((const mdl_snode *)items)[i].key; }

/* Depth of node i (1 = top level), following parent_idx; 0 on a cycle. */
static size_t depth_of(const mdl_snapshot *s, size_t i)
{
    size_t d = 1;
    for (uint32_t p = s->nodes[i].parent_idx; p != MDL_ROOT; p = s->nodes[p].parent_idx)
        if (++d > s->nnodes) return 0;
    return d;
}

/* Reorder so parents come first: stable sort by depth (counting sort). */
static int order_by_depth(mdl_snapshot *s, size_t *depth, size_t maxd)
{
    mdl_snode *out = ex_malloc(s->cap * sizeof *out);
    uint32_t *newpos = ex_malloc(s->nnodes * sizeof *newpos);
    if (!out || !newpos) {
        ex_free(out);
        ex_free(newpos);
        return -1;
    }
    size_t o = 0;
    for (size_t d = 1; d <= maxd; d++)
        for (size_t i = 0; i < s->nnodes; i++)
            if (depth[i] == d) {
                newpos[i] = (uint32_t)o;
                out[o++] = s->nodes[i];
            }
    for (size_t i = 0; i < s->nnodes; i++)
        if (out[i].parent_idx != MDL_ROOT) out[i].parent_idx = newpos[out[i].parent_idx];
    ex_free(s->nodes);
    ex_free(newpos);
    s->nodes = out;
    return 0;
}

int mdl_snapshot_link(mdl_snapshot *s, char *why, size_t whylen)
{
    if (s->nnodes == 0) return 0;
    mdl_keyindex ix;
    size_t dup, maxd = 0, *depth = NULL;
    int rc = -1;
    if (mdl_ki_build(&ix, s->nodes, s->nnodes, s->nnodes, snode_key, &dup)) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    if (dup != MDL_KI_NONE) {
        snprintf(why, whylen, "nodes[%zu].key: \"%.64s\" is not unique", dup, s->nodes[dup].key);
        goto done;
    }
    int sorted = 1;
    for (size_t i = 0; i < s->nnodes; i++) {
        mdl_snode *n = &s->nodes[i];
        n->parent_idx = MDL_ROOT;
        if (!n->parent) continue;
        if ((n->parent_idx = mdl_ki_find(&ix, n->parent)) == MDL_KI_NONE) {
            snprintf(why, whylen, "nodes[%zu].parent: \"%.64s\" is not a node of this snapshot", i, n->parent);
            goto done;
        }
        if (n->parent_idx >= i) sorted = 0;
    }
    if (!sorted) {
        if (!(depth = ex_malloc(s->nnodes * sizeof *depth))) goto nomem;
        for (size_t i = 0; i < s->nnodes; i++) {
            if (!(depth[i] = depth_of(s, i))) {
                snprintf(why, whylen, "nodes[%zu].parent: \"%.64s\" makes a cycle", i, s->nodes[i].parent);
                goto done;
            }
            if (depth[i] > maxd) maxd = depth[i];
        }
        if (order_by_depth(s, depth, maxd)) goto nomem;
    }
    rc = 0;
    goto done;
nomem:
    snprintf(why, whylen, "out of memory");
done:
    ex_free(depth);
    mdl_ki_free(&ix);
    return rc;
}
