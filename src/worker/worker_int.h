/* worker_int.h — the worker's state, shared by worker.c (the loop, polls,
 * export, admin, shutdown) and durable.c (stream mode: the entries behind
 * each workflow, checkpoints, acknowledgements). Not a public interface. */
#ifndef EXTRACE_WORKER_WORKER_INT_H
#define EXTRACE_WORKER_WORKER_INT_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/rng.h"
#include "otel/pipeline.h"
#include "worker/admin.h"
#include "worker/inbox.h"
#include "worker/intake.h"
#include "worker/live.h"
#include "worker/metrics.h"
#include "worker/pollwarn.h"
#include "worker/poller.h"
#include "worker/clockskew.h"
#include "worker/event.h"
#include "worker/source_rt.h"
#include "worker/registry.h"
#include "worker/status.h"
#include "worker/stream.h"
#include "worker/worker.h"

typedef struct wk_hold wk_hold; /* durable.c */
typedef struct wk_waiting wk_waiting; /* export.c */

/* Counters of the durable intake that wk_metrics does not have. */
typedef struct wk_durable_stats {
    uint64_t restored;        /* monitors resumed from a checkpoint */
    uint64_t ckpt_rejected;   /* checkpoints that could not be decoded */
    uint64_t undelivered;     /* traces not delivered: entries left pending */
    uint64_t lost;            /* workflows left to the consumer that claimed their entries */
    uint64_t reowned;         /* workflows whose entries Redis lost, added again and owned here */
    uint64_t resumed;         /* workflows taken up again from a pending entry (not a new start) */
    uint64_t exported_again;  /* traces submitted again from a final checkpoint */
    uint64_t undelivered_repeats; /* … of which not delivered again (summed in the log) */
    int64_t undelivered_window;   /* mono ns: start of the window of undelivered warnings */
    int undelivered_logged;       /* undelivered warnings logged in that window */
    uint64_t undelivered_summed;  /* undelivered traces not logged one by one since the last summary */
    uint64_t parked;          /* finished workflows whose final checkpoint had to wait for Redis */
    size_t parked_now;        /* … of which waiting now */
} wk_durable_stats;

/* Counters of the submitters' traceparents (submitter.c). */
typedef struct wk_link_stats {
    uint64_t linked;          /* workflows started with a valid traceparent */
    uint64_t malformed;       /* traceparents refused (the workflow is traced without the link) */
} wk_link_stats;

typedef struct wk_worker {
    uv_loop_t loop;           /* the one loop everything runs on */
    const wk_options *opt;    /* not owned */
    const char *ns;           /* service.namespace: names the traces */
    ex_rng rng;               /* jitter */
    wk_registry reg;          /* watched workflows */
    wk_metrics metrics;       /* counters behind /metrics */
    wk_poller *poller;        /* owned; NULL once stopped */
    wk_inbox *intake;         /* owned; NULL once stopped (pub/sub mode: the subscriber's thread) */
    wk_stream *stream;        /* owned; NULL once stopped (stream mode) */
    wk_hold *holds;           /* stream mode: uthash of workflows and their entries */
    wk_waiting *waiting;      /* pub/sub mode: uthash of finished workflows whose root waits for the
                                 verdict on their spans exported as they ended */
    wk_durable_stats durable; /* stream mode counters */
    uv_timer_t park_timer;    /* stream mode: retries final checkpoints that waited for Redis */
    wk_admin *admin;          /* owned; NULL once stopped */
    struct wk_webhook *webhook; /* owned (--webhook-listen); NULL when off or stopped */
    exo_pipeline *pipeline;   /* owned; NULL once destroyed */
    uv_timer_t timer;         /* the registry's one timer */
    int64_t armed_due;        /* due time the timer is set for, INT64_MAX if none */
    uv_signal_t sigint, sigterm; /* stop signals */
    int stopping;             /* a stop signal was received */
    int64_t warn_window;      /* start (mono ns) of the current warning budget window */
    int warn_used;            /* warnings logged in that window */
    uint64_t warn_suppressed; /* warnings not logged since the last one */
    wk_pollwarn pollwarn;     /* failed polls told at warn, repeats summed up */
    uv_timer_t status_timer;  /* the periodic status line (--status-interval) */
    wk_status_snap status_prev; /* counters at the last status line */
    wk_skew skew;             /* the API host's clock offset, from Date headers */
    char api_host[256];       /* host[:port] of --api-url (label of the offset gauges) */
    const wk_source *source;  /* what is watched (not owned: the options') */
    int64_t paused_until;     /* the API's rate limit holds polls back until then (0: not paused) */
    wk_link_stats links;      /* submitters' traceparents */
    wk_feed feed;             /* the live API's change feed (live.h) */
    wk_live_ctx live;         /* namespace and source of the live JSON */
    char instance[300];       /* the live list's "instance": the stream consumer, or host:pid */
    struct wk_disc *disc;     /* owned: --discover's listings, or NULL */
} wk_worker;

