/* Prometheus text exposition: exact text for known values, label
 * escaping, cumulative histogram buckets with _sum and _count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "worker/metrics.h"

static void test_numbers(void **state)
{
    (void)state;
    char b[40];
    assert_string_equal(wk_prom_number(0, b, sizeof b), "0");
    assert_string_equal(wk_prom_number(42, b, sizeof b), "42");
    assert_string_equal(wk_prom_number(0.25, b, sizeof b), "0.25");
    assert_string_equal(wk_prom_number(0.1, b, sizeof b), "0.1");
    assert_string_equal(wk_prom_number(0.0025, b, sizeof b), "0.0025");
    assert_string_equal(wk_prom_number(INFINITY, b, sizeof b), "+Inf");
    assert_string_equal(wk_prom_number(NAN, b, sizeof b), "NaN");
    assert_string_equal(wk_prom_number(18446744073709551615.0, b, sizeof b), "1.8446744073709552e+19");
}

static void test_family_and_escaping(void **state)
{
    (void)state;
    wk_text t = {0};
    wk_prom_family(&t, "x_total", "counter", "Lines with \\ and\nnewline \"kept\".");
    wk_prom_sample(&t, "x_total", "path", "C:\\dir \"q\"\nnext", 3);
    wk_prom_sample(&t, "x_total", NULL, NULL, 7);
    assert_false(t.failed);
    assert_string_equal(t.data, "# HELP x_total Lines with \\\\ and\\nnewline \"kept\".\n"
                                "# TYPE x_total counter\n"
                                "x_total{path=\"C:\\\\dir \\\"q\\\"\\nnext\"} 3\n"
                                "x_total 7\n");
    assert_int_equal(t.len, strlen(t.data));
    wk_text_free(&t);
    assert_null(t.data);
}

static void test_histogram(void **state)
{
    (void)state;
    static const double bounds[] = {0.1, 0.5, 1};
    wk_histogram h;
    wk_histogram_init(&h, bounds, 3);
    wk_histogram_observe(&h, 0.05);
    wk_histogram_observe(&h, 0.1); /* on a bound: counts in that bucket (le = less or equal) */
    wk_histogram_observe(&h, 0.3);
    wk_histogram_observe(&h, 2.0); /* above every bound: only +Inf */
    wk_text t = {0};
    wk_prom_histogram(&t, "d_seconds", "Durations.", &h);
    assert_string_equal(t.data, "# HELP d_seconds Durations.\n"
                                "# TYPE d_seconds histogram\n"
                                "d_seconds_bucket{le=\"0.1\"} 2\n"
                                "d_seconds_bucket{le=\"0.5\"} 3\n"
                                "d_seconds_bucket{le=\"1\"} 3\n"
                                "d_seconds_bucket{le=\"+Inf\"} 4\n"
                                "d_seconds_sum 2.45\n"
                                "d_seconds_count 4\n");
    wk_text_free(&t);
}

/* The line of `name` (a whole sample line prefix up to the value) in text. */
static void expect_line(const char *text, const char *line)
{
    char want[256];
    snprintf(want, sizeof want, "\n%s\n", line);
    if (!strstr(text, want)) fail_msg("line \"%s\" not in:\n%s", line, text);
}

