/* poller.h — GET <api-url>/workflows/<id>, many at once, on the loop.
 *
 * A pool of at most max_concurrent slots, made on first use and reused.
 * The seed's polls of a plain http:// API (no proxy variable set) go over
 * the HTTP/1.1 client (net/h1_uv.h: kept-alive connections, request bytes
 * built once); anything else over curl easy handles, one per slot, on one
 * multi handle (ex_curl_loop). Both keep connections to the API alive
 * between polls and report failures with libcurl's codes and texts. Each poll has a timeout and a
 * bounded response body. Its outcome is classified once, here:
 *   OK         200 with a body that wm_snapshot_parse accepts
 *   NOT_FOUND  404
 *   FAILED     kind connect | timeout | http_5xx | http_other | json | contract
 *   ABORTED    the poller was destroyed while the poll ran
 * and handed to the worker's callback, with the wall-clock instants the
 * request left and the answer arrived (a transition the API reports in
 * this answer happened before the latter; one absent from the previous
 * answer happened after that answer's request left). The seed's 200
 * whose body is byte for byte the document the caller applied last (its
 * XXH3-64 equals the hash the poll was started with) is OK and unchanged
 * without being parsed; any other OK answer carries its body's hash, for
 * the caller to start the next poll with once it applied it. The caller decides what waits when
 * every slot is busy (wk_poller_has_slot). */
#ifndef EXTRACE_WORKER_POLLER_H
#define EXTRACE_WORKER_POLLER_H
#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "worker/metrics.h"
#include "model/snapshot.h"
#include "worker/snapshot.h"

typedef enum { WK_POLL_OK, WK_POLL_NOT_FOUND, WK_POLL_FAILED, WK_POLL_ABORTED } wk_poll_outcome;

/* The outcome of one poll; valid only during the callback. */
typedef struct wk_poll_result {
    wk_poll_outcome outcome;
    wk_poll_error kind;      /* FAILED: why */
    const mdl_snapshot *snap; /* OK: the parsed answer as a canonical tree; else NULL */
    long http_status;        /* the answer's status, 0 when there was none */
    double seconds;          /* from the start of the poll to its outcome */
    int64_t sent_ns;         /* wall clock (unix ns) just before the request was sent (curl's pre-request
                                callback; the poll's start if the request never left) */
    int64_t received_ns;     /* wall clock when the transfer finished, before the answer was parsed */
    int64_t date_ns;         /* the answer's Date header (unix ns, whole seconds), or -1 without one */
    int64_t retry_after_ns;  /* 429/503 with a valid Retry-After (RFC 9110 §10.2.3): the delay asked for; else -1 */
    char why[512];           /* FAILED: a message naming the status, error or offending value */
    int unchanged;           /* OK without snap: every answer was 304 Not Modified (nothing changed), or
                                the same document as the one applied last (same_doc) */
    int same_doc;            /* unchanged: the seed's 200 with the body of the hash the poll was started with */
    uint64_t doc_hash;       /* OK with snap, the seed's: XXH3-64 of the body; else 0 */
    int map_error;           /* FAILED kind map: the sr_jq_error of the profile's jq program */
    int64_t pause_ns;        /* the API's rate-limit headers ask every poll to wait this long (0: no) */
    int pause_reason;        /* … sr_pace_reason */
} wk_poll_result;

/* Called once per started poll, on the loop; `tag` is the caller's. The
 * callback may start new polls (the finished poll's slot is free). */
typedef void (*wk_poll_cb)(void *arg, void *tag, const wk_poll_result *r);

typedef struct wk_poller_config {
    const char *api_url;  /* base URL, e.g. http://localhost:5146 (copied; a trailing '/' is dropped) */
    int max_concurrent;   /* polls in flight at most (easy handles in the pool) */
    int64_t timeout_ns;   /* per poll, connection included */
    size_t max_body;      /* bytes of a response body; more is a contract error */
    unsigned parse_flags; /* WM_PARSE_* extensions of the contract to read (0: the seed's) */
    const struct wk_source *source; /* the source: NULL or the seed's = GET <api_url>/workflows/<id> */
    size_t cond_cache_max; /* profile sources: bytes of answers kept for conditional requests */
    int pipeline_depth;    /* the HTTP/1.1 client: requests in flight on one connection (0 or 1: no pipelining) */
    int64_t batch_window_ns; /* … and its loop pacing (ex_h1_pool_pace; 0: off) */
} wk_poller_config;

typedef struct wk_poller wk_poller;

/* A poller on `loop` calling cb(arg, tag, result) for each poll. NULL
 * with err set if the URL is unusable or memory runs out. */
wk_poller *wk_poller_new(uv_loop_t *loop, const wk_poller_config *cfg, wk_poll_cb cb, void *arg, char *err,
                         size_t errlen);
/* 1 if a poll can start now. */
int wk_poller_has_slot(const wk_poller *p);
/* Polls in flight. */
int wk_poller_active(const wk_poller *p);
/* Start polling `workflow_id` (checked by the caller: the seed's goes into
 * the URL as is; a profile's key is split into its parts and encoded).
 * doc_hash: the doc_hash of the answer applied last, still valid (0:
 * none; profile sources ignore it). 0, or -1 if no slot is free, the poller is closing, or curl
 * refused (the callback is not called then). */
int wk_poller_start(wk_poller *p, const char *workflow_id, uint64_t doc_hash, void *tag);
/* Forget what was kept for conditional requests of workflow `key` (it ended). */
void wk_poller_forget(wk_poller *p, const char *key);
/* Abort every poll (each callback runs with ABORTED, synchronously), then
 * release everything; the memory of the curl loop is freed once libuv has
 * closed its handles (run the loop afterwards). NULL is ignored. */
void wk_poller_destroy(wk_poller *p);

/* Classify one finished transfer (pure; exposed for tests): curl's result
 * `code` (with its error text, may be ""), the HTTP status, the body and
 * whether it was cut at the limit. On OK the snapshot is parsed into
 * *snap with wm_snapshot_parse_flags(flags), described as a tree in
 * *tree (initialised by the caller), and r->snap points at the tree.
 * Fills every field of *r but seconds and the times (date_ns = -1). */
void wk_poll_classify(CURLcode code, const char *curl_err, long status, const char *body, size_t len,
                      int too_large, size_t max_body, const char *workflow_id, unsigned flags, wm_snapshot *snap,
                      mdl_snapshot *tree, wk_poll_result *r);

/* wk_poll_classify of the seed's answer to a poll started with doc_hash:
 * a 200 with a body of that hash (not 0) is OK, unchanged and same_doc,
 * not parsed; an OK answer carries its body's hash. Pure. */
void wk_poll_classify_doc(CURLcode code, const char *curl_err, long status, const char *body, size_t len,
                          int too_large, size_t max_body, const char *workflow_id, unsigned flags, uint64_t doc_hash,
                          wm_snapshot *snap, mdl_snapshot *tree, wk_poll_result *r);

/* The delay a 429 or 503 answer asks for in its Retry-After value
 * (seconds or an HTTP-date, relative to now_ns, unix ns), or -1 for any
 * other status, a missing (NULL) or an unparseable value. Pure. */
int64_t wk_poll_retry_after(long status, const char *value, int64_t now_ns);

/* An HTTP Date header value (IMF-fixdate, RFC 850 or asctime) as unix ns
 * (whole seconds), or -1 for NULL or an unparseable value. Pure. */
int64_t wk_poll_http_date(const char *value);

#endif
