/* Spans as they end (model/spans.h): which spans of a running workflow
 * are final and not yet exported, at every depth; the export states a
 * verdict moves them to; what the root's export still owes; and that a
 * span taken early is byte for byte the one the end would build, even
 * when the source later says something else about an ended node. All
 * times are injected (a scripted clock of polls). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "model/monitor.h"
#include "model/spans.h"
#include "otel/otlp_proto.h"
#include "worker/checkpoint.h"

#define SEC EX_NS_PER_SEC
#define T0 (INT64_C(1714557600) * SEC) /* 2024-05-01T10:00:00Z */
#define P(k) (T0 + (int64_t)(k) * 10 * SEC + 5000000) /* poll k's answer arrives */
#define S(k) (P(k) - 2000000)                          /* poll k's request leaves */

static const mdl_build_opts OPTS = {"dev1", "github-actions", "Workflow", NULL};

static mdl_monitor *new_monitor(void)
{
    mdl_monitor *m = mdl_monitor_new("octo/hello/7", T0 - 5 * SEC, T0 - 5 * SEC, 3600 * SEC, MDL_MAX_NODES,
                                     MDL_DEF_MAX_EVENTS);
    assert_non_null(m);
    return m;
}

static int poll(mdl_monitor *m, int k, const char *text)
{
    mdl_snapshot s;
    char why[300];
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j) fail_msg("bad test JSON: %s", e.text);
    mdl_snapshot_init(&s);
    if (mdl_snapshot_from_json(&s, j, why, sizeof why)) fail_msg("poll %d: %s", k, why);
    json_decref(j);
    int rc = mdl_monitor_apply(m, &s, S(k), P(k), NULL);
    mdl_snapshot_clear(&s);
    ex_free(s.nodes);
    return rc;
}

/* A span as OTLP protobuf bytes: equal bytes, equal span. */
static uint8_t *encode(const exo_span *sp, size_t *len)
{
    static exo_resource res;
    uint8_t *out;
    exo_span *one = (exo_span *)sp;
    assert_int_equal(exo_otlp_proto_encode(&res, "t", "1", &one, 1, &out, len), 0);
    return out;
}

static void assert_same_span(const exo_span *a, const exo_span *b)
{
    size_t la, lb;
    uint8_t *ba = encode(a, &la), *bb = encode(b, &lb);
    if (la != lb || memcmp(ba, bb, la) != 0) fail_msg("span %s differs from %s", a->name, b->name);
    ex_free(ba);
    ex_free(bb);
}

static const exo_span *by_id(exo_span **sp, size_t n, const uint8_t id[8])
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(sp[i]->span_id, id, 8) == 0) return sp[i];
    return NULL;
}

/* Take what is ready: the names, in order, joined by ",". */
static char *take(mdl_monitor *m, exo_span **keep, size_t *nkeep, mdl_span_ref **refs, size_t *n)
{
    static char names[512];
    exo_span **sp;
    assert_int_equal(mdl_take_ready_spans(m, &OPTS, &sp, refs, n), 0);
    names[0] = '\0';
    for (size_t i = 0; i < *n; i++) {
        if (i) strcat(names, ",");
        strcat(names, sp[i]->name);
        keep[(*nkeep)++] = sp[i];
    }
    ex_free(sp);
    return names;
}

