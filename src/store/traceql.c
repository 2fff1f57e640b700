/* traceql.c — values, fields and the canonical form of TraceQL queries
 * (traceql.h); the parser is in traceql_parse.c, evaluation in
 * traceql_eval.c. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "core/duration.h"
#include "store/traceql_int.h"

const char *tql_status_name(int code)
{
    static const char *const names[] = {"unset", "ok", "error"};
    return code >= 0 && code <= 2 ? names[code] : NULL;
}

const char *tql_kind_name(int kind)
{
    static const char *const names[] = {"unspecified", "internal", "server", "client", "producer", "consumer"};
    return kind >= 0 && kind <= 5 ? names[kind] : NULL;
}

void tql_trace_derive(tql_trace *t)
{
    t->root_name = "";
    t->root_service = "";
    t->duration_ns = 0;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    int have_root = 0;
    for (size_t i = 0; i < t->nspans; i++) {
        const tql_span *s = &t->spans[i];
        if (s->start_ns < lo) lo = s->start_ns;
        if (s->end_ns > hi) hi = s->end_ns;
        if (s->has_parent || have_root) continue;
        have_root = 1;
        t->root_name = s->name ? s->name : "";
        for (size_t k = 0; k < s->nres_attrs; k++)
            if (strcmp(s->res_attrs[k].key, "service.name") == 0 && s->res_attrs[k].val.type == TQL_STRING) {
                t->root_service = s->res_attrs[k].val.v.s;
                break;
            }
    }
    if (t->nspans && hi > lo) t->duration_ns = hi - lo;
}

/* ---- fields ---------------------------------------------------------- */

static const tql_attr *find_attr(const tql_attr *a, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(a[i].key, key) == 0) return &a[i];
    return NULL;
}

static tql_value str_value(const char *s)
{
    tql_value v = {.type = TQL_STRING};
    v.v.s = s ? s : "";
    return v;
}

/* Hex of n id bytes in a per-call static buffer (ids are compared at once). */
static tql_value hex_value(const uint8_t *id, size_t n, char *buf)
{
    for (size_t i = 0; i < n; i++) sprintf(buf + 2 * i, "%02x", id[i]);
    buf[2 * n] = '\0';
    return str_value(buf);
}

static tql_value attr_value(const tql_field *f, const tql_span *s)
{
    const tql_attr *a = NULL;
    switch (f->scope) {
    case TQL_SCOPE_SPAN: a = find_attr(s->attrs, s->nattrs, f->name); break;
    case TQL_SCOPE_RESOURCE: a = find_attr(s->res_attrs, s->nres_attrs, f->name); break;
    case TQL_SCOPE_INSTRUMENTATION: a = find_attr(s->scope_attrs, s->nscope_attrs, f->name); break;
    case TQL_SCOPE_ANY:
        a = find_attr(s->attrs, s->nattrs, f->name);
        if (!a) a = find_attr(s->res_attrs, s->nres_attrs, f->name);
        break;
    case TQL_SCOPE_EVENT: break;
    }
    tql_value nil = {.type = TQL_NIL};
    return a ? a->val : nil;
}

tql_value tql__field_value(const tql_field *f, const tql_trace *t, size_t i)
{
    static char idbuf[33];
    const tql_span *s = &t->spans[i];
    tql_value v = {.type = TQL_NIL};
    switch (f->intrinsic) {
    case TQL_I_NONE: return attr_value(f, s);
    case TQL_I_NAME: return str_value(s->name);
    case TQL_I_STATUS: v.type = TQL_STATUS; v.v.i = s->status_code; return v;
    case TQL_I_STATUS_MESSAGE: return str_value(s->status_message);
    case TQL_I_DURATION: v.type = TQL_DURATION; v.v.i = s->end_ns - s->start_ns; return v;
    case TQL_I_KIND: v.type = TQL_KIND; v.v.i = s->kind; return v;
    case TQL_I_SPAN_ID: return hex_value(s->span_id, 8, idbuf);
    case TQL_I_PARENT_ID: return s->has_parent ? hex_value(s->parent_id, 8, idbuf) : str_value("");
    case TQL_I_TRACE_ID: return hex_value(t->trace_id, 16, idbuf);
    case TQL_I_ROOT_NAME: return str_value(t->root_name);
    case TQL_I_ROOT_SERVICE: return str_value(t->root_service);
    case TQL_I_TRACE_DURATION: v.type = TQL_DURATION; v.v.i = t->duration_ns; return v;
    case TQL_I_SCOPE_NAME: return str_value(s->scope_name);
    case TQL_I_SCOPE_VERSION: return str_value(s->scope_version);
    case TQL_I_EVENT_NAME: return v;
    }
    return v;
}

