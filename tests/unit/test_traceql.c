/* test_traceql.c — the TraceQL subset (src/store/traceql*.c): tokens,
 * parsing (checked through the canonical form), exact error messages,
 * value comparison and evaluation over hand-built traces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/mem.h"
#include "store/traceql.h"

/* ---- parse shortcuts ---------------------------------------------------- */

/* Parse q and return its canonical form (static buffer); fails the test
 * with the parser's message if q does not parse. */
static const char *canon(const char *q)
{
    static char out[2048];
    char err[256];
    tql_query *parsed = NULL;
    if (tql_parse(q, &parsed, err, sizeof err) != 0) fail_msg("%s: %s", q, err);
    assert_non_null(parsed);
    size_t n = tql_format(parsed, out, sizeof out);
    assert_true(n < sizeof out);
    tql_free(parsed);
    return out;
}

static void check_canon(const char *q, const char *want)
{
    const char *got = canon(q);
    if (strcmp(got, want) != 0) fail_msg("%s\n  got  %s\n  want %s", q, got, want);
}

/* The exact error for a query that must not parse. */
static void check_error(const char *q, const char *want)
{
    char err[512];
    tql_query *parsed = (tql_query *)1;
    assert_int_equal(tql_parse(q, &parsed, err, sizeof err), -1);
    assert_null(parsed);
    if (strcmp(err, want) != 0) fail_msg("%s\n  got  %s\n  want %s", q, err, want);
}

/* ---- tokens ----------------------------------------------------------- */

static void test_tokens_builder_query(void **state)
{
    (void)state;
    const char *q = "{resource.service.name=\"x\" && name=\"y\" && status=error && duration>100ms}";
    tql_token toks[32];
    size_t n = 0;
    char err[256];
    assert_int_equal(tql_tokenize(q, toks, 32, &n, err, sizeof err), 0);
    static const tql_tok_type want[] = {
        TQL_TOK_LBRACE, TQL_TOK_ATTR, TQL_TOK_EQ, TQL_TOK_STRING, TQL_TOK_AND, TQL_TOK_WORD, TQL_TOK_EQ,
        TQL_TOK_STRING, TQL_TOK_AND, TQL_TOK_WORD, TQL_TOK_EQ, TQL_TOK_WORD, TQL_TOK_AND, TQL_TOK_WORD,
        TQL_TOK_GT, TQL_TOK_DURATION, TQL_TOK_RBRACE, TQL_TOK_EOF,
    };
    assert_int_equal(n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < n; i++) assert_int_equal(toks[i].type, want[i]);
    assert_int_equal(toks[1].scope, TQL_SCOPE_RESOURCE);
    assert_string_equal(toks[1].text, "service.name");
    assert_int_equal(toks[1].pos, 2);
    assert_int_equal(toks[1].len, strlen("resource.service.name"));
    assert_string_equal(toks[3].text, "x");
    assert_int_equal(toks[3].pos, 24);
    assert_string_equal(toks[11].text, "error");
    assert_int_equal(toks[15].i, INT64_C(100000000));
    assert_int_equal(toks[16].pos, strlen(q));
    assert_int_equal(toks[17].pos, strlen(q) + 1);
}

static void test_tokens_kinds(void **state)
{
    (void)state;
    const char *q = " span.\"my key\" .x event:name 1.5s 2m 1h 1h30m 7ns 3us -12 0.25 \"a\\\"b\\\\c\\n\" `r\\d+` "
                    "!= !~ =~ >= <= ! ( ) , | || > < =";
    tql_token toks[40];
    size_t n = 0;
    char err[256];
    assert_int_equal(tql_tokenize(q, toks, 40, &n, err, sizeof err), 0);
    assert_int_equal(toks[0].type, TQL_TOK_ATTR);
    assert_int_equal(toks[0].scope, TQL_SCOPE_SPAN);
    assert_string_equal(toks[0].text, "my key");
    assert_int_equal(toks[0].pos, 2);
    assert_int_equal(toks[1].type, TQL_TOK_ATTR);
    assert_int_equal(toks[1].scope, TQL_SCOPE_ANY);
    assert_string_equal(toks[1].text, "x");
    assert_int_equal(toks[2].type, TQL_TOK_SCOPED);
    assert_string_equal(toks[2].text, "event:name");
    static const int64_t durations[] = {1500000000, 120000000000, 3600000000000, 5400000000000, 7, 3000};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(toks[3 + i].type, TQL_TOK_DURATION);
        assert_int_equal(toks[3 + i].i, durations[i]);
    }
    assert_int_equal(toks[9].type, TQL_TOK_INT);
    assert_int_equal(toks[9].i, -12);
    assert_int_equal(toks[10].type, TQL_TOK_FLOAT);
    assert_true(toks[10].f == 0.25);
    assert_int_equal(toks[11].type, TQL_TOK_STRING);
    assert_string_equal(toks[11].text, "a\"b\\c\n");
    assert_int_equal(toks[12].type, TQL_TOK_STRING);
    assert_string_equal(toks[12].text, "r\\d+");
    static const tql_tok_type ops[] = {TQL_TOK_NE, TQL_TOK_NRE, TQL_TOK_RE, TQL_TOK_GE, TQL_TOK_LE, TQL_TOK_NOT,
                                       TQL_TOK_LPAREN, TQL_TOK_RPAREN, TQL_TOK_COMMA, TQL_TOK_PIPE, TQL_TOK_OR,
                                       TQL_TOK_GT, TQL_TOK_LT, TQL_TOK_EQ, TQL_TOK_EOF};
    assert_int_equal(n, 13 + sizeof ops / sizeof ops[0]);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) assert_int_equal(toks[13 + i].type, ops[i]);
}

