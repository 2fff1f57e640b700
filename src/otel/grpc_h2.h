/* grpc_h2.h — a gRPC client on nghttp2 over libuv: one HTTP/2 connection
 * (h2c, prior knowledge) that carries every call as its own stream.
 *
 * libcurl before 8.0.0 cannot reuse an h2c connection (exp_curl.h), so the
 * OTLP/gRPC exporter opened a connection per batch; this client keeps one,
 * multiplexes the calls on it, and opens a new one when it breaks (GOAWAY,
 * reset, EOF), after a backoff when connecting keeps failing (100 ms,
 * doubling, at most 5 s). A call that fails because of the connection
 * reports a retryable transport error (CURLE_COULDNT_CONNECT,
 * CURLE_RECV_ERROR, CURLE_HTTP2_STREAM for a refused stream,
 * CURLE_OPERATION_TIMEDOUT): the pipeline's retry rules decide (retry.h).
 * What a call gets back is an exo_http_response (exp_curl.h) like the
 * libcurl client's, so the exporter reads both the same way.
 *
 * Only http:// URLs: https:// stays on libcurl (TLS, ALPN; libcurl reuses
 * and multiplexes TLS HTTP/2 connections). */
#ifndef EXTRACE_OTEL_GRPC_H2_H
#define EXTRACE_OTEL_GRPC_H2_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "otel/exp_curl.h"
#include "otel/otel_env.h"

typedef struct exo_h2_client exo_h2_client;

/* A client for cfg->url (http://host:port/path) sending every call with
 * the given headers (NULL-terminated name, value pairs; names lower case)
 * followed by cfg->headers and the OTLP user agent. Nothing is connected
 * yet. NULL with err set. */
exo_h2_client *exo_h2_client_new(uv_loop_t *loop, const exo_export_config *cfg, const char *const *base_headers,
                                 char *err, size_t errlen);

/* Start a call: POST body (borrowed until cb runs) with a grpc-timeout
 * header value (e.g. "5000m"; NULL for none), failing with
 * CURLE_OPERATION_TIMEDOUT after timeout_ns. 0 when started (cb runs
 * once, on the loop, never inside this call); -1 with err set. */
int exo_h2_client_post(exo_h2_client *c, const uint8_t *body, size_t len, const char *grpc_timeout,
                       int64_t timeout_ns, exo_http_done_cb cb, void *arg, char *err, size_t errlen);

/* Connections opened so far (tests, stats). */
uint64_t exo_h2_client_connections(const exo_h2_client *c);

/* Fail every call (CURLE_ABORTED_BY_CALLBACK, during this call), close the
 * connection and the timers; closed(arg) runs once the loop has released
 * them, after which c is gone. */
void exo_h2_client_close(exo_h2_client *c, void (*closed)(void *arg), void *arg);

/* For the fuzz target grpc_h2: one call whose stream is answered by
 * `server` (what a collector sends: SETTINGS, then HEADERS, DATA,
 * trailers), through the callbacks a live connection uses, with no socket.
 * When the stream ended, cb gets the call's response and 1 is returned;
 * else 0. */
int exo_h2__exchange(const uint8_t *server, size_t len, exo_http_done_cb cb, void *arg);

#endif
