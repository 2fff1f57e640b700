/* snapshot.h — one answer of the external API, typed and validated.
 *
 * GET /workflows/{id} answers with the workflow as JSON (its shape:
 * docs/sim.md, "JSON"). wm_snapshot_parse checks that answer against the
 * contract and copies it into a wm_snapshot, a fixed-size plain struct
 * (about 11 KiB: it lives for one poll, on the stack or reused by the
 * poller). An answer is read with yajl's callbacks, without a tree
 * (snapshot_fast.c; yajl's state in a stack arena); what that path does
 * not accept is read again by jansson, which writes the message, so every
 * message below is jansson's path's (snapshot_int.h, docs/worker.md,
 * "Reading the seed's answer").
 *
 * Bounds: at most WM_MAX_STAGES entities; entity types 1–64 bytes of
 * [A-Za-z0-9_.-]; entity ids 1–128 bytes; error messages longer than
 * WM_MSG_MAX bytes are cut at a UTF-8 character boundary and end with
 * WM_TRUNCATED (a long message is still a message, not a violation). */
#ifndef EXTRACE_WORKER_SNAPSHOT_H
#define EXTRACE_WORKER_SNAPSHOT_H
#include <stddef.h>
#include <stdint.h>

#define WM_MAX_STAGES 8             /* entities per workflow */
#define WM_ID_MAX     128           /* bytes of a workflow or entity id */
#define WM_TYPE_MAX   64            /* bytes of an entity type (stage name) */
#define WM_MSG_MAX    1024          /* bytes of an error message, marker included */
#define WM_BODY_MAX   (1024 * 1024) /* bytes of a response body */
#define WM_TRUNCATED  "...[truncated]"
#define WM_NO_TIME    INT64_MIN     /* a time that is not known (yet) */

/* Error codes of the worker's pure core (src/worker/{snapshot,monitor,spans}). */
enum {
    WM_ERR_JSON = -1,     /* body is not JSON, or not a JSON object */
    WM_ERR_CONTRACT = -2, /* JSON, but it breaks the API contract */
    WM_ERR_NOMEM = -3,    /* allocation failed */
    WM_ERR_STATE = -4,    /* call not allowed in the object's state */
};

/* Workflow and entity status, in the seed's enum order. */
typedef enum { WM_INITIALIZING, WM_PROCESSING, WM_COMPLETED, WM_FAILED, WM_NSTATUS } wm_status;

/* One entity (stage) of the workflow, as the API reported it. */
typedef struct wm_snap_stage {
    char type[WM_TYPE_MAX + 1]; /* entityType, equal to its key in workflowEntities */
    char id[WM_ID_MAX + 1];     /* entityId, non-empty */
    wm_status status;           /* entityStatus */
    int complete;               /* isComplete: Completed or Failed, with an end time */
    int64_t start_ns;           /* entityStartTime */
    int64_t end_ns;             /* entityEndTime (>= start), or WM_NO_TIME while not complete */
    int64_t processing_ns;      /* entityProcessingStartTime (with WM_PARSE_PROCESSING_TIME), or WM_NO_TIME */
    int has_error;              /* entityErrorMessage was present (may be "") */
    char error[WM_MSG_MAX + 1]; /* entityErrorMessage, possibly truncated */
} wm_snap_stage;

/* The workflow, as the API reported it. */
typedef struct wm_snapshot {
    wm_status status;                     /* workflowStatus */
    int complete;                         /* isComplete: Completed or Failed, with an end time */
    int64_t start_ns;                     /* workflowStartTime */
    int64_t end_ns;                       /* workflowEndTime (>= start), or WM_NO_TIME */
    int has_error;                        /* workflowErrorMessage was present (may be "") */
    char error[WM_MSG_MAX + 1];           /* workflowErrorMessage, possibly truncated */
    size_t nstages;                       /* stages[0..nstages) exist, in the API's order */
    wm_snap_stage stages[WM_MAX_STAGES];  /* workflowEntities */
} wm_snapshot;

/* "Initializing", "Processing", "Completed", "Failed"; "?" otherwise. */
const char *wm_status_name(int status);

/* Parse `len` bytes of `body` (need not be NUL-terminated) into *out.
 * The workflow must be `expected_workflow_id`. Unknown extra fields are
 * ignored; optional fields may be absent or null. Returns 0, WM_ERR_JSON
 * or WM_ERR_CONTRACT; on error `why` (whylen bytes, may be NULL/0) names
 * the field and the offending value, e.g.
 *   workflowStatus: unknown status "Running"
 * and *out is unspecified. The caller owns everything. */
int wm_snapshot_parse(const char *body, size_t len, const char *expected_workflow_id, wm_snapshot *out,
                      char *why, size_t whylen);

/* Read entityProcessingStartTime, an extension of the seed's contract
 * (`extrace api --advance on-time` sends it): optional; when present the
 * entity must be past Initializing and the time within [start, end]. */
#define WM_PARSE_PROCESSING_TIME 1u

/* wm_snapshot_parse with extensions: `flags` is a set of WM_PARSE_*.
 * Without flags it is wm_snapshot_parse exactly (every extension is an
 * unknown field, ignored). */
int wm_snapshot_parse_flags(const char *body, size_t len, const char *expected_workflow_id, unsigned flags,
                            wm_snapshot *out, char *why, size_t whylen);

#endif