static void test_tokens_errors(void **state)
{
    (void)state;
    tql_token toks[8];
    size_t n;
    char err[256];
    assert_int_equal(tql_tokenize("{ .a = \"x", toks, 8, &n, err, sizeof err), -1);
    assert_string_equal(err, "position 8: unterminated string: expected a closing \"");
    assert_int_equal(tql_tokenize("{ } { } { }", toks, 4, &n, err, sizeof err), -1);
    assert_string_equal(err, "position 9: more than 4 tokens");
}

/* ---- parsing ---------------------------------------------------------- */

static void test_parse_builder_and_dashboard(void **state)
{
    (void)state;
    check_canon("{resource.service.name=\"x\" && name=\"y\" && status=error && duration>100ms}",
                "{(resource.service.name = \"x\" && name = \"y\" && status = error && duration > 100ms)}");
    check_canon("{resource.service.name=\"Tracing.Worker\" && name=\"Workflow\"} | select(span.id, span.workflowId, "
                "span.startTime, span.endTime, status)",
                "{(resource.service.name = \"Tracing.Worker\" && name = \"Workflow\")} | select(span.id, "
                "span.workflowId, span.startTime, span.endTime, status)");
    check_canon("{}", "{}");
    check_canon("  {   }  ", "{}");
}

static void test_parse_operators_and_literals(void **state)
{
    (void)state;
    check_canon("{ .a = 1 && .b != 2 && .c > 3 && .d >= 4 && .e < 5 && .f <= 6 }",
                "{(.a = 1 && .b != 2 && .c > 3 && .d >= 4 && .e < 5 && .f <= 6)}");
    check_canon("{ name =~ \"GET .*\" || name !~ `a\\d` }", "{(name =~ \"GET .*\" || name !~ \"a\\\\d\")}");
    check_canon("{ .s = \"q\\\"uo\\\\te\\n\" }", "{.s = \"q\\\"uo\\\\te\\n\"}");
    check_canon("{ .i = -42 && .f = 2.5 && .g = 3.0 && .b = true && .c = false && .n = nil && .m != nil }",
                "{(.i = -42 && .f = 2.5 && .g = 3.0 && .b = true && .c = false && .n = nil && .m != nil)}");
    check_canon("{ duration > 1.5s && duration < 2m && traceDuration >= 1h && span:duration <= 250us && "
                "duration != 10ns }",
                "{(duration > 1500ms && duration < 2m && traceDuration >= 1h && duration <= 250us && duration != 10ns)}");
    check_canon("{ status = ok || status = error || status = unset }",
                "{(status = ok || status = error || status = unset)}");
    check_canon("{ kind = internal || kind = server || kind = client || kind = producer || kind = consumer || "
                "kind = unspecified }",
                "{(kind = internal || kind = server || kind = client || kind = producer || kind = consumer || kind = unspecified)}");
}

static void test_parse_fields(void **state)
{
    (void)state;
    check_canon("{ span.\"my key\" = 1 && resource.service.name = \"a\" && .x = 1 && event.e = 1 && "
                "instrumentation.lib = \"l\" }",
                "{(span.\"my key\" = 1 && resource.service.name = \"a\" && .x = 1 && event.e = 1 && instrumentation.lib = \"l\")}");
    check_canon("{ span:name = \"a\" && span:status = error && span:statusMessage = \"m\" && span:kind = server && "
                "span:id = \"00\" && span:parentID = \"01\" && trace:id = \"02\" }",
                "{(name = \"a\" && status = error && statusMessage = \"m\" && kind = server && span:id = \"00\" && span:parentID = \"01\" && trace:id = \"02\")}");
    check_canon("{ trace:rootName = \"r\" && trace:rootService = \"s\" && trace:duration > 1s && event:name = \"e\" && "
                "rootName = \"r\" && rootServiceName = \"s\" && statusMessage = \"m\" && instrumentation:name = \"n\" "
                "&& instrumentation:version = \"v\" }",
                "{(rootName = \"r\" && rootServiceName = \"s\" && traceDuration > 1s && event:name = \"e\" && rootName = \"r\" && rootServiceName = \"s\" && statusMessage = \"m\" && instrumentation:name = \"n\" && instrumentation:version = \"v\")}");
    check_canon("{ span.http.status_code = 500 && span.a-b/c = \"d\" }",
                "{(span.http.status_code = 500 && span.a-b/c = \"d\")}");
}

