/* Monitor checkpoints: every state survives encode → decode unchanged,
 * a restored monitor goes on exactly like the original, and blobs that
 * are corrupt, foreign or of a newer format are refused with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "worker/checkpoint.h"
#include "worker/monitor.h"
#include "worker/spans.h"

#define SEC EX_NS_PER_SEC
#define T0  (INT64_C(1720162671) * SEC + 73740700)
#define P(k) (T0 + 5 * SEC + (int64_t)(k) * 10 * SEC + 3000000) /* poll k's answer arrives */
#define S(k) (P(k) - 3000000)                                     /* poll k's request leaves */

/* ---- building monitors in each state ---- */

static void stage(wm_snapshot *s, size_t i, const char *type, wm_status st, int64_t start, int64_t end,
                  const char *err)
{
    wm_snap_stage *g = &s->stages[i];
    memset(g, 0, sizeof *g);
    snprintf(g->type, sizeof g->type, "%s", type);
    snprintf(g->id, sizeof g->id, "%s-id-%zu", type, i);
    g->status = st;
    g->start_ns = start;
    g->end_ns = end;
    g->complete = end != WM_NO_TIME;
    if (err) {
        g->has_error = 1;
        snprintf(g->error, sizeof g->error, "%s", err);
    }
    if (s->nstages < i + 1) s->nstages = i + 1;
}

static wm_snapshot snap(wm_status st, int64_t end, const char *err)
{
    wm_snapshot s;
    memset(&s, 0, sizeof s);
    s.status = st;
    s.start_ns = T0 + SEC;
    s.end_ns = end;
    s.complete = end != WM_NO_TIME;
    if (err) {
        s.has_error = 1;
        snprintf(s.error, sizeof s.error, "%s", err);
    }
    return s;
}

/* Scenario k of the monitors below, advanced to its step `steps`. */
static wm_monitor *scenario(int k, int steps)
{
    wm_monitor *m = wm_monitor_new("wf-ckpt-1", T0, T0, 600 * SEC);
    assert_non_null(m);
    wm_snapshot s = snap(WM_INITIALIZING, WM_NO_TIME, NULL);
    if (steps >= 1) wm_monitor_apply(m, &s, S(0), P(0), NULL);
    s = snap(WM_PROCESSING, WM_NO_TIME, NULL);
    stage(&s, 0, "DataLoader", WM_PROCESSING, T0 + 2 * SEC, WM_NO_TIME, NULL);
    if (steps >= 2) wm_monitor_poll_failed(m, P(1), 3);
    if (steps >= 2) wm_monitor_apply(m, &s, S(2), P(2), NULL);
    stage(&s, 0, "DataLoader", WM_COMPLETED, T0 + 2 * SEC, T0 + 20 * SEC, NULL);
    stage(&s, 1, "Processor", WM_PROCESSING, T0 + 20 * SEC, WM_NO_TIME, NULL);
    if (steps >= 3) wm_monitor_apply(m, &s, S(3), P(3), NULL);
    if (steps < 4) return m;
    if (k == 0) {
        stage(&s, 1, "Processor", WM_COMPLETED, T0 + 20 * SEC, T0 + 40 * SEC, NULL);
        s.status = WM_COMPLETED;
        s.end_ns = T0 + 41 * SEC;
        s.complete = 1;
        wm_monitor_apply(m, &s, S(5), P(5), NULL);
    } else if (k == 1) {
        stage(&s, 1, "Processor", WM_FAILED, T0 + 20 * SEC, T0 + 40 * SEC, "disk full on node 7");
        s.status = WM_FAILED;
        s.end_ns = T0 + 41 * SEC;
        s.complete = 1;
        s.has_error = 1;
        snprintf(s.error, sizeof s.error, "stage Processor failed");
        wm_monitor_apply(m, &s, S(5), P(5), NULL);
    } else if (k == 2) {
        wm_monitor_timeout(m, T0 + 600 * SEC);
    } else {
        wm_monitor_not_found(m, P(6));
    }
    return m;
}

/* ---- comparing ---- */

