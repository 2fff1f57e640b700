/* mhd_uv.h — libmicrohttpd driven by a libuv loop, behind an ex_listener.
 *
 * MHD runs without a thread and without a listening socket of its own: it
 * keeps its connections in an epoll set whose fd we watch with uv_poll,
 * and we call MHD_run when that fd is readable or MHD's timeout expires.
 * Connections come from an ex_listener (listener.h), which applies the
 * connection limits and the header/body/idle deadlines and hands each
 * admitted socket to MHD_add_connection.
 *
 * Why MHD does not keep the listening socket: when MHD reaches its
 * connection limit it takes the listening socket out of its epoll set, and
 * puts it back only at the start of a later MHD_run. When the last
 * connections then close, nothing is left to make the epoll fd readable
 * and MHD has no timeout to report, so MHD_run is never called again: the
 * port stays dead with clients piling up in the accept queue. A socket
 * watched by libuv itself cannot drop out that way.
 *
 * Percent-decoding keeps "%00" as is everywhere (a NUL would cut the path
 * or argument short unseen; kept, it names nothing and gets a 404). */
#ifndef EXTRACE_NET_MHD_UV_H
#define EXTRACE_NET_MHD_UV_H
#include <microhttpd.h>
#include <uv.h>

#include "net/listener.h"

typedef struct ex_mhd_cfg {
    const char *name;         /* log component and listener label */
    const char *flag_prefix;  /* of the limit flags in messages: "" or "admin-" */
    ex_conn_limits limits;
    unsigned flags;           /* more MHD_USE_* flags (MHD_USE_TURBO, MHD_ALLOW_SUSPEND_RESUME) */
    size_t conn_memory;       /* MHD_OPTION_CONNECTION_MEMORY_LIMIT (bounds the request line and
                                 headers); 0: MHD's default */
    MHD_AccessHandlerCallback access;
    void *access_cls;
    MHD_RequestCompletedCallback completed; /* NULL: none */
    void *completed_cls;
    MHD_LogCallback logger;   /* MHD's messages; NULL: logged at debug level */
    void *logger_cls;
} ex_mhd_cfg;

typedef struct ex_mhd ex_mhd;

/* Listen on "host:port" and serve on loop. NULL with err set on failure. */
ex_mhd *ex_mhd_start(uv_loop_t *loop, const char *listen, const ex_mhd_cfg *cfg, char *err, size_t errlen);
struct MHD_Daemon *ex_mhd_daemon(ex_mhd *h);
int ex_mhd_port(const ex_mhd *h);
const ex_listener *ex_mhd_listener(const ex_mhd *h);
/* Let MHD do what it can now (after MHD_resume_connection). */
void ex_mhd_run(ex_mhd *h);
/* Run it on the loop's next turn (safe inside MHD's own callbacks). */
void ex_mhd_run_soon(ex_mhd *h);
/* Stop listening and close every connection; h is freed once libuv has
 * closed its handles (run the loop afterwards). */
void ex_mhd_stop(ex_mhd *h);

/* The answer written to a connection refused at a limit: 503 with
 * Retry-After and Connection: close. */
extern const char ex_mhd_refusal[];

#endif
