/* The web UI in headless Chromium: runs tests/browser/ui.test.js with
 * node's test runner against the extrace binary under test (EXTRACE_BIN)
 * and prints its report. Screenshots go to ui-artifacts/ in the test's
 * working directory (the build tree's tests/ folder).
 *
 * Skipped only when /usr/bin/chromium is missing; a missing
 * tests/browser/node_modules is a failure (scripts/install-deps runs npm ci). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

#define CHROMIUM "/usr/bin/chromium"
/* 100,000 workflows are loaded first: minutes under ASan on a busy machine. */
#define TIMEOUT_MS 570000

static void test_browser_ui(void **state)
{
    if (access(CHROMIUM, X_OK) != 0) {
        printf("skipped: %s is missing (scripts/install-deps installs the chromium package)\n", CHROMIUM);
        skip();
    }
    const char *src = getenv("EXTRACE_SOURCE_DIR");
    if (!src || !*src) fail_msg("EXTRACE_SOURCE_DIR is not set (ctest sets it to the source tree)");
    char script[PATH_MAX], modules[PATH_MAX], artifacts[PATH_MAX + 16], cwd[PATH_MAX];
    snprintf(script, sizeof script, "%s/tests/browser/ui.test.js", src);
    snprintf(modules, sizeof modules, "%s/tests/browser/node_modules/playwright-core/package.json", src);
    if (access(modules, R_OK) != 0)
        fail_msg("%s is missing: run `npm ci` in %s/tests/browser (scripts/install-deps does)", modules, src);
    if (!getcwd(cwd, sizeof cwd)) fail_msg("getcwd failed");
    snprintf(artifacts, sizeof artifacts, "%s/ui-artifacts", cwd);
    setenv("EXTRACE_UI_ARTIFACTS", artifacts, 1);
    setenv("EXTRACE_BIN", ts_bin(), 0);

    char *argv[] = {"node", "--test", "--test-reporter=spec", script, NULL};
    char *out = NULL, *err = NULL;
    int rc = ts_run(argv, &out, &err, TIMEOUT_MS);
    printf("%s%s", out ? out : "", err ? err : "");
    printf("node --test %s: exit %d; artifacts in %s\n", script, rc, artifacts);
    /* The reporter's summary: "ℹ fail 0" (spec) or "# fail 0" (tap), no
     * suite cancelled by a failed hook, and something ran. */
    int passed = out && strstr(out, " fail 0\n") && strstr(out, " cancelled 0\n") && !strstr(out, " pass 0\n");
    free(out);
    free(err);
    assert_int_equal(rc, 0);
    assert_true(passed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_browser_ui),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
