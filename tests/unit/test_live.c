/* The live API's pure parts (worker/live.h): a workflow's JSON (status,
 * current stage, nodes, events, cut to its bound), the list's parameters
 * and cursor, paging through a registry while workflows come and go, and
 * the change feed (one state message per recorded event, in order; the
 * ring's bounds). */
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
#include "core/rng.h"
#include "model/monitor.h"
#include "worker/live.h"
#include "worker/registry.h"

#define SEC EX_NS_PER_SEC
#define T0 (INT64_C(1714557600) * SEC) /* 2024-05-01T10:00:00Z */

static const wk_live_ctx ctx = {"ns", "github-actions"};

static void apply(mdl_monitor *m, const char *text, int64_t at)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j) fail_msg("bad test JSON: %s", e.text);
    mdl_snapshot s;
    char why[300];
    mdl_snapshot_init(&s);
    if (mdl_snapshot_from_json(&s, j, why, sizeof why)) fail_msg("snapshot refused: %s", why);
    json_decref(j);
    mdl_monitor_apply(m, &s, at - SEC / 10, at, NULL);
    mdl_snapshot_clear(&s);
    ex_free(s.nodes);
}

#define RUNNING_TREE                                                                                              \
    "{\"status\":\"running\",\"state\":\"in_progress\",\"start\":\"2024-05-01T10:00:01Z\","                      \
    "\"initial\":{\"state\":\"queued\",\"time\":\"2024-05-01T10:00:00Z\"},\"nodes\":["                          \
    "{\"key\":\"job/1\",\"name\":\"build\",\"status\":\"running\",\"state\":\"in_progress\","                    \
    "\"start\":\"2024-05-01T10:00:02Z\",\"initial\":{\"state\":\"queued\",\"time\":\"2024-05-01T10:00:01Z\"}},"  \
    "{\"key\":\"step/1/1\",\"parent\":\"job/1\",\"name\":\"Checkout\",\"status\":\"ok\",\"state\":\"success\","  \
    "\"start\":\"2024-05-01T10:00:02Z\",\"end\":\"2024-05-01T10:00:03Z\"},"                                      \
    "{\"key\":\"step/1/2\",\"parent\":\"job/1\",\"name\":\"Compile\",\"status\":\"running\","                    \
    "\"state\":\"in_progress\",\"start\":\"2024-05-01T10:00:03Z\"},"                                            \
    "{\"key\":\"job/2\",\"name\":\"lint\",\"status\":\"pending\",\"state\":\"queued\"}]}"

static json_t *render_in(const wk_live_ctx *c, const wk_entry *e, int events, size_t max)
{
    sim_buf b;
    sim_buf_init(&b, max);
    assert_int_equal(wk_live_render(&b, c, e, events), 0);
    json_error_t err;
    json_t *j = json_loads(b.data, 0, &err);
    if (!j) fail_msg("not JSON (%s): %s", err.text, b.data);
    sim_buf_free(&b);
    return j;
}

static int take_slot(void *arg) { return arg != NULL; }
static void take_poll(void *arg, wk_entry *e) { *(wk_entry **)arg = e; }
static void take_expire(void *arg, wk_entry *e) { (void)arg, (void)e; }

