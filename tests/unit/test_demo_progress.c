/* Unit tests of the demo's pure parts: reading the worker's /metrics (as
 * the worker itself renders them), the status line, the "done" rule, the
 * timings scaled by --time-scale and the UI time range. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "demo/plan.h"
#include "demo/progress.h"
#include "worker/metrics.h"

#define MS EX_NS_PER_MS
#define SEC EX_NS_PER_SEC

/* The worker's renderer and the demo's parser agree on every value. */
static void test_parse_worker_rendering(void **state)
{
    wk_metrics m;
    wk_metrics_init(&m);
    m.events_received = 40;
    m.workflows_started = 31;
    m.workflows_finished[WK_RESULT_OK] = 20;
    m.workflows_finished[WK_RESULT_ERROR] = 6;
    m.workflows_finished[WK_RESULT_TIMEOUT] = 2;
    wk_histogram_observe(&m.poll_duration, 0.004);
    wk_gauges g = {.workflows_in_flight = 3, .spans_exported = 1234, .spans_dropped = 5, .export_queue_spans = 17};
    wk_text t = {0};
    assert_int_equal(wk_metrics_render(&m, &g, &t), 0);

    dm_worker_stats s;
    char why[256] = "";
    assert_int_equal(dm_metrics_parse(t.data, t.len, &s, why, sizeof why), 0);
    assert_int_equal(s.started, 31);
    assert_int_equal(s.in_flight, 3);
    assert_int_equal(s.ok, 20);
    assert_int_equal(s.failed, 6);
    assert_int_equal(s.timed_out, 2);
    assert_int_equal(s.spans_exported, 1234);
    assert_int_equal(s.spans_dropped, 5);
    assert_int_equal(s.export_queue, 17);
    wk_text_free(&t);
}

static void test_parse_errors(void **state)
{
    dm_worker_stats s;
    char why[256];
    const char *missing = "extrace_workflows_started_total 1\nextrace_workflows_in_flight 0\n"
                          "extrace_workflows_finished_total{result=\"ok\"} 1\n"
                          "extrace_workflows_finished_total{result=\"error\"} 0\n"
                          "extrace_spans_exported_total 4\nextrace_export_queue_spans 0\n";
    assert_int_equal(dm_metrics_parse(missing, strlen(missing), &s, why, sizeof why), -1);
    assert_string_equal(why, "no extrace_workflows_finished_total{result=\"timeout\"} in the answer");

    const char *bad = "extrace_workflows_in_flight lots\n";
    assert_int_equal(dm_metrics_parse(bad, strlen(bad), &s, why, sizeof why), -1);
    assert_string_equal(why, "extrace_workflows_in_flight: the value is not a non-negative number");

    /* A longer name with the same prefix is another metric; comments are skipped. */
    const char *ok = "# HELP extrace_workflows_started_total x\nextrace_workflows_started_total_other 9\n"
                     "extrace_workflows_started_total 2\nextrace_workflows_in_flight 1\n"
                     "extrace_workflows_finished_total{result=\"ok\"} 1\n"
                     "extrace_workflows_finished_total{result=\"error\"} 0\n"
                     "extrace_workflows_finished_total{result=\"timeout\"} 0\n"
                     "extrace_spans_exported_total 4\nextrace_export_queue_spans 0";
    assert_int_equal(dm_metrics_parse(ok, strlen(ok), &s, why, sizeof why), 0);
    assert_int_equal(s.started, 2);
    assert_int_equal(s.spans_dropped, 0); /* optional */
    assert_int_equal(dm_metrics_parse("", 0, &s, why, sizeof why), -1);
}

