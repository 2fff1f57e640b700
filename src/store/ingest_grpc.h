/* ingest_grpc.h — the store's OTLP/gRPC receiver: an HTTP/2 server
 * (nghttp2, cleartext with prior knowledge) on a libuv TCP listener.
 *
 * gRPC over HTTP/2 (grpc/doc/PROTOCOL-HTTP2.md) for the one unary call
 * /opentelemetry.proto.collector.trace.v1.TraceService/Export: the request
 * is one length-prefixed message (flag byte, 4-byte big-endian length),
 * compressed when the flag is 1 and grpc-encoding is gzip. The reply is
 * :status 200, content-type application/grpc, one framed
 * ExportTraceServiceResponse (partial_success when spans were rejected)
 * and trailers grpc-status 0; an error is a trailers-only reply with
 * grpc-status and a percent-encoded grpc-message:
 *   INVALID_ARGUMENT (3)   undecodable message, bad or repeated x-scope-orgid
 *   RESOURCE_EXHAUSTED (8) message over the size limit (before or after gunzip);
 *                          or the process-wide budget for request bodies in
 *                          flight is used up: then with a google.rpc.RetryInfo
 *                          in grpc-status-details-bin, so exporters retry
 *   UNIMPLEMENTED (12)     another path or method, an unknown grpc-encoding
 *   INTERNAL (13)          compressed flag without grpc-encoding
 *   UNAVAILABLE (14)       the database failed (the client may retry)
 * A content-type other than application/grpc* gets HTTP 415.
 *
 * Metadata x-scope-orgid picks the tenant. The reply is queued only after
 * the request's spans are committed. */
#ifndef EXTRACE_STORE_INGEST_GRPC_H
#define EXTRACE_STORE_INGEST_GRPC_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/mem_budget.h"
#include "net/listener.h"
#include "store/db.h"

/* Counters since start. */
typedef struct sig_stats {
    uint64_t connections;   /* accepted */
    uint64_t calls;         /* streams that ended (any path) */
    uint64_t ok;            /* grpc-status 0 (including partial success) */
    uint64_t partial;       /* OK with rejected spans */
    uint64_t invalid;       /* INVALID_ARGUMENT or INTERNAL */
    uint64_t too_large;     /* RESOURCE_EXHAUSTED */
    uint64_t unimplemented; /* UNIMPLEMENTED or HTTP 415 */
    uint64_t failed;        /* UNAVAILABLE */
    uint64_t protocol_errors; /* connections dropped for HTTP/2 errors */
    uint64_t throttled;     /* RESOURCE_EXHAUSTED because the memory budget was used up */
} sig_stats;

typedef struct sig_server sig_server;

/* Listen on "host:port" and serve on loop, storing into db (not owned);
 * max_bytes bounds a message, before and after decompression; bodies take
 * their bytes from budget (not owned; NULL: none) while buffered; *limits
 * bound the connections. NULL with err set on failure. */
sig_server *sig_start(uv_loop_t *loop, const char *listen, const ex_conn_limits *limits, size_t max_bytes,
                      ex_mem_budget *budget, sdb *db, char *err, size_t errlen);
/* Its listener (connection counters). */
const ex_listener *sig_listener(const sig_server *s);
int sig_port(const sig_server *s);
const sig_stats *sig_get_stats(const sig_server *s);
/* Stop accepting, send GOAWAY on every connection, close them once their
 * queued replies are written; the server is freed when the last handle
 * has closed (keep running the loop). */
void sig_stop(sig_server *s);

/* Percent-encode a grpc-message value (bytes outside 0x20..0x7e and '%'
 * become %XX) into out (NUL-terminated, truncated to outlen - 1 without
 * splitting an escape). Returns the length written. */
size_t sig_encode_message(const char *in, char *out, size_t outlen);

#endif
