/* traceql_parse.c — recursive-descent parser for the TraceQL subset of
 * traceql.h (grammar there; Tempo's docs/sources/tempo/traceql). Every
 * error names the 1-based column and what was expected. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/traceql_int.h"

typedef tql_parser parser;

#define perr tql__perr
#define expected tql__expected
#define advance tql__advance
#define parse_field tql__parse_field
#define parse_sets tql__parse_sets
#define set_free tql__set_free

int tql__perr(parser *p, size_t pos, const char *fmt, ...)
{
    if (p->failed) return -1;
    p->failed = 1;
    int n = snprintf(p->err, p->errlen, "position %zu: ", pos);
    if (n >= 0 && (size_t)n < p->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int tql__expected(parser *p, const char *what)
{
    char got[96];
    tql__tok_describe(&p->tok, p->lx.q, got, sizeof got);
    return perr(p, p->tok.pos, "expected %s, got %s", what, got);
}

int tql__advance(parser *p)
{
    if (tql__lex_next(&p->lx, &p->tok, p->err, p->errlen) < 0) {
        p->failed = 1;
        return -1;
    }
    return 0;
}

static int enter(parser *p)
{
    if (++p->depth > TQL_DEPTH_MAX) return perr(p, p->tok.pos, "nesting deeper than %d levels", TQL_DEPTH_MAX);
    return 0;
}

/* ---- freeing --------------------------------------------------------- */

static void cond_free(tql_cond *c)
{
    if (!c) return;
    cond_free(c->l);
    cond_free(c->r);
    ex_free(c->field.name);
    ex_free(c->lit_str);
    if (c->has_re) regfree(&c->re);
    ex_free(c);
}

void tql__set_free(tql_set *s)
{
    if (!s) return;
    cond_free(s->cond);
    set_free(s->l);
    set_free(s->r);
    ex_free(s);
}

void tql_free(tql_query *q)
{
    if (!q) return;
    set_free(q->root);
    for (size_t i = 0; i < q->nstages; i++) tql__stage_free(&q->stages[i]);
    ex_free(q->stages);
    for (size_t i = 0; i < q->nselect; i++) ex_free(q->select[i].name);
    ex_free(q->select);
    ex_free(q->out);
    ex_free(q);
}

/* ---- fields ---------------------------------------------------------- */

static const struct { const char *word; tql_intrinsic in; } bare_intrinsics[] = {
    {"name", TQL_I_NAME}, {"status", TQL_I_STATUS}, {"statusMessage", TQL_I_STATUS_MESSAGE},
    {"duration", TQL_I_DURATION}, {"kind", TQL_I_KIND}, {"rootName", TQL_I_ROOT_NAME},
    {"rootServiceName", TQL_I_ROOT_SERVICE}, {"traceDuration", TQL_I_TRACE_DURATION},
};

