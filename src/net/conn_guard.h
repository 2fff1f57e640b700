/* conn_guard.h — the rules every listener applies to its connections, as
 * pure logic (no sockets; the clock is passed in): a limit on connections
 * open at once, one per client address, an absolute deadline for each
 * phase of a request (headers, body, the idle wait between two requests),
 * and a rate limit on the log lines that report refusals and deadlines.
 *
 * listener.c applies them to real sockets; the counters here are what the
 * processes report (worker /metrics, the store's and api's stats). */
#ifndef EXTRACE_NET_CONN_GUARD_H
#define EXTRACE_NET_CONN_GUARD_H
#include <stddef.h>
#include <stdint.h>

/* The limits of one listener. Timeouts in milliseconds; 0 turns a limit off. */
typedef struct ex_conn_limits {
    int64_t max_conns;         /* connections open at once */
    int64_t max_per_client;    /* connections open at once from one client address */
    int64_t header_timeout_ms; /* from accept to the end of the first request's headers */
    int64_t body_timeout_ms;   /* from the end of a request's headers to the end of its body */
    int64_t idle_timeout_ms;   /* from the end of a request to the end of the next one's headers */
} ex_conn_limits;

/* The defaults of the store's and the api's listeners (docs/operations.md):
 * 1000 connections, 100 per client, 10 s for headers, 60 s for a body,
 * 60 s idle between requests. */
#define EX_CONN_LIMITS_DEFAULT ((ex_conn_limits){1000, 100, 10000, 60000, 60000})

/* What a connection is waiting for; each phase has its own deadline. */
typedef enum {
    EX_PHASE_HEADERS, /* the first request's headers (header_timeout) */
    EX_PHASE_BODY,    /* the body of a request whose headers arrived (body_timeout) */
    EX_PHASE_REPLY,   /* the server's answer: no deadline of ours */
    EX_PHASE_IDLE,    /* the next request after one was answered (idle_timeout) */
} ex_conn_phase;

#define EX_CONN_PHASES 4

/* Counters of one listener since start. */
typedef struct ex_conn_stats {
    uint64_t accepted;                   /* connections admitted */
    uint64_t refused_full;               /* refused: max_conns reached */
    uint64_t refused_client;             /* refused: max_per_client reached for the client */
    uint64_t timed_out[EX_CONN_PHASES];  /* closed at a phase's deadline */
    int64_t open;                        /* connections open now */
} ex_conn_stats;

typedef enum { EX_GUARD_ADMIT, EX_GUARD_FULL, EX_GUARD_CLIENT_FULL } ex_guard_verdict;

typedef struct ex_conn_guard ex_conn_guard;

/* A guard applying *limits (copied). NULL when out of memory. */
ex_conn_guard *ex_guard_new(const ex_conn_limits *limits);
void ex_guard_free(ex_conn_guard *g);
const ex_conn_limits *ex_guard_limits(const ex_conn_guard *g);
const ex_conn_stats *ex_guard_stats(const ex_conn_guard *g);

/* Decide on a new connection from client (its address bytes, at most 16).
 * An admitted one is counted open until ex_guard_release with the same
 * client; a refused one is counted as refused. EX_GUARD_FULL also when
 * memory for a new client's entry runs out. */
ex_guard_verdict ex_guard_admit(ex_conn_guard *g, const void *client, size_t len);
/* A connection admitted for client has closed. */
void ex_guard_release(ex_conn_guard *g, const void *client, size_t len);
/* Connections open now from client. */
int64_t ex_guard_client_open(const ex_conn_guard *g, const void *client, size_t len);

/* The time (ms, same clock as since_ms) at which a connection that entered
 * phase at since_ms is closed; UINT64_MAX when the phase has no deadline. */
uint64_t ex_guard_deadline(const ex_conn_limits *l, ex_conn_phase phase, uint64_t since_ms);
/* Count a connection closed at phase's deadline. */
void ex_guard_count_timeout(ex_conn_guard *g, ex_conn_phase phase);

/* Log rate limit: 1 when a report is due at now_ms (the first event, then
 * at most one report per interval_ms), with *suppressed set to the events
 * not reported since the last report; 0 (and the event counted as
 * suppressed) otherwise. */
int ex_guard_report_due(ex_conn_guard *g, uint64_t now_ms, uint64_t interval_ms, uint64_t *suppressed);

/* The phase's name in logs and metrics: "headers", "body", "reply", "idle". */
const char *ex_conn_phase_name(ex_conn_phase phase);

#endif