static void test_parse_precedence(void **state)
{
    (void)state;
    check_canon("{ .a = 1 || .b = 2 && .c = 3 }", "{(.a = 1 || (.b = 2 && .c = 3))}");
    check_canon("{ (.a = 1 || .b = 2) && .c = 3 }", "{((.a = 1 || .b = 2) && .c = 3)}");
    check_canon("{ ((((.a = 1)))) }", "{.a = 1}");
    check_canon("{ !.a = 1 && !(.b = 2 || .c = 3) }", "{(!.a = 1 && !(.b = 2 || .c = 3))}");
    check_canon("{ .a = 1 } || { .b = 2 } && { .c = 3 }", "({.a = 1} || ({.b = 2} && {.c = 3}))");
    check_canon("({ .a = 1 } || { .b = 2 }) && { .c = 3 }", "(({.a = 1} || {.b = 2}) && {.c = 3})");
    check_canon("{ } | select(.a) | select(resource.b, event:name)", "{} | select(.a) | select(resource.b, event:name)");
}

static void test_parse_errors(void **state)
{
    (void)state;
    check_error("", "position 1: expected a spanset filter such as { name = \"x\" } or {}, got end of query");
    check_error("   ", "position 4: expected a spanset filter such as { name = \"x\" } or {}, got end of query");
    check_error("{ name = \"x\"",
                "position 13: expected \"&&\", \"||\" or \"}\" to close the \"{\" at position 1, got end of query");
    check_error("{ (name = \"x\" }",
                "position 15: expected \"&&\", \"||\" or \")\" to close the \"(\" at position 3, got \"}\"");
    check_error("{ foo = 1 }",
                "position 3: unknown intrinsic \"foo\"; an attribute needs a scope, as in span.foo, resource.foo or .foo");
    check_error("{ span:foo = 1 }", "position 3: unknown intrinsic \"span:foo\"");
    check_error("{ span.x foo }", "position 10: expected an operator (=, !=, >, >=, <, <=, =~, !~), got \"foo\"");
    check_error("{ name \"x\" }",
                "position 8: expected an operator (=, !=, >, >=, <, <=, =~, !~), got string \"x\"");
    check_error("{ name = }",
                "position 10: expected a value (a string, number, duration, true, false, nil, ok, error, unset or a "
                "span kind), got \"}\"");
    check_error("{ status = erorr }",
                "position 12: expected a value (a string, number, duration, true, false, nil, ok, error, unset or a "
                "span kind), got \"erorr\"");
    check_error("{ name = \"x\" && }",
                "position 17: expected a field (an attribute such as span.x, resource.x or .x, or an intrinsic such as "
                "name), got \"}\"");
    check_error("{ = \"x\" }",
                "position 3: expected a field (an attribute such as span.x, resource.x or .x, or an intrinsic such as "
                "name), got \"=\"");
    check_error("{ name =~ \"(\" }", "position 11: bad regular expression \"(\": Unmatched ( or \\(");
    check_error("{ name =~ 5 }", "position 11: expected a string (the regular expression) after =~, got \"5\"");
    check_error("{ duration > 5x }",
                "position 14: bad duration \"5x\": unknown unit (use ns, us, ms, s, m or h)");
    check_error("{ duration > -5s }", "position 14: bad duration \"-5s\": negative durations are not supported");
    check_error("{} foo", "position 4: expected \"&&\", \"||\", a structural operator such as \">>\", \"|\" or end "
                          "of query, got \"foo\"");
    check_error("{} }", "position 4: expected \"&&\", \"||\", a structural operator such as \">>\", \"|\" or end "
                        "of query, got \"}\"");
    check_error("{ } | select(.a", "position 16: expected \",\" or \")\" in select(...), got end of query");
    check_error("{ } | select", "position 13: expected \"(\" after select, got end of query");
    check_error("{ .a > nil }", "position 8: nil can only be compared with = or !=, not >");
    check_error("{ parent.x = 1 }",
                "position 3: unknown attribute scope \"parent\" (use span., resource., event., instrumentation. or .)");
    check_error("{ span. = 1 }", "position 8: expected an attribute name after \"span.\"");
    check_error("{ .a = \"x\\q\" }",
                "position 10: unknown escape \"\\q\" in string (use \\\", \\\\, \\n, \\t or \\r)");
    check_error("{ .a = 1. }", "position 8: malformed number \"1.\"");
    check_error("{ .a = 99999999999999999999 }", "position 8: number \"99999999999999999999\" out of range");
    check_error("{ .a = 1 } && ", "position 15: expected a spanset filter such as { name = \"x\" } or {}, got end of query");
    check_error("{ .a = 1 # }",
                "position 10: expected \"&&\", \"||\" or \"}\" to close the \"{\" at position 1, got \"#\"");
}