#define RUN0 "{\"status\":\"pending\",\"state\":\"queued\",\"start\":\"2024-05-01T10:00:00Z\"}"
/* depth 3: job/1 > step/1/1 (ended) and step/1/2 > sub/a (ended); job/2 open */
#define RUN1 "{\"status\":\"running\",\"state\":\"in_progress\",\"start\":\"2024-05-01T10:00:00Z\",\"nodes\":[" \
    "{\"key\":\"job/1\",\"name\":\"build\",\"status\":\"running\",\"start\":\"2024-05-01T10:00:01Z\"}," \
    "{\"key\":\"step/1/1\",\"parent\":\"job/1\",\"name\":\"Checkout\",\"status\":\"ok\",\"state\":\"success\"," \
    " \"start\":\"2024-05-01T10:00:02Z\",\"end\":\"2024-05-01T10:00:03Z\",\"attributes\":{\"n\":1}}," \
    "{\"key\":\"step/1/2\",\"parent\":\"job/1\",\"name\":\"Test\",\"status\":\"running\",\"start\":\"2024-05-01T10:00:03Z\"}," \
    "{\"key\":\"sub/a\",\"parent\":\"step/1/2\",\"name\":\"shard\",\"status\":\"error\",\"error\":\"exit 1\"," \
    " \"start\":\"2024-05-01T10:00:04Z\"}," \
    "{\"key\":\"job/2\",\"name\":\"lint\",\"status\":\"running\",\"start\":\"2024-05-01T10:00:01Z\"}]}"
/* job/1 fails; the source now says the ended Checkout runs again with
 * other attributes (ignored: an ended span is final); a retry of job/1
 * comes as a node of its own (new key, new span id) */
#define RUN2 "{\"status\":\"running\",\"state\":\"in_progress\",\"start\":\"2024-05-01T10:00:00Z\",\"nodes\":[" \
    "{\"key\":\"job/1\",\"name\":\"build\",\"status\":\"error\",\"start\":\"2024-05-01T10:00:01Z\"," \
    " \"end\":\"2024-05-01T10:00:21Z\"}," \
    "{\"key\":\"step/1/1\",\"parent\":\"job/1\",\"name\":\"Checkout\",\"status\":\"running\"," \
    " \"start\":\"2024-05-01T10:00:09Z\",\"attributes\":{\"n\":2}}," \
    "{\"key\":\"step/1/2\",\"parent\":\"job/1\",\"name\":\"Test\",\"status\":\"cancelled\",\"start\":\"2024-05-01T10:00:03Z\"}," \
    "{\"key\":\"job/1#2\",\"name\":\"build (attempt 2)\",\"status\":\"running\",\"start\":\"2024-05-01T10:00:22Z\"}," \
    "{\"key\":\"job/2\",\"name\":\"lint\",\"status\":\"running\",\"start\":\"2024-05-01T10:00:01Z\"}]}"
#define RUN3 "{\"status\":\"ok\",\"state\":\"success\",\"start\":\"2024-05-01T10:00:00Z\",\"end\":\"2024-05-01T10:00:40Z\"," \
    "\"nodes\":[{\"key\":\"job/1#2\",\"name\":\"build (attempt 2)\",\"status\":\"ok\"," \
    " \"start\":\"2024-05-01T10:00:22Z\",\"end\":\"2024-05-01T10:00:39Z\"}]}"

/* job/2 open, then the retry of job/1, ended */
#define RUNB "{\"status\":\"running\",\"start\":\"2024-05-01T10:00:00Z\",\"nodes\":[" \
    "{\"key\":\"job/2\",\"name\":\"lint\",\"status\":\"running\",\"start\":\"2024-05-01T10:00:01Z\"}," \
    "{\"key\":\"job/1#2\",\"name\":\"build (attempt 2)\",\"status\":\"ok\"," \
    " \"start\":\"2024-05-01T10:00:22Z\",\"end\":\"2024-05-01T10:00:39Z\"}]}"

/* A run taken poll by poll: each poll yields exactly the spans that ended
 * in it (any depth; Queued once the source's start is known), never the
 * root, never one twice; each is identical to the end's; the verdicts
 * decide what the root's export still owes. */
