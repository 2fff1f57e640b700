/* faults.h — fault injection for `extrace api`, so tests can see how a
 * watcher copes with a misbehaving API.
 *
 * Only GET (and HEAD) /workflows/{id} is ever faulted. Each such request
 * draws one number from the fault rng: below --fault-rate it is answered
 * 500 with a JSON error, in the next --drop-rate its connection is closed
 * without an answer, in the next --garbage-rate it gets 200 with a body
 * that is not JSON; otherwise it is served normally. A faulted request
 * never reaches the workflow, so it does not advance it. --latency delays
 * every answer of the route, faulted or not (http.c suspends the
 * connection; the loop keeps serving others). Pure: no I/O, the rng is
 * injected, so the decisions are reproducible with a fixed seed. */
#ifndef EXTRACE_SIM_FAULTS_H
#define EXTRACE_SIM_FAULTS_H
#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "sim/routes.h"

/* What happens to one request. */
typedef enum sim_fault_kind {
    SIM_FAULT_NONE = 0, /* served normally */
    SIM_FAULT_ERROR,    /* 500 {"error":"injected fault …"} */
    SIM_FAULT_DROP,     /* connection closed, no answer */
    SIM_FAULT_GARBAGE,  /* 200 with a body that is not JSON */
} sim_fault_kind;

/* Faults injected so far, by kind. */
typedef struct sim_fault_stats {
    uint64_t considered; /* requests of the faultable route */
    uint64_t errors;     /* answered 500 */
    uint64_t drops;      /* closed without an answer */
    uint64_t garbage;    /* answered 200 with garbage */
    uint64_t delayed;    /* answers held back by the latency */
} sim_fault_stats;

/* The configured faults; one thread owns it. */
typedef struct sim_faults {
    double error_rate;     /* chance of a 500, 0..1 */
    double drop_rate;      /* chance of a dropped connection, 0..1 */
    double garbage_rate;   /* chance of a garbage 200, 0..1 */
    uint64_t latency_ms;   /* delay of every answer of the route, ms */
    ex_rng *rng;           /* the draws (owned by the caller; not the workflows' rng) */
    sim_fault_stats stats; /* counters */
} sim_faults;

/* Check that the three rates are each in [0, 1] and sum to at most 1.
 * 0, or -1 with a message naming the values written to why. */
int sim_faults_check(double error_rate, double drop_rate, double garbage_rate, char *why, size_t whylen);
/* Set f up (rates already checked); rng must outlive f. */
void sim_faults_init(sim_faults *f, ex_rng *rng, double error_rate, double drop_rate, double garbage_rate,
                     uint64_t latency_ms);
/* 1 if some fault or a latency is configured. */
int sim_faults_active(const sim_faults *f);
/* 1 if a request of this method and path may be faulted (GET or HEAD of
 * /workflows/{id}, the path already percent-decoded). */
int sim_faults_applies(const char *method, const char *path);
/* Draw the fate of one faultable request and count it. */
sim_fault_kind sim_faults_draw(sim_faults *f);
/* The reply of an ERROR or GARBAGE fault (static body); rep is zeroed first. */
void sim_faults_reply(sim_fault_kind kind, sim_reply *rep);
/* "none", "error", "drop", "garbage". */
const char *sim_fault_name(sim_fault_kind kind);

#endif
