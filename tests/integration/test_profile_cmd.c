/* test_profile_cmd.c — `extrace sources` and `extrace profile check` as a
 * user runs them: a profile written for an API shape no built-in knows
 * (paged answers, a tree four levels deep) checked against recorded
 * answers, and every kind of failure with its exit status and message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

static char *write_tmp(const char *name, const char *text)
{
    static char path[8][512];
    static int n;
    char *p = path[n++ % 8];
    snprintf(p, sizeof path[0], "%s/%s", ts_tmpdir(), name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return p;
}

/* Run extrace with args, its stdout into *out and stderr into *err; returns the status. */
static int run(char **out, char **err, const char *a1, const char *a2, const char *a3, const char *a4,
               const char *a5, const char *a6, const char *a7)
{
    char *argv[] = {(char *)ts_bin(), (char *)a1, (char *)a2, (char *)a3, (char *)a4, (char *)a5, (char *)a6, (char *)a7, NULL};
    return ts_run(argv, out, err, 20000);
}

static void has(const char *text, const char *needle)
{
    if (!strstr(text, needle)) fail_msg("missing \"%s\" in:\n%s", needle, text);
}

/* An in-house batch API: GET /batches/{tenant}/{batch} gives the batch,
 * GET …/tasks pages its tasks, each with sub-steps. */
static const char PROFILE[] =
    "name: inhouse\n"
    "description: Batches of the in-house scheduler\n"
    "key: [tenant, batch]\n"
    "base_url: https://batch.example/api\n"
    "auth: {type: header, header: X-Api-Key, token_env: INHOUSE_KEY}\n"
    "requests:\n"
    "  batch:\n"
    "    url: /batches/{tenant}/{batch}\n"
    "  tasks:\n"
    "    url: /batches/{tenant}/{batch}/tasks\n"
    "    paginate: link\n"
    "    max_pages: 5\n"
    "map: |\n"
    "  def st: {\"WAIT\": \"pending\", \"RUN\": \"running\", \"DONE\": \"ok\", \"FAIL\": \"error\"}[.];\n"
    "  {\n"
    "    name: .batch.title, status: (.batch.state | st), state: .batch.state,\n"
    "    start: .batch.began, end: .batch.ended,\n"
    "    attributes: {\"cicd.pipeline.run.id\": .key.batch, tenant: .key.tenant},\n"
    "    nodes: [.tasks[].items[] | ({key: \"t/\\(.id)\", parent: .after, name: .name, kind: \"task\",\n"
    "             status: (.state | st), state: .state, start: .began, end: .ended, error: .why},\n"
    "            (.steps[]? as $s | {key: \"s/\\(.id)/\\($s.n)\", parent: \"t/\\(.id)\", name: $s.name,\n"
    "             kind: \"step\", status: ($s.state | st)}))]\n"
    "  }\n";

static void test_sources_lists_builtins(void **state)
{
    char *out = NULL, *err = NULL;
    assert_int_equal(run(&out, &err, "sources", NULL, NULL, NULL, NULL, NULL, NULL), 0);
    has(out, "seed ");
    has(out, "(key: id)");
    free(out);
    free(err);
}

static void test_check_user_profile_with_samples(void **state)
{
    char *prof = write_tmp("inhouse.yaml", PROFILE);
    char *batch = write_tmp("batch.json", "{\"title\": \"nightly\", \"state\": \"FAIL\", \"began\": 1714557600, "
                                          "\"ended\": \"2024-05-01T10:30:00Z\"}");
    char *p1 = write_tmp("tasks1.json", "{\"items\": [{\"id\": 1, \"name\": \"extract\", \"state\": \"DONE\", \"after\": null,"
                                        " \"began\": 1714557600, \"ended\": 1714558200,"
                                        " \"steps\": [{\"n\": 1, \"name\": \"fetch\", \"state\": \"DONE\"}]}]}");
    char *p2 = write_tmp("tasks2.json", "{\"items\": [{\"id\": 2, \"name\": \"load\", \"state\": \"FAIL\", \"after\": \"t/1\","
                                        " \"why\": \"disk full\", \"steps\": [{\"n\": 1, \"name\": \"write\", \"state\": \"FAIL\"}]}]}");
    char sb[600], st[1200];
    snprintf(sb, sizeof sb, "batch=%s", batch);
    snprintf(st, sizeof st, "--sample=tasks=%s,%s", p1, p2);
    char *out = NULL, *err = NULL;
    char *argv[] = {(char *)ts_bin(), "profile", "check", prof, "--key", "acme/b-77", "--sample", sb, st, NULL};
    int rc = ts_run(argv, &out, &err, 20000);
    if (rc != 0) fail_msg("status %d: %s", rc, err);
    /* The summary, without any secret (none is read). */
    has(out, "profile inhouse (");
    has(out, "key: tenant/batch");
    has(out, "auth: header (X-Api-Key) token from $INHOUSE_KEY");
    has(out, "request tasks: GET /batches/{tenant}/{batch}/tasks (paged by Link, at most 5 pages)");
    /* The jq output, then the validated tree: step under task under task under the root. */
    has(out, "\"cicd.pipeline.run.id\": \"b-77\"");
    has(out, "snapshot (4 nodes):\n"
             "\"nightly\": error (FAIL), start 2024-05-01T10:00:00.0000000Z, end 2024-05-01T10:30:00.0000000Z, 2 attributes\n"
             "  t/1 \"extract\" [task]: ok (DONE), start 2024-05-01T10:00:00.0000000Z, end 2024-05-01T10:10:00.0000000Z\n"
             "    s/1/1 \"fetch\" [step]: ok\n"
             "    t/2 \"load\" [task]: error (FAIL), error \"disk full\"\n"
             "      s/2/1 \"write\" [step]: error\n");
    free(out);
    free(err);
}

