/* test_traceql_struct.c — TraceQL structural operators (> < >> << ~, their
 * negations and unions) and the pipeline (count/avg/min/max/sum filters,
 * by(), coalesce(), spanset stages, select()) over a hand-built span tree
 * five levels deep with siblings and an orphan: exact spans, spansets and
 * spanset attributes, parse errors with positions, the canonical form,
 * and a 10,000-span trace evaluated in linear time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/mem.h"
#include "store/traceql.h"
#include "store/traceql_int.h"

#define SEC INT64_C(1000000000)
#define T0 (INT64_C(1720162676) * SEC)

/* The tree (index: name, attributes, status, duration):
 *
 *   0 Workflow error 100s
 *   ├─ 1 Stage stage=load error 50s
 *   │   ├─ 3 Task t=a n=1 ok 10s
 *   │   │   └─ 6 Call error 5s
 *   │   │       └─ 8 Query error 1s
 *   │   └─ 4 Task t=b n=2 error 30s
 *   └─ 2 Stage stage=process ok 40s
 *       └─ 5 Task t=c n=4.5 ok 20s
 *           └─ 7 Call ok 6s
 *   9 Task t=x ok 2s, whose parent (id 99) was never received
 */
static const tql_attr a_load[] = {{"stage", {TQL_STRING, {.s = "load"}}}};
static const tql_attr a_process[] = {{"stage", {TQL_STRING, {.s = "process"}}}};
static const tql_attr a_ta[] = {{"t", {TQL_STRING, {.s = "a"}}}, {"n", {TQL_INT, {.i = 1}}}};
static const tql_attr a_tb[] = {{"t", {TQL_STRING, {.s = "b"}}}, {"n", {TQL_INT, {.i = 2}}}};
static const tql_attr a_tc[] = {{"t", {TQL_STRING, {.s = "c"}}}, {"n", {TQL_FLOAT, {.f = 4.5}}}};
static const tql_attr a_tx[] = {{"t", {TQL_STRING, {.s = "x"}}}};

static const struct {
    const char *name;
    int parent;              /* span id of the parent; 0: root */
    int status;
    int64_t dur_s;
    const tql_attr *attrs;
    size_t nattrs;
} tree_def[] = {
    {"Workflow", 0, 2, 100, NULL, 0}, {"Stage", 1, 2, 50, a_load, 1}, {"Stage", 1, 1, 40, a_process, 1},
    {"Task", 2, 1, 10, a_ta, 2},      {"Task", 2, 2, 30, a_tb, 2},    {"Task", 3, 1, 20, a_tc, 2},
    {"Call", 4, 2, 5, NULL, 0},       {"Call", 6, 1, 6, NULL, 0},     {"Query", 7, 2, 1, NULL, 0},
    {"Task", 99, 1, 2, a_tx, 1},
};
#define NTREE (sizeof tree_def / sizeof tree_def[0])

static tql_span spans[NTREE];
static tql_trace trace;

/* Span k of the definition at index pos[k] of the array (pos NULL: k). */
static void build_tree(const size_t *pos)
{
    memset(spans, 0, sizeof spans);
    for (size_t k = 0; k < NTREE; k++) {
        tql_span *s = &spans[pos ? pos[k] : k];
        s->span_id[7] = (uint8_t)(k + 1); /* span id = definition index + 1 */
        s->has_parent = tree_def[k].parent != 0;
        s->parent_id[7] = (uint8_t)tree_def[k].parent;
        s->name = tree_def[k].name;
        s->status_message = "";
        s->status_code = tree_def[k].status;
        s->start_ns = T0;
        s->end_ns = T0 + tree_def[k].dur_s * SEC;
        s->attrs = tree_def[k].attrs;
        s->nattrs = tree_def[k].nattrs;
    }
    memset(&trace, 0, sizeof trace);
    trace.trace_id[15] = 7;
    trace.spans = spans;
    trace.nspans = NTREE;
    tql_trace_derive(&trace);
}

static int setup_tree(void **state)
{
    (void)state;
    build_tree(NULL);
    return 0;
}

static tql_query *parse_ok(const char *q)
{
    char err[256];
    tql_query *parsed = NULL;
    if (tql_parse(q, &parsed, err, sizeof err) != 0) fail_msg("%s: %s", q, err);
    return parsed;
}