static void assert_same(const wm_monitor *a, const wm_monitor *b)
{
    assert_string_equal(a->workflow_id, b->workflow_id);
    assert_true(a->submitted_ns == b->submitted_ns && a->created_ns == b->created_ns);
    assert_true(a->timeout_ns == b->timeout_ns && a->start_ns == b->start_ns);
    assert_true(a->end_ns == b->end_ns && a->last_sent_ns == b->last_sent_ns);
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->polls, b->polls);
    assert_int_equal(a->poll_errors, b->poll_errors);
    assert_int_equal(a->events_dropped, b->events_dropped);
    assert_int_equal(a->stages_dropped, b->stages_dropped);
    assert_int_equal(a->last_status, b->last_status);
    assert_int_equal(a->end, b->end);
    assert_int_equal(a->nstages, b->nstages);
    assert_int_equal(a->nevents, b->nevents);
    assert_true((a->error == NULL) == (b->error == NULL));
    if (a->error) assert_string_equal(a->error, b->error);
    for (size_t i = 0; i < a->nstages; i++) {
        const wm_stage *x = &a->stages[i], *y = &b->stages[i];
        assert_true(x->start_ns == y->start_ns && x->end_ns == y->end_ns);
        assert_string_equal(wm_stage_type(x), wm_stage_type(y));
        assert_string_equal(wm_stage_id(x), wm_stage_id(y));
        assert_true((x->error == NULL) == (y->error == NULL));
        if (x->error) assert_string_equal(x->error, y->error);
        assert_int_equal(x->last_status, y->last_status);
        assert_int_equal(x->end, y->end);
    }
    for (size_t i = 0; i < a->nevents; i++) { /* field by field: the struct has padding */
        const wm_event *x = &a->events[i], *y = &b->events[i];
        assert_true(x->time_ns == y->time_ns && x->before_ns == y->before_ns && x->after_ns == y->after_ns);
        assert_true(x->owner == y->owner && x->status == y->status && x->source == y->source);
    }
}

static wm_monitor *round_trip(const wm_monitor *m)
{
    uint8_t *blob;
    size_t len;
    char why[256];
    assert_int_equal(wk_ckpt_encode(m, &blob, &len), 0);
    wm_monitor *r = wk_ckpt_decode(blob, len, why, sizeof why);
    if (!r) fail_msg("decode: %s", why);
    ex_free(blob);
    assert_same(m, r);
    return r;
}

/* Every scenario at every step survives the round trip. */
static void test_round_trip_every_state(void **state)
{
    for (int k = 0; k < 4; k++) {
        for (int steps = 0; steps <= 4; steps++) {
            wm_monitor *m = scenario(k, steps);
            wm_monitor *r = round_trip(m);
            wm_monitor_free(r);
            wm_monitor_free(m);
        }
    }
}

/* The spans of a done monitor, rendered as text for comparison. */
static void assert_same_spans(const wm_monitor *a, const wm_monitor *b)
{
    exo_span **sa, **sb;
    size_t na, nb;
    assert_int_equal(wm_build_spans(a, "dev1", &sa, &na), 0);
    assert_int_equal(wm_build_spans(b, "dev1", &sb, &nb), 0);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_memory_equal(sa[i]->trace_id, sb[i]->trace_id, sizeof sa[i]->trace_id);
        assert_memory_equal(sa[i]->span_id, sb[i]->span_id, sizeof sa[i]->span_id);
        assert_true(sa[i]->start_ns == sb[i]->start_ns && sa[i]->end_ns == sb[i]->end_ns);
        assert_int_equal(sa[i]->nevents, sb[i]->nevents);
    }
    wm_spans_free(sa, na);
    wm_spans_free(sb, nb);
}

/* A monitor restored mid-run and fed the rest of the run ends exactly like
 * one that never stopped: no event lost or repeated, same spans. */
