/* traceql_tree.c — the parent/child index of one trace and the structural
 * relations of TraceQL (>, <, >>, <<, ~) over it, each linear in the
 * spans. A span's parent is the span of the trace whose id is its
 * parent_id (the first such span when ids repeat); a span whose parent is
 * missing, or is itself, is a root. Spans on a parent cycle (corrupt
 * data) have no ancestors and no descendants. */
#include <string.h>

#include "core/mem.h"
#include "store/traceql_int.h"

void tql__tree_free(tql_tree *tr)
{
    ex_free(tr->parent);
    ex_free(tr->first_child);
    ex_free(tr->kids);
    ex_free(tr->order);
    memset(tr, 0, sizeof *tr);
}

static uint64_t id_hash(const uint8_t id[8])
{
    uint64_t h = 0;
    memcpy(&h, id, 8);
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    return h;
}

/* parent[i] for every span, through an open-addressing table of span ids. */
static int link_parents(tql_tree *tr, const tql_trace *t)
{
    size_t n = t->nspans, cap = 16;
    while (cap < 2 * n) cap *= 2;
    long *slot = ex_malloc(cap * sizeof *slot);
    if (!slot) return -1;
    for (size_t k = 0; k < cap; k++) slot[k] = -1;
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)id_hash(t->spans[i].span_id) & (cap - 1);
        while (slot[k] >= 0 && memcmp(t->spans[slot[k]].span_id, t->spans[i].span_id, 8) != 0) k = (k + 1) & (cap - 1);
        if (slot[k] < 0) slot[k] = (long)i;
    }
    for (size_t i = 0; i < n; i++) {
        const tql_span *s = &t->spans[i];
        tr->parent[i] = -1;
        if (!s->has_parent) continue;
        size_t k = (size_t)id_hash(s->parent_id) & (cap - 1);
        while (slot[k] >= 0 && memcmp(t->spans[slot[k]].span_id, s->parent_id, 8) != 0) k = (k + 1) & (cap - 1);
        if (slot[k] >= 0 && (size_t)slot[k] != i) tr->parent[i] = slot[k];
    }
    ex_free(slot);
    return 0;
}

int tql__tree_build(tql_tree *tr, const tql_trace *t)
{
    size_t n = t->nspans;
    memset(tr, 0, sizeof *tr);
    tr->n = n;
    tr->parent = ex_malloc((n ? n : 1) * sizeof *tr->parent);
    tr->first_child = ex_calloc(n + 1, sizeof *tr->first_child);
    tr->kids = ex_malloc((n ? n : 1) * sizeof *tr->kids);
    tr->order = ex_malloc((n ? n : 1) * sizeof *tr->order);
    if (!tr->parent || !tr->first_child || !tr->kids || !tr->order || link_parents(tr, t) < 0) goto fail;
    /* Children lists: count per parent, prefix sums, then fill. */
    for (size_t i = 0; i < n; i++)
        if (tr->parent[i] >= 0) tr->first_child[tr->parent[i] + 1]++;
    for (size_t i = 0; i < n; i++) tr->first_child[i + 1] += tr->first_child[i];
    size_t *fill = tr->order; /* borrowed as the fill cursor, rewritten below */
    memcpy(fill, tr->first_child, n * sizeof *fill);
    for (size_t i = 0; i < n; i++)
        if (tr->parent[i] >= 0) tr->kids[fill[tr->parent[i]]++] = i;
    /* Breadth-first from the roots: parents come before their children. */
    for (size_t i = 0; i < n; i++)
        if (tr->parent[i] < 0) tr->order[tr->norder++] = i;
    for (size_t k = 0; k < tr->norder; k++) {
        size_t p = tr->order[k];
        for (size_t c = tr->first_child[p]; c < tr->first_child[p + 1]; c++) tr->order[tr->norder++] = tr->kids[c];
    }
    return 0;
fail:
    tql__tree_free(tr);
    return -1;
}

void tql__tree_has(const tql_tree *tr, tql_rel rel, const unsigned char *x, unsigned char *has)
{
    size_t n = tr->n;
    memset(has, 0, n);
    switch (rel) {
    case TQL_R_CHILD:
        for (size_t i = 0; i < n; i++) has[i] = tr->parent[i] >= 0 && x[tr->parent[i]];
        break;
    case TQL_R_PARENT:
        for (size_t i = 0; i < n; i++)
            if (x[i] && tr->parent[i] >= 0) has[tr->parent[i]] = 1;
        break;
    case TQL_R_DESC: /* parents first: has[parent] is final when the child is visited */
        for (size_t k = 0; k < tr->norder; k++) {
            size_t i = tr->order[k];
            long p = tr->parent[i];
            has[i] = p >= 0 && (x[p] || has[p]);
        }
        break;
    case TQL_R_ANCE: /* children first, handing their answer to their parent */
        for (size_t k = tr->norder; k-- > 0;) {
            size_t i = tr->order[k];
            long p = tr->parent[i];
            if (p >= 0 && (x[i] || has[i])) has[p] = 1;
        }
        break;
    case TQL_R_SIBL:
        /* For each parent, how many of its children are in x (at most 2
         * matter: one of them may be the span itself). */
        for (size_t p = 0; p < n; p++) {
            unsigned char in = 0;
            for (size_t c = tr->first_child[p]; c < tr->first_child[p + 1] && in < 2; c++) in += x[tr->kids[c]] != 0;
            for (size_t c = tr->first_child[p]; c < tr->first_child[p + 1]; c++) {
                size_t i = tr->kids[c];
                has[i] = in - (x[i] != 0) > 0;
            }
        }
        break;
    }
}
