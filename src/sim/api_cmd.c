/* api_cmd.c — `extrace api`: the seed's external workflow API, simulated.
 * Reads the option table, seeds the random source, picks the clock, then
 * serves HTTP until SIGINT or SIGTERM. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "commands.h"
#include "core/config.h"
#include "core/log.h"
#include "net/conn_opts.h"
#include "sim/faults.h"
#include "sim/hooks.h"
#include "sim/http.h"
#include "sim/persona.h"
#include "sim/routes.h"

typedef struct api_cfg {
    char *listen;          /* HOST:PORT to serve on */
    double time_scale;     /* simulated seconds per real second */
    char *seed;            /* random seed as text, or NULL: from the OS */
    double failure_rate;   /* chance that an entity fails */
    int64_t max_workflows; /* store bound */
    int64_t max_evicted;   /* evicted ids remembered */
    double fault_rate;     /* chance of an injected 500 on GET /workflows/{id} */
    double drop_rate;      /* chance of a connection closed unanswered */
    double garbage_rate;   /* chance of a 200 whose body is not JSON */
    int64_t latency;       /* ns every answer of GET /workflows/{id} is held back */
    ex_conn_opts conns;    /* limits of the listener */
    char *advance;         /* "on-poll" or "on-time" */
    int expose_plan;       /* serve GET /debug/plan/{id} */
    char *source;          /* "seed" or a persona's name (persona.h) */
    int64_t rate_limit;    /* github-actions: requests per window, 0 none */
    int64_t rate_window;   /* ns */
    int64_t rate_status;   /* 403 or 429 */
    char *webhook_url;     /* POST deliveries here (hooks.h), or NULL */
    char *webhook_secret;  /* their shared secret */
    int64_t webhook_runs;  /* runs started of its own */
    int64_t webhook_every; /* ns between those starts */
    double webhook_duplicates, webhook_reorder, webhook_bad_signatures;
} api_cfg;

static int check_source(const char *text, char *why, size_t whylen) { return sim_persona_check(text, why, whylen); }

static int check_rate_status(const char *text, char *why, size_t whylen)
{
    if (strcmp(text, "403") == 0 || strcmp(text, "429") == 0) return 0;
    snprintf(why, whylen, "must be 403 or 429");
    return -1;
}

static int check_url(const char *text, char *why, size_t whylen)
{
    if (strncmp(text, "http://", 7) == 0 || strncmp(text, "https://", 8) == 0) return 0;
    snprintf(why, whylen, "must be an http:// or https:// URL");
    return -1;
}

static int check_advance(const char *text, char *why, size_t whylen)
{
    sim_advance a;
    if (sim_advance_parse(text, &a) == 0) return 0;
    snprintf(why, whylen, "must be on-poll or on-time");
    return -1;
}

