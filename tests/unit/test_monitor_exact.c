/* The monitor's exact observations (webhooks): partial snapshots, the
 * window collapsed to the event's own time, out-of-order deliveries that
 * never move a state back, a late poll that cannot undo a webhook, and a
 * terminal root that asks for a confirming poll instead of ending. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "model/monitor.h"

#define SEC EX_NS_PER_SEC
#define T0 (INT64_C(1714557600) * SEC) /* 2024-05-01T10:00:00Z */
#define AT(s) (T0 + (int64_t)(s) * SEC)

static void load(mdl_snapshot *s, const char *text, int partial)
{
    json_error_t e;
    char why[300] = "";
    json_t *j = json_loads(text, 0, &e);
    if (!j) fail_msg("bad test JSON: %s", e.text);
    int rc = partial ? mdl_snapshot_from_json_partial(s, j, why, sizeof why) : mdl_snapshot_from_json(s, j, why, sizeof why);
    json_decref(j);
    if (rc) fail_msg("refused: %s", why);
}

/* Apply text as a webhook of time at (seconds after T0), received 1 s later. */
static int hook(mdl_monitor *m, const char *text, int at, int *changed)
{
    mdl_snapshot s;
    mdl_snapshot_init(&s);
    load(&s, text, 1);
    int rc = mdl_monitor_apply_exact(m, &s, AT(at), AT(at) + SEC, changed);
    mdl_snapshot_clear(&s);
    ex_free(s.nodes);
    return rc;
}

/* Apply text as a poll sent at `sent`, answered 0.1 s later. */
static int poll(mdl_monitor *m, const char *text, int sent)
{
    mdl_snapshot s;
    mdl_snapshot_init(&s);
    load(&s, text, 0);
    int rc = mdl_monitor_apply(m, &s, AT(sent), AT(sent) + SEC / 10, NULL);
    mdl_snapshot_clear(&s);
    ex_free(s.nodes);
    return rc;
}

static const mdl_event *last_event(const mdl_node *n) { return n->nevents ? &n->events[n->nevents - 1] : NULL; }

#define JOB(st, extra) "{\"nodes\":[{\"key\":\"job/1\",\"status\":\"" st "\"" extra "}]}"
/* The same with a running root (what a poll shows). */
#define RJOB(st, extra) "{\"status\":\"running\",\"nodes\":[{\"key\":\"job/1\",\"status\":\"" st "\"" extra "}]}"

static void test_partial_webhook_is_exact(void **state)
{
    (void)state;
    mdl_monitor *m = mdl_monitor_new("o/r/1", AT(0), AT(0), 600 * SEC, 64, 512);
    int changed = 0;
    assert_int_equal(hook(m, JOB("running", ",\"state\":\"in_progress\",\"since\":\"2024-05-01T10:00:07Z\""), 7, &changed), 0);
    assert_true(changed);
    const mdl_node *n = mdl_monitor_find(m, "job/1");
    assert_non_null(n);
    const mdl_event *e = last_event(n);
    assert_string_equal(mdl_monitor_word(m, e->word), "in_progress");
    assert_true(e->time_ns == AT(7) && e->before_ns == AT(7) && e->after_ns == AT(7)); /* window: one instant */
    assert_int_equal(e->source, MDL_SRC_SOURCE);
    assert_int_equal(m->root.nevents, 0); /* the root was not part of it */
    assert_int_equal(m->polls, 0);        /* not a poll */
    mdl_monitor_free(m);
}

static void test_out_of_order_never_moves_back(void **state)
{
    (void)state;
    mdl_monitor *m = mdl_monitor_new("o/r/1", AT(0), AT(0), 600 * SEC, 64, 512);
    int changed = 1;
    hook(m, JOB("running", ",\"state\":\"in_progress\",\"since\":\"2024-05-01T10:00:07Z\""), 7, &changed);
    /* queued (of 10:00:02) arrives after in_progress: ignored */
    hook(m, JOB("pending", ",\"state\":\"queued\",\"since\":\"2024-05-01T10:00:02Z\""), 2, &changed);
    assert_false(changed);
    const mdl_node *n = mdl_monitor_find(m, "job/1");
    assert_int_equal(n->nevents, 1);
    assert_string_equal(mdl_monitor_word(m, n->last_word), "in_progress");
    /* completed arrives; then in_progress again (a duplicate, late): the job stays ended */
    hook(m, JOB("ok", ",\"state\":\"success\",\"end\":\"2024-05-01T10:00:30Z\""), 30, &changed);
    assert_true(changed);
    assert_int_equal(n->end, MDL_END_OK);
    assert_true(n->end_ns == AT(30) && n->end_known);
    hook(m, JOB("running", ",\"state\":\"in_progress\",\"since\":\"2024-05-01T10:00:07Z\""), 7, &changed);
    assert_false(changed);
    assert_int_equal(n->end, MDL_END_OK);
    assert_string_equal(mdl_monitor_word(m, n->last_word), "success");
    mdl_monitor_free(m);
}

