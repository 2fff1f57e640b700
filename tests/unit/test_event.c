/* The WorkflowStarted event: seed events parse; every rejection has its
 * reason and a message naming the value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "worker/event.h"

static void parse_ok(const char *payload, wk_event *ev)
{
    wk_reject reason = WK_NREJECT;
    char why[512] = "";
    if (wk_event_parse(payload, strlen(payload), ev, &reason, why, sizeof why) != 0)
        fail_msg("%s: rejected (%s): %s", payload, wk_reject_name(reason), why);
}

/* Expect a rejection for `reason` whose message contains `needle`. */
static void parse_bad(const char *payload, size_t len, wk_reject want, const char *needle)
{
    wk_event ev;
    wk_reject reason = WK_NREJECT;
    char why[512] = "";
    assert_int_equal(wk_event_parse(payload, len, &ev, &reason, why, sizeof why), -1);
    if (reason != want) fail_msg("%s: reason %s, want %s (%s)", payload, wk_reject_name(reason), wk_reject_name(want), why);
    if (!strstr(why, needle)) fail_msg("message \"%s\" lacks \"%s\"", why, needle);
}

static void test_seed_event(void **state)
{
    (void)state;
    wk_event ev;
    parse_ok("{\"WorkflowId\":\"3f2b8c1e-9a4d-4e7b-8c6a-1d2e3f4a5b6c\","
             "\"SubmittedAt\":\"2024-07-05T06:57:51.0737407Z\",\"MessageType\":\"event.workflow.started\","
             "\"CorrelationId\":\"0b7e0d7c-5f0e-4f43-9a51-3c8f1e2d4a6b\",\"Timestamp\":\"2024-07-05T06:57:51.0741234Z\"}",
             &ev);
    assert_string_equal(ev.workflow_id, "3f2b8c1e-9a4d-4e7b-8c6a-1d2e3f4a5b6c");
    assert_int_equal(ev.submitted_ns, INT64_C(1720162671) * EX_NS_PER_SEC + 73740700);
}

static void test_minimal_and_edges(void **state)
{
    (void)state;
    wk_event ev;
    /* Only the two used fields; an offset converts to UTC; fewer digits. */
    parse_ok("{\"SubmittedAt\":\"2024-07-05T08:57:51+02:00\",\"WorkflowId\":\"job_7.a-b\"}", &ev);
    assert_string_equal(ev.workflow_id, "job_7.a-b");
    assert_int_equal(ev.submitted_ns, INT64_C(1720162671) * EX_NS_PER_SEC);
    /* Exactly 128 bytes is allowed. */
    char id[WK_EVENT_ID_MAX + 1], payload[400];
    memset(id, 'a', WK_EVENT_ID_MAX);
    id[WK_EVENT_ID_MAX] = '\0';
    snprintf(payload, sizeof payload, "{\"WorkflowId\":\"%s\",\"SubmittedAt\":\"2024-07-05T06:57:51Z\"}", id);
    parse_ok(payload, &ev);
    assert_int_equal(strlen(ev.workflow_id), WK_EVENT_ID_MAX);
    /* The payload need not be NUL-terminated: parse a prefix only. */
    const char *two = "{\"WorkflowId\":\"x\",\"SubmittedAt\":\"2024-07-05T06:57:51Z\"}GARBAGE";
    wk_reject reason;
    char why[256];
    assert_int_equal(wk_event_parse(two, strlen(two) - 7, &ev, &reason, why, sizeof why), 0);
    assert_string_equal(ev.workflow_id, "x");
}

static void test_reject_json(void **state)
{
    (void)state;
    parse_bad("garbage", 7, WK_REJECT_JSON, "event \"garbage\" is not JSON");
    parse_bad("{\"WorkflowId\":", 14, WK_REJECT_JSON, "not JSON");
    parse_bad("[1,2]", 5, WK_REJECT_JSON, "event \"[1,2]\" is JSON but not an object");
    parse_bad("", 0, WK_REJECT_JSON, "not JSON");
    parse_bad("{\"WorkflowId\":\"a\",\"WorkflowId\":\"b\",\"SubmittedAt\":\"2024-07-05T06:57:51Z\"}", 71,
              WK_REJECT_JSON, "duplicate");
    /* Control bytes in the payload are escaped in the message. */
    parse_bad("\x01\x02zz", 4, WK_REJECT_JSON, "\"\\x01\\x02zz\"");
    static char big[WK_EVENT_PAYLOAD_MAX + 2];
    memset(big, ' ', sizeof big);
    parse_bad(big, sizeof big, WK_REJECT_JSON, "event of 65538 bytes is larger than the 65536 allowed");
}

