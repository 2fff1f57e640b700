/* webhook_int.h — what webhook.c and webhook_stream.c share. */
#ifndef EXTRACE_WORKER_WEBHOOK_INT_H
#define EXTRACE_WORKER_WEBHOOK_INT_H
#include <stdint.h>

#include "net/httpd_uv.h"
#include "source/webhook_map.h"
#include "source/webhook_sig.h"
#include "worker/webhook.h"
#include "worker/worker_int.h"

#define WH_TEXT "text/plain; charset=utf-8"

/* The result label of each answer (extrace_webhooks_total{result}). */
typedef enum {
    WH_ACCEPTED, WH_DUPLICATE, WH_IGNORED, WH_FINISHED, WH_UNSIGNED, WH_BAD_SIGNATURE, WH_BAD_PAYLOAD, WH_NOT_FOUND,
    WH_BAD_METHOD, WH_CAPACITY, WH_UNAVAILABLE, WH_NRESULTS
} wh_result;

struct wk_webhook {
    ex_httpd *httpd;       /* owned */
    wk_worker *w;          /* not owned */
    const sr_webhook *cfg; /* the profile's section */
    sr_jq *jq;             /* owned: webhook.map compiled */
    sr_dedup deliveries;   /* delivery ids seen last */
    sr_dedup finished;     /* keys of workflows finished here */
    uint64_t counts[WH_NRESULTS];
    uint64_t observations; /* exact observations applied to a monitor */
    /* stream mode (webhook_stream.c) */
    uint64_t added;        /* workflows a delivery added to the stream */
    uint64_t known;        /* deliveries about a workflow started already (by a delivery, a listing, elsewhere) */
    uint64_t replayed;     /* deliveries whose id Redis had taken already */
    uint64_t redis_errors; /* deliveries Redis did not take (answered 503) */
    unsigned inflight;     /* deliveries awaiting Redis (their senders wait: ex_http_defer) */
    int stopped;           /* wk_webhook_stop ran: the last answer from Redis frees it */
};

/* A request header's value, or NULL. */
const char *wh_header(const ex_http_req *req, const char *name);
/* Count the answer, log a refusal (at most a few a second: wk_event_warn) and answer. */
void wh_answer(wk_webhook *h, ex_http_resp *resp, wh_result r, int status, const char *delivery, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Apply hk's state to e's monitor as an exact observation (if it has one). */
void wh_observe(wk_webhook *h, wk_entry *e, const sr_hook *hk, int64_t now);
/* Stream mode: de-duplicate the delivery and start the workflow through
 * Redis (webhook_stream.c); answers. */
void wh_deliver_durable(wk_webhook *h, const ex_http_req *req, ex_http_resp *resp, sr_hook *hk, const char *delivery);
/* Free h (its server stopped, nothing awaiting Redis). */
void wh_free(wk_webhook *h);
/* Its counters (stream mode). */
void wh_render_durable(const wk_webhook *h, wk_text *t);

#endif
