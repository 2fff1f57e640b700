/* gen_config.h — the options of `extrace generate`.
 *
 * One declarative table (core/config.h): flags, EXTRACE_* variables, the
 * seed's TracingSample__* variables, defaults and bounds. gen_config_load
 * parses it and resolves the text values (Redis address, wait range, seed)
 * into gen_settings, so every malformed value is rejected before anything
 * is sent. */
#ifndef EXTRACE_GEN_CONFIG_H
#define EXTRACE_GEN_CONFIG_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/config.h"
#include "core/redis_url.h"
#include "gen/schedule.h"

/* Raw option values; strings owned by the struct (gen_config_free). */
typedef struct gen_cfg {
    char *redis;        /* Redis address, URL or StackExchange.Redis form */
    int64_t count;      /* events in all */
    int64_t batch_size; /* events per batch */
    int64_t batch_wait; /* ns; between batches a random wait in [w/2, w) */
    char *event_wait;   /* range text, "1s-19s" */
    double rate;        /* events per second; 0 = use the waits */
    char *stream;       /* XADD to this stream instead of PUBLISH; NULL = publish */
    char *ids_out;      /* file for the workflow ids; NULL = none */
    char *seed;         /* decimal seed for the rng; NULL = random */
    char *source;       /* "seed" or a simulator persona's name (sim/persona.h) */
    char *traceparent;  /* a W3C traceparent, "random", or NULL */
} gen_cfg;

/* Resolved settings; the strings point into the gen_cfg they came from. */
typedef struct gen_settings {
    ex_redis_addr redis; /* where to send */
    gen_plan plan;       /* how many, and when */
    const char *stream;  /* NULL: PUBLISH on the event channel */
    const char *ids_out; /* NULL: no ids file */
    int has_seed;        /* 1 if --seed was given */
    uint64_t seed;       /* the seed, when has_seed */
    const struct sim_persona *persona; /* whose workflows are announced (Source/Key), or NULL: the seed's */
    const char *traceparent;  /* every event's "Traceparent", NULL: none */
    int random_traceparent;   /* 1: a new one per event (a submitter span each) */
} gen_settings;

/* The command's spec (option table, help texts). */
const ex_cmd_spec *gen_spec(void);

/* Parse argv/envp into *cfg (zeroed by the caller) and resolve it into
 * *out. Returns EX_CFG_OK, EX_CFG_HELP (help printed to help_out) or
 * EX_CFG_ERROR with a message naming the value and its source in err.
 * Free cfg with gen_config_free in every case. */
int gen_config_load(gen_cfg *cfg, gen_settings *out, int argc, char **argv, char *const *envp,
                    FILE *help_out, char *err, size_t errlen);
void gen_config_free(gen_cfg *cfg);

#endif
