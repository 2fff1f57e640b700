/* db.h — the embedded trace store's database: schema, writer and reader.
 *
 * One SQLite database (WAL mode) under a data directory holds the spans of
 * every tenant. The writer takes decoded OTLP export requests and commits
 * each one in its own transaction; the reader gives whole traces (grouped
 * as OTLP TracesData, i.e. Tempo's Trace message), trace summaries in a
 * time range (newest first), and tag names / values for search builders.
 * Schema and durability: docs/store.md.
 *
 * Threading: an sdb is used from one thread; it is not safe to share
 * between threads. The store writes on its ingest thread through the sdb
 * of sdb_open and answers queries on another thread through an
 * sdb_open_reader connection. Reader calls may be nested (a
 * sdb_traces_scan callback may call sdb_trace_get) but must not call the
 * writer or retention functions.
 *
 * Errors: functions return 0 (or a count / a found flag, as documented)
 * and -1 on failure, with the reason in sdb_errmsg(db). */
#ifndef EXTRACE_STORE_DB_H
#define EXTRACE_STORE_DB_H
#include <stddef.h>
#include <stdint.h>

#include "otel/otlp_proto.h"

typedef struct sdb sdb;

/* Tenant used when a request carries no X-Scope-OrgID (Tempo's default). */
#define SDB_DEFAULT_TENANT "single-tenant"
/* Longest tenant id accepted (bytes). */
#define SDB_TENANT_MAX 150
/* Most distinct values recorded per tag key (per tenant and scope); past it
 * the key is still listed, its further values are not. */
#define SDB_TAG_VALUES_PER_KEY 1000

/* ---- opening -------------------------------------------------------- */

/* Open (creating if needed) <dir>/traces.db, creating dir itself when
 * missing, and the schema when new. Sets WAL mode and synchronous=NORMAL.
 * On failure returns NULL with the reason (naming the path) in err. The
 * caller owns the result and closes it with sdb_close. */
sdb *sdb_open(const char *dir, char *err, size_t errlen);
/* Open a second, read-only connection to the database of `writer` (an
 * sdb from sdb_open, which must outlive it) for use on another thread:
 * the reader functions below work on it and see what the writer has
 * committed (SQLite WAL: reads and the writer's transactions do not wait
 * for each other). It shares no memory with the writer but the longest
 * trace duration (read atomically). NULL with the reason in err. Close
 * it with sdb_close before the writer. */
sdb *sdb_open_reader(const sdb *writer, char *err, size_t errlen);
/* Close the database (finishing nothing: every transaction of this API is
 * already committed when its function returns). NULL is ignored. */
void sdb_close(sdb *db);
/* The last error message of db ("" if none). Owned by db. */
const char *sdb_errmsg(const sdb *db);
/* Path of the database file (owned by db). */
const char *sdb_path(const sdb *db);

/* Check a tenant id as received in X-Scope-OrgID: 1..SDB_TENANT_MAX bytes,
 * printable ASCII (0x21..0x7e; no spaces or control bytes). 0, or -1 with
 * a reason that quotes the value in why. */
int sdb_tenant_check(const char *tenant, size_t len, char *why, size_t whylen);

/* ---- writer --------------------------------------------------------- */

/* What one ingest did. */
typedef struct sdb_ingest_result {
    int64_t accepted;  /* spans stored (new or replacing an earlier copy) */
    int64_t rejected;  /* spans refused (invalid ids); see message */
    char message[256]; /* first rejection reason, "" when none */
} sdb_ingest_result;

/* Store every span of an export request for `tenant` (already checked
 * with sdb_tenant_check; NULL means SDB_DEFAULT_TENANT) in one
 * transaction, committed before this returns. A span whose (tenant, trace
 * id, span id) is already stored replaces it. Spans with a trace id that
 * is not 16 bytes or all zero, a span id that is not 8 bytes or all zero,
 * or a parent span id that is neither empty nor 8 bytes are rejected and
 * counted in res. The request stays owned by the caller. Returns 0 (also
 * when some spans were rejected) or -1 when nothing was stored (database
 * error; the transaction is rolled back). */
int sdb_ingest(sdb *db, const char *tenant, const exo_pb_request *req, sdb_ingest_result *res);

