/* routes.h — the simulator's HTTP API as a function: request in, reply out.
 *
 *   GET  /workflows/{id}   the seed's poll: create on first sight, else advance; 200
 *   POST /workflows        create (body {"workflowId":"…"} optional); 201 / 409
 *   GET  /workflows?status=S&limit=N   ids of stored workflows in status S; 200
 *   GET  /healthz          {"status":"ok"}
 *   GET  /openapi.json     the contract (OpenAPI 3.0)
 *   GET  /debug/plan/{id}  with expose_plan only: the workflow's planned and actual transition
 *                          instants (unix ns), for tests; never advances it
 *
 * Errors are JSON {"error":"…"}: 400 bad id / query / body, 404 unknown
 * route or evicted workflow, 405 wrong method (with Allow), 409 POST of an
 * existing id, 413 body over SIM_BODY_MAX, 503 store full. HEAD is served
 * wherever GET is. No sockets here: the HTTP front (http.c) adapts it. */
#ifndef EXTRACE_SIM_ROUTES_H
#define EXTRACE_SIM_ROUTES_H
#include <stddef.h>
#include <stdint.h>

#include "sim/render.h"
#include "sim/store.h"
#include "sim/workflow.h"

#define SIM_BODY_MAX (64 * 1024)  /* largest request body accepted */
#define SIM_LIST_DEFAULT 100       /* ids listed when no limit is given */
#define SIM_LIST_MAX 1000          /* largest limit accepted */
#define SIM_REPLY_MAX (1024 * 1024) /* largest reply body */

/* Replies by status code, and what was refused. */
typedef struct sim_api_stats {
    uint64_t requests;       /* every request handled */
    uint64_t ok;             /* 2xx */
    uint64_t bad_request;    /* 400 */
    uint64_t not_found;      /* 404 (unknown route or evicted workflow) */
    uint64_t bad_method;     /* 405 */
    uint64_t conflict;       /* 409 */
    uint64_t too_large;      /* 413 */
    uint64_t unavailable;    /* 503 (store full) */
    uint64_t internal;       /* 500 (out of memory while answering) */
} sim_api_stats;

/* A GitHub-style primary rate limit: `limit` counted requests per
 * window, the window starting at the first counted request. */
typedef struct sim_ratelimit {
    int64_t limit;      /* requests per window; 0: no limit (and no headers) */
    int64_t window_ns;  /* window length, clock ns */
    int64_t reset_ns;   /* end of the current window, or 0 before the first request */
    int64_t used;       /* counted requests in the current window */
    int status;         /* answer once exceeded: 403 or 429 */
    uint64_t refused;   /* requests refused so far */
} sim_ratelimit;

/* The simulator: its workflows, where time and chance come from, and a
 * reply buffer reused by every request. One thread owns it. */
struct sim_faults;
struct sim_persona;

typedef struct sim_api {
    sim_store store;     /* workflows by id */
    sim_env env;         /* clock, rng, failure rate (pointers owned by the caller) */
    sim_buf reply;       /* body of the last reply */
    sim_api_stats stats; /* counters */
    struct sim_faults *faults; /* fault injection (faults.h), or NULL; owned by the caller; applied by http.c */
    int expose_plan;     /* serve GET /debug/plan/{id} */
    const struct sim_persona *persona; /* the system played (persona.h), or NULL: the seed's API */
    sim_ratelimit rate;  /* personas with a rate limit (GitHub) */
    uint64_t not_modified; /* 304 answers */
} sim_api;

/* One request, as the HTTP front received it; the caller owns the strings. */
typedef struct sim_request {
    const char *method;   /* "GET", "POST" … */
    const char *path;     /* percent-decoded path, without the query */
    const char *(*query)(void *ctx, const char *key); /* a query argument or NULL; may be NULL */
    void *query_ctx;      /* passed to query */
    const char *(*header)(void *ctx, const char *name); /* a request header or NULL; may be NULL */
    void *header_ctx;     /* passed to header */
    const char *body;     /* request body (not NUL-terminated), or NULL */
    size_t body_len;      /* its length */
    int body_too_large;   /* 1 if the body passed SIM_BODY_MAX (it was cut) */
} sim_request;

#define SIM_REPLY_HEADERS 10        /* most extra headers of one reply */
#define SIM_REPLY_HEADER_BYTES 4096 /* room for their names and values */

/* What to send back. `body` points into the api's reply buffer or at
 * static text; it stays valid until the next sim_api_handle. */
typedef struct sim_reply {
    int status;                         /* HTTP status code; 304 has no body */
    const char *body;                   /* JSON body */
    size_t body_len;                    /* its length */
    const char *content_type;           /* Content-Type, or NULL: application/json; charset=utf-8 */
    const char *allow;                  /* Allow header (405), or NULL */
    char location[16 + SIM_ID_MAX];     /* Location header (201), or "" */
    int nheaders;                       /* extra headers (personas: ETag, Link, X-RateLimit-*) */
    const char *hname[SIM_REPLY_HEADERS];
    const char *hvalue[SIM_REPLY_HEADERS]; /* point into hbuf */
    size_t hused;
    char hbuf[SIM_REPLY_HEADER_BYTES];
} sim_reply;

/* Add header `name` (a static string) with a formatted value to rep.
 * 0, or -1 when the reply has no room left (the header is not added). */
int sim_reply_header(sim_reply *rep, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The value of an extra header already added (case-insensitive), or NULL. */
const char *sim_reply_header_get(const sim_reply *rep, const char *name);

/* Set up an api with these bounds; env is copied (its clock and rng
 * must outlive the api). */
void sim_api_init(sim_api *api, const sim_env *env, size_t max_workflows, size_t max_evicted);
/* Free the workflows and buffers. */
void sim_api_destroy(sim_api *api);
/* Answer one request. Never fails: every problem is an error reply. */
void sim_api_handle(sim_api *api, const sim_request *req, sim_reply *rep);

/* 1 if a request of this method and path may be faulted: the seed's
 * GET /workflows/{id}, or a persona's item routes (persona.h). */
int sim_api_faultable(const sim_api *api, const char *method, const char *path);

/* Check a workflow id: 1..SIM_ID_MAX bytes of A-Z a-z 0-9 . _ -. Returns 0,
 * or -1 with a message naming the value and `source` written to why. */
int sim_id_check(const char *id, size_t len, const char *source, char *why, size_t whylen);

/* The OpenAPI 3.0 document of this API (static JSON text). */
const char *sim_openapi_json(size_t *len);

#endif
