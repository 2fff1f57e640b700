/* httpd_uv.h — an HTTP/1.1 server (libmicrohttpd) driven by a libuv loop
 * (mhd_uv.h), behind a listener that applies connection limits and
 * deadlines (listener.h). Handlers run on the loop's thread and may touch
 * loop state without locks.
 *
 * The request body is collected (up to max_body bytes, else 413 without
 * calling the handler) and the handler answers synchronously by filling
 * an ex_http_resp. */
#ifndef EXTRACE_NET_HTTPD_UV_H
#define EXTRACE_NET_HTTPD_UV_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "core/mem_budget.h"
#include "net/listener.h"

struct MHD_Connection;

typedef struct ex_http_req {
    const char *method;           /* "GET", "POST" … */
    const char *path;             /* URL path without the query string */
    struct MHD_Connection *conn;  /* for MHD_lookup_connection_value (headers, query args) */
    const char *body;             /* request body (NUL-terminated copy); "" when none */
    size_t body_len;
    int over_budget;              /* the body did not fit the memory budget (ex_httpd_set_budget): it was
                                     read and dropped, body is ""; answer 429 */
    void *priv;                   /* the server's own (ex_http_defer) */
} ex_http_req;

#define EX_HTTP_MAX_HEADERS 8

/* A streamed body (Server-Sent Events, long answers): MHD pulls it with
 * read (an MHD_ContentReaderCallback: bytes written, 0 after suspending
 * the connection with MHD_suspend_connection when nothing is ready yet,
 * MHD_CONTENT_READER_END_OF_STREAM or _END_WITH_ERROR) and calls free
 * once the connection is done with it. Needs a server started with
 * MHD_ALLOW_SUSPEND_RESUME in mhd_flags to wait that way. */
typedef struct ex_http_stream {
    ssize_t (*read)(void *cls, uint64_t pos, char *buf, size_t max);
    void (*free)(void *cls);
    void *cls;
} ex_http_stream;

typedef struct ex_http_resp {
    int status;                   /* default 200 */
    const char *content_type;     /* static string; default "text/plain; charset=utf-8" */
    char *body;                   /* ex_malloc'd, freed by the server; NULL for empty */
    size_t body_len;
    const char *header_names[EX_HTTP_MAX_HEADERS];  /* static names */
    char *header_values[EX_HTTP_MAX_HEADERS];       /* ex_malloc'd, freed by the server */
    int nheaders;
    ex_http_stream stream;        /* read set: the body comes from it (length unknown), body is unused */
} ex_http_resp;

typedef void (*ex_http_handler)(void *arg, const ex_http_req *req, ex_http_resp *resp);

typedef struct ex_httpd ex_httpd;

typedef struct ex_httpd_cfg {
    const char *name;        /* log component and listener label; NULL: "http" */
    const char *flag_prefix; /* of the limit flags in messages: NULL/"" or "admin-" */
    ex_conn_limits limits;   /* connection limits and deadlines */
    size_t max_body;         /* larger request bodies get 413 */
    size_t conn_memory;      /* per-connection memory for the request line and headers; 0: MHD's 32 KiB */
    unsigned mhd_flags;      /* more MHD_USE_* flags (MHD_ALLOW_SUSPEND_RESUME for streams that wait) */
    ex_http_handler handler;
    void *arg;
} ex_httpd_cfg;

/* Listen on "host:port" and serve on `loop`. NULL with err set on failure
 * (e.g. the address is in use). */
ex_httpd *ex_httpd_start_with(uv_loop_t *loop, const char *listen, const ex_httpd_cfg *cfg, char *err,
                              size_t errlen);
/* The same with EX_CONN_LIMITS_DEFAULT and MHD's connection memory. */
ex_httpd *ex_httpd_start(uv_loop_t *loop, const char *listen, size_t max_body, ex_http_handler handler,
                         void *arg, char *err, size_t errlen);
/* Make every request body take its bytes from b (not owned; it must
 * outlive the server) while it is buffered: the Content-Length up front
 * when the request has one, else as the body grows. A body that does not
 * fit is read and dropped, and the handler gets it with over_budget set.
 * The bytes are given back once the handler has returned. */
void ex_httpd_set_budget(ex_httpd *h, ex_mem_budget *b);
/* The port actually bound (useful with port 0). */
int ex_httpd_port(const ex_httpd *h);
/* Its listener (counters, ex_listener_metrics). */
const ex_listener *ex_httpd_listener(const ex_httpd *h);
/* Resume a connection its stream suspended (MHD_resume_connection); it
 * is served at the next ex_httpd_run. */
void ex_httpd_resume(ex_httpd *h, struct MHD_Connection *c);
/* Let the server do what it can now (after resuming connections). */
void ex_httpd_run(ex_httpd *h);
/* Stop listening, close connections; the rest of the memory is freed once
 * libuv has closed the handles (run the loop afterwards). */
void ex_httpd_stop(ex_httpd *h);

/* An answer given after the handler has returned (the outcome of a
 * command to Redis, say). In the handler: l = ex_http_defer(req) and leave
 * resp empty; the connection waits, suspended, until
 * ex_http_later_answer(l, &r), which must come exactly once, on the loop's
 * thread, and may come before the handler returns. The server must be
 * started with MHD_ALLOW_SUSPEND_RESUME. When the server stops first, the
 * waiting requests get 503 "shutting down" and the later answer only
 * frees l. */
typedef struct ex_http_later ex_http_later;
ex_http_later *ex_http_defer(const ex_http_req *req);
/* Answer (r's contents are taken over, r is emptied) and free l. */
void ex_http_later_answer(ex_http_later *l, ex_http_resp *r);

/* Helpers for handlers: set a body (copied) / add a header (value copied). */
int ex_http_resp_set(ex_http_resp *r, int status, const char *content_type, const char *body, size_t len);
int ex_http_resp_printf(ex_http_resp *r, int status, const char *content_type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int ex_http_resp_header(ex_http_resp *r, const char *name, const char *value);

/* How many times the request carries header `name` (case-insensitive). */
int ex_http_header_count(const ex_http_req *req, const char *name);
/* When header `name` comes more than once (a proxy that appends instead of
 * replacing), answer 400 naming it and return 1; else 0. */
int ex_http_reject_repeated(const ex_http_req *req, const char *name, ex_http_resp *resp);

#endif
