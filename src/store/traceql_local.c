/* traceql_local.c — whether a query or field can be answered from one
 * span's compact row (name, status, kind, duration, span attributes and
 * the resource's service.name; db_mspans.c), so TraceQL metrics can read
 * the compact span table instead of whole traces; and which span statuses
 * a query's matches may have, so a search can pass over the traces
 * without one (their statuses are kept per trace). */
#include <string.h>

#include "store/traceql_int.h"

/* Whether f is one of the fields a compact row holds; sets in *needs
 * what it reads beyond name, status and kind. */
static int field_local(const tql_field *f, unsigned *needs)
{
    switch (f->intrinsic) {
    case TQL_I_NAME:
    case TQL_I_STATUS:
    case TQL_I_KIND: return 1;
    case TQL_I_DURATION: *needs |= TQL_LOCAL_DURATION; return 1;
    case TQL_I_NONE: break;
    default: return 0;
    }
    int service = f->name && strcmp(f->name, "service.name") == 0;
    if (f->scope == TQL_SCOPE_SPAN) *needs |= TQL_LOCAL_ATTRS;
    else if (f->scope == TQL_SCOPE_RESOURCE && service) *needs |= TQL_LOCAL_SERVICE;
    else if (f->scope == TQL_SCOPE_ANY && service) *needs |= TQL_LOCAL_ATTRS | TQL_LOCAL_SERVICE;
    else return 0;
    return 1;
}

static int cond_local(const tql_cond *c, unsigned *needs)
{
    if (!c) return 1;
    switch (c->kind) {
    case TQL_C_AND:
    case TQL_C_OR: return cond_local(c->l, needs) && cond_local(c->r, needs);
    case TQL_C_NOT: return cond_local(c->l, needs);
    case TQL_C_CMP: return field_local(&c->field, needs);
    }
    return 0;
}

/* A `name = "literal"` every matching span satisfies (through ANDs only). */
static const char *name_eq(const tql_cond *c)
{
    if (!c) return NULL;
    if (c->kind == TQL_C_AND) {
        const char *n = name_eq(c->l);
        return n ? n : name_eq(c->r);
    }
    if (c->kind == TQL_C_CMP && c->field.intrinsic == TQL_I_NAME && c->op == TQL_TOK_EQ && c->lit.type == TQL_STRING)
        return c->lit.v.s;
    return NULL;
}

int tql_span_local(const tql_query *q, unsigned *needs, const char **name)
{
    *name = NULL;
    if (q->root->kind != TQL_S_FILTER || q->filters || !cond_local(q->root->cond, needs)) return 0;
    *name = name_eq(q->root->cond);
    return 1;
}

int tql_fieldref_local(const tql_fieldref *f, unsigned *needs)
{
    return field_local(&f->field, needs);
}

/* Three-valued truth of a condition over spans of one status. */
enum { NO, YES, MAYBE };

/* Whether c holds for a span with status code `code` (-1: any code but 0,
 * 1 and 2), whatever else the span has: NO, YES or MAYBE. */
static int holds_with_status(const tql_cond *c, int code)
{
    int l, r;
    switch (c->kind) {
    case TQL_C_AND:
        l = holds_with_status(c->l, code), r = holds_with_status(c->r, code);
        return l == NO || r == NO ? NO : l == YES && r == YES ? YES : MAYBE;
    case TQL_C_OR:
        l = holds_with_status(c->l, code), r = holds_with_status(c->r, code);
        return l == YES || r == YES ? YES : l == NO && r == NO ? NO : MAYBE;
    case TQL_C_NOT:
        l = holds_with_status(c->l, code);
        return l == MAYBE ? MAYBE : l == YES ? NO : YES;
    case TQL_C_CMP:
        break;
    }
    if (c->field.intrinsic != TQL_I_STATUS || code < 0) return MAYBE;
    /* the evaluator's own comparison, on a span with just that status */
    tql_span s = {.name = "", .status_code = code, .status_message = "", .scope_name = "", .scope_version = ""};
    tql_trace t = {.spans = &s, .nspans = 1, .root_name = "", .root_service = ""};
    return tql__cond_holds(c, &t, 0) ? YES : NO;
}

unsigned tql_span_statuses(const tql_query *q)
{
    if (q->root->kind != TQL_S_FILTER || q->filters || !q->root->cond) return TQL_STATUSES_ALL;
    unsigned bits = 0;
    for (int code = 0; code <= 2; code++)
        if (holds_with_status(q->root->cond, code) != NO) bits |= 1u << code;
    if (holds_with_status(q->root->cond, -1) != NO) bits |= 8u;
    return bits;
}
