/* Unit tests of source/jq_run: compile errors with profile lines, the
 * input object, one output as jansson, and every run-time error kind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/mem.h"
#include "source/jq_run.h"

/* A profile with requests run (plain) and jobs (paged), and map = prog
 * starting on line 8. */
static sr_profile *prof(const char *prog)
{
    char text[8192];
    snprintf(text, sizeof text,
             "name: t\nkey: [owner, id]\nrequests:\n  run: {url: /r}\n  jobs:\n    url: /j\n    paginate: link\nmap: |\n%s",
             prog);
    sr_profile *p;
    char err[SR_ERR_LEN];
    if (sr_profile_load_string("p.yaml", text, strlen(text), &p, err, sizeof err) != 0) fail_msg("%s", err);
    return p;
}

static void compile_bad(const char *prog, const char *want)
{
    sr_profile *p = prof(prog);
    sr_jq *jq = NULL;
    char err[SR_ERR_LEN];
    assert_int_equal(sr_jq_compile(p, &jq, err, sizeof err), -1);
    assert_null(jq);
    if (strcmp(err, want) != 0) fail_msg("got  \"%s\"\nwant \"%s\"", err, want);
    sr_profile_free(p);
}

static void test_compile_errors(void **state)
{
    compile_bad("  .a |\n", "p.yaml:9: map: syntax error, unexpected $end at line 1 (profile line 9): .a |");
    compile_bad("  {a: 1}\n  | foo\n", "p.yaml:9: map: foo/0 is not defined at line 2 (profile line 10): | foo");
    compile_bad("  import \"x\" as x; .\n",
                "p.yaml:9: map: syntax error, unexpected import at line 1 (profile line 9): import \"x\" as x; .");
    compile_bad("  bar | baz\n",
                "p.yaml:9: map: bar/0 is not defined at line 1 (profile line 9): bar | baz (and 1 more error)");
}

typedef struct run {
    sr_profile *p;
    sr_jq *jq;
    sr_key key;
    sr_jq_input *in;
    char err[SR_ERR_LEN];
} run;

static void run_init(run *r, const char *prog)
{
    memset(r, 0, sizeof *r);
    r->p = prof(prog);
    if (sr_jq_compile(r->p, &r->jq, r->err, sizeof r->err) != 0) fail_msg("%s", r->err);
    assert_int_equal(sr_key_parse(r->p, "octo/42", 7, &r->key, r->err, sizeof r->err), 0);
    r->in = sr_jq_input_new(r->p, &r->key, 0);
    assert_non_null(r->in);
}

static sr_jq_error run_go(run *r, json_t **out)
{
    sr_jq_error e = sr_jq_run(r->jq, r->in, out, r->err, sizeof r->err);
    r->in = NULL;
    return e;
}

static void run_done(run *r)
{
    sr_jq_input_free(r->in);
    sr_jq_free(r->jq);
    sr_key_free(&r->key);
    sr_profile_free(r->p);
}

static void add(run *r, const char *req, const char *body)
{
    sr_jq_error e = sr_jq_input_add(r->in, req, body, strlen(body), r->err, sizeof r->err);
    if (e != SR_JQ_OK) fail_msg("%s: %s", sr_jq_error_name(e), r->err);
}

