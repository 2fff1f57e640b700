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
#include "model/monitor.h"
#include "model/spans.h"
#include "worker/checkpoint.h"
#include "worker/seed_tree.h"
#include "worker/snapshot.h"

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

/* Apply a seed answer, as the worker does: as a canonical tree. */
static int apply(mdl_monitor *m, const wm_snapshot *s, int64_t sent, int64_t received, int *changed)
{
    mdl_snapshot tree;
    mdl_snapshot_init(&tree);
    assert_int_equal(wm_snapshot_to_tree(s, &tree), 0);
    int rc = mdl_monitor_apply(m, &tree, sent, received, changed);
    ex_free(tree.nodes);
    return rc;
}

/* Scenario k of the monitors below, advanced to its step `steps`. */
static mdl_monitor *scenario(int k, int steps)
{
    mdl_monitor *m = mdl_monitor_new("wf-ckpt-1", T0, T0, 600 * SEC, MDL_SEED_MAX_NODES, MDL_SEED_MAX_EVENTS);
    assert_non_null(m);
    wm_snapshot s = snap(WM_INITIALIZING, WM_NO_TIME, NULL);
    if (steps >= 1) apply(m, &s, S(0), P(0), NULL);
    s = snap(WM_PROCESSING, WM_NO_TIME, NULL);
    stage(&s, 0, "DataLoader", WM_PROCESSING, T0 + 2 * SEC, WM_NO_TIME, NULL);
    if (steps >= 2) mdl_monitor_poll_failed(m);
    if (steps >= 2) apply(m, &s, S(2), P(2), NULL);
    stage(&s, 0, "DataLoader", WM_COMPLETED, T0 + 2 * SEC, T0 + 20 * SEC, NULL);
    stage(&s, 1, "Processor", WM_PROCESSING, T0 + 20 * SEC, WM_NO_TIME, NULL);
    if (steps >= 3) apply(m, &s, S(3), P(3), NULL);
    if (steps < 4) return m;
    if (k == 0) {
        stage(&s, 1, "Processor", WM_COMPLETED, T0 + 20 * SEC, T0 + 40 * SEC, NULL);
        s.status = WM_COMPLETED;
        s.end_ns = T0 + 41 * SEC;
        s.complete = 1;
        apply(m, &s, S(5), P(5), NULL);
    } else if (k == 1) {
        stage(&s, 1, "Processor", WM_FAILED, T0 + 20 * SEC, T0 + 40 * SEC, "disk full on node 7");
        s.status = WM_FAILED;
        s.end_ns = T0 + 41 * SEC;
        s.complete = 1;
        s.has_error = 1;
        snprintf(s.error, sizeof s.error, "stage Processor failed");
        apply(m, &s, S(5), P(5), NULL);
    } else if (k == 2) {
        mdl_monitor_timeout(m, T0 + 600 * SEC);
    } else {
        mdl_monitor_not_found(m, P(6));
    }
    return m;
}

/* ---- comparing ---- */

/* Two monitors are the same when they encode to the same bytes (the
 * encoding holds every field); the decoder is checked by re-encoding. */
static void assert_same(const mdl_monitor *a, const mdl_monitor *b)
{
    uint8_t *ba, *bb;
    size_t la, lb;
    assert_int_equal(wk_ckpt_encode(a, &ba, &la), 0);
    assert_int_equal(wk_ckpt_encode(b, &bb, &lb), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
    assert_string_equal(a->key, b->key);
    assert_int_equal(a->nnodes, b->nnodes);
    assert_int_equal(a->nevents, b->nevents);
    ex_free(ba);
    ex_free(bb);
}

static mdl_monitor *round_trip(const mdl_monitor *m)
{
    uint8_t *blob;
    size_t len;
    char why[256];
    assert_int_equal(wk_ckpt_encode(m, &blob, &len), 0);
    mdl_monitor *r = wk_ckpt_decode(blob, len, why, sizeof why);
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
            mdl_monitor *m = scenario(k, steps);
            mdl_monitor *r = round_trip(m);
            mdl_monitor_free(r);
            mdl_monitor_free(m);
        }
    }
}

/* The spans of a done monitor, rendered as text for comparison. */
static void assert_same_spans(const mdl_monitor *a, const mdl_monitor *b)
{
    exo_span **sa, **sb;
    size_t na, nb;
    mdl_build_opts o = {"dev1", NULL, NULL, "workflowId"};
    assert_int_equal(mdl_build_spans(a, &o, &sa, &na), 0);
    assert_int_equal(mdl_build_spans(b, &o, &sb, &nb), 0);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_memory_equal(sa[i]->trace_id, sb[i]->trace_id, sizeof sa[i]->trace_id);
        assert_memory_equal(sa[i]->span_id, sb[i]->span_id, sizeof sa[i]->span_id);
        assert_true(sa[i]->start_ns == sb[i]->start_ns && sa[i]->end_ns == sb[i]->end_ns);
        assert_int_equal(sa[i]->nevents, sb[i]->nevents);
    }
    mdl_spans_free(sa, na);
    mdl_spans_free(sb, nb);
}

