/* The console exporter's text: exact output for fixed spans, TimeSpan
 * durations, escaping, number formatting, allocation failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "otel/console.h"
#include "otel/ids.h"

#define T0 INT64_C(1720162671073740700) /* 2024-07-05T06:57:51.0737407Z */
#define SEC INT64_C(1000000000)

static void ids(exo_span *s, const char *trace_hex, const char *span_hex)
{
    for (int i = 0; i < 16; i++) sscanf(trace_hex + 2 * i, "%2hhx", &s->trace_id[i]);
    for (int i = 0; i < 8; i++) sscanf(span_hex + 2 * i, "%2hhx", &s->span_id[i]);
}

static void test_workflow_span(void **state)
{
    (void)state;
    exo_resource res = {0};
    exo_attrs_add_str(&res.attrs, "service.name", "Tracing.Worker");
    exo_attrs_add_str(&res.attrs, "service.namespace", "dev1");
    exo_span *s = exo_span_new("Workflow", EXO_KIND_INTERNAL);
    ids(s, "28036142016d8fe90492dd49328d484f", "94ca096e5110ef7c");
    s->start_ns = T0;
    s->end_ns = T0 + 65 * SEC + 13942200; /* 00:01:05.0139422 */
    exo_attrs_add_str(&s->attrs, "workflowId", "704c0b60-1d3c-4b43-9d0b-6a6d2e8f0a11");
    exo_attrs_add_int(&s->attrs, "entities", 2);
    exo_attrs_add_double(&s->attrs, "ratio", 0.1);
    exo_attrs_add_bool(&s->attrs, "timedOut", 0);
    exo_event *e = exo_span_add_event(s, T0, "Submitted");
    exo_attrs_add_str(&e->attrs, "extrace.observed_before", "2024-07-05T06:57:56.1234567Z");
    exo_span_add_event(s, T0 + 5 * SEC + 50000000, "Failed");
    exo_span_set_status(s, EXO_STATUS_ERROR, "Entity failed: DataLoader");

    char *out;
    assert_int_equal(exo_console_format(&res, "sample-tracing", s, &out), 0);
    assert_string_equal(out,
                        "Activity.TraceId:            28036142016d8fe90492dd49328d484f\n"
                        "Activity.SpanId:             94ca096e5110ef7c\n"
                        "Activity.ParentSpanId:       (root)\n"
                        "Activity.ActivitySourceName: sample-tracing\n"
                        "Activity.DisplayName:        Workflow\n"
                        "Activity.Kind:               Internal\n"
                        "Activity.StartTime:          2024-07-05T06:57:51.0737407Z\n"
                        "Activity.Duration:           00:01:05.0139422\n"
                        "Activity.Tags:\n"
                        "    workflowId: 704c0b60-1d3c-4b43-9d0b-6a6d2e8f0a11\n"
                        "    entities: 2\n"
                        "    ratio: 0.1\n"
                        "    timedOut: false\n"
                        "StatusCode: Error\n"
                        "Activity.StatusDescription: Entity failed: DataLoader\n"
                        "Activity.Events:\n"
                        "    Submitted [2024-07-05T06:57:51.0737407Z]\n"
                        "        extrace.observed_before: 2024-07-05T06:57:56.1234567Z\n"
                        "    Failed [2024-07-05T06:57:56.1237407Z]\n"
                        "Resource associated with Activity:\n"
                        "    service.name: Tracing.Worker\n"
                        "    service.namespace: dev1\n"
                        "\n");
    ex_free(out);
    exo_span_free(s);
    exo_attrs_clear(&res.attrs);
}

static void test_child_span_minimal(void **state)
{
    (void)state;
    exo_span *s = exo_span_new("Data\nLoader", EXO_KIND_CLIENT);
    ids(s, "0000000000000000000000000000000a", "00000000000000bb");
    for (int i = 0; i < 8; i++) s->parent_span_id[i] = (uint8_t)(0x10 + i);
    s->has_parent = 1;
    s->start_ns = T0;
    s->end_ns = T0 + 26 * 3600 * SEC + 99; /* 1 day 2 h; 99 ns is below a tick */
    exo_attrs_add_str(&s->attrs, "tab\tkey", "bell\a");
    exo_span_set_status(s, EXO_STATUS_OK, "");
    char *out;
    assert_int_equal(exo_console_format(NULL, NULL, s, &out), 0);
    assert_string_equal(out,
                        "Activity.TraceId:            0000000000000000000000000000000a\n"
                        "Activity.SpanId:             00000000000000bb\n"
                        "Activity.ParentSpanId:       1011121314151617\n"
                        "Activity.ActivitySourceName: \n"
                        "Activity.DisplayName:        Data\\nLoader\n"
                        "Activity.Kind:               Client\n"
                        "Activity.StartTime:          2024-07-05T06:57:51.0737407Z\n"
                        "Activity.Duration:           1.02:00:00.0000000\n"
                        "Activity.Tags:\n"
                        "    tab\\tkey: bell\\x07\n"
                        "StatusCode: Ok\n"
                        "\n");
    ex_free(out);
    exo_span_free(s);
}

