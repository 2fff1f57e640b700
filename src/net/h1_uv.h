/* h1_uv.h — the I/O half of the worker's plain-HTTP/1.1 client: a pool of
 * kept-alive TCP connections to one host:port on a libuv loop.
 *
 * A call sends bytes the caller built (net/h1.h) on an idle connection of
 * the pool, or on a new one, and reads the answer with uv_read into the
 * pool's one buffer, through the response reader of net/h1.h. Its outcome
 * is a libcurl code and text, as libcurl would have said it:
 *   CURLE_OK                  a complete answer (any status) in call->resp
 *   CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT
 *   CURLE_OPERATION_TIMEDOUT  the call's timeout passed (connecting included)
 *   CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE,
 *   CURLE_WEIRD_SERVER_REPLY  the connection broke or the answer was not HTTP
 *   CURLE_WRITE_ERROR         body_cb refused the body
 *   CURLE_ABORTED_BY_CALLBACK the pool was destroyed
 * A request on a reused connection that the server had closed (nothing
 * answered) is sent once more on a new connection, as libcurl does.
 *
 * Pipelining (RFC 9112 §9.3.2), when the pool's depth is above 1: a
 * connection that has kept itself alive once takes up to `depth` requests
 * in flight, answered in order. Requests are not written as they start:
 * a connection's new requests go out together in one writev when the
 * loop's prepare or check phase comes (before it waits for I/O, after it
 * ran the I/O callbacks), so the polls started by one read's answers
 * leave in one system call. Every call of such a pool must be idempotent
 * (the worker's are GETs): when a connection ends with requests written
 * and unanswered (the server closed it, said Connection: close, or the
 * head request timed out), those are sent again on a fresh connection of
 * their own, once, without failing; a call's timeout still runs from its
 * own start. A connection whose oldest request waits longer than
 * EX_H1_HOL_MS takes no more behind it.
 *
 * Everything runs on the loop's thread. Writes use write(2): the process
 * must ignore SIGPIPE (`extrace worker` does), or a server that closed a
 * connection as a request left would kill it instead of failing the
 * write with EPIPE. */
#ifndef EXTRACE_NET_H1_UV_H
#define EXTRACE_NET_H1_UV_H
#include <stdint.h>
#include <uv.h>

#include "net/h1.h"

typedef struct ex_h1_pool ex_h1_pool;
typedef struct ex_h1_call ex_h1_call;

/* The call is over; `err` is libcurl's text for a failure ("" on OK). The
 * connection is already back in the pool (or closed): the callback may
 * start the next call, this one included. */
typedef void (*ex_h1_done_cb)(ex_h1_call *c, CURLcode code, const char *err);

struct ex_h1_call {
    /* Set by the caller before ex_h1_start; req stays valid until done. */
    const char *req;
    size_t req_len;
    uint64_t timeout_ms;  /* for the whole call, connecting included */
    ex_h1_body_cb body_cb; /* body bytes as they arrive */
    void *arg;            /* for body_cb and the caller */
    ex_h1_done_cb done;
    int64_t *sent_ns;     /* NULL, or stamped (wall clock) just before the request is written */
    /* The answer (status, headers) once done with CURLE_OK. */
    ex_h1_resp resp;
    /* Private. */
    struct h1_conn *conn;
    uint64_t started, deadline; /* uv_now() */
    uint64_t nth;                 /* requests written on its connection before this one */
    struct ex_h1_call *next_q;    /* the connection's calls, in order */
    int retried;
    int waiting;                  /* in the pool's list of calls waiting for the host's addresses */
    struct ex_h1_call *next_wait;
};

#define EX_H1_DEPTH_MAX 64  /* requests in flight on one connection at most */
#define EX_H1_HOL_MS    50  /* no request is pipelined behind one older than this */

/* A pool for http://host:port of t, keeping up to max_idle idle
 * connections, with up to `depth` requests in flight on one connection
 * (1: no pipelining; clamped to 1..EX_H1_DEPTH_MAX). NULL without memory. */
ex_h1_pool *ex_h1_pool_new(uv_loop_t *loop, const ex_h1_target *t, int max_idle, int depth);
/* Pace the loop (ex_h1_pace_wait): at the prepare phase, after writing
 * what is ready, the pool sleeps the rest of `window_ns` (0: never, the
 * default) when the loop's previous turn was shorter and at least
 * EX_H1_PACE_MIN calls are in flight. The sleep holds the whole loop:
 * meant for a process whose loop mostly serves this pool. */
void ex_h1_pool_pace(ex_h1_pool *p, uint64_t window_ns);
/* Start call c. 0, or -1 if the pool is closing (done is not called). */
int ex_h1_start(ex_h1_pool *p, ex_h1_call *c);

typedef struct ex_h1_stats {
    uint64_t opened;    /* connections opened */
    uint64_t reused;    /* requests written on a connection that had carried one before */
    uint64_t pipelined; /* requests written while another was unanswered on the connection */
    uint64_t writes;    /* write system calls (one carries every request ready on a connection) */
    uint64_t resent;    /* requests sent again on a fresh connection after theirs ended unanswered */
    uint64_t paced;     /* turns of the loop held back by pacing (ex_h1_pool_pace) */
} ex_h1_stats;
void ex_h1_pool_stats(const ex_h1_pool *p, ex_h1_stats *st);
/* Abort every call (done runs with CURLE_ABORTED_BY_CALLBACK), close the
 * connections; the memory goes once libuv has closed them. NULL ignored. */
void ex_h1_pool_destroy(ex_h1_pool *p);
/* Free what the call keeps between calls (its header buffer). */
void ex_h1_call_free(ex_h1_call *c);

#endif
