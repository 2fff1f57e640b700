/* traceql_pipe.c — running a query's pipeline over one trace: the first
 * spanset expression yields one spanset, then each stage maps the list of
 * spansets to a new one (traceql.h, tql_eval_spansets). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "store/traceql_int.h"

/* ---- spansets ------------------------------------------------------------ */

static void ss_free(tql_spanset *ss)
{
    for (size_t a = 0; a < ss->nattrs; a++) ex_free(ss->owned_[a]);
    ex_free(ss->owned_);
    ex_free(ss->attrs);
    ex_free(ss->spans);
    memset(ss, 0, sizeof *ss);
}

void tql_result_free(tql_result *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->nsets; i++) ss_free(&r->sets[i]);
    ex_free(r->sets);
    memset(r, 0, sizeof *r);
}

/* Append an attribute; when owned is not NULL the spanset takes it (and
 * val.v.s must point at it). 0 or -1 (owned is then freed). */
static int ss_add_attr(tql_spanset *ss, const char *key, tql_value val, char *owned)
{
    tql_attr *attrs = ex_realloc(ss->attrs, (ss->nattrs + 1) * sizeof *attrs);
    if (attrs) ss->attrs = attrs;
    char **own = attrs ? ex_realloc(ss->owned_, (ss->nattrs + 1) * sizeof *own) : NULL;
    if (!own) {
        ex_free(owned);
        return -1;
    }
    ss->owned_ = own;
    ss->attrs[ss->nattrs].key = key;
    ss->attrs[ss->nattrs].val = val;
    ss->owned_[ss->nattrs++] = owned;
    return 0;
}

/* dst gets copies of src's attributes. 0 or -1. */
static int ss_copy_attrs(tql_spanset *dst, const tql_spanset *src)
{
    for (size_t a = 0; a < src->nattrs; a++) {
        char *owned = NULL;
        tql_value v = src->attrs[a].val;
        if (src->owned_[a]) {
            if (!(owned = ex_strdup(src->owned_[a]))) return -1;
            v.v.s = owned;
        }
        if (ss_add_attr(dst, src->attrs[a].key, v, owned) < 0) return -1;
    }
    return 0;
}

/* A growing list of spansets (the output of a stage). */
typedef struct ss_list {
    tql_spanset *sets;
    size_t n, cap;
} ss_list;

static tql_spanset *list_add(ss_list *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 4;
        tql_spanset *grown = ex_realloc(l->sets, cap * sizeof *grown);
        if (!grown) return NULL;
        l->sets = grown;
        l->cap = cap;
    }
    tql_spanset *ss = &l->sets[l->n++];
    memset(ss, 0, sizeof *ss);
    return ss;
}

static void list_free(ss_list *l)
{
    tql_result r = {l->sets, l->n};
    tql_result_free(&r);
    memset(l, 0, sizeof *l);
}

/* The spans with set[i] (count of them) as the spans of ss. */
static int ss_take_mask(tql_spanset *ss, const unsigned char *set, size_t n, size_t count)
{
    size_t *spans = ex_malloc((count ? count : 1) * sizeof *spans);
    if (!spans) return -1;
    ex_free(ss->spans);
    ss->spans = spans;
    ss->nspans = 0;
    for (size_t i = 0; i < n; i++)
        if (set[i]) ss->spans[ss->nspans++] = i;
    return 0;
}

/* ---- values as spanset attributes ------------------------------------------ */

void tql__duration_text(int64_t d, char *buf, size_t len)
{
    uint64_t u = d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;
    const char *sign = d < 0 ? "-" : "";
    uint64_t scale = 1000000000;
    int digits = 9;
    const char *unit = "s";
    if (u < 1000) {
        snprintf(buf, len, "%s%" PRIu64 "%s", u ? sign : "", u, u ? "ns" : "s");
        return;
    }
    if (u < 1000000) {
        scale = 1000;
        digits = 3;
        unit = "\xc2\xb5s";
    } else if (u < 1000000000) {
        scale = 1000000;
        digits = 6;
        unit = "ms";
    }
    char frac[16] = "";
    uint64_t f = u % scale;
    if (f) {
        snprintf(frac, sizeof frac, ".%0*" PRIu64, digits, f);
        for (size_t k = strlen(frac); frac[k - 1] == '0';) frac[--k] = '\0';
    }
    uint64_t whole = u / scale;
    if (scale < 1000000000) {
        snprintf(buf, len, "%s%" PRIu64 "%s%s", sign, whole, frac, unit);
    } else if (whole >= 3600) {
        snprintf(buf, len, "%s%" PRIu64 "h%" PRIu64 "m%" PRIu64 "%ss", sign, whole / 3600, whole / 60 % 60,
                 whole % 60, frac);
    } else if (whole >= 60) {
        snprintf(buf, len, "%s%" PRIu64 "m%" PRIu64 "%ss", sign, whole / 60, whole % 60, frac);
    } else {
        snprintf(buf, len, "%s%" PRIu64 "%ss", sign, whole, frac);
    }
}

