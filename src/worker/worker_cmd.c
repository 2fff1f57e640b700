/* worker_cmd.c — `extrace worker`: the option table and main. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "net/conn_opts.h"
#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/rng.h"
#include "otel/otel_env.h"
#include "otel/resource.h"
#include "source/auth.h"
#include "worker/snapshot.h"
#include "worker/check.h"
#include "worker/source_rt.h"
#include "worker/worker.h"

typedef struct worker_cfg {
    char *redis;                  /* Redis address */
    char *api_url;                /* external API base URL, or NULL: the source's default */
    char *source;                 /* --source NAME|FILE */
    int64_t cond_cache_max;       /* --conditional-cache-bytes */
    char *channel;                /* pub/sub channel */
    char *stream;                 /* Redis Stream (durable intake), or NULL for pub/sub */
    char *group;                  /* its consumer group */
    char *consumer;               /* consumer name, or NULL for <hostname>-<pid> */
    int64_t claim_idle;           /* ns */
    int64_t initial_delay;        /* ns */
    int64_t interval;             /* ns */
    int64_t timeout;              /* ns */
    int64_t max_concurrent_polls;
    int64_t poll_timeout;         /* ns */
    int64_t pipeline_depth;
    int64_t poll_batch_window;
    int64_t max_workflows;
    char *admin_listen;           /* HOST:PORT */
    int64_t status_interval;      /* ns; 0 = no status line */
    ex_conn_opts admin_conns;     /* limits of the admin listener */
    char *webhook_listen;         /* HOST:PORT of POST /hooks/{source}, or NULL: off */
    char *webhook_secret_file;    /* the shared secret's file (else EXTRACE_WEBHOOK_SECRET) */
    int64_t webhook_max_body;
    int64_t webhook_dedup;
    ex_conn_opts webhook_conns;   /* limits of the webhook listener */
    char *seed;                   /* jitter seed as text, or NULL */
    /* Poll budget: */
    double max_polls_per_second;  /* token bucket rate over all workflows; 0 = unlimited */
    double poll_burst;            /* bucket size; 0 = the rate */
    /* Export spool: */
    char *spool_dir;              /* or NULL: drop after OTEL_BSP_EXPORT_TIMEOUT */
    int64_t spool_max_bytes;
    int processing_times;         /* read entityProcessingStartTime */
    int parent_from_traceparent;  /* the root becomes the child of the submitter's span */
    char *export_spans;           /* --export-spans as-they-end|at-end */
    int64_t discover;             /* ns between listings; 0 = off */
    char *discover_scope;         /* leading key parts */
    /* Checks: */
    int check;                    /* --check: check the dependencies once and exit */
    char *check_workflow;         /* GET /workflows/<this> instead of /healthz */
} worker_cfg;

static int check_not_empty(const char *text, char *why, size_t whylen)
{
    if (*text) return 0;
    snprintf(why, whylen, "must not be empty");
    return -1;
}

/* An http:// or https:// URL with a host, no query and no fragment. */
static int check_api_url(const char *text, char *why, size_t whylen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *query = NULL, *frag = NULL;
    int rc = -1;
    if (!u) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, text, 0);
    if (uc != CURLUE_OK) {
        snprintf(why, whylen, "not a URL (%s)", curl_url_strerror(uc));
    } else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
               (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        snprintf(why, whylen, "the scheme must be http or https");
    } else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
        snprintf(why, whylen, "no host");
    } else if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
               curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0) == CURLUE_OK) {
        snprintf(why, whylen, "must not have a query or fragment (the worker appends /workflows/<id>)");
    } else {
        rc = 0;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(query);
    curl_free(frag);
    curl_url_cleanup(u);
    return rc;
}

static int check_export_spans(const char *text, char *why, size_t whylen)
{
    if (strcmp(text, "as-they-end") == 0 || strcmp(text, "at-end") == 0) return 0;
    snprintf(why, whylen, "expected as-they-end or at-end");
    return -1;
}

