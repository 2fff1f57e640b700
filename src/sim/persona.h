/* persona.h — the external systems the simulator can play.
 *
 * `extrace api --source NAME` serves, instead of the seed's API, the public
 * API of another system: the same endpoints, field names, status words,
 * headers and paging (docs/sim.md#personas). Each such persona lives in its
 * own file (persona_<name>.c) and registers one sim_persona. It plans each
 * workflow with the planned-transition engine (run.h) and renders the
 * system's JSON from the plan's current state; the engine moves the plan
 * (--advance, --time-scale), the api stores the runs (store.h: bound,
 * eviction), and faults apply to the persona's item routes (faults.h).
 *
 * This header also holds the helpers the personas share: finding or
 * creating a run by key, ETag / If-None-Match, paging arguments, time
 * formats and JSON strings. */
#ifndef EXTRACE_SIM_PERSONA_H
#define EXTRACE_SIM_PERSONA_H
#include <stddef.h>
#include <stdint.h>

#include "sim/render.h"
#include "sim/routes.h"
#include "sim/run.h"

/* Plan a new run for `key` (the workflow's key, parts joined by '/'),
 * created at the clock's now; NULL if out of memory. */
typedef sim_run *(*sim_plan_fn)(const char *key, const sim_env *env);

/* One registered persona. */
typedef struct sim_persona {
    const char *name;     /* the --source value and the profile's name: "github-actions" */
    const char *summary;  /* one line: what it serves */
    const char *example;  /* an example key */
    /* Answer any request but GET /healthz. Never fails: problems are
     * error replies in the system's own error format. */
    void (*handle)(sim_api *api, const sim_request *req, sim_reply *rep);
    /* 1 if a GET of this (percent-decoded) path is an item route, the
     * one fault injection applies to (like the seed's GET /workflows/{id}). */
    int (*faultable)(const char *path);
    /* Plan a run (tests call it to check plans directly). */
    sim_plan_fn plan;
    /* A new random key for `extrace generate --source` into buf (len
     * bytes, >= 128). */
    void (*new_key)(ex_rng *rng, int64_t now_ns, char *buf, size_t len);
    /* The webhook delivery announcing node `node` of rec's run as it is
     * now (hooks.h), into b, its event name in *event; links use `base`.
     * 0, 1 when that node's changes are not announced (a step), -1 when
     * b overflowed. NULL: the system sends no webhooks here. */
    int (*delivery)(const sim_record *rec, int node, const char *base, sim_buf *b, const char **event);
} sim_persona;

extern const sim_persona sim_persona_github;
extern const sim_persona sim_persona_argo;
extern const sim_persona sim_persona_airflow;

/* The persona named `name`, or NULL (also for "seed", the seed's API). */
const sim_persona *sim_persona_find(const char *name);
/* Every source name the simulator plays, "seed" first, comma-separated. */
const char *sim_persona_names(void);
/* Check a --source value: 0, or -1 with the reason in why. */
int sim_persona_check(const char *name, char *why, size_t whylen);

/* ---- helpers shared by the personas ---- */

enum { SIM_RUN_OK = 0, SIM_RUN_EVICTED = -1, SIM_RUN_FULL = -2, SIM_RUN_NOMEM = -3 };

/* The run stored under key, caught up to now; created and planned with
 * `plan` when unknown (a real system would answer 404: the simulator
 * creates on first sight, as the seed's API does). SIM_RUN_OK with *out
 * set, or SIM_RUN_EVICTED / _FULL / _NOMEM. */
int sim_persona_run(sim_api *api, const char *key, sim_plan_fn plan, sim_record **out);
/* Catch every stored run up to now (before a listing). */
void sim_persona_catch_up_all(sim_api *api);

/* Point rep at the api's reply buffer with `status`; 500 if it overflowed. */
void sim_persona_reply(sim_api *api, sim_reply *rep, int status, int render_rc);
/* Give a 200 reply an ETag (a weak validator over its body) and answer
 * 304 without a body when the request's If-None-Match names it. Returns
 * 1 if it became 304. */
int sim_persona_etag(sim_api *api, const sim_request *req, sim_reply *rep);

/* Split a path into at most max segments (no empty ones; a trailing '/'
 * is ignored). Returns the count, or max + 1 if there are more. */
int sim_path_split(const char *path, const char **seg, size_t *len, int max);
/* 1 if segment (s, n) equals the C string t. */
int sim_seg_is(const char *s, size_t n, const char *t);

/* A query argument as an integer in [min, max]; absent: def. 0, or -1 when
 * it is present but not such an integer. */
int sim_query_long(const sim_request *req, const char *key, long def, long min, long max, long *out);
/* "http://<Host header>" (or http://localhost) into buf: links' base. */
void sim_request_base(const sim_request *req, char *buf, size_t len);

/* Time formats. Fractions are written only when the instant is not a
 * whole second (at --time-scale 1 planned instants are). */
typedef enum {
    SIM_TIME_Z,      /* 2024-05-01T10:00:03Z, 2024-05-01T10:00:03.25Z (GitHub, Kubernetes) */
    SIM_TIME_OFFSET, /* 2024-05-01T10:00:03+00:00, …03.250000+00:00 (Airflow, pendulum) */
} sim_time_style;
/* Append the instant as a JSON string, or null for SIM_NO_TIME. 0 or -1. */
int sim_put_time(sim_buf *b, int64_t ns, sim_time_style style);
/* Format an instant into buf (>= 40 bytes); returns buf. */
char *sim_format_time(int64_t ns, sim_time_style style, char *buf);
/* Append s as a JSON string: only ", \ and control bytes escaped, UTF-8 kept. */
int sim_put_str(sim_buf *b, const char *s);
/* Append s (n bytes) likewise. */
int sim_put_strn(sim_buf *b, const char *s, size_t n);

/* Apply the GitHub-style rate limit to one request, before answering it:
 * 0 if it may be served, -1 if the limit is spent (rep then holds the
 * refusal: api->rate.status, the body given). */
int sim_rate_check(sim_api *api, sim_reply *rep, const char *refusal_body);
/* After answering: count the request unless it was a 304, and add the
 * X-RateLimit-* headers. No-op without a limit. */
void sim_rate_account(sim_api *api, sim_reply *rep);

#endif