/* tql_eval's spans as "3,4,5" ("-" when the trace does not match), as
 * definition indices when pos maps them. */
static const char *eval_str(const char *q, const size_t *pos)
{
    static char out[256];
    tql_query *parsed = parse_ok(q);
    tql_match m;
    assert_int_equal(tql_eval(parsed, &trace, &m), 0);
    unsigned char in[NTREE] = {0};
    for (size_t i = 0; i < m.nspans; i++) {
        size_t k = m.spans[i];
        if (pos)
            for (k = 0; pos[k] != m.spans[i]; k++) continue;
        in[k] = 1;
    }
    size_t o = 0;
    strcpy(out, m.matched ? "" : "-");
    for (size_t k = 0; k < NTREE; k++)
        if (in[k]) o += (size_t)snprintf(out + o, sizeof out - o, "%s%zu", o ? "," : "", k);
    tql_match_free(&m);
    tql_free(parsed);
    return out;
}

/* Each structural query gives the same spans whatever the order of the
 * spans in the trace (children before parents here). */
static void expect(const char *q, const char *want)
{
    static const size_t reversed[NTREE] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
    build_tree(NULL);
    const char *got = eval_str(q, NULL);
    if (strcmp(got, want) != 0) fail_msg("%s: matched %s, want %s", q, got, want);
    build_tree(reversed);
    got = eval_str(q, reversed);
    if (strcmp(got, want) != 0) fail_msg("%s (spans reversed): matched %s, want %s", q, got, want);
    build_tree(NULL);
}

/* ---- structural operators ----------------------------------------------- */

static void test_child_parent(void **state)
{
    (void)state;
    expect("{ name = \"Stage\" } > { name = \"Task\" }", "3,4,5");
    expect("{ name = \"Workflow\" } > { name = \"Task\" }", "-");
    expect("{} > { name = \"Task\" }", "3,4,5"); /* 9's parent is missing */
    expect("{ name = \"Task\" } > {}", "6,7");
    expect("{ name = \"Call\" } < { name = \"Task\" }", "3,5");
    expect("{ status = error } < {}", "0,1,3,6");
    expect("{ name = \"Workflow\" } < {}", "-");
}

static void test_descendant_ancestor(void **state)
{
    (void)state;
    expect("{ name = \"Workflow\" } >> { status = error }", "1,4,6,8");
    expect("{ span.stage = \"load\" } >> {}", "3,4,6,8");
    expect("{ name = \"Stage\" } >> { name = \"Query\" }", "8");
    expect("{ name = \"Call\" } >> { name = \"Call\" }", "-");
    expect("{ name = \"Query\" } >> {}", "-");
    expect("{ name = \"Query\" } << {}", "0,1,3,6");
    expect("{ status = error && name = \"Call\" } << { name = \"Stage\" }", "1");
    expect("{ name = \"Task\" } << { name = \"Task\" }", "-");
}

static void test_sibling(void **state)
{
    (void)state;
    expect("{ name = \"Task\" } ~ { name = \"Task\" }", "3,4"); /* a span is not its own sibling */
    expect("{ span.stage = \"load\" } ~ {}", "2");
    expect("{ span.t = \"a\" } ~ { span.t = \"a\" }", "-");
    expect("{ name = \"Workflow\" } ~ {}", "-");
    expect("{} ~ {}", "1,2,3,4");
}

static void test_negations(void **state)
{
    (void)state;
    expect("{ name = \"Stage\" } !> { name = \"Task\" }", "9");
    expect("{ name = \"Call\" } !< { name = \"Task\" }", "4,9");
    expect("{ name = \"Workflow\" } !>> {}", "0,9");
    expect("{ span.stage = \"load\" } !>> { name = \"Task\" }", "5,9");
    expect("{ name = \"Query\" } !<< {}", "2,4,5,7,8,9");
    expect("{ name = \"Task\" } !~ { name = \"Task\" }", "5,9");
    expect("{ name = \"Nope\" } !~ { name = \"Stage\" }", "1,2"); /* nothing on the left: every right span */
    expect("{ name = \"Nope\" } !>> { name = \"Query\" }", "8");
    expect("{} !>> { name = \"Nope\" }", "-");
    expect("{} !> {}", "0,9");
}

