/* exp_curl.h — the HTTP plumbing shared by the OTLP exporters.
 *
 * One exo_http_client per exporter: its own libcurl multi handle on the
 * pipeline's loop (net/curl_uv.h, so connections are kept alive and
 * reused), the request headers from the config, TLS files, and a POST
 * that collects the status, the response headers and trailers that OTLP
 * cares about, and a bounded copy of the body. */
#ifndef EXTRACE_OTEL_EXP_CURL_H
#define EXTRACE_OTEL_EXP_CURL_H
#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/curl_uv.h"
#include "otel/otel_env.h"

/* Largest response body kept; the rest is counted but discarded. OTLP
 * responses are a few bytes (a Status or a partial_success). */
#define EXO_HTTP_MAX_BODY (64 * 1024)

/* What came back for one POST. Strings are NUL-terminated, "" when absent. */
typedef struct exo_http_response {
    CURLcode result;                 /* transport outcome */
    char error[CURL_ERROR_SIZE];     /* curl's message when result != CURLE_OK */
    long status;                     /* HTTP status, 0 when none arrived */
    uint8_t *body;                   /* up to EXO_HTTP_MAX_BODY bytes (owned by the call; NUL after) */
    size_t body_len;                 /* bytes kept in body */
    int body_truncated;              /* 1 when the body was longer */
    char content_type[128];          /* Content-Type (lower-case media type, no parameters) */
    char retry_after[128];           /* Retry-After */
    char grpc_status[16];            /* grpc-status (headers or trailers) */
    char grpc_encoding[32];          /* grpc-encoding of the response */
    char grpc_message[512];          /* grpc-message, still percent-encoded */
    char *grpc_details;              /* grpc-status-details-bin (base64; owned by the call), or NULL */
} exo_http_response;

/* Called once per POST on the loop (or during shutdown, with result
 * CURLE_ABORTED_BY_CALLBACK). resp is valid only during the call. */
typedef void (*exo_http_done_cb)(void *arg, const exo_http_response *resp);

typedef struct exo_http_client {
    ex_curl_loop *curl;          /* owned; NULL after shutdown */
    char *url;                   /* owned: where requests go */
    struct curl_slist *headers;  /* owned: headers of every request */
    long http_version;           /* CURL_HTTP_VERSION_* */
    char *cainfo, *sslcert, *sslkey; /* owned TLS file paths, or NULL */
    int active;                  /* POSTs in flight */
    int fresh_connections;       /* 1: one connection per request (see exo_http_client_init) */
} exo_http_client;

/* Set up c for cfg->url with the base headers (NULL-terminated "Name: value"
 * strings, e.g. Content-Type) followed by cfg->headers, the OTLP user agent
 * and the TLS files. 0, or -1 with err set; call exo_http_client_shutdown
 * in any case.
 *
 * libcurl before 8.0.0 cannot reuse an HTTP/2 prior-knowledge (h2c)
 * connection: the second request on it fails with "Error in the HTTP2
 * framing layer" (curl issue #10634, fixed in 8.0.0; Debian 12 ships
 * 7.88.1). With such a libcurl and CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE,
 * every request gets its own connection. */
int exo_http_client_init(exo_http_client *c, uv_loop_t *loop, const exo_export_config *cfg, long http_version,
                         const char *const *base_headers, char *err, size_t errlen);

/* POST body (borrowed: it must stay valid until cb runs) with an extra
 * header line (NULL for none) and a timeout. 0 when started; -1 with err
 * set when not (cb will not run). */
int exo_http_client_post(exo_http_client *c, const uint8_t *body, size_t len, const char *extra_header,
                         int64_t timeout_ns, exo_http_done_cb cb, void *arg, char *err, size_t errlen);

/* Abort every POST (their callbacks run now with CURLE_ABORTED_BY_CALLBACK)
 * and free what c holds; the curl loop's handles close on the loop. */
void exo_http_client_shutdown(exo_http_client *c);

/* Copy at most outlen - 1 bytes of printable text from body into out,
 * replacing control bytes with '.', for logs. Returns out. */
char *exo_http_body_excerpt(const uint8_t *body, size_t len, char *out, size_t outlen);

#endif
