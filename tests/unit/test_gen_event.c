/* Unit tests of gen/event: the exact bytes of the WorkflowStarted event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "core/iso8601.h"
#include "gen/event.h"

#define T0 "2024-07-05T06:57:51.0737407Z"

static int64_t iso(const char *s)
{
    int64_t ns;
    const char *why;
    assert_int_equal(ex_iso_parse(s, strlen(s), &ns, &why), 0);
    return ns;
}

/* The event of seed 42 at T0, with `source` and `key` when source is set;
 * its JSON in json, the length returned. */
static int golden_event(const char *source, const char *key, char *json, size_t len)
{
    ex_rng rng;
    ex_clock clock;
    gen_event ev;
    ex_rng_seed(&rng, 42);
    ex_clock_init_fake(&clock, iso(T0));
    gen_event_new(&ev, &rng, &clock);
    if (source) {
        ev.source = source;
        snprintf(ev.key, sizeof ev.key, "%s", key);
    }
    return gen_event_json(&ev, json, len);
}

static void test_golden_bytes(void **state)
{
    char json[GEN_EVENT_JSON_MAX];
    int n = golden_event(NULL, NULL, json, sizeof json);
    const char *want = "{\"WorkflowId\":\"16c72e0c-2e0b-4815-be3a-116d86d90461\","
                       "\"SubmittedAt\":\"2024-07-05T06:57:51.0737407Z\","
                       "\"MessageType\":\"event.workflow.started\","
                       "\"CorrelationId\":\"a199e439-3253-47ae-a160-b30347adb8ec\","
                       "\"Timestamp\":\"2024-07-05T06:57:51.0737407Z\"}";
    assert_string_equal(json, want);
    assert_int_equal(n, (int)strlen(want));
}

/* With a source, "Source" and "Key" follow SubmittedAt; the rest is unchanged. */
static void test_source_and_key(void **state)
{
    char json[GEN_EVENT_JSON_MAX];
    int n = golden_event("airflow", "etl_daily/manual__2024-07-05T06:57:51.073740+00:00", json, sizeof json);
    const char *want = "{\"WorkflowId\":\"16c72e0c-2e0b-4815-be3a-116d86d90461\","
                       "\"SubmittedAt\":\"2024-07-05T06:57:51.0737407Z\","
                       "\"Source\":\"airflow\",\"Key\":\"etl_daily/manual__2024-07-05T06:57:51.073740+00:00\","
                       "\"MessageType\":\"event.workflow.started\","
                       "\"CorrelationId\":\"a199e439-3253-47ae-a160-b30347adb8ec\","
                       "\"Timestamp\":\"2024-07-05T06:57:51.0737407Z\"}";
    assert_string_equal(json, want);
    assert_int_equal(n, (int)strlen(want));
}

static void test_ids_come_from_the_rng(void **state)
{
    ex_rng rng, same;
    ex_clock clock;
    gen_event a, b;
    char id[EX_UUID_LEN + 1];
    ex_rng_seed(&rng, 7);
    ex_rng_seed(&same, 7);
    ex_clock_init_fake(&clock, iso(T0));
    gen_event_new(&a, &rng, &clock);
    gen_event_new(&b, &rng, &clock);
    assert_string_equal(a.workflow_id, ex_uuid4(&same, id));
    assert_string_equal(a.correlation_id, ex_uuid4(&same, id));
    assert_string_equal(b.workflow_id, ex_uuid4(&same, id));
    assert_string_not_equal(a.workflow_id, b.workflow_id);
    assert_string_not_equal(a.workflow_id, a.correlation_id);
    assert_true(ex_uuid_valid(a.workflow_id) && ex_uuid_valid(a.correlation_id));
}

static void test_keys_in_order(void **state)
{
    static const char *const keys[] = {"WorkflowId", "SubmittedAt", "MessageType", "CorrelationId", "Timestamp"};
    ex_rng rng;
    gen_event ev;
    char json[GEN_EVENT_JSON_MAX];
    ex_rng_seed(&rng, 1);
    gen_event_new(&ev, &rng, ex_clock_real());
    assert_true(gen_event_json(&ev, json, sizeof json) > 0);
    json_error_t err;
    json_t *obj = json_loads(json, 0, &err);
    assert_non_null(obj);
    assert_int_equal(json_object_size(obj), 5);
    /* Keys appear in the text in the contract's order. */
    const char *at = json;
    for (int i = 0; i < 5; i++) {
        char quoted[32];
        snprintf(quoted, sizeof quoted, "\"%s\":", keys[i]);
        const char *p = strstr(json, quoted);
        assert_non_null(p);
        assert_true(p >= at);
        at = p;
    }
    assert_string_equal(json_string_value(json_object_get(obj, "MessageType")), "event.workflow.started");
    const char *sub = json_string_value(json_object_get(obj, "SubmittedAt"));
    const char *ts = json_string_value(json_object_get(obj, "Timestamp"));
    assert_int_equal(strlen(sub), EX_ISO_LEN);
    assert_true(iso(sub) <= iso(ts));
    assert_null(strchr(json, ' '));
    json_decref(obj);
}

