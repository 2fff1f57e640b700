/* target_traceql.c — fuzz run for TraceQL (store/traceql.h): the query
 * text a user types into the search box or sends to /api/search. */
#include <string.h>

#include "core/mem.h"
#include "store/traceql.h"
#include "targets.h"
#include "targets_int.h"

#define TQL_FUZZ_TOKENS 256  /* token array given to tql_tokenize */
#define TQL_FUZZ_FORMAT 8192 /* canonical text buffer */

/* A fixed trace of the seed's shape with a value of every type: Workflow
 * (root) with DataLoader and Processor children, events, a scope; below
 * Processor a Call and a Query, and an orphan Call. */
static const tql_attr tq_res[] = {
    {"service.name", {TQL_STRING, {.s = "Tracing.Worker"}}},
    {"service.namespace", {TQL_STRING, {.s = "dev1"}}},
    {"shared", {TQL_STRING, {.s = "from-resource"}}},
};
static const tql_attr tq_wf[] = {
    {"workflowId", {TQL_STRING, {.s = "wf-1"}}},
    {"shared", {TQL_STRING, {.s = "from-span"}}},
    {"list", {TQL_NIL, {.i = 0}}},
};
static const tql_attr tq_dl[] = {
    {"type", {TQL_STRING, {.s = "DataLoader"}}}, {"retries", {TQL_INT, {.i = 3}}},
    {"ratio", {TQL_FLOAT, {.f = 0.75}}},         {"cached", {TQL_BOOL, {.b = 1}}},
    {"wait", {TQL_DURATION, {.i = 1500000000}}}, {"st", {TQL_STATUS, {.i = 2}}},
    {"k", {TQL_KIND, {.i = 3}}},                 {"", {TQL_STRING, {.s = ""}}},
};
static const tql_attr tq_pr[] = {
    {"type", {TQL_STRING, {.s = "Processor"}}},
    {"retries", {TQL_STRING, {.s = "3"}}},
    {"ratio", {TQL_INT, {.i = -1}}},
};
static const tql_attr tq_scope[] = {{"lib.tier", {TQL_STRING, {.s = "gold"}}}};
static const tql_attr tq_ev[] = {{"code", {TQL_INT, {.i = 42}}}, {"why", {TQL_STRING, {.s = "Failed. Error code: 7"}}}};
static const tql_event tq_wf_events[] = {{"Submitted", NULL, 0}, {"Processing", NULL, 0}, {"Failed", tq_ev, 2}};
static const tql_event tq_pr_events[] = {{"", tq_ev, 1}};

#define TQ_T0 INT64_C(1720162676000000000)
#define TQ_S  INT64_C(1000000000)
#define TQ_N(a) (sizeof(a) / sizeof((a)[0]))

static const tql_attr tq_call[] = {{"retries", {TQL_INT, {.i = 1}}}, {"ratio", {TQL_FLOAT, {.f = 2.5}}}};

/* Workflow > {DataLoader, Processor > Call > Query}, and an orphan Call
 * (its parent never arrived): depth 4 and siblings for >, >>, ~ …. */