static void test_unions(void **state)
{
    (void)state;
    expect("{ name = \"Task\" } &> { name = \"Call\" }", "3,5,6,7");
    expect("{ name = \"Call\" } &< { name = \"Task\" }", "3,5,6,7");
    expect("{ name = \"Stage\" } &>> { name = \"Query\" }", "1,8");
    expect("{ name = \"Query\" } &<< { name = \"Stage\" }", "1,8");
    expect("{ name = \"Task\" } &~ { name = \"Task\" }", "3,4");
    expect("{ name = \"Nope\" } &>> {}", "-");
}

static void test_chains_and_precedence(void **state)
{
    (void)state;
    expect("{ name = \"Workflow\" } > { name = \"Stage\" } > { name = \"Task\" } > { name = \"Call\" } > "
           "{ name = \"Query\" }",
           "8");
    expect("{ name = \"Workflow\" } >> { name = \"Task\" } && { name = \"Query\" }", "3,4,5,8");
    expect("{ name = \"Workflow\" } >> { name = \"Task\" } && { name = \"Nope\" }", "-");
    expect("{ name = \"Nope\" } || { name = \"Stage\" } > { name = \"Task\" }", "3,4,5");
    expect("{ span.stage = \"process\" } >> ({ name = \"Call\" } || { name = \"Query\" })", "7");
    expect("({ name = \"Stage\" } > { name = \"Task\" }) ~ { name = \"Task\" }", "3,4");
    expect("{ name = \"Task\" } > { name = \"Call\" } < { name = \"Task\" }", "3,5");
    expect("{ name = \"Workflow\" } > ({ name = \"Stage\" } > { name = \"Task\" })", "-");
}

/* ---- the pipeline ----------------------------------------------------------- */

/* The spansets of q as "3,5,9 {by(status)=ok count()=3} | 4 {…}" ("-"
 * when none). */
static const char *sets_str(const char *q)
{
    static char out[1024];
    tql_query *parsed = parse_ok(q);
    tql_result r;
    assert_int_equal(tql_eval_spansets(parsed, &trace, &r), 0);
    size_t o = 0;
    strcpy(out, r.nsets ? "" : "-");
    for (size_t k = 0; k < r.nsets; k++) {
        const tql_spanset *ss = &r.sets[k];
        assert_true(ss->nspans > 0);
        if (k) o += (size_t)snprintf(out + o, sizeof out - o, " | ");
        for (size_t i = 0; i < ss->nspans; i++) {
            if (i) assert_true(ss->spans[i] > ss->spans[i - 1]);
            o += (size_t)snprintf(out + o, sizeof out - o, "%s%zu", i ? "," : "", ss->spans[i]);
        }
        if (!ss->nattrs) continue;
        o += (size_t)snprintf(out + o, sizeof out - o, " {");
        for (size_t a = 0; a < ss->nattrs; a++) {
            const tql_value *v = &ss->attrs[a].val;
            o += (size_t)snprintf(out + o, sizeof out - o, "%s%s=", a ? " " : "", ss->attrs[a].key);
            if (v->type == TQL_STRING) o += (size_t)snprintf(out + o, sizeof out - o, "\"%s\"", v->v.s);
            else if (v->type == TQL_INT) o += (size_t)snprintf(out + o, sizeof out - o, "%lld", (long long)v->v.i);
            else if (v->type == TQL_FLOAT) o += (size_t)snprintf(out + o, sizeof out - o, "%gf", v->v.f);
            else if (v->type == TQL_BOOL) o += (size_t)snprintf(out + o, sizeof out - o, "%s", v->v.b ? "true" : "false");
            else fail_msg("%s: attribute %s of type %d", q, ss->attrs[a].key, v->type);
        }
        o += (size_t)snprintf(out + o, sizeof out - o, "}");
    }
    assert_true(o < sizeof out);
    tql_result_free(&r);
    tql_free(parsed);
    return out;
}

#define EXPECT_SETS(q, want)                                                                   \
    do {                                                                                       \
        const char *got_ = sets_str(q);                                                        \
        if (strcmp(got_, want) != 0) fail_msg("%s\n  got  %s\n  want %s", q, got_, want);      \
    } while (0)