/* The same for a request delivered in pieces (otel/otlp_pieces.h), all
 * stored in one transaction: sdb_ingest_begin, then sdb_ingest_part per
 * piece (each adds to res; base gives the piece's place in the whole
 * request, for rejection messages; NULL: the piece is the whole), then
 * sdb_ingest_end with commit = 1 to commit, or 0 to roll back (a part
 * failed, or the request turned out invalid). A failed part leaves the
 * transaction to sdb_ingest_end. sdb_ingest_end returns 0 when committed
 * (or nothing was to be stored), -1 when rolled back (res->accepted is
 * then 0). tenant must stay valid until sdb_ingest_end. */
typedef struct sdb_piece_base {
    size_t rs_index;   /* index of the piece's first ResourceSpans in the request */
    size_t ss_index;   /* of its first ScopeSpans in that ResourceSpans */
    size_t span_index; /* of its first span in that ScopeSpans */
} sdb_piece_base;
void sdb_ingest_begin(sdb *db, const char *tenant, sdb_ingest_result *res);
int sdb_ingest_part(sdb *db, const exo_pb_request *req, const sdb_piece_base *base, sdb_ingest_result *res);
int sdb_ingest_end(sdb *db, int commit, sdb_ingest_result *res);

/* Counters since open (for logs and the bench). */
typedef struct sdb_stats {
    uint64_t requests;       /* sdb_ingest calls that committed */
    uint64_t spans;          /* spans stored */
    uint64_t rejected;       /* spans rejected */
    uint64_t failed;         /* sdb_ingest calls that rolled back */
    uint64_t traces_deleted; /* traces removed by retention */
    uint64_t spans_deleted;  /* spans removed by retention */
} sdb_stats;
const sdb_stats *sdb_get_stats(const sdb *db);

/* ---- retention ------------------------------------------------------ */

/* Delete up to max_traces traces (of every tenant) whose end (the latest
 * span end time seen in the trace) is before cutoff_ns, with their spans,
 * in one transaction; then tag values last seen before cutoff_ns, and
 * resource/scope rows no span uses any more. Returns the number of traces
 * deleted (max_traces means more may remain: call again after letting
 * other work run) or -1. */
long sdb_retention_step(sdb *db, int64_t cutoff_ns, size_t max_traces);

/* ---- reader: whole traces ------------------------------------------- */

/* One span of a loaded trace with where it came from. Pointers go into
 * the owning sdb_trace's `data`. */
typedef struct sdb_span_ref {
    const exo_pb_span *span;            /* every field, ids included */
    const exo_pb_resource_spans *rs;    /* rs->resource, rs->schema_url */
    const exo_pb_scope_spans *ss;       /* ss->scope, ss->schema_url */
} sdb_span_ref;

/* Summary of a trace (as kept in the traces table). */
typedef struct sdb_trace_summary {
    uint8_t trace_id[16];
    const char *root_service; /* service.name of the root span's resource; NULL while no root span is stored */
    const char *root_name;    /* name of the root span; NULL while no root span is stored */
    int64_t start_ns;         /* earliest span start seen */
    int64_t end_ns;           /* latest span end seen (duration = end_ns - start_ns) */
} sdb_trace_summary;

/* A whole trace. Owned by the caller of sdb_trace_get; free with
 * sdb_trace_free. */
typedef struct sdb_trace {
    sdb_trace_summary summary;  /* strings owned by this struct */
    exo_pb_traces_data *data;   /* Tempo's Trace / OTLP TracesData: one ResourceSpans per distinct resource,
                                   one ScopeSpans per distinct scope in it; spans by start time. Serialize it
                                   as is (protobuf-c pack, or exo_otlp_json_encode_message). */
    sdb_span_ref *spans;        /* every span, flat, by start time (then span id) */
    size_t nspans;
} sdb_trace;

/* Load the trace (tenant, trace_id[16]); tenant NULL = SDB_DEFAULT_TENANT.
 * Returns 1 with *out set, 0 when the tenant has no such trace (*out
 * NULL), -1 on error. */
int sdb_trace_get(sdb *db, const char *tenant, const uint8_t trace_id[16], sdb_trace **out);
void sdb_trace_free(sdb_trace *t);