static const char *str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void test_workflow_json(void **state)
{
    (void)state;
    mdl_monitor *m = mdl_monitor_new("octo/repo/42", T0 - SEC, T0, 3600 * SEC, 100, 1000);
    apply(m, RUNNING_TREE, T0 + 5 * SEC);
    /* waiting in a registry, due 10 s after it was added at T0 + 5 s */
    ex_rng rng;
    ex_rng_seed(&rng, 1);
    wk_sched_config cfg = {.initial_delay_ns = 10 * SEC, .interval_ns = SEC, .max_entries = 10};
    wk_registry r;
    wk_registry_init(&r, &cfg, &rng);
    wk_entry *e = NULL;
    assert_int_equal(wk_registry_add(&r, m, T0 + 5 * SEC, &e), 0);
    wk_live_ctx rctx = ctx;
    rctx.reg = &r;
    json_t *j = render_in(&rctx, e, 1, WK_LIVE_MAX_DETAIL);
    assert_string_equal(str(j, "key"), "octo/repo/42");
    assert_string_equal(str(j, "source"), "github-actions");
    assert_int_equal(strlen(str(j, "traceId")), 32);
    assert_string_equal(str(j, "status"), "running");
    assert_string_equal(str(j, "sourceStatus"), "in_progress");
    assert_string_equal(str(j, "submitted"), "2024-05-01T09:59:59.0000000Z");
    assert_string_equal(str(j, "started"), "2024-05-01T10:00:01.0000000Z");
    assert_string_equal(str(j, "currentStage"), "Compile"); /* deeper than build, running */
    assert_string_equal(str(j, "lastPoll"), "2024-05-01T10:00:04.9000000Z");
    assert_string_equal(str(j, "nextPoll"), "2024-05-01T10:00:15.0000000Z");
    assert_int_equal(json_integer_value(json_object_get(j, "polls")), 1);
    json_t *nodes = json_object_get(j, "nodes");
    assert_int_equal(json_array_size(nodes), 4);
    json_t *n1 = json_array_get(nodes, 1);
    assert_string_equal(str(n1, "key"), "step/1/1");
    assert_string_equal(str(n1, "parent"), "job/1");
    assert_string_equal(str(n1, "status"), "ok");
    assert_string_equal(str(n1, "sourceStatus"), "success");
    assert_string_equal(str(n1, "end"), "2024-05-01T10:00:03.0000000Z");
    assert_int_equal(strlen(str(n1, "spanId")), 16);
    assert_true(json_is_null(json_object_get(json_array_get(nodes, 0), "parent")));
    assert_string_equal(str(json_array_get(nodes, 3), "status"), "pending");
    assert_true(json_is_null(json_object_get(json_array_get(nodes, 3), "start")));
    /* events by time: the root's queued (10:00:00) first */
    json_t *ev = json_object_get(j, "events");
    assert_true(json_array_size(ev) >= 6);
    assert_true(json_is_null(json_object_get(json_array_get(ev, 0), "node")));
    assert_string_equal(str(json_array_get(ev, 0), "name"), "queued");
    for (size_t i = 1; i < json_array_size(ev); i++)
        assert_true(strcmp(str(json_array_get(ev, i - 1), "time"), str(json_array_get(ev, i), "time")) <= 0);
    json_decref(j);
    /* polling now: no nextPoll; the root ends: every span ended, no current stage */
    wk_entry *polled = NULL;
    const wk_sched_ops ops = {take_slot, take_poll, take_expire};
    assert_int_equal(wk_registry_dispatch(&r, T0 + 15 * SEC, &ops, &polled), 1);
    assert_ptr_equal(polled, e);
    mdl_monitor_timeout(m, T0 + 3600 * SEC);
    j = render_in(&rctx, e, 0, WK_LIVE_MAX_DETAIL);
    assert_true(json_is_null(json_object_get(j, "nextPoll")));
    assert_true(json_is_null(json_object_get(j, "currentStage")));
    assert_string_equal(str(j, "status"), "error");
    assert_null(json_object_get(j, "events"));
    json_decref(j);
    wk_registry_clear(&r); /* frees m */
}