static void test_aggregate_filters(void **state)
{
    (void)state;
    EXPECT_SETS("{ name = \"Task\" } | count() > 2", "3,4,5,9 {count()=4}");
    EXPECT_SETS("{ name = \"Task\" } | count() > 4", "-");
    EXPECT_SETS("{ name = \"Task\" } | count() = 4.0", "3,4,5,9 {count()=4}");
    EXPECT_SETS("{ name = \"Task\" } | 3 < count()", "3,4,5,9 {count()=4}");
    EXPECT_SETS("{} | avg(duration) > 20s", "0,1,2,3,4,5,6,7,8,9 {avg(duration)=\"26.4s\"}");
    EXPECT_SETS("{} | avg(duration) > 30s", "-");
    EXPECT_SETS("{} | avg(duration) > 5", "-"); /* a duration never compares with a number */
    EXPECT_SETS("{} | min(duration) < 2s", "0,1,2,3,4,5,6,7,8,9 {min(duration)=\"1s\"}");
    EXPECT_SETS("{} | max(duration) >= 1m40s", "0,1,2,3,4,5,6,7,8,9 {max(duration)=\"1m40s\"}");
    EXPECT_SETS("{} | sum(duration) = 264s", "0,1,2,3,4,5,6,7,8,9 {sum(duration)=\"4m24s\"}");
    EXPECT_SETS("{ name = \"Task\" } | sum(span.n) = 7.5", "3,4,5,9 {sum(span.n)=7.5f}");
    EXPECT_SETS("{ name = \"Task\" } | avg(span.n) = 2.5", "3,4,5,9 {avg(span.n)=2.5f}");
    EXPECT_SETS("{ name = \"Task\" } | min(span.n) <= 1", "3,4,5,9 {min(span.n)=1}");
    EXPECT_SETS("{ name = \"Task\" } | max(.n) > 4", "3,4,5,9 {max(.n)=4.5f}");
    EXPECT_SETS("{ name = \"Task\" && span.t != \"c\" } | sum(span.n) = 3", "3,4,9 {sum(span.n)=3}");
    EXPECT_SETS("{} | avg(span.t) > 0", "-");   /* no numbers: the spanset drops out */
    EXPECT_SETS("{} | count() > 1 | count() < 20 | count() != 3",
                "0,1,2,3,4,5,6,7,8,9 {count()=10 count()=10 count()=10}");
}

static void test_by_and_coalesce(void **state)
{
    (void)state;
    EXPECT_SETS("{ name = \"Task\" } | by(span.t)",
                "3 {by(span.t)=\"a\"} | 4 {by(span.t)=\"b\"} | 5 {by(span.t)=\"c\"} | 9 {by(span.t)=\"x\"}");
    EXPECT_SETS("{ name = \"Task\" } | by(status) | count() > 1", "3,5,9 {by(status)=\"ok\" count()=3}");
    EXPECT_SETS("{} | by(name) | avg(duration) > 20s",
                "0 {by(name)=\"Workflow\" avg(duration)=\"1m40s\"} | 1,2 {by(name)=\"Stage\" avg(duration)=\"45s\"}");
    EXPECT_SETS("{} | by(name) | avg(duration) > 20s | coalesce()", "0,1,2");
    EXPECT_SETS("{ name = \"Task\" || name = \"Call\" } | by(span.t)",
                "3 {by(span.t)=\"a\"} | 4 {by(span.t)=\"b\"} | 5 {by(span.t)=\"c\"} | 6,7 {by(span.t)=\"nil\"} | "
                "9 {by(span.t)=\"x\"}");
    EXPECT_SETS("{ name = \"Task\" } | by(span.n)",
                "3 {by(span.n)=1} | 4 {by(span.n)=2} | 5 {by(span.n)=4.5f} | 9 {by(span.n)=\"nil\"}");
    EXPECT_SETS("{ name = \"Stage\" } | by(duration)", "1 {by(duration)=\"50s\"} | 2 {by(duration)=\"40s\"}");
    EXPECT_SETS("{ name = \"Stage\" } | by(rootName)", "1,2 {by(rootName)=\"Workflow\"}");
    EXPECT_SETS("{ name = \"Call\" } | by(span:id)",
                "6 {by(span:id)=\"0000000000000007\"} | 7 {by(span:id)=\"0000000000000008\"}");
    EXPECT_SETS("{ status = error } | by(name) | by(kind)",
                "0 {by(name)=\"Workflow\" by(kind)=\"unspecified\"} | 1 {by(name)=\"Stage\" by(kind)=\"unspecified\"} | "
                "4 {by(name)=\"Task\" by(kind)=\"unspecified\"} | 6 {by(name)=\"Call\" by(kind)=\"unspecified\"} | "
                "8 {by(name)=\"Query\" by(kind)=\"unspecified\"}");
    EXPECT_SETS("{ name = \"Nope\" } | by(name)", "-");
    EXPECT_SETS("{} | coalesce()", "0,1,2,3,4,5,6,7,8,9");
    /* tql_eval is the union of the spansets. */
    assert_string_equal(eval_str("{} | by(name) | avg(duration) > 20s", NULL), "0,1,2");
    assert_string_equal(eval_str("{} | by(name) | count() > 5", NULL), "-");
}