/* ---- reader: traces in a time range --------------------------------- */

/* Which traces sdb_traces_scan visits. */
typedef struct sdb_trace_query {
    int64_t start_ns;        /* traces ending at or after this (0: no lower bound) */
    int64_t end_ns;          /* traces starting at or before this (0: no upper bound) */
    int64_t min_duration_ns; /* trace duration at least this (0: any) */
    int64_t max_duration_ns; /* trace duration at most this (0: any) */
    size_t limit;            /* most summaries delivered (0: no limit) */
    unsigned statuses;       /* only traces with a span of one of these statuses (SDB_STATUS_BIT; 0: any) */
} sdb_trace_query;

/* The bit of a span status code in sdb_trace_query.statuses: 0 (unset),
 * 1 (ok) and 2 (error) their own, any other code one more. The store
 * keeps per trace the bits of the statuses its spans were stored with;
 * a span stored again with another status leaves its first one's bit
 * set, so the bits are a superset: a trace they let through may not have
 * such a span any more (check its spans), one they keep out has none. */
#define SDB_STATUS_BIT(code) ((code) >= 0 && (code) <= 2 ? 1u << (code) : 8u)
#define SDB_STATUS_ALL 15u

/* Called per trace; s and its strings are valid only during the call.
 * Return 0 to go on, 1 to stop, -1 to stop with an error (sdb_traces_scan
 * then returns -1; set your own message). The callback may call
 * sdb_trace_get on the same db. */
typedef int (*sdb_trace_cb)(void *arg, const sdb_trace_summary *s);

/* Visit the tenant's traces that overlap [start_ns, end_ns] and pass the
 * duration bounds, newest start first (ties: trace id), up to q->limit.
 * Returns the number of summaries delivered, or -1. */
long sdb_traces_scan(sdb *db, const char *tenant, const sdb_trace_query *q, sdb_trace_cb cb, void *arg);

/* Like sdb_traces_scan, but only traces with a span whose attribute `key`
 * has exactly the string value value[0..vlen) (span attributes, not
 * resource or event ones). Fast for rare values such as a workflow id:
 * each chunk of 4096 stored spans has a Bloom filter of its attribute
 * values, and only the chunks that may hold the value are read (a common
 * value makes it a scan). The spans found are checked, so every trace
 * delivered has such a span. Same order, window and limit as
 * sdb_traces_scan. Returns the number delivered, or -1. */
long sdb_traces_by_attr(sdb *db, const char *tenant, const char *key, const char *value, size_t vlen,
                        const sdb_trace_query *q, sdb_trace_cb cb, void *arg);

/* ---- reader: compact spans (db_mspans.c) ---------------------------- */

/* Every stored span also has a compact row: what TraceQL metrics filter
 * and group on, clustered by (tenant, start). Its span attributes are
 * packed as, per attribute in order: a type byte (SDB_MSPAN_*), the key
 * and a NUL, then the value (a string and a NUL; int64 or double in 8
 * bytes of host order; bool in 1 byte; nothing for nil: arrays, maps and
 * bytes, which TraceQL cannot compare). A span with more than
 * SDB_MSPAN_ATTRS_MAX attributes or more than SDB_MSPAN_ATTRS_BYTES
 * packed has none (sdb_mspan_attrs says -2): a query that needs them
 * reads the span itself. Since schema 4 the row does not keep them: they
 * are packed from the span's stored body when a query asks. */
enum { SDB_MSPAN_NIL = 0, SDB_MSPAN_STRING, SDB_MSPAN_INT, SDB_MSPAN_DOUBLE, SDB_MSPAN_BOOL };
#define SDB_MSPAN_ATTRS_MAX 16
#define SDB_MSPAN_ATTRS_BYTES 256

/* Pack n attributes as above into out[0..cap). Returns the length, or -1
 * when they are more than SDB_MSPAN_ATTRS_MAX or do not fit. Pure. */
long sdb_mspan_attrs_pack(exo_pb_kv *const *kv, size_t n, uint8_t *out, size_t cap);

