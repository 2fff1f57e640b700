/* Grafana's Tempo data source against `extrace store`: runs
 * tests/browser/grafana.test.js with node's test runner against the
 * extrace binary under test (EXTRACE_BIN) and prints its report. The
 * script starts the store, sends every request Grafana 10/11 sends to
 * Tempo (same path, parameters and headers) and checks each answer's
 * shape; it runs the seed dashboard's panel queries (the fixture
 * tests/browser/grafana/seed-workflows.json) and every query of the
 * provisioned dashboards too. Also tests/browser/stages.test.js, the pure
 * part of the dashboard's stage chart (web/js/stages.js). No browser needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support.h"

#define TIMEOUT_MS 120000

static void test_grafana_requests(void **state)
{
    (void)state;
    assert_int_equal(ts_node_test("tests/browser/grafana.test.js", TIMEOUT_MS), 0);
}

static void test_stage_chart_data(void **state)
{
    (void)state;
    assert_int_equal(ts_node_test("tests/browser/stages.test.js", TIMEOUT_MS), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grafana_requests),
        cmocka_unit_test(test_stage_chart_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
