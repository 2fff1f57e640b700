/* traceql_eval.c — evaluating a parsed TraceQL query over a tql_trace
 * (semantics in traceql.h). A spanset is a byte per span of the trace. */
#include <string.h>

#include "core/mem.h"
#include "store/traceql_int.h"

/* Regex operators: only strings can match; a missing value never does. */
static int regex_holds(const tql_cond *c, const tql_value *v)
{
    if (v->type != TQL_STRING) return 0;
    int m = regexec(&c->re, v->v.s, 0, NULL, 0) == 0;
    return c->op == TQL_TOK_RE ? m : !m;
}

static int value_holds(const tql_cond *c, const tql_value *v)
{
    if (c->op == TQL_TOK_RE || c->op == TQL_TOK_NRE) return regex_holds(c, v);
    return tql_compare(v, c->op, &c->lit);
}

/* Event fields have one value per event: the comparison holds when it
 * holds for some event ("= nil" when no event has the attribute). */
static int event_cmp(const tql_cond *c, const tql_span *s)
{
    int any_present = 0;
    for (size_t e = 0; e < s->nevents; e++) {
        const tql_event *ev = &s->events[e];
        tql_value v = {.type = TQL_NIL};
        if (c->field.intrinsic == TQL_I_EVENT_NAME) {
            v.type = TQL_STRING;
            v.v.s = ev->name ? ev->name : "";
        } else {
            for (size_t k = 0; k < ev->nattrs; k++)
                if (strcmp(ev->attrs[k].key, c->field.name) == 0) {
                    v = ev->attrs[k].val;
                    break;
                }
        }
        if (v.type != TQL_NIL) any_present = 1;
        if (c->lit.type == TQL_NIL) continue;
        if (value_holds(c, &v)) return 1;
    }
    if (c->lit.type == TQL_NIL) return c->op == TQL_TOK_EQ ? !any_present : any_present;
    return 0;
}

int tql__cond_holds(const tql_cond *c, const tql_trace *t, size_t i)
{
    switch (c->kind) {
    case TQL_C_AND: return tql__cond_holds(c->l, t, i) && tql__cond_holds(c->r, t, i);
    case TQL_C_OR: return tql__cond_holds(c->l, t, i) || tql__cond_holds(c->r, t, i);
    case TQL_C_NOT: return !tql__cond_holds(c->l, t, i);
    case TQL_C_CMP:
        if (c->field.intrinsic == TQL_I_EVENT_NAME || (c->field.intrinsic == TQL_I_NONE &&
                                                       c->field.scope == TQL_SCOPE_EVENT))
            return event_cmp(c, &t->spans[i]);
        {
            tql_value v = tql__field_value(&c->field, t, i);
            return value_holds(c, &v);
        }
    }
    return 0;
}

/* A structural operator over the left set l (overwritten with the
 * result) and the right set r: the R spans related to some L span (or,
 * negated, to none), or with TQL_J_UNION the spans of both sides in some
 * related pair. has and back are scratch bytes per span. */
static long eval_rel(const tql_set *s, const tql_tree *tr, unsigned char *l, const unsigned char *r,
                     unsigned char *has, unsigned char *back)
{
    static const tql_rel inverse[] = {[TQL_R_CHILD] = TQL_R_PARENT, [TQL_R_PARENT] = TQL_R_CHILD,
                                      [TQL_R_DESC] = TQL_R_ANCE, [TQL_R_ANCE] = TQL_R_DESC,
                                      [TQL_R_SIBL] = TQL_R_SIBL};
    size_t n = tr->n;
    long count = 0;
    tql__tree_has(tr, s->rel, l, has);
    if (s->join == TQL_J_UNION) tql__tree_has(tr, inverse[s->rel], r, back);
    for (size_t i = 0; i < n; i++) {
        if (s->join == TQL_J_UNION) l[i] = (r[i] && has[i]) || (l[i] && back[i]);
        else l[i] = r[i] && has[i] == (s->join == TQL_J_PLAIN);
        count += l[i];
    }
    return count;
}

/* The trace's span tree, built on first use. */
static const tql_tree *tree_of(const tql_trace *t, tql_tree **tree)
{
    if (*tree) return *tree;
    tql_tree *tr = ex_malloc(sizeof *tr);
    if (!tr) return NULL;
    if (tql__tree_build(tr, t) < 0) {
        ex_free(tr);
        return NULL;
    }
    return *tree = tr;
}