static void test_resume_matches_undisturbed(void **state)
{
    for (int k = 0; k < 4; k++) {
        wm_monitor *whole = scenario(k, 4);
        wm_monitor *half = scenario(k, 3);
        wm_monitor *resumed = round_trip(half);
        wm_monitor_free(half);
        /* Replay the last step of scenario k on the restored monitor. */
        wm_snapshot s = snap(WM_COMPLETED, T0 + 41 * SEC, NULL);
        stage(&s, 0, "DataLoader", WM_COMPLETED, T0 + 2 * SEC, T0 + 20 * SEC, NULL);
        if (k == 0) {
            stage(&s, 1, "Processor", WM_COMPLETED, T0 + 20 * SEC, T0 + 40 * SEC, NULL);
            wm_monitor_apply(resumed, &s, S(5), P(5), NULL);
        } else if (k == 1) {
            stage(&s, 1, "Processor", WM_FAILED, T0 + 20 * SEC, T0 + 40 * SEC, "disk full on node 7");
            s.status = WM_FAILED;
            s.has_error = 1;
            snprintf(s.error, sizeof s.error, "stage Processor failed");
            wm_monitor_apply(resumed, &s, S(5), P(5), NULL);
        } else if (k == 2) {
            wm_monitor_timeout(resumed, T0 + 600 * SEC);
        } else {
            wm_monitor_not_found(resumed, P(6));
        }
        assert_true(wm_monitor_done(resumed));
        assert_same(whole, resumed);
        assert_same_spans(whole, resumed);
        wm_monitor_free(whole);
        wm_monitor_free(resumed);
    }
}

/* Replaying a poll the dead worker had already applied adds nothing. */
static void test_replayed_poll_adds_nothing(void **state)
{
    wm_monitor *m = scenario(0, 3);
    wm_monitor *r = round_trip(m);
    wm_snapshot s = snap(WM_PROCESSING, WM_NO_TIME, NULL);
    stage(&s, 0, "DataLoader", WM_COMPLETED, T0 + 2 * SEC, T0 + 20 * SEC, NULL);
    stage(&s, 1, "Processor", WM_PROCESSING, T0 + 20 * SEC, WM_NO_TIME, NULL);
    int changed = -1;
    assert_int_equal(wm_monitor_apply(r, &s, S(4), P(4), &changed), WM_RUNNING);
    assert_int_equal(changed, 0);
    assert_int_equal(r->nevents, m->nevents);
    assert_int_equal(r->version, m->version);
    wm_monitor_free(r);
    wm_monitor_free(m);
}

/* ---- rejection ---- */

static uint8_t *encoded(size_t *len)
{
    wm_monitor *m = scenario(1, 4);
    uint8_t *blob;
    assert_int_equal(wk_ckpt_encode(m, &blob, len), 0);
    wm_monitor_free(m);
    return blob;
}

/* Recompute the trailing checksum after a deliberate edit. */
static void reseal(uint8_t *b, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i + 4 < len; i++) h = (h ^ b[i]) * 16777619u;
    for (int i = 0; i < 4; i++) b[len - 4 + i] = (uint8_t)(h >> (8 * i));
}

static void expect_reject(const uint8_t *b, size_t len, const char *needle)
{
    char why[256] = "";
    wm_monitor *m = wk_ckpt_decode(b, len, why, sizeof why);
    if (m) fail_msg("accepted a bad blob (expected \"%s\")", needle);
    if (!strstr(why, needle)) fail_msg("message \"%s\" lacks \"%s\"", why, needle);
}

static void test_rejects_foreign(void **state)
{
    expect_reject((const uint8_t *)"", 0, "not an extrace checkpoint");
    const char *json = "{\"WorkflowId\":\"x\",\"SubmittedAt\":\"2024-07-05T06:57:51Z\"}";
    expect_reject((const uint8_t *)json, strlen(json), "not an extrace checkpoint");
}

static void test_rejects_newer_version(void **state)
{
    size_t len;
    uint8_t *b = encoded(&len);
    b[4] = WK_CKPT_VERSION + 1;
    reseal(b, len);
    expect_reject(b, len, "format version 3 is not supported");
    ex_free(b);
}

/* A version-1 blob (today's layout, the last poll's receive time where
 * version 2 keeps its send time) is read, bracketing the next event from
 * the monitor's creation: wider, never wrong. */