static void test_workflow_json_bounded(void **state)
{
    (void)state;
    mdl_monitor *m = mdl_monitor_new("big", T0, T0, 3600 * SEC, MDL_MAX_NODES, 8192);
    /* 4000 nodes with 250-byte keys: ~1.3 MB of nodes, more than one workflow may take */
    sim_buf s;
    sim_buf_init(&s, 4 * 1024 * 1024);
    sim_buf_puts(&s, "{\"status\":\"running\",\"nodes\":[");
    char key[251];
    for (int i = 0; i < 4000; i++) {
        snprintf(key, sizeof key, "%0250d", i);
        sim_buf_printf(&s, "%s{\"key\":\"%s\",\"status\":\"running\"}", i ? "," : "", key);
    }
    sim_buf_puts(&s, "]}");
    apply(m, s.data, T0 + SEC);
    sim_buf_free(&s);
    wk_entry e = {.mon = m, .heap_idx = WK_NOT_QUEUED};
    sim_buf b;
    sim_buf_init(&b, WK_LIVE_MAX_DETAIL);
    assert_int_equal(wk_live_render(&b, &ctx, &e, 0), 0);
    assert_true(b.len <= WK_LIVE_MAX_WORKFLOW);
    json_t *j = json_loads(b.data, 0, NULL);
    assert_non_null(j);
    size_t shown = json_array_size(json_object_get(j, "nodes"));
    assert_true(shown > 100 && shown < 4000);
    assert_int_equal(json_integer_value(json_object_get(j, "nodesOmitted")), 4000 - shown);
    json_decref(j);
    /* with its 4000 events (1.3 MB) in a detail cut to 1.5 MB: the events that fit, and how many did not */
    sim_buf_free(&b);
    sim_buf_init(&b, 1536 * 1024);
    assert_int_equal(wk_live_render(&b, &ctx, &e, 1), 0);
    assert_non_null(j = json_loads(b.data, 0, NULL));
    size_t evs = json_array_size(json_object_get(j, "events"));
    assert_true(evs > 10);
    assert_int_equal(evs + json_integer_value(json_object_get(j, "eventsOmitted")), 4001); /* the root's too */
    json_decref(j);
    sim_buf_free(&b);
    mdl_monitor_free(m);
}

static void expect_bad(const char *name, const char *value, const char *needle)
{
    wk_live_query q;
    char why[300] = "";
    wk_live_query_init(&q);
    if (wk_live_query_param(&q, name, value, why, sizeof why) == 0) fail_msg("accepted %s=%s", name, value);
    if (!strstr(why, needle)) fail_msg("message \"%s\" lacks \"%s\"", why, needle);
}

static void test_query_params(void **state)
{
    (void)state;
    wk_live_query q;
    char why[300];
    wk_live_query_init(&q);
    assert_int_equal(q.limit, 100);
    assert_int_equal(wk_live_query_param(&q, "limit", "1000", why, sizeof why), 0);
    assert_int_equal(q.limit, 1000);
    assert_int_equal(wk_live_query_param(&q, "status", "running,pending", why, sizeof why), 0);
    assert_int_equal(q.status_mask, (1u << MDL_RUNNING) | (1u << MDL_PENDING));
    assert_int_equal(wk_live_query_param(&q, "source", "seed", why, sizeof why), 0);
    expect_bad("limit", "0", "limit=\"0\": expected a whole number from 1 to 1000");
    expect_bad("limit", "1001", "limit=\"1001\"");
    expect_bad("limit", "10x", "limit=\"10x\"");
    expect_bad("limit", "", "limit=\"\"");
    expect_bad("status", "done", "status=\"done\": expected pending, running");
    expect_bad("status", "running,", "status=\"running,\"");
    expect_bad("cursor", "zz", "cursor=\"zz\": not a cursor");
    expect_bad("cursor", "00000000000000000", "cursor");
    expect_bad("cursor", "000000000000000000", "cursor"); /* a NUL byte in the key */
    expect_bad("sort", "key", "unknown query parameter \"sort\"");
    /* a cursor reads back what wrote it, keys with '/' and any byte */
    char c[WK_LIVE_CURSOR_MAX + 1];
    wk_live_cursor(-5, "octo/repo/42\xc3\xa9", c);
    wk_live_query_init(&q);
    assert_int_equal(wk_live_query_param(&q, "cursor", c, why, sizeof why), 0);
    assert_int_equal(q.after_submitted, -5);
    assert_string_equal(q.after_key, "octo/repo/42\xc3\xa9");
}

