/* workflow.h — the seed's external-API state machine, as pure logic.
 *
 * A workflow runs three entities (stages) one after another: DataLoader,
 * Processor, OutputGenerator. It moves only when advanced (the API advances
 * it on every poll but the first). Each entity plans, when it is created,
 * how many whole seconds after its own start it moves to Processing and
 * then to Completed or Failed; an advance moves it at most one status.
 *
 * No I/O but debug logging (component "sim"): the clock, the random source
 * and the failure rate come in through sim_env, so tests drive it with a
 * fake clock and a fixed seed. */
#ifndef EXTRACE_SIM_WORKFLOW_H
#define EXTRACE_SIM_WORKFLOW_H
#include <stdint.h>

#include "core/clock.h"
#include "core/rng.h"
#include "core/uuid.h"

/* Workflow and entity status, in the seed's enum order. */
typedef enum { SIM_INITIALIZING, SIM_PROCESSING, SIM_COMPLETED, SIM_FAILED, SIM_NSTATUS } sim_status;

/* Entity types, in stage order. */
typedef enum { SIM_DATA_LOADER, SIM_PROCESSOR, SIM_OUTPUT_GENERATOR, SIM_NSTAGES } sim_stage;

#define SIM_NO_TIME INT64_MIN /* an end time that has not happened */
#define SIM_NOT_PLANNED (-1)  /* a transition the entity will not make */

/* When a workflow moves (extrace api --advance). */
typedef enum {
    SIM_ADVANCE_ON_POLL, /* the seed's: one step per poll, at the poll's instant */
    SIM_ADVANCE_ON_TIME, /* every transition at its planned instant, polled or not */
} sim_advance;

/* Where time and chance come from; owned by the caller. */
typedef struct sim_env {
    const ex_clock *clock; /* "now" for starts, ends and transitions */
    ex_rng *rng;           /* durations, outcomes, error codes, entity ids */
    double failure_rate;   /* chance in [0, 1] that an entity fails (seed: 0.1) */
    double time_scale;     /* simulated seconds per clock second (0 counts as 1): durations
                              shrink by this factor while timestamps stay clock time */
    sim_advance advance;   /* SIM_ADVANCE_ON_POLL (0, the seed's) or SIM_ADVANCE_ON_TIME */
} sim_env;

/* One stage of a workflow. */
typedef struct sim_entity {
    sim_stage type;                    /* which stage */
    sim_status status;                 /* current status */
    int16_t error_code;                /* 0..99 once Failed, else -1 */
    int32_t after_s[SIM_NSTATUS];      /* planned seconds from start to each status, or SIM_NOT_PLANNED */
    int64_t start_ns;                  /* entityStartTime */
    int64_t end_ns;                    /* entityEndTime, or SIM_NO_TIME */
    int64_t processing_ns;             /* when it became Processing (clock time), or SIM_NO_TIME */
    char id[EX_UUID_LEN + 1];          /* entityId, a random GUID */
} sim_entity;

/* A workflow as the API returns it. The id is stored by the caller. */
typedef struct sim_workflow {
    sim_status status;                 /* workflowStatus */
    uint8_t nentities;                 /* entities[0..nentities) exist, in stage order */
    int64_t start_ns;                  /* workflowStartTime */
    int64_t end_ns;                    /* workflowEndTime, or SIM_NO_TIME */
    sim_entity entities[SIM_NSTAGES];  /* workflowEntities */
} sim_workflow;

/* The seed's names: "Initializing" …, "DataLoader" … */
const char *sim_status_name(sim_status s);
const char *sim_stage_name(sim_stage s);
/* Parse a status name (case-insensitive, as ASP.NET binds enums); 0 or -1. */
int sim_status_parse(const char *s, sim_status *out);

/* Planned duration bounds in seconds, [min, max), for a stage reaching
 * `to` (Processing, Completed or Failed); the seed's table. */
void sim_transition_bounds(sim_stage stage, sim_status to, int *min_s, int *max_s);

/* A new workflow: Initializing, started now, no entities. `id` is used
 * only in log lines. */
void sim_workflow_init(sim_workflow *w, const sim_env *env);

/* Advance once (the seed's WorkflowStateMachine.Advance): no-op when
 * complete; otherwise add the first entity, or advance the last one and
 * react to its end. `id` is used only in log lines. Returns 1 if the
 * workflow became complete by this advance, else 0. */
int sim_workflow_advance(sim_workflow *w, const char *id, const sim_env *env);

/* On time: make every transition whose planned instant has come by now,
 * each at that instant (the first entity starts with the workflow, each
 * next one at its predecessor's end). Returns 1 if the workflow became
 * complete by this call, else 0. */
int sim_workflow_catch_up(sim_workflow *w, const char *id, const sim_env *env);

/* What a poll does under env->advance: sim_workflow_advance (on poll) or
 * sim_workflow_catch_up (on time). Returns 1 if it completed the workflow. */
int sim_workflow_poll(sim_workflow *w, const char *id, const sim_env *env);

/* The planned instant (clock ns) of entity e reaching `to`, or SIM_NO_TIME
 * if it does not plan to: its start plus the planned simulated seconds
 * shrunk by the time scale, rounded up to a whole 100 ns (the precision of
 * the API's timestamps, so that the instant is reported exactly). */
int64_t sim_entity_planned(const sim_entity *e, sim_status to, const sim_env *env);

/* "on-poll" / "on-time"; parse one of them (0) or -1. */
const char *sim_advance_name(sim_advance a);
int sim_advance_parse(const char *s, sim_advance *out);

/* isComplete: the workflow has an end time. */
static inline int sim_workflow_complete(const sim_workflow *w) { return w->end_ns != SIM_NO_TIME; }
static inline int sim_entity_complete(const sim_entity *e) { return e->end_ns != SIM_NO_TIME; }

/* The failed entity of a Failed workflow (its last), else NULL. */
const sim_entity *sim_workflow_failed_entity(const sim_workflow *w);

#endif