static void test_check_failures(void **state)
{
    char *out = NULL, *err = NULL;
    /* A profile that does not load: file:line:col, the field, the value; exit 2. */
    char *bad = write_tmp("bad.yaml", "name: x\nkey: [id]\nrequests:\n  jobs:\n    url: /j\n    paginate: pages\nmap: .\n");
    assert_int_equal(run(&out, &err, "profile", "check", bad, NULL, NULL, NULL, NULL), 2);
    char want[700];
    snprintf(want, sizeof want, "%s:6:15: requests.jobs.paginate: unknown value \"pages\" (link)", bad);
    has(err, want);
    free(out), free(err);
    /* A jq program that does not compile: the line in the profile; exit 2. */
    bad = write_tmp("badjq.yaml", "name: x\nkey: [id]\nrequests: {w: {url: /w}}\nmap: |\n  {a: 1}\n  | nosuch\n");
    assert_int_equal(run(&out, &err, "profile", "check", bad, NULL, NULL, NULL, NULL), 2);
    snprintf(want, sizeof want, "%s:5: map: nosuch/0 is not defined at line 2 (profile line 6): | nosuch", bad);
    has(err, want);
    free(out), free(err);
    /* A program that fails on the sample: jq's message and kind; exit 1. */
    char *prof = write_tmp("rt.yaml", "name: x\nkey: [id]\nrequests: {w: {url: /w}}\nmap: '.w.a.b'\n");
    char *sample = write_tmp("w.json", "{\"a\": 3}");
    char sm[600];
    snprintf(sm, sizeof sm, "w=%s", sample);
    assert_int_equal(run(&out, &err, "profile", "check", prof, "--key", "1", "--sample", sm), 1);
    has(err, "map: Cannot index number with string \"b\" [runtime]");
    free(out), free(err);
    /* An output that is not a canonical snapshot: the validator's message; exit 1. */
    prof = write_tmp("inv.yaml", "name: x\nkey: [id]\nrequests: {w: {url: /w}}\nmap: '{status: \"done\"}'\n");
    assert_int_equal(run(&out, &err, "profile", "check", prof, "--key", "1", "--sample", sm), 1);
    has(err, "the output is not a canonical snapshot: ");
    has(err, "\"done\"");
    free(out), free(err);
    /* Usage errors: exit 2. */
    assert_int_equal(run(&out, &err, "profile", "check", prof, "--sample", sm, NULL, NULL), 2);
    has(err, "--sample needs --key");
    free(out), free(err);
    assert_int_equal(run(&out, &err, "profile", "check", prof, "--key", "1", "--sample", "nope=x.json"), 2);
    has(err, "has no request \"nope\"");
    free(out), free(err);
    sample = write_tmp("notjson.json", "{\"a\": ");
    snprintf(sm, sizeof sm, "w=%s", sample);
    assert_int_equal(run(&out, &err, "profile", "check", prof, "--key", "1", "--sample", sm), 1);
    has(err, "the answer of request w is not JSON: unexpected token near end of file");
    free(out), free(err);
    assert_int_equal(run(&out, &err, "profile", "check", "no-such-source", NULL, NULL, NULL, NULL), 2);
    has(err, "no-such-source: no such file, and no built-in profile of that name (");
    free(out), free(err);
    assert_int_equal(run(&out, &err, "profile", "frobnicate", NULL, NULL, NULL, NULL, NULL), 2);
    has(err, "unknown command \"frobnicate\"");
    free(out), free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sources_lists_builtins),
        cmocka_unit_test(test_check_user_profile_with_samples),
        cmocka_unit_test(test_check_failures),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ts_cleanup();
    return rc;
}
