/* target_snapdiff.c — snapshot_diff: the seed's answer read by the fast
 * parser (yajl callbacks, src/worker/snapshot_fast.c) and by the jansson
 * one (the reference) gives the same snapshot, the same code and the same
 * message. tests/unit/test_snapshot_fast.c runs the same comparison over
 * the corpora and generated answers. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "targets.h"
#include "targets_int.h"
#include "worker/snapshot_int.h"

#define DIFF(...) (snprintf(diff, n, __VA_ARGS__), 1)
#define BROKEN(...) (snprintf(diff, n, __VA_ARGS__), -1)

static int stage_diff(size_t i, const wm_snap_stage *a, const wm_snap_stage *b, char *diff, size_t n)
{
    if (strcmp(a->type, b->type)) return DIFF("stages[%zu].type \"%s\" / \"%s\"", i, a->type, b->type);
    if (strcmp(a->id, b->id)) return DIFF("stages[%zu].id \"%s\" / \"%s\"", i, a->id, b->id);
    if (a->status != b->status) return DIFF("stages[%zu].status %d / %d", i, (int)a->status, (int)b->status);
    if (a->complete != b->complete) return DIFF("stages[%zu].complete %d / %d", i, a->complete, b->complete);
    if (a->start_ns != b->start_ns) return DIFF("stages[%zu].start %" PRId64 " / %" PRId64, i, a->start_ns, b->start_ns);
    if (a->end_ns != b->end_ns) return DIFF("stages[%zu].end %" PRId64 " / %" PRId64, i, a->end_ns, b->end_ns);
    if (a->processing_ns != b->processing_ns)
        return DIFF("stages[%zu].processing %" PRId64 " / %" PRId64, i, a->processing_ns, b->processing_ns);
    if (a->has_error != b->has_error) return DIFF("stages[%zu].has_error %d / %d", i, a->has_error, b->has_error);
    if (strcmp(a->error, b->error)) return DIFF("stages[%zu].error \"%.80s\" / \"%.80s\"", i, a->error, b->error);
    return 0;
}

int fuzz__snapshot_diff(const wm_snapshot *a, const wm_snapshot *b, char *diff, size_t n)
{
    if (a->status != b->status) return DIFF("status %d / %d", (int)a->status, (int)b->status);
    if (a->complete != b->complete) return DIFF("complete %d / %d", a->complete, b->complete);
    if (a->start_ns != b->start_ns) return DIFF("start %" PRId64 " / %" PRId64, a->start_ns, b->start_ns);
    if (a->end_ns != b->end_ns) return DIFF("end %" PRId64 " / %" PRId64, a->end_ns, b->end_ns);
    if (a->has_error != b->has_error) return DIFF("has_error %d / %d", a->has_error, b->has_error);
    if (strcmp(a->error, b->error)) return DIFF("error \"%.80s\" / \"%.80s\"", a->error, b->error);
    if (a->nstages != b->nstages) return DIFF("nstages %zu / %zu", a->nstages, b->nstages);
    for (size_t i = 0; i < a->nstages; i++)
        if (stage_diff(i, &a->stages[i], &b->stages[i], diff, n)) return 1;
    return 0;
}

int fuzz__snapshot_compare(const char *body, size_t len, const char *id, unsigned flags, char *diff, size_t n)
{
    static wm_snapshot fast, dom, both; /* 11 KiB each: kept off the stack */
    char why_dom[400], why_both[400], d[300];
    int rf = wm_snapshot__parse_fast(body, len, id, flags, &fast);
    int rd = wm_snapshot__parse_dom(body, len, id, flags, &dom, why_dom, sizeof why_dom);
    int rb = wm_snapshot_parse_flags(body, len, id, flags, &both, why_both, sizeof why_both);
    if (rf != 0 && rf != -1) return BROKEN("fast path returned %d", rf);
    if (rf == 0 && rd != 0) return BROKEN("fast path accepted, jansson refused: %s", why_dom);
    if (rf == 0 && fuzz__snapshot_diff(&fast, &dom, d, sizeof d)) return BROKEN("fast / jansson: %s", d);
    if (rb != rd) return BROKEN("wm_snapshot_parse_flags %d, jansson %d", rb, rd);
    if (strcmp(why_both, why_dom)) return BROKEN("message \"%s\", jansson's \"%s\"", why_both, why_dom);
    if (rb == 0 && fuzz__snapshot_diff(&both, &dom, d, sizeof d)) return BROKEN("parse / jansson: %s", d);
    return rf == 0;
}

int fuzz_run_snapshot_diff(const uint8_t *data, size_t size)
{
    char diff[512];
    for (unsigned flags = 0; flags <= WM_PARSE_PROCESSING_TIME; flags += WM_PARSE_PROCESSING_TIME)
        if (fuzz__snapshot_compare((const char *)data, size, "wf-1", flags, diff, sizeof diff) < 0)
            fuzz__fail("snapshot_diff", "flags %u: %s", flags, diff);
    return 0;
}