static void test_status_line_and_done(void **state)
{
    dm_progress p = {.published = 12, .total = 30};
    char line[256];
    dm_progress_format(&p, line, sizeof line);
    assert_string_equal(line, "published 12/30");

    p.have_stats = 1;
    p.stats = (dm_worker_stats){.started = 12, .in_flight = 5, .ok = 6, .failed = 1, .spans_exported = 28};
    dm_progress_format(&p, line, sizeof line);
    assert_string_equal(line, "published 12/30, in flight 5, ok 6, failed 1, timed out 0, spans exported 28");
    assert_true(strlen(line) < 80);

    p.stats.spans_dropped = 3;
    strcpy(p.stats_error, "Connection refused");
    dm_progress_format(&p, line, sizeof line);
    assert_string_equal(line, "published 12/30, in flight 5, ok 6, failed 1, timed out 0, spans exported 28, "
                              "spans dropped 3, worker metrics: Connection refused");
    dm_progress_format(&p, line, 10); /* truncated, still a string */
    assert_string_equal(line, "published");

    /* Done: generator finished, everything published finished, nothing queued. */
    dm_progress d = {.published = 6, .total = 6, .gen_done = 1, .have_stats = 1,
                     .stats = {.ok = 4, .failed = 1, .timed_out = 1}};
    assert_true(dm_progress_done(&d));
    d.gen_done = 0;
    assert_false(dm_progress_done(&d));
    d.gen_done = 1;
    d.stats.export_queue = 1;
    assert_false(dm_progress_done(&d));
    d.stats.export_queue = 0;
    d.stats.in_flight = 1;
    assert_false(dm_progress_done(&d));
    d.stats.in_flight = 0;
    d.stats.ok = 3;
    assert_false(dm_progress_done(&d));
    d.stats.ok = 4;
    d.have_stats = 0;
    assert_false(dm_progress_done(&d));
}

static void test_plan_scaling(void **state)
{
    dm_plan p;
    dm_plan_make(30, 60, &p);
    assert_int_equal(p.initial_delay_ns, 83 * MS);
    assert_int_equal(p.interval_ns, 167 * MS);
    assert_int_equal(p.timeout_ns, 30 * SEC);
    assert_int_equal(p.bsp_delay_ns, 100 * MS); /* 83 ms, raised to the floor */
    assert_int_equal(p.batch_size, 5);
    assert_int_equal(p.batch_wait_ns, 4 * SEC);
    assert_int_equal(p.event_wait_lo_ns, 17 * MS);
    assert_int_equal(p.event_wait_hi_ns, 317 * MS);
    /* 6 batches: 5 batch waits, 30 event waits at most. */
    assert_int_equal(p.gen_real_max_ns, 5 * 4 * SEC + 30 * 317 * MS);

    dm_plan_make(6, 600, &p);
    assert_int_equal(p.initial_delay_ns, 50 * MS);
    assert_int_equal(p.interval_ns, 50 * MS);
    assert_int_equal(p.timeout_ns, 3 * SEC);
    assert_int_equal(p.batch_wait_ns, 400 * MS);
    assert_int_equal(p.event_wait_lo_ns, 2 * MS);
    assert_int_equal(p.event_wait_hi_ns, 32 * MS);

    dm_plan_make(1, 1, &p); /* real time: the seed's own values */
    assert_int_equal(p.initial_delay_ns, 5 * SEC);
    assert_int_equal(p.interval_ns, 10 * SEC);
    assert_int_equal(p.timeout_ns, 30 * 60 * SEC);
    assert_int_equal(p.batch_wait_ns, 4 * 60 * SEC);
    assert_int_equal(p.gen_real_max_ns, 19 * SEC);

    dm_plan_make(10, 100000, &p); /* floors */
    assert_int_equal(p.interval_ns, 50 * MS);
    assert_int_equal(p.timeout_ns, SEC);
    assert_int_equal(p.batch_wait_ns, 2 * MS);
    assert_int_equal(p.event_wait_lo_ns, MS);
    assert_true(p.event_wait_hi_ns >= p.event_wait_lo_ns);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_worker_rendering),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_status_line_and_done),
        cmocka_unit_test(test_plan_scaling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