/* Add key = v to ss as Tempo writes spanset attributes: numbers and
 * booleans as they are, everything else as a string. */
static int ss_add_value(tql_spanset *ss, const char *key, const tql_value *v)
{
    tql_value out = {.type = TQL_STRING};
    char *owned = NULL;
    char tmp[48];
    switch (v->type) {
    case TQL_INT: case TQL_FLOAT: case TQL_BOOL: return ss_add_attr(ss, key, *v, NULL);
    case TQL_STRING: owned = ex_strdup(v->v.s); break;
    case TQL_DURATION:
        tql__duration_text(v->v.i, tmp, sizeof tmp);
        owned = ex_strdup(tmp);
        break;
    case TQL_STATUS: out.v.s = tql_status_name((int)v->v.i); break;
    case TQL_KIND: out.v.s = tql_kind_name((int)v->v.i); break;
    case TQL_NIL: out.v.s = "nil"; break;
    }
    if ((v->type == TQL_STRING || v->type == TQL_DURATION) && !owned) return -1;
    if (owned) out.v.s = owned;
    if (!out.v.s) out.v.s = ""; /* a status or kind out of range */
    return ss_add_attr(ss, key, out, owned);
}

/* Move ss (emptied) to the end of the list. */
static int list_move(ss_list *l, tql_spanset *ss)
{
    tql_spanset *dst = list_add(l);
    if (!dst) return -1;
    *dst = *ss;
    memset(ss, 0, sizeof *ss);
    return 0;
}

/* ---- the stages -------------------------------------------------------------- */

typedef struct pipe {
    const tql_query *q;
    const tql_trace *t;
    tql_tree *tree;          /* built on first need */
    unsigned char *in, *out; /* bytes per span */
} pipe;

/* | { … }: the expression within each spanset; empty results drop out. */
static int stage_set(pipe *p, const tql_stage *st, ss_list *from, ss_list *to)
{
    size_t n = p->t->nspans;
    for (size_t k = 0; k < from->n; k++) {
        tql_spanset *ss = &from->sets[k];
        memset(p->in, 0, n);
        for (size_t i = 0; i < ss->nspans; i++) p->in[ss->spans[i]] = 1;
        long count = tql__eval_set(st->set, p->t, p->in, &p->tree, p->out);
        if (count < 0) return -1;
        if (count == 0) continue;
        if (ss_take_mask(ss, p->out, n, (size_t)count) < 0 || list_move(to, ss) < 0) return -1;
    }
    return 0;
}

/* | aggregate op number: keeps the spansets where it holds, with the
 * aggregate's value as an attribute. */
static int stage_scalar(pipe *p, const tql_stage *st, ss_list *from, ss_list *to)
{
    for (size_t k = 0; k < from->n; k++) {
        tql_spanset *ss = &from->sets[k];
        tql_value v;
        if (!tql__aggregate(st, p->t, ss->spans, ss->nspans, &v) || !tql_compare(&v, st->op, &st->lit)) continue;
        if (ss_add_value(ss, st->label, &v) < 0 || list_move(to, ss) < 0) return -1;
    }
    return 0;
}