static void test_reads_version_1(void **state)
{
    wm_monitor *m = scenario(0, 3);
    uint8_t *b;
    size_t len;
    assert_int_equal(wk_ckpt_encode(m, &b, &len), 0);
    /* magic 4 + version 1 + id (2 + 9) + 5 i64 → the sixth i64 */
    size_t at = 4 + 1 + 2 + 9 + 40;
    int64_t received = P(3);
    for (int i = 0; i < 8; i++) b[at + i] = (uint8_t)((uint64_t)received >> (8 * i));
    b[4] = 1;
    reseal(b, len);
    char why[256] = "";
    wm_monitor *r = wk_ckpt_decode(b, len, why, sizeof why);
    if (!r) fail_msg("version 1 refused: %s", why);
    assert_int_equal(r->last_sent_ns, T0); /* created */
    assert_int_equal(m->last_sent_ns, S(3));
    wm_snapshot s = snap(WM_PROCESSING, WM_NO_TIME, NULL);
    stage(&s, 0, "DataLoader", WM_COMPLETED, T0 + 2 * SEC, T0 + 20 * SEC, NULL);
    stage(&s, 1, "Processor", WM_COMPLETED, T0 + 20 * SEC, T0 + 40 * SEC, NULL);
    wm_monitor_apply(r, &s, S(4), P(4), NULL);
    assert_int_equal(r->events[r->nevents - 1].after_ns, T0);
    ex_free(b);
    wm_monitor_free(r);
    wm_monitor_free(m);
}

static void test_rejects_corrupt(void **state)
{
    size_t len;
    uint8_t *b = encoded(&len);
    for (size_t i = 5; i < len; i += 7) {
        b[i] ^= 0x20;
        expect_reject(b, len, "checksum mismatch");
        b[i] ^= 0x20;
    }
    expect_reject(b, len - 1, "checksum mismatch"); /* truncated */
    ex_free(b);
}

static void test_rejects_bad_values(void **state)
{
    size_t len;
    uint8_t *b = encoded(&len);
    /* magic 4 + version 1 + id (2 + 9) + 6 i64 + 3 u32 + 2 u16 → the four u8 counts */
    size_t counts = 4 + 1 + 2 + 9 + 48 + 12 + 4;
    uint8_t saved = b[counts + 2];
    b[counts + 2] = WM_MAX_STAGES + 1;
    reseal(b, len);
    expect_reject(b, len, "stages (at most");
    b[counts + 2] = saved;
    b[counts + 1] = 42; /* end reason */
    reseal(b, len);
    expect_reject(b, len, "end reason 42 is unknown");
    ex_free(b);
    /* A blob with extra bytes before the checksum. */
    b = encoded(&len);
    uint8_t *longer = ex_malloc(len + 3);
    memcpy(longer, b, len - 4);
    memset(longer + len - 4, 0, 3);
    reseal(longer, len + 3);
    expect_reject(longer, len + 3, "unexpected bytes");
    ex_free(longer);
    ex_free(b);
}

/* Decoding survives running out of memory at every allocation. */
static void test_decode_out_of_memory(void **state)
{
    size_t len;
    uint8_t *b = encoded(&len);
    for (long n = 0; n < 40; n++) {
        char why[128];
        ex_mem_fail_after(n);
        wm_monitor *m = wk_ckpt_decode(b, len, why, sizeof why);
        ex_mem_fail_after(-1);
        if (m) {
            wm_monitor_free(m);
            break;
        }
        assert_non_null(strstr(why, "out of memory"));
    }
    ex_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_state),
        cmocka_unit_test(test_resume_matches_undisturbed),
        cmocka_unit_test(test_replayed_poll_adds_nothing),
        cmocka_unit_test(test_rejects_foreign),
        cmocka_unit_test(test_rejects_newer_version),
        cmocka_unit_test(test_reads_version_1),
        cmocka_unit_test(test_rejects_corrupt),
        cmocka_unit_test(test_rejects_bad_values),
        cmocka_unit_test(test_decode_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