/* A monitor restored mid-run and fed the rest of the run ends exactly like
 * one that never stopped: no event lost or repeated, same spans. */
static void test_resume_matches_undisturbed(void **state)
{
    for (int k = 0; k < 4; k++) {
        mdl_monitor *whole = scenario(k, 4);
        mdl_monitor *half = scenario(k, 3);
        mdl_monitor *resumed = round_trip(half);
        mdl_monitor_free(half);
        /* Replay the last step of scenario k on the restored monitor. */
        wm_snapshot s = snap(WM_COMPLETED, T0 + 41 * SEC, NULL);
        stage(&s, 0, "DataLoader", WM_COMPLETED, T0 + 2 * SEC, T0 + 20 * SEC, NULL);
        if (k == 0) {
            stage(&s, 1, "Processor", WM_COMPLETED, T0 + 20 * SEC, T0 + 40 * SEC, NULL);
            apply(resumed, &s, S(5), P(5), NULL);
        } else if (k == 1) {
            stage(&s, 1, "Processor", WM_FAILED, T0 + 20 * SEC, T0 + 40 * SEC, "disk full on node 7");
            s.status = WM_FAILED;
            s.has_error = 1;
            snprintf(s.error, sizeof s.error, "stage Processor failed");
            apply(resumed, &s, S(5), P(5), NULL);
        } else if (k == 2) {
            mdl_monitor_timeout(resumed, T0 + 600 * SEC);
        } else {
            mdl_monitor_not_found(resumed, P(6));
        }
        assert_true(mdl_monitor_done(resumed));
        assert_same(whole, resumed);
        assert_same_spans(whole, resumed);
        mdl_monitor_free(whole);
        mdl_monitor_free(resumed);
    }
}

/* Replaying a poll the dead worker had already applied adds nothing. */
static void test_replayed_poll_adds_nothing(void **state)
{
    mdl_monitor *m = scenario(0, 3);
    mdl_monitor *r = round_trip(m);
    wm_snapshot s = snap(WM_PROCESSING, WM_NO_TIME, NULL);
    stage(&s, 0, "DataLoader", WM_COMPLETED, T0 + 2 * SEC, T0 + 20 * SEC, NULL);
    stage(&s, 1, "Processor", WM_PROCESSING, T0 + 20 * SEC, WM_NO_TIME, NULL);
    int changed = -1;
    assert_int_equal(apply(r, &s, S(4), P(4), &changed), 0);
    assert_int_equal(changed, 0);
    assert_int_equal(r->nevents, m->nevents);
    assert_int_equal(r->version, m->version);
    mdl_monitor_free(r);
    mdl_monitor_free(m);
}

/* ---- rejection ---- */

static uint8_t *encoded(size_t *len)
{
    mdl_monitor *m = scenario(1, 4);
    uint8_t *blob;
    assert_int_equal(wk_ckpt_encode(m, &blob, len), 0);
    mdl_monitor_free(m);
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
    mdl_monitor *m = wk_ckpt_decode(b, len, why, sizeof why);
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
    expect_reject(b, len, "format version 5 is not supported");
    ex_free(b);
}

/* ---- formats 1 and 2 (the seed's fixed stages, written by earlier versions) ---- */

typedef struct lbuf {
    uint8_t b[4096];
    size_t n;
} lbuf;

static void lput(lbuf *l, uint64_t v, size_t bytes)
{
    for (size_t i = 0; i < bytes; i++) l->b[l->n++] = (uint8_t)(v >> (8 * i));
}

static void lstr(lbuf *l, const char *s)
{
    if (!s) {
        lput(l, 0xFFFF, 2);
        return;
    }
    lput(l, strlen(s), 2);
    memcpy(l->b + l->n, s, strlen(s));
    l->n += strlen(s);
}

/* m (a seed monitor) in the layout of format `version` (1 or 2), as the
 * earlier versions wrote it: one global event list with owners. */