/* One spanset of by(f): its groups appended to `to`. */
static int by_one(pipe *p, const tql_stage *st, const tql_spanset *ss, ss_list *to)
{
    size_t m = ss->nspans, ng = 0, first = to->n;
    size_t *group = ex_malloc((m ? m : 1) * sizeof *group), *sizes = ex_calloc(m ? m : 1, sizeof *sizes);
    tql_value *values = ex_malloc((m ? m : 1) * sizeof *values);
    char **owned = ex_calloc(m ? m : 1, sizeof *owned);
    int rc = -1;
    if (!group || !values || !owned || !sizes ||
        tql__group(&st->field, p->t, ss->spans, m, group, values, owned, &ng) < 0)
        goto out;
    for (size_t i = 0; i < m; i++) sizes[group[i]]++;
    for (size_t g = 0; g < ng; g++) {
        tql_spanset *out = list_add(to);
        if (!out || !(out->spans = ex_malloc(sizes[g] * sizeof *out->spans)) || ss_copy_attrs(out, ss) < 0 ||
            ss_add_value(out, st->label, &values[g]) < 0)
            goto out;
    }
    for (size_t i = 0; i < m; i++) {
        tql_spanset *out = &to->sets[first + group[i]];
        out->spans[out->nspans++] = ss->spans[i];
    }
    rc = 0;
out:
    for (size_t g = 0; owned && g < m; g++) ex_free(owned[g]);
    ex_free(group);
    ex_free(sizes);
    ex_free(values);
    ex_free(owned);
    return rc;
}

/* | by(f): each spanset split by the value of f, in order of first
 * appearance, each group with "by(f)" = its value. */
static int stage_by(pipe *p, const tql_stage *st, ss_list *from, ss_list *to)
{
    for (size_t k = 0; k < from->n; k++)
        if (by_one(p, st, &from->sets[k], to) < 0) return -1;
    return 0;
}

/* | coalesce(): every spanset's spans in one spanset, without attributes. */
static int stage_coalesce(pipe *p, ss_list *from, ss_list *to)
{
    size_t n = p->t->nspans, count = 0;
    memset(p->out, 0, n);
    for (size_t k = 0; k < from->n; k++)
        for (size_t i = 0; i < from->sets[k].nspans; i++) {
            count += !p->out[from->sets[k].spans[i]];
            p->out[from->sets[k].spans[i]] = 1;
        }
    if (!count) return 0;
    tql_spanset *ss = list_add(to);
    return ss ? ss_take_mask(ss, p->out, n, count) : -1;
}

static int run_stage(pipe *p, const tql_stage *st, ss_list *from, ss_list *to)
{
    switch (st->kind) {
    case TQL_P_SET: return stage_set(p, st, from, to);
    case TQL_P_SCALAR: return stage_scalar(p, st, from, to);
    case TQL_P_BY: return stage_by(p, st, from, to);
    case TQL_P_COALESCE: return stage_coalesce(p, from, to);
    case TQL_P_SELECT: break;
    }
    *to = *from; /* select(): output fields only */
    memset(from, 0, sizeof *from);
    return 0;
}

int tql_eval_spansets(const tql_query *q, const tql_trace *t, tql_result *out)
{
    memset(out, 0, sizeof *out);
    size_t n = t->nspans, width = n ? n : 1;
    pipe p = {.q = q, .t = t};
    ss_list cur = {0}, next = {0};
    int rc = -1;
    if (!(p.in = ex_malloc(2 * width))) return -1;
    p.out = p.in + width;
    long count = tql__eval_set(q->root, t, NULL, &p.tree, p.out);
    if (count < 0) goto out;
    if (count > 0) {
        tql_spanset *ss = list_add(&cur);
        if (!ss || ss_take_mask(ss, p.out, n, (size_t)count) < 0) goto out;
    }
    for (size_t k = 0; k < q->nstages && cur.n; k++) {
        if (run_stage(&p, &q->stages[k], &cur, &next) < 0) goto out;
        list_free(&cur);
        cur = next;
        memset(&next, 0, sizeof next);
    }
    out->sets = cur.sets;
    out->nsets = cur.n;
    memset(&cur, 0, sizeof cur);
    rc = 0;
out:
    list_free(&cur);
    list_free(&next);
    tql__tree_release(&p.tree);
    ex_free(p.in);
    return rc;
}

long tql__eval_query(const tql_query *q, const tql_trace *t, unsigned char *set)
{
    size_t n = t->nspans;
    if (!q->filters) {
        tql_tree *tree = NULL;
        long count = tql__eval_set(q->root, t, NULL, &tree, set);
        tql__tree_release(&tree);
        return count;
    }
    tql_result r;
    if (tql_eval_spansets(q, t, &r) < 0) return -1;
    long count = 0;
    memset(set, 0, n);
    for (size_t k = 0; k < r.nsets; k++)
        for (size_t i = 0; i < r.sets[k].nspans; i++) {
            count += !set[r.sets[k].spans[i]];
            set[r.sets[k].spans[i]] = 1;
        }
    tql_result_free(&r);
    return count;
}