/* HOST:PORT with an IPv4 address, as the admin server binds it. */
static int check_admin_listen(const char *text, char *why, size_t whylen)
{
    char host[256];
    int port;
    struct in_addr a;
    if (ex_check_hostport(text, why, whylen) != 0) return -1;
    if (ex_hostport_split(text, host, sizeof host, &port) == 0 && inet_pton(AF_INET, host, &a) == 1) return 0;
    snprintf(why, whylen, "the host must be an IPv4 address, e.g. 127.0.0.1 or 0.0.0.0");
    return -1;
}

static const ex_env_alias redis_aliases[] = {{"TracingSample__Redis__ConnectionString", NULL}, {NULL, NULL}};
static const ex_env_alias api_aliases[] = {{"TracingSample__ExternalApi__BaseUrl", NULL}, {NULL, NULL}};
static const ex_env_alias delay_aliases[] = {{"TracingSample__WorkflowMonitor__InitialDelaySeconds", "s"},
                                             {NULL, NULL}};
static const ex_env_alias interval_aliases[] = {{"TracingSample__WorkflowMonitor__IntervalSeconds", "s"},
                                                {NULL, NULL}};
static const ex_env_alias timeout_aliases[] = {{"TracingSample__WorkflowMonitor__TimeoutMinutes", "m"},
                                               {NULL, NULL}};

#define DAY_NS (86400.0 * 1e9)
#define WEBHOOK_SECRET_ENV "EXTRACE_WEBHOOK_SECRET"

