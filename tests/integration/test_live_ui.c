/* Running workflows in the web UI: tests/browser/live.test.js (the pure
 * part, web/js/live.js: no browser) and tests/browser/live_ui.test.js
 * (headless Chromium during a real `extrace demo` run: the Running card
 * against the worker's in-flight count, an open stage growing between two
 * screenshots, the finished trace replacing the live view without a
 * reload, no console errors), with node's test runner against the extrace
 * binary under test (EXTRACE_BIN). Screenshots go to ui-artifacts/ in the
 * test's working directory. The browser part is skipped only when
 * /usr/bin/chromium is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support.h"

#define TIMEOUT_MS 300000

static void test_live_views(void **state)
{
    (void)state;
    assert_int_equal(ts_node_test("tests/browser/live.test.js", 60000), 0);
}

static void test_live_browser(void **state)
{
    (void)state;
    int rc = ts_browser_test("tests/browser/live_ui.test.js", TIMEOUT_MS);
    if (rc == 1) skip();
    assert_int_equal(rc, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_views),
        cmocka_unit_test(test_live_browser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