static void test_spans_as_they_end(void **state)
{
    (void)state;
    mdl_monitor *m = new_monitor();
    exo_span *early[16];
    size_t nearly = 0, n1, n2, n3, nx;
    mdl_span_ref *r1, *r2, *r3, *rx;
    assert_int_equal(mdl_count_select(m, MDL_SEL_READY), 0);
    assert_int_equal(poll(m, 0, RUN0), 0);
    assert_string_equal(take(m, early, &nearly, &r1, &n1), "Queued");
    assert_string_equal(take(m, early, &nearly, &rx, &nx), ""); /* nothing new */
    assert_null(rx);
    assert_int_equal(poll(m, 1, RUN1), 0);
    assert_string_equal(take(m, early, &nearly, &r2, &n2), "Checkout,shard");
    assert_int_equal(m->nodes[1].exported, MDL_EXP_SENT);
    assert_int_equal(poll(m, 2, RUN2), 0);
    assert_string_equal(take(m, early, &nearly, &r3, &n3), "build,Test");
    /* verdicts: Queued delivered, Checkout+shard not, build+Test unknown */
    mdl_settle_spans(m, &OPTS, r1, n1, 1);
    mdl_settle_spans(m, &OPTS, r2, n2, 0);
    mdl_settle_spans(m, &OPTS, r1, n1, 0); /* a second verdict changes nothing */
    assert_int_equal(m->queued_exported, MDL_EXP_DELIVERED);
    assert_int_equal(m->nodes[1].exported, MDL_EXP_FAILED);
    assert_string_equal(take(m, early, &nearly, &rx, &nx), ""); /* failed ones wait for the root */
    assert_int_equal(poll(m, 3, RUN3), MDL_DONE);
    /* the end: every span, and what is owed (not delivered) */
    exo_span **all, **owed;
    size_t nall, nowed;
    assert_int_equal(mdl_build_spans(m, &OPTS, &all, &nall), 0);
    assert_int_equal(nall, 6 + 1 + 1);
    assert_int_equal(mdl_build_select(m, &OPTS, MDL_SEL_OWED, &owed, NULL, &nowed), 0);
    assert_int_equal(nowed, nall - 1); /* all but the delivered Queued */
    assert_int_equal(mdl_count_resent(m), 4);  /* Checkout, shard (failed), build, Test (unknown) */
    assert_string_equal(owed[nowed - 1]->name, "Workflow");
    assert_null(by_id(owed, nowed, early[0]->span_id));
    for (size_t i = 0; i < nearly; i++) { /* taken early = built at the end, byte for byte */
        const exo_span *end = by_id(all, nall, early[i]->span_id);
        assert_non_null(end);
        assert_same_span(early[i], end);
    }
    /* the ended Checkout kept its end and first attributes */
    const exo_span *co = by_id(all, nall, early[1]->span_id);
    assert_true(co->end_ns == T0 + 3 * SEC && co->status_code == EXO_STATUS_OK);
    /* the retry is its own span */
    assert_int_equal(m->nnodes, 6);
    assert_string_equal(mdl_node_key(&m->nodes[5]), "job/1#2");
    mdl_spans_free(all, nall);
    mdl_spans_free(owed, nowed);
    for (size_t i = 0; i < nearly; i++) exo_span_free(early[i]);
    ex_free(r1);
    ex_free(r2);
    ex_free(r3);
    mdl_monitor_free(m);
}

/* A verdict is booked only on the span it was about: a monitor of the
 * same key whose node at that index is another (a watch started over)
 * keeps its state. */
static void test_settle_checks_the_span(void **state)
{
    (void)state;
    mdl_monitor *a = new_monitor(), *b = new_monitor();
    exo_span *early[8];
    size_t nearly = 0, n, nb;
    mdl_span_ref *r, *rb;
    poll(a, 1, RUN1);
    poll(b, 1, RUNB);
    assert_string_equal(take(a, early, &nearly, &r, &n), "Checkout,shard,Queued");
    assert_string_equal(take(b, early, &nearly, &rb, &nb), "build (attempt 2),Queued");
    mdl_settle_spans(b, &OPTS, r, 1, 1); /* a's node 1 (Checkout) is not b's node 1 */
    assert_int_equal(b->nodes[1].exported, MDL_EXP_SENT);
    mdl_settle_spans(b, &OPTS, r + 2, 1, 1); /* Queued has one id per trace: the same span */
    assert_int_equal(b->queued_exported, MDL_EXP_DELIVERED);
    for (size_t i = 0; i < nearly; i++) exo_span_free(early[i]);
    ex_free(r);
    ex_free(rb);
    mdl_monitor_free(a);
    mdl_monitor_free(b);
}