static void test_parse_limits(void **state)
{
    (void)state;
    char q[400];
    size_t o = 0;
    q[o++] = '{';
    for (int i = 0; i < 70; i++) q[o++] = '(';
    memcpy(q + o, ".a = 1", 6);
    o += 6;
    for (int i = 0; i < 70; i++) q[o++] = ')';
    q[o++] = '}';
    q[o] = '\0';
    check_error(q, "position 65: nesting deeper than 64 levels");
    static char big[TQL_QUERY_MAX + 10];
    memset(big, ' ', sizeof big - 1);
    big[0] = '{';
    big[sizeof big - 2] = '}';
    check_error(big, "position 1: query longer than 16384 bytes");
}

/* Allocation failures anywhere in parsing give an error, never a crash
 * or a leak (run under ASan/valgrind). */
static void test_parse_out_of_memory(void **state)
{
    (void)state;
    const char *q = "{ .a = \"x\" && name =~ \"a.*\" } || { .b = 1 } | select(.c, status)";
    for (long k = 0; k < 40; k++) {
        char err[256];
        tql_query *parsed = NULL;
        ex_mem_fail_after(k);
        int rc = tql_parse(q, &parsed, err, sizeof err);
        ex_mem_fail_after(-1);
        if (rc == 0) {
            tql_free(parsed);
            return;
        }
        assert_non_null(strstr(err, "out of memory"));
    }
    fail_msg("parse never succeeded");
}

/* ---- comparisons ------------------------------------------------------ */

static void test_compare_types(void **state)
{
    (void)state;
    tql_value i5 = {.type = TQL_INT, .v.i = 5}, f5 = {.type = TQL_FLOAT, .v.f = 5.0},
              f55 = {.type = TQL_FLOAT, .v.f = 5.5}, s5 = {.type = TQL_STRING, .v.s = "5"},
              d5 = {.type = TQL_DURATION, .v.i = 5}, b1 = {.type = TQL_BOOL, .v.b = 1},
              st2 = {.type = TQL_STATUS, .v.i = 2}, k2 = {.type = TQL_KIND, .v.i = 2}, nil = {.type = TQL_NIL};
    assert_true(tql_compare(&i5, TQL_TOK_EQ, &f5));
    assert_true(tql_compare(&i5, TQL_TOK_LT, &f55));
    assert_true(tql_compare(&f55, TQL_TOK_GE, &i5));
    assert_false(tql_compare(&i5, TQL_TOK_EQ, &s5));
    assert_false(tql_compare(&i5, TQL_TOK_NE, &s5));
    assert_false(tql_compare(&i5, TQL_TOK_EQ, &d5));
    assert_true(tql_compare(&d5, TQL_TOK_LE, &d5));
    assert_false(tql_compare(&b1, TQL_TOK_GT, &b1));
    assert_true(tql_compare(&b1, TQL_TOK_EQ, &b1));
    assert_false(tql_compare(&st2, TQL_TOK_EQ, &k2));
    assert_true(tql_compare(&st2, TQL_TOK_NE, &(tql_value){.type = TQL_STATUS, .v.i = 1}));
    assert_true(tql_compare(&nil, TQL_TOK_EQ, &nil));
    assert_false(tql_compare(&nil, TQL_TOK_NE, &nil));
    assert_false(tql_compare(&nil, TQL_TOK_NE, &i5));
    assert_true(tql_compare(&i5, TQL_TOK_NE, &nil));
    tql_value a = {.type = TQL_STRING, .v.s = "abc"}, b = {.type = TQL_STRING, .v.s = "abd"};
    assert_true(tql_compare(&a, TQL_TOK_LT, &b));
    assert_false(tql_compare(&a, TQL_TOK_GE, &b));
    assert_string_equal(tql_status_name(2), "error");
    assert_string_equal(tql_kind_name(5), "consumer");
    assert_null(tql_kind_name(6));
    assert_null(tql_status_name(-1));
}

/* ---- evaluation ------------------------------------------------------- */

/* A trace of the seed's shape: Workflow (root, Tracing.Worker) with
 * DataLoader and Processor children; Processor failed. */
