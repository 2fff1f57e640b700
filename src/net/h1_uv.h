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
    int retried;
    int waiting;                  /* in the pool's list of calls waiting for the host's addresses */
    struct ex_h1_call *next_wait;
};

/* A pool for http://host:port of t, keeping up to max_idle idle
 * connections. NULL without memory. */
ex_h1_pool *ex_h1_pool_new(uv_loop_t *loop, const ex_h1_target *t, int max_idle);
/* Start call c. 0, or -1 if the pool is closing (done is not called). */
int ex_h1_start(ex_h1_pool *p, ex_h1_call *c);
/* Connections opened so far, and calls sent on a kept-alive one. */
void ex_h1_pool_stats(const ex_h1_pool *p, uint64_t *opened, uint64_t *reused);
/* Abort every call (done runs with CURLE_ABORTED_BY_CALLBACK), close the
 * connections; the memory goes once libuv has closed them. NULL ignored. */
void ex_h1_pool_destroy(ex_h1_pool *p);
/* Free what the call keeps between calls (its header buffer). */
void ex_h1_call_free(ex_h1_call *c);

#endif