/* One compact row; pointers valid during the callback only. */
typedef struct sdb_mspan {
    int64_t start_ns, dur_ns;   /* dur_ns = end - start as sent */
    int64_t span, trace;        /* rowids of the span and its trace */
    int status, kind;           /* OTLP codes */
    const char *name;
    int64_t source;             /* its resource and scope (sdb_source_service) */
} sdb_mspan;

/* The packed attributes (see above) of the span of rowid span, from its
 * stored body, into out[0..cap). Their length; -2 when they do not pack
 * (too many, too large) or the span is gone; -1 on error. */
long sdb_mspan_attrs(sdb *db, int64_t span, uint8_t *out, size_t cap);

/* Return 0 to go on, 1 to stop, -1 to stop with an error. */
typedef int (*sdb_mspan_cb)(void *arg, const sdb_mspan *m);

/* Visit the tenant's compact rows starting in [start_ns, end_ns) (and
 * named name unless it is NULL), by start time, at most limit (0: all).
 * Returns the number delivered, or -1. */
long sdb_mspans_scan(sdb *db, const char *tenant, int64_t start_ns, int64_t end_ns, const char *name, size_t limit,
                     sdb_mspan_cb cb, void *arg);

/* Train the body dictionary after n spans instead of the default
 * (tests: a few spans then take the compressed path). */
void sdb_set_dict_samples(sdb *db, size_t n);

/* ---- reader: span counts per minute (db_mspans.c) -------------------- */

/* mroll: for every (minute, name, source, status, kind, duration bucket)
 * the number of compact rows — kept with them at ingest, on re-send and
 * by retention, so counts are exact. Bucket k holds durations in
 * (2^(k-1), 2^k] ns (Tempo's log2 buckets); -1 those below 2 ns. */
#define SDB_MINUTE_NS INT64_C(60000000000)
/* The bucket of a duration (ns). Pure. */
int sdb_duration_bucket(int64_t dur_ns);

typedef struct sdb_mroll {
    int64_t minute;             /* start_ns / SDB_MINUTE_NS */
    const char *name;
    int64_t source;
    int status, kind, bucket;
    int64_t n;                  /* spans */
} sdb_mroll;
typedef int (*sdb_mroll_cb)(void *arg, const sdb_mroll *m);

/* Visit the tenant's counts of minutes [first, end) (named name unless
 * NULL). Returns the number delivered, or -1. */
long sdb_mroll_scan(sdb *db, const char *tenant, int64_t first_minute, int64_t end_minute, const char *name,
                    sdb_mroll_cb cb, void *arg);

/* The service.name of source's resource: 1 with *out (ex_free it), 0
 * when it has none, 2 when it is not a string, -1 on error. */
int sdb_source_service(sdb *db, int64_t source, char **out);

/* The trace id and span id of span rowid span: 1, 0 when it is gone, -1. */
int sdb_span_ids(sdb *db, int64_t span, uint8_t trace_id[16], uint8_t span_id[8]);

/* ---- reader: tags ---------------------------------------------------- */

/* Where an attribute lives (TraceQL scopes). SDB_TAG_INTRINSIC holds the
 * key "name" (span names). */
typedef enum {
    SDB_TAG_RESOURCE = 0,
    SDB_TAG_SPAN = 1,
    SDB_TAG_EVENT = 2,
    SDB_TAG_LINK = 3,
    SDB_TAG_INSTRUMENTATION = 4, /* attributes of the instrumentation scope */
    SDB_TAG_INTRINSIC = 5,
    SDB_TAG_NSCOPES = 6,
} sdb_tag_scope;

/* Type of a recorded value. Arrays, kvlists and bytes values are not
 * recorded as values (their keys are). */
typedef enum {
    SDB_VAL_STRING = 0,
    SDB_VAL_INT = 1,   /* text is the decimal integer */
    SDB_VAL_DOUBLE = 2, /* text as printed with %.17g */
    SDB_VAL_BOOL = 3,  /* "true" / "false" */
} sdb_value_type;

/* Called per tag name; name valid only during the call. Return 0 to go
 * on, 1 to stop. */
typedef int (*sdb_tag_name_cb)(void *arg, sdb_tag_scope scope, const char *name);
/* Called per value; value valid only during the call. Return 0 / 1. */
typedef int (*sdb_tag_value_cb)(void *arg, sdb_tag_scope scope, sdb_value_type type, const char *value);

