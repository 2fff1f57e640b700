/* test_profiles_builtin.c — the built-in profiles (the profiles/ folder) on the
 * recorded answers of their systems (tests/fixtures/sources/), through
 * `extrace profile check NAME --key K --sample …`: each validates to the
 * canonical snapshot, and the tree it prints has the nodes, parents,
 * statuses and attributes its mapping table (docs/sources.md) promises. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support.h"

static char *check(const char *name, const char *key, const char *const *samples)
{
    const char *dir = getenv("EXTRACE_SOURCE_DIR");
    char paths[4][1200];
    char *argv[16] = {(char *)ts_bin(), "profile", "check", (char *)name, "--key", (char *)key};
    int n = 6;
    for (int i = 0; samples[i]; i++) {
        const char *eq = strchr(samples[i], '=');
        snprintf(paths[i], sizeof paths[i], "%.*s=%s/tests/fixtures/sources/%s/%s", (int)(eq - samples[i]), samples[i],
                 dir ? dir : ".", name, eq + 1);
        argv[n++] = "--sample";
        argv[n++] = paths[i];
    }
    argv[n] = NULL;
    char *out = NULL, *err = NULL;
    int rc = ts_run(argv, &out, &err, 20000);
    if (rc != 0) fail_msg("profile check %s: exit %d: %s%s", name, rc, out ? out : "", err ? err : "");
    free(err);
    return out;
}

static void expect(const char *out, const char *needle)
{
    if (!strstr(out, needle)) fail_msg("missing %s in:\n%s", needle, out);
}

static void test_github_actions(void **state)
{
    const char *samples[] = {"run=run.json", "jobs=jobs.json", NULL};
    char *out = check("github-actions", "octo-org/hello-world/30433642", samples);
    expect(out, "\"Build\": error (failure)");
    expect(out, "job/399444496 \"build (attempt 2)\" [job]: error (failure)");
    expect(out, "    queued/399444496 \"queued\" [queue]: ok (started), start 2024-05-01T10:04:12.0000000Z, end "
                "2024-05-01T10:04:20.0000000Z");
    expect(out, "    step/399444496/2 \"Run make\" [step]: error (failure)");
    expect(out, "    step/399444496/3 \"Run make install\" [step]: skipped (skipped)");
    expect(out, "job/399444497 \"deploy (attempt 2)\" [job]: pending (queued)");
    expect(out, "    queued/399444497 \"queued\" [queue]: running (queued)");
    expect(out, "\"vcs.ref.head.revision\": \"acb5820ced9479c074f688cc328bf03f341a511d\"");
    expect(out, "\"cicd.pipeline.result\": \"failure\"");
    expect(out, "\"cicd.pipeline.task.type\": \"deploy\"");
    free(out);
}

static void test_argo_workflows(void **state)
{
    const char *samples[] = {"workflow=workflow.json", NULL};
    char *out = check("argo-workflows", "argo/ci-dag-x7k2p", samples);
    expect(out, "\"ci-dag\": error (Failed)");
    expect(out, "  ci-dag-x7k2p-1929124461 \"flaky\" [Retry]: error (Failed)");
    expect(out, "    ci-dag-x7k2p-1152347018 \"flaky(0)\" [Pod]: error (Failed)");
    expect(out, "    ci-dag-x7k2p-1169124637 \"flaky(1)\" [Pod]: error (Failed)");
    expect(out, "error \"Error (exit code 1)\"");
    expect(out, "  ci-dag-x7k2p-4199123512 \"after\" [Skipped]: skipped (Omitted)");
    expect(out, "\"k8s.namespace.name\": \"argo\"");
    free(out);
}

static void test_airflow(void **state)
{
    const char *samples[] = {"run=dag_run.json", "tasks=task_instances.json", NULL};
    char *out = check("airflow", "etl_daily/scheduled__2024-05-01T00:00:00+00:00", samples);
    expect(out, "\"etl_daily\": error (failed)");
    expect(out, "  ti/extract \"extract\" [task]: ok (success)");
    expect(out, "  ti/transform \"transform\" [mapped task]: pending (mapped)");
    expect(out, "    ti/transform/2 \"transform[2]\" [task]: pending (none)");
    expect(out, "\"airflow.task.try_number\": 2");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_github_actions),
        cmocka_unit_test(test_argo_workflows),
        cmocka_unit_test(test_airflow),
    };
    return cmocka_run_group_tests_name("profiles_builtin", tests, NULL, NULL);
}