static void test_completed_first_then_in_progress(void **state)
{
    (void)state;
    mdl_monitor *m = mdl_monitor_new("o/r/1", AT(0), AT(0), 600 * SEC, 64, 512);
    int changed;
    hook(m, JOB("ok", ",\"state\":\"success\",\"start\":\"2024-05-01T10:00:07Z\",\"end\":\"2024-05-01T10:00:30Z\""), 30,
         &changed);
    const mdl_node *n = mdl_monitor_find(m, "job/1");
    assert_int_equal(n->end, MDL_END_OK);
    hook(m, JOB("running", ",\"state\":\"in_progress\""), 7, &changed);
    assert_false(changed);
    assert_int_equal(n->end, MDL_END_OK);
    assert_true(n->start_ns == AT(7) && n->end_ns == AT(30));
    mdl_monitor_free(m);
}

static void test_late_poll_cannot_undo_a_webhook(void **state)
{
    (void)state;
    mdl_monitor *m = mdl_monitor_new("o/r/1", AT(0), AT(0), 600 * SEC, 64, 512);
    int changed;
    poll(m, RJOB("pending", ",\"state\":\"queued\""), 1);
    hook(m, JOB("running", ",\"state\":\"in_progress\",\"since\":\"2024-05-01T10:00:07Z\""), 7, &changed);
    /* a poll that left at 10:00:05, before the webhook's instant, still shows queued */
    poll(m, RJOB("pending", ",\"state\":\"queued\""), 5);
    const mdl_node *n = mdl_monitor_find(m, "job/1");
    assert_string_equal(mdl_monitor_word(m, n->last_word), "in_progress");
    assert_int_equal(n->nevents, 2);
    /* a poll that left after it moves the job on, bracketed as polls are */
    poll(m, RJOB("ok", ",\"state\":\"success\""), 20);
    assert_string_equal(mdl_monitor_word(m, n->last_word), "success");
    assert_int_equal(n->end, MDL_END_OK);
    const mdl_event *e = last_event(n);
    assert_true(e->before_ns == AT(20) + SEC / 10 && e->after_ns == AT(5));
    mdl_monitor_free(m);
}

static void test_terminal_root_asks_for_a_poll(void **state)
{
    (void)state;
    mdl_monitor *m = mdl_monitor_new("o/r/1", AT(0), AT(0), 600 * SEC, 64, 512);
    int changed;
    hook(m, JOB("running", ",\"state\":\"in_progress\""), 7, &changed);
    int rc = hook(m, "{\"status\":\"ok\",\"state\":\"success\",\"name\":\"CI\",\"end\":\"2024-05-01T10:01:00Z\"}", 60,
                  &changed);
    assert_int_equal(rc, MDL_CONFIRM);
    assert_false(mdl_monitor_done(m));
    const mdl_event *e = last_event(&m->root);
    assert_string_equal(mdl_monitor_word(m, e->word), "success");
    assert_true(e->time_ns == AT(60) && e->before_ns == AT(60) && e->after_ns == AT(60));
    /* the confirming poll ends it, without a second "success" event */
    rc = poll(m,
              "{\"status\":\"ok\",\"state\":\"success\",\"end\":\"2024-05-01T10:01:00Z\",\"nodes\":[{\"key\":\"job/1\","
              "\"status\":\"ok\",\"state\":\"success\",\"end\":\"2024-05-01T10:00:50Z\"}]}",
              61);
    assert_int_equal(rc, MDL_DONE);
    assert_int_equal(m->root.nevents, 1);
    assert_true(m->root.end_ns == AT(60) && m->root.end == MDL_END_OK);
    assert_int_equal(mdl_monitor_find(m, "job/1")->end, MDL_END_OK);
    assert_int_equal(hook(m, JOB("ok", ""), 70, &changed), MDL_DONE);
    mdl_monitor_free(m);
}

static void test_unknown_time_is_bracketed_by_receipt(void **state)
{
    (void)state;
    mdl_monitor *m = mdl_monitor_new("o/r/1", AT(0), AT(0), 600 * SEC, 64, 512);
    mdl_snapshot s;
    mdl_snapshot_init(&s);
    load(&s, JOB("running", ""), 1);
    int changed;
    assert_int_equal(mdl_monitor_apply_exact(m, &s, MDL_NO_TIME, AT(9), &changed), 0);
    mdl_snapshot_clear(&s);
    ex_free(s.nodes);
    const mdl_event *e = last_event(mdl_monitor_find(m, "job/1"));
    assert_true(e->time_ns == AT(9) && e->before_ns == AT(9) && e->after_ns == MDL_NO_TIME);
    assert_int_equal(e->source, MDL_SRC_POLL);
    mdl_monitor_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partial_webhook_is_exact),
        cmocka_unit_test(test_out_of_order_never_moves_back),
        cmocka_unit_test(test_completed_first_then_in_progress),
        cmocka_unit_test(test_late_poll_cannot_undo_a_webhook),
        cmocka_unit_test(test_terminal_root_asks_for_a_poll),
        cmocka_unit_test(test_unknown_time_is_bracketed_by_receipt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