/* Only a delivery is kept in a checkpoint: after a resume, a span sent
 * but not known delivered is taken again (the same bytes), a delivered
 * one never. Format 3 blobs read as nothing delivered. */
static void test_checkpoint_keeps_deliveries(void **state)
{
    (void)state;
    mdl_monitor *m = new_monitor();
    exo_span *early[16];
    size_t nearly = 0, n, n2;
    mdl_span_ref *r, *r2;
    poll(m, 1, RUN1);
    assert_string_equal(take(m, early, &nearly, &r, &n), "Checkout,shard,Queued");
    mdl_settle_spans(m, &OPTS, r, 1, 1);     /* Checkout delivered */
    mdl_settle_spans(m, &OPTS, r + 2, 1, 1); /* Queued delivered; shard unknown */
    uint8_t *blob, *old;
    size_t len, oldlen;
    char why[256];
    assert_int_equal(wk_ckpt_encode(m, &blob, &len), 0);
    assert_int_equal(wk_ckpt_encode_format(m, 3, &old, &oldlen), 0);
    assert_int_equal(old[4], 3);
    assert_int_equal(len, oldlen + 5 + 1 + 1); /* a byte per node and the root, one for Queued */
    mdl_monitor *back = wk_ckpt_decode(blob, len, why, sizeof why);
    if (!back) fail_msg("%s", why);
    assert_int_equal(back->queued_exported, MDL_EXP_DELIVERED);
    assert_int_equal(back->nodes[1].exported, MDL_EXP_DELIVERED);
    assert_int_equal(back->nodes[3].exported, MDL_EXP_NONE);
    assert_string_equal(take(back, early, &nearly, &r2, &n2), "shard");
    assert_same_span(early[1], early[3]);
    mdl_monitor *v3 = wk_ckpt_decode(old, oldlen, why, sizeof why);
    if (!v3) fail_msg("format 3: %s", why);
    assert_int_equal(mdl_count_select(v3, MDL_SEL_READY), 3);
    /* a delivered mark on a node still open is refused */
    m->nodes[0].exported = MDL_EXP_DELIVERED;
    ex_free(blob);
    assert_int_equal(wk_ckpt_encode(m, &blob, &len), 0);
    assert_null(wk_ckpt_decode(blob, len, why, sizeof why));
    assert_non_null(strstr(why, "export state 1"));
    ex_free(old);
    assert_int_equal(wk_ckpt_encode_format(m, 5, &old, &oldlen), -1);
    assert_null(old);
    for (size_t i = 0; i < nearly; i++) exo_span_free(early[i]);
    ex_free(r);
    ex_free(r2);
    ex_free(blob);
    ex_free(old);
    mdl_monitor_free(back);
    mdl_monitor_free(v3);
    mdl_monitor_free(m);
}

/* Out of memory at every allocation of a take: nothing is marked, and
 * the next take (with memory) yields the same spans. */
static void test_take_out_of_memory(void **state)
{
    (void)state;
    for (long k = 0; k < 60; k++) {
        mdl_monitor *m = new_monitor();
        poll(m, 1, RUN1);
        exo_span **sp;
        mdl_span_ref *r;
        size_t n;
        ex_mem_fail_after(k);
        int rc = mdl_take_ready_spans(m, &OPTS, &sp, &r, &n);
        ex_mem_fail_after(-1);
        if (rc == 0) {
            assert_int_equal(n, 3);
            mdl_spans_free(sp, n);
            ex_free(r);
            mdl_monitor_free(m);
            break;
        }
        assert_int_equal(rc, MDL_ERR_NOMEM);
        assert_int_equal(mdl_count_select(m, MDL_SEL_READY), 3);
        mdl_monitor_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spans_as_they_end),
        cmocka_unit_test(test_settle_checks_the_span),
        cmocka_unit_test(test_checkpoint_keeps_deliveries),
        cmocka_unit_test(test_take_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
