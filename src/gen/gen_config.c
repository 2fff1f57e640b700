#include "gen/gen_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "otel/traceparent.h"
#include "sim/persona.h"

static int check_rate(const char *text, char *why, size_t whylen)
{
    if (strtod(text, NULL) > 0) return 0;
    snprintf(why, whylen, "must be greater than 0 (events per second)");
    return -1;
}

static int check_not_empty(const char *text, char *why, size_t whylen)
{
    if (*text) return 0;
    snprintf(why, whylen, "must not be empty");
    return -1;
}

static const ex_env_alias redis_aliases[] = {{"TracingSample__Redis__ConnectionString", NULL}, {NULL, NULL}};
static const ex_env_alias count_aliases[] = {{"TracingSample__WorkflowGenerator__WorkflowCount", NULL}, {NULL, NULL}};
static const ex_env_alias batch_aliases[] = {{"TracingSample__WorkflowGenerator__BatchSize", NULL}, {NULL, NULL}};
static const ex_env_alias wait_aliases[] = {{"TracingSample__WorkflowGenerator__BatchWaitMinutes", "m"},
                                            {NULL, NULL}};

static int check_source(const char *text, char *why, size_t whylen) { return sim_persona_check(text, why, whylen); }

/* "random" or a valid W3C traceparent. */
static int check_traceparent(const char *text, char *why, size_t whylen)
{
    exo_traceparent tp;
    if (strcmp(text, "random") == 0) return 0;
    return exo_traceparent_parse(text, strlen(text), &tp, why, whylen);
}

static const ex_opt gen_opts[] = {
    {"redis", EX_OPT_STRING, offsetof(gen_cfg, redis), "localhost:6379", EX_NO_BOUNDS, "URL",
     "Redis address: redis://[USER:PASSWORD@]HOST[:PORT][/DB], or the seed's HOST:PORT[,password=…,…].",
     redis_aliases, ex_redis_url_check, NULL},
    {"count", EX_OPT_INT, offsetof(gen_cfg, count), "10", 1, 1e9, "N", "Number of workflows (events) to send.",
     count_aliases, NULL, NULL},
    {"batch-size", EX_OPT_INT, offsetof(gen_cfg, batch_size), "5", 1, 1e9, "N", "Events per batch.",
     batch_aliases, NULL, NULL},
    {"batch-wait", EX_OPT_DURATION, offsetof(gen_cfg, batch_wait), "4m", 0, 86400.0 * EX_NS_PER_SEC, "DURATION",
     "Between two batches wait a random time in [DURATION/2, DURATION).", wait_aliases, NULL, NULL},
    {"event-wait", EX_OPT_STRING, offsetof(gen_cfg, event_wait), "1s-19s", EX_NO_BOUNDS, "RANGE",
     "Between two events of a batch wait a random time in [LO, HI] (LO-HI), or a fixed DURATION; 0s: none.",
     NULL, gen_range_check, NULL},
    {"rate", EX_OPT_DOUBLE, offsetof(gen_cfg, rate), NULL, 0, 1e7, "N",
     "Send N events per second, evenly paced, instead of the waits (load tests).", NULL, check_rate, NULL},
    {"stream", EX_OPT_STRING, offsetof(gen_cfg, stream), NULL, EX_NO_BOUNDS, "NAME",
     "XADD each event to this stream (field \"data\") instead of PUBLISH on event.workflow.started.", NULL,
     check_not_empty, NULL},
    {"ids-out", EX_OPT_STRING, offsetof(gen_cfg, ids_out), NULL, EX_NO_BOUNDS, "FILE",
     "Write each workflow id to FILE, one per line, as it is sent.", NULL, check_not_empty, NULL},
    {"seed", EX_OPT_STRING, offsetof(gen_cfg, seed), NULL, EX_NO_BOUNDS, "N",
     "Seed the random waits and ids, for reproducible runs (default: random).", NULL, ex_check_seed, NULL},
    {"source", EX_OPT_STRING, offsetof(gen_cfg, source), "seed", EX_NO_BOUNDS, "NAME",
     "Whose workflows to announce: seed (the seed's events), or github-actions, argo-workflows, airflow (the "
     "simulator's personas): each event then also carries \"Source\" and \"Key\", a new key of that source "
     "(owner/repo/run_id, namespace/name, dag_id/dag_run_id), and --ids-out gets the keys.",
     NULL, check_source, NULL},
    {"traceparent", EX_OPT_STRING, offsetof(gen_cfg, traceparent), NULL, EX_NO_BOUNDS, "VALUE",
     "Put this W3C traceparent (00-<32 hex trace id>-<16 hex span id>-<2 hex flags>) into every event as "
     "\"Traceparent\", the span that submitted the workflow; \"random\": a new one per event. A worker links "
     "each workflow's root span to it (or makes the root its child: --parent-from-traceparent).",
     NULL, check_traceparent, NULL},
};

static const ex_cmd_spec gen_cmd_spec = {
    "generate",
    "Publish WorkflowStarted events to Redis, as the seed's generator does",
    "Sends COUNT WorkflowStarted events in batches, with the seed's random waits between\n"
    "events and between batches (or at a fixed --rate), by PUBLISH on the channel\n"
    "event.workflow.started or XADD to a stream. Ctrl-C stops after the current event.\n"
    "Exit status: 0 done, 1 Redis or file error, 2 bad options, 130 SIGINT, 143 SIGTERM.",
    NULL,
    0,
    0,
    gen_opts,
    sizeof gen_opts / sizeof gen_opts[0],
};

const ex_cmd_spec *gen_spec(void) { return &gen_cmd_spec; }

int gen_config_load(gen_cfg *cfg, gen_settings *out, int argc, char **argv, char *const *envp,
                    FILE *help_out, char *err, size_t errlen)
{
    ex_cfg_result res;
    char why[256];
    int rc = ex_cfg_parse(&gen_cmd_spec, cfg, argc, argv, envp, help_out, &res);
    ex_cfg_result_free(&res);
    if (rc == EX_CFG_ERROR) snprintf(err, errlen, "%s", res.error);
    if (rc != EX_CFG_OK) return rc;
    memset(out, 0, sizeof *out);
    /* The check functions accepted these texts already; parsing again only
     * converts them (a failure here would be a bug, still reported). */
    if (ex_redis_url_parse(cfg->redis, &out->redis, why, sizeof why) ||
        gen_range_parse(cfg->event_wait, &out->plan.event_wait, why, sizeof why)) {
        snprintf(err, errlen, "%s", why);
        return EX_CFG_ERROR;
    }
    out->plan.count = cfg->count;
    out->plan.batch_size = cfg->batch_size;
    out->plan.batch_wait = cfg->batch_wait;
    out->plan.rate = cfg->rate;
    out->stream = cfg->stream;
    out->ids_out = cfg->ids_out;
    out->has_seed = cfg->seed && ex_seed_parse(cfg->seed, &out->seed) == 0;
    out->persona = sim_persona_find(cfg->source);
    out->random_traceparent = cfg->traceparent && strcmp(cfg->traceparent, "random") == 0;
    out->traceparent = out->random_traceparent ? NULL : cfg->traceparent;
    return EX_CFG_OK;
}

void gen_config_free(gen_cfg *cfg) { ex_cfg_free(&gen_cmd_spec, cfg); }
