/* retry.h — the OTLP exporter's retry policy, pure.
 *
 * What an export attempt's outcome means (success, retry later, give up),
 * how long to wait before the next attempt (exponential backoff with
 * jitter, or the server's Retry-After / RetryInfo), and whether a retry
 * still fits before the export deadline. No I/O: time and randomness are
 * passed in, so every rule is unit-tested.
 *
 * Rules (OTLP specification, protocol/exporter.md "Retry" and
 * opentelemetry-proto docs/specification.md "Failures", summarised in
 * otlp-tempo.md §1):
 *   gRPC: retry CANCELLED(1), DEADLINE_EXCEEDED(4), ABORTED(10),
 *         OUT_OF_RANGE(11), UNAVAILABLE(14), DATA_LOSS(15), and
 *         RESOURCE_EXHAUSTED(8) only when the server sent RetryInfo;
 *         everything else is final.
 *   HTTP: retry 429, 502, 503, 504 (honouring Retry-After); any other
 *         non-2xx status is final.
 *   Transport: a refused, dropped or timed-out connection is retried;
 *         a malformed URL, an unsupported protocol or a TLS verification
 *         failure is final. */
#ifndef EXTRACE_OTEL_RETRY_H
#define EXTRACE_OTEL_RETRY_H
#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

/* What to do after an attempt. */
typedef enum {
    EXO_RETRY_OK,    /* delivered */
    EXO_RETRY_AGAIN, /* transient failure: try again after a delay */
    EXO_RETRY_FINAL, /* permanent failure: drop the batch */
} exo_retry_verdict;

/* gRPC status codes used by the policy (grpc/doc/statuscodes.md). */
enum {
    EXO_GRPC_OK = 0, EXO_GRPC_CANCELLED = 1, EXO_GRPC_UNKNOWN = 2, EXO_GRPC_INVALID_ARGUMENT = 3,
    EXO_GRPC_DEADLINE_EXCEEDED = 4, EXO_GRPC_PERMISSION_DENIED = 7, EXO_GRPC_RESOURCE_EXHAUSTED = 8,
    EXO_GRPC_ABORTED = 10, EXO_GRPC_OUT_OF_RANGE = 11, EXO_GRPC_UNIMPLEMENTED = 12,
    EXO_GRPC_INTERNAL = 13, EXO_GRPC_UNAVAILABLE = 14, EXO_GRPC_DATA_LOSS = 15,
    EXO_GRPC_UNAUTHENTICATED = 16,
};

/* Exponential backoff: attempt k (0-based) waits
 *   min(max_ns, initial_ns * multiplier^k) * (1 + u * jitter), u uniform in [-1, 1),
 * never more than max_ns. */
typedef struct exo_backoff {
    int64_t initial_ns; /* delay before the first retry (default 1 s) */
    int64_t max_ns;     /* largest delay (default 30 s) */
    double multiplier;  /* growth per attempt (default 2) */
    double jitter;      /* relative spread, 0..1 (default 0.2) */
} exo_backoff;

/* The defaults above. */
void exo_backoff_default(exo_backoff *b);

/* Delay before retry number `attempt` (0 = the first retry), drawn from
 * rng (not NULL). Out-of-range fields are clamped: initial >= 1 ms,
 * max >= initial, multiplier >= 1, jitter in [0, 1]. */
int64_t exo_backoff_delay(const exo_backoff *b, unsigned attempt, ex_rng *rng);

/* Verdict for an HTTP status: 2xx OK; 429, 502, 503, 504 AGAIN; else FINAL. */
exo_retry_verdict exo_retry_http_verdict(long http_status);

/* Verdict for a gRPC status code; has_retry_info: the status details
 * carried a google.rpc.RetryInfo (only matters for RESOURCE_EXHAUSTED). */
exo_retry_verdict exo_retry_grpc_verdict(int grpc_code, int has_retry_info);

/* Verdict for a transfer that failed below HTTP (curl's result; CURLE_OK
 * gives OK: look at the status then). */
exo_retry_verdict exo_retry_transport_verdict(CURLcode result);

/* gRPC status for an HTTP status a gRPC server answered with instead of a
 * gRPC response (grpc/doc/http-grpc-status-mapping.md): 400 INTERNAL,
 * 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 UNIMPLEMENTED,
 * 429/502/503/504 UNAVAILABLE, anything else UNKNOWN. */
int exo_retry_grpc_from_http(long http_status);

/* Parse a Retry-After value (RFC 9110 §10.2.3): delay-seconds (digits) or
 * an HTTP-date, relative to now_ns (unix ns). Leading/trailing blanks are
 * ignored. A date in the past gives 0. Returns 0 and sets *delay_ns, or -1
 * for an empty, negative or unparseable value (*delay_ns untouched). */
int exo_retry_after_parse(const char *value, int64_t now_ns, int64_t *delay_ns);

/* Decode a grpc-status-details-bin header value (base64, padding
 * optional) holding a google.rpc.Status. *retry_delay_ns = its RetryInfo
 * delay or -1 when it has none; msg (may be NULL) gets its message.
 * 0, or -1 for bad base64 or a malformed Status. */
int exo_retry_grpc_details(const char *b64, size_t len, int64_t *retry_delay_ns, char *msg, size_t msglen);

/* Delay before the next attempt: the server's (server_delay_ns >= 0) if it
 * gave one, else the backoff for `attempt`. */
int64_t exo_retry_delay(const exo_backoff *b, unsigned attempt, int64_t server_delay_ns, ex_rng *rng);

/* 1 if an attempt started after waiting delay_ns from now_ns still begins
 * before deadline_ns, else 0 (the batch is then dropped). */
int exo_retry_fits(int64_t now_ns, int64_t delay_ns, int64_t deadline_ns);

#endif
