#include "sim/faults.h"

#include <stdio.h>
#include <string.h>

#define ITEM_PREFIX "/workflows/"
#define ITEM_PREFIX_LEN (sizeof ITEM_PREFIX - 1)

static const char error_body[] = "{\"error\":\"injected fault (--fault-rate): the server failed this request\"}";
/* Cut mid-member: starts like a workflow, so a client must really parse it. */
static const char garbage_body[] = "{\"workflowId\":\"injected garbage (--garbage-rate)\",\"workflowStatus\":";

static int rate_ok(double r) { return r >= 0 && r <= 1; }

int sim_faults_check(double error_rate, double drop_rate, double garbage_rate, char *why, size_t whylen)
{
    if (!rate_ok(error_rate) || !rate_ok(drop_rate) || !rate_ok(garbage_rate)) {
        snprintf(why, whylen, "--fault-rate=%g, --drop-rate=%g, --garbage-rate=%g: each must be from 0 to 1",
                 error_rate, drop_rate, garbage_rate);
        return -1;
    }
    if (error_rate + drop_rate + garbage_rate > 1 + 1e-9) {
        snprintf(why, whylen, "--fault-rate=%g + --drop-rate=%g + --garbage-rate=%g = %g: the sum must be at most 1",
                 error_rate, drop_rate, garbage_rate, error_rate + drop_rate + garbage_rate);
        return -1;
    }
    return 0;
}

void sim_faults_init(sim_faults *f, ex_rng *rng, double error_rate, double drop_rate, double garbage_rate,
                     uint64_t latency_ms)
{
    memset(f, 0, sizeof *f);
    f->rng = rng;
    f->error_rate = error_rate;
    f->drop_rate = drop_rate;
    f->garbage_rate = garbage_rate;
    f->latency_ms = latency_ms;
}

int sim_faults_active(const sim_faults *f)
{
    return f && (f->error_rate > 0 || f->drop_rate > 0 || f->garbage_rate > 0 || f->latency_ms > 0);
}

int sim_faults_applies(const char *method, const char *path)
{
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) return 0;
    return strncmp(path, ITEM_PREFIX, ITEM_PREFIX_LEN) == 0 && path[ITEM_PREFIX_LEN] &&
           !strchr(path + ITEM_PREFIX_LEN, '/');
}

sim_fault_kind sim_faults_draw(sim_faults *f)
{
    f->stats.considered++;
    if (f->error_rate <= 0 && f->drop_rate <= 0 && f->garbage_rate <= 0) return SIM_FAULT_NONE;
    double u = ex_rng_double(f->rng);
    if (u < f->error_rate) {
        f->stats.errors++;
        return SIM_FAULT_ERROR;
    }
    if (u < f->error_rate + f->drop_rate) {
        f->stats.drops++;
        return SIM_FAULT_DROP;
    }
    if (u < f->error_rate + f->drop_rate + f->garbage_rate) {
        f->stats.garbage++;
        return SIM_FAULT_GARBAGE;
    }
    return SIM_FAULT_NONE;
}

void sim_faults_reply(sim_fault_kind kind, sim_reply *rep)
{
    memset(rep, 0, sizeof *rep);
    if (kind == SIM_FAULT_GARBAGE) {
        rep->status = 200;
        rep->body = garbage_body;
        rep->body_len = sizeof garbage_body - 1;
    } else {
        rep->status = 500;
        rep->body = error_body;
        rep->body_len = sizeof error_body - 1;
    }
}

const char *sim_fault_name(sim_fault_kind kind)
{
    switch (kind) {
    case SIM_FAULT_ERROR: return "error";
    case SIM_FAULT_DROP: return "drop";
    case SIM_FAULT_GARBAGE: return "garbage";
    default: return "none";
    }
}