static void test_spanset_stages_and_select(void **state)
{
    (void)state;
    EXPECT_SETS("{ name = \"Task\" } | by(span.t) | { status = error }", "4 {by(span.t)=\"b\"}");
    EXPECT_SETS("{} | { name = \"Stage\" } > { name = \"Task\" }", "3,4,5");
    EXPECT_SETS("{ name != \"Stage\" } | { name = \"Stage\" } > { name = \"Task\" }", "-"); /* Stage left out */
    EXPECT_SETS("{} | by(name) | {} > {}", "-");        /* a span and its parent never share a name here */
    EXPECT_SETS("{} | by(status) | {} > {}", "1,4,8 {by(status)=\"error\"} | 5,7 {by(status)=\"ok\"}");
    EXPECT_SETS("{ name = \"Task\" } | by(status) | select(span.t) | count() = 1",
                "4 {by(status)=\"error\" count()=1}");
    /* Span attributes returned: the compared, grouped, aggregated and selected fields. */
    tql_query *q = parse_ok("{ name = \"Task\" } | by(status) | avg(span.n) > 0 | select(span.t)");
    tql_attr attrs[8];
    assert_int_equal(tql_span_attrs(q, &trace, 4, attrs, 8), 3);
    assert_string_equal(attrs[0].key, "status");
    assert_string_equal(attrs[0].val.v.s, "error");
    assert_string_equal(attrs[1].key, "n");
    assert_string_equal(attrs[2].key, "t");
    assert_false(tql_is_match_all(q));
    assert_false(tql_span_matches(q, &trace, 0));
    assert_true(tql_span_matches(q, &trace, 4));
    tql_free(q);
    q = parse_ok("{} | select(span.t)");
    assert_true(tql_is_match_all(q));
    tql_free(q);
}

static void test_duration_text(void **state)
{
    (void)state;
    static const struct { int64_t ns; const char *want; } cases[] = {
        {0, "0s"}, {7, "7ns"}, {1500, "1.5\xc2\xb5s"}, {1000, "1\xc2\xb5s"}, {250000000, "250ms"},
        {1500000, "1.5ms"}, {1500000000, "1.5s"}, {90 * SEC, "1m30s"}, {3600 * SEC, "1h0m0s"},
        {3600 * SEC + 1, "1h0m0.000000001s"}, {26400000000, "26.4s"}, {-2 * SEC, "-2s"},
    };
    char buf[48];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tql__duration_text(cases[i].ns, buf, sizeof buf);
        if (strcmp(buf, cases[i].want) != 0) fail_msg("%lld ns: got %s, want %s", (long long)cases[i].ns, buf, cases[i].want);
    }
}

/* ---- syntax -------------------------------------------------------------------- */

static void check_canon(const char *q, const char *want)
{
    static char out[1024];
    tql_query *parsed = parse_ok(q);
    size_t n = tql_format(parsed, out, sizeof out);
    assert_true(n < sizeof out);
    tql_free(parsed);
    if (strcmp(out, want) != 0) fail_msg("%s\n  got  %s\n  want %s", q, out, want);
    /* The canonical form parses back to itself. */
    parsed = parse_ok(out);
    static char again[1024];
    tql_format(parsed, again, sizeof again);
    tql_free(parsed);
    assert_string_equal(again, out);
}