int tql__field_same(const tql_field *a, const tql_field *b)
{
    if (a->intrinsic != b->intrinsic) return 0;
    if (a->intrinsic != TQL_I_NONE) return 1;
    return a->scope == b->scope && strcmp(a->name, b->name) == 0;
}

static const char *intrinsic_text(tql_intrinsic in)
{
    switch (in) {
    case TQL_I_NAME: return "name";
    case TQL_I_STATUS: return "status";
    case TQL_I_STATUS_MESSAGE: return "statusMessage";
    case TQL_I_DURATION: return "duration";
    case TQL_I_KIND: return "kind";
    case TQL_I_SPAN_ID: return "span:id";
    case TQL_I_PARENT_ID: return "span:parentID";
    case TQL_I_TRACE_ID: return "trace:id";
    case TQL_I_ROOT_NAME: return "rootName";
    case TQL_I_ROOT_SERVICE: return "rootServiceName";
    case TQL_I_TRACE_DURATION: return "traceDuration";
    case TQL_I_EVENT_NAME: return "event:name";
    case TQL_I_SCOPE_NAME: return "instrumentation:name";
    case TQL_I_SCOPE_VERSION: return "instrumentation:version";
    case TQL_I_NONE: break;
    }
    return "";
}

const char *tql__field_key(const tql_field *f)
{
    return f->intrinsic == TQL_I_NONE ? f->name : intrinsic_text(f->intrinsic);
}

tql_type tql__field_type(const tql_field *f)
{
    switch (f->intrinsic) {
    case TQL_I_NONE: return TQL_NIL;
    case TQL_I_STATUS: return TQL_STATUS;
    case TQL_I_KIND: return TQL_KIND;
    case TQL_I_DURATION: case TQL_I_TRACE_DURATION: return TQL_DURATION;
    default: return TQL_STRING;
    }
}

void tql_fieldref_info(const tql_fieldref *f, tql_fieldinfo *out)
{
    out->is_intrinsic = f->field.intrinsic != TQL_I_NONE;
    out->scope = f->field.scope;
    out->name = tql__field_key(&f->field);
    out->type = tql__field_type(&f->field);
}

/* ---- comparison ------------------------------------------------------ */

static int cmp_result(int c, tql_tok_type op)
{
    switch (op) {
    case TQL_TOK_EQ: return c == 0;
    case TQL_TOK_NE: return c != 0;
    case TQL_TOK_GT: return c > 0;
    case TQL_TOK_GE: return c >= 0;
    case TQL_TOK_LT: return c < 0;
    case TQL_TOK_LE: return c <= 0;
    default: return 0;
    }
}

static int is_number(tql_type t) { return t == TQL_INT || t == TQL_FLOAT; }
static double as_double(const tql_value *v) { return v->type == TQL_INT ? (double)v->v.i : v->v.f; }

int tql_compare(const tql_value *a, tql_tok_type op, const tql_value *b)
{
    if (a->type == TQL_NIL || b->type == TQL_NIL) {
        /* "x = nil": absent; "x != nil": present (traceql.h). */
        if (b->type != TQL_NIL) return 0;
        return op == TQL_TOK_EQ ? a->type == TQL_NIL : op == TQL_TOK_NE ? a->type != TQL_NIL : 0;
    }
    if (is_number(a->type) && is_number(b->type)) {
        if (a->type == TQL_INT && b->type == TQL_INT)
            return cmp_result((a->v.i > b->v.i) - (a->v.i < b->v.i), op);
        double x = as_double(a), y = as_double(b);
        if (x != x || y != y) return op == TQL_TOK_NE;
        return cmp_result((x > y) - (x < y), op);
    }
    if (a->type != b->type) return 0;
    switch (a->type) {
    case TQL_STRING: return cmp_result(strcmp(a->v.s, b->v.s), op);
    case TQL_DURATION: return cmp_result((a->v.i > b->v.i) - (a->v.i < b->v.i), op);
    case TQL_BOOL:
    case TQL_STATUS:
    case TQL_KIND: {
        int64_t x = a->type == TQL_BOOL ? a->v.b : a->v.i, y = b->type == TQL_BOOL ? b->v.b : b->v.i;
        if (op != TQL_TOK_EQ && op != TQL_TOK_NE) return 0;
        return cmp_result(x != y, op);
    }
    default: return 0;
    }
}

/* ---- span attributes for results ------------------------------------- */

