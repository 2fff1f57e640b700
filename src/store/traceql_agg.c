/* traceql_agg.c — the value-level work of pipeline stages: aggregates
 * over a spanset (count, avg, min, max, sum) and grouping its spans by a
 * field's value (by()). Semantics in docs/query.md. */
#include <string.h>

#include "core/mem.h"
#include "store/traceql_int.h"

int tql__aggregate(const tql_stage *st, const tql_trace *t, const size_t *spans, size_t n, tql_value *out)
{
    if (st->agg == TQL_A_COUNT) {
        out->type = TQL_INT;
        out->v.i = (int64_t)n;
        return 1;
    }
    /* The first number or duration decides which of the two is summed;
     * values of the other kind, strings and booleans are skipped. */
    int have = 0, durations = 0, is_float = 0, overflow = 0;
    int64_t isum = 0;
    double fsum = 0;
    size_t count = 0;
    tql_value best = {.type = TQL_NIL};
    for (size_t k = 0; k < n; k++) {
        tql_value v = tql__field_value(&st->field, t, spans[k]);
        int is_dur = v.type == TQL_DURATION;
        if (!is_dur && v.type != TQL_INT && v.type != TQL_FLOAT) continue;
        if (!have) {
            have = 1;
            durations = is_dur;
            best = v;
        } else if (is_dur != durations) {
            continue;
        }
        count++;
        fsum += v.type == TQL_FLOAT ? v.v.f : (double)v.v.i;
        if (v.type == TQL_FLOAT) is_float = 1;
        else if (__builtin_add_overflow(isum, v.v.i, &isum)) overflow = 1;
        if ((st->agg == TQL_A_MIN && tql_compare(&v, TQL_TOK_LT, &best)) ||
            (st->agg == TQL_A_MAX && tql_compare(&v, TQL_TOK_GT, &best)))
            best = v;
    }
    if (!have) return 0;
    switch (st->agg) {
    case TQL_A_MIN: case TQL_A_MAX: *out = best; break;
    case TQL_A_SUM:
        if (durations) {
            out->type = TQL_DURATION;
            out->v.i = overflow ? INT64_MAX : isum;
        } else if (is_float || overflow) {
            out->type = TQL_FLOAT;
            out->v.f = fsum;
        } else {
            out->type = TQL_INT;
            out->v.i = isum;
        }
        break;
    default: /* avg: a duration of durations, else a float (no integer division in TraceQL) */
        if (durations) {
            out->type = TQL_DURATION;
            out->v.i = overflow ? (int64_t)(fsum / (double)count) : isum / (int64_t)count;
        } else {
            out->type = TQL_FLOAT;
            out->v.f = fsum / (double)count;
        }
        break;
    }
    return 1;
}

/* ---- grouping -------------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * UINT64_C(0x100000001b3);
    return h;
}

static uint64_t value_hash(const tql_value *v)
{
    unsigned char type = (unsigned char)v->type;
    uint64_t h = fnv(UINT64_C(0xcbf29ce484222325), &type, 1);
    switch (v->type) {
    case TQL_NIL: return h;
    case TQL_STRING: return fnv(h, v->v.s, strlen(v->v.s));
    case TQL_FLOAT: return fnv(h, &v->v.f, sizeof v->v.f);
    case TQL_BOOL: return fnv(h, &v->v.b, sizeof v->v.b);
    default: return fnv(h, &v->v.i, sizeof v->v.i);
    }
}

/* Same group: same type and same value (3 and 3.0 are two groups, as in Tempo). */
static int value_same(const tql_value *a, const tql_value *b)
{
    if (a->type != b->type) return 0;
    switch (a->type) {
    case TQL_NIL: return 1;
    case TQL_STRING: return strcmp(a->v.s, b->v.s) == 0;
    case TQL_FLOAT: return memcmp(&a->v.f, &b->v.f, sizeof a->v.f) == 0;
    case TQL_BOOL: return a->v.b == b->v.b;
    default: return a->v.i == b->v.i;
    }
}

int tql__group(const tql_field *f, const tql_trace *t, const size_t *spans, size_t n, size_t *group,
               tql_value *values, char **owned, size_t *ngroups)
{
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    long *slot = ex_malloc(cap * sizeof *slot);
    *ngroups = 0;
    if (!slot) return -1;
    for (size_t k = 0; k < cap; k++) slot[k] = -1;
    for (size_t k = 0; k < n; k++) {
        tql_value v = tql__field_value(f, t, spans[k]);
        size_t h = (size_t)value_hash(&v) & (cap - 1);
        while (slot[h] >= 0 && !value_same(&values[slot[h]], &v)) h = (h + 1) & (cap - 1);
        if (slot[h] < 0) {
            size_t g = (*ngroups)++;
            values[g] = v;
            if (v.type == TQL_STRING) { /* ids are formatted into a shared buffer: keep a copy */
                if (!(owned[g] = ex_strdup(v.v.s))) {
                    ex_free(slot);
                    return -1;
                }
                values[g].v.s = owned[g];
            }
            slot[h] = (long)g;
        }
        group[k] = (size_t)slot[h];
    }
    ex_free(slot);
    return 0;
}
