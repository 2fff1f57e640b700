#include "sim/run.h"

#include <string.h>

#include "core/mem.h"

sim_run *sim_run_new(size_t cap, int64_t start_ns)
{
    if (cap == 0 || cap > SIM_RUN_NODES) return NULL;
    sim_run *r = ex_calloc(1, sizeof *r + cap * sizeof(sim_node));
    if (!r) return NULL;
    r->start_ns = start_ns - start_ns % EX_NS_PER_SEC;
    r->changed_ns = r->start_ns;
    r->cap = (uint16_t)cap;
    return r;
}

int sim_run_add(sim_run *r, int parent, uint8_t kind)
{
    if (r->nnodes >= r->cap) return -1;
    if (r->nnodes == 0 ? parent != -1 : (parent < 0 || parent >= r->nnodes)) return -1;
    sim_node *n = &r->nodes[r->nnodes];
    memset(n, 0, sizeof *n);
    n->parent = (int16_t)parent;
    n->kind = kind;
    n->index = -1;
    return r->nnodes++;
}

int sim_run_plan(sim_run *r, int i, uint8_t state, int64_t plan_ns)
{
    if (i < 0 || i >= r->nnodes) return -1;
    sim_node *n = &r->nodes[i];
    if (n->nphases >= SIM_RUN_PHASES || plan_ns < 0) return -1;
    if (n->nphases && plan_ns < n->ph[n->nphases - 1].plan_ns) return -1;
    n->ph[n->nphases++] = (sim_phase){.plan_ns = plan_ns, .at_ns = SIM_NO_TIME, .state = state};
    return 0;
}

int64_t sim_run_planned(const sim_run *r, const sim_phase *p, const sim_env *env)
{
    double scale = env->time_scale > 0 ? env->time_scale : 1.0;
    double ns = (double)p->plan_ns / scale;
    int64_t d = (int64_t)ns;
    if ((double)d < ns) d++;
    int64_t at = r->start_ns + d;
    int64_t q = SIM_RUN_QUANTUM_NS;
    return at % q ? at + (q - at % q) : at; /* clock times are positive: round up */
}

int sim_run_complete(const sim_run *r) { return r->nnodes > 0 && r->nodes[0].done == r->nodes[0].nphases; }

int sim_run_catch_up(sim_run *r, const sim_env *env)
{
    if (r->nnodes == 0 || sim_run_complete(r)) return 0;
    int64_t now = ex_clock_now(env->clock);
    int64_t stamp = now - now % SIM_RUN_QUANTUM_NS; /* on poll: the poll's instant */
    for (int i = 0; i < r->nnodes; i++) {
        sim_node *n = &r->nodes[i];
        while (n->done < n->nphases) {
            sim_phase *p = &n->ph[n->done];
            int64_t due = sim_run_planned(r, p, env);
            if (due > now) break;
            p->at_ns = env->advance == SIM_ADVANCE_ON_TIME ? due : stamp;
            if (p->at_ns > r->changed_ns) r->changed_ns = p->at_ns;
            n->done++;
            r->changes++;
        }
    }
    return sim_run_complete(r);
}

int64_t sim_node_at(const sim_node *n, uint8_t state)
{
    for (int k = n->done - 1; k >= 0; k--)
        if (n->ph[k].state == state) return n->ph[k].at_ns;
    return SIM_NO_TIME;
}

int64_t sim_node_first_at(const sim_node *n, uint8_t state)
{
    for (int k = 0; k < n->done; k++)
        if (n->ph[k].state == state) return n->ph[k].at_ns;
    return SIM_NO_TIME;
}

int sim_node_count(const sim_node *n, uint8_t state)
{
    int c = 0;
    for (int k = 0; k < n->done; k++) c += n->ph[k].state == state;
    return c;
}