static const tql_attr res_worker[] = {
    {"service.name", {TQL_STRING, {.s = "Tracing.Worker"}}},
    {"service.namespace", {TQL_STRING, {.s = "dev1"}}},
    {"shared", {TQL_STRING, {.s = "from-resource"}}},
};
static const tql_attr wf_attrs[] = {
    {"workflowId", {TQL_STRING, {.s = "wf-1"}}},
    {"startTime", {TQL_STRING, {.s = "2024-07-05T06:57:56.1234567Z"}}},
    {"shared", {TQL_STRING, {.s = "from-span"}}},
};
static const tql_attr dl_attrs[] = {
    {"type", {TQL_STRING, {.s = "DataLoader"}}},
    {"id", {TQL_STRING, {.s = "e-1"}}},
    {"retries", {TQL_INT, {.i = 3}}},
    {"ratio", {TQL_FLOAT, {.f = 0.75}}},
    {"cached", {TQL_BOOL, {.b = 1}}},
};
static const tql_attr pr_attrs[] = {
    {"type", {TQL_STRING, {.s = "Processor"}}},
    {"id", {TQL_STRING, {.s = "e-2"}}},
    {"retries", {TQL_STRING, {.s = "3"}}},
};
static const tql_attr scope_attrs[] = {{"lib.tier", {TQL_STRING, {.s = "gold"}}}};
static const tql_attr ev_attrs[] = {{"code", {TQL_INT, {.i = 42}}}};
static const tql_event wf_events[] = {{"Submitted", NULL, 0}, {"Processing", NULL, 0}, {"Failed", ev_attrs, 1}};

#define SEC INT64_C(1000000000)
#define T0 (INT64_C(1720162676) * SEC)

static tql_span spans[3];
static tql_trace trace;

static int setup_trace(void **state)
{
    (void)state;
    memset(spans, 0, sizeof spans);
    tql_span base = {.res_attrs = res_worker, .nres_attrs = 3, .scope_name = "sample-tracing",
                     .scope_version = "1.0", .scope_attrs = scope_attrs, .nscope_attrs = 1,
                     .status_message = ""};
    spans[0] = base;
    spans[0].span_id[7] = 1;
    spans[0].name = "Workflow";
    spans[0].kind = 1;
    spans[0].status_code = 2;
    spans[0].status_message = "Entity failed: Processor";
    spans[0].start_ns = T0;
    spans[0].end_ns = T0 + 300 * SEC;
    spans[0].attrs = wf_attrs;
    spans[0].nattrs = 3;
    spans[0].events = wf_events;
    spans[0].nevents = 3;
    spans[1] = base;
    spans[1].span_id[7] = 2;
    spans[1].has_parent = 1;
    spans[1].parent_id[7] = 1;
    spans[1].name = "DataLoader";
    spans[1].kind = 1;
    spans[1].status_code = 1;
    spans[1].start_ns = T0 + 5 * SEC;
    spans[1].end_ns = T0 + 100 * SEC;
    spans[1].attrs = dl_attrs;
    spans[1].nattrs = 5;
    spans[2] = base;
    spans[2].span_id[7] = 3;
    spans[2].has_parent = 1;
    spans[2].parent_id[7] = 1;
    spans[2].name = "Processor";
    spans[2].kind = 2;
    spans[2].status_code = 2;
    spans[2].status_message = "Failed. Error code: 7";
    spans[2].start_ns = T0 + 100 * SEC;
    spans[2].end_ns = T0 + 301 * SEC;
    spans[2].attrs = pr_attrs;
    spans[2].nattrs = 3;
    memset(&trace, 0, sizeof trace);
    trace.trace_id[0] = 0xab;
    trace.trace_id[15] = 0x01;
    trace.spans = spans;
    trace.nspans = 3;
    tql_trace_derive(&trace);
    return 0;
}

/* Evaluate q; return the matched span indices as a string like "0,2"
 * ("-" when the trace does not match). */
static const char *eval_str(const char *q)
{
    static char out[64];
    char err[256];
    tql_query *parsed = NULL;
    if (tql_parse(q, &parsed, err, sizeof err) != 0) fail_msg("%s: %s", q, err);
    tql_match m;
    assert_int_equal(tql_eval(parsed, &trace, &m), 0);
    size_t o = 0;
    out[0] = '\0';
    if (!m.matched) {
        assert_int_equal(m.nspans, 0);
        strcpy(out, "-");
    }
    for (size_t i = 0; i < m.nspans; i++) o += (size_t)snprintf(out + o, sizeof out - o, "%s%zu", i ? "," : "", m.spans[i]);
    tql_match_free(&m);
    tql_free(parsed);
    return out;
}

#define EXPECT(q, want)                                                                       \
    do {                                                                                      \
        const char *got_ = eval_str(q);                                                       \
        if (strcmp(got_, want) != 0) fail_msg("%s: matched %s, want %s", q, got_, want);      \
    } while (0)