/* Page through r with limit 3 while workflows come and go between pages. */
static void test_paging_stable(void **state)
{
    (void)state;
    ex_rng rng;
    ex_rng_seed(&rng, 1);
    wk_sched_config cfg = {.initial_delay_ns = SEC, .interval_ns = SEC, .max_entries = 100};
    wk_registry r;
    wk_registry_init(&r, &cfg, &rng);
    char key[32];
    for (int i = 0; i < 10; i++) { /* two share a submitted time: the key breaks the tie */
        snprintf(key, sizeof key, "w/%02d", 9 - i);
        assert_int_equal(wk_registry_add(&r, mdl_monitor_new(key, T0 + (i / 2) * SEC, T0, SEC, 8, 64), T0, NULL), 0);
    }
    wk_live_query q;
    wk_live_query_init(&q);
    q.limit = 3;
    char seen[20][32];
    int nseen = 0, pages = 0;
    for (;;) {
        wk_live_page p;
        assert_int_equal(wk_live_select(&r, &q, "seed", &p), 0);
        sim_buf b;
        sim_buf_init(&b, WK_LIVE_MAX_PAGE);
        assert_int_equal(wk_live_render_page(&b, &ctx, "{}", &p), 0);
        json_t *j = json_loads(b.data, 0, NULL);
        assert_non_null(j);
        json_t *wf = json_object_get(j, "workflows");
        for (size_t i = 0; i < json_array_size(wf); i++) snprintf(seen[nseen++], 32, "%s", str(json_array_get(wf, i), "key"));
        if (pages == 0) assert_int_equal(json_integer_value(json_object_get(j, "total")), 10);
        const char *next = str(j, "next");
        pages++;
        if (pages == 1) { /* one already listed leaves, one comes before the cursor, one after it */
            mdl_monitor_free(wk_registry_remove(&r, wk_registry_find(&r, seen[0])));
            wk_registry_add(&r, mdl_monitor_new("early", T0 - SEC, T0, SEC, 8, 64), T0, NULL);
            wk_registry_add(&r, mdl_monitor_new("late", T0 + 99 * SEC, T0, SEC, 8, 64), T0, NULL);
        }
        if (!next) {
            json_decref(j);
            sim_buf_free(&b);
            wk_live_page_free(&p);
            break;
        }
        wk_live_query_init(&q);
        q.limit = 3;
        char why[200];
        assert_int_equal(wk_live_query_param(&q, "cursor", next, why, sizeof why), 0);
        json_decref(j);
        sim_buf_free(&b);
        wk_live_page_free(&p);
    }
    /* every one present throughout once, in order; "late" too; "early" came before the cursor */
    const char *want[] = {"w/08", "w/09", "w/06", "w/07", "w/04", "w/05", "w/02", "w/03", "w/00", "w/01", "late"};
    assert_int_equal(nseen, 11);
    for (int i = 0; i < nseen; i++) assert_string_equal(seen[i], want[i]);
    assert_int_equal(pages, 4);
    /* filters: status and source */
    wk_live_page p;
    wk_live_query_init(&q);
    q.status_mask = 1u << MDL_RUNNING;
    assert_int_equal(wk_live_select(&r, &q, "seed", &p), 0);
    assert_int_equal(p.total, 0);
    wk_live_page_free(&p);
    wk_live_query_init(&q);
    strcpy(q.source, "argo-workflows");
    assert_int_equal(wk_live_select(&r, &q, "seed", &p), 0);
    assert_int_equal(p.total, 0);
    wk_live_page_free(&p);
    wk_registry_clear(&r);
}

/* The data of each message in the feed from seq `from`, as JSON. */
static json_t *msg_data(const wk_feed *f, uint64_t seq, const char *event)
{
    const wk_feed_msg *m = wk_feed_get(f, seq);
    assert_non_null(m);
    char head[64];
    snprintf(head, sizeof head, "id: %llu\nevent: %s\ndata: ", (unsigned long long)seq, event);
    if (strncmp(m->text, head, strlen(head)) != 0) fail_msg("message %llu: %s", (unsigned long long)seq, m->text);
    assert_string_equal(m->text + m->len - 2, "\n\n");
    json_t *j = json_loadb(m->text + strlen(head), m->len - strlen(head) - 2, 0, NULL);
    assert_non_null(j);
    return j;
}