static const ex_opt opts[] = {
    {"check", EX_OPT_BOOL, offsetof(worker_cfg, check), "false", EX_NO_BOUNDS, NULL,
     "Check once that Redis answers, the API answers (GET <api-url>/healthz, or --check-workflow) and the OTLP "
     "backend accepts an export, print a verdict for each and exit: 0 if all passed, 1 if not. Run it first.",
     NULL, NULL, NULL},
    {"check-workflow", EX_OPT_STRING, offsetof(worker_cfg, check_workflow), NULL, EX_NO_BOUNDS, "ID",
     "With --check: poll GET <api-url>/workflows/ID as the worker would, instead of GET <api-url>/healthz "
     "(for an API without /healthz).", NULL, check_not_empty, NULL},
    {"redis", EX_OPT_STRING, offsetof(worker_cfg, redis), "localhost:6379", EX_NO_BOUNDS, "URL",
     "Redis to subscribe to: redis://[USER:PASSWORD@]HOST[:PORT][/DB], or the seed's HOST:PORT[,password=…,…].",
     redis_aliases, ex_redis_url_check, NULL},
    {"source", EX_OPT_STRING, offsetof(worker_cfg, source), "seed", EX_NO_BOUNDS, "SOURCE",
     "What to watch: \"seed\" (the simulator's API, GET URL/workflows/<id>), a built-in source "
     "(extrace sources lists them: github-actions, argo-workflows, airflow…) or a profile file "
     "(docs/sources.md). Events then name workflows by Key.", NULL, check_not_empty, NULL},
    {"api-url", EX_OPT_STRING, offsetof(worker_cfg, api_url), NULL, EX_NO_BOUNDS, "URL",
     "Base URL of the external API. Default: http://localhost:5146 for the seed, the profile's base_url "
     "for another source.", api_aliases, check_api_url, NULL},
    {"conditional-cache-bytes", EX_OPT_INT, offsetof(worker_cfg, cond_cache_max), "67108864", 0, (double)INT64_MAX,
     "N", "Profile sources: bytes of answers kept with their ETag/Last-Modified so the next poll asks "
     "\"changed since?\" (a 304 costs the API, and GitHub's rate limit, nothing). Beyond it, plain requests.",
     NULL, NULL, NULL},
    {"channel", EX_OPT_STRING, offsetof(worker_cfg, channel), "event.workflow.started", EX_NO_BOUNDS, "NAME",
     "Redis pub/sub channel of the WorkflowStarted events (the seed's default intake; at-most-once: events "
     "published while no worker listens, or in flight when one stops, are lost).", NULL, check_not_empty, NULL},
    {"stream", EX_OPT_STRING, offsetof(worker_cfg, stream), NULL, EX_NO_BOUNDS, "NAME",
     "Read the WorkflowStarted events from this Redis Stream (field \"data\") through a consumer group "
     "instead of --channel: at-least-once, acknowledged once the trace is exported, monitors checkpointed in "
     "Redis and resumed by another worker (or a restart) when this one dies.", NULL, check_not_empty, NULL},
    {"group", EX_OPT_STRING, offsetof(worker_cfg, group), "extrace", EX_NO_BOUNDS, "NAME",
     "Consumer group of --stream (created from the stream's start if missing).", NULL, check_not_empty, NULL},
    {"consumer", EX_OPT_STRING, offsetof(worker_cfg, consumer), NULL, EX_NO_BOUNDS, "NAME",
     "This worker's consumer name in --group (default: <hostname>-<pid>). Give a restarted worker its old "
     "name to resume its pending entries at once instead of after --claim-idle.", NULL, check_not_empty, NULL},
    {"claim-idle", EX_OPT_DURATION, offsetof(worker_cfg, claim_idle), "60s", 1e8, DAY_NS, "DURATION",
     "Take over stream entries another consumer has left idle this long (it died), resuming their monitors "
     "from their checkpoints; checked every third of DURATION.", NULL, NULL, NULL},
    {"initial-delay", EX_OPT_DURATION, offsetof(worker_cfg, initial_delay), "5s", 0, DAY_NS, "DURATION",
     "First poll of a workflow this long after its event.", delay_aliases, NULL, NULL},
    {"interval", EX_OPT_DURATION, offsetof(worker_cfg, interval), "10s", 1e6, DAY_NS, "DURATION",
     "Then poll every DURATION, ±10% random jitter so polls spread out.", interval_aliases, NULL, NULL},
    {"timeout", EX_OPT_DURATION, offsetof(worker_cfg, timeout), "30m", 1e6, 30 * DAY_NS, "DURATION",
     "Give up on a workflow this long after its event: its trace ends with \"Monitor timed out\" (the seed "
     "uses 10m).",
     timeout_aliases, NULL, NULL},
    {"max-concurrent-polls", EX_OPT_INT, offsetof(worker_cfg, max_concurrent_polls), "256", 1, 65536, "N",
     "Polls in flight at most; due workflows beyond that wait their turn in due order.", NULL, NULL, NULL},
    {"poll-timeout", EX_OPT_DURATION, offsetof(worker_cfg, poll_timeout), "5s", 1e6, 600e9, "DURATION",
     "A poll that has no complete answer within DURATION fails (kind \"timeout\") and is retried next interval.",
     NULL, NULL, NULL},
    {"pipeline-depth", EX_OPT_INT, offsetof(worker_cfg, pipeline_depth), "8", 1, 64, "N",
     "Polls of a plain http:// --api-url in flight on one kept-alive connection at most (HTTP/1.1 pipelining: "
     "requests written back to back, answered in order; docs/worker.md#the-request-path). 1 turns it off.",
     NULL, NULL, NULL},
    {"poll-batch-window", EX_OPT_DURATION, offsetof(worker_cfg, poll_batch_window), "250us", 0, 10e6, "DURATION",
     "With 16 or more polls of a plain http:// --api-url in flight, hold each turn of the worker's loop to at "
     "least DURATION, so that answers are read and requests written several at a time (less CPU per poll; a "
     "poll's answer waits at most DURATION; docs/worker.md#the-request-path). 0 turns it off.",
     NULL, NULL, NULL},
    {"max-workflows", EX_OPT_INT, offsetof(worker_cfg, max_workflows), "1000000", 1, 100000000, "N",
     "Workflows watched at most; events beyond are rejected (reason \"capacity\").", NULL, NULL, NULL},
    {"admin-listen", EX_OPT_STRING, offsetof(worker_cfg, admin_listen), "127.0.0.1:9464", EX_NO_BOUNDS,
     "HOST:PORT", "Address of /healthz, /readyz and /metrics (an IPv4 address; port 0 picks a free one).", NULL,
     check_admin_listen, NULL},
    EX_CONN_OPTS(worker_cfg, admin_conns, "admin-", "the admin listener", "503", "64", "16", "5s", "5s", "30s"),
    /* Webhooks */
    {"webhook-listen", EX_OPT_STRING, offsetof(worker_cfg, webhook_listen), NULL, EX_NO_BOUNDS, "HOST:PORT",
     "Take the source's webhook deliveries on POST /hooks/<source> at this address (an IPv4 address; port 0 "
     "picks a free one): each starts the workflow's watch and applies its state and time at once "
     "(docs/sources.md#webhooks). The source's profile needs a webhook: section. With --stream a delivery "
     "that starts a workflow adds its entry to the stream, and delivery ids are remembered in Redis. Default: off.",
     NULL, check_admin_listen, NULL},
    {"webhook-secret-file", EX_OPT_STRING, offsetof(worker_cfg, webhook_secret_file), NULL, EX_NO_BOUNDS, "FILE",
     "File holding the webhooks' shared secret (its trailing newline dropped); without it the secret is read "
     "from the variable " WEBHOOK_SECRET_ENV ". Never logged.", NULL, check_not_empty, NULL},
    {"webhook-max-body", EX_OPT_INT, offsetof(worker_cfg, webhook_max_body), "1048576", 1024, 26214400, "BYTES",
     "Largest delivery taken; a larger one is answered 413.", NULL, NULL, NULL},
    {"webhook-dedup", EX_OPT_INT, offsetof(worker_cfg, webhook_dedup), "100000", 1, 16777216, "N",
     "Delivery ids remembered to recognise a delivery sent again (16 bytes each, the oldest forgotten "
     "first); as many keys of finished workflows are remembered so a late delivery does not start one again.",
     NULL, NULL, NULL},
    EX_CONN_OPTS(worker_cfg, webhook_conns, "webhook-", "the webhook listener", "503", "256", "64", "10s", "30s", "60s"),
    {"status-interval", EX_OPT_DURATION, offsetof(worker_cfg, status_interval), "60s", 0, DAY_NS, "DURATION",
     "Log a status line at info this often: workflows watched, the oldest one's age, polls/s, poll errors by "
     "kind, workflows finished, spans exported and dropped (0 = never).", NULL, NULL, NULL},
    {"seed", EX_OPT_STRING, offsetof(worker_cfg, seed), NULL, EX_NO_BOUNDS, "N",
     "Seed of the poll jitter, for reproducible schedules (default: from the OS; the seed used is logged).",
     NULL, ex_check_seed, NULL},
    /* Poll budget */
    {"max-polls-per-second", EX_OPT_DOUBLE, offsetof(worker_cfg, max_polls_per_second), "0", 0, 1e6, "N",
     "At most N polls a second over all workflows (a token bucket refilled continuously); due workflows "
     "wait their turn in due order. 0 = unlimited.", NULL, NULL, NULL},
    {"poll-burst", EX_OPT_DOUBLE, offsetof(worker_cfg, poll_burst), "0", 0, 1e6, "N",
     "Polls that may start at once after a quiet spell under --max-polls-per-second (0 = the rate, at "
     "least 1).", NULL, NULL, NULL},
    /* Export spool */
    {"spool-dir", EX_OPT_STRING, offsetof(worker_cfg, spool_dir), NULL, EX_NO_BOUNDS, "DIR",
     "Keep finished spans the OTLP backend did not take within OTEL_BSP_EXPORT_TIMEOUT in segment files in "
     "DIR and send them, in order, once it answers again (also after a restart). Default: drop them.", NULL,
     check_not_empty, NULL},
    {"processing-times", EX_OPT_BOOL, offsetof(worker_cfg, processing_times), "false", EX_NO_BOUNDS, NULL,
     "Read each stage's entityProcessingStartTime when the API sends one (extrace api --advance on-time "
     "does; the seed's API does not): its Processing event then carries that time (extrace.time_source "
     "\"source\") instead of the poll that saw it. Off: the field is ignored like any unknown field.",
     NULL, NULL, NULL},
    {"discover", EX_OPT_DURATION, offsetof(worker_cfg, discover), "0s", 0, DAY_NS, "DURATION",
     "List the source's new workflows this often (its profile's discover: section, docs/sources.md) and watch "
     "each one found, without any event. With --stream the high-water mark and the keys found are kept in "
     "Redis (a restart neither misses nor repeats a workflow), else in memory. 0 = off.", NULL, NULL, NULL},
    {"discover-scope", EX_OPT_STRING, offsetof(worker_cfg, discover_scope), "", EX_NO_BOUNDS, "PARTS",
     "The leading key parts the listing covers, joined by '/': owner/repo (github-actions), a namespace "
     "(argo-workflows), a dag_id (airflow).", NULL, NULL, NULL},
    {"parent-from-traceparent", EX_OPT_BOOL, offsetof(worker_cfg, parent_from_traceparent), "false",
     EX_NO_BOUNDS, NULL,
     "A workflow whose start carries its submitter's W3C traceparent (the event's \"Traceparent\", a "
     "webhook's traceparent header): make its root span a child of that span, in the submitter's trace. "
     "Off: the trace id stays derived from the workflow and the root span links to the submitter's span.",
     NULL, NULL, NULL},
    {"export-spans", EX_OPT_STRING, offsetof(worker_cfg, export_spans), "as-they-end", EX_NO_BOUNDS, "WHEN",
     "When a workflow's spans are exported: as-they-end (each stage span as soon as the stage ends, the root "
     "when the workflow ends: backends show a growing partial trace) or at-end (the whole trace when the "
     "workflow ends, for backends that dislike partial traces).", NULL, check_export_spans, NULL},
    {"spool-max-bytes", EX_OPT_INT, offsetof(worker_cfg, spool_max_bytes), "268435456", 4096, (double)INT64_MAX,
     "N", "Bound of --spool-dir; spans that do not fit are dropped and counted.", NULL, NULL, NULL},
};