static void test_reject_missing(void **state)
{
    (void)state;
    parse_bad("{\"SubmittedAt\":\"2024-07-05T06:57:51Z\"}", 38, WK_REJECT_MISSING_FIELD, "WorkflowId is missing");
    parse_bad("{\"WorkflowId\":null,\"SubmittedAt\":\"2024-07-05T06:57:51Z\"}", 56, WK_REJECT_MISSING_FIELD,
              "WorkflowId is missing");
    parse_bad("{\"WorkflowId\":\"\",\"SubmittedAt\":\"2024-07-05T06:57:51Z\"}", 54, WK_REJECT_MISSING_FIELD,
              "WorkflowId is empty");
    parse_bad("{\"WorkflowId\":\"abc\"}", 20, WK_REJECT_MISSING_FIELD, "SubmittedAt is missing");
    parse_bad("{\"WorkflowId\":\"abc\",\"SubmittedAt\":\"\"}", 37, WK_REJECT_MISSING_FIELD, "SubmittedAt is empty");
    /* Keys are case-sensitive, as the seed's PascalCase contract. */
    parse_bad("{\"workflowId\":\"abc\",\"SubmittedAt\":\"2024-07-05T06:57:51Z\"}", 57, WK_REJECT_MISSING_FIELD,
              "WorkflowId is missing");
}

static void test_reject_bad_id(void **state)
{
    (void)state;
    const char *p = "{\"WorkflowId\":\"a/b\",\"SubmittedAt\":\"2024-07-05T06:57:51Z\"}";
    parse_bad(p, strlen(p), WK_REJECT_BAD_ID, "WorkflowId \"a/b\": character '/' at offset 1 is not allowed");
    p = "{\"WorkflowId\":\"a b\",\"SubmittedAt\":\"2024-07-05T06:57:51Z\"}";
    parse_bad(p, strlen(p), WK_REJECT_BAD_ID, "byte 0x20 at offset 1");
    p = "{\"WorkflowId\":\"x\\ny\",\"SubmittedAt\":\"2024-07-05T06:57:51Z\"}";
    parse_bad(p, strlen(p), WK_REJECT_BAD_ID, "WorkflowId \"x\\x0ay\": byte 0x0a at offset 1");
    p = "{\"WorkflowId\":\"caf\\u00e9\",\"SubmittedAt\":\"2024-07-05T06:57:51Z\"}";
    parse_bad(p, strlen(p), WK_REJECT_BAD_ID, "byte 0xc3 at offset 3");
    p = "{\"WorkflowId\":\"..\",\"SubmittedAt\":\"2024-07-05T06:57:51Z\"}";
    parse_bad(p, strlen(p), WK_REJECT_BAD_ID, "WorkflowId \"..\": is a URL dot segment");
    p = "{\"WorkflowId\":42,\"SubmittedAt\":\"2024-07-05T06:57:51Z\"}";
    parse_bad(p, strlen(p), WK_REJECT_BAD_ID, "WorkflowId is a JSON number, not a string");
    /* 129 bytes: too long; the message shows 64 bytes and the length. */
    char id[WK_EVENT_ID_MAX + 2], payload[400], want[256];
    memset(id, 'b', WK_EVENT_ID_MAX + 1);
    id[WK_EVENT_ID_MAX + 1] = '\0';
    snprintf(payload, sizeof payload, "{\"WorkflowId\":\"%s\",\"SubmittedAt\":\"2024-07-05T06:57:51Z\"}", id);
    snprintf(want, sizeof want, "WorkflowId \"%.64s\"...(129 bytes): 129 bytes long, more than the 128 allowed", id);
    parse_bad(payload, strlen(payload), WK_REJECT_BAD_ID, want);
}

static void test_reject_bad_time(void **state)
{
    (void)state;
    const char *p = "{\"WorkflowId\":\"abc\",\"SubmittedAt\":\"yesterday\"}";
    parse_bad(p, strlen(p), WK_REJECT_BAD_TIME, "SubmittedAt \"yesterday\": ");
    p = "{\"WorkflowId\":\"abc\",\"SubmittedAt\":\"2024-13-05T06:57:51Z\"}";
    parse_bad(p, strlen(p), WK_REJECT_BAD_TIME, "SubmittedAt \"2024-13-05T06:57:51Z\": ");
    p = "{\"WorkflowId\":\"abc\",\"SubmittedAt\":1720162671}";
    parse_bad(p, strlen(p), WK_REJECT_BAD_TIME, "SubmittedAt is a JSON number, not a string");
}

static void test_names_and_quote(void **state)
{
    (void)state;
    assert_string_equal(wk_reject_name(WK_REJECT_JSON), "json");
    assert_string_equal(wk_reject_name(WK_REJECT_MISSING_FIELD), "missing_field");
    assert_string_equal(wk_reject_name(WK_REJECT_BAD_ID), "bad_id");
    assert_string_equal(wk_reject_name(WK_REJECT_BAD_TIME), "bad_time");
    assert_string_equal(wk_reject_name(WK_REJECT_CAPACITY), "capacity");
    char q[64];
    assert_string_equal(wk_quote("a\"b\\c", 5, 64, q, sizeof q), "\"a\\\"b\\\\c\"");
    /* A small buffer cuts the value but keeps the length marker. */
    assert_string_equal(wk_quote("0123456789abcdefghij", 20, 64, q, 40), "\"0123\"...(20 bytes)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_event),     cmocka_unit_test(test_minimal_and_edges),
        cmocka_unit_test(test_reject_json),    cmocka_unit_test(test_reject_missing),
        cmocka_unit_test(test_reject_bad_id),  cmocka_unit_test(test_reject_bad_time),
        cmocka_unit_test(test_names_and_quote),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
