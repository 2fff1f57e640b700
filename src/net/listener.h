/* listener.h — a TCP listening socket on a libuv loop that applies an
 * ex_conn_limits (conn_guard.h) to what it accepts.
 *
 * The listening socket is ours and watched by libuv directly, so it keeps
 * accepting whatever the server behind it does. Each accepted connection
 * is admitted or refused at once:
 *   - over max_conns or max_per_client: the refusal bytes of the config
 *     (an HTTP 503, an HTTP/2 GOAWAY) are written without waiting and the
 *     socket is closed; counted, and logged at most every 10 s;
 *   - admitted: the owner gets the socket (non-blocking) and a slot, tells
 *     the slot which phase the connection is in (ex_listener_phase), and
 *     releases the slot when it has closed the socket. A connection still
 *     in a phase at that phase's deadline gets shutdown(2): the owner sees
 *     end-of-file and closes it as it would any other.
 * When accept(2) fails for want of file descriptors, accepting pauses for
 * 100 ms instead of spinning. */
#ifndef EXTRACE_NET_LISTENER_H
#define EXTRACE_NET_LISTENER_H
#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

#include "net/conn_guard.h"

typedef struct ex_listener ex_listener;
typedef struct ex_conn_slot ex_conn_slot;

/* An admitted connection: fd is the owner's from now on. */
typedef void (*ex_listener_accept_fn)(void *arg, int fd, const struct sockaddr *sa, socklen_t salen,
                                      ex_conn_slot *slot);

typedef struct ex_listener_cfg {
    const char *name;          /* log component, e.g. "query", "otlp-grpc" */
    const char *flag_prefix;   /* prefix of the limit flags in messages ("" or "admin-") */
    ex_conn_limits limits;
    const char *refusal;       /* bytes written to a refused connection, or NULL */
    size_t refusal_len;
    ex_listener_accept_fn on_accept;
    void *arg;
} ex_listener_cfg;

/* Listen on "host:port" (numeric IPv4 or IPv6 address; port 0 picks one).
 * NULL with err set (naming the address) on failure. */
ex_listener *ex_listener_start(uv_loop_t *loop, const char *listen, const ex_listener_cfg *cfg, char *err,
                               size_t errlen);
int ex_listener_port(const ex_listener *l);
const ex_conn_stats *ex_listener_stats(const ex_listener *l);
/* Append the listener's counters to a Prometheus text at buf (cap bytes,
 * NUL-terminated, truncated when short), as
 *   <prefix>_connections_open{listener="<name>"} …
 *   <prefix>_connections_accepted_total …
 *   <prefix>_connections_refused_total{…,reason="max_connections"|"max_per_client"}
 *   <prefix>_connections_timed_out_total{…,phase="headers"|"body"|"idle"}
 * Returns the length written. */
size_t ex_listener_metrics(const ex_listener *l, const char *prefix, char *buf, size_t cap);

/* Log the counters at info level under component, e.g.
 * "query connections: 5 accepted, 0 refused at --max-connections, …". */
void ex_listener_log_stats(const ex_listener *l, const char *component);

/* The connection of slot now waits for phase (its deadline counts from now). */
void ex_listener_phase(ex_conn_slot *slot, ex_conn_phase phase);
/* The owner has closed slot's socket: the slot is freed. */
void ex_listener_release(ex_conn_slot *slot);

/* Stop accepting and close the listening socket. Connections still open
 * stay the owner's; l is freed once they are all released and libuv has
 * closed its handles (keep running the loop). */
void ex_listener_stop(ex_listener *l);

#endif