static void test_eval_derive(void **state)
{
    (void)state;
    assert_string_equal(trace.root_name, "Workflow");
    assert_string_equal(trace.root_service, "Tracing.Worker");
    assert_int_equal(trace.duration_ns, 301 * SEC);
    tql_trace empty = {0};
    tql_trace_derive(&empty);
    assert_string_equal(empty.root_name, "");
    assert_int_equal(empty.duration_ns, 0);
}

static void test_eval_scopes(void **state)
{
    (void)state;
    EXPECT("{}", "0,1,2");
    EXPECT("{ resource.service.name = \"Tracing.Worker\" && name = \"Workflow\" }", "0");
    EXPECT("{ span.service.name = \"Tracing.Worker\" }", "-");
    EXPECT("{ .service.name = \"Tracing.Worker\" }", "0,1,2");
    EXPECT("{ .shared = \"from-span\" }", "0");        /* span wins over resource */
    EXPECT("{ .shared = \"from-resource\" }", "1,2");  /* resource when the span lacks it */
    EXPECT("{ resource.shared = \"from-resource\" }", "0,1,2");
    EXPECT("{ span.type = \"Processor\" }", "2");
    EXPECT("{ instrumentation.lib.tier = \"gold\" }", "0,1,2");
    EXPECT("{ instrumentation:name = \"sample-tracing\" && instrumentation:version = \"1.0\" }", "0,1,2");
    EXPECT("{ event:name = \"Processing\" }", "0");
    EXPECT("{ event:name = \"Nope\" }", "-");
    EXPECT("{ event.code = 42 }", "0");
    EXPECT("{ event.code != nil }", "0");
    EXPECT("{ event.code = nil }", "1,2");
    EXPECT("{ span.missing = nil }", "0,1,2");
    EXPECT("{ span.type != nil }", "1,2");
}

static void test_eval_intrinsics(void **state)
{
    (void)state;
    EXPECT("{ status = error }", "0,2");
    EXPECT("{ status = ok }", "1");
    EXPECT("{ status != error }", "1");
    EXPECT("{ span:status = unset }", "-");
    EXPECT("{ statusMessage = \"Failed. Error code: 7\" }", "2");
    EXPECT("{ kind = server }", "2");
    EXPECT("{ kind = internal }", "0,1");
    EXPECT("{ duration > 100s }", "0,2");
    EXPECT("{ duration >= 95s && duration <= 95s }", "1");
    EXPECT("{ span:duration < 1m40s }", "1");
    EXPECT("{ traceDuration > 5m }", "0,1,2");
    EXPECT("{ trace:duration > 6m }", "-");
    EXPECT("{ rootName = \"Workflow\" && name = \"DataLoader\" }", "1");
    EXPECT("{ rootServiceName = \"Tracing.Worker\" }", "0,1,2");
    EXPECT("{ trace:rootService = \"other\" }", "-");
    EXPECT("{ span:id = \"0000000000000003\" }", "2");
    EXPECT("{ span:parentID = \"0000000000000001\" }", "1,2");
    EXPECT("{ trace:id = \"ab000000000000000000000000000001\" }", "0,1,2");
}

static void test_eval_regex_and_types(void **state)
{
    (void)state;
    EXPECT("{ name =~ \"Data\" }", "-");                 /* fully anchored */
    EXPECT("{ name =~ \"Data.*\" }", "1");
    EXPECT("{ name =~ \".*oad.*\" }", "1");
    EXPECT("{ name =~ \"Workflow|Processor\" }", "0,2"); /* alternation inside the anchors */
    EXPECT("{ name !~ \"Workflow|Processor\" }", "1");
    EXPECT("{ span.retries =~ \"3\" }", "2");            /* only the string attribute */
    EXPECT("{ span.missing !~ \"x\" }", "-");
    EXPECT("{ span.retries = 3 }", "1");                 /* int only; "3" is a string */
    EXPECT("{ span.retries = \"3\" }", "2");
    EXPECT("{ span.retries > 2.5 }", "1");               /* int vs float */
    EXPECT("{ span.ratio = 0.75 && span.ratio < 1 }", "1");
    EXPECT("{ span.cached = true }", "1");
    EXPECT("{ span.cached = 1 }", "-");
    EXPECT("{ duration > 5 }", "-");                     /* duration vs int: no match */
    EXPECT("{ span.retries > 1s }", "-");
    EXPECT("{ span.type = error }", "-");
    EXPECT("{ status = \"error\" }", "-");
    EXPECT("{ span.type != \"x\" }", "1,2");             /* missing attribute: false */
    EXPECT("{ !(span.type = \"x\") }", "0,1,2");
    EXPECT("{ span.type > \"E\" }", "2");                /* strings compare bytewise */
}

