/* query_int.h — what the query_*.c files share: the output buffer, the
 * trace view for TraceQL, the request context. Not a public header. */
#ifndef EXTRACE_STORE_QUERY_INT_H
#define EXTRACE_STORE_QUERY_INT_H
#include <stddef.h>
#include <stdint.h>

#include "store/query_api.h"
#include "store/traceql.h"

/* ---- output buffer (query_json.c) ------------------------------------- */

/* A growable byte buffer bounded by max. Writes after a failure are
 * ignored; check `failed` once at the end. */
typedef struct sq_buf {
    char *p;       /* ex_malloc'd, NUL-terminated while not failed */
    size_t len;    /* bytes written */
    size_t cap;    /* bytes allocated */
    size_t max;    /* most bytes allowed */
    int failed;    /* SQB_OK, SQB_NOMEM or SQB_TOOBIG */
} sq_buf;

enum { SQB_OK = 0, SQB_NOMEM = 1, SQB_TOOBIG = 2 };

/* Start an empty buffer that may grow to max bytes / free its memory. */
void sqb_init(sq_buf *b, size_t max);
void sqb_free(sq_buf *b);
/* Append n bytes / a C string / formatted text (over max: SQB_TOOBIG). */
void sqb_raw(sq_buf *b, const char *s, size_t n);
void sqb_lit(sq_buf *b, const char *s);
void sqb_printf(sq_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal of s (invalid UTF-8 replaced by U+FFFD). */
void sqb_jstr(sq_buf *b, const char *s);
/* A JSON number for d: shortest form that reads back as d; NaN and the
 * infinities as the strings "NaN", "Infinity", "-Infinity". */
void sqb_double(sq_buf *b, double d);
/* Lower-case hex of n bytes, quoted. */
void sqb_hex(sq_buf *b, const uint8_t *id, size_t n);
/* Hand the contents to the caller (ex_free); the buffer is reset. NULL
 * when the buffer failed. */
char *sqb_take(sq_buf *b, size_t *len);

/* Any protobuf-c message as gogo jsonpb writes it (query_api.h,
 * sq_trace_json). */
void sq_pb_json(sq_buf *b, const ProtobufCMessage *m);
/* A KeyValue list as JSON array items [{"key":…,"value":{…}}, …]. */
void sq_attr_json(sq_buf *b, const tql_attr *a);

/* ---- trace view (query_view.c) ----------------------------------------- */

/* A tql_trace over a loaded sdb_trace (which must outlive it). */
typedef struct sq_view {
    tql_trace trace;         /* spans in the sdb_trace's order (by start time) */
    tql_span *spans;         /* owned */
    tql_attr *attrs;         /* every converted attribute (owned) */
    tql_event *events;       /* every event (owned) */
} sq_view;

/* Build the view; root name/service and duration come from the stored
 * summary. 0 or -1 (out of memory; v is then empty). */
int sq_view_build(sq_view *v, const sdb_trace *t);
void sq_view_free(sq_view *v);

/* ---- requests (query_api.c) -------------------------------------------- */

struct sq_ctx {
    sdb *db;                 /* borrowed */
    sq_limits lim;           /* work bounds of one search */
    sq_stats stats;
};

/* The work one search or tag scan has done, against ctx's limits. */
typedef struct sq_work {
    sq_limits lim;
    int64_t started_ns;      /* monotonic */
    uint64_t bytes;          /* span bytes read */
    char stopped[160];       /* the limit reached ("" while none) */
} sq_work;

/* Start counting at now_ns (monotonic). */
void sq_work_start(sq_work *w, const sq_ctx *ctx, int64_t now_ns);
/* Count a trace of n bytes read by now_ns; 1 when a limit is reached
 * (w->stopped names it: stop and answer what was found), else 0. */
int sq_work_add(sq_work *w, uint64_t n, int64_t now_ns);
/* When w stopped at a limit: count it and add the X-Extrace-Limit header. */
void sq_work_report(sq_ctx *ctx, const sq_work *w, ex_http_resp *resp);

/* Look up a query argument / header of req (NULL when absent). */
const char *sq_arg(const sq_request *req, const char *name);
const char *sq_header(const sq_request *req, const char *name);

/* Answers. Each returns 1 (the request was answered). */
int sq_reply_text(sq_ctx *ctx, ex_http_resp *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Hand a finished buffer over as the body (500 if it failed). */
int sq_reply_buf(sq_ctx *ctx, ex_http_resp *resp, sq_buf *b, const char *content_type);

/* Parse an optional unix-seconds parameter `name` into *ns (end of
 * second when end_of_second). 0 (absent or "0", as in Tempo: *ns = 0), 1
 * (set), or -1 after a 400 answer naming the parameter and value. */
int sq_time_arg(sq_ctx *ctx, const sq_request *req, ex_http_resp *resp, const char *name, int end_of_second,
                int64_t *ns);

/* A count parameter `name` (query_search.c): absent or 0 → def; else
 * 1..max. 0, or -1 after a 400 answer naming the parameter and value. */
int sq_count_arg(sq_ctx *ctx, const sq_request *req, ex_http_resp *resp, const char *name, size_t def, size_t max,
                 size_t *out);

/* GET /api/ui/workflows (query_ui.c): answers and returns 1. */
int sq_ui_workflows(sq_ctx *ctx, const sq_request *req, const char *tenant, ex_http_resp *resp);

/* Routes in query_search.c and query_tags.c: each answers the request
 * (200, 400 or 500) for `tenant` (NULL: SDB_DEFAULT_TENANT) and returns 1. */
int sq_search(sq_ctx *ctx, const sq_request *req, const char *tenant, ex_http_resp *resp);
int sq_search_tags(sq_ctx *ctx, const sq_request *req, const char *tenant, int v2, ex_http_resp *resp);
int sq_tag_values(sq_ctx *ctx, const sq_request *req, const char *tenant, const char *tag, int v2,
                  ex_http_resp *resp);

/* GET /api/metrics/query_range (instant 0) and /api/metrics/query
 * (instant 1), query_metrics.c; GET /api/metrics/summary,
 * query_summary.c. Each answers and returns 1. */
int sq_metrics_query(sq_ctx *ctx, const sq_request *req, const char *tenant, int instant, ex_http_resp *resp);
int sq_metrics_summary(sq_ctx *ctx, const sq_request *req, const char *tenant, ex_http_resp *resp);

/* Render a value as text (tags= matching, v1 tag values): integers in
 * decimal, floats shortest, booleans true/false. Returns buf. */
const char *sq_value_text(const tql_value *v, char *buf, size_t buflen);

#endif