static const ex_cmd_spec spec = {
    "worker",
    "Watch workflows announced on Redis through the external API and export their traces",
    "Subscribes to WorkflowStarted events on Redis, polls GET <api-url>/workflows/<id> for each\n"
    "workflow until it completes, fails or times out, and exports one trace per workflow: a\n"
    "\"Workflow\" span from submission to end with one child span per stage (and \"Queued\" for the\n"
    "wait before the API started it), carrying the API's own times, status changes\n"
    "and errors. Trace ids are derived from service.namespace and the workflow id (extrace traceid).\n"
    "\n"
    "Export is configured by the standard OpenTelemetry variables: OTEL_TRACES_EXPORTER (otlp,\n"
    "console, none), OTEL_EXPORTER_OTLP_PROTOCOL (grpc, http/protobuf, http/json),\n"
    "OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TIMEOUT,\n"
    "OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_MAX_QUEUE_SIZE,\n"
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTEL_BSP_EXPORT_TIMEOUT (also the flush time at shutdown),\n"
    "OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (defaults: service.name=Tracing.Worker,\n"
    "service.version=1.0.0, service.namespace=dev1), and their OTEL_EXPORTER_OTLP_TRACES_* forms.\n"
    "\n"
    "SIGINT or SIGTERM stops the intake and the polls, flushes the finished spans and exits 0;\n"
    "workflows still in flight are abandoned (and logged) with --channel, left pending with their\n"
    "checkpoints for a restart or another worker with --stream. Exit status: 0 after a stop signal,\n"
    "1 if a component could not start (or --check found a dependency failing), 2 on bad options or OTEL_*\n"
    "settings.",
    NULL, 0, 0, opts, sizeof opts / sizeof opts[0],
};
const ex_cmd_spec *const worker_cmd_spec = &spec;