static void check_error(const char *q, const char *want)
{
    char err[512];
    tql_query *parsed = (tql_query *)1;
    assert_int_equal(tql_parse(q, &parsed, err, sizeof err), -1);
    assert_null(parsed);
    if (strcmp(err, want) != 0) fail_msg("%s\n  got  %s\n  want %s", q, err, want);
}

static void test_tokens(void **state)
{
    (void)state;
    const char *q = "> < >> << ~ !> !< !>> !<< !~ &> &< &>> &<< &~ && ! >=";
    static const tql_tok_type want[] = {
        TQL_TOK_GT, TQL_TOK_LT, TQL_TOK_DESC, TQL_TOK_ANCE, TQL_TOK_TILDE, TQL_TOK_NOT_CHILD,
        TQL_TOK_NOT_PARENT, TQL_TOK_NOT_DESC, TQL_TOK_NOT_ANCE, TQL_TOK_NRE, TQL_TOK_UNION_CHILD,
        TQL_TOK_UNION_PARENT, TQL_TOK_UNION_DESC, TQL_TOK_UNION_ANCE, TQL_TOK_UNION_SIBL, TQL_TOK_AND,
        TQL_TOK_NOT, TQL_TOK_GE, TQL_TOK_EOF,
    };
    tql_token toks[32];
    size_t n = 0;
    char err[256];
    assert_int_equal(tql_tokenize(q, toks, 32, &n, err, sizeof err), 0);
    assert_int_equal(n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < n; i++) assert_int_equal(toks[i].type, want[i]);
    assert_int_equal(toks[7].pos, 19);
    assert_int_equal(toks[7].len, 3);
}

static void test_canonical_form(void **state)
{
    (void)state;
    check_canon("{.a=1}>>{.b=2}", "({.a = 1} >> {.b = 2})");
    check_canon("{} > {} < {} >> {} << {} ~ {}", "({} > {} < {} >> {} << {} ~ {})");
    check_canon("{} !> {} !< {} !>> {} !<< {} !~ {}", "({} !> {} !< {} !>> {} !<< {} !~ {})");
    check_canon("{} &> {} &< {} &>> {} &<< {} &~ {}", "({} &> {} &< {} &>> {} &<< {} &~ {})");
    check_canon("{ .a = 1 } >> { .b = 2 } && { .c = 3 } || { .d = 4 }",
                "((({.a = 1} >> {.b = 2}) && {.c = 3}) || {.d = 4})");
    check_canon("{ .a = 1 } >> ({ .b = 2 } > { .c = 3 })", "({.a = 1} >> ({.b = 2} > {.c = 3}))");
    check_canon("({ .a = 1 } && { .b = 2 }) ~ { .c = 3 }", "(({.a = 1} && {.b = 2}) ~ {.c = 3})");
    check_canon("{} | count() > 2", "{} | count() > 2");
    check_canon("{} | avg(duration) > 5m | min(span.x) <= 1.5 | max(.y) != -3 | sum(traceDuration) >= 90s",
                "{} | avg(duration) > 5m | min(span.x) <= 1.5 | max(.y) != -3 | sum(traceDuration) >= 1m30s");
    check_canon("{} | 2 < count() | 1.5 >= avg(.x) | 3 = count() | 3 != count()",
                "{} | count() > 2 | avg(.x) <= 1.5 | count() = 3 | count() != 3");
    check_canon("{ } | by(resource.service.name) | coalesce() | select(span.\"a b\", status)",
                "{} | by(resource.service.name) | coalesce() | select(span.\"a b\", status)");
    check_canon("{} | { .a = 1 } >> { .b = 2 } | by(span:id)", "{} | ({.a = 1} >> {.b = 2}) | by(span:id)");
}

