/* run.h — the planned-transition engine behind the simulator's personas.
 *
 * A persona (persona.h) plays an external system (GitHub Actions, Argo
 * Workflows, Airflow). When one of its workflows is first asked for, the
 * persona draws its whole story at once: a tree of nodes (node 0 is the
 * run itself; jobs, steps, DAG nodes, task instances below it), each with
 * a list of phases — a state code of the persona's own and the simulated
 * instant, counted from the run's start, at which the node enters it. The
 * engine then only replays that plan against a clock:
 *
 *   on time  every phase whose planned instant has come is applied at that
 *            instant (its start plus the planned simulated time divided by
 *            the time scale, rounded up to a whole millisecond);
 *   on poll  a poll applies every phase that is due, stamped with the
 *            poll's own instant (the system moves only when asked).
 *
 * A node is visible once its first phase is applied. Pure: no I/O; the
 * clock and the mode come in through sim_env (workflow.h). */
#ifndef EXTRACE_SIM_RUN_H
#define EXTRACE_SIM_RUN_H
#include <stddef.h>
#include <stdint.h>

#include "sim/workflow.h"

#define SIM_RUN_PHASES 10    /* most phases one node plans */
#define SIM_RUN_NODES 256    /* most nodes one run holds */
#define SIM_RUN_QUANTUM_NS EX_NS_PER_MS /* planned instants are whole milliseconds */

/* One planned state change of a node. */
typedef struct sim_phase {
    int64_t plan_ns; /* simulated ns after the run's start */
    int64_t at_ns;   /* clock instant it was applied, or SIM_NO_TIME */
    uint8_t state;   /* the persona's state code */
} sim_phase;

/* One node of a run (node 0: the run). Fields marked "persona's" mean
 * what the persona that planned the run says they mean. */
typedef struct sim_node {
    int16_t parent;    /* index of the parent node, -1 for node 0 */
    uint8_t kind;      /* persona's node kind */
    uint8_t outcome;   /* persona's planned result (e.g. success/failure) */
    uint8_t nphases;   /* phases planned, in time order */
    uint8_t done;      /* phases applied: ph[0 .. done) */
    uint8_t attempt;   /* persona's: attempt, try number */
    uint8_t tmpl;      /* persona's: which template entry (name, operator…) */
    int32_t index;     /* persona's: step number, map index … */
    int64_t id;        /* persona's numeric id (job id …), 0 if none */
    sim_phase ph[SIM_RUN_PHASES];
} sim_node;

/* A planned run. One allocation (sim_run_new); free with ex_free. */
typedef struct sim_run {
    int64_t start_ns;   /* the run's creation, clock ns (whole second) */
    int64_t id;         /* persona's numeric id of the run (GitHub run id), or 0 */
    int64_t changed_ns; /* instant of the latest applied phase */
    uint32_t changes;   /* phases applied so far */
    uint32_t seed;      /* persona's: a number drawn at planning (sha, uid …) */
    uint16_t nnodes;    /* nodes[0 .. nnodes) */
    uint16_t cap;       /* room for this many nodes */
    sim_node nodes[];
} sim_run;

/* A run with room for `cap` (1..SIM_RUN_NODES) nodes, started at start_ns
 * rounded down to a whole second, with no nodes yet; NULL if out of memory. */
sim_run *sim_run_new(size_t cap, int64_t start_ns);

/* Append a node under `parent` (-1 only for the first node). Returns its
 * index, or -1 when the run is full or the parent does not exist. */
int sim_run_add(sim_run *r, int parent, uint8_t kind);

/* Append a phase to node i: enter `state` at plan_ns simulated ns after
 * the run's start (not before its previous phase). 0, or -1 when the node
 * has SIM_RUN_PHASES phases or plan_ns goes backwards. */
int sim_run_plan(sim_run *r, int i, uint8_t state, int64_t plan_ns);

/* The clock instant a phase is planned for under env's time scale:
 * start + plan / scale, rounded up to SIM_RUN_QUANTUM_NS. */
int64_t sim_run_planned(const sim_run *r, const sim_phase *p, const sim_env *env);

/* Apply what is due by env's clock, as env->advance says (above).
 * Returns 1 if node 0 applied its last phase by this call, else 0. */
int sim_run_catch_up(sim_run *r, const sim_env *env);

/* 1 once node 0 has applied its last phase. */
int sim_run_complete(const sim_run *r);

/* The node's current state code, or -1 if it is not visible yet. */
static inline int sim_node_state(const sim_node *n) { return n->done ? n->ph[n->done - 1].state : -1; }
/* 1 if the node is visible (its first phase applied). */
static inline int sim_node_visible(const sim_node *n) { return n->done > 0; }
/* When the node entered its current phase, or SIM_NO_TIME. */
static inline int64_t sim_node_since(const sim_node *n) { return n->done ? n->ph[n->done - 1].at_ns : SIM_NO_TIME; }

/* The instant the node last entered `state` among its applied phases,
 * or SIM_NO_TIME. */
int64_t sim_node_at(const sim_node *n, uint8_t state);
/* The instant the node first entered `state`, or SIM_NO_TIME. */
int64_t sim_node_first_at(const sim_node *n, uint8_t state);
/* How many times the node has entered `state` so far. */
int sim_node_count(const sim_node *n, uint8_t state);

#endif
