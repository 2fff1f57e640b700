/* query_api.h — Grafana Tempo's HTTP query API over the store's database
 * (otlp-tempo.md §4; docs/query.md lists every route and format).
 *
 *   GET /api/traces/<id>, /api/v2/traces/<id>      one trace (JSON or protobuf)
 *   GET /api/search                                TraceQL / tags search
 *   GET /api/search/tags, /api/v2/search/tags      tag names
 *   GET /api/search/tag/<t>/values,
 *       /api/v2/search/tag/<scoped t>/values       tag values
 *   GET /api/metrics/query_range, /api/metrics/query  TraceQL metrics
 *   GET /api/metrics/summary                       metrics summary
 *   GET /api/echo, /ready, /api/status/buildinfo
 *
 * Handlers run on the store's query thread (query_thread.h) and answer synchronously. The
 * tenant is the X-Scope-OrgID header (absent: SDB_DEFAULT_TENANT). Bad
 * input answers 400 with a text/plain message naming the parameter and
 * its value (for TraceQL: the position and what was expected); each such
 * answer is counted in sq_stats. */
#ifndef EXTRACE_STORE_QUERY_API_H
#define EXTRACE_STORE_QUERY_API_H
#include <stddef.h>
#include <stdint.h>

#include "net/httpd_uv.h"
#include "otel/otlp_proto.h"
#include "store/db.h"

typedef struct sq_ctx sq_ctx;

/* Counters since sq_ctx_new. */
typedef struct sq_stats {
    uint64_t requests;     /* requests answered by sq_route / sq_handle */
    uint64_t bad_requests; /* 400 answers (bad id, query, parameter, tenant) */
    uint64_t not_found;    /* 404 answers (unknown trace) */
    uint64_t failures;     /* 500 answers (database error, out of memory, response too large) */
    uint64_t searches;     /* /api/search requests that ran */
    uint64_t inspected;    /* traces inspected by searches */
    uint64_t limited;      /* searches and tag scans stopped by a limit of sq_limits */
} sq_stats;

/* The most work one search or tag scan may do before it answers with what
 * it has found so far (as Tempo's limits do), with the header
 * X-Extrace-Limit naming the limit reached. Checked after each trace read;
 * 0 means no limit. */
typedef struct sq_limits {
    uint64_t max_bytes;      /* span bytes read (encoded traces) */
    int64_t max_duration_ns; /* time spent */
} sq_limits;

/* Largest response body built (bytes); a bigger one answers 500. */
#define SQ_RESPONSE_MAX (256u << 20)
/* Bounds of /api/search parameters. */
#define SQ_LIMIT_DEFAULT 20
#define SQ_LIMIT_MAX 10000
#define SQ_SPSS_DEFAULT 3
#define SQ_SPSS_MAX 1000

/* A context answering queries against db (borrowed: it must outlive the
 * context). NULL on allocation failure. */
sq_ctx *sq_ctx_new(sdb *db);
/* Set the work limits of ctx's searches (copied; none by default). */
void sq_ctx_set_limits(sq_ctx *ctx, const sq_limits *lim);
/* Free the context (NULL is ignored). */
void sq_ctx_free(sq_ctx *ctx);
/* Counters of the context. */
const sq_stats *sq_ctx_stats(const sq_ctx *ctx);

/* Answer an httpd request when its path is one of the query API's:
 * returns 1 with resp filled (also for 400/404/405 answers), or 0 when
 * the path is not ours (resp untouched). */
int sq_route(sq_ctx *ctx, const ex_http_req *req, ex_http_resp *resp);

/* The same without an httpd connection: query arguments and headers come
 * from callbacks (each returns the decoded value or NULL when absent;
 * either may be NULL for none). For tests and other front ends. */
typedef const char *(*sq_lookup_fn)(void *arg, const char *name);
typedef struct sq_request {
    const char *method;    /* "GET" … */
    const char *path;      /* decoded path, no query string */
    sq_lookup_fn query;    /* query-string arguments */
    sq_lookup_fn header;   /* request headers (names case-insensitive) */
    void *arg;             /* passed to both */
} sq_request;
int sq_handle(sq_ctx *ctx, const sq_request *req, ex_http_resp *resp);
/* The sq_request of an httpd request (valid while req is). */
void sq_request_from_http(const ex_http_req *req, sq_request *out);

/* ---- pieces exposed for tests ----------------------------------------- */

/* Parse a trace id as Tempo takes it: 1..32 hex digits (either case),
 * left-padded with zeros to 16 bytes. 0, or -1 with a reason quoting the
 * value in why. */
int sq_trace_id_parse(const char *s, uint8_t out[16], char *why, size_t whylen);

/* One key=value of a logfmt tags= parameter. */
typedef struct sq_tag {
    char *key;    /* owned */
    char *value;  /* owned */
} sq_tag;

typedef struct sq_tags {
    sq_tag *items; /* owned array */
    size_t n;
} sq_tags;

#define SQ_TAGS_MAX 32

/* Parse logfmt: space-separated key=value pairs; a value may be quoted
 * ("v 2", with \" and \\ escapes). Duplicate keys are kept. 0, or -1 with
 * "position N: …" (1-based, in s) in err; on error *out is empty. */
int sq_tags_parse(const char *s, sq_tags *out, char *err, size_t errlen);
void sq_tags_free(sq_tags *t);

/* Tempo's JSON (gogo jsonpb) for a trace: ids base64, enums by name,
 * 64-bit integers as strings, default values omitted. version 1 gives
 * {"batches":[…]}; version 2 gives {"trace":{"resourceSpans":[…]},
 * "metrics":{"inspectedBytes":"<n>"}} (inspected_bytes > 0) . *out is
 * NUL-terminated, ex_malloc'd. 0, or -1 (out of memory / over
 * SQ_RESPONSE_MAX). */
int sq_trace_json(const exo_pb_traces_data *td, int version, uint64_t inspected_bytes, char **out,
                  size_t *out_len);

/* The protobuf answer: version 1 a tempopb.Trace, version 2 a
 * tempopb.TraceByIDResponse. *out is ex_malloc'd. 0 or -1. */
int sq_trace_proto(const exo_pb_traces_data *td, int version, uint64_t inspected_bytes, uint8_t **out,
                   size_t *out_len);

#endif