static void test_errors(void **state)
{
    (void)state;
    check_error("{ .a = 1 } >> ",
                "position 15: expected a spanset filter such as { name = \"x\" } or {}, got end of query");
    check_error("{ .a = 1 } >> .b", "position 15: expected a spanset filter such as { name = \"x\" } or {}, got \".b\"");
    check_error("{ .a >> 1 }", "position 6: expected an operator (=, !=, >, >=, <, <=, =~, !~), got \">>\"");
    check_error("{ .a ~ 1 }", "position 6: expected an operator (=, !=, >, >=, <, <=, =~, !~), got \"~\"");
    check_error("{} &>> ({} ~ {}", "position 16: expected \"&&\", \"||\" or \")\" to close the \"(\" at position 8, "
                                   "got end of query");
    check_error("{} ~~ {}", "position 5: expected a spanset filter such as { name = \"x\" } or {}, got \"~\"");
    check_error("{} |", "position 5: expected a pipeline stage (select(...), by(...), coalesce(), an aggregate such as "
                        "count() > 1, or a spanset filter) after \"|\", got end of query");
    check_error("{} | count() > ",
                "position 16: expected a number or duration to compare the aggregate with, got end of query");
    check_error("{} | count() > \"x\"",
                "position 16: expected a number or duration to compare the aggregate with, got string \"x\"");
    check_error("{} | count() =~ 1", "position 14: expected a comparison (=, !=, >, >=, <, <=), got \"=~\"");
    check_error("{} | count()", "position 13: expected a comparison (=, !=, >, >=, <, <=), got end of query");
    check_error("{} | count(.a) > 1", "position 12: expected \")\": count() takes no field, got \".a\"");
    check_error("{} | count > 1", "position 12: expected \"(\" after count, got \">\"");
    check_error("{} | avg() > 1",
                "position 10: expected a field (an attribute such as span.x, resource.x or .x, or an intrinsic such as "
                "name), got \")\"");
    check_error("{} | avg(name) > 1",
                "position 10: avg() needs a numeric field (an attribute, duration or traceDuration), got \"name\"");
    check_error("{} | sum(.a", "position 12: expected \")\" to close sum(, got end of query");
    check_error("{} | max(event.x) > 1",
                "position 10: max() of an event field is not supported (a span has one value per event)");
    check_error("{} | 3 > 4", "position 10: expected an aggregate (count(), avg(), min(), max() or sum()), got \"4\"");
    check_error("{} | by(.a, .b)", "position 11: by() takes one field; group by more with another | by(...)");
    check_error("{} | by .a", "position 9: expected \"(\" after by, got \".a\"");
    check_error("{} | by(.a", "position 11: expected \")\" to close by(, got end of query");
    check_error("{} | by(event:name)",
                "position 9: by() of an event field is not supported (a span has one value per event)");
    check_error("{} | coalesce(1)", "position 15: expected \")\": coalesce() takes nothing, got \"1\"");
    check_error("{} | rate()", "position 6: rate() is a TraceQL metrics function: ask /api/metrics/query_range, "
                               "not a search");
    check_error("{} | quantile_over_time(duration, .9)",
                "position 6: quantile_over_time() is a TraceQL metrics function: ask /api/metrics/query_range, not "
                "a search");
    check_error("{} | foo()", "position 6: unsupported pipeline stage \"foo\"; expected select(...), by(...), "
                              "coalesce(), count(), avg(), min(), max(), sum() or a spanset filter");
    check_error("{} | { .a = 1 ", "position 15: expected \"&&\", \"||\" or \"}\" to close the \"{\" at position 6, "
                                  "got end of query");
    char many[1024] = "{}";
    for (int i = 0; i < 64; i++) strcat(many, " | coalesce()");
    tql_query *ok = parse_ok(many);
    tql_free(ok);
    strcat(many, " | count() > 1");
    check_error(many, "position 838: more than 64 pipeline stages");
    check_error("{} | count() > 1 {}", "position 18: expected \"&&\", \"||\", a structural operator such as \">>\", "
                                       "\"|\" or end of query, got \"{\"");
}

/* Allocation failures anywhere in parsing and evaluation give an error,
 * never a crash or a leak (run under ASan/valgrind). */
