/* traceql_stage.c — parsing the pipeline after the first spanset
 * expression ("| select(…)", "| by(f)", "| coalesce()", "| count() > 2",
 * "| avg(duration) > 5m", "| { … }"; grammar in traceql.h). Every error
 * names the 1-based column, like the rest of the parser. */
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "store/traceql_int.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

void tql__stage_free(tql_stage *st)
{
    tql__set_free(st->set);
    ex_free(st->field.name);
    ex_free(st->label);
    memset(st, 0, sizeof *st);
}

/* Append *st to the query (which then owns what st owns). */
static int push_stage(tql_parser *p, tql_stage *st)
{
    tql_query *q = p->q;
    tql_stage *grown = ex_realloc(q->stages, (q->nstages + 1) * sizeof *grown);
    if (!grown) {
        tql__stage_free(st);
        return tql__perr(p, p->tok.pos, "out of memory");
    }
    q->stages = grown;
    q->stages[q->nstages++] = *st;
    if (st->kind != TQL_P_SELECT) q->filters = 1;
    return 0;
}

/* Expect the current token to be `type` (described as `what`), then move on. */
static int want(tql_parser *p, tql_tok_type type, const char *what)
{
    if (p->tok.type != type) return tql__expected(p, what);
    return tql__advance(p);
}

/* "select" "(" field ( "," field )* ")", the current token being the word. */
static int parse_select(tql_parser *p)
{
    tql_query *q = p->q;
    tql_stage st = {.kind = TQL_P_SELECT, .sel_first = q->nselect};
    if (tql__advance(p) < 0) return -1;
    if (p->tok.type != TQL_TOK_LPAREN) return tql__expected(p, "\"(\" after select");
    do {
        if (tql__advance(p) < 0) return -1;
        tql_field f;
        if (tql__parse_field(p, &f) < 0) return -1;
        tql_field *grown = ex_realloc(q->select, (q->nselect + 1) * sizeof *grown);
        if (!grown) {
            ex_free(f.name);
            return tql__perr(p, p->tok.pos, "out of memory");
        }
        q->select = grown;
        q->select[q->nselect++] = f;
    } while (p->tok.type == TQL_TOK_COMMA);
    if (p->tok.type != TQL_TOK_RPAREN) return tql__expected(p, "\",\" or \")\" in select(...)");
    st.nsel = q->nselect - st.sel_first;
    return tql__advance(p) < 0 ? -1 : push_stage(p, &st);
}

/* "name(field)" as a spanset attribute key, into st->label. */
static int make_label(tql_parser *p, tql_stage *st, const char *name, size_t pos)
{
    char field[TQL_TOKEN_TEXT_MAX + 64] = "";
    int has_field = st->kind == TQL_P_BY || st->agg != TQL_A_COUNT;
    if (has_field) tql__field_text(&st->field, field, sizeof field);
    size_t n = strlen(name) + strlen(field) + 3;
    if (!(st->label = ex_malloc(n))) return tql__perr(p, pos, "out of memory");
    snprintf(st->label, n, "%s(%s)", name, field);
    return 0;
}

/* The field inside by(…) or an aggregate: one value per span. */
static int parse_stage_field(tql_parser *p, tql_stage *st, const char *fn)
{
    size_t pos = p->tok.pos;
    if (tql__parse_field(p, &st->field) < 0) return -1;
    const tql_field *f = &st->field;
    if (f->intrinsic == TQL_I_EVENT_NAME || (f->intrinsic == TQL_I_NONE && f->scope == TQL_SCOPE_EVENT))
        return tql__perr(p, pos, "%s() of an event field is not supported (a span has one value per event)", fn);
    if (st->kind == TQL_P_SCALAR && f->intrinsic != TQL_I_NONE && f->intrinsic != TQL_I_DURATION &&
        f->intrinsic != TQL_I_TRACE_DURATION)
        return tql__perr(p, pos, "%s() needs a numeric field (an attribute, duration or traceDuration), got \"%s\"",
                         fn, tql__field_key(f));
    return 0;
}

