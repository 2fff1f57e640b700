/* The submitter's span: W3C traceparent parsing (valid and invalid values
 * after the Trace Context specification's rules), the event's
 * "Traceparent", the root span's link to it or its place as the root's
 * parent, the link in OTLP protobuf and JSON, and in the checkpoint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "model/monitor.h"
#include "model/spans.h"
#include "otel/otlp_json.h"
#include "otel/otlp_proto.h"
#include "otel/traceparent.h"
#include "worker/checkpoint.h"
#include "worker/event.h"

#define SEC INT64_C(1000000000)
#define T0 (INT64_C(1720162671) * SEC)
#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static const uint8_t TRACE[16] = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                  0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
static const uint8_t SPAN[8] = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};

static int parse(const char *s, exo_traceparent *tp, char *why)
{
    return exo_traceparent_parse(s, strlen(s), tp, why, 200);
}

static void valid_values(void **state)
{
    (void)state;
    exo_traceparent tp;
    char why[200], back[64];
    assert_int_equal(parse(TP, &tp, why), 0);
    assert_memory_equal(tp.trace_id, TRACE, 16);
    assert_memory_equal(tp.span_id, SPAN, 8);
    assert_int_equal(tp.flags, 1);
    assert_int_equal(tp.version, 0);
    assert_string_equal(exo_traceparent_format(&tp, back), TP);
    /* not sampled; other flag bits are kept as they come */
    assert_int_equal(parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", &tp, why), 0);
    assert_int_equal(tp.flags, 0);
    assert_int_equal(parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-ff", &tp, why), 0);
    assert_int_equal(tp.flags, 0xff);
    /* a later version: longer, its extra fields after a '-' are ignored */
    assert_int_equal(parse("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-what-comes-later", &tp, why), 0);
    assert_int_equal(tp.version, 0xcc);
    assert_int_equal(parse("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", &tp, why), 0);
    /* an HTTP header's optional whitespace around the value */
    assert_int_equal(parse(" \t" TP "\t ", &tp, why), 0);
}

static void invalid_values(void **state)
{
    (void)state;
    static const struct {
        const char *value, *why;
    } cases[] = {
        {"", "0 bytes long"},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "bytes long, a traceparent has 55"},
        {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "trace-id: 'B' at offset 4 is not a lower-case"},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01", "parent-id: 'F' at offset 38"},
        {"00-00000000000000000000000000000000-00f067aa0ba902b7-01", "trace-id is all zeros"},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "parent-id is all zeros"},
        {"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version ff is invalid"},
        {"0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version: 'g' at offset 1"},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g", "trace-flags: 'g' at offset 54"},
        {"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "expected '-' after the version"},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01", "expected '-' after the trace-id"},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7.01", "expected '-' after the parent-id"},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", "version 00 has exactly 55 bytes"},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "version 00 has exactly 55 bytes"},
        {"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x", "expected '-' after the trace-flags"},
        {"00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01", "trace-id: '-' at offset 34"},
        {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-\x01\x02", "byte 0x01 at offset 53"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        exo_traceparent tp;
        char why[200] = "";
        if (parse(cases[i].value, &tp, why) == 0) fail_msg("accepted %s", cases[i].value);
        if (!strstr(why, cases[i].why)) fail_msg("%s: message \"%s\" lacks \"%s\"", cases[i].value, why, cases[i].why);
    }
    char big[EXO_TRACEPARENT_MAX + 10];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    exo_traceparent tp;
    char why[200];
    assert_int_equal(parse(big, &tp, why), -1);
    assert_non_null(strstr(why, "more than the 256 looked at"));
}

static void event_carries_it(void **state)
{
    (void)state;
    wk_event ev;
    wk_reject r;
    char why[300];
    mdl_link l;
    const char *with = "{\"WorkflowId\":\"w1\",\"SubmittedAt\":\"2024-07-05T06:57:51Z\",\"Traceparent\":\"" TP "\"}";
    assert_int_equal(wk_event_parse(with, strlen(with), &ev, &r, why, sizeof why), 0);
    assert_string_equal(ev.traceparent, TP);
    assert_int_equal(wk_event_link(&ev, &l, why, sizeof why), 1);
    assert_memory_equal(l.trace_id, TRACE, 16);
    assert_memory_equal(l.span_id, SPAN, 8);
    assert_int_equal(l.flags, 1);

    const char *none = "{\"WorkflowId\":\"w1\",\"SubmittedAt\":\"2024-07-05T06:57:51Z\",\"Traceparent\":null}";
    assert_int_equal(wk_event_parse(none, strlen(none), &ev, &r, why, sizeof why), 0);
    assert_int_equal(wk_event_link(&ev, &l, why, sizeof why), 0);

    /* malformed: the event is still taken, the link refused with the value named */
    const char *bad = "{\"WorkflowId\":\"w1\",\"SubmittedAt\":\"2024-07-05T06:57:51Z\",\"Traceparent\":\"00-zz\"}";
    assert_int_equal(wk_event_parse(bad, strlen(bad), &ev, &r, why, sizeof why), 0);
    assert_int_equal(wk_event_link(&ev, &l, why, sizeof why), -1);
    assert_non_null(strstr(why, "traceparent \"00-zz\": 5 bytes long"));
    const char *num = "{\"WorkflowId\":\"w1\",\"SubmittedAt\":\"2024-07-05T06:57:51Z\",\"Traceparent\":7}";
    assert_int_equal(wk_event_parse(num, strlen(num), &ev, &r, why, sizeof why), 0);
    assert_int_equal(wk_event_link(&ev, &l, why, sizeof why), -1);
    assert_non_null(strstr(why, "not a string"));
}

