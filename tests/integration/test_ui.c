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

#include "support.h"

/* 100,000 workflows are loaded first: minutes under ASan on a busy machine. */
#define TIMEOUT_MS 570000

static void test_browser_ui(void **state)
{
    (void)state;
    int rc = ts_browser_test("tests/browser/ui.test.js", TIMEOUT_MS);
    if (rc == 1) skip();
    assert_int_equal(rc, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_browser_ui),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