static void legacy_encode(const mdl_monitor *m, int version, int64_t last_field, lbuf *l)
{
    l->n = 0;
    memcpy(l->b, "XTCK", 4);
    l->n = 4;
    lput(l, (uint64_t)version, 1);
    lstr(l, m->key);
    int64_t t[] = {m->submitted_ns, m->created_ns, m->timeout_ns, m->root.start_ns, m->root.end_ns, last_field};
    for (int i = 0; i < 6; i++) lput(l, (uint64_t)t[i], 8);
    lput(l, m->version, 4);
    lput(l, m->polls, 4);
    lput(l, m->poll_errors, 4);
    lput(l, m->events_dropped, 2);
    lput(l, m->nodes_dropped, 2);
    uint8_t small[] = {m->root.last_word, m->root.end, (uint8_t)m->nnodes, (uint8_t)m->nevents};
    for (int i = 0; i < 4; i++) lput(l, small[i], 1);
    lstr(l, mdl_node_error(&m->root));
    for (size_t i = 0; i < m->nnodes; i++) {
        const mdl_node *n = &m->nodes[i];
        lput(l, (uint64_t)n->start_ns, 8);
        lput(l, (uint64_t)n->end_ns, 8);
        lstr(l, mdl_node_key(n));
        lstr(l, mdl_node_id(n));
        lstr(l, mdl_node_error(n));
        lput(l, n->last_word, 1);
        lput(l, n->end, 1);
    }
    for (size_t i = 0; i <= m->nnodes; i++) {
        const mdl_node *n = i < m->nnodes ? &m->nodes[i] : &m->root;
        for (size_t j = 0; j < n->nevents; j++) {
            const mdl_event *e = &n->events[j];
            lput(l, (uint64_t)e->time_ns, 8);
            lput(l, (uint64_t)e->before_ns, 8);
            lput(l, (uint64_t)e->after_ns, 8);
            uint8_t o[] = {i < m->nnodes ? (uint8_t)i : 0xFF, e->word, e->source};
            for (int k = 0; k < 3; k++) lput(l, o[k], 1);
        }
    }
    lput(l, 0, 4);
    reseal(l->b, l->n);
}

/* A format-2 checkpoint of every scenario and step reads back as the same
 * tree the current code builds, and resumes to the same spans. */
static void test_reads_version_2(void **state)
{
    for (int k = 0; k < 4; k++) {
        for (int steps = 0; steps <= 4; steps++) {
            mdl_monitor *m = scenario(k, steps);
            static lbuf l;
            legacy_encode(m, 2, m->last_sent_ns, &l);
            char why[256] = "";
            mdl_monitor *r = wk_ckpt_decode(l.b, l.n, why, sizeof why);
            if (!r) fail_msg("format 2 refused: %s", why);
            assert_same(m, r);
            if (mdl_monitor_done(m)) assert_same_spans(m, r);
            mdl_monitor_free(r);
            mdl_monitor_free(m);
        }
    }
}

/* A version-1 blob (the last poll's receive time where version 2 keeps
 * its send time) is read, bracketing the next event from the monitor's
 * creation: wider, never wrong. */
static void test_reads_version_1(void **state)
{
    mdl_monitor *m = scenario(0, 3);
    static lbuf l;
    legacy_encode(m, 1, P(3), &l);
    char why[256] = "";
    mdl_monitor *r = wk_ckpt_decode(l.b, l.n, why, sizeof why);
    if (!r) fail_msg("version 1 refused: %s", why);
    assert_int_equal(r->last_sent_ns, T0); /* created */
    assert_int_equal(m->last_sent_ns, S(3));
    wm_snapshot s = snap(WM_PROCESSING, WM_NO_TIME, NULL);
    stage(&s, 0, "DataLoader", WM_COMPLETED, T0 + 2 * SEC, T0 + 20 * SEC, NULL);
    stage(&s, 1, "Processor", WM_COMPLETED, T0 + 20 * SEC, T0 + 40 * SEC, NULL);
    apply(r, &s, S(4), P(4), NULL);
    const mdl_node *p = &r->nodes[1];
    assert_int_equal(p->events[p->nevents - 1].after_ns, T0);
    mdl_monitor_free(r);
    mdl_monitor_free(m);
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
    /* magic 4 + version 1 + key (2 + 9) + 4 i64 + 3 u32 → the u16 counts */
    size_t counts = 4 + 1 + 2 + 9 + 32 + 12;
    b[counts + 8] = MDL_SEED_MAX_NODES + 1; /* nnodes above max_nodes */
    reseal(b, len);
    expect_reject(b, len, "nodes (at most");
    ex_free(b);
    b = encoded(&len);
    /* the root: after the words count, i64 start end, u32 parent, then last_word end */
    size_t root = counts + 10 + 1 + 16 + 4;
    b[root + 1] = 42; /* end reason */
    reseal(b, len);
    expect_reject(b, len, "end 42/");
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
        mdl_monitor *m = wk_ckpt_decode(b, len, why, sizeof why);
        ex_mem_fail_after(-1);
        if (m) {
            mdl_monitor_free(m);
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
        cmocka_unit_test(test_reads_version_2),
        cmocka_unit_test(test_rejects_corrupt),
        cmocka_unit_test(test_rejects_bad_values),
        cmocka_unit_test(test_decode_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