static const ex_opt opts[] = {
    {"listen", EX_OPT_STRING, offsetof(api_cfg, listen), "127.0.0.1:5146", EX_NO_BOUNDS, "HOST:PORT",
     "Address to serve HTTP on (the seed's API port is 5146; port 0 picks a free one).", NULL, ex_check_hostport,
     NULL},
    EX_CONN_OPTS(api_cfg, conns, "", "the listener", "503", "4096", "1024", "10s", "60s", "60s"),
    {"time-scale", EX_OPT_DOUBLE, offsetof(api_cfg, time_scale), "1", 0.000001, 1000000, "X",
     "Simulated seconds per real second: 600 runs a 21-minute workflow in about 2 s. Durations shrink; "
     "timestamps in replies stay real time.",
     NULL, NULL, NULL},
    {"advance", EX_OPT_STRING, offsetof(api_cfg, advance), "on-poll", EX_NO_BOUNDS, "MODE",
     "When workflows move (MODE on-poll or on-time). on-poll (the seed's): one step per poll, at the poll's "
     "instant, so a stage's end lags its plan by up to about two poll intervals. on-time: every transition at "
     "its planned instant whether polled or not, reported with those instants, and each stage past "
     "Initializing also carries entityProcessingStartTime (read by extrace worker --processing-times).",
     NULL, check_advance, NULL},
    {"source", EX_OPT_STRING, offsetof(api_cfg, source), "seed", EX_NO_BOUNDS, "NAME",
     "Which system's API to serve: seed (the seed's GET /workflows/{id}), github-actions (workflow runs, jobs "
     "and steps), argo-workflows (workflows and their node graph) or airflow (Airflow 2 DAG runs and task "
     "instances), with that system's endpoints, fields, status words, headers and paging (docs/sim.md#personas).",
     NULL, check_source, NULL},
    {"rate-limit", EX_OPT_INT, offsetof(api_cfg, rate_limit), "5000", 0, 1000000000, "N",
     "github-actions: requests allowed per --rate-window, announced in X-RateLimit-* headers; past it requests "
     "get --rate-limit-status with GitHub's error body until the window resets. 304 answers are not counted. "
     "0: no limit and no headers.",
     NULL, NULL, NULL},
    {"rate-window", EX_OPT_DURATION, offsetof(api_cfg, rate_window), "1h", 1e6, 86400e9, "DURATION",
     "github-actions: length of a rate-limit window (real time, not scaled by --time-scale).", NULL, NULL, NULL},
    {"rate-limit-status", EX_OPT_INT, offsetof(api_cfg, rate_status), "403", 403, 429, "CODE",
     "github-actions: the status of a request refused by the rate limit, 403 or 429 (GitHub answers either).",
     NULL, check_rate_status, NULL},
    {"expose-plan", EX_OPT_BOOL, offsetof(api_cfg, expose_plan), "false", EX_NO_BOUNDS, NULL,
     "Also serve GET /debug/plan/{id}: each entity's planned and actual transition instants in unix ns (for "
     "tests that check the worker's observation windows against the truth). Never advances a workflow.",
     NULL, NULL, NULL},
    {"seed", EX_OPT_STRING, offsetof(api_cfg, seed), NULL, EX_NO_BOUNDS, "N",
     "Random seed, for reproducible durations, outcomes and ids (default: from the OS; the seed used is logged).",
     NULL, ex_check_seed, NULL},
    {"failure-rate", EX_OPT_DOUBLE, offsetof(api_cfg, failure_rate), "0.1", 0, 1, "F",
     "Chance that an entity fails instead of completing (the seed's is 0.1).", NULL, NULL, NULL},
    {"max-workflows", EX_OPT_INT, offsetof(api_cfg, max_workflows), "100000", 1, 100000000, "N",
     "Most workflows kept. Past it, the workflow that completed longest ago is evicted; a poll for an evicted id "
     "gets 404 \"workflow <id> was evicted\". If none has completed, a new workflow gets 503.",
     NULL, NULL, NULL},
    {"max-evicted", EX_OPT_INT, offsetof(api_cfg, max_evicted), "100000", 0, 100000000, "N",
     "How many of the latest evicted ids are remembered for that 404. An id evicted longer ago is forgotten "
     "and, like any unknown id, created anew on its next poll.",
     NULL, NULL, NULL},
    /* Fault injection, for tests of clients: GET /workflows/{id} only. */
    {"fault-rate", EX_OPT_DOUBLE, offsetof(api_cfg, fault_rate), "0", 0, 1, "F",
     "Chance that a GET /workflows/{id} is answered 500 with a JSON error instead (for tests). A faulted request "
     "does not advance its workflow. The three rates together must not exceed 1.",
     NULL, NULL, NULL},
    {"drop-rate", EX_OPT_DOUBLE, offsetof(api_cfg, drop_rate), "0", 0, 1, "F",
     "Chance that a GET /workflows/{id} has its connection closed without an answer (for tests).", NULL, NULL,
     NULL},
    {"garbage-rate", EX_OPT_DOUBLE, offsetof(api_cfg, garbage_rate), "0", 0, 1, "F",
     "Chance that a GET /workflows/{id} is answered 200 with a body that is not valid JSON (for tests).", NULL,
     NULL, NULL},
    {"latency", EX_OPT_DURATION, offsetof(api_cfg, latency), "0s", 0, 60e9, "DURATION",
     "Delay every answer of GET /workflows/{id} by this much, faulted or not (for tests); other requests are "
     "served meanwhile.",
     NULL, NULL, NULL},
    /* Webhooks the played system sends (github-actions) */
    {"webhook-url", EX_OPT_STRING, offsetof(api_cfg, webhook_url), NULL, EX_NO_BOUNDS, "URL",
     "POST the system's webhook deliveries here as its runs change state (github-actions: workflow_run and "
     "workflow_job, with X-GitHub-Event, X-GitHub-Delivery and X-Hub-Signature-256), e.g. a worker's "
     "http://HOST:PORT/hooks/github-actions. Needs --webhook-secret and --advance on-time.",
     NULL, check_url, NULL},
    {"webhook-secret", EX_OPT_STRING, offsetof(api_cfg, webhook_secret), NULL, EX_NO_BOUNDS, "SECRET",
     "The webhooks' shared secret (HMAC-SHA256 key).", NULL, NULL, NULL},
    {"webhook-runs", EX_OPT_INT, offsetof(api_cfg, webhook_runs), "0", 0, 1000000, "N",
     "Start N runs of its own (one every --webhook-every), announced by webhooks alone.", NULL, NULL, NULL},
    {"webhook-every", EX_OPT_DURATION, offsetof(api_cfg, webhook_every), "200ms", 1e6, 3600e9, "DURATION",
     "Time between the starts of --webhook-runs.", NULL, NULL, NULL},
    {"webhook-duplicates", EX_OPT_DOUBLE, offsetof(api_cfg, webhook_duplicates), "0", 0, 1, "F",
     "Chance that a delivery is sent twice with the same delivery id (for tests).", NULL, NULL, NULL},
    {"webhook-reorder", EX_OPT_DOUBLE, offsetof(api_cfg, webhook_reorder), "0", 0, 1, "F",
     "Chance that a delivery is held back and sent after the next one (for tests).", NULL, NULL, NULL},
    {"webhook-bad-signatures", EX_OPT_DOUBLE, offsetof(api_cfg, webhook_bad_signatures), "0", 0, 1, "F",
     "Chance that a forged copy of a delivery, signed with another secret, is sent before it (for tests).", NULL,
     NULL, NULL},
};

