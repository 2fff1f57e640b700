/* conn_opts.h — the flags that set a listener's limits (conn_guard.h), the
 * same five in every command that listens:
 *   --[admin-]max-connections, --[admin-]max-connections-per-client,
 *   --[admin-]header-timeout, --[admin-]body-timeout, --[admin-]idle-timeout
 * A command's config struct holds an ex_conn_opts and its option table
 * lists EX_CONN_OPTS(...) among its entries. */
#ifndef EXTRACE_NET_CONN_OPTS_H
#define EXTRACE_NET_CONN_OPTS_H
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "net/conn_guard.h"

/* As parsed: counts, and durations in nanoseconds. */
typedef struct ex_conn_opts {
    int64_t max_conns, max_per_client;
    int64_t header_timeout_ns, body_timeout_ns, idle_timeout_ns;
} ex_conn_opts;

/* The limits the options say (durations in milliseconds). */
static inline ex_conn_limits ex_conn_opts_limits(const ex_conn_opts *o)
{
    return (ex_conn_limits){o->max_conns, o->max_per_client, o->header_timeout_ns / 1000000,
                            o->body_timeout_ns / 1000000, o->idle_timeout_ns / 1000000};
}

/* Five ex_opt entries for field (an ex_conn_opts) of type; prefix is ""
 * or "admin-", `which` names the listeners they apply to, `refusal` says
 * what a refused client reads, and the defaults are texts. */
#define EX_CONN_OPTS(type, field, prefix, which, refusal, d_max, d_per, d_hdr, d_body, d_idle)                   \
    {prefix "max-connections", EX_OPT_INT, offsetof(type, field.max_conns), d_max, 0, 1e7, "N",                   \
     "Connections open at once on " which "; one more is answered " refusal " and closed at once. 0: no limit.",  \
     NULL, NULL, NULL},                                                                                           \
    {prefix "max-connections-per-client", EX_OPT_INT, offsetof(type, field.max_per_client), d_per, 0, 1e7, "N",   \
     "Connections open at once from one client address on " which "; one more is refused as above. 0: no "       \
     "limit.",                                                                                                    \
     NULL, NULL, NULL},                                                                                           \
    {prefix "header-timeout", EX_OPT_DURATION, offsetof(type, field.header_timeout_ns), d_hdr, 0, 8.64e13,        \
     "DURATION",                                                                                                  \
     "A new connection on " which " is closed when its first request's headers (gRPC: its first call) have not " \
     "all arrived within this long, however slowly they trickle in. 0: no deadline.",                             \
     NULL, NULL, NULL},                                                                                           \
    {prefix "body-timeout", EX_OPT_DURATION, offsetof(type, field.body_timeout_ns), d_body, 0, 8.64e13,           \
     "DURATION",                                                                                                  \
     "A connection on " which " is closed when a request's body has not all arrived within this long after its " \
     "headers. 0: no deadline.",                                                                                  \
     NULL, NULL, NULL},                                                                                           \
    {prefix "idle-timeout", EX_OPT_DURATION, offsetof(type, field.idle_timeout_ns), d_idle, 0, 8.64e13,           \
     "DURATION",                                                                                                  \
     "A connection on " which " is closed when no next request has arrived (headers complete) within this "      \
     "long after the previous answer. 0: no deadline.",                                                           \
     NULL, NULL, NULL}

#endif
