/* monitor.h — what the worker knows about one workflow it watches.
 *
 * A monitor is fed the outcome of each poll of the external API (a parsed
 * snapshot, a failed poll, a 404) and its timeout, and keeps just enough
 * to build the workflow's spans once it is done (spans.h): start and end
 * times, the status events seen, one record per stage, the end reason.
 * Pure: no I/O, no clock; every time comes in as int64 unix ns.
 *
 * The state is plain data, small and pointer-light so that a million can
 * be held at once and each can be checkpointed: the monitor is one
 * allocation (workflow id inline), plus the stage array, one string per
 * stage (type and id), the event array, and error messages of ended
 * spans. Everything a pointer points to is owned by the monitor.
 * docs/monitor.md has the rules and the memory figure. */
#ifndef EXTRACE_WORKER_MONITOR_H
#define EXTRACE_WORKER_MONITOR_H
#include <stddef.h>
#include <stdint.h>

#include "worker/snapshot.h"

/* Results of the calls that feed a monitor. */
enum { WM_RUNNING = 0, WM_DONE = 1 };

#define WM_NO_STATUS      0xFF /* no status observed yet */
#define WM_OWNER_WORKFLOW 0xFF /* wm_event.owner of the workflow's own events */
#define WM_MAX_EVENTS     64   /* status events kept per monitor; more are counted as dropped */

/* How a span ended (the workflow's or a stage's). */
typedef enum {
    WM_END_OPEN,      /* still running */
    WM_END_OK,        /* Completed */
    WM_END_FAILED,    /* Failed: error message from the API */
    WM_END_STAGE_OPEN,/* stage only: the workflow completed while it was open */
    WM_END_TIMEOUT,   /* the monitor timed out */
    WM_END_NOT_FOUND, /* the API answered 404 */
} wm_end;

/* Where an event's time comes from (attribute extrace.time_source). */
typedef enum { WM_SRC_SOURCE, WM_SRC_POLL } wm_time_source;

/* One status event ("Initializing", "Processing", …) of one span. */
typedef struct wm_event {
    int64_t time_ns;   /* event time: the API's own time, or the poll time */
    int64_t before_ns; /* when the reply of the poll that first saw it arrived (extrace.observed_before) */
    int64_t after_ns;  /* when the request of the successful poll before that left, or WM_NO_TIME
                          (extrace.observed_after) */
    uint8_t owner;     /* stage index, or WM_OWNER_WORKFLOW */
    uint8_t status;    /* wm_status: the event's name */
    uint8_t source;    /* wm_time_source of time_ns */
} wm_event;

/* One stage (entity) of the workflow, from the poll that first showed it. */
typedef struct wm_stage {
    int64_t start_ns;    /* entityStartTime (first value seen) */
    int64_t end_ns;      /* the span's end; WM_NO_TIME while open */
    char *names;         /* owned: entityType NUL entityId NUL (wm_stage_type / wm_stage_id) */
    char *error;         /* owned: entityErrorMessage of a Failed stage, else NULL */
    uint8_t last_status; /* last observed wm_status, or WM_NO_STATUS */
    uint8_t end;         /* wm_end */
} wm_stage;

/* The monitor of one workflow. Read fields freely; change them only
 * through the functions below (or a checkpoint restore). */
typedef struct wm_monitor {
    int64_t submitted_ns;    /* SubmittedAt of the WorkflowStarted event */
    int64_t created_ns;      /* when the monitor was made: the timeout counts from here */
    int64_t timeout_ns;      /* how long it may run */
    int64_t start_ns;        /* workflowStartTime from the first successful poll, or WM_NO_TIME */
    int64_t end_ns;          /* the root span's end; WM_NO_TIME while running */
    int64_t last_sent_ns;    /* when the request of the last successful poll left, or WM_NO_TIME */
    uint32_t version;        /* +1 on every state change (what a checkpoint must save) */
    uint32_t polls;          /* successful polls (counter, not a state change) */
    uint32_t poll_errors;    /* failed polls (counter, not a state change) */
    uint16_t events_dropped; /* status events not kept (WM_MAX_EVENTS or no memory) */
    uint16_t stages_dropped; /* stage sightings not kept (WM_MAX_STAGES or no memory) */
    uint8_t last_status;     /* last observed workflowStatus, or WM_NO_STATUS */
    uint8_t end;             /* wm_end of the workflow */
    uint8_t nstages;         /* stages[0..nstages) in order of appearance */
    uint8_t nevents;         /* events[0..nevents) in order of observation */
    uint8_t events_cap;      /* allocated slots of events */
    wm_stage *stages;        /* owned array of exactly nstages */
    wm_event *events;        /* owned array of events_cap */
    char *error;             /* owned: workflowErrorMessage of a Failed workflow, else NULL */
    char workflow_id[];      /* NUL-terminated, inline */
} wm_monitor;

/* A monitor for `workflow_id` (1..WM_ID_MAX bytes, checked by the caller)
 * submitted at `submitted_at_ns`, made at `now_ns`, giving up at
 * now_ns + timeout_ns. NULL on allocation failure or a bad id. Free with
 * wm_monitor_free. */
wm_monitor *wm_monitor_new(const char *workflow_id, int64_t submitted_at_ns, int64_t now_ns, int64_t timeout_ns);
/* Free m and all it owns; NULL is ignored. */
void wm_monitor_free(wm_monitor *m);

/* A successful poll returned s (validated by wm_snapshot_parse for this
 * workflow): its request left at sent_ns and its reply arrived at
 * received_ns (>= sent_ns, same clock). Records the status events, new
 * stages and ends it shows; each event is bracketed by this poll's
 * received_ns and the previous successful poll's sent_ns, so a change the
 * API made on that clock lies inside its bracket. Returns WM_DONE when the workflow is complete (spans can be
 * built), else WM_RUNNING; a done monitor ignores further polls. If
 * `changed` is not NULL, *changed is 1 when the state changed (version
 * moved), 0 when the poll showed nothing new. Never fails: an event or a
 * stage that cannot be kept is counted (events_dropped, stages_dropped). */
int wm_monitor_apply(wm_monitor *m, const wm_snapshot *s, int64_t sent_ns, int64_t received_ns, int *changed);
/* A poll at poll_ns failed (connection, timeout, 5xx, bad JSON, contract;
 * `kind` is the caller's code, counted per kind by the caller): counts it
 * in poll_errors and changes nothing else. */
void wm_monitor_poll_failed(wm_monitor *m, int64_t poll_ns, int kind);
/* The API answered 404 at poll_ns: the workflow ends there as ERROR
 * "workflow not found by API", with its open stages. Returns WM_DONE. */
int wm_monitor_not_found(wm_monitor *m, int64_t poll_ns);
/* The timeout expired: the workflow and its open stages end as ERROR
 * "Monitor timed out" at min(now_ns, deadline). Returns WM_DONE. */
int wm_monitor_timeout(wm_monitor *m, int64_t now_ns);
/* created_ns + timeout_ns (saturating). */
int64_t wm_monitor_deadline(const wm_monitor *m);
/* 1 once the workflow's spans can be built. */
int wm_monitor_done(const wm_monitor *m);
/* Bytes m holds: sizeof, the inline id and every owned allocation as
 * requested (allocator overhead not included). */
size_t wm_monitor_size_bytes(const wm_monitor *m);

/* The stage's entityType / entityId. */
const char *wm_stage_type(const wm_stage *st);
const char *wm_stage_id(const wm_stage *st);

#endif