/* Visit the tenant's tag names of the scopes whose bit (1 << scope) is set
 * in scope_mask, ordered by scope then name, at most limit (0: all), each
 * seen in a span that ended at or after since_ns (0: any). Returns the
 * number delivered, or -1. */
long sdb_tag_names(sdb *db, const char *tenant, unsigned scope_mask, int64_t since_ns, size_t limit,
                   sdb_tag_name_cb cb, void *arg);

/* Visit the distinct values of tag `key` in the scopes of scope_mask,
 * ordered by scope, type, value; at most limit (0: all, which is still at
 * most SDB_TAG_VALUES_PER_KEY per scope). since_ns as above. Returns the
 * number delivered, or -1. */
long sdb_tag_values(sdb *db, const char *tenant, unsigned scope_mask, const char *key, int64_t since_ns,
                    size_t limit, sdb_tag_value_cb cb, void *arg);

/* ---- reader: root spans (workflows) ---------------------------------- */

/* The outcome of a root span, as the UI shows it: its string attribute
 * extrace.result when that is "ok", "error" or "timeout"; else from the
 * status (code 1 ok; code 2 "timeout" when the message contains "timed
 * out" in any case, else "error"); else "unset". Pure. */
const char *sdb_root_outcome(const char *result, int status_code, const char *message);

/* How sdb_roots_list orders its rows. */
typedef enum {
    SDB_ROOTS_START = 0, /* root span start */
    SDB_ROOTS_END,       /* root span end */
    SDB_ROOTS_DURATION,  /* root span end - start */
    SDB_ROOTS_OUTCOME,   /* sdb_root_outcome text */
    SDB_ROOTS_ID,        /* workflow id */
    SDB_ROOTS_MESSAGE,   /* status message */
    SDB_ROOTS_NAMESPACE, /* service.namespace of the root's resource */
} sdb_roots_sort;

/* Which root spans sdb_roots_list gives. name and service are required;
 * the other strings match any when NULL or "". */
typedef struct sdb_roots_query {
    int64_t start_ns, end_ns;  /* root spans overlapping [start_ns, end_ns] (0: unbounded) */
    const char *name;          /* root span name, exactly */
    const char *service;       /* service.name of its resource, exactly */
    const char *ns;            /* service.namespace of its resource, exactly */
    const char *id_prefix;     /* workflow id starts with this (ASCII case ignored) */
    const char *outcome;       /* sdb_root_outcome equals this (rows only: counts ignore it) */
    sdb_roots_sort sort;
    int descending;            /* ties: trace row order, same direction */
    size_t offset, limit;      /* the page of rows delivered (limit 0: none) */
} sdb_roots_query;

/* One root span; strings valid only during the callback. */
typedef struct sdb_root_row {
    uint8_t trace_id[16];
    const char *name, *service, *ns, *workflow_id; /* "" when absent */
    const char *outcome;        /* sdb_root_outcome */
    const char *message;        /* status message, "" when none */
    int status;                 /* OTLP status code: 0 unset, 1 ok, 2 error */
    int64_t start_ns, end_ns;   /* the root span's own start and end */
} sdb_root_row;

/* Counts by outcome of the root spans matching every condition of a query
 * but `outcome`; `matched` is how many also match `outcome` (all when it
 * is empty): the rows a pager pages through. */
typedef struct sdb_roots_counts {
    int64_t total, ok, error, timeout, unset, matched;
} sdb_roots_counts;

typedef int (*sdb_root_cb)(void *arg, const sdb_root_row *row);

/* Fill *counts for the tenant's root spans matching q (when counts is not
 * NULL), then visit the page [offset, offset + limit) of the matching rows
 * in q's order. The callback returns 0 to go on, 1 to stop, -1 to fail.
 * Every trace whose root span was stored since schema version 2 is here;
 * retention removes rows with their traces. Returns the number of rows
 * delivered, or -1. */
long sdb_roots_list(sdb *db, const char *tenant, const sdb_roots_query *q, sdb_roots_counts *counts, sdb_root_cb cb,
                    void *arg);

#endif