/* "by" "(" field ")", the current token being the word. */
static int parse_by(tql_parser *p)
{
    size_t pos = p->tok.pos;
    tql_stage st = {.kind = TQL_P_BY};
    if (tql__advance(p) < 0 || want(p, TQL_TOK_LPAREN, "\"(\" after by") < 0 || parse_stage_field(p, &st, "by") < 0)
        goto fail;
    if (p->tok.type == TQL_TOK_COMMA) {
        tql__perr(p, p->tok.pos, "by() takes one field; group by more with another | by(...)");
        goto fail;
    }
    if (want(p, TQL_TOK_RPAREN, "\")\" to close by(") < 0 || make_label(p, &st, "by", pos) < 0) goto fail;
    return push_stage(p, &st);
fail:
    tql__stage_free(&st);
    return -1;
}

static const struct { const char *word; tql_agg agg; } aggregates[] = {
    {"count", TQL_A_COUNT}, {"avg", TQL_A_AVG}, {"min", TQL_A_MIN}, {"max", TQL_A_MAX}, {"sum", TQL_A_SUM},
};

static int is_aggregate(const tql_token *t, tql_agg *agg)
{
    if (t->type != TQL_TOK_WORD) return 0;
    for (size_t k = 0; k < COUNT(aggregates); k++)
        if (strcmp(t->text, aggregates[k].word) == 0) {
            *agg = aggregates[k].agg;
            return 1;
        }
    return 0;
}

/* count() or avg|min|max|sum(field), the current token being the word. */
static int parse_aggregate(tql_parser *p, tql_stage *st)
{
    size_t pos = p->tok.pos;
    is_aggregate(&p->tok, &st->agg);
    const char *fn = aggregates[st->agg].word; /* the table is in enum order */
    if (tql__advance(p) < 0) return -1;
    char what[40];
    snprintf(what, sizeof what, "\"(\" after %s", fn);
    if (want(p, TQL_TOK_LPAREN, what) < 0) return -1;
    if (st->agg == TQL_A_COUNT) {
        if (p->tok.type != TQL_TOK_RPAREN) return tql__expected(p, "\")\": count() takes no field");
    } else if (parse_stage_field(p, st, fn) < 0) {
        return -1;
    }
    snprintf(what, sizeof what, "\")\" to close %s(", fn);
    if (want(p, TQL_TOK_RPAREN, what) < 0) return -1;
    return make_label(p, st, fn, pos);
}

static int is_scalar_op(tql_tok_type t) { return t >= TQL_TOK_EQ && t <= TQL_TOK_LE; }

/* A number or duration to compare an aggregate with, into st->lit. */
static int parse_number(tql_parser *p, tql_stage *st)
{
    const tql_token *t = &p->tok;
    switch (t->type) {
    case TQL_TOK_INT: st->lit.type = TQL_INT; st->lit.v.i = t->i; break;
    case TQL_TOK_FLOAT: st->lit.type = TQL_FLOAT; st->lit.v.f = t->f; break;
    case TQL_TOK_DURATION: st->lit.type = TQL_DURATION; st->lit.v.i = t->i; break;
    default: return tql__expected(p, "a number or duration to compare the aggregate with");
    }
    return tql__advance(p);
}

static int parse_scalar_op(tql_parser *p, tql_stage *st)
{
    if (!is_scalar_op(p->tok.type)) return tql__expected(p, "a comparison (=, !=, >, >=, <, <=)");
    st->op = p->tok.type;
    return tql__advance(p);
}

