#include "sim/workflow.h"

#include <string.h>
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
    e->processing_ns = SIM_NO_TIME;
    ex_uuid4(env->rng, e->id);
    plan(e, SIM_PROCESSING, env->rng);
    /* The seed draws Random.Next(100) < 90; a double draw against 1 - F
     * gives the same 90% at the default F = 0.1 and honours any other F. */
    plan(e, ex_rng_double(env->rng) < 1.0 - env->failure_rate ? SIM_COMPLETED : SIM_FAILED, env->rng);
}

static void move(sim_entity *e, sim_status to, int64_t at, const sim_env *env);

/* The status after e's current one in its plan (Failed when it skips
 * Completed), or SIM_NSTATUS when none is left. */
static int next_status(const sim_entity *e)
{
    if (sim_entity_complete(e)) return SIM_NSTATUS;
    int next = (int)e->status + 1;
    if (next < SIM_NSTATUS && e->after_s[next] == SIM_NOT_PLANNED) next++;
    return next;
}

/* The seed's WorkflowEntityStateMachine.Advance: at most one step. */
static void entity_advance(sim_entity *e, int64_t now, const sim_env *env)
{
    int next = next_status(e);
    if (next >= SIM_NSTATUS) return; /* complete (every entity plans an end) */
    /* Planned durations are simulated seconds; at time scale X a clock
     * second is X simulated ones, so a 21-minute workflow takes 21/X minutes
     * while every timestamp stays on the clock (no times in the future). */
    double scale = env->time_scale > 0 ? env->time_scale : 1.0;
    if ((double)(now - e->start_ns) * scale < (double)e->after_s[next] * EX_NS_PER_SEC) return;
    move(e, (sim_status)next, now, env);
}

/* Entity e moves to `to` at `at`: its end when that is terminal, with an
 * error code drawn when it failed. */
static void move(sim_entity *e, sim_status to, int64_t at, const sim_env *env)
{
    e->status = to;
    ex_debug("sim", "%s: %s transitioned to status: %s", stage_names[e->type], e->id, status_names[to]);
    if (to == SIM_PROCESSING) e->processing_ns = at;
    if (e->status <= SIM_PROCESSING) return;
    e->end_ns = at;
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

int64_t sim_entity_planned(const sim_entity *e, sim_status to, const sim_env *env)
{
    if (to >= SIM_NSTATUS || e->after_s[to] == SIM_NOT_PLANNED) return SIM_NO_TIME;
    double scale = env->time_scale > 0 ? env->time_scale : 1.0;
    double ns = (double)e->after_s[to] * (double)EX_NS_PER_SEC / scale;
    int64_t d = (int64_t)ns;
    if ((double)d < ns) d++;
    int64_t at = e->start_ns + d;
    return at % 100 ? at + (100 - at % 100) : at; /* clock times are positive: round up */
}

/* The workflow ends at `at` with the status of its last entity. */
static int end_workflow(sim_workflow *w, const char *id, sim_status status, int64_t at)
{
    w->end_ns = at;
    w->status = status;
    ex_debug("sim", "Workflow: %s %s", id, status == SIM_FAILED ? "failed" : "completed");
    return 1;
}

int sim_workflow_catch_up(sim_workflow *w, const char *id, const sim_env *env)
{
    if (sim_workflow_complete(w)) return 0;
    int64_t now = ex_clock_now(env->clock);
    if (w->nentities == 0) {
        add_entity(w, id, SIM_DATA_LOADER, w->start_ns, env);
        w->status = SIM_PROCESSING;
    }
    for (;;) {
        sim_entity *cur = &w->entities[w->nentities - 1];
        int next = next_status(cur);
        if (next >= SIM_NSTATUS) return 0; /* unreachable: an ended entity ends or continues the workflow */
        int64_t at = sim_entity_planned(cur, (sim_status)next, env);
        if (at > now) return 0;
        move(cur, (sim_status)next, at, env);
        if (!sim_entity_complete(cur)) continue;
        if (cur->status == SIM_FAILED) return end_workflow(w, id, SIM_FAILED, at);
        if (cur->type + 1 >= SIM_NSTAGES) return end_workflow(w, id, SIM_COMPLETED, at);
        add_entity(w, id, (sim_stage)(cur->type + 1), at, env);
    }
}

int sim_workflow_poll(sim_workflow *w, const char *id, const sim_env *env)
{
    return env->advance == SIM_ADVANCE_ON_TIME ? sim_workflow_catch_up(w, id, env) : sim_workflow_advance(w, id, env);
}

const char *sim_advance_name(sim_advance a) { return a == SIM_ADVANCE_ON_TIME ? "on-time" : "on-poll"; }

int sim_advance_parse(const char *s, sim_advance *out)
{
    if (strcmp(s, "on-poll") == 0) *out = SIM_ADVANCE_ON_POLL;
    else if (strcmp(s, "on-time") == 0) *out = SIM_ADVANCE_ON_TIME;
    else return -1;
    return 0;
}