void tql__tree_release(tql_tree **tree)
{
    if (!*tree) return;
    tql__tree_free(*tree);
    ex_free(*tree);
    *tree = NULL;
}

long tql__eval_set(const tql_set *s, const tql_trace *t, const unsigned char *in, tql_tree **tree,
                   unsigned char *set)
{
    size_t n = t->nspans;
    if (s->kind == TQL_S_FILTER) {
        long count = 0;
        for (size_t i = 0; i < n; i++) {
            set[i] = (!in || in[i]) && (!s->cond || tql__cond_holds(s->cond, t, i));
            count += set[i];
        }
        return count;
    }
    /* The left side first: a long chain leans left, and its buffers are
     * freed before this level allocates its own. */
    size_t width = n ? n : 1;
    long lc = tql__eval_set(s->l, t, in, tree, set);
    if (lc < 0) return -1;
    unsigned char *right = ex_malloc(s->kind == TQL_S_REL ? 3 * width : width);
    if (!right) return -1;
    long rc = tql__eval_set(s->r, t, in, tree, right), count = -1;
    if (rc >= 0 && s->kind == TQL_S_REL) {
        const tql_tree *tr = NULL;
        if (rc == 0) { /* nothing on the right: nothing to keep */
            memset(set, 0, n);
            count = 0;
        } else if ((tr = tree_of(t, tree)) != NULL) {
            count = eval_rel(s, tr, set, right, right + width, right + 2 * width);
        }
    } else if (rc >= 0) {
        /* && needs both sides non-empty; either way the result is the union. */
        int keep = s->kind == TQL_S_OR || (lc > 0 && rc > 0);
        count = 0;
        for (size_t i = 0; i < n; i++) {
            set[i] = keep && (set[i] || right[i]);
            count += set[i];
        }
    }
    ex_free(right);
    return count;
}

int tql_eval(const tql_query *q, const tql_trace *t, tql_match *out)
{
    memset(out, 0, sizeof *out);
    size_t n = t->nspans;
    unsigned char *set = ex_malloc(n ? n : 1);
    if (!set) return -1;
    long count = tql__eval_query(q, t, set);
    if (count < 0) {
        ex_free(set);
        return -1;
    }
    if (count > 0) {
        out->spans = ex_malloc((size_t)count * sizeof *out->spans);
        if (!out->spans) {
            ex_free(set);
            return -1;
        }
        for (size_t i = 0; i < n; i++)
            if (set[i]) out->spans[out->nspans++] = i;
        out->matched = 1;
    }
    ex_free(set);
    return 0;
}
void tql_match_free(tql_match *m)
{
    if (!m) return;
    ex_free(m->spans);
    memset(m, 0, sizeof *m);
}

int tql_span_matches(const tql_query *q, const tql_trace *t, size_t i)
{
    if (i >= t->nspans) return 0;
    if (q->root->kind == TQL_S_FILTER && !q->filters) return !q->root->cond || tql__cond_holds(q->root->cond, t, i);
    tql_match m;
    if (tql_eval(q, t, &m) < 0) return 0;
    int found = 0;
    for (size_t k = 0; k < m.nspans && !found; k++) found = m.spans[k] == i;
    tql_match_free(&m);
    return found;
}

size_t tql_fieldref_values(const tql_fieldref *f, const tql_trace *t, size_t i, tql_value *out, size_t max)
{
    const tql_field *fd = &f->field;
    if (i >= t->nspans) return 0;
    int is_event = fd->intrinsic == TQL_I_EVENT_NAME || (fd->intrinsic == TQL_I_NONE && fd->scope == TQL_SCOPE_EVENT);
    if (!is_event) {
        tql_value v = tql__field_value(fd, t, i);
        if (v.type == TQL_NIL) return 0;
        if (max) out[0] = v;
        return 1;
    }
    const tql_span *s = &t->spans[i];
    size_t n = 0;
    for (size_t e = 0; e < s->nevents; e++) {
        const tql_event *ev = &s->events[e];
        tql_value v = {.type = TQL_NIL};
        if (fd->intrinsic == TQL_I_EVENT_NAME) {
            v.type = TQL_STRING;
            v.v.s = ev->name ? ev->name : "";
        } else {
            for (size_t k = 0; k < ev->nattrs; k++)
                if (strcmp(ev->attrs[k].key, fd->name) == 0) {
                    v = ev->attrs[k].val;
                    break;
                }
        }
        if (v.type == TQL_NIL) continue;
        if (n < max) out[n] = v;
        n++;
    }
    return n;
}
