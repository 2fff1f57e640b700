/* ingest_http.h — the store's OTLP/HTTP receiver: POST /v1/traces.
 *
 * OTLP specification, "OTLP/HTTP": the body is an ExportTraceServiceRequest
 * as application/x-protobuf or application/json (chosen by Content-Type;
 * anything else is 415), optionally Content-Encoding: gzip (decompressed
 * with a bound: over the request limit is 413). The answer uses the
 * request's content type: an ExportTraceServiceResponse (partial_success
 * when spans were rejected), or on error a google.rpc.Status
 * {code, message} with 400 (undecodable, bad tenant), 413, 415, 429 (the
 * process-wide budget for request bodies in flight is used up: retryable,
 * with Retry-After), 503 (the database failed: retryable). 405 for other
 * methods, 404 other paths.
 *
 * X-Scope-OrgID picks the tenant (SDB_DEFAULT_TENANT without it). A 200 is
 * sent only after the request's spans are committed. */
#ifndef EXTRACE_STORE_INGEST_HTTP_H
#define EXTRACE_STORE_INGEST_HTTP_H
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/httpd_uv.h"
#include "store/db.h"

/* Counters since start, by outcome. */
typedef struct sih_stats {
    uint64_t requests;    /* every request */
    uint64_t ok;          /* 200 (including partial success) */
    uint64_t partial;     /* 200 with rejected spans */
    uint64_t bad_request; /* 400 */
    uint64_t too_large;   /* 413 after decompression (413s for the raw body come from httpd_uv) */
    uint64_t unsupported; /* 415 */
    uint64_t not_found;   /* 404 */
    uint64_t bad_method;  /* 405 */
    uint64_t failed;      /* 503: the database failed */
    uint64_t throttled;   /* 429: the body did not fit the memory budget */
} sih_stats;

/* What one export request carried, as read from its headers. */
typedef struct sih_request {
    const char *content_type;     /* Content-Type header or NULL */
    const char *content_encoding; /* Content-Encoding header or NULL */
    const char *tenant;           /* X-Scope-OrgID header or NULL */
    const char *body;
    size_t body_len;
} sih_request;

typedef struct sih_server sih_server;

/* Seconds a refused client is asked to wait (Retry-After, RetryInfo). */
#define SIH_RETRY_AFTER_S 1

/* Serve OTLP/HTTP on listen ("host:port") on loop within *limits, storing
 * into db (not owned). max_bytes bounds the body, before and after
 * decompression; bodies take their bytes from budget (not owned; NULL: no
 * budget) while they are buffered. A request with more than one
 * X-Scope-OrgID gets 400. NULL with err set on failure. Stop with sih_stop. */
sih_server *sih_start(uv_loop_t *loop, const char *listen, const ex_conn_limits *limits, size_t max_bytes,
                      ex_mem_budget *budget, sdb *db, char *err, size_t errlen);
/* Its listener (connection counters). */
const ex_listener *sih_listener(const sih_server *s);
/* The port bound. */
int sih_port(const sih_server *s);
const sih_stats *sih_get_stats(const sih_server *s);
/* Stop listening; the memory goes once the loop has closed the handles. */
void sih_stop(sih_server *s);

/* Handle one POST /v1/traces whose headers are in r: decode, store, fill
 * resp. Counts into st. Exposed so tests can drive it without sockets. */
void sih_export(sdb *db, size_t max_bytes, const sih_request *r, ex_http_resp *resp, sih_stats *st);

/* Count a refusal by budget b and log it, at most one line per period
 * (who names the receiver in the log). */
void sih_log_refusal(ex_mem_budget *b, const char *who);
/* The message of a refusal by budget b (NUL-terminated in out). */
void sih_throttle_message(const ex_mem_budget *b, char *out, size_t outlen);
/* Fill resp with the 429 answer for a body refused by budget b: a
 * google.rpc.Status RESOURCE_EXHAUSTED (JSON when content_type says so)
 * and Retry-After; the refusal is counted and logged (sih_log_refusal). */
void sih_throttle(ex_mem_budget *b, const char *content_type, ex_http_resp *resp);

/* Spans per piece when a protobuf request is decoded in pieces, and the
 * request size from which freed memory is given back to the system. */
#define SIH_PIECE_SPANS 4096
#define SIH_TRIM_BYTES (4u << 20)
/* sih_store's failures. */
enum { SIH_EDECODE = -1, SIH_EDB = -2 };

/* Decode an export request for tenant — protobuf in pieces of
 * SIH_PIECE_SPANS spans (otel/otlp_pieces.h), OTLP/JSON whole — and store
 * it in one transaction (sdb_ingest_begin/part/end). 0 with res filled;
 * SIH_EDECODE with the decoder's reason in err (nothing stored); SIH_EDB
 * when the database failed (sdb_errmsg; nothing stored). */
int sih_store(sdb *db, const char *tenant, int json, const uint8_t *body, size_t len, sdb_ingest_result *res,
              char *err, size_t errlen);

/* Encode the ExportTraceServiceResponse for an ingest result (protobuf,
 * or OTLP/JSON when json). *out is allocated (ex_free). 0 or -1 (OOM). */
int sih_encode_response(const sdb_ingest_result *res, int json, uint8_t **out, size_t *len);

/* Encode a google.rpc.Status {code, message} (protobuf, or JSON when
 * json). *out is allocated (ex_free). 0 or -1 (OOM). */
int sih_encode_status(int code, const char *message, int json, uint8_t **out, size_t *len);
/* The same with a google.rpc.RetryInfo detail asking the client to wait
 * retry_s seconds (protobuf only: OTLP/JSON clients read Retry-After;
 * retry_s 0: no detail). */
int sih_encode_status_retry(int code, const char *message, int json, int retry_s, uint8_t **out, size_t *len);

#endif