size_t tql_span_attrs(const tql_query *q, const tql_trace *t, size_t i, tql_attr *out, size_t max)
{
    size_t n = 0;
    for (size_t k = 0; k < q->nout; k++) {
        const tql_field *f = &q->out[k];
        tql_value v = tql__field_value(f, t, i);
        if (v.type == TQL_NIL) continue;
        if (f->intrinsic == TQL_I_STATUS_MESSAGE && !v.v.s[0]) continue;
        if (v.type == TQL_STATUS) v = str_value(tql_status_name((int)v.v.i));
        else if (v.type == TQL_KIND) v = str_value(tql_kind_name((int)v.v.i));
        if (v.type == TQL_STRING && !v.v.s) continue; /* out-of-range status/kind */
        if (n < max) {
            out[n].key = tql__field_key(f);
            out[n].val = v;
        }
        n++;
    }
    return n;
}

/* ---- canonical form -------------------------------------------------- */

typedef struct fmt_buf {
    char *buf;
    size_t cap, len;   /* len counts what would have been written */
} fmt_buf;

static void put(fmt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(fmt_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->len < b->cap ? b->cap - b->len : 0;
    int n = vsnprintf(room ? b->buf + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0) b->len += (size_t)n;
}

static void put_quoted(fmt_buf *b, const char *s)
{
    put(b, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') put(b, "\\%c", *s);
        else if (*s == '\n') put(b, "\\n");
        else if (*s == '\t') put(b, "\\t");
        else if (*s == '\r') put(b, "\\r");
        else put(b, "%c", *s);
    }
    put(b, "\"");
}

static void put_field(fmt_buf *b, const tql_field *f)
{
    static const char *const prefixes[] = {".", "span.", "resource.", "event.", "instrumentation."};
    if (f->intrinsic != TQL_I_NONE) {
        put(b, "%s", intrinsic_text(f->intrinsic));
        return;
    }
    put(b, "%s", prefixes[f->scope]);
    int plain = f->name[0] != '\0';
    for (const char *c = f->name; *c; c++)
        if (!tql_is_name_char(*c)) plain = 0;
    if (plain) put(b, "%s", f->name);
    else put_quoted(b, f->name);
}

/* The shortest decimal that reads back as f. TraceQL has no exponent
 * notation, so a number %g would write as 8.9e+16 is written out. */
static void put_float(fmt_buf *b, double f)
{
    char num[720];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(num, sizeof num, "%.*g", prec, f);
        if (strtod(num, NULL) == f) break;
    }
    if (strchr(num, 'e') && isfinite(f))
        for (int prec = 1; prec <= 400; prec++) {
            snprintf(num, sizeof num, "%.*f", prec, f);
            if (strtod(num, NULL) == f) break;
        }
    put(b, "%s%s", num, strpbrk(num, ".en") ? "" : ".0");
}

static void put_value(fmt_buf *b, const tql_value *v)
{
    char tmp[EX_DURATION_STR_MAX];
    switch (v->type) {
    case TQL_NIL: put(b, "nil"); break;
    case TQL_STRING: put_quoted(b, v->v.s); break;
    case TQL_INT: put(b, "%" PRId64, v->v.i); break;
    case TQL_FLOAT: put_float(b, v->v.f); break;
    case TQL_BOOL: put(b, "%s", v->v.b ? "true" : "false"); break;
    case TQL_DURATION: put(b, "%s", ex_duration_format(v->v.i, tmp)); break;
    case TQL_STATUS: put(b, "%s", tql_status_name((int)v->v.i)); break;
    case TQL_KIND: put(b, "%s", tql_kind_name((int)v->v.i)); break;
    }
}

size_t tql__field_text(const tql_field *f, char *buf, size_t buflen)
{
    fmt_buf b = {buf, buflen, 0};
    if (buflen) buf[0] = '\0';
    put_field(&b, f);
    return b.len;
}

static void put_cond(fmt_buf *b, const tql_cond *c);

/* A left-leaning chain of one operator, as the parser builds it from
 * "a && b && c", is written flat inside one pair of brackets: bracketing
 * every link would nest a long chain past the parser's depth limit. */
static void put_cond_chain(fmt_buf *b, const tql_cond *c, tql_cond_kind kind)
{
    if (c->kind != kind) {
        put_cond(b, c);
        return;
    }
    put_cond_chain(b, c->l, kind);
    put(b, kind == TQL_C_AND ? " && " : " || ");
    put_cond(b, c->r);
}

