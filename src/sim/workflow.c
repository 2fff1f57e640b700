#include "sim/workflow.h"

#include <strings.h>

#include "core/log.h"

static const char *const status_names[SIM_NSTATUS] = {"Initializing", "Processing", "Completed", "Failed"};
static const char *const stage_names[SIM_NSTAGES] = {"DataLoader", "Processor", "OutputGenerator"};

/* The seed's duration table: [stage][to - Processing] = {min, max} seconds,
 * for to = Processing, Completed, Failed. */
static const int bounds[SIM_NSTAGES][3][2] = {
    [SIM_DATA_LOADER] = {{10, 20}, {90, 240}, {25, 60}},
    [SIM_PROCESSOR] = {{20, 30}, {300, 900}, {30, 180}},
    [SIM_OUTPUT_GENERATOR] = {{5, 10}, {60, 120}, {20, 60}},
};

const char *sim_status_name(sim_status s) { return s < SIM_NSTATUS ? status_names[s] : "?"; }

const char *sim_stage_name(sim_stage s) { return s < SIM_NSTAGES ? stage_names[s] : "?"; }

int sim_status_parse(const char *s, sim_status *out)
{
    for (int i = 0; i < SIM_NSTATUS; i++) {
        if (strcasecmp(s, status_names[i]) == 0) {
            *out = (sim_status)i;
            return 0;
        }
    }
    return -1;
}

void sim_transition_bounds(sim_stage stage, sim_status to, int *min_s, int *max_s)
{
    *min_s = *max_s = 0;
    if (stage >= SIM_NSTAGES || to < SIM_PROCESSING || to >= SIM_NSTATUS) return;
    *min_s = bounds[stage][to - SIM_PROCESSING][0];
    *max_s = bounds[stage][to - SIM_PROCESSING][1];
}

/* Plan the entity's move to `to`: a whole number of seconds after its start. */
static void plan(sim_entity *e, sim_status to, ex_rng *rng)
{
    int lo, hi;
    sim_transition_bounds(e->type, to, &lo, &hi);
    e->after_s[to] = (int32_t)ex_rng_range(rng, lo, hi);
    ex_debug("sim", "%s: %s will transition to status: %s; after: %ds", stage_names[e->type], e->id,
             status_names[to], (int)e->after_s[to]);
}

/* The seed's WorkflowEntity constructor + Initialise. */
static void entity_init(sim_entity *e, sim_stage type, int64_t now, const sim_env *env)
{
    e->type = type;
    e->status = SIM_INITIALIZING;
    e->error_code = -1;
    for (int i = 0; i < SIM_NSTATUS; i++) e->after_s[i] = SIM_NOT_PLANNED;
    e->start_ns = now;
    e->end_ns = SIM_NO_TIME;
    ex_uuid4(env->rng, e->id);
    plan(e, SIM_PROCESSING, env->rng);
    /* The seed draws Random.Next(100) < 90; a double draw against 1 - F
     * gives the same 90% at the default F = 0.1 and honours any other F. */
    plan(e, ex_rng_double(env->rng) < 1.0 - env->failure_rate ? SIM_COMPLETED : SIM_FAILED, env->rng);
}

/* The seed's WorkflowEntityStateMachine.Advance: at most one step. */
static void entity_advance(sim_entity *e, int64_t now, const sim_env *env)
{
    if (sim_entity_complete(e)) return;
    int next = (int)e->status + 1;
    if (next < SIM_NSTATUS && e->after_s[next] == SIM_NOT_PLANNED) next++;
    if (next >= SIM_NSTATUS) return; /* unreachable: every entity plans an end */
    /* Planned durations are simulated seconds; at time scale X a clock
     * second is X simulated ones, so a 21-minute workflow takes 21/X minutes
     * while every timestamp stays on the clock (no times in the future). */
    double scale = env->time_scale > 0 ? env->time_scale : 1.0;
    if ((double)(now - e->start_ns) * scale < (double)e->after_s[next] * EX_NS_PER_SEC) return;
    e->status = (sim_status)next;
    ex_debug("sim", "%s: %s transitioned to status: %s", stage_names[e->type], e->id, status_names[next]);
    if (e->status <= SIM_PROCESSING) return;
    e->end_ns = now;
    ex_debug("sim", "%s: %s finished processing", stage_names[e->type], e->id);
    if (e->status == SIM_FAILED) {
        e->error_code = (int16_t)ex_rng_range(env->rng, 0, 100);
        ex_debug("sim", "%s: %s errored", stage_names[e->type], e->id);
    }
}

static void add_entity(sim_workflow *w, const char *id, sim_stage type, int64_t now, const sim_env *env)
{
    entity_init(&w->entities[w->nentities++], type, now, env);
    ex_debug("sim", "Workflow: %s added new entity: %s", id, stage_names[type]);
}

void sim_workflow_init(sim_workflow *w, const sim_env *env)
{
    w->status = SIM_INITIALIZING;
    w->nentities = 0;
    w->start_ns = ex_clock_now(env->clock);
    w->end_ns = SIM_NO_TIME;
}

int sim_workflow_advance(sim_workflow *w, const char *id, const sim_env *env)
{
    if (sim_workflow_complete(w)) return 0;
    int64_t now = ex_clock_now(env->clock);
    if (w->nentities == 0) {
        add_entity(w, id, SIM_DATA_LOADER, now, env);
        w->status = SIM_PROCESSING;
        return 0;
    }
    sim_entity *cur = &w->entities[w->nentities - 1];
    entity_advance(cur, now, env);
    if (!sim_entity_complete(cur)) return 0;
    if (cur->status == SIM_FAILED) {
        w->end_ns = now;
        w->status = SIM_FAILED;
        ex_debug("sim", "Workflow: %s failed", id);
        return 1;
    }
    if (cur->type + 1 < SIM_NSTAGES) {
        add_entity(w, id, (sim_stage)(cur->type + 1), now, env);
        return 0;
    }
    w->end_ns = now;
    w->status = SIM_COMPLETED;
    ex_debug("sim", "Workflow: %s completed", id);
    return 1;
}

const sim_entity *sim_workflow_failed_entity(const sim_workflow *w)
{
    if (w->status != SIM_FAILED || w->nentities == 0) return NULL;
    return &w->entities[w->nentities - 1];
}
