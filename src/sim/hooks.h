/* hooks.h — the simulator sends the webhooks of the system it plays
 * (`extrace api --source github-actions --webhook-url URL --webhook-secret S`).
 *
 * Every tick (20 ms) the runs are caught up to now; each node whose state
 * moved since the last tick and that the persona announces (GitHub: the
 * run, its jobs) becomes one delivery rendered from its state now (moves
 * within one tick are one delivery, as a coarse sender would make them),
 * with the system's headers: X-GitHub-Event, a fresh X-GitHub-Delivery
 * (a GUID) and X-Hub-Signature-256 over the exact body. Deliveries go
 * out one at a time, in order, by libcurl on the api's loop; one that
 * finds no server or gets a 5xx is tried again (up to 12 times, 250 ms
 * later, doubling up to 8 s), ahead of the others.
 *
 * With --webhook-runs N the simulator also starts N runs of its own (one
 * every --webhook-every), so a worker can learn of them by webhooks alone.
 * For tests, deliveries can be disturbed: sent twice with the same
 * delivery id (--webhook-duplicates), held back behind the next one
 * (--webhook-reorder), or preceded by a forged copy whose signature is
 * wrong (--webhook-bad-signatures); each a chance per delivery. */
#ifndef EXTRACE_SIM_HOOKS_H
#define EXTRACE_SIM_HOOKS_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/rng.h"
#include "sim/routes.h"

typedef struct sim_hooks_config {
    const char *url;         /* where to POST (the worker's /hooks/<source>); must outlive the sender */
    const char *secret;      /* the shared secret; must outlive the sender */
    const char *self_url;    /* the api's own base URL, for links in payloads (copied) */
    int64_t runs;            /* runs to start of its own (0: only those the API is asked about) */
    int64_t every_ns;        /* one such start this often */
    double duplicates;       /* chance a delivery is sent again with its delivery id */
    double reorder;          /* chance a delivery is held back behind the next */
    double bad_signatures;   /* chance a forged copy with a wrong signature goes first */
    uint64_t seed;           /* of the sender's own random source (delivery ids, disturbances) */
} sim_hooks_config;

/* Counters, logged at the end. */
typedef struct sim_hooks_stats {
    uint64_t sent, answered_2xx, refused_4xx, failed, retried, duplicates, reordered, forged, started;
} sim_hooks_stats;

typedef struct sim_hooks sim_hooks;

/* Start sending for `api` (its persona must have deliveries) on `loop`.
 * NULL with err set. */
sim_hooks *sim_hooks_start(uv_loop_t *loop, sim_api *api, const sim_hooks_config *cfg, char *err, size_t errlen);
const sim_hooks_stats *sim_hooks_get_stats(const sim_hooks *h);
/* Stop (deliveries not sent are dropped); freed once libuv closed the handles. */
void sim_hooks_stop(sim_hooks *h);

#endif