static void test_eval_logic_and_spansets(void **state)
{
    (void)state;
    EXPECT("{ name = \"DataLoader\" || status = error && kind = server }", "1,2");
    EXPECT("{ (name = \"DataLoader\" || status = error) && kind = internal }", "0,1");
    EXPECT("{ !(status = error) }", "1");
    EXPECT("{ name = \"DataLoader\" } && { name = \"Processor\" }", "1,2");
    EXPECT("{ name = \"DataLoader\" } && { name = \"Nope\" }", "-");
    EXPECT("{ name = \"Nope\" } || { name = \"Processor\" }", "2");
    EXPECT("{ name = \"Nope\" } || { name = \"Nope2\" }", "-");
    EXPECT("({ name = \"Nope\" } || { kind = server }) && { status = ok }", "1,2");
    EXPECT("{ status = error } && { status = error }", "0,2");
    EXPECT("{ name = \"Workflow\" } | select(span.workflowId)", "0");
}

static void test_span_attrs(void **state)
{
    (void)state;
    char err[256];
    tql_query *q = NULL;
    assert_int_equal(tql_parse("{resource.service.name=\"Tracing.Worker\" && name=\"Workflow\" && duration > 1s} | "
                               "select(span.id, span.workflowId, span.startTime, span.endTime, status, kind, "
                               "statusMessage, .service.name, event.code, rootName)",
                               &q, err, sizeof err),
                     0);
    tql_attr out[16];
    size_t n = tql_span_attrs(q, &trace, 0, out, 16);
    /* service.name (from the filter), workflowId, startTime, status, kind,
     * statusMessage; span.id and span.endTime are absent; name, duration,
     * rootName, event fields and the duplicate .service.name are not returned. */
    assert_int_equal(n, 6);
    assert_string_equal(out[0].key, "service.name");
    assert_string_equal(out[0].val.v.s, "Tracing.Worker");
    assert_string_equal(out[1].key, "workflowId");
    assert_string_equal(out[1].val.v.s, "wf-1");
    assert_string_equal(out[2].key, "startTime");
    assert_string_equal(out[3].key, "status");
    assert_int_equal(out[3].val.type, TQL_STRING);
    assert_string_equal(out[3].val.v.s, "error");
    assert_string_equal(out[4].key, "kind");
    assert_string_equal(out[4].val.v.s, "internal");
    assert_string_equal(out[5].key, "statusMessage");
    assert_string_equal(out[5].val.v.s, "Entity failed: Processor");
    n = tql_span_attrs(q, &trace, 1, out, 2);  /* DataLoader: id; no statusMessage */
    assert_int_equal(n, 4);
    assert_string_equal(out[0].key, "service.name");
    assert_string_equal(out[1].key, "id");
    assert_string_equal(out[1].val.v.s, "e-1");
    tql_free(q);
}

static void test_span_matches(void **state)
{
    (void)state;
    char err[256];
    tql_query *q = NULL;
    assert_int_equal(tql_parse("{ kind = server }", &q, err, sizeof err), 0);
    assert_false(tql_is_match_all(q));
    assert_false(tql_span_matches(q, &trace, 0));
    assert_true(tql_span_matches(q, &trace, 2));
    assert_false(tql_span_matches(q, &trace, 9));
    tql_free(q);
    assert_int_equal(tql_parse("{ kind = server } && { name = \"Nope\" }", &q, err, sizeof err), 0);
    assert_false(tql_span_matches(q, &trace, 2));
    tql_free(q);
    assert_int_equal(tql_parse("{ }", &q, err, sizeof err), 0);
    assert_true(tql_is_match_all(q));
    tql_free(q);
}

/* "" when the query promises no span attribute value, else "key=value". */
static const char *required(const char *q)
{
    static char out[256];
    tql_query *parsed = NULL;
    char err[256];
    if (tql_parse(q, &parsed, err, sizeof err) != 0) fail_msg("%s: %s", q, err);
    const char *key, *value;
    if (tql_required_span_eq(parsed, &key, &value)) snprintf(out, sizeof out, "%s=%s", key, value);
    else out[0] = '\0';
    tql_free(parsed);
    return out;
}

static void test_required_span_eq(void **state)
{
    (void)state;
    assert_string_equal(required("{span.workflowId=\"w1\"}"), "workflowId=w1");
    assert_string_equal(required("{name=\"Workflow\" && span.workflowId=\"w1\" && status=error}"), "workflowId=w1");
    assert_string_equal(required("{name=\"x\"} && {span.id=\"e1\"}"), "id=e1");
    assert_string_equal(required("{span.workflowId=\"w1\"} | select(span.startTime)"), "workflowId=w1");
    /* Nothing is promised about one span through OR, NOT, other scopes,
     * other operators or other types. */
    assert_string_equal(required("{}"), "");
    assert_string_equal(required("{span.workflowId=\"w1\" || name=\"x\"}"), "");
    assert_string_equal(required("{!(span.workflowId=\"w1\")}"), "");
    assert_string_equal(required("{.workflowId=\"w1\"}"), "");
    assert_string_equal(required("{resource.service.name=\"a\"}"), "");
    assert_string_equal(required("{span.workflowId!=\"w1\"}"), "");
    assert_string_equal(required("{span.n=3}"), "");
    assert_string_equal(required("{span.a=\"1\"} || {span.b=\"2\"}"), "");
}