static void test_buffer_too_small(void **state)
{
    ex_rng rng;
    gen_event ev;
    char json[100];
    ex_rng_seed(&rng, 3);
    gen_event_new(&ev, &rng, ex_clock_real());
    assert_int_equal(gen_event_json(&ev, json, sizeof json), -1);
    char exact[236];
    assert_int_equal(gen_event_json(&ev, exact, 235), -1); /* no room for the NUL */
    assert_int_equal(gen_event_json(&ev, exact, sizeof exact), 235);
}

/* What jansson writes for ev (the reference the fast path must equal). */
static int reference_json(const gen_event *ev, char *buf, size_t len)
{
    char sub[EX_ISO_LEN + 1], ts[EX_ISO_LEN + 1];
    json_t *o = json_object();
    json_object_set_new(o, "WorkflowId", json_string(ev->workflow_id));
    json_object_set_new(o, "SubmittedAt", json_string(ex_iso_format(ev->submitted_at, sub)));
    if (ev->source) {
        json_object_set_new(o, "Source", json_string(ev->source));
        json_object_set_new(o, "Key", json_string(ev->key));
    }
    json_object_set_new(o, "MessageType", json_string(GEN_EVENT_TYPE));
    json_object_set_new(o, "CorrelationId", json_string(ev->correlation_id));
    json_object_set_new(o, "Timestamp", json_string(ex_iso_format(ev->timestamp, ts)));
    if (ev->traceparent[0]) json_object_set_new(o, "Traceparent", json_string(ev->traceparent));
    size_t n = json_dumpb(o, buf, len, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    assert_true(n > 0 && n < len);
    buf[n] = '\0';
    return (int)n;
}

/* A random key: printable ASCII, and now and then a byte JSON escapes
 * (quote, backslash, control) or UTF-8, which take jansson's path. */
static void random_key(ex_rng *rng, char *key, size_t size)
{
    static const char *const odd[] = {"\"", "\\", "\n", "\t", "\x01", "\x1f", "\x7f", "/", "\xc3\xa9", "\xe2\x82\xac"};
    size_t n = (size_t)ex_rng_range(rng, 0, 80), at = 0;
    while (at < n && at + 4 < size) {
        if (ex_rng_range(rng, 0, 40) == 0) {
            const char *s = odd[ex_rng_range(rng, 0, (int64_t)(sizeof odd / sizeof *odd))];
            memcpy(key + at, s, strlen(s));
            at += strlen(s);
        } else {
            key[at++] = (char)ex_rng_range(rng, 0x20, 0x7f);
        }
    }
    key[at] = '\0';
}

/* The hand-written JSON is jansson's, byte for byte, for the seed's event,
 * with a source and key, with a traceparent, and for keys to escape. */
static void test_json_equals_jansson(void **state)
{
    ex_rng rng;
    ex_clock clock;
    char got[GEN_EVENT_JSON_MAX], want[GEN_EVENT_JSON_MAX];
    ex_rng_seed(&rng, 2024);
    ex_clock_init_fake(&clock, iso(T0));
    int escaped = 0;
    for (int i = 0; i < 20000; i++) {
        gen_event ev;
        ex_clock_advance(&clock, ex_rng_range(&rng, 1, 5000000000));
        gen_event_new(&ev, &rng, &clock);
        if (i % 3 == 1) {
            ev.source = i % 2 ? "airflow" : "argo-workflows";
            random_key(&rng, ev.key, sizeof ev.key);
            escaped += strpbrk(ev.key, "\"\\\n\t\x01\x1f") != NULL;
        }
        if (i % 4 == 2) gen_event_random_traceparent(&rng, ev.traceparent);
        int n = reference_json(&ev, want, sizeof want);
        if (gen_event_json(&ev, got, sizeof got) != n || strcmp(got, want) != 0)
            fail_msg("event %d differs:\n got %s\nwant %s", i, got, want);
        /* Every shorter buffer is refused, never overrun. */
        if (i % 97 == 0)
            for (size_t len = 0; len <= (size_t)n; len++) assert_int_equal(gen_event_json(&ev, got, len), -1);
    }
    assert_true(escaped > 100); /* the escaping path was taken too */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_bytes),
        cmocka_unit_test(test_json_equals_jansson),
        cmocka_unit_test(test_source_and_key),
        cmocka_unit_test(test_ids_come_from_the_rng),
        cmocka_unit_test(test_keys_in_order),
        cmocka_unit_test(test_buffer_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