static void test_feed_transitions(void **state)
{
    (void)state;
    static wk_feed f;
    wk_feed_init(&f);
    mdl_monitor *m = mdl_monitor_new("octo/repo/42", T0, T0, 3600 * SEC, 100, 1000);
    /* no client: numbered, not kept */
    wk_feed_watch(&f, &ctx, m, T0);
    assert_int_equal(f.last, 1);
    assert_null(wk_feed_get(&f, 1));
    wk_feed_keep(&f, 1);
    wk_feed_before(&f, m);
    apply(m, RUNNING_TREE, T0 + 5 * SEC);
    wk_feed_after(&f, &ctx, m);
    /* nodes in order, then the root: job/1 queued+in_progress, step/1/1 success, step/1/2 in_progress,
     * job/2 queued, root queued+in_progress */
    uint64_t first = 2;
    assert_int_equal(f.last, first + 6);
    json_t *j = msg_data(&f, first, "state");
    assert_string_equal(str(j, "node"), "job/1");
    assert_string_equal(str(j, "name"), "queued");
    assert_true(json_is_null(json_object_get(j, "from")));
    assert_string_equal(str(j, "to"), "pending");
    assert_string_equal(str(j, "sourceStatus"), "queued");
    assert_string_equal(str(j, "time"), "2024-05-01T10:00:01.0000000Z");
    json_decref(j);
    j = msg_data(&f, first + 1, "state");
    assert_string_equal(str(j, "name"), "in_progress");
    assert_string_equal(str(j, "from"), "pending");
    assert_string_equal(str(j, "to"), "running");
    json_decref(j);
    j = msg_data(&f, first + 6, "state");
    assert_true(json_is_null(json_object_get(j, "node")));
    assert_string_equal(str(j, "name"), "in_progress");
    assert_string_equal(str(j, "key"), "octo/repo/42");
    json_decref(j);
    /* the next poll: step/1/2 ends; one message, from running to ok */
    wk_feed_before(&f, m);
    apply(m,
          "{\"status\":\"running\",\"state\":\"in_progress\",\"nodes\":[{\"key\":\"job/1\",\"status\":\"running\","
          "\"state\":\"in_progress\"},{\"key\":\"step/1/2\",\"parent\":\"job/1\",\"status\":\"ok\","
          "\"state\":\"success\",\"end\":\"2024-05-01T10:00:09Z\"}]}",
          T0 + 10 * SEC);
    wk_feed_after(&f, &ctx, m);
    assert_int_equal(f.last, first + 7);
    j = msg_data(&f, first + 7, "state");
    assert_string_equal(str(j, "node"), "step/1/2");
    assert_string_equal(str(j, "from"), "running");
    assert_string_equal(str(j, "to"), "ok");
    json_decref(j);
    mdl_monitor_timeout(m, T0 + 20 * SEC);
    wk_feed_end(&f, &ctx, m, T0 + 20 * SEC);
    j = msg_data(&f, f.last, "end");
    assert_string_equal(str(j, "status"), "error");
    assert_int_equal(strlen(str(j, "traceId")), 32);
    json_decref(j);
    wk_feed_clear(&f);
    mdl_monitor_free(m);
}

static void test_feed_ring_bounds(void **state)
{
    (void)state;
    static wk_feed f;
    wk_feed_init(&f);
    wk_feed_keep(&f, 1);
    mdl_monitor *m = mdl_monitor_new("k", T0, T0, SEC, 8, 64);
    for (int i = 0; i < WK_FEED_SLOTS + 10; i++) wk_feed_watch(&f, &ctx, m, T0 + i);
    assert_int_equal(f.last, WK_FEED_SLOTS + 10);
    assert_null(wk_feed_get(&f, 10));  /* evicted: a client still there falls behind */
    assert_non_null(wk_feed_get(&f, 11));
    assert_non_null(wk_feed_get(&f, f.last));
    assert_null(wk_feed_get(&f, f.last + 1));
    assert_true(f.bytes <= WK_FEED_MAX_BYTES);
    wk_feed_keep(&f, 0); /* the last client left: nothing kept */
    assert_int_equal(f.bytes, 0);
    assert_null(wk_feed_get(&f, f.last));
    mdl_monitor_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workflow_json),   cmocka_unit_test(test_workflow_json_bounded),
        cmocka_unit_test(test_query_params),    cmocka_unit_test(test_paging_stable),
        cmocka_unit_test(test_feed_transitions), cmocka_unit_test(test_feed_ring_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