static void test_run_input_and_output(void **state)
{
    run r;
    run_init(&r, "  {key, run, pages: (.jobs | length), ids: [.jobs[].jobs[].id],\n"
                 "   n: 3, f: 2.5, t: true, z: null, s: \"é\", big: 1e300, i53: 9007199254740992}\n");
    add(&r, "run", "{\"name\": \"CI\"}");
    add(&r, "jobs", "{\"jobs\": [{\"id\": 1}, {\"id\": 2}]}");
    add(&r, "jobs", "{\"jobs\": [{\"id\": 3}]}");
    json_t *out = NULL;
    assert_int_equal(run_go(&r, &out), SR_JQ_OK);
    assert_true(json_real_value(json_object_get(out, "big")) == 1e300);
    assert_int_equal(json_integer_value(json_object_get(out, "i53")), 9007199254740992LL);
    json_object_del(out, "big");
    json_object_del(out, "i53");
    char *text = json_dumps(out, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(text, "{\"f\":2.5,\"ids\":[1,2,3],\"key\":{\"id\":\"42\",\"owner\":\"octo\"},"
                              "\"n\":3,\"pages\":2,\"run\":{\"name\":\"CI\"},\"s\":\"é\",\"t\":true,\"z\":null}");
    assert_true(json_is_integer(json_object_get(out, "n")));
    assert_true(json_is_real(json_object_get(out, "f")));
    ex_free(text);
    json_decref(out);
    run_done(&r);
}

static void run_bad(const char *prog, const char *body, sr_jq_error want, const char *msg)
{
    run r;
    run_init(&r, prog);
    if (body) add(&r, "run", body);
    json_t *out = (json_t *)1;
    sr_jq_error e = run_go(&r, &out);
    if (e != want) fail_msg("%s: got %s (%s), want %s", prog, sr_jq_error_name(e), r.err, sr_jq_error_name(want));
    assert_null(out);
    if (strcmp(r.err, msg) != 0) fail_msg("got  \"%s\"\nwant \"%s\"", r.err, msg);
    run_done(&r);
}

static void test_run_errors(void **state)
{
    run_bad("  .run.a.b\n", "{\"a\": 5}", SR_JQ_ERR_RUNTIME, "p.yaml: map: Cannot index number with string \"b\"");
    run_bad("  error(\"boom\")\n", NULL, SR_JQ_ERR_RUNTIME, "p.yaml: map: boom");
    run_bad("  error({code: 1})\n", NULL, SR_JQ_ERR_RUNTIME, "p.yaml: map: {\"code\":1}");
    run_bad("  {a: 1}, error(\"late\")\n", NULL, SR_JQ_ERR_RUNTIME, "p.yaml: map: late (after a first output)");
    run_bad("  empty\n", NULL, SR_JQ_ERR_NO_OUTPUT, "p.yaml: map: no output (a snapshot object is needed)");
    run_bad("  {a: 1}, {b: 2}\n", NULL, SR_JQ_ERR_MANY_OUTPUTS,
            "p.yaml: map: more than one output (exactly one snapshot object is needed)");
    run_bad("  [1, 2]\n", NULL, SR_JQ_ERR_NOT_OBJECT, "p.yaml: map: the output is array [1,2], not an object");
    run_bad("  {a: nan}\n", NULL, SR_JQ_ERR_OUTPUT, "p.yaml: map: the output holds NaN or an infinite number");
    run_bad("  {a: (reduce range(300) as $i (0; [.]))}\n", NULL, SR_JQ_ERR_OUTPUT,
            "p.yaml: map: the output is nested too deeply");
    run_bad("  {a: ($__loc__|tostring), token: \"s3cret\"} | error(tostring)\n", NULL, SR_JQ_ERR_RUNTIME,
            "p.yaml: map: {\"a\":\"{\\\"file\\\":\\\"<top-level>\\\",\\\"line\\\":1}\",\"token\":\"***\"}");
}

/* The program sees only its input: no environment, no modules, no stderr. */
static void test_sandbox(void **state)
{
    setenv("EXTRACE_TEST_SECRET", "hunter2", 1);
    run r;
    run_init(&r, "  {e: env, E: $ENV, s: (1 | stderr)}\n");
    json_t *out = NULL;
    assert_int_equal(run_go(&r, &out), SR_JQ_OK);
    assert_int_equal(json_object_size(json_object_get(out, "e")), 0);
    assert_int_equal(json_object_size(json_object_get(out, "E")), 0);
    assert_int_equal(json_integer_value(json_object_get(out, "s")), 1);
    json_decref(out);
    run_done(&r);
    compile_bad("  include \"x\"; .\n",
                "p.yaml:9: map: syntax error, unexpected include at line 1 (profile line 9): include \"x\"; .");
}

static void test_input_errors(void **state)
{
    run r;
    run_init(&r, "  {}\n");
    assert_int_equal(sr_jq_input_add(r.in, "run", "{\"a\": ", 6, r.err, sizeof r.err), SR_JQ_ERR_INPUT);
    assert_string_equal(r.err, "p.yaml: the answer of request run is not JSON: unexpected token near end of file at line 1, column 6");
    assert_int_equal(sr_jq_input_add(r.in, "run", "1 2", 3, r.err, sizeof r.err), SR_JQ_ERR_INPUT);
    /* libjq 1.6 alone would leak the "c" (valgrind and ASan see it) */
    assert_int_equal(sr_jq_input_add(r.in, "run", "{\"a\":\"b\" \"c\":1}", 15, r.err, sizeof r.err), SR_JQ_ERR_INPUT);
    assert_string_equal(r.err, "p.yaml: the answer of request run is not JSON: '}' expected near '\"c\"' at line 1, column 12");
    /* an id past 2^63 is a number to jq, as it must stay */
    add(&r, "run", "{\"id\": 18446744073709551616}");
    assert_int_equal(sr_jq_input_add(r.in, "nope", "1", 1, r.err, sizeof r.err), SR_JQ_ERR_INPUT);
    assert_string_equal(r.err, "p.yaml: no request named \"nope\"");
    run_done(&r);
    /* The bound counts every answer of the run. */
    run_init(&r, "  {}\n");
    sr_jq_input_free(r.in);
    r.in = sr_jq_input_new(r.p, &r.key, 40);
    add(&r, "jobs", "{\"a\": \"0123456789\"}");
    assert_int_equal(sr_jq_input_add(r.in, "jobs", "{\"a\": \"0123456789\"}", 19, r.err, sizeof r.err),
                     SR_JQ_ERR_INPUT_TOO_LARGE);
    assert_string_equal(r.err, "p.yaml: answers of 44 bytes in all, more than the 40 allowed (at request jobs)");
    run_done(&r);
}

static void test_run_text_and_reuse(void **state)
{
    run r;
    run_init(&r, "  {n: .run.n}\n");
    json_t *out;
    char err[SR_ERR_LEN];
    for (int i = 0; i < 3; i++) { /* compiled once, run many times */
        char in[64];
        snprintf(in, sizeof in, "{\"run\": {\"n\": %d}}", i);
        assert_int_equal(sr_jq_run_text(r.jq, in, strlen(in), &out, err, sizeof err), SR_JQ_OK);
        assert_int_equal(json_integer_value(json_object_get(out, "n")), i);
        json_decref(out);
    }
    assert_int_equal(sr_jq_run_text(r.jq, "{", 1, &out, err, sizeof err), SR_JQ_ERR_INPUT);
    run_done(&r);
    assert_string_equal(sr_jq_error_name(SR_JQ_ERR_MANY_OUTPUTS), "many_outputs");
    assert_string_equal(sr_jq_error_name(SR_JQ_OK), "ok");
    assert_string_equal(sr_jq_error_name(SR_JQ_NKINDS), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compile_errors), cmocka_unit_test(test_run_input_and_output),
        cmocka_unit_test(test_run_errors),     cmocka_unit_test(test_sandbox),
        cmocka_unit_test(test_input_errors),   cmocka_unit_test(test_run_text_and_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
