/* target_model.c — the tree model (src/model/) fed a profile's jq output:
 * the canonical snapshot reader, the monitor, checkpoints and spans (those
 * taken as they end are the end's, byte for byte); a document noted as
 * applied, applied again, does what the unchanged route does. */
#include <jansson.h>
#include <string.h>

#include "core/mem.h"
#include "model/monitor.h"
#include "model/spans.h"
#include "otel/otlp_proto.h"
#include "targets.h"
#include "targets_int.h"
#include "worker/checkpoint.h"

#define T0 INT64_C(1714557600000000000)

/* Parents come first and every parent index points at one. */
static void tree_check(const mdl_snapshot *s)
{
    for (size_t i = 0; i < s->nnodes; i++) {
        uint32_t p = s->nodes[i].parent_idx;
        if (p != MDL_ROOT && p >= i) fuzz__fail("tree", "node %zu's parent %u does not come before it", i, p);
        if ((p == MDL_ROOT) != (s->nodes[i].parent == NULL)) fuzz__fail("tree", "node %zu: parent and index disagree", i);
        if (p != MDL_ROOT && strcmp(s->nodes[p].key, s->nodes[i].parent) != 0)
            fuzz__fail("tree", "node %zu: parent index names another key", i);
    }
}

/* Encode, decode, encode again: the same bytes. */
static void checkpoint_round_trip(const mdl_monitor *m)
{
    uint8_t *a, *b;
    size_t la, lb;
    char why[256];
    if (wk_ckpt_encode(m, &a, &la)) return; /* out of memory */
    mdl_monitor *r = wk_ckpt_decode(a, la, why, sizeof why);
    if (!r) fuzz__fail("tree", "a checkpoint of a valid monitor is refused: %s", why);
    if (wk_ckpt_encode(r, &b, &lb) == 0) {
        if (la != lb || memcmp(a, b, la) != 0) fuzz__fail("tree", "checkpoint round trip changed the bytes");
        ex_free(b);
    }
    mdl_monitor_free(r);
    ex_free(a);
}

/* m's checkpoint (owned), or NULL without memory. */
static uint8_t *ckpt_bytes(const mdl_monitor *m, size_t *len)
{
    uint8_t *b;
    return wk_ckpt_encode(m, &b, len) == 0 ? b : NULL;
}

/* Apply s again (it was applied as document 1): nothing changes, and
 * when the monitor had noted it, m ends as a copy that took
 * mdl_monitor_unchanged instead (what a poll answering the same bytes
 * does) — the same checkpoint. */
static void apply_again(mdl_monitor *m, const mdl_snapshot *s)
{
    size_t la, lb;
    char why[256];
    uint8_t *a = mdl_monitor_doc_hash(m) == 1 ? ckpt_bytes(m, &la) : NULL, *b;
    mdl_monitor *u = a ? wk_ckpt_decode(a, la, why, sizeof why) : NULL;
    ex_free(a);
    int changed = 0;
    mdl_monitor_apply_doc(m, s, 1, T0 + 3000, T0 + 4000, &changed);
    if (changed && !mdl_monitor_done(m)) fuzz__fail("tree", "the same snapshot twice changed the monitor");
    if (!u) return;
    mdl_monitor_unchanged(u, T0 + 3000, T0 + 4000);
    a = ckpt_bytes(m, &la);
    b = ckpt_bytes(u, &lb);
    if (a && b && (la != lb || memcmp(a, b, la) != 0))
        fuzz__fail("tree", "a noted document applied again differs from the unchanged route");
    ex_free(a);
    ex_free(b);
    mdl_monitor_free(u);
}

/* A span as OTLP bytes (owned), or NULL without memory. */
static uint8_t *span_bytes(exo_span *sp, size_t *len)
{
    static exo_resource res;
    uint8_t *out = NULL;
    return exo_otlp_proto_encode(&res, "f", "1", &sp, 1, &out, len) == 0 ? out : NULL;
}

/* Every span taken as it ended is in the end's spans, the same bytes. */
static void early_check(exo_span **early, size_t ne, exo_span **all, size_t n)
{
    for (size_t i = 0; i < ne; i++) {
        size_t k = 0;
        while (k < n && memcmp(all[k]->span_id, early[i]->span_id, 8) != 0) k++;
        if (k == n) fuzz__fail("tree", "span %s taken as it ended is not in the end's spans", early[i]->name);
        size_t la, lb;
        uint8_t *a = span_bytes(early[i], &la), *b = span_bytes(all[k], &lb);
        if (a && b && (la != lb || memcmp(a, b, la) != 0))
            fuzz__fail("tree", "span %s taken as it ended differs from the end's", early[i]->name);
        ex_free(a);
        ex_free(b);
    }
}

int fuzz_run_tree(const uint8_t *data, size_t size)
{
    json_error_t err;
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &err);
    if (!j) return 0;
    mdl_snapshot s;
    char why[300];
    mdl_snapshot_init(&s);
    int rc = mdl_snapshot_from_json(&s, j, why, sizeof why);
    json_decref(j);
    if (rc) {
        fuzz__check_terminated("tree", "the error message", why, sizeof why);
        if (!why[0]) fuzz__fail("tree", "refused without a message");
    } else {
        tree_check(&s);
        mdl_monitor *m = mdl_monitor_new("k/1", T0, T0, INT64_C(3600000000000), MDL_MAX_NODES, MDL_DEF_MAX_EVENTS);
        int changed = 0;
        mdl_build_opts o = {"ns", "fuzz", NULL, NULL};
        exo_span **early = NULL;
        mdl_span_ref *refs = NULL;
        size_t ne = 0;
        mdl_monitor_apply_doc(m, &s, 1, T0 + 1000, T0 + 2000, &changed);
        if (!mdl_monitor_done(m) && mdl_take_ready_spans(m, &o, &early, &refs, &ne) == 0)
            mdl_settle_spans(m, &o, refs, ne, 1);
        checkpoint_round_trip(m);
        apply_again(m, &s);
        mdl_monitor_timeout(m, T0 + 5000);
        checkpoint_round_trip(m);
        exo_span **sp;
        size_t n;
        if (mdl_build_spans(m, &o, &sp, &n) == 0) {
            if (n < 1 + (size_t)m->nnodes) fuzz__fail("tree", "%zu spans for %u nodes", n, m->nnodes);
            early_check(early, ne, sp, n);
            for (size_t i = 0; i < n; i++)
                if (sp[i]->end_ns < sp[i]->start_ns) fuzz__fail("tree", "span %s ends before it starts", sp[i]->name);
            mdl_spans_free(sp, n);
        }
        mdl_spans_free(early, ne);
        ex_free(refs);
        mdl_monitor_free(m);
    }
    mdl_snapshot_clear(&s);
    ex_free(s.nodes);
    return 0;
}