static const ex_cmd_spec spec = {
    "api",
    "Simulate the seed's external workflow API over HTTP",
    "Serves GET /workflows/{id} as the seed's ASP.NET API does: an unknown id is created on its first poll,\n"
    "and every later poll advances it (DataLoader, Processor, OutputGenerator; each entity completes or,\n"
    "at --failure-rate, fails). Also POST /workflows, GET /workflows?status=S&limit=N, GET /healthz and\n"
    "GET /openapi.json. Memory is bounded by --max-workflows (evicting completed workflows, oldest first)\n"
    "and --max-evicted. With --source github-actions, argo-workflows or airflow it serves that system's REST\n"
    "API instead (docs/sim.md#personas). SIGINT or SIGTERM stops it cleanly.",
    NULL, 0, 0, opts, sizeof opts / sizeof opts[0],
};
/* The option table, for `extrace config-doc` (commands.h). */
const ex_cmd_spec *const api_cmd_spec = &spec;

static void log_stats(const sim_api *api)
{
    const sim_api_stats *s = &api->stats;
    const sim_store_stats *st = &api->store.stats;
    ex_info("api",
            "served %" PRIu64 " requests: %" PRIu64 " ok, %" PRIu64 " bad request, %" PRIu64 " not found, %" PRIu64
            " bad method, %" PRIu64 " conflict, %" PRIu64 " too large, %" PRIu64 " unavailable, %" PRIu64
            " internal error",
            s->requests, s->ok, s->bad_request, s->not_found, s->bad_method, s->conflict, s->too_large,
            s->unavailable, s->internal);
    if (api->persona)
        ex_info("api", "%s: %" PRIu64 " answered 304 Not Modified, %" PRIu64 " refused by the rate limit",
                api->persona->name, api->not_modified, api->rate.refused);
    ex_info("api",
            "workflows: %zu held, %" PRIu64 " created, %" PRIu64 " evicted, %" PRIu64 " evicted ids forgotten, %" PRIu64
            " refused (full)",
            api->store.count, st->created, st->evicted, st->forgotten, st->refused);
    const sim_faults *f = api->faults;
    if (sim_faults_active(f))
        ex_info("api",
                "injected faults: %" PRIu64 " of %" PRIu64 " polls answered 500, %" PRIu64 " dropped, %" PRIu64
                " garbage; %" PRIu64 " delayed",
                f->stats.errors, f->stats.considered, f->stats.drops, f->stats.garbage, f->stats.delayed);
}