/* Patterns glibc's regcomp would expand into gigabytes are refused, as
 * Tempo's Go regexp refuses them; ordinary ones still compile. */
static void test_costly_regex_refused(void **state)
{
    (void)state;
    check_error("{name=~\"a++\"}", "position 8: bad regular expression \"a++\": invalid nested repetition operator");
    check_error("{name=~\"a{1001}\"}", "position 8: bad regular expression \"a{1001}\": repetition count above 1000");
    check_error("{name=~\"((a{999}){999})\"}",
                "position 8: bad regular expression \"((a{999}){999})\": too costly to compile (counted repetitions "
                "expand too far)");
    check_canon("{span.workflowId=~\"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\"}",
                "{span.workflowId =~ \"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\"}");
    check_canon("{name=~\"(Data|Out).*\"}", "{name =~ \"(Data|Out).*\"}");
}

static void test_fieldref(void **state)
{
    (void)state;
    char err[256];
    tql_fieldref *f = NULL;
    tql_fieldinfo info;
    tql_value vals[4];
    assert_int_equal(tql_fieldref_parse("resource.service.name", &f, err, sizeof err), 0);
    tql_fieldref_info(f, &info);
    assert_false(info.is_intrinsic);
    assert_int_equal(info.scope, TQL_SCOPE_RESOURCE);
    assert_string_equal(info.name, "service.name");
    assert_int_equal(tql_fieldref_values(f, &trace, 1, vals, 4), 1);
    assert_string_equal(vals[0].v.s, "Tracing.Worker");
    tql_fieldref_free(f);
    assert_int_equal(tql_fieldref_parse("span:status", &f, err, sizeof err), 0);
    tql_fieldref_info(f, &info);
    assert_true(info.is_intrinsic);
    assert_string_equal(info.name, "status");
    assert_int_equal(info.type, TQL_STATUS);
    assert_int_equal(tql_fieldref_values(f, &trace, 2, vals, 4), 1);
    assert_int_equal(vals[0].v.i, 2);
    tql_fieldref_free(f);
    assert_int_equal(tql_fieldref_parse("event:name", &f, err, sizeof err), 0);
    assert_int_equal(tql_fieldref_values(f, &trace, 0, vals, 2), 3); /* three events, two returned */
    assert_string_equal(vals[1].v.s, "Processing");
    assert_int_equal(tql_fieldref_values(f, &trace, 1, vals, 4), 0);
    tql_fieldref_free(f);
    assert_int_equal(tql_fieldref_parse("span.missing", &f, err, sizeof err), 0);
    assert_int_equal(tql_fieldref_values(f, &trace, 0, vals, 4), 0);
    tql_fieldref_free(f);
    assert_int_equal(tql_fieldref_parse("name = 1", &f, err, sizeof err), -1);
    assert_null(f);
    assert_string_equal(err, "position 6: expected end of the field, got \"=\"");
    assert_int_equal(tql_fieldref_parse("service.name", &f, err, sizeof err), -1);
    assert_string_equal(err, "position 1: unknown attribute scope \"service\" (use span., resource., event., "
                             "instrumentation. or .)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens_builder_query),
        cmocka_unit_test(test_required_span_eq),
        cmocka_unit_test(test_costly_regex_refused),
        cmocka_unit_test(test_tokens_kinds),
        cmocka_unit_test(test_tokens_errors),
        cmocka_unit_test(test_parse_builder_and_dashboard),
        cmocka_unit_test(test_parse_operators_and_literals),
        cmocka_unit_test(test_parse_fields),
        cmocka_unit_test(test_parse_precedence),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_limits),
        cmocka_unit_test(test_parse_out_of_memory),
        cmocka_unit_test(test_compare_types),
        cmocka_unit_test_setup(test_eval_derive, setup_trace),
        cmocka_unit_test_setup(test_eval_scopes, setup_trace),
        cmocka_unit_test_setup(test_eval_intrinsics, setup_trace),
        cmocka_unit_test_setup(test_eval_regex_and_types, setup_trace),
        cmocka_unit_test_setup(test_eval_logic_and_spansets, setup_trace),
        cmocka_unit_test_setup(test_span_attrs, setup_trace),
        cmocka_unit_test_setup(test_span_matches, setup_trace),
        cmocka_unit_test_setup(test_fieldref, setup_trace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