static const struct { const char *word; tql_intrinsic in; } scoped_intrinsics[] = {
    {"span:name", TQL_I_NAME}, {"span:status", TQL_I_STATUS}, {"span:statusMessage", TQL_I_STATUS_MESSAGE},
    {"span:duration", TQL_I_DURATION}, {"span:kind", TQL_I_KIND}, {"span:id", TQL_I_SPAN_ID},
    {"span:parentID", TQL_I_PARENT_ID}, {"trace:id", TQL_I_TRACE_ID}, {"trace:rootName", TQL_I_ROOT_NAME},
    {"trace:rootService", TQL_I_ROOT_SERVICE}, {"trace:duration", TQL_I_TRACE_DURATION},
    {"event:name", TQL_I_EVENT_NAME}, {"instrumentation:name", TQL_I_SCOPE_NAME},
    {"instrumentation:version", TQL_I_SCOPE_VERSION},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int is_value_word(const char *w);

int tql__parse_field(parser *p, tql_field *f)
{
    memset(f, 0, sizeof *f);
    const tql_token *t = &p->tok;
    if (t->type == TQL_TOK_ATTR) {
        f->scope = t->scope;
        if (!(f->name = ex_strdup(t->text))) return perr(p, t->pos, "out of memory");
        if (advance(p) == 0) return 0;
        ex_free(f->name); /* the next token did not lex: the caller sees no field */
        f->name = NULL;
        return -1;
    }
    if (t->type == TQL_TOK_SCOPED) {
        for (size_t k = 0; k < COUNT(scoped_intrinsics); k++)
            if (strcmp(t->text, scoped_intrinsics[k].word) == 0) {
                f->intrinsic = scoped_intrinsics[k].in;
                return advance(p);
            }
        return perr(p, t->pos, "unknown intrinsic \"%s\"", t->text);
    }
    if (t->type == TQL_TOK_WORD) {
        for (size_t k = 0; k < COUNT(bare_intrinsics); k++)
            if (strcmp(t->text, bare_intrinsics[k].word) == 0) {
                f->intrinsic = bare_intrinsics[k].in;
                return advance(p);
            }
        if (!is_value_word(t->text))
            return perr(p, t->pos,
                        "unknown intrinsic \"%s\"; an attribute needs a scope, as in span.%s, resource.%s or .%s",
                        t->text, t->text, t->text, t->text);
    }
    return expected(p, "a field (an attribute such as span.x, resource.x or .x, or an intrinsic such as name)");
}

/* ---- literals -------------------------------------------------------- */

static const struct { const char *word; tql_type type; int64_t v; } value_words[] = {
    {"true", TQL_BOOL, 1}, {"false", TQL_BOOL, 0}, {"nil", TQL_NIL, 0},
    {"ok", TQL_STATUS, 1}, {"error", TQL_STATUS, 2}, {"unset", TQL_STATUS, 0},
    {"unspecified", TQL_KIND, 0}, {"internal", TQL_KIND, 1}, {"server", TQL_KIND, 2},
    {"client", TQL_KIND, 3}, {"producer", TQL_KIND, 4}, {"consumer", TQL_KIND, 5},
};

static int is_value_word(const char *w)
{
    for (size_t k = 0; k < COUNT(value_words); k++)
        if (strcmp(w, value_words[k].word) == 0) return 1;
    return 0;
}

#define VALUE_EXPECTED "a value (a string, number, duration, true, false, nil, ok, error, unset or a span kind)"

/* Parse the literal after the operator of c. */
/* Why a regular expression is refused before regcomp, or NULL. glibc's
 * regcomp expands counted repetitions and stacked quantifiers into NFA
 * nodes, so "a+++…" or "((a{999}){999}){999}" would take gigabytes.
 * Like Tempo's Go regexp, refuse nested repetition ("a**") and counts
 * above 1000; and refuse an estimated expansion above REGEX_MAX_COST
 * nodes (a workflow-id pattern such as [0-9a-f]{8}-… costs about 40). */
#define REGEX_MAX_COST 20000.0
#define REGEX_MAX_DEPTH 32
static const char *regex_refused(const char *re)
{
    double cost[REGEX_MAX_DEPTH + 1] = {0}, last = 0; /* cost per group level; the last atom's */
    int depth = 0, after_quantifier = 0;
    for (const char *c = re; *c; c++) {
        double times = 0;
        if (*c == '*' || *c == '+' || *c == '?') {
            times = 2;
        } else if (*c == '{' && (c[1] >= '0' && c[1] <= '9')) {
            char *end;
            long lo = strtol(c + 1, &end, 10), hi = lo;
            if (lo > 1000) return "repetition count above 1000"; /* before lo + 1 */
            if (*end == ',') hi = end[1] == '}' ? lo + 1 : strtol(end + 1, &end, 10);
            else if (*end != '}') hi = lo;
            if (lo > 1000 || hi > 1000) return "repetition count above 1000";
            times = hi > 1 ? (double)hi : 1;
            c = strchr(c, '}') ? strchr(c, '}') : c + strlen(c) - 1;
        }
        if (times > 0) {
            if (after_quantifier) return "invalid nested repetition operator";
            cost[depth] += last * (times - 1);
            last *= times;
            after_quantifier = 1;
        } else {
            after_quantifier = 0;
            if (*c == '(') {
                if (++depth > REGEX_MAX_DEPTH) return "groups nested too deeply";
                cost[depth] = 0;
                continue;
            }
            if (*c == ')' && depth > 0) {
                last = cost[depth--];
                cost[depth] += last;
                continue;
            }
            if (*c == '\\' && c[1]) c++;
            else if (*c == '[') { /* a bracket expression is one atom */
                const char *close = strchr(c + (c[1] == ']' ? 2 : 1), ']');
                if (close) c = close;
            }
            last = 1;
            cost[depth] += 1;
        }
        if (cost[depth] > REGEX_MAX_COST) return "too costly to compile (counted repetitions expand too far)";
    }
    return NULL;
}

static int parse_literal(parser *p, tql_cond *c)
{
    const tql_token *t = &p->tok;
    int is_re = c->op == TQL_TOK_RE || c->op == TQL_TOK_NRE;
    if (is_re && t->type != TQL_TOK_STRING) {
        char what[80];
        snprintf(what, sizeof what, "a string (the regular expression) after %s", tql__op_text(c->op));
        return expected(p, what);
    }
    switch (t->type) {
    case TQL_TOK_STRING:
        if (!(c->lit_str = ex_strdup(t->text))) return perr(p, t->pos, "out of memory");
        c->lit.type = TQL_STRING;
        c->lit.v.s = c->lit_str;
        break;
    case TQL_TOK_INT: c->lit.type = TQL_INT; c->lit.v.i = t->i; break;
    case TQL_TOK_FLOAT: c->lit.type = TQL_FLOAT; c->lit.v.f = t->f; break;
    case TQL_TOK_DURATION: c->lit.type = TQL_DURATION; c->lit.v.i = t->i; break;
    case TQL_TOK_WORD: {
        size_t k = 0;
        while (k < COUNT(value_words) && strcmp(t->text, value_words[k].word) != 0) k++;
        if (k == COUNT(value_words)) return expected(p, VALUE_EXPECTED);
        c->lit.type = value_words[k].type;
        if (c->lit.type == TQL_BOOL) c->lit.v.b = (int)value_words[k].v;
        else c->lit.v.i = value_words[k].v;
        if (c->lit.type == TQL_NIL && c->op != TQL_TOK_EQ && c->op != TQL_TOK_NE)
            return perr(p, t->pos, "nil can only be compared with = or !=, not %s", tql__op_text(c->op));
        break;
    }
    default:
        return expected(p, VALUE_EXPECTED);
    }
    if (is_re) {
        const char *refused = regex_refused(c->lit_str);
        if (refused) return perr(p, t->pos, "bad regular expression \"%.60s\": %s", c->lit_str, refused);
        size_t n = strlen(c->lit_str);
        char *anchored = ex_malloc(n + 5);
        if (!anchored) return perr(p, t->pos, "out of memory");
        snprintf(anchored, n + 5, "^(%s)$", c->lit_str);
        int rc = regcomp(&c->re, anchored, REG_EXTENDED | REG_NOSUB);
        ex_free(anchored);
        if (rc != 0) {
            char why[128];
            regerror(rc, NULL, why, sizeof why);
            return perr(p, t->pos, "bad regular expression \"%.60s\": %s", c->lit_str, why);
        }
        c->has_re = 1;
    }
    return advance(p);
}

/* ---- conditions ------------------------------------------------------ */

static tql_cond *parse_cond(parser *p);

static tql_cond *new_cond(parser *p, tql_cond_kind kind)
{
    tql_cond *c = ex_calloc(1, sizeof *c);
    if (!c) perr(p, p->tok.pos, "out of memory");
    else c->kind = kind;
    return c;
}

static int is_op(tql_tok_type t) { return t >= TQL_TOK_EQ && t <= TQL_TOK_NRE; }

static tql_cond *parse_cmp(parser *p)
{
    tql_cond *c = new_cond(p, TQL_C_CMP);
    if (!c) return NULL;
    if (parse_field(p, &c->field) < 0) goto fail;
    if (!is_op(p->tok.type)) {
        expected(p, "an operator (=, !=, >, >=, <, <=, =~, !~)");
        goto fail;
    }
    c->op = p->tok.type;
    if (advance(p) < 0 || parse_literal(p, c) < 0) goto fail;
    return c;
fail:
    cond_free(c);
    return NULL;
}

/* Expect the closing token of a group opened at open_pos. */
static int close_group(parser *p, tql_tok_type closer, const char *open_text, size_t open_pos)
{
    if (p->tok.type == closer) {
        p->depth--;
        return advance(p);
    }
    char what[128];
    snprintf(what, sizeof what, "\"&&\", \"||\" or \"%s\" to close the \"%s\" at position %zu",
             closer == TQL_TOK_RBRACE ? "}" : ")", open_text, open_pos);
    return expected(p, what);
}

static tql_cond *parse_unary(parser *p)
{
    if (p->tok.type == TQL_TOK_NOT) {
        if (enter(p) < 0 || advance(p) < 0) return NULL;
        tql_cond *c = new_cond(p, TQL_C_NOT);
        if (!c) return NULL;
        if (!(c->l = parse_unary(p))) {
            cond_free(c);
            return NULL;
        }
        p->depth--;
        return c;
    }
    if (p->tok.type == TQL_TOK_LPAREN) {
        size_t open = p->tok.pos;
        if (enter(p) < 0 || advance(p) < 0) return NULL;
        tql_cond *c = parse_cond(p);
        if (c && close_group(p, TQL_TOK_RPAREN, "(", open) < 0) {
            cond_free(c);
            return NULL;
        }
        return c;
    }
    return parse_cmp(p);
}

/* One level of a binary operator chain (left-associative). */
static tql_cond *parse_chain(parser *p, tql_tok_type op, tql_cond_kind kind, tql_cond *(*sub)(parser *))
{
    tql_cond *l = sub(p);
    while (l && p->tok.type == op) {
        tql_cond *c = new_cond(p, kind);
        if (!c || advance(p) < 0) {
            cond_free(c);
            cond_free(l);
            return NULL;
        }
        c->l = l;
        if (!(c->r = sub(p))) {
            cond_free(c);
            return NULL;
        }
        l = c;
    }
    return l;
}

static tql_cond *parse_and(parser *p) { return parse_chain(p, TQL_TOK_AND, TQL_C_AND, parse_unary); }
static tql_cond *parse_cond(parser *p) { return parse_chain(p, TQL_TOK_OR, TQL_C_OR, parse_and); }

/* ---- spansets -------------------------------------------------------- */

static tql_set *new_set(parser *p, tql_set_kind kind)
{
    tql_set *s = ex_calloc(1, sizeof *s);
    if (!s) perr(p, p->tok.pos, "out of memory");
    else s->kind = kind;
    return s;
}

static tql_set *parse_set_primary(parser *p)
{
    size_t open = p->tok.pos;
    if (p->tok.type == TQL_TOK_LPAREN) {
        if (enter(p) < 0 || advance(p) < 0) return NULL;
        tql_set *s = parse_sets(p);
        if (s && close_group(p, TQL_TOK_RPAREN, "(", open) < 0) {
            set_free(s);
            return NULL;
        }
        return s;
    }
    if (p->tok.type != TQL_TOK_LBRACE) {
        expected(p, "a spanset filter such as { name = \"x\" } or {}");
        return NULL;
    }
    tql_set *s = new_set(p, TQL_S_FILTER);
    if (!s || enter(p) < 0 || advance(p) < 0) goto fail;
    if (p->tok.type != TQL_TOK_RBRACE && !(s->cond = parse_cond(p))) goto fail;
    if (close_group(p, TQL_TOK_RBRACE, "{", open) < 0) goto fail;
    return s;
fail:
    set_free(s);
    return NULL;
}

/* The structural operator a token is, if any. */
static int rel_of(tql_tok_type t, tql_rel *rel, tql_join *join)
{
    static const struct { tql_tok_type tok; tql_rel rel; tql_join join; } ops[] = {
        {TQL_TOK_GT, TQL_R_CHILD, TQL_J_PLAIN}, {TQL_TOK_LT, TQL_R_PARENT, TQL_J_PLAIN},
        {TQL_TOK_DESC, TQL_R_DESC, TQL_J_PLAIN}, {TQL_TOK_ANCE, TQL_R_ANCE, TQL_J_PLAIN},
        {TQL_TOK_TILDE, TQL_R_SIBL, TQL_J_PLAIN}, {TQL_TOK_NOT_CHILD, TQL_R_CHILD, TQL_J_NOT},
        {TQL_TOK_NOT_PARENT, TQL_R_PARENT, TQL_J_NOT}, {TQL_TOK_NOT_DESC, TQL_R_DESC, TQL_J_NOT},
        {TQL_TOK_NOT_ANCE, TQL_R_ANCE, TQL_J_NOT}, {TQL_TOK_NRE, TQL_R_SIBL, TQL_J_NOT},
        {TQL_TOK_UNION_CHILD, TQL_R_CHILD, TQL_J_UNION}, {TQL_TOK_UNION_PARENT, TQL_R_PARENT, TQL_J_UNION},
        {TQL_TOK_UNION_DESC, TQL_R_DESC, TQL_J_UNION}, {TQL_TOK_UNION_ANCE, TQL_R_ANCE, TQL_J_UNION},
        {TQL_TOK_UNION_SIBL, TQL_R_SIBL, TQL_J_UNION},
    };
    for (size_t k = 0; k < COUNT(ops); k++)
        if (ops[k].tok == t) {
            *rel = ops[k].rel;
            *join = ops[k].join;
            return 1;
        }
    return 0;
}

/* Whether the current token continues a chain of `kind`, setting the
 * operator of a structural node. */
static int continues(const parser *p, tql_set_kind kind, tql_set *s)
{
    if (kind != TQL_S_REL) return p->tok.type == (kind == TQL_S_AND ? TQL_TOK_AND : TQL_TOK_OR);
    return rel_of(p->tok.type, &s->rel, &s->join);
}

/* One level of a left-associative chain of spanset operators. Structural
 * operators share one level, binding tighter than && and ||, as in Tempo. */
static tql_set *parse_set_chain(parser *p, tql_set_kind kind, tql_set *(*sub)(parser *))
{
    tql_set *l = sub(p), probe = {0};
    while (l && continues(p, kind, &probe)) {
        tql_set *s = new_set(p, kind);
        if (!s || advance(p) < 0) {
            set_free(s);
            set_free(l);
            return NULL;
        }
        s->rel = probe.rel;
        s->join = probe.join;
        s->l = l;
        if (!(s->r = sub(p))) {
            set_free(s);
            return NULL;
        }
        l = s;
    }
    return l;
}

static tql_set *parse_set_rel(parser *p) { return parse_set_chain(p, TQL_S_REL, parse_set_primary); }
static tql_set *parse_set_and(parser *p) { return parse_set_chain(p, TQL_S_AND, parse_set_rel); }
tql_set *tql__parse_sets(parser *p) { return parse_set_chain(p, TQL_S_OR, parse_set_and); }

/* After the spansets: what may follow. */
static int trailing(parser *p)
{
    return expected(p, "\"&&\", \"||\", a structural operator such as \">>\", \"|\" or end of query");
}

/* ---- output fields --------------------------------------------------- */

/* Whether f is returned with matched spans (tql_span_attrs). */
static int is_output_field(const tql_field *f)
{
    switch (f->intrinsic) {
    case TQL_I_NONE: return f->scope != TQL_SCOPE_EVENT;
    case TQL_I_STATUS: case TQL_I_STATUS_MESSAGE: case TQL_I_KIND:
    case TQL_I_SCOPE_NAME: case TQL_I_SCOPE_VERSION:
        return 1;
    default: return 0;
    }
}

static int add_out(tql_query *q, const tql_field *f)
{
    if (!is_output_field(f)) return 0;
    for (size_t i = 0; i < q->nout; i++)
        if (strcmp(tql__field_key(&q->out[i]), tql__field_key(f)) == 0) return 0;
    tql_field *grown = ex_realloc(q->out, (q->nout + 1) * sizeof *grown);
    if (!grown) return -1;
    q->out = grown;
    q->out[q->nout++] = *f;
    return 0;
}

static int collect_cond(tql_query *q, const tql_cond *c)
{
    if (!c) return 0;
    if (c->kind == TQL_C_CMP) return add_out(q, &c->field);
    return collect_cond(q, c->l) < 0 || collect_cond(q, c->r) < 0 ? -1 : 0;
}

static int collect_set(tql_query *q, const tql_set *s)
{
    if (!s) return 0;
    if (s->kind == TQL_S_FILTER) return collect_cond(q, s->cond);
    return collect_set(q, s->l) < 0 || collect_set(q, s->r) < 0 ? -1 : 0;
}

static int collect_out(tql_query *q)
{
    if (collect_set(q, q->root) < 0) return -1;
    for (size_t i = 0; i < q->nstages; i++) {
        const tql_stage *st = &q->stages[i];
        if (st->kind == TQL_P_SET && collect_set(q, st->set) < 0) return -1;
        if ((st->kind == TQL_P_BY || (st->kind == TQL_P_SCALAR && st->agg != TQL_A_COUNT)) &&
            add_out(q, &st->field) < 0)
            return -1;
        if (st->kind == TQL_P_SELECT)
            for (size_t k = st->sel_first; k < st->sel_first + st->nsel; k++)
                if (add_out(q, &q->select[k]) < 0) return -1;
    }
    return 0;
}

/* ---- entry ----------------------------------------------------------- */

int tql_parse(const char *text, tql_query **out, char *err, size_t errlen)
{
    parser p = {.lx = {text, 0}, .err = err, .errlen = errlen};
    *out = NULL;
    if (errlen) err[0] = '\0';
    if (strlen(text) > TQL_QUERY_MAX) return perr(&p, 1, "query longer than %d bytes", TQL_QUERY_MAX);
    tql_query *q = ex_calloc(1, sizeof *q);
    if (!q) return perr(&p, 1, "out of memory");
    p.q = q;
    if (advance(&p) < 0 || !(q->root = parse_sets(&p))) goto fail;
    while (p.tok.type == TQL_TOK_PIPE) {
        if (advance(&p) < 0 || tql__parse_stage(&p) < 0) goto fail;
    }
    if (p.tok.type != TQL_TOK_EOF) {
        trailing(&p);
        goto fail;
    }
    if (collect_out(q) < 0) {
        perr(&p, 1, "out of memory");
        goto fail;
    }
    *out = q;
    return 0;
fail:
    tql_free(q);
    return -1;
}

int tql_fieldref_parse(const char *text, tql_fieldref **out, char *err, size_t errlen)
{
    parser p = {.lx = {text, 0}, .err = err, .errlen = errlen};
    *out = NULL;
    if (errlen) err[0] = '\0';
    if (strlen(text) > TQL_QUERY_MAX) return perr(&p, 1, "field longer than %d bytes", TQL_QUERY_MAX);
    tql_fieldref *f = ex_calloc(1, sizeof *f);
    if (!f) return perr(&p, 1, "out of memory");
    if (advance(&p) < 0 || parse_field(&p, &f->field) < 0) goto fail;
    if (p.tok.type != TQL_TOK_EOF) {
        expected(&p, "end of the field");
        goto fail;
    }
    *out = f;
    return 0;
fail:
    tql_fieldref_free(f);
    return -1;
}

void tql_fieldref_free(tql_fieldref *f)
{
    if (!f) return;
    ex_free(f->field.name);
    ex_free(f);
}
