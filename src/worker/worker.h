/* worker.h — `extrace worker`: the runtime around the monitors.
 *
 * One libuv loop, one thread:
 *   intake (Redis SUBSCRIBE, or a Stream consumer group: stream.h) → event.h (parse, validate) → registry (one
 *   monitor per workflow, one timer for all) → poller (GET /workflows/<id>)
 *   → monitor.h (pure state machine) → spans.h → otel pipeline (export)
 * plus the admin HTTP endpoints (admin.h) and SIGINT/SIGTERM handling:
 * stop the intake, abort the polls, flush the finished spans, close.
 * With a stream (durable.c), every monitor state change is checkpointed
 * (checkpoint.h), a trace is exported only once its final checkpoint is
 * in Redis, and an entry is acknowledged only once its trace was
 * delivered — all only while the entry is still this worker's. */
#ifndef EXTRACE_WORKER_WORKER_H
#define EXTRACE_WORKER_WORKER_H
#include <stddef.h>
#include <stdint.h>

#include "core/redis_url.h"
#include "net/conn_guard.h"
#include "otel/otel_env.h"
#include "otel/span.h"
#include "worker/registry.h"

/* Everything the worker runs with (parsed and checked by worker_cmd.c). */
typedef struct wk_options {
    ex_redis_addr redis;            /* event source */
    const char *channel;            /* pub/sub channel of WorkflowStarted events (when stream is NULL) */
    const char *stream;             /* Redis Stream to read instead (durable intake), or NULL */
    const char *group;              /* its consumer group */
    const char *consumer;           /* this worker's consumer name in the group */
    int64_t claim_idle_ns;          /* claim entries of consumers idle this long */
    const char *api_url;            /* external API base URL */
    wk_sched_config sched;          /* initial delay, interval, jitter, max workflows */
    int64_t timeout_ns;             /* per workflow monitor */
    int max_concurrent_polls;       /* polls in flight at most */
    int64_t poll_timeout_ns;        /* per poll */
    int pipeline_depth;             /* polls in flight on one connection of the HTTP/1.1 client (1: no pipelining) */
    int64_t poll_batch_window_ns;   /* the HTTP/1.1 client's loop pacing (ex_h1_pool_pace; 0: off) */
    unsigned parse_flags;           /* WM_PARSE_* contract extensions read from the API's answers */
    const struct wk_source *source; /* what is watched (--source) */
    size_t cond_cache_max;          /* bytes of answers kept for conditional requests */
    const char *admin_listen;       /* HOST:PORT of /healthz, /readyz, /metrics */
    int64_t status_interval_ns;     /* a status line at info this often; 0 = never */
    ex_conn_limits admin_limits;    /* its connection limits and deadlines */
    uint64_t seed;                  /* jitter rng seed */
    const exo_export_config *export; /* OTEL_* exporter settings */
    const exo_resource *resource;   /* service.* attributes; service.namespace names the traces */
    /* Webhooks (--webhook-listen; NULL: off): */
    const char *webhook_listen;     /* HOST:PORT of POST /hooks/{source} */
    const char *webhook_secret;     /* the shared secret (never logged) */
    size_t webhook_secret_len;
    size_t webhook_max_body;        /* larger deliveries get 413 */
    size_t webhook_dedup;           /* delivery ids (and finished keys) remembered */
    ex_conn_limits webhook_limits;  /* its listener's limits and deadlines */
    /* Export spool: */
    const char *spool_dir;          /* batches the backend did not take in time wait here; NULL = dropped */
    uint64_t spool_max_bytes;       /* bound of the spool */
    int parent_from_traceparent;    /* a submitter's traceparent makes the root its child (else: a link) */
    int export_at_end;              /* 1: a workflow's spans all go out when it ends (--export-spans at-end);
                                       0: each span as it ends, the root when the workflow ends */
    int64_t discover_interval_ns;   /* list the source's new workflows this often; 0 = no discovery */
    const char *discover_scope;     /* the leading key parts the listing covers ("" = none) */
} wk_options;

/* Run until SIGINT or SIGTERM. Returns the process exit status: 0 after a
 * clean shutdown, 1 if a component could not start (logged). */
int wk_worker_run(const wk_options *opt);

#endif
