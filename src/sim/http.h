/* http.h — the simulator's HTTP/1.1 front, on libmicrohttpd.
 *
 * MHD runs without a thread of its own, driven by a libuv loop behind a
 * listener that applies connection limits and deadlines (net/mhd_uv.h). Every request is answered on the
 * loop's thread, so the sim_api needs no locks. (MHD 0.9.75's own polling
 * thread is not used: when epoll_wait returns exactly its 128-event
 * maximum, it waits again with the blocking timeout before serving the
 * 128 ready connections, so 128 or 256 busy clients stall for seconds.
 * Driven from outside, MHD's epoll_wait never blocks.)
 * Keep-alive is on; request bodies are read up to SIM_BODY_MAX (413 past
 * it), connections as the limits allow. With api->faults set
 * (sim/faults.h) before sim_http_start, GET /workflows/{id} is faulted
 * (500, garbage, or the connection closed unanswered) and delayed by the
 * latency: the connection is suspended and resumed by a uv_timer, so the
 * loop keeps serving others meanwhile. */
#ifndef EXTRACE_SIM_HTTP_H
#define EXTRACE_SIM_HTTP_H
#include <stddef.h>
#include <uv.h>

#include "net/listener.h"
#include "sim/routes.h"

/* Per-connection memory for request headers and the reply's head. MHD
 * clears it for every request, so its size is a per-request cost: 8 KiB
 * instead of MHD's 32 KiB default measured 104-114k instead of 66-98k
 * requests/s (bench/README.md). Requests with more header bytes than fit
 * get MHD's own 431 answer. */
#define SIM_HTTP_CONN_MEMORY (8 * 1024)

typedef struct sim_http sim_http;

/* Listen on `listen` ("HOST:PORT", "[v6]:PORT"; port 0 picks a free one)
 * and serve `api` on `loop` within *limits; loop and api must outlive the
 * server. Returns the server, or NULL with the reason in err. */
sim_http *sim_http_start(uv_loop_t *loop, sim_api *api, const char *listen, const ex_conn_limits *limits,
                         char *err, size_t errlen);
/* Its listener (connection counters). */
const ex_listener *sim_http_listener(const sim_http *h);
/* The port actually listened on. */
int sim_http_port(const sim_http *h);
/* Stop listening and close every connection now; the memory is freed
 * once libuv has closed the handles (run the loop afterwards). NULL is
 * ignored. */
void sim_http_stop(sim_http *h);

#endif