/* The running server and what stops it, for the signal callback. */
typedef struct serving {
    sim_http *http;         /* stopped on the first signal */
    sim_hooks *hooks;       /* the webhook sender, or NULL */
    uv_signal_t sigint;     /* SIGINT */
    uv_signal_t sigterm;    /* SIGTERM */
} serving;

static void on_stop_signal(uv_signal_t *sig, int signum)
{
    serving *s = sig->data;
    ex_info("api", "received %s: shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    ex_listener_log_stats(sim_http_listener(s->http), "api");
    sim_http_stop(s->http);
    s->http = NULL;
    if (s->hooks) {
        const sim_hooks_stats *h = sim_hooks_get_stats(s->hooks);
        ex_info("api", "webhooks: %" PRIu64 " runs started, %" PRIu64 " sent, %" PRIu64 " answered 2xx, %" PRIu64
                " refused 4xx, %" PRIu64 " retried, %" PRIu64 " failed; injected %" PRIu64 " duplicates, %" PRIu64
                " reordered, %" PRIu64 " forged",
                h->started, h->sent, h->answered_2xx, h->refused_4xx, h->retried, h->failed, h->duplicates,
                h->reordered, h->forged);
        sim_hooks_stop(s->hooks);
        s->hooks = NULL;
    }
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
}

static int start_hooks(uv_loop_t *loop, const api_cfg *cfg, sim_api *api, serving *s, const char *host, int port)
{
    char self[300], err[256];
    if (!cfg->webhook_secret || !cfg->webhook_secret[0] || api->env.advance != SIM_ADVANCE_ON_TIME) {
        ex_error("api", "--webhook-url needs --webhook-secret and --advance on-time");
        return -1;
    }
    snprintf(self, sizeof self, strchr(host, ':') ? "http://[%s]:%d" : "http://%s:%d", host, port);
    /* the sender's own random source: the plans draw the same numbers with or without webhooks */
    uint64_t seed = 0;
    if (!cfg->seed || ex_seed_parse(cfg->seed, &seed) != 0) seed = (uint64_t)ex_clock_now(ex_clock_real());
    seed ^= 0x5bd1e995u;
    sim_hooks_config hc = {cfg->webhook_url, cfg->webhook_secret, self, cfg->webhook_runs, cfg->webhook_every,
                           cfg->webhook_duplicates, cfg->webhook_reorder, cfg->webhook_bad_signatures, seed};
    if (!(s->hooks = sim_hooks_start(loop, api, &hc, err, sizeof err))) {
        ex_error("api", "%s", err);
        return -1;
    }
    ex_info("api", "webhooks to %s (%lld runs of its own)", cfg->webhook_url, (long long)cfg->webhook_runs);
    return 0;
}

/* Serve on a libuv loop until SIGINT/SIGTERM; 0, or 1 if the server
 * could not start. */
static int serve(const api_cfg *cfg, sim_api *api)
{
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        ex_error("api", "cannot create the event loop");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    char err[512];
    serving s = {0};
    int rc = 0;
    ex_conn_limits lim = ex_conn_opts_limits(&cfg->conns);
    if (!(s.http = sim_http_start(&loop, api, cfg->listen, &lim, err, sizeof err))) {
        ex_error("api", "%s", err);
        rc = 1;
    } else {
        char host[256];
        int port;
        ex_hostport_split(cfg->listen, host, sizeof host, &port);
        ex_info("api", strchr(host, ':') ? "listening on [%s]:%d" : "listening on %s:%d", host,
                sim_http_port(s.http));
        uv_signal_init(&loop, &s.sigint);
        uv_signal_init(&loop, &s.sigterm);
        s.sigint.data = s.sigterm.data = &s;
        uv_signal_start(&s.sigint, on_stop_signal, SIGINT);
        uv_signal_start(&s.sigterm, on_stop_signal, SIGTERM);
        if (cfg->webhook_url && start_hooks(&loop, cfg, api, &s, host, sim_http_port(s.http)) != 0) {
            on_stop_signal(&s.sigterm, SIGTERM);
            rc = 1;
        }
        uv_run(&loop, UV_RUN_DEFAULT);
        log_stats(api);
    }
    uv_run(&loop, UV_RUN_DEFAULT); /* let closed handles finish */
    if (uv_loop_close(&loop) != 0) {
        ex_error("api", "event loop still had open handles at exit");
        rc = 1;
    }
    return rc;
}

/* `extrace api` (commands.h): 0 after a clean stop by signal, 1 if the
 * server could not start, 2 for bad options (message on stderr). */
int api_main(int argc, char **argv, char *const *envp)
{
    api_cfg cfg = {0};
    ex_cfg_result res;
    int rc = ex_cfg_parse(&spec, &cfg, argc, argv, envp, stdout, &res);
    if (rc == EX_CFG_HELP || rc == EX_CFG_ERROR) {
        if (rc == EX_CFG_ERROR) fprintf(stderr, "extrace api: %s\n", res.error);
        ex_cfg_result_free(&res);
        ex_cfg_free(&spec, &cfg);
        return rc == EX_CFG_HELP ? 0 : 2;
    }
    char why[256];
    if (sim_faults_check(cfg.fault_rate, cfg.drop_rate, cfg.garbage_rate, why, sizeof why)) {
        fprintf(stderr, "extrace api: %s\n", why);
        ex_cfg_result_free(&res);
        ex_cfg_free(&spec, &cfg);
        return 2;
    }
    ex_rng rng, fault_rng;
    uint64_t seed = 0;
    if (cfg.seed) {
        ex_seed_parse(cfg.seed, &seed);
        ex_rng_seed(&rng, seed);
    } else {
        seed = ex_rng_seed_random(&rng);
    }
    ex_info("api", "random seed %" PRIu64 " (rerun with --seed %" PRIu64 " to repeat)", seed, seed);
    if (cfg.time_scale != 1.0)
        ex_info("api", "workflows run %g times faster than real time (timestamps stay real)", cfg.time_scale);
    sim_env env = {ex_clock_real(), &rng, cfg.failure_rate, cfg.time_scale, SIM_ADVANCE_ON_POLL};
    sim_advance_parse(cfg.advance, &env.advance); /* checked by the option table */
    if (env.advance != SIM_ADVANCE_ON_POLL)
        ex_info("api", "workflows advance on time: each transition at its planned instant, polled or not");
    sim_api api;
    sim_api_init(&api, &env, (size_t)cfg.max_workflows, (size_t)cfg.max_evicted);
    api.expose_plan = cfg.expose_plan;
    api.persona = sim_persona_find(cfg.source);
    if (api.persona) {
        ex_info("api", "serving the %s API (%s)", api.persona->name, api.persona->summary);
        if (api.persona == &sim_persona_github && cfg.rate_limit > 0) {
            api.rate = (sim_ratelimit){.limit = cfg.rate_limit, .window_ns = cfg.rate_window,
                                       .status = (int)cfg.rate_status};
            ex_info("api", "rate limit: %" PRId64 " requests per %" PRId64 " s, then %d", cfg.rate_limit,
                    cfg.rate_window / 1000000000, (int)cfg.rate_status);
        }
    }
    /* a rng of their own, so the workflows draw the same numbers with or without faults */
    ex_rng_seed(&fault_rng, seed ^ 0x9e3779b97f4a7c15ULL);
    sim_faults faults;
    sim_faults_init(&faults, &fault_rng, cfg.fault_rate, cfg.drop_rate, cfg.garbage_rate,
                    (uint64_t)(cfg.latency / 1000000));
    if (sim_faults_active(&faults)) {
        api.faults = &faults;
        ex_info("api",
                "injecting faults into GET /workflows/{id}: %g answered 500, %g dropped, %g garbage, latency %" PRId64
                " ms",
                cfg.fault_rate, cfg.drop_rate, cfg.garbage_rate, cfg.latency / 1000000);
    }
    rc = serve(&cfg, &api);
    sim_api_destroy(&api);
    ex_cfg_result_free(&res);
    ex_cfg_free(&spec, &cfg);
    return rc;
}