/* worker.c */
/* A monitor for workflow `key` of the worker's source, with its limits. */
mdl_monitor *wk_monitor_new(const wk_worker *w, const char *key, int64_t submitted_ns, int64_t now);
/* Check a parsed event against the worker's source (its Source and key).
 * 0, or -1 with *reason and a message in why. */
int wk_event_accept(const wk_worker *w, const wk_event *ev, wk_reject *reason, char *why, size_t whylen);
/* Start watching the workflow ev announces (pub/sub events, webhooks):
 * 0 when a new watch began, 1 when it was watched already (counted as a
 * duplicate event), -1 when it could not be (capacity or memory: counted
 * and warned). *out (may be NULL) receives the entry when there is one.
 * ev->traceparent is the submitter's trace context, when known. */
int wk_watch_event(wk_worker *w, const wk_event *ev, int64_t now, wk_entry **out);
int64_t wk_now_ns(void);
/* Stream mode: the Redis key that marks workflow `key` of the worker's
 * source started (extrace:started:<source>:<key>), set by webhook
 * deliveries and listings alike so that one stream entry stands for a
 * workflow however it was learnt of; and how long markers (and delivery
 * ids) are kept: --timeout plus a day, so a late delivery does not start
 * a finished workflow again. */
void wk_started_key(const wk_worker *w, const char *key, char *buf, size_t len);
int64_t wk_started_ttl_ms(const wk_worker *w);
/* host[:port] of an API URL (credentials dropped), into out (outlen bytes). */
void wk_api_host(const char *url, char *out, size_t outlen);
/* m's watch began at now (registry entry added): told to the live feed. */
void wk_watched(wk_worker *w, const mdl_monitor *m, int64_t now);
/* Point the registry's timer at the earliest due time. */
void wk_arm(wk_worker *w, int64_t now);
/* Log a warning that may come once per workflow: at most a few a second, the rest summed up. */
void wk_event_warn(wk_worker *w, const char *msg);
/* export.c */
/* With --export-spans as-they-end: hand the spans of running monitor m
 * that became final since the last call (spans.h) to the pipeline; their
 * delivery is booked on m (found again by its key) when it is known. In
 * stream mode only once a checkpoint holding their end is in Redis. */
void wk_export_ready(wk_worker *w, mdl_monitor *m);
/* Pub/sub mode: finished m's trace goes out (m is the callee's): at once,
 * or, while spans it exported as they ended await their verdict, once
 * that came (so that a span on its way is not sent twice). */
void wk_export_finished(wk_worker *w, mdl_monitor *m);
/* Shutdown: the traces still waiting go out now (before the flush). */
void wk_export_stop(wk_worker *w);
/* Count m's end, build its spans and hand them to the pipeline, which
 * calls done_cb(arg, delivered) later (done_cb may be NULL). m stays the
 * caller's. again = 1: the same trace was submitted before (restored from
 * its final checkpoint): its end is not counted again, nor its spans as
 * dropped if they are (exo_pipeline_submit_again). With as-they-end only
 * the spans not delivered before go out (and the root). 0, or -1 when the
 * spans could not be built (logged; done_cb is not called). */
int wk_submit_trace(wk_worker *w, const mdl_monitor *m, int again, exo_submit_cb done_cb, void *arg);

/* submitter.c */
/* The submitter's span of a starting workflow (ev's traceparent): 1 with
 * *out set (counted as linked), 0 when there is none, -1 when it is
 * malformed (counted, logged at warn, rate-limited; the workflow is
 * watched without it). */
int wk_submitter_link(wk_worker *w, const wk_event *ev, mdl_link *out);
/* Its counters, in the Prometheus text format. */
void wk_submitter_render(const wk_worker *w, wk_text *t);

/* durable.c (stream mode) */
void wd_on_entry(void *arg, const char *id, const char *data, size_t len, int resumed); /* wk_stream_entry_cb */
void wd_on_state(void *arg, int ready);                                                 /* wk_stream_state_cb */
void wd_data_lost(void *arg, const char *why);                                          /* wk_stream_lost_cb */
/* m (watched, not done) changed state: checkpoint it. */
void wd_changed(wk_worker *w, const mdl_monitor *m);
/* m is done and out of the registry (ownership passes): its trace goes
 * out once its final checkpoint is confirmed in Redis. */
void wd_finished(wk_worker *w, mdl_monitor *m);
/* 1 if another consumer took over the workflow's entries (then its hold
 * is gone and the caller stops watching it), else 0. */
int wd_lost(wk_worker *w, const char *workflow_id);
/* The finished monitor of a workflow waiting for its final checkpoint, or NULL. */
mdl_monitor *wd_done_monitor(wk_worker *w, const char *workflow_id);
/* The spans workflow_id's finished monitor exported as they ended all
 * have their verdict: its trace, which waited for that, goes out. */
void wd_partials_settled(wk_worker *w, const char *workflow_id);
void wd_render_metrics(wk_worker *w, wk_text *t);
/* Free every hold left at exit (their entries stay pending). */
void wd_clear(wk_worker *w);

#endif