/* aggregate op number, or number op aggregate (stored the first way). */
static int parse_scalar(tql_parser *p)
{
    tql_stage st = {.kind = TQL_P_SCALAR};
    tql_agg agg;
    if (is_aggregate(&p->tok, &agg)) {
        if (parse_aggregate(p, &st) < 0 || parse_scalar_op(p, &st) < 0 || parse_number(p, &st) < 0) goto fail;
    } else {
        if (parse_number(p, &st) < 0 || parse_scalar_op(p, &st) < 0) goto fail;
        if (!is_aggregate(&p->tok, &agg)) {
            tql__expected(p, "an aggregate (count(), avg(), min(), max() or sum())");
            goto fail;
        }
        if (parse_aggregate(p, &st) < 0) goto fail;
        static const tql_tok_type flipped[] = {[TQL_TOK_EQ] = TQL_TOK_EQ, [TQL_TOK_NE] = TQL_TOK_NE,
                                               [TQL_TOK_GT] = TQL_TOK_LT, [TQL_TOK_GE] = TQL_TOK_LE,
                                               [TQL_TOK_LT] = TQL_TOK_GT, [TQL_TOK_LE] = TQL_TOK_GE};
        st.op = flipped[st.op];
    }
    return push_stage(p, &st);
fail:
    tql__stage_free(&st);
    return -1;
}

/* "coalesce" "(" ")". */
static int parse_coalesce(tql_parser *p)
{
    tql_stage st = {.kind = TQL_P_COALESCE};
    if (tql__advance(p) < 0 || want(p, TQL_TOK_LPAREN, "\"(\" after coalesce") < 0 ||
        want(p, TQL_TOK_RPAREN, "\")\": coalesce() takes nothing") < 0)
        return -1;
    return push_stage(p, &st);
}

/* A spanset expression as a stage: applied within each spanset. */
static int parse_set_stage(tql_parser *p)
{
    tql_stage st = {.kind = TQL_P_SET};
    if (!(st.set = tql__parse_sets(p))) return -1;
    return push_stage(p, &st);
}

/* Metrics functions belong to the metrics API, not to a search. */
static int is_metrics_function(const char *w)
{
    static const char *const fns[] = {"rate", "count_over_time", "min_over_time", "max_over_time",
                                      "avg_over_time", "sum_over_time", "quantile_over_time",
                                      "histogram_over_time", "compare", "topk", "bottomk"};
    for (size_t k = 0; k < COUNT(fns); k++)
        if (strcmp(w, fns[k]) == 0) return 1;
    return 0;
}

int tql__parse_stage(tql_parser *p)
{
    const tql_token *t = &p->tok;
    tql_agg agg;
    if (p->q->nstages >= TQL_STAGES_MAX) return tql__perr(p, t->pos, "more than %d pipeline stages", TQL_STAGES_MAX);
    if (t->type == TQL_TOK_LBRACE || t->type == TQL_TOK_LPAREN) return parse_set_stage(p);
    if (t->type == TQL_TOK_INT || t->type == TQL_TOK_FLOAT || t->type == TQL_TOK_DURATION || is_aggregate(t, &agg))
        return parse_scalar(p);
    if (t->type == TQL_TOK_WORD && strcmp(t->text, "select") == 0) return parse_select(p);
    if (t->type == TQL_TOK_WORD && strcmp(t->text, "by") == 0) return parse_by(p);
    if (t->type == TQL_TOK_WORD && strcmp(t->text, "coalesce") == 0) return parse_coalesce(p);
    if (t->type == TQL_TOK_WORD && is_metrics_function(t->text))
        return tql__perr(p, t->pos, "%s() is a TraceQL metrics function: ask /api/metrics/query_range, not a search",
                         t->text);
    if (t->type == TQL_TOK_WORD)
        return tql__perr(p, t->pos,
                         "unsupported pipeline stage \"%s\"; expected select(...), by(...), coalesce(), count(), "
                         "avg(), min(), max(), sum() or a spanset filter",
                         t->text);
    return tql__expected(p, "a pipeline stage (select(...), by(...), coalesce(), an aggregate such as count() > 1, "
                            "or a spanset filter) after \"|\"");
}