/* Turn the parsed options and the environment into wk_options and run.
 * Returns the exit status. */
static int run(const worker_cfg *cfg, const ex_cfg_result *given, char *const *envp)
{
    wk_options o = {0};
    exo_export_config export;
    exo_resource resource = {0};
    char err[512], warn[512] = "";
    ex_rng id_rng;
    int status = 2;
    char *secret = NULL;
    int rc = exo_export_config_from_env(envp, &export, err, sizeof err, warn, sizeof warn);
    if (warn[0]) ex_warn("worker", "%s", warn);
    if (rc != 0) {
        fprintf(stderr, "extrace worker: %s\n", rc == -2 ? "out of memory reading OTEL_* settings" : err);
        goto out;
    }
    ex_rng_seed_random(&id_rng);
    warn[0] = '\0';
    if (exo_resource_from_env(envp, &id_rng, &resource, warn, sizeof warn) != 0) {
        fprintf(stderr, "extrace worker: out of memory building the resource\n");
        goto out;
    }
    if (warn[0]) ex_warn("worker", "%s", warn);
    wk_source source;
    if (wk_source_open(cfg->source, cfg->api_url, &source, err, sizeof err) != 0) {
        fprintf(stderr, "extrace worker: --source %s\n", err);
        goto out;
    }
    const char *api_url = cfg->api_url ? cfg->api_url : source.base_url ? source.base_url : "http://localhost:5146";
    if (cfg->check) {
        wk_check_opts co = {cfg->redis, api_url, cfg->check_workflow, cfg->poll_timeout,
                            cfg->processing_times ? WM_PARSE_PROCESSING_TIME : 0, &export, &resource};
        status = wk_check_run(&co, stdout);
        goto out_source;
    }
    if (ex_redis_url_parse(cfg->redis, &o.redis, err, sizeof err) != 0) { /* checked already; belt and braces */
        fprintf(stderr, "extrace worker: --redis: %s\n", err);
        goto out_source;
    }
    o.channel = cfg->channel;
    char consumer[300];
    if (cfg->stream) {
        char host[256] = "";
        if (gethostname(host, sizeof host) != 0 || !host[0]) snprintf(host, sizeof host, "worker");
        host[sizeof host - 1] = '\0';
        if (cfg->consumer) snprintf(consumer, sizeof consumer, "%s", cfg->consumer);
        else snprintf(consumer, sizeof consumer, "%s-%ld", host, (long)getpid());
        o.stream = cfg->stream;
        o.group = cfg->group;
        o.consumer = consumer;
        o.claim_idle_ns = cfg->claim_idle;
        ex_info("worker", "reading stream %s as consumer %s of group %s (claiming entries idle for %s)", o.stream,
                o.consumer, o.group, ex_cfg_given(&spec, given, "claim-idle"));
    }
    o.api_url = api_url;
    o.source = &source;
    o.cond_cache_max = (size_t)cfg->cond_cache_max;
    o.sched = (wk_sched_config){cfg->initial_delay, cfg->interval, 100, (size_t)cfg->max_workflows};
    o.sched.max_polls_per_sec = cfg->max_polls_per_second;
    o.sched.poll_burst = cfg->poll_burst;
    /* Polls due within 2 ms of the first due one (a twentieth of a shorter
     * interval) leave with it: docs/worker.md#scheduling. */
    o.sched.slack_ns = cfg->interval / 20 < WK_SLACK_MAX_NS ? cfg->interval / 20 : WK_SLACK_MAX_NS;
    o.spool_dir = cfg->spool_dir;
    o.spool_max_bytes = (uint64_t)cfg->spool_max_bytes;
    o.timeout_ns = cfg->timeout;
    o.max_concurrent_polls = (int)cfg->max_concurrent_polls;
    o.poll_timeout_ns = cfg->poll_timeout;
    o.pipeline_depth = (int)cfg->pipeline_depth;
    o.poll_batch_window_ns = cfg->poll_batch_window;
    o.parent_from_traceparent = cfg->parent_from_traceparent;
    o.discover_interval_ns = cfg->discover;
    o.discover_scope = cfg->discover_scope ? cfg->discover_scope : "";
    o.parse_flags = cfg->processing_times ? WM_PARSE_PROCESSING_TIME : 0;
    o.export_at_end = strcmp(cfg->export_spans, "at-end") == 0;
    o.admin_listen = cfg->admin_listen;
    o.status_interval_ns = cfg->status_interval;
    o.admin_limits = ex_conn_opts_limits(&cfg->admin_conns);
    if (cfg->webhook_listen) {
        if (sr_secret_read("extrace worker", "webhook secret", cfg->webhook_secret_file ? NULL : WEBHOOK_SECRET_ENV,
                           cfg->webhook_secret_file, envp, &secret, err, sizeof err) != 0) {
            fprintf(stderr, "%s (--webhook-secret-file FILE or %s)\n", err, WEBHOOK_SECRET_ENV);
            goto out_source;
        }
        o.webhook_listen = cfg->webhook_listen;
        o.webhook_secret = secret;
        o.webhook_secret_len = strlen(secret);
        o.webhook_max_body = (size_t)cfg->webhook_max_body;
        o.webhook_dedup = (size_t)cfg->webhook_dedup;
        o.webhook_limits = ex_conn_opts_limits(&cfg->webhook_conns);
    }
    o.export = &export;
    o.resource = &resource;
    if (cfg->seed) ex_seed_parse(cfg->seed, &o.seed);
    else o.seed = ex_rng_seed_random(&id_rng);
    /* Durations as the user wrote them: "60s" stays "60s". */
    if (source.profile)
        ex_info("worker", "source %s (%s): %zu request(s) per poll at %s", source.name, source.profile->origin,
                source.profile->nrequests, api_url);
    ex_info("worker", "polling %s%s: first after %s, then every %s ±10%%, timeout %s, at most %d at once "
            "(jitter seed %" PRIu64 ")", api_url, source.profile ? "" : "/workflows/<id>", ex_cfg_given(&spec, given, "initial-delay"),
            ex_cfg_given(&spec, given, "interval"), ex_cfg_given(&spec, given, "timeout"), o.max_concurrent_polls,
            o.seed);
    status = wk_worker_run(&o);
out_source:
    wk_source_close(&source);
    if (secret) explicit_bzero(secret, strlen(secret));
    ex_free(secret);
out:
    memset(&o.redis, 0, sizeof o.redis); /* holds the password */
    exo_resource_free(&resource);
    exo_export_config_free(&export);
    return status;
}

int worker_main(int argc, char **argv, char *const *envp)
{
    worker_cfg cfg = {0};
    ex_cfg_result res;
    int rc = ex_cfg_parse(&spec, &cfg, argc, argv, envp, stdout, &res);
    int status;
    if (rc == EX_CFG_HELP) {
        status = 0;
    } else if (rc == EX_CFG_ERROR) {
        fprintf(stderr, "extrace worker: %s\n", res.error);
        status = 2;
    } else {
        signal(SIGPIPE, SIG_IGN);
        curl_global_init(CURL_GLOBAL_DEFAULT);
        status = run(&cfg, &res, envp);
        curl_global_cleanup();
    }
    ex_cfg_result_free(&res);
    ex_cfg_free(&spec, &cfg);
    return status;
}
