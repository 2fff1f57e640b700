/* The monitor's exact observations (webhooks): partial snapshots, the
 * window collapsed to the event's own time, out-of-order deliveries that
 * never move a state back, a late poll that cannot undo a webhook, a
 * terminal root that asks for a confirming poll instead of ending, and
 * the poll's document noted as applied (mdl_monitor_doc_hash) only while
 * nothing else changed the monitor. */
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

/* Apply text as a poll's document of hash `hash` (0: none) sent at
 * `sent`, answered 0.1 s later. */
static int poll_doc(mdl_monitor *m, const char *text, int sent, uint64_t hash)
{
    mdl_snapshot s;
    mdl_snapshot_init(&s);
    load(&s, text, 0);
    int rc = mdl_monitor_apply_doc(m, &s, hash, AT(sent), AT(sent) + SEC / 10, NULL);
    mdl_snapshot_clear(&s);
    ex_free(s.nodes);
    return rc;
}

static int poll(mdl_monitor *m, const char *text, int sent) { return poll_doc(m, text, sent, 0); }

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

#define DOC RJOB("running", ",\"state\":\"in_progress\"")
#define DOC_HASH UINT64_C(0x5eed)

/* The note lasts while only polls of that document come; a webhook that
 * changes the monitor ends it, and the same document is then applied
 * again: here it moves the job back from what the webhook said (the
 * poll left after it), which skipping it would have lost. */
static void test_doc_noted_until_the_monitor_changes(void **state)
{
    (void)state;
    mdl_monitor *m = mdl_monitor_new("o/r/1", AT(0), AT(0), 600 * SEC, 64, 512);
    int changed;
    assert_int_equal(mdl_monitor_doc_hash(m), 0);
    poll_doc(m, DOC, 1, DOC_HASH);
    assert_true(mdl_monitor_doc_hash(m) == DOC_HASH);
    mdl_monitor_unchanged(m, AT(2), AT(2) + SEC / 10); /* a poll that found the same document */
    assert_true(mdl_monitor_doc_hash(m) == DOC_HASH);
    assert_int_equal(m->polls, 2);
    hook(m, JOB("running", ",\"state\":\"waiting\""), 3, &changed);
    assert_true(changed);
    assert_int_equal(mdl_monitor_doc_hash(m), 0);
    const mdl_node *n = mdl_monitor_find(m, "job/1");
    assert_string_equal(mdl_monitor_word(m, n->last_word), "waiting");
    poll_doc(m, DOC, 4, DOC_HASH);
    assert_string_equal(mdl_monitor_word(m, n->last_word), "in_progress");
    assert_int_equal(n->nevents, 3);
    assert_true(mdl_monitor_doc_hash(m) == DOC_HASH);
    /* another document forgets the note, even one that changes nothing */
    poll_doc(m, DOC, 5, DOC_HASH + 1);
    assert_true(mdl_monitor_doc_hash(m) == DOC_HASH + 1);
    poll_doc(m, DOC, 6, 0);
    assert_int_equal(mdl_monitor_doc_hash(m), 0);
    mdl_monitor_free(m);
}

/* A document not taken whole is not noted: applied again, it may do
 * what it could not (a node past the limit is counted again, a state a
 * webhook overtook may be taken from a later poll). The end is never
 * noted either: nothing is polled after it. */
static void test_doc_not_noted_unless_taken_whole(void **state)
{
    (void)state;
    int changed;
    mdl_monitor *m = mdl_monitor_new("o/r/1", AT(0), AT(0), 600 * SEC, 64, 512);
    hook(m, JOB("running", ",\"state\":\"in_progress\",\"since\":\"2024-05-01T10:00:07Z\""), 7, &changed);
    poll_doc(m, RJOB("pending", ",\"state\":\"queued\""), 5, DOC_HASH); /* left before the webhook: stale */
    assert_string_equal(mdl_monitor_word(m, mdl_monitor_find(m, "job/1")->last_word), "in_progress");
    assert_int_equal(mdl_monitor_doc_hash(m), 0);
    mdl_monitor_free(m);

    m = mdl_monitor_new("o/r/1", AT(0), AT(0), 600 * SEC, 1, 512);
    const char *two = "{\"status\":\"running\",\"nodes\":[{\"key\":\"a\",\"status\":\"running\"},"
                      "{\"key\":\"b\",\"status\":\"running\"}]}";
    poll_doc(m, two, 1, DOC_HASH);
    assert_int_equal(m->nodes_dropped, 1);
    assert_int_equal(mdl_monitor_doc_hash(m), 0);
    poll_doc(m, two, 2, DOC_HASH);
    assert_int_equal(m->nodes_dropped, 2); /* each sighting counts, as before */
    mdl_monitor_free(m);

    m = mdl_monitor_new("o/r/1", AT(0), AT(0), 600 * SEC, 64, 512);
    assert_int_equal(poll_doc(m, "{\"status\":\"ok\"}", 1, DOC_HASH), MDL_DONE);
    assert_int_equal(mdl_monitor_doc_hash(m), 0);
    mdl_monitor_free(m);
}

/* A timeout changes the monitor: the note is gone. */
static void test_doc_forgotten_at_the_end(void **state)
{
    (void)state;
    mdl_monitor *m = mdl_monitor_new("o/r/1", AT(0), AT(0), 600 * SEC, 64, 512);
    poll_doc(m, DOC, 1, DOC_HASH);
    assert_true(mdl_monitor_doc_hash(m) == DOC_HASH);
    mdl_monitor_timeout(m, AT(700));
    assert_int_equal(mdl_monitor_doc_hash(m), 0);
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
        cmocka_unit_test(test_doc_noted_until_the_monitor_changes),
        cmocka_unit_test(test_doc_not_noted_unless_taken_whole),
        cmocka_unit_test(test_doc_forgotten_at_the_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