static void test_worker_metrics(void **state)
{
    (void)state;
    wk_metrics m;
    wk_metrics_init(&m);
    m.events_received = 12;
    m.events_rejected[WK_REJECT_JSON] = 2;
    m.events_rejected[WK_REJECT_BAD_ID] = 1;
    m.events_duplicate = 3;
    m.workflows_started = 6;
    m.workflows_finished[WK_RESULT_OK] = 4;
    m.workflows_finished[WK_RESULT_TIMEOUT] = 1;
    m.polls = 40;
    m.poll_errors[WK_POLL_ERR_HTTP_5XX] = 5;
    m.spans_submitted[0] = 7;
    m.spans_submitted[1] = 3;
    m.spans_resent = 1;
    m.partial_exports[1] = 2;
    wk_histogram_observe(&m.poll_duration, 0.002);
    wk_histogram_observe(&m.poll_duration, 0.002);
    wk_histogram_observe(&m.poll_duration, 30);
    wk_gauges g = {.spool_bytes = 4096, .workflows_in_flight = 1, .redis_subscribed = 1, .spans_exported = 11, .spans_dropped = 2,
                   .export_queue_spans = 9};
    wk_text t = {0};
    assert_int_equal(wk_metrics_render(&m, &g, &t), 0);
    const char *s = t.data;
    expect_line(s, "# TYPE extrace_workflows_started_total counter");
    expect_line(s, "extrace_workflows_started_total 6");
    expect_line(s, "extrace_workflows_finished_total{result=\"ok\"} 4");
    expect_line(s, "extrace_workflows_finished_total{result=\"error\"} 0");
    expect_line(s, "extrace_workflows_finished_total{result=\"timeout\"} 1");
    expect_line(s, "# TYPE extrace_workflows_in_flight gauge");
    expect_line(s, "extrace_workflows_in_flight 1");
    expect_line(s, "extrace_polls_total 40");
    expect_line(s, "extrace_poll_errors_total{kind=\"connect\"} 0");
    expect_line(s, "extrace_poll_errors_total{kind=\"http_5xx\"} 5");
    expect_line(s, "extrace_poll_errors_total{kind=\"contract\"} 0");
    expect_line(s, "# TYPE extrace_poll_duration_seconds histogram");
    expect_line(s, "extrace_poll_duration_seconds_bucket{le=\"0.001\"} 0");
    expect_line(s, "extrace_poll_duration_seconds_bucket{le=\"0.0025\"} 2");
    expect_line(s, "extrace_poll_duration_seconds_bucket{le=\"10\"} 2");
    expect_line(s, "extrace_poll_duration_seconds_bucket{le=\"+Inf\"} 3");
    expect_line(s, "extrace_poll_duration_seconds_sum 30.004");
    expect_line(s, "extrace_poll_duration_seconds_count 3");
    expect_line(s, "extrace_spans_exported_total 11");
    expect_line(s, "extrace_spans_dropped_total 2");
    expect_line(s, "# TYPE extrace_export_queue_spans gauge");
    expect_line(s, "extrace_export_queue_spans 9");
    expect_line(s, "extrace_events_rejected_total{reason=\"json\"} 2");
    expect_line(s, "extrace_events_rejected_total{reason=\"missing_field\"} 0");
    expect_line(s, "extrace_events_rejected_total{reason=\"bad_id\"} 1");
    expect_line(s, "extrace_events_rejected_total{reason=\"bad_time\"} 0");
    expect_line(s, "extrace_events_rejected_total{reason=\"capacity\"} 0");
    expect_line(s, "extrace_events_rejected_total{reason=\"source\"} 0");
    expect_line(s, "extrace_map_errors_total{kind=\"runtime\"} 0");
    expect_line(s, "extrace_polls_unchanged_total 0");
    expect_line(s, "extrace_polls_same_answer_total 0");
    expect_line(s, "extrace_rate_limit_pauses_total{reason=\"exhausted\"} 0");
    expect_line(s, "extrace_polling_paused 0");
    expect_line(s, "extrace_events_duplicate_total 3");
    expect_line(s, "extrace_redis_subscribed 1");
    expect_line(s, "extrace_spool_bytes 4096");
    expect_line(s, "extrace_spans_submitted_total{phase=\"running\"} 7");
    expect_line(s, "extrace_spans_submitted_total{phase=\"end\"} 3");
    expect_line(s, "extrace_spans_resent_total 1");
    expect_line(s, "extrace_partial_exports_total{outcome=\"undelivered\"} 2");
    /* Every family has exactly one HELP and one TYPE line, HELP first. */
    const char *p = s;
    int families = 0;
    while ((p = strstr(p, "# HELP "))) {
        char name[128];
        assert_int_equal(sscanf(p + 7, "%127s", name), 1);
        const char *eol = strchr(p, '\n');
        char type_prefix[160];
        snprintf(type_prefix, sizeof type_prefix, "# TYPE %s ", name);
        assert_true(strncmp(eol + 1, type_prefix, strlen(type_prefix)) == 0);
        families++;
        p = eol;
    }
    assert_int_equal(families, 28);
    assert_int_equal(s[t.len - 1], '\n');
    wk_text_free(&t);
}

static void test_text_limit(void **state)
{
    (void)state;
    wk_text t = {0};
    static char chunk[1024 * 1024];
    memset(chunk, 'x', sizeof chunk - 1);
    for (int i = 0; i < 20 && !t.failed; i++) wk_text_printf(&t, "%s", chunk);
    assert_true(t.failed);
    assert_true(t.len <= WK_TEXT_MAX);
    size_t len = t.len;
    wk_text_printf(&t, "more");
    assert_int_equal(t.len, len); /* nothing appended after a failure */
    wk_text_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),        cmocka_unit_test(test_family_and_escaping),
        cmocka_unit_test(test_histogram),      cmocka_unit_test(test_worker_metrics),
        cmocka_unit_test(test_text_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