static const tql_span tq_spans[] = {
    {{0, 0, 0, 0, 0, 0, 0, 1}, {0}, 0, "Workflow", 1, 2, "Entity failed: Processor", TQ_T0, TQ_T0 + 300 * TQ_S, tq_wf,
     TQ_N(tq_wf), tq_res, TQ_N(tq_res), "sample-tracing", "1.0", tq_scope, TQ_N(tq_scope), tq_wf_events,
     TQ_N(tq_wf_events)},
    {{0, 0, 0, 0, 0, 0, 0, 2}, {0, 0, 0, 0, 0, 0, 0, 1}, 1, "DataLoader", 1, 1, "", TQ_T0 + 5 * TQ_S,
     TQ_T0 + 100 * TQ_S, tq_dl, TQ_N(tq_dl), tq_res, TQ_N(tq_res), "sample-tracing", "1.0", tq_scope, TQ_N(tq_scope),
     NULL, 0},
    {{0, 0, 0, 0, 0, 0, 0, 3}, {0, 0, 0, 0, 0, 0, 0, 1}, 1, "Processor", 2, 2, "Failed. Error code: 7",
     TQ_T0 + 100 * TQ_S, TQ_T0 + 301 * TQ_S, tq_pr, TQ_N(tq_pr), NULL, 0, "", "", NULL, 0, tq_pr_events,
     TQ_N(tq_pr_events)},
    {{0, 0, 0, 0, 0, 0, 0, 4}, {0, 0, 0, 0, 0, 0, 0, 3}, 1, "Call", 3, 0, "", TQ_T0 + 110 * TQ_S, TQ_T0 + 120 * TQ_S,
     tq_call, TQ_N(tq_call), tq_res, TQ_N(tq_res), "sample-tracing", "1.0", NULL, 0, NULL, 0},
    {{0, 0, 0, 0, 0, 0, 0, 5}, {0, 0, 0, 0, 0, 0, 0, 4}, 1, "Query", 3, 2, "timeout", TQ_T0 + 111 * TQ_S,
     TQ_T0 + 112 * TQ_S, NULL, 0, tq_res, TQ_N(tq_res), "", "", NULL, 0, NULL, 0},
    {{0, 0, 0, 0, 0, 0, 0, 6}, {0, 0, 0, 0, 0, 0, 0, 9}, 1, "Call", 3, 1, "", TQ_T0 + 200 * TQ_S, TQ_T0 + 201 * TQ_S,
     tq_call, 1, tq_res, TQ_N(tq_res), "", "", NULL, 0, NULL, 0},
};

static void tq_trace(tql_trace *t)
{
    memset(t, 0, sizeof *t);
    t->trace_id[15] = 0x2a;
    t->spans = tq_spans;
    t->nspans = TQ_N(tq_spans);
    tql_trace_derive(t);
}

/* Every spanset of tql_eval_spansets is non-empty, ascending and within
 * the trace, its attributes have keys and strings; together they cover
 * exactly tql_eval's spans. */
static void tq_check_spansets(const tql_query *q, const tql_trace *t, const tql_match *m)
{
    tql_result r;
    unsigned char in[TQ_N(tq_spans)] = {0};
    if (tql_eval_spansets(q, t, &r)) fuzz__fail("traceql", "tql_eval_spansets failed without running out of memory");
    for (size_t k = 0; k < r.nsets; k++) {
        const tql_spanset *ss = &r.sets[k];
        if (!ss->nspans) fuzz__fail("traceql", "spanset %zu is empty", k);
        for (size_t i = 0; i < ss->nspans; i++) {
            if (ss->spans[i] >= t->nspans || (i && ss->spans[i] <= ss->spans[i - 1]))
                fuzz__fail("traceql", "spanset %zu is not ascending within the trace", k);
            in[ss->spans[i]] = 1;
        }
        for (size_t a = 0; a < ss->nattrs; a++)
            if (!ss->attrs[a].key || (ss->attrs[a].val.type == TQL_STRING && !ss->attrs[a].val.v.s))
                fuzz__fail("traceql", "spanset attribute %zu without a key or string", a);
    }
    size_t covered = 0;
    for (size_t i = 0; i < t->nspans; i++) covered += in[i];
    if (covered != m->nspans) fuzz__fail("traceql", "spansets cover %zu spans, tql_eval %zu", covered, m->nspans);
    for (size_t k = 0; k < m->nspans; k++)
        if (!in[m->spans[k]]) fuzz__fail("traceql", "span %zu of tql_eval is in no spanset", m->spans[k]);
    tql_result_free(&r);
}

/* tql_eval's set is ascending and in range, and agrees with
 * tql_span_matches span by span; tql_span_attrs stays within bounds;
 * tql_span_statuses has the status of every matched span. */