static void test_out_of_memory(void **state)
{
    (void)state;
    const char *q = "{ name = \"Stage\" } >> { .t != nil } &~ {} | by(span.t) | avg(span.n) > 0 | "
                    "{ status = ok } | coalesce() | select(.t)";
    tql_query *parsed = NULL;
    int parsed_at = -1;
    for (long k = 0; k < 80 && parsed_at < 0; k++) {
        char err[256];
        ex_mem_fail_after(k);
        int rc = tql_parse(q, &parsed, err, sizeof err);
        ex_mem_fail_after(-1);
        if (rc == 0) parsed_at = (int)k;
        else assert_non_null(strstr(err, "out of memory"));
    }
    assert_true(parsed_at >= 0);
    int evaluated = 0;
    for (long k = 0; k < 200 && !evaluated; k++) {
        tql_result r;
        ex_mem_fail_after(k);
        int rc = tql_eval_spansets(parsed, &trace, &r);
        ex_mem_fail_after(-1);
        if (rc == 0) {
            evaluated = 1;
            assert_int_equal(r.nsets, 1);
            assert_int_equal(r.sets[0].nspans, 1); /* 3: the ok Task under a Stage with a sibling Task */
            assert_int_equal(r.sets[0].spans[0], 3);
        } else {
            assert_int_equal(r.nsets, 0);
        }
        tql_result_free(&r);
    }
    assert_true(evaluated);
    tql_free(parsed);
}

/* ---- a large trace ------------------------------------------------------------ */

/* 10,000 spans as one chain (each the parent of the next) and as a star
 * (one root, 9,999 children): quadratic evaluation would take ~10^8 steps
 * per query here; the index makes each linear. No timing assertion. */
static void test_large_trace(void **state)
{
    (void)state;
    enum { N = 10000 };
    tql_span *big = ex_calloc(N, sizeof *big);
    assert_non_null(big);
    static const char *const queries[] = {"{} >> {}", "{} << {}", "{} ~ {}", "{} &>> {}", "{} !<< {}",
                                          "{} > {}", "{} | by(span:id) | count() = 1 | coalesce()"};
    static const size_t chain_want[] = {N - 1, N - 1, 0, N, 1, N - 1, N};
    static const size_t star_want[] = {N - 1, 1, N - 1, N, N - 1, N - 1, N};
    for (int shape = 0; shape < 2; shape++) {
        for (size_t i = 0; i < N; i++) {
            /* span ids i+1 in reverse order of the array: children first */
            tql_span *s = &big[N - 1 - i];
            memset(s, 0, sizeof *s);
            s->span_id[6] = (uint8_t)((i + 1) >> 8);
            s->span_id[7] = (uint8_t)(i + 1);
            s->has_parent = i > 0;
            size_t parent = shape == 0 ? i : 1; /* the id of the previous span, or the root's */
            s->parent_id[6] = (uint8_t)(parent >> 8);
            s->parent_id[7] = (uint8_t)parent;
            s->name = "s";
            s->status_message = "";
            s->end_ns = (int64_t)i;
        }
        tql_trace t = {.spans = big, .nspans = N};
        tql_trace_derive(&t);
        for (size_t k = 0; k < sizeof queries / sizeof queries[0]; k++) {
            tql_query *q = parse_ok(queries[k]);
            tql_match m;
            assert_int_equal(tql_eval(q, &t, &m), 0);
            size_t want = shape == 0 ? chain_want[k] : star_want[k];
            if (m.nspans != want) fail_msg("%s shape %d: %zu spans, want %zu", queries[k], shape, m.nspans, want);
            tql_match_free(&m);
            tql_free(q);
        }
    }
    ex_free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_child_parent, setup_tree),
        cmocka_unit_test_setup(test_descendant_ancestor, setup_tree),
        cmocka_unit_test_setup(test_sibling, setup_tree),
        cmocka_unit_test_setup(test_negations, setup_tree),
        cmocka_unit_test_setup(test_unions, setup_tree),
        cmocka_unit_test_setup(test_chains_and_precedence, setup_tree),
        cmocka_unit_test_setup(test_aggregate_filters, setup_tree),
        cmocka_unit_test_setup(test_by_and_coalesce, setup_tree),
        cmocka_unit_test_setup(test_spanset_stages_and_select, setup_tree),
        cmocka_unit_test(test_duration_text),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_canonical_form),
        cmocka_unit_test(test_errors),
        cmocka_unit_test_setup(test_out_of_memory, setup_tree),
        cmocka_unit_test(test_large_trace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