/* A done monitor of workflow "w1" linked to TP. */
static mdl_monitor *linked_monitor(void)
{
    mdl_monitor *m = mdl_monitor_new("w1", T0, T0, 60 * SEC, 8, 64);
    assert_non_null(m);
    assert_int_equal(mdl_monitor_set_link(m, TRACE, SPAN, 1), 0);
    assert_int_equal(mdl_monitor_timeout(m, T0 + 61 * SEC), MDL_DONE);
    return m;
}

static const exo_span *root_of(exo_span **sp, size_t n)
{
    return sp[n - 1]; /* built last */
}

static void root_links_or_is_child(void **state)
{
    (void)state;
    mdl_monitor *m = linked_monitor();
    exo_span **sp;
    size_t n;
    uint8_t derived[16];
    mdl_trace_id("dev1", NULL, "w1", derived);

    mdl_build_opts o = {"dev1", NULL, NULL, "workflowId", 0};
    assert_int_equal(mdl_build_spans(m, &o, &sp, &n), 0);
    const exo_span *root = root_of(sp, n);
    assert_memory_equal(root->trace_id, derived, 16); /* the trace id stays the workflow's */
    assert_int_equal(root->has_parent, 0);
    assert_int_equal(root->nlinks, 1);
    assert_memory_equal(root->links[0].trace_id, TRACE, 16);
    assert_memory_equal(root->links[0].span_id, SPAN, 8);
    assert_int_equal(root->links[0].flags, 0x301);

    /* encoded: protobuf carries the link … */
    uint8_t *buf;
    size_t len;
    assert_int_equal(exo_otlp_proto_encode(NULL, "extrace", "1", sp, n, &buf, &len), 0);
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *req =
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, len, buf);
    assert_non_null(req);
    Opentelemetry__Proto__Trace__V1__Span *ps = req->resource_spans[0]->scope_spans[0]->spans[n - 1];
    assert_int_equal(ps->n_links, 1);
    assert_memory_equal(ps->links[0]->trace_id.data, TRACE, 16);
    assert_memory_equal(ps->links[0]->span_id.data, SPAN, 8);
    assert_int_equal(ps->links[0]->flags, 0x301);
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req, NULL);
    ex_free(buf);
    /* … and so does OTLP/JSON, ids in hex */
    char *json;
    assert_int_equal(exo_otlp_json_encode(NULL, "extrace", "1", sp, n, &json, &len), 0);
    assert_non_null(strstr(json, "\"links\":[{\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\","
                                 "\"spanId\":\"00f067aa0ba902b7\",\"flags\":769}]"));
    ex_free(json);
    mdl_spans_free(sp, n);

    o.link_as_parent = 1;
    assert_int_equal(mdl_build_spans(m, &o, &sp, &n), 0);
    root = root_of(sp, n);
    for (size_t i = 0; i < n; i++) assert_memory_equal(sp[i]->trace_id, TRACE, 16); /* the submitter's trace */
    assert_int_equal(root->has_parent, 1);
    assert_int_equal(root->parent_remote, 1);
    assert_memory_equal(root->parent_span_id, SPAN, 8);
    assert_int_equal(root->nlinks, 0);
    assert_int_equal(exo_otlp_proto_encode(NULL, "extrace", "1", sp, n, &buf, &len), 0);
    req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, len, buf);
    ps = req->resource_spans[0]->scope_spans[0]->spans[n - 1];
    assert_memory_equal(ps->parent_span_id.data, SPAN, 8);
    assert_int_equal(ps->flags, 0x301);
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(req, NULL);
    ex_free(buf);
    mdl_spans_free(sp, n);
    mdl_monitor_free(m);
}

static void checkpoint_keeps_it(void **state)
{
    (void)state;
    mdl_monitor *m = linked_monitor();
    uint8_t *blob;
    size_t len;
    char why[256];
    assert_int_equal(wk_ckpt_encode(m, &blob, &len), 0);
    mdl_monitor *back = wk_ckpt_decode(blob, len, why, sizeof why);
    assert_non_null(back);
    assert_non_null(mdl_monitor_link(back));
    assert_memory_equal(mdl_monitor_link(back), mdl_monitor_link(m), sizeof(mdl_link));
    uint8_t *again;
    size_t len2;
    assert_int_equal(wk_ckpt_encode(back, &again, &len2), 0);
    assert_int_equal(len2, len);
    assert_memory_equal(again, blob, len);
    ex_free(again);
    mdl_monitor_free(back);
    ex_free(blob);

    /* without a link, no section (the blob is what it was before links) */
    m->extra->has_link = 0;
    assert_int_equal(wk_ckpt_encode(m, &blob, &len), 0);
    back = wk_ckpt_decode(blob, len, why, sizeof why);
    assert_non_null(back);
    assert_null(mdl_monitor_link(back));
    assert_null(back->extra); /* no link, no words of its own: no extras allocated */
    mdl_monitor_free(back);
    ex_free(blob);
    mdl_monitor_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_values),
        cmocka_unit_test(invalid_values),
        cmocka_unit_test(event_carries_it),
        cmocka_unit_test(root_links_or_is_child),
        cmocka_unit_test(checkpoint_keeps_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