static void put_cond(fmt_buf *b, const tql_cond *c)
{
    switch (c->kind) {
    case TQL_C_CMP:
        put_field(b, &c->field);
        put(b, " %s ", tql__op_text(c->op));
        put_value(b, &c->lit);
        break;
    case TQL_C_NOT:
        put(b, "!");
        put_cond(b, c->l);
        break;
    case TQL_C_AND:
    case TQL_C_OR:
        put(b, "(");
        put_cond_chain(b, c, c->kind);
        put(b, ")");
        break;
    }
}

static void put_set(fmt_buf *b, const tql_set *s);

static const char *rel_text(tql_rel rel, tql_join join)
{
    static const char *const ops[][3] = {
        [TQL_R_CHILD] = {">", "!>", "&>"},   [TQL_R_PARENT] = {"<", "!<", "&<"},
        [TQL_R_DESC] = {">>", "!>>", "&>>"}, [TQL_R_ANCE] = {"<<", "!<<", "&<<"},
        [TQL_R_SIBL] = {"~", "!~", "&~"},
    };
    return ops[rel][join];
}

/* Spansets chained with one operator, written flat (see put_cond_chain);
 * structural operators share one level, so a chain of any of them is. */
static void put_set_chain(fmt_buf *b, const tql_set *s, tql_set_kind kind)
{
    if (s->kind != kind) {
        put_set(b, s);
        return;
    }
    put_set_chain(b, s->l, kind);
    put(b, " %s ", kind == TQL_S_AND ? "&&" : kind == TQL_S_OR ? "||" : rel_text(s->rel, s->join));
    put_set(b, s->r);
}

static void put_set(fmt_buf *b, const tql_set *s)
{
    if (s->kind == TQL_S_FILTER) {
        put(b, "{");
        if (s->cond) put_cond(b, s->cond);
        put(b, "}");
        return;
    }
    put(b, "(");
    put_set_chain(b, s, s->kind);
    put(b, ")");
}

static void put_stage(fmt_buf *b, const tql_query *q, const tql_stage *st)
{
    put(b, " | ");
    switch (st->kind) {
    case TQL_P_SELECT:
        put(b, "select(");
        for (size_t i = 0; i < st->nsel; i++) {
            if (i) put(b, ", ");
            put_field(b, &q->select[st->sel_first + i]);
        }
        put(b, ")");
        break;
    case TQL_P_SET: put_set(b, st->set); break;
    case TQL_P_SCALAR:
        put(b, "%s %s ", st->label, tql__op_text(st->op));
        put_value(b, &st->lit);
        break;
    case TQL_P_BY: put(b, "%s", st->label); break;
    case TQL_P_COALESCE: put(b, "coalesce()"); break;
    }
}

size_t tql_format(const tql_query *q, char *buf, size_t buflen)
{
    fmt_buf b = {buf, buflen, 0};
    if (buflen) buf[0] = '\0';
    put_set(&b, q->root);
    for (size_t i = 0; i < q->nstages; i++) put_stage(&b, q, &q->stages[i]);
    return b.len;
}

int tql_is_match_all(const tql_query *q)
{
    return q->root->kind == TQL_S_FILTER && q->root->cond == NULL && !q->filters;
}

static const tql_cond *required_eq_in_cond(const tql_cond *c)
{
    if (!c) return NULL;
    if (c->kind == TQL_C_AND) {
        const tql_cond *l = required_eq_in_cond(c->l);
        return l ? l : required_eq_in_cond(c->r);
    }
    int eq = c->kind == TQL_C_CMP && c->op == TQL_TOK_EQ && c->field.intrinsic == TQL_I_NONE &&
             c->field.scope == TQL_SCOPE_SPAN && c->lit.type == TQL_STRING;
    return eq ? c : NULL; /* OR and NOT promise nothing about one span */
}

static const tql_cond *required_eq_in_set(const tql_set *s)
{
    if (s->kind == TQL_S_FILTER) return required_eq_in_cond(s->cond);
    /* && and the structural operators yield spans only when both sides
     * do; a negated one (!>>) only needs its right side. */
    if (s->kind == TQL_S_AND || (s->kind == TQL_S_REL && s->join != TQL_J_NOT)) {
        const tql_cond *l = required_eq_in_set(s->l);
        return l ? l : required_eq_in_set(s->r);
    }
    if (s->kind == TQL_S_REL) return required_eq_in_set(s->r);
    return NULL;
}

int tql_required_span_eq(const tql_query *q, const char **key, const char **value)
{
    const tql_cond *c = required_eq_in_set(q->root);
    if (!c) return 0;
    *key = c->field.name;
    *value = c->lit.v.s;
    return 1;
}