static void test_durations(void **state)
{
    (void)state;
    char b[48];
    assert_string_equal(exo_console_duration(0, b, sizeof b), "00:00:00.0000000");
    assert_string_equal(exo_console_duration(99, b, sizeof b), "00:00:00.0000000");
    assert_string_equal(exo_console_duration(100, b, sizeof b), "00:00:00.0000001");
    assert_string_equal(exo_console_duration(65 * SEC + 13942200, b, sizeof b), "00:01:05.0139422");
    assert_string_equal(exo_console_duration(23 * 3600 * SEC + 59 * 60 * SEC + 59 * SEC + 999999999, b, sizeof b),
                        "23:59:59.9999999");
    assert_string_equal(exo_console_duration(86400 * SEC, b, sizeof b), "1.00:00:00.0000000");
    assert_string_equal(exo_console_duration(-1500000000, b, sizeof b), "-00:00:01.5000000");
    assert_string_equal(exo_console_duration(-50, b, sizeof b), "00:00:00.0000000");
    assert_string_equal(exo_console_duration(INT64_MIN, b, sizeof b), "-106751.23:47:16.8547758");
    assert_string_equal(exo_console_duration(INT64_MAX, b, sizeof b), "106751.23:47:16.8547758");
}

static void test_values_and_kinds(void **state)
{
    (void)state;
    exo_span *s = exo_span_new("n", 9); /* unknown kind */
    s->start_ns = T0;
    s->end_ns = T0 - SEC; /* ends before it starts: negative duration */
    exo_attrs_add_double(&s->attrs, "a", 3.0);
    exo_attrs_add_double(&s->attrs, "b", 1e21);
    exo_attrs_add_double(&s->attrs, "c", NAN);
    exo_attrs_add_double(&s->attrs, "d", -INFINITY);
    exo_attrs_add_double(&s->attrs, "e", 0.30000000000000004);
    exo_attrs_add_int(&s->attrs, "f", INT64_MIN);
    exo_attrs_add_bool(&s->attrs, "g", 1);
    char *out;
    assert_int_equal(exo_console_format(NULL, "x", s, &out), 0);
    assert_non_null(strstr(out, "Activity.Kind:               Unspecified\n"));
    assert_non_null(strstr(out, "Activity.Duration:           -00:00:01.0000000\n"));
    assert_non_null(strstr(out, "    a: 3\n    b: 1e+21\n    c: NaN\n    d: -Infinity\n"
                                "    e: 0.30000000000000004\n    f: -9223372036854775808\n    g: true\n"));
    assert_non_null(strstr(out, "StatusCode: Unset\n\n"));
    assert_null(strstr(out, "StatusDescription"));
    assert_null(strstr(out, "Activity.Events"));
    assert_null(strstr(out, "Resource associated"));
    ex_free(out);
    exo_span_free(s);
}

static void test_allocation_failures(void **state)
{
    (void)state;
    exo_span *s = exo_span_new("Workflow", EXO_KIND_INTERNAL);
    for (int i = 0; i < 40; i++) exo_attrs_add_str(&s->attrs, "key", "a fairly long attribute value to grow the text");
    int ok = 0;
    for (long n = 0; n < 50 && !ok; n++) {
        char *out = (char *)"x";
        ex_mem_fail_after(n);
        int rc = exo_console_format(NULL, "s", s, &out);
        ex_mem_fail_after(-1);
        if (rc == 0) {
            ok = 1;
            ex_free(out);
        } else {
            assert_int_equal(rc, -1);
            assert_null(out);
        }
    }
    assert_true(ok);
    exo_span_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workflow_span),
        cmocka_unit_test(test_child_span_minimal),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_values_and_kinds),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