static void tq_check_eval(const tql_query *q, const tql_trace *t)
{
    tql_match m;
    tql_attr attrs[4];
    if (tql_eval(q, t, &m)) fuzz__fail("traceql", "tql_eval failed without running out of memory");
    if (m.matched != (m.nspans > 0)) fuzz__fail("traceql", "matched=%d with %zu spans", m.matched, m.nspans);
    for (size_t k = 0; k < m.nspans; k++)
        if (m.spans[k] >= t->nspans || (k && m.spans[k] <= m.spans[k - 1]))
            fuzz__fail("traceql", "tql_eval's span set is not ascending within the trace");
    unsigned statuses = tql_span_statuses(q);
    for (size_t k = 0; k < m.nspans; k++) {
        int code = t->spans[m.spans[k]].status_code;
        if (!(statuses & (code >= 0 && code <= 2 ? 1u << code : 8u)))
            fuzz__fail("traceql", "tql_span_statuses %#x leaves out matched span %zu (status %d)", statuses,
                       m.spans[k], code);
    }
    for (size_t i = 0, k = 0; i < t->nspans; i++) {
        int in = k < m.nspans && m.spans[k] == i;
        k += in;
        if (tql_span_matches(q, t, i) != in) fuzz__fail("traceql", "tql_span_matches disagrees with tql_eval on span %zu", i);
        size_t n = tql_span_attrs(q, t, i, attrs, TQ_N(attrs));
        for (size_t a = 0; a < n && a < TQ_N(attrs); a++)
            if (!attrs[a].key || (attrs[a].val.type == TQL_STRING && !attrs[a].val.v.s))
                fuzz__fail("traceql", "tql_span_attrs: attribute %zu without a key or string", a);
    }
    tq_check_spansets(q, t, &m);
    tql_match_free(&m);
}

/* The canonical text parses again to the same canonical text. */
static void tq_check_format(const char *src, const tql_query *q)
{
    static char text[TQL_FUZZ_FORMAT], again[TQL_FUZZ_FORMAT];
    char small[6], err[256];
    size_t n = tql_format(q, text, sizeof text);
    if (tql_format(q, small, sizeof small) != n || strlen(small) != (n < sizeof small ? n : sizeof small - 1))
        fuzz__fail("traceql", "tql_format into a small buffer");
    if (n >= sizeof text || n > TQL_QUERY_MAX) return;
    tql_query *q2 = NULL;
    if (tql_parse(text, &q2, err, sizeof err))
        fuzz__fail("traceql", "the canonical form of \"%s\" does not parse: \"%s\": %s", src, text, err);
    tql_format(q2, again, sizeof again);
    if (strcmp(text, again)) fuzz__fail("traceql", "canonical form of \"%s\" is not stable: \"%s\" then \"%s\"", src, text, again);
    if (tql_is_match_all(q) != tql_is_match_all(q2)) fuzz__fail("traceql", "tql_is_match_all changes on reparse");
    tql_free(q2);
}

static void tq_check_fieldref(const char *s, const tql_trace *t)
{
    tql_fieldref *f = NULL;
    tql_fieldinfo info;
    tql_value vals[4];
    char err[256];
    if (tql_fieldref_parse(s, &f, err, sizeof err)) {
        fuzz__check_terminated("traceql", "the field error", err, sizeof err);
        return;
    }
    tql_fieldref_info(f, &info);
    if (!info.name) fuzz__fail("traceql", "field \"%s\" without a name", s);
    for (size_t i = 0; i < t->nspans; i++) {
        size_t n = tql_fieldref_values(f, t, i, vals, TQ_N(vals));
        for (size_t k = 0; k < n && k < TQ_N(vals); k++)
            if (vals[k].type == TQL_STRING && !vals[k].v.s) fuzz__fail("traceql", "field value without a string");
    }
    tql_fieldref_free(f);
}

int fuzz_run_traceql(const uint8_t *data, size_t size)
{
    static tql_token toks[TQL_FUZZ_TOKENS];
    char *q = fuzz__cstr(data, size);
    char err[256];
    size_t ntok = 0;
    tql_trace t;
    tq_trace(&t);
    if (tql_tokenize(q, toks, TQ_N(toks), &ntok, err, sizeof err) == 0) {
        if (ntok == 0 || ntok > TQ_N(toks) || toks[ntok - 1].type != TQL_TOK_EOF)
            fuzz__fail("traceql", "%zu tokens, not ending with EOF", ntok);
    }
    tql_query *query = NULL;
    if (tql_parse(q, &query, err, sizeof err) == 0) {
        if (!query) fuzz__fail("traceql", "success without a query");
        tq_check_format(q, query);
        tq_check_eval(query, &t);
        tql_free(query);
    } else {
        if (query) fuzz__fail("traceql", "failure with a query");
        fuzz__check_terminated("traceql", "the parse error", err, sizeof err);
        if (strncmp(err, "position ", 9)) fuzz__fail("traceql", "error without a position: %s", err);
    }
    tq_check_fieldref(q, &t);
    ex_free(q);
    return 0;
}
