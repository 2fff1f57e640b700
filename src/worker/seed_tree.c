/* seed_tree.c — wm_snapshot -> canonical tree (the seed's native path). */
#include "worker/seed_tree.h"

#include <string.h>

static const uint8_t status_map[WM_NSTATUS] = {MDL_PENDING, MDL_RUNNING, MDL_OK, MDL_ERROR};

/* The fields a workflow and an entity share. `processing_ns` is the
 * source's time for Processing (or MDL_NO_TIME). */
static void fill(mdl_snode *n, wm_status st, int complete, int64_t start, int64_t end, int64_t processing_ns,
                 int has_error, const char *error)
{
    n->status = status_map[st];
    n->state = wm_status_name(st);
    n->initial_state = wm_status_name(WM_INITIALIZING);
    n->initial_ns = start;
    n->since_ns = st == WM_INITIALIZING ? start : st == WM_PROCESSING ? processing_ns : end;
    n->start_ns = start;
    n->end_ns = complete ? end : MDL_NO_TIME;
    if (has_error && error[0]) {
        n->error = error;
        n->error_len = strlen(error);
    }
}

int wm_snapshot_to_tree(const wm_snapshot *s, mdl_snapshot *out)
{
    mdl_snapshot_clear(out);
    for (size_t i = 0; i < s->nstages; i++) {
        const wm_snap_stage *ss = &s->stages[i];
        mdl_snode *n = mdl_snapshot_add(out);
        if (!n) return -1;
        n->key = ss->type;
        n->id = ss->id;
        fill(n, ss->status, ss->complete, ss->start_ns, ss->end_ns, ss->processing_ns, ss->has_error, ss->error);
        n->sattrs[0] = (mdl_sattr){"type", ss->type};
        n->sattrs[1] = (mdl_sattr){"id", ss->id};
        n->nsattrs = 2;
    }
    /* The contract: a workflow becomes Processing exactly when its first stage is added. */
    int64_t first_stage = s->nstages ? s->stages[0].start_ns : MDL_NO_TIME;
    fill(&out->root, s->status, s->complete, s->start_ns, s->end_ns, first_stage, s->has_error, s->error);
    return 0;
}
