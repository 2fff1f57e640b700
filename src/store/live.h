/* live.h — workflows in flight, read from the workers' live APIs
 * (`extrace store --live URL[,URL…]`, docs/store.md "Live workflows").
 *
 * The store polls every worker's GET /api/workflows (docs/worker.md) on
 * its query thread and keeps each worker's last answer; the query API
 * serves the merged view:
 *
 *   GET /api/live                      every worker's state and its workflows
 *   GET /api/live/workflows/<key>      one workflow with its events so far
 *
 * The pure part (this header's slv_* functions on slv_worker) parses and
 * merges answers; live_poll.c does the HTTP on the query thread's loop;
 * live_api.c answers the routes. */
#ifndef EXTRACE_STORE_LIVE_H
#define EXTRACE_STORE_LIVE_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/httpd_uv.h"
#include "store/query_api.h"

#define SLV_MAX_WORKERS 16          /* --live URLs */
#define SLV_URL_MAX 512             /* bytes of one URL */
#define SLV_PAGE 1000               /* workflows asked of each worker per poll (limit=) */
#define SLV_MAX_BODY (16u << 20)    /* a worker's answer larger than this is refused */
#define SLV_MAX_WATCH 16            /* workflows whose events are fetched (last asked for) */
#define SLV_WATCH_NS (15 * INT64_C(1000000000)) /* a workflow's events are fetched this long after it was asked for */
#define SLV_MAX_EVENTS 2000         /* events kept of one workflow */

/* The last known state of one worker. */
typedef struct slv_worker {
    char url[SLV_URL_MAX]; /* admin base URL, no trailing '/' */
    int polled;            /* a poll has finished */
    int answered;          /* the last poll got a valid list */
    char error[1200];      /* why the last poll failed ("" when answered) */
    json_t *workflows;     /* the last valid list, each W with "worker" added (owned; NULL when !answered) */
    int64_t in_flight;     /* its worker.inFlight */
    int64_t total;         /* its "total" (workflows matching; may exceed what was listed) */
    int64_t polled_ns;     /* wall time the last poll finished (0: none yet) */
    int64_t answered_ns;   /* wall time of the last valid answer (0: none) */
} slv_worker;

/* Split "URL[,URL…]" into base URLs (http:// or https://, trailing '/'
 * removed) in urls[0..*n). 0, or -1 with why naming the bad item. */
int slv_urls_parse(const char *csv, char urls[][SLV_URL_MAX], size_t max, size_t *n, char *why, size_t whylen);
/* ex_opt_check_fn for --live. */
int slv_check_urls(const char *text, char *why, size_t whylen);

/* Record the end of one poll of w at now_ns: curl_error non-NULL when
 * no answer came (its message), else the HTTP status and body. A valid
 * list replaces the previous one; anything else clears it and sets
 * w->error to a sentence naming the worker's URL and what went wrong. */
void slv_worker_update(slv_worker *w, const char *curl_error, long status, const char *body, size_t len,
                       int64_t now_ns);
/* Forget w's list (at shutdown). */
void slv_worker_clear(slv_worker *w);

/* The merged view: {"time","workers":[…],"inFlight","workflows":[W…]}
 * (docs/store.md), workflows of answering workers in worker order, each
 * worker's in its own order; only those whose traceId equals trace_id /
 * status equals status when either is non-NULL. NULL when out of memory. */
json_t *slv_merged(const slv_worker *ws, size_t n, const char *trace_id, const char *status, int64_t now_ns);
/* The workflow `key` (from source `source` when not NULL) in the answering
 * workers' lists: borrowed W, *worker its worker's index; NULL when none. */
json_t *slv_find(const slv_worker *ws, size_t n, const char *key, const char *source, size_t *worker);
/* The events of a worker's GET /api/workflows/<key> answer (a new
 * reference to a validated array of at most SLV_MAX_EVENTS), or NULL with
 * why set when the body is not such an answer. */
json_t *slv_detail_events(const char *body, size_t len, char *why, size_t whylen);
/* RFC 3339 UTC with milliseconds of a wall time in ns. */
void slv_time(int64_t ns, char *out, size_t outlen);

/* ---- the poller (live_poll.c), on the query thread ---------------------- */

typedef struct slv slv;

/* Poll each URL of csv (checked by slv_check_urls) every interval_ns on
 * loop. NULL with err set on failure. */
slv *slv_start(uv_loop_t *loop, const char *csv, int64_t interval_ns, char *err, size_t errlen);
/* Stop polling and free everything once the loop has closed the handles
 * (run the loop afterwards). NULL is ignored. */
void slv_stop(slv *lv);
/* The workers' states (n of them). */
const slv_worker *slv_workers(const slv *lv, size_t *n);
/* The events fetched for (key, source) and the time of that fetch, after
 * asking for them: the poller fetches the events of the last
 * SLV_MAX_WATCH workflows asked for during SLV_WATCH_NS. Borrowed; NULL
 * when not fetched yet. */
json_t *slv_watch(slv *lv, const char *key, const char *source, size_t worker, int64_t *fetched_ns);

/* ---- the routes (live_api.c) --------------------------------------------- */

/* Answer GET /api/live and /api/live/workflows/<key> from lv (NULL: the
 * store has no --live: an empty view). 1 when the path is one of them
 * (answered), else 0. */
int slv_route(slv *lv, const sq_request *req, ex_http_resp *resp);
/* GET /api/ui/trace/<id>, the trace page's one request while a workflow
 * may run: {"stored": the stored trace as /api/v2/traces/<id> answers it,
 * or null, "live": {"time","workers","inFlight","workflow": W with its
 * "events", or null}} — 200 whether or not either exists, so the page
 * polls it without 404s. Reads ctx's database. 1 when the path is this
 * route (answered), else 0. */
int slv_trace_route(slv *lv, sq_ctx *ctx, const sq_request *req, ex_http_resp *resp);

#endif
